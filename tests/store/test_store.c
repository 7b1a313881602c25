/* Unit tests of the state file service: creation, records, transactions,
 * the exclusive lock, and refusal of files that are not ours or damaged. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <sqlite3.h> /* only to craft foreign and future files */

#include "../check.h"
#include "services/store.h"

static char base[256];

static const char *tpath(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", base, name);
	return buf;
}

static uint8_t *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	*len = 0;
	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf != NULL && fread(buf, 1, (size_t)n, f) == (size_t)n) {
			*len = (size_t)n;
		} else {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

static int spit(const char *path, const void *data, size_t len)
{
	FILE *f = fopen(path, "wb");
	int r = -1;

	if (f == NULL)
		return -1;
	if (len == 0 || fwrite(data, 1, len, f) == len)
		r = 0;
	if (fclose(f) != 0)
		r = -1;
	return r;
}

static int same_bytes(const char *path, const uint8_t *want, size_t len)
{
	size_t n;
	uint8_t *got = slurp(path, &n);
	int same = got != NULL && n == len && memcmp(got, want, len) == 0;

	free(got);
	return same;
}

/* A closed, valid state file with n records of size bytes in "t". */
static void make_store(const char *path, int n, size_t size)
{
	struct store *st = NULL;
	uint8_t *val = calloc(1, size + 1);
	char err[256];

	CHECK_EQ(store_open(&st, path, NULL, err, sizeof(err)), STORE_OK);
	for (int i = 0; st != NULL && i < n; i++) {
		memset(val, 'a' + i % 26, size);
		CHECK_EQ(store_put(st, "t", &i, sizeof(i), val, size), STORE_OK);
	}
	store_close(st);
	free(val);
}

/* store_open must fail with want, name the file, and leave it as it was. */
static void refused_unchanged(const char *path, int want)
{
	struct store *st = NULL;
	char err[512], wal[600];
	size_t len;
	uint8_t *before = slurp(path, &len);

	CHECK(before != NULL);
	CHECK_EQ(store_open(&st, path, NULL, err, sizeof(err)), want);
	CHECK(st == NULL);
	CHECK(strstr(err, path) != NULL);
	if (before != NULL)
		CHECK(same_bytes(path, before, len));
	/* Twice: the first refusal left nothing that changes the second. */
	CHECK_EQ(store_open(&st, path, NULL, err, sizeof(err)), want);
	if (before != NULL)
		CHECK(same_bytes(path, before, len));
	free(before);
	/* Nor a log that a later open would fold into the file. */
	snprintf(wal, sizeof(wal), "%s-wal", path);
	CHECK(access(wal, F_OK) != 0);
}

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != 0)
			return 0;
	return 1;
}

static void create_makes_0600_file_in_new_0700_dir(void)
{
	char p[512], d[512], l[512];
	struct store *st = NULL;
	struct stat sb;

	tpath(d, sizeof(d), "new/sub");
	tpath(p, sizeof(p), "new/sub/key.db");
	tpath(l, sizeof(l), "new/sub/key.db.lock");
	CHECK_EQ(store_open(&st, p, NULL, NULL, 0), STORE_OK);
	CHECK(stat(p, &sb) == 0 && (sb.st_mode & 07777) == 0600);
	CHECK(stat(l, &sb) == 0 && (sb.st_mode & 07777) == 0600);
	CHECK(stat(d, &sb) == 0 && (sb.st_mode & 07777) == 0700);
	CHECK(strcmp(store_path(st), p) == 0);
	store_close(st);
}

static void fresh_stores_have_distinct_nonzero_identities(void)
{
	char p1[512], p2[512];
	struct store *a = NULL, *b = NULL;

	CHECK_EQ(store_open(&a, tpath(p1, sizeof(p1), "id1.db"), NULL, NULL,
			    0), STORE_OK);
	CHECK_EQ(store_open(&b, tpath(p2, sizeof(p2), "id2.db"), NULL, NULL,
			    0), STORE_OK);
	if (a == NULL || b == NULL)
		goto out;
	CHECK(store_serial(a) != 0 && store_serial(a) < 1000000000u);
	CHECK(store_serial(b) != 0 && store_serial(b) < 1000000000u);
	CHECK(store_serial(a) != store_serial(b));
	CHECK(!all_zero(store_device_secret(a), STORE_DEVICE_SECRET_LEN));
	CHECK(!all_zero(store_device_secret(b), STORE_DEVICE_SECRET_LEN));
	CHECK(memcmp(store_device_secret(a), store_device_secret(b),
		     STORE_DEVICE_SECRET_LEN) != 0);
out:
	store_close(a);
	store_close(b);
}

