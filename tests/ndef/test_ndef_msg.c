/* The NDEF message codec (applets/ndef/ndef_msg.c) and the text form of
 * vkey_ndef_format: URI prefix codes both ways, Text records in UTF-8
 * and UTF-16, short and long records, IDs, chunks, and one named case
 * per kind of malformed message. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "applets/ndef/ndef_msg.h"
#include "vkey/ndef.h"

#define RECS_MAX 16

static uint8_t out[8192];
static struct ndef_record recs[RECS_MAX];
static size_t n_recs;
static uint8_t pool[8192];

/* Parse hex from an exact-size copy (so the sanitizer sees any
 * over-read), kept until the next call: the records point into it. */
static int parse_hex(const char *hex)
{
	static uint8_t *copy;
	uint8_t msg[4096];
	size_t len = check_unhex(hex, msg, sizeof(msg));

	free(copy);
	copy = malloc(len > 0 ? len : 1);
	if (copy == NULL)
		abort();
	memcpy(copy, msg, len);
	return ndef_msg_parse(len > 0 ? copy : NULL, len, recs, RECS_MAX,
			      &n_recs, pool, sizeof(pool));
}

static size_t encode(const struct ndef_record *r, size_t n)
{
	struct wbuf w = wbuf_init(out, sizeof(out));

	CHECK_EQ(ndef_msg_encode(r, n, &w), NDEF_OK);
	return w.len;
}

static size_t hex_of(const char *hex, uint8_t *buf, size_t cap)
{
	return check_unhex(hex, buf, cap);
}

/* --- URI ------------------------------------------------------------------ */

static void uri_prefix_codes_both_ways(void)
{
	char uri[64], back[128];
	uint8_t p[128];
	size_t n;

	for (unsigned code = 1; code <= 0x23; code++) {
		struct wbuf w = wbuf_init(p, sizeof(p));
		const char *prefix = ndef_uri_prefix((uint8_t)code);

		CHECK(prefix != NULL);
		if (prefix == NULL)
			continue;
		snprintf(uri, sizeof(uri), "%sx/y", prefix);
		CHECK_EQ(ndef_uri_payload(uri, strlen(uri), &w), NDEF_OK);
		CHECK_EQ(w.len, 4);
		CHECK_EQ(p[0], code);
		CHECK_MEM(p + 1, "x/y", 3);
		CHECK_EQ(ndef_uri_parse(p, w.len, back, sizeof(back), &n),
			 NDEF_OK);
		CHECK_EQ(strcmp(back, uri), 0);
		CHECK_EQ(n, strlen(uri));
	}
	CHECK(ndef_uri_prefix(0x24) == NULL);
	CHECK(ndef_uri_prefix(0xFF) == NULL);
	CHECK_EQ(strcmp(ndef_uri_prefix(0), ""), 0);
}

static void uri_longest_prefix_wins(void)
{
	static const struct {
		const char *uri;
		uint8_t code;
		const char *rest;
	} v[] = {
		{ "https://www.example.com", 0x02, "example.com" },
		{ "http://www.example.com", 0x01, "example.com" },
		{ "https://example.com", 0x04, "example.com" },
		{ "http://example.com", 0x03, "example.com" },
		{ "ftp://ftp.example.com", 0x08, "example.com" },
		{ "ftp://anonymous:anonymous@h", 0x07, "h" },
		{ "ftp://h", 0x0D, "h" },
		{ "urn:epc:id:sgtin", 0x1E, "sgtin" },
		{ "urn:epc:x", 0x22, "x" },
		{ "urn:nfc:sn:1", 0x23, "sn:1" },
		{ "urn:isbn:1", 0x13, "isbn:1" },
		{ "sips:a@b", 0x16, "a@b" },
		{ "sip:a@b", 0x15, "a@b" },
		{ "tel:+15551234", 0x05, "+15551234" },
		{ "mailto:a@b.c", 0x06, "a@b.c" },
		{ "geo:47.1,8.5", 0x00, "geo:47.1,8.5" },
		{ "HTTPS://EXAMPLE.COM", 0x00, "HTTPS://EXAMPLE.COM" },
		{ "tel:", 0x05, "" },
		{ "https://www.ex\xC3\xA4mple.com/\xE2\x82\xAC", 0x02,
		  "ex\xC3\xA4mple.com/\xE2\x82\xAC" },
	};
	uint8_t p[128];
	char back[128];
	size_t n;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		struct wbuf w = wbuf_init(p, sizeof(p));
		size_t rl = strlen(v[i].rest);

		CHECK_EQ(ndef_uri_payload(v[i].uri, strlen(v[i].uri), &w),
			 NDEF_OK);
		CHECK_EQ(p[0], v[i].code);
		CHECK_EQ(w.len, 1 + rl);
		CHECK_MEM(p + 1, v[i].rest, rl);
		CHECK_EQ(ndef_uri_parse(p, w.len, back, sizeof(back), &n),
			 NDEF_OK);
		CHECK_EQ(strcmp(back, v[i].uri), 0);
	}
}

