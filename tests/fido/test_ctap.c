/* The credential side of the CTAP core driven through ctap_cbor() on a
 * real key: getInfo, makeCredential/getAssertion (ES256, EdDSA, packed and
 * self attestation checked, signatures verified), discoverable
 * credentials and credential management, extensions, credential-ID
 * forgery, reset, U2F interplay, the counter across SIGKILL, and one
 * regress case per malformed request. This file plays the platform. */
#include <ftw.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../check.h"
#include "applets/fido/ctap_priv.h"
#include "core/key.h"
#include "services/crypto.h"
#include "vkey/vkey.h"

#define RP "example.com"
#define PIN "1234"

/* --- keys on temporary state files ------------------------------------- */

struct tkey {
	char dir[64];
	char path[128];
	struct vkey *key;
	struct ctap *c;
	enum vkey_up_policy policy;
};

static void tkey_open(struct tkey *t)
{
	struct vkey_options opt = { .state_path = t->path, .up = t->policy };
	char err[256];

	if (vkey_open(&t->key, &opt, err, sizeof(err)) != 0 ||
	    ctap_create(t->key, &t->c) != 0) {
		fprintf(stderr, "cannot open %s: %s\n", t->path, err);
		exit(1);
	}
}

static void tkey_close(struct tkey *t)
{
	ctap_destroy(t->c);
	vkey_close(t->key);
	t->c = NULL;
	t->key = NULL;
}

