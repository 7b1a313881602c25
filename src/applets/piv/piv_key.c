/* The PIV key slots: the persisted key records ("key.xx"), GENERATE
 * ASYMMETRIC KEY PAIR, IMPORT KEY and MOVE KEY (Yubico's extensions),
 * a slot's GET METADATA body and the cache of prepared RSA keys. */
#include <stdio.h>
#include <string.h>

#include "apdu/sw.h"
#include "applets/piv/piv_priv.h"
#include "services/crypto.h"

/* ---- Algorithms and slots ----------------------------------------- */

struct alg_info {
	uint8_t alg;
	unsigned rsa_bits;          /* 0 for a curve */
	enum crypto_pk_curve curve; /* 0 for RSA */
};

static const struct alg_info algs[] = {
	{ PIV_ALG_RSA1024, 1024, 0 },
	{ PIV_ALG_RSA2048, 2048, 0 },
	{ PIV_ALG_RSA3072, 3072, 0 },
	{ PIV_ALG_RSA4096, 4096, 0 },
	{ PIV_ALG_P256, 0, PK_P256 },
	{ PIV_ALG_P384, 0, PK_P384 },
	{ PIV_ALG_ED25519, 0, PK_ED25519 },
	{ PIV_ALG_X25519, 0, PK_X25519 },
};

static const struct alg_info *alg_get(uint8_t alg)
{
	for (size_t i = 0; i < sizeof(algs) / sizeof(algs[0]); i++)
		if (algs[i].alg == alg)
			return &algs[i];
	return NULL;
}

bool piv_alg_is_rsa(uint8_t alg)
{
	const struct alg_info *a = alg_get(alg);

	return a != NULL && a->rsa_bits != 0;
}

enum crypto_pk_curve piv_alg_curve(uint8_t alg)
{
	const struct alg_info *a = alg_get(alg);

	return a != NULL ? a->curve : (enum crypto_pk_curve)0;
}

/* Bytes of a curve's public key: 04||X||Y, or the raw 32-byte key. */
static size_t curve_pub_len(enum crypto_pk_curve curve)
{
	size_t fs = crypto_pk_field_size(curve);

	if (curve == PK_ED25519 || curve == PK_X25519)
		return fs;
	return fs != 0 ? 1 + 2 * fs : 0;
}

/* The default PIN policy of a slot. */
static uint8_t slot_default_pin_policy(uint8_t slot)
{
	switch (slot) {
	case PIV_SLOT_SIGN:
		return PIV_PIN_ALWAYS;
	case PIV_SLOT_CAUTH:
	case PIV_SLOT_ATTEST:
		return PIV_PIN_NEVER;
	default: /* 9A, 9D and the retired slots */
		return PIV_PIN_ONCE;
	}
}

/* ---- Records -------------------------------------------------------- */

/* version | alg | PIN policy | touch policy | origin, then for RSA
 * n, e, p, q, dP, dQ, qInv and for a curve the private and public key,
 * each as a 2-byte length and its bytes. */
#define KEY_REC_VERSION 1
#define KEY_REC_HEAD 5
#define KEY_REC_MAX                                                     \
	(KEY_REC_HEAD + 7 * 2 + CRYPTO_RSA_MAX + CRYPTO_RSA_E_MAX +     \
	 5 * CRYPTO_RSA_HALF_MAX)
#define KEY_REC_NAME 8 /* "key.xx" */

static int rec_name(uint8_t slot, char name[KEY_REC_NAME])
{
	if (piv_slot_index(slot) < 0)
		return -1;
	snprintf(name, KEY_REC_NAME, "key.%02x", slot);
	return 0;
}

static void put_field(struct wbuf *w, const uint8_t *v, size_t len)
{
	if (len > UINT16_MAX) {
		w->overflow = true;
		return;
	}
	wbuf_u16be(w, (uint16_t)len);
	wbuf_put(w, v, len);
}

/* A field of 1..cap bytes. */
static int get_field(struct rbuf *r, uint8_t *v, size_t cap, size_t *len)
{
	uint16_t n;
	const uint8_t *src;

	if (rbuf_u16be(r, &n) != 0 || n == 0 || n > cap ||
	    rbuf_bytes(r, n, &src) != 0)
		return -1;
	memcpy(v, src, n);
	*len = n;
	return 0;
}

