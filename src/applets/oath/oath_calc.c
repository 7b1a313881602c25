/* Codes: CALCULATE and CALCULATE ALL. HOTP per RFC 4226 (the counter is
 * persisted before a code leaves the key), TOTP per RFC 6238 with the
 * time step supplied by the host: the key never reads its own clock. */
#include "applets/oath/oath_priv.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apdu/sw.h"
#include "core/key.h"
#include "services/crypto.h"

enum {
	F_NAME = 1 << 0,
	F_CHALLENGE = 1 << 1,
};

struct calc_req {
	unsigned seen;
	struct rbuf name;
	struct rbuf challenge;
};

/* One account as CALCULATE ALL handles it. */
struct calc_entry {
	uint8_t name[OATH_NAME_MAX];
	size_t name_len;
	struct oath_record rec;
	bool dirty; /* last_challenge moved: save before answering */
};

struct calc_all {
	struct calc_entry *e;
	size_t n, cap;
};

static int calc_parse(const struct apdu *cmd, struct calc_req *q)
{
	struct rbuf r = rbuf_init(cmd->data, cmd->lc);
	struct rbuf val;
	uint8_t tag;
	unsigned bit;

	memset(q, 0, sizeof(*q));
	while (rbuf_left(&r) > 0) {
		if (oath_next(&r, &tag, &val) != 0)
			return -1;
		if (tag == OATH_TAG_NAME) {
			bit = F_NAME;
			q->name = val;
		} else if (tag == OATH_TAG_CHALLENGE) {
			bit = F_CHALLENGE;
			q->challenge = val;
		} else {
			return -1;
		}
		if (q->seen & bit)
			return -1;
		q->seen |= bit;
	}
	return q->challenge.len <= OATH_HOST_CHALLENGE_MAX ? 0 : -1;
}

static bool calc_p1p2_ok(const struct apdu *cmd)
{
	return cmd->p1 == 0 && (cmd->p2 == 0 || cmd->p2 == 1);
}

/* RFC 4226 §5.3 dynamic truncation, as the 4 bytes YKOATH returns. */
static void truncate_code(const uint8_t *digest, size_t len, uint8_t out[4])
{
	size_t off = digest[len - 1] & 0x0F;

	out[0] = digest[off] & 0x7F;
	out[1] = digest[off + 1];
	out[2] = digest[off + 2];
	out[3] = digest[off + 3];
}

/* Response element: 75 (digits, full HMAC) or 76 (digits, truncated). */
static int encode_code(struct wbuf *w, const struct oath_record *rec,
		       const uint8_t *msg, size_t msg_len, bool truncated)
{
	uint8_t digest[OATH_DIGEST_MAX];
	uint8_t val[1 + OATH_DIGEST_MAX];
	int md = oath_md(rec->alg);
	size_t dlen = crypto_md_len((enum crypto_md)md);
	int r = -1;

	if (md < 0 || dlen == 0 || dlen > OATH_DIGEST_MAX ||
	    crypto_hmac((enum crypto_md)md, rec->key, rec->key_len, msg,
			msg_len, digest) != 0)
		goto out;
	val[0] = rec->digits;
	if (truncated) {
		truncate_code(digest, dlen, val + 1);
		r = wbuf_tlv(w, OATH_TAG_TRUNCATED, val, 5);
	} else {
		memcpy(val + 1, digest, dlen);
		r = wbuf_tlv(w, OATH_TAG_RESPONSE, val, 1 + dlen);
	}
out:
	crypto_wipe(digest, sizeof(digest));
	crypto_wipe(val, sizeof(val));
	return r;
}

/* OATH_PROP_INCREASING: the TOTP time step may repeat, never go back.
 * Returns SW_OK and sets *moved when last_challenge must be saved. */
