/* CTAP2's CBOR on libcbor: decoding with the canonical-form checks of
 * CTAP 2.1 §8 (libcbor accepts any well-formed CBOR), canonical encoding,
 * typed map reads and COSE keys. How the checks work: docs/CBOR.md. */
#include <stdlib.h>
#include <string.h>

#include "applets/fido/ctap_priv.h"

/* CTAP 2.1 §8: at most four levels of nested maps and arrays. */
#define CTAP_CBOR_MAX_DEPTH 4

/* COSE (RFC 8152) labels and values used by CTAP. */
#define COSE_KTY 1
#define COSE_ALG 3
#define COSE_CRV (-1)
#define COSE_X (-2)
#define COSE_Y (-3)
#define COSE_KTY_OKP 1
#define COSE_KTY_EC2 2
#define COSE_CRV_P256 1
#define COSE_CRV_ED25519 6

/* ---- canonical-form scan: libcbor's streaming decoder reports one
 * header (or whole string) per call; we track the structure. ---- */

enum scan_ev {
	EV_NONE = 0,
	EV_SCALAR,   /* int, definite string, bool, null: value in ev_val */
	EV_ARRAY,    /* definite array of ev_val items */
	EV_MAP,      /* definite map of ev_val pairs */
	EV_FORBIDDEN /* indefinite length, tag, float, undefined, break */
};

struct scan_frame {
	size_t left;        /* items still to come (2 per map pair) */
	bool is_map;
	size_t key_off;     /* the current key's first byte */
	size_t prev_off;    /* the previous key's encoding, if any */
	size_t prev_len;
	bool have_prev;
};

struct scan {
	const uint8_t *buf;
	size_t len;
	size_t off;         /* first byte of the item being decoded */
	enum scan_ev ev;
	uint64_t ev_val;    /* int value, string length or item count */
	int max_depth;
	int depth;
	struct scan_frame st[CTAP_CBOR_MAX_DEPTH + 4];
};

static void ev_set(void *ctx, enum scan_ev ev, uint64_t v)
{
	struct scan *s = ctx;

	s->ev = ev;
	s->ev_val = v;
}

static void ev_u8(void *ctx, uint8_t v) { ev_set(ctx, EV_SCALAR, v); }
static void ev_u16(void *ctx, uint16_t v) { ev_set(ctx, EV_SCALAR, v); }
static void ev_u32(void *ctx, uint32_t v) { ev_set(ctx, EV_SCALAR, v); }
static void ev_u64(void *ctx, uint64_t v) { ev_set(ctx, EV_SCALAR, v); }
static void ev_str(void *ctx, cbor_data d, size_t n)
{
	(void)d;
	ev_set(ctx, EV_SCALAR, n);
}
static void ev_array(void *ctx, size_t n) { ev_set(ctx, EV_ARRAY, n); }
static void ev_map(void *ctx, size_t n) { ev_set(ctx, EV_MAP, n); }
static void ev_bool(void *ctx, bool b)
{
	(void)b;
	ev_set(ctx, EV_SCALAR, 0);
}
static void ev_simple(void *ctx) { ev_set(ctx, EV_SCALAR, 0); }
static void ev_bad(void *ctx) { ev_set(ctx, EV_FORBIDDEN, 0); }
static void ev_bad_u64(void *ctx, uint64_t v)
{
	(void)v;
	ev_set(ctx, EV_FORBIDDEN, 0);
}
static void ev_bad_f(void *ctx, float f)
{
	(void)f;
	ev_set(ctx, EV_FORBIDDEN, 0);
}
static void ev_bad_d(void *ctx, double d)
{
	(void)d;
	ev_set(ctx, EV_FORBIDDEN, 0);
}

static const struct cbor_callbacks scan_callbacks = {
	.uint8 = ev_u8,
	.uint16 = ev_u16,
	.uint32 = ev_u32,
	.uint64 = ev_u64,
	.negint8 = ev_u8,
	.negint16 = ev_u16,
	.negint32 = ev_u32,
	.negint64 = ev_u64,
	.byte_string = ev_str,
	.byte_string_start = ev_bad, /* indefinite */
	.string = ev_str,
	.string_start = ev_bad,      /* indefinite */
	.array_start = ev_array,
	.indef_array_start = ev_bad,
	.map_start = ev_map,
	.indef_map_start = ev_bad,
	.tag = ev_bad_u64,
	.float2 = ev_bad_f,
	.float4 = ev_bad_f,
	.float8 = ev_bad_d,
	.undefined = ev_bad,
	.null = ev_simple,
	.boolean = ev_bool,
	.indef_break = ev_bad,
};