static void tkey_new(struct tkey *t, enum vkey_up_policy policy)
{
	memset(t, 0, sizeof(*t));
	t->policy = policy;
	snprintf(t->dir, sizeof(t->dir), "/tmp/vkey-ctap-XXXXXX");
	if (mkdtemp(t->dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(t->path, sizeof(t->path), "%s/state.vkey", t->dir);
	tkey_open(t);
}

static void tkey_free(struct tkey *t)
{
	if (t->c != NULL)
		tkey_close(t);
	check_rmtree(t->dir);
}

/* --- CBOR building (canonical: callers add keys in order) --------------- */

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

static cbor_item_t *inum(int64_t v)
{
	uint64_t u;

	if (v >= 0)
		return num((uint64_t)v);
	u = (uint64_t)(-1 - v);
	if (u <= UINT8_MAX)
		return cbor_build_negint8((uint8_t)u);
	if (u <= UINT16_MAX)
		return cbor_build_negint16((uint16_t)u);
	return cbor_build_negint32((uint32_t)u);
}

static cbor_item_t *bytes(const void *p, size_t n)
{
	return cbor_build_bytestring(p, n);
}

static void put(cbor_item_t *m, uint64_t k, cbor_item_t *v)
{
	CHECK_EQ(ctap_map_put_uint(m, k, v), 0);
}

static void puts_(cbor_item_t *m, const char *k, cbor_item_t *v)
{
	CHECK_EQ(ctap_map_put_text(m, k, v), 0);
}

static void push(cbor_item_t *a, cbor_item_t *v)
{
	CHECK(cbor_array_push(a, v));
	cbor_decref(&v);
}

static cbor_item_t *descriptor(const uint8_t *id, size_t len)
{
	cbor_item_t *m = cbor_new_definite_map(2);

	puts_(m, "id", bytes(id, len));
	puts_(m, "type", cbor_build_string("public-key"));
	return m;
}

/* --- sending ------------------------------------------------------------ */

static uint8_t resp_buf[CTAP_MAX_MSG];

/* Raw request bytes; *resp gets the decoded response map, if any. */
static uint8_t raw(struct ctap *c, const uint8_t *req, size_t len,
		   cbor_item_t **resp)
{
	uint8_t *copy = malloc(len ? len : 1);
	size_t n;

	if (resp != NULL)
		*resp = NULL;
	/* An exact-size copy, so the sanitizer sees any over-read. */
	memcpy(copy, req, len);
	n = ctap_cbor(c, copy, len, resp_buf, sizeof(resp_buf), NULL);
	free(copy);
	CHECK(n >= 1 && n <= sizeof(resp_buf));
	if (resp_buf[0] == CTAP2_OK && n > 1 && resp != NULL)
		CHECK_EQ(ctap_cbor_decode(resp_buf + 1, n - 1, true, resp),
			 CTAP2_OK);
	if (resp_buf[0] != CTAP2_OK)
		CHECK_EQ(n, 1);
	return resp_buf[0];
}

/* Command byte + serialized params (taken; NULL for none). */
static uint8_t send(struct ctap *c, uint8_t cmd, cbor_item_t *params,
		    cbor_item_t **resp)
{
	unsigned char *buf = NULL;
	size_t cap = 0, len = 0;
	uint8_t req[CTAP_MAX_MSG + 16];
	uint8_t r;

	req[0] = cmd;
	if (params != NULL) {
		len = cbor_serialize_alloc(params, &buf, &cap);
		cbor_decref(&params);
		CHECK(len > 0 && len < sizeof(req) - 1);
		memcpy(req + 1, buf, len);
		free(buf);
	}
	r = raw(c, req, 1 + len, resp);
	return r;
}

static const uint8_t *get_bytes(const cbor_item_t *m, uint64_t k,
				size_t *len)
{
	const uint8_t *p = NULL;

	*len = 0;
	if (ctap_bytes(ctap_map_uint(m, k), &p, len) != CTAP2_OK)
		return NULL;
	return p;
}

static uint64_t get_uint(const cbor_item_t *m, uint64_t k)
{
	uint64_t v = UINT64_MAX;

	ctap_uint(ctap_map_uint(m, k), &v);
	return v;
}

static void drop(cbor_item_t **it)
{
	if (*it != NULL)
		cbor_decref(it);
}

/* --- authenticator data -------------------------------------------------- */

struct ad {
	uint8_t rp_id_hash[32];
	uint8_t flags;
	uint32_t counter;
	uint8_t aaguid[16];
	uint8_t id[CTAP_CRED_ID_MAX];
	size_t id_len;
	int curve;            /* CRYPTO_P256 / CRYPTO_ED25519, 0: none */
	int64_t alg;
	uint8_t pub[65];
	size_t pub_len;
	cbor_item_t *ext;     /* extensions map, or NULL */
};

static const cbor_item_t *cose_get(const cbor_item_t *m, int64_t label)
{
	struct cbor_pair *p = cbor_map_handle(m);
	int64_t k;

	for (size_t i = 0; i < cbor_map_size(m); i++)
		if (ctap_int(p[i].key, &k) == CTAP2_OK && k == label)
			return p[i].value;
	return NULL;
}

/* COSE_Key → raw public key. */
static void cose_pub(const cbor_item_t *cose, struct ad *a)
{
	const uint8_t *x = NULL, *y = NULL;
	size_t xl = 0, yl = 0;
	int64_t kty = 0;

	ctap_int(cose_get(cose, 1), &kty);
	ctap_int(cose_get(cose, 3), &a->alg);
	ctap_bytes(cose_get(cose, -2), &x, &xl);
	CHECK_EQ(xl, 32);
	if (kty == 2) {
		ctap_bytes(cose_get(cose, -3), &y, &yl);
		CHECK_EQ(yl, 32);
		a->curve = CRYPTO_P256;
		a->pub[0] = 0x04;
		memcpy(a->pub + 1, x, 32);
		memcpy(a->pub + 33, y, 32);
		a->pub_len = 65;
	} else {
		CHECK_EQ(kty, 1);
		a->curve = CRYPTO_ED25519;
		memcpy(a->pub, x, 32);
		a->pub_len = 32;
	}
}

static int ad_parse(const uint8_t *p, size_t n, struct ad *a)
{
	struct cbor_load_result res;
	size_t off = 37;
	cbor_item_t *it;

	memset(a, 0, sizeof(*a));
	if (n < 37)
		return -1;
	memcpy(a->rp_id_hash, p, 32);
	a->flags = p[32];
	a->counter = (uint32_t)p[33] << 24 | (uint32_t)p[34] << 16 |
		     (uint32_t)p[35] << 8 | p[36];
	if (a->flags & 0x40) {
		if (n < off + 18)
			return -1;
		memcpy(a->aaguid, p + off, 16);
		a->id_len = (size_t)(p[off + 16] << 8 | p[off + 17]);
		off += 18;
		if (a->id_len > sizeof(a->id) || n < off + a->id_len)
			return -1;
		memcpy(a->id, p + off, a->id_len);
		off += a->id_len;
		it = cbor_load(p + off, n - off, &res);
		if (it == NULL)
			return -1;
		cose_pub(it, a);
		cbor_decref(&it);
		off += res.read;
	}
	if (a->flags & 0x80) {
		it = cbor_load(p + off, n - off, &res);
		if (it == NULL)
			return -1;
		a->ext = it;
		off += res.read;
	}
	return off == n ? 0 : -1;
}

static const cbor_item_t *ext_get(const struct ad *a, const char *name)
{
	return a->ext != NULL ? ctap_map_text(a->ext, name) : NULL;
}

/* --- the platform side of PIN/UV auth protocols 1 and 2 ------------------- */

struct plat {
	uint64_t proto;
	uint8_t secret[64];
	cbor_item_t *cose; /* the platform's key-agreement key */
	uint8_t token[32];
};

static void plat_free(struct plat *p)
{
	drop(&p->cose);
}

static void plat_kdf(struct plat *p, const uint8_t z[32])
{
	static const uint8_t zero[32];

	if (p->proto == 1) {
		crypto_digest(CRYPTO_SHA256, z, 32, p->secret);
		return;
	}
	crypto_hkdf_sha256(zero, 32, z, 32, (const uint8_t *)"CTAP2 HMAC key",
			   14, p->secret, 32);
	crypto_hkdf_sha256(zero, 32, z, 32, (const uint8_t *)"CTAP2 AES key",
			   13, p->secret + 32, 32);
}

static size_t plat_encrypt(const struct plat *p, const uint8_t *in,
			   size_t n, uint8_t *out)
{
	if (p->proto == 1) {
		crypto_aes256_cbc(1, p->secret, NULL, in, n, out);
		return n;
	}
	crypto_random(out, 16);
	crypto_aes256_cbc(1, p->secret + 32, out, in, n, out + 16);
	return n + 16;
}

static size_t plat_decrypt(const struct plat *p, const uint8_t *in,
			   size_t n, uint8_t *out)
{
	if (p->proto == 1) {
		crypto_aes256_cbc(0, p->secret, NULL, in, n, out);
		return n;
	}
	crypto_aes256_cbc(0, p->secret + 32, in, in + 16, n - 16, out);
	return n - 16;
}

/* authenticate(key, msg): protocol 1 keeps 16 bytes of the HMAC. */
static size_t plat_auth(uint64_t proto, const uint8_t *key, size_t key_len,
			const uint8_t *msg, size_t n, uint8_t out[32])
{
	crypto_hmac(CRYPTO_SHA256, key, key_len, msg, n, out);
	return proto == 1 ? 16 : 32;
}

static size_t plat_auth_secret(const struct plat *p, const uint8_t *msg,
			       size_t n, uint8_t out[32])
{
	return plat_auth(p->proto, p->secret, 32, msg, n, out);
}

static size_t plat_auth_token(const struct plat *p, const uint8_t *msg,
			      size_t n, uint8_t out[32])
{
	return plat_auth(p->proto, p->token, 32, msg, n, out);
}

static cbor_item_t *pin_req(uint64_t proto, uint64_t sub, size_t n)
{
	cbor_item_t *m = cbor_new_definite_map(n);

	put(m, 1, num(proto));
	put(m, 2, num(sub));
	return m;
}

/* getKeyAgreement, then ECDH with a fresh platform key. */
static void plat_agree(struct ctap *c, struct plat *p, uint64_t proto)
{
	uint8_t priv[32], pub[65], z[32];
	size_t priv_len = 32, pub_len = 65, z_len = 32;
	cbor_item_t *resp = NULL;
	struct ad peer;

	plat_free(p);
	memset(p, 0, sizeof(*p));
	p->proto = proto;
	CHECK_EQ(send(c, 0x06, pin_req(proto, 2, 2), &resp), CTAP2_OK);
	if (resp == NULL)
		return;
	memset(&peer, 0, sizeof(peer));
	cose_pub(ctap_map_uint(resp, 1), &peer);
	drop(&resp);
	CHECK_EQ(crypto_ec_generate(CRYPTO_P256, priv, &priv_len, pub,
				    &pub_len), 0);
	CHECK_EQ(crypto_ecdh(CRYPTO_P256, priv, priv_len, peer.pub, 65, z,
			     &z_len), 0);
	plat_kdf(p, z);
	p->cose = ctap_cose_key(CRYPTO_P256, COSE_ECDH_ES_HKDF_256, pub, 65);
}

static void pin_set(struct ctap *c, uint64_t proto)
{
	struct plat p = { 0 };
	uint8_t padded[64] = PIN, enc[80], auth[32];
	size_t enc_len, auth_len;
	cbor_item_t *m;

	plat_agree(c, &p, proto);
	enc_len = plat_encrypt(&p, padded, sizeof(padded), enc);
	auth_len = plat_auth_secret(&p, enc, enc_len, auth);
	m = pin_req(proto, 3, 5);
	put(m, 3, cbor_incref(p.cose));
	put(m, 4, bytes(auth, auth_len));
	put(m, 5, bytes(enc, enc_len));
	CHECK_EQ(send(c, 0x06, m, NULL), CTAP2_OK);
	plat_free(&p);
}

/* getPinUvAuthTokenUsingPinWithPermissions. */
static void pin_token(struct ctap *c, struct plat *p, uint64_t proto,
		      uint8_t perms, const char *rp_id)
{
	uint8_t hash[32], enc[48], tok[48];
	const uint8_t *e;
	size_t enc_len, n;
	cbor_item_t *m, *resp = NULL;

	plat_agree(c, p, proto);
	crypto_digest(CRYPTO_SHA256, PIN, strlen(PIN), hash);
	enc_len = plat_encrypt(p, hash, 16, enc);
	m = pin_req(proto, 9, rp_id != NULL ? 6 : 5);
	put(m, 3, cbor_incref(p->cose));
	put(m, 6, bytes(enc, enc_len));
	put(m, 9, num(perms));
	if (rp_id != NULL)
		put(m, 10, cbor_build_string(rp_id));
	CHECK_EQ(send(c, 0x06, m, &resp), CTAP2_OK);
	if (resp == NULL)
		return;
	e = get_bytes(resp, 2, &n);
	CHECK(e != NULL && n == (proto == 1 ? 32u : 48u));
	if (e != NULL && n <= sizeof(tok) && plat_decrypt(p, e, n, tok) == 32)
		memcpy(p->token, tok, 32);
	drop(&resp);
}

/* --- makeCredential and getAssertion requests ---------------------------- */

/* Extension inputs; added in canonical order. */
struct ext_in {
	const uint8_t *blob;
	size_t blob_len;
	bool has_blob;
	int protect;          /* 0: absent */
	bool hmac_mc;         /* makeCredential "hmac-secret": true */
	cbor_item_t *hmac_ga; /* getAssertion hmac-secret input (taken) */
	bool blob_ga;         /* getAssertion "credBlob": true */
	bool lbk;
	bool min_pin;
};

static cbor_item_t *ext_build(struct ext_in *e)
{
	cbor_item_t *m = cbor_new_definite_map(6);

	if (e->has_blob)
		puts_(m, "credBlob", bytes(e->blob, e->blob_len));
	if (e->blob_ga)
		puts_(m, "credBlob", cbor_build_bool(true));
	if (e->protect)
		puts_(m, "credProtect", num((uint64_t)e->protect));
	if (e->hmac_mc)
		puts_(m, "hmac-secret", cbor_build_bool(true));
	if (e->hmac_ga != NULL) {
		puts_(m, "hmac-secret", e->hmac_ga);
		e->hmac_ga = NULL;
	}
	if (e->lbk)
		puts_(m, "largeBlobKey", cbor_build_bool(true));
	if (e->min_pin)
		puts_(m, "minPinLength", cbor_build_bool(true));
	return m;
}

/* -1 absent, 0 false, 1 true. */
static cbor_item_t *options(int rk, int up, int uv)
{
	cbor_item_t *m = cbor_new_definite_map(3);

	if (rk >= 0)
		puts_(m, "rk", cbor_build_bool(rk));
	if (up >= 0)
		puts_(m, "up", cbor_build_bool(up));
	if (uv >= 0)
		puts_(m, "uv", cbor_build_bool(uv));
	return m;
}

struct mc {
	const char *rp;
	char user[32];
	int alg;
	int rk, up, uv;
	struct ext_in ext;
	bool has_ext;
	const uint8_t *exclude;
	size_t exclude_len;
	const struct plat *token; /* pinUvAuthParam from this token */
	bool zero_param;          /* zero-length pinUvAuthParam */
	uint8_t cdh[32];
};

static void mc_init(struct mc *q, const char *rp, int alg, int rk)
{
	memset(q, 0, sizeof(*q));
	q->rp = rp;
	q->alg = alg;
	q->rk = rk;
	q->up = q->uv = -1;
	snprintf(q->user, sizeof(q->user), "alice");
	crypto_random(q->cdh, sizeof(q->cdh));
}

static cbor_item_t *mc_build(struct mc *q)
{
	cbor_item_t *m = cbor_new_definite_map(9), *rp, *user, *params, *alg;
	uint8_t auth[32];

	put(m, 1, bytes(q->cdh, 32));
	rp = cbor_new_definite_map(2);
	puts_(rp, "id", cbor_build_string(q->rp));
	puts_(rp, "name", cbor_build_string("Example"));
	put(m, 2, rp);
	user = cbor_new_definite_map(3);
	puts_(user, "id", bytes(q->user, strlen(q->user)));
	puts_(user, "name", cbor_build_string(q->user));
	puts_(user, "displayName", cbor_build_string("A. User"));
	put(m, 3, user);
	params = cbor_new_definite_array(1);
	alg = cbor_new_definite_map(2);
	puts_(alg, "alg", inum(q->alg));
	puts_(alg, "type", cbor_build_string("public-key"));
	push(params, alg);
	put(m, 4, params);
	if (q->exclude != NULL) {
		cbor_item_t *l = cbor_new_definite_array(1);

		push(l, descriptor(q->exclude, q->exclude_len));
		put(m, 5, l);
	}
	if (q->has_ext)
		put(m, 6, ext_build(&q->ext));
	if (q->rk >= 0 || q->up >= 0 || q->uv >= 0)
		put(m, 7, options(q->rk, q->up, q->uv));
	if (q->zero_param) {
		put(m, 8, bytes("", 0));
		put(m, 9, num(2));
	} else if (q->token != NULL) {
		size_t n = plat_auth_token(q->token, q->cdh, 32, auth);

		put(m, 8, bytes(auth, n));
		put(m, 9, num(q->token->proto));
	}
	return m;
}

/* A made credential, as the relying party sees it. */
struct made {
	struct ad ad;
	uint8_t lbk[32];
	bool has_lbk;
};

static uint8_t mc_send(struct ctap *c, struct mc *q, struct made *out)
{
	cbor_item_t *resp = NULL;
	const uint8_t *p;
	size_t n;
	uint8_t r = send(c, CTAP_CMD_MAKE_CREDENTIAL, mc_build(q), &resp);

	memset(out, 0, sizeof(*out));
	if (r != CTAP2_OK)
		return r;
	p = get_bytes(resp, 2, &n);
	CHECK(p != NULL && ad_parse(p, n, &out->ad) == 0);
	p = get_bytes(resp, 5, &n);
	if (p != NULL && n == 32) {
		memcpy(out->lbk, p, 32);
		out->has_lbk = true;
	}
	drop(&resp);
	return r;
}

/* Make a credential that must succeed. */
static void make(struct ctap *c, const char *rp, int alg, int rk,
		 const char *user, struct made *out)
{
	struct mc q;

	mc_init(&q, rp, alg, rk);
	if (user != NULL)
		snprintf(q.user, sizeof(q.user), "%s", user);
	CHECK_EQ(mc_send(c, &q, out), CTAP2_OK);
}

struct ga {
	const char *rp;
	const uint8_t *ids[4];
	size_t id_lens[4];
	size_t n_ids;
	int rk, up, uv;
	struct ext_in ext;
	bool has_ext;
	const struct plat *token;
	bool zero_param;
	uint8_t cdh[32];
};

static void ga_init(struct ga *q, const char *rp)
{
	memset(q, 0, sizeof(*q));
	q->rp = rp;
	q->rk = q->up = q->uv = -1;
	crypto_random(q->cdh, sizeof(q->cdh));
}

static void ga_allow(struct ga *q, const struct made *m)
{
	q->ids[q->n_ids] = m->ad.id;
	q->id_lens[q->n_ids++] = m->ad.id_len;
}

static cbor_item_t *ga_build(struct ga *q)
{
	cbor_item_t *m = cbor_new_definite_map(7);
	uint8_t auth[32];

	put(m, 1, cbor_build_string(q->rp));
	put(m, 2, bytes(q->cdh, 32));
	if (q->n_ids > 0) {
		cbor_item_t *l = cbor_new_definite_array(q->n_ids);

		for (size_t i = 0; i < q->n_ids; i++)
			push(l, descriptor(q->ids[i], q->id_lens[i]));
		put(m, 3, l);
	}
	if (q->has_ext)
		put(m, 4, ext_build(&q->ext));
	if (q->rk >= 0 || q->up >= 0 || q->uv >= 0)
		put(m, 5, options(q->rk, q->up, q->uv));
	if (q->zero_param) {
		put(m, 6, bytes("", 0));
		put(m, 7, num(2));
	} else if (q->token != NULL) {
		size_t n = plat_auth_token(q->token, q->cdh, 32, auth);

		put(m, 6, bytes(auth, n));
		put(m, 7, num(q->token->proto));
	}
	return m;
}

/* An assertion as the relying party checks it. */
struct got {
	struct ad ad;
	uint8_t id[CTAP_CRED_ID_MAX];
	size_t id_len;
	uint8_t sig[80];
	size_t sig_len;
	uint8_t user_id[64];
	size_t user_id_len;
	bool has_user, user_has_name;
	uint64_t count;      /* numberOfCredentials, or UINT64_MAX */
	uint8_t lbk[32];
	bool has_lbk;
	uint8_t signed_msg[1200];
	size_t signed_len;
};

static void got_parse(const cbor_item_t *resp, const uint8_t cdh[32],
		      struct got *g)
{
	const cbor_item_t *cred, *user;
	const uint8_t *p;
	size_t n;

	cred = ctap_map_uint(resp, 1);
	CHECK(cred != NULL);
	if (cred != NULL && ctap_bytes(ctap_map_text(cred, "id"), &p, &n) ==
				    CTAP2_OK && n <= sizeof(g->id)) {
		memcpy(g->id, p, n);
		g->id_len = n;
	}
	p = get_bytes(resp, 2, &n);
	CHECK(p != NULL && ad_parse(p, n, &g->ad) == 0);
	if (p != NULL && n + 32 <= sizeof(g->signed_msg)) {
		memcpy(g->signed_msg, p, n);
		memcpy(g->signed_msg + n, cdh, 32);
		g->signed_len = n + 32;
	}
	p = get_bytes(resp, 3, &n);
	CHECK(p != NULL && n <= sizeof(g->sig));
	if (p != NULL && n <= sizeof(g->sig)) {
		memcpy(g->sig, p, n);
		g->sig_len = n;
	}
	user = ctap_map_uint(resp, 4);
	if (user != NULL) {
		g->has_user = true;
		g->user_has_name = ctap_map_text(user, "name") != NULL;
		if (ctap_bytes(ctap_map_text(user, "id"), &p, &n) == CTAP2_OK &&
		    n <= sizeof(g->user_id)) {
			memcpy(g->user_id, p, n);
			g->user_id_len = n;
		}
	}
	g->count = get_uint(resp, 5);
	p = get_bytes(resp, 7, &n);
	if (p != NULL && n == 32) {
		memcpy(g->lbk, p, 32);
		g->has_lbk = true;
	}
}

static uint8_t ga_send(struct ctap *c, struct ga *q, struct got *g)
{
	cbor_item_t *resp = NULL;
	uint8_t r = send(c, CTAP_CMD_GET_ASSERTION, ga_build(q), &resp);

	memset(g, 0, sizeof(*g));
	if (r == CTAP2_OK)
		got_parse(resp, q->cdh, g);
	drop(&resp);
	return r;
}

static uint8_t next_send(struct ctap *c, const uint8_t cdh[32], struct got *g)
{
	cbor_item_t *resp = NULL;
	uint8_t r = send(c, CTAP_CMD_GET_NEXT_ASSERTION, NULL, &resp);

	memset(g, 0, sizeof(*g));
	if (r == CTAP2_OK)
		got_parse(resp, cdh, g);
	drop(&resp);
	return r;
}

/* The assertion's signature under the credential's public key. */
static bool got_valid(const struct got *g, const struct made *m)
{
	return crypto_verify(m->ad.curve, m->ad.pub, m->ad.pub_len,
			     g->signed_msg, g->signed_len, g->sig,
			     g->sig_len) == 0;
}

static void rp_hash(const char *rp, uint8_t h[32])
{
	crypto_digest(CRYPTO_SHA256, rp, strlen(rp), h);
}

static void free_made(struct made *m)
{
	drop(&m->ad.ext);
}

static void free_got(struct got *g)
{
	drop(&g->ad.ext);
}

/* --- attestation checks ------------------------------------------------------ */

/* The P-256 public key of a certificate: the one SubjectPublicKeyInfo
 * (id-ecPublicKey, prime256v1) it holds. */
static bool cert_pub(const uint8_t *der, size_t n, uint8_t pub[65])
{
	static const uint8_t spki[] = {
		0x30, 0x59, 0x30, 0x13, 0x06, 0x07, 0x2A, 0x86, 0x48, 0xCE,
		0x3D, 0x02, 0x01, 0x06, 0x08, 0x2A, 0x86, 0x48, 0xCE, 0x3D,
		0x03, 0x01, 0x07, 0x03, 0x42, 0x00,
	};

	for (size_t i = 0; i + sizeof(spki) + 65 <= n; i++)
		if (memcmp(der + i, spki, sizeof(spki)) == 0) {
			memcpy(pub, der + i + sizeof(spki), 65);
			return pub[0] == 0x04;
		}
	return false;
}

static bool write_pem(const char *path, const uint8_t *der, size_t n)
{
	char *pem = crypto_x509_pem(der, n);
	FILE *f = fopen(path, "w");
	bool ok = pem != NULL && f != NULL && fputs(pem, f) >= 0;

	if (f != NULL)
		fclose(f);
	free(pem);
	return ok;
}

/* openssl verify: the leaf chains to the key's CA. */
static bool chain_ok(struct tkey *t, const uint8_t *leaf, size_t leaf_len)
{
	char ca_path[160], leaf_path[160], cmd[1024];
	uint8_t *ca = NULL;
	size_t ca_len = 0;
	bool ok;

	snprintf(ca_path, sizeof(ca_path), "%s/ca.pem", t->dir);
	snprintf(leaf_path, sizeof(leaf_path), "%s/leaf.pem", t->dir);
	ok = ctap_attestation_ca(t->c, &ca, &ca_len) == 0 &&
	     write_pem(ca_path, ca, ca_len) && write_pem(leaf_path, leaf, leaf_len);
	free(ca);
	if (!ok)
		return false;
	snprintf(cmd, sizeof(cmd),
		 "openssl verify -x509_strict -CAfile %s %s >/dev/null 2>&1 && "
		 "openssl x509 -in %s -noout -subject | grep -q "
		 "'OU = Authenticator Attestation'",
		 ca_path, leaf_path, leaf_path);
	return system(cmd) == 0;
}

/* makeCredential with packed attestation, checked as a relying party
 * would: x5c chain, signature over authData || clientDataHash. */
static void check_packed(struct tkey *t, int alg)
{
	cbor_item_t *resp = NULL, *stmt;
	const uint8_t *ad, *sig, *leaf = NULL;
	size_t ad_len, sig_len, leaf_len = 0;
	uint8_t msg[1200], leaf_pub[65];
	const char *fmt;
	size_t fmt_len;
	int64_t att_alg = 0;
	struct ad a;
	struct mc q;

	mc_init(&q, RP, alg, -1);
	CHECK_EQ(send(t->c, CTAP_CMD_MAKE_CREDENTIAL, mc_build(&q), &resp),
		 CTAP2_OK);
	if (resp == NULL)
		return;
	CHECK(ctap_text(ctap_map_uint(resp, 1), &fmt, &fmt_len) == CTAP2_OK &&
	      fmt_len == 6 && memcmp(fmt, "packed", 6) == 0);
	ad = get_bytes(resp, 2, &ad_len);
	CHECK(ad != NULL && ad_parse(ad, ad_len, &a) == 0);
	CHECK_MEM(a.aaguid, ctap_aaguid, 16);
	CHECK_EQ(a.flags & 0x45, 0x41); /* UP, AT, no UV */
	CHECK_EQ(a.alg, alg);
	CHECK_EQ(a.curve, alg == COSE_EDDSA ? CRYPTO_ED25519 : CRYPTO_P256);
	stmt = ctap_map_uint(resp, 3);
	CHECK(ctap_int(ctap_map_text(stmt, "alg"), &att_alg) == CTAP2_OK &&
	      att_alg == COSE_ES256);
	CHECK(ctap_bytes(ctap_map_text(stmt, "sig"), &sig, &sig_len) ==
	      CTAP2_OK);
	if (ctap_map_text(stmt, "x5c") != NULL &&
	    cbor_isa_array(ctap_map_text(stmt, "x5c")) &&
	    cbor_array_size(ctap_map_text(stmt, "x5c")) == 1)
		ctap_bytes(cbor_array_handle(ctap_map_text(stmt, "x5c"))[0],
			   &leaf, &leaf_len);
	CHECK(leaf != NULL && cert_pub(leaf, leaf_len, leaf_pub));
	memcpy(msg, ad, ad_len);
	memcpy(msg + ad_len, q.cdh, 32);
	CHECK_EQ(crypto_verify(CRYPTO_P256, leaf_pub, 65, msg, ad_len + 32, sig,
			       sig_len), 0);
	CHECK(leaf != NULL && chain_ok(t, leaf, leaf_len));
	/* U2F registration uses the same leaf. */
	{
		size_t n = 0;
		const uint8_t *u = ctap_attest_cert(t->c, &n);

		CHECK(u != NULL && n == leaf_len && memcmp(u, leaf, n) == 0);
	}
	drop(&a.ext);
	drop(&resp);
}

/* --- the cases ---------------------------------------------------------------- */

static bool text_in(const cbor_item_t *arr, const char *s)
{
	const char *p;
	size_t n;

	if (arr == NULL || !cbor_isa_array(arr))
		return false;
	for (size_t i = 0; i < cbor_array_size(arr); i++)
		if (ctap_text(cbor_array_handle(arr)[i], &p, &n) == CTAP2_OK &&
		    n == strlen(s) && memcmp(p, s, n) == 0)
			return true;
	return false;
}

static bool opt_is(const cbor_item_t *info, const char *name, bool want)
{
	bool v = !want;

	return ctap_bool(ctap_map_text(ctap_map_uint(info, 4), name), &v) ==
		       CTAP2_OK &&
	       v == want;
}

static void get_info_reports_what_vkey_supports(void)
{
	struct tkey t;
	cbor_item_t *info = NULL;
	const uint8_t *aaguid;
	const cbor_item_t *protos;
	size_t n;

	tkey_new(&t, VKEY_UP_AUTO);
	CHECK_EQ(send(t.c, CTAP_CMD_GET_INFO, NULL, &info), CTAP2_OK);
	CHECK(text_in(ctap_map_uint(info, 1), "FIDO_2_0"));
	CHECK(text_in(ctap_map_uint(info, 1), "FIDO_2_1"));
	CHECK(text_in(ctap_map_uint(info, 1), "U2F_V2"));
	for (size_t i = 0; i < 5; i++) {
		static const char *const ext[] = { "credProtect", "hmac-secret",
						   "credBlob", "largeBlobKey",
						   "minPinLength" };
		CHECK(text_in(ctap_map_uint(info, 2), ext[i]));
	}
	aaguid = get_bytes(info, 3, &n);
	CHECK(aaguid != NULL && n == 16 && memcmp(aaguid, ctap_aaguid, 16) == 0);
	CHECK(opt_is(info, "rk", true));
	CHECK(opt_is(info, "up", true));
	CHECK(opt_is(info, "plat", false));
	CHECK(opt_is(info, "clientPin", false));
	CHECK(opt_is(info, "pinUvAuthToken", true));
	CHECK(opt_is(info, "credMgmt", true));
	CHECK(opt_is(info, "largeBlobs", true));
	CHECK(opt_is(info, "authnrCfg", true));
	CHECK(opt_is(info, "setMinPINLength", true));
	CHECK(opt_is(info, "makeCredUvNotRqd", true));
	CHECK(opt_is(info, "alwaysUv", false));
	CHECK(ctap_map_text(ctap_map_uint(info, 4), "uv") == NULL);
	CHECK_EQ(get_uint(info, 5), CTAP_MAX_MSG);
	protos = ctap_map_uint(info, 6);
	CHECK(protos != NULL && cbor_array_size(protos) == 2 &&
	      cbor_get_int(cbor_array_handle(protos)[0]) == 2 &&
	      cbor_get_int(cbor_array_handle(protos)[1]) == 1);
	CHECK(get_uint(info, 7) >= 1 && get_uint(info, 7) < 1000);
	CHECK_EQ(get_uint(info, 8), CTAP_CRED_ID_MAX);
	CHECK(text_in(ctap_map_uint(info, 9), "usb"));
	CHECK(text_in(ctap_map_uint(info, 9), "nfc"));
	CHECK(cbor_array_size(ctap_map_uint(info, 10)) == 2);
	CHECK_EQ(get_uint(info, 11), ctap_large_blob_max());
	CHECK(ctap_map_uint(info, 12) != NULL);
	CHECK_EQ(get_uint(info, 13), 4);
	CHECK(get_uint(info, 14) != UINT64_MAX);
	CHECK(get_uint(info, 15) >= 32);
	CHECK(get_uint(info, 20) >= 1000);
	drop(&info);
	pin_set(t.c, 2);
	CHECK_EQ(send(t.c, CTAP_CMD_GET_INFO, NULL, &info), CTAP2_OK);
	CHECK(opt_is(info, "clientPin", true));
	drop(&info);
	tkey_free(&t);
}

static void make_credential_es256_packed_attestation(void)
{
	struct tkey t;

	tkey_new(&t, VKEY_UP_AUTO);
	check_packed(&t, COSE_ES256);
	tkey_free(&t);
}

static void make_credential_eddsa_packed_attestation(void)
{
	struct tkey t;

	tkey_new(&t, VKEY_UP_AUTO);
	check_packed(&t, COSE_EDDSA);
	tkey_free(&t);
}

static void self_attestation_from_config(void)
{
	static const char self[] = "self";
	struct tkey t;
	cbor_item_t *resp = NULL, *stmt;
	const uint8_t *ad, *sig;
	size_t ad_len, sig_len;
	uint8_t msg[1200];
	int64_t alg = 0;
	struct ad a;
	struct mc q;

	tkey_new(&t, VKEY_UP_AUTO);
	/* What `vkey config` will write. */
	CHECK_EQ(store_put(vkey_store(t.key), "fido.config", "attestation", 11,
			   self, 4), STORE_OK);
	for (int i = 0; i < 2; i++) {
		int want = i == 0 ? COSE_ES256 : COSE_EDDSA;

		mc_init(&q, RP, want, -1);
		CHECK_EQ(send(t.c, CTAP_CMD_MAKE_CREDENTIAL, mc_build(&q),
			      &resp), CTAP2_OK);
		if (resp == NULL)
			continue;
		ad = get_bytes(resp, 2, &ad_len);
		CHECK(ad != NULL && ad_parse(ad, ad_len, &a) == 0);
		stmt = ctap_map_uint(resp, 3);
		CHECK(ctap_map_text(stmt, "x5c") == NULL);
		CHECK(ctap_int(ctap_map_text(stmt, "alg"), &alg) == CTAP2_OK &&
		      alg == want);
		CHECK(ctap_bytes(ctap_map_text(stmt, "sig"), &sig, &sig_len) ==
		      CTAP2_OK);
		memcpy(msg, ad, ad_len);
		memcpy(msg + ad_len, q.cdh, 32);
		CHECK_EQ(crypto_verify(a.curve, a.pub, a.pub_len, msg,
				       ad_len + 32, sig, sig_len), 0);
		drop(&a.ext);
		drop(&resp);
	}
	tkey_free(&t);
}

static void get_assertion_signatures_verify(void)
{
	static const int algs[] = { COSE_ES256, COSE_EDDSA };
	struct tkey t;
	struct made m;
	struct got g;
	struct ga q;
	uint8_t h[32];

	tkey_new(&t, VKEY_UP_AUTO);
	rp_hash(RP, h);
	for (size_t i = 0; i < 2; i++) {
		make(t.c, RP, algs[i], -1, NULL, &m);
		ga_init(&q, RP);
		ga_allow(&q, &m);
		CHECK_EQ(ga_send(t.c, &q, &g), CTAP2_OK);
		CHECK(got_valid(&g, &m));
		CHECK_MEM(g.ad.rp_id_hash, h, 32);
		CHECK_EQ(g.ad.flags, 0x01); /* UP only */
		CHECK(g.id_len == m.ad.id_len &&
		      memcmp(g.id, m.ad.id, g.id_len) == 0);
		CHECK(!g.has_user); /* non-discoverable: nothing stored */
		CHECK(g.ad.counter > m.ad.counter);
		free_got(&g);
		free_made(&m);
	}
	tkey_free(&t);
}

static void counter_strictly_increases_across_reopen(void)
{
	struct tkey t;
	struct made m;
	struct got g;
	struct ga q;
	uint32_t last;

	tkey_new(&t, VKEY_UP_AUTO);
	make(t.c, RP, COSE_ES256, -1, NULL, &m);
	last = m.ad.counter;
	CHECK(last >= 1);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < 1500; i++) {
			ga_init(&q, RP);
			ga_allow(&q, &m);
			CHECK_EQ(ga_send(t.c, &q, &g), CTAP2_OK);
			CHECK(g.ad.counter > last);
			last = g.ad.counter;
			free_got(&g);
		}
		tkey_close(&t);
		tkey_open(&t);
	}
	/* The U2F entry point draws from the same counter. */
	CHECK(ctap_counter_next(t.c) > last);
	free_made(&m);
	tkey_free(&t);
}

