/* OpenPGP card benchmark through PC/SC (libpcsclite -> pcscd -> vpcd ->
 * vkey serve): PSO:COMPUTE DIGITAL SIGNATURE (P-256, Ed25519, RSA-2048,
 * RSA-4096), PSO:DECIPHER (RSA-2048, ECDH P-256) and GENERATE (RSA-2048,
 * RSA-4096), each beside the raw OpenSSL operation it is built on, timed
 * in the same run and interleaved with it. Every result is checked once
 * against the public key the card returned. Prints; never asserts. */
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "card_op.h"
#include "card_pcsc.h"
#include "ossl_ref.h"

/* Factory PINs (docs/OPENPGP.md). */
#define PW1 "123456"
#define PW3 "12345678"

static const uint8_t openpgp_aid[] = { 0xD2, 0x76, 0x00, 0x01, 0x24, 0x01 };

/* OpenPGP card 3.4 §4.4.3.10: algorithm IDs; OIDs without tag and length. */
#define ALG_RSA 0x01
#define ALG_ECDH 0x12
#define ALG_ECDSA 0x13
#define ALG_EDDSA 0x16

#define OID_P256 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01, 0x07
#define OID_ED25519 0x2B, 0x06, 0x01, 0x04, 0x01, 0xDA, 0x47, 0x0F, 0x01

/* CanoKey's virtual card on this machine (the project's measurements),
 * in milliseconds; 0: none. */
#define CANOKEY_P256_SIGN 0.84
#define CANOKEY_ED25519_SIGN 2.2
#define CANOKEY_RSA2048_SIGN 2.7
#define CANOKEY_RSA4096_SIGN 11.9
#define CANOKEY_RSA2048_GEN 80.0

enum slot { SLOT_SIG, SLOT_DEC };

/* ---- session: SELECT and the PINs (the card announces extended Lc/Le
 * in its historical bytes and 7F66, so every command is one APDU) ---- */

static int verify(struct card *c, const char *what, uint8_t ref,
		  const char *pw)
{
	struct card_resp r;

	return card_expect_ok(what, card_call(c, 0x20, 0x00, ref,
					      (const uint8_t *)pw, strlen(pw),
					      false, &r));
}

/* PW3 for PUT DATA and GENERATE, PW1 for signing (81: PW1 stays valid
 * for several signatures, the factory default) and for decryption (82). */
static int card_open(struct card *c, const char *reader)
{
	struct card_resp r;

	if (card_connect(c, reader) != 0 ||
	    card_expect_ok("SELECT", card_select(c, openpgp_aid,
						 sizeof openpgp_aid,
						 &r)) != 0 ||
	    verify(c, "VERIFY PW3", 0x83, PW3) != 0 ||
	    verify(c, "VERIFY PW1 81", 0x81, PW1) != 0 ||
	    verify(c, "VERIFY PW1 82", 0x82, PW1) != 0)
		return -1;
	return 0;
}

/* ---- what goes on the card: algorithm attributes and keys ---- */

/* The algorithm attributes (C1..C3) and the raw key of the same kind. */
struct keytype {
	const char *name;
	uint8_t attr[16];
	size_t attr_len;
	int evp_id; /* EVP_PKEY_RSA, _EC, _ED25519 */
	unsigned rsa_bits;
};

/* RSA: modulus bits, public exponent 32 bits, standard import format. */
static const struct keytype kt_rsa2048 = {
	"RSA-2048", { ALG_RSA, 0x08, 0x00, 0x00, 0x20, 0x00 }, 6,
	EVP_PKEY_RSA, 2048
};
static const struct keytype kt_rsa4096 = {
	"RSA-4096", { ALG_RSA, 0x10, 0x00, 0x00, 0x20, 0x00 }, 6,
	EVP_PKEY_RSA, 4096
};
static const struct keytype kt_p256 = { "P-256", { ALG_ECDSA, OID_P256 },
					9, EVP_PKEY_EC, 0 };
static const struct keytype kt_ed25519 = {
	"Ed25519", { ALG_EDDSA, OID_ED25519 }, 10, EVP_PKEY_ED25519, 0
};
static const struct keytype kt_ecdh_p256 = {
	"ECDH P-256", { ALG_ECDH, OID_P256 }, 9, EVP_PKEY_EC, 0
};

