/* The CCID class driven through the USB device model as libccid drives
 * it: power on, XfrBlock APDUs, long answers in packets, time extension
 * during a touch wait, abort, and one regress case per malformed
 * message, each followed by proof that the key still works. */
#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../check.h"
#include "usb/usb.h"
#include "vkey/vkey.h"

#define IN_EP USB_EP_CCID_IN
#define OUT_EP USB_EP_CCID_OUT
#define BIG_CAP 70000 /* larger than any CCID message */

#define PowerOn 0x62
#define PowerOff 0x63
#define GetSlotStatus 0x65
#define XfrBlock 0x6F
#define DataBlock 0x80
#define SlotStatus 0x81
#define Parameters 0x82

static struct vkey *key;
static struct usb_dev *dev;
static char dir[64];
static uint8_t seq;
static uint8_t msg[BIG_CAP];
static size_t msg_len;
static int time_extensions;
static int notified;

/* --- harness ------------------------------------------------------------ */

static void count_notify(void *arg)
{
	(void)arg;
	__atomic_add_fetch(&notified, 1, __ATOMIC_SEQ_CST);
}

static void configure(void)
{
	struct usb_setup s = { 0x00, 9, 1, 0, 0 };

	CHECK_EQ(usb_dev_control(dev, &s, NULL, 0), 0);
}

static void begin_key(enum vkey_up_policy up, unsigned timeout_ms)
{
	struct vkey_options opt = { .up = up, .up_timeout_ms = timeout_ms };
	char path[128], err[256];

	snprintf(dir, sizeof(dir), "/tmp/vkey-ccid-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/state.vkey", dir);
	opt.state_path = path;
	if (vkey_open(&key, &opt, err, sizeof(err)) != 0) {
		fprintf(stderr, "vkey_open: %s\n", err);
		exit(1);
	}
	dev = usb_dev_new(key, NULL);
	if (dev == NULL)
		exit(1);
	notified = 0;
	usb_dev_set_notify(dev, count_notify, NULL);
	usb_dev_attach(dev);
	configure();
}

static void end(void)
{
	usb_dev_detach(dev);
	usb_dev_free(dev);
	dev = NULL;
	vkey_close(key);
	key = NULL;
	check_rmtree(dir);
}

static long now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

static size_t build(uint8_t *b, uint8_t type, uint8_t slot, uint8_t s,
		    uint8_t p7, uint16_t level, const uint8_t *data,
		    size_t len)
{
	b[0] = type;
	b[1] = (uint8_t)len;
	b[2] = (uint8_t)(len >> 8);
	b[3] = (uint8_t)(len >> 16);
	b[4] = (uint8_t)(len >> 24);
	b[5] = slot;
	b[6] = s;
	b[7] = p7;
	b[8] = (uint8_t)level;
	b[9] = (uint8_t)(level >> 8);
	if (len > 0)
		memcpy(b + 10, data, len);
	return 10 + len;
}

/* Bytes as a host sends them: packets of `packet` bytes (a transport
 * that moves whole transfers passes everything at once). */
static void send_bytes(const uint8_t *b, size_t n, size_t packet)
{
	size_t off = 0;

	do {
		size_t k = n - off < packet ? n - off : packet;
		CHECK_EQ(usb_dev_out(dev, OUT_EP, b + off, k), 0);
		off += k;
	} while (off < n);
}

static uint8_t send_msg_full(uint8_t type, uint8_t slot, uint8_t p7,
			     uint16_t level, const uint8_t *data, size_t len,
			     size_t packet)
{
	static uint8_t b[BIG_CAP];
	uint8_t s = seq++;

	send_bytes(b, build(b, type, slot, s, p7, level, data, len), packet);
	return s;
}

static uint8_t send_msg(uint8_t type, const uint8_t *data, size_t len)
{
	return send_msg_full(type, 0, 0, 0, data, len, USB_MAX_PACKET);
}

/* One whole message from IN, in pieces of cap bytes: a short piece (or
 * a zero-length packet) ends it. Returns its length, 0 on timeout. */
