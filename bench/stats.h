/* Timing and summary statistics shared by the benchmark programs. */
#ifndef VKEY_BENCH_STATS_H
#define VKEY_BENCH_STATS_H

#include <stddef.h>
#include <stdint.h>

/* Monotonic clock in nanoseconds. */
uint64_t bench_now_ns(void);

struct bench_result {
	double median_ms;
	double p90_ms;
};

/* Sorts samples (nanoseconds) in place; n must be > 0. */
struct bench_result bench_summarize(uint64_t *samples, size_t n);

/* One aligned line: what, median and p90 in microseconds, then a note. */
void bench_print(const char *what, struct bench_result r, const char *note);

#endif
