/* OpenPGP card benchmark through PC/SC (libpcsclite -> pcscd -> vpcd ->
 * vkey serve): PSO:COMPUTE DIGITAL SIGNATURE (P-256, Ed25519, RSA-2048,
 * RSA-4096), PSO:DECIPHER (RSA-2048, ECDH P-256) and GENERATE (RSA-2048,
 * RSA-4096), each beside the raw OpenSSL operation it is built on, timed
 * in the same run and interleaved with it. Every result is checked once
 * against the public key the card returned. Prints; never asserts. */
#include <getopt.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <winscard.h>

#include "stats.h"

#define ROUNDS 10
#define WARMUP 5
#define APDU_MAX 4096
#define RESP_MAX (4096 + 2)

/* Factory PINs (docs/OPENPGP.md). */
#define PW1 "123456"
#define PW3 "12345678"

/* OpenPGP card 3.4 §4.4.3.10: algorithm IDs; OIDs without tag and length. */
#define ALG_RSA 0x01
#define ALG_ECDH 0x12
#define ALG_ECDSA 0x13
#define ALG_EDDSA 0x16

static const uint8_t oid_p256[] = { 0x2A, 0x86, 0x48, 0xCE, 0x3D, 0x03, 0x01,
				    0x07 };
static const uint8_t oid_ed25519[] = { 0x2B, 0x06, 0x01, 0x04, 0x01,
				       0xDA, 0x47, 0x0F, 0x01 };

/* DigestInfo prefix for SHA-256 (RFC 8017 §9.2 note 1). */
static const uint8_t sha256_prefix[19] = { 0x30, 0x31, 0x30, 0x0D, 0x06,
					   0x09, 0x60, 0x86, 0x48, 0x01,
					   0x65, 0x03, 0x04, 0x02, 0x01,
					   0x05, 0x00, 0x04, 0x20 };

/* CanoKey's virtual card on this machine (the project's measurements),
 * in milliseconds; 0: none. */
#define CANOKEY_P256_SIGN 0.84
#define CANOKEY_ED25519_SIGN 2.2
#define CANOKEY_RSA2048_SIGN 2.7
#define CANOKEY_RSA4096_SIGN 11.9
#define CANOKEY_RSA2048_GEN 80.0

enum slot { SLOT_SIG, SLOT_DEC };

struct card {
	SCARDCONTEXT ctx;
	SCARDHANDLE h;
};

struct resp {
	uint8_t p[RESP_MAX];
	size_t len; /* without the status word */
};

/* ---- APDUs: one extended-length command each (the card announces
 * extended Lc/Le in its historical bytes and 7F66) ---- */

/* Build CLA INS P1 P2 [Lc data] [Le] in extended form; returns the
 * length. */
static size_t apdu_ext(uint8_t *a, uint8_t ins, uint8_t p1, uint8_t p2,
		       const uint8_t *data, size_t len, bool le)
{
	size_t n = 0;

	a[n++] = 0x00;
	a[n++] = ins;
	a[n++] = p1;
	a[n++] = p2;
	if (len == 0 && !le)
		return n; /* case 1 */
	a[n++] = 0x00; /* extended length marker */
	if (len > 0) {
		a[n++] = (uint8_t)(len >> 8);
		a[n++] = (uint8_t)len;
		memcpy(a + n, data, len);
		n += len;
	}
	if (le) { /* 00 00: up to 65536 bytes */
		a[n++] = 0x00;
		a[n++] = 0x00;
	}
	return n;
}

/* Send a prepared command; returns the status word, -1 on a PC/SC error. */
static int transmit(struct card *c, const uint8_t *a, size_t n,
		    struct resp *r)
{
	DWORD rl = sizeof r->p;
	LONG rc = SCardTransmit(c->h, SCARD_PCI_T1, a, (DWORD)n, NULL, r->p,
				&rl);

	if (rc != SCARD_S_SUCCESS) {
		fprintf(stderr, "SCardTransmit: %s\n", pcsc_stringify_error(rc));
		return -1;
	}
	if (rl < 2)
		return -1;
	r->len = rl - 2;
	return r->p[rl - 2] << 8 | r->p[rl - 1];
}

