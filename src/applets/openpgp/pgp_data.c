/* GET DATA, GET NEXT DATA, SELECT DATA and PUT DATA: the card's data
 * objects, their defaults, lengths and access rules. */
#include <string.h>

#include "apdu/sw.h"
#include "applets/openpgp/pgp_priv.h"
#include "services/crypto.h"

#define DO_MAX 2048

/* Access conditions. */
enum access {
	ACC_ALWAYS,
	ACC_PW1, /* PW1 verified with reference 82 */
	ACC_PW3,
	ACC_NEVER,
};

struct do_rule {
	uint16_t tag;
	enum access read;
	enum access write;
	uint16_t min, max; /* value length accepted by PUT DATA */
};

/* Simple DOs kept as records. Constructed and computed DOs are handled
 * in code below. */
static const struct do_rule rules[] = {
	{ PGP_DO_PRIVATE_1, ACC_ALWAYS, ACC_PW1, 0, PGP_SPECIAL_MAX },
	{ 0x0102, ACC_ALWAYS, ACC_PW3, 0, PGP_SPECIAL_MAX },
	{ 0x0103, ACC_PW1, ACC_PW1, 0, PGP_SPECIAL_MAX },
	{ PGP_DO_PRIVATE_4, ACC_PW3, ACC_PW3, 0, PGP_SPECIAL_MAX },
	{ PGP_DO_NAME, ACC_ALWAYS, ACC_PW3, 0, 39 },
	{ PGP_DO_LOGIN, ACC_ALWAYS, ACC_PW3, 0, PGP_SPECIAL_MAX },
	{ PGP_DO_LANG, ACC_ALWAYS, ACC_PW3, 0, 8 },
	{ PGP_DO_SEX, ACC_ALWAYS, ACC_PW3, 1, 1 },
	{ PGP_DO_URL, ACC_ALWAYS, ACC_PW3, 0, PGP_SPECIAL_MAX },
	{ PGP_DO_ATTR_SIG, ACC_ALWAYS, ACC_PW3, 2, PGP_ATTR_MAX },
	{ PGP_DO_ATTR_DEC, ACC_ALWAYS, ACC_PW3, 2, PGP_ATTR_MAX },
	{ PGP_DO_ATTR_AUT, ACC_ALWAYS, ACC_PW3, 2, PGP_ATTR_MAX },
	{ 0x00C7, ACC_NEVER, ACC_PW3, 20, 20 },
	{ 0x00C8, ACC_NEVER, ACC_PW3, 20, 20 },
	{ 0x00C9, ACC_NEVER, ACC_PW3, 20, 20 },
	{ 0x00CA, ACC_NEVER, ACC_PW3, 20, 20 },
	{ 0x00CB, ACC_NEVER, ACC_PW3, 20, 20 },
	{ 0x00CC, ACC_NEVER, ACC_PW3, 20, 20 },
	{ 0x00CE, ACC_NEVER, ACC_PW3, 4, 4 },
	{ 0x00CF, ACC_NEVER, ACC_PW3, 4, 4 },
	{ 0x00D0, ACC_NEVER, ACC_PW3, 4, 4 },
	{ 0x00D6, ACC_ALWAYS, ACC_PW3, 2, 2 },
	{ 0x00D7, ACC_ALWAYS, ACC_PW3, 2, 2 },
	{ 0x00D8, ACC_ALWAYS, ACC_PW3, 2, 2 },
	{ PGP_DO_KDF, ACC_ALWAYS, ACC_PW3, 3, 512 },
	{ PGP_DO_CERT, ACC_ALWAYS, ACC_PW3, 0, PGP_CERT_MAX },
};

static const struct do_rule *rule_of(uint16_t tag)
{
	for (size_t i = 0; i < sizeof(rules) / sizeof(rules[0]); i++)
		if (rules[i].tag == tag)
			return &rules[i];
	return NULL;
}

static bool allowed(struct pgp *p, enum access a)
{
	switch (a) {
	case ACC_ALWAYS:
		return true;
	case ACC_PW1:
		return p->pw1_other;
	case ACC_PW3:
		return p->pw3;
	default:
		return false;
	}
}

