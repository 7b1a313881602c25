/* FIDO round trips from inside a QEMU guest: runs in the guest
 * (bench/guest_bench.sh) against a vkey attached by usb-redir, through the
 * guest kernel's hidraw and libfido2, the path a browser or ssh in a VM
 * takes. Prints medians of getPINRetries (one 64-byte report each way:
 * the transport's floor), getInfo (six reports back) and getAssertion
 * ES256; the last assertion is verified. Never asserts on time. */
#include <fido.h>
#include <fido/es256.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats.h"

#define WARMUP 10
#define VKEY_VENDOR 0x1209
#define RP_ID "bench.vkey"

/* The first FIDO device with vkey's vendor id, or NULL. */
static char *find_device(void)
{
	fido_dev_info_t *list = fido_dev_info_new(16);
	size_t n = 0;
	char *path = NULL;

	if (list == NULL || fido_dev_info_manifest(list, 16, &n) != FIDO_OK)
		goto out;
	for (size_t i = 0; i < n; i++) {
		const fido_dev_info_t *di = fido_dev_info_ptr(list, i);

		if (fido_dev_info_vendor(di) == VKEY_VENDOR) {
			path = strdup(fido_dev_info_path(di));
			break;
		}
	}
out:
	fido_dev_info_free(&list, 16);
	return path;
}

static int make_cred(fido_dev_t *dev, fido_cred_t *cred)
{
	static const unsigned char cdh[32] = { 1 }, uid[16] = { 2 };
	int r;

	if ((r = fido_cred_set_type(cred, COSE_ES256)) != FIDO_OK ||
	    (r = fido_cred_set_clientdata_hash(cred, cdh, sizeof cdh)) != FIDO_OK ||
	    (r = fido_cred_set_rp(cred, RP_ID, NULL)) != FIDO_OK ||
	    (r = fido_cred_set_user(cred, uid, sizeof uid, "bench", NULL, NULL)) != FIDO_OK ||
	    (r = fido_dev_make_cred(dev, cred, NULL)) != FIDO_OK) {
		fprintf(stderr, "makeCredential: %s\n", fido_strerr(r));
		return -1;
	}
	return 0;
}

/* One timed getAssertion on cred; the assertion is returned for checking. */
static int get_assert(fido_dev_t *dev, const fido_cred_t *cred,
		      fido_assert_t **out, uint64_t *ns)
{
	static const unsigned char cdh[32] = { 3 };
	fido_assert_t *a = fido_assert_new();
	uint64_t t0;
	int r = FIDO_ERR_INTERNAL;

	if (a == NULL ||
	    (r = fido_assert_set_clientdata_hash(a, cdh, sizeof cdh)) != FIDO_OK ||
	    (r = fido_assert_set_rp(a, RP_ID)) != FIDO_OK ||
	    (r = fido_assert_allow_cred(a, fido_cred_id_ptr(cred),
					fido_cred_id_len(cred))) != FIDO_OK)
		goto out;
	t0 = bench_now_ns();
	r = fido_dev_get_assert(dev, a, NULL);
	*ns = bench_now_ns() - t0;
out:
	if (r != FIDO_OK) {
		fprintf(stderr, "getAssertion: %s\n", fido_strerr(r));
		fido_assert_free(&a);
		return -1;
	}
	fido_assert_free(out);
	*out = a; /* transferred */
	return 0;
}

static int verify(const fido_cred_t *cred, const fido_assert_t *a)
{
	es256_pk_t *pk = es256_pk_new();
	int r = FIDO_ERR_INTERNAL;

	if (pk != NULL &&
	    (r = es256_pk_from_ptr(pk, fido_cred_pubkey_ptr(cred),
				   fido_cred_pubkey_len(cred))) == FIDO_OK)
		r = fido_assert_verify(a, 0, COSE_ES256, pk);
	es256_pk_free(&pk);
	if (r != FIDO_OK)
		fprintf(stderr, "assertion does not verify: %s\n", fido_strerr(r));
	return r == FIDO_OK ? 0 : -1;
}

static int bench_retries(fido_dev_t *dev, uint64_t *s, size_t n)
{
	for (size_t i = 0; i < n + WARMUP; i++) {
		int tries = 0;
		uint64_t t0 = bench_now_ns();
		int r = fido_dev_get_retry_count(dev, &tries);

		if (i >= WARMUP)
			s[i - WARMUP] = bench_now_ns() - t0;
		if (r != FIDO_OK) {
			fprintf(stderr, "getPINRetries: %s\n", fido_strerr(r));
			return -1;
		}
	}
	return 0;
}

static int bench_info(fido_dev_t *dev, uint64_t *s, size_t n)
{
	for (size_t i = 0; i < n + WARMUP; i++) {
		fido_cbor_info_t *ci = fido_cbor_info_new();
		uint64_t t0 = bench_now_ns();
		int r = ci ? fido_dev_get_cbor_info(dev, ci) : FIDO_ERR_INTERNAL;

		if (i >= WARMUP)
			s[i - WARMUP] = bench_now_ns() - t0;
		fido_cbor_info_free(&ci);
		if (r != FIDO_OK) {
			fprintf(stderr, "getInfo: %s\n", fido_strerr(r));
			return -1;
		}
	}
	return 0;
}

static int bench_assert(fido_dev_t *dev, const fido_cred_t *cred,
			uint64_t *s, size_t n)
{
	fido_assert_t *a = NULL;
	int r = -1;

	for (size_t i = 0; i < n + WARMUP; i++) {
		uint64_t ns;

		if (get_assert(dev, cred, &a, &ns) != 0)
			goto out;
		if (i >= WARMUP)
			s[i - WARMUP] = ns;
	}
	r = verify(cred, a);
out:
	fido_assert_free(&a);
	return r;
}

int main(int argc, char **argv)
{
	size_t n = 300;
	char *path = NULL;
	fido_dev_t *dev = NULL;
	fido_cred_t *cred = NULL;
	uint64_t *s = NULL;
	char note[128];
	int ch, rc = 1;

	while ((ch = getopt(argc, argv, "n:")) != -1) {
		if (ch != 'n' || (n = strtoul(optarg, NULL, 10)) == 0) {
			fprintf(stderr, "usage: guest_assert [-n N] [DEVICE]\n");
			return 2;
		}
	}
	fido_init(0);
	path = optind < argc ? strdup(argv[optind]) : find_device();
	if (path == NULL) {
		fprintf(stderr, "no vkey FIDO device found\n");
		goto out;
	}
	if ((s = calloc(n, sizeof *s)) == NULL ||
	    (dev = fido_dev_new()) == NULL || (cred = fido_cred_new()) == NULL)
		goto out;
	if (fido_dev_open(dev, path) != FIDO_OK) {
		fprintf(stderr, "cannot open %s\n", path);
		goto out;
	}
	if (make_cred(dev, cred) != 0)
		goto out;

	snprintf(note, sizeof note, "%s, N=%zu", path, n);
	if (bench_retries(dev, s, n) != 0)
		goto out;
	bench_print("guest getPINRetries (1 report each way)",
		    bench_summarize(s, n), note);
	if (bench_info(dev, s, n) != 0)
		goto out;
	bench_print("guest getInfo", bench_summarize(s, n), NULL);
	if (bench_assert(dev, cred, s, n) != 0)
		goto out;
	bench_print("guest getAssertion ES256", bench_summarize(s, n),
		    "last one verified");
	rc = 0;
out:
	if (dev != NULL)
		fido_dev_close(dev);
	fido_dev_free(&dev);
	fido_cred_free(&cred);
	free(s);
	free(path);
	return rc;
}
