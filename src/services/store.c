/* The state file: one SQLite database per key, held under an exclusive
 * lock, schema-versioned, initialized with fresh secrets from the OS RNG.
 * The only module that includes sqlite3.h. */
#include "services/store.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "core/log.h"
#include "services/crypto.h"

/* PRAGMA application_id of every vkey state file: "vkey" in ASCII. */
#define STORE_APP_ID 0x766b6579

/* Longest blob SQLite may hand us: a record plus slack. A crafted file
 * cannot make a read allocate more than this. */
#define STORE_MAX_BLOB (2 * 1024 * 1024)
/* Serials print as at most nine decimal digits. */
#define STORE_SERIAL_LIMIT 1000000000u
/* Bytes of a holder's lock file we read to name it. */
#define STORE_HOLDER_MAX 4608
#define STORE_BUSY_MS 2000

/* Bytes of the key that seals values (AES-256). */
#define SEAL_KEY_LEN_ 32

/* Migration n+1 takes the schema from user_version n to n+1. Append only:
 * a released entry is never edited. */
static const char *const migrations[] = {
	/* 1: the key's identity and the generic records table. */
	"CREATE TABLE meta(k TEXT PRIMARY KEY NOT NULL, v NOT NULL)"
	" WITHOUT ROWID;"
	"CREATE TABLE kv(ns TEXT NOT NULL, k BLOB NOT NULL, v BLOB NOT NULL,"
	" PRIMARY KEY(ns, k)) WITHOUT ROWID;",
};
#define STORE_SCHEMA_VERSION \
	((int)(sizeof(migrations) / sizeof(migrations[0])))

enum store_stmt {
	STMT_GET,
	STMT_PUT,
	STMT_DEL,
	STMT_COUNT,
	STMT_CLEAR,
	STMT_N,
};

static const char *const stmt_sql[STMT_N] = {
	[STMT_GET] = "SELECT v FROM kv WHERE ns = ?1 AND k = ?2",
	[STMT_PUT] = "INSERT OR REPLACE INTO kv(ns, k, v) VALUES(?1, ?2, ?3)",
	[STMT_DEL] = "DELETE FROM kv WHERE ns = ?1 AND k = ?2",
	[STMT_COUNT] = "SELECT count(*) FROM kv WHERE ns = ?1",
	[STMT_CLEAR] = "DELETE FROM kv WHERE ns = ?1",
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *stmt[STMT_N];
	/* Recursive, so that store_begin can keep it until commit: another
	 * thread's calls then wait instead of joining the transaction. */
	pthread_mutex_t mu;
	int lock_fd;
	bool in_txn;
	int txn_err; /* first failure inside the open transaction */
	uint32_t serial;
	uint8_t secret[STORE_DEVICE_SECRET_LEN];
	bool sealed;
	uint8_t seal_key[SEAL_KEY_LEN_]; /* while sealed; wiped on close */
	char path[];
};

/* Non-NULL pointer for empty blobs: binding NULL would store SQL NULL. */
static const uint8_t empty_blob[1];

static int set_err(char *err, size_t errlen, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int set_err(char *err, size_t errlen, int code, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return code;
}

/* The one place where SQLite's result codes become the store's. */
static int map_sqlite(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_OK:
	case SQLITE_DONE:
	case SQLITE_ROW:
		return STORE_OK;
	case SQLITE_FULL:
		return STORE_FULL;
	case SQLITE_CORRUPT:
	case SQLITE_NOTADB:
	case SQLITE_FORMAT:
		return STORE_CORRUPT;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return STORE_LOCKED;
	case SQLITE_TOOBIG:
		return STORE_INVALID;
	default:
		return STORE_IO;
	}
}

/* Builds "<path><suffix>" into buf; -1 when it does not fit. */
static int path_with(char *buf, size_t len, const char *path,
		     const char *suffix)
{
	int n = snprintf(buf, len, "%s%s", path, suffix);

	return n < 0 || (size_t)n >= len ? -1 : 0;
}

/* SQLite here is built with URI filenames on: keep "file:..." a path. */
static int sqlite_name(char *buf, size_t len, const char *path)
{
	if (strncmp(path, "file:", 5) == 0)
		return path_with(buf, len, "./", path);
	return path_with(buf, len, "", path);
}

/* --- parent directory and lock file ------------------------------------ */

/* mkdir -p of path's directory; directories we create are 0700. */
static int make_parents(const char *path, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	int r = STORE_OK;

	if (path_with(dir, sizeof(dir), "", path) != 0)
		return set_err(err, errlen, STORE_INVALID,
			       "state file path is too long");
	for (char *p = dir + 1; *p != '\0'; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (access(dir, F_OK) != 0 && mkdir(dir, 0700) != 0 &&
		    errno != EEXIST) {
			r = set_err(err, errlen, STORE_IO,
				    "cannot create directory %s for state "
				    "file %s: %s", dir, path, strerror(errno));
			goto out;
		}
		*p = '/';
	}
out:
	return r;
}

/* The holder's pid and control socket, from its lock file. */
struct holder {
	long pid; /* 0 when unknown */
	char ctl[PATH_MAX];
};

/* Parses "key=value" lines; unknown keys are skipped so that later
 * versions may add some. The first occurrence of a key wins. */
static void holder_parse(struct holder *h, const char *buf, size_t len)
{
	size_t off = 0;

	while (off < len) {
		const char *line = buf + off;
		const char *nl = memchr(line, '\n', len - off);
		size_t n = nl != NULL ? (size_t)(nl - line) : len - off;

		if (n > 4 && memcmp(line, "pid=", 4) == 0 && h->pid == 0) {
			char num[24];
			char *end;
			long v;

			if (n - 4 < sizeof(num)) {
				memcpy(num, line + 4, n - 4);
				num[n - 4] = '\0';
				v = strtol(num, &end, 10);
				if (*end == '\0' && v > 0)
					h->pid = v;
			}
		} else if (n > 4 && memcmp(line, "ctl=", 4) == 0 &&
			   h->ctl[0] == '\0' && n - 4 < sizeof(h->ctl)) {
			memcpy(h->ctl, line + 4, n - 4);
			h->ctl[n - 4] = '\0';
		}
		off += n + 1;
	}
}

static int locked_err(int fd, const char *path, char *err, size_t errlen)
{
	char buf[STORE_HOLDER_MAX];
	struct holder h = { 0 };
	ssize_t n = pread(fd, buf, sizeof(buf), 0);

	if (n > 0)
		holder_parse(&h, buf, (size_t)n);
	if (h.pid == 0)
		return set_err(err, errlen, STORE_LOCKED,
			       "state file %s is in use by another process",
			       path);
	if (h.pid == (long)getpid())
		return set_err(err, errlen, STORE_LOCKED,
			       "state file %s is already open in this process "
			       "(pid %ld)", path, h.pid);
	if (h.ctl[0] == '\0')
		return set_err(err, errlen, STORE_LOCKED,
			       "state file %s is in use by process %ld",
			       path, h.pid);
	return set_err(err, errlen, STORE_LOCKED,
		       "state file %s is in use by process %ld "
		       "(control socket %s)", path, h.pid, h.ctl);
}

/* Records who holds the lock. Written over the old text, then cut to
 * length, so a reader never sees an empty file between two holders. */
static int holder_write(int fd, const char *ctl)
{
	char buf[STORE_HOLDER_MAX];
	int n;

	if (ctl != NULL)
		n = snprintf(buf, sizeof(buf), "pid=%ld\nctl=%s\n",
			     (long)getpid(), ctl);
	else
		n = snprintf(buf, sizeof(buf), "pid=%ld\n", (long)getpid());
	if (n < 0 || (size_t)n >= sizeof(buf))
		return -1;
	if (pwrite(fd, buf, (size_t)n, 0) != n)
		return -1;
	return ftruncate(fd, n);
}

/* Takes the exclusive lock on "<path>.lock". An open-file-description
 * lock: it conflicts between two stores of one process too, and the
 * kernel drops it when the holder dies. The file is never unlinked, so
 * two openers always lock the same inode. */
static int lock_take(struct store *st, const char *ctl, char *err,
		     size_t errlen)
{
	char lpath[PATH_MAX];
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	int fd = -1, r;

	if (path_with(lpath, sizeof(lpath), st->path, ".lock") != 0) {
		r = set_err(err, errlen, STORE_INVALID,
			    "state file path is too long");
		goto out;
	}
	fd = open(lpath, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		r = set_err(err, errlen, STORE_IO, "cannot open lock file %s: %s",
			    lpath, strerror(errno));
		goto out;
	}
	if (fcntl(fd, F_OFD_SETLK, &fl) != 0) {
		if (errno == EAGAIN || errno == EACCES)
			r = locked_err(fd, st->path, err, errlen);
		else
			r = set_err(err, errlen, STORE_IO,
				    "cannot lock %s: %s", lpath,
				    strerror(errno));
		goto out;
	}
	if (holder_write(fd, ctl) != 0)
		log_warn("store: cannot record holder in %s: %s", lpath,
			 strerror(errno));
	st->lock_fd = fd;
	fd = -1; /* transferred */
	r = STORE_OK;
out:
	if (fd >= 0)
		close(fd);
	return r;
}

/* --- small SQLite helpers ---------------------------------------------- */

static int exec_sql(sqlite3 *db, const char *sql)
{
	return sqlite3_exec(db, sql, NULL, NULL, NULL);
}

/* First column of the first row of sql, as an integer. */
static int query_int(sqlite3 *db, const char *sql, sqlite3_int64 *v)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);

	if (rc != SQLITE_OK)
		goto out;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		*v = sqlite3_column_int64(s, 0);
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_CORRUPT; /* a pragma or count with no row */
	}
out:
	sqlite3_finalize(s);
	return rc;
}

/* First column of the first row of sql, as text, cut to fit buf. */
static int query_text(sqlite3 *db, const char *sql, char *buf, size_t len)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db, sql, -1, &s, NULL);

	buf[0] = '\0';
	if (rc != SQLITE_OK)
		goto out;
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW) {
		const unsigned char *t = sqlite3_column_text(s, 0);
		snprintf(buf, len, "%s", t != NULL ? (const char *)t : "");
		rc = SQLITE_OK;
	} else if (rc == SQLITE_DONE) {
		rc = SQLITE_CORRUPT;
	}
out:
	sqlite3_finalize(s);
	return rc;
}

