/* The CCID interface (USB CCID 1.1, DWG_Smart-Card_CCID_Rev110): one slot
 * holding the key as a T=1 card at the extended APDU level, bulk-only. */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/log.h"
#include "usb/usb.h"
#include "usb/usb_class.h"

/* §6.1 PC_to_RDR and §6.2 RDR_to_PC message types. */
#define PC_to_RDR_SetParameters 0x61
#define PC_to_RDR_IccPowerOn 0x62
#define PC_to_RDR_IccPowerOff 0x63
#define PC_to_RDR_GetSlotStatus 0x65
#define PC_to_RDR_Secure 0x69
#define PC_to_RDR_T0APDU 0x6A
#define PC_to_RDR_Escape 0x6B
#define PC_to_RDR_GetParameters 0x6C
#define PC_to_RDR_ResetParameters 0x6D
#define PC_to_RDR_IccClock 0x6E
#define PC_to_RDR_XfrBlock 0x6F
#define PC_to_RDR_Mechanical 0x71
#define PC_to_RDR_Abort 0x72
#define PC_to_RDR_SetDataRateAndClockFrequency 0x73
#define RDR_to_PC_DataBlock 0x80
#define RDR_to_PC_SlotStatus 0x81
#define RDR_to_PC_Parameters 0x82
#define RDR_to_PC_Escape 0x83
#define RDR_to_PC_DataRateAndClockFrequency 0x84

/* §5.3 class-specific requests. */
#define CCID_REQ_ABORT 0x01
#define CCID_REQ_GET_CLOCK_FREQUENCIES 0x02
#define CCID_REQ_GET_DATA_RATES 0x03

/* §6.2.6 bStatus: bmICCStatus (bits 0-1), bmCommandStatus (bits 6-7). */
#define ICC_PRESENT_ACTIVE 0x00
#define ICC_PRESENT_INACTIVE 0x01
#define ICC_NOT_PRESENT 0x02
#define CMD_OK 0x00
#define CMD_FAILED 0x40
#define CMD_TIME_EXTENSION 0x80

/* §6.2.6 Table 6.2-2 bError. 0x01-0x7F name the offending byte. */
#define CMD_ABORTED 0xFF
#define ICC_MUTE 0xFE
#define HW_ERROR 0xFB
#define ICC_PROTOCOL_NOT_SUPPORTED 0xF6
#define CMD_SLOT_BUSY 0xE0
#define CMD_NOT_SUPPORTED 0x00
#define BAD_DWLENGTH 1
#define BAD_SLOT 5
#define BAD_BYTE7 7 /* bPowerSelect, bProtocolNum, bClockCommand, ... */
#define BAD_WLEVELPARAMETER 8
#define BAD_PARAM(i) (10 + (i)) /* byte i of abProtocolDataStructure */

/* §6.1.4 wLevelParameter and §6.2.1 bChainParameter (extended APDU
 * level): how a long APDU spans several messages. */
#define CHAIN_WHOLE 0x00
#define CHAIN_BEGIN 0x01
#define CHAIN_END 0x02
#define CHAIN_MIDDLE 0x03
#define CHAIN_NEXT 0x10 /* empty: continuation of the other side expected */

/* §5.1 dwFeatures: automatic parameter configuration from the ATR (02),
 * activation on insertion (04), voltage (08), clock (10), baud rate (20),
 * parameter negotiation (40), PPS (80), and the short and extended APDU
 * level (040000). With 40 set libccid sends neither PPS nor
 * SetParameters and keeps its default 3 s read timeout instead of one
 * computed from the ATR's BWT (ifdhandler.c IFDHSetProtocolParameters). */
#define CCID_FEATURES 0x000400FEu

/* §5.1: the extended APDU level allows 261+10 up to 65544+10. 65554 is
 * the top: a whole extended APDU (4 + 3 + 65535 + 2 bytes) fits one
 * message, so neither libccid (CMD_BUF_SIZE 65546) nor usbccid.sys ever
 * needs to chain; chaining is still served for hosts that split. The
 * same value ships in pico-keys devices used with Windows and macOS. */
#define CCID_MSG_MAX 65554u
#define CCID_HEADER_LEN 10
#define CCID_DATA_MAX (CCID_MSG_MAX - CCID_HEADER_LEN)

