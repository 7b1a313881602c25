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
static int db_connect(sqlite3 **out, const char *name)
{
	int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_FULLMUTEX;
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

/* Fresh identity from the OS RNG: never derived from anything else. */
static int insert_identity(sqlite3 *db)
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
		rc = insert_meta(db, "device_secret", secret, sizeof(secret), 0);
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

/* Application id, schema and identity, all in one transaction. */
static int init_schema(sqlite3 *db)
{
	char sql[64];
	int rc;

	snprintf(sql, sizeof(sql), "PRAGMA application_id = %d", STORE_APP_ID);
	rc = exec_sql(db, "PRAGMA synchronous = FULL; BEGIN IMMEDIATE");
	if (rc == SQLITE_OK)
		rc = exec_sql(db, sql);
	if (rc == SQLITE_OK)
		rc = migrate(db, 0);
	if (rc == SQLITE_OK)
		rc = insert_identity(db);
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
static int init_file(const char *path, char *err, size_t errlen)
{
	char tmp[PATH_MAX], name[PATH_MAX];
	sqlite3 *db = NULL;
	int fd = -1, rc, r;

	if (path_with(tmp, sizeof(tmp), path, ".init") != 0 ||
	    sqlite_name(name, sizeof(name), tmp) != 0)
		return set_err(err, errlen, STORE_INVALID,
			       "state file path is too long");
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
		rc = init_schema(db);
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
static int ensure_file(const char *path, char *err, size_t errlen)
{
	struct stat sb;

	drop_leftovers(path);
	if (stat(path, &sb) != 0) {
		if (errno == ENOENT)
			return init_file(path, err, errlen);
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
	    sqlite3_column_bytes(s, 0) != STORE_DEVICE_SECRET_LEN)
		goto out;
	memcpy(st->secret, sqlite3_column_blob(s, 0), sizeof(st->secret));
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

static int db_open(struct store *st, char *err, size_t errlen)
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
	struct store *st = NULL;
	int r;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	r = check_open_args(out, path, ctl, err, errlen);
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
		r = ensure_file(path, err, errlen);
	if (r == STORE_OK)
		r = db_open(st, err, errlen);
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
	pthread_mutex_unlock(&st->mu);
	pthread_mutex_destroy(&st->mu);
	free(st);
}

const char *store_path(const struct store *st)
{
	return st->path;
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

/* Copies a column blob into a fresh malloc'd buffer. */
static int copy_blob(sqlite3_stmt *s, uint8_t **val, size_t *val_len)
{
	const void *p = sqlite3_column_blob(s, 0);
	int n = sqlite3_column_bytes(s, 0);
	uint8_t *copy = malloc(n > 0 ? (size_t)n : 1);

	if (copy == NULL)
		return STORE_IO;
	if (n > 0)
		memcpy(copy, p, (size_t)n);
	*val = copy;
	*val_len = (size_t)n;
	return STORE_OK;
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
	if (rc == SQLITE_ROW)
		r = copy_blob(s, val, val_len);
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
	sqlite3_stmt *s;
	int rc, r;

	if (st == NULL || !ns_ok(ns) || !key_ok(key, key_len) ||
	    val_len > STORE_MAX_VAL || (val == NULL && val_len > 0))
		return STORE_INVALID;
	r = op_enter(st);
	if (r != STORE_OK)
		return r;
	s = st->stmt[STMT_PUT];
	bind_record(s, ns, key, key_len);
	sqlite3_bind_blob(s, 3, val_len > 0 ? val : empty_blob, (int)val_len,
			  SQLITE_STATIC);
	rc = sqlite3_step(s);
	r = rc == SQLITE_DONE ? STORE_OK : op_fail(st, rc, "writing a record");
	stmt_done(s);
	pthread_mutex_unlock(&st->mu);
	return r;
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
static int walk(struct store *st, sqlite3_stmt *s, store_each_fn cb,
		void *arg)
{
	int rc, r = STORE_OK;

	while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
		const uint8_t *k = sqlite3_column_blob(s, 0);
		size_t kl = (size_t)sqlite3_column_bytes(s, 0);
		const uint8_t *v = sqlite3_column_blob(s, 1);
		size_t vl = (size_t)sqlite3_column_bytes(s, 1);

		r = cb(arg, k != NULL ? k : empty_blob, kl,
		       v != NULL ? v : empty_blob, vl);
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
	r = walk(st, s, cb, arg);
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
	r = walk(st, s, cb, arg);
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
	}
	return "unknown store error";
}