void piv_key_wipe(struct piv_key *k)
{
	crypto_wipe(k, sizeof(*k));
}

static bool policies_ok(const struct piv_key *k)
{
	return k->pin_policy >= PIV_PIN_NEVER &&
	       k->pin_policy <= PIV_PIN_ALWAYS &&
	       k->touch_policy >= PIV_TOUCH_NEVER &&
	       k->touch_policy <= PIV_TOUCH_CACHED &&
	       (k->origin == PIV_ORIGIN_GENERATED ||
		k->origin == PIV_ORIGIN_IMPORTED);
}

static int parse_rsa(struct rbuf *r, const struct alg_info *a,
		     struct crypto_rsa_key *rsa)
{
	int bad = 0;

	bad |= get_field(r, rsa->n, sizeof(rsa->n), &rsa->n_len);
	bad |= get_field(r, rsa->e, sizeof(rsa->e), &rsa->e_len);
	bad |= get_field(r, rsa->p, sizeof(rsa->p), &rsa->p_len);
	bad |= get_field(r, rsa->q, sizeof(rsa->q), &rsa->q_len);
	bad |= get_field(r, rsa->dp, sizeof(rsa->dp), &rsa->dp_len);
	bad |= get_field(r, rsa->dq, sizeof(rsa->dq), &rsa->dq_len);
	bad |= get_field(r, rsa->qinv, sizeof(rsa->qinv), &rsa->qinv_len);
	if (bad != 0 || rsa->n_len * 8 != a->rsa_bits)
		return -1;
	return 0;
}

static int parse_ec(struct rbuf *r, const struct alg_info *a,
		    struct piv_key *k)
{
	if (get_field(r, k->ec_priv, sizeof(k->ec_priv), &k->ec_priv_len) !=
		    0 ||
	    get_field(r, k->ec_pub, sizeof(k->ec_pub), &k->ec_pub_len) != 0)
		return -1;
	if (k->ec_priv_len != crypto_pk_field_size(a->curve) ||
	    k->ec_pub_len != curve_pub_len(a->curve))
		return -1;
	return 0;
}

static int key_parse(const uint8_t *buf, size_t len, struct piv_key *k)
{
	struct rbuf r = rbuf_init(buf, len);
	const struct alg_info *a;
	uint8_t version = 0;
	int bad = 0;

	bad |= rbuf_u8(&r, &version);
	bad |= rbuf_u8(&r, &k->alg);
	bad |= rbuf_u8(&r, &k->pin_policy);
	bad |= rbuf_u8(&r, &k->touch_policy);
	bad |= rbuf_u8(&r, &k->origin);
	if (bad != 0 || version != KEY_REC_VERSION || !policies_ok(k) ||
	    (a = alg_get(k->alg)) == NULL)
		return -1;
	if (a->rsa_bits != 0)
		bad = parse_rsa(&r, a, &k->rsa);
	else
		bad = parse_ec(&r, a, k);
	return bad == 0 && rbuf_left(&r) == 0 ? 0 : -1;
}

int piv_key_load(struct piv *p, uint8_t slot, struct piv_key *k)
{
	uint8_t buf[KEY_REC_MAX];
	char name[KEY_REC_NAME];
	size_t len = 0;
	int err = STORE_INVALID;

	memset(k, 0, sizeof(*k));
	if (rec_name(slot, name) == 0)
		err = piv_get_rec(p, name, buf, sizeof(buf), &len);
	if (err == STORE_OK && key_parse(buf, len, k) != 0)
		err = STORE_CORRUPT;
	crypto_wipe(buf, sizeof(buf));
	if (err != STORE_OK)
		piv_key_wipe(k);
	return err;
}

