/* vkey_export / vkey_import: a key with known content (known_key.h) is
 * exported to a sealed backup that holds none of its secrets, imported
 * into new state files (in clear and sealed) where everything works as
 * before with the same serial; wrong secrets, existing and held files,
 * unsealed and damaged backups are refused with nothing written. The
 * files are inspected with SQLite directly, only to read or damage them. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "../check_key.h"
#include "known_key.h"
#include "services/store.h"

static struct check_key tk;
static struct kk_cred cred;
static uint32_t serial;
static const char backup_pass[] = "backup passphrase, long enough";
static const char state_pass[] = "the new machine's passphrase";

static struct vkey_seal vseal(const char *p)
{
	struct vkey_seal s = { (const uint8_t *)p, strlen(p) };
	return s;
}

/* --- files ---------------------------------------------------------------- */

struct blob {
	uint8_t *p;
	size_t n;
};

static struct blob slurp(const char *path)
{
	struct blob b = { NULL, 0 };
	FILE *f = fopen(path, "rb");
	long n;

	if (f == NULL)
		return b;
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	b.p = malloc(n > 0 ? (size_t)n : 1);
	if (n > 0 && fread(b.p, 1, (size_t)n, f) != (size_t)n)
		n = 0;
	b.n = (size_t)n;
	fclose(f);
	return b;
}

static int contains(const struct blob *b, const void *needle, size_t n)
{
	for (size_t i = 0; n > 0 && i + n <= b->n; i++)
		if (memcmp(b->p + i, needle, n) == 0)
			return 1;
	return 0;
}

static int same_file(const char *a, const struct blob *before)
{
	struct blob b = slurp(a);
	int same = b.n == before->n && memcmp(b.p, before->p, b.n) == 0;

	free(b.p);
	return same;
}

static int exists(const char *p)
{
	return access(p, F_OK) == 0;
}

static int file_mode(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? (int)(sb.st_mode & 0777) : -1;
}

static void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tk.dir, name);
}

/* Known secrets: every value of the unsealed source, its device secret,
 * the OATH secret and the PIV private key. */
struct needles {
	uint8_t *v[256];
	size_t n[256];
	size_t count;
};

static struct needles nd;

static void needle_add(const void *p, size_t n)
{
	if (nd.count == 256 || n < 8)
		return;
	nd.v[nd.count] = malloc(n);
	memcpy(nd.v[nd.count], p, n);
	nd.n[nd.count++] = n;
}

/* Hits of any needle in path and the files SQLite keeps beside it. */
static size_t scan(const char *path)
{
	static const char *const side[] = { "", "-wal", "-journal", "-shm" };
	size_t hits = 0;

	for (size_t s = 0; s < 4; s++) {
		char p[300];
		struct blob b;

		snprintf(p, sizeof(p), "%s%s", path, side[s]);
		b = slurp(p);
		for (size_t i = 0; i < nd.count; i++)
			hits += (size_t)contains(&b, nd.v[i], nd.n[i]);
		free(b.p);
	}
	return hits;
}

static void collect_values(const char *path)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;

	CHECK_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
		 SQLITE_OK);
	CHECK_EQ(sqlite3_prepare_v2(db, "SELECT v FROM kv UNION ALL SELECT v "
				    "FROM meta WHERE k = 'device_secret'", -1,
				    &s, NULL), SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW)
		needle_add(sqlite3_column_blob(s, 0),
			   (size_t)sqlite3_column_bytes(s, 0));
	sqlite3_finalize(s);
	sqlite3_close(db);
}

