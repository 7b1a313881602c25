/* Fuzz target for the NDEF tag: the message codec and the applet.
 *
 * Byte 0 with bit 8 set: the rest is an NDEF message. A message the
 * parser takes must survive encode -> parse -> encode with the same
 * records and the same bytes; URI and Text payloads are decoded and the
 * text form is built.
 *
 * Otherwise: byte 0 is a command count, then each command is a 2-byte
 * big-endian length and an APDU, sent to the NDEF application of a key
 * whose tag is empty and writable. Pseudo-commands with CLA FF (never a
 * valid APDU) reach the owner's API: FF 01 makes the tag read-only, FF
 * 02 <message> writes a message, FF 03 reads and formats it. After the
 * sequence a Type 4 reader must still find a sound CC and NLEN. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applets/ndef/ndef_msg.h"
#include "fuzz_key.h"
#include "vkey/ndef.h"
#include "vkey/vkey.h"

#define MAX_COMMANDS 32
#define MODE_MESSAGE 0x80
#define RECS_MAX 64
#define HOOK_CLA 0xFF
#define HOOK_READ_ONLY 0x01
#define HOOK_WRITE 0x02
#define HOOK_READ 0x03
#define TEXT_MAX 65536

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vkey *key;

static const uint8_t select_app[] = { 0x00, 0xA4, 0x04, 0x00, 0x07, 0xD2,
				      0x76, 0x00, 0x00, 0x85, 0x01, 0x01,
				      0x00 };

/* --- codec ---------------------------------------------------------------- */

static bool same_records(const struct ndef_record *a,
			 const struct ndef_record *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (a[i].tnf != b[i].tnf || a[i].type_len != b[i].type_len ||
		    a[i].id_len != b[i].id_len ||
		    a[i].payload_len != b[i].payload_len)
			return false;
		if ((a[i].type_len &&
		     memcmp(a[i].type, b[i].type, a[i].type_len)) ||
		    (a[i].id_len && memcmp(a[i].id, b[i].id, a[i].id_len)) ||
		    (a[i].payload_len &&
		     memcmp(a[i].payload, b[i].payload, a[i].payload_len)))
			return false;
	}
	return true;
}

/* Decode what the URI and Text records say; a decodable URI must encode
 * again to a payload that decodes to the same URI. */
static void decode_payloads(const struct ndef_record *recs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		size_t cap = 2 * recs[i].payload_len + 40, len;
		char *text = malloc(cap);
		struct ndef_text t;

		if (text == NULL)
			abort();
		if (ndef_is_uri(&recs[i]) &&
		    ndef_uri_parse(recs[i].payload, recs[i].payload_len, text,
				   cap, &len) == NDEF_OK) {
			uint8_t *p = malloc(len + 1);
			char *back = malloc(len + 40);
			struct wbuf w = wbuf_init(p, len + 1);
			size_t back_len;

			if (p == NULL || back == NULL)
				abort();
			if (ndef_uri_payload(text, len, &w) == NDEF_OK &&
			    (ndef_uri_parse(p, w.len, back, len + 40,
					    &back_len) != NDEF_OK ||
			     back_len != len || memcmp(back, text, len) != 0))
				abort();
			free(p);
			free(back);
		}
		if (ndef_is_text(&recs[i]))
			ndef_text_parse(recs[i].payload, recs[i].payload_len, &t,
					text, cap, &len);
		free(text);
	}
}

static void fuzz_message(const uint8_t *msg, size_t len)
{
	static struct ndef_record recs[RECS_MAX], again[RECS_MAX];
	static uint8_t pool[TEXT_MAX], enc1[TEXT_MAX + 4096],
		enc2[TEXT_MAX + 4096];
	static char text[4 * TEXT_MAX];
	struct wbuf w1 = wbuf_init(enc1, sizeof(enc1));
	struct wbuf w2 = wbuf_init(enc2, sizeof(enc2));
	size_t n = 0, m = 0, checked = 0;
	int err;

	err = ndef_msg_parse(len ? msg : NULL, len, recs, RECS_MAX, &n, pool,
			     sizeof(pool));
	/* checking without a table agrees with parsing into one */
	if (ndef_msg_parse(len ? msg : NULL, len, NULL, 0, &checked, NULL,
			   0) != NDEF_OK) {
		if (err == NDEF_OK)
			abort();
	} else if (err == NDEF_OK && checked != n) {
		abort();
	}
	vkey_ndef_format(msg, len, len % 2 == 0, text, sizeof(text));
	if (err != NDEF_OK)
		return;
	decode_payloads(recs, n);
	if (ndef_msg_encode(recs, n, &w1) != NDEF_OK)
		abort();
	if (ndef_msg_parse(w1.len ? enc1 : NULL, w1.len, again, RECS_MAX, &m,
			   NULL, 0) != NDEF_OK ||
	    m != n || !same_records(recs, again, n))
		abort();
	if (ndef_msg_encode(again, m, &w2) != NDEF_OK || w2.len != w1.len ||
	    memcmp(enc1, enc2, w1.len) != 0)
		abort();
}

