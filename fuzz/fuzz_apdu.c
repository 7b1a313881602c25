/* Fuzz target for the APDU parser and dispatcher: the input is split
 * into several commands (2-byte big-endian length prefixes) that run
 * against the test applets, so chaining and GET RESPONSE are reached. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "apdu/apdu.h"
#include "apdu/dispatch.h"
#include "vkey/vkey.h"
#include "../tests/core/echo_applet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct applet_ops *const ops[] = { &echo_applet,
							&echo2_applet };
	static uint8_t resp[VKEY_APDU_MAX];
	struct dispatch d;
	struct apdu a;
	size_t off = 0, resp_len;

	/* The whole input as one APDU first. */
	(void)apdu_parse(data, size, &a);
	if (dispatch_init(&d, NULL, ops, 2) != 0)
		return 0;
	while (size - off >= 2) {
		size_t n = (size_t)(data[off] << 8 | data[off + 1]);
		off += 2;
		if (n > size - off)
			n = size - off;
		/* Exact-size copy so the sanitizer sees any over-read. */
		uint8_t *cmd = malloc(n ? n : 1);
		if (cmd == NULL)
			break;
		memcpy(cmd, data + off, n);
		dispatch_apdu(&d, cmd, n, resp, sizeof(resp), &resp_len);
		free(cmd);
		if (resp_len < 2 || resp_len > sizeof(resp))
			abort();
		off += n;
	}
	dispatch_free(&d);
	return 0;
}
