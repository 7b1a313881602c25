/* The FIDO PIN side driven directly: authenticatorClientPIN under PIN/UV
 * protocols 1 and 2 (this file plays the platform), tokens, retries,
 * authenticatorConfig, authenticatorLargeBlobs, and one regress case per
 * malformed CBOR input for ctap_cbor_decode. */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../check.h"
#include "applets/fido/ctap_priv.h"
#include "applets/fido/pin_priv.h"
#include "core/key.h"
#include "services/crypto.h"
#include "vkey/vkey.h"

#define PIN_PROTO_1 1
#define PIN_PROTO_2 2

/* --- harness ------------------------------------------------------------ */

static struct vkey *key;
static struct ctap ctap;
static char dir[64];
static char path[128];

static void open_key(void)
{
	struct vkey_options opt = { .state_path = path, .up = VKEY_UP_AUTO };
	char err[256];

	if (vkey_open(&key, &opt, err, sizeof(err)) != 0) {
		fprintf(stderr, "vkey_open: %s\n", err);
		exit(1);
	}
	memset(&ctap, 0, sizeof(ctap));
	ctap.key = key;
	ctap.store = vkey_store(key);
	ctap.up = vkey_up(key);
	if (ctap_pin_create(&ctap) != 0) {
		fprintf(stderr, "ctap_pin_create failed\n");
		exit(1);
	}
}

static void close_key(void)
{
	ctap_pin_destroy(&ctap);
	vkey_close(key);
	key = NULL;
}

static void begin(void)
{
	snprintf(dir, sizeof(dir), "/tmp/vkey-pin-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/state.vkey", dir);
	open_key();
}

static void end(void)
{
	close_key();
	check_rmtree(dir);
}

/* Power cycle without closing: what a PC/SC power-on does. */
static void power_cycle(void)
{
	ctap_pin_power_up(&ctap);
}

/* Close and open the state file again: what survives is what was
 * committed. */
static void reopen(void)
{
	close_key();
	open_key();
}

/* --- CBOR plumbing -------------------------------------------------------- */

/* Serialize req (taken) with libcbor, decode it the way the CTAP core
 * will (canonical checks included), run the handler; *resp gets the
 * decoded response map (or NULL). */
typedef uint8_t (*handler_fn)(struct ctap *, const cbor_item_t *,
			      struct wbuf *);

static uint8_t call(handler_fn fn, cbor_item_t *req, cbor_item_t **resp)
{
	static uint8_t out[CTAP_MAX_MSG];
	struct wbuf w = wbuf_init(out, sizeof(out));
	cbor_item_t *params = NULL;
	unsigned char *buf = NULL;
	size_t cap = 0, len;
	uint8_t r;

	if (resp != NULL)
		*resp = NULL;
	len = cbor_serialize_alloc(req, &buf, &cap);
	cbor_decref(&req);
	CHECK(len > 0);
	r = ctap_cbor_decode(buf, len, true, &params);
	free(buf);
	CHECK_EQ(r, CTAP2_OK);
	if (r != CTAP2_OK)
		return 0xff;
	r = fn(&ctap, params, &w);
	cbor_decref(&params);
	if (r == CTAP2_OK && w.len > 0) {
		cbor_item_t *m = NULL;

		CHECK_EQ(ctap_cbor_decode(out, w.len, true, &m), CTAP2_OK);
		if (resp != NULL)
			*resp = m;
		else if (m != NULL)
			cbor_decref(&m);
	}
	return r;
}

static void put(cbor_item_t *m, uint64_t k, cbor_item_t *v)
{
	CHECK_EQ(ctap_map_put_uint(m, k, v), 0);
}

/* An unsigned integer in its narrowest libcbor width (libcbor's
 * serializer keeps the width it is given). */
static cbor_item_t *num(uint64_t v)
{
	if (v <= UINT8_MAX)
		return cbor_build_uint8((uint8_t)v);
	if (v <= UINT16_MAX)
		return cbor_build_uint16((uint16_t)v);
	if (v <= UINT32_MAX)
		return cbor_build_uint32((uint32_t)v);
	return cbor_build_uint64(v);
}

static cbor_item_t *bytes(const uint8_t *p, size_t n)
{
	return cbor_build_bytestring(p, n);
}

/* --- the platform side of PIN/UV auth protocols 1 and 2 ------------------- */

struct platform {
	uint64_t proto;
	uint8_t secret[64];
	size_t secret_len;
	cbor_item_t *cose; /* our key-agreement key */
	uint8_t token[32];
};

static void plat_kdf(struct platform *p, const uint8_t z[32])
{
	static const uint8_t salt[32];

	if (p->proto == 1) {
		crypto_digest(CRYPTO_SHA256, z, 32, p->secret);
		p->secret_len = 32;
		return;
	}
	crypto_hkdf_sha256(salt, 32, z, 32, (const uint8_t *)"CTAP2 HMAC key",
			   14, p->secret, 32);
	crypto_hkdf_sha256(salt, 32, z, 32, (const uint8_t *)"CTAP2 AES key",
			   13, p->secret + 32, 32);
	p->secret_len = 64;
}

static void plat_free(struct platform *p)
{
	if (p->cose != NULL)
		cbor_decref(&p->cose);
}

/* getKeyAgreement, then ECDH with a fresh platform key. */
static void plat_agree(struct platform *p, uint64_t proto)
{
	uint8_t priv[32], pub[65], auth_pub[65], z[32];
	size_t priv_len = sizeof(priv), pub_len = sizeof(pub), z_len = 32;
	cbor_item_t *req = cbor_new_definite_map(2), *resp = NULL;

	plat_free(p);
	memset(p, 0, sizeof(*p));
	p->proto = proto;
	put(req, 1, cbor_build_uint8((uint8_t)proto));
	put(req, 2, cbor_build_uint8(2));
	CHECK_EQ(call(ctap_cmd_client_pin, req, &resp), CTAP2_OK);
	if (resp == NULL)
		return;
	CHECK_EQ(ctap_cose_p256(ctap_map_uint(resp, 1), auth_pub), CTAP2_OK);
	cbor_decref(&resp);
	CHECK_EQ(crypto_ec_generate(CRYPTO_P256, priv, &priv_len, pub,
				    &pub_len), 0);
	CHECK_EQ(crypto_ecdh(CRYPTO_P256, priv, 32, auth_pub, 65, z, &z_len),
		 0);
	plat_kdf(p, z);
	p->cose = ctap_cose_key(CRYPTO_P256, COSE_ECDH_ES_HKDF_256, pub, 65);
}

static size_t plat_encrypt(const struct platform *p, const uint8_t *in,
			   size_t len, uint8_t *out)
{
	if (p->proto == 1) {
		crypto_aes256_cbc(1, p->secret, NULL, in, len, out);
		return len;
	}
	crypto_random(out, 16);
	crypto_aes256_cbc(1, p->secret + 32, out, in, len, out + 16);
	return len + 16;
}

static size_t plat_decrypt(const struct platform *p, const uint8_t *in,
			   size_t len, uint8_t *out)
{
	if (p->proto == 1) {
		crypto_aes256_cbc(0, p->secret, NULL, in, len, out);
		return len;
	}
	crypto_aes256_cbc(0, p->secret + 32, in, in + 16, len - 16, out);
	return len - 16;
}

/* authenticate(key, msg): the key's first 32 bytes; 16 bytes of MAC
 * under protocol 1. */
static size_t plat_auth(uint64_t proto, const uint8_t *key32,
			const uint8_t *msg, size_t len, uint8_t mac[32])
{
	crypto_hmac(CRYPTO_SHA256, key32, 32, msg, len, mac);
	return proto == 1 ? 16 : 32;
}

static cbor_item_t *plat_cose(const struct platform *p)
{
	return cbor_incref(p->cose);
}

static void pin_hash(const char *pin, uint8_t h[16])
{
	uint8_t d[32];

	crypto_digest(CRYPTO_SHA256, pin, strlen(pin), d);
	memcpy(h, d, 16);
}

/* --- client PIN operations ------------------------------------------------ */

/* setPIN with an explicit padded buffer (so tests can send bad ones). */
static uint8_t set_pin_raw(uint64_t proto, const uint8_t *padded,
			   size_t padded_len)
{
	struct platform p = { 0 };
	uint8_t enc[128], mac[32];
	size_t enc_len, mac_len;
	cbor_item_t *req = cbor_new_definite_map(5);
	uint8_t r;

	plat_agree(&p, proto);
	enc_len = plat_encrypt(&p, padded, padded_len, enc);
	mac_len = plat_auth(proto, p.secret, enc, enc_len, mac);
	put(req, 1, cbor_build_uint8((uint8_t)proto));
	put(req, 2, cbor_build_uint8(3));
	put(req, 3, plat_cose(&p));
	put(req, 4, bytes(mac, mac_len));
	put(req, 5, bytes(enc, enc_len));
	r = call(ctap_cmd_client_pin, req, NULL);
	plat_free(&p);
	return r;
}

