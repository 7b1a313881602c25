/* The guest's side of the harness: what Linux's USB core, usbhid and
 * libccid do with the device, over fake_qemu's controllers. Each call
 * checks the wire rules a real host relies on (one report per interrupt
 * transfer, one CCID message per bulk transfer) and counts violations. */
#ifndef VKEY_TESTS_CANOKEY_HOST_H
#define VKEY_TESTS_CANOKEY_HOST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fake_qemu.h"

#define HOST_RPT 64
#define HOST_HIDQ 512
#define HOST_CCID_BUF (65536 + 16)
#define HOST_XHCI_SLOT 1
#define HOST_UHCI_ADDR 7

struct host {
	enum fq_hc hc;
	/* from the descriptors */
	uint16_t vid, pid;
	char manufacturer[128], product[128], serial[32];
	uint32_t ccid_max; /* dwMaxCCIDMessageLength */
	uint16_t hid_report_len;
	bool fido_usage; /* report descriptor on usage page F1D0 */
	uint8_t seq;
	/* interrupt IN reports received, oldest first */
	uint8_t hidq[HOST_HIDQ][HOST_RPT];
	size_t hid_head, hid_count;
	/* violations */
	unsigned hid_bad, ccid_bad, hangs;
	unsigned naks; /* IN tokens NAKed while an answer was due */
	unsigned msgs; /* CCID messages sent */
};

void host_init(struct host *h, enum fq_hc hc);
/* Enumerate and configure as Linux does; 0 or -1 (logged). */
int host_enumerate(struct host *h);
/* Collect interrupt IN reports (uhci: poll; xhci: keep a TD queued). */
void host_hid_service(struct host *h);
int host_hid_write(struct host *h, const uint8_t rpt[HOST_RPT]);
int host_hid_read(struct host *h, uint8_t rpt[HOST_RPT]);
/* The oldest report in hand, without any IN token. */
int host_hid_read_queued(struct host *h, uint8_t rpt[HOST_RPT]);
void host_hid_flush(struct host *h);
/* Collect until n reports are in hand and not one IN token more (a host
 * that sends its next request before asking for more); 0, or -1 when the
 * device has no more for now. */
int host_hid_collect(struct host *h, size_t n);

/* CTAPHID over the reports (CTAP 2.1 §11.2). */
int ctaphid_init(struct host *h, uint32_t *cid);
/* Send cmd, wait for the answer (keepalives skipped); returns the
 * answer's command or -1. */
int ctaphid_xfer(struct host *h, uint32_t cid, uint8_t cmd,
		 const uint8_t *req, size_t len, uint8_t *resp, size_t cap,
		 size_t *rlen);

/* The same in two halves: the request written with no IN token after it,
 * then the answer collected lazily (host_hid_collect); the answer's
 * command or -1. */
int ctaphid_send(struct host *h, uint32_t cid, uint8_t cmd,
		 const uint8_t *req, size_t len);
int ctaphid_recv_lazy(struct host *h, uint32_t cid, uint8_t *resp,
		      size_t cap, size_t *rlen);

/* CCID: one PC_to_RDR message and its answer (time extensions skipped);
 * returns the answer's total length, or -1. b7: byte 7 (bBWI,
 * bPowerSelect), level: bytes 8-9. */
int ccid_msg(struct host *h, uint8_t type, uint8_t b7, uint16_t level,
	     const uint8_t *data, size_t len, uint8_t *resp, size_t cap);
/* libccid's extended-APDU exchange, chaining both ways; 0 or -1. */
int ccid_apdu(struct host *h, const uint8_t *apdu, size_t len,
	      uint8_t *resp, size_t cap, size_t *rlen);
/* The last byte-level transfer sizes: for the harness's own checks. */
bool host_ok(const struct host *h);

#endif
