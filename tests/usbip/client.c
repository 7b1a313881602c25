/* The test client of client.h: what Linux's usbip tool and vhci-hcd put
 * on the wire, and a strict reader of what comes back. */
#include "client.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define URB_DIR_IN 0x0200 /* Linux's transfer_flags bit for IN */

int64_t uip_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int left_ms(int64_t deadline)
{
	int64_t l = deadline - uip_now_ms();

	return l < 0 ? 0 : (int)l;
}

uint16_t uip_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

uint32_t uip_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	       (uint32_t)p[2] << 8 | p[3];
}

void uip_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

void uip_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

struct uip_client *uip_new(const struct uip_link *link, FILE *tape)
{
	struct uip_client *c = calloc(1, sizeof(*c));

	if (c == NULL)
		abort();
	c->link = *link;
	c->next_seq = 1;
	c->number_of_packets = USBIP_NO_ISO;
	c->tape = tape;
	return c;
}

void uip_ret_clear(struct uip_ret *r)
{
	free(r->data);
	memset(r, 0, sizeof(*r));
}

void uip_free(struct uip_client *c)
{
	if (c == NULL)
		return;
	for (int i = 0; i < c->n_stash; i++)
		uip_ret_clear(&c->stash[i]);
	if (c->link.close != NULL)
		c->link.close(c->link.arg);
	if (c->tape != NULL)
		fclose(c->tape);
	free(c);
}

/* --- bytes --------------------------------------------------------------- */

int uip_send_raw(struct uip_client *c, const void *p, size_t n)
{
	if (c->tape != NULL && n > 0)
		fwrite(p, 1, n, c->tape);
	return c->link.send(c->link.arg, p, n, UIP_MS);
}

int uip_recv_exact(struct uip_client *c, uint8_t *p, size_t n, int ms)
{
	int64_t deadline = uip_now_ms() + ms;
	size_t got = 0;

	if (c->peek_len > 0) {
		got = c->peek_len < n ? c->peek_len : n;
		memcpy(p, c->peek, got);
		memmove(c->peek, c->peek + got, c->peek_len - got);
		c->peek_len -= got;
	}
	while (got < n) {
		int r = c->link.recv(c->link.arg, p + got, n - got,
				     left_ms(deadline));

		if (r < 0)
			c->closed = true;
		if (r <= 0)
			return -1;
		got += (size_t)r;
	}
	return 0;
}

bool uip_quiet(struct uip_client *c, int ms)
{
	int r;

	if (c->peek_len > 0)
		return false;
	r = c->link.recv(c->link.arg, c->peek, sizeof(c->peek), ms);
	if (r < 0)
		c->closed = true;
	if (r > 0)
		c->peek_len = (size_t)r;
	return r == 0;
}

bool uip_wait_closed(struct uip_client *c, int ms)
{
	int64_t deadline = uip_now_ms() + ms;
	uint8_t b[4096];

	c->peek_len = 0;
	while (!c->closed) {
		int r = c->link.recv(c->link.arg, b, sizeof(b),
				     left_ms(deadline));

		if (r < 0)
			c->closed = true;
		else if (r == 0 && uip_now_ms() >= deadline)
			break;
	}
	return c->closed;
}

/* --- operations ---------------------------------------------------------- */

void uip_op_header(uint8_t b[8], uint16_t version, uint16_t code,
		   uint32_t status)
{
	uip_put16(b, version);
	uip_put16(b + 2, code);
	uip_put32(b + 4, status);
}

long uip_devlist(struct uip_client *c, uint8_t *buf, size_t cap, int ms)
{
	uint8_t h[8];

	uip_op_header(h, USBIP_VERSION, USBIP_OP_REQ_DEVLIST, 0);
	if (uip_send_raw(c, h, sizeof(h)) != 0)
		return -1;
	return uip_read_all(c, buf, cap, ms);
}

long uip_read_all(struct uip_client *c, uint8_t *buf, size_t cap, int ms)
{
	int64_t deadline = uip_now_ms() + ms;
	size_t got = c->peek_len < cap ? c->peek_len : cap;

	memcpy(buf, c->peek, got);
	c->peek_len = 0;
	for (;;) {
		int r;

		if (got == cap)
			return -1;
		r = c->link.recv(c->link.arg, buf + got, cap - got,
				 left_ms(deadline));
		if (r < 0) {
			c->closed = true;
			return (long)got;
		}
		if (r == 0)
			return -1;
		got += (size_t)r;
	}
}

