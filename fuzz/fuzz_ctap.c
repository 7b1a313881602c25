/* Fuzz target for the CTAP2 core: input byte 0 picks the command (every
 * CTAP 2.1 command vkey knows, and one it does not), the rest is the CBOR
 * parameters, fed to ctap_cbor() on a key opened once with user presence
 * approved automatically. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_key.h"
#include "applets/fido/ctap_priv.h"
#include "vkey/vkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t commands[] = {
	CTAP_CMD_MAKE_CREDENTIAL, CTAP_CMD_GET_ASSERTION,
	CTAP_CMD_GET_INFO,        CTAP_CMD_CLIENT_PIN,
	CTAP_CMD_RESET,           CTAP_CMD_GET_NEXT_ASSERTION,
	CTAP_CMD_CRED_MGMT,       CTAP_CMD_SELECTION,
	CTAP_CMD_LARGE_BLOBS,     CTAP_CMD_CONFIG,
	CTAP_CMD_CRED_MGMT_PRE,   0x03, /* not a command */
};

/* One key for the whole run (static state is fine in a fuzz harness, not
 * in vkey): opening one per input would cost a state file each. */
static struct vkey *key;
static struct ctap *ctap;
static uint8_t resp[CTAP_MAX_MSG];

static void cleanup(void)
{
	ctap_destroy(ctap);
}

static int init(void)
{
	key = fuzz_key_open("ctap", VKEY_UP_AUTO);
	if (key == NULL)
		return -1;
	if (ctap_create(key, &ctap) != 0)
		return -1;
	atexit(cleanup);
	return 0;
}

/* The commands that continue a stateful one, so that their state is
 * exercised too. */
static void follow_up(uint8_t cmd)
{
	static const uint8_t next[] = { CTAP_CMD_GET_NEXT_ASSERTION };
	static const uint8_t rps[] = { CTAP_CMD_CRED_MGMT, 0xA1, 0x01, 0x03 };
	static const uint8_t creds[] = { CTAP_CMD_CRED_MGMT, 0xA1, 0x01, 0x05 };

	if (cmd == CTAP_CMD_GET_ASSERTION)
		ctap_cbor(ctap, next, sizeof(next), resp, sizeof(resp), NULL);
	if (cmd == CTAP_CMD_CRED_MGMT) {
		ctap_cbor(ctap, rps, sizeof(rps), resp, sizeof(resp), NULL);
		ctap_cbor(ctap, creds, sizeof(creds), resp, sizeof(resp), NULL);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *req;
	size_t n;

	if (key == NULL && init() != 0)
		abort();
	if (size < 1)
		return 0;
	/* Each input starts from a power-up: the reset window is open and
	 * no state of an earlier input carries over. */
	ctap_power_up(ctap);
	/* Exact-size copy so the sanitizer sees any over-read. */
	req = malloc(size);
	if (req == NULL)
		return 0;
	req[0] = commands[data[0] % sizeof(commands)];
	memcpy(req + 1, data + 1, size - 1);
	n = ctap_cbor(ctap, req, size, resp, sizeof(resp), NULL);
	if (n < 1 || n > sizeof(resp))
		abort();
	if (resp[0] == 0)
		follow_up(req[0]);
	free(req);
	return 0;
}
