/* Fuzz target for the management application's WRITE CONFIG parser: the
 * input is the command data (a length byte, then TLVs). It goes to the
 * parser directly, then as a WRITE CONFIG to a key, whose answer must
 * agree with the parser; the key's settings are reset after each input. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "applets/mgmt/mgmt_priv.h"
#include "fuzz_key.h"
#include "vkey/admin.h"
#include "vkey/vkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vkey *key;

static const uint8_t select_mgmt[] = { 0x00, 0xA4, 0x04, 0x00, 0x08,
				       0xA0, 0x00, 0x00, 0x05, 0x27,
				       0x47, 0x11, 0x17 };
static const uint8_t read_config[] = { 0x00, 0x1D, 0x00, 0x00, 0x00 };

/* WRITE CONFIG with data (short form up to 255 bytes, else extended). */
static unsigned write_config(const uint8_t *data, size_t size)
{
	size_t hdr = size > 255 ? 7 : 5;
	uint8_t *cmd = malloc(hdr + size);
	unsigned sw;

	if (cmd == NULL)
		abort();
	cmd[0] = 0x00;
	cmd[1] = 0x1C;
	cmd[2] = cmd[3] = 0x00;
	if (hdr == 7) {
		cmd[4] = 0x00;
		cmd[5] = (uint8_t)(size >> 8);
		cmd[6] = (uint8_t)size;
	} else {
		cmd[4] = (uint8_t)size;
	}
	memcpy(cmd + hdr, data, size);
	sw = fuzz_apdu(cmd, hdr + size);
	free(cmd);
	return sw;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mgmt_write w;
	uint8_t *copy;
	unsigned parsed, sw;

	if (key == NULL && (key = fuzz_key_open("mgmt", VKEY_UP_AUTO)) == NULL)
		abort();
	if (size < 1 || size > 65535)
		return 0;
	/* An exact-size copy, so the sanitizer sees any over-read. */
	copy = malloc(size);
	if (copy == NULL)
		abort();
	memcpy(copy, data, size);
	parsed = mgmt_parse_write(copy, size, &w);
	if (parsed == 0)
		parsed = mgmt_check_write(&w);

	fuzz_apdu(select_mgmt, sizeof(select_mgmt));
	sw = write_config(copy, size);
	/* The key may refuse more (a lock code), never less, and never
	 * for another reason than the parser's. */
	if (parsed != 0 && sw != parsed)
		abort();
	if (parsed == 0 && sw != 0x9000 && sw != 0x6982)
		abort();
	if (sw == 0x9000 && (w.seen & MGMT_SEEN_USB) != 0) {
		unsigned mask = 0;
		if (vkey_get_applets(key, VKEY_TRANSPORT_USB, &mask) != 0 ||
		    mask != w.usb_enabled)
			abort();
	}
	fuzz_apdu(read_config, sizeof(read_config));
	if (vkey_admin_reset(key) != 0)
		abort();
	free(copy);
	return 0;
}
