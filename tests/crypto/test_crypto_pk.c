/* Tests of RSA and the OpenPGP/PIV curves in the crypto service: round
 * trips, known answers, and one case per malformed input. */
#include "services/crypto.h"
#include "services/crypto_pk.h"
#include "../check.h"

#include <openssl/bn.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- RSA ---------------------------------------------------------- */

/* DigestInfo of SHA-256("abc") (RFC 8017 §9.2 note 1 prefix). */
static size_t digest_info(uint8_t out[51])
{
	static const uint8_t prefix[19] = {
		0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01,
		0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20,
	};

	memcpy(out, prefix, sizeof(prefix));
	if (crypto_digest(CRYPTO_SHA256, "abc", 3, out + sizeof(prefix)) != 0)
		abort();
	return 51;
}

/* One 2048-bit key shared by the cases that do not test generation. */
static const struct crypto_rsa_key *rsa_key(void)
{
	static struct crypto_rsa_key key;
	static int have;

	if (!have) {
		if (crypto_rsa_generate(2048, &key) != 0)
			abort();
		have = 1;
	}
	return &key;
}

/* 00 || bt || pad || 00 || data, as PKCS#1 v1.5 builds a block. */
static void pkcs1_block(uint8_t *blk, size_t n, uint8_t bt,
			const uint8_t *data, size_t len)
{
	size_t i;

	blk[0] = 0x00;
	blk[1] = bt;
	if (crypto_random(blk + 2, n - 3 - len) != 0)
		abort();
	for (i = 2; i < n - 1 - len; i++)
		blk[i] = bt == 1 ? 0xff : (uint8_t)(blk[i] | 1);
	blk[n - 1 - len] = 0x00;
	memcpy(blk + n - len, data, len);
}

static void rsa_keygen_each_size(void)
{
	static const unsigned sizes[] = { 1024, 2048, 3072, 4096 };
	static const uint8_t f4[] = { 0x01, 0x00, 0x01 };
	uint8_t di[51], sig[CRYPTO_RSA_MAX];
	size_t i, di_len = digest_info(di);

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct crypto_rsa_key key;
		size_t sig_len = sizeof(sig);

		CHECK_EQ(crypto_rsa_generate(sizes[i], &key), 0);
		CHECK_EQ(key.n_len, sizes[i] / 8);
		CHECK(key.n[0] & 0x80);
		CHECK_EQ(key.e_len, 3);
		CHECK_MEM(key.e, f4, 3);
		CHECK_EQ(key.p_len, sizes[i] / 16);
		CHECK_EQ(key.q_len, sizes[i] / 16);
		CHECK_EQ(crypto_rsa_sign_pkcs1(&key, di, di_len, sig, &sig_len),
			 0);
		CHECK_EQ(sig_len, key.n_len);
		CHECK_EQ(crypto_rsa_verify_pkcs1(key.n, key.n_len, key.e,
						 key.e_len, di, di_len, sig,
						 sig_len), 0);
		crypto_rsa_key_wipe(&key);
	}
}

/* vkey's own prime search (5 or 4 Miller-Rabin rounds after a sieve)
 * against OpenSSL's 64-round check, and the FIPS 186-5 shape rules. */
static void rsa_generated_primes_are_prime(void)
{
	static const unsigned sizes[] = { 1024, 1024, 1024, 1024, 1024, 1024,
					  1024, 1024, 2048, 2048, 2048, 2048,
					  3072, 4096 };
	BN_CTX *ctx = BN_CTX_new();
	BIGNUM *p = BN_new(), *q = BN_new(), *d = BN_new();

	CHECK(ctx != NULL && p != NULL && q != NULL && d != NULL);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct crypto_rsa_key key;
		int half = (int)sizes[i] / 2;

		CHECK_EQ(crypto_rsa_generate(sizes[i], &key), 0);
		CHECK(BN_bin2bn(key.p, (int)key.p_len, p) != NULL);
		CHECK(BN_bin2bn(key.q, (int)key.q_len, q) != NULL);
		CHECK_EQ(BN_check_prime(p, ctx, NULL), 1);
		CHECK_EQ(BN_check_prime(q, ctx, NULL), 1);
		CHECK_EQ(BN_num_bits(p), half);
		CHECK_EQ(BN_num_bits(q), half);
		/* top two bits set: p, q > sqrt(2) * 2^(half - 1) */
		CHECK(BN_is_bit_set(p, half - 2) && BN_is_bit_set(q, half - 2));
		CHECK(BN_sub(d, p, q) == 1 && BN_num_bits(d) > half - 100);
		/* gcd(e, p - 1) = 1 with e = 65537 prime */
		CHECK(BN_sub_word(p, 1) == 1 && BN_mod_word(p, 65537) != 0);
		CHECK(BN_sub_word(q, 1) == 1 && BN_mod_word(q, 65537) != 0);
		crypto_rsa_key_wipe(&key);
	}
	BN_clear_free(p);
	BN_clear_free(q);
	BN_free(d);
	BN_CTX_free(ctx);
}

static void rsa_two_keys_differ(void)
{
	struct crypto_rsa_key a, b;

	CHECK_EQ(crypto_rsa_generate(1024, &a), 0);
	CHECK_EQ(crypto_rsa_generate(1024, &b), 0);
	CHECK(memcmp(a.n, b.n, a.n_len) != 0);
	crypto_rsa_key_wipe(&a);
	crypto_rsa_key_wipe(&b);
}

