/* authenticatorGetAssertion (CTAP 2.1 §6.2) and
 * authenticatorGetNextAssertion (§6.3): find the applicable credentials,
 * most recent first, answer with the first and keep the rest (with the
 * request's flags and extension inputs) for 30 seconds. */
#include "applets/fido/ctap_cred.h"

#include <stdlib.h>
#include <string.h>

enum ga_member {
	GA_RP_ID = 0x01,
	GA_CDH = 0x02,
	GA_ALLOW = 0x03,
	GA_EXT = 0x04,
	GA_OPTIONS = 0x05,
	GA_PUAP = 0x06,
	GA_PUAP_PROTO = 0x07,
};

#define SEEN(m) (1u << (m))
#define GA_REQUIRED (SEEN(GA_RP_ID) | SEEN(GA_CDH))

struct ga_req {
	uint32_t seen;
	char rp_id[CTAP_RP_ID_MAX];
	uint8_t cdh[CRED_CDH_LEN];
	const cbor_item_t *allow;    /* non-empty allowList, or NULL */
	const cbor_item_t *ext;
	struct cred_options opt;
	struct cred_auth auth;
};

struct ga_entry {
	uint8_t id[CTAP_CRED_ID_MAX];
	size_t id_len;
	uint32_t created;
};

struct ga_state {
	uint8_t cdh[CRED_CDH_LEN];
	uint8_t rp_id_hash[32];
	bool up, uv;
	bool listed;                 /* the request had an allowList */
	struct ext_ga ext;
	struct ga_entry *e;
	size_t n, cap, next;
	struct timespec last;
};

static void ga_state_free(struct ga_state *st)
{
	if (st == NULL)
		return;
	ext_ga_wipe(&st->ext);
	free(st->e);
	crypto_wipe(st, sizeof(*st));
	free(st);
}

void ga_state_drop(struct ctap *c)
{
	if (c->cred == NULL)
		return;
	ga_state_free(c->cred->ga);
	c->cred->ga = NULL;
}

/* ---- parsing ---- */

static uint8_t parse_member(uint64_t key, const cbor_item_t *v,
			    struct ga_req *q)
{
	uint8_t r;

	switch (key) {
	case GA_RP_ID:
		return cred_parse_text(v, q->rp_id, sizeof(q->rp_id));
	case GA_CDH:
		return cred_parse_cdh(v, q->cdh);
	case GA_ALLOW:
		r = cred_parse_list(v);
		/* An empty allowList is no allowList (§6.2.2 step 7). */
		if (r == CTAP2_OK && cbor_array_size(v) > 0)
			q->allow = v;
		return r;
	case GA_EXT:
		q->ext = v;
		return cbor_isa_map(v) ? CTAP2_OK
				       : CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	case GA_OPTIONS:
		return cred_parse_options(v, &q->opt);
	case GA_PUAP:
		return cred_parse_auth_member(false, v, &q->auth);
	case GA_PUAP_PROTO:
		return cred_parse_auth_member(true, v, &q->auth);
	default:
		return CTAP2_OK;
	}
}

/* One member, recorded in the seen bitmask once it parsed. */
static uint8_t member(void *arg, uint64_t key, const cbor_item_t *v)
{
	struct ga_req *q = arg;
	uint8_t r = parse_member(key, v, q);

	if (r == CTAP2_OK && key < 32)
		q->seen |= SEEN(key);
	return r;
}

static uint8_t parse(const cbor_item_t *params, struct ga_req *q)
{
	uint8_t r;

	if (params == NULL)
		return CTAP2_ERR_MISSING_PARAMETER;
	if ((r = ctap_map_each_uint(params, member, q)) != CTAP2_OK)
		return r;
	return (q->seen & GA_REQUIRED) == GA_REQUIRED
		       ? CTAP2_OK
		       : CTAP2_ERR_MISSING_PARAMETER;
}

