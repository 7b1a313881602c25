/* A key with known content, made through the applets as clients would
 * (raw APDUs and CTAP2 CBOR), and checks that it still works: an OATH
 * account with a known secret (its code computed here, RFC 4226), a
 * changed OpenPGP PIN, a PIV P-256 key imported from known private bytes
 * (its signatures verified with OpenSSL), and a discoverable FIDO
 * credential (its assertions verified with OpenSSL, same credential ID).
 * For tests that include check_apdu.h and set key; names start kk_. */
#ifndef VKEY_TESTS_KNOWN_KEY_H
#define VKEY_TESTS_KNOWN_KEY_H

#include <stdint.h>
#include <string.h>

#include <cbor.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/obj_mac.h>
#include <openssl/param_build.h>

#include "../check_apdu.h"
#include "services/crypto.h"
#include "vkey/vkey.h"

#define KK_SW_OK 0x9000

static const uint8_t kk_oath_secret[20] = {
	0x6b, 0x6b, 0x0a, 0xe1, 0x9c, 0x27, 0x44, 0xd3, 0x8e, 0x15,
	0x02, 0xbb, 0x7a, 0x61, 0xf0, 0x93, 0x4c, 0xd8, 0x25, 0x3e,
};
static const char kk_oath_name[] = "known-account";
static const char kk_pgp_pin[] = "knownpin8642";
/* A P-256 private scalar (below the group order). */
static const uint8_t kk_piv_scalar[32] = {
	0x3a, 0x91, 0x5c, 0x07, 0xe2, 0x4d, 0xb8, 0x16, 0x70, 0xaf, 0x29,
	0xc3, 0x5e, 0x88, 0x0b, 0xf4, 0x61, 0x1d, 0x97, 0xca, 0x36, 0x02,
	0xe5, 0x7b, 0x48, 0x9f, 0xd0, 0x13, 0x6c, 0xa4, 0x5b, 0x21,
};
static const char kk_rp[] = "backup.example";
static const uint8_t kk_user_id[8] = { 'u', 's', 'e', 'r', '-', 'k', 'k',
				       '1' };

static const uint8_t kk_aid_oath[] = { 0xA0, 0x00, 0x00, 0x05, 0x27, 0x21,
				       0x01 };
static const uint8_t kk_aid_pgp[] = { 0xD2, 0x76, 0x00, 0x01, 0x24, 0x01 };
static const uint8_t kk_aid_piv[] = { 0xA0, 0x00, 0x00, 0x03, 0x08 };
static const uint8_t kk_mgmt_default[24] = {
	1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8,
};

/* What the FIDO credential made: its ID and public key (x, y). */
struct kk_cred {
	uint8_t id[256];
	size_t id_len;
	uint8_t pub[65]; /* 04 x y */
};

static inline unsigned kk_select(const uint8_t *aid, size_t n)
{
	return apdu_ex(0x00, 0xA4, 0x04, 0x00, aid, n, -1, 0);
}

/* --- OATH --------------------------------------------------------------- */

static inline unsigned kk_oath_put(void)
{
	struct data d = { .n = 0 };
	uint8_t k[22];

	k[0] = 0x21; /* TOTP, HMAC-SHA1 */
	k[1] = 6;
	memcpy(k + 2, kk_oath_secret, 20);
	d_tlv(&d, 0x71, kk_oath_name, strlen(kk_oath_name));
	d_tlv(&d, 0x73, k, sizeof(k));
	CHECK_EQ(kk_select(kk_aid_oath, sizeof(kk_aid_oath)), KK_SW_OK);
	return apdu_ex(0x00, 0x01, 0x00, 0x00, d.b, d.n, -1, 0);
}

/* The card's code for counter 1, or -SW. */
static inline long kk_oath_calc(void)
{
	static const uint8_t chal[8] = { 0, 0, 0, 0, 0, 0, 0, 1 };
	struct data d = { .n = 0 };
	unsigned sw;

	d_tlv(&d, 0x71, kk_oath_name, strlen(kk_oath_name));
	d_tlv(&d, 0x74, chal, sizeof(chal));
	CHECK_EQ(kk_select(kk_aid_oath, sizeof(kk_aid_oath)), KK_SW_OK);
	sw = apdu_ex(0x00, 0xA2, 0x00, 0x01, d.b, d.n, -1, 0);
	if (sw != KK_SW_OK || resp_len != 9)
		return -(long)sw;
	return (long)(((uint32_t)resp[3] << 24 | (uint32_t)resp[4] << 16 |
		       (uint32_t)resp[5] << 8 | resp[6]) % 1000000u);
}

