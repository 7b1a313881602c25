/* Algorithm attributes (DOs C1-C3 and FA) and the persisted form of the
 * three private keys. */
#include <string.h>

#include "apdu/sw.h"
#include "applets/openpgp/pgp_priv.h"
#include "services/crypto.h"

const uint8_t pgp_default_attr[6] = { PGP_ALG_RSA, 0x08, 0x00,
				      0x00, 0x20, PGP_RSA_STD };

static const enum crypto_pk_curve weierstrass[] = {
	PK_P256, PK_P384, PK_P521, PK_BP256, PK_BP384, PK_BP512,
	PK_SECP256K1,
};
#define N_WEIERSTRASS (sizeof(weierstrass) / sizeof(weierstrass[0]))

static const unsigned rsa_sizes[] = { 2048, 3072, 4096 };

static bool curve_fits(enum pgp_slot slot, uint8_t id,
		       enum crypto_pk_curve c)
{
	bool ecx = c == PK_ED25519 || c == PK_X25519;

	switch (id) {
	case PGP_ALG_ECDH:
		return slot == PGP_DEC && (!ecx || c == PK_X25519);
	case PGP_ALG_ECDSA:
		return slot != PGP_DEC && !ecx;
	case PGP_ALG_EDDSA:
		return slot != PGP_DEC && c == PK_ED25519;
	default:
		return false;
	}
}

static int curve_by_oid(const uint8_t *oid, size_t len,
			enum crypto_pk_curve *out)
{
	for (int c = PK_P256; c <= PK_X25519; c++) {
		size_t n = 0;
		const uint8_t *o = crypto_pk_curve_oid(c, &n);

		if (o != NULL && n == len && memcmp(o, oid, n) == 0) {
			*out = c;
			return 0;
		}
	}
	return -1;
}

int pgp_algo_parse(enum pgp_slot slot, const uint8_t *attr, size_t len,
		   struct pgp_algo *out)
{
	memset(out, 0, sizeof(*out));
	if (len < 2)
		return -1;
	out->id = attr[0];
	if (attr[0] == PGP_ALG_RSA) {
		bool size_ok = false;

		if (len != 5 && len != 6)
			return -1;
		out->rsa_bits = (unsigned)attr[1] << 8 | attr[2];
		out->rsa_e_bits = (unsigned)attr[3] << 8 | attr[4];
		out->rsa_format = len == 6 ? attr[5] : PGP_RSA_STD;
		for (size_t i = 0; i < sizeof(rsa_sizes) / sizeof(*rsa_sizes);
		     i++)
			size_ok |= out->rsa_bits == rsa_sizes[i];
		if (!size_ok || out->rsa_e_bits < 17 || out->rsa_e_bits > 32 ||
		    out->rsa_format > PGP_RSA_CRT_N)
			return -1;
		return 0;
	}
	if (attr[0] != PGP_ALG_ECDH && attr[0] != PGP_ALG_ECDSA &&
	    attr[0] != PGP_ALG_EDDSA)
		return -1;
	/* OID, then an optional import-format byte FF (public key too). */
	len--;
	attr++;
	if (attr[len - 1] == 0xFF) {
		out->with_pub = true;
		len--;
	}
	if (curve_by_oid(attr, len, &out->curve) != 0 ||
	    !curve_fits(slot, out->id, out->curve))
		return -1;
	return 0;
}

int pgp_algo_get(struct pgp *p, enum pgp_slot slot, struct pgp_algo *out)
{
	uint8_t attr[PGP_ATTR_MAX];
	size_t len = 0;
	int err = pgp_get_do(p, (uint16_t)(PGP_DO_ATTR_SIG + slot), attr,
			     sizeof(attr), &len);

	if (err == STORE_NOT_FOUND) {
		memcpy(attr, pgp_default_attr, sizeof(pgp_default_attr));
		len = sizeof(pgp_default_attr);
	} else if (err != STORE_OK) {
		return err;
	}
	return pgp_algo_parse(slot, attr, len, out) == 0 ? STORE_OK
							  : STORE_CORRUPT;
}

static void info_curve(struct wbuf *w, uint16_t tag, uint8_t id,
		       enum crypto_pk_curve c)
{
	uint8_t attr[1 + CRYPTO_PK_OID_MAX];
	size_t n = 0;
	const uint8_t *oid = crypto_pk_curve_oid(c, &n);

	attr[0] = id;
	memcpy(attr + 1, oid, n);
	wbuf_tlv(w, tag, attr, n + 1);
}

