/* The OpenPGP card applet's entry points: state, SELECT, the life cycle
 * (TERMINATE DF, ACTIVATE FILE) and the switch that routes each INS. */
#include "applets/openpgp/openpgp.h"

#include <stdlib.h>

#include "apdu/sw.h"
#include "applets/openpgp/pgp_priv.h"
#include "core/key.h"
#include "core/log.h"
#include "services/crypto.h"

static const uint8_t pgp_rid_aid[] = { 0xD2, 0x76, 0x00, 0x01, 0x24, 0x01 };

static const char terminated_rec[] = "terminated";

/* STORE_OK when terminated, STORE_NOT_FOUND when not, else an error. */
static int read_terminated(struct pgp *p)
{
	uint8_t v[1];
	size_t len;

	return pgp_get_rec(p, terminated_rec, v, sizeof(v), &len);
}

/* Factory state in one transaction. */
static int factory_reset(struct pgp *p)
{
	int err = store_begin(p->st);

	if (err != STORE_OK)
		return err;
	err = pgp_factory_init(p);
	if (err != STORE_OK) {
		store_rollback(p->st);
		return err;
	}
	err = store_commit(p->st);
	if (err == STORE_OK)
		p->terminated = false;
	pgp_forget_access(p);
	p->cert_index = 0;
	return err;
}

static int pgp_create(struct vkey *key, void **state)
{
	struct pgp *p = calloc(1, sizeof(*p));
	int err = STORE_OK;

	if (p == NULL)
		return -1;
	p->key = key;
	p->st = vkey_store(key);
	/* Only a record known to be absent makes a factory state: a read
	 * error must never wipe the card. */
	err = read_terminated(p);
	p->terminated = err == STORE_OK;
	if (err == STORE_NOT_FOUND) {
		err = pgp_read_initialized(p);
		if (err == STORE_NOT_FOUND)
			err = factory_reset(p);
	}
	if (err != STORE_OK) {
		log_error("openpgp: cannot initialize: %s",
			  store_strerror(err));
		free(p);
		return -1;
	}
	*state = p;
	return 0;
}

static void pgp_destroy(void *state)
{
	struct pgp *p = state;

	if (p == NULL)
		return;
	pgp_counter_flush(p);
	pgp_key_forget(p, -1);
	crypto_wipe(p, sizeof(*p));
	free(p);
}

/* SELECT answers the FCI with the full AID (OpenSC matches on it), or
 * 6285 when the card is terminated (then only ACTIVATE FILE works). */
static unsigned pgp_select(void *state, const struct apdu *cmd,
			   struct wbuf *resp)
{
	struct pgp *p = state;
	uint8_t fci[2 + 16];

	pgp_forget_access(p);
	p->cert_index = 0;
	p->terminated = read_terminated(p) == STORE_OK;
	if (p->terminated)
		return SW_SELECTED_TERMINATED;
	if ((cmd->p2 & 0x0C) != 0x0C) {
		fci[0] = 0x84;
		fci[1] = 16;
		pgp_aid(p, fci + 2);
		wbuf_tlv(resp, 0x6F, fci, sizeof(fci));
	}
	return SW_OK;
}

static void pgp_deselect(void *state)
{
	pgp_forget_access(state);
}

static void pgp_power_off(void *state)
{
	struct pgp *p = state;

	pgp_forget_access(p);
	pgp_counter_flush(p);
}

/* TERMINATE DF: with PW3 verified, or PW3 blocked (a lost admin PIN
 * must still allow a reset). Everything is wiped now; ACTIVATE FILE
 * writes the factory state. */
static unsigned terminate(struct pgp *p, const struct apdu *cmd,
			  struct wbuf *r)
{
	static const uint8_t one = 1;
	int err;

	(void)r;
	if (cmd->p1 != 0x00 || cmd->p2 != 0x00)
		return SW_WRONG_P1P2;
	if (!p->pw3 && !pgp_pin_blocked(p, PGP_PW3))
		return SW_SECURITY_STATUS;
	if (store_begin(p->st) != STORE_OK)
		return SW_MEMORY_FAILURE;
	err = pgp_clear(p);
	if (err == STORE_OK)
		err = pgp_put_rec(p, terminated_rec, &one, 1);
	if (err != STORE_OK) {
		store_rollback(p->st);
		return SW_MEMORY_FAILURE;
	}
	if (store_commit(p->st) != STORE_OK)
		return SW_MEMORY_FAILURE;
	p->terminated = true;
	p->sig_loaded = false;
	pgp_forget_access(p);
	return SW_OK;
}

