/* authenticatorCredentialManagement (CTAP 2.1 §6.8, also as the 0x41
 * preview): metadata, enumeration of relying parties and of their
 * discoverable credentials, deletion and user updates, each authorized by
 * a pinUvAuthParam over subCommand || subCommandParams. */
#include "applets/fido/ctap_cred.h"

#include <stdlib.h>
#include <string.h>

enum cm_member {
	CM_SUB = 0x01,
	CM_SUB_PARAMS = 0x02,
	CM_PROTO = 0x03,
	CM_PARAM = 0x04,
};

enum cm_sub {
	CM_METADATA = 0x01,
	CM_RPS_BEGIN = 0x02,
	CM_RPS_NEXT = 0x03,
	CM_CREDS_BEGIN = 0x04,
	CM_CREDS_NEXT = 0x05,
	CM_DELETE = 0x06,
	CM_UPDATE = 0x07,
};

enum cm_sub_param {
	CMP_RP_ID_HASH = 0x01,
	CMP_CRED_ID = 0x02,
	CMP_USER = 0x03,
};

#define SEEN(m) (1u << (m))
/* Not a CTAP status: a walk callback's "found it, stop". */
#define WALK_FOUND 0xFF

struct cm_req {
	uint32_t seen, sub_seen;
	uint64_t sub;
	const cbor_item_t *sub_params;
	struct cred_auth auth;
	uint8_t rp_id_hash[32];
	const uint8_t *cred_id;
	size_t cred_id_len;
	struct cred_rk user;
};

struct cm_rp {
	uint8_t hash[32];
	struct cred_field id, name;
};

struct cm_cred {
	uint8_t id[CTAP_CRED_ID_MAX];
	size_t id_len;
};

enum cm_kind { CM_ST_RPS, CM_ST_CREDS };

struct cm_state {
	enum cm_kind kind;
	size_t n, cap, next;
	struct cm_rp *rps;
	struct cm_cred *creds;
	uint8_t rp_id_hash[32];
};

void cm_state_drop(struct ctap *c)
{
	struct cm_state *st;

	if (c->cred == NULL || c->cred->cm == NULL)
		return;
	st = c->cred->cm;
	free(st->rps);
	free(st->creds);
	free(st);
	c->cred->cm = NULL;
}

/* ---- parsing ---- */

static uint8_t parse_sub_params(const cbor_item_t *it, struct cm_req *q)
{
	struct cbor_pair *p;
	const uint8_t *b;
	uint64_t key;
	size_t n, bn;
	bool skip;
	uint8_t r = CTAP2_OK;

	if (!cbor_isa_map(it))
		return CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	p = cbor_map_handle(it);
	n = cbor_map_size(it);
	for (size_t i = 0; i < n && r == CTAP2_OK; i++) {
		if (ctap_uint(p[i].key, &key) != CTAP2_OK)
			continue;
		if (key == CMP_RP_ID_HASH) {
			r = ctap_bytes(p[i].value, &b, &bn);
			if (r == CTAP2_OK && bn != 32)
				r = CTAP1_ERR_INVALID_PARAMETER;
			if (r == CTAP2_OK)
				memcpy(q->rp_id_hash, b, 32);
		} else if (key == CMP_CRED_ID) {
			r = cred_parse_descriptor(p[i].value, &q->cred_id,
						  &q->cred_id_len, &skip);
		} else if (key == CMP_USER) {
			r = cred_parse_user(p[i].value, &q->user);
		} else {
			continue;
		}
		q->sub_seen |= SEEN(key);
	}
	return r;
}

