/* Internals shared by the OpenPGP card applet's files: protocol
 * constants, the applet state, the persisted records and one prototype
 * per command handler. docs/OPENPGP.md gives the card's choices. */
#ifndef VKEY_PGP_PRIV_H
#define VKEY_PGP_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apdu/apdu.h"
#include "core/buf.h"
#include "services/crypto_pk.h"
#include "services/store.h"

struct vkey;

#define PGP_NS "openpgp"

/* Instructions (OpenPGP card 3.4, section 7.2). */
#define PGP_INS_SELECT_DATA   0xA5
#define PGP_INS_GET_DATA      0xCA
#define PGP_INS_GET_NEXT_DATA 0xCC
#define PGP_INS_VERIFY        0x20
#define PGP_INS_CHANGE_REF    0x24
#define PGP_INS_RESET_RETRY   0x2C
#define PGP_INS_PUT_DATA      0xDA
#define PGP_INS_PUT_DATA_ODD  0xDB
#define PGP_INS_GENERATE      0x47
#define PGP_INS_PSO           0x2A
#define PGP_INS_INTERNAL_AUTH 0x88
#define PGP_INS_GET_CHALLENGE 0x84
#define PGP_INS_TERMINATE     0xE6
#define PGP_INS_ACTIVATE      0x44
#define PGP_INS_ATTEST        0xFB /* CLA 80, as on YubiKeys */

/* Data objects. */
#define PGP_DO_PRIVATE_1   0x0101
#define PGP_DO_PRIVATE_4   0x0104
#define PGP_DO_AID         0x004F
#define PGP_DO_NAME        0x005B
#define PGP_DO_LOGIN       0x005E
#define PGP_DO_CARDHOLDER  0x0065
#define PGP_DO_APP_DATA    0x006E
#define PGP_DO_DISCRETIONARY 0x0073
#define PGP_DO_SECURITY    0x007A
#define PGP_DO_LANG        0x5F2D
#define PGP_DO_SEX         0x5F35
#define PGP_DO_URL         0x5F50
#define PGP_DO_HIST        0x5F52
#define PGP_DO_CERT        0x7F21
#define PGP_DO_EXT_LEN     0x7F66
#define PGP_DO_FEATURES    0x7F74
#define PGP_DO_EXT_CAPS    0x00C0
#define PGP_DO_ATTR_SIG    0x00C1
#define PGP_DO_ATTR_DEC    0x00C2
#define PGP_DO_ATTR_AUT    0x00C3
#define PGP_DO_PW_STATUS   0x00C4
#define PGP_DO_FPRS        0x00C5
#define PGP_DO_CA_FPRS     0x00C6
#define PGP_DO_FPR_SIG     0x00C7 /* ..C9 */
#define PGP_DO_CA_FPR_1    0x00CA /* ..CC */
#define PGP_DO_DATES       0x00CD
#define PGP_DO_DATE_SIG    0x00CE /* ..D0 */
#define PGP_DO_RC          0x00D3
#define PGP_DO_AES_KEY     0x00D5
#define PGP_DO_UIF_SIG     0x00D6 /* ..D8 */
#define PGP_DO_KEY_INFO    0x00DE
#define PGP_DO_KDF         0x00F9
#define PGP_DO_ALGO_INFO   0x00FA
#define PGP_DO_SIG_COUNTER 0x0093
#define PGP_DO_PUBKEY      0x7F49
#define PGP_DO_ATT_CERT    0x00FC /* the attestation CA certificate */

/* Limits announced in the extended capabilities. */
#define PGP_CHALLENGE_MAX 2048
#define PGP_CERT_MAX 2048
#define PGP_SPECIAL_MAX 255
#define PGP_EXT_LEN_MAX 2048

/* PINs: PW1 (references 81 and 82), PW3 (83) and the resetting code. */
enum pgp_pw {
	PGP_PW1 = 0,
	PGP_RC,
	PGP_PW3,
	PGP_PW_COUNT,
};
#define PGP_PW_TRIES 3
#define PGP_PW_MAX 127

/* The three key slots. */
enum pgp_slot {
	PGP_SIG = 0,
	PGP_DEC,
	PGP_AUT,
	PGP_SLOTS,
};

