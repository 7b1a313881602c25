/* authenticatorConfig (CTAP 2.1 §6.11): toggleAlwaysUv and
 * setMinPINLength, and the persistence of struct ctap_config. */
#include <stdlib.h>
#include <string.h>

#include "applets/fido/pin_priv.h"
#include "core/log.h"

enum {
	CFG_SUBCOMMAND = 0x01,
	CFG_PARAMS = 0x02,
	CFG_PROTOCOL = 0x03,
	CFG_PIN_AUTH = 0x04,
};

enum {
	SUB_ENABLE_EA = 0x01,
	SUB_TOGGLE_ALWAYS_UV = 0x02,
	SUB_SET_MIN_PIN_LENGTH = 0x03,
};

/* setMinPINLength's subCommandParams. */
enum {
	MP_NEW_MIN_LENGTH = 0x01,
	MP_RP_IDS = 0x02,
	MP_FORCE_CHANGE = 0x03,
};

enum {
	F_NEW_MIN = 1u << 0,
	F_RP_IDS = 1u << 1,
	F_FORCE = 1u << 2,
};

/* pinUvAuthParam message: 32 x 0xff || 0x0d || subCommand || params. */
#define CFG_AUTH_PREFIX 34

static const char config_key[] = "config";

/* Record "config": version, flags, min length, then the RP IDs each as
 * one length byte and the bytes. */
#define CONFIG_VERSION 1
#define CONFIG_ALWAYS_UV 0x01
#define CONFIG_FORCE_CHANGE 0x02
#define CONFIG_REC_MAX (4 + CTAP_MIN_PIN_RPIDS_MAX * CTAP_RP_ID_MAX)
/* An RP ID's length fits the record's length byte, and its bytes and
 * the NUL fit min_pin_rpids[i]. */
_Static_assert(CTAP_RP_ID_MAX <= 256, "RP ID length is one byte");

void ctap_config_defaults(struct ctap_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->min_pin_len = PIN_DEFAULT_MIN_LEN;
}

int ctap_config_save(struct ctap *c)
{
	const struct ctap_config *cfg = &c->config;
	uint8_t *rec = malloc(CONFIG_REC_MAX);
	struct wbuf w = wbuf_init(rec, CONFIG_REC_MAX);
	size_t i, n;
	int err = STORE_IO;

	if (rec == NULL)
		return err;
	wbuf_u8(&w, CONFIG_VERSION);
	wbuf_u8(&w, (uint8_t)((cfg->always_uv ? CONFIG_ALWAYS_UV : 0) |
			      (cfg->force_change_pin ? CONFIG_FORCE_CHANGE : 0)));
	wbuf_u8(&w, cfg->min_pin_len);
	wbuf_u8(&w, (uint8_t)cfg->n_min_pin_rpids);
	for (i = 0; i < cfg->n_min_pin_rpids; i++) {
		n = strlen(cfg->min_pin_rpids[i]);
		wbuf_u8(&w, (uint8_t)n);
		wbuf_put(&w, cfg->min_pin_rpids[i], n);
	}
	if (!w.overflow)
		err = store_put(c->store, CONFIG_NS, config_key,
				sizeof(config_key) - 1, rec, w.len);
	free(rec);
	return err;
}

static int config_parse(struct rbuf *r, struct ctap_config *cfg)
{
	uint8_t version, flags, n, len;
	const uint8_t *p;
	size_t i;

	if (rbuf_u8(r, &version) || version != CONFIG_VERSION ||
	    rbuf_u8(r, &flags) || rbuf_u8(r, &cfg->min_pin_len) ||
	    rbuf_u8(r, &n) || n > CTAP_MIN_PIN_RPIDS_MAX)
		return -1;
	cfg->always_uv = flags & CONFIG_ALWAYS_UV;
	cfg->force_change_pin = flags & CONFIG_FORCE_CHANGE;
	for (i = 0; i < n; i++) {
		if (rbuf_u8(r, &len) || rbuf_bytes(r, len, &p))
			return -1;
		memcpy(cfg->min_pin_rpids[i], p, len);
		cfg->min_pin_rpids[i][len] = '\0';
	}
	cfg->n_min_pin_rpids = n;
	return rbuf_left(r) == 0 ? 0 : -1;
}

