/* Internals of the credential side of the CTAP core (credentials,
 * extensions, attestation, counter, command state), shared by its files
 * only; the PIN side and the bindings see ctap_priv.h. */
#ifndef VKEY_CTAP_CRED_H
#define VKEY_CTAP_CRED_H

#include "applets/fido/ctap_priv.h"

/* Limits advertised in getInfo and enforced on input. */
#define CRED_BLOB_MAX 32       /* maxCredBlobLength */
#define CRED_LIST_MAX 64       /* maxCredentialCountInList */
#define CRED_RK_MAX 2000       /* discoverable credentials per key */
#define CRED_USER_ID_MAX 64    /* WebAuthn: user handle of at most 64 bytes */
#define CRED_NAME_MAX 64       /* names are truncated to this (CTAP 2.1 §6.1) */
#define CRED_LBK_LEN 32        /* largeBlobKey */
#define CRED_CDH_LEN 32        /* clientDataHash */
#define CRED_PRIV_LEN 32
#define CRED_STATE_MS 30000    /* getNextAssertion / enumeration timer */

/* Store namespaces owned by the credential side. */
#define NS_CRED "fido.cred"     /* discoverable: rpIdHash || credId → record */
#define NS_META "fido.meta"     /* wrap-key salt, counter high-water mark */
#define NS_ATTEST "fido.attest" /* attestation CA and leaf */
#define NS_CONFIG "fido.config" /* vkey config; we read "attestation" */

/* credProtect levels (CTAP 2.1 §12.1). */
enum cred_protect {
	CRED_PROTECT_UV_OPTIONAL = 1,
	CRED_PROTECT_UV_OPTIONAL_WITH_LIST = 2,
	CRED_PROTECT_UV_REQUIRED = 3,
};

/* Flags sealed into a credential ID. */
#define CRED_F_RK 0x01          /* discoverable: a record must exist */
#define CRED_F_HMAC_SECRET 0x02 /* made with hmac-secret */

/* What a credential ID carries, sealed under the wrapping key. */
struct cred_key {
	int alg;            /* COSE_ES256 or COSE_EDDSA */
	uint8_t protect;    /* enum cred_protect */
	uint8_t flags;      /* CRED_F_* */
	uint8_t priv[CRED_PRIV_LEN];
	size_t blob_len;    /* credBlob */
	uint8_t blob[CRED_BLOB_MAX];
};

/* A length-bounded string or byte field of a record; present says
 * whether the entity had the member at all. */
struct cred_field {
	bool present;
	size_t len;
	uint8_t v[CTAP_RP_ID_MAX];
};

/* A discoverable credential's record, besides its ID. */
struct cred_rk {
	uint32_t created;  /* signature counter at creation: orders credentials */
	struct cred_field rp_id, rp_name;
	struct cred_field user_id, user_name, display_name;
	bool has_lbk;
	uint8_t lbk[CRED_LBK_LEN];
};

/* One credential found for a request: its ID and what it unsealed to. */
struct cred_found {
	uint8_t id[CTAP_CRED_ID_MAX];
	size_t id_len;
	uint32_t created;
	bool rk;
};

/* getNextAssertion state (CTAP 2.1 §6.3). */
struct ga_state;
/* credentialManagement enumeration state (CTAP 2.1 §6.8). */
struct cm_state;

struct ctap_cred_ctx {
	uint8_t wrap_key[32];   /* credential-ID AEAD key; secret */
	uint32_t ctr_next;      /* next signature counter to hand out */
	uint32_t ctr_limit;     /* values below it are covered by the store */
	bool attest_loaded;
	uint8_t attest_priv[CRYPTO_EC_PRIV_MAX]; /* secret */
	size_t attest_priv_len;
	uint8_t *attest_leaf;   /* DER */
	size_t attest_leaf_len;
	uint8_t *attest_ca;     /* DER */
	size_t attest_ca_len;
	struct ga_state *ga;
	struct cm_state *cm;
};

/* ---- cred.c: credential IDs and the wrapping key ---- */
int cred_ctx_create(struct ctap *c);
void cred_ctx_destroy(struct ctap *c);
/* A fresh wrapping key: every credential ID made so far stops opening. */
int cred_rewrap(struct ctap *c);
/* The wrapping key from the stored salt again (after a failed reset). */
int cred_reload_wrap(struct ctap *c);
uint8_t cred_id_seal(struct ctap *c, const uint8_t rp_id_hash[32],
		     const struct cred_key *k, uint8_t *id, size_t *id_len);