/* The argument in the item's head (value, length or count) must use the
 * shortest form (CTAP 2.1 §8: "integers ... as small as possible",
 * lengths likewise). */
static bool head_is_shortest(uint8_t initial, uint64_t v)
{
	switch (initial & 0x1f) {
	case 24:
		return v >= 24;
	case 25:
		return v > 0xff;
	case 26:
		return v > 0xffff;
	case 27:
		return v > 0xffffffffu;
	default:
		return true;
	}
}

/* CTAP2 canonical key order (CTAP 2.1 §8): lower major type first, then
 * the shorter encoding, then bytewise. <0, 0 (duplicate) or >0. */
static int key_cmp(const uint8_t *a, size_t alen, const uint8_t *b,
		   size_t blen)
{
	int ma = a[0] >> 5, mb = b[0] >> 5;

	if (ma != mb)
		return ma < mb ? -1 : 1;
	if (alen != blen)
		return alen < blen ? -1 : 1;
	return memcmp(a, b, alen);
}

/* The item ending at end is complete: a finished key must sort after its
 * predecessor; containers whose last item this was are complete too. */
static bool scan_item_done(struct scan *s, size_t end)
{
	while (s->depth > 0) {
		struct scan_frame *f = &s->st[s->depth - 1];

		if (f->is_map && f->left % 2 == 0) { /* a key just ended */
			size_t klen = end - f->key_off;

			if (f->have_prev &&
			    key_cmp(s->buf + f->prev_off, f->prev_len,
				    s->buf + f->key_off, klen) >= 0)
				return false;
			f->prev_off = f->key_off;
			f->prev_len = klen;
			f->have_prev = true;
		}
		if (--f->left > 0)
			return true;
		s->depth--; /* the container ended with this item */
	}
	return true;
}

/* A new item starts at s->off: remember where a map key starts. */
static void scan_item_start(struct scan *s)
{
	struct scan_frame *f;

	if (s->depth == 0)
		return;
	f = &s->st[s->depth - 1];
	if (f->is_map && f->left % 2 == 0)
		f->key_off = s->off;
}

static bool scan_push(struct scan *s, bool is_map, uint64_t n, size_t end)
{
	uint64_t items = is_map ? n * 2 : n;
	struct scan_frame *f;

	/* Every item takes at least one byte: a count beyond what is left
	 * is malformed, and checking here keeps cbor_load from allocating
	 * for a count the input cannot hold. */
	if (n > s->len || items > s->len - end)
		return false;
	if (s->depth + 1 > s->max_depth)
		return false;
	if (items == 0)
		return scan_item_done(s, end);
	f = &s->st[s->depth++];
	memset(f, 0, sizeof(*f));
	f->left = (size_t)items;
	f->is_map = is_map;
	return true;
}

/* One step: decode the next head and update the structure. */
static bool scan_step(struct scan *s)
{
	struct cbor_decoder_result r;
	size_t end;

	s->ev = EV_NONE;
	scan_item_start(s);
	r = cbor_stream_decode(s->buf + s->off, s->len - s->off,
			       &scan_callbacks, s);
	if (r.status != CBOR_DECODER_FINISHED || s->ev == EV_NONE ||
	    s->ev == EV_FORBIDDEN)
		return false;
	if (!head_is_shortest(s->buf[s->off], s->ev_val))
		return false;
	end = s->off + r.read;
	if (s->ev == EV_ARRAY || s->ev == EV_MAP) {
		if (!scan_push(s, s->ev == EV_MAP, s->ev_val, end))
			return false;
	} else if (!scan_item_done(s, end)) {
		return false;
	}
	s->off = end;
	return true;
}

/* Check that buf holds exactly one item in CTAP2 canonical form. */
static bool scan_canonical(const uint8_t *buf, size_t len, int max_depth,
			   uint8_t *top_major)
{
	struct scan s;

	if (len == 0)
		return false;
	memset(&s, 0, sizeof(s));
	s.buf = buf;
	s.len = len;
	s.max_depth = max_depth;
	*top_major = (uint8_t)(buf[0] >> 5);
	do {
		if (s.off >= len || !scan_step(&s))
			return false; /* truncated or malformed */
	} while (s.depth > 0);
	return s.off == len; /* no trailing bytes */
}

/* ---- canonical encoding: ints by value (whatever width the builder
 * chose), definite lengths only. ---- */

static bool enc_put(struct wbuf *out, size_t n)
{
	if (n == 0) {
		out->overflow = true;
		return false;
	}
	out->len += n;
	return true;
}

