/* NDEF message codec (see ndef_msg.h). The rules checked are NDEF 1.0
 * §2.3 (message begin/end, chunking) and §3.2 (record layout, what each
 * TNF allows); URI and Text payloads follow RTD-URI 1.0 and RTD-Text
 * 1.0. */
#include "applets/ndef/ndef_msg.h"

#include <string.h>

/* One record as it lies in the message: a whole record or one chunk. */
struct raw {
	uint8_t hdr;
	const uint8_t *type, *id, *payload;
	size_t type_len, id_len, payload_len;
};

static int read_raw(struct rbuf *r, struct raw *rec)
{
	uint8_t type_len, id_len = 0, len8;
	uint32_t len32;

	memset(rec, 0, sizeof(*rec));
	if (rbuf_u8(r, &rec->hdr) != 0 || rbuf_u8(r, &type_len) != 0)
		return NDEF_ERR_TRUNCATED;
	if (rec->hdr & NDEF_SR) {
		if (rbuf_u8(r, &len8) != 0)
			return NDEF_ERR_TRUNCATED;
		len32 = len8;
	} else if (rbuf_u32be(r, &len32) != 0) {
		return NDEF_ERR_TRUNCATED;
	}
	if ((rec->hdr & NDEF_IL) && rbuf_u8(r, &id_len) != 0)
		return NDEF_ERR_TRUNCATED;
	/* rbuf_bytes compares with what is left, so a 4 GiB length is
	 * just "truncated". */
	if (rbuf_bytes(r, type_len, &rec->type) != 0 ||
	    rbuf_bytes(r, id_len, &rec->id) != 0 ||
	    rbuf_bytes(r, len32, &rec->payload) != 0)
		return NDEF_ERR_TRUNCATED;
	rec->type_len = type_len;
	rec->id_len = id_len;
	rec->payload_len = len32;
	return NDEF_OK;
}

/* What the TNF of a record (or first chunk) allows, §3.2.6. */
static int check_tnf(uint8_t tnf, size_t type_len, size_t id_len,
		     size_t payload_len, bool chunked)
{
	switch (tnf) {
	case NDEF_TNF_EMPTY:
		return type_len == 0 && id_len == 0 && payload_len == 0 &&
				       !chunked
			       ? NDEF_OK
			       : NDEF_ERR_TNF;
	case NDEF_TNF_WELL_KNOWN:
	case NDEF_TNF_MEDIA:
	case NDEF_TNF_ABSOLUTE_URI:
	case NDEF_TNF_EXTERNAL:
		return type_len > 0 ? NDEF_OK : NDEF_ERR_TNF;
	case NDEF_TNF_UNKNOWN:
		return type_len == 0 ? NDEF_OK : NDEF_ERR_TNF;
	default: /* UNCHANGED outside a chunk sequence, RESERVED */
		return NDEF_ERR_TNF;
	}
}

struct parse {
	struct ndef_record *recs;
	size_t max, count;
	uint8_t *pool;
	size_t pool_cap, pool_len;
};

static int emit(struct parse *ps, const struct ndef_record *rec)
{
	if (ps->recs != NULL) {
		if (ps->count >= ps->max)
			return NDEF_ERR_TOO_MANY;
		ps->recs[ps->count] = *rec;
	}
	ps->count++;
	return NDEF_OK;
}

/* Append one chunk's payload to the record being joined. Checking only
 * (no table) needs no pool. */
static int join(struct parse *ps, struct ndef_record *rec,
		const uint8_t *p, size_t n)
{
	if (ps->recs == NULL) {
		rec->payload_len += n;
		return NDEF_OK;
	}
	if (ps->pool == NULL || ps->pool_cap - ps->pool_len < n)
		return NDEF_ERR_SPACE;
	if (n > 0)
		memcpy(ps->pool + ps->pool_len, p, n);
	ps->pool_len += n;
	rec->payload_len += n;
	return NDEF_OK;
}

