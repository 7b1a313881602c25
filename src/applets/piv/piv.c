/* The PIV applet's entry points: state, SELECT, the slot table, GET
 * VERSION / GET SERIAL / GET METADATA and the switch that routes each
 * INS. */
#include "applets/piv/piv.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apdu/sw.h"
#include "applets/piv/piv_priv.h"
#include "core/key.h"
#include "core/log.h"
#include "services/crypto.h"
#include "services/up.h"

static const uint8_t piv_rid_aid[] = { 0xA0, 0x00, 0x00, 0x03, 0x08 };

/* Application property template: the PIX with its version, and the
 * coexistent tag allocation authority (NIST). */
static const uint8_t piv_apt[] = {
	0x4F, 0x06, 0x00, 0x00, 0x10, 0x00, 0x01, 0x00,
	0x79, 0x07, 0x4F, 0x05, 0xA0, 0x00, 0x00, 0x03, 0x08,
};

static const uint8_t slot_refs[PIV_SLOTS] = {
	0x9A, 0x9C, 0x9D, 0x9E, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88,
	0x89, 0x8A, 0x8B, 0x8C, 0x8D, 0x8E, 0x8F, 0x90, 0x91, 0x92, 0x93,
	0x94, 0x95, 0xF9,
};

int piv_slot_index(uint8_t slot)
{
	for (int i = 0; i < PIV_SLOTS; i++)
		if (slot_refs[i] == slot)
			return i;
	return -1;
}

uint8_t piv_slot_ref(int index)
{
	return index >= 0 && index < PIV_SLOTS ? slot_refs[index] : 0;
}

uint32_t piv_slot_object(uint8_t slot)
{
	switch (slot) {
	case PIV_SLOT_AUTH:
		return PIV_OBJ_AUTH;
	case PIV_SLOT_SIGN:
		return PIV_OBJ_SIGN;
	case PIV_SLOT_KM:
		return PIV_OBJ_KM;
	case PIV_SLOT_CAUTH:
		return PIV_OBJ_CARD_AUTH;
	case PIV_SLOT_ATTEST:
		return PIV_OBJ_ATTEST;
	default:
		if (slot >= PIV_SLOT_RETIRED_FIRST &&
		    slot <= PIV_SLOT_RETIRED_LAST)
			return PIV_OBJ_RETIRED_FIRST +
			       (uint32_t)(slot - PIV_SLOT_RETIRED_FIRST);
		return 0;
	}
}

uint64_t piv_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

bool piv_touch(struct piv *p, const char *what)
{
	if (up_request(vkey_up(p->key), what, NULL, NULL) != UP_APPROVED)
		return false;
	p->touch_ms = piv_now_ms();
	return true;
}

void piv_mgmt_abandon(struct piv *p)
{
	p->mgmt_step = 0;
	crypto_wipe(p->mgmt_expect, sizeof(p->mgmt_expect));
	p->mgmt_expect_len = 0;
}

void piv_forget_access(struct piv *p)
{
	p->pin_ok = false;
	p->pin_always = false;
	p->mgmt_ok = false;
	piv_mgmt_abandon(p);
}

int piv_dyn_auth_parse(const uint8_t *data, size_t len,
		       struct piv_dyn_auth *q)
{
	struct rbuf in = rbuf_init(data, len), tmpl, v, *slot;
	uint16_t tag;
	unsigned bit;

	memset(q, 0, sizeof(*q));
	if (rbuf_tlv(&in, &tag, &tmpl) != 0 || tag != PIV_TAG_DYN_AUTH ||
	    rbuf_left(&in) != 0)
		return -1;
	while (rbuf_left(&tmpl) > 0) {
		if (rbuf_tlv(&tmpl, &tag, &v) != 0)
			return -1;
		switch (tag) {
		case PIV_TAG_WITNESS:
			bit = PIV_DA_WITNESS, slot = &q->witness;
			break;
		case PIV_TAG_CHALLENGE:
			bit = PIV_DA_CHALLENGE, slot = &q->challenge;
			break;
		case PIV_TAG_RESPONSE:
			bit = PIV_DA_RESPONSE, slot = &q->response;
			break;
		case PIV_TAG_EXPONENT:
			bit = PIV_DA_EXPONENT, slot = &q->exponent;
			break;
		default:
			return -1;
		}
		if ((q->seen & bit) != 0)
			return -1;
		q->seen |= bit;
		*slot = v;
	}
	return 0;
}

void piv_dyn_auth_put(struct wbuf *r, uint8_t tag, const uint8_t *v,
		      size_t len)
{
	if (wbuf_tlv_header(r, PIV_TAG_DYN_AUTH, tlv_size(tag, len)) == 0)
		wbuf_tlv(r, tag, v, len);
}

static int piv_create(struct vkey *key, void **state)
{
	struct piv *p = calloc(1, sizeof(*p));
	int err;

	if (p == NULL)
		return -1;
	p->key = key;
	p->st = vkey_store(key);
	/* Only a record known to be absent makes a factory state: a read
	 * error must never wipe the card. */
	err = piv_read_initialized(p);
	if (err == STORE_NOT_FOUND)
		err = piv_factory_reset(p);
	if (err != STORE_OK) {
		log_error("piv: cannot initialize: %s", store_strerror(err));
		free(p);
		return -1;
	}
	*state = p;
	return 0;
}

