/* The NDEF applet driven through vkey_open() + vkey_apdu() with the raw
 * APDUs of an NFC Forum Type 4 Tag reader and writer (mapping 2.0): the
 * capability container byte for byte, the read and write procedures,
 * offsets and lengths at and past the end, read-only refusals,
 * persistence across reopening the state file, a damaged record and the
 * factory reset; and the owner's API of vkey/ndef.h. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check_apdu.h"
#include "../check_key.h"
#include "core/key.h"
#include "core/vkey_impl.h"
#include "services/store.h"
#include "vkey/ndef.h"
#include "vkey/vkey.h"

#define SW_OK 0x9000
#define SW_END_OF_FILE 0x6282
#define SW_MEMORY 0x6581
#define SW_WRONG_LENGTH 0x6700
#define SW_SECURITY 0x6982
#define SW_NOT_ALLOWED 0x6986
#define SW_BAD_DATA 0x6A80
#define SW_FUNC 0x6A81
#define SW_NOT_FOUND 0x6A82
#define SW_NO_SPACE 0x6A84
#define SW_BAD_P1P2 0x6A86
#define SW_WRONG_P1P2 0x6B00
#define SW_BAD_INS 0x6D00

#define FID_CC 0xE103
#define FID_NDEF 0xE104
#define MSG_MAX 4096
#define FILE_SIZE (MSG_MAX + 2)
#define MLE 0xFF
#define MLC 0xFF

static struct check_key tk;

/* T4T 2.0 capability container of a writable tag: CCLEN 000F, mapping
 * 2.0, MLe 00FF, MLc 00FF, NDEF File Control TLV (E104, 4098 bytes,
 * read 00, write 00). */
static const uint8_t cc_writable[15] = { 0x00, 0x0F, 0x20, 0x00, 0xFF,
					 0x00, 0xFF, 0x04, 0x06, 0xE1,
					 0x04, 0x10, 0x02, 0x00, 0x00 };

static const uint8_t ndef_aid[] = { 0xD2, 0x76, 0x00, 0x00,
				    0x85, 0x01, 0x01 };

/* --- harness ------------------------------------------------------------ */

static void begin(void)
{
	key = check_key_begin(&tk, "ndef", VKEY_UP_DENY);
}

static void end(void)
{
	check_key_end(&tk);
	key = NULL;
}

static void reopen(void)
{
	key = check_key_reopen(&tk, VKEY_UP_DENY);
}

static size_t data_len(void)
{
	return resp_len >= 2 ? resp_len - 2 : 0;
}

static unsigned select_app(void)
{
	return apdu_ex(0x00, 0xA4, 0x04, 0x00, ndef_aid, sizeof(ndef_aid), 0,
		       0);
}

static unsigned select_file_p2(unsigned fid, uint8_t p2)
{
	const uint8_t d[2] = { (uint8_t)(fid >> 8), (uint8_t)fid };

	return apdu_ex(0x00, 0xA4, 0x00, p2, d, 2, -1, 0);
}

static unsigned select_file(unsigned fid)
{
	return select_file_p2(fid, 0x0C);
}

/* READ BINARY at off; le as apdu_ex takes it (0: the maximum). */
static unsigned read_bin_ex(size_t off, long le, int ext)
{
	return apdu_ex(0x00, 0xB0, (uint8_t)(off >> 8), (uint8_t)off, NULL, 0,
		       le, ext);
}

static unsigned read_bin(size_t off, long le)
{
	return read_bin_ex(off, le, 0);
}

static unsigned update_bin(size_t off, const void *d, size_t n)
{
	return apdu_ex(0x00, 0xD6, (uint8_t)(off >> 8), (uint8_t)off, d, n,
		       -1, 0);
}

static void reset_applet(void)
{
	struct dispatch_slot *s = dispatch_find(&key->dispatch, "ndef");

	CHECK(s != NULL);
	if (s != NULL)
		CHECK_EQ(s->ops->factory_reset(s->state), 0);
}

/* A message of one Text record with n letters. */
static size_t text_message(uint8_t *out, size_t cap, size_t n)
{
	char *text = malloc(n + 1);
	size_t len = 0;

	for (size_t i = 0; i < n; i++)
		text[i] = (char)('a' + i % 26);
	text[n] = '\0';
	CHECK_EQ(vkey_ndef_text_message("en", text, out, cap, &len),
		 VKEY_NDEF_OK);
	free(text);
	return len;
}

