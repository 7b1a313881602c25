/* authenticatorMakeCredential (CTAP 2.1 §6.1): parse the request into a
 * struct, check it, then follow the algorithm of §6.1.2 step by step. */
#include "applets/fido/ctap_cred.h"

#include <stdlib.h>
#include <string.h>

enum mc_member {
	MC_CDH = 0x01,
	MC_RP = 0x02,
	MC_USER = 0x03,
	MC_PARAMS = 0x04,
	MC_EXCLUDE = 0x05,
	MC_EXT = 0x06,
	MC_OPTIONS = 0x07,
	MC_PUAP = 0x08,
	MC_PUAP_PROTO = 0x09,
	MC_EP = 0x0A,
};

#define SEEN(m) (1u << (m))
#define MC_REQUIRED                                                        \
	(SEEN(MC_CDH) | SEEN(MC_RP) | SEEN(MC_USER) | SEEN(MC_PARAMS))

struct mc_req {
	uint32_t seen;
	uint8_t cdh[CRED_CDH_LEN];
	char rp_id[CTAP_RP_ID_MAX];
	uint8_t rp_id_hash[32];
	struct cred_rk ent;          /* rp name and user entity */
	const cbor_item_t *exclude;
	struct ext_mc ext;
	struct cred_options opt;
	struct cred_auth auth;
	int alg;                     /* 0 until step 3 chose one */
	bool uv;                     /* the response's "uv" bit */
};

/* One element of pubKeyCredParams: checked in full, chosen if it is the
 * first supported one (CTAP 2.1 §6.1.2 step 3). */
static uint8_t parse_param(const cbor_item_t *it, int *alg)
{
	const cbor_item_t *type, *algit;
	const char *t;
	size_t tn;
	int64_t a;
	uint8_t r;

	if (!cbor_isa_map(it))
		return CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	type = ctap_map_text(it, "type");
	algit = ctap_map_text(it, "alg");
	if (type == NULL || algit == NULL)
		return CTAP2_ERR_MISSING_PARAMETER;
	if ((r = ctap_text(type, &t, &tn)) != CTAP2_OK ||
	    (r = ctap_int(algit, &a)) != CTAP2_OK)
		return r;
	if (*alg == 0 && tn == 10 && memcmp(t, "public-key", 10) == 0 &&
	    (a == COSE_ES256 || a == COSE_EDDSA))
		*alg = (int)a;
	return CTAP2_OK;
}

static uint8_t parse_params(const cbor_item_t *it, int *alg)
{
	cbor_item_t **items;
	size_t n;
	uint8_t r;

	if (!cbor_isa_array(it))
		return CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	items = cbor_array_handle(it);
	n = cbor_array_size(it);
	for (size_t i = 0; i < n; i++)
		if ((r = parse_param(items[i], alg)) != CTAP2_OK)
			return r;
	return CTAP2_OK;
}

static uint8_t parse_member(uint64_t key, const cbor_item_t *v,
			    struct mc_req *q)
{
	uint64_t ep;

	switch (key) {
	case MC_CDH:
		return cred_parse_cdh(v, q->cdh);
	case MC_RP:
		return cred_parse_rp(v, q->rp_id, sizeof(q->rp_id),
				     &q->ent.rp_name);
	case MC_USER:
		return cred_parse_user(v, &q->ent);
	case MC_PARAMS:
		return parse_params(v, &q->alg);
	case MC_EXCLUDE:
		q->exclude = v;
		return cred_parse_list(v);
	case MC_EXT:
		return ext_mc_parse(v, &q->ext);
	case MC_OPTIONS:
		return cred_parse_options(v, &q->opt);
	case MC_PUAP:
		return cred_parse_auth_member(false, v, &q->auth);
	case MC_PUAP_PROTO:
		return cred_parse_auth_member(true, v, &q->auth);
	case MC_EP:
		return ctap_uint(v, &ep);
	default:
		return CTAP2_OK; /* unknown members are ignored */
	}
}

/* One member, recorded in the seen bitmask once it parsed. */
static uint8_t member(void *arg, uint64_t key, const cbor_item_t *v)
{
	struct mc_req *q = arg;
	uint8_t r = parse_member(key, v, q);

	if (r == CTAP2_OK && key < 32)
		q->seen |= SEEN(key);
	return r;
}

static uint8_t parse(const cbor_item_t *params, struct mc_req *q)
{
	uint8_t r;

	if (params == NULL)
		return CTAP2_ERR_MISSING_PARAMETER;
	if ((r = ctap_map_each_uint(params, member, q)) != CTAP2_OK)
		return r;
	if ((q->seen & MC_REQUIRED) != MC_REQUIRED)
		return CTAP2_ERR_MISSING_PARAMETER;
	if (crypto_digest(CRYPTO_SHA256, q->rp_id, strlen(q->rp_id),
			  q->rp_id_hash) != 0)
		return CTAP2_ERR_PROCESSING;
	return cred_field_set(&q->ent.rp_id, q->rp_id, strlen(q->rp_id),
			      CTAP_RP_ID_MAX) == 0
		       ? CTAP2_OK
		       : CTAP1_ERR_INVALID_LENGTH;
}

