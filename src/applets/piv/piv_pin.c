/* PIN (reference 80) and PUK (81): VERIFY, CHANGE REFERENCE DATA, RESET
 * RETRY COUNTER, SET PIN RETRIES, RESET and their metadata. A value is
 * kept as a salted HMAC under the device secret over its FF-padded
 * 8-byte block; its try counter is committed before every comparison. */
#include <string.h>

#include "apdu/sw.h"
#include "applets/piv/piv_priv.h"
#include "services/crypto.h"
#include "services/pin.h"

static const char *const pw_rec[PIV_PW_COUNT] = { "pin", "puk" };

/* Factory values (docs/PIV.md), padded as the commands carry them. */
static const uint8_t pw_factory[PIV_PW_COUNT][PIV_PW_LEN] = {
	{ '1', '2', '3', '4', '5', '6', 0xFF, 0xFF },
	{ '1', '2', '3', '4', '5', '6', '7', '8' },
};

#define PW_PAD 0xFF

/* total | left | default | salt | mac */
struct pw_record {
	uint8_t total;
	uint8_t left;
	uint8_t is_default;
	struct pin_secret secret;
};
#define PW_REC_LEN (3 + PIN_SALT + PIN_MAC)

static int rec_load(struct piv *p, enum piv_pw pw, struct pw_record *rec)
{
	uint8_t buf[PW_REC_LEN];
	size_t len = 0;
	int err = piv_get_rec(p, pw_rec[pw], buf, sizeof(buf), &len);

	if (err == STORE_OK &&
	    (len != PW_REC_LEN || buf[0] == 0 || buf[1] > buf[0] ||
	     buf[2] > 1))
		err = STORE_CORRUPT;
	if (err == STORE_OK) {
		rec->total = buf[0];
		rec->left = buf[1];
		rec->is_default = buf[2];
		memcpy(rec->secret.salt, buf + 3, PIN_SALT);
		memcpy(rec->secret.mac, buf + 3 + PIN_SALT, PIN_MAC);
	}
	crypto_wipe(buf, sizeof(buf));
	return err;
}

static int rec_save(struct piv *p, enum piv_pw pw,
		    const struct pw_record *rec)
{
	uint8_t buf[PW_REC_LEN];
	int err;

	buf[0] = rec->total;
	buf[1] = rec->left;
	buf[2] = rec->is_default;
	memcpy(buf + 3, rec->secret.salt, PIN_SALT);
	memcpy(buf + 3 + PIN_SALT, rec->secret.mac, PIN_MAC);
	err = piv_put_rec(p, pw_rec[pw], buf, sizeof(buf));
	crypto_wipe(buf, sizeof(buf));
	return err;
}

/* A new value with all its tries. */
static int pw_set(struct piv *p, enum piv_pw pw,
		  const uint8_t value[PIV_PW_LEN], uint8_t total)
{
	struct pw_record rec;
	int err = STORE_INVALID;

	if (total != 0 &&
	    pin_secret_make(p->st, value, PIV_PW_LEN, &rec.secret) == 0) {
		rec.total = total;
		rec.left = total;
		rec.is_default = crypto_memcmp(value, pw_factory[pw],
					       PIV_PW_LEN) == 0;
		err = rec_save(p, pw, &rec);
	}
	crypto_wipe(&rec, sizeof(rec));
	return err;
}

struct pw_save {
	struct piv *p;
	enum piv_pw pw;
	const struct pw_record *rec;
};

static int pw_save(void *ctx)
{
	const struct pw_save *s = ctx;

	return rec_save(s->p, s->pw, s->rec) == STORE_OK ? 0 : -1;
}

/* Spend a try (committed first), compare, restore the tries on a
 * match (services/pin.h). *total gets the record's total try count.
 * Returns SW_OK, 63Cx, 6983 or 6581. */
