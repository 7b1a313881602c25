/* libcanokey-qemu driven through its six exported functions the way QEMU
 * 7.2's hw/usb/canokey.c drives it (fake_qemu.c), on a uhci or an xhci
 * host (host.c). One case per process: the ABI allows one device per
 * process. Usage: test_canokey CASE uhci|xhci. */
#include <cbor.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../check.h"
#include <canokey-qemu.h>
#include "fake_qemu.h"
#include "host.h"

extern char **environ;

#define BUF (65536 + 64)
#define SW_OK 0x9000
#define CTAP2_OK 0x00
#define CTAP2_ERR_OPERATION_DENIED 0x27
#define CTAPHID_PING 0x01
#define CTAPHID_CBOR 0x10
#define CTAPHID_ERROR 0x3F

static struct host H;
static char dir[64], state[128];
static enum fq_hc hc = FQ_UHCI;
static uint8_t resp[BUF];

/* --- set-up ------------------------------------------------------------- */

/* Runs after the library's own exit hook (registered later), so the key
 * is closed before its folder goes. */
static void remove_dir(void)
{
	if (dir[0] != '\0')
		check_rmtree(dir);
}

static void make_dir(void)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(dir, sizeof(dir), "%s/vkey-ck-XXXXXX",
		 tmp != NULL && strlen(tmp) < 32 ? tmp : "/tmp");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(2);
	}
	snprintf(state, sizeof(state), "%s/k.db", dir);
	atexit(remove_dir);
}

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	if (f == NULL) {
		perror(path);
		exit(2);
	}
	fputs(text, f);
	fclose(f);
}

static void write_conf(const char *text)
{
	char p[160];

	snprintf(p, sizeof(p), "%s.conf", state);
	write_file(p, text);
}

/* Realize the device on `path` and enumerate it. */
static int plug(const char *path)
{
	fq_init(hc);
	if (fq_realize(path) != 0)
		return -1;
	host_init(&H, hc);
	return host_enumerate(&H);
}

/* What every case ends with: QEMU never overran, the host saw no bad
 * transfer and never waited forever. */
static void check_wire(void)
{
	CHECK(!fq_faulty());
	CHECK(host_ok(&H));
}

/* --- CTAP helpers ------------------------------------------------------- */

/* makeCredential ES256 for a.example (CTAP 2.1 §6.1). */
static size_t make_credential(uint8_t *req)
{
	static const uint8_t head[] = { 0x01, 0xA4, 0x01, 0x58, 0x20 };
	static const uint8_t tail[] = {
		0x02, 0xA1, 0x62, 'i', 'd', 0x69, 'a', '.', 'e', 'x', 'a',
		'm', 'p', 'l', 'e',
		0x03, 0xA1, 0x62, 'i', 'd', 0x41, 0x01,
		0x04, 0x81, 0xA2, 0x63, 'a', 'l', 'g', 0x26, 0x64, 't', 'y',
		'p', 'e', 0x6A, 'p', 'u', 'b', 'l', 'i', 'c', '-', 'k', 'e',
		'y',
	};

	memcpy(req, head, sizeof(head));
	memset(req + sizeof(head), 0x11, 32);
	memcpy(req + sizeof(head) + 32, tail, sizeof(tail));
	return sizeof(head) + 32 + sizeof(tail);
}

/* The value under an unsigned key of a CBOR map, or NULL. */
static cbor_item_t *map_get(cbor_item_t *map, uint64_t key)
{
	struct cbor_pair *p;

	if (map == NULL || !cbor_isa_map(map))
		return NULL;
	p = cbor_map_handle(map);
	for (size_t i = 0; i < cbor_map_size(map); i++)
		if (cbor_isa_uint(p[i].key) && cbor_get_int(p[i].key) == key)
			return p[i].value;
	return NULL;
}

static cbor_item_t *load_cbor(const uint8_t *b, size_t n)
{
	struct cbor_load_result res;
	cbor_item_t *it = cbor_load(b, n, &res);

	if (it != NULL && res.read != n) {
		cbor_decref(&it);
		return NULL;
	}
	return it;
}

static bool has_version(cbor_item_t *versions, const char *v)
{
	if (versions == NULL || !cbor_isa_array(versions))
		return false;
	for (size_t i = 0; i < cbor_array_size(versions); i++) {
		cbor_item_t *s = cbor_array_handle(versions)[i];

		if (cbor_isa_string(s) && cbor_string_length(s) == strlen(v) &&
		    memcmp(cbor_string_handle(s), v, strlen(v)) == 0)
			return true;
	}
	return false;
}

