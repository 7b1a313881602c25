/* The OpenPGP card 3.4 applet driven through vkey_open() + vkey_apdu()
 * with raw APDUs, as GnuPG and OpenSC send them. Every signature,
 * decryption and key agreement is checked independently with OpenSSL;
 * docs/OPENPGP.md and the specification are the reference. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "../check_apdu.h"
#include "../check_ossl.h"
#include "../check_key.h"
#include "vkey/vkey.h"

#define SW_OK 0x9000
/* What a use of a key answers when its UIF asks for a touch and the
 * user-presence policy refuses (not fixed by the specification). */
#define SW_UIF_DENIED 0x6985

static struct check_key tk;

static const uint8_t pgp_aid6[] = { 0xD2, 0x76, 0x00, 0x01, 0x24, 0x01 };
static const char pw1_default[] = "123456";
static const char pw3_default[] = "12345678";

/* --- harness ------------------------------------------------------------ */

static void begin_up(enum vkey_up_policy up)
{
	key = check_key_begin(&tk, "pgp", up);
}

static void end(void)
{
	check_key_end(&tk);
	key = NULL;
}

static void reopen(enum vkey_up_policy up)
{
	key = check_key_reopen(&tk, up);
}

/* Instructions that answer with data get Le. */
static int wants_le(uint8_t ins)
{
	switch (ins) {
	case 0xA4: case 0xCA: case 0xCC: case 0x47: case 0x2A: case 0x88:
	case 0x84:
		return 1;
	default:
		return 0;
	}
}

/* The usual command: CLA 00, Le when the INS answers data (extended
 * 0000 with an extended Lc, else short 00), then GET RESPONSE. */
static unsigned cmd(uint8_t ins, uint8_t p1, uint8_t p2, const void *data,
		    size_t lc)
{
	long le = wants_le(ins) ? 0 : -1;
	return collect(apdu_ex(0x00, ins, p1, p2, data, lc, le, 0));
}

/* Number of TLVs in p[0..n), -1 when malformed. */
static int tlv_count(const uint8_t *p, size_t n)
{
	size_t off = 0;
	int count = 0;

	while (off < n) {
		unsigned t = p[off++];
		size_t l;
		if ((t & 0x1F) == 0x1F)
			off++;
		if (off >= n)
			return -1;
		l = p[off++];
		if (l == 0x81) {
			if (off >= n)
				return -1;
			l = p[off++];
		} else if (l == 0x82) {
			if (off + 1 >= n)
				return -1;
			l = (size_t)p[off] << 8 | p[off + 1];
			off += 2;
		}
		if (l > n - off)
			return -1;
		off += l;
		count++;
	}
	return count;
}

/* --- OpenPGP commands ----------------------------------------------------- */

static unsigned select_pgp(void)
{
	return cmd(0xA4, 0x04, 0x00, pgp_aid6, sizeof(pgp_aid6));
}

static void begin(void)
{
	begin_up(VKEY_UP_AUTO);
	CHECK_EQ(select_pgp(), SW_OK);
}

static unsigned verify(uint8_t ref, const char *pin)
{
	return cmd(0x20, 0x00, ref, pin, pin ? strlen(pin) : 0);
}

static unsigned verify_bin(uint8_t ref, const uint8_t *pin, size_t n)
{
	return cmd(0x20, 0x00, ref, pin, n);
}

static void admin(void)
{
	CHECK_EQ(verify(0x83, pw3_default), SW_OK);
}

static unsigned get_data(unsigned tag)
{
	return cmd(0xCA, (uint8_t)(tag >> 8), (uint8_t)tag, NULL, 0);
}

static unsigned put_data(unsigned tag, const void *v, size_t n)
{
	return cmd(0xDA, (uint8_t)(tag >> 8), (uint8_t)tag, v, n);
}

/* GET DATA of a constructed DO: the card may answer the DO with its tag
 * (as most cards do) or only its content; give the content. */
static const uint8_t *get_constructed(unsigned tag, size_t *len)
{
	size_t l;
	const uint8_t *v;

	if (get_data(tag) != SW_OK) {
		*len = 0;
		return NULL;
	}
	v = tlv_find(all, all_len, tag, &l);
	if (v != NULL && tlv_count(all, all_len) == 1) {
		*len = l;
		return v;
	}
	*len = all_len;
	return all;
}

/* Copy of the 6E content (all[] is overwritten by the next command). */
static uint8_t app_data[4096];
static size_t app_data_len;

static int read_app_data(void)
{
	size_t l;
	const uint8_t *v = get_constructed(0x6E, &l);

	if (v == NULL || l > sizeof(app_data))
		return -1;
	memmove(app_data, v, l);
	app_data_len = l;
	return 0;
}

/* A DO inside 6E's discretionary data 73. */
static const uint8_t *app_do(unsigned tag, size_t *len)
{
	size_t l73;
	const uint8_t *d73 = tlv_find(app_data, app_data_len, 0x73, &l73);

	if (d73 == NULL)
		return NULL;
	return tlv_find(d73, l73, tag, len);
}

/* The 7 PW status bytes (C4). */
static void pw_status(uint8_t out[7])
{
	memset(out, 0xEE, 7);
	CHECK_EQ(get_data(0xC4), SW_OK);
	CHECK_EQ(all_len, 7);
	if (all_len == 7)
		memcpy(out, all, 7);
}

static uint32_t sig_counter(void)
{
	size_t l = 0;
	const uint8_t *v = get_constructed(0x7A, &l);
	const uint8_t *c;
	size_t cl = 0;

	CHECK(v != NULL);
	if (v == NULL)
		return 0xFFFFFFFF;
	c = tlv_find(v, l, 0x93, &cl);
	CHECK(c != NULL && cl == 3);
	if (c == NULL || cl != 3)
		return 0xFFFFFFFF;
	return (uint32_t)c[0] << 16 | (uint32_t)c[1] << 8 | c[2];
}

/* DE key information: status of key 1..3. */
static int key_status(int keyno)
{
	CHECK_EQ(get_data(0xDE), SW_OK);
	for (size_t i = 0; i + 1 < all_len; i += 2)
		if (all[i] == keyno)
			return all[i + 1];
	return -1;
}

static const uint8_t crt_tag[4] = { 0, 0xB6, 0xB8, 0xA4 };
static const unsigned attr_tag[4] = { 0, 0xC1, 0xC2, 0xC3 };

static unsigned set_attr(int keyno, const uint8_t *attr, size_t n)
{
	return put_data(attr_tag[keyno], attr, n);
}

static unsigned set_rsa_attr(int keyno, unsigned bits, uint8_t fmt)
{
	uint8_t a[6] = { 0x01, (uint8_t)(bits >> 8), (uint8_t)bits, 0x00,
			 0x20, fmt };
	return set_attr(keyno, a, sizeof(a));
}

/* Public key of the last GENERATE / read answer (7F49). */
struct pub {
	uint8_t n[512];
	size_t n_len;
	uint8_t e[8];
	size_t e_len;
	uint8_t point[160];
	size_t point_len;
};

static int parse_pub(struct pub *pk)
{
	size_t l, vl;
	const uint8_t *t = tlv_find(all, all_len, 0x7F49, &l);
	const uint8_t *v;

	memset(pk, 0, sizeof(*pk));
	if (t == NULL)
		return -1;
	if ((v = tlv_find(t, l, 0x81, &vl)) != NULL && vl <= sizeof(pk->n)) {
		memcpy(pk->n, v, vl);
		pk->n_len = vl;
		v = tlv_find(t, l, 0x82, &vl);
		if (v == NULL || vl > sizeof(pk->e))
			return -1;
		memcpy(pk->e, v, vl);
		pk->e_len = vl;
		return 0;
	}
	if ((v = tlv_find(t, l, 0x86, &vl)) != NULL &&
	    vl <= sizeof(pk->point)) {
		memcpy(pk->point, v, vl);
		pk->point_len = vl;
		return 0;
	}
	return -1;
}

static unsigned generate(int keyno, struct pub *pk)
{
	uint8_t crt[2] = { crt_tag[keyno], 0x00 };
	unsigned sw = cmd(0x47, 0x80, 0x00, crt, 2);

	if (sw == SW_OK && pk != NULL)
		CHECK_EQ(parse_pub(pk), 0);
	return sw;
}

static unsigned read_pub(int keyno, struct pub *pk)
{
	uint8_t crt[2] = { crt_tag[keyno], 0x00 };
	unsigned sw = cmd(0x47, 0x81, 0x00, crt, 2);

	if (sw == SW_OK && pk != NULL)
		CHECK_EQ(parse_pub(pk), 0);
	return sw;
}

static unsigned pso_sign(const void *in, size_t n)
{
	return cmd(0x2A, 0x9E, 0x9A, in, n);
}

static unsigned pso_decipher(const void *in, size_t n)
{
	return cmd(0x2A, 0x80, 0x86, in, n);
}

static unsigned internal_auth(const void *in, size_t n)
{
	return cmd(0x88, 0x00, 0x00, in, n);
}

static unsigned terminate_df(void)
{
	return cmd(0xE6, 0x00, 0x00, NULL, 0);
}

static unsigned activate_file(void)
{
	return cmd(0x44, 0x00, 0x00, NULL, 0);
}

/* --- OpenSSL side ----------------------------------------------------------- */

struct curve {
	const char *name;   /* for messages */
	const char *ossl;   /* OpenSSL group or key type */
	uint8_t oid[10];
	size_t oid_len;
	size_t field;
	enum { WEIER, ED25519, X25519 } kind;
};

static const struct curve curves[] = {
	{ "P-256", "prime256v1",
	  { 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07 }, 8, 32, WEIER },
	{ "P-384", "secp384r1", { 0x2B, 0x81, 0x04, 0x00, 0x22 }, 5, 48,
	  WEIER },
	{ "P-521", "secp521r1", { 0x2B, 0x81, 0x04, 0x00, 0x23 }, 5, 66,
	  WEIER },
	{ "brainpoolP256r1", "brainpoolP256r1",
	  { 0x2B, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x07 }, 9, 32,
	  WEIER },
	{ "brainpoolP384r1", "brainpoolP384r1",
	  { 0x2B, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0B }, 9, 48,
	  WEIER },
	{ "brainpoolP512r1", "brainpoolP512r1",
	  { 0x2B, 0x24, 0x03, 0x03, 0x02, 0x08, 0x01, 0x01, 0x0D }, 9, 64,
	  WEIER },
	{ "secp256k1", "secp256k1", { 0x2B, 0x81, 0x04, 0x00, 0x0A }, 5, 32,
	  WEIER },
	{ "Ed25519", "ED25519",
	  { 0x2B, 0x06, 0x01, 0x04, 0x01, 0xDA, 0x47, 0x0F, 0x01 }, 9, 32,
	  ED25519 },
	{ "X25519", "X25519",
	  { 0x2B, 0x06, 0x01, 0x04, 0x01, 0x97, 0x55, 0x01, 0x05, 0x01 }, 10,
	  32, X25519 },
};
#define N_CURVES (sizeof(curves) / sizeof(curves[0]))

static unsigned set_ec_attr(int keyno, uint8_t alg, const struct curve *c)
{
	uint8_t a[16];

	a[0] = alg;
	memcpy(a + 1, c->oid, c->oid_len);
	return set_attr(keyno, a, 1 + c->oid_len);
}

/* The attribute a curve takes in a slot: ECDSA/EdDSA to sign and
 * authenticate, ECDH to decipher. */
static uint8_t ec_alg_for(int keyno, const struct curve *c)
{
	if (keyno == 2)
		return 0x12;
	return c->kind == ED25519 ? 0x16 : 0x13;
}

static EVP_PKEY *ec_pub_key(const struct curve *c, const uint8_t *pt,
			    size_t n)
{
	EVP_PKEY *pkey = NULL;

	if (c->kind == ED25519)
		return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, pt,
						   n);
	if (c->kind == X25519)
		return EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL, pt,
						   n);
	{
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC",
							       NULL);
		OSSL_PARAM params[3];
		params[0] = OSSL_PARAM_construct_utf8_string(
			OSSL_PKEY_PARAM_GROUP_NAME, (char *)c->ossl, 0);
		params[1] = OSSL_PARAM_construct_octet_string(
			OSSL_PKEY_PARAM_PUB_KEY, (void *)pt, n);
		params[2] = OSSL_PARAM_construct_end();
		if (ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1)
			EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY,
					  params);
		EVP_PKEY_CTX_free(ctx);
	}
	return pkey;
}

/* 1 when sig is the PKCS#1 v1.5 signature of tbs (a DigestInfo). */
static int rsa_verify(const struct pub *pk, const uint8_t *tbs, size_t n,
		      const uint8_t *sig, size_t sl)
{
	EVP_PKEY *k = rsa_pub_key(pk->n, pk->n_len, pk->e, pk->e_len);
	EVP_PKEY_CTX *ctx = k ? EVP_PKEY_CTX_new(k, NULL) : NULL;
	int ok = ctx != NULL && EVP_PKEY_verify_init(ctx) == 1 &&
		 EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
		 EVP_PKEY_verify(ctx, sig, sl, tbs, n) == 1;

	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(k);
	return ok;
}

static size_t rsa_encrypt(const struct pub *pk, const uint8_t *msg,
			  size_t n, uint8_t *out, size_t cap)
{
	EVP_PKEY *k = rsa_pub_key(pk->n, pk->n_len, pk->e, pk->e_len);
	EVP_PKEY_CTX *ctx = k ? EVP_PKEY_CTX_new(k, NULL) : NULL;
	size_t ol = cap;

	if (ctx == NULL || EVP_PKEY_encrypt_init(ctx) != 1 ||
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) != 1 ||
	    EVP_PKEY_encrypt(ctx, out, &ol, msg, n) != 1)
		ol = 0;
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(k);
	return ol;
}

/* ECDSA r||s over hash, or Ed25519 over msg. */
static int ec_verify(const struct curve *c, const struct pub *pk,
		     const uint8_t *msg, size_t n, const uint8_t *sig,
		     size_t sl)
{
	EVP_PKEY *k = ec_pub_key(c, pk->point, pk->point_len);
	int ok = 0;

	if (k == NULL)
		return 0;
	if (c->kind == ED25519) {
		EVP_MD_CTX *m = EVP_MD_CTX_new();
		ok = m != NULL && sl == 64 &&
		     EVP_DigestVerifyInit(m, NULL, NULL, NULL, k) == 1 &&
		     EVP_DigestVerify(m, sig, sl, msg, n) == 1;
		EVP_MD_CTX_free(m);
	} else if (sl == 2 * c->field) {
		ECDSA_SIG *es = ECDSA_SIG_new();
		BIGNUM *r = BN_bin2bn(sig, (int)c->field, NULL);
		BIGNUM *s = BN_bin2bn(sig + c->field, (int)c->field, NULL);
		unsigned char *der = NULL;
		int dl;
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k, NULL);

		if (es != NULL && r != NULL && s != NULL &&
		    ECDSA_SIG_set0(es, r, s) == 1) {
			r = s = NULL;
			dl = i2d_ECDSA_SIG(es, &der);
			ok = dl > 0 && ctx != NULL &&
			     EVP_PKEY_verify_init(ctx) == 1 &&
			     EVP_PKEY_verify(ctx, der, (size_t)dl, msg, n) ==
				     1;
		}
		BN_free(r);
		BN_free(s);
		OPENSSL_free(der);
		ECDSA_SIG_free(es);
		EVP_PKEY_CTX_free(ctx);
	}
	EVP_PKEY_free(k);
	return ok;
}

static EVP_PKEY *keygen_ec(const struct curve *c)
{
	if (c->kind == WEIER)
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", c->ossl);
	return EVP_PKEY_Q_keygen(NULL, NULL, c->ossl);
}

/* Public key as the card encodes it: 04||X||Y or the 32 raw bytes. */
static size_t ec_public_bytes(const struct curve *c, EVP_PKEY *k,
			      uint8_t *out, size_t cap)
{
	size_t n = cap;

	if (c->kind != WEIER)
		return EVP_PKEY_get_raw_public_key(k, out, &n) == 1 ? n : 0;
	return EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, out,
					       cap, &n) == 1
		       ? n
		       : 0;
}

/* Private scalar, big-endian, exactly the field size (or raw 32 bytes). */
static size_t ec_private_bytes(const struct curve *c, EVP_PKEY *k,
			       uint8_t *out, size_t cap)
{
	size_t n = cap;
	BIGNUM *d = NULL;

	if (c->kind != WEIER)
		return EVP_PKEY_get_raw_private_key(k, out, &n) == 1 ? n : 0;
	if (EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1)
		return 0;
	n = BN_bn2binpad(d, out, (int)c->field) > 0 ? c->field : 0;
	BN_clear_free(d);
	return n;
}

/* Shared secret of our key k and the card's public point. */
static size_t ecdh_derive(const struct curve *c, EVP_PKEY *k,
			  const struct pub *card, uint8_t *out, size_t cap)
{
	EVP_PKEY *peer = ec_pub_key(c, card->point, card->point_len);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(k, NULL);
	size_t n = cap;

	if (peer == NULL || ctx == NULL || EVP_PKEY_derive_init(ctx) != 1 ||
	    EVP_PKEY_derive_set_peer(ctx, peer) != 1 ||
	    EVP_PKEY_derive(ctx, out, &n) != 1)
		n = 0;
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(peer);
	return n;
}

static void sha(const char *md, const void *in, size_t n, uint8_t *out,
		size_t *out_len)
{
	unsigned int l = 0;
	CHECK(EVP_Digest(in, n, out, &l, EVP_get_digestbyname(md), NULL) ==
	      1);
	*out_len = l;
}

