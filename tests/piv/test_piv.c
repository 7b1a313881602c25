/* The PIV applet driven through vkey_open() + vkey_apdu() with raw APDUs,
 * as yubico-piv-tool, ykman and OpenSC send them. docs/PIV.md is the
 * reference; every signature, decryption, key agreement, management-key
 * cryptogram and attestation is checked independently with OpenSSL. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "../check_apdu.h"
#include "../check_ossl.h"
#include "../check_key.h"
#include "core/key.h"
#include "services/store.h"
#include "vkey/vkey.h"

#define SW_OK 0x9000
#define SW_WRONG_LENGTH 0x6700
#define SW_SECURITY 0x6982
#define SW_BLOCKED 0x6983
#define SW_CONDITIONS 0x6985
#define SW_BAD_DATA 0x6A80
#define SW_NOT_FOUND 0x6A82
#define SW_TOO_BIG 0x6A84
#define SW_BAD_P1P2 0x6A86
#define SW_NO_KEY 0x6A88
#define SW_BAD_INS 0x6D00
#define SW_BAD_CLA 0x6E00

/* Algorithm identifiers and references (docs/PIV.md). */
#define ALG_3DES 0x03
#define ALG_AES128 0x08
#define ALG_AES192 0x0A
#define ALG_AES256 0x0C
#define ALG_RSA1024 0x06
#define ALG_RSA2048 0x07
#define ALG_RSA3072 0x05
#define ALG_RSA4096 0x16
#define ALG_P256 0x11
#define ALG_P384 0x14
#define ALG_ED25519 0xE0
#define ALG_X25519 0xE1

#define PIN_NEVER 0x01
#define PIN_ONCE 0x02
#define PIN_ALWAYS 0x03
#define TOUCH_NEVER 0x01
#define TOUCH_ALWAYS 0x02
#define TOUCH_CACHED 0x03

#define ORIGIN_GENERATED 0x01
#define ORIGIN_IMPORTED 0x02

static struct check_key tk;

static const uint8_t piv_aid5[] = { 0xA0, 0x00, 0x00, 0x03, 0x08 };
static const uint8_t piv_aid_full[] = { 0xA0, 0x00, 0x00, 0x03, 0x08, 0x00,
					0x00, 0x10, 0x00, 0x01, 0x00 };
static const uint8_t mgmt_default_key[24] = {
	1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8,
};
static const char pin_default[] = "123456";
static const char puk_default[] = "12345678";

/* --- harness ------------------------------------------------------------ */

static unsigned select_piv(void);

static void begin_up(enum vkey_up_policy up)
{
	key = check_key_begin(&tk, "piv", up);
}

static void end(void)
{
	check_key_end(&tk);
	key = NULL;
}

/* Instructions that answer with data get Le. */
static int wants_le(uint8_t ins)
{
	switch (ins) {
	case 0xA4: case 0xCB: case 0x47: case 0x87: case 0xF7: case 0xF8:
	case 0xF9: case 0xFD:
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

/* The value of the one TLV that makes up p[0..n) when its tag is tag:
 * the whole input must be that TLV. */
static const uint8_t *tlv_whole(const uint8_t *p, size_t n, unsigned tag,
				size_t *len)
{
	const uint8_t *v = tlv_find(p, n, tag, len);

	if (v == NULL || v + *len != p + n)
		return NULL;
	return v;
}

/* A thread that approves the next user-presence request (PROMPT). */
struct toucher {
	pthread_t th;
	int approved;
};

static void *toucher_run(void *arg)
{
	struct toucher *t = arg;

	t->approved = vkey_touch(key, 3000) == 0;
	return NULL;
}

static void toucher_start(struct toucher *t)
{
	t->approved = 0;
	if (pthread_create(&t->th, NULL, toucher_run, t) != 0)
		abort();
}

static int toucher_join(struct toucher *t)
{
	pthread_join(t->th, NULL);
	return t->approved;
}

/* --- PIV commands --------------------------------------------------------- */

static unsigned select_piv(void)
{
	return cmd(0xA4, 0x04, 0x00, piv_aid5, sizeof(piv_aid5));
}

static void begin(void)
{
	begin_up(VKEY_UP_AUTO);
	CHECK_EQ(select_piv(), SW_OK);
}

/* Open the same state file again (a new process, as far as the applet
 * can tell) and select the applet. */
static void reopen(enum vkey_up_policy up)
{
	key = check_key_reopen(&tk, up);
	CHECK_EQ(select_piv(), SW_OK);
}

static void pad8(const char *pw, uint8_t out[8])
{
	size_t n = strlen(pw);

	memset(out, 0xFF, 8);
	memcpy(out, pw, n > 8 ? 8 : n);
}

/* VERIFY of reference ref with pw padded to 8 bytes (NULL: no data). */
static unsigned verify_ref(uint8_t ref, const char *pw)
{
	uint8_t b[8];

	if (pw == NULL)
		return cmd(0x20, 0x00, ref, NULL, 0);
	pad8(pw, b);
	return cmd(0x20, 0x00, ref, b, 8);
}

static unsigned verify(const char *pin)
{
	return verify_ref(0x80, pin);
}

static void pin_ok(void)
{
	CHECK_EQ(verify(pin_default), SW_OK);
}

/* CHANGE REFERENCE DATA (ins 24) or RESET RETRY COUNTER (ins 2C). */
static unsigned pw_pair(uint8_t ins, uint8_t ref, const char *a,
			const char *b)
{
	uint8_t v[16];

	pad8(a, v);
	pad8(b, v + 8);
	return cmd(ins, 0x00, ref, v, 16);
}

static unsigned change_pin(const char *old, const char *new_pin)
{
	return pw_pair(0x24, 0x80, old, new_pin);
}

static unsigned change_puk(const char *old, const char *new_puk)
{
	return pw_pair(0x24, 0x81, old, new_puk);
}

static unsigned unblock_pin(const char *puk, const char *new_pin)
{
	return pw_pair(0x2C, 0x80, puk, new_pin);
}

/* Spend every PIN try (or PUK try, with a wrong PUK in RESET RETRY). */
static void block_pin(void)
{
	for (int i = 0; i < 16 && verify("000000") != SW_BLOCKED; i++)
		;
	CHECK_EQ(verify(NULL), SW_BLOCKED);
}

static void block_puk(void)
{
	for (int i = 0; i < 16 && unblock_pin("00000000", "654321") !=
					  SW_BLOCKED;
	     i++)
		;
	CHECK_EQ(unblock_pin("00000000", "654321"), SW_BLOCKED);
}

static unsigned get_metadata(uint8_t ref)
{
	return cmd(0xF7, 0x00, ref, NULL, 0);
}

/* A one-byte (or two-byte) metadata field of the last answer; -1 when
 * absent or of another length. */
static int md_byte(unsigned tag, size_t idx, size_t want_len)
{
	size_t l;
	const uint8_t *v = tlv_find(all, all_len, tag, &l);

	if (v == NULL || l != want_len || idx >= l)
		return -1;
	return v[idx];
}

/* PIN (80) or PUK (81) metadata: default flag, total and left tries. */
static void pw_metadata(uint8_t ref, int is_default, int total, int left)
{
	CHECK_EQ(get_metadata(ref), SW_OK);
	CHECK_EQ(md_byte(0x01, 0, 1), 0xFF);
	CHECK_EQ(md_byte(0x05, 0, 1), is_default);
	CHECK_EQ(md_byte(0x06, 0, 2), total);
	CHECK_EQ(md_byte(0x06, 1, 2), left);
}

/* --- management key ------------------------------------------------------- */

static const EVP_CIPHER *mgmt_cipher(uint8_t alg)
{
	switch (alg) {
	case ALG_3DES:
		return EVP_des_ede3_ecb();
	case ALG_AES128:
		return EVP_aes_128_ecb();
	case ALG_AES192:
		return EVP_aes_192_ecb();
	case ALG_AES256:
		return EVP_aes_256_ecb();
	default:
		abort();
	}
}

static size_t mgmt_block(uint8_t alg)
{
	return alg == ALG_3DES ? 8 : 16;
}

static size_t mgmt_key_len(uint8_t alg)
{
	return alg == ALG_3DES ? 24 : alg == ALG_AES128 ? 16
				   : alg == ALG_AES192   ? 24
							 : 32;
}

/* One block through OpenSSL's ECB, no padding. */
static void mgmt_ecb(uint8_t alg, const uint8_t *k, int enc,
		     const uint8_t *in, uint8_t *out)
{
	EVP_CIPHER_CTX *c = EVP_CIPHER_CTX_new();
	int l1 = 0, l2 = 0;

	if (c == NULL ||
	    EVP_CipherInit_ex(c, mgmt_cipher(alg), NULL, k, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_set_padding(c, 0) != 1 ||
	    EVP_CipherUpdate(c, out, &l1, in, (int)mgmt_block(alg)) != 1 ||
	    EVP_CipherFinal_ex(c, out + l1, &l2) != 1 ||
	    (size_t)(l1 + l2) != mgmt_block(alg))
		abort();
	EVP_CIPHER_CTX_free(c);
}

static unsigned gen_auth_raw(uint8_t alg, uint8_t slot, const struct data *d)
{
	return cmd(0x87, alg, slot, d->b, d->n);
}

/* 7C { inner } */
static void dyn_auth(struct data *d, const struct data *inner)
{
	d->n = 0;
	d_tlv(d, 0x7C, inner->b, inner->n);
}

/* The value of tag inside the 7C answer of the last command. */
static const uint8_t *dyn_answer(unsigned tag, size_t *len)
{
	size_t l;
	const uint8_t *v = tlv_whole(all, all_len, 0x7C, &l);

	if (v == NULL)
		return NULL;
	return tlv_whole(v, l, tag, len);
}

/* Step 1 of mutual authentication: the witness (plain) or NULL. */
static unsigned mgmt_witness(uint8_t alg, const uint8_t *k, uint8_t *plain)
{
	struct data in = { .n = 0 }, d = { .n = 0 };
	const uint8_t *w;
	size_t wl = 0;
	unsigned sw;

	d_tlv(&in, 0x80, NULL, 0);
	dyn_auth(&d, &in);
	sw = gen_auth_raw(alg, 0x9B, &d);
	if (sw != SW_OK)
		return sw;
	w = dyn_answer(0x80, &wl);
	CHECK(w != NULL && wl == mgmt_block(alg));
	if (w == NULL || wl != mgmt_block(alg))
		return 0;
	mgmt_ecb(alg, k, 0, w, plain);
	return SW_OK;
}

/* Step 2: the decrypted witness and our challenge; checks the card's
 * encryption of the challenge. */
static unsigned mgmt_respond(uint8_t alg, const uint8_t *k,
			     const uint8_t *plain)
{
	struct data in = { .n = 0 }, d = { .n = 0 };
	uint8_t chal[16], expect[16];
	const uint8_t *r;
	size_t rl = 0, bl = mgmt_block(alg);
	unsigned sw;

	rand_bytes(chal, bl);
	d_tlv(&in, 0x80, plain, bl);
	d_tlv(&in, 0x81, chal, bl);
	dyn_auth(&d, &in);
	sw = gen_auth_raw(alg, 0x9B, &d);
	if (sw != SW_OK)
		return sw;
	mgmt_ecb(alg, k, 1, chal, expect);
	r = dyn_answer(0x82, &rl);
	CHECK(r != NULL && rl == bl && memcmp(r, expect, bl) == 0);
	return sw;
}

/* Mutual authentication as yubico-piv-tool and ykman do it. */
static unsigned mgmt_auth(uint8_t alg, const uint8_t *k)
{
	uint8_t plain[16];
	unsigned sw = mgmt_witness(alg, k, plain);

	if (sw != SW_OK)
		return sw;
	return mgmt_respond(alg, k, plain);
}

static void admin(void)
{
	CHECK_EQ(mgmt_auth(ALG_3DES, mgmt_default_key), SW_OK);
}

/* SET MANAGEMENT KEY; p2 FF (no touch) or FE (touch). */
static unsigned set_mgmt(uint8_t p2, uint8_t alg, const uint8_t *k,
			 size_t n)
{
	struct data d = { .n = 0 };

	d_u8(&d, alg);
	d_tlv(&d, 0x9B, k, n);
	return cmd(0xFF, 0xFF, p2, d.b, d.n);
}

/* --- data objects ------------------------------------------------------------ */

/* 5C with the id in 1, 2 or 3 bytes. */
static void obj_tag(struct data *d, uint32_t id)
{
	uint8_t b[3];
	size_t n = 0;

	if (id > 0xFFFF)
		b[n++] = (uint8_t)(id >> 16);
	if (id > 0xFF)
		b[n++] = (uint8_t)(id >> 8);
	b[n++] = (uint8_t)id;
	d_tlv(d, 0x5C, b, n);
}

static unsigned get_data(uint32_t id)
{
	struct data d = { .n = 0 };

	obj_tag(&d, id);
	return cmd(0xCB, 0x3F, 0xFF, d.b, d.n);
}

/* The content of the 53 answer of the last GET DATA (NULL if the answer
 * is not exactly one 53 TLV). */
static const uint8_t *obj_content(size_t *n)
{
	return tlv_whole(all, all_len, 0x53, n);
}

static unsigned put_data(uint32_t id, const void *v, size_t n)
{
	static struct data d;

	d.n = 0;
	obj_tag(&d, id);
	d_tlv(&d, 0x53, v, n);
	return cmd(0xDB, 0x3F, 0xFF, d.b, d.n);
}

/* GET DATA answers exactly 53 { v }. */
static int obj_is(uint32_t id, const void *v, size_t n)
{
	size_t l = 0;
	const uint8_t *c;

	if (get_data(id) != SW_OK)
		return 0;
	c = obj_content(&l);
	return c != NULL && l == n && memcmp(c, v, n) == 0;
}

/* --- keys ---------------------------------------------------------------------- */

enum kind { K_RSA, K_EC, K_ED25519, K_X25519 };

struct alg {
	uint8_t id;
	const char *name;
	enum kind kind;
	unsigned bits;     /* RSA modulus */
	const char *ossl;  /* EC group */
	const char *md;    /* hash for ECDSA */
	size_t field;      /* EC field size, 32 for the 25519 keys */
};

static const struct alg algs[] = {
	{ ALG_RSA1024, "RSA-1024", K_RSA, 1024, NULL, NULL, 0 },
	{ ALG_RSA2048, "RSA-2048", K_RSA, 2048, NULL, NULL, 0 },
	{ ALG_RSA3072, "RSA-3072", K_RSA, 3072, NULL, NULL, 0 },
	{ ALG_RSA4096, "RSA-4096", K_RSA, 4096, NULL, NULL, 0 },
	{ ALG_P256, "P-256", K_EC, 0, "prime256v1", "SHA256", 32 },
	{ ALG_P384, "P-384", K_EC, 0, "secp384r1", "SHA384", 48 },
	{ ALG_ED25519, "Ed25519", K_ED25519, 0, NULL, NULL, 32 },
	{ ALG_X25519, "X25519", K_X25519, 0, NULL, NULL, 32 },
};

static const struct alg *alg_of(uint8_t id)
{
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (algs[i].id == id)
			return &algs[i];
	abort();
}

/* A card public key as GENERATE or metadata give it. */
struct pub {
	const struct alg *a;
	uint8_t n[512];
	size_t n_len;
	uint8_t e[8];
	size_t e_len;
	uint8_t point[160];
	size_t point_len;
};

/* Parse 81/82 or 86 from p[0..n) into pk; 0 or -1. */
static int parse_pub_fields(const uint8_t *p, size_t n, const struct alg *a,
			    struct pub *pk)
{
	size_t vl;
	const uint8_t *v;

	memset(pk, 0, sizeof(*pk));
	pk->a = a;
	if (a->kind == K_RSA) {
		v = tlv_find(p, n, 0x81, &vl);
		if (v == NULL || vl > sizeof(pk->n))
			return -1;
		memcpy(pk->n, v, vl);
		pk->n_len = vl;
		v = tlv_find(p, n, 0x82, &vl);
		if (v == NULL || vl > sizeof(pk->e))
			return -1;
		memcpy(pk->e, v, vl);
		pk->e_len = vl;
		return 0;
	}
	v = tlv_find(p, n, 0x86, &vl);
	if (v == NULL || vl > sizeof(pk->point))
		return -1;
	memcpy(pk->point, v, vl);
	pk->point_len = vl;
	return 0;
}

/* The modulus without leading zeros has exactly the key's size, e is
 * 65537, and an EC point has its encoded size. */
static int pub_well_formed(const struct pub *pk)
{
	const struct alg *a = pk->a;
	size_t i = 0;
	static const uint8_t f4[] = { 0x01, 0x00, 0x01 };

	if (a->kind == K_RSA) {
		while (i < pk->e_len && pk->e[i] == 0)
			i++;
		return pk->n_len == a->bits / 8 && (pk->n[0] & 0x80) != 0 &&
		       pk->e_len - i == 3 && memcmp(pk->e + i, f4, 3) == 0;
	}
	if (a->kind == K_EC)
		return pk->point_len == 1 + 2 * a->field &&
		       pk->point[0] == 0x04;
	return pk->point_len == 32;
}

/* GENERATE into slot; pin/touch 0 leave the tag out. */
static unsigned generate(uint8_t slot, uint8_t alg, uint8_t pin,
			 uint8_t touch, struct pub *pk)
{
	struct data in = { .n = 0 }, d = { .n = 0 };
	unsigned sw;

	d_tlv_u8(&in, 0x80, alg);
	if (pin != 0)
		d_tlv_u8(&in, 0xAA, pin);
	if (touch != 0)
		d_tlv_u8(&in, 0xAB, touch);
	d_tlv(&d, 0xAC, in.b, in.n);
	sw = cmd(0x47, 0x00, slot, d.b, d.n);
	if (sw == SW_OK && pk != NULL) {
		size_t l = 0;
		const uint8_t *t = tlv_whole(all, all_len, 0x7F49, &l);

		CHECK(t != NULL);
		CHECK(t != NULL && parse_pub_fields(t, l, alg_of(alg), pk) == 0);
		CHECK(pub_well_formed(pk));
	}
	return sw;
}

/* GENERAL AUTHENTICATE with a key slot: 7C { 82 00, tag { in } }. The
 * result is left in ga[]. */
static uint8_t ga[1024];
static size_t ga_len;

static unsigned use_key(uint8_t alg, uint8_t slot, unsigned tag,
			const void *in, size_t n)
{
	static struct data inner, d;
	const uint8_t *r;
	size_t rl = 0;
	unsigned sw;

	inner.n = 0;
	d_tlv(&inner, 0x82, NULL, 0);
	d_tlv(&inner, tag, in, n);
	dyn_auth(&d, &inner);
	sw = gen_auth_raw(alg, slot, &d);
	ga_len = 0;
	if (sw != SW_OK)
		return sw;
	r = dyn_answer(0x82, &rl);
	CHECK(r != NULL && rl <= sizeof(ga));
	if (r != NULL && rl <= sizeof(ga)) {
		memcpy(ga, r, rl);
		ga_len = rl;
	}
	return sw;
}

static unsigned move_key(uint8_t to, uint8_t from)
{
	return cmd(0xF6, to, from, NULL, 0);
}

static unsigned attest(uint8_t slot)
{
	return cmd(0xF9, slot, 0x00, NULL, 0);
}

static EVP_PKEY *ec_point_key(const char *group, const uint8_t *pt, size_t n)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
	EVP_PKEY *pkey = NULL;
	OSSL_PARAM params[3];

	params[0] = OSSL_PARAM_construct_utf8_string(
		OSSL_PKEY_PARAM_GROUP_NAME, (char *)group, 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_PKEY_PARAM_PUB_KEY,
						      (void *)pt, n);
	params[2] = OSSL_PARAM_construct_end();
	if (ctx != NULL && EVP_PKEY_fromdata_init(ctx) == 1)
		EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
	EVP_PKEY_CTX_free(ctx);
	return pkey;
}

/* The card's public key as an OpenSSL key. */
static EVP_PKEY *pub_key(const struct pub *pk)
{
	switch (pk->a->kind) {
	case K_RSA:
		return rsa_pub_key(pk->n, pk->n_len, pk->e, pk->e_len);
	case K_EC:
		return ec_point_key(pk->a->ossl, pk->point, pk->point_len);
	case K_ED25519:
		return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
						   pk->point, pk->point_len);
	case K_X25519:
		return EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, NULL,
						   pk->point, pk->point_len);
	}
	return NULL;
}

