/* Internals shared by the CTAP core's files: the per-key state, CTAP
 * status codes, the command handlers and the interfaces between the
 * credential side (ctap.c, make_cred.c, get_assert.c, cred*.c, ...) and
 * the PIN side (client_pin.c, config.c, large_blobs.c). */
#ifndef VKEY_CTAP_PRIV_H
#define VKEY_CTAP_PRIV_H

#include <cbor.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "applets/fido/ctap.h"
#include "core/buf.h"
#include "services/crypto.h"
#include "services/store.h"
#include "services/up.h"

/* CTAP 2.1 §8.2 status codes. */
enum ctap_status {
	CTAP2_OK = 0x00,
	CTAP1_ERR_INVALID_COMMAND = 0x01,
	CTAP1_ERR_INVALID_PARAMETER = 0x02,
	CTAP1_ERR_INVALID_LENGTH = 0x03,
	CTAP1_ERR_INVALID_SEQ = 0x04,
	CTAP1_ERR_TIMEOUT = 0x05,
	CTAP1_ERR_CHANNEL_BUSY = 0x06,
	CTAP1_ERR_LOCK_REQUIRED = 0x0A,
	CTAP1_ERR_INVALID_CHANNEL = 0x0B,
	CTAP2_ERR_CBOR_UNEXPECTED_TYPE = 0x11,
	CTAP2_ERR_INVALID_CBOR = 0x12,
	CTAP2_ERR_MISSING_PARAMETER = 0x14,
	CTAP2_ERR_LIMIT_EXCEEDED = 0x15,
	CTAP2_ERR_FP_DATABASE_FULL = 0x17,
	CTAP2_ERR_LARGE_BLOB_STORAGE_FULL = 0x18,
	CTAP2_ERR_CREDENTIAL_EXCLUDED = 0x19,
	CTAP2_ERR_PROCESSING = 0x21,
	CTAP2_ERR_INVALID_CREDENTIAL = 0x22,
	CTAP2_ERR_USER_ACTION_PENDING = 0x23,
	CTAP2_ERR_OPERATION_PENDING = 0x24,
	CTAP2_ERR_NO_OPERATIONS = 0x25,
	CTAP2_ERR_UNSUPPORTED_ALGORITHM = 0x26,
	CTAP2_ERR_OPERATION_DENIED = 0x27,
	CTAP2_ERR_KEY_STORE_FULL = 0x28,
	CTAP2_ERR_UNSUPPORTED_OPTION = 0x2B,
	CTAP2_ERR_INVALID_OPTION = 0x2C,
	CTAP2_ERR_KEEPALIVE_CANCEL = 0x2D,
	CTAP2_ERR_NO_CREDENTIALS = 0x2E,
	CTAP2_ERR_USER_ACTION_TIMEOUT = 0x2F,
	CTAP2_ERR_NOT_ALLOWED = 0x30,
	CTAP2_ERR_PIN_INVALID = 0x31,
	CTAP2_ERR_PIN_BLOCKED = 0x32,
	CTAP2_ERR_PIN_AUTH_INVALID = 0x33,
	CTAP2_ERR_PIN_AUTH_BLOCKED = 0x34,
	CTAP2_ERR_PIN_NOT_SET = 0x35,
	CTAP2_ERR_PUAT_REQUIRED = 0x36,
	CTAP2_ERR_PIN_POLICY_VIOLATION = 0x37,
	CTAP2_ERR_REQUEST_TOO_LARGE = 0x39,
	CTAP2_ERR_ACTION_TIMEOUT = 0x3A,
	CTAP2_ERR_UP_REQUIRED = 0x3B,
	CTAP2_ERR_UV_BLOCKED = 0x3C,
	CTAP2_ERR_INTEGRITY_FAILURE = 0x3D,
	CTAP2_ERR_INVALID_SUBCOMMAND = 0x3E,
	CTAP2_ERR_UV_INVALID = 0x3F,
	CTAP2_ERR_UNAUTHORIZED_PERMISSION = 0x40,
	CTAP1_ERR_OTHER = 0x7F,
};

