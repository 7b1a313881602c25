/* Crash safety of the state file: a child writing transactions is killed
 * with SIGKILL at random points; the file must then reopen at once (lock
 * released, nothing damaged), keep every transaction the child saw
 * committed, and show no half-done transaction. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../check.h"
#include "services/store.h"

enum {
	DEFAULT_ITERATIONS = 500,
	MAX_DELAY_US = 20000,
	FRESH_EVERY = 10, /* start from no file: kills land in the init too */
	BULK_MOD = 17,
	CHILD_LIMIT_S = 10,
};

static char base[256];

static int get_u32(struct store *st, const char *key, uint32_t *out)
{
	uint8_t *v = NULL;
	size_t n = 0;
	int r = store_get(st, "crash", key, strlen(key), &v, &n);

	if (r == STORE_OK && n != sizeof(*out))
		r = STORE_CORRUPT;
	if (r == STORE_OK)
		memcpy(out, v, sizeof(*out));
	store_free_value(v, n);
	return r;
}

static int put_u32(struct store *st, const char *ns, const char *key,
		   size_t key_len, uint32_t v)
{
	return store_put(st, ns, key, key_len, &v, sizeof(v));
}

/* The padding record of transaction n: its size varies so transactions
 * span a varying number of pages. */
static size_t pad_len(uint32_t n)
{
	return 100 + (n * 97u) % 3000;
}

/* One transaction: the counter, two copies of it, a padding record, and
 * a rewritten namespace of n % BULK_MOD records. All or nothing. */
static int write_txn(struct store *st, uint32_t n, uint8_t *pad)
{
	int r = store_begin(st);

	if (r != STORE_OK)
		return r;
	memset(pad, (int)(n & 0xff), pad_len(n));
	memcpy(pad, &n, sizeof(n));
	r = put_u32(st, "crash", "ctr", 3, n);
	if (r == STORE_OK)
		r = put_u32(st, "crash", "a", 1, n);
	if (r == STORE_OK)
		r = store_put(st, "crash", "pad", 3, pad, pad_len(n));
	if (r == STORE_OK)
		r = store_clear(st, "bulk");
	for (uint32_t i = 0; r == STORE_OK && i < n % BULK_MOD; i++)
		r = put_u32(st, "bulk", (const char *)&i, sizeof(i), n);
	if (r == STORE_OK)
		r = put_u32(st, "crash", "b", 1, n);
	if (r != STORE_OK) {
		store_rollback(st);
		return r;
	}
	return store_commit(st);
}

/* Writes until killed; reports each committed counter on wfd. After each
 * report, one autocommitted write ("solo") follows. */
static void child_run(const char *path, int wfd)
{
	static uint8_t pad[4096];
	struct store *st = NULL;
	char err[512];
	uint32_t n = 0;
	time_t start = time(NULL);

	alarm(CHILD_LIMIT_S); /* never outlive a broken parent */
	if (store_open(&st, path, NULL, err, sizeof(err)) != STORE_OK) {
		fprintf(stderr, "child: %s\n", err);
		_exit(2);
	}
	if (get_u32(st, "ctr", &n) == STORE_CORRUPT)
		_exit(3);
	while (time(NULL) - start < CHILD_LIMIT_S) {
		n++;
		if (write_txn(st, n, pad) != STORE_OK)
			_exit(4);
		if (write(wfd, &n, sizeof(n)) != (ssize_t)sizeof(n))
			_exit(5);
		if (put_u32(st, "crash", "solo", 4, n) != STORE_OK)
			_exit(6);
	}
	_exit(7);
}

static int bulk_check(void *arg, const uint8_t *key, size_t key_len,
		      const uint8_t *val, size_t val_len)
{
	uint32_t want = *(const uint32_t *)arg, got;

	(void)key;
	if (key_len != sizeof(got) || val_len != sizeof(got))
		return 1;
	memcpy(&got, val, sizeof(got));
	return got == want ? 0 : 1;
}

/* Every record of the last committed transaction, and no other one. */
static int consistent(struct store *st, uint32_t ctr)
{
	uint32_t a = 0, b = 0;
	uint8_t *pad = NULL;
	size_t pn = 0, bulk = 0;
	int ok = 1;

	if (ctr == 0)
		return get_u32(st, "a", &a) == STORE_NOT_FOUND;
	ok &= get_u32(st, "a", &a) == STORE_OK && a == ctr;
	ok &= get_u32(st, "b", &b) == STORE_OK && b == ctr;
	ok &= store_get(st, "crash", "pad", 3, &pad, &pn) == STORE_OK &&
	      pn == pad_len(ctr) && memcmp(pad, &ctr, sizeof(ctr)) == 0 &&
	      pad[pn - 1] == (uint8_t)(ctr & 0xff);
	store_free_value(pad, pn);
	ok &= store_count(st, "bulk", &bulk) == STORE_OK &&
	      bulk == ctr % BULK_MOD;
	ok &= store_foreach(st, "bulk", bulk_check, &ctr) == 0;
	return ok;
}

