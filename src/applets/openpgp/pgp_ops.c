/* The private-key operations: PSO:COMPUTE DIGITAL SIGNATURE,
 * PSO:DECIPHER, PSO:ENCIPHER, INTERNAL AUTHENTICATE; and GET CHALLENGE.
 * Each checks its PIN, then the key's UIF (a touch), then works. */
#include <string.h>

#include "apdu/sw.h"
#include "applets/openpgp/pgp_priv.h"
#include "core/key.h"
#include "services/crypto.h"
#include "services/up.h"

#define AES_BLOCK 16
#define AES_KEY_MAX 32

static const char *const op_name[PGP_SLOTS] = {
	"openpgp signature", "openpgp decryption", "openpgp authentication"
};

/* The slot's UIF asks for a touch through the key's user-presence
 * policy. */
static unsigned touch(struct pgp *p, enum pgp_slot slot)
{
	uint8_t uif[2];
	size_t len = 0;
	int err = pgp_get_do(p, (uint16_t)(PGP_DO_UIF_SIG + slot), uif,
			     sizeof(uif), &len);

	if (err == STORE_NOT_FOUND)
		return SW_OK;
	if (err != STORE_OK || len != 2)
		return SW_MEMORY_FAILURE;
	if (uif[0] == PGP_UIF_OFF)
		return SW_OK;
	return up_request(vkey_up(p->key), op_name[slot], NULL, NULL) ==
			       UP_APPROVED
		       ? SW_OK
		       : SW_CONDITIONS_NOT_SATISFIED;
}

/* The slot's RSA key, prepared on first use and kept while the record
 * holds the same modulus. */
static const struct crypto_rsa_prepared *rsa_of(struct pgp *p,
						enum pgp_slot slot,
						const struct pgp_key *k)
{
	if (!crypto_rsa_prepared_is(p->rsa[slot], &k->rsa)) {
		crypto_rsa_prepared_free(p->rsa[slot]);
		p->rsa[slot] = crypto_rsa_prepare(&k->rsa);
	}
	return p->rsa[slot];
}

static unsigned load(struct pgp *p, enum pgp_slot slot, struct pgp_key *k)
{
	int err = pgp_key_load(p, slot, k);

	if (err == STORE_NOT_FOUND)
		return SW_REF_DATA_NOT_FOUND;
	return err == STORE_OK ? SW_OK : SW_MEMORY_FAILURE;
}

/* Signature by key 1 or 3: RSA PKCS#1 over the DigestInfo given (at
 * most 40 % of the modulus), ECDSA r||s over the hash given, EdDSA over
 * the data given. */
static unsigned sign(struct pgp *p, enum pgp_slot slot,
		     const struct apdu *cmd, struct wbuf *r)
{
	struct pgp_key k;
	uint8_t sig[CRYPTO_RSA_MAX];
	size_t sig_len = sizeof(sig);
	unsigned sw;
	int err;

	sw = load(p, slot, &k);
	if (sw != SW_OK)
		return sw;
	if (cmd->lc == 0) {
		sw = SW_WRONG_LENGTH;
		goto out;
	}
	if (k.algo.id == PGP_ALG_RSA) {
		if (cmd->lc * 10 > k.rsa.n_len * 4) {
			sw = SW_WRONG_LENGTH;
			goto out;
		}
	} else if (k.algo.id == PGP_ALG_ECDSA && cmd->lc > 64) {
		sw = SW_WRONG_LENGTH;
		goto out;
	}
	sw = touch(p, slot);
	if (sw != SW_OK)
		goto out;
	if (k.algo.id == PGP_ALG_RSA)
		err = crypto_rsa_prepared_sign_pkcs1(rsa_of(p, slot, &k),
						     cmd->data, cmd->lc, sig,
						     &sig_len);
	else
		err = crypto_pk_ec_sign(k.algo.curve, k.ec_priv,
					k.ec_priv_len, cmd->data, cmd->lc,
					PK_SIG_RAW, sig, &sig_len);
	if (err != 0) {
		sw = SW_UNKNOWN;
		goto out;
	}
	wbuf_put(r, sig, sig_len);
out:
	pgp_key_wipe(&k);
	crypto_wipe(sig, sizeof(sig));
	return sw;
}

static unsigned compute_signature(struct pgp *p, const struct apdu *cmd,
				  struct wbuf *r)
{
	uint8_t c4[1] = { 0x01 };
	size_t len = 0;
	unsigned sw;

	if (!p->pw1_sig)
		return SW_SECURITY_STATUS;
	sw = sign(p, PGP_SIG, cmd, r);
	if (sw != SW_OK)
		return sw;
	if (pgp_counter_bump(p) != STORE_OK)
		return SW_MEMORY_FAILURE;
	/* PW status byte 1 = 00: one signature per VERIFY. */
	if (pgp_get_do(p, PGP_DO_PW_STATUS, c4, sizeof(c4), &len) ==
		    STORE_OK &&
	    len == 1 && c4[0] == 0x00)
		p->pw1_sig = false;
	return SW_OK;
}

static int aes_key(struct pgp *p, uint8_t key[AES_KEY_MAX], size_t *len)
{
	return pgp_get_do(p, PGP_DO_AES_KEY, key, AES_KEY_MAX, len);
}

