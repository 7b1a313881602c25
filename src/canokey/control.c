/* Endpoint 0 under QEMU's canokey device: every control request ends,
 * inside the call that carries it, with a transmit on ep 0 (the data
 * stage of an IN request, a zero-length status stage for an OUT one) or
 * a stall, since QEMU answers from that state as soon as we return. */
#include <string.h>

#include "canokey/ck.h"

#define RT_DIR_IN 0x80
#define RT_TYPE_RECIP_MASK 0x7F
#define RT_STANDARD_DEVICE 0x00
#define REQ_SET_ADDRESS 5

static void finish(struct ck *c, int r, size_t n)
{
	if (r < 0)
		(void)canokey_emu_stall_ep(c->qemu, 0);
	else
		ck_transmit(c, 0, c->in_buf, n);
}

/* QEMU 7.2 passes request = bmRequestType << 8 | bRequest and the other
 * fields as ints; anything wider than the SETUP packet's fields is cut to
 * them. */
void ck_setup(struct ck *c, int request, int value, int index, int length)
{
	struct usb_setup s = {
		.bmRequestType = (uint8_t)((unsigned)request >> 8),
		.bRequest = (uint8_t)request,
		.wValue = (uint16_t)value,
		.wIndex = (uint16_t)index,
		.wLength = (uint16_t)length,
	};
	size_t cap = s.wLength < CK_IN_MAX ? s.wLength : CK_IN_MAX;
	int r;

	c->setup_pending = false;
	if ((s.bmRequestType & RT_DIR_IN) == 0) {
		c->setup = s; /* served at data_out(0), with the data stage */
		c->setup_pending = true;
		return;
	}
	r = usb_dev_control(c->dev, &s, c->in_buf, cap);
	finish(c, r, r > 0 ? (size_t)r : 0);
}

/* The data stage of an OUT request (none for SET_ADDRESS and its like:
 * xhci passes data NULL then). QEMU copied the same bytes into ep0_out. */
void ck_control_out(struct ck *c, const uint8_t *data)
{
	struct usb_setup s = c->setup;
	size_t len = s.wLength < CK_EP0_OUT_MAX ? s.wLength : CK_EP0_OUT_MAX;
	int r;

	if (!c->setup_pending) {
		log_debug("canokey: ep 0 OUT data without a SETUP, ignored");
		return;
	}
	c->setup_pending = false;
	if (data != NULL && data != c->ep0_out && len > 0)
		memmove(c->ep0_out, data, len);
	r = usb_dev_control(c->dev, &s, c->ep0_out, len);
	explicit_bzero(c->ep0_out, len);
	if (r == 0 && (s.bmRequestType & RT_TYPE_RECIP_MASK) ==
			      RT_STANDARD_DEVICE &&
	    s.bRequest == REQ_SET_ADDRESS)
		(void)canokey_emu_set_address(c->qemu, (uint8_t)s.wValue);
	finish(c, r, 0);
}