static size_t digest(const char *md, const void *in, size_t n, uint8_t *out)
{
	unsigned int l = 0;

	if (EVP_Digest(in, n, out, &l, EVP_get_digestbyname(md), NULL) != 1)
		abort();
	return l;
}

/* DigestInfo of SHA-256(msg). */
static size_t digest_info_sha256(const char *msg, uint8_t out[51])
{
	static const uint8_t prefix[19] = { 0x30, 0x31, 0x30, 0x0d, 0x06,
					    0x09, 0x60, 0x86, 0x48, 0x01,
					    0x65, 0x03, 0x04, 0x02, 0x01,
					    0x05, 0x00, 0x04, 0x20 };

	memcpy(out, prefix, sizeof(prefix));
	digest("SHA256", msg, strlen(msg), out + 19);
	return 51;
}

/* EMSA-PKCS1-v1_5 block of k bytes: 00 01 FF.. 00 tbs. */
static void pkcs1_type1(const uint8_t *tbs, size_t n, uint8_t *out, size_t k)
{
	out[0] = 0x00;
	out[1] = 0x01;
	memset(out + 2, 0xFF, k - n - 3);
	out[k - n - 1] = 0x00;
	memcpy(out + k - n, tbs, n);
}

/* The card signs with an RSA key: raw operation on a block we pad;
 * OpenSSL verifies. */
static int rsa_sign_ok(uint8_t slot, const struct pub *pk)
{
	uint8_t di[51], block[512];
	size_t k = pk->n_len;
	EVP_PKEY *pkey = pub_key(pk);
	EVP_PKEY_CTX *ctx = pkey ? EVP_PKEY_CTX_new(pkey, NULL) : NULL;
	int ok;

	digest_info_sha256("signed by the PIV applet", di);
	pkcs1_type1(di, sizeof(di), block, k);
	ok = use_key(pk->a->id, slot, 0x81, block, k) == SW_OK &&
	     ga_len == k && ctx != NULL && EVP_PKEY_verify_init(ctx) == 1 &&
	     EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
	     EVP_PKEY_verify(ctx, ga, ga_len, di, sizeof(di)) == 1;
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	return ok;
}

/* OpenSSL encrypts (PKCS#1 v1.5) to the card's key; the card's raw
 * operation gives back the padded block 00 02 PS 00 msg. */
static int rsa_decipher_ok(uint8_t slot, const struct pub *pk)
{
	uint8_t msg[32], ct[512];
	size_t k = pk->n_len, cl = sizeof(ct);
	EVP_PKEY *pkey = pub_key(pk);
	EVP_PKEY_CTX *ctx = pkey ? EVP_PKEY_CTX_new(pkey, NULL) : NULL;
	int ok = 0;

	rand_bytes(msg, sizeof(msg));
	if (ctx != NULL && EVP_PKEY_encrypt_init(ctx) == 1 &&
	    EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) == 1 &&
	    EVP_PKEY_encrypt(ctx, ct, &cl, msg, sizeof(msg)) == 1 &&
	    cl == k && use_key(pk->a->id, slot, 0x81, ct, cl) == SW_OK &&
	    ga_len == k) {
		ok = ga[0] == 0x00 && ga[1] == 0x02 &&
		     ga[k - sizeof(msg) - 1] == 0x00 &&
		     memcmp(ga + k - sizeof(msg), msg, sizeof(msg)) == 0 &&
		     memchr(ga + 2, 0x00, k - sizeof(msg) - 3) == NULL;
	}
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	return ok;
}

/* ECDSA over a hash of hl bytes (DER answer), or Ed25519 over a
 * message; verified by OpenSSL. */
static int ec_sign_hash_ok(uint8_t slot, const struct pub *pk,
			   const uint8_t *h, size_t hl)
{
	EVP_PKEY *pkey = pub_key(pk);
	EVP_PKEY_CTX *ctx = pkey ? EVP_PKEY_CTX_new(pkey, NULL) : NULL;
	int ok = use_key(pk->a->id, slot, 0x81, h, hl) == SW_OK &&
		 ctx != NULL && ga_len > 0 && ga[0] == 0x30 &&
		 EVP_PKEY_verify_init(ctx) == 1 &&
		 EVP_PKEY_verify(ctx, ga, ga_len, h, hl) == 1;

	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pkey);
	return ok;
}

static int ed_sign_msg_ok(uint8_t slot, const struct pub *pk,
			  const uint8_t *msg, size_t n)
{
	EVP_PKEY *pkey = pub_key(pk);
	EVP_MD_CTX *m = EVP_MD_CTX_new();
	int ok = use_key(pk->a->id, slot, 0x81, msg, n) == SW_OK &&
		 ga_len == 64 && pkey != NULL && m != NULL &&
		 EVP_DigestVerifyInit(m, NULL, NULL, NULL, pkey) == 1 &&
		 EVP_DigestVerify(m, ga, ga_len, msg, n) == 1;

	EVP_MD_CTX_free(m);
	EVP_PKEY_free(pkey);
	return ok;
}

/* Sign with whatever key the slot holds. */
static int sign_ok(uint8_t slot, const struct pub *pk)
{
	uint8_t h[64], msg[100];

	switch (pk->a->kind) {
	case K_RSA:
		return rsa_sign_ok(slot, pk);
	case K_EC:
		return ec_sign_hash_ok(slot, pk, h,
				       digest(pk->a->md, "msg", 3, h));
	case K_ED25519:
		rand_bytes(msg, sizeof(msg));
		return ed_sign_msg_ok(slot, pk, msg, sizeof(msg));
	default:
		return 0;
	}
}

static EVP_PKEY *host_keygen(const struct alg *a)
{
	if (a->kind == K_EC)
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", a->ossl);
	return EVP_PKEY_Q_keygen(NULL, NULL,
				 a->kind == K_X25519 ? "X25519" : "ED25519");
}

/* Public key bytes as the card takes them: 04||X||Y or 32 raw bytes. */
static size_t host_public(const struct alg *a, EVP_PKEY *k, uint8_t *out,
			  size_t cap)
{
	size_t n = cap;

	if (a->kind != K_EC)
		return EVP_PKEY_get_raw_public_key(k, out, &n) == 1 ? n : 0;
	return EVP_PKEY_get_octet_string_param(k, OSSL_PKEY_PARAM_PUB_KEY, out,
					       cap, &n) == 1
		       ? n
		       : 0;
}

/* Private scalar, big-endian, padded to the field size (or the raw 32
 * bytes of an Ed25519 seed / X25519 scalar). */
static size_t host_private(const struct alg *a, EVP_PKEY *k, uint8_t *out,
			   size_t cap)
{
	size_t n = cap;
	BIGNUM *d = NULL;

	if (a->kind != K_EC)
		return EVP_PKEY_get_raw_private_key(k, out, &n) == 1 ? n : 0;
	if (EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_PRIV_KEY, &d) != 1)
		return 0;
	n = BN_bn2binpad(d, out, (int)a->field) > 0 ? a->field : 0;
	BN_clear_free(d);
	return n;
}

/* The card's ECDH (85) with a fresh host key equals OpenSSL's. */
static int ecdh_ok(uint8_t slot, const struct pub *pk)
{
	EVP_PKEY *host = host_keygen(pk->a);
	EVP_PKEY *card = pub_key(pk);
	EVP_PKEY_CTX *ctx = host ? EVP_PKEY_CTX_new(host, NULL) : NULL;
	uint8_t pt[160], z[80];
	size_t ptl = host ? host_public(pk->a, host, pt, sizeof(pt)) : 0;
	size_t zl = sizeof(z);
	int ok = ptl > 0 && card != NULL && ctx != NULL &&
		 EVP_PKEY_derive_init(ctx) == 1 &&
		 EVP_PKEY_derive_set_peer(ctx, card) == 1 &&
		 EVP_PKEY_derive(ctx, z, &zl) == 1 &&
		 use_key(pk->a->id, slot, 0x85, pt, ptl) == SW_OK &&
		 ga_len == zl && memcmp(ga, z, zl) == 0;

	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(card);
	EVP_PKEY_free(host);
	return ok;
}

/* The slot's metadata: alg, policies, origin and the public key
 * fields equal pk's. */
static void key_metadata_is(uint8_t slot, const struct pub *pk, int pin,
			    int touch, int origin)
{
	size_t l = 0;
	const uint8_t *v;
	struct pub m;

	CHECK_EQ(get_metadata(slot), SW_OK);
	CHECK_EQ(md_byte(0x01, 0, 1), pk->a->id);
	CHECK_EQ(md_byte(0x02, 0, 2), pin);
	CHECK_EQ(md_byte(0x02, 1, 2), touch);
	CHECK_EQ(md_byte(0x03, 0, 1), origin);
	v = tlv_find(all, all_len, 0x04, &l);
	CHECK(v != NULL);
	if (v == NULL)
		return;
	CHECK_EQ(parse_pub_fields(v, l, pk->a, &m), 0);
	CHECK_EQ(m.n_len, pk->n_len);
	CHECK(memcmp(m.n, pk->n, pk->n_len) == 0);
	CHECK_EQ(m.e_len, pk->e_len);
	CHECK(memcmp(m.e, pk->e, pk->e_len) == 0);
	CHECK_EQ(m.point_len, pk->point_len);
	CHECK(memcmp(m.point, pk->point, pk->point_len) == 0);
}

/* --- key import ---------------------------------------------------------------- */

static size_t bn_param(EVP_PKEY *k, const char *name, uint8_t *out,
		       size_t pad)
{
	BIGNUM *b = NULL;
	int n;

	if (EVP_PKEY_get_bn_param(k, name, &b) != 1)
		abort();
	n = BN_bn2binpad(b, out, (int)pad);
	BN_clear_free(b);
	if (n <= 0)
		abort();
	return (size_t)n;
}

/* An OpenSSL RSA key of the given size: its public half as the card
 * would give it, and the IMPORT KEY data with each CRT value padded
 * with leading zeros to extra + half the modulus size. */
struct rsa_import {
	EVP_PKEY *k;
	struct pub pk;
	struct data d;
};

static void rsa_host_key(const struct alg *a, struct rsa_import *ri)
{
	ri->k = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)a->bits);
	if (ri->k == NULL)
		abort();
	memset(&ri->pk, 0, sizeof(ri->pk));
	ri->pk.a = a;
	ri->pk.n_len = bn_param(ri->k, OSSL_PKEY_PARAM_RSA_N, ri->pk.n,
				a->bits / 8);
	ri->pk.e_len = bn_param(ri->k, OSSL_PKEY_PARAM_RSA_E, ri->pk.e, 3);
}

static void rsa_import_data(struct rsa_import *ri, size_t extra)
{
	static const char *const names[5] = {
		OSSL_PKEY_PARAM_RSA_FACTOR1, OSSL_PKEY_PARAM_RSA_FACTOR2,
		OSSL_PKEY_PARAM_RSA_EXPONENT1, OSSL_PKEY_PARAM_RSA_EXPONENT2,
		OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
	};
	uint8_t v[300];
	size_t half = ri->pk.a->bits / 16;

	ri->d.n = 0;
	for (unsigned i = 0; i < 5; i++) {
		size_t n = bn_param(ri->k, names[i], v, half + extra);

		d_tlv(&ri->d, i + 1, v, n);
		OPENSSL_cleanse(v, sizeof(v));
	}
}

static unsigned import_key(uint8_t alg, uint8_t slot, const struct data *d)
{
	return cmd(0xFE, alg, slot, d->b, d->n);
}

/* An EC, Ed25519 or X25519 host key, its import data (06, 07 or 08)
 * and its public half as the card gives it. */
static EVP_PKEY *ec_host_import(const struct alg *a, struct data *d,
				struct pub *pk)
{
	EVP_PKEY *k = host_keygen(a);
	uint8_t priv[64];
	size_t n;
	unsigned tag = a->kind == K_EC ? 0x06 : a->kind == K_ED25519 ? 0x07
								    : 0x08;

	if (k == NULL)
		abort();
	n = host_private(a, k, priv, sizeof(priv));
	CHECK_EQ(n, a->field);
	d->n = 0;
	d_tlv(d, tag, priv, n);
	OPENSSL_cleanse(priv, sizeof(priv));
	memset(pk, 0, sizeof(*pk));
	pk->a = a;
	pk->point_len = host_public(a, k, pk->point, sizeof(pk->point));
	return k;
}

/* --- X.509 ------------------------------------------------------------------------ */

static X509 *der_cert(const uint8_t *der, size_t n)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)n);

	if (x != NULL && p != der + n) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

/* The certificate in object 5FFF01: content 70 { DER } 71 .. FE .., as
 * ykman writes certificates, or the bare DER. */
static X509 *attestation_ca(void)
{
	size_t l = 0, cl = 0;
	const uint8_t *c, *der;

	if (get_data(0x5FFF01) != SW_OK)
		return NULL;
	c = obj_content(&l);
	if (c == NULL)
		return NULL;
	if (l > 0 && c[0] == 0x70 &&
	    (der = tlv_find(c, l, 0x70, &cl)) != NULL)
		return der_cert(der, cl);
	return der_cert(c, l);
}

/* The DER of extension oid in x (NULL when absent). */
static const ASN1_OCTET_STRING *ext_data(X509 *x, const char *oid)
{
	ASN1_OBJECT *o = OBJ_txt2obj(oid, 1);
	int i = o ? X509_get_ext_by_OBJ(x, o, -1) : -1;
	X509_EXTENSION *e = i >= 0 ? X509_get_ext(x, i) : NULL;

	ASN1_OBJECT_free(o);
	return e ? X509_EXTENSION_get_data(e) : NULL;
}

/* An attestation of slot: signed by ca's key, issued by ca's subject,
 * holding pk and Yubico's extensions with the right values. */
