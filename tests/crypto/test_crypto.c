/* Tests of the crypto service: known answers from the standards' vectors,
 * malformed inputs rejected, certificates checked by the openssl tool. */
#include "services/crypto.h"
#include "../check.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* RFC 8032 §7.1 TEST 1 and TEST 2. */
static void ed25519_rfc8032_vectors(void)
{
	static const struct {
		const char *sk, *pk, *msg, *sig;
	} t[] = {
		{ "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60",
		  "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a",
		  "",
		  "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e06522490155"
		  "5fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b" },
		{ "4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb",
		  "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c",
		  "72",
		  "92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da"
		  "085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00" },
	};
	size_t i;

	for (i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		uint8_t sk[32], pk[32], msg[8], sig[64];
		uint8_t pub[CRYPTO_EC_PUB_MAX], out[CRYPTO_SIG_MAX];
		size_t pub_len = sizeof(pub), out_len = sizeof(out);
		size_t msg_len;

		CHECK_EQ(check_unhex(t[i].sk, sk, sizeof(sk)), 32);
		CHECK_EQ(check_unhex(t[i].pk, pk, sizeof(pk)), 32);
		msg_len = check_unhex(t[i].msg, msg, sizeof(msg));
		CHECK_EQ(check_unhex(t[i].sig, sig, sizeof(sig)), 64);

		CHECK_EQ(crypto_ec_public(CRYPTO_ED25519, sk, 32, pub,
					  &pub_len), 0);
		CHECK_EQ(pub_len, 32);
		CHECK_MEM(pub, pk, 32);
		CHECK_EQ(crypto_sign(CRYPTO_ED25519, sk, 32, msg, msg_len, out,
				     &out_len), 0);
		CHECK_EQ(out_len, 64);
		CHECK_MEM(out, sig, 64);
		CHECK_EQ(crypto_verify(CRYPTO_ED25519, pk, 32, msg, msg_len,
				       sig, 64), 0);
		sig[10] ^= 1;
		CHECK_EQ(crypto_verify(CRYPTO_ED25519, pk, 32, msg, msg_len,
				       sig, 64), -1);
	}
}

/* RFC 6979 §A.2.5: the P-256 key pair. */
static const char p256_rfc6979_d[] =
	"C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721";
static const char p256_rfc6979_q[] =
	"04"
	"60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6"
	"7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299";

static void p256_public_of_rfc6979_key(void)
{
	uint8_t d[32], q[65], pub[CRYPTO_EC_PUB_MAX];
	size_t pub_len = sizeof(pub);

	check_unhex(p256_rfc6979_d, d, sizeof(d));
	check_unhex(p256_rfc6979_q, q, sizeof(q));
	CHECK_EQ(crypto_ec_public(CRYPTO_P256, d, 32, pub, &pub_len), 0);
	CHECK_EQ(pub_len, 65);
	CHECK_MEM(pub, q, 65);
}

/* RFC 6979 §A.2.5, SHA-256, message "sample": (r, s) in DER. */
static void p256_verify_rfc6979_signature(void)
{
	uint8_t q[65], sig[72];
	size_t sig_len;

	check_unhex(p256_rfc6979_q, q, sizeof(q));
	sig_len = check_unhex("3046"
			"022100EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716"
			"022100F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8",
			sig, sizeof(sig));
	CHECK_EQ(sig_len, 72);
	CHECK_EQ(crypto_verify(CRYPTO_P256, q, 65, (const uint8_t *)"sample", 6,
			       sig, sig_len), 0);
	CHECK_EQ(crypto_verify(CRYPTO_P256, q, 65, (const uint8_t *)"samplf", 6,
			       sig, sig_len), -1);
}

static void p256_sign_verify_round_trip(void)
{
	static const uint8_t msg[] = "authenticatorData || clientDataHash";
	uint8_t d[32], q[65], sig[CRYPTO_SIG_MAX];
	size_t sig_len = sizeof(sig);

	check_unhex(p256_rfc6979_d, d, sizeof(d));
	check_unhex(p256_rfc6979_q, q, sizeof(q));
	CHECK_EQ(crypto_sign(CRYPTO_P256, d, 32, msg, sizeof(msg), sig,
			     &sig_len), 0);
	CHECK(sig_len >= 8 && sig_len <= 72);
	CHECK_EQ(sig[0], 0x30);
	CHECK_EQ(crypto_verify(CRYPTO_P256, q, 65, msg, sizeof(msg), sig,
			       sig_len), 0);
	CHECK_EQ(crypto_verify(CRYPTO_P256, q, 65, msg, sizeof(msg) - 1, sig,
			       sig_len), -1);
}