static void reopen_keeps_records_and_identity(void)
{
	char p[512];
	struct store *st = NULL;
	uint8_t secret[STORE_DEVICE_SECRET_LEN], *v = NULL;
	uint32_t serial;
	size_t n = 0;

	tpath(p, sizeof(p), "reopen.db");
	CHECK_EQ(store_open(&st, p, NULL, NULL, 0), STORE_OK);
	if (st == NULL)
		return;
	serial = store_serial(st);
	memcpy(secret, store_device_secret(st), sizeof(secret));
	CHECK_EQ(store_put(st, "ns", "k", 1, "value", 5), STORE_OK);
	store_close(st);
	st = NULL;
	CHECK_EQ(store_open(&st, p, NULL, NULL, 0), STORE_OK);
	if (st == NULL)
		return;
	CHECK_EQ(store_serial(st), serial);
	CHECK_MEM(store_device_secret(st), secret, sizeof(secret));
	CHECK_EQ(store_get(st, "ns", "k", 1, &v, &n), STORE_OK);
	CHECK(n == 5 && v != NULL && memcmp(v, "value", 5) == 0);
	store_free_value(v, n);
	store_close(st);
}

static void put_get_overwrite_del(void)
{
	char p[512];
	struct store *st = NULL;
	uint8_t *v = NULL;
	size_t n = 0;

	CHECK_EQ(store_open(&st, tpath(p, sizeof(p), "rec.db"), NULL, NULL,
			    0), STORE_OK);
	if (st == NULL)
		return;
	CHECK_EQ(store_put(st, "a", "key", 3, "one", 3), STORE_OK);
	CHECK_EQ(store_put(st, "a", "key", 3, "second", 6), STORE_OK);
	CHECK_EQ(store_get(st, "a", "key", 3, &v, &n), STORE_OK);
	CHECK(n == 6 && v != NULL && memcmp(v, "second", 6) == 0);
	store_free_value(v, n);
	CHECK_EQ(store_del(st, "a", "key", 3), STORE_OK);
	CHECK_EQ(store_get(st, "a", "key", 3, &v, &n), STORE_NOT_FOUND);
	CHECK(v == NULL && n == 0);
	CHECK_EQ(store_del(st, "a", "key", 3), STORE_NOT_FOUND);
	/* Keys are bytes: a prefix or a NUL-extended key is another key. */
	CHECK_EQ(store_put(st, "a", "k\0", 2, "x", 1), STORE_OK);
	CHECK_EQ(store_get(st, "a", "k", 1, &v, &n), STORE_NOT_FOUND);
	store_close(st);
}

static void empty_key_and_value_round_trip(void)
{
	char p[512];
	struct store *st = NULL;
	uint8_t *v = NULL;
	size_t n = 99;

	CHECK_EQ(store_open(&st, tpath(p, sizeof(p), "empty.db"), NULL, NULL,
			    0), STORE_OK);
	if (st == NULL)
		return;
	CHECK_EQ(store_put(st, "e", NULL, 0, NULL, 0), STORE_OK);
	CHECK_EQ(store_get(st, "e", NULL, 0, &v, &n), STORE_OK);
	CHECK(v != NULL && n == 0);
	store_free_value(v, n);
	CHECK_EQ(store_del(st, "e", NULL, 0), STORE_OK);
	store_close(st);
}

static void largest_record_round_trips(void)
{
	char p[512];
	struct store *st = NULL;
	uint8_t key[1024], *val = malloc(1024 * 1024), *v = NULL;
	size_t n = 0;

	CHECK_EQ(store_open(&st, tpath(p, sizeof(p), "big.db"), NULL, NULL,
			    0), STORE_OK);
	if (st == NULL || val == NULL)
		goto out;
	memset(key, 0xab, sizeof(key));
	for (size_t i = 0; i < 1024 * 1024; i++)
		val[i] = (uint8_t)(i * 7);
	CHECK_EQ(store_put(st, "big", key, sizeof(key), val, 1024 * 1024),
		 STORE_OK);
	CHECK_EQ(store_get(st, "big", key, sizeof(key), &v, &n), STORE_OK);
	CHECK(n == 1024 * 1024 && v != NULL && memcmp(v, val, n) == 0);
	store_free_value(v, n);
out:
	free(val);
	store_close(st);
}

static void namespaces_are_separate_and_counted(void)
{
	char p[512];
	struct store *st = NULL;
	size_t n = 99;

	CHECK_EQ(store_open(&st, tpath(p, sizeof(p), "ns.db"), NULL, NULL, 0),
		 STORE_OK);
	if (st == NULL)
		return;
	CHECK_EQ(store_count(st, "x", &n), STORE_OK);
	CHECK_EQ(n, 0);
	CHECK_EQ(store_put(st, "x", "1", 1, "a", 1), STORE_OK);
	CHECK_EQ(store_put(st, "x", "2", 1, "b", 1), STORE_OK);
	CHECK_EQ(store_put(st, "y", "1", 1, "c", 1), STORE_OK);
	CHECK_EQ(store_count(st, "x", &n), STORE_OK);
	CHECK_EQ(n, 2);
	CHECK_EQ(store_count(st, "y", &n), STORE_OK);
	CHECK_EQ(n, 1);
	store_close(st);
}

struct walk_log {
	char keys[16];
	size_t n;
	size_t stop_after;
};

static int log_key(void *arg, const uint8_t *key, size_t key_len,
		   const uint8_t *val, size_t val_len)
{
	struct walk_log *w = arg;

	if (key_len != 1 || val_len != 1 || key[0] != val[0] ||
	    w->n >= sizeof(w->keys))
		return -100;
	w->keys[w->n++] = (char)key[0];
	return w->n == w->stop_after ? 42 : 0;
}

