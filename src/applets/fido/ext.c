/* Extensions (CTAP 2.1 §12): credProtect, credBlob, hmac-secret,
 * largeBlobKey, minPinLength. Inputs are parsed (and hmac-secret's salts
 * checked and decrypted) before anything changes; outputs go into the
 * authData extensions map in canonical key order. */
#include "applets/fido/ctap_cred.h"

#include <string.h>

#define SALT_LEN 32

static bool key_is(const char *k, size_t kn, const char *name)
{
	return kn == strlen(name) && memcmp(k, name, kn) == 0;
}

/* largeBlobKey's only valid input is true (CTAP 2.1 §12.3). */
static uint8_t parse_lbk(const cbor_item_t *v, bool *lbk)
{
	bool b;

	if (ctap_bool(v, &b) != CTAP2_OK || !b)
		return CTAP2_ERR_INVALID_OPTION;
	*lbk = true;
	return CTAP2_OK;
}

static uint8_t parse_protect(const cbor_item_t *v, uint8_t *protect)
{
	uint64_t level;
	uint8_t r = ctap_uint(v, &level);

	if (r != CTAP2_OK)
		return r;
	if (level < CRED_PROTECT_UV_OPTIONAL || level > CRED_PROTECT_UV_REQUIRED)
		return CTAP1_ERR_INVALID_PARAMETER;
	*protect = (uint8_t)level;
	return CTAP2_OK;
}

static uint8_t mc_one(const char *k, size_t kn, const cbor_item_t *v,
		      struct ext_mc *e)
{
	if (key_is(k, kn, "hmac-secret"))
		return ctap_bool(v, &e->hmac_secret);
	if (key_is(k, kn, "credProtect"))
		return parse_protect(v, &e->protect);
	if (key_is(k, kn, "credBlob")) {
		e->has_blob = true;
		return ctap_bytes(v, &e->blob, &e->blob_len);
	}
	if (key_is(k, kn, "largeBlobKey"))
		return parse_lbk(v, &e->lbk);
	if (key_is(k, kn, "minPinLength"))
		return ctap_bool(v, &e->min_pin_len);
	return CTAP2_OK; /* extensions we do not support are ignored */
}

uint8_t ext_mc_parse(const cbor_item_t *it, struct ext_mc *e)
{
	struct cbor_pair *p;
	const char *k;
	size_t n, kn;
	uint8_t r = CTAP2_OK;

	if (!cbor_isa_map(it))
		return CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	p = cbor_map_handle(it);
	n = cbor_map_size(it);
	for (size_t i = 0; i < n && r == CTAP2_OK; i++)
		if (ctap_text(p[i].key, &k, &kn) == CTAP2_OK)
			r = mc_one(k, kn, p[i].value, e);
	return r;
}

/* hmac-secret input {1: keyAgreement, 2: saltEnc, 3: saltAuth,
 * 4: pinUvAuthProtocol} (CTAP 2.1 §12.5): shared secret, saltAuth,
 * then salt1 (|| salt2). */
static uint8_t parse_hmac(struct ctap *c, const cbor_item_t *v,
			  struct ext_ga *e)
{
	const cbor_item_t *ka, *enc, *auth, *proto;
	const uint8_t *enc_p, *auth_p;
	size_t enc_len, auth_len;
	uint8_t r;

	if (!cbor_isa_map(v))
		return CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	ka = ctap_map_uint(v, 1);
	enc = ctap_map_uint(v, 2);
	auth = ctap_map_uint(v, 3);
	proto = ctap_map_uint(v, 4);
	if (ka == NULL || enc == NULL || auth == NULL)
		return CTAP2_ERR_MISSING_PARAMETER;
	e->hmac_protocol = 1;
	if ((r = ctap_bytes(enc, &enc_p, &enc_len)) != CTAP2_OK ||
	    (r = ctap_bytes(auth, &auth_p, &auth_len)) != CTAP2_OK ||
	    (proto != NULL &&
	     (r = ctap_uint(proto, &e->hmac_protocol)) != CTAP2_OK) ||
	    !cbor_isa_map(ka))
		return r != CTAP2_OK ? r : CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	if (e->hmac_protocol != 1 && e->hmac_protocol != 2)
		return CTAP1_ERR_INVALID_PARAMETER;
	/* At most two salts and protocol 2's IV. */
	if (enc_len > 16 + 2 * SALT_LEN)
		return CTAP1_ERR_INVALID_LENGTH;
	e->secret_len = sizeof(e->secret);
	r = ctap_pin_shared_secret(c, e->hmac_protocol, ka, e->secret,
				   &e->secret_len);
	if (r != CTAP2_OK)
		return r;
	if (ctap_pin_verify(e->hmac_protocol, e->secret, enc_p, enc_len,
			    auth_p, auth_len) != CTAP2_OK)
		return CTAP2_ERR_PIN_AUTH_INVALID;
	e->salts_len = sizeof(e->salts);
	r = ctap_pin_decrypt(e->hmac_protocol, e->secret, enc_p, enc_len,
			     e->salts, &e->salts_len);
	if (r != CTAP2_OK)
		return r == CTAP2_ERR_PIN_AUTH_INVALID ? r
						       : CTAP1_ERR_INVALID_LENGTH;
	if (e->salts_len != SALT_LEN && e->salts_len != 2 * SALT_LEN)
		return CTAP1_ERR_INVALID_LENGTH;
	e->hmac = true;
	return CTAP2_OK;
}

