/* Fuzz target for the OpenPGP card applet: input byte 0 is a command
 * count, then each command is a 2-byte big-endian length and an APDU,
 * sent to a factory-fresh, selected applet (TERMINATE DF + ACTIVATE FILE
 * per input) on a key with a temporary state file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_key.h"
#include "vkey/vkey.h"

#define MAX_COMMANDS 32
#define SW_OK 0x9000
#define SW_TERMINATED 0x6285

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vkey *key;

static int init(void)
{
	key = fuzz_key_open("openpgp", VKEY_UP_AUTO);
	return key != NULL ? 0 : -1;
}


/* Every input starts from the factory state, so a crash replays from
 * its input alone. An input may have changed or blocked PW3, or set a
 * KDF: then PW3 is blocked on purpose, which TERMINATE DF also accepts. */
static void fresh_session(void)
{
	static const uint8_t select[] = { 0x00, 0xA4, 0x04, 0x00, 0x06, 0xD2,
					  0x76, 0x00, 0x01, 0x24, 0x01, 0x00 };
	static const uint8_t verify_pw3[] = { 0x00, 0x20, 0x00, 0x83, 0x08,
					      '1', '2', '3', '4', '5', '6',
					      '7', '8' };
	static const uint8_t wrong_pw3[] = { 0x00, 0x20, 0x00, 0x83, 0x08,
					     0xFF, 0xFF, 0xFF, 0xFF, 0xFF,
					     0xFF, 0xFF, 0xFF };
	static const uint8_t terminate[] = { 0x00, 0xE6, 0x00, 0x00 };
	static const uint8_t activate[] = { 0x00, 0x44, 0x00, 0x00 };

	vkey_power_off(key);
	vkey_power_on(key);
	if (fuzz_apdu(select, sizeof(select)) != SW_TERMINATED) {
		fuzz_apdu(verify_pw3, sizeof(verify_pw3));
		for (int i = 0; i < 4; i++) {
			if (fuzz_apdu(terminate, sizeof(terminate)) == SW_OK)
				break;
			fuzz_apdu(wrong_pw3, sizeof(wrong_pw3));
		}
	}
	if (fuzz_apdu(activate, sizeof(activate)) != SW_OK)
		abort();
	if (fuzz_apdu(select, sizeof(select)) != SW_OK)
		abort();
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