int piv_key_save(struct piv *p, uint8_t slot, const struct piv_key *k)
{
	uint8_t buf[KEY_REC_MAX];
	struct wbuf w = wbuf_init(buf, sizeof(buf));
	const struct crypto_rsa_key *rsa = &k->rsa;
	char name[KEY_REC_NAME];
	int err = STORE_INVALID;

	if (rec_name(slot, name) != 0 || alg_get(k->alg) == NULL ||
	    !policies_ok(k))
		return STORE_INVALID;
	wbuf_u8(&w, KEY_REC_VERSION);
	wbuf_u8(&w, k->alg);
	wbuf_u8(&w, k->pin_policy);
	wbuf_u8(&w, k->touch_policy);
	wbuf_u8(&w, k->origin);
	if (piv_alg_is_rsa(k->alg)) {
		put_field(&w, rsa->n, rsa->n_len);
		put_field(&w, rsa->e, rsa->e_len);
		put_field(&w, rsa->p, rsa->p_len);
		put_field(&w, rsa->q, rsa->q_len);
		put_field(&w, rsa->dp, rsa->dp_len);
		put_field(&w, rsa->dq, rsa->dq_len);
		put_field(&w, rsa->qinv, rsa->qinv_len);
	} else {
		put_field(&w, k->ec_priv, k->ec_priv_len);
		put_field(&w, k->ec_pub, k->ec_pub_len);
	}
	if (!w.overflow)
		err = piv_put_rec(p, name, buf, w.len);
	piv_key_forget(p, slot);
	crypto_wipe(buf, sizeof(buf));
	return err;
}

int piv_key_delete(struct piv *p, uint8_t slot)
{
	char name[KEY_REC_NAME];
	int err = STORE_INVALID;

	if (rec_name(slot, name) == 0)
		err = piv_del_rec(p, name);
	piv_key_forget(p, slot);
	return err;
}

/* ---- Public key ------------------------------------------------------ */

void piv_key_public(const struct piv_key *k, struct wbuf *w)
{
	if (piv_alg_is_rsa(k->alg)) {
		wbuf_tlv(w, 0x81, k->rsa.n, k->rsa.n_len);
		wbuf_tlv(w, 0x82, k->rsa.e, k->rsa.e_len);
	} else {
		wbuf_tlv(w, 0x86, k->ec_pub, k->ec_pub_len);
	}
}

int piv_key_spki(const struct piv_key *k, uint8_t **der, size_t *len)
{
	if (piv_alg_is_rsa(k->alg))
		return crypto_rsa_spki(k->rsa.n, k->rsa.n_len, k->rsa.e,
				       k->rsa.e_len, der, len);
	return crypto_pk_ec_spki(piv_alg_curve(k->alg), k->ec_pub,
				 k->ec_pub_len, der, len);
}

/* 7F49 { public key TLVs } */
static void put_pubkey(const struct piv_key *k, struct wbuf *r)
{
	uint8_t inner[CRYPTO_RSA_MAX + CRYPTO_RSA_E_MAX + 16];
	struct wbuf in = wbuf_init(inner, sizeof(inner));

	piv_key_public(k, &in);
	if (in.overflow)
		r->overflow = true;
	else
		wbuf_tlv(r, PIV_TAG_PUBKEY, inner, in.len);
}

/* ---- Prepared RSA keys ------------------------------------------------ */

void piv_key_forget(struct piv *p, uint8_t slot)
{
	int only = slot != 0 ? piv_slot_index(slot) : -1;

	if (slot != 0 && only < 0)
		return;
	for (int i = 0; i < PIV_SLOTS; i++) {
		if (only >= 0 && i != only)
			continue;
		crypto_rsa_prepared_free(p->rsa[i]);
		p->rsa[i] = NULL;
	}
}

struct crypto_rsa_prepared *piv_key_prepared(struct piv *p, uint8_t slot,
					     const struct piv_key *k)
{
	int i = piv_slot_index(slot);

	if (i < 0 || !piv_alg_is_rsa(k->alg))
		return NULL;
	if (!crypto_rsa_prepared_is(p->rsa[i], &k->rsa)) {
		crypto_rsa_prepared_free(p->rsa[i]);
		p->rsa[i] = crypto_rsa_prepare(&k->rsa);
	}
	return p->rsa[i];
}

/* ---- Writing a slot ----------------------------------------------------- */

