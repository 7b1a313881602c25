/* The access code: SET CODE, VALIDATE (mutual HMAC challenge-response,
 * YKOATH) and RESET, which forgets accounts, code and salt. */
#include "applets/oath/oath_priv.h"

#include <string.h>

#include "apdu/sw.h"
#include "core/key.h"
#include "services/crypto.h"

enum {
	F_KEY = 1 << 0,
	F_CHALLENGE = 1 << 1,
	F_RESPONSE = 1 << 2,
};

struct auth_req {
	unsigned seen;
	uint8_t type_alg;
	struct rbuf key; /* empty in SET CODE: remove the code */
	struct rbuf challenge;
	struct rbuf response;
};

static int auth_field(void *req, uint8_t tag, struct rbuf *val)
{
	struct auth_req *q = req;
	unsigned bit;

	switch (tag) {
	case OATH_TAG_KEY:
		bit = F_KEY;
		if (val->len > 0 && rbuf_u8(val, &q->type_alg) != 0)
			return -1;
		q->key = rbuf_init(rbuf_cur(val), rbuf_left(val));
		break;
	case OATH_TAG_CHALLENGE:
		bit = F_CHALLENGE;
		q->challenge = *val;
		break;
	case OATH_TAG_RESPONSE:
		bit = F_RESPONSE;
		q->response = *val;
		break;
	default:
		return -1;
	}
	if (q->seen & bit)
		return -1;
	q->seen |= bit;
	return 0;
}

static int auth_parse(const struct apdu *cmd, struct auth_req *q)
{
	memset(q, 0, sizeof(*q));
	return oath_parse_fields(cmd, auth_field, q);
}

/* HMAC of msg under key with the code's algorithm; *len gets its size. */
static int code_hmac(uint8_t type_alg, const uint8_t *key, size_t key_len,
		     const struct rbuf *msg, uint8_t *out, size_t *len)
{
	int md = oath_md(type_alg & OATH_ALG_MASK);

	if (md < 0)
		return -1;
	*len = crypto_md_len((enum crypto_md)md);
	return crypto_hmac((enum crypto_md)md, key, key_len, msg->p, msg->len,
			   out);
}

static bool set_code_valid(const struct auth_req *q)
{
	uint8_t type = q->type_alg & OATH_TYPE_MASK;
	uint8_t alg = q->type_alg & OATH_ALG_MASK;

	if (!(q->seen & F_KEY))
		return false;
	if (q->key.len == 0 && q->seen == F_KEY)
		return true; /* remove the code */
	return q->seen == (F_KEY | F_CHALLENGE | F_RESPONSE) &&
	       (type == OATH_TYPE_HOTP || type == OATH_TYPE_TOTP) &&
	       oath_md(alg) > 0 && q->key.len >= 1 &&
	       q->key.len <= oath_block_len(alg) && q->challenge.len >= 1 &&
	       q->challenge.len <= OATH_HOST_CHALLENGE_MAX;
}

static unsigned clear_code(struct oath *o)
{
	int err = oath_code_save(o, NULL);

	if (err == STORE_OK) {
		o->code_set = false;
		o->authenticated = false;
		o->challenge_valid = false;
	}
	return oath_store_sw(err);
}

/* The host proves it computes the same HMAC before we keep the key. */
static unsigned check_proof(const struct auth_req *q)
{
	uint8_t mac[OATH_DIGEST_MAX];
	size_t mac_len = 0;
	unsigned sw = SW_OK;

	if (code_hmac(q->type_alg, q->key.p, q->key.len, &q->challenge, mac,
		      &mac_len) != 0)
		sw = SW_UNKNOWN;
	else if (q->response.len != mac_len)
		sw = SW_WRONG_DATA;
	else if (crypto_memcmp(mac, q->response.p, mac_len) != 0)
		sw = SW_REF_DATA_UNUSABLE; /* YKOATH: response doesn't match */
	crypto_wipe(mac, sizeof(mac));
	return sw;
}

unsigned oath_set_code(struct oath *o, const struct apdu *cmd,
		       struct wbuf *resp)
{
	struct auth_req q;
	struct oath_code code;
	unsigned sw;

