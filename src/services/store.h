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
	STORE_SEALED = -8,     /* sealed: no or a wrong passphrase/key file */
	STORE_EXISTS = -9,     /* the file to create exists */
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

/* Sealing at rest: every record value and the device secret are stored
 * as AES-256-GCM under a key scrypt derives from the owner's secret (a
 * passphrase or a key file's bytes) and a random salt. The KDF
 * parameters, the salt and a key check value sit in meta in clear, as do
 * the serial, the schema version and the records' namespaces and keys. */
struct store_seal {
	const uint8_t *secret; /* passphrase or key file bytes */
	size_t len;            /* 1 .. STORE_SEAL_SECRET_MAX */
	/* scrypt cost N = 2^log2_n for a file sealed now; 0 = the default
	 * (STORE_SEAL_LOG2N). Lower values are for tests only. Opening reads
	 * the cost from the file. */
	unsigned log2_n;
};
#define STORE_SEAL_SECRET_MAX 65536
#define STORE_SEAL_LOG2N 17      /* N = 131072, r = 8: 128 MiB */
#define STORE_SEAL_LOG2N_MIN 10
#define STORE_SEAL_LOG2N_MAX 20

/* store_open for a sealed file (seal = its secret) or for one to create
 * sealed. seal NULL is store_open. A sealed file opened without seal or
 * with a wrong secret fails with STORE_SEALED, a seal given for a file
 * that is not sealed with STORE_INVALID, each with a sentence; nothing is
 * written then. A sealed record that fails its check (damaged or
 * altered) reads as STORE_CORRUPT; a walk hands it to its callback as an
 * empty value, which no record format accepts. */
int store_open_sealed(struct store **out, const char *path, const char *ctl,
		      const struct store_seal *seal, char *err,
		      size_t errlen);
/* 1 when st's file is sealed. */
int store_is_sealed(const struct store *st);
/* Seal st's file under next (add sealing or change the secret), or
 * remove sealing (next NULL): every value is rewritten in one
 * transaction, then the file is vacuumed and its log emptied so that no
 * old value stays in it. Not inside a transaction. On failure nothing
 * changed; err gets a sentence. */
int store_reseal(struct store *st, const struct store_seal *next, char *err,
		 size_t errlen);

/* Backups and migration (docs/SEALING.md). */

/* Open an existing state file read-only, without its lock: a backup,
 * which may sit on read-only media. Nothing is ever written to it (no
 * log, no schema migration); the store answers reads only. seal as for
 * store_open_sealed. */
int store_open_readonly(struct store **out, const char *path,
			const struct store_seal *seal, char *err,
			size_t errlen);
/* Copy st's key into a new state file at path: the serial, the device
 * secret and every record (each value opened under st's sealing and
 * sealed again under seal, or stored in clear when seal is NULL). The
 * copy is built in one transaction in a new 0600 file beside path that
 * takes path's name only when complete. path must not exist
 * (STORE_EXISTS) unless flags has STORE_COPY_REPLACE, and a file some
 * store holds is never replaced (STORE_LOCKED). A record of st that
 * fails its check stops the copy (STORE_CORRUPT, the namespace named).
 * On failure path is as it was; err gets a sentence either way. */
#define STORE_COPY_REPLACE 1u
int store_copy_to(struct store *st, const char *path,
		  const struct store_seal *seal, unsigned flags, char *err,
		  size_t errlen);

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