static size_t recv_msg(size_t cap, long timeout_ms)
{
	long until = now_ms() + timeout_ms;
	size_t n = 0;

	for (;;) {
		int r = usb_dev_in(dev, IN_EP, msg + n, cap);
		if (r == USB_NAK) {
			if (now_ms() > until)
				return 0;
			usleep(1000);
			continue;
		}
		CHECK(r >= 0);
		if (r < 0)
			return 0;
		n += (size_t)r;
		if ((size_t)r < cap)
			break;
	}
	CHECK(n >= 10);
	CHECK_EQ(n, 10 + (size_t)(msg[1] | msg[2] << 8 | msg[3] << 16 |
				  msg[4] << 24));
	msg_len = n;
	return n;
}

/* The answer to a command, skipping time extensions (counted). */
static size_t recv_answer(size_t cap, long timeout_ms)
{
	time_extensions = 0;
	for (;;) {
		size_t n = recv_msg(cap, timeout_ms);
		if (n == 0 || msg[0] != DataBlock || (msg[7] & 0xC0) != 0x80)
			return n;
		CHECK_EQ(n, 10);
		CHECK_EQ(msg[8], 1); /* BWT multiplier */
		time_extensions++;
	}
}

static void expect(uint8_t type, uint8_t s, uint8_t status, uint8_t error)
{
	CHECK(recv_answer(USB_MAX_PACKET, 2000) >= 10);
	CHECK_EQ(msg[0], type);
	CHECK_EQ(msg[6], s);
	CHECK_EQ(msg[7], status);
	CHECK_EQ(msg[8], error);
}

static void expect_nothing(void)
{
	uint8_t b[64];

	CHECK_EQ(usb_dev_in(dev, IN_EP, b, sizeof(b)), USB_NAK);
}

static void power_on(void)
{
	uint8_t s = send_msg(PowerOn, NULL, 0);

	expect(DataBlock, s, 0x00, 0);
}

/* An APDU through XfrBlock; returns SW, response data in msg + 10. */
static unsigned apdu_cap(const uint8_t *cmd, size_t n, size_t cap)
{
	uint8_t s = send_msg_full(XfrBlock, 0, 0, 0, cmd, n, USB_MAX_PACKET);

	CHECK(recv_answer(cap, 5000) >= 12);
	CHECK_EQ(msg[0], DataBlock);
	CHECK_EQ(msg[6], s);
	CHECK_EQ(msg[7], 0);
	CHECK_EQ(msg[9], 0); /* bChainParameter: whole */
	return (unsigned)(msg[msg_len - 2] << 8 | msg[msg_len - 1]);
}

static unsigned apdu(const uint8_t *cmd, size_t n)
{
	return apdu_cap(cmd, n, USB_MAX_PACKET);
}

static const uint8_t select_oath[] = { 0x00, 0xA4, 0x04, 0x00, 0x07,
				       0xA0, 0x00, 0x00, 0x05, 0x27,
				       0x21, 0x01 };

static void key_still_works(void)
{
	uint8_t s = send_msg(GetSlotStatus, NULL, 0);

	expect(SlotStatus, s, 0x00, 0);
	CHECK_EQ(apdu(select_oath, sizeof(select_oath)), 0x9000);
}

/* OATH PUT of a TOTP account (name, 20-byte key, optional touch). */
static unsigned put_account(const char *name, int touch)
{
	uint8_t b[300];
	size_t nl = strlen(name), n = 0;

	b[n++] = 0x00;
	b[n++] = 0x01;
	b[n++] = 0x00;
	b[n++] = 0x00;
	b[n++] = (uint8_t)(2 + nl + 2 + 22 + (touch ? 2 : 0));
	b[n++] = 0x71;
	b[n++] = (uint8_t)nl;
	memcpy(b + n, name, nl);
	n += nl;
	b[n++] = 0x73;
	b[n++] = 22;
	b[n++] = 0x21; /* TOTP SHA-1 */
	b[n++] = 6;
	memcpy(b + n, "12345678901234567890", 20);
	n += 20;
	if (touch) {
		b[n++] = 0x78;
		b[n++] = 0x02;
	}
	return apdu(b, n);
}

