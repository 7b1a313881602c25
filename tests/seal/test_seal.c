/* Secrets sealed at rest, through the real applets: a key holding known
 * secrets (an OATH account, changed OpenPGP and PIV PINs, a PIV key
 * imported from known private bytes, a FIDO credential, whatever the
 * applets keep of their own) is sealed, and no value of the unsealed file
 * may then appear in the state file or its log; the key works again with
 * the passphrase, refuses a wrong one without touching the file, detects
 * a flipped byte, and survives changing and removing the sealing. The
 * test reads the files with SQLite directly: only to inspect them. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <sqlite3.h>

#include "../check_key.h"
#include "../check_apdu.h"
#include "../backup/known_key.h"
#include "core/key.h"
#include "services/crypto.h"
#include "services/store.h"

/* Cheap scrypt for the test files (production uses STORE_SEAL_LOG2N). */
#define TEST_LOG2N 10

static struct check_key tk;

/* A distinctive OATH secret and the PINs the test sets. */
static const uint8_t oath_secret[20] = {
	0x5e, 0xa1, 0x7e, 0x57, 0xc0, 0xde, 0x91, 0x3b, 0x44, 0x0f,
	0xd2, 0x6a, 0x8b, 0x17, 0xe3, 0x29, 0x70, 0xbb, 0x05, 0xcd,
};
static const uint8_t oath_secret2[20] = {
	0x0b, 0xad, 0xf0, 0x0d, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66,
	0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xf1, 0x02,
};
static const char pgp_pin[] = "sealpin7319";
static const char piv_pin[] = "73195555";
static const char pass1[] = "correct horse battery staple";
static const char pass2[] = "a second, longer passphrase";
/* The FIDO credential made before sealing (known_key.h). */
static struct kk_cred seal_cred;

static struct store_seal test_seal(const char *pass)
{
	struct store_seal s = { (const uint8_t *)pass, strlen(pass),
				TEST_LOG2N };
	return s;
}

/* --- files -------------------------------------------------------------- */

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
	if (n == 0 || b->n < n)
		return 0;
	for (size_t i = 0; i + n <= b->n; i++)
		if (memcmp(b->p + i, needle, n) == 0)
			return 1;
	return 0;
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

static void path_of(char *buf, size_t len, const char *name)
{
	snprintf(buf, len, "%s/%s", tk.dir, name);
}

/* The state file and everything SQLite keeps beside it. */
static const char *const side[] = { "", "-wal", "-journal", "-shm" };

/* Every needle absent from path and its side files; returns hits. */
struct needles {
	uint8_t *v[256];
	size_t n[256];
	char what[256][48];
	size_t count;
};

static void needle_add(struct needles *nd, const void *p, size_t n,
		       const char *what)
{
	if (nd->count == 256 || n < 8)
		return;
	nd->v[nd->count] = malloc(n);
	memcpy(nd->v[nd->count], p, n);
	nd->n[nd->count] = n;
	snprintf(nd->what[nd->count], sizeof(nd->what[0]), "%s", what);
	nd->count++;
}

static void needles_free(struct needles *nd)
{
	for (size_t i = 0; i < nd->count; i++)
		free(nd->v[i]);
	nd->count = 0;
}

static size_t scan_as(const char *path, const struct needles *nd,
		      int quiet)
{
	size_t hits = 0;

	for (size_t s = 0; s < sizeof(side) / sizeof(side[0]); s++) {
		char p[256];
		struct blob b;

		snprintf(p, sizeof(p), "%s%s", path, side[s]);
		b = slurp(p);
		for (size_t i = 0; i < nd->count; i++)
			if (contains(&b, nd->v[i], nd->n[i])) {
				if (!quiet)
					fprintf(stderr, "  %s holds %s\n", p,
						nd->what[i]);
				hits++;
			}
		free(b.p);
	}
	return hits;
}

static size_t scan(const char *path, const struct needles *nd)
{
	return scan_as(path, nd, 0);
}

