/* PIV benchmark through PC/SC (libpcsclite -> pcscd -> vpcd -> vkey
 * serve): GENERAL AUTHENTICATE signatures (P-256, Ed25519, RSA-2048,
 * RSA-4096), ECDH P-256 and GENERATE (RSA-2048, RSA-4096), each beside
 * the raw OpenSSL operation it is built on, timed in the same run and
 * interleaved with it. Every card result is checked once against the
 * public key GENERATE returned. Prints; never asserts. */
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "card_op.h"
#include "card_pcsc.h"
#include "ossl_ref.h"

/* docs/PIV.md: factory PIN and management key (3DES). */
static const uint8_t pin_block[8] = { '1', '2', '3', '4', '5', '6', 0xFF,
				      0xFF };
static const uint8_t mgmt_key[24] = { 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4,
				      5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8 };
static const uint8_t piv_aid[] = { 0xA0, 0x00, 0x00, 0x03, 0x08 };

/* Instructions, references and algorithms (YubiKey 5.7 identifiers). */
#define INS_VERIFY 0x20
#define INS_GENERATE 0x47
#define INS_GENERAL_AUTH 0x87
#define REF_PIN 0x80
#define REF_MGMT 0x9B
#define SLOT_SIGN 0x9A /* PIN once: one VERIFY for every signature */
#define SLOT_KM 0x9D
#define ALG_3DES 0x03
#define ALG_RSA2048 0x07
#define ALG_RSA4096 0x16
#define ALG_P256 0x11
#define ALG_ED25519 0xE0

/* CanoKey's virtual card on this machine (the project's measurements),
 * in milliseconds; 0: none. */
#define CANOKEY_P256_SIGN 0.74
#define CANOKEY_RSA2048_SIGN 2.4
#define CANOKEY_RSA2048_GEN 57.0

/* Append tag (one or two bytes), length and value at out + *n. */
static void tlv_put(uint8_t *out, size_t *n, unsigned tag, const uint8_t *v,
		    size_t len)
{
	if (tag > 0xFF)
		out[(*n)++] = (uint8_t)(tag >> 8);
	out[(*n)++] = (uint8_t)tag;
	if (len > 0xFF) {
		out[(*n)++] = 0x82;
		out[(*n)++] = (uint8_t)(len >> 8);
	} else if (len > 0x7F) {
		out[(*n)++] = 0x81;
	}
	out[(*n)++] = (uint8_t)len;
	if (len > 0)
		memcpy(out + *n, v, len);
	*n += len;
}

/* The value of tag inside the 7C dynamic authentication template that
 * opens an answer; NULL when either is missing. */
static const uint8_t *dyn_find(const struct card_resp *r, unsigned tag,
			       size_t *len)
{
	const uint8_t *dyn;
	size_t dl;

	if ((dyn = card_tlv_find(r->p, r->len, 0x7C, &dl)) == NULL)
		return NULL;
	return card_tlv_find(dyn, dl, tag, len);
}

/* ---- session: SELECT, management key, PIN ---- */

static int des3_ecb(const uint8_t *in, uint8_t *out, int enc)
{
	EVP_CIPHER_CTX *x = EVP_CIPHER_CTX_new();
	int l1 = 0, l2 = 0;
	int ok = x != NULL &&
		 EVP_CipherInit_ex(x, EVP_des_ede3_ecb(), NULL, mgmt_key, NULL,
				   enc) == 1 &&
		 EVP_CIPHER_CTX_set_padding(x, 0) == 1 &&
		 EVP_CipherUpdate(x, out, &l1, in, 8) == 1 &&
		 EVP_CipherFinal_ex(x, out + l1, &l2) == 1 && l1 + l2 == 8;

	EVP_CIPHER_CTX_free(x);
	return ok ? 0 : -1;
}

/* Mutual authentication (docs/PIV.md): decrypt the card's witness,
 * send it with our challenge, check the card encrypted the challenge. */
