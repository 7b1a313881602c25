/* PIN/UV auth protocols 1 and 2 (CTAP 2.1 §6.5.6, §6.5.7) and the
 * pinUvAuthToken's state: permissions, RP ID binding, usage timer. */
#include <string.h>
#include <time.h>

#include "applets/fido/pin_priv.h"
#include "core/log.h"

/* CTAP 2.1 §6.5.2.1: a token unused this long after it was issued
 * expires; a used one lives at most the max usage period; the user
 * present flag lasts the user present time limit. */
#define TOKEN_INITIAL_USAGE_MS 30000u
#define TOKEN_MAX_USAGE_MS 600000u
#define TOKEN_UP_LIMIT_MS 30000u

#define P256_PRIV_LEN 32
#define P256_PUB_LEN 65
#define HMAC_KEY_LEN 32
#define AES_KEY_LEN 32
#define IV_LEN 16
#define AES_BLOCK 16

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool protocol_ok(uint64_t protocol)
{
	return protocol == 1 || protocol == 2;
}

static size_t secret_size(uint64_t protocol)
{
	return protocol == 1 ? 32 : 64;
}

/* ---- the protocols' primitives ---- */

/* kdf(Z): protocol 1 SHA-256(Z); protocol 2 HKDF-SHA-256 with a zero
 * salt, "CTAP2 HMAC key" then "CTAP2 AES key" (§6.5.7). */
static int kdf(uint64_t protocol, const uint8_t z[32], uint8_t *secret)
{
	static const uint8_t salt[32];
	static const char hmac_info[] = "CTAP2 HMAC key";
	static const char aes_info[] = "CTAP2 AES key";

	if (protocol == 1)
		return crypto_digest(CRYPTO_SHA256, z, 32, secret);
	if (crypto_hkdf_sha256(salt, sizeof(salt), z, 32,
			       (const uint8_t *)hmac_info,
			       sizeof(hmac_info) - 1, secret, HMAC_KEY_LEN) ||
	    crypto_hkdf_sha256(salt, sizeof(salt), z, 32,
			       (const uint8_t *)aes_info, sizeof(aes_info) - 1,
			       secret + HMAC_KEY_LEN, AES_KEY_LEN))
		return -1;
	return 0;
}

/* The AES key within a shared secret: all of it (protocol 1), or the
 * half after the HMAC key (protocol 2). */
static const uint8_t *aes_key(uint64_t protocol, const uint8_t *secret)
{
	return protocol == 1 ? secret : secret + HMAC_KEY_LEN;
}

uint8_t ctap_pin_encrypt(uint64_t protocol, const uint8_t *secret,
			 const uint8_t *in, size_t in_len, uint8_t *out,
			 size_t *out_len)
{
	size_t iv_len = protocol == 2 ? IV_LEN : 0;

	if (!protocol_ok(protocol))
		return CTAP1_ERR_INVALID_PARAMETER;
	if (in_len % AES_BLOCK != 0)
		return CTAP1_ERR_INVALID_LENGTH;
	if (*out_len < iv_len + in_len)
		return CTAP1_ERR_OTHER;
	/* Protocol 2 prepends a random IV; protocol 1 uses a zero IV. */
	if (iv_len && crypto_random(out, IV_LEN) != 0)
		return CTAP1_ERR_OTHER;
	if (crypto_aes256_cbc(1, aes_key(protocol, secret),
			      iv_len ? out : NULL, in, in_len, out + iv_len))
		return CTAP1_ERR_OTHER;
	*out_len = iv_len + in_len;
	return CTAP2_OK;
}

uint8_t ctap_pin_decrypt(uint64_t protocol, const uint8_t *secret,
			 const uint8_t *in, size_t in_len, uint8_t *out,
			 size_t *out_len)
{
	size_t iv_len = protocol == 2 ? IV_LEN : 0;

	if (!protocol_ok(protocol))
		return CTAP1_ERR_INVALID_PARAMETER;
	if (in_len < iv_len || (in_len - iv_len) % AES_BLOCK != 0)
		return CTAP1_ERR_INVALID_LENGTH;
	if (*out_len < in_len - iv_len)
		return CTAP1_ERR_OTHER;
	if (crypto_aes256_cbc(0, aes_key(protocol, secret),
			      iv_len ? in : NULL, in + iv_len, in_len - iv_len,
			      out))
		return CTAP1_ERR_OTHER;
	*out_len = in_len - iv_len;
	return CTAP2_OK;
}