/* True when id is this key's credential bound to rp_id_hash. */
bool cred_id_open(struct ctap *c, const uint8_t rp_id_hash[32],
		  const uint8_t *id, size_t id_len, struct cred_key *k);
enum crypto_curve cred_curve(int alg);
/* The credential's COSE public key. */
cbor_item_t *cred_cose_pub(const struct cred_key *k);
/* hmac-secret's CredRandomWithUV / CredRandomWithoutUV (CTAP 2.1 §12.5). */
int cred_random(const struct cred_key *k, bool uv, uint8_t out[32]);

/* ---- cred_store.c: discoverable credential records ---- */
/* An ID that opened with CRED_F_RK counts only while its record exists. */
uint8_t cred_rk_get(struct ctap *c, const uint8_t rp_id_hash[32],
		    const uint8_t *id, size_t id_len, struct cred_rk *rk);
/* Store rk for id; drops an older credential of the same rp and user. */
uint8_t cred_rk_put(struct ctap *c, const uint8_t rp_id_hash[32],
		    const uint8_t *id, size_t id_len, const struct cred_rk *rk);
uint8_t cred_rk_del(struct ctap *c, const uint8_t rp_id_hash[32],
		    const uint8_t *id, size_t id_len);
uint8_t cred_rk_count(struct ctap *c, size_t *n);
size_t cred_rk_remaining(struct ctap *c);
/* Calls cb for each discoverable credential of rp_id_hash (NULL: all). */
typedef int (*cred_rk_fn)(void *arg, const uint8_t rp_id_hash[32],
			  const uint8_t *id, size_t id_len,
			  const struct cred_rk *rk);
uint8_t cred_rk_each(struct ctap *c, const uint8_t *rp_id_hash,
		     cred_rk_fn cb, void *arg);
int cred_rk_encode(const struct cred_rk *rk, struct wbuf *w);
int cred_rk_decode(const uint8_t *p, size_t len, struct cred_rk *rk);
/* The user entity of a record: id always, names only when with_names. */
cbor_item_t *cred_rk_user(const struct cred_rk *rk, bool with_names);
int cred_field_set(struct cred_field *f, const void *p, size_t len,
		   size_t max);

/* ---- cred_parse.c: request members shared by several commands ---- */
/* A PublicKeyCredentialDescriptor; *skip when its type is not
 * "public-key" (such entries are ignored, CTAP 2.1 §6.1). */
uint8_t cred_parse_descriptor(const cbor_item_t *it, const uint8_t **id,
			      size_t *id_len, bool *skip);
/* An array of descriptors: types checked, count bounded. */
uint8_t cred_parse_list(const cbor_item_t *it);
/* A PublicKeyCredentialUserEntity (id required). */
uint8_t cred_parse_user(const cbor_item_t *it, struct cred_rk *rk);
/* The options map: each known key a bool; absent keys left alone. */
struct cred_options {
	bool rk, up, uv;
	bool has_rk, has_up, has_uv;
};
uint8_t cred_parse_options(const cbor_item_t *it, struct cred_options *o);
/* clientDataHash: a 32-byte byte string. */
uint8_t cred_parse_cdh(const cbor_item_t *v, uint8_t cdh[CRED_CDH_LEN]);
/* Text into a NUL-terminated buffer; no embedded NULs. */
uint8_t cred_parse_text(const cbor_item_t *it, char *buf, size_t cap);
/* A PublicKeyCredentialRpEntity: id (required) into rp_id, name kept. */
uint8_t cred_parse_rp(const cbor_item_t *it, char *rp_id, size_t cap,
		      struct cred_field *name);

/* ---- cred_auth.c: pinUvAuthParam handling for MC/GA (§6.1.2 steps
 * 1-2, 11; §6.2.2 steps 1-2, 6) ---- */
struct cred_auth {
	const uint8_t *param;   /* pinUvAuthParam, or NULL */
	size_t param_len;
	uint64_t protocol;
	bool has_protocol;
};
/* pinUvAuthParam (bytes) or pinUvAuthProtocol (uint) into a. */
uint8_t cred_parse_auth_member(bool is_protocol, const cbor_item_t *v,
			       struct cred_auth *a);
/* Steps 1-2: the zero-length probe and the protocol checks. */
uint8_t cred_auth_precheck(struct ctap *c, const struct cred_auth *a,
			   const char *rp_id, const struct ctap_wait *w);
/* Step 11 / 6: verify the param over clientDataHash, the permission and
 * the RP ID binding. */
