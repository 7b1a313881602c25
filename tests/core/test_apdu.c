/* APDU parser and dispatcher: one named case per encoding rule and per
 * malformed input. */
#include <stdint.h>
#include <stdlib.h>

#include "../check.h"
#include "apdu/apdu.h"
#include "apdu/dispatch.h"
#include "apdu/sw.h"
#include "echo_applet.h"
#include "vkey/vkey.h"

static int parse_sw(const uint8_t *b, size_t n, struct apdu *a)
{
	return apdu_parse(b, n, a);
}

#define PARSE(a, ...)                                                     \
	({                                                                \
		static const uint8_t b_[] = { __VA_ARGS__ };              \
		parse_sw(b_, sizeof(b_), (a));                            \
	})

static void case1_header_only(void)
{
	struct apdu a;
	CHECK_EQ(PARSE(&a, 0x00, 0xA4, 0x04, 0x00), 0);
	CHECK_EQ(a.lc, 0);
	CHECK(!a.le_present);
	CHECK(!a.extended);
}

static void case2s_le_zero_means_256(void)
{
	struct apdu a;
	CHECK_EQ(PARSE(&a, 0x00, 0xCA, 0x00, 0x6E, 0x00), 0);
	CHECK(a.le_present);
	CHECK_EQ(a.ne, 256);
	CHECK_EQ(PARSE(&a, 0x00, 0xCA, 0x00, 0x6E, 0x10), 0);
	CHECK_EQ(a.ne, 16);
}

static void case3s_data_without_le(void)
{
	struct apdu a;
	CHECK_EQ(PARSE(&a, 0x00, 0x01, 0x00, 0x00, 0x02, 0xAA, 0xBB), 0);
	CHECK_EQ(a.lc, 2);
	CHECK_EQ(a.data[1], 0xBB);
	CHECK(!a.le_present);
}

static void case4s_data_and_le(void)
{
	struct apdu a;
	CHECK_EQ(PARSE(&a, 0x00, 0x01, 0x00, 0x00, 0x01, 0xAA, 0x00), 0);
	CHECK_EQ(a.lc, 1);
	CHECK(a.le_present);
	CHECK_EQ(a.ne, 256);
}

static void case2e_le_0000_means_65536(void)
{
	struct apdu a;
	CHECK_EQ(PARSE(&a, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00), 0);
	CHECK(a.extended);
	CHECK_EQ(a.ne, 65536);
	CHECK_EQ(PARSE(&a, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x02), 0);
	CHECK_EQ(a.ne, 258);
}

static void case3e_and_case4e(void)
{
	struct apdu a;
	CHECK_EQ(PARSE(&a, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x55), 0);
	CHECK(a.extended);
	CHECK_EQ(a.lc, 1);
	CHECK(!a.le_present);
	CHECK_EQ(PARSE(&a, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x55,
		       0x00, 0x00), 0);
	CHECK_EQ(a.ne, 65536);
}

static void reject_short_header(void)
{
	struct apdu a;
	CHECK_EQ(PARSE(&a, 0x00, 0xA4, 0x04), SW_WRONG_LENGTH);
	CHECK_EQ(parse_sw(NULL, 0, &a), SW_WRONG_LENGTH);
}

static void reject_lc_beyond_data(void)
{
	struct apdu a;
	CHECK_EQ(PARSE(&a, 0x00, 0x02, 0x00, 0x00, 0x05, 0x01, 0x02),
		 SW_WRONG_LENGTH);
}

static void reject_trailing_bytes_after_le(void)
{
	struct apdu a;
	CHECK_EQ(PARSE(&a, 0x00, 0x02, 0x00, 0x00, 0x01, 0x01, 0x00, 0x00),
		 SW_WRONG_LENGTH);
}

static void reject_extended_lc_zero(void)
{
	struct apdu a;
	CHECK_EQ(PARSE(&a, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01),
		 SW_WRONG_LENGTH);
}

static void reject_truncated_extended_length(void)
{
	struct apdu a;
	CHECK_EQ(PARSE(&a, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01),
		 SW_WRONG_LENGTH);
}

static void reject_extended_one_byte_le(void)
{
	struct apdu a;
	CHECK_EQ(PARSE(&a, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x55,
		       0x00), SW_WRONG_LENGTH);
}

/* Dispatcher cases run against the echo test applets. */
static const struct applet_ops *const test_ops[] = { &echo_applet,
						     &echo2_applet };
static struct dispatch d;
static uint8_t resp[VKEY_APDU_MAX];
static size_t resp_len;