static int call(struct card *c, uint8_t ins, uint8_t p1, uint8_t p2,
		const uint8_t *data, size_t len, bool le, struct resp *r)
{
	uint8_t a[APDU_MAX + 9];

	if (len > APDU_MAX)
		return -1;
	return transmit(c, a, apdu_ext(a, ins, p1, p2, data, len, le), r);
}

static int expect_ok(const char *what, int sw)
{
	if (sw == 0x9000)
		return 0;
	fprintf(stderr, "%s: status %04X\n", what, sw & 0xFFFF);
	return -1;
}

static int card_open(struct card *c, const char *reader)
{
	SCARD_READERSTATE st = { .szReader = reader,
				 .dwCurrentState = SCARD_STATE_UNAWARE };
	struct resp r;
	DWORD proto = 0;
	int i;

	if (SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &c->ctx) !=
	    SCARD_S_SUCCESS) {
		fprintf(stderr, "no pcscd\n");
		return -1;
	}
	for (i = 0; i < 100; i++) {
		if (SCardGetStatusChange(c->ctx, 100, &st, 1) ==
			    SCARD_S_SUCCESS &&
		    (st.dwEventState & SCARD_STATE_PRESENT))
			break;
		st.dwCurrentState = st.dwEventState & ~(DWORD)SCARD_STATE_CHANGED;
	}
	if (SCardConnect(c->ctx, reader, SCARD_SHARE_SHARED, SCARD_PROTOCOL_T1,
			 &c->h, &proto) != SCARD_S_SUCCESS) {
		fprintf(stderr, "SCardConnect(%s) failed\n", reader);
		return -1;
	}
	/* SELECT by AID prefix (short APDU, as every client sends it), then
	 * PW3 for PUT DATA and GENERATE, PW1 for signing (81: PW1 stays
	 * valid for several signatures, the factory default) and for
	 * decryption (82). */
	if (expect_ok("SELECT",
		      transmit(c, (const uint8_t[]){ 0x00, 0xA4, 0x04, 0x00, 6,
						     0xD2, 0x76, 0x00, 0x01,
						     0x24, 0x01, 0x00 },
			       12, &r)) != 0 ||
	    expect_ok("VERIFY PW3", call(c, 0x20, 0x00, 0x83,
					 (const uint8_t *)PW3, strlen(PW3),
					 false, &r)) != 0 ||
	    expect_ok("VERIFY PW1 81", call(c, 0x20, 0x00, 0x81,
					    (const uint8_t *)PW1, strlen(PW1),
					    false, &r)) != 0 ||
	    expect_ok("VERIFY PW1 82", call(c, 0x20, 0x00, 0x82,
					    (const uint8_t *)PW1, strlen(PW1),
					    false, &r)) != 0)
		return -1;
	return 0;
}

static void card_close(struct card *c)
{
	if (c->h)
		SCardDisconnect(c->h, SCARD_RESET_CARD);
	if (c->ctx)
		SCardReleaseContext(c->ctx);
}

/* ---- what goes on the card: algorithm attributes and keys ---- */

struct keytype {
	const char *name;
	uint8_t attr[16];
	size_t attr_len;
	int evp_id; /* EVP_PKEY_RSA, _EC, _ED25519 */
	unsigned rsa_bits;
};

static struct keytype kt_rsa(unsigned bits)
{
	struct keytype k = { .name = bits == 2048 ? "RSA-2048" : "RSA-4096",
			     .attr = { ALG_RSA, (uint8_t)(bits >> 8),
				       (uint8_t)bits, 0x00, 0x20, 0x00 },
			     .attr_len = 6, .evp_id = EVP_PKEY_RSA,
			     .rsa_bits = bits };
	return k;
}

static struct keytype kt_curve(const char *name, uint8_t alg,
			       const uint8_t *oid, size_t oid_len, int evp_id)
{
	struct keytype k = { .name = name, .evp_id = evp_id };

	k.attr[0] = alg;
	memcpy(k.attr + 1, oid, oid_len);
	k.attr_len = 1 + oid_len;
	return k;
}

/* PUT DATA C1/C2 (the key in that slot goes with it). */
static int set_attr(struct card *c, enum slot s, const struct keytype *k)
{
	struct resp r;

	return expect_ok("PUT DATA attributes",
			 call(c, 0xDA, 0x00, s == SLOT_SIG ? 0xC1 : 0xC2,
			      k->attr, k->attr_len, false, &r));
}