static void attestation_ok(uint8_t slot, const struct pub *pk, X509 *ca,
			   int pin, int touch)
{
	X509 *x;
	EVP_PKEY *k = pub_key(pk);
	const ASN1_OCTET_STRING *fw, *sn, *pol, *ff;
	uint32_t serial = vkey_serial(key);

	CHECK_EQ(attest(slot), SW_OK);
	x = der_cert(all, all_len);
	CHECK(x != NULL);
	if (x == NULL || ca == NULL) {
		X509_free(x);
		EVP_PKEY_free(k);
		return;
	}
	CHECK_EQ(X509_verify(x, X509_get0_pubkey(ca)), 1);
	CHECK_EQ(X509_NAME_cmp(X509_get_issuer_name(x),
			       X509_get_subject_name(ca)), 0);
	CHECK_EQ(EVP_PKEY_eq(X509_get0_pubkey(x), k), 1);
	fw = ext_data(x, "1.3.6.1.4.1.41482.3.3");
	sn = ext_data(x, "1.3.6.1.4.1.41482.3.7");
	pol = ext_data(x, "1.3.6.1.4.1.41482.3.8");
	ff = ext_data(x, "1.3.6.1.4.1.41482.3.9");
	CHECK(fw != NULL && ASN1_STRING_length(fw) == 3 &&
	      memcmp(ASN1_STRING_get0_data(fw), "\x05\x07\x01", 3) == 0);
	CHECK(sn != NULL);
	if (sn != NULL) {
		/* the serial as a DER INTEGER */
		const unsigned char *p = ASN1_STRING_get0_data(sn);
		ASN1_INTEGER *ai = d2i_ASN1_INTEGER(NULL, &p,
						    ASN1_STRING_length(sn));
		uint64_t v = 0;

		CHECK(ai != NULL && ASN1_INTEGER_get_uint64(&v, ai) == 1 &&
		      v == serial);
		ASN1_INTEGER_free(ai);
	}
	CHECK(pol != NULL && ASN1_STRING_length(pol) == 2 &&
	      ASN1_STRING_get0_data(pol)[0] == pin &&
	      ASN1_STRING_get0_data(pol)[1] == touch);
	CHECK(ff != NULL && ASN1_STRING_length(ff) == 1);
	X509_free(x);
	EVP_PKEY_free(k);
}

/* --- identity ------------------------------------------------------------------ */

static const uint8_t apt[] = { 0x61, 0x11, 0x4F, 0x06, 0x00, 0x00, 0x10,
			       0x00, 0x01, 0x00, 0x79, 0x07, 0x4F, 0x05,
			       0xA0, 0x00, 0x00, 0x03, 0x08 };

static void select_answers_property_template(void)
{
	begin_up(VKEY_UP_AUTO);
	CHECK_EQ(select_piv(), SW_OK);
	CHECK_EQ(all_len, sizeof(apt));
	CHECK_MEM(all, apt, sizeof(apt));
	CHECK_EQ(cmd(0xA4, 0x04, 0x00, piv_aid_full, sizeof(piv_aid_full)),
		 SW_OK);
	CHECK_EQ(all_len, sizeof(apt));
	CHECK_MEM(all, apt, sizeof(apt));
	/* P2 0C: no data */
	CHECK_EQ(cmd(0xA4, 0x04, 0x0C, piv_aid5, sizeof(piv_aid5)), SW_OK);
	CHECK_EQ(all_len, 0);
	end();
}

static void get_version_and_serial(void)
{
	uint32_t s;

	begin();
	CHECK_EQ(cmd(0xFD, 0x00, 0x00, NULL, 0), SW_OK);
	CHECK_EQ(all_len, 3);
	CHECK_MEM(all, "\x05\x07\x01", 3);
	CHECK_EQ(cmd(0xF8, 0x00, 0x00, NULL, 0), SW_OK);
	CHECK_EQ(all_len, 4);
	s = vkey_serial(key);
	CHECK(all_len == 4 && all[0] == (uint8_t)(s >> 24) &&
	      all[1] == (uint8_t)(s >> 16) && all[2] == (uint8_t)(s >> 8) &&
	      all[3] == (uint8_t)s);
	end();
}

static void class_and_instruction_errors(void)
{
	begin();
	CHECK_EQ(apdu_ex(0x80, 0xFD, 0x00, 0x00, NULL, 0, 0, 0), SW_BAD_CLA);
	CHECK_EQ(apdu_ex(0x20, 0xFD, 0x00, 0x00, NULL, 0, 0, 0), SW_BAD_CLA);
	CHECK_EQ(apdu_ex(0xFF, 0xFD, 0x00, 0x00, NULL, 0, 0, 0), SW_BAD_CLA);
	CHECK_EQ(apdu_ex(0x84, 0xFD, 0x00, 0x00, NULL, 0, 0, 0), SW_BAD_CLA);
	/* logical channels and secure messaging: the core's answers */
	CHECK_EQ(apdu_ex(0x01, 0xFD, 0x00, 0x00, NULL, 0, 0, 0), 0x6881);
	CHECK_EQ(apdu_ex(0x04, 0xFD, 0x00, 0x00, NULL, 0, 0, 0), 0x6882);
	CHECK_EQ(apdu_ex(0x0C, 0xFD, 0x00, 0x00, NULL, 0, 0, 0), 0x6882);
	/* a refused class counts no PIN try */
	{
		uint8_t pin[8];

		pad8("000000", pin);
		CHECK_EQ(apdu_ex(0x80, 0x20, 0x00, 0x80, pin, 8, -1, 0),
			 SW_BAD_CLA);
		CHECK_EQ(verify(NULL), 0x63C3);
	}
	CHECK_EQ(apdu_ex(0x00, 0x01, 0x00, 0x00, NULL, 0, 0, 0), SW_BAD_INS);
	CHECK_EQ(apdu_ex(0x00, 0xCA, 0x00, 0x00, NULL, 0, 0, 0), SW_BAD_INS);
	CHECK_EQ(apdu_ex(0x00, 0xEE, 0x00, 0x00, NULL, 0, 0, 0), SW_BAD_INS);
	/* the applet is still there */
	CHECK_EQ(cmd(0xFD, 0x00, 0x00, NULL, 0), SW_OK);
	end();
}

/* --- data objects ---------------------------------------------------------------- */

static const uint8_t discovery[] = { 0x7E, 0x12, 0x4F, 0x0B, 0xA0, 0x00,
				     0x00, 0x03, 0x08, 0x00, 0x00, 0x10,
				     0x00, 0x01, 0x00, 0x5F, 0x2F, 0x02,
				     0x40, 0x00 };

static void discovery_object_is_built_in(void)
{
	begin();
	CHECK_EQ(get_data(0x7E), SW_OK);
	CHECK_EQ(all_len, sizeof(discovery));
	CHECK_MEM(all, discovery, sizeof(discovery));
	/* the biometric group template is absent until written */
	CHECK_EQ(get_data(0x7F61), SW_NOT_FOUND);
	end();
}

/* Every id of docs/PIV.md but the PIN-protected ones and 5FFF01. */
static size_t free_ids(uint32_t *ids)
{
	size_t n = 0;

	for (uint32_t id = 0x5FC101; id <= 0x5FC124; id++)
		if (id != 0x5FC103 && id != 0x5FC108 && id != 0x5FC109 &&
		    id != 0x5FC121)
			ids[n++] = id;
	ids[n++] = 0x5FFF00;
	ids[n++] = 0x7F61;
	return n;
}

static void object_content(uint32_t id, uint8_t *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		v[i] = (uint8_t)(id * 7 + i * 13);
}

static void put_get_every_container(void)
{
	uint32_t ids[64];
	size_t n = free_ids(ids);
	uint8_t v[300];

	begin();
	for (size_t i = 0; i < n; i++)
		CHECK_EQ(get_data(ids[i]), SW_NOT_FOUND);
	admin();
	for (size_t i = 0; i < n; i++) {
		object_content(ids[i], v, 10 + 20 * i % 290);
		CHECK_EQ(put_data(ids[i], v, 10 + 20 * i % 290), SW_OK);
	}
	/* reading needs nothing, and survives a restart */
	reopen(VKEY_UP_AUTO);
	for (size_t i = 0; i < n; i++) {
		object_content(ids[i], v, 10 + 20 * i % 290);
		if (!obj_is(ids[i], v, 10 + 20 * i % 290)) {
			fprintf(stderr, "object %06x\n", (unsigned)ids[i]);
			CHECK(0);
		}
	}
	/* a rewrite replaces, 53 00 deletes */
	admin();
	CHECK_EQ(put_data(0x5FC102, "new", 3), SW_OK);
	CHECK(obj_is(0x5FC102, "new", 3));
	for (size_t i = 0; i < n; i++)
		CHECK_EQ(put_data(ids[i], NULL, 0), SW_OK);
	for (size_t i = 0; i < n; i++)
		CHECK_EQ(get_data(ids[i]), SW_NOT_FOUND);
	/* deleting what is not there is fine */
	CHECK_EQ(put_data(0x5FC10D, NULL, 0), SW_OK);
	reopen(VKEY_UP_AUTO);
	CHECK_EQ(get_data(0x5FC105), SW_NOT_FOUND);
	CHECK_EQ(get_data(0x7E), SW_OK);
	end();
}

static void retired_certificates_one_per_slot(void)
{
	uint8_t v[40];

	begin();
	admin();
	for (uint32_t id = 0x5FC10D; id <= 0x5FC120; id++) {
		object_content(id, v, sizeof(v));
		CHECK_EQ(put_data(id, v, sizeof(v)), SW_OK);
	}
	for (uint32_t id = 0x5FC10D; id <= 0x5FC120; id++) {
		object_content(id, v, sizeof(v));
		CHECK(obj_is(id, v, sizeof(v)));
	}
	end();
}

static void attestation_certificate_object_can_be_replaced(void)
{
	X509 *ca;
	uint8_t v[100];

	begin();
	ca = attestation_ca();
	CHECK(ca != NULL);
	if (ca != NULL)
		CHECK_EQ(X509_verify(ca, X509_get0_pubkey(ca)), 1);
	X509_free(ca);
	CHECK_EQ(put_data(0x5FFF01, "x", 1), SW_SECURITY);
	admin();
	object_content(0x5FFF01, v, sizeof(v));
	CHECK_EQ(put_data(0x5FFF01, v, sizeof(v)), SW_OK);
	CHECK(obj_is(0x5FFF01, v, sizeof(v)));
	reopen(VKEY_UP_AUTO);
	CHECK(obj_is(0x5FFF01, v, sizeof(v)));
	end();
}

static void object_size_limit_3052(void)
{
	static uint8_t v[3100];

	begin();
	admin();
	object_content(0x5FC105, v, sizeof(v));
	CHECK_EQ(put_data(0x5FC105, v, 3052), SW_OK);
	CHECK(obj_is(0x5FC105, v, 3052));
	CHECK_EQ(put_data(0x5FC10A, v, 3053), SW_TOO_BIG);
	CHECK_EQ(get_data(0x5FC10A), SW_NOT_FOUND);
	CHECK_EQ(put_data(0x5FC105, v, 3100), SW_TOO_BIG);
	CHECK(obj_is(0x5FC105, v, 3052));
	end();
}

static void pin_protected_objects(void)
{
	static const uint32_t ids[] = { 0x5FC103, 0x5FC108, 0x5FC109,
					0x5FC121 };
	uint8_t v[64];

	begin();
	admin();
	for (size_t i = 0; i < 4; i++) {
		object_content(ids[i], v, sizeof(v));
		CHECK_EQ(put_data(ids[i], v, sizeof(v)), SW_OK);
	}
	for (size_t i = 0; i < 4; i++)
		CHECK_EQ(get_data(ids[i]), SW_SECURITY);
	/* a wrong PIN does not open them */
	CHECK_EQ(verify("999999"), 0x63C2);
	CHECK_EQ(get_data(0x5FC103), SW_SECURITY);
	pin_ok();
	for (size_t i = 0; i < 4; i++) {
		object_content(ids[i], v, sizeof(v));
		CHECK(obj_is(ids[i], v, sizeof(v)));
	}
	/* forgetting the PIN closes them again */
	CHECK_EQ(cmd(0x20, 0xFF, 0x80, NULL, 0), SW_OK);
	CHECK_EQ(get_data(0x5FC109), SW_SECURITY);
	/* neighbours stay free */
	CHECK_EQ(get_data(0x5FC102), SW_NOT_FOUND);
	pin_ok();
	CHECK_EQ(put_data(0x5FC121, NULL, 0), SW_OK);
	CHECK_EQ(get_data(0x5FC121), SW_NOT_FOUND);
	end();
}

static void put_data_needs_management_key(void)
{
	begin();
	CHECK_EQ(put_data(0x5FC102, "abc", 3), SW_SECURITY);
	pin_ok();
	CHECK_EQ(put_data(0x5FC102, "abc", 3), SW_SECURITY);
	CHECK_EQ(get_data(0x5FC102), SW_NOT_FOUND);
	admin();
	CHECK_EQ(put_data(0x5FC102, "abc", 3), SW_OK);
	/* SELECT again forgets the authentication */
	CHECK_EQ(select_piv(), SW_OK);
	CHECK_EQ(put_data(0x5FC102, "abd", 3), SW_SECURITY);
	/* and so does a power cycle */
	admin();
	vkey_power_off(key);
	vkey_power_on(key);
	CHECK_EQ(select_piv(), SW_OK);
	CHECK_EQ(put_data(0x5FC102, "abd", 3), SW_SECURITY);
	CHECK(obj_is(0x5FC102, "abc", 3));
	end();
}

static void unknown_object_ids(void)
{
	static const uint32_t bad[] = { 0x5FC100, 0x5FC125, 0x5FC1FF,
					0x5FFE01, 0x5FC001, 0x7F, 0x7D,
					0x7F60, 0x7F62, 0x5FC0, 0x123456 };

	begin();
	admin();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned g = get_data(bad[i]), pd = put_data(bad[i], "x", 1);

		if (g != SW_BAD_DATA || pd != SW_BAD_DATA)
			fprintf(stderr, "id %x: %04x %04x\n", (unsigned)bad[i],
				g, pd);
		CHECK_EQ(g, SW_BAD_DATA);
		CHECK_EQ(pd, SW_BAD_DATA);
	}
	end();
}

static void get_data_bad_p1p2_and_templates(void)
{
	static const char *const bad[] = {
		"",               /* nothing */
		"5C00",           /* empty id */
		"5C035FC1",       /* id cut short */
		"5C045FC10500",   /* four-byte id */
		"5D035FC105",     /* not 5C */
		"5C",             /* tag only */
		"5C81",           /* length cut short */
	};
	uint8_t b[32];
	struct data d = { .n = 0 };

	begin();
	obj_tag(&d, 0x5FC102);
	CHECK_EQ(cmd(0xCB, 0x3F, 0xFE, d.b, d.n), SW_BAD_P1P2);
	CHECK_EQ(cmd(0xCB, 0x00, 0x00, d.b, d.n), SW_BAD_P1P2);
	CHECK_EQ(cmd(0xCB, 0x5F, 0xFF, d.b, d.n), SW_BAD_P1P2);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = check_unhex(bad[i], b, sizeof(b));
		unsigned sw = cmd(0xCB, 0x3F, 0xFF, b, n);

		if (sw != SW_BAD_DATA)
			fprintf(stderr, "GET DATA %s: %04x\n", bad[i], sw);
		CHECK_EQ(sw, SW_BAD_DATA);
	}
	end();
}

static void put_data_bad_p1p2_and_templates(void)
{
	static const char *const bad[] = {
		"",                   /* nothing */
		"5C035FC105",         /* no 53 */
		"5C035FC1055305abcd", /* 53 cut short */
		"53015A5C035FC105",   /* 53 before 5C */
		"5C045FC10500530100", /* four-byte id */
		"5C035FC105540100",   /* 54 instead of 53 */
	};
	uint8_t b[32];
	struct data d = { .n = 0 };

	begin();
	admin();
	obj_tag(&d, 0x5FC105);
	d_tlv(&d, 0x53, "x", 1);
	CHECK_EQ(cmd(0xDB, 0x3F, 0xFE, d.b, d.n), SW_BAD_P1P2);
	CHECK_EQ(cmd(0xDB, 0x00, 0x00, d.b, d.n), SW_BAD_P1P2);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = check_unhex(bad[i], b, sizeof(b));
		unsigned sw = cmd(0xDB, 0x3F, 0xFF, b, n);

		if (sw != SW_BAD_DATA)
			fprintf(stderr, "PUT DATA %s: %04x\n", bad[i], sw);
		CHECK_EQ(sw, SW_BAD_DATA);
	}
	CHECK_EQ(get_data(0x5FC105), SW_NOT_FOUND);
	end();
}

/* A PUT DATA of 3000 bytes in CLA 10 pieces of at most 255 bytes, then
 * GET DATA over short APDUs answered in 61xx pieces. */