/* A CBOR command on a fresh channel; the status byte, or -1. */
static int cbor_cmd(const uint8_t *req, size_t len, size_t *rlen)
{
	uint32_t cid;

	if (ctaphid_init(&H, &cid) != 0 ||
	    ctaphid_xfer(&H, cid, CTAPHID_CBOR, req, len, resp, sizeof(resp),
			 rlen) != CTAPHID_CBOR || *rlen < 1)
		return -1;
	return resp[0];
}

/* makeCredential; its status, and the authData flags when it worked. */
static int make_cred_status(uint8_t *flags)
{
	uint8_t req[256];
	size_t n = make_credential(req), rlen;
	int st = cbor_cmd(req, n, &rlen);
	cbor_item_t *m, *ad;

	if (st != CTAP2_OK)
		return st;
	m = load_cbor(resp + 1, rlen - 1);
	ad = map_get(m, 2); /* authData */
	if (ad != NULL && cbor_isa_bytestring(ad) &&
	    cbor_bytestring_length(ad) > 32)
		*flags = cbor_bytestring_handle(ad)[32];
	else
		st = -1;
	if (m != NULL)
		cbor_decref(&m);
	return st;
}

/* --- CCID helpers ------------------------------------------------------- */

static unsigned apdu(const char *hex, size_t *rlen)
{
	static uint8_t cmd[BUF];
	size_t n = check_unhex(hex, cmd, sizeof(cmd));

	*rlen = 0;
	if (ccid_apdu(&H, cmd, n, resp, sizeof(resp), rlen) != 0 || *rlen < 2)
		return 0;
	return (unsigned)resp[*rlen - 2] << 8 | resp[*rlen - 1];
}

static unsigned apdu_bytes(const uint8_t *cmd, size_t n, size_t *rlen)
{
	*rlen = 0;
	if (ccid_apdu(&H, cmd, n, resp, sizeof(resp), rlen) != 0 || *rlen < 2)
		return 0;
	return (unsigned)resp[*rlen - 2] << 8 | resp[*rlen - 1];
}

static int power_on(void)
{
	uint8_t m[128];
	int n = ccid_msg(&H, 0x62, 0, 0, NULL, 0, m, sizeof(m));

	return n > 10 && m[0] == 0x80 && m[10] == 0x3B ? 0 : -1;
}

#define OATH_SELECT "00A4040007A0000005272101"

/* OATH PUT of a TOTP SHA-1 credential named name with a fixed secret. */
static unsigned oath_put(const char *name)
{
	static const uint8_t secret[20] = { 0x4B, 0x1D, 0xE5, 0xC0, 0xFF,
					    0xEE, 0x12, 0x34, 0x56, 0x78,
					    0x9A, 0xBC, 0xDE, 0xF0, 0x13,
					    0x57, 0x9B, 0xDF, 0x24, 0x68 };
	uint8_t cmd[128];
	size_t nl = strlen(name), n = 0, rlen;

	cmd[n++] = 0x00;
	cmd[n++] = 0x01;
	cmd[n++] = 0x00;
	cmd[n++] = 0x00;
	cmd[n++] = (uint8_t)(2 + nl + 2 + 2 + sizeof(secret));
	cmd[n++] = 0x71;
	cmd[n++] = (uint8_t)nl;
	memcpy(cmd + n, name, nl);
	n += nl;
	cmd[n++] = 0x73;
	cmd[n++] = (uint8_t)(2 + sizeof(secret));
	cmd[n++] = 0x21; /* TOTP, SHA-1 */
	cmd[n++] = 6;
	memcpy(cmd + n, secret, sizeof(secret));
	n += sizeof(secret);
	return apdu_bytes(cmd, n, &rlen);
}

static bool oath_lists(const char *name)
{
	size_t rlen;

	if (apdu("00A1000000", &rlen) != SW_OK)
		return false;
	return memmem(resp, rlen, name, strlen(name)) != NULL;
}

/* --- cases -------------------------------------------------------------- */

static int power_on(void);

/* One IN token on an idle endpoint: FQ_NAK (xhci: the transfer waits,
 * and is dropped here), FQ_STALL or a byte count. */
