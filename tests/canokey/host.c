/* Guest-side drivers for the canokey harness (host.h). */
#include "host.h"

#include <stdio.h>
#include <string.h>

#define HOST_SPIN 4096 /* bound on any polling loop */
#define NAK_BOUND 64   /* uhci polls that may find nothing yet */

#define DESC_DEVICE 1
#define DESC_CONFIG 2
#define DESC_STRING 3
#define DESC_INTERFACE 4
#define DESC_BOS 15
#define DESC_CLASS 0x21
#define DESC_HID_REPORT 0x22

void host_init(struct host *h, enum fq_hc hc)
{
	memset(h, 0, sizeof(*h));
	h->hc = hc;
}

static unsigned u16le(const uint8_t *p)
{
	return (unsigned)p[0] | (unsigned)p[1] << 8;
}

static uint32_t u32le(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	       (uint32_t)p[3] << 24;
}

static int get_desc(uint8_t rt, uint16_t value, uint16_t index,
		    uint16_t len, uint8_t *buf)
{
	return fq_control(rt, 6, value, index, len, buf);
}

/* A string descriptor as ASCII ('?' for the rest). */
static int get_string(uint8_t i, char *out, size_t cap)
{
	uint8_t b[FQ_DATA_BUF];
	int n = get_desc(0x80, (uint16_t)(DESC_STRING << 8 | i), 0x0409, 255,
			 b);
	size_t k = 0;

	if (n < 2 || b[1] != DESC_STRING || b[0] != n)
		return -1;
	for (int j = 2; j + 1 < n && k + 1 < cap; j += 2)
		out[k++] = b[j + 1] == 0 && b[j] < 0x80 ? (char)b[j] : '?';
	out[k] = '\0';
	return 0;
}

/* The interface and class descriptors in the configuration. */
static void parse_config(struct host *h, const uint8_t *c, size_t n)
{
	uint8_t cls = 0;

	for (size_t off = 0; off + 2 <= n && c[off] >= 2; off += c[off]) {
		const uint8_t *d = c + off;

		if (off + d[0] > n)
			break;
		if (d[1] == DESC_INTERFACE && d[0] >= 9)
			cls = d[5];
		if (d[1] == DESC_CLASS && cls == 0x03 && d[0] >= 9)
			h->hid_report_len = (uint16_t)u16le(d + 7);
		if (d[1] == DESC_CLASS && cls == 0x0B && d[0] >= 48)
			h->ccid_max = u32le(d + 44);
	}
}

static int set_address(struct host *h)
{
	if (h->hc == FQ_XHCI) /* Address Device: no data stage at all */
		return fq_xhci_address(HOST_XHCI_SLOT) == 0 ? 0 : -1;
	return fq_control(0x00, 5, HOST_UHCI_ADDR, 0, 0, NULL) == 0 ? 0 : -1;
}

static int read_config(struct host *h)
{
	uint8_t b[FQ_DATA_BUF];
	int n = get_desc(0x80, DESC_CONFIG << 8, 0, 9, b);

	if (n != 9 || b[1] != DESC_CONFIG)
		return -1;
	n = get_desc(0x80, DESC_CONFIG << 8, 0, (uint16_t)u16le(b + 2), b);
	if (n < 9 || (unsigned)n != u16le(b + 2))
		return -1;
	parse_config(h, b, (size_t)n);
	return 0;
}

static int read_device(struct host *h)
{
	uint8_t b[FQ_DATA_BUF];
	int n = get_desc(0x80, DESC_DEVICE << 8, 0, 64, b);

	if (n != 18 || b[0] != 18 || b[1] != DESC_DEVICE)
		return -1;
	if (set_address(h) != 0)
		return -1;
	n = get_desc(0x80, DESC_DEVICE << 8, 0, 18, b);
	if (n != 18)
		return -1;
	h->vid = (uint16_t)u16le(b + 8);
	h->pid = (uint16_t)u16le(b + 10);
	if (u16le(b + 2) >= 0x0201) { /* the host reads the BOS */
		n = get_desc(0x80, DESC_BOS << 8, 0, 5, b);
		if (n != 5 || get_desc(0x80, DESC_BOS << 8, 0,
				       (uint16_t)u16le(b + 2),
				       b) != (int)u16le(b + 2))
			return -1;
	}
	return 0;
}

