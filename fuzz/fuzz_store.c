/* Fuzz target for state loading: any bytes on disk as a state file must be
 * refused with a sentence naming the file, or opened and used, never
 * crash. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "services/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Touches every byte handed out, so the sanitizer sees any over-read. */
static int visit(void *arg, const uint8_t *key, size_t key_len,
		 const uint8_t *val, size_t val_len)
{
	unsigned int *sum = arg;

	for (size_t i = 0; i < key_len; i++)
		*sum += key[i];
	for (size_t i = 0; i < val_len; i++)
		*sum += val[i];
	return 0;
}

static void exercise(struct store *st)
{
	static const char *const spaces[] = { "crash", "t", "oath", "bulk" };
	const uint8_t *secret = store_device_secret(st);
	unsigned int sum = store_serial(st);
	uint8_t *v = NULL;
	size_t n = 0;

	for (size_t i = 0; i < STORE_DEVICE_SECRET_LEN; i++)
		sum += secret[i];
	for (size_t i = 0; i < sizeof(spaces) / sizeof(spaces[0]); i++) {
		store_count(st, spaces[i], &n);
		store_foreach(st, spaces[i], visit, &sum);
	}
	if (store_get(st, "crash", "ctr", 3, &v, &n) == STORE_OK)
		visit(&sum, v, n, v, n);
	store_free_value(v, n);
	/* A write, undone: the write path on whatever the file holds. */
	if (store_begin(st) == STORE_OK) {
		store_put(st, "fuzz", "k", 1, &sum, sizeof(sum));
		store_del(st, "crash", "ctr", 3);
		store_rollback(st);
	}
}

static void remove_all(const char *path)
{
	static const char *const sfx[] = {
		"", "-wal", "-shm", "-journal", ".lock", ".init",
		".init-journal",
	};
	char p[4200];

	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		snprintf(p, sizeof(p), "%s%s", path, sfx[i]);
		unlink(p);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *dir = getenv("TMPDIR");
	struct store *st = NULL;
	char path[4096], err[1024];
	int fd, r;

	snprintf(path, sizeof(path), "%s/vkey-fuzz-store-XXXXXX",
		 dir != NULL && *dir != '\0' ? dir : "/tmp");
	fd = mkstemp(path);
	if (fd < 0)
		return 0;
	if (size > 0 && write(fd, data, size) != (ssize_t)size) {
		close(fd);
		remove_all(path);
		return 0;
	}
	close(fd);
	r = store_open(&st, path, NULL, err, sizeof(err));
	if (r == STORE_OK) {
		exercise(st);
		store_close(st);
	} else if (st != NULL || strstr(err, path) == NULL) {
		/* The contract: no store, and a sentence naming the file. */
		fprintf(stderr, "store_open %d: \"%s\"\n", r, err);
		abort();
	}
	remove_all(path);
	return 0;
}