static void uri_message_bytes(void)
{
	uint8_t msg[64], want[64];
	size_t len, wl = hex_of("D1 01 0C 55 04 6578616D706C652E636F6D", want,
				sizeof(want));

	CHECK_EQ(vkey_ndef_uri_message("https://example.com", msg,
				       sizeof(msg), &len),
		 VKEY_NDEF_OK);
	CHECK_EQ(len, wl);
	CHECK_MEM(msg, want, wl);
	CHECK_EQ(parse_hex("D1010C5504 6578616D706C652E636F6D"), NDEF_OK);
	CHECK_EQ(n_recs, 1);
	CHECK(ndef_is_uri(&recs[0]));
}

static void uri_bad_payloads_and_arguments(void)
{
	static const char *const bad_hex[] = {
		"",         /* no identifier code */
		"24 61",    /* reserved code */
		"FF 61",    /* reserved code */
		"04 61 00", /* NUL in the URI */
		"04 C3 28", /* invalid UTF-8 */
		"04 E2 82", /* truncated UTF-8 */
	};
	uint8_t p[16], small[8];
	char back[64];
	size_t n, len;

	for (size_t i = 0; i < sizeof(bad_hex) / sizeof(bad_hex[0]); i++) {
		len = hex_of(bad_hex[i], p, sizeof(p));
		CHECK_EQ(ndef_uri_parse(p, len, back, sizeof(back), &n),
			 NDEF_ERR_PAYLOAD);
	}
	/* output too small for prefix + rest + NUL */
	len = hex_of("02 6162636465", p, sizeof(p));
	CHECK_EQ(ndef_uri_parse(p, len, back, 17, &n), NDEF_ERR_SPACE);
	CHECK_EQ(ndef_uri_parse(p, len, back, 18, &n), NDEF_OK);
	{
		struct wbuf w = wbuf_init(small, sizeof(small));
		CHECK_EQ(ndef_uri_payload("", 0, &w), NDEF_ERR_ARG);
		CHECK_EQ(ndef_uri_payload("a\tb", 3, &w), NDEF_ERR_ARG);
		CHECK_EQ(ndef_uri_payload("a\x7F", 2, &w), NDEF_ERR_ARG);
		CHECK_EQ(ndef_uri_payload("\xC0\x80", 2, &w), NDEF_ERR_ARG);
		CHECK_EQ(ndef_uri_payload("https://abcdefgh", 16, &w),
			 NDEF_ERR_SPACE);
	}
}

/* --- Text ----------------------------------------------------------------- */

