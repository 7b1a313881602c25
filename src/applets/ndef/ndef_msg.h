/* NDEF messages (NFC Forum NDEF 1.0): the record codec with short and
 * long records, IDs and chunks, and the two well-known record types
 * vkey writes, URI (RTD-URI 1.0) and Text (RTD-Text 1.0). A parser:
 * every byte is read through rbuf, and malformed input is an error. */
#ifndef VKEY_NDEF_MSG_H
#define VKEY_NDEF_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* Record header flags (NDEF 1.0 §3.2). */
#define NDEF_MB 0x80 /* message begin */
#define NDEF_ME 0x40 /* message end */
#define NDEF_CF 0x20 /* chunk flag: more chunks follow */
#define NDEF_SR 0x10 /* short record: 1-byte payload length */
#define NDEF_IL 0x08 /* an ID length byte is present */
#define NDEF_TNF_MASK 0x07

/* Type name formats (NDEF 1.0 §3.2.6). */
enum ndef_tnf {
	NDEF_TNF_EMPTY = 0,
	NDEF_TNF_WELL_KNOWN = 1,
	NDEF_TNF_MEDIA = 2,
	NDEF_TNF_ABSOLUTE_URI = 3,
	NDEF_TNF_EXTERNAL = 4,
	NDEF_TNF_UNKNOWN = 5,
	NDEF_TNF_UNCHANGED = 6, /* middle and last chunks only */
	NDEF_TNF_RESERVED = 7,
};

enum ndef_err {
	NDEF_OK = 0,
	NDEF_ERR_TRUNCATED = -1, /* a header or field runs past the end */
	NDEF_ERR_FLAGS = -2,     /* MB, ME or CF where they may not be */
	NDEF_ERR_TNF = -3,       /* type, ID or payload the TNF forbids */
	NDEF_ERR_TRAILING = -4,  /* bytes after the record with ME */
	NDEF_ERR_TOO_MANY = -5,  /* more records than the caller's table */
	NDEF_ERR_SPACE = -6,     /* output or chunk pool too small */
	NDEF_ERR_PAYLOAD = -7,   /* a URI or Text payload is malformed */
	NDEF_ERR_ARG = -8,       /* bad argument to an encoder */
};

/* One record of a parsed message. Pointers go into the message, or into
 * the caller's pool for a payload joined from chunks. */
struct ndef_record {
	uint8_t tnf;
	const uint8_t *type;
	size_t type_len;
	const uint8_t *id;
	size_t id_len;
	const uint8_t *payload;
	size_t payload_len;
	bool chunked;
};

/* Parse a whole message of len bytes (len 0: no records). Up to max
 * records go to recs (recs may be NULL to only check the message);
 * chunked payloads are joined into pool (a pool of len bytes always
 * suffices; NULL to only check them). *n gets the record count.
 * Returns NDEF_OK or an enum ndef_err. */
int ndef_msg_parse(const uint8_t *msg, size_t len, struct ndef_record *recs,
		   size_t max, size_t *n, uint8_t *pool, size_t pool_cap);

/* Encode n records as one message: MB on the first, ME on the last,
 * short records where the payload fits, IL only with an ID, never
 * chunks. Returns NDEF_OK, NDEF_ERR_TNF for a record the parser would
 * refuse, or NDEF_ERR_SPACE when w overflows. */
int ndef_msg_encode(const struct ndef_record *recs, size_t n,
		    struct wbuf *w);

const char *ndef_strerror(int err);

/* Well-known type "U" (RTD-URI) and "T" (RTD-Text). */
bool ndef_is_uri(const struct ndef_record *rec);
bool ndef_is_text(const struct ndef_record *rec);

/* The URI identifier code's prefix (RTD-URI 1.0 §3.2.2): "" for 0x00,
 * NULL for the codes the table reserves (0x24 and up). */
const char *ndef_uri_prefix(uint8_t code);
/* URI payload for uri: the code of the longest prefix the table has,
 * then the rest. NDEF_ERR_ARG for an empty URI or one with control
 * characters or invalid UTF-8. */
int ndef_uri_payload(const char *uri, size_t len, struct wbuf *w);
/* The whole URI of a URI payload (prefix expanded), NUL-terminated in
 * out; cap of payload length + 32 always suffices. NDEF_ERR_PAYLOAD for
 * a reserved code, a NUL or invalid UTF-8. */
int ndef_uri_parse(const uint8_t *p, size_t len, char *out, size_t cap,
		   size_t *out_len);

/* Text records: the language code is 1..63 bytes of IANA tag (ASCII
 * letters, digits, '-'); text is UTF-8, or UTF-16 (bit 7 of the status
 * byte) when decoding. */
#define NDEF_LANG_MAX 63
int ndef_text_payload(const char *lang, const uint8_t *text, size_t len,
		      struct wbuf *w);
struct ndef_text {
	char lang[NDEF_LANG_MAX + 1];
	bool utf16;
};
/* Decode a Text payload: language into t, text as UTF-8 into out
 * (NUL-terminated; cap of 2 * payload length + 1 always suffices). */
int ndef_text_parse(const uint8_t *p, size_t len, struct ndef_text *t,
		    char *out, size_t cap, size_t *out_len);

/* True when p[0..len) is well-formed UTF-8 (no overlongs, surrogates or
 * code points past U+10FFFF). */
bool ndef_utf8_valid(const uint8_t *p, size_t len);

#endif