/* DigestInfo of SHA-256(msg) as GnuPG sends it for PSO:CDS. */
static size_t digest_info_sha256(const char *msg, uint8_t out[51])
{
	static const uint8_t prefix[19] = { 0x30, 0x31, 0x30, 0x0d, 0x06,
					    0x09, 0x60, 0x86, 0x48, 0x01,
					    0x65, 0x03, 0x04, 0x02, 0x01,
					    0x05, 0x00, 0x04, 0x20 };
	size_t l;

	memcpy(out, prefix, sizeof(prefix));
	sha("SHA256", msg, strlen(msg), out + 19, &l);
	return 51;
}

/* RSA key parts for import. */
struct rsa_parts {
	uint8_t n[512], e[4], p[256], q[256], dp[256], dq[256], qinv[256];
	size_t n_len, e_len, p_len, q_len, dp_len, dq_len, qinv_len;
};

static size_t bn_param(EVP_PKEY *k, const char *name, uint8_t *out,
		       size_t cap)
{
	BIGNUM *b = NULL;
	int n;

	if (EVP_PKEY_get_bn_param(k, name, &b) != 1)
		return 0;
	n = BN_num_bytes(b);
	if ((size_t)n > cap)
		n = 0;
	else
		BN_bn2bin(b, out);
	BN_clear_free(b);
	return (size_t)n;
}

static EVP_PKEY *rsa_keygen(unsigned bits, struct rsa_parts *r)
{
	EVP_PKEY *k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);

	memset(r, 0, sizeof(*r));
	if (k == NULL)
		return NULL;
	r->n_len = bn_param(k, OSSL_PKEY_PARAM_RSA_N, r->n, sizeof(r->n));
	/* e padded to the 32 bits the attributes announce, as GnuPG does */
	r->e_len = 4;
	{
		uint8_t e[8];
		size_t el = bn_param(k, OSSL_PKEY_PARAM_RSA_E, e, sizeof(e));
		if (el == 0 || el > 4)
			abort();
		memcpy(r->e + 4 - el, e, el);
	}
	r->p_len = bn_param(k, OSSL_PKEY_PARAM_RSA_FACTOR1, r->p, 256);
	r->q_len = bn_param(k, OSSL_PKEY_PARAM_RSA_FACTOR2, r->q, 256);
	r->dp_len = bn_param(k, OSSL_PKEY_PARAM_RSA_EXPONENT1, r->dp, 256);
	r->dq_len = bn_param(k, OSSL_PKEY_PARAM_RSA_EXPONENT2, r->dq, 256);
	r->qinv_len =
		bn_param(k, OSSL_PKEY_PARAM_RSA_COEFFICIENT1, r->qinv, 256);
	return k;
}

/* --- key import templates ----------------------------------------------- */

struct comp {
	uint8_t tag;
	const uint8_t *v;
	size_t n;
};

/* 4D { CRT-tag 00, 7F48 { tag len ... }, 5F48 { values } } */
static void build_import(struct data *d, int keyno, const struct comp *c,
			 size_t nc)
{
	struct data hdr = { .n = 0 }, vals = { .n = 0 }, body = { .n = 0 };

	for (size_t i = 0; i < nc; i++) {
		d_u8(&hdr, c[i].tag);
		d_len(&hdr, c[i].n);
		d_raw(&vals, c[i].v, c[i].n);
	}
	d_u8(&body, crt_tag[keyno]);
	d_u8(&body, 0x00);
	d_tlv(&body, 0x7F48, hdr.b, hdr.n);
	d_tlv(&body, 0x5F48, vals.b, vals.n);
	d->n = 0;
	d_tlv(d, 0x4D, body.b, body.n);
}

static void build_rsa_import(struct data *d, int keyno,
			     const struct rsa_parts *r, uint8_t fmt)
{
	struct comp c[8];
	size_t nc = 0;

	c[nc++] = (struct comp){ 0x91, r->e, r->e_len };
	c[nc++] = (struct comp){ 0x92, r->p, r->p_len };
	c[nc++] = (struct comp){ 0x93, r->q, r->q_len };
	if (fmt == 2 || fmt == 3) {
		c[nc++] = (struct comp){ 0x94, r->qinv, r->qinv_len };
		c[nc++] = (struct comp){ 0x95, r->dp, r->dp_len };
		c[nc++] = (struct comp){ 0x96, r->dq, r->dq_len };
	}
	if (fmt == 1 || fmt == 3)
		c[nc++] = (struct comp){ 0x97, r->n, r->n_len };
	build_import(d, keyno, c, nc);
}

static unsigned import_key(const struct data *d)
{
	return cmd(0xDB, 0x3F, 0xFF, d->b, d->n);
}

/* --- identity and data objects ---------------------------------------------- */

static void expected_aid(uint8_t aid[16])
{
	uint32_t s = vkey_serial(key);
	static const uint8_t head[10] = { 0xD2, 0x76, 0x00, 0x01, 0x24, 0x01,
					  0x03, 0x04, 0xFF, 0x00 };
	memcpy(aid, head, 10);
	aid[10] = (uint8_t)(s >> 24);
	aid[11] = (uint8_t)(s >> 16);
	aid[12] = (uint8_t)(s >> 8);
	aid[13] = (uint8_t)s;
	aid[14] = 0;
	aid[15] = 0;
}

static void select_answers_fci_with_full_aid(void)
{
	uint8_t aid[16];
	size_t l = 0, al = 0;
	const uint8_t *fci, *v;

	begin_up(VKEY_UP_AUTO);
	expected_aid(aid);
	CHECK_EQ(select_pgp(), SW_OK);
	fci = tlv_find(all, all_len, 0x6F, &l);
	CHECK(fci != NULL);
	if (fci != NULL) {
		v = tlv_find(fci, l, 0x84, &al);
		CHECK(v != NULL && al == 16);
		if (v != NULL && al == 16)
			CHECK_MEM(v, aid, 16);
	}
	/* P2 = 0C: no answer data */
	CHECK_EQ(cmd(0xA4, 0x04, 0x0C, pgp_aid6, sizeof(pgp_aid6)), SW_OK);
	CHECK_EQ(all_len, 0);
	/* the full 16-byte AID selects as well */
	CHECK_EQ(cmd(0xA4, 0x04, 0x00, aid, 16), SW_OK);
	/* 4F is the same AID */
	CHECK_EQ(get_data(0x4F), SW_OK);
	CHECK_EQ(all_len, 16);
	CHECK_MEM(all, aid, 16);
	end();
}

static void get_data_6e_matches_factory_table(void)
{
	static const uint8_t hist[] = { 0x00, 0x73, 0x00, 0x00,
					0xE0, 0x05, 0x90, 0x00 };
	static const uint8_t extlen[] = { 0x02, 0x02, 0x08, 0x00,
					  0x02, 0x02, 0x08, 0x00 };
	static const uint8_t extcap[] = { 0x7F, 0x00, 0x08, 0x00, 0x08,
					  0x00, 0x00, 0xFF, 0x00, 0x00 };
	static const uint8_t rsa2048[] = { 0x01, 0x08, 0x00, 0x00, 0x20, 0x00 };
	static const uint8_t pws[] = { 0x01, 0x7F, 0x7F, 0x7F, 0x03, 0x00, 0x03 };
	static const uint8_t keyinfo[] = { 0x01, 0x00, 0x02, 0x00, 0x03, 0x00 };
	static const uint8_t uif[] = { 0x00, 0x20 };
	static const uint8_t zero[60] = { 0 };
	uint8_t aid[16];
	size_t l = 0;
	const uint8_t *v;

	begin();
	expected_aid(aid);
	CHECK_EQ(read_app_data(), 0);
	v = tlv_find(app_data, app_data_len, 0x4F, &l);
	CHECK(v != NULL && l == 16 && memcmp(v, aid, 16) == 0);
	v = tlv_find(app_data, app_data_len, 0x5F52, &l);
	CHECK(v != NULL && l == sizeof(hist) && memcmp(v, hist, l) == 0);
	v = tlv_find(app_data, app_data_len, 0x7F66, &l);
	CHECK(v != NULL && l == sizeof(extlen) && memcmp(v, extlen, l) == 0);
	/* 7F74 is optional in 6E; when present it says "button" */
	v = tlv_find(app_data, app_data_len, 0x7F74, &l);
	if (v != NULL)
		CHECK(l == 3 && v[0] == 0x81 && v[1] == 0x01 && v[2] == 0x20);
	CHECK(tlv_find(app_data, app_data_len, 0x73, &l) != NULL);
	v = app_do(0xC0, &l);
	CHECK(v != NULL && l == sizeof(extcap) && memcmp(v, extcap, l) == 0);
	for (unsigned t = 0xC1; t <= 0xC3; t++) {
		v = app_do(t, &l);
		CHECK(v != NULL && l == sizeof(rsa2048) &&
		      memcmp(v, rsa2048, l) == 0);
	}
	v = app_do(0xC4, &l);
	CHECK(v != NULL && l == 7 && memcmp(v, pws, 7) == 0);
	v = app_do(0xC5, &l);
	CHECK(v != NULL && l == 60 && memcmp(v, zero, 60) == 0);
	v = app_do(0xC6, &l);
	CHECK(v != NULL && l == 60 && memcmp(v, zero, 60) == 0);
	v = app_do(0xCD, &l);
	CHECK(v != NULL && l == 12 && memcmp(v, zero, 12) == 0);
	v = app_do(0xDE, &l);
	CHECK(v != NULL && l == 6 && memcmp(v, keyinfo, 6) == 0);
	for (unsigned t = 0xD6; t <= 0xD8; t++) {
		v = app_do(t, &l);
		CHECK(v != NULL && l == 2 && memcmp(v, uif, 2) == 0);
	}
	end();
}

static void get_data_simple_dos_match_docs(void)
{
	static const uint8_t hist[] = { 0x00, 0x73, 0x00, 0x00,
					0xE0, 0x05, 0x90, 0x00 };
	static const uint8_t extlen[] = { 0x02, 0x02, 0x08, 0x00,
					  0x02, 0x02, 0x08, 0x00 };
	static const uint8_t feat[] = { 0x81, 0x01, 0x20 };
	static const uint8_t pws[] = { 0x01, 0x7F, 0x7F, 0x7F, 0x03, 0x00, 0x03 };
	static const uint8_t keyinfo[] = { 0x01, 0x00, 0x02, 0x00, 0x03, 0x00 };
	static const uint8_t kdf_none[] = { 0x81, 0x01, 0x00 };
	size_t l = 0, vl = 0;
	const uint8_t *v, *x;

	begin();
	CHECK_EQ(get_data(0x5F52), SW_OK);
	CHECK(all_len == sizeof(hist) && memcmp(all, hist, all_len) == 0);
	v = get_constructed(0x7F66, &l);
	CHECK(v != NULL && l == sizeof(extlen) && memcmp(v, extlen, l) == 0);
	v = get_constructed(0x7F74, &l);
	CHECK(v != NULL && l == sizeof(feat) && memcmp(v, feat, l) == 0);
	CHECK_EQ(get_data(0xC4), SW_OK);
	CHECK(all_len == 7 && memcmp(all, pws, 7) == 0);
	CHECK_EQ(get_data(0xDE), SW_OK);
	CHECK(all_len == 6 && memcmp(all, keyinfo, 6) == 0);
	CHECK_EQ(get_data(0xF9), SW_OK);
	/* with or without the F9 wrapper */
	x = tlv_find(all, all_len, 0xF9, &vl);
	if (x == NULL) {
		x = all;
		vl = all_len;
	}
	CHECK(vl == sizeof(kdf_none) && memcmp(x, kdf_none, vl) == 0);
	for (unsigned t = 0xD6; t <= 0xD8; t++) {
		CHECK_EQ(get_data(t), SW_OK);
		CHECK(all_len == 2 && all[0] == 0x00 && all[1] == 0x20);
	}
	CHECK_EQ(get_data(0x5E), SW_OK);
	CHECK_EQ(all_len, 0);
	CHECK_EQ(get_data(0x5F50), SW_OK);
	CHECK_EQ(all_len, 0);
	CHECK_EQ(sig_counter(), 0);
	/* 65: name and language empty, sex 39 */
	v = get_constructed(0x65, &l);
	CHECK(v != NULL);
	if (v != NULL) {
		CHECK(tlv_find(v, l, 0x5B, &vl) != NULL && vl == 0);
		CHECK(tlv_find(v, l, 0x5F2D, &vl) != NULL && vl == 0);
		x = tlv_find(v, l, 0x5F35, &vl);
		CHECK(x != NULL && vl == 1 && x[0] == 0x39);
	}
	/* private DOs 0101 and 0102 read empty without any PIN */
	CHECK_EQ(get_data(0x0101), SW_OK);
	CHECK_EQ(all_len, 0);
	CHECK_EQ(get_data(0x0102), SW_OK);
	CHECK_EQ(all_len, 0);
	/* no certificate yet: empty */
	CHECK_EQ(get_data(0x7F21), SW_OK);
	CHECK_EQ(all_len, 0);
	/* a DO the card does not have */
	CHECK_EQ(get_data(0x0105), 0x6A88);
	CHECK_EQ(get_data(0x5F99), 0x6A88);
	end();
}

/* Does FA list attribute a under tag t? */
static int fa_has(const uint8_t *fa, size_t n, uint8_t t, const uint8_t *a,
		  size_t al)
{
	size_t off = 0;

	while (off + 2 <= n) {
		uint8_t tag = fa[off];
		size_t l = fa[off + 1];
		if (l > n - off - 2)
			return 0;
		/* RSA entries carry a format byte; EC ones may end in FF */
		if (tag == t && l >= al && memcmp(fa + off + 2, a, al) == 0 &&
		    (a[0] == 0x01 || l == al ||
		     (l == al + 1 && fa[off + 2 + al] == 0xFF)))
			return 1;
		off += 2 + l;
	}
	return 0;
}

static void get_data_fa_lists_every_algorithm(void)
{
	size_t l = 0;
	const uint8_t *fa;
	static uint8_t copy[2048];

	begin();
	fa = get_constructed(0xFA, &l);
	CHECK(fa != NULL && l > 0 && l <= sizeof(copy));
	if (fa == NULL || l > sizeof(copy)) {
		end();
		return;
	}
	memcpy(copy, fa, l);
	for (uint8_t t = 0xC1; t <= 0xC3; t++) {
		for (unsigned bits = 2048; bits <= 4096; bits += 1024) {
			uint8_t a[5] = { 0x01, (uint8_t)(bits >> 8), 0x00,
					 0x00, 0x20 };
			if (!fa_has(copy, l, t, a, sizeof(a)))
				fprintf(stderr, "FA lacks %02X RSA-%u\n", t,
					bits);
			CHECK(fa_has(copy, l, t, a, sizeof(a)));
		}
		for (size_t i = 0; i < N_CURVES; i++) {
			const struct curve *c = &curves[i];
			uint8_t a[16];
			int keyno = t - 0xC0;
			if ((keyno == 2) == (c->kind == ED25519))
				continue; /* Ed25519 signs, only */
			if (keyno != 2 && c->kind == X25519)
				continue;
			a[0] = ec_alg_for(keyno, c);
			memcpy(a + 1, c->oid, c->oid_len);
			if (!fa_has(copy, l, t, a, 1 + c->oid_len))
				fprintf(stderr, "FA lacks %02X %s\n", t,
					c->name);
			CHECK(fa_has(copy, l, t, a, 1 + c->oid_len));
		}
	}
	end();
}

static void put_data_cardholder_dos(void)
{
	static char url[256], login[256];
	size_t l = 0, vl = 0;
	const uint8_t *v, *x;

	memset(url, 'u', sizeof(url));
	memset(login, 'l', sizeof(login));
	begin();
	/* every one needs PW3 */
	CHECK_EQ(put_data(0x5B, "Doe<<John", 9), 0x6982);
	CHECK_EQ(put_data(0x5F50, url, 10), 0x6982);
	CHECK_EQ(verify(0x82, pw1_default), SW_OK);
	CHECK_EQ(put_data(0x5E, login, 10), 0x6982);
	admin();
	CHECK_EQ(put_data(0x5B, "Doe<<John", 9), SW_OK);
	CHECK_EQ(put_data(0x5F2D, "deen", 4), SW_OK);
	CHECK_EQ(put_data(0x5F35, "\x31", 1), SW_OK);
	CHECK_EQ(put_data(0x5F50, url, 255), SW_OK);
	CHECK_EQ(put_data(0x5E, login, 255), SW_OK);
	v = get_constructed(0x65, &l);
	CHECK(v != NULL);
	if (v != NULL) {
		x = tlv_find(v, l, 0x5B, &vl);
		CHECK(x != NULL && vl == 9 && memcmp(x, "Doe<<John", 9) == 0);
		x = tlv_find(v, l, 0x5F2D, &vl);
		CHECK(x != NULL && vl == 4 && memcmp(x, "deen", 4) == 0);
		x = tlv_find(v, l, 0x5F35, &vl);
		CHECK(x != NULL && vl == 1 && x[0] == 0x31);
	}
	CHECK_EQ(get_data(0x5F50), SW_OK);
	CHECK(all_len == 255 && memcmp(all, url, 255) == 0);
	CHECK_EQ(get_data(0x5E), SW_OK);
	CHECK(all_len == 255 && memcmp(all, login, 255) == 0);
	/* 256 bytes are more than the 255 the card announces */
	{
		unsigned sw = put_data(0x5F50, url, 256);
		CHECK(sw == 0x6A84 || sw == 0x6700);
		sw = put_data(0x5E, login, 256);
		CHECK(sw == 0x6A84 || sw == 0x6700);
	}
	CHECK_EQ(get_data(0x5F50), SW_OK);
	CHECK_EQ(all_len, 255);
	/* empty clears; the values survive a restart */
	CHECK_EQ(put_data(0x5E, NULL, 0), SW_OK);
	reopen(VKEY_UP_AUTO);
	CHECK_EQ(select_pgp(), SW_OK);
	CHECK_EQ(get_data(0x5E), SW_OK);
	CHECK_EQ(all_len, 0);
	CHECK_EQ(get_data(0x5F50), SW_OK);
	CHECK_EQ(all_len, 255);
	end();
}