static uint8_t send_calculate(const char *name)
{
	uint8_t b[128];
	size_t nl = strlen(name), n = 0;

	b[n++] = 0x00;
	b[n++] = 0xA2;
	b[n++] = 0x00;
	b[n++] = 0x01;
	b[n++] = (uint8_t)(2 + nl + 10);
	b[n++] = 0x71;
	b[n++] = (uint8_t)nl;
	memcpy(b + n, name, nl);
	n += nl;
	b[n++] = 0x74;
	b[n++] = 8;
	memset(b + n, 0, 8);
	b[n + 7] = 1;
	n += 8;
	return send_msg_full(XfrBlock, 0, 0, 0, b, n, USB_MAX_PACKET);
}

/* LIST as an extended APDU (Le 0000): the whole list in one answer. */
static const uint8_t list_ext[] = { 0x00, 0xA1, 0x00, 0x00, 0x00, 0x00,
				    0x00 };

/* --- the basics --------------------------------------------------------- */

static void power_on_returns_atr(void)
{
	uint8_t atr[64];
	size_t n;
	uint8_t s;

	begin_key(VKEY_UP_AUTO, 0);
	n = vkey_atr(key, atr, sizeof(atr));
	s = send_msg(PowerOn, NULL, 0);
	expect(DataBlock, s, 0x00, 0);
	CHECK_EQ(msg_len, 10 + n);
	CHECK_MEM(msg + 10, atr, n);
	s = send_msg(GetSlotStatus, NULL, 0);
	expect(SlotStatus, s, 0x00, 0);
	/* a second power on is a warm reset: the ATR again */
	s = send_msg(PowerOn, NULL, 0);
	expect(DataBlock, s, 0x00, 0);
	CHECK_MEM(msg + 10, atr, n);
	s = send_msg(PowerOff, NULL, 0);
	expect(SlotStatus, s, 0x01, 0); /* present, inactive */
	expect_nothing();
	end();
}

static void select_oath_answers_9000(void)
{
	begin_key(VKEY_UP_AUTO, 0);
	power_on();
	CHECK_EQ(apdu(select_oath, sizeof(select_oath)), 0x9000);
	CHECK(msg_len > 12); /* version, name, ... */
	CHECK(__atomic_load_n(&notified, __ATOMIC_SEQ_CST) > 0);
	end();
}

/* A long answer comes back intact in 64-byte pieces and in one piece,
 * and equals what the core answers directly. */
static void long_response_in_packets_and_whole(void)
{
	static uint8_t direct[VKEY_APDU_MAX];
	size_t direct_len = 0;
	char name[70];

	begin_key(VKEY_UP_AUTO, 0);
	power_on();
	CHECK_EQ(apdu(select_oath, sizeof(select_oath)), 0x9000);
	for (int i = 0; i < 120; i++) {
		snprintf(name, sizeof(name), "%03d-%s", i,
			 "account-with-a-long-name@example.org/issuer-x");
		CHECK_EQ(put_account(name, 0), 0x9000);
	}
	CHECK_EQ(apdu_cap(list_ext, sizeof(list_ext), USB_MAX_PACKET),
		 0x9000);
	CHECK(msg_len > 4000);
	size_t packets_len = msg_len;
	static uint8_t packets[BIG_CAP];
	memcpy(packets, msg, msg_len);
	CHECK_EQ(apdu_cap(list_ext, sizeof(list_ext), BIG_CAP), 0x9000);
	CHECK_EQ(msg_len, packets_len);
	CHECK_MEM(msg + 10, packets + 10, msg_len - 10);
	/* the same through the core directly */
	CHECK_EQ(vkey_apdu(key, select_oath, sizeof(select_oath), direct,
			   sizeof(direct), &direct_len), 0);
	CHECK_EQ(vkey_apdu(key, list_ext, sizeof(list_ext), direct,
			   sizeof(direct), &direct_len), 0);
	CHECK_EQ(direct_len, msg_len - 10);
	CHECK_MEM(direct, msg + 10, direct_len);
	end();
}

