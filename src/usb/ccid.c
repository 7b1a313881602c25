/* The CCID interface (USB CCID 1.1, DWG_Smart-Card_CCID_Rev110): one slot
 * holding the key as a T=1 card at the extended APDU level, bulk-only.
 * This file: the class table entry, its descriptor, the class requests
 * (§5.3) and the state's lifetime. */
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "usb/ccid_priv.h"
#include "usb/usb_class.h"
#include "vkey/vkey.h"

static int dword_list(const struct usb_setup *s, uint8_t *data, size_t len,
		      const uint32_t *v, size_t n)
{
	uint8_t b[8];
	size_t k = 0;

	for (size_t i = 0; i < n && k + 4 <= sizeof(b); i++, k += 4)
		ccid_le32(b + k, v[i]);
	if (k > len)
		k = len;
	if (k > s->wLength)
		k = s->wLength;
	memcpy(data, b, k);
	return (int)k;
}

/* §5.3.1 ABORT: wValue = bSeq << 8 | bSlot. */
static int abort_request(struct ccid *c, const struct usb_setup *s)
{
	uint8_t seq = (uint8_t)(s->wValue >> 8);

	if ((s->wValue & 0xFF) != 0 || s->wLength != 0)
		return USB_STALL;
	pthread_mutex_lock(&c->lock);
	if (c->busy && c->busy_seq == seq) {
		struct ccid_msg aborted = { .type = PC_to_RDR_XfrBlock,
					    .seq = seq };
		ccid_abandon_job(c);
		ccid_fail(c, &aborted, CMD_ABORTED);
	}
	c->abort_pending = true;
	pthread_mutex_unlock(&c->lock);
	ccid_notify(c);
	return 0;
}

static int ccid_control(void *cls, const struct usb_setup *s, uint8_t *data,
			size_t len)
{
	static const uint32_t clocks[] = { CCID_CLOCK_KHZ };
	static const uint32_t rates[] = { CCID_RATE_DEFAULT, CCID_RATE_MAX };

	if (s->bmRequestType == 0x21 && s->bRequest == CCID_REQ_ABORT)
		return abort_request(cls, s);
	if (s->bmRequestType != 0xA1 || s->wValue != 0)
		return USB_STALL;
	if (s->bRequest == CCID_REQ_GET_CLOCK_FREQUENCIES)
		return dword_list(s, data, len, clocks, 1);
	if (s->bRequest == CCID_REQ_GET_DATA_RATES)
		return dword_list(s, data, len, rates, 2);
	return USB_STALL;
}

/* §5.1. bClassGetResponse/bClassEnvelope 0xFF: echo the APDU's class;
 * no LCD, no PIN pad. No interrupt-IN endpoint: libccid runs bulk-only
 * readers fine (ccid_usb.c polls only when bNumEndpoints is 3; pcscd then
 * asks GetSlotStatus), and the card is never removed. */
static int ccid_class_descriptor(void *cls, struct wbuf *out)
{
	struct ccid_wire_desc d;

	memset(&d, 0, sizeof(d));
	d.bLength = sizeof(d);
	d.bDescriptorType = 0x21;
	ccid_le16(d.bcdCCID, 0x0110);
	d.bMaxSlotIndex = 0;
	d.bVoltageSupport = CCID_VOLTAGES;
	ccid_le32(d.dwProtocols, CCID_PROTOCOLS);
	ccid_le32(d.dwDefaultClock, CCID_CLOCK_KHZ);
	ccid_le32(d.dwMaximumClock, CCID_CLOCK_KHZ);
	d.bNumClockSupported = 1;
	ccid_le32(d.dwDataRate, CCID_RATE_DEFAULT);
	ccid_le32(d.dwMaxDataRate, CCID_RATE_MAX);
	d.bNumDataRatesSupported = 2;
	ccid_le32(d.dwMaxIFSD, CCID_MAX_IFSD);
	ccid_le32(d.dwFeatures, CCID_FEATURES);
	ccid_le32(d.dwMaxCCIDMessageLength, ((struct ccid *)cls)->msg_max);
	d.bClassGetResponse = 0xFF;
	d.bClassEnvelope = 0xFF;
	d.bMaxCCIDBusySlots = 1;
	return wbuf_put(out, &d, sizeof(d));
}