/* --- applet --------------------------------------------------------------- */

static int hook(const uint8_t *cmd, size_t n)
{
	static uint8_t msg[VKEY_NDEF_MSG_MAX];
	static char text[TEXT_MAX];
	size_t len;
	bool ro;

	if (n < 2 || cmd[0] != HOOK_CLA)
		return 0;
	switch (cmd[1]) {
	case HOOK_READ_ONLY:
		if (vkey_ndef_set_read_only(key) != VKEY_NDEF_OK)
			abort();
		break;
	case HOOK_WRITE:
		vkey_ndef_write(key, cmd + 2, n - 2);
		break;
	case HOOK_READ:
		if (vkey_ndef_read(key, msg, sizeof(msg), &len, &ro) !=
		    VKEY_NDEF_OK)
			abort();
		vkey_ndef_format(msg, len, ro, text, sizeof(text));
		break;
	default:
		return 0;
	}
	return 1;
}

/* Every input starts from an empty, writable tag (a read-only one needs
 * a new key: nothing else undoes it). */
static void fresh_tag(void)
{
	static uint8_t msg[VKEY_NDEF_MSG_MAX];
	size_t len;
	bool ro = false;

	if (vkey_ndef_read(key, msg, sizeof(msg), &len, &ro) != VKEY_NDEF_OK)
		abort();
	if (ro) {
		key = fuzz_key_renew();
		if (key == NULL)
			abort();
	} else if (vkey_ndef_write(key, NULL, 0) != VKEY_NDEF_OK) {
		abort();
	}
	vkey_power_off(key);
	vkey_power_on(key);
	fuzz_apdu(select_app, sizeof(select_app));
}

/* What a reader finds afterwards: the CC's fixed part and an NLEN
 * within the file. */
static void check_tag(void)
{
	static const uint8_t select_cc[] = { 0x00, 0xA4, 0x00, 0x0C,
					     0x02, 0xE1, 0x03 };
	static const uint8_t select_file[] = { 0x00, 0xA4, 0x00, 0x0C,
					       0x02, 0xE1, 0x04 };
	static const uint8_t read_cc[] = { 0x00, 0xB0, 0x00, 0x00, 0x0F };
	static const uint8_t read_nlen[] = { 0x00, 0xB0, 0x00, 0x00, 0x02 };
	static const uint8_t cc_fixed[] = { 0x00, 0x0F, 0x20, 0x00, 0xFF,
					    0x00, 0xFF, 0x04, 0x06, 0xE1,
					    0x04, 0x10, 0x02, 0x00 };
	const uint8_t *r;
	size_t n;

	vkey_power_off(key);
	if (fuzz_apdu(select_app, sizeof(select_app)) != 0x9000 ||
	    fuzz_apdu(select_cc, sizeof(select_cc)) != 0x9000 ||
	    fuzz_apdu(read_cc, sizeof(read_cc)) != 0x9000)
		abort();
	r = fuzz_last_response(&n);
	if (n != 17 || memcmp(r, cc_fixed, sizeof(cc_fixed)) != 0 ||
	    (r[14] != 0x00 && r[14] != 0xFF))
		abort();
	if (fuzz_apdu(select_file, sizeof(select_file)) != 0x9000 ||
	    fuzz_apdu(read_nlen, sizeof(read_nlen)) != 0x9000)
		abort();
	r = fuzz_last_response(&n);
	if (n != 4 || ((size_t)r[0] << 8 | r[1]) > VKEY_NDEF_MSG_MAX)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *msg;

	if (size < 1)
		return 0;
	if (data[0] & MODE_MESSAGE) {
		/* exact-size copy, so the sanitizer sees over-reads */
		msg = malloc(size > 1 ? size - 1 : 1);
		if (msg == NULL)
			abort();
		memcpy(msg, data + 1, size - 1);
		fuzz_message(msg, size - 1);
		free(msg);
		return 0;
	}
	if (key == NULL) {
		key = fuzz_key_open("ndef", VKEY_UP_DENY);
		if (key == NULL)
			abort();
	}
	fresh_tag();
	fuzz_apdu_sequence_hooked(data, size, MAX_COMMANDS, hook);
	check_tag();
	return 0;
}