static int generate(struct card *c, enum slot s, struct resp *r)
{
	const uint8_t crt[2] = { s == SLOT_SIG ? 0xB6 : 0xB8, 0x00 };

	return call(c, 0x47, 0x80, 0x00, crt, sizeof crt, true, r) == 0x9000 ?
		       0 : -1;
}

/* Find a BER-TLV tag (one or two bytes) at the top level of p; returns
 * the value and its length, or NULL. */
static const uint8_t *tlv_find(const uint8_t *p, size_t len, unsigned tag,
			       size_t *vlen)
{
	size_t i = 0;

	while (i < len) {
		unsigned t = p[i++];
		size_t l;

		if ((t & 0x1F) == 0x1F && i < len)
			t = t << 8 | p[i++];
		if (i >= len)
			return NULL;
		l = p[i++];
		if (l == 0x81 && i < len) {
			l = p[i++];
		} else if (l == 0x82 && i + 1 < len) {
			l = (size_t)p[i] << 8 | p[i + 1];
			i += 2;
		} else if (l > 0x80) {
			return NULL;
		}
		if (l > len - i)
			return NULL;
		if (t == tag) {
			*vlen = l;
			return p + i;
		}
		i += l;
	}
	return NULL;
}

/* The public key in a GENERATE answer (7F49 { 81 n 82 e } or { 86 Q }). */
static EVP_PKEY *pubkey_of(const struct keytype *k, const struct resp *r)
{
	const uint8_t *pk, *n, *e, *q;
	size_t pkl, nl, el, ql;
	OSSL_PARAM_BLD *b = NULL;
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *key = NULL;
	BIGNUM *bn = NULL, *be = NULL;

	if ((pk = tlv_find(r->p, r->len, 0x7F49, &pkl)) == NULL)
		return NULL;
	if (k->evp_id == EVP_PKEY_ED25519) {
		q = tlv_find(pk, pkl, 0x86, &ql);
		return q ? EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL,
						       q, ql)
			 : NULL;
	}
	if ((b = OSSL_PARAM_BLD_new()) == NULL)
		goto out;
	if (k->evp_id == EVP_PKEY_RSA) {
		n = tlv_find(pk, pkl, 0x81, &nl);
		e = tlv_find(pk, pkl, 0x82, &el);
		if (n == NULL || e == NULL ||
		    (bn = BN_bin2bn(n, (int)nl, NULL)) == NULL ||
		    (be = BN_bin2bn(e, (int)el, NULL)) == NULL ||
		    !OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, bn) ||
		    !OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, be))
			goto out;
	} else {
		q = tlv_find(pk, pkl, 0x86, &ql);
		if (q == NULL ||
		    !OSSL_PARAM_BLD_push_utf8_string(
			    b, OSSL_PKEY_PARAM_GROUP_NAME, "P-256", 0) ||
		    !OSSL_PARAM_BLD_push_octet_string(
			    b, OSSL_PKEY_PARAM_PUB_KEY, q, ql))
			goto out;
	}
	if ((params = OSSL_PARAM_BLD_to_param(b)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_id(k->evp_id, NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
		key = NULL;
out:
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(b);
	BN_free(bn);
	BN_free(be);
	return key;
}

/* ---- the operations, each timed against its raw primitive ---- */

struct op {
	const char *what;
	double canokey_ms;
	uint64_t *card_t, *raw_t;
	size_t n;
	struct bench_result card, raw;
	const char *raw_what;
};

static uint8_t digest[32];

/* The data PSO:CDS signs: a DigestInfo for RSA, the hash for ECDSA, the
 * data itself (32 bytes) for EdDSA. */
static size_t sign_input(const struct keytype *k, uint8_t *in)
{
	if (k->evp_id != EVP_PKEY_RSA) {
		memcpy(in, digest, sizeof digest);
		return sizeof digest;
	}
	memcpy(in, sha256_prefix, sizeof sha256_prefix);
	memcpy(in + sizeof sha256_prefix, digest, sizeof digest);
	return sizeof sha256_prefix + sizeof digest;
}

static int card_sign(struct card *c, const uint8_t *in, size_t len,
		     struct resp *r)
{
	return call(c, 0x2A, 0x9E, 0x9A, in, len, true, r) == 0x9000 ? 0 : -1;
}

static int card_decipher(struct card *c, const uint8_t *in, size_t len,
			 struct resp *r)
{
	return call(c, 0x2A, 0x80, 0x86, in, len, true, r) == 0x9000 ? 0 : -1;
}

/* The raw signature: a context per call, the key object kept (what an
 * application holding a key does). */
static int raw_sign(EVP_PKEY *key, const struct keytype *k)
{
	uint8_t sig[512];
	size_t sl = sizeof sig;
	EVP_PKEY_CTX *pc = NULL;
	EVP_MD_CTX *mc = NULL;
	int ok;

	if (k->evp_id == EVP_PKEY_ED25519) {
		mc = EVP_MD_CTX_new();
		ok = mc != NULL &&
		     EVP_DigestSignInit(mc, NULL, NULL, NULL, key) == 1 &&
		     EVP_DigestSign(mc, sig, &sl, digest, sizeof digest) == 1;
		EVP_MD_CTX_free(mc);
		return ok ? 0 : -1;
	}
	pc = EVP_PKEY_CTX_new(key, NULL);
	ok = pc != NULL && EVP_PKEY_sign_init(pc) == 1 &&
	     (k->evp_id != EVP_PKEY_RSA ||
	      (EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) == 1 &&
	       EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) == 1)) &&
	     EVP_PKEY_sign(pc, sig, &sl, digest, sizeof digest) == 1;
	EVP_PKEY_CTX_free(pc);
	return ok ? 0 : -1;
}

