/* authenticatorClientPIN (CTAP 2.1 §6.5.5) and the PIN's life: its hash
 * sealed in the state file, the retry counter (decremented and committed
 * before every compare), the per-power-up block after 3 mismatches. */
#include <stdlib.h>
#include <string.h>

#include "applets/fido/pin_priv.h"
#include "core/log.h"

/* Subcommands (CTAP 2.1 §6.5.5). */
enum {
	SUB_GET_PIN_RETRIES = 0x01,
	SUB_GET_KEY_AGREEMENT = 0x02,
	SUB_SET_PIN = 0x03,
	SUB_CHANGE_PIN = 0x04,
	SUB_GET_PIN_TOKEN = 0x05,
	SUB_GET_TOKEN_UV = 0x06,
	SUB_GET_UV_RETRIES = 0x07,
	SUB_GET_TOKEN_PIN = 0x09,
};

/* Request and response map keys. */
enum {
	REQ_PROTOCOL = 0x01,
	REQ_SUBCOMMAND = 0x02,
	REQ_KEY_AGREEMENT = 0x03,
	REQ_PIN_AUTH = 0x04,
	REQ_NEW_PIN_ENC = 0x05,
	REQ_PIN_HASH_ENC = 0x06,
	REQ_PERMISSIONS = 0x09,
	REQ_RP_ID = 0x0A,
	RESP_KEY_AGREEMENT = 0x01,
	RESP_TOKEN = 0x02,
	RESP_PIN_RETRIES = 0x03,
	RESP_POWER_CYCLE = 0x04,
};

/* Which request fields were present. */
enum {
	F_PROTOCOL = 1u << 0,
	F_SUBCOMMAND = 1u << 1,
	F_KEY_AGREEMENT = 1u << 2,
	F_PIN_AUTH = 1u << 3,
	F_NEW_PIN_ENC = 1u << 4,
	F_PIN_HASH_ENC = 1u << 5,
	F_PERMISSIONS = 1u << 6,
	F_RP_ID = 1u << 7,
};

#define PERMS_KNOWN                                                        \
	(CTAP_PERM_MC | CTAP_PERM_GA | CTAP_PERM_CM | CTAP_PERM_BE |        \
	 CTAP_PERM_LBW | CTAP_PERM_ACFG)

struct cp_req {
	unsigned seen;
	uint64_t protocol;
	uint64_t subcommand;
	uint64_t permissions;
	const cbor_item_t *key_agreement;
	const uint8_t *pin_auth, *new_pin_enc, *pin_hash_enc;
	size_t pin_auth_len, new_pin_enc_len, pin_hash_enc_len;
	const char *rp_id;
	size_t rp_id_len;
};

/* ---- the PIN in the state file ---- */

/* Record "pin": version || nonce || tag || AES-256-GCM(hash || code
 * points) under a key derived from the device secret, so the state file
 * alone does not give away LEFT(SHA-256(PIN), 16) for an offline search. */
#define PIN_REC_VERSION 1
#define PIN_REC_PLAIN (PIN_HASH_LEN + 1)
#define PIN_REC_LEN (1 + 12 + 16 + PIN_REC_PLAIN)

static const char pin_key[] = "pin";
static const char retries_key[] = "retries";
static const uint8_t pin_aad[] = "vkey fido.pin v1";

static int pin_wrap_key(struct ctap *c, uint8_t key[32])
{
	static const char salt[] = "vkey fido.pin";
	static const char info[] = "PIN hash wrapping key v1";

	return crypto_hkdf_sha256((const uint8_t *)salt, sizeof(salt) - 1,
				  store_device_secret(c->store),
				  STORE_DEVICE_SECRET_LEN,
				  (const uint8_t *)info, sizeof(info) - 1, key,
				  32);
}

