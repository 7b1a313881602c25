/* RSA (PKCS#1 v1.5, raw) and ECDSA/EdDSA/ECDH on the OpenPGP card and PIV
 * curves, over OpenSSL 3 EVP; keys enter and leave as raw bytes. */
#include "services/crypto_pk.h"
#include "services/crypto_int.h"

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include <stdlib.h>
#include <string.h>

#define RSA_MIN_BYTES 128
#define RSA_F4_VALUE 65537
#define PKCS1_OVERHEAD 11
#define SEC1_UNCOMPRESSED 0x04
#define ECX_KEY_LEN 32
#define ED25519_SIG_LEN 64
#define DIGEST_MAX 64

/* ---- RSA ---------------------------------------------------------- */

/* The integers of a private key while OpenSSL works on them. */
struct rsa_bn {
	BIGNUM *n, *e, *d, *p, *q, *dp, *dq, *qinv;
};

static void rsa_bn_free(struct rsa_bn *b)
{
	BN_free(b->n);
	BN_free(b->e);
	BN_clear_free(b->d);
	BN_clear_free(b->p);
	BN_clear_free(b->q);
	BN_clear_free(b->dp);
	BN_clear_free(b->dq);
	BN_clear_free(b->qinv);
	memset(b, 0, sizeof(*b));
}

/* Secret values live in OpenSSL's secure heap when one is configured, and
 * take the constant-time code paths. */
static BIGNUM *bn_secret(void)
{
	BIGNUM *b = BN_secure_new();

	if (b != NULL)
		BN_set_flags(b, BN_FLG_CONSTTIME);
	return b;
}

static int rsa_bn_alloc(struct rsa_bn *b)
{
	memset(b, 0, sizeof(*b));
	b->n = BN_new();
	b->e = BN_new();
	b->d = bn_secret();
	b->p = bn_secret();
	b->q = bn_secret();
	b->dp = bn_secret();
	b->dq = bn_secret();
	b->qinv = bn_secret();
	if (b->n == NULL || b->e == NULL || b->d == NULL || b->p == NULL ||
	    b->q == NULL || b->dp == NULL || b->dq == NULL || b->qinv == NULL) {
		rsa_bn_free(b);
		return -1;
	}
	return 0;
}

/* Shape checks on e, p, q before any arithmetic trusts them. */
static int rsa_epq_ok(const struct rsa_bn *b)
{
	BN_ULONG e_min = 3;

	return BN_is_odd(b->e) && BN_cmp(b->e, BN_value_one()) > 0 &&
	       BN_get_word(b->e) >= e_min && BN_is_odd(b->p) &&
	       BN_is_odd(b->q) && BN_cmp(b->p, b->q) != 0 &&
	       BN_cmp(b->p, BN_value_one()) > 0 &&
	       BN_cmp(b->q, BN_value_one()) > 0;
}

/* n = pq, d = e^-1 mod lcm(p-1, q-1), dp, dq, qinv = q^-1 mod p
 * (RFC 8017 §3.2). Fails when e is not invertible or n has a size no
 * card key has. */
static int rsa_bn_derive(struct rsa_bn *b)
{
	BN_CTX *ctx = BN_CTX_secure_new();
	BIGNUM *p1, *q1, *g, *l;
	int r = -1, nbytes;

	if (ctx == NULL || !rsa_epq_ok(b))
		goto out;
	BN_CTX_start(ctx);
	p1 = BN_CTX_get(ctx);
	q1 = BN_CTX_get(ctx);
	g = BN_CTX_get(ctx);
	l = BN_CTX_get(ctx);
	if (l == NULL || BN_mul(b->n, b->p, b->q, ctx) != 1)
		goto end;
	nbytes = BN_num_bytes(b->n);
	if (nbytes < RSA_MIN_BYTES || nbytes > CRYPTO_RSA_MAX)
		goto end;
	BN_set_flags(p1, BN_FLG_CONSTTIME);
	BN_set_flags(q1, BN_FLG_CONSTTIME);
	BN_set_flags(l, BN_FLG_CONSTTIME);
	if (BN_sub(p1, b->p, BN_value_one()) != 1 ||
	    BN_sub(q1, b->q, BN_value_one()) != 1 ||
	    BN_gcd(g, p1, q1, ctx) != 1 || BN_mul(l, p1, q1, ctx) != 1 ||
	    BN_div(l, NULL, l, g, ctx) != 1)
		goto end;
	if (BN_mod_inverse(b->d, b->e, l, ctx) == NULL ||
	    BN_mod(b->dp, b->d, p1, ctx) != 1 ||
	    BN_mod(b->dq, b->d, q1, ctx) != 1 ||
	    BN_mod_inverse(b->qinv, b->q, b->p, ctx) == NULL)
		goto end;
	r = 0;
end:
	BN_CTX_end(ctx);
out:
	BN_CTX_free(ctx);
	return r;
}

/* Minimal big-endian bytes of b into out[cap]. */
static int bn_out(const BIGNUM *b, uint8_t *out, size_t cap, size_t *len)
{
	int n = BN_num_bytes(b);

	if (n <= 0 || (size_t)n > cap || BN_bn2binpad(b, out, n) != n)
		return -1;
	*len = (size_t)n;
	return 0;
}