/* Flips a byte in the middle of the longest value of namespace ns. */
static void tamper(const char *path, const char *ns)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;
	uint8_t k[1024], v[8192];
	int kn = 0, vn = 0;

	CHECK_EQ(sqlite3_open(path, &db), SQLITE_OK);
	CHECK_EQ(sqlite3_prepare_v2(db, "SELECT k, v FROM kv WHERE ns = ?1 "
				    "ORDER BY length(v) DESC LIMIT 1", -1, &s, NULL),
		 SQLITE_OK);
	sqlite3_bind_text(s, 1, ns, -1, SQLITE_STATIC);
	if (sqlite3_step(s) == SQLITE_ROW) {
		kn = sqlite3_column_bytes(s, 0);
		vn = sqlite3_column_bytes(s, 1);
		CHECK(kn > 0 && kn <= (int)sizeof(k) && vn > 30 &&
		      vn <= (int)sizeof(v));
		memcpy(k, sqlite3_column_blob(s, 0), (size_t)kn);
		memcpy(v, sqlite3_column_blob(s, 1), (size_t)vn);
	}
	sqlite3_finalize(s);
	CHECK(vn > 30);
	v[vn / 2] ^= 0x01;
	CHECK_EQ(sqlite3_prepare_v2(db, "UPDATE kv SET v = ?3 WHERE ns = ?1 "
				    "AND k = ?2", -1, &s, NULL), SQLITE_OK);
	sqlite3_bind_text(s, 1, ns, -1, SQLITE_STATIC);
	sqlite3_bind_blob(s, 2, k, kn, SQLITE_STATIC);
	sqlite3_bind_blob(s, 3, v, vn, SQLITE_STATIC);
	CHECK_EQ(sqlite3_step(s), SQLITE_DONE);
	CHECK_EQ(sqlite3_changes(db), 1);
	sqlite3_finalize(s);
	sqlite3_close(db);
}

/* --- keys ----------------------------------------------------------------- */

static int open_at(const char *path, const char *pass, char *err,
		   size_t errlen)
{
	struct vkey_seal s = pass != NULL ? vseal(pass) : (struct vkey_seal){ 0 };
	struct vkey_options opt = { .state_path = path, .up = VKEY_UP_AUTO,
				    .seal = pass != NULL ? &s : NULL };

	return vkey_open(&key, &opt, err, errlen);
}

static void must_open(const char *path, const char *pass)
{
	char err[512];

	if (open_at(path, pass, err, sizeof(err)) != 0) {
		fprintf(stderr, "vkey_open: %s\n", err);
		exit(1);
	}
}

static void close_key(void)
{
	vkey_close(key);
	key = NULL;
}

static int export_to(const char *src, const char *src_pass, const char *to,
		     const char *pass, bool replace, char *msg, size_t cap)
{
	struct vkey_seal s = vseal(pass);
	int r;

	must_open(src, src_pass);
	r = vkey_export(key, to, &s, replace, msg, cap);
	close_key();
	return r;
}

static int import_from(const char *backup, const char *pass,
		       const char *state, const char *state_seal,
		       bool replace, char *msg, size_t cap)
{
	struct vkey_seal b = vseal(pass);
	struct vkey_seal n = state_seal != NULL ? vseal(state_seal)
						: (struct vkey_seal){ 0 };

	return vkey_import(backup, &b, state, state_seal != NULL ? &n : NULL,
			   replace, msg, cap);
}

/* --- the cases ------------------------------------------------------------ */

static char backup_path[256], plain_path[256], sealed_path[256];

static void build_key_with_known_content(void)
{
	struct blob b;

	key = check_key_begin(&tk, "backup", VKEY_UP_AUTO);
	kk_build(&cred);
	kk_works(&cred);
	serial = vkey_serial(key);
	close_key();
	path_of(backup_path, sizeof(backup_path), "key.backup");
	path_of(plain_path, sizeof(plain_path), "imported.vkey");
	path_of(sealed_path, sizeof(sealed_path), "imported-sealed.vkey");
	/* The control: the unsealed source holds what the scans look for. */
	collect_values(tk.path);
	needle_add(kk_oath_secret, sizeof(kk_oath_secret));
	needle_add(kk_piv_scalar, sizeof(kk_piv_scalar));
	CHECK(nd.count >= 10);
	b = slurp(tk.path);
	CHECK(contains(&b, kk_oath_secret, sizeof(kk_oath_secret)));
	CHECK(contains(&b, kk_piv_scalar, sizeof(kk_piv_scalar)));
	free(b.p);
	CHECK(scan(tk.path) >= nd.count);
}

static void export_holds_no_secret(void)
{
	char msg[1024], lock[300];

	CHECK_EQ(export_to(tk.path, NULL, backup_path, backup_pass, false, msg,
			   sizeof(msg)), 0);
	CHECK(strstr(msg, "exported") != NULL);
	CHECK(strstr(msg, backup_path) != NULL);
	CHECK_EQ(file_mode(backup_path), 0600);
	CHECK_EQ(scan(backup_path), 0);
	snprintf(lock, sizeof(lock), "%s.lock", backup_path);
	CHECK(!exists(lock)); /* nothing left beside the backup */
}

