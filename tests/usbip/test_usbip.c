/* USB/IP without Linux: client.c plays the usbip tool and vhci-hcd.
 *
 *   test_usbip       the connection code (usbip_conn) from memory, on real
 *                    keys' USB device models: device list and import byte
 *                    for byte, enumeration, CTAPHID over interrupt URBs,
 *                    CCID over bulk URBs, unlink, port reset, stalls,
 *                    garbage, output back-pressure
 *   test_usbip net   the server (usbip_start) over loopback TCP with two
 *                    keys: concurrent imports, a busy device refused,
 *                    misbehaving clients beside a working one, re-import
 *                    after a close, a slow reader, address forms, one
 *                    key busy with long commands beside the other */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../check.h"
#include "../check_key.h"
#include "client.h"
#include "core/log.h"
#include "transports/usbip.h"
#include "usb/usb.h"

#define DEV_SIZE 312
#define KEY2_PID 0x000B
#define KEY2_PRODUCT "usbip test key 2"
#define IN_PENDING_MAX 64 /* what usbip_conn holds per connection */

#define FAIL_NOW(what)                                                     \
	do {                                                               \
		fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, what); \
		check_failures++;                                          \
	} while (0)

static struct check_key ka, kb, kp; /* up auto, auto, prompt */
static const struct usb_ident ident2 = { 0x1209, KEY2_PID, NULL,
					  KEY2_PRODUCT };

static const uint8_t select_oath[] = { 0x00, 0xA4, 0x04, 0x00, 0x07,
				       0xA0, 0x00, 0x00, 0x05, 0x27,
				       0x21, 0x01 };

static void sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	nanosleep(&ts, NULL);
}

/* The prompt key waits up to 3 s for a touch. */
static void open_prompt_key(void)
{
	struct vkey_options opt = { .up = VKEY_UP_PROMPT,
				    .up_timeout_ms = 3000 };
	char err[256];

	check_key_begin(&kp, "usbip-p", VKEY_UP_PROMPT);
	vkey_close(kp.key);
	opt.state_path = kp.path;
	if (vkey_open(&kp.key, &opt, err, sizeof(err)) != 0) {
		fprintf(stderr, "vkey_open: %s\n", err);
		exit(1);
	}
}

struct toucher {
	pthread_t t;
	struct vkey *key;
	int delay_ms;
	int result;
};

static void *touch_later(void *arg)
{
	struct toucher *t = arg;

	sleep_ms(t->delay_ms);
	t->result = vkey_touch(t->key, 3000);
	return NULL;
}

static void touch_start(struct toucher *t, struct vkey *key, int delay_ms)
{
	t->key = key;
	t->delay_ms = delay_ms;
	t->result = -2;
	pthread_create(&t->t, NULL, touch_later, t);
}

/* --- a connection in memory ---------------------------------------------
 * The client's bytes wait in `in` until the connection reads them; what
 * it writes collects in `out` until the client takes it. Receiving runs
 * the connection the way the server's poll loop does. */

struct mem {
	struct usbip_conn *conn;
	uint8_t *in, *out;
	size_t in_len, in_off, in_cap;
	size_t out_len, out_off, out_cap;
	size_t read_max;  /* bytes per read call, 0: any */
	size_t write_max; /* bytes per write call, SIZE_MAX: any */
	bool client_gone; /* reads see the end of the stream */
	enum usbip_status st;
	unsigned reads; /* read calls that moved bytes */
};

static void grow(uint8_t **p, size_t *cap, size_t need)
{
	if (need <= *cap)
		return;
	*cap = need * 2 + 4096;
	*p = realloc(*p, *cap);
	if (*p == NULL)
		abort();
}

static int conn_read(void *arg, uint8_t *buf, size_t cap)
{
	struct mem *m = arg;
	size_t n = m->in_len - m->in_off;

	if (n == 0)
		return m->client_gone ? -1 : 0;
	if (n > cap)
		n = cap;
	if (m->read_max != 0 && n > m->read_max)
		n = m->read_max;
	memcpy(buf, m->in + m->in_off, n);
	m->in_off += n;
	m->reads++;
	return (int)n;
}

static int conn_write(void *arg, const uint8_t *buf, size_t len)
{
	struct mem *m = arg;
	size_t n = len < m->write_max ? len : m->write_max;

	grow(&m->out, &m->out_cap, m->out_len + n);
	memcpy(m->out + m->out_len, buf, n);
	m->out_len += n;
	return (int)n;
}

/* One round of the server's loop; nothing more once the connection is
 * over (the server closes it at once, unsent output or not). */
static void mem_step(struct mem *m)
{
	enum usbip_status w;

	if (m->st != USBIP_OK)
		return;
	if (usbip_conn_wants_input(m->conn))
		m->st = usbip_conn_read(m->conn);
	if (m->st != USBIP_OK)
		return;
	usbip_conn_pump(m->conn);
	w = usbip_conn_write(m->conn);
	if (m->st == USBIP_OK)
		m->st = w;
}

static int mem_send(void *arg, const uint8_t *p, size_t n, int ms)
{
	struct mem *m = arg;

	(void)ms;
	grow(&m->in, &m->in_cap, m->in_len + n);
	memcpy(m->in + m->in_len, p, n);
	m->in_len += n;
	return 0;
}

static int mem_recv(void *arg, uint8_t *p, size_t cap, int ms)
{
	struct mem *m = arg;
	int64_t deadline = uip_now_ms() + ms;

	for (;;) {
		size_t n = m->out_len - m->out_off;

		if (n > 0) {
			if (n > cap)
				n = cap;
			memcpy(p, m->out + m->out_off, n);
			m->out_off += n;
			return (int)n;
		}
		if (m->st != USBIP_OK)
			return -1;
		mem_step(m);
		if (m->out_len > m->out_off || m->st != USBIP_OK)
			continue;
		if (uip_now_ms() >= deadline)
			return 0;
		usleep(500);
	}
}

static void mem_close(void *arg)
{
	struct mem *m = arg;

	usbip_conn_free(m->conn);
	free(m->in);
	free(m->out);
	free(m);
}

static struct uip_client *mem_client(struct usbip_table *t, const char *name)
{
	struct mem *m = calloc(1, sizeof(*m));
	struct usbip_io io = { conn_read, conn_write, m };
	struct uip_link link = { mem_send, mem_recv, mem_close, m };

	if (m == NULL)
		abort();
	m->write_max = SIZE_MAX;
	m->conn = usbip_conn_new(t, &io, name);
	if (m->conn == NULL)
		abort();
	return uip_new(&link, NULL);
}

static struct mem *mem_of(struct uip_client *c)
{
	return c->link.arg;
}

/* Run the connection until it ends or ms pass. */
static enum usbip_status mem_run(struct uip_client *c, int ms)
{
	struct mem *m = mem_of(c);
	int64_t deadline = uip_now_ms() + ms;

	while (m->st == USBIP_OK && uip_now_ms() < deadline) {
		mem_step(m);
		usleep(500);
	}
	return m->st;
}

/* A client that imported busid and configured the device. */
static struct uip_client *imported(struct usbip_table *t, const char *busid)
{
	struct uip_client *c = mem_client(t, busid);
	uint8_t dev[DEV_SIZE];

	CHECK_EQ(uip_import(c, busid, dev), 0);
	CHECK_EQ(uip_configure(c), 0);
	return c;
}

/* Every case ends here: no stray answers, then the device is free. */
static void done(struct uip_client *c, struct usbip_table *t, uint8_t devnum)
{
	CHECK_EQ(c->bad_replies, 0);
	CHECK_EQ(c->n_stash, 0);
	uip_free(c);
	if (t != NULL && devnum != 0)
		CHECK(!usbip_table_busy(t, devnum));
}

/* --- expected bytes ------------------------------------------------------ */

static size_t put_string16(uint8_t *b, const char *s)
{
	size_t n = 2;

	for (; *s != '\0'; s++) {
		b[n++] = (uint8_t)*s;
		b[n++] = 0;
	}
	b[0] = (uint8_t)n;
	b[1] = 3;
	return n;
}

/* One device as OP_REP_DEVLIST and OP_REP_IMPORT carry it, path taken
 * from the reply (the format leaves it to the server: checked apart). */
static size_t expect_device(uint8_t *b, struct usb_dev *d, uint8_t devnum,
			    const uint8_t *path, bool ifaces)
{
	const struct usb_layout *l = usb_dev_layout(d);
	size_t n = 0;

	memcpy(b, path, 256);
	n += 256;
	memset(b + n, 0, 32);
	snprintf((char *)b + n, 32, "1-%u", devnum);
	n += 32;
	uip_put32(b + n, 1);
	uip_put32(b + n + 4, devnum);
	uip_put32(b + n + 8, 2); /* full speed */
	n += 12;
	uip_put16(b + n, l->vid);
	uip_put16(b + n + 2, l->pid);
	uip_put16(b + n + 4, l->bcd_device);
	n += 6;
	b[n++] = l->dev_class;
	b[n++] = l->dev_subclass;
	b[n++] = l->dev_protocol;
	b[n++] = l->configuration;
	b[n++] = 1; /* configurations */
	b[n++] = (uint8_t)l->n_ifaces;
	if (ifaces)
		for (size_t i = 0; i < l->n_ifaces; i++) {
			b[n++] = l->ifaces[i].cls;
			b[n++] = l->ifaces[i].subclass;
			b[n++] = l->ifaces[i].protocol;
			b[n++] = 0;
		}
	return n;
}

/* A path field: text from the start, NUL-padded to 256 bytes. */
static void check_path(const uint8_t *p)
{
	const uint8_t *nul = memchr(p, 0, 256);

	CHECK(nul != NULL && nul > p);
	for (const uint8_t *q = nul; nul != NULL && q < p + 256; q++)
		CHECK_EQ(*q, 0);
}

static void check_ret(const struct uip_ret *r, uint32_t seq, int status,
		      int actual, uint32_t npackets)
{
	static const uint8_t zeros[8];

	CHECK_EQ(r->command, USBIP_RET_SUBMIT);
	CHECK_EQ(r->seqnum, seq);
	CHECK_EQ(r->devid, 0);
	CHECK_EQ(r->direction, 0);
	CHECK_EQ(r->ep, 0);
	CHECK_EQ(r->status, status);
	CHECK_EQ(r->actual_length, actual);
	CHECK_EQ(r->start_frame, 0);
	CHECK_EQ((uint32_t)r->number_of_packets, npackets);
	CHECK_EQ(r->error_count, 0);
	CHECK_MEM(r->padding, zeros, 8);
}

