/* services/pin: salted PIN MACs under the device secret and the order of
 * a check (try spent and saved before the compare, restored after a
 * match only). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "services/pin.h"
#include "services/store.h"

/* What the applet's save function saw. */
struct rec {
	uint8_t left;
	int saves;
	uint8_t saved[8]; /* left at each save */
	int fail_at;      /* save number that fails (1-based), 0: none */
};

static struct rec rec;

static int save(void *ctx)
{
	struct rec *r = ctx;

	if (r->saves < 8)
		r->saved[r->saves] = r->left;
	r->saves++;
	return r->saves == r->fail_at ? -1 : 0;
}

static struct store *st;
static char dir[64], path[128];

static void open_store(void)
{
	char err[256];

	snprintf(dir, sizeof(dir), "/tmp/vkey-pin-XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/k.db", dir);
	CHECK_EQ(store_open(&st, path, NULL, err, sizeof(err)), STORE_OK);
}

static enum pin_verdict check(const struct pin_secret *s, const char *pin)
{
	return pin_check(st, s, &rec.left, 3, (const uint8_t *)pin,
			 strlen(pin), save, &rec);
}

static void secret_matches_only_its_pin(void)
{
	struct pin_secret a, b;

	CHECK_EQ(pin_secret_make(st, (const uint8_t *)"123456", 6, &a), 0);
	CHECK_EQ(pin_secret_make(st, (const uint8_t *)"123456", 6, &b), 0);
	CHECK(memcmp(a.salt, b.salt, PIN_SALT) != 0); /* fresh salts */
	CHECK(memcmp(a.mac, b.mac, PIN_MAC) != 0);
	CHECK(pin_secret_matches(st, &a, (const uint8_t *)"123456", 6));
	CHECK(pin_secret_matches(st, &b, (const uint8_t *)"123456", 6));
	CHECK(!pin_secret_matches(st, &a, (const uint8_t *)"123457", 6));
	CHECK(!pin_secret_matches(st, &a, (const uint8_t *)"1234567", 7));
	CHECK(!pin_secret_matches(st, &a, (const uint8_t *)"12345", 5));
	CHECK(!pin_secret_matches(st, &a, NULL, 0));
	/* the empty PIN is a PIN too */
	CHECK_EQ(pin_secret_make(st, NULL, 0, &b), 0);
	CHECK(pin_secret_matches(st, &b, NULL, 0));
}

static void try_is_saved_before_the_compare(void)
{
	struct pin_secret s;

	CHECK_EQ(pin_secret_make(st, (const uint8_t *)"2468", 4, &s), 0);
	memset(&rec, 0, sizeof(rec));
	rec.left = 3;
	CHECK_EQ(check(&s, "1111"), PIN_WRONG);
	CHECK_EQ(rec.left, 2);
	CHECK_EQ(rec.saves, 1);
	CHECK_EQ(rec.saved[0], 2);
	/* a match saves the spent try first, then the restored count */
	CHECK_EQ(check(&s, "2468"), PIN_MATCH);
	CHECK_EQ(rec.left, 3);
	CHECK_EQ(rec.saves, 3);
	CHECK_EQ(rec.saved[1], 1);
	CHECK_EQ(rec.saved[2], 3);
}

static void blocked_after_the_last_try(void)
{
	struct pin_secret s;

	CHECK_EQ(pin_secret_make(st, (const uint8_t *)"2468", 4, &s), 0);
	memset(&rec, 0, sizeof(rec));
	rec.left = 2;
	CHECK_EQ(check(&s, "0"), PIN_WRONG);
	CHECK_EQ(check(&s, "0"), PIN_WRONG);
	CHECK_EQ(rec.left, 0);
	/* no try left: not even the right PIN is compared, nothing saved */
	CHECK_EQ(check(&s, "2468"), PIN_BLOCKED);
	CHECK_EQ(rec.saves, 2);
}

static void failed_save_never_compares(void)
{
	struct pin_secret s;

	CHECK_EQ(pin_secret_make(st, (const uint8_t *)"2468", 4, &s), 0);
	memset(&rec, 0, sizeof(rec));
	rec.left = 3;
	rec.fail_at = 1;
	CHECK_EQ(check(&s, "2468"), PIN_FAILED);
	/* the restore failing is a failure too, not a match */
	memset(&rec, 0, sizeof(rec));
	rec.left = 3;
	rec.fail_at = 2;
	CHECK_EQ(check(&s, "2468"), PIN_FAILED);
}

int main(void)
{
	open_store();
	RUN(secret_matches_only_its_pin);
	RUN(try_is_saved_before_the_compare);
	RUN(blocked_after_the_last_try);
	RUN(failed_save_never_compares);
	store_close(st);
	check_rmtree(dir);
	return CHECK_DONE();
}