static void export_refuses_existing_file_unless_replace(void)
{
	struct blob before = slurp(backup_path);
	char msg[1024];

	CHECK_EQ(export_to(tk.path, NULL, backup_path, "another pass", false,
			   msg, sizeof(msg)), -1);
	CHECK(strstr(msg, "exists") != NULL && strstr(msg, "--force") != NULL);
	CHECK(same_file(backup_path, &before));
	free(before.p);
	/* The key's own state file is never a backup target. */
	must_open(tk.path, NULL);
	{
		struct vkey_seal s = vseal(backup_pass);

		CHECK_EQ(vkey_export(key, tk.path, &s, true, msg, sizeof(msg)),
			 -1);
		CHECK(strstr(msg, "already open") != NULL);
	}
	close_key();
	CHECK_EQ(export_to(tk.path, NULL, backup_path, backup_pass, true, msg,
			   sizeof(msg)), 0);
	CHECK_EQ(scan(backup_path), 0);
}

static void wrong_backup_secret_writes_nothing(void)
{
	struct blob before = slurp(backup_path);
	char msg[1024];

	CHECK_EQ(import_from(backup_path, "not the passphrase", plain_path,
			     NULL, false, msg, sizeof(msg)), -1);
	CHECK(strstr(msg, "wrong passphrase") != NULL);
	CHECK(!exists(plain_path));
	CHECK(same_file(backup_path, &before));
	free(before.p);
}

static void import_in_clear_works_as_before(void)
{
	struct blob before = slurp(backup_path);
	char msg[1024], side[300];

	CHECK_EQ(import_from(backup_path, backup_pass, plain_path, NULL, false,
			     msg, sizeof(msg)), 0);
	CHECK(strstr(msg, "imported") != NULL);
	CHECK(strstr(msg, "not sealed") != NULL);
	/* The backup is only read: not a byte changed, nothing beside it. */
	CHECK(same_file(backup_path, &before));
	free(before.p);
	snprintf(side, sizeof(side), "%s-wal", backup_path);
	CHECK(!exists(side));
	CHECK_EQ(file_mode(plain_path), 0600);
	must_open(plain_path, NULL);
	CHECK_EQ(vkey_serial(key), serial);
	CHECK_EQ(vkey_sealed(key), 0);
	kk_works(&cred);
	close_key();
}

static void import_sealed_holds_no_secret_and_works(void)
{
	char msg[1024];

	CHECK_EQ(import_from(backup_path, backup_pass, sealed_path, state_pass,
			     false, msg, sizeof(msg)), 0);
	CHECK(strstr(msg, "(sealed)") != NULL);
	CHECK_EQ(scan(sealed_path), 0);
	CHECK_EQ(open_at(sealed_path, NULL, msg, sizeof(msg)), -1);
	CHECK_EQ(open_at(sealed_path, backup_pass, msg, sizeof(msg)), -1);
	must_open(sealed_path, state_pass);
	CHECK_EQ(vkey_serial(key), serial);
	CHECK_EQ(vkey_sealed(key), 1);
	kk_works(&cred);
	close_key();
	CHECK_EQ(scan(sealed_path), 0);
}

/* A sealed source exports too, and its backup imports the same key. */
static void export_from_sealed_source(void)
{
	char b2[256], p2[256], msg[1024];

	path_of(b2, sizeof(b2), "from-sealed.backup");
	path_of(p2, sizeof(p2), "from-sealed.vkey");
	CHECK_EQ(export_to(sealed_path, state_pass, b2, backup_pass, false,
			   msg, sizeof(msg)), 0);
	CHECK_EQ(scan(b2), 0);
	CHECK_EQ(import_from(b2, backup_pass, p2, NULL, false, msg,
			     sizeof(msg)), 0);
	must_open(p2, NULL);
	CHECK_EQ(vkey_serial(key), serial);
	kk_works(&cred);
	close_key();
}

static void import_refuses_existing_and_held_state(void)
{
	struct blob before = slurp(plain_path);
	char msg[1024];

	CHECK_EQ(import_from(backup_path, backup_pass, plain_path, NULL, false,
			     msg, sizeof(msg)), -1);
	CHECK(strstr(msg, "exists") != NULL && strstr(msg, "--force") != NULL);
	CHECK(same_file(plain_path, &before));
	/* Held (as a daemon holds it): refused even with replace. */
	must_open(plain_path, NULL);
	CHECK_EQ(import_from(backup_path, backup_pass, plain_path, NULL, true,
			     msg, sizeof(msg)), -1);
	CHECK(strstr(msg, "in use") != NULL || strstr(msg, "already open"));
	CHECK_EQ(vkey_serial(key), serial);
	close_key();
	free(before.p);
	/* Not held: replaced, and the old file's log goes with it. */
	CHECK_EQ(import_from(backup_path, backup_pass, plain_path, NULL, true,
			     msg, sizeof(msg)), 0);
	must_open(plain_path, NULL);
	kk_works(&cred);
	close_key();
}

