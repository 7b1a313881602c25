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

static int init(void)
{
	key = fuzz_key_open("oath", VKEY_UP_AUTO);
	return key != NULL ? 0 : -1;
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
	fuzz_apdu(select, sizeof(select));
	fuzz_apdu(reset, sizeof(reset));
	fuzz_apdu(select, sizeof(select));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (key == NULL && init() != 0)
		abort();
	if (size < 1)
		return 0;
	fresh_session();
	fuzz_apdu_sequence(data, size, MAX_COMMANDS);
	return 0;
}