static void foreach_walks_in_key_order(void)
{
	char p[512];
	struct store *st = NULL;
	struct walk_log w = { .stop_after = 0 };

	CHECK_EQ(store_open(&st, tpath(p, sizeof(p), "walk.db"), NULL, NULL,
			    0), STORE_OK);
	if (st == NULL)
		return;
	CHECK_EQ(store_put(st, "w", "c", 1, "c", 1), STORE_OK);
	CHECK_EQ(store_put(st, "w", "a", 1, "a", 1), STORE_OK);
	CHECK_EQ(store_put(st, "w", "b", 1, "b", 1), STORE_OK);
	CHECK_EQ(store_put(st, "other", "z", 1, "z", 1), STORE_OK);
	CHECK_EQ(store_foreach(st, "w", log_key, &w), 0);
	CHECK(w.n == 3 && memcmp(w.keys, "abc", 3) == 0);
	store_close(st);
}

static int count_record(void *arg, const uint8_t *key, size_t key_len,
			const uint8_t *val, size_t val_len)
{
	(void)key;
	(void)key_len;
	(void)val;
	(void)val_len;
	((struct walk_log *)arg)->n++;
	return 0;
}

static void foreach_prefix_walks_only_matching_keys(void)
{
	char p[512];
	struct store *st = NULL;
	struct walk_log w = { .stop_after = 0 };
	static const uint8_t bin[] = { 'x', 0x00, 0xFF };
	static const uint8_t ff[] = { 'x', 0xFF };
	static const uint8_t ff_more[] = { 'x', 0xFF, 0x01 };

	CHECK_EQ(store_open(&st, tpath(p, sizeof(p), "prefix.db"), NULL,
			    NULL, 0), STORE_OK);
	if (st == NULL)
		return;
	CHECK_EQ(store_put(st, "w", "ab", 2, "1", 1), STORE_OK);
	CHECK_EQ(store_put(st, "w", "b", 1, "2", 1), STORE_OK);
	CHECK_EQ(store_put(st, "w", "aa", 2, "3", 1), STORE_OK);
	CHECK_EQ(store_put(st, "w", "a", 1, "4", 1), STORE_OK);
	CHECK_EQ(store_put(st, "w", bin, 3, "5", 1), STORE_OK);
	CHECK_EQ(store_put(st, "other", "az", 2, "6", 1), STORE_OK);
	CHECK_EQ(store_put(st, "w", ff_more, 3, "7", 1), STORE_OK);
	CHECK_EQ(store_put(st, "w", "y", 1, "8", 1), STORE_OK);
	CHECK_EQ(store_foreach_prefix(st, "w", "a", 1, count_record, &w), 0);
	CHECK_EQ(w.n, 3);
	w.n = 0;
	CHECK_EQ(store_foreach_prefix(st, "w", bin, 2, count_record, &w), 0);
	CHECK_EQ(w.n, 1);
	w.n = 0;
	CHECK_EQ(store_foreach_prefix(st, "w", NULL, 0, count_record, &w), 0);
	CHECK_EQ(w.n, 7);
	w.n = 0;
	/* A prefix ending in FF: the range must not stop early or run on. */
	CHECK_EQ(store_foreach_prefix(st, "w", ff, 2, count_record, &w), 0);
	CHECK_EQ(w.n, 1);
	w.n = 0;
	CHECK_EQ(store_foreach_prefix(st, "w", "x", 1, count_record, &w), 0);
	CHECK_EQ(w.n, 2);
	w.n = 0;
	CHECK_EQ(store_foreach_prefix(st, "w", "c", 1, count_record, &w), 0);
	CHECK_EQ(w.n, 0);
	store_close(st);
}

static void foreach_stop_value_is_returned(void)
{
	char p[512];
	struct store *st = NULL;
	struct walk_log w = { .stop_after = 2 };

	CHECK_EQ(store_open(&st, tpath(p, sizeof(p), "stop.db"), NULL, NULL,
			    0), STORE_OK);
	if (st == NULL)
		return;
	for (char c = 'a'; c <= 'e'; c++)
		CHECK_EQ(store_put(st, "w", &c, 1, &c, 1), STORE_OK);
	CHECK_EQ(store_foreach(st, "w", log_key, &w), 42);
	CHECK_EQ(w.n, 2);
	store_close(st);
}

static void clear_empties_only_its_namespace(void)
{
	char p[512];
	struct store *st = NULL;
	size_t n = 99;

	CHECK_EQ(store_open(&st, tpath(p, sizeof(p), "clear.db"), NULL, NULL,
			    0), STORE_OK);
	if (st == NULL)
		return;
	CHECK_EQ(store_put(st, "gone", "1", 1, "a", 1), STORE_OK);
	CHECK_EQ(store_put(st, "gone", "2", 1, "b", 1), STORE_OK);
	CHECK_EQ(store_put(st, "kept", "1", 1, "c", 1), STORE_OK);
	CHECK_EQ(store_clear(st, "gone"), STORE_OK);
	CHECK_EQ(store_count(st, "gone", &n), STORE_OK);
	CHECK_EQ(n, 0);
	CHECK_EQ(store_count(st, "kept", &n), STORE_OK);
	CHECK_EQ(n, 1);
	CHECK_EQ(store_clear(st, "never"), STORE_OK);
	store_close(st);
}