/* A message of one Text record of exactly total bytes: a short record
 * (7 to 259 bytes) or a long one (4-byte length, from 263 bytes). */
static size_t exact_message(uint8_t *out, size_t cap, size_t total)
{
	size_t n = total - 4 <= 0xFF ? total - 7 : total - 10;

	return text_message(out, cap, n);
}

/* The Type 4 read procedure (T4T §6.4.1): SELECT the application, the
 * CC, read it, SELECT the NDEF file, read NLEN, then the message in
 * pieces of at most MLe. Returns the message length, or -1. */
static long reader_read(uint8_t *out, size_t cap)
{
	size_t mle, nlen, off = 0;

	if (select_app() != SW_OK || data_len() != 0 ||
	    select_file(FID_CC) != SW_OK || read_bin(0, 15) != SW_OK ||
	    data_len() != 15 || memcmp(resp, cc_writable, 7) != 0)
		return -1;
	mle = (size_t)resp[3] << 8 | resp[4];
	if (select_file((unsigned)resp[9] << 8 | resp[10]) != SW_OK ||
	    read_bin(0, 2) != SW_OK || data_len() != 2)
		return -1;
	nlen = (size_t)resp[0] << 8 | resp[1];
	if (nlen > cap)
		return -1;
	while (off < nlen) {
		size_t n = nlen - off < mle ? nlen - off : mle;
		if (read_bin(2 + off, (long)n) != SW_OK || data_len() != n)
			return -1;
		memcpy(out + off, resp, n);
		off += n;
	}
	return (long)nlen;
}

/* The Type 4 write procedure (T4T §6.4.2): NLEN 0000, the message in
 * pieces of at most MLc, then NLEN. stop_after: give up after that many
 * message pieces (a writer torn off the field), or SIZE_MAX. */
static unsigned writer_write(const uint8_t *msg, size_t len,
			     size_t stop_after)
{
	static const uint8_t zero[2] = { 0, 0 };
	const uint8_t nlen[2] = { (uint8_t)(len >> 8), (uint8_t)len };
	size_t off = 0, pieces = 0;
	unsigned sw;

	if ((sw = select_app()) != SW_OK ||
	    (sw = select_file(FID_NDEF)) != SW_OK ||
	    (sw = update_bin(0, zero, 2)) != SW_OK)
		return sw;
	while (off < len) {
		size_t n = len - off < MLC ? len - off : MLC;
		if (pieces++ == stop_after)
			return SW_OK;
		if ((sw = update_bin(2 + off, msg + off, n)) != SW_OK)
			return sw;
		off += n;
	}
	return update_bin(0, nlen, 2);
}

/* --- cases --------------------------------------------------------------- */

static void select_answers_no_data(void)
{
	static const uint8_t v1_aid[] = { 0xD2, 0x76, 0x00, 0x00,
					  0x85, 0x01, 0x00 };

	begin();
	CHECK_EQ(select_app(), SW_OK);
	CHECK_EQ(data_len(), 0);
	/* with P2 0C (no FCI) as some readers send it */
	CHECK_EQ(apdu_ex(0x00, 0xA4, 0x04, 0x0C, ndef_aid, sizeof(ndef_aid),
			 -1, 0),
		 SW_OK);
	CHECK_EQ(data_len(), 0);
	/* the mapping 1.0 AID is not this tag */
	CHECK_EQ(apdu_ex(0x00, 0xA4, 0x04, 0x00, v1_aid, sizeof(v1_aid), 0, 0),
		 SW_NOT_FOUND);
	end();
}

static void capability_container_exact(void)
{
	begin();
	CHECK_EQ(select_app(), SW_OK);
	CHECK_EQ(select_file(FID_CC), SW_OK);
	CHECK_EQ(data_len(), 0);
	CHECK_EQ(read_bin(0, 15), SW_OK);
	CHECK_EQ(data_len(), 15);
	CHECK_MEM(resp, cc_writable, 15);
	/* CCLEN first, then the rest, as cautious readers do */
	CHECK_EQ(read_bin(0, 2), SW_OK);
	CHECK_EQ(data_len(), 2);
	CHECK_MEM(resp, cc_writable, 2);
	CHECK_EQ(read_bin(2, 13), SW_OK);
	CHECK_MEM(resp, cc_writable + 2, 13);
	/* Le 00: everything there is, 9000 */
	CHECK_EQ(read_bin(0, 0), SW_OK);
	CHECK_EQ(data_len(), 15);
	CHECK_MEM(resp, cc_writable, 15);
	/* SELECT with P2 00 (FCI asked for) works too, without data */
	CHECK_EQ(select_file_p2(FID_CC, 0x00), SW_OK);
	CHECK_EQ(data_len(), 0);
	CHECK_EQ(read_bin(0, 15), SW_OK);
	CHECK_MEM(resp, cc_writable, 15);
	end();
}