static int in_status(uint8_t ep)
{
	uint8_t b[HOST_RPT];
	int st = FQ_NAK;

	if (hc == FQ_UHCI)
		return fq_in(ep, b, sizeof(b));
	fq_xhci_submit(ep, sizeof(b));
	if (!fq.td[ep].pending && !fq_td_take(ep, &st, b, sizeof(b)))
		st = -3;
	memset(&fq.td[ep], 0, sizeof(fq.td[ep]));
	return st;
}

static void enumerates_with_vkey_identity(void)
{
	uint8_t b[FQ_DATA_BUF];

	CHECK_EQ(plug(state), 0);
	CHECK_EQ(H.vid, 0x1209);
	CHECK_EQ(H.pid, 0x0001);
	CHECK(strcmp(H.manufacturer, "vkey") == 0);
	CHECK(strcmp(H.product, "vkey virtual security key") == 0);
	CHECK(H.serial[0] >= '0' && H.serial[0] <= '9');
	CHECK(H.fido_usage);
	CHECK_EQ(H.ccid_max, 512);
	CHECK_EQ(fq.addr, hc == FQ_XHCI ? HOST_XHCI_SLOT : HOST_UHCI_ADDR);
	/* a request the device refuses stalls, and the next one works */
	CHECK_EQ(fq_control(0x80, 6, 0x3300, 0, 64, b), FQ_STALL);
	CHECK_EQ(fq_control(0x80, 0, 0, 0, 2, b), 2); /* GET_STATUS */
	CHECK_EQ(fq_control(0x80, 8, 0, 0, 1, b), 1); /* GET_CONFIGURATION */
	CHECK_EQ(b[0], 1);
	/* a halted endpoint answers NAK (QEMU's STALL would outlast the
	 * halt), and works again once the halt is cleared */
	CHECK_EQ(fq_control(0x02, 3, 0, 0x82, 0, NULL), 0); /* SET_FEATURE */
	CHECK_EQ(fq_control(0x82, 0, 0, 0x82, 2, b), 2);    /* GET_STATUS */
	CHECK_EQ(b[0], 1);
	CHECK_EQ(in_status(2), FQ_NAK);
	CHECK_EQ(fq_control(0x02, 1, 0, 0x82, 0, NULL), 0); /* CLEAR */
	CHECK_EQ(power_on(), 0);
	/* an OUT request with a data stage goes through the ep 0 buffer */
	memset(b, 0, 8);
	CHECK(fq_control(0x21, 0x09, 0x0200, 0, 8, b) != FQ_NAK);
	check_wire();
}

/* The longest message the device answers: 16 reports (ck.h). */
#define HID_MSG_MAX (57 + 15 * 59)

static void ctaphid_ping_getinfo_makecredential(void)
{
	static uint8_t big[HID_MSG_MAX + 1];
	cbor_item_t *max_msg;
	static const uint8_t get_info[] = { 0x04 };
	uint8_t flags = 0;
	uint32_t cid;
	size_t rlen;
	cbor_item_t *info;

	CHECK_EQ(plug(state), 0);
	CHECK_EQ(ctaphid_init(&H, &cid), 0);
	CHECK_EQ(ctaphid_xfer(&H, cid, CTAPHID_PING, (const uint8_t *)"hi", 2,
			      resp, sizeof(resp), &rlen), CTAPHID_PING);
	CHECK(rlen == 2 && memcmp(resp, "hi", 2) == 0);
	/* the longest answer: 16 reports, pushed whole into QEMU's buffer */
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 3);
	CHECK_EQ(ctaphid_xfer(&H, cid, CTAPHID_PING, big, HID_MSG_MAX, resp,
			      sizeof(resp), &rlen), CTAPHID_PING);
	CHECK(rlen == HID_MSG_MAX && memcmp(resp, big, HID_MSG_MAX) == 0);
	/* one byte more cannot be echoed: ERR_INVALID_LEN */
	CHECK_EQ(ctaphid_xfer(&H, cid, CTAPHID_PING, big, sizeof(big), resp,
			      sizeof(resp), &rlen), CTAPHID_ERROR);
	CHECK(rlen == 1 && resp[0] == 0x03);

	CHECK_EQ(cbor_cmd(get_info, sizeof(get_info), &rlen), CTAP2_OK);
	info = load_cbor(resp + 1, rlen - 1);
	CHECK(info != NULL);
	CHECK(has_version(map_get(info, 1), "FIDO_2_0"));
	/* maxMsgSize says what this transport carries (largeBlobs size
	 * their fragments from it) */
	max_msg = map_get(info, 5);
	CHECK(max_msg != NULL && cbor_isa_uint(max_msg) &&
	      cbor_get_int(max_msg) == HID_MSG_MAX);
	if (info != NULL)
		cbor_decref(&info);

	CHECK_EQ(make_cred_status(&flags), CTAP2_OK);
	CHECK(flags & 0x01); /* UP: approved at once by the auto policy */
	/* xhci got its reports through wakeups (it retries nothing else) */
	if (hc == FQ_XHCI)
		CHECK(fq.kicks > 0);
	else
		CHECK_EQ(fq.kicks, 0);
	CHECK_EQ(H.hid_count, 0); /* nothing stale, no extra keepalive */
	check_wire();
}

