/* Fuzz target for the USB/IP connection code: the input is what a client
 * (the usbip tool, vhci-hcd) sends, fed through usbip_conn from memory
 * into a real key's USB device model, exported as bus id 1-1.
 *
 * Input: byte 0 shapes the reads (bits 0-5: bytes per round of the
 * server's loop, 0 = all there is; bit 6: the stream ends with the peer
 * gone rather than idle),
 * bit 7 a writer that takes at most (byte 1 + 1) * 16 bytes per round,
 * so the output queue fills and reading stops and resumes; the rest is
 * the client's byte stream. The device's classes answer on workers: each
 * round waits for them, and after the input the harness keeps pumping
 * while the device notifies. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_key.h"
#include "core/log.h"
#include "transports/usbip.h"
#include "usb/usb.h"
#include "vkey/vkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define ROUNDS_MAX 200000

/* One key, one device, one table for the whole run (static state is
 * fine in a fuzz harness, not in vkey). */
static struct vkey *key;
static struct usb_dev *dev;
static struct usbip_table *table;

struct mem_io {
	const uint8_t *p;
	size_t len, off;
	size_t chunk;   /* bytes per round, 0: any */
	size_t chunk_left; /* what this round may still read */
	bool eof;       /* at the end: the peer is gone */
	size_t budget;  /* bytes the writer still takes this round */
	size_t per_round; /* SIZE_MAX: a writer that takes everything */
};

static int mem_read(void *arg, uint8_t *buf, size_t cap)
{
	struct mem_io *m = arg;
	size_t n = m->len - m->off;

	if (n == 0)
		return m->eof ? -1 : 0;
	if (n > cap)
		n = cap;
	if (m->chunk != 0 && n > m->chunk_left)
		n = m->chunk_left; /* 0: nothing more this round */
	memcpy(buf, m->p + m->off, n);
	m->off += n;
	m->chunk_left -= m->chunk != 0 ? n : 0;
	return (int)n;
}

static int mem_write(void *arg, const uint8_t *buf, size_t len)
{
	struct mem_io *m = arg;
	size_t n = len < m->budget ? len : m->budget;

	(void)buf;
	if (m->per_round != SIZE_MAX)
		m->budget -= n;
	return (int)n;
}

static void cleanup(void)
{
	usbip_table_free(table);
	usb_dev_free(dev);
}

static int init(void)
{
	/* The transport logs every refused input; keep the run quiet. */
	log_set_level(LOG_ERROR);
	key = fuzz_key_open("usbip", VKEY_UP_AUTO);
	if (key == NULL)
		return -1;
	dev = usb_dev_new(key, NULL);
	table = usbip_table_new();
	if (dev == NULL || table == NULL || usbip_table_add(table, dev, 1,
							    NULL) != 0)
		return -1;
	usb_dev_set_notify(dev, fuzz_notify, NULL);
	atexit(cleanup);
	return 0;
}

/* One round of a server's loop; the connection's status. */
static enum usbip_status round_trip(struct usbip_conn *c, struct mem_io *m)
{
	enum usbip_status st = USBIP_OK;

	m->budget = m->per_round;
	m->chunk_left = m->chunk;
	if (usbip_conn_wants_input(c))
		st = usbip_conn_read(c);
	if (st != USBIP_OK)
		return st;
	usbip_conn_pump(c);
	/* Let the device finish what this read started, as a host waits for
	 * an answer before its next command (reads of a few bytes then make
	 * one command at a time). */
	if (usb_dev_busy(dev) && usb_dev_wait_idle(dev, 2000) == 0)
		usbip_conn_pump(c);
	return usbip_conn_write(c);
}

/* Answer what the device has, for as long as its workers keep producing
 * (a first short wait, then longer while it is busy). */
static void settle(struct usbip_conn *c, struct mem_io *m)
{
	unsigned ms = 5;

	for (int i = 0; i < ROUNDS_MAX; i++) {
		unsigned seen = fuzz_notes();

		if (round_trip(c, m) != USBIP_OK)
			return;
		if (usbip_conn_queued(c) > 0)
			continue; /* a limited writer: more to drain */
		if (!fuzz_noted(seen, ms))
			return;
		ms = 100;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready = -1;
	struct mem_io m = { 0 };
	struct usbip_io io = { mem_read, mem_write, &m };
	struct usbip_conn *c;
	enum usbip_status st = USBIP_OK;

	if (ready < 0)
		ready = init();
	if (ready != 0 || size < 2)
		return 0;
	m.chunk = data[0] & 0x3F;
	m.eof = (data[0] & 0x40) != 0;
	m.per_round = (data[0] & 0x80) ? ((size_t)data[1] + 1) * 16 : SIZE_MAX;
	m.p = data + 2;
	m.len = size - 2;
	c = usbip_conn_new(table, &io, "fuzz");
	if (c == NULL)
		return 0;
	for (int i = 0; i < ROUNDS_MAX && st == USBIP_OK &&
			(m.off < m.len || usbip_conn_queued(c) > 0); i++)
		st = round_trip(c, &m);
	if (st == USBIP_OK)
		settle(c, &m);
	usbip_conn_free(c);
	if (usbip_table_busy(table, 1))
		abort(); /* a freed connection must release its device */
	return 0;
}