static int pin_seal(struct ctap *c, const uint8_t hash[PIN_HASH_LEN],
		    uint8_t code_points, uint8_t rec[PIN_REC_LEN])
{
	uint8_t key[32], plain[PIN_REC_PLAIN];
	int r = -1;

	memcpy(plain, hash, PIN_HASH_LEN);
	plain[PIN_HASH_LEN] = code_points;
	rec[0] = PIN_REC_VERSION;
	if (pin_wrap_key(c, key) != 0 || crypto_random(rec + 1, 12) != 0 ||
	    crypto_aes256_gcm_seal(key, rec + 1, pin_aad, sizeof(pin_aad),
				   plain, sizeof(plain), rec + 29,
				   rec + 13) != 0)
		goto out;
	r = 0;
out:
	crypto_wipe(key, sizeof(key));
	crypto_wipe(plain, sizeof(plain));
	return r;
}

/* The stored hash (and code points); -1 when absent or unreadable. */
static int pin_load_hash(struct ctap *c, uint8_t hash[PIN_HASH_LEN],
			 uint8_t *code_points)
{
	uint8_t key[32], plain[PIN_REC_PLAIN];
	uint8_t *rec = NULL;
	size_t len = 0;
	int r = -1;

	if (store_get(c->store, PIN_NS, pin_key, sizeof(pin_key) - 1, &rec,
		      &len) != STORE_OK)
		goto out;
	if (len != PIN_REC_LEN || rec[0] != PIN_REC_VERSION ||
	    pin_wrap_key(c, key) != 0 ||
	    crypto_aes256_gcm_open(key, rec + 1, pin_aad, sizeof(pin_aad),
				   rec + 29, PIN_REC_PLAIN, rec + 13,
				   plain) != 0)
		goto out;
	memcpy(hash, plain, PIN_HASH_LEN);
	if (code_points != NULL)
		*code_points = plain[PIN_HASH_LEN];
	r = 0;
out:
	crypto_wipe(key, sizeof(key));
	crypto_wipe(plain, sizeof(plain));
	if (rec != NULL)
		store_free_value(rec, len);
	return r;
}

static int pin_put_retries(struct ctap *c, uint8_t n)
{
	return store_put(c->store, PIN_NS, retries_key,
			 sizeof(retries_key) - 1, &n, 1);
}

/* Load what the PIN side keeps in memory: whether a PIN is set, its
 * length, the retry counter. A damaged record leaves the PIN blocked
 * (a factory reset recovers) rather than open. */
static void pin_load_state(struct ctap *c)
{
	struct ctap_pin *p = c->pin;
	uint8_t hash[PIN_HASH_LEN];
	uint8_t *val = NULL;
	size_t len = 0;
	int err;

	p->retries = PIN_MAX_RETRIES;
	err = store_get(c->store, PIN_NS, retries_key,
			sizeof(retries_key) - 1, &val, &len);
	if (err == STORE_OK)
		p->retries = len == 1 && val[0] <= PIN_MAX_RETRIES ? val[0] : 0;
	else if (err != STORE_NOT_FOUND)
		p->retries = 0;
	if (val != NULL)
		store_free_value(val, len);
	val = NULL;
	err = store_get(c->store, PIN_NS, pin_key, sizeof(pin_key) - 1, &val,
			&len);
	p->pin_set = err != STORE_NOT_FOUND;
	if (val != NULL)
		store_free_value(val, len);
	if (p->pin_set && pin_load_hash(c, hash, &p->pin_code_points) != 0) {
		log_error("fido: the stored PIN is unreadable; PIN blocked");
		p->retries = 0;
	}
	crypto_wipe(hash, sizeof(hash));
}

/* Store a new PIN with full retries, in one transaction; with
 * clear_force also the cleared forcePINChange flag. */