static void generate_twice_gives_different_keys(void)
{
	enum crypto_curve curves[] = { CRYPTO_P256, CRYPTO_ED25519 };
	size_t i;

	for (i = 0; i < 2; i++) {
		uint8_t d1[32], d2[32], q1[65], q2[65], q[65];
		size_t d1_len = 32, d2_len = 32, q1_len = 65, q2_len = 65;
		size_t q_len = sizeof(q);

		CHECK_EQ(crypto_ec_generate(curves[i], d1, &d1_len, q1,
					    &q1_len), 0);
		CHECK_EQ(crypto_ec_generate(curves[i], d2, &d2_len, q2,
					    &q2_len), 0);
		CHECK_EQ(d1_len, 32);
		CHECK_EQ(q1_len, curves[i] == CRYPTO_P256 ? 65 : 32);
		CHECK(memcmp(d1, d2, 32) != 0);
		CHECK(memcmp(q1, q2, q1_len) != 0);
		/* The exported pair belongs together. */
		CHECK_EQ(crypto_ec_public(curves[i], d1, d1_len, q, &q_len), 0);
		CHECK_EQ(q_len, q1_len);
		CHECK_MEM(q, q1, q1_len);
	}
}

static void ecdh_both_sides_agree(void)
{
	uint8_t da[32], db[32], qa[65], qb[65], za[32], zb[32];
	size_t da_len = 32, db_len = 32, qa_len = 65, qb_len = 65;
	size_t za_len = 32, zb_len = 32;

	CHECK_EQ(crypto_ec_generate(CRYPTO_P256, da, &da_len, qa, &qa_len), 0);
	CHECK_EQ(crypto_ec_generate(CRYPTO_P256, db, &db_len, qb, &qb_len), 0);
	CHECK_EQ(crypto_ecdh(CRYPTO_P256, da, 32, qb, 65, za, &za_len), 0);
	CHECK_EQ(crypto_ecdh(CRYPTO_P256, db, 32, qa, 65, zb, &zb_len), 0);
	CHECK_EQ(za_len, 32);
	CHECK_EQ(zb_len, 32);
	CHECK_MEM(za, zb, 32);
}

static void ecdh_rejects_point_off_curve(void)
{
	uint8_t d[32], q[65], z[32];
	size_t z_len = sizeof(z);

	check_unhex(p256_rfc6979_d, d, sizeof(d));
	check_unhex(p256_rfc6979_q, q, sizeof(q));
	q[64] ^= 1;
	CHECK_EQ(crypto_ecdh(CRYPTO_P256, d, 32, q, 65, z, &z_len), -1);
}

static void ecdh_rejects_point_at_infinity_encoding(void)
{
	uint8_t d[32], q[65] = { 0x04 }, z[32];
	size_t z_len = sizeof(z);

	check_unhex(p256_rfc6979_d, d, sizeof(d));
	CHECK_EQ(crypto_ecdh(CRYPTO_P256, d, 32, q, 65, z, &z_len), -1);
}

static void ecdh_rejects_ed25519(void)
{
	uint8_t d[32] = { 1 }, q[32] = { 1 }, z[32];
	size_t z_len = sizeof(z);

	CHECK_EQ(crypto_ecdh(CRYPTO_ED25519, d, 32, q, 32, z, &z_len), -1);
}

static void sign_rejects_truncated_private_key(void)
{
	uint8_t d[32], sig[CRYPTO_SIG_MAX];
	size_t sig_len = sizeof(sig);

	check_unhex(p256_rfc6979_d, d, sizeof(d));
	CHECK_EQ(crypto_sign(CRYPTO_P256, d, 31, d, 1, sig, &sig_len), -1);
	sig_len = sizeof(sig);
	CHECK_EQ(crypto_sign(CRYPTO_ED25519, d, 31, d, 1, sig, &sig_len), -1);
}

