/* QEMU 7.2's canokey device model, rewritten from its behaviour (see
 * fake_qemu.h), plus the checks QEMU lacks. */
#include "fake_qemu.h"

#include <stdio.h>
#include <string.h>

#include <canokey-qemu.h>

#define EP_NUM(ep) ((uint8_t)((ep) & 0x7F))

struct fq fq;

void fq_init(enum fq_hc hc)
{
	memset(&fq, 0, sizeof(fq));
	fq.hc = hc;
}

int fq_realize(const char *file)
{
	for (size_t i = 0; i < FQ_EPS; i++)
		fq.ep_in_state[i] = FQ_WAIT;
	return canokey_emu_init(&fq, file) == 0 ? 0 : -1;
}

void fq_reset(void)
{
	for (size_t i = 0; i < FQ_EPS; i++) {
		fq.ep_in_state[i] = FQ_WAIT;
		fq.ep_in_pos[i] = 0;
		fq.ep_in_size[i] = 0;
		memset(&fq.td[i], 0, sizeof(fq.td[i]));
	}
	fq.addr = 0;
	canokey_emu_reset();
}

/* --- the five callbacks QEMU provides ----------------------------------- */

int canokey_emu_stall_ep(void *base, uint8_t ep)
{
	struct fq *q = base;
	uint8_t n = EP_NUM(ep);

	if (n >= FQ_EPS)
		return 0;
	q->ep_in_size[n] = 0;
	q->ep_in_state[n] = FQ_STALLED;
	return 0;
}

int canokey_emu_set_address(void *base, uint8_t addr)
{
	((struct fq *)base)->addr = addr;
	return 0;
}

int canokey_emu_prepare_receive(void *base, uint8_t ep, uint8_t *pbuf,
				uint16_t size)
{
	struct fq *q = base;

	if (ep >= FQ_EPS)
		return 0;
	q->ep_out[ep] = pbuf;
	q->ep_out_size[ep] = size;
	return 0;
}

static void xhci_wakeup(uint8_t ep);

int canokey_emu_transmit(void *base, uint8_t ep, const uint8_t *pbuf,
			 uint16_t size)
{
	struct fq *q = base;
	uint8_t n = EP_NUM(ep);

	if (n >= FQ_EPS)
		return 0;
	q->transmits++;
	if (q->ep_in_size[n] + size > FQ_IN_SIZE) {
		q->faults.in_overflow++; /* QEMU would write past ep_in */
		size = (uint16_t)(FQ_IN_SIZE - q->ep_in_size[n]);
	}
	memcpy(q->ep_in[n] + q->ep_in_size[n], pbuf, size);
	q->ep_in_size[n] += size;
	q->ep_in_state[n] = FQ_READY;
	if (n == CANOKEY_EMU_EP_CTAPHID) {
		q->depth++;
		if (q->depth > q->max_depth)
			q->max_depth = q->depth;
		q->wakeups++;
		xhci_wakeup(n); /* usb_wakeup */
		canokey_emu_data_in(n);
		q->depth--;
	}
	return 0;
}

uint32_t canokey_emu_get_rx_data_size(void *base, uint8_t ep)
{
	struct fq *q = base;

	return ep < FQ_EPS ? q->ep_out_size[ep] : 0;
}

/* --- QEMU's handlers ---------------------------------------------------- */

int fq_control(uint8_t rt, uint8_t req, uint16_t value, uint16_t index,
	       uint16_t length, uint8_t *data)
{
	int r;

	if (length > FQ_DATA_BUF)
		return FQ_STALL; /* do_token_setup: ctrl buffer too small */
	canokey_emu_setup(rt << 8 | req, value, index, length);
	if ((rt & 0x80) == 0) {
		if (fq.ep_out[0] != NULL && data != NULL)
			memcpy(fq.ep_out[0], data, length);
		canokey_emu_data_out(0, data);
	}
	canokey_emu_device_loop();
	switch (fq.ep_in_state[0]) {
	case FQ_WAIT:
		return FQ_NAK;
	case FQ_STALLED:
		return FQ_STALL;
	case FQ_READY:
	default:
		if (fq.ep_in_size[0] > length)
			fq.faults.ctrl_too_long++;
		if (data != NULL && fq.ep_in_size[0] > 0)
			memcpy(data, fq.ep_in[0], fq.ep_in_size[0]);
		r = (int)fq.ep_in_size[0];
		fq.ep_in_state[0] = FQ_WAIT;
		fq.ep_in_size[0] = 0;
		fq.ep_in_pos[0] = 0;
		return r;
	}
}

int fq_xhci_address(uint8_t slot)
{
	return fq_control(0x00, 5, slot, 0, 0, NULL);
}