static uint8_t pin_commit_new(struct ctap *c, const uint8_t *pin,
			      size_t len, uint8_t code_points,
			      bool clear_force)
{
	struct ctap_pin *p = c->pin;
	uint8_t digest[32], rec[PIN_REC_LEN];
	bool old_force = c->config.force_change_pin;
	uint8_t r = CTAP1_ERR_OTHER;

	if (crypto_digest(CRYPTO_SHA256, pin, len, digest) != 0 ||
	    pin_seal(c, digest, code_points, rec) != 0)
		goto out;
	if (clear_force)
		c->config.force_change_pin = false;
	if (store_begin(c->store) != STORE_OK)
		goto out;
	if (store_put(c->store, PIN_NS, pin_key, sizeof(pin_key) - 1, rec,
		      sizeof(rec)) != STORE_OK ||
	    pin_put_retries(c, PIN_MAX_RETRIES) != STORE_OK ||
	    (clear_force && ctap_config_save(c) != STORE_OK)) {
		store_rollback(c->store);
		goto out;
	}
	if (store_commit(c->store) != STORE_OK)
		goto out;
	p->pin_set = true;
	p->pin_code_points = code_points;
	p->retries = PIN_MAX_RETRIES;
	p->mismatches = 0;
	r = CTAP2_OK;
out:
	if (r != CTAP2_OK)
		c->config.force_change_pin = old_force;
	crypto_wipe(digest, sizeof(digest));
	return r;
}

/* ---- checking a PIN ---- */

/* PIN_NOT_SET, PIN_BLOCKED (no retries left), PIN_AUTH_BLOCKED (3
 * mismatches since power-up), or OK to try. */
static uint8_t pin_can_try(const struct ctap_pin *p)
{
	if (!p->pin_set)
		return CTAP2_ERR_PIN_NOT_SET;
	if (p->retries == 0)
		return CTAP2_ERR_PIN_BLOCKED;
	if (p->mismatches >= PIN_MAX_MISMATCHES)
		return CTAP2_ERR_PIN_AUTH_BLOCKED;
	return CTAP2_OK;
}

/* A wrong PIN (CTAP 2.1 §6.5.5.7.2): a new key-agreement key, and
 * the error that says how blocked the PIN now is. */
static uint8_t pin_mismatch(struct ctap *c, uint64_t protocol)
{
	struct ctap_pin *p = c->pin;

	pin_proto_regen(&p->proto[protocol - 1]);
	p->mismatches++;
	if (p->retries == 0)
		return CTAP2_ERR_PIN_BLOCKED;
	if (p->mismatches >= PIN_MAX_MISMATCHES)
		return CTAP2_ERR_PIN_AUTH_BLOCKED;
	return CTAP2_ERR_PIN_INVALID;
}

/* Compare decrypt(secret, pinHashEnc) with the stored hash. The retry
 * counter is decremented and committed first, so that cutting the power
 * at the right moment cannot buy an attempt for free. */
static uint8_t pin_check_hash(struct ctap *c, uint64_t protocol,
			      const uint8_t *secret, const struct cp_req *q)
{
	struct ctap_pin *p = c->pin;
	uint8_t want[PIN_HASH_LEN], got[PIN_HASH_LEN + 16];
	size_t got_len = sizeof(got);
	bool match;
	uint8_t r = CTAP1_ERR_OTHER;

	if (pin_put_retries(c, (uint8_t)(p->retries - 1)) != STORE_OK)
		goto out; /* not committed: do not compare */
	p->retries--;
	match = pin_load_hash(c, want, NULL) == 0 &&
		ctap_pin_decrypt(protocol, secret, q->pin_hash_enc,
				 q->pin_hash_enc_len, got, &got_len) ==
			CTAP2_OK &&
		got_len == PIN_HASH_LEN &&
		crypto_memcmp(want, got, PIN_HASH_LEN) == 0;
	if (!match) {
		r = pin_mismatch(c, protocol);
		goto out;
	}
	if (pin_put_retries(c, PIN_MAX_RETRIES) != STORE_OK)
		goto out;
	p->retries = PIN_MAX_RETRIES;
	p->mismatches = 0;
	r = CTAP2_OK;
out:
	crypto_wipe(want, sizeof(want));
	crypto_wipe(got, sizeof(got));
	return r;
}