static unsigned aes(struct pgp *p, int encrypt, const uint8_t *in,
		    size_t len, struct wbuf *r)
{
	uint8_t key[AES_KEY_MAX];
	size_t key_len = 0;
	int err;

	if (len == 0 || len % AES_BLOCK != 0)
		return SW_WRONG_LENGTH;
	err = aes_key(p, key, &key_len);
	if (err == STORE_NOT_FOUND)
		return SW_REF_DATA_NOT_FOUND;
	if (err != STORE_OK)
		return SW_MEMORY_FAILURE;
	if (encrypt)
		wbuf_u8(r, 0x02);
	if (wbuf_room(r) < len) {
		crypto_wipe(key, sizeof(key));
		return SW_WRONG_LENGTH;
	}
	err = crypto_aes_cbc(encrypt, key, key_len, NULL, in, len,
			     r->p + r->len);
	crypto_wipe(key, sizeof(key));
	if (err != 0)
		return SW_UNKNOWN;
	r->len += len;
	return SW_OK;
}

/* A6 { 7F49 { 86 point } } */
static int ecdh_point(const uint8_t *data, size_t len, const uint8_t **pt,
		      size_t *pt_len)
{
	struct rbuf rd = rbuf_init(data, len), a6, pk, point;
	uint16_t tag;

	if (rbuf_tlv(&rd, &tag, &a6) != 0 || tag != 0xA6 ||
	    rbuf_left(&rd) != 0)
		return -1;
	if (rbuf_tlv(&a6, &tag, &pk) != 0 || tag != PGP_DO_PUBKEY ||
	    rbuf_left(&a6) != 0)
		return -1;
	if (rbuf_tlv(&pk, &tag, &point) != 0 || tag != 0x86 ||
	    rbuf_left(&pk) != 0)
		return -1;
	*pt = point.p;
	*pt_len = point.len;
	return 0;
}

static unsigned decipher_key(struct pgp *p, const struct apdu *cmd,
			     struct wbuf *r)
{
	struct pgp_key k;
	uint8_t out[CRYPTO_RSA_MAX];
	size_t out_len = sizeof(out);
	const uint8_t *pt = NULL;
	size_t pt_len = 0;
	unsigned sw;
	int err;

	sw = load(p, PGP_DEC, &k);
	if (sw != SW_OK)
		return sw;
	if (k.algo.id == PGP_ALG_RSA) {
		if (cmd->data[0] != 0x00 || cmd->lc - 1 != k.rsa.n_len)
			sw = cmd->data[0] != 0x00 ? SW_WRONG_DATA
						  : SW_WRONG_LENGTH;
	} else if (ecdh_point(cmd->data, cmd->lc, &pt, &pt_len) != 0) {
		sw = SW_WRONG_DATA;
	}
	if (sw == SW_OK)
		sw = touch(p, PGP_DEC);
	if (sw != SW_OK)
		goto out;
	if (k.algo.id == PGP_ALG_RSA)
		err = crypto_rsa_prepared_decrypt_pkcs1(
			rsa_of(p, PGP_DEC, &k), cmd->data + 1, cmd->lc - 1,
			out, &out_len);
	else
		err = crypto_pk_ecdh(k.algo.curve, k.ec_priv, k.ec_priv_len,
				     pt, pt_len, out, &out_len);
	if (err != 0) {
		sw = SW_WRONG_DATA;
		goto out;
	}
	wbuf_put(r, out, out_len);
out:
	pgp_key_wipe(&k);
	crypto_wipe(out, sizeof(out));
	return sw;
}

static unsigned decipher(struct pgp *p, const struct apdu *cmd,
			 struct wbuf *r)
{
	unsigned sw;

	if (!p->pw1_other)
		return SW_SECURITY_STATUS;
	if (cmd->lc < 1)
		return SW_WRONG_LENGTH;
	if (cmd->data[0] == 0x02) {
		sw = touch(p, PGP_DEC);
		if (sw != SW_OK)
			return sw;
		return aes(p, 0, cmd->data + 1, cmd->lc - 1, r);
	}
	return decipher_key(p, cmd, r);
}

static unsigned encipher(struct pgp *p, const struct apdu *cmd,
			 struct wbuf *r)
{
	if (!p->pw1_other)
		return SW_SECURITY_STATUS;
	return aes(p, 1, cmd->data, cmd->lc, r);
}

unsigned pgp_pso(struct pgp *p, const struct apdu *cmd, struct wbuf *r)
{
	switch (cmd->p1 << 8 | cmd->p2) {
	case 0x9E9A:
		return compute_signature(p, cmd, r);
	case 0x8086:
		return decipher(p, cmd, r);
	case 0x8680:
		return encipher(p, cmd, r);
	default:
		return SW_WRONG_P1P2;
	}
}

unsigned pgp_internal_auth(struct pgp *p, const struct apdu *cmd,
			   struct wbuf *r)
{
	if (cmd->p1 != 0x00 || cmd->p2 != 0x00)
		return SW_WRONG_P1P2;
	if (!p->pw1_other)
		return SW_SECURITY_STATUS;
	return sign(p, PGP_AUT, cmd, r);
}

unsigned pgp_get_challenge(struct pgp *p, const struct apdu *cmd,
			   struct wbuf *r)
{
	(void)p;
	if (cmd->p1 != 0x00 || cmd->p2 != 0x00)
		return SW_WRONG_P1P2;
	if (cmd->lc != 0 || !cmd->le_present || cmd->ne == 0 ||
	    cmd->ne > PGP_CHALLENGE_MAX)
		return SW_WRONG_LENGTH;
	if (wbuf_room(r) < cmd->ne ||
	    crypto_random(r->p + r->len, cmd->ne) != 0)
		return SW_UNKNOWN;
	r->len += cmd->ne;
	return SW_OK;
}
