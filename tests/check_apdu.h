/* Raw APDUs to the key under test, for the applet tests that drive a
 * card through vkey_apdu: one command (short or extended), a whole
 * answer gathered over 61xx with GET RESPONSE, command chaining, TLV
 * builders and a TLV finder. Include in one test program, which sets
 * key (see check_key.h). */
#ifndef VKEY_CHECK_APDU_H
#define VKEY_CHECK_APDU_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "vkey/vkey.h"

#define CHECK_APDU_SW_OK 0x9000

static struct vkey *key;
static uint8_t resp[VKEY_APDU_MAX];
static size_t resp_len;
static uint8_t all[1 << 17]; /* a whole response after GET RESPONSE */
static size_t all_len;
static int rounds; /* APDUs the last command took */

/* Command data under construction. */
struct data {
	uint8_t b[8192];
	size_t n;
};

static inline unsigned sw_of(void)
{
	if (resp_len < 2)
		return 0;
	return (unsigned)(resp[resp_len - 2] << 8 | resp[resp_len - 1]);
}

static inline unsigned xfer(const uint8_t *b, size_t n)
{
	CHECK_EQ(vkey_apdu(key, b, n, resp, sizeof(resp), &resp_len), 0);
	return sw_of();
}

/* One APDU: short when it fits, extended when lc > 255 or le > 256 or
 * ext is set. le < 0: no Le; le == 0 means the maximum. */
static inline unsigned apdu_ex(uint8_t cla, uint8_t ins, uint8_t p1, uint8_t p2,
			const void *data, size_t lc, long le, int ext)
{
	static uint8_t b[16 + 70000];
	size_t n = 0;

	ext = ext || lc > 255 || le > 256;
	b[n++] = cla;
	b[n++] = ins;
	b[n++] = p1;
	b[n++] = p2;
	if (lc > 0) {
		if (ext) {
			b[n++] = 0;
			b[n++] = (uint8_t)(lc >> 8);
			b[n++] = (uint8_t)lc;
		} else {
			b[n++] = (uint8_t)lc;
		}
		memcpy(b + n, data, lc);
		n += lc;
	}
	if (le >= 0) {
		if (ext) {
			if (lc == 0)
				b[n++] = 0;
			b[n++] = (uint8_t)(le >> 8);
			b[n++] = (uint8_t)le;
		} else {
			b[n++] = (uint8_t)le;
		}
	}
	return xfer(b, n);
}

/* Collect the data of the last response, then follow 61xx with GET
 * RESPONSE until the whole answer is in all[]. */
static inline unsigned collect(unsigned sw)
{
	static const uint8_t get_response[] = { 0x00, 0xC0, 0x00, 0x00, 0x00 };

	all_len = 0;
	rounds = 1;
	for (;;) {
		size_t n = resp_len >= 2 ? resp_len - 2 : 0;
		if (all_len + n > sizeof(all))
			abort();
		memcpy(all + all_len, resp, n);
		all_len += n;
		if ((sw >> 8) != 0x61 || rounds > 400)
			return sw;
		sw = xfer(get_response, sizeof(get_response));
		rounds++;
	}
}

static inline unsigned cmd_chained(uint8_t ins, uint8_t p1, uint8_t p2,
			    const uint8_t *data, size_t n)
{
	size_t off = 0;
	unsigned sw = 0;

	for (int pieces = 0; pieces < 300; pieces++) {
		size_t l = n - off > 255 ? 255 : n - off;
		int last = off + l == n;

		sw = apdu_ex(last ? 0x00 : 0x10, ins, p1, p2, data + off, l,
			     last ? 0 : -1, 0);
		off += l;
		if (last)
			return collect(sw);
		if (sw != CHECK_APDU_SW_OK)
			return sw;
	}
	return sw;
}

static inline void d_raw(struct data *d, const void *p, size_t n)
{
	if (d->n + n > sizeof(d->b))
		abort();
	if (n > 0)
		memcpy(d->b + d->n, p, n);
	d->n += n;
}

static inline void d_u8(struct data *d, uint8_t v)
{
	d_raw(d, &v, 1);
}

static inline void d_tag(struct data *d, unsigned tag)
{
	if (tag > 0xFFFF)
		d_u8(d, (uint8_t)(tag >> 16));
	if (tag > 0xFF)
		d_u8(d, (uint8_t)(tag >> 8));
	d_u8(d, (uint8_t)tag);
}

static inline void d_len(struct data *d, size_t n)
{
	if (n > 255) {
		d_u8(d, 0x82);
		d_u8(d, (uint8_t)(n >> 8));
	} else if (n > 127) {
		d_u8(d, 0x81);
	}
	d_u8(d, (uint8_t)n);
}

static inline void d_tlv(struct data *d, unsigned tag, const void *p, size_t n)
{
	d_tag(d, tag);
	d_len(d, n);
	d_raw(d, p, n);
}

static inline void d_tlv_u8(struct data *d, unsigned tag, uint8_t v)
{
	d_tlv(d, tag, &v, 1);
}

/* BER-TLV at one level: find tag (one or two bytes) in p[0..n). */
static inline const uint8_t *tlv_find(const uint8_t *p, size_t n, unsigned tag,
			       size_t *len)
{
	size_t off = 0;

	while (off < n) {
		unsigned t = p[off++];
		size_t l;

		if ((t & 0x1F) == 0x1F) {
			if (off >= n)
				return NULL;
			t = t << 8 | p[off++];
		}
		if (off >= n)
			return NULL;
		l = p[off++];
		if (l == 0x81) {
			if (off >= n)
				return NULL;
			l = p[off++];
		} else if (l == 0x82) {
			if (off + 1 >= n)
				return NULL;
			l = (size_t)p[off] << 8 | p[off + 1];
			off += 2;
		} else if (l > 0x80) {
			return NULL;
		}
		if (l > n - off)
			return NULL;
		if (t == tag) {
			*len = l;
			return p + off;
		}
		off += l;
	}
	return NULL;
}

#endif