static void chained_put_and_get_response(void)
{
	static struct data d;
	static uint8_t v[3000];
	size_t off = 0;
	unsigned sw = 0;
	int pieces = 0;

	begin();
	admin();
	object_content(0x5FC101, v, sizeof(v));
	d.n = 0;
	obj_tag(&d, 0x5FC101);
	d_tlv(&d, 0x53, v, sizeof(v));
	while (off < d.n && pieces < 40) {
		size_t n = d.n - off > 255 ? 255 : d.n - off;
		uint8_t cla = off + n < d.n ? 0x10 : 0x00;

		sw = apdu_ex(cla, 0xDB, 0x3F, 0xFF, d.b + off, n, -1, 0);
		if (cla == 0x10)
			CHECK_EQ(sw, SW_OK);
		off += n;
		pieces++;
	}
	CHECK_EQ(sw, SW_OK);
	CHECK(pieces > 10);
	CHECK(obj_is(0x5FC101, v, sizeof(v)));
	CHECK(rounds >= 12); /* 3000+ bytes at 256 a piece */
	end();
}

/* --- PIN and PUK ------------------------------------------------------------------ */

static void pin_factory_metadata(void)
{
	begin();
	pw_metadata(0x80, 1, 3, 3);
	pw_metadata(0x81, 1, 3, 3);
	CHECK_EQ(get_metadata(0x9B), SW_OK);
	CHECK_EQ(md_byte(0x01, 0, 1), ALG_3DES);
	CHECK_EQ(md_byte(0x02, 0, 2), 0x00);
	CHECK_EQ(md_byte(0x02, 1, 2), TOUCH_NEVER);
	CHECK_EQ(md_byte(0x05, 0, 1), 1);
	CHECK_EQ(get_metadata(0x9A), SW_NO_KEY);
	CHECK_EQ(cmd(0xF7, 0x01, 0x80, NULL, 0), SW_BAD_P1P2);
	CHECK_EQ(get_metadata(0x42), SW_BAD_P1P2);
	end();
}

static void verify_good_wrong_status_and_forget(void)
{
	begin();
	CHECK_EQ(verify(NULL), 0x63C3);
	CHECK_EQ(verify("654321"), 0x63C2);
	CHECK_EQ(verify(NULL), 0x63C2);
	pw_metadata(0x80, 1, 3, 2);
	/* a match restores the tries */
	pin_ok();
	CHECK_EQ(verify(NULL), SW_OK);
	pw_metadata(0x80, 1, 3, 3);
	/* P1 FF forgets */
	CHECK_EQ(cmd(0x20, 0xFF, 0x80, NULL, 0), SW_OK);
	CHECK_EQ(verify(NULL), 0x63C3);
	pin_ok();
	/* SELECT forgets */
	CHECK_EQ(select_piv(), SW_OK);
	CHECK_EQ(verify(NULL), 0x63C3);
	/* eight characters are fine; seven bytes of PIN + FF too */
	CHECK_EQ(verify("12345678"), 0x63C2);
	pin_ok();
	/* a wrong PIN forgets an earlier verification (ISO 7816-4) */
	CHECK_EQ(verify(NULL), SW_OK);
	CHECK_EQ(verify("111111"), 0x63C2);
	CHECK_EQ(verify(NULL), 0x63C2);
	pin_ok();
	CHECK_EQ(change_pin("111111", "222222"), 0x63C2);
	CHECK_EQ(verify(NULL), 0x63C2);
	pin_ok();
	end();
}

static void verify_blocks_after_three_wrong(void)
{
	begin();
	CHECK_EQ(verify("111111"), 0x63C2);
	CHECK_EQ(verify("111111"), 0x63C1);
	CHECK_EQ(verify("111111"), 0x63C0);
	CHECK_EQ(verify("111111"), SW_BLOCKED);
	CHECK_EQ(verify(pin_default), SW_BLOCKED);
	CHECK_EQ(verify(NULL), SW_BLOCKED);
	pw_metadata(0x80, 1, 3, 0);
	/* blocked PIN: no change either */
	CHECK_EQ(change_pin(pin_default, "222222"), SW_BLOCKED);
	end();
}

static void pin_values_of_wrong_length_or_with_ff(void)
{
	uint8_t b[20];

	begin();
	memset(b, '1', sizeof(b));
	/* VERIFY: the field is 8 bytes */
	CHECK_EQ(cmd(0x20, 0x00, 0x80, "123456", 6), SW_BAD_DATA);
	CHECK_EQ(cmd(0x20, 0x00, 0x80, "1234567", 7), SW_BAD_DATA);
	CHECK_EQ(cmd(0x20, 0x00, 0x80, "123456789", 9), SW_BAD_DATA);
	pw_metadata(0x80, 1, 3, 3);
	/* CHANGE REFERENCE: 16 bytes */
	CHECK_EQ(cmd(0x24, 0x00, 0x80, b, 15), SW_BAD_DATA);
	CHECK_EQ(cmd(0x24, 0x00, 0x80, b, 17), SW_BAD_DATA);
	CHECK_EQ(cmd(0x2C, 0x00, 0x80, b, 8), SW_BAD_DATA);
	pw_metadata(0x80, 1, 3, 3);
	pw_metadata(0x81, 1, 3, 3);
	/* new values too short or with FF inside: no try spent when the
	 * old value is right */
	CHECK_EQ(change_pin(pin_default, "12345"), SW_BAD_DATA);
	CHECK_EQ(change_pin(pin_default, ""), SW_BAD_DATA);
	CHECK_EQ(change_pin(pin_default, "12\xff" "456"), SW_BAD_DATA);
	CHECK_EQ(change_pin(pin_default, "123456\xff" "8"), SW_BAD_DATA);
	CHECK_EQ(change_puk(puk_default, "1234"), SW_BAD_DATA);
	CHECK_EQ(change_puk(puk_default, "\xff" "2345678"), SW_BAD_DATA);
	CHECK_EQ(unblock_pin(puk_default, "123"), SW_BAD_DATA);
	CHECK_EQ(unblock_pin(puk_default, "1\xff" "3456"), SW_BAD_DATA);
	pw_metadata(0x80, 1, 3, 3);
	pw_metadata(0x81, 1, 3, 3);
	CHECK_EQ(verify(pin_default), SW_OK);
	CHECK_EQ(unblock_pin(puk_default, pin_default), SW_OK);
	/* the old value is compared first: a wrong one spends a try
	 * whatever the new value is (ykman's reset relies on it) */
	CHECK_EQ(change_pin("000000", "12345"), 0x63C2);
	CHECK_EQ(change_puk("00000000", "\xff" "2345678"), 0x63C2);
	CHECK_EQ(unblock_pin("00000000", "1\xff" "3456"), 0x63C1);
	memset(b, 0xFF, 16);
	CHECK_EQ(cmd(0x2C, 0x00, 0x80, b, 16), 0x63C0);
	CHECK_EQ(cmd(0x20, 0x00, 0x80, b, 8), 0x63C1);
	pw_metadata(0x80, 1, 3, 1);
	pw_metadata(0x81, 1, 3, 0);
	pin_ok();
	end();
}

static void change_pin_and_puk(void)
{
	begin();
	CHECK_EQ(change_pin("000000", "abcdef"), 0x63C2);
	pw_metadata(0x80, 1, 3, 2);
	CHECK_EQ(change_pin(pin_default, "abcdefgh"), SW_OK);
	pw_metadata(0x80, 0, 3, 3);
	CHECK_EQ(verify(pin_default), 0x63C2);
	CHECK_EQ(verify("abcdefgh"), SW_OK);
	/* the new PIN survives a restart */
	reopen(VKEY_UP_AUTO);
	CHECK_EQ(verify("abcdefgh"), SW_OK);
	CHECK_EQ(change_pin("abcdefgh", "654321"), SW_OK);
	CHECK_EQ(verify("654321"), SW_OK);
	/* PUK */
	CHECK_EQ(change_puk("87654321", "abcdefgh"), 0x63C2);
	pw_metadata(0x81, 1, 3, 2);
	CHECK_EQ(change_puk(puk_default, "pukpuk"), SW_OK);
	pw_metadata(0x81, 0, 3, 3);
	CHECK_EQ(unblock_pin(puk_default, "111111"), 0x63C2);
	CHECK_EQ(unblock_pin("pukpuk", "111111"), SW_OK);
	CHECK_EQ(verify("111111"), SW_OK);
	/* reference other than 80/81 */
	CHECK_EQ(pw_pair(0x24, 0x82, pin_default, "222222"), SW_BAD_P1P2);
	CHECK_EQ(pw_pair(0x24, 0x9B, pin_default, "222222"), SW_BAD_P1P2);
	CHECK_EQ(verify_ref(0x81, puk_default), SW_BAD_P1P2);
	CHECK_EQ(verify_ref(0x00, pin_default), SW_BAD_P1P2);
	end();
}

static void unblock_with_puk(void)
{
	begin();
	block_pin();
	CHECK_EQ(unblock_pin("00000000", "222222"), 0x63C2);
	pw_metadata(0x81, 1, 3, 2);
	CHECK_EQ(unblock_pin(puk_default, "222222"), SW_OK);
	pw_metadata(0x81, 1, 3, 3);
	pw_metadata(0x80, 0, 3, 3);
	CHECK_EQ(verify("222222"), SW_OK);
	/* a blocked PUK unblocks nothing */
	block_pin();
	block_puk();
	pw_metadata(0x81, 1, 3, 0);
	CHECK_EQ(unblock_pin(puk_default, "333333"), SW_BLOCKED);
	CHECK_EQ(change_puk(puk_default, "33333333"), SW_BLOCKED);
	CHECK_EQ(verify(NULL), SW_BLOCKED);
	/* RESET RETRY COUNTER only for the PIN */
	end();
	begin();
	CHECK_EQ(pw_pair(0x2C, 0x81, puk_default, "22222222"), SW_BAD_P1P2);
	end();
}

static void counters_persist_across_reopen(void)
{
	begin();
	CHECK_EQ(verify("000000"), 0x63C2);
	CHECK_EQ(unblock_pin("00000000", "222222"), 0x63C2);
	CHECK_EQ(unblock_pin("00000000", "222222"), 0x63C1);
	reopen(VKEY_UP_AUTO);
	CHECK_EQ(verify(NULL), 0x63C2);
	pw_metadata(0x80, 1, 3, 2);
	pw_metadata(0x81, 1, 3, 1);
	CHECK_EQ(verify("000000"), 0x63C1);
	CHECK_EQ(verify("000000"), 0x63C0);
	reopen(VKEY_UP_AUTO);
	CHECK_EQ(verify(pin_default), SW_BLOCKED);
	/* the last PUK try unblocks */
	CHECK_EQ(unblock_pin(puk_default, "123123"), SW_OK);
	reopen(VKEY_UP_AUTO);
	pw_metadata(0x81, 1, 3, 3);
	CHECK_EQ(verify("123123"), SW_OK);
	end();
}

static void set_pin_retries_needs_both(void)
{
	begin();
	CHECK_EQ(change_pin(pin_default, "777777"), SW_OK);
	CHECK_EQ(change_puk(puk_default, "88888888"), SW_OK);
	CHECK_EQ(cmd(0xFA, 5, 6, NULL, 0), SW_SECURITY);
	admin();
	CHECK_EQ(cmd(0xFA, 5, 6, NULL, 0), SW_SECURITY);
	CHECK_EQ(select_piv(), SW_OK);
	CHECK_EQ(verify("777777"), SW_OK);
	CHECK_EQ(cmd(0xFA, 5, 6, NULL, 0), SW_SECURITY);
	admin();
	CHECK_EQ(cmd(0xFA, 0, 6, NULL, 0), SW_BAD_P1P2);
	CHECK_EQ(cmd(0xFA, 5, 0, NULL, 0), SW_BAD_P1P2);
	pw_metadata(0x80, 0, 3, 3);
	CHECK_EQ(cmd(0xFA, 5, 6, NULL, 0), SW_OK);
	/* both back to their defaults with the new counts */
	pw_metadata(0x80, 1, 5, 5);
	pw_metadata(0x81, 1, 6, 6);
	CHECK_EQ(verify("777777"), 0x63C4);
	reopen(VKEY_UP_AUTO);
	pw_metadata(0x80, 1, 5, 4);
	pin_ok();
	CHECK_EQ(unblock_pin("88888888", "111111"), 0x63C5);
	CHECK_EQ(unblock_pin(puk_default, "111111"), SW_OK);
	/* 255 is the top; 63 Cx counts at most 15 */
	CHECK_EQ(verify("111111"), SW_OK);
	admin();
	CHECK_EQ(cmd(0xFA, 255, 1, NULL, 0), SW_OK);
	pw_metadata(0x80, 1, 255, 255);
	pw_metadata(0x81, 1, 1, 1);
	CHECK_EQ(verify("111111"), 0x63CF);
	CHECK_EQ(verify(NULL), 0x63CF);
	pw_metadata(0x80, 1, 255, 254);
	CHECK_EQ(unblock_pin("00000000", "111111"), 0x63C0);
	CHECK_EQ(unblock_pin(puk_default, "111111"), SW_BLOCKED);
	end();
}

/* What a factory state looks like (after RESET). */
static void check_factory_state(X509 *ca_before)
{
	X509 *ca;

	pw_metadata(0x80, 1, 3, 3);
	pw_metadata(0x81, 1, 3, 3);
	CHECK_EQ(get_metadata(0x9B), SW_OK);
	CHECK_EQ(md_byte(0x01, 0, 1), ALG_3DES);
	CHECK_EQ(md_byte(0x05, 0, 1), 1);
	CHECK_EQ(md_byte(0x02, 1, 2), TOUCH_NEVER);
	admin();
	pin_ok();
	CHECK_EQ(unblock_pin(puk_default, pin_default), SW_OK);
	CHECK_EQ(get_metadata(0x9A), SW_NO_KEY);
	CHECK_EQ(get_metadata(0x9C), SW_NO_KEY);
	CHECK_EQ(get_metadata(0x95), SW_NO_KEY);
	CHECK_EQ(get_data(0x5FC105), SW_NOT_FOUND);
	CHECK_EQ(get_data(0x5FC109), SW_NOT_FOUND);
	CHECK_EQ(get_data(0x5FC120), SW_NOT_FOUND);
	CHECK_EQ(get_data(0x7E), SW_OK);
	CHECK_EQ(get_metadata(0xF9), SW_OK);
	ca = attestation_ca();
	CHECK(ca != NULL && ca_before != NULL &&
	      X509_cmp(ca, ca_before) == 0);
	X509_free(ca);
}

static void reset_only_when_both_blocked(void)
{
	struct pub pk;
	X509 *ca;

	begin();
	ca = attestation_ca();
	CHECK(ca != NULL);
	admin();
	CHECK_EQ(generate(0x9A, ALG_P256, 0, 0, &pk), SW_OK);
	CHECK_EQ(generate(0x95, ALG_ED25519, 0, 0, &pk), SW_OK);
	CHECK_EQ(put_data(0x5FC105, "cert", 4), SW_OK);
	CHECK_EQ(put_data(0x5FC109, "printed", 7), SW_OK);
	CHECK_EQ(put_data(0x5FC120, "retired", 7), SW_OK);
	CHECK_EQ(set_mgmt(0xFF, ALG_AES256,
			  (const uint8_t *)"0123456789abcdef0123456789abcdef",
			  32),
		 SW_OK);
	pin_ok();
	CHECK_EQ(cmd(0xFA, 4, 4, NULL, 0), SW_OK);
	CHECK_EQ(change_pin(pin_default, "999999"), SW_OK);
	CHECK_EQ(change_puk(puk_default, "99999999"), SW_OK);
	/* nothing blocked, then only the PIN, then only the PUK */
	CHECK_EQ(cmd(0xFB, 0x00, 0x00, NULL, 0), SW_CONDITIONS);
	block_pin();
	CHECK_EQ(cmd(0xFB, 0x00, 0x00, NULL, 0), SW_CONDITIONS);
	CHECK_EQ(unblock_pin("99999999", "999999"), SW_OK);
	block_puk();
	CHECK_EQ(cmd(0xFB, 0x00, 0x00, NULL, 0), SW_CONDITIONS);
	CHECK(obj_is(0x5FC105, "cert", 4));
	block_pin();
	CHECK_EQ(cmd(0xFB, 0x00, 0x00, NULL, 0), SW_OK);
	CHECK_EQ(select_piv(), SW_OK);
	check_factory_state(ca);
	reopen(VKEY_UP_AUTO);
	check_factory_state(ca);
	X509_free(ca);
	end();
}

/* --- management key ------------------------------------------------------------- */

static void mgmt_metadata_is(uint8_t alg, int is_default, int touch)
{
	CHECK_EQ(get_metadata(0x9B), SW_OK);
	CHECK_EQ(md_byte(0x01, 0, 1), alg);
	CHECK_EQ(md_byte(0x02, 0, 2), 0x00);
	CHECK_EQ(md_byte(0x02, 1, 2), touch);
	CHECK_EQ(md_byte(0x05, 0, 1), is_default);
}