/* HID: SET_IDLE (a STALL is fine, Linux ignores it), the report
 * descriptor, and a FIDO usage page (F1D0) in it. */
static int hid_setup(struct host *h)
{
	uint8_t b[FQ_DATA_BUF];
	int n;

	(void)fq_control(0x21, 0x0A, 0, 0, 0, NULL);
	if (h->hid_report_len == 0)
		return -1;
	n = get_desc(0x81, DESC_HID_REPORT << 8, 0, h->hid_report_len, b);
	if (n != h->hid_report_len || n < 3)
		return -1;
	h->fido_usage = b[0] == 0x06 && b[1] == 0xD0 && b[2] == 0xF1;
	return 0;
}

int host_enumerate(struct host *h)
{
	uint8_t b[8];

	if (read_device(h) != 0 || read_config(h) != 0) {
		fprintf(stderr, "host: device or configuration descriptor\n");
		return -1;
	}
	if (get_desc(0x80, DESC_STRING << 8, 0, 255, b) != 4 ||
	    get_string(1, h->manufacturer, sizeof(h->manufacturer)) != 0 ||
	    get_string(2, h->product, sizeof(h->product)) != 0 ||
	    get_string(3, h->serial, sizeof(h->serial)) != 0) {
		fprintf(stderr, "host: string descriptors\n");
		return -1;
	}
	if (fq_control(0x00, 9, 1, 0, 0, NULL) != 0) {
		fprintf(stderr, "host: SET_CONFIGURATION\n");
		return -1;
	}
	if (hid_setup(h) != 0) {
		fprintf(stderr, "host: HID report descriptor\n");
		return -1;
	}
	host_hid_service(h);
	return 0;
}

/* --- interrupt IN ------------------------------------------------------- */

static void hid_push(struct host *h, const uint8_t *rpt, int n)
{
	if (n != HOST_RPT) { /* one report per transfer, always 64 bytes */
		h->hid_bad++;
		return;
	}
	if (h->hid_count == HOST_HIDQ) {
		h->hid_bad++;
		return;
	}
	memcpy(h->hidq[(h->hid_head + h->hid_count++) % HOST_HIDQ], rpt,
	       HOST_RPT);
}

/* xhci: usbhid keeps one IN transfer queued; each completion is taken
 * and a new one submitted (the doorbell tries it at once). */
static void hid_service_xhci(struct host *h)
{
	uint8_t rpt[FQ_IN_SIZE];
	int st;

	for (unsigned i = 0; i < HOST_SPIN; i++) {
		if (fq_td_take(1, &st, rpt, sizeof(rpt))) {
			hid_push(h, rpt, st);
			continue;
		}
		if (fq.td[1].pending)
			return;
		fq_xhci_submit(1, HOST_RPT);
		if (fq.td[1].pending)
			return;
	}
}

/* uhci: the frame list polls the endpoint until it NAKs. */
static void hid_service_uhci(struct host *h)
{
	uint8_t rpt[HOST_RPT];
	int r;

	for (unsigned i = 0; i < HOST_SPIN; i++) {
		r = fq_in(1, rpt, sizeof(rpt));
		if (r == FQ_NAK)
			return;
		hid_push(h, rpt, r);
	}
}

void host_hid_service(struct host *h)
{
	if (h->hc == FQ_XHCI)
		hid_service_xhci(h);
	else
		hid_service_uhci(h);
}

int host_hid_write(struct host *h, const uint8_t rpt[HOST_RPT])
{
	int r = fq_out(1, rpt, HOST_RPT);

	host_hid_service(h);
	return r == HOST_RPT ? 0 : -1;
}

int host_hid_read(struct host *h, uint8_t rpt[HOST_RPT])
{
	host_hid_service(h);
	return host_hid_read_queued(h, rpt);
}

