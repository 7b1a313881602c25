/* Fuzz target for the CTAPHID class: the input as 64-byte reports (and a
 * shorter tail) into its OUT op; every IN report checked as it drains.
 *
 * MSG and CBOR reach a key opened once with user presence approved
 * automatically; when the input holds such a request, the worker's
 * answers are drained too, until the class has been quiet for a moment. */
#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "usb/usb_class.h"
#include "vkey/vkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RPT 64
#define MAX_MSG 7609

/* One key for the whole run (static state is fine in a fuzz harness, not
 * in vkey): opening one per input would cost a state file each. */
static struct vkey *key;
static char dir[64];
static pthread_mutex_t note_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t note_cv = PTHREAD_COND_INITIALIZER;
static unsigned notes;

static void notify(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&note_mu);
	notes++;
	pthread_cond_broadcast(&note_cv);
	pthread_mutex_unlock(&note_mu);
}

/* Wait up to ms for a notification after the count seen. */
static int noted(unsigned seen, unsigned ms)
{
	struct timespec ts;
	int got;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_nsec += (long)ms * 1000000L;
	ts.tv_sec += ts.tv_nsec / 1000000000L;
	ts.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&note_mu);
	while (notes == seen &&
	       pthread_cond_timedwait(&note_cv, &note_mu, &ts) == 0)
		;
	got = notes != seen;
	pthread_mutex_unlock(&note_mu);
	return got;
}

static unsigned notes_now(void)
{
	unsigned n;

	pthread_mutex_lock(&note_mu);
	n = notes;
	pthread_mutex_unlock(&note_mu);
	return n;
}

static int rm_one(const char *p, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

static void cleanup(void)
{
	vkey_close(key);
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static int init(void)
{
	struct vkey_options opt = { .up = VKEY_UP_AUTO };
	char path[128], err[256];

	snprintf(dir, sizeof(dir), "/tmp/vkey-fuzz-ctaphid-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/state.vkey", dir);
	opt.state_path = path;
	if (vkey_open(&key, &opt, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_ctaphid: %s\n", err);
		return -1;
	}
	atexit(cleanup);
	return 0;
}

/* Every IN report is 64 bytes; an init packet never announces more than
 * maxMsgSize. */
static void drain(void *h)
{
	uint8_t rpt[RPT];
	int n;

	while ((n = usb_ctaphid_class.in(h, rpt, sizeof(rpt))) != USB_NAK) {
		if (n != RPT)
			abort();
		if ((rpt[4] & 0x80) != 0 &&
		    ((size_t)rpt[5] << 8 | rpt[6]) > MAX_MSG)
			abort();
	}
}

/* An init packet of MSG or CBOR: the worker will answer later. */
static int is_request(const uint8_t *rpt, size_t n)
{
	return n == RPT &&
	       (rpt[4] == (0x80 | 0x03) || rpt[4] == (0x80 | 0x10));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct usb_class_ops *ops = &usb_ctaphid_class;
	int requests = 0;
	unsigned seen;
	void *h;

	if (key == NULL && init() != 0)
		abort();
	h = ops->create(key, notify, NULL);
	if (h == NULL)
		abort();
	for (size_t off = 0; off < size; off += RPT) {
		size_t n = size - off < RPT ? size - off : RPT;
		/* Exact-size copy so the sanitizer sees any over-read. */
		uint8_t *rpt = malloc(n);
		int r;

		if (rpt == NULL)
			break;
		memcpy(rpt, data + off, n);
		requests |= is_request(rpt, n);
		r = ops->out(h, rpt, n);
		free(rpt);
		if (r != (n == RPT ? 0 : USB_STALL))
			abort();
		drain(h);
	}
	do {
		seen = notes_now();
		drain(h);
	} while (requests && noted(seen, 50));
	ops->destroy(h);
	return 0;
}