static void mgmt_mutual_auth_every_algorithm(void)
{
	static const uint8_t alg_list[] = { ALG_AES128, ALG_AES192,
					    ALG_AES256, ALG_3DES };
	uint8_t cur_alg = ALG_3DES, cur[32], k[32];

	begin();
	memcpy(cur, mgmt_default_key, 24);
	for (size_t i = 0; i < sizeof(alg_list); i++) {
		uint8_t alg = alg_list[i];
		size_t kl = mgmt_key_len(alg);

		rand_bytes(k, kl);
		CHECK_EQ(mgmt_auth(cur_alg, cur), SW_OK);
		CHECK_EQ(set_mgmt(0xFF, alg, k, kl), SW_OK);
		mgmt_metadata_is(alg, 0, TOUCH_NEVER);
		/* the old key no longer works; another P1 is 6A 86 */
		CHECK_EQ(select_piv(), SW_OK);
		if (alg != cur_alg)
			CHECK_EQ(mgmt_auth(cur_alg, cur), SW_BAD_P1P2);
		else
			CHECK_EQ(mgmt_auth(cur_alg, cur), SW_SECURITY);
		CHECK_EQ(put_data(0x5FC102, "x", 1), SW_SECURITY);
		reopen(VKEY_UP_AUTO);
		CHECK_EQ(mgmt_auth(alg, k), SW_OK);
		CHECK_EQ(put_data(0x5FC102, &alg, 1), SW_OK);
		CHECK(obj_is(0x5FC102, &alg, 1));
		cur_alg = alg;
		memcpy(cur, k, kl);
	}
	/* back to the factory key: metadata calls it default again */
	CHECK_EQ(set_mgmt(0xFF, ALG_3DES, mgmt_default_key, 24), SW_OK);
	mgmt_metadata_is(ALG_3DES, 1, TOUCH_NEVER);
	end();
}

static unsigned mgmt_external_challenge(uint8_t alg, uint8_t *chal)
{
	struct data in = { .n = 0 }, d = { .n = 0 };
	const uint8_t *c;
	size_t cl = 0;
	unsigned sw;

	d_tlv(&in, 0x81, NULL, 0);
	dyn_auth(&d, &in);
	sw = gen_auth_raw(alg, 0x9B, &d);
	if (sw != SW_OK)
		return sw;
	c = dyn_answer(0x81, &cl);
	CHECK(c != NULL && cl == mgmt_block(alg));
	if (c == NULL || cl != mgmt_block(alg))
		return 0;
	memcpy(chal, c, cl);
	return sw;
}

static unsigned mgmt_external_response(uint8_t alg, const uint8_t *r)
{
	struct data in = { .n = 0 }, d = { .n = 0 };
	unsigned sw;

	d_tlv(&in, 0x82, r, mgmt_block(alg));
	dyn_auth(&d, &in);
	sw = gen_auth_raw(alg, 0x9B, &d);
	CHECK_EQ(all_len, 0);
	return sw;
}

static void mgmt_external_authentication(void)
{
	uint8_t chal[16], enc[16], chal2[16], k[16];

	begin();
	CHECK_EQ(mgmt_external_challenge(ALG_3DES, chal), SW_OK);
	mgmt_ecb(ALG_3DES, mgmt_default_key, 1, chal, enc);
	CHECK_EQ(mgmt_external_response(ALG_3DES, enc), SW_OK);
	CHECK_EQ(put_data(0x5FC102, "x", 1), SW_OK);
	/* a fresh challenge each time */
	CHECK_EQ(mgmt_external_challenge(ALG_3DES, chal2), SW_OK);
	CHECK(memcmp(chal, chal2, 8) != 0);
	/* the old answer is wrong now: 69 82, and the authentication is
	 * gone */
	CHECK_EQ(mgmt_external_response(ALG_3DES, enc), SW_SECURITY);
	CHECK_EQ(put_data(0x5FC102, "y", 1), SW_SECURITY);
	/* AES-128 */
	admin();
	rand_bytes(k, 16);
	CHECK_EQ(set_mgmt(0xFF, ALG_AES128, k, 16), SW_OK);
	CHECK_EQ(select_piv(), SW_OK);
	CHECK_EQ(mgmt_external_challenge(ALG_AES128, chal), SW_OK);
	mgmt_ecb(ALG_AES128, k, 1, chal, enc);
	CHECK_EQ(mgmt_external_response(ALG_AES128, enc), SW_OK);
	CHECK_EQ(put_data(0x5FC102, "z", 1), SW_OK);
	CHECK(obj_is(0x5FC102, "z", 1));
	end();
}

static void mgmt_wrong_witness_clears_authentication(void)
{
	uint8_t plain[16];

	begin();
	admin();
	CHECK_EQ(mgmt_witness(ALG_3DES, mgmt_default_key, plain), SW_OK);
	plain[0] ^= 1;
	CHECK_EQ(mgmt_respond(ALG_3DES, mgmt_default_key, plain),
		 SW_SECURITY);
	CHECK_EQ(put_data(0x5FC102, "x", 1), SW_SECURITY);
	/* a wrong key is the same thing */
	{
		uint8_t k[24];

		memcpy(k, mgmt_default_key, 24);
		k[23] ^= 0x10;
		CHECK_EQ(mgmt_auth(ALG_3DES, k), SW_SECURITY);
	}
	/* a second step with no first step */
	CHECK(mgmt_respond(ALG_3DES, mgmt_default_key, plain) != SW_OK);
	CHECK_EQ(put_data(0x5FC102, "x", 1), SW_SECURITY);
	admin();
	CHECK_EQ(put_data(0x5FC102, "x", 1), SW_OK);
	end();
}

static void mgmt_wrong_algorithm_in_p1(void)
{
	uint8_t plain[16];

	begin();
	CHECK_EQ(mgmt_witness(ALG_AES128, mgmt_default_key, plain),
		 SW_BAD_P1P2);
	CHECK_EQ(mgmt_witness(ALG_AES256, mgmt_default_key, plain),
		 SW_BAD_P1P2);
	CHECK_EQ(mgmt_witness(ALG_RSA2048, mgmt_default_key, plain),
		 SW_BAD_P1P2);
	/* first step right, second step with another P1 */
	CHECK_EQ(mgmt_witness(ALG_3DES, mgmt_default_key, plain), SW_OK);
	{
		struct data in = { .n = 0 }, d = { .n = 0 };
		uint8_t chal[8] = { 0 };

		d_tlv(&in, 0x80, plain, 8);
		d_tlv(&in, 0x81, chal, 8);
		dyn_auth(&d, &in);
		CHECK_EQ(gen_auth_raw(ALG_AES128, 0x9B, &d), SW_BAD_P1P2);
	}
	CHECK_EQ(put_data(0x5FC102, "x", 1), SW_SECURITY);
	end();
}

static void mgmt_exchange_abandoned_by_another_command(void)
{
	uint8_t plain[16];

	begin();
	CHECK_EQ(mgmt_witness(ALG_3DES, mgmt_default_key, plain), SW_OK);
	CHECK_EQ(cmd(0xFD, 0x00, 0x00, NULL, 0), SW_OK);
	CHECK(mgmt_respond(ALG_3DES, mgmt_default_key, plain) != SW_OK);
	CHECK_EQ(put_data(0x5FC102, "x", 1), SW_SECURITY);
	/* a failed command in between abandons it too */
	CHECK_EQ(mgmt_witness(ALG_3DES, mgmt_default_key, plain), SW_OK);
	CHECK_EQ(get_data(0x5FC102), SW_NOT_FOUND);
	CHECK(mgmt_respond(ALG_3DES, mgmt_default_key, plain) != SW_OK);
	CHECK_EQ(put_data(0x5FC102, "x", 1), SW_SECURITY);
	/* and a SELECT */
	CHECK_EQ(mgmt_witness(ALG_3DES, mgmt_default_key, plain), SW_OK);
	CHECK_EQ(select_piv(), SW_OK);
	CHECK(mgmt_respond(ALG_3DES, mgmt_default_key, plain) != SW_OK);
	CHECK_EQ(put_data(0x5FC102, "x", 1), SW_SECURITY);
	/* straight through works */
	admin();
	CHECK_EQ(put_data(0x5FC102, "x", 1), SW_OK);
	end();
}

static void mgmt_malformed_templates(void)
{
	static const char *const bad[] = {
		"",           "7C00",         "7C028000FF",   "7C03800000",
		"7D028000",   "7C0280",       "7C048000",     "800000",
		"7C02820000",
	};
	uint8_t b[32];

	begin();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = check_unhex(bad[i], b, sizeof(b));
		unsigned sw = cmd(0x87, ALG_3DES, 0x9B, b, n);

		if (sw != SW_BAD_DATA && sw != SW_SECURITY)
			fprintf(stderr, "9B %s: %04x\n", bad[i], sw);
		CHECK(sw == SW_BAD_DATA || sw == SW_SECURITY);
	}
	CHECK_EQ(put_data(0x5FC102, "x", 1), SW_SECURITY);
	end();
}

static void set_mgmt_key_checks(void)
{
	uint8_t k[40];
	static const uint8_t weak[24] = {
		0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
		0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01, 0x01,
		0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09,
	};

	begin();
	rand_bytes(k, sizeof(k));
	CHECK_EQ(set_mgmt(0xFF, ALG_AES128, k, 16), SW_SECURITY);
	pin_ok();
	CHECK_EQ(set_mgmt(0xFF, ALG_AES128, k, 16), SW_SECURITY);
	admin();
	CHECK_EQ(set_mgmt(0xFF, ALG_AES128, k, 24), SW_BAD_DATA);
	CHECK_EQ(set_mgmt(0xFF, ALG_AES128, k, 15), SW_BAD_DATA);
	CHECK_EQ(set_mgmt(0xFF, ALG_AES256, k, 24), SW_BAD_DATA);
	CHECK_EQ(set_mgmt(0xFF, ALG_3DES, k, 16), SW_BAD_DATA);
	CHECK_EQ(set_mgmt(0xFF, ALG_AES192, k, 32), SW_BAD_DATA);
	CHECK_EQ(set_mgmt(0xFF, 0x07, k, 16), SW_BAD_DATA);
	CHECK_EQ(set_mgmt(0xFF, 0x00, k, 24), SW_BAD_DATA);
	/* 9B missing */
	{
		uint8_t b[18] = { ALG_AES128, 0x9A, 16 };

		memcpy(b + 2, k, 16);
		CHECK_EQ(cmd(0xFF, 0xFF, 0xFF, b, 18), SW_BAD_DATA);
	}
	mgmt_metadata_is(ALG_3DES, 1, TOUCH_NEVER);
	/* P2 FF or FE only */
	CHECK(set_mgmt(0x00, ALG_AES128, k, 16) != SW_OK);
	CHECK(set_mgmt(0xFD, ALG_AES128, k, 16) != SW_OK);
	/* a weak 3DES key is accepted and works */
	CHECK_EQ(set_mgmt(0xFF, ALG_3DES, weak, 24), SW_OK);
	CHECK_EQ(select_piv(), SW_OK);
	CHECK_EQ(mgmt_auth(ALG_3DES, weak), SW_OK);
	mgmt_metadata_is(ALG_3DES, 0, TOUCH_NEVER);
	end();
}

static void mgmt_touch_policy(void)
{
	uint8_t k[32], plain[16];
	struct toucher t;

	begin_up(VKEY_UP_DENY);
	CHECK_EQ(select_piv(), SW_OK);
	rand_bytes(k, 32);
	admin();
	CHECK_EQ(set_mgmt(0xFE, ALG_AES256, k, 32), SW_OK);
	mgmt_metadata_is(ALG_AES256, 0, TOUCH_ALWAYS);
	CHECK_EQ(select_piv(), SW_OK);
	/* the first step needs no touch, the second is refused */
	CHECK_EQ(mgmt_witness(ALG_AES256, k, plain), SW_OK);
	CHECK_EQ(mgmt_respond(ALG_AES256, k, plain), SW_CONDITIONS);
	CHECK_EQ(put_data(0x5FC102, "x", 1), SW_SECURITY);
	reopen(VKEY_UP_AUTO);
	mgmt_metadata_is(ALG_AES256, 0, TOUCH_ALWAYS);
	CHECK_EQ(mgmt_auth(ALG_AES256, k), SW_OK);
	CHECK_EQ(put_data(0x5FC102, "x", 1), SW_OK);
	/* prompt: asks each time */
	reopen(VKEY_UP_PROMPT);
	toucher_start(&t);
	CHECK_EQ(mgmt_auth(ALG_AES256, k), SW_OK);
	CHECK(toucher_join(&t));
	CHECK_EQ(select_piv(), SW_OK);
	CHECK_EQ(mgmt_auth(ALG_AES256, k), SW_CONDITIONS);
	/* and FF turns it off */
	reopen(VKEY_UP_AUTO);
	CHECK_EQ(mgmt_auth(ALG_AES256, k), SW_OK);
	CHECK_EQ(set_mgmt(0xFF, ALG_AES256, k, 32), SW_OK);
	mgmt_metadata_is(ALG_AES256, 0, TOUCH_NEVER);
	reopen(VKEY_UP_DENY);
	CHECK_EQ(mgmt_auth(ALG_AES256, k), SW_OK);
	end();
}

/* --- key generation and use ----------------------------------------------------- */

static void key_commands_need_management_key(void)
{
	struct pub pk;
	struct data d = { .n = 0 };
	uint8_t scalar[32];

	begin();
	rand_bytes(scalar, 32);
	scalar[0] = 0x01;
	d_tlv(&d, 0x06, scalar, 32);
	CHECK_EQ(generate(0x9A, ALG_P256, 0, 0, &pk), SW_SECURITY);
	CHECK_EQ(import_key(ALG_P256, 0x9A, &d), SW_SECURITY);
	pin_ok();
	CHECK_EQ(generate(0x9A, ALG_P256, 0, 0, &pk), SW_SECURITY);
	CHECK_EQ(import_key(ALG_P256, 0x9A, &d), SW_SECURITY);
	CHECK_EQ(get_metadata(0x9A), SW_NO_KEY);
	admin();
	CHECK_EQ(generate(0x9A, ALG_P256, 0, 0, &pk), SW_OK);
	CHECK_EQ(select_piv(), SW_OK);
	CHECK_EQ(move_key(0x9C, 0x9A), SW_SECURITY);
	CHECK_EQ(move_key(0xFF, 0x9A), SW_SECURITY);
	CHECK_EQ(get_metadata(0x9C), SW_NO_KEY);
	key_metadata_is(0x9A, &pk, PIN_ONCE, TOUCH_NEVER, ORIGIN_GENERATED);
	end();
}

static void generate_rsa_1024_2048_sign_and_decipher(void)
{
	struct pub k1, k2;

	begin();
	admin();
	CHECK_EQ(generate(0x9A, ALG_RSA1024, 0, 0, &k1), SW_OK);
	CHECK_EQ(generate(0x9D, ALG_RSA2048, 0, 0, &k2), SW_OK);
	CHECK(memcmp(k1.n, k2.n, 128) != 0);
	key_metadata_is(0x9A, &k1, PIN_ONCE, TOUCH_NEVER, ORIGIN_GENERATED);
	key_metadata_is(0x9D, &k2, PIN_ONCE, TOUCH_NEVER, ORIGIN_GENERATED);
	{
		uint8_t block[128] = { 0x00, 0x01 };

		CHECK_EQ(use_key(ALG_RSA1024, 0x9A, 0x81, block, 128),
			 SW_SECURITY);
	}
	pin_ok();
	CHECK(rsa_sign_ok(0x9A, &k1));
	CHECK(rsa_decipher_ok(0x9A, &k1));
	CHECK(rsa_sign_ok(0x9D, &k2));
	CHECK(rsa_decipher_ok(0x9D, &k2));
	/* the keys outlive a restart */
	reopen(VKEY_UP_AUTO);
	pin_ok();
	CHECK(rsa_sign_ok(0x9D, &k2));
	CHECK(rsa_decipher_ok(0x9A, &k1));
	/* a new key replaces the old one */
	admin();
	CHECK_EQ(generate(0x9A, ALG_RSA1024, 0, 0, &k2), SW_OK);
	CHECK(memcmp(k1.n, k2.n, 128) != 0);
	CHECK(rsa_sign_ok(0x9A, &k2));
	CHECK(!rsa_sign_ok(0x9A, &k1));
	end();
}

/* RSA-3072 once, RSA-4096 once (slow); the 4096 answer and a 4096
 * signature come back over short APDUs through GET RESPONSE. */