/* ---- step 7: the applicable credentials ---- */

static uint8_t add(struct ga_state *st, const uint8_t *id, size_t id_len,
		   uint32_t created)
{
	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 4;
		struct ga_entry *e = realloc(st->e, cap * sizeof(*e));

		if (e == NULL)
			return CTAP2_ERR_PROCESSING;
		st->e = e;
		st->cap = cap;
	}
	memcpy(st->e[st->n].id, id, id_len);
	st->e[st->n].id_len = id_len;
	st->e[st->n].created = created;
	st->n++;
	return CTAP2_OK;
}

/* Steps 7.4-7.5: credProtect hides credentials without UV. */
static bool protect_allows(const struct cred_key *k, bool uv, bool listed)
{
	if (uv)
		return true;
	if (k->protect == CRED_PROTECT_UV_REQUIRED)
		return false;
	return k->protect != CRED_PROTECT_UV_OPTIONAL_WITH_LIST || listed;
}

struct find {
	struct ctap *c;
	struct ga_state *st;
};

static int find_rk_cb(void *arg, const uint8_t rp_id_hash[32],
		      const uint8_t *id, size_t id_len,
		      const struct cred_rk *rk)
{
	struct find *f = arg;
	struct cred_key k;
	int r = 0;

	if (cred_id_open(f->c, rp_id_hash, id, id_len, &k) &&
	    protect_allows(&k, f->st->uv, false))
		r = add(f->st, id, id_len, rk->created);
	crypto_wipe(&k, sizeof(k));
	return r;
}

static bool listed_ok(struct ctap *c, struct ga_state *st, const uint8_t *id,
		      size_t id_len, uint32_t *created)
{
	struct cred_key k;
	struct cred_rk *rk = NULL;
	bool ok = false;

	*created = 0;
	if (!cred_id_open(c, st->rp_id_hash, id, id_len, &k) ||
	    !protect_allows(&k, st->uv, true))
		goto out;
	if (k.flags & CRED_F_RK) {
		/* Deleted discoverable credentials stay deleted. */
		rk = malloc(sizeof(*rk));
		if (rk == NULL ||
		    cred_rk_get(c, st->rp_id_hash, id, id_len, rk) != CTAP2_OK)
			goto out;
		*created = rk->created;
	}
	ok = true;
out:
	crypto_wipe(&k, sizeof(k));
	if (rk != NULL)
		crypto_wipe(rk, sizeof(*rk));
	free(rk);
	return ok;
}

static uint8_t find_listed(struct ctap *c, struct ga_state *st,
			   const cbor_item_t *allow)
{
	cbor_item_t **items = cbor_array_handle(allow);
	size_t n = cbor_array_size(allow), id_len;
	const uint8_t *id;
	uint32_t created;
	bool skip;

	/* Any applicable credential will do (step 11): take the first. */
	for (size_t i = 0; i < n; i++) {
		if (cred_parse_descriptor(items[i], &id, &id_len, &skip) !=
			    CTAP2_OK ||
		    skip || id_len > CTAP_CRED_ID_MAX)
			continue;
		if (listed_ok(c, st, id, id_len, &created))
			return add(st, id, id_len, created);
	}
	return CTAP2_OK;
}

static int newest_first(const void *a, const void *b)
{
	const struct ga_entry *x = a, *y = b;

	return x->created < y->created ? 1 : x->created > y->created ? -1 : 0;
}

static uint8_t find(struct ctap *c, struct ga_state *st,
		    const cbor_item_t *allow)
{
	struct find f = { c, st };
	uint8_t r;

	if (allow != NULL)
		r = find_listed(c, st, allow);
	else
		r = cred_rk_each(c, st->rp_id_hash, find_rk_cb, &f);
	if (r != CTAP2_OK)
		return r;
	if (st->n == 0)
		return CTAP2_ERR_NO_CREDENTIALS;
	/* Step 12: most recently created first. */
	qsort(st->e, st->n, sizeof(*st->e), newest_first);
	return CTAP2_OK;
}

