/* Internals shared by the PIV applet's files: protocol constants, the
 * applet state, the persisted records and one prototype per command
 * handler. docs/PIV.md gives the card's choices. */
#ifndef VKEY_PIV_PRIV_H
#define VKEY_PIV_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apdu/apdu.h"
#include "core/buf.h"
#include "services/crypto_pk.h"
#include "services/store.h"

struct vkey;

#define PIV_NS "piv"

/* Instructions: SP 800-73-4 part 2, then Yubico's extensions. */
#define PIV_INS_VERIFY         0x20
#define PIV_INS_CHANGE_REF     0x24
#define PIV_INS_RESET_RETRY    0x2C
#define PIV_INS_GENERATE       0x47
#define PIV_INS_GENERAL_AUTH   0x87
#define PIV_INS_GET_DATA       0xCB
#define PIV_INS_PUT_DATA       0xDB
#define PIV_INS_MOVE_KEY       0xF6
#define PIV_INS_GET_METADATA   0xF7
#define PIV_INS_GET_SERIAL     0xF8
#define PIV_INS_ATTEST         0xF9
#define PIV_INS_SET_PIN_RETRIES 0xFA
#define PIV_INS_RESET          0xFB
#define PIV_INS_GET_VERSION    0xFD
#define PIV_INS_IMPORT_KEY     0xFE
#define PIV_INS_SET_MGMT_KEY   0xFF

/* The version GET VERSION reports (docs/PIV.md). */
#define PIV_VERSION_MAJOR 5
#define PIV_VERSION_MINOR 7
#define PIV_VERSION_PATCH 1

/* Key references. */
#define PIV_REF_PIN   0x80
#define PIV_REF_PUK   0x81
#define PIV_REF_MGMT  0x9B
#define PIV_SLOT_AUTH 0x9A
#define PIV_SLOT_SIGN 0x9C
#define PIV_SLOT_KM   0x9D
#define PIV_SLOT_CAUTH 0x9E
#define PIV_SLOT_RETIRED_FIRST 0x82
#define PIV_SLOT_RETIRED_LAST  0x95
#define PIV_SLOT_ATTEST 0xF9
/* Key slots: 9A, 9C, 9D, 9E, 82..95, F9. */
#define PIV_SLOTS 25

/* Algorithm identifiers (YubiKey 5.7). */
#define PIV_ALG_3DES    0x03
#define PIV_ALG_AES128  0x08
#define PIV_ALG_AES192  0x0A
#define PIV_ALG_AES256  0x0C
#define PIV_ALG_RSA1024 0x06
#define PIV_ALG_RSA2048 0x07
#define PIV_ALG_RSA3072 0x05
#define PIV_ALG_RSA4096 0x16
#define PIV_ALG_P256    0x11
#define PIV_ALG_P384    0x14
#define PIV_ALG_ED25519 0xE0
#define PIV_ALG_X25519  0xE1

/* Policies as GENERATE/IMPORT/metadata carry them (0: the default). */
#define PIV_PIN_DEFAULT 0x00
#define PIV_PIN_NEVER   0x01
#define PIV_PIN_ONCE    0x02
#define PIV_PIN_ALWAYS  0x03
#define PIV_TOUCH_DEFAULT 0x00
#define PIV_TOUCH_NEVER   0x01
#define PIV_TOUCH_ALWAYS  0x02
#define PIV_TOUCH_CACHED  0x03
#define PIV_TOUCH_CACHE_MS 15000

/* Key origin in metadata. */
#define PIV_ORIGIN_GENERATED 0x01
#define PIV_ORIGIN_IMPORTED  0x02

