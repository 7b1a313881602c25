/* Internals shared by the PIN side's files only (client_pin.c, config.c,
 * large_blobs.c): the PIN state behind struct ctap_pin and their helpers. */
#ifndef VKEY_FIDO_PIN_PRIV_H
#define VKEY_FIDO_PIN_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "applets/fido/ctap_priv.h"

#define PIN_PROTOCOLS 2          /* pinUvAuthProtocol 1 and 2 */
#define PIN_TOKEN_LEN 32         /* pinUvAuthToken (CTAP 2.1 §6.5.2) */
#define PIN_HASH_LEN 16          /* LEFT(SHA-256(pin), 16) */
#define PIN_MAX_RETRIES 8        /* pinRetries after a correct PIN */
#define PIN_MAX_MISMATCHES 3     /* then blocked until power-up */
#define PIN_PADDED_LEN 64        /* paddedNewPin */
#define PIN_MAX_BYTES 63         /* longest PIN, in UTF-8 bytes */
#define PIN_DEFAULT_MIN_LEN 4    /* code points (CTAP 2.1 §6.5.1) */

/* Record namespaces in the state file. */
#define PIN_NS "fido.pin"
#define CONFIG_NS "fido.config"
#define BLOBS_NS "fido.blobs"

/* One PIN/UV auth protocol's key-agreement key pair and token
 * (CTAP 2.1 §6.5.4: each protocol has its own). */
struct pin_proto {
	uint8_t ka_priv[CRYPTO_EC_PRIV_MAX];
	uint8_t ka_pub[CRYPTO_EC_PUB_MAX];
	uint8_t token[PIN_TOKEN_LEN];
	bool ready;             /* key pair generated */
};

/* The pinUvAuthToken state (CTAP 2.1 §6.5.2.1), shared by the
 * protocols: only one token is in use at a time. */
struct pin_token_state {
	bool in_use;
	bool used;              /* verified at least once since issued */
	bool user_present;
	uint8_t perms;          /* enum ctap_permission bits */
	bool rpid_bound;
	uint8_t rpid_hash[32];  /* SHA-256 of the permissions RP ID */
	uint64_t issued_ms;     /* CLOCK_MONOTONIC */
};

/* A large-blob array being written in fragments (CTAP 2.1 §6.10.2). */
struct blob_write {
	uint8_t *buf;           /* NULL when no write is pending */
	size_t expected_len;
	size_t next_off;
};

struct ctap_pin {
	struct pin_proto proto[PIN_PROTOCOLS];
	struct pin_token_state tok;
	bool pin_set;
	uint8_t retries;        /* as persisted */
	uint8_t pin_code_points;
	uint8_t mismatches;     /* consecutive wrong PINs since power-up */
	struct blob_write blob;
};

/* pin_proto.c: a new key-agreement key pair for one protocol
 * (power-up, and after a wrong PIN: CTAP 2.1 §6.5.5.7.2). */
bool pin_proto_regen(struct pin_proto *pp);
/* resetPinUvAuthToken() for every protocol: new random tokens, and the
 * token state cleared (CTAP 2.1 §6.5.4). */
void pin_token_reset(struct ctap_pin *p);
/* beginUsingPinUvAuthToken(userIsPresent: false) with permissions and
 * an optional permissions RP ID (rpid NULL: none). */
void pin_token_begin(struct ctap_pin *p, uint8_t perms, const char *rpid,
		     size_t rpid_len);
/* Longest shared secret (protocol 2: HMAC key || AES key). */
#define PIN_SECRET_MAX 64

/* config.c: c->config from/to the state file. Load fills defaults when
 * nothing is stored. Save is one store_put, so a caller may wrap it in
 * its own transaction. Both return a store error code. */
int ctap_config_load(struct ctap *c);
int ctap_config_save(struct ctap *c);
void ctap_config_defaults(struct ctap_config *cfg);

/* client_pin.c: the current PIN's length in code points (0 if none). */
uint8_t ctap_pin_code_points(struct ctap *c);

/* large_blobs.c: forget a partly written array (power-up, reset). */
void ctap_blobs_abort(struct ctap *c);

/* Checks the pinUvAuthParam of a command that a PIN (or alwaysUv)
 * protects (authenticatorConfig, largeBlobs set): CTAP2_ERR_PUAT_REQUIRED
 * without a param, CTAP2_ERR_MISSING_PARAMETER without a protocol, then
 * verify_param and check_permission. client_pin.c. */
uint8_t ctap_pin_authorize(struct ctap *c, const cbor_item_t *protocol,
			   const cbor_item_t *param, const uint8_t *msg,
			   size_t msg_len, uint8_t perm);

#endif
