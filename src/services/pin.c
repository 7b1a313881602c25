/* Salted PIN MACs and the try-counter order shared by the applets. */
#include "services/pin.h"

#include <string.h>

#include "services/crypto.h"

/* HMAC-SHA256(device secret, salt || pin), fed in one message. */
static int pin_mac(struct store *st, const uint8_t salt[PIN_SALT],
		   const uint8_t *pin, size_t len, uint8_t mac[PIN_MAC])
{
	uint8_t msg[PIN_SALT + 256];
	int r;

	if (len > sizeof(msg) - PIN_SALT || (len != 0 && pin == NULL))
		return -1;
	memcpy(msg, salt, PIN_SALT);
	if (len != 0)
		memcpy(msg + PIN_SALT, pin, len);
	r = crypto_hmac(CRYPTO_SHA256, store_device_secret(st),
			STORE_DEVICE_SECRET_LEN, msg, PIN_SALT + len, mac);
	crypto_wipe(msg, sizeof(msg));
	return r;
}

int pin_secret_make(struct store *st, const uint8_t *pin, size_t len,
		    struct pin_secret *out)
{
	if (crypto_random(out->salt, sizeof(out->salt)) != 0 ||
	    pin_mac(st, out->salt, pin, len, out->mac) != 0) {
		crypto_wipe(out, sizeof(*out));
		return -1;
	}
	return 0;
}

bool pin_secret_matches(struct store *st, const struct pin_secret *s,
			const uint8_t *pin, size_t len)
{
	uint8_t mac[PIN_MAC];
	bool same = false;

	if (pin_mac(st, s->salt, pin, len, mac) == 0)
		same = crypto_memcmp(mac, s->mac, sizeof(mac)) == 0;
	crypto_wipe(mac, sizeof(mac));
	return same;
}

enum pin_verdict pin_check(struct store *st, const struct pin_secret *s,
			   uint8_t *left, uint8_t restore, const uint8_t *pin,
			   size_t len, int (*save)(void *ctx), void *ctx)
{
	if (*left == 0)
		return PIN_BLOCKED;
	(*left)--;
	if (save(ctx) != 0)
		return PIN_FAILED;
	if (!pin_secret_matches(st, s, pin, len))
		return PIN_WRONG;
	*left = restore;
	return save(ctx) == 0 ? PIN_MATCH : PIN_FAILED;
}