static void private_dos_access_rules(void)
{
	static uint8_t big[256];

	memset(big, 0xA5, sizeof(big));
	begin();
	/* nothing verified: 0101/0102 readable, 0103/0104 not; no writes */
	CHECK_EQ(get_data(0x0101), SW_OK);
	CHECK_EQ(get_data(0x0102), SW_OK);
	CHECK_EQ(get_data(0x0103), 0x6982);
	CHECK_EQ(get_data(0x0104), 0x6982);
	for (unsigned t = 0x0101; t <= 0x0104; t++)
		CHECK_EQ(put_data(t, "x", 1), 0x6982);
	/* PW1 82: writes 0101 and 0103, reads 0103 */
	CHECK_EQ(verify(0x82, pw1_default), SW_OK);
	CHECK_EQ(put_data(0x0101, "one", 3), SW_OK);
	CHECK_EQ(put_data(0x0103, "three", 5), SW_OK);
	CHECK_EQ(put_data(0x0102, "two", 3), 0x6982);
	CHECK_EQ(put_data(0x0104, "four", 4), 0x6982);
	CHECK_EQ(get_data(0x0103), SW_OK);
	CHECK(all_len == 5 && memcmp(all, "three", 5) == 0);
	CHECK_EQ(get_data(0x0104), 0x6982);
	/* PW1 81 alone is not enough for 0103 */
	CHECK_EQ(verify(0x82, NULL), SW_OK);
	CHECK_EQ(cmd(0x20, 0xFF, 0x82, NULL, 0), SW_OK);
	CHECK_EQ(verify(0x81, pw1_default), SW_OK);
	CHECK_EQ(get_data(0x0103), 0x6982);
	CHECK_EQ(put_data(0x0101, "x", 1), 0x6982);
	/* PW3: writes 0102 and 0104, reads 0104 */
	admin();
	CHECK_EQ(put_data(0x0102, "two", 3), SW_OK);
	CHECK_EQ(put_data(0x0104, big, 255), SW_OK);
	CHECK_EQ(get_data(0x0104), SW_OK);
	CHECK(all_len == 255 && memcmp(all, big, 255) == 0);
	CHECK_EQ(put_data(0x0101, "x", 1), 0x6982); /* PW3 is not PW1 */
	{
		unsigned sw = put_data(0x0104, big, 256);
		CHECK(sw == 0x6A84 || sw == 0x6700);
	}
	/* readable without PIN after a power cycle */
	vkey_power_off(key);
	vkey_power_on(key);
	CHECK_EQ(select_pgp(), SW_OK);
	CHECK_EQ(get_data(0x0101), SW_OK);
	CHECK(all_len == 3 && memcmp(all, "one", 3) == 0);
	CHECK_EQ(get_data(0x0102), SW_OK);
	CHECK(all_len == 3 && memcmp(all, "two", 3) == 0);
	CHECK_EQ(get_data(0x0103), 0x6982);
	CHECK_EQ(get_data(0x0104), 0x6982);
	CHECK_EQ(verify(0x82, pw1_default), SW_OK);
	CHECK_EQ(put_data(0x0101, big, 255), SW_OK);
	{
		unsigned sw = put_data(0x0101, big, 256);
		CHECK(sw == 0x6A84 || sw == 0x6700);
	}
	CHECK_EQ(get_data(0x0101), SW_OK);
	CHECK_EQ(all_len, 255);
	end();
}

/* Certificates: occurrence 0 = key 3 (AUT), 1 = key 2 (DEC), 2 = key 1
 * (SIG), as GnuPG's do_readcert maps them. */
static unsigned select_data(uint8_t occurrence)
{
	static const uint8_t sel[] = { 0x60, 0x04, 0x5C, 0x02, 0x7F, 0x21 };
	return cmd(0xA5, occurrence, 0x04, sel, sizeof(sel));
}

static void cardholder_certificates_three_occurrences(void)
{
	static uint8_t certs[3][2048];
	static const size_t sizes[3] = { 100, 700, 2048 };

	for (int i = 0; i < 3; i++)
		for (size_t j = 0; j < sizes[i]; j++)
			certs[i][j] = (uint8_t)(i * 31 + j);
	begin();
	CHECK_EQ(select_data(0), SW_OK);
	CHECK_EQ(put_data(0x7F21, certs[0], sizes[0]), 0x6982);
	admin();
	for (uint8_t occ = 0; occ < 3; occ++) {
		CHECK_EQ(select_data(occ), SW_OK);
		CHECK_EQ(put_data(0x7F21, certs[occ], sizes[occ]), SW_OK);
	}
	/* more than the 2048 bytes announced */
	{
		static uint8_t big[2049];
		unsigned sw;
		CHECK_EQ(select_data(1), SW_OK);
		sw = put_data(0x7F21, big, sizeof(big));
		CHECK(sw == 0x6A84 || sw == 0x6700);
	}
	for (uint8_t occ = 0; occ < 3; occ++) {
		CHECK_EQ(select_data(occ), SW_OK);
		CHECK_EQ(get_data(0x7F21), SW_OK);
		CHECK(all_len == sizes[occ] &&
		      memcmp(all, certs[occ], sizes[occ]) == 0);
	}
	/* GET NEXT DATA walks from the current occurrence */
	CHECK_EQ(select_data(0), SW_OK);
	CHECK_EQ(get_data(0x7F21), SW_OK);
	CHECK(all_len == sizes[0] && memcmp(all, certs[0], sizes[0]) == 0);
	CHECK_EQ(cmd(0xCC, 0x7F, 0x21, NULL, 0), SW_OK);
	CHECK(all_len == sizes[1] && memcmp(all, certs[1], sizes[1]) == 0);
	CHECK_EQ(cmd(0xCC, 0x7F, 0x21, NULL, 0), SW_OK);
	CHECK(all_len == sizes[2] && memcmp(all, certs[2], sizes[2]) == 0);
	{
		unsigned sw = cmd(0xCC, 0x7F, 0x21, NULL, 0);
		CHECK(sw == 0x6A88 || sw == 0x6A82);
	}
	/* a restart goes back to occurrence 0 */
	reopen(VKEY_UP_AUTO);
	CHECK_EQ(select_pgp(), SW_OK);
	CHECK_EQ(get_data(0x7F21), SW_OK);
	CHECK(all_len == sizes[0] && memcmp(all, certs[0], sizes[0]) == 0);
	/* bad SELECT DATA: occurrence 3, wrong P2, other tag, bad template */
	{
		static const uint8_t other[] = { 0x60, 0x04, 0x5C, 0x02, 0x5F,
						 0x50 };
		static const uint8_t bad[] = { 0x60, 0x05, 0x5C, 0x02, 0x7F,
					       0x21 };
		unsigned sw = select_data(3);
		CHECK(sw == 0x6A88 || sw == 0x6A86 || sw == 0x6A80);
		CHECK_EQ(cmd(0xA5, 0x00, 0x05, other + 0, 6) == SW_OK, 0);
		sw = cmd(0xA5, 0x00, 0x04, other, sizeof(other));
		CHECK(sw != SW_OK);
		sw = cmd(0xA5, 0x00, 0x04, bad, sizeof(bad));
		CHECK(sw != SW_OK);
	}
	end();
}

/* --- PINs ------------------------------------------------------------------- */

static void verify_good_bad_status_and_forget(void)
{
	uint8_t s[7];

	begin();
	/* status query before any VERIFY: not verified, 3 tries */
	CHECK_EQ(verify(0x81, NULL), 0x63C3);
	CHECK_EQ(verify(0x82, NULL), 0x63C3);
	CHECK_EQ(verify(0x83, NULL), 0x63C3);
	CHECK_EQ(verify(0x81, "654321"), 0x63C2);
	CHECK_EQ(verify(0x81, NULL), 0x63C2);
	CHECK_EQ(verify(0x82, NULL), 0x63C2); /* one PW1 behind 81 and 82 */
	pw_status(s);
	CHECK_EQ(s[4], 2);
	CHECK_EQ(verify(0x81, pw1_default), SW_OK);
	CHECK_EQ(verify(0x81, NULL), SW_OK);
	CHECK_EQ(verify(0x82, NULL), 0x63C3); /* counter restored, 82 not verified */
	pw_status(s);
	CHECK_EQ(s[4], 3);
	CHECK_EQ(verify(0x82, pw1_default), SW_OK);
	CHECK_EQ(verify(0x82, NULL), SW_OK);
	/* P1 = FF forgets 81 but keeps 82 */
	CHECK_EQ(cmd(0x20, 0xFF, 0x81, NULL, 0), SW_OK);
	CHECK_EQ(verify(0x81, NULL), 0x63C3);
	CHECK_EQ(verify(0x82, NULL), SW_OK);
	/* PW3 */
	CHECK_EQ(verify(0x83, "87654321"), 0x63C2);
	pw_status(s);
	CHECK_EQ(s[6], 2);
	CHECK_EQ(verify(0x83, pw3_default), SW_OK);
	CHECK_EQ(verify(0x83, NULL), SW_OK);
	CHECK_EQ(cmd(0x20, 0xFF, 0x83, NULL, 0), SW_OK);
	CHECK_EQ(verify(0x83, NULL), 0x63C3);
	/* PW1 is not PW3 and vice versa */
	CHECK_EQ(verify(0x83, pw1_default), 0x63C2);
	CHECK_EQ(verify(0x81, pw3_default), 0x63C2);
	CHECK_EQ(verify(0x81, pw1_default), SW_OK);
	CHECK_EQ(verify(0x83, pw3_default), SW_OK);
	/* power off forgets everything */
	CHECK_EQ(verify(0x81, pw1_default), SW_OK);
	CHECK_EQ(verify(0x83, pw3_default), SW_OK);
	vkey_power_off(key);
	vkey_power_on(key);
	CHECK_EQ(select_pgp(), SW_OK);
	CHECK_EQ(verify(0x81, NULL), 0x63C3);
	CHECK_EQ(verify(0x83, NULL), 0x63C3);
	end();
}

static void verify_blocks_after_three_wrong(void)
{
	uint8_t s[7];
	unsigned sw;

	begin();
	CHECK_EQ(verify(0x81, "111111"), 0x63C2);
	CHECK_EQ(verify(0x82, "111111"), 0x63C1);
	sw = verify(0x81, "111111");
	CHECK(sw == 0x63C0 || sw == 0x6983);
	CHECK_EQ(verify(0x81, pw1_default), 0x6983);
	CHECK_EQ(verify(0x82, pw1_default), 0x6983);
	sw = verify(0x81, NULL);
	CHECK(sw == 0x63C0 || sw == 0x6983);
	/* a blocked PW1 cannot be changed with the right old PIN either */
	CHECK_EQ(cmd(0x24, 0x00, 0x81, "123456abcdefg", 13), 0x6983);
	pw_status(s);
	CHECK_EQ(s[4], 0);
	CHECK_EQ(s[6], 3);
	/* PW3 blocks the same way */
	CHECK_EQ(verify(0x83, "00000000"), 0x63C2);
	CHECK_EQ(verify(0x83, "00000000"), 0x63C1);
	sw = verify(0x83, "00000000");
	CHECK(sw == 0x63C0 || sw == 0x6983);
	CHECK_EQ(verify(0x83, pw3_default), 0x6983);
	pw_status(s);
	CHECK_EQ(s[6], 0);
	/* still blocked after a restart */
	reopen(VKEY_UP_AUTO);
	CHECK_EQ(select_pgp(), SW_OK);
	CHECK_EQ(verify(0x81, pw1_default), 0x6983);
	CHECK_EQ(verify(0x83, pw3_default), 0x6983);
	end();
}

static void verify_counter_persists_across_reopen(void)
{
	uint8_t s[7];

	begin();
	CHECK_EQ(verify(0x81, "999999"), 0x63C2);
	CHECK_EQ(verify(0x83, "99999999"), 0x63C2);
	CHECK_EQ(verify(0x83, "99999999"), 0x63C1);
	reopen(VKEY_UP_AUTO);
	CHECK_EQ(select_pgp(), SW_OK);
	pw_status(s);
	CHECK_EQ(s[4], 2);
	CHECK_EQ(s[5], 0);
	CHECK_EQ(s[6], 1);
	CHECK_EQ(verify(0x81, NULL), 0x63C2);
	CHECK_EQ(verify(0x83, NULL), 0x63C1);
	/* a right PIN restores the counter, also on disk */
	CHECK_EQ(verify(0x83, pw3_default), SW_OK);
	reopen(VKEY_UP_AUTO);
	CHECK_EQ(select_pgp(), SW_OK);
	pw_status(s);
	CHECK_EQ(s[6], 3);
	end();
}

static void change_reference_data_pw1_and_pw3(void)
{
	uint8_t s[7];
	char buf[300];

	begin();
	/* PW1: old || new */
	snprintf(buf, sizeof(buf), "%s%s", "000000", "abcdefg");
	CHECK_EQ(cmd(0x24, 0x00, 0x81, buf, strlen(buf)), 0x63C2);
	snprintf(buf, sizeof(buf), "%s%s", pw1_default, "abcdefg");
	CHECK_EQ(cmd(0x24, 0x00, 0x81, buf, strlen(buf)), SW_OK);
	CHECK_EQ(verify(0x81, pw1_default), 0x63C2);
	CHECK_EQ(verify(0x81, "abcdefg"), SW_OK);
	CHECK_EQ(verify(0x82, "abcdefg"), SW_OK);
	/* a new PIN of 5 bytes: 6700, tries untouched */
	snprintf(buf, sizeof(buf), "%s%s", "abcdefg", "12345");
	CHECK_EQ(cmd(0x24, 0x00, 0x81, buf, strlen(buf)), 0x6700);
	pw_status(s);
	CHECK_EQ(s[4], 3);
	CHECK_EQ(verify(0x81, "abcdefg"), SW_OK);
	/* 127 bytes is the longest PIN */
	memset(buf, 'z', sizeof(buf));
	memcpy(buf, "abcdefg", 7);
	CHECK_EQ(cmd(0x24, 0x00, 0x81, buf, 7 + 128), 0x6700);
	CHECK_EQ(cmd(0x24, 0x00, 0x81, buf, 7 + 127), SW_OK);
	CHECK_EQ(verify_bin(0x81, (const uint8_t *)buf + 7, 127), SW_OK);
	/* PW3 */
	snprintf(buf, sizeof(buf), "%s%s", pw3_default, "admin-pin-2");
	CHECK_EQ(cmd(0x24, 0x00, 0x83, buf, strlen(buf)), SW_OK);
	CHECK_EQ(verify(0x83, pw3_default), 0x63C2);
	CHECK_EQ(verify(0x83, "admin-pin-2"), SW_OK);
	/* a new PW3 of 7 bytes: 6700 */
	snprintf(buf, sizeof(buf), "%s%s", "admin-pin-2", "1234567");
	CHECK_EQ(cmd(0x24, 0x00, 0x83, buf, strlen(buf)), 0x6700);
	CHECK_EQ(verify(0x83, "admin-pin-2"), SW_OK);
	/* changing PW1 needs the old PW1, not PW3 */
	snprintf(buf, sizeof(buf), "%s%s", "admin-pin-2", "newpin1");
	CHECK(cmd(0x24, 0x00, 0x81, buf, strlen(buf)) != SW_OK);
	/* only 81 and 83 can be changed */
	snprintf(buf, sizeof(buf), "%s%s", pw1_default, "abcdefg");
	CHECK_EQ(cmd(0x24, 0x00, 0x82, buf, strlen(buf)), 0x6A86);
	CHECK_EQ(cmd(0x24, 0x01, 0x81, buf, strlen(buf)), 0x6A86);
	/* changed PINs survive a restart */
	reopen(VKEY_UP_AUTO);
	CHECK_EQ(select_pgp(), SW_OK);
	CHECK_EQ(verify(0x83, "admin-pin-2"), SW_OK);
	end();
}

static void reset_retry_counter_with_resetting_code(void)
{
	uint8_t s[7];
	char buf[64];
	unsigned sw;

	begin();
	/* no resetting code: refused */
	snprintf(buf, sizeof(buf), "%s%s", "87654321", "newpin");
	sw = cmd(0x2C, 0x00, 0x81, buf, strlen(buf));
	CHECK(sw == 0x6982 || sw == 0x6983);
	/* set it (D3, PW3 needed, 8 bytes at least) */
	CHECK_EQ(put_data(0xD3, "87654321", 8), 0x6982);
	admin();
	CHECK_EQ(put_data(0xD3, "8765432", 7), 0x6700);
	CHECK_EQ(put_data(0xD3, "87654321", 8), SW_OK);
	pw_status(s);
	CHECK_EQ(s[5], 3);
	cmd(0x20, 0xFF, 0x83, NULL, 0);
	/* block PW1 */
	verify(0x81, "000000");
	verify(0x81, "000000");
	verify(0x81, "000000");
	CHECK_EQ(verify(0x81, pw1_default), 0x6983);
	/* wrong code */
	snprintf(buf, sizeof(buf), "%s%s", "11111111", "newpin");
	CHECK_EQ(cmd(0x2C, 0x00, 0x81, buf, strlen(buf)), 0x63C2);
	pw_status(s);
	CHECK_EQ(s[5], 2);
	/* right code but new PIN too short */
	snprintf(buf, sizeof(buf), "%s%s", "87654321", "short");
	CHECK_EQ(cmd(0x2C, 0x00, 0x81, buf, strlen(buf)), 0x6700);
	/* right code */
	snprintf(buf, sizeof(buf), "%s%s", "87654321", "newpin");
	CHECK_EQ(cmd(0x2C, 0x00, 0x81, buf, strlen(buf)), SW_OK);
	pw_status(s);
	CHECK_EQ(s[4], 3);
	CHECK_EQ(s[5], 3);
	CHECK_EQ(verify(0x81, "newpin"), SW_OK);
	/* P2 other than 81 */
	CHECK_EQ(cmd(0x2C, 0x00, 0x82, buf, strlen(buf)), 0x6A86);
	/* an empty D3 deletes the code */
	admin();
	CHECK_EQ(put_data(0xD3, NULL, 0), SW_OK);
	pw_status(s);
	CHECK_EQ(s[5], 0);
	end();
}