static uint8_t set_pin(uint64_t proto, const char *pin)
{
	uint8_t padded[64] = { 0 };

	memcpy(padded, pin, strlen(pin));
	return set_pin_raw(proto, padded, sizeof(padded));
}

/* getPinToken (perms 0) or getPinUvAuthTokenUsingPinWithPermissions;
 * the decrypted token lands in p->token. */
static uint8_t get_token(struct platform *p, uint64_t proto, const char *pin,
			 uint8_t perms, const char *rpid)
{
	uint8_t h[16], enc[32], tok[64];
	size_t enc_len;
	const uint8_t *tp;
	size_t tl;
	cbor_item_t *req = cbor_new_definite_map(perms ? (rpid ? 6 : 5) : 4);
	cbor_item_t *resp = NULL;
	uint8_t r;

	plat_agree(p, proto);
	pin_hash(pin, h);
	enc_len = plat_encrypt(p, h, 16, enc);
	put(req, 1, cbor_build_uint8((uint8_t)proto));
	put(req, 2, cbor_build_uint8(perms ? 9 : 5));
	put(req, 3, plat_cose(p));
	put(req, 6, bytes(enc, enc_len));
	if (perms) {
		put(req, 9, cbor_build_uint8(perms));
		if (rpid)
			put(req, 10, cbor_build_string(rpid));
	}
	r = call(ctap_cmd_client_pin, req, &resp);
	if (r == CTAP2_OK && resp != NULL) {
		CHECK_EQ(ctap_bytes(ctap_map_uint(resp, 2), &tp, &tl),
			 CTAP2_OK);
		CHECK_EQ(tl, proto == 1 ? 32 : 48);
		CHECK_EQ(plat_decrypt(p, tp, tl, tok), 32);
		memcpy(p->token, tok, 32);
	}
	if (resp != NULL)
		cbor_decref(&resp);
	return r;
}

static uint8_t change_pin(uint64_t proto, const char *old, const char *new)
{
	struct platform p = { 0 };
	uint8_t padded[64] = { 0 }, h[16], enc[96], henc[48], msg[160],
		mac[32];
	size_t enc_len, henc_len, mac_len;
	cbor_item_t *req = cbor_new_definite_map(6);
	uint8_t r;

	plat_agree(&p, proto);
	memcpy(padded, new, strlen(new));
	pin_hash(old, h);
	enc_len = plat_encrypt(&p, padded, 64, enc);
	henc_len = plat_encrypt(&p, h, 16, henc);
	memcpy(msg, enc, enc_len);
	memcpy(msg + enc_len, henc, henc_len);
	mac_len = plat_auth(proto, p.secret, msg, enc_len + henc_len, mac);
	put(req, 1, cbor_build_uint8((uint8_t)proto));
	put(req, 2, cbor_build_uint8(4));
	put(req, 3, plat_cose(&p));
	put(req, 4, bytes(mac, mac_len));
	put(req, 5, bytes(enc, enc_len));
	put(req, 6, bytes(henc, henc_len));
	r = call(ctap_cmd_client_pin, req, NULL);
	plat_free(&p);
	return r;
}

/* getPINRetries: the count, and powerCycleState in *cycle. */
static int retries(bool *cycle)
{
	cbor_item_t *req = cbor_new_definite_map(1), *resp = NULL;
	uint64_t n = 99;
	bool pc = false;

	put(req, 2, cbor_build_uint8(1));
	CHECK_EQ(call(ctap_cmd_client_pin, req, &resp), CTAP2_OK);
	if (resp == NULL)
		return -1;
	CHECK_EQ(ctap_uint(ctap_map_uint(resp, 3), &n), CTAP2_OK);
	CHECK_EQ(ctap_bool(ctap_map_uint(resp, 4), &pc), CTAP2_OK);
	cbor_decref(&resp);
	if (cycle != NULL)
		*cycle = pc;
	return (int)n;
}

/* verify_param for a message authenticated with the platform's token. */
static uint8_t use_token(const struct platform *p, const char *msg)
{
	uint8_t mac[32];
	size_t n = plat_auth(p->proto, p->token, (const uint8_t *)msg,
			     strlen(msg), mac);

	return ctap_pin_verify_param(&ctap, p->proto, (const uint8_t *)msg,
				     strlen(msg), mac, n);
}

/* --- client PIN cases ----------------------------------------------------- */

static void token_with_permissions(uint64_t proto)
{
	struct platform p = { 0 };
	uint8_t mac[32];
	size_t n;

	begin();
	CHECK(!ctap_pin_is_set(&ctap));
	CHECK_EQ(set_pin(proto, "1234"), CTAP2_OK);
	CHECK(ctap_pin_is_set(&ctap));
	CHECK_EQ(ctap_pin_retries(&ctap), 8);
	CHECK_EQ(get_token(&p, proto, "1234", CTAP_PERM_MC | CTAP_PERM_GA,
			   "example.com"),
		 CTAP2_OK);
	/* verify_param: accept the token's MAC, reject anything else. */
	CHECK_EQ(use_token(&p, "clientDataHash"), CTAP2_OK);
	n = plat_auth(proto, p.token, (const uint8_t *)"x", 1, mac);
	mac[0] ^= 1;
	CHECK_EQ(ctap_pin_verify_param(&ctap, proto, (const uint8_t *)"x", 1,
				       mac, n),
		 CTAP2_ERR_PIN_AUTH_INVALID);
	CHECK_EQ(ctap_pin_verify_param(&ctap, proto, (const uint8_t *)"x", 1,
				       mac, n - 1),
		 CTAP2_ERR_PIN_AUTH_INVALID);
	CHECK_EQ(ctap_pin_verify_param(&ctap, 3, (const uint8_t *)"x", 1, mac,
				       n),
		 CTAP1_ERR_INVALID_PARAMETER);
	/* The token of one protocol does not verify under the other. */
	CHECK_EQ(ctap_pin_verify_param(&ctap, proto == 1 ? 2 : 1,
				       (const uint8_t *)"x", 1, mac, n),
		 CTAP2_ERR_PIN_AUTH_INVALID);
	/* Permissions and the RP ID binding. */
	CHECK_EQ(ctap_pin_check_permission(&ctap, CTAP_PERM_MC, "example.com"),
		 CTAP2_OK);
	CHECK_EQ(ctap_pin_check_permission(&ctap, CTAP_PERM_GA, NULL),
		 CTAP2_OK);
	CHECK_EQ(ctap_pin_check_permission(&ctap, CTAP_PERM_MC, "evil.com"),
		 CTAP2_ERR_PIN_AUTH_INVALID);
	CHECK_EQ(ctap_pin_check_permission(&ctap, CTAP_PERM_CM, NULL),
		 CTAP2_ERR_PIN_AUTH_INVALID);
	CHECK_EQ(ctap_pin_check_permission(&ctap, CTAP_PERM_ACFG, NULL),
		 CTAP2_ERR_PIN_AUTH_INVALID);
	/* A PIN is no evidence of user presence (§6.5.5.7.2). */
	CHECK(!ctap_pin_token_up(&ctap));
	/* After makeCredential/getAssertion only lbw would be left. */
	ctap_pin_token_used(&ctap);
	CHECK_EQ(ctap_pin_check_permission(&ctap, CTAP_PERM_MC, "example.com"),
		 CTAP2_ERR_PIN_AUTH_INVALID);
	/* A new token replaces the old one. */
	{
		struct platform q = { 0 };

		CHECK_EQ(get_token(&q, proto, "1234", CTAP_PERM_CM, NULL),
			 CTAP2_OK);
		CHECK_EQ(use_token(&p, "m"), CTAP2_ERR_PIN_AUTH_INVALID);
		CHECK_EQ(use_token(&q, "m"), CTAP2_OK);
		plat_free(&q);
	}
	plat_free(&p);
	end();
}

static void token_protocol_1(void)
{
	token_with_permissions(PIN_PROTO_1);
}

static void token_protocol_2(void)
{
	token_with_permissions(PIN_PROTO_2);
}

static void token_power_up_voids_it(void)
{
	struct platform p = { 0 };

	begin();
	CHECK_EQ(set_pin(2, "1234"), CTAP2_OK);
	CHECK_EQ(get_token(&p, 2, "1234", CTAP_PERM_LBW, NULL), CTAP2_OK);
	CHECK_EQ(use_token(&p, "m"), CTAP2_OK);
	power_cycle();
	CHECK_EQ(use_token(&p, "m"), CTAP2_ERR_PIN_AUTH_INVALID);
	CHECK_EQ(ctap_pin_check_permission(&ctap, CTAP_PERM_LBW, NULL),
		 CTAP2_ERR_PIN_AUTH_INVALID);
	plat_free(&p);
	end();
}