static uint8_t parse(const cbor_item_t *params, struct cm_req *q)
{
	struct cbor_pair *p;
	uint64_t key;
	size_t n;
	uint8_t r = CTAP2_OK;

	if (params == NULL)
		return CTAP2_ERR_MISSING_PARAMETER;
	p = cbor_map_handle(params);
	n = cbor_map_size(params);
	for (size_t i = 0; i < n && r == CTAP2_OK; i++) {
		if (ctap_uint(p[i].key, &key) != CTAP2_OK)
			continue;
		switch (key) {
		case CM_SUB:
			r = ctap_uint(p[i].value, &q->sub);
			break;
		case CM_SUB_PARAMS:
			q->sub_params = p[i].value;
			r = parse_sub_params(p[i].value, q);
			break;
		case CM_PROTO:
			r = cred_parse_auth_member(true, p[i].value, &q->auth);
			break;
		case CM_PARAM:
			r = cred_parse_auth_member(false, p[i].value, &q->auth);
			break;
		default:
			continue;
		}
		q->seen |= SEEN(key);
	}
	if (r == CTAP2_OK && !(q->seen & SEEN(CM_SUB)))
		r = CTAP2_ERR_MISSING_PARAMETER;
	return r;
}

/* The pinUvAuthToken check of §6.8: cm permission, param over
 * subCommand || subCommandParams (canonical, so re-encoding gives the
 * bytes the platform sent). */
static uint8_t authorize(struct ctap *c, const struct cm_req *q)
{
	uint8_t *msg = NULL;
	struct wbuf w;
	uint8_t r;

	if (q->auth.param == NULL)
		return CTAP2_ERR_PUAT_REQUIRED;
	if (!q->auth.has_protocol)
		return CTAP2_ERR_MISSING_PARAMETER;
	if (q->auth.protocol != 1 && q->auth.protocol != 2)
		return CTAP1_ERR_INVALID_PARAMETER;
	msg = malloc(CTAP_MAX_MSG);
	if (msg == NULL)
		return CTAP2_ERR_PROCESSING;
	w = wbuf_init(msg, CTAP_MAX_MSG);
	wbuf_u8(&w, (uint8_t)q->sub);
	r = q->sub_params != NULL ? ctap_cbor_encode(q->sub_params, &w)
				  : CTAP2_OK;
	if (r == CTAP2_OK)
		r = ctap_pin_verify_param(c, q->auth.protocol, msg, w.len,
					  q->auth.param, q->auth.param_len);
	/* cm tokens are not bound by use: one token may serve every RP. The
	 * RP ID a token already carries is checked per subcommand. */
	if (r == CTAP2_OK)
		r = ctap_pin_check_permission(c, CTAP_PERM_CM, NULL);
	if (r == CTAP2_OK && (q->sub == CM_METADATA || q->sub == CM_RPS_BEGIN))
		r = ctap_pin_check_rp_hash(c, NULL);
	if (r == CTAP2_OK && q->sub == CM_CREDS_BEGIN)
		r = ctap_pin_check_rp_hash(c, q->rp_id_hash);
	free(msg);
	return r;
}

/* ---- subcommands ---- */

static uint8_t metadata(struct ctap *c, struct wbuf *out)
{
	cbor_item_t *m = cbor_new_definite_map(2);
	size_t n = 0;
	uint8_t r = cred_rk_count(c, &n);

	if (m == NULL)
		return CTAP2_ERR_PROCESSING;
	if (r == CTAP2_OK &&
	    (ctap_map_put_uint(m, 1, cbor_build_uint32((uint32_t)n)) ||
	     ctap_map_put_uint(m, 2, cbor_build_uint32(
					     (uint32_t)cred_rk_remaining(c)))))
		r = CTAP2_ERR_PROCESSING;
	if (r != CTAP2_OK) {
		cbor_decref(&m);
		return r;
	}
	return ctap_encode_map(m, out);
}

