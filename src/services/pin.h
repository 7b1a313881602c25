/* PINs as the applets keep them: a salted HMAC-SHA256 under the key's
 * device secret, never the PIN itself; and the one order every check
 * follows: spend a try and commit it, compare in constant time, give
 * the tries back only after a match (killing the process between the
 * steps never buys a guess). Each applet keeps its own record layout;
 * pin_check persists it through the applet's save function. */
#ifndef VKEY_PIN_H
#define VKEY_PIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "services/store.h"

#define PIN_SALT 16
#define PIN_MAC 32

struct pin_secret {
	uint8_t salt[PIN_SALT];
	uint8_t mac[PIN_MAC];
};

/* A fresh salt and the MAC of pin (len bytes, may be 0). 0 or -1. */
int pin_secret_make(struct store *st, const uint8_t *pin, size_t len,
		    struct pin_secret *out);
/* Whether pin is the PIN behind s (constant time over the MACs). */
bool pin_secret_matches(struct store *st, const struct pin_secret *s,
			const uint8_t *pin, size_t len);

enum pin_verdict {
	PIN_MATCH,
	PIN_WRONG,   /* *left tries remain */
	PIN_BLOCKED, /* no try was left */
	PIN_FAILED,  /* the record could not be saved */
};

/* Check pin against s. *left is the record's try counter: it is
 * decremented and save(ctx) called (the applet writes its record with
 * the new count) before the comparison; after a match it becomes
 * restore and save(ctx) is called again. save returns 0 on success. */
enum pin_verdict pin_check(struct store *st, const struct pin_secret *s,
			   uint8_t *left, uint8_t restore, const uint8_t *pin,
			   size_t len, int (*save)(void *ctx), void *ctx);

#endif