/* A record, or the first chunk of one. */
static int first_part(struct parse *ps, const struct raw *raw,
		      struct ndef_record *rec, bool *in_chunk)
{
	bool cf = (raw->hdr & NDEF_CF) != 0;
	int err = check_tnf(raw->hdr & NDEF_TNF_MASK, raw->type_len,
			    raw->id_len, raw->payload_len, cf);

	if (err != NDEF_OK)
		return err;
	memset(rec, 0, sizeof(*rec));
	rec->tnf = raw->hdr & NDEF_TNF_MASK;
	rec->type = raw->type;
	rec->type_len = raw->type_len;
	rec->id = raw->id;
	rec->id_len = raw->id_len;
	if (!cf) {
		rec->payload = raw->payload;
		rec->payload_len = raw->payload_len;
		return emit(ps, rec);
	}
	*in_chunk = true;
	rec->chunked = true;
	rec->payload = ps->pool != NULL ? ps->pool + ps->pool_len : NULL;
	return join(ps, rec, raw->payload, raw->payload_len);
}

/* A middle or last chunk (§2.3.3): TNF unchanged, no type, no ID. */
static int next_part(struct parse *ps, const struct raw *raw,
		     struct ndef_record *rec, bool *in_chunk)
{
	int err;

	if ((raw->hdr & NDEF_TNF_MASK) != NDEF_TNF_UNCHANGED ||
	    raw->type_len != 0 || (raw->hdr & NDEF_IL) != 0)
		return NDEF_ERR_TNF;
	err = join(ps, rec, raw->payload, raw->payload_len);
	if (err != NDEF_OK || (raw->hdr & NDEF_CF) != 0)
		return err;
	*in_chunk = false;
	return emit(ps, rec);
}

int ndef_msg_parse(const uint8_t *msg, size_t len, struct ndef_record *recs,
		   size_t max, size_t *n, uint8_t *pool, size_t pool_cap)
{
	struct parse ps = { recs, max, 0, pool, pool != NULL ? pool_cap : 0,
			    0 };
	struct ndef_record rec;
	struct rbuf r;
	bool in_chunk = false;
	size_t index = 0;
	int err;

	*n = 0;
	if (len == 0)
		return NDEF_OK;
	r = rbuf_init(msg, len);
	memset(&rec, 0, sizeof(rec));
	for (;;) {
		struct raw raw;

		err = read_raw(&r, &raw);
		if (err != NDEF_OK)
			return err;
		/* MB on the first record (or chunk) only, §2.3.1 */
		if (((raw.hdr & NDEF_MB) != 0) != (index == 0))
			return NDEF_ERR_FLAGS;
		index++;
		err = in_chunk ? next_part(&ps, &raw, &rec, &in_chunk)
			       : first_part(&ps, &raw, &rec, &in_chunk);
		if (err != NDEF_OK)
			return err;
		if (raw.hdr & NDEF_ME) {
			/* A message cannot end inside a chunked record. */
			if (in_chunk)
				return NDEF_ERR_FLAGS;
			if (rbuf_left(&r) != 0)
				return NDEF_ERR_TRAILING;
			*n = ps.count;
			return NDEF_OK;
		}
		if (rbuf_left(&r) == 0)
			return NDEF_ERR_TRUNCATED; /* no record with ME */
	}
}

static int encode_one(const struct ndef_record *rec, uint8_t flags,
		      struct wbuf *w)
{
	uint8_t hdr = (uint8_t)(flags | (rec->tnf & NDEF_TNF_MASK));