/* A prepared key answers as the one-off functions do, and knows its key. */
static void rsa_prepared_matches_one_off(void)
{
	const struct crypto_rsa_key *k = rsa_key();
	struct crypto_rsa_key other;
	struct crypto_rsa_prepared *pk = crypto_rsa_prepare(k);
	uint8_t di[51], s1[CRYPTO_RSA_MAX], s2[CRYPTO_RSA_MAX];
	uint8_t blk[CRYPTO_RSA_MAX], ct[CRYPTO_RSA_MAX], pt[CRYPTO_RSA_MAX];
	size_t l1 = sizeof(s1), l2 = sizeof(s2), cl = sizeof(ct), pl;

	CHECK(pk != NULL);
	CHECK(crypto_rsa_prepared_is(pk, k));
	CHECK_EQ(crypto_rsa_generate(1024, &other), 0);
	CHECK(!crypto_rsa_prepared_is(pk, &other));
	CHECK_EQ(crypto_random(di, sizeof(di)), 0);
	for (int round = 0; round < 3; round++) {
		l1 = sizeof(s1);
		l2 = sizeof(s2);
		CHECK_EQ(crypto_rsa_sign_pkcs1(k, di, sizeof(di), s1, &l1), 0);
		CHECK_EQ(crypto_rsa_prepared_sign_pkcs1(pk, di, sizeof(di), s2,
							&l2), 0);
		CHECK(l1 == l2 && memcmp(s1, s2, l1) == 0);
	}
	/* decrypt a block type 2 made by hand */
	pkcs1_block(blk, k->n_len, 2, di, 20);
	CHECK_EQ(crypto_rsa_public_raw(k->n, k->n_len, k->e, k->e_len, blk,
				       k->n_len, ct, &cl), 0);
	pl = sizeof(pt);
	CHECK_EQ(crypto_rsa_prepared_decrypt_pkcs1(pk, ct, cl, pt, &pl), 0);
	CHECK(pl == 20 && memcmp(pt, di, 20) == 0);
	pl = sizeof(pt);
	CHECK_EQ(crypto_rsa_prepared_decrypt_pkcs1(pk, ct, cl - 1, pt, &pl),
		 -1);
	l2 = sizeof(s2);
	CHECK_EQ(crypto_rsa_prepared_sign_pkcs1(NULL, di, 20, s2, &l2), -1);
	CHECK(crypto_rsa_prepare(NULL) == NULL);
	crypto_rsa_prepared_free(pk);
	crypto_rsa_prepared_free(NULL);
	crypto_rsa_key_wipe(&other);
}

static void rsa_import_epq_matches_generated(void)
{
	const struct crypto_rsa_key *k = rsa_key();
	struct crypto_rsa_key imp;
	uint8_t di[51], s1[CRYPTO_RSA_MAX], s2[CRYPTO_RSA_MAX];
	size_t di_len = digest_info(di), l1 = sizeof(s1), l2 = sizeof(s2);

	CHECK_EQ(crypto_rsa_import_epq(k->e, k->e_len, k->p, k->p_len, k->q,
				       k->q_len, &imp), 0);
	CHECK_EQ(imp.n_len, k->n_len);
	CHECK_MEM(imp.n, k->n, k->n_len);
	CHECK_EQ(imp.dp_len, k->dp_len);
	CHECK_MEM(imp.dp, k->dp, k->dp_len);
	CHECK_EQ(imp.dq_len, k->dq_len);
	CHECK_MEM(imp.dq, k->dq, k->dq_len);
	CHECK_EQ(imp.qinv_len, k->qinv_len);
	CHECK_MEM(imp.qinv, k->qinv, k->qinv_len);
	/* PKCS#1 v1.5 signatures are deterministic: same d, same bytes. */
	CHECK_EQ(crypto_rsa_sign_pkcs1(k, di, di_len, s1, &l1), 0);
	CHECK_EQ(crypto_rsa_sign_pkcs1(&imp, di, di_len, s2, &l2), 0);
	CHECK_EQ(l1, l2);
	CHECK_MEM(s1, s2, l1);
	crypto_rsa_key_wipe(&imp);
}

static void rsa_import_crt_accepts_consistent(void)
{
	const struct crypto_rsa_key *k = rsa_key();
	struct crypto_rsa_key imp;
	uint8_t dp[CRYPTO_RSA_HALF_MAX + 1];

	/* A leading zero byte, as some encoders send, is accepted. */
	dp[0] = 0;
	memcpy(dp + 1, k->dp, k->dp_len);
	CHECK_EQ(crypto_rsa_import_crt(k->e, k->e_len, k->p, k->p_len, k->q,
				       k->q_len, dp, k->dp_len + 1, k->dq,
				       k->dq_len, k->qinv, k->qinv_len, &imp),
		 0);
	CHECK_MEM(imp.n, k->n, k->n_len);
	crypto_rsa_key_wipe(&imp);
}

static void rsa_import_crt_rejects_wrong_dp(void)
{
	const struct crypto_rsa_key *k = rsa_key();
	struct crypto_rsa_key imp;
	uint8_t dp[CRYPTO_RSA_HALF_MAX];

	memcpy(dp, k->dp, k->dp_len);
	dp[k->dp_len - 1] ^= 0x02;
	CHECK_EQ(crypto_rsa_import_crt(k->e, k->e_len, k->p, k->p_len, k->q,
				       k->q_len, dp, k->dp_len, k->dq,
				       k->dq_len, k->qinv, k->qinv_len, &imp),
		 -1);
	CHECK_EQ(imp.n_len, 0);
}