/* 0 and n are outside [1, n-1]; n-1 is the largest valid scalar. */
static void p256_rejects_scalar_out_of_range(void)
{
	uint8_t d[32] = { 0 }, q[65], sig[CRYPTO_SIG_MAX];
	size_t q_len = sizeof(q), sig_len = sizeof(sig);

	CHECK_EQ(crypto_ec_public(CRYPTO_P256, d, 32, q, &q_len), -1);
	CHECK_EQ(crypto_sign(CRYPTO_P256, d, 32, d, 1, sig, &sig_len), -1);
	check_unhex("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551",
	      d, sizeof(d));
	CHECK_EQ(crypto_ec_public(CRYPTO_P256, d, 32, q, &q_len), -1);
	d[31] = 0x50;
	CHECK_EQ(crypto_ec_public(CRYPTO_P256, d, 32, q, &q_len), 0);
}

static void verify_rejects_truncated_signature(void)
{
	static const uint8_t msg[] = "message";
	uint8_t d[32], q[65], sig[CRYPTO_SIG_MAX];
	size_t sig_len = sizeof(sig);

	check_unhex(p256_rfc6979_d, d, sizeof(d));
	check_unhex(p256_rfc6979_q, q, sizeof(q));
	CHECK_EQ(crypto_sign(CRYPTO_P256, d, 32, msg, sizeof(msg), sig,
			     &sig_len), 0);
	CHECK_EQ(crypto_verify(CRYPTO_P256, q, 65, msg, sizeof(msg), sig,
			       sig_len - 1), -1);
	CHECK_EQ(crypto_verify(CRYPTO_P256, q, 65, msg, sizeof(msg), sig, 0),
		 -1);
}

static void verify_rejects_garbage_signature(void)
{
	static const uint8_t msg[] = "message";
	uint8_t q[65], sig[72];

	check_unhex(p256_rfc6979_q, q, sizeof(q));
	memset(sig, 0xa5, sizeof(sig));
	CHECK_EQ(crypto_verify(CRYPTO_P256, q, 65, msg, sizeof(msg), sig,
			       sizeof(sig)), -1);
	CHECK_EQ(crypto_verify(CRYPTO_ED25519, q, 32, msg, sizeof(msg), sig,
			       63), -1);
}

static void verify_rejects_truncated_or_compressed_public_key(void)
{
	uint8_t q[65], sig[72];
	size_t sig_len;

	check_unhex(p256_rfc6979_q, q, sizeof(q));
	sig_len = check_unhex("3046"
			"022100EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716"
			"022100F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8",
			sig, sizeof(sig));
	CHECK_EQ(crypto_verify(CRYPTO_P256, q, 64, (const uint8_t *)"sample", 6,
			       sig, sig_len), -1);
	q[0] = 0x02;
	CHECK_EQ(crypto_verify(CRYPTO_P256, q, 33, (const uint8_t *)"sample", 6,
			       sig, sig_len), -1);
}

/* RFC 5869 appendix A.1. */
static void hkdf_rfc5869_case1(void)
{
	uint8_t ikm[22], salt[13], info[10], okm[42], want[42];

	memset(ikm, 0x0b, sizeof(ikm));
	check_unhex("000102030405060708090a0b0c", salt, sizeof(salt));
	check_unhex("f0f1f2f3f4f5f6f7f8f9", info, sizeof(info));
	check_unhex("3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf"
	      "34007208d5b887185865", want, sizeof(want));
	CHECK_EQ(crypto_hkdf_sha256(salt, sizeof(salt), ikm, sizeof(ikm), info,
				    sizeof(info), okm, sizeof(okm)), 0);
	CHECK_MEM(okm, want, sizeof(want));
}

/* RFC 5869 appendix A.3: no salt, no info. */
static void hkdf_rfc5869_case3_empty_salt_info(void)
{
	uint8_t ikm[22], okm[42], want[42];

	memset(ikm, 0x0b, sizeof(ikm));
	check_unhex("8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d"
	      "9d201395faa4b61a96c8", want, sizeof(want));
	CHECK_EQ(crypto_hkdf_sha256(NULL, 0, ikm, sizeof(ikm), NULL, 0, okm,
				    sizeof(okm)), 0);
	CHECK_MEM(okm, want, sizeof(want));
}

