/* Cryptography service: the only module that includes OpenSSL headers.
 * Randomness comes from the OS through OpenSSL's DRBG. */
#ifndef VKEY_CRYPTO_H
#define VKEY_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

enum crypto_md {
	CRYPTO_SHA1 = 1,
	CRYPTO_SHA256,
	CRYPTO_SHA512,
};

/* Fill buf with random bytes. Returns 0, or -1 if the RNG failed. */
int crypto_random(void *buf, size_t len);

/* Digest length of md, or 0 for an unknown md. */
size_t crypto_md_len(enum crypto_md md);

/* out must hold crypto_md_len(md) bytes. Returns 0 or -1. */
int crypto_hmac(enum crypto_md md, const void *key, size_t key_len,
		const void *msg, size_t msg_len, uint8_t *out);
int crypto_digest(enum crypto_md md, const void *msg, size_t len,
		  uint8_t *out);

/* Constant-time comparison: 0 when equal. */
int crypto_memcmp(const void *a, const void *b, size_t len);
/* Wipe memory that held a secret. */
void crypto_wipe(void *p, size_t len);

#endif