/* A 64-byte answer (10 + LIST of one 49-byte name + SW) ends with a
 * full packet: a zero-length packet closes it for a packet transport;
 * a whole-transfer transport gets it in one piece and no ZLP. */
static void answer_on_packet_boundary_gets_zlp(void)
{
	char name[50];
	uint8_t b[BIG_CAP];
	uint8_t s;

	memset(name, 'z', 49);
	name[49] = '\0';
	begin_key(VKEY_UP_AUTO, 0);
	power_on();
	CHECK_EQ(apdu(select_oath, sizeof(select_oath)), 0x9000);
	CHECK_EQ(put_account(name, 0), 0x9000);
	s = send_msg(XfrBlock, list_ext, sizeof(list_ext));
	long until = now_ms() + 2000;
	int r;
	while ((r = usb_dev_in(dev, IN_EP, b, 64)) == USB_NAK &&
	       now_ms() < until)
		usleep(1000);
	CHECK_EQ(r, 64);
	CHECK_EQ(b[6], s);
	CHECK_EQ(b[1], 54);
	CHECK_EQ(usb_dev_in(dev, IN_EP, b, 64), 0); /* ZLP */
	expect_nothing();
	s = send_msg(XfrBlock, list_ext, sizeof(list_ext));
	until = now_ms() + 2000;
	while ((r = usb_dev_in(dev, IN_EP, b, sizeof(b))) == USB_NAK &&
	       now_ms() < until)
		usleep(1000);
	CHECK_EQ(r, 64);
	expect_nothing();
	end();
}

/* A command in one transfer, and an odd packet split. */
static void command_in_one_transfer(void)
{
	uint8_t s;

	begin_key(VKEY_UP_AUTO, 0);
	s = send_msg_full(PowerOn, 0, 0, 0, NULL, 0, 4096);
	expect(DataBlock, s, 0, 0);
	s = send_msg_full(XfrBlock, 0, 0, 0, select_oath, sizeof(select_oath),
			  4096);
	expect(DataBlock, s, 0, 0);
	CHECK_EQ(msg[msg_len - 2], 0x90);
	end();
}

/* §6.1.4: an extended APDU spread over XfrBlocks with wLevelParameter
 * 1, 3, 2; each part but the last is acknowledged by an empty DataBlock
 * with bChainParameter 0x10. */
static void extended_apdu_chained_by_wlevelparameter(void)
{
	static uint8_t cmd[3000];
	size_t n = 0, part = 1000;
	uint8_t s;

	begin_key(VKEY_UP_AUTO, 0);
	power_on();
	CHECK_EQ(apdu(select_oath, sizeof(select_oath)), 0x9000);
	/* PUT with an over-long name: the applet answers an error, which
	 * proves the whole command arrived (else a parse error). */
	cmd[n++] = 0x00;
	cmd[n++] = 0xA4;
	cmd[n++] = 0x04;
	cmd[n++] = 0x00;
	cmd[n++] = 0x00;
	cmd[n++] = 0x0B;
	cmd[n++] = 0xB0; /* Lc 2992 */
	memset(cmd + n, 0xA5, 2992);
	n += 2992;
	CHECK_EQ(n, sizeof(cmd) - 1);
	s = send_msg_full(XfrBlock, 0, 0, 0x0001, cmd, part, 64);
	expect(DataBlock, s, 0, 0);
	CHECK_EQ(msg_len, 10);
	CHECK_EQ(msg[9], 0x10);
	s = send_msg_full(XfrBlock, 0, 0, 0x0003, cmd + part, part, 64);
	expect(DataBlock, s, 0, 0);
	CHECK_EQ(msg[9], 0x10);
	s = send_msg_full(XfrBlock, 0, 0, 0x0002, cmd + 2 * part, n - 2 * part,
			  64);
	expect(DataBlock, s, 0, 0);
	CHECK_EQ(msg[9], 0);
	CHECK_EQ(msg_len, 12);
	/* the dispatcher saw 2999 bytes: a SELECT of an unknown AID */
	CHECK(msg[10] == 0x6A || msg[10] == 0x67);
	key_still_works();
	end();
}

