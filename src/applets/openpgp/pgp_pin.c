/* PW1, PW3 and the resetting code: VERIFY, CHANGE REFERENCE DATA, RESET
 * RETRY COUNTER and the KDF-DO's effect on them. A PIN is kept as a
 * salted HMAC under the device secret; its try counter is committed
 * before every comparison. */
#include <string.h>

#include "apdu/sw.h"
#include "applets/openpgp/pgp_priv.h"
#include "services/crypto.h"
#include "services/pin.h"

static const char *const pin_rec[PGP_PW_COUNT] = { "pw1", "rc", "pw3" };

/* tries | length | salt | mac */
struct pin_record {
	uint8_t tries;
	uint8_t len;
	struct pin_secret secret;
};
#define PIN_REC_LEN (2 + PIN_SALT + PIN_MAC)

static const uint8_t min_len[PGP_PW_COUNT] = { 6, 8, 8 };

#define KDF_ALG_NONE 0x00
#define KDF_ALG_S2K  0x03
#define KDF_HASH_MAX 64

static int rec_load(struct pgp *p, enum pgp_pw pw, struct pin_record *rec)
{
	uint8_t buf[PIN_REC_LEN];
	size_t len = 0;
	int err = pgp_get_rec(p, pin_rec[pw], buf, sizeof(buf), &len);

	if (err == STORE_OK && len != PIN_REC_LEN)
		err = STORE_CORRUPT;
	if (err == STORE_OK) {
		rec->tries = buf[0];
		rec->len = buf[1];
		memcpy(rec->secret.salt, buf + 2, PIN_SALT);
		memcpy(rec->secret.mac, buf + 2 + PIN_SALT, PIN_MAC);
	}
	crypto_wipe(buf, sizeof(buf));
	return err;
}

static int rec_save(struct pgp *p, enum pgp_pw pw,
		    const struct pin_record *rec)
{
	uint8_t buf[PIN_REC_LEN];
	int err;

	buf[0] = rec->tries;
	buf[1] = rec->len;
	memcpy(buf + 2, rec->secret.salt, PIN_SALT);
	memcpy(buf + 2 + PIN_SALT, rec->secret.mac, PIN_MAC);
	err = pgp_put_rec(p, pin_rec[pw], buf, sizeof(buf));
	crypto_wipe(buf, sizeof(buf));
	return err;
}

int pgp_pin_set(struct pgp *p, enum pgp_pw pw, const uint8_t *pin,
		size_t len)
{
	struct pin_record rec;
	int err;

	if (len == 0)
		return pgp_del_rec(p, pin_rec[pw]);
	if (len > PGP_PW_MAX ||
	    pin_secret_make(p->st, pin, len, &rec.secret) != 0)
		return STORE_INVALID;
	rec.tries = PGP_PW_TRIES;
	rec.len = (uint8_t)len;
	err = rec_save(p, pw, &rec);
	crypto_wipe(&rec, sizeof(rec));
	return err;
}

uint8_t pgp_pin_tries(struct pgp *p, enum pgp_pw pw)
{
	struct pin_record rec;
	uint8_t tries = 0;

	if (rec_load(p, pw, &rec) == STORE_OK)
		tries = rec.tries;
	crypto_wipe(&rec, sizeof(rec));
	return tries;
}

bool pgp_pin_blocked(struct pgp *p, enum pgp_pw pw)
{
	struct pin_record rec;
	bool blocked = rec_load(p, pw, &rec) == STORE_OK && rec.tries == 0;

	crypto_wipe(&rec, sizeof(rec));
	return blocked;
}

int pgp_pin_is(struct pgp *p, enum pgp_pw pw, const char *pin)
{
	struct pin_record rec;
	size_t len = strlen(pin);
	int same = 0;

	if (rec_load(p, pw, &rec) == STORE_OK && rec.len == len)
		same = pin_secret_matches(p->st, &rec.secret,
					  (const uint8_t *)pin, len);
	crypto_wipe(&rec, sizeof(rec));
	return same;
}

struct pin_save {
	struct pgp *p;
	enum pgp_pw pw;
	const struct pin_record *rec;
};

static int pin_save(void *ctx)
{
	const struct pin_save *s = ctx;

	return rec_save(s->p, s->pw, s->rec) == STORE_OK ? 0 : -1;
}

/* Spend a try (committed first), compare, restore the tries on a match
 * (services/pin.h). Returns SW_OK, 63Cx, 6983 (blocked or not set) or
 * 6581. */
