/* CTAPHID (CTAP 2.1 §11.2) as the class of USB interface 0: channels,
 * reassembly, the commands answered at once; MSG/CBOR go to ctaphid_job.c. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "applets/fido/ctap.h"
#include "core/log.h"
#include "usb/ctaphid.h"
#include "usb/usb_class.h"
#include "vkey/admin.h"

_Static_assert(CTAPHID_MAX_MSG == CTAP_MAX_MSG,
	       "maxMsgSize is what one CTAPHID message can carry");
_Static_assert(CTAPHID_MAX_MSG == USB_CTAPHID_MSG_MAX &&
		       CTAPHID_INIT_DATA == USB_CTAPHID_MSG_MIN,
	       "usb.h's CTAPHID limits are this class's");

/* The device version INIT reports (vkey 0.1.0). */
#define VKEY_DEV_MAJOR 0
#define VKEY_DEV_MINOR 1
#define VKEY_DEV_BUILD 0

/* §11.2.9.1.3: the INIT response payload. */
struct ctaphid_init_resp {
	uint8_t nonce[CTAPHID_INIT_NONCE_LEN];
	uint8_t cid[4];
	uint8_t version; /* CTAPHID protocol version */
	uint8_t major, minor, build;
	uint8_t capabilities;
};
_Static_assert(sizeof(struct ctaphid_init_resp) == 17,
	       "CTAP 2.1 §11.2.9.1.3: INIT answers 17 bytes");

uint64_t hid_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void hid_unlock(struct hid *h)
{
	bool kick = h->kick;

	h->kick = false;
	pthread_mutex_unlock(&h->mu);
	if (kick && h->notify != NULL)
		h->notify(h->notify_arg);
}

void hid_error(struct hid *h, uint32_t cid, uint8_t code)
{
	log_debug("ctaphid: channel %08" PRIx32 ": error 0x%02x", cid, code);
	(void)hid_send(h, cid, CTAPHID_ERROR, &code, 1);
}

/* ---- channels (§11.2.3) ---- */

static struct hid_chan *chan_find(struct hid *h, uint32_t cid)
{
	if (cid == CTAPHID_RESERVED_CID || cid == CTAPHID_BROADCAST_CID)
		return NULL;
	for (size_t i = 0; i < CTAPHID_MAX_CHANNELS; i++)
		if (h->chans[i].cid == cid)
			return &h->chans[i];
	return NULL;
}

/* Forget a partial message; it may hold PIN material. */
static void chan_drop_rx(struct hid_chan *ch)
{
	explicit_bzero(ch->msg, ch->have);
	ch->rx = false;
	ch->want = ch->have = 0;
}

static uint32_t cid_next(struct hid *h)
{
	uint32_t cid;

	do {
		cid = h->next_cid++;
	} while (cid == CTAPHID_RESERVED_CID || cid == CTAPHID_BROADCAST_CID ||
		 chan_find(h, cid) != NULL);
	return cid;
}

/* A free slot, else the least recently used channel that neither has a
 * request in flight nor holds the lock. */
static struct hid_chan *chan_alloc(struct hid *h)
{
	struct hid_chan *best = NULL;

	for (size_t i = 0; i < CTAPHID_MAX_CHANNELS; i++) {
		struct hid_chan *ch = &h->chans[i];

		if (ch->cid == CTAPHID_RESERVED_CID) {
			best = ch;
			break;
		}
		if (ch->cid == h->lock_cid || hid_job_owner(h, ch->cid))
			continue;
		if (best == NULL || ch->used < best->used)
			best = ch;
	}
	if (best == NULL) /* not with 8 channels and 2 exceptions */
		best = &h->chans[0];
	if (best->cid != CTAPHID_RESERVED_CID) {
		log_debug("ctaphid: channel %08" PRIx32 " reused", best->cid);
		chan_drop_rx(best);
	}
	best->cid = CTAPHID_RESERVED_CID;
	best->cid = cid_next(h);
	best->used = ++h->clock;
	return best;
}

/* ---- commands answered on the spot ---- */

/* §11.2.9.1.3: INIT on the broadcast channel allocates a channel (ch is
 * NULL); on an allocated one it aborts that channel's transaction and
 * flushes its buffered answer (§11.2.5.3). The nonce comes back so the
 * host can tell its answer from another application's. */
