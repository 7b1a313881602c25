/* PIV benchmark through PC/SC (libpcsclite -> pcscd -> vpcd -> vkey
 * serve): GENERAL AUTHENTICATE signatures (P-256, Ed25519, RSA-2048,
 * RSA-4096), ECDH P-256 and GENERATE (RSA-2048, RSA-4096), each beside
 * the raw OpenSSL operation it is built on, timed in the same run and
 * interleaved with it. Every card result is checked once against the
 * public key GENERATE returned. Prints; never asserts. */
#include <getopt.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
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

/* DigestInfo prefix for SHA-256 (RFC 8017 §9.2 note 1). */
static const uint8_t sha256_prefix[19] = { 0x30, 0x31, 0x30, 0x0D, 0x06,
					   0x09, 0x60, 0x86, 0x48, 0x01,
					   0x65, 0x03, 0x04, 0x02, 0x01,
					   0x05, 0x00, 0x04, 0x20 };

/* CanoKey's virtual card on this machine (the project's measurements),
 * in milliseconds; 0: none. */
#define CANOKEY_P256_SIGN 0.74
#define CANOKEY_RSA2048_SIGN 2.4
#define CANOKEY_RSA2048_GEN 57.0

struct card {
	SCARDCONTEXT ctx;
	SCARDHANDLE h;
};

struct resp {
	uint8_t p[RESP_MAX];
	size_t len; /* without the status word */
};

/* ---- APDUs: extended length, one round trip each (vkey takes them;
 * OpenSC and yubico-piv-tool chain short APDUs instead) ---- */

static size_t apdu_ext(uint8_t *a, uint8_t ins, uint8_t p1, uint8_t p2,
		       const uint8_t *data, size_t len, bool le)
{
	size_t n = 0;

	a[n++] = 0x00;
	a[n++] = ins;
	a[n++] = p1;
	a[n++] = p2;
	if (len == 0 && !le)
		return n;
	a[n++] = 0x00;
	if (len > 0) {
		a[n++] = (uint8_t)(len >> 8);
		a[n++] = (uint8_t)len;
		memcpy(a + n, data, len);
		n += len;
	}
	if (le) {
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

/* ---- BER-TLV ---- */

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

/* Find a tag (one or two bytes) at the top level of p; returns the value
 * and its length, or NULL. */
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
	const uint8_t *dyn, *w;
	size_t n = 0, il = 0, dl, wl;
	struct resp r;

	if (expect_ok("GENERAL AUTHENTICATE 9B (witness)",
		      call(c, INS_GENERAL_AUTH, ALG_3DES, REF_MGMT, ask,
			   sizeof ask, true, &r)) != 0 ||
	    (dyn = tlv_find(r.p, r.len, 0x7C, &dl)) == NULL ||
	    (w = tlv_find(dyn, dl, 0x80, &wl)) == NULL || wl != 8 ||
	    des3_ecb(w, plain, 0) != 0 || RAND_bytes(chal, 8) != 1 ||
	    des3_ecb(chal, want, 1) != 0)
		return -1;
	tlv_put(inner, &il, 0x80, plain, 8);
	tlv_put(inner, &il, 0x81, chal, 8);
	tlv_put(req, &n, 0x7C, inner, il);
	OPENSSL_cleanse(plain, sizeof plain);
	if (expect_ok("GENERAL AUTHENTICATE 9B (challenge)",
		      call(c, INS_GENERAL_AUTH, ALG_3DES, REF_MGMT, req, n,
			   true, &r)) != 0 ||
	    (dyn = tlv_find(r.p, r.len, 0x7C, &dl)) == NULL ||
	    (w = tlv_find(dyn, dl, 0x82, &wl)) == NULL || wl != 8 ||
	    memcmp(w, want, 8) != 0) {
		fprintf(stderr, "management key: the card's answer is wrong\n");
		return -1;
	}
	return 0;
}

static int card_open(struct card *c, const char *reader)
{
	SCARD_READERSTATE st = { .szReader = reader,
				 .dwCurrentState = SCARD_STATE_UNAWARE };
	uint8_t sel[5 + sizeof piv_aid];
	struct resp r;
	DWORD proto = 0;

	if (SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &c->ctx) !=
	    SCARD_S_SUCCESS) {
		fprintf(stderr, "no pcscd\n");
		return -1;
	}
	for (int i = 0; i < 100; i++) {
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
	/* SELECT by the RID (short APDU, as every client sends it), then
	 * the management key for GENERATE and the PIN for the keys. */
	memcpy(sel, (const uint8_t[]){ 0x00, 0xA4, 0x04, 0x00, sizeof piv_aid },
	       5);
	memcpy(sel + 5, piv_aid, sizeof piv_aid);
	if (expect_ok("SELECT", transmit(c, sel, sizeof sel, &r)) != 0 ||
	    mgmt_auth(c) != 0 ||
	    expect_ok("VERIFY PIN", call(c, INS_VERIFY, 0x00, REF_PIN,
					 pin_block, sizeof pin_block, false,
					 &r)) != 0)
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
		    struct resp *r)
{
	const uint8_t tmpl[5] = { 0xAC, 0x03, 0x80, 0x01, k->alg };

	return call(c, INS_GENERATE, 0x00, slot, tmpl, sizeof tmpl, true, r) ==
			       0x9000 ?
		       0 : -1;
}

static EVP_PKEY *raw_keygen(const struct keytype *k)
{
	if (k->evp_id == EVP_PKEY_RSA)
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)k->rsa_bits);
	if (k->evp_id == EVP_PKEY_EC)
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
}

