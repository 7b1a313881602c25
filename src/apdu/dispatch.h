/* The APDU dispatcher of one key: class checks, SELECT by AID, command
 * chaining, response chaining (61xx + GET RESPONSE) and routing to the
 * selected applet. */
#ifndef VKEY_DISPATCH_H
#define VKEY_DISPATCH_H

#include <stddef.h>
#include <stdint.h>

#include "core/applet.h"

struct vkey;

/* Largest command a chain may assemble. */
#define DISPATCH_CHAIN_MAX 65536

struct dispatch_slot {
	const struct applet_ops *ops;
	void *state;
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

#endif
