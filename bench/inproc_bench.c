/* In-process benchmark: SELECT and OATH CALCULATE through vkey_apdu() with
 * no transport, beside the raw OpenSSL HMAC-SHA1 that CALCULATE is built
 * on, measured in the same run. Prints; never asserts. */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"
#include "vkey/vkey.h"

#define WARMUP 200

static const uint8_t select_oath[] = { 0x00, 0xA4, 0x04, 0x00, 0x07, 0xA0,
				       0x00, 0x00, 0x05, 0x27, 0x21, 0x01 };

/* OATH PUT "bench": TOTP (0x20) | SHA1 (0x01), 6 digits, 20-byte key. */
static const uint8_t put_bench[] = {
	0x00, 0x01, 0x00, 0x00, 0x1F,
	0x71, 0x05, 'b', 'e', 'n', 'c', 'h',
	0x73, 0x16, 0x21, 0x06,
	0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39,
	0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39,
};

/* OATH CALCULATE "bench", truncated (P2=01), 8-byte challenge, Le 00. */
static const uint8_t calc_bench[] = {
	0x00, 0xA2, 0x00, 0x01, 0x11,
	0x71, 0x05, 'b', 'e', 'n', 'c', 'h',
	0x74, 0x08, 0x00, 0x00, 0x00, 0x00, 0x03, 0x5A, 0x7B, 0x11,
	0x00,
};

/* The same key as put_bench's. */
static const uint8_t hmac_key[20] = {
	0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39,
	0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39,
};
static const uint8_t challenge[8] = { 0, 0, 0, 0, 0x03, 0x5A, 0x7B, 0x11 };

static uint8_t resp[VKEY_APDU_MAX];

/* Status word of one APDU, or -1. */
static int apdu(struct vkey *key, const uint8_t *cmd, size_t len)
{
	size_t rlen = 0;

	if (vkey_apdu(key, cmd, len, resp, sizeof resp, &rlen) != 0 || rlen < 2)
		return -1;
	return resp[rlen - 2] << 8 | resp[rlen - 1];
}

static int time_apdu(struct vkey *key, const uint8_t *cmd, size_t len,
		     uint64_t *t, size_t n, struct bench_result *out)
{
	size_t i;

	for (i = 0; i < WARMUP + n; i++) {
		uint64_t t0 = bench_now_ns();

		if (apdu(key, cmd, len) != 0x9000) {
			fprintf(stderr, "unexpected status from vkey_apdu\n");
			return -1;
		}
		if (i >= WARMUP)
			t[i - WARMUP] = bench_now_ns() - t0;
	}
	*out = bench_summarize(t, n);
	return 0;
}

/* HMAC() one-shot: what services/crypto.c calls per CALCULATE. */
static int time_hmac_oneshot(uint64_t *t, size_t n, struct bench_result *out)
{
	uint8_t mac[EVP_MAX_MD_SIZE];
	unsigned int mlen;
	size_t i;

	for (i = 0; i < WARMUP + n; i++) {
		uint64_t t0 = bench_now_ns();

		if (HMAC(EVP_sha1(), hmac_key, sizeof hmac_key, challenge,
			 sizeof challenge, mac, &mlen) == NULL)
			return -1;
		if (i >= WARMUP)
			t[i - WARMUP] = bench_now_ns() - t0;
	}
	*out = bench_summarize(t, n);
	return 0;
}

/* The floor of the primitive: one EVP_MAC context, fetched once and
 * re-keyed per call, so no algorithm fetch is paid inside the loop. */
static int time_hmac_ctx(uint64_t *t, size_t n, struct bench_result *out)
{
	OSSL_PARAM params[] = {
		OSSL_PARAM_construct_utf8_string("digest", (char *)"SHA1", 0),
		OSSL_PARAM_construct_end(),
	};
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
	EVP_MAC_CTX *ctx = mac ? EVP_MAC_CTX_new(mac) : NULL;
	uint8_t md[EVP_MAX_MD_SIZE];
	size_t i, mlen;
	int r = -1;

	if (ctx == NULL)
		goto out;
	for (i = 0; i < WARMUP + n; i++) {
		uint64_t t0 = bench_now_ns();

		if (!EVP_MAC_init(ctx, hmac_key, sizeof hmac_key, params) ||
		    !EVP_MAC_update(ctx, challenge, sizeof challenge) ||
		    !EVP_MAC_final(ctx, md, &mlen, sizeof md))
			goto out;
		if (i >= WARMUP)
			t[i - WARMUP] = bench_now_ns() - t0;
	}
	*out = bench_summarize(t, n);
	r = 0;
out:
	EVP_MAC_CTX_free(ctx);
	EVP_MAC_free(mac);
	return r;
}

static int run(struct vkey *key, size_t n)
{
	struct bench_result sel, calc, h1, h2;
	uint64_t *t = calloc(n, sizeof *t);
	char note[128];
	int r = -1;

	if (t == NULL)
		goto out;
	if (time_apdu(key, select_oath, sizeof select_oath, t, n, &sel) != 0)
		goto out;
	bench_print("in-process SELECT  vkey_apdu()", sel, "");
	if (apdu(key, put_bench, sizeof put_bench) != 0x9000) {
		fprintf(stderr, "OATH PUT failed\n");
		goto out;
	}
	if (time_apdu(key, calc_bench, sizeof calc_bench, t, n, &calc) != 0 ||
	    time_hmac_oneshot(t, n, &h1) != 0 || time_hmac_ctx(t, n, &h2) != 0)
		goto out;
	snprintf(note, sizeof note, "%.1fx HMAC() one-shot, %.1fx EVP_MAC reuse",
		 calc.median_ms / h1.median_ms, calc.median_ms / h2.median_ms);
	bench_print("in-process OATH CALCULATE  vkey_apdu()", calc, note);
	bench_print("OpenSSL HMAC-SHA1(8 bytes), HMAC() one-shot", h1, "");
	bench_print("OpenSSL HMAC-SHA1(8 bytes), EVP_MAC_CTX reused", h2, "");
	r = 0;
out:
	free(t);
	return r;
}

int main(int argc, char **argv)
{
	struct vkey_options opt = { .up = VKEY_UP_AUTO };
	struct vkey *key = NULL;
	char err[256];
	size_t n = 20000;
	int r = 1;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s STATE_FILE [ITERATIONS]\n", argv[0]);
		return 2;
	}
	if (argc == 3)
		n = strtoul(argv[2], NULL, 10);
	opt.state_path = argv[1];
	if (n == 0 || vkey_open(&key, &opt, err, sizeof err) != 0) {
		fprintf(stderr, "%s\n", n ? err : "bad iteration count");
		goto out;
	}
	vkey_power_on(key);
	r = run(key, n) == 0 ? 0 : 1;
out:
	if (key)
		vkey_close(key);
	return r;
}
