/* The OATH applet driven through vkey_open() + vkey_apdu() with raw
 * YKOATH APDUs, as ykman sends them: RFC 4226/6238 vectors, access code,
 * account management, limits, response chaining and malformed input. */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../check_key.h"
#include "applets/oath/oath.h"
#include "services/crypto.h"
#include "vkey/vkey.h"

#define SW_OK 0x9000

static struct vkey *key;
static struct check_key tk;
static uint8_t resp[VKEY_APDU_MAX];
static size_t resp_len;
static uint8_t all[1 << 17]; /* a whole chained response */
static size_t all_len;

/* Command data under construction. */
struct data {
	uint8_t b[4096];
	size_t n;
};

static const uint8_t rfc_key20[] = "12345678901234567890";
static const uint8_t rfc_key32[] = "12345678901234567890123456789012";
static const uint8_t rfc_key64[] =
	"1234567890123456789012345678901234567890123456789012345678901234";

/* --- harness ------------------------------------------------------------ */

static void begin(enum vkey_up_policy up)
{
	key = check_key_begin(&tk, "oath", up);
}

static void end(void)
{
	check_key_end(&tk);
	key = NULL;
}

static void reopen(enum vkey_up_policy up)
{
	key = check_key_reopen(&tk, up);
}

static unsigned sw_of(void)
{
	return (unsigned)(resp[resp_len - 2] << 8 | resp[resp_len - 1]);
}

static size_t data_len(void)
{
	return resp_len - 2;
}

static unsigned xfer(const uint8_t *b, size_t n)
{
	CHECK_EQ(vkey_apdu(key, b, n, resp, sizeof(resp), &resp_len), 0);
	return sw_of();
}

/* Short APDU when the data fits, extended otherwise; no Le. */
static unsigned send(uint8_t ins, uint8_t p1, uint8_t p2,
		     const struct data *d)
{
	static uint8_t b[8 + sizeof(((struct data *)0)->b)];
	size_t n = 0, lc = d ? d->n : 0;

	b[n++] = 0x00;
	b[n++] = ins;
	b[n++] = p1;
	b[n++] = p2;
	if (lc > 255) {
		b[n++] = 0;
		b[n++] = (uint8_t)(lc >> 8);
		b[n++] = (uint8_t)lc;
	} else if (lc > 0) {
		b[n++] = (uint8_t)lc;
	}
	if (lc > 0)
		memcpy(b + n, d->b, lc);
	return xfer(b, n + lc);
}

/* Send, then follow 61xx with SEND REMAINING (A5) as ykman does. */
static unsigned send_chained(uint8_t ins, uint8_t p1, uint8_t p2,
			     const struct data *d, int *rounds)
{
	static const uint8_t more[] = { 0x00, 0xA5, 0x00, 0x00 };
	unsigned sw = send(ins, p1, p2, d);

	all_len = 0;
	*rounds = 1;
	for (;;) {
		memcpy(all + all_len, resp, data_len());
		all_len += data_len();
		if ((sw >> 8) != 0x61)
			return sw;
		sw = xfer(more, sizeof(more));
		(*rounds)++;
	}
}

static void d_raw(struct data *d, const void *p, size_t n)
{
	if (n > 0)
		memcpy(d->b + d->n, p, n);
	d->n += n;
}

static void d_u8(struct data *d, uint8_t v)
{
	d_raw(d, &v, 1);
}

static void d_tlv(struct data *d, uint8_t tag, const void *p, size_t n)
{
	d_u8(d, tag);
	if (n > 255) {
		d_u8(d, 0x82);
		d_u8(d, (uint8_t)(n >> 8));
	} else if (n > 127) {
		d_u8(d, 0x81);
	}
	d_u8(d, (uint8_t)n);
	d_raw(d, p, n);
}

static void d_name(struct data *d, const char *name)
{
	d_tlv(d, 0x71, name, strlen(name));
}

static void d_key(struct data *d, uint8_t type_alg, uint8_t digits,
		  const uint8_t *k, size_t klen)
{
	uint8_t v[300];

	v[0] = type_alg;
	v[1] = digits;
	memcpy(v + 2, k, klen);
	d_tlv(d, 0x73, v, 2 + klen);
}

static void d_challenge_u64(struct data *d, uint64_t t)
{
	uint8_t c[8];

	for (int i = 7; i >= 0; i--, t >>= 8)
		c[i] = (uint8_t)t;
	d_tlv(d, 0x74, c, 8);
}

static unsigned select_oath(void)
{
	static const uint8_t sel[] = { 0x00, 0xA4, 0x04, 0x00, 0x07, 0xA0,
				       0x00, 0x00, 0x05, 0x27, 0x21, 0x01 };
	return xfer(sel, sizeof(sel));
}

static unsigned put(const char *name, uint8_t type_alg, uint8_t digits,
		    const uint8_t *k, size_t klen, int prop)
{
	struct data d = { .n = 0 };

	d_name(&d, name);
	d_key(&d, type_alg, digits, k, klen);
	if (prop >= 0) {
		d_u8(&d, 0x78);
		d_u8(&d, (uint8_t)prop);
	}
	return send(0x01, 0, 0, &d);
}

static unsigned put_totp(const char *name)
{
	return put(name, 0x21, 6, rfc_key20, 20, -1);
}