static int verify_once(EVP_PKEY *pub, const struct keytype *k,
		       const struct resp *sig)
{
	uint8_t der[80];
	EVP_PKEY_CTX *pc = NULL;
	EVP_MD_CTX *mc = NULL;
	const uint8_t *s = sig->p;
	size_t sl = sig->len;
	int ok = 0;

	if (k->evp_id == EVP_PKEY_ED25519) {
		mc = EVP_MD_CTX_new();
		ok = mc != NULL &&
		     EVP_DigestVerifyInit(mc, NULL, NULL, NULL, pub) == 1 &&
		     EVP_DigestVerify(mc, s, sl, digest, sizeof digest) == 1;
		EVP_MD_CTX_free(mc);
		return ok ? 0 : -1;
	}
	if (k->evp_id == EVP_PKEY_EC) {
		/* r||s -> DER SEQUENCE { INTEGER r, INTEGER s } */
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
		s = der;
		sl = n;
	}
	pc = EVP_PKEY_CTX_new(pub, NULL);
	ok = pc != NULL && EVP_PKEY_verify_init(pc) == 1 &&
	     (k->evp_id != EVP_PKEY_RSA ||
	      (EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) == 1 &&
	       EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) == 1)) &&
	     EVP_PKEY_verify(pc, s, sl, digest, sizeof digest) == 1;
	EVP_PKEY_CTX_free(pc);
	return ok ? 0 : -1;
}

static uint64_t timed_card_sign(struct card *c, const uint8_t *in, size_t len,
				struct resp *r, int *err)
{
	uint64_t t0 = bench_now_ns();

	if (card_sign(c, in, len, r) != 0)
		*err = -1;
	return bench_now_ns() - t0;
}

/* Generate the key on the card, check one signature, then time n PSO:CDS
 * and n raw signatures in ROUNDS interleaved chunks. */
static int bench_sign(struct card *c, const struct keytype *k, struct op *op)
{
	uint8_t in[64];
	size_t len = sign_input(k, in), chunk = op->n / ROUNDS;
	EVP_PKEY *pub = NULL, *raw = NULL;
	struct resp r;
	int err = 0, rc = -1;

	if (set_attr(c, SLOT_SIG, k) != 0 || generate(c, SLOT_SIG, &r) != 0 ||
	    (pub = pubkey_of(k, &r)) == NULL) {
		fprintf(stderr, "%s: generate failed\n", k->name);
		goto out;
	}
	raw = k->evp_id == EVP_PKEY_RSA ?
		      EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)k->rsa_bits) :
	      k->evp_id == EVP_PKEY_EC ?
		      EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256") :
		      EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	if (raw == NULL || card_sign(c, in, len, &r) != 0 ||
	    verify_once(pub, k, &r) != 0) {
		fprintf(stderr, "%s: the card's signature does not verify\n",
			k->name);
		goto out;
	}
	for (int i = 0; i < WARMUP; i++)
		if (card_sign(c, in, len, &r) != 0 || raw_sign(raw, k) != 0)
			goto out;
	for (size_t round = 0; round < ROUNDS; round++) {
		for (size_t i = 0; i < chunk; i++)
			op->card_t[round * chunk + i] =
				timed_card_sign(c, in, len, &r, &err);
		for (size_t i = 0; i < chunk; i++) {
			uint64_t t0 = bench_now_ns();

			err |= raw_sign(raw, k);
			op->raw_t[round * chunk + i] = bench_now_ns() - t0;
		}
		if (err != 0)
			goto out;
	}
	op->card = bench_summarize(op->card_t, chunk * ROUNDS);
	op->raw = bench_summarize(op->raw_t, chunk * ROUNDS);
	rc = 0;