static int rps_cb(void *arg, const uint8_t rp_id_hash[32], const uint8_t *id,
		  size_t id_len, const struct cred_rk *rk)
{
	struct cm_state *st = arg;
	struct cm_rp *rp;

	(void)id;
	(void)id_len;
	/* Records come in key order, so one RP's records are adjacent. */
	if (st->n > 0 && memcmp(st->rps[st->n - 1].hash, rp_id_hash, 32) == 0)
		return 0;
	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 8;
		struct cm_rp *p = realloc(st->rps, cap * sizeof(*p));

		if (p == NULL)
			return CTAP2_ERR_PROCESSING;
		st->rps = p;
		st->cap = cap;
	}
	rp = &st->rps[st->n++];
	memcpy(rp->hash, rp_id_hash, 32);
	rp->id = rk->rp_id;
	rp->name = rk->rp_name;
	return 0;
}

static cbor_item_t *rp_entity(const struct cm_rp *rp)
{
	cbor_item_t *m = cbor_new_definite_map(2);

	if (m == NULL)
		return NULL;
	if (ctap_map_put_text(m, "id", cbor_build_stringn((const char *)rp->id.v,
							   rp->id.len)) ||
	    (rp->name.present &&
	     ctap_map_put_text(m, "name",
			       cbor_build_stringn((const char *)rp->name.v,
						  rp->name.len))))
		cbor_decref(&m);
	return m;
}

static uint8_t rp_respond(const struct cm_state *st, size_t i, bool first,
			  struct wbuf *out)
{
	cbor_item_t *m = cbor_new_definite_map(3);

	if (m == NULL)
		return CTAP2_ERR_PROCESSING;
	if (ctap_map_put_uint(m, 3, rp_entity(&st->rps[i])) ||
	    ctap_map_put_uint(m, 4, cbor_build_bytestring(st->rps[i].hash, 32)) ||
	    (first && ctap_map_put_uint(m, 5, cbor_build_uint32((uint32_t)st->n)))) {
		cbor_decref(&m);
		return CTAP2_ERR_PROCESSING;
	}
	return ctap_encode_map(m, out);
}

static uint8_t keep_or_free(struct ctap *c, struct cm_state *st, uint8_t r)
{
	if (r == CTAP2_OK && st->n > 1) {
		st->next = 1;
		c->cred->cm = st;
		return r;
	}
	free(st->rps);
	free(st->creds);
	free(st);
	return r;
}

static uint8_t rps_begin(struct ctap *c, struct wbuf *out)
{
	struct cm_state *st = calloc(1, sizeof(*st));
	uint8_t r;

	if (st == NULL)
		return CTAP2_ERR_PROCESSING;
	st->kind = CM_ST_RPS;
	r = cred_rk_each(c, NULL, rps_cb, st);
	if (r == CTAP2_OK && st->n == 0)
		r = CTAP2_ERR_NO_CREDENTIALS;
	if (r == CTAP2_OK)
		r = rp_respond(st, 0, true, out);
	return keep_or_free(c, st, r);
}

static int creds_cb(void *arg, const uint8_t rp_id_hash[32],
		    const uint8_t *id, size_t id_len, const struct cred_rk *rk)
{
	struct cm_state *st = arg;

	(void)rp_id_hash;
	(void)rk;
	if (st->n == st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 8;
		struct cm_cred *p = realloc(st->creds, cap * sizeof(*p));

		if (p == NULL)
			return CTAP2_ERR_PROCESSING;
		st->creds = p;
		st->cap = cap;
	}
	memcpy(st->creds[st->n].id, id, id_len);
	st->creds[st->n++].id_len = id_len;
	return 0;
}

/* {6: user, 7: credentialID, 8: publicKey, 9: totalCredentials (first
 * only), 10: credProtect, 11: largeBlobKey}. */