static void rsa_sign_verify_round_trip(void)
{
	const struct crypto_rsa_key *k = rsa_key();
	uint8_t di[51], sig[CRYPTO_RSA_MAX];
	size_t di_len = digest_info(di), sig_len = sizeof(sig);

	CHECK_EQ(crypto_rsa_sign_pkcs1(k, di, di_len, sig, &sig_len), 0);
	CHECK_EQ(crypto_rsa_verify_pkcs1(k->n, k->n_len, k->e, k->e_len, di,
					 di_len, sig, sig_len), 0);
	di[50] ^= 1;
	CHECK_EQ(crypto_rsa_verify_pkcs1(k->n, k->n_len, k->e, k->e_len, di,
					 di_len, sig, sig_len), -1);
	di[50] ^= 1;
	sig[7] ^= 1;
	CHECK_EQ(crypto_rsa_verify_pkcs1(k->n, k->n_len, k->e, k->e_len, di,
					 di_len, sig, sig_len), -1);
}

static void rsa_raw_private_equals_sign(void)
{
	const struct crypto_rsa_key *k = rsa_key();
	uint8_t di[51], blk[CRYPTO_RSA_MAX], raw[CRYPTO_RSA_MAX];
	uint8_t sig[CRYPTO_RSA_MAX];
	size_t di_len = digest_info(di), raw_len = sizeof(raw);
	size_t sig_len = sizeof(sig);

	pkcs1_block(blk, k->n_len, 1, di, di_len);
	CHECK_EQ(crypto_rsa_private_raw(k, blk, k->n_len, raw, &raw_len), 0);
	CHECK_EQ(crypto_rsa_sign_pkcs1(k, di, di_len, sig, &sig_len), 0);
	CHECK_EQ(raw_len, sig_len);
	CHECK_MEM(raw, sig, sig_len);
}

static void rsa_public_raw_inverts_private_raw(void)
{
	const struct crypto_rsa_key *k = rsa_key();
	uint8_t in[CRYPTO_RSA_MAX], mid[CRYPTO_RSA_MAX], back[CRYPTO_RSA_MAX];
	size_t mid_len = sizeof(mid), back_len = sizeof(back);

	CHECK_EQ(crypto_random(in, k->n_len), 0);
	in[0] = 0x00; /* below n */
	CHECK_EQ(crypto_rsa_private_raw(k, in, k->n_len, mid, &mid_len), 0);
	CHECK_EQ(crypto_rsa_public_raw(k->n, k->n_len, k->e, k->e_len, mid,
				       mid_len, back, &back_len), 0);
	CHECK_EQ(back_len, k->n_len);
	CHECK_MEM(back, in, k->n_len);
}

static void rsa_decrypt_pkcs1_round_trip(void)
{
	const struct crypto_rsa_key *k = rsa_key();
	static const uint8_t msg[] = "a 32-byte AES session key here!";
	uint8_t blk[CRYPTO_RSA_MAX], ct[CRYPTO_RSA_MAX], pt[CRYPTO_RSA_MAX];
	size_t ct_len = sizeof(ct), pt_len = sizeof(pt);

	pkcs1_block(blk, k->n_len, 2, msg, sizeof(msg));
	CHECK_EQ(crypto_rsa_public_raw(k->n, k->n_len, k->e, k->e_len, blk,
				       k->n_len, ct, &ct_len), 0);
	CHECK_EQ(crypto_rsa_decrypt_pkcs1(k, ct, ct_len, pt, &pt_len), 0);
	CHECK_EQ(pt_len, sizeof(msg));
	CHECK_MEM(pt, msg, sizeof(msg));
}

/* Appends a DER length. */
static size_t der_len(uint8_t *out, size_t len)
{
	if (len < 0x80) {
		out[0] = (uint8_t)len;
		return 1;
	}
	if (len < 0x100) {
		out[0] = 0x81;
		out[1] = (uint8_t)len;
		return 2;
	}
	out[0] = 0x82;
	out[1] = (uint8_t)(len >> 8);
	out[2] = (uint8_t)len;
	return 3;
}

/* Appends tag, length and body. */
static size_t der_tlv(uint8_t *out, uint8_t tag, const uint8_t *body,
		      size_t len)
{
	size_t n = 1;

	out[0] = tag;
	n += der_len(out + 1, len);
	memmove(out + n, body, len);
	return n + len;
}

/* A positive INTEGER from minimal big-endian bytes. */
static size_t der_uint(uint8_t *out, const uint8_t *v, size_t len)
{
	uint8_t body[CRYPTO_RSA_MAX + 1];
	size_t n = 0;

	if (v[0] & 0x80)
		body[n++] = 0x00;
	memcpy(body + n, v, len);
	return der_tlv(out, 0x02, body, n + len);
}

/* SubjectPublicKeyInfo of an RSA key (RFC 8017 A.1.1, RFC 5280). */
static size_t rsa_spki(const struct crypto_rsa_key *k, uint8_t *out)
{
	static const uint8_t algid[] = {
		0x30, 0x0d, 0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7,
		0x0d, 0x01, 0x01, 0x01, 0x05, 0x00,
	};
	uint8_t ints[CRYPTO_RSA_MAX + 32], seq[CRYPTO_RSA_MAX + 40];
	uint8_t bits[CRYPTO_RSA_MAX + 48], body[CRYPTO_RSA_MAX + 80];
	size_t n, m;

	n = der_uint(ints, k->n, k->n_len);
	n += der_uint(ints + n, k->e, k->e_len);
	m = der_tlv(seq + 1, 0x30, ints, n);
	seq[0] = 0x00; /* no unused bits */
	n = der_tlv(bits, 0x03, seq, m + 1);
	memcpy(body, algid, sizeof(algid));
	memcpy(body + sizeof(algid), bits, n);
	return der_tlv(out, 0x30, body, sizeof(algid) + n);
}

