/* The transport-independent CTAP core of one key: CTAP2 requests (command
 * byte + CBOR) and CTAP1/U2F messages in, responses out. The ISO 7816
 * binding (fido.c) and, later, CTAPHID call only this. */
#ifndef VKEY_CTAP_H
#define VKEY_CTAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apdu/apdu.h"
#include "core/buf.h"

struct vkey;
struct ctap;

/* How a command that waits for user presence reports "still waiting". */
struct ctap_wait {
	/* Called about every 100 ms during the wait (CTAPHID sends a
	 * KEEPALIVE); a non-zero return cancels the wait (CTAPHID CANCEL).
	 * May be NULL. */
	int (*tick)(void *arg);
	void *arg;
};

/* Largest CTAP2 message (request or response) vkey accepts: getInfo's
 * maxMsgSize. */
#define CTAP_MAX_MSG 7609

int ctap_create(struct vkey *key, struct ctap **out);
void ctap_destroy(struct ctap *c);

/* A power-up event (PC/SC power on, USB attach): opens the reset window,
 * lifts the per-power-cycle PIN block, drops tokens and assertion state. */
void ctap_power_up(struct ctap *c);

/* ctap_cbor, ctap_u2f and ctap_power_up may be called from several
 * threads (transports); they are serialized on the ctap's own lock.
 *
 * CTAP2: req = command byte + CBOR parameters. Writes status byte +
 * CBOR response into resp; returns its length (always >= 1). */
size_t ctap_cbor(struct ctap *c, const uint8_t *req, size_t len,
		 uint8_t *resp, size_t cap, const struct ctap_wait *w);

/* CTAP1/U2F raw message (an ISO 7816-4 command: INS 01 register,
 * 02 authenticate, 03 version). Writes the response data; returns SW. */
unsigned ctap_u2f(struct ctap *c, const struct apdu *cmd, struct wbuf *resp,
		  const struct ctap_wait *w);

/* Text for logs. */
const char *ctap_status_text(uint8_t status);
const char *ctap_command_name(uint8_t cmd);

/* Everything FIDO on this key back to factory state (vkey reset fido). */
int ctap_factory_reset(struct ctap *c);

/* Text for vkey status / list (lines ending in '\n'). */
int ctap_report_status(struct ctap *c, struct wbuf *out);
int ctap_report_list(struct ctap *c, struct wbuf *out);

/* Attestation mode for new credentials: self (true) or packed under the
 * key's CA (false, the default). Persisted. */
int ctap_set_self_attestation(struct ctap *c, bool self);

/* The per-key attestation CA certificate (DER) a relying party under
 * test should trust. *der is malloc'd. */
int ctap_attestation_ca(struct ctap *c, uint8_t **der, size_t *der_len);

#endif
