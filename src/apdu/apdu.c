/* Command APDU parser, ISO/IEC 7816-4 §5.1: cases 1, 2, 3 and 4 in short
 * and extended length encodings. */
#include "apdu/apdu.h"

#include <string.h>

#include "apdu/sw.h"
#include "core/buf.h"

static size_t short_ne(uint8_t le)
{
	return le == 0 ? APDU_SHORT_NE_MAX : le;
}

static size_t ext_ne(uint16_t le)
{
	return le == 0 ? APDU_EXT_NE_MAX : le;
}

/* Body after the header with b1 != 0: Lc is one byte. */
static int parse_short(struct rbuf *r, uint8_t lc, struct apdu *out)
{
	uint8_t le;

	if (rbuf_bytes(r, lc, &out->data) != 0)
		return SW_WRONG_LENGTH;
	out->lc = lc;
	if (rbuf_left(r) == 0)
		return 0; /* case 3S */
	if (rbuf_u8(r, &le) != 0 || rbuf_left(r) != 0)
		return SW_WRONG_LENGTH;
	out->le_present = true; /* case 4S */
	out->ne = short_ne(le);
	return 0;
}

/* Body after the header with b1 == 00: extended encoding. */
static int parse_extended(struct rbuf *r, struct apdu *out)
{
	uint16_t v, le;

	out->extended = true;
	if (rbuf_u16be(r, &v) != 0)
		return SW_WRONG_LENGTH;
	if (rbuf_left(r) == 0) { /* case 2E */
		out->le_present = true;
		out->ne = ext_ne(v);
		return 0;
	}
	if (v == 0 || rbuf_bytes(r, v, &out->data) != 0)
		return SW_WRONG_LENGTH;
	out->lc = v;
	if (rbuf_left(r) == 0)
		return 0; /* case 3E */
	if (rbuf_u16be(r, &le) != 0 || rbuf_left(r) != 0)
		return SW_WRONG_LENGTH;
	out->le_present = true; /* case 4E */
	out->ne = ext_ne(le);
	return 0;
}

int apdu_parse(const uint8_t *buf, size_t len, struct apdu *out)
{
	struct rbuf r = rbuf_init(buf, len);
	uint8_t b1;

	memset(out, 0, sizeof(*out));
	if (rbuf_u8(&r, &out->cla) != 0 || rbuf_u8(&r, &out->ins) != 0 ||
	    rbuf_u8(&r, &out->p1) != 0 || rbuf_u8(&r, &out->p2) != 0)
		return SW_WRONG_LENGTH;
	if (rbuf_left(&r) == 0)
		return 0; /* case 1 */
	if (rbuf_u8(&r, &b1) != 0)
		return SW_WRONG_LENGTH;
	if (rbuf_left(&r) == 0) { /* case 2S */
		out->le_present = true;
		out->ne = short_ne(b1);
		return 0;
	}
	if (b1 != 0)
		return parse_short(&r, b1, out);
	return parse_extended(&r, out);
}