/* The value a DO has before anything is written to it. */
static size_t default_value(uint16_t tag, uint8_t *buf)
{
	static const uint8_t kdf_none[] = { 0x81, 0x01, 0x00 };

	switch (tag) {
	case PGP_DO_SEX:
		buf[0] = 0x39;
		return 1;
	case PGP_DO_ATTR_SIG:
	case PGP_DO_ATTR_DEC:
	case PGP_DO_ATTR_AUT:
		memcpy(buf, pgp_default_attr, sizeof(pgp_default_attr));
		return sizeof(pgp_default_attr);
	case 0x00C7: case 0x00C8: case 0x00C9:
	case 0x00CA: case 0x00CB: case 0x00CC:
		memset(buf, 0, 20);
		return 20;
	case 0x00CE: case 0x00CF: case 0x00D0:
		memset(buf, 0, 4);
		return 4;
	case 0x00D6: case 0x00D7: case 0x00D8:
		buf[0] = PGP_UIF_OFF;
		buf[1] = 0x20;
		return 2;
	case PGP_DO_KDF:
		memcpy(buf, kdf_none, sizeof(kdf_none));
		return sizeof(kdf_none);
	default:
		return 0;
	}
}

/* Record key of a certificate occurrence: 7F21 for the first, named
 * records for the others. */
static const char *const cert_rec[3] = { NULL, "cert1", "cert2" };

static int read_simple(struct pgp *p, uint16_t tag, uint8_t *buf, size_t cap,
		       size_t *len)
{
	int err;

	if (tag == PGP_DO_CERT && p->cert_index != 0)
		err = pgp_get_rec(p, cert_rec[p->cert_index], buf, cap, len);
	else
		err = pgp_get_do(p, tag, buf, cap, len);
	if (err == STORE_NOT_FOUND) {
		*len = default_value(tag, buf);
		err = STORE_OK;
	}
	return err;
}

/* Appends the value of a simple DO (no tag) to w. */
static int put_value(struct pgp *p, uint16_t tag, struct wbuf *w)
{
	uint8_t buf[DO_MAX];
	size_t len = 0;
	int err = read_simple(p, tag, buf, sizeof(buf), &len);

	if (err == STORE_OK)
		wbuf_put(w, buf, len);
	crypto_wipe(buf, len);
	return err;
}

static int put_tlv(struct pgp *p, uint16_t tag, struct wbuf *w)
{
	uint8_t buf[DO_MAX];
	size_t len = 0;
	int err = read_simple(p, tag, buf, sizeof(buf), &len);

	if (err == STORE_OK)
		wbuf_tlv(w, tag, buf, len);
	crypto_wipe(buf, len);
	return err;
}

/* Writes a constructed DO whose content is built by fn. */
static int put_constructed(struct pgp *p, uint16_t tag, struct wbuf *w,
			   int (*fn)(struct pgp *, struct wbuf *))
{
	uint8_t buf[DO_MAX];
	struct wbuf in = wbuf_init(buf, sizeof(buf));
	int err = fn(p, &in);

	if (err == STORE_OK && in.overflow)
		err = STORE_INVALID;
	if (err == STORE_OK)
		wbuf_tlv(w, tag, buf, in.len);
	crypto_wipe(buf, in.len);
	return err;
}

static int pw_status(struct pgp *p, struct wbuf *w)
{
	uint8_t c4[7];
	size_t len = 0;
	int err = pgp_get_do(p, PGP_DO_PW_STATUS, c4, 1, &len);

	if (err == STORE_NOT_FOUND) {
		c4[0] = 0x01;
		err = STORE_OK;
	}
	c4[1] = PGP_PW_MAX;
	c4[2] = PGP_PW_MAX;
	c4[3] = PGP_PW_MAX;
	c4[4] = pgp_pin_tries(p, PGP_PW1);
	c4[5] = pgp_pin_tries(p, PGP_RC);
	c4[6] = pgp_pin_tries(p, PGP_PW3);
	wbuf_put(w, c4, sizeof(c4));
	return err;
}

static int concat3(struct pgp *p, uint16_t first, struct wbuf *w)
{
	int err = STORE_OK;

	for (uint16_t i = 0; i < 3 && err == STORE_OK; i++)
		err = put_value(p, (uint16_t)(first + i), w);
	return err;
}

