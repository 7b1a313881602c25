/* The CTAP core's entry points: per-key state, the CTAP2 command
 * dispatch (lengths, parameter decoding, one switch over the command
 * byte, encoding), user presence, reports and the texts for logs. */
#include "applets/fido/ctap_cred.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/key.h"
#include "core/log.h"
#include "vkey/admin.h"

int ctap_create(struct vkey *key, struct ctap **out)
{
	struct ctap *c = calloc(1, sizeof(*c));
	int r = -1;

	*out = NULL;
	if (c == NULL)
		return -1;
	pthread_mutex_init(&c->lock, NULL);
	c->key = key;
	c->store = vkey_store(key);
	c->up = vkey_up(key);
	/* Opening the key counts as a power-up: the reset window opens. */
	clock_gettime(CLOCK_MONOTONIC, &c->power_up);
	if (ctap_pin_create(c) != 0) {
		log_error("fido: cannot load the PIN state");
		goto out;
	}
	if (cred_ctx_create(c) != 0) {
		log_error("fido: cannot load the credential wrapping key");
		goto out;
	}
	*out = c;
	c = NULL; /* transferred */
	r = 0;
out:
	ctap_destroy(c);
	return r;
}

void ctap_destroy(struct ctap *c)
{
	if (c == NULL)
		return;
	cred_ctx_destroy(c);
	if (c->pin != NULL)
		ctap_pin_destroy(c);
	pthread_mutex_destroy(&c->lock);
	crypto_wipe(c, sizeof(*c));
	free(c);
}

void ctap_power_up(struct ctap *c)
{
	pthread_mutex_lock(&c->lock);
	clock_gettime(CLOCK_MONOTONIC, &c->power_up);
	ga_state_drop(c);
	cm_state_drop(c);
	ctap_pin_power_up(c);
	pthread_mutex_unlock(&c->lock);
}

uint64_t ctap_ms_since(const struct timespec *t)
{
	struct timespec now;
	int64_t ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (int64_t)(now.tv_sec - t->tv_sec) * 1000 +
	     (now.tv_nsec - t->tv_nsec) / 1000000;
	return ms > 0 ? (uint64_t)ms : 0;
}

uint8_t ctap_encode_map(cbor_item_t *map, struct wbuf *out)
{
	uint8_t r;

	if (map == NULL)
		return CTAP2_ERR_PROCESSING;
	r = ctap_cbor_encode(map, out);
	cbor_decref(&map);
	return r;
}

uint8_t ctap_user_presence(struct ctap *c, const char *what,
			   const struct ctap_wait *w)
{
	switch (up_request(c->up, what, w != NULL ? w->tick : NULL,
			   w != NULL ? w->arg : NULL)) {
	case UP_APPROVED:
		return CTAP2_OK;
	case UP_DENIED:
		return CTAP2_ERR_OPERATION_DENIED;
	case UP_TIMEOUT:
		return CTAP2_ERR_USER_ACTION_TIMEOUT;
	default:
		return CTAP2_ERR_KEEPALIVE_CANCEL;
	}
}

void ctap_printable(const uint8_t *p, size_t n, char *buf, size_t cap)
{
	size_t o = 0;

	for (size_t i = 0; i < n && o + 1 < cap; i++)
		buf[o++] = p[i] < 0x20 || p[i] == 0x7F ? '?' : (char)p[i];
	if (cap > 0)
		buf[o] = '\0';
}

uint8_t ctap_presence_for(struct ctap *c, const char *verb, const char *rp_id,
			  const struct ctap_wait *w)
{
	char rp[64], what[96];

	ctap_printable((const uint8_t *)rp_id, strlen(rp_id), rp, sizeof(rp));
	snprintf(what, sizeof(what), "%s %s", verb, rp);
	return ctap_user_presence(c, what, w);
}

/* ---- dispatch ---- */

/* Commands without parameters take no bytes after the command byte. */
static bool takes_params(uint8_t cmd)
{
	return cmd != CTAP_CMD_GET_INFO && cmd != CTAP_CMD_RESET &&
	       cmd != CTAP_CMD_GET_NEXT_ASSERTION && cmd != CTAP_CMD_SELECTION;
}

static bool known(uint8_t cmd)
{
	return ctap_command_name(cmd)[0] != '?';
}