static void fresh_tag_is_empty(void)
{
	uint8_t msg[MSG_MAX];
	size_t len = 99;
	bool ro = true;

	begin();
	CHECK_EQ(select_app(), SW_OK);
	CHECK_EQ(select_file(FID_NDEF), SW_OK);
	CHECK_EQ(read_bin(0, 2), SW_OK);
	CHECK_EQ(data_len(), 2);
	CHECK_EQ(resp[0], 0);
	CHECK_EQ(resp[1], 0);
	CHECK_EQ(vkey_ndef_read(key, msg, sizeof(msg), &len, &ro),
		 VKEY_NDEF_OK);
	CHECK_EQ(len, 0);
	CHECK(!ro);
	end();
}

static void reader_reads_what_the_owner_wrote(void)
{
	static uint8_t msg[MSG_MAX], got[MSG_MAX];
	/* around MLe and the short/long record border, and the maximum */
	static const size_t lens[] = { 0, 7, 200, MLE - 1, MLE, MLE + 1,
				       259, 263, 2 * MLE, 1000, MSG_MAX };
	size_t len;

	begin();
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		len = 0;
		if (lens[i] > 0)
			len = exact_message(msg, sizeof(msg), lens[i]);
		CHECK_EQ(len, lens[i]);
		CHECK_EQ(vkey_ndef_write(key, msg, len), VKEY_NDEF_OK);
		CHECK_EQ(reader_read(got, sizeof(got)), (long)len);
		CHECK_MEM(got, msg, len);
	}
	end();
}

static void writer_procedure_nlen_first(void)
{
	static uint8_t msg[2000], got[MSG_MAX];
	size_t len = text_message(msg, sizeof(msg), 1500), n = 0;

	begin();
	CHECK_EQ(writer_write(msg, len, SIZE_MAX), SW_OK);
	CHECK_EQ(vkey_ndef_read(key, got, sizeof(got), &n, NULL),
		 VKEY_NDEF_OK);
	CHECK_EQ(n, len);
	CHECK_MEM(got, msg, len);
	CHECK_EQ(reader_read(got, sizeof(got)), (long)len);
	CHECK_MEM(got, msg, len);
	end();
}

/* A writer torn off after NLEN 0000 and three pieces: the tag keeps
 * exactly that (NLEN 0: no message), across reopening the file. */
static void torn_write_leaves_no_message(void)
{
	static uint8_t first[600], second[2000], got[MSG_MAX];
	size_t l1 = text_message(first, sizeof(first), 500);
	size_t l2 = text_message(second, sizeof(second), 1800), n = 9;

	begin();
	CHECK_EQ(writer_write(first, l1, SIZE_MAX), SW_OK);
	CHECK_EQ(writer_write(second, l2, 3), SW_OK);
	reopen();
	CHECK_EQ(vkey_ndef_read(key, got, sizeof(got), &n, NULL),
		 VKEY_NDEF_OK);
	CHECK_EQ(n, 0);
	CHECK_EQ(reader_read(got, sizeof(got)), 0);
	/* the pieces written before the tear are in the file */
	CHECK_EQ(select_file(FID_NDEF), SW_OK);
	CHECK_EQ(read_bin(2, MLE), SW_OK);
	CHECK_EQ(data_len(), MLE);
	CHECK_MEM(resp, second, MLE);
	/* and the writer's retry completes */
	CHECK_EQ(writer_write(second, l2, SIZE_MAX), SW_OK);
	reopen();
	CHECK_EQ(reader_read(got, sizeof(got)), (long)l2);
	CHECK_MEM(got, second, l2);
	end();
}