int host_hid_read_queued(struct host *h, uint8_t rpt[HOST_RPT])
{
	if (h->hid_count == 0)
		return -1;
	memcpy(rpt, h->hidq[h->hid_head], HOST_RPT);
	h->hid_head = (h->hid_head + 1) % HOST_HIDQ;
	h->hid_count--;
	return 0;
}

void host_hid_flush(struct host *h)
{
	h->hid_head = h->hid_count = 0;
}

/* Until n reports are in hand, and not one IN token more: uhci polls only
 * while it lacks one; xhci submits no new transfer once it has them. */
int host_hid_collect(struct host *h, size_t n)
{
	uint8_t rpt[FQ_IN_SIZE];
	unsigned naks = 0;
	int st;

	for (unsigned i = 0; i < HOST_SPIN && h->hid_count < n; i++) {
		if (h->hc == FQ_UHCI) {
			st = fq_in(1, rpt, HOST_RPT);
			if (st == FQ_NAK && ++naks > NAK_BOUND)
				break;
			if (st != FQ_NAK)
				hid_push(h, rpt, st);
			continue;
		}
		if (fq_td_take(1, &st, rpt, sizeof(rpt))) {
			hid_push(h, rpt, st);
			continue;
		}
		if (fq.td[1].pending)
			break; /* waits for a wakeup that does not come */
		fq_xhci_submit(1, HOST_RPT);
	}
	return h->hid_count >= n ? 0 : -1;
}

/* --- CTAPHID ------------------------------------------------------------ */

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

/* One OUT report, then (service) the IN side polled as usbhid does. */
static int write_report(struct host *h, const uint8_t *rpt, bool service)
{
	if (service)
		return host_hid_write(h, rpt);
	return fq_out(1, rpt, HOST_RPT) == HOST_RPT ? 0 : -1;
}

static int send_msg(struct host *h, uint32_t cid, uint8_t cmd,
		    const uint8_t *d, size_t len, bool service)
{
	uint8_t rpt[HOST_RPT];
	size_t off = 0, n;
	uint8_t seq = 0;

	memset(rpt, 0, sizeof(rpt));
	put_cid(rpt, cid);
	rpt[4] = (uint8_t)(cmd | 0x80);
	rpt[5] = (uint8_t)(len >> 8);
	rpt[6] = (uint8_t)len;
	n = len < 57 ? len : 57;
	memcpy(rpt + 7, d, n);
	off = n;
	if (write_report(h, rpt, service) != 0)
		return -1;
	while (off < len) {
		memset(rpt, 0, sizeof(rpt));
		put_cid(rpt, cid);
		rpt[4] = seq++;
		n = len - off < 59 ? len - off : 59;
		memcpy(rpt + 5, d + off, n);
		off += n;
		if (write_report(h, rpt, service) != 0)
			return -1;
	}
	return 0;
}

/* The next report of channel cid that is not a keepalive. */
static int next_init(struct host *h, uint32_t cid, uint8_t *rpt)
{
	for (unsigned i = 0; i < HOST_SPIN; i++) {
		if (host_hid_read(h, rpt) != 0) {
			h->hangs++; /* the device owes an answer */
			return -1;
		}
		if (get_cid(rpt) == cid && rpt[4] != (0x3B | 0x80))
			return 0;
	}
	return -1;
}

int ctaphid_xfer(struct host *h, uint32_t cid, uint8_t cmd,
		 const uint8_t *req, size_t len, uint8_t *resp, size_t cap,
		 size_t *rlen)
{
	uint8_t rpt[HOST_RPT];
	size_t want, have, n;
	uint8_t seq = 0, rcmd;

	if (send_msg(h, cid, cmd, req, len, true) != 0 ||
	    next_init(h, cid, rpt) != 0)
		return -1;
	rcmd = rpt[4] & 0x7F;
	want = (size_t)rpt[5] << 8 | rpt[6];
	if (want > cap)
		return -1;
	have = want < 57 ? want : 57;
	memcpy(resp, rpt + 7, have);
	while (have < want) {
		if (host_hid_read(h, rpt) != 0 || get_cid(rpt) != cid ||
		    rpt[4] != seq++) {
			h->hangs++;
			return -1;
		}
		n = want - have < 59 ? want - have : 59;
		memcpy(resp + have, rpt + 5, n);
		have += n;
	}
	*rlen = want;
	return rcmd;
}

