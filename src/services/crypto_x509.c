/* X.509 v3 certificates for attestation: self-signed CAs and the leaves
 * they sign, for FIDO (WebAuthn §8.2.1 packed attestation), OpenPGP and
 * PIV (whose attestation key may be P-256, P-384, Ed25519 or RSA). */
#include "services/crypto_int.h"

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/objects.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <limits.h>
#include <stdlib.h>
#include <string.h>

/* id-fido-gen-ce-aaguid (FIDO Metadata / WebAuthn §8.2.1). */
#define OID_FIDO_AAGUID "1.3.6.1.4.1.45724.1.1.4"
#define AAGUID_LEN 16
#define DER_OCTET_STRING 0x04
/* WebAuthn §8.2.1: the OU of a packed attestation certificate. */
#define ATTESTATION_OU "Authenticator Attestation"
/* Far enough for any attestation root, near enough to stay well inside
 * what the time arithmetic handles. */
#define CERT_DAYS_MAX 36525u
/* Longer than any OID an extension needs. */
#define OID_TEXT_MAX 128

static int field_ok(const char *s)
{
	return s != NULL && s[0] != '\0';
}

/* Dotted decimal, strictly: two or more arcs of digits without leading
 * zeros, separated by single dots (OpenSSL's parser also takes "1..3",
 * a trailing dot or a space). OBJ_txt2obj then checks the values. */
static int oid_text_ok(const char *s)
{
	size_t digits = 0, arcs = 0;

	for (size_t i = 0; s != NULL && i < OID_TEXT_MAX; i++) {
		if (s[i] >= '0' && s[i] <= '9') {
			if (digits == 1 && s[i - 1] == '0')
				return 0;
			digits++;
		} else if (s[i] == '.' || s[i] == '\0') {
			if (digits == 0)
				return 0;
			arcs++;
			digits = 0;
			if (s[i] == '\0')
				return arcs >= 2;
		} else {
			return 0;
		}
	}
	return 0;
}

static int ext_ok(const struct crypto_cert_ext *e)
{
	return oid_text_ok(e->oid) && (e->value != NULL || e->len == 0) &&
	       e->len <= CRYPTO_CERT_EXT_LEN_MAX;
}

/* Validity: days from now, or the issuer's, which needs an issuer. */
static int validity_ok(const struct crypto_cert_req *req, int self_signed)
{
	if (req->issuer_validity)
		return !self_signed;
	return req->days != 0 && req->days <= CERT_DAYS_MAX;
}

/* A leaf that carries an AAGUID is a packed attestation certificate, whose
 * subject WebAuthn §8.2.1 fixes: C (ISO 3166 two letters), O, OU, CN. */
static int req_ok(const struct crypto_cert_req *req, int self_signed)
{
	size_t i;

	if (req == NULL || !field_ok(req->cn) || req->serial == 0 ||
	    !validity_ok(req, self_signed) ||
	    req->n_ext > CRYPTO_CERT_EXT_MAX ||
	    (req->ext == NULL && req->n_ext != 0))
		return 0;
	for (i = 0; i < req->n_ext; i++)
		if (!ext_ok(&req->ext[i]))
			return 0;
	if (req->aaguid == NULL)
		return 1;
	return !req->is_ca && field_ok(req->c) && strlen(req->c) == 2 &&
	       field_ok(req->o) && field_ok(req->ou) &&
	       strcmp(req->ou, ATTESTATION_OU) == 0;
}

static int name_add(X509_NAME *name, const char *field, const char *value)
{
	if (value == NULL)
		return 0;
	return X509_NAME_add_entry_by_txt(name, field, MBSTRING_UTF8,
					  (const unsigned char *)value, -1,
					  -1, 0) == 1 ? 0 : -1;
}

static int subject_set(X509 *cert, const struct crypto_cert_req *req)
{
	X509_NAME *name = X509_NAME_new();
	int r = -1;

	if (name == NULL || name_add(name, "C", req->c) != 0 ||
	    name_add(name, "O", req->o) != 0 ||
	    name_add(name, "OU", req->ou) != 0 ||
	    name_add(name, "CN", req->cn) != 0 ||
	    X509_set_subject_name(cert, name) != 1)
		goto out;
	r = 0;
out:
	X509_NAME_free(name);
	return r;
}