/* Every value of an unsealed file (and its device secret) as needles. */
static void collect_values(const char *path, struct needles *nd)
{
	sqlite3 *db = NULL;
	sqlite3_stmt *s = NULL;

	CHECK_EQ(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL),
		 SQLITE_OK);
	CHECK_EQ(sqlite3_prepare_v2(db, "SELECT ns, v FROM kv UNION ALL "
				    "SELECT k, v FROM meta WHERE k = "
				    "'device_secret'", -1, &s, NULL),
		 SQLITE_OK);
	while (sqlite3_step(s) == SQLITE_ROW) {
		char what[48];

		snprintf(what, sizeof(what), "a value of %s",
			 (const char *)sqlite3_column_text(s, 0));
		needle_add(nd, sqlite3_column_blob(s, 1),
			   (size_t)sqlite3_column_bytes(s, 1), what);
	}
	sqlite3_finalize(s);
	sqlite3_close(db);
}

/* Flips one byte in the middle of the OATH record named name. */
static void tamper(const char *path, const char *name)
{
	sqlite3 *db = NULL;

	CHECK_EQ(sqlite3_open(path, &db), SQLITE_OK);
	{
		sqlite3_stmt *s = NULL;
		uint8_t v[512];
		int n = 0;

		CHECK_EQ(sqlite3_prepare_v2(db, "SELECT v FROM kv WHERE k = ?1",
					    -1, &s, NULL), SQLITE_OK);
		sqlite3_bind_blob(s, 1, name, (int)strlen(name), SQLITE_STATIC);
		if (sqlite3_step(s) == SQLITE_ROW) {
			n = sqlite3_column_bytes(s, 0);
			CHECK(n > 30 && n < (int)sizeof(v));
			memcpy(v, sqlite3_column_blob(s, 0), (size_t)n);
		}
		sqlite3_finalize(s);
		CHECK(n > 30);
		v[n / 2] ^= 0x01;
		CHECK_EQ(sqlite3_prepare_v2(db, "UPDATE kv SET v = ?2 WHERE "
					    "k = ?1", -1, &s, NULL), SQLITE_OK);
		sqlite3_bind_blob(s, 1, name, (int)strlen(name), SQLITE_STATIC);
		sqlite3_bind_blob(s, 2, v, n, SQLITE_STATIC);
		CHECK_EQ(sqlite3_step(s), SQLITE_DONE);
		sqlite3_finalize(s);
		CHECK_EQ(sqlite3_changes(db), 1);
	}
	sqlite3_close(db);
}

/* --- the applets -------------------------------------------------------- */

static unsigned select_aid(const uint8_t *aid, size_t n)
{
	return apdu_ex(0x00, 0xA4, 0x04, 0x00, aid, n, -1, 0);
}

static const uint8_t aid_oath[] = { 0xA0, 0x00, 0x00, 0x05, 0x27, 0x21,
				    0x01 };
static const uint8_t aid_pgp[] = { 0xD2, 0x76, 0x00, 0x01, 0x24, 0x01 };
static const uint8_t aid_piv[] = { 0xA0, 0x00, 0x00, 0x03, 0x08 };

static unsigned oath_put(const char *name, const uint8_t *secret)
{
	struct data d = { .n = 0 };
	uint8_t k[22];

	k[0] = 0x21; /* TOTP, HMAC-SHA1 */
	k[1] = 6;
	memcpy(k + 2, secret, 20);
	d_tlv(&d, 0x71, name, strlen(name));
	d_tlv(&d, 0x73, k, sizeof(k));
	CHECK_EQ(select_aid(aid_oath, sizeof(aid_oath)), CHECK_APDU_SW_OK);
	return apdu_ex(0x00, 0x01, 0x00, 0x00, d.b, d.n, -1, 0);
}

/* The truncated code for counter 1, or -SW. */
static long oath_calc(const char *name)
{
	static const uint8_t chal[8] = { 0, 0, 0, 0, 0, 0, 0, 1 };
	struct data d = { .n = 0 };
	unsigned sw;

	d_tlv(&d, 0x71, name, strlen(name));
	d_tlv(&d, 0x74, chal, sizeof(chal));
	CHECK_EQ(select_aid(aid_oath, sizeof(aid_oath)), CHECK_APDU_SW_OK);
	sw = apdu_ex(0x00, 0xA2, 0x00, 0x01, d.b, d.n, -1, 0);
	if (sw != CHECK_APDU_SW_OK)
		return -(long)sw;
	CHECK_EQ(resp_len, 9);
	return (long)(((uint32_t)resp[3] << 24 | (uint32_t)resp[4] << 16 |
		       (uint32_t)resp[5] << 8 | resp[6]) % 1000000u);
}

