/* The card management key (reference 9B): its record, GENERAL
 * AUTHENTICATE's mutual and external authentication with it, SET
 * MANAGEMENT KEY and its metadata. docs/PIV.md gives the exchanges. */
#include <string.h>

#include "apdu/sw.h"
#include "applets/piv/piv_priv.h"
#include "services/crypto.h"

static const char mgmt_rec[] = "mgmt";

/* The factory key: 3DES 0102030405060708, three times. */
static const uint8_t default_key[24] = {
	1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8,
};

#define MGMT_KEY_MAX 32
#define MGMT_BLOCK_MAX 16
/* Tag of the key in SET MANAGEMENT KEY's data. */
#define MGMT_TAG_KEY PIV_REF_MGMT

/* Record: alg | touch policy | key. Whether it is the factory key is
 * read from the key itself. */
struct mgmt_key {
	uint8_t alg;
	uint8_t touch;
	uint8_t key[MGMT_KEY_MAX];
};
#define MGMT_REC_MAX (2 + MGMT_KEY_MAX)

_Static_assert(sizeof(((struct piv *)0)->mgmt_expect) == MGMT_BLOCK_MAX,
	       "the pending block holds an AES block");

/* Key length of a management key algorithm, 0 for another one. */
static size_t alg_key_len(uint8_t alg)
{
	switch (alg) {
	case PIV_ALG_3DES:
	case PIV_ALG_AES192:
		return 24;
	case PIV_ALG_AES128:
		return 16;
	case PIV_ALG_AES256:
		return 32;
	default:
		return 0;
	}
}

static size_t alg_block_len(uint8_t alg)
{
	return alg == PIV_ALG_3DES ? 8 : 16;
}

static enum crypto_block alg_cipher(uint8_t alg)
{
	switch (alg) {
	case PIV_ALG_AES128:
		return CRYPTO_BLOCK_AES128;
	case PIV_ALG_AES192:
		return CRYPTO_BLOCK_AES192;
	case PIV_ALG_AES256:
		return CRYPTO_BLOCK_AES256;
	default:
		return CRYPTO_BLOCK_3DES;
	}
}

static int mgmt_load(struct piv *p, struct mgmt_key *k)
{
	uint8_t buf[MGMT_REC_MAX];
	size_t len = 0, key_len;
	int err = piv_get_rec(p, mgmt_rec, buf, sizeof(buf), &len);

	memset(k, 0, sizeof(*k));
	if (err == STORE_OK) {
		key_len = len >= 2 ? alg_key_len(buf[0]) : 0;
		if (key_len == 0 || len != 2 + key_len ||
		    (buf[1] != PIV_TOUCH_NEVER && buf[1] != PIV_TOUCH_ALWAYS))
			err = STORE_CORRUPT;
	}
	if (err == STORE_OK) {
		k->alg = buf[0];
		k->touch = buf[1];
		memcpy(k->key, buf + 2, len - 2);
	}
	crypto_wipe(buf, sizeof(buf));
	return err;
}

static int mgmt_save(struct piv *p, uint8_t alg, uint8_t touch,
		     const uint8_t *key)
{
	uint8_t buf[MGMT_REC_MAX];
	size_t key_len = alg_key_len(alg);
	int err;

	if (key_len == 0)
		return STORE_INVALID;
	buf[0] = alg;
	buf[1] = touch;
	memcpy(buf + 2, key, key_len);
	err = piv_put_rec(p, mgmt_rec, buf, 2 + key_len);
	crypto_wipe(buf, sizeof(buf));
	return err;
}

/* One block under k (ECB). */
static int mgmt_block(const struct mgmt_key *k, int encrypt,
		      const uint8_t *in, uint8_t *out)
{
	return crypto_block_ecb(alg_cipher(k->alg), encrypt, k->key, in,
				alg_block_len(k->alg), out);
}

/* ---- GENERAL AUTHENTICATE 9B ------------------------------------- */

/* First step: remember a random block and send it, encrypted (mutual,
 * 80) or plain (external, 81). */