static unsigned pin_check_sw(struct pgp *p, enum pgp_pw pw,
			     const uint8_t *pin, size_t len)
{
	struct pin_record rec;
	struct pin_save ctx = { p, pw, &rec };
	enum pin_verdict verdict;
	unsigned sw;
	int err = rec_load(p, pw, &rec);

	if (err == STORE_NOT_FOUND)
		return SW_AUTH_BLOCKED;
	if (err != STORE_OK)
		return SW_MEMORY_FAILURE;
	verdict = pin_check(p->st, &rec.secret, &rec.tries, PGP_PW_TRIES, pin,
			    len, pin_save, &ctx);
	sw = sw_of_pin_verdict(verdict, rec.tries); /* tries after the check */
	crypto_wipe(&rec, sizeof(rec));
	return sw;
}

/* Stored length of a PIN (for splitting old||new), 0 when not set. */
static size_t pin_len(struct pgp *p, enum pgp_pw pw)
{
	struct pin_record rec;
	size_t len = 0;

	if (rec_load(p, pw, &rec) == STORE_OK)
		len = rec.len;
	crypto_wipe(&rec, sizeof(rec));
	return len;
}

static bool new_len_ok(struct pgp *p, enum pgp_pw pw, size_t len)
{
	if (pgp_kdf_active(p))
		return len >= 1 && len <= KDF_HASH_MAX;
	return len >= min_len[pw] && len <= PGP_PW_MAX;
}

void pgp_forget_access(struct pgp *p)
{
	p->pw1_sig = false;
	p->pw1_other = false;
	p->pw3 = false;
}

static bool *access_flag(struct pgp *p, uint8_t ref)
{
	switch (ref) {
	case 0x81:
		return &p->pw1_sig;
	case 0x82:
		return &p->pw1_other;
	case 0x83:
		return &p->pw3;
	default:
		return NULL;
	}
}

unsigned pgp_verify(struct pgp *p, const struct apdu *cmd, struct wbuf *r)
{
	bool *flag = access_flag(p, cmd->p2);
	enum pgp_pw pw = cmd->p2 == 0x83 ? PGP_PW3 : PGP_PW1;
	unsigned sw;
	uint8_t tries;

	(void)r;
	if (flag == NULL || (cmd->p1 != 0x00 && cmd->p1 != 0xFF))
		return SW_WRONG_P1P2;
	if (cmd->p1 == 0xFF) {
		if (cmd->lc != 0)
			return SW_WRONG_LENGTH;
		*flag = false;
		return SW_OK;
	}
	if (cmd->lc == 0) {
		if (*flag)
			return SW_OK;
		tries = pgp_pin_tries(p, pw);
		return SW_VERIFY_FAIL(tries);
	}
	*flag = false;
	sw = pin_check_sw(p, pw, cmd->data, cmd->lc);
	if (sw == SW_OK)
		*flag = true;
	return sw;
}

unsigned pgp_change_ref(struct pgp *p, const struct apdu *cmd,
			struct wbuf *r)
{
	enum pgp_pw pw;
	size_t old_len;
	unsigned sw;

	(void)r;
	if (cmd->p1 != 0x00 || (cmd->p2 != 0x81 && cmd->p2 != 0x83))
		return SW_WRONG_P1P2;
	pw = cmd->p2 == 0x83 ? PGP_PW3 : PGP_PW1;
	old_len = pin_len(p, pw);
	if (old_len == 0)
		return SW_MEMORY_FAILURE;
	/* No room for a new PIN, or one of the wrong length: refused
	 * before any comparison, no try spent. */
	if (cmd->lc <= old_len || !new_len_ok(p, pw, cmd->lc - old_len))
		return SW_WRONG_LENGTH;
	sw = pin_check_sw(p, pw, cmd->data, old_len);
	if (sw != SW_OK) {
		if (pw == PGP_PW3)
			p->pw3 = false;
		else
			p->pw1_sig = p->pw1_other = false;
		return sw;
	}
	if (pgp_pin_set(p, pw, cmd->data + old_len, cmd->lc - old_len) !=
	    STORE_OK)
		return SW_MEMORY_FAILURE;
	return SW_OK;
}

unsigned pgp_reset_retry(struct pgp *p, const struct apdu *cmd,
			 struct wbuf *r)
{
	const uint8_t *new_pin = cmd->data;
	size_t new_len = cmd->lc;
	unsigned sw;

