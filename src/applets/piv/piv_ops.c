/* GENERAL AUTHENTICATE with a key slot: the raw RSA private operation,
 * ECDSA and Ed25519 signatures and ECDH, each under the key's PIN and
 * touch policies. P2 = 9B (the management key) is piv_mgmt.c's. */
#include <stdio.h>
#include <string.h>

#include "apdu/sw.h"
#include "applets/piv/piv_priv.h"
#include "services/crypto.h"

/* ---- Policies --------------------------------------------------------- */

/* Whether the PIN policy lets the key be used now (PIN always: a VERIFY
 * since the last use, spent only once the use goes ahead). */
static unsigned pin_check(const struct piv *p, uint8_t policy)
{
	switch (policy) {
	case PIV_PIN_NEVER:
		return SW_OK;
	case PIV_PIN_ONCE:
		return p->pin_ok ? SW_OK : SW_SECURITY_STATUS;
	case PIV_PIN_ALWAYS:
		return p->pin_ok && p->pin_always ? SW_OK : SW_SECURITY_STATUS;
	default:
		return SW_SECURITY_STATUS;
	}
}

static bool touch_recent(const struct piv *p)
{
	uint64_t now = piv_now_ms();

	return p->touch_ms != 0 && now >= p->touch_ms &&
	       now - p->touch_ms < PIV_TOUCH_CACHE_MS;
}

static unsigned touch_check(struct piv *p, uint8_t policy, const char *what)
{
	switch (policy) {
	case PIV_TOUCH_NEVER:
		return SW_OK;
	case PIV_TOUCH_CACHED:
	case PIV_TOUCH_ALWAYS:
		if (policy == PIV_TOUCH_CACHED && touch_recent(p))
			return SW_OK;
		return piv_touch(p, what) ? SW_OK
					  : SW_CONDITIONS_NOT_SATISFIED;
	default:
		return SW_CONDITIONS_NOT_SATISFIED;
	}
}

/* PIN, then touch; a refused touch leaves a PIN-always verification
 * for the next try. */
static unsigned policy_check(struct piv *p, const struct piv_key *k,
			     const char *what)
{
	unsigned sw = pin_check(p, k->pin_policy);

	if (sw == SW_OK)
		sw = touch_check(p, k->touch_policy, what);
	if (sw == SW_OK && k->pin_policy == PIV_PIN_ALWAYS)
		p->pin_always = false; /* one use per VERIFY */
	return sw;
}

/* ---- The request -------------------------------------------------------- */

/* 7C { 82 00, then 81 <data> or 85 <point>, in either order }. */
struct ga_req {
	const uint8_t *data;
	size_t len;
	bool ecdh; /* 85: the host's point */
};

static int ga_parse(const uint8_t *data, size_t len, struct ga_req *req)
{
	struct piv_dyn_auth q;

	memset(req, 0, sizeof(*req));
	if (piv_dyn_auth_parse(data, len, &q) != 0 ||
	    rbuf_left(&q.response) != 0)
		return -1;
	if (q.seen == (PIV_DA_RESPONSE | PIV_DA_CHALLENGE)) {
		req->data = rbuf_cur(&q.challenge);
		req->len = rbuf_left(&q.challenge);
	} else if (q.seen == (PIV_DA_RESPONSE | PIV_DA_EXPONENT)) {
		req->data = rbuf_cur(&q.exponent);
		req->len = rbuf_left(&q.exponent);
		req->ecdh = true;
	} else {
		return -1;
	}
	return 0;
}

/* The request fits the key, checked before any policy is spent. */
static bool ga_fits(const struct piv_key *k, const struct ga_req *req)
{
	enum crypto_pk_curve curve = piv_alg_curve(k->alg);
	size_t fs = crypto_pk_field_size(curve);

	if (piv_alg_is_rsa(k->alg))
		/* One block below the modulus (both are public). */
		return !req->ecdh && req->len == k->rsa.n_len &&
		       memcmp(req->data, k->rsa.n, req->len) < 0;
	if (req->ecdh) {
		if (curve == PK_X25519)
			return req->len == fs;
		return (curve == PK_P256 || curve == PK_P384) &&
		       req->len == 1 + 2 * fs && req->data[0] == 0x04;
	}
	if (curve == PK_ED25519)
		return req->len > 0;
	return (curve == PK_P256 || curve == PK_P384) && req->len > 0 &&
	       req->len <= fs;
}

/* ---- The operation ------------------------------------------------------ */

/* out holds CRYPTO_RSA_MAX bytes. Returns an SW. */
static unsigned ga_run(struct piv *p, uint8_t slot, const struct piv_key *k,
		       const struct ga_req *req, uint8_t *out, size_t *out_len)
{
	enum crypto_pk_curve curve = piv_alg_curve(k->alg);
	int err;

	if (piv_alg_is_rsa(k->alg)) {
		err = crypto_rsa_prepared_raw(piv_key_prepared(p, slot, k),
					      req->data, req->len, out,
					      out_len);
		return err == 0 ? SW_OK : SW_UNKNOWN;
	}
	if (req->ecdh) {
		err = crypto_pk_ecdh(curve, k->ec_priv, k->ec_priv_len,
				     req->data, req->len, out, out_len);
		/* An off-curve or small-order point. */
		return err == 0 ? SW_OK : SW_WRONG_DATA;
	}
	err = crypto_pk_ec_sign(curve, k->ec_priv, k->ec_priv_len, req->data,
				req->len, PK_SIG_DER, out, out_len);
	return err == 0 ? SW_OK : SW_UNKNOWN;
}

static unsigned key_auth(struct piv *p, const struct apdu *cmd,
			 struct wbuf *r)
{
	uint8_t out[CRYPTO_RSA_MAX];
	size_t out_len = sizeof(out);
	char what[32];
	struct ga_req req;
	struct piv_key k;
	unsigned sw;
	int err;

	if (ga_parse(cmd->data, cmd->lc, &req) != 0)
		return SW_WRONG_DATA;
	err = piv_key_load(p, cmd->p2, &k);
	if (err != STORE_OK)
		return err == STORE_NOT_FOUND ? SW_WRONG_DATA
					      : SW_MEMORY_FAILURE;
	snprintf(what, sizeof(what), "piv slot %02x", cmd->p2);
	sw = SW_WRONG_DATA;
	if (k.alg == cmd->p1 && ga_fits(&k, &req)) {
		/* Only the derivation tells a bad host point: derive before
		 * the policies, answer after them. */
		sw = req.ecdh ? ga_run(p, cmd->p2, &k, &req, out, &out_len)
			      : SW_OK;
		if (sw == SW_OK)
			sw = policy_check(p, &k, what);
		if (sw == SW_OK && !req.ecdh)
			sw = ga_run(p, cmd->p2, &k, &req, out, &out_len);
	}
	if (sw == SW_OK)
		piv_dyn_auth_put(r, PIV_TAG_RESPONSE, out, out_len);
	piv_key_wipe(&k);
	crypto_wipe(out, sizeof(out));
	return sw;
}

unsigned piv_general_auth(struct piv *p, const struct apdu *cmd,
			  struct wbuf *r)
{
	if (cmd->p2 == PIV_REF_MGMT)
		return piv_mgmt_auth(p, cmd, r);
	/* Any other command abandons a management-key exchange. */
	piv_mgmt_abandon(p);
	/* The attestation key signs attestations only: signing a host's
	 * hash with it would let anyone forge one. */
	if (cmd->p2 == PIV_SLOT_ATTEST || piv_slot_index(cmd->p2) < 0)
		return SW_WRONG_P1P2;
	return key_auth(p, cmd, r);
}