static void parameters_get_set_reset(void)
{
	static const uint8_t t1[7] = { 0x11, 0x10, 0x00, 0x4D, 0x00, 0x20,
				       0x00 };
	uint8_t s;

	begin_key(VKEY_UP_AUTO, 0);
	s = send_msg(0x6C, NULL, 0);
	expect(Parameters, s, 0x01, 0);
	CHECK_EQ(msg[9], 1); /* T=1 */
	CHECK_EQ(msg_len, 17);
	CHECK_EQ(msg[10], 0x13);
	CHECK_EQ(msg[15], 0xFE);
	s = send_msg_full(0x61, 0, 1, 0, t1, sizeof(t1), 64);
	expect(Parameters, s, 0x01, 0);
	CHECK_MEM(msg + 10, t1, sizeof(t1));
	s = send_msg(0x6C, NULL, 0);
	expect(Parameters, s, 0x01, 0);
	CHECK_MEM(msg + 10, t1, sizeof(t1));
	s = send_msg(0x6D, NULL, 0);
	expect(Parameters, s, 0x01, 0);
	CHECK_EQ(msg[10], 0x13);
	end();
}

static void clock_and_data_rate(void)
{
	uint8_t rate[8] = { 0xA0, 0x0F, 0, 0, 0x02, 0xA8, 0, 0 }; /* 43010 */
	struct usb_setup s = { 0xA1, 0x02, 0, USB_IF_CCID, 64 };
	uint8_t b[64];
	uint8_t q;

	begin_key(VKEY_UP_AUTO, 0);
	CHECK_EQ(usb_dev_control(dev, &s, b, sizeof(b)), 4);
	CHECK_EQ(b[0] | b[1] << 8, 4000);
	s.bRequest = 0x03;
	CHECK_EQ(usb_dev_control(dev, &s, b, sizeof(b)), 8);
	CHECK_EQ(b[0] | b[1] << 8, 10752);
	CHECK_EQ(b[4] | b[5] << 8 | b[6] << 16, 43010);
	q = send_msg(0x6E, NULL, 0); /* IccClock restart */
	expect(SlotStatus, q, 0x01, 0);
	q = send_msg(0x73, rate, sizeof(rate));
	expect(0x84, q, 0x01, 0);
	CHECK_EQ(msg_len, 18);
	CHECK_EQ(msg[14] | msg[15] << 8 | msg[16] << 16, 43010);
	end();
}

/* --- time extension, busy, abort ----------------------------------------- */

static void prompt_key_with_touch_account(unsigned timeout_ms)
{
	begin_key(VKEY_UP_PROMPT, timeout_ms);
	power_on();
	CHECK_EQ(apdu(select_oath, sizeof(select_oath)), 0x9000);
	CHECK_EQ(put_account("t", 1), 0x9000);
}

/* Nobody touches: time extensions until the wait times out, then the
 * real answer (6982) replaces them. */
static void time_extension_while_touch_times_out(void)
{
	uint8_t s;
	int before;

	prompt_key_with_touch_account(1300);
	before = __atomic_load_n(&notified, __ATOMIC_SEQ_CST);
	s = send_calculate("t");
	CHECK(recv_answer(USB_MAX_PACKET, 5000) >= 12);
	CHECK(time_extensions >= 2);
	CHECK(__atomic_load_n(&notified, __ATOMIC_SEQ_CST) - before >=
	      time_extensions);
	CHECK_EQ(msg[6], s);
	CHECK_EQ(msg[7], 0);
	CHECK_EQ(msg[msg_len - 2], 0x69);
	CHECK_EQ(msg[msg_len - 1], 0x82);
	key_still_works();
	end();
}

