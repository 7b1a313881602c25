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

/* Factory reset (vkey reset): the applet named ("fido", "oath",
 * "openpgp", "piv", "ndef", "mgmt"), or with name NULL every applet and
 * the persisted settings below. The serial and the device secret stay;
 * every session ends (no PIN stays verified, FIDO's command in flight is
 * abandoned). The owner's word is enough: no touch, no power-up window.
 * Returns 0, or -1 with a sentence in err. */
int vkey_factory_reset(struct vkey *key, const char *name, char *err,
		       size_t errlen);
/* vkey_factory_reset with the text `vkey reset` prints (the daemon sends
 * the same): one line into out. 0 or -1. */
int vkey_reset_run(struct vkey *key, const char *name, char *out,
		   size_t cap);

/* Persisted settings (vkey config, docs/ADMIN.md): "up", "up-timeout",
 * "usb-vid", "usb-pid", "usb-manufacturer", "usb-product". vkey serve
 * takes them where its command line gives none. vkey_config_get writes
 * the stored value: 1 when set, 0 when not, -1 (no such setting, store
 * error, key busy). */
int vkey_config_get(struct vkey *key, const char *name, char *out,
		    size_t cap);
/* `vkey config SUB [NAME [VALUE]]`: show; set NAME VALUE; unset NAME;
 * enable NAME; disable NAME; applets usb LIST; unset applets. Writes
 * the answer (the daemon and the direct path print the same). 0 or -1
 * (the text says why). */
int vkey_config_run(struct vkey *key, const char *sub, const char *name,
		    const char *value, char *out, size_t cap);

/* Change an open key's user-presence policy and prompt wait (vkey serve
 * applies the stored settings this way after opening the key). */
void vkey_set_up(struct vkey *key, enum vkey_up_policy policy,
		 unsigned timeout_ms);

#endif