/* The autocommitted write after each report: never ahead of the counter,
 * never behind a value that was followed by another commit, never lost. */
static int solo_sound(struct store *st, uint32_t ctr, uint32_t min,
		      uint32_t *solo)
{
	int r = get_u32(st, "solo", solo);

	if (r == STORE_NOT_FOUND)
		*solo = 0;
	else if (r != STORE_OK)
		return 0;
	return *solo >= min && *solo <= ctr;
}

/* Reads every counter the child reported; returns the last one, or 0. */
static uint32_t drain(int rfd, int *reports)
{
	uint32_t v, last = 0;

	*reports = 0;
	while (read(rfd, &v, sizeof(v)) == (ssize_t)sizeof(v)) {
		last = v;
		(*reports)++;
	}
	return last;
}

static void remove_state(const char *path)
{
	static const char *const sfx[] = { "", "-wal", "-shm" };
	char p[600];

	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
		if (unlink(p) != 0 && errno != ENOENT)
			perror(p);
	}
}

struct tally {
	uint32_t prev;    /* counter verified after the previous kill */
	uint32_t solo;    /* and the autocommitted record */
	long commits;     /* transactions the children reported */
	int early_kills;  /* children killed before their first commit */
};

/* One fork, write, kill, reopen, verify round. Returns 0 when sound. */
static int one_round(const char *path, int fresh, struct tally *t)
{
	struct store *st = NULL;
	char err[512];
	uint32_t last, ctr = 0, lo, solo = 0, solo_min;
	int fds[2], status = 0, reports;
	pid_t child;

	if (fresh) {
		remove_state(path);
		t->prev = 0;
		t->solo = 0;
	}
	if (pipe(fds) != 0)
		return -1;
	fflush(NULL);
	child = fork();
	if (child == 0) {
		close(fds[0]);
		child_run(path, fds[1]);
	}
	close(fds[1]);
	usleep((useconds_t)(rand() % (MAX_DELAY_US + 1)));
	kill(child, SIGKILL);
	waitpid(child, &status, 0);
	last = drain(fds[0], &reports);
	close(fds[0]);
	if (!WIFSIGNALED(status)) {
		fprintf(stderr, "child exited by itself: status %d\n", status);
		return -1;
	}
	if (store_open(&st, path, NULL, err, sizeof(err)) != STORE_OK) {
		fprintf(stderr, "reopen after kill: %s\n", err);
		return -1;
	}
	lo = reports > 0 ? last : t->prev;
	/* A second report proves the solo write before it completed. */
	solo_min = reports >= 2 ? last - 1 : t->solo;
	if (get_u32(st, "ctr", &ctr) == STORE_CORRUPT || ctr < lo ||
	    ctr > lo + 1 || !consistent(st, ctr) ||
	    !solo_sound(st, ctr, solo_min, &solo)) {
		fprintf(stderr, "after kill: counter %u solo %u, child "
			"reported %u (%d reports), before %u solo %u\n", ctr,
			solo, last, reports, t->prev, t->solo);
		store_close(st);
		return -1;
	}
	t->commits += reports;
	t->early_kills += reports == 0;
	t->prev = ctr;
	t->solo = solo;
	store_close(st);
	return 0;
}

static unsigned int pick_seed(void)
{
	const char *env = getenv("VKEY_CRASH_SEED");
	unsigned int seed = (unsigned int)time(NULL) ^ (unsigned int)getpid();
	int fd;

	if (env != NULL)
		return (unsigned int)strtoul(env, NULL, 0);
	fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (read(fd, &seed, sizeof(seed)) != (ssize_t)sizeof(seed))
			seed ^= 0x5eed;
		close(fd);
	}
	return seed;
}

static void survives_random_kills(void)
{
	const char *env = getenv("VKEY_CRASH_ITERS");
	int iters = env != NULL ? atoi(env) : DEFAULT_ITERATIONS;
	unsigned int seed = pick_seed();
	struct tally t = { 0 };
	struct timespec t0, t1;
	char path[512];
	int i;

	snprintf(path, sizeof(path), "%s/crash.db", base);
	fprintf(stderr, "seed %u (VKEY_CRASH_SEED to repeat), %d rounds\n",
		seed, iters);
	srand(seed);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < iters; i++) {
		if (one_round(path, i % FRESH_EVERY == 0, &t) != 0) {
			fprintf(stderr, "round %d failed (seed %u)\n", i, seed);
			check_failures++;
			break;
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr, "%d rounds in %.1f s: %ld commits seen, %d kills "
		"before the first commit\n", i,
		(double)(t1.tv_sec - t0.tv_sec) +
			(double)(t1.tv_nsec - t0.tv_nsec) / 1e9,
		t.commits, t.early_kills);
	CHECK_EQ(i, iters);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");
	char cmd[300];

	snprintf(base, sizeof(base), "%s/vkey-crash-XXXXXX",
		 tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	RUN(survives_random_kills);
	if (check_failures == 0) {
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", base);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", base);
	} else {
		fprintf(stderr, "files kept in %s\n", base);
	}
	return CHECK_DONE();
}