static uint8_t cred_respond(struct ctap *c, const struct cm_state *st,
			    size_t i, bool first, struct wbuf *out)
{
	const struct cm_cred *e = &st->creds[i];
	struct cred_rk *rk = calloc(1, sizeof(*rk));
	struct cred_key k;
	cbor_item_t *m = NULL;
	uint8_t r = CTAP2_ERR_PROCESSING;

	memset(&k, 0, sizeof(k));
	if (rk == NULL)
		goto out;
	if ((r = cred_rk_get(c, st->rp_id_hash, e->id, e->id_len, rk)) !=
		    CTAP2_OK)
		goto out;
	r = CTAP2_ERR_PROCESSING;
	if (!cred_id_open(c, st->rp_id_hash, e->id, e->id_len, &k) ||
	    (m = cbor_new_definite_map(6)) == NULL)
		goto out;
	if (ctap_map_put_uint(m, 6, cred_rk_user(rk, true)) ||
	    ctap_map_put_uint(m, 7, cred_descriptor(e->id, e->id_len)) ||
	    ctap_map_put_uint(m, 8, cred_cose_pub(&k)) ||
	    (first && ctap_map_put_uint(m, 9, cbor_build_uint32((uint32_t)st->n))) ||
	    ctap_map_put_uint(m, 10, cbor_build_uint8(k.protect)) ||
	    (rk->has_lbk &&
	     ctap_map_put_uint(m, 11, cbor_build_bytestring(rk->lbk,
							    CRED_LBK_LEN))))
		goto out;
	r = ctap_encode_map(m, out);
	m = NULL; /* consumed */
out:
	if (m != NULL)
		cbor_decref(&m);
	crypto_wipe(&k, sizeof(k));
	if (rk != NULL)
		crypto_wipe(rk, sizeof(*rk));
	free(rk);
	return r;
}

static uint8_t creds_begin(struct ctap *c, const struct cm_req *q,
			   struct wbuf *out)
{
	struct cm_state *st = calloc(1, sizeof(*st));
	uint8_t r;

	if (st == NULL)
		return CTAP2_ERR_PROCESSING;
	st->kind = CM_ST_CREDS;
	memcpy(st->rp_id_hash, q->rp_id_hash, 32);
	r = cred_rk_each(c, q->rp_id_hash, creds_cb, st);
	if (r == CTAP2_OK && st->n == 0)
		r = CTAP2_ERR_NO_CREDENTIALS;
	if (r == CTAP2_OK)
		r = cred_respond(c, st, 0, true, out);
	return keep_or_free(c, st, r);
}

static uint8_t next(struct ctap *c, enum cm_kind kind, struct wbuf *out)
{
	struct cm_state *st = c->cred->cm;
	uint8_t r;

	if (st == NULL || st->kind != kind || st->next >= st->n)
		return CTAP2_ERR_NOT_ALLOWED;
	r = kind == CM_ST_RPS ? rp_respond(st, st->next, false, out)
			      : cred_respond(c, st, st->next, false, out);
	st->next++;
	return r;
}

/* A credential by ID alone: its rpIdHash is part of the record key. */
struct by_id {
	const uint8_t *id;
	size_t id_len;
	uint8_t rp_id_hash[32];
	struct cred_rk rk;
};

static int by_id_cb(void *arg, const uint8_t rp_id_hash[32],
		    const uint8_t *id, size_t id_len, const struct cred_rk *rk)
{
	struct by_id *b = arg;

	if (id_len != b->id_len || memcmp(id, b->id, id_len) != 0)
		return 0;
	memcpy(b->rp_id_hash, rp_id_hash, 32);
	b->rk = *rk;
	return WALK_FOUND;
}

static uint8_t find_by_id(struct ctap *c, const struct cm_req *q,
			  struct by_id *b)
{
	uint8_t r;

	b->id = q->cred_id;
	b->id_len = q->cred_id_len;
	r = cred_rk_each(c, NULL, by_id_cb, b);
	if (r == WALK_FOUND)
		return CTAP2_OK;
	return r == CTAP2_OK ? CTAP2_ERR_NO_CREDENTIALS : r;
}

static uint8_t delete_cred(struct ctap *c, const struct cm_req *q,
			   struct wbuf *out)
{
	struct by_id *b = calloc(1, sizeof(*b));
	uint8_t r = CTAP2_ERR_PROCESSING;

