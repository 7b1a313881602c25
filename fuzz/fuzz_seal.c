/* Fuzz target for sealed state files: any bytes on disk, opened with the
 * passphrase the seeds were sealed under, must be refused with a
 * sentence naming the file, or opened and used, never crash. The seeds
 * are sealed files (cheap scrypt), so mutations reach the sealing rows of
 * meta (KDF parameters, salt, check value), the sealed device secret and
 * sealed record values. Each input also takes vkey import's path: opened
 * read-only as a backup and copied into a new file. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "services/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

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
	const uint8_t *secret = store_device_secret(st);
	unsigned int sum = store_serial(st);
	uint8_t *v = NULL;
	size_t n = 0;

	for (size_t i = 0; i < STORE_DEVICE_SECRET_LEN; i++)
		sum += secret[i];
	store_foreach(st, "t", visit, &sum);
	if (store_get(st, "t", "secret", 6, &v, &n) == STORE_OK)
		visit(&sum, v, n, v, n);
	store_free_value(v, n);
	if (store_begin(st) == STORE_OK) {
		store_put(st, "t", "k", 1, &sum, sizeof(sum));
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

/* vkey import's path: the file opened read-only as a backup, then
 * copied into a new file (in clear: no second key derivation). */
static void import_copy(const char *path, const struct store_seal *seal)
{
	struct store *st = NULL;
	char copy[4200], err[1024];
	int r = store_open_readonly(&st, path, seal, err, sizeof(err));

	if (r != STORE_OK) {
		if (st != NULL || strstr(err, path) == NULL) {
			fprintf(stderr, "store_open_readonly %d: \"%s\"\n", r,
				err);
			abort();
		}
		return;
	}
	snprintf(copy, sizeof(copy), "%s.copy", path);
	r = store_copy_to(st, copy, NULL, 0, err, sizeof(err));
	if (r != STORE_OK && access(copy, F_OK) == 0) {
		fprintf(stderr, "store_copy_to %d left a file: \"%s\"\n", r,
			err);
		abort();
	}
	store_close(st);
	remove_all(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char pass[] = "fuzz passphrase";
	struct store_seal seal = { (const uint8_t *)pass, sizeof(pass) - 1,
				   0 };
	const char *dir = getenv("TMPDIR");
	struct store *st = NULL;
	char path[4096], err[1024];
	int fd, r;

	snprintf(path, sizeof(path), "%s/vkey-fuzz-seal-XXXXXX",
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
	import_copy(path, &seal);
	r = store_open_sealed(&st, path, NULL, &seal, err, sizeof(err));
	if (r == STORE_OK) {
		exercise(st);
		store_close(st);
	} else if (st != NULL || strstr(err, path) == NULL) {
		fprintf(stderr, "store_open_sealed %d: \"%s\"\n", r, err);
		abort();
	}
	remove_all(path);
	return 0;
}
