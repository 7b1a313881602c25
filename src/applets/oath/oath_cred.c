/* Account management: PUT, DELETE, RENAME and LIST. */
#include "applets/oath/oath_priv.h"

#include <string.h>

#include "apdu/sw.h"
#include "core/key.h"
#include "services/crypto.h"

enum {
	F_NAME = 1 << 0,
	F_KEY = 1 << 1,
	F_PROP = 1 << 2,
	F_IMF = 1 << 3,
};

struct put_req {
	unsigned seen;
	struct rbuf name;
	uint8_t type, alg, digits;
	struct rbuf key;
	uint8_t props;
	uint32_t imf;
};

static bool p1p2_zero(const struct apdu *cmd)
{
	return cmd->p1 == 0 && cmd->p2 == 0;
}

/* Record one element of PUT; -1 for a duplicate or unknown tag. */
static int put_field(void *req, uint8_t tag, struct rbuf *val)
{
	struct put_req *q = req;
	unsigned bit;

	switch (tag) {
	case OATH_TAG_NAME:
		bit = F_NAME;
		q->name = *val;
		break;
	case OATH_TAG_KEY:
		bit = F_KEY;
		if (rbuf_u8(val, &q->type) != 0 ||
		    rbuf_u8(val, &q->digits) != 0)
			return -1;
		q->alg = q->type & OATH_ALG_MASK;
		q->type &= OATH_TYPE_MASK;
		q->key = rbuf_init(rbuf_cur(val), rbuf_left(val));
		break;
	case OATH_TAG_PROPERTY:
		bit = F_PROP;
		if (rbuf_u8(val, &q->props) != 0)
			return -1;
		break;
	case OATH_TAG_IMF:
		bit = F_IMF;
		if (rbuf_u32be(val, &q->imf) != 0 || rbuf_left(val) != 0)
			return -1;
		break;
	default:
		return -1;
	}
	if (q->seen & bit)
		return -1;
	q->seen |= bit;
	return 0;
}

static int put_parse(const struct apdu *cmd, struct put_req *q)
{
	memset(q, 0, sizeof(*q));
	return oath_parse_fields(cmd, put_field, q);
}

/* All of PUT's rules in one place. */
static bool put_valid(const struct put_req *q)
{
	if ((q->seen & (F_NAME | F_KEY)) != (F_NAME | F_KEY))
		return false;
	if (!oath_name_ok(&q->name))
		return false;
	if (q->type != OATH_TYPE_HOTP && q->type != OATH_TYPE_TOTP)
		return false;
	if (oath_md(q->alg) < 0)
		return false;
	if (q->digits < OATH_DIGITS_MIN || q->digits > OATH_DIGITS_MAX)
		return false;
	if (q->key.len < OATH_KEY_MIN || q->key.len > oath_block_len(q->alg))
		return false;
	if ((q->props & ~OATH_PROP_ALL) != 0)
		return false;
	/* The initial moving factor is a HOTP counter. */
	return !(q->seen & F_IMF) || q->type == OATH_TYPE_HOTP;
}

/* A new name must fit under the account limit. */
static unsigned room_for(struct oath *o, const struct rbuf *name)
{
	struct store *st = vkey_store(o->key);
	uint8_t *val = NULL;
	size_t len = 0, n = 0;
	int err;

	err = store_get(st, OATH_NS, name->p, name->len, &val, &len);
	store_free_value(val, len);
	if (err == STORE_OK || err == STORE_CORRUPT)
		return SW_OK; /* overwrite (a damaged record too) */
	if (err != STORE_NOT_FOUND)
		return oath_store_sw(err);
	err = store_count(st, OATH_NS, &n);
	if (err != STORE_OK)
		return oath_store_sw(err);
	return n >= OATH_MAX_ACCOUNTS ? SW_NOT_ENOUGH_SPACE : SW_OK;
}

unsigned oath_put(struct oath *o, const struct apdu *cmd, struct wbuf *resp)
{
	struct put_req q;
	struct oath_record rec;
	unsigned sw;

	(void)resp;
	memset(&rec, 0, sizeof(rec));
	if (!p1p2_zero(cmd)) {
		sw = SW_WRONG_P1P2;
		goto out;
	}
	if (put_parse(cmd, &q) != 0 || !put_valid(&q)) {
		sw = SW_WRONG_DATA;
		goto out;
	}
	sw = room_for(o, &q.name);
	if (sw != SW_OK)
		goto out;
	rec.type = q.type;
	rec.alg = q.alg;
	rec.digits = q.digits;
	rec.props = q.props;
	rec.counter = q.imf;
	rec.key_len = q.key.len;
	memcpy(rec.key, q.key.p, q.key.len);
	sw = oath_store_sw(oath_record_save(o, q.name.p, q.name.len, &rec));
out:
	crypto_wipe(&rec, sizeof(rec));
	return sw;
}

