/* The management application driven through vkey_open() + vkey_apdu()
 * with raw APDUs, as ykman sends them (docs/MGMT.md): SELECT, READ
 * CONFIG byte for byte, WRITE CONFIG switching applets off and on with
 * the effect checked by SELECTing them (and over the CTAPHID entry
 * points), persistence, the lock code, and malformed writes. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../check_apdu.h"
#include "../check_key.h"
#include "vkey/admin.h"
#include "vkey/vkey.h"

#define SW_OK 0x9000
#define SW_WRONG_LENGTH 0x6700
#define SW_SECURITY 0x6982
#define SW_BAD_DATA 0x6A80
#define SW_NOT_SUPPORTED 0x6A81
#define SW_NOT_FOUND 0x6A82
#define SW_BAD_P1P2 0x6A86
#define SW_BAD_INS 0x6D00
#define SW_BAD_CLA 0x6E00

/* Everything vkey has: U2F 02, OpenPGP 08, PIV 10, OATH 20, FIDO2 200. */
#define ALL 0x023A

static struct check_key tk;

static const char *const aid_mgmt = "A000000527471117";
static const char *const aid_oath = "A0000005272101";
static const char *const aid_piv = "A000000308";
static const char *const aid_pgp = "D27600012401";
static const char *const aid_fido = "A0000006472F0001";

/* --- harness ------------------------------------------------------------ */

/* A whole APDU written in hex. */
static unsigned hex_apdu(const char *hex)
{
	uint8_t b[600];
	size_t n = check_unhex(hex, b, sizeof(b));

	return xfer(b, n);
}

static unsigned select_aid(const char *aid_hex)
{
	uint8_t aid[256];
	size_t n = check_unhex(aid_hex, aid, sizeof(aid));

	return apdu_ex(0x00, 0xA4, 0x04, 0x00, aid, n, 0, 0);
}

static unsigned select_mgmt(void)
{
	return select_aid(aid_mgmt);
}

/* WRITE CONFIG with data given in hex (length byte included). */
static unsigned write_cfg(const char *data_hex)
{
	uint8_t d[300];
	size_t n = check_unhex(data_hex, d, sizeof(d));

	return apdu_ex(0x00, 0x1C, 0x00, 0x00, d, n, -1, 0);
}

/* The enabled set READ CONFIG reports (tag 03), or -1. */
static long read_enabled(void)
{
	const uint8_t *v;
	size_t len;

	if (hex_apdu("001D000000") != SW_OK || resp_len < 3)
		return -1;
	v = tlv_find(resp + 1, resp_len - 3, 0x03, &len);
	if (v == NULL || len != 2)
		return -1;
	return v[0] << 8 | v[1];
}

/* WRITE CONFIG as ykman 4.0.9 sends it for `config usb`: the enabled
 * set, then the device flags it read (zero). */
static unsigned ykman_write(unsigned mask)
{
	char hex[64];

	snprintf(hex, sizeof(hex), "07 0302%04X 080100", mask);
	return write_cfg(hex);
}

static size_t data_len(void)
{
	return resp_len >= 2 ? resp_len - 2 : 0;
}

/* The data of the last response equals the bytes written in hex. */
static int data_is(const char *hex)
{
	uint8_t want[300];
	size_t n = check_unhex(hex, want, sizeof(want));

	return data_len() == n && memcmp(resp, want, n) == 0;
}

/* --- SELECT and READ CONFIG ----------------------------------------------- */

static void select_answers_vkey_name_and_version(void)
{
	static const char text[] = "vkey management 5.7.1";

	CHECK_EQ(select_mgmt(), SW_OK);
	CHECK_EQ(data_len(), sizeof(text) - 1);
	CHECK_MEM(resp, text, sizeof(text) - 1);
}

/* ykman reads the version from management and the PIV applet answers
 * GET VERSION itself: the two must agree. */
static void version_agrees_with_piv_get_version(void)
{
	CHECK_EQ(select_aid(aid_piv), SW_OK);
	CHECK_EQ(hex_apdu("00FD000000"), SW_OK);
	CHECK(data_is("050701"));
}