/* ---- the response ---- */

struct ga_out {
	struct cred_key k;
	struct cred_rk rk;
	bool has_rk;
	uint8_t ad[512];
	size_t ad_len;
	uint8_t sig[CRYPTO_SIG_MAX];
	size_t sig_len;
};

/* authData and signature for entry i (step 13). */
static uint8_t sign_entry(struct ctap *c, struct ga_state *st, size_t i,
			  struct ga_out *o)
{
	struct wbuf ad = wbuf_init(o->ad, sizeof(o->ad));
	const struct ga_entry *e = &st->e[i];
	cbor_item_t *ext = NULL;
	uint32_t counter;
	uint8_t r = CTAP2_ERR_NO_CREDENTIALS;

	if (!cred_id_open(c, st->rp_id_hash, e->id, e->id_len, &o->k))
		goto out;
	o->has_rk = (o->k.flags & CRED_F_RK) != 0;
	if (o->has_rk &&
	    (r = cred_rk_get(c, st->rp_id_hash, e->id, e->id_len, &o->rk)) !=
		    CTAP2_OK)
		goto out;
	if ((r = ext_ga_output(c, &st->ext, &o->k, st->uv, &ext)) != CTAP2_OK ||
	    (r = counter_take(c, &counter)) != CTAP2_OK ||
	    (r = auth_data_build(st->rp_id_hash,
				 (uint8_t)((st->up ? AD_UP : 0) |
					   (st->uv ? AD_UV : 0)),
				 counter, NULL, 0, NULL, ext, &ad)) != CTAP2_OK)
		goto out;
	o->ad_len = ad.len;
	o->sig_len = sizeof(o->sig);
	r = cred_sign(&o->k, o->ad, o->ad_len, st->cdh, o->sig, &o->sig_len);
out:
	if (ext != NULL)
		cbor_decref(&ext);
	return r;
}

/* {1: credential, 2: authData, 3: signature, 4: user, 5:
 * numberOfCredentials, 7: largeBlobKey}. User-identifying names only
 * after user verification (§6.2.2 step 12). */
static uint8_t respond(struct ctap *c, struct ga_state *st, size_t i,
		       bool with_count, struct wbuf *out)
{
	struct ga_out *o = calloc(1, sizeof(*o));
	const struct ga_entry *e = &st->e[i];
	cbor_item_t *m = NULL;
	uint8_t r = CTAP2_ERR_PROCESSING;

	if (o == NULL)
		return r;
	if ((r = sign_entry(c, st, i, o)) != CTAP2_OK)
		goto out;
	r = CTAP2_ERR_PROCESSING;
	m = cbor_new_definite_map(6);
	if (m == NULL ||
	    ctap_map_put_uint(m, 1, cred_descriptor(e->id, e->id_len)) ||
	    ctap_map_put_uint(m, 2, cbor_build_bytestring(o->ad, o->ad_len)) ||
	    ctap_map_put_uint(m, 3, cbor_build_bytestring(o->sig, o->sig_len)) ||
	    (o->has_rk &&
	     ctap_map_put_uint(m, 4, cred_rk_user(&o->rk, st->uv))) ||
	    (with_count &&
	     ctap_map_put_uint(m, 5, cbor_build_uint32((uint32_t)st->n))) ||
	    (st->ext.lbk && o->has_rk && o->rk.has_lbk &&
	     ctap_map_put_uint(m, 7, cbor_build_bytestring(o->rk.lbk,
							   CRED_LBK_LEN))))
		goto out;
	r = ctap_encode_map(m, out);
	m = NULL; /* consumed */
out:
	if (m != NULL)
		cbor_decref(&m);
	crypto_wipe(o, sizeof(*o));
	free(o);
	return r;
}

/* ---- the algorithm ---- */