/* A host that sends its next request as soon as it has the last report
 * of an answer, before its next IN transfer reaches the device: the
 * device has not seen the buffer emptied, and the next answer must still
 * go out whole. Longest answers, back to back. */
static void ctaphid_back_to_back(void)
{
	static uint8_t msg[HID_MSG_MAX];
	uint32_t cid;
	size_t rlen;

	CHECK_EQ(plug(state), 0);
	CHECK_EQ(ctaphid_init(&H, &cid), 0);
	for (unsigned round = 0; round < 4; round++) {
		memset(msg, 0x30 + round, sizeof(msg));
		CHECK_EQ(ctaphid_send(&H, cid, CTAPHID_PING, msg, sizeof(msg)),
			 0);
		CHECK_EQ(ctaphid_recv_lazy(&H, cid, resp, sizeof(resp), &rlen),
			 CTAPHID_PING);
		CHECK(rlen == sizeof(msg) && memcmp(resp, msg, rlen) == 0);
	}
	check_wire();
}

/* Writes the longest PING on each of three channels, reads nothing. */
static void three_pings(const uint32_t *cid, uint8_t *msg)
{
	for (unsigned i = 0; i < 3; i++) {
		memset(msg, 0x41 + i, HID_MSG_MAX);
		CHECK_EQ(ctaphid_send(&H, cid[i], CTAPHID_PING, msg,
				      HID_MSG_MAX),
			 0);
	}
}

/* Reads the answer on channel i of three_pings. */
static void pong(const uint32_t *cid, unsigned i)
{
	size_t rlen = 0;

	CHECK_EQ(ctaphid_recv_lazy(&H, cid[i], resp, sizeof(resp), &rlen),
		 CTAPHID_PING);
	CHECK(rlen == HID_MSG_MAX && resp[0] == 0x41 + i &&
	      resp[rlen - 1] == 0x41 + i);
}

/* A call outside QEMU's handling of a CTAPHID IN token: a control
 * transfer or a CCID exchange (alternately). */
static void other_call(unsigned i)
{
	uint8_t b[FQ_DATA_BUF];

	if (i % 2 == 0)
		CHECK_EQ(fq_control(0x80, 0, 0, 0, 2, b), 2); /* GET_STATUS */
	else
		CHECK_EQ(ccid_msg(&H, 0x65, 0, 0, NULL, 0, b, sizeof(b)), 10);
}

/* More answers than QEMU's buffer takes (three longest PINGs on three
 * channels, none read yet): what does not fit waits in the device, in
 * order, for a call outside QEMU's handling of a CTAPHID IN token to be
 * transmitted; QEMU's buffer never overflows. */
static void ctaphid_overfull(void)
{
	static uint8_t msg[HID_MSG_MAX];
	uint32_t cid[3];
	unsigned others = 0;

	CHECK_EQ(plug(state), 0);
	for (unsigned i = 0; i < 3; i++)
		CHECK_EQ(ctaphid_init(&H, &cid[i]), 0);
	for (unsigned round = 0; round < 2; round++) {
		three_pings(cid, msg);
		for (unsigned i = 0; i < 8; i++) {
			if (host_hid_collect(&H, 3 * 16) == 0)
				break;
			other_call(others++);
		}
		for (unsigned i = 0; i < 3; i++)
			pong(cid, i);
	}
	CHECK(others >= 2 && others <= 4);
	check_wire();
}

static void up_deny_refuses_makecredential(void)
{
	uint8_t flags = 0;

	setenv("VKEY_CANOKEY_UP", "deny", 1);
	CHECK_EQ(plug(state), 0);
	CHECK_EQ(make_cred_status(&flags), CTAP2_ERR_OPERATION_DENIED);
	check_wire();
}

