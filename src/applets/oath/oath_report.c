/* What the OATH applet tells logs and `vkey status` / `vkey list oath`:
 * names and settings only, never a key, challenge, response or code. */
#include "applets/oath/oath_priv.h"

#include <stdio.h>
#include <string.h>

#include "core/key.h"
#include "services/crypto.h"

#define SHOWN_NAME_MAX (OATH_NAME_MAX + 1)

/* The non-secret fields of a command, as describe shows them. */
struct desc_fields {
	struct rbuf names[2];
	size_t n_names;
	bool has_key;
	uint8_t type_alg, digits;
	size_t key_len;
	uint8_t props;
};

void oath_print_name(char *out, size_t cap, const uint8_t *name, size_t len)
{
	size_t n = 0;

	if (cap == 0)
		return;
	for (size_t i = 0; i < len && n + 1 < cap; i++) {
		uint8_t c = name[i];
		/* Keep UTF-8, drop controls that could forge log lines. */
		out[n++] = (c < 0x20 || c == 0x7F) ? '?' : (char)c;
	}
	out[n] = '\0';
}

static const char *type_name(uint8_t type)
{
	switch (type & OATH_TYPE_MASK) {
	case OATH_TYPE_HOTP:
		return "HOTP";
	case OATH_TYPE_TOTP:
		return "TOTP";
	default:
		return "?";
	}
}

static const char *alg_name(uint8_t alg)
{
	switch (alg & OATH_ALG_MASK) {
	case OATH_ALG_SHA1:
		return "SHA1";
	case OATH_ALG_SHA256:
		return "SHA256";
	case OATH_ALG_SHA512:
		return "SHA512";
	default:
		return "?";
	}
}

/* Best effort: stops quietly at the first malformed element. */
static void desc_scan(const struct apdu *cmd, struct desc_fields *f)
{
	struct rbuf r = rbuf_init(cmd->data, cmd->lc);
	struct rbuf val;
	uint8_t tag;

	memset(f, 0, sizeof(*f));
	while (rbuf_left(&r) > 0 && oath_next(&r, &tag, &val) == 0) {
		if (tag == OATH_TAG_NAME && f->n_names < 2) {
			f->names[f->n_names++] = val;
		} else if (tag == OATH_TAG_KEY) {
			f->has_key = true;
			f->key_len = val.len;
			rbuf_u8(&val, &f->type_alg);
			rbuf_u8(&val, &f->digits);
		} else if (tag == OATH_TAG_PROPERTY) {
			rbuf_u8(&val, &f->props);
		}
	}
}

static void shown(char out[SHOWN_NAME_MAX], const struct desc_fields *f,
		  size_t i)
{
	out[0] = '\0';
	if (i < f->n_names)
		oath_print_name(out, SHOWN_NAME_MAX, f->names[i].p,
				f->names[i].len);
}

static const char *truncation(const struct apdu *cmd)
{
	return cmd->p2 == 1 ? "truncated" : "full";
}

void oath_describe(const struct apdu *cmd, char *out, size_t cap)
{
	struct desc_fields f;
	char a[SHOWN_NAME_MAX], b[SHOWN_NAME_MAX];

	if (cap == 0)
		return;
	desc_scan(cmd, &f);
	shown(a, &f, 0);
	shown(b, &f, 1);
	switch (cmd->ins) {
	case OATH_INS_PUT:
		snprintf(out, cap, "PUT \"%s\" %s %s %u digits%s", a,
			 type_name(f.type_alg), alg_name(f.type_alg),
			 f.digits, f.props & OATH_PROP_TOUCH ? " touch" : "");
		break;
	case OATH_INS_DELETE:
		snprintf(out, cap, "DELETE \"%s\"", a);
		break;
	case OATH_INS_SET_CODE:
		snprintf(out, cap, "SET CODE%s",
			 f.has_key && f.key_len == 0 ? " (remove)" : "");
		break;
	case OATH_INS_RESET:
		snprintf(out, cap, "RESET");
		break;
	case OATH_INS_RENAME:
		snprintf(out, cap, "RENAME \"%s\" to \"%s\"", a, b);
		break;
	case OATH_INS_LIST:
		snprintf(out, cap, "LIST");
		break;
	case OATH_INS_CALCULATE:
		snprintf(out, cap, "CALCULATE \"%s\" (%s)", a,
			 truncation(cmd));
		break;
	case OATH_INS_VALIDATE:
		snprintf(out, cap, "VALIDATE");
		break;
	case OATH_INS_CALCULATE_ALL:
		/* INS A4 is SELECT too; SELECT by name has P1 = 04. */
		if (cmd->p1 == 0x04)
			snprintf(out, cap, "SELECT");
		else
			snprintf(out, cap, "CALCULATE ALL (%s)",
				 truncation(cmd));
		break;
	case OATH_INS_SEND_REMAINING:
		snprintf(out, cap, "SEND REMAINING");
		break;
	default:
		snprintf(out, cap, "INS %02X", cmd->ins);
		break;
	}
}

struct tally {
	size_t accounts, touch;
};

static int tally_one(void *arg, const uint8_t *name, size_t name_len,
		     const uint8_t *val, size_t val_len)
{
	struct tally *t = arg;
	struct oath_record rec;

	(void)name;
	(void)name_len;
	t->accounts++;
	if (oath_record_decode(val, val_len, &rec) == 0 &&
	    (rec.props & OATH_PROP_TOUCH))
		t->touch++;
	crypto_wipe(&rec, sizeof(rec));
	return 0;
}

static int put_text(struct wbuf *out, const char *text)
{
	return wbuf_put(out, text, strlen(text));
}

int oath_report_status(void *state, struct wbuf *out)
{
	struct oath *o = state;
	struct tally t = { 0, 0 };
	char line[128];
	int err;

	err = store_foreach(vkey_store(o->key), OATH_NS, tally_one, &t);
	if (err != STORE_OK) {
		snprintf(line, sizeof(line), "oath: store error: %s\n",
			 store_strerror(err));
		put_text(out, line);
		return -1;
	}
	snprintf(line, sizeof(line),
		 "oath: %zu account%s (%zu touch-required), access code %s\n",
		 t.accounts, t.accounts == 1 ? "" : "s", t.touch,
		 o->code_set ? "set" : "not set");
	return put_text(out, line);
}

static int list_line(void *arg, const uint8_t *name, size_t name_len,
		     const uint8_t *val, size_t val_len)
{
	struct wbuf *out = arg;
	struct oath_record rec;
	char shown_name[SHOWN_NAME_MAX];
	char line[SHOWN_NAME_MAX + 64];

	oath_print_name(shown_name, sizeof(shown_name), name,
			name_len < OATH_NAME_MAX ? name_len : OATH_NAME_MAX);
	if (oath_record_decode(val, val_len, &rec) != 0) {
		snprintf(line, sizeof(line), "%s  (unreadable record)\n",
			 shown_name);
	} else {
		snprintf(line, sizeof(line), "%s  %s %s %u digits%s\n",
			 shown_name, type_name(rec.type), alg_name(rec.alg),
			 rec.digits,
			 rec.props & OATH_PROP_TOUCH ? " touch" : "");
	}
	crypto_wipe(&rec, sizeof(rec));
	put_text(out, line);
	return 0;
}

int oath_report_list(void *state, struct wbuf *out)
{
	struct oath *o = state;

	return store_foreach(vkey_store(o->key), OATH_NS, list_line, out) ==
			       STORE_OK
		       ? 0
		       : -1;
}