static void commit_keeps_every_change(void)
{
	char p[512];
	struct store *st = NULL;
	size_t n = 0;

	tpath(p, sizeof(p), "commit.db");
	CHECK_EQ(store_open(&st, p, NULL, NULL, 0), STORE_OK);
	if (st == NULL)
		return;
	CHECK_EQ(store_put(st, "t", "old", 3, "x", 1), STORE_OK);
	CHECK_EQ(store_begin(st), STORE_OK);
	CHECK_EQ(store_put(st, "t", "1", 1, "a", 1), STORE_OK);
	CHECK_EQ(store_put(st, "t", "2", 1, "b", 1), STORE_OK);
	CHECK_EQ(store_del(st, "t", "old", 3), STORE_OK);
	CHECK_EQ(store_count(st, "t", &n), STORE_OK); /* sees its own work */
	CHECK_EQ(n, 2);
	CHECK_EQ(store_commit(st), STORE_OK);
	store_close(st);
	st = NULL;
	CHECK_EQ(store_open(&st, p, NULL, NULL, 0), STORE_OK);
	if (st == NULL)
		return;
	CHECK_EQ(store_count(st, "t", &n), STORE_OK);
	CHECK_EQ(n, 2);
	store_close(st);
}

static void rollback_discards_every_change(void)
{
	char p[512];
	struct store *st = NULL;
	uint8_t *v = NULL;
	size_t n = 0;

	CHECK_EQ(store_open(&st, tpath(p, sizeof(p), "rollback.db"), NULL,
			    NULL, 0), STORE_OK);
	if (st == NULL)
		return;
	CHECK_EQ(store_put(st, "t", "keep", 4, "x", 1), STORE_OK);
	CHECK_EQ(store_begin(st), STORE_OK);
	CHECK_EQ(store_put(st, "t", "1", 1, "a", 1), STORE_OK);
	CHECK_EQ(store_put(st, "t", "keep", 4, "changed", 7), STORE_OK);
	CHECK_EQ(store_clear(st, "t"), STORE_OK);
	store_rollback(st);
	CHECK_EQ(store_count(st, "t", &n), STORE_OK);
	CHECK_EQ(n, 1);
	CHECK_EQ(store_get(st, "t", "keep", 4, &v, &n), STORE_OK);
	CHECK(n == 1 && v != NULL && v[0] == 'x');
	store_free_value(v, n);
	store_close(st);
}

static void begin_is_not_nestable_and_commit_needs_begin(void)
{
	char p[512];
	struct store *st = NULL;

	CHECK_EQ(store_open(&st, tpath(p, sizeof(p), "nest.db"), NULL, NULL,
			    0), STORE_OK);
	if (st == NULL)
		return;
	CHECK_EQ(store_commit(st), STORE_INVALID);
	store_rollback(st); /* harmless without a transaction */
	CHECK_EQ(store_begin(st), STORE_OK);
	CHECK_EQ(store_begin(st), STORE_INVALID);
	CHECK_EQ(store_put(st, "t", "1", 1, "a", 1), STORE_OK);
	CHECK_EQ(store_commit(st), STORE_OK);
	CHECK_EQ(store_commit(st), STORE_INVALID);
	store_close(st);
}

static void close_rolls_back_an_open_transaction(void)
{
	char p[512];
	struct store *st = NULL;
	size_t n = 99;

	tpath(p, sizeof(p), "closetxn.db");
	CHECK_EQ(store_open(&st, p, NULL, NULL, 0), STORE_OK);
	if (st == NULL)
		return;
	CHECK_EQ(store_begin(st), STORE_OK);
	CHECK_EQ(store_put(st, "t", "1", 1, "a", 1), STORE_OK);
	store_close(st);
	st = NULL;
	CHECK_EQ(store_open(&st, p, NULL, NULL, 0), STORE_OK);
	if (st == NULL)
		return;
	CHECK_EQ(store_count(st, "t", &n), STORE_OK);
	CHECK_EQ(n, 0);
	store_close(st);
}

static void lock_file_names_the_holder(void)
{
	char p[512], l[512], want[700];
	struct store *st = NULL;
	uint8_t *text;
	size_t n;

	tpath(p, sizeof(p), "holder.db");
	tpath(l, sizeof(l), "holder.db.lock");
	CHECK_EQ(store_open(&st, p, "/run/ctl.sock", NULL, 0), STORE_OK);
	snprintf(want, sizeof(want), "pid=%ld\nctl=/run/ctl.sock\n",
		 (long)getpid());
	text = slurp(l, &n);
	CHECK(text != NULL && n == strlen(want) && memcmp(text, want, n) == 0);
	free(text);
	store_close(st);
}

