/* CTAPHID framing (CTAP 2.1 §11.2.4): a report parsed into an init or a
 * continuation packet; a message split into reports on the IN queue. */
#include <inttypes.h>
#include <string.h>

#include "core/log.h"
#include "usb/ctaphid.h"

void hid_parse(const uint8_t rpt[HID_RPT_SIZE], struct hid_pkt *pk)
{
	struct rbuf r = rbuf_init(rpt, HID_RPT_SIZE);
	uint8_t b = 0;

	memset(pk, 0, sizeof(*pk));
	/* 64 bytes always hold either header: the getters cannot fail. */
	(void)rbuf_u32be(&r, &pk->cid);
	(void)rbuf_u8(&r, &b);
	pk->init = (b & TYPE_INIT) != 0;
	if (pk->init) {
		pk->cmd = (uint8_t)(b & ~TYPE_INIT);
		(void)rbuf_u16be(&r, &pk->bcnt);
	} else {
		pk->seq = b;
	}
	pk->data_len = rbuf_left(&r);
	(void)rbuf_bytes(&r, pk->data_len, &pk->data);
}

static size_t reports_for(size_t len)
{
	if (len <= CTAPHID_INIT_DATA)
		return 1;
	return 1 + (len - CTAPHID_INIT_DATA + CTAPHID_CONT_DATA - 1) /
			   CTAPHID_CONT_DATA;
}

/* The next free slot at the tail of the queue, zeroed; the caller has
 * checked the room. */
static uint8_t *queue_push(struct hid *h)
{
	struct hid_queue *q = &h->q;
	uint8_t *rpt = q->rpt[(q->head + q->count) % CTAPHID_QUEUE_REPORTS];

	q->count++;
	memset(rpt, 0, HID_RPT_SIZE);
	return rpt;
}

static void put_init(uint8_t *rpt, uint32_t cid, uint8_t cmd, size_t len,
		     const uint8_t *data, size_t n)
{
	struct wbuf w = wbuf_init(rpt, HID_RPT_SIZE);

	wbuf_u32be(&w, cid);
	wbuf_u8(&w, (uint8_t)(cmd | TYPE_INIT));
	wbuf_u16be(&w, (uint16_t)len);
	if (n > 0)
		wbuf_put(&w, data, n);
}

static void put_cont(uint8_t *rpt, uint32_t cid, uint8_t seq,
		     const uint8_t *data, size_t n)
{
	struct wbuf w = wbuf_init(rpt, HID_RPT_SIZE);

	wbuf_u32be(&w, cid);
	wbuf_u8(&w, seq);
	wbuf_put(&w, data, n);
}

int hid_send(struct hid *h, uint32_t cid, uint8_t cmd, const uint8_t *data,
	     size_t len)
{
	size_t off, n;
	uint8_t seq = 0;
	int rc = -1;

	if (len > CTAPHID_MAX_MSG ||
	    reports_for(len) > CTAPHID_QUEUE_REPORTS - h->q.count) {
		log_warn("ctaphid: the host is not reading; answer 0x%02x to "
			 "channel %08" PRIx32 " dropped", cmd, cid);
		goto out;
	}
	n = len < CTAPHID_INIT_DATA ? len : CTAPHID_INIT_DATA;
	put_init(queue_push(h), cid, cmd, len, data, n);
	for (off = n; off < len; off += n) {
		n = len - off < CTAPHID_CONT_DATA ? len - off
						  : CTAPHID_CONT_DATA;
		put_cont(queue_push(h), cid, seq++, data + off, n);
	}
	h->kick = true;
	rc = 0;
out:
	return rc;
}

static uint32_t rpt_cid(const uint8_t *rpt)
{
	return (uint32_t)rpt[0] << 24 | (uint32_t)rpt[1] << 16 |
	       (uint32_t)rpt[2] << 8 | rpt[3];
}

bool hid_queue_has(const struct hid *h, uint32_t cid, uint8_t cmd)
{
	const struct hid_queue *q = &h->q;

	for (size_t i = 0; i < q->count; i++) {
		const uint8_t *rpt = q->rpt[(q->head + i) %
					    CTAPHID_QUEUE_REPORTS];

		if (rpt_cid(rpt) == cid && rpt[4] == (cmd | TYPE_INIT))
			return true;
	}
	return false;
}

bool hid_queue_pop(struct hid *h, uint8_t rpt[HID_RPT_SIZE])
{
	struct hid_queue *q = &h->q;

	if (q->count == 0)
		return false;
	memcpy(rpt, q->rpt[q->head], HID_RPT_SIZE);
	explicit_bzero(q->rpt[q->head], HID_RPT_SIZE); /* answers hold tokens */
	q->head = (q->head + 1) % CTAPHID_QUEUE_REPORTS;
	q->count--;
	return true;
}

/* §11.2.5.3: a resynchronized channel's buffered answer is flushed. */
void hid_queue_purge(struct hid *h, uint32_t cid)
{
	struct hid_queue *q = &h->q;
	size_t kept = 0;

	for (size_t i = 0; i < q->count; i++) {
		uint8_t *from = q->rpt[(q->head + i) % CTAPHID_QUEUE_REPORTS];
		uint8_t *to = q->rpt[(q->head + kept) % CTAPHID_QUEUE_REPORTS];

		if (rpt_cid(from) == cid)
			continue;
		if (to != from)
			memcpy(to, from, HID_RPT_SIZE);
		kept++;
	}
	q->count = kept;
}
