/* Authenticator data (WebAuthn §6.1) and the signature over it, shared by
 * makeCredential, getAssertion and getNextAssertion. */
#include "applets/fido/ctap_cred.h"

#include <string.h>

/* authData || clientDataHash must fit here: 37 bytes, attested credential
 * data (16 + 2 + ID + COSE key) and the extensions. */
#define SIGNED_MAX 1024

uint8_t auth_data_build(const uint8_t rp_id_hash[32], uint8_t flags,
			uint32_t counter, const uint8_t *cred_id,
			size_t cred_id_len, const cbor_item_t *cose_pub,
			const cbor_item_t *ext, struct wbuf *out)
{
	if (cred_id != NULL)
		flags |= AD_AT;
	if (ext != NULL)
		flags |= AD_ED;
	wbuf_put(out, rp_id_hash, 32);
	wbuf_u8(out, flags);
	wbuf_u32be(out, counter);
	if (cred_id != NULL) {
		wbuf_put(out, ctap_aaguid, sizeof(ctap_aaguid));
		wbuf_u16be(out, (uint16_t)cred_id_len);
		wbuf_put(out, cred_id, cred_id_len);
		if (ctap_cbor_encode(cose_pub, out) != CTAP2_OK)
			return CTAP2_ERR_PROCESSING;
	}
	if (ext != NULL && ctap_cbor_encode(ext, out) != CTAP2_OK)
		return CTAP2_ERR_PROCESSING;
	return out->overflow ? CTAP2_ERR_PROCESSING : CTAP2_OK;
}

cbor_item_t *cred_descriptor(const uint8_t *id, size_t id_len)
{
	cbor_item_t *m = cbor_new_definite_map(2);

	if (m == NULL)
		return NULL;
	if (ctap_map_put_text(m, "id", cbor_build_bytestring(id, id_len)) ||
	    ctap_map_put_text(m, "type", cbor_build_string("public-key")))
		cbor_decref(&m);
	return m;
}

uint8_t cred_sign(const struct cred_key *k, const uint8_t *ad,
		  size_t ad_len, const uint8_t cdh[CRED_CDH_LEN],
		  uint8_t *sig, size_t *sig_len)
{
	uint8_t msg[SIGNED_MAX];

	if (ad_len > sizeof(msg) - CRED_CDH_LEN)
		return CTAP2_ERR_PROCESSING;
	memcpy(msg, ad, ad_len);
	memcpy(msg + ad_len, cdh, CRED_CDH_LEN);
	if (crypto_sign(cred_curve(k->alg), k->priv, CRED_PRIV_LEN, msg,
			ad_len + CRED_CDH_LEN, sig, sig_len) != 0)
		return CTAP2_ERR_PROCESSING;
	return CTAP2_OK;
}
