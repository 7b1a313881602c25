/* Credential IDs: every credential's private key travels sealed in its ID
 * (AES-256-GCM, rpIdHash as associated data), so non-discoverable
 * credentials need no storage and a forged, altered or foreign ID does not
 * open. Also the U2F entry points, which share this format. */
#include "applets/fido/ctap_cred.h"

#include <stdlib.h>
#include <string.h>

/* Layout: version || nonce || AES-GCM(alg, protect, flags, priv,
 * blob_len, blob) || tag. */
#define ID_VERSION 0x01
#define ID_NONCE 12
#define ID_TAG 16
#define ID_FIXED (3 + CRED_PRIV_LEN + 1)
#define ID_PLAIN_MAX (ID_FIXED + CRED_BLOB_MAX)
#define ID_MIN (1 + ID_NONCE + ID_FIXED + ID_TAG)
#define ID_ALG_ES256 1
#define ID_ALG_EDDSA 2

_Static_assert(1 + ID_NONCE + ID_PLAIN_MAX + ID_TAG <= CTAP_CRED_ID_MAX,
	       "a credential ID with the largest credBlob fits");

static const char wrap_salt_key[] = "wrap";
static const char wrap_info[] = "vkey fido credential id v1";
static const char uv_info[] = "vkey hmac-secret CredRandomWithUV";
static const char no_uv_info[] = "vkey hmac-secret CredRandomWithoutUV";

/* wrap_key = HKDF(salt from the store, device secret): the salt is
 * replaced by authenticatorReset, which retires every ID at once. */
static int wrap_key_derive(struct ctap *c, bool fresh)
{
	uint8_t salt[32];
	uint8_t *val = NULL;
	size_t val_len = 0;
	int err = fresh ? STORE_NOT_FOUND
			: store_get(c->store, NS_META, wrap_salt_key,
				    strlen(wrap_salt_key), &val, &val_len);
	int r = -1;

	if (err == STORE_OK && val_len == sizeof(salt)) {
		memcpy(salt, val, sizeof(salt));
	} else if (err == STORE_NOT_FOUND) {
		/* First use, or a reset: a new salt. Any other failure must
		 * not replace the salt, or every credential would be lost. */
		if (crypto_random(salt, sizeof(salt)) != 0 ||
		    store_put(c->store, NS_META, wrap_salt_key,
			      strlen(wrap_salt_key), salt,
			      sizeof(salt)) != STORE_OK)
			goto out;
	} else {
		goto out;
	}
	if (crypto_hkdf_sha256(salt, sizeof(salt),
			       store_device_secret(c->store),
			       STORE_DEVICE_SECRET_LEN,
			       (const uint8_t *)wrap_info, strlen(wrap_info),
			       c->cred->wrap_key,
			       sizeof(c->cred->wrap_key)) != 0)
		goto out;
	r = 0;
out:
	store_free_value(val, val_len);
	crypto_wipe(salt, sizeof(salt));
	return r;
}

int cred_ctx_create(struct ctap *c)
{
	c->cred = calloc(1, sizeof(*c->cred));
	if (c->cred == NULL)
		return -1;
	if (wrap_key_derive(c, false) != 0)
		return -1;
	counter_init(c);
	return 0;
}

void cred_ctx_destroy(struct ctap *c)
{
	if (c->cred == NULL)
		return;
	ga_state_drop(c);
	cm_state_drop(c);
	attest_forget(c);
	crypto_wipe(c->cred, sizeof(*c->cred));
	free(c->cred);
	c->cred = NULL;
}

int cred_rewrap(struct ctap *c)
{
	return wrap_key_derive(c, true);
}

int cred_reload_wrap(struct ctap *c)
{
	return wrap_key_derive(c, false);
}

enum crypto_curve cred_curve(int alg)
{
	return alg == COSE_EDDSA ? CRYPTO_ED25519 : CRYPTO_P256;
}

static void id_aad(const uint8_t rp_id_hash[32], uint8_t aad[33])
{
	aad[0] = ID_VERSION;
	memcpy(aad + 1, rp_id_hash, 32);
}