/* NIST SP 800-38A F.2.5 and F.2.6. */
static void aes256_cbc_sp800_38a(void)
{
	uint8_t key[32], iv[16], pt[64], ct[64], buf[64];

	check_unhex("603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4",
	      key, sizeof(key));
	check_unhex("000102030405060708090a0b0c0d0e0f", iv, sizeof(iv));
	check_unhex("6bc1bee22e409f96e93d7e117393172aae2d8a571e03ac9c9eb76fac45af8e51"
	      "30c81c46a35ce411e5fbc1191a0a52eff69f2445df4f9b17ad2b417be66c3710",
	      pt, sizeof(pt));
	check_unhex("f58c4c04d6e5f1ba779eabfb5f7bfbd69cfc4e967edb808d679f777bc6702c7d"
	      "39f23369a9d9bacfa530e26304231461b2eb05e2c39be9fcda6c19078c6a9d1b",
	      ct, sizeof(ct));
	CHECK_EQ(crypto_aes256_cbc(1, key, iv, pt, sizeof(pt), buf), 0);
	CHECK_MEM(buf, ct, sizeof(ct));
	/* In place, as the header allows. */
	CHECK_EQ(crypto_aes256_cbc(0, key, iv, buf, sizeof(buf), buf), 0);
	CHECK_MEM(buf, pt, sizeof(pt));
}

static void aes256_cbc_null_iv_is_zero_iv(void)
{
	uint8_t key[32] = { 7 }, iv[16] = { 0 }, pt[32] = { 1, 2, 3 };
	uint8_t a[32], b[32];

	CHECK_EQ(crypto_aes256_cbc(1, key, NULL, pt, sizeof(pt), a), 0);
	CHECK_EQ(crypto_aes256_cbc(1, key, iv, pt, sizeof(pt), b), 0);
	CHECK_MEM(a, b, sizeof(a));
}

static void aes256_cbc_rejects_partial_block(void)
{
	uint8_t key[32] = { 0 }, buf[32] = { 0 };

	CHECK_EQ(crypto_aes256_cbc(1, key, NULL, buf, 17, buf), -1);
}

/* McGrew & Viega, "The Galois/Counter Mode of Operation", test case 14. */
static void aes256_gcm_spec_case14(void)
{
	uint8_t key[32] = { 0 }, nonce[12] = { 0 }, pt[16] = { 0 };
	uint8_t ct[16], tag[16], want_ct[16], want_tag[16], back[16];

	check_unhex("cea7403d4d606b6e074ec5d3baf39d18", want_ct, sizeof(want_ct));
	check_unhex("d0d1c8a799996bf0265b98b5d48ab919", want_tag, sizeof(want_tag));
	CHECK_EQ(crypto_aes256_gcm_seal(key, nonce, NULL, 0, pt, sizeof(pt),
					ct, tag), 0);
	CHECK_MEM(ct, want_ct, 16);
	CHECK_MEM(tag, want_tag, 16);
	CHECK_EQ(crypto_aes256_gcm_open(key, nonce, NULL, 0, ct, sizeof(ct),
					tag, back), 0);
	CHECK_MEM(back, pt, 16);
}

/* Test case 16: 60-byte plaintext with additional authenticated data. */
static const char gcm16_key[] =
	"feffe9928665731c6d6a8f9467308308feffe9928665731c6d6a8f9467308308";
static const char gcm16_nonce[] = "cafebabefacedbaddecaf888";
static const char gcm16_aad[] = "feedfacedeadbeeffeedfacedeadbeefabaddad2";
static const char gcm16_pt[] =
	"d9313225f88406e5a55909c5aff5269a86a7a9531534f7da2e4c303d8a318a72"
	"1c3c0c95956809532fcf0e2449a6b525b16aedf5aa0de657ba637b39";
static const char gcm16_ct[] =
	"522dc1f099567d07f47f37a32a84427d643a8cdcbfe5c0c97598a2bd2555d1aa"
	"8cb08e48590dbb3da7b08b1056828838c5f61e6393ba7a0abcc9f662";
static const char gcm16_tag[] = "76fc6ece0f4e1768cddf8853bb2d551b";