	(void)resp;
	memset(&code, 0, sizeof(code));
	if (cmd->p1 != 0 || cmd->p2 != 0) {
		sw = SW_WRONG_P1P2;
		goto out;
	}
	if (auth_parse(cmd, &q) != 0 || !set_code_valid(&q)) {
		sw = SW_WRONG_DATA;
		goto out;
	}
	if (q.key.len == 0) {
		sw = clear_code(o);
		goto out;
	}
	sw = check_proof(&q);
	if (sw != SW_OK)
		goto out;
	code.type_alg = q.type_alg;
	code.key_len = q.key.len;
	memcpy(code.key, q.key.p, q.key.len);
	sw = oath_store_sw(oath_code_save(o, &code));
	if (sw == SW_OK) {
		o->code_set = true;
		o->authenticated = true; /* the host has just shown the key */
	}
out:
	crypto_wipe(&code, sizeof(code));
	return sw;
}

static bool validate_valid(const struct auth_req *q)
{
	return q->seen == (F_RESPONSE | F_CHALLENGE) &&
	       q->challenge.len >= 1 &&
	       q->challenge.len <= OATH_HOST_CHALLENGE_MAX;
}

/* Check the host's answer to our SELECT challenge, then answer its own. */
static unsigned validate_code(struct oath *o, const struct auth_req *q,
			      const struct oath_code *code, struct wbuf *resp)
{
	struct rbuf ours = rbuf_init(o->challenge, OATH_CHALLENGE_LEN);
	uint8_t mac[OATH_DIGEST_MAX];
	size_t mac_len = 0;
	unsigned sw = SW_UNKNOWN;

	if (code_hmac(code->type_alg, code->key, code->key_len, &ours, mac,
		      &mac_len) != 0)
		goto out;
	if (q->response.len != mac_len ||
	    crypto_memcmp(mac, q->response.p, mac_len) != 0) {
		sw = SW_WRONG_DATA; /* what a YubiKey answers */
		goto out;
	}
	o->authenticated = true;
	if (code_hmac(code->type_alg, code->key, code->key_len,
		      &q->challenge, mac, &mac_len) != 0 ||
	    wbuf_tlv(resp, OATH_TAG_RESPONSE, mac, mac_len) != 0)
		goto out;
	sw = SW_OK;
out:
	crypto_wipe(mac, sizeof(mac));
	return sw;
}

unsigned oath_validate(struct oath *o, const struct apdu *cmd,
		       struct wbuf *resp)
{
	struct auth_req q;
	struct oath_code code;
	unsigned sw;

	memset(&code, 0, sizeof(code));
	o->authenticated = false;
	if (cmd->p1 != 0 || cmd->p2 != 0) {
		sw = SW_WRONG_P1P2;
		goto out;
	}
	if (auth_parse(cmd, &q) != 0 || !validate_valid(&q)) {
		sw = SW_WRONG_DATA;
		goto out;
	}
	if (!o->code_set) {
		sw = SW_REF_DATA_UNUSABLE; /* YKOATH: auth not enabled */
		goto out;
	}
	if (!o->challenge_valid) {
		sw = SW_CONDITIONS_NOT_SATISFIED; /* code set after SELECT */
		goto out;
	}
	sw = oath_store_sw(oath_code_load(o, &code));
	if (sw == SW_OK)
		sw = validate_code(o, &q, &code, resp);
out:
	crypto_wipe(&code, sizeof(code));
	return sw;
}

int oath_wipe_all(struct oath *o)
{
	struct store *st = vkey_store(o->key);
	int err;

	err = store_begin(st);
	if (err != STORE_OK)
		return err;
	err = store_clear(st, OATH_NS);
	if (err == STORE_OK)
		err = oath_code_save(o, NULL);
	if (err == STORE_OK)
		err = oath_salt_renew(o);
	if (err == STORE_OK)
		err = store_commit(st);
	if (err != STORE_OK) {
		store_rollback(st);
		oath_salt_load(o, false); /* the old salt is still the salt */
		return err;
	}
	o->code_set = false;
	o->authenticated = false;
	o->challenge_valid = false;
	return STORE_OK;
}

unsigned oath_reset(struct oath *o, const struct apdu *cmd, struct wbuf *resp)
{
	(void)resp;
	if (cmd->p1 != 0xDE || cmd->p2 != 0xAD)
		return SW_WRONG_P1P2;
	return oath_store_sw(oath_wipe_all(o));
}
