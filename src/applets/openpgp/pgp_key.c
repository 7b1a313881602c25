/* GENERATE ASYMMETRIC KEY PAIR and key import (PUT DATA 3FFF with the
 * extended header list). */
#include <string.h>

#include "apdu/sw.h"
#include "applets/openpgp/pgp_priv.h"
#include "services/crypto.h"

/* The control reference template names the slot: B6 signature, B8
 * decryption, A4 authentication. */
static int slot_of_crt(uint8_t tag, enum pgp_slot *slot)
{
	switch (tag) {
	case 0xB6:
		*slot = PGP_SIG;
		return 0;
	case 0xB8:
		*slot = PGP_DEC;
		return 0;
	case 0xA4:
		*slot = PGP_AUT;
		return 0;
	default:
		return -1;
	}
}

static int generate(struct pgp_key *k)
{
	k->ec_priv_len = sizeof(k->ec_priv);
	k->ec_pub_len = sizeof(k->ec_pub);
	if (k->algo.id == PGP_ALG_RSA)
		return crypto_rsa_generate(k->algo.rsa_bits, &k->rsa);
	return crypto_pk_ec_generate(k->algo.curve, k->ec_priv,
				     &k->ec_priv_len, k->ec_pub,
				     &k->ec_pub_len);
}

unsigned pgp_generate(struct pgp *p, const struct apdu *cmd, struct wbuf *r)
{
	enum pgp_slot slot;
	struct pgp_key k;
	unsigned sw;
	int err;

	if (cmd->p2 != 0x00 || (cmd->p1 != 0x80 && cmd->p1 != 0x81))
		return SW_WRONG_P1P2;
	if (cmd->lc < 2 || slot_of_crt(cmd->data[0], &slot) != 0 ||
	    cmd->data[1] != cmd->lc - 2)
		return SW_WRONG_DATA;
	if (cmd->p1 == 0x81) {
		err = pgp_key_load(p, slot, &k);
		if (err == STORE_NOT_FOUND)
			return SW_REF_DATA_NOT_FOUND;
		if (err != STORE_OK)
			return SW_MEMORY_FAILURE;
		pgp_key_public(&k, r);
		pgp_key_wipe(&k);
		return SW_OK;
	}
	if (!p->pw3)
		return SW_SECURITY_STATUS;
	memset(&k, 0, sizeof(k));
	if (pgp_algo_get(p, slot, &k.algo) != STORE_OK)
		return SW_MEMORY_FAILURE;
	k.status = PGP_KEY_GENERATED;
	if (generate(&k) != 0) {
		pgp_key_wipe(&k);
		return SW_UNKNOWN;
	}
	sw = pgp_key_replace(p, slot, NULL, 0, &k);
	if (sw == SW_OK)
		pgp_key_public(&k, r);
	pgp_key_wipe(&k);
	return sw;
}

/* ---- Import ------------------------------------------------------- */

/* Tags of the private-key template's header list. */
enum {
	IMP_E = 0,   /* 91 */
	IMP_P,       /* 92: prime p, or the EC private key */
	IMP_Q,       /* 93 */
	IMP_QINV,    /* 94 */
	IMP_DP,      /* 95 */
	IMP_DQ,      /* 96 */
	IMP_N,       /* 97 */
	IMP_RFU,     /* 98 */
	IMP_PUB,     /* 99: EC public key */
	IMP_COUNT,
};

struct import {
	enum pgp_slot slot;
	const uint8_t *v[IMP_COUNT];
	size_t len[IMP_COUNT];
};

/* Read a BER length (short, 81 or 82 form). */
static int ber_len(struct rbuf *r, size_t *len)
{
	uint8_t b, b2;

	if (rbuf_u8(r, &b) != 0)
		return -1;
	if (b < 0x80) {
		*len = b;
		return 0;
	}
	if (b == 0x81)
		return rbuf_u8(r, &b2) == 0 ? (*len = b2, 0) : -1;
	if (b == 0x82) {
		uint16_t v;

		if (rbuf_u16be(r, &v) != 0)
			return -1;
		*len = v;
		return 0;
	}
	return -1;
}

/* 4D { CRT, 7F48 { tag len ... }, 5F48 { values } } */
static int import_parse(const uint8_t *data, size_t len, struct import *im)
{
	struct rbuf r = rbuf_init(data, len), body, crt, hdr, vals;
	uint16_t tag;
	size_t total = 0;

	memset(im, 0, sizeof(*im));
	if (rbuf_tlv(&r, &tag, &body) != 0 || tag != 0x4D ||
	    rbuf_left(&r) != 0)
		return -1;
	if (rbuf_tlv(&body, &tag, &crt) != 0 || tag > 0xFF ||
	    slot_of_crt((uint8_t)tag, &im->slot) != 0)
		return -1;
	if (rbuf_tlv(&body, &tag, &hdr) != 0 || tag != 0x7F48)
		return -1;
	if (rbuf_tlv(&body, &tag, &vals) != 0 || tag != 0x5F48 ||
	    rbuf_left(&body) != 0)
		return -1;
	while (rbuf_left(&hdr) > 0) {
		uint8_t t;
		size_t n;

		if (rbuf_u8(&hdr, &t) != 0 || ber_len(&hdr, &n) != 0)
			return -1;
		if (t < 0x91 || t > 0x99 || im->v[t - 0x91] != NULL ||
		    n == 0 || n > CRYPTO_RSA_MAX)
			return -1;
		if (rbuf_bytes(&vals, n, &im->v[t - 0x91]) != 0)
			return -1;
		im->len[t - 0x91] = n;
		total += n;
	}
	return rbuf_left(&vals) == 0 && total > 0 ? 0 : -1;
}