int fq_in(uint8_t ep, uint8_t *buf, size_t len)
{
	uint32_t n;
	int r;

	if (ep == 0 || ep >= FQ_EPS)
		return FQ_STALL;
	fq.in_active[ep] = true;
	if (fq.ep_in_pos[ep] == 0) {
		canokey_emu_data_in(ep);
		canokey_emu_device_loop();
	}
	switch (fq.ep_in_state[ep]) {
	case FQ_WAIT:
		r = FQ_NAK;
		break;
	case FQ_STALLED:
		r = FQ_STALL;
		break;
	case FQ_READY:
	default:
		n = fq.ep_in_size[ep] - fq.ep_in_pos[ep];
		if (n > len)
			n = (uint32_t)len;
		memcpy(buf, fq.ep_in[ep] + fq.ep_in_pos[ep], n);
		fq.ep_in_pos[ep] += n;
		if (fq.ep_in_pos[ep] == fq.ep_in_size[ep]) {
			fq.ep_in_state[ep] = FQ_WAIT;
			fq.ep_in_size[ep] = 0;
			fq.ep_in_pos[ep] = 0;
		}
		r = (int)n;
		break;
	}
	fq.in_active[ep] = false;
	return r;
}

int fq_out(uint8_t ep, const uint8_t *data, size_t len)
{
	size_t pos = 0, n;

	if (ep == 0 || ep >= FQ_EPS)
		return FQ_STALL;
	if (len > FQ_OUT_SIZE) {
		fq.faults.out_overflow++; /* usb_packet_copy past the buffer */
		return FQ_STALL;
	}
	memcpy(fq.ep_out_buffer[ep], data, len);
	while (pos != len) {
		if (fq.ep_out[ep] == NULL || fq.ep_out_size[ep] == 0) {
			fq.faults.out_unarmed++; /* QEMU: NULL copy or no end */
			return FQ_STALL;
		}
		n = len - pos < fq.ep_out_size[ep] ? len - pos
						    : fq.ep_out_size[ep];
		memcpy(fq.ep_out[ep], fq.ep_out_buffer[ep] + pos, n);
		pos += n;
		fq.ep_out_size[ep] = (uint32_t)n;
		canokey_emu_data_out(ep, NULL);
	}
	if (ep == CANOKEY_EMU_EP_CTAPHID)
		canokey_emu_device_loop();
	return (int)len;
}

/* --- xhci's transfer descriptors ---------------------------------------- */

static void td_try(uint8_t ep)
{
	struct fq_td *td = &fq.td[ep];
	int r = fq_in(ep, td->data, td->len < sizeof(td->data)
					    ? td->len
					    : sizeof(td->data));

	if (r == FQ_NAK) {
		td->pending = true;
		return;
	}
	td->pending = false;
	td->done = true;
	td->status = r;
}

/* xhci_wakeup_endpoint: a waiting transfer runs now. QEMU 7.2 does so
 * even when that transfer's own handler is on the stack (a retry runs
 * outside xhci's kick guard): counted as a fault, not run twice here. */
static void xhci_wakeup(uint8_t ep)
{
	if (fq.hc != FQ_XHCI || fq.addr == 0)
		return;
	if (fq.in_active[ep]) {
		fq.faults.xhci_in_reentry++;
		return;
	}
	if (!fq.td[ep].pending)
		return;
	fq.kicks++;
	td_try(ep);
}

void fq_xhci_submit(uint8_t ep, size_t len)
{
	struct fq_td *td = &fq.td[ep];

	if (td->pending || td->done)
		return;
	td->len = len;
	td_try(ep);
}

bool fq_td_take(uint8_t ep, int *status, uint8_t *buf, size_t cap)
{
	struct fq_td *td = &fq.td[ep];
	size_t n;

	if (!td->done)
		return false;
	*status = td->status;
	n = td->status > 0 ? (size_t)td->status : 0;
	if (n > cap)
		n = cap;
	memcpy(buf, td->data, n);
	td->done = false;
	return true;
}

bool fq_faulty(void)
{
	const struct fq_faults *f = &fq.faults;

	if (f->in_overflow || f->out_overflow || f->out_unarmed ||
	    f->ctrl_too_long || f->xhci_in_reentry) {
		fprintf(stderr,
			"fake qemu: in_overflow %u out_overflow %u "
			"out_unarmed %u ctrl_too_long %u xhci_in_reentry %u\n",
			f->in_overflow, f->out_overflow, f->out_unarmed,
			f->ctrl_too_long, f->xhci_in_reentry);
		return true;
	}
	return false;
}