/* Turns a failure while opening into a sentence naming the file. */
static int open_err(sqlite3 *db, int rc, const char *path, char *err,
		    size_t errlen)
{
	const char *msg = db != NULL ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
	int r = map_sqlite(rc);

	if ((rc & 0xff) == SQLITE_NOTADB)
		return set_err(err, errlen, STORE_CORRUPT,
			       "state file %s is not a vkey state file (not an "
			       "SQLite database); it was left unchanged", path);
	if (r == STORE_CORRUPT)
		return set_err(err, errlen, r,
			       "state file %s is damaged or truncated (%s); "
			       "it was left unchanged", path, msg);
	if (r == STORE_FULL)
		return set_err(err, errlen, r,
			       "state file %s: disk full (%s)", path, msg);
	if (r == STORE_LOCKED)
		return set_err(err, errlen, r,
			       "state file %s is locked by another SQLite "
			       "user (%s)", path, msg);
	return set_err(err, errlen, STORE_IO, "cannot use state file %s: %s",
		       path, msg);
}

/* Opens name read-write without ever creating it, hardened for a file
 * that may have been crafted: no triggers, views or untrusted functions,
 * bounded blobs, and no checkpoint into it on close until it has passed
 * our checks. */
static int db_connect_as(sqlite3 **out, const char *name, int flags)
{
	sqlite3 *db = NULL;
	int rc = sqlite3_open_v2(name, &db, flags, NULL);

	if (rc != SQLITE_OK)
		goto out;
	sqlite3_extended_result_codes(db, 1);
	sqlite3_limit(db, SQLITE_LIMIT_LENGTH, STORE_MAX_BLOB);
	sqlite3_busy_timeout(db, STORE_BUSY_MS);
	sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_VIEW, 0, NULL);
	sqlite3_db_config(db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1, NULL);
	/* Keep any temporary data (it may hold secrets) off the disk. */
	rc = exec_sql(db, "PRAGMA temp_store = MEMORY");
out:
	if (rc != SQLITE_OK && db != NULL) {
		sqlite3_close(db);
		db = NULL;
	}
	*out = db;
	return rc;
}

static int db_connect(sqlite3 **out, const char *name)
{
	return db_connect_as(out, name,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX);
}

/* --- sealing ------------------------------------------------------------ */

/* A sealed value: format byte, random nonce, ciphertext, GCM tag. */
#define SEAL_FORMAT 1
#define SEAL_NONCE 12
#define SEAL_TAG 16
#define SEAL_OVERHEAD (1 + SEAL_NONCE + SEAL_TAG)
#define SEAL_KEY_LEN SEAL_KEY_LEN_
#define SEAL_SALT_LEN 32
#define SEAL_SALT_MIN 16
#define SEAL_SALT_MAX 64
#define SEAL_R 8
#define SEAL_P 1
#define SEAL_R_MAX 32
#define SEAL_P_MAX 16
/* What scrypt may use (128 * r * N): the default takes 128 MiB. */
#define SEAL_MAX_MEM ((uint64_t)256 << 20)

/* Domain tags of the additional data: a value sealed as one kind of
 * thing (or under one record name) never opens as another. */
static const char seal_tag_record[] = "vkey sealed record v1";
static const char seal_tag_meta[] = "vkey sealed meta v1";
static const char seal_tag_check[] = "vkey seal check v1";
/* The key check value seals this text. */
static const char seal_check_text[] = "vkey state file key check";
#define SEAL_CHECK_LEN (SEAL_OVERHEAD + sizeof(seal_check_text) - 1)

/* The sealing parameters as meta holds them (one row each). */
struct seal_meta {
	unsigned seen;  /* SEAL_ROW_* bits */
	unsigned bad;   /* rows present with the wrong type or size */
	sqlite3_int64 log2_n, r, p;
	uint8_t salt[SEAL_SALT_MAX];
	size_t salt_len;
	uint8_t check[SEAL_CHECK_LEN];
};

enum {
	SEAL_ROW_KDF = 1u << 0,
	SEAL_ROW_LOG2N = 1u << 1,
	SEAL_ROW_R = 1u << 2,
	SEAL_ROW_P = 1u << 3,
	SEAL_ROW_SALT = 1u << 4,
	SEAL_ROW_CHECK = 1u << 5,
	SEAL_ROWS_ALL = (1u << 6) - 1,
};

/* AAD = tag NUL ns NUL key: ns holds no NUL, so no two (ns, key) pairs
 * give the same bytes. Returns the length. */
static size_t seal_aad(uint8_t *buf, const char *tag, const char *ns,
		       const void *key, size_t key_len)
{
	size_t tl = strlen(tag), nl = strlen(ns);

	memcpy(buf, tag, tl + 1);
	memcpy(buf + tl + 1, ns, nl + 1);
	if (key_len > 0)
		memcpy(buf + tl + nl + 2, key, key_len);
	return tl + nl + 2 + key_len;
}

#define SEAL_AAD_MAX (sizeof(seal_tag_record) + STORE_MAX_NS + 1 + \
		      STORE_MAX_KEY)

/* out gets len + SEAL_OVERHEAD bytes. */
static int seal_bytes(const uint8_t key[SEAL_KEY_LEN], const uint8_t *aad,
		      size_t aad_len, const uint8_t *in, size_t len,
		      uint8_t *out)
{
	out[0] = SEAL_FORMAT;
	if (crypto_random(out + 1, SEAL_NONCE) != 0)
		return -1;
	return crypto_aes256_gcm_seal(key, out + 1, aad, aad_len, in, len,
				      out + 1 + SEAL_NONCE,
				      out + 1 + SEAL_NONCE + len);
}

/* out gets len - SEAL_OVERHEAD bytes; -1 for anything that is not a
 * value sealed under key with this aad. */
static int open_bytes(const uint8_t key[SEAL_KEY_LEN], const uint8_t *aad,
		      size_t aad_len, const uint8_t *in, size_t len,
		      uint8_t *out)
{
	size_t n;

	if (len < SEAL_OVERHEAD || in[0] != SEAL_FORMAT)
		return -1;
	n = len - SEAL_OVERHEAD;
	return crypto_aes256_gcm_open(key, in + 1, aad, aad_len,
				      in + 1 + SEAL_NONCE, n,
				      in + 1 + SEAL_NONCE + n, out);
}

/* A record value sealed into a fresh buffer of *out_len bytes. */
static int seal_record(const uint8_t key[SEAL_KEY_LEN], const char *ns,
		       const void *k, size_t k_len, const uint8_t *val,
		       size_t val_len, uint8_t **out, size_t *out_len)
{
	uint8_t aad[SEAL_AAD_MAX];
	size_t aad_len = seal_aad(aad, seal_tag_record, ns, k, k_len);
	uint8_t *buf = malloc(val_len + SEAL_OVERHEAD);

	if (buf == NULL)
		return STORE_IO;
	if (seal_bytes(key, aad, aad_len, val, val_len, buf) != 0) {
		free(buf);
		return STORE_IO;
	}
	*out = buf;
	*out_len = val_len + SEAL_OVERHEAD;
	return STORE_OK;
}

/* A sealed record value opened into a fresh buffer (at least one byte
 * allocated); STORE_CORRUPT when it fails its check. */
static int open_record(const uint8_t key[SEAL_KEY_LEN], const char *ns,
		       const void *k, size_t k_len, const uint8_t *in,
		       size_t len, uint8_t **out, size_t *out_len)
{
	uint8_t aad[SEAL_AAD_MAX];
	size_t aad_len = seal_aad(aad, seal_tag_record, ns, k, k_len);
	size_t n = len >= SEAL_OVERHEAD ? len - SEAL_OVERHEAD : 0;
	uint8_t *buf = malloc(n > 0 ? n : 1);

	if (buf == NULL)
		return STORE_IO;
	if (open_bytes(key, aad, aad_len, in, len, buf) != 0) {
		free(buf);
		return STORE_CORRUPT;
	}
	*out = buf;
	*out_len = n;
	return STORE_OK;
}

static int seal_derive(const struct store_seal *seal,
		       const struct seal_meta *m, uint8_t key[SEAL_KEY_LEN])
{
	return crypto_scrypt(seal->secret, seal->len, m->salt, m->salt_len,
			     (unsigned)m->log2_n, (uint32_t)m->r,
			     (uint32_t)m->p, SEAL_MAX_MEM, key, SEAL_KEY_LEN);
}

static bool seal_arg_ok(const struct store_seal *seal)
{
	return seal->secret != NULL && seal->len > 0 &&
	       seal->len <= STORE_SEAL_SECRET_MAX &&
	       (seal->log2_n == 0 ||
		(seal->log2_n >= STORE_SEAL_LOG2N_MIN &&
		 seal->log2_n <= STORE_SEAL_LOG2N_MAX));
}

/* Fresh parameters and salt for seal, the key they give, and its check
 * value. */
static int seal_new(const struct store_seal *seal, struct seal_meta *m,
		    uint8_t key[SEAL_KEY_LEN])
{
	uint8_t aad[sizeof(seal_tag_check)];

	memset(m, 0, sizeof(*m));
	m->seen = SEAL_ROWS_ALL;
	m->log2_n = seal->log2_n != 0 ? seal->log2_n : STORE_SEAL_LOG2N;
	m->r = SEAL_R;
	m->p = SEAL_P;
	m->salt_len = SEAL_SALT_LEN;
	if (crypto_random(m->salt, m->salt_len) != 0 ||
	    seal_derive(seal, m, key) != 0)
		return -1;
	memcpy(aad, seal_tag_check, sizeof(aad));
	return seal_bytes(key, aad, sizeof(aad),
			  (const uint8_t *)seal_check_text,
			  sizeof(seal_check_text) - 1, m->check);
}

/* 0 when key opens m's check value to the expected text. */
static int seal_verify(const struct seal_meta *m,
		       const uint8_t key[SEAL_KEY_LEN])
{
	uint8_t aad[sizeof(seal_tag_check)];
	uint8_t text[sizeof(seal_check_text) - 1];
	int r;

	memcpy(aad, seal_tag_check, sizeof(aad));
	r = open_bytes(key, aad, sizeof(aad), m->check, sizeof(m->check),
		       text);
	if (r == 0)
		r = crypto_memcmp(text, seal_check_text, sizeof(text)) == 0
			    ? 0 : -1;
	return r;
}

