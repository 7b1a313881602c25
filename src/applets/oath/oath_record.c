/* The OATH applet's persisted forms: one record per account (namespace
 * "oath", keyed by name), the salt and the access code ("oath.meta"). */
#include "applets/oath/oath_priv.h"

#include <string.h>

#include "apdu/sw.h"
#include "core/key.h"
#include "services/crypto.h"

#define RECORD_V1 1
#define RECORD_MAX (4 + 8 + OATH_CHALLENGE_LEN + 1 + OATH_KEY_MAX)
#define CODE_V1 1
#define CODE_MAX (3 + OATH_KEY_MAX)

static const char meta_salt[] = "salt";
static const char meta_code[] = "code";

/* The one place the store's errors become status words. */
unsigned oath_store_sw(int err)
{
	switch (err) {
	case STORE_OK:
		return SW_OK;
	case STORE_NOT_FOUND:
		return SW_REF_DATA_UNUSABLE; /* YKOATH "no such object" */
	case STORE_FULL:
		return SW_NOT_ENOUGH_SPACE;
	default:
		return SW_MEMORY_FAILURE;
	}
}

static bool record_ok(const struct oath_record *rec)
{
	return (rec->type == OATH_TYPE_HOTP || rec->type == OATH_TYPE_TOTP) &&
	       oath_md(rec->alg) > 0 && rec->digits >= OATH_DIGITS_MIN &&
	       rec->digits <= OATH_DIGITS_MAX &&
	       (rec->props & ~OATH_PROP_ALL) == 0 &&
	       rec->key_len >= OATH_KEY_MIN &&
	       rec->key_len <= oath_block_len(rec->alg);
}

static int record_encode(const struct oath_record *rec, struct wbuf *w)
{
	wbuf_u8(w, RECORD_V1);
	wbuf_u8(w, (uint8_t)(rec->type | rec->alg));
	wbuf_u8(w, rec->digits);
	wbuf_u8(w, rec->props);
	wbuf_u32be(w, (uint32_t)(rec->counter >> 32));
	wbuf_u32be(w, (uint32_t)rec->counter);
	wbuf_put(w, rec->last_challenge, sizeof(rec->last_challenge));
	wbuf_u8(w, (uint8_t)rec->key_len);
	wbuf_put(w, rec->key, rec->key_len);
	return w->overflow ? -1 : 0;
}

int oath_record_decode(const uint8_t *p, size_t len, struct oath_record *rec)
{
	struct rbuf r = rbuf_init(p, len);
	uint8_t ver, type_alg, key_len;
	uint32_t hi, lo;
	const uint8_t *key, *chal;
	int ret = -1;

	memset(rec, 0, sizeof(*rec));
	if (rbuf_u8(&r, &ver) != 0 || ver != RECORD_V1 ||
	    rbuf_u8(&r, &type_alg) != 0 || rbuf_u8(&r, &rec->digits) != 0 ||
	    rbuf_u8(&r, &rec->props) != 0 || rbuf_u32be(&r, &hi) != 0 ||
	    rbuf_u32be(&r, &lo) != 0 ||
	    rbuf_bytes(&r, OATH_CHALLENGE_LEN, &chal) != 0 ||
	    rbuf_u8(&r, &key_len) != 0 || key_len > OATH_KEY_MAX ||
	    rbuf_bytes(&r, key_len, &key) != 0 || rbuf_left(&r) != 0)
		goto out;
	rec->type = type_alg & OATH_TYPE_MASK;
	rec->alg = type_alg & OATH_ALG_MASK;
	rec->counter = ((uint64_t)hi << 32) | lo;
	memcpy(rec->last_challenge, chal, OATH_CHALLENGE_LEN);
	rec->key_len = key_len;
	memcpy(rec->key, key, key_len);
	if (!record_ok(rec))
		goto out;
	ret = 0;
out:
	if (ret != 0)
		crypto_wipe(rec, sizeof(*rec));
	return ret;
}

int oath_record_load(struct oath *o, const uint8_t *name, size_t name_len,
		     struct oath_record *rec)
{
	uint8_t *val = NULL;
	size_t len = 0;
	int err;