/* RFC 4226 for counter 1, computed here. */
static long hotp1(const uint8_t *secret)
{
	static const uint8_t ctr[8] = { 0, 0, 0, 0, 0, 0, 0, 1 };
	uint8_t h[20];
	unsigned off;
	uint32_t v;

	CHECK_EQ(crypto_hmac(CRYPTO_SHA1, secret, 20, ctr, 8, h), 0);
	off = h[19] & 0x0f;
	v = ((uint32_t)h[off] & 0x7f) << 24 | (uint32_t)h[off + 1] << 16 |
	    (uint32_t)h[off + 2] << 8 | h[off + 3];
	return (long)(v % 1000000u);
}

static unsigned pgp_change_pin(const char *old, const char *new_pin)
{
	uint8_t b[64];
	size_t o = strlen(old), n = strlen(new_pin);

	memcpy(b, old, o);
	memcpy(b + o, new_pin, n);
	CHECK_EQ(select_aid(aid_pgp, sizeof(aid_pgp)), CHECK_APDU_SW_OK);
	return apdu_ex(0x00, 0x24, 0x00, 0x81, b, o + n, -1, 0);
}

static unsigned pgp_verify(const char *pin)
{
	CHECK_EQ(select_aid(aid_pgp, sizeof(aid_pgp)), CHECK_APDU_SW_OK);
	return apdu_ex(0x00, 0x20, 0x00, 0x82, pin, strlen(pin), -1, 0);
}

static void piv_pad(uint8_t out[8], const char *pin)
{
	memset(out, 0xFF, 8);
	memcpy(out, pin, strlen(pin));
}

static unsigned piv_change_pin(const char *old, const char *new_pin)
{
	uint8_t b[16];

	piv_pad(b, old);
	piv_pad(b + 8, new_pin);
	CHECK_EQ(select_aid(aid_piv, sizeof(aid_piv)), CHECK_APDU_SW_OK);
	return apdu_ex(0x00, 0x24, 0x00, 0x80, b, 16, -1, 0);
}

static unsigned piv_verify(const char *pin)
{
	uint8_t b[8];

	piv_pad(b, pin);
	CHECK_EQ(select_aid(aid_piv, sizeof(aid_piv)), CHECK_APDU_SW_OK);
	return apdu_ex(0x00, 0x20, 0x00, 0x80, b, 8, -1, 0);
}

/* --- opening ------------------------------------------------------------ */

static int open_key(const char *path, const char *pass, char *err,
		    size_t errlen)
{
	struct vkey_seal seal = { (const uint8_t *)pass,
				  pass != NULL ? strlen(pass) : 0 };
	struct vkey_options opt = { .state_path = path,
				    .up = VKEY_UP_AUTO,
				    .seal = pass != NULL ? &seal : NULL };

	return vkey_open(&key, &opt, err, errlen);
}

static void must_open(const char *path, const char *pass)
{
	char err[512];

	if (open_key(path, pass, err, sizeof(err)) != 0) {
		fprintf(stderr, "vkey_open: %s\n", err);
		exit(1);
	}
}

static void close_key(void)
{
	vkey_close(key);
	key = NULL;
}

/* Reseal path's file at the test's cost (NULL next: unseal). */
static void reseal(const char *path, const char *old, const char *next)
{
	struct store_seal s = next != NULL ? test_seal(next)
					   : (struct store_seal){ 0 };
	char err[512];

	must_open(path, old);
	if (store_reseal(vkey_store(key), next != NULL ? &s : NULL, err,
			 sizeof(err)) != STORE_OK) {
		fprintf(stderr, "store_reseal: %s\n", err);
		CHECK(0);
	}
	close_key();
}

static int file_mode(const char *path)
{
	struct stat sb;

	return stat(path, &sb) == 0 ? (int)(sb.st_mode & 0777) : -1;
}

/* --- the cases ---------------------------------------------------------- */

static char plain_path[200], sealed_path[200];
static struct needles nd;