static EVP_PKEY *rsa_pub(const uint8_t *pk, size_t pkl)
{
	const uint8_t *n, *e;
	size_t nl, el;
	OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *key = NULL;
	BIGNUM *bn = NULL, *be = NULL;

	n = tlv_find(pk, pkl, 0x81, &nl);
	e = tlv_find(pk, pkl, 0x82, &el);
	if (b == NULL || n == NULL || e == NULL ||
	    (bn = BN_bin2bn(n, (int)nl, NULL)) == NULL ||
	    (be = BN_bin2bn(e, (int)el, NULL)) == NULL ||
	    !OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, bn) ||
	    !OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, be) ||
	    (params = OSSL_PARAM_BLD_to_param(b)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
		key = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(b);
	BN_free(bn);
	BN_free(be);
	return key;
}

static EVP_PKEY *p256_pub(const uint8_t *q, size_t ql)
{
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
	EVP_PKEY *key = NULL;

	params[0] = OSSL_PARAM_construct_utf8_string(
		OSSL_PKEY_PARAM_GROUP_NAME, (char *)"P-256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(
		OSSL_PKEY_PARAM_PUB_KEY, (void *)q, ql);
	params[2] = OSSL_PARAM_construct_end();
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
		key = NULL;
	EVP_PKEY_CTX_free(ctx);
	return key;
}

/* The public key in a GENERATE answer. */
static EVP_PKEY *pubkey_of(const struct keytype *k, const struct resp *r)
{
	const uint8_t *pk, *q;
	size_t pkl, ql;

	if ((pk = tlv_find(r->p, r->len, 0x7F49, &pkl)) == NULL)
		return NULL;
	if (k->evp_id == EVP_PKEY_RSA)
		return rsa_pub(pk, pkl);
	if ((q = tlv_find(pk, pkl, 0x86, &ql)) == NULL)
		return NULL;
	if (k->evp_id == EVP_PKEY_ED25519)
		return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, q,
						   ql);
	return p256_pub(q, ql);
}

/* ---- GENERAL AUTHENTICATE ---- */

/* 7C { 82 00, <tag> <data> } with the slot's algorithm; the result is
 * 7C { 82 <result> }, left in *out / *out_len (pointing into r). */