/* ---- a new PIN ---- */

/* Length of the UTF-8 sequence that starts with b, its payload bits and
 * the smallest code point it may encode; 0 for a bad lead byte. */
static size_t utf8_lead(uint8_t b, uint32_t *cp, uint32_t *min)
{
	if (b < 0x80) {
		*cp = b;
		*min = 0;
		return 1;
	}
	if ((b & 0xe0) == 0xc0) {
		*cp = b & 0x1fu;
		*min = 0x80;
		return 2;
	}
	if ((b & 0xf0) == 0xe0) {
		*cp = b & 0x0fu;
		*min = 0x800;
		return 3;
	}
	if ((b & 0xf8) == 0xf0) {
		*cp = b & 0x07u;
		*min = 0x10000;
		return 4;
	}
	return 0;
}

/* Count the code points of well-formed UTF-8 (no overlong forms, no
 * surrogates, nothing past U+10FFFF); false for anything else. */
static bool utf8_code_points(const uint8_t *s, size_t n, size_t *count)
{
	size_t i = 0, k, len;
	uint32_t cp, min;

	*count = 0;
	while (i < n) {
		len = utf8_lead(s[i], &cp, &min);
		if (len == 0 || len > n - i)
			return false;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3fu);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
		(*count)++;
	}
	return true;
}

/* newPinEnc → newPin (CTAP 2.1 §6.5.5.5 steps 6-9): decrypt, exactly 64
 * bytes, drop the zero padding, at most 63 bytes of valid UTF-8 and at
 * least minPINLength code points. */
static uint8_t pin_decode_new(struct ctap *c, uint64_t protocol,
			      const uint8_t *secret, const struct cp_req *q,
			      uint8_t pin[PIN_PADDED_LEN], size_t *pin_len,
			      uint8_t *code_points)
{
	size_t iv = protocol == 2 ? 16 : 0, len = PIN_PADDED_LEN, cps;

	if (q->new_pin_enc_len != iv + PIN_PADDED_LEN)
		return CTAP1_ERR_INVALID_PARAMETER;
	if (ctap_pin_decrypt(protocol, secret, q->new_pin_enc,
			     q->new_pin_enc_len, pin, &len) != CTAP2_OK)
		return CTAP2_ERR_PIN_AUTH_INVALID;
	while (len > 0 && pin[len - 1] == 0)
		len--;
	if (len > PIN_MAX_BYTES || !utf8_code_points(pin, len, &cps) ||
	    cps < c->config.min_pin_len)
		return CTAP2_ERR_PIN_POLICY_VIOLATION;
	*pin_len = len;
	*code_points = (uint8_t)cps;
	return CTAP2_OK;
}

/* ---- request parsing ---- */

static uint8_t cp_field_bytes(const cbor_item_t *v, const uint8_t **p,
			      size_t *len, unsigned bit, unsigned *seen)
{
	uint8_t r = ctap_bytes(v, p, len);

	if (r == CTAP2_OK)
		*seen |= bit;
	return r;
}

static uint8_t cp_field(void *arg, uint64_t key, const cbor_item_t *v)
{
	struct cp_req *q = arg;
	uint8_t r = CTAP2_OK;

	switch (key) {
	case REQ_PROTOCOL:
		r = ctap_uint(v, &q->protocol);
		q->seen |= F_PROTOCOL;
		break;
	case REQ_SUBCOMMAND:
		r = ctap_uint(v, &q->subcommand);
		q->seen |= F_SUBCOMMAND;
		break;
	case REQ_KEY_AGREEMENT:
		if (!cbor_isa_map(v))
			return CTAP2_ERR_CBOR_UNEXPECTED_TYPE;
		q->key_agreement = v;
		q->seen |= F_KEY_AGREEMENT;
		break;
	case REQ_PIN_AUTH:
		return cp_field_bytes(v, &q->pin_auth, &q->pin_auth_len,
				      F_PIN_AUTH, &q->seen);
	case REQ_NEW_PIN_ENC:
		return cp_field_bytes(v, &q->new_pin_enc, &q->new_pin_enc_len,
				      F_NEW_PIN_ENC, &q->seen);
	case REQ_PIN_HASH_ENC:
		return cp_field_bytes(v, &q->pin_hash_enc,
				      &q->pin_hash_enc_len, F_PIN_HASH_ENC,
				      &q->seen);
	case REQ_PERMISSIONS:
		r = ctap_uint(v, &q->permissions);
		q->seen |= F_PERMISSIONS;
		break;
	case REQ_RP_ID:
		r = ctap_text(v, &q->rp_id, &q->rp_id_len);
		q->seen |= F_RP_ID;
		break;
	default:
		break; /* unknown keys are ignored */
	}
	return r;
}