/* CTAP 2.1 §6 command bytes. */
enum ctap_command {
	CTAP_CMD_MAKE_CREDENTIAL = 0x01,
	CTAP_CMD_GET_ASSERTION = 0x02,
	CTAP_CMD_GET_INFO = 0x04,
	CTAP_CMD_CLIENT_PIN = 0x06,
	CTAP_CMD_RESET = 0x07,
	CTAP_CMD_GET_NEXT_ASSERTION = 0x08,
	CTAP_CMD_CRED_MGMT = 0x0A,
	CTAP_CMD_SELECTION = 0x0B,
	CTAP_CMD_LARGE_BLOBS = 0x0C,
	CTAP_CMD_CONFIG = 0x0D,
	CTAP_CMD_CRED_MGMT_PRE = 0x41, /* credentialManagement preview */
};

/* pinUvAuthToken permissions (CTAP 2.1 §6.5.5.7). */
enum ctap_permission {
	CTAP_PERM_MC = 0x01,   /* makeCredential */
	CTAP_PERM_GA = 0x02,   /* getAssertion */
	CTAP_PERM_CM = 0x04,   /* credentialManagement */
	CTAP_PERM_BE = 0x08,   /* bioEnrollment (not supported) */
	CTAP_PERM_LBW = 0x10,  /* largeBlobWrite */
	CTAP_PERM_ACFG = 0x20, /* authenticatorConfig */
};

#define CTAP_RP_ID_MAX 256
#define CTAP_MIN_PIN_RPIDS_MAX 8
#define CTAP_RESET_WINDOW_MS 10000 /* reset allowed this long after power-up */

/* authenticatorConfig settings (owned by config.c, persisted by it, read
 * everywhere). */
struct ctap_config {
	bool always_uv;
	bool force_change_pin;
	uint8_t min_pin_len;  /* in Unicode code points; default 4 */
	size_t n_min_pin_rpids;
	char min_pin_rpids[CTAP_MIN_PIN_RPIDS_MAX][CTAP_RP_ID_MAX];
};

struct ctap_pin;      /* client_pin.c */
struct ctap_cred_ctx; /* the credential side's own state */

struct ctap {
	/* Serializes ctap_cbor, ctap_u2f and ctap_power_up: a key's CTAP
	 * state is reached from PC/SC and from CTAPHID. */
	pthread_mutex_t lock;
	struct vkey *key;
	struct store *store;
	struct up *up;
	struct timespec power_up; /* CLOCK_MONOTONIC of the last power-up */
	struct ctap_config config;
	struct ctap_pin *pin;
	struct ctap_cred_ctx *cred;
};

/* ---- CBOR (ctap_cbor.c): libcbor plus CTAP's canonical-form rules ---- */

/* Decode one complete CBOR item in CTAP2 canonical form (CTAP 2.1 §8):
 * definite lengths, shortest encodings, map keys unique and in canonical
 * order, no trailing bytes, bounded nesting. Returns CTAP2_OK or
 * CTAP2_ERR_INVALID_CBOR (CTAP2_ERR_CBOR_UNEXPECTED_TYPE when the top
 * item is not a map, when must_be_map). */
uint8_t ctap_cbor_decode(const uint8_t *buf, size_t len, bool must_be_map,
			 cbor_item_t **out);
/* Serialize item (built in canonical key order) into out. */
uint8_t ctap_cbor_encode(const cbor_item_t *item, struct wbuf *out);
/* Map lookups; NULL when absent. */
cbor_item_t *ctap_map_uint(const cbor_item_t *map, uint64_t key);
/* Hand each member with an unsigned-integer key (CTAP's parameter maps)
 * to member, in order, skipping other keys; stops at and returns the
 * first status other than CTAP2_OK. CTAP2_ERR_CBOR_UNEXPECTED_TYPE when
 * map is not a map. */
uint8_t ctap_map_each_uint(const cbor_item_t *map,
			   uint8_t (*member)(void *arg, uint64_t key,
					     const cbor_item_t *value),
			   void *arg);
