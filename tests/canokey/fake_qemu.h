/* A stand-in for QEMU 7.2's hw/usb/canokey.c and the two host
 * controllers it runs under (uhci: one packet per IN token, polled every
 * frame; xhci: whole transfers, a NAKed one retried only when the device
 * wakes the endpoint, the retry running inside transmit), so
 * libcanokey-qemu can be driven exactly as QEMU drives it, without QEMU.
 * It also checks what QEMU does not: the 2048-byte IN buffers, the
 * 512-byte OUT buffer, OUT buffers registered, and no CTAPHID transmit
 * while xhci handles a CTAPHID IN token (which may be a retry: QEMU 7.2
 * then handles the transfer twice and frees it under itself). */
#ifndef VKEY_TESTS_FAKE_QEMU_H
#define VKEY_TESTS_FAKE_QEMU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FQ_EPS 3
#define FQ_IN_SIZE 2048  /* CANOKEY_EP_IN_BUFFER_SIZE */
#define FQ_OUT_SIZE 512  /* CANOKEY_EP_OUT_BUFFER_SIZE */
#define FQ_DATA_BUF 4096 /* USBDevice.data_buf */

/* Transfer results besides a byte count. */
#define FQ_NAK (-2)
#define FQ_STALL (-1)

enum fq_hc { FQ_UHCI, FQ_XHCI };
enum fq_state { FQ_WAIT, FQ_READY, FQ_STALLED };

/* An xhci transfer descriptor on an IN endpoint: submitted, NAKed, then
 * retried at the device's wakeup (the only retry QEMU's xhci makes). */
struct fq_td {
	bool pending; /* NAKed, waiting for a wakeup */
	bool done;    /* completed: status and data below */
	size_t len;   /* the host's buffer */
	int status;   /* byte count or FQ_STALL */
	uint8_t data[FQ_IN_SIZE];
};

/* What QEMU would have done wrong, or hung on; any non-zero fails. */
struct fq_faults {
	unsigned in_overflow;  /* transmit past the 2048-byte buffer */
	unsigned out_overflow; /* an OUT transfer past QEMU's 512 bytes */
	unsigned out_unarmed;  /* OUT with no buffer or size 0: QEMU loops */
	unsigned ctrl_too_long; /* a control IN longer than wLength */
	/* xhci: transmit on ep 1 while QEMU handles an IN token of ep 1; its
	 * wakeup re-runs that very transfer when it is a retry (QEMU 7.2
	 * frees it under the outer handler). */
	unsigned xhci_in_reentry;
};

struct fq {
	enum fq_hc hc;
	uint8_t addr;
	uint8_t ep_in[FQ_EPS][FQ_IN_SIZE];
	uint32_t ep_in_size[FQ_EPS], ep_in_pos[FQ_EPS];
	enum fq_state ep_in_state[FQ_EPS];
	uint8_t *ep_out[FQ_EPS];
	uint32_t ep_out_size[FQ_EPS];
	uint8_t ep_out_buffer[FQ_EPS][FQ_OUT_SIZE];
	bool in_active[FQ_EPS]; /* handle_data of an IN token is running */
	struct fq_td td[FQ_EPS];
	struct fq_faults faults;
	unsigned transmits, wakeups, kicks, max_depth, depth;
};

/* The one device (the ABI's `key` argument points at it). */
extern struct fq fq;

void fq_init(enum fq_hc hc);
/* realize: canokey_emu_init(&fq, file); 0 or -1. */
int fq_realize(const char *file);
/* handle_reset: a USB bus reset. */
void fq_reset(void);
/* A control transfer (handle_control after QEMU's SETUP checks); data
 * has room for FQ_DATA_BUF bytes. Returns the IN byte count, 0 for OUT,
 * or FQ_NAK / FQ_STALL. */
int fq_control(uint8_t rt, uint8_t req, uint16_t value, uint16_t index,
	       uint16_t length, uint8_t *data);
/* xhci's Address Device command: SET_ADDRESS with no data buffer. */
int fq_xhci_address(uint8_t slot);
/* One IN token (handle_data) with a buffer of len bytes. */
int fq_in(uint8_t ep, uint8_t *buf, size_t len);
/* One OUT packet / transfer (handle_data). */
int fq_out(uint8_t ep, const uint8_t *data, size_t len);
/* xhci: submit an IN transfer of len bytes (the doorbell): tried at once,
 * kept pending on NAK. fq_td_take returns a completed one. */
void fq_xhci_submit(uint8_t ep, size_t len);
bool fq_td_take(uint8_t ep, int *status, uint8_t *buf, size_t cap);
bool fq_faulty(void);

#endif