/* --- credential management --------------------------------------------------- */

/* subCommand with its params, authorized by p's token (p NULL: none). */
static uint8_t cm_send(struct ctap *c, const struct plat *p, uint8_t sub,
		       cbor_item_t *sub_params, cbor_item_t **resp)
{
	cbor_item_t *m = cbor_new_definite_map(4);
	uint8_t msg[2048], auth[32];
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0;

	msg[0] = sub;
	put(m, 1, num(sub));
	if (sub_params != NULL) {
		len = cbor_serialize_alloc(sub_params, &buf, &cap);
		CHECK(len > 0 && len < sizeof(msg) - 1);
		memcpy(msg + 1, buf, len);
		free(buf);
		put(m, 2, sub_params);
	}
	if (p != NULL) {
		put(m, 3, num(p->proto));
		put(m, 4, bytes(auth, plat_auth_token(p, msg, 1 + len, auth)));
	}
	return send(c, CTAP_CMD_CRED_MGMT, m, resp);
}

static cbor_item_t *rp_param(const char *rp)
{
	cbor_item_t *m = cbor_new_definite_map(1);
	uint8_t h[32];

	rp_hash(rp, h);
	put(m, 1, bytes(h, 32));
	return m;
}

static cbor_item_t *cred_param(const struct made *cred, const char *user,
			       const char *name)
{
	cbor_item_t *m = cbor_new_definite_map(2);

	put(m, 2, descriptor(cred->ad.id, cred->ad.id_len));
	if (user != NULL) {
		cbor_item_t *u = cbor_new_definite_map(2);

		puts_(u, "id", bytes(user, strlen(user)));
		if (name != NULL)
			puts_(u, "name", cbor_build_string(name));
		put(m, 3, u);
	}
	return m;
}

