/* CTAP1/U2F raw messages (FIDO U2F Raw Message Formats v1.2): register,
 * authenticate and version, over the CTAP core's credentials, signature
 * counter and attestation, so U2F and CTAP2 credentials interoperate. */
#include <stdbool.h>
#include <string.h>

#include "apdu/sw.h"
#include "applets/fido/ctap_priv.h"

#define U2F_INS_REGISTER 0x01
#define U2F_INS_AUTHENTICATE 0x02
#define U2F_INS_VERSION 0x03

/* Authenticate control byte (P1), U2F raw messages §5.1. */
#define U2F_AUTH_ENFORCE 0x03      /* enforce-user-presence-and-sign */
#define U2F_AUTH_CHECK_ONLY 0x07   /* is the key handle ours? */
#define U2F_AUTH_DONT_ENFORCE 0x08 /* dont-enforce-user-presence-and-sign */

#define U2F_PARAM_LEN 32       /* challenge and application parameters */
#define U2F_REGISTER_ID 0x05   /* reserved first byte of a registration */
#define U2F_REGISTER_HASH_ID 0x00
#define U2F_FLAG_UP 0x01
#define U2F_POINT_LEN 65       /* uncompressed P-256 point */
#define U2F_KH_MAX 255         /* the key handle length is one byte */

static const char u2f_version[] = "U2F_V2";

/* What a registration signs (§4.3): 00 || app || chal || kh || pub. */
static int register_signature(struct ctap *c, const uint8_t *app,
			      const uint8_t *chal, const uint8_t *kh,
			      size_t kh_len, const uint8_t *pub,
			      uint8_t *sig, size_t *sig_len)
{
	uint8_t msg[1 + 2 * U2F_PARAM_LEN + CTAP_CRED_ID_MAX + U2F_POINT_LEN];
	struct wbuf m = wbuf_init(msg, sizeof(msg));

	wbuf_u8(&m, U2F_REGISTER_HASH_ID);
	wbuf_put(&m, app, U2F_PARAM_LEN);
	wbuf_put(&m, chal, U2F_PARAM_LEN);
	wbuf_put(&m, kh, kh_len);
	wbuf_put(&m, pub, U2F_POINT_LEN);
	if (m.overflow)
		return -1;
	return ctap_attest_sign(c, msg, m.len, sig, sig_len);
}

/* §4.1: data = challenge (32) || application (32). The answer is
 * 05 || public key || L || key handle || attestation cert || signature. */
static unsigned u2f_register(struct ctap *c, const struct apdu *cmd,
			     struct wbuf *resp, const struct ctap_wait *w)
{
	struct rbuf r = rbuf_init(cmd->data, cmd->lc);
	const uint8_t *chal, *app, *cert;
	uint8_t kh[CTAP_CRED_ID_MAX], pub[U2F_POINT_LEN], sig[CRYPTO_SIG_MAX];
	size_t kh_len = sizeof(kh), sig_len = sizeof(sig), cert_len = 0;
	unsigned sw = SW_WRONG_LENGTH;

	if (rbuf_bytes(&r, U2F_PARAM_LEN, &chal) != 0 ||
	    rbuf_bytes(&r, U2F_PARAM_LEN, &app) != 0 || rbuf_left(&r) != 0)
		goto out;
	sw = SW_CONDITIONS_NOT_SATISFIED;
	if (ctap_user_presence(c, "U2F register", w) != CTAP2_OK)
		goto out;
	sw = SW_UNKNOWN;
	if (ctap_cred_new_u2f(c, app, kh, &kh_len, pub) != CTAP2_OK ||
	    kh_len > sizeof(kh) || kh_len > U2F_KH_MAX)
		goto out;
	cert = ctap_attest_cert(c, &cert_len);
	if (cert == NULL ||
	    register_signature(c, app, chal, kh, kh_len, pub, sig,
			       &sig_len) != 0)
		goto out;
	wbuf_u8(resp, U2F_REGISTER_ID);
	wbuf_put(resp, pub, sizeof(pub));
	wbuf_u8(resp, (uint8_t)kh_len);
	wbuf_put(resp, kh, kh_len);
	wbuf_put(resp, cert, cert_len);
	wbuf_put(resp, sig, sig_len);
	sw = resp->overflow ? SW_UNKNOWN : SW_OK;
out:
	return sw;
}

struct u2f_auth_req {
	const uint8_t *chal;
	const uint8_t *app;
	const uint8_t *kh;
	size_t kh_len;
};

/* §5.1: challenge (32) || application (32) || L || key handle (L). */
static int parse_auth(const struct apdu *cmd, struct u2f_auth_req *a)
{
	struct rbuf r = rbuf_init(cmd->data, cmd->lc);
	uint8_t l;

	if (rbuf_bytes(&r, U2F_PARAM_LEN, &a->chal) != 0 ||
	    rbuf_bytes(&r, U2F_PARAM_LEN, &a->app) != 0 ||
	    rbuf_u8(&r, &l) != 0 || rbuf_bytes(&r, l, &a->kh) != 0 ||
	    rbuf_left(&r) != 0)
		return -1;
	a->kh_len = l;
	return 0;
}