#define CCID_CLOCK_KHZ 4000u
#define CCID_RATE_DEFAULT 10752u /* Fi 372, Di 1 at 4 MHz */
#define CCID_RATE_MAX 43010u     /* Fi 372, Di 4 (the ATR's TA1) */
#define CCID_MAX_IFSD 254u
#define CCID_VOLTAGES 0x07 /* 5 V, 3 V, 1.8 V */
#define CCID_PROTOCOL_T1 1
#define CCID_PROTOCOLS (1u << CCID_PROTOCOL_T1)

/* The T=1 abProtocolDataStructure (§6.1.7), defaults mirroring vkey's
 * ATR: TA1 0x13, LRC and direct convention, TC1 0, TB3 0x15, IFSC 254. */
#define T1_PARAMS_LEN 7
static const uint8_t t1_defaults[T1_PARAMS_LEN] = { 0x13, 0x10, 0x00, 0x15,
						    0x00, 0xFE, 0x00 };

/* While an APDU runs the IN endpoint offers a time extension this
 * often: well inside libccid's 3 s read timeout (DEFAULT_COM_READ_TIMEOUT),
 * each extension restarting its read (commands.c CCID_Receive). */
#define TIME_EXTENSION_MS 500
#define QUEUE_LEN 8
#define SMALL_MSG_MAX 32

/* §6.1 the header of every bulk message, as it is on the wire. */
struct ccid_wire_header {
	uint8_t bMessageType;
	uint8_t dwLength[4]; /* little endian */
	uint8_t bSlot;
	uint8_t bSeq;
	uint8_t abSpecific[3];
};
_Static_assert(sizeof(struct ccid_wire_header) == CCID_HEADER_LEN,
	       "CCID header is 10 bytes");

/* §5.1 Table 5.1-1, the CCID class descriptor, as it is on the wire. */
struct ccid_wire_desc {
	uint8_t bLength, bDescriptorType, bcdCCID[2], bMaxSlotIndex,
		bVoltageSupport, dwProtocols[4], dwDefaultClock[4],
		dwMaximumClock[4], bNumClockSupported, dwDataRate[4],
		dwMaxDataRate[4], bNumDataRatesSupported, dwMaxIFSD[4],
		dwSynchProtocols[4], dwMechanical[4], dwFeatures[4],
		dwMaxCCIDMessageLength[4], bClassGetResponse, bClassEnvelope,
		wLcdLayout[2], bPINSupport, bMaxCCIDBusySlots;
};
_Static_assert(sizeof(struct ccid_wire_desc) == 0x36,
	       "CCID class descriptor is 54 bytes");

/* A parsed PC_to_RDR message; data points into the receive buffer. */
struct ccid_msg {
	uint8_t type, slot, seq;
	uint8_t specific[3];
	uint32_t len;
	const uint8_t *data;
};

enum job_kind { JOB_APDU, JOB_POWER_ON, JOB_POWER_OFF };

struct small_msg {
	uint8_t b[SMALL_MSG_MAX];
	size_t len;
};

struct ccid {
	struct vkey *key;
	void (*notify)(void *arg);
	void *notify_arg;

	pthread_mutex_t lock;
	pthread_cond_t cond; /* job queued, busy changed, stop */
	pthread_t worker, ticker;
	bool worker_started, ticker_started, stop;

	/* Bulk OUT reassembly. */
	uint8_t *rx;
	size_t rx_len;
	bool discarding; /* dropping the rest of an oversize message */
	uint32_t discard_left;

	/* Slot state. */
	bool powered;
	uint8_t t1[T1_PARAMS_LEN];
	uint32_t data_rate;
	bool abort_pending; /* ABORT request seen, PC_to_RDR_Abort not yet */

	/* Command APDU being assembled (§6.1.4 chaining) and the job. */
	uint8_t *apdu;
	size_t apdu_len;
	bool chaining;
	bool busy, job_queued;
	enum job_kind job_kind;
	bool job_reset; /* power on of a powered card: warm reset */
	uint8_t busy_seq;
	uint64_t gen; /* bumped to abandon the job in flight */
	bool te_pending;
	struct timespec te_next;

	/* Worker-private buffers. */
	uint8_t *wcmd, *wresp;

	/* Response data (APDU or ATR) handed out in DataBlocks. */
	uint8_t *rdata;
	size_t rdata_len, rdata_off;
	uint8_t rdata_seq;
	bool rdata_due;   /* the next DataBlock may go out */
	bool rdata_await; /* waiting for the host's CHAIN_NEXT */