cbor_item_t *ctap_map_text(const cbor_item_t *map, const char *key);
/* Typed reads: CTAP2_OK or CTAP2_ERR_CBOR_UNEXPECTED_TYPE. */
uint8_t ctap_uint(const cbor_item_t *it, uint64_t *v);
uint8_t ctap_int(const cbor_item_t *it, int64_t *v);
uint8_t ctap_bytes(const cbor_item_t *it, const uint8_t **p, size_t *len);
uint8_t ctap_text(const cbor_item_t *it, const char **p, size_t *len);
uint8_t ctap_bool(const cbor_item_t *it, bool *v);
/* Map building helpers (take ownership of value; 0 or -1). */
int ctap_map_put_uint(cbor_item_t *map, uint64_t key, cbor_item_t *value);
int ctap_map_put_text(cbor_item_t *map, const char *key, cbor_item_t *value);
/* COSE_Key (RFC 8152) for a public key: EC2 P-256 with alg (ES256 -7,
 * or ECDH-ES+HKDF-256 -25 for key agreement), or OKP Ed25519 (EdDSA -8). */
#define COSE_ES256 (-7)
#define COSE_EDDSA (-8)
#define COSE_ECDH_ES_HKDF_256 (-25)
cbor_item_t *ctap_cose_key(enum crypto_curve curve, int alg,
			   const uint8_t *pub, size_t pub_len);
/* Parse a P-256 key-agreement COSE_Key into 04||X||Y (65 bytes). */
uint8_t ctap_cose_p256(const cbor_item_t *cose, uint8_t pub[65]);

/* ---- PIN side (client_pin.c): protocols 1 and 2, tokens ---- */

int ctap_pin_create(struct ctap *c);    /* load PIN state and config */
void ctap_pin_destroy(struct ctap *c);
void ctap_pin_power_up(struct ctap *c); /* new key-agreement keys, token */
/* Factory reset of everything the PIN side owns: PIN, retries, tokens,
 * config (alwaysUv, minPinLength...), the large-blob array. */
int ctap_pin_reset(struct ctap *c);
/* The same in two steps, for a reset that must be one transaction with
 * the credential side's: the store part (inside the caller's
 * transaction; 0 or -1), then, once committed, the in-memory part. */
int ctap_pin_reset_store(struct ctap *c);
void ctap_pin_reset_memory(struct ctap *c);
bool ctap_pin_is_set(struct ctap *c);
uint8_t ctap_pin_retries(struct ctap *c);

/* Check pinUvAuthParam == authenticate(token, msg) for the current
 * pinUvAuthToken under protocol (1 or 2). CTAP2_OK, or
 * CTAP2_ERR_PIN_AUTH_INVALID; CTAP2_ERR_INVALID_PARAMETER for a protocol
 * other than 1 and 2. */
uint8_t ctap_pin_verify_param(struct ctap *c, uint64_t protocol,
			      const uint8_t *msg, size_t msg_len,
			      const uint8_t *param, size_t param_len);
/* The token must carry perm; when rpid is not NULL it must be bound to
 * it (an unbound token becomes bound to it). CTAP2_OK or
 * CTAP2_ERR_PIN_AUTH_INVALID. */
uint8_t ctap_pin_check_permission(struct ctap *c, uint8_t perm,
				  const char *rpid);
/* Check the token's permissions RP ID without binding it (credential
 * management, CTAP 2.1 §6.8): rp_id_hash NULL requires an unbound token;
 * otherwise a bound token must be bound to that RP. CTAP2_OK or
 * CTAP2_ERR_PIN_AUTH_INVALID. */
uint8_t ctap_pin_check_rp_hash(struct ctap *c, const uint8_t *rp_id_hash);
/* The token's "user present" flag (set when the token was issued; a
 * makeCredential/getAssertion that used it clears it). */
bool ctap_pin_token_up(struct ctap *c);
void ctap_pin_token_clear_up(struct ctap *c);
/* makeCredential/getAssertion clear the permissions other than lbw
 * after use (CTAP 2.1 §6.1.2 step 16). */
void ctap_pin_token_used(struct ctap *c);

/* For hmac-secret: the shared secret of a platform key-agreement key
 * under protocol (32 bytes for 1, 64 for 2), and the protocol's
 * decrypt / encrypt / verify. */
uint8_t ctap_pin_shared_secret(struct ctap *c, uint64_t protocol,
			       const cbor_item_t *platform_key,
			       uint8_t *secret, size_t *secret_len);
uint8_t ctap_pin_decrypt(uint64_t protocol, const uint8_t *secret,
			 const uint8_t *in, size_t in_len, uint8_t *out,
			 size_t *out_len);
uint8_t ctap_pin_encrypt(uint64_t protocol, const uint8_t *secret,
			 const uint8_t *in, size_t in_len, uint8_t *out,
			 size_t *out_len);
