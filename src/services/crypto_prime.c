/* RSA prime generation. OpenSSL 3's key generator runs 64 Miller-Rabin
 * rounds on every prime (a bound meant for numbers an adversary chose),
 * which makes an on-card RSA-2048 key cost a fifth of a second here. For
 * primes drawn at random the error bounds of FIPS 186-5 (Table B.1) are
 * what counts: random odd candidates with the top two bits set (so n has
 * exactly the size asked for), an incremental sieve over the odd primes
 * below 2^14 and over e, then Miller-Rabin with random bases, 5 rounds for
 * 1024-bit primes and 4 from 1536 bits (error below 2^-100 for independent random candidates; the
 * incremental search after each random start is slightly weaker, by a
 * small factor). All of it on
 * OpenSSL's BIGNUMs with constant-time exponentiation. */
#include "services/crypto_int.h"

#include <openssl/bn.h>

#include <stdbool.h>
#include <stdlib.h>

#define SIEVE_LIMIT 16384
#define SIEVE_PRIMES 1900   /* odd primes below 2^14: 1899 */
#define DELTA_MAX (1u << 20) /* search window after each random start */
#define PRIME_ATTEMPTS 64    /* random starts before giving up */

/* The odd primes below SIEVE_LIMIT, by Eratosthenes. */
static size_t small_primes(uint16_t *out, size_t cap)
{
	uint8_t *composite = calloc(SIEVE_LIMIT, 1);
	size_t n = 0;

	if (composite == NULL)
		return 0;
	for (unsigned i = 3; i < SIEVE_LIMIT && n < cap; i += 2) {
		if (composite[i])
			continue;
		out[n++] = (uint16_t)i;
		for (unsigned j = i * i; j < SIEVE_LIMIT; j += 2 * i)
			composite[j] = 1;
	}
	free(composite);
	return n;
}

static int mr_rounds(int bits)
{
	if (bits >= 1536)
		return 4;
	if (bits >= 1024)
		return 5;
	return 8; /* 512-bit primes (RSA-1024) */
}

/* Miller-Rabin with random bases: 1 probably prime, 0 composite, -1 on
 * error. w is odd and > 3. */
static int miller_rabin(const BIGNUM *w, int rounds, BN_CTX *ctx)
{
	BN_MONT_CTX *mont = BN_MONT_CTX_new();
	BIGNUM *w1, *w3, *d, *b, *z, *one_m, *w1_m;
	int s = 0, r = -1;

	BN_CTX_start(ctx);
	w1 = BN_CTX_get(ctx);
	w3 = BN_CTX_get(ctx);
	d = BN_CTX_get(ctx);
	b = BN_CTX_get(ctx);
	z = BN_CTX_get(ctx);
	one_m = BN_CTX_get(ctx);
	w1_m = BN_CTX_get(ctx);
	if (mont == NULL || w1_m == NULL ||
	    BN_MONT_CTX_set(mont, w, ctx) != 1 || BN_copy(w1, w) == NULL ||
	    BN_sub_word(w1, 1) != 1 || BN_copy(w3, w) == NULL ||
	    BN_sub_word(w3, 3) != 1 ||
	    BN_to_montgomery(one_m, BN_value_one(), mont, ctx) != 1 ||
	    BN_to_montgomery(w1_m, w1, mont, ctx) != 1)
		goto out;
	while (!BN_is_bit_set(w1, s))
		s++;
	if (BN_rshift(d, w1, s) != 1)
		goto out;
	for (int i = 0; i < rounds; i++) {
		bool maybe = false;

		/* base in [2, w-2]; z = b^d, then squared in Montgomery form,
		 * where each value has one representation. */
		if (BN_priv_rand_range_ex(b, w3, 0, ctx) != 1 ||
		    BN_add_word(b, 2) != 1 ||
		    BN_mod_exp_mont_consttime(z, b, d, w, ctx, mont) != 1)
			goto out;
		if (BN_is_one(z) || BN_cmp(z, w1) == 0)
			continue;
		if (BN_to_montgomery(z, z, mont, ctx) != 1)
			goto out;
		for (int j = 1; j < s && !maybe; j++) {
			if (BN_mod_mul_montgomery(z, z, z, mont, ctx) != 1)
				goto out;
			if (BN_cmp(z, w1_m) == 0)
				maybe = true;
			else if (BN_cmp(z, one_m) == 0)
				break;
		}
		if (!maybe) {
			r = 0;
			goto out;
		}
	}
	r = 1;
out:
	BN_CTX_end(ctx);
	BN_MONT_CTX_free(mont);
	return r;
}