static int write_file(const char *path, const uint8_t *p, size_t len)
{
	FILE *f = fopen(path, "wb");
	int r = -1;

	if (f == NULL)
		return -1;
	if (fwrite(p, 1, len, f) == len)
		r = 0;
	if (fclose(f) != 0)
		r = -1;
	return r;
}

static size_t read_file(const char *path, uint8_t *p, size_t cap)
{
	FILE *f = fopen(path, "rb");
	size_t n;

	if (f == NULL)
		return 0;
	n = fread(p, 1, cap, f);
	fclose(f);
	return n;
}

/* The openssl tool encrypts (PKCS#1 v1.5 is pkeyutl's default padding),
 * the card decrypts: the host's side is not our own code. */
static void rsa_decrypt_openssl_cli_ciphertext(void)
{
	const struct crypto_rsa_key *k = rsa_key();
	static const uint8_t msg[] = "session key from the openssl tool";
	char dir[] = "/tmp/vkey-crypto-pk-XXXXXX", pub[64], in[64], ct[64];
	char cmd[512];
	uint8_t spki[CRYPTO_RSA_MAX + 96], c[CRYPTO_RSA_MAX + 1];
	uint8_t pt[CRYPTO_RSA_MAX];
	size_t c_len, pt_len = sizeof(pt);

	CHECK(mkdtemp(dir) != NULL);
	snprintf(pub, sizeof(pub), "%s/pub.der", dir);
	snprintf(in, sizeof(in), "%s/msg.bin", dir);
	snprintf(ct, sizeof(ct), "%s/ct.bin", dir);
	CHECK_EQ(write_file(pub, spki, rsa_spki(k, spki)), 0);
	CHECK_EQ(write_file(in, msg, sizeof(msg)), 0);
	snprintf(cmd, sizeof(cmd),
		 "openssl pkeyutl -encrypt -pubin -keyform DER -inkey %s "
		 "-in %s -out %s", pub, in, ct);
	CHECK_EQ(system(cmd), 0);
	c_len = read_file(ct, c, sizeof(c));
	CHECK_EQ(c_len, k->n_len);
	CHECK_EQ(crypto_rsa_decrypt_pkcs1(k, c, c_len, pt, &pt_len), 0);
	CHECK_EQ(pt_len, sizeof(msg));
	CHECK_MEM(pt, msg, sizeof(msg));
	check_rmtree(dir);
}

/* A type 1 block where type 2 is due: -1, or with implicit rejection a
 * message that is not the one inside. */
static void rsa_decrypt_bad_padding_rejected(void)
{
	const struct crypto_rsa_key *k = rsa_key();
	static const uint8_t msg[] = "session key";
	uint8_t blk[CRYPTO_RSA_MAX], ct[CRYPTO_RSA_MAX], pt[CRYPTO_RSA_MAX];
	size_t ct_len = sizeof(ct), pt_len = sizeof(pt);
	int r;

	pkcs1_block(blk, k->n_len, 1, msg, sizeof(msg));
	CHECK_EQ(crypto_rsa_public_raw(k->n, k->n_len, k->e, k->e_len, blk,
				       k->n_len, ct, &ct_len), 0);
	r = crypto_rsa_decrypt_pkcs1(k, ct, ct_len, pt, &pt_len);
	if (crypto_rsa_implicit_rejection())
		CHECK(r == 0 && (pt_len != sizeof(msg) ||
				 memcmp(pt, msg, sizeof(msg)) != 0));
	else
		CHECK_EQ(r, -1);
}

static void rsa_decrypt_output_too_small_rejected(void)
{
	const struct crypto_rsa_key *k = rsa_key();
	static const uint8_t msg[] = "sixteen bytes!!";
	uint8_t blk[CRYPTO_RSA_MAX], ct[CRYPTO_RSA_MAX], pt[8];
	size_t ct_len = sizeof(ct), pt_len = sizeof(pt);

	pkcs1_block(blk, k->n_len, 2, msg, sizeof(msg));
	CHECK_EQ(crypto_rsa_public_raw(k->n, k->n_len, k->e, k->e_len, blk,
				       k->n_len, ct, &ct_len), 0);
	CHECK_EQ(crypto_rsa_decrypt_pkcs1(k, ct, ct_len, pt, &pt_len), -1);
}

static void rsa_raw_private_wrong_length_rejected(void)
{
	const struct crypto_rsa_key *k = rsa_key();
	uint8_t in[CRYPTO_RSA_MAX] = { 0 }, out[CRYPTO_RSA_MAX];
	size_t out_len = sizeof(out);

	CHECK_EQ(crypto_rsa_private_raw(k, in, k->n_len - 1, out, &out_len),
		 -1);
}

static void rsa_raw_private_input_above_modulus_rejected(void)
{
	const struct crypto_rsa_key *k = rsa_key();
	uint8_t in[CRYPTO_RSA_MAX], out[CRYPTO_RSA_MAX];
	size_t out_len = sizeof(out);

	memset(in, 0xff, sizeof(in));
	CHECK_EQ(crypto_rsa_private_raw(k, in, k->n_len, out, &out_len), -1);
}

static void rsa_sign_input_too_long_rejected(void)
{
	const struct crypto_rsa_key *k = rsa_key();
	uint8_t in[CRYPTO_RSA_MAX] = { 0 }, sig[CRYPTO_RSA_MAX];
	size_t sig_len = sizeof(sig);

	CHECK_EQ(crypto_rsa_sign_pkcs1(k, in, k->n_len - 10, sig, &sig_len),
		 -1);
}