static int mgmt_auth(struct card *c)
{
	static const uint8_t ask[4] = { 0x7C, 0x02, 0x80, 0x00 };
	uint8_t inner[20], req[22], plain[8], chal[8], want[8];
	const uint8_t *w;
	size_t n = 0, il = 0, wl;
	struct card_resp r;

	if (card_expect_ok("GENERAL AUTHENTICATE 9B (witness)",
			   card_call(c, INS_GENERAL_AUTH, ALG_3DES, REF_MGMT,
				     ask, sizeof ask, true, &r)) != 0 ||
	    (w = dyn_find(&r, 0x80, &wl)) == NULL || wl != 8 ||
	    des3_ecb(w, plain, 0) != 0 || RAND_bytes(chal, 8) != 1 ||
	    des3_ecb(chal, want, 1) != 0)
		return -1;
	tlv_put(inner, &il, 0x80, plain, 8);
	tlv_put(inner, &il, 0x81, chal, 8);
	tlv_put(req, &n, 0x7C, inner, il);
	OPENSSL_cleanse(plain, sizeof plain);
	if (card_expect_ok("GENERAL AUTHENTICATE 9B (challenge)",
			   card_call(c, INS_GENERAL_AUTH, ALG_3DES, REF_MGMT,
				     req, n, true, &r)) != 0 ||
	    (w = dyn_find(&r, 0x82, &wl)) == NULL || wl != 8 ||
	    memcmp(w, want, 8) != 0) {
		fprintf(stderr, "management key: the card's answer is wrong\n");
		return -1;
	}
	return 0;
}

/* SELECT, then the management key for GENERATE and the PIN for the
 * keys. */
static int card_open(struct card *c, const char *reader)
{
	struct card_resp r;

	if (card_connect(c, reader) != 0 ||
	    card_expect_ok("SELECT", card_select(c, piv_aid, sizeof piv_aid,
						 &r)) != 0 ||
	    mgmt_auth(c) != 0 ||
	    card_expect_ok("VERIFY PIN",
			   card_call(c, INS_VERIFY, 0x00, REF_PIN, pin_block,
				     sizeof pin_block, false, &r)) != 0)
		return -1;
	return 0;
}

/* ---- keys ---- */

struct keytype {
	const char *name;
	uint8_t alg;
	int evp_id; /* EVP_PKEY_RSA, _EC, _ED25519 */
	unsigned rsa_bits;
};

static const struct keytype kt_rsa2048 = { "RSA-2048", ALG_RSA2048,
					   EVP_PKEY_RSA, 2048 };
static const struct keytype kt_rsa4096 = { "RSA-4096", ALG_RSA4096,
					   EVP_PKEY_RSA, 4096 };
static const struct keytype kt_p256 = { "P-256", ALG_P256, EVP_PKEY_EC, 0 };
static const struct keytype kt_ed25519 = { "Ed25519", ALG_ED25519,
					   EVP_PKEY_ED25519, 0 };

/* GENERATE: AC { 80 alg }; the answer is 7F49 { 81 n 82 e | 86 Q }. */
static int generate(struct card *c, uint8_t slot, const struct keytype *k,
		    struct card_resp *r)
{
	const uint8_t tmpl[5] = { 0xAC, 0x03, 0x80, 0x01, k->alg };

	return card_call(c, INS_GENERATE, 0x00, slot, tmpl, sizeof tmpl, true,
			 r) == 0x9000 ?
		       0 : -1;
}

/* GENERATE into slot and the public key it answers with. */
static EVP_PKEY *generate_pub(struct card *c, uint8_t slot,
			      const struct keytype *k)
{
	struct card_resp r;

	if (generate(c, slot, k, &r) != 0)
		return NULL;
	return ref_card_pubkey(k->evp_id, r.p, r.len);
}

/* 7C { 82 00, <tag> <data> } with the slot's algorithm; the result is
 * 7C { 82 <result> }, left in *out / *out_len (pointing into r). */
static int general_auth(struct card *c, const struct keytype *k,
			uint8_t slot, unsigned tag, const uint8_t *data,
			size_t len, struct card_resp *r, const uint8_t **out,
			size_t *out_len)
{
	uint8_t inner[600], req[604];
	size_t n = 0, il = 0;

	if (len > 512)
		return -1;
	tlv_put(inner, &il, 0x82, NULL, 0);
	tlv_put(inner, &il, tag, data, len);
	tlv_put(req, &n, 0x7C, inner, il);
	if (card_call(c, INS_GENERAL_AUTH, k->alg, slot, req, n, true, r) !=
		    0x9000 ||
	    (*out = dyn_find(r, 0x82, out_len)) == NULL)
		return -1;
	return 0;
}