static uint8_t cp_parse(const cbor_item_t *params, struct cp_req *q)
{
	memset(q, 0, sizeof(*q));
	if (params == NULL)
		return CTAP2_ERR_MISSING_PARAMETER;
	return ctap_map_each_uint(params, cp_field, q);
}

static uint8_t cp_require(const struct cp_req *q, unsigned fields)
{
	return (q->seen & fields) == fields ? CTAP2_OK
					    : CTAP2_ERR_MISSING_PARAMETER;
}

/* ---- responses ---- */

/* out ← {key: val}; takes val. */
static uint8_t reply1(struct wbuf *out, uint64_t key, cbor_item_t *val)
{
	cbor_item_t *m = cbor_new_definite_map(1);
	uint8_t r = CTAP1_ERR_OTHER;

	if (m == NULL) {
		if (val != NULL)
			cbor_decref(&val);
		return r;
	}
	if (ctap_map_put_uint(m, key, val) == 0)
		r = ctap_cbor_encode(m, out);
	cbor_decref(&m);
	return r;
}

/* ---- subcommands ---- */

static uint8_t cp_get_retries(struct ctap *c, struct wbuf *out)
{
	struct ctap_pin *p = c->pin;
	cbor_item_t *m = cbor_new_definite_map(2);
	uint8_t r = CTAP1_ERR_OTHER;

	if (m == NULL)
		return r;
	/* powerCycleState: true while a power cycle is needed. */
	if (ctap_map_put_uint(m, RESP_PIN_RETRIES,
			      cbor_build_uint8(p->retries)) == 0 &&
	    ctap_map_put_uint(m, RESP_POWER_CYCLE,
			      cbor_build_bool(p->mismatches >=
					      PIN_MAX_MISMATCHES)) == 0)
		r = ctap_cbor_encode(m, out);
	cbor_decref(&m);
	return r;
}

static uint8_t cp_get_key_agreement(struct ctap *c, const struct cp_req *q,
				    struct wbuf *out)
{
	const struct pin_proto *pp = &c->pin->proto[q->protocol - 1];
	cbor_item_t *key;

	if (!pp->ready)
		return CTAP1_ERR_OTHER;
	key = ctap_cose_key(CRYPTO_P256, COSE_ECDH_ES_HKDF_256, pp->ka_pub,
			    sizeof(pp->ka_pub));
	if (key == NULL)
		return CTAP1_ERR_OTHER;
	return reply1(out, RESP_KEY_AGREEMENT, key);
}