static int rsa_bn_export(const struct rsa_bn *b, struct crypto_rsa_key *key)
{
	int r = -1;

	if (bn_out(b->n, key->n, sizeof(key->n), &key->n_len) != 0 ||
	    bn_out(b->e, key->e, sizeof(key->e), &key->e_len) != 0 ||
	    bn_out(b->p, key->p, sizeof(key->p), &key->p_len) != 0 ||
	    bn_out(b->q, key->q, sizeof(key->q), &key->q_len) != 0 ||
	    bn_out(b->dp, key->dp, sizeof(key->dp), &key->dp_len) != 0 ||
	    bn_out(b->dq, key->dq, sizeof(key->dq), &key->dq_len) != 0 ||
	    bn_out(b->qinv, key->qinv, sizeof(key->qinv), &key->qinv_len) != 0)
		goto out;
	r = 0;
out:
	if (r != 0)
		crypto_rsa_key_wipe(key);
	return r;
}

/* Parses e, p, q and derives the rest; b is allocated on success. */
static int rsa_bn_from_epq(struct rsa_bn *b, const uint8_t *e, size_t e_len,
			   const uint8_t *p, size_t p_len, const uint8_t *q,
			   size_t q_len)
{
	int r = -1;

	if (e == NULL || p == NULL || q == NULL || e_len > CRYPTO_RSA_E_MAX ||
	    p_len > CRYPTO_RSA_HALF_MAX || q_len > CRYPTO_RSA_HALF_MAX ||
	    rsa_bn_alloc(b) != 0)
		return -1;
	if (BN_bin2bn(e, (int)e_len, b->e) == NULL ||
	    BN_bin2bn(p, (int)p_len, b->p) == NULL ||
	    BN_bin2bn(q, (int)q_len, b->q) == NULL || rsa_bn_derive(b) != 0)
		goto out;
	r = 0;
out:
	if (r != 0)
		rsa_bn_free(b);
	return r;
}

void crypto_rsa_key_wipe(struct crypto_rsa_key *key)
{
	if (key != NULL)
		OPENSSL_cleanse(key, sizeof(*key));
}

int crypto_rsa_import_epq(const uint8_t *e, size_t e_len, const uint8_t *p,
			  size_t p_len, const uint8_t *q, size_t q_len,
			  struct crypto_rsa_key *key)
{
	struct rsa_bn b;
	int r = -1;

	if (key == NULL)
		return -1;
	crypto_rsa_key_wipe(key);
	if (rsa_bn_from_epq(&b, e, e_len, p, p_len, q, q_len) != 0)
		goto out;
	r = rsa_bn_export(&b, key);
	rsa_bn_free(&b);
out:
	return r;
}

/* Constant-time equality of a given CRT value with the computed one,
 * ignoring leading zero bytes of the given value. */
static int crt_equal(const uint8_t *given, size_t given_len,
		     const uint8_t *mine, size_t mine_len)
{
	while (given_len > mine_len && given_len > 0 && given[0] == 0) {
		given++;
		given_len--;
	}
	return given != NULL && given_len == mine_len &&
	       crypto_memcmp(given, mine, mine_len) == 0;
}

int crypto_rsa_import_crt(const uint8_t *e, size_t e_len, const uint8_t *p,
			  size_t p_len, const uint8_t *q, size_t q_len,
			  const uint8_t *dp, size_t dp_len, const uint8_t *dq,
			  size_t dq_len, const uint8_t *qinv, size_t qinv_len,
			  struct crypto_rsa_key *key)
{
	int r = -1;

	if (dp == NULL || dq == NULL || qinv == NULL ||
	    crypto_rsa_import_epq(e, e_len, p, p_len, q, q_len, key) != 0)
		goto out;
	if (!crt_equal(dp, dp_len, key->dp, key->dp_len) ||
	    !crt_equal(dq, dq_len, key->dq, key->dq_len) ||
	    !crt_equal(qinv, qinv_len, key->qinv, key->qinv_len))
		goto out;
	r = 0;
out:
	if (r != 0)
		crypto_rsa_key_wipe(key);
	return r;
}

static EVP_PKEY *pkey_fromdata(const char *type, int selection,
			       OSSL_PARAM_BLD *bld)
{
	OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
	EVP_PKEY *pkey = NULL;

	if (params == NULL || ctx == NULL)
		goto out;
	if (EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &pkey, selection, params) != 1)
		pkey = NULL;
out:
	EVP_PKEY_CTX_free(ctx);
	/* OpenSSL 3.0 has no OSSL_PARAM_clear_free: every secret pushed
	 * here is a BN_secure_new BIGNUM, whose copy OpenSSL keeps in the
	 * secure heap and clears when it frees it. */
	OSSL_PARAM_free(params);
	return pkey;
}

/* The OpenSSL key of a stored key; d and the CRT values are recomputed
 * from e, p, q, so a struct edited by hand cannot mix two keys. */
