/* Fuzz target for libcanokey-qemu: the input is a sequence of the calls
 * QEMU 7.2's canokey device makes (control transfers, OUT packets on the
 * CTAPHID and CCID endpoints, IN tokens, xhci transfers that wait for a
 * wakeup, bus resets), played by tests/canokey/fake_qemu.c on a uhci or
 * an xhci host. Any overrun of QEMU's buffers, OUT endpoint left without
 * a buffer, CTAPHID transmit while xhci handles a CTAPHID IN token (QEMU
 * 7.2 would free the transfer under itself), or sanitizer finding
 * aborts.
 *
 * Input: byte 0 bit 0 picks xhci; then operations, each an opcode byte
 * (low 3 bits) and its operands, cut short at the end of the input. */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../tests/canokey/fake_qemu.h"
#include "canokey/ck.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_OPS 256
#define CCID_BULK_MAX 512 /* what QEMU can take in one OUT transfer */
#define XHCI_TD_MAX 65546 /* libccid's read size */

enum op {
	OP_CONTROL,   /* rt req wValue wIndex wLength (LE), OUT data */
	OP_HID_OUT,   /* len % 65 (bit 7: on the last channel INIT gave), data */
	OP_CCID_OUT,  /* len (LE) % 513, data: raw bulk bytes */
	OP_IN,        /* ep, len (LE): an IN token (uhci) or transfer (xhci) */
	OP_RESET,     /* a bus reset */
	OP_CONFIGURE, /* SET_ADDRESS and SET_CONFIGURATION 1 */
	OP_CCID_MSG,  /* type seq b7 levelL levelH len, data: a framed message */
	OP_TAKE,      /* xhci: collect completed transfers */
};

/* A fuzz harness may keep the one device for the whole run. */
static char dir[64];
static bool ready;
/* The channel the last CTAPHID INIT answer allocated: channel numbers
 * go on counting across inputs, so the seeds name it this way. */
static uint8_t last_cid[4];

struct cursor {
	const uint8_t *p;
	size_t left;
};

static uint8_t get_u8(struct cursor *c)
{
	uint8_t v = 0;

	if (c->left > 0) {
		v = *c->p++;
		c->left--;
	}
	return v;
}

static uint16_t get_u16(struct cursor *c)
{
	uint16_t lo = get_u8(c);

	return (uint16_t)(lo | (uint16_t)get_u8(c) << 8);
}

/* n bytes of operand into an exact-size buffer (zero-filled past the end
 * of the input); NULL for n == 0. */
static uint8_t *take(struct cursor *c, size_t n)
{
	uint8_t *b = n > 0 ? calloc(1, n) : NULL;
	size_t k = n < c->left ? n : c->left;

	if (n > 0 && b == NULL)
		abort();
	if (k > 0)
		memcpy(b, c->p, k);
	c->p += k;
	c->left -= k;
	return b;
}

static int rm_one(const char *p, const struct stat *sb, int flag,
		  struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(p);
}

/* Registered after canokey_emu_init, so it runs before the library's own
 * exit hook: the device is closed, then its folder removed. */