static bool enc_item(const cbor_item_t *it, struct wbuf *out, int depth);

static bool enc_container(const cbor_item_t *it, struct wbuf *out,
			  int depth)
{
	size_t i, n;

	if (cbor_isa_array(it)) {
		cbor_item_t **items = cbor_array_handle(it);

		n = cbor_array_size(it);
		if (!enc_put(out, cbor_encode_array_start(
					  n, out->p + out->len, wbuf_room(out))))
			return false;
		for (i = 0; i < n; i++)
			if (!enc_item(items[i], out, depth + 1))
				return false;
		return true;
	}
	n = cbor_map_size(it);
	if (!enc_put(out, cbor_encode_map_start(n, out->p + out->len,
						wbuf_room(out))))
		return false;
	for (i = 0; i < n; i++) {
		struct cbor_pair *p = cbor_map_handle(it) + i;

		if (!enc_item(p->key, out, depth + 1) ||
		    !enc_item(p->value, out, depth + 1))
			return false;
	}
	return true;
}

static bool enc_string(const cbor_item_t *it, struct wbuf *out)
{
	bool bytes = cbor_isa_bytestring(it);
	size_t n;

	if (bytes ? !cbor_bytestring_is_definite(it)
		  : !cbor_string_is_definite(it))
		return false;
	n = bytes ? cbor_bytestring_length(it) : cbor_string_length(it);
	if (!enc_put(out, bytes ? cbor_encode_bytestring_start(
					  n, out->p + out->len, wbuf_room(out))
				: cbor_encode_string_start(
					  n, out->p + out->len, wbuf_room(out))))
		return false;
	if (n == 0)
		return true;
	return wbuf_put(out, bytes ? cbor_bytestring_handle(it)
				   : cbor_string_handle(it), n) == 0;
}

static bool enc_item(const cbor_item_t *it, struct wbuf *out, int depth)
{
	uint8_t *p = out->p + out->len;
	size_t room = wbuf_room(out);

	if (it == NULL || depth > CTAP_CBOR_MAX_DEPTH + 4)
		return false;
	switch (cbor_typeof(it)) {
	case CBOR_TYPE_UINT:
		return enc_put(out, cbor_encode_uint(cbor_get_int(it), p, room));
	case CBOR_TYPE_NEGINT:
		return enc_put(out,
			       cbor_encode_negint(cbor_get_int(it), p, room));
	case CBOR_TYPE_BYTESTRING:
	case CBOR_TYPE_STRING:
		return enc_string(it, out);
	case CBOR_TYPE_ARRAY:
	case CBOR_TYPE_MAP:
		return enc_container(it, out, depth);
	case CBOR_TYPE_FLOAT_CTRL:
		if (cbor_is_bool(it))
			return enc_put(out,
				       cbor_encode_bool(cbor_get_bool(it), p,
							room));
		if (cbor_is_null(it))
			return enc_put(out, cbor_encode_null(p, room));
		return false;
	default: /* tags: CTAP messages have none */
		return false;
	}
}

uint8_t ctap_cbor_encode(const cbor_item_t *item, struct wbuf *out)
{
	size_t start = out->len;
	uint8_t major;

	if (out->overflow || !enc_item(item, out, 0))
		goto fail;
	/* Our own output must obey the rules we hold the platform to: this
	 * catches a handler that added map keys out of order. */
	if (!scan_canonical(out->p + start, out->len - start,
			    CTAP_CBOR_MAX_DEPTH, &major))
		goto fail;
	return CTAP2_OK;
fail:
	out->len = start;
	return CTAP1_ERR_OTHER;
}

uint8_t ctap_cbor_decode(const uint8_t *buf, size_t len, bool must_be_map,
			 cbor_item_t **out)
{
	struct cbor_load_result res;
	cbor_item_t *item = NULL;
	uint8_t major;
	uint8_t r = CTAP2_ERR_INVALID_CBOR;

	*out = NULL;
	if (!scan_canonical(buf, len, CTAP_CBOR_MAX_DEPTH, &major))
		goto out;
	if (must_be_map && major != CBOR_TYPE_MAP) {
		r = CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
		goto out;
	}
	item = cbor_load(buf, len, &res);
	if (item == NULL || res.error.code != CBOR_ERR_NONE || res.read != len)
		goto out;
	*out = item;
	item = NULL; /* transferred */
	r = CTAP2_OK;
out:
	if (item != NULL)
		cbor_decref(&item);
	return r;
}

/* ---- map lookups and typed reads ---- */

