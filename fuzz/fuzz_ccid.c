/* Fuzz target for the CCID class: the input is a series of bulk OUT
 * writes, each a 2-byte big-endian length and that many bytes, handed to
 * usb_dev_out on EP 0x02 of a configured device; after each write the
 * IN endpoint 0x82 is drained, in 64-byte packets or whole transfers as
 * bit 15 of the length says. A bus reset ends every input. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "usb/usb.h"
#include "fuzz_key.h"
#include "vkey/vkey.h"

#define MAX_WRITES 64
#define WHOLE_CAP 70000 /* larger than any CCID message */
#define IDLE_POLLS 4    /* NAKs in a row before moving on */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One key and device for the whole run (static state is fine in a fuzz
 * harness, not in vkey). */
static struct vkey *key;
static struct usb_dev *dev;
static uint8_t in_buf[WHOLE_CAP];

static void cleanup(void)
{
	usb_dev_detach(dev);
	usb_dev_free(dev);
}

static void configure(void)
{
	struct usb_setup s = { 0x00, 9, 1, 0, 0 };

	if (usb_dev_control(dev, &s, NULL, 0) != 0)
		abort();
}

static int init(void)
{
	key = fuzz_key_open("ccid", VKEY_UP_AUTO);
	if (key == NULL)
		return -1;
	dev = usb_dev_new(key, NULL);
	if (dev == NULL)
		return -1;
	usb_dev_attach(dev);
	configure();
	atexit(cleanup);
	return 0;
}

/* Read what the device has; answers come from a worker, so wait a
 * little for them (under VKEY_UP_AUTO a command takes well under 1 ms). */
static void drain(size_t cap)
{
	int idle = 0;

	while (idle < IDLE_POLLS) {
		int r = usb_dev_in(dev, USB_EP_CCID_IN, in_buf, cap);
		if (r == USB_STALL || r > (int)cap)
			abort();
		if (r == USB_NAK) {
			idle++;
			usleep(200);
		} else {
			idle = 0;
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	if (key == NULL && init() != 0)
		abort();
	for (int i = 0; i < MAX_WRITES && size - off >= 2; i++) {
		size_t n = (size_t)((data[off] & 0x7F) << 8 | data[off + 1]);
		size_t cap = (data[off] & 0x80) ? WHOLE_CAP : USB_MAX_PACKET;
		uint8_t *p;

		off += 2;
		if (n > size - off)
			n = size - off;
		/* Exact-size copy so the sanitizer sees any over-read. */
		p = malloc(n ? n : 1);
		if (p == NULL)
			break;
		memcpy(p, data + off, n);
		if (usb_dev_out(dev, USB_EP_CCID_OUT, p, n) != 0)
			abort();
		free(p);
		off += n;
		drain(cap);
	}
	usb_dev_reset(dev);
	configure();
	return 0;
}