out:
	if (err != 0)
		fprintf(stderr, "%s: PSO:CDS failed\n", k->name);
	EVP_PKEY_free(pub);
	EVP_PKEY_free(raw);
	return rc;
}

/* GENERATE n times on the card, each followed by a raw key generation
 * of the same kind. The last key stays on the card. */
static int bench_generate(struct card *c, const struct keytype *k,
			  struct op *op)
{
	struct resp r;

	if (set_attr(c, SLOT_SIG, k) != 0)
		return -1;
	for (size_t i = 0; i < op->n; i++) {
		uint64_t t0 = bench_now_ns();
		EVP_PKEY *raw;

		if (generate(c, SLOT_SIG, &r) != 0) {
			fprintf(stderr, "%s: GENERATE failed\n", k->name);
			return -1;
		}
		op->card_t[i] = bench_now_ns() - t0;
		t0 = bench_now_ns();
		raw = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)k->rsa_bits);
		op->raw_t[i] = bench_now_ns() - t0;
		if (raw == NULL)
			return -1;
		EVP_PKEY_free(raw);
	}
	op->card = bench_summarize(op->card_t, op->n);
	op->raw = bench_summarize(op->raw_t, op->n);
	return 0;
}

/* ---- decipher: RSA-2048 (00 || cryptogram) and ECDH P-256 ---- */

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

/* Raw shared secret between two keys. */
static int ecdh_derive(EVP_PKEY *priv, EVP_PKEY *peer, uint8_t *out,
		       size_t *len)
{
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(priv, NULL);
	int ok = pc != NULL && EVP_PKEY_derive_init(pc) == 1 &&
		 EVP_PKEY_derive_set_peer(pc, peer) == 1 &&
		 EVP_PKEY_derive(pc, out, len) == 1;

	EVP_PKEY_CTX_free(pc);
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
	return ecdh_derive(eph, card_pub, d->want, &d->want_len);
}

static int raw_decipher(EVP_PKEY *key, const struct keytype *k,
			const struct decipher *rd, EVP_PKEY *peer)
{
	uint8_t out[512];
	size_t ol = sizeof out;
	EVP_PKEY_CTX *pc;
	int ok;

	if (k->evp_id == EVP_PKEY_EC)
		return ecdh_derive(key, peer, out, &ol);
	pc = EVP_PKEY_CTX_new(key, NULL);
	ok = pc != NULL && EVP_PKEY_decrypt_init(pc) == 1 &&
	     EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) == 1 &&
	     EVP_PKEY_decrypt(pc, out, &ol, rd->in + 1, rd->len - 1) == 1;
	EVP_PKEY_CTX_free(pc);
	return ok ? 0 : -1;
}

static int bench_decipher(struct card *c, const struct keytype *k,
			  struct op *op)
{
	size_t chunk = op->n / ROUNDS;
	EVP_PKEY *pub = NULL, *raw = NULL, *peer = NULL;
	struct decipher d, rd;
	struct resp r;
	int err = 0, rc = -1;