/* TLV tags. */
#define PIV_TAG_OBJ_ID   0x5C
#define PIV_TAG_OBJ_DATA 0x53
#define PIV_TAG_DYN_AUTH 0x7C
#define PIV_TAG_WITNESS  0x80
#define PIV_TAG_CHALLENGE 0x81
#define PIV_TAG_RESPONSE 0x82
#define PIV_TAG_EXPONENT 0x85
#define PIV_TAG_GEN_TEMPLATE 0xAC
#define PIV_TAG_GEN_ALG  0x80
#define PIV_TAG_PIN_POLICY 0xAA
#define PIV_TAG_TOUCH_POLICY 0xAB
#define PIV_TAG_PUBKEY   0x7F49

/* Data objects. */
#define PIV_OBJ_DISCOVERY   0x7E
#define PIV_OBJ_BIO_GROUP   0x7F61
#define PIV_OBJ_CARD_AUTH   0x5FC101
#define PIV_OBJ_CHUID       0x5FC102
#define PIV_OBJ_FINGERPRINTS 0x5FC103
#define PIV_OBJ_AUTH        0x5FC105
#define PIV_OBJ_SECURITY    0x5FC106
#define PIV_OBJ_CCC         0x5FC107
#define PIV_OBJ_FACIAL      0x5FC108
#define PIV_OBJ_PRINTED     0x5FC109
#define PIV_OBJ_SIGN        0x5FC10A
#define PIV_OBJ_KM          0x5FC10B
#define PIV_OBJ_KEY_HISTORY 0x5FC10C
#define PIV_OBJ_RETIRED_FIRST 0x5FC10D
#define PIV_OBJ_RETIRED_LAST  0x5FC120
#define PIV_OBJ_IRIS        0x5FC121
#define PIV_OBJ_BIT_GROUP   0x5FC122
#define PIV_OBJ_SM_SIGNER   0x5FC123
#define PIV_OBJ_PAIRING     0x5FC124
#define PIV_OBJ_YK_ADMIN    0x5FFF00
#define PIV_OBJ_ATTEST      0x5FFF01
#define PIV_OBJ_MAX 3052

/* PIN and PUK. */
enum piv_pw {
	PIV_PIN = 0,
	PIV_PUK,
	PIV_PW_COUNT,
};
#define PIV_PW_LEN 8        /* value field, FF-padded */
#define PIV_PW_MIN 6
#define PIV_PW_TRIES 3

/* The applet's in-memory state: volatile access rights, the management
 * key exchange in progress and caches; everything else lives in the
 * store. */
struct piv {
	struct vkey *key;
	struct store *st;
	bool pin_ok;       /* VERIFY PIN succeeded in this session */
	bool pin_always;   /* ... and no PIN-always key used since */
	bool mgmt_ok;      /* management key authenticated */
	/* GENERAL AUTHENTICATE 9B between its two steps. */
	uint8_t mgmt_step; /* 0 none, 1 witness sent, 2 challenge sent */
	uint8_t mgmt_alg;
	uint8_t mgmt_expect[16]; /* the plain witness or challenge */
	size_t mgmt_expect_len;
	/* Time of the last touch, for the cached touch policy (0: none). */
	uint64_t touch_ms;
	/* RSA keys made ready for OpenSSL on first use, per slot index
	 * (checked against the record's modulus each time). */
	struct crypto_rsa_prepared *rsa[PIV_SLOTS];
};

typedef unsigned (*piv_handler_fn)(struct piv *p, const struct apdu *cmd,
				   struct wbuf *resp);

/* ---- piv.c -------------------------------------------------------- */

/* Index 0..PIV_SLOTS-1 of a key slot reference, or -1. */
int piv_slot_index(uint8_t slot);
/* The reference of a slot index. */
uint8_t piv_slot_ref(int index);
/* Certificate object of a key slot reference (0 when none). */
uint32_t piv_slot_object(uint8_t slot);
/* Monotonic milliseconds. */
uint64_t piv_now_ms(void);
/* Ask for a touch through the key's user-presence service: true when
 * approved. what names the operation for the prompt. */
bool piv_touch(struct piv *p, const char *what);
/* Forget PIN verification, management key authentication and any
 * exchange in progress (deselect, power off, reset). */
