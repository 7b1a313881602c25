/* Cryptography service: thin wrappers over OpenSSL 3 so that no other
 * module includes an OpenSSL header. */
#include "services/crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <limits.h>
#include <string.h>

#define AES_BLOCK 16
#define AES256_KEY_LEN 32
#define GCM_NONCE_LEN 12
#define GCM_TAG_LEN 16

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

/* One pass of a block cipher over whole blocks, without padding. */
static int cipher_blocks(const EVP_CIPHER *cipher, int encrypt,
			 const uint8_t *key, const uint8_t *iv,
			 const uint8_t *in, size_t len, uint8_t *out)
{
	size_t block = (size_t)EVP_CIPHER_get_block_size(cipher);
	EVP_CIPHER_CTX *ctx = NULL;
	int n = 0, r = -1;

	if (key == NULL || block == 0 || len % block != 0 || len > INT_MAX ||
	    (len != 0 && (in == NULL || out == NULL)))
		goto out;
	if (len == 0) {
		r = 0;
		goto out;
	}
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_CipherInit_ex2(ctx, cipher, key, iv, encrypt ? 1 : 0,
			       NULL) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx, 0) != 1)
		goto out;
	/* Without padding and on whole blocks, Update writes everything. */
	if (EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1 ||
	    (size_t)n != len)
		goto out;
	r = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

int crypto_aes_cbc(int encrypt, const uint8_t *key, size_t key_len,
		   const uint8_t iv[16], const uint8_t *in, size_t len,
		   uint8_t *out)
{
	static const uint8_t zero_iv[AES_BLOCK];
	const EVP_CIPHER *cipher;

	switch (key_len) {
	case 16:
		cipher = EVP_aes_128_cbc();
		break;
	case 24:
		cipher = EVP_aes_192_cbc();
		break;
	case 32:
		cipher = EVP_aes_256_cbc();
		break;
	default:
		return -1;
	}
	return cipher_blocks(cipher, encrypt, key, iv != NULL ? iv : zero_iv,
			     in, len, out);
}

int crypto_block_ecb(enum crypto_block alg, int encrypt, const uint8_t *key,
		     const uint8_t *in, size_t len, uint8_t *out)
{
	const EVP_CIPHER *cipher;

	switch (alg) {
	case CRYPTO_BLOCK_3DES:
		cipher = EVP_des_ede3_ecb();
		break;
	case CRYPTO_BLOCK_AES128:
		cipher = EVP_aes_128_ecb();
		break;
	case CRYPTO_BLOCK_AES192:
		cipher = EVP_aes_192_ecb();
		break;
	case CRYPTO_BLOCK_AES256:
		cipher = EVP_aes_256_ecb();
		break;
	default:
		return -1;
	}
	return cipher_blocks(cipher, encrypt, key, NULL, in, len, out);
}

int crypto_aes256_cbc(int encrypt, const uint8_t key[32],
		      const uint8_t iv[16], const uint8_t *in, size_t len,
		      uint8_t *out)
{
	return crypto_aes_cbc(encrypt, key, 32, iv, in, len, out);
}

/* Feeds aad then in through an initialized GCM context; out gets len
 * bytes. */
static int gcm_update(EVP_CIPHER_CTX *ctx, const uint8_t *aad,
		      size_t aad_len, const uint8_t *in, size_t len,
		      uint8_t *out)
{
	int n = 0;

	if (aad_len > INT_MAX || len > INT_MAX)
		return -1;
	if (aad_len != 0 &&
	    EVP_CipherUpdate(ctx, NULL, &n, aad, (int)aad_len) != 1)
		return -1;
	if (len != 0 && (EVP_CipherUpdate(ctx, out, &n, in, (int)len) != 1 ||
			 (size_t)n != len))
		return -1;
	return 0;
}

static int gcm_args_ok(const uint8_t *key, const uint8_t *nonce,
		       const uint8_t *aad, size_t aad_len, const uint8_t *in,
		       size_t len, const uint8_t *out, const uint8_t *tag)
{
	return key != NULL && nonce != NULL && tag != NULL &&
	       (aad != NULL || aad_len == 0) &&
	       ((in != NULL && out != NULL) || len == 0);
}

int crypto_aes256_gcm_seal(const uint8_t key[32], const uint8_t nonce[12],
			   const uint8_t *aad, size_t aad_len,
			   const uint8_t *in, size_t len, uint8_t *out,
			   uint8_t tag[16])
{
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t fin[AES_BLOCK];
	int n = 0, r = -1;

	if (!gcm_args_ok(key, nonce, aad, aad_len, in, len, out, tag))
		goto out;
	/* The default GCM IV length is the 12 bytes we take. */
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_EncryptInit_ex2(ctx, EVP_aes_256_gcm(), key, nonce,
				NULL) != 1 ||
	    gcm_update(ctx, aad, aad_len, in, len, out) != 0 ||
	    EVP_EncryptFinal_ex(ctx, fin, &n) != 1 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, GCM_TAG_LEN,
				tag) != 1)
		goto out;
	r = 0;
out:
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