static void *touch_later(void *arg)
{
	(void)arg;
	usleep(800 * 1000);
	CHECK_EQ(vkey_touch(key, 3000), 0);
	return NULL;
}

/* A touch from another thread: time extensions, then the code. */
static void time_extension_then_answer_after_touch(void)
{
	pthread_t t;
	uint8_t s;

	prompt_key_with_touch_account(5000);
	pthread_create(&t, NULL, touch_later, NULL);
	s = send_calculate("t");
	CHECK(recv_answer(USB_MAX_PACKET, 6000) >= 12);
	pthread_join(t, NULL);
	CHECK(time_extensions >= 1);
	CHECK_EQ(msg[6], s);
	CHECK_EQ(msg[msg_len - 2], 0x90);
	CHECK_EQ(msg_len, 10 + 7 + 2); /* 76 05 digits code */
	end();
}

static void regress_busy_slot_answers_cmd_slot_busy(void)
{
	uint8_t calc, s;

	prompt_key_with_touch_account(1200);
	calc = send_calculate("t");
	usleep(100 * 1000);
	s = send_msg(GetSlotStatus, NULL, 0);
	expect(SlotStatus, s, 0x40, 0xE0); /* CMD_SLOT_BUSY */
	s = send_msg(XfrBlock, select_oath, sizeof(select_oath));
	expect(DataBlock, s, 0x40, 0xE0);
	CHECK(recv_answer(USB_MAX_PACKET, 5000) >= 12);
	CHECK_EQ(msg[6], calc);
	CHECK_EQ(msg[msg_len - 2], 0x69);
	key_still_works();
	end();
}

/* §5.3.1: ABORT on the control pipe, then PC_to_RDR_Abort. The aborted
 * command fails with CMD_ABORTED, messages in between too, and no
 * stale answer follows. */
static void regress_abort_during_touch_wait(void)
{
	struct usb_setup ab = { 0x21, 0x01, 0, USB_IF_CCID, 0 };
	uint8_t calc, s;

	prompt_key_with_touch_account(5000);
	calc = send_calculate("t");
	CHECK_EQ(recv_msg(USB_MAX_PACKET, 2000), 10); /* a time extension */
	CHECK_EQ(msg[7], 0x80);
	ab.wValue = (uint16_t)(calc << 8);
	CHECK_EQ(usb_dev_control(dev, &ab, NULL, 0), 0);
	expect(DataBlock, calc, 0x40, 0xFF);
	s = send_msg(GetSlotStatus, NULL, 0);
	expect(SlotStatus, s, 0x40, 0xFF);
	s = send_msg_full(0x72, 0, 0, 0, NULL, 0, 64);
	expect(SlotStatus, s, 0x00, 0);
	usleep(300 * 1000); /* the cancelled wait ends; nothing comes */
	expect_nothing();
	key_still_works();
	ab.wValue = 0x0001; /* slot 1 does not exist */
	CHECK_EQ(usb_dev_control(dev, &ab, NULL, 0), USB_STALL);
	end();
}

static void regress_usb_reset_during_command(void)
{
	prompt_key_with_touch_account(5000);
	send_calculate("t");
	CHECK_EQ(recv_msg(USB_MAX_PACKET, 2000), 10);
	usb_dev_reset(dev);
	configure();
	usleep(300 * 1000);
	expect_nothing();
	power_on();
	key_still_works();
	end();
}

/* --- malformed messages ------------------------------------------------- */

static void begin_powered(void)
{
	begin_key(VKEY_UP_AUTO, 0);
	power_on();
}

static void regress_bad_slot(void)
{
	uint8_t s;

	begin_powered();
	s = send_msg_full(GetSlotStatus, 1, 0, 0, NULL, 0, 64);
	expect(SlotStatus, s, 0x42, 5); /* failed, no ICC; bSlot */
	s = send_msg_full(XfrBlock, 7, 0, 0, select_oath, sizeof(select_oath),
			  64);
	expect(DataBlock, s, 0x42, 5);
	key_still_works();
	end();
}

