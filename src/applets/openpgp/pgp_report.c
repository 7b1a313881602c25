/* What the OpenPGP applet tells logs, `vkey status` and `vkey list
 * openpgp`: command names, DO tags and key facts, never a PIN, key or
 * data to sign or decrypt. */
#include <stdio.h>
#include <string.h>

#include "applets/openpgp/pgp_priv.h"

static const char *ins_name(uint8_t ins)
{
	switch (ins) {
	case PGP_INS_SELECT_DATA: return "SELECT DATA";
	case PGP_INS_GET_DATA: return "GET DATA";
	case PGP_INS_GET_NEXT_DATA: return "GET NEXT DATA";
	case PGP_INS_VERIFY: return "VERIFY";
	case PGP_INS_CHANGE_REF: return "CHANGE REFERENCE DATA";
	case PGP_INS_RESET_RETRY: return "RESET RETRY COUNTER";
	case PGP_INS_PUT_DATA: return "PUT DATA";
	case PGP_INS_PUT_DATA_ODD: return "PUT DATA (key import)";
	case PGP_INS_GENERATE: return "GENERATE ASYMMETRIC KEY PAIR";
	case PGP_INS_PSO: return "PSO";
	case PGP_INS_INTERNAL_AUTH: return "INTERNAL AUTHENTICATE";
	case PGP_INS_GET_CHALLENGE: return "GET CHALLENGE";
	case PGP_INS_TERMINATE: return "TERMINATE DF";
	case PGP_INS_ACTIVATE: return "ACTIVATE FILE";
	case PGP_INS_ATTEST: return "GET ATTESTATION";
	case 0xA4: return "SELECT";
	default: return NULL;
	}
}

static const char *pso_name(const struct apdu *cmd)
{
	switch (cmd->p1 << 8 | cmd->p2) {
	case 0x9E9A: return "COMPUTE DIGITAL SIGNATURE";
	case 0x8086: return "DECIPHER";
	case 0x8680: return "ENCIPHER";
	default: return "?";
	}
}

void pgp_describe(const struct apdu *cmd, char *out, size_t cap)
{
	const char *name = ins_name(cmd->ins);

	if (cap == 0)
		return;
	if (name == NULL) {
		snprintf(out, cap, "INS %02X", cmd->ins);
		return;
	}
	switch (cmd->ins) {
	case PGP_INS_GET_DATA:
	case PGP_INS_GET_NEXT_DATA:
		snprintf(out, cap, "%s %02X%02X", name, cmd->p1, cmd->p2);
		break;
	case PGP_INS_PUT_DATA:
	case PGP_INS_PUT_DATA_ODD:
		/* The length of a resetting code or AES key is a secret's. */
		if (cmd->ins == PGP_INS_PUT_DATA && cmd->p1 == 0x00 &&
		    (cmd->p2 == 0xD3 || cmd->p2 == 0xD5))
			snprintf(out, cap, "%s %02X%02X", name, cmd->p1,
				 cmd->p2);
		else
			snprintf(out, cap, "%s %02X%02X (%zu bytes)", name,
				 cmd->p1, cmd->p2, cmd->lc);
		break;
	case PGP_INS_VERIFY:
	case PGP_INS_CHANGE_REF:
	case PGP_INS_RESET_RETRY:
		snprintf(out, cap, "%s P1 %02X PW %02X%s", name, cmd->p1,
			 cmd->p2, cmd->lc == 0 ? " (status)" : "");
		break;
	case PGP_INS_GENERATE:
		snprintf(out, cap, "%s %s key %02X", name,
			 cmd->p1 == 0x81 ? "read" : "generate",
			 cmd->lc > 0 ? cmd->data[0] : 0);
		break;
	case PGP_INS_PSO:
		snprintf(out, cap, "PSO:%s (%zu bytes)", pso_name(cmd),
			 cmd->lc);
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

/* "rsa2048", "nistp256 ecdsa", ... */
static void algo_text(const struct pgp_algo *a, char *out, size_t cap)
{
	static const char *const curve[] = {
		[PK_P256] = "nistp256", [PK_P384] = "nistp384",
		[PK_P521] = "nistp521", [PK_BP256] = "brainpoolP256r1",
		[PK_BP384] = "brainpoolP384r1", [PK_BP512] = "brainpoolP512r1",
		[PK_SECP256K1] = "secp256k1", [PK_ED25519] = "ed25519",
		[PK_X25519] = "cv25519",
	};

	if (a->id == PGP_ALG_RSA)
		snprintf(out, cap, "rsa%u", a->rsa_bits);
	else
		snprintf(out, cap, "%s", curve[a->curve]);
}

static const char *const slot_name[PGP_SLOTS] = { "signature", "decryption",
						  "authentication" };

static const char *status_text(uint8_t s)
{
	switch (s) {
	case PGP_KEY_GENERATED: return "generated on card";
	case PGP_KEY_IMPORTED: return "imported";
	default: return "no key";
	}
}

int pgp_report_status(void *state, struct wbuf *out)
{
	struct pgp *p = state;
	char line[256];
	int n = 0;

	if (p->terminated)
		return put_text(out, "openpgp: terminated (ACTIVATE FILE "
				     "restores the factory state)\n");
	for (int slot = PGP_SIG; slot < PGP_SLOTS; slot++)
		n += pgp_key_status(p, slot) != PGP_KEY_ABSENT;
	snprintf(line, sizeof(line),
		 "openpgp: %d of 3 keys, PIN tries PW1 %u, reset code %u, "
		 "PW3 %u%s\n",
		 n, pgp_pin_tries(p, PGP_PW1), pgp_pin_tries(p, PGP_RC),
		 pgp_pin_tries(p, PGP_PW3),
		 pgp_kdf_active(p) ? ", KDF on" : "");
	put_text(out, line);
	if (pgp_pin_is(p, PGP_PW1, "123456"))
		put_text(out, "openpgp: warning: the default PIN (123456) "
			      "is still set\n");
	if (pgp_pin_is(p, PGP_PW3, "12345678"))
		put_text(out, "openpgp: warning: the default admin PIN "
			      "(12345678) is still set\n");
	return out->overflow ? -1 : 0;
}

int pgp_report_list(void *state, struct wbuf *out)
{
	struct pgp *p = state;

	for (int slot = PGP_SIG; slot < PGP_SLOTS; slot++) {
		struct pgp_algo a;
		uint8_t fpr[20];
		size_t len = 0;
		char alg[32], hex[41] = "-", line[160];

		if (pgp_algo_get(p, slot, &a) != STORE_OK)
			snprintf(alg, sizeof(alg), "(unreadable)");
		else
			algo_text(&a, alg, sizeof(alg));
		if (pgp_get_do(p, (uint16_t)(PGP_DO_FPR_SIG + slot), fpr,
			       sizeof(fpr), &len) == STORE_OK &&
		    len == sizeof(fpr))
			for (size_t i = 0; i < len; i++)
				snprintf(hex + 2 * i, 3, "%02X", fpr[i]);
		snprintf(line, sizeof(line), "%-14s %-16s %-17s %s\n",
			 slot_name[slot], alg,
			 status_text(pgp_key_status(p, slot)), hex);
		put_text(out, line);
	}
	return out->overflow ? -1 : 0;
}