static void read_config_is_byte_exact(void)
{
	uint32_t s = vkey_serial(key);
	char want[128];

	snprintf(want, sizeof(want),
		 "19 0102023A 0204%08X 0302023A 040100 0503050701 0A0100",
		 (unsigned)s);
	CHECK_EQ(select_mgmt(), SW_OK);
	CHECK_EQ(hex_apdu("001D000000"), SW_OK);
	CHECK(data_is(want));
	/* Later pages (newer ykman asks only when told there is more). */
	CHECK_EQ(hex_apdu("001D010000"), SW_OK);
	CHECK(data_is("00"));
	CHECK_EQ(hex_apdu("001D000100"), SW_BAD_P1P2);
	CHECK_EQ(hex_apdu("001D00000100"), SW_WRONG_LENGTH);
	CHECK_EQ(hex_apdu("801D000000"), SW_BAD_CLA);
	CHECK_EQ(hex_apdu("0016110000"), SW_BAD_INS); /* YubiKey 4 SET MODE */
}

/* --- WRITE CONFIG and its effect ----------------------------------------- */

/* Each of the CCID applets, switched off, answers SELECT as if it were
 * not installed, and comes back when switched on. */
static void disabled_applets_answer_like_absent_ones(void)
{
	static const struct {
		const char *aid;
		unsigned bit;
	} apps[] = {
		{ "A0000005272101", 0x20 },
		{ "A000000308", 0x10 },
		{ "D27600012401", 0x08 },
	};

	for (size_t i = 0; i < sizeof(apps) / sizeof(apps[0]); i++) {
		CHECK_EQ(select_mgmt(), SW_OK);
		CHECK_EQ(ykman_write(ALL & ~apps[i].bit), SW_OK);
		CHECK_EQ(read_enabled(), ALL & ~apps[i].bit);
		CHECK_EQ(select_aid(apps[i].aid), SW_NOT_FOUND);
		CHECK_EQ(data_len(), 0);
		/* An unknown AID keeps the current selection: management. */
		CHECK_EQ(hex_apdu("001D000000"), SW_OK);
		CHECK_EQ(ykman_write(ALL), SW_OK);
		CHECK_EQ(select_aid(apps[i].aid), SW_OK);
	}
}

/* With OATH off, the partial AID A000000527 finds the next applet it
 * names (management), as on a card without OATH. */
static void partial_aid_skips_a_disabled_applet(void)
{
	CHECK_EQ(select_aid("A000000527"), SW_OK);
	CHECK(data_len() > 0 && resp[0] == 0x79); /* OATH's version tag */
	CHECK_EQ(select_mgmt(), SW_OK);
	CHECK_EQ(ykman_write(ALL & ~0x20), SW_OK);
	CHECK_EQ(select_aid("A000000527"), SW_OK);
	CHECK(data_len() > 4 && memcmp(resp, "vkey", 4) == 0);
	CHECK_EQ(ykman_write(ALL), SW_OK);
}

/* The owner switches off the applet a session has selected: its next
 * command finds no application. */
static void owner_switch_deselects_the_selected_applet(void)
{
	char err[128];

	CHECK_EQ(select_aid(aid_oath), SW_OK);
	CHECK_EQ(hex_apdu("00A4040007A000000527210100"), SW_OK);
	CHECK_EQ(vkey_set_applets(key, VKEY_TRANSPORT_USB, ALL & ~0x20u, err,
				  sizeof(err)),
		 0);
	CHECK_EQ(hex_apdu("00A1000000"), SW_BAD_INS); /* LIST */
	CHECK_EQ(vkey_set_applets(key, VKEY_TRANSPORT_USB, ALL, err,
				  sizeof(err)),
		 0);
	CHECK_EQ(select_aid(aid_oath), SW_OK);
	CHECK_EQ(hex_apdu("00A1000000"), SW_OK);
}

/* CTAP2 getInfo and U2F VERSION over CTAPHID's entry points. */
static uint8_t ctap_cbor_status(void)
{
	static const uint8_t get_info[] = { 0x04 };
	uint8_t out[2048];

	if (vkey_ctap_cbor(key, get_info, sizeof(get_info), out, sizeof(out),
			   NULL, NULL) < 1)
		return 0xFF;
	return out[0];
}

static unsigned ctap_msg_version(void)
{
	static const uint8_t version[] = { 0x00, 0x03, 0x00, 0x00,
					   0x00, 0x00, 0x00 };
	uint8_t out[256];
	size_t n = vkey_ctap_msg(key, version, sizeof(version), out,
				 sizeof(out), NULL, NULL);

	if (n < 2)
		return 0;
	return (unsigned)(out[n - 2] << 8 | out[n - 1]);
}

