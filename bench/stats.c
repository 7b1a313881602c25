/* Timing and summary statistics shared by the benchmark programs. */
#include "stats.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

uint64_t bench_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

struct bench_result bench_summarize(uint64_t *samples, size_t n)
{
	struct bench_result r;

	qsort(samples, n, sizeof *samples, cmp_u64);
	r.median_ms = (double)samples[n / 2] / 1e6;
	r.p90_ms = (double)samples[n * 9 / 10] / 1e6;
	return r;
}

void bench_print(const char *what, struct bench_result r, const char *note)
{
	printf("%-46s median %8.2f us  p90 %8.2f us  %s\n", what,
	       r.median_ms * 1e3, r.p90_ms * 1e3, note ? note : "");
	fflush(stdout);
}
