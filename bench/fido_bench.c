/* FIDO benchmark: makeCredential, getAssertion (ES256, EdDSA, a
 * discoverable credential among 1,000 stored) and U2F authenticate, in
 * process (vkey_apdu, and ctap_cbor alone) and through PC/SC (libpcsclite
 * -> pcscd -> vpcd -> vkey serve), beside the raw OpenSSL signatures
 * measured in the same run. Prints medians and ratios; never asserts. */
#include <getopt.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_PCSC
#include <winscard.h>
#endif

#include "apdu/apdu.h"
#include "applets/fido/ctap.h"
#include "stats.h"
#include "vkey/vkey.h"

#define WARMUP 20
#define ROUNDS 10
#define BULK 1000
#define REQ_MAX 1024
#define RESP_MAX 8192
#define SHORT_CHUNK 250 /* python-fido2's chaining chunk */

/* Anchors: CanoKey's virtual card through PC/SC, python-fido2 driven
 * (REFERENCES.md). */
#define ANCHOR_MC_ES256 2.0
#define ANCHOR_GA_ES256 1.1
#define ANCHOR_GA_EDDSA 4.4
#define ANCHOR_U2F_AUTH 1.5
#define TARGET_INPROC_X 5.0 /* in-process getAssertion vs raw signature */

#define COSE_ES256_ALG (-7)
#define COSE_EDDSA_ALG (-8)

static const uint8_t fido_aid[] = { 0xA0, 0x00, 0x00, 0x06,
				    0x47, 0x2F, 0x00, 0x01 };

/* ---- a tiny CBOR writer for fixed, canonical requests ---- */

struct cb {
	uint8_t p[REQ_MAX];
	size_t len;
};

static void cb_head(struct cb *b, uint8_t major, uint64_t v)
{
	uint8_t m = (uint8_t)(major << 5);
	int n = v < 24 ? 0 : v <= 0xFF ? 1 : v <= 0xFFFF ? 2 : 4;

	if (b->len + 1 + (size_t)n > sizeof b->p) {
		fprintf(stderr, "request too long\n");
		exit(2);
	}
	b->p[b->len++] = (uint8_t)(m | (n == 0 ? v : n == 1 ? 24 :
					n == 2 ? 25 : 26));
	for (int i = n - 1; i >= 0; i--)
		b->p[b->len++] = (uint8_t)(v >> (8 * i));
}