long uip_import_v(struct uip_client *c, uint16_t version, const char *busid,
		  uint8_t dev[312], int ms)
{
	int64_t deadline = uip_now_ms() + ms;
	uint8_t req[8 + USBIP_BUSID_SIZE] = { 0 }, h[8];
	uint32_t status;

	uip_op_header(req, version, USBIP_OP_REQ_IMPORT, 0);
	strncpy((char *)req + 8, busid, USBIP_BUSID_SIZE - 1);
	if (uip_send_raw(c, req, sizeof(req)) != 0 ||
	    uip_recv_exact(c, h, sizeof(h), ms) != 0)
		return -1;
	if (uip_get16(h) != USBIP_VERSION ||
	    uip_get16(h + 2) != USBIP_OP_REP_IMPORT) {
		c->bad_replies++;
		return -1;
	}
	status = uip_get32(h + 4);
	if (status != USBIP_ST_OK)
		return (long)status;
	if (uip_recv_exact(c, dev, 312, left_ms(deadline)) != 0)
		return -1;
	c->devid = uip_get32(dev + 288) << 16 | uip_get32(dev + 292);
	return 0;
}

long uip_import(struct uip_client *c, const char *busid, uint8_t dev[312])
{
	return uip_import_v(c, USBIP_VERSION, busid, dev, UIP_MS);
}

/* --- URBs ---------------------------------------------------------------- */

void uip_submit_header(uint8_t h[48], uint32_t seqnum, uint32_t devid,
		       uint32_t dir, uint32_t ep, uint32_t flags, int32_t len,
		       int32_t npackets, const uint8_t setup[8])
{
	memset(h, 0, 48);
	uip_put32(h, USBIP_CMD_SUBMIT);
	uip_put32(h + 4, seqnum);
	uip_put32(h + 8, devid);
	uip_put32(h + 12, dir);
	uip_put32(h + 16, ep);
	uip_put32(h + 20, flags);
	uip_put32(h + 24, (uint32_t)len);
	uip_put32(h + 28, 0); /* start_frame */
	uip_put32(h + 32, (uint32_t)npackets);
	uip_put32(h + 36, 0); /* interval */
	if (setup != NULL)
		memcpy(h + 40, setup, 8);
}

static void remember(struct uip_client *c, uint32_t seqnum, uint8_t dir,
		     int32_t len)
{
	for (size_t i = 0; i < UIP_OUTSTANDING; i++)
		if (!c->out[i].used) {
			c->out[i].used = true;
			c->out[i].seqnum = seqnum;
			c->out[i].dir = dir;
			c->out[i].len = len;
			return;
		}
	fprintf(stderr, "client: too many URBs in flight\n");
	abort();
}

/* The request seqnum answers (forgotten now), or -1. */
static int recall(struct uip_client *c, uint32_t seqnum, uint8_t *dir,
		  int32_t *len)
{
	for (size_t i = 0; i < UIP_OUTSTANDING; i++)
		if (c->out[i].used && c->out[i].seqnum == seqnum) {
			c->out[i].used = false;
			*dir = c->out[i].dir;
			*len = c->out[i].len;
			return 0;
		}
	return -1;
}

uint32_t uip_submit(struct uip_client *c, uint8_t dir, uint8_t ep,
		    int32_t len, const uint8_t setup[8], const uint8_t *data)
{
	uint32_t seq = c->next_seq++;
	uint8_t h[48];

	uip_submit_header(h, seq, c->devid, dir, ep,
			  dir == USBIP_DIR_IN ? URB_DIR_IN : 0, len,
			  (int32_t)c->number_of_packets, setup);
	remember(c, seq, dir, len);
	if (uip_send_raw(c, h, sizeof(h)) != 0)
		return 0;
	if (dir == USBIP_DIR_OUT && len > 0 &&
	    uip_send_raw(c, data, (size_t)len) != 0)
		return 0;
	return seq;
}

