/* Reading YKOATH command data: BER-TLV elements, except the property tag
 * which carries one byte and no length. */
#include "applets/oath/oath_priv.h"

#include "services/crypto.h"

int oath_next(struct rbuf *r, uint8_t *tag, struct rbuf *val)
{
	struct rbuf t = *r; /* commit only on success */
	uint16_t tag16;
	uint8_t b;

	if (rbuf_left(&t) > 0 && *rbuf_cur(&t) == OATH_TAG_PROPERTY) {
		/* ykman writes 78 02 for "touch": the 02 is the value. */
		if (rbuf_skip(&t, 1) != 0 || rbuf_sub(&t, 1, val) != 0)
			return -1;
		*tag = OATH_TAG_PROPERTY;
		*r = t;
		return 0;
	}
	if (rbuf_tlv(&t, &tag16, val) != 0 || tag16 > 0xFF)
		return -1;
	b = (uint8_t)tag16;
	*tag = b;
	*r = t;
	return 0;
}

int oath_parse_fields(const struct apdu *cmd,
		      int (*field)(void *req, uint8_t tag, struct rbuf *val),
		      void *req)
{
	struct rbuf r = rbuf_init(cmd->data, cmd->lc);
	struct rbuf val;
	uint8_t tag;

	while (rbuf_left(&r) > 0)
		if (oath_next(&r, &tag, &val) != 0 || field(req, tag, &val) != 0)
			return -1;
	return 0;
}

bool oath_name_ok(const struct rbuf *name)
{
	return name->len >= 1 && name->len <= OATH_NAME_MAX;
}

/* The crypto service's digest for a YKOATH algorithm, or -1. */
int oath_md(uint8_t alg)
{
	switch (alg) {
	case OATH_ALG_SHA1:
		return CRYPTO_SHA1;
	case OATH_ALG_SHA256:
		return CRYPTO_SHA256;
	case OATH_ALG_SHA512:
		return CRYPTO_SHA512;
	default:
		return -1;
	}
}

/* HMAC block size: the longest key a client sends unhashed. */
size_t oath_block_len(uint8_t alg)
{
	return alg == OATH_ALG_SHA512 ? 128 : 64;
}
