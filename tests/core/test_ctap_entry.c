/* The CTAP entry points for native CTAP transports (CTAPHID):
 * vkey_ctap_cbor and vkey_ctap_msg on a real key. */
#include <stdio.h>
#include <stdlib.h>

#include "../check.h"
#include "vkey/vkey.h"

static char dir[] = "/tmp/vkey-ctapentry-XXXXXX";
static struct vkey *key;
static uint8_t resp[8192];

static void get_info_answers_ok_and_a_map(void)
{
	static const uint8_t req[] = { 0x04 };
	size_t n = vkey_ctap_cbor(key, req, sizeof(req), resp, sizeof(resp),
				  NULL, NULL);

	CHECK(n > 2);
	CHECK_EQ(resp[0], 0x00);
	CHECK_EQ(resp[1] & 0xE0, 0xA0); /* a CBOR map */
}

static void unknown_ctap_command_is_invalid_command(void)
{
	static const uint8_t req[] = { 0x55 };
	size_t n = vkey_ctap_cbor(key, req, sizeof(req), resp, sizeof(resp),
				  NULL, NULL);

	CHECK_EQ(n, 1);
	CHECK_EQ(resp[0], 0x01);
}

static void u2f_version_through_msg(void)
{
	static const uint8_t req[] = { 0x00, 0x03, 0x00, 0x00 };
	size_t n = vkey_ctap_msg(key, req, sizeof(req), resp, sizeof(resp),
				 NULL, NULL);

	CHECK_EQ(n, 8);
	CHECK_MEM(resp, "U2F_V2\x90\x00", 8);
}

static void u2f_version_with_zero_extended_lc(void)
{
	static const uint8_t req[] = { 0x00, 0x03, 0x00, 0x00, 0x00,
				       0x00, 0x00, 0x00, 0x00 };
	size_t n = vkey_ctap_msg(key, req, sizeof(req), resp, sizeof(resp),
				 NULL, NULL);

	CHECK_EQ(n, 8);
	CHECK_MEM(resp, "U2F_V2\x90\x00", 8);
}

static void malformed_u2f_message_is_6700(void)
{
	static const uint8_t req[] = { 0x00, 0x02, 0x03, 0x00, 0x09, 0x01 };
	size_t n = vkey_ctap_msg(key, req, sizeof(req), resp, sizeof(resp),
				 NULL, NULL);

	CHECK_EQ(n, 2);
	CHECK_MEM(resp, "\x67\x00", 2);
}

/* makeCredential ES256 for a.example: clientDataHash, rp, user, params. */
static size_t make_credential(void)
{
	static const uint8_t head[] = { 0x01, 0xA4, 0x01, 0x58, 0x20 };
	static const uint8_t tail[] = {
		0x02, 0xA1, 0x62, 'i', 'd', 0x69, 'a', '.', 'e', 'x', 'a',
		'm', 'p', 'l', 'e',
		0x03, 0xA1, 0x62, 'i', 'd', 0x41, 0x01,
		0x04, 0x81, 0xA2, 0x63, 'a', 'l', 'g', 0x26, 0x64, 't', 'y',
		'p', 'e', 0x6A, 'p', 'u', 'b', 'l', 'i', 'c', '-', 'k', 'e',
		'y',
	};
	uint8_t req[sizeof(head) + 32 + sizeof(tail)] = { 0 };

	memcpy(req, head, sizeof(head));
	memcpy(req + sizeof(head) + 32, tail, sizeof(tail));
	return vkey_ctap_cbor(key, req, sizeof(req), resp, sizeof(resp), NULL,
			      NULL);
}

static int has_x5c(size_t n)
{
	static const uint8_t x5c[] = { 0x63, 'x', '5', 'c' };

	for (size_t i = 0; i + sizeof(x5c) <= n; i++)
		if (memcmp(resp + i, x5c, sizeof(x5c)) == 0)
			return 1;
	return 0;
}

static void attestation_mode_switches_between_packed_and_self(void)
{
	size_t n;

	n = make_credential();
	CHECK(n > 1 && resp[0] == 0x00);
	CHECK(has_x5c(n));
	CHECK_EQ(vkey_set_fido_attestation(key, "self"), 0);
	n = make_credential();
	CHECK(n > 1 && resp[0] == 0x00);
	CHECK(!has_x5c(n));
	CHECK_EQ(vkey_set_fido_attestation(key, "bogus"), -1);
	CHECK_EQ(vkey_set_fido_attestation(key, "packed"), 0);
	n = make_credential();
	CHECK(has_x5c(n));
}

static void tiny_buffers_get_no_answer(void)
{
	static const uint8_t req[] = { 0x04 };

	CHECK_EQ(vkey_ctap_cbor(key, req, 1, resp, 0, NULL, NULL), 0);
	CHECK_EQ(vkey_ctap_msg(key, req, 1, resp, 1, NULL, NULL), 0);
}

int main(void)
{
	struct vkey_options o = { 0 };
	char path[256], err[512];
	int rc;

	if (mkdtemp(dir) == NULL)
		return 1;
	snprintf(path, sizeof(path), "%s/k.db", dir);
	o.state_path = path;
	o.up = VKEY_UP_AUTO;
	if (vkey_open(&key, &o, err, sizeof(err)) != 0) {
		fprintf(stderr, "%s\n", err);
		return 1;
	}
	RUN(get_info_answers_ok_and_a_map);
	RUN(unknown_ctap_command_is_invalid_command);
	RUN(u2f_version_through_msg);
	RUN(u2f_version_with_zero_extended_lc);
	RUN(malformed_u2f_message_is_6700);
	RUN(attestation_mode_switches_between_packed_and_self);
	RUN(tiny_buffers_get_no_answer);
	vkey_close(key);
	rc = CHECK_DONE();
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	(void)!system(path);
	return rc;
}