void piv_forget_access(struct piv *p);
/* End a management-key exchange in progress (any other command). */
void piv_mgmt_abandon(struct piv *p);

/* GENERAL AUTHENTICATE's dynamic authentication template
 * 7C { 80 witness, 81 challenge, 82 response, 85 exponentiation }: each
 * tag at most once, nothing else, nothing after the template. */
#define PIV_DA_WITNESS   0x1u
#define PIV_DA_CHALLENGE 0x2u
#define PIV_DA_RESPONSE  0x4u
#define PIV_DA_EXPONENT  0x8u
struct piv_dyn_auth {
	unsigned seen; /* PIV_DA_* */
	struct rbuf witness, challenge, response, exponent;
};
int piv_dyn_auth_parse(const uint8_t *data, size_t len,
		       struct piv_dyn_auth *q);
/* Answer 7C { tag v }. */
void piv_dyn_auth_put(struct wbuf *r, uint8_t tag, const uint8_t *v,
		      size_t len);

/* ---- piv_store.c: records --------------------------------------- */

/* Named records (PIN, PUK, management key, keys) and data objects
 * (keyed by their 3-byte id; 1- and 2-byte ids are zero-extended). */
int piv_get_rec(struct piv *p, const char *name, uint8_t *buf, size_t cap,
		size_t *len);
int piv_put_rec(struct piv *p, const char *name, const uint8_t *v,
		size_t len);
int piv_del_rec(struct piv *p, const char *name);
/* *val is malloc'd by the store: free with store_free_value. */
int piv_obj_get(struct piv *p, uint32_t id, uint8_t **val, size_t *len);
int piv_obj_put(struct piv *p, uint32_t id, const uint8_t *v, size_t len);
int piv_obj_del(struct piv *p, uint32_t id);
/* STORE_OK once the factory state was written, STORE_NOT_FOUND before,
 * else a store error. */
int piv_read_initialized(struct piv *p);
/* Factory state in its own transaction, access forgotten. */
int piv_factory_reset(struct piv *p);

/* ---- piv_pin.c: PIN and PUK ------------------------------------- */

unsigned piv_verify(struct piv *p, const struct apdu *cmd, struct wbuf *r);
unsigned piv_change_ref(struct piv *p, const struct apdu *cmd,
			struct wbuf *r);
unsigned piv_reset_retry(struct piv *p, const struct apdu *cmd,
			 struct wbuf *r);
unsigned piv_set_pin_retries(struct piv *p, const struct apdu *cmd,
			     struct wbuf *r);
/* RESET (FB): factory state when PIN and PUK are both blocked. */
unsigned piv_reset(struct piv *p, const struct apdu *cmd, struct wbuf *r);
/* Write the default PIN and PUK with the given try counts (factory
 * state, SET PIN RETRIES), in the caller's transaction. */
int piv_pins_default(struct piv *p, uint8_t pin_tries, uint8_t puk_tries);
/* Tries: total and left (0/0 when the record cannot be read). */
void piv_pin_tries(struct piv *p, enum piv_pw pw, uint8_t *total,
		   uint8_t *left);
/* 1 while the factory value is set, 0 when changed, -1 unreadable. */
int piv_pin_is_default(struct piv *p, enum piv_pw pw);
/* GET METADATA 80/81 body. */
unsigned piv_pin_metadata(struct piv *p, enum piv_pw pw, struct wbuf *r);

/* ---- piv_mgmt.c: management key --------------------------------- */

/* GENERAL AUTHENTICATE with P2 = 9B. */
unsigned piv_mgmt_auth(struct piv *p, const struct apdu *cmd,
		       struct wbuf *r);
unsigned piv_set_mgmt_key(struct piv *p, const struct apdu *cmd,
			  struct wbuf *r);
/* Write the default management key (caller's transaction). */
int piv_mgmt_default(struct piv *p);
/* 1 while the factory key is set, 0 when changed, -1 unreadable. */
int piv_mgmt_is_default(struct piv *p);
/* GET METADATA 9B body. */
unsigned piv_mgmt_metadata(struct piv *p, struct wbuf *r);