	if (rec->tnf > NDEF_TNF_RESERVED || rec->type_len > 0xFF ||
	    rec->id_len > 0xFF || rec->payload_len > UINT32_MAX ||
	    check_tnf(rec->tnf, rec->type_len, rec->id_len, rec->payload_len,
		      false) != NDEF_OK)
		return NDEF_ERR_TNF;
	if (rec->payload_len <= 0xFF)
		hdr |= NDEF_SR;
	if (rec->id_len > 0)
		hdr |= NDEF_IL;
	wbuf_u8(w, hdr);
	wbuf_u8(w, (uint8_t)rec->type_len);
	if (hdr & NDEF_SR)
		wbuf_u8(w, (uint8_t)rec->payload_len);
	else
		wbuf_u32be(w, (uint32_t)rec->payload_len);
	if (hdr & NDEF_IL)
		wbuf_u8(w, (uint8_t)rec->id_len);
	wbuf_put(w, rec->type, rec->type_len);
	wbuf_put(w, rec->id, rec->id_len);
	wbuf_put(w, rec->payload, rec->payload_len);
	return w->overflow ? NDEF_ERR_SPACE : NDEF_OK;
}

int ndef_msg_encode(const struct ndef_record *recs, size_t n, struct wbuf *w)
{
	for (size_t i = 0; i < n; i++) {
		uint8_t flags = (uint8_t)((i == 0 ? NDEF_MB : 0) |
					  (i + 1 == n ? NDEF_ME : 0));
		int err = encode_one(&recs[i], flags, w);

		if (err != NDEF_OK)
			return err;
	}
	return NDEF_OK;
}

const char *ndef_strerror(int err)
{
	switch (err) {
	case NDEF_OK:
		return "ok";
	case NDEF_ERR_TRUNCATED:
		return "a record runs past the end of the message";
	case NDEF_ERR_FLAGS:
		return "message begin, end or chunk flags out of place";
	case NDEF_ERR_TNF:
		return "a record's type, ID or payload does not fit its TNF";
	case NDEF_ERR_TRAILING:
		return "bytes after the last record";
	case NDEF_ERR_TOO_MANY:
		return "too many records";
	case NDEF_ERR_SPACE:
		return "message too long";
	case NDEF_ERR_PAYLOAD:
		return "malformed URI or Text payload";
	case NDEF_ERR_ARG:
		return "invalid argument";
	default:
		return "unknown error";
	}
}

static bool is_well_known(const struct ndef_record *rec, char type)
{
	return rec->tnf == NDEF_TNF_WELL_KNOWN && rec->type_len == 1 &&
	       rec->type[0] == (uint8_t)type;
}

bool ndef_is_uri(const struct ndef_record *rec)
{
	return is_well_known(rec, 'U');
}

bool ndef_is_text(const struct ndef_record *rec)
{
	return is_well_known(rec, 'T');
}

bool ndef_utf8_valid(const uint8_t *p, size_t len)
{
	size_t i = 0;

	while (i < len) {
		uint8_t c = p[i];
		size_t need;
		uint32_t cp, min;

		if (c < 0x80) {
			i++;
			continue;
		}
		if ((c & 0xE0) == 0xC0) {
			need = 1;
			cp = c & 0x1Fu;
			min = 0x80;
		} else if ((c & 0xF0) == 0xE0) {
			need = 2;
			cp = c & 0x0Fu;
			min = 0x800;
		} else if ((c & 0xF8) == 0xF0) {
			need = 3;
			cp = c & 0x07u;
			min = 0x10000;
		} else {
			return false;
		}
		if (len - i - 1 < need)
			return false;
		for (size_t k = 1; k <= need; k++) {
			uint8_t d = p[i + k];
			if ((d & 0xC0) != 0x80)
				return false;
			cp = (cp << 6) | (d & 0x3Fu);
		}
		if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
			return false;
		i += need + 1;
	}
	return true;
}