/* Enumerate one RP's credentials; returns how many, checks each. */
static size_t cm_count_creds(struct ctap *c, const struct plat *p,
			     const char *rp)
{
	cbor_item_t *resp = NULL;
	size_t total, seen = 0;

	if (cm_send(c, p, 4, rp_param(rp), &resp) != CTAP2_OK)
		return 0;
	total = (size_t)get_uint(resp, 9);
	do {
		CHECK(ctap_map_uint(resp, 6) != NULL); /* user */
		CHECK(ctap_map_uint(resp, 7) != NULL); /* credentialID */
		CHECK(ctap_map_uint(resp, 8) != NULL); /* publicKey */
		CHECK(get_uint(resp, 10) >= 1 && get_uint(resp, 10) <= 3);
		drop(&resp);
		seen++;
	} while (seen < total && cm_send(c, NULL, 5, NULL, &resp) == CTAP2_OK);
	CHECK_EQ(seen, total);
	CHECK_EQ(cm_send(c, NULL, 5, NULL, &resp), CTAP2_ERR_NOT_ALLOWED);
	return seen;
}

#define N_RPS 10
#define N_PER_RP 100

static void rp_name(char *buf, size_t cap, int i)
{
	snprintf(buf, cap, "rp%d.example", i);
}

static void discoverable_thousand_enumerate_and_delete(void)
{
	struct tkey t;
	struct made first, last, m;
	struct plat p = { 0 };
	struct got g;
	struct ga q;
	cbor_item_t *resp = NULL;
	char rp[32], user[32];
	size_t rps = 0, total_rps;
	uint64_t before;

	tkey_new(&t, VKEY_UP_AUTO);
	CHECK_EQ(send(t.c, CTAP_CMD_GET_INFO, NULL, &resp), CTAP2_OK);
	before = get_uint(resp, 20);
	drop(&resp);
	for (int i = 0; i < N_RPS; i++)
		for (int u = 0; u < N_PER_RP; u++) {
			rp_name(rp, sizeof(rp), i);
			snprintf(user, sizeof(user), "user%03d", u);
			make(t.c, rp, u % 2 ? COSE_EDDSA : COSE_ES256, 1, user,
			     &m);
			if (i == 0 && u == 0)
				first = m;
			else if (i == 0 && u == N_PER_RP - 1)
				last = m;
			else
				free_made(&m);
		}
	CHECK_EQ(send(t.c, CTAP_CMD_GET_INFO, NULL, &resp), CTAP2_OK);
	CHECK_EQ(get_uint(resp, 20), before - N_RPS * N_PER_RP);
	drop(&resp);

	/* Without an allowList: all of an RP's, newest first. */
	rp_name(rp, sizeof(rp), 0);
	ga_init(&q, rp);
	CHECK_EQ(ga_send(t.c, &q, &g), CTAP2_OK);
	CHECK_EQ(g.count, N_PER_RP);
	CHECK(g.has_user && g.user_id_len == 7 &&
	      memcmp(g.user_id, "user099", 7) == 0);
	CHECK(!g.user_has_name); /* no user verification: id only */
	CHECK(got_valid(&g, &last));
	free_got(&g);
	for (int u = N_PER_RP - 2; u >= 0; u--) {
		snprintf(user, sizeof(user), "user%03d", u);
		CHECK_EQ(next_send(t.c, q.cdh, &g), CTAP2_OK);
		CHECK(g.user_id_len == 7 && memcmp(g.user_id, user, 7) == 0);
		CHECK_EQ(g.count, UINT64_MAX);
		if (u == 0)
			CHECK(got_valid(&g, &first));
		free_got(&g);
	}
	CHECK_EQ(next_send(t.c, q.cdh, &g), CTAP2_ERR_NOT_ALLOWED);

	/* Credential management with a cm token. */
	pin_set(t.c, 2);
	pin_token(t.c, &p, 2, CTAP_PERM_CM, NULL);
	CHECK_EQ(cm_send(t.c, &p, 1, NULL, &resp), CTAP2_OK);
	CHECK_EQ(get_uint(resp, 1), N_RPS * N_PER_RP);
	CHECK_EQ(get_uint(resp, 2), before - N_RPS * N_PER_RP);
	drop(&resp);
	CHECK_EQ(cm_send(t.c, &p, 2, NULL, &resp), CTAP2_OK);
	total_rps = (size_t)get_uint(resp, 5);
	CHECK_EQ(total_rps, N_RPS);
	do {
		const cbor_item_t *e = ctap_map_uint(resp, 3);
		const uint8_t *h;
		uint8_t want[32];
		const char *id;
		size_t n, hn;

		CHECK(ctap_text(ctap_map_text(e, "id"), &id, &n) == CTAP2_OK);
		h = get_bytes(resp, 4, &hn);
		crypto_digest(CRYPTO_SHA256, id, n, want);
		CHECK(h != NULL && hn == 32 && memcmp(h, want, 32) == 0);
		drop(&resp);
		rps++;
	} while (rps < total_rps && cm_send(t.c, NULL, 3, NULL, &resp) ==
						    CTAP2_OK);
	CHECK_EQ(rps, N_RPS);
	CHECK_EQ(cm_count_creds(t.c, &p, rp), N_PER_RP);
	CHECK_EQ(cm_send(t.c, &p, 4, rp_param("nobody.example"), &resp),
		 CTAP2_ERR_NO_CREDENTIALS);

	/* Update a user, then delete the credential. */
	CHECK_EQ(cm_send(t.c, &p, 7, cred_param(&first, "user000", "renamed"),
			 &resp), CTAP2_OK);
	CHECK_EQ(cm_send(t.c, &p, 7, cred_param(&first, "someone", "x"), &resp),
		 CTAP1_ERR_INVALID_PARAMETER);
	CHECK_EQ(cm_send(t.c, &p, 6, cred_param(&first, NULL, NULL), &resp),
		 CTAP2_OK);
	CHECK_EQ(cm_send(t.c, &p, 6, cred_param(&first, NULL, NULL), &resp),
		 CTAP2_ERR_NO_CREDENTIALS);
	CHECK_EQ(cm_send(t.c, &p, 1, NULL, &resp), CTAP2_OK);
	CHECK_EQ(get_uint(resp, 1), N_RPS * N_PER_RP - 1);
	drop(&resp);
	CHECK_EQ(cm_count_creds(t.c, &p, rp), N_PER_RP - 1);
	/* A deleted discoverable credential stays gone, also by its ID. */
	ga_init(&q, rp);
	ga_allow(&q, &first);
	CHECK_EQ(ga_send(t.c, &q, &g), CTAP2_ERR_NO_CREDENTIALS);
	/* Without a token credential management is refused. */
	CHECK_EQ(cm_send(t.c, NULL, 1, NULL, &resp), CTAP2_ERR_PUAT_REQUIRED);
	/* A cm token that carries an RP ID serves that RP only (§6.8). */
	pin_token(t.c, &p, 2, CTAP_PERM_CM, rp);
	CHECK_EQ(cm_send(t.c, &p, 1, NULL, &resp), CTAP2_ERR_PIN_AUTH_INVALID);
	CHECK_EQ(cm_send(t.c, &p, 2, NULL, &resp), CTAP2_ERR_PIN_AUTH_INVALID);
	CHECK_EQ(cm_count_creds(t.c, &p, rp), N_PER_RP - 1);
	rp_name(rp, sizeof(rp), 1);
	CHECK_EQ(cm_send(t.c, &p, 4, rp_param(rp), &resp),
		 CTAP2_ERR_PIN_AUTH_INVALID);
	CHECK_EQ(cm_send(t.c, &p, 7, cred_param(&last, "user099", "x"), &resp),
		 CTAP2_OK);
	plat_free(&p);
	free_made(&first);
	free_made(&last);
	tkey_free(&t);
}

static void same_rp_and_user_replaces_the_credential(void)
{
	struct tkey t;
	struct made a, b;
	struct got g;
	struct ga q;
	size_t before = 0, after = 0;
	cbor_item_t *info = NULL;

	tkey_new(&t, VKEY_UP_AUTO);
	make(t.c, RP, COSE_ES256, 1, "bob", &a);
	CHECK_EQ(send(t.c, CTAP_CMD_GET_INFO, NULL, &info), CTAP2_OK);
	before = (size_t)get_uint(info, 20);
	drop(&info);
	make(t.c, RP, COSE_EDDSA, 1, "bob", &b);
	CHECK_EQ(send(t.c, CTAP_CMD_GET_INFO, NULL, &info), CTAP2_OK);
	after = (size_t)get_uint(info, 20);
	drop(&info);
	CHECK_EQ(before, after);
	ga_init(&q, RP);
	ga_allow(&q, &a);
	CHECK_EQ(ga_send(t.c, &q, &g), CTAP2_ERR_NO_CREDENTIALS);
	ga_init(&q, RP);
	CHECK_EQ(ga_send(t.c, &q, &g), CTAP2_OK);
	CHECK(g.count == UINT64_MAX && got_valid(&g, &b));
	free_got(&g);
	free_made(&a);
	free_made(&b);
	tkey_free(&t);
}

static void full_store_refuses_new_but_replaces(void)
{
	struct tkey t;
	struct made m;
	struct mc q;
	cbor_item_t *info = NULL;
	uint64_t room;
	char user[32];

	tkey_new(&t, VKEY_UP_AUTO);
	CHECK_EQ(send(t.c, CTAP_CMD_GET_INFO, NULL, &info), CTAP2_OK);
	room = get_uint(info, 20);
	drop(&info);
	CHECK(room >= 1000 && room < 100000);
	for (uint64_t i = 0; i < room; i++) {
		snprintf(user, sizeof(user), "u%llu", (unsigned long long)i);
		make(t.c, i % 2 ? RP : "other.example", COSE_ES256, 1, user, &m);
		free_made(&m);
	}
	CHECK_EQ(send(t.c, CTAP_CMD_GET_INFO, NULL, &info), CTAP2_OK);
	CHECK_EQ(get_uint(info, 20), 0);
	drop(&info);
	mc_init(&q, RP, COSE_ES256, 1);
	snprintf(q.user, sizeof(q.user), "newcomer");
	CHECK_EQ(mc_send(t.c, &q, &m), CTAP2_ERR_KEY_STORE_FULL);
	/* The same RP and user replace their credential: still room. */
	snprintf(q.user, sizeof(q.user), "u1");
	CHECK_EQ(mc_send(t.c, &q, &m), CTAP2_OK);
	free_made(&m);
	/* Non-discoverable credentials take no room. */
	make(t.c, RP, COSE_ES256, -1, NULL, &m);
	free_made(&m);
	tkey_free(&t);
}

static void another_command_ends_get_next_assertion(void)
{
	struct tkey t;
	struct made a, b;
	struct got g;
	struct ga q;

	tkey_new(&t, VKEY_UP_AUTO);
	make(t.c, RP, COSE_ES256, 1, "one", &a);
	make(t.c, RP, COSE_EDDSA, 1, "two", &b);
	ga_init(&q, RP);
	CHECK_EQ(ga_send(t.c, &q, &g), CTAP2_OK);
	CHECK(g.count == 2 && got_valid(&g, &b));
	free_got(&g);
	CHECK_EQ(send(t.c, CTAP_CMD_GET_INFO, NULL, NULL), CTAP2_OK);
	CHECK_EQ(next_send(t.c, q.cdh, &g), CTAP2_ERR_NOT_ALLOWED);
	/* Uninterrupted, the second comes, then no more. */
	ga_init(&q, RP);
	CHECK_EQ(ga_send(t.c, &q, &g), CTAP2_OK);
	free_got(&g);
	CHECK_EQ(next_send(t.c, q.cdh, &g), CTAP2_OK);
	CHECK(got_valid(&g, &a) && g.ad.counter > 0);
	free_got(&g);
	CHECK_EQ(next_send(t.c, q.cdh, &g), CTAP2_ERR_NOT_ALLOWED);
	/* With an allowList there is nothing to continue. */
	ga_init(&q, RP);
	ga_allow(&q, &a);
	ga_allow(&q, &b);
	CHECK_EQ(ga_send(t.c, &q, &g), CTAP2_OK);
	CHECK_EQ(g.count, UINT64_MAX);
	free_got(&g);
	CHECK_EQ(next_send(t.c, q.cdh, &g), CTAP2_ERR_NOT_ALLOWED);
	free_made(&a);
	free_made(&b);
	tkey_free(&t);
}