	(void)r;
	if (cmd->p2 != 0x81 || (cmd->p1 != 0x00 && cmd->p1 != 0x02))
		return SW_WRONG_P1P2;
	if (cmd->p1 == 0x02) {
		if (!p->pw3)
			return SW_SECURITY_STATUS;
	} else {
		size_t rc_len = pin_len(p, PGP_RC);

		if (rc_len == 0)
			return SW_AUTH_BLOCKED;
		if (cmd->lc <= rc_len ||
		    !new_len_ok(p, PGP_PW1, cmd->lc - rc_len))
			return SW_WRONG_LENGTH;
		sw = pin_check_sw(p, PGP_RC, cmd->data, rc_len);
		if (sw != SW_OK)
			return sw;
		new_pin += rc_len;
		new_len -= rc_len;
	}
	if (!new_len_ok(p, PGP_PW1, new_len))
		return SW_WRONG_LENGTH;
	if (pgp_pin_set(p, PGP_PW1, new_pin, new_len) != STORE_OK)
		return SW_MEMORY_FAILURE;
	return SW_OK;
}

/* ---- KDF-DO ------------------------------------------------------- */

struct kdf {
	uint8_t alg;
	uint8_t hash;
	const uint8_t *pw1_hash, *pw3_hash;
	size_t pw1_len, pw3_len;
};

static int kdf_parse(const uint8_t *v, size_t len, struct kdf *k)
{
	struct rbuf r = rbuf_init(v, len);
	bool have_alg = false, have_hash = false, have_iter = false;
	size_t hash_len;

	memset(k, 0, sizeof(*k));
	while (rbuf_left(&r) > 0) {
		struct rbuf val;
		uint16_t tag;

		if (rbuf_tlv(&r, &tag, &val) != 0)
			return -1;
		switch (tag) {
		case 0x81:
			if (val.len != 1)
				return -1;
			k->alg = val.p[0];
			have_alg = true;
			break;
		case 0x82:
			if (val.len != 1)
				return -1;
			k->hash = val.p[0];
			have_hash = true;
			break;
		case 0x83:
			if (val.len != 4)
				return -1;
			have_iter = true;
			break;
		case 0x84:
		case 0x85:
		case 0x86:
			if (val.len > 32)
				return -1;
			break;
		case 0x87:
			k->pw1_hash = val.p;
			k->pw1_len = val.len;
			break;
		case 0x88:
			k->pw3_hash = val.p;
			k->pw3_len = val.len;
			break;
		default:
			return -1;
		}
	}
	if (!have_alg)
		return -1;
	if (k->alg == KDF_ALG_NONE)
		return 0;
	if (k->alg != KDF_ALG_S2K || !have_hash || !have_iter)
		return -1;
	if (k->hash == 0x08)
		hash_len = 32;
	else if (k->hash == 0x0A)
		hash_len = 64;
	else
		return -1;
	if (k->pw1_hash == NULL || k->pw3_hash == NULL ||
	    k->pw1_len != hash_len || k->pw3_len != hash_len)
		return -1;
	return 0;
}

bool pgp_kdf_active(struct pgp *p)
{
	uint8_t v[512];
	size_t len = 0;
	struct kdf k;

	if (pgp_get_do(p, PGP_DO_KDF, v, sizeof(v), &len) != STORE_OK)
		return false;
	return kdf_parse(v, len, &k) == 0 && k.alg == KDF_ALG_S2K;
}

/* Writes the KDF-DO and resets PW1 and PW3 to their factory values in
 * the new form; the resetting code is cleared. Returns a store error, or
 * STORE_INVALID for a malformed DO. */
int pgp_kdf_apply(struct pgp *p, const uint8_t *kdf, size_t len)
{
	struct kdf k;
	int err;

	if (len > 512 || kdf_parse(kdf, len, &k) != 0)
		return STORE_INVALID;
	err = store_begin(p->st);
	if (err != STORE_OK)
		return err;
	err = pgp_put_do(p, PGP_DO_KDF, kdf, len);
	if (err == STORE_OK && k.alg == KDF_ALG_S2K) {
		err = pgp_pin_set(p, PGP_PW1, k.pw1_hash, k.pw1_len);
		if (err == STORE_OK)
			err = pgp_pin_set(p, PGP_PW3, k.pw3_hash, k.pw3_len);
	} else if (err == STORE_OK) {
		err = pgp_pin_set(p, PGP_PW1, (const uint8_t *)"123456", 6);
		if (err == STORE_OK)
			err = pgp_pin_set(p, PGP_PW3,
					  (const uint8_t *)"12345678", 8);
	}
	if (err == STORE_OK)
		err = pgp_pin_set(p, PGP_RC, NULL, 0);
	if (err != STORE_OK) {
		store_rollback(p->st);
		return err;
	}
	return store_commit(p->st);
}