static void reset_retry_counter_after_pw3(void)
{
	uint8_t s[7];

	begin();
	verify(0x81, "000000");
	verify(0x81, "000000");
	verify(0x81, "000000");
	CHECK_EQ(cmd(0x2C, 0x02, 0x81, "resetpin", 8), 0x6982);
	admin();
	CHECK_EQ(cmd(0x2C, 0x02, 0x81, "12345", 5), 0x6700);
	CHECK_EQ(cmd(0x2C, 0x02, 0x81, "resetpin", 8), SW_OK);
	pw_status(s);
	CHECK_EQ(s[4], 3);
	CHECK_EQ(verify(0x81, "resetpin"), SW_OK);
	CHECK_EQ(cmd(0x2C, 0x01, 0x81, "resetpin", 8), 0x6A86);
	end();
}

static void pw_status_byte_changes_with_pw3(void)
{
	uint8_t s[7];
	unsigned sw;

	begin();
	CHECK_EQ(put_data(0xC4, "\x00", 1), 0x6982);
	admin();
	CHECK_EQ(put_data(0xC4, "\x00", 1), SW_OK);
	pw_status(s);
	CHECK_EQ(s[0], 0x00);
	CHECK(put_data(0xC4, "\x02", 1) != SW_OK);
	sw = put_data(0xC4, "\x01\x7F", 2);
	CHECK(sw == SW_OK || sw == 0x6700 || sw == 0x6A80);
	CHECK_EQ(put_data(0xC4, "\x01", 1), SW_OK);
	pw_status(s);
	CHECK_EQ(s[0], 0x01);
	end();
}

/* The message a signature covers: a DigestInfo for RSA, a hash of the
 * field size (capped at 64 bytes) for ECDSA, a message for EdDSA. */
static size_t sig_input(const struct curve *c, uint8_t *in)
{
	size_t n;

	if (c == NULL)
		return digest_info_sha256("vkey openpgp test", in);
	if (c->kind == ED25519) {
		rand_bytes(in, 57);
		return 57;
	}
	if (c->field <= 32)
		sha("SHA256", "m", 1, in, &n);
	else if (c->field == 48)
		sha("SHA384", "m", 1, in, &n);
	else
		sha("SHA512", "m", 1, in, &n);
	return n;
}

/* Sign with key 1 (PSO:CDS) or key 3 (INTERNAL AUTHENTICATE) and check
 * the answer with OpenSSL. c == NULL: RSA. */
static int sign_ok(int keyno, const struct curve *c, const struct pub *pk)
{
	uint8_t in[128];
	size_t n = sig_input(c, in);
	unsigned sw = keyno == 1 ? pso_sign(in, n) : internal_auth(in, n);
	int ok;

	if (sw != SW_OK) {
		fprintf(stderr, "  key %d %s: sign SW %04X\n", keyno,
			c ? c->name : "RSA", sw);
		return 0;
	}
	if (c == NULL)
		ok = all_len == pk->n_len &&
		     rsa_verify(pk, in, n, all, all_len);
	else
		ok = ec_verify(c, pk, in, n, all, all_len);
	if (!ok)
		fprintf(stderr, "  key %d %s: signature does not verify "
				"(%zu bytes)\n",
			keyno, c ? c->name : "RSA", all_len);
	return ok;
}

/* Decipher with key 2 and check against OpenSSL. c == NULL: RSA. */
static int decipher_ok(const struct curve *c, const struct pub *pk)
{
	static struct data d;
	uint8_t expect[600];
	size_t el;
	unsigned sw;
	EVP_PKEY *eph = NULL;

	d.n = 0;
	if (c == NULL) {
		uint8_t ct[600];
		size_t cl;
		rand_bytes(expect, 32);
		el = 32;
		cl = rsa_encrypt(pk, expect, el, ct, sizeof(ct));
		CHECK_EQ(cl, pk->n_len);
		d_u8(&d, 0x00);
		d_raw(&d, ct, cl);
	} else {
		uint8_t pt[160];
		size_t pl;
		struct data in86 = { .n = 0 }, in7f = { .n = 0 };
		eph = keygen_ec(c);
		pl = eph ? ec_public_bytes(c, eph, pt, sizeof(pt)) : 0;
		CHECK(pl > 0);
		el = ecdh_derive(c, eph, pk, expect, sizeof(expect));
		CHECK(el > 0);
		d_tlv(&in86, 0x86, pt, pl);
		d_tlv(&in7f, 0x7F49, in86.b, in86.n);
		d_tlv(&d, 0xA6, in7f.b, in7f.n);
	}
	sw = pso_decipher(d.b, d.n);
	EVP_PKEY_free(eph);
	if (sw != SW_OK) {
		fprintf(stderr, "  key 2 %s: decipher SW %04X\n",
			c ? c->name : "RSA", sw);
		return 0;
	}
	if (all_len != el || memcmp(all, expect, el) != 0) {
		fprintf(stderr, "  key 2 %s: decipher gave %zu bytes, "
				"expected %zu\n",
			c ? c->name : "RSA", all_len, el);
		return 0;
	}
	return 1;
}

/* The public point the card answers has the curve's encoding. */
static int point_ok(const struct curve *c, const struct pub *pk)
{
	if (c->kind != WEIER)
		return pk->point_len == 32;
	return pk->point_len == 1 + 2 * c->field && pk->point[0] == 0x04;
}

static void generate_needs_pw3_and_reads_back(void)
{
	struct pub g, r;
	unsigned sw;

	begin();
	CHECK_EQ(generate(1, NULL), 0x6982);
	sw = read_pub(1, NULL);
	CHECK(sw == 0x6A88 || sw == 0x6A82);
	admin();
	CHECK_EQ(set_ec_attr(1, 0x13, &curves[0]), SW_OK);
	CHECK_EQ(generate(1, &g), SW_OK);
	CHECK(point_ok(&curves[0], &g));
	/* reading needs no PIN and survives a restart */
	reopen(VKEY_UP_AUTO);
	CHECK_EQ(select_pgp(), SW_OK);
	CHECK_EQ(read_pub(1, &r), SW_OK);
	CHECK(r.point_len == g.point_len &&
	      memcmp(r.point, g.point, g.point_len) == 0);
	CHECK_EQ(verify(0x81, pw1_default), SW_OK);
	CHECK(sign_ok(1, &curves[0], &r));
	/* the CRT template may be given as B6 00 or with the old 3 bytes;
	 * an unknown CRT is refused */
	{
		uint8_t bad[2] = { 0xB7, 0x00 };
		CHECK(cmd(0x47, 0x81, 0x00, bad, 2) != SW_OK);
		CHECK(cmd(0x47, 0x81, 0x00, NULL, 0) != SW_OK);
	}
	end();
}

static void generate_rsa2048_sign_decipher_authenticate(void)
{
	struct pub k[4], r;

	begin();
	admin();
	for (int i = 1; i <= 3; i++) {
		CHECK_EQ(generate(i, &k[i]), SW_OK);
		CHECK_EQ(k[i].n_len, 256);
		CHECK(k[i].e_len >= 3);
		CHECK_EQ(read_pub(i, &r), SW_OK);
		CHECK(r.n_len == k[i].n_len &&
		      memcmp(r.n, k[i].n, r.n_len) == 0);
		CHECK_EQ(key_status(i), 0x01);
	}
	CHECK(memcmp(k[1].n, k[2].n, 256) != 0);
	CHECK_EQ(verify(0x81, pw1_default), SW_OK);
	CHECK_EQ(verify(0x82, pw1_default), SW_OK);
	CHECK(sign_ok(1, NULL, &k[1]));
	CHECK(decipher_ok(NULL, &k[2]));
	CHECK(sign_ok(3, NULL, &k[3]));
	/* a DigestInfo of more than 40 % of the modulus is refused */
	{
		uint8_t in[200];
		memset(in, 0x11, sizeof(in));
		CHECK_EQ(pso_sign(in, 102), SW_OK);
		CHECK_EQ(pso_sign(in, 103), 0x6700);
	}
	/* a cryptogram not below n, and random bytes: no crash; the
	 * first is refused */
	{
		uint8_t ct[257];
		memset(ct, 0xFF, sizeof(ct));
		ct[0] = 0x00;
		CHECK(pso_decipher(ct, 257) != SW_OK);
		rand_bytes(ct + 1, 256);
		ct[1] = 0x01;
		(void)pso_decipher(ct, 257);
	}
	/* a wrong-size cryptogram is refused */
	{
		uint8_t ct[258];
		memset(ct, 0, sizeof(ct));
		CHECK(pso_decipher(ct, 200) != SW_OK);
		CHECK(pso_decipher(ct, 258) != SW_OK);
	}
	end();
}

static void generate_rsa4096_answer_chains_with_61xx(void)
{
	struct pub k, r;
	uint8_t whole[1024];
	size_t whole_len;
	uint8_t crt[2] = { 0xA4, 0x00 };
	unsigned sw;

	begin();
	admin();
	CHECK_EQ(set_rsa_attr(3, 4096, 0), SW_OK);
	/* short APDU, Le 00: the answer comes in 256-byte pieces */
	CHECK_EQ(generate(3, &k), SW_OK);
	CHECK(rounds >= 3);
	CHECK_EQ(k.n_len, 512);
	whole_len = all_len;
	CHECK(whole_len < sizeof(whole));
	memcpy(whole, all, whole_len);
	/* read it with Le = 80: 128 bytes, then 61xx; GET RESPONSE of 00 */
	sw = apdu_ex(0x00, 0x47, 0x81, 0x00, crt, 2, 0x80, 0);
	CHECK_EQ(resp_len, 0x80 + 2);
	CHECK_EQ(sw >> 8, 0x61);
	CHECK_EQ(collect(sw), SW_OK);
	CHECK(all_len == whole_len && memcmp(all, whole, whole_len) == 0);
	/* with an extended Le everything comes at once */
	sw = apdu_ex(0x00, 0x47, 0x81, 0x00, crt, 2, 0, 1);
	CHECK_EQ(sw, SW_OK);
	CHECK(resp_len == whole_len + 2 &&
	      memcmp(resp, whole, whole_len) == 0);
	/* GET RESPONSE with a short Le takes what it asks for */
	sw = apdu_ex(0x00, 0x47, 0x81, 0x00, crt, 2, 0, 0);
	CHECK_EQ(sw, 0x6100);
	{
		static const uint8_t gr[] = { 0x00, 0xC0, 0x00, 0x00, 0x10 };
		sw = xfer(gr, sizeof(gr));
		CHECK_EQ(resp_len, 0x10 + 2);
		CHECK_EQ(sw >> 8, 0x61);
		CHECK_MEM(resp, whole + 256, 16);
	}
	/* any other command drops the rest */
	CHECK_EQ(get_data(0xC4), SW_OK);
	CHECK_EQ(all_len, 7);
	CHECK_EQ(read_pub(3, &r), SW_OK);
	CHECK(r.n_len == 512 && memcmp(r.n, k.n, 512) == 0);
	CHECK_EQ(verify(0x82, pw1_default), SW_OK);
	CHECK(sign_ok(3, NULL, &k));
	end();
}

static void generate_every_curve_signs_and_authenticates(void)
{
	begin();
	admin();
	CHECK_EQ(verify(0x81, pw1_default), SW_OK);
	CHECK_EQ(verify(0x82, pw1_default), SW_OK);
	for (size_t i = 0; i < N_CURVES; i++) {
		const struct curve *c = &curves[i];
		if (c->kind == X25519)
			continue;
		for (int keyno = 1; keyno <= 3; keyno += 2) {
			struct pub k;
			unsigned sw = set_ec_attr(keyno, ec_alg_for(keyno, c),
						  c);
			if (sw != SW_OK)
				fprintf(stderr, "  attr %d %s: %04X\n", keyno,
					c->name, sw);
			CHECK_EQ(sw, SW_OK);
			sw = generate(keyno, &k);
			if (sw != SW_OK)
				fprintf(stderr, "  generate %d %s: %04X\n",
					keyno, c->name, sw);
			CHECK_EQ(sw, SW_OK);
			if (sw != SW_OK)
				continue;
			CHECK(point_ok(c, &k));
			CHECK(sign_ok(keyno, c, &k));
			CHECK(sign_ok(keyno, c, &k));
		}
	}
	end();
}

static void generate_every_curve_deciphers(void)
{
	begin();
	admin();
	CHECK_EQ(verify(0x82, pw1_default), SW_OK);
	for (size_t i = 0; i < N_CURVES; i++) {
		const struct curve *c = &curves[i];
		struct pub k;
		unsigned sw;
		if (c->kind == ED25519)
			continue;
		sw = set_ec_attr(2, 0x12, c);
		if (sw != SW_OK)
			fprintf(stderr, "  attr 2 %s: %04X\n", c->name, sw);
		CHECK_EQ(sw, SW_OK);
		sw = generate(2, &k);
		CHECK_EQ(sw, SW_OK);
		if (sw != SW_OK)
			continue;
		CHECK(point_ok(c, &k));
		CHECK(decipher_ok(c, &k));
	}
	/* a point off the curve is refused */
	{
		struct pub k;
		uint8_t pt[65];
		struct data in86 = { .n = 0 }, in7f = { .n = 0 }, d = { .n = 0 };
		CHECK_EQ(set_ec_attr(2, 0x12, &curves[0]), SW_OK);
		CHECK_EQ(generate(2, &k), SW_OK);
		memcpy(pt, k.point, 65);
		pt[64] ^= 1;
		d_tlv(&in86, 0x86, pt, 65);
		d_tlv(&in7f, 0x7F49, in86.b, in86.n);
		d_tlv(&d, 0xA6, in7f.b, in7f.n);
		CHECK(pso_decipher(d.b, d.n) != SW_OK);
		/* the wrong length for the curve */
		d.n = in86.n = in7f.n = 0;
		d_tlv(&in86, 0x86, pt, 33);
		d_tlv(&in7f, 0x7F49, in86.b, in86.n);
		d_tlv(&d, 0xA6, in7f.b, in7f.n);
		CHECK(pso_decipher(d.b, d.n) != SW_OK);
	}
	end();
}

static void signature_counter_counts_and_resets(void)
{
	struct pub k;

	begin();
	admin();
	CHECK_EQ(set_ec_attr(1, 0x13, &curves[0]), SW_OK);
	CHECK_EQ(generate(1, &k), SW_OK);
	CHECK_EQ(sig_counter(), 0);
	CHECK_EQ(verify(0x81, pw1_default), SW_OK);
	for (int i = 0; i < 3; i++)
		CHECK(sign_ok(1, &curves[0], &k));
	CHECK_EQ(sig_counter(), 3);
	/* INTERNAL AUTHENTICATE does not count */
	CHECK_EQ(set_ec_attr(3, 0x13, &curves[0]), SW_OK);
	{
		struct pub a;
		CHECK_EQ(generate(3, &a), SW_OK);
		CHECK_EQ(verify(0x82, pw1_default), SW_OK);
		CHECK(sign_ok(3, &curves[0], &a));
	}
	CHECK_EQ(sig_counter(), 3);
	/* a failed signature does not count */
	CHECK_EQ(cmd(0x20, 0xFF, 0x81, NULL, 0), SW_OK);
	CHECK_EQ(pso_sign("x", 1), 0x6982);
	CHECK_EQ(sig_counter(), 3);
	reopen(VKEY_UP_AUTO);
	CHECK_EQ(select_pgp(), SW_OK);
	CHECK_EQ(sig_counter(), 3);
	admin();
	CHECK_EQ(generate(1, &k), SW_OK);
	CHECK_EQ(sig_counter(), 0);
	CHECK_EQ(verify(0x81, pw1_default), SW_OK);
	CHECK(sign_ok(1, &curves[0], &k));
	CHECK_EQ(sig_counter(), 1);
	/* generating key 2 or 3 leaves it */
	CHECK_EQ(generate(3, NULL), SW_OK);
	CHECK_EQ(sig_counter(), 1);
	end();
}

static void pw_status_00_forces_verify_per_signature(void)
{
	struct pub k;

	begin();
	admin();
	CHECK_EQ(set_ec_attr(1, 0x16, &curves[7]), SW_OK);
	CHECK_EQ(generate(1, &k), SW_OK);
	CHECK_EQ(put_data(0xC4, "\x00", 1), SW_OK);
	CHECK_EQ(verify(0x81, pw1_default), SW_OK);
	CHECK(sign_ok(1, &curves[7], &k));
	CHECK_EQ(pso_sign("again", 5), 0x6982);
	CHECK_EQ(verify(0x81, NULL), 0x63C3);
	CHECK_EQ(verify(0x81, pw1_default), SW_OK);
	CHECK(sign_ok(1, &curves[7], &k));
	CHECK_EQ(pso_sign("again", 5), 0x6982);
	/* byte 1 = 01: several signatures per VERIFY */
	CHECK_EQ(put_data(0xC4, "\x01", 1), SW_OK);
	CHECK_EQ(verify(0x81, pw1_default), SW_OK);
	CHECK(sign_ok(1, &curves[7], &k));
	CHECK(sign_ok(1, &curves[7], &k));
	/* the setting persists */
	CHECK_EQ(put_data(0xC4, "\x00", 1), SW_OK);
	reopen(VKEY_UP_AUTO);
	CHECK_EQ(select_pgp(), SW_OK);
	CHECK_EQ(verify(0x81, pw1_default), SW_OK);
	CHECK(sign_ok(1, &curves[7], &k));
	CHECK_EQ(pso_sign("again", 5), 0x6982);
	end();
}