static unsigned check_increasing(struct oath_record *rec,
				 const struct rbuf *chal, bool *moved)
{
	int c;

	*moved = false;
	if (rec->type != OATH_TYPE_TOTP ||
	    !(rec->props & OATH_PROP_INCREASING))
		return SW_OK;
	if (chal->len != OATH_CHALLENGE_LEN)
		return SW_WRONG_DATA;
	c = memcmp(chal->p, rec->last_challenge, OATH_CHALLENGE_LEN);
	if (c < 0)
		return SW_SECURITY_STATUS;
	if (c > 0) {
		memcpy(rec->last_challenge, chal->p, OATH_CHALLENGE_LEN);
		*moved = true;
	}
	return SW_OK;
}

/* A touch for a touch-required account; ykman reads 6982 as "touch
 * timed out", which is what a YubiKey answers. */
static unsigned touch(struct oath *o, const struct rbuf *name)
{
	char what[32 + 4 * OATH_NAME_MAX];
	char shown[4 * OATH_NAME_MAX + 1];

	oath_print_name(shown, sizeof(shown), name->p, name->len);
	snprintf(what, sizeof(what), "OATH code for %s", shown);
	if (up_request(vkey_up(o->key), what, NULL, NULL) != UP_APPROVED)
		return SW_SECURITY_STATUS;
	return SW_OK;
}

/* HOTP: code for the current counter, counter + 1 saved first. */
static unsigned calc_hotp(struct oath *o, const struct calc_req *q,
			  struct oath_record *rec, struct wbuf *w,
			  bool truncated)
{
	uint8_t msg[8];
	uint64_t c = rec->counter;
	unsigned sw;

	if (c == UINT64_MAX)
		return SW_CONDITIONS_NOT_SATISFIED; /* counter exhausted */
	for (int i = 7; i >= 0; i--, c >>= 8)
		msg[i] = (uint8_t)c;
	rec->counter++;
	sw = oath_store_sw(oath_record_save(o, q->name.p, q->name.len, rec));
	if (sw == SW_OK && encode_code(w, rec, msg, sizeof(msg), truncated))
		sw = SW_UNKNOWN;
	return sw;
}

static unsigned calc_totp(struct oath *o, const struct calc_req *q,
			  struct oath_record *rec, struct wbuf *w,
			  bool truncated)
{
	bool moved;
	unsigned sw = check_increasing(rec, &q->challenge, &moved);

	if (sw == SW_OK && moved)
		sw = oath_store_sw(
			oath_record_save(o, q->name.p, q->name.len, rec));
	if (sw == SW_OK && encode_code(w, rec, q->challenge.p,
				       q->challenge.len, truncated) != 0)
		sw = SW_UNKNOWN;
	return sw;
}

unsigned oath_calculate(struct oath *o, const struct apdu *cmd,
			struct wbuf *resp)
{
	struct calc_req q;
	struct oath_record rec;
	unsigned sw;

	memset(&rec, 0, sizeof(rec));
	if (!calc_p1p2_ok(cmd)) {
		sw = SW_WRONG_P1P2;
		goto out;
	}
	if (calc_parse(cmd, &q) != 0 || q.seen != (F_NAME | F_CHALLENGE) ||
	    !oath_name_ok(&q.name)) {
		sw = SW_WRONG_DATA;
		goto out;
	}
	sw = oath_store_sw(oath_record_load(o, q.name.p, q.name.len, &rec));
	if (sw != SW_OK)
		goto out;
	if (rec.props & OATH_PROP_TOUCH) {
		sw = touch(o, &q.name);
		if (sw != SW_OK)
			goto out;
	}
	if (rec.type == OATH_TYPE_HOTP)
		sw = calc_hotp(o, &q, &rec, resp, cmd->p2 == 1);
	else
		sw = calc_totp(o, &q, &rec, resp, cmd->p2 == 1);
out:
	crypto_wipe(&rec, sizeof(rec));
	return sw;
}

