/* Bounded reader/writer and BER-TLV: one case per malformed input. */
#include "../check.h"
#include "core/buf.h"

static void reader_refuses_to_overrun(void)
{
	static const uint8_t b[] = { 1, 2, 3 };
	struct rbuf r = rbuf_init(b, sizeof(b));
	uint32_t v32;
	uint16_t v16;
	uint8_t v8;

	CHECK_EQ(rbuf_u32be(&r, &v32), -1);
	CHECK_EQ(r.off, 0);
	CHECK_EQ(rbuf_u16be(&r, &v16), 0);
	CHECK_EQ(v16, 0x0102);
	CHECK_EQ(rbuf_u16be(&r, &v16), -1);
	CHECK_EQ(rbuf_u8(&r, &v8), 0);
	CHECK_EQ(rbuf_u8(&r, &v8), -1);
	CHECK_EQ(rbuf_skip(&r, 1), -1);
}

static void tlv_short_and_long_lengths(void)
{
	uint8_t b[300] = { 0x71, 0x02, 'a', 'b', 0x73, 0x81, 0x80 };
	struct rbuf r = rbuf_init(b, 7 + 0x80), v;
	uint16_t tag;

	CHECK_EQ(rbuf_tlv(&r, &tag, &v), 0);
	CHECK_EQ(tag, 0x71);
	CHECK_EQ(v.len, 2);
	CHECK_EQ(rbuf_tlv(&r, &tag, &v), 0);
	CHECK_EQ(tag, 0x73);
	CHECK_EQ(v.len, 0x80);
	CHECK_EQ(rbuf_left(&r), 0);
}

static void tlv_two_byte_tag(void)
{
	static const uint8_t b[] = { 0x5F, 0x50, 0x01, 0x00 };
	struct rbuf r = rbuf_init(b, sizeof(b)), v;
	uint16_t tag;

	CHECK_EQ(rbuf_tlv(&r, &tag, &v), 0);
	CHECK_EQ(tag, 0x5F50);
}

static void tlv_rejects_truncated_value(void)
{
	static const uint8_t b[] = { 0x71, 0x05, 'a' };
	struct rbuf r = rbuf_init(b, sizeof(b)), v;
	uint16_t tag;

	CHECK_EQ(rbuf_tlv(&r, &tag, &v), -1);
	CHECK_EQ(r.off, 0);
}

static void tlv_rejects_missing_length(void)
{
	static const uint8_t b[] = { 0x71 };
	struct rbuf r = rbuf_init(b, sizeof(b)), v;
	uint16_t tag;

	CHECK_EQ(rbuf_tlv(&r, &tag, &v), -1);
}

static void tlv_rejects_indefinite_and_huge_lengths(void)
{
	static const uint8_t b1[] = { 0x71, 0x80, 0x00, 0x00 };
	static const uint8_t b2[] = { 0x71, 0x84, 0, 0, 0, 1, 0 };
	static const uint8_t b3[] = { 0x71, 0x82, 0x01 };
	struct rbuf r = rbuf_init(b1, sizeof(b1)), v;
	uint16_t tag;

	CHECK_EQ(rbuf_tlv(&r, &tag, &v), -1);
	r = rbuf_init(b2, sizeof(b2));
	CHECK_EQ(rbuf_tlv(&r, &tag, &v), -1);
	r = rbuf_init(b3, sizeof(b3));
	CHECK_EQ(rbuf_tlv(&r, &tag, &v), -1);
}

static void tlv_rejects_truncated_two_byte_tag(void)
{
	static const uint8_t b[] = { 0x5F };
	struct rbuf r = rbuf_init(b, sizeof(b)), v;
	uint16_t tag;

	CHECK_EQ(rbuf_tlv(&r, &tag, &v), -1);
}

static void writer_overflow_is_sticky(void)
{
	uint8_t b[4];
	struct wbuf w = wbuf_init(b, sizeof(b));

	CHECK_EQ(wbuf_u16be(&w, 0x0102), 0);
	CHECK_EQ(wbuf_u32be(&w, 1), -1);
	CHECK(w.overflow);
	CHECK_EQ(wbuf_u8(&w, 1), -1);
	CHECK_EQ(w.len, 2);
}

static void writer_tlv_lengths(void)
{
	static uint8_t val[300];
	uint8_t b[400];
	struct wbuf w = wbuf_init(b, sizeof(b));

	CHECK_EQ(wbuf_tlv(&w, 0x71, val, 3), 0);
	CHECK_EQ(w.len, 5);
	CHECK_EQ(wbuf_tlv(&w, 0x7F49, val, 200), 0);
	CHECK_EQ(b[5], 0x7F);
	CHECK_EQ(b[7], 0x81);
	w = wbuf_init(b, sizeof(b));
	CHECK_EQ(wbuf_tlv(&w, 0x53, val, 300), 0);
	CHECK_EQ(b[1], 0x82);
	CHECK_EQ(w.len, 304);
	CHECK_EQ(wbuf_tlv(&w, 0x53, val, 300), -1);
}

int main(void)
{
	RUN(reader_refuses_to_overrun);
	RUN(tlv_short_and_long_lengths);
	RUN(tlv_two_byte_tag);
	RUN(tlv_rejects_truncated_value);
	RUN(tlv_rejects_missing_length);
	RUN(tlv_rejects_indefinite_and_huge_lengths);
	RUN(tlv_rejects_truncated_two_byte_tag);
	RUN(writer_overflow_is_sticky);
	RUN(writer_tlv_lengths);
	return CHECK_DONE();
}