static void each_key_needs_its_own_pin_reference(void)
{
	struct pub k1, k2, k3;
	unsigned sw;

	begin();
	admin();
	CHECK_EQ(set_ec_attr(1, 0x13, &curves[0]), SW_OK);
	CHECK_EQ(set_ec_attr(2, 0x12, &curves[0]), SW_OK);
	CHECK_EQ(set_ec_attr(3, 0x13, &curves[0]), SW_OK);
	/* no key yet */
	CHECK_EQ(verify(0x81, pw1_default), SW_OK);
	CHECK_EQ(verify(0x82, pw1_default), SW_OK);
	{
		uint8_t h[32] = { 0 };
		sw = pso_sign(h, 32);
		CHECK(sw == 0x6A88 || sw == 0x6A82);
		sw = internal_auth(h, 32);
		CHECK(sw == 0x6A88 || sw == 0x6A82);
	}
	CHECK_EQ(generate(1, &k1), SW_OK);
	CHECK_EQ(generate(2, &k2), SW_OK);
	CHECK_EQ(generate(3, &k3), SW_OK);
	/* 82 alone: no signature */
	CHECK_EQ(cmd(0x20, 0xFF, 0x81, NULL, 0), SW_OK);
	CHECK_EQ(pso_sign("h", 1), 0x6982);
	CHECK(decipher_ok(&curves[0], &k2));
	CHECK(sign_ok(3, &curves[0], &k3));
	/* 81 alone: no decipher, no authentication */
	CHECK_EQ(cmd(0x20, 0xFF, 0x82, NULL, 0), SW_OK);
	CHECK_EQ(verify(0x81, pw1_default), SW_OK);
	CHECK(sign_ok(1, &curves[0], &k1));
	{
		uint8_t h[32] = { 0 };
		CHECK_EQ(internal_auth(h, 32), 0x6982);
	}
	CHECK_EQ(pso_decipher("\xA6\x00", 2), 0x6982);
	/* PW3 alone opens none of them */
	CHECK_EQ(cmd(0x20, 0xFF, 0x81, NULL, 0), SW_OK);
	CHECK_EQ(verify(0x83, NULL), SW_OK);
	CHECK_EQ(pso_sign("h", 1), 0x6982);
	end();
}

/* EdDSA signs the data as sent: for SSH authentication through
 * gpg-agent that is the whole session blob, well over 64 bytes. */
static void eddsa_signs_messages_longer_than_64_bytes(void)
{
	static const size_t lens[] = { 64, 65, 148, 1024, 2048 };
	struct pub k1, k3;
	uint8_t msg[2048];

	rand_bytes(msg, sizeof(msg));
	begin();
	admin();
	CHECK_EQ(set_ec_attr(1, 0x16, &curves[7]), SW_OK);
	CHECK_EQ(set_ec_attr(3, 0x16, &curves[7]), SW_OK);
	CHECK_EQ(generate(1, &k1), SW_OK);
	CHECK_EQ(generate(3, &k3), SW_OK);
	CHECK_EQ(verify(0x81, pw1_default), SW_OK);
	CHECK_EQ(verify(0x82, pw1_default), SW_OK);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		unsigned sw = pso_sign(msg, lens[i]);
		if (sw != SW_OK)
			fprintf(stderr, "  PSO:CDS Ed25519 of %zu bytes: %04X\n",
				lens[i], sw);
		CHECK_EQ(sw, SW_OK);
		if (sw == SW_OK)
			CHECK(ec_verify(&curves[7], &k1, msg, lens[i], all,
					all_len));
		sw = internal_auth(msg, lens[i]);
		if (sw != SW_OK)
			fprintf(stderr, "  INTERNAL AUTHENTICATE Ed25519 of "
					"%zu bytes: %04X\n",
				lens[i], sw);
		CHECK_EQ(sw, SW_OK);
		if (sw == SW_OK)
			CHECK(ec_verify(&curves[7], &k3, msg, lens[i], all,
					all_len));
	}
	end();
}

static void aes_encipher_decipher_round_trip(void)
{
	static const size_t klens[2] = { 16, 32 };

	begin();
	for (int i = 0; i < 2; i++) {
		uint8_t k[32], pt[64], ct[80], d[80];
		int l = 0, l2 = 0;
		EVP_CIPHER_CTX *cx = EVP_CIPHER_CTX_new();
		const EVP_CIPHER *ciph = klens[i] == 16 ? EVP_aes_128_cbc()
							: EVP_aes_256_cbc();
		static const uint8_t iv[16] = { 0 };

		rand_bytes(k, klens[i]);
		rand_bytes(pt, sizeof(pt));
		CHECK(cx != NULL && EVP_EncryptInit_ex(cx, ciph, NULL, k, iv) == 1 &&
		      EVP_CIPHER_CTX_set_padding(cx, 0) == 1 &&
		      EVP_EncryptUpdate(cx, ct, &l, pt, sizeof(pt)) == 1 &&
		      EVP_EncryptFinal_ex(cx, ct + l, &l2) == 1);
		EVP_CIPHER_CTX_free(cx);
		CHECK_EQ(l + l2, 64);

		CHECK_EQ(put_data(0xD5, k, klens[i]), 0x6982);
		admin();
		CHECK(put_data(0xD5, k, 15) != SW_OK);
		CHECK_EQ(put_data(0xD5, k, klens[i]), SW_OK);
		cmd(0x20, 0xFF, 0x83, NULL, 0);
		/* PW1 82 is needed */
		CHECK_EQ(cmd(0x2A, 0x86, 0x80, pt, sizeof(pt)), 0x6982);
		CHECK_EQ(verify(0x82, pw1_default), SW_OK);
		CHECK_EQ(cmd(0x2A, 0x86, 0x80, pt, sizeof(pt)), SW_OK);
		CHECK(all_len == 65 && all[0] == 0x02 &&
		      memcmp(all + 1, ct, 64) == 0);
		d[0] = 0x02;
		memcpy(d + 1, ct, 64);
		CHECK_EQ(pso_decipher(d, 65), SW_OK);
		CHECK(all_len == 64 && memcmp(all, pt, 64) == 0);
		/* not a multiple of the block size */
		CHECK(cmd(0x2A, 0x86, 0x80, pt, 15) != SW_OK);
		CHECK(pso_decipher(d, 64) != SW_OK);
		cmd(0x20, 0xFF, 0x82, NULL, 0);
	}
	end();
}

static void get_challenge_lengths(void)
{
	uint8_t a[2048];
	unsigned sw;

	begin();
	CHECK_EQ(apdu_ex(0x00, 0x84, 0x00, 0x00, NULL, 0, 8, 0), SW_OK);
	CHECK_EQ(resp_len, 8 + 2);
	memcpy(a, resp, 8);
	CHECK_EQ(apdu_ex(0x00, 0x84, 0x00, 0x00, NULL, 0, 8, 0), SW_OK);
	CHECK(memcmp(a, resp, 8) != 0);
	CHECK_EQ(apdu_ex(0x00, 0x84, 0x00, 0x00, NULL, 0, 1, 0), SW_OK);
	CHECK_EQ(resp_len, 1 + 2);
	CHECK_EQ(apdu_ex(0x00, 0x84, 0x00, 0x00, NULL, 0, 255, 0), SW_OK);
	CHECK_EQ(resp_len, 255 + 2);
	CHECK_EQ(apdu_ex(0x00, 0x84, 0x00, 0x00, NULL, 0, 0, 0), SW_OK);
	CHECK_EQ(resp_len, 256 + 2);
	CHECK_EQ(apdu_ex(0x00, 0x84, 0x00, 0x00, NULL, 0, 2048, 1), SW_OK);
	CHECK_EQ(resp_len, 2048 + 2);
	memcpy(a, resp, 2048);
	{
		/* not all zero, not constant */
		int same = 1;
		for (int i = 1; i < 2048; i++)
			same &= a[i] == a[0];
		CHECK(!same);
	}
	/* more than announced: refused, or at most 2048 bytes */
	sw = apdu_ex(0x00, 0x84, 0x00, 0x00, NULL, 0, 2049, 1);
	CHECK(sw == 0x6700 || sw == 0x6A80 ||
	      (sw == SW_OK && resp_len <= 2048 + 2));
	CHECK_EQ(apdu_ex(0x00, 0x84, 0x01, 0x00, NULL, 0, 8, 0), 0x6A86);
	end();
}

/* --- key import ------------------------------------------------------------- */

static void pub_from_parts(const struct rsa_parts *r, struct pub *pk)
{
	memset(pk, 0, sizeof(*pk));
	memcpy(pk->n, r->n, r->n_len);
	pk->n_len = r->n_len;
	memcpy(pk->e, r->e, r->e_len);
	pk->e_len = r->e_len;
}

static void import_rsa2048_in_all_four_formats(void)
{
	static struct data d;
	struct rsa_parts r;
	struct pub pk, rd;
	EVP_PKEY *k = rsa_keygen(2048, &r);

	CHECK(k != NULL && r.n_len == 256);
	pub_from_parts(&r, &pk);
	begin();
	admin();
	CHECK_EQ(verify(0x81, pw1_default), SW_OK);
	CHECK_EQ(verify(0x82, pw1_default), SW_OK);
	for (uint8_t fmt = 0; fmt <= 3; fmt++) {
		unsigned sw;
		CHECK_EQ(set_rsa_attr(1, 2048, fmt), SW_OK);
		build_rsa_import(&d, 1, &r, fmt);
		sw = import_key(&d);
		if (sw != SW_OK)
			fprintf(stderr, "  import format %u: %04X\n", fmt, sw);
		CHECK_EQ(sw, SW_OK);
		CHECK_EQ(key_status(1), 0x02);
		CHECK_EQ(read_pub(1, &rd), SW_OK);
		CHECK(rd.n_len == 256 && memcmp(rd.n, r.n, 256) == 0);
		CHECK(sign_ok(1, NULL, &pk));
		/* CRT attributes with e, p, q alone: the card may refuse
		 * or compute the rest, but must then have the right key */
		if (fmt >= 2) {
			build_rsa_import(&d, 1, &r, (uint8_t)(fmt - 2));
			if (import_key(&d) == SW_OK)
				CHECK(sign_ok(1, NULL, &pk));
		}
	}
	/* deciphering with an imported key (CRT) */
	CHECK_EQ(set_rsa_attr(2, 2048, 2), SW_OK);
	build_rsa_import(&d, 2, &r, 2);
	CHECK_EQ(import_key(&d), SW_OK);
	CHECK(decipher_ok(NULL, &pk));
	CHECK_EQ(key_status(2), 0x02);
	/* and authenticating (format 00, the factory attributes) */
	build_rsa_import(&d, 3, &r, 0);
	CHECK_EQ(import_key(&d), SW_OK);
	CHECK(sign_ok(3, NULL, &pk));
	/* e without the leading zero byte (3 bytes) is also an e */
	{
		struct rsa_parts r3 = r;
		memmove(r3.e, r.e + 1, 3);
		r3.e_len = 3;
		build_rsa_import(&d, 3, &r3, 0);
		CHECK_EQ(import_key(&d), SW_OK);
		CHECK(sign_ok(3, NULL, &pk));
	}
	/* importing needs PW3 */
	cmd(0x20, 0xFF, 0x83, NULL, 0);
	CHECK_EQ(import_key(&d), 0x6982);
	EVP_PKEY_free(k);
	end();
}

static void import_rsa3072_and_rsa4096(void)
{
	static struct data d;
	struct rsa_parts r3, r4;
	struct pub p3, p4;
	EVP_PKEY *k3 = rsa_keygen(3072, &r3);
	EVP_PKEY *k4 = rsa_keygen(4096, &r4);

	CHECK(k3 != NULL && k4 != NULL);
	pub_from_parts(&r3, &p3);
	pub_from_parts(&r4, &p4);
	begin();
	admin();
	CHECK_EQ(verify(0x81, pw1_default), SW_OK);
	CHECK_EQ(verify(0x82, pw1_default), SW_OK);
	CHECK_EQ(set_rsa_attr(2, 3072, 2), SW_OK);
	build_rsa_import(&d, 2, &r3, 2);
	CHECK_EQ(import_key(&d), SW_OK);
	CHECK(decipher_ok(NULL, &p3));
	CHECK_EQ(set_rsa_attr(1, 4096, 0), SW_OK);
	build_rsa_import(&d, 1, &r4, 0);
	CHECK_EQ(import_key(&d), SW_OK);
	CHECK(sign_ok(1, NULL, &p4));
	CHECK_EQ(set_rsa_attr(3, 4096, 3), SW_OK);
	build_rsa_import(&d, 3, &r4, 3);
	CHECK_EQ(import_key(&d), SW_OK);
	CHECK(sign_ok(3, NULL, &p4));
	CHECK_EQ(set_rsa_attr(2, 4096, 1), SW_OK);
	build_rsa_import(&d, 2, &r4, 1);
	CHECK_EQ(import_key(&d), SW_OK);
	CHECK(decipher_ok(NULL, &p4));
	/* a 3072-bit key into 4096-bit attributes */
	build_rsa_import(&d, 2, &r3, 1);
	CHECK(import_key(&d) != SW_OK);
	CHECK(decipher_ok(NULL, &p4));
	EVP_PKEY_free(k3);
	EVP_PKEY_free(k4);
	end();
}

/* Import an EC key for c into keyno (with the public key when with_pub)
 * and check it works. */
static void import_ec_one(int keyno, const struct curve *c, int with_pub)
{
	static struct data d;
	EVP_PKEY *k = keygen_ec(c);
	uint8_t priv[80], pt[160];
	size_t privl, ptl;
	struct pub pk, rd;
	struct comp comps[2];
	unsigned sw;

	CHECK(k != NULL);
	if (k == NULL)
		return;
	privl = ec_private_bytes(c, k, priv, sizeof(priv));
	ptl = ec_public_bytes(c, k, pt, sizeof(pt));
	CHECK(privl > 0 && ptl > 0);
	if (c->kind == X25519) {
		/* GnuPG sends the cv25519 secret as OpenPGP stores it: a
		 * big-endian integer, the RFC 7748 string reversed */
		for (size_t i = 0; i < privl / 2; i++) {
			uint8_t t = priv[i];
			priv[i] = priv[privl - 1 - i];
			priv[privl - 1 - i] = t;
		}
	}
	memset(&pk, 0, sizeof(pk));
	memcpy(pk.point, pt, ptl);
	pk.point_len = ptl;
	sw = set_ec_attr(keyno, ec_alg_for(keyno, c), c);
	CHECK_EQ(sw, SW_OK);
	comps[0] = (struct comp){ 0x92, priv, privl };
	comps[1] = (struct comp){ 0x99, pt, ptl };
	build_import(&d, keyno, comps, with_pub ? 2 : 1);
	sw = import_key(&d);
	if (sw != SW_OK)
		fprintf(stderr, "  import %d %s%s: %04X\n", keyno, c->name,
			with_pub ? " +99" : "", sw);
	CHECK_EQ(sw, SW_OK);
	if (sw == SW_OK) {
		CHECK_EQ(key_status(keyno), 0x02);
		CHECK_EQ(read_pub(keyno, &rd), SW_OK);
		CHECK(rd.point_len == ptl && memcmp(rd.point, pt, ptl) == 0);
		if (keyno == 2)
			CHECK(decipher_ok(c, &pk));
		else
			CHECK(sign_ok(keyno, c, &pk));
	}
	OPENSSL_cleanse(priv, sizeof(priv));
	EVP_PKEY_free(k);
}

static void import_ec_every_curve(void)
{
	begin();
	admin();
	CHECK_EQ(verify(0x81, pw1_default), SW_OK);
	CHECK_EQ(verify(0x82, pw1_default), SW_OK);
	for (size_t i = 0; i < N_CURVES; i++) {
		const struct curve *c = &curves[i];
		for (int with_pub = 0; with_pub <= 1; with_pub++) {
			if (c->kind != X25519) {
				import_ec_one(1, c, with_pub);
				import_ec_one(3, c, with_pub);
			}
			if (c->kind != ED25519)
				import_ec_one(2, c, with_pub);
		}
	}
	end();
}

/* What GnuPG may send: a scalar with its leading zero byte stripped, and
 * a Curve25519 public key with the 40 prefix of OpenPGP's encoding. */
