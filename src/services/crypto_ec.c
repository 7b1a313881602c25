/* Elliptic-curve keys, signatures and ECDH (P-256 and Ed25519) over the
 * OpenSSL 3 EVP interface; keys enter and leave as raw bytes. */
#include "services/crypto_int.h"

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/params.h>

#include <string.h>

#define P256_SCALAR_LEN 32
#define P256_POINT_LEN 65
#define ED25519_KEY_LEN 32
#define ED25519_SIG_LEN 64
#define SEC1_UNCOMPRESSED 0x04

/* The order n of the P-256 group (SEC 2 §2.4.2); a private scalar must be
 * in [1, n-1]. */
static const uint8_t p256_order[P256_SCALAR_LEN] = {
	0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00,
	0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
	0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84,
	0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
};

/* 1 when 0 < d < n. Runs in time independent of d: d is a secret. */
static int p256_scalar_ok(const uint8_t d[P256_SCALAR_LEN])
{
	unsigned borrow = 0, nonzero = 0;
	size_t i = P256_SCALAR_LEN;

	while (i-- > 0) {
		unsigned diff = (unsigned)d[i] - (unsigned)p256_order[i] -
				borrow;
		borrow = (diff >> 8) & 1u;
		nonzero |= d[i];
	}
	return (int)(borrow & (unsigned)(nonzero != 0));
}

/* EVP_PKEY_fromdata with a throwaway context. */
static EVP_PKEY *pkey_fromdata(const char *type, int selection,
			       OSSL_PARAM *params)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *pkey = NULL;

	if (ctx == NULL)
		goto out;
	if (EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, selection, params) != 1)
		pkey = NULL;
out:
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

int crypto_ec_point_of(int nid, const uint8_t *d, size_t d_len,
		       uint8_t *out, size_t out_len)
{
	EC_GROUP *group = EC_GROUP_new_by_curve_name(nid);
	EC_POINT *q = NULL;
	BIGNUM *k = BN_secure_new();
	int r = -1;

	if (group == NULL || k == NULL || d_len > 0x7fffffff)
		goto out;
	BN_set_flags(k, BN_FLG_CONSTTIME);
	if (BN_bin2bn(d, (int)d_len, k) == NULL ||
	    (q = EC_POINT_new(group)) == NULL ||
	    EC_POINT_mul(group, q, k, NULL, NULL, NULL) != 1)
		goto out;
	if (EC_POINT_point2oct(group, q, POINT_CONVERSION_UNCOMPRESSED, out,
			       out_len, NULL) != out_len)
		goto out;
	r = 0;
out:
	EC_POINT_free(q);
	BN_clear_free(k);
	EC_GROUP_free(group);
	return r;
}

static int p256_point_of(const uint8_t d[P256_SCALAR_LEN],
			 uint8_t out[P256_POINT_LEN])
{
	return crypto_ec_point_of(NID_X9_62_prime256v1, d, P256_SCALAR_LEN,
				  out, P256_POINT_LEN);
}

static EVP_PKEY *p256_priv(const uint8_t *priv, size_t priv_len,
			   int with_pub)
{
	/* OSSL_PARAM_construct_BN wants the integer in native byte order. */
	uint8_t native[P256_SCALAR_LEN];
	uint8_t point[P256_POINT_LEN];
	char group[] = SN_X9_62_prime256v1;
	OSSL_PARAM params[4];
	size_t n = 0, i;
	EVP_PKEY *pkey = NULL;

	if (priv_len != P256_SCALAR_LEN || !p256_scalar_ok(priv))
		goto out;
	for (i = 0; i < P256_SCALAR_LEN; i++)
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
		native[i] = priv[P256_SCALAR_LEN - 1 - i];
#else
		native[i] = priv[i];
#endif
	params[n++] = OSSL_PARAM_construct_utf8_string(
		OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
	params[n++] = OSSL_PARAM_construct_BN(OSSL_PKEY_PARAM_PRIV_KEY,
					      native, sizeof(native));
	if (with_pub) {
		if (p256_point_of(priv, point) != 0)
			goto out;
		params[n++] = OSSL_PARAM_construct_octet_string(
			OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point));
	}
	params[n] = OSSL_PARAM_construct_end();
	pkey = pkey_fromdata("EC", EVP_PKEY_KEYPAIR, params);
out:
	OPENSSL_cleanse(native, sizeof(native));
	return pkey;
}