/* setPIN (CTAP 2.1 §6.5.5.5). */
static uint8_t cp_set_pin(struct ctap *c, const struct cp_req *q)
{
	uint8_t secret[PIN_SECRET_MAX], pin[PIN_PADDED_LEN], cps = 0;
	size_t secret_len = sizeof(secret), pin_len = 0;
	uint8_t r;

	if ((r = cp_require(q, F_KEY_AGREEMENT | F_PIN_AUTH |
				       F_NEW_PIN_ENC)) != CTAP2_OK)
		return r;
	if (c->pin->pin_set)
		return CTAP2_ERR_PIN_AUTH_INVALID; /* step 3 */
	if ((r = ctap_pin_shared_secret(c, q->protocol, q->key_agreement,
					secret, &secret_len)) != CTAP2_OK)
		goto out;
	if ((r = ctap_pin_verify(q->protocol, secret, q->new_pin_enc,
				 q->new_pin_enc_len, q->pin_auth,
				 q->pin_auth_len)) != CTAP2_OK)
		goto out;
	if ((r = pin_decode_new(c, q->protocol, secret, q, pin, &pin_len,
				&cps)) != CTAP2_OK)
		goto out;
	r = pin_commit_new(c, pin, pin_len, cps, false);
out:
	crypto_wipe(secret, sizeof(secret));
	crypto_wipe(pin, sizeof(pin));
	return r;
}

/* pinUvAuthParam of changePIN: over newPinEnc || pinHashEnc. */
static uint8_t cp_verify_change(const struct cp_req *q, const uint8_t *secret)
{
	size_t len = q->new_pin_enc_len + q->pin_hash_enc_len;
	uint8_t *msg = malloc(len ? len : 1);
	uint8_t r;

	if (msg == NULL)
		return CTAP1_ERR_OTHER;
	memcpy(msg, q->new_pin_enc, q->new_pin_enc_len);
	memcpy(msg + q->new_pin_enc_len, q->pin_hash_enc, q->pin_hash_enc_len);
	r = ctap_pin_verify(q->protocol, secret, msg, len, q->pin_auth,
			    q->pin_auth_len);
	free(msg);
	return r;
}

/* Under forcePINChange the new PIN must differ from the current one. */
static uint8_t cp_same_pin(struct ctap *c, const uint8_t *pin, size_t len)
{
	uint8_t digest[32], cur[PIN_HASH_LEN];
	uint8_t r = CTAP2_OK;

	if (!c->config.force_change_pin)
		return CTAP2_OK;
	if (crypto_digest(CRYPTO_SHA256, pin, len, digest) != 0 ||
	    pin_load_hash(c, cur, NULL) != 0)
		r = CTAP1_ERR_OTHER;
	else if (crypto_memcmp(digest, cur, PIN_HASH_LEN) == 0)
		r = CTAP2_ERR_PIN_POLICY_VIOLATION;
	crypto_wipe(digest, sizeof(digest));
	crypto_wipe(cur, sizeof(cur));
	return r;
}

/* changePIN (CTAP 2.1 §6.5.5.6). */
static uint8_t cp_change_pin(struct ctap *c, const struct cp_req *q)
{
	uint8_t secret[PIN_SECRET_MAX], pin[PIN_PADDED_LEN], cps = 0;
	size_t secret_len = sizeof(secret), pin_len = 0;
	uint8_t r;

	if ((r = cp_require(q, F_KEY_AGREEMENT | F_PIN_AUTH | F_NEW_PIN_ENC |
				       F_PIN_HASH_ENC)) != CTAP2_OK)
		return r;
	if ((r = pin_can_try(c->pin)) != CTAP2_OK)
		return r;
	if ((r = ctap_pin_shared_secret(c, q->protocol, q->key_agreement,
					secret, &secret_len)) != CTAP2_OK ||
	    (r = cp_verify_change(q, secret)) != CTAP2_OK ||
	    (r = pin_check_hash(c, q->protocol, secret, q)) != CTAP2_OK ||
	    (r = pin_decode_new(c, q->protocol, secret, q, pin, &pin_len,
				&cps)) != CTAP2_OK ||
	    (r = cp_same_pin(c, pin, pin_len)) != CTAP2_OK ||
	    (r = pin_commit_new(c, pin, pin_len, cps, true)) != CTAP2_OK)
		goto out;
	pin_token_reset(c->pin); /* every token issued so far is void */
out:
	crypto_wipe(secret, sizeof(secret));
	crypto_wipe(pin, sizeof(pin));
	return r;
}

/* The common part of getPinToken and getPinUvAuthTokenUsingPin-
 * WithPermissions (CTAP 2.1 §6.5.5.7.1, §6.5.5.7.2). */
