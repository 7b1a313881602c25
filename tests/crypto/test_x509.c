/* Tests of certificates issued under every kind of attestation key
 * (crypto_x509_issue_by: P-256, P-384, RSA, Ed25519 issuers) with extra
 * extensions, checked by OpenSSL's own verifier; and the requests it
 * must refuse. */
#include "services/crypto.h"
#include "services/crypto_pk.h"
#include "../check.h"

#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A key that can sign or be certified: its issuer description and its
 * SubjectPublicKeyInfo. */
struct tkey {
	struct crypto_issuer is;
	struct crypto_rsa_key rsa;
	uint8_t priv[CRYPTO_PK_EC_PRIV_MAX], pub[CRYPTO_PK_EC_PUB_MAX];
	uint8_t *spki;
	size_t spki_len;
};

/* curve 0 makes an RSA key of rsa_bits. */
static int tkey_make(struct tkey *k, enum crypto_pk_curve curve,
		     unsigned rsa_bits)
{
	size_t priv_len = sizeof(k->priv), pub_len = sizeof(k->pub);

	memset(k, 0, sizeof(*k));
	if (curve == 0) {
		if (crypto_rsa_generate(rsa_bits, &k->rsa) != 0)
			return -1;
		k->is.rsa = &k->rsa;
		return crypto_rsa_spki(k->rsa.n, k->rsa.n_len, k->rsa.e,
				       k->rsa.e_len, &k->spki, &k->spki_len);
	}
	if (crypto_pk_ec_generate(curve, k->priv, &priv_len, k->pub,
				  &pub_len) != 0)
		return -1;
	k->is.curve = curve;
	k->is.priv = k->priv;
	k->is.priv_len = priv_len;
	return crypto_pk_ec_spki(curve, k->pub, pub_len, &k->spki,
				 &k->spki_len);
}

static void tkey_free(struct tkey *k)
{
	crypto_rsa_key_wipe(&k->rsa);
	crypto_wipe(k->priv, sizeof(k->priv));
	free(k->spki);
	k->spki = NULL;
}

/* Yubico's PIV attestation extensions, as a YubiKey writes them. */
static const uint8_t yk_fw[] = { 0x05, 0x07, 0x01 };
static const uint8_t yk_serial[] = { 0x02, 0x04, 0x01, 0xb3, 0xbe, 0xf6 };
static const uint8_t yk_policy[] = { 0x03, 0x01 };
static const uint8_t yk_form[] = { 0x01 };
static const struct crypto_cert_ext yk_exts[] = {
	{ "1.3.6.1.4.1.41482.3.3", yk_fw, sizeof(yk_fw) },
	{ "1.3.6.1.4.1.41482.3.7", yk_serial, sizeof(yk_serial) },
	{ "1.3.6.1.4.1.41482.3.8", yk_policy, sizeof(yk_policy) },
	{ "1.3.6.1.4.1.41482.3.9", yk_form, sizeof(yk_form) },
};

static const struct crypto_cert_req ca_req = {
	.o = "vkey", .cn = "vkey PIV Attestation", .is_ca = 1,
	.serial = 0x1234, .days = 7305,
};

static const struct crypto_cert_req leaf_req = {
	.cn = "vkey PIV Attestation 9a", .serial = 0x7fffffffffffffffu,
	.issuer_validity = 1, .ext = yk_exts,
	.n_ext = sizeof(yk_exts) / sizeof(yk_exts[0]),
};

static X509 *parse(const uint8_t *der, size_t len)
{
	const unsigned char *p = der;
	X509 *x = d2i_X509(NULL, &p, (long)len);

	if (x != NULL && p != der + len) {
		X509_free(x);
		x = NULL;
	}
	return x;
}

/* The extension oid is present, non-critical, with exactly these
 * extnValue content bytes. */
static int ext_is(X509 *x, const char *oid, const uint8_t *v, size_t len)
{
	ASN1_OBJECT *obj = OBJ_txt2obj(oid, 1);
	int i = obj != NULL ? X509_get_ext_by_OBJ(x, obj, -1) : -1;
	X509_EXTENSION *ext = i >= 0 ? X509_get_ext(x, i) : NULL;
	ASN1_OCTET_STRING *data = ext ? X509_EXTENSION_get_data(ext) : NULL;
	int ok = data != NULL && X509_EXTENSION_get_critical(ext) == 0 &&
		 (size_t)ASN1_STRING_length(data) == len &&
		 memcmp(ASN1_STRING_get0_data(data), v, len) == 0 &&
		 X509_get_ext_by_OBJ(x, obj, i) < 0; /* only once */

	ASN1_OBJECT_free(obj);
	return ok;
}

