/* Cryptography service: the only module that includes OpenSSL headers.
 * Randomness comes from the OS through OpenSSL's DRBG. */
#ifndef VKEY_CRYPTO_H
#define VKEY_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

#include "services/crypto_pk.h" /* the X.509 issuer's key types */

enum crypto_md {
	CRYPTO_SHA1 = 1,
	CRYPTO_SHA256,
	CRYPTO_SHA512,
};

/* Fill buf with random bytes. Returns 0, or -1 if the RNG failed. */
int crypto_random(void *buf, size_t len);

/* Digest length of md, or 0 for an unknown md. */
size_t crypto_md_len(enum crypto_md md);

/* out must hold crypto_md_len(md) bytes. Returns 0 or -1. */
int crypto_hmac(enum crypto_md md, const void *key, size_t key_len,
		const void *msg, size_t msg_len, uint8_t *out);
int crypto_digest(enum crypto_md md, const void *msg, size_t len,
		  uint8_t *out);

/* Constant-time comparison: 0 when equal. */
int crypto_memcmp(const void *a, const void *b, size_t len);
/* Wipe memory that held a secret. */
void crypto_wipe(void *p, size_t len);

/* Public-key algorithms. Keys cross this interface as raw bytes so no
 * OpenSSL type leaks: private keys as the big-endian scalar (EC) or the
 * 32-byte seed (Ed25519); public keys as the uncompressed point 04||X||Y
 * (EC) or the 32-byte encoding (Ed25519). */
enum crypto_curve {
	CRYPTO_P256 = 1,
	CRYPTO_ED25519,
};

#define CRYPTO_EC_PRIV_MAX 32
#define CRYPTO_EC_PUB_MAX 65
#define CRYPTO_SIG_MAX 72 /* DER ECDSA P-256, or 64 for Ed25519 */

/* Generate a key pair from the OS RNG. Lengths in/out: capacity, then
 * bytes written. Returns 0 or -1. */
int crypto_ec_generate(enum crypto_curve curve, uint8_t *priv,
		       size_t *priv_len, uint8_t *pub, size_t *pub_len);
/* Public key of a private key. */
int crypto_ec_public(enum crypto_curve curve, const uint8_t *priv,
		     size_t priv_len, uint8_t *pub, size_t *pub_len);
/* Sign msg: ECDSA over SHA-256(msg) with a DER signature (P-256), or
 * pure Ed25519 (64 bytes). */
int crypto_sign(enum crypto_curve curve, const uint8_t *priv,
		size_t priv_len, const uint8_t *msg, size_t msg_len,
		uint8_t *sig, size_t *sig_len);
/* Verify as crypto_sign signs; 0 when valid (for tests and self-checks). */
int crypto_verify(enum crypto_curve curve, const uint8_t *pub,
		  size_t pub_len, const uint8_t *msg, size_t msg_len,
		  const uint8_t *sig, size_t sig_len);
/* ECDH on P-256: z is the 32-byte X coordinate of the shared point.
 * Fails (-1) for a peer point that is not on the curve. */
int crypto_ecdh(enum crypto_curve curve, const uint8_t *priv,
		size_t priv_len, const uint8_t *peer_pub, size_t peer_len,
		uint8_t *z, size_t *z_len);

/* AES-256-CBC without padding (len a multiple of 16); iv NULL means a
 * zero IV. in and out may be the same buffer. */
int crypto_aes256_cbc(int encrypt, const uint8_t key[32],
		      const uint8_t iv[16], const uint8_t *in, size_t len,
		      uint8_t *out);
/* AES-CBC as above with a 16-, 24- or 32-byte key (OpenPGP's AES DO). */
int crypto_aes_cbc(int encrypt, const uint8_t *key, size_t key_len,
		   const uint8_t iv[16], const uint8_t *in, size_t len,
		   uint8_t *out);
/* ECB over whole blocks (PIV management-key authentication): 3DES with a
 * 24-byte key and 8-byte blocks, AES-128/192/256 with 16-byte blocks. */
enum crypto_block {
	CRYPTO_BLOCK_3DES = 1,
	CRYPTO_BLOCK_AES128,
	CRYPTO_BLOCK_AES192,
	CRYPTO_BLOCK_AES256,
};
int crypto_block_ecb(enum crypto_block alg, int encrypt, const uint8_t *key,
		     const uint8_t *in, size_t len, uint8_t *out);
/* AES-256-GCM with a 12-byte nonce and a 16-byte tag. open returns -1
 * when the tag does not match (out is then wiped). */