static size_t plain_encode(const struct cred_key *k, uint8_t *p)
{
	p[0] = k->alg == COSE_EDDSA ? ID_ALG_EDDSA : ID_ALG_ES256;
	p[1] = k->protect;
	p[2] = k->flags;
	memcpy(p + 3, k->priv, CRED_PRIV_LEN);
	p[3 + CRED_PRIV_LEN] = (uint8_t)k->blob_len;
	memcpy(p + ID_FIXED, k->blob, k->blob_len);
	return ID_FIXED + k->blob_len;
}

static bool plain_decode(const uint8_t *p, size_t len, struct cred_key *k)
{
	size_t blob_len;

	if (len < ID_FIXED)
		return false;
	blob_len = p[3 + CRED_PRIV_LEN];
	if (blob_len > CRED_BLOB_MAX || len != ID_FIXED + blob_len)
		return false;
	if (p[0] != ID_ALG_ES256 && p[0] != ID_ALG_EDDSA)
		return false;
	if (p[1] < CRED_PROTECT_UV_OPTIONAL || p[1] > CRED_PROTECT_UV_REQUIRED ||
	    (p[2] & ~(CRED_F_RK | CRED_F_HMAC_SECRET)) != 0)
		return false;
	k->alg = p[0] == ID_ALG_EDDSA ? COSE_EDDSA : COSE_ES256;
	k->protect = p[1];
	k->flags = p[2];
	memcpy(k->priv, p + 3, CRED_PRIV_LEN);
	k->blob_len = blob_len;
	memcpy(k->blob, p + ID_FIXED, blob_len);
	return true;
}

uint8_t cred_id_seal(struct ctap *c, const uint8_t rp_id_hash[32],
		     const struct cred_key *k, uint8_t *id, size_t *id_len)
{
	uint8_t plain[ID_PLAIN_MAX], aad[33];
	size_t n;
	uint8_t r = CTAP2_ERR_PROCESSING;

	if (k->blob_len > CRED_BLOB_MAX)
		goto out;
	n = plain_encode(k, plain);
	id_aad(rp_id_hash, aad);
	id[0] = ID_VERSION;
	if (crypto_random(id + 1, ID_NONCE) != 0 ||
	    crypto_aes256_gcm_seal(c->cred->wrap_key, id + 1, aad, sizeof(aad),
				   plain, n, id + 1 + ID_NONCE,
				   id + 1 + ID_NONCE + n) != 0)
		goto out;
	*id_len = 1 + ID_NONCE + n + ID_TAG;
	r = CTAP2_OK;
out:
	crypto_wipe(plain, sizeof(plain));
	return r;
}

bool cred_id_open(struct ctap *c, const uint8_t rp_id_hash[32],
		  const uint8_t *id, size_t id_len, struct cred_key *k)
{
	uint8_t plain[ID_PLAIN_MAX], aad[33];
	size_t n;
	bool ok = false;

	memset(k, 0, sizeof(*k));
	if (id_len < ID_MIN || id_len > 1 + ID_NONCE + ID_PLAIN_MAX + ID_TAG ||
	    id[0] != ID_VERSION)
		goto out;
	n = id_len - 1 - ID_NONCE - ID_TAG;
	id_aad(rp_id_hash, aad);
	if (crypto_aes256_gcm_open(c->cred->wrap_key, id + 1, aad, sizeof(aad),
				   id + 1 + ID_NONCE, n, id + id_len - ID_TAG,
				   plain) != 0)
		goto out;
	ok = plain_decode(plain, n, k);
out:
	crypto_wipe(plain, sizeof(plain));
	if (!ok)
		crypto_wipe(k, sizeof(*k));
	return ok;
}

cbor_item_t *cred_cose_pub(const struct cred_key *k)
{
	uint8_t pub[CRYPTO_EC_PUB_MAX];
	size_t pub_len = sizeof(pub);

	if (crypto_ec_public(cred_curve(k->alg), k->priv, CRED_PRIV_LEN, pub,
			     &pub_len) != 0)
		return NULL;
	return ctap_cose_key(cred_curve(k->alg), k->alg, pub, pub_len);
}