/* §5.4: sign app || flags || counter || chal; answer flags || counter ||
 * signature. */
static unsigned auth_sign(struct ctap *c, const struct u2f_auth_req *a,
			  uint8_t flags, struct wbuf *resp)
{
	uint8_t msg[U2F_PARAM_LEN + 1 + 4 + U2F_PARAM_LEN];
	uint8_t sig[CRYPTO_SIG_MAX];
	size_t sig_len = sizeof(sig);
	struct wbuf m = wbuf_init(msg, sizeof(msg));
	uint32_t counter = ctap_counter_next(c);
	unsigned sw = SW_UNKNOWN;

	wbuf_put(&m, a->app, U2F_PARAM_LEN);
	wbuf_u8(&m, flags);
	wbuf_u32be(&m, counter);
	wbuf_put(&m, a->chal, U2F_PARAM_LEN);
	if (m.overflow ||
	    ctap_cred_sign_u2f(c, a->app, a->kh, a->kh_len, msg, m.len, sig,
			       &sig_len) != CTAP2_OK)
		goto out;
	wbuf_u8(resp, flags);
	wbuf_u32be(resp, counter);
	wbuf_put(resp, sig, sig_len);
	sw = resp->overflow ? SW_UNKNOWN : SW_OK;
out:
	return sw;
}

/* A key handle that is not ours (or not for this application) is
 * 6A80 whatever the control byte; check-only answers 6985 for a good
 * one (§5.3: "the key handle was created by this U2F token"). */
static unsigned u2f_authenticate(struct ctap *c, const struct apdu *cmd,
				 struct wbuf *resp, const struct ctap_wait *w)
{
	struct u2f_auth_req a;
	uint8_t flags = 0;
	unsigned sw = SW_WRONG_LENGTH;

	if (parse_auth(cmd, &a) != 0)
		goto out;
	sw = SW_WRONG_P1P2;
	if (cmd->p1 != U2F_AUTH_ENFORCE && cmd->p1 != U2F_AUTH_CHECK_ONLY &&
	    cmd->p1 != U2F_AUTH_DONT_ENFORCE)
		goto out;
	sw = SW_WRONG_DATA;
	if (a.kh_len == 0 ||
	    !ctap_cred_u2f_usable(c, a.app, a.kh, a.kh_len))
		goto out;
	sw = SW_CONDITIONS_NOT_SATISFIED;
	if (cmd->p1 == U2F_AUTH_CHECK_ONLY)
		goto out;
	if (cmd->p1 == U2F_AUTH_ENFORCE) {
		if (ctap_user_presence(c, "U2F authenticate", w) != CTAP2_OK)
			goto out;
		flags = U2F_FLAG_UP;
	}
	sw = auth_sign(c, &a, flags, resp);
out:
	return sw;
}

static unsigned u2f_get_version(const struct apdu *cmd, struct wbuf *resp)
{
	if (cmd->lc != 0)
		return SW_WRONG_LENGTH;
	wbuf_put(resp, u2f_version, sizeof(u2f_version) - 1);
	return SW_OK;
}

/* CTAP 2.1 §7.2.4: with alwaysUv on, U2F (which has no user
 * verification) is off: register and authenticate are refused. */
static unsigned u2f_dispatch(struct ctap *c, const struct apdu *cmd,
			     struct wbuf *resp, const struct ctap_wait *w)
{
	bool u2f_off = c->config.always_uv;
	unsigned sw;

	if (cmd->cla != 0x00)
		return SW_CLA_NOT_SUPPORTED;
	switch (cmd->ins) {
	case U2F_INS_REGISTER:
		sw = u2f_off ? SW_COMMAND_NOT_ALLOWED
			     : u2f_register(c, cmd, resp, w);
		break;
	case U2F_INS_AUTHENTICATE:
		sw = u2f_off ? SW_COMMAND_NOT_ALLOWED
			     : u2f_authenticate(c, cmd, resp, w);
		break;
	case U2F_INS_VERSION:
		sw = u2f_get_version(cmd, resp);
		break;
	default:
		sw = SW_INS_NOT_SUPPORTED;
		break;
	}
	return sw;
}

unsigned ctap_u2f(struct ctap *c, const struct apdu *cmd, struct wbuf *resp,
		  const struct ctap_wait *w)
{
	unsigned sw;

	pthread_mutex_lock(&c->lock);
	sw = u2f_dispatch(c, cmd, resp, w);
	pthread_mutex_unlock(&c->lock);
	return sw;
}