/* --- operations ---------------------------------------------------------- */

static struct usb_dev *da, *db, *dp; /* one per key */

static struct usbip_table *table2(uint8_t na, uint8_t nb)
{
	struct usbip_table *t = usbip_table_new();

	CHECK(t != NULL);
	CHECK_EQ(usbip_table_add(t, da, na, NULL), 0);
	if (nb != 0)
		CHECK_EQ(usbip_table_add(t, db, nb, NULL), 0);
	return t;
}

static void table_refuses_bad_devnums(void)
{
	struct usbip_table *t = table2(3, 0);

	CHECK_EQ(usbip_table_add(t, db, 3, NULL), -1);   /* taken */
	CHECK_EQ(usbip_table_add(t, db, 0, NULL), -1);
	CHECK_EQ(usbip_table_add(t, db, 128, NULL), -1);
	CHECK_EQ(usbip_table_add(t, NULL, 4, NULL), -1);
	CHECK_EQ(usbip_table_count(t), 1);
	CHECK(!usbip_table_busy(t, 3));
	CHECK(!usbip_table_busy(t, 9));
	usbip_table_free(t);
}

/* The whole OP_REP_DEVLIST of devices a (devnum 3) and b (7). */
static void check_devlist(const uint8_t *got, long n)
{
	static uint8_t want[2048];
	size_t w = 0;

	CHECK_EQ(n, 8 + 4 + 2 * (DEV_SIZE + 2 * 4));
	if (n != 8 + 4 + 2 * (DEV_SIZE + 2 * 4))
		return;
	uip_op_header(want, USBIP_VERSION, USBIP_OP_REP_DEVLIST, 0);
	uip_put32(want + 8, 2);
	w = 12;
	check_path(got + w);
	w += expect_device(want + w, da, 3, got + w, true);
	check_path(got + w);
	w += expect_device(want + w, db, 7, got + w, true);
	CHECK_EQ(w, (size_t)n);
	CHECK_MEM(got, want, w);
	/* what the layout says, spelled out: HID and CCID, no subclasses */
	CHECK_MEM(got + 12 + 256, "1-3\0", 4);
	CHECK_EQ(uip_get16(got + 12 + 300), 0x1209);
	CHECK_EQ(uip_get16(got + 12 + 302), 0x0001);
	CHECK_EQ(got[12 + 309], 1); /* bConfigurationValue */
	CHECK_MEM(got + 12 + DEV_SIZE, "\x03\x00\x00\x00\x0b\x00\x00\x00", 8);
	CHECK_EQ(uip_get16(got + 12 + 320 + 302), KEY2_PID);
}

static void devlist_is_byte_exact_then_closed(void)
{
	struct usbip_table *t = table2(3, 7);
	struct uip_client *c = mem_client(t, "devlist");
	struct mem *m = mem_of(c);
	static uint8_t got[4096];
	long n = uip_devlist(c, got, sizeof(got), UIP_MS);

	check_devlist(got, n);
	CHECK_EQ(m->st, USBIP_CLOSED); /* after the flush */
	CHECK(!usbip_conn_wants_input(m->conn));
	CHECK_EQ(usbip_conn_queued(m->conn), 0);
	CHECK_EQ(usbip_conn_devnum(m->conn), 0);
	done(c, t, 3);
	usbip_table_free(t);
}

static void devlist_one_byte_at_a_time(void)
{
	struct usbip_table *t = table2(3, 7);
	struct uip_client *c = mem_client(t, "devlist-1");
	struct mem *m = mem_of(c);
	static uint8_t got[4096];
	long n;

	m->read_max = 1;
	m->write_max = 1;
	n = uip_devlist(c, got, sizeof(got), UIP_MS);
	check_devlist(got, n);
	CHECK_EQ(m->reads, 8);
	CHECK_EQ(m->st, USBIP_CLOSED);
	done(c, t, 3);
	usbip_table_free(t);
}

/* Bytes after the request are not read: the exchange is over. */
static void devlist_ignores_what_follows(void)
{
	struct usbip_table *t = table2(3, 7);
	struct uip_client *c = mem_client(t, "devlist+");
	uint8_t req[8 + 8 + 32] = { 0 };
	static uint8_t got[4096];

	uip_op_header(req, USBIP_VERSION, USBIP_OP_REQ_DEVLIST, 0);
	uip_op_header(req + 8, USBIP_VERSION, USBIP_OP_REQ_IMPORT, 0);
	memcpy(req + 16, "1-3", 3);
	uip_send_raw(c, req, sizeof(req));
	check_devlist(got, uip_read_all(c, got, sizeof(got), UIP_MS));
	CHECK(!usbip_table_busy(t, 3));
	CHECK_EQ(usbip_conn_devnum(mem_of(c)->conn), 0);
	done(c, t, 3);
	usbip_table_free(t);
}

/* Imported devices are not offered. */
static void devlist_leaves_out_imported(void)
{
	struct usbip_table *t = table2(3, 7);
	struct uip_client *a = imported(t, "1-3");
	struct uip_client *c = mem_client(t, "devlist-busy");
	static uint8_t got[4096], want[512];
	long n = uip_devlist(c, got, sizeof(got), UIP_MS);

	CHECK_EQ(n, 8 + 4 + DEV_SIZE + 8);
	if (n == 8 + 4 + DEV_SIZE + 8) {
		CHECK_EQ(uip_get32(got + 8), 1);
		CHECK_EQ(expect_device(want, db, 7, got + 12, true),
			 DEV_SIZE + 8);
		CHECK_MEM(got + 12, want, DEV_SIZE + 8);
	}
	done(c, t, 0);
	done(a, t, 3);
	usbip_table_free(t);
}

static void import_answers_device(void)
{
	struct usbip_table *t = table2(3, 7);
	struct uip_client *c = mem_client(t, "import");
	struct mem *m = mem_of(c);
	uint8_t dev[DEV_SIZE], want[DEV_SIZE + 8];

	CHECK_EQ(uip_import(c, "1-7", dev), 0);
	check_path(dev);
	CHECK_EQ(expect_device(want, db, 7, dev, false), DEV_SIZE);
	CHECK_MEM(dev, want, DEV_SIZE);
	CHECK_EQ(c->devid, 1u << 16 | 7);
	CHECK_EQ(usbip_conn_devnum(m->conn), 7);
	CHECK(usbip_table_busy(t, 7));
	CHECK(!usbip_table_busy(t, 3));
	CHECK(usbip_conn_wants_input(m->conn));
	CHECK_EQ(m->st, USBIP_OK);
	CHECK(uip_quiet(c, 20)); /* nothing beyond the reply */
	done(c, t, 7);
	usbip_table_free(t);
}

/* Status 4 (no such device), the header alone, then the connection ends. */
static void check_refused(struct usbip_table *t, const uint8_t *req,
			  size_t n)
{
	struct uip_client *c = mem_client(t, "refused");
	uint8_t h[8];

	uip_send_raw(c, req, n);
	CHECK_EQ(uip_recv_exact(c, h, 8, UIP_MS), 0);
	CHECK_EQ(uip_get16(h), USBIP_VERSION);
	CHECK_EQ(uip_get16(h + 2), USBIP_OP_REP_IMPORT);
	CHECK_EQ(uip_get32(h + 4), USBIP_ST_NODEV);
	CHECK(uip_wait_closed(c, UIP_MS));
	CHECK_EQ(mem_of(c)->st, USBIP_CLOSED);
	done(c, t, 3);
}

static void import_of_unknown_busid_refused(void)
{
	struct usbip_table *t = table2(3, 0);
	uint8_t req[40] = { 0 };

	uip_op_header(req, USBIP_VERSION, USBIP_OP_REQ_IMPORT, 0);
	memcpy(req + 8, "1-9", 3);
	check_refused(t, req, sizeof(req));
	memcpy(req + 8, "1-33", 4); /* a prefix is not a match */
	check_refused(t, req, sizeof(req));
	memcpy(req + 8, "2-3", 4);
	check_refused(t, req, sizeof(req));
	memset(req + 8, 0, 32);
	check_refused(t, req, sizeof(req));
	memset(req + 8, 'A', 32); /* no terminating NUL */
	check_refused(t, req, sizeof(req));
	memcpy(req + 8, "1-3\0", 4); /* 1-3, junk after the NUL */
	{
		struct uip_client *c = mem_client(t, "junk-after-nul");
		uint8_t h[8 + DEV_SIZE];

		uip_send_raw(c, req, sizeof(req));
		CHECK_EQ(uip_recv_exact(c, h, sizeof(h), UIP_MS), 0);
		CHECK_EQ(uip_get32(h + 4), 0);
		done(c, t, 3);
	}
	usbip_table_free(t);
}

static void version_mismatch_refused(void)
{
	struct usbip_table *t = table2(3, 0);
	struct uip_client *c = mem_client(t, "version");
	uint8_t dev[DEV_SIZE];

	CHECK(uip_import_v(c, 0x0106, "1-3", dev, UIP_MS) != 0);
	CHECK(c->closed);
	CHECK(mem_of(c)->st == USBIP_ERROR || mem_of(c)->st == USBIP_CLOSED);
	CHECK(!usbip_table_busy(t, 3));
	done(c, t, 3);
	usbip_table_free(t);
}

/* --- enumeration --------------------------------------------------------- */

/* GET_DESCRIPTOR as Linux's hub driver and usbhid send it, answers
 * checked against the device model itself. */