/* Takes one meta row into m when it is a sealing parameter. */
static void seal_meta_row(struct seal_meta *m, const char *k,
			  sqlite3_stmt *s)
{
	int type = sqlite3_column_type(s, 1);
	size_t n = (size_t)sqlite3_column_bytes(s, 1);
	const void *b;
	unsigned bit;

	if (strcmp(k, "seal_kdf") == 0) {
		const unsigned char *t = sqlite3_column_text(s, 1);
		bit = SEAL_ROW_KDF;
		if (type != SQLITE_TEXT || t == NULL ||
		    strcmp((const char *)t, "scrypt") != 0)
			m->bad |= bit;
	} else if (strcmp(k, "seal_log2n") == 0 || strcmp(k, "seal_r") == 0 ||
		   strcmp(k, "seal_p") == 0) {
		sqlite3_int64 *v = k[5] == 'l' ? &m->log2_n
				   : k[5] == 'r' ? &m->r : &m->p;
		bit = k[5] == 'l' ? SEAL_ROW_LOG2N
		      : k[5] == 'r' ? SEAL_ROW_R : SEAL_ROW_P;
		if (type != SQLITE_INTEGER)
			m->bad |= bit;
		else
			*v = sqlite3_column_int64(s, 1);
	} else if (strcmp(k, "seal_salt") == 0) {
		bit = SEAL_ROW_SALT;
		b = sqlite3_column_blob(s, 1);
		if (type != SQLITE_BLOB || b == NULL || n < SEAL_SALT_MIN ||
		    n > SEAL_SALT_MAX) {
			m->bad |= bit;
		} else {
			memcpy(m->salt, b, n);
			m->salt_len = n;
		}
	} else if (strcmp(k, "seal_check") == 0) {
		bit = SEAL_ROW_CHECK;
		b = sqlite3_column_blob(s, 1);
		if (type != SQLITE_BLOB || b == NULL || n != SEAL_CHECK_LEN)
			m->bad |= bit;
		else
			memcpy(m->check, b, n);
	} else {
		return; /* not ours */
	}
	m->seen |= bit;
}

/* Reads the sealing rows of meta. STORE_OK with m->seen == 0 for a file
 * that is not sealed; STORE_CORRUPT when some rows are missing, of the
 * wrong type, or out of range. */
static int seal_meta_read(sqlite3 *db, struct seal_meta *m)
{
	sqlite3_stmt *s = NULL;
	int rc, r = STORE_CORRUPT;

	memset(m, 0, sizeof(*m));
	rc = sqlite3_prepare_v2(db, "SELECT k, v FROM meta WHERE k >= 'seal_' "
				"AND k < 'seal`'", -1, &s, NULL);
	if (rc != SQLITE_OK) {
		r = map_sqlite(rc);
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const unsigned char *k = sqlite3_column_text(s, 0);

		if (k != NULL)
			seal_meta_row(m, (const char *)k, s);
	}
	if (rc != SQLITE_DONE) {
		r = map_sqlite(rc);
		goto out;
	}
	if (m->seen == 0) {
		r = STORE_OK;
		goto out;
	}
	if (m->seen != SEAL_ROWS_ALL || m->bad != 0 ||
	    m->log2_n < STORE_SEAL_LOG2N_MIN ||
	    m->log2_n > STORE_SEAL_LOG2N_MAX || m->r < 1 ||
	    m->r > SEAL_R_MAX || m->p < 1 || m->p > SEAL_P_MAX ||
	    (uint64_t)m->r * 128 * ((uint64_t)1 << m->log2_n) > SEAL_MAX_MEM)
		goto out;
	r = STORE_OK;
out:
	sqlite3_finalize(s);
	return r;
}

static int meta_put(sqlite3 *db, const char *k, const void *blob,
		    size_t len, const char *text, sqlite3_int64 num)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db, "INSERT OR REPLACE INTO meta(k, v) "
				    "VALUES(?1, ?2)", -1, &s, NULL);

	if (rc != SQLITE_OK)
		goto out;
	sqlite3_bind_text(s, 1, k, -1, SQLITE_STATIC);
	if (blob != NULL)
		sqlite3_bind_blob(s, 2, blob, (int)len, SQLITE_STATIC);
	else if (text != NULL)
		sqlite3_bind_text(s, 2, text, -1, SQLITE_STATIC);
	else
		sqlite3_bind_int64(s, 2, num);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
out:
	sqlite3_finalize(s);
	return rc;
}

/* Replaces the sealing rows with m's (m NULL: removes them). Inside the
 * caller's transaction. */
static int seal_meta_write(sqlite3 *db, const struct seal_meta *m)
{
	int rc = exec_sql(db, "DELETE FROM meta WHERE k >= 'seal_' AND "
			  "k < 'seal`'");

	if (rc != SQLITE_OK || m == NULL)
		return rc;
	rc = meta_put(db, "seal_kdf", NULL, 0, "scrypt", 0);
	if (rc == SQLITE_OK)
		rc = meta_put(db, "seal_log2n", NULL, 0, NULL, m->log2_n);
	if (rc == SQLITE_OK)
		rc = meta_put(db, "seal_r", NULL, 0, NULL, m->r);
	if (rc == SQLITE_OK)
		rc = meta_put(db, "seal_p", NULL, 0, NULL, m->p);
	if (rc == SQLITE_OK)
		rc = meta_put(db, "seal_salt", m->salt, m->salt_len, NULL, 0);
	if (rc == SQLITE_OK)
		rc = meta_put(db, "seal_check", m->check, sizeof(m->check),
			      NULL, 0);
	return rc;
}

/* The device secret as meta stores it: plain (key NULL) or sealed. */
static int meta_put_secret(sqlite3 *db, const uint8_t *key,
			   const uint8_t secret[STORE_DEVICE_SECRET_LEN])
{
	uint8_t aad[SEAL_AAD_MAX];
	uint8_t sealed[STORE_DEVICE_SECRET_LEN + SEAL_OVERHEAD];
	size_t aad_len;

	if (key == NULL)
		return meta_put(db, "device_secret", secret,
				STORE_DEVICE_SECRET_LEN, NULL, 0);
	aad_len = seal_aad(aad, seal_tag_meta, "meta", "device_secret", 13);
	if (seal_bytes(key, aad, aad_len, secret, STORE_DEVICE_SECRET_LEN,
		       sealed) != 0)
		return SQLITE_ERROR;
	return meta_put(db, "device_secret", sealed, sizeof(sealed), NULL, 0);
}

/* The device secret from its meta column (plain or sealed). */
static int meta_get_secret(const uint8_t *key, const uint8_t *v, size_t n,
			   uint8_t secret[STORE_DEVICE_SECRET_LEN])
{
	uint8_t aad[SEAL_AAD_MAX];
	size_t aad_len;

	if (key == NULL) {
		if (n != STORE_DEVICE_SECRET_LEN)
			return -1;
		memcpy(secret, v, n);
		return 0;
	}
	if (n != STORE_DEVICE_SECRET_LEN + SEAL_OVERHEAD)
		return -1;
	aad_len = seal_aad(aad, seal_tag_meta, "meta", "device_secret", 13);
	return open_bytes(key, aad, aad_len, v, n, secret);
}

/* --- creating a new state file ----------------------------------------- */

/* A serial in [1, 10^9): fits nine decimal digits. Rejection sampling
 * keeps it uniform; 64 draws all rejected would mean a broken RNG. */
static int new_serial(uint32_t *serial)
{
	for (int i = 0; i < 64; i++) {
		uint32_t v;

		if (crypto_random(&v, sizeof(v)) != 0)
			return -1;
		v &= 0x3fffffff;
		if (v != 0 && v < STORE_SERIAL_LIMIT) {
			*serial = v;
			return 0;
		}
	}
	return -1;
}

static int insert_meta(sqlite3 *db, const char *k, const void *blob,
		       size_t len, sqlite3_int64 num)
{
	sqlite3_stmt *s = NULL;
	int rc = sqlite3_prepare_v2(db, "INSERT INTO meta(k, v) VALUES(?1, ?2)",
				    -1, &s, NULL);

	if (rc != SQLITE_OK)
		goto out;
	sqlite3_bind_text(s, 1, k, -1, SQLITE_STATIC);
	if (blob != NULL)
		sqlite3_bind_blob(s, 2, blob, (int)len, SQLITE_STATIC);
	else
		sqlite3_bind_int64(s, 2, num);
	rc = sqlite3_step(s);
	if (rc == SQLITE_DONE)
		rc = SQLITE_OK;
out:
	sqlite3_finalize(s);
	return rc;
}

/* Fresh identity from the OS RNG: never derived from anything else.
 * key non-NULL seals the device secret. */
static int insert_identity(sqlite3 *db, const uint8_t *key)
{
	uint8_t secret[STORE_DEVICE_SECRET_LEN];
	uint32_t serial = 0;
	int rc = SQLITE_ERROR;

	if (new_serial(&serial) != 0 ||
	    crypto_random(secret, sizeof(secret)) != 0) {
		log_error("store: the OS random number generator failed");
		goto out;
	}
	rc = insert_meta(db, "serial", NULL, 0, serial);
	if (rc == SQLITE_OK)
		rc = meta_put_secret(db, key, secret);
out:
	crypto_wipe(secret, sizeof(secret));
	return rc;
}

/* Runs the migrations after version from, then records the new version.
 * The caller holds the transaction. */
static int migrate(sqlite3 *db, int from)
{
	char sql[64];
	int rc = SQLITE_OK;

	for (int v = from; v < STORE_SCHEMA_VERSION && rc == SQLITE_OK; v++)
		rc = exec_sql(db, migrations[v]);
	if (rc != SQLITE_OK)
		goto out;
	snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
		 STORE_SCHEMA_VERSION);
	rc = exec_sql(db, sql);
out:
	return rc;
}

/* Application id, schema and identity (sealed under key when m is
 * given), all in one transaction. */
static int init_schema(sqlite3 *db, const struct seal_meta *m,
		       const uint8_t *key)
{
	char sql[64];
	int rc;

	snprintf(sql, sizeof(sql), "PRAGMA application_id = %d", STORE_APP_ID);
	rc = exec_sql(db, "PRAGMA synchronous = FULL; BEGIN IMMEDIATE");
	if (rc == SQLITE_OK)
		rc = exec_sql(db, sql);
	if (rc == SQLITE_OK)
		rc = migrate(db, 0);
	if (rc == SQLITE_OK && m != NULL)
		rc = seal_meta_write(db, m);
	if (rc == SQLITE_OK)
		rc = insert_identity(db, m != NULL ? key : NULL);
	if (rc == SQLITE_OK)
		rc = exec_sql(db, "COMMIT");
	return rc;
}

static void fsync_dir(const char *path)
{
	char dir[PATH_MAX];
	char *slash;
	int fd;

	if (path_with(dir, sizeof(dir), "", path) != 0)
		return;
	slash = strrchr(dir, '/');
	if (slash == NULL)
		snprintf(dir, sizeof(dir), ".");
	else if (slash == dir)
		dir[1] = '\0';
	else
		*slash = '\0';
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
}

/* Gives the finished file its name, refusing to replace one that appeared
 * meanwhile. Without hard links (some filesystems) falls back to rename,
 * which is safe under our lock since the path did not exist. */
static int publish(const char *tmp, const char *path)
{
	if (link(tmp, path) == 0) {
		unlink(tmp);
		return 0;
	}
	if (errno == EEXIST)
		return -1;
	return rename(tmp, path);
}