/* verify(key, message, signature): HMAC-SHA-256 under the first 32
 * bytes of key (the whole of a token or of a protocol 1 secret, the HMAC
 * key of a protocol 2 secret), truncated to 16 bytes for protocol 1. */
uint8_t ctap_pin_verify(uint64_t protocol, const uint8_t *secret,
			const uint8_t *msg, size_t msg_len,
			const uint8_t *sig, size_t sig_len)
{
	uint8_t mac[32];
	uint8_t r = CTAP2_ERR_PIN_AUTH_INVALID;

	if (!protocol_ok(protocol))
		return CTAP1_ERR_INVALID_PARAMETER;
	if (sig_len != (protocol == 1 ? 16u : 32u))
		goto out;
	if (crypto_hmac(CRYPTO_SHA256, secret, HMAC_KEY_LEN, msg, msg_len,
			mac) != 0) {
		r = CTAP1_ERR_OTHER;
		goto out;
	}
	if (crypto_memcmp(mac, sig, sig_len) == 0)
		r = CTAP2_OK;
out:
	crypto_wipe(mac, sizeof(mac));
	return r;
}

/* decapsulate(peer): ECDH with this protocol's key-agreement key, then
 * kdf. Any problem with the peer's key is CTAP1_ERR_INVALID_PARAMETER
 * (CTAP 2.1 §6.5.5.4 step 4 and its siblings). */
uint8_t ctap_pin_shared_secret(struct ctap *c, uint64_t protocol,
			       const cbor_item_t *platform_key,
			       uint8_t *secret, size_t *secret_len)
{
	const struct pin_proto *pp;
	uint8_t peer[P256_PUB_LEN], z[32];
	size_t z_len = sizeof(z);
	uint8_t r = CTAP1_ERR_INVALID_PARAMETER;

	if (!protocol_ok(protocol))
		goto out;
	pp = &c->pin->proto[protocol - 1];
	if (!pp->ready || *secret_len < secret_size(protocol)) {
		r = CTAP1_ERR_OTHER;
		goto out;
	}
	if (ctap_cose_p256(platform_key, peer) != CTAP2_OK ||
	    crypto_ecdh(CRYPTO_P256, pp->ka_priv, P256_PRIV_LEN, peer,
			sizeof(peer), z, &z_len) != 0)
		goto out;
	if (kdf(protocol, z, secret) != 0) {
		r = CTAP1_ERR_OTHER;
		goto out;
	}
	*secret_len = secret_size(protocol);
	r = CTAP2_OK;
out:
	crypto_wipe(z, sizeof(z));
	return r;
}

bool pin_proto_regen(struct pin_proto *pp)
{
	size_t priv_len = sizeof(pp->ka_priv), pub_len = sizeof(pp->ka_pub);

	pp->ready = crypto_ec_generate(CRYPTO_P256, pp->ka_priv, &priv_len,
				       pp->ka_pub, &pub_len) == 0 &&
		    priv_len == P256_PRIV_LEN && pub_len == P256_PUB_LEN;
	if (!pp->ready) {
		crypto_wipe(pp->ka_priv, sizeof(pp->ka_priv));
		log_error("fido: cannot generate a key-agreement key");
	}
	return pp->ready;
}

/* ---- the pinUvAuthToken ---- */

static void token_stop(struct pin_token_state *t)
{
	memset(t, 0, sizeof(*t));
}

void pin_token_reset(struct ctap_pin *p)
{
	size_t i;

	for (i = 0; i < PIN_PROTOCOLS; i++)
		if (crypto_random(p->proto[i].token, PIN_TOKEN_LEN) != 0)
			p->proto[i].ready = false; /* no token: unusable */
	token_stop(&p->tok);
}

void pin_token_begin(struct ctap_pin *p, uint8_t perms, const char *rpid,
		     size_t rpid_len)
{
	struct pin_token_state *t = &p->tok;

	token_stop(t);
	t->in_use = true;
	t->user_present = false; /* a PIN is no evidence of presence */
	t->perms = perms;
	t->issued_ms = now_ms();
	if (rpid != NULL)
		t->rpid_bound = crypto_digest(CRYPTO_SHA256, rpid, rpid_len,
					      t->rpid_hash) == 0;
}

