/* Discoverable credentials in the store: one record per credential,
 * keyed rpIdHash || credentialId so that one relying party's credentials
 * are one prefix walk. The private key stays sealed in the ID; the record
 * holds the entities, the creation order and the largeBlobKey. */
#include "applets/fido/ctap_cred.h"

#include <stdlib.h>
#include <string.h>

#define RECORD_V1 1
#define FIELD_ABSENT 0xFFFF
#define KEY_MAX (32 + CTAP_CRED_ID_MAX)

int cred_field_set(struct cred_field *f, const void *p, size_t len,
		   size_t max)
{
	if (len > max || len > sizeof(f->v))
		return -1;
	f->present = true;
	f->len = len;
	memcpy(f->v, p, len);
	return 0;
}

static void field_encode(struct wbuf *w, const struct cred_field *f)
{
	if (!f->present) {
		wbuf_u16be(w, FIELD_ABSENT);
		return;
	}
	wbuf_u16be(w, (uint16_t)f->len);
	wbuf_put(w, f->v, f->len);
}

static int field_decode(struct rbuf *r, struct cred_field *f)
{
	const uint8_t *p;
	uint16_t n;

	memset(f, 0, sizeof(*f));
	if (rbuf_u16be(r, &n) != 0)
		return -1;
	if (n == FIELD_ABSENT)
		return 0;
	if (n > sizeof(f->v) || rbuf_bytes(r, n, &p) != 0)
		return -1;
	return cred_field_set(f, p, n, sizeof(f->v));
}

int cred_rk_encode(const struct cred_rk *rk, struct wbuf *w)
{
	wbuf_u8(w, RECORD_V1);
	wbuf_u32be(w, rk->created);
	field_encode(w, &rk->rp_id);
	field_encode(w, &rk->rp_name);
	field_encode(w, &rk->user_id);
	field_encode(w, &rk->user_name);
	field_encode(w, &rk->display_name);
	wbuf_u8(w, rk->has_lbk ? 1 : 0);
	if (rk->has_lbk)
		wbuf_put(w, rk->lbk, sizeof(rk->lbk));
	return w->overflow ? -1 : 0;
}

int cred_rk_decode(const uint8_t *p, size_t len, struct cred_rk *rk)
{
	struct rbuf r = rbuf_init(p, len);
	const uint8_t *lbk;
	uint8_t ver, has_lbk;

	memset(rk, 0, sizeof(*rk));
	if (rbuf_u8(&r, &ver) != 0 || ver != RECORD_V1 ||
	    rbuf_u32be(&r, &rk->created) != 0 ||
	    field_decode(&r, &rk->rp_id) != 0 ||
	    field_decode(&r, &rk->rp_name) != 0 ||
	    field_decode(&r, &rk->user_id) != 0 ||
	    field_decode(&r, &rk->user_name) != 0 ||
	    field_decode(&r, &rk->display_name) != 0 ||
	    rbuf_u8(&r, &has_lbk) != 0 || has_lbk > 1)
		return -1;
	if (has_lbk && rbuf_bytes(&r, CRED_LBK_LEN, &lbk) != 0)
		return -1;
	if (rbuf_left(&r) != 0 || !rk->rp_id.present || !rk->user_id.present)
		return -1;
	rk->has_lbk = has_lbk;
	if (has_lbk)
		memcpy(rk->lbk, lbk, CRED_LBK_LEN);
	return 0;
}

static size_t record_key(const uint8_t rp_id_hash[32], const uint8_t *id,
			 size_t id_len, uint8_t key[KEY_MAX])
{
	memcpy(key, rp_id_hash, 32);
	memcpy(key + 32, id, id_len);
	return 32 + id_len;
}

uint8_t ctap_store_status(int err)
{
	switch (err) {
	case STORE_OK:
		return CTAP2_OK;
	case STORE_NOT_FOUND:
		return CTAP2_ERR_NO_CREDENTIALS;
	case STORE_FULL:
		return CTAP2_ERR_KEY_STORE_FULL;
	default:
		return CTAP2_ERR_PROCESSING;
	}
}

uint8_t cred_rk_get(struct ctap *c, const uint8_t rp_id_hash[32],
		    const uint8_t *id, size_t id_len, struct cred_rk *rk)
{
	uint8_t key[KEY_MAX];
	uint8_t *val = NULL;
	size_t val_len = 0, key_len;
	uint8_t r;
	int err;

	if (id_len > CTAP_CRED_ID_MAX)
		return CTAP2_ERR_NO_CREDENTIALS;
	key_len = record_key(rp_id_hash, id, id_len, key);
	err = store_get(c->store, NS_CRED, key, key_len, &val, &val_len);
	r = ctap_store_status(err);
	if (r == CTAP2_OK && cred_rk_decode(val, val_len, rk) != 0)
		r = CTAP2_ERR_PROCESSING;
	store_free_value(val, val_len);
	return r;
}

/* The keys of a relying party's records that belong to one user. */
struct same_user {
	const struct cred_field *user_id;
	uint8_t (*keys)[KEY_MAX];
	size_t *lens;
	size_t n, cap;
};