static void unbound_token_binds_on_first_use(void)
{
	struct platform p = { 0 };

	begin();
	CHECK_EQ(set_pin(1, "1234"), CTAP2_OK);
	CHECK_EQ(get_token(&p, 1, "1234", CTAP_PERM_CM, NULL), CTAP2_OK);
	CHECK_EQ(ctap_pin_check_permission(&ctap, CTAP_PERM_CM, "a.example"),
		 CTAP2_OK);
	CHECK_EQ(ctap_pin_check_permission(&ctap, CTAP_PERM_CM, "a.example"),
		 CTAP2_OK);
	CHECK_EQ(ctap_pin_check_permission(&ctap, CTAP_PERM_CM, "b.example"),
		 CTAP2_ERR_PIN_AUTH_INVALID);
	plat_free(&p);
	end();
}

static void get_pin_token_superseded(void)
{
	struct platform p = { 0 };
	cbor_item_t *req;

	begin();
	CHECK_EQ(set_pin(2, "1234"), CTAP2_OK);
	/* 0x05: default permissions mc and ga, no RP ID. */
	CHECK_EQ(get_token(&p, 2, "1234", 0, NULL), CTAP2_OK);
	CHECK_EQ(ctap_pin_check_permission(&ctap, CTAP_PERM_MC, "x.example"),
		 CTAP2_OK);
	CHECK_EQ(ctap_pin_check_permission(&ctap, CTAP_PERM_CM, NULL),
		 CTAP2_ERR_PIN_AUTH_INVALID);
	/* 0x05 with permissions is refused before any PIN check. */
	req = cbor_new_definite_map(5);
	put(req, 1, cbor_build_uint8(2));
	put(req, 2, cbor_build_uint8(5));
	put(req, 3, plat_cose(&p));
	put(req, 6, bytes((const uint8_t *)"0123456789abcdef0123456789abcdef",
			  32));
	put(req, 9, cbor_build_uint8(1));
	CHECK_EQ(call(ctap_cmd_client_pin, req, NULL),
		 CTAP1_ERR_INVALID_PARAMETER);
	CHECK_EQ(ctap_pin_retries(&ctap), 8);
	plat_free(&p);
	end();
}

static void permissions_parameter_rules(void)
{
	struct platform p = { 0 };
	cbor_item_t *req;

	begin();
	CHECK_EQ(set_pin(2, "1234"), CTAP2_OK);
	/* python-fido2 0.9.1's get_pin_token(pin): 0x09 without
	 * permissions. CTAP 2.1 says MISSING_PARAMETER. */
	plat_agree(&p, 2);
	req = cbor_new_definite_map(4);
	put(req, 1, cbor_build_uint8(2));
	put(req, 2, cbor_build_uint8(9));
	put(req, 3, plat_cose(&p));
	put(req, 6, bytes((const uint8_t *)"0123456789abcdef0123456789abcdef",
			  32));
	CHECK_EQ(call(ctap_cmd_client_pin, req, NULL),
		 CTAP2_ERR_MISSING_PARAMETER);
	CHECK_EQ(get_token(&p, 2, "1234", 0x00 | 0x80, NULL), CTAP2_OK);
	CHECK_EQ(get_token(&p, 2, "1234", CTAP_PERM_BE, NULL),
		 CTAP2_ERR_UNAUTHORIZED_PERMISSION);
	CHECK_EQ(get_token(&p, 2, "1234", CTAP_PERM_MC, NULL),
		 CTAP1_ERR_INVALID_PARAMETER);
	CHECK_EQ(get_token(&p, 2, "1234", CTAP_PERM_GA, NULL),
		 CTAP1_ERR_INVALID_PARAMETER);
	CHECK_EQ(get_token(&p, 2, "1234", CTAP_PERM_LBW | CTAP_PERM_ACFG,
			   NULL),
		 CTAP2_OK);
	/* None of the refusals above cost a retry. */
	CHECK_EQ(ctap_pin_retries(&ctap), 8);
	/* permissions = 0 */
	plat_agree(&p, 2);
	req = cbor_new_definite_map(5);
	put(req, 1, cbor_build_uint8(2));
	put(req, 2, cbor_build_uint8(9));
	put(req, 3, plat_cose(&p));
	put(req, 6, bytes((const uint8_t *)"0123456789abcdef0123456789abcdef",
			  32));
	put(req, 9, cbor_build_uint8(0));
	CHECK_EQ(call(ctap_cmd_client_pin, req, NULL),
		 CTAP1_ERR_INVALID_PARAMETER);
	plat_free(&p);
	end();
}

static void set_pin_twice_refused(void)
{
	begin();
	CHECK_EQ(set_pin(1, "1234"), CTAP2_OK);
	CHECK_EQ(set_pin(1, "5678"), CTAP2_ERR_PIN_AUTH_INVALID);
	end();
}

static void no_pin_set(void)
{
	struct platform p = { 0 };

	begin();
	CHECK_EQ(get_token(&p, 2, "1234", CTAP_PERM_CM, NULL),
		 CTAP2_ERR_PIN_NOT_SET);
	CHECK_EQ(change_pin(2, "1234", "5678"), CTAP2_ERR_PIN_NOT_SET);
	CHECK_EQ(retries(NULL), 8);
	plat_free(&p);
	end();
}

static void wrong_pin_decrements_and_persists(void)
{
	struct platform p = { 0 };
	bool cycle = true;

	begin();
	CHECK_EQ(set_pin(2, "1234"), CTAP2_OK);
	CHECK_EQ(get_token(&p, 2, "9999", CTAP_PERM_CM, NULL),
		 CTAP2_ERR_PIN_INVALID);
	CHECK_EQ(retries(&cycle), 7);
	CHECK(!cycle);
	/* The decrement is in the state file, not only in memory. */
	reopen();
	CHECK_EQ(retries(NULL), 7);
	CHECK_EQ(get_token(&p, 1, "0000", CTAP_PERM_CM, NULL),
		 CTAP2_ERR_PIN_INVALID);
	reopen();
	CHECK_EQ(retries(NULL), 6);
	/* A correct PIN restores all 8, also in the file. */
	CHECK_EQ(get_token(&p, 2, "1234", CTAP_PERM_CM, NULL), CTAP2_OK);
	CHECK_EQ(retries(NULL), 8);
	reopen();
	CHECK_EQ(retries(NULL), 8);
	plat_free(&p);
	end();
}

static void three_wrong_block_until_power_up(void)
{
	struct platform p = { 0 };
	bool cycle = false;

	begin();
	CHECK_EQ(set_pin(1, "1234"), CTAP2_OK);
	CHECK_EQ(get_token(&p, 1, "1111", CTAP_PERM_CM, NULL),
		 CTAP2_ERR_PIN_INVALID);
	CHECK_EQ(get_token(&p, 1, "2222", CTAP_PERM_CM, NULL),
		 CTAP2_ERR_PIN_INVALID);
	CHECK_EQ(get_token(&p, 1, "3333", CTAP_PERM_CM, NULL),
		 CTAP2_ERR_PIN_AUTH_BLOCKED);
	CHECK_EQ(retries(&cycle), 5);
	CHECK(cycle);
	/* Even the right PIN is not tried, and costs nothing. */
	CHECK_EQ(get_token(&p, 1, "1234", CTAP_PERM_CM, NULL),
		 CTAP2_ERR_PIN_AUTH_BLOCKED);
	CHECK_EQ(change_pin(1, "1234", "5678"), CTAP2_ERR_PIN_AUTH_BLOCKED);
	CHECK_EQ(retries(NULL), 5);
	power_cycle();
	CHECK_EQ(retries(&cycle), 5);
	CHECK(!cycle);
	CHECK_EQ(get_token(&p, 1, "1234", CTAP_PERM_CM, NULL), CTAP2_OK);
	CHECK_EQ(retries(NULL), 8);
	plat_free(&p);
	end();
}

static void eight_wrong_block_for_good(void)
{
	struct platform p = { 0 };
	int i;
	uint8_t r = CTAP2_OK;

	begin();
	CHECK_EQ(set_pin(2, "1234"), CTAP2_OK);
	for (i = 1; i <= 8; i++) {
		r = get_token(&p, 2, "4321", CTAP_PERM_CM, NULL);
		if (i == 8)
			CHECK_EQ(r, CTAP2_ERR_PIN_BLOCKED);
		else if (i % 3 == 0)
			CHECK_EQ(r, CTAP2_ERR_PIN_AUTH_BLOCKED);
		else
			CHECK_EQ(r, CTAP2_ERR_PIN_INVALID);
		if (i % 3 == 0)
			power_cycle();
	}
	CHECK_EQ(retries(NULL), 0);
	CHECK_EQ(get_token(&p, 2, "1234", CTAP_PERM_CM, NULL),
		 CTAP2_ERR_PIN_BLOCKED);
	CHECK_EQ(change_pin(2, "1234", "5678"), CTAP2_ERR_PIN_BLOCKED);
	reopen();
	CHECK_EQ(retries(NULL), 0);
	CHECK_EQ(get_token(&p, 2, "1234", CTAP_PERM_CM, NULL),
		 CTAP2_ERR_PIN_BLOCKED);
	/* Only a reset recovers. */
	CHECK_EQ(ctap_pin_reset(&ctap), 0);
	CHECK(!ctap_pin_is_set(&ctap));
	CHECK_EQ(retries(NULL), 8);
	plat_free(&p);
	end();
}