/* A key with known secrets, unsealed: the control file. */
static void build_key_with_known_secrets(void)
{
	key = check_key_begin(&tk, "seal", VKEY_UP_AUTO);
	CHECK_EQ(oath_put("sealed-account", oath_secret), CHECK_APDU_SW_OK);
	CHECK_EQ(oath_put("other-account", oath_secret2), CHECK_APDU_SW_OK);
	CHECK_EQ(oath_calc("sealed-account"), hotp1(oath_secret));
	CHECK_EQ(pgp_change_pin("123456", pgp_pin), CHECK_APDU_SW_OK);
	CHECK_EQ(piv_change_pin("123456", piv_pin), CHECK_APDU_SW_OK);
	/* A PIV key imported from known private bytes, a FIDO credential. */
	CHECK_EQ(kk_piv_import(), CHECK_APDU_SW_OK);
	CHECK(kk_piv_signs());
	CHECK_EQ(kk_fido_make(&seal_cred), 0);
	CHECK(kk_fido_asserts(&seal_cred));
	vkey_close(key);
	key = NULL;
	path_of(plain_path, sizeof(plain_path), "plain.vkey");
	path_of(sealed_path, sizeof(sealed_path), "sealed.vkey");
	copy_file(tk.path, plain_path);
	copy_file(tk.path, sealed_path);
}

/* The control: the unsealed file does hold what the scan looks for, so
 * the scan can fail. */
static void unsealed_file_holds_the_secrets(void)
{
	struct blob b = slurp(plain_path);

	collect_values(plain_path, &nd);
	needle_add(&nd, oath_secret, sizeof(oath_secret), "the OATH secret");
	needle_add(&nd, oath_secret2, sizeof(oath_secret2),
		   "the second OATH secret");
	CHECK(nd.count >= 8); /* OATH, OpenPGP, PIV records at least */
	needle_add(&nd, kk_piv_scalar, sizeof(kk_piv_scalar),
		   "the imported PIV private key");
	CHECK(contains(&b, oath_secret, sizeof(oath_secret)));
	CHECK(contains(&b, kk_piv_scalar, sizeof(kk_piv_scalar)));
	CHECK(scan_as(plain_path, &nd, 1) >= nd.count);
	free(b.p);
}

static void sealed_file_holds_no_secret(void)
{
	struct blob b;

	reseal(sealed_path, NULL, pass1);
	CHECK_EQ(scan(sealed_path, &nd), 0);
	CHECK_EQ(file_mode(sealed_path), 0600);
	/* Non-secret metadata stays readable: record names. */
	b = slurp(sealed_path);
	CHECK(contains(&b, "sealed-account", 14));
	CHECK(contains(&b, "scrypt", 6));
	free(b.p);
}

static void sealed_key_works_with_its_passphrase(void)
{
	must_open(sealed_path, pass1);
	CHECK_EQ(vkey_sealed(key), 1);
	CHECK_EQ(oath_calc("sealed-account"), hotp1(oath_secret));
	CHECK_EQ(oath_calc("other-account"), hotp1(oath_secret2));
	CHECK_EQ(pgp_verify(pgp_pin), CHECK_APDU_SW_OK);
	CHECK_EQ(piv_verify(piv_pin), CHECK_APDU_SW_OK);
	CHECK_EQ(piv_verify("00000000"), 0x63C2); /* wrong PIN still counts */
	CHECK_EQ(piv_verify(piv_pin), CHECK_APDU_SW_OK);
	/* The imported PIV key signs, the FIDO credential asserts (same
	 * credential ID), each verified with OpenSSL. */
	CHECK(kk_piv_signs());
	CHECK(kk_fido_asserts(&seal_cred));
	close_key();
}

/* Writes while sealed go to the log and the file sealed too. */
static void new_secret_while_open_is_sealed_in_the_log(void)
{
	static const uint8_t fresh[20] = {
		0x3c, 0x99, 0xa4, 0x12, 0x7d, 0x6e, 0x5f, 0x80, 0x01, 0xfe,
		0x2a, 0xb4, 0xc7, 0x58, 0x69, 0x9a, 0x0e, 0xd3, 0x47, 0x21,
	};
	struct needles one = { .count = 0 };
	char wal[256];
	struct blob w;

	needle_add(&one, fresh, sizeof(fresh), "a secret written sealed");
	must_open(sealed_path, pass1);
	CHECK_EQ(oath_put("fresh-account", fresh), CHECK_APDU_SW_OK);
	snprintf(wal, sizeof(wal), "%s-wal", sealed_path);
	w = slurp(wal);
	CHECK(w.n > 0); /* the write is in the log while the key is open */
	CHECK(contains(&w, "fresh-account", 13));
	free(w.p);
	CHECK_EQ(scan(sealed_path, &one), 0);
	CHECK_EQ(oath_calc("fresh-account"), hotp1(fresh));
	close_key();
	CHECK_EQ(scan(sealed_path, &one), 0);
	needles_free(&one);
}