static void ccid_power_select_oath(void)
{
	uint8_t m[128];
	size_t rlen;

	CHECK_EQ(plug(state), 0);
	CHECK_EQ(ccid_msg(&H, 0x65, 0, 0, NULL, 0, m, sizeof(m)), 10);
	CHECK_EQ(m[0], 0x81); /* SlotStatus */
	CHECK_EQ(power_on(), 0);
	CHECK_EQ(apdu(OATH_SELECT, &rlen), SW_OK);
	CHECK_EQ(oath_put("ck-oath"), SW_OK);
	CHECK(oath_lists("ck-oath"));
	CHECK_EQ(ccid_msg(&H, 0x63, 0, 0, NULL, 0, m, sizeof(m)), 10);
	CHECK_EQ(m[0], 0x81);
	CHECK_EQ(m[7] & 0x03, 0x01); /* ICC present, inactive */
	check_wire();
}

/* PIV external authentication with the default 3DES management key. */
static unsigned piv_mgmt_auth(void)
{
	static const char key_hex[] =
		"010203040506070801020304050607080102030405060708";
	uint8_t key[24], chal[8], enc[8], cmd[32];
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
	size_t rlen;
	int outl = 0;

	check_unhex(key_hex, key, sizeof(key));
	if (ctx == NULL ||
	    apdu("0087039B047C028100", &rlen) != SW_OK || rlen != 14)
		goto fail;
	memcpy(chal, resp + 4, 8);
	if (EVP_EncryptInit_ex(ctx, EVP_des_ede3_ecb(), NULL, key, NULL) != 1 ||
	    EVP_CIPHER_CTX_set_padding(ctx, 0) != 1 ||
	    EVP_EncryptUpdate(ctx, enc, &outl, chal, 8) != 1 || outl != 8)
		goto fail;
	EVP_CIPHER_CTX_free(ctx);
	memcpy(cmd, (const uint8_t[]){ 0x00, 0x87, 0x03, 0x9B, 0x0C, 0x7C,
				       0x0A, 0x82, 0x08 },
	       9);
	memcpy(cmd + 9, enc, 8);
	return apdu_bytes(cmd, 17, &rlen);
fail:
	EVP_CIPHER_CTX_free(ctx);
	return 0;
}

/* A 3000-byte PIV object: the command and the answer both cross many
 * chained CCID messages (dwMaxCCIDMessageLength 512), the answer is
 * larger than QEMU's 2048-byte IN buffer. */
static void ccid_answer_larger_than_qemu_buffer(void)
{
	static uint8_t cmd[3100];
	enum { OBJ = 3000 };
	size_t n = 0, rlen;

	CHECK_EQ(plug(state), 0);
	CHECK_EQ(power_on(), 0);
	CHECK_EQ(apdu("00A4040005A000000308", &rlen), SW_OK);
	CHECK_EQ(piv_mgmt_auth(), SW_OK);
	memcpy(cmd, (const uint8_t[]){ 0x00, 0xDB, 0x3F, 0xFF, 0x00, 0x00,
				       0x00, 0x5C, 0x03, 0x5F, 0xC1, 0x05,
				       0x53, 0x82, OBJ >> 8, OBJ & 0xFF },
	       16);
	n = 16;
	for (size_t i = 0; i < OBJ; i++)
		cmd[n++] = (uint8_t)(i * 13 + 1);
	cmd[5] = (uint8_t)((n - 7) >> 8);
	cmd[6] = (uint8_t)(n - 7);
	CHECK_EQ(apdu_bytes(cmd, n, &rlen), SW_OK);
	CHECK_EQ(apdu("00CB3FFF0000055C035FC1050000", &rlen), SW_OK);
	CHECK_EQ(rlen, 4 + OBJ + 2);
	CHECK(rlen == 4 + OBJ + 2 && memcmp(resp, cmd + 12, 4 + OBJ) == 0);
	CHECK(H.msgs >= 16); /* 7 blocks each way, at least */
	check_wire();
}

/* A bus reset with half a CTAPHID message, half a CCID message and an
 * unread answer in flight: all of it is gone, and the device works. */