/* Algorithm identifiers of the attribute DOs C1-C3. */
#define PGP_ALG_RSA   0x01
#define PGP_ALG_ECDH  0x12
#define PGP_ALG_ECDSA 0x13
#define PGP_ALG_EDDSA 0x16

/* RSA private-key import formats (last byte of the RSA attributes). */
#define PGP_RSA_STD     0
#define PGP_RSA_STD_N   1
#define PGP_RSA_CRT     2
#define PGP_RSA_CRT_N   3

#define PGP_ATTR_MAX 16

/* A slot's algorithm attributes, parsed. */
struct pgp_algo {
	uint8_t id;             /* PGP_ALG_* */
	unsigned rsa_bits;      /* RSA modulus size */
	unsigned rsa_e_bits;
	uint8_t rsa_format;
	enum crypto_pk_curve curve;
	bool with_pub;          /* EC import carries the public key (FF) */
};

/* Key status in DO DE. */
#define PGP_KEY_ABSENT    0x00
#define PGP_KEY_GENERATED 0x01
#define PGP_KEY_IMPORTED  0x02

/* A slot's private key as persisted (wipe after use). */
struct pgp_key {
	uint8_t status;
	struct pgp_algo algo;
	struct crypto_rsa_key rsa;
	uint8_t ec_priv[CRYPTO_PK_EC_PRIV_MAX];
	size_t ec_priv_len;
	uint8_t ec_pub[CRYPTO_PK_EC_PUB_MAX];
	size_t ec_pub_len;
};

/* UIF values (first byte of D6-D8). */
#define PGP_UIF_OFF       0x00
#define PGP_UIF_ON        0x01
#define PGP_UIF_PERMANENT 0x02

/* The applet's in-memory state: only volatile access rights and caches;
 * everything else lives in the store. */
struct pgp {
	struct vkey *key;
	struct store *st;
	bool terminated;
	bool pw1_sig;   /* VERIFY 81 */
	bool pw1_other; /* VERIFY 82 */
	bool pw3;       /* VERIFY 83 */
	uint8_t cert_index; /* SELECT DATA occurrence of 7F21 (0..2) */
	/* Signature counter: value and the reserved high-water mark. */
	uint32_t sig_count;
	uint32_t sig_mark;
	bool sig_loaded;
	/* RSA keys made ready for OpenSSL on first use (checked against the
	 * record's modulus each time, dropped when a key goes away). */
	struct crypto_rsa_prepared *rsa[PGP_SLOTS];
};

typedef unsigned (*pgp_handler_fn)(struct pgp *p, const struct apdu *cmd,
				   struct wbuf *resp);

/* pgp_store.c: records. Tags name simple DOs; other records have names. */
int pgp_get_do(struct pgp *p, uint16_t tag, uint8_t *buf, size_t cap,
	       size_t *len);
int pgp_put_do(struct pgp *p, uint16_t tag, const uint8_t *v, size_t len);
int pgp_del_do(struct pgp *p, uint16_t tag);
int pgp_get_rec(struct pgp *p, const char *name, uint8_t *buf, size_t cap,
		size_t *len);
int pgp_put_rec(struct pgp *p, const char *name, const uint8_t *v,
		size_t len);
int pgp_del_rec(struct pgp *p, const char *name);
/* Delete every record but the attestation CA (in the caller's
 * transaction). */
int pgp_clear(struct pgp *p);
/* Write the factory state (in the caller's transaction, if any). */
int pgp_factory_init(struct pgp *p);
/* STORE_OK once the factory state was written, STORE_NOT_FOUND before,
 * else a store error. */
int pgp_read_initialized(struct pgp *p);
void pgp_aid(struct pgp *p, uint8_t aid[16]);
extern const uint8_t pgp_hist_bytes[8];
/* Signature counter. */
int pgp_counter_get(struct pgp *p, uint32_t *value);
int pgp_counter_bump(struct pgp *p);
int pgp_counter_reset(struct pgp *p);
/* Flush the exact counter (on close); a no-op when nothing changed. */
void pgp_counter_flush(struct pgp *p);

/* pgp_algo.c: attributes and keys. */
int pgp_algo_parse(enum pgp_slot slot, const uint8_t *attr, size_t len,
		   struct pgp_algo *out);
