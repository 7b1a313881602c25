/* CTAPHID, the FIDO USB HID transport (CTAP 2.1 §11.2): one interface's
 * state and constants, shared by the ctaphid*.c files of src/usb only. */
#ifndef VKEY_USB_CTAPHID_H
#define VKEY_USB_CTAPHID_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "usb/usb.h"

/* §11.2.4: every packet is one 64-byte HID report, no report ID. */
#define HID_RPT_SIZE 64
#define CTAPHID_INIT_HDR 7 /* CID, CMD, BCNTH, BCNTL */
#define CTAPHID_CONT_HDR 5 /* CID, SEQ */
#define CTAPHID_INIT_DATA (HID_RPT_SIZE - CTAPHID_INIT_HDR)
#define CTAPHID_CONT_DATA (HID_RPT_SIZE - CTAPHID_CONT_HDR)
#define CTAPHID_MAX_SEQ 0x7F
/* 57 + 128 * 59 = 7609: the largest message, getInfo's maxMsgSize. */
#define CTAPHID_MAX_MSG \
	(CTAPHID_INIT_DATA + (CTAPHID_MAX_SEQ + 1) * CTAPHID_CONT_DATA)
#define TYPE_INIT 0x80 /* CMD byte of an init packet has bit 7 set */

/* §11.2.3: reserved channel identifiers. */
#define CTAPHID_BROADCAST_CID 0xFFFFFFFFu
#define CTAPHID_RESERVED_CID 0u

/* §11.2.9: commands (without the TYPE_INIT bit). */
#define CTAPHID_PING 0x01
#define CTAPHID_MSG 0x03
#define CTAPHID_LOCK 0x04
#define CTAPHID_INIT 0x06
#define CTAPHID_WINK 0x08
#define CTAPHID_CBOR 0x10
#define CTAPHID_CANCEL 0x11
#define CTAPHID_KEEPALIVE 0x3B
#define CTAPHID_ERROR 0x3F

/* §11.2.9.1.6: CTAPHID_ERROR codes. */
#define ERR_INVALID_CMD 0x01
#define ERR_INVALID_PAR 0x02
#define ERR_INVALID_LEN 0x03
#define ERR_INVALID_SEQ 0x04
#define ERR_MSG_TIMEOUT 0x05
#define ERR_CHANNEL_BUSY 0x06
#define ERR_LOCK_REQUIRED 0x0A /* no vkey command needs the lock */
#define ERR_INVALID_CHANNEL 0x0B
#define ERR_OTHER 0x7F

/* §11.2.9.1.7: CTAPHID_KEEPALIVE status. */
#define STATUS_PROCESSING 1
#define STATUS_UPNEEDED 2

/* §11.2.9.1.3: CTAPHID_INIT. */
#define CTAPHID_INIT_NONCE_LEN 8
#define CTAPHID_IF_VERSION 2
#define CAPABILITY_WINK 0x01
#define CAPABILITY_CBOR 0x04
#define CAPABILITY_NMSG 0x08

/* Timing. §11.2.5.2 leaves the transaction timeout to the device; 3 s
 * between two packets of one message is generous for any host. */
#define CTAPHID_TRANSACTION_TIMEOUT_MS 3000
#define CTAPHID_KEEPALIVE_MS 100
#define CTAPHID_MAX_LOCK_S 10 /* §11.2.9.2.2 */

/* Channels one device keeps; an INIT beyond that reuses the least
 * recently used one. */
#define CTAPHID_MAX_CHANNELS 8
/* IN reports the device holds for a host that reads slowly: three
 * maximum-size answers (129 reports each) and room for keepalives and
 * errors. Past that, an answer is dropped (logged). */
#define CTAPHID_QUEUE_REPORTS 400

/* One report, parsed (§11.2.4). */
struct hid_pkt {
	uint32_t cid;
	bool init;
	uint8_t cmd;   /* init: command without TYPE_INIT */
	uint16_t bcnt; /* init: length of the whole message */
	uint8_t seq;   /* continuation: sequence number */
	const uint8_t *data;
	size_t data_len; /* payload bytes in this report */
};

struct hid_chan {
	uint32_t cid;  /* CTAPHID_RESERVED_CID: slot free */
	uint64_t used; /* last activity (h->clock), to reuse the oldest */
	bool rx;       /* a message is being received */
	uint8_t cmd;
	uint8_t seq; /* the next continuation's */
	size_t want, have;
	uint64_t deadline_ms; /* the next packet is due by then */
	uint8_t msg[CTAPHID_MAX_MSG];
};