static void change_pin_works(void)
{
	struct platform p = { 0 }, old = { 0 };

	begin();
	CHECK_EQ(set_pin(2, "1234"), CTAP2_OK);
	CHECK_EQ(get_token(&old, 2, "1234", CTAP_PERM_CM, NULL), CTAP2_OK);
	CHECK_EQ(change_pin(1, "1234", "new-pin-5678"), CTAP2_OK);
	/* Tokens issued before the change are void. */
	CHECK_EQ(use_token(&old, "m"), CTAP2_ERR_PIN_AUTH_INVALID);
	CHECK_EQ(get_token(&p, 2, "1234", CTAP_PERM_CM, NULL),
		 CTAP2_ERR_PIN_INVALID);
	CHECK_EQ(get_token(&p, 2, "new-pin-5678", CTAP_PERM_CM, NULL),
		 CTAP2_OK);
	/* A wrong current PIN counts as a wrong PIN. */
	CHECK_EQ(change_pin(2, "nope", "abcdef"), CTAP2_ERR_PIN_INVALID);
	CHECK_EQ(retries(NULL), 7);
	reopen();
	CHECK_EQ(get_token(&p, 1, "new-pin-5678", CTAP_PERM_CM, NULL),
		 CTAP2_OK);
	plat_free(&p);
	plat_free(&old);
	end();
}

static void change_pin_bad_auth(void)
{
	struct platform p = { 0 };
	uint8_t padded[64] = "abcdefgh", h[16], enc[64], henc[16], mac[32];
	cbor_item_t *req = cbor_new_definite_map(6);

	begin();
	CHECK_EQ(set_pin(1, "1234"), CTAP2_OK);
	plat_agree(&p, 1);
	pin_hash("1234", h);
	plat_encrypt(&p, padded, 64, enc);
	plat_encrypt(&p, h, 16, henc);
	/* MAC over newPinEnc only: not what changePIN authenticates. */
	plat_auth(1, p.secret, enc, 64, mac);
	put(req, 1, cbor_build_uint8(1));
	put(req, 2, cbor_build_uint8(4));
	put(req, 3, plat_cose(&p));
	put(req, 4, bytes(mac, 16));
	put(req, 5, bytes(enc, 64));
	put(req, 6, bytes(henc, 16));
	CHECK_EQ(call(ctap_cmd_client_pin, req, NULL),
		 CTAP2_ERR_PIN_AUTH_INVALID);
	/* Refused before the PIN was looked at: no retry spent. */
	CHECK_EQ(retries(NULL), 8);
	plat_free(&p);
	end();
}

static void new_pin_policy(void)
{
	uint8_t padded[80];
	char pin63[64];

	begin();
	CHECK_EQ(set_pin(2, "123"), CTAP2_ERR_PIN_POLICY_VIOLATION);
	CHECK_EQ(set_pin(2, ""), CTAP2_ERR_PIN_POLICY_VIOLATION);
	/* 3 code points in 6 bytes is still too short; 4 are enough. */
	CHECK_EQ(set_pin(2, "\xc3\xa9\xc3\xa9\xc3\xa9"),
		 CTAP2_ERR_PIN_POLICY_VIOLATION);
	/* Not UTF-8: a bare continuation byte, an overlong '/', a
	 * surrogate, a truncated sequence. */
	CHECK_EQ(set_pin(2, "ab\x80" "cd"), CTAP2_ERR_PIN_POLICY_VIOLATION);
	CHECK_EQ(set_pin(2, "ab\xc0\xaf" "cd"),
		 CTAP2_ERR_PIN_POLICY_VIOLATION);
	CHECK_EQ(set_pin(2, "ab\xed\xa0\x80" "cd"),
		 CTAP2_ERR_PIN_POLICY_VIOLATION);
	CHECK_EQ(set_pin(2, "abcd\xe2\x82"), CTAP2_ERR_PIN_POLICY_VIOLATION);
	/* 64 bytes without a zero: too long. */
	memset(padded, 'x', 64);
	CHECK_EQ(set_pin_raw(2, padded, 64), CTAP2_ERR_PIN_POLICY_VIOLATION);
	/* Not padded to 64 bytes. */
	memset(padded, 0, sizeof(padded));
	memcpy(padded, "12345678", 8);
	CHECK_EQ(set_pin_raw(2, padded, 32), CTAP1_ERR_INVALID_PARAMETER);
	CHECK_EQ(set_pin_raw(1, padded, 80), CTAP1_ERR_INVALID_PARAMETER);
	CHECK(!ctap_pin_is_set(&ctap));
	/* 63 bytes is the longest. */
	memset(pin63, 'y', 63);
	pin63[63] = '\0';
	CHECK_EQ(set_pin(2, pin63), CTAP2_OK);
	end();
	begin();
	CHECK_EQ(set_pin(1, "\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9"), CTAP2_OK);
	CHECK_EQ(ctap_pin_code_points(&ctap), 4);
	end();
}

static void pin_hash_sealed_in_store(void)
{
	uint8_t h[16], *val = NULL;
	size_t len = 0, i;
	bool found = false;

	begin();
	CHECK_EQ(set_pin(2, "1234"), CTAP2_OK);
	pin_hash("1234", h);
	CHECK_EQ(store_get(ctap.store, "fido.pin", "pin", 3, &val, &len),
		 STORE_OK);
	for (i = 0; val != NULL && i + 16 <= len; i++)
		if (memcmp(val + i, h, 16) == 0)
			found = true;
	CHECK(!found);
	if (val != NULL)
		store_free_value(val, len);
	end();
}

static void subcommand_and_protocol_errors(void)
{
	cbor_item_t *req;

	begin();
	/* No built-in UV: getUVRetries and ...UsingUvWithPermissions. */
	req = cbor_new_definite_map(2);
	put(req, 1, cbor_build_uint8(2));
	put(req, 2, cbor_build_uint8(7));
	CHECK_EQ(call(ctap_cmd_client_pin, req, NULL),
		 CTAP2_ERR_INVALID_SUBCOMMAND);
	req = cbor_new_definite_map(2);
	put(req, 1, cbor_build_uint8(2));
	put(req, 2, cbor_build_uint8(6));
	CHECK_EQ(call(ctap_cmd_client_pin, req, NULL),
		 CTAP2_ERR_INVALID_SUBCOMMAND);
	req = cbor_new_definite_map(1);
	put(req, 2, cbor_build_uint8(0x42));
	CHECK_EQ(call(ctap_cmd_client_pin, req, NULL),
		 CTAP2_ERR_INVALID_SUBCOMMAND);
	req = cbor_new_definite_map(1);
	put(req, 1, cbor_build_uint8(1));
	CHECK_EQ(call(ctap_cmd_client_pin, req, NULL),
		 CTAP2_ERR_MISSING_PARAMETER);
	req = cbor_new_definite_map(1);
	put(req, 2, cbor_build_uint8(2));
	CHECK_EQ(call(ctap_cmd_client_pin, req, NULL),
		 CTAP2_ERR_MISSING_PARAMETER);
	req = cbor_new_definite_map(2);
	put(req, 1, cbor_build_uint8(3));
	put(req, 2, cbor_build_uint8(2));
	CHECK_EQ(call(ctap_cmd_client_pin, req, NULL),
		 CTAP1_ERR_INVALID_PARAMETER);
	req = cbor_new_definite_map(2);
	put(req, 1, cbor_build_string("one"));
	put(req, 2, cbor_build_uint8(2));
	CHECK_EQ(call(ctap_cmd_client_pin, req, NULL),
		 CTAP2_ERR_CBOR_UNEXPECTED_TYPE);
	/* A key-agreement key that is not on the curve. */
	{
		uint8_t pub[65];
		cbor_item_t *cose;

		memset(pub, 0x11, sizeof(pub));
		pub[0] = 0x04;
		cose = ctap_cose_key(CRYPTO_P256, COSE_ECDH_ES_HKDF_256, pub,
				     65);
		req = cbor_new_definite_map(5);
		put(req, 1, cbor_build_uint8(2));
		put(req, 2, cbor_build_uint8(3));
		put(req, 3, cose);
		put(req, 4, bytes(pub, 32));
		put(req, 5, bytes(pub, 64));
		CHECK_EQ(call(ctap_cmd_client_pin, req, NULL),
			 CTAP1_ERR_INVALID_PARAMETER);
	}
	CHECK_EQ(ctap_cmd_client_pin(&ctap, NULL, NULL),
		 CTAP2_ERR_MISSING_PARAMETER);
	end();
}

/* hmac-secret's use of the protocols: the secret the authenticator
 * derives equals the platform's; encrypt/decrypt/verify agree. */
