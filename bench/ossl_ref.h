/* The raw OpenSSL operations the applet benchmarks time beside the card
 * (a context per call, the key object kept: what an application holding
 * a key does), and the checks of the card's results against the public
 * key it returned. Signatures are over a 32-byte SHA-256 value. */
#ifndef VKEY_BENCH_OSSL_REF_H
#define VKEY_BENCH_OSSL_REF_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

/* DigestInfo prefix for SHA-256 (RFC 8017 §9.2 note 1). */
extern const uint8_t ref_sha256_prefix[19];

/* A key of the kind evp_id (EVP_PKEY_RSA of rsa_bits, EVP_PKEY_EC on
 * P-256, EVP_PKEY_ED25519); NULL on error. */
EVP_PKEY *ref_keygen(int evp_id, unsigned rsa_bits);

/* Sign digest: RSA PKCS#1 v1.5 with SHA-256, ECDSA over the hash,
 * Ed25519 over the 32 bytes themselves. 0 or -1. */
int ref_sign(EVP_PKEY *key, const uint8_t digest[32]);

/* Verify what ref_sign would make (ECDSA in DER). 0 or -1. */
int ref_verify(EVP_PKEY *pub, const uint8_t *sig, size_t sig_len,
	       const uint8_t digest[32]);

/* Raw ECDH shared secret into out (*len: its size in, the length out). */
int ref_ecdh_derive(EVP_PKEY *priv, EVP_PKEY *peer, uint8_t *out,
		    size_t *len);

/* One raw operation as the timing loops of card_op.h call it (the
 * argument is a struct ref_job); 0 or -1. */
struct ref_job {
	EVP_PKEY *key;         /* ref_job_sign, ref_job_derive */
	EVP_PKEY *peer;        /* ref_job_derive */
	const uint8_t *digest; /* ref_job_sign: 32 bytes */
	int evp_id;            /* ref_job_keygen: as ref_keygen */
	unsigned rsa_bits;
};

int ref_job_sign(void *job);
int ref_job_derive(void *job);
/* A key generated and freed. */
int ref_job_keygen(void *job);

/* The public key in a card's GENERATE answer, which holds
 * 7F49 { 81 n 82 e } for RSA or 7F49 { 86 Q } for P-256 and Ed25519. */
EVP_PKEY *ref_card_pubkey(int evp_id, const uint8_t *answer, size_t len);

#endif
