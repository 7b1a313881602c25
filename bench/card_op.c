/* Card operations timed beside their raw primitive: loops, report and
 * the program shared by the applet benchmarks. */
#include "card_op.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static int timed(card_op_fn fn, void *arg, uint64_t *t)
{
	uint64_t t0 = bench_now_ns();
	int r = fn(arg);

	*t = bench_now_ns() - t0;
	return r;
}

int card_op_interleaved(struct card_op *op, card_op_fn card, void *card_arg,
			card_op_fn raw, void *raw_arg)
{
	size_t chunk = op->n / CARD_OP_ROUNDS, at;
	int err = 0;

	for (int i = 0; i < CARD_OP_WARMUP && err == 0; i++)
		err = card(card_arg) | raw(raw_arg);
	for (size_t round = 0; round < CARD_OP_ROUNDS && err == 0; round++) {
		at = round * chunk;
		for (size_t i = 0; i < chunk; i++)
			err |= timed(card, card_arg, &op->card_t[at + i]);
		for (size_t i = 0; i < chunk; i++)
			err |= timed(raw, raw_arg, &op->raw_t[at + i]);
	}
	if (err != 0)
		return -1;
	op->card = bench_summarize(op->card_t, chunk * CARD_OP_ROUNDS);
	op->raw = bench_summarize(op->raw_t, chunk * CARD_OP_ROUNDS);
	return 0;
}

int card_op_paired(struct card_op *op, card_op_fn card, void *card_arg,
		   card_op_fn raw, void *raw_arg)
{
	for (size_t i = 0; i < op->n; i++)
		if (timed(card, card_arg, &op->card_t[i]) != 0 ||
		    timed(raw, raw_arg, &op->raw_t[i]) != 0)
			return -1;
	op->card = bench_summarize(op->card_t, op->n);
	op->raw = bench_summarize(op->raw_t, op->n);
	return 0;
}

static void report(const struct card_op *op)
{
	char what[96], note[200];
	int n;

	snprintf(what, sizeof what, "pcsc %s", op->what);
	n = snprintf(note, sizeof note, "%.2fx raw",
		     op->card.median_ms / op->raw.median_ms);
	if (op->canokey_ms > 0)
		snprintf(note + n, sizeof note - (size_t)n,
			 "; CanoKey %.2f ms: %.2fx (%s)", op->canokey_ms,
			 op->card.median_ms / op->canokey_ms,
			 op->card.median_ms < op->canokey_ms ? "beats"
							      : "SLOWER");
	bench_print(what, op->card, note);
	snprintf(what, sizeof what, "  OpenSSL %s", op->raw_what);
	bench_print(what, op->raw, "raw primitive, same run");
}

struct args {
	const char *reader;
	size_t n, gen2048, gen4096;
};

/* 0, or -1 after printing the usage. */
static int parse_args(int argc, char **argv, struct args *a)
{
	static const struct option lo[] = {
		{ "reader", required_argument, NULL, 'r' },
		{ "iterations", required_argument, NULL, 'n' },
		{ "gen-2048", required_argument, NULL, 'g' },
		{ "gen-4096", required_argument, NULL, 'G' },
		{ NULL, 0, NULL, 0 },
	};
	int opt;

	*a = (struct args){ NULL, 200, 15, 5 };
	while ((opt = getopt_long(argc, argv, "n:", lo, NULL)) != -1) {
		switch (opt) {
		case 'r': a->reader = optarg; break;
		case 'n': a->n = strtoul(optarg, NULL, 10); break;
		case 'g': a->gen2048 = strtoul(optarg, NULL, 10); break;
		case 'G': a->gen4096 = strtoul(optarg, NULL, 10); break;
		default: a->n = 0; break;
		}
	}
	if (a->reader == NULL || a->n < CARD_OP_ROUNDS || a->gen2048 < 1 ||
	    a->gen4096 < 1) {
		fprintf(stderr, "usage: %s --reader NAME [-n N] [--gen-2048 N] "
			"[--gen-4096 N]\n", argv[0]);
		return -1;
	}
	return 0;
}

/* The sample arrays, sized by the args; free_samples frees them, also
 * after a failure half way. */
static int alloc_samples(struct card_op *ops, size_t count,
			 const struct args *a)
{
	for (size_t k = 0; k < count; k++) {
		ops[k].n = ops[k].gen_bits == 2048   ? a->gen2048 :
			   ops[k].gen_bits == 4096 ? a->gen4096 :
						     a->n;
		ops[k].card_t = calloc(ops[k].n, sizeof(uint64_t));
		ops[k].raw_t = calloc(ops[k].n, sizeof(uint64_t));
		if (ops[k].card_t == NULL || ops[k].raw_t == NULL)
			return -1;
	}
	return 0;
}

static void free_samples(struct card_op *ops, size_t count)
{
	for (size_t k = 0; k < count; k++) {
		free(ops[k].card_t);
		free(ops[k].raw_t);
		ops[k].card_t = ops[k].raw_t = NULL;
	}
}

int card_op_main(int argc, char **argv, struct card_op *ops, size_t count,
		 int (*open)(struct card *c, const char *reader))
{
	struct card c = { 0, 0 };
	struct args a;
	int r = 1;

	if (parse_args(argc, argv, &a) != 0)
		return 2;
	if (alloc_samples(ops, count, &a) != 0 || open(&c, a.reader) != 0)
		goto out;
	for (size_t k = 0; k < count; k++) {
		if (ops[k].bench(&c, ops[k].arg, &ops[k]) != 0)
			goto out;
		report(&ops[k]);
	}
	r = 0;
out:
	card_close(&c);
	free_samples(ops, count);
	return r;
}
