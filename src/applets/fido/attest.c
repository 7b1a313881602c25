/* Attestation: a per-key CA ("vkey attestation CA <serial>") and a leaf
 * certificate for "packed" x5c attestation and U2F registration, made on
 * first use and kept in the store; or self attestation when the key's
 * config asks for it. */
#include "applets/fido/ctap_cred.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Subject country: packed attestation wants an ISO 3166 code; vkey's
 * certificates are self-issued, so any valid code does; we use "US". */
#define ATTEST_C "US"
#define ATTEST_O "vkey"
#define ATTEST_OU "Authenticator Attestation"
#define ATTEST_DAYS 7300

static const char k_leaf_key[] = "leaf.key";
static const char k_leaf_crt[] = "leaf.crt";
static const char k_ca_crt[] = "ca.crt";
static const char k_mode[] = "attestation";

void attest_forget(struct ctap *c)
{
	struct ctap_cred_ctx *x = c->cred;

	crypto_wipe(x->attest_priv, sizeof(x->attest_priv));
	free(x->attest_leaf);
	free(x->attest_ca);
	x->attest_leaf = NULL;
	x->attest_ca = NULL;
	x->attest_leaf_len = x->attest_ca_len = 0;
	x->attest_loaded = false;
}

static int get(struct ctap *c, const char *k, uint8_t **v, size_t *n)
{
	return store_get(c->store, NS_ATTEST, k, strlen(k), v, n);
}

static int put(struct ctap *c, const char *k, const uint8_t *v, size_t n)
{
	return store_put(c->store, NS_ATTEST, k, strlen(k), v, n);
}

static uint64_t random_serial(void)
{
	uint64_t s = 0;

	if (crypto_random(&s, sizeof(s)) != 0)
		s = 1;
	s &= 0x7FFFFFFFFFFFFFFFull; /* a positive INTEGER */
	return s ? s : 1;
}

/* A CA key signs the CA's own certificate and the leaf, then is
 * discarded: nothing else is ever signed with it. */
static int generate(struct ctap *c)
{
	struct ctap_cred_ctx *x = c->cred;
	uint8_t ca_priv[CRYPTO_EC_PRIV_MAX], ca_pub[CRYPTO_EC_PUB_MAX];
	uint8_t leaf_pub[CRYPTO_EC_PUB_MAX];
	size_t ca_priv_len = sizeof(ca_priv), ca_pub_len = sizeof(ca_pub);
	size_t leaf_pub_len = sizeof(leaf_pub);
	char ca_cn[64], leaf_cn[64];
	struct crypto_cert_req req = { .c = ATTEST_C, .o = ATTEST_O,
				       .ou = ATTEST_OU, .days = ATTEST_DAYS };
	int r = -1;

	x->attest_priv_len = sizeof(x->attest_priv);
	snprintf(ca_cn, sizeof(ca_cn), "vkey attestation CA %u",
		 (unsigned)store_serial(c->store));
	snprintf(leaf_cn, sizeof(leaf_cn), "vkey attestation %u",
		 (unsigned)store_serial(c->store));
	if (crypto_ec_generate(CRYPTO_P256, ca_priv, &ca_priv_len, ca_pub,
			       &ca_pub_len) != 0 ||
	    crypto_ec_generate(CRYPTO_P256, x->attest_priv,
			       &x->attest_priv_len, leaf_pub,
			       &leaf_pub_len) != 0)
		goto out;
	req.cn = ca_cn;
	req.is_ca = 1;
	req.serial = random_serial();
	if (crypto_x509_issue(&req, ca_pub, ca_pub_len, ca_priv, ca_priv_len,
			      NULL, 0, &x->attest_ca, &x->attest_ca_len) != 0)
		goto out;
	req.cn = leaf_cn;
	req.is_ca = 0;
	req.aaguid = ctap_aaguid;
	req.serial = random_serial();
	if (crypto_x509_issue(&req, leaf_pub, leaf_pub_len, ca_priv,
			      ca_priv_len, x->attest_ca, x->attest_ca_len,
			      &x->attest_leaf, &x->attest_leaf_len) != 0)
		goto out;
	if (store_begin(c->store) != STORE_OK)
		goto out;
	if (put(c, k_leaf_key, x->attest_priv, x->attest_priv_len) != STORE_OK ||
	    put(c, k_leaf_crt, x->attest_leaf, x->attest_leaf_len) != STORE_OK ||
	    put(c, k_ca_crt, x->attest_ca, x->attest_ca_len) != STORE_OK) {
		store_rollback(c->store);
		goto out;
	}
	if (store_commit(c->store) != STORE_OK)
		goto out;
	r = 0;
out:
	crypto_wipe(ca_priv, sizeof(ca_priv));
	return r;
}

/* The stored leaf key and certificates into memory. */
static int load(struct ctap *c)
{
	struct ctap_cred_ctx *x = c->cred;
	uint8_t *key = NULL;
	size_t key_len = 0;
	int err;

	err = get(c, k_leaf_key, &key, &key_len);
	if (err == STORE_OK)
		err = get(c, k_leaf_crt, &x->attest_leaf, &x->attest_leaf_len);
	if (err == STORE_OK)
		err = get(c, k_ca_crt, &x->attest_ca, &x->attest_ca_len);
	if (err == STORE_OK && key_len > sizeof(x->attest_priv))
		err = STORE_CORRUPT;
	if (err == STORE_OK) {
		memcpy(x->attest_priv, key, key_len);
		x->attest_priv_len = key_len;
	}
	store_free_value(key, key_len);
	return err;
}