enum hid_job_state {
	JOB_IDLE = 0,
	JOB_QUEUED,  /* waiting for the worker to pick it up */
	JOB_RUNNING, /* req/rsp belong to the worker until it is done */
};

/* The one MSG or CBOR request in flight. */
struct hid_job {
	enum hid_job_state state;
	bool cancel;    /* CANCEL: end the touch wait, answer as usual */
	bool abandoned; /* resync, reset: end it, drop the answer */
	uint32_t cid;
	uint8_t cmd;
	size_t req_len;
	uint64_t next_keepalive_ms;
	uint64_t last_tick_ms; /* last user-presence tick; 0: none yet */
	uint8_t req[CTAPHID_MAX_MSG];
	uint8_t rsp[CTAPHID_MAX_MSG];
};

struct hid_queue {
	size_t head, count;
	uint8_t rpt[CTAPHID_QUEUE_REPORTS][HID_RPT_SIZE];
};

struct hid {
	struct vkey *key;
	void (*notify)(void *arg);
	void *notify_arg;
	size_t answer_max; /* the longest message sent (usb_dev_limits) */

	pthread_mutex_t mu; /* everything below */
	pthread_cond_t work_cv;  /* worker: a job is queued, or stop */
	pthread_cond_t timer_cv; /* timer: a deadline came closer, or stop */
	pthread_t worker, timer;
	bool stop;
	bool kick; /* IN data became ready: notify once unlocked */

	uint32_t next_cid;
	uint64_t clock; /* counts channel activity */
	uint32_t lock_cid; /* CTAPHID_LOCK holder, or CTAPHID_RESERVED_CID */
	uint64_t lock_until_ms;
	uint8_t idle_rate, protocol; /* HID SET_IDLE / SET_PROTOCOL */

	struct hid_chan chans[CTAPHID_MAX_CHANNELS];
	struct hid_job job;
	struct hid_queue q;
};

/* ctaphid.c */
uint64_t hid_now_ms(void);
/* Unlock h->mu, then notify the transport if IN data became ready: the
 * notify callback never runs under our lock. */
void hid_unlock(struct hid *h);
/* The reports in data (len a multiple of HID_RPT_SIZE), under h->mu. */
void hid_reports(struct hid *h, const uint8_t *data, size_t len);
/* Ends messages whose next packet is late (ERR_MSG_TIMEOUT). Returns the
 * earliest deadline still pending, UINT64_MAX when none. */
uint64_t hid_rx_timeouts(struct hid *h, uint64_t now);
void hid_error(struct hid *h, uint32_t cid, uint8_t code);

/* ctaphid_frame.c: packets in, messages out (under h->mu). */
void hid_parse(const uint8_t rpt[HID_RPT_SIZE], struct hid_pkt *pk);
/* Queue a whole message as reports for the IN endpoint; -1 (logged) when
 * it does not fit. */
int hid_send(struct hid *h, uint32_t cid, uint8_t cmd, const uint8_t *data,
	     size_t len);
bool hid_queue_has(const struct hid *h, uint32_t cid, uint8_t cmd);
bool hid_queue_pop(struct hid *h, uint8_t rpt[HID_RPT_SIZE]);
void hid_queue_purge(struct hid *h, uint32_t cid);

/* ctaphid_job.c: MSG and CBOR on the worker, keepalives, timeouts. */
int hid_job_init(struct hid *h);
void hid_job_fini(struct hid *h);
bool hid_job_busy(const struct hid *h);
/* Does channel cid own the request in flight? */
bool hid_job_owner(const struct hid *h, uint32_t cid);
/* Hand the channel's complete MSG or CBOR message to the worker. */
void hid_job_start(struct hid *h, const struct hid_chan *ch);
void hid_job_cancel(struct hid *h, uint32_t cid);
/* Channel cid's request (any channel's when cid is CTAPHID_RESERVED_CID)
 * is no longer wanted: dropped if queued, ended and its answer discarded
 * if running. */
void hid_job_abandon(struct hid *h, uint32_t cid);

/* ctaphid_desc.c: the HID side of the interface. */
int hid_class_descriptor(void *cls, struct wbuf *out);
int hid_control(void *cls, const struct usb_setup *s, uint8_t *data,
		size_t len);

#endif