static void second_open_in_same_process_is_locked(void)
{
	char p[512], pid[32], err[512];
	struct store *a = NULL, *b = NULL;

	tpath(p, sizeof(p), "twice.db");
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	CHECK_EQ(store_open(&a, p, "/x/ctl", NULL, 0), STORE_OK);
	CHECK_EQ(store_open(&b, p, NULL, err, sizeof(err)), STORE_LOCKED);
	CHECK(b == NULL);
	CHECK(strstr(err, p) != NULL);
	CHECK(strstr(err, pid) != NULL);
	store_close(a);
	/* Released on close, and the refused opener took nothing. */
	CHECK_EQ(store_open(&b, p, NULL, err, sizeof(err)), STORE_OK);
	store_close(b);
}

static void second_open_from_other_process_is_locked(void)
{
	char p[512], want[700];
	struct store *st = NULL;
	int status = 0;
	pid_t child;

	tpath(p, sizeof(p), "other.db");
	CHECK_EQ(store_open(&st, p, "/run/vkey/other.ctl", NULL, 0),
		 STORE_OK);
	snprintf(want, sizeof(want), "state file %s is in use by process %ld "
		 "(control socket /run/vkey/other.ctl)", p, (long)getpid());
	fflush(NULL);
	child = fork();
	if (child == 0) {
		struct store *mine = NULL;
		char err[512];
		int r = store_open(&mine, p, NULL, err, sizeof(err));

		if (r == STORE_LOCKED && strcmp(err, want) != 0)
			fprintf(stderr, "child got: %s\n", err);
		_exit(r == STORE_LOCKED && strcmp(err, want) == 0 ? 0 : 1);
	}
	CHECK(child > 0 && waitpid(child, &status, 0) == child);
	CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	store_close(st);
}

static void lock_released_when_holder_dies(void)
{
	char p[512], c;
	struct store *st = NULL;
	int fds[2], status;
	pid_t child;

	tpath(p, sizeof(p), "dies.db");
	CHECK(pipe(fds) == 0);
	fflush(NULL);
	child = fork();
	if (child == 0) {
		struct store *mine = NULL;
		int r = store_open(&mine, p, NULL, NULL, 0);

		if (write(fds[1], r == STORE_OK ? "y" : "n", 1) != 1)
			_exit(1);
		pause();
		_exit(1);
	}
	close(fds[1]);
	CHECK(read(fds[0], &c, 1) == 1 && c == 'y');
	CHECK_EQ(store_open(&st, p, NULL, NULL, 0), STORE_LOCKED);
	kill(child, SIGKILL);
	CHECK(waitpid(child, &status, 0) == child);
	close(fds[0]);
	CHECK_EQ(store_open(&st, p, NULL, NULL, 0), STORE_OK);
	store_close(st);
}

static void two_stores_in_one_process_are_independent(void)
{
	char p1[512], p2[512];
	struct store *a = NULL, *b = NULL;
	size_t n = 99;

	CHECK_EQ(store_open(&a, tpath(p1, sizeof(p1), "twoa.db"), NULL, NULL,
			    0), STORE_OK);
	CHECK_EQ(store_open(&b, tpath(p2, sizeof(p2), "twob.db"), NULL, NULL,
			    0), STORE_OK);
	if (a == NULL || b == NULL)
		goto out;
	CHECK_EQ(store_begin(a), STORE_OK);
	CHECK_EQ(store_put(a, "t", "1", 1, "a", 1), STORE_OK);
	CHECK_EQ(store_put(b, "t", "1", 1, "b", 1), STORE_OK);
	store_rollback(a);
	CHECK_EQ(store_count(a, "t", &n), STORE_OK);
	CHECK_EQ(n, 0);
	CHECK_EQ(store_count(b, "t", &n), STORE_OK);
	CHECK_EQ(n, 1);
out:
	store_close(a);
	store_close(b);
}

enum { THREADS = 4, THREAD_TXNS = 50 };

/* Read-modify-write in a transaction: lost updates would show if another
 * thread's calls could slip into it. */
static void *bump(void *arg)
{
	struct store *st = arg;

	for (int i = 0; i < THREAD_TXNS; i++) {
		uint8_t *v = NULL;
		size_t n = 0;
		uint32_t c = 0;

		if (store_begin(st) != STORE_OK)
			return "begin";
		if (store_get(st, "c", "n", 1, &v, &n) == STORE_OK &&
		    n == sizeof(c))
			memcpy(&c, v, sizeof(c));
		store_free_value(v, n);
		c++;
		if (store_put(st, "c", "n", 1, &c, sizeof(c)) != STORE_OK ||
		    store_commit(st) != STORE_OK)
			return "write";
	}
	return NULL;
}

static void transactions_from_threads_do_not_interleave(void)
{
	char p[512];
	struct store *st = NULL;
	pthread_t t[THREADS];
	uint8_t *v = NULL;
	uint32_t c = 0;
	size_t n = 0;

	CHECK_EQ(store_open(&st, tpath(p, sizeof(p), "threads.db"), NULL,
			    NULL, 0), STORE_OK);
	if (st == NULL)
		return;
	for (int i = 0; i < THREADS; i++)
		CHECK(pthread_create(&t[i], NULL, bump, st) == 0);
	for (int i = 0; i < THREADS; i++) {
		void *res = NULL;
		CHECK(pthread_join(t[i], &res) == 0 && res == NULL);
	}
	CHECK_EQ(store_get(st, "c", "n", 1, &v, &n), STORE_OK);
	if (v != NULL && n == sizeof(c))
		memcpy(&c, v, sizeof(c));
	CHECK_EQ(c, THREADS * THREAD_TXNS);
	store_free_value(v, n);
	store_close(st);
}