/* FIDO's halves: U2F (class 00) and CTAP2 (class 80), each switched
 * separately over ISO 7816 and over CTAPHID; both off, the applet is
 * absent. */
static void fido_halves_switch_separately(void)
{
	static const char u2f_version[] = "0003000000";
	static const char ctap_get_info[] = "801000000104 00";

	/* Both on. */
	CHECK_EQ(select_aid(aid_fido), SW_OK);
	CHECK_EQ(hex_apdu(u2f_version), SW_OK);
	CHECK(data_is("5532465F5632")); /* U2F_V2 */
	CHECK_EQ(collect(hex_apdu(ctap_get_info)), SW_OK);
	CHECK(all_len > 1 && all[0] == 0x00);
	CHECK_EQ(ctap_cbor_status(), 0x00);
	CHECK_EQ(ctap_msg_version(), SW_OK);

	/* U2F off: CTAP2 only. */
	CHECK_EQ(select_mgmt(), SW_OK);
	CHECK_EQ(ykman_write(ALL & ~0x02), SW_OK);
	CHECK_EQ(select_aid(aid_fido), SW_OK);
	CHECK_EQ(hex_apdu(u2f_version), SW_BAD_INS);
	CHECK_EQ(collect(hex_apdu(ctap_get_info)), SW_OK);
	CHECK(all_len > 1 && all[0] == 0x00);
	CHECK_EQ(ctap_cbor_status(), 0x00);
	CHECK_EQ(ctap_msg_version(), SW_BAD_INS);
	CHECK(vkey_applet_enabled(key, VKEY_APP_FIDO2));
	CHECK(!vkey_applet_enabled(key, VKEY_APP_U2F));

	/* FIDO2 off: U2F only. */
	CHECK_EQ(select_mgmt(), SW_OK);
	CHECK_EQ(ykman_write(ALL & ~0x200), SW_OK);
	CHECK_EQ(select_aid(aid_fido), SW_OK);
	CHECK_EQ(hex_apdu(u2f_version), SW_OK);
	CHECK_EQ(hex_apdu(ctap_get_info), SW_BAD_INS);
	CHECK_EQ(ctap_cbor_status(), 0x01); /* CTAP1_ERR_INVALID_COMMAND */
	CHECK_EQ(ctap_msg_version(), SW_OK);

	/* Both off: absent. */
	CHECK_EQ(select_mgmt(), SW_OK);
	CHECK_EQ(ykman_write(ALL & ~0x202), SW_OK);
	CHECK_EQ(select_aid(aid_fido), SW_NOT_FOUND);
	CHECK_EQ(ctap_cbor_status(), 0x01);
	CHECK_EQ(ctap_msg_version(), SW_BAD_INS);

	CHECK_EQ(select_mgmt(), SW_OK);
	CHECK_EQ(ykman_write(ALL), SW_OK);
	CHECK_EQ(select_aid(aid_fido), SW_OK);
	CHECK_EQ(ctap_cbor_status(), 0x00);
}

static void switches_persist_across_reopen(void)
{
	CHECK_EQ(select_mgmt(), SW_OK);
	CHECK_EQ(ykman_write(ALL & ~0x30u), SW_OK); /* OATH and PIV off */
	key = check_key_reopen(&tk, VKEY_UP_AUTO);
	CHECK_EQ(select_aid(aid_oath), SW_NOT_FOUND);
	CHECK_EQ(select_aid(aid_piv), SW_NOT_FOUND);
	CHECK_EQ(select_aid(aid_pgp), SW_OK);
	CHECK_EQ(select_mgmt(), SW_OK);
	CHECK_EQ(read_enabled(), ALL & ~0x30u);
	CHECK_EQ(ykman_write(ALL), SW_OK);
	key = check_key_reopen(&tk, VKEY_UP_AUTO);
	CHECK_EQ(select_aid(aid_oath), SW_OK);
	CHECK_EQ(select_aid(aid_piv), SW_OK);
}

/* ykman sets the reboot flag when the USB interfaces change (every CCID
 * applet off): vkey applies the write at once. */
static void reboot_flag_applies_at_once(void)
{
	CHECK_EQ(select_mgmt(), SW_OK);
	CHECK_EQ(write_cfg("09 0C00 0302 0202 080100"), SW_OK);
	CHECK_EQ(read_enabled(), 0x0202);
	CHECK_EQ(select_aid(aid_pgp), SW_NOT_FOUND);
	CHECK_EQ(select_mgmt(), SW_OK);
	CHECK_EQ(write_cfg("06 0C00 0302023A"), SW_OK);
	CHECK_EQ(read_enabled(), ALL);
}