static void generate_rsa_3072_4096_over_short_apdus(void)
{
	struct pub k3, k4;

	begin();
	admin();
	CHECK_EQ(generate(0x82, ALG_RSA3072, PIN_NEVER, 0, &k3), SW_OK);
	CHECK(rsa_sign_ok(0x82, &k3));
	CHECK(rsa_decipher_ok(0x82, &k3));
	CHECK_EQ(generate(0x9E, ALG_RSA4096, 0, 0, &k4), SW_OK);
	CHECK(rounds >= 3); /* 7F49 of about 526 bytes, 256 a piece */
	CHECK(rsa_sign_ok(0x9E, &k4));
	CHECK(rsa_decipher_ok(0x9E, &k4));
	/* a signature asked in CLA 10 pieces and read in 61xx pieces */
	{
		static struct data inner, d;
		uint8_t di[51], block[512];
		const uint8_t *sig;
		size_t sl = 0;
		EVP_PKEY *pkey = pub_key(&k4);
		EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pkey, NULL);

		digest_info_sha256("chained", di);
		pkcs1_type1(di, sizeof(di), block, 512);
		inner.n = 0;
		d_tlv(&inner, 0x82, NULL, 0);
		d_tlv(&inner, 0x81, block, 512);
		dyn_auth(&d, &inner);
		CHECK_EQ(cmd_chained(0x87, ALG_RSA4096, 0x9E, d.b, d.n), SW_OK);
		CHECK(rounds >= 3);
		sig = dyn_answer(0x82, &sl);
		CHECK(sig != NULL && sl == 512 && ctx != NULL &&
		      EVP_PKEY_verify_init(ctx) == 1 &&
		      EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_PADDING) ==
			      1 &&
		      EVP_PKEY_verify(ctx, sig, sl, di, sizeof(di)) == 1);
		EVP_PKEY_CTX_free(ctx);
		EVP_PKEY_free(pkey);
	}
	key_metadata_is(0x82, &k3, PIN_NEVER, TOUCH_NEVER, ORIGIN_GENERATED);
	key_metadata_is(0x9E, &k4, PIN_NEVER, TOUCH_NEVER, ORIGIN_GENERATED);
	/* the whole answer with an extended Le at once */
	CHECK_EQ(apdu_ex(0x00, 0xF7, 0x00, 0x9E, NULL, 0, 0, 1), SW_OK);
	CHECK(resp_len > 520);
	end();
}

static void generate_ec_sign_and_agree(void)
{
	struct pub p256, p384, ed, x;
	uint8_t h[64], msg[1000];

	begin();
	admin();
	CHECK_EQ(generate(0x9A, ALG_P256, 0, 0, &p256), SW_OK);
	CHECK_EQ(generate(0x9D, ALG_P384, 0, 0, &p384), SW_OK);
	CHECK_EQ(generate(0x9E, ALG_ED25519, 0, 0, &ed), SW_OK);
	CHECK_EQ(generate(0x83, ALG_X25519, 0, 0, &x), SW_OK);
	pin_ok();
	/* ECDSA over hashes up to the field size */
	CHECK(ec_sign_hash_ok(0x9A, &p256, h, digest("SHA256", "a", 1, h)));
	CHECK(ec_sign_hash_ok(0x9A, &p256, h, digest("SHA1", "a", 1, h)));
	CHECK(ec_sign_hash_ok(0x9D, &p384, h, digest("SHA384", "a", 1, h)));
	CHECK(ec_sign_hash_ok(0x9D, &p384, h, digest("SHA256", "a", 1, h)));
	/* ECDH */
	CHECK(ecdh_ok(0x9A, &p256));
	CHECK(ecdh_ok(0x9D, &p384));
	CHECK(ecdh_ok(0x83, &x));
	/* Ed25519 over messages, short and long (the long one extended) */
	rand_bytes(msg, sizeof(msg));
	CHECK(ed_sign_msg_ok(0x9E, &ed, msg, 1));
	CHECK_EQ(use_key(ALG_ED25519, 0x9E, 0x81, msg, 0), SW_BAD_DATA);
	CHECK(ed_sign_msg_ok(0x9E, &ed, msg, 64));
	CHECK(ed_sign_msg_ok(0x9E, &ed, msg, sizeof(msg)));
	key_metadata_is(0x9A, &p256, PIN_ONCE, TOUCH_NEVER, ORIGIN_GENERATED);
	key_metadata_is(0x9D, &p384, PIN_ONCE, TOUCH_NEVER, ORIGIN_GENERATED);
	key_metadata_is(0x9E, &ed, PIN_NEVER, TOUCH_NEVER, ORIGIN_GENERATED);
	key_metadata_is(0x83, &x, PIN_ONCE, TOUCH_NEVER, ORIGIN_GENERATED);
	end();
}

static void every_slot_takes_a_key(void)
{
	static const uint8_t fixed[] = { 0x9A, 0x9C, 0x9D, 0x9E };
	struct pub pk;

	begin();
	admin();
	pin_ok();
	for (unsigned s = 0x82; s <= 0x95 + 4; s++) {
		uint8_t slot = s <= 0x95 ? (uint8_t)s : fixed[s - 0x96];
		uint8_t alg = (s & 1) ? ALG_ED25519 : ALG_P256;

		CHECK_EQ(generate(slot, alg, PIN_NEVER, 0, &pk), SW_OK);
		CHECK(sign_ok(slot, &pk));
	}
	end();
}

static void default_and_explicit_policies_in_metadata(void)
{
	static const struct {
		uint8_t slot, pin, touch;
		int want_pin, want_touch;
	} cases[] = {
		{ 0x9A, 0, 0, PIN_ONCE, TOUCH_NEVER },
		{ 0x9C, 0, 0, PIN_ALWAYS, TOUCH_NEVER },
		{ 0x9D, 0, 0, PIN_ONCE, TOUCH_NEVER },
		{ 0x9E, 0, 0, PIN_NEVER, TOUCH_NEVER },
		{ 0x82, 0, 0, PIN_ONCE, TOUCH_NEVER },
		{ 0x95, 0, 0, PIN_ONCE, TOUCH_NEVER },
		{ 0x9A, PIN_ALWAYS, TOUCH_CACHED, PIN_ALWAYS, TOUCH_CACHED },
		{ 0x9C, PIN_NEVER, TOUCH_ALWAYS, PIN_NEVER, TOUCH_ALWAYS },
		{ 0x9E, PIN_ONCE, TOUCH_NEVER, PIN_ONCE, TOUCH_NEVER },
	};
	struct pub pk;

	begin();
	admin();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		CHECK_EQ(generate(cases[i].slot, ALG_P256, cases[i].pin,
				  cases[i].touch, &pk),
			 SW_OK);
		key_metadata_is(cases[i].slot, &pk, cases[i].want_pin,
				cases[i].want_touch, ORIGIN_GENERATED);
	}
	/* explicit 00 is the default */
	{
		struct data in = { .n = 0 }, d = { .n = 0 };

		d_tlv_u8(&in, 0x80, ALG_P256);
		d_tlv_u8(&in, 0xAA, 0x00);
		d_tlv_u8(&in, 0xAB, 0x00);
		d_tlv(&d, 0xAC, in.b, in.n);
		CHECK_EQ(cmd(0x47, 0x00, 0x9C, d.b, d.n), SW_OK);
		CHECK_EQ(get_metadata(0x9C), SW_OK);
		CHECK_EQ(md_byte(0x02, 0, 2), PIN_ALWAYS);
		CHECK_EQ(md_byte(0x02, 1, 2), TOUCH_NEVER);
	}
	end();
}

static void pin_policies_never_once_always(void)
{
	struct pub never, once, always;

	begin();
	admin();
	CHECK_EQ(generate(0x9E, ALG_P256, 0, 0, &never), SW_OK);
	CHECK_EQ(generate(0x9A, ALG_P256, 0, 0, &once), SW_OK);
	CHECK_EQ(generate(0x9C, ALG_P256, 0, 0, &always), SW_OK);
	/* nothing verified */
	CHECK(sign_ok(0x9E, &never));
	CHECK_EQ(use_key(ALG_P256, 0x9A, 0x81, "0123456789abcdef", 16),
		 SW_SECURITY);
	CHECK_EQ(use_key(ALG_P256, 0x9C, 0x81, "0123456789abcdef", 16),
		 SW_SECURITY);
	/* a wrong PIN opens nothing */
	CHECK_EQ(verify("000000"), 0x63C2);
	CHECK_EQ(use_key(ALG_P256, 0x9A, 0x81, "0123456789abcdef", 16),
		 SW_SECURITY);
	pin_ok();
	/* always: one use per VERIFY; once: as often as needed */
	CHECK(sign_ok(0x9C, &always));
	CHECK_EQ(use_key(ALG_P256, 0x9C, 0x81, "0123456789abcdef", 16),
		 SW_SECURITY);
	CHECK(sign_ok(0x9A, &once));
	CHECK(sign_ok(0x9A, &once));
	CHECK(ecdh_ok(0x9A, &once));
	CHECK_EQ(use_key(ALG_P256, 0x9C, 0x81, "0123456789abcdef", 16),
		 SW_SECURITY);
	pin_ok();
	CHECK(ecdh_ok(0x9C, &always));
	CHECK_EQ(use_key(ALG_P256, 0x9C, 0x81, "0123456789abcdef", 16),
		 SW_SECURITY);
	pin_ok();
	CHECK(sign_ok(0x9C, &always));
	/* forgetting the PIN closes the once key too */
	CHECK_EQ(cmd(0x20, 0xFF, 0x80, NULL, 0), SW_OK);
	CHECK_EQ(use_key(ALG_P256, 0x9A, 0x81, "0123456789abcdef", 16),
		 SW_SECURITY);
	CHECK(sign_ok(0x9E, &never));
	/* a restart forgets it as well */
	pin_ok();
	reopen(VKEY_UP_AUTO);
	CHECK_EQ(use_key(ALG_P256, 0x9A, 0x81, "0123456789abcdef", 16),
		 SW_SECURITY);
	end();
}

static void touch_policies_with_deny_and_auto(void)
{
	struct pub never, always, cached;
	struct toucher t;

	begin_up(VKEY_UP_DENY);
	CHECK_EQ(select_piv(), SW_OK);
	admin();
	CHECK_EQ(generate(0x9A, ALG_P256, PIN_NEVER, TOUCH_NEVER, &never),
		 SW_OK);
	CHECK_EQ(generate(0x9C, ALG_ED25519, PIN_NEVER, TOUCH_ALWAYS,
			  &always),
		 SW_OK);
	CHECK_EQ(generate(0x9D, ALG_P384, PIN_NEVER, TOUCH_CACHED, &cached),
		 SW_OK);
	CHECK(sign_ok(0x9A, &never));
	CHECK(ecdh_ok(0x9A, &never));
	CHECK_EQ(use_key(ALG_ED25519, 0x9C, 0x81, "m", 1), SW_CONDITIONS);
	CHECK_EQ(use_key(ALG_P384, 0x9D, 0x81, "0123456789abcdef", 16),
		 SW_CONDITIONS);
	/* the PIN does not stand in for the touch */
	pin_ok();
	CHECK_EQ(use_key(ALG_ED25519, 0x9C, 0x81, "m", 1), SW_CONDITIONS);
	reopen(VKEY_UP_AUTO);
	CHECK(sign_ok(0x9C, &always));
	CHECK(sign_ok(0x9C, &always));
	CHECK(sign_ok(0x9D, &cached));
	CHECK(ecdh_ok(0x9D, &cached));
	/* prompt: cached asks once (a touch counts for 15 s), always asks
	 * each time */
	reopen(VKEY_UP_PROMPT);
	CHECK_EQ(use_key(ALG_P384, 0x9D, 0x81, "0123456789abcdef", 16),
		 SW_CONDITIONS);
	toucher_start(&t);
	CHECK(sign_ok(0x9D, &cached));
	CHECK(toucher_join(&t));
	CHECK(sign_ok(0x9D, &cached));
	CHECK(ecdh_ok(0x9D, &cached));
	toucher_start(&t);
	CHECK(sign_ok(0x9C, &always));
	CHECK(toucher_join(&t));
	CHECK_EQ(use_key(ALG_ED25519, 0x9C, 0x81, "m", 1), SW_CONDITIONS);
	CHECK(sign_ok(0x9D, &cached));
	CHECK(sign_ok(0x9A, &never));
	/* the cached touch outlives a card reset (every tool run ends with
	 * one); the always key still asks */
	vkey_power_off(key);
	vkey_power_on(key);
	CHECK_EQ(select_piv(), SW_OK);
	CHECK(sign_ok(0x9D, &cached));
	CHECK_EQ(use_key(ALG_ED25519, 0x9C, 0x81, "m", 1), SW_CONDITIONS);
	end();
}

static void generate_errors(void)
{
	static const char *const bad[] = {
		"",                   /* nothing */
		"AC00",               /* no algorithm */
		"AC03800111FF",       /* cut short */
		"AD03800111",         /* not AC */
		"AC0380020011",       /* two-byte algorithm */
		"AC06800111AA0104",   /* PIN policy 4 */
		"AC06800111AB0104",   /* touch policy 4 */
		"AC06800111AA0204",   /* cut short */
		"AC03800101",         /* unknown algorithm 01 */
		"AC03800103",         /* 3DES is no key pair */
		"AC038001FF",         /* unknown algorithm FF */
	};
	uint8_t b[32];
	struct pub pk;

	begin();
	admin();
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = check_unhex(bad[i], b, sizeof(b));
		unsigned sw = cmd(0x47, 0x00, 0x9A, b, n);

		if (sw != SW_BAD_DATA)
			fprintf(stderr, "GENERATE %s: %04x\n", bad[i], sw);
		CHECK_EQ(sw, SW_BAD_DATA);
	}
	CHECK_EQ(get_metadata(0x9A), SW_NO_KEY);
	CHECK_EQ(generate(0xF9, ALG_P256, 0, 0, &pk), SW_BAD_P1P2);
	CHECK_EQ(generate(0x9B, ALG_P256, 0, 0, &pk), SW_BAD_P1P2);
	CHECK_EQ(generate(0x80, ALG_P256, 0, 0, &pk), SW_BAD_P1P2);
	CHECK_EQ(generate(0x96, ALG_P256, 0, 0, &pk), SW_BAD_P1P2);
	CHECK_EQ(generate(0x00, ALG_P256, 0, 0, &pk), SW_BAD_P1P2);
	{
		uint8_t t[] = { 0xAC, 0x03, 0x80, 0x01, ALG_P256 };
		CHECK_EQ(cmd(0x47, 0x01, 0x9A, t, sizeof(t)), SW_BAD_P1P2);
	}
	/* the attestation key is untouched */
	CHECK_EQ(get_metadata(0xF9), SW_OK);
	end();
}

static void general_authenticate_errors(void)
{
	static const char *const bad[] = {
		"",                    /* nothing */
		"7C00",                /* empty */
		"7C03810100",          /* no 82 */
		"7C048200810155",      /* 7C too short for its content */
		"7C058200810255",      /* 81 runs past the end */
		"7D0582008101AA",      /* not 7C */
		"7C0882008101AA850155", /* both 81 and 85 */
		"7C0282007C00",        /* trailing bytes after 7C */
	};
	uint8_t b[64], h[64];
	struct pub p256, rsa, x;

	begin();
	admin();
	pin_ok();
	CHECK_EQ(generate(0x9A, ALG_P256, PIN_NEVER, 0, &p256), SW_OK);
	CHECK_EQ(generate(0x9D, ALG_RSA1024, PIN_NEVER, 0, &rsa), SW_OK);
	CHECK_EQ(generate(0x9E, ALG_X25519, PIN_NEVER, 0, &x), SW_OK);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n = check_unhex(bad[i], b, sizeof(b));
		unsigned sw = cmd(0x87, ALG_P256, 0x9A, b, n);

		if (sw != SW_BAD_DATA)
			fprintf(stderr, "GEN AUTH %s: %04x\n", bad[i], sw);
		CHECK_EQ(sw, SW_BAD_DATA);
	}
	/* wrong algorithm in P1, empty slot */
	digest("SHA256", "a", 1, h);
	CHECK_EQ(use_key(ALG_P384, 0x9A, 0x81, h, 32), SW_BAD_DATA);
	CHECK_EQ(use_key(ALG_RSA1024, 0x9A, 0x81, h, 32), SW_BAD_DATA);
	CHECK_EQ(use_key(ALG_ED25519, 0x9A, 0x81, h, 32), SW_BAD_DATA);
	CHECK_EQ(use_key(ALG_RSA2048, 0x9D, 0x81, rsa.n, 128), SW_BAD_DATA);
	CHECK_EQ(use_key(ALG_P256, 0x9C, 0x81, h, 32), SW_BAD_DATA);
	CHECK_EQ(use_key(ALG_P256, 0x95, 0x81, h, 32), SW_BAD_DATA);
	/* a reference that is no key slot; F9 signs attestations only */
	CHECK_EQ(use_key(ALG_P256, 0x00, 0x81, h, 32), SW_BAD_P1P2);
	CHECK_EQ(use_key(ALG_P256, 0x80, 0x81, h, 32), SW_BAD_P1P2);
	CHECK_EQ(use_key(ALG_P256, 0xF9, 0x81, h, 32), SW_BAD_P1P2);
	CHECK_EQ(use_key(ALG_P256, 0xF9, 0x85, p256.point, 65), SW_BAD_P1P2);
	/* data of the wrong size */
	CHECK_EQ(use_key(ALG_P256, 0x9A, 0x81, b, 33), SW_BAD_DATA);
	CHECK_EQ(use_key(ALG_RSA1024, 0x9D, 0x81, rsa.n, 127), SW_BAD_DATA);
	{
		uint8_t big[129];

		memset(big, 0, sizeof(big));
		CHECK_EQ(use_key(ALG_RSA1024, 0x9D, 0x81, big, 129),
			 SW_BAD_DATA);
	}
	/* ECDH points: wrong size, not on the curve, compressed */
	CHECK_EQ(use_key(ALG_P256, 0x9A, 0x85, p256.point, 64), SW_BAD_DATA);
	CHECK_EQ(use_key(ALG_P256, 0x9A, 0x85, p256.point + 1, 64),
		 SW_BAD_DATA);
	{
		uint8_t pt[65];

		memcpy(pt, p256.point, 65);
		pt[64] ^= 1;
		CHECK_EQ(use_key(ALG_P256, 0x9A, 0x85, pt, 65), SW_BAD_DATA);
		pt[0] = 0x02;
		CHECK_EQ(use_key(ALG_P256, 0x9A, 0x85, pt, 33), SW_BAD_DATA);
	}
	CHECK_EQ(use_key(ALG_X25519, 0x9E, 0x85, x.point, 31), SW_BAD_DATA);
	CHECK_EQ(use_key(ALG_X25519, 0x9E, 0x85, x.point, 0), SW_BAD_DATA);
	/* the keys still work */
	CHECK(sign_ok(0x9A, &p256));
	CHECK(rsa_sign_ok(0x9D, &rsa));
	CHECK(ecdh_ok(0x9E, &x));
	end();
}