/* Disk full as SQLite meets it: a test VFS over the default one fails
 * every write with SQLITE_FULL (what ENOSPC becomes) while disk_full is
 * set. The store opens its files through the default VFS. */
static sqlite3_vfs *real_vfs;
static sqlite3_vfs full_vfs;
/* The unix VFS uses one method table for databases, another for logs. */
enum { IO_SETS = 4 };
static const sqlite3_io_methods *real_io[IO_SETS];
static sqlite3_io_methods full_io[IO_SETS];
static int disk_full;

static int full_write(sqlite3_file *f, const void *p, int n,
		      sqlite3_int64 off)
{
	for (int i = 0; i < IO_SETS; i++) {
		if (f->pMethods != &full_io[i])
			continue;
		if (disk_full)
			return SQLITE_FULL;
		return real_io[i]->xWrite(f, p, n, off);
	}
	return SQLITE_IOERR_WRITE;
}

static int full_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f,
		     int flags, int *out_flags)
{
	int rc = real_vfs->xOpen(real_vfs, name, f, flags, out_flags);

	(void)vfs;
	for (int i = 0; rc == SQLITE_OK && f->pMethods != NULL &&
			i < IO_SETS; i++) {
		if (real_io[i] == NULL) {
			real_io[i] = f->pMethods;
			full_io[i] = *f->pMethods;
			full_io[i].xWrite = full_write;
		}
		if (real_io[i] == f->pMethods) {
			f->pMethods = &full_io[i];
			break;
		}
	}
	return rc;
}

static int disk_full_case(struct store *st, const uint8_t *big)
{
	int r, step = 1;

	disk_full = 1;
	if (store_put(st, "t", "small", 5, "x", 1) != STORE_FULL)
		goto out;
	step++;
	/* Failing at commit: nothing of the transaction lands. */
	if (store_begin(st) != STORE_OK ||
	    store_put(st, "t", "txn", 3, "x", 1) != STORE_OK ||
	    store_commit(st) != STORE_FULL)
		goto out;
	step++;
	/* Failing inside (a cache spill): every later change of the
	 * transaction is refused too, and it cannot commit. */
	if (store_begin(st) != STORE_OK)
		goto out;
	r = STORE_OK;
	for (int i = 0; i < 4 && r == STORE_OK; i++)
		r = store_put(st, "t", &i, sizeof(i), big, 1024 * 1024);
	if (r != STORE_FULL ||
	    store_put(st, "t", "after", 5, "x", 1) != STORE_FULL ||
	    store_commit(st) != STORE_FULL)
		goto out;
	step++;
	disk_full = 0;
	if (store_put(st, "t", "later", 5, "x", 1) == STORE_OK)
		step = 0;
out:
	disk_full = 0;
	return step;
}

static void disk_full_is_store_full_and_commits_nothing(void)
{
	char p[512];
	struct store *st = NULL;
	uint8_t *big = calloc(1, 1024 * 1024);
	size_t n = 0;

	real_vfs = sqlite3_vfs_find(NULL);
	full_vfs = *real_vfs;
	full_vfs.zName = "vkey-test-full";
	full_vfs.xOpen = full_open;
	CHECK(big != NULL && sqlite3_vfs_register(&full_vfs, 1) == SQLITE_OK);
	tpath(p, sizeof(p), "full.db");
	CHECK_EQ(store_open(&st, p, NULL, NULL, 0), STORE_OK);
	if (st == NULL || big == NULL)
		goto out;
	CHECK_EQ(store_put(st, "t", "kept", 4, "yes", 3), STORE_OK);
	CHECK_EQ(disk_full_case(st, big), 0);
	store_close(st);
	st = NULL;
	CHECK_EQ(store_open(&st, p, NULL, NULL, 0), STORE_OK);
	if (st == NULL)
		goto out;
	CHECK_EQ(store_count(st, "t", &n), STORE_OK);
	CHECK_EQ(n, 2); /* "kept" and "later" */
out:
	store_close(st);
	sqlite3_vfs_register(real_vfs, 1);
	sqlite3_vfs_unregister(&full_vfs);
	free(big);
}

static void foreign_sqlite_file_is_corrupt_and_unchanged(void)
{
	char p[512], err[512];
	struct store *st = NULL;
	sqlite3 *db = NULL;

	tpath(p, sizeof(p), "foreign.db");
	CHECK(sqlite3_open(p, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "CREATE TABLE kv(ns, k, v);"
			   "INSERT INTO kv VALUES('a', 'b', 'c')", NULL, NULL,
			   NULL) == SQLITE_OK);
	sqlite3_close(db);
	refused_unchanged(p, STORE_CORRUPT);
	CHECK_EQ(store_open(&st, p, NULL, err, sizeof(err)), STORE_CORRUPT);
	CHECK(strstr(err, "not a vkey state file") != NULL);
}