/* RFC 4226 for counter 1, computed here. */
static inline long kk_oath_expected(void)
{
	static const uint8_t ctr[8] = { 0, 0, 0, 0, 0, 0, 0, 1 };
	uint8_t h[20];
	unsigned off;
	uint32_t v;

	CHECK_EQ(crypto_hmac(CRYPTO_SHA1, kk_oath_secret, 20, ctr, 8, h), 0);
	off = h[19] & 0x0f;
	v = ((uint32_t)h[off] & 0x7f) << 24 | (uint32_t)h[off + 1] << 16 |
	    (uint32_t)h[off + 2] << 8 | h[off + 3];
	return (long)(v % 1000000u);
}

/* --- OpenPGP ------------------------------------------------------------ */

static inline unsigned kk_pgp_change_pin(void)
{
	uint8_t b[64];
	size_t n = strlen(kk_pgp_pin);

	memcpy(b, "123456", 6);
	memcpy(b + 6, kk_pgp_pin, n);
	CHECK_EQ(kk_select(kk_aid_pgp, sizeof(kk_aid_pgp)), KK_SW_OK);
	return apdu_ex(0x00, 0x24, 0x00, 0x81, b, 6 + n, -1, 0);
}

static inline unsigned kk_pgp_verify(const char *pin)
{
	CHECK_EQ(kk_select(kk_aid_pgp, sizeof(kk_aid_pgp)), KK_SW_OK);
	return apdu_ex(0x00, 0x20, 0x00, 0x82, pin, strlen(pin), -1, 0);
}

/* --- PIV ------------------------------------------------------------------ */

/* The value of tag inside the 7C template of the last answer. */
static inline const uint8_t *kk_piv_dyn(unsigned tag, size_t *len)
{
	size_t l = 0;
	const uint8_t *v = resp_len > 2 ? tlv_find(resp, resp_len - 2, 0x7C,
						   &l)
					: NULL;

	return v != NULL ? tlv_find(v, l, tag, len) : NULL;
}

/* External authentication with the default 3DES management key. */
static inline unsigned kk_piv_admin(void)
{
	uint8_t in[4] = { 0x7C, 0x02, 0x81, 0x00 };
	uint8_t out[12] = { 0x7C, 0x0A, 0x82, 0x08 };
	const uint8_t *chal;
	size_t cl = 0;
	unsigned sw = apdu_ex(0x00, 0x87, 0x03, 0x9B, in, sizeof(in), 0, 0);

	if (sw != KK_SW_OK)
		return sw;
	chal = kk_piv_dyn(0x81, &cl);
	CHECK(chal != NULL && cl == 8);
	if (chal == NULL || cl != 8)
		return 0;
	CHECK_EQ(crypto_block_ecb(CRYPTO_BLOCK_3DES, 1, kk_mgmt_default, chal,
				  8, out + 4), 0);
	return apdu_ex(0x00, 0x87, 0x03, 0x9B, out, sizeof(out), -1, 0);
}

/* IMPORT KEY of the known P-256 scalar into 9A, PIN policy never. */
static inline unsigned kk_piv_import(void)
{
	struct data d = { .n = 0 };
	unsigned sw;

	CHECK_EQ(kk_select(kk_aid_piv, sizeof(kk_aid_piv)), KK_SW_OK);
	sw = kk_piv_admin();
	if (sw != KK_SW_OK)
		return sw;
	d_tlv(&d, 0x06, kk_piv_scalar, sizeof(kk_piv_scalar));
	d_tlv_u8(&d, 0xAA, 0x01);
	d_tlv_u8(&d, 0xAB, 0x01);
	return apdu_ex(0x00, 0xFE, 0x11, 0x9A, d.b, d.n, -1, 0);
}

/* The public key of a P-256 point (04 x y). */
static inline EVP_PKEY *kk_p256_pub(const uint8_t pt[65])
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *pkey = NULL;
	OSSL_PARAM params[3];

	params[0] = OSSL_PARAM_construct_utf8_string(
		OSSL_PKEY_PARAM_GROUP_NAME, (char *)"prime256v1", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
						      (void *)pt, 65);
	params[2] = OSSL_PARAM_construct_end();
	if (ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1)
		EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

/* The known scalar's public point, computed here. */
static inline void kk_piv_point(uint8_t pt[65])
{
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	EC_POINT *p = g != NULL ? EC_POINT_new(g) : NULL;
	BIGNUM *bn = BN_bin2bn(kk_piv_scalar, 32, NULL);

	CHECK(p != NULL && bn != NULL &&
	      EC_POINT_mul(g, p, bn, NULL, NULL, NULL) == 1 &&
	      EC_POINT_point2oct(g, p, POINT_CONVERSION_UNCOMPRESSED, pt, 65,
				 NULL) == 65);
	BN_clear_free(bn);
	EC_POINT_free(p);
	EC_GROUP_free(g);
}

