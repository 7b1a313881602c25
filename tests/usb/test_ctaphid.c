/* The CTAPHID class driven through its class table on real keys: commands,
 * channels, keepalives, cancel; one named regress case per malformed input. */
#include <ftw.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../check.h"
#include "usb/usb_class.h"
#include "vkey/vkey.h"

#define RPT 64
#define BROADCAST 0xFFFFFFFFu
#define MAX_MSG 7609

#define CMD_PING 0x01
#define CMD_MSG 0x03
#define CMD_LOCK 0x04
#define CMD_INIT 0x06
#define CMD_WINK 0x08
#define CMD_CBOR 0x10
#define CMD_CANCEL 0x11
#define CMD_KEEPALIVE 0x3B
#define CMD_ERROR 0x3F

#define ERR_INVALID_CMD 0x01
#define ERR_INVALID_PAR 0x02
#define ERR_INVALID_LEN 0x03
#define ERR_INVALID_SEQ 0x04
#define ERR_MSG_TIMEOUT 0x05
#define ERR_CHANNEL_BUSY 0x06
#define ERR_INVALID_CHANNEL 0x0B

static const struct usb_class_ops *ops = &usb_ctaphid_class;
static char dir[] = "/tmp/vkey-ctaphid-XXXXXX";
static struct vkey *key;        /* user presence: auto */
static struct vkey *key_prompt; /* user presence: prompt */

/* notify() counts; readers wait for the count to move. */
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

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* The next IN report within ms; -1 when none came. */
static int read_report(void *h, uint8_t rpt[RPT], unsigned ms)
{
	uint64_t end = now_ms() + ms;
	struct timespec ts = { (time_t)(end / 1000),
			       (long)(end % 1000) * 1000000L };
	unsigned seen;
	bool timed_out;
	int r = -1;

	for (;;) {
		pthread_mutex_lock(&note_mu);
		seen = notes;
		pthread_mutex_unlock(&note_mu);
		if (ops->in(h, rpt, RPT) == RPT) {
			r = 0;
			break;
		}
		pthread_mutex_lock(&note_mu);
		while (notes == seen && now_ms() < end)
			pthread_cond_timedwait(&note_cv, &note_mu, &ts);
		timed_out = notes == seen;
		pthread_mutex_unlock(&note_mu);
		if (timed_out)
			break;
	}
	return r;
}

static void put_cid(uint8_t *p, uint32_t cid)
{
	p[0] = (uint8_t)(cid >> 24);
	p[1] = (uint8_t)(cid >> 16);
	p[2] = (uint8_t)(cid >> 8);
	p[3] = (uint8_t)cid;
}