/* CALCULATE, truncated; returns the code or -SW. */
static long calc_code(const char *name, const uint8_t *chal, size_t n)
{
	struct data d = { .n = 0 };
	unsigned sw;
	uint32_t v;
	long mod = 1;

	d_name(&d, name);
	d_tlv(&d, 0x74, chal, n);
	sw = send(0xA2, 0, 1, &d);
	if (sw != SW_OK)
		return -(long)sw;
	CHECK_EQ(data_len(), 7);
	CHECK_EQ(resp[0], 0x76);
	CHECK_EQ(resp[1], 5);
	for (int i = 0; i < resp[2]; i++)
		mod *= 10;
	v = (uint32_t)resp[3] << 24 | (uint32_t)resp[4] << 16 |
	    (uint32_t)resp[5] << 8 | resp[6];
	CHECK_EQ(v & 0x80000000u, 0); /* the key masks the top bit */
	return (long)(v % (uint32_t)mod);
}

static long calc_totp(const char *name, uint64_t unix_time)
{
	uint8_t c[8];
	uint64_t t = unix_time / 30;

	for (int i = 7; i >= 0; i--, t >>= 8)
		c[i] = (uint8_t)t;
	return calc_code(name, c, 8);
}

static long calc_hotp(const char *name)
{
	return calc_code(name, NULL, 0);
}

static size_t count_tag(const uint8_t *p, size_t n, uint8_t tag)
{
	size_t c = 0, i = 0;

	while (i + 2 <= n) {
		size_t len = p[i + 1];
		size_t hdr = 2;
		if (p[i + 1] == 0x81) {
			len = p[i + 2];
			hdr = 3;
		}
		if (p[i] == tag)
			c++;
		i += hdr + len;
	}
	return c;
}

/* A TLV in p[0..n) by position (0-based); NULL when absent. */
static const uint8_t *nth_tlv(const uint8_t *p, size_t n, size_t idx,
			      uint8_t *tag, size_t *len)
{
	size_t i = 0;

	while (i + 2 <= n) {
		size_t l = p[i + 1], hdr = 2;
		if (p[i + 1] == 0x81) {
			l = p[i + 2];
			hdr = 3;
		}
		if (idx-- == 0) {
			*tag = p[i];
			*len = l;
			return p + i + hdr;
		}
		i += hdr + l;
	}
	return NULL;
}

/* --- SELECT ------------------------------------------------------------- */

static void select_reports_version_5_7_1_and_salt(void)
{
	begin(VKEY_UP_AUTO);
	CHECK_EQ(select_oath(), SW_OK);
	CHECK_EQ(data_len(), 15);
	CHECK_EQ(resp[0], 0x79);
	CHECK_EQ(resp[1], 3);
	CHECK_EQ(resp[2], 5);
	CHECK_EQ(resp[3], 7);
	CHECK_EQ(resp[4], 1);
	CHECK_EQ(resp[5], 0x71);
	CHECK_EQ(resp[6], 8);
	end();
}

static void salt_persists_across_reopen(void)
{
	uint8_t salt[8];

	begin(VKEY_UP_AUTO);
	select_oath();
	memcpy(salt, resp + 7, 8);
	reopen(VKEY_UP_AUTO);
	select_oath();
	CHECK_MEM(resp + 7, salt, 8);
	end();
}

static void two_keys_get_different_salts(void)
{
	uint8_t salt[8];

	begin(VKEY_UP_AUTO);
	select_oath();
	memcpy(salt, resp + 7, 8);
	end();
	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK(memcmp(resp + 7, salt, 8) != 0);
	end();
}

/* --- HOTP / TOTP vectors ------------------------------------------------ */

static void hotp_matches_rfc4226_appendix_d(void)
{
	static const long want[] = { 755224, 287082, 359152, 969429, 338314,
				     254676, 287922, 162583, 399871, 520489 };

	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(put("hotp", 0x11, 6, rfc_key20, 20, -1), SW_OK);
	for (size_t i = 0; i < 10; i++)
		CHECK_EQ(calc_hotp("hotp"), want[i]);
	end();
}

static void hotp_counter_persists_across_reopen(void)
{
	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(put("hotp", 0x11, 6, rfc_key20, 20, -1), SW_OK);
	CHECK_EQ(calc_hotp("hotp"), 755224);
	CHECK_EQ(calc_hotp("hotp"), 287082);
	reopen(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(calc_hotp("hotp"), 359152);
	end();
}

static void hotp_initial_counter_from_imf(void)
{
	struct data d = { .n = 0 };
	static const uint8_t imf[] = { 0, 0, 0, 5 };

	begin(VKEY_UP_AUTO);
	select_oath();
	d_name(&d, "hotp");
	d_key(&d, 0x11, 6, rfc_key20, 20);
	d_tlv(&d, 0x7A, imf, 4);
	CHECK_EQ(send(0x01, 0, 0, &d), SW_OK);
	CHECK_EQ(calc_hotp("hotp"), 254676);
	end();
}

static void totp_matches_rfc6238_appendix_b(void)
{
	static const struct {
		uint64_t t;
		long sha1, sha256, sha512;
	} v[] = {
		{ 59, 94287082, 46119246, 90693936 },
		{ 1111111109, 7081804, 68084774, 25091201 },
		{ 1111111111, 14050471, 67062674, 99943326 },
		{ 1234567890, 89005924, 91819424, 93441116 },
		{ 2000000000, 69279037, 90698825, 38618901 },
		{ 20000000000ull, 65353130, 77737706, 47863826 },
	};

	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(put("sha1", 0x21, 8, rfc_key20, 20, -1), SW_OK);
	CHECK_EQ(put("sha256", 0x22, 8, rfc_key32, 32, -1), SW_OK);
	CHECK_EQ(put("sha512", 0x23, 8, rfc_key64, 64, -1), SW_OK);
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		CHECK_EQ(calc_totp("sha1", v[i].t), v[i].sha1);
		CHECK_EQ(calc_totp("sha256", v[i].t), v[i].sha256);
		CHECK_EQ(calc_totp("sha512", v[i].t), v[i].sha512);
	}
	end();
}