static uint8_t run(struct ctap *c, uint8_t cmd, const cbor_item_t *params,
		   struct wbuf *out, const struct ctap_wait *w)
{
	switch (cmd) {
	case CTAP_CMD_MAKE_CREDENTIAL:
		return ctap_cmd_make_credential(c, params, out, w);
	case CTAP_CMD_GET_ASSERTION:
		return ctap_cmd_get_assertion(c, params, out, w);
	case CTAP_CMD_GET_INFO:
		return ctap_cmd_get_info(c, out);
	case CTAP_CMD_CLIENT_PIN:
		return ctap_cmd_client_pin(c, params, out);
	case CTAP_CMD_RESET:
		return ctap_cmd_reset(c, w);
	case CTAP_CMD_GET_NEXT_ASSERTION:
		return ctap_cmd_get_next_assertion(c, out);
	case CTAP_CMD_CRED_MGMT:
	case CTAP_CMD_CRED_MGMT_PRE:
		return ctap_cmd_cred_mgmt(c, params, out);
	case CTAP_CMD_SELECTION:
		return ctap_cmd_selection(c, w);
	case CTAP_CMD_LARGE_BLOBS:
		return ctap_cmd_large_blobs(c, params, out);
	case CTAP_CMD_CONFIG:
		return ctap_cmd_config(c, params, out);
	default:
		return CTAP1_ERR_INVALID_COMMAND;
	}
}

/* State that only the immediately following command may continue. */
static void drop_state(struct ctap *c, uint8_t cmd)
{
	if (cmd != CTAP_CMD_GET_NEXT_ASSERTION)
		ga_state_drop(c);
	if (cmd != CTAP_CMD_CRED_MGMT && cmd != CTAP_CMD_CRED_MGMT_PRE)
		cm_state_drop(c);
}

static uint8_t handle(struct ctap *c, const uint8_t *req, size_t len,
		      struct wbuf *out, const struct ctap_wait *w)
{
	cbor_item_t *params = NULL;
	uint8_t cmd = req[0];
	uint8_t r;

	if (len > CTAP_MAX_MSG)
		return CTAP2_ERR_REQUEST_TOO_LARGE;
	drop_state(c, cmd);
	if (!known(cmd))
		return CTAP1_ERR_INVALID_COMMAND;
	if (len > 1 && !takes_params(cmd))
		return CTAP1_ERR_INVALID_LENGTH;
	if (len > 1) {
		r = ctap_cbor_decode(req + 1, len - 1, true, &params);
		if (r != CTAP2_OK)
			return r;
	}
	r = run(c, cmd, params, out, w);
	if (params != NULL)
		cbor_decref(&params);
	return r;
}

size_t ctap_cbor(struct ctap *c, const uint8_t *req, size_t len,
		 uint8_t *resp, size_t cap, const struct ctap_wait *w)
{
	struct wbuf out;
	uint8_t r;

	if (cap < 1)
		return 0;
	/* Responses, like requests, stay within maxMsgSize. */
	out = wbuf_init(resp + 1, (cap < CTAP_MAX_MSG ? cap : CTAP_MAX_MSG) - 1);
	pthread_mutex_lock(&c->lock);
	r = len == 0 ? CTAP1_ERR_INVALID_LENGTH : handle(c, req, len, &out, w);
	pthread_mutex_unlock(&c->lock);
	if (r == CTAP2_OK && out.overflow)
		r = CTAP1_ERR_OTHER;
	/* The transport logs the command at info; the CTAP status (inside a
	 * 9000 over ISO 7816) is here. */
	log_debug("fido: %s: %s", len ? ctap_command_name(req[0]) : "(empty)",
		  ctap_status_text(r));
	resp[0] = r;
	return r == CTAP2_OK ? 1 + out.len : 1;
}

/* ---- reports ---- */