/* OpenSSL's path validation of leaf under the trust anchor ca. */
static int chain_ok(X509 *ca, X509 *leaf)
{
	X509_STORE *store = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	int ok = store != NULL && ctx != NULL &&
		 X509_STORE_add_cert(store, ca) == 1 &&
		 X509_STORE_CTX_init(ctx, store, leaf, NULL) == 1 &&
		 X509_verify_cert(ctx) == 1;

	if (!ok && ctx != NULL)
		fprintf(stderr, "chain: %s\n",
			X509_verify_cert_error_string(
				X509_STORE_CTX_get_error(ctx)));
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(store);
	return ok;
}

static void leaf_check(X509 *ca, X509 *leaf, int sig_nid)
{
	char cn[64] = "";

	CHECK_EQ(X509_verify(leaf, X509_get0_pubkey(ca)), 1);
	CHECK_EQ(X509_verify(ca, X509_get0_pubkey(ca)), 1);
	CHECK(chain_ok(ca, leaf));
	CHECK_EQ(X509_get_signature_nid(leaf), sig_nid);
	CHECK_EQ(X509_get_signature_nid(ca), sig_nid);
	CHECK_EQ(X509_NAME_cmp(X509_get_issuer_name(leaf),
			       X509_get_subject_name(ca)), 0);
	X509_NAME_get_text_by_NID(X509_get_subject_name(leaf),
				  NID_commonName, cn, sizeof(cn));
	CHECK(strcmp(cn, "vkey PIV Attestation 9a") == 0);
	CHECK_EQ(ASN1_TIME_compare(X509_get0_notBefore(leaf),
				   X509_get0_notBefore(ca)), 0);
	CHECK_EQ(ASN1_TIME_compare(X509_get0_notAfter(leaf),
				   X509_get0_notAfter(ca)), 0);
	for (size_t i = 0; i < leaf_req.n_ext; i++) {
		CHECK(ext_is(leaf, yk_exts[i].oid, yk_exts[i].value,
			     yk_exts[i].len));
		CHECK(!ext_is(ca, yk_exts[i].oid, yk_exts[i].value,
			      yk_exts[i].len));
	}
	CHECK_EQ(X509_check_ca(ca), 1);
	CHECK_EQ(X509_check_ca(leaf), 0);
}

/* A self-signed CA under an issuer key of one kind, and a leaf it
 * signs for a subject key of another, checked by OpenSSL. */
static void chain_check(enum crypto_pk_curve issuer_curve,
			unsigned issuer_bits, enum crypto_pk_curve subject_curve,
			unsigned subject_bits, int sig_nid)
{
	struct tkey issuer, subject;
	uint8_t *ca_der = NULL, *leaf_der = NULL;
	size_t ca_len = 0, leaf_len = 0;
	X509 *ca = NULL, *leaf = NULL;

	CHECK_EQ(tkey_make(&issuer, issuer_curve, issuer_bits), 0);
	CHECK_EQ(tkey_make(&subject, subject_curve, subject_bits), 0);
	CHECK_EQ(crypto_x509_issue_by(&ca_req, issuer.spki, issuer.spki_len,
				      &issuer.is, NULL, 0, &ca_der, &ca_len),
		 0);
	CHECK_EQ(crypto_x509_issue_by(&leaf_req, subject.spki,
				      subject.spki_len, &issuer.is, ca_der,
				      ca_len, &leaf_der, &leaf_len),
		 0);
	ca = parse(ca_der, ca_len);
	leaf = parse(leaf_der, leaf_len);
	CHECK(ca != NULL && leaf != NULL);
	if (ca != NULL && leaf != NULL)
		leaf_check(ca, leaf, sig_nid);
	X509_free(ca);
	X509_free(leaf);
	free(ca_der);
	free(leaf_der);
	tkey_free(&issuer);
	tkey_free(&subject);
}

