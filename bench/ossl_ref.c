/* Raw OpenSSL reference operations for the applet benchmarks. */
#include "ossl_ref.h"

#include <openssl/core_names.h>
#include <openssl/param_build.h>
#include <openssl/rsa.h>

#include "card_pcsc.h"

const uint8_t ref_sha256_prefix[19] = { 0x30, 0x31, 0x30, 0x0D, 0x06,
					0x09, 0x60, 0x86, 0x48, 0x01,
					0x65, 0x03, 0x04, 0x02, 0x01,
					0x05, 0x00, 0x04, 0x20 };

EVP_PKEY *ref_keygen(int evp_id, unsigned rsa_bits)
{
	if (evp_id == EVP_PKEY_RSA)
		return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)rsa_bits);
	if (evp_id == EVP_PKEY_EC)
		return EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	return EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
}

/* RSA keys sign and verify PKCS#1 v1.5 with SHA-256; others as they are. */
static int rsa_pkcs1_sha256(EVP_PKEY_CTX *pc, EVP_PKEY *key)
{
	if (EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA)
		return 1;
	return EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) == 1 &&
	       EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) == 1;
}

int ref_sign(EVP_PKEY *key, const uint8_t digest[32])
{
	uint8_t sig[512];
	size_t sl = sizeof sig;
	EVP_PKEY_CTX *pc;
	EVP_MD_CTX *mc;
	int ok;

	if (EVP_PKEY_get_base_id(key) == EVP_PKEY_ED25519) {
		mc = EVP_MD_CTX_new();
		ok = mc != NULL &&
		     EVP_DigestSignInit(mc, NULL, NULL, NULL, key) == 1 &&
		     EVP_DigestSign(mc, sig, &sl, digest, 32) == 1;
		EVP_MD_CTX_free(mc);
		return ok ? 0 : -1;
	}
	pc = EVP_PKEY_CTX_new(key, NULL);
	ok = pc != NULL && EVP_PKEY_sign_init(pc) == 1 &&
	     rsa_pkcs1_sha256(pc, key) &&
	     EVP_PKEY_sign(pc, sig, &sl, digest, 32) == 1;
	EVP_PKEY_CTX_free(pc);
	return ok ? 0 : -1;
}

int ref_verify(EVP_PKEY *pub, const uint8_t *sig, size_t sig_len,
	       const uint8_t digest[32])
{
	EVP_PKEY_CTX *pc;
	EVP_MD_CTX *mc;
	int ok;

	if (EVP_PKEY_get_base_id(pub) == EVP_PKEY_ED25519) {
		mc = EVP_MD_CTX_new();
		ok = mc != NULL &&
		     EVP_DigestVerifyInit(mc, NULL, NULL, NULL, pub) == 1 &&
		     EVP_DigestVerify(mc, sig, sig_len, digest, 32) == 1;
		EVP_MD_CTX_free(mc);
		return ok ? 0 : -1;
	}
	pc = EVP_PKEY_CTX_new(pub, NULL);
	ok = pc != NULL && EVP_PKEY_verify_init(pc) == 1 &&
	     rsa_pkcs1_sha256(pc, pub) &&
	     EVP_PKEY_verify(pc, sig, sig_len, digest, 32) == 1;
	EVP_PKEY_CTX_free(pc);
	return ok ? 0 : -1;
}

int ref_ecdh_derive(EVP_PKEY *priv, EVP_PKEY *peer, uint8_t *out,
		    size_t *len)
{
	EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new(priv, NULL);
	int ok = pc != NULL && EVP_PKEY_derive_init(pc) == 1 &&
		 EVP_PKEY_derive_set_peer(pc, peer) == 1 &&
		 EVP_PKEY_derive(pc, out, len) == 1;

	EVP_PKEY_CTX_free(pc);
	return ok ? 0 : -1;
}

int ref_job_sign(void *job)
{
	const struct ref_job *j = job;

	return ref_sign(j->key, j->digest);
}

int ref_job_derive(void *job)
{
	const struct ref_job *j = job;
	uint8_t z[66];
	size_t zl = sizeof z;

	return ref_ecdh_derive(j->key, j->peer, z, &zl);
}

int ref_job_keygen(void *job)
{
	const struct ref_job *j = job;
	EVP_PKEY *key = ref_keygen(j->evp_id, j->rsa_bits);

	EVP_PKEY_free(key);
	return key != NULL ? 0 : -1;
}

static EVP_PKEY *rsa_pub(const uint8_t *pk, size_t pkl)
{
	const uint8_t *n, *e;
	size_t nl, el;
	OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
	OSSL_PARAM *params = NULL;
	EVP_PKEY_CTX *ctx = NULL;
	EVP_PKEY *key = NULL;
	BIGNUM *bn = NULL, *be = NULL;

	n = card_tlv_find(pk, pkl, 0x81, &nl);
	e = card_tlv_find(pk, pkl, 0x82, &el);
	if (b == NULL || n == NULL || e == NULL ||
	    (bn = BN_bin2bn(n, (int)nl, NULL)) == NULL ||
	    (be = BN_bin2bn(e, (int)el, NULL)) == NULL ||
	    !OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_N, bn) ||
	    !OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_RSA_E, be) ||
	    (params = OSSL_PARAM_BLD_to_param(b)) == NULL ||
	    (ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_RSA, NULL)) == NULL ||
	    EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
		key = NULL;
	EVP_PKEY_CTX_free(ctx);
	OSSL_PARAM_free(params);
	OSSL_PARAM_BLD_free(b);
	BN_free(bn);
	BN_free(be);
	return key;
}

static EVP_PKEY *p256_pub(const uint8_t *q, size_t ql)
{
	OSSL_PARAM params[3];
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_EC, NULL);
	EVP_PKEY *key = NULL;

	params[0] = OSSL_PARAM_construct_utf8_string(
		OSSL_PKEY_PARAM_GROUP_NAME, (char *)"P-256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(
		OSSL_PKEY_PARAM_PUB_KEY, (void *)q, ql);
	params[2] = OSSL_PARAM_construct_end();
	if (ctx == NULL || EVP_PKEY_fromdata_init(ctx) != 1 ||
	    EVP_PKEY_fromdata(ctx, &key, EVP_PKEY_PUBLIC_KEY, params) != 1)
		key = NULL;
	EVP_PKEY_CTX_free(ctx);
	return key;
}

EVP_PKEY *ref_card_pubkey(int evp_id, const uint8_t *answer, size_t len)
{
	const uint8_t *pk, *q;
	size_t pkl, ql;

	if ((pk = card_tlv_find(answer, len, 0x7F49, &pkl)) == NULL)
		return NULL;
	if (evp_id == EVP_PKEY_RSA)
		return rsa_pub(pk, pkl);
	if ((q = card_tlv_find(pk, pkl, 0x86, &ql)) == NULL)
		return NULL;
	if (evp_id == EVP_PKEY_ED25519)
		return EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, q,
						   ql);
	return p256_pub(q, ql);
}