static void text_record_utf8(void)
{
	uint8_t msg[64], want[64];
	char text[64];
	struct ndef_text t;
	size_t len, wl = hex_of("D1 01 08 54 02 656E 48656C6C6F", want,
				sizeof(want));

	CHECK_EQ(vkey_ndef_text_message("en", "Hello", msg, sizeof(msg), &len),
		 VKEY_NDEF_OK);
	CHECK_EQ(len, wl);
	CHECK_MEM(msg, want, wl);
	CHECK_EQ(parse_hex("D1010854 02656E 48656C6C6F"), NDEF_OK);
	CHECK(ndef_is_text(&recs[0]));
	CHECK_EQ(ndef_text_parse(recs[0].payload, recs[0].payload_len, &t,
				 text, sizeof(text), &len),
		 NDEF_OK);
	CHECK_EQ(strcmp(t.lang, "en"), 0);
	CHECK(!t.utf16);
	CHECK_EQ(strcmp(text, "Hello"), 0);
	CHECK_EQ(len, 5);
	/* multi-byte text and a longer language tag */
	CHECK_EQ(vkey_ndef_text_message("de-CH", "Gr\xC3\xBC" "ezi \xE2\x9C\x93",
					msg, sizeof(msg), &len),
		 VKEY_NDEF_OK);
	CHECK_EQ(msg[4], 5);
	CHECK_EQ(ndef_text_parse(msg + 4, len - 4, &t, text, sizeof(text),
				 &len),
		 NDEF_OK);
	CHECK_EQ(strcmp(t.lang, "de-CH"), 0);
	CHECK_EQ(strcmp(text, "Gr\xC3\xBC" "ezi \xE2\x9C\x93"), 0);
	/* empty text is a text */
	CHECK_EQ(vkey_ndef_text_message("en", "", msg, sizeof(msg), &len),
		 VKEY_NDEF_OK);
	CHECK_EQ(len, 7);
}

static void text_record_utf16(void)
{
	static const struct {
		const char *payload, *want;
	} v[] = {
		{ "82 656E FEFF 0048 0069", "Hi" },        /* BE with BOM */
		{ "82 656E FFFE 4800 6900", "Hi" },        /* LE with BOM */
		{ "82 656E 0048 0069", "Hi" },             /* BE by default */
		{ "82 656E D83D DE00", "\xF0\x9F\x98\x80" }, /* pair */
		{ "82 656E 00E4 20AC", "\xC3\xA4\xE2\x82\xAC" },
		{ "82 656E", "" },
	};
	uint8_t p[64];
	char text[64];
	struct ndef_text t;
	size_t len, n;

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		n = hex_of(v[i].payload, p, sizeof(p));
		CHECK_EQ(ndef_text_parse(p, n, &t, text, sizeof(text), &len),
			 NDEF_OK);
		CHECK(t.utf16);
		CHECK_EQ(strcmp(t.lang, "en"), 0);
		CHECK_EQ(strcmp(text, v[i].want), 0);
	}
}

static void text_bad_payloads_and_arguments(void)
{
	static const char *const bad_hex[] = {
		"",                /* no status byte */
		"42 656E 61",      /* RFU bit set */
		"05 656E 61",      /* language longer than the payload */
		"02 6520 61",      /* space in the language */
		"02 656E C328",    /* invalid UTF-8 */
		"02 656E EDA080",  /* UTF-8 surrogate */
		"82 656E 0048 00", /* odd UTF-16 length */
		"82 656E DE00",    /* lone low surrogate */
		"82 656E D83D",    /* high surrogate at the end */
		"82 656E D83D 0041", /* high surrogate, no low one */
	};
	uint8_t p[32], small[8];
	char text[64];
	struct ndef_text t;
	size_t len, n;
	char lang64[65];

	for (size_t i = 0; i < sizeof(bad_hex) / sizeof(bad_hex[0]); i++) {
		n = hex_of(bad_hex[i], p, sizeof(p));
		CHECK_EQ(ndef_text_parse(p, n, &t, text, sizeof(text), &len),
			 NDEF_ERR_PAYLOAD);
	}
	n = hex_of("02 656E 616263", p, sizeof(p));
	CHECK_EQ(ndef_text_parse(p, n, &t, text, 3, &len), NDEF_ERR_SPACE);
	CHECK_EQ(ndef_text_parse(p, n, &t, text, 4, &len), NDEF_OK);
	memset(lang64, 'a', 64);
	lang64[64] = '\0';
	{
		struct wbuf w = wbuf_init(small, sizeof(small));
		CHECK_EQ(ndef_text_payload("", (const uint8_t *)"x", 1, &w),
			 NDEF_ERR_ARG);
		CHECK_EQ(ndef_text_payload(lang64, (const uint8_t *)"x", 1, &w),
			 NDEF_ERR_ARG);
		CHECK_EQ(ndef_text_payload("e_n", (const uint8_t *)"x", 1, &w),
			 NDEF_ERR_ARG);
		CHECK_EQ(ndef_text_payload("en", (const uint8_t *)"\xFF", 1,
					   &w),
			 NDEF_ERR_ARG);
		CHECK_EQ(ndef_text_payload("en", (const uint8_t *)"abcdefgh",
					   8, &w),
			 NDEF_ERR_SPACE);
	}
	lang64[63] = '\0';
	CHECK_EQ(vkey_ndef_text_message(lang64, "x", out, sizeof(out), &len),
		 VKEY_NDEF_OK);
}

