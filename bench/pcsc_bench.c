/* PC/SC round-trip benchmark through libpcsclite + pcscd + vpcd: SELECT and
 * OATH CALCULATE against a running `vkey serve`, and SELECT against a
 * do-nothing C card (the floor) in the same pcscd. Prints; never asserts. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <winscard.h>

#include "floor_card.h"
#include "stats.h"

#define RESP_MAX 512
#define WARMUP 50
#define ROUNDS 10

/* Anchors measured earlier on this machine (docs: REFERENCES.md). */
#define ANCHOR_CANOKEY_SELECT "CanoKey in pcscd: 70 us"
#define ANCHOR_CANOKEY_CALC "CanoKey in pcscd: 80 us"
#define ANCHOR_FLOOR "same card via pyscard, earlier: 85 us"

static const uint8_t select_oath[] = { 0x00, 0xA4, 0x04, 0x00, 0x07, 0xA0,
				       0x00, 0x00, 0x05, 0x27, 0x21, 0x01 };

/* OATH PUT "bench": TOTP (0x20) | SHA1 (0x01), 6 digits, 20-byte key. */
static const uint8_t put_bench[] = {
	0x00, 0x01, 0x00, 0x00, 0x1F,
	0x71, 0x05, 'b', 'e', 'n', 'c', 'h',
	0x73, 0x16, 0x21, 0x06,
	0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39,
	0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x36, 0x37, 0x38, 0x39,
};

/* OATH CALCULATE "bench", truncated (P2=01), 8-byte challenge, Le 00. */
static const uint8_t calc_bench[] = {
	0x00, 0xA2, 0x00, 0x01, 0x11,
	0x71, 0x05, 'b', 'e', 'n', 'c', 'h',
	0x74, 0x08, 0x00, 0x00, 0x00, 0x00, 0x03, 0x5A, 0x7B, 0x11,
	0x00,
};

struct opts {
	size_t n;
	const char *vkey_reader;
	const char *floor_reader;
	unsigned floor_port;
};

/* Wait (bounded) for a card in reader, then connect to it. */
static int card_connect(SCARDCONTEXT ctx, const char *reader, SCARDHANDLE *card)
{
	SCARD_READERSTATE st = { .szReader = reader,
				 .dwCurrentState = SCARD_STATE_UNAWARE };
	DWORD proto = 0;
	LONG rc;
	int i;

	for (i = 0; i < 100; i++) {
		rc = SCardGetStatusChange(ctx, 100, &st, 1);
		if (rc == SCARD_S_SUCCESS && (st.dwEventState & SCARD_STATE_PRESENT))
			break;
		st.dwCurrentState = st.dwEventState & ~(DWORD)SCARD_STATE_CHANGED;
	}
	rc = SCardConnect(ctx, reader, SCARD_SHARE_SHARED,
			  SCARD_PROTOCOL_T0 | SCARD_PROTOCOL_T1, card, &proto);
	if (rc != SCARD_S_SUCCESS) {
		fprintf(stderr, "SCardConnect(%s): %s\n", reader,
			pcsc_stringify_error(rc));
		return -1;
	}
	return 0;
}

/* Send one APDU; returns its status word, or -1 on a PC/SC error. */
static int transmit(SCARDHANDLE card, const uint8_t *cmd, size_t len)
{
	uint8_t resp[RESP_MAX];
	DWORD rlen = sizeof resp;
	LONG rc;

	rc = SCardTransmit(card, SCARD_PCI_T1, cmd, (DWORD)len, NULL, resp, &rlen);
	if (rc != SCARD_S_SUCCESS) {
		fprintf(stderr, "SCardTransmit: %s\n", pcsc_stringify_error(rc));
		return -1;
	}
	if (rlen < 2)
		return -1;
	return resp[rlen - 2] << 8 | resp[rlen - 1];
}

/* One measured operation: an APDU on a card, and its samples. */
struct op {
	const char *what;
	SCARDHANDLE card;
	const uint8_t *cmd;
	size_t len;
	uint64_t *t;
};

/* Time count round trips of op into t (NULL: warm-up, not recorded).
 * Every answer must be 9000. */
static int run_op(const struct op *op, uint64_t *t, size_t count)
{
	size_t i;
	int sw;

	for (i = 0; i < count; i++) {
		uint64_t t0 = bench_now_ns();

		sw = transmit(op->card, op->cmd, op->len);
		if (sw != 0x9000) {
			fprintf(stderr, "%s: unexpected status %04x\n", op->what,
				sw & 0xFFFF);
			return -1;
		}
		if (t)
			t[i] = bench_now_ns() - t0;
	}
	return 0;
}

/* Interleave the operations in ROUNDS chunks, so that load from other
 * processes on this small machine spreads over all of them alike and the
 * ratios stay fair. */
static int run_interleaved(struct op *ops, size_t nops, size_t n)
{
	size_t chunk = n / ROUNDS, r, k;

	for (k = 0; k < nops; k++)
		if (run_op(&ops[k], NULL, WARMUP) != 0)
			return -1;
	for (r = 0; r < ROUNDS; r++)
		for (k = 0; k < nops; k++)
			if (run_op(&ops[k], ops[k].t + r * chunk, chunk) != 0)
				return -1;
	return 0;
}