	err = store_get(vkey_store(o->key), OATH_NS, name, name_len, &val,
			&len);
	if (err != STORE_OK)
		return err;
	if (oath_record_decode(val, len, rec) != 0)
		err = STORE_CORRUPT;
	store_free_value(val, len);
	return err;
}

int oath_record_save(struct oath *o, const uint8_t *name, size_t name_len,
		     const struct oath_record *rec)
{
	uint8_t buf[RECORD_MAX];
	struct wbuf w = wbuf_init(buf, sizeof(buf));
	int err = STORE_INVALID;

	if (!record_ok(rec) || record_encode(rec, &w) != 0)
		goto out;
	err = store_put(vkey_store(o->key), OATH_NS, name, name_len, buf,
			w.len);
out:
	crypto_wipe(buf, sizeof(buf));
	return err;
}

int oath_code_load(struct oath *o, struct oath_code *code)
{
	uint8_t *val = NULL;
	size_t len = 0;
	struct rbuf r;
	uint8_t ver, key_len;
	const uint8_t *key;
	int err;

	memset(code, 0, sizeof(*code));
	err = store_get(vkey_store(o->key), OATH_NS_META, meta_code,
			sizeof(meta_code) - 1, &val, &len);
	if (err != STORE_OK)
		return err;
	r = rbuf_init(val, len);
	if (rbuf_u8(&r, &ver) != 0 || ver != CODE_V1 ||
	    rbuf_u8(&r, &code->type_alg) != 0 ||
	    oath_md(code->type_alg & OATH_ALG_MASK) < 0 ||
	    rbuf_u8(&r, &key_len) != 0 || key_len == 0 ||
	    key_len > OATH_KEY_MAX || rbuf_bytes(&r, key_len, &key) != 0 ||
	    rbuf_left(&r) != 0) {
		err = STORE_CORRUPT;
		goto out;
	}
	code->key_len = key_len;
	memcpy(code->key, key, key_len);
out:
	store_free_value(val, len);
	return err;
}

/* Save the access code, or remove it when code is NULL. */
int oath_code_save(struct oath *o, const struct oath_code *code)
{
	uint8_t buf[CODE_MAX];
	struct wbuf w = wbuf_init(buf, sizeof(buf));
	struct store *st = vkey_store(o->key);
	int err;

	if (code == NULL) {
		err = store_del(st, OATH_NS_META, meta_code,
				sizeof(meta_code) - 1);
		return err == STORE_NOT_FOUND ? STORE_OK : err;
	}
	wbuf_u8(&w, CODE_V1);
	wbuf_u8(&w, code->type_alg);
	wbuf_u8(&w, (uint8_t)code->key_len);
	wbuf_put(&w, code->key, code->key_len);
	err = w.overflow ? STORE_INVALID
			 : store_put(st, OATH_NS_META, meta_code,
				     sizeof(meta_code) - 1, buf, w.len);
	crypto_wipe(buf, sizeof(buf));
	return err;
}

/* Load the salt; with create, make one on first use. */
int oath_salt_load(struct oath *o, bool create)
{
	uint8_t *val = NULL;
	size_t len = 0;
	int err;

	err = store_get(vkey_store(o->key), OATH_NS_META, meta_salt,
			sizeof(meta_salt) - 1, &val, &len);
	if (err == STORE_NOT_FOUND && create)
		return oath_salt_renew(o);
	if (err != STORE_OK)
		return err;
	if (len == OATH_SALT_LEN)
		memcpy(o->salt, val, OATH_SALT_LEN);
	else
		err = STORE_CORRUPT;
	store_free_value(val, len);
	return err;
}

int oath_salt_renew(struct oath *o)
{
	uint8_t salt[OATH_SALT_LEN];
	int err;

	if (crypto_random(salt, sizeof(salt)) != 0)
		return STORE_IO;
	err = store_put(vkey_store(o->key), OATH_NS_META, meta_salt,
			sizeof(meta_salt) - 1, salt, sizeof(salt));
	if (err == STORE_OK)
		memcpy(o->salt, salt, sizeof(salt));
	crypto_wipe(salt, sizeof(salt));
	return err;
}