void pgp_algo_info(struct wbuf *w)
{
	for (int slot = PGP_SIG; slot < PGP_SLOTS; slot++) {
		uint16_t tag = (uint16_t)(PGP_DO_ATTR_SIG + slot);

		for (size_t i = 0; i < sizeof(rsa_sizes) / sizeof(*rsa_sizes);
		     i++) {
			uint8_t attr[6];

			memcpy(attr, pgp_default_attr, sizeof(attr));
			attr[1] = (uint8_t)(rsa_sizes[i] >> 8);
			attr[2] = (uint8_t)rsa_sizes[i];
			wbuf_tlv(w, tag, attr, sizeof(attr));
		}
		for (size_t i = 0; i < N_WEIERSTRASS; i++)
			info_curve(w, tag,
				   slot == PGP_DEC ? PGP_ALG_ECDH
						   : PGP_ALG_ECDSA,
				   weierstrass[i]);
		if (slot == PGP_DEC)
			info_curve(w, tag, PGP_ALG_ECDH, PK_X25519);
		else
			info_curve(w, tag, PGP_ALG_EDDSA, PK_ED25519);
	}
}

/* ---- Persisted keys ----------------------------------------------- */

static const char *const key_rec[PGP_SLOTS] = { "key1", "key2", "key3" };

#define KEY_REC_MAX (2 + 7 * (2 + CRYPTO_RSA_MAX) + 2 * (2 + 140))

static void put_field(struct wbuf *w, const uint8_t *v, size_t len)
{
	wbuf_u16be(w, (uint16_t)len);
	wbuf_put(w, v, len);
}

static int get_field(struct rbuf *r, uint8_t *v, size_t cap, size_t *len)
{
	uint16_t n;
	const uint8_t *src;

	if (rbuf_u16be(r, &n) != 0 || n > cap || rbuf_bytes(r, n, &src) != 0)
		return -1;
	memcpy(v, src, n);
	*len = n;
	return 0;
}

void pgp_key_wipe(struct pgp_key *k)
{
	crypto_wipe(k, sizeof(*k));
}

int pgp_key_save(struct pgp *p, enum pgp_slot slot, const struct pgp_key *k)
{
	uint8_t buf[KEY_REC_MAX];
	struct wbuf w = wbuf_init(buf, sizeof(buf));
	const struct crypto_rsa_key *r = &k->rsa;
	int err;

	wbuf_u8(&w, k->status);
	wbuf_u8(&w, k->algo.id);
	if (k->algo.id == PGP_ALG_RSA) {
		put_field(&w, r->n, r->n_len);
		put_field(&w, r->e, r->e_len);
		put_field(&w, r->p, r->p_len);
		put_field(&w, r->q, r->q_len);
		put_field(&w, r->dp, r->dp_len);
		put_field(&w, r->dq, r->dq_len);
		put_field(&w, r->qinv, r->qinv_len);
	} else {
		wbuf_u8(&w, (uint8_t)k->algo.curve);
		put_field(&w, k->ec_priv, k->ec_priv_len);
		put_field(&w, k->ec_pub, k->ec_pub_len);
	}
	err = w.overflow ? STORE_INVALID
			 : pgp_put_rec(p, key_rec[slot], buf, w.len);
	crypto_wipe(buf, sizeof(buf));
	return err;
}

/* Loads the slot's key and its current attributes; STORE_NOT_FOUND when
 * the slot is empty, STORE_CORRUPT when the record does not match. */