static unsigned activate(struct pgp *p, const struct apdu *cmd,
			 struct wbuf *r)
{
	(void)r;
	if (cmd->p1 != 0x00 || cmd->p2 != 0x00)
		return SW_WRONG_P1P2;
	if (!p->terminated)
		return SW_OK;
	return factory_reset(p) == STORE_OK ? SW_OK : SW_MEMORY_FAILURE;
}

/* SELECT by file identifier or path (hosts probe the MF): the card has
 * no files. */
static unsigned select_file(struct pgp *p, const struct apdu *cmd,
			    struct wbuf *r)
{
	(void)p;
	(void)cmd;
	(void)r;
	return SW_FILE_NOT_FOUND;
}

static pgp_handler_fn handler_of(uint8_t ins)
{
	switch (ins) {
	case 0xA4:
		return select_file;
	case PGP_INS_GET_DATA:
		return pgp_get_data;
	case PGP_INS_GET_NEXT_DATA:
		return pgp_get_next_data;
	case PGP_INS_SELECT_DATA:
		return pgp_select_data;
	case PGP_INS_PUT_DATA:
	case PGP_INS_PUT_DATA_ODD:
		return pgp_put_data;
	case PGP_INS_VERIFY:
		return pgp_verify;
	case PGP_INS_CHANGE_REF:
		return pgp_change_ref;
	case PGP_INS_RESET_RETRY:
		return pgp_reset_retry;
	case PGP_INS_GENERATE:
		return pgp_generate;
	case PGP_INS_PSO:
		return pgp_pso;
	case PGP_INS_INTERNAL_AUTH:
		return pgp_internal_auth;
	case PGP_INS_GET_CHALLENGE:
		return pgp_get_challenge;
	case PGP_INS_TERMINATE:
		return terminate;
	case PGP_INS_ACTIVATE:
		return activate;
	case PGP_INS_ATTEST:
		return pgp_attest;
	default:
		return NULL;
	}
}

static unsigned pgp_process(void *state, const struct apdu *cmd,
			    struct wbuf *resp)
{
	struct pgp *p = state;
	pgp_handler_fn fn = handler_of(cmd->ins);
	unsigned sw;

	/* The card's commands are interindustry (CLA 00, chained 10); only
	 * the YubiKey-style GET ATTESTATION is proprietary (80). */
	if ((cmd->cla & 0x80) != (cmd->ins == PGP_INS_ATTEST ? 0x80 : 0x00))
		return cmd->ins == PGP_INS_ATTEST ? SW_INS_NOT_SUPPORTED
						  : SW_CLA_NOT_SUPPORTED;
	if (fn == NULL)
		return SW_INS_NOT_SUPPORTED;
	if (p->terminated && cmd->ins != PGP_INS_ACTIVATE)
		return SW_SELECTED_TERMINATED;
	sw = fn(p, cmd, resp);
	if (sw != SW_OK) {
		/* An error carries no data, not even half an answer. */
		crypto_wipe(resp->p, resp->len);
		resp->len = 0;
	} else if (resp->overflow) {
		crypto_wipe(resp->p, resp->cap);
		resp->len = 0;
		sw = SW_UNKNOWN;
	}
	return sw;
}

static int pgp_factory(void *state)
{
	return factory_reset(state) == STORE_OK ? 0 : -1;
}

const struct applet_ops openpgp_applet = {
	.name = "openpgp",
	.aid = pgp_rid_aid,
	.aid_len = sizeof(pgp_rid_aid),
	.create = pgp_create,
	.destroy = pgp_destroy,
	.select = pgp_select,
	.deselect = pgp_deselect,
	.process = pgp_process,
	.power_off = pgp_power_off,
	.describe = pgp_describe,
	.factory_reset = pgp_factory,
	.report_status = pgp_report_status,
	.report_list = pgp_report_list,
	.report_attestation = pgp_report_attestation,
};