static void rsa_generate_odd_size_rejected(void)
{
	struct crypto_rsa_key key;

	CHECK_EQ(crypto_rsa_generate(1536, &key), -1);
	CHECK_EQ(crypto_rsa_generate(512, &key), -1);
}

static void rsa_import_equal_primes_rejected(void)
{
	const struct crypto_rsa_key *k = rsa_key();
	struct crypto_rsa_key imp;

	CHECK_EQ(crypto_rsa_import_epq(k->e, k->e_len, k->p, k->p_len, k->p,
				       k->p_len, &imp), -1);
}

static void rsa_import_even_exponent_rejected(void)
{
	const struct crypto_rsa_key *k = rsa_key();
	static const uint8_t e2[] = { 0x01, 0x00, 0x00 };
	struct crypto_rsa_key imp;

	CHECK_EQ(crypto_rsa_import_epq(e2, sizeof(e2), k->p, k->p_len, k->q,
				       k->q_len, &imp), -1);
}

static void rsa_import_small_modulus_rejected(void)
{
	static const uint8_t e[] = { 0x01, 0x00, 0x01 };
	static const uint8_t p[] = { 0x3d }, q[] = { 0x35 }; /* 61, 53 */
	struct crypto_rsa_key imp;

	CHECK_EQ(crypto_rsa_import_epq(e, sizeof(e), p, sizeof(p), q,
				       sizeof(q), &imp), -1);
}

static void rsa_verify_wrong_length_rejected(void)
{
	const struct crypto_rsa_key *k = rsa_key();
	uint8_t di[51], sig[CRYPTO_RSA_MAX];
	size_t di_len = digest_info(di), sig_len = sizeof(sig);

	CHECK_EQ(crypto_rsa_sign_pkcs1(k, di, di_len, sig, &sig_len), 0);
	CHECK_EQ(crypto_rsa_verify_pkcs1(k->n, k->n_len, k->e, k->e_len, di,
					 di_len, sig, sig_len - 1), -1);
}

/* ---- Elliptic curves ---------------------------------------------- */

static const enum crypto_pk_curve all_curves[] = {
	PK_P256, PK_P384, PK_P521, PK_BP256, PK_BP384, PK_BP512,
	PK_SECP256K1, PK_ED25519, PK_X25519,
};
#define N_CURVES (sizeof(all_curves) / sizeof(all_curves[0]))

static size_t pub_size(enum crypto_pk_curve c)
{
	return c == PK_ED25519 || c == PK_X25519 ?
		       32 : 1 + 2 * crypto_pk_field_size(c);
}

static void ec_oids_and_field_sizes(void)
{
	static const struct {
		enum crypto_pk_curve c;
		size_t fs;
		const char *oid;
	} t[] = {
		{ PK_P256, 32, "2A8648CE3D030107" },
		{ PK_P384, 48, "2B81040022" },
		{ PK_P521, 66, "2B81040023" },
		{ PK_BP256, 32, "2B2403030208010107" },
		{ PK_BP384, 48, "2B240303020801010B" },
		{ PK_BP512, 64, "2B240303020801010D" },
		{ PK_SECP256K1, 32, "2B8104000A" },
		{ PK_ED25519, 32, "2B06010401DA470F01" },
		{ PK_X25519, 32, "2B060104019755010501" },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint8_t want[CRYPTO_PK_OID_MAX];
		size_t want_len = check_unhex(t[i].oid, want, sizeof(want)), len = 0;
		const uint8_t *oid = crypto_pk_curve_oid(t[i].c, &len);

		CHECK_EQ(crypto_pk_field_size(t[i].c), t[i].fs);
		CHECK(oid != NULL);
		CHECK_EQ(len, want_len);
		if (oid != NULL)
			CHECK_MEM(oid, want, want_len);
	}
	CHECK_EQ(crypto_pk_field_size((enum crypto_pk_curve)99), 0);
}

static void ec_generate_and_public_match_all_curves(void)
{
	size_t i;

	for (i = 0; i < N_CURVES; i++) {
		enum crypto_pk_curve c = all_curves[i];
		uint8_t d[CRYPTO_PK_EC_PRIV_MAX], q[CRYPTO_PK_EC_PUB_MAX];
		uint8_t q2[CRYPTO_PK_EC_PUB_MAX];
		size_t dl = sizeof(d), ql = sizeof(q), ql2 = sizeof(q2);

		CHECK_EQ(crypto_pk_ec_generate(c, d, &dl, q, &ql), 0);
		CHECK_EQ(dl, crypto_pk_field_size(c));
		CHECK_EQ(ql, pub_size(c));
		CHECK_EQ(crypto_pk_ec_public(c, d, dl, q2, &ql2), 0);
		CHECK_EQ(ql2, ql);
		CHECK_MEM(q2, q, ql);
	}
}