	if (set_attr(c, SLOT_DEC, k) != 0 || generate(c, SLOT_DEC, &r) != 0 ||
	    (pub = pubkey_of(k, &r)) == NULL) {
		fprintf(stderr, "%s: generate (decryption) failed\n", k->name);
		goto out;
	}
	if (k->evp_id == EVP_PKEY_RSA) {
		raw = EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)k->rsa_bits);
		if (raw == NULL || rsa_cryptogram(pub, &d) != 0 ||
		    rsa_cryptogram(raw, &rd) != 0)
			goto out;
	} else {
		raw = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		peer = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		if (raw == NULL || peer == NULL ||
		    ecdh_request(pub, peer, &d) != 0)
			goto out;
	}
	if (card_decipher(c, d.in, d.len, &r) != 0 || r.len != d.want_len ||
	    memcmp(r.p, d.want, r.len) != 0) {
		fprintf(stderr, "%s: PSO:DECIPHER gave a wrong answer\n",
			k->name);
		goto out;
	}
	for (int i = 0; i < WARMUP; i++)
		if (card_decipher(c, d.in, d.len, &r) != 0 ||
		    raw_decipher(raw, k, &rd, peer) != 0)
			goto out;
	for (size_t round = 0; round < ROUNDS; round++) {
		for (size_t i = 0; i < chunk; i++) {
			uint64_t t0 = bench_now_ns();

			err |= card_decipher(c, d.in, d.len, &r);
			op->card_t[round * chunk + i] = bench_now_ns() - t0;
		}
		for (size_t i = 0; i < chunk; i++) {
			uint64_t t0 = bench_now_ns();

			err |= raw_decipher(raw, k, &rd, peer);
			op->raw_t[round * chunk + i] = bench_now_ns() - t0;
		}
		if (err != 0) {
			fprintf(stderr, "%s: PSO:DECIPHER failed\n", k->name);
			goto out;
		}
	}
	op->card = bench_summarize(op->card_t, chunk * ROUNDS);
	op->raw = bench_summarize(op->raw_t, chunk * ROUNDS);
	rc = 0;
out:
	EVP_PKEY_free(pub);
	EVP_PKEY_free(raw);
	EVP_PKEY_free(peer);
	return rc;
}

/* ---- report ---- */

static void report(const struct op *op)
{
	char what[96], note[200];
	int n;

	snprintf(what, sizeof what, "pcsc %s", op->what);
	n = snprintf(note, sizeof note, "%.2fx raw",
		     op->card.median_ms / op->raw.median_ms);
	if (op->canokey_ms > 0)
		snprintf(note + n, sizeof note - (size_t)n,
			 "; CanoKey %.2f ms: %.2fx (%s)", op->canokey_ms,
			 op->card.median_ms / op->canokey_ms,
			 op->card.median_ms < op->canokey_ms ? "beats"
							      : "SLOWER");
	bench_print(what, op->card, note);
	snprintf(what, sizeof what, "  OpenSSL %s", op->raw_what);
	bench_print(what, op->raw, "raw primitive, same run");
}

enum op_kind {
	OP_GEN_RSA2048,
	OP_GEN_RSA4096,
	OP_SIGN_RSA2048,
	OP_SIGN_RSA4096,
	OP_SIGN_P256,
	OP_SIGN_ED25519,
	OP_DEC_RSA2048,
	OP_ECDH_P256,
	OP_COUNT,
};