/* Management has no switch: no write can take it away, and with a
 * single application left it still answers. */
static void management_cannot_be_disabled(void)
{
	char err[128];

	CHECK_EQ(select_mgmt(), SW_OK);
	CHECK_EQ(write_cfg("04 03020000"), SW_BAD_DATA); /* nothing left */
	CHECK_EQ(vkey_set_applets(key, VKEY_TRANSPORT_USB, 0, err,
				  sizeof(err)),
		 -1);
	CHECK(strstr(err, "at least one") != NULL);
	CHECK_EQ(ykman_write(0x0200), SW_OK); /* FIDO2 only */
	CHECK_EQ(select_aid(aid_oath), SW_NOT_FOUND);
	CHECK_EQ(select_mgmt(), SW_OK);
	CHECK_EQ(read_enabled(), 0x0200);
	CHECK_EQ(ykman_write(ALL), SW_OK);
}

/* --- malformed writes --------------------------------------------------- */

static void write_refuses_length_mismatch(void)
{
	CHECK_EQ(select_mgmt(), SW_OK);
	CHECK_EQ(write_cfg("05 0302023A"), SW_WRONG_LENGTH); /* says 5, has 4 */
	CHECK_EQ(write_cfg("03 0302023A"), SW_WRONG_LENGTH); /* says 3, has 4 */
	CHECK_EQ(write_cfg("00 0302023A"), SW_WRONG_LENGTH);
	CHECK_EQ(hex_apdu("001C0000"), SW_WRONG_LENGTH);     /* no data */
	CHECK_EQ(write_cfg("03 030302"), SW_BAD_DATA);       /* TLV cut */
	CHECK_EQ(write_cfg("01 03"), SW_BAD_DATA);
	CHECK_EQ(write_cfg("04 0303023A"), SW_BAD_DATA);
	CHECK_EQ(write_cfg("05 03030000 3A"), SW_BAD_DATA);  /* 3 bytes */
	CHECK_EQ(write_cfg("02 0300"), SW_BAD_DATA);         /* 0 bytes */
	CHECK_EQ(write_cfg("03 0C0100"), SW_BAD_DATA);       /* reboot: none */
	CHECK_EQ(write_cfg("11 0A0F 000102030405060708090A0B0C0D0E"),
		 SW_BAD_DATA); /* 15-byte lock code */
	CHECK_EQ(write_cfg("03 080200"), SW_BAD_DATA);       /* flags cut */
	CHECK_EQ(read_enabled(), ALL);
}

static void write_refuses_unknown_and_read_only_tags(void)
{
	CHECK_EQ(select_mgmt(), SW_OK);
	CHECK_EQ(write_cfg("03 7F0100"), SW_BAD_DATA);
	CHECK_EQ(write_cfg("04 5F010100"), SW_BAD_DATA); /* two-byte tag */
	CHECK_EQ(write_cfg("06 020400000001"), SW_BAD_DATA); /* serial */
	CHECK_EQ(write_cfg("04 0102023A"), SW_BAD_DATA);     /* supported */
	CHECK_EQ(write_cfg("05 0503050701"), SW_BAD_DATA);   /* version */
	CHECK_EQ(write_cfg("03 040101"), SW_BAD_DATA);       /* form factor */
	CHECK_EQ(write_cfg("08 0302023A 0302023A"), SW_BAD_DATA); /* twice */
	CHECK_EQ(write_cfg("07 0302001A 7F0100"), SW_BAD_DATA);
	CHECK_EQ(read_enabled(), ALL); /* nothing half-applied */
}