static void piv_destroy(void *state)
{
	struct piv *p = state;

	if (p == NULL)
		return;
	piv_key_forget(p, 0);
	crypto_wipe(p, sizeof(*p));
	free(p);
}

static unsigned piv_select(void *state, const struct apdu *cmd,
			   struct wbuf *resp)
{
	struct piv *p = state;

	piv_forget_access(p);
	if ((cmd->p2 & 0x0C) != 0x0C)
		wbuf_tlv(resp, 0x61, piv_apt, sizeof(piv_apt));
	return SW_OK;
}

static void piv_deselect(void *state)
{
	piv_forget_access(state);
}

/* A cached touch outlives a card reset (every yubico-piv-tool and ykman
 * run ends with one), as a YubiKey's touch timer does. */
static void piv_power_off(void *state)
{
	piv_forget_access(state);
}

static unsigned get_version(struct piv *p, const struct apdu *cmd,
			    struct wbuf *r)
{
	(void)p;
	if (cmd->p1 != 0x00 || cmd->p2 != 0x00)
		return SW_WRONG_P1P2;
	wbuf_u8(r, PIV_VERSION_MAJOR);
	wbuf_u8(r, PIV_VERSION_MINOR);
	wbuf_u8(r, PIV_VERSION_PATCH);
	return SW_OK;
}

static unsigned get_serial(struct piv *p, const struct apdu *cmd,
			   struct wbuf *r)
{
	if (cmd->p1 != 0x00 || cmd->p2 != 0x00)
		return SW_WRONG_P1P2;
	wbuf_u32be(r, store_serial(p->st));
	return SW_OK;
}

static unsigned get_metadata(struct piv *p, const struct apdu *cmd,
			     struct wbuf *r)
{
	if (cmd->p1 != 0x00)
		return SW_WRONG_P1P2;
	switch (cmd->p2) {
	case PIV_REF_PIN:
		return piv_pin_metadata(p, PIV_PIN, r);
	case PIV_REF_PUK:
		return piv_pin_metadata(p, PIV_PUK, r);
	case PIV_REF_MGMT:
		return piv_mgmt_metadata(p, r);
	default:
		if (piv_slot_index(cmd->p2) < 0)
			return SW_WRONG_P1P2;
		return piv_key_metadata(p, cmd->p2, r);
	}
}

/* SELECT by file identifier or path (hosts probe the MF): the applet
 * has no files. */
static unsigned select_file(struct piv *p, const struct apdu *cmd,
			    struct wbuf *r)
{
	(void)p;
	(void)cmd;
	(void)r;
	return SW_FILE_NOT_FOUND;
}

static piv_handler_fn handler_of(uint8_t ins)
{
	switch (ins) {
	case 0xA4:
		return select_file;
	case PIV_INS_VERIFY:
		return piv_verify;
	case PIV_INS_CHANGE_REF:
		return piv_change_ref;
	case PIV_INS_RESET_RETRY:
		return piv_reset_retry;
	case PIV_INS_GENERATE:
		return piv_generate;
	case PIV_INS_GENERAL_AUTH:
		return piv_general_auth;
	case PIV_INS_GET_DATA:
		return piv_get_data;
	case PIV_INS_PUT_DATA:
		return piv_put_data;
	case PIV_INS_MOVE_KEY:
		return piv_move_key;
	case PIV_INS_GET_METADATA:
		return get_metadata;
	case PIV_INS_GET_SERIAL:
		return get_serial;
	case PIV_INS_ATTEST:
		return piv_attest;
	case PIV_INS_SET_PIN_RETRIES:
		return piv_set_pin_retries;
	case PIV_INS_RESET:
		return piv_reset;
	case PIV_INS_GET_VERSION:
		return get_version;
	case PIV_INS_IMPORT_KEY:
		return piv_import_key;
	case PIV_INS_SET_MGMT_KEY:
		return piv_set_mgmt_key;
	default:
		return NULL;
	}
}

static unsigned piv_process(void *state, const struct apdu *cmd,
			    struct wbuf *resp)
{
	struct piv *p = state;
	piv_handler_fn fn = handler_of(cmd->ins);

	if ((cmd->cla & ~0x10u) != 0x00)
		return SW_CLA_NOT_SUPPORTED;
	if (fn == NULL)
		return SW_INS_NOT_SUPPORTED;
	/* A management-key exchange is two GENERAL AUTHENTICATEs in a row:
	 * anything else in between abandons it. */
	if (cmd->ins != PIV_INS_GENERAL_AUTH)
		piv_mgmt_abandon(p);
	/* The dispatcher drops the data of an error or an overflow. */
	return fn(p, cmd, resp);
}

static int piv_factory(void *state)
{
	return piv_factory_reset(state) == STORE_OK ? 0 : -1;
}

const struct applet_ops piv_applet = {
	.name = "piv",
	.aid = piv_rid_aid,
	.aid_len = sizeof(piv_rid_aid),
	.create = piv_create,
	.destroy = piv_destroy,
	.select = piv_select,
	.deselect = piv_deselect,
	.process = piv_process,
	.power_off = piv_power_off,
	.describe = piv_describe,
	.factory_reset = piv_factory,
	.report_status = piv_report_status,
	.report_list = piv_report_list,
	.report_attestation = piv_report_attestation,
};
