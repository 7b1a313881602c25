/* Two keys in one process, driven interleaved, stay independent: their
 * serials, accounts, codes and half-finished response chains. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../check.h"
#include "services/crypto.h"
#include "vkey/vkey.h"

static uint8_t resp[VKEY_APDU_MAX];
static size_t resp_len;

static unsigned xfer(struct vkey *k, const uint8_t *b, size_t n)
{
	CHECK_EQ(vkey_apdu(k, b, n, resp, sizeof(resp), &resp_len), 0);
	return (unsigned)(resp[resp_len - 2] << 8 | resp[resp_len - 1]);
}

static unsigned select_oath(struct vkey *k)
{
	static const uint8_t sel[] = { 0x00, 0xA4, 0x04, 0x00, 0x07, 0xA0,
				       0x00, 0x00, 0x05, 0x27, 0x21, 0x01 };
	return xfer(k, sel, sizeof(sel));
}

/* PUT a TOTP/SHA1/6-digit account. */
static unsigned put(struct vkey *k, const char *name, const uint8_t *secret,
		    size_t slen)
{
	uint8_t b[300];
	size_t nl = strlen(name), n = 0;

	b[n++] = 0x00; b[n++] = 0x01; b[n++] = 0x00; b[n++] = 0x00;
	b[n++] = (uint8_t)(2 + nl + 2 + 2 + slen);
	b[n++] = 0x71; b[n++] = (uint8_t)nl;
	memcpy(b + n, name, nl); n += nl;
	b[n++] = 0x73; b[n++] = (uint8_t)(2 + slen);
	b[n++] = 0x21; b[n++] = 6;
	memcpy(b + n, secret, slen); n += slen;
	return xfer(k, b, n);
}

/* CALCULATE (truncated) at time step t; returns the 6-digit code. */
static long calc(struct vkey *k, const char *name, uint64_t t)
{
	uint8_t b[300];
	size_t nl = strlen(name), n = 0;

	b[n++] = 0x00; b[n++] = 0xA2; b[n++] = 0x00; b[n++] = 0x01;
	b[n++] = (uint8_t)(2 + nl + 10);
	b[n++] = 0x71; b[n++] = (uint8_t)nl;
	memcpy(b + n, name, nl); n += nl;
	b[n++] = 0x74; b[n++] = 8;
	for (int i = 7; i >= 0; i--)
		b[n++] = (uint8_t)(t >> (8 * i));
	if (xfer(k, b, n) != 0x9000 || resp_len != 9 || resp[0] != 0x76)
		return -1;
	return (long)(((uint32_t)resp[3] << 24 | (uint32_t)resp[4] << 16 |
		       (uint32_t)resp[5] << 8 | resp[6]) % 1000000u);
}

static long expected(const uint8_t *secret, size_t slen, uint64_t t)
{
	uint8_t msg[8], mac[20];
	uint32_t v;
	int off;

	for (int i = 0; i < 8; i++)
		msg[i] = (uint8_t)(t >> (8 * (7 - i)));
	crypto_hmac(CRYPTO_SHA1, secret, slen, msg, 8, mac);
	off = mac[19] & 0x0F;
	v = ((uint32_t)(mac[off] & 0x7F) << 24) | (uint32_t)mac[off + 1] << 16 |
	    (uint32_t)mac[off + 2] << 8 | mac[off + 3];
	return (long)(v % 1000000u);
}

static char dir[] = "/tmp/vkey-two-XXXXXX";
static struct vkey *ka, *kb;
static const uint8_t sa[20] = "12345678901234567890";
static const uint8_t sb[20] = "abcdefghijabcdefghij";

static struct vkey *open_key(const char *name)
{
	char path[256], err[512];
	struct vkey_options o = { 0 };
	struct vkey *k = NULL;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	o.state_path = path;
	o.up = VKEY_UP_DENY;
	if (vkey_open(&k, &o, err, sizeof(err)) != 0)
		fprintf(stderr, "open %s: %s\n", path, err);
	return k;
}

static void two_keys_have_different_serials(void)
{
	CHECK(vkey_serial(ka) != vkey_serial(kb));
}

static void interleaved_accounts_stay_apart(void)
{
	CHECK_EQ(select_oath(ka), 0x9000);
	CHECK_EQ(select_oath(kb), 0x9000);
	CHECK_EQ(put(ka, "acct", sa, sizeof(sa)), 0x9000);
	CHECK_EQ(put(kb, "acct", sb, sizeof(sb)), 0x9000);
	CHECK_EQ(put(kb, "only-b", sb, sizeof(sb)), 0x9000);
	for (uint64_t t = 1; t < 20; t++) {
		CHECK_EQ(calc(ka, "acct", t), expected(sa, sizeof(sa), t));
		CHECK_EQ(calc(kb, "acct", t), expected(sb, sizeof(sb), t));
	}
	CHECK_EQ(calc(ka, "only-b", 1), -1);
}

static void response_chains_are_per_key(void)
{
	static const uint8_t list[] = { 0x00, 0xA1, 0x00, 0x00 };
	static const uint8_t more[] = { 0x00, 0xA5, 0x00, 0x00 };
	char name[40];
	unsigned sw;

	/* Enough accounts on A for LIST to need SEND REMAINING. */
	for (int i = 0; i < 30; i++) {
		snprintf(name, sizeof(name), "account-number-%02d", i);
		CHECK_EQ(put(ka, name, sa, sizeof(sa)), 0x9000);
	}
	sw = xfer(ka, list, sizeof(list));
	CHECK_EQ(sw & 0xFF00, 0x6100);
	/* B runs a whole command in between; A's chain survives. */
	CHECK_EQ(calc(kb, "acct", 5), expected(sb, sizeof(sb), 5));
	sw = xfer(ka, more, sizeof(more));
	CHECK(sw == 0x9000 || (sw & 0xFF00) == 0x6100);
	CHECK_EQ(xfer(kb, more, sizeof(more)), 0x6985);
}

static void state_survives_reopen_separately(void)
{
	vkey_close(ka);
	ka = open_key("a.db");
	CHECK(ka != NULL);
	if (ka == NULL)
		return;
	CHECK_EQ(select_oath(ka), 0x9000);
	CHECK_EQ(calc(ka, "acct", 7), expected(sa, sizeof(sa), 7));
	CHECK_EQ(calc(ka, "only-b", 7), -1);
	CHECK_EQ(calc(kb, "acct", 7), expected(sb, sizeof(sb), 7));
}

static void same_file_twice_is_refused(void)
{
	CHECK(open_key("b.db") == NULL);
}

int main(void)
{
	int rc;

	if (mkdtemp(dir) == NULL)
		return 1;
	ka = open_key("a.db");
	kb = open_key("b.db");
	if (ka == NULL || kb == NULL)
		return 1;
	RUN(two_keys_have_different_serials);
	RUN(interleaved_accounts_stay_apart);
	RUN(response_chains_are_per_key);
	RUN(state_survives_reopen_separately);
	RUN(same_file_twice_is_refused);
	vkey_close(ka);
	vkey_close(kb);
	rc = CHECK_DONE();
	if (rc == 0) {
		char cmd[300];
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		(void)!system(cmd);
	}
	return rc;
}