static int printf_to(struct wbuf *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static int printf_to(struct wbuf *out, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	return wbuf_put(out, line, strlen(line));
}

int ctap_report_status(struct ctap *c, struct wbuf *out)
{
	size_t n = 0;

	if (cred_rk_count(c, &n) != CTAP2_OK)
		return -1;
	if (printf_to(out, "fido: %zu discoverable credentials (room for "
			   "%zu more)\n", n, cred_rk_remaining(c)) != 0)
		return -1;
	if (ctap_pin_is_set(c)
		    ? printf_to(out, "fido: PIN set, %u retries left\n",
				(unsigned)ctap_pin_retries(c))
		    : printf_to(out, "fido: no PIN set\n"))
		return -1;
	return printf_to(out, "fido: alwaysUv %s, attestation %s\n",
			 c->config.always_uv ? "on" : "off",
			 attest_self(c) ? "self" : "packed (vkey CA)");
}

struct list {
	struct ctap *c;
	struct wbuf *out;
};

static void printable(const struct cred_field *f, char *buf, size_t cap)
{
	if (!f->present)
		snprintf(buf, cap, "(none)");
	else
		ctap_printable(f->v, f->len, buf, cap);
}

static int list_cb(void *arg, const uint8_t rp_id_hash[32], const uint8_t *id,
		   size_t id_len, const struct cred_rk *rk)
{
	struct list *l = arg;
	struct cred_key k;
	char rp[CTAP_RP_ID_MAX + 1], user[CRED_NAME_MAX + 1];
	const char *alg = "?";
	int protect = 0;
	int r;

	if (cred_id_open(l->c, rp_id_hash, id, id_len, &k)) {
		alg = k.alg == COSE_EDDSA ? "EdDSA" : "ES256";
		protect = k.protect;
	}
	crypto_wipe(&k, sizeof(k));
	printable(&rk->rp_id, rp, sizeof(rp));
	printable(&rk->user_name, user, sizeof(user));
	r = printf_to(l->out, "fido: %s  %s  %s  credProtect %d\n", rp, user,
		      alg, protect);
	return r == 0 ? 0 : CTAP2_ERR_PROCESSING;
}

int ctap_report_list(struct ctap *c, struct wbuf *out)
{
	struct list l = { c, out };

	return cred_rk_each(c, NULL, list_cb, &l) == CTAP2_OK ? 0 : -1;
}

/* ---- texts for logs ---- */

const char *ctap_command_name(uint8_t cmd)
{
	switch (cmd) {
	case CTAP_CMD_MAKE_CREDENTIAL:
		return "makeCredential";
	case CTAP_CMD_GET_ASSERTION:
		return "getAssertion";
	case CTAP_CMD_GET_INFO:
		return "getInfo";
	case CTAP_CMD_CLIENT_PIN:
		return "clientPIN";
	case CTAP_CMD_RESET:
		return "reset";
	case CTAP_CMD_GET_NEXT_ASSERTION:
		return "getNextAssertion";
	case CTAP_CMD_CRED_MGMT:
		return "credentialManagement";
	case CTAP_CMD_SELECTION:
		return "selection";
	case CTAP_CMD_LARGE_BLOBS:
		return "largeBlobs";
	case CTAP_CMD_CONFIG:
		return "authenticatorConfig";
	case CTAP_CMD_CRED_MGMT_PRE:
		return "credentialManagement (preview)";
	default:
		return "?";
	}
}

static const struct {
	uint8_t status;
	const char *text;
} status_texts[] = {
	{ CTAP2_OK, "OK" },
	{ CTAP1_ERR_INVALID_COMMAND, "INVALID_COMMAND" },
	{ CTAP1_ERR_INVALID_PARAMETER, "INVALID_PARAMETER" },
	{ CTAP1_ERR_INVALID_LENGTH, "INVALID_LENGTH" },
	{ CTAP1_ERR_INVALID_SEQ, "INVALID_SEQ" },
	{ CTAP1_ERR_TIMEOUT, "TIMEOUT" },
	{ CTAP1_ERR_CHANNEL_BUSY, "CHANNEL_BUSY" },
	{ CTAP1_ERR_LOCK_REQUIRED, "LOCK_REQUIRED" },
	{ CTAP1_ERR_INVALID_CHANNEL, "INVALID_CHANNEL" },
	{ CTAP2_ERR_CBOR_UNEXPECTED_TYPE, "CBOR_UNEXPECTED_TYPE" },
	{ CTAP2_ERR_INVALID_CBOR, "INVALID_CBOR" },
	{ CTAP2_ERR_MISSING_PARAMETER, "MISSING_PARAMETER" },
	{ CTAP2_ERR_LIMIT_EXCEEDED, "LIMIT_EXCEEDED" },
	{ CTAP2_ERR_FP_DATABASE_FULL, "FP_DATABASE_FULL" },
	{ CTAP2_ERR_LARGE_BLOB_STORAGE_FULL, "LARGE_BLOB_STORAGE_FULL" },
	{ CTAP2_ERR_CREDENTIAL_EXCLUDED, "CREDENTIAL_EXCLUDED" },
	{ CTAP2_ERR_PROCESSING, "PROCESSING" },
	{ CTAP2_ERR_INVALID_CREDENTIAL, "INVALID_CREDENTIAL" },
	{ CTAP2_ERR_USER_ACTION_PENDING, "USER_ACTION_PENDING" },
	{ CTAP2_ERR_OPERATION_PENDING, "OPERATION_PENDING" },
	{ CTAP2_ERR_NO_OPERATIONS, "NO_OPERATIONS" },
	{ CTAP2_ERR_UNSUPPORTED_ALGORITHM, "UNSUPPORTED_ALGORITHM" },
	{ CTAP2_ERR_OPERATION_DENIED, "OPERATION_DENIED" },
	{ CTAP2_ERR_KEY_STORE_FULL, "KEY_STORE_FULL" },
	{ CTAP2_ERR_UNSUPPORTED_OPTION, "UNSUPPORTED_OPTION" },
	{ CTAP2_ERR_INVALID_OPTION, "INVALID_OPTION" },
	{ CTAP2_ERR_KEEPALIVE_CANCEL, "KEEPALIVE_CANCEL" },
	{ CTAP2_ERR_NO_CREDENTIALS, "NO_CREDENTIALS" },
	{ CTAP2_ERR_USER_ACTION_TIMEOUT, "USER_ACTION_TIMEOUT" },
	{ CTAP2_ERR_NOT_ALLOWED, "NOT_ALLOWED" },
	{ CTAP2_ERR_PIN_INVALID, "PIN_INVALID" },
	{ CTAP2_ERR_PIN_BLOCKED, "PIN_BLOCKED" },
	{ CTAP2_ERR_PIN_AUTH_INVALID, "PIN_AUTH_INVALID" },
	{ CTAP2_ERR_PIN_AUTH_BLOCKED, "PIN_AUTH_BLOCKED" },
	{ CTAP2_ERR_PIN_NOT_SET, "PIN_NOT_SET" },
	{ CTAP2_ERR_PUAT_REQUIRED, "PUAT_REQUIRED" },
	{ CTAP2_ERR_PIN_POLICY_VIOLATION, "PIN_POLICY_VIOLATION" },
	{ CTAP2_ERR_REQUEST_TOO_LARGE, "REQUEST_TOO_LARGE" },
	{ CTAP2_ERR_ACTION_TIMEOUT, "ACTION_TIMEOUT" },
	{ CTAP2_ERR_UP_REQUIRED, "UP_REQUIRED" },
	{ CTAP2_ERR_UV_BLOCKED, "UV_BLOCKED" },
	{ CTAP2_ERR_INTEGRITY_FAILURE, "INTEGRITY_FAILURE" },
	{ CTAP2_ERR_INVALID_SUBCOMMAND, "INVALID_SUBCOMMAND" },
	{ CTAP2_ERR_UV_INVALID, "UV_INVALID" },
	{ CTAP2_ERR_UNAUTHORIZED_PERMISSION, "UNAUTHORIZED_PERMISSION" },
	{ CTAP1_ERR_OTHER, "OTHER" },
};

const char *ctap_status_text(uint8_t status)
{
	for (size_t i = 0; i < sizeof(status_texts) / sizeof(status_texts[0]);
	     i++)
		if (status_texts[i].status == status)
			return status_texts[i].text;
	return "unknown status";
}

bool ctap_u2f_on(const struct ctap *c)
{
	return !c->config.always_uv &&
	       vkey_applet_enabled(c->key, VKEY_APP_U2F);
}

int ctap_set_self_attestation(struct ctap *c, bool self)
{
	int r;

	pthread_mutex_lock(&c->lock);
	r = attest_set_self(c, self);
	pthread_mutex_unlock(&c->lock);
	return r;
}