	(void)out;
	if (b == NULL)
		return r;
	r = find_by_id(c, q, b);
	if (r == CTAP2_OK)
		r = ctap_pin_check_rp_hash(c, b->rp_id_hash);
	if (r == CTAP2_OK)
		r = cred_rk_del(c, b->rp_id_hash, q->cred_id, q->cred_id_len);
	crypto_wipe(b, sizeof(*b));
	free(b);
	return r;
}

/* §6.8.6: the user ID must match; name and displayName are replaced,
 * members the new entity leaves out are removed. */
static uint8_t update_user(struct ctap *c, const struct cm_req *q,
			   struct wbuf *out)
{
	struct by_id *b = calloc(1, sizeof(*b));
	uint8_t r = CTAP2_ERR_PROCESSING;

	(void)out;
	if (b == NULL)
		return r;
	if ((r = find_by_id(c, q, b)) != CTAP2_OK ||
	    (r = ctap_pin_check_rp_hash(c, b->rp_id_hash)) != CTAP2_OK)
		goto out;
	if (b->rk.user_id.len != q->user.user_id.len ||
	    memcmp(b->rk.user_id.v, q->user.user_id.v, q->user.user_id.len)) {
		r = CTAP1_ERR_INVALID_PARAMETER;
		goto out;
	}
	b->rk.user_name = q->user.user_name;
	b->rk.display_name = q->user.display_name;
	r = cred_rk_put(c, b->rp_id_hash, q->cred_id, q->cred_id_len, &b->rk);
out:
	crypto_wipe(b, sizeof(*b));
	free(b);
	return r;
}

/* Sub-parameters each subcommand requires (§6.8.4-6). */
static uint32_t required_sub_params(uint64_t sub)
{
	switch (sub) {
	case CM_CREDS_BEGIN:
		return SEEN(CMP_RP_ID_HASH);
	case CM_DELETE:
		return SEEN(CMP_CRED_ID);
	case CM_UPDATE:
		return SEEN(CMP_CRED_ID) | SEEN(CMP_USER);
	default:
		return 0;
	}
}

static uint8_t run(struct ctap *c, const struct cm_req *q, struct wbuf *out)
{
	uint32_t need = required_sub_params(q->sub);
	uint8_t r;

	if (q->sub == CM_RPS_NEXT)
		return next(c, CM_ST_RPS, out);
	if (q->sub == CM_CREDS_NEXT)
		return next(c, CM_ST_CREDS, out);
	if (q->sub < CM_METADATA || q->sub > CM_UPDATE)
		return CTAP2_ERR_INVALID_SUBCOMMAND;
	if ((q->sub_seen & need) != need)
		return CTAP2_ERR_MISSING_PARAMETER;
	if ((r = authorize(c, q)) != CTAP2_OK)
		return r;
	switch (q->sub) {
	case CM_METADATA:
		return metadata(c, out);
	case CM_RPS_BEGIN:
		return rps_begin(c, out);
	case CM_CREDS_BEGIN:
		return creds_begin(c, q, out);
	case CM_DELETE:
		return delete_cred(c, q, out);
	default:
		return update_user(c, q, out);
	}
}

uint8_t ctap_cmd_cred_mgmt(struct ctap *c, const cbor_item_t *params,
			   struct wbuf *out)
{
	struct cm_req *q = calloc(1, sizeof(*q));
	uint8_t r;

	if (q == NULL)
		return CTAP2_ERR_PROCESSING;
	r = parse(params, q);
	/* Only the matching "next" keeps an enumeration going. */
	if (r != CTAP2_OK ||
	    (q->sub != CM_RPS_NEXT && q->sub != CM_CREDS_NEXT))
		cm_state_drop(c);
	if (r == CTAP2_OK)
		r = run(c, q, out);
	free(q);
	return r;
}