static void write_refuses_what_vkey_does_not_have(void)
{
	CHECK_EQ(select_mgmt(), SW_OK);
	CHECK_EQ(write_cfg("04 0302023B"), SW_NOT_SUPPORTED); /* + OTP */
	CHECK_EQ(write_cfg("04 0302033A"), SW_NOT_SUPPORTED); /* + HSM auth */
	CHECK_EQ(write_cfg("04 0302823A"), SW_NOT_SUPPORTED); /* undefined */
	CHECK_EQ(write_cfg("04 0E02023A"), SW_NOT_SUPPORTED); /* NFC */
	CHECK_EQ(write_cfg("04 0602000A"), SW_NOT_SUPPORTED); /* auto-eject */
	CHECK_EQ(write_cfg("03 07010F"), SW_NOT_SUPPORTED);   /* chal-resp */
	CHECK_EQ(write_cfg("03 080180"), SW_NOT_SUPPORTED);   /* touch eject */
	CHECK_EQ(write_cfg("03 080140"), SW_NOT_SUPPORTED);   /* wakeup */
	CHECK_EQ(read_enabled(), ALL);
	/* "Off" for those is what ykman sends by default: accepted. */
	CHECK_EQ(write_cfg("0A 06020000 070100 080100"), SW_OK);
	CHECK_EQ(read_enabled(), ALL);
	/* Other P1/P2, another class. */
	CHECK_EQ(hex_apdu("001C01000403020238"), SW_BAD_P1P2);
	CHECK_EQ(hex_apdu("801C00000403020238"), SW_BAD_CLA);
	CHECK_EQ(read_enabled(), ALL);
}

/* --- the configuration lock code ---------------------------------------- */

static const char lock_hex[] = "00112233445566778899AABBCCDDEEFF";
static const char wrong_hex[] = "00112233445566778899AABBCCDDEEFE";

static int locked(void)
{
	const uint8_t *v;
	size_t len;

	if (hex_apdu("001D000000") != SW_OK || resp_len < 3)
		return -1;
	v = tlv_find(resp + 1, resp_len - 3, 0x0A, &len);
	return v != NULL && len == 1 ? v[0] : -1;
}

/* A file of the key (state or journal) holds these bytes. */
static int file_holds(const char *suffix, const uint8_t *p, size_t n)
{
	char path[200];
	FILE *f;
	uint8_t *buf;
	long len;
	int found = 0;

	snprintf(path, sizeof(path), "%s%s", tk.path, suffix);
	f = fopen(path, "rb");
	if (f == NULL)
		return 0;
	if (fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) > 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)len)) != NULL) {
		if (fread(buf, 1, (size_t)len, f) == (size_t)len)
			found = memmem(buf, (size_t)len, p, n) != NULL;
		free(buf);
	}
	fclose(f);
	return found;
}

static void lock_code_guards_writes(void)
{
	char hex[128];
	uint8_t code[16];

	check_unhex(lock_hex, code, sizeof(code));
	CHECK_EQ(select_mgmt(), SW_OK);
	CHECK_EQ(locked(), 0);
	/* Unlocked: the only current code is sixteen zeros. */
	snprintf(hex, sizeof(hex), "16 0B10%s 0302023A", wrong_hex);
	CHECK_EQ(write_cfg(hex), SW_SECURITY);
	CHECK_EQ(write_cfg("16 0B10 00000000000000000000000000000000 "
			   "0302023A"),
		 SW_OK);
	/* ykman config set-lock-code */
	snprintf(hex, sizeof(hex), "12 0A10%s", lock_hex);
	CHECK_EQ(write_cfg(hex), SW_OK);
	CHECK_EQ(locked(), 1);
	CHECK(!file_holds("", code, sizeof(code)));
	CHECK(!file_holds("-wal", code, sizeof(code)));
	/* Locked: no code, a wrong code. */
	CHECK_EQ(ykman_write(ALL & ~0x20u), SW_SECURITY);
	snprintf(hex, sizeof(hex), "19 0B10%s 0302021A 080100", wrong_hex);
	CHECK_EQ(write_cfg(hex), SW_SECURITY);
	CHECK_EQ(read_enabled(), ALL);
	/* The right one. */
	snprintf(hex, sizeof(hex), "19 0B10%s 0302021A 080100", lock_hex);
	CHECK_EQ(write_cfg(hex), SW_OK);
	CHECK_EQ(read_enabled(), ALL & ~0x20u);
	/* Survives a reopen. */
	key = check_key_reopen(&tk, VKEY_UP_AUTO);
	CHECK_EQ(select_mgmt(), SW_OK);
	CHECK_EQ(locked(), 1);
	CHECK_EQ(ykman_write(ALL), SW_SECURITY);
	/* ykman config set-lock-code --clear */
	snprintf(hex, sizeof(hex),
		 "24 0B10%s 0A10 00000000000000000000000000000000", lock_hex);
	CHECK_EQ(write_cfg(hex), SW_OK);
	CHECK_EQ(locked(), 0);
	CHECK_EQ(ykman_write(ALL), SW_OK);
}