static void offsets_at_and_past_the_end(void)
{
	static const uint8_t two[2] = { 0xAB, 0xCD };

	begin();
	CHECK_EQ(select_app(), SW_OK);
	CHECK_EQ(select_file(FID_NDEF), SW_OK);
	/* the file's last bytes */
	CHECK_EQ(update_bin(FILE_SIZE - 2, two, 2), SW_OK);
	CHECK_EQ(read_bin(FILE_SIZE - 1, 1), SW_OK);
	CHECK_EQ(data_len(), 1);
	CHECK_EQ(resp[0], 0xCD);
	/* past the end: 6B00, nothing */
	CHECK_EQ(read_bin(FILE_SIZE, 1), SW_WRONG_P1P2);
	CHECK_EQ(data_len(), 0);
	CHECK_EQ(read_bin(0x7FFF, 1), SW_WRONG_P1P2);
	/* running past the end: what there is, 6282 */
	CHECK_EQ(read_bin(FILE_SIZE - 2, 5), SW_END_OF_FILE);
	CHECK_EQ(data_len(), 2);
	CHECK_MEM(resp, two, 2);
	/* ... unless Le asked for the maximum */
	CHECK_EQ(read_bin(FILE_SIZE - 2, 0), SW_OK);
	CHECK_EQ(data_len(), 2);
	/* the whole file in one extended READ BINARY */
	CHECK_EQ(read_bin_ex(0, 0, 1), SW_OK);
	CHECK_EQ(data_len(), FILE_SIZE);
	CHECK_EQ(read_bin_ex(0, FILE_SIZE, 1), SW_OK);
	CHECK_EQ(data_len(), FILE_SIZE);
	CHECK_EQ(read_bin_ex(0, FILE_SIZE + 1, 1), SW_END_OF_FILE);
	CHECK_EQ(data_len(), FILE_SIZE);
	/* writes past the end */
	CHECK_EQ(update_bin(FILE_SIZE - 1, two, 2), SW_NO_SPACE);
	CHECK_EQ(update_bin(FILE_SIZE, two, 1), SW_WRONG_P1P2);
	CHECK_EQ(update_bin(0x7FFF, two, 1), SW_WRONG_P1P2);
	CHECK_EQ(read_bin(FILE_SIZE - 2, 2), SW_OK);
	CHECK_MEM(resp, two, 2);
	/* the CC: 15 bytes */
	CHECK_EQ(select_file(FID_CC), SW_OK);
	CHECK_EQ(read_bin(15, 1), SW_WRONG_P1P2);
	CHECK_EQ(read_bin(14, 2), SW_END_OF_FILE);
	CHECK_EQ(data_len(), 1);
	CHECK_EQ(resp[0], 0x00);
	end();
}

static void malformed_read_and_update(void)
{
	static const uint8_t b[4] = { 1, 2, 3, 4 };
	static const uint8_t read_no_le[] = { 0x00, 0xB0, 0x00, 0x00 };
	static const uint8_t update_no_data[] = { 0x00, 0xD6, 0x00, 0x00 };
	static const uint8_t read_with_data[] = { 0x00, 0xB0, 0x00, 0x00,
						  0x01, 0xAA, 0x02 };

	begin();
	CHECK_EQ(select_app(), SW_OK);
	CHECK_EQ(select_file(FID_NDEF), SW_OK);
	CHECK_EQ(xfer(read_no_le, sizeof(read_no_le)), SW_WRONG_LENGTH);
	CHECK_EQ(xfer(update_no_data, sizeof(update_no_data)),
		 SW_WRONG_LENGTH);
	CHECK_EQ(xfer(read_with_data, sizeof(read_with_data)),
		 SW_WRONG_LENGTH);
	/* short EF identifiers (P1 bit 8) are not offered */
	CHECK_EQ(apdu_ex(0x00, 0xB0, 0x84, 0x00, NULL, 0, 2, 0), SW_FUNC);
	CHECK_EQ(apdu_ex(0x00, 0xD6, 0x84, 0x00, b, 2, -1, 0), SW_FUNC);
	/* other instructions */
	CHECK_EQ(apdu_ex(0x00, 0xB1, 0x00, 0x00, NULL, 0, 2, 0), SW_BAD_INS);
	CHECK_EQ(apdu_ex(0x00, 0xD7, 0x00, 0x00, b, 2, -1, 0), SW_BAD_INS);
	CHECK_EQ(apdu_ex(0x00, 0xCA, 0x00, 0x00, NULL, 0, 0, 0), SW_BAD_INS);
	/* the file is as it was */
	CHECK_EQ(read_bin(0, 4), SW_OK);
	CHECK_EQ(resp[0] | resp[1] | resp[2] | resp[3], 0);
	end();
}