static int run(struct card *c, struct op *ops)
{
	struct keytype rsa2048 = kt_rsa(2048), rsa4096 = kt_rsa(4096);
	struct keytype p256 = kt_curve("P-256", ALG_ECDSA, oid_p256,
				       sizeof oid_p256, EVP_PKEY_EC);
	struct keytype ed = kt_curve("Ed25519", ALG_EDDSA, oid_ed25519,
				     sizeof oid_ed25519, EVP_PKEY_ED25519);
	struct keytype ecdh = kt_curve("ECDH P-256", ALG_ECDH, oid_p256,
				       sizeof oid_p256, EVP_PKEY_EC);

	/* Key generation first: each GENERATE replaces the slot's key, and
	 * the sign phase that follows generates its own. */
	if (bench_generate(c, &rsa2048, &ops[OP_GEN_RSA2048]) != 0)
		return -1;
	report(&ops[OP_GEN_RSA2048]);
	if (bench_generate(c, &rsa4096, &ops[OP_GEN_RSA4096]) != 0)
		return -1;
	report(&ops[OP_GEN_RSA4096]);
	if (bench_sign(c, &p256, &ops[OP_SIGN_P256]) != 0)
		return -1;
	report(&ops[OP_SIGN_P256]);
	if (bench_sign(c, &ed, &ops[OP_SIGN_ED25519]) != 0)
		return -1;
	report(&ops[OP_SIGN_ED25519]);
	if (bench_sign(c, &rsa2048, &ops[OP_SIGN_RSA2048]) != 0)
		return -1;
	report(&ops[OP_SIGN_RSA2048]);
	if (bench_sign(c, &rsa4096, &ops[OP_SIGN_RSA4096]) != 0)
		return -1;
	report(&ops[OP_SIGN_RSA4096]);
	if (bench_decipher(c, &rsa2048, &ops[OP_DEC_RSA2048]) != 0)
		return -1;
	report(&ops[OP_DEC_RSA2048]);
	if (bench_decipher(c, &ecdh, &ops[OP_ECDH_P256]) != 0)
		return -1;
	report(&ops[OP_ECDH_P256]);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "reader", required_argument, NULL, 'r' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "gen-2048", required_argument, NULL, 'g' },
		{ "gen-4096", required_argument, NULL, 'G' },
		{ NULL, 0, NULL, 0 },
	};
	const char *reader = NULL;
	size_t n = 200, g2 = 15, g4 = 5;
	struct op ops[OP_COUNT] = {
		[OP_GEN_RSA2048] = { "GENERATE RSA-2048", CANOKEY_RSA2048_GEN,
				     .raw_what = "RSA-2048 keygen" },
		[OP_GEN_RSA4096] = { "GENERATE RSA-4096", 0,
				     .raw_what = "RSA-4096 keygen" },
		[OP_SIGN_RSA2048] = { "PSO:CDS RSA-2048", CANOKEY_RSA2048_SIGN,
				      .raw_what = "RSA-2048 PKCS#1 sign" },
		[OP_SIGN_RSA4096] = { "PSO:CDS RSA-4096", CANOKEY_RSA4096_SIGN,
				      .raw_what = "RSA-4096 PKCS#1 sign" },
		[OP_SIGN_P256] = { "PSO:CDS ECDSA P-256", CANOKEY_P256_SIGN,
				   .raw_what = "ECDSA P-256 sign (32-byte hash)" },
		[OP_SIGN_ED25519] = { "PSO:CDS Ed25519", CANOKEY_ED25519_SIGN,
				      .raw_what = "Ed25519 sign (32 bytes)" },
		[OP_DEC_RSA2048] = { "PSO:DECIPHER RSA-2048", 0,
				     .raw_what = "RSA-2048 PKCS#1 decrypt" },
		[OP_ECDH_P256] = { "PSO:DECIPHER ECDH P-256", 0,
				   .raw_what = "ECDH P-256 derive" },
	};
	struct card c = { 0, 0 };
	int opt, r = 1;

	while ((opt = getopt_long(argc, argv, "n:", lo, NULL)) != -1) {
		switch (opt) {
		case 'r': reader = optarg; break;
		case 'n': n = strtoul(optarg, NULL, 10); break;
		case 'g': g2 = strtoul(optarg, NULL, 10); break;
		case 'G': g4 = strtoul(optarg, NULL, 10); break;
		default: n = 0; break;
		}
	}
	if (reader == NULL || n < ROUNDS || g2 < 1 || g4 < 1) {
		fprintf(stderr, "usage: %s --reader NAME [-n N] [--gen-2048 N] "
			"[--gen-4096 N]\n", argv[0]);
		return 2;
	}
	for (size_t i = 0; i < sizeof digest; i++)
		digest[i] = (uint8_t)(0xA5 ^ i * 29);
	for (int k = 0; k < OP_COUNT; k++) {
		ops[k].n = k == OP_GEN_RSA2048 ? g2 : k == OP_GEN_RSA4096 ? g4 : n;
		ops[k].card_t = calloc(ops[k].n, sizeof(uint64_t));
		ops[k].raw_t = calloc(ops[k].n, sizeof(uint64_t));
		if (ops[k].card_t == NULL || ops[k].raw_t == NULL)
			goto out;
	}
	if (card_open(&c, reader) != 0 || run(&c, ops) != 0)
		goto out;
	r = 0;
out:
	card_close(&c);
	for (int k = 0; k < OP_COUNT; k++) {
		free(ops[k].card_t);
		free(ops[k].raw_t);
	}
	return r;
}
