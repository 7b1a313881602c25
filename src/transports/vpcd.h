/* vpcd transport: vkey connects to vsmartcard's vpcd reader driver inside
 * pcscd and plays the card (power on/off, reset, ATR, APDUs). */
#ifndef VKEY_VPCD_H
#define VKEY_VPCD_H

#include <stdint.h>

#include "vkey/vkey.h"

struct vpcd;

/* Start a thread that connects to host:port (reconnecting with a short
 * back-off whenever the connection fails or pcscd restarts) and serves
 * the key. Returns NULL (and logs why) when the thread cannot start. */
struct vpcd *vpcd_start(struct vkey *key, const char *host, uint16_t port);
/* Stop the thread, close the connection, free. */
void vpcd_stop(struct vpcd *v);
/* True while connected to a reader (for `vkey status`). */
int vpcd_connected(const struct vpcd *v);

#endif