static void ec_sign_verify_all_curves(void)
{
	uint8_t h[64];
	size_t i;

	CHECK_EQ(crypto_digest(CRYPTO_SHA512, "abc", 3, h), 0);
	for (i = 0; i < N_CURVES; i++) {
		enum crypto_pk_curve c = all_curves[i];
		uint8_t d[CRYPTO_PK_EC_PRIV_MAX], q[CRYPTO_PK_EC_PUB_MAX];
		uint8_t der[CRYPTO_PK_EC_SIG_MAX], raw[CRYPTO_PK_EC_SIG_MAX];
		size_t dl = sizeof(d), ql = sizeof(q), derl = sizeof(der);
		size_t rawl = sizeof(raw), fs = crypto_pk_field_size(c);
		/* The digest length that goes with the curve size. */
		size_t hl = fs > 48 ? 64 : fs;

		if (c == PK_X25519)
			continue;
		CHECK_EQ(crypto_pk_ec_generate(c, d, &dl, q, &ql), 0);
		CHECK_EQ(crypto_pk_ec_sign(c, d, dl, h, hl, PK_SIG_DER, der,
					   &derl), 0);
		CHECK_EQ(crypto_pk_ec_sign(c, d, dl, h, hl, PK_SIG_RAW, raw,
					   &rawl), 0);
		CHECK_EQ(rawl, c == PK_ED25519 ? 64 : 2 * fs);
		CHECK_EQ(crypto_pk_ec_verify(c, q, ql, h, hl, PK_SIG_DER, der,
					     derl), 0);
		CHECK_EQ(crypto_pk_ec_verify(c, q, ql, h, hl, PK_SIG_RAW, raw,
					     rawl), 0);
		raw[rawl - 1] ^= 1;
		CHECK_EQ(crypto_pk_ec_verify(c, q, ql, h, hl, PK_SIG_RAW, raw,
					     rawl), -1);
		h[0] ^= 1;
		CHECK_EQ(crypto_pk_ec_verify(c, q, ql, h, hl, PK_SIG_DER, der,
					     derl), -1);
		h[0] ^= 1;
	}
}

static void ec_ecdh_agree_all_curves(void)
{
	size_t i;

	for (i = 0; i < N_CURVES; i++) {
		enum crypto_pk_curve c = all_curves[i];
		uint8_t da[CRYPTO_PK_EC_PRIV_MAX], qa[CRYPTO_PK_EC_PUB_MAX];
		uint8_t db[CRYPTO_PK_EC_PRIV_MAX], qb[CRYPTO_PK_EC_PUB_MAX];
		uint8_t za[CRYPTO_PK_EC_PRIV_MAX], zb[CRYPTO_PK_EC_PRIV_MAX];
		size_t dal = sizeof(da), qal = sizeof(qa), dbl = sizeof(db);
		size_t qbl = sizeof(qb), zal = sizeof(za), zbl = sizeof(zb);

		if (c == PK_ED25519)
			continue;
		CHECK_EQ(crypto_pk_ec_generate(c, da, &dal, qa, &qal), 0);
		CHECK_EQ(crypto_pk_ec_generate(c, db, &dbl, qb, &qbl), 0);
		CHECK_EQ(crypto_pk_ecdh(c, da, dal, qb, qbl, za, &zal), 0);
		CHECK_EQ(crypto_pk_ecdh(c, db, dbl, qa, qal, zb, &zbl), 0);
		CHECK_EQ(zal, crypto_pk_field_size(c));
		CHECK_EQ(zbl, zal);
		CHECK_MEM(za, zb, zal);
		/* ECDH's X coordinate is that of the shared point. */
		if (c != PK_X25519)
			CHECK(memcmp(za, qa + 1, zal) != 0);
	}
}

/* RFC 7748 §6.1. */
static void x25519_rfc7748_vectors(void)
{
	uint8_t a[32], ap[32], b[32], bp[32], k[32], pub[32], z[32];
	size_t pl = sizeof(pub), zl = sizeof(z);

	check_unhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a",
	      a, 32);
	check_unhex("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a",
	      ap, 32);
	check_unhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb",
	      b, 32);
	check_unhex("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f",
	      bp, 32);
	check_unhex("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742",
	      k, 32);
	CHECK_EQ(crypto_pk_ec_public(PK_X25519, a, 32, pub, &pl), 0);
	CHECK_MEM(pub, ap, 32);
	pl = sizeof(pub);
	CHECK_EQ(crypto_pk_ec_public(PK_X25519, b, 32, pub, &pl), 0);
	CHECK_MEM(pub, bp, 32);
	CHECK_EQ(crypto_pk_ecdh(PK_X25519, a, 32, bp, 32, z, &zl), 0);
	CHECK_MEM(z, k, 32);
	zl = sizeof(z);
	CHECK_EQ(crypto_pk_ecdh(PK_X25519, b, 32, ap, 32, z, &zl), 0);
	CHECK_MEM(z, k, 32);
}

/* d = 1 gives the generator, whose coordinates the curve's standard
 * publishes (SEC 2 §2.4.1; RFC 5639 §3.4). */
static void ec_generator_is_public_of_one(void)
{
	static const struct {
		enum crypto_pk_curve c;
		const char *g;
	} t[] = {
		{ PK_SECP256K1,
		  "04"
		  "79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798"
		  "483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8" },
		{ PK_BP256,
		  "04"
		  "8BD2AEB9CB7E57CB2C4B482FFC81B7AFB9DE27E1E3BD23C23A4453BD9ACE3262"
		  "547EF835C3DAC4FD97F8461A14611DC9C27745132DED8E545C1D54C72F046997" },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint8_t d[32] = { 0 }, g[65], q[CRYPTO_PK_EC_PUB_MAX];
		size_t ql = sizeof(q);

		d[31] = 1;
		CHECK_EQ(check_unhex(t[i].g, g, sizeof(g)), 65);
		CHECK_EQ(crypto_pk_ec_public(t[i].c, d, 32, q, &ql), 0);
		CHECK_EQ(ql, 65);
		CHECK_MEM(q, g, 65);
	}
}

