/* What the PIV applet tells logs, `vkey status` and `vkey piv list`:
 * command names, slots, object ids and key facts, never a PIN, key,
 * witness or data to sign. */
#include <stdio.h>
#include <string.h>

#include "applets/piv/piv_priv.h"
#include "services/store.h"

static const char *ins_name(uint8_t ins)
{
	switch (ins) {
	case 0xA4: return "SELECT";
	case PIV_INS_VERIFY: return "VERIFY";
	case PIV_INS_CHANGE_REF: return "CHANGE REFERENCE DATA";
	case PIV_INS_RESET_RETRY: return "RESET RETRY COUNTER";
	case PIV_INS_GENERATE: return "GENERATE ASYMMETRIC KEY PAIR";
	case PIV_INS_GENERAL_AUTH: return "GENERAL AUTHENTICATE";
	case PIV_INS_GET_DATA: return "GET DATA";
	case PIV_INS_PUT_DATA: return "PUT DATA";
	case PIV_INS_MOVE_KEY: return "MOVE KEY";
	case PIV_INS_GET_METADATA: return "GET METADATA";
	case PIV_INS_GET_SERIAL: return "GET SERIAL";
	case PIV_INS_ATTEST: return "ATTEST";
	case PIV_INS_SET_PIN_RETRIES: return "SET PIN RETRIES";
	case PIV_INS_RESET: return "RESET";
	case PIV_INS_GET_VERSION: return "GET VERSION";
	case PIV_INS_IMPORT_KEY: return "IMPORT KEY";
	case PIV_INS_SET_MGMT_KEY: return "SET MANAGEMENT KEY";
	default: return NULL;
	}
}

/* The object id named by a GET/PUT DATA's leading 5C tag, as hex. */
static void object_text(const struct apdu *cmd, char *out, size_t cap)
{
	size_t n;

	snprintf(out, cap, "?");
	if (cmd->lc < 3 || cmd->data[0] != PIV_TAG_OBJ_ID)
		return;
	n = cmd->data[1];
	if (n < 1 || n > 3 || cmd->lc < 2 + n)
		return;
	for (size_t i = 0; i < n && 2 * i + 3 <= cap; i++)
		snprintf(out + 2 * i, cap - 2 * i, "%02X", cmd->data[2 + i]);
}

/* From P2 and the template's tags, never its values (a management-key
 * step carries the witness). */
static const char *ga_kind(const struct apdu *cmd)
{
	struct piv_dyn_auth q;

	if (cmd->p2 == PIV_REF_MGMT)
		return "management key";
	if (piv_dyn_auth_parse(cmd->data, cmd->lc, &q) == 0 &&
	    (q.seen & PIV_DA_EXPONENT) != 0)
		return "key agreement";
	return "private-key operation";
}

void piv_describe(const struct apdu *cmd, char *out, size_t cap)
{
	const char *name = ins_name(cmd->ins);
	char obj[8];

	if (cap == 0)
		return;
	if (name == NULL) {
		snprintf(out, cap, "INS %02X", cmd->ins);
		return;
	}
	switch (cmd->ins) {
	case PIV_INS_GET_DATA:
	case PIV_INS_PUT_DATA:
		object_text(cmd, obj, sizeof(obj));
		snprintf(out, cap, "%s %s (%zu bytes)", name, obj, cmd->lc);
		break;
	case PIV_INS_VERIFY:
	case PIV_INS_CHANGE_REF:
	case PIV_INS_RESET_RETRY:
		snprintf(out, cap, "%s P1 %02X ref %02X%s", name, cmd->p1,
			 cmd->p2, cmd->lc == 0 ? " (status)" : "");
		break;
	case PIV_INS_GENERAL_AUTH:
		snprintf(out, cap, "%s alg %02X slot %02X %s (%zu bytes)", name,
			 cmd->p1, cmd->p2, ga_kind(cmd), cmd->lc);
		break;
	case PIV_INS_GENERATE:
		snprintf(out, cap, "%s slot %02X alg %02X", name, cmd->p2,
			 cmd->lc >= 5 ? cmd->data[4] : 0);
		break;
	case PIV_INS_IMPORT_KEY:
		snprintf(out, cap, "%s slot %02X alg %02X", name, cmd->p2,
			 cmd->p1);
		break;
	case PIV_INS_MOVE_KEY:
		if (cmd->p1 == 0xFF)
			snprintf(out, cap, "DELETE KEY slot %02X", cmd->p2);
		else
			snprintf(out, cap, "%s %02X to %02X", name, cmd->p2,
				 cmd->p1);
		break;
	case PIV_INS_GET_METADATA:
		snprintf(out, cap, "%s ref %02X", name, cmd->p2);
		break;
	case PIV_INS_ATTEST:
		snprintf(out, cap, "%s slot %02X", name, cmd->p1);
		break;
	case PIV_INS_SET_PIN_RETRIES:
		snprintf(out, cap, "%s PIN %u PUK %u", name, cmd->p1, cmd->p2);
		break;
	case PIV_INS_SET_MGMT_KEY:
		snprintf(out, cap, "%s%s", name,
			 cmd->p2 == 0xFE ? " (touch)" : "");
		break;
	default:
		snprintf(out, cap, "%s", name);
		break;
	}
}