static void bus_reset_midway(void)
{
	uint8_t rpt[HOST_RPT] = { 0 }, part[64] = { 0x6F, 0x2C, 0x01 };
	uint32_t cid;
	size_t rlen;

	CHECK_EQ(plug(state), 0);
	CHECK_EQ(ctaphid_init(&H, &cid), 0);
	rpt[0] = (uint8_t)(cid >> 24);
	rpt[1] = (uint8_t)(cid >> 16);
	rpt[2] = (uint8_t)(cid >> 8);
	rpt[3] = (uint8_t)cid;
	rpt[4] = 0x80 | CTAPHID_PING;
	rpt[5] = 0x00;
	rpt[6] = 0xC8; /* 200 bytes announced, 57 sent */
	CHECK_EQ(host_hid_write(&H, rpt), 0);
	CHECK_EQ(power_on(), 0);
	CHECK_EQ(fq_out(2, part, sizeof(part)), (int)sizeof(part));
	/* two INIT answers the host does not collect: QEMU holds one */
	memset(rpt, 0xFF, 4);
	rpt[4] = 0x80 | 0x06;
	rpt[6] = 8;
	CHECK_EQ(fq_out(1, rpt, sizeof(rpt)), (int)sizeof(rpt));
	CHECK_EQ(fq_out(1, rpt, sizeof(rpt)), (int)sizeof(rpt));
	CHECK(fq.ep_in_size[1] > 0);
	fq_reset();
	host_init(&H, hc);
	CHECK_EQ(host_enumerate(&H), 0);
	CHECK_EQ(H.hid_count, 0); /* nothing from before the reset */
	CHECK_EQ(ctaphid_init(&H, &cid), 0);
	CHECK_EQ(ctaphid_xfer(&H, cid, CTAPHID_PING, (const uint8_t *)"ok", 2,
			      resp, sizeof(resp), &rlen), CTAPHID_PING);
	CHECK_EQ(power_on(), 0);
	CHECK_EQ(apdu(OATH_SELECT, &rlen), SW_OK);
	check_wire();
}

/* --- cases over several processes --------------------------------------- */