/* Parses the whole of der as one certificate; trailing bytes fail. */
static X509 *cert_parse(const uint8_t *der, size_t der_len)
{
	const unsigned char *p = der;
	X509 *cert = NULL;

	if (der == NULL || der_len == 0 || der_len > LONG_MAX)
		return NULL;
	cert = d2i_X509(NULL, &p, (long)der_len);
	if (cert != NULL && p != der + der_len) {
		X509_free(cert);
		cert = NULL;
	}
	return cert;
}

/* Adds one extension written in OpenSSL's configuration syntax; ctx
 * names the subject and issuer certificates the key identifiers come
 * from. */
static int ext_add_conf(X509 *cert, X509V3_CTX *ctx, int nid,
			const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int r = -1;

	if (ext == NULL || X509_add_ext(cert, ext, -1) != 1)
		goto out;
	r = 0;
out:
	X509_EXTENSION_free(ext);
	return r;
}

/* Adds a non-critical extension whose extnValue holds value as is; an
 * OID already in the certificate is refused (RFC 5280 §4.2). */
static int ext_add_raw(X509 *cert, const char *oid_text, const uint8_t *value,
		       size_t len)
{
	ASN1_OBJECT *oid = OBJ_txt2obj(oid_text, 1);
	ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();
	X509_EXTENSION *ext = NULL;
	int r = -1;

	if (oid == NULL || os == NULL || len > INT_MAX ||
	    X509_get_ext_by_OBJ(cert, oid, -1) >= 0 ||
	    ASN1_OCTET_STRING_set(os, value, (int)len) != 1 ||
	    (ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 0, os)) == NULL ||
	    X509_add_ext(cert, ext, -1) != 1)
		goto out;
	r = 0;
out:
	X509_EXTENSION_free(ext);
	ASN1_OCTET_STRING_free(os);
	ASN1_OBJECT_free(oid);
	return r;
}

/* The extnValue is the DER OCTET STRING 04 10 <aaguid>: X.509 wraps it in
 * a second OCTET STRING, as WebAuthn §8.2.1 specifies. */
static int ext_add_aaguid(X509 *cert, const uint8_t *aaguid)
{
	uint8_t value[2 + AAGUID_LEN] = { DER_OCTET_STRING, AAGUID_LEN };

	memcpy(value + 2, aaguid, AAGUID_LEN);
	return ext_add_raw(cert, OID_FIDO_AAGUID, value, sizeof(value));
}

/* The subject key identifier comes first so that a self-signed
 * certificate's authority key identifier can copy it. An issuer
 * certificate without one (imported by the user) gives none to copy:
 * the authority key identifier is then left out. */
static int extensions_add(X509 *cert, X509 *issuer,
			  const struct crypto_cert_req *req)
{
	X509V3_CTX ctx;

	X509V3_set_ctx(&ctx, issuer != NULL ? issuer : cert, cert, NULL, NULL,
		       0);
	if (req->is_ca) {
		if (ext_add_conf(cert, &ctx, NID_basic_constraints,
				 "critical,CA:TRUE") != 0 ||
		    ext_add_conf(cert, &ctx, NID_key_usage,
				 "critical,keyCertSign,cRLSign") != 0)
			return -1;
	} else if (ext_add_conf(cert, &ctx, NID_basic_constraints,
				"critical,CA:FALSE") != 0) {
		return -1;
	}
	if (ext_add_conf(cert, &ctx, NID_subject_key_identifier, "hash") != 0)
		return -1;
	if ((issuer == NULL || X509_get0_subject_key_id(issuer) != NULL) &&
	    ext_add_conf(cert, &ctx, NID_authority_key_identifier,
			 "keyid:always") != 0)
		return -1;
	if (req->aaguid != NULL && ext_add_aaguid(cert, req->aaguid) != 0)
		return -1;
	for (size_t i = 0; i < req->n_ext; i++)
		if (ext_add_raw(cert, req->ext[i].oid, req->ext[i].value,
				req->ext[i].len) != 0)
			return -1;
	return 0;
}