/* Builds a complete state file under "<path>.init" and only then gives it
 * its name: a crash while initializing leaves no file (and no empty file,
 * which we would refuse as truncated), never a half-made one. */
static int init_file(const char *path, const struct store_seal *seal,
		     char *err, size_t errlen)
{
	char tmp[PATH_MAX], name[PATH_MAX];
	struct seal_meta m;
	uint8_t key[SEAL_KEY_LEN] = { 0 };
	sqlite3 *db = NULL;
	int fd = -1, rc, r;

	if (seal != NULL && seal_new(seal, &m, key) != 0) {
		r = set_err(err, errlen, STORE_IO, "cannot seal new state "
			    "file %s: key derivation failed", path);
		goto out_wipe;
	}

	if (path_with(tmp, sizeof(tmp), path, ".init") != 0 ||
	    sqlite_name(name, sizeof(name), tmp) != 0) {
		r = set_err(err, errlen, STORE_INVALID,
			    "state file path is too long");
		goto out_wipe;
	}
	fd = open(tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW,
		  0600);
	/* 0600 whatever the umask: a stricter umask must not lock us out. */
	if (fd < 0 || fchmod(fd, 0600) != 0) {
		r = set_err(err, errlen, STORE_IO, "cannot create state file "
			    "%s: %s", tmp, strerror(errno));
		goto out;
	}
	close(fd);
	fd = -1;
	rc = db_connect(&db, name);
	if (rc == SQLITE_OK)
		rc = init_schema(db, seal != NULL ? &m : NULL, key);
	if (rc != SQLITE_OK) {
		r = open_err(db, rc, tmp, err, errlen);
		goto out;
	}
	sqlite3_close(db);
	db = NULL;
	if (publish(tmp, path) != 0) {
		r = set_err(err, errlen,
			    errno == EEXIST ? STORE_LOCKED : STORE_IO,
			    "cannot create state file %s: %s", path,
			    strerror(errno));
		goto out;
	}
	fsync_dir(path);
	r = STORE_OK;
out:
	if (fd >= 0)
		close(fd);
	if (db != NULL)
		sqlite3_close(db);
	if (r != STORE_OK)
		unlink(tmp);
out_wipe:
	crypto_wipe(key, sizeof(key));
	return r;
}

/* What a crash during an earlier init left: a half-made file, its
 * journal, or (after the rename) a second name of the live file. Ours
 * alone, since we hold the lock. */
static void drop_leftovers(const char *path)
{
	char tmp[PATH_MAX], jrnl[PATH_MAX];

	if (path_with(tmp, sizeof(tmp), path, ".init") != 0 ||
	    path_with(jrnl, sizeof(jrnl), tmp, "-journal") != 0)
		return;
	unlink(jrnl);
	unlink(tmp);
}

/* Creates the file when the path does not exist. Anything else at the
 * path must be a non-empty regular file: an empty one is what a
 * truncation leaves, and it is refused, not reinitialized. */
static int ensure_file(const char *path, const struct store_seal *seal,
		       char *err, size_t errlen)
{
	struct stat sb;

	drop_leftovers(path);
	if (stat(path, &sb) != 0) {
		if (errno == ENOENT)
			return init_file(path, seal, err, errlen);
		return set_err(err, errlen, STORE_IO, "cannot use state file "
			       "%s: %s", path, strerror(errno));
	}
	if (!S_ISREG(sb.st_mode))
		return set_err(err, errlen, STORE_CORRUPT, "state file %s is "
			       "not a regular file", path);
	if (sb.st_size == 0)
		return set_err(err, errlen, STORE_CORRUPT, "state file %s is "
			       "empty (truncated?); it was left unchanged",
			       path);
	return STORE_OK;
}

/* --- opening an existing state file ------------------------------------ */

/* kv and meta must be plain tables, not something a crafted file put in
 * their place. */
static int check_tables(sqlite3 *db, const char *path, char *err,
			size_t errlen)
{
	sqlite3_int64 n = 0;
	int rc = query_int(db, "SELECT count(*) FROM sqlite_schema WHERE "
			   "type = 'table' AND name IN ('kv', 'meta') AND "
			   "sql LIKE 'CREATE TABLE %'", &n);

	if (rc != SQLITE_OK)
		return open_err(db, rc, path, err, errlen);
	if (n != 2)
		return set_err(err, errlen, STORE_CORRUPT, "state file %s is "
			       "damaged (its tables are missing or altered); "
			       "it was left unchanged", path);
	return STORE_OK;
}

/* Read-only checks: nothing is written before a file has passed them. */
static int db_check(struct store *st, int *version, char *err,
		    size_t errlen)
{
	sqlite3_int64 app = 0, ver = 0;
	char msg[200];
	int rc;

	rc = query_int(st->db, "PRAGMA application_id", &app);
	if (rc == SQLITE_OK && app != STORE_APP_ID)
		return set_err(err, errlen, STORE_CORRUPT, "state file %s is "
			       "not a vkey state file (an SQLite database of "
			       "another application); it was left unchanged",
			       st->path);
	if (rc == SQLITE_OK)
		rc = query_int(st->db, "PRAGMA user_version", &ver);
	if (rc != SQLITE_OK)
		return open_err(st->db, rc, st->path, err, errlen);
	if (ver > STORE_SCHEMA_VERSION || ver < 0)
		return set_err(err, errlen, STORE_TOO_NEW, "state file %s has "
			       "schema version %lld, newer than this vkey "
			       "supports (%d); use a newer vkey", st->path,
			       (long long)ver, STORE_SCHEMA_VERSION);
	if (ver == 0)
		return set_err(err, errlen, STORE_CORRUPT, "state file %s has "
			       "no schema version (damaged); it was left "
			       "unchanged", st->path);
	rc = query_text(st->db, "PRAGMA quick_check(1)", msg, sizeof(msg));
	if (rc != SQLITE_OK)
		return open_err(st->db, rc, st->path, err, errlen);
	if (strcmp(msg, "ok") != 0)
		return set_err(err, errlen, STORE_CORRUPT, "state file %s is "
			       "damaged or truncated (%s); it was left "
			       "unchanged", st->path, msg);
	*version = (int)ver;
	return check_tables(st->db, st->path, err, errlen);
}

/* The pending migrations, all in one transaction. */
static int run_migrations(sqlite3 *db, int version)
{
	int rc;

	if (version >= STORE_SCHEMA_VERSION)
		return SQLITE_OK;
	rc = exec_sql(db, "BEGIN IMMEDIATE");
	if (rc == SQLITE_OK)
		rc = migrate(db, version);
	if (rc == SQLITE_OK)
		rc = exec_sql(db, "COMMIT");
	if (rc != SQLITE_OK && !sqlite3_get_autocommit(db))
		exec_sql(db, "ROLLBACK");
	return rc;
}

/* Journal and durability settings, then the pending migrations. */
static int db_setup(struct store *st, int version, char *err, size_t errlen)
{
	char mode[16];
	int rc;

	rc = query_text(st->db, "PRAGMA journal_mode = WAL", mode,
			sizeof(mode));
	if (rc == SQLITE_OK && strcmp(mode, "wal") != 0)
		return set_err(err, errlen, STORE_IO, "state file %s: cannot "
			       "enable write-ahead logging (journal mode is "
			       "%s)", st->path, mode);
	if (rc == SQLITE_OK)
		rc = exec_sql(st->db, "PRAGMA synchronous = FULL;"
			      "PRAGMA secure_delete = ON");
	if (rc == SQLITE_OK)
		rc = run_migrations(st->db, version);
	if (rc != SQLITE_OK)
		return open_err(st->db, rc, st->path, err, errlen);
	/* Ours now: fold the log back into the file when we close. */
	sqlite3_db_config(st->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0, NULL);
	return STORE_OK;
}

static int load_identity(struct store *st, char *err, size_t errlen)
{
	sqlite3_stmt *s = NULL;
	sqlite3_int64 serial = 0;
	int rc, r = STORE_CORRUPT;

	rc = query_int(st->db, "SELECT v FROM meta WHERE k = 'serial'",
		       &serial);
	if (rc != SQLITE_OK || serial <= 0 || serial >= STORE_SERIAL_LIMIT)
		goto out;
	rc = sqlite3_prepare_v2(st->db, "SELECT v FROM meta WHERE "
				"k = 'device_secret'", -1, &s, NULL);
	if (rc != SQLITE_OK || sqlite3_step(s) != SQLITE_ROW ||
	    sqlite3_column_type(s, 0) != SQLITE_BLOB ||
	    meta_get_secret(st->sealed ? st->seal_key : NULL,
			    sqlite3_column_blob(s, 0),
			    (size_t)sqlite3_column_bytes(s, 0), st->secret) != 0)
		goto out;
	st->serial = (uint32_t)serial;
	r = STORE_OK;
out:
	sqlite3_finalize(s);
	if (r != STORE_OK)
		set_err(err, errlen, r, "state file %s is damaged (no valid "
			"device identity); it was left unchanged", st->path);
	return r;
}

static int prepare_all(struct store *st, char *err, size_t errlen)
{
	for (int i = 0; i < STMT_N; i++) {
		int rc = sqlite3_prepare_v3(st->db, stmt_sql[i], -1,
					    SQLITE_PREPARE_PERSISTENT,
					    &st->stmt[i], NULL);
		/* The tables passed check_tables, so only columns a crafted
		 * file altered can make this fail. */
		if (rc != SQLITE_OK)
			return set_err(err, errlen, STORE_CORRUPT, "state "
				       "file %s is damaged (%s); it was left "
				       "unchanged", st->path,
				       sqlite3_errmsg(st->db));
	}
	return STORE_OK;
}

/* After a refusal, the closing checkpoint stays off when a log was there
 * before us (folding it in would modify the file). When we made the log,
 * it is empty: let SQLite close normally and remove it. */
static void after_refusal(struct store *st, bool had_wal)
{
	if (!had_wal)
		sqlite3_db_config(st->db, SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 0,
				  NULL);
}

/* Read-only: whether the file is sealed, and when it is, the key seal
 * gives, checked against the file's key check value. */