static EVP_PKEY *rsa_pkey_priv(const struct crypto_rsa_key *key)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	EVP_PKEY *pkey = NULL;
	struct rsa_bn b;

	if (bld == NULL || key == NULL ||
	    rsa_bn_from_epq(&b, key->e, key->e_len, key->p, key->p_len, key->q,
			    key->q_len) != 0)
		goto out;
	if (OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, b.n) == 1 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, b.e) == 1 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_D, b.d) == 1 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR1, b.p) == 1 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_FACTOR2, b.q) == 1 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT1, b.dp) == 1 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_EXPONENT2, b.dq) == 1 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
				   b.qinv) == 1)
		pkey = pkey_fromdata("RSA", EVP_PKEY_KEYPAIR, bld);
	rsa_bn_free(&b);
out:
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

static EVP_PKEY *rsa_pkey_pub(const uint8_t *n, size_t n_len,
			      const uint8_t *e, size_t e_len)
{
	OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
	BIGNUM *bn = BN_new(), *be = BN_new();
	EVP_PKEY *pkey = NULL;

	if (bld == NULL || bn == NULL || be == NULL || n == NULL ||
	    e == NULL || n_len < RSA_MIN_BYTES || n_len > CRYPTO_RSA_MAX ||
	    e_len == 0 || e_len > CRYPTO_RSA_E_MAX)
		goto out;
	if (BN_bin2bn(n, (int)n_len, bn) == NULL ||
	    BN_bin2bn(e, (int)e_len, be) == NULL)
		goto out;
	if (OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) == 1 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be) == 1)
		pkey = pkey_fromdata("RSA", EVP_PKEY_PUBLIC_KEY, bld);
out:
	BN_free(be);
	BN_free(bn);
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

int crypto_rsa_generate(unsigned bits, struct crypto_rsa_key *key)
{
	struct rsa_bn b;
	int r = -1;

	if (key == NULL ||
	    (bits != 1024 && bits != 2048 && bits != 3072 && bits != 4096))
		return -1;
	crypto_rsa_key_wipe(key);
	if (rsa_bn_alloc(&b) != 0)
		return -1;
	if (BN_set_word(b.e, RSA_F4_VALUE) != 1 ||
	    crypto_rsa_primes((int)bits, RSA_F4_VALUE, b.p, b.q) != 0 ||
	    rsa_bn_derive(&b) != 0 || BN_num_bits(b.n) != (int)bits)
		goto out;
	r = rsa_bn_export(&b, key);
out:
	rsa_bn_free(&b);
	return r;
}

enum rsa_op { RSA_OP_SIGN, RSA_OP_DECRYPT, RSA_OP_ENCRYPT };

/* One EVP asymmetric operation with the given padding. out must hold the
 * modulus size; *out_len is set to the bytes written. */
static int rsa_evp(EVP_PKEY *pkey, enum rsa_op op, int padding,
		   const uint8_t *in, size_t in_len, uint8_t *out,
		   size_t *out_len)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
	size_t n = *out_len;
	int ok = 0;

	if (ctx == NULL)
		goto out;
	switch (op) {
	case RSA_OP_SIGN:
		ok = EVP_PKEY_sign_init(ctx) == 1 &&
		     EVP_PKEY_CTX_set_rsa_padding(ctx, padding) == 1 &&
		     EVP_PKEY_sign(ctx, out, &n, in, in_len) == 1;
		break;
	case RSA_OP_DECRYPT:
		ok = EVP_PKEY_decrypt_init(ctx) == 1 &&
		     EVP_PKEY_CTX_set_rsa_padding(ctx, padding) == 1 &&
		     EVP_PKEY_decrypt(ctx, out, &n, in, in_len) == 1;
		break;
	case RSA_OP_ENCRYPT:
		ok = EVP_PKEY_encrypt_init(ctx) == 1 &&
		     EVP_PKEY_CTX_set_rsa_padding(ctx, padding) == 1 &&
		     EVP_PKEY_encrypt(ctx, out, &n, in, in_len) == 1;
		break;
	}
	if (ok)
		*out_len = n;
out:
	EVP_PKEY_CTX_free(ctx);
	return ok ? 0 : -1;
}

/* A private key as OpenSSL holds it, built once: d, the Montgomery
 * values and the blinding survive between operations. */
struct crypto_rsa_prepared {
	EVP_PKEY *pkey;
	size_t n_len, e_len;
	uint8_t n[CRYPTO_RSA_MAX];
	uint8_t e[CRYPTO_RSA_E_MAX];
};

struct crypto_rsa_prepared *crypto_rsa_prepare(const struct crypto_rsa_key *key)
{
	struct crypto_rsa_prepared *k;

	if (key == NULL || key->n_len == 0 || key->n_len > CRYPTO_RSA_MAX ||
	    key->e_len > CRYPTO_RSA_E_MAX ||
	    (k = calloc(1, sizeof(*k))) == NULL)
		return NULL;
	k->pkey = rsa_pkey_priv(key);
	if (k->pkey == NULL) {
		free(k);
		return NULL;
	}
	k->n_len = key->n_len;
	memcpy(k->n, key->n, key->n_len);
	k->e_len = key->e_len;
	memcpy(k->e, key->e, key->e_len);
	return k;
}