static void enumerate(uint32_t npackets)
{
	struct usbip_table *t = table2(1, 0);
	struct uip_client *c = mem_client(t, "enumerate");
	struct uip_ret r;
	uint8_t dev[DEV_SIZE], d[512], want[512];
	struct usb_setup s = { 0x80, 6, 0x0200, 0, 255 };
	int actual = -1, cfg_len, n;

	c->number_of_packets = npackets;
	CHECK_EQ(uip_import(c, "1-1", dev), 0);
	/* device: 8 bytes (bMaxPacketSize0), then all 18 */
	CHECK_EQ(uip_control(c, 0x80, 6, 0x0100, 0, d, 8, &actual, &r), 0);
	check_ret(&r, c->next_seq - 1, 0, 8, npackets);
	CHECK_EQ(d[0], 18);
	CHECK_EQ(d[1], 1);
	CHECK_EQ(d[7], 64);
	CHECK_EQ(uip_control(c, 0x80, 6, 0x0100, 0, d, 18, &actual, &r), 0);
	check_ret(&r, c->next_seq - 1, 0, 18, npackets);
	CHECK_EQ(d[8] | d[9] << 8, 0x1209);
	CHECK_EQ(d[10] | d[11] << 8, 0x0001);
	CHECK_EQ(d[17], 1);
	/* configuration: 9 bytes, then wTotalLength */
	CHECK_EQ(uip_control(c, 0x80, 6, 0x0200, 0, d, 9, &actual, &r), 0);
	check_ret(&r, c->next_seq - 1, 0, 9, npackets);
	cfg_len = d[2] | d[3] << 8;
	CHECK(cfg_len > 9 && cfg_len < 256);
	CHECK_EQ(d[4], 2); /* interfaces */
	CHECK_EQ(uip_control(c, 0x80, 6, 0x0200, 0, d, (uint16_t)cfg_len,
			     &actual, &r), 0);
	check_ret(&r, c->next_seq - 1, 0, cfg_len, npackets);
	n = usb_dev_control(da, &s, want, sizeof(want));
	CHECK_EQ(n, cfg_len);
	CHECK_MEM(d, want, (size_t)cfg_len);
	/* BOS (bcdUSB 2.10): 5 bytes, then all */
	CHECK_EQ(uip_control(c, 0x80, 6, 0x0F00, 0, d, 5, &actual, NULL), 0);
	CHECK_EQ(actual, 5);
	CHECK_EQ(uip_control(c, 0x80, 6, 0x0F00, 0, d, d[2], &actual, NULL),
		 0);
	CHECK_EQ(actual, 12);
	/* strings: languages, then product, manufacturer, serial */
	CHECK_EQ(uip_control(c, 0x80, 6, 0x0300, 0, d, 255, &actual, &r), 0);
	check_ret(&r, c->next_seq - 1, 0, 4, npackets);
	CHECK_MEM(d, "\x04\x03\x09\x04", 4);
	CHECK_EQ(uip_control(c, 0x80, 6, 0x0302, 0x0409, d, 255, &actual,
			     NULL), 0);
	n = (int)put_string16(want, USB_PRODUCT_DEFAULT);
	CHECK_EQ(actual, n);
	CHECK_MEM(d, want, (size_t)n);
	CHECK_EQ(uip_control(c, 0x80, 6, 0x0301, 0x0409, d, 255, &actual,
			     NULL), 0);
	n = (int)put_string16(want, USB_MANUFACTURER_DEFAULT);
	CHECK_EQ(actual, n);
	CHECK_MEM(d, want, (size_t)n);
	CHECK_EQ(uip_control(c, 0x80, 6, 0x0303, 0x0409, d, 255, &actual,
			     NULL), 0);
	snprintf((char *)want + 256, 32, "%u", (unsigned)vkey_serial(ka.key));
	n = (int)put_string16(want, (char *)want + 256);
	CHECK_EQ(actual, n);
	CHECK_MEM(d, want, (size_t)n);
	/* SET_CONFIGURATION: an OUT control transfer without data */
	CHECK_EQ(uip_control(c, 0x00, 9, 1, 0, NULL, 0, &actual, &r), 0);
	check_ret(&r, c->next_seq - 1, 0, 0, npackets);
	CHECK_EQ(uip_control(c, 0x80, 8, 0, 0, d, 1, &actual, NULL), 0);
	CHECK_EQ(actual, 1);
	CHECK_EQ(d[0], 1);
	/* usbhid: SET_IDLE, then the report descriptor */
	CHECK_EQ(uip_control(c, 0x21, 0x0A, 0, 0, NULL, 0, &actual, &r), 0);
	check_ret(&r, c->next_seq - 1, 0, 0, npackets);
	CHECK_EQ(uip_control(c, 0x81, 6, 0x2200, 0, d, 34, &actual, &r), 0);
	check_ret(&r, c->next_seq - 1, 0, 34, npackets);
	CHECK_MEM(d, "\x06\xd0\xf1\x09\x01", 5);
	CHECK_EQ(d[33], 0xC0);
	/* CCID class requests (libccid): clock frequencies, data rates */
	CHECK_EQ(uip_control(c, 0xA1, 0x02, 0, 1, d, 64, &actual, &r), 0);
	check_ret(&r, c->next_seq - 1, 0, 4, npackets);
	CHECK_EQ(d[0] | d[1] << 8, 4000);
	CHECK_EQ(uip_control(c, 0xA1, 0x03, 0, 1, d, 64, &actual, NULL), 0);
	CHECK_EQ(actual, 8);
	done(c, t, 1);
	usbip_table_free(t);
}

static void enumerates_like_linux(void)
{
	enumerate(USBIP_NO_ISO); /* Linux 5.x and later */
	enumerate(0);            /* older vhci-hcd */
}

/* actual_length never exceeds the URB's buffer, whatever wLength says. */
static void control_answer_cut_to_urb(void)
{
	struct usbip_table *t = table2(1, 0);
	struct uip_client *c = imported(t, "1-1");
	static const uint8_t setup[8] = { 0x80, 6, 0, 1, 0, 0, 18, 0 };
	struct uip_ret r;
	uint32_t seq = uip_submit(c, USBIP_DIR_IN, 0, 4, setup, NULL);

	CHECK_EQ(uip_wait(c, seq, &r, UIP_MS), 0);
	check_ret(&r, seq, 0, 4, USBIP_NO_ISO);
	if (r.data != NULL)
		CHECK_MEM(r.data, "\x12\x01\x10\x02", 4);
	uip_ret_clear(&r);
	done(c, t, 1);
	usbip_table_free(t);
}

static void refused_request_stalls(void)
{
	struct usbip_table *t = table2(1, 0);
	struct uip_client *c = imported(t, "1-1");
	struct uip_ret r;
	uint8_t d[64];
	int actual = -1;

	/* device qualifier: a full-speed-only device has none */
	CHECK_EQ(uip_control(c, 0x80, 6, 0x0600, 0, d, 10, &actual, &r),
		 -USBIP_EPIPE);
	check_ret(&r, c->next_seq - 1, -USBIP_EPIPE, 0, USBIP_NO_ISO);
	/* configuration 7 does not exist */
	CHECK_EQ(uip_control(c, 0x00, 9, 7, 0, NULL, 0, NULL, NULL),
		 -USBIP_EPIPE);
	/* an IN URB for an endpoint the device lacks */
	{
		uint32_t seq = uip_submit(c, USBIP_DIR_IN, 5, 64, NULL, NULL);

		CHECK_EQ(uip_wait(c, seq, &r, UIP_MS), 0);
		check_ret(&r, seq, -USBIP_EPIPE, 0, USBIP_NO_ISO);
		uip_ret_clear(&r);
	}
	/* a setup packet saying IN on an OUT URB */
	{
		static const uint8_t setup[8] = { 0x80, 6, 0, 1, 0, 0, 18, 0 };
		uint8_t zeros[18] = { 0 };
		uint32_t seq;

		seq = uip_submit(c, USBIP_DIR_OUT, 0, 18, setup, zeros);

		CHECK_EQ(uip_wait(c, seq, &r, UIP_MS), 0);
		CHECK(r.status < 0);
		CHECK_EQ(r.actual_length, 0);
		uip_ret_clear(&r);
	}
	/* the connection goes on */
	CHECK_EQ(uip_control(c, 0x80, 6, 0x0100, 0, d, 18, &actual, NULL), 0);
	CHECK_EQ(actual, 18);
	done(c, t, 1);
	usbip_table_free(t);
}

/* --- CTAPHID ------------------------------------------------------------- */