static void cmd_init(struct hid *h, struct hid_chan *ch,
		     const struct hid_pkt *pk)
{
	struct ctaphid_init_resp r;
	struct wbuf w = wbuf_init(r.cid, sizeof(r.cid));

	if (pk->bcnt != CTAPHID_INIT_NONCE_LEN) {
		hid_error(h, pk->cid, ERR_INVALID_LEN);
		return;
	}
	if (ch == NULL) {
		ch = chan_alloc(h);
		log_debug("ctaphid: channel %08" PRIx32 " allocated", ch->cid);
	} else {
		chan_drop_rx(ch);
		hid_job_abandon(h, ch->cid);
		hid_queue_purge(h, ch->cid);
	}
	memcpy(r.nonce, pk->data, CTAPHID_INIT_NONCE_LEN);
	wbuf_u32be(&w, ch->cid);
	r.version = CTAPHID_IF_VERSION;
	r.major = VKEY_DEV_MAJOR;
	r.minor = VKEY_DEV_MINOR;
	r.build = VKEY_DEV_BUILD;
	/* What the management application leaves switched on: CBOR for
	 * CTAP2, NMSG when U2F's MSG is not served. */
	r.capabilities = CAPABILITY_WINK;
	if (vkey_applet_enabled(h->key, VKEY_APP_FIDO2))
		r.capabilities |= CAPABILITY_CBOR;
	if (!vkey_applet_enabled(h->key, VKEY_APP_U2F))
		r.capabilities |= CAPABILITY_NMSG;
	(void)hid_send(h, pk->cid, CTAPHID_INIT, (const uint8_t *)&r,
		       sizeof(r));
}

/* §11.2.9.1.5: CANCEL ends the channel's pending request, which then
 * answers CTAP2_ERR_KEEPALIVE_CANCEL; CANCEL itself gets no answer. */
static void cmd_cancel(struct hid *h, struct hid_chan *ch)
{
	chan_drop_rx(ch);
	hid_job_cancel(h, ch->cid);
}

/* §11.2.9.2.2: exclusive access for up to 10 s; 0 releases it. */
static void cmd_lock(struct hid *h, const struct hid_chan *ch)
{
	uint8_t secs;

	if (ch->want != 1) {
		hid_error(h, ch->cid, ERR_INVALID_LEN);
		return;
	}
	secs = ch->msg[0];
	if (secs > CTAPHID_MAX_LOCK_S) {
		hid_error(h, ch->cid, ERR_INVALID_PAR);
		return;
	}
	h->lock_cid = secs > 0 ? ch->cid : CTAPHID_RESERVED_CID;
	h->lock_until_ms = hid_now_ms() + secs * 1000u;
	(void)hid_send(h, ch->cid, CTAPHID_LOCK, NULL, 0);
}

/* A message is complete: answer it or hand it to the worker. */
static void rx_done(struct hid *h, struct hid_chan *ch)
{
	ch->rx = false;
	switch (ch->cmd) {
	case CTAPHID_PING: /* §11.2.9.1.4 */
		(void)hid_send(h, ch->cid, CTAPHID_PING, ch->msg, ch->want);
		break;
	case CTAPHID_WINK: /* §11.2.9.2.1: no light to blink */
		log_info("ctaphid: wink");
		(void)hid_send(h, ch->cid, CTAPHID_WINK, NULL, 0);
		break;
	case CTAPHID_LOCK:
		cmd_lock(h, ch);
		break;
	default: /* MSG, CBOR */
		hid_job_start(h, ch);
		break;
	}
	chan_drop_rx(ch);
}

/* ---- reassembly (§11.2.4, §11.2.5) ---- */

static bool cmd_known(uint8_t cmd)
{
	switch (cmd) {
	case CTAPHID_PING:
	case CTAPHID_MSG:
	case CTAPHID_LOCK:
	case CTAPHID_WINK:
	case CTAPHID_CBOR:
		return true;
	default:
		return false;
	}
}