static void select_file_rules(void)
{
	static const uint8_t three[3] = { 0xE1, 0x04, 0x00 };

	begin();
	CHECK_EQ(select_app(), SW_OK);
	CHECK_EQ(select_file(0x3F00), SW_NOT_FOUND);
	CHECK_EQ(select_file(0xE102), SW_NOT_FOUND);
	CHECK_EQ(apdu_ex(0x00, 0xA4, 0x00, 0x0C, three, 3, -1, 0),
		 SW_WRONG_LENGTH);
	CHECK_EQ(apdu_ex(0x00, 0xA4, 0x00, 0x0C, three, 1, -1, 0),
		 SW_WRONG_LENGTH);
	CHECK_EQ(apdu_ex(0x00, 0xA4, 0x02, 0x0C, three, 2, -1, 0),
		 SW_BAD_P1P2);
	CHECK_EQ(apdu_ex(0x00, 0xA4, 0x00, 0x04, three, 2, -1, 0),
		 SW_BAD_P1P2);
	/* a failed SELECT keeps the file selected before it */
	CHECK_EQ(select_file(FID_CC), SW_OK);
	CHECK_EQ(select_file(0x1234), SW_NOT_FOUND);
	CHECK_EQ(read_bin(0, 15), SW_OK);
	CHECK_MEM(resp, cc_writable, 15);
	end();
}

static void no_file_selected(void)
{
	static const uint8_t b[2] = { 0, 5 };

	begin();
	CHECK_EQ(select_app(), SW_OK);
	CHECK_EQ(read_bin(0, 2), SW_NOT_ALLOWED);
	CHECK_EQ(update_bin(0, b, 2), SW_NOT_ALLOWED);
	/* a new SELECT of the application forgets the file */
	CHECK_EQ(select_file(FID_NDEF), SW_OK);
	CHECK_EQ(select_app(), SW_OK);
	CHECK_EQ(read_bin(0, 2), SW_NOT_ALLOWED);
	/* so does a power cycle (the field going away) */
	CHECK_EQ(select_file(FID_NDEF), SW_OK);
	vkey_power_off(key);
	vkey_power_on(key);
	CHECK_EQ(select_app(), SW_OK);
	CHECK_EQ(read_bin(0, 2), SW_NOT_ALLOWED);
	/* another application in between */
	CHECK_EQ(select_file(FID_NDEF), SW_OK);
	{
		static const uint8_t oath[] = { 0xA0, 0x00, 0x00, 0x05,
						0x27, 0x21, 0x01 };
		CHECK_EQ(apdu_ex(0x00, 0xA4, 0x04, 0x00, oath, sizeof(oath),
				 0, 0),
			 SW_OK);
	}
	CHECK_EQ(select_app(), SW_OK);
	CHECK_EQ(read_bin(0, 2), SW_NOT_ALLOWED);
	end();
}

/* NLEN beyond the maximum message is refused, also when only its first
 * byte is written; the file stays as it was. */
static void nlen_over_max_refused(void)
{
	static const uint8_t too_long[2] = { 0x10, 0x01 };
	static const uint8_t longest[2] = { 0x10, 0x00 };
	static const uint8_t high[1] = { 0x11 };
	static uint8_t msg[MSG_MAX];
	size_t len = 0;

	begin();
	CHECK_EQ(select_app(), SW_OK);
	CHECK_EQ(select_file(FID_NDEF), SW_OK);
	CHECK_EQ(update_bin(0, too_long, 2), SW_BAD_DATA);
	CHECK_EQ(update_bin(0, high, 1), SW_BAD_DATA);
	CHECK_EQ(read_bin(0, 2), SW_OK);
	CHECK_EQ(resp[0] | resp[1], 0);
	CHECK_EQ(update_bin(0, longest, 2), SW_OK);
	CHECK_EQ(read_bin(0, 2), SW_OK);
	CHECK_MEM(resp, longest, 2);
	/* NLEN says 4096 bytes of zeros: not a message, but the tag keeps
	 * what the writer wrote, and the owner sees it as it is */
	CHECK_EQ(vkey_ndef_read(key, msg, sizeof(msg), &len, NULL),
		 VKEY_NDEF_OK);
	CHECK_EQ(len, MSG_MAX);
	end();
}