/* Store k in slot, replacing its key, in one transaction. */
static unsigned slot_write(struct piv *p, uint8_t slot,
			   const struct piv_key *k)
{
	int err = store_begin(p->st);

	if (err != STORE_OK)
		return SW_MEMORY_FAILURE;
	err = piv_key_save(p, slot, k);
	if (err != STORE_OK) {
		store_rollback(p->st);
		return SW_MEMORY_FAILURE;
	}
	return store_commit(p->st) == STORE_OK ? SW_OK : SW_MEMORY_FAILURE;
}

/* AA and AB of GENERATE and IMPORT: 0 means the slot's default. */
struct policy_req {
	uint8_t pin;
	uint8_t touch;
	bool seen_pin, seen_touch;
};

/* 1 when tag was a policy (consumed), 0 when it is not one, -1 bad. */
static int policy_tlv(uint16_t tag, struct rbuf *v, struct policy_req *pol)
{
	uint8_t b;

	if (tag != PIV_TAG_PIN_POLICY && tag != PIV_TAG_TOUCH_POLICY)
		return 0;
	if (rbuf_left(v) != 1 || rbuf_u8(v, &b) != 0)
		return -1;
	if (tag == PIV_TAG_PIN_POLICY) {
		if (pol->seen_pin || b > PIV_PIN_ALWAYS)
			return -1;
		pol->pin = b;
		pol->seen_pin = true;
	} else {
		if (pol->seen_touch || b > PIV_TOUCH_CACHED)
			return -1;
		pol->touch = b;
		pol->seen_touch = true;
	}
	return 1;
}

static void policy_apply(const struct policy_req *pol, uint8_t slot,
			 struct piv_key *k)
{
	/* ATTEST asks for neither PIN nor touch: F9 says so. */
	if (slot == PIV_SLOT_ATTEST) {
		k->pin_policy = PIV_PIN_NEVER;
		k->touch_policy = PIV_TOUCH_NEVER;
		return;
	}
	k->pin_policy = pol->pin != PIV_PIN_DEFAULT
				? pol->pin
				: slot_default_pin_policy(slot);
	k->touch_policy = pol->touch != PIV_TOUCH_DEFAULT ? pol->touch
							  : PIV_TOUCH_NEVER;
}

/* ---- GENERATE ASYMMETRIC KEY PAIR --------------------------------------- */

/* AC { 80 01 alg [AA 01 pin] [AB 01 touch] }, any order, once each. */
static int gen_parse(const uint8_t *data, size_t len, uint8_t slot,
		     struct piv_key *k)
{
	struct rbuf r = rbuf_init(data, len), body, v;
	struct policy_req pol = { 0 };
	bool seen_alg = false;
	uint16_t tag;
	int pr;

	if (rbuf_tlv(&r, &tag, &body) != 0 || tag != PIV_TAG_GEN_TEMPLATE ||
	    rbuf_left(&r) != 0)
		return -1;
	while (rbuf_left(&body) > 0) {
		if (rbuf_tlv(&body, &tag, &v) != 0)
			return -1;
		pr = policy_tlv(tag, &v, &pol);
		if (pr < 0)
			return -1;
		if (pr > 0)
			continue;
		if (tag != PIV_TAG_GEN_ALG || seen_alg || rbuf_left(&v) != 1 ||
		    rbuf_u8(&v, &k->alg) != 0 || alg_get(k->alg) == NULL)
			return -1;
		seen_alg = true;
	}
	if (!seen_alg)
		return -1;
	policy_apply(&pol, slot, k);
	return 0;
}

static int key_generate(struct piv_key *k)
{
	const struct alg_info *a = alg_get(k->alg);

	if (a == NULL)
		return -1;
	if (a->rsa_bits != 0)
		return crypto_rsa_generate(a->rsa_bits, &k->rsa);
	k->ec_priv_len = sizeof(k->ec_priv);
	k->ec_pub_len = sizeof(k->ec_pub);
	return crypto_pk_ec_generate(a->curve, k->ec_priv, &k->ec_priv_len,
				     k->ec_pub, &k->ec_pub_len);
}