static void cleanup(void)
{
	ck_close();
	if (dir[0] != '\0')
		nftw(dir, rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

static void init(void)
{
	static const char *const bases[] = { "/dev/shm", "/tmp" };
	char state[96];

	for (size_t i = 0; i < 2 && dir[0] == '\0'; i++) {
		snprintf(dir, sizeof(dir), "%s/vkey-fuzz-canokey-XXXXXX",
			 bases[i]);
		if (mkdtemp(dir) == NULL)
			dir[0] = '\0';
	}
	if (dir[0] == '\0')
		abort();
	snprintf(state, sizeof(state), "%s/k.db", dir);
	unsetenv("VKEY_CANOKEY_LOG_FILE");
	setenv("VKEY_CANOKEY_UP", "auto", 1);
	setenv("VKEY_CANOKEY_LOG_LEVEL", "error", 1);
	fq_init(FQ_UHCI);
	if (fq_realize(state) != 0)
		abort();
	atexit(cleanup);
	ready = true;
}

static void op_control(struct cursor *c)
{
	uint8_t rt = get_u8(c), req = get_u8(c);
	uint16_t value = get_u16(c), index = get_u16(c), len = get_u16(c);
	static uint8_t buf[FQ_DATA_BUF];

	if ((rt & 0x80) == 0) {
		uint8_t *d = take(c, len < FQ_DATA_BUF ? len : FQ_DATA_BUF);

		if (d != NULL)
			memcpy(buf, d, len < FQ_DATA_BUF ? len : FQ_DATA_BUF);
		free(d);
	}
	(void)fq_control(rt, req, value, index, len, buf);
}

/* An INIT answer on the broadcast channel (CTAP 2.1 §11.2.9.1.3):
 * nonce at 7, the new channel at 15. */
static void snoop(const uint8_t *rpt, int n)
{
	static const uint8_t head[] = { 0xFF, 0xFF, 0xFF, 0xFF, 0x86, 0x00,
					0x11 };

	if (n == 64 && memcmp(rpt, head, sizeof(head)) == 0)
		memcpy(last_cid, rpt + 15, sizeof(last_cid));
}

static void op_hid_out(struct cursor *c)
{
	uint8_t b = get_u8(c);
	size_t n = (size_t)(b & 0x7F) % 65;
	uint8_t *d = take(c, n);

	if ((b & 0x80) != 0 && n >= sizeof(last_cid))
		memcpy(d, last_cid, sizeof(last_cid));
	(void)fq_out(1, d, n);
	free(d);
}

static void op_out(struct cursor *c, uint8_t ep, size_t n)
{
	uint8_t *d = take(c, n);

	if (fq.hc == FQ_XHCI || n <= 64) {
		(void)fq_out(ep, d, n);
	} else {
		for (size_t off = 0; off < n; off += 64)
			(void)fq_out(ep, d + off, n - off < 64 ? n - off : 64);
	}
	free(d);
}

static void op_ccid_msg(struct cursor *c)
{
	uint8_t h[10];
	uint8_t len, *d, *m;

	h[0] = get_u8(c);
	h[5] = 0;
	h[6] = get_u8(c);
	h[7] = get_u8(c);
	h[8] = get_u8(c);
	h[9] = get_u8(c);
	len = get_u8(c);
	h[1] = len;
	h[2] = h[3] = h[4] = 0;
	d = take(c, len);
	m = malloc(10u + len);
	if (m == NULL)
		abort();
	memcpy(m, h, 10);
	if (len > 0)
		memcpy(m + 10, d, len);
	free(d);
	if (fq.hc == FQ_XHCI) {
		(void)fq_out(2, m, 10u + len);
	} else {
		for (size_t off = 0; off < 10u + len; off += 64)
			(void)fq_out(2, m + off,
				     10u + len - off < 64 ? 10u + len - off
							  : 64);
	}
	free(m);
}

static void op_in(struct cursor *c)
{
	uint8_t ep = (uint8_t)(1 + get_u8(c) % 2);
	uint16_t len = get_u16(c);
	uint8_t buf[64];

	if (fq.hc == FQ_XHCI)
		fq_xhci_submit(ep, ep == 1 ? 64 : XHCI_TD_MAX);
	else
		snoop(buf, fq_in(ep, buf, len % sizeof(buf) == 0
						  ? sizeof(buf)
						  : len % sizeof(buf)));
}

static void op_take(void)
{
	uint8_t buf[FQ_IN_SIZE];
	int st;

	for (uint8_t ep = 1; ep < FQ_EPS; ep++)
		if (fq_td_take(ep, &st, buf, sizeof(buf)) && ep == 1)
			snoop(buf, st);
}

static void op_configure(void)
{
	if (fq.hc == FQ_XHCI)
		(void)fq_xhci_address(1);
	else
		(void)fq_control(0x00, 5, 9, 0, 0, NULL);
	(void)fq_control(0x00, 9, 1, 0, 0, NULL);
}

static void run_op(struct cursor *c)
{
	switch ((enum op)(get_u8(c) & 7)) {
	case OP_CONTROL:
		op_control(c);
		break;
	case OP_HID_OUT:
		op_hid_out(c);
		break;
	case OP_CCID_OUT:
		op_out(c, 2, get_u16(c) % (CCID_BULK_MAX + 1));
		break;
	case OP_IN:
		op_in(c);
		break;
	case OP_RESET:
		fq_reset();
		break;
	case OP_CONFIGURE:
		op_configure();
		break;
	case OP_CCID_MSG:
		op_ccid_msg(c);
		break;
	case OP_TAKE:
		op_take();
		break;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cursor c = { data, size };

	if (!ready)
		init();
	fq.hc = (get_u8(&c) & 1) ? FQ_XHCI : FQ_UHCI;
	fq_reset(); /* every input starts from a bus reset */
	for (unsigned i = 0; i < MAX_OPS && c.left > 0; i++) {
		run_op(&c);
		if (fq_faulty())
			abort();
	}
	return 0;
}