static int key_info(struct pgp *p, struct wbuf *w)
{
	for (int slot = PGP_SIG; slot < PGP_SLOTS; slot++) {
		wbuf_u8(w, (uint8_t)(slot + 1));
		wbuf_u8(w, pgp_key_status(p, slot));
	}
	return STORE_OK;
}

static void ext_caps(struct wbuf *w)
{
	static const uint8_t c0[] = {
		0x7F, /* challenge, import, PW status, private DOs, attrs,
		       * AES, KDF */
		0x00, /* no secure messaging */
		PGP_CHALLENGE_MAX >> 8, PGP_CHALLENGE_MAX & 0xFF,
		PGP_CERT_MAX >> 8, PGP_CERT_MAX & 0xFF,
		PGP_SPECIAL_MAX >> 8, PGP_SPECIAL_MAX & 0xFF,
		0x00, /* no PIN block 2 format */
		0x00, /* no MSE */
	};

	wbuf_put(w, c0, sizeof(c0));
}

static void ext_len(struct wbuf *w)
{
	static const uint8_t v[] = { 0x02, 0x02, PGP_EXT_LEN_MAX >> 8,
				     PGP_EXT_LEN_MAX & 0xFF, 0x02, 0x02,
				     PGP_EXT_LEN_MAX >> 8,
				     PGP_EXT_LEN_MAX & 0xFF };

	wbuf_put(w, v, sizeof(v));
}

static void features(struct wbuf *w)
{
	static const uint8_t v[] = { 0x81, 0x01, 0x20 }; /* a button */

	wbuf_put(w, v, sizeof(v));
}

static int tlv_of(struct pgp *p, uint16_t tag, struct wbuf *w,
		  int (*fn)(struct pgp *, struct wbuf *))
{
	return put_constructed(p, tag, w, fn);
}

static int caps_fn(struct pgp *p, struct wbuf *w)
{
	(void)p;
	ext_caps(w);
	return STORE_OK;
}

static int ext_len_fn(struct pgp *p, struct wbuf *w)
{
	(void)p;
	ext_len(w);
	return STORE_OK;
}

static int features_fn(struct pgp *p, struct wbuf *w)
{
	(void)p;
	features(w);
	return STORE_OK;
}

static int fprs_fn(struct pgp *p, struct wbuf *w)
{
	return concat3(p, PGP_DO_FPR_SIG, w);
}

static int ca_fprs_fn(struct pgp *p, struct wbuf *w)
{
	return concat3(p, PGP_DO_CA_FPR_1, w);
}

static int dates_fn(struct pgp *p, struct wbuf *w)
{
	return concat3(p, PGP_DO_DATE_SIG, w);
}

static int discretionary(struct pgp *p, struct wbuf *w)
{
	int err = tlv_of(p, PGP_DO_EXT_CAPS, w, caps_fn);

	for (uint16_t t = PGP_DO_ATTR_SIG; t <= PGP_DO_ATTR_AUT; t++)
		if (err == STORE_OK)
			err = put_tlv(p, t, w);
	if (err == STORE_OK)
		err = tlv_of(p, PGP_DO_PW_STATUS, w, pw_status);
	if (err == STORE_OK)
		err = tlv_of(p, PGP_DO_FPRS, w, fprs_fn);
	if (err == STORE_OK)
		err = tlv_of(p, PGP_DO_CA_FPRS, w, ca_fprs_fn);
	if (err == STORE_OK)
		err = tlv_of(p, PGP_DO_DATES, w, dates_fn);
	if (err == STORE_OK)
		err = tlv_of(p, PGP_DO_KEY_INFO, w, key_info);
	for (uint16_t t = 0x00D6; t <= 0x00D8; t++)
		if (err == STORE_OK)
			err = put_tlv(p, t, w);
	return err;
}

