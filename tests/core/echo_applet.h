/* A test applet for the dispatcher: answers with predictable data so
 * chaining and GET RESPONSE can be checked byte for byte. */
#ifndef VKEY_TEST_ECHO_APPLET_H
#define VKEY_TEST_ECHO_APPLET_H

#include "core/applet.h"

/* INS 01: answer P1P2 bytes (byte i = i & 0xFF).
 * INS 02: echo the command data.
 * INS 03: answer SW 6A80 with no data.
 * INS 04: write data, then answer 6A80 (the data must not leave).
 * INS 05: write data, then answer the warning 63C2 (data stays).
 * SELECT answers "echo". */
extern const struct applet_ops echo_applet;
extern const struct applet_ops echo2_applet; /* same, other AID */

#endif