EVP_PKEY *crypto_pkey_priv(enum crypto_curve curve, const uint8_t *priv,
			   size_t priv_len, int with_pub)
{
	if (priv == NULL)
		return NULL;
	switch (curve) {
	case CRYPTO_P256:
		return p256_priv(priv, priv_len, with_pub);
	case CRYPTO_ED25519:
		if (priv_len != ED25519_KEY_LEN)
			return NULL;
		return EVP_PKEY_new_raw_private_key_ex(NULL, "ED25519", NULL,
						       priv, priv_len);
	}
	return NULL;
}

/* The import decodes the point, which fails for a point off the curve. */
static EVP_PKEY *p256_pub(const uint8_t *pub, size_t pub_len)
{
	char group[] = SN_X9_62_prime256v1;
	OSSL_PARAM params[3];

	if (pub_len != P256_POINT_LEN || pub[0] != SEC1_UNCOMPRESSED)
		return NULL;
	params[0] = OSSL_PARAM_construct_utf8_string(
		OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(
		OSSL_PKEY_PARAM_PUB_KEY, (void *)pub, pub_len);
	params[2] = OSSL_PARAM_construct_end();
	return pkey_fromdata("EC", EVP_PKEY_PUBLIC_KEY, params);
}

EVP_PKEY *crypto_pkey_pub(enum crypto_curve curve, const uint8_t *pub,
			  size_t pub_len)
{
	if (pub == NULL)
		return NULL;
	switch (curve) {
	case CRYPTO_P256:
		return p256_pub(pub, pub_len);
	case CRYPTO_ED25519:
		if (pub_len != ED25519_KEY_LEN)
			return NULL;
		return EVP_PKEY_new_raw_public_key_ex(NULL, "ED25519", NULL,
						      pub, pub_len);
	}
	return NULL;
}

/* Writes the key pair of a freshly generated P-256 key. */
static int p256_export(const EVP_PKEY *pkey, uint8_t *priv,
		       size_t *priv_len, uint8_t *pub, size_t *pub_len)
{
	BIGNUM *d = NULL;
	size_t n = 0;
	int r = -1;

	if (*priv_len < P256_SCALAR_LEN || *pub_len < P256_POINT_LEN)
		goto out;
	if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1 ||
	    BN_bn2binpad(d, priv, P256_SCALAR_LEN) != P256_SCALAR_LEN)
		goto out;
	if (EVP_PKEY_get_octet_string_param(pkey, OSSL_PKEY_PARAM_PUB_KEY, pub,
					    P256_POINT_LEN, &n) != 1 ||
	    n != P256_POINT_LEN || pub[0] != SEC1_UNCOMPRESSED)
		goto out;
	*priv_len = P256_SCALAR_LEN;
	*pub_len = P256_POINT_LEN;
	r = 0;
out:
	if (r != 0 && *priv_len >= P256_SCALAR_LEN)
		OPENSSL_cleanse(priv, P256_SCALAR_LEN);
	BN_clear_free(d);
	return r;
}

static int ed25519_export(const EVP_PKEY *pkey, uint8_t *priv,
			  size_t *priv_len, uint8_t *pub, size_t *pub_len)
{
	size_t dn = *priv_len, qn = *pub_len;
	int r = -1;

	if (dn < ED25519_KEY_LEN || qn < ED25519_KEY_LEN)
		goto out;
	if (EVP_PKEY_get_raw_private_key(pkey, priv, &dn) != 1 ||
	    EVP_PKEY_get_raw_public_key(pkey, pub, &qn) != 1 ||
	    dn != ED25519_KEY_LEN || qn != ED25519_KEY_LEN)
		goto out;
	*priv_len = dn;
	*pub_len = qn;
	r = 0;
out:
	if (r != 0 && *priv_len >= ED25519_KEY_LEN)
		OPENSSL_cleanse(priv, ED25519_KEY_LEN);
	return r;
}

int crypto_ec_generate(enum crypto_curve curve, uint8_t *priv,
		       size_t *priv_len, uint8_t *pub, size_t *pub_len)
{
	EVP_PKEY *pkey = NULL;
	int r = -1;

	if (priv == NULL || priv_len == NULL || pub == NULL || pub_len == NULL)
		goto out;
	switch (curve) {
	case CRYPTO_P256:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		if (pkey != NULL)
			r = p256_export(pkey, priv, priv_len, pub, pub_len);
		break;
	case CRYPTO_ED25519:
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
		if (pkey != NULL)
			r = ed25519_export(pkey, priv, priv_len, pub, pub_len);
		break;
	}
out:
	EVP_PKEY_free(pkey);
	return r;
}