/* --- key import ------------------------------------------------------------------ */

/* One RSA key of each of the two quick sizes, made once by OpenSSL. */
static struct rsa_import rsa1024, rsa2048;

static void rsa_host_keys(void)
{
	if (rsa1024.k == NULL)
		rsa_host_key(alg_of(ALG_RSA1024), &rsa1024);
	if (rsa2048.k == NULL)
		rsa_host_key(alg_of(ALG_RSA2048), &rsa2048);
}

static void import_rsa_with_leading_zeros(void)
{
	begin();
	rsa_host_keys();
	admin();
	/* every CRT value one byte longer than half the modulus */
	rsa_import_data(&rsa1024, 1);
	CHECK_EQ(import_key(ALG_RSA1024, 0x9A, &rsa1024.d), SW_OK);
	/* as ykman sends them: half the modulus, zero-padded */
	rsa_import_data(&rsa2048, 0);
	CHECK_EQ(import_key(ALG_RSA2048, 0x9D, &rsa2048.d), SW_OK);
	key_metadata_is(0x9A, &rsa1024.pk, PIN_ONCE, TOUCH_NEVER,
			ORIGIN_IMPORTED);
	key_metadata_is(0x9D, &rsa2048.pk, PIN_ONCE, TOUCH_NEVER,
			ORIGIN_IMPORTED);
	pin_ok();
	CHECK(rsa_sign_ok(0x9A, &rsa1024.pk));
	CHECK(rsa_decipher_ok(0x9A, &rsa1024.pk));
	CHECK(rsa_sign_ok(0x9D, &rsa2048.pk));
	CHECK(rsa_decipher_ok(0x9D, &rsa2048.pk));
	/* with policies */
	rsa_import_data(&rsa1024, 0);
	d_tlv_u8(&rsa1024.d, 0xAA, PIN_ALWAYS);
	d_tlv_u8(&rsa1024.d, 0xAB, TOUCH_CACHED);
	CHECK_EQ(import_key(ALG_RSA1024, 0x9E, &rsa1024.d), SW_OK);
	key_metadata_is(0x9E, &rsa1024.pk, PIN_ALWAYS, TOUCH_CACHED,
			ORIGIN_IMPORTED);
	pin_ok();
	CHECK(rsa_sign_ok(0x9E, &rsa1024.pk));
	CHECK(!rsa_sign_ok(0x9E, &rsa1024.pk));
	reopen(VKEY_UP_AUTO);
	pin_ok();
	CHECK(rsa_decipher_ok(0x9D, &rsa2048.pk));
	end();
}

static void import_ec_ed25519_x25519(void)
{
	static const uint8_t id[] = { ALG_P256, ALG_P384, ALG_ED25519,
				      ALG_X25519 };
	static const uint8_t slot[] = { 0x9A, 0x9D, 0x9C, 0x84 };

	begin();
	admin();
	for (size_t i = 0; i < sizeof(id); i++) {
		const struct alg *a = alg_of(id[i]);
		struct data d;
		struct pub pk;
		EVP_PKEY *k = ec_host_import(a, &d, &pk);

		d_tlv_u8(&d, 0xAA, PIN_NEVER);
		CHECK_EQ(import_key(a->id, slot[i], &d), SW_OK);
		key_metadata_is(slot[i], &pk, PIN_NEVER, TOUCH_NEVER,
				ORIGIN_IMPORTED);
		if (a->kind != K_X25519)
			CHECK(sign_ok(slot[i], &pk));
		if (a->kind != K_ED25519)
			CHECK(ecdh_ok(slot[i], &pk));
		EVP_PKEY_free(k);
	}
	end();
}

/* A P-256 scalar with leading zero bytes is still a field-size value. */
static void import_p256_small_scalar(void)
{
	uint8_t scalar[32] = { 0 };
	struct data d = { .n = 0 };
	struct pub pk;
	EVP_PKEY *k;
	BIGNUM *bn;
	EC_GROUP *g = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
	EC_POINT *pt = g ? EC_POINT_new(g) : NULL;

	scalar[31] = 0x05;
	scalar[30] = 0x77;
	bn = BN_bin2bn(scalar, 32, NULL);
	memset(&pk, 0, sizeof(pk));
	pk.a = alg_of(ALG_P256);
	CHECK(pt != NULL && bn != NULL &&
	      EC_POINT_mul(g, pt, bn, NULL, NULL, NULL) == 1);
	pk.point_len = EC_POINT_point2oct(g, pt, POINT_CONVERSION_UNCOMPRESSED,
					  pk.point, sizeof(pk.point), NULL);
	k = pub_key(&pk);
	begin();
	admin();
	d_tlv(&d, 0x06, scalar, 32);
	CHECK_EQ(import_key(ALG_P256, 0x9E, &d), SW_OK);
	key_metadata_is(0x9E, &pk, PIN_NEVER, TOUCH_NEVER, ORIGIN_IMPORTED);
	CHECK(sign_ok(0x9E, &pk));
	end();
	EVP_PKEY_free(k);
	BN_free(bn);
	EC_POINT_free(pt);
	EC_GROUP_free(g);
}

static void import_errors(void)
{
	struct data d = { .n = 0 };
	uint8_t v[64];
	struct pub pk;
	EVP_PKEY *k;

	begin();
	admin();
	rand_bytes(v, sizeof(v));
	v[0] = 0x01;
	/* EC scalar of the wrong size, or under the wrong tag */
	d_tlv(&d, 0x06, v, 31);
	CHECK_EQ(import_key(ALG_P256, 0x9A, &d), SW_BAD_DATA);
	d.n = 0;
	d_tlv(&d, 0x06, v, 33);
	CHECK_EQ(import_key(ALG_P256, 0x9A, &d), SW_BAD_DATA);
	d.n = 0;
	d_tlv(&d, 0x06, v, 32);
	CHECK_EQ(import_key(ALG_P384, 0x9A, &d), SW_BAD_DATA);
	CHECK_EQ(import_key(ALG_ED25519, 0x9A, &d), SW_BAD_DATA);
	d.n = 0;
	d_tlv(&d, 0x07, v, 31);
	CHECK_EQ(import_key(ALG_ED25519, 0x9A, &d), SW_BAD_DATA);
	d.n = 0;
	d_tlv(&d, 0x08, v, 33);
	CHECK_EQ(import_key(ALG_X25519, 0x9A, &d), SW_BAD_DATA);
	/* zero and the order are no P-256 scalars */
	memset(v, 0, 32);
	d.n = 0;
	d_tlv(&d, 0x06, v, 32);
	CHECK_EQ(import_key(ALG_P256, 0x9A, &d), SW_BAD_DATA);
	check_unhex("FFFFFFFF00000000FFFFFFFFFFFFFFFF"
		    "BCE6FAADA7179E84F3B9CAC2FC632551", v, 32);
	d.n = 0;
	d_tlv(&d, 0x06, v, 32);
	CHECK_EQ(import_key(ALG_P256, 0x9A, &d), SW_BAD_DATA);
	/* bad policies */
	k = ec_host_import(alg_of(ALG_P256), &d, &pk);
	d_tlv_u8(&d, 0xAA, 0x04);
	CHECK_EQ(import_key(ALG_P256, 0x9A, &d), SW_BAD_DATA);
	EVP_PKEY_free(k);
	k = ec_host_import(alg_of(ALG_P256), &d, &pk);
	d_tlv_u8(&d, 0xAB, 0x07);
	CHECK_EQ(import_key(ALG_P256, 0x9A, &d), SW_BAD_DATA);
	/* unknown algorithm, or no key slot */
	k = (EVP_PKEY_free(k), ec_host_import(alg_of(ALG_P256), &d, &pk));
	CHECK_EQ(import_key(0x01, 0x9A, &d), SW_BAD_P1P2);
	CHECK_EQ(import_key(ALG_3DES, 0x9A, &d), SW_BAD_P1P2);
	CHECK_EQ(import_key(ALG_P256, 0x9B, &d), SW_BAD_P1P2);
	CHECK_EQ(import_key(ALG_P256, 0x80, &d), SW_BAD_P1P2);
	CHECK_EQ(get_metadata(0x9A), SW_NO_KEY);
	EVP_PKEY_free(k);
	/* RSA: a missing part, parts that do not make the key size, and
	 * CRT values that do not belong together */
	rsa_host_keys();
	rsa_import_data(&rsa1024, 0);
	d.n = 0;
	d_raw(&d, rsa1024.d.b, rsa1024.d.n - 66); /* without 05 */
	CHECK_EQ(import_key(ALG_RSA1024, 0x9A, &d), SW_BAD_DATA);
	CHECK_EQ(import_key(ALG_RSA2048, 0x9A, &rsa1024.d), SW_BAD_DATA);
	rsa_import_data(&rsa2048, 0);
	CHECK_EQ(import_key(ALG_RSA1024, 0x9A, &rsa2048.d), SW_BAD_DATA);
	d = rsa1024.d;
	d.b[10] ^= 0x01; /* inside p: no longer a factor */
	CHECK_EQ(import_key(ALG_RSA1024, 0x9A, &d), SW_BAD_DATA);
	/* duplicate and unknown tags */
	k = ec_host_import(alg_of(ALG_P256), &d, &pk);
	{
		struct data twice = d;

		d_raw(&twice, d.b, d.n);
		CHECK_EQ(import_key(ALG_P256, 0x9A, &twice), SW_BAD_DATA);
		d_tlv_u8(&d, 0x09, 0x00);
		CHECK_EQ(import_key(ALG_P256, 0x9A, &d), SW_BAD_DATA);
	}
	EVP_PKEY_free(k);
	d = rsa1024.d;
	d_tlv(&d, 0x01, rsa1024.d.b + 2, 64);
	CHECK_EQ(import_key(ALG_RSA1024, 0x9A, &d), SW_BAD_DATA);
	CHECK_EQ(get_metadata(0x9A), SW_NO_KEY);
	end();
}

/* --- move and delete ----------------------------------------------------------------- */

static void move_and_delete_key(void)
{
	struct pub a, b;
	struct toucher t;

	begin();
	admin();
	CHECK_EQ(generate(0x9A, ALG_P256, PIN_NEVER, TOUCH_CACHED, &a), SW_OK);
	CHECK_EQ(generate(0x9C, ALG_ED25519, 0, 0, &b), SW_OK);
	CHECK_EQ(put_data(0x5FC105, "cert-9a", 7), SW_OK);
	CHECK_EQ(move_key(0x85, 0x9A), SW_OK);
	CHECK_EQ(get_metadata(0x9A), SW_NO_KEY);
	key_metadata_is(0x85, &a, PIN_NEVER, TOUCH_CACHED, ORIGIN_GENERATED);
	CHECK(sign_ok(0x85, &a));
	CHECK_EQ(use_key(ALG_P256, 0x9A, 0x81, "0123456789abcdef", 16),
		 SW_BAD_DATA);
	/* certificates stay where they are */
	CHECK(obj_is(0x5FC105, "cert-9a", 7));
	CHECK_EQ(get_data(0x5FC110), SW_NOT_FOUND);
	/* onto a slot that holds a key: replaced */
	CHECK_EQ(move_key(0x9C, 0x85), SW_OK);
	key_metadata_is(0x9C, &a, PIN_NEVER, TOUCH_CACHED, ORIGIN_GENERATED);
	CHECK_EQ(get_metadata(0x85), SW_NO_KEY);
	/* with its policies: the touch is still asked */
	reopen(VKEY_UP_PROMPT);
	toucher_start(&t);
	CHECK(sign_ok(0x9C, &a));
	CHECK(toucher_join(&t));
	reopen(VKEY_UP_AUTO);
	admin();
	/* F9, 9B, unknown slots and P1 = P2 are 6A 86; an empty source
	 * 6A 80; command data 67 00 */
	CHECK_EQ(move_key(0xF9, 0x9C), SW_BAD_P1P2);
	CHECK_EQ(move_key(0x9A, 0xF9), SW_BAD_P1P2);
	CHECK_EQ(get_metadata(0xF9), SW_OK);
	CHECK_EQ(move_key(0x9D, 0x9B), SW_BAD_P1P2);
	CHECK_EQ(move_key(0x9B, 0x9C), SW_BAD_P1P2);
	CHECK_EQ(move_key(0x00, 0x9C), SW_BAD_P1P2);
	CHECK_EQ(move_key(0x9C, 0x96), SW_BAD_P1P2);
	CHECK_EQ(move_key(0x9C, 0x9C), SW_BAD_P1P2);
	CHECK_EQ(move_key(0x9D, 0x9A), SW_BAD_DATA);
	CHECK_EQ(move_key(0xFF, 0x9A), SW_BAD_DATA);
	CHECK_EQ(cmd(0xF6, 0x9D, 0x9C, "\x00", 1), SW_WRONG_LENGTH);
	key_metadata_is(0x9C, &a, PIN_NEVER, TOUCH_CACHED, ORIGIN_GENERATED);
	CHECK_EQ(get_metadata(0x9D), SW_NO_KEY);
	/* delete */
	CHECK_EQ(move_key(0xFF, 0x9C), SW_OK);
	CHECK_EQ(get_metadata(0x9C), SW_NO_KEY);
	CHECK_EQ(use_key(ALG_P256, 0x9C, 0x81, "0123456789abcdef", 16),
		 SW_BAD_DATA);
	CHECK_EQ(move_key(0xFF, 0x9C), SW_BAD_DATA);
	CHECK_EQ(move_key(0xFF, 0xF9), SW_BAD_P1P2);
	CHECK_EQ(get_metadata(0xF9), SW_OK);
	reopen(VKEY_UP_AUTO);
	CHECK_EQ(get_metadata(0x9C), SW_NO_KEY);
	CHECK_EQ(get_metadata(0x85), SW_NO_KEY);
	end();
}

/* An RSA key moved keeps working (its prepared form must follow). */
static void moved_rsa_key_still_signs(void)
{
	struct pub a, b;

	begin();
	admin();
	pin_ok();
	CHECK_EQ(generate(0x9A, ALG_RSA1024, PIN_NEVER, 0, &a), SW_OK);
	CHECK_EQ(generate(0x9D, ALG_RSA1024, PIN_NEVER, 0, &b), SW_OK);
	CHECK(rsa_sign_ok(0x9A, &a));
	CHECK(rsa_sign_ok(0x9D, &b));
	CHECK_EQ(move_key(0x9D, 0x9A), SW_OK);
	CHECK(rsa_sign_ok(0x9D, &a));
	CHECK(!rsa_sign_ok(0x9D, &b));
	CHECK_EQ(move_key(0x9A, 0x9D), SW_OK);
	CHECK(rsa_decipher_ok(0x9A, &a));
	end();
}

/* --- attestation ---------------------------------------------------------------------- */