static void reports_name_credentials_and_settings(void)
{
	struct tkey t;
	struct made m;
	char buf[4096];
	struct wbuf w = wbuf_init((uint8_t *)buf, sizeof(buf) - 1);
	uint8_t *ca = NULL;
	size_t ca_len = 0;

	tkey_new(&t, VKEY_UP_AUTO);
	make(t.c, RP, COSE_EDDSA, 1, "carol\nfake line", &m);
	free_made(&m);
	CHECK_EQ(ctap_report_status(t.c, &w), 0);
	CHECK_EQ(ctap_report_list(t.c, &w), 0);
	buf[w.len] = '\0';
	CHECK(strstr(buf, "1 discoverable credential") != NULL);
	CHECK(strstr(buf, "no PIN set") != NULL);
	CHECK(strstr(buf, RP "  carol?fake line  EdDSA  credProtect 1") != NULL);
	CHECK(strstr(buf, "\nfake") == NULL);
	CHECK_EQ(ctap_attestation_ca(t.c, &ca, &ca_len), 0);
	CHECK(ca != NULL && ca_len > 100);
	free(ca);
	CHECK(strcmp(ctap_status_text(CTAP2_ERR_PUAT_REQUIRED),
		     "PUAT_REQUIRED") == 0);
	CHECK(strcmp(ctap_command_name(CTAP_CMD_GET_INFO), "getInfo") == 0);
	tkey_free(&t);
}

/* --- extensions -------------------------------------------------------------- */

static void make_ext(struct ctap *c, const char *user, int rk,
		     struct ext_in *e, struct made *out)
{
	struct mc q;

	mc_init(&q, RP, COSE_ES256, rk);
	snprintf(q.user, sizeof(q.user), "%s", user);
	q.ext = *e;
	q.has_ext = true;
	CHECK_EQ(mc_send(c, &q, out), CTAP2_OK);
}

static uint8_t ga_one(struct ctap *c, const struct made *m, bool listed,
		      const struct plat *token, struct got *g)
{
	struct ga q;

	ga_init(&q, RP);
	if (listed)
		ga_allow(&q, m);
	q.token = token;
	return ga_send(c, &q, g);
}

static void cred_protect_levels_are_enforced(void)
{
	struct tkey t;
	struct made m[3], again;
	struct plat p = { 0 };
	struct ext_in e;
	struct got g;
	struct mc q;
	uint64_t protect = 0;

	tkey_new(&t, VKEY_UP_AUTO);
	for (int level = 1; level <= 3; level++) {
		char user[8];

		memset(&e, 0, sizeof(e));
		e.protect = level;
		snprintf(user, sizeof(user), "u%d", level);
		make_ext(t.c, user, 1, &e, &m[level - 1]);
		CHECK(ctap_uint(ext_get(&m[level - 1].ad, "credProtect"),
				&protect) == CTAP2_OK &&
		      protect == (uint64_t)level);
	}
	/* No UV, no allowList: only level 1 is discoverable. */
	CHECK_EQ(ga_one(t.c, &m[0], false, NULL, &g), CTAP2_OK);
	CHECK(g.count == UINT64_MAX && got_valid(&g, &m[0]));
	free_got(&g);
	/* No UV, with allowList: levels 1 and 2. */
	CHECK_EQ(ga_one(t.c, &m[1], true, NULL, &g), CTAP2_OK);
	free_got(&g);
	CHECK_EQ(ga_one(t.c, &m[2], true, NULL, &g), CTAP2_ERR_NO_CREDENTIALS);
	/* Level 3 does not even exclude without UV. */
	mc_init(&q, RP, COSE_ES256, -1);
	q.exclude = m[2].ad.id;
	q.exclude_len = m[2].ad.id_len;
	CHECK_EQ(mc_send(t.c, &q, &again), CTAP2_OK);
	free_made(&again);
	q.exclude = m[1].ad.id;
	q.exclude_len = m[1].ad.id_len;
	CHECK_EQ(mc_send(t.c, &q, &again), CTAP2_ERR_CREDENTIAL_EXCLUDED);
	/* With UV every level is usable, and discoverable. */
	pin_set(t.c, 1);
	pin_token(t.c, &p, 1, CTAP_PERM_GA, RP);
	CHECK_EQ(ga_one(t.c, &m[2], true, &p, &g), CTAP2_OK);
	CHECK(got_valid(&g, &m[2]) && (g.ad.flags & 0x04));
	free_got(&g);
	pin_token(t.c, &p, 2, CTAP_PERM_GA, RP);
	CHECK_EQ(ga_one(t.c, &m[0], false, &p, &g), CTAP2_OK);
	CHECK_EQ(g.count, 3); /* the excludeList one is not discoverable */
	CHECK(g.user_has_name); /* user verified: names too */
	free_got(&g);
	plat_free(&p);
	for (int i = 0; i < 3; i++)
		free_made(&m[i]);
	tkey_free(&t);
}

/* hmac-secret input for protocol p over salts. */
static cbor_item_t *hmac_in(const struct plat *p, const uint8_t *salts,
			    size_t n)
{
	cbor_item_t *m = cbor_new_definite_map(4);
	uint8_t enc[96], auth[32];
	size_t enc_len = plat_encrypt(p, salts, n, enc);

	put(m, 1, cbor_incref(p->cose));
	put(m, 2, bytes(enc, enc_len));
	put(m, 3, bytes(auth, plat_auth_secret(p, enc, enc_len, auth)));
	put(m, 4, num(p->proto));
	return m;
}

/* The decrypted hmac-secret output of one assertion. */
static size_t hmac_get(struct ctap *c, const struct made *m,
		       const struct plat *p, const struct plat *token,
		       const uint8_t *salts, size_t n, uint8_t out[64])
{
	struct ga q;
	struct got g;
	const uint8_t *enc;
	size_t enc_len = 0, got_len = 0;

	ga_init(&q, RP);
	ga_allow(&q, m);
	q.token = token;
	q.has_ext = true;
	q.ext.hmac_ga = hmac_in(p, salts, n);
	CHECK_EQ(ga_send(c, &q, &g), CTAP2_OK);
	CHECK(got_valid(&g, m));
	if (ctap_bytes(ext_get(&g.ad, "hmac-secret"), &enc, &enc_len) ==
		    CTAP2_OK &&
	    enc_len == n + (p->proto == 2 ? 16 : 0))
		got_len = plat_decrypt(p, enc, enc_len, out);
	CHECK_EQ(got_len, n);
	free_got(&g);
	return got_len;
}

static void hmac_secret_stable_and_split_by_uv(void)
{
	struct tkey t;
	struct made m;
	struct plat p = { 0 }, tok = { 0 };
	struct ext_in e;
	uint8_t salts[64], swapped[64], a[64], b[64], c2[64], uv[64];
	bool yes = false;

	tkey_new(&t, VKEY_UP_AUTO);
	memset(&e, 0, sizeof(e));
	e.hmac_mc = true;
	make_ext(t.c, "h", -1, &e, &m);
	CHECK(ctap_bool(ext_get(&m.ad, "hmac-secret"), &yes) == CTAP2_OK && yes);
	crypto_random(salts, sizeof(salts));
	memcpy(swapped, salts + 32, 32);
	memcpy(swapped + 32, salts, 32);
	for (uint64_t proto = 1; proto <= 2; proto++) {
		plat_agree(t.c, &p, proto);
		hmac_get(t.c, &m, &p, NULL, salts, 64, a);
		hmac_get(t.c, &m, &p, NULL, salts, 32, b);
		hmac_get(t.c, &m, &p, NULL, swapped, 64, c2);
		CHECK_MEM(a, b, 32);          /* stable */
		CHECK_MEM(a, c2 + 32, 32);    /* per salt */
		CHECK_MEM(a + 32, c2, 32);
		CHECK(memcmp(a, a + 32, 32) != 0);
	}
	/* With user verification: the other CredRandom. */
	pin_set(t.c, 2);
	pin_token(t.c, &tok, 2, CTAP_PERM_GA, RP);
	plat_agree(t.c, &p, 2);
	hmac_get(t.c, &m, &p, &tok, salts, 32, uv);
	CHECK(memcmp(uv, a, 32) != 0);
	pin_token(t.c, &tok, 1, CTAP_PERM_GA, RP);
	plat_agree(t.c, &p, 1);
	hmac_get(t.c, &m, &p, &tok, salts, 32, b);
	CHECK_MEM(uv, b, 32); /* stable with UV too, whatever the protocol */
	plat_agree(t.c, &p, 1);
	hmac_get(t.c, &m, &p, NULL, salts, 32, b);
	CHECK_MEM(a, b, 32);
	plat_free(&p);
	plat_free(&tok);
	free_made(&m);
	tkey_free(&t);
}

static void cred_blob_stored_and_returned(void)
{
	struct tkey t;
	struct made m;
	struct ext_in e;
	struct ga q;
	struct got g;
	uint8_t blob[33];
	const uint8_t *p;
	size_t n;
	bool stored = true;

	tkey_new(&t, VKEY_UP_AUTO);
	crypto_random(blob, sizeof(blob));
	for (int rk = -1; rk <= 1; rk += 2)
		for (size_t len = 32; len <= 33; len++) {
			memset(&e, 0, sizeof(e));
			e.has_blob = true;
			e.blob = blob;
			e.blob_len = len;
			make_ext(t.c, rk > 0 ? "blob-rk" : "blob", rk, &e, &m);
			CHECK(ctap_bool(ext_get(&m.ad, "credBlob"), &stored) ==
			      CTAP2_OK && stored == (len == 32));
			ga_init(&q, RP);
			ga_allow(&q, &m);
			q.has_ext = true;
			q.ext.blob_ga = true;
			CHECK_EQ(ga_send(t.c, &q, &g), CTAP2_OK);
			CHECK(ctap_bytes(ext_get(&g.ad, "credBlob"), &p, &n) ==
			      CTAP2_OK);
			CHECK(len == 33 ? n == 0 : (n == 32 && !memcmp(p, blob, 32)));
			free_got(&g);
			/* Not asked: not given. */
			CHECK_EQ(ga_one(t.c, &m, true, NULL, &g), CTAP2_OK);
			CHECK(g.ad.ext == NULL && !(g.ad.flags & 0x80));
			free_got(&g);
			free_made(&m);
		}
	tkey_free(&t);
}

static void large_blob_key_only_for_discoverable(void)
{
	struct tkey t;
	struct made m, plain;
	struct ext_in e;
	struct ga q;
	struct got g;
	struct mc mq;

	tkey_new(&t, VKEY_UP_AUTO);
	memset(&e, 0, sizeof(e));
	e.lbk = true;
	make_ext(t.c, "lbk", 1, &e, &m);
	CHECK(m.has_lbk);
	CHECK(m.ad.ext == NULL); /* an outer member, not an authData one */
	ga_init(&q, RP);
	ga_allow(&q, &m);
	q.has_ext = true;
	q.ext.lbk = true;
	CHECK_EQ(ga_send(t.c, &q, &g), CTAP2_OK);
	CHECK(g.has_lbk && memcmp(g.lbk, m.lbk, 32) == 0);
	free_got(&g);
	CHECK_EQ(ga_one(t.c, &m, true, NULL, &g), CTAP2_OK);
	CHECK(!g.has_lbk);
	free_got(&g);
	make(t.c, RP, COSE_ES256, 1, "plain", &plain);
	CHECK(!plain.has_lbk);
	mc_init(&mq, RP, COSE_ES256, -1);
	mq.has_ext = true;
	mq.ext.lbk = true;
	CHECK_EQ(mc_send(t.c, &mq, &plain), CTAP2_ERR_INVALID_OPTION);
	free_made(&m);
	tkey_free(&t);
}

static void min_pin_length_only_for_listed_rps(void)
{
	struct tkey t;
	struct made m;
	struct ext_in e;
	uint64_t v = 0;

	tkey_new(&t, VKEY_UP_AUTO);
	memset(&e, 0, sizeof(e));
	e.min_pin = true;
	make_ext(t.c, "mp", -1, &e, &m);
	CHECK(ext_get(&m.ad, "minPinLength") == NULL);
	free_made(&m);
	/* The PIN side's config, as authenticatorConfig would set it. */
	snprintf(t.c->config.min_pin_rpids[0], CTAP_RP_ID_MAX, "%s", RP);
	t.c->config.n_min_pin_rpids = 1;
	make_ext(t.c, "mp", -1, &e, &m);
	CHECK(ctap_uint(ext_get(&m.ad, "minPinLength"), &v) == CTAP2_OK &&
	      v == t.c->config.min_pin_len);
	free_made(&m);
	tkey_free(&t);
}

/* --- credential IDs ---------------------------------------------------------- */

static uint8_t ga_id(struct ctap *c, const char *rp, const uint8_t *id,
		     size_t n)
{
	struct ga q;
	struct got g;
	uint8_t r;

	ga_init(&q, rp);
	q.ids[0] = id;
	q.id_lens[0] = n;
	q.n_ids = 1;
	r = ga_send(c, &q, &g);
	free_got(&g);
	return r;
}