static void ccid_reset(void *cls)
{
	struct ccid *c = cls;

	pthread_mutex_lock(&c->lock);
	ccid_abandon_job(c);
	ccid_drop_rdata(c);
	c->rx_len = 0;
	c->discarding = false;
	c->powered = false;
	c->abort_pending = false;
	memcpy(c->t1, ccid_t1_defaults, sizeof(c->t1));
	c->data_rate = CCID_RATE_DEFAULT;
	explicit_bzero(c->tx, c->tx_len);
	c->tx_len = c->tx_off = 0;
	c->zlp_pending = false;
	c->q_head = c->q_count = 0;
	pthread_mutex_unlock(&c->lock);
}

static void ccid_destroy(void *cls)
{
	struct ccid *c = cls;

	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	if (c->busy)
		vkey_cancel(c->key);
	c->stop = true;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
	if (c->worker_started)
		pthread_join(c->worker, NULL);
	if (c->ticker_started)
		pthread_join(c->ticker, NULL);
	pthread_cond_destroy(&c->cond);
	pthread_mutex_destroy(&c->lock);
	free(c->rx);
	free(c->apdu);
	free(c->wcmd);
	free(c->wresp);
	free(c->rdata);
	free(c->tx);
	free(c);
}

static int init_sync(struct ccid *c)
{
	pthread_condattr_t attr;
	int r = -1;

	if (pthread_condattr_init(&attr) != 0)
		return -1;
	if (pthread_condattr_setclock(&attr, CLOCK_MONOTONIC) == 0 &&
	    pthread_cond_init(&c->cond, &attr) == 0)
		r = 0;
	pthread_condattr_destroy(&attr);
	if (r == 0)
		pthread_mutex_init(&c->lock, NULL);
	return r;
}

static void *ccid_create(struct vkey *key, void (*notify)(void *arg),
			 void *arg)
{
	struct ccid *c = calloc(1, sizeof(*c));
	void *ret = NULL;

	if (c == NULL || init_sync(c) != 0) {
		free(c);
		return NULL;
	}
	c->key = key;
	c->msg_max = CCID_MSG_MAX;
	c->notify = notify;
	c->notify_arg = arg;
	memcpy(c->t1, ccid_t1_defaults, sizeof(c->t1));
	c->data_rate = CCID_RATE_DEFAULT;
	c->rx = malloc(CCID_MSG_MAX);
	c->tx = malloc(CCID_MSG_MAX);
	c->apdu = malloc(VKEY_APDU_MAX);
	c->wcmd = malloc(VKEY_APDU_MAX);
	c->wresp = malloc(VKEY_APDU_MAX);
	c->rdata = malloc(VKEY_APDU_MAX);
	if (c->rx == NULL || c->tx == NULL || c->apdu == NULL ||
	    c->wcmd == NULL || c->wresp == NULL || c->rdata == NULL)
		goto out;
	if (pthread_create(&c->worker, NULL, ccid_worker_main, c) != 0)
		goto out;
	c->worker_started = true;
	if (pthread_create(&c->ticker, NULL, ccid_ticker_main, c) != 0)
		goto out;
	c->ticker_started = true;
	ret = c;
	c = NULL; /* transferred */
out:
	ccid_destroy(c);
	return ret;
}

static void ccid_limit(void *cls, const struct usb_dev_limits *lim)
{
	struct ccid *c = cls;

	c->msg_max = lim->ccid_msg_max;
	c->no_zlp = lim->no_zlp;
}

static bool ccid_busy(void *cls)
{
	struct ccid *c = cls;
	bool busy;

	pthread_mutex_lock(&c->lock);
	busy = c->busy || c->job_queued;
	pthread_mutex_unlock(&c->lock);
	return busy;
}

const struct usb_class_ops usb_ccid_class = {
	.name = "ccid",
	.cls = 0x0B, /* Smart Card */
	.subclass = 0,
	.protocol = 0, /* CCID bulk transfers (§4.3) */
	.ep_type = USB_XFER_BULK,
	.interval = 0,
	.create = ccid_create,
	.limit = ccid_limit,
	.destroy = ccid_destroy,
	.class_descriptor = ccid_class_descriptor,
	.control = ccid_control,
	.out = ccid_bulk_out,
	.in = ccid_bulk_in,
	.reset = ccid_reset,
	.busy = ccid_busy,
};