static int app_data(struct pgp *p, struct wbuf *w)
{
	uint8_t aid[16];
	int err;

	pgp_aid(p, aid);
	wbuf_tlv(w, PGP_DO_AID, aid, sizeof(aid));
	wbuf_tlv(w, PGP_DO_HIST, pgp_hist_bytes, sizeof(pgp_hist_bytes));
	err = tlv_of(p, PGP_DO_EXT_LEN, w, ext_len_fn);
	if (err == STORE_OK)
		err = tlv_of(p, PGP_DO_FEATURES, w, features_fn);
	if (err == STORE_OK)
		err = tlv_of(p, PGP_DO_DISCRETIONARY, w, discretionary);
	return err;
}

static int cardholder(struct pgp *p, struct wbuf *w)
{
	int err = put_tlv(p, PGP_DO_NAME, w);

	if (err == STORE_OK)
		err = put_tlv(p, PGP_DO_LANG, w);
	if (err == STORE_OK)
		err = put_tlv(p, PGP_DO_SEX, w);
	return err;
}

/* The signature counter's three bytes. */
static int sig_counter(struct pgp *p, struct wbuf *w)
{
	uint32_t n = 0;
	uint8_t v[3];
	int err = pgp_counter_get(p, &n);

	v[0] = (uint8_t)(n >> 16);
	v[1] = (uint8_t)(n >> 8);
	v[2] = (uint8_t)n;
	wbuf_put(w, v, sizeof(v));
	return err;
}

static int security(struct pgp *p, struct wbuf *w)
{
	return tlv_of(p, PGP_DO_SIG_COUNTER, w, sig_counter);
}

static int algo_info(struct pgp *p, struct wbuf *w)
{
	(void)p;
	pgp_algo_info(w);
	return STORE_OK;
}

/* GET DATA answers a constructed DO with its tag and a simple DO with
 * its value only. */
static int get_value(struct pgp *p, uint16_t tag, struct wbuf *w)
{
	uint8_t aid[16];

	switch (tag) {
	case PGP_DO_AID:
		pgp_aid(p, aid);
		wbuf_put(w, aid, sizeof(aid));
		return STORE_OK;
	case PGP_DO_HIST:
		wbuf_put(w, pgp_hist_bytes, sizeof(pgp_hist_bytes));
		return STORE_OK;
	case PGP_DO_APP_DATA:
		return tlv_of(p, tag, w, app_data);
	case PGP_DO_CARDHOLDER:
		return tlv_of(p, tag, w, cardholder);
	case PGP_DO_SECURITY:
		return tlv_of(p, tag, w, security);
	case PGP_DO_EXT_LEN:
		return tlv_of(p, tag, w, ext_len_fn);
	case PGP_DO_FEATURES:
		return tlv_of(p, tag, w, features_fn);
	case PGP_DO_ALGO_INFO:
		return tlv_of(p, tag, w, algo_info);
	case PGP_DO_EXT_CAPS:
		ext_caps(w);
		return STORE_OK;
	case PGP_DO_PW_STATUS:
		return pw_status(p, w);
	case PGP_DO_FPRS:
		return fprs_fn(p, w);
	case PGP_DO_CA_FPRS:
		return ca_fprs_fn(p, w);
	case PGP_DO_DATES:
		return dates_fn(p, w);
	case PGP_DO_KEY_INFO:
		return key_info(p, w);
	case PGP_DO_SIG_COUNTER:
		return sig_counter(p, w);
	case PGP_DO_ATT_CERT:
		return pgp_attest_ca(p, w);
	default:
		return put_value(p, tag, w);
	}
}

static bool readable(uint16_t tag)
{
	switch (tag) {
	case PGP_DO_AID: case PGP_DO_HIST: case PGP_DO_APP_DATA:
	case PGP_DO_CARDHOLDER: case PGP_DO_SECURITY: case PGP_DO_EXT_LEN:
	case PGP_DO_FEATURES: case PGP_DO_ALGO_INFO: case PGP_DO_EXT_CAPS:
	case PGP_DO_PW_STATUS: case PGP_DO_FPRS: case PGP_DO_CA_FPRS:
	case PGP_DO_DATES: case PGP_DO_KEY_INFO: case PGP_DO_SIG_COUNTER:
	case PGP_DO_ATT_CERT:
		return true;
	default:
		return false;
	}
}