static uint8_t ga_one(struct ctap *c, const char *k, size_t kn,
		      const cbor_item_t *v, struct ext_ga *e)
{
	if (key_is(k, kn, "hmac-secret"))
		return parse_hmac(c, v, e);
	if (key_is(k, kn, "credBlob"))
		return ctap_bool(v, &e->blob);
	if (key_is(k, kn, "largeBlobKey"))
		return parse_lbk(v, &e->lbk);
	return CTAP2_OK;
}

uint8_t ext_ga_parse(struct ctap *c, const cbor_item_t *it, struct ext_ga *e)
{
	struct cbor_pair *p;
	const char *k;
	size_t n, kn;
	uint8_t r = CTAP2_OK;

	if (!cbor_isa_map(it))
		return CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
	p = cbor_map_handle(it);
	n = cbor_map_size(it);
	for (size_t i = 0; i < n && r == CTAP2_OK; i++)
		if (ctap_text(p[i].key, &k, &kn) == CTAP2_OK)
			r = ga_one(c, k, kn, p[i].value, e);
	if (r != CTAP2_OK)
		ext_ga_wipe(e);
	return r;
}

void ext_ga_wipe(struct ext_ga *e)
{
	crypto_wipe(e->secret, sizeof(e->secret));
	crypto_wipe(e->salts, sizeof(e->salts));
	e->secret_len = 0;
	e->salts_len = 0;
	e->hmac = false;
}

/* minPinLength is disclosed only to the RP IDs authenticatorConfig
 * listed (CTAP 2.1 §12.4). */
static bool min_pin_rp_ok(const struct ctap *c, const char *rp_id)
{
	for (size_t i = 0; i < c->config.n_min_pin_rpids &&
			   i < CTAP_MIN_PIN_RPIDS_MAX;
	     i++)
		if (strncmp(c->config.min_pin_rpids[i], rp_id,
			    CTAP_RP_ID_MAX) == 0)
			return true;
	return false;
}

static uint8_t finish(cbor_item_t **m, bool failed, cbor_item_t **out)
{
	if (failed) {
		cbor_decref(m);
		return CTAP2_ERR_PROCESSING;
	}
	if (cbor_map_size(*m) == 0)
		cbor_decref(m);
	*out = *m;
	return CTAP2_OK;
}

uint8_t ext_mc_output(struct ctap *c, const struct ext_mc *e,
		      const char *rp_id, bool blob_stored, cbor_item_t **out)
{
	cbor_item_t *m = cbor_new_definite_map(4);
	bool fail = m == NULL;

	*out = NULL;
	/* Canonical order: credBlob, credProtect, hmac-secret, minPinLength. */
	if (!fail && e->has_blob)
		fail = ctap_map_put_text(m, "credBlob",
					 cbor_build_bool(blob_stored)) != 0;
	if (!fail && e->protect != 0)
		fail = ctap_map_put_text(m, "credProtect",
					 cbor_build_uint8(e->protect)) != 0;
	if (!fail && e->hmac_secret)
		fail = ctap_map_put_text(m, "hmac-secret",
					 cbor_build_bool(true)) != 0;
	if (!fail && e->min_pin_len && min_pin_rp_ok(c, rp_id))
		fail = ctap_map_put_text(m, "minPinLength",
					 cbor_build_uint8(c->config.min_pin_len)) != 0;
	if (m == NULL)
		return CTAP2_ERR_PROCESSING;
	return finish(&m, fail, out);
}

/* output1 = HMAC(CredRandom, salt1) [|| output2], encrypted under the
 * shared secret. */
static cbor_item_t *hmac_output(const struct ext_ga *e,
				const struct cred_key *k, bool uv)
{
	uint8_t cr[32], outs[2 * SALT_LEN], enc[16 + 2 * SALT_LEN];
	size_t enc_len = sizeof(enc);
	cbor_item_t *it = NULL;

	if (cred_random(k, uv, cr) != 0)
		goto out;
	for (size_t i = 0; i < e->salts_len / SALT_LEN; i++)
		if (crypto_hmac(CRYPTO_SHA256, cr, sizeof(cr),
				e->salts + i * SALT_LEN, SALT_LEN,
				outs + i * SALT_LEN) != 0)
			goto out;
	if (ctap_pin_encrypt(e->hmac_protocol, e->secret, outs, e->salts_len,
			     enc, &enc_len) != CTAP2_OK)
		goto out;
	it = cbor_build_bytestring(enc, enc_len);
out:
	crypto_wipe(cr, sizeof(cr));
	crypto_wipe(outs, sizeof(outs));
	return it;
}

uint8_t ext_ga_output(struct ctap *c, const struct ext_ga *e,
		      const struct cred_key *k, bool uv, cbor_item_t **out)
{
	cbor_item_t *m = cbor_new_definite_map(2);
	bool fail = m == NULL;

	(void)c;
	*out = NULL;
	/* Canonical order: credBlob, hmac-secret. */
	if (!fail && e->blob)
		fail = ctap_map_put_text(m, "credBlob",
					 cbor_build_bytestring(k->blob,
							       k->blob_len)) != 0;
	/* A credential made without hmac-secret has no secret to give. */
	if (!fail && e->hmac && (k->flags & CRED_F_HMAC_SECRET))
		fail = ctap_map_put_text(m, "hmac-secret",
					 hmac_output(e, k, uv)) != 0;
	if (m == NULL)
		return CTAP2_ERR_PROCESSING;
	return finish(&m, fail, out);
}