static void issue_by_p256_issuer(void)
{
	chain_check(PK_P256, 0, PK_P256, 0, NID_ecdsa_with_SHA256);
}

static void issue_by_p384_issuer(void)
{
	chain_check(PK_P384, 0, PK_ED25519, 0, NID_ecdsa_with_SHA384);
}

static void issue_by_rsa2048_issuer(void)
{
	chain_check(0, 2048, PK_P384, 0, NID_sha256WithRSAEncryption);
}

static void issue_by_rsa3072_issuer(void)
{
	chain_check(0, 3072, PK_P256, 0, NID_sha256WithRSAEncryption);
}

static void issue_by_rsa4096_issuer(void)
{
	chain_check(0, 4096, PK_P256, 0, NID_sha256WithRSAEncryption);
}

static void issue_by_ed25519_issuer(void)
{
	chain_check(PK_ED25519, 0, 0, 2048, NID_ED25519);
}

/* A CA of issuer's own, for the negative cases. */
static uint8_t *ca_of(struct tkey *issuer, size_t *len)
{
	uint8_t *der = NULL;

	if (crypto_x509_issue_by(&ca_req, issuer->spki, issuer->spki_len,
				 &issuer->is, NULL, 0, &der, len) != 0)
		return NULL;
	return der;
}

static void issue_by_rejects_key_not_matching_issuer_cert(void)
{
	struct tkey a, b;
	uint8_t *ca, *der = NULL;
	size_t ca_len = 0, len = 0;

	CHECK_EQ(tkey_make(&a, PK_P256, 0), 0);
	CHECK_EQ(tkey_make(&b, PK_P384, 0), 0);
	ca = ca_of(&a, &ca_len);
	CHECK(ca != NULL);
	CHECK_EQ(crypto_x509_issue_by(&leaf_req, a.spki, a.spki_len, &b.is,
				      ca, ca_len, &der, &len),
		 -1);
	CHECK(der == NULL);
	/* Self-signed: the subject must be the issuer's own key. */
	CHECK_EQ(crypto_x509_issue_by(&ca_req, a.spki, a.spki_len, &b.is,
				      NULL, 0, &der, &len),
		 -1);
	free(ca);
	tkey_free(&a);
	tkey_free(&b);
}

/* Any certificate of the issuer's key names the issuer, CA or not (a PIV
 * user may import such a one for the attestation key, as on a YubiKey). */
static void issue_by_accepts_issuer_cert_that_is_no_ca(void)
{
	struct tkey a;
	uint8_t *own = NULL, *der = NULL;
	size_t own_len = 0, len = 0;
	struct crypto_cert_req req = ca_req;
	X509 *x_own = NULL, *leaf = NULL;

	CHECK_EQ(tkey_make(&a, PK_P256, 0), 0);
	req.is_ca = 0;
	CHECK_EQ(crypto_x509_issue_by(&req, a.spki, a.spki_len, &a.is, NULL,
				      0, &own, &own_len),
		 0);
	CHECK_EQ(crypto_x509_issue_by(&leaf_req, a.spki, a.spki_len, &a.is,
				      own, own_len, &der, &len),
		 0);
	x_own = parse(own, own_len);
	leaf = parse(der, len);
	CHECK(x_own != NULL && leaf != NULL);
	if (x_own != NULL && leaf != NULL) {
		CHECK_EQ(X509_check_ca(x_own), 0);
		CHECK_EQ(X509_verify(leaf, X509_get0_pubkey(x_own)), 1);
	}
	X509_free(x_own);
	X509_free(leaf);
	free(own);
	free(der);
	tkey_free(&a);
}

/* ca_der without its subject key identifier (its own signature no longer
 * matches, which the issuing side does not check). */
static uint8_t *strip_ski(const uint8_t *ca_der, size_t ca_len, size_t *len)
{
	X509 *ca = parse(ca_der, ca_len);
	int i = ca != NULL ? X509_get_ext_by_NID(ca, NID_subject_key_identifier,
						 -1)
			   : -1;
	X509_EXTENSION *ext = i >= 0 ? X509_delete_ext(ca, i) : NULL;
	unsigned char *der = NULL;
	/* i2d_re_X509_tbs drops the cached encoding of the parsed TBS. */
	int n = ext != NULL && i2d_re_X509_tbs(ca, NULL) > 0 ?
			i2d_X509(ca, &der) :
			-1;

	X509_EXTENSION_free(ext);
	X509_free(ca);
	*len = n > 0 ? (size_t)n : 0;
	return n > 0 ? der : NULL;
}