static void import_accepts_gnupg_encodings(void)
{
	static struct data d;
	uint8_t scalar[32], pt[160];
	struct comp comps[2];
	struct pub a, b;
	size_t ptl;

	begin();
	admin();
	CHECK_EQ(verify(0x81, pw1_default), SW_OK);
	CHECK_EQ(verify(0x82, pw1_default), SW_OK);
	/* P-256: 00 || 31 bytes, sent as 31 and as 32 bytes */
	rand_bytes(scalar, sizeof(scalar));
	scalar[0] = 0x00;
	scalar[1] |= 0x01;
	CHECK_EQ(set_ec_attr(1, 0x13, &curves[0]), SW_OK);
	CHECK_EQ(set_ec_attr(3, 0x13, &curves[0]), SW_OK);
	comps[0] = (struct comp){ 0x92, scalar + 1, 31 };
	build_import(&d, 1, comps, 1);
	CHECK_EQ(import_key(&d), SW_OK);
	comps[0] = (struct comp){ 0x92, scalar, 32 };
	build_import(&d, 3, comps, 1);
	CHECK_EQ(import_key(&d), SW_OK);
	CHECK_EQ(read_pub(1, &a), SW_OK);
	CHECK_EQ(read_pub(3, &b), SW_OK);
	CHECK(a.point_len == 65 && b.point_len == 65 &&
	      memcmp(a.point, b.point, 65) == 0);
	CHECK(sign_ok(1, &curves[0], &a));
	/* 40 || public key for Ed25519 and X25519 */
	for (size_t i = 7; i <= 8; i++) {
		const struct curve *c = &curves[i];
		int keyno = c->kind == X25519 ? 2 : 1;
		EVP_PKEY *k = keygen_ec(c);
		uint8_t priv[32], pub40[33];
		size_t pl = ec_private_bytes(c, k, priv, sizeof(priv));
		struct pub pk;
		unsigned sw;

		ptl = ec_public_bytes(c, k, pt, sizeof(pt));
		CHECK(pl == 32 && ptl == 32);
		if (c->kind == X25519)
			for (size_t j = 0; j < 16; j++) {
				uint8_t t = priv[j];
				priv[j] = priv[31 - j];
				priv[31 - j] = t;
			}
		pub40[0] = 0x40;
		memcpy(pub40 + 1, pt, 32);
		CHECK_EQ(set_ec_attr(keyno, ec_alg_for(keyno, c), c), SW_OK);
		comps[0] = (struct comp){ 0x92, priv, 32 };
		comps[1] = (struct comp){ 0x99, pub40, 33 };
		build_import(&d, keyno, comps, 2);
		sw = import_key(&d);
		if (sw != SW_OK)
			fprintf(stderr, "  import %s with 40||pub: %04X\n",
				c->name, sw);
		CHECK_EQ(sw, SW_OK);
		memset(&pk, 0, sizeof(pk));
		memcpy(pk.point, pt, 32);
		pk.point_len = 32;
		if (sw == SW_OK)
			CHECK(keyno == 2 ? decipher_ok(c, &pk)
					 : sign_ok(1, c, &pk));
		OPENSSL_cleanse(priv, sizeof(priv));
		EVP_PKEY_free(k);
	}
	end();
}

static void import_ec_with_wrong_public_key_is_refused(void)
{
	static struct data d;
	const struct curve *c = &curves[0];
	EVP_PKEY *k = keygen_ec(c), *other = keygen_ec(c);
	uint8_t priv[80], pt[160];
	size_t privl, ptl;
	struct comp comps[2];
	unsigned sw;

	begin();
	admin();
	privl = ec_private_bytes(c, k, priv, sizeof(priv));
	ptl = ec_public_bytes(c, other, pt, sizeof(pt));
	CHECK_EQ(set_ec_attr(1, 0x13, c), SW_OK);
	comps[0] = (struct comp){ 0x92, priv, privl };
	comps[1] = (struct comp){ 0x99, pt, ptl };
	build_import(&d, 1, comps, 2);
	sw = import_key(&d);
	CHECK(sw == 0x6A80 || sw == 0x6700);
	CHECK_EQ(key_status(1), 0x00);
	/* a zero scalar, and the scalar n (the order) of P-256 */
	{
		static const uint8_t order[32] = {
			0xFF, 0xFF, 0xFF, 0xFF, 0x00, 0x00, 0x00, 0x00,
			0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
			0xBC, 0xE6, 0xFA, 0xAD, 0xA7, 0x17, 0x9E, 0x84,
			0xF3, 0xB9, 0xCA, 0xC2, 0xFC, 0x63, 0x25, 0x51
		};
		uint8_t zero[32] = { 0 };
		comps[0] = (struct comp){ 0x92, zero, 32 };
		build_import(&d, 1, comps, 1);
		CHECK(import_key(&d) != SW_OK);
		comps[0] = (struct comp){ 0x92, order, 32 };
		build_import(&d, 1, comps, 1);
		CHECK(import_key(&d) != SW_OK);
		/* longer than the field */
		uint8_t longer[33] = { 0 };
		memcpy(longer + 1, priv, 32);
		longer[0] = 0x01;
		comps[0] = (struct comp){ 0x92, longer, 33 };
		build_import(&d, 1, comps, 1);
		CHECK(import_key(&d) != SW_OK);
	}
	CHECK_EQ(key_status(1), 0x00);
	EVP_PKEY_free(k);
	EVP_PKEY_free(other);
	end();
}

/* An import split over CLA 10 APDUs of at most 200 bytes, as GnuPG
 * sends it to a card without extended Lc. */
static void import_by_command_chaining(void)
{
	static struct data d;
	struct rsa_parts r;
	struct pub pk;
	EVP_PKEY *k = rsa_keygen(2048, &r);
	size_t off = 0;
	int pieces = 0;

	pub_from_parts(&r, &pk);
	begin();
	admin();
	CHECK_EQ(set_rsa_attr(1, 2048, 3), SW_OK);
	build_rsa_import(&d, 1, &r, 3);
	while (off < d.n) {
		size_t n = d.n - off > 200 ? 200 : d.n - off;
		int last = off + n == d.n;
		unsigned sw = apdu_ex(last ? 0x00 : 0x10, 0xDB, 0x3F, 0xFF,
				      d.b + off, n, -1, 0);
		CHECK_EQ(sw, SW_OK);
		off += n;
		pieces++;
	}
	CHECK(pieces >= 4);
	CHECK_EQ(key_status(1), 0x02);
	CHECK_EQ(verify(0x81, pw1_default), SW_OK);
	CHECK(sign_ok(1, NULL, &pk));
	/* a chain interrupted by another command imports nothing */
	CHECK_EQ(apdu_ex(0x10, 0xDB, 0x3F, 0xFF, d.b, 200, -1, 0), SW_OK);
	CHECK_EQ(get_data(0xC4), SW_OK);
	CHECK(apdu_ex(0x00, 0xDB, 0x3F, 0xFF, d.b + 200, d.n - 200, -1, 1) !=
	      SW_OK);
	CHECK(sign_ok(1, NULL, &pk));
	EVP_PKEY_free(k);
	end();
}

static void key_information_tracks_generated_and_imported(void)
{
	static struct data d;
	struct pub k;
	EVP_PKEY *ek = keygen_ec(&curves[0]);
	uint8_t priv[32];
	struct comp comp;

	begin();
	CHECK_EQ(key_status(1), 0x00);
	CHECK_EQ(key_status(2), 0x00);
	CHECK_EQ(key_status(3), 0x00);
	admin();
	CHECK_EQ(set_ec_attr(1, 0x13, &curves[0]), SW_OK);
	CHECK_EQ(set_ec_attr(2, 0x12, &curves[0]), SW_OK);
	CHECK_EQ(generate(1, &k), SW_OK);
	CHECK_EQ(key_status(1), 0x01);
	CHECK_EQ(ec_private_bytes(&curves[0], ek, priv, sizeof(priv)), 32);
	comp = (struct comp){ 0x92, priv, 32 };
	build_import(&d, 2, &comp, 1);
	CHECK_EQ(import_key(&d), SW_OK);
	CHECK_EQ(key_status(2), 0x02);
	CHECK_EQ(key_status(3), 0x00);
	/* a generated key replaced by an import */
	build_import(&d, 1, &comp, 1);
	CHECK_EQ(import_key(&d), SW_OK);
	CHECK_EQ(key_status(1), 0x02);
	/* and the other way round */
	CHECK_EQ(generate(2, &k), SW_OK);
	CHECK_EQ(key_status(2), 0x01);
	/* the same in 6E */
	CHECK_EQ(read_app_data(), 0);
	{
		size_t l;
		const uint8_t *v = app_do(0xDE, &l);
		static const uint8_t want[] = { 1, 2, 2, 1, 3, 0 };
		CHECK(v != NULL && l == 6 && memcmp(v, want, 6) == 0);
	}
	reopen(VKEY_UP_AUTO);
	CHECK_EQ(select_pgp(), SW_OK);
	CHECK_EQ(key_status(1), 0x02);
	CHECK_EQ(key_status(2), 0x01);
	EVP_PKEY_free(ek);
	end();
}

static void fingerprints_and_dates_show_in_6e(void)
{
	uint8_t fp[9][20];
	uint8_t dates[3][4] = { { 0x5F, 0x00, 0x00, 0x01 },
				{ 0x5F, 0x00, 0x00, 0x02 },
				{ 0x65, 0x43, 0x21, 0x00 } };
	size_t l;
	const uint8_t *v;

	for (int i = 0; i < 9; i++)
		memset(fp[i], 0x10 + i, 20);
	begin();
	CHECK_EQ(put_data(0xC7, fp[0], 20), 0x6982);
	admin();
	for (int i = 0; i < 3; i++) {
		CHECK_EQ(put_data(0xC7 + (unsigned)i, fp[i], 20), SW_OK);
		CHECK_EQ(put_data(0xCA + (unsigned)i, fp[3 + i], 20), SW_OK);
		CHECK_EQ(put_data(0xCE + (unsigned)i, dates[i], 4), SW_OK);
	}
	{
		unsigned sw = put_data(0xC7, fp[0], 19);
		CHECK(sw == 0x6700 || sw == 0x6A80);
		sw = put_data(0xCE, dates[0], 5);
		CHECK(sw == 0x6700 || sw == 0x6A80);
	}
	reopen(VKEY_UP_AUTO);
	CHECK_EQ(select_pgp(), SW_OK);
	CHECK_EQ(read_app_data(), 0);
	v = app_do(0xC5, &l);
	CHECK(v != NULL && l == 60);
	if (v != NULL && l == 60)
		for (int i = 0; i < 3; i++)
			CHECK_MEM(v + 20 * i, fp[i], 20);
	v = app_do(0xC6, &l);
	CHECK(v != NULL && l == 60);
	if (v != NULL && l == 60)
		for (int i = 0; i < 3; i++)
			CHECK_MEM(v + 20 * i, fp[3 + i], 20);
	v = app_do(0xCD, &l);
	CHECK(v != NULL && l == 12);
	if (v != NULL && l == 12)
		for (int i = 0; i < 3; i++)
			CHECK_MEM(v + 4 * i, dates[i], 4);
	end();
}

static void attribute_change_deletes_key_fingerprint_and_date(void)
{
	uint8_t fp[20], date[4] = { 1, 2, 3, 4 };
	static const uint8_t zero[20] = { 0 };
	size_t l;
	const uint8_t *v;
	struct pub k;

	memset(fp, 0x42, sizeof(fp));
	begin();
	admin();
	CHECK_EQ(set_ec_attr(3, 0x13, &curves[0]), SW_OK);
	CHECK_EQ(generate(3, &k), SW_OK);
	CHECK_EQ(put_data(0xC9, fp, 20), SW_OK);
	CHECK_EQ(put_data(0xD0, date, 4), SW_OK);
	/* the same attributes again keep the key? The spec lets the card
	 * choose; a different curve must delete it */
	CHECK_EQ(set_ec_attr(3, 0x13, &curves[1]), SW_OK);
	CHECK_EQ(key_status(3), 0x00);
	{
		unsigned sw = read_pub(3, NULL);
		CHECK(sw == 0x6A88 || sw == 0x6A82);
	}
	CHECK_EQ(read_app_data(), 0);
	v = app_do(0xC5, &l);
	CHECK(v != NULL && l == 60 && memcmp(v + 40, zero, 20) == 0);
	v = app_do(0xCD, &l);
	CHECK(v != NULL && l == 12 && memcmp(v + 8, zero, 4) == 0);
	v = app_do(0xC3, &l);
	CHECK(v != NULL && l == 1 + curves[1].oid_len && v[0] == 0x13 &&
	      memcmp(v + 1, curves[1].oid, curves[1].oid_len) == 0);
	/* attributes need PW3 */
	cmd(0x20, 0xFF, 0x83, NULL, 0);
	CHECK_EQ(set_ec_attr(3, 0x13, &curves[0]), 0x6982);
	end();
}

/* --- user interaction flag ------------------------------------------------ */

static void uif_on_needs_presence(void)
{
	struct pub k;
	uint8_t h[32] = { 1 };
	unsigned sw;

	begin_up(VKEY_UP_DENY);
	CHECK_EQ(select_pgp(), SW_OK);
	admin();
	CHECK_EQ(set_ec_attr(1, 0x13, &curves[0]), SW_OK);
	CHECK_EQ(generate(1, &k), SW_OK);
	CHECK_EQ(put_data(0xD6, "\x01\x20", 2), SW_OK);
	CHECK_EQ(get_data(0xD6), SW_OK);
	CHECK(all_len == 2 && all[0] == 0x01 && all[1] == 0x20);
	CHECK_EQ(verify(0x81, pw1_default), SW_OK);
	sw = pso_sign(h, 32);
	CHECK_EQ(sw, SW_UIF_DENIED);
	CHECK_EQ(sig_counter(), 0);
	/* UIF of key 3 is off: authentication needs no touch */
	CHECK_EQ(set_ec_attr(3, 0x13, &curves[0]), SW_OK);
	{
		struct pub a;
		CHECK_EQ(generate(3, &a), SW_OK);
		CHECK_EQ(verify(0x82, pw1_default), SW_OK);
		CHECK(sign_ok(3, &curves[0], &a));
	}
	/* with presence approved it signs */
	reopen(VKEY_UP_AUTO);
	CHECK_EQ(select_pgp(), SW_OK);
	CHECK_EQ(verify(0x81, pw1_default), SW_OK);
	CHECK(sign_ok(1, &curves[0], &k));
	/* UIF of the decryption key */
	admin();
	CHECK_EQ(set_ec_attr(2, 0x12, &curves[0]), SW_OK);
	{
		struct pub dk;
		CHECK_EQ(generate(2, &dk), SW_OK);
		CHECK_EQ(put_data(0xD7, "\x01\x20", 2), SW_OK);
		CHECK_EQ(put_data(0xD8, "\x01\x20", 2), SW_OK);
		CHECK_EQ(verify(0x82, pw1_default), SW_OK);
		CHECK(decipher_ok(&curves[0], &dk));
		reopen(VKEY_UP_DENY);
		CHECK_EQ(select_pgp(), SW_OK);
		CHECK_EQ(verify(0x82, pw1_default), SW_OK);
		{
			/* a valid point: our own public key */
			struct data in86 = { .n = 0 }, in7f = { .n = 0 },
				    d = { .n = 0 };
			d_tlv(&in86, 0x86, dk.point, dk.point_len);
			d_tlv(&in7f, 0x7F49, in86.b, in86.n);
			d_tlv(&d, 0xA6, in7f.b, in7f.n);
			CHECK_EQ(pso_decipher(d.b, d.n), SW_UIF_DENIED);
		}
		CHECK_EQ(internal_auth(h, 32), SW_UIF_DENIED);
	}
	/* turning it off again */
	admin();
	CHECK_EQ(put_data(0xD6, "\x00\x20", 2), SW_OK);
	CHECK_EQ(verify(0x81, pw1_default), SW_OK);
	CHECK(sign_ok(1, &curves[0], &k));
	/* UIF needs PW3; bad values refused */
	cmd(0x20, 0xFF, 0x83, NULL, 0);
	CHECK_EQ(put_data(0xD6, "\x01\x20", 2), 0x6982);
	admin();
	CHECK(put_data(0xD6, "\x03\x20", 2) != SW_OK);
	CHECK(put_data(0xD6, "\x01", 1) != SW_OK);
	end();
}

static void uif_permanent_stays_until_factory_reset(void)
{
	unsigned sw;

	begin();
	admin();
	CHECK_EQ(put_data(0xD6, "\x02\x20", 2), SW_OK);
	sw = put_data(0xD6, "\x00\x20", 2);
	CHECK(sw != SW_OK);
	sw = put_data(0xD6, "\x01\x20", 2);
	CHECK(sw != SW_OK);
	CHECK_EQ(get_data(0xD6), SW_OK);
	CHECK(all_len == 2 && all[0] == 0x02);
	CHECK_EQ(terminate_df(), SW_OK);
	CHECK_EQ(activate_file(), SW_OK);
	CHECK_EQ(select_pgp(), SW_OK);
	CHECK_EQ(get_data(0xD6), SW_OK);
	CHECK(all_len == 2 && all[0] == 0x00);
	end();
}

/* --- KDF-DO ------------------------------------------------------------------ */

/* OpenPGP iterated and salted S2K (RFC 4880 3.7.1.3) with SHA-256. */
static void s2k_sha256(const uint8_t salt[8], const char *pin, uint32_t count,
		       uint8_t out[32])
{
	size_t pl = strlen(pin), unit = 8 + pl;
	size_t left = count < unit ? unit : count;
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	unsigned int ol = 0;

	CHECK(m != NULL && EVP_DigestInit_ex(m, EVP_sha256(), NULL) == 1);
	while (left > 0) {
		size_t n = left < 8 ? left : 8;
		EVP_DigestUpdate(m, salt, n);
		left -= n;
		n = left < pl ? left : pl;
		EVP_DigestUpdate(m, pin, n);
		left -= n;
	}
	EVP_DigestFinal_ex(m, out, &ol);
	EVP_MD_CTX_free(m);
}

