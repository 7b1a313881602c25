/* The data endpoints under QEMU's canokey device. OUT: QEMU copies each
 * packet into the buffer we registered and calls data_out; the command
 * runs to its end before we return. IN: QEMU keeps what we transmit in a
 * 2048-byte buffer per endpoint that it never bounds, so we keep count of
 * what it may hold (struct ck_in) and transmit only what fits. */
#include <string.h>

#include "canokey/ck.h"

#define EP_DIR_IN 0x80

static struct ck_in *in_state(struct ck *c, uint8_t ep)
{
	return &c->in[ep];
}

/* Register (again) the OUT buffers: QEMU shrinks the registered size to
 * each piece it copies, so every data_out re-arms its endpoint. */
void ck_arm_out(struct ck *c)
{
	(void)canokey_emu_prepare_receive(c->qemu, 0, c->ep0_out,
					  CK_EP0_OUT_MAX);
	(void)canokey_emu_prepare_receive(c->qemu, CANOKEY_EMU_EP_CTAPHID,
					  c->out[CANOKEY_EMU_EP_CTAPHID],
					  CK_OUT_PIECE);
	(void)canokey_emu_prepare_receive(c->qemu, CANOKEY_EMU_EP_CCID,
					  c->out[CANOKEY_EMU_EP_CCID],
					  CK_OUT_PIECE);
}

/* After a bus reset QEMU's IN buffers are empty and idle. */
void ck_in_reset(struct ck *c)
{
	for (size_t i = 0; i < CK_N_EPS; i++)
		c->in[i] = (struct ck_in){ .held = 0, .armed = true };
	c->setup_pending = false;
}

/* transmit() on the CTAPHID endpoint wakes the endpoint; on xhci that
 * may run the host's waiting IN token at once, inside the call (QEMU then
 * calls data_in and device_loop, which abi.c turns into c->kicked). */
void ck_transmit(struct ck *c, uint8_t ep, const uint8_t *buf, size_t n)
{
	c->kicked = false;
	(void)canokey_emu_transmit(c->qemu, ep, buf, (uint16_t)n);
	if (ep != 0)
		in_state(c, ep)->held += n;
}

void ck_data_out(struct ck *c, uint8_t ep)
{
	uint32_t n = canokey_emu_get_rx_data_size(c->qemu, ep);

	if (n > CK_OUT_PIECE) { /* QEMU never gives more than we asked */
		log_warn("canokey: %u-byte OUT piece on ep %u cut to %u",
			 (unsigned)n, ep, CK_OUT_PIECE);
		n = CK_OUT_PIECE;
	}
	if (usb_dev_out(c->dev, ep, c->out[ep], n) != 0)
		log_debug("canokey: OUT on ep %u refused (%u bytes)", ep,
			  (unsigned)n);
	explicit_bzero(c->out[ep], n); /* PINs travel here */
	(void)canokey_emu_prepare_receive(c->qemu, ep, c->out[ep],
					  CK_OUT_PIECE);
	if (usb_dev_ep_busy(c->dev, ep) &&
	    usb_dev_wait_ep(c->dev, ep, CK_CMD_WAIT_MS) != 0)
		log_info("canokey: ep %u: command still running after %u ms",
			 ep, CK_CMD_WAIT_MS);
}

/* The next data of an IN endpoint, at most cap bytes; when nothing is
 * ready but a command runs, wait (bounded) for its answer or for the
 * keepalive / time extension the class offers meanwhile. */
static int next_in(struct ck *c, uint8_t ep, size_t cap)
{
	int r = usb_dev_in(c->dev, ep | EP_DIR_IN, c->in_buf, cap);

	if (r != USB_NAK || !usb_dev_ep_busy(c->dev, ep))
		return r;
	(void)usb_dev_wait_ep(c->dev, ep, CK_IN_WAIT_MS);
	return usb_dev_in(c->dev, ep | EP_DIR_IN, c->in_buf, cap);
}

/* CTAPHID: whole 64-byte reports while they fit; returns bytes sent, or
 * USB_STALL when the endpoint refuses before anything was sent. */
static int fill_ctaphid(struct ck *c, size_t room)
{
	const uint8_t ep = CANOKEY_EMU_EP_CTAPHID;
	size_t sent = 0;
	int r;

	while (room - sent >= USB_MAX_PACKET) {
		r = sent == 0 ? next_in(c, ep, USB_MAX_PACKET)
			      : usb_dev_in(c->dev, ep | EP_DIR_IN, c->in_buf,
					   USB_MAX_PACKET);
		if (r < 0)
			return sent == 0 && r == USB_STALL ? USB_STALL
							   : (int)sent;
		ck_transmit(c, ep, c->in_buf, (size_t)r);
		sent += (size_t)r;
		if (r == 0)
			break;
	}
	return (int)sent;
}

/* CCID: one message per data_in. An xhci host takes everything QEMU
 * holds as one transfer, and libccid wants exactly one message in it;
 * the device's limits (CK_CCID_MSG_MAX, no_zlp) keep every message well
 * inside 2048 bytes and ending with a short packet. */
static int fill_ccid(struct ck *c, size_t room)
{
	int r = next_in(c, CANOKEY_EMU_EP_CCID, room);

	if (r >= 0)
		ck_transmit(c, CANOKEY_EMU_EP_CCID, c->in_buf, (size_t)r);
	return r == USB_NAK ? 0 : r;
}

/* QEMU's IN token found nothing of ours being drained (data_in is only
 * called then): what it holds now is what we pushed while armed. */
void ck_data_in(struct ck *c, uint8_t ep)
{
	struct ck_in *in;
	int r;

	if (ep != CANOKEY_EMU_EP_CTAPHID && ep != CANOKEY_EMU_EP_CCID)
		return; /* ep 0 is served inside setup / data_out */
	in = in_state(c, ep);
	if (!in->armed)
		in->held = 0; /* drained since the last data_in */
	if (ep == CANOKEY_EMU_EP_CTAPHID)
		r = fill_ctaphid(c, CK_IN_MAX - in->held);
	else
		r = fill_ccid(c, CK_IN_MAX - in->held);
	if (r == USB_STALL && in->held == 0) {
		(void)canokey_emu_stall_ep(c->qemu, ep);
		in->armed = false;
		return;
	}
	/* Bytes in QEMU's buffer are taken right after we return; with none,
	 * QEMU answers NAK and waits for us (armed). */
	in->armed = in->held == 0;
}

/* Between data_in calls: a CTAPHID report for an IN token QEMU answered
 * NAK. transmit() wakes the endpoint, which is how the xhci host gets to
 * retry it; at most one report waits in QEMU's buffer this way, unless
 * xhci took it at once (c->kicked). CCID needs no push: its answer is
 * ready before the host asks (data_out waits for it). */
void ck_pump(struct ck *c)
{
	const uint8_t ep = CANOKEY_EMU_EP_CTAPHID;
	struct ck_in *in = in_state(c, ep);
	int r;

	for (unsigned i = 0; i < CK_PUMP_MAX && in->armed && in->held == 0;
	     i++) {
		r = usb_dev_in(c->dev, ep | EP_DIR_IN, c->in_buf,
			       USB_MAX_PACKET);
		if (r <= 0)
			return; /* a STALL waits for the host's IN token */
		ck_transmit(c, ep, c->in_buf, (size_t)r);
		if (c->kicked)
			in->held = 0; /* the IN token took the whole report */
	}
}