void crypto_rsa_prepared_free(struct crypto_rsa_prepared *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey); /* clears its secret BIGNUMs */
	free(k);
}

int crypto_rsa_prepared_is(const struct crypto_rsa_prepared *k,
			   const struct crypto_rsa_key *key)
{
	return k != NULL && key != NULL && k->n_len == key->n_len &&
	       memcmp(k->n, key->n, key->n_len) == 0 &&
	       k->e_len == key->e_len && memcmp(k->e, key->e, key->e_len) == 0;
}

/* A private operation into a modulus-sized scratch buffer, then copied
 * out when it fits: OpenSSL wants room for a whole block. */
static int rsa_private(const struct crypto_rsa_prepared *k, enum rsa_op op,
		       int padding, const uint8_t *in, size_t in_len,
		       uint8_t *out, size_t *out_len)
{
	uint8_t tmp[CRYPTO_RSA_MAX];
	size_t n = sizeof(tmp);
	int r = -1;

	if (k == NULL || in == NULL || out == NULL || out_len == NULL)
		goto out;
	if (rsa_evp(k->pkey, op, padding, in, in_len, tmp, &n) != 0 ||
	    n > *out_len)
		goto out;
	memcpy(out, tmp, n);
	*out_len = n;
	r = 0;
out:
	OPENSSL_cleanse(tmp, sizeof(tmp));
	return r;
}

int crypto_rsa_prepared_sign_pkcs1(const struct crypto_rsa_prepared *k,
				   const uint8_t *in, size_t in_len,
				   uint8_t *sig, size_t *sig_len)
{
	/* No digest set: OpenSSL pads in as given (block type 1), which is
	 * the old RSA_private_encrypt the OpenPGP card performs. */
	if (k == NULL || in_len == 0 || in_len + PKCS1_OVERHEAD > k->n_len)
		return -1;
	return rsa_private(k, RSA_OP_SIGN, RSA_PKCS1_PADDING, in, in_len, sig,
			   sig_len);
}

int crypto_rsa_prepared_decrypt_pkcs1(const struct crypto_rsa_prepared *k,
				      const uint8_t *in, size_t in_len,
				      uint8_t *out, size_t *out_len)
{
	if (k == NULL || in_len != k->n_len)
		return -1;
	return rsa_private(k, RSA_OP_DECRYPT, RSA_PKCS1_PADDING, in, in_len,
			   out, out_len);
}

/* The one-off operations prepare a key for the one call. */
int crypto_rsa_sign_pkcs1(const struct crypto_rsa_key *key,
			  const uint8_t *in, size_t in_len, uint8_t *sig,
			  size_t *sig_len)
{
	struct crypto_rsa_prepared *k = crypto_rsa_prepare(key);
	int r = crypto_rsa_prepared_sign_pkcs1(k, in, in_len, sig, sig_len);

	crypto_rsa_prepared_free(k);
	return r;
}

int crypto_rsa_decrypt_pkcs1(const struct crypto_rsa_key *key,
			     const uint8_t *in, size_t in_len, uint8_t *out,
			     size_t *out_len)
{
	struct crypto_rsa_prepared *k = crypto_rsa_prepare(key);
	int r = crypto_rsa_prepared_decrypt_pkcs1(k, in, in_len, out, out_len);

	crypto_rsa_prepared_free(k);
	return r;
}

int crypto_rsa_prepared_raw(const struct crypto_rsa_prepared *k,
			    const uint8_t *in, size_t in_len, uint8_t *out,
			    size_t *out_len)
{
	/* OpenSSL rejects in >= n itself. */
	if (k == NULL || in_len != k->n_len)
		return -1;
	return rsa_private(k, RSA_OP_DECRYPT, RSA_NO_PADDING, in, in_len, out,
			   out_len);
}

int crypto_rsa_private_raw(const struct crypto_rsa_key *key,
			   const uint8_t *in, size_t in_len, uint8_t *out,
			   size_t *out_len)
{
	struct crypto_rsa_prepared *k = crypto_rsa_prepare(key);
	int r = crypto_rsa_prepared_raw(k, in, in_len, out, out_len);

	crypto_rsa_prepared_free(k);
	return r;
}

int crypto_rsa_implicit_rejection(void)
{
#ifdef OSSL_ASYM_CIPHER_PARAM_IMPLICIT_REJECTION
	return 1;
#else
	return 0;
#endif
}

int crypto_rsa_public_raw(const uint8_t *n, size_t n_len, const uint8_t *e,
			  size_t e_len, const uint8_t *in, size_t in_len,
			  uint8_t *out, size_t *out_len)
{
	EVP_PKEY *pkey = NULL;
	size_t cap;
	int r = -1;

	if (in == NULL || out == NULL || out_len == NULL || in_len != n_len ||
	    *out_len < n_len)
		goto out;
	cap = *out_len;
	if ((pkey = rsa_pkey_pub(n, n_len, e, e_len)) == NULL ||
	    rsa_evp(pkey, RSA_OP_ENCRYPT, RSA_NO_PADDING, in, in_len, out,
		    &cap) != 0)
		goto out;
	*out_len = cap;
	r = 0;
out:
	EVP_PKEY_free(pkey);
	return r;
}