static void update_in_one_piece_and_extended(void)
{
	static uint8_t msg[3000], file[3002], got[MSG_MAX];
	size_t len = text_message(msg, sizeof(msg), 2900);

	begin();
	/* NLEN and message in one extended UPDATE BINARY */
	file[0] = (uint8_t)(len >> 8);
	file[1] = (uint8_t)len;
	memcpy(file + 2, msg, len);
	CHECK_EQ(select_app(), SW_OK);
	CHECK_EQ(select_file(FID_NDEF), SW_OK);
	CHECK_EQ(update_bin(0, file, len + 2), SW_OK);
	CHECK_EQ(reader_read(got, sizeof(got)), (long)len);
	CHECK_MEM(got, msg, len);
	/* a chain of short UPDATE BINARY commands is one command */
	CHECK_EQ(vkey_ndef_write(key, NULL, 0), VKEY_NDEF_OK);
	CHECK_EQ(select_app(), SW_OK);
	CHECK_EQ(select_file(FID_NDEF), SW_OK);
	CHECK_EQ(cmd_chained(0xD6, 0x00, 0x00, file, len + 2), SW_OK);
	CHECK_EQ(reader_read(got, sizeof(got)), (long)len);
	CHECK_MEM(got, msg, len);
	end();
}

static void read_only_refusals(void)
{
	static uint8_t msg[300], got[MSG_MAX];
	static const uint8_t b[2] = { 0, 0 };
	size_t len = text_message(msg, sizeof(msg), 100), n = 0;
	bool ro = false;

	begin();
	/* the CC is never writable */
	CHECK_EQ(select_app(), SW_OK);
	CHECK_EQ(select_file(FID_CC), SW_OK);
	CHECK_EQ(update_bin(0, b, 2), SW_SECURITY);
	CHECK_EQ(vkey_ndef_write(key, msg, len), VKEY_NDEF_OK);
	CHECK_EQ(vkey_ndef_set_read_only(key), VKEY_NDEF_OK);
	CHECK_EQ(vkey_ndef_set_read_only(key), VKEY_NDEF_OK);
	/* CC write access FF, everything else as before */
	CHECK_EQ(select_app(), SW_OK);
	CHECK_EQ(select_file(FID_CC), SW_OK);
	CHECK_EQ(read_bin(0, 15), SW_OK);
	CHECK_MEM(resp, cc_writable, 14);
	CHECK_EQ(resp[14], 0xFF);
	CHECK_EQ(select_file(FID_NDEF), SW_OK);
	CHECK_EQ(update_bin(0, b, 2), SW_SECURITY);
	CHECK_EQ(update_bin(100, b, 1), SW_SECURITY);
	CHECK_EQ(vkey_ndef_write(key, NULL, 0), VKEY_NDEF_READ_ONLY);
	CHECK_EQ(vkey_ndef_write(key, msg, len), VKEY_NDEF_READ_ONLY);
	/* readers still read it */
	CHECK_EQ(select_file(FID_NDEF), SW_OK);
	CHECK_EQ(read_bin(2, (long)len), SW_OK);
	CHECK_MEM(resp, msg, len);
	/* across reopening */
	reopen();
	CHECK_EQ(vkey_ndef_read(key, got, sizeof(got), &n, &ro),
		 VKEY_NDEF_OK);
	CHECK(ro);
	CHECK_EQ(n, len);
	CHECK_EQ(select_app(), SW_OK);
	CHECK_EQ(select_file(FID_NDEF), SW_OK);
	CHECK_EQ(update_bin(0, b, 2), SW_SECURITY);
	end();
}