static uint32_t get_cid(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

static void init_report(uint8_t rpt[RPT], uint32_t cid, uint8_t cmd,
			size_t len, const uint8_t *data, size_t n)
{
	memset(rpt, 0, RPT);
	put_cid(rpt, cid);
	rpt[4] = (uint8_t)(cmd | 0x80);
	rpt[5] = (uint8_t)(len >> 8);
	rpt[6] = (uint8_t)len;
	if (n > 0)
		memcpy(rpt + 7, data, n);
}

static void cont_report(uint8_t rpt[RPT], uint32_t cid, uint8_t seq,
			const uint8_t *data, size_t n)
{
	memset(rpt, 0, RPT);
	put_cid(rpt, cid);
	rpt[4] = seq;
	if (n > 0)
		memcpy(rpt + 5, data, n);
}

/* A whole message as reports into buf; returns the report count. */
static size_t frame(uint8_t *buf, uint32_t cid, uint8_t cmd,
		    const uint8_t *data, size_t len)
{
	size_t n = len < 57 ? len : 57, off = n, k = 1;

	init_report(buf, cid, cmd, len, data, n);
	for (uint8_t seq = 0; off < len; seq++, k++) {
		n = len - off < 59 ? len - off : 59;
		cont_report(buf + k * RPT, cid, seq, data + off, n);
		off += n;
	}
	return k;
}

/* Send a message one report per OUT transfer, as a HID host does. */
static void send_msg(void *h, uint32_t cid, uint8_t cmd, const void *data,
		     size_t len)
{
	static uint8_t buf[130 * RPT];
	size_t k = frame(buf, cid, cmd, data, len);

	for (size_t i = 0; i < k; i++)
		CHECK_EQ(ops->out(h, buf + i * RPT, RPT), 0);
}

struct reply {
	uint8_t cmd;
	size_t len;
	uint8_t data[MAX_MSG];
	unsigned keepalives;
	unsigned upneeded;
};

/* The next message on cid (its keepalives counted, any channel's
 * skipped); -1 when none came within ms or another channel's message
 * came first. */
static int recv_msg(void *h, uint32_t cid, struct reply *r, unsigned ms)
{
	uint8_t rpt[RPT];
	size_t off, n;

	memset(r, 0, sizeof(*r));
	for (;;) {
		if (read_report(h, rpt, ms) != 0)
			return -1;
		if (rpt[4] != (CMD_KEEPALIVE | 0x80))
			break;
		if (get_cid(rpt) == cid) {
			r->keepalives++;
			r->upneeded += rpt[7] == 2;
		}
	}
	if (get_cid(rpt) != cid || (rpt[4] & 0x80) == 0)
		return -1;
	r->cmd = rpt[4] & 0x7F;
	r->len = (size_t)rpt[5] << 8 | rpt[6];
	if (r->len > MAX_MSG)
		return -1;
	off = r->len < 57 ? r->len : 57;
	memcpy(r->data, rpt + 7, off);
	for (uint8_t seq = 0; off < r->len; seq++) {
		if (read_report(h, rpt, ms) != 0 || get_cid(rpt) != cid ||
		    rpt[4] != seq)
			return -1;
		n = r->len - off < 59 ? r->len - off : 59;
		memcpy(r->data + off, rpt + 5, n);
		off += n;
	}
	return 0;
}

/* Nothing on the IN endpoint for ms. */
static int quiet(void *h, unsigned ms)
{
	uint8_t rpt[RPT];

	return read_report(h, rpt, ms) != 0;
}

static struct reply rep;

/* The CTAPHID error code answered on cid, or -1. */
static int error_on(void *h, uint32_t cid)
{
	if (recv_msg(h, cid, &rep, 2000) != 0 || rep.cmd != CMD_ERROR ||
	    rep.len != 1)
		return -1;
	return rep.data[0];
}

/* A fresh channel from INIT on the broadcast channel. */
static uint32_t allocate(void *h)
{
	static const uint8_t nonce[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };

	send_msg(h, BROADCAST, CMD_INIT, nonce, sizeof(nonce));
	if (recv_msg(h, BROADCAST, &rep, 2000) != 0 || rep.cmd != CMD_INIT ||
	    rep.len != 17 || memcmp(rep.data, nonce, 8) != 0)
		return 0;
	return get_cid(rep.data + 8);
}

static void *open_class(struct vkey *k)
{
	void *h = ops->create(k, notify, NULL);

	CHECK(h != NULL);
	return h;
}

/* ---- commands ---- */

static void init_allocates_channel_and_echoes_nonce(void)
{
	static const uint8_t nonce[8] = { 0xA0, 0xA1, 0xA2, 0xA3,
					  0xA4, 0xA5, 0xA6, 0xA7 };
	void *h = open_class(key);
	uint32_t cid, other;

	send_msg(h, BROADCAST, CMD_INIT, nonce, sizeof(nonce));
	CHECK_EQ(recv_msg(h, BROADCAST, &rep, 2000), 0);
	CHECK_EQ(rep.cmd, CMD_INIT);
	CHECK_EQ(rep.len, 17);
	CHECK_MEM(rep.data, nonce, 8);
	cid = get_cid(rep.data + 8);
	CHECK(cid != 0 && cid != BROADCAST);
	CHECK_EQ(rep.data[12], 2);    /* CTAPHID protocol version */
	CHECK_EQ(rep.data[16], 0x05); /* WINK | CBOR, not NMSG */
	other = allocate(h);
	CHECK(other != 0 && other != cid);
	ops->destroy(h);
}

static void ping_round_trips(size_t len)
{
	void *h = open_class(key);
	uint32_t cid = allocate(h);
	uint8_t *data = malloc(len);

	for (size_t i = 0; i < len; i++)
		data[i] = (uint8_t)(i * 7 + 3);
	send_msg(h, cid, CMD_PING, data, len);
	CHECK_EQ(recv_msg(h, cid, &rep, 2000), 0);
	CHECK_EQ(rep.cmd, CMD_PING);
	CHECK_EQ(rep.len, len);
	CHECK_MEM(rep.data, data, len);
	free(data);
	ops->destroy(h);
}

static void ping_of_1_byte(void) { ping_round_trips(1); }
static void ping_of_57_bytes(void) { ping_round_trips(57); }
static void ping_of_64_plus_59_bytes(void) { ping_round_trips(64 + 59); }
static void ping_of_7609_bytes(void) { ping_round_trips(MAX_MSG); }

static void cbor_get_info_answers_ok(void)
{
	static const uint8_t get_info[] = { 0x04 };
	void *h = open_class(key);
	uint32_t cid = allocate(h);

	send_msg(h, cid, CMD_CBOR, get_info, sizeof(get_info));
	CHECK_EQ(recv_msg(h, cid, &rep, 5000), 0);
	CHECK_EQ(rep.cmd, CMD_CBOR);
	CHECK(rep.len > 2);
	CHECK_EQ(rep.data[0], 0x00);
	CHECK_EQ(rep.data[1] & 0xE0, 0xA0); /* a map */
	ops->destroy(h);
}

static void msg_u2f_version(void)
{
	static const uint8_t version[] = { 0x00, 0x03, 0x00, 0x00 };
	void *h = open_class(key);
	uint32_t cid = allocate(h);

	send_msg(h, cid, CMD_MSG, version, sizeof(version));
	CHECK_EQ(recv_msg(h, cid, &rep, 5000), 0);
	CHECK_EQ(rep.cmd, CMD_MSG);
	CHECK_EQ(rep.len, 8);
	CHECK_MEM(rep.data, "U2F_V2\x90\x00", 8);
	ops->destroy(h);
}

static void wink_answers_empty(void)
{
	void *h = open_class(key);
	uint32_t cid = allocate(h);

	send_msg(h, cid, CMD_WINK, NULL, 0);
	CHECK_EQ(recv_msg(h, cid, &rep, 2000), 0);
	CHECK_EQ(rep.cmd, CMD_WINK);
	CHECK_EQ(rep.len, 0);
	ops->destroy(h);
}

static void lock_makes_other_channels_busy(void)
{
	static const uint8_t secs = 5, release = 0, too_long = 11;
	static const uint8_t data[] = { 'h', 'i' };
	void *h = open_class(key);
	uint32_t a = allocate(h), b = allocate(h);

	send_msg(h, a, CMD_LOCK, &too_long, 1);
	CHECK_EQ(error_on(h, a), ERR_INVALID_PAR);
	send_msg(h, a, CMD_LOCK, &secs, 1);
	CHECK_EQ(recv_msg(h, a, &rep, 2000), 0);
	CHECK_EQ(rep.cmd, CMD_LOCK);
	CHECK_EQ(rep.len, 0);
	send_msg(h, b, CMD_PING, data, sizeof(data));
	CHECK_EQ(error_on(h, b), ERR_CHANNEL_BUSY);
	send_msg(h, a, CMD_PING, data, sizeof(data));
	CHECK_EQ(recv_msg(h, a, &rep, 2000), 0);
	CHECK_EQ(rep.cmd, CMD_PING);
	send_msg(h, a, CMD_LOCK, &release, 1);
	CHECK_EQ(recv_msg(h, a, &rep, 2000), 0);
	send_msg(h, b, CMD_PING, data, sizeof(data));
	CHECK_EQ(recv_msg(h, b, &rep, 2000), 0);
	CHECK_EQ(rep.cmd, CMD_PING);
	ops->destroy(h);
}

/* Two channels' messages, packets interleaved, each answered whole. */
static void interleaved_pings_on_two_channels(void)
{
	static uint8_t da[100], db[100];
	uint8_t fa[2 * RPT], fb[2 * RPT];
	void *h = open_class(key);
	uint32_t a = allocate(h), b = allocate(h);

	memset(da, 0xAA, sizeof(da));
	memset(db, 0xBB, sizeof(db));
	CHECK_EQ(frame(fa, a, CMD_PING, da, sizeof(da)), 2);
	CHECK_EQ(frame(fb, b, CMD_PING, db, sizeof(db)), 2);
	CHECK_EQ(ops->out(h, fa, RPT), 0);
	CHECK_EQ(ops->out(h, fb, RPT), 0);
	CHECK_EQ(ops->out(h, fb + RPT, RPT), 0);
	CHECK_EQ(ops->out(h, fa + RPT, RPT), 0);
	CHECK_EQ(recv_msg(h, b, &rep, 2000), 0);
	CHECK_EQ(rep.len, sizeof(db));
	CHECK_MEM(rep.data, db, sizeof(db));
	CHECK_EQ(recv_msg(h, a, &rep, 2000), 0);
	CHECK_EQ(rep.len, sizeof(da));
	CHECK_MEM(rep.data, da, sizeof(da));
	ops->destroy(h);
}

/* A transport may hand several reports over in one OUT transfer. */
static void several_reports_in_one_transfer(void)
{
	static uint8_t data[300], buf[6 * RPT];
	void *h = open_class(key);
	uint32_t cid = allocate(h);
	size_t k;

	memset(data, 0x5A, sizeof(data));
	k = frame(buf, cid, CMD_PING, data, sizeof(data));
	CHECK_EQ(ops->out(h, buf, k * RPT), 0);
	CHECK_EQ(recv_msg(h, cid, &rep, 2000), 0);
	CHECK_EQ(rep.len, sizeof(data));
	CHECK_MEM(rep.data, data, sizeof(data));
	ops->destroy(h);
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

/* Keepalives until one says UPNEEDED; the number seen, or 0. */
static unsigned wait_upneeded(void *h, uint32_t cid)
{
	uint8_t rpt[RPT];
	unsigned seen = 0;

	while (read_report(h, rpt, 2000) == 0) {
		if (get_cid(rpt) != cid || rpt[4] != (CMD_KEEPALIVE | 0x80))
			return 0;
		seen++;
		if (rpt[7] == 2)
			return seen;
	}
	return 0;
}

static void cancel_ends_touch_wait(void)
{
	static const uint8_t get_info[] = { 0x04 }, hi[] = { 'h', 'i' };
	uint8_t req[128];
	size_t n = make_credential(req);
	void *h = open_class(key_prompt);
	uint32_t cid = allocate(h), other = allocate(h);

	send_msg(h, cid, CMD_CBOR, req, n);
	CHECK(wait_upneeded(h, cid) > 0);
	/* meanwhile: a second request is busy, a PING is served */
	send_msg(h, other, CMD_CBOR, get_info, sizeof(get_info));
	CHECK_EQ(error_on(h, other), ERR_CHANNEL_BUSY);
	send_msg(h, other, CMD_PING, hi, sizeof(hi));
	CHECK_EQ(recv_msg(h, other, &rep, 2000), 0);
	CHECK_EQ(rep.cmd, CMD_PING);
	send_msg(h, cid, CMD_CANCEL, NULL, 0);
	CHECK_EQ(recv_msg(h, cid, &rep, 3000), 0);
	CHECK_EQ(rep.cmd, CMD_CBOR);
	CHECK_EQ(rep.len, 1);
	CHECK_EQ(rep.data[0], 0x2D); /* CTAP2_ERR_KEEPALIVE_CANCEL */
	ops->destroy(h);
}

static void *toucher(void *arg)
{
	return (void *)(intptr_t)vkey_touch(arg, 5000);
}

static void touch_approves_wait(void)
{
	uint8_t req[128];
	size_t n = make_credential(req);
	void *h = open_class(key_prompt);
	uint32_t cid = allocate(h);
	pthread_t t;
	void *tr = NULL;

	send_msg(h, cid, CMD_CBOR, req, n);
	CHECK(wait_upneeded(h, cid) > 0);
	pthread_create(&t, NULL, toucher, key_prompt);
	CHECK_EQ(recv_msg(h, cid, &rep, 5000), 0);
	pthread_join(t, &tr);
	CHECK_EQ((intptr_t)tr, 0);
	CHECK_EQ(rep.cmd, CMD_CBOR);
	CHECK(rep.len > 100);
	CHECK_EQ(rep.data[0], 0x00);
	ops->destroy(h);
}

/* §11.2.5.3: INIT during a touch wait ends the request; its answer is
 * dropped and the channel serves the next one. */
static void init_resync_abandons_touch_wait(void)
{
	static const uint8_t nonce[8] = { 5, 4, 3, 2, 1, 0, 1, 2 };
	static const uint8_t get_info[] = { 0x04 };
	uint8_t req[128];
	size_t n = make_credential(req);
	void *h = open_class(key_prompt);
	uint32_t cid = allocate(h);

	send_msg(h, cid, CMD_CBOR, req, n);
	CHECK(wait_upneeded(h, cid) > 0);
	send_msg(h, cid, CMD_INIT, nonce, sizeof(nonce));
	CHECK_EQ(recv_msg(h, cid, &rep, 2000), 0);
	CHECK_EQ(rep.cmd, CMD_INIT);
	CHECK_MEM(rep.data, nonce, 8);
	CHECK(quiet(h, 500)); /* no answer, no more keepalives */
	send_msg(h, cid, CMD_CBOR, get_info, sizeof(get_info));
	CHECK_EQ(recv_msg(h, cid, &rep, 5000), 0);
	CHECK_EQ(rep.cmd, CMD_CBOR);
	CHECK_EQ(rep.data[0], 0x00);
	ops->destroy(h);
}

/* A bus reset during a touch wait: everything goes, the class works on. */
static void reset_abandons_touch_wait(void)
{
	static const uint8_t get_info[] = { 0x04 };
	uint8_t req[128];
	size_t n = make_credential(req);
	void *h = open_class(key_prompt);
	uint32_t cid = allocate(h);

	send_msg(h, cid, CMD_CBOR, req, n);
	CHECK(wait_upneeded(h, cid) > 0);
	ops->reset(h);
	CHECK(quiet(h, 500));
	cid = allocate(h);
	send_msg(h, cid, CMD_CBOR, get_info, sizeof(get_info));
	CHECK_EQ(recv_msg(h, cid, &rep, 5000), 0);
	CHECK_EQ(rep.cmd, CMD_CBOR);
	CHECK_EQ(rep.data[0], 0x00);
	ops->destroy(h);
}

/* §11.2.5.3: INIT on a channel aborts its message, keeps its CID. */
static void init_resyncs_channel(void)
{
	static const uint8_t nonce[8] = { 9, 9, 9, 9, 9, 9, 9, 9 };
	static uint8_t data[100];
	uint8_t buf[2 * RPT];
	void *h = open_class(key);
	uint32_t cid = allocate(h);

	frame(buf, cid, CMD_PING, data, sizeof(data));
	CHECK_EQ(ops->out(h, buf, RPT), 0);
	send_msg(h, cid, CMD_INIT, nonce, sizeof(nonce));
	CHECK_EQ(recv_msg(h, cid, &rep, 2000), 0);
	CHECK_EQ(rep.cmd, CMD_INIT);
	CHECK_MEM(rep.data, nonce, 8);
	CHECK_EQ(get_cid(rep.data + 8), cid);
	CHECK_EQ(ops->out(h, buf + RPT, RPT), 0); /* now spurious */
	CHECK(quiet(h, 200));
	ops->destroy(h);
}

static void full_table_reuses_oldest_channel(void)
{
	static const uint8_t hi[] = { 'h', 'i' };
	void *h = open_class(key);
	uint32_t first = allocate(h), last = 0;

	for (int i = 0; i < 8; i++)
		last = allocate(h);
	send_msg(h, first, CMD_PING, hi, sizeof(hi));
	CHECK_EQ(error_on(h, first), ERR_INVALID_CHANNEL);
	send_msg(h, last, CMD_PING, hi, sizeof(hi));
	CHECK_EQ(recv_msg(h, last, &rep, 2000), 0);
	CHECK_EQ(rep.cmd, CMD_PING);
	ops->destroy(h);
}

static void reset_forgets_channels(void)
{
	static const uint8_t hi[] = { 'h', 'i' };
	void *h = open_class(key);
	uint32_t cid = allocate(h);

	send_msg(h, cid, CMD_PING, hi, sizeof(hi));
	ops->reset(h);
	CHECK(quiet(h, 100)); /* the queued answer went too */
	send_msg(h, cid, CMD_PING, hi, sizeof(hi));
	CHECK_EQ(error_on(h, cid), ERR_INVALID_CHANNEL);
	CHECK(allocate(h) != 0);
	ops->destroy(h);
}

static void hid_descriptors_and_requests(void)
{
	struct usb_setup get_report_desc = { 0x81, 0x06, 0x2200, 0, 256 };
	struct usb_setup set_idle = { 0x21, 0x0A, 0, 0, 0 };
	struct usb_setup set_report = { 0x21, 0x09, 0x0200, 0, RPT };
	struct usb_setup bogus = { 0x21, 0x42, 0, 0, 0 };
	static const uint8_t nonce[8] = { 7 };
	uint8_t buf[256], rpt[RPT];
	struct wbuf w = wbuf_init(buf, sizeof(buf));
	void *h = open_class(key);

	CHECK_EQ(ops->class_descriptor(h, &w), 0);
	CHECK_EQ(w.len, 9);
	CHECK_EQ(buf[1], 0x21);
	CHECK_EQ(buf[7] | buf[8] << 8, 34);
	CHECK_EQ(ops->control(h, &get_report_desc, buf, 256), 34);
	CHECK_MEM(buf, "\x06\xD0\xF1\x09\x01", 5);
	CHECK_EQ(ops->control(h, &get_report_desc, buf, 8), 8);
	CHECK_EQ(ops->control(h, &set_idle, NULL, 0), 0);
	CHECK_EQ(ops->control(h, &bogus, NULL, 0), USB_STALL);
	/* an output report through the control pipe */
	init_report(rpt, BROADCAST, CMD_INIT, 8, nonce, 8);
	CHECK_EQ(ops->control(h, &set_report, rpt, RPT), 0);
	CHECK_EQ(recv_msg(h, BROADCAST, &rep, 2000), 0);
	CHECK_EQ(rep.cmd, CMD_INIT);
	CHECK_EQ(ops->in(h, rpt, 10), USB_STALL); /* no room for a report */
	ops->destroy(h);
}

/* ---- regressions: one per malformed input ---- */

/* §11.2.5.4: ignored, and the channel keeps working. */
static void regress_continuation_without_init(void)
{
	static const uint8_t hi[] = { 'h', 'i' };
	uint8_t rpt[RPT];
	void *h = open_class(key);
	uint32_t cid = allocate(h);

	cont_report(rpt, cid, 0, hi, sizeof(hi));
	CHECK_EQ(ops->out(h, rpt, RPT), 0);
	CHECK(quiet(h, 200));
	send_msg(h, cid, CMD_PING, hi, sizeof(hi));
	CHECK_EQ(recv_msg(h, cid, &rep, 2000), 0);
	CHECK_EQ(rep.cmd, CMD_PING);
	ops->destroy(h);
}

static void regress_bad_seq(void)
{
	static uint8_t data[200];
	uint8_t buf[4 * RPT];
	void *h = open_class(key);
	uint32_t cid = allocate(h);

	frame(buf, cid, CMD_PING, data, sizeof(data));
	CHECK_EQ(ops->out(h, buf, RPT), 0);
	CHECK_EQ(ops->out(h, buf + 2 * RPT, RPT), 0); /* seq 1, not 0 */
	CHECK_EQ(error_on(h, cid), ERR_INVALID_SEQ);
	CHECK_EQ(ops->out(h, buf + RPT, RPT), 0); /* late: spurious */
	CHECK(quiet(h, 200));
	ops->destroy(h);
}

static void regress_init_packet_inside_message(void)
{
	static uint8_t data[100];
	uint8_t buf[2 * RPT];
	void *h = open_class(key);
	uint32_t cid = allocate(h);

	frame(buf, cid, CMD_PING, data, sizeof(data));
	CHECK_EQ(ops->out(h, buf, RPT), 0);
	CHECK_EQ(ops->out(h, buf, RPT), 0);
	CHECK_EQ(error_on(h, cid), ERR_INVALID_SEQ);
	ops->destroy(h);
}

static void regress_length_over_max_msg(void)
{
	uint8_t rpt[RPT];
	void *h = open_class(key);
	uint32_t cid = allocate(h);

	init_report(rpt, cid, CMD_PING, MAX_MSG + 1, NULL, 0);
	CHECK_EQ(ops->out(h, rpt, RPT), 0);
	CHECK_EQ(error_on(h, cid), ERR_INVALID_LEN);
	init_report(rpt, cid, CMD_CBOR, 0xFFFF, NULL, 0);
	CHECK_EQ(ops->out(h, rpt, RPT), 0);
	CHECK_EQ(error_on(h, cid), ERR_INVALID_LEN);
	ops->destroy(h);
}

static void regress_cid_zero(void)
{
	static const uint8_t nonce[8] = { 1 };
	void *h = open_class(key);

	send_msg(h, 0, CMD_INIT, nonce, sizeof(nonce));
	CHECK_EQ(error_on(h, 0), ERR_INVALID_CHANNEL);
	send_msg(h, 0, CMD_PING, nonce, sizeof(nonce));
	CHECK_EQ(error_on(h, 0), ERR_INVALID_CHANNEL);
	ops->destroy(h);
}

static void regress_unallocated_cid(void)
{
	static const uint8_t hi[] = { 'h', 'i' };
	void *h = open_class(key);

	send_msg(h, 0x12345678, CMD_PING, hi, sizeof(hi));
	CHECK_EQ(error_on(h, 0x12345678), ERR_INVALID_CHANNEL);
	send_msg(h, BROADCAST, CMD_PING, hi, sizeof(hi));
	CHECK_EQ(error_on(h, BROADCAST), ERR_INVALID_CHANNEL);
	ops->destroy(h);
}

static void regress_unknown_command(void)
{
	static const uint8_t hi[] = { 'h', 'i' };
	void *h = open_class(key);
	uint32_t cid = allocate(h);

	send_msg(h, cid, 0x55, hi, sizeof(hi));
	CHECK_EQ(error_on(h, cid), ERR_INVALID_CMD);
	send_msg(h, cid, 0x40, hi, sizeof(hi)); /* vendor range */
	CHECK_EQ(error_on(h, cid), ERR_INVALID_CMD);
	send_msg(h, cid, CMD_KEEPALIVE, hi, sizeof(hi)); /* device to host */
	CHECK_EQ(error_on(h, cid), ERR_INVALID_CMD);
	ops->destroy(h);
}

static void regress_init_with_wrong_length(void)
{
	static const uint8_t nonce[9] = { 1 };
	void *h = open_class(key);
	uint32_t cid = allocate(h);

	send_msg(h, BROADCAST, CMD_INIT, nonce, 7);
	CHECK_EQ(error_on(h, BROADCAST), ERR_INVALID_LEN);
	send_msg(h, cid, CMD_INIT, nonce, 9);
	CHECK_EQ(error_on(h, cid), ERR_INVALID_LEN);
	ops->destroy(h);
}

static void regress_empty_cbor_and_short_msg(void)
{
	static const uint8_t apdu[] = { 0x00, 0x03, 0x00 };
	void *h = open_class(key);
	uint32_t cid = allocate(h);

	send_msg(h, cid, CMD_CBOR, NULL, 0);
	CHECK_EQ(error_on(h, cid), ERR_INVALID_LEN);
	send_msg(h, cid, CMD_MSG, apdu, sizeof(apdu));
	CHECK_EQ(error_on(h, cid), ERR_INVALID_LEN);
	ops->destroy(h);
}

static void regress_lock_with_wrong_length(void)
{
	static const uint8_t two[2] = { 1, 1 };
	void *h = open_class(key);
	uint32_t cid = allocate(h);

	send_msg(h, cid, CMD_LOCK, two, sizeof(two));
	CHECK_EQ(error_on(h, cid), ERR_INVALID_LEN);
	ops->destroy(h);
}

/* A transfer that is not whole reports is refused, nothing processed. */
static void regress_short_report(void)
{
	static const uint8_t nonce[8] = { 3 };
	uint8_t rpt[2 * RPT];
	void *h = open_class(key);

	init_report(rpt, BROADCAST, CMD_INIT, 8, nonce, 8);
	CHECK_EQ(ops->out(h, rpt, 10), USB_STALL);
	CHECK_EQ(ops->out(h, rpt, RPT + 1), USB_STALL);
	CHECK(quiet(h, 200));
	CHECK_EQ(ops->out(h, rpt, 0), 0);
	CHECK(allocate(h) != 0);
	ops->destroy(h);
}

/* §11.2.5.2: a message whose next packet never comes ends in
 * ERR_MSG_TIMEOUT after about 3 s. */
static void regress_timeout_between_packets(void)
{
	static uint8_t data[100];
	uint8_t buf[2 * RPT];
	void *h = open_class(key);
	uint32_t cid = allocate(h);
	uint64_t t0;

	frame(buf, cid, CMD_PING, data, sizeof(data));
	t0 = now_ms();
	CHECK_EQ(ops->out(h, buf, RPT), 0);
	CHECK_EQ(recv_msg(h, cid, &rep, 3200 + 1000), 0);
	CHECK_EQ(rep.cmd, CMD_ERROR);
	CHECK_EQ(rep.data[0], ERR_MSG_TIMEOUT);
	CHECK(now_ms() - t0 >= 2900);
	CHECK_EQ(ops->out(h, buf + RPT, RPT), 0); /* late: spurious */
	CHECK(quiet(h, 200));
	ops->destroy(h);
}

int main(void)
{
	struct vkey_options opt = { .up = VKEY_UP_AUTO };
	char path[128], err[256];
	int rc;

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/auto.vkey", dir);
	opt.state_path = path;
	if (vkey_open(&key, &opt, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	snprintf(path, sizeof(path), "%s/prompt.vkey", dir);
	opt.up = VKEY_UP_PROMPT;
	opt.up_timeout_ms = 10000;
	if (vkey_open(&key_prompt, &opt, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}

	RUN(init_allocates_channel_and_echoes_nonce);
	RUN(ping_of_1_byte);
	RUN(ping_of_57_bytes);
	RUN(ping_of_64_plus_59_bytes);
	RUN(ping_of_7609_bytes);
	RUN(cbor_get_info_answers_ok);
	RUN(msg_u2f_version);
	RUN(wink_answers_empty);
	RUN(lock_makes_other_channels_busy);
	RUN(interleaved_pings_on_two_channels);
	RUN(several_reports_in_one_transfer);
	RUN(cancel_ends_touch_wait);
	RUN(touch_approves_wait);
	RUN(init_resyncs_channel);
	RUN(init_resync_abandons_touch_wait);
	RUN(reset_abandons_touch_wait);
	RUN(full_table_reuses_oldest_channel);
	RUN(reset_forgets_channels);
	RUN(hid_descriptors_and_requests);
	RUN(regress_continuation_without_init);
	RUN(regress_bad_seq);
	RUN(regress_init_packet_inside_message);
	RUN(regress_length_over_max_msg);
	RUN(regress_cid_zero);
	RUN(regress_unallocated_cid);
	RUN(regress_unknown_command);
	RUN(regress_init_with_wrong_length);
	RUN(regress_empty_cbor_and_short_msg);
	RUN(regress_lock_with_wrong_length);
	RUN(regress_short_report);
	RUN(regress_timeout_between_packets);

	rc = CHECK_DONE();
	vkey_close(key_prompt);
	vkey_close(key);
	check_rmtree(dir);
	return rc;
}