/* Steps 5-10: options, alwaysUv, makeCredUvNotRqd, enterprise
 * attestation, and what this authenticator cannot do. */
static uint8_t check_options(struct ctap *c, const struct mc_req *q)
{
	bool token = q->auth.param != NULL;
	bool rk = q->opt.has_rk && q->opt.rk;

	/* Step 5: pinUvAuthParam takes precedence over "uv"; vkey has no
	 * built-in user verification method. */
	if (!token && q->opt.has_uv && q->opt.uv)
		return CTAP2_ERR_INVALID_OPTION;
	if (q->opt.has_up && !q->opt.up)
		return CTAP2_ERR_INVALID_OPTION;
	/* Step 6: alwaysUv; clientPin is supported, so the platform is
	 * asked for a token (and may set a PIN first). */
	if (c->config.always_uv && (!token || !ctap_pin_is_set(c)))
		return CTAP2_ERR_PUAT_REQUIRED;
	/* Steps 7-8: makeCredUvNotRqd (true unless alwaysUv): with a PIN
	 * set, only a discoverable credential needs the token. */
	if (ctap_pin_is_set(c) && !token && rk)
		return CTAP2_ERR_PUAT_REQUIRED;
	/* Step 9: no enterprise attestation here. */
	if (q->seen & SEEN(MC_EP))
		return CTAP1_ERR_INVALID_PARAMETER;
	/* largeBlobKey only for discoverable credentials (§12.3). */
	if (q->ext.lbk && !rk)
		return CTAP2_ERR_INVALID_OPTION;
	return CTAP2_OK;
}

/* Step 12: a listed credential of this RP already on the key. */
static bool excluded_one(struct ctap *c, const struct mc_req *q,
			 const cbor_item_t *desc)
{
	struct cred_key k;
	struct cred_rk *rk = NULL;
	const uint8_t *id;
	size_t id_len;
	bool skip, hit = false;

	if (cred_parse_descriptor(desc, &id, &id_len, &skip) != CTAP2_OK ||
	    skip || !cred_id_open(c, q->rp_id_hash, id, id_len, &k))
		goto out;
	/* userVerificationRequired hides the credential without UV. */
	if (k.protect == CRED_PROTECT_UV_REQUIRED && !q->uv)
		goto out;
	if (k.flags & CRED_F_RK) {
		rk = malloc(sizeof(*rk));
		if (rk == NULL ||
		    cred_rk_get(c, q->rp_id_hash, id, id_len, rk) != CTAP2_OK)
			goto out;
	}
	hit = true;
out:
	crypto_wipe(&k, sizeof(k));
	if (rk != NULL)
		crypto_wipe(rk, sizeof(*rk));
	free(rk);
	return hit;
}

static uint8_t check_excluded(struct ctap *c, const struct mc_req *q,
			      const struct ctap_wait *w)
{
	cbor_item_t **items;
	size_t n;

	if (q->exclude == NULL)
		return CTAP2_OK;
	items = cbor_array_handle(q->exclude);
	n = cbor_array_size(q->exclude);
	for (size_t i = 0; i < n; i++) {
		if (!excluded_one(c, q, items[i]))
			continue;
		/* Touch first (unless the token carries one), whatever the
		 * outcome, so that a page cannot probe silently. */
		if (!(q->auth.param != NULL && ctap_pin_token_up(c)))
			(void)ctap_presence_for(c, "already registered with",
						q->rp_id, w);
		return CTAP2_ERR_CREDENTIAL_EXCLUDED;
	}
	return CTAP2_OK;
}

/* Step 16: the key pair and what its ID seals. */
static uint8_t new_key(const struct mc_req *q, struct cred_key *k,
		       bool *blob_stored)
{
	uint8_t pub[CRYPTO_EC_PUB_MAX];
	size_t priv_len = sizeof(k->priv), pub_len = sizeof(pub);

	memset(k, 0, sizeof(*k));
	k->alg = q->alg;
	k->protect = q->ext.protect ? q->ext.protect : CRED_PROTECT_UV_OPTIONAL;
	if (q->opt.has_rk && q->opt.rk)
		k->flags |= CRED_F_RK;
	if (q->ext.hmac_secret)
		k->flags |= CRED_F_HMAC_SECRET;
	*blob_stored = q->ext.has_blob && q->ext.blob_len <= CRED_BLOB_MAX;
	if (*blob_stored) {
		k->blob_len = q->ext.blob_len;
		memcpy(k->blob, q->ext.blob, q->ext.blob_len);
	}
	if (crypto_ec_generate(cred_curve(q->alg), k->priv, &priv_len, pub,
			       &pub_len) != 0 ||
	    priv_len != CRED_PRIV_LEN)
		return CTAP2_ERR_PROCESSING;
	return CTAP2_OK;
}