static uint8_t cp_issue_token(struct ctap *c, const struct cp_req *q,
			      uint8_t perms, struct wbuf *out)
{
	struct ctap_pin *p = c->pin;
	uint8_t secret[PIN_SECRET_MAX], enc[PIN_TOKEN_LEN + 16];
	size_t secret_len = sizeof(secret), enc_len = sizeof(enc);
	uint8_t r;

	if ((r = pin_can_try(p)) != CTAP2_OK)
		return r;
	if ((r = ctap_pin_shared_secret(c, q->protocol, q->key_agreement,
					secret, &secret_len)) != CTAP2_OK ||
	    (r = pin_check_hash(c, q->protocol, secret, q)) != CTAP2_OK)
		goto out;
	if (c->config.force_change_pin) {
		r = CTAP2_ERR_PIN_POLICY_VIOLATION;
		goto out;
	}
	pin_token_reset(p);
	pin_token_begin(p, perms, (q->seen & F_RP_ID) ? q->rp_id : NULL,
			q->rp_id_len);
	if ((r = ctap_pin_encrypt(q->protocol, secret,
				  p->proto[q->protocol - 1].token,
				  PIN_TOKEN_LEN, enc, &enc_len)) != CTAP2_OK)
		goto out;
	r = reply1(out, RESP_TOKEN, cbor_build_bytestring(enc, enc_len));
out:
	crypto_wipe(secret, sizeof(secret));
	crypto_wipe(enc, sizeof(enc));
	return r;
}

/* getPinToken (0x05): the superseded form, with the default permissions
 * mc and ga and no RP ID. */
static uint8_t cp_get_pin_token(struct ctap *c, const struct cp_req *q,
				struct wbuf *out)
{
	uint8_t r;

	if ((r = cp_require(q, F_KEY_AGREEMENT | F_PIN_HASH_ENC)) != CTAP2_OK)
		return r;
	if (q->seen & (F_PERMISSIONS | F_RP_ID))
		return CTAP1_ERR_INVALID_PARAMETER;
	return cp_issue_token(c, q, CTAP_PERM_MC | CTAP_PERM_GA, out);
}

/* getPinUvAuthTokenUsingPinWithPermissions (0x09). */
static uint8_t cp_get_token_pin(struct ctap *c, const struct cp_req *q,
				struct wbuf *out)
{
	uint8_t perms;
	uint8_t r;

	if ((r = cp_require(q, F_KEY_AGREEMENT | F_PIN_HASH_ENC |
				       F_PERMISSIONS)) != CTAP2_OK)
		return r;
	if (q->permissions == 0)
		return CTAP1_ERR_INVALID_PARAMETER;
	/* Undefined permission bits are ignored; bioEnrollment is a
	 * defined one this key cannot grant. */
	perms = (uint8_t)(q->permissions & PERMS_KNOWN);
	if (perms & CTAP_PERM_BE)
		return CTAP2_ERR_UNAUTHORIZED_PERMISSION;
	/* mc and ga are scoped to an RP: its ID must come with them. */
	if ((perms & (CTAP_PERM_MC | CTAP_PERM_GA)) && !(q->seen & F_RP_ID))
		return CTAP1_ERR_INVALID_PARAMETER;
	return cp_issue_token(c, q, perms, out);
}

/* Every subcommand but getPINRetries names a supported protocol. */
static uint8_t cp_check_protocol(const struct cp_req *q)
{
	if (!(q->seen & F_PROTOCOL))
		return CTAP2_ERR_MISSING_PARAMETER;
	if (q->protocol != 1 && q->protocol != 2)
		return CTAP1_ERR_INVALID_PARAMETER;
	return CTAP2_OK;
}

uint8_t ctap_cmd_client_pin(struct ctap *c, const cbor_item_t *params,
			    struct wbuf *out)
{
	struct cp_req q;
	uint8_t r;

