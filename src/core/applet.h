/* The applet interface: every applet (oath, fido, openpgp, piv, ndef,
 * mgmt) is one table of these operations, registered in registry.c. */
#ifndef VKEY_APPLET_H
#define VKEY_APPLET_H

#include <stddef.h>
#include <stdint.h>

#include "apdu/apdu.h"
#include "core/buf.h"

struct vkey;

/* Largest response an applet may build for one command; the dispatcher
 * chains it out with 61xx. */
#define APPLET_RESP_MAX 65536

struct applet_ops {
	const char *name;
	const uint8_t *aid;
	size_t aid_len;
	/* INS that works like GET RESPONSE for this applet (OATH: A5), or 0. */
	uint8_t send_remaining_ins;
	/* INS of a status poll (CTAP's NFCCTAP_GETRESPONSE), logged at debug
	 * level only so a wait does not flood the info log; or 0. */
	uint8_t poll_ins;

	/* Create the applet's in-memory state from the key's store. */
	int (*create)(struct vkey *key, void **state);
	void (*destroy)(void *state);
	/* SELECT by AID reached this applet; write the select response. */
	unsigned (*select)(void *state, const struct apdu *cmd, struct wbuf *resp);
	void (*deselect)(void *state);
	/* Any other command while selected. Returns a status word. */
	unsigned (*process)(void *state, const struct apdu *cmd, struct wbuf *resp);
	/* Power off / reset: drop volatile state (PIN verified, sessions). */
	void (*power_off)(void *state);
	/* A power-up event (PC/SC power on, USB attach), after power_off.
	 * May be NULL. */
	void (*power_on)(void *state);
	/* One-line description for debug logs; must never reveal secrets
	 * (no key material, PINs, codes or challenges). May be NULL. */
	void (*describe)(const struct apdu *cmd, char *out, size_t cap);
	/* Factory reset of this applet's persistent data (vkey reset). */
	int (*factory_reset)(void *state);
	/* Text for `vkey status` (counts, retry counters, defaults in use)
	 * and `vkey list <applet>`: lines ending in '\n' appended to out
	 * (no NUL). Return 0, or -1 on failure. May be NULL. */
	int (*report_status)(void *state, struct wbuf *out);
	int (*report_list)(void *state, struct wbuf *out);
	/* The CA certificate(s), PEM, that relying parties under test should
	 * trust for this applet's attestations. May be NULL. */
	int (*report_attestation)(void *state, struct wbuf *out);
};

/* Registered applets, in SELECT priority order. */
extern const struct applet_ops *const applet_registry[];
extern const size_t applet_registry_len;

#endif