static void ec_private_wrong_length_rejected(void)
{
	uint8_t d[CRYPTO_PK_EC_PRIV_MAX] = { 1 }, q[CRYPTO_PK_EC_PUB_MAX];
	size_t ql = sizeof(q);

	CHECK_EQ(crypto_pk_ec_public(PK_P384, d, 32, q, &ql), -1);
	CHECK_EQ(crypto_pk_ec_public(PK_X25519, d, 31, q, &ql), -1);
}

static void ec_scalar_zero_rejected(void)
{
	uint8_t d[CRYPTO_PK_EC_PRIV_MAX] = { 0 }, q[CRYPTO_PK_EC_PUB_MAX];
	size_t ql = sizeof(q);

	CHECK_EQ(crypto_pk_ec_public(PK_BP256, d, 32, q, &ql), -1);
}

/* All ones exceeds the order of every Weierstrass curve here. */
static void ec_scalar_above_order_rejected(void)
{
	uint8_t d[CRYPTO_PK_EC_PRIV_MAX], q[CRYPTO_PK_EC_PUB_MAX];
	uint8_t sig[CRYPTO_PK_EC_SIG_MAX], h[32] = { 0 };
	size_t i, sl = sizeof(sig);

	memset(d, 0xff, sizeof(d));
	for (i = 0; i < N_CURVES; i++) {
		enum crypto_pk_curve c = all_curves[i];
		size_t ql = sizeof(q);

		if (c == PK_ED25519 || c == PK_X25519)
			continue;
		CHECK_EQ(crypto_pk_ec_public(c, d, crypto_pk_field_size(c), q,
					     &ql), -1);
	}
	CHECK_EQ(crypto_pk_ec_sign(PK_P521, d, 66, h, 32, PK_SIG_RAW, sig, &sl),
		 -1);
}

static void ec_off_curve_point_rejected(void)
{
	uint8_t d[CRYPTO_PK_EC_PRIV_MAX], q[CRYPTO_PK_EC_PUB_MAX];
	uint8_t z[CRYPTO_PK_EC_PRIV_MAX];
	size_t dl = sizeof(d), ql = sizeof(q), zl = sizeof(z);

	CHECK_EQ(crypto_pk_ec_generate(PK_BP384, d, &dl, q, &ql), 0);
	q[ql - 1] ^= 1;
	CHECK_EQ(crypto_pk_ecdh(PK_BP384, d, dl, q, ql, z, &zl), -1);
}

static void ec_verify_off_curve_point_rejected(void)
{
	uint8_t d[CRYPTO_PK_EC_PRIV_MAX], q[CRYPTO_PK_EC_PUB_MAX];
	uint8_t sig[CRYPTO_PK_EC_SIG_MAX], h[32] = { 7 };
	size_t dl = sizeof(d), ql = sizeof(q), sl = sizeof(sig);

	CHECK_EQ(crypto_pk_ec_generate(PK_SECP256K1, d, &dl, q, &ql), 0);
	CHECK_EQ(crypto_pk_ec_sign(PK_SECP256K1, d, dl, h, 32, PK_SIG_DER, sig,
				   &sl), 0);
	q[10] ^= 0x40;
	CHECK_EQ(crypto_pk_ec_verify(PK_SECP256K1, q, ql, h, 32, PK_SIG_DER,
				     sig, sl), -1);
}

static void ec_compressed_point_rejected(void)
{
	uint8_t d[CRYPTO_PK_EC_PRIV_MAX], q[CRYPTO_PK_EC_PUB_MAX];
	uint8_t z[CRYPTO_PK_EC_PRIV_MAX];
	size_t dl = sizeof(d), ql = sizeof(q), zl = sizeof(z);

	CHECK_EQ(crypto_pk_ec_generate(PK_P256, d, &dl, q, &ql), 0);
	q[0] = 0x02 | (q[64] & 1);
	CHECK_EQ(crypto_pk_ecdh(PK_P256, d, dl, q, 33, z, &zl), -1);
}

/* The all-zero u coordinate has small order: the shared secret would be
 * zero (RFC 7748 §6.1 says to check). */
static void x25519_small_order_peer_rejected(void)
{
	uint8_t d[32], q[32], zero[32] = { 0 }, z[32];
	size_t dl = sizeof(d), ql = sizeof(q), zl = sizeof(z);

	CHECK_EQ(crypto_pk_ec_generate(PK_X25519, d, &dl, q, &ql), 0);
	CHECK_EQ(crypto_pk_ecdh(PK_X25519, d, dl, zero, 32, z, &zl), -1);
}

static void ed25519_ecdh_rejected(void)
{
	uint8_t d[32], q[32], z[32];
	size_t dl = sizeof(d), ql = sizeof(q), zl = sizeof(z);

	CHECK_EQ(crypto_pk_ec_generate(PK_ED25519, d, &dl, q, &ql), 0);
	CHECK_EQ(crypto_pk_ecdh(PK_ED25519, d, dl, q, ql, z, &zl), -1);
}

static void x25519_sign_rejected(void)
{
	uint8_t d[32], q[32], sig[CRYPTO_PK_EC_SIG_MAX], h[32] = { 0 };
	size_t dl = sizeof(d), ql = sizeof(q), sl = sizeof(sig);

	CHECK_EQ(crypto_pk_ec_generate(PK_X25519, d, &dl, q, &ql), 0);
	CHECK_EQ(crypto_pk_ec_sign(PK_X25519, d, dl, h, 32, PK_SIG_RAW, sig,
				   &sl), -1);
}

