/* Fuzz target for the PIV applet: input byte 0 is a command count, then
 * each command is a 2-byte big-endian length and an APDU, sent to a
 * factory-fresh, selected applet on a key with a temporary state file.
 *
 * The management key answers a random witness, so no recorded sequence
 * can authenticate: a pseudo-command FF 9B <alg> <key> (never a valid
 * APDU to the card: CLA FF) makes the harness run the mutual
 * authentication with that key, so inputs reach GENERATE, IMPORT, PUT
 * DATA, MOVE and the other commands behind it. The card's answer to our
 * challenge is checked: a wrong one aborts. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "fuzz_key.h"
#include "vkey/vkey.h"

#define MAX_COMMANDS 32
#define SW_OK 0x9000
#define SW_BLOCKED 0x6983
#define HOOK_CLA 0xFF
#define HOOK_INS_MGMT 0x9B
#define F9_CERT_MAX 4096
#define RESET_TRIES_MAX 300

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vkey *key;

static const uint8_t select_piv[] = { 0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0,
				      0x00, 0x00, 0x03, 0x08 };

/* The attestation key and certificate survive RESET: a snapshot of the
 * factory ones tells when an input replaced them (then the key is made
 * anew, so that every input starts from the same state). */
static uint8_t f9_snapshot[2][F9_CERT_MAX];
static size_t f9_snapshot_len[2];

static int f9_state(uint8_t out[2][F9_CERT_MAX], size_t len[2])
{
	/* extended Le: the whole answer at once */
	static const uint8_t md_f9[] = { 0x00, 0xF7, 0x00, 0xF9,
					 0x00, 0x00, 0x00 };
	static const uint8_t get_cert[] = { 0x00, 0xCB, 0x3F, 0xFF, 0x00,
					    0x00, 0x05, 0x5C, 0x03, 0x5F,
					    0xFF, 0x01, 0x00, 0x00 };
	const uint8_t *const cmds[2] = { md_f9, get_cert };
	const size_t cmd_len[2] = { sizeof(md_f9), sizeof(get_cert) };

	for (int i = 0; i < 2; i++) {
		const uint8_t *r;
		size_t n;

		fuzz_apdu(cmds[i], cmd_len[i]);
		r = fuzz_last_response(&n);
		if (n > F9_CERT_MAX)
			return -1;
		memcpy(out[i], r, n);
		len[i] = n;
	}
	return 0;
}

static int f9_changed(void)
{
	static uint8_t now[2][F9_CERT_MAX];
	size_t len[2];

	if (f9_state(now, len) != 0)
		return 1;
	for (int i = 0; i < 2; i++)
		if (len[i] != f9_snapshot_len[i] ||
		    memcmp(now[i], f9_snapshot[i], len[i]) != 0)
			return 1;
	return 0;
}

static int init(void)
{
	key = fuzz_key_open("piv", VKEY_UP_AUTO);
	if (key == NULL)
		return -1;
	fuzz_apdu(select_piv, sizeof(select_piv));
	return f9_state(f9_snapshot, f9_snapshot_len);
}

/* Block the PIN and the PUK with all-FF values (never a valid PIN or
 * PUK, so never a match), then RESET: the factory state whatever the
 * input did, and a RESET that fails is a bug. */
static void factory_reset(void)
{
	static const uint8_t wrong_pin[] = { 0x00, 0x20, 0x00, 0x80, 0x08,
					     0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
					     0xFF, 0xFF, 0xFF };
	static const uint8_t wrong_puk[] = {
		0x00, 0x2C, 0x00, 0x80, 0x10, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
		0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
		0xFF,
	};
	static const uint8_t reset[] = { 0x00, 0xFB, 0x00, 0x00 };
	int i;

	for (i = 0; i < RESET_TRIES_MAX &&
		    fuzz_apdu(wrong_pin, sizeof(wrong_pin)) != SW_BLOCKED;
	     i++)
		;
	for (i = 0; i < RESET_TRIES_MAX &&
		    fuzz_apdu(wrong_puk, sizeof(wrong_puk)) != SW_BLOCKED;
	     i++)
		;
	if (fuzz_apdu(reset, sizeof(reset)) != SW_OK)
		abort();
}

/* Every input starts from a factory-fresh, selected applet, so a crash
 * replays from its input alone. */
