/* Fuzz target for the usbredir transport: the input is the byte stream a
 * usb-guest (QEMU) sends, fed through the transport's connection code
 * (libusbredirparser in the usb-host role) into a real USB device model;
 * what the transport answers is discarded.
 *
 * The device's classes answer CTAP and APDUs on workers, so after the
 * input the harness keeps pumping while the device still notifies. */
#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "transports/usbredir.h"
#include "usb/usb.h"
#include "vkey/vkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One key and one device for the whole run (static state is fine in a
 * fuzz harness, not in vkey). */
static struct vkey *key;
static struct usb_dev *dev;
static char dir[64];
static pthread_mutex_t note_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t note_cv = PTHREAD_COND_INITIALIZER;
static unsigned notes;

struct mem_io {
	const uint8_t *p;
	size_t len, off;
};

/* The peer's bytes; at the end "nothing more now", so the connection
 * stays up while the device's late answers are pumped out. */
static int mem_read(void *arg, uint8_t *buf, size_t cap)
{
	struct mem_io *m = arg;
	size_t n = m->len - m->off;

	if (n == 0)
		return 0;
	if (n > cap)
		n = cap;
	memcpy(buf, m->p + m->off, n);
	m->off += n;
	return (int)n;
}

static int mem_write(void *arg, const uint8_t *buf, size_t len)
{
	(void)arg;
	(void)buf;
	return (int)len;
}

static void notify(void *arg)
{
	(void)arg;
	pthread_mutex_lock(&note_mu);
	notes++;
	pthread_cond_broadcast(&note_cv);
	pthread_mutex_unlock(&note_mu);
}

static unsigned notes_now(void)
{
	unsigned n;

	pthread_mutex_lock(&note_mu);
	n = notes;
	pthread_mutex_unlock(&note_mu);
	return n;
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
	usb_dev_free(dev);
	vkey_close(key);
	nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static int init(void)
{
	struct vkey_options opt = { .up = VKEY_UP_AUTO };
	char path[128], err[256];

	/* The transport logs every refused input; keep the run quiet. */
	log_set_level(LOG_ERROR);
	snprintf(dir, sizeof(dir), "/tmp/vkey-fuzz-usbredir-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(path, sizeof(path), "%s/state.vkey", dir);
	opt.state_path = path;
	if (vkey_open(&key, &opt, err, sizeof(err)) != 0) {
		fprintf(stderr, "fuzz_usbredir: %s\n", err);
		return -1;
	}
	dev = usb_dev_new(key, NULL);
	if (dev == NULL)
		return -1;
	usb_dev_set_notify(dev, notify, NULL);
	atexit(cleanup);
	return 0;
}

/* Answer what the device has, for as long as its workers keep producing
 * (a first short wait, then longer while it is busy). */
static void settle(struct usbredir_conn *c)
{
	unsigned ms = 5;

	for (;;) {
		unsigned seen = notes_now();

		usbredir_conn_pump(c);
		(void)usbredir_conn_write(c);
		if (!noted(seen, ms))
			break;
		ms = 100;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready = -1;
	struct mem_io m = { data, size, 0 };
	struct usbredir_io io = { mem_read, mem_write, &m };
	struct usbredir_conn *c;
	enum usbredir_status st = USBREDIR_OK;

	if (ready < 0)
		ready = init();
	if (ready != 0)
		return 0;
	c = usbredir_conn_new(dev, &io, NULL, 1, "fuzz");
	if (c == NULL)
		return 0;
	/* A read stops early when the output queue is full: drain, go on. */
	do {
		(void)usbredir_conn_write(c);
		st = usbredir_conn_read(c);
		usbredir_conn_pump(c);
	} while (st == USBREDIR_OK && m.off < m.len);
	if (st == USBREDIR_OK)
		settle(c);
	usbredir_conn_free(c);
	return 0;
}