/* PUT DATA C1/C2 (the key in that slot goes with it). */
static int set_attr(struct card *c, enum slot s, const struct keytype *k)
{
	struct card_resp r;

	return card_expect_ok("PUT DATA attributes",
			      card_call(c, 0xDA, 0x00,
					s == SLOT_SIG ? 0xC1 : 0xC2, k->attr,
					k->attr_len, false, &r));
}

static int generate(struct card *c, enum slot s, struct card_resp *r)
{
	const uint8_t crt[2] = { s == SLOT_SIG ? 0xB6 : 0xB8, 0x00 };

	return card_call(c, 0x47, 0x80, 0x00, crt, sizeof crt, true, r) ==
			       0x9000 ?
		       0 : -1;
}

/* GENERATE into slot s and the public key it answers with. */
static EVP_PKEY *generate_pub(struct card *c, enum slot s,
			      const struct keytype *k)
{
	struct card_resp r;

	if (set_attr(c, s, k) != 0 || generate(c, s, &r) != 0)
		return NULL;
	return ref_card_pubkey(k->evp_id, r.p, r.len);
}

/* ---- PSO:COMPUTE DIGITAL SIGNATURE ---- */

static uint8_t digest[32];

/* The data PSO:CDS signs: a DigestInfo for RSA, the hash for ECDSA, the
 * data itself (32 bytes) for EdDSA. */
static size_t sign_input(const struct keytype *k, uint8_t *in)
{
	if (k->evp_id != EVP_PKEY_RSA) {
		memcpy(in, digest, sizeof digest);
		return sizeof digest;
	}
	memcpy(in, ref_sha256_prefix, sizeof ref_sha256_prefix);
	memcpy(in + sizeof ref_sha256_prefix, digest, sizeof digest);
	return sizeof ref_sha256_prefix + sizeof digest;
}

/* The card's ECDSA answer r||s as the DER SEQUENCE { INTEGER r, INTEGER s }
 * OpenSSL verifies; 0 or -1. */
static int ecdsa_der(const uint8_t *s, size_t sl, uint8_t der[72],
		     size_t *der_len)
{
	size_t n = 0, half = sl / 2;

	if (sl != 64)
		return -1;
	der[n++] = 0x30;
	der[n++] = 0;
	for (int i = 0; i < 2; i++) {
		const uint8_t *v = s + i * half;
		size_t l = half;

		while (l > 1 && v[0] == 0 && !(v[1] & 0x80)) {
			v++;
			l--;
		}
		der[n++] = 0x02;
		der[n++] = (uint8_t)(l + (v[0] & 0x80 ? 1 : 0));
		if (v[0] & 0x80)
			der[n++] = 0;
		memcpy(der + n, v, l);
		n += l;
	}
	der[1] = (uint8_t)(n - 2);
	*der_len = n;
	return 0;
}

static int verify_once(EVP_PKEY *pub, const struct keytype *k,
		       const struct card_resp *sig)
{
	uint8_t der[72];
	size_t dl;

	if (k->evp_id != EVP_PKEY_EC)
		return ref_verify(pub, sig->p, sig->len, digest);
	if (ecdsa_der(sig->p, sig->len, der, &dl) != 0)
		return -1;
	return ref_verify(pub, der, dl, digest);
}

/* PSO:CDS of one keytype's input. */
struct sign_call {
	struct card *c;
	uint8_t in[64];
	size_t len;
	struct card_resp r;
};

static int sign_card(void *arg)
{
	struct sign_call *s = arg;

	return card_call(s->c, 0x2A, 0x9E, 0x9A, s->in, s->len, true,
			 &s->r) == 0x9000 ?
		       0 : -1;
}

/* Generate the key on the card, check one signature, then time n PSO:CDS
 * and n raw signatures in interleaved chunks. */
static int bench_sign(struct card *c, const void *arg, struct card_op *op)
{
	const struct keytype *k = arg;
	struct sign_call s = { .c = c };
	struct ref_job raw = { .digest = digest };
	EVP_PKEY *pub = generate_pub(c, SLOT_SIG, k);
	int rc = -1;

	s.len = sign_input(k, s.in);
	raw.key = ref_keygen(k->evp_id, k->rsa_bits);
	if (pub == NULL) {
		fprintf(stderr, "%s: generate failed\n", k->name);
		goto out;
	}
	if (raw.key == NULL || sign_card(&s) != 0 ||
	    verify_once(pub, k, &s.r) != 0) {
		fprintf(stderr, "%s: the card's signature does not verify\n",
			k->name);
		goto out;
	}
	rc = card_op_interleaved(op, sign_card, &s, ref_job_sign, &raw);
	if (rc != 0)
		fprintf(stderr, "%s: PSO:CDS failed\n", k->name);
out:
	EVP_PKEY_free(pub);
	EVP_PKEY_free(raw.key);
	return rc;
}