static void shared_secret_for_extensions(void)
{
	uint64_t proto;

	begin();
	for (proto = 1; proto <= 2; proto++) {
		struct platform p = { 0 };
		uint8_t secret[64], salt[32], enc[48], dec[48], mac[32];
		size_t secret_len = sizeof(secret), enc_len = sizeof(enc),
		       dec_len = sizeof(dec), n;

		plat_agree(&p, proto);
		CHECK_EQ(ctap_pin_shared_secret(&ctap, proto, p.cose, secret,
						&secret_len),
			 CTAP2_OK);
		CHECK_EQ(secret_len, proto == 1 ? 32 : 64);
		CHECK_MEM(secret, p.secret, secret_len);
		memset(salt, 0x5a, sizeof(salt));
		CHECK_EQ(ctap_pin_encrypt(proto, secret, salt, 32, enc,
					  &enc_len),
			 CTAP2_OK);
		CHECK_EQ(enc_len, proto == 1 ? 32 : 48);
		CHECK_EQ(plat_decrypt(&p, enc, enc_len, dec), 32);
		CHECK_MEM(dec, salt, 32);
		CHECK_EQ(ctap_pin_decrypt(proto, secret, enc, enc_len, dec,
					  &dec_len),
			 CTAP2_OK);
		CHECK_EQ(dec_len, 32);
		CHECK_MEM(dec, salt, 32);
		CHECK_EQ(ctap_pin_decrypt(proto, secret, enc, 15, dec,
					  &dec_len),
			 CTAP1_ERR_INVALID_LENGTH);
		n = plat_auth(proto, p.secret, enc, enc_len, mac);
		CHECK_EQ(ctap_pin_verify(proto, secret, enc, enc_len, mac, n),
			 CTAP2_OK);
		mac[3] ^= 0x40;
		CHECK_EQ(ctap_pin_verify(proto, secret, enc, enc_len, mac, n),
			 CTAP2_ERR_PIN_AUTH_INVALID);
		secret_len = 16;
		CHECK_EQ(ctap_pin_shared_secret(&ctap, proto, p.cose, secret,
						&secret_len),
			 CTAP1_ERR_OTHER);
		plat_free(&p);
	}
	end();
}

/* --- authenticatorConfig -------------------------------------------------- */

/* authenticatorConfig with subCommandParams (taken; may be NULL),
 * authenticated with p's token when p is not NULL. */
static uint8_t config(struct platform *p, uint8_t sub, cbor_item_t *params)
{
	uint8_t msg[34 + 512], mac[32];
	unsigned char *enc = NULL;
	size_t cap = 0, len = 0, n;
	cbor_item_t *req =
		cbor_new_definite_map(1 + (params != NULL) + (p ? 2 : 0));

	memset(msg, 0xff, 32);
	msg[32] = 0x0d;
	msg[33] = sub;
	if (params != NULL) {
		len = cbor_serialize_alloc(params, &enc, &cap);
		memcpy(msg + 34, enc, len);
		free(enc);
	}
	put(req, 1, cbor_build_uint8(sub));
	if (params != NULL)
		put(req, 2, params);
	if (p != NULL) {
		n = plat_auth(p->proto, p->token, msg, 34 + len, mac);
		put(req, 3, cbor_build_uint8((uint8_t)p->proto));
		put(req, 4, bytes(mac, n));
	}
	return call(ctap_cmd_config, req, NULL);
}

static cbor_item_t *min_pin_params(int new_min, const char *rpid,
				   int force)
{
	cbor_item_t *m = cbor_new_definite_map((size_t)(new_min >= 0) +
					       (rpid != NULL) + (force >= 0));

	if (new_min >= 0)
		put(m, 1, cbor_build_uint8((uint8_t)new_min));
	if (rpid != NULL) {
		cbor_item_t *a = cbor_new_definite_array(1);

		cbor_array_push(a, cbor_move(cbor_build_string(rpid)));
		put(m, 2, a);
	}
	if (force >= 0)
		put(m, 3, cbor_build_bool(force));
	return m;
}

static void config_without_pin(void)
{
	begin();
	CHECK_EQ(ctap.config.min_pin_len, 4);
	CHECK_EQ(config(NULL, 0x02, NULL), CTAP2_OK);
	CHECK(ctap.config.always_uv);
	/* With alwaysUv on, config wants a token even without a PIN. */
	CHECK_EQ(config(NULL, 0x02, NULL), CTAP2_ERR_PUAT_REQUIRED);
	end();
	begin();
	CHECK_EQ(config(NULL, 0x03, min_pin_params(6, "rp.example", -1)),
		 CTAP2_OK);
	CHECK_EQ(ctap.config.min_pin_len, 6);
	CHECK_EQ(ctap.config.n_min_pin_rpids, 1);
	CHECK(strcmp(ctap.config.min_pin_rpids[0], "rp.example") == 0);
	CHECK(!ctap.config.force_change_pin);
	/* forceChangePin without a PIN. */
	CHECK_EQ(config(NULL, 0x03, min_pin_params(-1, NULL, 1)),
		 CTAP2_ERR_PIN_NOT_SET);
	CHECK_EQ(set_pin(2, "12345"), CTAP2_ERR_PIN_POLICY_VIOLATION);
	CHECK_EQ(set_pin(2, "123456"), CTAP2_OK);
	reopen();
	CHECK_EQ(ctap.config.min_pin_len, 6);
	CHECK(strcmp(ctap.config.min_pin_rpids[0], "rp.example") == 0);
	end();
}

static void config_needs_acfg_token(void)
{
	struct platform p = { 0 };

	begin();
	CHECK_EQ(set_pin(2, "1234"), CTAP2_OK);
	CHECK_EQ(config(NULL, 0x02, NULL), CTAP2_ERR_PUAT_REQUIRED);
	CHECK_EQ(get_token(&p, 2, "1234", CTAP_PERM_MC, "a.example"),
		 CTAP2_OK);
	CHECK_EQ(config(&p, 0x02, NULL), CTAP2_ERR_PIN_AUTH_INVALID);
	CHECK(!ctap.config.always_uv);
	CHECK_EQ(get_token(&p, 1, "1234", CTAP_PERM_ACFG, NULL), CTAP2_OK);
	CHECK_EQ(config(&p, 0x02, NULL), CTAP2_OK);
	CHECK(ctap.config.always_uv);
	/* The MAC covers subCommandParams: change them, it fails. */
	{
		uint8_t mac[32], msg[34];
		size_t n;
		cbor_item_t *req = cbor_new_definite_map(4);

		memset(msg, 0xff, 32);
		msg[32] = 0x0d;
		msg[33] = 0x03;
		n = plat_auth(1, p.token, msg, 34, mac);
		put(req, 1, cbor_build_uint8(3));
		put(req, 2, min_pin_params(8, NULL, -1));
		put(req, 3, cbor_build_uint8(1));
		put(req, 4, bytes(mac, n));
		CHECK_EQ(call(ctap_cmd_config, req, NULL),
			 CTAP2_ERR_PIN_AUTH_INVALID);
		/* Missing protocol. */
		req = cbor_new_definite_map(2);
		put(req, 1, cbor_build_uint8(2));
		put(req, 4, bytes(mac, n));
		CHECK_EQ(call(ctap_cmd_config, req, NULL),
			 CTAP2_ERR_MISSING_PARAMETER);
	}
	/* No enterprise attestation; unknown subcommands. */
	CHECK_EQ(config(&p, 0x01, NULL), CTAP1_ERR_INVALID_PARAMETER);
	CHECK_EQ(config(&p, 0x07, NULL), CTAP2_ERR_INVALID_SUBCOMMAND);
	CHECK_EQ(config(&p, 0x02, NULL), CTAP2_OK);
	CHECK(!ctap.config.always_uv);
	reopen();
	CHECK(!ctap.config.always_uv);
	plat_free(&p);
	end();
}

static void min_pin_length_and_force_change(void)
{
	struct platform p = { 0 };

	begin();
	CHECK_EQ(set_pin(2, "1234"), CTAP2_OK);
	CHECK_EQ(get_token(&p, 2, "1234", CTAP_PERM_ACFG, NULL), CTAP2_OK);
	/* The PIN (4) is now too short: a change is forced. */
	CHECK_EQ(config(&p, 0x03, min_pin_params(6, NULL, -1)), CTAP2_OK);
	CHECK_EQ(ctap.config.min_pin_len, 6);
	CHECK(ctap.config.force_change_pin);
	/* Never lower. */
	CHECK_EQ(config(&p, 0x03, min_pin_params(5, NULL, -1)),
		 CTAP2_ERR_PIN_POLICY_VIOLATION);
	CHECK_EQ(config(&p, 0x03, min_pin_params(64, NULL, -1)),
		 CTAP2_ERR_PIN_POLICY_VIOLATION);
	CHECK_EQ(ctap.config.min_pin_len, 6);
	/* The right PIN, but a change is due (and the retry is given
	 * back: the PIN was right). */
	CHECK_EQ(get_token(&p, 2, "1234", CTAP_PERM_CM, NULL),
		 CTAP2_ERR_PIN_POLICY_VIOLATION);
	CHECK_EQ(retries(NULL), 8);
	reopen();
	CHECK(ctap.config.force_change_pin);
	CHECK_EQ(change_pin(2, "1234", "12345"),
		 CTAP2_ERR_PIN_POLICY_VIOLATION);
	CHECK_EQ(change_pin(2, "1234", "123456"), CTAP2_OK);
	CHECK(!ctap.config.force_change_pin);
	CHECK_EQ(get_token(&p, 2, "123456", CTAP_PERM_ACFG, NULL), CTAP2_OK);
	/* forceChangePin: and the same PIN again is no change. */
	CHECK_EQ(config(&p, 0x03, min_pin_params(-1, NULL, 1)), CTAP2_OK);
	CHECK(ctap.config.force_change_pin);
	CHECK_EQ(change_pin(1, "123456", "123456"),
		 CTAP2_ERR_PIN_POLICY_VIOLATION);
	CHECK_EQ(change_pin(1, "123456", "654321"), CTAP2_OK);
	reopen();
	CHECK(!ctap.config.force_change_pin);
	CHECK_EQ(ctap.config.min_pin_len, 6);
	plat_free(&p);
	end();
}