static void unsealed_file_is_not_a_backup(void)
{
	char p[256], msg[1024];

	path_of(p, sizeof(p), "never.vkey");
	CHECK_EQ(import_from(plain_path, backup_pass, p, NULL, false, msg,
			     sizeof(msg)), -1);
	CHECK(strstr(msg, "not a vkey backup") != NULL);
	CHECK(!exists(p));
	/* And export never writes one. */
	must_open(tk.path, NULL);
	CHECK_EQ(vkey_export(key, p, NULL, false, msg, sizeof(msg)), -1);
	CHECK(strstr(msg, "always sealed") != NULL);
	close_key();
	CHECK(!exists(p));
}

static void copy_file(const char *from, const char *to)
{
	struct blob b = slurp(from);
	int fd = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	CHECK(fd >= 0 && b.n > 0);
	CHECK_EQ(write(fd, b.p, b.n), (ssize_t)b.n);
	close(fd);
	free(b.p);
}

/* A flipped byte in one sealed record: the import names its namespace
 * and writes nothing. */
static void tampered_record_is_reported_nothing_written(void)
{
	static const char *const ns[] = { "oath", "piv", "openpgp" };
	char t[256], p[256], msg[1024];

	path_of(t, sizeof(t), "tampered.backup");
	path_of(p, sizeof(p), "from-tampered.vkey");
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		char want[64];

		copy_file(backup_path, t);
		tamper(t, ns[i]);
		CHECK_EQ(import_from(t, backup_pass, p, NULL, false, msg,
				     sizeof(msg)), -1);
		snprintf(want, sizeof(want), "a record of %s fails", ns[i]);
		CHECK(strstr(msg, want) != NULL);
		CHECK(!exists(p));
	}
}

/* Damaged bytes anywhere in the file: refused or reported, no crash,
 * and nothing left at the target. */
static void damaged_backup_bytes_never_crash(void)
{
	char t[256], p[256], msg[1024];
	struct blob b = slurp(backup_path);
	size_t step = b.n / 7 + 1, done = 0;

	path_of(t, sizeof(t), "damaged.backup");
	path_of(p, sizeof(p), "from-damaged.vkey");
	for (size_t off = 100; off < b.n && done < 8; off += step, done++) {
		int fd = open(t, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		b.p[off] ^= 0x41;
		CHECK_EQ(write(fd, b.p, b.n), (ssize_t)b.n);
		close(fd);
		b.p[off] ^= 0x41;
		if (import_from(t, backup_pass, p, NULL, false, msg,
				sizeof(msg)) == 0) {
			/* A byte SQLite and the sealing do not read: the
			 * imported key must then be the whole key. */
			must_open(p, NULL);
			CHECK_EQ(vkey_serial(key), serial);
			close_key();
			unlink(p);
		} else {
			CHECK(!exists(p));
			CHECK(msg[0] != '\0');
		}
	}
	/* Truncated: refused. */
	{
		int fd = open(t, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		CHECK_EQ(write(fd, b.p, b.n / 2), (ssize_t)(b.n / 2));
		close(fd);
		CHECK_EQ(import_from(t, backup_pass, p, NULL, false, msg,
				     sizeof(msg)), -1);
		CHECK(!exists(p));
	}
	free(b.p);
}

int main(void)
{
	build_key_with_known_content();
	export_holds_no_secret();
	export_refuses_existing_file_unless_replace();
	wrong_backup_secret_writes_nothing();
	import_in_clear_works_as_before();
	import_sealed_holds_no_secret_and_works();
	export_from_sealed_source();
	import_refuses_existing_and_held_state();
	unsealed_file_is_not_a_backup();
	tampered_record_is_reported_nothing_written();
	damaged_backup_bytes_never_crash();
	for (size_t i = 0; i < nd.count; i++)
		free(nd.v[i]);
	check_rmtree(tk.dir);
	return CHECK_DONE();
}