static void aes256_gcm_spec_case16(void)
{
	uint8_t key[32], nonce[12], aad[20], pt[60], ct[60], tag[16];
	uint8_t out[60], out_tag[16], back[60];

	check_unhex(gcm16_key, key, sizeof(key));
	check_unhex(gcm16_nonce, nonce, sizeof(nonce));
	CHECK_EQ(check_unhex(gcm16_aad, aad, sizeof(aad)), 20);
	CHECK_EQ(check_unhex(gcm16_pt, pt, sizeof(pt)), 60);
	CHECK_EQ(check_unhex(gcm16_ct, ct, sizeof(ct)), 60);
	check_unhex(gcm16_tag, tag, sizeof(tag));
	CHECK_EQ(crypto_aes256_gcm_seal(key, nonce, aad, sizeof(aad), pt,
					sizeof(pt), out, out_tag), 0);
	CHECK_MEM(out, ct, sizeof(ct));
	CHECK_MEM(out_tag, tag, sizeof(tag));
	CHECK_EQ(crypto_aes256_gcm_open(key, nonce, aad, sizeof(aad), ct,
					sizeof(ct), tag, back), 0);
	CHECK_MEM(back, pt, sizeof(pt));
}

static void aes256_gcm_open_rejects_bad_tag_and_wipes(void)
{
	uint8_t key[32], nonce[12], aad[20], ct[60], tag[16], back[60];
	static const uint8_t zero[60];

	check_unhex(gcm16_key, key, sizeof(key));
	check_unhex(gcm16_nonce, nonce, sizeof(nonce));
	check_unhex(gcm16_aad, aad, sizeof(aad));
	check_unhex(gcm16_ct, ct, sizeof(ct));
	check_unhex(gcm16_tag, tag, sizeof(tag));
	tag[15] ^= 0x80;
	memset(back, 0xee, sizeof(back));
	CHECK_EQ(crypto_aes256_gcm_open(key, nonce, aad, sizeof(aad), ct,
					sizeof(ct), tag, back), -1);
	CHECK_MEM(back, zero, sizeof(back));
}

static void aes256_gcm_open_rejects_altered_aad(void)
{
	uint8_t key[32], nonce[12], aad[20], ct[60], tag[16], back[60];

	check_unhex(gcm16_key, key, sizeof(key));
	check_unhex(gcm16_nonce, nonce, sizeof(nonce));
	check_unhex(gcm16_aad, aad, sizeof(aad));
	check_unhex(gcm16_ct, ct, sizeof(ct));
	check_unhex(gcm16_tag, tag, sizeof(tag));
	aad[0] ^= 1;
	CHECK_EQ(crypto_aes256_gcm_open(key, nonce, aad, sizeof(aad), ct,
					sizeof(ct), tag, back), -1);
}

static const uint8_t test_aaguid[16] = {
	0x76, 0x6b, 0x65, 0x79, 0x2d, 0x74, 0x65, 0x73,
	0x74, 0x2d, 0x61, 0x61, 0x67, 0x75, 0x69, 0x64,
};

struct pki {
	uint8_t ca_d[32], ca_q[65], leaf_d[32], leaf_q[65];
	uint8_t *ca_der, *leaf_der;
	size_t ca_len, leaf_len;
};

static const struct crypto_cert_req ca_req = {
	.c = "US", .o = "vkey", .ou = "Attestation CA", .cn = "vkey Test Root",
	.is_ca = 1, .serial = 1, .days = 3650,
};

static const struct crypto_cert_req leaf_req = {
	.c = "US", .o = "vkey", .ou = "Authenticator Attestation",
	.cn = "vkey Batch 1", .aaguid = test_aaguid,
	.serial = 0x0102030405060708u, .days = 365,
};

static int pki_make(struct pki *p)
{
	size_t dl = 32, ql = 65;

	memset(p, 0, sizeof(*p));
	if (crypto_ec_generate(CRYPTO_P256, p->ca_d, &dl, p->ca_q, &ql) != 0)
		return -1;
	dl = 32;
	ql = 65;
	if (crypto_ec_generate(CRYPTO_P256, p->leaf_d, &dl, p->leaf_q, &ql))
		return -1;
	if (crypto_x509_issue(&ca_req, p->ca_q, 65, p->ca_d, 32, NULL, 0,
			      &p->ca_der, &p->ca_len) != 0)
		return -1;
	return crypto_x509_issue(&leaf_req, p->leaf_q, 65, p->ca_d, 32,
				 p->ca_der, p->ca_len, &p->leaf_der,
				 &p->leaf_len);
}