static int seal_load(struct store *st, const struct store_seal *seal,
		     char *err, size_t errlen)
{
	struct seal_meta m;
	int r = seal_meta_read(st->db, &m);

	if (r == STORE_CORRUPT)
		return set_err(err, errlen, r, "state file %s is damaged (its "
			       "sealing parameters are incomplete or out of "
			       "range); it was left unchanged", st->path);
	if (r != STORE_OK)
		return set_err(err, errlen, r, "cannot read state file %s: %s",
			       st->path, sqlite3_errmsg(st->db));
	if (m.seen == 0 && seal != NULL)
		return set_err(err, errlen, STORE_INVALID, "state file %s is "
			       "not sealed, yet a passphrase or key file was "
			       "given; seal it with `vkey seal`", st->path);
	if (m.seen == 0)
		return STORE_OK;
	if (seal == NULL)
		return set_err(err, errlen, STORE_SEALED, "state file %s is "
			       "sealed: give its passphrase or key file "
			       "(--seal passphrase|keyfile:PATH)", st->path);
	if (seal_derive(seal, &m, st->seal_key) != 0)
		return set_err(err, errlen, STORE_IO, "state file %s: the "
			       "sealing key derivation failed (out of "
			       "memory?)", st->path);
	if (seal_verify(&m, st->seal_key) != 0) {
		crypto_wipe(st->seal_key, sizeof(st->seal_key));
		return set_err(err, errlen, STORE_SEALED, "wrong passphrase "
			       "or key file for sealed state file %s; it was "
			       "left unchanged", st->path);
	}
	st->sealed = true;
	return STORE_OK;
}

static int db_open(struct store *st, const struct store_seal *seal,
		   char *err, size_t errlen)
{
	char name[PATH_MAX], wal[PATH_MAX];
	int version = 0, rc, r;
	bool had_wal;

	if (sqlite_name(name, sizeof(name), st->path) != 0 ||
	    path_with(wal, sizeof(wal), st->path, "-wal") != 0)
		return set_err(err, errlen, STORE_INVALID,
			       "state file path is too long");
	had_wal = access(wal, F_OK) == 0;
	rc = db_connect(&st->db, name);
	if (rc != SQLITE_OK)
		return open_err(NULL, rc, st->path, err, errlen);
	r = db_check(st, &version, err, errlen);
	if (r == STORE_OK)
		r = seal_load(st, seal, err, errlen);
	if (r != STORE_OK) {
		after_refusal(st, had_wal);
		return r;
	}
	r = db_setup(st, version, err, errlen);
	if (r == STORE_OK)
		r = load_identity(st, err, errlen);
	if (r == STORE_OK)
		r = prepare_all(st, err, errlen);
	return r;
}

static int store_alloc(struct store **out, const char *path)
{
	size_t len = strlen(path);
	struct store *st = calloc(1, sizeof(*st) + len + 1);
	pthread_mutexattr_t attr;
	int r = STORE_IO;

	if (st == NULL)
		goto out;
	memcpy(st->path, path, len + 1);
	st->lock_fd = -1;
	if (pthread_mutexattr_init(&attr) != 0)
		goto out;
	pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
	if (pthread_mutex_init(&st->mu, &attr) == 0)
		r = STORE_OK;
	pthread_mutexattr_destroy(&attr);
out:
	if (r != STORE_OK)
		free(st);
	else
		*out = st;
	return r;
}

/* Paths leave room for our suffixes; ctl becomes one line of the lock
 * file, so it may not contain a newline. */
static int check_open_args(struct store **out, const char *path,
			   const char *ctl, char *err, size_t errlen)
{
	size_t len;

	if (out == NULL || path == NULL)
		return set_err(err, errlen, STORE_INVALID,
			       "no state file path given");
	len = strnlen(path, PATH_MAX);
	if (len == 0 || len > PATH_MAX - 32 || path[len - 1] == '/')
		return set_err(err, errlen, STORE_INVALID, "state file path "
			       "is empty, too long or a directory");
	if (ctl != NULL && (strnlen(ctl, PATH_MAX) >= PATH_MAX ||
			    strchr(ctl, '\n') != NULL))
		return set_err(err, errlen, STORE_INVALID, "control socket "
			       "path for state file %s is invalid", path);
	return STORE_OK;
}

int store_open(struct store **out, const char *path, const char *ctl,
	       char *err, size_t errlen)
{
	return store_open_sealed(out, path, ctl, NULL, err, errlen);
}

int store_open_sealed(struct store **out, const char *path, const char *ctl,
		      const struct store_seal *seal, char *err,
		      size_t errlen)
{
	struct store *st = NULL;
	int r;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	r = check_open_args(out, path, ctl, err, errlen);
	if (r == STORE_OK && seal != NULL && !seal_arg_ok(seal))
		r = set_err(err, errlen, STORE_INVALID, "state file %s: the "
			    "passphrase or key file is empty or too long "
			    "(at most %d bytes)", path, STORE_SEAL_SECRET_MAX);
	if (r != STORE_OK)
		goto out;
	*out = NULL;
	r = store_alloc(&st, path);
	if (r != STORE_OK) {
		set_err(err, errlen, r, "state file %s: out of memory", path);
		goto out;
	}
	r = make_parents(path, err, errlen);
	if (r == STORE_OK)
		r = lock_take(st, ctl, err, errlen);
	if (r == STORE_OK)
		r = ensure_file(path, seal, err, errlen);
	if (r == STORE_OK)
		r = db_open(st, seal, err, errlen);
	if (r != STORE_OK)
		goto out;
	*out = st;
	st = NULL; /* transferred */
out:
	store_close(st);
	return r;
}

/* Ends the transaction and releases the hold store_begin took. */
static void txn_end(struct store *st)
{
	if (!sqlite3_get_autocommit(st->db))
		exec_sql(st->db, "ROLLBACK");
	st->in_txn = false;
	st->txn_err = STORE_OK;
	pthread_mutex_unlock(&st->mu);
}

void store_close(struct store *st)
{
	if (st == NULL)
		return;
	pthread_mutex_lock(&st->mu);
	if (st->in_txn)
		txn_end(st); /* rolls back and drops store_begin's hold */
	for (int i = 0; i < STMT_N; i++)
		sqlite3_finalize(st->stmt[i]);
	/* The file closes before the lock goes: the next opener never meets
	 * a live connection. (SQLite frees its page cache unwiped; secrets
	 * at rest and in that cache are the encryption layer's to seal.) */
	if (st->db != NULL) {
		if (sqlite3_close(st->db) != SQLITE_OK)
			log_error("store: closing %s: %s", st->path,
				  sqlite3_errmsg(st->db));
	}
	if (st->lock_fd >= 0)
		close(st->lock_fd);
	crypto_wipe(st->secret, sizeof(st->secret));
	crypto_wipe(st->seal_key, sizeof(st->seal_key));
	pthread_mutex_unlock(&st->mu);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

const char *store_path(const struct store *st)
{
	return st->path;
}

int store_is_sealed(const struct store *st)
{
	return st->sealed ? 1 : 0;
}

uint32_t store_serial(const struct store *st)
{
	return st->serial;
}

const uint8_t *store_device_secret(const struct store *st)
{
	return st->secret;
}

/* --- records ------------------------------------------------------------ */

static bool ns_ok(const char *ns)
{
	size_t n;

	if (ns == NULL)
		return false;
	n = strnlen(ns, STORE_MAX_NS + 1);
	return n > 0 && n <= STORE_MAX_NS;
}

static bool key_ok(const void *key, size_t key_len)
{
	return key_len <= STORE_MAX_KEY && (key != NULL || key_len == 0);
}

/* Every record call enters here. Inside a transaction that already
 * failed, nothing more runs: the caller must end it, and it cannot
 * commit. */
static int op_enter(struct store *st)
{
	pthread_mutex_lock(&st->mu);
	if (st->in_txn && st->txn_err != STORE_OK) {
		pthread_mutex_unlock(&st->mu);
		return st->txn_err;
	}
	return STORE_OK;
}

/* Logs a SQLite failure of st and, inside a transaction, poisons it. */
static int op_fail(struct store *st, int rc, const char *what)
{
	int r = map_sqlite(rc);

	log_warn("store: %s in %s: %s", what, st->path, sqlite3_errmsg(st->db));
	if (st->in_txn && st->txn_err == STORE_OK)
		st->txn_err = r;
	return r;
}

static void bind_record(sqlite3_stmt *s, const char *ns, const void *key,
			size_t key_len)
{
	sqlite3_bind_text(s, 1, ns, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, key_len > 0 ? key : empty_blob, (int)key_len,
			  SQLITE_STATIC);
}

static void stmt_done(sqlite3_stmt *s)
{
	sqlite3_reset(s);
	sqlite3_clear_bindings(s);
}

/* Copies column col's blob into a fresh malloc'd buffer. */
static int copy_col(sqlite3_stmt *s, int col, uint8_t **val, size_t *val_len)
{
	const void *p = sqlite3_column_blob(s, col);
	int n = sqlite3_column_bytes(s, col);
	uint8_t *copy = malloc(n > 0 ? (size_t)n : 1);

	if (copy == NULL)
		return STORE_IO;
	if (n > 0)
		memcpy(copy, p, (size_t)n);
	*val = copy;
	*val_len = (size_t)n;
	return STORE_OK;
}

/* Column col of s, a sealed value of record (ns, key), opened into a
 * fresh buffer. One that fails its check is damaged (or altered) data:
 * STORE_CORRUPT, which does not poison a transaction (a read changed
 * nothing). */
static int open_column(struct store *st, sqlite3_stmt *s, int col,
		       const char *ns, const void *key, size_t key_len,
		       uint8_t **val, size_t *val_len)
{
	const uint8_t *p = sqlite3_column_blob(s, col);
	size_t n = (size_t)sqlite3_column_bytes(s, col);
	int r = open_record(st->seal_key, ns, key, key_len,
			    p != NULL ? p : empty_blob, n, val, val_len);

	if (r == STORE_CORRUPT)
		log_warn("store: a sealed record of %s in %s fails its check "
			 "(damaged or altered)", ns, st->path);
	return r;
}

int store_get(struct store *st, const char *ns, const void *key,
	      size_t key_len, uint8_t **val, size_t *val_len)
{
	sqlite3_stmt *s;
	int rc, r;

	if (val == NULL || val_len == NULL)
		return STORE_INVALID;
	*val = NULL;
	*val_len = 0;
	if (st == NULL || !ns_ok(ns) || !key_ok(key, key_len))
		return STORE_INVALID;
	r = op_enter(st);
	if (r != STORE_OK)
		return r;
	s = st->stmt[STMT_GET];
	bind_record(s, ns, key, key_len);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW && st->sealed)
		r = open_column(st, s, 0, ns, key, key_len, val, val_len);
	else if (rc == SQLITE_ROW)
		r = copy_col(s, 0, val, val_len);
	else if (rc == SQLITE_DONE)
		r = STORE_NOT_FOUND;
	else
		r = op_fail(st, rc, "reading a record");
	stmt_done(s);
	pthread_mutex_unlock(&st->mu);
	return r;
}

void store_free_value(uint8_t *val, size_t val_len)
{
	if (val == NULL)
		return;
	crypto_wipe(val, val_len);
	free(val);
}