uint32_t uip_unlink(struct uip_client *c, uint32_t seqnum)
{
	uint32_t seq = c->next_seq++;
	uint8_t h[48] = { 0 };

	uip_put32(h, USBIP_CMD_UNLINK);
	uip_put32(h + 4, seq);
	uip_put32(h + 8, c->devid);
	uip_put32(h + 12, USBIP_DIR_OUT);
	uip_put32(h + 20, seqnum);
	remember(c, seq, 0xFF, (int32_t)seqnum); /* len: the target */
	return uip_send_raw(c, h, sizeof(h)) == 0 ? seq : 0;
}

/* One answer off the wire. */
static int read_ret(struct uip_client *c, struct uip_ret *r, int ms)
{
	uint8_t h[48];
	uint8_t dir = 0;
	int32_t len = 0;

	memset(r, 0, sizeof(*r));
	if (uip_recv_exact(c, h, sizeof(h), ms) != 0)
		return -1;
	r->command = uip_get32(h);
	r->seqnum = uip_get32(h + 4);
	r->devid = uip_get32(h + 8);
	r->direction = uip_get32(h + 12);
	r->ep = uip_get32(h + 16);
	r->status = (int32_t)uip_get32(h + 20);
	r->actual_length = (int32_t)uip_get32(h + 24);
	r->start_frame = (int32_t)uip_get32(h + 28);
	r->number_of_packets = (int32_t)uip_get32(h + 32);
	r->error_count = (int32_t)uip_get32(h + 36);
	memcpy(r->padding, h + 40, 8);
	if (recall(c, r->seqnum, &dir, &len) != 0 ||
	    (r->command == USBIP_RET_UNLINK) != (dir == 0xFF) ||
	    (r->command != USBIP_RET_SUBMIT &&
	     r->command != USBIP_RET_UNLINK)) {
		fprintf(stderr, "client: reply %u to seqnum %u matches no "
				"request\n", r->command, r->seqnum);
		c->bad_replies++;
		return -1;
	}
	/* vhci-hcd gives an unlinked URB back at RET_UNLINK -ECONNRESET:
	 * a RET_SUBMIT for it afterwards matches nothing. */
	if (r->command == USBIP_RET_UNLINK &&
	    r->status == -USBIP_ECONNRESET) {
		recall(c, (uint32_t)len, &dir, &len);
		return 0;
	}
	if (r->command != USBIP_RET_SUBMIT || dir != USBIP_DIR_IN)
		return 0;
	if (r->actual_length < 0 || r->actual_length > len ||
	    r->actual_length > UIP_DATA_MAX) {
		fprintf(stderr, "client: seqnum %u: actual_length %d for a "
				"%d-byte IN URB\n", r->seqnum,
			r->actual_length, len);
		c->bad_replies++;
		return -1;
	}
	if (r->actual_length == 0)
		return 0;
	r->data = malloc((size_t)r->actual_length);
	if (r->data == NULL)
		abort();
	if (uip_recv_exact(c, r->data, (size_t)r->actual_length, ms) != 0) {
		uip_ret_clear(r);
		return -1;
	}
	return 0;
}

int uip_next(struct uip_client *c, struct uip_ret *r, int ms)
{
	if (c->n_stash > 0) {
		*r = c->stash[0];
		memmove(c->stash, c->stash + 1,
			(size_t)(c->n_stash - 1) * sizeof(c->stash[0]));
		c->n_stash--;
		return 0;
	}
	return read_ret(c, r, ms);
}

int uip_wait(struct uip_client *c, uint32_t seqnum, struct uip_ret *r, int ms)
{
	int64_t deadline = uip_now_ms() + ms;

	memset(r, 0, sizeof(*r));
	for (int i = 0; i < c->n_stash; i++)
		if (c->stash[i].seqnum == seqnum) {
			*r = c->stash[i];
			memmove(c->stash + i, c->stash + i + 1,
				(size_t)(c->n_stash - i - 1) *
					sizeof(c->stash[0]));
			c->n_stash--;
			return 0;
		}
	for (;;) {
		if (read_ret(c, r, left_ms(deadline)) != 0)
			return -1;
		if (r->seqnum == seqnum)
			return 0;
		if (c->n_stash == UIP_STASH) {
			fprintf(stderr, "client: answer stash full\n");
			uip_ret_clear(r);
			return -1;
		}
		c->stash[c->n_stash++] = *r;
		memset(r, 0, sizeof(*r));
	}
}