/* ---- GENERAL AUTHENTICATE signatures in 9A ---- */

static uint8_t digest[32];

/* What the card signs: the hash for ECDSA, the 32-byte message for
 * Ed25519, the PKCS#1 v1.5 block (the host pads) for RSA. */
static size_t sign_input(const struct keytype *k, uint8_t *in)
{
	size_t n = k->rsa_bits / 8,
	       t = sizeof ref_sha256_prefix + sizeof digest;

	if (k->evp_id != EVP_PKEY_RSA) {
		memcpy(in, digest, sizeof digest);
		return sizeof digest;
	}
	in[0] = 0x00;
	in[1] = 0x01;
	memset(in + 2, 0xFF, n - t - 3);
	in[n - t - 1] = 0x00;
	memcpy(in + n - t, ref_sha256_prefix, sizeof ref_sha256_prefix);
	memcpy(in + n - sizeof digest, digest, sizeof digest);
	return n;
}

/* GENERAL AUTHENTICATE signature of one keytype's input in 9A. */
struct sign_call {
	struct card *c;
	const struct keytype *k;
	uint8_t in[512];
	size_t len;
	struct card_resp r;
	const uint8_t *sig; /* into r */
	size_t sig_len;
};

static int sign_card(void *arg)
{
	struct sign_call *s = arg;

	return general_auth(s->c, s->k, SLOT_SIGN, 0x81, s->in, s->len, &s->r,
			    &s->sig, &s->sig_len);
}

/* Generate the key in 9A, check one signature (ECDSA answers come
 * DER-encoded, docs/PIV.md, as OpenSSL takes them), then time n
 * GENERAL AUTHENTICATE signatures and n raw ones in interleaved chunks. */
static int bench_sign(struct card *c, const void *arg, struct card_op *op)
{
	const struct keytype *k = arg;
	struct sign_call s = { .c = c, .k = k };
	struct ref_job raw = { .digest = digest };
	EVP_PKEY *pub = generate_pub(c, SLOT_SIGN, k);
	int rc = -1;

	s.len = sign_input(k, s.in);
	raw.key = ref_keygen(k->evp_id, k->rsa_bits);
	if (pub == NULL) {
		fprintf(stderr, "%s: GENERATE failed\n", k->name);
		goto out;
	}
	if (sign_card(&s) != 0 ||
	    ref_verify(pub, s.sig, s.sig_len, digest) != 0) {
		fprintf(stderr, "%s: the card's signature does not verify\n",
			k->name);
		goto out;
	}
	rc = raw.key != NULL ? card_op_interleaved(op, sign_card, &s,
						   ref_job_sign, &raw)
			     : -1;
	if (rc != 0)
		fprintf(stderr, "%s: GENERAL AUTHENTICATE failed\n", k->name);
out:
	EVP_PKEY_free(pub);
	EVP_PKEY_free(raw.key);
	return rc;
}

/* ---- GENERATE ---- */

struct gen_call {
	struct card *c;
	const struct keytype *k;
	struct card_resp r;
};

static int gen_card(void *arg)
{
	struct gen_call *g = arg;

	if (generate(g->c, SLOT_SIGN, g->k, &g->r) == 0)
		return 0;
	fprintf(stderr, "%s: GENERATE failed\n", g->k->name);
	return -1;
}

/* GENERATE n times on the card, each followed by a raw key generation
 * of the same kind. The last key stays in 9A. */
static int bench_generate(struct card *c, const void *arg, struct card_op *op)
{
	const struct keytype *k = arg;
	struct gen_call g = { .c = c, .k = k };
	struct ref_job raw = { .evp_id = k->evp_id, .rsa_bits = k->rsa_bits };

	return card_op_paired(op, gen_card, &g, ref_job_keygen, &raw);
}

/* ---- ECDH P-256 in 9D: 85 <peer point> ---- */