static unsigned send_raw(const uint8_t *b, size_t n)
{
	dispatch_apdu(&d, b, n, resp, sizeof(resp), &resp_len);
	if (resp_len < 2)
		return 0;
	return (unsigned)(resp[resp_len - 2] << 8 | resp[resp_len - 1]);
}

#define SEND(...)                                                         \
	({                                                                \
		static const uint8_t s_[] = { __VA_ARGS__ };              \
		send_raw(s_, sizeof(s_));                                 \
	})

static unsigned select_echo(void)
{
	return SEND(0x00, 0xA4, 0x04, 0x00, 0x07, 0xF0, 0x76, 0x6B, 0x65,
		    0x79, 0x01, 0x02);
}

static void select_full_aid(void)
{
	CHECK_EQ(select_echo(), SW_OK);
	CHECK_EQ(resp_len, 6);
	CHECK_MEM(resp, "echo", 4);
}

static void select_partial_aid(void)
{
	CHECK_EQ(SEND(0x00, 0xA4, 0x04, 0x00, 0x06, 0xF0, 0x76, 0x6B, 0x65,
		      0x79, 0x01), SW_OK);
}

static void select_aid_with_suffix(void)
{
	CHECK_EQ(SEND(0x00, 0xA4, 0x04, 0x00, 0x09, 0xF0, 0x76, 0x6B, 0x65,
		      0x79, 0x09, 0x03, 0x04, 0x00), SW_OK);
}

static void select_unknown_aid_is_6a82(void)
{
	CHECK_EQ(SEND(0x00, 0xA4, 0x04, 0x00, 0x05, 0xA0, 0x00, 0x00, 0x00,
		      0x01), SW_FILE_NOT_FOUND);
}

static void select_too_short_aid_is_6a82(void)
{
	CHECK_EQ(SEND(0x00, 0xA4, 0x04, 0x00, 0x02, 0xF0, 0x76),
		 SW_FILE_NOT_FOUND);
	CHECK_EQ(SEND(0x00, 0xA4, 0x04, 0x00), SW_FILE_NOT_FOUND);
}

static void select_next_occurrence_is_6a86(void)
{
	CHECK_EQ(SEND(0x00, 0xA4, 0x04, 0x02, 0x06, 0xF0, 0x76, 0x6B, 0x65,
		      0x79, 0x01), SW_WRONG_P1P2);
}

static void command_without_selection_is_6d00(void)
{
	dispatch_power_off(&d);
	CHECK_EQ(SEND(0x00, 0x01, 0x00, 0x01), SW_INS_NOT_SUPPORTED);
}

static void unknown_ins_is_6d00(void)
{
	select_echo();
	CHECK_EQ(SEND(0x00, 0x7E, 0x00, 0x00), SW_INS_NOT_SUPPORTED);
}

static void class_checks(void)
{
	select_echo();
	CHECK_EQ(SEND(0xFF, 0x01, 0x00, 0x01), SW_CLA_NOT_SUPPORTED);
	CHECK_EQ(SEND(0xA0, 0x01, 0x00, 0x01), SW_CLA_NOT_SUPPORTED);
	CHECK_EQ(SEND(0x20, 0x01, 0x00, 0x01), SW_CLA_NOT_SUPPORTED);
	CHECK_EQ(SEND(0x01, 0x01, 0x00, 0x01), SW_LOGICAL_CHANNEL_UNSUP);
	CHECK_EQ(SEND(0x40, 0x01, 0x00, 0x01), SW_LOGICAL_CHANNEL_UNSUP);
	CHECK_EQ(SEND(0x0C, 0x01, 0x00, 0x01), SW_SECURE_MESSAGING_UNSUP);
	CHECK_EQ(SEND(0x80, 0x01, 0x00, 0x01), SW_OK); /* proprietary */
}

static void malformed_apdu_is_6700(void)
{
	select_echo();
	CHECK_EQ(SEND(0x00, 0x02, 0x00, 0x00, 0x09, 0x01), SW_WRONG_LENGTH);
}

static void applet_status_passes_through(void)
{
	select_echo();
	CHECK_EQ(SEND(0x00, 0x03, 0x00, 0x00), SW_WRONG_DATA);
	CHECK_EQ(resp_len, 2);
}

static void error_status_drops_data(void)
{
	select_echo();
	CHECK_EQ(SEND(0x00, 0x04, 0x00, 0x00), SW_WRONG_DATA);
	CHECK_EQ(resp_len, 2);
	CHECK_EQ(SEND(0x00, 0x05, 0x00, 0x00), 0x63C2);
	CHECK_EQ(resp_len, 6);
}

