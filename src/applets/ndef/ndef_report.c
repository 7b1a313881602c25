/* What the NDEF applet tells logs, `vkey status`, `vkey list ndef` and
 * `vkey ndef get`. The tag is public (any NFC reader reads it), so the
 * message is shown; logs name the command, file and offsets only. */
#include "applets/ndef/ndef.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "applets/ndef/ndef_msg.h"
#include "applets/ndef/ndef_priv.h"

/* How much of the first record `vkey status` shows. */
#define SUMMARY_TEXT_MAX 64
#define SHOW_ALL SIZE_MAX

void ndef_describe(const struct apdu *cmd, char *out, size_t cap)
{
	unsigned fid, off = (unsigned)cmd->p1 << 8 | cmd->p2;

	if (cap == 0)
		return;
	switch (cmd->ins) {
	case NDEF_INS_SELECT:
		if (cmd->lc != 2) {
			snprintf(out, cap, "SELECT FILE (Lc %zu)", cmd->lc);
			break;
		}
		fid = (unsigned)cmd->data[0] << 8 | cmd->data[1];
		snprintf(out, cap, "SELECT FILE %04X%s", fid,
			 fid == NDEF_FID_CC     ? " (capability container)"
			 : fid == NDEF_FID_NDEF ? " (NDEF file)"
						: "");
		break;
	case NDEF_INS_READ_BINARY:
		snprintf(out, cap, "READ BINARY offset %u, Ne %zu", off,
			 cmd->ne);
		break;
	case NDEF_INS_UPDATE_BINARY:
		snprintf(out, cap, "UPDATE BINARY offset %u, %zu bytes", off,
			 cmd->lc);
		break;
	default:
		snprintf(out, cap, "INS %02X", cmd->ins);
		break;
	}
}

static void put_str(struct wbuf *w, const char *s)
{
	wbuf_put(w, s, strlen(s));
}