static void wrong_or_missing_passphrase_is_refused_unchanged(void)
{
	struct blob before = slurp(sealed_path), after;
	char err[512];

	CHECK_EQ(open_key(sealed_path, "not the passphrase", err,
			  sizeof(err)), -1);
	CHECK(strstr(err, "wrong passphrase") != NULL);
	CHECK(strstr(err, sealed_path) != NULL);
	CHECK_EQ(open_key(sealed_path, NULL, err, sizeof(err)), -1);
	CHECK(strstr(err, "--seal") != NULL);
	after = slurp(sealed_path);
	CHECK_EQ(after.n, before.n);
	CHECK(after.n == before.n && memcmp(after.p, before.p, after.n) == 0);
	free(before.p);
	free(after.p);
	/* A passphrase for a file that is not sealed is refused too. */
	CHECK_EQ(open_key(plain_path, pass1, err, sizeof(err)), -1);
	CHECK(strstr(err, "not sealed") != NULL);
}

static void tampered_value_fails_cleanly_others_work(void)
{
	char tpath[200];
	struct store *st = NULL;
	uint8_t *v = NULL;
	size_t n = 0;

	path_of(tpath, sizeof(tpath), "tampered.vkey");
	copy_file(sealed_path, tpath);
	tamper(tpath, "sealed-account");
	/* At the store: the read fails as damaged data. */
	{
		struct store_seal s = test_seal(pass1);
		char err[512];

		CHECK_EQ(store_open_sealed(&st, tpath, NULL, &s, err,
					   sizeof(err)), STORE_OK);
		CHECK_EQ(store_get(st, "oath", "sealed-account", 14, &v, &n),
			 STORE_CORRUPT);
		CHECK(v == NULL);
		CHECK_EQ(store_get(st, "oath", "other-account", 13, &v, &n),
			 STORE_OK);
		store_free_value(v, n);
		store_close(st);
	}
	/* Through the applets: that account fails, the rest works. */
	must_open(tpath, pass1);
	CHECK(oath_calc("sealed-account") < 0);
	CHECK_EQ(oath_calc("other-account"), hotp1(oath_secret2));
	CHECK_EQ(pgp_verify(pgp_pin), CHECK_APDU_SW_OK);
	CHECK_EQ(piv_verify(piv_pin), CHECK_APDU_SW_OK);
	/* Listing walks past it (sealed values are opened one by one). */
	{
		char out[4096];

		CHECK(vkey_report_oath_list(key, out, sizeof(out)) >= 0);
		CHECK(strstr(out, "other-account") != NULL);
	}
	/* The damaged record can be deleted and put again. */
	{
		struct data d = { .n = 0 };

		d_tlv(&d, 0x71, "sealed-account", 14);
		CHECK_EQ(select_aid(aid_oath, sizeof(aid_oath)),
			 CHECK_APDU_SW_OK);
		CHECK_EQ(apdu_ex(0x00, 0x02, 0x00, 0x00, d.b, d.n, -1, 0),
			 CHECK_APDU_SW_OK);
	}
	CHECK_EQ(oath_put("sealed-account", oath_secret), CHECK_APDU_SW_OK);
	CHECK_EQ(oath_calc("sealed-account"), hotp1(oath_secret));
	close_key();
}

static void change_passphrase_round_trip(void)
{
	char err[512];

	reseal(sealed_path, pass1, pass2);
	CHECK_EQ(scan(sealed_path, &nd), 0);
	CHECK_EQ(open_key(sealed_path, pass1, err, sizeof(err)), -1);
	CHECK(strstr(err, "wrong passphrase") != NULL);
	must_open(sealed_path, pass2);
	CHECK_EQ(oath_calc("sealed-account"), hotp1(oath_secret));
	CHECK_EQ(pgp_verify(pgp_pin), CHECK_APDU_SW_OK);
	CHECK(kk_piv_signs());
	CHECK(kk_fido_asserts(&seal_cred));
	close_key();
}

