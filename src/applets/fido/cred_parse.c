/* Request members that several commands share: credential descriptors
 * and their lists, the user entity, the options map. Each checks types
 * as CTAP 2.1 §6 asks: wrong type CTAP2_ERR_CBOR_UNEXPECTED_TYPE, a
 * required member absent CTAP2_ERR_MISSING_PARAMETER. */
#include "applets/fido/ctap_cred.h"

#include <string.h>

static const char public_key[] = "public-key";

uint8_t cred_parse_text(const cbor_item_t *it, char *buf, size_t cap)
{
	const char *p;
	size_t n;
	uint8_t r = ctap_text(it, &p, &n);

	if (r != CTAP2_OK)
		return r;
	if (n >= cap)
		return CTAP1_ERR_INVALID_LENGTH;
	/* Used as a C string (RP IDs reach the PIN side that way). */
	if (memchr(p, '\0', n) != NULL)
		return CTAP1_ERR_INVALID_PARAMETER;
	memcpy(buf, p, n);
	buf[n] = '\0';
	return CTAP2_OK;
}

uint8_t cred_parse_descriptor(const cbor_item_t *it, const uint8_t **id,
			      size_t *id_len, bool *skip)
{
	const cbor_item_t *type, *idit;
	const char *t;
	size_t tn;
	uint8_t r;

	if (!cbor_isa_map(it))
		return CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	type = ctap_map_text(it, "type");
	idit = ctap_map_text(it, "id");
	if (type == NULL || idit == NULL)
		return CTAP2_ERR_MISSING_PARAMETER;
	r = ctap_text(type, &t, &tn);
	if (r == CTAP2_OK)
		r = ctap_bytes(idit, id, id_len);
	if (r != CTAP2_OK)
		return r;
	*skip = tn != strlen(public_key) || memcmp(t, public_key, tn) != 0;
	return CTAP2_OK;
}

uint8_t cred_parse_list(const cbor_item_t *it)
{
	cbor_item_t **items;
	const uint8_t *id;
	size_t n, id_len;
	bool skip;
	uint8_t r;

	if (!cbor_isa_array(it))
		return CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	items = cbor_array_handle(it);
	n = cbor_array_size(it);
	for (size_t i = 0; i < n; i++) {
		r = cred_parse_descriptor(items[i], &id, &id_len, &skip);
		if (r != CTAP2_OK)
			return r;
	}
	return CTAP2_OK;
}

/* Names may be truncated to 64 bytes (CTAP 2.1 §6.1.2), on a UTF-8
 * character boundary. */
static size_t utf8_cut(const uint8_t *p, size_t n, size_t max)
{
	if (n <= max)
		return n;
	while (max > 0 && (p[max] & 0xC0) == 0x80)
		max--;
	return max;
}

static uint8_t parse_name(const cbor_item_t *it, struct cred_field *f)
{
	const char *p;
	size_t n;
	uint8_t r;

	memset(f, 0, sizeof(*f));
	if (it == NULL)
		return CTAP2_OK;
	r = ctap_text(it, &p, &n);
	if (r != CTAP2_OK)
		return r;
	n = utf8_cut((const uint8_t *)p, n, CRED_NAME_MAX);
	return cred_field_set(f, p, n, CRED_NAME_MAX) == 0
		       ? CTAP2_OK
		       : CTAP1_ERR_INVALID_LENGTH;
}

uint8_t cred_parse_user(const cbor_item_t *it, struct cred_rk *rk)
{
	const cbor_item_t *id, *icon;
	const uint8_t *p;
	const char *t;
	size_t n;
	uint8_t r;

	if (!cbor_isa_map(it))
		return CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	id = ctap_map_text(it, "id");
	if (id == NULL)
		return CTAP2_ERR_MISSING_PARAMETER;
	r = ctap_bytes(id, &p, &n);
	if (r != CTAP2_OK)
		return r;
	if (n > CRED_USER_ID_MAX)
		return CTAP1_ERR_INVALID_LENGTH;
	cred_field_set(&rk->user_id, p, n, CRED_USER_ID_MAX);
	icon = ctap_map_text(it, "icon");
	if (icon != NULL && (r = ctap_text(icon, &t, &n)) != CTAP2_OK)
		return r;
	r = parse_name(ctap_map_text(it, "name"), &rk->user_name);
	if (r == CTAP2_OK)
		r = parse_name(ctap_map_text(it, "displayName"),
			       &rk->display_name);
	return r;
}

/* The RP entity: "id" required, "name" kept (truncated) for credential
 * management. */
uint8_t cred_parse_rp(const cbor_item_t *it, char *rp_id, size_t cap,
		      struct cred_field *name)
{
	const cbor_item_t *id, *icon;
	const char *t;
	size_t n;
	uint8_t r;

	if (!cbor_isa_map(it))
		return CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	id = ctap_map_text(it, "id");
	if (id == NULL)
		return CTAP2_ERR_MISSING_PARAMETER;
	r = cred_parse_text(id, rp_id, cap);
	if (r != CTAP2_OK)
		return r;
	icon = ctap_map_text(it, "icon");
	if (icon != NULL && (r = ctap_text(icon, &t, &n)) != CTAP2_OK)
		return r;
	return parse_name(ctap_map_text(it, "name"), name);
}

static uint8_t option(const cbor_item_t *v, bool *val, bool *has)
{
	uint8_t r = ctap_bool(v, val);

	if (r == CTAP2_OK)
		*has = true;
	return r;
}

uint8_t cred_parse_options(const cbor_item_t *it, struct cred_options *o)
{
	struct cbor_pair *p;
	const char *k;
	size_t n, kn;
	uint8_t r = CTAP2_OK;

	if (!cbor_isa_map(it))
		return CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	p = cbor_map_handle(it);
	n = cbor_map_size(it);
	/* Keys not understood are treated as absent (CTAP 2.1 §6.1.2 step
	 * 5), whatever their value. */
	for (size_t i = 0; i < n && r == CTAP2_OK; i++) {
		if (ctap_text(p[i].key, &k, &kn) != CTAP2_OK || kn != 2)
			continue;
		if (memcmp(k, "rk", 2) == 0)
			r = option(p[i].value, &o->rk, &o->has_rk);
		else if (memcmp(k, "up", 2) == 0)
			r = option(p[i].value, &o->up, &o->has_up);
		else if (memcmp(k, "uv", 2) == 0)
			r = option(p[i].value, &o->uv, &o->has_uv);
	}
	return r;
}

uint8_t cred_parse_auth_member(bool is_protocol, const cbor_item_t *v,
			       struct cred_auth *a)
{
	if (is_protocol) {
		a->has_protocol = true;
		return ctap_uint(v, &a->protocol);
	}
	return ctap_bytes(v, &a->param, &a->param_len);
}

uint8_t cred_parse_cdh(const cbor_item_t *v, uint8_t cdh[CRED_CDH_LEN])
{
	const uint8_t *p;
	size_t n;
	uint8_t r = ctap_bytes(v, &p, &n);

	if (r != CTAP2_OK)
		return r;
	if (n != CRED_CDH_LEN)
		return CTAP1_ERR_INVALID_LENGTH;
	memcpy(cdh, p, n);
	return CTAP2_OK;
}