static unsigned auth_start(struct piv *p, const struct mgmt_key *k,
			   uint8_t tag, struct wbuf *r)
{
	size_t n = alg_block_len(k->alg);
	uint8_t out[MGMT_BLOCK_MAX];
	unsigned sw = SW_UNKNOWN;

	if (crypto_random(p->mgmt_expect, n) != 0)
		goto out;
	if (tag == PIV_TAG_WITNESS) {
		if (mgmt_block(k, 1, p->mgmt_expect, out) != 0)
			goto out;
		p->mgmt_step = 1;
	} else {
		memcpy(out, p->mgmt_expect, n);
		p->mgmt_step = 2;
	}
	p->mgmt_alg = k->alg;
	p->mgmt_expect_len = n;
	piv_dyn_auth_put(r, tag, out, n);
	sw = SW_OK;
out:
	if (sw != SW_OK)
		crypto_wipe(p->mgmt_expect, sizeof(p->mgmt_expect));
	crypto_wipe(out, sizeof(out));
	return sw;
}

/* The exchange in progress when a GENERAL AUTHENTICATE arrives: it
 * ends there (the command may start a new one). */
struct pending {
	uint8_t step;
	uint8_t alg;
	uint8_t expect[MGMT_BLOCK_MAX];
	size_t len;
};

static void take_pending(struct piv *p, struct pending *pd)
{
	pd->step = p->mgmt_step;
	pd->alg = p->mgmt_alg;
	pd->len = p->mgmt_expect_len;
	memcpy(pd->expect, p->mgmt_expect, sizeof(pd->expect));
	piv_mgmt_abandon(p);
}

/* Whether pd is the given step of an exchange under k. */
static bool pending_is(const struct pending *pd, uint8_t step,
		       const struct mgmt_key *k)
{
	return pd->step == step && pd->alg == k->alg &&
	       pd->len == alg_block_len(k->alg);
}

/* The host proved the key: grant, after a touch if the policy says. */
static unsigned auth_grant(struct piv *p, const struct mgmt_key *k)
{
	if (k->touch == PIV_TOUCH_ALWAYS &&
	    !piv_touch(p, "PIV management key"))
		return SW_CONDITIONS_NOT_SATISFIED;
	p->mgmt_ok = true;
	return SW_OK;
}

/* Mutual, second step: 80 <decrypted witness> [81 <host challenge>]. */
static unsigned auth_mutual(struct piv *p, const struct mgmt_key *k,
			    const struct pending *pd,
			    const struct piv_dyn_auth *q, struct wbuf *r)
{
	size_t n = alg_block_len(k->alg);
	uint8_t out[MGMT_BLOCK_MAX];
	bool has_challenge = (q->seen & PIV_DA_CHALLENGE) != 0;
	unsigned sw = SW_SECURITY_STATUS;

	if (q->witness.len != n || (has_challenge && q->challenge.len != n))
		return SW_WRONG_DATA;
	if (!pending_is(pd, 1, k) ||
	    crypto_memcmp(q->witness.p, pd->expect, n) != 0)
		return SW_SECURITY_STATUS;
	if (has_challenge && mgmt_block(k, 1, q->challenge.p, out) != 0)
		sw = SW_UNKNOWN;
	else
		sw = auth_grant(p, k);
	if (sw == SW_OK && has_challenge)
		piv_dyn_auth_put(r, PIV_TAG_RESPONSE, out, n);
	crypto_wipe(out, sizeof(out));
	return sw;
}

/* External, second step: 82 <our challenge encrypted>. */
static unsigned auth_external(struct piv *p, const struct mgmt_key *k,
			      const struct pending *pd,
			      const struct piv_dyn_auth *q)
{
	size_t n = alg_block_len(k->alg);
	uint8_t want[MGMT_BLOCK_MAX];
	unsigned sw = SW_SECURITY_STATUS;

	if (q->response.len != n)
		return SW_WRONG_DATA;
	if (!pending_is(pd, 2, k))
		return SW_SECURITY_STATUS;
	if (mgmt_block(k, 1, pd->expect, want) != 0)
		sw = SW_UNKNOWN;
	else if (crypto_memcmp(q->response.p, want, n) == 0)
		sw = auth_grant(p, k);
	crypto_wipe(want, sizeof(want));
	return sw;
}

static unsigned auth_step(struct piv *p, const struct mgmt_key *k,
			  const struct pending *pd, const struct piv_dyn_auth *q,
			  struct wbuf *r)
{
	unsigned s = q->seen;