/* A DER ECDSA signature over digest by pub. */
static inline int kk_ecdsa_ok(EVP_PKEY *pub, const uint8_t *digest,
			      const uint8_t *sig, size_t sig_len)
{
	EVP_PKEY_CTX *c = pub != NULL ? EVP_PKEY_CTX_new(pub, NULL) : NULL;
	int ok = c != NULL && EVP_PKEY_verify_init(c) == 1 &&
		 EVP_PKEY_verify(c, sig, sig_len, digest, 32) == 1;

	EVP_PKEY_CTX_free(c);
	return ok;
}

/* GENERAL AUTHENTICATE with 9A over a fresh digest, verified against
 * the known key's public point. 1 when the signature verifies. */
static inline int kk_piv_signs(void)
{
	uint8_t digest[32], pt[65];
	struct data in = { .n = 0 }, d = { .n = 0 };
	const uint8_t *sig;
	size_t sl = 0;
	EVP_PKEY *pub;
	int ok;

	CHECK_EQ(crypto_random(digest, sizeof(digest)), 0);
	d_tlv(&in, 0x82, NULL, 0);
	d_tlv(&in, 0x81, digest, sizeof(digest));
	d_tlv(&d, 0x7C, in.b, in.n);
	CHECK_EQ(kk_select(kk_aid_piv, sizeof(kk_aid_piv)), KK_SW_OK);
	if (apdu_ex(0x00, 0x87, 0x11, 0x9A, d.b, d.n, 0, 0) != KK_SW_OK)
		return 0;
	sig = kk_piv_dyn(0x82, &sl);
	if (sig == NULL)
		return 0;
	kk_piv_point(pt);
	pub = kk_p256_pub(pt);
	ok = kk_ecdsa_ok(pub, digest, sig, sl);
	EVP_PKEY_free(pub);
	return ok;
}

/* --- FIDO (CTAP2 over vkey_ctap_cbor) ---------------------------------- */

static uint8_t kk_ctap_buf[8192];

/* Sends command cmd with params (consumed); the answer's CBOR map in
 * *out (NULL on error). Returns the CTAP status. */
static inline uint8_t kk_ctap(uint8_t cmd, cbor_item_t *params,
			      cbor_item_t **out)
{
	static uint8_t req[4096];
	struct cbor_load_result lr;
	size_t n = cbor_serialize(params, req + 1, sizeof(req) - 1), rl;

	cbor_decref(&params);
	*out = NULL;
	CHECK(n > 0);
	req[0] = cmd;
	rl = vkey_ctap_cbor(key, req, n + 1, kk_ctap_buf, sizeof(kk_ctap_buf),
			    NULL, NULL);
	CHECK(rl >= 1);
	if (rl > 1 && kk_ctap_buf[0] == 0)
		*out = cbor_load(kk_ctap_buf + 1, rl - 1, &lr);
	return kk_ctap_buf[0];
}

static inline void kk_put(cbor_item_t *m, cbor_item_t *k, cbor_item_t *v)
{
	CHECK(cbor_map_add(m, (struct cbor_pair){ cbor_move(k),
						  cbor_move(v) }));
}

static inline const cbor_item_t *kk_get(const cbor_item_t *m, int64_t k,
					const char *sk)
{
	struct cbor_pair *p = cbor_map_handle(m);

	for (size_t i = 0; m != NULL && i < cbor_map_size(m); i++) {
		const cbor_item_t *key_item = p[i].key;

		if (sk != NULL && cbor_isa_string(key_item) &&
		    cbor_string_length(key_item) == strlen(sk) &&
		    memcmp(cbor_string_handle(key_item), sk, strlen(sk)) == 0)
			return p[i].value;
		if (sk == NULL && cbor_isa_uint(key_item) && k >= 0 &&
		    cbor_get_int(key_item) == (uint64_t)k)
			return p[i].value;
		if (sk == NULL && cbor_isa_negint(key_item) && k < 0 &&
		    cbor_get_int(key_item) == (uint64_t)(-1 - k))
			return p[i].value;
	}
	return NULL;
}

static inline cbor_item_t *kk_cdh(uint8_t cdh[32])
{
	CHECK_EQ(crypto_random(cdh, 32), 0);
	return cbor_build_bytestring(cdh, 32);
}