static void persists_across_reopen(void)
{
	static uint8_t msg[1200], got[MSG_MAX];
	size_t len = text_message(msg, sizeof(msg), 1000);
	static const uint8_t tail[3] = { 7, 8, 9 };

	begin();
	CHECK_EQ(writer_write(msg, len, SIZE_MAX), SW_OK);
	/* bytes past the message stay where a writer put them */
	CHECK_EQ(update_bin(3000, tail, 3), SW_OK);
	reopen();
	CHECK_EQ(reader_read(got, sizeof(got)), (long)len);
	CHECK_MEM(got, msg, len);
	CHECK_EQ(read_bin(3000, 3), SW_OK);
	CHECK_MEM(resp, tail, 3);
	/* vkey_ndef_write replaces the whole file */
	CHECK_EQ(vkey_ndef_write(key, msg, len), VKEY_NDEF_OK);
	reopen();
	CHECK_EQ(select_app(), SW_OK);
	CHECK_EQ(select_file(FID_NDEF), SW_OK);
	CHECK_EQ(read_bin(3000, 3), SW_OK);
	CHECK_EQ(resp[0] | resp[1] | resp[2], 0);
	end();
}

static void factory_reset_clears(void)
{
	static uint8_t msg[100], got[MSG_MAX];
	size_t len = text_message(msg, sizeof(msg), 50), n = 1;
	bool ro = true;

	begin();
	CHECK_EQ(vkey_ndef_write(key, msg, len), VKEY_NDEF_OK);
	CHECK_EQ(vkey_ndef_set_read_only(key), VKEY_NDEF_OK);
	reset_applet();
	CHECK_EQ(vkey_ndef_read(key, got, sizeof(got), &n, &ro),
		 VKEY_NDEF_OK);
	CHECK_EQ(n, 0);
	CHECK(!ro);
	CHECK_EQ(reader_read(got, sizeof(got)), 0);
	reopen();
	CHECK_EQ(select_app(), SW_OK);
	CHECK_EQ(select_file(FID_CC), SW_OK);
	CHECK_EQ(read_bin(0, 15), SW_OK);
	CHECK_MEM(resp, cc_writable, 15);
	CHECK_EQ(writer_write(msg, len, SIZE_MAX), SW_OK);
	end();
}

/* A record that is not what vkey writes: readers see an empty tag,
 * changes are refused, the status says so, and a reset repairs it. */
static void damaged_record(void)
{
	static const uint8_t bad[][4] = {
		{ 9, 0, 0, 0 },    /* unknown version */
		{ 1, 0x80, 0, 0 }, /* unknown flag */
		{ 1, 0, 0x10, 1 }, /* NLEN over the maximum */
	};
	static uint8_t got[MSG_MAX];
	static const uint8_t b[2] = { 0, 0 };
	char report[4096];
	size_t n;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		begin();
		CHECK_EQ(store_put(vkey_store(key), "ndef", "tag", 3, bad[i],
				   sizeof(bad[i])),
			 STORE_OK);
		reopen();
		CHECK_EQ(reader_read(got, sizeof(got)), 0);
		CHECK_EQ(update_bin(0, b, 2), SW_MEMORY);
		CHECK_EQ(vkey_ndef_write(key, NULL, 0), VKEY_NDEF_DAMAGED);
		CHECK_EQ(vkey_ndef_set_read_only(key), VKEY_NDEF_DAMAGED);
		CHECK_EQ(vkey_ndef_read(key, got, sizeof(got), &n, NULL),
			 VKEY_NDEF_DAMAGED);
		CHECK(vkey_report_status(key, report, sizeof(report)) > 0);
		CHECK(strstr(report, "ndef: the stored tag is unreadable") !=
		      NULL);
		reset_applet();
		CHECK_EQ(writer_write(b, 0, SIZE_MAX), SW_OK);
		CHECK_EQ(vkey_ndef_read(key, got, sizeof(got), &n, NULL),
			 VKEY_NDEF_OK);
		end();
	}
}

