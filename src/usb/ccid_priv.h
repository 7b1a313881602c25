/* Internals shared by the CCID class's files: protocol constants, the
 * wire layouts, the per-device state and one prototype per entry point. */
#ifndef VKEY_USB_CCID_PRIV_H
#define VKEY_USB_CCID_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "usb/usb.h"

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
#define CCID_MSG_MAX USB_CCID_MSG_MAX
#define CCID_HEADER_LEN 10
#define CCID_DATA_MAX (CCID_MSG_MAX - CCID_HEADER_LEN)

#define CCID_CLOCK_KHZ 4000u
#define CCID_RATE_DEFAULT 10752u /* Fi 372, Di 1 at 4 MHz */
#define CCID_RATE_MAX 43010u     /* Fi 372, Di 4 (the ATR's TA1) */
#define CCID_MAX_IFSD 254u
#define CCID_VOLTAGES 0x07 /* 5 V, 3 V, 1.8 V */
#define CCID_PROTOCOL_T1 1
#define CCID_PROTOCOLS (1u << CCID_PROTOCOL_T1)

/* The T=1 abProtocolDataStructure (§6.1.7). */
#define T1_PARAMS_LEN 7
extern const uint8_t ccid_t1_defaults[T1_PARAMS_LEN];

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
	uint32_t msg_max; /* dwMaxCCIDMessageLength (usb_dev_limits) */
	bool no_zlp;      /* no answer ends with a full packet */
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

static inline void ccid_le16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static inline void ccid_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* This device's limit on the data of one message. */
static inline size_t ccid_data_max(const struct ccid *c)
{
	return c->msg_max - CCID_HEADER_LEN;
}

static inline uint8_t ccid_icc_status(const struct ccid *c)
{
	return c->powered ? ICC_PRESENT_ACTIVE : ICC_PRESENT_INACTIVE;
}

/* Tell the transport IN data may be ready; never under c->lock. */
static inline void ccid_notify(struct ccid *c)
{
	if (c->notify != NULL)
		c->notify(c->notify_arg);
}

/* ccid_msg.c: PC_to_RDR messages and the RDR_to_PC answers. All under
 * c->lock. */
void ccid_handle_msg(struct ccid *c, const struct ccid_msg *m);
size_t ccid_build_msg(uint8_t *b, uint8_t type, uint8_t seq,
		      uint8_t status, uint8_t error, uint8_t specific,
		      const uint8_t *data, size_t len);
void ccid_enqueue(struct ccid *c, uint8_t type, uint8_t seq,
		  uint8_t status, uint8_t error, uint8_t specific,
		  const uint8_t *data, size_t len);
void ccid_fail(struct ccid *c, const struct ccid_msg *m, uint8_t error);
void ccid_slot_status(struct ccid *c, const struct ccid_msg *m);
void ccid_emit_data(struct ccid *c);
void ccid_drop_rdata(struct ccid *c);

/* ccid_job.c: the worker that runs what may wait on the key, and the
 * ticker that offers time extensions meanwhile. */
void ccid_submit(struct ccid *c, const struct ccid_msg *m,
		 enum job_kind kind);
void ccid_abandon_job(struct ccid *c);
void *ccid_worker_main(void *arg);
void *ccid_ticker_main(void *arg);

/* ccid_bulk.c: messages from OUT packets, answers to IN packets. */
int ccid_bulk_out(void *cls, const uint8_t *data, size_t len);
int ccid_bulk_in(void *cls, uint8_t *buf, size_t cap);

#endif