unsigned piv_generate(struct piv *p, const struct apdu *cmd, struct wbuf *r)
{
	uint8_t slot = cmd->p2;
	struct piv_key k;
	unsigned sw;

	if (cmd->p1 != 0x00 || slot == PIV_SLOT_ATTEST ||
	    piv_slot_index(slot) < 0)
		return SW_WRONG_P1P2;
	if (!p->mgmt_ok)
		return SW_SECURITY_STATUS;
	memset(&k, 0, sizeof(k));
	if (gen_parse(cmd->data, cmd->lc, slot, &k) != 0)
		return SW_WRONG_DATA;
	k.origin = PIV_ORIGIN_GENERATED;
	if (key_generate(&k) != 0)
		sw = SW_UNKNOWN;
	else
		sw = slot_write(p, slot, &k);
	if (sw == SW_OK)
		put_pubkey(&k, r);
	piv_key_wipe(&k);
	return sw;
}

/* ---- IMPORT KEY --------------------------------------------------------- */

/* Private-key tags 01..08: RSA p, q, dP, dQ, qInv; EC scalar; Ed25519
 * seed; X25519 scalar. */
#define IMP_TAGS 8
#define IMP_MASK_RSA 0x1Fu
#define IMP_MASK_EC (1u << 5)
#define IMP_MASK_ED25519 (1u << 6)
#define IMP_MASK_X25519 (1u << 7)

struct import_req {
	const uint8_t *v[IMP_TAGS];
	size_t len[IMP_TAGS];
	unsigned seen;
	struct policy_req pol;
};

static int import_parse(const uint8_t *data, size_t len,
			struct import_req *im)
{
	struct rbuf r = rbuf_init(data, len), v;
	uint16_t tag;
	int pr;

	memset(im, 0, sizeof(*im));
	while (rbuf_left(&r) > 0) {
		if (rbuf_tlv(&r, &tag, &v) != 0)
			return -1;
		pr = policy_tlv(tag, &v, &im->pol);
		if (pr < 0)
			return -1;
		if (pr > 0)
			continue;
		if (tag < 0x01 || tag > IMP_TAGS ||
		    (im->seen & (1u << (tag - 1))) != 0)
			return -1;
		im->seen |= 1u << (tag - 1);
		im->v[tag - 1] = rbuf_cur(&v);
		im->len[tag - 1] = rbuf_left(&v);
	}
	return 0;
}

static unsigned import_mask(enum crypto_pk_curve curve)
{
	switch (curve) {
	case PK_P256:
	case PK_P384:
		return IMP_MASK_EC;
	case PK_ED25519:
		return IMP_MASK_ED25519;
	case PK_X25519:
		return IMP_MASK_X25519;
	default:
		return IMP_MASK_RSA;
	}
}

static int import_rsa(const struct import_req *im, unsigned bits,
		      struct crypto_rsa_key *rsa)
{
	static const uint8_t e[] = { 0x01, 0x00, 0x01 };
	const uint8_t *v[5];
	size_t len[5];

	for (int i = 0; i < 5; i++) {
		v[i] = im->v[i];
		len[i] = im->len[i];
		bytes_strip_zeros(&v[i], &len[i]);
		if (len[i] == 0 || len[i] > CRYPTO_RSA_HALF_MAX)
			return -1;
	}
	if (crypto_rsa_import_crt(e, sizeof(e), v[0], len[0], v[1], len[1],
				  v[2], len[2], v[3], len[3], v[4], len[4],
				  rsa) != 0)
		return -1;
	return rsa->n_len * 8 == bits ? 0 : -1;
}

/* The private key of the field size, the public key derived from it. */
static int import_ec(const struct import_req *im, enum crypto_pk_curve curve,
		     struct piv_key *k)
{
	size_t fs = crypto_pk_field_size(curve);
	int i = 0;

	while (i < IMP_TAGS && im->v[i] == NULL)
		i++;
	if (i == IMP_TAGS || fs == 0 || im->len[i] != fs ||
	    fs > sizeof(k->ec_priv))
		return -1;
	memcpy(k->ec_priv, im->v[i], fs);
	k->ec_priv_len = fs;
	k->ec_pub_len = sizeof(k->ec_pub);
	return crypto_pk_ec_public(curve, k->ec_priv, k->ec_priv_len,
				   k->ec_pub, &k->ec_pub_len);
}