static unsigned get_tag(struct pgp *p, uint16_t tag, struct wbuf *r)
{
	const struct do_rule *rule = rule_of(tag);

	if (!readable(tag)) {
		if (rule == NULL || rule->read == ACC_NEVER)
			return SW_REF_DATA_NOT_FOUND;
		if (!allowed(p, rule->read))
			return SW_SECURITY_STATUS;
	}
	if (get_value(p, tag, r) != STORE_OK)
		return SW_MEMORY_FAILURE;
	return r->overflow ? SW_UNKNOWN : SW_OK;
}

unsigned pgp_get_data(struct pgp *p, const struct apdu *cmd, struct wbuf *r)
{
	if (cmd->lc != 0)
		return SW_WRONG_LENGTH;
	return get_tag(p, (uint16_t)(cmd->p1 << 8 | cmd->p2), r);
}

unsigned pgp_get_next_data(struct pgp *p, const struct apdu *cmd,
			   struct wbuf *r)
{
	if (cmd->lc != 0)
		return SW_WRONG_LENGTH;
	if ((cmd->p1 << 8 | cmd->p2) != PGP_DO_CERT)
		return SW_REF_DATA_NOT_FOUND;
	if (p->cert_index >= 2)
		return SW_REF_DATA_NOT_FOUND;
	p->cert_index++;
	return get_tag(p, PGP_DO_CERT, r);
}

/* SELECT DATA: P1 the occurrence, P2 04, data 60 { 5C 7F21 } (the
 * 3.4 text) or 5C 7F21 alone (what some hosts send). */
unsigned pgp_select_data(struct pgp *p, const struct apdu *cmd,
			 struct wbuf *r)
{
	static const uint8_t wrapped[] = { 0x60, 0x04, 0x5C, 0x02, 0x7F,
					   0x21 };
	const uint8_t *bare = wrapped + 2;

	(void)r;
	if (cmd->p1 > 2 || cmd->p2 != 0x04)
		return SW_WRONG_P1P2;
	if (!(cmd->lc == sizeof(wrapped) &&
	      memcmp(cmd->data, wrapped, sizeof(wrapped)) == 0) &&
	    !(cmd->lc == sizeof(wrapped) - 2 &&
	      memcmp(cmd->data, bare, sizeof(wrapped) - 2) == 0))
		return SW_WRONG_DATA;
	p->cert_index = cmd->p1;
	return SW_OK;
}

/* ---- PUT DATA ----------------------------------------------------- */

int pgp_cert_put(struct pgp *p, uint8_t occurrence, const uint8_t *der,
		 size_t len)
{
	if (occurrence > 2)
		return STORE_INVALID;
	if (occurrence == 0)
		return len == 0 ? pgp_del_do(p, PGP_DO_CERT)
				: pgp_put_do(p, PGP_DO_CERT, der, len);
	return len == 0 ? pgp_del_rec(p, cert_rec[occurrence])
			: pgp_put_rec(p, cert_rec[occurrence], der, len);
}

static unsigned put_attr(struct pgp *p, uint16_t tag, const uint8_t *v,
			 size_t len)
{
	enum pgp_slot slot = (enum pgp_slot)(tag - PGP_DO_ATTR_SIG);
	uint8_t cur[PGP_ATTR_MAX];
	size_t cur_len = 0;
	struct pgp_algo algo;

	if (pgp_algo_parse(slot, v, len, &algo) != 0)
		return SW_WRONG_DATA;
	if (read_simple(p, tag, cur, sizeof(cur), &cur_len) != STORE_OK)
		return SW_MEMORY_FAILURE;
	if (cur_len == len && memcmp(cur, v, len) == 0)
		return SW_OK; /* unchanged: the key stays */
	/* New attributes: the slot's key no longer fits them. */
	return pgp_key_replace(p, slot, v, len, NULL);
}

static unsigned put_uif(struct pgp *p, uint16_t tag, const uint8_t *v)
{
	uint8_t cur[2];
	size_t len = 0;

	if (v[0] > PGP_UIF_PERMANENT || v[1] != 0x20)
		return SW_WRONG_DATA;
	if (read_simple(p, tag, cur, sizeof(cur), &len) != STORE_OK)
		return SW_MEMORY_FAILURE;
	if (len == 2 && cur[0] == PGP_UIF_PERMANENT && v[0] != cur[0])
		return SW_CONDITIONS_NOT_SATISFIED;
	return pgp_put_do(p, tag, v, 2) == STORE_OK ? SW_OK
						     : SW_MEMORY_FAILURE;
}