int crypto_rsa_verify_pkcs1(const uint8_t *n, size_t n_len,
			    const uint8_t *e, size_t e_len, const uint8_t *in,
			    size_t in_len, const uint8_t *sig, size_t sig_len)
{
	EVP_PKEY *pkey = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	int r = -1;

	if (in == NULL || sig == NULL || sig_len != n_len)
		goto out;
	if ((pkey = rsa_pkey_pub(n, n_len, e, e_len)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL)
		goto out;
	if (EVP_PKEY_verify_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
	    EVP_PKEY_verify(ctx, sig, sig_len, in, in_len) != 1)
		goto out;
	r = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	return r;
}

/* ---- Elliptic curves ---------------------------------------------- */

struct curve_info {
	enum crypto_pk_curve id;
	const char *name; /* OpenSSL group name, or key type for ECX */
	int nid;
	size_t fs;
	uint8_t oid[CRYPTO_PK_OID_MAX];
	size_t oid_len;
};

static const struct curve_info curves[] = {
	{ PK_P256, "prime256v1", NID_X9_62_prime256v1, 32,
	  { 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07 }, 8 },
	{ PK_P384, "secp384r1", NID_secp384r1, 48,
	  { 0x2b, 0x81, 0x04, 0x00, 0x22 }, 5 },
	{ PK_P521, "secp521r1", NID_secp521r1, 66,
	  { 0x2b, 0x81, 0x04, 0x00, 0x23 }, 5 },
	{ PK_BP256, "brainpoolP256r1", NID_brainpoolP256r1, 32,
	  { 0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x07 }, 9 },
	{ PK_BP384, "brainpoolP384r1", NID_brainpoolP384r1, 48,
	  { 0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0b }, 9 },
	{ PK_BP512, "brainpoolP512r1", NID_brainpoolP512r1, 64,
	  { 0x2b, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0d }, 9 },
	{ PK_SECP256K1, "secp256k1", NID_secp256k1, 32,
	  { 0x2b, 0x81, 0x04, 0x00, 0x0a }, 5 },
	{ PK_ED25519, "ED25519", NID_ED25519, 32,
	  { 0x2b, 0x06, 0x01, 0x04, 0x01, 0xda, 0x47, 0x0f, 0x01 }, 9 },
	{ PK_X25519, "X25519", NID_X25519, 32,
	  { 0x2b, 0x06, 0x01, 0x04, 0x01, 0x97, 0x55, 0x01, 0x05, 0x01 }, 10 },
};

static const struct curve_info *curve_get(enum crypto_pk_curve id)
{
	size_t i;

	for (i = 0; i < sizeof(curves) / sizeof(curves[0]); i++)
		if (curves[i].id == id)
			return &curves[i];
	return NULL;
}

/* Ed25519 and X25519 use fixed-length raw encodings, not points. */
static int curve_is_ecx(const struct curve_info *ci)
{
	return ci->nid == NID_ED25519 || ci->nid == NID_X25519;
}

size_t crypto_pk_field_size(enum crypto_pk_curve curve)
{
	const struct curve_info *ci = curve_get(curve);

	return ci != NULL ? ci->fs : 0;
}

const uint8_t *crypto_pk_curve_oid(enum crypto_pk_curve curve,
				   size_t *oid_len)
{
	const struct curve_info *ci = curve_get(curve);

	if (ci == NULL || oid_len == NULL)
		return NULL;
	*oid_len = ci->oid_len;
	return ci->oid;
}

/* 1 when 0 < d < order, d being ci->fs big-endian bytes. Runs in time
 * independent of d: d is a secret. */
static int scalar_in_range(const struct curve_info *ci, const uint8_t *d)
{
	EC_GROUP *group = EC_GROUP_new_by_curve_name(ci->nid);
	uint8_t order[CRYPTO_PK_EC_PRIV_MAX];
	unsigned borrow = 0, nonzero = 0;
	size_t i;
	int ok = 0;

	if (group == NULL ||
	    BN_bn2binpad(EC_GROUP_get0_order(group), order, (int)ci->fs) !=
		    (int)ci->fs)
		goto out;
	for (i = ci->fs; i-- > 0;) {
		unsigned diff = (unsigned)d[i] - (unsigned)order[i] - borrow;

		borrow = (diff >> 8) & 1u;
		nonzero |= d[i];
	}
	ok = (int)(borrow & (unsigned)(nonzero != 0));
out:
	EC_GROUP_free(group);
	return ok;
}

/* Q = d·G written as 04||X||Y (1 + 2·fs bytes); d already range-checked. */
static int ec_point_of(const struct curve_info *ci, const uint8_t *d,
		       uint8_t *out)
{
	return crypto_ec_point_of(ci->nid, d, ci->fs, out, 1 + 2 * ci->fs);
}

static EVP_PKEY *ec_pkey_priv(const struct curve_info *ci,
			      const uint8_t *priv, size_t priv_len)
{
	OSSL_PARAM_BLD *bld = NULL;
	BIGNUM *d = NULL;
	EVP_PKEY *pkey = NULL;

	if (priv == NULL || priv_len != ci->fs)
		goto out;
	if (curve_is_ecx(ci)) {
		pkey = EVP_PKEY_new_raw_private_key_ex(NULL, ci->name, NULL,
						       priv, priv_len);
		goto out;
	}
	if (!scalar_in_range(ci, priv) || (bld = OSSL_PARAM_BLD_new()) == NULL ||
	    (d = bn_secret()) == NULL ||
	    BN_bin2bn(priv, (int)priv_len, d) == NULL)
		goto out;
	if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
					    ci->name, 0) == 1 &&
	    OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_PRIV_KEY, d) == 1)
		pkey = pkey_fromdata("EC", EVP_PKEY_KEYPAIR, bld);