	/* Bulk IN: the message going out now, then the queue. */
	uint8_t *tx;
	size_t tx_len, tx_off;
	bool zlp_pending;
	struct small_msg queue[QUEUE_LEN];
	size_t q_head, q_count;
};

/* --- little helpers ---------------------------------------------------- */

static void le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint8_t icc_status(const struct ccid *c)
{
	return c->powered ? ICC_PRESENT_ACTIVE : ICC_PRESENT_INACTIVE;
}

static struct timespec after_ms(struct timespec t, long ms)
{
	t.tv_sec += ms / 1000;
	t.tv_nsec += (ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

static bool reached(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec ||
	       (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static void call_notify(struct ccid *c)
{
	if (c->notify != NULL)
		c->notify(c->notify_arg);
}

/* The RDR_to_PC type that answers a PC_to_RDR type (§6.1, per message);
 * unknown types get a SlotStatus (§6.1: CMD_NOT_SUPPORTED). */
static uint8_t answer_type(uint8_t type)
{
	switch (type) {
	case PC_to_RDR_IccPowerOn:
	case PC_to_RDR_XfrBlock:
	case PC_to_RDR_Secure:
		return RDR_to_PC_DataBlock;
	case PC_to_RDR_GetParameters:
	case PC_to_RDR_ResetParameters:
	case PC_to_RDR_SetParameters:
		return RDR_to_PC_Parameters;
	case PC_to_RDR_Escape:
		return RDR_to_PC_Escape;
	case PC_to_RDR_SetDataRateAndClockFrequency:
		return RDR_to_PC_DataRateAndClockFrequency;
	default:
		return RDR_to_PC_SlotStatus;
	}
}

/* --- responses --------------------------------------------------------- */

/* §6.2: header (type, dwLength, bSlot 0, bSeq, bStatus, bError, the
 * type's own byte) then data, into b (room for it all). */
static size_t build_msg(uint8_t *b, uint8_t type, uint8_t seq,
			uint8_t status, uint8_t error, uint8_t specific,
			const uint8_t *data, size_t len)
{
	b[0] = type;
	le32(b + 1, (uint32_t)len);
	b[5] = 0; /* bSlot */
	b[6] = seq;
	b[7] = status;
	b[8] = error;
	b[9] = specific;
	if (len > 0)
		memcpy(b + CCID_HEADER_LEN, data, len);
	return CCID_HEADER_LEN + len;
}

static void enqueue(struct ccid *c, uint8_t type, uint8_t seq,
		    uint8_t status, uint8_t error, uint8_t specific,
		    const uint8_t *data, size_t len)
{
	struct small_msg *m;

	if (c->q_count == QUEUE_LEN || CCID_HEADER_LEN + len > SMALL_MSG_MAX) {
		log_warn("ccid: response queue full, answer to seq %u dropped",
			 seq);
		return;
	}
	m = &c->queue[(c->q_head + c->q_count++) % QUEUE_LEN];
	m->len = build_msg(m->b, type, seq, status, error, specific, data, len);
}

/* A failed command: the answer type it expects, no data. */
static void fail(struct ccid *c, const struct ccid_msg *m, uint8_t error)
{
	uint8_t icc = error == BAD_SLOT ? ICC_NOT_PRESENT : icc_status(c);

	log_debug("ccid: message %02x seq %u failed, bError %02x", m->type,
		  m->seq, error);
	enqueue(c, answer_type(m->type), m->seq, CMD_FAILED | icc, error, 0,
		NULL, 0);
}

static void slot_status(struct ccid *c, const struct ccid_msg *m)
{
	enqueue(c, RDR_to_PC_SlotStatus, m->seq, CMD_OK | icc_status(c), 0,
		0 /* bClockStatus: running */, NULL, 0);
}

static void parameters(struct ccid *c, const struct ccid_msg *m)
{
	enqueue(c, RDR_to_PC_Parameters, m->seq, CMD_OK | icc_status(c), 0,
		CCID_PROTOCOL_T1, c->t1, sizeof(c->t1));
}

/* The next DataBlock of the response data (§6.2.1 bChainParameter). */
static void emit_data(struct ccid *c)
{
	size_t left = c->rdata_len - c->rdata_off;
	size_t n = left < CCID_DATA_MAX ? left : CCID_DATA_MAX;
	uint8_t chain;

	if (c->rdata_off == 0)
		chain = n == left ? CHAIN_WHOLE : CHAIN_BEGIN;
	else
		chain = n == left ? CHAIN_END : CHAIN_MIDDLE;
	c->tx_len = build_msg(c->tx, RDR_to_PC_DataBlock, c->rdata_seq,
			      CMD_OK | icc_status(c), 0, chain,
			      c->rdata + c->rdata_off, n);
	c->tx_off = 0;
	c->rdata_off += n;
	c->rdata_due = false;
	c->rdata_await = c->rdata_off < c->rdata_len;
	if (!c->rdata_await) {
		explicit_bzero(c->rdata, c->rdata_len);
		c->rdata_len = c->rdata_off = 0;
	}
}

static void drop_rdata(struct ccid *c)
{
	explicit_bzero(c->rdata, c->rdata_len);
	c->rdata_len = c->rdata_off = 0;
	c->rdata_due = c->rdata_await = false;
}

/* --- the worker: everything that may wait on the key ------------------- */

static void submit(struct ccid *c, const struct ccid_msg *m,
		   enum job_kind kind)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (kind != JOB_APDU) { /* a power change ends any chain */
		drop_rdata(c);
		explicit_bzero(c->apdu, c->apdu_len);
		c->apdu_len = 0;
		c->chaining = false;
	}
	c->job_kind = kind;
	c->job_reset = c->powered;
	c->job_queued = true;
	c->busy = true;
	c->busy_seq = m->seq;
	c->te_pending = false;
	c->te_next = after_ms(now, TIME_EXTENSION_MS);
	pthread_cond_broadcast(&c->cond);
}

/* Runs without the lock; returns the response length in wresp. */
static size_t run_job(struct ccid *c, enum job_kind kind, bool reset,
		      size_t len)
{
	size_t n = 0;

	switch (kind) {
	case JOB_APDU:
		if (vkey_apdu(c->key, c->wcmd, len, c->wresp, VKEY_APDU_MAX,
			      &n) != 0)
			n = 0;
		break;
	case JOB_POWER_ON:
		if (reset)
			vkey_power_off(c->key);
		vkey_power_on(c->key);
		n = vkey_atr(c->key, c->wresp, VKEY_APDU_MAX);
		break;
	case JOB_POWER_OFF:
		vkey_power_off(c->key);
		break;
	}
	return n;
}

/* Under the lock: the job's answer replaces the time extensions. */
static void finish_job(struct ccid *c, enum job_kind kind, size_t n)
{
	struct ccid_msg m = { .seq = c->busy_seq };

	c->busy = false;
	c->te_pending = false;
	if (kind == JOB_POWER_OFF) {
		c->powered = false;
		slot_status(c, &m);
		return;
	}
	if (kind == JOB_POWER_ON)
		c->powered = n > 0;
	if (n == 0) {
		m.type = PC_to_RDR_XfrBlock;
		fail(c, &m, kind == JOB_POWER_ON ? ICC_MUTE : HW_ERROR);
		return;
	}
	drop_rdata(c);
	memcpy(c->rdata, c->wresp, n);
	c->rdata_len = n;
	c->rdata_seq = c->busy_seq;
	c->rdata_due = true;
}

static void *worker_main(void *arg)
{
	struct ccid *c = arg;

	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (!c->stop && !c->job_queued)
			pthread_cond_wait(&c->cond, &c->lock);
		if (c->stop)
			break;
		enum job_kind kind = c->job_kind;
		bool reset = c->job_reset;
		size_t len = c->apdu_len, n;
		uint64_t gen = c->gen;

		memcpy(c->wcmd, c->apdu, len);
		explicit_bzero(c->apdu, len);
		c->apdu_len = 0;
		c->job_queued = false;
		pthread_mutex_unlock(&c->lock);

		n = run_job(c, kind, reset, len);
		explicit_bzero(c->wcmd, len);

		pthread_mutex_lock(&c->lock);
		if (gen == c->gen) /* else abandoned by ABORT or a reset */
			finish_job(c, kind, n);
		explicit_bzero(c->wresp, n);
		pthread_mutex_unlock(&c->lock);
		call_notify(c);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* Offers a time extension every TIME_EXTENSION_MS while a job runs. */
static void *ticker_main(void *arg)
{
	struct ccid *c = arg;

	pthread_mutex_lock(&c->lock);
	while (!c->stop) {
		if (!c->busy) {
			pthread_cond_wait(&c->cond, &c->lock);
			continue;
		}
		struct timespec due = c->te_next;
		if (!reached(&due)) {
			pthread_cond_timedwait(&c->cond, &c->lock, &due);
			continue;
		}
		c->te_pending = true;
		c->te_next = after_ms(due, TIME_EXTENSION_MS);
		pthread_mutex_unlock(&c->lock);
		call_notify(c);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* Forget the job in flight: its answer, when it comes, is dropped. */
static void abandon_job(struct ccid *c)
{
	if (c->busy)
		vkey_cancel(c->key); /* a touch wait ends now */
	c->gen++;
	c->busy = false;
	c->job_queued = false;
	c->te_pending = false;
	explicit_bzero(c->apdu, c->apdu_len);
	c->apdu_len = 0;
	c->chaining = false;
}

/* --- PC_to_RDR handlers (§6.1) ----------------------------------------- */

/* §6.1.1 */
static void on_power_on(struct ccid *c, const struct ccid_msg *m)
{
	if (m->specific[0] > 3) /* bPowerSelect: auto, 5 V, 3 V, 1.8 V */
		fail(c, m, BAD_BYTE7);
	else
		submit(c, m, JOB_POWER_ON);
}

/* §6.1.4; chaining per wLevelParameter at the extended APDU level. */
static void on_xfr_block(struct ccid *c, const struct ccid_msg *m)
{
	uint16_t level = (uint16_t)(m->specific[1] | m->specific[2] << 8);

	if (!c->powered) {
		fail(c, m, ICC_MUTE);
		return;
	}
	if (level == CHAIN_NEXT) {
		if (!c->rdata_await) {
			fail(c, m, BAD_WLEVELPARAMETER);
			return;
		}
		c->rdata_seq = m->seq;
		c->rdata_due = true;
		return;
	}
	if ((level == CHAIN_MIDDLE || level == CHAIN_END) != c->chaining ||
	    (level != CHAIN_WHOLE && level != CHAIN_BEGIN &&
	     level != CHAIN_MIDDLE && level != CHAIN_END)) {
		c->chaining = false;
		fail(c, m, BAD_WLEVELPARAMETER);
		return;
	}
	drop_rdata(c);
	if (level == CHAIN_WHOLE || level == CHAIN_BEGIN)
		c->apdu_len = 0;
	if (m->len > VKEY_APDU_MAX - c->apdu_len) {
		c->chaining = false;
		c->apdu_len = 0;
		fail(c, m, BAD_DWLENGTH);
		return;
	}
	memcpy(c->apdu + c->apdu_len, m->data, m->len);
	c->apdu_len += m->len;
	c->chaining = level == CHAIN_BEGIN || level == CHAIN_MIDDLE;
	if (c->chaining) /* §6.2.1: empty block, send the rest */
		enqueue(c, RDR_to_PC_DataBlock, m->seq,
			CMD_OK | icc_status(c), 0, CHAIN_NEXT, NULL, 0);
	else
		submit(c, m, JOB_APDU);
}

/* §6.1.7: T=1 only; the values must be ones a T=1 card can use. */
static void on_set_parameters(struct ccid *c, const struct ccid_msg *m)
{
	if (m->specific[0] != CCID_PROTOCOL_T1) {
		fail(c, m, BAD_BYTE7);
		return;
	}
	if (m->len != T1_PARAMS_LEN) {
		fail(c, m, BAD_DWLENGTH);
		return;
	}
	if ((m->data[1] & 0xFE) != 0x10) { /* bmTCCKST1: LRC/CRC, direct */
		fail(c, m, BAD_PARAM(1));
		return;
	}
	if (m->data[5] == 0 || m->data[5] == 0xFF) { /* bIFSC */
		fail(c, m, BAD_PARAM(5));
		return;
	}
	if (m->data[6] != 0) { /* bNadValue: dwFeatures lacks 0x200 */
		fail(c, m, BAD_PARAM(6));
		return;
	}
	memcpy(c->t1, m->data, T1_PARAMS_LEN);
	parameters(c, m);
}

/* §6.1.9: only restarting the clock; it never stops (no 0x100 feature). */
static void on_icc_clock(struct ccid *c, const struct ccid_msg *m)
{
	if (m->specific[0] != 0)
		fail(c, m, BAD_BYTE7);
	else
		slot_status(c, m);
}

/* §6.1.14: one clock; a rate from the list, else the current one. */
static void on_set_rate(struct ccid *c, const struct ccid_msg *m)
{
	uint8_t b[8];
	uint32_t rate;

	if (m->len != sizeof(b)) {
		fail(c, m, BAD_DWLENGTH);
		return;
	}
	rate = (uint32_t)m->data[4] | (uint32_t)m->data[5] << 8 |
	       (uint32_t)m->data[6] << 16 | (uint32_t)m->data[7] << 24;
	if (rate == CCID_RATE_DEFAULT || rate == CCID_RATE_MAX)
		c->data_rate = rate;
	le32(b, CCID_CLOCK_KHZ);
	le32(b + 4, c->data_rate);
	enqueue(c, RDR_to_PC_DataRateAndClockFrequency, m->seq,
		CMD_OK | icc_status(c), 0, 0, b, sizeof(b));
}

/* §6.1.13 with §5.3.1: the bulk half of an abort. Whether or not the
 * ABORT request came first, the slot ends up idle. */
static void on_abort(struct ccid *c, const struct ccid_msg *m)
{
	if (c->busy) {
		struct ccid_msg aborted = { .type = PC_to_RDR_XfrBlock,
					    .seq = c->busy_seq };
		abandon_job(c);
		fail(c, &aborted, CMD_ABORTED);
	}
	drop_rdata(c);
	c->chaining = false;
	c->abort_pending = false;
	slot_status(c, m);
}

static void dispatch_msg(struct ccid *c, const struct ccid_msg *m)
{
	switch (m->type) {
	case PC_to_RDR_IccPowerOn:
		on_power_on(c, m);
		break;
	case PC_to_RDR_IccPowerOff: /* §6.1.2 */
		submit(c, m, JOB_POWER_OFF);
		break;
	case PC_to_RDR_GetSlotStatus: /* §6.1.3 */
		slot_status(c, m);
		break;
	case PC_to_RDR_XfrBlock:
		on_xfr_block(c, m);
		break;
	case PC_to_RDR_GetParameters: /* §6.1.5 */
		parameters(c, m);
		break;
	case PC_to_RDR_ResetParameters: /* §6.1.6 */
		memcpy(c->t1, t1_defaults, sizeof(c->t1));
		parameters(c, m);
		break;
	case PC_to_RDR_SetParameters:
		on_set_parameters(c, m);
		break;
	case PC_to_RDR_IccClock:
		on_icc_clock(c, m);
		break;
	case PC_to_RDR_SetDataRateAndClockFrequency:
		on_set_rate(c, m);
		break;
	case PC_to_RDR_Abort:
		on_abort(c, m);
		break;
	case PC_to_RDR_T0APDU:   /* T=0 only; the card is T=1 */
	case PC_to_RDR_Escape:   /* no vendor commands */
	case PC_to_RDR_Secure:   /* bPINSupport 0: no PIN pad */
	case PC_to_RDR_Mechanical: /* dwMechanical 0 */
	default:
		fail(c, m, CMD_NOT_SUPPORTED);
		break;
	}
}

/* Checks every message goes through before its handler. */
static void handle_msg(struct ccid *c, const struct ccid_msg *m)
{
	log_debug("ccid: message %02x seq %u, %u bytes", m->type, m->seq,
		  (unsigned)m->len);
	if (m->slot != 0) {
		fail(c, m, BAD_SLOT);
		return;
	}
	if (m->type == PC_to_RDR_Abort) {
		on_abort(c, m);
		return;
	}
	if (c->abort_pending) { /* §5.3.1: until PC_to_RDR_Abort comes */
		fail(c, m, CMD_ABORTED);
		return;
	}
	if (c->busy) { /* bMaxCCIDBusySlots 1 and one slot */
		fail(c, m, CMD_SLOT_BUSY);
		return;
	}
	dispatch_msg(c, m);
}

/* --- bulk OUT: messages from 64-byte packets --------------------------- */

static void parse_header(const uint8_t *b, struct ccid_msg *m)
{
	struct rbuf r = rbuf_init(b, CCID_HEADER_LEN);
	uint8_t len[4];

	rbuf_u8(&r, &m->type);
	for (size_t i = 0; i < sizeof(len); i++)
		rbuf_u8(&r, &len[i]);
	rbuf_u8(&r, &m->slot);
	rbuf_u8(&r, &m->seq);
	for (size_t i = 0; i < sizeof(m->specific); i++)
		rbuf_u8(&r, &m->specific[i]);
	m->len = (uint32_t)len[0] | (uint32_t)len[1] << 8 |
		 (uint32_t)len[2] << 16 | (uint32_t)len[3] << 24;
	m->data = b + CCID_HEADER_LEN;
}

/* Consume bytes of an oversize message; it was answered already. */
static size_t discard(struct ccid *c, size_t len)
{
	size_t n = len < c->discard_left ? len : c->discard_left;

	c->discard_left -= (uint32_t)n;
	if (c->discard_left == 0)
		c->discarding = false;
	return n;
}

/* Take bytes into the message being received; returns bytes used. */
static size_t take(struct ccid *c, const uint8_t *p, size_t len)
{
	struct ccid_msg m;
	size_t need = CCID_HEADER_LEN, n;

	if (c->rx_len >= CCID_HEADER_LEN) {
		parse_header(c->rx, &m);
		need += m.len;
	}
	n = need - c->rx_len < len ? need - c->rx_len : len;
	memcpy(c->rx + c->rx_len, p, n);
	c->rx_len += n;
	if (c->rx_len == CCID_HEADER_LEN) {
		parse_header(c->rx, &m);
		if (m.len > CCID_DATA_MAX) { /* §5.1 dwMaxCCIDMessageLength */
			fail(c, &m, BAD_DWLENGTH);
			c->rx_len = 0;
			c->discarding = m.len > 0;
			c->discard_left = m.len;
		}
	}
	return n;
}

/* A message is complete: run it, unless the transfer went on past its
 * dwLength (extra bytes in the same transfer). */
static void complete(struct ccid *c, bool extra)
{
	struct ccid_msg m;

	parse_header(c->rx, &m);
	c->rx_len = 0;
	if (extra)
		fail(c, &m, BAD_DWLENGTH);
	else
		handle_msg(c, &m);
}

/* A transfer ended (short packet) in the middle of a message. */
static void truncated(struct ccid *c)
{
	struct ccid_msg m;

	if (c->rx_len >= CCID_HEADER_LEN) {
		parse_header(c->rx, &m);
		fail(c, &m, BAD_DWLENGTH);
	} else if (c->rx_len > 0) {
		log_debug("ccid: %zu stray bytes dropped", c->rx_len);
	}
	c->rx_len = 0;
	c->discarding = false;
}

static bool message_complete(struct ccid *c)
{
	struct ccid_msg m;

	if (c->rx_len < CCID_HEADER_LEN)
		return false;
	parse_header(c->rx, &m);
	return c->rx_len == CCID_HEADER_LEN + (size_t)m.len;
}

/* A call carries whole packets of one transfer; a short packet (a
 * length that is not a multiple of 64, or zero) ends the transfer. */
static int ccid_out(void *cls, const uint8_t *data, size_t len)
{
	struct ccid *c = cls;
	bool ends = len % USB_MAX_PACKET != 0 || len == 0;
	size_t off = 0;

	pthread_mutex_lock(&c->lock);
	while (off < len) {
		if (c->discarding) {
			off += discard(c, len - off);
			continue;
		}
		off += take(c, data + off, len - off);
		if (message_complete(c)) {
			complete(c, off < len);
			break; /* the rest of a transfer past dwLength */
		}
	}
	if (ends && (c->rx_len > 0 || c->discarding))
		truncated(c);
	pthread_mutex_unlock(&c->lock);
	call_notify(c);
	return 0;
}

/* --- bulk IN ----------------------------------------------------------- */

static void time_extension(struct ccid *c)
{
	/* §6.2.6: bmCommandStatus 2, bError the BWT multiplier. */
	c->tx_len = build_msg(c->tx, RDR_to_PC_DataBlock, c->busy_seq,
			      CMD_TIME_EXTENSION | icc_status(c), 1, 0, NULL,
			      0);
	c->tx_off = 0;
	c->te_pending = false;
}

/* Put the next message in tx, if any is ready. */
static bool load_next(struct ccid *c)
{
	if (c->q_count > 0) {
		struct small_msg *m = &c->queue[c->q_head];
		memcpy(c->tx, m->b, m->len);
		c->tx_len = m->len;
		c->tx_off = 0;
		c->q_head = (c->q_head + 1) % QUEUE_LEN;
		c->q_count--;
		return true;
	}
	if (c->rdata_due) {
		emit_data(c);
		return true;
	}
	if (c->busy && c->te_pending) {
		time_extension(c);
		return true;
	}
	return false;
}

/* Pieces of at most cap bytes; a message that ends with a full packet
 * when the transport moves single packets is closed by a zero-length
 * packet, since the host's transfer is longer than the message. */
static int ccid_in(void *cls, uint8_t *buf, size_t cap)
{
	struct ccid *c = cls;
	size_t n;
	int r;

	pthread_mutex_lock(&c->lock);
	if (c->zlp_pending) {
		c->zlp_pending = false;
		r = 0;
		goto out;
	}
	if (c->tx_off == c->tx_len && !load_next(c)) {
		r = USB_NAK;
		goto out;
	}
	n = c->tx_len - c->tx_off;
	if (n > cap)
		n = cap;
	memcpy(buf, c->tx + c->tx_off, n);
	c->tx_off += n;
	if (c->tx_off == c->tx_len) {
		c->zlp_pending = n == USB_MAX_PACKET && cap == USB_MAX_PACKET;
		explicit_bzero(c->tx, c->tx_len);
		c->tx_off = c->tx_len = 0;
	}
	r = (int)n;
out:
	pthread_mutex_unlock(&c->lock);
	return r;
}

/* --- control requests (§5.3) ------------------------------------------- */

static int dword_list(const struct usb_setup *s, uint8_t *data, size_t len,
		      const uint32_t *v, size_t n)
{
	uint8_t b[8];
	size_t k = 0;

	for (size_t i = 0; i < n && k + 4 <= sizeof(b); i++, k += 4)
		le32(b + k, v[i]);
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
		abandon_job(c);
		fail(c, &aborted, CMD_ABORTED);
	}
	c->abort_pending = true;
	pthread_mutex_unlock(&c->lock);
	call_notify(c);
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

/* --- descriptor and lifetime ------------------------------------------- */

/* §5.1. bClassGetResponse/bClassEnvelope 0xFF: echo the APDU's class;
 * no LCD, no PIN pad. No interrupt-IN endpoint: libccid runs bulk-only
 * readers fine (ccid_usb.c polls only when bNumEndpoints is 3; pcscd then
 * asks GetSlotStatus), and the card is never removed. */
static int ccid_class_descriptor(void *cls, struct wbuf *out)
{
	struct ccid_wire_desc d;

	(void)cls;
	memset(&d, 0, sizeof(d));
	d.bLength = sizeof(d);
	d.bDescriptorType = 0x21;
	le16(d.bcdCCID, 0x0110);
	d.bMaxSlotIndex = 0;
	d.bVoltageSupport = CCID_VOLTAGES;
	le32(d.dwProtocols, CCID_PROTOCOLS);
	le32(d.dwDefaultClock, CCID_CLOCK_KHZ);
	le32(d.dwMaximumClock, CCID_CLOCK_KHZ);
	d.bNumClockSupported = 1;
	le32(d.dwDataRate, CCID_RATE_DEFAULT);
	le32(d.dwMaxDataRate, CCID_RATE_MAX);
	d.bNumDataRatesSupported = 2;
	le32(d.dwMaxIFSD, CCID_MAX_IFSD);
	le32(d.dwFeatures, CCID_FEATURES);
	le32(d.dwMaxCCIDMessageLength, CCID_MSG_MAX);
	d.bClassGetResponse = 0xFF;
	d.bClassEnvelope = 0xFF;
	d.bMaxCCIDBusySlots = 1;
	return wbuf_put(out, &d, sizeof(d));
}

static void ccid_reset(void *cls)
{
	struct ccid *c = cls;

	pthread_mutex_lock(&c->lock);
	abandon_job(c);
	drop_rdata(c);
	c->rx_len = 0;
	c->discarding = false;
	c->powered = false;
	c->abort_pending = false;
	memcpy(c->t1, t1_defaults, sizeof(c->t1));
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
	c->notify = notify;
	c->notify_arg = arg;
	memcpy(c->t1, t1_defaults, sizeof(c->t1));
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
	if (pthread_create(&c->worker, NULL, worker_main, c) != 0)
		goto out;
	c->worker_started = true;
	if (pthread_create(&c->ticker, NULL, ticker_main, c) != 0)
		goto out;
	c->ticker_started = true;
	ret = c;
	c = NULL; /* transferred */
out:
	ccid_destroy(c);
	return ret;
}

const struct usb_class_ops usb_ccid_class = {
	.name = "ccid",
	.cls = 0x0B, /* Smart Card */
	.subclass = 0,
	.protocol = 0, /* CCID bulk transfers (§4.3) */
	.ep_type = USB_XFER_BULK,
	.interval = 0,
	.create = ccid_create,
	.destroy = ccid_destroy,
	.class_descriptor = ccid_class_descriptor,
	.control = ccid_control,
	.out = ccid_out,
	.in = ccid_in,
	.reset = ccid_reset,
};