int store_clear_keeping(struct store *st, const char *ns,
			const struct store_key *keep, size_t n)
{
	uint8_t *val[STORE_KEEP_MAX] = { NULL };
	size_t len[STORE_KEEP_MAX] = { 0 };
	int err = n <= STORE_KEEP_MAX ? STORE_OK : STORE_INVALID;

	for (size_t i = 0; i < n && err == STORE_OK; i++) {
		err = store_get(st, ns, keep[i].key, keep[i].len, &val[i],
				&len[i]);
		if (err == STORE_NOT_FOUND) {
			val[i] = NULL;
			err = STORE_OK;
		}
	}
	if (err == STORE_OK)
		err = store_clear(st, ns);
	for (size_t i = 0; i < n && err == STORE_OK; i++)
		if (val[i] != NULL)
			err = store_put(st, ns, keep[i].key, keep[i].len,
					val[i], len[i]);
	for (size_t i = 0; i < n && i < STORE_KEEP_MAX; i++)
		store_free_value(val[i], len[i]);
	return err;
}

int store_get_into(struct store *st, const char *ns, const void *key,
		   size_t key_len, uint8_t *buf, size_t cap, size_t *len)
{
	uint8_t *val = NULL;
	size_t val_len = 0;
	int err = store_get(st, ns, key, key_len, &val, &val_len);

	if (err != STORE_OK)
		return err;
	if (val_len > cap) {
		err = STORE_CORRUPT;
	} else {
		if (val_len != 0)
			memcpy(buf, val, val_len);
		*len = val_len;
	}
	store_free_value(val, val_len);
	return err;
}

int store_put(struct store *st, const char *ns, const void *key,
	      size_t key_len, const void *val, size_t val_len)
{
	uint8_t *sealed = NULL;
	size_t sealed_len = 0;
	sqlite3_stmt *s;
	int rc, r;

	if (st == NULL || !ns_ok(ns) || !key_ok(key, key_len) ||
	    val_len > STORE_MAX_VAL || (val == NULL && val_len > 0))
		return STORE_INVALID;
	r = op_enter(st);
	if (r != STORE_OK)
		return r;
	if (st->sealed) {
		r = seal_record(st->seal_key, ns, key, key_len, val, val_len,
				&sealed, &sealed_len);
		if (r != STORE_OK) {
			if (st->in_txn && st->txn_err == STORE_OK)
				st->txn_err = r;
			pthread_mutex_unlock(&st->mu);
			return r;
		}
		val = sealed;
		val_len = sealed_len;
	}
	s = st->stmt[STMT_PUT];
	bind_record(s, ns, key, key_len);
	sqlite3_bind_blob(s, 3, val_len > 0 ? val : empty_blob, (int)val_len,
			  SQLITE_STATIC);
	rc = sqlite3_step(s);
	r = rc == SQLITE_DONE ? STORE_OK : op_fail(st, rc, "writing a record");
	stmt_done(s);
	pthread_mutex_unlock(&st->mu);
	free(sealed);
	return r;
}

/* Replaces a record's stored bytes as they are (resealing). */
static int rewrite_value(struct store *st, const char *ns, const void *key,
			 size_t key_len, const uint8_t *v, size_t n)
{
	sqlite3_stmt *s = st->stmt[STMT_PUT];
	int rc;

	bind_record(s, ns, key, key_len);
	sqlite3_bind_blob(s, 3, n > 0 ? v : empty_blob, (int)n,
			  SQLITE_STATIC);
	rc = sqlite3_step(s);
	stmt_done(s);
	return rc == SQLITE_DONE ? STORE_OK : op_fail(st, rc, "resealing");
}

int store_del(struct store *st, const char *ns, const void *key,
	      size_t key_len)
{
	sqlite3_stmt *s;
	int rc, r;

	if (st == NULL || !ns_ok(ns) || !key_ok(key, key_len))
		return STORE_INVALID;
	r = op_enter(st);
	if (r != STORE_OK)
		return r;
	s = st->stmt[STMT_DEL];
	bind_record(s, ns, key, key_len);
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		r = op_fail(st, rc, "deleting a record");
	else if (sqlite3_changes(st->db) == 0)
		r = STORE_NOT_FOUND;
	stmt_done(s);
	pthread_mutex_unlock(&st->mu);
	return r;
}

int store_count(struct store *st, const char *ns, size_t *n)
{
	sqlite3_stmt *s;
	int rc, r;

	if (n == NULL)
		return STORE_INVALID;
	*n = 0;
	if (st == NULL || !ns_ok(ns))
		return STORE_INVALID;
	r = op_enter(st);
	if (r != STORE_OK)
		return r;
	s = st->stmt[STMT_COUNT];
	sqlite3_bind_text(s, 1, ns, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc == SQLITE_ROW)
		*n = (size_t)sqlite3_column_int64(s, 0);
	else
		r = op_fail(st, rc, "counting records");
	stmt_done(s);
	pthread_mutex_unlock(&st->mu);
	return r;
}

/* Walks with its own statement so that cb may call back into the store
 * (even store_foreach). Changes cb makes outside a transaction commit
 * when the walk ends. */
static int walk(struct store *st, sqlite3_stmt *s, const char *ns,
		store_each_fn cb, void *arg)
{
	int rc, r = STORE_OK;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const uint8_t *k = sqlite3_column_blob(s, 0);
		size_t kl = (size_t)sqlite3_column_bytes(s, 0);
		const uint8_t *v = sqlite3_column_blob(s, 1);
		size_t vl = (size_t)sqlite3_column_bytes(s, 1);
		uint8_t *open = NULL;
		size_t open_len = 0;

		if (k == NULL)
			k = empty_blob;
		if (st->sealed) {
			/* One that fails its check goes to cb as an empty
			 * value (damaged), so the others are still seen. */
			r = open_column(st, s, 1, ns, k, kl, &open, &open_len);
			if (r == STORE_IO)
				goto out;
			v = open;
			vl = open_len;
		}
		r = cb(arg, k, kl, v != NULL ? v : empty_blob, vl);
		store_free_value(open, open_len);
		if (r != 0)
			goto out;
	}
	if (rc != SQLITE_DONE)
		r = op_fail(st, rc, "walking records");
out:
	return r;
}

int store_foreach(struct store *st, const char *ns, store_each_fn cb,
		  void *arg)
{
	sqlite3_stmt *s = NULL;
	int rc, r;

	if (st == NULL || !ns_ok(ns) || cb == NULL)
		return STORE_INVALID;
	r = op_enter(st);
	if (r != STORE_OK)
		return r;
	rc = sqlite3_prepare_v2(st->db, "SELECT k, v FROM kv WHERE ns = ?1 "
				"ORDER BY k", -1, &s, NULL);
	if (rc != SQLITE_OK) {
		r = op_fail(st, rc, "walking records");
		goto out;
	}
	sqlite3_bind_text(s, 1, ns, -1, SQLITE_STATIC);
	r = walk(st, s, ns, cb, arg);
out:
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->mu);
	return r;
}

/* The smallest key above every key that starts with prefix: prefix
 * without its trailing FF bytes, last byte plus one. Returns its length,
 * 0 when there is none (prefix empty or all FF). */
static size_t prefix_end(const uint8_t *prefix, size_t len, uint8_t *end)
{
	while (len > 0 && prefix[len - 1] == 0xFF)
		len--;
	if (len == 0)
		return 0;
	memcpy(end, prefix, len);
	end[len - 1]++;
	return len;
}

int store_foreach_prefix(struct store *st, const char *ns,
			 const void *prefix, size_t prefix_len,
			 store_each_fn cb, void *arg)
{
	/* A key range, so SQLite walks the (ns, k) index and not the table. */
	static const char *const sql[2] = {
		"SELECT k, v FROM kv WHERE ns = ?1 AND k >= ?2 ORDER BY k",
		"SELECT k, v FROM kv WHERE ns = ?1 AND k >= ?2 AND k < ?3 "
		"ORDER BY k",
	};
	uint8_t end[STORE_MAX_KEY];
	sqlite3_stmt *s = NULL;
	size_t end_len;
	int rc, r;

	if (st == NULL || !ns_ok(ns) || cb == NULL ||
	    (prefix == NULL && prefix_len > 0) || prefix_len > STORE_MAX_KEY)
		return STORE_INVALID;
	end_len = prefix_end(prefix, prefix_len, end);
	r = op_enter(st);
	if (r != STORE_OK)
		return r;
	rc = sqlite3_prepare_v2(st->db, sql[end_len > 0], -1, &s, NULL);
	if (rc != SQLITE_OK) {
		r = op_fail(st, rc, "walking records");
		goto out;
	}
	sqlite3_bind_text(s, 1, ns, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, prefix_len ? prefix : "", (int)prefix_len,
			  SQLITE_STATIC);
	if (end_len > 0)
		sqlite3_bind_blob(s, 3, end, (int)end_len, SQLITE_STATIC);
	r = walk(st, s, ns, cb, arg);
out:
	sqlite3_finalize(s);
	pthread_mutex_unlock(&st->mu);
	return r;
}

int store_clear(struct store *st, const char *ns)
{
	sqlite3_stmt *s;
	int rc, r;

	if (st == NULL || !ns_ok(ns))
		return STORE_INVALID;
	r = op_enter(st);
	if (r != STORE_OK)
		return r;
	s = st->stmt[STMT_CLEAR];
	sqlite3_bind_text(s, 1, ns, -1, SQLITE_STATIC);
	rc = sqlite3_step(s);
	if (rc != SQLITE_DONE)
		r = op_fail(st, rc, "clearing records");
	stmt_done(s);
	pthread_mutex_unlock(&st->mu);
	return r;
}

/* --- sealing, adding, changing and removing ------------------------------ */

/* The records in (ns, k) order, one at a time from after the last one, so
 * no statement is walking kv while a value is rewritten. */