/* --- records -------------------------------------------------------------- */

static void short_and_long_records(void)
{
	static uint8_t payload[70000];
	const uint8_t type = 'X';
	size_t sizes[] = { 0, 1, 255, 256, 300, 65536 + 17 };

	for (size_t i = 0; i < sizeof(payload); i++)
		payload[i] = (uint8_t)(i * 7);
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		static uint8_t big[70100];
		struct ndef_record r = { .tnf = NDEF_TNF_EXTERNAL,
					 .type = &type,
					 .type_len = 1,
					 .payload = payload,
					 .payload_len = sizes[i] };
		struct wbuf w = wbuf_init(big, sizeof(big));
		bool sr = sizes[i] <= 255;

		CHECK_EQ(ndef_msg_encode(&r, 1, &w), NDEF_OK);
		CHECK_EQ(w.len, (sr ? 4 : 7) + sizes[i]);
		CHECK_EQ(big[0], 0xC4 | (sr ? NDEF_SR : 0));
		CHECK_EQ(ndef_msg_parse(big, w.len, recs, RECS_MAX, &n_recs,
					NULL, 0),
			 NDEF_OK);
		CHECK_EQ(n_recs, 1);
		CHECK_EQ(recs[0].payload_len, sizes[i]);
		CHECK(!recs[0].chunked);
		CHECK(sizes[i] == 0 ||
		      memcmp(recs[0].payload, payload, sizes[i]) == 0);
	}
	/* a long-form record with a small payload is fine too */
	CHECK_EQ(parse_hex("C1 01 00000002 55 0461"), NDEF_OK);
	CHECK_EQ(recs[0].payload_len, 2);
}

static void several_records_and_ids(void)
{
	static const uint8_t mime[] = "text/plain";
	static const uint8_t id[] = "id-1";
	uint8_t u = 'U', t = 'T';
	struct ndef_record in[4] = {
		{ .tnf = NDEF_TNF_WELL_KNOWN, .type = &u, .type_len = 1,
		  .payload = (const uint8_t *)"\x04x.y", .payload_len = 4 },
		{ .tnf = NDEF_TNF_WELL_KNOWN, .type = &t, .type_len = 1,
		  .payload = (const uint8_t *)"\x02" "enhi", .payload_len = 5 },
		{ .tnf = NDEF_TNF_MEDIA, .type = mime, .type_len = 10,
		  .id = id, .id_len = 4,
		  .payload = (const uint8_t *)"abc", .payload_len = 3 },
		{ .tnf = NDEF_TNF_EMPTY },
	};
	size_t len = encode(in, 4), off = 0;

	/* MB on the first only, ME on the last only, IL with the ID */
	CHECK_EQ(out[off], 0x91);
	off += 4 + 4;
	CHECK_EQ(out[off], 0x11);
	off += 4 + 5;
	CHECK_EQ(out[off], 0x1A);
	CHECK_EQ(out[off + 3], 4);
	off += 4 + 10 + 4 + 3;
	CHECK_EQ(out[off], 0x50);
	CHECK_EQ(off + 3, len);
	CHECK_EQ(ndef_msg_parse(out, len, recs, RECS_MAX, &n_recs, pool,
				sizeof(pool)),
		 NDEF_OK);
	CHECK_EQ(n_recs, 4);
	for (size_t i = 0; i < 4 && n_recs == 4; i++) {
		CHECK_EQ(recs[i].tnf, in[i].tnf);
		CHECK_EQ(recs[i].type_len, in[i].type_len);
		CHECK_EQ(recs[i].id_len, in[i].id_len);
		CHECK_EQ(recs[i].payload_len, in[i].payload_len);
		CHECK(in[i].type_len == 0 ||
		      memcmp(recs[i].type, in[i].type, in[i].type_len) == 0);
		CHECK(in[i].payload_len == 0 ||
		      memcmp(recs[i].payload, in[i].payload,
			     in[i].payload_len) == 0);
	}
	CHECK_MEM(recs[2].id, id, 4);
	/* only checking: no table, any number of records */
	CHECK_EQ(ndef_msg_parse(out, len, NULL, 0, &n_recs, NULL, 0), NDEF_OK);
	CHECK_EQ(n_recs, 4);
	/* a table too small */
	CHECK_EQ(ndef_msg_parse(out, len, recs, 3, &n_recs, pool, sizeof(pool)),
		 NDEF_ERR_TOO_MANY);
}