static void remove_sealing_round_trip(void)
{
	struct blob b;
	char err[512];

	reseal(sealed_path, pass2, NULL);
	b = slurp(sealed_path);
	CHECK(contains(&b, oath_secret, sizeof(oath_secret)));
	free(b.p);
	CHECK_EQ(open_key(sealed_path, pass2, err, sizeof(err)), -1);
	CHECK(strstr(err, "not sealed") != NULL);
	must_open(sealed_path, NULL);
	CHECK_EQ(vkey_sealed(key), 0);
	CHECK_EQ(oath_calc("sealed-account"), hotp1(oath_secret));
	CHECK_EQ(piv_verify(piv_pin), CHECK_APDU_SW_OK);
	/* Removing it twice is refused. */
	CHECK_EQ(vkey_reseal(key, NULL, err, sizeof(err)), -1);
	CHECK(strstr(err, "not sealed") != NULL);
	close_key();
}

/* A key file's bytes (binary, with NULs) seal as a passphrase does. */
static void keyfile_bytes_seal(void)
{
	uint8_t kf[64];
	struct store_seal s = { kf, sizeof(kf), TEST_LOG2N };
	struct vkey_seal vs = { kf, sizeof(kf) };
	struct vkey_options opt = { .state_path = sealed_path,
				    .up = VKEY_UP_AUTO, .seal = &vs };
	char err[512];

	CHECK_EQ(crypto_random(kf, sizeof(kf)), 0);
	kf[5] = 0;
	must_open(sealed_path, NULL);
	CHECK_EQ(store_reseal(vkey_store(key), &s, err, sizeof(err)),
		 STORE_OK);
	close_key();
	CHECK_EQ(scan(sealed_path, &nd), 0);
	kf[63] ^= 1;
	CHECK_EQ(vkey_open(&key, &opt, err, sizeof(err)), -1);
	kf[63] ^= 1;
	CHECK_EQ(vkey_open(&key, &opt, err, sizeof(err)), 0);
	CHECK_EQ(oath_calc("sealed-account"), hotp1(oath_secret));
	close_key();
}

/* A new file created sealed never holds its device secret in clear. */
static void new_file_created_sealed(void)
{
	char p[200];
	struct store *st = NULL;
	struct store_seal s = test_seal(pass1);
	uint8_t secret[STORE_DEVICE_SECRET_LEN];
	struct needles one = { .count = 0 };
	char err[512];

	path_of(p, sizeof(p), "new.vkey");
	CHECK_EQ(store_open_sealed(&st, p, NULL, &s, err, sizeof(err)),
		 STORE_OK);
	memcpy(secret, store_device_secret(st), sizeof(secret));
	CHECK_EQ(store_is_sealed(st), 1);
	CHECK_EQ(store_put(st, "t", "k", 1, "a plain value here", 18),
		 STORE_OK);
	store_close(st);
	needle_add(&one, secret, sizeof(secret), "the device secret");
	needle_add(&one, "a plain value here", 18, "a record value");
	CHECK_EQ(scan(p, &one), 0);
	CHECK_EQ(file_mode(p), 0600);
	CHECK_EQ(store_open(&st, p, NULL, err, sizeof(err)), STORE_SEALED);
	CHECK_EQ(store_open_sealed(&st, p, NULL, &s, err, sizeof(err)),
		 STORE_OK);
	CHECK_MEM(store_device_secret(st), secret, sizeof(secret));
	store_close(st);
	needles_free(&one);
}

int main(void)
{
	build_key_with_known_secrets();
	unsealed_file_holds_the_secrets();
	sealed_file_holds_no_secret();
	sealed_key_works_with_its_passphrase();
	new_secret_while_open_is_sealed_in_the_log();
	wrong_or_missing_passphrase_is_refused_unchanged();
	tampered_value_fails_cleanly_others_work();
	change_passphrase_round_trip();
	remove_sealing_round_trip();
	keyfile_bytes_seal();
	new_file_created_sealed();
	needles_free(&nd);
	check_rmtree(tk.dir);
	return CHECK_DONE();
}