static void response_chaining_with_get_response(void)
{
	uint8_t all[600];
	size_t got = 0;
	unsigned sw;

	select_echo();
	sw = SEND(0x00, 0x01, 0x02, 0x58); /* 600 bytes, Le absent */
	CHECK_EQ(sw, 0x6100);
	CHECK_EQ(resp_len, 258);
	memcpy(all, resp, 256);
	got = 256;
	sw = SEND(0x00, 0xC0, 0x00, 0x00, 0x00);
	CHECK_EQ(sw, 0x6158);
	memcpy(all + got, resp, 256);
	got += 256;
	sw = SEND(0x00, 0xC0, 0x00, 0x00, 0x00);
	CHECK_EQ(sw, SW_OK);
	CHECK_EQ(resp_len, 90);
	memcpy(all + got, resp, 88);
	for (size_t i = 0; i < sizeof(all); i++)
		CHECK_EQ(all[i], (uint8_t)i);
}

static void get_response_honours_le(void)
{
	select_echo();
	CHECK_EQ(SEND(0x00, 0x01, 0x00, 0x20, 0x10), 0x6110);
	CHECK_EQ(resp_len, 18);
	CHECK_EQ(SEND(0x00, 0xC0, 0x00, 0x00, 0x08), 0x6108);
	CHECK_EQ(resp_len, 10);
	CHECK_EQ(resp[0], 0x10);
	CHECK_EQ(SEND(0x00, 0xC0, 0x00, 0x00, 0x08), SW_OK);
	CHECK_EQ(resp[7], 0x1F);
}

static void get_response_without_pending_is_6985(void)
{
	select_echo();
	SEND(0x00, 0x01, 0x00, 0x01);
	CHECK_EQ(SEND(0x00, 0xC0, 0x00, 0x00, 0x00),
		 SW_CONDITIONS_NOT_SATISFIED);
}

static void get_response_wrong_p1p2_is_6a86(void)
{
	select_echo();
	CHECK_EQ(SEND(0x00, 0x01, 0x02, 0x00), 0x6100);
	CHECK_EQ(SEND(0x00, 0xC0, 0x01, 0x00, 0x00), SW_WRONG_P1P2);
}

static void other_command_drops_pending_response(void)
{
	select_echo();
	CHECK_EQ(SEND(0x00, 0x01, 0x02, 0x00), 0x6100);
	CHECK_EQ(SEND(0x00, 0x01, 0x00, 0x02), SW_OK);
	CHECK_EQ(SEND(0x00, 0xC0, 0x00, 0x00, 0x00),
		 SW_CONDITIONS_NOT_SATISFIED);
}

static void applet_send_remaining_ins(void)
{
	CHECK_EQ(SEND(0x00, 0xA4, 0x04, 0x00, 0x06, 0xF0, 0x76, 0x6B, 0x65,
		      0x79, 0x09), SW_OK);
	CHECK_EQ(SEND(0x00, 0x01, 0x02, 0x10), 0x6100);
	CHECK_EQ(SEND(0x00, 0xA5, 0x00, 0x00), 0x6110);
	CHECK_EQ(SEND(0x00, 0xA5, 0x00, 0x00), SW_OK);
	CHECK_EQ(resp_len, 18);
	CHECK_EQ(resp[15], 0x0F); /* byte 527 of the answer */
}

static void extended_le_returns_everything(void)
{
	select_echo();
	CHECK_EQ(SEND(0x00, 0x01, 0x02, 0x58, 0x00, 0x00, 0x00), SW_OK);
	CHECK_EQ(resp_len, 602);
}

static void command_chaining_gathers_data(void)
{
	select_echo();
	CHECK_EQ(SEND(0x10, 0x02, 0x00, 0x00, 0x02, 'a', 'b'), SW_OK);
	CHECK_EQ(resp_len, 2);
	CHECK_EQ(SEND(0x10, 0x02, 0x00, 0x00, 0x01, 'c'), SW_OK);
	CHECK_EQ(SEND(0x00, 0x02, 0x00, 0x00, 0x02, 'd', 'e'), SW_OK);
	CHECK_EQ(resp_len, 7);
	CHECK_MEM(resp, "abcde", 5);
}

static void proprietary_class_chains_too(void)
{
	select_echo();
	CHECK_EQ(SEND(0x90, 0x02, 0x00, 0x00, 0x02, 'c', 't'), SW_OK);
	CHECK_EQ(resp_len, 2);
	CHECK_EQ(SEND(0x80, 0x02, 0x00, 0x00, 0x02, 'a', 'p'), SW_OK);
	CHECK_EQ(resp_len, 6);
	CHECK_MEM(resp, "ctap", 4);
}