out:
	BN_clear_free(d);
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

EVP_PKEY *crypto_pk_rsa_pkey(const struct crypto_rsa_key *key)
{
	return rsa_pkey_priv(key);
}

EVP_PKEY *crypto_pk_ec_pkey(enum crypto_pk_curve curve, const uint8_t *priv,
			    size_t priv_len)
{
	const struct curve_info *ci = curve_get(curve);

	return ci != NULL ? ec_pkey_priv(ci, priv, priv_len) : NULL;
}

/* NULL unless pub encodes a point on the curve (the EC import decodes
 * the point, which fails off the curve). Uncompressed points only. */
static EVP_PKEY *ec_pkey_pub(const struct curve_info *ci, const uint8_t *pub,
			     size_t pub_len)
{
	OSSL_PARAM_BLD *bld = NULL;
	EVP_PKEY *pkey = NULL;

	if (pub == NULL)
		goto out;
	if (curve_is_ecx(ci)) {
		if (pub_len == ECX_KEY_LEN)
			pkey = EVP_PKEY_new_raw_public_key_ex(NULL, ci->name,
							      NULL, pub,
							      pub_len);
		goto out;
	}
	if (pub_len != 1 + 2 * ci->fs || pub[0] != SEC1_UNCOMPRESSED ||
	    (bld = OSSL_PARAM_BLD_new()) == NULL)
		goto out;
	if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME,
					    ci->name, 0) == 1 &&
	    OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub,
					     pub_len) == 1)
		pkey = pkey_fromdata("EC", EVP_PKEY_PUBLIC_KEY, bld);
out:
	OSSL_PARAM_BLD_free(bld);
	return pkey;
}

/* Writes the key pair of a freshly generated key; capacities checked. */
static int ec_export(const struct curve_info *ci, const EVP_PKEY *pkey,
		     uint8_t *priv, size_t *priv_len, uint8_t *pub,
		     size_t *pub_len)
{
	size_t plen = curve_is_ecx(ci) ? ECX_KEY_LEN : 1 + 2 * ci->fs;
	size_t dn = ci->fs, qn = 0;
	BIGNUM *d = NULL;
	int r = -1;

	if (*priv_len < ci->fs || *pub_len < plen)
		goto out;
	if (curve_is_ecx(ci)) {
		qn = ECX_KEY_LEN;
		if (EVP_PKEY_get_raw_private_key(pkey, priv, &dn) != 1 ||
		    EVP_PKEY_get_raw_public_key(pkey, pub, &qn) != 1)
			goto out;
	} else if (EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_PRIV_KEY,
					 &d) != 1 ||
		   BN_bn2binpad(d, priv, (int)ci->fs) != (int)ci->fs ||
		   EVP_PKEY_get_octet_string_param(pkey,
						   OSSL_PKEY_PARAM_PUB_KEY, pub,
						   plen, &qn) != 1) {
		goto out;
	}
	if (dn != ci->fs || qn != plen ||
	    (!curve_is_ecx(ci) && pub[0] != SEC1_UNCOMPRESSED))
		goto out;
	*priv_len = ci->fs;
	*pub_len = plen;
	r = 0;
out:
	if (r != 0 && *priv_len >= ci->fs)
		OPENSSL_cleanse(priv, ci->fs);
	BN_clear_free(d);
	return r;
}

int crypto_pk_ec_generate(enum crypto_pk_curve curve, uint8_t *priv,
			  size_t *priv_len, uint8_t *pub, size_t *pub_len)
{
	const struct curve_info *ci = curve_get(curve);
	EVP_PKEY *pkey = NULL;
	int r = -1;

	if (ci == NULL || priv == NULL || priv_len == NULL || pub == NULL ||
	    pub_len == NULL)
		goto out;
	if (curve_is_ecx(ci))
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, ci->name);
	else
		pkey = EVP_PKEY_Q_keygen(NULL, NULL, "EC", ci->name);
	if (pkey != NULL)
		r = ec_export(ci, pkey, priv, priv_len, pub, pub_len);
out:
	EVP_PKEY_free(pkey);
	return r;
}