static void regress_chain_continuation_without_begin(void)
{
	uint8_t s;

	begin_powered();
	s = send_msg_full(XfrBlock, 0, 0, 0x0002, select_oath, 4, 64);
	expect(DataBlock, s, 0x40, 8); /* wLevelParameter */
	s = send_msg_full(XfrBlock, 0, 0, 0x0003, select_oath, 4, 64);
	expect(DataBlock, s, 0x40, 8);
	s = send_msg_full(XfrBlock, 0, 0, 0x0007, select_oath, 4, 64);
	expect(DataBlock, s, 0x40, 8);
	key_still_works();
	end();
}

static void regress_response_continuation_without_chain(void)
{
	uint8_t s;

	begin_powered();
	s = send_msg_full(XfrBlock, 0, 0, 0x0010, NULL, 0, 64);
	expect(DataBlock, s, 0x40, 8);
	key_still_works();
	end();
}

/* A new chain restarts cleanly after an unfinished one. */
static void regress_chain_begin_twice(void)
{
	uint8_t s;

	begin_powered();
	s = send_msg_full(XfrBlock, 0, 0, 0x0001, select_oath, 5, 64);
	expect(DataBlock, s, 0, 0);
	s = send_msg_full(XfrBlock, 0, 0, 0x0000, select_oath,
			  sizeof(select_oath), 64);
	expect(DataBlock, s, 0x40, 8); /* still chaining: rejected */
	s = send_msg_full(XfrBlock, 0, 0, 0x0001, select_oath, 5, 64);
	expect(DataBlock, s, 0, 0);
	s = send_msg_full(XfrBlock, 0, 0, 0x0002, select_oath + 5,
			  sizeof(select_oath) - 5, 64);
	expect(DataBlock, s, 0, 0);
	CHECK_EQ(msg[msg_len - 2], 0x90);
	key_still_works();
	end();
}

static void regress_unknown_message_type(void)
{
	uint8_t s;

	begin_powered();
	s = send_msg(0x99, NULL, 0);
	expect(SlotStatus, s, 0x40, 0x00); /* CMD_NOT_SUPPORTED */
	s = send_msg(0x00, select_oath, 3);
	expect(SlotStatus, s, 0x40, 0x00);
	key_still_works();
	end();
}

static void regress_unsupported_messages(void)
{
	static const uint8_t types[] = { 0x6B, 0x69, 0x71, 0x6A };
	static const uint8_t answers[] = { 0x83, DataBlock, SlotStatus,
					   SlotStatus };
	uint8_t s;

	begin_powered();
	for (size_t i = 0; i < sizeof(types); i++) {
		s = send_msg(types[i], select_oath, 5);
		expect(answers[i], s, 0x40, 0x00);
	}
	key_still_works();
	end();
}

/* dwLength beyond dwMaxCCIDMessageLength: answered at once, the rest of
 * the transfer dropped, never stored. */
static void regress_oversize_dwlength(void)
{
	uint8_t b[256];
	uint8_t s = seq++;

	begin_powered();
	memset(b, 0x41, sizeof(b));
	build(b, XfrBlock, 0, s, 0, 0, NULL, 0);
	b[1] = 0x00;
	b[2] = 0x00;
	b[3] = 0x10; /* 1 MiB */
	send_bytes(b, 64, 64);
	send_bytes(b + 64, 64, 64);
	send_bytes(b + 128, 20, 64); /* short packet: transfer ends */
	expect(DataBlock, s, 0x40, 1); /* dwLength */
	expect_nothing();
	key_still_works();
	end();
}