static bool len_ok_rc(struct pgp *p, size_t len)
{
	if (len == 0)
		return true;
	if (pgp_kdf_active(p))
		return len <= 64;
	return len >= 8 && len <= PGP_PW_MAX;
}

/* DOs without a record rule: PW status, resetting code, AES key. */
static unsigned put_special(struct pgp *p, uint16_t tag,
			    const struct apdu *cmd)
{
	int err;

	if (tag != PGP_DO_PW_STATUS && tag != PGP_DO_RC &&
	    tag != PGP_DO_AES_KEY)
		return SW_REF_DATA_NOT_FOUND;
	if (!p->pw3)
		return SW_SECURITY_STATUS;
	switch (tag) {
	case PGP_DO_PW_STATUS:
		if (cmd->lc != 1 && cmd->lc != 4)
			return SW_WRONG_LENGTH;
		if (cmd->data[0] > 1)
			return SW_WRONG_DATA;
		err = pgp_put_do(p, tag, cmd->data, 1);
		break;
	case PGP_DO_RC:
		if (!len_ok_rc(p, cmd->lc))
			return SW_WRONG_LENGTH;
		err = pgp_pin_set(p, PGP_RC, cmd->data, cmd->lc);
		break;
	case PGP_DO_AES_KEY:
		if (cmd->lc == 0) {
			err = pgp_del_do(p, tag);
			break;
		}
		if (cmd->lc != 16 && cmd->lc != 32)
			return SW_WRONG_LENGTH;
		err = pgp_put_do(p, tag, cmd->data, cmd->lc);
		break;
	default:
		return SW_REF_DATA_NOT_FOUND;
	}
	return err == STORE_OK ? SW_OK : SW_MEMORY_FAILURE;
}

unsigned pgp_put_data(struct pgp *p, const struct apdu *cmd, struct wbuf *r)
{
	uint16_t tag = (uint16_t)(cmd->p1 << 8 | cmd->p2);
	const struct do_rule *rule;
	int err;

	(void)r;
	if (cmd->ins == PGP_INS_PUT_DATA_ODD)
		return pgp_import(p, cmd, r);
	rule = rule_of(tag);
	if (rule == NULL)
		return put_special(p, tag, cmd);
	if (!allowed(p, rule->write))
		return SW_SECURITY_STATUS;
	if (cmd->lc > rule->max)
		return tag == PGP_DO_CERT || rule->max >= PGP_SPECIAL_MAX
			       ? SW_NOT_ENOUGH_SPACE
			       : SW_WRONG_LENGTH;
	if (cmd->lc < rule->min)
		return SW_WRONG_LENGTH;
	if (tag >= PGP_DO_ATTR_SIG && tag <= PGP_DO_ATTR_AUT)
		return put_attr(p, tag, cmd->data, cmd->lc);
	if (tag >= 0x00D6 && tag <= 0x00D8)
		return put_uif(p, tag, cmd->data);
	if (tag == PGP_DO_KDF) {
		err = pgp_kdf_apply(p, cmd->data, cmd->lc);
		if (err == STORE_INVALID)
			return SW_WRONG_DATA;
		if (err == STORE_OK)
			pgp_forget_access(p);
		return err == STORE_OK ? SW_OK : SW_MEMORY_FAILURE;
	}
	if (tag == PGP_DO_SEX && cmd->data[0] != 0x30 && cmd->data[0] != 0x31 &&
	    cmd->data[0] != 0x32 && cmd->data[0] != 0x39)
		return SW_WRONG_DATA;
	if (tag == PGP_DO_CERT)
		err = pgp_cert_put(p, p->cert_index, cmd->data, cmd->lc);
	else if (cmd->lc == 0)
		err = pgp_del_do(p, tag);
	else
		err = pgp_put_do(p, tag, cmd->data, cmd->lc);
	return err == STORE_OK ? SW_OK : SW_MEMORY_FAILURE;
}
