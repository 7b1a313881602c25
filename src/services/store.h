/* The state file: one SQLite database per key. Only store.c includes
 * sqlite3.h. Every call is its own transaction unless wrapped in
 * store_begin/store_commit. The owning process holds an exclusive lock
 * on the file for as long as the store is open. */
#ifndef VKEY_STORE_H
#define VKEY_STORE_H

#include <stddef.h>
#include <stdint.h>

struct store;

enum store_err {
	STORE_OK = 0,
	STORE_NOT_FOUND = -1,  /* no such record */
	STORE_LOCKED = -2,     /* another process (or key) holds the file */
	STORE_CORRUPT = -3,    /* not a vkey state file, truncated or damaged */
	STORE_IO = -4,         /* the OS or SQLite failed */
	STORE_FULL = -5,       /* the disk (or file system quota) is full */
	STORE_TOO_NEW = -6,    /* schema newer than this build knows */
	STORE_INVALID = -7,    /* bad argument */
};

/* Limits on record namespaces, keys and values (bytes). */
#define STORE_MAX_NS 64
#define STORE_MAX_KEY 1024
#define STORE_MAX_VAL (1024 * 1024)

/* Size of the per-key device secret created at initialization. */
#define STORE_DEVICE_SECRET_LEN 32

/* Open path, creating and initializing it (mode 0600, parent directory
 * 0700) when it does not exist; take the lock; migrate the schema. ctl is
 * the control-socket path recorded for a second opener (may be NULL).
 * On failure returns an enum store_err and writes a full sentence that
 * names the file (and the holder, for STORE_LOCKED) into err. A file
 * that is not a valid state file is never modified. */
int store_open(struct store **out, const char *path, const char *ctl,
	       char *err, size_t errlen);
void store_close(struct store *st);

const char *store_path(const struct store *st);
uint32_t store_serial(const struct store *st);
/* The key's device secret (for deriving applet keys); never logged. */
const uint8_t *store_device_secret(const struct store *st);

/* Records live in namespaces (one or more per applet), keyed by bytes. */
/* *val is malloc'd; free it with store_free_value (which wipes it). */
int store_get(struct store *st, const char *ns, const void *key,
	      size_t key_len, uint8_t **val, size_t *val_len);
void store_free_value(uint8_t *val, size_t val_len);
/* store_get into the caller's buffer: STORE_CORRUPT when the value is
 * longer than cap (the applet's records have fixed bounds). */
int store_get_into(struct store *st, const char *ns, const void *key,
		   size_t key_len, uint8_t *buf, size_t cap, size_t *len);
int store_put(struct store *st, const char *ns, const void *key,
	      size_t key_len, const void *val, size_t val_len);
/* STORE_NOT_FOUND when there was nothing to delete. */
int store_del(struct store *st, const char *ns, const void *key,
	      size_t key_len);
int store_count(struct store *st, const char *ns, size_t *n);
/* Calls cb for each record of ns in key order; a non-zero return from cb
 * stops the walk and is returned. key and val are valid during the call
 * only. */
typedef int (*store_each_fn)(void *arg, const uint8_t *key, size_t key_len,
			     const uint8_t *val, size_t val_len);
int store_foreach(struct store *st, const char *ns, store_each_fn cb,
		  void *arg);
/* Like store_foreach, for the records whose key starts with prefix. */
int store_foreach_prefix(struct store *st, const char *ns,
			 const void *prefix, size_t prefix_len,
			 store_each_fn cb, void *arg);
/* Delete every record of ns (applet reset). */
int store_clear(struct store *st, const char *ns);
/* Clear a namespace but the records named in keep (at most
 * STORE_KEEP_MAX; absent ones are skipped): an applet's factory reset
 * that keeps its attestation key. Use inside a transaction. */
#define STORE_KEEP_MAX 4
struct store_key {
	const void *key;
	size_t len;
};
int store_clear_keeping(struct store *st, const char *ns,
			const struct store_key *keep, size_t n);

/* Group several changes into one transaction (not nestable). begin,
 * commit and rollback come from one thread; other threads block until
 * the transaction ends, so never hold one across a user-presence wait.
 * After one failed change the transaction can only roll back;
 * store_commit always ends it (a failed commit has rolled back). */
int store_begin(struct store *st);
int store_commit(struct store *st);
void store_rollback(struct store *st);

const char *store_strerror(int err);

#endif