static void owner_api_checks_messages(void)
{
	static uint8_t msg[MSG_MAX + 10], got[MSG_MAX];
	static char uri[MSG_MAX + 16];
	static const uint8_t trailing[] = { 0xD1, 0x01, 0x01, 'U', 0x00, 0x00 };
	size_t len, n;

	begin();
	CHECK_EQ(vkey_ndef_write(key, trailing, sizeof(trailing)),
		 VKEY_NDEF_MALFORMED);
	CHECK_EQ(vkey_ndef_write(key, trailing, 3), VKEY_NDEF_MALFORMED);
	CHECK_EQ(vkey_ndef_write(key, NULL, 5), VKEY_NDEF_MALFORMED);
	CHECK_EQ(vkey_ndef_write(key, msg, MSG_MAX + 1), VKEY_NDEF_TOO_LONG);
	/* the longest URI message that fits, and one byte more: a long
	 * record (7 header bytes), code 04 for https:// */
	memset(uri, 'x', sizeof(uri));
	memcpy(uri, "https://", 8);
	uri[MSG_MAX - 7 - 1 + 8] = '\0';
	CHECK_EQ(vkey_ndef_uri_message(uri, msg, sizeof(msg), &len),
		 VKEY_NDEF_OK);
	CHECK_EQ(len, MSG_MAX);
	CHECK_EQ(msg[7], 0x04);
	uri[MSG_MAX - 7 - 1 + 8] = 'x';
	uri[MSG_MAX - 7 - 1 + 9] = '\0';
	CHECK_EQ(vkey_ndef_uri_message(uri, msg, sizeof(msg), &len),
		 VKEY_NDEF_TOO_LONG);
	CHECK_EQ(vkey_ndef_uri_message("", msg, sizeof(msg), &len),
		 VKEY_NDEF_BAD_ARG);
	CHECK_EQ(vkey_ndef_uri_message("http://a\nb", msg, sizeof(msg), &len),
		 VKEY_NDEF_BAD_ARG);
	CHECK_EQ(vkey_ndef_text_message("e n", "x", msg, sizeof(msg), &len),
		 VKEY_NDEF_BAD_ARG);
	CHECK_EQ(vkey_ndef_text_message("en", "\xC3\x28", msg, sizeof(msg),
					&len),
		 VKEY_NDEF_BAD_ARG);
	/* read needs room for the message */
	CHECK_EQ(vkey_ndef_uri_message("https://example.com", msg, sizeof(msg),
				       &len),
		 VKEY_NDEF_OK);
	CHECK_EQ(vkey_ndef_write(key, msg, len), VKEY_NDEF_OK);
	CHECK_EQ(vkey_ndef_read(key, got, 3, &n, NULL), VKEY_NDEF_TOO_LONG);
	CHECK_EQ(vkey_ndef_read(key, got, sizeof(got), &n, NULL),
		 VKEY_NDEF_OK);
	CHECK_EQ(n, len);
	end();
}

static void reports_show_the_records(void)
{
	static uint8_t msg[200];
	char out[8192];
	size_t len;

	begin();
	CHECK(vkey_report_status(key, out, sizeof(out)) > 0);
	CHECK(strstr(out, "ndef: no message, writable\n") != NULL);
	CHECK_EQ(vkey_ndef_uri_message("https://www.example.com/x?y=1", msg,
				       sizeof(msg), &len),
		 VKEY_NDEF_OK);
	CHECK_EQ(vkey_ndef_write(key, msg, len), VKEY_NDEF_OK);
	CHECK(vkey_report_status(key, out, sizeof(out)) > 0);
	CHECK(strstr(out, "ndef: 22 of 4096 bytes, 1 record (URI "
			  "https://www.example.com/x?y=1), writable\n") !=
	      NULL);
	CHECK(vkey_report_list(key, "ndef", out, sizeof(out)) > 0);
	CHECK_EQ(strcmp(out, "NDEF message: 22 of 4096 bytes, 1 record, "
			     "writable\n"
			     "record 1: URI https://www.example.com/x?y=1\n"),
		 0);
	CHECK_EQ(vkey_ndef_set_read_only(key), VKEY_NDEF_OK);
	CHECK(vkey_report_list(key, "ndef", out, sizeof(out)) > 0);
	CHECK(strstr(out, ", read-only\n") != NULL);
	end();
}

int main(void)
{
	RUN(select_answers_no_data);
	RUN(capability_container_exact);
	RUN(fresh_tag_is_empty);
	RUN(reader_reads_what_the_owner_wrote);
	RUN(writer_procedure_nlen_first);
	RUN(torn_write_leaves_no_message);
	RUN(offsets_at_and_past_the_end);
	RUN(malformed_read_and_update);
	RUN(select_file_rules);
	RUN(no_file_selected);
	RUN(nlen_over_max_refused);
	RUN(update_in_one_piece_and_extended);
	RUN(read_only_refusals);
	RUN(persists_across_reopen);
	RUN(factory_reset_clears);
	RUN(damaged_record);
	RUN(owner_api_checks_messages);
	RUN(reports_show_the_records);
	return CHECK_DONE();
}
