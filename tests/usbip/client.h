/* A USB/IP client for the tests: Linux's side of the protocol (the usbip
 * tool's operation requests, vhci-hcd's URBs), over any byte link: a
 * usbip_conn driven from memory or a TCP socket to the server. */
#ifndef VKEY_TEST_USBIP_CLIENT_H
#define VKEY_TEST_USBIP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "transports/usbip_wire.h"

#define UIP_MS 3000      /* default wait */
#define UIP_OUTSTANDING 4096
#define UIP_STASH 64
#define UIP_DATA_MAX 70000 /* longer than any CCID message */

/* Where the client's bytes go. */
struct uip_link {
	/* All n bytes sent: 0; -1 when the peer is gone or ms passed. */
	int (*send)(void *arg, const uint8_t *p, size_t n, int ms);
	/* Bytes received (> 0, at most cap) within ms, 0 when none came,
	 * -1 once the peer closed. */
	int (*recv)(void *arg, uint8_t *p, size_t cap, int ms);
	/* The client hangs up (may be NULL). */
	void (*close)(void *arg);
	void *arg;
};

/* One RET_SUBMIT or RET_UNLINK, fields in host order. */
struct uip_ret {
	uint32_t command, seqnum, devid, direction, ep;
	int32_t status, actual_length, start_frame, number_of_packets,
		error_count;
	uint8_t padding[8];
	uint8_t *data; /* IN data of a RET_SUBMIT (actual_length bytes) */
};

struct uip_client {
	struct uip_link link;
	uint32_t next_seq;
	uint32_t devid;             /* (busnum << 16) | devnum once imported */
	uint32_t number_of_packets; /* what submits carry: 0 or USBIP_NO_ISO */
	/* Submissions not answered yet: seqnum, direction, length asked. */
	struct {
		uint32_t seqnum;
		uint8_t dir;
		int32_t len;
		bool used;
	} out[UIP_OUTSTANDING];
	struct uip_ret stash[UIP_STASH]; /* answers nobody waited for yet */
	int n_stash;
	uint32_t hid_in_seq;  /* the interrupt IN URB in flight, 0: none */
	uint32_t ccid_in_seq; /* a bulk IN URB left pending, 0: none */
	uint8_t peek[64];     /* bytes uip_quiet saw, read first */
	size_t peek_len;
	bool closed;     /* the server closed the connection */
	int bad_replies; /* replies that matched no request or broke framing */
	FILE *tape;      /* every byte sent (fuzz seeds), NULL: not kept */
};

/* A client over link (copied); uip_free closes the link and tape (may
 * be NULL). */
struct uip_client *uip_new(const struct uip_link *link, FILE *tape);
void uip_free(struct uip_client *c);
void uip_ret_clear(struct uip_ret *r);

/* Raw bytes, for garbage. 0 or -1. */
int uip_send_raw(struct uip_client *c, const void *p, size_t n);
/* Exactly n bytes within ms: 0, or -1 (timeout or closed). */
int uip_recv_exact(struct uip_client *c, uint8_t *p, size_t n, int ms);
/* True when nothing at all arrives within ms (and the peer stays). */
bool uip_quiet(struct uip_client *c, int ms);
/* True once the server closes within ms (bytes before are dropped). */
bool uip_wait_closed(struct uip_client *c, int ms);

/* --- operations -------------------------------------------------------- */

void uip_op_header(uint8_t b[8], uint16_t version, uint16_t code,
		   uint32_t status);
/* OP_REQ_DEVLIST, then everything until the server closes: the reply's
 * length, or -1 (no close within ms, or longer than cap). */
long uip_devlist(struct uip_client *c, uint8_t *buf, size_t cap, int ms);
/* Everything until the server closes: its length, or -1 (no close
 * within ms, or more than cap). */
long uip_read_all(struct uip_client *c, uint8_t *buf, size_t cap, int ms);
/* OP_REQ_IMPORT of busid (version: USBIP_VERSION normally). The reply's
 * status, with the device (312 bytes) in dev when it is 0; -1 when no
 * well-formed reply came. Sets c->devid on success. */
long uip_import_v(struct uip_client *c, uint16_t version, const char *busid,
		  uint8_t dev[312], int ms);
long uip_import(struct uip_client *c, const char *busid, uint8_t dev[312]);

/* --- URBs --------------------------------------------------------------- */

/* A CMD_SUBMIT header (48 bytes), numbers as given. */
void uip_submit_header(uint8_t h[48], uint32_t seqnum, uint32_t devid,
		       uint32_t dir, uint32_t ep, uint32_t flags, int32_t len,
		       int32_t npackets, const uint8_t setup[8]);
/* CMD_SUBMIT with a fresh seqnum; OUT data (len bytes) follows for OUT.
 * Returns the seqnum, 0 when the send failed. */
uint32_t uip_submit(struct uip_client *c, uint8_t dir, uint8_t ep,
		    int32_t len, const uint8_t setup[8], const uint8_t *data);