int ctaphid_send(struct host *h, uint32_t cid, uint8_t cmd,
		 const uint8_t *req, size_t len)
{
	return send_msg(h, cid, cmd, req, len, false);
}

/* One whole message from reports collected lazily (host_hid_collect). */
int ctaphid_recv_lazy(struct host *h, uint32_t cid, uint8_t *resp,
		      size_t cap, size_t *rlen)
{
	uint8_t rpt[HOST_RPT];
	size_t want, have, n, reports;
	uint8_t rcmd;

	if (host_hid_collect(h, 1) != 0 || host_hid_read_queued(h, rpt) != 0 ||
	    get_cid(rpt) != cid || (rpt[4] & 0x80) == 0)
		return -1;
	rcmd = rpt[4] & 0x7F;
	want = (size_t)rpt[5] << 8 | rpt[6];
	if (want > cap)
		return -1;
	have = want < 57 ? want : 57;
	memcpy(resp, rpt + 7, have);
	reports = want > 57 ? (want - 57 + 58) / 59 : 0;
	if (host_hid_collect(h, reports) != 0)
		return -1;
	for (uint8_t seq = 0; have < want; seq++) {
		if (host_hid_read_queued(h, rpt) != 0 || rpt[4] != seq)
			return -1;
		n = want - have < 59 ? want - have : 59;
		memcpy(resp + have, rpt + 5, n);
		have += n;
	}
	*rlen = want;
	return rcmd;
}