	if (s == PIV_DA_WITNESS && q->witness.len == 0)
		return auth_start(p, k, PIV_TAG_WITNESS, r);
	if (s == PIV_DA_CHALLENGE && q->challenge.len == 0)
		return auth_start(p, k, PIV_TAG_CHALLENGE, r);
	if (s == PIV_DA_WITNESS || s == (PIV_DA_WITNESS | PIV_DA_CHALLENGE))
		return auth_mutual(p, k, pd, q, r);
	if (s == PIV_DA_RESPONSE)
		return auth_external(p, k, pd, q);
	return SW_WRONG_DATA;
}

unsigned piv_mgmt_auth(struct piv *p, const struct apdu *cmd,
		       struct wbuf *r)
{
	struct pending pd;
	struct mgmt_key k;
	struct piv_dyn_auth q;
	unsigned sw;

	take_pending(p, &pd);
	if (mgmt_load(p, &k) != STORE_OK)
		sw = SW_MEMORY_FAILURE;
	else if (cmd->p1 != k.alg)
		sw = SW_WRONG_P1P2;
	else if (piv_dyn_auth_parse(cmd->data, cmd->lc, &q) != 0)
		sw = SW_WRONG_DATA;
	else
		sw = auth_step(p, &k, &pd, &q, r);
	/* Any failed step (a wrong proof, a refused touch, a malformed or
	 * mismatched command) ends the authentication. */
	if (sw != SW_OK)
		p->mgmt_ok = false;
	crypto_wipe(&k, sizeof(k));
	crypto_wipe(&pd, sizeof(pd));
	return sw;
}

/* ---- SET MANAGEMENT KEY, factory key, metadata ------------------- */

/* Data: alg 9B len key. */
static int parse_new_key(const struct apdu *cmd, uint8_t *alg,
			 const uint8_t **key)
{
	struct rbuf in = rbuf_init(cmd->data, cmd->lc), v;
	uint16_t tag;

	if (rbuf_u8(&in, alg) != 0 || rbuf_tlv(&in, &tag, &v) != 0 ||
	    rbuf_left(&in) != 0 || tag != MGMT_TAG_KEY ||
	    alg_key_len(*alg) == 0 || v.len != alg_key_len(*alg))
		return -1;
	*key = v.p;
	return 0;
}

unsigned piv_set_mgmt_key(struct piv *p, const struct apdu *cmd,
			  struct wbuf *r)
{
	uint8_t alg, touch;
	const uint8_t *key;

	(void)r;
	if (cmd->p1 != 0xFF || (cmd->p2 != 0xFF && cmd->p2 != 0xFE))
		return SW_WRONG_P1P2;
	if (!p->mgmt_ok)
		return SW_SECURITY_STATUS;
	if (parse_new_key(cmd, &alg, &key) != 0)
		return SW_WRONG_DATA;
	touch = cmd->p2 == 0xFE ? PIV_TOUCH_ALWAYS : PIV_TOUCH_NEVER;
	if (mgmt_save(p, alg, touch, key) != STORE_OK)
		return SW_MEMORY_FAILURE;
	return SW_OK;
}

int piv_mgmt_default(struct piv *p)
{
	return mgmt_save(p, PIV_ALG_3DES, PIV_TOUCH_NEVER, default_key);
}

static bool key_is_default(const struct mgmt_key *k)
{
	return k->alg == PIV_ALG_3DES &&
	       crypto_memcmp(k->key, default_key, sizeof(default_key)) == 0;
}

int piv_mgmt_is_default(struct piv *p)
{
	struct mgmt_key k;
	int is_default = -1;

	if (mgmt_load(p, &k) == STORE_OK)
		is_default = key_is_default(&k);
	crypto_wipe(&k, sizeof(k));
	return is_default;
}

unsigned piv_mgmt_metadata(struct piv *p, struct wbuf *r)
{
	struct mgmt_key k;
	uint8_t policy[2] = { 0x00, 0 };
	uint8_t is_default;
	unsigned sw = SW_MEMORY_FAILURE;

	if (mgmt_load(p, &k) == STORE_OK) {
		is_default = key_is_default(&k);
		policy[1] = k.touch;
		wbuf_tlv(r, 0x01, &k.alg, 1);
		wbuf_tlv(r, 0x02, policy, sizeof(policy));
		wbuf_tlv(r, 0x05, &is_default, 1);
		sw = SW_OK;
	}
	crypto_wipe(&k, sizeof(k));
	return sw;
}