/* notBefore and notAfter: from now for req->days, or the issuer's. */
static int validity_set(X509 *cert, X509 *issuer,
			const struct crypto_cert_req *req)
{
	if (req->issuer_validity) {
		if (X509_set1_notBefore(cert, X509_get0_notBefore(issuer)) != 1 ||
		    X509_set1_notAfter(cert, X509_get0_notAfter(issuer)) != 1)
			return -1;
		return 0;
	}
	if (X509_gmtime_adj(X509_getm_notBefore(cert), 0) == NULL ||
	    X509_time_adj_ex(X509_getm_notAfter(cert), (int)req->days, 0,
			     NULL) == NULL)
		return -1;
	return 0;
}

/* Everything but the extensions and the signature. */
static int body_set(X509 *cert, X509 *issuer, EVP_PKEY *subject_key,
		    const struct crypto_cert_req *req)
{
	if (X509_set_version(cert, X509_VERSION_3) != 1 ||
	    ASN1_INTEGER_set_uint64(X509_get_serialNumber(cert),
				    req->serial) != 1 ||
	    subject_set(cert, req) != 0 ||
	    X509_set_pubkey(cert, subject_key) != 1)
		return -1;
	if (X509_set_issuer_name(cert, issuer != NULL ?
				 X509_get_subject_name(issuer) :
				 X509_get_subject_name(cert)) != 1)
		return -1;
	return validity_set(cert, issuer, req);
}

/* RSA issuers: 2048 to 4096 bits, what a verifier accepts at once. */
#define ISSUER_RSA_MIN 256
#define ISSUER_RSA_MAX 512

/* The OpenSSL key that signs for is, and its digest (NULL: pure
 * Ed25519 hashes the message itself). */
static EVP_PKEY *signer_new(const struct crypto_issuer *is, const EVP_MD **md)
{
	if (is == NULL)
		return NULL;
	if (is->curve == 0) {
		if (is->rsa == NULL || is->rsa->n_len < ISSUER_RSA_MIN ||
		    is->rsa->n_len > ISSUER_RSA_MAX)
			return NULL;
		*md = EVP_sha256();
		return crypto_pk_rsa_pkey(is->rsa);
	}
	switch (is->curve) {
	case PK_P256:
		*md = EVP_sha256();
		break;
	case PK_P384:
		*md = EVP_sha384();
		break;
	case PK_ED25519:
		*md = NULL;
		break;
	default:
		return NULL;
	}
	return crypto_pk_ec_pkey(is->curve, is->priv, is->priv_len);
}

/* The issuer's certificate, when there is one. Whether it is a CA is
 * its owner's business (a PIV user may import any certificate for the
 * attestation key, as on a YubiKey); only its key must be the signer's. */
static int issuer_cert_get(const uint8_t *der, size_t der_len, X509 **cert)
{
	*cert = NULL;
	if (der == NULL)
		return 0;
	*cert = cert_parse(der, der_len);
	return *cert != NULL ? 0 : -1;
}

/* Sign, then check the signature with the issuer's public key (the
 * subject's own when self-signed): a signing key that is not the
 * issuer's would give a certificate that never verifies. */
static int cert_sign(X509 *cert, X509 *issuer, EVP_PKEY *subject_key,
		     const struct crypto_issuer *is)
{
	const EVP_MD *md = NULL;
	EVP_PKEY *signer = signer_new(is, &md);
	EVP_PKEY *verify_key = issuer != NULL ? X509_get0_pubkey(issuer) :
						subject_key;
	int r = -1;

	if (signer == NULL || verify_key == NULL ||
	    X509_sign(cert, signer, md) <= 0 ||
	    X509_verify(cert, verify_key) != 1)
		goto out;
	r = 0;
out:
	EVP_PKEY_free(signer);
	return r;
}

static int cert_encode(X509 *cert, uint8_t **der, size_t *der_len)
{
	unsigned char *buf = NULL, *p;
	int n = i2d_X509(cert, NULL);
	int r = -1;

	if (n <= 0 || (buf = malloc((size_t)n)) == NULL)
		goto out;
	p = buf;
	if (i2d_X509(cert, &p) != n)
		goto out;
	*der = buf;
	*der_len = (size_t)n;
	buf = NULL; /* transferred */
	r = 0;
out:
	free(buf);
	return r;
}