int uip_control(struct uip_client *c, uint8_t rt, uint8_t req, uint16_t value,
		uint16_t index, uint8_t *data, uint16_t len, int *actual,
		struct uip_ret *out)
{
	uint8_t setup[8] = { rt,
			     req,
			     (uint8_t)value,
			     (uint8_t)(value >> 8),
			     (uint8_t)index,
			     (uint8_t)(index >> 8),
			     (uint8_t)len,
			     (uint8_t)(len >> 8) };
	uint8_t dir = (rt & 0x80) ? USBIP_DIR_IN : USBIP_DIR_OUT;
	struct uip_ret r;
	uint32_t seq = uip_submit(c, dir, 0, len, setup, data);
	int st;

	if (seq == 0 || uip_wait(c, seq, &r, UIP_MS) != 0)
		return -1000;
	if (dir == USBIP_DIR_IN && r.actual_length > 0)
		memcpy(data, r.data, (size_t)r.actual_length);
	if (actual != NULL)
		*actual = r.actual_length;
	st = r.status;
	if (out != NULL) {
		*out = r;
		out->data = NULL;
	}
	uip_ret_clear(&r);
	return st;
}

int uip_configure(struct uip_client *c)
{
	return uip_control(c, 0x00, 9, 1, 0, NULL, 0, NULL, NULL);
}

/* --- CTAPHID ------------------------------------------------------------- */

int uip_hid_out(struct uip_client *c, const uint8_t rpt[64])
{
	struct uip_ret r;
	uint32_t seq = uip_submit(c, USBIP_DIR_OUT, 1, 64, NULL, rpt);
	int ok;

	if (seq == 0 || uip_wait(c, seq, &r, UIP_MS) != 0)
		return -1;
	ok = r.status == 0 && r.actual_length == 64;
	uip_ret_clear(&r);
	return ok ? 0 : -1;
}

void uip_hid_start(struct uip_client *c)
{
	if (c->hid_in_seq == 0)
		c->hid_in_seq = uip_submit(c, USBIP_DIR_IN, 1, 64, NULL, NULL);
}

int uip_hid_stop(struct uip_client *c)
{
	struct uip_ret r;
	uint32_t un;
	int ok;

	if (c->hid_in_seq == 0)
		return 0;
	un = uip_unlink(c, c->hid_in_seq);
	c->hid_in_seq = 0;
	if (un == 0 || uip_wait(c, un, &r, UIP_MS) != 0)
		return -1;
	ok = r.command == USBIP_RET_UNLINK &&
	     r.status == -USBIP_ECONNRESET;
	uip_ret_clear(&r);
	return ok ? 0 : -1;
}

int uip_hid_send(struct uip_client *c, uint32_t cid, uint8_t cmd,
		 const uint8_t *data, size_t len)
{
	uint8_t rpt[64] = { 0 };
	size_t off = len < 57 ? len : 57;

	uip_hid_start(c);
	uip_put32(rpt, cid);
	rpt[4] = cmd;
	rpt[5] = (uint8_t)(len >> 8);
	rpt[6] = (uint8_t)len;
	if (off > 0)
		memcpy(rpt + 7, data, off);
	if (uip_hid_out(c, rpt) != 0)
		return -1;
	for (uint8_t seq = 0; off < len; seq++) {
		size_t n = len - off < 59 ? len - off : 59;

		memset(rpt + 4, 0, 60);
		rpt[4] = seq;
		memcpy(rpt + 5, data + off, n);
		off += n;
		if (uip_hid_out(c, rpt) != 0)
			return -1;
	}
	return 0;
}

int uip_hid_in(struct uip_client *c, uint8_t rpt[64], int ms)
{
	struct uip_ret r;
	int ok;

	uip_hid_start(c);
	if (c->hid_in_seq == 0 || uip_wait(c, c->hid_in_seq, &r, ms) != 0)
		return -1;
	c->hid_in_seq = 0;
	uip_hid_start(c); /* before looking at this one, as usbhid does */
	ok = r.command == USBIP_RET_SUBMIT && r.status == 0 &&
	     r.actual_length == 64;
	if (ok)
		memcpy(rpt, r.data, 64);
	else
		fprintf(stderr, "client: interrupt IN: status %d, %d bytes\n",
			r.status, r.actual_length);
	uip_ret_clear(&r);
	return ok ? 0 : -1;
}

