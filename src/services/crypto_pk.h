/* RSA and the wider set of elliptic curves that the OpenPGP card 3.4 and
 * PIV applets need; keys cross this interface as raw big-endian bytes. */
#ifndef VKEY_CRYPTO_PK_H
#define VKEY_CRYPTO_PK_H

#include <stddef.h>
#include <stdint.h>

/* ---- RSA ---------------------------------------------------------- */

#define CRYPTO_RSA_MAX 512      /* modulus bytes of RSA-4096 */
#define CRYPTO_RSA_HALF_MAX 256 /* bytes of a prime or CRT value */
#define CRYPTO_RSA_E_MAX 8

/* A private key. Every field is a big-endian unsigned integer without
 * leading zero bytes, except n, which is exactly the modulus size
 * (bits / 8). The private exponent d is not kept: it is recomputed from
 * e, p and q when OpenSSL wants it. Wipe with crypto_rsa_key_wipe. */
struct crypto_rsa_key {
	uint8_t n[CRYPTO_RSA_MAX];
	size_t n_len;
	uint8_t e[CRYPTO_RSA_E_MAX];
	size_t e_len;
	uint8_t p[CRYPTO_RSA_HALF_MAX];
	size_t p_len;
	uint8_t q[CRYPTO_RSA_HALF_MAX];
	size_t q_len;
	uint8_t dp[CRYPTO_RSA_HALF_MAX]; /* d mod (p-1) */
	size_t dp_len;
	uint8_t dq[CRYPTO_RSA_HALF_MAX]; /* d mod (q-1) */
	size_t dq_len;
	uint8_t qinv[CRYPTO_RSA_HALF_MAX]; /* q^-1 mod p */
	size_t qinv_len;
};

/* Generate a key of 1024, 2048, 3072 or 4096 bits with e = 65537.
 * Returns 0 or -1 (key is then wiped). */
int crypto_rsa_generate(unsigned bits, struct crypto_rsa_key *key);
/* Build a key from e, p and q, computing n, dp, dq and qinv. The modulus
 * must be 128 to 512 bytes long, e odd and >= 3; p and q must be
 * distinct, odd, and e invertible modulo p-1 and q-1. Primality is not
 * tested (that is the importer's promise). Returns 0 or -1. */
int crypto_rsa_import_epq(const uint8_t *e, size_t e_len, const uint8_t *p,
			  size_t p_len, const uint8_t *q, size_t q_len,
			  struct crypto_rsa_key *key);
/* As import_epq, then also checks that the given CRT values equal the
 * computed ones (OpenPGP key import sends all of them). */
int crypto_rsa_import_crt(const uint8_t *e, size_t e_len, const uint8_t *p,
			  size_t p_len, const uint8_t *q, size_t q_len,
			  const uint8_t *dp, size_t dp_len, const uint8_t *dq,
			  size_t dq_len, const uint8_t *qinv, size_t qinv_len,
			  struct crypto_rsa_key *key);
void crypto_rsa_key_wipe(struct crypto_rsa_key *key);

/* PKCS#1 v1.5 signature (block type 1) of in as given: the OpenPGP card
 * receives the DigestInfo from the host. in_len <= n_len - 11; sig holds
 * n_len bytes (*sig_len: capacity in, bytes out). Returns 0 or -1. */
int crypto_rsa_sign_pkcs1(const struct crypto_rsa_key *key,
			  const uint8_t *in, size_t in_len, uint8_t *sig,
			  size_t *sig_len);
/* Raw private operation in^d mod n, as PIV GENERAL AUTHENTICATE does on a
 * block the host padded. in_len == n_len and in < n, else -1. out holds
 * n_len bytes. */
int crypto_rsa_private_raw(const struct crypto_rsa_key *key,
			   const uint8_t *in, size_t in_len, uint8_t *out,
			   size_t *out_len);
/* PKCS#1 v1.5 decryption (block type 2), OpenPGP PSO:DECIPHER.
 * Returns 0, or -1 for a bad length or bad padding. OpenSSL before 3.2
 * checks the padding in constant time but reports failure, so the -1
 * itself is the oracle (Bleichenbacher/Marvin) and the applet must not
 * answer it faster or differently than a wrong key would. With OpenSSL
 * 3.2+ implicit rejection stays on: bad padding then yields a
 * deterministic pseudo-random message and 0, never -1 (see
 * crypto_rsa_implicit_rejection). out: capacity in, bytes out. */
int crypto_rsa_decrypt_pkcs1(const struct crypto_rsa_key *key,
			     const uint8_t *in, size_t in_len, uint8_t *out,
			     size_t *out_len);
/* A private key prepared for repeated use: the one-off functions above
 * rebuild OpenSSL's key (its private exponent, Montgomery values and
 * blinding) on every call, which is most of an RSA-2048 signature's
 * cost. The prepared key holds secrets until crypto_rsa_prepared_free,
 * which clears them. NULL for an invalid key. */
struct crypto_rsa_prepared;
struct crypto_rsa_prepared *crypto_rsa_prepare(const struct crypto_rsa_key *key);
void crypto_rsa_prepared_free(struct crypto_rsa_prepared *k);
/* 1 when k was prepared from a key with key's modulus and exponent. */
int crypto_rsa_prepared_is(const struct crypto_rsa_prepared *k,
			   const struct crypto_rsa_key *key);