static void report(struct op *ops, size_t nops, size_t n, int have_floor)
{
	struct bench_result res[3] = { { 0, 0 } }, floor = { 0, 0 };
	char note[160];
	size_t k;

	for (k = 0; k < nops; k++)
		res[k] = bench_summarize(ops[k].t, n / ROUNDS * ROUNDS);
	if (have_floor) {
		floor = res[0];
		bench_print(ops[0].what, floor, "[" ANCHOR_FLOOR "]");
	}
	for (k = (size_t)have_floor; k < nops; k++) {
		const char *anchor = ops[k].cmd == select_oath ?
			ANCHOR_CANOKEY_SELECT : ANCHOR_CANOKEY_CALC;

		if (have_floor && ops[k].cmd == select_oath)
			snprintf(note, sizeof note,
				 "%.2fx floor (target <= 1.2x) [%s]",
				 res[k].median_ms / floor.median_ms, anchor);
		else
			snprintf(note, sizeof note, "[%s]", anchor);
		bench_print(ops[k].what, res[k], note);
	}
}

static int run(SCARDCONTEXT ctx, const struct opts *o)
{
	struct op ops[3];
	SCARDHANDLE floor_card = 0, vkey_card = 0;
	size_t nops = 0, k;
	int r = -1;

	memset(ops, 0, sizeof ops);
	if (o->floor_reader) {
		if (card_connect(ctx, o->floor_reader, &floor_card) != 0)
			goto out;
		ops[nops++] = (struct op){ "pcsc SELECT  do-nothing C card (floor)",
					   floor_card, select_oath,
					   sizeof select_oath, NULL };
	}
	if (o->vkey_reader) {
		if (card_connect(ctx, o->vkey_reader, &vkey_card) != 0)
			goto out;
		if (transmit(vkey_card, select_oath, sizeof select_oath) != 0x9000 ||
		    transmit(vkey_card, put_bench, sizeof put_bench) != 0x9000) {
			fprintf(stderr, "vkey: OATH SELECT/PUT failed\n");
			goto out;
		}
		/* SELECT resets the applet's state but keeps it selected, so
		 * CALCULATE may follow it in any order. */
		ops[nops++] = (struct op){ "pcsc SELECT  vkey serve", vkey_card,
					   select_oath, sizeof select_oath, NULL };
		ops[nops++] = (struct op){ "pcsc OATH CALCULATE (TOTP SHA1)  vkey serve",
					   vkey_card, calc_bench, sizeof calc_bench,
					   NULL };
	}
	for (k = 0; k < nops; k++)
		if ((ops[k].t = calloc(o->n, sizeof *ops[k].t)) == NULL)
			goto out;
	if (run_interleaved(ops, nops, o->n) != 0)
		goto out;
	report(ops, nops, o->n, o->floor_reader != NULL);
	r = 0;
out:
	for (k = 0; k < nops; k++)
		free(ops[k].t);
	if (floor_card)
		SCardDisconnect(floor_card, SCARD_LEAVE_CARD);
	if (vkey_card)
		SCardDisconnect(vkey_card, SCARD_RESET_CARD);
	return r;
}

static int parse_opts(int argc, char **argv, struct opts *o)
{
	static const struct option lo[] = {
		{ "iterations", required_argument, NULL, 'n' },
		{ "vkey-reader", required_argument, NULL, 'v' },
		{ "floor-reader", required_argument, NULL, 'f' },
		{ "floor-port", required_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct opts){ .n = 2000 };
	while ((c = getopt_long(argc, argv, "n:", lo, NULL)) != -1) {
		switch (c) {
		case 'n': o->n = strtoul(optarg, NULL, 10); break;
		case 'v': o->vkey_reader = optarg; break;
		case 'f': o->floor_reader = optarg; break;
		case 'p': o->floor_port = (unsigned)strtoul(optarg, NULL, 10); break;
		default: return -1;
		}
	}
	if (o->n < ROUNDS || (o->floor_port != 0 && o->floor_reader == NULL) ||
	    o->floor_port > 0xFFFF)
		return -1;
	return 0;
}

int main(int argc, char **argv)
{
	struct floor_card *fc = NULL;
	SCARDCONTEXT ctx = 0;
	struct opts o;
	int r = 1;

	if (parse_opts(argc, argv, &o) != 0) {
		fprintf(stderr, "usage: %s [-n N] [--vkey-reader NAME] "
			"[--floor-reader NAME [--floor-port PORT]]\n", argv[0]);
		return 2;
	}
	/* Without a port, the floor card is served by another process. */
	if (o.floor_port != 0 &&
	    (fc = floor_card_start((uint16_t)o.floor_port)) == NULL)
		goto out;
	if (SCardEstablishContext(SCARD_SCOPE_SYSTEM, NULL, NULL, &ctx) !=
	    SCARD_S_SUCCESS) {
		fprintf(stderr, "no pcscd\n");
		goto out;
	}
	r = run(ctx, &o) == 0 ? 0 : 1;
out:
	if (ctx)
		SCardReleaseContext(ctx);
	floor_card_stop(fc);
	return r;
}