static void chunked_record_is_joined(void)
{
	/* Text "abcdef" in three chunks: first with the type and an ID,
	 * then two with TNF unchanged; then a URI record. */
	static const char hex[] = "B9 01 03 01 54 69 02656E" /* CF SR IL */
				  "36 00 02 6162"            /* CF SR TNF6 */
				  "16 00 04 63646566"        /* SR TNF6 */
				  "51 01 02 55 0078";        /* ME, URI */
	char text[32];
	struct ndef_text t;
	size_t len;

	CHECK_EQ(parse_hex(hex), NDEF_OK);
	CHECK_EQ(n_recs, 2);
	CHECK(recs[0].chunked);
	CHECK(ndef_is_text(&recs[0]));
	CHECK_EQ(recs[0].id_len, 1);
	CHECK_EQ(recs[0].id[0], 'i');
	CHECK_EQ(recs[0].payload_len, 9);
	CHECK_EQ(ndef_text_parse(recs[0].payload, recs[0].payload_len, &t,
				 text, sizeof(text), &len),
		 NDEF_OK);
	CHECK_EQ(strcmp(text, "abcdef"), 0);
	CHECK(!recs[1].chunked);
	/* re-encoded without chunks, it parses to the same records */
	len = encode(recs, n_recs);
	CHECK_EQ(len, 6 + 9 + 4 + 2); /* ID'd Text, then the URI */
	CHECK_EQ(ndef_msg_parse(out, len, recs, RECS_MAX, &n_recs, NULL, 0),
		 NDEF_OK);
	CHECK_EQ(n_recs, 2);
	CHECK(!recs[0].chunked);
	/* joining needs a pool; checking does not */
	{
		uint8_t m[64];
		size_t ml = hex_of(hex, m, sizeof(m));
		CHECK_EQ(ndef_msg_parse(m, ml, recs, RECS_MAX, &n_recs, NULL, 0),
			 NDEF_ERR_SPACE);
		CHECK_EQ(ndef_msg_parse(m, ml, recs, RECS_MAX, &n_recs, pool,
					8),
			 NDEF_ERR_SPACE);
		CHECK_EQ(ndef_msg_parse(m, ml, NULL, 0, &n_recs, NULL, 0),
			 NDEF_OK);
		CHECK_EQ(n_recs, 2);
	}
}

static void empty_message_and_empty_record(void)
{
	CHECK_EQ(ndef_msg_parse(NULL, 0, recs, RECS_MAX, &n_recs, pool,
				sizeof(pool)),
		 NDEF_OK);
	CHECK_EQ(n_recs, 0);
	CHECK_EQ(parse_hex("D0 00 00"), NDEF_OK);
	CHECK_EQ(n_recs, 1);
	CHECK_EQ(recs[0].tnf, NDEF_TNF_EMPTY);
	CHECK_EQ(encode(NULL, 0), 0);
}

