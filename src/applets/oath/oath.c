/* The OATH applet's entry points: state, SELECT, the access check and
 * the one switch that routes each INS to its handler. */
#include "applets/oath/oath.h"

#include <stdlib.h>

#include "apdu/sw.h"
#include "applets/oath/oath_priv.h"
#include "core/key.h"
#include "core/log.h"
#include "services/crypto.h"

static const uint8_t oath_aid[] = { 0xA0, 0x00, 0x00, 0x05, 0x27, 0x21,
				    0x01 };

static void oath_forget_session(struct oath *o)
{
	o->authenticated = false;
	o->challenge_valid = false;
	crypto_wipe(o->challenge, sizeof(o->challenge));
}

static int oath_create(struct vkey *key, void **state)
{
	struct oath *o = calloc(1, sizeof(*o));
	struct oath_code code;
	int err;

	if (o == NULL)
		return -1;
	o->key = key;
	err = oath_salt_load(o, true);
	if (err != STORE_OK) {
		log_error("oath: cannot load or create the salt: %s",
			  store_strerror(err));
		free(o);
		return -1;
	}
	err = oath_code_load(o, &code);
	crypto_wipe(&code, sizeof(code));
	o->code_set = err == STORE_OK;
	if (err != STORE_OK && err != STORE_NOT_FOUND)
		log_warn("oath: access code unreadable: %s",
			 store_strerror(err));
	*state = o;
	return 0;
}

static void oath_destroy(void *state)
{
	if (state == NULL)
		return;
	crypto_wipe(state, sizeof(struct oath));
	free(state);
}

/* SELECT answers version and salt; with an access code set, also a fresh
 * challenge for VALIDATE and the code's algorithm. */
static unsigned oath_select(void *state, const struct apdu *cmd,
			    struct wbuf *resp)
{
	static const uint8_t version[] = { OATH_VERSION_MAJOR,
					   OATH_VERSION_MINOR,
					   OATH_VERSION_PATCH };
	struct oath *o = state;
	struct oath_code code;
	uint8_t alg;
	int err;

	(void)cmd;
	oath_forget_session(o);
	err = oath_code_load(o, &code);
	alg = code.type_alg & OATH_ALG_MASK;
	crypto_wipe(&code, sizeof(code));
	if (err != STORE_OK && err != STORE_NOT_FOUND)
		return SW_MEMORY_FAILURE;
	o->code_set = err == STORE_OK;
	wbuf_tlv(resp, OATH_TAG_VERSION, version, sizeof(version));
	wbuf_tlv(resp, OATH_TAG_NAME, o->salt, sizeof(o->salt));
	if (o->code_set) {
		if (crypto_random(o->challenge, sizeof(o->challenge)) != 0)
			return SW_UNKNOWN;
		o->challenge_valid = true;
		wbuf_tlv(resp, OATH_TAG_CHALLENGE, o->challenge,
			 sizeof(o->challenge));
		wbuf_tlv(resp, OATH_TAG_ALGORITHM, &alg, 1);
	}
	return SW_OK;
}

static void oath_deselect(void *state)
{
	oath_forget_session(state);
}

static void oath_power_off(void *state)
{
	oath_forget_session(state);
}

/* YKOATH: with an access code set, only VALIDATE and RESET work until
 * VALIDATE succeeds (SEND REMAINING is answered by the dispatcher). */
static unsigned oath_process(void *state, const struct apdu *cmd,
			     struct wbuf *resp)
{
	struct oath *o = state;
	oath_handler_fn fn;
	bool needs_auth = true;
	unsigned sw;

	switch (cmd->ins) {
	case OATH_INS_PUT:
		fn = oath_put;
		break;
	case OATH_INS_DELETE:
		fn = oath_delete;
		break;
	case OATH_INS_SET_CODE:
		fn = oath_set_code;
		break;
	case OATH_INS_RESET:
		fn = oath_reset;
		needs_auth = false;
		break;
	case OATH_INS_RENAME:
		fn = oath_rename;
		break;
	case OATH_INS_LIST:
		fn = oath_list;
		break;
	case OATH_INS_CALCULATE:
		fn = oath_calculate;
		break;
	case OATH_INS_VALIDATE:
		fn = oath_validate;
		needs_auth = false;
		break;
	case OATH_INS_CALCULATE_ALL:
		fn = oath_calculate_all;
		break;
	default:
		return SW_INS_NOT_SUPPORTED;
	}
	if (needs_auth && o->code_set && !o->authenticated)
		return SW_SECURITY_STATUS;
	sw = fn(o, cmd, resp);
	if (sw != SW_OK) {
		/* An error carries no data, not even half an answer. */
		crypto_wipe(resp->p, resp->len);
		resp->len = 0;
	}
	return sw;
}

static int oath_factory_reset(void *state)
{
	return oath_wipe_all(state) == STORE_OK ? 0 : -1;
}

const struct applet_ops oath_applet = {
	.name = "oath",
	.aid = oath_aid,
	.aid_len = sizeof(oath_aid),
	.send_remaining_ins = OATH_INS_SEND_REMAINING,
	.create = oath_create,
	.destroy = oath_destroy,
	.select = oath_select,
	.deselect = oath_deselect,
	.process = oath_process,
	.power_off = oath_power_off,
	.describe = oath_describe,
	.factory_reset = oath_factory_reset,
	.report_status = oath_report_status,
	.report_list = oath_report_list,
};