static void put_fmt(struct wbuf *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void put_fmt(struct wbuf *w, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		wbuf_put(w, tmp,
			 (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Text for a terminal: controls (which could forge lines) become '?';
 * with utf8, bytes from 0x80 pass (the caller checked the encoding),
 * otherwise they become '?' too. At most limit bytes, cut at a character
 * boundary, then "...". */
static void put_shown(struct wbuf *w, const uint8_t *p, size_t n, bool utf8,
		      size_t limit)
{
	bool cut = n > limit;

	if (cut) {
		n = limit;
		while (utf8 && n > 0 && (p[n] & 0xC0) == 0x80)
			n--;
	}
	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];
		if (c < 0x20 || c == 0x7F || (!utf8 && c >= 0x80))
			c = '?';
		wbuf_u8(w, c);
	}
	if (cut)
		put_str(w, "...");
}

static void put_hex(struct wbuf *w, const uint8_t *p, size_t n)
{
	static const char digits[] = "0123456789ABCDEF";

	for (size_t i = 0; i < n; i++) {
		wbuf_u8(w, (uint8_t)digits[p[i] >> 4]);
		wbuf_u8(w, (uint8_t)digits[p[i] & 0x0F]);
	}
}

static bool show_uri(struct wbuf *w, const struct ndef_record *rec,
		     size_t limit)
{
	size_t cap = rec->payload_len + 40, len;
	char *uri = malloc(cap);
	bool ok = uri != NULL &&
		  ndef_uri_parse(rec->payload, rec->payload_len, uri, cap,
				 &len) == NDEF_OK;

	if (ok) {
		put_str(w, "URI ");
		put_shown(w, (const uint8_t *)uri, len, true, limit);
	}
	free(uri);
	return ok;
}

static bool show_text(struct wbuf *w, const struct ndef_record *rec,
		      size_t limit)
{
	size_t cap = 2 * rec->payload_len + 1, len;
	char *text = malloc(cap);
	struct ndef_text t;
	bool ok = text != NULL &&
		  ndef_text_parse(rec->payload, rec->payload_len, &t, text, cap,
				  &len) == NDEF_OK;

	if (ok) {
		put_str(w, "Text (");
		put_shown(w, (const uint8_t *)t.lang, strlen(t.lang), false,
			  SHOW_ALL);
		put_str(w, t.utf16 ? ", UTF-16) " : ") ");
		put_shown(w, (const uint8_t *)text, len, true, limit);
	}
	free(text);
	return ok;
}

static const char *tnf_name(uint8_t tnf)
{
	switch (tnf) {
	case NDEF_TNF_WELL_KNOWN:
		return "well-known type";
	case NDEF_TNF_MEDIA:
		return "media type";
	case NDEF_TNF_ABSOLUTE_URI:
		return "absolute URI";
	case NDEF_TNF_EXTERNAL:
		return "external type";
	default:
		return "unknown type";
	}
}

/* One record: URI and Text decoded, anything else as its type and
 * payload (in hex, unless limited to a summary). */
static void show_record(struct wbuf *w, const struct ndef_record *rec,
			size_t limit)
{
	if (ndef_is_uri(rec) && show_uri(w, rec, limit))
		return;
	if (ndef_is_text(rec) && show_text(w, rec, limit))
		return;
	if (rec->tnf == NDEF_TNF_EMPTY) {
		put_str(w, "empty record");
		return;
	}
	put_str(w, tnf_name(rec->tnf));
	if (rec->type_len > 0) {
		put_str(w, " \"");
		put_shown(w, rec->type, rec->type_len, false, SHOW_ALL);
		put_str(w, "\"");
	}
	if (ndef_is_uri(rec) || ndef_is_text(rec))
		put_str(w, " (malformed payload)");
	put_fmt(w, ", %zu byte%s", rec->payload_len,
		rec->payload_len == 1 ? "" : "s");
	if (limit == SHOW_ALL && rec->payload_len > 0) {
		put_str(w, ": ");
		put_hex(w, rec->payload, rec->payload_len);
	}
}

struct parsed {
	struct ndef_record *recs;
	uint8_t *pool;
	size_t n;
	int err;
};

static void parse(const uint8_t *msg, size_t len, struct parsed *p)
{
	size_t max = len / 3 + 1; /* a record takes at least 3 bytes */

	memset(p, 0, sizeof(*p));
	p->recs = calloc(max, sizeof(*p->recs));
	p->pool = malloc(len > 0 ? len : 1);
	if (p->recs == NULL || p->pool == NULL)
		p->err = NDEF_ERR_SPACE;
	else
		p->err = ndef_msg_parse(msg, len, p->recs, max, &p->n,
					p->pool, len);
}

static void parsed_free(struct parsed *p)
{
	free(p->recs);
	free(p->pool);
}

static const char *access_text(bool read_only)
{
	return read_only ? "read-only" : "writable";
}

int ndef_show(const uint8_t *msg, size_t len, bool read_only,
	      struct wbuf *out)
{
	struct parsed p;

	if (len == 0) {
		put_fmt(out, "NDEF message: none, %s\n", access_text(read_only));
		return out->overflow ? -1 : 0;
	}
	parse(msg, len, &p);
	if (p.err != NDEF_OK) {
		put_fmt(out,
			"NDEF message: %zu of %d bytes, malformed (%s), %s\n",
			len, NDEF_MSG_MAX, ndef_strerror(p.err),
			access_text(read_only));
		put_str(out, "raw: ");
		put_hex(out, msg, len);
		put_str(out, "\n");
	} else {
		put_fmt(out, "NDEF message: %zu of %d bytes, %zu record%s, %s\n",
			len, NDEF_MSG_MAX, p.n, p.n == 1 ? "" : "s",
			access_text(read_only));
		for (size_t i = 0; i < p.n; i++) {
			put_fmt(out, "record %zu", i + 1);
			if (p.recs[i].id_len > 0) {
				put_str(out, " (id \"");
				put_shown(out, p.recs[i].id, p.recs[i].id_len,
					  false, SHOW_ALL);
				put_str(out, "\")");
			}
			put_str(out, ": ");
			show_record(out, &p.recs[i], SHOW_ALL);
			put_str(out, "\n");
		}
	}
	parsed_free(&p);
	return out->overflow ? -1 : 0;
}

static const char damaged_text[] =
	"ndef: the stored tag is unreadable; it reads as empty until the "
	"ndef applet is reset\n";

int ndef_report_status(void *state, struct wbuf *out)
{
	struct ndef *t = state;
	const uint8_t *msg = t->file + NDEF_NLEN_LEN;
	size_t len = ndef_nlen(t->file);
	struct parsed p;

	if (t->damaged) {
		put_str(out, damaged_text);
		return 0;
	}
	if (len == 0) {
		put_fmt(out, "ndef: no message, %s\n", access_text(t->read_only));
		return 0;
	}
	parse(msg, len, &p);
	put_fmt(out, "ndef: %zu of %d bytes, ", len, NDEF_MSG_MAX);
	if (p.err != NDEF_OK) {
		put_str(out, "not a well-formed NDEF message");
	} else {
		put_fmt(out, "%zu record%s (", p.n, p.n == 1 ? "" : "s");
		show_record(out, &p.recs[0], SUMMARY_TEXT_MAX);
		put_str(out, p.n > 1 ? ", ...)" : ")");
	}
	put_fmt(out, ", %s\n", access_text(t->read_only));
	parsed_free(&p);
	return 0;
}

int ndef_report_list(void *state, struct wbuf *out)
{
	struct ndef *t = state;

	if (t->damaged) {
		put_str(out, damaged_text);
		return 0;
	}
	return ndef_show(t->file + NDEF_NLEN_LEN, ndef_nlen(t->file),
			 t->read_only, out);
}