cbor_item_t *ctap_map_uint(const cbor_item_t *map, uint64_t key)
{
	struct cbor_pair *p;
	size_t i, n;

	if (map == NULL || !cbor_isa_map(map))
		return NULL;
	p = cbor_map_handle(map);
	n = cbor_map_size(map);
	for (i = 0; i < n; i++)
		if (cbor_isa_uint(p[i].key) && cbor_get_int(p[i].key) == key)
			return p[i].value;
	return NULL;
}

uint8_t ctap_map_each_uint(const cbor_item_t *map,
			   uint8_t (*member)(void *arg, uint64_t key,
					     const cbor_item_t *value),
			   void *arg)
{
	struct cbor_pair *p;
	uint64_t key;
	uint8_t r;

	if (map == NULL || !cbor_isa_map(map))
		return CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	p = cbor_map_handle(map);
	for (size_t i = 0; i < cbor_map_size(map); i++) {
		if (ctap_uint(p[i].key, &key) != CTAP2_OK)
			continue;
		if ((r = member(arg, key, p[i].value)) != CTAP2_OK)
			return r;
	}
	return CTAP2_OK;
}

cbor_item_t *ctap_map_text(const cbor_item_t *map, const char *key)
{
	size_t klen = strlen(key);
	struct cbor_pair *p;
	size_t i, n;

	if (map == NULL || !cbor_isa_map(map))
		return NULL;
	p = cbor_map_handle(map);
	n = cbor_map_size(map);
	for (i = 0; i < n; i++) {
		const cbor_item_t *k = p[i].key;

		if (cbor_isa_string(k) && cbor_string_is_definite(k) &&
		    cbor_string_length(k) == klen &&
		    (klen == 0 || memcmp(cbor_string_handle(k), key, klen) == 0))
			return p[i].value;
	}
	return NULL;
}

uint8_t ctap_uint(const cbor_item_t *it, uint64_t *v)
{
	if (it == NULL || !cbor_isa_uint(it))
		return CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	*v = cbor_get_int(it);
	return CTAP2_OK;
}

uint8_t ctap_int(const cbor_item_t *it, int64_t *v)
{
	uint64_t u;

	if (it == NULL || !(cbor_isa_uint(it) || cbor_isa_negint(it)))
		return CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	u = cbor_get_int(it);
	if (u > INT64_MAX) /* does not fit an int64_t either way */
		return CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	/* A negative int n is encoded as -1 - n. */
	*v = cbor_isa_uint(it) ? (int64_t)u : -1 - (int64_t)u;
	return CTAP2_OK;
}

/* An empty string's handle may be NULL; callers get a valid pointer so
 * that memcpy(dst, p, 0) stays defined. */
static const uint8_t empty_string[1];

uint8_t ctap_bytes(const cbor_item_t *it, const uint8_t **p, size_t *len)
{
	if (it == NULL || !cbor_isa_bytestring(it) ||
	    !cbor_bytestring_is_definite(it))
		return CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	*len = cbor_bytestring_length(it);
	*p = *len ? cbor_bytestring_handle(it) : empty_string;
	return CTAP2_OK;
}

/* *p is not NUL-terminated. */
uint8_t ctap_text(const cbor_item_t *it, const char **p, size_t *len)
{
	if (it == NULL || !cbor_isa_string(it) || !cbor_string_is_definite(it))
		return CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	*len = cbor_string_length(it);
	*p = *len ? (const char *)cbor_string_handle(it)
		  : (const char *)empty_string;
	return CTAP2_OK;
}

uint8_t ctap_bool(const cbor_item_t *it, bool *v)
{
	if (it == NULL || !cbor_isa_float_ctrl(it) || !cbor_is_bool(it))
		return CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	*v = cbor_get_bool(it);
	return CTAP2_OK;
}

/* ---- map building ---- */

/* Adds key → value; takes ownership of both, whatever happens. */
static int map_put(cbor_item_t *map, cbor_item_t *key, cbor_item_t *value)
{
	int r = -1;

	if (map == NULL || key == NULL || value == NULL)
		goto out;
	if (cbor_map_add(map, (struct cbor_pair){ .key = key,
						  .value = value }))
		r = 0;
out:
	/* cbor_map_add took its own references. */
	if (key != NULL)
		cbor_decref(&key);
	if (value != NULL)
		cbor_decref(&value);
	return r;
}

/* The narrowest libcbor integer for v, so that even libcbor's own
 * serializer (which keeps widths) writes it in shortest form. */
static cbor_item_t *build_uint(uint64_t v)
{
	if (v <= UINT8_MAX)
		return cbor_build_uint8((uint8_t)v);
	if (v <= UINT16_MAX)
		return cbor_build_uint16((uint16_t)v);
	if (v <= UINT32_MAX)
		return cbor_build_uint32((uint32_t)v);
	return cbor_build_uint64(v);
}