static void calculate_full_returns_whole_hmac(void)
{
	struct data d = { .n = 0 };
	uint8_t chal[8] = { 0, 0, 0, 0, 0, 0, 0, 1 }, mac[64];

	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(put("sha256", 0x22, 7, rfc_key32, 32, -1), SW_OK);
	d_name(&d, "sha256");
	d_tlv(&d, 0x74, chal, 8);
	CHECK_EQ(send(0xA2, 0, 0, &d), SW_OK);
	crypto_hmac(CRYPTO_SHA256, rfc_key32, 32, chal, 8, mac);
	CHECK_EQ(data_len(), 2 + 1 + 32);
	CHECK_EQ(resp[0], 0x75);
	CHECK_EQ(resp[1], 33);
	CHECK_EQ(resp[2], 7);
	CHECK_MEM(resp + 3, mac, 32);
	end();
}

static void calculate_unknown_account_is_6984(void)
{
	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(calc_totp("nobody", 59), -0x6984);
	end();
}

static void calculate_all_lists_hotp_and_touch_without_code(void)
{
	struct data d = { .n = 0 };
	const uint8_t *v;
	uint8_t tag;
	size_t len;

	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(put("a-totp", 0x21, 8, rfc_key20, 20, -1), SW_OK);
	CHECK_EQ(put("b-hotp", 0x11, 6, rfc_key20, 20, -1), SW_OK);
	CHECK_EQ(put("c-touch", 0x21, 7, rfc_key20, 20, 0x02), SW_OK);
	CHECK_EQ(put("d-hotp-touch", 0x11, 8, rfc_key20, 20, 0x02), SW_OK);
	d_challenge_u64(&d, 59 / 30);
	CHECK_EQ(send(0xA4, 0, 1, &d), SW_OK);

	v = nth_tlv(resp, data_len(), 0, &tag, &len);
	CHECK(v != NULL && tag == 0x71 && len == 6 && !memcmp(v, "a-totp", 6));
	v = nth_tlv(resp, data_len(), 1, &tag, &len);
	CHECK(v != NULL && tag == 0x76 && len == 5 && v[0] == 8);
	if (v != NULL)
		CHECK_EQ(((uint32_t)v[1] << 24 | (uint32_t)v[2] << 16 |
			  (uint32_t)v[3] << 8 | v[4]) % 100000000u,
			 94287082);
	v = nth_tlv(resp, data_len(), 3, &tag, &len);
	CHECK(v != NULL && tag == 0x77 && len == 1 && v[0] == 6);
	v = nth_tlv(resp, data_len(), 5, &tag, &len);
	CHECK(v != NULL && tag == 0x7C && len == 1 && v[0] == 7);
	/* A HOTP account shows as HOTP even when it also needs a touch. */
	v = nth_tlv(resp, data_len(), 7, &tag, &len);
	CHECK(v != NULL && tag == 0x77 && len == 1 && v[0] == 8);
	CHECK(nth_tlv(resp, data_len(), 8, &tag, &len) == NULL);
	/* Listing did not move the HOTP counter. */
	CHECK_EQ(calc_hotp("b-hotp"), 755224);
	end();
}

static void calculate_all_full_returns_whole_hmac(void)
{
	struct data d = { .n = 0 };
	const uint8_t *v;
	uint8_t tag;
	size_t len;

	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(put("a", 0x21, 6, rfc_key20, 20, -1), SW_OK);
	d_challenge_u64(&d, 1);
	CHECK_EQ(send(0xA4, 0, 0, &d), SW_OK);
	v = nth_tlv(resp, data_len(), 1, &tag, &len);
	CHECK(v != NULL && tag == 0x75 && len == 21 && v[0] == 6);
	end();
}

static void calculate_all_empty_key_answers_nothing(void)
{
	struct data d = { .n = 0 };

	begin(VKEY_UP_AUTO);
	select_oath();
	d_challenge_u64(&d, 1);
	CHECK_EQ(send(0xA4, 0, 1, &d), SW_OK);
	CHECK_EQ(data_len(), 0);
	end();
}