static void garbage_file_is_corrupt_and_unchanged(void)
{
	char p[512];
	uint8_t junk[8192];

	for (size_t i = 0; i < sizeof(junk); i++)
		junk[i] = (uint8_t)(i * 131 + 7);
	tpath(p, sizeof(p), "garbage.db");
	CHECK(spit(p, junk, sizeof(junk)) == 0);
	refused_unchanged(p, STORE_CORRUPT);
	tpath(p, sizeof(p), "short.db");
	CHECK(spit(p, "x", 1) == 0);
	refused_unchanged(p, STORE_CORRUPT);
}

static void sqlite_magic_then_garbage_is_corrupt_and_unchanged(void)
{
	char p[512];
	uint8_t junk[8192];

	memset(junk, 0xee, sizeof(junk));
	memcpy(junk, "SQLite format 3", 16);
	tpath(p, sizeof(p), "magic.db");
	CHECK(spit(p, junk, sizeof(junk)) == 0);
	refused_unchanged(p, STORE_CORRUPT);
}

static void truncated_file_is_corrupt_and_unchanged(void)
{
	char p[512];
	struct stat sb;

	tpath(p, sizeof(p), "cut.db");
	make_store(p, 40, 2000);
	CHECK(stat(p, &sb) == 0 && sb.st_size > 8 * 4096);
	CHECK(truncate(p, sb.st_size / 2) == 0);
	refused_unchanged(p, STORE_CORRUPT);
}

static void damaged_page_is_corrupt_and_unchanged(void)
{
	char p[512];
	uint8_t junk[4096];
	int fd;

	tpath(p, sizeof(p), "damaged.db");
	make_store(p, 40, 2000);
	memset(junk, 0x5a, sizeof(junk));
	fd = open(p, O_WRONLY);
	CHECK(fd >= 0 && pwrite(fd, junk, sizeof(junk), 3 * 4096) == 4096);
	close(fd);
	refused_unchanged(p, STORE_CORRUPT);
}

static void empty_file_is_corrupt_and_unchanged(void)
{
	char p[512], err[512];
	struct store *st = NULL;
	struct stat sb;

	tpath(p, sizeof(p), "zero.db");
	CHECK(spit(p, "", 0) == 0);
	CHECK_EQ(store_open(&st, p, NULL, err, sizeof(err)), STORE_CORRUPT);
	CHECK(strstr(err, p) != NULL && strstr(err, "empty") != NULL);
	CHECK(stat(p, &sb) == 0 && sb.st_size == 0);
}

static void directory_at_path_is_refused(void)
{
	char p[512];
	struct store *st = NULL;

	tpath(p, sizeof(p), "adir.db");
	CHECK(mkdir(p, 0700) == 0);
	CHECK_EQ(store_open(&st, p, NULL, NULL, 0), STORE_CORRUPT);
}

static void future_schema_is_too_new(void)
{
	char p[512], err[512];
	struct store *st = NULL;
	sqlite3 *db = NULL;

	tpath(p, sizeof(p), "future.db");
	make_store(p, 1, 10);
	CHECK(sqlite3_open(p, &db) == SQLITE_OK);
	CHECK(sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL,
			   NULL) == SQLITE_OK);
	sqlite3_close(db);
	refused_unchanged(p, STORE_TOO_NEW);
	CHECK_EQ(store_open(&st, p, NULL, err, sizeof(err)), STORE_TOO_NEW);
	CHECK(strstr(err, "99") != NULL);
}

static void stale_init_leftovers_do_not_matter(void)
{
	char p[512], tmp[512], err[512];
	struct store *st = NULL;

	tpath(p, sizeof(p), "stale.db");
	tpath(tmp, sizeof(tmp), "stale.db.init");
	CHECK(spit(tmp, "half-made", 9) == 0);
	CHECK_EQ(store_open(&st, p, NULL, err, sizeof(err)), STORE_OK);
	CHECK(access(tmp, F_OK) != 0);
	store_close(st);
	st = NULL;
	/* Killed between naming the new file and dropping its temp name. */
	CHECK(link(p, tmp) == 0);
	CHECK_EQ(store_open(&st, p, NULL, err, sizeof(err)), STORE_OK);
	CHECK(access(tmp, F_OK) != 0);
	store_close(st);
}

static void uri_like_path_is_a_plain_file(void)
{
	char cwd[512];
	struct store *st = NULL;

	CHECK(getcwd(cwd, sizeof(cwd)) != NULL && chdir(base) == 0);
	CHECK_EQ(store_open(&st, "file:plain.db?mode=memory", NULL, NULL, 0),
		 STORE_OK);
	CHECK(access("file:plain.db?mode=memory", F_OK) == 0);
	store_close(st);
	CHECK(chdir(cwd) == 0);
}