static int general_auth(struct card *c, const struct keytype *k,
			uint8_t slot, unsigned tag, const uint8_t *data,
			size_t len, struct resp *r, const uint8_t **out,
			size_t *out_len)
{
	uint8_t inner[600], req[604];
	size_t n = 0, il = 0, dl;
	const uint8_t *dyn;

	if (len > 512)
		return -1;
	tlv_put(inner, &il, 0x82, NULL, 0);
	tlv_put(inner, &il, tag, data, len);
	tlv_put(req, &n, 0x7C, inner, il);
	if (call(c, INS_GENERAL_AUTH, k->alg, slot, req, n, true, r) !=
		    0x9000 ||
	    (dyn = tlv_find(r->p, r->len, 0x7C, &dl)) == NULL ||
	    (*out = tlv_find(dyn, dl, 0x82, out_len)) == NULL)
		return -1;
	return 0;
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

/* What the card signs: the hash for ECDSA, the 32-byte message for
 * Ed25519, the PKCS#1 v1.5 block (the host pads) for RSA. */
static size_t sign_input(const struct keytype *k, uint8_t *in)
{
	size_t n = k->rsa_bits / 8, t = sizeof sha256_prefix + sizeof digest;

	if (k->evp_id != EVP_PKEY_RSA) {
		memcpy(in, digest, sizeof digest);
		return sizeof digest;
	}
	in[0] = 0x00;
	in[1] = 0x01;
	memset(in + 2, 0xFF, n - t - 3);
	in[n - t - 1] = 0x00;
	memcpy(in + n - t, sha256_prefix, sizeof sha256_prefix);
	memcpy(in + n - sizeof digest, digest, sizeof digest);
	return n;
}

static int card_sign(struct card *c, const struct keytype *k,
		     const uint8_t *in, size_t len, struct resp *r,
		     const uint8_t **sig, size_t *sig_len)
{
	return general_auth(c, k, SLOT_SIGN, 0x81, in, len, r, sig, sig_len);
}

/* The raw signature: a context per call, the key object kept (what an
 * application holding a key does). */
static int raw_sign(EVP_PKEY *key, const struct keytype *k)
{
	uint8_t sig[512];
	size_t sl = sizeof sig;
	EVP_PKEY_CTX *pc;
	EVP_MD_CTX *mc;
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

/* ECDSA answers come DER-encoded (docs/PIV.md), as OpenSSL takes them. */
static int verify_once(EVP_PKEY *pub, const struct keytype *k,
		       const uint8_t *s, size_t sl)
{
	EVP_PKEY_CTX *pc;
	EVP_MD_CTX *mc;
	int ok;

	if (k->evp_id == EVP_PKEY_ED25519) {
		mc = EVP_MD_CTX_new();
		ok = mc != NULL &&
		     EVP_DigestVerifyInit(mc, NULL, NULL, NULL, pub) == 1 &&
		     EVP_DigestVerify(mc, s, sl, digest, sizeof digest) == 1;
		EVP_MD_CTX_free(mc);
		return ok ? 0 : -1;
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

/* Generate the key in 9A, check one signature. */
static EVP_PKEY *sign_setup(struct card *c, const struct keytype *k,
			    const uint8_t *in, size_t len)
{
	EVP_PKEY *pub = NULL;
	const uint8_t *sig;
	size_t sl;
	struct resp r;

	if (generate(c, SLOT_SIGN, k, &r) != 0 ||
	    (pub = pubkey_of(k, &r)) == NULL) {
		fprintf(stderr, "%s: GENERATE failed\n", k->name);
		return NULL;
	}
	if (card_sign(c, k, in, len, &r, &sig, &sl) != 0 ||
	    verify_once(pub, k, sig, sl) != 0) {
		fprintf(stderr, "%s: the card's signature does not verify\n",
			k->name);
		EVP_PKEY_free(pub);
		return NULL;
	}
	return pub;
}

/* n GENERAL AUTHENTICATE signatures and n raw ones in ROUNDS
 * interleaved chunks. */
static int bench_sign(struct card *c, const struct keytype *k, struct op *op)
{
	uint8_t in[512];
	size_t len = sign_input(k, in), chunk = op->n / ROUNDS, sl;
	EVP_PKEY *pub = sign_setup(c, k, in, len), *raw = raw_keygen(k);
	const uint8_t *sig;
	struct resp r;
	int err = pub == NULL || raw == NULL ? -1 : 0;

	for (int i = 0; i < WARMUP && err == 0; i++)
		err = card_sign(c, k, in, len, &r, &sig, &sl) | raw_sign(raw, k);
	for (size_t round = 0; round < ROUNDS && err == 0; round++) {
		for (size_t i = 0; i < chunk; i++) {
			uint64_t t0 = bench_now_ns();

			err |= card_sign(c, k, in, len, &r, &sig, &sl);
			op->card_t[round * chunk + i] = bench_now_ns() - t0;
		}
		for (size_t i = 0; i < chunk; i++) {
			uint64_t t0 = bench_now_ns();

			err |= raw_sign(raw, k);
			op->raw_t[round * chunk + i] = bench_now_ns() - t0;
		}
	}
	if (err == 0) {
		op->card = bench_summarize(op->card_t, chunk * ROUNDS);
		op->raw = bench_summarize(op->raw_t, chunk * ROUNDS);
	} else if (pub != NULL) {
		fprintf(stderr, "%s: GENERAL AUTHENTICATE failed\n", k->name);
	}
	EVP_PKEY_free(pub);
	EVP_PKEY_free(raw);
	return err;
}

/* GENERATE n times on the card, each followed by a raw key generation
 * of the same kind. The last key stays in 9A. */
static int bench_generate(struct card *c, const struct keytype *k,
			  struct op *op)
{
	struct resp r;

	for (size_t i = 0; i < op->n; i++) {
		uint64_t t0 = bench_now_ns();
		EVP_PKEY *raw;

		if (generate(c, SLOT_SIGN, k, &r) != 0) {
			fprintf(stderr, "%s: GENERATE failed\n", k->name);
			return -1;
		}
		op->card_t[i] = bench_now_ns() - t0;
		t0 = bench_now_ns();
		raw = raw_keygen(k);
		op->raw_t[i] = bench_now_ns() - t0;
		if (raw == NULL)
			return -1;
		EVP_PKEY_free(raw);
	}
	op->card = bench_summarize(op->card_t, op->n);
	op->raw = bench_summarize(op->raw_t, op->n);
	return 0;
}

/* ---- ECDH P-256 in 9D: 85 <peer point> ---- */

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

struct ecdh {
	EVP_PKEY *card_pub, *peer, *raw;
	uint8_t point[65];
	uint8_t want[32];
};

/* GENERATE in 9D, a peer key, and one checked exchange. */
static int ecdh_setup(struct card *c, struct ecdh *e)
{
	const uint8_t *z;
	size_t zl, ql = 0, wl = sizeof e->want;
	struct resp r;

	if (generate(c, SLOT_KM, &kt_p256, &r) != 0 ||
	    (e->card_pub = pubkey_of(&kt_p256, &r)) == NULL ||
	    (e->peer = raw_keygen(&kt_p256)) == NULL ||
	    (e->raw = raw_keygen(&kt_p256)) == NULL ||
	    EVP_PKEY_get_octet_string_param(e->peer, OSSL_PKEY_PARAM_PUB_KEY,
					    e->point, sizeof e->point,
					    &ql) != 1 ||
	    ql != sizeof e->point ||
	    ecdh_derive(e->peer, e->card_pub, e->want, &wl) != 0 ||
	    wl != sizeof e->want)
		return -1;
	if (general_auth(c, &kt_p256, SLOT_KM, 0x85, e->point, ql, &r, &z,
			 &zl) != 0 ||
	    zl != wl || memcmp(z, e->want, zl) != 0) {
		fprintf(stderr, "ECDH P-256: the card's secret is wrong\n");
		return -1;
	}
	return 0;
}

static int card_ecdh(struct card *c, const struct ecdh *e, struct resp *r)
{
	const uint8_t *z;
	size_t zl;

	return general_auth(c, &kt_p256, SLOT_KM, 0x85, e->point,
			    sizeof e->point, r, &z, &zl);
}

static int raw_ecdh(const struct ecdh *e)
{
	uint8_t z[32];
	size_t zl = sizeof z;

	return ecdh_derive(e->raw, e->peer, z, &zl);
}

static int bench_ecdh(struct card *c, struct op *op)
{
	struct ecdh e = { NULL, NULL, NULL, { 0 }, { 0 } };
	size_t chunk = op->n / ROUNDS;
	struct resp r;
	int err = ecdh_setup(c, &e);

	for (int i = 0; i < WARMUP && err == 0; i++)
		err = card_ecdh(c, &e, &r) | raw_ecdh(&e);
	for (size_t round = 0; round < ROUNDS && err == 0; round++) {
		for (size_t i = 0; i < chunk; i++) {
			uint64_t t0 = bench_now_ns();

			err |= card_ecdh(c, &e, &r);
			op->card_t[round * chunk + i] = bench_now_ns() - t0;
		}
		for (size_t i = 0; i < chunk; i++) {
			uint64_t t0 = bench_now_ns();

			err |= raw_ecdh(&e);
			op->raw_t[round * chunk + i] = bench_now_ns() - t0;
		}
	}
	if (err == 0) {
		op->card = bench_summarize(op->card_t, chunk * ROUNDS);
		op->raw = bench_summarize(op->raw_t, chunk * ROUNDS);
	} else {
		fprintf(stderr, "ECDH P-256 failed\n");
	}
	EVP_PKEY_free(e.card_pub);
	EVP_PKEY_free(e.peer);
	EVP_PKEY_free(e.raw);
	return err;
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
	OP_SIGN_P256,
	OP_SIGN_ED25519,
	OP_SIGN_RSA2048,
	OP_SIGN_RSA4096,
	OP_ECDH_P256,
	OP_COUNT,
};

/* Key generation first: each GENERATE replaces 9A's key, and each
 * signature phase that follows generates its own. */
static int run(struct card *c, struct op *ops)
{
	static const struct {
		enum op_kind op;
		const struct keytype *k;
	} signs[] = {
		{ OP_SIGN_P256, &kt_p256 },
		{ OP_SIGN_ED25519, &kt_ed25519 },
		{ OP_SIGN_RSA2048, &kt_rsa2048 },
		{ OP_SIGN_RSA4096, &kt_rsa4096 },
	};

	if (bench_generate(c, &kt_rsa2048, &ops[OP_GEN_RSA2048]) != 0)
		return -1;
	report(&ops[OP_GEN_RSA2048]);
	if (bench_generate(c, &kt_rsa4096, &ops[OP_GEN_RSA4096]) != 0)
		return -1;
	report(&ops[OP_GEN_RSA4096]);
	for (size_t i = 0; i < sizeof signs / sizeof signs[0]; i++) {
		if (bench_sign(c, signs[i].k, &ops[signs[i].op]) != 0)
			return -1;
		report(&ops[signs[i].op]);
	}
	if (bench_ecdh(c, &ops[OP_ECDH_P256]) != 0)
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
		[OP_SIGN_P256] = { "GENERAL AUTH ECDSA P-256",
				   CANOKEY_P256_SIGN,
				   .raw_what = "ECDSA P-256 sign (32-byte hash)" },
		[OP_SIGN_ED25519] = { "GENERAL AUTH Ed25519", 0,
				      .raw_what = "Ed25519 sign (32 bytes)" },
		[OP_SIGN_RSA2048] = { "GENERAL AUTH RSA-2048",
				      CANOKEY_RSA2048_SIGN,
				      .raw_what = "RSA-2048 PKCS#1 sign" },
		[OP_SIGN_RSA4096] = { "GENERAL AUTH RSA-4096", 0,
				      .raw_what = "RSA-4096 PKCS#1 sign" },
		[OP_ECDH_P256] = { "GENERAL AUTH ECDH P-256", 0,
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
		digest[i] = (uint8_t)(0x5A ^ i * 29);
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