static cbor_item_t *build_negint(uint64_t v)
{
	if (v <= UINT8_MAX)
		return cbor_build_negint8((uint8_t)v);
	if (v <= UINT16_MAX)
		return cbor_build_negint16((uint16_t)v);
	if (v <= UINT32_MAX)
		return cbor_build_negint32((uint32_t)v);
	return cbor_build_negint64(v);
}

int ctap_map_put_uint(cbor_item_t *map, uint64_t key, cbor_item_t *value)
{
	return map_put(map, build_uint(key), value);
}

int ctap_map_put_text(cbor_item_t *map, const char *key, cbor_item_t *value)
{
	return map_put(map, cbor_build_string(key), value);
}

static cbor_item_t *build_int(int64_t v)
{
	/* A negative int n is encoded as -1 - n. */
	return v >= 0 ? build_uint((uint64_t)v)
		      : build_negint((uint64_t)(-1 - v));
}

static int map_put_int(cbor_item_t *map, int64_t key, cbor_item_t *value)
{
	return map_put(map, build_int(key), value);
}

/* ---- COSE keys ---- */

cbor_item_t *ctap_cose_key(enum crypto_curve curve, int alg,
			   const uint8_t *pub, size_t pub_len)
{
	cbor_item_t *m = NULL;
	bool ec2 = curve == CRYPTO_P256;

	if (ec2 ? pub_len != 65 || pub[0] != 0x04
		: curve != CRYPTO_ED25519 || pub_len != 32)
		return NULL;
	m = cbor_new_definite_map(ec2 ? 5 : 4);
	if (m == NULL)
		return NULL;
	/* Keys in canonical order: 1, 3, -1, -2, -3. */
	if (map_put_int(m, COSE_KTY, build_int(ec2 ? COSE_KTY_EC2
						    : COSE_KTY_OKP)) ||
	    map_put_int(m, COSE_ALG, build_int(alg)) ||
	    map_put_int(m, COSE_CRV, build_int(ec2 ? COSE_CRV_P256
						    : COSE_CRV_ED25519)) ||
	    map_put_int(m, COSE_X, cbor_build_bytestring(ec2 ? pub + 1 : pub,
							  32)) ||
	    (ec2 && map_put_int(m, COSE_Y, cbor_build_bytestring(pub + 33, 32))))
		cbor_decref(&m);
	return m;
}

static const cbor_item_t *cose_get(const cbor_item_t *cose, int64_t label)
{
	struct cbor_pair *p = cbor_map_handle(cose);
	size_t i, n = cbor_map_size(cose);
	int64_t k;

	for (i = 0; i < n; i++)
		if (ctap_int(p[i].key, &k) == CTAP2_OK && k == label)
			return p[i].value;
	return NULL;
}

/* The platform's key-agreement key (CTAP 2.1 §6.5.6, getPublicKey's
 * counterpart): EC2 on P-256. The alg label is not checked, as the spec
 * itself says it does not name the algorithm actually used. Whether the
 * point is on the curve is crypto_ecdh's check. */
uint8_t ctap_cose_p256(const cbor_item_t *cose, uint8_t pub[65])
{
	const cbor_item_t *kty, *crv, *x, *y;
	const uint8_t *xp, *yp;
	size_t xl, yl;
	int64_t v;

	if (cose == NULL || !cbor_isa_map(cose))
		return CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	kty = cose_get(cose, COSE_KTY);
	crv = cose_get(cose, COSE_CRV);
	if (kty == NULL || crv == NULL)
		return CTAP2_ERR_MISSING_PARAMETER;
	if (ctap_int(kty, &v) != CTAP2_OK || v != COSE_KTY_EC2 ||
	    ctap_int(crv, &v) != CTAP2_OK || v != COSE_CRV_P256)
		return CTAP1_ERR_INVALID_PARAMETER;
	x = cose_get(cose, COSE_X);
	y = cose_get(cose, COSE_Y);
	if (x == NULL || y == NULL)
		return CTAP2_ERR_MISSING_PARAMETER;
	if (ctap_bytes(x, &xp, &xl) != CTAP2_OK ||
	    ctap_bytes(y, &yp, &yl) != CTAP2_OK)
		return CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	if (xl != 32 || yl != 32)
		return CTAP1_ERR_INVALID_PARAMETER;
	pub[0] = 0x04;
	memcpy(pub + 1, xp, 32);
	memcpy(pub + 33, yp, 32);
	return CTAP2_OK;
}