int crypto_pk_ec_public(enum crypto_pk_curve curve, const uint8_t *priv,
			size_t priv_len, uint8_t *pub, size_t *pub_len)
{
	const struct curve_info *ci = curve_get(curve);
	EVP_PKEY *pkey = NULL;
	size_t n;
	int r = -1;

	if (ci == NULL || priv == NULL || priv_len != ci->fs || pub == NULL ||
	    pub_len == NULL)
		goto out;
	n = *pub_len;
	if (curve_is_ecx(ci)) {
		if ((pkey = ec_pkey_priv(ci, priv, priv_len)) == NULL ||
		    n < ECX_KEY_LEN ||
		    EVP_PKEY_get_raw_public_key(pkey, pub, &n) != 1 ||
		    n != ECX_KEY_LEN)
			goto out;
	} else {
		n = 1 + 2 * ci->fs;
		if (*pub_len < n || !scalar_in_range(ci, priv) ||
		    ec_point_of(ci, priv, pub) != 0)
			goto out;
	}
	*pub_len = n;
	r = 0;
out:
	EVP_PKEY_free(pkey);
	return r;
}

/* DER ECDSA-Sig-Value to r||s, each half fs bytes. */
static int ecdsa_der_to_raw(const struct curve_info *ci, const uint8_t *der,
			    size_t der_len, uint8_t *raw)
{
	const unsigned char *p = der;
	ECDSA_SIG *s = d2i_ECDSA_SIG(NULL, &p, (long)der_len);
	int fs = (int)ci->fs, r = -1;

	if (s == NULL || p != der + der_len)
		goto out;
	if (BN_bn2binpad(ECDSA_SIG_get0_r(s), raw, fs) != fs ||
	    BN_bn2binpad(ECDSA_SIG_get0_s(s), raw + fs, fs) != fs)
		goto out;
	r = 0;
out:
	ECDSA_SIG_free(s);
	return r;
}

/* r||s to DER; *der_len: capacity in, bytes out. */
static int ecdsa_raw_to_der(const struct curve_info *ci, const uint8_t *raw,
			    uint8_t *der, size_t *der_len)
{
	ECDSA_SIG *s = ECDSA_SIG_new();
	BIGNUM *br = BN_bin2bn(raw, (int)ci->fs, NULL);
	BIGNUM *bs = BN_bin2bn(raw + ci->fs, (int)ci->fs, NULL);
	unsigned char *p = der;
	int n, r = -1;

	if (s == NULL || br == NULL || bs == NULL ||
	    ECDSA_SIG_set0(s, br, bs) != 1)
		goto out;
	br = bs = NULL; /* owned by s */
	n = i2d_ECDSA_SIG(s, NULL);
	if (n <= 0 || (size_t)n > *der_len || i2d_ECDSA_SIG(s, &p) != n)
		goto out;
	*der_len = (size_t)n;
	r = 0;
out:
	BN_free(br);
	BN_free(bs);
	ECDSA_SIG_free(s);
	return r;
}

/* ECDSA over the digest as given: no digest set on the context, so
 * OpenSSL signs tbs directly (truncating it to the order's size). */
static int ecdsa_sign(const struct curve_info *ci, const uint8_t *priv,
		      size_t priv_len, const uint8_t *digest,
		      size_t digest_len, enum crypto_pk_sig_format format,
		      uint8_t *sig, size_t *sig_len)
{
	uint8_t der[CRYPTO_PK_EC_SIG_MAX];
	size_t n = sizeof(der);
	EVP_PKEY *pkey = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	int r = -1;

	if ((pkey = ec_pkey_priv(ci, priv, priv_len)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL ||
	    EVP_PKEY_sign_init(ctx) != 1 ||
	    EVP_PKEY_sign(ctx, der, &n, digest, digest_len) != 1)
		goto out;
	if (format == PK_SIG_RAW) {
		if (*sig_len < 2 * ci->fs ||
		    ecdsa_der_to_raw(ci, der, n, sig) != 0)
			goto out;
		*sig_len = 2 * ci->fs;
	} else {
		if (*sig_len < n)
			goto out;
		memcpy(sig, der, n);
		*sig_len = n;
	}
	r = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	return r;
}

static int sig_args_ok(const struct curve_info *ci, const uint8_t *digest,
		       size_t digest_len, enum crypto_pk_sig_format format)
{
	/* ECDSA takes a digest; Ed25519 signs a message of any length. */
	return ci != NULL && ci->nid != NID_X25519 && digest != NULL &&
	       digest_len > 0 &&
	       (digest_len <= DIGEST_MAX || ci->nid == NID_ED25519) &&
	       (format == PK_SIG_DER || format == PK_SIG_RAW);
}

int crypto_pk_ec_sign(enum crypto_pk_curve curve, const uint8_t *priv,
		      size_t priv_len, const uint8_t *digest,
		      size_t digest_len, enum crypto_pk_sig_format format,
		      uint8_t *sig, size_t *sig_len)
{
	const struct curve_info *ci = curve_get(curve);

	if (!sig_args_ok(ci, digest, digest_len, format) || sig == NULL ||
	    sig_len == NULL)
		return -1;
	if (ci->nid == NID_ED25519)
		return crypto_sign(CRYPTO_ED25519, priv, priv_len, digest,
				   digest_len, sig, sig_len);
	return ecdsa_sign(ci, priv, priv_len, digest, digest_len, format, sig,
			  sig_len);
}

static int ecdsa_verify(const struct curve_info *ci, const uint8_t *pub,
			size_t pub_len, const uint8_t *digest,
			size_t digest_len, const uint8_t *sig, size_t sig_len)
{
	EVP_PKEY *pkey = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	int r = -1;

	if ((pkey = ec_pkey_pub(ci, pub, pub_len)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL)) == NULL ||
	    EVP_PKEY_verify_init(ctx) != 1 ||
	    EVP_PKEY_verify(ctx, sig, sig_len, digest, digest_len) != 1)
		goto out;
	r = 0;
out:
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	return r;
}