int uip_hid_recv(struct uip_client *c, uint32_t cid, uint8_t *cmd,
		 uint8_t *buf, size_t cap, int *keepalives, int ms)
{
	uint8_t rpt[64];
	size_t off, total;

	for (;;) {
		if (uip_hid_in(c, rpt, ms) != 0)
			return -1;
		if (rpt[4] != UIP_HID_KEEPALIVE)
			break;
		if (keepalives != NULL && uip_get32(rpt) == cid)
			(*keepalives)++;
	}
	if (uip_get32(rpt) != cid || (rpt[4] & 0x80) == 0)
		return -1;
	*cmd = rpt[4];
	total = (size_t)rpt[5] << 8 | rpt[6];
	if (total > cap)
		return -1;
	off = total < 57 ? total : 57;
	memcpy(buf, rpt + 7, off);
	for (uint8_t seq = 0; off < total; seq++) {
		size_t n = total - off < 59 ? total - off : 59;

		if (uip_hid_in(c, rpt, ms) != 0 || uip_get32(rpt) != cid ||
		    rpt[4] != seq)
			return -1;
		memcpy(buf + off, rpt + 5, n);
		off += n;
	}
	return (int)total;
}

uint32_t uip_hid_init(struct uip_client *c)
{
	static const uint8_t nonce[8] = { 8, 7, 6, 5, 4, 3, 2, 1 };
	uint8_t resp[64], cmd = 0;
	int n;

	if (uip_hid_send(c, 0xFFFFFFFFu, UIP_HID_INIT, nonce, 8) != 0)
		return 0;
	n = uip_hid_recv(c, 0xFFFFFFFFu, &cmd, resp, sizeof(resp), NULL,
			 UIP_MS);
	if (n < 17 || cmd != UIP_HID_INIT || memcmp(resp, nonce, 8) != 0)
		return 0;
	return uip_get32(resp + 8);
}

int uip_hid_get_info(struct uip_client *c, uint32_t cid, uint8_t *buf,
		     size_t cap)
{
	static const uint8_t get_info = 0x04;
	uint8_t cmd = 0;
	int n;

	if (uip_hid_send(c, cid, UIP_HID_CBOR, &get_info, 1) != 0)
		return -1;
	n = uip_hid_recv(c, cid, &cmd, buf, cap, NULL, UIP_MS);
	return cmd == UIP_HID_CBOR ? n : -1;
}

/* --- CCID ---------------------------------------------------------------- */

int uip_ccid_send(struct uip_client *c, uint8_t type, const uint8_t *data,
		  size_t len)
{
	static uint8_t msg[UIP_DATA_MAX];
	static uint8_t bseq;
	struct uip_ret r;
	uint32_t seq;
	int ok;

	if (len + 10 > sizeof(msg))
		return -1;
	memset(msg, 0, 10);
	msg[0] = type;
	msg[1] = (uint8_t)len;
	msg[2] = (uint8_t)(len >> 8);
	msg[3] = (uint8_t)(len >> 16);
	msg[6] = bseq;
	if (len > 0)
		memcpy(msg + 10, data, len);
	seq = uip_submit(c, USBIP_DIR_OUT, 2, (int32_t)(len + 10), NULL, msg);
	if (seq == 0 || uip_wait(c, seq, &r, UIP_MS) != 0)
		return -1;
	ok = r.status == 0 && r.actual_length == (int32_t)(len + 10);
	uip_ret_clear(&r);
	return ok ? bseq++ : -1;
}