	if ((r = cp_parse(params, &q)) != CTAP2_OK ||
	    (r = cp_require(&q, F_SUBCOMMAND)) != CTAP2_OK)
		return r;
	switch (q.subcommand) {
	case SUB_GET_PIN_RETRIES:
		return cp_get_retries(c, out);
	case SUB_GET_KEY_AGREEMENT:
	case SUB_SET_PIN:
	case SUB_CHANGE_PIN:
	case SUB_GET_PIN_TOKEN:
	case SUB_GET_TOKEN_PIN:
		break;
	default:
		/* Also getUVRetries and getPinUvAuthTokenUsingUvWith-
		 * Permissions: vkey has no built-in user verification. */
		return CTAP2_ERR_INVALID_SUBCOMMAND;
	}
	if ((r = cp_check_protocol(&q)) != CTAP2_OK)
		return r;
	switch (q.subcommand) {
	case SUB_GET_KEY_AGREEMENT:
		return cp_get_key_agreement(c, &q, out);
	case SUB_SET_PIN:
		return cp_set_pin(c, &q);
	case SUB_CHANGE_PIN:
		return cp_change_pin(c, &q);
	case SUB_GET_PIN_TOKEN:
		return cp_get_pin_token(c, &q, out);
	default:
		return cp_get_token_pin(c, &q, out);
	}
}

/* ---- life cycle ---- */

int ctap_pin_create(struct ctap *c)
{
	struct ctap_pin *p = calloc(1, sizeof(*p));
	int err;

	if (p == NULL)
		return -1;
	c->pin = p;
	err = ctap_config_load(c);
	if (err != STORE_OK) {
		log_error("fido: cannot load the authenticator config: %s",
			  store_strerror(err));
		ctap_pin_destroy(c);
		return -1;
	}
	pin_load_state(c);
	ctap_pin_power_up(c);
	if (!p->proto[0].ready || !p->proto[1].ready) {
		ctap_pin_destroy(c);
		return -1;
	}
	return 0;
}

void ctap_pin_destroy(struct ctap *c)
{
	if (c == NULL || c->pin == NULL)
		return;
	ctap_blobs_abort(c);
	crypto_wipe(c->pin, sizeof(*c->pin));
	free(c->pin);
	c->pin = NULL;
}

void ctap_pin_power_up(struct ctap *c)
{
	struct ctap_pin *p = c->pin;
	size_t i;

	for (i = 0; i < PIN_PROTOCOLS; i++)
		pin_proto_regen(&p->proto[i]);
	pin_token_reset(p);
	p->mismatches = 0;
	ctap_blobs_abort(c);
}

int ctap_pin_reset_store(struct ctap *c)
{
	if (store_clear(c->store, PIN_NS) != STORE_OK ||
	    store_clear(c->store, CONFIG_NS) != STORE_OK ||
	    store_clear(c->store, BLOBS_NS) != STORE_OK)
		return -1;
	return 0;
}

void ctap_pin_reset_memory(struct ctap *c)
{
	struct ctap_pin *p = c->pin;

	ctap_config_defaults(&c->config);
	p->pin_set = false;
	p->pin_code_points = 0;
	p->retries = PIN_MAX_RETRIES;
	ctap_pin_power_up(c);
}

int ctap_pin_reset(struct ctap *c)
{
	if (store_begin(c->store) != STORE_OK)
		return -1;
	if (ctap_pin_reset_store(c) != 0) {
		store_rollback(c->store);
		return -1;
	}
	if (store_commit(c->store) != STORE_OK)
		return -1;
	ctap_pin_reset_memory(c);
	return 0;
}

bool ctap_pin_is_set(struct ctap *c)
{
	return c->pin->pin_set;
}

uint8_t ctap_pin_retries(struct ctap *c)
{
	return c->pin->retries;
}

uint8_t ctap_pin_code_points(struct ctap *c)
{
	return c->pin->pin_set ? c->pin->pin_code_points : 0;
}