static const uint8_t nonce[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

static void init_report(uint8_t rpt[64])
{
	memset(rpt, 0, 64);
	uip_put32(rpt, 0xFFFFFFFFu);
	rpt[4] = UIP_HID_INIT;
	rpt[6] = 8;
	memcpy(rpt + 7, nonce, 8);
}

/* usbhid's interrupt IN URB waits for data; the INIT answer completes it. */
static void interrupt_in_held_until_data(void)
{
	struct usbip_table *t = table2(1, 0);
	struct uip_client *c = imported(t, "1-1");
	struct mem *m = mem_of(c);
	struct uip_ret r;
	uint8_t rpt[64];
	uint32_t in = uip_submit(c, USBIP_DIR_IN, 1, 64, NULL, NULL);

	CHECK(uip_quiet(c, 150));
	CHECK_EQ(usbip_conn_pending(m->conn), 1);
	init_report(rpt);
	CHECK_EQ(uip_hid_out(c, rpt), 0);
	CHECK_EQ(uip_wait(c, in, &r, UIP_MS), 0);
	check_ret(&r, in, 0, 64, USBIP_NO_ISO);
	if (r.data != NULL) {
		CHECK_EQ(uip_get32(r.data), 0xFFFFFFFFu);
		CHECK_EQ(r.data[4], UIP_HID_INIT);
		CHECK_EQ(r.data[6], 17);
		CHECK_MEM(r.data + 7, nonce, 8);
	}
	uip_ret_clear(&r);
	CHECK_EQ(usbip_conn_pending(m->conn), 0);
	done(c, t, 1);
	usbip_table_free(t);
}

/* IN URBs wait per endpoint: CCID data passes a HID URB still waiting. */
static void pending_in_per_endpoint(void)
{
	struct usbip_table *t = table2(1, 0);
	struct uip_client *c = imported(t, "1-1");
	struct uip_ret r;
	uint8_t msg[512], rpt[64];
	uint32_t hid = uip_submit(c, USBIP_DIR_IN, 1, 64, NULL, NULL);
	size_t n;

	CHECK(uip_ccid_send(c, UIP_PC_TO_RDR_ICC_POWER_ON, NULL, 0) >= 0);
	n = uip_ccid_recv(c, msg, sizeof(msg), 512, UIP_MS);
	CHECK(n > 10);
	CHECK_EQ(msg[0], UIP_RDR_TO_PC_DATA_BLOCK);
	CHECK_EQ(usbip_conn_pending(mem_of(c)->conn), 1);
	init_report(rpt);
	CHECK_EQ(uip_hid_out(c, rpt), 0);
	CHECK_EQ(uip_wait(c, hid, &r, UIP_MS), 0);
	CHECK_EQ(r.actual_length, 64);
	uip_ret_clear(&r);
	done(c, t, 1);
	usbip_table_free(t);
}

static bool has_bytes(const uint8_t *p, size_t n, const char *s)
{
	size_t l = strlen(s);

	for (size_t i = 0; i + l <= n; i++)
		if (memcmp(p + i, s, l) == 0)
			return true;
	return false;
}

static void ctaphid_get_info_across_urbs(void)
{
	struct usbip_table *t = table2(1, 0);
	struct uip_client *c = imported(t, "1-1");
	static uint8_t resp[2048];
	uint32_t cid = uip_hid_init(c);
	int n;

	CHECK(cid != 0 && cid != 0xFFFFFFFFu);
	n = uip_hid_get_info(c, cid, resp, sizeof(resp));
	CHECK(n > 57); /* more than one report: several IN URBs */
	CHECK_EQ(resp[0], 0x00);
	CHECK(n > 0 && has_bytes(resp, (size_t)n, "FIDO_2_0"));
	/* and once more: nothing was left behind */
	n = uip_hid_get_info(c, cid, resp, sizeof(resp));
	CHECK(n > 57);
	done(c, t, 1);
	usbip_table_free(t);
}

/* makeCredential ES256 for a.example: clientDataHash, rp, user, params. */
static size_t make_credential(uint8_t *req)
{
	static const uint8_t head[] = { 0x01, 0xA4, 0x01, 0x58, 0x20 };
	static const uint8_t tail[] = {
		0x02, 0xA1, 0x62, 'i', 'd', 0x69, 'a', '.', 'e', 'x', 'a',
		'm', 'p', 'l', 'e',
		0x03, 0xA1, 0x62, 'i', 'd', 0x41, 0x01,
		0x04, 0x81, 0xA2, 0x63, 'a', 'l', 'g', 0x26, 0x64, 't', 'y',
		'p', 'e', 0x6A, 'p', 'u', 'b', 'l', 'i', 'c', '-', 'k', 'e',
		'y',
	};

	memcpy(req, head, sizeof(head));
	memset(req + sizeof(head), 0x11, 32);
	memcpy(req + sizeof(head) + 32, tail, sizeof(tail));
	return sizeof(head) + 32 + sizeof(tail);
}

/* While the key waits for a touch, KEEPALIVE reports flow through the
 * interrupt IN URBs usbhid keeps submitting; the credential follows. */
static void keepalives_through_held_in_urbs(void)
{
	struct usbip_table *t = usbip_table_new();
	struct uip_client *c;
	struct toucher touch;
	static uint8_t resp[2048];
	uint8_t req[128], cmd = 0;
	size_t len = make_credential(req);
	int keepalives = 0, n;
	uint32_t cid;

	CHECK_EQ(usbip_table_add(t, dp, 2, NULL), 0);
	c = imported(t, "1-2");
	cid = uip_hid_init(c);
	CHECK(cid != 0);
	CHECK_EQ(uip_hid_send(c, cid, UIP_HID_CBOR, req, len), 0);
	touch_start(&touch, kp.key, 400);
	n = uip_hid_recv(c, cid, &cmd, resp, sizeof(resp), &keepalives,
			 UIP_MS);
	pthread_join(touch.t, NULL);
	CHECK_EQ(touch.result, 0);
	CHECK(keepalives >= 2);
	CHECK_EQ(cmd, UIP_HID_CBOR);
	CHECK(n > 100);
	CHECK_EQ(resp[0], 0x00);
	done(c, t, 2);
	usbip_table_free(t);
}

/* Sends all but the last report of a CTAPHID message (each completes at
 * once: the device is still gathering) and submits the last one; returns
 * its seqnum. */
static uint32_t hid_send_but_last(struct uip_client *c, uint32_t cid,
				  const uint8_t *req, size_t len)
{
	uint8_t rpt[64] = { 0 };
	size_t off = len < 57 ? len : 57;

	uip_hid_start(c);
	uip_put32(rpt, cid);
	rpt[4] = UIP_HID_CBOR;
	rpt[5] = (uint8_t)(len >> 8);
	rpt[6] = (uint8_t)len;
	memcpy(rpt + 7, req, off);
	for (uint8_t seq = 0; off < len; seq++) {
		size_t n = len - off < 59 ? len - off : 59;

		CHECK_EQ(uip_hid_out(c, rpt), 0);
		memset(rpt + 4, 0, 60);
		rpt[4] = seq;
		memcpy(rpt + 5, req + off, n);
		off += n;
	}
	return uip_submit(c, USBIP_DIR_OUT, 1, 64, NULL, rpt);
}

/* The interrupt OUT URB that completes a command is held until the
 * command's first answer (or 50 ms): here the command waits for a touch,
 * so it completes after the bound, long before the touch; the unlink of
 * a held OUT is answered -ECONNRESET and it never completes. */
static void held_out_completion(void)
{
	struct usbip_table *t = usbip_table_new();
	struct uip_client *c;
	struct toucher touch;
	static uint8_t resp[2048];
	uint8_t req[128], cmd = 0;
	size_t len = make_credential(req);
	struct uip_ret r;
	uint32_t cid, last, un;
	int keepalives = 0;
	int64_t t0, dt;

	CHECK(len > 57);
	CHECK_EQ(usbip_table_add(t, dp, 2, NULL), 0);
	c = imported(t, "1-2");
	cid = uip_hid_init(c);
	CHECK(cid != 0);
	t0 = uip_now_ms();
	last = hid_send_but_last(c, cid, req, len);
	CHECK_EQ(uip_wait(c, last, &r, UIP_MS), 0);
	dt = uip_now_ms() - t0;
	CHECK_EQ(r.status, 0);
	CHECK_EQ(r.actual_length, 64);
	uip_ret_clear(&r);
	CHECK(dt >= 40);  /* held while the command runs */
	CHECK(dt < 1000); /* but not for the touch */
	touch_start(&touch, kp.key, 0);
	CHECK(uip_hid_recv(c, cid, &cmd, resp, sizeof(resp), &keepalives,
			   UIP_MS) > 100);
	pthread_join(touch.t, NULL);
	CHECK_EQ(cmd, UIP_HID_CBOR);

	/* the same, the held OUT unlinked at once */
	last = hid_send_but_last(c, cid, req, len);
	un = uip_unlink(c, last);
	CHECK_EQ(uip_wait(c, un, &r, UIP_MS), 0);
	CHECK_EQ(r.command, USBIP_RET_UNLINK);
	CHECK_EQ(r.status, -104);
	uip_ret_clear(&r);
	touch_start(&touch, kp.key, 100);
	CHECK(uip_hid_recv(c, cid, &cmd, resp, sizeof(resp), &keepalives,
			   UIP_MS) > 100);
	pthread_join(touch.t, NULL);
	CHECK(uip_quiet(c, 200)); /* no RET_SUBMIT for the unlinked OUT */
	done(c, t, 2);
	usbip_table_free(t);
}

/* --- CCID ---------------------------------------------------------------- */

static void ccid_power_on_and_select(void)
{
	struct usbip_table *t = table2(1, 0);
	struct uip_client *c = imported(t, "1-1");
	static uint8_t msg[4096];
	uint8_t atr[64];
	size_t atr_len = vkey_atr(ka.key, atr, sizeof(atr)), n;
	int s;

	s = uip_ccid_send(c, UIP_PC_TO_RDR_ICC_POWER_ON, NULL, 0);
	CHECK(s >= 0);
	n = uip_ccid_recv(c, msg, sizeof(msg), 65546, UIP_MS);
	CHECK_EQ(n, 10 + atr_len);
	CHECK_EQ(msg[0], UIP_RDR_TO_PC_DATA_BLOCK);
	CHECK_EQ(msg[6], s);
	CHECK_EQ(msg[7], 0);
	CHECK_MEM(msg + 10, atr, atr_len);
	CHECK_EQ(uip_ccid_apdu(c, select_oath, sizeof(select_oath), msg,
			       sizeof(msg), &n), 0x9000);
	CHECK(n > 12);
	done(c, t, 1);
	usbip_table_free(t);
}

static size_t account_name(char *name, int i)
{
	return (size_t)snprintf(name, 64,
				"%02d-an-account-name-that-is-long@example", i);
}

/* OATH PUT of a TOTP account with a long name. */
static unsigned put_account(struct uip_client *c, int i, int touch)
{
	static uint8_t msg[1024];
	uint8_t b[300];
	char name[64];
	size_t nl = account_name(name, i), n = 0, len;

	b[n++] = 0x00;
	b[n++] = 0x01;
	b[n++] = 0x00;
	b[n++] = 0x00;
	b[n++] = (uint8_t)(2 + nl + 2 + 22 + (touch ? 2 : 0));
	b[n++] = 0x71;
	b[n++] = (uint8_t)nl;
	memcpy(b + n, name, nl);
	n += nl;
	b[n++] = 0x73;
	b[n++] = 22;
	b[n++] = 0x21; /* TOTP SHA-1 */
	b[n++] = 6;
	memcpy(b + n, "12345678901234567890", 20);
	n += 20;
	if (touch) {
		b[n++] = 0x78;
		b[n++] = 0x02;
	}
	return uip_ccid_apdu(c, b, n, msg, sizeof(msg), &len);
}

/* An extended APDU of 1007 bytes in one bulk OUT URB; an answer of more
 * than 256 bytes through 64-byte bulk IN URBs and through one. */
static void ccid_extended_apdu_and_long_answer(void)
{
	static const uint8_t list_ext[] = { 0x00, 0xA1, 0x00, 0x00,
					    0x00, 0x00, 0x00 };
	struct usbip_table *t = table2(1, 0);
	struct uip_client *c = imported(t, "1-1");
	static uint8_t msg[8192], whole[8192], cmd[1007];
	size_t n, whole_len;
	int s;

	CHECK(uip_ccid_send(c, UIP_PC_TO_RDR_ICC_POWER_ON, NULL, 0) >= 0);
	CHECK(uip_ccid_recv(c, msg, sizeof(msg), 65546, UIP_MS) > 10);
	/* SELECT of a 1000-byte AID: 6A82 proves all of it arrived */
	memcpy(cmd, "\x00\xA4\x04\x00\x00\x03\xE8", 7);
	memset(cmd + 7, 0xA5, 1000);
	CHECK_EQ(uip_ccid_apdu(c, cmd, sizeof(cmd), msg, sizeof(msg), &n),
		 0x6A82);
	CHECK_EQ(uip_ccid_apdu(c, select_oath, sizeof(select_oath), msg,
			       sizeof(msg), &n), 0x9000);
	for (int i = 0; i < 8; i++)
		CHECK_EQ(put_account(c, i, 0), 0x9000);
	CHECK_EQ(uip_ccid_apdu(c, list_ext, sizeof(list_ext), whole,
			       sizeof(whole), &whole_len), 0x9000);
	CHECK(whole_len > 10 + 256 + 2);
	/* the same answer in 64-byte URBs */
	s = uip_ccid_send(c, UIP_PC_TO_RDR_XFR_BLOCK, list_ext,
			  sizeof(list_ext));
	n = uip_ccid_recv(c, msg, sizeof(msg), 64, UIP_MS);
	CHECK_EQ(n, whole_len);
	CHECK_EQ(msg[6], s);
	CHECK(n > 10 && whole_len > 10 &&
	      memcmp(msg + 10, whole + 10, n - 10) == 0);
	done(c, t, 1);
	usbip_table_free(t);
}

/* A huge IN URB is answered with the message, not a huge buffer. */
static void ccid_huge_in_urb(void)
{
	struct usbip_table *t = table2(1, 0);
	struct uip_client *c = imported(t, "1-1");
	static uint8_t msg[4096];
	size_t n;

	CHECK(uip_ccid_send(c, UIP_PC_TO_RDR_ICC_POWER_ON, NULL, 0) >= 0);
	n = uip_ccid_recv(c, msg, sizeof(msg), 0x7FFFFFFF, UIP_MS);
	CHECK(n > 10);
	CHECK_EQ(msg[0], UIP_RDR_TO_PC_DATA_BLOCK);
	done(c, t, 1);
	usbip_table_free(t);
}

/* CALCULATE of a touch account: time extensions every 500 ms while the
 * key waits, through the held bulk IN URB, then the code. */
static void ccid_time_extension_while_touch_waits(void)
{
	uint8_t calc[128];
	size_t nl = account_name((char *)calc + 7, 0), clen = 0;
	struct usbip_table *t = usbip_table_new();
	struct uip_client *c;
	struct toucher touch;
	static uint8_t msg[4096];
	size_t n;
	int te = 0, s;

	/* CALCULATE: the name, an 8-byte challenge */
	memcpy(calc, "\x00\xA2\x00\x01", 4);
	calc[4] = (uint8_t)(2 + nl + 10);
	calc[5] = 0x71;
	calc[6] = (uint8_t)nl;
	clen = 7 + nl;
	calc[clen++] = 0x74;
	calc[clen++] = 8;
	memset(calc + clen, 0, 8);
	clen += 8;
	CHECK_EQ(usbip_table_add(t, dp, 2, NULL), 0);
	c = imported(t, "1-2");
	CHECK(uip_ccid_send(c, UIP_PC_TO_RDR_ICC_POWER_ON, NULL, 0) >= 0);
	CHECK(uip_ccid_recv(c, msg, sizeof(msg), 65546, UIP_MS) > 10);
	CHECK_EQ(uip_ccid_apdu(c, select_oath, sizeof(select_oath), msg,
			       sizeof(msg), &n), 0x9000);
	CHECK_EQ(put_account(c, 0, 1), 0x9000);
	s = uip_ccid_send(c, UIP_PC_TO_RDR_XFR_BLOCK, calc, clen);
	touch_start(&touch, kp.key, 700);
	n = uip_ccid_answer(c, msg, sizeof(msg), 65546, &te, UIP_MS);
	pthread_join(touch.t, NULL);
	CHECK_EQ(touch.result, 0);
	CHECK(te >= 1);
	CHECK(n >= 12);
	CHECK_EQ(msg[6], s);
	CHECK_EQ(msg[n - 2], 0x90);
	done(c, t, 2);
	usbip_table_free(t);
}

/* --- unlink, reset, busy ------------------------------------------------- */

/* RET_UNLINK -ECONNRESET for a pending URB, never a RET_SUBMIT for it:
 * the data that comes later goes to the next URB. */
static void unlink_of_pending_in(void)
{
	struct usbip_table *t = table2(1, 0);
	struct uip_client *c = imported(t, "1-1");
	struct mem *m = mem_of(c);
	struct uip_ret r;
	uint8_t rpt[64];
	uint32_t in = uip_submit(c, USBIP_DIR_IN, 1, 64, NULL, NULL), un;

	CHECK(uip_quiet(c, 50));
	un = uip_unlink(c, in);
	CHECK_EQ(uip_wait(c, un, &r, UIP_MS), 0);
	CHECK_EQ(r.command, USBIP_RET_UNLINK);
	CHECK_EQ(r.seqnum, un);
	CHECK_EQ(r.devid, 0);
	CHECK_EQ(r.direction, 0);
	CHECK_EQ(r.ep, 0);
	CHECK_EQ(r.status, -USBIP_ECONNRESET);
	uip_ret_clear(&r);
	CHECK_EQ(usbip_conn_pending(m->conn), 0);
	init_report(rpt);
	CHECK_EQ(uip_hid_out(c, rpt), 0);
	CHECK(uip_quiet(c, 200)); /* the answer waits in the device */
	CHECK_EQ(uip_hid_in(c, rpt, UIP_MS), 0);
	CHECK_EQ(rpt[4], UIP_HID_INIT);
	CHECK_MEM(rpt + 7, nonce, 8);
	CHECK(uip_quiet(c, 50));
	done(c, t, 1);
	usbip_table_free(t);
}

/* Unlinking the first of two pending URBs: the second gets the data. */
static void unlink_first_of_two(void)
{
	struct usbip_table *t = table2(1, 0);
	struct uip_client *c = imported(t, "1-1");
	struct uip_ret r;
	uint8_t rpt[64];
	uint32_t a = uip_submit(c, USBIP_DIR_IN, 1, 64, NULL, NULL);
	uint32_t b = uip_submit(c, USBIP_DIR_IN, 1, 64, NULL, NULL);
	uint32_t un = uip_unlink(c, a);

	CHECK_EQ(uip_wait(c, un, &r, UIP_MS), 0);
	CHECK_EQ(r.status, -USBIP_ECONNRESET);
	uip_ret_clear(&r);
	init_report(rpt);
	CHECK_EQ(uip_hid_out(c, rpt), 0);
	CHECK_EQ(uip_wait(c, b, &r, UIP_MS), 0);
	check_ret(&r, b, 0, 64, USBIP_NO_ISO);
	if (r.data != NULL)
		CHECK_MEM(r.data + 7, nonce, 8);
	uip_ret_clear(&r);
	CHECK(uip_quiet(c, 50));
	done(c, t, 1);
	usbip_table_free(t);
}

static void unlink_of_answered_urb(void)
{
	struct usbip_table *t = table2(1, 0);
	struct uip_client *c = imported(t, "1-1");
	struct uip_ret r;
	uint8_t d[18];
	uint32_t un, seq;

	CHECK_EQ(uip_control(c, 0x80, 6, 0x0100, 0, d, 18, NULL, NULL), 0);
	seq = c->next_seq - 1;
	un = uip_unlink(c, seq);
	CHECK_EQ(uip_wait(c, un, &r, UIP_MS), 0);
	CHECK_EQ(r.command, USBIP_RET_UNLINK);
	CHECK_EQ(r.status, 0);
	uip_ret_clear(&r);
	un = uip_unlink(c, 987654);
	CHECK_EQ(uip_wait(c, un, &r, UIP_MS), 0);
	CHECK_EQ(r.status, 0);
	uip_ret_clear(&r);
	CHECK(uip_quiet(c, 50));
	done(c, t, 1);
	usbip_table_free(t);
}

/* The hub's port reset: the device back to its default state. */
static void port_reset(void)
{
	struct usbip_table *t = table2(1, 0);
	struct uip_client *c = imported(t, "1-1");
	struct uip_ret r;
	uint8_t d[4], rpt[64];
	int actual = -1;

	CHECK(uip_hid_init(c) != 0);
	CHECK_EQ(uip_hid_stop(c), 0); /* Linux's usbhid, before a reset */
	CHECK_EQ(uip_control(c, 0x23, 3, 4, 1, NULL, 0, &actual, &r), 0);
	check_ret(&r, c->next_seq - 1, 0, 0, USBIP_NO_ISO);
	CHECK_EQ(uip_control(c, 0x80, 8, 0, 0, d, 1, &actual, NULL), 0);
	CHECK_EQ(actual, 1);
	CHECK_EQ(d[0], 0); /* not configured */
	init_report(rpt);
	CHECK(uip_hid_out(c, rpt) != 0); /* stalls until configured */
	CHECK_EQ(uip_configure(c), 0);
	CHECK(uip_hid_init(c) != 0);
	done(c, t, 1);
	usbip_table_free(t);
}

static void busy_device_refused_until_freed(void)
{
	struct usbip_table *t = table2(1, 2);
	struct uip_client *a = imported(t, "1-1");
	struct uip_client *b = mem_client(t, "second");
	struct uip_client *c;
	uint8_t dev[DEV_SIZE];

	CHECK(uip_hid_init(a) != 0);
	CHECK_EQ(uip_import(b, "1-1", dev), USBIP_ST_DEV_BUSY);
	CHECK(uip_wait_closed(b, UIP_MS));
	done(b, t, 0);
	CHECK(usbip_table_busy(t, 1));
	CHECK(uip_hid_init(a) != 0); /* the first one is unharmed */
	/* another device on the same table is free */
	c = imported(t, "1-2");
	CHECK(uip_hid_init(c) != 0);
	done(c, t, 2);
	done(a, t, 1);
	c = imported(t, "1-1");
	CHECK(uip_hid_init(c) != 0);
	done(c, t, 1);
	usbip_table_free(t);
}

/* Freeing the connection drops pending URBs and detaches: a new client
 * finds a fresh device (no stale answer, no stale configuration). */
static void free_with_pending_urbs(void)
{
	struct usbip_table *t = table2(1, 0);
	struct uip_client *c = imported(t, "1-1");
	uint8_t rpt[64], d[1], dev[DEV_SIZE];
	int actual = -1;

	uip_submit(c, USBIP_DIR_IN, 2, 64, NULL, NULL);
	init_report(rpt);
	CHECK_EQ(uip_hid_out(c, rpt), 0);
	CHECK(uip_ccid_send(c, UIP_PC_TO_RDR_ICC_POWER_ON, NULL, 0) >= 0);
	uip_free(c); /* URBs in flight are simply gone */
	CHECK(!usbip_table_busy(t, 1));
	c = mem_client(t, "after");
	CHECK_EQ(uip_import(c, "1-1", dev), 0);
	CHECK_EQ(uip_control(c, 0x80, 8, 0, 0, d, 1, &actual, NULL), 0);
	CHECK_EQ(d[0], 0);
	CHECK_EQ(uip_configure(c), 0);
	uip_hid_start(c);
	CHECK(uip_quiet(c, 200)); /* the old INIT answer is gone */
	CHECK_EQ(usbip_conn_pending(mem_of(c)->conn), 1);
	CHECK(uip_hid_init(c) != 0);
	done(c, t, 1);
	usbip_table_free(t);
}

static void peer_gone_frees_device(void)
{
	struct usbip_table *t = table2(1, 0);
	struct uip_client *c = imported(t, "1-1");
	struct mem *m = mem_of(c);

	m->client_gone = true;
	CHECK_EQ(mem_run(c, 500), USBIP_CLOSED);
	CHECK(usbip_table_busy(t, 1)); /* until the server frees it */
	done(c, t, 1);
	usbip_table_free(t);
}

/* More IN URBs than the connection holds: the excess fails, the rest
 * stays pending. */
static void too_many_pending_in(void)
{
	struct usbip_table *t = table2(1, 0);
	struct uip_client *c = imported(t, "1-1");
	struct uip_ret r;
	uint32_t last = 0;

	for (int i = 0; i < IN_PENDING_MAX; i++)
		uip_submit(c, USBIP_DIR_IN, 2, 64, NULL, NULL);
	last = uip_submit(c, USBIP_DIR_IN, 2, 64, NULL, NULL);
	CHECK_EQ(uip_wait(c, last, &r, UIP_MS), 0);
	CHECK(r.status < 0);
	CHECK_EQ(r.actual_length, 0);
	uip_ret_clear(&r);
	CHECK_EQ(usbip_conn_pending(mem_of(c)->conn), IN_PENDING_MAX);
	CHECK(uip_quiet(c, 50));
	/* one answer, to the oldest */
	CHECK(uip_ccid_send(c, UIP_PC_TO_RDR_ICC_POWER_ON, NULL, 0) >= 0);
	CHECK_EQ(uip_next(c, &r, UIP_MS), 0);
	CHECK_EQ(r.seqnum, last - IN_PENDING_MAX);
	CHECK(r.actual_length > 10);
	uip_ret_clear(&r);
	done(c, t, 1);
	usbip_table_free(t);
}

/* --- garbage ------------------------------------------------------------- */

struct garbage {
	const char *name;
	bool import_first;
	uint8_t bytes[96];
	size_t len;
};

/* CMD_SUBMIT header fields for the garbage table (big-endian). */
#define BE32(v)                                                            \
	(uint8_t)((uint32_t)(v) >> 24), (uint8_t)((uint32_t)(v) >> 16),    \
		(uint8_t)((uint32_t)(v) >> 8), (uint8_t)(v)
#define SUBMIT(dir, ep, len, np)                                           \
	BE32(1), BE32(100), BE32(0x10001), BE32(dir), BE32(ep), BE32(0),   \
		BE32(len), BE32(0), BE32(np), BE32(0), 0, 0, 0, 0, 0, 0, 0, 0

static const struct garbage garbage[] = {
	{ "unknown command", true,
	  { BE32(9), BE32(100), BE32(0x10001), BE32(0), BE32(0) }, 48 },
	{ "negative length", true, { SUBMIT(0, 2, -1, -1) }, 48 },
	{ "negative IN length", true, { SUBMIT(1, 2, -2, -1) }, 48 },
	{ "huge OUT length", true, { SUBMIT(0, 2, 0x7FFFFFFF, -1) }, 48 },
	{ "OUT longer than any message", true, { SUBMIT(0, 2, 70000, -1) },
	  48 },
	{ "isochronous packets", true, { SUBMIT(0, 2, 16, 3) }, 48 + 16 },
	{ "negative packet count", true, { SUBMIT(1, 1, 64, -5) }, 48 },
	{ "direction 2", true, { SUBMIT(2, 1, 64, -1) }, 48 },
	{ "endpoint 16", true, { SUBMIT(1, 16, 64, -1) }, 48 },
	{ "endpoint 0x81", true, { SUBMIT(1, 0x81, 64, -1) }, 48 },
	{ "operation after import", true,
	  { 0x01, 0x11, 0x80, 0x05, 0, 0, 0, 0 }, 48 },
	{ "URB before import", false, { SUBMIT(1, 1, 64, -1) }, 48 },
	{ "unknown operation", false, { 0x01, 0x11, 0x80, 0x99, 0, 0, 0, 0 },
	  8 },
	{ "reply code as request", false,
	  { 0x01, 0x11, 0x00, 0x03, 0, 0, 0, 0 }, 8 },
	{ "version 0", false, { 0, 0, 0x80, 0x05, 0, 0, 0, 0 }, 8 },
};

static void garbage_ends_connection(void)
{
	struct usbip_table *t = table2(1, 0);

	for (size_t i = 0; i < sizeof(garbage) / sizeof(garbage[0]); i++) {
		const struct garbage *g = &garbage[i];
		struct uip_client *c = mem_client(t, g->name);
		uint8_t dev[DEV_SIZE];
		enum usbip_status st;
		int before = check_failures;

		if (g->import_first)
			CHECK_EQ(uip_import(c, "1-1", dev), 0);
		uip_send_raw(c, g->bytes, g->len);
		st = mem_run(c, 300);
		CHECK(st == USBIP_ERROR || st == USBIP_CLOSED);
		CHECK(!usbip_conn_wants_input(mem_of(c)->conn));
		/* nothing was answered */
		CHECK_EQ(mem_of(c)->out_len, mem_of(c)->out_off);
		done(c, t, 1);
		if (check_failures != before)
			fprintf(stderr, "  garbage case: %s\n", g->name);
	}
	/* and the device still works */
	{
		struct uip_client *c = imported(t, "1-1");

		CHECK(uip_hid_init(c) != 0);
		done(c, t, 1);
	}
	usbip_table_free(t);
}

/* Random bytes after an import never crash and end in a state. */
static void random_bytes_after_import(void)
{
	struct usbip_table *t = table2(1, 0);
	uint32_t x = 12345;

	for (int round = 0; round < 40; round++) {
		struct uip_client *c = mem_client(t, "random");
		uint8_t dev[DEV_SIZE], junk[600];

		CHECK_EQ(uip_import(c, "1-1", dev), 0);
		for (size_t i = 0; i < sizeof(junk); i++) {
			x = x * 1103515245u + 12345u;
			junk[i] = (uint8_t)(x >> 16);
		}
		/* a few valid-looking headers among the noise */
		if (round % 2 == 0)
			junk[0] = 0, junk[1] = 0, junk[2] = 0, junk[3] = 1;
		uip_send_raw(c, junk, sizeof(junk));
		(void)mem_run(c, 30);
		uip_free(c);
		CHECK(!usbip_table_busy(t, 1));
	}
	usbip_table_free(t);
}

/* --- back-pressure ----------------------------------------------------- */

/* A peer that takes nothing: the connection stops reading once its
 * output queue is full, and resumes in order when the peer drains. */
static void output_backpressure(void)
{
	enum { URBS = 3000 };
	static const uint8_t setup[8] = { 0x80, 6, 0, 2, 0, 0, 255, 0 };
	struct usbip_table *t = table2(1, 0);
	struct uip_client *c = mem_client(t, "backpressure");
	struct mem *m = mem_of(c);
	static uint8_t cfg[256];
	struct usb_setup s = { 0x80, 6, 0x0200, 0, 255 };
	uint8_t dev[DEV_SIZE];
	size_t queued, unread;
	uint32_t first;
	int cfg_len = usb_dev_control(da, &s, cfg, sizeof(cfg));

	CHECK_EQ(uip_import(c, "1-1", dev), 0);
	m->write_max = 0;
	first = c->next_seq;
	for (int i = 0; i < URBS; i++)
		uip_submit(c, USBIP_DIR_IN, 0, 255, setup, NULL);
	for (int i = 0; i < 50; i++)
		mem_step(m);
	CHECK_EQ(m->st, USBIP_OK);
	CHECK(!usbip_conn_wants_input(m->conn));
	queued = usbip_conn_queued(m->conn);
	CHECK(queued >= 256 * 1024);
	CHECK(queued < (size_t)URBS * (48 + (size_t)cfg_len));
	unread = m->in_len - m->in_off;
	CHECK(unread > 0);
	/* reading now takes nothing */
	CHECK_EQ(usbip_conn_read(m->conn), USBIP_OK);
	usbip_conn_pump(m->conn);
	CHECK_EQ(m->in_len - m->in_off, unread);
	CHECK_EQ(usbip_conn_queued(m->conn), queued);
	/* the peer drains in small bites: everything, in order */
	m->write_max = 1000;
	for (int i = 0; i < URBS; i++) {
		struct uip_ret r;

		if (uip_next(c, &r, UIP_MS) != 0) {
			FAIL_NOW("an answer is missing");
			break;
		}
		CHECK_EQ(r.seqnum, first + (uint32_t)i);
		CHECK_EQ(r.status, 0);
		CHECK_EQ(r.actual_length, cfg_len);
		if (r.data != NULL && r.actual_length == cfg_len)
			CHECK(memcmp(r.data, cfg, (size_t)cfg_len) == 0);
		uip_ret_clear(&r);
		if (check_failures > 20)
			break;
	}
	CHECK_EQ(m->in_len, m->in_off);
	CHECK(usbip_conn_wants_input(m->conn));
	CHECK(uip_quiet(c, 20));
	done(c, t, 1);
	usbip_table_free(t);
}

/* --- over sockets -------------------------------------------------------- */

static uint16_t port_of(const char *addr)
{
	const char *colon = strrchr(addr, ':');

	return colon != NULL ? (uint16_t)atoi(colon + 1) : 0;
}

static struct uip_client *tcp_client(uint16_t port)
{
	int fd = uip_tcp_connect("127.0.0.1", port);
	struct uip_link link;

	if (fd < 0)
		return NULL;
	link = uip_tcp_link(fd);
	return uip_new(&link, NULL);
}

static struct uip_client *tcp_imported(uint16_t port, const char *busid)
{
	struct uip_client *c = tcp_client(port);
	uint8_t dev[DEV_SIZE];

	CHECK(c != NULL);
	if (c == NULL)
		return NULL;
	if (uip_import(c, busid, dev) != 0 || uip_configure(c) != 0) {
		uip_free(c);
		return NULL;
	}
	return c;
}

static void check_addr_forms(void)
{
	static const struct {
		const char *addr;
		int ok;
		bool loopback;
	} cases[] = {
		{ "127.0.0.1:3240", 0, true },
		{ "127.0.0.1", 0, true },
		{ ":5000", 0, true },
		{ "127.0.0.1:0", 0, true },
		{ "[::1]:3240", 0, true },
		{ "0.0.0.0:3240", 0, false },
		{ "[::]", 0, false },
		{ "127.0.0.1:65536", -1, false },
		{ "127.0.0.1:x", -1, false },
		{ "127.0.0.1:", -1, false },
		{ "::1", -1, false },
		{ "", -1, false },
		{ "no-such-host.invalid:3240", -1, false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool lo = !cases[i].loopback;
		char err[256] = "";
		int r = usbip_check_addr(cases[i].addr, &lo, err, sizeof(err));

		if ((r == 0) != (cases[i].ok == 0) ||
		    (r == 0 && lo != cases[i].loopback) ||
		    (r != 0 && err[0] == '\0')) {
			fprintf(stderr, "usbip_check_addr(%s): %d, "
				"loopback %d, err '%s'\n", cases[i].addr, r,
				lo, err);
			check_failures++;
		}
	}
}

static int64_t init_round_trip_ms(struct uip_client *c)
{
	int64_t t0 = uip_now_ms();

	if (uip_hid_init(c) == 0)
		return 100000;
	return uip_now_ms() - t0;
}

struct slow {
	pthread_t t;
	uint16_t port;
	bool answered;
};

/* A device list request, one byte per 50 ms. */
static void *slow_client(void *arg)
{
	struct slow *s = arg;
	struct uip_client *c = tcp_client(s->port);
	uint8_t h[8], got[64];

	if (c == NULL)
		return NULL;
	uip_op_header(h, USBIP_VERSION, USBIP_OP_REQ_DEVLIST, 0);
	for (int i = 0; i < 8; i++) {
		uip_send_raw(c, h + i, 1);
		sleep_ms(50);
	}
	s->answered = uip_recv_exact(c, got, 12, UIP_MS) == 0 &&
		      uip_get16(got + 2) == USBIP_OP_REP_DEVLIST;
	uip_free(c);
	return NULL;
}

/* Output the client never reads: answered URBs sent until the socket
 * has taken nothing for 300 ms (at most 3 s). Returns the URBs sent. */
static int flood_without_reading(struct uip_client *c)
{
	enum { MAX = 200000 };
	static const uint8_t setup[8] = { 0x80, 6, 0, 2, 0, 0, 255, 0 };
	static uint8_t buf[MAX * 48];
	int fd = uip_tcp_fd(c);
	int64_t until = uip_now_ms() + 3000, idle_since = uip_now_ms();
	size_t off = 0;

	for (int i = 0; i < MAX; i++)
		uip_submit_header(buf + 48 * i, 100000u + (uint32_t)i, c->devid,
				  1, 0, 0x200, 255, -1, setup);
	while (off < sizeof(buf) && uip_now_ms() < until &&
	       uip_now_ms() - idle_since < 300) {
		ssize_t w = send(fd, buf + off, sizeof(buf) - off,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (w > 0) {
			off += (size_t)w;
			idle_since = uip_now_ms();
		} else {
			sleep_ms(5);
		}
	}
	return (int)(off / 48);
}

/* A client with a tiny receive buffer still gets many answers, in
 * order and promptly: the server writes as the socket drains. */
static void slow_reader_gets_everything(uint16_t port)
{
	enum { URBS = 2000 };
	static const uint8_t setup[8] = { 0x80, 6, 0, 1, 0, 0, 18, 0 };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), small = 2048;
	struct sockaddr_in in = { .sin_family = AF_INET,
				  .sin_port = htons(port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct uip_link link;
	struct uip_client *c;
	uint8_t dev[DEV_SIZE];
	uint32_t first;
	int64_t t0;

	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	if (fd < 0 || connect(fd, (struct sockaddr *)&in, sizeof(in)) != 0) {
		FAIL_NOW("connect");
		return;
	}
	link = uip_tcp_link(fd);
	c = uip_new(&link, NULL);
	CHECK_EQ(uip_import(c, "1-1", dev), 0);
	first = c->next_seq;
	for (int i = 0; i < URBS; i++)
		uip_submit(c, USBIP_DIR_IN, 0, 18, setup, NULL);
	t0 = uip_now_ms();
	for (int i = 0; i < URBS; i++) {
		struct uip_ret r;

		if (uip_next(c, &r, UIP_MS) != 0) {
			FAIL_NOW("an answer is missing");
			break;
		}
		CHECK_EQ(r.seqnum, first + (uint32_t)i);
		CHECK_EQ(r.actual_length, 18);
		uip_ret_clear(&r);
		if (check_failures > 20)
			break;
	}
	CHECK(uip_now_ms() - t0 < 2000);
	done(c, NULL, 0);
}

static void net_two_keys(void)
{
	struct usbip_key keys[2] = { { ka.key, NULL, 1 },
				     { kb.key, &ident2, 2 } };
	char err[256] = "";
	struct usbip_server *srv = usbip_start("127.0.0.1:0", keys, 2, NULL,
					       err, sizeof(err));
	struct uip_client *a, *b, *c, *g1, *g2, *d;
	static uint8_t got[4096], resp[2048];
	struct slow slow = { 0 };
	uint16_t port;
	uint32_t cid_a, cid_b;
	int64_t t0, worst = 0;
	long n;

	CHECK(srv != NULL);
	if (srv == NULL) {
		fprintf(stderr, "usbip_start: %s\n", err);
		return;
	}
	port = port_of(usbip_server_addr(srv));
	CHECK(port != 0);
	CHECK(strncmp(usbip_server_addr(srv), "127.0.0.1:", 10) == 0);

	/* the device list: both keys */
	c = tcp_client(port);
	CHECK(c != NULL);
	n = c != NULL ? uip_devlist(c, got, sizeof(got), UIP_MS) : -1;
	CHECK_EQ(n, 12 + 2 * (DEV_SIZE + 8));
	if (n == 12 + 2 * (DEV_SIZE + 8)) {
		CHECK_EQ(uip_get32(got + 8), 2);
		CHECK_MEM(got + 12 + 256, "1-1\0", 4);
		CHECK_MEM(got + 12 + 320 + 256, "1-2\0", 4);
		CHECK_EQ(uip_get16(got + 12 + 320 + 302), KEY2_PID);
	}
	uip_free(c);

	/* two imports side by side */
	a = tcp_imported(port, "1-1");
	b = tcp_imported(port, "1-2");
	CHECK(a != NULL && b != NULL);
	if (a == NULL || b == NULL)
		goto out;
	cid_a = uip_hid_init(a);
	cid_b = uip_hid_init(b);
	CHECK(cid_a != 0 && cid_b != 0);
	CHECK(uip_hid_get_info(a, cid_a, resp, sizeof(resp)) > 57);
	CHECK(has_bytes(resp, 200, "FIDO_2_0"));
	CHECK(uip_hid_get_info(b, cid_b, resp, sizeof(resp)) > 57);
	/* An answer made on a worker reaches the IN URB in flight at once
	 * (the device wakes the server), not at the server's next tick. */
	{
		int64_t best = 100000;

		for (int i = 0; i < 3; i++) {
			int64_t t = uip_now_ms();

			n = uip_hid_get_info(a, cid_a, resp, sizeof(resp));
			CHECK(n > 57);
			t = uip_now_ms() - t;
			best = t < best ? t : best;
		}
		CHECK(best < 250);
	}
	/* a third connection for 1-1 is turned away */
	c = tcp_client(port);
	CHECK(c != NULL);
	if (c != NULL) {
		CHECK_EQ(uip_import(c, "1-1", got), USBIP_ST_DEV_BUSY);
		CHECK(uip_wait_closed(c, UIP_MS));
		uip_free(c);
	}

	/* misbehaving clients beside b: noise, half a header, a slow one,
	 * and a (that imported 1-1) no longer reading */
	g1 = tcp_client(port);
	g2 = tcp_client(port);
	CHECK(g1 != NULL && g2 != NULL);
	if (g1 != NULL) {
		uint32_t x = 99;

		for (size_t i = 0; i < sizeof(got); i++) {
			x = x * 1103515245u + 12345u;
			got[i] = (uint8_t)(x >> 16);
		}
		uip_send_raw(g1, got, sizeof(got));
	}
	if (g2 != NULL)
		uip_send_raw(g2, "\x01\x11\x80", 3);
	slow.port = port;
	pthread_create(&slow.t, NULL, slow_client, &slow);
	{
		int sent = flood_without_reading(a);

		if (getenv("VKEY_TEST_DEBUG") != NULL)
			fprintf(stderr, "flood: %d URBs unread\n", sent);
		CHECK(sent > 1000);
	}
	for (int i = 0; i < 5; i++) {
		int64_t ms = init_round_trip_ms(b);

		worst = ms > worst ? ms : worst;
	}
	CHECK(worst < 2000);
	CHECK(uip_hid_get_info(b, cid_b, resp, sizeof(resp)) > 57);
	pthread_join(slow.t, NULL);
	CHECK(slow.answered);
	if (g1 != NULL)
		CHECK(uip_wait_closed(g1, UIP_MS)); /* noise: dropped */
	uip_free(g1);
	uip_free(g2);

	/* a's socket closes: 1-1 can be imported again within a second */
	uip_free(a);
	a = NULL;
	t0 = uip_now_ms();
	d = NULL;
	while (d == NULL && uip_now_ms() - t0 < 1000) {
		d = tcp_imported(port, "1-1");
		if (d == NULL)
			sleep_ms(20);
	}
	CHECK(d != NULL);
	if (d != NULL) {
		CHECK(uip_hid_init(d) != 0);
		uip_free(d);
	}
	slow_reader_gets_everything(port);
	/* stopping the server closes b */
	t0 = uip_now_ms();
	usbip_stop(srv);
	srv = NULL;
	CHECK(uip_now_ms() - t0 < 2000);
	CHECK(uip_wait_closed(b, UIP_MS));
out:
	uip_free(a);
	uip_free(b);
	usbip_stop(srv);
}

/* RSA-4096 generations through OpenPGP on key 1, straight through the
 * core as another transport (vpcd, the control socket) would, for
 * ms: key 1 stays busy most of that time. */
struct keygen {
	pthread_t t;
	struct vkey *key;
	int ms, generated;
};

static void *keygen_loop(void *arg)
{
	static const uint8_t select_pgp[] = { 0x00, 0xA4, 0x04, 0x00, 0x06,
					      0xD2, 0x76, 0x00, 0x01, 0x24,
					      0x01 };
	static const uint8_t verify_pw3[] = { 0x00, 0x20, 0x00, 0x83, 0x08,
					      '1', '2', '3', '4', '5', '6',
					      '7', '8' };
	static const uint8_t rsa4096[] = { 0x00, 0xDA, 0x00, 0xC1, 0x06, 0x01,
					   0x10, 0x00, 0x00, 0x20, 0x00 };
	static const uint8_t generate[] = { 0x00, 0x47, 0x80, 0x00, 0x00,
					    0x00, 0x02, 0xB6, 0x00, 0x00,
					    0x00 };
	static uint8_t resp[VKEY_APDU_MAX];
	struct keygen *k = arg;
	int64_t until = uip_now_ms() + k->ms;
	size_t n;

	while (uip_now_ms() < until) {
		/* a detach in between powers the card off: start over */
		vkey_apdu(k->key, select_pgp, sizeof(select_pgp), resp,
			  sizeof(resp), &n);
		vkey_apdu(k->key, verify_pw3, sizeof(verify_pw3), resp,
			  sizeof(resp), &n);
		vkey_apdu(k->key, rsa4096, sizeof(rsa4096), resp, sizeof(resp),
			  &n);
		if (vkey_apdu(k->key, generate, sizeof(generate), resp,
			      sizeof(resp), &n) == 0 && n > 500 &&
		    resp[n - 2] == 0x90)
			k->generated++;
	}
	return NULL;
}

/* While key 1 is busy with long commands, its clients come and go
 * (import powers it on, a close powers it off): key 2's client is
 * served as before, as one thread serves both. */
static void net_busy_key_does_not_stall_the_other(void)
{
	struct usbip_key keys[2] = { { ka.key, NULL, 1 },
				     { kb.key, &ident2, 2 } };
	char err[256] = "";
	struct usbip_server *srv = usbip_start("127.0.0.1:0", keys, 2, NULL,
					       err, sizeof(err));
	struct keygen kg = { .key = ka.key, .ms = 2500 };
	struct uip_client *b = NULL, *d = NULL;
	uint16_t port;
	int64_t t0, worst = 0;
	int cycles = 0;

	CHECK(srv != NULL);
	if (srv == NULL)
		return;
	port = port_of(usbip_server_addr(srv));
	b = tcp_imported(port, "1-2");
	CHECK(b != NULL);
	if (b == NULL)
		goto out;
	CHECK(uip_hid_init(b) != 0);
	pthread_create(&kg.t, NULL, keygen_loop, &kg);
	sleep_ms(50);
	for (t0 = uip_now_ms(); uip_now_ms() - t0 < 2000; cycles++) {
		int64_t rt;

		d = tcp_client(port);
		if (d != NULL) {
			uint8_t req[40] = { 0 };

			/* import and hang up at once: attach, then detach */
			uip_op_header(req, USBIP_VERSION,
				      USBIP_OP_REQ_IMPORT, 0);
			memcpy(req + 8, "1-1", 3);
			uip_send_raw(d, req, sizeof(req));
			sleep_ms(20);
			uip_free(d);
			d = NULL;
		}
		sleep_ms(20);
		rt = uip_now_ms();
		CHECK(uip_hid_init(b) != 0);
		rt = uip_now_ms() - rt;
		worst = rt > worst ? rt : worst;
	}
	pthread_join(kg.t, NULL);
	if (worst >= 300 || getenv("VKEY_TEST_DEBUG") != NULL)
		fprintf(stderr, "key 2 waited up to %lld ms (%d imports of key "
				"1, %d RSA-4096 keys generated)\n",
			(long long)worst, cycles, kg.generated);
	CHECK(kg.generated > 0);
	CHECK(worst < 300);
	/* key 1 works again afterwards */
	for (t0 = uip_now_ms(); d == NULL && uip_now_ms() - t0 < 5000;)
		if ((d = tcp_imported(port, "1-1")) == NULL)
			sleep_ms(50);
	CHECK(d != NULL);
	if (d != NULL)
		CHECK(uip_hid_init(d) != 0);
out:
	uip_free(d);
	uip_free(b);
	usbip_stop(srv);
}

/* A second server on the same port fails at once with a sentence. */
static void net_busy_address_refused(void)
{
	struct usbip_key key = { ka.key, NULL, 1 };
	char err[256] = "", addr[64];
	struct usbip_server *s1 = usbip_start("127.0.0.1:0", &key, 1, NULL, err,
					      sizeof(err));
	struct usbip_server *s2;

	CHECK(s1 != NULL);
	if (s1 == NULL)
		return;
	snprintf(addr, sizeof(addr), "%s", usbip_server_addr(s1));
	err[0] = '\0';
	s2 = usbip_start(addr, &key, 1, NULL, err, sizeof(err));
	CHECK(s2 == NULL);
	CHECK(err[0] != '\0');
	usbip_stop(s2);
	/* bad device numbers */
	key.devnum = 0;
	err[0] = '\0';
	s2 = usbip_start("127.0.0.1:0", &key, 1, NULL, err, sizeof(err));
	CHECK(s2 == NULL);
	CHECK(err[0] != '\0');
	usbip_stop(s2);
	usbip_stop(s1);
}

/* Connections that never send a request cannot lock importers out: when
 * the server is full, the oldest idle one makes room. */
static void net_idle_connections_do_not_lock_out(void)
{
	enum { IDLE = 40 };
	struct usbip_key key = { ka.key, NULL, 1 };
	char err[256] = "";
	struct usbip_server *s = usbip_start("127.0.0.1:0", &key, 1, NULL, err,
					     sizeof(err));
	struct uip_client *idle[IDLE], *c;
	uint8_t buf[1024];
	uint16_t port;
	int64_t t0;

	CHECK(s != NULL);
	if (s == NULL)
		return;
	port = port_of(usbip_server_addr(s));
	for (int i = 0; i < IDLE; i++)
		idle[i] = tcp_client(port);
	sleep_ms(200);
	t0 = uip_now_ms();
	c = tcp_client(port);
	CHECK(c != NULL);
	if (c != NULL) {
		CHECK(uip_devlist(c, buf, sizeof(buf), 2000) > 12);
		uip_free(c);
	}
	CHECK(uip_now_ms() - t0 < 1500);
	for (int i = 0; i < IDLE; i++)
		if (idle[i] != NULL)
			uip_free(idle[i]);
	usbip_stop(s);
}

int main(int argc, char **argv)
{
	bool net = argc > 1 && strcmp(argv[1], "net") == 0;

	log_set_level(getenv("VKEY_TEST_DEBUG") ? LOG_DEBUG : LOG_ERROR);
	check_key_begin(&ka, "usbip-a", VKEY_UP_AUTO);
	check_key_begin(&kb, "usbip-b", VKEY_UP_AUTO);
	if (net) {
		RUN(check_addr_forms);
		RUN(net_two_keys);
		RUN(net_busy_address_refused);
		RUN(net_busy_key_does_not_stall_the_other);
		RUN(net_idle_connections_do_not_lock_out);
		goto out;
	}
	open_prompt_key();
	da = usb_dev_new(ka.key, NULL);
	db = usb_dev_new(kb.key, &ident2);
	dp = usb_dev_new(kp.key, NULL);
	if (da == NULL || db == NULL || dp == NULL)
		return 1;
	RUN(table_refuses_bad_devnums);
	RUN(devlist_is_byte_exact_then_closed);
	RUN(devlist_one_byte_at_a_time);
	RUN(devlist_ignores_what_follows);
	RUN(devlist_leaves_out_imported);
	RUN(import_answers_device);
	RUN(import_of_unknown_busid_refused);
	RUN(version_mismatch_refused);
	RUN(enumerates_like_linux);
	RUN(control_answer_cut_to_urb);
	RUN(refused_request_stalls);
	RUN(interrupt_in_held_until_data);
	RUN(pending_in_per_endpoint);
	RUN(ctaphid_get_info_across_urbs);
	RUN(keepalives_through_held_in_urbs);
	RUN(held_out_completion);
	RUN(ccid_power_on_and_select);
	RUN(ccid_extended_apdu_and_long_answer);
	RUN(ccid_huge_in_urb);
	RUN(ccid_time_extension_while_touch_waits);
	RUN(unlink_of_pending_in);
	RUN(unlink_first_of_two);
	RUN(unlink_of_answered_urb);
	RUN(port_reset);
	RUN(busy_device_refused_until_freed);
	RUN(free_with_pending_urbs);
	RUN(peer_gone_frees_device);
	RUN(too_many_pending_in);
	RUN(garbage_ends_connection);
	RUN(random_bytes_after_import);
	RUN(output_backpressure);
	usb_dev_free(da);
	usb_dev_free(db);
	usb_dev_free(dp);
	check_key_end(&kp);
out:
	check_key_end(&ka);
	check_key_end(&kb);
	return CHECK_DONE();
}
