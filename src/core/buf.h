/* Bounded reader and writer: every byte that crosses a boundary is read
 * through rbuf and written through wbuf, so a parse can never walk off
 * the end of its input or overflow its output. */
#ifndef VKEY_BUF_H
#define VKEY_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rbuf {
	const uint8_t *p;
	size_t len;
	size_t off;
};

struct wbuf {
	uint8_t *p;
	size_t cap;
	size_t len;
	bool overflow; /* sticky: set by the first write that did not fit */
};

static inline struct rbuf rbuf_init(const uint8_t *p, size_t len)
{
	struct rbuf r = { p, len, 0 };
	return r;
}

static inline size_t rbuf_left(const struct rbuf *r)
{
	return r->len - r->off;
}

static inline const uint8_t *rbuf_cur(const struct rbuf *r)
{
	return r->p + r->off;
}

/* Each getter returns 0, or -1 (and consumes nothing) when short. */
int rbuf_u8(struct rbuf *r, uint8_t *v);
int rbuf_u16be(struct rbuf *r, uint16_t *v);
int rbuf_u32be(struct rbuf *r, uint32_t *v);
int rbuf_skip(struct rbuf *r, size_t n);
/* Point *p at the next n bytes and consume them. */
int rbuf_bytes(struct rbuf *r, size_t n, const uint8_t **p);
/* Split off the next n bytes as a sub-reader. */
int rbuf_sub(struct rbuf *r, size_t n, struct rbuf *sub);

/* Simple BER-TLV as smart-card applets use it: tag of one or two bytes
 * (two when the low five bits of the first are all set), length in
 * definite short or 81/82 long form. Returns 0, or -1 on malformed or
 * truncated input. */
int rbuf_tlv(struct rbuf *r, uint16_t *tag, struct rbuf *value);

/* Skip the leading zero bytes of a big-endian integer. */
static inline void bytes_strip_zeros(const uint8_t **v, size_t *len)
{
	while (*len > 0 && **v == 0) {
		(*v)++;
		(*len)--;
	}
}

static inline struct wbuf wbuf_init(uint8_t *p, size_t cap)
{
	struct wbuf w = { p, cap, 0, false };
	return w;
}

static inline size_t wbuf_room(const struct wbuf *w)
{
	return w->overflow ? 0 : w->cap - w->len;
}

/* Writers return 0, or -1 and set overflow when the bytes do not fit. */
int wbuf_u8(struct wbuf *w, uint8_t v);
int wbuf_u16be(struct wbuf *w, uint16_t v);
int wbuf_u32be(struct wbuf *w, uint32_t v);
int wbuf_put(struct wbuf *w, const void *p, size_t n);
/* Tag (one byte, or two if > 0xFF), length (short or 81/82 form), value. */
int wbuf_tlv(struct wbuf *w, uint16_t tag, const void *p, size_t n);
/* Only the tag and length of a TLV whose n-byte value the caller writes
 * next (nested templates); fails unless the whole TLV fits. */
int wbuf_tlv_header(struct wbuf *w, uint16_t tag, size_t n);
/* Bytes of a TLV with an n-byte value as wbuf_tlv writes it. */
size_t tlv_size(uint16_t tag, size_t n);

#endif