int crypto_pk_ec_verify(enum crypto_pk_curve curve, const uint8_t *pub,
			size_t pub_len, const uint8_t *digest,
			size_t digest_len, enum crypto_pk_sig_format format,
			const uint8_t *sig, size_t sig_len)
{
	const struct curve_info *ci = curve_get(curve);
	uint8_t der[CRYPTO_PK_EC_SIG_MAX];
	size_t der_len = sizeof(der);

	if (!sig_args_ok(ci, digest, digest_len, format) || sig == NULL ||
	    sig_len == 0)
		return -1;
	if (ci->nid == NID_ED25519)
		return crypto_verify(CRYPTO_ED25519, pub, pub_len, digest,
				     digest_len, sig, sig_len);
	if (format == PK_SIG_DER)
		return ecdsa_verify(ci, pub, pub_len, digest, digest_len, sig,
				    sig_len);
	if (sig_len != 2 * ci->fs ||
	    ecdsa_raw_to_der(ci, sig, der, &der_len) != 0)
		return -1;
	return ecdsa_verify(ci, pub, pub_len, digest, digest_len, der,
			    der_len);
}

int crypto_pk_ecdh(enum crypto_pk_curve curve, const uint8_t *priv,
		   size_t priv_len, const uint8_t *peer, size_t peer_len,
		   uint8_t *z, size_t *z_len)
{
	const struct curve_info *ci = curve_get(curve);
	EVP_PKEY *mine = NULL, *theirs = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	size_t n;
	int r = -1;

	if (ci == NULL || ci->nid == NID_ED25519 || z == NULL ||
	    z_len == NULL || *z_len < ci->fs)
		goto out;
	n = *z_len;
	if ((mine = ec_pkey_priv(ci, priv, priv_len)) == NULL ||
	    (theirs = ec_pkey_pub(ci, peer, peer_len)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_from_pkey(NULL, mine, NULL)) == NULL)
		goto out;
	/* validate_peer = 1: an explicit on-curve check of the peer; X25519
	 * derivation fails by itself on an all-zero result. */
	if (EVP_PKEY_derive_init(ctx) != 1 ||
	    EVP_PKEY_derive_set_peer_ex(ctx, theirs, 1) != 1 ||
	    EVP_PKEY_derive(ctx, z, &n) != 1 || n != ci->fs)
		goto out;
	*z_len = n;
	r = 0;
out:
	if (r != 0 && ci != NULL && z != NULL && z_len != NULL &&
	    *z_len >= ci->fs)
		OPENSSL_cleanse(z, ci->fs);
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(theirs);
	EVP_PKEY_free(mine);
	return r;
}

/* ---- SubjectPublicKeyInfo ------------------------------------------ */

static int spki_encode(EVP_PKEY *pkey, uint8_t **der, size_t *der_len)
{
	unsigned char *buf = NULL, *p;
	int n;

	if (pkey == NULL || (n = i2d_PUBKEY(pkey, NULL)) <= 0 ||
	    (buf = OPENSSL_malloc((size_t)n)) == NULL)
		goto fail;
	p = buf;
	if (i2d_PUBKEY(pkey, &p) != n)
		goto fail;
	*der = malloc((size_t)n);
	if (*der == NULL)
		goto fail;
	memcpy(*der, buf, (size_t)n);
	*der_len = (size_t)n;
	OPENSSL_free(buf);
	EVP_PKEY_free(pkey);
	return 0;
fail:
	OPENSSL_free(buf);
	EVP_PKEY_free(pkey);
	return -1;
}

int crypto_rsa_spki(const uint8_t *n, size_t n_len, const uint8_t *e,
		    size_t e_len, uint8_t **der, size_t *der_len)
{
	if (der == NULL || der_len == NULL)
		return -1;
	return spki_encode(rsa_pkey_pub(n, n_len, e, e_len), der, der_len);
}

int crypto_pk_ec_spki(enum crypto_pk_curve curve, const uint8_t *pub,
		      size_t pub_len, uint8_t **der, size_t *der_len)
{
	const struct curve_info *ci = curve_get(curve);

	if (ci == NULL || der == NULL || der_len == NULL)
		return -1;
	return spki_encode(ec_pkey_pub(ci, pub, pub_len), der, der_len);
}
