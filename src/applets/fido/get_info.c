/* authenticatorGetInfo (CTAP 2.1 §6.4): what this key supports and its
 * current settings, and vkey's AAGUID. */
#include "applets/fido/ctap_cred.h"
#include "core/key.h"

/* vkey's AAGUID: a version-4 UUID chosen once for vkey,
 * 2805bf94-0efd-4efa-9b92-14379049df08. */
const uint8_t ctap_aaguid[16] = { 0x28, 0x05, 0xbf, 0x94, 0x0e, 0xfd,
				  0x4e, 0xfa, 0x9b, 0x92, 0x14, 0x37,
				  0x90, 0x49, 0xdf, 0x08 };

/* firmwareVersion: vkey 0.1.0 as major << 16 | minor << 8 | patch. */
#define FIRMWARE_VERSION 0x000100

enum info_member {
	INFO_VERSIONS = 0x01,
	INFO_EXTENSIONS = 0x02,
	INFO_AAGUID = 0x03,
	INFO_OPTIONS = 0x04,
	INFO_MAX_MSG = 0x05,
	INFO_PIN_PROTOCOLS = 0x06,
	INFO_MAX_CRED_COUNT = 0x07,
	INFO_MAX_CRED_ID = 0x08,
	INFO_TRANSPORTS = 0x09,
	INFO_ALGORITHMS = 0x0A,
	INFO_MAX_LARGE_BLOB = 0x0B,
	INFO_FORCE_PIN_CHANGE = 0x0C,
	INFO_MIN_PIN = 0x0D,
	INFO_FIRMWARE = 0x0E,
	INFO_MAX_CRED_BLOB = 0x0F,
	INFO_MAX_RPIDS_MIN_PIN = 0x10,
	INFO_REMAINING_RK = 0x14,
};

static cbor_item_t *strings(const char *const *s, size_t n)
{
	cbor_item_t *a = cbor_new_definite_array(n);

	for (size_t i = 0; a != NULL && i < n; i++) {
		cbor_item_t *t = cbor_build_string(s[i]);
		bool ok = t != NULL && cbor_array_push(a, t);

		if (t != NULL)
			cbor_decref(&t);
		if (!ok)
			cbor_decref(&a);
	}
	return a;
}

static cbor_item_t *uints(const uint8_t *v, size_t n)
{
	cbor_item_t *a = cbor_new_definite_array(n);

	for (size_t i = 0; a != NULL && i < n; i++) {
		cbor_item_t *t = cbor_build_uint8(v[i]);
		bool ok = t != NULL && cbor_array_push(a, t);

		if (t != NULL)
			cbor_decref(&t);
		if (!ok)
			cbor_decref(&a);
	}
	return a;
}

/* Keys in canonical order (length first, then bytewise). */
static cbor_item_t *options(struct ctap *c)
{
	const struct {
		const char *name;
		bool value;
	} opt[] = {
		{ "rk", true },
		{ "up", true },
		{ "plat", false },
		{ "alwaysUv", c->config.always_uv },
		{ "credMgmt", true },
		{ "authnrCfg", true },
		{ "clientPin", ctap_pin_is_set(c) },
		{ "largeBlobs", true },
		{ "pinUvAuthToken", true },
		{ "setMinPINLength", true },
		/* CTAP 2.1 §6.11.2: alwaysUv turns makeCredUvNotRqd off. */
		{ "makeCredUvNotRqd", !c->config.always_uv },
		{ "credentialMgmtPreview", true },
	};
	size_t n = sizeof(opt) / sizeof(opt[0]);
	cbor_item_t *m = cbor_new_definite_map(n);

	for (size_t i = 0; m != NULL && i < n; i++)
		if (ctap_map_put_text(m, opt[i].name,
				      cbor_build_bool(opt[i].value)))
			cbor_decref(&m);
	return m;
}

static cbor_item_t *algorithm(int alg)
{
	cbor_item_t *m = cbor_new_definite_map(2);

	if (m == NULL)
		return NULL;
	if (ctap_map_put_text(m, "alg", cbor_build_negint8((uint8_t)(-1 - alg))) ||
	    ctap_map_put_text(m, "type", cbor_build_string("public-key")))
		cbor_decref(&m);
	return m;
}

static cbor_item_t *algorithms(void)
{
	cbor_item_t *a = cbor_new_definite_array(2);
	const int algs[] = { COSE_ES256, COSE_EDDSA };

	for (size_t i = 0; a != NULL && i < 2; i++) {
		cbor_item_t *t = algorithm(algs[i]);
		bool ok = t != NULL && cbor_array_push(a, t);

		if (t != NULL)
			cbor_decref(&t);
		if (!ok)
			cbor_decref(&a);
	}
	return a;
}

static int put_u(cbor_item_t *m, uint64_t key, uint64_t v)
{
	return ctap_map_put_uint(m, key, cbor_build_uint64(v));
}

uint8_t ctap_cmd_get_info(struct ctap *c, struct wbuf *out)
{
	static const char *const versions[] = { "U2F_V2", "FIDO_2_0",
						"FIDO_2_1" };
	/* With alwaysUv on, U2F (which cannot verify the user) is off; the
	 * management application may switch it off too. */
	size_t skip_u2f = ctap_u2f_on(c) ? 0 : 1;
	static const char *const extensions[] = {
		"credBlob", "credProtect", "hmac-secret", "largeBlobKey",
		"minPinLength",
	};
	static const char *const transports[] = { "nfc", "usb" };
	static const uint8_t protocols[] = { 2, 1 };
	cbor_item_t *m = cbor_new_definite_map(17);

	if (m == NULL ||
	    ctap_map_put_uint(m, INFO_VERSIONS, strings(versions + skip_u2f,
							  3 - skip_u2f)) ||
	    ctap_map_put_uint(m, INFO_EXTENSIONS, strings(extensions, 5)) ||
	    ctap_map_put_uint(m, INFO_AAGUID,
			      cbor_build_bytestring(ctap_aaguid, 16)) ||
	    ctap_map_put_uint(m, INFO_OPTIONS, options(c)) ||
	    put_u(m, INFO_MAX_MSG, vkey_ctap_msg_max(c->key)) ||
	    ctap_map_put_uint(m, INFO_PIN_PROTOCOLS, uints(protocols, 2)) ||
	    put_u(m, INFO_MAX_CRED_COUNT, CRED_LIST_MAX) ||
	    put_u(m, INFO_MAX_CRED_ID, CTAP_CRED_ID_MAX) ||
	    ctap_map_put_uint(m, INFO_TRANSPORTS, strings(transports, 2)) ||
	    ctap_map_put_uint(m, INFO_ALGORITHMS, algorithms()) ||
	    put_u(m, INFO_MAX_LARGE_BLOB, ctap_large_blob_max()) ||
	    ctap_map_put_uint(m, INFO_FORCE_PIN_CHANGE,
			      cbor_build_bool(c->config.force_change_pin)) ||
	    put_u(m, INFO_MIN_PIN, c->config.min_pin_len) ||
	    put_u(m, INFO_FIRMWARE, FIRMWARE_VERSION) ||
	    put_u(m, INFO_MAX_CRED_BLOB, CRED_BLOB_MAX) ||
	    put_u(m, INFO_MAX_RPIDS_MIN_PIN, CTAP_MIN_PIN_RPIDS_MAX) ||
	    put_u(m, INFO_REMAINING_RK, cred_rk_remaining(c))) {
		if (m != NULL)
			cbor_decref(&m);
		return CTAP2_ERR_PROCESSING;
	}
	return ctap_encode_map(m, out);
}