/* ---- GENERATE ---- */

struct gen_call {
	struct card *c;
	const char *name;
	struct card_resp r;
};

static int gen_card(void *arg)
{
	struct gen_call *g = arg;

	if (generate(g->c, SLOT_SIG, &g->r) == 0)
		return 0;
	fprintf(stderr, "%s: GENERATE failed\n", g->name);
	return -1;
}

/* GENERATE n times on the card, each followed by a raw key generation
 * of the same kind. The last key stays on the card. */
static int bench_generate(struct card *c, const void *arg, struct card_op *op)
{
	const struct keytype *k = arg;
	struct gen_call g = { .c = c, .name = k->name };
	struct ref_job raw = { .evp_id = k->evp_id, .rsa_bits = k->rsa_bits };

	if (set_attr(c, SLOT_SIG, k) != 0)
		return -1;
	return card_op_paired(op, gen_card, &g, ref_job_keygen, &raw);
}

/* ---- PSO:DECIPHER: RSA-2048 (00 || cryptogram) and ECDH P-256 ---- */

struct decipher {
	uint8_t in[600];
	size_t len;
	uint8_t want[128];
	size_t want_len;
};

/* An RSA PKCS#1 v1.5 cryptogram for the card's key. */
static int rsa_cryptogram(EVP_PKEY *pub, struct decipher *d)
{
	static const uint8_t secret[32] = { 0xC0, 0xFF, 0xEE };
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(pub, NULL);
	size_t ol = sizeof d->in - 1;
	int ok = pc != NULL && EVP_PKEY_encrypt_init(pc) == 1 &&
		 EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) == 1 &&
		 EVP_PKEY_encrypt(pc, d->in + 1, &ol, secret,
				  sizeof secret) == 1;

	EVP_PKEY_CTX_free(pc);
	d->in[0] = 0x00;
	d->len = 1 + ol;
	memcpy(d->want, secret, sizeof secret);
	d->want_len = sizeof secret;
	return ok ? 0 : -1;
}

/* A6 { 7F49 { 86 ephemeral point } }, and the X coordinate the card
 * must answer. */
static int ecdh_request(EVP_PKEY *card_pub, EVP_PKEY *eph, struct decipher *d)
{
	uint8_t q[65];
	size_t ql = 0;

	if (EVP_PKEY_get_octet_string_param(eph, OSSL_PKEY_PARAM_PUB_KEY, q,
					    sizeof q, &ql) != 1 || ql != 65)
		return -1;
	memcpy(d->in, (const uint8_t[]){ 0xA6, 70, 0x7F, 0x49, 67, 0x86, 65 },
	       7);
	memcpy(d->in + 7, q, ql);
	d->len = 7 + ql;
	d->want_len = sizeof d->want;
	return ref_ecdh_derive(eph, card_pub, d->want, &d->want_len);
}

struct dec_call {
	struct card *c;
	struct decipher d;
	struct card_resp r;
};

static int dec_card(void *arg)
{
	struct dec_call *x = arg;

	return card_call(x->c, 0x2A, 0x80, 0x86, x->d.in, x->d.len, true,
			 &x->r) == 0x9000 ?
		       0 : -1;
}

/* The raw RSA decryption: a cryptogram for a raw key of the same size. */
struct rsa_dec {
	EVP_PKEY *key;
	struct decipher d;
};

static int rsa_dec_raw(void *arg)
{
	const struct rsa_dec *x = arg;
	uint8_t out[512];
	size_t ol = sizeof out;
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(x->key, NULL);
	int ok = pc != NULL && EVP_PKEY_decrypt_init(pc) == 1 &&
		 EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) == 1 &&
		 EVP_PKEY_decrypt(pc, out, &ol, x->d.in + 1, x->d.len - 1) == 1;

	EVP_PKEY_CTX_free(pc);
	return ok ? 0 : -1;
}