/* --- authenticatorLargeBlobs ---------------------------------------------- */

#define FRAG 3000

static uint8_t blob_get(uint64_t offset, uint64_t get, uint8_t *out,
			size_t *len)
{
	cbor_item_t *req = cbor_new_definite_map(2), *resp = NULL;
	const uint8_t *p;
	size_t n;
	uint8_t r;

	put(req, 1, num(get));
	put(req, 3, num(offset));
	r = call(ctap_cmd_large_blobs, req, &resp);
	*len = 0;
	if (r == CTAP2_OK && resp != NULL &&
	    ctap_bytes(ctap_map_uint(resp, 1), &p, &n) == CTAP2_OK) {
		memcpy(out, p, n);
		*len = n;
	}
	if (resp != NULL)
		cbor_decref(&resp);
	return r;
}

/* One set fragment; length < 0 leaves it out; p NULL: no auth. */
static uint8_t blob_set(const struct platform *p, const uint8_t *frag,
			size_t n, uint64_t offset, long length)
{
	uint8_t msg[70], mac[32];
	size_t i, m;
	cbor_item_t *req = cbor_new_definite_map(2 + (length >= 0) +
						 (p != NULL ? 2 : 0));

	memset(msg, 0xff, 32);
	msg[32] = 0x0c;
	msg[33] = 0x00;
	for (i = 0; i < 4; i++)
		msg[34 + i] = (uint8_t)(offset >> (8 * i));
	crypto_digest(CRYPTO_SHA256, frag, n, msg + 38);
	put(req, 2, bytes(frag, n));
	put(req, 3, num(offset));
	if (length >= 0)
		put(req, 4, num((uint64_t)length));
	if (p != NULL) {
		m = plat_auth(p->proto, p->token, msg, sizeof(msg), mac);
		put(req, 5, bytes(mac, m));
		put(req, 6, cbor_build_uint8((uint8_t)p->proto));
	}
	return call(ctap_cmd_large_blobs, req, NULL);
}

/* A serialized array of total bytes: CBOR array of one byte string,
 * padded, and the 16-byte hash trailer. */
static size_t make_array(uint8_t *a, size_t total)
{
	size_t body = total - 16, i;
	uint8_t h[32];

	a[0] = 0x81;
	a[1] = 0x59;
	a[2] = (uint8_t)((body - 4) >> 8);
	a[3] = (uint8_t)(body - 4);
	for (i = 4; i < body; i++)
		a[i] = (uint8_t)(i * 7);
	crypto_digest(CRYPTO_SHA256, a, body, h);
	memcpy(a + body, h, 16);
	return total;
}

static void large_blob_initial_array(void)
{
	static const uint8_t initial[] = { 0x80, 0x76, 0xbe, 0x8b, 0x52, 0x8d,
					   0x00, 0x75, 0xf7, 0xaa, 0xe9, 0x8d,
					   0x6f, 0xa5, 0x7a, 0x6d, 0x3c };
	uint8_t out[64];
	size_t n;

	begin();
	CHECK(ctap_large_blob_max() >= 4096);
	CHECK_EQ(blob_get(0, 64, out, &n), CTAP2_OK);
	CHECK_EQ(n, sizeof(initial));
	CHECK_MEM(out, initial, sizeof(initial));
	CHECK_EQ(blob_get(5, 3, out, &n), CTAP2_OK);
	CHECK_EQ(n, 3);
	CHECK_MEM(out, initial + 5, 3);
	CHECK_EQ(blob_get(17, 10, out, &n), CTAP2_OK);
	CHECK_EQ(n, 0);
	CHECK_EQ(blob_get(18, 10, out, &n), CTAP1_ERR_INVALID_PARAMETER);
	CHECK_EQ(blob_get(0, CTAP_MAX_MSG, out, &n),
		 CTAP1_ERR_INVALID_LENGTH);
	end();
}

static void large_blob_write_fragments(void)
{
	static uint8_t a[10000], back[10000];
	struct platform p = { 0 };
	size_t total = make_array(a, sizeof(a)), off, n, got;

	begin();
	CHECK_EQ(set_pin(2, "1234"), CTAP2_OK);
	CHECK_EQ(get_token(&p, 2, "1234", CTAP_PERM_LBW, NULL), CTAP2_OK);
	for (off = 0; off < total; off += n) {
		n = total - off < FRAG ? total - off : FRAG;
		CHECK_EQ(blob_set(&p, a + off, n, off,
				  off == 0 ? (long)total : -1),
			 CTAP2_OK);
	}
	reopen();
	for (off = 0; off < total; off += got) {
		CHECK_EQ(blob_get(off, 2500, back + off, &got), CTAP2_OK);
		if (got == 0)
			break;
	}
	CHECK_EQ(off, total);
	CHECK_MEM(back, a, total);
	plat_free(&p);
	end();
}

static void large_blob_bad_hash(void)
{
	static uint8_t a[2000];
	uint8_t out[64];
	size_t total = make_array(a, sizeof(a)), n;

	begin();
	a[100] ^= 1; /* after the hash was computed */
	CHECK_EQ(blob_set(NULL, a, 1000, 0, (long)total), CTAP2_OK);
	CHECK_EQ(blob_set(NULL, a + 1000, 1000, 1000, -1),
		 CTAP2_ERR_INTEGRITY_FAILURE);
	/* Nothing stored; the write is over. */
	CHECK_EQ(blob_get(0, 64, out, &n), CTAP2_OK);
	CHECK_EQ(n, 17);
	CHECK_EQ(blob_set(NULL, a + 1000, 1000, 1000, -1),
		 CTAP1_ERR_INVALID_SEQ);
	end();
}

static void large_blob_set_errors(void)
{
	static uint8_t a[1100];
	struct platform p = { 0 };
	size_t total = make_array(a, 1000);
	cbor_item_t *req;

	begin();
	/* Without a PIN no auth is needed; sequence rules still hold. */
	CHECK_EQ(blob_set(NULL, a, 100, 0, -1), CTAP1_ERR_INVALID_PARAMETER);
	CHECK_EQ(blob_set(NULL, a, 100, 0, 16), CTAP1_ERR_INVALID_PARAMETER);
	CHECK_EQ(blob_set(NULL, a, 100, 0, (long)ctap_large_blob_max() + 1),
		 CTAP2_ERR_LARGE_BLOB_STORAGE_FULL);
	CHECK_EQ(blob_set(NULL, a, 100, 100, -1), CTAP1_ERR_INVALID_SEQ);
	CHECK_EQ(blob_set(NULL, a, 100, 0, (long)total), CTAP2_OK);
	CHECK_EQ(blob_set(NULL, a + 100, 100, 100, (long)total),
		 CTAP1_ERR_INVALID_PARAMETER);
	CHECK_EQ(blob_set(NULL, a + 200, 100, 200, -1),
		 CTAP1_ERR_INVALID_SEQ);
	CHECK_EQ(blob_set(NULL, a + 100, 901, 100, -1),
		 CTAP1_ERR_INVALID_PARAMETER);
	/* Neither or both of get and set; no offset. */
	req = cbor_new_definite_map(1);
	put(req, 3, cbor_build_uint8(0));
	CHECK_EQ(call(ctap_cmd_large_blobs, req, NULL),
		 CTAP1_ERR_INVALID_PARAMETER);
	req = cbor_new_definite_map(1);
	put(req, 1, cbor_build_uint8(10));
	CHECK_EQ(call(ctap_cmd_large_blobs, req, NULL),
		 CTAP1_ERR_INVALID_PARAMETER);
	req = cbor_new_definite_map(3);
	put(req, 1, cbor_build_uint8(10));
	put(req, 2, bytes(a, 10));
	put(req, 3, cbor_build_uint8(0));
	CHECK_EQ(call(ctap_cmd_large_blobs, req, NULL),
		 CTAP1_ERR_INVALID_PARAMETER);
	req = cbor_new_definite_map(3);
	put(req, 1, cbor_build_uint8(10));
	put(req, 3, cbor_build_uint8(0));
	put(req, 4, cbor_build_uint8(10));
	CHECK_EQ(call(ctap_cmd_large_blobs, req, NULL),
		 CTAP1_ERR_INVALID_PARAMETER);
	/* With a PIN: a token with lbw is required. */
	CHECK_EQ(set_pin(1, "1234"), CTAP2_OK);
	CHECK_EQ(blob_set(NULL, a, 100, 0, (long)total),
		 CTAP2_ERR_PUAT_REQUIRED);
	CHECK_EQ(get_token(&p, 1, "1234", CTAP_PERM_CM, NULL), CTAP2_OK);
	CHECK_EQ(blob_set(&p, a, 100, 0, (long)total),
		 CTAP2_ERR_PIN_AUTH_INVALID);
	CHECK_EQ(get_token(&p, 1, "1234", CTAP_PERM_LBW, NULL), CTAP2_OK);
	CHECK_EQ(blob_set(&p, a, 100, 0, (long)total), CTAP2_OK);
	CHECK_EQ(blob_set(&p, a + 100, 900, 100, -1), CTAP2_OK);
	plat_free(&p);
	end();
}