static void rx_start(struct hid *h, struct hid_chan *ch,
		     const struct hid_pkt *pk)
{
	size_t n = pk->bcnt < pk->data_len ? pk->bcnt : pk->data_len;
	uint8_t err = 0;

	if (!cmd_known(pk->cmd))
		err = ERR_INVALID_CMD;
	else if (pk->bcnt > CTAPHID_MAX_MSG ||
		 (pk->cmd == CTAPHID_PING && pk->bcnt > h->answer_max))
		err = ERR_INVALID_LEN; /* a PING's answer is as long */
	else if ((pk->cmd == CTAPHID_MSG || pk->cmd == CTAPHID_CBOR) &&
		 hid_job_busy(h))
		err = ERR_CHANNEL_BUSY; /* §11.2.5.1: one request at a time */
	if (err != 0) {
		hid_error(h, ch->cid, err);
		return;
	}
	memcpy(ch->msg, pk->data, n);
	ch->cmd = pk->cmd;
	ch->want = pk->bcnt;
	ch->have = n;
	ch->seq = 0;
	ch->rx = true;
	if (ch->have == ch->want) {
		rx_done(h, ch);
		return;
	}
	ch->deadline_ms = hid_now_ms() + CTAPHID_TRANSACTION_TIMEOUT_MS;
	pthread_cond_signal(&h->timer_cv);
}

static void on_init(struct hid *h, const struct hid_pkt *pk)
{
	struct hid_chan *ch;

	if (pk->cid == CTAPHID_BROADCAST_CID) {
		if (pk->cmd == CTAPHID_INIT)
			cmd_init(h, NULL, pk);
		else
			hid_error(h, pk->cid, ERR_INVALID_CHANNEL);
		return;
	}
	ch = chan_find(h, pk->cid);
	if (ch == NULL) { /* CID 0, or never allocated */
		hid_error(h, pk->cid, ERR_INVALID_CHANNEL);
		return;
	}
	ch->used = ++h->clock;
	if (pk->cmd == CTAPHID_INIT) {
		cmd_init(h, ch, pk);
	} else if (pk->cmd == CTAPHID_CANCEL) {
		cmd_cancel(h, ch);
	} else if (ch->rx) {
		/* a new message before the last one was complete */
		chan_drop_rx(ch);
		hid_error(h, ch->cid, ERR_INVALID_SEQ);
	} else {
		rx_start(h, ch, pk);
	}
}

static void on_cont(struct hid *h, const struct hid_pkt *pk)
{
	struct hid_chan *ch = chan_find(h, pk->cid);
	size_t n;

	/* §11.2.5.4: spurious continuation packets are ignored. */
	if (ch == NULL || !ch->rx)
		return;
	ch->used = ++h->clock;
	if (pk->seq != ch->seq) {
		chan_drop_rx(ch);
		hid_error(h, ch->cid, ERR_INVALID_SEQ);
		return;
	}
	n = ch->want - ch->have;
	if (n > pk->data_len)
		n = pk->data_len;
	memcpy(ch->msg + ch->have, pk->data, n);
	ch->have += n;
	ch->seq++;
	if (ch->have == ch->want)
		rx_done(h, ch);
	else
		ch->deadline_ms = hid_now_ms() + CTAPHID_TRANSACTION_TIMEOUT_MS;
}

/* §11.2.6: while one channel holds the lock, every other one is busy. */
static bool locked_out(struct hid *h, uint32_t cid)
{
	if (h->lock_cid == CTAPHID_RESERVED_CID)
		return false;
	if (hid_now_ms() >= h->lock_until_ms) {
		h->lock_cid = CTAPHID_RESERVED_CID;
		return false;
	}
	return cid != h->lock_cid;
}

void hid_reports(struct hid *h, const uint8_t *data, size_t len)
{
	struct hid_pkt pk;

	for (size_t off = 0; off + HID_RPT_SIZE <= len; off += HID_RPT_SIZE) {
		hid_parse(data + off, &pk);
		if (locked_out(h, pk.cid)) {
			struct hid_chan *ch = chan_find(h, pk.cid);

			if (ch != NULL)
				chan_drop_rx(ch);
			if (pk.init)
				hid_error(h, pk.cid, ERR_CHANNEL_BUSY);
		} else if (pk.init) {
			on_init(h, &pk);
		} else {
			on_cont(h, &pk);
		}
	}
}