/* A random prime p of exactly bits bits with gcd(p - 1, e) = 1 (e an odd
 * prime). 0, or -1 on error. */
static int prime_gen(BIGNUM *p, int bits, BN_ULONG e, const uint16_t *primes,
		     size_t n_primes, uint16_t *mods, BN_CTX *ctx)
{
	BIGNUM *c;
	int r = -1;

	BN_CTX_start(ctx);
	c = BN_CTX_get(ctx);
	if (c == NULL)
		goto out;
	BN_set_flags(c, BN_FLG_CONSTTIME);
	for (int attempt = 0; attempt < PRIME_ATTEMPTS; attempt++) {
		BN_ULONG me;

		if (BN_priv_rand_ex(p, bits, BN_RAND_TOP_TWO,
				    BN_RAND_BOTTOM_ODD, 0, ctx) != 1)
			goto out;
		for (size_t i = 0; i < n_primes; i++) {
			BN_ULONG m = BN_mod_word(p, primes[i]);

			if (m == (BN_ULONG)-1)
				goto out;
			mods[i] = (uint16_t)m;
		}
		me = BN_mod_word(p, e);
		if (me == (BN_ULONG)-1)
			goto out;
		for (uint32_t delta = 0; delta < DELTA_MAX; delta += 2) {
			size_t i;
			int mr;

			for (i = 0; i < n_primes; i++)
				if ((mods[i] + delta) % primes[i] == 0)
					break;
			if (i < n_primes || (me + delta) % e == 1)
				continue;
			if (BN_copy(c, p) == NULL || BN_add_word(c, delta) != 1)
				goto out;
			if (BN_num_bits(c) != bits)
				break; /* ran past the top: start again */
			mr = miller_rabin(c, mr_rounds(bits), ctx);
			if (mr < 0)
				goto out;
			if (mr == 1) {
				r = BN_copy(p, c) != NULL ? 0 : -1;
				goto out;
			}
		}
	}
out:
	BN_CTX_end(ctx);
	return r;
}

int crypto_rsa_primes(int bits, BN_ULONG e, BIGNUM *p, BIGNUM *q)
{
	uint16_t primes[SIEVE_PRIMES], mods[SIEVE_PRIMES];
	size_t n = small_primes(primes, SIEVE_PRIMES);
	BN_CTX *ctx = BN_CTX_secure_new();
	BIGNUM *diff;
	int half = bits / 2, r = -1;

	if (ctx == NULL || n == 0 || bits < 1024 || bits % 2 != 0)
		goto out;
	BN_CTX_start(ctx);
	diff = BN_CTX_get(ctx);
	if (diff == NULL)
		goto end;
	for (int attempt = 0; attempt < PRIME_ATTEMPTS; attempt++) {
		if (prime_gen(p, half, e, primes, n, mods, ctx) != 0 ||
		    prime_gen(q, half, e, primes, n, mods, ctx) != 0 ||
		    BN_sub(diff, p, q) != 1)
			goto end;
		/* |p - q| > 2^(half - 100), FIPS 186-5 A.1.3 */
		if (BN_num_bits(diff) > half - 100) {
			r = 0;
			break;
		}
	}
end:
	BN_CTX_end(ctx);
out:
	BN_CTX_free(ctx);
	OPENSSL_cleanse(mods, sizeof(mods));
	return r;
}