int pgp_key_load(struct pgp *p, enum pgp_slot slot, struct pgp_key *k)
{
	uint8_t buf[KEY_REC_MAX];
	size_t len = 0;
	struct rbuf r;
	struct crypto_rsa_key *rsa = &k->rsa;
	uint8_t status = 0, id = 0, curve = 0;
	int err, bad = 0;

	memset(k, 0, sizeof(*k));
	err = pgp_algo_get(p, slot, &k->algo);
	if (err == STORE_OK)
		err = pgp_get_rec(p, key_rec[slot], buf, sizeof(buf), &len);
	if (err != STORE_OK)
		goto out;
	r = rbuf_init(buf, len);
	bad |= rbuf_u8(&r, &status) | rbuf_u8(&r, &id);
	if (bad != 0 || id != k->algo.id) {
		err = STORE_CORRUPT;
		goto out;
	}
	k->status = status;
	if (id == PGP_ALG_RSA) {
		bad |= get_field(&r, rsa->n, sizeof(rsa->n), &rsa->n_len);
		bad |= get_field(&r, rsa->e, sizeof(rsa->e), &rsa->e_len);
		bad |= get_field(&r, rsa->p, sizeof(rsa->p), &rsa->p_len);
		bad |= get_field(&r, rsa->q, sizeof(rsa->q), &rsa->q_len);
		bad |= get_field(&r, rsa->dp, sizeof(rsa->dp), &rsa->dp_len);
		bad |= get_field(&r, rsa->dq, sizeof(rsa->dq), &rsa->dq_len);
		bad |= get_field(&r, rsa->qinv, sizeof(rsa->qinv),
				 &rsa->qinv_len);
		bad |= rsa->n_len * 8 != k->algo.rsa_bits;
	} else {
		bad |= rbuf_u8(&r, &curve);
		bad |= curve != k->algo.curve;
		bad |= get_field(&r, k->ec_priv, sizeof(k->ec_priv),
				 &k->ec_priv_len);
		bad |= get_field(&r, k->ec_pub, sizeof(k->ec_pub),
				 &k->ec_pub_len);
	}
	if (bad != 0 || rbuf_left(&r) != 0)
		err = STORE_CORRUPT;
out:
	crypto_wipe(buf, sizeof(buf));
	if (err != STORE_OK)
		pgp_key_wipe(k);
	return err;
}

uint8_t pgp_key_status(struct pgp *p, enum pgp_slot slot)
{
	uint8_t head[2];
	uint8_t *val = NULL;
	size_t len = 0;
	const char *name = key_rec[slot];

	if (store_get(p->st, PGP_NS, name, strlen(name), &val, &len) !=
	    STORE_OK)
		return PGP_KEY_ABSENT;
	head[0] = len >= 2 ? val[0] : PGP_KEY_ABSENT;
	store_free_value(val, len);
	return head[0];
}

void pgp_key_public(const struct pgp_key *k, struct wbuf *w)
{
	uint8_t inner[CRYPTO_RSA_MAX + 32];
	struct wbuf in = wbuf_init(inner, sizeof(inner));

	if (k->algo.id == PGP_ALG_RSA) {
		wbuf_tlv(&in, 0x81, k->rsa.n, k->rsa.n_len);
		wbuf_tlv(&in, 0x82, k->rsa.e, k->rsa.e_len);
	} else {
		wbuf_tlv(&in, 0x86, k->ec_pub, k->ec_pub_len);
	}
	if (in.overflow)
		w->overflow = true;
	else
		wbuf_tlv(w, PGP_DO_PUBKEY, inner, in.len);
}

void pgp_key_forget(struct pgp *p, int slot)
{
	for (int i = PGP_SIG; i < PGP_SLOTS; i++) {
		if (slot >= 0 && i != slot)
			continue;
		crypto_rsa_prepared_free(p->rsa[i]);
		p->rsa[i] = NULL;
	}
}

int pgp_key_delete(struct pgp *p, enum pgp_slot slot)
{
	int err = pgp_del_rec(p, key_rec[slot]);

	pgp_key_forget(p, (int)slot);
	if (err == STORE_OK)
		err = pgp_del_do(p, (uint16_t)(PGP_DO_FPR_SIG + slot));
	if (err == STORE_OK)
		err = pgp_del_do(p, (uint16_t)(PGP_DO_DATE_SIG + slot));
	return err;
}

/* In one transaction: write new attributes (attr may be NULL), delete
 * the slot's key, fingerprint and date, store k (may be NULL) and, for
 * the signature key, restart the signature counter. */
unsigned pgp_key_replace(struct pgp *p, enum pgp_slot slot,
			 const uint8_t *attr, size_t attr_len,
			 const struct pgp_key *k)
{
	int err = store_begin(p->st);

	if (err != STORE_OK)
		return SW_MEMORY_FAILURE;
	if (attr != NULL)
		err = pgp_put_do(p, (uint16_t)(PGP_DO_ATTR_SIG + slot), attr,
				 attr_len);
	if (err == STORE_OK)
		err = pgp_key_delete(p, slot);
	if (err == STORE_OK && k != NULL)
		err = pgp_key_save(p, slot, k);
	if (err == STORE_OK && slot == PGP_SIG)
		err = pgp_counter_reset(p);
	if (err != STORE_OK) {
		store_rollback(p->st);
		return SW_MEMORY_FAILURE;
	}
	return store_commit(p->st) == STORE_OK ? SW_OK : SW_MEMORY_FAILURE;
}