/* One case per malformed message; each names what is wrong. */
static void malformed_messages_rejected(void)
{
	static const struct {
		const char *name, *hex;
		int err;
	} v[] = {
		{ "header only", "D1", NDEF_ERR_TRUNCATED },
		{ "no payload length", "D1 01", NDEF_ERR_TRUNCATED },
		{ "short long length", "C1 01 0000", NDEF_ERR_TRUNCATED },
		{ "no ID length", "D9 01 01", NDEF_ERR_TRUNCATED },
		{ "type cut", "D1 02 00 55", NDEF_ERR_TRUNCATED },
		{ "payload cut", "D1 01 05 55 04616263", NDEF_ERR_TRUNCATED },
		{ "4 GiB payload", "C1 01 FFFFFFFF 55 04", NDEF_ERR_TRUNCATED },
		{ "ID cut", "D9 01 01 03 55 6162", NDEF_ERR_TRUNCATED },
		{ "no ME at the end", "91 01 01 55 00", NDEF_ERR_TRUNCATED },
		{ "no MB first", "51 01 01 55 00", NDEF_ERR_FLAGS },
		{ "MB twice", "91 01 01 55 00 D1 01 01 55 00",
		  NDEF_ERR_FLAGS },
		{ "bytes after ME", "D1 01 01 55 00 00", NDEF_ERR_TRAILING },
		{ "record after ME", "D1 01 01 55 00 51 01 01 55 00",
		  NDEF_ERR_TRAILING },
		{ "empty with type", "D0 01 00 55", NDEF_ERR_TNF },
		{ "empty with payload", "D0 00 01 00", NDEF_ERR_TNF },
		{ "empty with ID", "D8 00 00 01 69", NDEF_ERR_TNF },
		{ "well-known without type", "D1 00 01 00", NDEF_ERR_TNF },
		{ "media without type", "D2 00 00", NDEF_ERR_TNF },
		{ "absolute URI without type", "D3 00 00", NDEF_ERR_TNF },
		{ "external without type", "D4 00 00", NDEF_ERR_TNF },
		{ "unknown with type", "D5 01 00 55", NDEF_ERR_TNF },
		{ "unchanged outside a chunk", "D6 00 00", NDEF_ERR_TNF },
		{ "reserved TNF", "D7 00 00", NDEF_ERR_TNF },
		{ "chunked empty record", "B0 00 00 56 00 00", NDEF_ERR_TNF },
		{ "ME on a first chunk", "F1 01 01 54 02", NDEF_ERR_FLAGS },
		{ "ME on a middle chunk", "B1 01 01 54 02 76 00 01 65",
		  NDEF_ERR_FLAGS },
		{ "chunk ends the message", "B1 01 01 54 02 36 00 01 65",
		  NDEF_ERR_TRUNCATED },
		{ "middle chunk with a type", "B1 01 01 54 02 56 01 01 54 65",
		  NDEF_ERR_TNF },
		{ "middle chunk with an ID", "B1 01 01 54 02 5E 00 01 01 69 65",
		  NDEF_ERR_TNF },
		{ "middle chunk not TNF 6", "B1 01 01 54 02 51 00 01 65",
		  NDEF_ERR_TNF },
		{ "MB on a middle chunk", "B1 01 01 54 02 D6 00 01 65",
		  NDEF_ERR_FLAGS },
	};

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		int err = parse_hex(v[i].hex);
		if (err != v[i].err)
			fprintf(stderr, "  case '%s': %d, want %d\n", v[i].name,
				err, v[i].err);
		CHECK_EQ(err, v[i].err);
		CHECK(strlen(ndef_strerror(err)) > 0);
	}
}

static void encoder_refuses_what_the_parser_refuses(void)
{
	uint8_t ty = 'U', small[4];
	struct ndef_record r[] = {
		{ .tnf = NDEF_TNF_UNCHANGED },
		{ .tnf = NDEF_TNF_RESERVED },
		{ .tnf = NDEF_TNF_WELL_KNOWN },
		{ .tnf = NDEF_TNF_EMPTY, .type = &ty, .type_len = 1 },
		{ .tnf = NDEF_TNF_UNKNOWN, .type = &ty, .type_len = 1 },
		{ .tnf = NDEF_TNF_WELL_KNOWN, .type = out, .type_len = 256 },
		{ .tnf = NDEF_TNF_WELL_KNOWN, .type = &ty, .type_len = 1,
		  .id = out, .id_len = 256 },
		{ .tnf = 9 },
	};

	for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
		struct wbuf w = wbuf_init(out, sizeof(out));
		CHECK_EQ(ndef_msg_encode(&r[i], 1, &w), NDEF_ERR_TNF);
	}
	{
		struct ndef_record ok = { .tnf = NDEF_TNF_WELL_KNOWN,
					  .type = &ty,
					  .type_len = 1,
					  .payload = (const uint8_t *)"\x00x",
					  .payload_len = 2 };
		struct wbuf w = wbuf_init(small, sizeof(small));
		CHECK_EQ(ndef_msg_encode(&ok, 1, &w), NDEF_ERR_SPACE);
	}
}