/* ---- piv_key.c: key records, GENERATE, IMPORT, MOVE ------------- */

/* A slot's key as persisted in the record "key.xx" (xx: the slot
 * reference in lower-case hex; piv_store.c keeps "key.f9" across a
 * RESET). Wipe with piv_key_wipe. */
struct piv_key {
	uint8_t alg;          /* PIV_ALG_* */
	uint8_t pin_policy;   /* effective: never, once or always */
	uint8_t touch_policy; /* effective: never, always or cached */
	uint8_t origin;       /* PIV_ORIGIN_* */
	struct crypto_rsa_key rsa;
	uint8_t ec_priv[CRYPTO_PK_EC_PRIV_MAX];
	size_t ec_priv_len;
	uint8_t ec_pub[CRYPTO_PK_EC_PUB_MAX];
	size_t ec_pub_len;
};

/* STORE_OK, STORE_NOT_FOUND for an empty slot, or a store error
 * (STORE_CORRUPT for a record that does not parse). */
int piv_key_load(struct piv *p, uint8_t slot, struct piv_key *k);
int piv_key_save(struct piv *p, uint8_t slot, const struct piv_key *k);
int piv_key_delete(struct piv *p, uint8_t slot);
void piv_key_wipe(struct piv_key *k);
/* True for an RSA algorithm; the curve of an EC one (0 for RSA). */
bool piv_alg_is_rsa(uint8_t alg);
enum crypto_pk_curve piv_alg_curve(uint8_t alg);
/* The public key as TLVs 81/82 (RSA) or 86 (EC), without 7F49. */
void piv_key_public(const struct piv_key *k, struct wbuf *w);
/* DER SubjectPublicKeyInfo of k's public key (malloc'd). */
int piv_key_spki(const struct piv_key *k, uint8_t **der, size_t *len);
/* Drop the prepared RSA key of a slot, or of every slot (slot 0). */
void piv_key_forget(struct piv *p, uint8_t slot);
/* The prepared RSA key of a loaded key (made on first use), or NULL. */
struct crypto_rsa_prepared *piv_key_prepared(struct piv *p, uint8_t slot,
					     const struct piv_key *k);
unsigned piv_generate(struct piv *p, const struct apdu *cmd,
		      struct wbuf *r);
unsigned piv_import_key(struct piv *p, const struct apdu *cmd,
			struct wbuf *r);
unsigned piv_move_key(struct piv *p, const struct apdu *cmd,
		      struct wbuf *r);
/* GET METADATA body of a key slot (6A 88 when empty). */
unsigned piv_key_metadata(struct piv *p, uint8_t slot, struct wbuf *r);

/* ---- piv_ops.c: GENERAL AUTHENTICATE ---------------------------- */

/* Routes P2 = 9B to piv_mgmt_auth; signs, deciphers and agrees keys
 * with the other slots under their PIN and touch policies. */
unsigned piv_general_auth(struct piv *p, const struct apdu *cmd,
			  struct wbuf *r);

/* ---- piv_attest.c ------------------------------------------------- */

unsigned piv_attest(struct piv *p, const struct apdu *cmd, struct wbuf *r);
/* Make the F9 key and its self-signed certificate if absent (caller's
 * transaction). */
int piv_attest_init(struct piv *p);
int piv_report_attestation(void *state, struct wbuf *out);

/* ---- piv_data.c --------------------------------------------------- */

unsigned piv_get_data(struct piv *p, const struct apdu *cmd, struct wbuf *r);
unsigned piv_put_data(struct piv *p, const struct apdu *cmd, struct wbuf *r);

/* ---- piv_report.c ------------------------------------------------- */

void piv_describe(const struct apdu *cmd, char *out, size_t cap);
int piv_report_status(void *state, struct wbuf *out);
int piv_report_list(void *state, struct wbuf *out);

#endif
