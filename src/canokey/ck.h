/* libcanokey-qemu inside: the one device context QEMU's handle-less ABI
 * allows, and the pieces that serve QEMU's calls (docs/CANOKEY.md). */
#ifndef VKEY_CANOKEY_CK_H
#define VKEY_CANOKEY_CK_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "canokey/canokey-qemu.h"
#include "core/log.h"
#include "usb/usb.h"
#include "vkey/vkey.h"

#define CK_N_EPS 3
/* QEMU's CANOKEY_EP_IN_BUFFER_SIZE: what one IN endpoint may hold. */
#define CK_IN_MAX 2048
/* QEMU's USBDevice data_buf: the longest control data stage it accepts
 * (and copies into the ep 0 buffer registered with prepare_receive). */
#define CK_EP0_OUT_MAX 4096
/* QEMU's CANOKEY_EP_OUT_BUFFER_SIZE: it copies a whole bulk OUT transfer
 * there, so the CCID interface announces it as dwMaxCCIDMessageLength. */
#define CK_CCID_MSG_MAX 512
/* OUT buffers of ep 1 and 2: QEMU hands a transfer over in pieces of at
 * most this, one packet each. */
#define CK_OUT_PIECE USB_MAX_PACKET

/* Bounds on waiting inside QEMU's main loop for a command: data_out waits
 * for the answer, a CCID data_in for an answer or the time extension
 * offered meanwhile (every 500 ms). */
#define CK_CMD_WAIT_MS 5000
#define CK_IN_WAIT_MS 1000
/* The longest CTAPHID message the device sends: 16 reports (57 + 15 x 59
 * bytes). Answers are pushed whole into QEMU's 2048-byte buffer, where
 * the end of the last one may still be counted when a host already sends
 * the next request (endpoint.c): two must fit. */
#define CK_HID_MSG_MAX (57 + 15 * 59)

#define CK_STR_MAX 128

struct ck_config {
	enum vkey_up_policy up;
	enum log_level level;
	bool secrets;
	char log_file[PATH_MAX]; /* "": stderr */
	uint16_t vid, pid;
	char manufacturer[CK_STR_MAX]; /* "": the default */
	char product[CK_STR_MAX];
};

/* What the library knows of QEMU's buffer for one IN endpoint. */
struct ck_in {
	size_t held;        /* at most this many bytes are in it */
	size_t since_token; /* transmitted since the last data_in */
};

struct ck {
	void *qemu; /* QEMU's CanoKeyState, the first callback argument */
	struct vkey *key;
	struct usb_dev *dev;
	FILE *log;
	unsigned depth;   /* ABI calls in progress: >1 is re-entry */
	uint8_t in_token; /* this call is data_in on this ep (0: not) */
	uint8_t prev_in_token; /* the same for the previous call */
	struct usb_setup setup;
	bool setup_pending; /* an OUT request waits for data_out(0) */
	struct ck_in in[CK_N_EPS];
	uint8_t ep0_out[CK_EP0_OUT_MAX];
	uint8_t out[CK_N_EPS][CK_OUT_PIECE];
	uint8_t in_buf[CK_IN_MAX];
};

/* config.c: defaults, then `<state file>.conf`, then the environment.
 * -1 with a sentence in err on a bad file or value. */
int ck_config_load(struct ck_config *cfg, const char *state_file, char *err,
		   size_t errlen);

/* control.c: endpoint 0. */
void ck_setup(struct ck *c, int request, int value, int index, int length);
void ck_control_out(struct ck *c, const uint8_t *data);

/* endpoint.c: the data endpoints and QEMU's IN buffers. */
void ck_arm_out(struct ck *c);
void ck_in_reset(struct ck *c);
void ck_transmit(struct ck *c, uint8_t ep, const uint8_t *buf, size_t n);
void ck_data_out(struct ck *c, uint8_t ep);
void ck_data_in(struct ck *c, uint8_t ep);
void ck_push(struct ck *c);

/* abi.c: open and close the one device (the fuzz target uses these; QEMU
 * only ever calls canokey_emu_init). */
int ck_open(void *qemu, const char *file);
void ck_close(void);

#endif
