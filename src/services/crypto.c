/* Cryptography service: thin wrappers over OpenSSL 3 so that no other
 * module includes an OpenSSL header. */
#include "services/crypto.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

int crypto_random(void *buf, size_t len)
{
	if (len == 0)
		return 0;
	if (len > 0x7fffffff)
		return -1;
	return RAND_priv_bytes(buf, (int)len) == 1 ? 0 : -1;
}

static const EVP_MD *md_of(enum crypto_md md)
{
	switch (md) {
	case CRYPTO_SHA1:
		return EVP_sha1();
	case CRYPTO_SHA256:
		return EVP_sha256();
	case CRYPTO_SHA512:
		return EVP_sha512();
	}
	return NULL;
}

size_t crypto_md_len(enum crypto_md md)
{
	const EVP_MD *m = md_of(md);
	return m ? (size_t)EVP_MD_get_size(m) : 0;
}

int crypto_hmac(enum crypto_md md, const void *key, size_t key_len,
		const void *msg, size_t msg_len, uint8_t *out)
{
	const EVP_MD *m = md_of(md);
	unsigned int n = 0;
	static const uint8_t empty;

	if (m == NULL || key_len > 0x7fffffff)
		return -1;
	if (key == NULL)
		key = &empty;
	if (HMAC(m, key, (int)key_len, msg, msg_len, out, &n) == NULL)
		return -1;
	return n == crypto_md_len(md) ? 0 : -1;
}

int crypto_digest(enum crypto_md md, const void *msg, size_t len,
		  uint8_t *out)
{
	const EVP_MD *m = md_of(md);

	if (m == NULL)
		return -1;
	return EVP_Digest(msg, len, out, NULL, m, NULL) == 1 ? 0 : -1;
}

int crypto_memcmp(const void *a, const void *b, size_t len)
{
	return CRYPTO_memcmp(a, b, len) == 0 ? 0 : 1;
}

void crypto_wipe(void *p, size_t len)
{
	if (p != NULL)
		OPENSSL_cleanse(p, len);
}