static void forged_altered_and_foreign_ids_rejected(void)
{
	struct tkey t, other;
	struct made m, foreign;
	uint8_t id[CTAP_CRED_ID_MAX];

	tkey_new(&t, VKEY_UP_AUTO);
	tkey_new(&other, VKEY_UP_AUTO);
	make(t.c, RP, COSE_ES256, -1, NULL, &m);
	make(other.c, RP, COSE_ES256, -1, NULL, &foreign);
	CHECK_EQ(ga_id(t.c, RP, m.ad.id, m.ad.id_len), CTAP2_OK);
	/* Every single bit flipped. */
	for (size_t i = 0; i < m.ad.id_len * 8; i += 7) {
		memcpy(id, m.ad.id, m.ad.id_len);
		id[i / 8] ^= (uint8_t)(1u << (i % 8));
		CHECK_EQ(ga_id(t.c, RP, id, m.ad.id_len),
			 CTAP2_ERR_NO_CREDENTIALS);
	}
	/* Truncated, extended, another RP, another key, random bytes. */
	CHECK_EQ(ga_id(t.c, RP, m.ad.id, m.ad.id_len - 1),
		 CTAP2_ERR_NO_CREDENTIALS);
	memcpy(id, m.ad.id, m.ad.id_len);
	id[m.ad.id_len] = 0;
	CHECK_EQ(ga_id(t.c, RP, id, m.ad.id_len + 1), CTAP2_ERR_NO_CREDENTIALS);
	CHECK_EQ(ga_id(t.c, "evil.example", m.ad.id, m.ad.id_len),
		 CTAP2_ERR_NO_CREDENTIALS);
	CHECK_EQ(ga_id(t.c, RP, foreign.ad.id, foreign.ad.id_len),
		 CTAP2_ERR_NO_CREDENTIALS);
	crypto_random(id, sizeof(id));
	CHECK_EQ(ga_id(t.c, RP, id, sizeof(id)), CTAP2_ERR_NO_CREDENTIALS);
	CHECK_EQ(ga_id(t.c, RP, id, 0), CTAP2_ERR_NO_CREDENTIALS);
	/* Two fresh keys are different keys. */
	CHECK(memcmp(m.ad.pub, foreign.ad.pub, 65) != 0);
	free_made(&m);
	free_made(&foreign);
	tkey_free(&other);
	tkey_free(&t);
}

static void u2f_and_ctap2_share_credentials(void)
{
	struct tkey t;
	struct made es, ed;
	uint8_t h[32], other[32], kh[CTAP_CRED_ID_MAX], pub[65], sig[80];
	size_t kh_len = 0, sig_len = sizeof(sig);
	struct ga q;
	struct got g;
	struct made as_made;

	tkey_new(&t, VKEY_UP_AUTO);
	rp_hash(RP, h);
	rp_hash("other.example", other);
	/* CTAP2 non-discoverable ES256 → usable through U2F. */
	make(t.c, RP, COSE_ES256, -1, NULL, &es);
	CHECK(ctap_cred_u2f_usable(t.c, h, es.ad.id, es.ad.id_len));
	CHECK(!ctap_cred_u2f_usable(t.c, other, es.ad.id, es.ad.id_len));
	CHECK_EQ(ctap_cred_sign_u2f(t.c, h, es.ad.id, es.ad.id_len,
				    (const uint8_t *)"msg", 3, sig, &sig_len),
		 CTAP2_OK);
	CHECK_EQ(crypto_verify(CRYPTO_P256, es.ad.pub, 65,
			       (const uint8_t *)"msg", 3, sig, sig_len), 0);
	CHECK(ctap_cred_sign_u2f(t.c, other, es.ad.id, es.ad.id_len,
				 (const uint8_t *)"msg", 3, sig, &sig_len) !=
	      CTAP2_OK);
	/* EdDSA is not for U2F. */
	make(t.c, RP, COSE_EDDSA, -1, NULL, &ed);
	CHECK(!ctap_cred_u2f_usable(t.c, h, ed.ad.id, ed.ad.id_len));
	/* A U2F key handle in getAssertion's allowList (appid: the client
	 * hashes the AppID as the rpIdHash; here the RP ID is the AppID). */
	CHECK_EQ(ctap_cred_new_u2f(t.c, h, kh, &kh_len, pub), CTAP2_OK);
	CHECK(kh_len <= CTAP_CRED_ID_MAX);
	ga_init(&q, RP);
	q.ids[0] = kh;
	q.id_lens[0] = kh_len;
	q.n_ids = 1;
	CHECK_EQ(ga_send(t.c, &q, &g), CTAP2_OK);
	memset(&as_made, 0, sizeof(as_made));
	as_made.ad.curve = CRYPTO_P256;
	memcpy(as_made.ad.pub, pub, 65);
	as_made.ad.pub_len = 65;
	CHECK(got_valid(&g, &as_made));
	free_got(&g);
	/* alwaysUv retires U2F, and getInfo says so. */
	t.c->config.always_uv = true;
	CHECK(!ctap_cred_u2f_usable(t.c, h, es.ad.id, es.ad.id_len));
	CHECK(ctap_cred_new_u2f(t.c, h, kh, &kh_len, pub) != CTAP2_OK);
	{
		cbor_item_t *info = NULL;

		CHECK_EQ(send(t.c, CTAP_CMD_GET_INFO, NULL, &info), CTAP2_OK);
		CHECK(!text_in(ctap_map_uint(info, 1), "U2F_V2"));
		CHECK(text_in(ctap_map_uint(info, 1), "FIDO_2_1"));
		CHECK(opt_is(info, "alwaysUv", true));
		CHECK(opt_is(info, "makeCredUvNotRqd", false));
		drop(&info);
	}
	t.c->config.always_uv = false;
	free_made(&es);
	free_made(&ed);
	tkey_free(&t);
}

/* --- reset and selection ----------------------------------------------------- */

static void reset_within_window_forgets_credentials(void)
{
	struct tkey t;
	struct made rk, nrk, fresh;
	struct got g;
	uint32_t before;

	tkey_new(&t, VKEY_UP_AUTO);
	make(t.c, RP, COSE_ES256, 1, "r", &rk);
	make(t.c, RP, COSE_ES256, -1, NULL, &nrk);
	before = nrk.ad.counter;
	pin_set(t.c, 2);
	CHECK_EQ(send(t.c, CTAP_CMD_RESET, NULL, NULL), CTAP2_OK);
	CHECK(!ctap_pin_is_set(t.c));
	CHECK_EQ(ga_one(t.c, &rk, true, NULL, &g), CTAP2_ERR_NO_CREDENTIALS);
	CHECK_EQ(ga_one(t.c, &nrk, true, NULL, &g), CTAP2_ERR_NO_CREDENTIALS);
	CHECK_EQ(ga_one(t.c, &rk, false, NULL, &g), CTAP2_ERR_NO_CREDENTIALS);
	/* The counter never goes back, not even over a reset. */
	make(t.c, RP, COSE_ES256, -1, NULL, &fresh);
	CHECK(fresh.ad.counter > before);
	/* After a reopen, the reset still holds. */
	tkey_close(&t);
	tkey_open(&t);
	CHECK_EQ(ga_one(t.c, &nrk, true, NULL, &g), CTAP2_ERR_NO_CREDENTIALS);
	CHECK_EQ(ga_one(t.c, &fresh, true, NULL, &g), CTAP2_OK);
	free_got(&g);
	/* Outside the window: not allowed. */
	t.c->power_up.tv_sec -= CTAP_RESET_WINDOW_MS / 1000 + 1;
	CHECK_EQ(send(t.c, CTAP_CMD_RESET, NULL, NULL), CTAP2_ERR_NOT_ALLOWED);
	CHECK_EQ(ga_one(t.c, &fresh, true, NULL, &g), CTAP2_OK);
	free_got(&g);
	/* A power-up opens it again. */
	ctap_power_up(t.c);
	CHECK_EQ(send(t.c, CTAP_CMD_RESET, NULL, NULL), CTAP2_OK);
	CHECK_EQ(send(t.c, CTAP_CMD_SELECTION, NULL, NULL), CTAP2_OK);
	free_made(&rk);
	free_made(&nrk);
	free_made(&fresh);
	tkey_free(&t);
}

static void denied_presence_refuses_and_changes_nothing(void)
{
	struct tkey t;
	struct made m;
	struct mc q;
	struct ga gq;
	struct got g;
	cbor_item_t *info = NULL;
	uint64_t room;

	tkey_new(&t, VKEY_UP_DENY);
	CHECK_EQ(send(t.c, CTAP_CMD_GET_INFO, NULL, &info), CTAP2_OK);
	room = get_uint(info, 20);
	drop(&info);
	mc_init(&q, RP, COSE_ES256, 1);
	CHECK_EQ(mc_send(t.c, &q, &m), CTAP2_ERR_OPERATION_DENIED);
	CHECK_EQ(send(t.c, CTAP_CMD_GET_INFO, NULL, &info), CTAP2_OK);
	CHECK_EQ(get_uint(info, 20), room);
	drop(&info);
	CHECK_EQ(send(t.c, CTAP_CMD_RESET, NULL, NULL),
		 CTAP2_ERR_OPERATION_DENIED);
	CHECK_EQ(send(t.c, CTAP_CMD_SELECTION, NULL, NULL),
		 CTAP2_ERR_OPERATION_DENIED);
	/* The zero-length probe needs a touch too. */
	mc_init(&q, RP, COSE_ES256, -1);
	q.zero_param = true;
	CHECK_EQ(mc_send(t.c, &q, &m), CTAP2_ERR_OPERATION_DENIED);
	/* A U2F-made credential, then a silent (up=false) assertion works
	 * without a touch and says so. */
	{
		uint8_t h[32], kh[CTAP_CRED_ID_MAX], pub[65];
		size_t kh_len = 0;

		rp_hash(RP, h);
		CHECK_EQ(ctap_cred_new_u2f(t.c, h, kh, &kh_len, pub), CTAP2_OK);
		ga_init(&gq, RP);
		gq.ids[0] = kh;
		gq.id_lens[0] = kh_len;
		gq.n_ids = 1;
		CHECK_EQ(ga_send(t.c, &gq, &g), CTAP2_ERR_OPERATION_DENIED);
		gq.up = 0;
		CHECK_EQ(ga_send(t.c, &gq, &g), CTAP2_OK);
		CHECK_EQ(g.ad.flags & 0x01, 0);
		free_got(&g);
	}
	tkey_free(&t);
}

/* The prompt policy: a touch from another thread answers, and the
 * pending request names the operation and the RP. */
struct toucher {
	struct vkey *key;
	char what[96];
};

static void *touch_when_asked(void *arg)
{
	struct toucher *t = arg;

	for (int i = 0; i < 500; i++) {
		if (up_pending(vkey_up(t->key), t->what, sizeof(t->what))) {
			vkey_touch(t->key, 1000);
			break;
		}
		usleep(2000);
	}
	return NULL;
}

static int cancel_after_two(void *arg)
{
	int *ticks = arg;

	return ++*ticks > 2;
}

static void prompt_names_the_rp_and_can_be_cancelled(void)
{
	struct tkey t;
	struct toucher who = { 0 };
	struct made m;
	pthread_t th;
	struct mc q;
	uint8_t resp1[CTAP_MAX_MSG];
	int ticks = 0;
	struct ctap_wait w = { cancel_after_two, &ticks };
	unsigned char *buf = NULL;
	size_t len, cap = 0;
	uint8_t req[1024];

	tkey_new(&t, VKEY_UP_PROMPT);
	who.key = t.key;
	CHECK_EQ(pthread_create(&th, NULL, touch_when_asked, &who), 0);
	mc_init(&q, RP, COSE_ES256, -1);
	CHECK_EQ(mc_send(t.c, &q, &m), CTAP2_OK);
	pthread_join(th, NULL);
	CHECK(strcmp(who.what, "register with " RP) == 0);
	free_made(&m);
	/* A transport's CANCEL (the tick says so) ends the wait. */
	mc_init(&q, RP, COSE_ES256, -1);
	{
		cbor_item_t *r = mc_build(&q);

		len = cbor_serialize_alloc(r, &buf, &cap);
		cbor_decref(&r);
	}
	req[0] = CTAP_CMD_MAKE_CREDENTIAL;
	memcpy(req + 1, buf, len);
	free(buf);
	CHECK_EQ(ctap_cbor(t.c, req, len + 1, resp1, sizeof(resp1), &w), 1);
	CHECK_EQ(resp1[0], CTAP2_ERR_KEEPALIVE_CANCEL);
	CHECK(ticks >= 3);
	tkey_free(&t);
}

/* --- options and PIN tokens ---------------------------------------------------- */

static void zero_length_pin_param_probes_for_a_pin(void)
{
	struct tkey t;
	struct made m;
	struct mc q;
	struct ga gq;
	struct got g;

	tkey_new(&t, VKEY_UP_AUTO);
	mc_init(&q, RP, COSE_ES256, -1);
	q.zero_param = true;
	CHECK_EQ(mc_send(t.c, &q, &m), CTAP2_ERR_PIN_NOT_SET);
	ga_init(&gq, RP);
	gq.zero_param = true;
	CHECK_EQ(ga_send(t.c, &gq, &g), CTAP2_ERR_PIN_NOT_SET);
	pin_set(t.c, 2);
	CHECK_EQ(mc_send(t.c, &q, &m), CTAP2_ERR_PIN_INVALID);
	CHECK_EQ(ga_send(t.c, &gq, &g), CTAP2_ERR_PIN_INVALID);
	tkey_free(&t);
}