/* A CA imported by the user may lack a subject key identifier: the leaf
 * then has no authority key identifier, and still verifies. */
static void issuer_cert_without_key_identifier(void)
{
	struct tkey a;
	uint8_t *ca, *bare, *der = NULL;
	size_t ca_len = 0, bare_len = 0, len = 0;
	X509 *x509_ca = NULL, *leaf = NULL;

	CHECK_EQ(tkey_make(&a, PK_P384, 0), 0);
	ca = ca_of(&a, &ca_len);
	bare = ca != NULL ? strip_ski(ca, ca_len, &bare_len) : NULL;
	CHECK(bare != NULL);
	CHECK_EQ(crypto_x509_issue_by(&leaf_req, a.spki, a.spki_len, &a.is,
				      bare, bare_len, &der, &len),
		 0);
	x509_ca = parse(ca, ca_len);
	leaf = parse(der, len);
	CHECK(x509_ca != NULL && leaf != NULL);
	if (x509_ca != NULL && leaf != NULL) {
		CHECK_EQ(X509_verify(leaf, X509_get0_pubkey(x509_ca)), 1);
		CHECK(X509_get0_authority_key_id(leaf) == NULL);
		CHECK(X509_get0_subject_key_id(leaf) != NULL);
	}
	X509_free(x509_ca);
	X509_free(leaf);
	OPENSSL_free(bare);
	free(ca);
	free(der);
	tkey_free(&a);
}

/* RSA below 2048 bits, X25519 (cannot sign), no key at all. */
static void issue_by_rejects_unfit_issuer_keys(void)
{
	struct tkey rsa1024, x25519, p256;
	struct crypto_issuer none = { 0 };
	uint8_t *der = NULL;
	size_t len = 0;

	CHECK_EQ(tkey_make(&rsa1024, 0, 1024), 0);
	CHECK_EQ(tkey_make(&x25519, PK_X25519, 0), 0);
	CHECK_EQ(tkey_make(&p256, PK_P256, 0), 0);
	CHECK_EQ(crypto_x509_issue_by(&ca_req, rsa1024.spki,
				      rsa1024.spki_len, &rsa1024.is, NULL, 0,
				      &der, &len),
		 -1);
	CHECK_EQ(crypto_x509_issue_by(&ca_req, x25519.spki, x25519.spki_len,
				      &x25519.is, NULL, 0, &der, &len),
		 -1);
	CHECK_EQ(crypto_x509_issue_by(&ca_req, p256.spki, p256.spki_len,
				      &none, NULL, 0, &der, &len),
		 -1);
	CHECK_EQ(crypto_x509_issue_by(&ca_req, p256.spki, p256.spki_len,
				      NULL, NULL, 0, &der, &len),
		 -1);
	/* A short scalar. */
	p256.is.priv_len = 31;
	CHECK_EQ(crypto_x509_issue_by(&ca_req, p256.spki, p256.spki_len,
				      &p256.is, NULL, 0, &der, &len),
		 -1);
	CHECK(der == NULL);
	tkey_free(&rsa1024);
	tkey_free(&x25519);
	tkey_free(&p256);
}

/* Issue a self-signed CA carrying exts; 0 or -1. */
static int self_signed_with(const struct crypto_cert_ext *exts, size_t n)
{
	struct tkey a;
	struct crypto_cert_req req = ca_req;
	uint8_t *der = NULL;
	size_t len = 0;
	int r;

	if (tkey_make(&a, PK_P256, 0) != 0)
		return -2;
	req.ext = exts;
	req.n_ext = n;
	r = crypto_x509_issue_by(&req, a.spki, a.spki_len, &a.is, NULL, 0,
				 &der, &len);
	free(der);
	tkey_free(&a);
	return r;
}

static void extensions_each_oid_once(void)
{
	const struct crypto_cert_ext twice[] = { yk_exts[0], yk_exts[0] };
	const struct crypto_cert_ext bc[] = {
		{ "2.5.29.19", yk_form, sizeof(yk_form) },
	};

	CHECK_EQ(self_signed_with(yk_exts, 4), 0);
	CHECK_EQ(self_signed_with(twice, 2), -1);
	/* basicConstraints is already the CA's own. */
	CHECK_EQ(self_signed_with(bc, 1), -1);
}