static int reseal_records(struct store *st, const uint8_t *next_key)
{
	static const char first[] = "SELECT ns, k, v FROM kv ORDER BY ns, k "
				    "LIMIT 1";
	static const char after[] = "SELECT ns, k, v FROM kv WHERE (ns, k) > "
				    "(?1, ?2) ORDER BY ns, k LIMIT 1";
	char ns[STORE_MAX_NS + 1];
	uint8_t k[STORE_MAX_KEY];
	size_t k_len = 0;
	bool started = false;
	int r = STORE_OK;

	for (;;) {
		sqlite3_stmt *s = NULL;
		uint8_t *plain = NULL, *sealed = NULL;
		size_t plain_len = 0, sealed_len = 0;
		const unsigned char *t;
		const void *kp;
		int rc = sqlite3_prepare_v2(st->db, started ? after : first,
					    -1, &s, NULL);

		if (rc == SQLITE_OK && started)
			bind_record(s, ns, k, k_len);
		if (rc == SQLITE_OK)
			rc = sqlite3_step(s);
		if (rc == SQLITE_DONE) {
			sqlite3_finalize(s);
			break;
		}
		if (rc != SQLITE_ROW) {
			r = op_fail(st, rc, "resealing");
			sqlite3_finalize(s);
			break;
		}
		t = sqlite3_column_text(s, 0);
		kp = sqlite3_column_blob(s, 1);
		k_len = (size_t)sqlite3_column_bytes(s, 1);
		if (t == NULL || !ns_ok((const char *)t) ||
		    k_len > STORE_MAX_KEY) {
			r = STORE_CORRUPT;
			sqlite3_finalize(s);
			break;
		}
		snprintf(ns, sizeof(ns), "%s", (const char *)t);
		if (k_len > 0)
			memcpy(k, kp, k_len);
		started = true;
		r = st->sealed ? open_column(st, s, 2, ns, k, k_len, &plain,
					     &plain_len)
			       : copy_col(s, 2, &plain, &plain_len);
		sqlite3_finalize(s);
		if (r == STORE_OK && next_key != NULL)
			r = seal_record(next_key, ns, k, k_len, plain,
					plain_len, &sealed, &sealed_len);
		if (r == STORE_OK)
			r = rewrite_value(st, ns, k, k_len,
					  sealed != NULL ? sealed : plain,
					  sealed != NULL ? sealed_len
							 : plain_len);
		store_free_value(plain, plain_len);
		free(sealed);
		if (r != STORE_OK)
			break;
	}
	crypto_wipe(k, sizeof(k));
	return r;
}

/* After a commit that changed the sealing: fold the log into the file,
 * rebuild the file (VACUUM: no free page or old cell keeps an old value;
 * secure_delete zeroes what is freed), and empty the log again. */
static int scrub(struct store *st)
{
	int rc = exec_sql(st->db, "PRAGMA wal_checkpoint(TRUNCATE)");

	if (rc == SQLITE_OK)
		rc = exec_sql(st->db, "VACUUM");
	if (rc == SQLITE_OK)
		rc = exec_sql(st->db, "PRAGMA wal_checkpoint(TRUNCATE)");
	return rc;
}

static int reseal_txn(struct store *st, const struct seal_meta *m,
		      const uint8_t *next_key)
{
	int rc = exec_sql(st->db, "BEGIN IMMEDIATE");
	int r;

	if (rc != SQLITE_OK)
		return op_fail(st, rc, "starting a transaction");
	r = reseal_records(st, next_key);
	if (r == STORE_OK) {
		rc = seal_meta_write(st->db, m);
		if (rc == SQLITE_OK)
			rc = meta_put_secret(st->db, next_key, st->secret);
		if (rc == SQLITE_OK)
			rc = exec_sql(st->db, "COMMIT");
		if (rc != SQLITE_OK)
			r = op_fail(st, rc, "resealing");
	}
	if (r != STORE_OK && !sqlite3_get_autocommit(st->db))
		exec_sql(st->db, "ROLLBACK");
	return r;
}

int store_reseal(struct store *st, const struct store_seal *next, char *err,
		 size_t errlen)
{
	struct seal_meta m;
	uint8_t key[SEAL_KEY_LEN] = { 0 };
	int r;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (st == NULL)
		return set_err(err, errlen, STORE_INVALID, "no state file");
	if (next != NULL && !seal_arg_ok(next))
		return set_err(err, errlen, STORE_INVALID, "state file %s: the "
			       "new passphrase or key file is empty or too "
			       "long (at most %d bytes)", st->path,
			       STORE_SEAL_SECRET_MAX);
	if (next == NULL && !st->sealed)
		return set_err(err, errlen, STORE_INVALID, "state file %s is "
			       "not sealed", st->path);
	if (next != NULL && seal_new(next, &m, key) != 0) {
		r = set_err(err, errlen, STORE_IO, "state file %s: the sealing "
			    "key derivation failed", st->path);
		goto out;
	}
	pthread_mutex_lock(&st->mu);
	if (st->in_txn) {
		pthread_mutex_unlock(&st->mu);
		r = set_err(err, errlen, STORE_INVALID, "state file %s: "
			    "cannot reseal inside a transaction", st->path);
		goto out;
	}
	r = reseal_txn(st, next != NULL ? &m : NULL,
		       next != NULL ? key : NULL);
	if (r != STORE_OK) {
		pthread_mutex_unlock(&st->mu);
		set_err(err, errlen, r, "state file %s: resealing failed (%s); "
			"nothing was changed", st->path, store_strerror(r));
		goto out;
	}
	st->sealed = next != NULL;
	memcpy(st->seal_key, key, sizeof(key));
	if (scrub(st) != SQLITE_OK)
		r = set_err(err, errlen, STORE_IO, "state file %s: resealed, "
			    "but rebuilding the file failed (%s): old values "
			    "may remain in it until it is rebuilt", st->path,
			    sqlite3_errmsg(st->db));
	pthread_mutex_unlock(&st->mu);
out:
	crypto_wipe(key, sizeof(key));
	crypto_wipe(&m, sizeof(m));
	return r;
}

/* --- copies: backups and migration -------------------------------------- */

/* Read-only opening: a regular, non-empty file, checked as store_open
 * checks one, but never written to. */
static int readonly_open(struct store *st, const struct store_seal *seal,
			 char *err, size_t errlen)
{
	char name[PATH_MAX];
	struct stat sb;
	int version = 0, rc, r;

	if (stat(st->path, &sb) != 0)
		return set_err(err, errlen, errno == ENOENT ? STORE_NOT_FOUND
				: STORE_IO, "cannot read %s: %s", st->path,
				strerror(errno));
	if (!S_ISREG(sb.st_mode) || sb.st_size == 0)
		return set_err(err, errlen, STORE_CORRUPT, "%s is not a vkey "
			       "state file (not a regular file, or empty)",
			       st->path);
	if (sqlite_name(name, sizeof(name), st->path) != 0)
		return set_err(err, errlen, STORE_INVALID,
			       "state file path is too long");
	rc = db_connect_as(&st->db, name, SQLITE_OPEN_READONLY |
			   SQLITE_OPEN_FULLMUTEX);
	if (rc != SQLITE_OK)
		return open_err(NULL, rc, st->path, err, errlen);
	r = db_check(st, &version, err, errlen);
	if (r == STORE_OK)
		r = seal_load(st, seal, err, errlen);
	if (r == STORE_OK)
		r = load_identity(st, err, errlen);
	if (r == STORE_OK)
		r = prepare_all(st, err, errlen);
	return r;
}

int store_open_readonly(struct store **out, const char *path,
			const struct store_seal *seal, char *err,
			size_t errlen)
{
	struct store *st = NULL;
	int r;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	r = check_open_args(out, path, NULL, err, errlen);
	if (r == STORE_OK && seal != NULL && !seal_arg_ok(seal))
		r = set_err(err, errlen, STORE_INVALID, "%s: the passphrase "
			    "or key file is empty or too long (at most %d "
			    "bytes)", path, STORE_SEAL_SECRET_MAX);
	if (r != STORE_OK)
		return r;
	*out = NULL;
	r = store_alloc(&st, path);
	if (r != STORE_OK)
		return set_err(err, errlen, r, "%s: out of memory", path);
	r = readonly_open(st, seal, err, errlen);
	if (r == STORE_OK) {
		*out = st;
		st = NULL; /* transferred */
	}
	store_close(st);
	return r;
}

/* Takes the lock of the file a copy would replace, when it has one: a
 * file some store opened always has one, so a copy never replaces a
 * file a daemon holds. No lock file: no store ever opened path (*fd
 * stays -1), and none is left behind for a backup. */
static int copy_lock(const char *path, int *fd, char *err, size_t errlen)
{
	struct flock fl = { .l_type = F_WRLCK, .l_whence = SEEK_SET };
	char lpath[PATH_MAX];
	int r;

	*fd = -1;
	if (path_with(lpath, sizeof(lpath), path, ".lock") != 0)
		return set_err(err, errlen, STORE_INVALID, "path %s is too "
			       "long", path);
	*fd = open(lpath, O_RDWR | O_CLOEXEC | O_NOFOLLOW);
	if (*fd < 0)
		return errno == ENOENT ? STORE_OK
		       : set_err(err, errlen, STORE_IO, "cannot open lock "
				 "file %s: %s", lpath, strerror(errno));
	if (fcntl(*fd, F_OFD_SETLK, &fl) == 0)
		return STORE_OK;
	if (errno == EAGAIN || errno == EACCES)
		r = locked_err(*fd, path, err, errlen);
	else
		r = set_err(err, errlen, STORE_IO, "cannot lock %s: %s",
			    lpath, strerror(errno));
	close(*fd);
	*fd = -1;
	return r;
}

/* One record of st (row s: ns, k, v) into dst's insert statement, its
 * value opened under st's sealing and sealed under dkey (NULL: clear). */
static int copy_record(struct store *st, sqlite3_stmt *s, sqlite3_stmt *ins,
		       const uint8_t *dkey, char *err, size_t errlen)
{
	const unsigned char *t = sqlite3_column_text(s, 0);
	const void *k = sqlite3_column_blob(s, 1);
	size_t kl = (size_t)sqlite3_column_bytes(s, 1);
	uint8_t *plain = NULL, *sealed = NULL;
	size_t pl = 0, sl = 0;
	const char *ns = (const char *)t;
	int rc, r;

	if (t == NULL || !ns_ok(ns) || kl > STORE_MAX_KEY)
		return set_err(err, errlen, STORE_CORRUPT, "state file %s is "
			       "damaged (a record has no valid name); "
			       "nothing was written", st->path);
	if (k == NULL)
		k = empty_blob;
	r = st->sealed ? open_column(st, s, 2, ns, k, kl, &plain, &pl)
		       : copy_col(s, 2, &plain, &pl);
	if (r == STORE_CORRUPT) {
		set_err(err, errlen, r, "state file %s: a record of %s fails "
			"its check (damaged or altered); nothing was written",
			st->path, ns);
		goto out;
	}
	if (r == STORE_OK && dkey != NULL)
		r = seal_record(dkey, ns, k, kl, plain, pl, &sealed, &sl);
	if (r != STORE_OK) {
		set_err(err, errlen, r, "copying %s: %s", st->path,
			store_strerror(r));
		goto out;
	}
	sqlite3_bind_text(ins, 1, ns, -1, SQLITE_TRANSIENT);
	sqlite3_bind_blob(ins, 2, k, (int)kl, SQLITE_TRANSIENT);
	if (sealed != NULL)
		sqlite3_bind_blob(ins, 3, sealed, (int)sl, SQLITE_STATIC);
	else
		sqlite3_bind_blob(ins, 3, pl > 0 ? plain : empty_blob,
				  (int)pl, SQLITE_STATIC);
	rc = sqlite3_step(ins);
	sqlite3_reset(ins);
	sqlite3_clear_bindings(ins);
	if (rc != SQLITE_DONE)
		r = set_err(err, errlen, map_sqlite(rc), "cannot write the "
			    "copy of %s: %s", st->path, sqlite3_errstr(rc));
out:
	store_free_value(plain, pl);
	free(sealed);
	return r;
}