int crypto_aes256_gcm_open(const uint8_t key[32], const uint8_t nonce[12],
			   const uint8_t *aad, size_t aad_len,
			   const uint8_t *in, size_t len,
			   const uint8_t tag[16], uint8_t *out)
{
	EVP_CIPHER_CTX *ctx = NULL;
	uint8_t want[GCM_TAG_LEN];
	uint8_t fin[AES_BLOCK];
	int n = 0, r = -1;

	if (!gcm_args_ok(key, nonce, aad, aad_len, in, len, out, tag))
		goto out;
	/* SET_TAG takes a non-const pointer; hand it a copy. */
	memcpy(want, tag, sizeof(want));
	if ((ctx = EVP_CIPHER_CTX_new()) == NULL ||
	    EVP_DecryptInit_ex2(ctx, EVP_aes_256_gcm(), key, nonce,
				NULL) != 1 ||
	    gcm_update(ctx, aad, aad_len, in, len, out) != 0 ||
	    EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, GCM_TAG_LEN,
				want) != 1 ||
	    EVP_DecryptFinal_ex(ctx, fin, &n) != 1)
		goto out;
	r = 0;
out:
	/* Never hand back plaintext that failed authentication. */
	if (r != 0 && out != NULL && len != 0)
		OPENSSL_cleanse(out, len);
	EVP_CIPHER_CTX_free(ctx);
	return r;
}

int crypto_hkdf_sha256(const uint8_t *salt, size_t salt_len,
		       const uint8_t *ikm, size_t ikm_len,
		       const uint8_t *info, size_t info_len, uint8_t *out,
		       size_t out_len)
{
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *ctx = NULL;
	char digest[] = OSSL_DIGEST_NAME_SHA2_256;
	OSSL_PARAM params[5];
	size_t n = 0;
	int r = -1;

	if (ikm == NULL || ikm_len == 0 || out == NULL || out_len == 0 ||
	    (salt == NULL && salt_len != 0) || (info == NULL && info_len != 0))
		goto out;
	params[n++] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
						       digest, 0);
	params[n++] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY,
							(void *)ikm, ikm_len);
	/* An absent salt means HashLen zero bytes (RFC 5869 §2.2), which is
	 * what OpenSSL does when no salt is set. */
	if (salt_len != 0)
		params[n++] = OSSL_PARAM_construct_octet_string(
			OSSL_KDF_PARAM_SALT, (void *)salt, salt_len);
	if (info_len != 0)
		params[n++] = OSSL_PARAM_construct_octet_string(
			OSSL_KDF_PARAM_INFO, (void *)info, info_len);
	params[n] = OSSL_PARAM_construct_end();
	if ((kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_HKDF, NULL)) == NULL ||
	    (ctx = EVP_KDF_CTX_new(kdf)) == NULL ||
	    EVP_KDF_derive(ctx, out, out_len, params) != 1)
		goto out;
	r = 0;
out:
	if (r != 0 && out != NULL)
		OPENSSL_cleanse(out, out_len);
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return r;
}

int crypto_scrypt(const uint8_t *secret, size_t secret_len,
		  const uint8_t *salt, size_t salt_len, unsigned log2_n,
		  uint32_t r, uint32_t p, uint64_t max_mem, uint8_t *out,
		  size_t out_len)
{
	EVP_KDF *kdf = NULL;
	EVP_KDF_CTX *ctx = NULL;
	OSSL_PARAM params[7];
	uint64_t n_cost, ossl_max;
	int rc = -1;

	if (secret == NULL || secret_len == 0 || salt == NULL ||
	    salt_len == 0 || out == NULL || out_len == 0 || log2_n < 1 ||
	    log2_n > 30 || r == 0 || p == 0)
		goto out;
	n_cost = (uint64_t)1 << log2_n;
	/* scrypt's memory is 128 * r * N bytes (plus 128 * r * p): refuse
	 * what max_mem does not allow before OpenSSL allocates anything. */
	if (max_mem > UINT64_MAX / 2 || r > max_mem / 128 / n_cost ||
	    p > max_mem / 128 / r)
		goto out;
	ossl_max = 2 * max_mem; /* room for its p blocks */
	params[0] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD,
						      (void *)secret,
						      secret_len);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT,
						      (void *)salt, salt_len);
	params[2] = OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N,
						&n_cost);
	params[3] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r);
	params[4] = OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p);
	params[5] = OSSL_PARAM_construct_uint64(
		OSSL_KDF_PARAM_SCRYPT_MAXMEM, &ossl_max);
	params[6] = OSSL_PARAM_construct_end();
	if ((kdf = EVP_KDF_fetch(NULL, OSSL_KDF_NAME_SCRYPT, NULL)) == NULL ||
	    (ctx = EVP_KDF_CTX_new(kdf)) == NULL ||
	    EVP_KDF_derive(ctx, out, out_len, params) != 1)
		goto out;
	rc = 0;
out:
	if (rc != 0 && out != NULL)
		OPENSSL_cleanse(out, out_len);
	EVP_KDF_CTX_free(ctx);
	EVP_KDF_free(kdf);
	return rc;
}