static void options_without_builtin_uv(void)
{
	struct tkey t;
	struct made m;
	struct mc q;
	struct ga gq;
	struct got g;

	tkey_new(&t, VKEY_UP_AUTO);
	mc_init(&q, RP, COSE_ES256, -1);
	q.uv = 1;
	CHECK_EQ(mc_send(t.c, &q, &m), CTAP2_ERR_INVALID_OPTION);
	q.uv = 0;
	q.up = 0;
	CHECK_EQ(mc_send(t.c, &q, &m), CTAP2_ERR_INVALID_OPTION);
	q.up = 1;
	CHECK_EQ(mc_send(t.c, &q, &m), CTAP2_OK);
	ga_init(&gq, RP);
	ga_allow(&gq, &m);
	gq.uv = 1;
	CHECK_EQ(ga_send(t.c, &gq, &g), CTAP2_ERR_INVALID_OPTION);
	gq.uv = -1;
	gq.rk = 0;
	CHECK_EQ(ga_send(t.c, &gq, &g), CTAP2_ERR_UNSUPPORTED_OPTION);
	free_made(&m);
	/* Algorithms: none supported → UNSUPPORTED_ALGORITHM. */
	mc_init(&q, RP, -257, -1);
	CHECK_EQ(mc_send(t.c, &q, &m), CTAP2_ERR_UNSUPPORTED_ALGORITHM);
	tkey_free(&t);
}

static void exclude_list_refuses_existing_credential(void)
{
	struct tkey t;
	struct made m, again;
	struct mc q;

	tkey_new(&t, VKEY_UP_AUTO);
	make(t.c, RP, COSE_EDDSA, 1, "ex", &m);
	mc_init(&q, RP, COSE_ES256, 1);
	q.exclude = m.ad.id;
	q.exclude_len = m.ad.id_len;
	CHECK_EQ(mc_send(t.c, &q, &again), CTAP2_ERR_CREDENTIAL_EXCLUDED);
	/* Another RP's exclusion list does not match it. */
	mc_init(&q, "other.example", COSE_ES256, 1);
	q.exclude = m.ad.id;
	q.exclude_len = m.ad.id_len;
	CHECK_EQ(mc_send(t.c, &q, &again), CTAP2_OK);
	free_made(&again);
	free_made(&m);
	tkey_free(&t);
}

static void pin_token_gives_uv_and_binds_rp(void)
{
	struct tkey t;
	struct plat p = { 0 };
	struct made m;
	struct mc q;
	struct got g;

	tkey_new(&t, VKEY_UP_AUTO);
	pin_set(t.c, 2);
	/* With a PIN: discoverable needs the token (makeCredUvNotRqd says
	 * non-discoverable does not). */
	mc_init(&q, RP, COSE_ES256, 1);
	CHECK_EQ(mc_send(t.c, &q, &m), CTAP2_ERR_PUAT_REQUIRED);
	mc_init(&q, RP, COSE_ES256, -1);
	CHECK_EQ(mc_send(t.c, &q, &m), CTAP2_OK);
	CHECK_EQ(m.ad.flags & 0x04, 0);
	free_made(&m);
	for (uint64_t proto = 1; proto <= 2; proto++) {
		pin_token(t.c, &p, proto, CTAP_PERM_MC | CTAP_PERM_GA, RP);
		mc_init(&q, RP, COSE_ES256, 1);
		q.token = &p;
		CHECK_EQ(mc_send(t.c, &q, &m), CTAP2_OK);
		CHECK_EQ(m.ad.flags & 0x05, 0x05); /* UP and UV */
		/* The token's permissions are spent with the touch. */
		CHECK_EQ(ga_one(t.c, &m, true, &p, &g),
			 CTAP2_ERR_PIN_AUTH_INVALID);
		pin_token(t.c, &p, proto, CTAP_PERM_GA, RP);
		CHECK_EQ(ga_one(t.c, &m, false, &p, &g), CTAP2_OK);
		CHECK(g.ad.flags & 0x04 && g.user_has_name);
		free_got(&g);
		/* A token bound to another RP, or without ga. */
		pin_token(t.c, &p, proto, CTAP_PERM_GA, "other.example");
		CHECK_EQ(ga_one(t.c, &m, true, &p, &g),
			 CTAP2_ERR_PIN_AUTH_INVALID);
		pin_token(t.c, &p, proto, CTAP_PERM_MC, RP);
		CHECK_EQ(ga_one(t.c, &m, true, &p, &g),
			 CTAP2_ERR_PIN_AUTH_INVALID);
		/* A wrong param. */
		pin_token(t.c, &p, proto, CTAP_PERM_GA, RP);
		p.token[0] ^= 1;
		CHECK_EQ(ga_one(t.c, &m, true, &p, &g),
			 CTAP2_ERR_PIN_AUTH_INVALID);
		free_made(&m);
	}
	plat_free(&p);
	tkey_free(&t);
}

static void always_uv_demands_a_token(void)
{
	struct tkey t;
	struct plat p = { 0 };
	struct made m, mm;
	struct mc q;
	struct ga gq;
	struct got g;

	tkey_new(&t, VKEY_UP_AUTO);
	make(t.c, RP, COSE_ES256, -1, NULL, &m);
	t.c->config.always_uv = true;
	mc_init(&q, RP, COSE_ES256, -1);
	CHECK_EQ(mc_send(t.c, &q, &mm), CTAP2_ERR_PUAT_REQUIRED);
	CHECK_EQ(ga_one(t.c, &m, true, NULL, &g), CTAP2_ERR_PUAT_REQUIRED);
	ga_init(&gq, RP);
	ga_allow(&gq, &m);
	gq.up = 0;
	CHECK_EQ(ga_send(t.c, &gq, &g), CTAP2_OK);
	free_got(&g);
	pin_set(t.c, 2);
	pin_token(t.c, &p, 2, CTAP_PERM_MC, RP);
	q.token = &p;
	CHECK_EQ(mc_send(t.c, &q, &mm), CTAP2_OK);
	free_made(&mm);
	plat_free(&p);
	free_made(&m);
	tkey_free(&t);
}

/* --- regress: one case per malformed request ------------------------------------ */

static struct tkey rt; /* the regress cases' key */
static uint64_t rt_room;
static uint32_t rt_counter;

static uint8_t hex_req(const char *hex)
{
	uint8_t req[512];
	size_t n = 0;
	unsigned v;

	while (hex[0] != '\0' && hex[1] != '\0' && n < sizeof(req)) {
		if (hex[0] == ' ') {
			hex++;
			continue;
		}
		sscanf(hex, "%2x", &v);
		req[n++] = (uint8_t)v;
		hex += 2;
	}
	return raw(rt.c, req, n, NULL);
}

/* A valid makeCredential with one member replaced (key k, value v taken;
 * v NULL drops the member). */
static uint8_t mc_with(uint64_t k, cbor_item_t *v)
{
	struct mc q;
	cbor_item_t *m, *out;
	struct cbor_pair *p;

	mc_init(&q, RP, COSE_ES256, -1);
	m = mc_build(&q);
	out = cbor_new_definite_map(10);
	p = cbor_map_handle(m);
	for (size_t i = 0; i < cbor_map_size(m); i++) {
		uint64_t key = cbor_get_int(p[i].key);

		if (key == k)
			continue;
		if (v != NULL && key > k) {
			put(out, k, v);
			v = NULL;
		}
		put(out, key, cbor_incref(p[i].value));
	}
	if (v != NULL)
		put(out, k, v);
	cbor_decref(&m);
	return send(rt.c, CTAP_CMD_MAKE_CREDENTIAL, out, NULL);
}

static uint8_t ga_with(uint64_t k, cbor_item_t *v)
{
	cbor_item_t *m = cbor_new_definite_map(3);
	uint8_t cdh[32] = { 0 };

	put(m, 1, cbor_build_string(RP));
	put(m, 2, bytes(cdh, 32));
	if (v != NULL)
		put(m, k, v);
	return send(rt.c, CTAP_CMD_GET_ASSERTION, m, NULL);
}

static cbor_item_t *map1(const char *k, cbor_item_t *v)
{
	cbor_item_t *m = cbor_new_definite_map(1);

	puts_(m, k, v);
	return m;
}

static cbor_item_t *arr1(cbor_item_t *v)
{
	cbor_item_t *a = cbor_new_definite_array(1);

	push(a, v);
	return a;
}

static void regress_empty_request(void)
{
	CHECK_EQ(raw(rt.c, (const uint8_t *)"", 0, NULL),
		 CTAP1_ERR_INVALID_LENGTH);
}

static void regress_oversize_request(void)
{
	uint8_t *req = calloc(1, CTAP_MAX_MSG + 1);

	req[0] = CTAP_CMD_GET_INFO;
	CHECK_EQ(raw(rt.c, req, CTAP_MAX_MSG + 1, NULL),
		 CTAP2_ERR_REQUEST_TOO_LARGE);
	free(req);
}

static void regress_unknown_commands(void)
{
	CHECK_EQ(hex_req("03"), CTAP1_ERR_INVALID_COMMAND);
	CHECK_EQ(hex_req("09a0"), CTAP1_ERR_INVALID_COMMAND);
	CHECK_EQ(hex_req("40"), CTAP1_ERR_INVALID_COMMAND);
	CHECK_EQ(hex_req("ff"), CTAP1_ERR_INVALID_COMMAND);
}

static void regress_params_on_parameterless_command(void)
{
	CHECK_EQ(hex_req("04a0"), CTAP1_ERR_INVALID_LENGTH);
	CHECK_EQ(hex_req("08a0"), CTAP1_ERR_INVALID_LENGTH);
}

static void regress_missing_params(void)
{
	CHECK_EQ(hex_req("01"), CTAP2_ERR_MISSING_PARAMETER);
	CHECK_EQ(hex_req("02"), CTAP2_ERR_MISSING_PARAMETER);
	CHECK_EQ(hex_req("0a"), CTAP2_ERR_MISSING_PARAMETER);
	CHECK_EQ(hex_req("01a0"), CTAP2_ERR_MISSING_PARAMETER);
}

static void regress_keys_out_of_order(void)
{
	/* {2: 0, 1: 0} */
	CHECK_EQ(hex_req("01 a2 02 00 01 00"), CTAP2_ERR_INVALID_CBOR);
}

static void regress_duplicate_keys(void)
{
	CHECK_EQ(hex_req("02 a2 01 00 01 00"), CTAP2_ERR_INVALID_CBOR);
}

static void regress_non_shortest_integer(void)
{
	/* key 1 as a one-byte-argument integer */
	CHECK_EQ(hex_req("02 a1 18 01 00"), CTAP2_ERR_INVALID_CBOR);
}

static void regress_indefinite_length(void)
{
	CHECK_EQ(hex_req("02 bf 01 00 ff"), CTAP2_ERR_INVALID_CBOR);
}

static void regress_truncated_map(void)
{
	CHECK_EQ(hex_req("01 a4 01 58 20 00"), CTAP2_ERR_INVALID_CBOR);
	CHECK_EQ(hex_req("02 a2 01"), CTAP2_ERR_INVALID_CBOR);
}

static void regress_trailing_bytes(void)
{
	CHECK_EQ(hex_req("02 a0 00"), CTAP2_ERR_INVALID_CBOR);
}

static void regress_top_level_not_a_map(void)
{
	CHECK_EQ(hex_req("01 80"), CTAP2_ERR_CBOR_UNEXPECTED_TYPE);
	CHECK_EQ(hex_req("02 01"), CTAP2_ERR_CBOR_UNEXPECTED_TYPE);
}

static void regress_nesting_too_deep(void)
{
	CHECK_EQ(hex_req("02 a1 04 a1 61 61 a1 61 61 a1 61 61 a0"),
		 CTAP2_ERR_INVALID_CBOR);
}

static void regress_mc_missing_client_data_hash(void)
{
	CHECK_EQ(mc_with(1, NULL), CTAP2_ERR_MISSING_PARAMETER);
}

static void regress_mc_missing_rp_user_params(void)
{
	CHECK_EQ(mc_with(2, NULL), CTAP2_ERR_MISSING_PARAMETER);
	CHECK_EQ(mc_with(3, NULL), CTAP2_ERR_MISSING_PARAMETER);
	CHECK_EQ(mc_with(4, NULL), CTAP2_ERR_MISSING_PARAMETER);
}

static void regress_mc_wrong_types(void)
{
	CHECK_EQ(mc_with(1, cbor_build_string("hash")),
		 CTAP2_ERR_CBOR_UNEXPECTED_TYPE);
	CHECK_EQ(mc_with(2, cbor_build_string(RP)),
		 CTAP2_ERR_CBOR_UNEXPECTED_TYPE);
	CHECK_EQ(mc_with(2, map1("id", num(1))), CTAP2_ERR_CBOR_UNEXPECTED_TYPE);
	CHECK_EQ(mc_with(3, map1("id", cbor_build_string("u"))),
		 CTAP2_ERR_CBOR_UNEXPECTED_TYPE);
	CHECK_EQ(mc_with(4, map1("alg", inum(-7))),
		 CTAP2_ERR_CBOR_UNEXPECTED_TYPE);
	CHECK_EQ(mc_with(5, map1("id", bytes("x", 1))),
		 CTAP2_ERR_CBOR_UNEXPECTED_TYPE);
	CHECK_EQ(mc_with(6, arr1(num(1))), CTAP2_ERR_CBOR_UNEXPECTED_TYPE);
	CHECK_EQ(mc_with(7, map1("rk", num(1))), CTAP2_ERR_CBOR_UNEXPECTED_TYPE);
	CHECK_EQ(mc_with(8, num(1)), CTAP2_ERR_CBOR_UNEXPECTED_TYPE);
	CHECK_EQ(mc_with(6, map1("credBlob", cbor_build_bool(true))),
		 CTAP2_ERR_CBOR_UNEXPECTED_TYPE);
	CHECK_EQ(mc_with(6, map1("hmac-secret", num(1))),
		 CTAP2_ERR_CBOR_UNEXPECTED_TYPE);
}