int crypto_aes256_gcm_seal(const uint8_t key[32], const uint8_t nonce[12],
			   const uint8_t *aad, size_t aad_len,
			   const uint8_t *in, size_t len, uint8_t *out,
			   uint8_t tag[16]);
int crypto_aes256_gcm_open(const uint8_t key[32], const uint8_t nonce[12],
			   const uint8_t *aad, size_t aad_len,
			   const uint8_t *in, size_t len,
			   const uint8_t tag[16], uint8_t *out);
/* HKDF-SHA-256 (RFC 5869). */
int crypto_hkdf_sha256(const uint8_t *salt, size_t salt_len,
		       const uint8_t *ikm, size_t ikm_len,
		       const uint8_t *info, size_t info_len, uint8_t *out,
		       size_t out_len);

/* scrypt (RFC 7914) with N = 2^log2_n: a memory-hard key derivation
 * for secrets a person chooses. Refused (-1) when 128 * r * N bytes
 * exceed max_mem, so crafted parameters cannot exhaust memory. */
int crypto_scrypt(const uint8_t *secret, size_t secret_len,
		  const uint8_t *salt, size_t salt_len, unsigned log2_n,
		  uint32_t r, uint32_t p, uint64_t max_mem, uint8_t *out,
		  size_t out_len);

/* X.509 certificates for attestation. The subject key is given by its
 * public key; the issuer signs with its private key. issuer_cert NULL
 * makes a self-signed certificate, whose subject key must then be the
 * issuer's own. */

/* An extension the request adds as is, non-critical: oid in dotted
 * decimal, value the extnValue's content (the bytes inside its OCTET
 * STRING, not wrapped again). */
struct crypto_cert_ext {
	const char *oid;
	const uint8_t *value;
	size_t len;
};
#define CRYPTO_CERT_EXT_MAX 16     /* extensions per request */
#define CRYPTO_CERT_EXT_LEN_MAX 1024

struct crypto_cert_req {
	const char *c;           /* subject country, e.g. "US" */
	const char *o;           /* organization */
	const char *ou;          /* organizational unit */
	const char *cn;          /* common name */
	int is_ca;               /* basicConstraints CA:TRUE + keyCertSign */
	const uint8_t *aaguid;   /* 16 bytes: FIDO id-fido-gen-ce-aaguid
				  * extension (1.3.6.1.4.1.45724.1.1.4), or NULL */
	uint64_t serial;         /* certificate serial number, non-zero */
	unsigned days;           /* validity from now */
	int issuer_validity;     /* instead of days: the issuer certificate's
				  * notBefore and notAfter (not self-signed) */
	const struct crypto_cert_ext *ext; /* n_ext extra extensions, each
				  * OID at most once in the certificate */
	size_t n_ext;
};

/* The key that signs: ECDSA on P-256 with SHA-256, on P-384 with
 * SHA-384, pure Ed25519 (curve and its private scalar or seed), or
 * RSA-2048 to 4096 with PKCS#1 v1.5 and SHA-256 (curve 0 and rsa). */
struct crypto_issuer {
	enum crypto_pk_curve curve;
	const uint8_t *priv;
	size_t priv_len;
	const struct crypto_rsa_key *rsa;
};

/* Issue a certificate for the subject key given as a DER
 * SubjectPublicKeyInfo (see crypto_pk.h) under issuer and its
 * certificate (any certificate of the issuer's key), or self-signed. *der is
 * malloc'd; free with free(). Returns 0 or -1. */
int crypto_x509_issue_by(const struct crypto_cert_req *req,
			 const uint8_t *spki, size_t spki_len,
			 const struct crypto_issuer *issuer,
			 const uint8_t *issuer_cert, size_t issuer_cert_len,
			 uint8_t **der, size_t *der_len);
/* crypto_x509_issue_by with a P-256 issuer key, for a P-256 subject key
 * given as its point (crypto_x509_issue) or for any subject key
 * (crypto_x509_issue_spki). */
int crypto_x509_issue(const struct crypto_cert_req *req,
		      const uint8_t *subject_pub, size_t subject_pub_len,
		      const uint8_t *issuer_priv, size_t issuer_priv_len,
		      const uint8_t *issuer_cert, size_t issuer_cert_len,
		      uint8_t **der, size_t *der_len);
int crypto_x509_issue_spki(const struct crypto_cert_req *req,
			   const uint8_t *spki, size_t spki_len,
			   const uint8_t *issuer_priv, size_t issuer_priv_len,
			   const uint8_t *issuer_cert, size_t issuer_cert_len,
			   uint8_t **der, size_t *der_len);
/* PEM text of a DER certificate (malloc'd, NUL-terminated). */
char *crypto_x509_pem(const uint8_t *der, size_t der_len);

#endif