/* Steps 4-6: options, alwaysUv, the token. */
static uint8_t check_auth(struct ctap *c, const struct ga_req *q,
			  struct ga_state *st)
{
	bool token = q->auth.param != NULL;
	uint8_t r;

	if (q->opt.has_rk)
		return CTAP2_ERR_UNSUPPORTED_OPTION;
	if (!token && q->opt.has_uv && q->opt.uv)
		return CTAP2_ERR_INVALID_OPTION;
	st->up = !q->opt.has_up || q->opt.up;
	/* Step 5: alwaysUv applies when the platform wants a touch; a
	 * silent probe (up=false) stays possible. */
	if (c->config.always_uv && st->up && (!token || !ctap_pin_is_set(c)))
		return CTAP2_ERR_PUAT_REQUIRED;
	if (token) {
		r = cred_auth_verify(c, &q->auth, q->cdh, CTAP_PERM_GA, q->rp_id);
		if (r != CTAP2_OK)
			return r;
		st->uv = true;
	}
	return CTAP2_OK;
}

static uint8_t run(struct ctap *c, const struct ga_req *q,
		   struct ga_state *st, struct wbuf *out,
		   const struct ctap_wait *w)
{
	uint8_t r;

	memcpy(st->cdh, q->cdh, CRED_CDH_LEN);
	st->listed = q->allow != NULL;
	if (crypto_digest(CRYPTO_SHA256, q->rp_id, strlen(q->rp_id),
			  st->rp_id_hash) != 0)
		return CTAP2_ERR_PROCESSING;
	if ((r = cred_auth_precheck(c, &q->auth, q->rp_id, w)) != CTAP2_OK ||
	    (r = check_auth(c, q, st)) != CTAP2_OK)
		return r;
	/* Extension inputs are checked before anything is spent. */
	if (q->ext != NULL && (r = ext_ga_parse(c, q->ext, &st->ext)) != CTAP2_OK)
		return r;
	if ((r = find(c, st, q->allow)) != CTAP2_OK)
		return r;
	/* Step 9. */
	if (st->up && (r = cred_auth_presence(c, q->auth.param != NULL,
					      "sign in to", q->rp_id, w)) != CTAP2_OK)
		return r;
	/* Steps 11-13. */
	return respond(c, st, 0, !st->listed && st->n > 1, out);
}

uint8_t ctap_cmd_get_assertion(struct ctap *c, const cbor_item_t *params,
			       struct wbuf *out, const struct ctap_wait *w)
{
	struct ga_req q;
	struct ga_state *st = calloc(1, sizeof(*st));
	uint8_t r = CTAP2_ERR_PROCESSING;

	memset(&q, 0, sizeof(q));
	if (st == NULL)
		goto out;
	if ((r = parse(params, &q)) != CTAP2_OK ||
	    (r = run(c, &q, st, out, w)) != CTAP2_OK)
		goto out;
	/* Step 12: remember the rest for getNextAssertion. */
	if (!st->listed && st->n > 1) {
		st->next = 1;
		clock_gettime(CLOCK_MONOTONIC, &st->last);
		c->cred->ga = st;
		st = NULL; /* transferred */
	}
out:
	ga_state_free(st);
	return r;
}

uint8_t ctap_cmd_get_next_assertion(struct ctap *c, struct wbuf *out)
{
	struct ga_state *st = c->cred->ga;
	uint8_t r;

	/* CTAP 2.1 §6.3 steps 1-3. */
	if (st == NULL || st->next >= st->n)
		return CTAP2_ERR_NOT_ALLOWED;
	if (ctap_ms_since(&st->last) > CRED_STATE_MS) {
		ga_state_drop(c);
		return CTAP2_ERR_NOT_ALLOWED;
	}
	/* Steps 4-7. */
	r = respond(c, st, st->next, false, out);
	st->next++;
	clock_gettime(CLOCK_MONOTONIC, &st->last);
	return r;
}
