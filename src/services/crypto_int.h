/* Internal to the crypto service: OpenSSL key objects built from the raw
 * bytes that cross crypto.h. Only src/services/crypto*.c include this. */
#ifndef VKEY_CRYPTO_INT_H
#define VKEY_CRYPTO_INT_H

#include "services/crypto.h"
#include "services/crypto_pk.h"

#include <openssl/bn.h>
#include <openssl/evp.h>

/* A key holding the private part of priv (and, for P-256, the public point
 * too when with_pub is set: X.509 and key checks need it, signing does
 * not). NULL for a wrong length or an out-of-range scalar. */
EVP_PKEY *crypto_pkey_priv(enum crypto_curve curve, const uint8_t *priv,
			   size_t priv_len, int with_pub);
/* A public key; NULL unless pub is a valid encoding of a point on the
 * curve (uncompressed only for P-256). */
EVP_PKEY *crypto_pkey_pub(enum crypto_curve curve, const uint8_t *pub,
			  size_t pub_len);

/* The OpenSSL keys of crypto_pk.h's private keys (the X.509 issuer of
 * PIV attestations may be any of them): an RSA key (d and the CRT values
 * recomputed from e, p, q), or a curve's scalar / Ed25519 seed
 * (Weierstrass keys without the public point: enough to sign). NULL for
 * an invalid key. Free with EVP_PKEY_free. */
EVP_PKEY *crypto_pk_rsa_pkey(const struct crypto_rsa_key *key);
EVP_PKEY *crypto_pk_ec_pkey(enum crypto_pk_curve curve, const uint8_t *priv,
			    size_t priv_len);

/* Q = d·G written as 04||X||Y (out_len = 1 + 2 × field size) on the
 * curve with OpenSSL's nid; d already range-checked. EC_POINT is not
 * deprecated in OpenSSL 3, and 3.0's EC import does not derive the
 * public point, so both crypto_ec.c and crypto_pk.c need this. */
int crypto_ec_point_of(int nid, const uint8_t *d, size_t d_len,
		       uint8_t *out, size_t out_len);

/* Two random primes of bits / 2 bits each for an RSA modulus of exactly
 * bits bits (1024 or more), gcd(p - 1, e) = gcd(q - 1, e) = 1 for the
 * odd prime e, |p - q| > 2^(bits/2 - 100). Returns 0 or -1. */
int crypto_rsa_primes(int bits, BN_ULONG e, BIGNUM *p, BIGNUM *q);

#endif
