/* A minimal test harness: each test program runs named cases and exits
 * non-zero when any check failed. */
#ifndef VKEY_TEST_CHECK_H
#define VKEY_TEST_CHECK_H

#include <ftw.h>
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

/* Remove a test's temporary folder and everything in it. */
static inline void check_rmtree(const char *dir)
{
	nftw(dir, check_rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

#endif