static int same_user_cb(void *arg, const uint8_t *key, size_t key_len,
			const uint8_t *val, size_t val_len)
{
	struct same_user *s = arg;
	struct cred_rk *rk = malloc(sizeof(*rk));
	int r = CTAP2_ERR_PROCESSING; /* positive: stops the walk */

	if (rk == NULL)
		goto out;
	r = 0;
	if (key_len > KEY_MAX || cred_rk_decode(val, val_len, rk) != 0 ||
	    rk->user_id.len != s->user_id->len ||
	    memcmp(rk->user_id.v, s->user_id->v, rk->user_id.len) != 0)
		goto out;
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 2;
		void *k = realloc(s->keys, cap * sizeof(*s->keys));
		void *l;

		if (k == NULL) {
			r = CTAP2_ERR_PROCESSING;
			goto out;
		}
		s->keys = k;
		l = realloc(s->lens, cap * sizeof(*s->lens));
		if (l == NULL) {
			r = CTAP2_ERR_PROCESSING;
			goto out;
		}
		s->lens = l;
		s->cap = cap;
	}
	memcpy(s->keys[s->n], key, key_len);
	s->lens[s->n++] = key_len;
out:
	if (rk != NULL)
		crypto_wipe(rk, sizeof(*rk));
	free(rk);
	return r;
}

/* In one transaction: drop the same rp+user's older credential (CTAP 2.1
 * §6.1.2 step 17), check room, store the new one. */
uint8_t cred_rk_put(struct ctap *c, const uint8_t rp_id_hash[32],
		    const uint8_t *id, size_t id_len, const struct cred_rk *rk)
{
	struct same_user s = { .user_id = &rk->user_id };
	uint8_t key[KEY_MAX], val[2048];
	struct wbuf w = wbuf_init(val, sizeof(val));
	size_t key_len, n = 0;
	uint8_t r = CTAP2_ERR_PROCESSING;
	int err;

	if (id_len > CTAP_CRED_ID_MAX || cred_rk_encode(rk, &w) != 0)
		goto out;
	key_len = record_key(rp_id_hash, id, id_len, key);
	if (store_begin(c->store) != STORE_OK)
		goto out;
	err = store_foreach_prefix(c->store, NS_CRED, rp_id_hash, 32,
				   same_user_cb, &s);
	for (size_t i = 0; err == STORE_OK && i < s.n; i++)
		err = store_del(c->store, NS_CRED, s.keys[i], s.lens[i]);
	if (err == STORE_OK)
		err = store_count(c->store, NS_CRED, &n);
	if (err == STORE_OK && n >= CRED_RK_MAX) {
		store_rollback(c->store);
		r = CTAP2_ERR_KEY_STORE_FULL;
		goto out;
	}
	if (err == STORE_OK)
		err = store_put(c->store, NS_CRED, key, key_len, val, w.len);
	if (err != STORE_OK) {
		store_rollback(c->store);
		r = err > 0 ? (uint8_t)err : ctap_store_status(err);
		goto out;
	}
	r = ctap_store_status(store_commit(c->store));
out:
	free(s.keys);
	free(s.lens);
	crypto_wipe(val, sizeof(val));
	return r;
}

uint8_t cred_rk_del(struct ctap *c, const uint8_t rp_id_hash[32],
		    const uint8_t *id, size_t id_len)
{
	uint8_t key[KEY_MAX];
	size_t key_len;

	if (id_len > CTAP_CRED_ID_MAX)
		return CTAP2_ERR_NO_CREDENTIALS;
	key_len = record_key(rp_id_hash, id, id_len, key);
	return ctap_store_status(store_del(c->store, NS_CRED, key, key_len));
}

uint8_t cred_rk_count(struct ctap *c, size_t *n)
{
	return ctap_store_status(store_count(c->store, NS_CRED, n));
}

size_t cred_rk_remaining(struct ctap *c)
{
	size_t n = 0;

	if (cred_rk_count(c, &n) != CTAP2_OK || n >= CRED_RK_MAX)
		return 0;
	return CRED_RK_MAX - n;
}

struct each {
	cred_rk_fn cb;
	void *arg;
	struct cred_rk rk;
};

static int each_cb(void *arg, const uint8_t *key, size_t key_len,
		   const uint8_t *val, size_t val_len)
{
	struct each *e = arg;

	/* A record that does not decode is skipped, not fatal: one damaged
	 * credential must not hide the others. */
	if (key_len <= 32 || key_len > KEY_MAX ||
	    cred_rk_decode(val, val_len, &e->rk) != 0)
		return 0;
	return e->cb(e->arg, key, key + 32, key_len - 32, &e->rk);
}

uint8_t cred_rk_each(struct ctap *c, const uint8_t *rp_id_hash,
		     cred_rk_fn cb, void *arg)
{
	struct each *e = calloc(1, sizeof(*e));
	int err;

	if (e == NULL)
		return CTAP2_ERR_PROCESSING;
	e->cb = cb;
	e->arg = arg;
	err = rp_id_hash != NULL
		      ? store_foreach_prefix(c->store, NS_CRED, rp_id_hash, 32,
					     each_cb, e)
		      : store_foreach(c->store, NS_CRED, each_cb, e);
	crypto_wipe(e, sizeof(*e));
	free(e);
	/* A callback's own non-zero return is passed through as is. */
	if (err > 0)
		return (uint8_t)err;
	return ctap_store_status(err);
}

static cbor_item_t *field_text(const struct cred_field *f)
{
	return cbor_build_stringn((const char *)f->v, f->len);
}

cbor_item_t *cred_rk_user(const struct cred_rk *rk, bool with_names)
{
	cbor_item_t *m = cbor_new_definite_map(3);

	if (m == NULL)
		return NULL;
	/* Canonical order: "id", "name", "displayName". */
	if (ctap_map_put_text(m, "id", cbor_build_bytestring(
					       rk->user_id.v, rk->user_id.len)) ||
	    (with_names && rk->user_name.present &&
	     ctap_map_put_text(m, "name", field_text(&rk->user_name))) ||
	    (with_names && rk->display_name.present &&
	     ctap_map_put_text(m, "displayName",
			       field_text(&rk->display_name))))
		cbor_decref(&m);
	return m;
}