static int collect_one(void *arg, const uint8_t *name, size_t name_len,
		       const uint8_t *val, size_t val_len)
{
	struct calc_all *all = arg;
	struct calc_entry *e;

	if (all->n == all->cap)
		return STORE_FULL; /* more records than counted a moment ago */
	e = &all->e[all->n];
	if (name_len < 1 || name_len > OATH_NAME_MAX ||
	    oath_record_decode(val, val_len, &e->rec) != 0)
		return STORE_CORRUPT;
	memcpy(e->name, name, name_len);
	e->name_len = name_len;
	e->dirty = false;
	all->n++;
	return STORE_OK;
}

static int collect(struct oath *o, struct calc_all *all)
{
	struct store *st = vkey_store(o->key);
	size_t n = 0;
	int err;

	err = store_count(st, OATH_NS, &n);
	if (err != STORE_OK)
		return err;
	all->e = calloc(n > 0 ? n : 1, sizeof(*all->e));
	if (all->e == NULL)
		return STORE_IO;
	all->cap = n;
	return store_foreach(st, OATH_NS, collect_one, all);
}

/* One CALCULATE ALL entry. As a YubiKey does, HOTP and touch accounts
 * are listed with their digits only (77 / 7C): computing them would
 * move a counter or need a touch per account. */
static unsigned encode_entry(struct calc_entry *e, const struct rbuf *chal,
			     struct wbuf *w, bool truncated)
{
	struct oath_record *rec = &e->rec;
	unsigned sw;

	wbuf_tlv(w, OATH_TAG_NAME, e->name, e->name_len);
	if (rec->type == OATH_TYPE_HOTP) {
		wbuf_tlv(w, OATH_TAG_HOTP, &rec->digits, 1);
		return SW_OK;
	}
	if (rec->props & OATH_PROP_TOUCH) {
		wbuf_tlv(w, OATH_TAG_TOUCH, &rec->digits, 1);
		return SW_OK;
	}
	sw = check_increasing(rec, chal, &e->dirty);
	if (sw == SW_OK &&
	    encode_code(w, rec, chal->p, chal->len, truncated) != 0)
		sw = SW_UNKNOWN;
	return sw;
}

/* Save the moved last_challenge of "only increasing" accounts. */
static unsigned save_dirty(struct oath *o, const struct calc_all *all)
{
	struct store *st = vkey_store(o->key);
	bool any = false;
	int err;

	for (size_t i = 0; i < all->n; i++)
		any = any || all->e[i].dirty;
	if (!any)
		return SW_OK;
	err = store_begin(st);
	for (size_t i = 0; i < all->n && err == STORE_OK; i++)
		if (all->e[i].dirty)
			err = oath_record_save(o, all->e[i].name,
					       all->e[i].name_len,
					       &all->e[i].rec);
	if (err == STORE_OK)
		err = store_commit(st);
	else
		store_rollback(st);
	return oath_store_sw(err);
}

unsigned oath_calculate_all(struct oath *o, const struct apdu *cmd,
			    struct wbuf *resp)
{
	struct calc_req q;
	struct calc_all all = { NULL, 0, 0 };
	unsigned sw = SW_OK;
	int err;

	if (!calc_p1p2_ok(cmd)) {
		sw = SW_WRONG_P1P2;
		goto out;
	}
	if (calc_parse(cmd, &q) != 0 || q.seen != F_CHALLENGE) {
		sw = SW_WRONG_DATA;
		goto out;
	}
	err = collect(o, &all);
	if (err != STORE_OK) {
		sw = oath_store_sw(err);
		goto out;
	}
	for (size_t i = 0; i < all.n && sw == SW_OK; i++)
		sw = encode_entry(&all.e[i], &q.challenge, resp, cmd->p2 == 1);
	if (sw == SW_OK)
		sw = save_dirty(o, &all);
out:
	if (all.e != NULL) {
		crypto_wipe(all.e, all.cap * sizeof(*all.e));
		free(all.e);
	}
	return sw;
}