/* A chain of short APDUs stays short: an answer longer than 256 bytes
 * goes out through 61xx and GET RESPONSE (libykpiv sends RSA-2048
 * blocks this way with a 261-byte receive buffer). */
static void long_chain_of_short_apdus_answers_in_pieces(void)
{
	uint8_t first[5 + 200], last[5 + 100];
	unsigned sw;

	select_echo();
	memcpy(first, (const uint8_t[]){ 0x10, 0x02, 0x00, 0x00, 200 }, 5);
	memcpy(last, (const uint8_t[]){ 0x00, 0x02, 0x00, 0x00, 100 }, 5);
	for (size_t i = 0; i < 300; i++) {
		if (i < 200)
			first[5 + i] = (uint8_t)i;
		else
			last[5 + i - 200] = (uint8_t)i;
	}
	CHECK_EQ(send_raw(first, sizeof(first)), SW_OK);
	sw = send_raw(last, sizeof(last));
	CHECK_EQ(sw, 0x612C);
	CHECK_EQ(resp_len, 258);
	for (size_t i = 0; i < 256; i++)
		CHECK_EQ(resp[i], (uint8_t)i);
	CHECK_EQ(SEND(0x00, 0xC0, 0x00, 0x00, 0x00), SW_OK);
	CHECK_EQ(resp_len, 46);
	for (size_t i = 0; i < 44; i++)
		CHECK_EQ(resp[i], (uint8_t)(256 + i));
}

static void chain_abandoned_by_other_command(void)
{
	select_echo();
	CHECK_EQ(SEND(0x10, 0x02, 0x00, 0x00, 0x02, 'a', 'b'), SW_OK);
	CHECK_EQ(SEND(0x00, 0x02, 0x00, 0x01, 0x01, 'z'), SW_OK);
	CHECK_EQ(resp_len, 3);
	CHECK_EQ(resp[0], 'z');
}

static void chain_longer_than_limit_is_6700(void)
{
	static uint8_t big[7 + 65535];
	unsigned sw = SW_OK;

	select_echo();
	big[0] = 0x10;
	big[1] = 0x02;
	big[5] = 0xFF;
	big[6] = 0xFF;
	sw = send_raw(big, sizeof(big));
	CHECK_EQ(sw, SW_OK);
	sw = send_raw(big, sizeof(big));
	CHECK_EQ(sw, SW_WRONG_LENGTH);
	/* and the key still works */
	CHECK_EQ(SEND(0x00, 0x02, 0x00, 0x00, 0x01, 'q'), SW_OK);
	CHECK_EQ(resp[0], 'q');
}

static void power_off_deselects(void)
{
	select_echo();
	dispatch_power_off(&d);
	CHECK_EQ(SEND(0x00, 0x01, 0x00, 0x01), SW_INS_NOT_SUPPORTED);
}

int main(void)
{
	RUN(case1_header_only);
	RUN(case2s_le_zero_means_256);
	RUN(case3s_data_without_le);
	RUN(case4s_data_and_le);
	RUN(case2e_le_0000_means_65536);
	RUN(case3e_and_case4e);
	RUN(reject_short_header);
	RUN(reject_lc_beyond_data);
	RUN(reject_trailing_bytes_after_le);
	RUN(reject_extended_lc_zero);
	RUN(reject_truncated_extended_length);
	RUN(reject_extended_one_byte_le);

	if (dispatch_init(&d, NULL, test_ops, 2) != 0)
		return 1;
	RUN(select_full_aid);
	RUN(select_partial_aid);
	RUN(select_aid_with_suffix);
	RUN(select_unknown_aid_is_6a82);
	RUN(select_too_short_aid_is_6a82);
	RUN(select_next_occurrence_is_6a86);
	RUN(command_without_selection_is_6d00);
	RUN(unknown_ins_is_6d00);
	RUN(class_checks);
	RUN(malformed_apdu_is_6700);
	RUN(applet_status_passes_through);
	RUN(error_status_drops_data);
	RUN(response_chaining_with_get_response);
	RUN(get_response_honours_le);
	RUN(get_response_without_pending_is_6985);
	RUN(get_response_wrong_p1p2_is_6a86);
	RUN(other_command_drops_pending_response);
	RUN(applet_send_remaining_ins);
	RUN(extended_le_returns_everything);
	RUN(command_chaining_gathers_data);
	RUN(proprietary_class_chains_too);
	RUN(long_chain_of_short_apdus_answers_in_pieces);
	RUN(chain_abandoned_by_other_command);
	RUN(chain_longer_than_limit_is_6700);
	RUN(power_off_deselects);
	dispatch_free(&d);
	return CHECK_DONE();
}
