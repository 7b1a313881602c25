/* Bounded reader and writer (see buf.h). */
#include "core/buf.h"

#include <string.h>

int rbuf_u8(struct rbuf *r, uint8_t *v)
{
	if (rbuf_left(r) < 1)
		return -1;
	*v = r->p[r->off++];
	return 0;
}

int rbuf_u16be(struct rbuf *r, uint16_t *v)
{
	if (rbuf_left(r) < 2)
		return -1;
	*v = (uint16_t)((r->p[r->off] << 8) | r->p[r->off + 1]);
	r->off += 2;
	return 0;
}

int rbuf_u32be(struct rbuf *r, uint32_t *v)
{
	const uint8_t *p;

	if (rbuf_left(r) < 4)
		return -1;
	p = r->p + r->off;
	*v = ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) |
	     ((uint32_t)p[2] << 8) | p[3];
	r->off += 4;
	return 0;
}

int rbuf_skip(struct rbuf *r, size_t n)
{
	if (rbuf_left(r) < n)
		return -1;
	r->off += n;
	return 0;
}

int rbuf_bytes(struct rbuf *r, size_t n, const uint8_t **p)
{
	if (rbuf_left(r) < n)
		return -1;
	*p = r->p + r->off;
	r->off += n;
	return 0;
}

int rbuf_sub(struct rbuf *r, size_t n, struct rbuf *sub)
{
	const uint8_t *p;

	if (rbuf_bytes(r, n, &p) != 0)
		return -1;
	*sub = rbuf_init(p, n);
	return 0;
}

int rbuf_tlv(struct rbuf *r, uint16_t *tag, struct rbuf *value)
{
	struct rbuf t = *r; /* commit only on success */
	uint8_t b, b2;
	uint16_t len16;
	size_t len;

	if (rbuf_u8(&t, &b) != 0)
		return -1;
	*tag = b;
	if ((b & 0x1F) == 0x1F) {
		if (rbuf_u8(&t, &b2) != 0 || (b2 & 0x80) != 0)
			return -1;
		*tag = (uint16_t)((b << 8) | b2);
	}
	if (rbuf_u8(&t, &b) != 0)
		return -1;
	if (b < 0x80) {
		len = b;
	} else if (b == 0x81) {
		if (rbuf_u8(&t, &b) != 0)
			return -1;
		len = b;
	} else if (b == 0x82) {
		if (rbuf_u16be(&t, &len16) != 0)
			return -1;
		len = len16;
	} else {
		return -1;
	}
	if (rbuf_sub(&t, len, value) != 0)
		return -1;
	*r = t;
	return 0;
}

int wbuf_put(struct wbuf *w, const void *p, size_t n)
{
	if (w->overflow || w->cap - w->len < n) {
		w->overflow = true;
		return -1;
	}
	if (n > 0)
		memcpy(w->p + w->len, p, n);
	w->len += n;
	return 0;
}

int wbuf_u8(struct wbuf *w, uint8_t v)
{
	return wbuf_put(w, &v, 1);
}

int wbuf_u16be(struct wbuf *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)(v >> 8), (uint8_t)v };
	return wbuf_put(w, b, 2);
}

int wbuf_u32be(struct wbuf *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)(v >> 24), (uint8_t)(v >> 16),
			 (uint8_t)(v >> 8), (uint8_t)v };
	return wbuf_put(w, b, 4);
}

/* Tag and length of a TLV into h (5 bytes); 0 when n is too long. */
static size_t tlv_head(uint16_t tag, size_t n, uint8_t h[5])
{
	size_t hl = 0;

	if (tag > 0xFF)
		h[hl++] = (uint8_t)(tag >> 8);
	h[hl++] = (uint8_t)tag;
	if (n < 0x80) {
		h[hl++] = (uint8_t)n;
	} else if (n <= 0xFF) {
		h[hl++] = 0x81;
		h[hl++] = (uint8_t)n;
	} else if (n <= 0xFFFF) {
		h[hl++] = 0x82;
		h[hl++] = (uint8_t)(n >> 8);
		h[hl++] = (uint8_t)n;
	} else {
		return 0;
	}
	return hl;
}

size_t tlv_size(uint16_t tag, size_t n)
{
	uint8_t h[5];

	return tlv_head(tag, n, h) + n;
}

int wbuf_tlv_header(struct wbuf *w, uint16_t tag, size_t n)
{
	uint8_t h[5];
	size_t hl = tlv_head(tag, n, h);

	if (hl == 0 || wbuf_room(w) < hl + n) {
		w->overflow = true;
		return -1;
	}
	return wbuf_put(w, h, hl);
}

int wbuf_tlv(struct wbuf *w, uint16_t tag, const void *p, size_t n)
{
	if (wbuf_tlv_header(w, tag, n) != 0)
		return -1;
	return wbuf_put(w, p, n);
}
