/* The data endpoints under QEMU's canokey device.
 *
 * OUT: QEMU copies each packet into the buffer we registered and calls
 * data_out; a command completed by it runs to its end before we return.
 *
 * IN: QEMU keeps what we transmit in a 2048-byte buffer per endpoint that
 * it never bounds, hands it out to IN tokens, and calls data_in (then
 * device_loop) on an IN token only when nothing of it is being handed
 * out. struct ck_in keeps a bound on what that buffer holds.
 *
 * CTAPHID (ep 1): transmit() wakes the endpoint, and QEMU 7.2's xhci runs
 * a waiting IN transfer from the wakeup, inside transmit. If that is the
 * transfer QEMU is handling already (one that was NAKed, or whose first
 * try waited for the endpoint's interval, both run outside xhci's kick
 * guard), it is handled twice and freed under the outer handler. So no
 * report is transmitted while QEMU handles an IN token of this endpoint:
 * reports are pushed from the device_loop QEMU calls after an OUT on ep
 * 1, a control transfer or a CCID IN token, and the wakeup delivers
 * them. An answer must then fit QEMU's buffer whole (CK_HID_MSG_MAX).
 *
 * CCID (ep 2): QEMU does not wake it, so data_in transmits, one message
 * per call: an xhci host takes everything QEMU holds as one transfer, and
 * libccid wants exactly one message in it.
 *
 * A halted data endpoint (the device model answers USB_STALL) gets NAK,
 * not canokey_emu_stall_ep: QEMU would go on answering STALL after the
 * host clears the halt, until the device next transmits. */
#include <string.h>

#include "canokey/ck.h"

#define EP_DIR_IN 0x80
/* Bound on the reports one push transmits. */
#define PUSH_MAX (CK_IN_MAX / USB_MAX_PACKET)

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

/* After a bus reset QEMU's IN buffers are empty. */
void ck_in_reset(struct ck *c)
{
	memset(c->in, 0, sizeof(c->in));
	c->setup_pending = false;
	c->in_token = 0;
}

/* An IN token found QEMU's buffer not being handed out (pos 0): it holds
 * at most what was transmitted since the last such token, since that one
 * took something if there was anything (an IN transfer asks for at least
 * one byte), and the buffer only starts over once emptied. */
static void in_token(struct ck_in *in)
{
	in->held = in->since_token;
	in->since_token = 0;
}

/* On ep 1 QEMU calls data_in back from inside (and on xhci, when a
 * transfer waits, runs that IN token: data_in, device_loop, the report
 * taken); abi.c ignores those nested calls. The count then runs ahead of
 * QEMU's buffer until the next data_in, which is safe. */
void ck_transmit(struct ck *c, uint8_t ep, const uint8_t *buf, size_t n)
{
	(void)canokey_emu_transmit(c->qemu, ep, buf, (uint16_t)n);
	if (ep != 0) {
		c->in[ep].held += n;
		c->in[ep].since_token += n;
	}
}

/* CTAPHID reports into QEMU's buffer while they fit; never called while
 * QEMU handles an IN token of ep 1 (see the top of this file). */
void ck_push(struct ck *c)
{
	const uint8_t ep = CANOKEY_EMU_EP_CTAPHID;
	struct ck_in *in = &c->in[ep];
	int r;

	for (unsigned i = 0; i < PUSH_MAX; i++) {
		if (CK_IN_MAX - in->held < USB_MAX_PACKET)
			return;
		r = usb_dev_in(c->dev, ep | EP_DIR_IN, c->in_buf,
			       USB_MAX_PACKET);
		if (r <= 0)
			return; /* a STALL waits for the host's IN token */
		ck_transmit(c, ep, c->in_buf, (size_t)r);
	}
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

/* CCID: the next message, whole; when none is ready but a command runs,
 * wait (bounded) for its answer or the time extension offered meanwhile. */
static void ccid_in(struct ck *c, struct ck_in *in)
{
	const uint8_t ep = CANOKEY_EMU_EP_CCID;
	size_t room = CK_IN_MAX - in->held;
	int r = usb_dev_in(c->dev, ep | EP_DIR_IN, c->in_buf, room);

	if (r == USB_NAK && usb_dev_ep_busy(c->dev, ep)) {
		(void)usb_dev_wait_ep(c->dev, ep, CK_IN_WAIT_MS);
		r = usb_dev_in(c->dev, ep | EP_DIR_IN, c->in_buf, room);
	}
	if (r >= 0)
		ck_transmit(c, ep, c->in_buf, (size_t)r);
}

/* An IN token with nothing of ours being handed out. */
void ck_data_in(struct ck *c, uint8_t ep)
{
	if (ep != CANOKEY_EMU_EP_CTAPHID && ep != CANOKEY_EMU_EP_CCID)
		return; /* ep 0 is served inside setup / data_out */
	in_token(&c->in[ep]);
	c->in_token = ep;
	if (ep == CANOKEY_EMU_EP_CCID)
		ccid_in(c, &c->in[ep]);
}
