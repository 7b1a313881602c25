/* Fuzz target for the CTAPHID class: the input as 64-byte reports (and a
 * shorter tail) into its OUT op; every IN report checked as it drains.
 *
 * MSG and CBOR reach a key opened once with user presence approved
 * automatically; when the input holds such a request, the worker's
 * answers are drained too, until the class has been quiet for a moment. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fuzz_key.h"
#include "usb/usb_class.h"
#include "vkey/vkey.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define RPT 64
#define MAX_MSG 7609

/* One key for the whole run (static state is fine in a fuzz harness, not
 * in vkey): opening one per input would cost a state file each. */
static struct vkey *key;

static int init(void)
{
	key = fuzz_key_open("ctaphid", VKEY_UP_AUTO);
	return key != NULL ? 0 : -1;
}

/* Every IN report is 64 bytes; an init packet never announces more than
 * maxMsgSize. */
static void drain(void *h)
{
	uint8_t rpt[RPT];
	int n;

	while ((n = usb_ctaphid_class.in(h, rpt, sizeof(rpt))) != USB_NAK) {
		if (n != RPT)
			abort();
		if ((rpt[4] & 0x80) != 0 &&
		    ((size_t)rpt[5] << 8 | rpt[6]) > MAX_MSG)
			abort();
	}
}

/* An init packet of MSG or CBOR: the worker will answer later. */
static int is_request(const uint8_t *rpt, size_t n)
{
	return n == RPT &&
	       (rpt[4] == (0x80 | 0x03) || rpt[4] == (0x80 | 0x10));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const struct usb_class_ops *ops = &usb_ctaphid_class;
	int requests = 0;
	unsigned seen;
	void *h;

	if (key == NULL && init() != 0)
		abort();
	h = ops->create(key, fuzz_notify, NULL);
	if (h == NULL)
		abort();
	for (size_t off = 0; off < size; off += RPT) {
		size_t n = size - off < RPT ? size - off : RPT;
		/* Exact-size copy so the sanitizer sees any over-read. */
		uint8_t *rpt = malloc(n);
		int r;

		if (rpt == NULL)
			break;
		memcpy(rpt, data + off, n);
		requests |= is_request(rpt, n);
		r = ops->out(h, rpt, n);
		free(rpt);
		if (r != (n == RPT ? 0 : USB_STALL))
			abort();
		drain(h);
	}
	do {
		seen = fuzz_notes();
		drain(h);
	} while (requests && fuzz_noted(seen, 50));
	ops->destroy(h);
	return 0;
}
