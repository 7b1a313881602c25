/* GENERAL AUTHENTICATE with a key slot: the raw RSA private operation,
 * ECDSA and Ed25519 signatures and ECDH, each under the key's PIN and
 * touch policies. P2 = 9B (the management key) is piv_mgmt.c's. */
#include <stdio.h>
#include <string.h>

#include "apdu/sw.h"
#include "applets/piv/piv_priv.h"
#include "services/crypto.h"

/* ---- Policies --------------------------------------------------------- */

static unsigned pin_check(struct piv *p, uint8_t policy)
{
	switch (policy) {
	case PIV_PIN_NEVER:
		return SW_OK;
	case PIV_PIN_ONCE:
		return p->pin_ok ? SW_OK : SW_SECURITY_STATUS;
	case PIV_PIN_ALWAYS:
		if (!p->pin_ok || !p->pin_always)
			return SW_SECURITY_STATUS;
		/* One use per VERIFY. */
		p->pin_always = false;
		return SW_OK;
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

unsigned piv_policy_check(struct piv *p, const struct piv_key *k,
			  const char *what)
{
	unsigned sw = pin_check(p, k->pin_policy);

	if (sw == SW_OK)
		sw = touch_check(p, k->touch_policy, what);
	return sw;
}

/* ---- The request -------------------------------------------------------- */

/* 7C { 82 00, then 81 <data> or 85 <point>, in either order }. */
struct ga_req {
	const uint8_t *data;
	size_t len;
	bool ecdh; /* 85: the host's point */
};

#define GA_RESPONSE 0x1u
#define GA_CHALLENGE 0x2u
#define GA_EXPONENT 0x4u

static unsigned ga_bit(uint16_t tag)
{
	switch (tag) {
	case PIV_TAG_RESPONSE:
		return GA_RESPONSE;
	case PIV_TAG_CHALLENGE:
		return GA_CHALLENGE;
	case PIV_TAG_EXPONENT:
		return GA_EXPONENT;
	default:
		return 0;
	}
}

static int ga_parse(const uint8_t *data, size_t len, struct ga_req *req)
{
	struct rbuf r = rbuf_init(data, len), body, v;
	unsigned seen = 0, bit;
	uint16_t tag;

	memset(req, 0, sizeof(*req));
	if (rbuf_tlv(&r, &tag, &body) != 0 || tag != PIV_TAG_DYN_AUTH ||
	    rbuf_left(&r) != 0)
		return -1;
	while (rbuf_left(&body) > 0) {
		if (rbuf_tlv(&body, &tag, &v) != 0)
			return -1;
		bit = ga_bit(tag);
		if (bit == 0 || (seen & bit) != 0)
			return -1;
		seen |= bit;
		if (bit == GA_RESPONSE) {
			if (rbuf_left(&v) != 0)
				return -1;
			continue;
		}
		req->data = rbuf_cur(&v);
		req->len = rbuf_left(&v);
	}
	if (seen != (GA_RESPONSE | GA_CHALLENGE) &&
	    seen != (GA_RESPONSE | GA_EXPONENT))
		return -1;
	req->ecdh = (seen & GA_EXPONENT) != 0;
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

/* 7C { 82 <result> } */
static void put_result(struct wbuf *r, const uint8_t *res, size_t len)
{
	uint8_t inner[CRYPTO_RSA_MAX + 8];
	struct wbuf in = wbuf_init(inner, sizeof(inner));

	wbuf_tlv(&in, PIV_TAG_RESPONSE, res, len);
	if (in.overflow)
		r->overflow = true;
	else
		wbuf_tlv(r, PIV_TAG_DYN_AUTH, inner, in.len);
	crypto_wipe(inner, sizeof(inner));
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
	if (k.alg == cmd->p1 && ga_fits(&k, &req))
		sw = piv_policy_check(p, &k, what);
	if (sw == SW_OK)
		sw = ga_run(p, cmd->p2, &k, &req, out, &out_len);
	if (sw == SW_OK)
		put_result(r, out, out_len);
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
	p->mgmt_step = 0;
	crypto_wipe(p->mgmt_expect, sizeof(p->mgmt_expect));
	p->mgmt_expect_len = 0;
	/* The attestation key signs attestations only: signing a host's
	 * hash with it would let anyone forge one. */
	if (cmd->p2 == PIV_SLOT_ATTEST || piv_slot_index(cmd->p2) < 0)
		return SW_WRONG_P1P2;
	return key_auth(p, cmd, r);
}
