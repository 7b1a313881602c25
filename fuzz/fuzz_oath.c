/* Fuzz target for the OATH applet: input byte 0 is a command count, then
 * each command is a 2-byte big-endian length and an APDU, sent after a
 * SELECT to a key on a temporary state file that is reset per input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_key.h"
#include "vkey/vkey.h"

#define MAX_COMMANDS 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One key for the whole run: opening one per input would cost a state
 * file each (static state is fine in a fuzz harness, not in vkey). */
static struct vkey *key;
static uint8_t resp[VKEY_APDU_MAX];

static int init(void)
{
	key = fuzz_key_open("oath", VKEY_UP_AUTO);
	return key != NULL ? 0 : -1;
}

static void send(const uint8_t *cmd, size_t n)
{
	size_t resp_len = 0;

	if (vkey_apdu(key, cmd, n, resp, sizeof(resp), &resp_len) != 0 ||
	    resp_len < 2 || resp_len > sizeof(resp))
		abort();
}

/* Every input starts from a factory-fresh, selected applet, so a crash
 * replays from its input alone. */
static void fresh_session(void)
{
	static const uint8_t select[] = { 0x00, 0xA4, 0x04, 0x00, 0x07,
					  0xA0, 0x00, 0x00, 0x05, 0x27,
					  0x21, 0x01 };
	static const uint8_t reset[] = { 0x00, 0x04, 0xDE, 0xAD };

	vkey_power_off(key);
	vkey_power_on(key);
	send(select, sizeof(select));
	send(reset, sizeof(reset));
	send(select, sizeof(select));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 1, count;

	if (key == NULL && init() != 0)
		abort();
	if (size < 1)
		return 0;
	fresh_session();
	count = data[0] % (MAX_COMMANDS + 1);
	for (size_t i = 0; i < count && size - off >= 2; i++) {
		size_t n = (size_t)(data[off] << 8 | data[off + 1]);
		uint8_t *cmd;

		off += 2;
		if (n > size - off)
			n = size - off;
		/* Exact-size copy so the sanitizer sees any over-read. */
		cmd = malloc(n ? n : 1);
		if (cmd == NULL)
			break;
		memcpy(cmd, data + off, n);
		send(cmd, n);
		free(cmd);
		off += n;
	}
	return 0;
}