uint8_t ctap_pin_verify(uint64_t protocol, const uint8_t *secret,
			const uint8_t *msg, size_t msg_len,
			const uint8_t *sig, size_t sig_len);

/* ---- Credential side, for U2F (cred.c, counter.c, attest.c) ----
 * U2F registrations and CTAP2 non-discoverable ES256 credentials share
 * one credential-ID format, so each works through the other protocol. */

#define CTAP_CRED_ID_MAX 128

/* A new non-discoverable ES256 credential bound to rp_id_hash (the U2F
 * application parameter). CTAP2_OK or an error status. */
uint8_t ctap_cred_new_u2f(struct ctap *c, const uint8_t rp_id_hash[32],
			  uint8_t *cred_id, size_t *cred_id_len,
			  uint8_t pub[65]);
/* True when cred_id is this key's credential for rp_id_hash and U2F may
 * use it (ES256; credProtect allows use without user verification). */
bool ctap_cred_u2f_usable(struct ctap *c, const uint8_t rp_id_hash[32],
			  const uint8_t *cred_id, size_t cred_id_len);
/* Sign msg (ECDSA P-256, SHA-256, DER) with that credential. */
uint8_t ctap_cred_sign_u2f(struct ctap *c, const uint8_t rp_id_hash[32],
			   const uint8_t *cred_id, size_t cred_id_len,
			   const uint8_t *msg, size_t msg_len, uint8_t *sig,
			   size_t *sig_len);
/* The next signature counter value: strictly increasing, also across a
 * crash, without an fsync per call (reserved blocks, DESIGN.md). */
uint32_t ctap_counter_next(struct ctap *c);
/* The attestation key (ECDSA P-256) and its certificate chain: the leaf
 * (for packed "x5c" and U2F registration) and the per-key CA. */
int ctap_attest_sign(struct ctap *c, const uint8_t *msg, size_t msg_len,
		     uint8_t *sig, size_t *sig_len);
const uint8_t *ctap_attest_cert(struct ctap *c, size_t *len);
/* vkey's AAGUID (16 bytes). */
extern const uint8_t ctap_aaguid[16];

/* ---- Command handlers: params is the request's CBOR map (NULL when the
 * request had none); out receives the CBOR response body. Each returns a
 * CTAP status. ---- */

uint8_t ctap_cmd_make_credential(struct ctap *c, const cbor_item_t *params,
				 struct wbuf *out, const struct ctap_wait *w);
uint8_t ctap_cmd_get_assertion(struct ctap *c, const cbor_item_t *params,
			       struct wbuf *out, const struct ctap_wait *w);
uint8_t ctap_cmd_get_next_assertion(struct ctap *c, struct wbuf *out);
uint8_t ctap_cmd_get_info(struct ctap *c, struct wbuf *out);
uint8_t ctap_cmd_client_pin(struct ctap *c, const cbor_item_t *params,
			    struct wbuf *out);
uint8_t ctap_cmd_reset(struct ctap *c, const struct ctap_wait *w);
uint8_t ctap_cmd_cred_mgmt(struct ctap *c, const cbor_item_t *params,
			   struct wbuf *out);
uint8_t ctap_cmd_selection(struct ctap *c, const struct ctap_wait *w);
uint8_t ctap_cmd_large_blobs(struct ctap *c, const cbor_item_t *params,
			     struct wbuf *out);
uint8_t ctap_cmd_config(struct ctap *c, const cbor_item_t *params,
			struct wbuf *out);

/* Whether U2F (CTAP1) is served: not with alwaysUv on, nor while the
 * management application has it switched off. */
bool ctap_u2f_on(const struct ctap *c);

/* User presence through the key's policy, with keepalive ticks:
 * CTAP2_OK, CTAP2_ERR_OPERATION_DENIED, CTAP2_ERR_USER_ACTION_TIMEOUT or
 * CTAP2_ERR_KEEPALIVE_CANCEL. (ctap.c) */
uint8_t ctap_user_presence(struct ctap *c, const char *what,
			   const struct ctap_wait *w);


/* ---- PIN side additions (client_pin.c, config.c, large_blobs.c) ---- */

/* getInfo's maxSerializedLargeBlobArray (large_blobs.c). */
size_t ctap_large_blob_max(void);

#endif