static void utf8_validation(void)
{
	static const struct {
		const char *hex;
		bool ok;
	} v[] = {
		{ "", true },
		{ "41 7F", true },
		{ "C3A4", true },
		{ "E282AC", true },
		{ "F09F9880", true },
		{ "F48FBFBF", true },   /* U+10FFFF */
		{ "C080", false },      /* overlong NUL */
		{ "E08080", false },    /* overlong */
		{ "F0808080", false },  /* overlong */
		{ "EDA080", false },    /* surrogate */
		{ "F4908080", false },  /* past U+10FFFF */
		{ "F8888080 80", false }, /* 5-byte form */
		{ "80", false },        /* stray continuation */
		{ "E282", false },      /* cut */
		{ "C341", false },      /* bad continuation */
	};
	uint8_t b[16];

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		size_t n = hex_of(v[i].hex, b, sizeof(b));
		CHECK_EQ(ndef_utf8_valid(b, n), v[i].ok);
	}
}

/* --- text form ------------------------------------------------------------ */

static void format_shows_records(void)
{
	char text[4096];
	uint8_t msg[256];
	size_t len;

	CHECK(vkey_ndef_format(NULL, 0, false, text, sizeof(text)) > 0);
	CHECK_EQ(strcmp(text, "NDEF message: none, writable\n"), 0);
	CHECK_EQ(vkey_ndef_text_message("en", "a\nb\xC3\xA4", msg, sizeof(msg),
					&len),
		 VKEY_NDEF_OK);
	CHECK(vkey_ndef_format(msg, len, true, text, sizeof(text)) > 0);
	CHECK_EQ(strcmp(text, "NDEF message: 12 of 4096 bytes, 1 record, "
			      "read-only\n"
			      "record 1: Text (en) a?b\xC3\xA4\n"),
		 0);
	len = hex_of("99 01 04 02 55 6964 04782E79" /* URI with ID */
		     "12 0A 03 746578742F706C61696E 616263" /* media */
		     "14 05 01 612E623A63 FF"               /* external */
		     "15 00 00"                              /* unknown */
		     "11 01 01 55 24"                        /* bad URI */
		     "50 00 00",                             /* empty */
		     msg, sizeof(msg));
	CHECK(vkey_ndef_format(msg, len, false, text, sizeof(text)) > 0);
	CHECK_EQ(strcmp(text,
			"NDEF message: 47 of 4096 bytes, 6 records, writable\n"
			"record 1 (id \"id\"): URI https://x.y\n"
			"record 2: media type \"text/plain\", 3 bytes: 616263\n"
			"record 3: external type \"a.b:c\", 1 byte: FF\n"
			"record 4: unknown type, 0 bytes\n"
			"record 5: well-known type \"U\" (malformed payload), "
			"1 byte: 24\n"
			"record 6: empty record\n"),
		 0);
	/* malformed: the raw bytes */
	len = hex_of("D1 01 01 55 04 00", msg, sizeof(msg));
	CHECK(vkey_ndef_format(msg, len, false, text, sizeof(text)) > 0);
	CHECK_EQ(strcmp(text, "NDEF message: 6 of 4096 bytes, malformed "
			      "(bytes after the last record), writable\n"
			      "raw: D10101550400\n"),
		 0);
	/* output too small */
	CHECK_EQ(vkey_ndef_format(msg, len, false, text, 20), -1);
	CHECK_EQ(text[0], '\0');
}

int main(void)
{
	RUN(uri_prefix_codes_both_ways);
	RUN(uri_longest_prefix_wins);
	RUN(uri_message_bytes);
	RUN(uri_bad_payloads_and_arguments);
	RUN(text_record_utf8);
	RUN(text_record_utf16);
	RUN(text_bad_payloads_and_arguments);
	RUN(short_and_long_records);
	RUN(several_records_and_ids);
	RUN(chunked_record_is_joined);
	RUN(empty_message_and_empty_record);
	RUN(malformed_messages_rejected);
	RUN(encoder_refuses_what_the_parser_refuses);
	RUN(utf8_validation);
	RUN(format_shows_records);
	return CHECK_DONE();
}