static void ec_raw_signature_wrong_length_rejected(void)
{
	uint8_t d[CRYPTO_PK_EC_PRIV_MAX], q[CRYPTO_PK_EC_PUB_MAX];
	uint8_t sig[CRYPTO_PK_EC_SIG_MAX], h[48] = { 3 };
	size_t dl = sizeof(d), ql = sizeof(q), sl = sizeof(sig);

	CHECK_EQ(crypto_pk_ec_generate(PK_P384, d, &dl, q, &ql), 0);
	CHECK_EQ(crypto_pk_ec_sign(PK_P384, d, dl, h, 48, PK_SIG_RAW, sig, &sl),
		 0);
	CHECK_EQ(crypto_pk_ec_verify(PK_P384, q, ql, h, 48, PK_SIG_RAW, sig,
				     sl - 1), -1);
}

static void ec_digest_too_long_rejected(void)
{
	uint8_t d[CRYPTO_PK_EC_PRIV_MAX], q[CRYPTO_PK_EC_PUB_MAX];
	uint8_t sig[CRYPTO_PK_EC_SIG_MAX], h[65] = { 0 };
	size_t dl = sizeof(d), ql = sizeof(q), sl = sizeof(sig);

	CHECK_EQ(crypto_pk_ec_generate(PK_P256, d, &dl, q, &ql), 0);
	CHECK_EQ(crypto_pk_ec_sign(PK_P256, d, dl, h, 65, PK_SIG_DER, sig, &sl),
		 -1);
	CHECK_EQ(crypto_pk_ec_sign(PK_P256, d, dl, h, 0, PK_SIG_DER, sig, &sl),
		 -1);
}

/* EdDSA signs messages, not digests: SSH session data is longer than any
 * digest. */
static void ed25519_signs_long_messages(void)
{
	uint8_t d[CRYPTO_PK_EC_PRIV_MAX], q[CRYPTO_PK_EC_PUB_MAX];
	uint8_t sig[CRYPTO_PK_EC_SIG_MAX], m[2049];
	size_t dl = sizeof(d), ql = sizeof(q), sl = sizeof(sig);

	memset(m, 0x5A, sizeof(m));
	CHECK_EQ(crypto_pk_ec_generate(PK_ED25519, d, &dl, q, &ql), 0);
	CHECK_EQ(crypto_pk_ec_sign(PK_ED25519, d, dl, m, sizeof(m), PK_SIG_RAW,
				   sig, &sl), 0);
	CHECK_EQ(sl, 64);
	CHECK_EQ(crypto_pk_ec_verify(PK_ED25519, q, ql, m, sizeof(m),
				     PK_SIG_RAW, sig, sl), 0);
	m[100] ^= 1;
	CHECK(crypto_pk_ec_verify(PK_ED25519, q, ql, m, sizeof(m), PK_SIG_RAW,
				  sig, sl) != 0);
}

static void ec_signature_buffer_too_small_rejected(void)
{
	uint8_t d[CRYPTO_PK_EC_PRIV_MAX], q[CRYPTO_PK_EC_PUB_MAX];
	uint8_t sig[CRYPTO_PK_EC_SIG_MAX], h[64] = { 0 };
	size_t dl = sizeof(d), ql = sizeof(q), sl = 131;

	CHECK_EQ(crypto_pk_ec_generate(PK_P521, d, &dl, q, &ql), 0);
	CHECK_EQ(crypto_pk_ec_sign(PK_P521, d, dl, h, 64, PK_SIG_RAW, sig, &sl),
		 -1);
}

int main(void)
{
	RUN(rsa_keygen_each_size);
	RUN(rsa_generated_primes_are_prime);
	RUN(rsa_prepared_matches_one_off);
	RUN(rsa_two_keys_differ);
	RUN(rsa_import_epq_matches_generated);
	RUN(rsa_import_crt_accepts_consistent);
	RUN(rsa_import_crt_rejects_wrong_dp);
	RUN(rsa_sign_verify_round_trip);
	RUN(rsa_raw_private_equals_sign);
	RUN(rsa_public_raw_inverts_private_raw);
	RUN(rsa_decrypt_pkcs1_round_trip);
	RUN(rsa_decrypt_openssl_cli_ciphertext);
	RUN(rsa_decrypt_bad_padding_rejected);
	RUN(rsa_decrypt_output_too_small_rejected);
	RUN(rsa_raw_private_wrong_length_rejected);
	RUN(rsa_raw_private_input_above_modulus_rejected);
	RUN(rsa_sign_input_too_long_rejected);
	RUN(rsa_generate_odd_size_rejected);
	RUN(rsa_import_equal_primes_rejected);
	RUN(rsa_import_even_exponent_rejected);
	RUN(rsa_import_small_modulus_rejected);
	RUN(rsa_verify_wrong_length_rejected);
	RUN(ec_oids_and_field_sizes);
	RUN(ec_generate_and_public_match_all_curves);
	RUN(ec_sign_verify_all_curves);
	RUN(ec_ecdh_agree_all_curves);
	RUN(x25519_rfc7748_vectors);
	RUN(ec_generator_is_public_of_one);
	RUN(ec_private_wrong_length_rejected);
	RUN(ec_scalar_zero_rejected);
	RUN(ec_scalar_above_order_rejected);
	RUN(ec_off_curve_point_rejected);
	RUN(ec_verify_off_curve_point_rejected);
	RUN(ec_compressed_point_rejected);
	RUN(x25519_small_order_peer_rejected);
	RUN(ed25519_ecdh_rejected);
	RUN(x25519_sign_rejected);
	RUN(ec_raw_signature_wrong_length_rejected);
	RUN(ec_digest_too_long_rejected);
	RUN(ed25519_signs_long_messages);
	RUN(ec_signature_buffer_too_small_rejected);
	return CHECK_DONE();
}
