/* Fuzz target for the usbredir transport: the input is the byte stream a
 * usb-guest (QEMU) sends, fed through the transport's connection code
 * (libusbredirparser in the usb-host role) into a real USB device model;
 * what the transport answers is discarded.
 *
 * The device's classes answer CTAP and APDUs on workers, so after the
 * input the harness keeps pumping while the device still notifies. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuzz_key.h"
#include "core/log.h"
#include "transports/usbredir.h"
#include "usb/usb.h"
#include "vkey/vkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One key and one device for the whole run (static state is fine in a
 * fuzz harness, not in vkey). */
static struct vkey *key;
static struct usb_dev *dev;

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

static void cleanup(void)
{
	usb_dev_free(dev);
}

static int init(void)
{
	/* The transport logs every refused input; keep the run quiet. */
	log_set_level(LOG_ERROR);
	key = fuzz_key_open("usbredir", VKEY_UP_AUTO);
	if (key == NULL)
		return -1;
	dev = usb_dev_new(key, NULL);
	if (dev == NULL)
		return -1;
	usb_dev_set_notify(dev, fuzz_notify, NULL);
	atexit(cleanup);
	return 0;
}

/* Answer what the device has, for as long as its workers keep producing
 * (a first short wait, then longer while it is busy). */
static void settle(struct usbredir_conn *c)
{
	unsigned ms = 5;

	for (;;) {
		unsigned seen = fuzz_notes();

		usbredir_conn_pump(c);
		(void)usbredir_conn_write(c);
		if (!fuzz_noted(seen, ms))
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