uint8_t cred_auth_verify(struct ctap *c, const struct cred_auth *a,
			 const uint8_t cdh[CRED_CDH_LEN], uint8_t perm,
			 const char *rp_id);
/* Steps 14 / 9: collect user presence unless the token carries it; then
 * the token's flags and permissions are spent. */
uint8_t cred_auth_presence(struct ctap *c, bool have_token, const char *verb,
			   const char *rp_id, const struct ctap_wait *w);

/* ---- ext.c: extensions (CTAP 2.1 §12) ---- */
struct ext_mc {
	bool hmac_secret;
	uint8_t protect;        /* 0: not requested */
	bool has_blob;
	const uint8_t *blob;
	size_t blob_len;
	bool lbk;
	bool min_pin_len;
};
struct ext_ga {
	bool hmac;
	uint64_t hmac_protocol;
	uint8_t secret[64];     /* shared secret; wiped */
	size_t secret_len;
	uint8_t salts[64];      /* salt1 || salt2; wiped */
	size_t salts_len;
	bool blob;
	bool lbk;
};
uint8_t ext_mc_parse(const cbor_item_t *it, struct ext_mc *e);
/* Parses and, for hmac-secret, checks saltAuth and decrypts the salts. */
uint8_t ext_ga_parse(struct ctap *c, const cbor_item_t *it,
		     struct ext_ga *e);
void ext_ga_wipe(struct ext_ga *e);
/* authData extension outputs; *out NULL when there are none. */
uint8_t ext_mc_output(struct ctap *c, const struct ext_mc *e,
		      const char *rp_id, bool blob_stored, cbor_item_t **out);
uint8_t ext_ga_output(struct ctap *c, const struct ext_ga *e,
		      const struct cred_key *k, bool uv, cbor_item_t **out);

/* ---- auth_data.c ---- */
#define AD_UP 0x01
#define AD_UV 0x04
#define AD_AT 0x40
#define AD_ED 0x80
/* rpIdHash || flags || counter [|| attested credential data] [|| ext]. */
uint8_t auth_data_build(const uint8_t rp_id_hash[32], uint8_t flags,
			uint32_t counter, const uint8_t *cred_id,
			size_t cred_id_len, const cbor_item_t *cose_pub,
			const cbor_item_t *ext, struct wbuf *out);
/* The response's credential descriptor {"id", "type"}. */
cbor_item_t *cred_descriptor(const uint8_t *id, size_t id_len);
/* Sign authData || clientDataHash with the credential. */
uint8_t cred_sign(const struct cred_key *k, const uint8_t *ad,
		  size_t ad_len, const uint8_t cdh[CRED_CDH_LEN],
		  uint8_t *sig, size_t *sig_len);

/* ---- attest.c ---- */
/* The attestation statement for makeCredential: "packed" with x5c, or
 * self attestation when the key's config says so. */
uint8_t attest_statement(struct ctap *c, const struct cred_key *k,
			 const uint8_t *ad, size_t ad_len,
			 const uint8_t cdh[CRED_CDH_LEN], cbor_item_t **stmt);
void attest_forget(struct ctap *c);
/* The key's config selects self attestation. */
bool attest_self(struct ctap *c);
/* Persist the choice: self attestation (true) or packed under the CA. */
int attest_set_self(struct ctap *c, bool self);

/* ---- counter.c ---- */
/* The next signature counter; CTAP2_ERR_PROCESSING when the store
 * cannot record a new block. */
uint8_t counter_take(struct ctap *c, uint32_t *v);
void counter_init(struct ctap *c);

/* ---- get_assert.c / cred_mgmt.c: stateful commands ---- */
void ga_state_drop(struct ctap *c);
void cm_state_drop(struct ctap *c);

/* ---- ctap.c ---- */
/* Milliseconds since t (CLOCK_MONOTONIC). */
uint64_t ctap_ms_since(const struct timespec *t);
/* Map a store error onto a CTAP status. */
uint8_t ctap_store_status(int err);
/* Text from the platform (RP IDs, names) made safe for a prompt or a
 * report: control characters become '?'. */
void ctap_printable(const uint8_t *p, size_t n, char *buf, size_t cap);
/* User presence for an operation on rp_id ("verb rp_id" in the prompt). */
uint8_t ctap_presence_for(struct ctap *c, const char *verb, const char *rp_id,
			  const struct ctap_wait *w);
/* Build and encode a response map; consumes map. */
uint8_t ctap_encode_map(cbor_item_t *map, struct wbuf *out);

#endif