/* Every record of st into dst, inside dst's transaction. One statement
 * walks st: a single read, so the copy is one consistent state. */
static int copy_records(struct store *st, sqlite3 *dst, const uint8_t *dkey,
			char *err, size_t errlen)
{
	sqlite3_stmt *s = NULL, *ins = NULL;
	int rc, r = STORE_OK;

	rc = sqlite3_prepare_v2(st->db, "SELECT ns, k, v FROM kv ORDER BY "
				"ns, k", -1, &s, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(dst, "INSERT INTO kv(ns, k, v) "
					"VALUES(?1, ?2, ?3)", -1, &ins, NULL);
	if (rc != SQLITE_OK) {
		r = set_err(err, errlen, map_sqlite(rc), "cannot copy %s: %s",
			    st->path, sqlite3_errstr(rc));
		goto out;
	}
	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		r = copy_record(st, s, ins, dkey, err, errlen);
		if (r != STORE_OK)
			goto out;
	}
	if (rc != SQLITE_DONE)
		r = set_err(err, errlen, map_sqlite(rc), "cannot read state "
			    "file %s: %s", st->path, sqlite3_errmsg(st->db));
out:
	sqlite3_finalize(s);
	sqlite3_finalize(ins);
	return r;
}

/* The copy in the new file tmp, in one transaction: schema, sealing
 * parameters m (NULL: not sealed), st's identity and records. */
static int copy_build(struct store *st, const char *tmp,
		      const struct seal_meta *m, const uint8_t *dkey,
		      char *err, size_t errlen)
{
	char name[PATH_MAX], sql[64];
	sqlite3 *db = NULL;
	int rc, r;

	if (sqlite_name(name, sizeof(name), tmp) != 0)
		return set_err(err, errlen, STORE_INVALID, "path %s is too "
			       "long", tmp);
	snprintf(sql, sizeof(sql), "PRAGMA application_id = %d", STORE_APP_ID);
	rc = db_connect(&db, name);
	if (rc == SQLITE_OK)
		rc = exec_sql(db, "PRAGMA synchronous = FULL; BEGIN IMMEDIATE");
	if (rc == SQLITE_OK)
		rc = exec_sql(db, sql);
	if (rc == SQLITE_OK)
		rc = migrate(db, 0);
	if (rc == SQLITE_OK && m != NULL)
		rc = seal_meta_write(db, m);
	if (rc == SQLITE_OK)
		rc = insert_meta(db, "serial", NULL, 0, st->serial);
	if (rc == SQLITE_OK)
		rc = meta_put_secret(db, dkey, st->secret);
	if (rc != SQLITE_OK) {
		r = open_err(db, rc, tmp, err, errlen);
		goto out;
	}
	r = copy_records(st, db, dkey, err, errlen);
	if (r == STORE_OK) {
		rc = exec_sql(db, "COMMIT");
		if (rc != SQLITE_OK)
			r = open_err(db, rc, tmp, err, errlen);
	}
out:
	sqlite3_close(db); /* an open transaction rolls back */
	return r;
}

/* Gives the finished copy path's name. Replacing: only a regular file,
 * and the side files SQLite kept for it go first (an old log would be
 * applied to the new file). */
static int copy_publish(const char *tmp, const char *path, bool replace,
			char *err, size_t errlen)
{
	static const char *const side_files[] = { "-wal", "-shm", "-journal" };
	struct stat sb;

	if (!replace) {
		if (publish(tmp, path) == 0)
			return STORE_OK;
		if (errno == EEXIST)
			return set_err(err, errlen, STORE_EXISTS, "%s exists; "
				       "it was left unchanged", path);
		return set_err(err, errlen, STORE_IO, "cannot create %s: %s",
			       path, strerror(errno));
	}
	if (lstat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
		return set_err(err, errlen, STORE_INVALID, "%s is not a "
			       "regular file; it was left unchanged", path);
	for (size_t i = 0; i < sizeof(side_files) / sizeof(side_files[0]);
	     i++) {
		char p[PATH_MAX];

		if (path_with(p, sizeof(p), path, side_files[i]) == 0)
			unlink(p);
	}
	if (rename(tmp, path) != 0)
		return set_err(err, errlen, STORE_IO, "cannot replace %s: %s",
			       path, strerror(errno));
	return STORE_OK;
}

/* A new empty 0600 file beside path for the copy; its name in tmp. */
static int copy_tmp(const char *path, char *tmp, size_t cap, char *err,
		    size_t errlen)
{
	int fd;

	if (path_with(tmp, cap, path, ".XXXXXX") != 0)
		return set_err(err, errlen, STORE_INVALID, "path %s is too "
			       "long", path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0 || fchmod(fd, 0600) != 0) {
		int e = errno;

		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		tmp[0] = '\0';
		return set_err(err, errlen, STORE_IO, "cannot create a file "
			       "beside %s: %s", path, strerror(e));
	}
	close(fd);
	return STORE_OK;
}

static void copy_tmp_drop(const char *tmp)
{
	char j[PATH_MAX];

	if (tmp[0] == '\0')
		return;
	if (path_with(j, sizeof(j), tmp, "-journal") == 0)
		unlink(j);
	unlink(tmp);
}

int store_copy_to(struct store *st, const char *path,
		  const struct store_seal *seal, unsigned flags, char *err,
		  size_t errlen)
{
	struct seal_meta m;
	uint8_t key[SEAL_KEY_LEN] = { 0 };
	char tmp[PATH_MAX] = "";
	struct stat sb;
	int lock_fd = -1, r;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	memset(&m, 0, sizeof(m));
	if (st == NULL || path == NULL || path[0] == '\0' ||
	    (flags & ~STORE_COPY_REPLACE) != 0)
		return set_err(err, errlen, STORE_INVALID, "no state file or "
			       "no path to copy it to");
	if (seal != NULL && !seal_arg_ok(seal))
		return set_err(err, errlen, STORE_INVALID, "%s: the passphrase "
			       "or key file is empty or too long (at most %d "
			       "bytes)", path, STORE_SEAL_SECRET_MAX);
	if (!(flags & STORE_COPY_REPLACE) && lstat(path, &sb) == 0)
		return set_err(err, errlen, STORE_EXISTS, "%s exists; it was "
			       "left unchanged", path);
	r = make_parents(path, err, errlen);
	if (r == STORE_OK)
		r = copy_lock(path, &lock_fd, err, errlen);
	if (r != STORE_OK)
		goto out;
	/* The key derivation (the slow part) before st is held. */
	if (seal != NULL && seal_new(seal, &m, key) != 0) {
		r = set_err(err, errlen, STORE_IO, "%s: the sealing key "
			    "derivation failed (out of memory?)", path);
		goto out;
	}
	r = copy_tmp(path, tmp, sizeof(tmp), err, errlen);
	if (r != STORE_OK)
		goto out;
	pthread_mutex_lock(&st->mu);
	if (st->in_txn)
		r = set_err(err, errlen, STORE_INVALID, "state file %s: "
			    "cannot copy inside a transaction", st->path);
	else
		r = copy_build(st, tmp, seal != NULL ? &m : NULL,
			       seal != NULL ? key : NULL, err, errlen);
	pthread_mutex_unlock(&st->mu);
	if (r == STORE_OK)
		r = copy_publish(tmp, path, flags & STORE_COPY_REPLACE, err,
				 errlen);
	if (r == STORE_OK) {
		tmp[0] = '\0'; /* it is path now */
		fsync_dir(path);
	}
out:
	copy_tmp_drop(tmp);
	if (lock_fd >= 0)
		close(lock_fd);
	crypto_wipe(key, sizeof(key));
	crypto_wipe(&m, sizeof(m));
	return r;
}

/* --- transactions ------------------------------------------------------- */

/* IMMEDIATE takes the write lock now, so that the commit cannot fail for
 * want of it. On success the mutex stays held until commit or rollback:
 * begin and end must come from the same thread. */
int store_begin(struct store *st)
{
	int rc, r = STORE_INVALID;

	if (st == NULL)
		return STORE_INVALID;
	pthread_mutex_lock(&st->mu);
	if (st->in_txn)
		goto out; /* not nestable */
	rc = exec_sql(st->db, "BEGIN IMMEDIATE");
	if (rc != SQLITE_OK) {
		r = op_fail(st, rc, "starting a transaction");
		goto out;
	}
	st->in_txn = true;
	st->txn_err = STORE_OK;
	return STORE_OK; /* the mutex stays held */
out:
	pthread_mutex_unlock(&st->mu);
	return r;
}

/* Commits, or (when a change in it failed, or the commit itself fails)
 * rolls back and returns why. Either way the transaction is over. */
int store_commit(struct store *st)
{
	int rc, r;

	if (st == NULL)
		return STORE_INVALID;
	pthread_mutex_lock(&st->mu);
	if (!st->in_txn) {
		pthread_mutex_unlock(&st->mu);
		return STORE_INVALID;
	}
	r = st->txn_err;
	if (r == STORE_OK) {
		rc = exec_sql(st->db, "COMMIT");
		if (rc != SQLITE_OK)
			r = op_fail(st, rc, "committing");
	}
	txn_end(st);
	pthread_mutex_unlock(&st->mu);
	return r;
}

void store_rollback(struct store *st)
{
	if (st == NULL)
		return;
	pthread_mutex_lock(&st->mu);
	if (st->in_txn)
		txn_end(st);
	pthread_mutex_unlock(&st->mu);
}

const char *store_strerror(int err)
{
	switch (err) {
	case STORE_OK:
		return "success";
	case STORE_NOT_FOUND:
		return "no such record";
	case STORE_LOCKED:
		return "state file in use by another process or key";
	case STORE_CORRUPT:
		return "not a vkey state file, truncated or damaged";
	case STORE_IO:
		return "input/output error";
	case STORE_FULL:
		return "disk full";
	case STORE_TOO_NEW:
		return "state file written by a newer vkey";
	case STORE_INVALID:
		return "invalid argument";
	case STORE_SEALED:
		return "state file sealed: wrong or missing passphrase or "
		       "key file";
	case STORE_EXISTS:
		return "the file exists";
	}
	return "unknown store error";
}
