/* OpenSSL helpers shared by the applet tests that check the card's
 * results independently: random bytes, an RSA public key from n and e. */
#ifndef VKEY_CHECK_OSSL_H
#define VKEY_CHECK_OSSL_H

#include <stdint.h>
#include <stdlib.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>

/* --- OpenSSL side ------------------------------------------------------------- */

static inline EVP_PKEY *rsa_pub_key(const uint8_t *n, size_t nl, const uint8_t *e,
			     size_t el)
{
	OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
	BIGNUM *bn = BN_bin2bn(n, (int)nl, NULL);
	BIGNUM *be = BN_bin2bn(e, (int)el, NULL);
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
	EVP_PKEY *pkey = NULL;

	if (b != NULL && bn != NULL && be != NULL && ctx != NULL &&
	    OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, bn) &&
	    OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, be) &&
	    (params = OSSL_PARAM_BLD_to_param(b)) != NULL &&
	    EVP_PKEY_fromdata_init(ctx) == 1)
		EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(b);
	BN_free(bn);
	BN_free(be);
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

static inline void rand_bytes(uint8_t *b, size_t n)
{
	if (RAND_bytes(b, (int)n) != 1)
		abort();
}

#endif
