/* Key attestation, as YubiKeys offer it to OpenPGP hosts: GET
 * ATTESTATION (CLA 80, INS FB, P1 the key) certifies that a key was
 * generated on this card. The certificate is issued by the card's own
 * attestation CA (a P-256 key and self-signed certificate made on first
 * use, DO FC, `vkey attestation export`) and written to that key's
 * cardholder-certificate occurrence (authentication 0, decryption 1,
 * signature 2). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apdu/sw.h"
#include "applets/openpgp/pgp_priv.h"
#include "services/crypto.h"

static const char att_key_rec[] = "att.key";
static const char att_cert_rec[] = "att.cert";

#define ATT_CERT_MAX 2048
#define ATT_DAYS 36500

/* Load (or make on first use) the attestation CA's key and certificate. */
static int ca_load(struct pgp *p, uint8_t priv[CRYPTO_EC_PRIV_MAX],
		   uint8_t *cert, size_t *cert_len)
{
	uint8_t pub[CRYPTO_EC_PUB_MAX];
	size_t priv_len = CRYPTO_EC_PRIV_MAX, pub_len = sizeof(pub), len = 0;
	char ou[48];
	uint8_t *der = NULL;
	size_t der_len = 0;
	struct crypto_cert_req req = {
		.c = "US", .o = "vkey", .ou = ou,
		.cn = "vkey OpenPGP attestation CA", .is_ca = 1,
		.serial = store_serial(p->st) ? store_serial(p->st) : 1,
		.days = ATT_DAYS,
	};
	int err = pgp_get_rec(p, att_key_rec, priv, CRYPTO_EC_PRIV_MAX, &len);

	if (err == STORE_OK && len != CRYPTO_EC_PRIV_MAX)
		err = STORE_CORRUPT;
	if (err == STORE_OK)
		err = pgp_get_rec(p, att_cert_rec, cert, ATT_CERT_MAX,
				  cert_len);
	if (err != STORE_NOT_FOUND) {
		if (err != STORE_OK)
			crypto_wipe(priv, CRYPTO_EC_PRIV_MAX);
		return err;
	}
	snprintf(ou, sizeof(ou), "OpenPGP card %u", store_serial(p->st));
	if (crypto_ec_generate(CRYPTO_P256, priv, &priv_len, pub, &pub_len) !=
		    0 ||
	    crypto_x509_issue(&req, pub, pub_len, priv, priv_len, NULL, 0,
			      &der, &der_len) != 0 ||
	    der_len > ATT_CERT_MAX) {
		free(der);
		return STORE_IO;
	}
	err = store_begin(p->st);
	if (err != STORE_OK) {
		free(der);
		return err;
	}
	err = pgp_put_rec(p, att_key_rec, priv, priv_len);
	if (err == STORE_OK)
		err = pgp_put_rec(p, att_cert_rec, der, der_len);
	if (err == STORE_OK)
		err = store_commit(p->st);
	else
		store_rollback(p->st);
	memcpy(cert, der, der_len);
	*cert_len = der_len;
	free(der);
	return err;
}

int pgp_attest_ca(struct pgp *p, struct wbuf *w)
{
	uint8_t priv[CRYPTO_EC_PRIV_MAX], cert[ATT_CERT_MAX];
	size_t cert_len = 0;
	int err = ca_load(p, priv, cert, &cert_len);

	crypto_wipe(priv, sizeof(priv));
	if (err == STORE_OK)
		wbuf_put(w, cert, cert_len);
	return err;
}

static int spki_of(const struct pgp_key *k, uint8_t **der, size_t *len)
{
	if (k->algo.id == PGP_ALG_RSA)
		return crypto_rsa_spki(k->rsa.n, k->rsa.n_len, k->rsa.e,
				       k->rsa.e_len, der, len);
	return crypto_pk_ec_spki(k->algo.curve, k->ec_pub, k->ec_pub_len, der,
				 len);
}

static const char *const att_cn[PGP_SLOTS] = {
	"vkey OpenPGP signature key", "vkey OpenPGP decryption key",
	"vkey OpenPGP authentication key"
};

unsigned pgp_attest(struct pgp *p, const struct apdu *cmd, struct wbuf *r)
{
	uint8_t priv[CRYPTO_EC_PRIV_MAX], ca[ATT_CERT_MAX];
	size_t ca_len = 0, spki_len = 0, der_len = 0;
	uint8_t *spki = NULL, *der = NULL;
	struct pgp_key k;
	enum pgp_slot slot;
	char ou[48];
	struct crypto_cert_req req = { .c = "US", .o = "vkey", .ou = ou,
				       .days = ATT_DAYS };
	unsigned sw = SW_OK;
	int err;

	(void)r;
	if (cmd->p1 < 1 || cmd->p1 > 3 || cmd->p2 != 0x00)
		return SW_WRONG_P1P2;
	if (cmd->lc != 0)
		return SW_WRONG_LENGTH;
	if (!p->pw1_sig && !p->pw1_other)
		return SW_SECURITY_STATUS;
	slot = (enum pgp_slot)(cmd->p1 - 1);
	err = pgp_key_load(p, slot, &k);
	if (err == STORE_NOT_FOUND)
		return SW_REF_DATA_NOT_FOUND;
	if (err != STORE_OK)
		return SW_MEMORY_FAILURE;
	if (k.status != PGP_KEY_GENERATED) {
		sw = SW_CONDITIONS_NOT_SATISFIED; /* imported: nothing to attest */
		goto out;
	}
	snprintf(ou, sizeof(ou), "OpenPGP card %u", store_serial(p->st));
	req.cn = att_cn[slot];
	if (crypto_random(&req.serial, sizeof(req.serial)) != 0) {
		sw = SW_UNKNOWN;
		goto out;
	}
	req.serial = (req.serial >> 1) | 1; /* positive, non-zero */
	if (ca_load(p, priv, ca, &ca_len) != STORE_OK ||
	    spki_of(&k, &spki, &spki_len) != 0 ||
	    crypto_x509_issue_spki(&req, spki, spki_len, priv, sizeof(priv),
				   ca, ca_len, &der, &der_len) != 0) {
		sw = SW_UNKNOWN;
		goto out;
	}
	if (der_len > PGP_CERT_MAX)
		sw = SW_NOT_ENOUGH_SPACE;
	else if (pgp_cert_put(p, (uint8_t)(PGP_SLOTS - 1 - slot), der,
			      der_len) != STORE_OK)
		sw = SW_MEMORY_FAILURE;
out:
	pgp_key_wipe(&k);
	crypto_wipe(priv, sizeof(priv));
	free(spki);
	free(der);
	return sw;
}

int pgp_report_attestation(void *state, struct wbuf *out)
{
	struct pgp *p = state;
	uint8_t cert[ATT_CERT_MAX];
	struct wbuf w = wbuf_init(cert, sizeof(cert));
	char *pem;
	int r;

	if (p->terminated)
		return 0; /* nothing to attest until ACTIVATE FILE */
	if (pgp_attest_ca(p, &w) != STORE_OK)
		return -1;
	pem = crypto_x509_pem(cert, w.len);
	if (pem == NULL)
		return -1;
	r = wbuf_put(out, pem, strlen(pem));
	free(pem);
	return r;
}
