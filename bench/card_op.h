/* One card operation timed beside the raw primitive it is built on, for
 * the applet benchmarks (openpgp_bench, piv_bench): the timing loops,
 * the printed lines and the program around a table of operations. */
#ifndef VKEY_BENCH_CARD_OP_H
#define VKEY_BENCH_CARD_OP_H

#include <stddef.h>
#include <stdint.h>

#include "card_pcsc.h"
#include "stats.h"

#define CARD_OP_ROUNDS 10
#define CARD_OP_WARMUP 5

struct card_op {
	const char *what;
	double canokey_ms; /* CanoKey's figure on this machine; 0: none */
	const char *raw_what;
	unsigned gen_bits; /* RSA GENERATE (2048, 4096): --gen-N times; 0: -n */
	/* Put what op needs on the card and time it with the loops below;
	 * 0, or -1 after saying what failed. */
	int (*bench)(struct card *c, const void *arg, struct card_op *op);
	const void *arg;
	uint64_t *card_t, *raw_t;
	size_t n;
	struct bench_result card, raw;
};

/* One call on the card or of the raw primitive; 0 or -1. */
typedef int (*card_op_fn)(void *arg);

/* CARD_OP_WARMUP untimed pairs, then op->n card and op->n raw calls in
 * CARD_OP_ROUNDS interleaved chunks; fills op->card and op->raw. Stops
 * at the first failure with -1. */
int card_op_interleaved(struct card_op *op, card_op_fn card, void *card_arg,
			card_op_fn raw, void *raw_arg);

/* op->n times one card call then one raw call (key generation, too slow
 * for a warm-up); fills op->card and op->raw. Stops at the first failure
 * with -1. */
int card_op_paired(struct card_op *op, card_op_fn card, void *card_arg,
		   card_op_fn raw, void *raw_arg);

/* The program: --reader NAME [-n N] [--gen-2048 N] [--gen-4096 N], open
 * the card in the reader, then each of the count ops in order, each
 * printed as it ends ("pcsc WHAT" with its ratio to raw and to CanoKey,
 * then the raw line). Returns the exit status: 0, 1 on a failure, 2 on
 * a usage error. */
int card_op_main(int argc, char **argv, struct card_op *ops, size_t count,
		 int (*open)(struct card *c, const char *reader));

#endif
