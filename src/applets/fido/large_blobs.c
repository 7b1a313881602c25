/* authenticatorLargeBlobs (CTAP 2.1 §6.10): the serialized large-blob
 * array, read in fragments and written in fragments that are checked
 * against the array's own SHA-256 trailer before they are stored. */
#include <stdlib.h>
#include <string.h>

#include "applets/fido/pin_priv.h"
#include "core/key.h"

/* Largest serialized large-blob array kept (getInfo's
 * maxSerializedLargeBlobArray; CTAP 2.1 asks for at least 1024). */
#define LARGE_BLOB_ARRAY_MAX 16384
/* maxFragmentLength = maxMsgSize - 64 (§6.10.1). */
static size_t fragment_max(const struct ctap *c)
{
	return vkey_ctap_msg_max(c->key) - 64;
}
#define LARGE_BLOB_HASH_LEN 16
#define LARGE_BLOB_MIN_LEN (1 + LARGE_BLOB_HASH_LEN)

enum {
	LB_GET = 0x01,
	LB_SET = 0x02,
	LB_OFFSET = 0x03,
	LB_LENGTH = 0x04,
	LB_PIN_AUTH = 0x05,
	LB_PROTOCOL = 0x06,
	LB_RESP_CONFIG = 0x01,
};

enum {
	F_GET = 1u << 0,
	F_SET = 1u << 1,
	F_OFFSET = 1u << 2,
	F_LENGTH = 1u << 3,
	F_PIN_AUTH = 1u << 4,
	F_PROTOCOL = 1u << 5,
};

/* The initial array: an empty CBOR array and LEFT(SHA-256(0x80), 16). */
static const uint8_t initial_array[LARGE_BLOB_MIN_LEN] = {
	0x80, 0x76, 0xbe, 0x8b, 0x52, 0x8d, 0x00, 0x75, 0xf7,
	0xaa, 0xe9, 0x8d, 0x6f, 0xa5, 0x7a, 0x6d, 0x3c,
};

static const char array_key[] = "array";

struct lb_req {
	unsigned seen;
	uint64_t get, offset, length;
	const uint8_t *set;
	size_t set_len;
	const cbor_item_t *pin_auth, *protocol;
};

size_t ctap_large_blob_max(void)
{
	return LARGE_BLOB_ARRAY_MAX;
}

void ctap_blobs_abort(struct ctap *c)
{
	struct blob_write *bw = &c->pin->blob;

	if (bw->buf != NULL)
		crypto_wipe(bw->buf, bw->expected_len);
	free(bw->buf);
	memset(bw, 0, sizeof(*bw));
}

static uint8_t lb_uint(const cbor_item_t *v, uint64_t *out, unsigned bit,
		       unsigned *seen)
{
	*seen |= bit;
	return ctap_uint(v, out);
}

static uint8_t lb_parse(const cbor_item_t *params, struct lb_req *q)
{
	const cbor_item_t *v;
	uint8_t r = CTAP2_OK;

	memset(q, 0, sizeof(*q));
	if (params == NULL)
		return CTAP1_ERR_INVALID_PARAMETER; /* no offset */
	if (!cbor_isa_map(params))
		return CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	if ((v = ctap_map_uint(params, LB_GET)) != NULL)
		r = lb_uint(v, &q->get, F_GET, &q->seen);
	if (r == CTAP2_OK && (v = ctap_map_uint(params, LB_SET)) != NULL) {
		r = ctap_bytes(v, &q->set, &q->set_len);
		q->seen |= F_SET;
	}
	if (r == CTAP2_OK && (v = ctap_map_uint(params, LB_OFFSET)) != NULL)
		r = lb_uint(v, &q->offset, F_OFFSET, &q->seen);
	if (r == CTAP2_OK && (v = ctap_map_uint(params, LB_LENGTH)) != NULL)
		r = lb_uint(v, &q->length, F_LENGTH, &q->seen);
	if ((q->pin_auth = ctap_map_uint(params, LB_PIN_AUTH)) != NULL)
		q->seen |= F_PIN_AUTH;
	if ((q->protocol = ctap_map_uint(params, LB_PROTOCOL)) != NULL)
		q->seen |= F_PROTOCOL;
	return r;
}

/* The stored array, or the initial one; *val is malloc'd. */
static int lb_load(struct ctap *c, uint8_t **val, size_t *len)
{
	int err = store_get(c->store, BLOBS_NS, array_key,
			    sizeof(array_key) - 1, val, len);

	if (err != STORE_NOT_FOUND)
		return err;
	*val = malloc(sizeof(initial_array));
	if (*val == NULL)
		return STORE_IO;
	memcpy(*val, initial_array, sizeof(initial_array));
	*len = sizeof(initial_array);
	return STORE_OK;
}

/* get (§6.10.2): up to get bytes from offset. */
static uint8_t lb_get(struct ctap *c, const struct lb_req *q,
		      struct wbuf *out)
{
	cbor_item_t *m = NULL;
	uint8_t *val = NULL;
	size_t len = 0, n;
	uint8_t r = CTAP1_ERR_INVALID_PARAMETER;