/* RTD-URI 1.0 §3.2.2, Table 3: the URI identifier codes. */
static const char *const uri_prefixes[] = {
	"",
	"http://www.",
	"https://www.",
	"http://",
	"https://",
	"tel:",
	"mailto:",
	"ftp://anonymous:anonymous@",
	"ftp://ftp.",
	"ftps://",
	"sftp://",
	"smb://",
	"nfs://",
	"ftp://",
	"dav://",
	"news:",
	"telnet://",
	"imap:",
	"rtsp://",
	"urn:",
	"pop:",
	"sip:",
	"sips:",
	"tftp:",
	"btspp://",
	"btl2cap://",
	"btgoep://",
	"tcpobex://",
	"irdaobex://",
	"file://",
	"urn:epc:id:",
	"urn:epc:tag:",
	"urn:epc:pat:",
	"urn:epc:raw:",
	"urn:epc:",
	"urn:nfc:",
};

#define URI_CODES (sizeof(uri_prefixes) / sizeof(uri_prefixes[0]))

const char *ndef_uri_prefix(uint8_t code)
{
	return code < URI_CODES ? uri_prefixes[code] : NULL;
}

static bool has_controls(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] < 0x20 || p[i] == 0x7F)
			return true;
	return false;
}

int ndef_uri_payload(const char *uri, size_t len, struct wbuf *w)
{
	const uint8_t *u = (const uint8_t *)uri;
	size_t best_len = 0;
	uint8_t best = 0;

	if (uri == NULL || len == 0 || has_controls(u, len) ||
	    !ndef_utf8_valid(u, len))
		return NDEF_ERR_ARG;
	for (uint8_t code = 1; code < URI_CODES; code++) {
		size_t n = strlen(uri_prefixes[code]);
		if (n > best_len && n <= len &&
		    memcmp(uri, uri_prefixes[code], n) == 0) {
			best = code;
			best_len = n;
		}
	}
	wbuf_u8(w, best);
	wbuf_put(w, u + best_len, len - best_len);
	return w->overflow ? NDEF_ERR_SPACE : NDEF_OK;
}

int ndef_uri_parse(const uint8_t *p, size_t len, char *out, size_t cap,
		   size_t *out_len)
{
	const char *prefix;
	size_t plen, rest;

	*out_len = 0;
	if (len < 1 || (prefix = ndef_uri_prefix(p[0])) == NULL)
		return NDEF_ERR_PAYLOAD;
	rest = len - 1;
	if (memchr(p + 1, 0, rest) != NULL || !ndef_utf8_valid(p + 1, rest))
		return NDEF_ERR_PAYLOAD;
	plen = strlen(prefix);
	if (cap == 0 || cap - 1 < plen || cap - 1 - plen < rest)
		return NDEF_ERR_SPACE;
	memcpy(out, prefix, plen);
	if (rest > 0)
		memcpy(out + plen, p + 1, rest);
	out[plen + rest] = '\0';
	*out_len = plen + rest;
	return NDEF_OK;
}

/* RTD-Text 1.0 §3.2.1: the status byte. */
#define TEXT_UTF16 0x80
#define TEXT_RFU 0x40
#define TEXT_LANG_MASK 0x3F

static bool lang_char_ok(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-';
}

int ndef_text_payload(const char *lang, const uint8_t *text, size_t len,
		      struct wbuf *w)
{
	size_t lang_len = lang != NULL ? strlen(lang) : 0;

	if (lang_len == 0 || lang_len > NDEF_LANG_MAX ||
	    (len > 0 && text == NULL) || !ndef_utf8_valid(text, len))
		return NDEF_ERR_ARG;
	for (size_t i = 0; i < lang_len; i++)
		if (!lang_char_ok((uint8_t)lang[i]))
			return NDEF_ERR_ARG;
	wbuf_u8(w, (uint8_t)lang_len); /* UTF-8 */
	wbuf_put(w, lang, lang_len);
	wbuf_put(w, text, len);
	return w->overflow ? NDEF_ERR_SPACE : NDEF_OK;
}

