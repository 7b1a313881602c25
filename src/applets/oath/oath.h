/* The OATH applet (HOTP/TOTP), speaking the Yubico YKOATH protocol that
 * ykman and Yubico Authenticator use. */
#ifndef VKEY_OATH_H
#define VKEY_OATH_H

#include "core/applet.h"

extern const struct applet_ops oath_applet;

#endif