int ctap_config_load(struct ctap *c)
{
	uint8_t *val = NULL;
	size_t len = 0;
	struct rbuf r;
	int err;

	ctap_config_defaults(&c->config);
	err = store_get(c->store, CONFIG_NS, config_key,
			sizeof(config_key) - 1, &val, &len);
	if (err == STORE_NOT_FOUND)
		return STORE_OK;
	if (err != STORE_OK)
		return err;
	r = rbuf_init(val, len);
	if (config_parse(&r, &c->config) != 0) {
		ctap_config_defaults(&c->config);
		err = STORE_CORRUPT;
	}
	store_free_value(val, len);
	return err;
}

/* ---- setMinPINLength (CTAP 2.1 §6.11.4) ---- */

struct min_pin_req {
	unsigned seen;
	uint64_t new_min;
	const cbor_item_t *rp_ids;
	bool force;
};

static uint8_t mp_parse(const cbor_item_t *params, struct min_pin_req *q)
{
	uint8_t r = CTAP2_OK;
	const cbor_item_t *v;

	memset(q, 0, sizeof(*q));
	if (params == NULL)
		return CTAP2_OK; /* all optional */
	if ((v = ctap_map_uint(params, MP_NEW_MIN_LENGTH)) != NULL) {
		r = ctap_uint(v, &q->new_min);
		q->seen |= F_NEW_MIN;
	}
	if (r == CTAP2_OK && (v = ctap_map_uint(params, MP_RP_IDS)) != NULL) {
		if (!cbor_isa_array(v))
			return CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
		q->rp_ids = v;
		q->seen |= F_RP_IDS;
	}
	if (r == CTAP2_OK &&
	    (v = ctap_map_uint(params, MP_FORCE_CHANGE)) != NULL) {
		r = ctap_bool(v, &q->force);
		q->seen |= F_FORCE;
	}
	return r;
}

/* Replace cfg's minPinLengthRPIDs with the request's. */
static uint8_t mp_rp_ids(const cbor_item_t *list, struct ctap_config *cfg)
{
	cbor_item_t **items = cbor_array_handle(list);
	size_t i, n = cbor_array_size(list), len;
	const char *p;
	uint8_t r;

	if (n > CTAP_MIN_PIN_RPIDS_MAX)
		return CTAP2_ERR_KEY_STORE_FULL;
	for (i = 0; i < n; i++) {
		if ((r = ctap_text(items[i], &p, &len)) != CTAP2_OK)
			return r;
		if (len >= CTAP_RP_ID_MAX || memchr(p, '\0', len) != NULL)
			return CTAP1_ERR_INVALID_PARAMETER;
		memcpy(cfg->min_pin_rpids[i], p, len);
		cfg->min_pin_rpids[i][len] = '\0';
	}
	cfg->n_min_pin_rpids = n;
	return CTAP2_OK;
}

static uint8_t cfg_set_min_pin_length(struct ctap *c,
				      const cbor_item_t *params)
{
	struct ctap_config *cfg = malloc(sizeof(*cfg));
	struct min_pin_req q;
	uint8_t r;

	if (cfg == NULL)
		return CTAP1_ERR_OTHER;
	*cfg = c->config;
	if ((r = mp_parse(params, &q)) != CTAP2_OK)
		goto out;
	if (!(q.seen & F_NEW_MIN))
		q.new_min = c->config.min_pin_len;
	/* Never lower; never beyond what a 63-byte PIN can hold. */
	if (q.new_min < c->config.min_pin_len || q.new_min > PIN_MAX_BYTES) {
		r = CTAP2_ERR_PIN_POLICY_VIOLATION;
		goto out;
	}
	if (q.force && !ctap_pin_is_set(c)) {
		r = CTAP2_ERR_PIN_NOT_SET;
		goto out;
	}
	if ((q.seen & F_RP_IDS) &&
	    (r = mp_rp_ids(q.rp_ids, cfg)) != CTAP2_OK)
		goto out;
	cfg->min_pin_len = (uint8_t)q.new_min;
	/* A PIN shorter than the new minimum must be changed. */
	if (q.force || (ctap_pin_is_set(c) &&
			ctap_pin_code_points(c) < cfg->min_pin_len))
		cfg->force_change_pin = true;
	r = CTAP2_OK;
out:
	if (r == CTAP2_OK) {
		struct ctap_config old = c->config;

		c->config = *cfg;
		if (ctap_config_save(c) != STORE_OK) {
			c->config = old;
			r = CTAP1_ERR_OTHER;
		}
	}
	free(cfg);
	return r;
}

