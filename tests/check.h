/* A minimal test harness: each test program runs named cases and exits
 * non-zero when any check failed. */
#ifndef VKEY_TEST_CHECK_H
#define VKEY_TEST_CHECK_H

#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;

#define CHECK(cond)                                                        \
	do {                                                               \
		if (!(cond)) {                                             \
			fprintf(stderr, "%s:%d: check failed: %s\n",       \
				__FILE__, __LINE__, #cond);                \
			check_failures++;                                  \
		}                                                          \
	} while (0)

#define CHECK_EQ(a, b)                                                     \
	do {                                                               \
		long long check_a_ = (long long)(a);                       \
		long long check_b_ = (long long)(b);                       \
		if (check_a_ != check_b_) {                                \
			fprintf(stderr, "%s:%d: %s == %s failed: "         \
				"0x%llx != 0x%llx\n", __FILE__, __LINE__,  \
				#a, #b, check_a_, check_b_);               \
			check_failures++;                                  \
		}                                                          \
	} while (0)

#define CHECK_MEM(a, b, n) CHECK(memcmp((a), (b), (n)) == 0)

#define RUN(fn)                                                            \
	do {                                                               \
		int check_before_ = check_failures;                        \
		fn();                                                      \
		fprintf(stderr, "%s %s\n",                                 \
			check_failures == check_before_ ? "ok  " : "FAIL", \
			#fn);                                              \
	} while (0)

#define CHECK_DONE() (check_failures == 0 ? 0 : 1)

static inline int check_rm_one(const char *p, const struct stat *sb,
			       int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* Decodes hex (whitespace ignored) into out; returns the byte count. */
static inline size_t check_unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;
	unsigned v = 0, half = 0;

	for (; *hex != '\0'; hex++) {
		char ch = *hex;
		unsigned d;

		if (ch >= '0' && ch <= '9')
			d = (unsigned)(ch - '0');
		else if (ch >= 'a' && ch <= 'f')
			d = (unsigned)(ch - 'a' + 10);
		else if (ch >= 'A' && ch <= 'F')
			d = (unsigned)(ch - 'A' + 10);
		else
			continue;
		v = (v << 4) | d;
		if (++half == 2) {
			if (n == cap)
				abort();
			out[n++] = (uint8_t)v;
			v = 0;
			half = 0;
		}
	}
	return n;
}

/* Remove a test's temporary folder and everything in it. */
static inline void check_rmtree(const char *dir)
{
	nftw(dir, check_rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

#endif