static void kdf_do_iterated_salted_s2k(void)
{
	static const uint8_t salt1[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	static const uint8_t salt2[8] = { 9, 9, 9, 9, 9, 9, 9, 9 };
	static const uint8_t salt3[8] = { 8, 7, 6, 5, 4, 3, 2, 1 };
	const uint32_t count = 65536;
	uint8_t h1[32], h3[32], hnew[32], hrc[32];
	uint8_t cnt[4] = { (uint8_t)(count >> 24), (uint8_t)(count >> 16),
			   (uint8_t)(count >> 8), (uint8_t)count };
	struct data d = { .n = 0 };
	uint8_t s[7];
	size_t l;
	const uint8_t *v;

	s2k_sha256(salt1, pw1_default, count, h1);
	s2k_sha256(salt3, pw3_default, count, h3);
	d_tlv(&d, 0x81, "\x03", 1);
	d_tlv(&d, 0x82, "\x08", 1);
	d_tlv(&d, 0x83, cnt, 4);
	d_tlv(&d, 0x84, salt1, 8);
	d_tlv(&d, 0x85, salt2, 8);
	d_tlv(&d, 0x86, salt3, 8);
	d_tlv(&d, 0x87, h1, 32);
	d_tlv(&d, 0x88, h3, 32);
	CHECK_EQ(d.n, 110);

	begin();
	CHECK_EQ(put_data(0xF9, d.b, d.n), 0x6982);
	admin();
	CHECK_EQ(put_data(0xD3, "resetcode", 9), SW_OK);
	CHECK_EQ(put_data(0xF9, d.b, d.n), SW_OK);
	CHECK_EQ(get_data(0xF9), SW_OK);
	v = tlv_find(all, all_len, 0xF9, &l);
	if (v == NULL || tlv_count(all, all_len) != 1) {
		v = all;
		l = all_len;
	}
	CHECK(l == d.n && memcmp(v, d.b, d.n) == 0);
	/* the plain PINs no longer work; the hashed ones do */
	CHECK_EQ(verify(0x81, pw1_default), 0x63C2);
	CHECK_EQ(verify_bin(0x81, h1, 32), SW_OK);
	CHECK_EQ(verify_bin(0x82, h1, 32), SW_OK);
	CHECK_EQ(verify_bin(0x83, h3, 32), SW_OK);
	/* the resetting code is gone */
	pw_status(s);
	CHECK_EQ(s[5], 0);
	CHECK_EQ(s[4], 3);
	/* change PW1 to the hash of a new PIN */
	s2k_sha256(salt1, "654321", count, hnew);
	{
		uint8_t both[64];
		memcpy(both, h1, 32);
		memcpy(both + 32, hnew, 32);
		CHECK_EQ(cmd(0x24, 0x00, 0x81, both, 64), SW_OK);
	}
	CHECK_EQ(verify_bin(0x81, hnew, 32), SW_OK);
	/* a resetting code hashed with its own salt */
	s2k_sha256(salt2, "resetcode", count, hrc);
	CHECK_EQ(put_data(0xD3, hrc, 32), SW_OK);
	{
		uint8_t both[64];
		memcpy(both, hrc, 32);
		memcpy(both + 32, h1, 32);
		CHECK_EQ(cmd(0x2C, 0x00, 0x81, both, 64), SW_OK);
	}
	CHECK_EQ(verify_bin(0x81, h1, 32), SW_OK);
	/* survives a restart */
	reopen(VKEY_UP_AUTO);
	CHECK_EQ(select_pgp(), SW_OK);
	CHECK_EQ(verify_bin(0x83, h3, 32), SW_OK);
	CHECK_EQ(get_data(0xF9), SW_OK);
	CHECK(all_len >= d.n);
	/* back to no KDF: factory PINs in plain text */
	CHECK_EQ(put_data(0xF9, "\x81\x01\x00", 3), SW_OK);
	CHECK_EQ(verify(0x81, pw1_default), SW_OK);
	CHECK_EQ(verify(0x83, pw3_default), SW_OK);
	/* malformed KDF-DOs are refused and change nothing */
	{
		struct data bad = d;
		bad.b[2] = 0x07; /* unknown KDF algorithm */
		CHECK(put_data(0xF9, bad.b, bad.n) != SW_OK);
		bad = d;
		bad.b[5] = 0x01; /* unknown hash */
		CHECK(put_data(0xF9, bad.b, bad.n) != SW_OK);
		CHECK(put_data(0xF9, d.b, d.n - 5) != SW_OK); /* truncated */
	}
	CHECK_EQ(verify(0x81, pw1_default), SW_OK);
	end();
}

/* GnuPG's kdf-setup with a single salt: the 90-byte KDF-DO without 85
 * and 86, where every PIN is hashed with salt 84. */
static void kdf_do_single_salt_form(void)
{
	static const uint8_t salt[8] = { 0xA1, 0xB2, 0xC3, 0xD4,
					 0xE5, 0xF6, 0x07, 0x18 };
	const uint32_t count = 0x02000000 >> 9; /* 65536 */
	uint8_t h1[32], h3[32];
	uint8_t cnt[4] = { (uint8_t)(count >> 24), (uint8_t)(count >> 16),
			   (uint8_t)(count >> 8), (uint8_t)count };
	struct data d = { .n = 0 };

	s2k_sha256(salt, pw1_default, count, h1);
	s2k_sha256(salt, pw3_default, count, h3);
	d_tlv(&d, 0x81, "\x03", 1);
	d_tlv(&d, 0x82, "\x08", 1);
	d_tlv(&d, 0x83, cnt, 4);
	d_tlv(&d, 0x84, salt, 8);
	d_tlv(&d, 0x87, h1, 32);
	d_tlv(&d, 0x88, h3, 32);
	CHECK_EQ(d.n, 90);
	begin();
	admin();
	CHECK_EQ(put_data(0xF9, d.b, d.n), SW_OK);
	CHECK_EQ(verify_bin(0x81, h1, 32), SW_OK);
	CHECK_EQ(verify_bin(0x83, h3, 32), SW_OK);
	CHECK_EQ(get_data(0xF9), SW_OK);
	CHECK(all_len >= d.n);
	end();
}

/* --- TERMINATE DF / ACTIVATE FILE ------------------------------------------ */

static void check_factory_state(void)
{
	static const uint8_t pws[] = { 0x01, 0x7F, 0x7F, 0x7F, 0x03, 0x00, 0x03 };
	static const uint8_t rsa2048[] = { 0x01, 0x08, 0x00, 0x00, 0x20, 0x00 };
	static const uint8_t keyinfo[] = { 0x01, 0x00, 0x02, 0x00, 0x03, 0x00 };
	static const uint8_t zero[60] = { 0 };
	size_t l = 0, vl = 0;
	const uint8_t *v;

	CHECK_EQ(read_app_data(), 0);
	v = app_do(0xC4, &l);
	CHECK(v != NULL && l == 7 && memcmp(v, pws, 7) == 0);
	for (unsigned t = 0xC1; t <= 0xC3; t++) {
		v = app_do(t, &l);
		CHECK(v != NULL && l == 6 && memcmp(v, rsa2048, 6) == 0);
	}
	v = app_do(0xDE, &l);
	CHECK(v != NULL && l == 6 && memcmp(v, keyinfo, 6) == 0);
	v = app_do(0xC5, &l);
	CHECK(v != NULL && l == 60 && memcmp(v, zero, 60) == 0);
	v = app_do(0xCD, &l);
	CHECK(v != NULL && l == 12 && memcmp(v, zero, 12) == 0);
	CHECK_EQ(sig_counter(), 0);
	v = get_constructed(0x65, &l);
	CHECK(v != NULL && tlv_find(v, l, 0x5B, &vl) != NULL && vl == 0);
	CHECK_EQ(get_data(0x0101), SW_OK);
	CHECK_EQ(all_len, 0);
	CHECK_EQ(get_data(0x5F50), SW_OK);
	CHECK_EQ(all_len, 0);
	CHECK_EQ(get_data(0x7F21), SW_OK);
	CHECK_EQ(all_len, 0);
	CHECK_EQ(get_data(0xF9), SW_OK);
	CHECK(all_len == 3 || all_len == 5);
	for (int i = 1; i <= 3; i++) {
		unsigned sw = read_pub(i, NULL);
		CHECK(sw == 0x6A88 || sw == 0x6A82);
	}
	CHECK_EQ(verify(0x81, pw1_default), SW_OK);
	CHECK_EQ(verify(0x83, pw3_default), SW_OK);
	CHECK_EQ(cmd(0x20, 0xFF, 0x81, NULL, 0), SW_OK);
	CHECK_EQ(cmd(0x20, 0xFF, 0x83, NULL, 0), SW_OK);
}

/* Change as much as possible so a reset has something to undo. */
static void personalize(void)
{
	struct pub k;

	admin();
	CHECK_EQ(put_data(0x5B, "Doe<<Jane", 9), SW_OK);
	CHECK_EQ(put_data(0x5F50, "https://example.org/k", 21), SW_OK);
	CHECK_EQ(put_data(0x0102, "priv", 4), SW_OK);
	CHECK_EQ(put_data(0xC7, "01234567890123456789", 20), SW_OK);
	CHECK_EQ(put_data(0xCE, "\x60\x00\x00\x00", 4), SW_OK);
	CHECK_EQ(put_data(0xD3, "resetcode", 9), SW_OK);
	CHECK_EQ(put_data(0x7F21, "certificate", 11), SW_OK);
	CHECK_EQ(set_ec_attr(1, 0x16, &curves[7]), SW_OK);
	CHECK_EQ(generate(1, &k), SW_OK);
	CHECK_EQ(verify(0x81, pw1_default), SW_OK);
	CHECK(sign_ok(1, &curves[7], &k));
	CHECK_EQ(cmd(0x24, 0x00, 0x81, "123456abcdef", 12), SW_OK);
	CHECK_EQ(cmd(0x24, 0x00, 0x83, "12345678admin-pin", 17), SW_OK);
	CHECK_EQ(verify(0x83, "admin-pin"), SW_OK);
}

static void terminate_needs_pw3_then_activate_restores_factory(void)
{
	begin();
	personalize();
	cmd(0x20, 0xFF, 0x83, NULL, 0);
	CHECK_EQ(terminate_df(), 0x6982);
	CHECK_EQ(verify(0x81, "abcdef"), SW_OK);
	CHECK_EQ(terminate_df(), 0x6982); /* PW1 is not enough */
	CHECK_EQ(verify(0x83, "admin-pin"), SW_OK);
	CHECK_EQ(terminate_df(), SW_OK);
	/* terminated: only ACTIVATE FILE */
	CHECK(get_data(0x6E) != SW_OK);
	CHECK(verify(0x81, pw1_default) != SW_OK);
	CHECK_EQ(select_pgp(), 0x6285);
	CHECK(get_data(0xC4) != SW_OK);
	CHECK_EQ(activate_file(), SW_OK);
	CHECK_EQ(select_pgp(), SW_OK);
	check_factory_state();
	/* ACTIVATE FILE on an active card changes nothing */
	admin();
	CHECK_EQ(put_data(0x5B, "Keep<<Me", 8), SW_OK);
	CHECK_EQ(activate_file(), SW_OK);
	CHECK_EQ(select_pgp(), SW_OK);
	{
		size_t l = 0, vl = 0;
		const uint8_t *v = get_constructed(0x65, &l);
		const uint8_t *n = v ? tlv_find(v, l, 0x5B, &vl) : NULL;
		CHECK(n != NULL && vl == 8 && memcmp(n, "Keep<<Me", 8) == 0);
	}
	/* wrong P1/P2 */
	CHECK_EQ(cmd(0xE6, 0x01, 0x00, NULL, 0), 0x6A86);
	end();
}

static void terminate_allowed_when_pw3_blocked(void)
{
	unsigned sw;

	begin();
	personalize();
	cmd(0x20, 0xFF, 0x83, NULL, 0);
	verify(0x83, "wrong-admin");
	verify(0x83, "wrong-admin");
	sw = verify(0x83, "wrong-admin");
	CHECK(sw == 0x63C0 || sw == 0x6983);
	CHECK_EQ(verify(0x83, "admin-pin"), 0x6983);
	CHECK_EQ(terminate_df(), SW_OK);
	CHECK_EQ(select_pgp(), 0x6285);
	CHECK_EQ(activate_file(), SW_OK);
	CHECK_EQ(select_pgp(), SW_OK);
	check_factory_state();
	end();
}

static void terminated_state_survives_restart(void)
{
	begin();
	personalize();
	CHECK_EQ(terminate_df(), SW_OK);
	reopen(VKEY_UP_AUTO);
	CHECK_EQ(select_pgp(), 0x6285);
	CHECK(get_data(0x6E) != SW_OK);
	vkey_power_off(key);
	vkey_power_on(key);
	CHECK_EQ(select_pgp(), 0x6285);
	CHECK_EQ(activate_file(), SW_OK);
	reopen(VKEY_UP_AUTO);
	CHECK_EQ(select_pgp(), SW_OK);
	check_factory_state();
	end();
}

/* --- malformed input ---------------------------------------------------------- */

static void import_malformed_templates_are_refused(void)
{
	static struct data d, good;
	EVP_PKEY *k = keygen_ec(&curves[0]);
	uint8_t priv[32];
	struct comp comp;
	struct {
		const char *what;
		const char *hex;
	} bad[] = {
		{ "empty", "" },
		{ "4D only", "4D" },
		{ "4D length past the end", "4D 20 B6 00" },
		{ "4D 81 without length byte", "4D 81" },
		{ "4D with a 3-byte length", "4D 83 00 00 04 B6 00 7F 48" },
		{ "no 7F48", "4D 04 B6 00 5F 48 00" },
		{ "no 5F48", "4D 07 B6 00 7F 48 02 92 20" },
		{ "unknown CRT", "4D 0C B7 00 7F 48 02 92 01 5F 48 01 01" },
		{ "CRT with data", "4D 0D B6 01 00 7F 48 02 92 01 5F 48 01 01" },
		{ "7F48 length past 4D", "4D 0A B6 00 7F 48 40 92 01 5F 48 01" },
		{ "5F48 shorter than 7F48 says",
		  "4D 0C B6 00 7F 48 02 92 20 5F 48 02 01 02" },
		{ "5F48 longer than 7F48 says",
		  "4D 0D B6 00 7F 48 02 92 01 5F 48 03 01 02 03" },
		{ "7F48 length of 92 truncated", "4D 0B B6 00 7F 48 02 92 81 5F 48 00" },
		{ "7F48 with 83-byte length",
		  "4D 0E B6 00 7F 48 05 92 83 00 00 20 5F 48 00" },
		{ "unknown tag in 7F48",
		  "4D 0C B6 00 7F 48 02 98 01 5F 48 01 01" },
		{ "92 of length 0", "4D 0B B6 00 7F 48 02 92 00 5F 48 00" },
		{ "trailing bytes after 4D",
		  "4D 0C B6 00 7F 48 02 92 01 5F 48 01 01 00 00" },
	};
	unsigned sw;

	CHECK(k != NULL);
	ec_private_bytes(&curves[0], k, priv, sizeof(priv));
	comp = (struct comp){ 0x92, priv, 32 };
	build_import(&good, 1, &comp, 1);
	begin();
	admin();
	CHECK_EQ(set_ec_attr(1, 0x13, &curves[0]), SW_OK);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		d.n = check_unhex(bad[i].hex, d.b, sizeof(d.b));
		sw = import_key(&d);
		if (sw == SW_OK)
			fprintf(stderr, "  accepted: %s\n", bad[i].what);
		CHECK(sw != SW_OK);
		CHECK(sw != 0x6F00);
	}
	/* a P-256 key template truncated at every length */
	for (size_t n = 0; n < good.n; n++) {
		sw = cmd(0xDB, 0x3F, 0xFF, good.b, n);
		if (sw == SW_OK)
			fprintf(stderr, "  accepted truncated to %zu\n", n);
		CHECK(sw != SW_OK);
	}
	CHECK_EQ(key_status(1), 0x00);
	/* an RSA template with a 1024-bit key into RSA-2048 attributes */
	{
		struct rsa_parts r;
		EVP_PKEY *rk = rsa_keygen(1024, &r);
		CHECK_EQ(set_rsa_attr(1, 2048, 0), SW_OK);
		build_rsa_import(&d, 1, &r, 0);
		CHECK(import_key(&d) != SW_OK);
		/* p of length 0 */
		r.p_len = 0;
		build_rsa_import(&d, 1, &r, 0);
		CHECK(import_key(&d) != SW_OK);
		EVP_PKEY_free(rk);
	}
	CHECK_EQ(key_status(1), 0x00);
	/* wrong P1P2 for the odd PUT DATA */
	CHECK_EQ(set_ec_attr(1, 0x13, &curves[0]), SW_OK);
	sw = cmd(0xDB, 0x3F, 0xFE, good.b, good.n);
	CHECK(sw == 0x6A86 || sw == 0x6A88 || sw == 0x6A80);
	CHECK_EQ(import_key(&good), SW_OK);
	CHECK_EQ(key_status(1), 0x02);
	EVP_PKEY_free(k);
	end();
}