static uint8_t cfg_toggle_always_uv(struct ctap *c)
{
	c->config.always_uv = !c->config.always_uv;
	if (ctap_config_save(c) != STORE_OK) {
		c->config.always_uv = !c->config.always_uv;
		return CTAP1_ERR_OTHER;
	}
	return CTAP2_OK;
}

/* ---- the command ---- */

/* With a PIN set (or alwaysUv), the request carries pinUvAuthParam =
 * authenticate(token, 32 x 0xff || 0x0d || uint8(subCommand) ||
 * subCommandParams) from a token with the acfg permission (§6.11). */
static uint8_t cfg_authorize(struct ctap *c, const cbor_item_t *req,
			     const cbor_item_t *params, uint64_t sub)
{
	size_t cap = CFG_AUTH_PREFIX + CTAP_MAX_MSG;
	uint8_t *msg = malloc(cap);
	struct wbuf w = wbuf_init(msg, cap);
	uint8_t r = CTAP1_ERR_OTHER;

	if (msg == NULL)
		return r;
	memset(msg, 0xff, 32);
	w.len = 32;
	wbuf_u8(&w, CTAP_CMD_CONFIG);
	wbuf_u8(&w, (uint8_t)sub);
	/* The params were decoded from canonical CBOR, so encoding them
	 * again gives back the bytes the platform authenticated. */
	if (params != NULL && ctap_cbor_encode(params, &w) != CTAP2_OK)
		goto out;
	r = ctap_pin_authorize(c, ctap_map_uint(req, CFG_PROTOCOL),
			       ctap_map_uint(req, CFG_PIN_AUTH), msg, w.len,
			       CTAP_PERM_ACFG);
out:
	free(msg);
	return r;
}

uint8_t ctap_cmd_config(struct ctap *c, const cbor_item_t *params,
			struct wbuf *out)
{
	const cbor_item_t *sub_params;
	uint64_t sub;
	uint8_t r;

	(void)out; /* the response is the status alone */
	if (params == NULL)
		return CTAP2_ERR_MISSING_PARAMETER;
	if (!cbor_isa_map(params))
		return CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	if (ctap_map_uint(params, CFG_SUBCOMMAND) == NULL)
		return CTAP2_ERR_MISSING_PARAMETER;
	if ((r = ctap_uint(ctap_map_uint(params, CFG_SUBCOMMAND), &sub)) !=
	    CTAP2_OK)
		return r;
	sub_params = ctap_map_uint(params, CFG_PARAMS);
	if (sub_params != NULL && !cbor_isa_map(sub_params))
		return CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	if (sub != SUB_ENABLE_EA && sub != SUB_TOGGLE_ALWAYS_UV &&
	    sub != SUB_SET_MIN_PIN_LENGTH)
		return CTAP2_ERR_INVALID_SUBCOMMAND;
	if (ctap_pin_is_set(c) || c->config.always_uv) {
		r = cfg_authorize(c, params, sub_params, sub);
		if (r != CTAP2_OK)
			return r;
	}
	switch (sub) {
	case SUB_TOGGLE_ALWAYS_UV:
		return cfg_toggle_always_uv(c);
	case SUB_SET_MIN_PIN_LENGTH:
		return cfg_set_min_pin_length(c, sub_params);
	default:
		/* vkey has no enterprise attestation (no "ep" in getInfo). */
		return CTAP1_ERR_INVALID_PARAMETER;
	}
}