static void pki_free(struct pki *p)
{
	free(p->ca_der);
	free(p->leaf_der);
}

static int write_pem(const char *path, const uint8_t *der, size_t len)
{
	char *pem = crypto_x509_pem(der, len);
	FILE *f = NULL;
	int r = -1;

	if (pem == NULL || (f = fopen(path, "w")) == NULL)
		goto out;
	if (fputs(pem, f) >= 0)
		r = 0;
out:
	if (f != NULL && fclose(f) != 0)
		r = -1;
	free(pem);
	return r;
}

/* Runs cmd and returns its stdout+stderr (malloc'd), or NULL. */
static char *run(const char *cmd)
{
	char full[1024];
	char *text = calloc(1, 65536);
	size_t n = 0, got;
	FILE *f;

	snprintf(full, sizeof(full), "%s 2>&1", cmd);
	if (text == NULL || (f = popen(full, "r")) == NULL) {
		free(text);
		return NULL;
	}
	while ((got = fread(text + n, 1, 65535 - n, f)) > 0)
		n += got;
	if (pclose(f) != 0) {
		fprintf(stderr, "%s failed:\n%s\n", cmd, text);
		free(text);
		return NULL;
	}
	return text;
}

/* The extnValue OCTET STRING (04 12) holds 04 10 <aaguid>. */
static int has_aaguid_ext(const uint8_t *der, size_t len)
{
	uint8_t want[20] = { 0x04, 0x12, 0x04, 0x10 };
	size_t i;

	memcpy(want + 4, test_aaguid, 16);
	for (i = 0; i + sizeof(want) <= len; i++)
		if (memcmp(der + i, want, sizeof(want)) == 0)
			return 1;
	return 0;
}

static void x509_ca_and_leaf_verify_with_openssl(void)
{
	char dir[] = "/tmp/vkey-crypto-XXXXXX", ca[64], leaf[64], cmd[512];
	struct pki p;
	char *text;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(ca, sizeof(ca), "%s/ca.pem", dir);
	snprintf(leaf, sizeof(leaf), "%s/leaf.pem", dir);
	CHECK_EQ(pki_make(&p), 0);
	CHECK(has_aaguid_ext(p.leaf_der, p.leaf_len));
	CHECK(!has_aaguid_ext(p.ca_der, p.ca_len));
	CHECK_EQ(write_pem(ca, p.ca_der, p.ca_len), 0);
	CHECK_EQ(write_pem(leaf, p.leaf_der, p.leaf_len), 0);

	snprintf(cmd, sizeof(cmd), "openssl verify -CAfile %s %s", ca, leaf);
	text = run(cmd);
	CHECK(text != NULL && strstr(text, "leaf.pem: OK") != NULL);
	free(text);

	snprintf(cmd, sizeof(cmd), "openssl x509 -in %s -noout -text", leaf);
	text = run(cmd);
	CHECK(text != NULL);
	if (text != NULL) {
		CHECK(strstr(text, "Version: 3 (0x2)") != NULL);
		CHECK(strstr(text, "1.3.6.1.4.1.45724.1.1.4") != NULL);
		CHECK(strstr(text, "CA:FALSE") != NULL);
		CHECK(strstr(text, "OU = Authenticator Attestation") != NULL);
		CHECK(strstr(text, "Issuer: C = US, O = vkey, OU = Attestation CA, CN = vkey Test Root") != NULL);
		CHECK(strstr(text, "X509v3 Subject Key Identifier") != NULL);
		CHECK(strstr(text, "X509v3 Authority Key Identifier") != NULL);
		CHECK(strstr(text, "(0x102030405060708)") != NULL);
		CHECK(strstr(text, "ecdsa-with-SHA256") != NULL);
	}
	free(text);

	snprintf(cmd, sizeof(cmd), "openssl x509 -in %s -noout -text", ca);
	text = run(cmd);
	CHECK(text != NULL);
	if (text != NULL) {
		CHECK(strstr(text, "X509v3 Basic Constraints: critical") != NULL);
		CHECK(strstr(text, "CA:TRUE") != NULL);
		CHECK(strstr(text, "Certificate Sign, CRL Sign") != NULL);
	}
	free(text);

	unlink(ca);
	unlink(leaf);
	rmdir(dir);
	pki_free(&p);
}