static void regress_mc_missing_entity_members(void)
{
	CHECK_EQ(mc_with(2, map1("name", cbor_build_string("x"))),
		 CTAP2_ERR_MISSING_PARAMETER);
	CHECK_EQ(mc_with(3, map1("name", cbor_build_string("x"))),
		 CTAP2_ERR_MISSING_PARAMETER);
	CHECK_EQ(mc_with(4, arr1(map1("alg", inum(-7)))),
		 CTAP2_ERR_MISSING_PARAMETER);
	CHECK_EQ(mc_with(4, arr1(map1("type", cbor_build_string("public-key")))),
		 CTAP2_ERR_MISSING_PARAMETER);
	CHECK_EQ(mc_with(5, arr1(map1("type", cbor_build_string("public-key")))),
		 CTAP2_ERR_MISSING_PARAMETER);
}

static void regress_mc_bad_values(void)
{
	CHECK_EQ(mc_with(1, bytes("short", 5)), CTAP1_ERR_INVALID_LENGTH);
	CHECK_EQ(mc_with(4, cbor_new_definite_array(0)),
		 CTAP2_ERR_UNSUPPORTED_ALGORITHM);
	CHECK_EQ(mc_with(6, map1("credProtect", num(4))),
		 CTAP1_ERR_INVALID_PARAMETER);
	CHECK_EQ(mc_with(6, map1("credProtect", num(0))),
		 CTAP1_ERR_INVALID_PARAMETER);
	CHECK_EQ(mc_with(6, map1("largeBlobKey", cbor_build_bool(false))),
		 CTAP2_ERR_INVALID_OPTION);
	CHECK_EQ(mc_with(10, num(1)), CTAP1_ERR_INVALID_PARAMETER);
	{
		uint8_t long_id[65] = { 0 };
		cbor_item_t *u = cbor_new_definite_map(1);

		puts_(u, "id", bytes(long_id, sizeof(long_id)));
		CHECK_EQ(mc_with(3, u), CTAP1_ERR_INVALID_LENGTH);
	}
}

static void regress_mc_pin_param_without_protocol(void)
{
	CHECK_EQ(mc_with(8, bytes("0123456789abcdef", 16)),
		 CTAP2_ERR_MISSING_PARAMETER);
}

static void regress_mc_unsupported_pin_protocol(void)
{
	struct mc q;
	cbor_item_t *m;

	mc_init(&q, RP, COSE_ES256, -1);
	m = mc_build(&q);
	put(m, 8, bytes("0123456789abcdef", 16));
	put(m, 9, num(3));
	CHECK_EQ(send(rt.c, CTAP_CMD_MAKE_CREDENTIAL, m, NULL),
		 CTAP1_ERR_INVALID_PARAMETER);
}

static void regress_ga_missing_and_wrong_members(void)
{
	cbor_item_t *m = cbor_new_definite_map(1);

	put(m, 2, bytes("0123456789abcdef0123456789abcdef", 32));
	CHECK_EQ(send(rt.c, CTAP_CMD_GET_ASSERTION, m, NULL),
		 CTAP2_ERR_MISSING_PARAMETER);
	m = cbor_new_definite_map(1);
	put(m, 1, cbor_build_string(RP));
	CHECK_EQ(send(rt.c, CTAP_CMD_GET_ASSERTION, m, NULL),
		 CTAP2_ERR_MISSING_PARAMETER);
	CHECK_EQ(ga_with(3, map1("id", bytes("x", 1))),
		 CTAP2_ERR_CBOR_UNEXPECTED_TYPE);
	CHECK_EQ(ga_with(3, arr1(map1("type", cbor_build_string("public-key")))),
		 CTAP2_ERR_MISSING_PARAMETER);
	CHECK_EQ(ga_with(3, arr1(num(7))), CTAP2_ERR_CBOR_UNEXPECTED_TYPE);
	CHECK_EQ(ga_with(4, num(1)), CTAP2_ERR_CBOR_UNEXPECTED_TYPE);
	CHECK_EQ(ga_with(5, map1("up", cbor_build_string("no"))),
		 CTAP2_ERR_CBOR_UNEXPECTED_TYPE);
	CHECK_EQ(ga_with(4, map1("credBlob", bytes("", 0))),
		 CTAP2_ERR_CBOR_UNEXPECTED_TYPE);
	CHECK_EQ(ga_with(4, map1("largeBlobKey", num(1))),
		 CTAP2_ERR_INVALID_OPTION);
	/* A protocol without a param is no token: ignored. */
	CHECK_EQ(ga_with(7, num(1)), CTAP2_OK);
}

static void regress_ga_hmac_secret_inputs(void)
{
	struct plat p = { 0 };
	uint8_t salt[32] = { 1 };
	cbor_item_t *in;

	plat_agree(rt.c, &p, 2);
	/* saltAuth missing */
	in = cbor_new_definite_map(2);
	put(in, 1, cbor_incref(p.cose));
	put(in, 2, bytes(salt, 32));
	CHECK_EQ(ga_with(4, map1("hmac-secret", in)),
		 CTAP2_ERR_MISSING_PARAMETER);
	/* a bad saltAuth */
	in = hmac_in(&p, salt, 32);
	{
		struct cbor_pair *pr = cbor_map_handle(in);

		cbor_bytestring_handle(pr[2].value)[0] ^= 1;
	}
	CHECK_EQ(ga_with(4, map1("hmac-secret", in)),
		 CTAP2_ERR_PIN_AUTH_INVALID);
	/* a salt of 16 bytes */
	CHECK_EQ(ga_with(4, map1("hmac-secret", hmac_in(&p, salt, 16))),
		 CTAP1_ERR_INVALID_LENGTH);
	/* not a map */
	CHECK_EQ(ga_with(4, map1("hmac-secret", cbor_build_bool(true))),
		 CTAP2_ERR_CBOR_UNEXPECTED_TYPE);
	plat_free(&p);
}

static void regress_next_assertion_without_state(void)
{
	CHECK_EQ(hex_req("08"), CTAP2_ERR_NOT_ALLOWED);
}

static void regress_cred_mgmt_requests(void)
{
	cbor_item_t *m = cbor_new_definite_map(1);

	put(m, 1, num(0x20));
	CHECK_EQ(send(rt.c, CTAP_CMD_CRED_MGMT, m, NULL),
		 CTAP2_ERR_INVALID_SUBCOMMAND);
	CHECK_EQ(cm_send(rt.c, NULL, 1, NULL, NULL), CTAP2_ERR_PUAT_REQUIRED);
	CHECK_EQ(cm_send(rt.c, NULL, 4, NULL, NULL), CTAP2_ERR_MISSING_PARAMETER);
	CHECK_EQ(cm_send(rt.c, NULL, 3, NULL, NULL), CTAP2_ERR_NOT_ALLOWED);
	CHECK_EQ(cm_send(rt.c, NULL, 5, NULL, NULL), CTAP2_ERR_NOT_ALLOWED);
	m = cbor_new_definite_map(1);
	put(m, 1, cbor_build_string("x"));
	CHECK_EQ(send(rt.c, CTAP_CMD_CRED_MGMT, m, NULL),
		 CTAP2_ERR_CBOR_UNEXPECTED_TYPE);
	CHECK_EQ(cm_send(rt.c, NULL, 4, map1("x", num(1)), NULL),
		 CTAP2_ERR_MISSING_PARAMETER);
}

/* Nothing a malformed request did changed the key. */
static void regress_left_no_trace(void)
{
	cbor_item_t *info = NULL;
	struct made m;

	CHECK_EQ(send(rt.c, CTAP_CMD_GET_INFO, NULL, &info), CTAP2_OK);
	CHECK_EQ(get_uint(info, 20), rt_room);
	drop(&info);
	make(rt.c, RP, COSE_ES256, -1, NULL, &m);
	CHECK(m.ad.counter > rt_counter);
	free_made(&m);
}

static void regress_begin(void)
{
	cbor_item_t *info = NULL;
	struct made m;

	tkey_new(&rt, VKEY_UP_AUTO);
	make(rt.c, RP, COSE_ES256, 1, "regress", &m);
	rt_counter = m.ad.counter;
	free_made(&m);
	send(rt.c, CTAP_CMD_GET_INFO, NULL, &info);
	rt_room = get_uint(info, 20);
	drop(&info);
}

/* --- the signature counter across SIGKILL ------------------------------------- */

#define KILL_ROUNDS 20

/* The child: open the key, assert in a loop, report each counter. */
static void __attribute__((noreturn)) assert_forever(struct tkey *t, const struct made *m,
				     int fd)
{
	struct ga q;
	struct got g;

	tkey_open(t);
	for (long i = 0; i < 10000000; i++) {
		ga_init(&q, RP);
		ga_allow(&q, m);
		if (ga_send(t->c, &q, &g) != CTAP2_OK)
			_exit(2);
		free_got(&g);
		if (write(fd, &g.ad.counter, 4) != 4)
			_exit(3);
	}
	_exit(0);
}

/* Read counters until want of them came (0: until EOF); the largest. */
static uint32_t read_counters(int fd, size_t want, size_t *got)
{
	uint32_t v, max = 0;

	*got = 0;
	while ((want == 0 || *got < want) && read(fd, &v, 4) == 4) {
		if (v > max)
			max = v;
		(*got)++;
	}
	return max;
}

static void counter_survives_sigkill(void)
{
	struct tkey t;
	struct made m;
	uint32_t reported = 0;

	tkey_new(&t, VKEY_UP_AUTO);
	make(t.c, RP, COSE_ES256, -1, NULL, &m);
	reported = m.ad.counter;
	tkey_close(&t);
	for (int round = 0; round < KILL_ROUNDS; round++) {
		int fds[2];
		size_t n, more;
		uint32_t max, first, tail;
		pid_t pid;
		int status;

		CHECK_EQ(pipe(fds), 0);
		fflush(NULL);
		pid = fork();
		if (pid == 0) {
			close(fds[0]);
			assert_forever(&t, &m, fds[1]);
		}
		close(fds[1]);
		/* The first counter of a fresh process is above all before. */
		first = read_counters(fds[0], 1, &n);
		CHECK_EQ(n, 1);
		CHECK(first > reported);
		max = read_counters(fds[0], 50 + (size_t)(rand() % 1500), &n);
		if (first > max)
			max = first;
		kill(pid, SIGKILL);
		/* Whatever it wrote before dying was reported too. */
		tail = read_counters(fds[0], 0, &more);
		if (tail > max)
			max = tail;
		waitpid(pid, &status, 0);
		CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
		close(fds[0]);
		if (max > reported)
			reported = max;
	}
	tkey_open(&t);
	CHECK(ctap_counter_next(t.c) > reported);
	free_made(&m);
	tkey_free(&t);
}

int main(void)
{
	srand((unsigned)getpid());
	RUN(get_info_reports_what_vkey_supports);
	RUN(make_credential_es256_packed_attestation);
	RUN(make_credential_eddsa_packed_attestation);
	RUN(self_attestation_from_config);
	RUN(get_assertion_signatures_verify);
	RUN(counter_strictly_increases_across_reopen);
	RUN(discoverable_thousand_enumerate_and_delete);
	RUN(same_rp_and_user_replaces_the_credential);
	RUN(full_store_refuses_new_but_replaces);
	RUN(another_command_ends_get_next_assertion);
	RUN(reports_name_credentials_and_settings);
	RUN(cred_protect_levels_are_enforced);
	RUN(hmac_secret_stable_and_split_by_uv);
	RUN(cred_blob_stored_and_returned);
	RUN(large_blob_key_only_for_discoverable);
	RUN(min_pin_length_only_for_listed_rps);
	RUN(forged_altered_and_foreign_ids_rejected);
	RUN(u2f_and_ctap2_share_credentials);
	RUN(reset_within_window_forgets_credentials);
	RUN(denied_presence_refuses_and_changes_nothing);
	RUN(prompt_names_the_rp_and_can_be_cancelled);
	RUN(zero_length_pin_param_probes_for_a_pin);
	RUN(options_without_builtin_uv);
	RUN(exclude_list_refuses_existing_credential);
	RUN(pin_token_gives_uv_and_binds_rp);
	RUN(always_uv_demands_a_token);

	regress_begin();
	RUN(regress_empty_request);
	RUN(regress_oversize_request);
	RUN(regress_unknown_commands);
	RUN(regress_params_on_parameterless_command);
	RUN(regress_missing_params);
	RUN(regress_keys_out_of_order);
	RUN(regress_duplicate_keys);
	RUN(regress_non_shortest_integer);
	RUN(regress_indefinite_length);
	RUN(regress_truncated_map);
	RUN(regress_trailing_bytes);
	RUN(regress_top_level_not_a_map);
	RUN(regress_nesting_too_deep);
	RUN(regress_mc_missing_client_data_hash);
	RUN(regress_mc_missing_rp_user_params);
	RUN(regress_mc_wrong_types);
	RUN(regress_mc_missing_entity_members);
	RUN(regress_mc_bad_values);
	RUN(regress_mc_pin_param_without_protocol);
	RUN(regress_mc_unsupported_pin_protocol);
	RUN(regress_ga_missing_and_wrong_members);
	RUN(regress_ga_hmac_secret_inputs);
	RUN(regress_next_assertion_without_state);
	RUN(regress_cred_mgmt_requests);
	RUN(regress_left_no_trace);
	tkey_free(&rt);

	RUN(counter_survives_sigkill);
	return CHECK_DONE();
}