static void extensions_need_dotted_oids(void)
{
	static const char *const bad[] = { "", "1.3.6.x", "commonName",
					   "1..3", "1.3.6.1 ", "1.3.",
					   "1.03", "1" };
	struct crypto_cert_ext e = { NULL, yk_fw, sizeof(yk_fw) };

	CHECK_EQ(self_signed_with(&e, 1), -1);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		e.oid = bad[i];
		CHECK_EQ(self_signed_with(&e, 1), -1);
	}
}

static void extensions_bounded(void)
{
	struct crypto_cert_ext many[CRYPTO_CERT_EXT_MAX + 1];
	char oids[CRYPTO_CERT_EXT_MAX + 1][32];
	static uint8_t big[CRYPTO_CERT_EXT_LEN_MAX + 1];
	struct crypto_cert_ext e = { "1.3.6.1.4.1.41482.3.3", big,
				     sizeof(big) };

	for (size_t i = 0; i <= CRYPTO_CERT_EXT_MAX; i++) {
		snprintf(oids[i], sizeof(oids[i]), "1.3.6.1.4.1.99999.%zu", i);
		many[i] = (struct crypto_cert_ext){ oids[i], yk_fw, 3 };
	}
	CHECK_EQ(self_signed_with(many, CRYPTO_CERT_EXT_MAX), 0);
	CHECK_EQ(self_signed_with(many, CRYPTO_CERT_EXT_MAX + 1), -1);
	CHECK_EQ(self_signed_with(&e, 1), -1);
	e.len = CRYPTO_CERT_EXT_LEN_MAX;
	CHECK_EQ(self_signed_with(&e, 1), 0);
	/* A count with no array, a length with no bytes. */
	CHECK_EQ(self_signed_with(NULL, 1), -1);
	e.value = NULL;
	CHECK_EQ(self_signed_with(&e, 1), -1);
}

/* The issuer's validity needs an issuer certificate. */
static void issuer_validity_not_self_signed(void)
{
	struct tkey a;
	struct crypto_cert_req req = ca_req;
	uint8_t *der = NULL;
	size_t len = 0;

	CHECK_EQ(tkey_make(&a, PK_P256, 0), 0);
	req.issuer_validity = 1;
	CHECK_EQ(crypto_x509_issue_by(&req, a.spki, a.spki_len, &a.is, NULL,
				      0, &der, &len),
		 -1);
	tkey_free(&a);
}

static void issue_by_rejects_spki_with_trailing_bytes(void)
{
	struct tkey a;
	uint8_t *longer, *der = NULL;
	size_t len = 0;

	CHECK_EQ(tkey_make(&a, PK_P256, 0), 0);
	longer = calloc(1, a.spki_len + 1);
	CHECK(longer != NULL);
	if (longer != NULL) {
		memcpy(longer, a.spki, a.spki_len);
		CHECK_EQ(crypto_x509_issue_by(&ca_req, longer, a.spki_len + 1,
					      &a.is, NULL, 0, &der, &len),
			 -1);
		CHECK_EQ(crypto_x509_issue_by(&ca_req, longer, a.spki_len - 1,
					      &a.is, NULL, 0, &der, &len),
			 -1);
	}
	free(longer);
	tkey_free(&a);
}

int main(void)
{
	RUN(issue_by_p256_issuer);
	RUN(issue_by_p384_issuer);
	RUN(issue_by_rsa2048_issuer);
	RUN(issue_by_rsa3072_issuer);
	RUN(issue_by_rsa4096_issuer);
	RUN(issue_by_ed25519_issuer);
	RUN(issue_by_rejects_key_not_matching_issuer_cert);
	RUN(issue_by_accepts_issuer_cert_that_is_no_ca);
	RUN(issue_by_rejects_unfit_issuer_keys);
	RUN(issuer_cert_without_key_identifier);
	RUN(extensions_each_oid_once);
	RUN(extensions_need_dotted_oids);
	RUN(extensions_bounded);
	RUN(issuer_validity_not_self_signed);
	RUN(issue_by_rejects_spki_with_trailing_bytes);
	return CHECK_DONE();
}
