/* One PC/SC session with a card for the applet benchmarks (openpgp_bench,
 * piv_bench): connect to a reader, send extended-length APDUs (vkey takes
 * them in one round trip), find top-level BER-TLV in the answers. */
#ifndef VKEY_BENCH_CARD_PCSC_H
#define VKEY_BENCH_CARD_PCSC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <winscard.h>

#define CARD_DATA_MAX 4096

struct card {
	SCARDCONTEXT ctx;
	SCARDHANDLE h;
};

struct card_resp {
	uint8_t p[CARD_DATA_MAX + 2];
	size_t len; /* without the status word */
};

/* Establish a context, wait (up to 10 s) for a card in reader and connect
 * to it over T=1. Prints what failed; card_close undoes a partial open. */
int card_connect(struct card *c, const char *reader);
void card_close(struct card *c);

/* Send a prepared command; returns the status word, -1 on a PC/SC error. */
int card_transmit(struct card *c, const uint8_t *apdu, size_t n,
		  struct card_resp *r);

/* CLA 00, INS P1 P2 [Lc data] [Le 00 00] in extended form (le: expect an
 * answer); returns the status word, -1 on an error or data over
 * CARD_DATA_MAX. */
int card_call(struct card *c, uint8_t ins, uint8_t p1, uint8_t p2,
	      const uint8_t *data, size_t len, bool le, struct card_resp *r);

/* SELECT by AID as every client sends it: a short APDU with Le 00. */
int card_select(struct card *c, const uint8_t *aid, size_t aid_len,
		struct card_resp *r);

/* 0 for 9000; otherwise prints "what: status XXXX" and returns -1. */
int card_expect_ok(const char *what, int sw);

/* A tag (one or two bytes) at the top level of p; returns its value and
 * length, or NULL when absent or when an element overruns p. */
const uint8_t *card_tlv_find(const uint8_t *p, size_t len, unsigned tag,
			     size_t *vlen);

#endif