static void reset_clears_pin_side(void)
{
	static uint8_t a[100];
	struct platform p = { 0 };
	uint8_t out[64];
	size_t n;

	begin();
	CHECK_EQ(set_pin(2, "123456"), CTAP2_OK);
	CHECK_EQ(get_token(&p, 2, "123456", CTAP_PERM_ACFG | CTAP_PERM_LBW,
			   NULL),
		 CTAP2_OK);
	CHECK_EQ(config(&p, 0x03, min_pin_params(6, NULL, -1)), CTAP2_OK);
	make_array(a, sizeof(a));
	CHECK_EQ(blob_set(&p, a, sizeof(a), 0, sizeof(a)), CTAP2_OK);
	CHECK_EQ(ctap_pin_reset(&ctap), 0);
	CHECK(!ctap_pin_is_set(&ctap));
	CHECK_EQ(ctap.config.min_pin_len, 4);
	CHECK_EQ(use_token(&p, "m"), CTAP2_ERR_PIN_AUTH_INVALID);
	reopen();
	CHECK(!ctap_pin_is_set(&ctap));
	CHECK_EQ(ctap.config.min_pin_len, 4);
	CHECK_EQ(blob_get(0, 64, out, &n), CTAP2_OK);
	CHECK_EQ(n, 17);
	plat_free(&p);
	end();
}

/* --- CBOR regress: one case per malformed input --------------------------- */

/* Decode a copy in an exact-size buffer, so ASan sees any over-read. */
static uint8_t decode(const uint8_t *in, size_t len, bool must_be_map)
{
	uint8_t *copy = malloc(len ? len : 1);
	cbor_item_t *it = cbor_new_null(); /* must be reset, not leaked */
	cbor_item_t *poison = it;
	uint8_t r;

	memcpy(copy, in, len);
	r = ctap_cbor_decode(copy, len, must_be_map, &it);
	if (r == CTAP2_OK)
		cbor_decref(&it);
	else
		CHECK(it == NULL);
	cbor_decref(&poison);
	free(copy);
	return r;
}

#define DECODE(map, ...)                                                   \
	decode((const uint8_t[]){ __VA_ARGS__ },                           \
	       sizeof((const uint8_t[]){ __VA_ARGS__ }), map)

static void cbor_canonical_accepted(void)
{
	/* {1: 2, 3: 24, "a": true, -1: null} in CTAP2 order: major type
	 * 0, then 1, then 3. */
	CHECK_EQ(DECODE(true, 0xa4, 0x01, 0x02, 0x03, 0x18, 0x18, 0x20, 0xf6,
			0x61, 0x61, 0xf5),
		 CTAP2_OK);
	/* Four levels: map, array, map, array. */
	CHECK_EQ(DECODE(true, 0xa1, 0x01, 0x81, 0xa1, 0x01, 0x81, 0x00),
		 CTAP2_OK);
	CHECK_EQ(DECODE(true, 0xa0), CTAP2_OK);
	CHECK_EQ(DECODE(false, 0x82, 0x19, 0x01, 0x00, 0x40), CTAP2_OK);
}

static void cbor_noncanonical_int(void)
{
	/* 2 as 0x18 0x02. */
	CHECK_EQ(DECODE(true, 0xa1, 0x01, 0x18, 0x02), CTAP2_ERR_INVALID_CBOR);
	/* 255 as a 16-bit integer; -1 as a one-byte negative. */
	CHECK_EQ(DECODE(true, 0xa1, 0x01, 0x19, 0x00, 0xff),
		 CTAP2_ERR_INVALID_CBOR);
	CHECK_EQ(DECODE(true, 0xa1, 0x01, 0x38, 0x00), CTAP2_ERR_INVALID_CBOR);
	CHECK_EQ(DECODE(true, 0xa1, 0x01, 0x1b, 0, 0, 0, 0, 0xff, 0xff, 0xff,
			0xff),
		 CTAP2_ERR_INVALID_CBOR);
	/* A non-shortest key. */
	CHECK_EQ(DECODE(true, 0xa1, 0x18, 0x01, 0x00), CTAP2_ERR_INVALID_CBOR);
}

static void cbor_noncanonical_length(void)
{
	/* A 1-byte string with a 1-byte length field; a map count as
	 * 0xb8 0x01. */
	CHECK_EQ(DECODE(true, 0xa1, 0x01, 0x58, 0x01, 0x00),
		 CTAP2_ERR_INVALID_CBOR);
	CHECK_EQ(DECODE(true, 0xb8, 0x01, 0x01, 0x00), CTAP2_ERR_INVALID_CBOR);
}

static void cbor_unsorted_map(void)
{
	CHECK_EQ(DECODE(true, 0xa2, 0x02, 0x00, 0x01, 0x00),
		 CTAP2_ERR_INVALID_CBOR);
	/* Negative before unsigned; longer before shorter. */
	CHECK_EQ(DECODE(true, 0xa2, 0x20, 0x00, 0x01, 0x00),
		 CTAP2_ERR_INVALID_CBOR);
	CHECK_EQ(DECODE(true, 0xa2, 0x62, 0x61, 0x61, 0x00, 0x61, 0x62, 0x00),
		 CTAP2_ERR_INVALID_CBOR);
	/* In a nested map. */
	CHECK_EQ(DECODE(true, 0xa1, 0x01, 0xa2, 0x03, 0x00, 0x02, 0x00),
		 CTAP2_ERR_INVALID_CBOR);
}

static void cbor_duplicate_key(void)
{
	CHECK_EQ(DECODE(true, 0xa2, 0x01, 0x00, 0x01, 0x01),
		 CTAP2_ERR_INVALID_CBOR);
	CHECK_EQ(DECODE(true, 0xa2, 0x61, 0x78, 0x00, 0x61, 0x78, 0x00),
		 CTAP2_ERR_INVALID_CBOR);
}

static void cbor_indefinite_length(void)
{
	CHECK_EQ(DECODE(true, 0xbf, 0x01, 0x00, 0xff), CTAP2_ERR_INVALID_CBOR);
	CHECK_EQ(DECODE(true, 0xa1, 0x01, 0x9f, 0x00, 0xff),
		 CTAP2_ERR_INVALID_CBOR);
	CHECK_EQ(DECODE(true, 0xa1, 0x01, 0x5f, 0x41, 0x00, 0xff),
		 CTAP2_ERR_INVALID_CBOR);
	CHECK_EQ(DECODE(true, 0xa1, 0x01, 0x7f, 0x61, 0x61, 0xff),
		 CTAP2_ERR_INVALID_CBOR);
}

static void cbor_trailing_bytes(void)
{
	CHECK_EQ(DECODE(true, 0xa1, 0x01, 0x00, 0x00), CTAP2_ERR_INVALID_CBOR);
	CHECK_EQ(DECODE(true, 0xa0, 0xa0), CTAP2_ERR_INVALID_CBOR);
}

static void cbor_truncated(void)
{
	CHECK_EQ(DECODE(true, 0xa2, 0x01, 0x00, 0x02), CTAP2_ERR_INVALID_CBOR);
	CHECK_EQ(DECODE(true, 0xa1, 0x01, 0x45, 0x00, 0x00),
		 CTAP2_ERR_INVALID_CBOR);
	CHECK_EQ(DECODE(true, 0xa1, 0x01, 0x19, 0x01), CTAP2_ERR_INVALID_CBOR);
	CHECK_EQ(decode((const uint8_t *)"", 0, true), CTAP2_ERR_INVALID_CBOR);
}

static void cbor_wrong_type(void)
{
	CHECK_EQ(DECODE(true, 0x81, 0x01), CTAP2_ERR_CBOR_UNEXPECTED_TYPE);
	CHECK_EQ(DECODE(true, 0x01), CTAP2_ERR_CBOR_UNEXPECTED_TYPE);
	CHECK_EQ(DECODE(false, 0x81, 0x01), CTAP2_OK);
}