int pgp_algo_get(struct pgp *p, enum pgp_slot slot, struct pgp_algo *out);
/* The default attributes (RSA-2048). */
extern const uint8_t pgp_default_attr[6];
/* Write DO FA (algorithm information) into w. */
void pgp_algo_info(struct wbuf *w);
int pgp_key_load(struct pgp *p, enum pgp_slot slot, struct pgp_key *k);
int pgp_key_save(struct pgp *p, enum pgp_slot slot, const struct pgp_key *k);
uint8_t pgp_key_status(struct pgp *p, enum pgp_slot slot);
void pgp_key_wipe(struct pgp_key *k);
/* 7F49 public-key template of k. */
void pgp_key_public(const struct pgp_key *k, struct wbuf *w);
/* Replace a slot's key in one transaction (new attributes if attr is
 * not NULL, key k or none); returns a status word. */
unsigned pgp_key_replace(struct pgp *p, enum pgp_slot slot,
			 const uint8_t *attr, size_t attr_len,
			 const struct pgp_key *k);
/* Drop the prepared RSA key of a slot, or of every slot (slot < 0). */
void pgp_key_forget(struct pgp *p, int slot);
/* Delete a slot's key, fingerprint and date (attribute change, reset). */
int pgp_key_delete(struct pgp *p, enum pgp_slot slot);

/* pgp_pin.c */
unsigned pgp_verify(struct pgp *p, const struct apdu *cmd, struct wbuf *r);
unsigned pgp_change_ref(struct pgp *p, const struct apdu *cmd,
			struct wbuf *r);
unsigned pgp_reset_retry(struct pgp *p, const struct apdu *cmd,
			 struct wbuf *r);
/* Set a PIN record (tries restored); len 0 deletes it (RC only). */
int pgp_pin_set(struct pgp *p, enum pgp_pw pw, const uint8_t *pin,
		size_t len);
/* Remaining tries (0 when blocked or not set). */
uint8_t pgp_pin_tries(struct pgp *p, enum pgp_pw pw);
/* True only when the PIN's record was read and has no tries left (a
 * missing or unreadable record is not "blocked"). */
bool pgp_pin_blocked(struct pgp *p, enum pgp_pw pw);
/* 1 when pin matches without touching counters (status reports). */
int pgp_pin_is(struct pgp *p, enum pgp_pw pw, const char *pin);
/* Apply a new KDF-DO's PIN reset (PW3 verified, data validated). */
int pgp_kdf_apply(struct pgp *p, const uint8_t *kdf, size_t len);
bool pgp_kdf_active(struct pgp *p);
void pgp_forget_access(struct pgp *p);

/* pgp_data.c */
unsigned pgp_get_data(struct pgp *p, const struct apdu *cmd,
		      struct wbuf *r);
unsigned pgp_get_next_data(struct pgp *p, const struct apdu *cmd,
			   struct wbuf *r);
unsigned pgp_select_data(struct pgp *p, const struct apdu *cmd,
			 struct wbuf *r);
unsigned pgp_put_data(struct pgp *p, const struct apdu *cmd,
		      struct wbuf *r);
/* Write (len 0: delete) the cardholder certificate occurrence 0..2. */
int pgp_cert_put(struct pgp *p, uint8_t occurrence, const uint8_t *der,
		 size_t len);

/* pgp_key.c */
unsigned pgp_generate(struct pgp *p, const struct apdu *cmd,
		      struct wbuf *r);
unsigned pgp_import(struct pgp *p, const struct apdu *cmd, struct wbuf *r);

/* pgp_ops.c */
unsigned pgp_pso(struct pgp *p, const struct apdu *cmd, struct wbuf *r);
unsigned pgp_internal_auth(struct pgp *p, const struct apdu *cmd,
			   struct wbuf *r);
unsigned pgp_get_challenge(struct pgp *p, const struct apdu *cmd,
			   struct wbuf *r);

/* pgp_attest.c */
unsigned pgp_attest(struct pgp *p, const struct apdu *cmd, struct wbuf *r);
/* Append the attestation CA certificate (DER), made on first use. */
int pgp_attest_ca(struct pgp *p, struct wbuf *w);
int pgp_report_attestation(void *state, struct wbuf *out);

/* pgp_report.c */
void pgp_describe(const struct apdu *cmd, char *out, size_t cap);
int pgp_report_status(void *state, struct wbuf *out);
int pgp_report_list(void *state, struct wbuf *out);

#endif