struct ecdh_call {
	struct card *c;
	uint8_t point[65];
	struct card_resp r;
	const uint8_t *z; /* into r */
	size_t z_len;
};

static int ecdh_card(void *arg)
{
	struct ecdh_call *e = arg;

	return general_auth(e->c, &kt_p256, SLOT_KM, 0x85, e->point,
			    sizeof e->point, &e->r, &e->z, &e->z_len);
}

/* GENERATE in 9D, a peer key (raw->peer) and a raw key of the same kind
 * (raw->key), and one checked exchange. */
static int ecdh_setup(struct ecdh_call *e, struct ref_job *raw)
{
	EVP_PKEY *card_pub = generate_pub(e->c, SLOT_KM, &kt_p256);
	uint8_t want[32];
	size_t ql = 0, wl = sizeof want;
	int rc = -1;

	if (card_pub == NULL ||
	    (raw->peer = ref_keygen(EVP_PKEY_EC, 0)) == NULL ||
	    (raw->key = ref_keygen(EVP_PKEY_EC, 0)) == NULL ||
	    EVP_PKEY_get_octet_string_param(raw->peer, OSSL_PKEY_PARAM_PUB_KEY,
					    e->point, sizeof e->point,
					    &ql) != 1 ||
	    ql != sizeof e->point ||
	    ref_ecdh_derive(raw->peer, card_pub, want, &wl) != 0 ||
	    wl != sizeof want)
		goto out;
	if (ecdh_card(e) != 0 || e->z_len != wl ||
	    memcmp(e->z, want, wl) != 0) {
		fprintf(stderr, "ECDH P-256: the card's secret is wrong\n");
		goto out;
	}
	rc = 0;
out:
	EVP_PKEY_free(card_pub);
	return rc;
}

static int bench_ecdh(struct card *c, const void *arg, struct card_op *op)
{
	struct ecdh_call e = { .c = c };
	struct ref_job raw = { .key = NULL };
	int rc = ecdh_setup(&e, &raw);

	(void)arg; /* always P-256 */
	if (rc == 0)
		rc = card_op_interleaved(op, ecdh_card, &e, ref_job_derive,
					 &raw);
	if (rc != 0)
		fprintf(stderr, "ECDH P-256 failed\n");
	EVP_PKEY_free(raw.peer);
	EVP_PKEY_free(raw.key);
	return rc;
}

/* ---- the run: key generation first (each GENERATE replaces 9A's key,
 * and each signature phase that follows generates its own) ---- */

int main(int argc, char **argv)
{
	static struct card_op ops[] = {
		{ "GENERATE RSA-2048", CANOKEY_RSA2048_GEN, "RSA-2048 keygen",
		  2048, .bench = bench_generate, .arg = &kt_rsa2048 },
		{ "GENERATE RSA-4096", 0, "RSA-4096 keygen", 4096,
		  .bench = bench_generate, .arg = &kt_rsa4096 },
		{ "GENERAL AUTH ECDSA P-256", CANOKEY_P256_SIGN,
		  "ECDSA P-256 sign (32-byte hash)",
		  .bench = bench_sign, .arg = &kt_p256 },
		{ "GENERAL AUTH Ed25519", 0, "Ed25519 sign (32 bytes)",
		  .bench = bench_sign, .arg = &kt_ed25519 },
		{ "GENERAL AUTH RSA-2048", CANOKEY_RSA2048_SIGN,
		  "RSA-2048 PKCS#1 sign",
		  .bench = bench_sign, .arg = &kt_rsa2048 },
		{ "GENERAL AUTH RSA-4096", 0, "RSA-4096 PKCS#1 sign",
		  .bench = bench_sign, .arg = &kt_rsa4096 },
		{ "GENERAL AUTH ECDH P-256", 0, "ECDH P-256 derive",
		  .bench = bench_ecdh, .arg = &kt_p256 },
	};

	for (size_t i = 0; i < sizeof digest; i++)
		digest[i] = (uint8_t)(0x5A ^ i * 29);
	return card_op_main(argc, argv, ops, sizeof ops / sizeof ops[0],
			    card_open);
}