/* Run this program again with args; its exit status, stderr into err. */
static int spawn_self(char *const args[], char *err, size_t errlen)
{
	char log[160];
	posix_spawn_file_actions_t fa;
	pid_t pid;
	int st = -1, fd;
	ssize_t n;

	snprintf(log, sizeof(log), "%s/child.err", dir);
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 2, log,
					 O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (posix_spawn(&pid, "/proc/self/exe", &fa, NULL, args, environ) != 0)
		pid = -1;
	posix_spawn_file_actions_destroy(&fa);
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return -1;
	fd = open(log, O_RDONLY | O_CLOEXEC);
	n = fd >= 0 ? read(fd, err, errlen - 1) : -1;
	err[n > 0 ? n : 0] = '\0';
	if (fd >= 0)
		close(fd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Child of state_survives_restart: a credential, then exit (which closes
 * the key the way QEMU's exit does). */
static int child_write(const char *path)
{
	if (plug(path) != 0 || power_on() != 0)
		return 2;
	size_t rlen;
	if (apdu(OATH_SELECT, &rlen) != SW_OK || oath_put("survivor") != SW_OK)
		return 3;
	return fq_faulty() || !host_ok(&H) ? 4 : 0;
}

/* Child of lock_refuses_second_opener: 0 when the open is refused. */
static int child_second_open(const char *path)
{
	fq_init(hc);
	return fq_realize(path) != 0 ? 0 : 1;
}

static void state_survives_restart(void)
{
	char err[4096];
	char *args[] = { "test_canokey", "child_write",
			 hc == FQ_XHCI ? "xhci" : "uhci", state, NULL };

	CHECK_EQ(spawn_self(args, err, sizeof(err)), 0);
	CHECK_EQ(plug(state), 0);
	CHECK_EQ(power_on(), 0);
	size_t rlen;
	CHECK_EQ(apdu(OATH_SELECT, &rlen), SW_OK);
	CHECK(oath_lists("survivor"));
	check_wire();
}

static void lock_refuses_second_opener(void)
{
	char err[4096], other[160];
	char *args[] = { "test_canokey", "child_second_open", "uhci", state,
			 NULL };

	CHECK_EQ(plug(state), 0);
	CHECK_EQ(spawn_self(args, err, sizeof(err)), 0);
	CHECK(strstr(err, state) != NULL); /* names the file */
	fprintf(stderr, "  (second opener said: %s)\n", strtok(err, "\n"));
	/* and a second device in one process is refused too */
	snprintf(other, sizeof(other), "%s/other.db", dir);
	CHECK(canokey_emu_init(&fq, other) != 0);
	CHECK(access(other, F_OK) != 0);
	check_wire();
}

/* --- configuration ------------------------------------------------------ */

static void config_file_and_env(void)
{
	uint8_t flags = 0;

	write_conf("# a comment\n\n"
		   "up = deny\n"
		   "usb_manufacturer = File Maker\n"
		   "  usb_product=File Product  \n"
		   "usb_vid = 0x1050\n");
	setenv("VKEY_CANOKEY_USB_PID", "0407", 1);
	setenv("VKEY_CANOKEY_USB_PRODUCT", "Env Product", 1);
	setenv("VKEY_CANOKEY_UP", "auto", 1); /* overrides the file's deny */
	CHECK_EQ(plug(state), 0);
	CHECK_EQ(H.vid, 0x1050);
	CHECK_EQ(H.pid, 0x0407);
	CHECK(strcmp(H.manufacturer, "File Maker") == 0);
	CHECK(strcmp(H.product, "Env Product") == 0);
	CHECK_EQ(make_cred_status(&flags), CTAP2_OK);
	check_wire();
}

static void config_from_file_alone(void)
{
	uint8_t flags = 0;

	write_conf("up = deny\nusb_product = File Product\n");
	CHECK_EQ(plug(state), 0);
	CHECK(strcmp(H.product, "File Product") == 0);
	CHECK_EQ(make_cred_status(&flags), CTAP2_ERR_OPERATION_DENIED);
	check_wire();
}

/* canokey_emu_init with stderr captured; its result. */
static int init_capturing(char *err, size_t errlen)
{
	char log[160];
	int saved = dup(2), fd, r;
	ssize_t n;

	snprintf(log, sizeof(log), "%s/init.err", dir);
	fd = open(log, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	fflush(stderr);
	dup2(fd, 2);
	fq_init(hc);
	r = fq_realize(state);
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	n = pread(fd, err, errlen - 1, 0);
	err[n > 0 ? n : 0] = '\0';
	close(fd);
	return r;
}

static void config_errors_refuse_init(void)
{
	char err[1024];

	write_conf("up = prompt\n");
	CHECK(init_capturing(err, sizeof(err)) != 0);
	CHECK(strstr(err, ".conf:1") != NULL && strstr(err, "auto or deny"));
	write_conf("colour = blue\n");
	CHECK(init_capturing(err, sizeof(err)) != 0);
	CHECK(strstr(err, "unknown setting") != NULL);
	write_conf("usb_vid\n");
	CHECK(init_capturing(err, sizeof(err)) != 0);
	write_conf("");
	setenv("VKEY_CANOKEY_UP", "prompt", 1);
	CHECK(init_capturing(err, sizeof(err)) != 0);
	CHECK(strstr(err, "VKEY_CANOKEY_UP") != NULL);
	unsetenv("VKEY_CANOKEY_UP");
	setenv("VKEY_CANOKEY_USB_VID", "12345", 1);
	CHECK(init_capturing(err, sizeof(err)) != 0);
	unsetenv("VKEY_CANOKEY_USB_VID");
	setenv("VKEY_CANOKEY_LOG_LEVEL", "loud", 1);
	CHECK(init_capturing(err, sizeof(err)) != 0);
	unsetenv("VKEY_CANOKEY_LOG_LEVEL");
	setenv("VKEY_CANOKEY_LOG_FILE", "/proc/version/ck.log", 1);
	CHECK(init_capturing(err, sizeof(err)) != 0);
	CHECK(strstr(err, "cannot open the log file") != NULL);
	unsetenv("VKEY_CANOKEY_LOG_FILE");
	CHECK(access(state, F_OK) != 0); /* nothing was created */
	/* a state file that cannot be created: the file and the reason */
	snprintf(state, sizeof(state), "%s/file", dir);
	write_file(state, "not a folder\n");
	snprintf(state, sizeof(state), "%s/file/k.db", dir);
	CHECK(init_capturing(err, sizeof(err)) != 0);
	CHECK(strstr(err, state) != NULL);
	fprintf(stderr, "  (bad path said: %s)\n", strtok(err, "\n"));
	snprintf(state, sizeof(state), "%s/k.db", dir);
	CHECK_EQ(plug(state), 0); /* a good one still works after all that */
	check_wire();
}

static bool file_has(const char *path, const char *needle)
{
	static char text[1 << 16];
	FILE *f = fopen(path, "r");
	size_t n;

	if (f == NULL)
		return false;
	n = fread(text, 1, sizeof(text) - 1, f);
	fclose(f);
	text[n] = '\0';
	return strstr(text, needle) != NULL;
}

/* Decoded commands go to the log file, as vkey serve -vv writes them;
 * the OATH secret does not. */
static void log_file_has_commands_not_secrets(void)
{
	static const uint8_t get_info[] = { 0x04 };
	char log[160];
	struct stat st;
	size_t rlen;

	snprintf(log, sizeof(log), "%s/ck.log", dir);
	setenv("VKEY_CANOKEY_LOG_FILE", log, 1);
	setenv("VKEY_CANOKEY_LOG_LEVEL", "debug", 1);
	CHECK_EQ(plug(state), 0);
	CHECK_EQ(power_on(), 0);
	CHECK_EQ(apdu(OATH_SELECT, &rlen), SW_OK);
	CHECK_EQ(oath_put("logged"), SW_OK);
	CHECK_EQ(cbor_cmd(get_info, sizeof(get_info), &rlen), CTAP2_OK);
	CHECK(file_has(log, "canokey: "));
	CHECK(file_has(log, "oath: PUT"));
	CHECK(file_has(log, "INS=01"));
	CHECK(file_has(log, "fido: CTAP2"));
	CHECK(!file_has(log, "4B1DE5C0FFEE"));
	CHECK(!file_has(log, "4b1de5c0ffee"));
	CHECK(stat(log, &st) == 0 && (st.st_mode & 0777) == 0600);
	check_wire();
}

/* log_secrets = yes adds the command data, as vkey serve --log-secrets. */
static void log_secrets_when_asked(void)
{
	char log[160], conf[256];
	size_t rlen;

	snprintf(log, sizeof(log), "%s/ck.log", dir);
	snprintf(conf, sizeof(conf),
		 "log_file = %s\nlog_level = debug\nlog_secrets = yes\n", log);
	write_conf(conf);
	CHECK_EQ(plug(state), 0);
	CHECK_EQ(power_on(), 0);
	CHECK_EQ(apdu(OATH_SELECT, &rlen), SW_OK);
	CHECK_EQ(oath_put("logged"), SW_OK);
	CHECK(file_has(log, "4B1DE5C0FFEE"));
	check_wire();
}

/* --- main --------------------------------------------------------------- */

static const char *const env_names[] = {
	"VKEY_CANOKEY_UP", "VKEY_CANOKEY_LOG_LEVEL", "VKEY_CANOKEY_LOG_FILE",
	"VKEY_CANOKEY_LOG_SECRETS", "VKEY_CANOKEY_USB_VID",
	"VKEY_CANOKEY_USB_PID", "VKEY_CANOKEY_USB_MANUFACTURER",
	"VKEY_CANOKEY_USB_PRODUCT",
};

struct tcase {
	const char *name;
	void (*fn)(void);
};

static const struct tcase cases[] = {
	{ "enumerate", enumerates_with_vkey_identity },
	{ "ctaphid", ctaphid_ping_getinfo_makecredential },
	{ "ctaphid_back_to_back", ctaphid_back_to_back },
	{ "ctaphid_overfull", ctaphid_overfull },
	{ "up_deny", up_deny_refuses_makecredential },
	{ "ccid", ccid_power_select_oath },
	{ "ccid_large", ccid_answer_larger_than_qemu_buffer },
	{ "bus_reset", bus_reset_midway },
	{ "persist", state_survives_restart },
	{ "lock", lock_refuses_second_opener },
	{ "config", config_file_and_env },
	{ "config_file", config_from_file_alone },
	{ "config_errors", config_errors_refuse_init },
	{ "log_file", log_file_has_commands_not_secrets },
	{ "log_secrets", log_secrets_when_asked },
};

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: %s CASE uhci|xhci [STATE]\n", argv[0]);
		return 2;
	}
	hc = strcmp(argv[2], "xhci") == 0 ? FQ_XHCI : FQ_UHCI;
	if (argc == 3) /* the settings are each case's own */
		for (size_t i = 0; i < sizeof(env_names) / sizeof(env_names[0]);
		     i++)
			unsetenv(env_names[i]);
	if (argc == 4 && strcmp(argv[1], "child_write") == 0)
		return child_write(argv[3]);
	if (argc == 4 && strcmp(argv[1], "child_second_open") == 0)
		return child_second_open(argv[3]);
	make_dir();
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (strcmp(argv[1], cases[i].name) == 0) {
			cases[i].fn();
			fprintf(stderr, "%s %s on %s\n",
				check_failures == 0 ? "ok  " : "FAIL",
				cases[i].name, argv[2]);
			return CHECK_DONE();
		}
	fprintf(stderr, "unknown case %s\n", argv[1]);
	return 2;
}
