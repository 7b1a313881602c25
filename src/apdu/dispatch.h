/* The APDU dispatcher of one key: class checks, SELECT by AID, command
 * chaining, response chaining (61xx + GET RESPONSE) and routing to the
 * selected applet. */
#ifndef VKEY_DISPATCH_H
#define VKEY_DISPATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/applet.h"

struct vkey;

/* Largest command a chain may assemble. */
#define DISPATCH_CHAIN_MAX 65536

/* Checks a command before the selected applet's process() sees it: 0
 * lets it through, anything else is the status word to answer. */
typedef unsigned (*dispatch_admit_fn)(void *arg, const struct apdu *cmd);

struct dispatch_slot {
	const struct applet_ops *ops;
	void *state;
	/* Switched off by the management application: the applet answers
	 * as if it were not installed (SELECT 6A82). */
	bool enabled;
	/* Part of an applet switched off (FIDO's U2F or CTAP2 half), or
	 * NULL. */
	dispatch_admit_fn admit;
	void *admit_arg;
};

struct dispatch {
	struct dispatch_slot *slots;
	size_t n_slots;
	int selected; /* index into slots, or -1 */

	/* Response chaining: what is left of the last response. */
	uint8_t *pending;
	size_t pending_len;
	size_t pending_off;
	unsigned pending_sw;

	/* Command chaining: data gathered so far. */
	uint8_t *chain;
	size_t chain_len;
	int chain_active;
	uint8_t chain_cla, chain_ins, chain_p1, chain_p2;

	uint8_t *resp; /* APPLET_RESP_MAX scratch for the applet's answer */
};

int dispatch_init(struct dispatch *d, struct vkey *key,
		  const struct applet_ops *const *ops, size_t n_ops);
void dispatch_free(struct dispatch *d);
/* Forget volatile state: selection, chains, applets' session state. */
void dispatch_power_off(struct dispatch *d);
/* Tell applets that power came back (a CTAP power-up event). */
void dispatch_power_on(struct dispatch *d);

/* One command in, one response (data + SW) out. resp_cap must be at
 * least 2; responses never exceed VKEY_APDU_MAX. */
void dispatch_apdu(struct dispatch *d, const uint8_t *cmd, size_t cmd_len,
		   uint8_t *resp, size_t resp_cap, size_t *resp_len);

/* Find a registered applet's state by name (for reports), or NULL. */
struct dispatch_slot *dispatch_find(struct dispatch *d, const char *name);

/* Switch an applet (a slot of d) on or off. Switching off the selected
 * applet deselects it and drops what it left pending, so no command of
 * the session reaches it again. Every slot starts on. */
void dispatch_set_enabled(struct dispatch *d, struct dispatch_slot *s,
			  bool on);
/* Install (or with fn NULL remove) a slot's command check. */
void dispatch_set_admit(struct dispatch_slot *s, dispatch_admit_fn fn,
			void *arg);

#endif