static void attributes_unknown_or_misplaced_are_refused(void)
{
	static const uint8_t unknown_oid[] = { 0x13, 0x2B, 0x81, 0x04, 0x00,
					       0x99 };
	static const uint8_t rsa1024[] = { 0x01, 0x04, 0x00, 0x00, 0x20, 0x00 };
	static const uint8_t rsa2047[] = { 0x01, 0x07, 0xFF, 0x00, 0x20, 0x00 };
	static const uint8_t rsa_fmt9[] = { 0x01, 0x08, 0x00, 0x00, 0x20, 0x09 };
	static const uint8_t rsa_short[] = { 0x01, 0x08, 0x00 };
	static const uint8_t alg99[] = { 0x99, 0x2A, 0x86, 0x48, 0xCE, 0x3D,
					 0x03, 0x01, 0x07 };
	static const uint8_t rsa2048[] = { 0x01, 0x08, 0x00, 0x00, 0x20, 0x00 };
	size_t l;
	const uint8_t *v;

	begin();
	admin();
	CHECK(set_attr(1, unknown_oid, sizeof(unknown_oid)) != SW_OK);
	CHECK(set_attr(1, rsa1024, sizeof(rsa1024)) != SW_OK);
	CHECK(set_attr(1, rsa2047, sizeof(rsa2047)) != SW_OK);
	CHECK(set_attr(1, rsa_fmt9, sizeof(rsa_fmt9)) != SW_OK);
	CHECK(set_attr(1, rsa_short, sizeof(rsa_short)) != SW_OK);
	CHECK(set_attr(1, alg99, sizeof(alg99)) != SW_OK);
	CHECK(set_attr(1, NULL, 0) != SW_OK);
	CHECK(set_attr(1, (const uint8_t *)"\x13", 1) != SW_OK);
	/* ECDH and X25519 do not sign; ECDSA and Ed25519 do not decipher */
	CHECK(set_ec_attr(1, 0x12, &curves[0]) != SW_OK);
	CHECK(set_ec_attr(1, 0x13, &curves[8]) != SW_OK);
	CHECK(set_ec_attr(1, 0x16, &curves[8]) != SW_OK);
	CHECK(set_ec_attr(3, 0x12, &curves[0]) != SW_OK);
	CHECK(set_ec_attr(2, 0x13, &curves[0]) != SW_OK);
	CHECK(set_ec_attr(2, 0x16, &curves[7]) != SW_OK);
	CHECK(set_ec_attr(2, 0x12, &curves[7]) != SW_OK);
	CHECK(set_ec_attr(1, 0x16, &curves[0]) != SW_OK);
	/* nothing changed */
	CHECK_EQ(read_app_data(), 0);
	for (unsigned t = 0xC1; t <= 0xC3; t++) {
		v = app_do(t, &l);
		CHECK(v != NULL && l == 6 && memcmp(v, rsa2048, 6) == 0);
	}
	/* the optional FF (public key with import) is accepted */
	{
		uint8_t a[16];
		a[0] = 0x13;
		memcpy(a + 1, curves[0].oid, curves[0].oid_len);
		a[1 + curves[0].oid_len] = 0xFF;
		CHECK_EQ(set_attr(1, a, 2 + curves[0].oid_len), SW_OK);
	}
	end();
}

/* A terminated card has nothing to attest, and the key's other CAs
 * (FIDO) are still exported. */
static void attestation_export_with_terminated_card(void)
{
	static char out[16384];

	begin();
	CHECK(vkey_report_attestation(key, out, sizeof(out)) > 0);
	CHECK(strstr(out, "BEGIN CERTIFICATE") != NULL);
	admin();
	CHECK_EQ(terminate_df(), SW_OK);
	out[0] = '\0';
	CHECK(vkey_report_attestation(key, out, sizeof(out)) > 0);
	CHECK(strstr(out, "BEGIN CERTIFICATE") != NULL);
	end();
}

/* Commands too short to hold a new PIN spend no try; an unknown DO is
 * unknown before it is forbidden. */
static void short_pin_commands_spend_no_try(void)
{
	uint8_t st[7];
	static const uint8_t rc[] = "reset-code-1";
	static const uint8_t junk[] = { 0x11, 0x22 };

	begin();
	for (int i = 0; i < 4; i++) {
		CHECK_EQ(cmd(0x24, 0x00, 0x81, NULL, 0), 0x6700);
		CHECK_EQ(cmd(0x24, 0x00, 0x83, "123456", 6), 0x6700);
		CHECK_EQ(cmd(0x24, 0x00, 0x81, "123456", 6), 0x6700);
	}
	pw_status(st);
	CHECK_EQ(st[4], 3);
	CHECK_EQ(st[6], 3);
	CHECK_EQ(put_data(0x00F3, junk, sizeof(junk)), 0x6A88);
	admin();
	CHECK_EQ(put_data(0x00D3, rc, sizeof(rc) - 1), SW_OK);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(cmd(0x2C, 0x00, 0x81, rc, sizeof(rc) - 1), 0x6700);
	pw_status(st);
	CHECK_EQ(st[5], 3);
	CHECK_EQ(verify(0x81, pw1_default), SW_OK);
	end();
}

static void wrong_p1p2_everywhere(void)
{
	uint8_t h[32] = { 0 };
	uint8_t crt[2] = { 0xB6, 0x00 };
	unsigned sw;

	begin();
	CHECK_EQ(cmd(0x20, 0x01, 0x81, pw1_default, 6), 0x6A86);
	CHECK_EQ(cmd(0x20, 0x00, 0x84, pw1_default, 6), 0x6A86);
	CHECK_EQ(cmd(0x20, 0x00, 0x80, pw1_default, 6), 0x6A86);
	CHECK_EQ(cmd(0x24, 0x00, 0x84, "123456abcdefg", 13), 0x6A86);
	CHECK_EQ(cmd(0x2C, 0x03, 0x81, "abcdefgh", 8), 0x6A86);
	admin();
	CHECK_EQ(cmd(0x47, 0x82, 0x00, crt, 2), 0x6A86);
	CHECK_EQ(cmd(0x47, 0x80, 0x01, crt, 2), 0x6A86);
	CHECK_EQ(verify(0x81, pw1_default), SW_OK);
	CHECK_EQ(verify(0x82, pw1_default), SW_OK);
	CHECK_EQ(cmd(0x2A, 0x9E, 0x9B, h, 32), 0x6A86);
	CHECK_EQ(cmd(0x2A, 0x80, 0x87, h, 32), 0x6A86);
	CHECK_EQ(cmd(0x2A, 0x00, 0x00, h, 32), 0x6A86);
	CHECK_EQ(cmd(0x88, 0x01, 0x00, h, 32), 0x6A86);
	CHECK_EQ(cmd(0x44, 0x00, 0x01, NULL, 0), 0x6A86);
	CHECK_EQ(cmd(0xE6, 0x00, 0x01, NULL, 0), 0x6A86);
	sw = select_data(0);
	CHECK_EQ(sw, SW_OK);
	{
		static const uint8_t sel[] = { 0x60, 0x04, 0x5C, 0x02, 0x7F,
					       0x21 };
		CHECK_EQ(cmd(0xA5, 0x00, 0x05, sel, sizeof(sel)), 0x6A86);
	}
	/* GET NEXT DATA of another DO than 7F21 */
	sw = cmd(0xCC, 0x00, 0x6E, NULL, 0);
	CHECK(sw == 0x6A86 || sw == 0x6A88);
	/* PUT DATA of DOs that cannot be written */
	sw = put_data(0x6E, "x", 1);
	CHECK(sw == 0x6A80 || sw == 0x6A88 || sw == 0x6A86 || sw == 0x6982);
	sw = put_data(0x4F, "x", 1);
	CHECK(sw == 0x6A80 || sw == 0x6A88 || sw == 0x6A86 || sw == 0x6982);
	sw = put_data(0x7A, "x", 1);
	CHECK(sw != SW_OK);
	/* an unknown instruction */
	CHECK_EQ(cmd(0x99, 0x00, 0x00, NULL, 0), 0x6D00);
	end();
}

static void overlong_command_data_is_refused(void)
{
	static uint8_t big[3000];
	unsigned sw;

	memset(big, 0x33, sizeof(big));
	begin();
	admin();
	/* more than the 2048 bytes 7F66 announces */
	sw = put_data(0x0102, big, sizeof(big));
	CHECK(sw == 0x6700 || sw == 0x6A84);
	sw = select_data(0);
	sw = put_data(0x7F21, big, 2049);
	CHECK(sw == 0x6700 || sw == 0x6A84);
	/* a PIN longer than 127 bytes */
	sw = verify_bin(0x81, big, 128);
	CHECK(sw != SW_OK);
	CHECK_EQ(verify(0x81, NULL), 0x63C3 - (sw == 0x63C2 ? 1 : 0));
	sw = verify_bin(0x83, big, 2049);
	CHECK(sw != SW_OK);
	admin();
	/* the attributes: far too long */
	CHECK(set_attr(1, big, 100) != SW_OK);
	/* ECDSA over more than a 64-byte hash */
	CHECK_EQ(set_ec_attr(1, 0x13, &curves[5]), SW_OK);
	CHECK_EQ(generate(1, NULL), SW_OK);
	CHECK_EQ(verify(0x81, pw1_default), SW_OK);
	sw = pso_sign(big, 65);
	CHECK(sw == 0x6700 || sw == 0x6A80);
	CHECK_EQ(pso_sign(big, 64), SW_OK);
	/* GET DATA with command data */
	sw = cmd(0xCA, 0x00, 0xC4, "x", 1);
	CHECK(sw == 0x6700 || sw == SW_OK);
	end();
}

static void wrong_class_bytes(void)
{
	begin();
	CHECK_EQ(apdu_ex(0x80, 0xCA, 0x00, 0xC4, NULL, 0, 0, 0), 0x6E00);
	CHECK_EQ(apdu_ex(0x20, 0xCA, 0x00, 0xC4, NULL, 0, 0, 0), 0x6E00);
	CHECK_EQ(apdu_ex(0xFF, 0xCA, 0x00, 0xC4, NULL, 0, 0, 0), 0x6E00);
	CHECK_EQ(apdu_ex(0x01, 0xCA, 0x00, 0xC4, NULL, 0, 0, 0), 0x6881);
	CHECK_EQ(apdu_ex(0x0C, 0xCA, 0x00, 0xC4, NULL, 0, 0, 0), 0x6882);
	CHECK_EQ(apdu_ex(0x80, 0x20, 0x00, 0x81, pw1_default, 6, -1, 0),
		 0x6E00);
	CHECK_EQ(verify(0x81, NULL), 0x63C3); /* nothing was counted */
	CHECK_EQ(apdu_ex(0x00, 0xCA, 0x00, 0xC4, NULL, 0, 0, 0), SW_OK);
	end();
}

static void two_keys_are_independent(void)
{
	struct check_key first;
	uint32_t s1;

	begin();
	admin();
	CHECK_EQ(put_data(0x5B, "First", 5), SW_OK);
	s1 = vkey_serial(key);
	first = tk;
	begin();
	CHECK(vkey_serial(key) != s1);
	{
		size_t l = 0, vl = 0;
		const uint8_t *v = get_constructed(0x65, &l);
		CHECK(v != NULL && tlv_find(v, l, 0x5B, &vl) != NULL &&
		      vl == 0);
	}
	CHECK_EQ(verify(0x83, NULL), 0x63C3);
	end();
	tk = first;
	key = tk.key;
	CHECK_EQ(verify(0x83, NULL), SW_OK);
	end();
}

/* --- attestation ------------------------------------------------------------ */

static X509 *der_cert(const uint8_t *der, size_t n)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)n);

	return x != NULL && p == der + n ? x : (X509_free(x), NULL);
}

/* The certificate of key keyno (occurrence 3 - keyno) verifies under the
 * CA of DO FC and holds the key GENERATE returned. */
static void attestation_cert_ok(int keyno, EVP_PKEY *card_key, X509 *ca)
{
	X509 *x;
	EVP_PKEY *ca_key = X509_get0_pubkey(ca);

	CHECK_EQ(select_data((uint8_t)(3 - keyno)), SW_OK);
	CHECK_EQ(get_data(0x7F21), SW_OK);
	x = der_cert(all, all_len);
	CHECK(x != NULL);
	if (x == NULL)
		return;
	CHECK_EQ(X509_verify(x, ca_key), 1);
	CHECK_EQ(X509_NAME_cmp(X509_get_issuer_name(x),
			       X509_get_subject_name(ca)), 0);
	CHECK_EQ(EVP_PKEY_eq(X509_get0_pubkey(x), card_key), 1);
	X509_free(x);
}

static void attestation_of_generated_keys(void)
{
	struct pub sig, aut;
	EVP_PKEY *ksig, *kaut;
	X509 *ca, *ca2;
	static struct data d;
	uint8_t scalar[32];
	struct comp comp;

	begin();
	admin();
	CHECK_EQ(set_ec_attr(1, 0x13, &curves[0]), SW_OK);
	CHECK_EQ(set_ec_attr(3, 0x16, &curves[7]), SW_OK);
	CHECK_EQ(generate(1, &sig), SW_OK);
	CHECK_EQ(generate(3, &aut), SW_OK);
	/* PW1 first */
	CHECK_EQ(apdu_ex(0x80, 0xFB, 0x01, 0x00, NULL, 0, -1, 0), 0x6982);
	CHECK_EQ(verify(0x82, pw1_default), SW_OK);
	/* CLA 00 is not the YubiKey command */
	CHECK_EQ(apdu_ex(0x00, 0xFB, 0x01, 0x00, NULL, 0, -1, 0), 0x6D00);
	CHECK_EQ(apdu_ex(0x80, 0xFB, 0x04, 0x00, NULL, 0, -1, 0), 0x6A86);
	/* no key in the decryption slot */
	CHECK_EQ(apdu_ex(0x80, 0xFB, 0x02, 0x00, NULL, 0, -1, 0), 0x6A88);
	CHECK_EQ(apdu_ex(0x80, 0xFB, 0x01, 0x00, NULL, 0, -1, 0), SW_OK);
	CHECK_EQ(apdu_ex(0x80, 0xFB, 0x03, 0x00, NULL, 0, -1, 0), SW_OK);
	CHECK_EQ(get_data(0x00FC), SW_OK);
	ca = der_cert(all, all_len);
	CHECK(ca != NULL);
	if (ca == NULL) {
		end();
		return;
	}
	CHECK_EQ(X509_verify(ca, X509_get0_pubkey(ca)), 1);
	ksig = ec_pub_key(&curves[0], sig.point, sig.point_len);
	kaut = ec_pub_key(&curves[7], aut.point, aut.point_len);
	attestation_cert_ok(1, ksig, ca);
	attestation_cert_ok(3, kaut, ca);
	/* an imported key cannot be attested */
	rand_bytes(scalar, sizeof(scalar));
	scalar[0] = 0x01;
	comp = (struct comp){ 0x92, scalar, 32 };
	build_import(&d, 1, &comp, 1);
	CHECK_EQ(import_key(&d), SW_OK);
	CHECK_EQ(apdu_ex(0x80, 0xFB, 0x01, 0x00, NULL, 0, -1, 0), 0x6985);
	/* the CA outlives a factory reset */
	CHECK_EQ(terminate_df(), SW_OK);
	CHECK_EQ(activate_file(), SW_OK);
	CHECK_EQ(select_pgp(), SW_OK);
	CHECK_EQ(get_data(0x00FC), SW_OK);
	ca2 = der_cert(all, all_len);
	CHECK(ca2 != NULL && X509_cmp(ca, ca2) == 0);
	X509_free(ca2);
	X509_free(ca);
	EVP_PKEY_free(ksig);
	EVP_PKEY_free(kaut);
	end();
}

int main(void)
{
	RUN(select_answers_fci_with_full_aid);
	RUN(get_data_6e_matches_factory_table);
	RUN(get_data_simple_dos_match_docs);
	RUN(get_data_fa_lists_every_algorithm);
	RUN(put_data_cardholder_dos);
	RUN(private_dos_access_rules);
	RUN(cardholder_certificates_three_occurrences);
	RUN(attestation_of_generated_keys);
	RUN(attestation_export_with_terminated_card);
	RUN(verify_good_bad_status_and_forget);
	RUN(verify_blocks_after_three_wrong);
	RUN(verify_counter_persists_across_reopen);
	RUN(change_reference_data_pw1_and_pw3);
	RUN(reset_retry_counter_with_resetting_code);
	RUN(reset_retry_counter_after_pw3);
	RUN(pw_status_byte_changes_with_pw3);
	RUN(generate_needs_pw3_and_reads_back);
	RUN(generate_rsa2048_sign_decipher_authenticate);
	RUN(generate_rsa4096_answer_chains_with_61xx);
	RUN(generate_every_curve_signs_and_authenticates);
	RUN(generate_every_curve_deciphers);
	RUN(signature_counter_counts_and_resets);
	RUN(pw_status_00_forces_verify_per_signature);
	RUN(each_key_needs_its_own_pin_reference);
	RUN(eddsa_signs_messages_longer_than_64_bytes);
	RUN(aes_encipher_decipher_round_trip);
	RUN(get_challenge_lengths);
	RUN(import_rsa2048_in_all_four_formats);
	RUN(import_rsa3072_and_rsa4096);
	RUN(import_ec_every_curve);
	RUN(import_accepts_gnupg_encodings);
	RUN(import_ec_with_wrong_public_key_is_refused);
	RUN(import_by_command_chaining);
	RUN(key_information_tracks_generated_and_imported);
	RUN(fingerprints_and_dates_show_in_6e);
	RUN(attribute_change_deletes_key_fingerprint_and_date);
	RUN(uif_on_needs_presence);
	RUN(uif_permanent_stays_until_factory_reset);
	RUN(kdf_do_iterated_salted_s2k);
	RUN(kdf_do_single_salt_form);
	RUN(terminate_needs_pw3_then_activate_restores_factory);
	RUN(terminate_allowed_when_pw3_blocked);
	RUN(terminated_state_survives_restart);
	RUN(import_malformed_templates_are_refused);
	RUN(attributes_unknown_or_misplaced_are_refused);
	RUN(short_pin_commands_spend_no_try);
	RUN(wrong_p1p2_everywhere);
	RUN(overlong_command_data_is_refused);
	RUN(wrong_class_bytes);
	RUN(two_keys_are_independent);
	return CHECK_DONE();
}