/* DELETE's and RENAME's data: one or two names and nothing else. */
static int parse_names(const struct apdu *cmd, struct rbuf *names,
		       size_t want)
{
	struct rbuf r = rbuf_init(cmd->data, cmd->lc);
	uint8_t tag;
	size_t n = 0;

	while (rbuf_left(&r) > 0) {
		if (n == want || oath_next(&r, &tag, &names[n]) != 0 ||
		    tag != OATH_TAG_NAME || !oath_name_ok(&names[n]))
			return -1;
		n++;
	}
	return n == want ? 0 : -1;
}

unsigned oath_delete(struct oath *o, const struct apdu *cmd,
		     struct wbuf *resp)
{
	struct rbuf name;

	(void)resp;
	if (!p1p2_zero(cmd))
		return SW_WRONG_P1P2;
	if (parse_names(cmd, &name, 1) != 0)
		return SW_WRONG_DATA;
	return oath_store_sw(
		store_del(vkey_store(o->key), OATH_NS, name.p, name.len));
}

static bool same_name(const struct rbuf *a, const struct rbuf *b)
{
	return a->len == b->len && memcmp(a->p, b->p, a->len) == 0;
}

/* Move the record under a new name, in one transaction. */
static unsigned rename_move(struct oath *o, const struct rbuf *from,
			    const struct rbuf *to)
{
	struct store *st = vkey_store(o->key);
	struct oath_record rec;
	uint8_t *val = NULL;
	size_t len = 0;
	int err;

	err = store_begin(st);
	if (err != STORE_OK)
		return oath_store_sw(err);
	err = oath_record_load(o, from->p, from->len, &rec);
	if (err != STORE_OK)
		goto out;
	err = store_get(st, OATH_NS, to->p, to->len, &val, &len);
	store_free_value(val, len);
	if (err == STORE_OK) {
		err = STORE_INVALID; /* the new name is taken */
		goto out;
	}
	if (err != STORE_NOT_FOUND)
		goto out;
	err = oath_record_save(o, to->p, to->len, &rec);
	if (err == STORE_OK)
		err = store_del(st, OATH_NS, from->p, from->len);
	if (err == STORE_OK)
		err = store_commit(st);
out:
	if (err != STORE_OK)
		store_rollback(st);
	crypto_wipe(&rec, sizeof(rec));
	return err == STORE_INVALID ? SW_WRONG_DATA : oath_store_sw(err);
}

unsigned oath_rename(struct oath *o, const struct apdu *cmd,
		     struct wbuf *resp)
{
	struct rbuf names[2];
	struct oath_record rec;
	int err;

	(void)resp;
	if (!p1p2_zero(cmd))
		return SW_WRONG_P1P2;
	if (parse_names(cmd, names, 2) != 0)
		return SW_WRONG_DATA;
	if (!same_name(&names[0], &names[1]))
		return rename_move(o, &names[0], &names[1]);
	/* Renaming to the same name changes nothing, if the account exists. */
	err = oath_record_load(o, names[0].p, names[0].len, &rec);
	crypto_wipe(&rec, sizeof(rec));
	return oath_store_sw(err);
}

/* One LIST entry: 72 len, type|algorithm, name. */
static int list_one(void *arg, const uint8_t *name, size_t name_len,
		    const uint8_t *val, size_t val_len)
{
	struct wbuf *w = arg;
	struct oath_record rec;
	uint8_t entry[1 + OATH_NAME_MAX];
	int err = STORE_CORRUPT;

	if (name_len < 1 || name_len > OATH_NAME_MAX ||
	    oath_record_decode(val, val_len, &rec) != 0)
		goto out;
	entry[0] = (uint8_t)(rec.type | rec.alg);
	memcpy(entry + 1, name, name_len);
	err = wbuf_tlv(w, OATH_TAG_NAME_LIST, entry, 1 + name_len) == 0
		      ? STORE_OK
		      : STORE_FULL;
out:
	crypto_wipe(&rec, sizeof(rec));
	return err;
}

unsigned oath_list(struct oath *o, const struct apdu *cmd, struct wbuf *resp)
{
	int err;

	if (!p1p2_zero(cmd))
		return SW_WRONG_P1P2;
	err = store_foreach(vkey_store(o->key), OATH_NS, list_one, resp);
	if (err == STORE_FULL)
		return SW_UNKNOWN; /* cannot happen below OATH_MAX_ACCOUNTS */
	return oath_store_sw(err);
}