static unsigned pw_check(struct piv *p, enum piv_pw pw,
			 const uint8_t value[PIV_PW_LEN], uint8_t *total)
{
	struct pw_record rec;
	struct pw_save ctx = { p, pw, &rec };
	enum pin_verdict verdict;
	unsigned sw = SW_MEMORY_FAILURE;

	if (rec_load(p, pw, &rec) != STORE_OK)
		goto out;
	*total = rec.total;
	verdict = pin_check(p->st, &rec.secret, &rec.left, rec.total, value,
			    PIV_PW_LEN, pw_save, &ctx);
	sw = sw_of_pin_verdict(verdict, rec.left); /* tries after the check */
out:
	crypto_wipe(&rec, sizeof(rec));
	return sw;
}

/* A new PIN or PUK: 6 to 8 bytes, then FF padding only. */
static bool new_value_ok(const uint8_t v[PIV_PW_LEN])
{
	size_t n = 0;

	while (n < PIV_PW_LEN && v[n] != PW_PAD)
		n++;
	for (size_t i = n; i < PIV_PW_LEN; i++)
		if (v[i] != PW_PAD)
			return false;
	return n >= PIV_PW_MIN;
}

/* Check old, then take new (old||new in data): the old value is
 * compared first, so a wrong one spends a try whatever the new one is
 * (ykman's reset blocks the PUK with FF-only values); a bad new value
 * after a right old one is 6A80 with the try given back. */
static unsigned pw_replace(struct piv *p, enum piv_pw check,
			   enum piv_pw target, const uint8_t *data)
{
	const uint8_t *new_value = data + PIV_PW_LEN;
	uint8_t total = 0, t_total = 0, t_left = 0;
	unsigned sw = pw_check(p, check, data, &total);

	if (sw != SW_OK)
		return sw;
	if (!new_value_ok(new_value))
		return SW_WRONG_DATA;
	if (check != target) {
		piv_pin_tries(p, target, &t_total, &t_left);
		total = t_total;
	}
	if (total == 0 || pw_set(p, target, new_value, total) != STORE_OK)
		return SW_MEMORY_FAILURE;
	return SW_OK;
}

/* The value was compared and did not match, or is blocked. */
static bool pw_refused(unsigned sw)
{
	return sw == SW_AUTH_BLOCKED || (sw & 0xFFF0) == SW_VERIFY_FAIL(0);
}

static void forget_pin(struct piv *p)
{
	p->pin_ok = false;
	p->pin_always = false;
}

unsigned piv_verify(struct piv *p, const struct apdu *cmd, struct wbuf *r)
{
	uint8_t total, left;
	unsigned sw;

	(void)r;
	if (cmd->p2 != PIV_REF_PIN || (cmd->p1 != 0x00 && cmd->p1 != 0xFF))
		return SW_WRONG_P1P2;
	if (cmd->p1 == 0xFF) {
		if (cmd->lc != 0)
			return SW_WRONG_LENGTH;
		forget_pin(p);
		return SW_OK;
	}
	if (cmd->lc == 0) {
		if (p->pin_ok)
			return SW_OK;
		piv_pin_tries(p, PIV_PIN, &total, &left);
		if (total == 0)
			return SW_MEMORY_FAILURE;
		return sw_of_pin_verdict(left == 0 ? PIN_BLOCKED : PIN_WRONG,
					 left);
	}
	if (cmd->lc != PIV_PW_LEN)
		return SW_WRONG_DATA;
	sw = pw_check(p, PIV_PIN, cmd->data, &total);
	p->pin_ok = sw == SW_OK;
	p->pin_always = p->pin_ok;
	return sw;
}

unsigned piv_change_ref(struct piv *p, const struct apdu *cmd,
			struct wbuf *r)
{
	enum piv_pw pw = cmd->p2 == PIV_REF_PUK ? PIV_PUK : PIV_PIN;
	unsigned sw;

	(void)r;
	if (cmd->p1 != 0x00 ||
	    (cmd->p2 != PIV_REF_PIN && cmd->p2 != PIV_REF_PUK))
		return SW_WRONG_P1P2;
	if (cmd->lc != 2 * PIV_PW_LEN)
		return SW_WRONG_DATA;
	sw = pw_replace(p, pw, pw, cmd->data);
	/* A wrong PIN here counts as a failed VERIFY. */
	if (pw == PIV_PIN && pw_refused(sw))
		forget_pin(p);
	return sw;
}