/* As crypto_rsa_sign_pkcs1, crypto_rsa_decrypt_pkcs1 and
 * crypto_rsa_private_raw. */
int crypto_rsa_prepared_sign_pkcs1(const struct crypto_rsa_prepared *k,
				   const uint8_t *in, size_t in_len,
				   uint8_t *sig, size_t *sig_len);
int crypto_rsa_prepared_decrypt_pkcs1(const struct crypto_rsa_prepared *k,
				      const uint8_t *in, size_t in_len,
				      uint8_t *out, size_t *out_len);
int crypto_rsa_prepared_raw(const struct crypto_rsa_prepared *k,
			    const uint8_t *in, size_t in_len, uint8_t *out,
			    size_t *out_len);

/* 1 when crypto_rsa_decrypt_pkcs1 uses implicit rejection. */
int crypto_rsa_implicit_rejection(void);

/* Public operations, for tests and self-checks. raw: in^e mod n with
 * in_len == n_len. verify: 0 when sig is the PKCS#1 v1.5 type 1
 * signature of in. */
int crypto_rsa_public_raw(const uint8_t *n, size_t n_len, const uint8_t *e,
			  size_t e_len, const uint8_t *in, size_t in_len,
			  uint8_t *out, size_t *out_len);
int crypto_rsa_verify_pkcs1(const uint8_t *n, size_t n_len,
			    const uint8_t *e, size_t e_len, const uint8_t *in,
			    size_t in_len, const uint8_t *sig, size_t sig_len);

/* ---- Elliptic curves ---------------------------------------------- */

/* Weierstrass curves take private keys as the big-endian scalar of
 * exactly the field size and public keys as 04||X||Y; Ed25519 and X25519
 * as their 32-byte RFC 8032 / RFC 7748 encodings. */
enum crypto_pk_curve {
	PK_P256 = 1,
	PK_P384,
	PK_P521,
	PK_BP256,
	PK_BP384,
	PK_BP512,
	PK_SECP256K1,
	PK_ED25519,
	PK_X25519,
};

enum crypto_pk_sig_format {
	PK_SIG_DER = 1, /* ECDSA-Sig-Value (PIV) */
	PK_SIG_RAW,     /* r||s, each the field size (OpenPGP) */
};

#define CRYPTO_PK_EC_PRIV_MAX 66  /* P-521 */
#define CRYPTO_PK_EC_PUB_MAX 133  /* 04||X||Y on P-521 */
#define CRYPTO_PK_EC_SIG_MAX 141  /* DER ECDSA on P-521 */
#define CRYPTO_PK_OID_MAX 10

/* Field size in bytes (32 for Ed25519/X25519), 0 for an unknown curve. */
size_t crypto_pk_field_size(enum crypto_pk_curve curve);
/* DER OID content bytes as OpenPGP names the curve (RFC 6637, RFC 9580);
 * NULL for an unknown curve. */
const uint8_t *crypto_pk_curve_oid(enum crypto_pk_curve curve,
				   size_t *oid_len);

/* Lengths: capacity in, bytes written out. All return 0 or -1. */
int crypto_pk_ec_generate(enum crypto_pk_curve curve, uint8_t *priv,
			  size_t *priv_len, uint8_t *pub, size_t *pub_len);
int crypto_pk_ec_public(enum crypto_pk_curve curve, const uint8_t *priv,
			size_t priv_len, uint8_t *pub, size_t *pub_len);
/* ECDSA over a digest the caller computed (1 to 64 bytes, used as is);
 * for Ed25519, pure EdDSA over a message of any length (64-byte
 * signature, any format). X25519 cannot sign. */
int crypto_pk_ec_sign(enum crypto_pk_curve curve, const uint8_t *priv,
		      size_t priv_len, const uint8_t *digest,
		      size_t digest_len, enum crypto_pk_sig_format format,
		      uint8_t *sig, size_t *sig_len);
/* 0 when sig is valid, as crypto_pk_ec_sign produces it. */
int crypto_pk_ec_verify(enum crypto_pk_curve curve, const uint8_t *pub,
			size_t pub_len, const uint8_t *digest,
			size_t digest_len, enum crypto_pk_sig_format format,
			const uint8_t *sig, size_t sig_len);
/* ECDH: z is the X coordinate of the shared point (field size), or the
 * X25519 shared secret. -1 for an off-curve peer point, or an all-zero
 * X25519 result (small-order peer). Ed25519 cannot agree keys. */
int crypto_pk_ecdh(enum crypto_pk_curve curve, const uint8_t *priv,
		   size_t priv_len, const uint8_t *peer, size_t peer_len,
		   uint8_t *z, size_t *z_len);

/* ---- SubjectPublicKeyInfo ------------------------------------------ */

/* DER SubjectPublicKeyInfo of a public key (for certificates); *der is
 * malloc'd, free with free(). Returns 0, or -1 for an invalid key. */
int crypto_rsa_spki(const uint8_t *n, size_t n_len, const uint8_t *e,
		    size_t e_len, uint8_t **der, size_t *der_len);
int crypto_pk_ec_spki(enum crypto_pk_curve curve, const uint8_t *pub,
		      size_t pub_len, uint8_t **der, size_t *der_len);

#endif