/* CMD_UNLINK of seqnum; returns the unlink's own seqnum (0: failed). */
uint32_t uip_unlink(struct uip_client *c, uint32_t seqnum);
/* The answer with this seqnum (others met on the way are kept): 0, or
 * -1 on timeout / close. r is cleared first; free with uip_ret_clear. */
int uip_wait(struct uip_client *c, uint32_t seqnum, struct uip_ret *r,
	     int ms);
/* Any next answer (stashed ones first): 0 or -1. */
int uip_next(struct uip_client *c, struct uip_ret *r, int ms);

/* A control transfer on endpoint 0: the URB status (0, -32, ...) with
 * IN data in data; -1000 on timeout. *actual (may be NULL) gets
 * actual_length. r (may be NULL) gets the whole answer (data freed). */
int uip_control(struct uip_client *c, uint8_t rt, uint8_t req, uint16_t value,
		uint16_t index, uint8_t *data, uint16_t len, int *actual,
		struct uip_ret *r);
/* SET_CONFIGURATION 1: 0 when the device took it. */
int uip_configure(struct uip_client *c);

/* --- CTAPHID over the interrupt endpoints ------------------------------- */

#define UIP_HID_INIT 0x86
#define UIP_HID_CBOR 0x90
#define UIP_HID_KEEPALIVE 0xBB
#define UIP_HID_ERROR 0xBF

/* One 64-byte report to interrupt OUT 1, answered status 0: 0 or -1. */
int uip_hid_out(struct uip_client *c, const uint8_t rpt[64]);
/* Like usbhid, keep one interrupt IN URB in flight from the first
 * message on: each completion submits the next. uip_hid_stop unlinks
 * it (as Linux does before a reset): 0, or -1 (no RET_UNLINK). */
void uip_hid_start(struct uip_client *c);
int uip_hid_stop(struct uip_client *c);
/* A whole message as reports (init + continuations), the IN URB in
 * flight first. 0 or -1. */
int uip_hid_send(struct uip_client *c, uint32_t cid, uint8_t cmd,
		 const uint8_t *data, size_t len);
/* One report through the interrupt IN URB in flight (submitted first if
 * there is none), which is then replaced: 0, or -1 when none came within
 * ms; the URB then stays pending and the next call waits on it again. */
int uip_hid_in(struct uip_client *c, uint8_t rpt[64], int ms);
/* The next message (keepalives counted in *keepalives, may be NULL): its
 * length, -1 on failure; *cmd its command byte. */
int uip_hid_recv(struct uip_client *c, uint32_t cid, uint8_t *cmd,
		 uint8_t *buf, size_t cap, int *keepalives, int ms);
/* INIT on the broadcast channel: the new channel, 0 on failure. */
uint32_t uip_hid_init(struct uip_client *c);
/* authenticatorGetInfo: the answer's length (status byte first), -1. */
int uip_hid_get_info(struct uip_client *c, uint32_t cid, uint8_t *buf,
		     size_t cap);

/* --- CCID over the bulk endpoints --------------------------------------- */

#define UIP_PC_TO_RDR_ICC_POWER_ON 0x62
#define UIP_PC_TO_RDR_XFR_BLOCK 0x6F
#define UIP_RDR_TO_PC_DATA_BLOCK 0x80

/* A CCID message to bulk OUT 2 in one URB: its bSeq, -1 on failure. */
int uip_ccid_send(struct uip_client *c, uint8_t type, const uint8_t *data,
		  size_t len);
/* One CCID message from bulk IN 2 through URBs of urb_len bytes (a
 * short one ends it): its length, 0 on failure. A URB still unanswered
 * after ms stays pending (c->ccid_in_seq) for the next call. */
size_t uip_ccid_recv(struct uip_client *c, uint8_t *msg, size_t cap,
		     int32_t urb_len, int ms);
/* The answer after time extensions (counted in *te, may be NULL). */
size_t uip_ccid_answer(struct uip_client *c, uint8_t *msg, size_t cap,
		       int32_t urb_len, int *te, int ms);
/* An APDU through XfrBlock: the status word (0 on failure), the whole
 * DataBlock in msg (*len its length). */
unsigned uip_ccid_apdu(struct uip_client *c, const uint8_t *apdu, size_t n,
		       uint8_t *msg, size_t cap, size_t *len);

/* --- a TCP socket link ---------------------------------------------------- */

/* Connect to host:port (numeric IPv4); fd or -1. */
int uip_tcp_connect(const char *host, uint16_t port);
/* A link over a connected socket (closed by uip_free). */
struct uip_link uip_tcp_link(int fd);
int uip_tcp_fd(const struct uip_client *c);

uint16_t uip_get16(const uint8_t *p);
uint32_t uip_get32(const uint8_t *p);
void uip_put16(uint8_t *p, uint16_t v);
void uip_put32(uint8_t *p, uint32_t v);
int64_t uip_now_ms(void);

#endif