uint64_t hid_rx_timeouts(struct hid *h, uint64_t now)
{
	uint64_t next = UINT64_MAX;

	for (size_t i = 0; i < CTAPHID_MAX_CHANNELS; i++) {
		struct hid_chan *ch = &h->chans[i];

		if (ch->cid == CTAPHID_RESERVED_CID || !ch->rx)
			continue;
		if (now >= ch->deadline_ms) {
			/* §11.2.5.2: the host stopped half-way */
			chan_drop_rx(ch);
			hid_error(h, ch->cid, ERR_MSG_TIMEOUT);
		} else if (ch->deadline_ms < next) {
			next = ch->deadline_ms;
		}
	}
	return next;
}

/* ---- the class ---- */

static void hid_clear(struct hid *h)
{
	for (size_t i = 0; i < CTAPHID_MAX_CHANNELS; i++) {
		chan_drop_rx(&h->chans[i]);
		h->chans[i].cid = CTAPHID_RESERVED_CID;
	}
	explicit_bzero(&h->q, sizeof(h->q));
	h->lock_cid = CTAPHID_RESERVED_CID;
}

static void *hid_create(struct vkey *key, void (*notify)(void *arg),
			void *arg)
{
	struct hid *h = calloc(1, sizeof(*h));

	if (h == NULL) {
		log_error("ctaphid: out of memory");
		return NULL;
	}
	h->key = key;
	h->notify = notify;
	h->notify_arg = arg;
	h->answer_max = CTAPHID_MAX_MSG;
	h->next_cid = 1;
	h->protocol = 1; /* HID report protocol */
	if (hid_job_init(h) != 0) {
		free(h);
		return NULL;
	}
	return h;
}

static void hid_destroy(void *cls)
{
	struct hid *h = cls;

	if (h == NULL)
		return;
	hid_job_fini(h); /* joins the threads */
	explicit_bzero(h, sizeof(*h)); /* messages, answers, PIN material */
	free(h);
}

/* One or more whole reports; anything else is refused untouched. */
static int hid_out(void *cls, const uint8_t *data, size_t len)
{
	struct hid *h = cls;

	if (len % HID_RPT_SIZE != 0) {
		log_debug("ctaphid: %zu-byte OUT transfer refused", len);
		return USB_STALL;
	}
	pthread_mutex_lock(&h->mu);
	hid_reports(h, data, len);
	hid_unlock(h);
	return 0;
}

/* One report per call. */
static int hid_in(void *cls, uint8_t *buf, size_t cap)
{
	struct hid *h = cls;
	int r;

	if (cap < HID_RPT_SIZE)
		return USB_STALL;
	pthread_mutex_lock(&h->mu);
	r = hid_queue_pop(h, buf) ? HID_RPT_SIZE : USB_NAK;
	pthread_mutex_unlock(&h->mu);
	return r;
}

static void hid_reset(void *cls)
{
	struct hid *h = cls;

	pthread_mutex_lock(&h->mu);
	hid_job_abandon(h, CTAPHID_RESERVED_CID);
	hid_clear(h);
	h->kick = false;
	pthread_cond_signal(&h->timer_cv);
	pthread_mutex_unlock(&h->mu);
}

static void hid_limit(void *cls, const struct usb_dev_limits *lim)
{
	((struct hid *)cls)->answer_max = lim->ctaphid_msg_max;
}

static bool hid_busy(void *cls)
{
	struct hid *h = cls;
	bool busy;

	pthread_mutex_lock(&h->mu);
	busy = hid_job_busy(h);
	pthread_mutex_unlock(&h->mu);
	return busy;
}

const struct usb_class_ops usb_ctaphid_class = {
	.name = "ctaphid",
	.cls = 0x03, /* HID */
	.subclass = 0x00,
	.protocol = 0x00,
	.ep_type = USB_XFER_INTERRUPT,
	/* A virtual key pays nothing for a fast poll, and a 7609-byte
	 * message is 129 reports. */
	.interval = 1,
	.create = hid_create,
	.limit = hid_limit,
	.destroy = hid_destroy,
	.class_descriptor = hid_class_descriptor,
	.control = hid_control,
	.out = hid_out,
	.in = hid_in,
	.reset = hid_reset,
	.busy = hid_busy,
};