/* pinUvAuthTokenUsageTimerObserver (CTAP 2.1 §6.5.2.1), run whenever
 * the token is looked at: false once it has expired. */
static bool token_alive(struct pin_token_state *t)
{
	uint64_t age;

	if (!t->in_use)
		return false;
	age = now_ms() - t->issued_ms;
	if (age > TOKEN_MAX_USAGE_MS ||
	    (!t->used && age > TOKEN_INITIAL_USAGE_MS)) {
		token_stop(t);
		return false;
	}
	if (age > TOKEN_UP_LIMIT_MS)
		t->user_present = false;
	return true;
}

uint8_t ctap_pin_verify_param(struct ctap *c, uint64_t protocol,
			      const uint8_t *msg, size_t msg_len,
			      const uint8_t *param, size_t param_len)
{
	struct ctap_pin *p = c->pin;
	uint8_t r;

	if (!protocol_ok(protocol))
		return CTAP1_ERR_INVALID_PARAMETER;
	if (!token_alive(&p->tok) || !p->proto[protocol - 1].ready)
		return CTAP2_ERR_PIN_AUTH_INVALID;
	r = ctap_pin_verify(protocol, p->proto[protocol - 1].token, msg,
			    msg_len, param, param_len);
	if (r == CTAP2_OK)
		p->tok.used = true;
	return r;
}

uint8_t ctap_pin_check_permission(struct ctap *c, uint8_t perm,
				  const char *rpid)
{
	struct pin_token_state *t = &c->pin->tok;
	uint8_t h[32];

	if (!token_alive(t) || perm == 0 || (t->perms & perm) != perm)
		return CTAP2_ERR_PIN_AUTH_INVALID;
	if (rpid == NULL)
		return CTAP2_OK;
	if (crypto_digest(CRYPTO_SHA256, rpid, strlen(rpid), h) != 0)
		return CTAP1_ERR_OTHER;
	if (!t->rpid_bound) {
		/* The first use binds an unbound token (CTAP 2.1 §6.1.2). */
		memcpy(t->rpid_hash, h, sizeof(h));
		t->rpid_bound = true;
		return CTAP2_OK;
	}
	return memcmp(t->rpid_hash, h, sizeof(h)) == 0
		       ? CTAP2_OK
		       : CTAP2_ERR_PIN_AUTH_INVALID;
}

uint8_t ctap_pin_check_rp_hash(struct ctap *c, const uint8_t *rp_id_hash)
{
	const struct pin_token_state *t = &c->pin->tok;

	if (!t->rpid_bound)
		return CTAP2_OK;
	if (rp_id_hash == NULL ||
	    memcmp(t->rpid_hash, rp_id_hash, sizeof(t->rpid_hash)) != 0)
		return CTAP2_ERR_PIN_AUTH_INVALID;
	return CTAP2_OK;
}

bool ctap_pin_token_up(struct ctap *c)
{
	struct pin_token_state *t = &c->pin->tok;

	return token_alive(t) && t->user_present;
}

void ctap_pin_token_clear_up(struct ctap *c)
{
	c->pin->tok.user_present = false;
}

void ctap_pin_token_used(struct ctap *c)
{
	c->pin->tok.perms &= CTAP_PERM_LBW;
}

uint8_t ctap_pin_authorize(struct ctap *c, const cbor_item_t *protocol,
			   const cbor_item_t *param, const uint8_t *msg,
			   size_t msg_len, uint8_t perm)
{
	const uint8_t *p;
	size_t len;
	uint64_t proto;
	uint8_t r;

	if (param == NULL)
		return CTAP2_ERR_PUAT_REQUIRED;
	if (protocol == NULL)
		return CTAP2_ERR_MISSING_PARAMETER;
	if ((r = ctap_uint(protocol, &proto)) != CTAP2_OK ||
	    (r = ctap_bytes(param, &p, &len)) != CTAP2_OK)
		return r;
	if ((r = ctap_pin_verify_param(c, proto, msg, msg_len, p, len)) !=
	    CTAP2_OK)
		return r;
	return ctap_pin_check_permission(c, perm, NULL);
}