static void regress_truncated_message(void)
{
	uint8_t b[128];
	uint8_t s = seq++;

	begin_powered();
	build(b, XfrBlock, 0, s, 0, 0, select_oath, sizeof(select_oath));
	b[1] = 100; /* claims 100 bytes, 12 follow */
	send_bytes(b, 10 + sizeof(select_oath), 64);
	expect(DataBlock, s, 0x40, 1);
	/* a lone short header fragment is dropped silently */
	send_bytes(b, 5, 64);
	expect_nothing();
	key_still_works();
	end();
}

static void regress_bytes_past_dwlength(void)
{
	uint8_t b[128];
	uint8_t s = seq++;

	begin_powered();
	memset(b, 0, sizeof(b));
	build(b, GetSlotStatus, 0, s, 0, 0, NULL, 0);
	b[1] = 2;
	send_bytes(b, 30, 64); /* 2 data bytes claimed, 20 sent */
	expect(SlotStatus, s, 0x40, 1);
	expect_nothing();
	key_still_works();
	end();
}

static void regress_xfr_block_when_powered_off(void)
{
	uint8_t s;

	begin_key(VKEY_UP_AUTO, 0);
	s = send_msg(XfrBlock, select_oath, sizeof(select_oath));
	expect(DataBlock, s, 0x41, 0xFE); /* ICC_MUTE, inactive */
	power_on();
	key_still_works();
	end();
}

static void regress_bad_power_select(void)
{
	uint8_t s;

	begin_key(VKEY_UP_AUTO, 0);
	s = send_msg_full(PowerOn, 0, 7, 0, NULL, 0, 64);
	expect(DataBlock, s, 0x41, 7); /* bPowerSelect */
	power_on();
	key_still_works();
	end();
}

static void regress_set_parameters_t0(void)
{
	static const uint8_t t0[5] = { 0x11, 0x00, 0x00, 0x0A, 0x00 };
	static const uint8_t t1_nad[7] = { 0x11, 0x10, 0, 0x15, 0, 0xFE, 1 };
	uint8_t s;

	begin_powered();
	s = send_msg_full(0x61, 0, 0, 0, t0, sizeof(t0), 64);
	expect(Parameters, s, 0x40, 7); /* bProtocolNum */
	s = send_msg_full(0x61, 0, 1, 0, t0, sizeof(t0), 64);
	expect(Parameters, s, 0x40, 1); /* T=1 needs 7 bytes */
	s = send_msg_full(0x61, 0, 1, 0, t1_nad, sizeof(t1_nad), 64);
	expect(Parameters, s, 0x40, 16); /* bNadValue */
	key_still_works();
	end();
}

static void regress_bad_clock_command(void)
{
	uint8_t s;

	begin_powered();
	s = send_msg_full(0x6E, 0, 1, 0, NULL, 0, 64); /* stop */
	expect(SlotStatus, s, 0x40, 7);
	key_still_works();
	end();
}

int main(void)
{
	RUN(power_on_returns_atr);
	RUN(select_oath_answers_9000);
	RUN(long_response_in_packets_and_whole);
	RUN(answer_on_packet_boundary_gets_zlp);
	RUN(command_in_one_transfer);
	RUN(extended_apdu_chained_by_wlevelparameter);
	RUN(parameters_get_set_reset);
	RUN(clock_and_data_rate);
	RUN(time_extension_while_touch_times_out);
	RUN(time_extension_then_answer_after_touch);
	RUN(regress_busy_slot_answers_cmd_slot_busy);
	RUN(regress_abort_during_touch_wait);
	RUN(regress_usb_reset_during_command);
	RUN(regress_bad_slot);
	RUN(regress_chain_continuation_without_begin);
	RUN(regress_response_continuation_without_chain);
	RUN(regress_chain_begin_twice);
	RUN(regress_unknown_message_type);
	RUN(regress_unsupported_messages);
	RUN(regress_oversize_dwlength);
	RUN(regress_truncated_message);
	RUN(regress_bytes_past_dwlength);
	RUN(regress_xfr_block_when_powered_off);
	RUN(regress_bad_power_select);
	RUN(regress_set_parameters_t0);
	RUN(regress_bad_clock_command);
	return CHECK_DONE();
}
