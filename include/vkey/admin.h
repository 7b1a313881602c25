/* Key administration: which applications a key offers. These are the
 * switches the management application (docs/MGMT.md) shows ykman and
 * lets it change; the owner's tools set them here. Persisted in the
 * state file, in effect at once. */
#ifndef VKEY_ADMIN_H
#define VKEY_ADMIN_H

#include <stdbool.h>
#include <stddef.h>

#include "vkey/vkey.h"

/* Applications, numbered as the management application's device
 * information numbers its capabilities (ykman's CAPABILITY). vkey has
 * no OTP (0x0001) and no HSM auth (0x0100) application. */
#define VKEY_APP_U2F     0x0002u /* FIDO: U2F (CTAP1) messages */
#define VKEY_APP_OPENPGP 0x0008u
#define VKEY_APP_PIV     0x0010u
#define VKEY_APP_OATH    0x0020u
#define VKEY_APP_FIDO2   0x0200u /* FIDO: CTAP2 (CBOR) commands */
#define VKEY_APP_ALL                                                  \
	(VKEY_APP_U2F | VKEY_APP_OPENPGP | VKEY_APP_PIV | VKEY_APP_OATH | \
	 VKEY_APP_FIDO2)

/* The transports a key reports. vkey has no NFC radio: "USB" is every
 * way into the key (the vpcd reader, USB CCID and CTAPHID), because a
 * key cannot tell which of them carried a command. */
enum vkey_transport {
	VKEY_TRANSPORT_USB = 0,
};

/* Whether app (one VKEY_APP_* bit) is enabled. Lock-free: safe from any
 * thread, also while a command holds the key. A key without the
 * management application has everything enabled. */
bool vkey_applet_enabled(struct vkey *key, unsigned app);

/* The enabled set of a transport. Returns 0, or -1 (no such transport). */
int vkey_get_applets(struct vkey *key, enum vkey_transport t,
		     unsigned *mask);

/* Enable exactly mask (VKEY_APP_* bits) on transport t. The owner of the
 * state file needs no configuration lock code. Returns 0, or -1 with a
 * sentence in err: an empty mask, a bit vkey does not have, a transport
 * it does not have, a key busy with a command for seconds, a store
 * error. */
int vkey_set_applets(struct vkey *key, enum vkey_transport t,
		     unsigned mask, char *err, size_t errlen);

/* Management settings back to the factory state: every application
 * enabled, no configuration lock code. 0 or -1. */
int vkey_admin_reset(struct vkey *key);

/* Names for the bits: "fido2", "u2f", "openpgp", "piv", "oath" (what
 * `vkey config` accepts, case-insensitive) and the display names ykman
 * prints ("FIDO2", "FIDO U2F", "OpenPGP", "PIV", "OATH"). NULL / 0 for
 * anything else. */
const char *vkey_app_name(unsigned app);
const char *vkey_app_display_name(unsigned app);
unsigned vkey_app_from_name(const char *name);

#endif
