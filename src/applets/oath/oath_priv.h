/* Internals shared by the OATH applet's files: protocol constants, the
 * applet state, the persisted records and one prototype per handler. */
#ifndef VKEY_OATH_PRIV_H
#define VKEY_OATH_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apdu/apdu.h"
#include "core/buf.h"

struct vkey;

/* YKOATH tags (developers.yubico.com/OATH/YKOATH_Protocol.html). */
#define OATH_TAG_NAME       0x71
#define OATH_TAG_NAME_LIST  0x72
#define OATH_TAG_KEY        0x73
#define OATH_TAG_CHALLENGE  0x74
#define OATH_TAG_RESPONSE   0x75
#define OATH_TAG_TRUNCATED  0x76
#define OATH_TAG_HOTP       0x77
#define OATH_TAG_PROPERTY   0x78 /* followed by one byte, no length */
#define OATH_TAG_VERSION    0x79
#define OATH_TAG_IMF        0x7A
#define OATH_TAG_ALGORITHM  0x7B
#define OATH_TAG_TOUCH      0x7C

#define OATH_INS_PUT            0x01
#define OATH_INS_DELETE         0x02
#define OATH_INS_SET_CODE       0x03
#define OATH_INS_RESET          0x04
#define OATH_INS_RENAME         0x05
#define OATH_INS_LIST           0xA1
#define OATH_INS_CALCULATE      0xA2
#define OATH_INS_VALIDATE       0xA3
#define OATH_INS_CALCULATE_ALL  0xA4
#define OATH_INS_SEND_REMAINING 0xA5

/* The key-type byte: OATH type in the high nibble, hash in the low. */
#define OATH_TYPE_MASK 0xF0
#define OATH_ALG_MASK  0x0F
#define OATH_TYPE_HOTP 0x10
#define OATH_TYPE_TOTP 0x20
#define OATH_ALG_SHA1   0x01
#define OATH_ALG_SHA256 0x02
#define OATH_ALG_SHA512 0x03

#define OATH_PROP_INCREASING 0x01 /* TOTP challenge may never go back */
#define OATH_PROP_TOUCH      0x02
#define OATH_PROP_ALL (OATH_PROP_INCREASING | OATH_PROP_TOUCH)

/* ykman gates features on the version in SELECT: RENAME needs >= 5.3.1,
 * SHA-512 >= 4.3.1, touch >= 4.2.6, and 4.2.0-4.2.6 would switch on a
 * USB workaround that sends dummy APDUs. 5.7.1, the version PIV and the
 * management application report too (one firmware version per key), is a
 * current YubiKey 5 firmware, so every client takes its newest code
 * paths. */
#define OATH_VERSION_MAJOR 5
#define OATH_VERSION_MINOR 7
#define OATH_VERSION_PATCH 1

#define OATH_SALT_LEN 8
#define OATH_CHALLENGE_LEN 8
#define OATH_NAME_MAX 64
/* Every Yubico client pads keys to 14 bytes (yubikit's
 * HMAC_MINIMUM_KEY_SIZE) and hashes keys longer than the hash's block,
 * so a valid key is 14 bytes up to one block. */
#define OATH_KEY_MIN 14
#define OATH_KEY_MAX 128
#define OATH_DIGITS_MIN 6
#define OATH_DIGITS_MAX 8
#define OATH_HOST_CHALLENGE_MAX 64
#define OATH_DIGEST_MAX 64
/* 256 accounts keep the largest CALCULATE ALL (256 * 73 bytes) and LIST
 * far below APPLET_RESP_MAX. */
#define OATH_MAX_ACCOUNTS 256

#define OATH_NS "oath"
#define OATH_NS_META "oath.meta"

/* One account as persisted (the store key is the account name). */
struct oath_record {
	uint8_t type;   /* OATH_TYPE_* */
	uint8_t alg;    /* OATH_ALG_* */
	uint8_t digits;
	uint8_t props;  /* OATH_PROP_* */
	uint64_t counter;                    /* HOTP moving factor */
	uint8_t last_challenge[OATH_CHALLENGE_LEN]; /* OATH_PROP_INCREASING */
	size_t key_len;
	uint8_t key[OATH_KEY_MAX];
};

/* The access code: an HMAC key the host derives from a password. */
struct oath_code {
	uint8_t type_alg; /* as sent in SET CODE (ykman: TOTP|SHA1) */
	size_t key_len;
	uint8_t key[OATH_KEY_MAX];
};

/* In-memory state of one key's applet. */
struct oath {
	struct vkey *key;
	uint8_t salt[OATH_SALT_LEN];
	bool code_set;      /* mirrors whether OATH_NS_META "code" exists */
	bool authenticated; /* VALIDATE succeeded in this selection */
	bool challenge_valid;
	uint8_t challenge[OATH_CHALLENGE_LEN]; /* sent in SELECT */
};

/* oath_record.c: the persisted forms and the store's error codes. */
unsigned oath_store_sw(int err);
int oath_record_load(struct oath *o, const uint8_t *name, size_t name_len,
		     struct oath_record *rec);
int oath_record_save(struct oath *o, const uint8_t *name, size_t name_len,
		     const struct oath_record *rec);
int oath_record_decode(const uint8_t *p, size_t len, struct oath_record *rec);
int oath_code_load(struct oath *o, struct oath_code *code);
int oath_code_save(struct oath *o, const struct oath_code *code);
int oath_salt_load(struct oath *o, bool create);
int oath_salt_renew(struct oath *o);

/* oath_parse.c: the YKOATH element reader and field checks. */
int oath_next(struct rbuf *r, uint8_t *tag, struct rbuf *val);
/* Read every element of cmd's data, handing each to field (which returns
 * -1 to reject it). Returns 0, or -1 for malformed data or a rejection. */
int oath_parse_fields(const struct apdu *cmd,
		      int (*field)(void *req, uint8_t tag, struct rbuf *val),
		      void *req);
bool oath_name_ok(const struct rbuf *name);
int oath_md(uint8_t alg);
size_t oath_block_len(uint8_t alg);

/* Handlers: one per INS. Each returns a status word. */
typedef unsigned (*oath_handler_fn)(struct oath *o, const struct apdu *cmd,
				    struct wbuf *resp);
unsigned oath_put(struct oath *o, const struct apdu *cmd, struct wbuf *resp);
unsigned oath_delete(struct oath *o, const struct apdu *cmd,
		     struct wbuf *resp);
unsigned oath_rename(struct oath *o, const struct apdu *cmd,
		     struct wbuf *resp);
unsigned oath_list(struct oath *o, const struct apdu *cmd, struct wbuf *resp);
unsigned oath_calculate(struct oath *o, const struct apdu *cmd,
			struct wbuf *resp);
unsigned oath_calculate_all(struct oath *o, const struct apdu *cmd,
			    struct wbuf *resp);
unsigned oath_set_code(struct oath *o, const struct apdu *cmd,
		       struct wbuf *resp);
unsigned oath_validate(struct oath *o, const struct apdu *cmd,
		       struct wbuf *resp);
unsigned oath_reset(struct oath *o, const struct apdu *cmd, struct wbuf *resp);

/* oath_auth.c: wipe accounts and code, new salt (RESET, vkey reset). */
int oath_wipe_all(struct oath *o);

/* oath_report.c */
/* Printable copy of an account name for logs (controls become '?'). */
void oath_print_name(char *out, size_t cap, const uint8_t *name,
		     size_t len);
void oath_describe(const struct apdu *cmd, char *out, size_t cap);
int oath_report_status(void *state, struct wbuf *out);
int oath_report_list(void *state, struct wbuf *out);

#endif
