/* CCID bulk framing: PC_to_RDR messages reassembled from OUT packets
 * by the header's dwLength (bounded by dwMaxCCIDMessageLength), answers
 * handed to IN in pieces, with time extensions while a job runs. */
#include <string.h>

#include "core/buf.h"
#include "core/log.h"
#include "usb/ccid_priv.h"

/* §6.1 header; b holds its ten bytes, so no read can come up short. */
static void parse_header(const uint8_t *b, struct ccid_msg *m)
{
	struct rbuf r = rbuf_init(b, CCID_HEADER_LEN);
	uint8_t len[4];

	rbuf_u8(&r, &m->type);
	for (size_t i = 0; i < sizeof(len); i++)
		rbuf_u8(&r, &len[i]);
	rbuf_u8(&r, &m->slot);
	rbuf_u8(&r, &m->seq);
	for (size_t i = 0; i < sizeof(m->specific); i++)
		rbuf_u8(&r, &m->specific[i]);
	m->len = (uint32_t)len[0] | (uint32_t)len[1] << 8 |
		 (uint32_t)len[2] << 16 | (uint32_t)len[3] << 24;
	m->data = b + CCID_HEADER_LEN;
}

/* Consume bytes of an oversize message; it was answered already. */
static size_t discard(struct ccid *c, size_t len)
{
	size_t n = len < c->discard_left ? len : c->discard_left;

	c->discard_left -= (uint32_t)n;
	if (c->discard_left == 0)
		c->discarding = false;
	return n;
}

/* Take bytes into the message being received; returns bytes used. */
static size_t take(struct ccid *c, const uint8_t *p, size_t len)
{
	struct ccid_msg m;
	size_t need = CCID_HEADER_LEN, n;

	if (c->rx_len >= CCID_HEADER_LEN) {
		parse_header(c->rx, &m);
		need += m.len;
	}
	n = need - c->rx_len < len ? need - c->rx_len : len;
	memcpy(c->rx + c->rx_len, p, n);
	c->rx_len += n;
	if (c->rx_len == CCID_HEADER_LEN) {
		parse_header(c->rx, &m);
		if (m.len > ccid_data_max(c)) { /* §5.1 dwMaxCCIDMessageLength */
			ccid_fail(c, &m, BAD_DWLENGTH);
			c->rx_len = 0;
			c->discarding = m.len > 0;
			c->discard_left = m.len;
		}
	}
	return n;
}

/* A message is complete: run it, unless the transfer went on past its
 * dwLength (extra bytes in the same transfer). */
static void complete(struct ccid *c, bool extra)
{
	struct ccid_msg m;

	parse_header(c->rx, &m);
	c->rx_len = 0;
	if (extra)
		ccid_fail(c, &m, BAD_DWLENGTH);
	else
		ccid_handle_msg(c, &m);
}

/* A transfer ended (short packet) in the middle of a message. */
static void truncated(struct ccid *c)
{
	struct ccid_msg m;

	if (c->rx_len >= CCID_HEADER_LEN) {
		parse_header(c->rx, &m);
		ccid_fail(c, &m, BAD_DWLENGTH);
	} else if (c->rx_len > 0) {
		log_debug("ccid: %zu stray bytes dropped", c->rx_len);
	}
	c->rx_len = 0;
	c->discarding = false;
}

static bool message_complete(struct ccid *c)
{
	struct ccid_msg m;

	if (c->rx_len < CCID_HEADER_LEN)
		return false;
	parse_header(c->rx, &m);
	return c->rx_len == CCID_HEADER_LEN + (size_t)m.len;
}

/* A call carries whole packets of one transfer; a short packet (a
 * length that is not a multiple of 64, or zero) ends the transfer. */
int ccid_bulk_out(void *cls, const uint8_t *data, size_t len)
{
	struct ccid *c = cls;
	bool ends = len % USB_MAX_PACKET != 0 || len == 0, answered;
	size_t off = 0;

	pthread_mutex_lock(&c->lock);
	while (off < len) {
		if (c->discarding) {
			off += discard(c, len - off);
			continue;
		}
		off += take(c, data + off, len - off);
		if (message_complete(c)) {
			complete(c, off < len);
			break; /* the rest of a transfer past dwLength */
		}
	}
	if (ends && (c->rx_len > 0 || c->discarding))
		truncated(c);
	answered = c->q_count > 0;
	pthread_mutex_unlock(&c->lock);
	if (answered)
		ccid_notify(c);
	return 0;
}

static void time_extension(struct ccid *c)
{
	/* §6.2.6: bmCommandStatus 2, bError the BWT multiplier. */
	uint8_t status = CMD_TIME_EXTENSION | ccid_icc_status(c);

	c->tx_len = ccid_build_msg(c->tx, RDR_to_PC_DataBlock, c->busy_seq,
				   status, 1, 0, NULL, 0);
	c->tx_off = 0;
	c->te_pending = false;
}

/* Put the next message in tx, if any is ready. */
static bool load_next(struct ccid *c)
{
	if (c->q_count > 0) {
		struct small_msg *m = &c->queue[c->q_head];
		memcpy(c->tx, m->b, m->len);
		c->tx_len = m->len;
		c->tx_off = 0;
		c->q_head = (c->q_head + 1) % QUEUE_LEN;
		c->q_count--;
		return true;
	}
	if (c->rdata_due) {
		ccid_emit_data(c);
		return true;
	}
	if (c->busy && c->te_pending) {
		time_extension(c);
		return true;
	}
	return false;
}

/* Pieces of at most cap bytes; a message that ends with a full packet
 * when the transport moves single packets is closed by a zero-length
 * packet, since the host's transfer is longer than the message. */
int ccid_bulk_in(void *cls, uint8_t *buf, size_t cap)
{
	struct ccid *c = cls;
	size_t n;
	int r;

	pthread_mutex_lock(&c->lock);
	if (cap == 0 && !c->zlp_pending) {
		r = USB_NAK; /* nothing fits: keep the message for later */
		goto out;
	}
	if (c->zlp_pending) {
		c->zlp_pending = false;
		r = 0;
		goto out;
	}
	if (c->tx_off == c->tx_len && !load_next(c)) {
		r = USB_NAK;
		goto out;
	}
	n = c->tx_len - c->tx_off;
	if (n > cap)
		n = cap;
	memcpy(buf, c->tx + c->tx_off, n);
	c->tx_off += n;
	if (c->tx_off == c->tx_len) {
		c->zlp_pending = n == USB_MAX_PACKET && cap == USB_MAX_PACKET;
		explicit_bzero(c->tx, c->tx_len);
		c->tx_off = c->tx_len = 0;
	}
	r = (int)n;
out:
	pthread_mutex_unlock(&c->lock);
	return r;
}