static int ensure(struct ctap *c)
{
	struct ctap_cred_ctx *x = c->cred;
	int err;

	if (x->attest_loaded)
		return 0;
	err = load(c);
	if (err == STORE_NOT_FOUND) {
		attest_forget(c);
		err = generate(c) == 0 ? STORE_OK : STORE_IO;
	}
	if (err != STORE_OK) {
		attest_forget(c);
		return -1;
	}
	x->attest_loaded = true;
	return 0;
}

int ctap_attest_sign(struct ctap *c, const uint8_t *msg, size_t msg_len,
		     uint8_t *sig, size_t *sig_len)
{
	if (ensure(c) != 0)
		return -1;
	return crypto_sign(CRYPTO_P256, c->cred->attest_priv,
			   c->cred->attest_priv_len, msg, msg_len, sig,
			   sig_len);
}

const uint8_t *ctap_attest_cert(struct ctap *c, size_t *len)
{
	if (ensure(c) != 0)
		return NULL;
	*len = c->cred->attest_leaf_len;
	return c->cred->attest_leaf;
}

int ctap_attestation_ca(struct ctap *c, uint8_t **der, size_t *der_len)
{
	*der = NULL;
	*der_len = 0;
	if (ensure(c) != 0)
		return -1;
	*der = malloc(c->cred->attest_ca_len);
	if (*der == NULL)
		return -1;
	memcpy(*der, c->cred->attest_ca, c->cred->attest_ca_len);
	*der_len = c->cred->attest_ca_len;
	return 0;
}

/* "fido.config" / "attestation" = "self" selects self attestation. */
bool attest_self(struct ctap *c)
{
	uint8_t *v = NULL;
	size_t n = 0;
	bool self = false;

	if (store_get(c->store, NS_CONFIG, k_mode, strlen(k_mode), &v, &n) ==
	    STORE_OK)
		self = (n == 4 || (n == 5 && v[4] == '\0')) &&
		       memcmp(v, "self", 4) == 0;
	store_free_value(v, n);
	return self;
}

int attest_set_self(struct ctap *c, bool self)
{
	static const char packed[] = "packed", self_mode[] = "self";
	const char *v = self ? self_mode : packed;

	return store_put(c->store, NS_CONFIG, k_mode, strlen(k_mode), v,
			 strlen(v)) == STORE_OK ? 0 : -1;
}

static cbor_item_t *build_int(int64_t v)
{
	return v >= 0 ? cbor_build_uint64((uint64_t)v)
		      : cbor_build_negint64((uint64_t)(-1 - v));
}

static bool push_bytes(cbor_item_t *array, const uint8_t *p, size_t n)
{
	cbor_item_t *b = cbor_build_bytestring(p, n);
	bool ok = b != NULL && cbor_array_push(array, b);

	if (b != NULL)
		cbor_decref(&b);
	return ok;
}

/* Packed attestation (WebAuthn §8.2): {alg, sig[, x5c]} over
 * authData || clientDataHash. */
uint8_t attest_statement(struct ctap *c, const struct cred_key *k,
			 const uint8_t *ad, size_t ad_len,
			 const uint8_t cdh[CRED_CDH_LEN], cbor_item_t **stmt)
{
	uint8_t sig[CRYPTO_SIG_MAX], msg[1024];
	size_t sig_len = sizeof(sig), leaf_len = 0;
	bool self = attest_self(c);
	const uint8_t *leaf = NULL;
	cbor_item_t *m = NULL, *x5c = NULL;
	uint8_t r = CTAP2_ERR_PROCESSING;

	*stmt = NULL;
	if (self) {
		if (cred_sign(k, ad, ad_len, cdh, sig, &sig_len) != CTAP2_OK)
			goto out;
	} else {
		if (ad_len > sizeof(msg) - CRED_CDH_LEN)
			goto out;
		memcpy(msg, ad, ad_len);
		memcpy(msg + ad_len, cdh, CRED_CDH_LEN);
		if (ctap_attest_sign(c, msg, ad_len + CRED_CDH_LEN, sig,
				     &sig_len) != 0 ||
		    (leaf = ctap_attest_cert(c, &leaf_len)) == NULL)
			goto out;
		x5c = cbor_new_definite_array(1);
		if (x5c == NULL || !push_bytes(x5c, leaf, leaf_len))
			goto out;
	}
	m = cbor_new_definite_map(3);
	/* Canonical order: "alg", "sig", "x5c". */
	if (m == NULL ||
	    ctap_map_put_text(m, "alg", build_int(self ? k->alg : COSE_ES256)) ||
	    ctap_map_put_text(m, "sig", cbor_build_bytestring(sig, sig_len)))
		goto out;
	if (x5c != NULL) {
		cbor_item_t *t = x5c;

		x5c = NULL; /* the put takes it, whatever happens */
		if (ctap_map_put_text(m, "x5c", t))
			goto out;
	}
	*stmt = m;
	m = NULL;
	r = CTAP2_OK;
out:
	if (x5c != NULL)
		cbor_decref(&x5c);
	if (m != NULL)
		cbor_decref(&m);
	return r;
}