static void only_increasing_totp_refuses_older_time_step(void)
{
	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(put("inc", 0x21, 8, rfc_key20, 20, 0x01), SW_OK);
	CHECK_EQ(calc_totp("inc", 1111111109), 7081804);
	CHECK_EQ(calc_totp("inc", 1111111109), 7081804);
	CHECK_EQ(calc_totp("inc", 59), -0x6982);
	reopen(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(calc_totp("inc", 59), -0x6982);
	CHECK_EQ(calc_totp("inc", 1234567890), 89005924);
	end();
}

/* --- touch -------------------------------------------------------------- */

static void touch_account_calculates_when_approved(void)
{
	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(put("t", 0x21, 8, rfc_key20, 20, 0x02), SW_OK);
	CHECK_EQ(calc_totp("t", 59), 94287082);
	end();
}

static void touch_denied_answers_6982_and_keeps_counter(void)
{
	begin(VKEY_UP_DENY);
	select_oath();
	CHECK_EQ(put("t", 0x21, 8, rfc_key20, 20, 0x02), SW_OK);
	CHECK_EQ(put("h", 0x11, 6, rfc_key20, 20, 0x02), SW_OK);
	CHECK_EQ(calc_totp("t", 59), -0x6982);
	CHECK_EQ(data_len(), 0);
	CHECK_EQ(calc_hotp("h"), -0x6982);
	reopen(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(calc_hotp("h"), 755224);
	end();
}

static void touch_timeout_answers_6982(void)
{
	begin(VKEY_UP_PROMPT); /* 200 ms and nobody touches */
	select_oath();
	CHECK_EQ(put("t", 0x21, 8, rfc_key20, 20, 0x02), SW_OK);
	CHECK_EQ(calc_totp("t", 59), -0x6982);
	end();
}

/* --- access code -------------------------------------------------------- */

static const uint8_t code_key[16] = { 1, 2, 3, 4, 5, 6, 7, 8,
				      9, 10, 11, 12, 13, 14, 15, 16 };

static unsigned set_code(const uint8_t *k, size_t n, bool good_response)
{
	struct data d = { .n = 0 };
	uint8_t v[65], chal[8] = { 9, 8, 7, 6, 5, 4, 3, 2 }, mac[20];

	v[0] = 0x21; /* TOTP | SHA1, as ykman */
	memcpy(v + 1, k, n);
	d_tlv(&d, 0x73, v, 1 + n);
	d_tlv(&d, 0x74, chal, 8);
	crypto_hmac(CRYPTO_SHA1, k, n, chal, 8, mac);
	if (!good_response)
		mac[0] ^= 1;
	d_tlv(&d, 0x75, mac, 20);
	return send(0x03, 0, 0, &d);
}

/* SELECT, then answer its challenge (bad=true flips a bit). */
static unsigned validate(const uint8_t *k, size_t n, bool bad)
{
	struct data d = { .n = 0 };
	uint8_t chal[8], mine[8] = { 1, 1, 2, 3, 5, 8, 13, 21 }, mac[20];

	CHECK_EQ(select_oath(), SW_OK);
	CHECK_EQ(data_len(), 15 + 10 + 3);
	CHECK_EQ(resp[15], 0x74);
	CHECK_EQ(resp[25], 0x7B);
	CHECK_EQ(resp[27], 0x01);
	memcpy(chal, resp + 17, 8);
	crypto_hmac(CRYPTO_SHA1, k, n, chal, 8, mac);
	if (bad)
		mac[19] ^= 0x80;
	d_tlv(&d, 0x75, mac, 20);
	d_tlv(&d, 0x74, mine, 8);
	if (send(0xA3, 0, 0, &d) != SW_OK)
		return sw_of();
	crypto_hmac(CRYPTO_SHA1, k, n, mine, 8, mac);
	CHECK_EQ(data_len(), 22);
	CHECK_EQ(resp[0], 0x75);
	CHECK_EQ(resp[1], 20);
	CHECK_MEM(resp + 2, mac, 20);
	return SW_OK;
}

static void set_code_then_validate_unlocks(void)
{
	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(put_totp("acct"), SW_OK);
	CHECK_EQ(set_code(code_key, 16, true), SW_OK);
	CHECK_EQ(validate(code_key, 16, false), SW_OK);
	CHECK_EQ(calc_totp("acct", 59), 287082);
	CHECK_EQ(send(0xA1, 0, 0, NULL), SW_OK);
	end();
}

static void locked_key_answers_6982_until_validated(void)
{
	struct data d = { .n = 0 };

	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(put_totp("acct"), SW_OK);
	CHECK_EQ(set_code(code_key, 16, true), SW_OK);
	CHECK_EQ(select_oath(), SW_OK);
	CHECK_EQ(send(0xA1, 0, 0, NULL), 0x6982);
	CHECK_EQ(put_totp("other"), 0x6982);
	CHECK_EQ(calc_totp("acct", 59), -0x6982);
	d_challenge_u64(&d, 1);
	CHECK_EQ(send(0xA4, 0, 1, &d), 0x6982);
	CHECK_EQ(set_code(code_key, 16, true), 0x6982);
	d.n = 0;
	d_name(&d, "acct");
	CHECK_EQ(send(0x02, 0, 0, &d), 0x6982);
	/* Unknown instructions stay unknown. */
	CHECK_EQ(send(0x42, 0, 0, NULL), 0x6D00);
	/* The lock survives a restart and a power cycle. */
	reopen(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(send(0xA1, 0, 0, NULL), 0x6982);
	CHECK_EQ(validate(code_key, 16, false), SW_OK);
	vkey_power_off(key);
	vkey_power_on(key);
	select_oath();
	CHECK_EQ(send(0xA1, 0, 0, NULL), 0x6982);
	end();
}

static void validate_with_wrong_response_is_6a80(void)
{
	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(set_code(code_key, 16, true), SW_OK);
	CHECK_EQ(validate(code_key, 16, true), 0x6A80);
	CHECK_EQ(data_len(), 0);
	CHECK_EQ(send(0xA1, 0, 0, NULL), 0x6982);
	end();
}

static void set_code_with_wrong_response_is_6984(void)
{
	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(set_code(code_key, 16, false), 0x6984);
	CHECK_EQ(select_oath(), SW_OK);
	CHECK_EQ(data_len(), 15); /* no challenge: no code */
	end();
}

static void validate_without_code_is_6984(void)
{
	struct data d = { .n = 0 };
	uint8_t mac[20] = { 0 }, chal[8] = { 0 };

	begin(VKEY_UP_AUTO);
	select_oath();
	d_tlv(&d, 0x75, mac, 20);
	d_tlv(&d, 0x74, chal, 8);
	CHECK_EQ(send(0xA3, 0, 0, &d), 0x6984);
	end();
}

static void empty_key_removes_code(void)
{
	static const uint8_t unset[] = { 0x73, 0x00 };
	struct data d = { .n = 0 };

	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(set_code(code_key, 16, true), SW_OK);
	CHECK_EQ(validate(code_key, 16, false), SW_OK);
	d_raw(&d, unset, 2);
	CHECK_EQ(send(0x03, 0, 0, &d), SW_OK);
	CHECK_EQ(select_oath(), SW_OK);
	CHECK_EQ(data_len(), 15);
	CHECK_EQ(send(0xA1, 0, 0, NULL), SW_OK);
	end();
}

static void reset_works_while_locked(void)
{
	uint8_t salt[8];

	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(put_totp("acct"), SW_OK);
	CHECK_EQ(set_code(code_key, 16, true), SW_OK);
	CHECK_EQ(select_oath(), SW_OK);
	memcpy(salt, resp + 7, 8);
	CHECK_EQ(send(0x04, 0xDE, 0xAD, NULL), SW_OK);
	CHECK_EQ(select_oath(), SW_OK);
	CHECK_EQ(data_len(), 15);
	CHECK(memcmp(resp + 7, salt, 8) != 0);
	CHECK_EQ(send(0xA1, 0, 0, NULL), SW_OK);
	CHECK_EQ(data_len(), 0);
	end();
}

/* --- account management ------------------------------------------------- */

static void list_shows_type_algorithm_and_name(void)
{
	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(put("Issuer:alice", 0x23, 8, rfc_key64, 64, -1), SW_OK);
	CHECK_EQ(put("counter", 0x11, 6, rfc_key20, 20, -1), SW_OK);
	CHECK_EQ(send(0xA1, 0, 0, NULL), SW_OK);
	CHECK_EQ(data_len(), 2 + 1 + 12 + 2 + 1 + 7);
	/* Key order: "Issuer:alice" < "counter" in bytes. */
	CHECK_EQ(resp[0], 0x72);
	CHECK_EQ(resp[1], 13);
	CHECK_EQ(resp[2], 0x23);
	CHECK_MEM(resp + 3, "Issuer:alice", 12);
	CHECK_EQ(resp[15], 0x72);
	CHECK_EQ(resp[16], 8);
	CHECK_EQ(resp[17], 0x11);
	CHECK_MEM(resp + 18, "counter", 7);
	end();
}

static void put_overwrites_existing_account(void)
{
	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(put("x", 0x11, 6, rfc_key20, 20, -1), SW_OK);
	CHECK_EQ(calc_hotp("x"), 755224);
	CHECK_EQ(put("x", 0x11, 6, rfc_key20, 20, -1), SW_OK);
	CHECK_EQ(calc_hotp("x"), 755224); /* counter back to 0 */
	end();
}

static void rename_moves_account(void)
{
	struct data d = { .n = 0 };

	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(put("old", 0x11, 6, rfc_key20, 20, -1), SW_OK);
	CHECK_EQ(put("taken", 0x21, 6, rfc_key20, 20, -1), SW_OK);
	CHECK_EQ(calc_hotp("old"), 755224);
	d_name(&d, "old");
	d_name(&d, "Issuer:new");
	CHECK_EQ(send(0x05, 0, 0, &d), SW_OK);
	CHECK_EQ(calc_hotp("old"), -0x6984);
	CHECK_EQ(calc_hotp("Issuer:new"), 287082); /* counter came along */
	d.n = 0;
	d_name(&d, "missing");
	d_name(&d, "other");
	CHECK_EQ(send(0x05, 0, 0, &d), 0x6984);
	d.n = 0;
	d_name(&d, "Issuer:new");
	d_name(&d, "taken");
	CHECK_EQ(send(0x05, 0, 0, &d), 0x6A80);
	CHECK_EQ(calc_hotp("Issuer:new"), 359152);
	end();
}

static void delete_removes_account(void)
{
	struct data d = { .n = 0 };

	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(put_totp("gone"), SW_OK);
	d_name(&d, "gone");
	CHECK_EQ(send(0x02, 0, 0, &d), SW_OK);
	CHECK_EQ(calc_totp("gone", 59), -0x6984);
	CHECK_EQ(send(0x02, 0, 0, &d), 0x6984);
	end();
}

static void reset_forgets_accounts_and_salt(void)
{
	uint8_t salt[8];

	begin(VKEY_UP_AUTO);
	select_oath();
	memcpy(salt, resp + 7, 8);
	CHECK_EQ(put_totp("a"), SW_OK);
	CHECK_EQ(send(0x04, 0xDE, 0xAE, NULL), 0x6A86);
	CHECK_EQ(send(0x04, 0, 0, NULL), 0x6A86);
	CHECK_EQ(send(0x04, 0xDE, 0xAD, NULL), SW_OK);
	CHECK_EQ(calc_totp("a", 59), -0x6984);
	reopen(VKEY_UP_AUTO);
	select_oath();
	CHECK(memcmp(resp + 7, salt, 8) != 0);
	CHECK_EQ(send(0xA1, 0, 0, NULL), SW_OK);
	CHECK_EQ(data_len(), 0);
	end();
}

static void accounts_persist_across_reopen(void)
{
	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(put("kept", 0x22, 8, rfc_key32, 32, 0x02), SW_OK);
	reopen(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(calc_totp("kept", 59), 46119246);
	CHECK_EQ(send(0xA1, 0, 0, NULL), SW_OK);
	CHECK_EQ(resp[2], 0x22);
	end();
}

static void name_of_64_bytes_ok_65_rejected(void)
{
	char name[66];

	begin(VKEY_UP_AUTO);
	select_oath();
	memset(name, 'n', 65);
	name[64] = '\0';
	CHECK_EQ(put_totp(name), SW_OK);
	CHECK_EQ(calc_totp(name, 59), 287082);
	name[64] = 'n';
	name[65] = '\0';
	CHECK_EQ(put_totp(name), 0x6A80);
	end();
}

static void sha512_takes_a_128_byte_key(void)
{
	uint8_t k[129];

	memset(k, 0x5A, sizeof(k));
	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(put("big", 0x23, 6, k, 128, -1), SW_OK);
	CHECK_EQ(put("big", 0x23, 6, k, 129, -1), 0x6A80);
	CHECK_EQ(put("big1", 0x21, 6, k, 64, -1), SW_OK);
	CHECK_EQ(put("big1", 0x21, 6, k, 65, -1), 0x6A80);
	CHECK(calc_totp("big", 59) >= 0);
	end();
}

static void limit_256_accounts_then_6a84(void)
{
	char name[32];
	struct data d = { .n = 0 };
	int rounds;

	begin(VKEY_UP_AUTO);
	select_oath();
	for (int i = 0; i < 256; i++) {
		snprintf(name, sizeof(name), "account-%03d", i);
		CHECK_EQ(put_totp(name), SW_OK);
	}
	CHECK_EQ(put_totp("one-too-many"), 0x6A84);
	CHECK_EQ(put_totp("account-007"), SW_OK); /* overwrite still fits */
	CHECK_EQ(send_chained(0xA1, 0, 0, NULL, &rounds), SW_OK);
	CHECK_EQ(count_tag(all, all_len, 0x72), 256);
	CHECK(rounds > 1);
	d_challenge_u64(&d, 1);
	CHECK_EQ(send_chained(0xA4, 0, 1, &d, &rounds), SW_OK);
	CHECK_EQ(count_tag(all, all_len, 0x71), 256);
	CHECK_EQ(count_tag(all, all_len, 0x76), 256);
	CHECK_EQ(all_len, 256 * (2 + 11 + 2 + 5));
	end();
}

static void long_list_chains_with_send_remaining(void)
{
	char name[65];
	struct data d = { .n = 0 };
	int rounds;

	begin(VKEY_UP_AUTO);
	select_oath();
	for (int i = 0; i < 20; i++) {
		memset(name, 'a' + i, 64);
		name[64] = '\0';
		CHECK_EQ(put(name, i % 2 ? 0x11 : 0x21, 6, rfc_key20, 20, -1),
			 SW_OK);
	}
	CHECK_EQ(send(0xA1, 0, 0, NULL), 0x6100); /* 20 * 67 > 256 */
	CHECK_EQ(data_len(), 256);
	CHECK_EQ(send_chained(0xA1, 0, 0, NULL, &rounds), SW_OK);
	CHECK_EQ(all_len, 20 * 67);
	CHECK_EQ(rounds, 6);
	CHECK_EQ(count_tag(all, all_len, 0x72), 20);
	d_challenge_u64(&d, 1);
	CHECK_EQ(send_chained(0xA4, 0, 1, &d, &rounds), SW_OK);
	CHECK_EQ(all_len, 10 * (66 + 7) + 10 * (66 + 3));
	CHECK_EQ(count_tag(all, all_len, 0x77), 10);
	CHECK_EQ(count_tag(all, all_len, 0x76), 10);
	end();
}

/* --- reports and logs --------------------------------------------------- */

static void describe_shows_name_but_no_secret(void)
{
	struct data d = { .n = 0 };
	struct apdu cmd = { 0 };
	char out[160];
	uint8_t k[20];

	memset(k, 'Z', sizeof(k));
	d_name(&d, "bob@example");
	d_key(&d, 0x22, 8, k, 20);
	d_u8(&d, 0x78);
	d_u8(&d, 0x02);
	cmd.ins = 0x01;
	cmd.data = d.b;
	cmd.lc = d.n;
	oath_applet.describe(&cmd, out, sizeof(out));
	CHECK(strcmp(out, "PUT \"bob@example\" TOTP SHA256 8 digits touch") ==
	      0);
	CHECK(strchr(out, 'Z') == NULL);
	cmd.ins = 0xA3;
	oath_applet.describe(&cmd, out, sizeof(out));
	CHECK(strcmp(out, "VALIDATE") == 0);
	d.n = 0;
	d_name(&d, "evil\nline");
	cmd.ins = 0x02;
	cmd.lc = d.n;
	oath_applet.describe(&cmd, out, sizeof(out));
	CHECK(strcmp(out, "DELETE \"evil?line\"") == 0);
}

static void reports_count_accounts_and_never_show_keys(void)
{
	char out[4096];

	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(put("plain", 0x21, 6, rfc_key20, 20, -1), SW_OK);
	CHECK_EQ(put("touchy", 0x13, 8, rfc_key64, 64, 0x02), SW_OK);
	CHECK(vkey_report_status(key, out, sizeof(out)) > 0);
	CHECK(strstr(out, "oath: 2 accounts (1 touch-required), access code "
			  "not set") != NULL);
	CHECK(vkey_report_oath_list(key, out, sizeof(out)) > 0);
	CHECK(strstr(out, "plain  TOTP SHA1 6 digits\n") != NULL);
	CHECK(strstr(out, "touchy  HOTP SHA512 8 digits touch\n") != NULL);
	CHECK(strstr(out, "12345678") == NULL);
	CHECK_EQ(set_code(code_key, 16, true), SW_OK);
	CHECK(vkey_report_status(key, out, sizeof(out)) > 0);
	CHECK(strstr(out, "access code set") != NULL);
	end();
}

/* --- malformed input: one case each -------------------------------------- */

static unsigned put_raw(const uint8_t *p, size_t n)
{
	struct data d = { .n = 0 };

	d_raw(&d, p, n);
	return send(0x01, 0, 0, &d);
}

static void regress_put_truncated_tlv(void)
{
	static const uint8_t b[] = { 0x71, 0x05, 'a', 'b' };

	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(put_raw(b, sizeof(b)), 0x6A80);
	end();
}

static void regress_put_missing_name(void)
{
	struct data d = { .n = 0 };

	begin(VKEY_UP_AUTO);
	select_oath();
	d_key(&d, 0x21, 6, rfc_key20, 20);
	CHECK_EQ(send(0x01, 0, 0, &d), 0x6A80);
	end();
}

static void regress_put_missing_key(void)
{
	struct data d = { .n = 0 };

	begin(VKEY_UP_AUTO);
	select_oath();
	d_name(&d, "k");
	CHECK_EQ(send(0x01, 0, 0, &d), 0x6A80);
	end();
}

static void regress_put_empty_name(void)
{
	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(put("", 0x21, 6, rfc_key20, 20, -1), 0x6A80);
	end();
}

static void regress_put_key_too_short(void)
{
	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(put("k", 0x21, 6, rfc_key20, 13, -1), 0x6A80);
	CHECK_EQ(put("k", 0x21, 6, rfc_key20, 0, -1), 0x6A80);
	CHECK_EQ(put("k", 0x21, 6, rfc_key20, 14, -1), SW_OK);
	end();
}

static void regress_put_key_without_digits(void)
{
	static const uint8_t b[] = { 0x71, 0x01, 'k', 0x73, 0x01, 0x21 };

	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(put_raw(b, sizeof(b)), 0x6A80);
	end();
}

static void regress_put_bad_algorithm(void)
{
	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(put("k", 0x24, 6, rfc_key20, 20, -1), 0x6A80);
	CHECK_EQ(put("k", 0x20, 6, rfc_key20, 20, -1), 0x6A80);
	end();
}

static void regress_put_bad_type(void)
{
	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(put("k", 0x31, 6, rfc_key20, 20, -1), 0x6A80);
	CHECK_EQ(put("k", 0x01, 6, rfc_key20, 20, -1), 0x6A80);
	end();
}

static void regress_put_bad_digits(void)
{
	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(put("k", 0x21, 5, rfc_key20, 20, -1), 0x6A80);
	CHECK_EQ(put("k", 0x21, 9, rfc_key20, 20, -1), 0x6A80);
	CHECK_EQ(put("k", 0x21, 0, rfc_key20, 20, -1), 0x6A80);
	CHECK_EQ(put("k", 0x21, 7, rfc_key20, 20, -1), SW_OK);
	end();
}

static void regress_put_unknown_property_bits(void)
{
	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(put("k", 0x21, 6, rfc_key20, 20, 0x04), 0x6A80);
	end();
}

static void regress_put_property_without_value(void)
{
	struct data d = { .n = 0 };

	begin(VKEY_UP_AUTO);
	select_oath();
	d_name(&d, "k");
	d_key(&d, 0x21, 6, rfc_key20, 20);
	d_u8(&d, 0x78);
	CHECK_EQ(send(0x01, 0, 0, &d), 0x6A80);
	end();
}

static void regress_put_duplicate_name(void)
{
	struct data d = { .n = 0 };

	begin(VKEY_UP_AUTO);
	select_oath();
	d_name(&d, "k");
	d_name(&d, "k");
	d_key(&d, 0x21, 6, rfc_key20, 20);
	CHECK_EQ(send(0x01, 0, 0, &d), 0x6A80);
	end();
}

static void regress_put_unknown_tag(void)
{
	struct data d = { .n = 0 };

	begin(VKEY_UP_AUTO);
	select_oath();
	d_name(&d, "k");
	d_key(&d, 0x21, 6, rfc_key20, 20);
	d_tlv(&d, 0x7E, "x", 1);
	CHECK_EQ(send(0x01, 0, 0, &d), 0x6A80);
	end();
}

static void regress_put_imf_wrong_length(void)
{
	struct data d = { .n = 0 };

	begin(VKEY_UP_AUTO);
	select_oath();
	d_name(&d, "k");
	d_key(&d, 0x11, 6, rfc_key20, 20);
	d_tlv(&d, 0x7A, "\0\0\1", 3);
	CHECK_EQ(send(0x01, 0, 0, &d), 0x6A80);
	end();
}

static void regress_put_imf_on_totp(void)
{
	struct data d = { .n = 0 };

	begin(VKEY_UP_AUTO);
	select_oath();
	d_name(&d, "k");
	d_key(&d, 0x21, 6, rfc_key20, 20);
	d_tlv(&d, 0x7A, "\0\0\0\1", 4);
	CHECK_EQ(send(0x01, 0, 0, &d), 0x6A80);
	end();
}

static void regress_put_bad_length_byte(void)
{
	static const uint8_t b[] = { 0x71, 0x83, 0, 0, 1, 'k' };

	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(put_raw(b, sizeof(b)), 0x6A80);
	end();
}

static void regress_calculate_missing_challenge(void)
{
	struct data d = { .n = 0 };

	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(put_totp("k"), SW_OK);
	d_name(&d, "k");
	CHECK_EQ(send(0xA2, 0, 1, &d), 0x6A80);
	end();
}

static void regress_calculate_truncated_tlv(void)
{
	static const uint8_t b[] = { 0x71, 0x01, 'k', 0x74, 0x08, 0, 0 };
	struct data d = { .n = 0 };

	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(put_totp("k"), SW_OK);
	d_raw(&d, b, sizeof(b));
	CHECK_EQ(send(0xA2, 0, 1, &d), 0x6A80);
	end();
}

static void regress_calculate_challenge_too_long(void)
{
	uint8_t c[65] = { 0 };

	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(put_totp("k"), SW_OK);
	CHECK_EQ(calc_code("k", c, 65), -0x6A80);
	CHECK(calc_code("k", c, 64) >= 0);
	end();
}

static void regress_calculate_all_missing_challenge(void)
{
	struct data d = { .n = 0 };

	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(send(0xA4, 0, 1, NULL), 0x6A80);
	d_name(&d, "k");
	CHECK_EQ(send(0xA4, 0, 1, &d), 0x6A80);
	end();
}

static void regress_validate_missing_challenge(void)
{
	struct data d = { .n = 0 };
	uint8_t mac[20] = { 0 };

	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(set_code(code_key, 16, true), SW_OK);
	select_oath();
	d_tlv(&d, 0x75, mac, 20);
	CHECK_EQ(send(0xA3, 0, 0, &d), 0x6A80);
	end();
}

static void regress_set_code_missing_response(void)
{
	struct data d = { .n = 0 };
	uint8_t v[17] = { 0x21 }, chal[8] = { 0 };

	begin(VKEY_UP_AUTO);
	select_oath();
	d_tlv(&d, 0x73, v, 17);
	d_tlv(&d, 0x74, chal, 8);
	CHECK_EQ(send(0x03, 0, 0, &d), 0x6A80);
	end();
}

static void regress_rename_needs_two_names(void)
{
	struct data d = { .n = 0 };

	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(put_totp("k"), SW_OK);
	d_name(&d, "k");
	CHECK_EQ(send(0x05, 0, 0, &d), 0x6A80);
	d_name(&d, "l");
	d_name(&d, "m");
	CHECK_EQ(send(0x05, 0, 0, &d), 0x6A80);
	end();
}

static void regress_wrong_p1p2_is_6a86(void)
{
	struct data d = { .n = 0 };

	begin(VKEY_UP_AUTO);
	select_oath();
	d_name(&d, "k");
	d_key(&d, 0x21, 6, rfc_key20, 20);
	CHECK_EQ(send(0x01, 1, 0, &d), 0x6A86);
	CHECK_EQ(send(0xA1, 0, 1, NULL), 0x6A86);
	d.n = 0;
	d_name(&d, "k");
	d_challenge_u64(&d, 1);
	CHECK_EQ(send(0xA2, 0, 2, &d), 0x6A86);
	CHECK_EQ(send(0xA2, 1, 0, &d), 0x6A86);
	end();
}

static void regress_unknown_ins_is_6d00(void)
{
	begin(VKEY_UP_AUTO);
	select_oath();
	CHECK_EQ(send(0x06, 0, 0, NULL), 0x6D00);
	CHECK_EQ(send(0xA6, 0, 0, NULL), 0x6D00);
	end();
}

int main(void)
{
	RUN(select_reports_version_5_7_1_and_salt);
	RUN(salt_persists_across_reopen);
	RUN(two_keys_get_different_salts);
	RUN(hotp_matches_rfc4226_appendix_d);
	RUN(hotp_counter_persists_across_reopen);
	RUN(hotp_initial_counter_from_imf);
	RUN(totp_matches_rfc6238_appendix_b);
	RUN(calculate_full_returns_whole_hmac);
	RUN(calculate_unknown_account_is_6984);
	RUN(calculate_all_lists_hotp_and_touch_without_code);
	RUN(calculate_all_full_returns_whole_hmac);
	RUN(calculate_all_empty_key_answers_nothing);
	RUN(only_increasing_totp_refuses_older_time_step);
	RUN(touch_account_calculates_when_approved);
	RUN(touch_denied_answers_6982_and_keeps_counter);
	RUN(touch_timeout_answers_6982);
	RUN(set_code_then_validate_unlocks);
	RUN(locked_key_answers_6982_until_validated);
	RUN(validate_with_wrong_response_is_6a80);
	RUN(set_code_with_wrong_response_is_6984);
	RUN(validate_without_code_is_6984);
	RUN(empty_key_removes_code);
	RUN(reset_works_while_locked);
	RUN(list_shows_type_algorithm_and_name);
	RUN(put_overwrites_existing_account);
	RUN(rename_moves_account);
	RUN(delete_removes_account);
	RUN(reset_forgets_accounts_and_salt);
	RUN(accounts_persist_across_reopen);
	RUN(name_of_64_bytes_ok_65_rejected);
	RUN(sha512_takes_a_128_byte_key);
	RUN(limit_256_accounts_then_6a84);
	RUN(long_list_chains_with_send_remaining);
	RUN(describe_shows_name_but_no_secret);
	RUN(reports_count_accounts_and_never_show_keys);
	RUN(regress_put_truncated_tlv);
	RUN(regress_put_missing_name);
	RUN(regress_put_missing_key);
	RUN(regress_put_empty_name);
	RUN(regress_put_key_too_short);
	RUN(regress_put_key_without_digits);
	RUN(regress_put_bad_algorithm);
	RUN(regress_put_bad_type);
	RUN(regress_put_bad_digits);
	RUN(regress_put_unknown_property_bits);
	RUN(regress_put_property_without_value);
	RUN(regress_put_duplicate_name);
	RUN(regress_put_unknown_tag);
	RUN(regress_put_imf_wrong_length);
	RUN(regress_put_imf_on_totp);
	RUN(regress_put_bad_length_byte);
	RUN(regress_calculate_missing_challenge);
	RUN(regress_calculate_truncated_tlv);
	RUN(regress_calculate_challenge_too_long);
	RUN(regress_calculate_all_missing_challenge);
	RUN(regress_validate_missing_challenge);
	RUN(regress_set_code_missing_response);
	RUN(regress_rename_needs_two_names);
	RUN(regress_wrong_p1p2_is_6a86);
	RUN(regress_unknown_ins_is_6d00);
	return CHECK_DONE();
}