static void cbor_too_deep(void)
{
	CHECK_EQ(DECODE(true, 0xa1, 0x01, 0x81, 0x81, 0x81, 0x81, 0x00),
		 CTAP2_ERR_INVALID_CBOR);
	CHECK_EQ(DECODE(true, 0xa1, 0x01, 0x81, 0x81, 0x81, 0x80),
		 CTAP2_ERR_INVALID_CBOR);
}

static void cbor_tag_float_simple(void)
{
	CHECK_EQ(DECODE(true, 0xa1, 0x01, 0xc2, 0x41, 0x00),
		 CTAP2_ERR_INVALID_CBOR);
	CHECK_EQ(DECODE(true, 0xa1, 0x01, 0xf9, 0x3c, 0x00),
		 CTAP2_ERR_INVALID_CBOR);
	CHECK_EQ(DECODE(true, 0xa1, 0x01, 0xfb, 0, 0, 0, 0, 0, 0, 0, 0),
		 CTAP2_ERR_INVALID_CBOR);
	CHECK_EQ(DECODE(true, 0xa1, 0x01, 0xf7), CTAP2_ERR_INVALID_CBOR);
	CHECK_EQ(DECODE(true, 0xa1, 0x01, 0xf8, 0x20), CTAP2_ERR_INVALID_CBOR);
	CHECK_EQ(DECODE(true, 0xa1, 0x01, 0xff), CTAP2_ERR_INVALID_CBOR);
}

static void cbor_huge_count(void)
{
	/* Counts no input of this size can hold: refused before libcbor
	 * allocates for them. */
	CHECK_EQ(DECODE(true, 0xa1, 0x01, 0x9b, 0x10, 0, 0, 0, 0, 0, 0, 0),
		 CTAP2_ERR_INVALID_CBOR);
	CHECK_EQ(DECODE(true, 0xbb, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
			0xff),
		 CTAP2_ERR_INVALID_CBOR);
	CHECK_EQ(DECODE(true, 0xa1, 0x01, 0x5b, 0xff, 0xff, 0xff, 0xff, 0xff,
			0xff, 0xff, 0xff),
		 CTAP2_ERR_INVALID_CBOR);
}

static void cbor_encode_is_canonical(void)
{
	uint8_t buf[64];
	struct wbuf w = wbuf_init(buf, sizeof(buf));
	cbor_item_t *m = cbor_new_indefinite_map();
	static const uint8_t want[] = { 0xa2, 0x01, 0x05, 0x19, 0x01,
					0x00, 0xf5 };

	/* Widths chosen by the builder do not leak into the encoding. */
	put(m, 1, cbor_build_uint32(5));
	CHECK_EQ(ctap_map_put_uint(m, 256, cbor_build_bool(true)), 0);
	CHECK_EQ(ctap_cbor_encode(m, &w), CTAP2_OK);
	CHECK_EQ(w.len, sizeof(want));
	CHECK_MEM(buf, want, sizeof(want));
	cbor_decref(&m);
	/* Keys added out of order are a bug the encoder reports. */
	m = cbor_new_definite_map(2);
	put(m, 2, cbor_build_uint8(0));
	put(m, 1, cbor_build_uint8(0));
	w = wbuf_init(buf, sizeof(buf));
	CHECK_EQ(ctap_cbor_encode(m, &w), CTAP1_ERR_OTHER);
	CHECK_EQ(w.len, 0);
	cbor_decref(&m);
	/* Too small an output. */
	m = cbor_new_definite_map(1);
	put(m, 1, cbor_build_bytestring(buf, 40));
	w = wbuf_init(buf + 40, 10);
	CHECK_EQ(ctap_cbor_encode(m, &w), CTAP1_ERR_OTHER);
	cbor_decref(&m);
	/* Ownership: a NULL value is still a clean failure. */
	m = cbor_new_definite_map(1);
	CHECK_EQ(ctap_map_put_uint(m, 1, NULL), -1);
	CHECK_EQ(ctap_map_put_text(m, "k", cbor_build_uint8(1)), 0);
	CHECK_EQ(ctap_map_put_text(m, "full", cbor_build_uint8(1)), -1);
	cbor_decref(&m);
}

static void cbor_typed_reads(void)
{
	static const uint8_t in[] = { 0xa5, 0x01, 0x20, 0x02, 0x40, 0x03,
				      0x60, 0x04, 0xf4, 0x05, 0x3b, 0xff,
				      0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
				      0xff };
	cbor_item_t *m = NULL;
	const uint8_t *p = NULL;
	const char *t = NULL;
	size_t n = 1;
	int64_t i = 0;
	uint64_t u = 0;
	bool b = true;

	CHECK_EQ(ctap_cbor_decode(in, sizeof(in), true, &m), CTAP2_OK);
	CHECK_EQ(ctap_int(ctap_map_uint(m, 1), &i), CTAP2_OK);
	CHECK_EQ(i, -1);
	CHECK_EQ(ctap_uint(ctap_map_uint(m, 1), &u),
		 CTAP2_ERR_CBOR_UNEXPECTED_TYPE);
	CHECK_EQ(ctap_bytes(ctap_map_uint(m, 2), &p, &n), CTAP2_OK);
	CHECK(p != NULL);
	CHECK_EQ(n, 0);
	CHECK_EQ(ctap_text(ctap_map_uint(m, 3), &t, &n), CTAP2_OK);
	CHECK(t != NULL);
	CHECK_EQ(ctap_text(ctap_map_uint(m, 2), &t, &n),
		 CTAP2_ERR_CBOR_UNEXPECTED_TYPE);
	CHECK_EQ(ctap_bool(ctap_map_uint(m, 4), &b), CTAP2_OK);
	CHECK(!b);
	CHECK_EQ(ctap_int(ctap_map_uint(m, 5), &i),
		 CTAP2_ERR_CBOR_UNEXPECTED_TYPE);
	CHECK(ctap_map_uint(m, 6) == NULL);
	CHECK(ctap_map_text(m, "x") == NULL);
	CHECK_EQ(ctap_uint(NULL, &u), CTAP2_ERR_CBOR_UNEXPECTED_TYPE);
	cbor_decref(&m);
}

static void cose_keys(void)
{
	uint8_t pub[65], priv[32], back[65], buf[128];
	size_t pl = sizeof(priv), ql = sizeof(pub);
	struct wbuf w = wbuf_init(buf, sizeof(buf));
	cbor_item_t *k, *d = NULL;

	CHECK_EQ(crypto_ec_generate(CRYPTO_P256, priv, &pl, pub, &ql), 0);
	k = ctap_cose_key(CRYPTO_P256, COSE_ES256, pub, 65);
	CHECK(k != NULL);
	CHECK_EQ(ctap_cbor_encode(k, &w), CTAP2_OK);
	CHECK_EQ(ctap_cbor_decode(buf, w.len, true, &d), CTAP2_OK);
	CHECK_EQ(ctap_cose_p256(d, back), CTAP2_OK);
	CHECK_MEM(back, pub, 65);
	cbor_decref(&k);
	cbor_decref(&d);
	k = ctap_cose_key(CRYPTO_ED25519, COSE_EDDSA, pub + 1, 32);
	CHECK(k != NULL);
	CHECK_EQ(ctap_cose_p256(k, back), CTAP1_ERR_INVALID_PARAMETER);
	cbor_decref(&k);
	CHECK(ctap_cose_key(CRYPTO_P256, COSE_ES256, pub, 64) == NULL);
}

int main(void)
{
	RUN(token_protocol_1);
	RUN(token_protocol_2);
	RUN(token_power_up_voids_it);
	RUN(unbound_token_binds_on_first_use);
	RUN(get_pin_token_superseded);
	RUN(permissions_parameter_rules);
	RUN(set_pin_twice_refused);
	RUN(no_pin_set);
	RUN(wrong_pin_decrements_and_persists);
	RUN(three_wrong_block_until_power_up);
	RUN(eight_wrong_block_for_good);
	RUN(change_pin_works);
	RUN(change_pin_bad_auth);
	RUN(new_pin_policy);
	RUN(pin_hash_sealed_in_store);
	RUN(subcommand_and_protocol_errors);
	RUN(shared_secret_for_extensions);
	RUN(config_without_pin);
	RUN(config_needs_acfg_token);
	RUN(min_pin_length_and_force_change);
	RUN(large_blob_initial_array);
	RUN(large_blob_write_fragments);
	RUN(large_blob_bad_hash);
	RUN(large_blob_set_errors);
	RUN(reset_clears_pin_side);
	RUN(cbor_canonical_accepted);
	RUN(cbor_noncanonical_int);
	RUN(cbor_noncanonical_length);
	RUN(cbor_unsorted_map);
	RUN(cbor_duplicate_key);
	RUN(cbor_indefinite_length);
	RUN(cbor_trailing_bytes);
	RUN(cbor_truncated);
	RUN(cbor_wrong_type);
	RUN(cbor_too_deep);
	RUN(cbor_tag_float_simple);
	RUN(cbor_huge_count);
	RUN(cbor_encode_is_canonical);
	RUN(cbor_typed_reads);
	RUN(cose_keys);
	return CHECK_DONE();
}