static int import_build(const struct import_req *im, uint8_t slot,
			const struct alg_info *a, struct piv_key *k)
{
	int bad;

	if (im->seen != import_mask(a->curve))
		return -1;
	k->alg = a->alg;
	k->origin = PIV_ORIGIN_IMPORTED;
	policy_apply(&im->pol, slot, k);
	if (a->rsa_bits != 0)
		bad = import_rsa(im, a->rsa_bits, &k->rsa);
	else
		bad = import_ec(im, a->curve, k);
	return bad;
}

unsigned piv_import_key(struct piv *p, const struct apdu *cmd,
			struct wbuf *r)
{
	const struct alg_info *a = alg_get(cmd->p1);
	uint8_t slot = cmd->p2;
	struct import_req im;
	struct piv_key k;
	unsigned sw;

	(void)r;
	/* The attestation key must be able to sign certificates. */
	if (a == NULL || piv_slot_index(slot) < 0 ||
	    (slot == PIV_SLOT_ATTEST && a->curve == PK_X25519))
		return SW_WRONG_P1P2;
	if (!p->mgmt_ok)
		return SW_SECURITY_STATUS;
	memset(&k, 0, sizeof(k));
	if (import_parse(cmd->data, cmd->lc, &im) != 0 ||
	    import_build(&im, slot, a, &k) != 0)
		sw = SW_WRONG_DATA;
	else
		sw = slot_write(p, slot, &k);
	piv_key_wipe(&k);
	crypto_wipe(&im, sizeof(im));
	return sw;
}

/* ---- MOVE KEY ------------------------------------------------------------- */

/* Key to slot `to`, then slot `from` emptied, in one transaction. */
static unsigned move(struct piv *p, uint8_t to, uint8_t from)
{
	struct piv_key k;
	int err = store_begin(p->st);

	if (err != STORE_OK)
		return SW_MEMORY_FAILURE;
	err = piv_key_load(p, from, &k);
	if (err == STORE_CORRUPT && to == 0xFF)
		err = STORE_OK; /* a damaged key can still be deleted */
	if (err == STORE_OK && to != 0xFF)
		err = piv_key_save(p, to, &k);
	if (err == STORE_OK)
		err = piv_key_delete(p, from);
	piv_key_wipe(&k);
	if (err != STORE_OK) {
		store_rollback(p->st);
		return err == STORE_NOT_FOUND ? SW_WRONG_DATA
					      : SW_MEMORY_FAILURE;
	}
	return store_commit(p->st) == STORE_OK ? SW_OK : SW_MEMORY_FAILURE;
}

unsigned piv_move_key(struct piv *p, const struct apdu *cmd, struct wbuf *r)
{
	uint8_t to = cmd->p1, from = cmd->p2;

	(void)r;
	if (from == PIV_SLOT_ATTEST || piv_slot_index(from) < 0)
		return SW_WRONG_P1P2;
	if (to != 0xFF && (to == PIV_SLOT_ATTEST || to == from ||
			   piv_slot_index(to) < 0))
		return SW_WRONG_P1P2;
	if (cmd->lc != 0)
		return SW_WRONG_LENGTH;
	if (!p->mgmt_ok)
		return SW_SECURITY_STATUS;
	return move(p, to, from);
}

/* ---- GET METADATA ----------------------------------------------------------- */

unsigned piv_key_metadata(struct piv *p, uint8_t slot, struct wbuf *r)
{
	uint8_t pub[CRYPTO_RSA_MAX + CRYPTO_RSA_E_MAX + 16];
	struct wbuf w = wbuf_init(pub, sizeof(pub));
	uint8_t policy[2];
	struct piv_key k;
	int err = piv_key_load(p, slot, &k);

	if (err == STORE_NOT_FOUND)
		return SW_REF_DATA_NOT_FOUND;
	if (err != STORE_OK)
		return SW_MEMORY_FAILURE;
	policy[0] = k.pin_policy;
	policy[1] = k.touch_policy;
	wbuf_tlv(r, 0x01, &k.alg, 1);
	wbuf_tlv(r, 0x02, policy, sizeof(policy));
	wbuf_tlv(r, 0x03, &k.origin, 1);
	piv_key_public(&k, &w);
	if (w.overflow)
		r->overflow = true;
	else
		wbuf_tlv(r, 0x04, pub, w.len);
	piv_key_wipe(&k);
	return SW_OK;
}