static void fresh_session(void)
{
	vkey_power_off(key);
	vkey_power_on(key);
	if (fuzz_apdu(select_piv, sizeof(select_piv)) != SW_OK)
		abort();
	if (f9_changed()) {
		key = fuzz_key_renew();
		if (key == NULL)
			abort();
		fuzz_apdu(select_piv, sizeof(select_piv));
		if (f9_state(f9_snapshot, f9_snapshot_len) != 0)
			abort();
	} else {
		factory_reset();
	}
	if (fuzz_apdu(select_piv, sizeof(select_piv)) != SW_OK)
		abort();
}

static const EVP_CIPHER *mgmt_cipher(uint8_t alg, size_t *key_len,
				     size_t *block)
{
	*block = 16;
	switch (alg) {
	case 0x03:
		*key_len = 24;
		*block = 8;
		return EVP_des_ede3_ecb();
	case 0x08:
		*key_len = 16;
		return EVP_aes_128_ecb();
	case 0x0A:
		*key_len = 24;
		return EVP_aes_192_ecb();
	case 0x0C:
		*key_len = 32;
		return EVP_aes_256_ecb();
	default:
		return NULL;
	}
}

static void ecb(const EVP_CIPHER *c, const uint8_t *k, int enc,
		const uint8_t *in, size_t n, uint8_t *out)
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	int l1 = 0, l2 = 0;

	if (ctx == NULL || EVP_CipherInit_ex(ctx, c, NULL, k, NULL, enc) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx, 0) != 1 ||
	    EVP_CipherUpdate(ctx, out, &l1, in, (int)n) != 1 ||
	    EVP_CipherFinal_ex(ctx, out + l1, &l2) != 1 ||
	    (size_t)(l1 + l2) != n)
		abort();
	EVP_CIPHER_CTX_free(ctx);
}

/* Mutual authentication with alg and key k (docs/PIV.md): decrypt the
 * witness, send it with a challenge, check the card's cryptogram. */
static void mgmt_authenticate(uint8_t alg, const uint8_t *k)
{
	static const uint8_t chal[16] = "vkey-fuzz-chall";
	uint8_t step1[] = { 0x00, 0x87, alg, 0x9B, 0x04, 0x7C, 0x02, 0x80,
			    0x00, 0x00 };
	uint8_t step2[5 + 4 + 2 * 18 + 1], plain[16], expect[16];
	size_t key_len, bl, n, off = 0;
	const EVP_CIPHER *c = mgmt_cipher(alg, &key_len, &bl);
	const uint8_t *r;

	if (c == NULL || fuzz_apdu(step1, sizeof(step1)) != SW_OK)
		return;
	r = fuzz_last_response(&n);
	/* 7C LL 80 LL witness 90 00 */
	if (n != 2 + 4 + bl || r[0] != 0x7C || r[1] != 2 + bl ||
	    r[2] != 0x80 || r[3] != bl)
		return;
	ecb(c, k, 0, r + 4, bl, plain);
	step2[off++] = 0x00;
	step2[off++] = 0x87;
	step2[off++] = alg;
	step2[off++] = 0x9B;
	step2[off++] = (uint8_t)(2 + 2 * (2 + bl));
	step2[off++] = 0x7C;
	step2[off++] = (uint8_t)(2 * (2 + bl));
	step2[off++] = 0x80;
	step2[off++] = (uint8_t)bl;
	memcpy(step2 + off, plain, bl);
	off += bl;
	step2[off++] = 0x81;
	step2[off++] = (uint8_t)bl;
	memcpy(step2 + off, chal, bl);
	off += bl;
	step2[off++] = 0x00;
	if (fuzz_apdu(step2, off) != SW_OK)
		return;
	r = fuzz_last_response(&n);
	ecb(c, k, 1, chal, bl, expect);
	if (n != 2 + 4 + bl || r[0] != 0x7C || r[1] != 2 + bl ||
	    r[2] != 0x82 || r[3] != bl || memcmp(r + 4, expect, bl) != 0)
		abort(); /* authenticated, but with a wrong cryptogram */
}

/* FF 9B <alg> <key>: authenticate with that management key. */
static int hook(const uint8_t *cmd, size_t n)
{
	size_t key_len, bl;

	if (n < 3 || cmd[0] != HOOK_CLA || cmd[1] != HOOK_INS_MGMT)
		return 0;
	if (mgmt_cipher(cmd[2], &key_len, &bl) != NULL &&
	    n == 3 + key_len)
		mgmt_authenticate(cmd[2], cmd + 3);
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (key == NULL && init() != 0)
		abort();
	if (size < 1)
		return 0;
	fresh_session();
	fuzz_apdu_sequence_hooked(data, size, MAX_COMMANDS, hook);
	return 0;
}