/* §11.2.9.1.3: INIT on the broadcast channel. */
int ctaphid_init(struct host *h, uint32_t *cid)
{
	static const uint8_t nonce[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	uint8_t resp[64];
	size_t n;

	if (ctaphid_xfer(h, 0xFFFFFFFFu, 0x06, nonce, sizeof(nonce), resp,
			 sizeof(resp), &n) != 0x06 ||
	    n != 17 || memcmp(resp, nonce, sizeof(nonce)) != 0)
		return -1;
	*cid = get_cid(resp + 8);
	return 0;
}

/* --- CCID (libccid's side) ---------------------------------------------- */

static int ccid_send(struct host *h, const uint8_t *m, size_t len)
{
	if (h->hc == FQ_XHCI) /* one transfer, one packet to QEMU */
		return fq_out(2, m, len) == (int)len ? 0 : -1;
	for (size_t off = 0; off < len; off += 64) {
		size_t n = len - off < 64 ? len - off : 64;

		if (fq_out(2, m + off, n) != (int)n)
			return -1;
	}
	return 0;
}

/* One bulk IN transfer of libccid's size; it must hold exactly one
 * message (libccid: "Can't read all data" otherwise). */
static int ccid_recv_xhci(struct host *h, uint8_t *buf, size_t cap)
{
	int st;

	fq_xhci_submit(2, HOST_CCID_BUF);
	if (fq.td[2].pending) { /* nothing wakes a bulk IN: a hang */
		h->hangs++;
		memset(&fq.td[2], 0, sizeof(fq.td[2]));
		return -1;
	}
	if (!fq_td_take(2, &st, buf, cap) || st < 0)
		return -1;
	return st;
}

/* uhci: 64-byte packets until a short one ends the transfer. */
static int ccid_recv_uhci(struct host *h, uint8_t *buf, size_t cap)
{
	size_t have = 0;
	unsigned naks = 0;
	int r;

	for (unsigned i = 0; i < HOST_SPIN; i++) {
		if (cap - have < 64)
			return -1;
		r = fq_in(2, buf + have, 64);
		if (r == FQ_NAK) {
			h->naks += have > 0;
			if (++naks > NAK_BOUND) {
				h->hangs++;
				return -1;
			}
			continue;
		}
		if (r < 0)
			return -1;
		have += (size_t)r;
		if (r < 64)
			return (int)have;
	}
	return -1;
}

static int ccid_recv(struct host *h, uint8_t *buf, size_t cap)
{
	int n = h->hc == FQ_XHCI ? ccid_recv_xhci(h, buf, cap)
				 : ccid_recv_uhci(h, buf, cap);

	if (n >= 0 && (n < 10 || (uint32_t)n != 10 + u32le(buf + 1))) {
		h->ccid_bad++;
		return -1;
	}
	return n;
}

int ccid_msg(struct host *h, uint8_t type, uint8_t b7, uint16_t level,
	     const uint8_t *data, size_t len, uint8_t *resp, size_t cap)
{
	static uint8_t m[HOST_CCID_BUF];
	uint8_t seq = h->seq++;
	int n;

	if (len + 10 > sizeof(m))
		return -1;
	m[0] = type;
	m[1] = (uint8_t)len;
	m[2] = (uint8_t)(len >> 8);
	m[3] = (uint8_t)(len >> 16);
	m[4] = (uint8_t)(len >> 24);
	m[5] = 0;
	m[6] = seq;
	m[7] = b7;
	m[8] = (uint8_t)level;
	m[9] = (uint8_t)(level >> 8);
	if (len > 0)
		memcpy(m + 10, data, len);
	if (ccid_send(h, m, len + 10) != 0)
		return -1;
	h->msgs++;
	for (unsigned i = 0; i < HOST_SPIN; i++) {
		n = ccid_recv(h, resp, cap);
		if (n < 0)
			return -1;
		if (resp[6] != seq) {
			h->ccid_bad++;
			return -1;
		}
		if ((resp[7] & 0xC0) != 0x80) /* not a time extension */
			return n;
	}
	return -1;
}

/* A DataBlock's data appended to resp; its bChainParameter, or -1. */
static int take_block(const uint8_t *m, int n, uint8_t *resp, size_t cap,
		      size_t *have)
{
	size_t len = (size_t)n - 10;

	if (m[0] != 0x80 || (m[7] & 0xC0) != 0 || len > cap - *have)
		return -1;
	memcpy(resp + *have, m + 10, len);
	*have += len;
	return m[9];
}

int ccid_apdu(struct host *h, const uint8_t *apdu, size_t len,
	      uint8_t *resp, size_t cap, size_t *rlen)
{
	static uint8_t m[HOST_CCID_BUF];
	size_t max = h->ccid_max - 10, off = 0, n, have = 0;
	uint16_t level = len <= max ? 0x00 : 0x01;
	int r, chain;

	for (;;) { /* §6.1.4: 01 begin, 03 middle, 02 end */
		n = len - off < max ? len - off : max;
		if (off > 0)
			level = off + n == len ? 0x02 : 0x03;
		r = ccid_msg(h, 0x6F, 0, level, apdu + off, n, m, sizeof(m));
		off += n;
		if (r < 0)
			return -1;
		if (off == len)
			break;
		if (r != 10 || m[9] != 0x10) /* "send the rest" */
			return -1;
	}
	for (unsigned i = 0; i < HOST_SPIN; i++) { /* §6.2.1 */
		chain = take_block(m, r, resp, cap, &have);
		if (chain == 0x00 || chain == 0x02) {
			*rlen = have;
			return 0;
		}
		if (chain != 0x01 && chain != 0x03)
			return -1;
		r = ccid_msg(h, 0x6F, 0, 0x10, NULL, 0, m, sizeof(m));
		if (r < 0)
			return -1;
	}
	return -1;
}

bool host_ok(const struct host *h)
{
	if (h->hid_bad || h->ccid_bad || h->hangs) {
		fprintf(stderr, "host: hid_bad %u ccid_bad %u hangs %u\n",
			h->hid_bad, h->ccid_bad, h->hangs);
		return false;
	}
	return true;
}