static void oversize_arguments_are_invalid(void)
{
	char p[512], ns[80];
	struct store *st = NULL;
	uint8_t key[1025] = { 0 }, *val = calloc(1, 1024 * 1024 + 1);

	CHECK_EQ(store_open(&st, tpath(p, sizeof(p), "size.db"), NULL, NULL,
			    0), STORE_OK);
	if (st == NULL || val == NULL)
		goto out;
	CHECK_EQ(store_put(st, "s", key, 1025, "v", 1), STORE_INVALID);
	CHECK_EQ(store_put(st, "s", key, 1024, "v", 1), STORE_OK);
	CHECK_EQ(store_put(st, "s", "k", 1, val, 1024 * 1024 + 1),
		 STORE_INVALID);
	CHECK_EQ(store_put(st, "s", "k", 1, val, 1024 * 1024), STORE_OK);
	memset(ns, 'n', sizeof(ns) - 1);
	ns[sizeof(ns) - 1] = '\0';
	CHECK_EQ(store_put(st, ns, "k", 1, "v", 1), STORE_INVALID);
	CHECK_EQ(store_del(st, "s", key, 1025), STORE_INVALID);
out:
	free(val);
	store_close(st);
}

static void null_arguments_are_invalid(void)
{
	char p[512];
	struct store *st = NULL;
	uint8_t *v = NULL;
	size_t n = 0;

	CHECK_EQ(store_open(NULL, "x", NULL, NULL, 0), STORE_INVALID);
	CHECK_EQ(store_open(&st, NULL, NULL, NULL, 0), STORE_INVALID);
	CHECK_EQ(store_open(&st, "", NULL, NULL, 0), STORE_INVALID);
	CHECK_EQ(store_open(&st, tpath(p, sizeof(p), "ctl.db"), "a\nb", NULL,
			    0), STORE_INVALID);
	CHECK_EQ(store_open(&st, p, NULL, NULL, 0), STORE_OK);
	if (st == NULL)
		return;
	CHECK_EQ(store_put(st, NULL, "k", 1, "v", 1), STORE_INVALID);
	CHECK_EQ(store_put(st, "", "k", 1, "v", 1), STORE_INVALID);
	CHECK_EQ(store_put(st, "s", NULL, 1, "v", 1), STORE_INVALID);
	CHECK_EQ(store_put(st, "s", "k", 1, NULL, 1), STORE_INVALID);
	CHECK_EQ(store_get(st, "s", "k", 1, NULL, &n), STORE_INVALID);
	CHECK_EQ(store_get(st, "s", "k", 1, &v, NULL), STORE_INVALID);
	CHECK_EQ(store_count(st, "s", NULL), STORE_INVALID);
	CHECK_EQ(store_foreach(st, "s", NULL, NULL), STORE_INVALID);
	store_close(st);
}

static void strerror_names_every_code(void)
{
	static const int codes[] = {
		STORE_OK, STORE_NOT_FOUND, STORE_LOCKED, STORE_CORRUPT,
		STORE_IO, STORE_FULL, STORE_TOO_NEW, STORE_INVALID,
	};

	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		const char *s = store_strerror(codes[i]);
		CHECK(s != NULL && strcmp(s, store_strerror(-999)) != 0);
		for (size_t j = 0; j < i; j++)
			CHECK(strcmp(s, store_strerror(codes[j])) != 0);
	}
}

static void remove_tree(const char *dir)
{
	char cmd[600];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", dir);
}

int main(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(base, sizeof(base), "%s/vkey-store-XXXXXX",
		 tmp != NULL && *tmp != '\0' ? tmp : "/tmp");
	if (mkdtemp(base) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	RUN(create_makes_0600_file_in_new_0700_dir);
	RUN(fresh_stores_have_distinct_nonzero_identities);
	RUN(reopen_keeps_records_and_identity);
	RUN(put_get_overwrite_del);
	RUN(empty_key_and_value_round_trip);
	RUN(largest_record_round_trips);
	RUN(namespaces_are_separate_and_counted);
	RUN(foreach_walks_in_key_order);
	RUN(foreach_stop_value_is_returned);
	RUN(foreach_prefix_walks_only_matching_keys);
	RUN(clear_empties_only_its_namespace);
	RUN(commit_keeps_every_change);
	RUN(rollback_discards_every_change);
	RUN(begin_is_not_nestable_and_commit_needs_begin);
	RUN(close_rolls_back_an_open_transaction);
	RUN(lock_file_names_the_holder);
	RUN(second_open_in_same_process_is_locked);
	RUN(second_open_from_other_process_is_locked);
	RUN(lock_released_when_holder_dies);
	RUN(two_stores_in_one_process_are_independent);
	RUN(transactions_from_threads_do_not_interleave);
	RUN(disk_full_is_store_full_and_commits_nothing);
	RUN(foreign_sqlite_file_is_corrupt_and_unchanged);
	RUN(garbage_file_is_corrupt_and_unchanged);
	RUN(sqlite_magic_then_garbage_is_corrupt_and_unchanged);
	RUN(truncated_file_is_corrupt_and_unchanged);
	RUN(damaged_page_is_corrupt_and_unchanged);
	RUN(empty_file_is_corrupt_and_unchanged);
	RUN(directory_at_path_is_refused);
	RUN(future_schema_is_too_new);
	RUN(stale_init_leftovers_do_not_matter);
	RUN(uri_like_path_is_a_plain_file);
	RUN(oversize_arguments_are_invalid);
	RUN(null_arguments_are_invalid);
	RUN(strerror_names_every_code);
	if (check_failures == 0)
		remove_tree(base);
	else
		fprintf(stderr, "files kept in %s\n", base);
	return CHECK_DONE();
}