static void attest_generated_keys(void)
{
	struct pub p256, rsa, ed, x;
	X509 *ca;

	begin();
	ca = attestation_ca();
	CHECK(ca != NULL);
	if (ca != NULL) {
		CHECK_EQ(X509_verify(ca, X509_get0_pubkey(ca)), 1);
		CHECK_EQ(X509_NAME_cmp(X509_get_issuer_name(ca),
				       X509_get_subject_name(ca)), 0);
	}
	/* the F9 key: a P-256 key with metadata, generated */
	CHECK_EQ(get_metadata(0xF9), SW_OK);
	CHECK_EQ(md_byte(0x01, 0, 1), ALG_P256);
	CHECK_EQ(md_byte(0x03, 0, 1), ORIGIN_GENERATED);
	{
		size_t l = 0;
		const uint8_t *v = tlv_find(all, all_len, 0x04, &l);
		struct pub f9;

		CHECK(v != NULL &&
		      parse_pub_fields(v, l, alg_of(ALG_P256), &f9) == 0);
		if (v != NULL && ca != NULL) {
			EVP_PKEY *k = pub_key(&f9);

			CHECK_EQ(EVP_PKEY_eq(X509_get0_pubkey(ca), k), 1);
			EVP_PKEY_free(k);
		}
	}
	admin();
	CHECK_EQ(attest(0x9A), SW_NO_KEY);
	CHECK_EQ(generate(0x9A, ALG_P256, 0, 0, &p256), SW_OK);
	CHECK_EQ(generate(0x9C, ALG_RSA2048, PIN_NEVER, TOUCH_ALWAYS, &rsa),
		 SW_OK);
	CHECK_EQ(generate(0x9E, ALG_ED25519, 0, TOUCH_CACHED, &ed), SW_OK);
	CHECK_EQ(generate(0x95, ALG_X25519, PIN_ALWAYS, 0, &x), SW_OK);
	/* attestation needs neither PIN nor management key */
	CHECK_EQ(select_piv(), SW_OK);
	attestation_ok(0x9A, &p256, ca, PIN_ONCE, TOUCH_NEVER);
	attestation_ok(0x9C, &rsa, ca, PIN_NEVER, TOUCH_ALWAYS);
	attestation_ok(0x9E, &ed, ca, PIN_NEVER, TOUCH_CACHED);
	attestation_ok(0x95, &x, ca, PIN_ALWAYS, TOUCH_NEVER);
	CHECK_EQ(attest(0x9D), SW_NO_KEY);
	CHECK_EQ(attest(0x82), SW_NO_KEY);
	CHECK_EQ(cmd(0xF9, 0x9A, 0x01, NULL, 0), SW_BAD_P1P2);
	CHECK_EQ(attest(0x9B), SW_BAD_P1P2);
	CHECK_EQ(attest(0x80), SW_BAD_P1P2);
	CHECK_EQ(attest(0xF9), SW_BAD_P1P2);
	/* a key moved elsewhere is still attested as generated */
	admin();
	CHECK_EQ(move_key(0x9D, 0x9A), SW_OK);
	attestation_ok(0x9D, &p256, ca, PIN_ONCE, TOUCH_NEVER);
	CHECK_EQ(attest(0x9A), SW_NO_KEY);
	X509_free(ca);
	end();
}

static void attest_refuses_imported_keys(void)
{
	struct data d;
	struct pub pk;
	EVP_PKEY *k;

	begin();
	admin();
	k = ec_host_import(alg_of(ALG_P256), &d, &pk);
	CHECK_EQ(import_key(ALG_P256, 0x9A, &d), SW_OK);
	CHECK_EQ(attest(0x9A), SW_BAD_DATA);
	EVP_PKEY_free(k);
	rsa_host_keys();
	rsa_import_data(&rsa1024, 0);
	CHECK_EQ(import_key(ALG_RSA1024, 0x9C, &rsa1024.d), SW_OK);
	CHECK_EQ(attest(0x9C), SW_BAD_DATA);
	/* a generated key over an imported one can be attested */
	CHECK_EQ(generate(0x9A, ALG_P256, 0, 0, &pk), SW_OK);
	CHECK_EQ(attest(0x9A), SW_OK);
	end();
}

/* A self-signed certificate (no CA extensions) for k. */
static X509 *self_signed(EVP_PKEY *k, const char *cn)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();

	if (x == NULL || name == NULL ||
	    X509_set_version(x, 2) != 1 ||
	    ASN1_INTEGER_set(X509_get_serialNumber(x), 4242) != 1 ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 86400L) == NULL ||
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
				       (const unsigned char *)cn, -1, -1,
				       0) != 1 ||
	    X509_set_subject_name(x, name) != 1 ||
	    X509_set_issuer_name(x, name) != 1 || X509_set_pubkey(x, k) != 1 ||
	    X509_sign(x, k, EVP_sha384()) <= 0)
		abort();
	X509_NAME_free(name);
	return x;
}

/* An own attestation key imported into F9 and its certificate (written
 * as ykman writes certificates) become the issuer. */
static void attest_with_imported_attestation_key(void)
{
	struct data d, cert = { .n = 0 };
	struct pub f9, gen;
	EVP_PKEY *k;
	X509 *own, *ca;
	unsigned char *der = NULL;
	int dl;

	begin();
	admin();
	/* X25519 cannot sign: not an attestation key */
	k = ec_host_import(alg_of(ALG_X25519), &d, &f9);
	CHECK_EQ(import_key(ALG_X25519, 0xF9, &d), SW_BAD_P1P2);
	EVP_PKEY_free(k);
	k = ec_host_import(alg_of(ALG_P384), &d, &f9);
	CHECK_EQ(import_key(ALG_P384, 0xF9, &d), SW_OK);
	key_metadata_is(0xF9, &f9, PIN_NEVER, TOUCH_NEVER, ORIGIN_IMPORTED);
	own = self_signed(k, "own PIV attestation");
	dl = i2d_X509(own, &der);
	CHECK(dl > 0);
	d_tlv(&cert, 0x70, der, (size_t)dl);
	d_tlv_u8(&cert, 0x71, 0x00);
	d_tlv(&cert, 0xFE, NULL, 0);
	CHECK_EQ(put_data(0x5FFF01, cert.b, cert.n), SW_OK);
	ca = attestation_ca();
	CHECK(ca != NULL && X509_cmp(ca, own) == 0);
	CHECK_EQ(generate(0x9A, ALG_P256, 0, 0, &gen), SW_OK);
	attestation_ok(0x9A, &gen, own, PIN_ONCE, TOUCH_NEVER);
	/* and after a restart */
	reopen(VKEY_UP_AUTO);
	attestation_ok(0x9A, &gen, own, PIN_ONCE, TOUCH_NEVER);
	OPENSSL_free(der);
	X509_free(ca);
	X509_free(own);
	EVP_PKEY_free(k);
	end();
}

/* The F9 certificate object: content of 5FFF01 as it is now. */
static size_t f9_object(uint8_t *out, size_t cap)
{
	size_t l = 0;
	const uint8_t *c;

	if (get_data(0x5FFF01) != SW_OK || (c = obj_content(&l)) == NULL ||
	    l > cap)
		return 0;
	memcpy(out, c, l);
	return l;
}

/* ATTEST without a usable issuer: 69 85 without a certificate (deleted,
 * or marked compressed), 6F 00 with a certificate of another key or an
 * RSA-1024 F9 key. */
static void attest_needs_a_usable_issuer(void)
{
	static uint8_t orig[4096];
	static struct data obj, rsa_obj;
	size_t ol;
	struct pub gen;
	EVP_PKEY *other;
	X509 *x;
	unsigned char *der = NULL;
	int dl;

	begin();
	admin();
	CHECK_EQ(generate(0x9A, ALG_P256, 0, 0, &gen), SW_OK);
	ol = f9_object(orig, sizeof(orig));
	CHECK(ol > 0 && orig[0] == 0x70);
	CHECK_EQ(put_data(0x5FFF01, NULL, 0), SW_OK);
	CHECK_EQ(attest(0x9A), SW_CONDITIONS);
	/* the same certificate, flagged compressed */
	{
		size_t cl = 0;
		const uint8_t *c = tlv_find(orig, ol, 0x70, &cl);

		obj.n = 0;
		if (c != NULL)
			d_tlv(&obj, 0x70, c, cl);
		d_tlv_u8(&obj, 0x71, 0x01);
		d_tlv(&obj, 0xFE, NULL, 0);
		CHECK_EQ(put_data(0x5FFF01, obj.b, obj.n), SW_OK);
		CHECK_EQ(attest(0x9A), SW_CONDITIONS);
	}
	/* a certificate of another key */
	other = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "prime256v1");
	x = self_signed(other, "not the F9 key");
	dl = i2d_X509(x, &der);
	obj.n = 0;
	d_tlv(&obj, 0x70, der, dl > 0 ? (size_t)dl : 0);
	d_tlv_u8(&obj, 0x71, 0x00);
	d_tlv(&obj, 0xFE, NULL, 0);
	CHECK_EQ(put_data(0x5FFF01, obj.b, obj.n), SW_OK);
	CHECK_EQ(attest(0x9A), 0x6F00);
	OPENSSL_free(der);
	der = NULL;
	X509_free(x);
	/* the original again: attestation works */
	CHECK_EQ(put_data(0x5FFF01, orig, ol), SW_OK);
	CHECK_EQ(attest(0x9A), SW_OK);
	/* an RSA-1024 F9 key with its certificate: 6F 00 */
	rsa_host_keys();
	rsa_import_data(&rsa1024, 0);
	CHECK_EQ(import_key(ALG_RSA1024, 0xF9, &rsa1024.d), SW_OK);
	x = self_signed(rsa1024.k, "RSA-1024 attestation");
	dl = i2d_X509(x, &der);
	rsa_obj.n = 0;
	d_tlv(&rsa_obj, 0x70, der, dl > 0 ? (size_t)dl : 0);
	d_tlv_u8(&rsa_obj, 0x71, 0x00);
	d_tlv(&rsa_obj, 0xFE, NULL, 0);
	CHECK_EQ(put_data(0x5FFF01, rsa_obj.b, rsa_obj.n), SW_OK);
	CHECK_EQ(attest(0x9A), 0x6F00);
	OPENSSL_free(der);
	X509_free(x);
	EVP_PKEY_free(other);
	end();
}

/* A bad host point is found before the policies: no touch asked, no
 * PIN-always verification spent. */
static void bad_ecdh_point_spends_no_policy(void)
{
	struct pub k, x;
	uint8_t bad[65], zero[32] = { 0 };

	begin_up(VKEY_UP_DENY);
	CHECK_EQ(select_piv(), SW_OK);
	admin();
	CHECK_EQ(generate(0x9D, ALG_P256, PIN_NEVER, TOUCH_ALWAYS, &k), SW_OK);
	CHECK_EQ(generate(0x9A, ALG_P256, PIN_ALWAYS, TOUCH_NEVER, &k), SW_OK);
	CHECK_EQ(generate(0x82, ALG_X25519, PIN_ALWAYS, TOUCH_NEVER, &x),
		 SW_OK);
	bad[0] = 0x04;
	memset(bad + 1, 0x11, 64); /* not on the curve */
	/* touch always under deny: 6A80, not the touch refusal */
	CHECK_EQ(use_key(ALG_P256, 0x9D, 0x85, bad, sizeof(bad)),
		 SW_BAD_DATA);
	/* PIN always: the bad point leaves the verification for a use */
	pin_ok();
	CHECK_EQ(use_key(ALG_P256, 0x9A, 0x85, bad, sizeof(bad)),
		 SW_BAD_DATA);
	CHECK_EQ(use_key(ALG_X25519, 0x82, 0x85, zero, sizeof(zero)),
		 SW_BAD_DATA);
	CHECK(sign_ok(0x9A, &k));
	CHECK_EQ(use_key(ALG_P256, 0x9A, 0x81, "0123456789abcdef", 16),
		 SW_SECURITY);
	end();
}

/* A refused touch leaves a PIN-always verification for the next try. */
static void refused_touch_keeps_pin_always(void)
{
	struct toucher t;
	struct pub k;

	begin_up(VKEY_UP_PROMPT);
	CHECK_EQ(select_piv(), SW_OK);
	admin();
	CHECK_EQ(generate(0x9C, ALG_P256, PIN_ALWAYS, TOUCH_ALWAYS, &k), SW_OK);
	pin_ok();
	/* no touch comes: the prompt times out */
	CHECK_EQ(use_key(ALG_P256, 0x9C, 0x81, "0123456789abcdef", 16),
		 SW_CONDITIONS);
	toucher_start(&t);
	CHECK(sign_ok(0x9C, &k));
	CHECK(toucher_join(&t));
	CHECK_EQ(use_key(ALG_P256, 0x9C, 0x81, "0123456789abcdef", 16),
		 SW_SECURITY);
	end();
}

/* Damaged records: a key can be deleted, ATTEST says 6581 for a damaged
 * F9 key, and RESET (PIN and PUK blocked) makes a new F9 key. */
static void damaged_records(void)
{
	static const uint8_t junk[3] = { 1, 2, 3 };
	struct pub k;
	X509 *ca;

	begin();
	admin();
	CHECK_EQ(generate(0x9A, ALG_P256, 0, 0, &k), SW_OK);
	CHECK_EQ(store_put(vkey_store(key), "piv", "key.9a", 6, junk, 3),
		 STORE_OK);
	CHECK_EQ(cmd(0xF6, 0x9C, 0x9A, NULL, 0), 0x6581);
	CHECK_EQ(cmd(0xF6, 0xFF, 0x9A, NULL, 0), SW_OK);
	CHECK_EQ(get_metadata(0x9A), SW_NO_KEY);
	CHECK_EQ(generate(0x9A, ALG_P256, 0, 0, &k), SW_OK);
	CHECK_EQ(store_put(vkey_store(key), "piv", "key.f9", 6, junk, 3),
		 STORE_OK);
	CHECK_EQ(cmd(0xF9, 0x9A, 0x00, NULL, 0), 0x6581);
	block_pin();
	block_puk();
	CHECK_EQ(cmd(0xFB, 0x00, 0x00, NULL, 0), SW_OK);
	pin_ok();
	admin();
	CHECK_EQ(generate(0x9A, ALG_P256, 0, 0, &k), SW_OK);
	ca = attestation_ca();
	CHECK(ca != NULL);
	if (ca != NULL)
		attestation_ok(0x9A, &k, ca, PIN_ONCE, TOUCH_NEVER);
	X509_free(ca);
	end();
}

/* Any failed management-key step ends the authentication. */
static void failed_mgmt_step_clears_authentication(void)
{
	static const uint8_t bad_len[] = { 0x7C, 0x06, 0x80, 0x04, 1, 2, 3, 4 };
	struct pub k;

	begin();
	admin();
	CHECK_EQ(cmd(0x87, ALG_3DES, 0x9B, bad_len, sizeof(bad_len)),
		 SW_BAD_DATA);
	CHECK_EQ(generate(0x9A, ALG_P256, 0, 0, &k), SW_SECURITY);
	admin();
	CHECK_EQ(cmd(0x87, ALG_AES128, 0x9B, bad_len, sizeof(bad_len)),
		 SW_BAD_P1P2);
	CHECK_EQ(generate(0x9A, ALG_P256, 0, 0, &k), SW_SECURITY);
	end();
}

int main(void)
{
	RUN(select_answers_property_template);
	RUN(get_version_and_serial);
	RUN(class_and_instruction_errors);
	RUN(discovery_object_is_built_in);
	RUN(put_get_every_container);
	RUN(retired_certificates_one_per_slot);
	RUN(attestation_certificate_object_can_be_replaced);
	RUN(object_size_limit_3052);
	RUN(pin_protected_objects);
	RUN(put_data_needs_management_key);
	RUN(unknown_object_ids);
	RUN(get_data_bad_p1p2_and_templates);
	RUN(put_data_bad_p1p2_and_templates);
	RUN(chained_put_and_get_response);
	RUN(pin_factory_metadata);
	RUN(verify_good_wrong_status_and_forget);
	RUN(verify_blocks_after_three_wrong);
	RUN(pin_values_of_wrong_length_or_with_ff);
	RUN(change_pin_and_puk);
	RUN(unblock_with_puk);
	RUN(counters_persist_across_reopen);
	RUN(set_pin_retries_needs_both);
	RUN(reset_only_when_both_blocked);
	RUN(mgmt_mutual_auth_every_algorithm);
	RUN(mgmt_external_authentication);
	RUN(mgmt_wrong_witness_clears_authentication);
	RUN(mgmt_wrong_algorithm_in_p1);
	RUN(mgmt_exchange_abandoned_by_another_command);
	RUN(mgmt_malformed_templates);
	RUN(set_mgmt_key_checks);
	RUN(mgmt_touch_policy);
	RUN(key_commands_need_management_key);
	RUN(generate_rsa_1024_2048_sign_and_decipher);
	RUN(generate_rsa_3072_4096_over_short_apdus);
	RUN(generate_ec_sign_and_agree);
	RUN(every_slot_takes_a_key);
	RUN(default_and_explicit_policies_in_metadata);
	RUN(pin_policies_never_once_always);
	RUN(touch_policies_with_deny_and_auto);
	RUN(generate_errors);
	RUN(general_authenticate_errors);
	RUN(import_rsa_with_leading_zeros);
	RUN(import_ec_ed25519_x25519);
	RUN(import_p256_small_scalar);
	RUN(import_errors);
	RUN(move_and_delete_key);
	RUN(moved_rsa_key_still_signs);
	RUN(attest_generated_keys);
	RUN(attest_refuses_imported_keys);
	RUN(attest_with_imported_attestation_key);
	RUN(attest_needs_a_usable_issuer);
	RUN(bad_ecdh_point_spends_no_policy);
	RUN(refused_touch_keeps_pin_always);
	RUN(damaged_records);
	RUN(failed_mgmt_step_clears_authentication);
	EVP_PKEY_free(rsa1024.k);
	EVP_PKEY_free(rsa2048.k);
	return CHECK_DONE();
}