/* Steps 17-19 and the response {1: fmt, 2: authData, 3: attStmt,
 * 5: largeBlobKey}. */
static uint8_t respond(struct ctap *c, struct mc_req *q,
		       const struct cred_key *k, const uint8_t *id,
		       size_t id_len, bool blob_stored, struct wbuf *out)
{
	uint8_t adbuf[1024];
	struct wbuf ad = wbuf_init(adbuf, sizeof(adbuf));
	cbor_item_t *cose = NULL, *ext = NULL, *stmt = NULL, *m = NULL;
	uint32_t counter;
	uint8_t r;

	if ((r = counter_take(c, &counter)) != CTAP2_OK)
		goto out;
	q->ent.created = counter;
	if ((k->flags & CRED_F_RK) &&
	    (r = cred_rk_put(c, q->rp_id_hash, id, id_len, &q->ent)) != CTAP2_OK)
		goto out;
	r = CTAP2_ERR_PROCESSING;
	if ((cose = cred_cose_pub(k)) == NULL ||
	    ext_mc_output(c, &q->ext, q->rp_id, blob_stored, &ext) != CTAP2_OK ||
	    auth_data_build(q->rp_id_hash, (uint8_t)(AD_UP | (q->uv ? AD_UV : 0)),
			    counter, id, id_len, cose, ext, &ad) != CTAP2_OK ||
	    attest_statement(c, k, ad.p, ad.len, q->cdh, &stmt) != CTAP2_OK)
		goto out;
	m = cbor_new_definite_map(4);
	if (m == NULL || ctap_map_put_uint(m, 1, cbor_build_string("packed")) ||
	    ctap_map_put_uint(m, 2, cbor_build_bytestring(ad.p, ad.len)) ||
	    ctap_map_put_uint(m, 3, stmt))
		goto out;
	stmt = NULL; /* transferred */
	if (q->ent.has_lbk &&
	    ctap_map_put_uint(m, 5, cbor_build_bytestring(q->ent.lbk,
							  CRED_LBK_LEN)))
		goto out;
	r = ctap_encode_map(m, out);
	m = NULL; /* consumed */
out:
	if (cose != NULL)
		cbor_decref(&cose);
	if (ext != NULL)
		cbor_decref(&ext);
	if (stmt != NULL)
		cbor_decref(&stmt);
	if (m != NULL)
		cbor_decref(&m);
	return r;
}

static uint8_t run(struct ctap *c, struct mc_req *q, struct wbuf *out,
		   const struct ctap_wait *w)
{
	struct cred_key k;
	uint8_t id[CTAP_CRED_ID_MAX];
	size_t id_len = 0;
	bool blob_stored = false;
	uint8_t r;

	memset(&k, 0, sizeof(k));
	/* Steps 1-2. */
	if ((r = cred_auth_precheck(c, &q->auth, q->rp_id, w)) != CTAP2_OK)
		goto out;
	/* Step 3. */
	if (q->alg == 0) {
		r = CTAP2_ERR_UNSUPPORTED_ALGORITHM;
		goto out;
	}
	/* Steps 5-10. */
	if ((r = check_options(c, q)) != CTAP2_OK)
		goto out;
	/* Step 11. */
	if (q->auth.param != NULL) {
		r = cred_auth_verify(c, &q->auth, q->cdh, CTAP_PERM_MC, q->rp_id);
		if (r != CTAP2_OK)
			goto out;
		q->uv = true;
	}
	/* Step 12. */
	if ((r = check_excluded(c, q, w)) != CTAP2_OK)
		goto out;
	/* Step 14: "up" is true here (false was refused in step 5). */
	if ((r = cred_auth_presence(c, q->auth.param != NULL, "register with",
				    q->rp_id, w)) != CTAP2_OK)
		goto out;
	/* Steps 15-16. */
	if ((r = new_key(q, &k, &blob_stored)) != CTAP2_OK)
		goto out;
	if (q->ext.lbk) {
		if (crypto_random(q->ent.lbk, CRED_LBK_LEN) != 0) {
			r = CTAP2_ERR_PROCESSING;
			goto out;
		}
		q->ent.has_lbk = true;
	}
	if ((r = cred_id_seal(c, q->rp_id_hash, &k, id, &id_len)) != CTAP2_OK)
		goto out;
	r = respond(c, q, &k, id, id_len, blob_stored, out);
out:
	crypto_wipe(&k, sizeof(k));
	return r;
}

uint8_t ctap_cmd_make_credential(struct ctap *c, const cbor_item_t *params,
				 struct wbuf *out, const struct ctap_wait *w)
{
	struct mc_req *q = calloc(1, sizeof(*q));
	uint8_t r;

	if (q == NULL)
		return CTAP2_ERR_PROCESSING;
	r = parse(params, q);
	if (r == CTAP2_OK)
		r = run(c, q, out, w);
	crypto_wipe(q, sizeof(*q));
	free(q);
	return r;
}