static void cb_raw(struct cb *b, const void *p, size_t n)
{
	if (b->len + n > sizeof b->p) {
		fprintf(stderr, "request too long\n");
		exit(2);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void cb_bytes(struct cb *b, const void *p, size_t n)
{
	cb_head(b, 2, n);
	cb_raw(b, p, n);
}

static void cb_text(struct cb *b, const char *s)
{
	cb_head(b, 3, strlen(s));
	cb_raw(b, s, strlen(s));
}

static void cb_int(struct cb *b, int v)
{
	if (v >= 0)
		cb_head(b, 0, (uint64_t)v);
	else
		cb_head(b, 1, (uint64_t)(-1 - v));
}

/* Read one CBOR head: major type and argument. */
static int cb_read(const uint8_t **p, const uint8_t *end, uint8_t *major,
		   uint64_t *v)
{
	uint8_t ai;
	int n;

	if (*p >= end)
		return -1;
	*major = **p >> 5;
	ai = **p & 0x1F;
	(*p)++;
	if (ai < 24) {
		*v = ai;
		return 0;
	}
	if (ai > 27)
		return -1;
	n = 1 << (ai - 24);
	if (end - *p < n)
		return -1;
	*v = 0;
	for (int i = 0; i < n; i++)
		*v = *v << 8 | *(*p)++;
	return 0;
}

/* ---- requests ---- */

struct cred {
	uint8_t id[256];
	size_t id_len;
};

static void put_cdh(struct cb *b)
{
	uint8_t cdh[32];

	for (size_t i = 0; i < sizeof cdh; i++)
		cdh[i] = (uint8_t)(i * 7 + 1);
	cb_bytes(b, cdh, sizeof cdh);
}

/* authenticatorMakeCredential (CTAP 2.1 §6.1) with keys in canonical
 * order: 1 clientDataHash, 2 rp, 3 user, 4 pubKeyCredParams, 7 options. */
static void req_make(struct cb *b, const char *rp, unsigned user, int alg,
		     bool rk)
{
	uint8_t uid[8];

	for (int i = 0; i < 8; i++)
		uid[i] = (uint8_t)(user >> (8 * (i % 4)));
	b->len = 0;
	b->p[b->len++] = 0x01;
	cb_head(b, 5, rk ? 5 : 4);
	cb_int(b, 1);
	put_cdh(b);
	cb_int(b, 2);
	cb_head(b, 5, 2);
	cb_text(b, "id");
	cb_text(b, rp);
	cb_text(b, "name");
	cb_text(b, rp);
	cb_int(b, 3);
	cb_head(b, 5, 2);
	cb_text(b, "id");
	cb_bytes(b, uid, sizeof uid);
	cb_text(b, "name");
	cb_text(b, "bench");
	cb_int(b, 4);
	cb_head(b, 4, 1);
	cb_head(b, 5, 2);
	cb_text(b, "alg");
	cb_int(b, alg);
	cb_text(b, "type");
	cb_text(b, "public-key");
	if (rk) {
		cb_int(b, 7);
		cb_head(b, 5, 1);
		cb_text(b, "rk");
		b->p[b->len++] = 0xF5;
	}
}

/* authenticatorGetAssertion (§6.2): 1 rpId, 2 clientDataHash, 3
 * allowList (none: discoverable credentials). */
static void req_get(struct cb *b, const char *rp, const struct cred *c)
{
	b->len = 0;
	b->p[b->len++] = 0x02;
	cb_head(b, 5, c ? 3 : 2);
	cb_int(b, 1);
	cb_text(b, rp);
	cb_int(b, 2);
	put_cdh(b);
	if (c) {
		cb_int(b, 3);
		cb_head(b, 4, 1);
		cb_head(b, 5, 2);
		cb_text(b, "id");
		cb_bytes(b, c->id, c->id_len);
		cb_text(b, "type");
		cb_text(b, "public-key");
	}
}

/* The credential ID in a makeCredential response: map key 2 (authData),
 * then rpIdHash 32, flags 1, counter 4, AAGUID 16, L 2, ID L. */
static int parse_made(const uint8_t *r, size_t len, struct cred *c)
{
	const uint8_t *p = r + 1, *end = r + len, *ad;
	uint8_t major;
	uint64_t v, n, l;

	if (len < 2 || r[0] != 0 || cb_read(&p, end, &major, &n) || major != 5)
		return -1;
	for (uint64_t i = 0; i < n; i++) {
		if (cb_read(&p, end, &major, &v) || major != 0)
			return -1;
		if (v == 2)
			break;
		if (cb_read(&p, end, &major, &l) || major != 3 ||
		    (uint64_t)(end - p) < l)
			return -1;
		p += l; /* fmt */
	}
	if (cb_read(&p, end, &major, &l) || major != 2 ||
	    (uint64_t)(end - p) < l || l < 55)
		return -1;
	ad = p;
	c->id_len = (size_t)(ad[53] << 8 | ad[54]);
	if (c->id_len > sizeof c->id || 55 + c->id_len > l)
		return -1;
	memcpy(c->id, ad + 55, c->id_len);
	return 0;
}

/* ---- targets: where a request goes ---- */

struct target {
	const char *label;
	/* An APDU in, the whole response (61xx followed) out; returns SW. */
	int (*xfer)(void *ctx, const uint8_t *apdu, size_t len, uint8_t *resp,
		    size_t *rlen);
	void *ctx;
	struct ctap *ctap; /* instead of xfer: ctap_cbor / ctap_u2f */
	struct cred es256, eddsa, u2f;
};

/* Send a command the way python-fido2 0.9.1 does: short APDUs, CLA
 * chaining in 250-byte parts, Le 00, then GET RESPONSE while 61xx. */
static int apdu_call(struct target *t, uint8_t cla, uint8_t ins, uint8_t p1,
		     const uint8_t *data, size_t len, uint8_t *resp,
		     size_t *rlen)
{
	uint8_t a[5 + 256 + 1];
	size_t n, got = 0, room;
	int sw;

	while (len > SHORT_CHUNK) {
		memcpy(a, (uint8_t[]){ (uint8_t)(cla | 0x10), ins, p1, 0,
				       SHORT_CHUNK }, 5);
		memcpy(a + 5, data, SHORT_CHUNK);
		room = RESP_MAX;
		if (t->xfer(t->ctx, a, 5 + SHORT_CHUNK, resp, &room) != 0x9000)
			return -1;
		data += SHORT_CHUNK;
		len -= SHORT_CHUNK;
	}
	memcpy(a, (uint8_t[]){ cla, ins, p1, 0 }, 4);
	n = 4;
	if (len > 0) {
		a[n++] = (uint8_t)len;
		memcpy(a + n, data, len);
		n += len;
	}
	a[n++] = 0x00;
	for (;;) {
		room = RESP_MAX - got;
		sw = t->xfer(t->ctx, a, n, resp + got, &room);
		got += room;
		if (sw < 0 || (sw >> 8) != 0x61)
			break;
		memcpy(a, (uint8_t[]){ 0x00, 0xC0, 0x00, 0x00,
				       (uint8_t)sw }, 5);
		n = 5;
	}
	*rlen = got;
	return sw;
}

/* One CTAP2 request; returns the CTAP status byte, or -1. */
static int ctap_call(struct target *t, const struct cb *req, uint8_t *resp,
		     size_t *rlen)
{
	static const struct ctap_wait no_ticks = { NULL, NULL };

	if (t->ctap != NULL) {
		*rlen = ctap_cbor(t->ctap, req->p, req->len, resp, RESP_MAX,
				  &no_ticks);
	} else if (apdu_call(t, 0x80, 0x10, 0x80, req->p, req->len, resp,
			     rlen) != 0x9000 || *rlen < 1) {
		return -1;
	}
	return resp[0];
}

/* One U2F message (class 00); returns the SW. */
static int u2f_call(struct target *t, uint8_t ins, uint8_t p1,
		    const uint8_t *data, size_t len, uint8_t *resp,
		    size_t *rlen)
{
	static const struct ctap_wait no_ticks = { NULL, NULL };
	struct wbuf w;
	struct apdu cmd = { .cla = 0, .ins = ins, .p1 = p1, .data = data,
			    .lc = len, .ne = 256, .le_present = true };
	unsigned sw;

	if (t->ctap == NULL)
		return apdu_call(t, 0x00, ins, p1, data, len, resp, rlen);
	w = wbuf_init(resp, RESP_MAX);
	sw = ctap_u2f(t->ctap, &cmd, &w, &no_ticks);
	*rlen = w.len;
	return (int)sw;
}

/* ---- operations ---- */

enum op_kind {
	OP_MC_ES256,
	OP_MC_EDDSA,
	OP_GA_ES256,
	OP_GA_EDDSA,
	OP_GA_DISC,
	OP_GA_DISC_RP1000,
	OP_U2F_AUTH,
	OP_COUNT,
};

static const char *const op_name[OP_COUNT] = {
	"makeCredential ES256",
	"makeCredential EdDSA",
	"getAssertion ES256",
	"getAssertion EdDSA",
	"getAssertion discoverable (1 of 1,000+1)",
	"getAssertion discoverable, RP with 1,000",
	"U2F authenticate",
};

static uint8_t u2f_req[64 + 1 + 255];
static size_t u2f_req_len;

static int run_once(struct target *t, enum op_kind k)
{
	static uint8_t resp[RESP_MAX];
	static struct cb req;
	static unsigned user;
	size_t rlen;

	switch (k) {
	case OP_MC_ES256:
	case OP_MC_EDDSA:
		req_make(&req, "bench.example", ++user,
			 k == OP_MC_ES256 ? COSE_ES256_ALG : COSE_EDDSA_ALG,
			 false);
		break;
	case OP_GA_ES256:
		req_get(&req, "bench.example", &t->es256);
		break;
	case OP_GA_EDDSA:
		req_get(&req, "bench.example", &t->eddsa);
		break;
	case OP_GA_DISC:
		req_get(&req, "disc.example", NULL);
		break;
	case OP_GA_DISC_RP1000:
		req_get(&req, "bulk.example", NULL);
		break;
	case OP_U2F_AUTH:
		return u2f_call(t, 0x02, 0x03, u2f_req, u2f_req_len, resp,
				&rlen) == 0x9000 ? 0 : -1;
	case OP_COUNT:
		return -1;
	}
	return ctap_call(t, &req, resp, &rlen) == 0 ? 0 : -1;
}

/* Credentials every target needs: one ES256 and one EdDSA (allowList),
 * BULK discoverable ones on bulk.example, one on disc.example, and a
 * U2F registration for bench.example's application parameter. */
static int setup(struct target *t)
{
	static uint8_t resp[RESP_MAX];
	struct cb req;
	uint8_t reg[64];
	size_t rlen;
	uint64_t t0 = bench_now_ns();

	req_make(&req, "bench.example", 1, COSE_ES256_ALG, false);
	if (ctap_call(t, &req, resp, &rlen) != 0 ||
	    parse_made(resp, rlen, &t->es256) != 0)
		return -1;
	req_make(&req, "bench.example", 2, COSE_EDDSA_ALG, false);
	if (ctap_call(t, &req, resp, &rlen) != 0 ||
	    parse_made(resp, rlen, &t->eddsa) != 0)
		return -1;
	for (unsigned i = 0; i < BULK; i++) {
		req_make(&req, "bulk.example", 1000 + i, COSE_ES256_ALG, true);
		if (ctap_call(t, &req, resp, &rlen) != 0)
			return -1;
	}
	req_make(&req, "disc.example", 3, COSE_ES256_ALG, true);
	if (ctap_call(t, &req, resp, &rlen) != 0)
		return -1;
	printf("%-46s %.1f s for %d discoverable credentials\n", t->label,
	       (double)(bench_now_ns() - t0) / 1e9, BULK + 1);
	memset(reg, 0x5A, sizeof reg);
	if (u2f_call(t, 0x01, 0x00, reg, sizeof reg, resp, &rlen) != 0x9000 ||
	    rlen < 67 || resp[66] == 0 || 67u + resp[66] > rlen)
		return -1;
	t->u2f.id_len = resp[66];
	memcpy(t->u2f.id, resp + 67, t->u2f.id_len);
	/* U2F authenticate: challenge || application || L || key handle. */
	memset(u2f_req, 0x33, 32);
	memcpy(u2f_req + 32, reg + 32, 32);
	u2f_req[64] = (uint8_t)t->u2f.id_len;
	memcpy(u2f_req + 65, t->u2f.id, t->u2f.id_len);
	u2f_req_len = 65 + t->u2f.id_len;
	return 0;
}

/* Time n runs of each operation, interleaved in ROUNDS chunks so that
 * load from elsewhere on this small machine spreads over all alike. */
static int measure(struct target *t, size_t n, struct bench_result *res)
{
	uint64_t *s[OP_COUNT] = { 0 };
	size_t chunk = n / ROUNDS;
	int r = -1;

	for (int k = 0; k < OP_COUNT; k++) {
		s[k] = calloc(n, sizeof *s[k]);
		if (s[k] == NULL)
			goto out;
		for (int i = 0; i < WARMUP; i++)
			if (run_once(t, (enum op_kind)k) != 0) {
				fprintf(stderr, "%s: %s failed\n", t->label,
					op_name[k]);
				goto out;
			}
	}
	for (size_t round = 0; round < ROUNDS; round++)
		for (int k = 0; k < OP_COUNT; k++)
			for (size_t i = 0; i < chunk; i++) {
				uint64_t t0 = bench_now_ns();

				if (run_once(t, (enum op_kind)k) != 0)
					goto out;
				s[k][round * chunk + i] = bench_now_ns() - t0;
			}
	for (int k = 0; k < OP_COUNT; k++)
		res[k] = bench_summarize(s[k], chunk * ROUNDS);
	r = 0;
out:
	for (int k = 0; k < OP_COUNT; k++)
		free(s[k]);
	return r;
}

/* ---- the raw primitives, measured in the same run ---- */

/* One-shot signatures as an application makes them (a digest-sign
 * context per call, key object kept), the ECDSA floor (SHA-256, then
 * EVP_PKEY_sign on a context set up once: what `openssl speed` times),
 * and P-256 key generation. */
enum raw_kind {
	RAW_P256_SIGN,
	RAW_P256_FLOOR,
	RAW_ED25519_SIGN,
	RAW_P256_KEYGEN,
	RAW_COUNT,
};

static const uint8_t raw_msg[69] = { 1, 2, 3 }; /* authData || cdh */

static int raw_floor(EVP_PKEY_CTX *pctx)
{
	uint8_t md[32], sig[80];
	size_t sl = sizeof sig;

	return EVP_Digest(raw_msg, sizeof raw_msg, md, NULL, EVP_sha256(),
			  NULL) == 1 &&
	       EVP_PKEY_sign(pctx, sig, &sl, md, sizeof md) == 1 ? 0 : -1;
}

static int raw_once(enum raw_kind k, EVP_PKEY *p256, EVP_PKEY *ed,
		    EVP_PKEY_CTX *pctx)
{
	uint8_t sig[80];
	size_t sl = sizeof sig;
	EVP_MD_CTX *ctx;
	EVP_PKEY *tmp;
	int ok;

	if (k == RAW_P256_FLOOR)
		return raw_floor(pctx);
	if (k == RAW_P256_KEYGEN) {
		tmp = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
		EVP_PKEY_free(tmp);
		return tmp ? 0 : -1;
	}
	ctx = EVP_MD_CTX_new();
	ok = ctx != NULL &&
	     EVP_DigestSignInit(ctx, NULL,
				k == RAW_P256_SIGN ? EVP_sha256() : NULL, NULL,
				k == RAW_P256_SIGN ? p256 : ed) == 1 &&
	     EVP_DigestSign(ctx, sig, &sl, raw_msg, sizeof raw_msg) == 1;
	EVP_MD_CTX_free(ctx);
	return ok ? 0 : -1;
}

static int measure_raw(size_t n, struct bench_result *res)
{
	EVP_PKEY *p256 = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	EVP_PKEY *ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
	EVP_PKEY_CTX *pctx = p256 ? EVP_PKEY_CTX_new(p256, NULL) : NULL;
	uint64_t *s = calloc(n, sizeof *s);
	int r = -1;

	if (p256 == NULL || ed == NULL || s == NULL || pctx == NULL ||
	    EVP_PKEY_sign_init(pctx) != 1)
		goto out;
	for (int k = 0; k < RAW_COUNT; k++) {
		for (size_t i = 0; i < WARMUP + n; i++) {
			uint64_t t0 = bench_now_ns();

			if (raw_once((enum raw_kind)k, p256, ed, pctx) != 0)
				goto out;
			if (i >= WARMUP)
				s[i - WARMUP] = bench_now_ns() - t0;
		}
		res[k] = bench_summarize(s, n);
	}
	r = 0;
out:
	free(s);
	EVP_PKEY_CTX_free(pctx);
	EVP_PKEY_free(p256);
	EVP_PKEY_free(ed);
	return r;
}

/* ---- report ---- */

static double anchor_of(enum op_kind k)
{
	switch (k) {
	case OP_MC_ES256:
		return ANCHOR_MC_ES256;
	case OP_GA_ES256:
		return ANCHOR_GA_ES256;
	case OP_GA_EDDSA:
		return ANCHOR_GA_EDDSA;
	case OP_U2F_AUTH:
		return ANCHOR_U2F_AUTH;
	default:
		return 0;
	}
}

/* The raw signature an operation is built on. */
static const struct bench_result *raw_of(enum op_kind k,
					 const struct bench_result *raw)
{
	return k == OP_MC_EDDSA || k == OP_GA_EDDSA ? &raw[RAW_ED25519_SIGN]
						    : &raw[RAW_P256_SIGN];
}

/* Ratios to the one-shot signature; for ES256 also to the floor, which
 * the in-process target is judged against (the stricter of the two). */
static void report(const struct target *t, const struct bench_result *res,
		   const struct bench_result *raw, bool pcsc)
{
	char what[96], note[200];

	for (int k = 0; k < OP_COUNT; k++) {
		bool ed = raw_of(k, raw) == &raw[RAW_ED25519_SIGN];
		const struct bench_result *judge =
			ed ? &raw[RAW_ED25519_SIGN] : &raw[RAW_P256_FLOOR];
		double x = res[k].median_ms / judge->median_ms;
		double a = anchor_of((enum op_kind)k);
		int n;

		if (ed)
			n = snprintf(note, sizeof note, "%.1fx raw Ed25519 sign",
				     x);
		else
			n = snprintf(note, sizeof note,
				     "%.1fx raw P-256 sign, %.1fx its floor",
				     res[k].median_ms / raw[RAW_P256_SIGN].median_ms,
				     x);
		if (!pcsc && k >= OP_GA_ES256 && k <= OP_GA_DISC)
			n += snprintf(note + n, sizeof note - (size_t)n,
				      " (target <= %.0fx: %s)", TARGET_INPROC_X,
				      x <= TARGET_INPROC_X ? "met" : "MISSED");
		if (pcsc && a > 0)
			snprintf(note + n, sizeof note - (size_t)n,
				 "; CanoKey %.1f ms: %.2fx (%s)", a,
				 res[k].median_ms / a,
				 res[k].median_ms < a ? "beats" : "SLOWER");
		snprintf(what, sizeof what, "%s %s", t->label, op_name[k]);
		bench_print(what, res[k], note);
	}
}

/* ---- in process ---- */

static int inproc_xfer(void *ctx, const uint8_t *apdu, size_t len,
		       uint8_t *resp, size_t *rlen)
{
	static uint8_t buf[VKEY_APDU_MAX];
	size_t n = 0;

	if (vkey_apdu(ctx, apdu, len, buf, sizeof buf, &n) != 0 || n < 2 ||
	    n - 2 > *rlen)
		return -1;
	memcpy(resp, buf, n - 2);
	*rlen = n - 2;
	return buf[n - 2] << 8 | buf[n - 1];
}

static int open_key(const char *path, struct vkey **key)
{
	struct vkey_options opt = { .state_path = path, .up = VKEY_UP_AUTO };
	char err[256];

	if (vkey_open(key, &opt, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	vkey_power_on(*key);
	return 0;
}

static int select_fido(struct target *t)
{
	uint8_t a[5 + sizeof fido_aid], resp[64];
	size_t rlen = sizeof resp;

	memcpy(a, (uint8_t[]){ 0x00, 0xA4, 0x04, 0x00, sizeof fido_aid }, 5);
	memcpy(a + 5, fido_aid, sizeof fido_aid);
	return t->xfer(t->ctx, a, sizeof a, resp, &rlen) == 0x9000 ? 0 : -1;
}

static int bench_target(struct target *t, size_t n,
			const struct bench_result *raw, bool pcsc)
{
	struct bench_result res[OP_COUNT];

	if (setup(t) != 0) {
		fprintf(stderr, "%s: setup failed\n", t->label);
		return -1;
	}
	if (measure(t, n, res) != 0)
		return -1;
	report(t, res, raw, pcsc);
	return 0;
}

static int bench_inproc(const char *state, size_t n,
			const struct bench_result *raw)
{
	char path2[4096];
	struct vkey *k1 = NULL, *k2 = NULL;
	struct target apdu = { .label = "in-process vkey_apdu",
			       .xfer = inproc_xfer };
	struct target core = { .label = "in-process ctap_cbor" };
	int r = -1;

	snprintf(path2, sizeof path2, "%s.core", state);
	if (open_key(state, &k1) != 0 || open_key(path2, &k2) != 0)
		goto out;
	apdu.ctx = k1;
	if (select_fido(&apdu) != 0 || ctap_create(k2, &core.ctap) != 0) {
		fprintf(stderr, "in-process: no FIDO applet\n");
		goto out;
	}
	if (bench_target(&apdu, n, raw, false) != 0 ||
	    bench_target(&core, n, raw, false) != 0)
		goto out;
	r = 0;
out:
	if (core.ctap)
		ctap_destroy(core.ctap);
	if (k2)
		vkey_close(k2);
	if (k1)
		vkey_close(k1);
	return r;
}

/* ---- through PC/SC ---- */

#ifdef HAVE_PCSC
struct pcsc {
	SCARDCONTEXT ctx;
	SCARDHANDLE card;
};

static int pcsc_xfer(void *ctx, const uint8_t *apdu, size_t len,
		     uint8_t *resp, size_t *rlen)
{
	struct pcsc *p = ctx;
	uint8_t buf[258];
	DWORD n = sizeof buf;

	if (SCardTransmit(p->card, SCARD_PCI_T1, apdu, (DWORD)len, NULL, buf,
			  &n) != SCARD_S_SUCCESS ||
	    n < 2 || n - 2 > *rlen)
		return -1;
	memcpy(resp, buf, n - 2);
	*rlen = n - 2;
	return buf[n - 2] << 8 | buf[n - 1];
}

static int pcsc_open(struct pcsc *p, const char *reader)
{
	SCARD_READERSTATE st = { .szReader = reader,
				 .dwCurrentState = SCARD_STATE_UNAWARE };
	DWORD proto = 0;
	int i;

	if (SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &p->ctx) !=
	    SCARD_S_SUCCESS) {
		fprintf(stderr, "no pcscd\n");
		return -1;
	}
	for (i = 0; i < 100; i++) {
		if (SCardGetStatusChange(p->ctx, 100, &st, 1) ==
			    SCARD_S_SUCCESS &&
		    (st.dwEventState & SCARD_STATE_PRESENT))
			break;
		st.dwCurrentState = st.dwEventState & ~(DWORD)SCARD_STATE_CHANGED;
	}
	if (SCardConnect(p->ctx, reader, SCARD_SHARE_SHARED,
			 SCARD_PROTOCOL_T1, &p->card, &proto) !=
	    SCARD_S_SUCCESS) {
		fprintf(stderr, "SCardConnect(%s) failed\n", reader);
		return -1;
	}
	return 0;
}

static int bench_pcsc(const char *reader, size_t n,
		      const struct bench_result *raw)
{
	struct pcsc p = { 0, 0 };
	struct target t = { .label = "pcsc", .xfer = pcsc_xfer, .ctx = &p };
	int r = -1;

	if (pcsc_open(&p, reader) != 0 || select_fido(&t) != 0)
		goto out;
	r = bench_target(&t, n, raw, true);
out:
	if (p.card)
		SCardDisconnect(p.card, SCARD_RESET_CARD);
	if (p.ctx)
		SCardReleaseContext(p.ctx);
	return r;
}
#endif

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "state", required_argument, NULL, 's' },
		{ "reader", required_argument, NULL, 'r' },
		{ "iterations", required_argument, NULL, 'n' },
		{ NULL, 0, NULL, 0 },
	};
	struct bench_result raw[RAW_COUNT];
	const char *state = NULL, *reader = NULL;
	size_t n = 1000;
	int c, r = 0;

	while ((c = getopt_long(argc, argv, "n:", lo, NULL)) != -1) {
		switch (c) {
		case 's': state = optarg; break;
		case 'r': reader = optarg; break;
		case 'n': n = strtoul(optarg, NULL, 10); break;
		default: n = 0; break;
		}
	}
	if (n < ROUNDS || (state == NULL && reader == NULL)) {
		fprintf(stderr, "usage: %s [-n N] [--state FILE] "
			"[--reader NAME]\n", argv[0]);
		return 2;
	}
	if (measure_raw(n * 5, raw) != 0)
		return 1;
	bench_print("OpenSSL ECDSA P-256 sign (SHA-256, 69 bytes)",
		    raw[RAW_P256_SIGN], "raw primitive, one-shot EVP");
	bench_print("OpenSSL ECDSA P-256 sign, floor", raw[RAW_P256_FLOOR],
		    "SHA-256 + EVP_PKEY_sign, context reused");
	bench_print("OpenSSL Ed25519 sign (69 bytes)", raw[RAW_ED25519_SIGN],
		    "raw primitive, one-shot EVP");
	bench_print("OpenSSL P-256 key generation", raw[RAW_P256_KEYGEN],
		    "raw primitive");
	if (state != NULL && bench_inproc(state, n, raw) != 0)
		r = 1;
#ifdef HAVE_PCSC
	if (reader != NULL && bench_pcsc(reader, n, raw) != 0)
		r = 1;
#else
	if (reader != NULL)
		fprintf(stderr, "built without libpcsclite: no PC/SC figures\n");
#endif
	return r;
}