static int put_text(struct wbuf *out, const char *text)
{
	return wbuf_put(out, text, strlen(text));
}

static const char *alg_text(uint8_t alg)
{
	switch (alg) {
	case PIV_ALG_RSA1024: return "rsa1024";
	case PIV_ALG_RSA2048: return "rsa2048";
	case PIV_ALG_RSA3072: return "rsa3072";
	case PIV_ALG_RSA4096: return "rsa4096";
	case PIV_ALG_P256: return "p256";
	case PIV_ALG_P384: return "p384";
	case PIV_ALG_ED25519: return "ed25519";
	case PIV_ALG_X25519: return "x25519";
	case PIV_ALG_3DES: return "3des";
	case PIV_ALG_AES128: return "aes128";
	case PIV_ALG_AES192: return "aes192";
	case PIV_ALG_AES256: return "aes256";
	default: return "?";
	}
}

static const char *pin_policy_text(uint8_t v)
{
	switch (v) {
	case PIV_PIN_NEVER: return "never";
	case PIV_PIN_ONCE: return "once";
	case PIV_PIN_ALWAYS: return "always";
	default: return "?";
	}
}

static const char *touch_policy_text(uint8_t v)
{
	switch (v) {
	case PIV_TOUCH_NEVER: return "never";
	case PIV_TOUCH_ALWAYS: return "always";
	case PIV_TOUCH_CACHED: return "cached";
	default: return "?";
	}
}

/* The slot's role, as SP 800-73-4 names it. */
static void slot_name(uint8_t slot, char *out, size_t cap)
{
	switch (slot) {
	case PIV_SLOT_AUTH: snprintf(out, cap, "authentication"); break;
	case PIV_SLOT_SIGN: snprintf(out, cap, "signature"); break;
	case PIV_SLOT_KM: snprintf(out, cap, "key management"); break;
	case PIV_SLOT_CAUTH: snprintf(out, cap, "card auth"); break;
	case PIV_SLOT_ATTEST: snprintf(out, cap, "attestation"); break;
	default:
		snprintf(out, cap, "retired %u",
			 (unsigned)(slot - PIV_SLOT_RETIRED_FIRST + 1));
		break;
	}
}

static bool has_key(struct piv *p, uint8_t slot)
{
	struct piv_key k;
	int err = piv_key_load(p, slot, &k);

	piv_key_wipe(&k);
	return err == STORE_OK;
}

int piv_report_status(void *state, struct wbuf *out)
{
	struct piv *p = state;
	uint8_t pin_total, pin_left, puk_total, puk_left;
	char line[256];
	int keys = 0;

	for (int i = 0; i < PIV_SLOTS; i++)
		if (piv_slot_ref(i) != PIV_SLOT_ATTEST &&
		    has_key(p, piv_slot_ref(i)))
			keys++;
	piv_pin_tries(p, PIV_PIN, &pin_total, &pin_left);
	piv_pin_tries(p, PIV_PUK, &puk_total, &puk_left);
	snprintf(line, sizeof(line),
		 "piv: %d of 24 key slots used, PIN tries %u of %u, "
		 "PUK tries %u of %u\n",
		 keys, pin_left, pin_total, puk_left, puk_total);
	put_text(out, line);
	if (piv_pin_is_default(p, PIV_PIN) == 1)
		put_text(out, "piv: warning: the default PIN (123456) is "
			      "still set\n");
	if (piv_pin_is_default(p, PIV_PUK) == 1)
		put_text(out, "piv: warning: the default PUK (12345678) is "
			      "still set\n");
	if (piv_mgmt_is_default(p) == 1)
		put_text(out, "piv: warning: the default management key "
			      "(010203...08) is still set\n");
	return out->overflow ? -1 : 0;
}

static bool has_object(struct piv *p, uint32_t id)
{
	uint8_t *val = NULL;
	size_t len = 0;
	int err = piv_obj_get(p, id, &val, &len);

	if (err == STORE_OK)
		store_free_value(val, len);
	return err == STORE_OK;
}

int piv_report_list(void *state, struct wbuf *out)
{
	struct piv *p = state;
	char line[192];

	for (int i = 0; i < PIV_SLOTS; i++) {
		uint8_t slot = piv_slot_ref(i);
		struct piv_key k;
		int err = piv_key_load(p, slot, &k);
		char name[24];

		slot_name(slot, name, sizeof(name));
		if (err == STORE_OK)
			snprintf(line, sizeof(line),
				 "%02x %-14s %-8s %-9s pin %-6s touch %-6s "
				 "%s\n",
				 slot, name, alg_text(k.alg),
				 k.origin == PIV_ORIGIN_GENERATED ? "generated"
								  : "imported",
				 pin_policy_text(k.pin_policy),
				 touch_policy_text(k.touch_policy),
				 has_object(p, piv_slot_object(slot))
					 ? "certificate"
					 : "no certificate");
		else if (err != STORE_NOT_FOUND)
			snprintf(line, sizeof(line), "%02x %-14s (unreadable: %s)\n",
				 slot, name, store_strerror(err));
		piv_key_wipe(&k);
		if (err != STORE_NOT_FOUND)
			put_text(out, line);
	}
	return out->overflow ? -1 : 0;
}