size_t uip_ccid_recv(struct uip_client *c, uint8_t *msg, size_t cap,
		     int32_t urb_len, int ms)
{
	int64_t deadline = uip_now_ms() + ms;
	size_t n = 0;

	for (;;) {
		struct uip_ret r;
		int32_t got;

		if (c->ccid_in_seq == 0)
			c->ccid_in_seq = uip_submit(c, USBIP_DIR_IN, 2,
						    urb_len, NULL, NULL);
		if (c->ccid_in_seq == 0 ||
		    uip_wait(c, c->ccid_in_seq, &r, left_ms(deadline)) != 0)
			return 0;
		c->ccid_in_seq = 0;
		got = r.actual_length;
		if (r.status != 0 || got < 0 || n + (size_t)got > cap) {
			fprintf(stderr, "client: bulk IN: status %d, %d "
					"bytes\n", r.status, got);
			uip_ret_clear(&r);
			return 0;
		}
		if (got > 0)
			memcpy(msg + n, r.data, (size_t)got);
		n += (size_t)got;
		uip_ret_clear(&r);
		if (got < urb_len)
			break;
	}
	if (n < 10 || n != 10 + (size_t)(msg[1] | msg[2] << 8 |
					 msg[3] << 16 |
					 (uint32_t)msg[4] << 24)) {
		fprintf(stderr, "client: CCID message of %zu bytes\n", n);
		return 0;
	}
	return n;
}

size_t uip_ccid_answer(struct uip_client *c, uint8_t *msg, size_t cap,
		       int32_t urb_len, int *te, int ms)
{
	int64_t deadline = uip_now_ms() + ms;

	for (;;) {
		size_t n = uip_ccid_recv(c, msg, cap, urb_len,
					 left_ms(deadline));

		if (n == 0 || msg[0] != UIP_RDR_TO_PC_DATA_BLOCK ||
		    (msg[7] & 0xC0) != 0x80)
			return n;
		if (te != NULL)
			(*te)++;
	}
}

unsigned uip_ccid_apdu(struct uip_client *c, const uint8_t *apdu, size_t n,
		       uint8_t *msg, size_t cap, size_t *len)
{
	int s = uip_ccid_send(c, UIP_PC_TO_RDR_XFR_BLOCK, apdu, n);
	size_t got;

	*len = 0;
	if (s < 0)
		return 0;
	got = uip_ccid_answer(c, msg, cap, 65546, NULL, UIP_MS);
	if (got < 12 || msg[0] != UIP_RDR_TO_PC_DATA_BLOCK || msg[6] != s ||
	    msg[7] != 0)
		return 0;
	*len = got;
	return (unsigned)(msg[got - 2] << 8 | msg[got - 1]);
}

/* --- TCP ----------------------------------------------------------------- */

int uip_tcp_connect(const char *host, uint16_t port)
{
	struct sockaddr_in in = { .sin_family = AF_INET,
				  .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;

	if (fd < 0)
		return -1;
	if (inet_pton(AF_INET, host, &in.sin_addr) != 1 ||
	    connect(fd, (struct sockaddr *)&in, sizeof(in)) != 0) {
		close(fd);
		return -1;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	return fd;
}

static int tcp_send(void *arg, const uint8_t *p, size_t n, int ms)
{
	int fd = (int)(intptr_t)arg;
	int64_t deadline = uip_now_ms() + ms;
	size_t off = 0;

	while (off < n) {
		struct pollfd pf = { fd, POLLOUT, 0 };
		ssize_t w;

		if (poll(&pf, 1, left_ms(deadline)) <= 0)
			return -1;
		w = send(fd, p + off, n - off, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (w <= 0)
			return -1;
		off += (size_t)w;
	}
	return 0;
}

static int tcp_recv(void *arg, uint8_t *p, size_t cap, int ms)
{
	int fd = (int)(intptr_t)arg;
	struct pollfd pf = { fd, POLLIN, 0 };
	ssize_t r;
	int pr = poll(&pf, 1, ms);

	if (pr < 0)
		return errno == EINTR ? 0 : -1;
	if (pr == 0)
		return 0;
	r = recv(fd, p, cap, MSG_DONTWAIT);
	if (r > 0)
		return (int)r;
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return 0;
	return -1;
}

static void tcp_close(void *arg)
{
	close((int)(intptr_t)arg);
}

struct uip_link uip_tcp_link(int fd)
{
	return (struct uip_link){ tcp_send, tcp_recv, tcp_close,
				  (void *)(intptr_t)fd };
}

int uip_tcp_fd(const struct uip_client *c)
{
	return (int)(intptr_t)c->link.arg;
}