static int import_rsa(const struct import *im, struct pgp_key *k)
{
	const uint8_t *v[IMP_COUNT];
	size_t len[IMP_COUNT];
	size_t half = k->algo.rsa_bits / 16;
	bool crt = im->v[IMP_QINV] != NULL || im->v[IMP_DP] != NULL ||
		   im->v[IMP_DQ] != NULL;
	int r;

	memcpy(v, im->v, sizeof(v));
	memcpy(len, im->len, sizeof(len));
	if (v[IMP_E] == NULL || v[IMP_P] == NULL || v[IMP_Q] == NULL ||
	    v[IMP_PUB] != NULL || v[IMP_RFU] != NULL)
		return -1;
	if (crt && (v[IMP_QINV] == NULL || v[IMP_DP] == NULL ||
		    v[IMP_DQ] == NULL))
		return -1;
	for (int i = 0; i < IMP_COUNT; i++)
		if (v[i] != NULL)
			bytes_strip_zeros(&v[i], &len[i]);
	if (len[IMP_E] == 0 || len[IMP_E] > 4 || len[IMP_P] != half ||
	    len[IMP_Q] != half)
		return -1;
	if (crt)
		r = crypto_rsa_import_crt(v[IMP_E], len[IMP_E], v[IMP_P],
					  len[IMP_P], v[IMP_Q], len[IMP_Q],
					  v[IMP_DP], len[IMP_DP], v[IMP_DQ],
					  len[IMP_DQ], v[IMP_QINV],
					  len[IMP_QINV], &k->rsa);
	else
		r = crypto_rsa_import_epq(v[IMP_E], len[IMP_E], v[IMP_P],
					  len[IMP_P], v[IMP_Q], len[IMP_Q],
					  &k->rsa);
	if (r != 0 || k->rsa.n_len * 8 != k->algo.rsa_bits)
		return -1;
	if (v[IMP_N] != NULL &&
	    (len[IMP_N] != k->rsa.n_len ||
	     memcmp(v[IMP_N], k->rsa.n, k->rsa.n_len) != 0))
		return -1;
	return 0;
}

/* The private key arrives as an integer, leading zeros possibly
 * stripped: pad it to the field size. OpenPGP keeps a Curve25519 ECDH
 * secret as a big-endian integer, the reverse of X25519's encoding. */
static int import_ec(const struct import *im, struct pgp_key *k)
{
	size_t fs = crypto_pk_field_size(k->algo.curve);
	const uint8_t *d = im->v[IMP_P];
	size_t d_len = im->len[IMP_P];

	if (d == NULL || fs == 0 || fs > sizeof(k->ec_priv))
		return -1;
	for (int i = IMP_E; i < IMP_COUNT; i++)
		if (i != IMP_P && i != IMP_PUB && im->v[i] != NULL)
			return -1;
	bytes_strip_zeros(&d, &d_len);
	if (d_len == 0 || d_len > fs)
		return -1;
	memset(k->ec_priv, 0, fs);
	memcpy(k->ec_priv + fs - d_len, d, d_len);
	k->ec_priv_len = fs;
	if (k->algo.curve == PK_X25519)
		for (size_t i = 0; i < fs / 2; i++) {
			uint8_t t = k->ec_priv[i];

			k->ec_priv[i] = k->ec_priv[fs - 1 - i];
			k->ec_priv[fs - 1 - i] = t;
		}
	k->ec_pub_len = sizeof(k->ec_pub);
	if (crypto_pk_ec_public(k->algo.curve, k->ec_priv, k->ec_priv_len,
				k->ec_pub, &k->ec_pub_len) != 0)
		return -1;
	/* A public key given must be the private key's (a 0x40 prefix is
	 * OpenPGP's marker for native Curve25519 points). */
	if (im->v[IMP_PUB] != NULL) {
		const uint8_t *q = im->v[IMP_PUB];
		size_t q_len = im->len[IMP_PUB];

		if (q_len == k->ec_pub_len + 1 && q[0] == 0x40) {
			q++;
			q_len--;
		}
		if (q_len != k->ec_pub_len ||
		    memcmp(q, k->ec_pub, q_len) != 0)
			return -1;
	}
	return 0;
}

unsigned pgp_import(struct pgp *p, const struct apdu *cmd, struct wbuf *r)
{
	struct import im;
	struct pgp_key k;
	unsigned sw;
	int bad;

	(void)r;
	if (cmd->p1 != 0x3F || cmd->p2 != 0xFF)
		return SW_WRONG_P1P2;
	if (!p->pw3)
		return SW_SECURITY_STATUS;
	if (import_parse(cmd->data, cmd->lc, &im) != 0)
		return SW_WRONG_DATA;
	memset(&k, 0, sizeof(k));
	if (pgp_algo_get(p, im.slot, &k.algo) != STORE_OK)
		return SW_MEMORY_FAILURE;
	k.status = PGP_KEY_IMPORTED;
	bad = k.algo.id == PGP_ALG_RSA ? import_rsa(&im, &k)
				       : import_ec(&im, &k);
	sw = bad != 0 ? SW_WRONG_DATA : pgp_key_replace(p, im.slot, NULL, 0, &k);
	pgp_key_wipe(&k);
	return sw;
}