int crypto_ec_public(enum crypto_curve curve, const uint8_t *priv,
		     size_t priv_len, uint8_t *pub, size_t *pub_len)
{
	EVP_PKEY *pkey = NULL;
	size_t n;
	int r = -1;

	if (priv == NULL || pub == NULL || pub_len == NULL)
		goto out;
	switch (curve) {
	case CRYPTO_P256:
		if (priv_len != P256_SCALAR_LEN || !p256_scalar_ok(priv) ||
		    *pub_len < P256_POINT_LEN || p256_point_of(priv, pub) != 0)
			goto out;
		*pub_len = P256_POINT_LEN;
		r = 0;
		break;
	case CRYPTO_ED25519:
		n = *pub_len;
		pkey = crypto_pkey_priv(curve, priv, priv_len, 0);
		if (pkey == NULL || n < ED25519_KEY_LEN ||
		    EVP_PKEY_get_raw_public_key(pkey, pub, &n) != 1 ||
		    n != ED25519_KEY_LEN)
			goto out;
		*pub_len = n;
		r = 0;
		break;
	}
out:
	EVP_PKEY_free(pkey);
	return r;
}

/* The digest EVP_DigestSignInit_ex fetches by name: SHA-256 for ECDSA,
 * none for pure EdDSA (Ed25519 hashes internally). */
static const char *sig_md_name(enum crypto_curve curve)
{
	return curve == CRYPTO_P256 ? OSSL_DIGEST_NAME_SHA2_256 : NULL;
}

int crypto_sign(enum crypto_curve curve, const uint8_t *priv,
		size_t priv_len, const uint8_t *msg, size_t msg_len,
		uint8_t *sig, size_t *sig_len)
{
	EVP_PKEY *pkey = NULL;
	EVP_MD_CTX *md = NULL;
	size_t n;
	int r = -1;

	if ((msg == NULL && msg_len != 0) || sig == NULL || sig_len == NULL)
		goto out;
	n = *sig_len;
	if ((pkey = crypto_pkey_priv(curve, priv, priv_len, 0)) == NULL ||
	    (md = EVP_MD_CTX_new()) == NULL)
		goto out;
	if (EVP_DigestSignInit_ex(md, NULL, sig_md_name(curve), NULL, NULL,
				  pkey, NULL) != 1 ||
	    EVP_DigestSign(md, sig, &n, msg, msg_len) != 1)
		goto out;
	*sig_len = n;
	r = 0;
out:
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pkey);
	return r;
}

int crypto_verify(enum crypto_curve curve, const uint8_t *pub,
		  size_t pub_len, const uint8_t *msg, size_t msg_len,
		  const uint8_t *sig, size_t sig_len)
{
	EVP_PKEY *pkey = NULL;
	EVP_MD_CTX *md = NULL;
	int r = -1;

	if ((msg == NULL && msg_len != 0) || sig == NULL || sig_len == 0)
		goto out;
	if (curve == CRYPTO_ED25519 && sig_len != ED25519_SIG_LEN)
		goto out;
	if ((pkey = crypto_pkey_pub(curve, pub, pub_len)) == NULL ||
	    (md = EVP_MD_CTX_new()) == NULL)
		goto out;
	if (EVP_DigestVerifyInit_ex(md, NULL, sig_md_name(curve), NULL, NULL,
				    pkey, NULL) != 1 ||
	    EVP_DigestVerify(md, sig, sig_len, msg, msg_len) != 1)
		goto out;
	r = 0;
out:
	EVP_MD_CTX_free(md);
	EVP_PKEY_free(pkey);
	return r;
}

int crypto_ecdh(enum crypto_curve curve, const uint8_t *priv,
		size_t priv_len, const uint8_t *peer_pub, size_t peer_len,
		uint8_t *z, size_t *z_len)
{
	EVP_PKEY *mine = NULL, *peer = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	size_t n;
	int r = -1;

	if (curve != CRYPTO_P256 || z == NULL || z_len == NULL ||
	    *z_len < P256_SCALAR_LEN)
		goto out;
	n = *z_len;
	if ((mine = crypto_pkey_priv(curve, priv, priv_len, 0)) == NULL ||
	    (peer = crypto_pkey_pub(curve, peer_pub, peer_len)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_pkey(NULL, mine, NULL)) == NULL)
		goto out;
	/* validate_peer = 1: a second, explicit on-curve check of the peer. */
	if (EVP_PKEY_derive_init(ctx) != 1 ||
	    EVP_PKEY_derive_set_peer_ex(ctx, peer, 1) != 1 ||
	    EVP_PKEY_derive(ctx, z, &n) != 1 || n != P256_SCALAR_LEN)
		goto out;
	*z_len = n;
	r = 0;
out:
	if (r != 0 && z != NULL && z_len != NULL && *z_len >= P256_SCALAR_LEN)
		OPENSSL_cleanse(z, P256_SCALAR_LEN);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer);
	EVP_PKEY_free(mine);
	return r;
}