static void x509_rejects_issuer_key_not_matching_issuer_cert(void)
{
	struct pki p;
	uint8_t *der = NULL;
	size_t len = 0;

	CHECK_EQ(pki_make(&p), 0);
	CHECK_EQ(crypto_x509_issue(&leaf_req, p.leaf_q, 65, p.leaf_d, 32,
				   p.ca_der, p.ca_len, &der, &len), -1);
	CHECK(der == NULL);
	/* Self-signed: the signing key must be the subject's own. */
	CHECK_EQ(crypto_x509_issue(&ca_req, p.leaf_q, 65, p.ca_d, 32, NULL, 0,
				   &der, &len), -1);
	pki_free(&p);
}

static void x509_rejects_truncated_issuer_cert(void)
{
	struct pki p;
	uint8_t *der = NULL, *longer;
	size_t len = 0;

	CHECK_EQ(pki_make(&p), 0);
	CHECK_EQ(crypto_x509_issue(&leaf_req, p.leaf_q, 65, p.ca_d, 32,
				   p.ca_der, p.ca_len - 1, &der, &len), -1);
	/* Trailing bytes after the certificate are an error too. */
	longer = malloc(p.ca_len + 1);
	CHECK(longer != NULL);
	if (longer != NULL) {
		memcpy(longer, p.ca_der, p.ca_len);
		longer[p.ca_len] = 0;
		CHECK_EQ(crypto_x509_issue(&leaf_req, p.leaf_q, 65, p.ca_d, 32,
					   longer, p.ca_len + 1, &der, &len),
			 -1);
	}
	free(longer);
	pki_free(&p);
}

static void x509_rejects_attestation_leaf_with_wrong_ou(void)
{
	struct pki p;
	struct crypto_cert_req req = leaf_req;
	uint8_t *der = NULL;
	size_t len = 0;

	CHECK_EQ(pki_make(&p), 0);
	req.ou = "Something Else";
	CHECK_EQ(crypto_x509_issue(&req, p.leaf_q, 65, p.ca_d, 32, p.ca_der,
				   p.ca_len, &der, &len), -1);
	req = leaf_req;
	req.serial = 0;
	CHECK_EQ(crypto_x509_issue(&req, p.leaf_q, 65, p.ca_d, 32, p.ca_der,
				   p.ca_len, &der, &len), -1);
	pki_free(&p);
}

static void x509_pem_rejects_garbage(void)
{
	uint8_t junk[64];

	memset(junk, 0x30, sizeof(junk));
	CHECK(crypto_x509_pem(junk, sizeof(junk)) == NULL);
	CHECK(crypto_x509_pem(junk, 0) == NULL);
}

int main(void)
{
	RUN(ed25519_rfc8032_vectors);
	RUN(p256_public_of_rfc6979_key);
	RUN(p256_verify_rfc6979_signature);
	RUN(p256_sign_verify_round_trip);
	RUN(generate_twice_gives_different_keys);
	RUN(ecdh_both_sides_agree);
	RUN(ecdh_rejects_point_off_curve);
	RUN(ecdh_rejects_point_at_infinity_encoding);
	RUN(ecdh_rejects_ed25519);
	RUN(sign_rejects_truncated_private_key);
	RUN(p256_rejects_scalar_out_of_range);
	RUN(verify_rejects_truncated_signature);
	RUN(verify_rejects_garbage_signature);
	RUN(verify_rejects_truncated_or_compressed_public_key);
	RUN(hkdf_rfc5869_case1);
	RUN(hkdf_rfc5869_case3_empty_salt_info);
	RUN(aes256_cbc_sp800_38a);
	RUN(aes256_cbc_null_iv_is_zero_iv);
	RUN(aes256_cbc_rejects_partial_block);
	RUN(aes256_gcm_spec_case14);
	RUN(aes256_gcm_spec_case16);
	RUN(aes256_gcm_open_rejects_bad_tag_and_wipes);
	RUN(aes256_gcm_open_rejects_altered_aad);
	RUN(x509_ca_and_leaf_verify_with_openssl);
	RUN(x509_rejects_issuer_key_not_matching_issuer_cert);
	RUN(x509_rejects_truncated_issuer_cert);
	RUN(x509_rejects_attestation_leaf_with_wrong_ou);
	RUN(x509_pem_rejects_garbage);
	return CHECK_DONE();
}