/* The owner needs no lock code, and a factory reset of the settings
 * removes it. */
static void owner_api_and_reset(void)
{
	char err[128], hex[64];
	unsigned mask = 0;

	CHECK_EQ(select_mgmt(), SW_OK);
	snprintf(hex, sizeof(hex), "12 0A10%s", lock_hex);
	CHECK_EQ(write_cfg(hex), SW_OK);
	CHECK_EQ(vkey_set_applets(key, VKEY_TRANSPORT_USB, 0x0208, err,
				  sizeof(err)),
		 0);
	CHECK_EQ(vkey_get_applets(key, VKEY_TRANSPORT_USB, &mask), 0);
	CHECK_EQ(mask, 0x0208);
	CHECK(vkey_applet_enabled(key, VKEY_APP_OPENPGP));
	CHECK(!vkey_applet_enabled(key, VKEY_APP_PIV));
	CHECK_EQ(vkey_set_applets(key, VKEY_TRANSPORT_USB, 0x0001, err,
				  sizeof(err)),
		 -1); /* OTP */
	CHECK_EQ(vkey_set_applets(key, (enum vkey_transport)1, ALL, err,
				  sizeof(err)),
		 -1);
	CHECK_EQ(vkey_get_applets(key, (enum vkey_transport)1, &mask), -1);
	CHECK_EQ(vkey_admin_reset(key), 0);
	CHECK_EQ(select_mgmt(), SW_OK);
	CHECK_EQ(locked(), 0);
	CHECK_EQ(read_enabled(), ALL);
	CHECK_EQ(select_aid(aid_piv), SW_OK);
}

static void names_round_trip(void)
{
	static const unsigned bits[] = { VKEY_APP_U2F, VKEY_APP_FIDO2,
					 VKEY_APP_OATH, VKEY_APP_PIV,
					 VKEY_APP_OPENPGP };

	for (size_t i = 0; i < sizeof(bits) / sizeof(bits[0]); i++) {
		CHECK(vkey_app_name(bits[i]) != NULL);
		CHECK(vkey_app_display_name(bits[i]) != NULL);
		CHECK_EQ(vkey_app_from_name(vkey_app_name(bits[i])), bits[i]);
	}
	CHECK_EQ(vkey_app_from_name("OpenPGP"), VKEY_APP_OPENPGP);
	CHECK_EQ(vkey_app_from_name("otp"), 0);
	CHECK_EQ(vkey_app_from_name(NULL), 0);
	CHECK(vkey_app_name(0x0001) == NULL);
	CHECK_EQ(VKEY_APP_ALL, ALL);
}

static void status_report_names_the_switches(void)
{
	static char out[8192];
	char err[128];

	CHECK_EQ(vkey_set_applets(key, VKEY_TRANSPORT_USB, ALL & ~0x20u, err,
				  sizeof(err)),
		 0);
	CHECK(vkey_report_status(key, out, sizeof(out)) > 0);
	CHECK(strstr(out, "mgmt: applications enabled: FIDO U2F, FIDO2, "
			  "PIV, OpenPGP; disabled: OATH; configuration lock "
			  "code: none\n") != NULL);
	CHECK_EQ(vkey_set_applets(key, VKEY_TRANSPORT_USB, ALL, err,
				  sizeof(err)),
		 0);
}

int main(void)
{
	key = check_key_begin(&tk, "mgmt", VKEY_UP_AUTO);
	RUN(select_answers_vkey_name_and_version);
	RUN(version_agrees_with_piv_get_version);
	RUN(read_config_is_byte_exact);
	RUN(disabled_applets_answer_like_absent_ones);
	RUN(partial_aid_skips_a_disabled_applet);
	RUN(owner_switch_deselects_the_selected_applet);
	RUN(fido_halves_switch_separately);
	RUN(switches_persist_across_reopen);
	RUN(reboot_flag_applies_at_once);
	RUN(management_cannot_be_disabled);
	RUN(write_refuses_length_mismatch);
	RUN(write_refuses_unknown_and_read_only_tags);
	RUN(write_refuses_what_vkey_does_not_have);
	RUN(lock_code_guards_writes);
	RUN(owner_api_and_reset);
	RUN(names_round_trip);
	RUN(status_report_names_the_switches);
	check_key_end(&tk);
	return CHECK_DONE();
}