/* Derived from the credential's own secret, so a non-discoverable
 * credential has its CredRandom values without any storage. */
int cred_random(const struct cred_key *k, bool uv, uint8_t out[32])
{
	const char *info = uv ? uv_info : no_uv_info;

	return crypto_hkdf_sha256(NULL, 0, k->priv, CRED_PRIV_LEN,
				  (const uint8_t *)info, strlen(info), out, 32);
}

/* ---- U2F: registrations are non-discoverable ES256 credentials ---- */

uint8_t ctap_cred_new_u2f(struct ctap *c, const uint8_t rp_id_hash[32],
			  uint8_t *cred_id, size_t *cred_id_len,
			  uint8_t pub[65])
{
	struct cred_key k;
	size_t priv_len = sizeof(k.priv), pub_len = 65;
	uint8_t r = CTAP2_ERR_PROCESSING;

	memset(&k, 0, sizeof(k));
	/* alwaysUv turns U2F off: it has no user verification. */
	if (c->config.always_uv) {
		r = CTAP2_ERR_OPERATION_DENIED;
		goto out;
	}
	k.alg = COSE_ES256;
	k.protect = CRED_PROTECT_UV_OPTIONAL;
	if (crypto_ec_generate(CRYPTO_P256, k.priv, &priv_len, pub,
			       &pub_len) != 0 ||
	    priv_len != CRED_PRIV_LEN || pub_len != 65)
		goto out;
	r = cred_id_seal(c, rp_id_hash, &k, cred_id, cred_id_len);
out:
	crypto_wipe(&k, sizeof(k));
	return r;
}

/* U2F has no user verification: credentials that demand it (credProtect
 * level 3, or alwaysUv) are not for U2F; a discoverable one counts only
 * while it is stored. */
static bool u2f_open(struct ctap *c, const uint8_t rp_id_hash[32],
		     const uint8_t *id, size_t id_len, struct cred_key *k)
{
	struct cred_rk *rk = NULL;
	bool ok = false;

	if (c->config.always_uv || !cred_id_open(c, rp_id_hash, id, id_len, k))
		goto out;
	if (k->alg != COSE_ES256 || k->protect == CRED_PROTECT_UV_REQUIRED)
		goto out;
	if (k->flags & CRED_F_RK) {
		rk = malloc(sizeof(*rk));
		if (rk == NULL ||
		    cred_rk_get(c, rp_id_hash, id, id_len, rk) != CTAP2_OK)
			goto out;
	}
	ok = true;
out:
	if (rk != NULL)
		crypto_wipe(rk, sizeof(*rk)); /* holds the largeBlobKey */
	free(rk);
	if (!ok)
		crypto_wipe(k, sizeof(*k));
	return ok;
}

bool ctap_cred_u2f_usable(struct ctap *c, const uint8_t rp_id_hash[32],
			  const uint8_t *cred_id, size_t cred_id_len)
{
	struct cred_key k;
	bool ok = u2f_open(c, rp_id_hash, cred_id, cred_id_len, &k);

	crypto_wipe(&k, sizeof(k));
	return ok;
}

uint8_t ctap_cred_sign_u2f(struct ctap *c, const uint8_t rp_id_hash[32],
			   const uint8_t *cred_id, size_t cred_id_len,
			   const uint8_t *msg, size_t msg_len, uint8_t *sig,
			   size_t *sig_len)
{
	struct cred_key k;
	uint8_t r = CTAP2_ERR_INVALID_CREDENTIAL;

	if (!u2f_open(c, rp_id_hash, cred_id, cred_id_len, &k))
		goto out;
	r = crypto_sign(CRYPTO_P256, k.priv, CRED_PRIV_LEN, msg, msg_len, sig,
			sig_len) == 0
		    ? CTAP2_OK
		    : CTAP2_ERR_PROCESSING;
out:
	crypto_wipe(&k, sizeof(k));
	return r;
}