/* makeCredential: a discoverable ES256 credential for kk_rp. */
static inline uint8_t kk_fido_make(struct kk_cred *c)
{
	cbor_item_t *m = cbor_new_definite_map(5), *rp = cbor_new_definite_map(1);
	cbor_item_t *user = cbor_new_definite_map(2);
	cbor_item_t *params = cbor_new_definite_array(1);
	cbor_item_t *alg = cbor_new_definite_map(2), *opt = cbor_new_definite_map(1);
	cbor_item_t *r = NULL;
	const cbor_item_t *ad, *cose, *x, *y;
	struct cbor_load_result lr;
	uint8_t cdh[32], st;
	const uint8_t *a;
	size_t an, off;

	kk_put(rp, cbor_build_string("id"), cbor_build_string(kk_rp));
	kk_put(user, cbor_build_string("id"),
	       cbor_build_bytestring(kk_user_id, sizeof(kk_user_id)));
	kk_put(user, cbor_build_string("name"), cbor_build_string("kk"));
	kk_put(alg, cbor_build_string("alg"), cbor_build_negint8(6));
	kk_put(alg, cbor_build_string("type"), cbor_build_string("public-key"));
	CHECK(cbor_array_push(params, cbor_move(alg)));
	kk_put(opt, cbor_build_string("rk"), cbor_build_bool(true));
	kk_put(m, cbor_build_uint8(1), kk_cdh(cdh));
	kk_put(m, cbor_build_uint8(2), rp);
	kk_put(m, cbor_build_uint8(3), user);
	kk_put(m, cbor_build_uint8(4), params);
	kk_put(m, cbor_build_uint8(7), opt);
	st = kk_ctap(0x01, m, &r);
	if (st != 0)
		return st;
	ad = kk_get(r, 2, NULL);
	CHECK(ad != NULL && cbor_isa_bytestring(ad));
	a = cbor_bytestring_handle(ad);
	an = cbor_bytestring_length(ad);
	CHECK(an > 55);
	c->id_len = (size_t)a[53] << 8 | a[54];
	CHECK(c->id_len <= sizeof(c->id) && 55 + c->id_len < an);
	memcpy(c->id, a + 55, c->id_len);
	off = 55 + c->id_len;
	cose = cbor_load(a + off, an - off, &lr);
	x = kk_get(cose, -2, NULL);
	y = kk_get(cose, -3, NULL);
	CHECK(x != NULL && y != NULL && cbor_bytestring_length(x) == 32 &&
	      cbor_bytestring_length(y) == 32);
	c->pub[0] = 0x04;
	memcpy(c->pub + 1, cbor_bytestring_handle(x), 32);
	memcpy(c->pub + 33, cbor_bytestring_handle(y), 32);
	cbor_decref((cbor_item_t **)&cose);
	cbor_decref(&r);
	return 0;
}

/* getAssertion for kk_rp with no allow list (the discoverable
 * credential): 1 when it names c and its signature over authData ||
 * clientDataHash verifies with c's public key. */
static inline int kk_fido_asserts(const struct kk_cred *c)
{
	cbor_item_t *m = cbor_new_definite_map(2), *r = NULL;
	const cbor_item_t *cred, *id, *ad, *sig;
	uint8_t cdh[32], digest[32], *tbs;
	size_t an;
	EVP_PKEY *pub;
	int ok;

	kk_put(m, cbor_build_uint8(1), cbor_build_string(kk_rp));
	kk_put(m, cbor_build_uint8(2), kk_cdh(cdh));
	if (kk_ctap(0x02, m, &r) != 0)
		return 0;
	cred = kk_get(r, 1, NULL);
	id = cred != NULL ? kk_get(cred, 0, "id") : NULL;
	ad = kk_get(r, 2, NULL);
	sig = kk_get(r, 3, NULL);
	ok = id != NULL && ad != NULL && sig != NULL &&
	     cbor_bytestring_length(id) == c->id_len &&
	     memcmp(cbor_bytestring_handle(id), c->id, c->id_len) == 0;
	if (ok) {
		an = cbor_bytestring_length(ad);
		tbs = malloc(an + 32);
		memcpy(tbs, cbor_bytestring_handle(ad), an);
		memcpy(tbs + an, cdh, 32);
		CHECK_EQ(crypto_digest(CRYPTO_SHA256, tbs, an + 32, digest), 0);
		free(tbs);
		pub = kk_p256_pub(c->pub);
		ok = kk_ecdsa_ok(pub, digest, cbor_bytestring_handle(sig),
				 cbor_bytestring_length(sig));
		EVP_PKEY_free(pub);
	}
	cbor_decref(&r);
	return ok;
}

/* --- the whole key -------------------------------------------------------- */

/* Puts the known content into key (user presence auto). */
static inline void kk_build(struct kk_cred *c)
{
	CHECK_EQ(kk_oath_put(), KK_SW_OK);
	CHECK_EQ(kk_pgp_change_pin(), KK_SW_OK);
	CHECK_EQ(kk_piv_import(), KK_SW_OK);
	CHECK_EQ(kk_fido_make(c), 0);
}

/* Every known piece works. */
static inline void kk_works(const struct kk_cred *c)
{
	CHECK_EQ(kk_oath_calc(), kk_oath_expected());
	CHECK_EQ(kk_pgp_verify(kk_pgp_pin), KK_SW_OK);
	CHECK(kk_piv_signs());
	CHECK(kk_fido_asserts(c));
}

#endif