	if (q->seen & (F_LENGTH | F_PIN_AUTH | F_PROTOCOL))
		return r;
	if (q->get > fragment_max(c))
		return CTAP1_ERR_INVALID_LENGTH;
	if (lb_load(c, &val, &len) != STORE_OK) {
		r = CTAP1_ERR_OTHER;
		goto out;
	}
	if (q->offset > len)
		goto out;
	n = len - (size_t)q->offset;
	if (n > q->get)
		n = (size_t)q->get;
	r = CTAP1_ERR_OTHER;
	if ((m = cbor_new_definite_map(1)) == NULL ||
	    ctap_map_put_uint(m, LB_RESP_CONFIG,
			      cbor_build_bytestring(val + q->offset, n)) != 0)
		goto out;
	r = ctap_cbor_encode(m, out);
out:
	if (m != NULL)
		cbor_decref(&m);
	if (val != NULL)
		store_free_value(val, len);
	return r;
}

/* pinUvAuthParam of a set: authenticate(token, 32 x 0xff || 0x0c 0x00 ||
 * uint32LE(offset) || SHA-256(set)) with the lbw permission. */
static uint8_t lb_authorize(struct ctap *c, const struct lb_req *q)
{
	uint8_t msg[32 + 2 + 4 + 32];
	uint32_t off = (uint32_t)q->offset;
	size_t i;

	memset(msg, 0xff, 32);
	msg[32] = CTAP_CMD_LARGE_BLOBS;
	msg[33] = 0x00;
	for (i = 0; i < 4; i++)
		msg[34 + i] = (uint8_t)(off >> (8 * i));
	if (crypto_digest(CRYPTO_SHA256, q->set, q->set_len, msg + 38) != 0)
		return CTAP1_ERR_OTHER;
	return ctap_pin_authorize(c, q->protocol, q->pin_auth, msg,
				  sizeof(msg), CTAP_PERM_LBW);
}

/* The complete array must end in LEFT(SHA-256(the rest), 16); then it
 * replaces the stored one. */
static uint8_t lb_commit(struct ctap *c)
{
	struct blob_write *bw = &c->pin->blob;
	size_t body = bw->expected_len - LARGE_BLOB_HASH_LEN;
	uint8_t h[32];
	uint8_t r = CTAP2_ERR_INTEGRITY_FAILURE;

	if (crypto_digest(CRYPTO_SHA256, bw->buf, body, h) != 0)
		r = CTAP1_ERR_OTHER;
	else if (crypto_memcmp(h, bw->buf + body, LARGE_BLOB_HASH_LEN) == 0)
		r = store_put(c->store, BLOBS_NS, array_key,
			      sizeof(array_key) - 1, bw->buf,
			      bw->expected_len) == STORE_OK
			    ? CTAP2_OK
			    : CTAP1_ERR_OTHER;
	ctap_blobs_abort(c);
	return r;
}

/* The checks of a set fragment before authorization (§6.10.2):
 * *expected becomes the array length this fragment belongs to. */
static uint8_t lb_set_check(struct ctap *c, const struct lb_req *q,
			    size_t *expected)
{
	const struct blob_write *bw = &c->pin->blob;

	if (q->set_len > fragment_max(c))
		return CTAP1_ERR_INVALID_LENGTH;
	if (q->offset == 0) {
		if (!(q->seen & F_LENGTH))
			return CTAP1_ERR_INVALID_PARAMETER;
		if (q->length > LARGE_BLOB_ARRAY_MAX)
			return CTAP2_ERR_LARGE_BLOB_STORAGE_FULL;
		if (q->length < LARGE_BLOB_MIN_LEN)
			return CTAP1_ERR_INVALID_PARAMETER;
		*expected = (size_t)q->length;
		return CTAP2_OK;
	}
	if (q->seen & F_LENGTH)
		return CTAP1_ERR_INVALID_PARAMETER;
	if (bw->buf == NULL || q->offset != bw->next_off)
		return CTAP1_ERR_INVALID_SEQ;
	*expected = bw->expected_len;
	return CTAP2_OK;
}

/* set (§6.10.2): one fragment of a new array. */
static uint8_t lb_set(struct ctap *c, const struct lb_req *q)
{
	struct blob_write *bw = &c->pin->blob;
	size_t expected = 0;
	uint8_t r;

	if ((r = lb_set_check(c, q, &expected)) != CTAP2_OK)
		return r;
	if ((ctap_pin_is_set(c) || c->config.always_uv) &&
	    (r = lb_authorize(c, q)) != CTAP2_OK)
		goto fail;
	if (q->set_len > expected - (size_t)q->offset) {
		r = CTAP1_ERR_INVALID_PARAMETER;
		goto fail;
	}
	if (q->offset == 0) {
		ctap_blobs_abort(c);
		if ((bw->buf = malloc(expected)) == NULL)
			return CTAP1_ERR_OTHER;
		bw->expected_len = expected;
	}
	if (q->set_len > 0)
		memcpy(bw->buf + bw->next_off, q->set, q->set_len);
	bw->next_off += q->set_len;
	if (bw->next_off == bw->expected_len)
		return lb_commit(c);
	return CTAP2_OK;
fail:
	/* A refused continuation ends the write: fragments of one array
	 * must all be accepted, never mixed across attempts. */
	if (q->offset != 0)
		ctap_blobs_abort(c);
	return r;
}

uint8_t ctap_cmd_large_blobs(struct ctap *c, const cbor_item_t *params,
			     struct wbuf *out)
{
	struct lb_req q;
	uint8_t r;

	if ((r = lb_parse(params, &q)) != CTAP2_OK)
		return r;
	if (!(q.seen & F_OFFSET))
		return CTAP1_ERR_INVALID_PARAMETER;
	/* Exactly one of get and set. */
	if (!(q.seen & F_GET) == !(q.seen & F_SET))
		return CTAP1_ERR_INVALID_PARAMETER;
	if (q.seen & F_GET)
		return lb_get(c, &q, out);
	return lb_set(c, &q);
}