/* The card's request and the raw side for RSA (rsa) or ECDH (ecdh). */
static int dec_setup(struct dec_call *x, const struct keytype *k,
		     EVP_PKEY *pub, struct rsa_dec *rsa, struct ref_job *ecdh)
{
	if (k->evp_id == EVP_PKEY_RSA) {
		rsa->key = ref_keygen(k->evp_id, k->rsa_bits);
		return rsa->key == NULL || rsa_cryptogram(pub, &x->d) != 0 ||
				       rsa_cryptogram(rsa->key, &rsa->d) != 0 ?
			       -1 : 0;
	}
	ecdh->key = ref_keygen(EVP_PKEY_EC, 0);
	ecdh->peer = ref_keygen(EVP_PKEY_EC, 0);
	return ecdh->key == NULL || ecdh->peer == NULL ||
			       ecdh_request(pub, ecdh->peer, &x->d) != 0 ?
		       -1 : 0;
}

static int bench_decipher(struct card *c, const void *arg, struct card_op *op)
{
	const struct keytype *k = arg;
	struct dec_call x = { .c = c };
	struct rsa_dec rsa = { .key = NULL };
	struct ref_job ecdh = { .key = NULL };
	EVP_PKEY *pub = generate_pub(c, SLOT_DEC, k);
	int rc = -1;

	if (pub == NULL) {
		fprintf(stderr, "%s: generate (decryption) failed\n", k->name);
		goto out;
	}
	if (dec_setup(&x, k, pub, &rsa, &ecdh) != 0)
		goto out;
	if (dec_card(&x) != 0 || x.r.len != x.d.want_len ||
	    memcmp(x.r.p, x.d.want, x.r.len) != 0) {
		fprintf(stderr, "%s: PSO:DECIPHER gave a wrong answer\n",
			k->name);
		goto out;
	}
	if (k->evp_id == EVP_PKEY_RSA)
		rc = card_op_interleaved(op, dec_card, &x, rsa_dec_raw, &rsa);
	else
		rc = card_op_interleaved(op, dec_card, &x, ref_job_derive,
					 &ecdh);
	if (rc != 0)
		fprintf(stderr, "%s: PSO:DECIPHER failed\n", k->name);
out:
	EVP_PKEY_free(pub);
	EVP_PKEY_free(rsa.key);
	EVP_PKEY_free(ecdh.key);
	EVP_PKEY_free(ecdh.peer);
	return rc;
}

/* ---- the run: key generation first (each GENERATE replaces the slot's
 * key, and each sign phase that follows generates its own) ---- */

int main(int argc, char **argv)
{
	static struct card_op ops[] = {
		{ "GENERATE RSA-2048", CANOKEY_RSA2048_GEN, "RSA-2048 keygen",
		  2048, .bench = bench_generate, .arg = &kt_rsa2048 },
		{ "GENERATE RSA-4096", 0, "RSA-4096 keygen", 4096,
		  .bench = bench_generate, .arg = &kt_rsa4096 },
		{ "PSO:CDS ECDSA P-256", CANOKEY_P256_SIGN,
		  "ECDSA P-256 sign (32-byte hash)",
		  .bench = bench_sign, .arg = &kt_p256 },
		{ "PSO:CDS Ed25519", CANOKEY_ED25519_SIGN,
		  "Ed25519 sign (32 bytes)",
		  .bench = bench_sign, .arg = &kt_ed25519 },
		{ "PSO:CDS RSA-2048", CANOKEY_RSA2048_SIGN,
		  "RSA-2048 PKCS#1 sign",
		  .bench = bench_sign, .arg = &kt_rsa2048 },
		{ "PSO:CDS RSA-4096", CANOKEY_RSA4096_SIGN,
		  "RSA-4096 PKCS#1 sign",
		  .bench = bench_sign, .arg = &kt_rsa4096 },
		{ "PSO:DECIPHER RSA-2048", 0, "RSA-2048 PKCS#1 decrypt",
		  .bench = bench_decipher, .arg = &kt_rsa2048 },
		{ "PSO:DECIPHER ECDH P-256", 0, "ECDH P-256 derive",
		  .bench = bench_decipher, .arg = &kt_ecdh_p256 },
	};

	for (size_t i = 0; i < sizeof digest; i++)
		digest[i] = (uint8_t)(0xA5 ^ i * 29);
	return card_op_main(argc, argv, ops, sizeof ops / sizeof ops[0],
			    card_open);
}