static size_t utf8_put(uint32_t cp, uint8_t out[4])
{
	if (cp < 0x80) {
		out[0] = (uint8_t)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (uint8_t)(0xC0 | (cp >> 6));
		out[1] = (uint8_t)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (uint8_t)(0xE0 | (cp >> 12));
		out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
		out[2] = (uint8_t)(0x80 | (cp & 0x3F));
		return 3;
	}
	out[0] = (uint8_t)(0xF0 | (cp >> 18));
	out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
	out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
	out[3] = (uint8_t)(0x80 | (cp & 0x3F));
	return 4;
}

/* UTF-16 (big-endian unless a byte order mark says otherwise, as
 * RTD-Text §3.4 asks) to UTF-8. */
static int utf16_to_utf8(struct rbuf *r, struct wbuf *w)
{
	bool le = false;
	uint16_t u, lo;

	if (rbuf_left(r) % 2 != 0)
		return NDEF_ERR_PAYLOAD;
	if (rbuf_left(r) >= 2) {
		const uint8_t *b = rbuf_cur(r);
		if ((b[0] == 0xFE && b[1] == 0xFF) ||
		    (b[0] == 0xFF && b[1] == 0xFE)) {
			le = b[0] == 0xFF;
			rbuf_skip(r, 2);
		}
	}
	while (rbuf_left(r) > 0) {
		uint8_t enc[4];
		uint32_t cp;

		rbuf_u16be(r, &u);
		if (le)
			u = (uint16_t)((u >> 8) | (u << 8));
		cp = u;
		if (u >= 0xDC00 && u <= 0xDFFF)
			return NDEF_ERR_PAYLOAD; /* lone low surrogate */
		if (u >= 0xD800 && u <= 0xDBFF) {
			if (rbuf_u16be(r, &lo) != 0)
				return NDEF_ERR_PAYLOAD;
			if (le)
				lo = (uint16_t)((lo >> 8) | (lo << 8));
			if (lo < 0xDC00 || lo > 0xDFFF)
				return NDEF_ERR_PAYLOAD;
			cp = 0x10000 + (((uint32_t)u - 0xD800) << 10) +
			     ((uint32_t)lo - 0xDC00);
		}
		wbuf_put(w, enc, utf8_put(cp, enc));
	}
	return w->overflow ? NDEF_ERR_SPACE : NDEF_OK;
}

int ndef_text_parse(const uint8_t *p, size_t len, struct ndef_text *t,
		    char *out, size_t cap, size_t *out_len)
{
	struct rbuf r = rbuf_init(p, len);
	struct wbuf w;
	const uint8_t *lang;
	uint8_t status;
	size_t lang_len;
	int err;

	memset(t, 0, sizeof(*t));
	*out_len = 0;
	if (cap == 0)
		return NDEF_ERR_SPACE;
	w = wbuf_init((uint8_t *)out, cap - 1);
	if (len == 0 || rbuf_u8(&r, &status) != 0 || (status & TEXT_RFU) != 0)
		return NDEF_ERR_PAYLOAD;
	lang_len = status & TEXT_LANG_MASK;
	if (rbuf_bytes(&r, lang_len, &lang) != 0)
		return NDEF_ERR_PAYLOAD;
	for (size_t i = 0; i < lang_len; i++)
		if (lang[i] <= 0x20 || lang[i] >= 0x7F)
			return NDEF_ERR_PAYLOAD;
	if (lang_len > 0)
		memcpy(t->lang, lang, lang_len);
	t->lang[lang_len] = '\0';
	t->utf16 = (status & TEXT_UTF16) != 0;
	if (t->utf16) {
		err = utf16_to_utf8(&r, &w);
	} else if (!ndef_utf8_valid(rbuf_cur(&r), rbuf_left(&r))) {
		err = NDEF_ERR_PAYLOAD;
	} else {
		wbuf_put(&w, rbuf_cur(&r), rbuf_left(&r));
		err = w.overflow ? NDEF_ERR_SPACE : NDEF_OK;
	}
	if (err != NDEF_OK)
		return err;
	out[w.len] = '\0';
	*out_len = w.len;
	return NDEF_OK;
}