/* Issue a certificate for subject_key (consumed) under is and its
 * certificate (NULL: self-signed). */
static int issue(const struct crypto_cert_req *req, EVP_PKEY *subject_key,
		 const struct crypto_issuer *is, const uint8_t *issuer_cert,
		 size_t issuer_cert_len, uint8_t **der, size_t *der_len)
{
	X509 *cert = NULL, *issuer = NULL;
	int r = -1;

	if (der == NULL || der_len == NULL ||
	    !req_ok(req, issuer_cert == NULL) || subject_key == NULL ||
	    issuer_cert_get(issuer_cert, issuer_cert_len, &issuer) != 0)
		goto out;
	if ((cert = X509_new()) == NULL ||
	    body_set(cert, issuer, subject_key, req) != 0 ||
	    extensions_add(cert, issuer, req) != 0 ||
	    cert_sign(cert, issuer, subject_key, is) != 0)
		goto out;
	r = cert_encode(cert, der, der_len);
out:
	X509_free(cert);
	X509_free(issuer);
	EVP_PKEY_free(subject_key);
	return r;
}

/* The key of a DER SubjectPublicKeyInfo; trailing bytes fail. */
static EVP_PKEY *spki_parse(const uint8_t *spki, size_t spki_len)
{
	const unsigned char *p = spki;
	EVP_PKEY *key = NULL;

	if (spki != NULL && spki_len <= LONG_MAX)
		key = d2i_PUBKEY(NULL, &p, (long)spki_len);
	if (key != NULL && p != spki + spki_len) {
		EVP_PKEY_free(key);
		key = NULL;
	}
	return key;
}

int crypto_x509_issue_by(const struct crypto_cert_req *req,
			 const uint8_t *spki, size_t spki_len,
			 const struct crypto_issuer *issuer,
			 const uint8_t *issuer_cert, size_t issuer_cert_len,
			 uint8_t **der, size_t *der_len)
{
	return issue(req, spki_parse(spki, spki_len), issuer, issuer_cert,
		     issuer_cert_len, der, der_len);
}

int crypto_x509_issue(const struct crypto_cert_req *req,
		      const uint8_t *subject_pub, size_t subject_pub_len,
		      const uint8_t *issuer_priv, size_t issuer_priv_len,
		      const uint8_t *issuer_cert, size_t issuer_cert_len,
		      uint8_t **der, size_t *der_len)
{
	struct crypto_issuer is = { .curve = PK_P256, .priv = issuer_priv,
				    .priv_len = issuer_priv_len };

	return issue(req, crypto_pkey_pub(CRYPTO_P256, subject_pub,
					  subject_pub_len),
		     &is, issuer_cert, issuer_cert_len, der, der_len);
}

int crypto_x509_issue_spki(const struct crypto_cert_req *req,
			   const uint8_t *spki, size_t spki_len,
			   const uint8_t *issuer_priv, size_t issuer_priv_len,
			   const uint8_t *issuer_cert, size_t issuer_cert_len,
			   uint8_t **der, size_t *der_len)
{
	struct crypto_issuer is = { .curve = PK_P256, .priv = issuer_priv,
				    .priv_len = issuer_priv_len };

	return crypto_x509_issue_by(req, spki, spki_len, &is, issuer_cert,
				    issuer_cert_len, der, der_len);
}

char *crypto_x509_pem(const uint8_t *der, size_t der_len)
{
	X509 *cert = cert_parse(der, der_len);
	BIO *bio = NULL;
	char *data = NULL, *pem = NULL;
	long n;

	if (cert == NULL || (bio = BIO_new(BIO_s_mem())) == NULL ||
	    PEM_write_bio_X509(bio, cert) != 1)
		goto out;
	n = BIO_get_mem_data(bio, &data);
	if (n <= 0 || (pem = malloc((size_t)n + 1)) == NULL)
		goto out;
	memcpy(pem, data, (size_t)n);
	pem[n] = '\0';
out:
	BIO_free(bio);
	X509_free(cert);
	return pem;
}
