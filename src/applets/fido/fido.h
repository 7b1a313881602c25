/* The FIDO applet (AID A0000006472F0001): CTAP2 and U2F over ISO 7816
 * APDUs, as NFC readers and PC/SC clients (python-fido2) speak them. */
#ifndef VKEY_FIDO_H
#define VKEY_FIDO_H

#include "core/applet.h"

extern const struct applet_ops fido_applet;

/* The CTAP core behind this applet's state, for transports that carry
 * CTAP natively (vkey_ctap_cbor / vkey_ctap_msg in core/vkey.c). */
struct ctap *fido_ctap(void *state);

#endif