unsigned piv_reset_retry(struct piv *p, const struct apdu *cmd,
			 struct wbuf *r)
{
	(void)r;
	if (cmd->p1 != 0x00 || cmd->p2 != PIV_REF_PIN)
		return SW_WRONG_P1P2;
	if (cmd->lc != 2 * PIV_PW_LEN)
		return SW_WRONG_DATA;
	return pw_replace(p, PIV_PUK, PIV_PIN, cmd->data);
}

unsigned piv_set_pin_retries(struct piv *p, const struct apdu *cmd,
			     struct wbuf *r)
{
	int err;

	(void)r;
	if (cmd->p1 == 0 || cmd->p2 == 0)
		return SW_WRONG_P1P2;
	if (cmd->lc != 0)
		return SW_WRONG_LENGTH;
	if (!p->mgmt_ok || !p->pin_ok)
		return SW_SECURITY_STATUS;
	err = store_begin(p->st);
	if (err != STORE_OK)
		return SW_MEMORY_FAILURE;
	err = piv_pins_default(p, cmd->p1, cmd->p2);
	if (err != STORE_OK) {
		store_rollback(p->st);
		return SW_MEMORY_FAILURE;
	}
	if (store_commit(p->st) != STORE_OK)
		return SW_MEMORY_FAILURE;
	/* The PIN just verified is gone. */
	forget_pin(p);
	return SW_OK;
}

unsigned piv_reset(struct piv *p, const struct apdu *cmd, struct wbuf *r)
{
	struct pw_record pin, puk;
	unsigned sw = SW_MEMORY_FAILURE;

	(void)r;
	if (cmd->p1 != 0x00 || cmd->p2 != 0x00)
		return SW_WRONG_P1P2;
	if (cmd->lc != 0)
		return SW_WRONG_LENGTH;
	if (rec_load(p, PIV_PIN, &pin) != STORE_OK ||
	    rec_load(p, PIV_PUK, &puk) != STORE_OK)
		goto out;
	if (pin.left != 0 || puk.left != 0) {
		sw = SW_CONDITIONS_NOT_SATISFIED;
		goto out;
	}
	if (piv_factory_reset(p) == STORE_OK)
		sw = SW_OK;
out:
	crypto_wipe(&pin, sizeof(pin));
	crypto_wipe(&puk, sizeof(puk));
	return sw;
}

int piv_pins_default(struct piv *p, uint8_t pin_tries, uint8_t puk_tries)
{
	int err = pw_set(p, PIV_PIN, pw_factory[PIV_PIN], pin_tries);

	if (err == STORE_OK)
		err = pw_set(p, PIV_PUK, pw_factory[PIV_PUK], puk_tries);
	return err;
}

void piv_pin_tries(struct piv *p, enum piv_pw pw, uint8_t *total,
		   uint8_t *left)
{
	struct pw_record rec;

	*total = 0;
	*left = 0;
	if (rec_load(p, pw, &rec) == STORE_OK) {
		*total = rec.total;
		*left = rec.left;
	}
	crypto_wipe(&rec, sizeof(rec));
}

int piv_pin_is_default(struct piv *p, enum piv_pw pw)
{
	struct pw_record rec;
	int is_default = -1;

	if (rec_load(p, pw, &rec) == STORE_OK)
		is_default = rec.is_default;
	crypto_wipe(&rec, sizeof(rec));
	return is_default;
}

unsigned piv_pin_metadata(struct piv *p, enum piv_pw pw, struct wbuf *r)
{
	struct pw_record rec;
	uint8_t tries[2];
	unsigned sw = SW_MEMORY_FAILURE;

	if (rec_load(p, pw, &rec) == STORE_OK) {
		static const uint8_t alg = 0xFF;

		tries[0] = rec.total;
		tries[1] = rec.left;
		wbuf_tlv(r, 0x01, &alg, 1);
		wbuf_tlv(r, 0x05, &rec.is_default, 1);
		wbuf_tlv(r, 0x06, tries, sizeof(tries));
		sw = SW_OK;
	}
	crypto_wipe(&rec, sizeof(rec));
	return sw;
}
