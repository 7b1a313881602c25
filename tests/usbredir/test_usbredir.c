/* `vkey serve --usbredir` end to end: this program plays QEMU's usb-guest
 * side (libusbredirparser, as hw/usb/redirect.c does) against a real
 * daemon running three keys: listening on a unix socket, connecting to
 * one, listening on TCP loopback.
 *
 *   test_usbredir        the protocol cases
 *   test_usbredir pcap   traffic on both keys, then tshark must decode the
 *                        capture as USB HID and USB CCID (77: no tshark) */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "../check.h"
#include "guest.h"

#define KEY2_VID 0x1209
#define KEY2_PID 0x000A
#define KEY2_PRODUCT "vkey usbredir test key 2"

#define EP_HID_IN 0x81
#define EP_HID_OUT 0x01
#define EP_CCID_IN 0x82
#define EP_CCID_OUT 0x02

#define CTAPHID_INIT 0x86
#define CTAPHID_CBOR 0x90
#define CTAPHID_KEEPALIVE 0xBB
#define CTAPHID_ERROR 0xBF

static char dir[] = "/tmp/vkey-usbredir-XXXXXX";
static char k1_sock[256], q_sock[256], log_path[256], pcap_path[256];
static char k3_db[300];
static pid_t daemon_pid = -1;
static int q_listen = -1; /* where key 2 connects, as QEMU server=on */
static uint8_t seq;       /* CCID bSeq */
static const char *tape_dir; /* $VKEY_USBREDIR_TAPES: keep guest streams */
static struct guest *k2;     /* key 2's connection, kept across cases */
static uint16_t k3_port;     /* key 3 listens on 127.0.0.1:k3_port */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* --- the daemon ------------------------------------------------------ */

static int listen_unix(const char *path)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (strlen(path) >= sizeof un.sun_path) {
		fprintf(stderr, "path too long: %s\n", path);
		exit(1);
	}
	memcpy(un.sun_path, path, strlen(path) + 1);
	if (fd < 0 || bind(fd, (struct sockaddr *)&un, sizeof un) != 0 ||
	    listen(fd, 4) != 0) {
		perror(path);
		exit(1);
	}
	return fd;
}

/* A loopback port nobody uses right now. */
static uint16_t free_port(void)
{
	struct sockaddr_in in = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof in;
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	if (fd < 0 || bind(fd, (struct sockaddr *)&in, sizeof in) != 0 ||
	    getsockname(fd, (struct sockaddr *)&in, &len) != 0) {
		perror("free_port");
		exit(1);
	}
	close(fd);
	return ntohs(in.sin_port);
}

static void start_daemon(void)
{
	const char *vkey = getenv("VKEY");
	char db1[300], db2[300], db3[300], tcp[32];
	int64_t end;

	if (vkey == NULL) {
		fprintf(stderr, "VKEY is not set\n");
		exit(1);
	}
	snprintf(db1, sizeof db1, "%s/k1.db", dir);
	snprintf(db2, sizeof db2, "%s/k2.db", dir);
	snprintf(db3, sizeof db3, "%s/k3.db", dir);
	snprintf(k3_db, sizeof k3_db, "%s", db3);
	k3_port = free_port();
	snprintf(tcp, sizeof tcp, "127.0.0.1:%u", k3_port);
	daemon_pid = fork();
	if (daemon_pid == 0) {
		int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

		/* A test that dies (a sanitizer abort) takes the daemon along. */
		prctl(PR_SET_PDEATHSIG, SIGTERM);

		dup2(fd, 1);
		dup2(fd, 2);
		execl(vkey, vkey, "serve", "-vv", "--pcap", pcap_path,
		      "--state", db1, "--usbredir", k1_sock, "--up", "auto",
		      "--state", db2, "--usbredir-connect", q_sock, "--up", "auto",
		      "--usb-pid", "000a", "--usb-product", KEY2_PRODUCT,
		      "--state", db3, "--usbredir", tcp, "--up", "prompt",
		      "--up-timeout", "20", (char *)NULL);
		_exit(127);
	}
	for (end = now_ms() + 10000; now_ms() < end; usleep(20000))
		if (access(k1_sock, F_OK) == 0)
			return;
	fprintf(stderr, "vkey serve did not create %s\n", k1_sock);
	exit(1);
}

/* SIGTERM, bounded wait: the exit status, or -1 if it had to be killed. */
static int stop_daemon(void)
{
	int st = 0;

	if (daemon_pid <= 0)
		return -1;
	kill(daemon_pid, SIGTERM);
	for (int i = 0; i < 100; i++) {
		if (waitpid(daemon_pid, &st, WNOHANG) == daemon_pid) {
			daemon_pid = -1;
			return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
		}
		usleep(100000);
	}
	kill(daemon_pid, SIGKILL);
	waitpid(daemon_pid, &st, 0);
	daemon_pid = -1;
	return -1;
}

static bool log_has(const char *needle)
{
	FILE *f = fopen(log_path, "r");
	char line[1024];
	bool found = false;

	while (f != NULL && !found && fgets(line, sizeof line, f) != NULL)
		found = strstr(line, needle) != NULL;
	if (f != NULL)
		fclose(f);
	return found;
}

/* With $VKEY_USBREDIR_TAPES set, what the guest sends goes to a file
 * there: seeds for fuzz_usbredir. */
static FILE *tape(const char *name)
{
	char p[512];

	if (tape_dir == NULL || name == NULL)
		return NULL;
	snprintf(p, sizeof p, "%s/%s", tape_dir, name);
	return fopen(p, "wb");
}

/* A new peer right after the last one closed may find vkey still
 * serving the old one and be turned away (one at a time): retry. */
static struct guest *connect_k1(const char *name)
{
	for (int i = 0; i < 20; i++) {
		struct guest *g = guest_connect(k1_sock, tape(name));

		if (g != NULL && guest_wait_connect(g, GUEST_MS))
			return g;
		guest_free(g);
		usleep(50000);
	}
	fprintf(stderr, "no device_connect from %s\n", k1_sock);
	return NULL;
}

/* Key 2 connects to us, as to a QEMU chardev with server=on. */
static struct guest *accept_k2(int ms, const char *name)
{
	struct pollfd p = { q_listen, POLLIN, 0 };
	struct guest *g;
	int fd;

	if (poll(&p, 1, ms) <= 0)
		return NULL;
	fd = accept4(q_listen, NULL, NULL, SOCK_CLOEXEC);
	if (fd < 0)
		return NULL;
	g = guest_adopt(fd, tape(name));
	if (g != NULL && !guest_wait_connect(g, GUEST_MS)) {
		guest_free(g);
		return NULL;
	}
	return g;
}

/* --- USB helpers ------------------------------------------------------ */

static int get_descriptor(struct guest *g, uint8_t type, uint8_t index,
			  uint8_t *buf, uint16_t len)
{
	return guest_control(g, 0x80, 6, (uint16_t)(type << 8 | index), 0, buf,
			     len);
}

/* What Linux does after the reset: configure, then poll the HID IN pipe
 * (QEMU turns the first poll into start_interrupt_receiving). */
static bool configure(struct guest *g)
{
	uint8_t cfg = 0;

	return guest_set_config(g, 1, &cfg) == usb_redir_success && cfg == 1 &&
	       guest_start_interrupt(g, EP_HID_IN) == usb_redir_success;
}

/* One CTAPHID message out (64-byte reports), the reply in (keepalives
 * skipped). Returns the reply's length or -1; *cmd gets its command. */
static int ctaphid_xfer(struct guest *g, uint32_t cid, uint8_t cmd,
			const uint8_t *data, uint16_t len, uint8_t *resp,
			size_t cap, uint8_t *rcmd)
{
	uint8_t rpt[64];
	size_t off = 0, total;
	uint8_t sq = 0;

	memset(rpt, 0, sizeof rpt);
	rpt[0] = (uint8_t)(cid >> 24), rpt[1] = (uint8_t)(cid >> 16);
	rpt[2] = (uint8_t)(cid >> 8), rpt[3] = (uint8_t)cid;
	rpt[4] = cmd, rpt[5] = (uint8_t)(len >> 8), rpt[6] = (uint8_t)len;
	off = len < 57 ? len : 57;
	memcpy(rpt + 7, data, off);
	if (guest_interrupt_out(g, EP_HID_OUT, rpt, 64) != 64)
		return -1;
	while (off < len) {
		size_t n = len - off < 59 ? len - off : 59;

		memset(rpt + 4, 0, 60);
		rpt[4] = sq++;
		memcpy(rpt + 5, data + off, n);
		off += n;
		if (guest_interrupt_out(g, EP_HID_OUT, rpt, 64) != 64)
			return -1;
	}
	do {
		if (guest_interrupt_in(g, rpt, GUEST_MS) != 64)
			return -1;
	} while (rpt[4] == CTAPHID_KEEPALIVE);
	*rcmd = rpt[4];
	total = (size_t)rpt[5] << 8 | rpt[6];
	if (total > cap)
		return -1;
	off = total < 57 ? total : 57;
	memcpy(resp, rpt + 7, off);
	while (off < total) {
		size_t n = total - off < 59 ? total - off : 59;

		if (guest_interrupt_in(g, rpt, GUEST_MS) != 64)
			return -1;
		memcpy(resp + off, rpt + 5, n);
		off += n;
	}
	return (int)total;
}

/* INIT on the broadcast channel: a new channel id, or 0. */
static uint32_t ctaphid_init(struct guest *g)
{
	static const uint8_t nonce[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	uint8_t resp[64], cmd = 0;
	int n = ctaphid_xfer(g, 0xFFFFFFFFu, CTAPHID_INIT, nonce, 8, resp,
			     sizeof resp, &cmd);

	if (n < 17 || cmd != CTAPHID_INIT || memcmp(resp, nonce, 8) != 0)
		return 0;
	return (uint32_t)resp[8] << 24 | (uint32_t)resp[9] << 16 |
	       (uint32_t)resp[10] << 8 | resp[11];
}

static bool has_bytes(const uint8_t *p, size_t n, const char *s)
{
	size_t l = strlen(s);

	for (size_t i = 0; i + l <= n; i++)
		if (memcmp(p + i, s, l) == 0)
			return true;
	return false;
}

/* authenticatorGetInfo through CTAPHID CBOR: status 0 and "FIDO_2_0". */
static bool ctaphid_get_info(struct guest *g, uint32_t cid)
{
	static const uint8_t get_info = 0x04;
	uint8_t resp[1024], cmd = 0;
	int n = ctaphid_xfer(g, cid, CTAPHID_CBOR, &get_info, 1, resp,
			     sizeof resp, &cmd);

	return n > 1 && cmd == CTAPHID_CBOR && resp[0] == 0x00 &&
	       has_bytes(resp, (size_t)n, "FIDO_2_0");
}

/* One CCID command out on bulk OUT, its answer in on bulk IN (time
 * extensions skipped). Returns the answer's length or -1. */
static int ccid_xfer(struct guest *g, uint8_t type, const uint8_t *data,
		     uint32_t len, uint8_t *resp, uint32_t cap)
{
	uint8_t msg[300];
	int n;

	if (len + 10 > sizeof msg)
		return -1;
	memset(msg, 0, 10);
	msg[0] = type;
	msg[1] = (uint8_t)len, msg[2] = (uint8_t)(len >> 8);
	msg[6] = seq++;
	if (len > 0)
		memcpy(msg + 10, data, len);
	if (guest_bulk_wait(g, guest_bulk_send(g, EP_CCID_OUT, msg, len + 10),
			    NULL, 0, GUEST_MS) != (int)(len + 10))
		return -1;
	do {
		n = guest_bulk_wait(g, guest_bulk_send(g, EP_CCID_IN, NULL, cap),
				    resp, cap, GUEST_MS);
	} while (n >= 10 && (resp[7] & 0xC0) == 0x80);
	return n;
}

/* IccPowerOn then SELECT of the OATH applet: 90 00. */
static bool ccid_select(struct guest *g)
{
	static const uint8_t select[] = { 0x00, 0xA4, 0x04, 0x00, 0x07, 0xA0,
					  0x00, 0x00, 0x05, 0x27, 0x21, 0x01 };
	uint8_t resp[1024];
	int n = ccid_xfer(g, 0x62, NULL, 0, resp, sizeof resp);

	if (n < 12 || resp[0] != 0x80 || (resp[7] & 0x43) != 0)
		return false;
	n = ccid_xfer(g, 0x6F, select, sizeof select, resp, sizeof resp);
	return n >= 12 && resp[0] == 0x80 && resp[n - 2] == 0x90 &&
	       resp[n - 1] == 0x00;
}

/* --- cases ------------------------------------------------------------ */

static void hello_announces_caps_and_device(void)
{
	struct guest *g = connect_k1("hello");

	CHECK(g != NULL);
	if (g == NULL)
		return;
	CHECK(g->hello);
	CHECK(usbredirparser_peer_has_cap(g->p, usb_redir_cap_ep_info_max_packet_size));
	CHECK(usbredirparser_peer_has_cap(g->p, usb_redir_cap_64bits_ids));
	CHECK(usbredirparser_peer_has_cap(g->p, usb_redir_cap_32bits_bulk_length));
	CHECK(usbredirparser_peer_has_cap(g->p, usb_redir_cap_connect_device_version));
	CHECK(!usbredirparser_peer_has_cap(g->p, usb_redir_cap_bulk_receiving));
	CHECK_EQ(g->dc.speed, usb_redir_speed_full);
	CHECK_EQ(g->dc.vendor_id, 0x1209);
	CHECK_EQ(g->dc.product_id, 0x0001);
	CHECK(g->dc.device_version_bcd != 0);
	/* ep_info and interface_info came first (QEMU checks the filter on
	 * device_connect with them). */
	CHECK_EQ(g->n_ep_info, 1);
	CHECK_EQ(g->n_iface_info, 1);
	CHECK_EQ(g->ifs.interface_count, 2);
	CHECK_EQ(g->ep.type[0], usb_redir_type_control);
	CHECK_EQ(g->ep.type[16], usb_redir_type_control);
	CHECK_EQ(g->ep.type[16 + 1], usb_redir_type_interrupt);
	CHECK_EQ(g->ep.type[1], usb_redir_type_interrupt);
	CHECK_EQ(g->ep.type[16 + 2], usb_redir_type_bulk);
	CHECK_EQ(g->ep.type[2], usb_redir_type_bulk);
	CHECK_EQ(g->ep.type[3], usb_redir_type_invalid);
	CHECK_EQ(g->ep.max_packet_size[16 + 1], 64);
	CHECK_EQ(g->ep.max_packet_size[16 + 2], 64);
	CHECK(g->ep.interval[16 + 1] != 0);
	guest_free(g);
}

static void enumerates_like_linux(void)
{
	struct guest *g = connect_k1("enumerate");
	uint8_t d[512];
	uint8_t cfg = 0, alt = 9;
	int n;

	CHECK(g != NULL);
	if (g == NULL)
		return;
	guest_reset(g);
	CHECK_EQ(get_descriptor(g, 1, 0, d, 64), 18);
	CHECK_EQ(d[8] | d[9] << 8, 0x1209);
	CHECK_EQ(d[10] | d[11] << 8, 0x0001);
	CHECK_EQ(get_descriptor(g, 2, 0, d, 9), 9);
	n = d[2] | d[3] << 8;
	CHECK(n > 9 && n < (int)sizeof d);
	CHECK_EQ(get_descriptor(g, 2, 0, d, (uint16_t)n), n);
	CHECK_EQ(get_descriptor(g, 3, 0, d, 255), 4);
	CHECK(get_descriptor(g, 3, 3, d, 255) > 2); /* the serial */
	/* Device qualifier: a full-speed-only device stalls. */
	CHECK_EQ(get_descriptor(g, 6, 0, d, 10), -1 - usb_redir_stall);
	CHECK_EQ(guest_set_config(g, 1, &cfg), usb_redir_success);
	CHECK_EQ(cfg, 1);
	CHECK_EQ(g->n_ep_info, 2); /* the protocol re-announces the layout */
	CHECK_EQ(guest_get_config(g, &cfg), usb_redir_success);
	CHECK_EQ(cfg, 1);
	CHECK_EQ(guest_set_alt(g, 1, 0, &alt), usb_redir_success);
	CHECK_EQ(alt, 0);
	CHECK_EQ(guest_get_alt(g, 1, &alt), usb_redir_success);
	CHECK_EQ(guest_set_alt(g, 0, 1, &alt), usb_redir_stall);
	CHECK_EQ(guest_set_config(g, 7, &cfg), usb_redir_stall);
	CHECK_EQ(cfg, 1);
	guest_free(g);
}

static void ctaphid_init_and_get_info_over_interrupt(void)
{
	struct guest *g = connect_k1("ctaphid");
	uint32_t cid;

	CHECK(g != NULL);
	if (g == NULL)
		return;
	CHECK(configure(g));
	cid = ctaphid_init(g);
	CHECK(cid != 0 && cid != 0xFFFFFFFFu);
	CHECK(ctaphid_get_info(g, cid));
	/* Twice: the IN pipe keeps receiving. */
	CHECK(ctaphid_get_info(g, cid));
	guest_free(g);
}

static void ccid_power_on_and_select_over_bulk(void)
{
	struct guest *g = connect_k1("ccid");

	CHECK(g != NULL);
	if (g == NULL)
		return;
	CHECK(configure(g));
	CHECK(ccid_select(g));
	guest_free(g);
}

static void cancel_answers_pending_bulk_in(void)
{
	struct guest *g = connect_k1("cancel");
	uint8_t d[64];
	uint64_t id;
	int n;

	CHECK(g != NULL);
	if (g == NULL)
		return;
	CHECK(configure(g));
	/* Nothing was asked of the card: the read waits. */
	id = guest_bulk_send(g, EP_CCID_IN, NULL, 64);
	CHECK_EQ(guest_bulk_wait(g, id, d, sizeof d, 300), -100);
	guest_cancel(g, id);
	n = guest_bulk_wait(g, id, d, sizeof d, GUEST_MS);
	CHECK_EQ(n, -1 - usb_redir_cancelled);
	/* A cancel for an id already answered gets nothing and breaks
	 * nothing. */
	guest_cancel(g, id);
	guest_cancel(g, 987654321);
	CHECK_EQ(get_descriptor(g, 1, 0, d, 18), 18);
	CHECK(ccid_select(g));
	guest_free(g);
}

static void bad_requests_answered_inval(void)
{
	struct guest *g = connect_k1("inval");
	struct usb_redir_control_packet_header h = {
		.endpoint = 0x00, .request = 6, .requesttype = 0x80,
		.value = 0x0100, .length = 4,
	};
	struct guest_pkt pk;
	uint8_t d[64] = { 0 };

	CHECK(g != NULL);
	if (g == NULL)
		return;
	CHECK(configure(g));
	/* No endpoint 5. */
	CHECK_EQ(guest_bulk_wait(g, guest_bulk_send(g, 0x05, d, 8), NULL, 0,
				 GUEST_MS), -1 - usb_redir_inval);
	/* Bulk traffic on the interrupt endpoint. */
	CHECK_EQ(guest_bulk_wait(g, guest_bulk_send(g, EP_HID_OUT, d, 8), NULL,
				 0, GUEST_MS), -1 - usb_redir_inval);
	/* A setup saying IN on a packet carrying OUT data. */
	usbredirparser_send_control_packet(g->p, 4242, &h, d, 4);
	usbredirparser_do_write(g->p);
	CHECK(guest_take(g, usb_redir_control_packet, 4242, &pk, GUEST_MS));
	CHECK_EQ(pk.status, usb_redir_inval);
	free(pk.data);
	/* Interrupt receiving on a bulk endpoint. */
	CHECK_EQ(guest_start_interrupt(g, EP_CCID_IN), usb_redir_inval);
	CHECK_EQ(get_descriptor(g, 1, 0, d, 18), 18);
	guest_free(g);
}

static void reset_then_reenumerate(void)
{
	struct guest *g = connect_k1("reset");
	uint32_t cid;

	CHECK(g != NULL);
	if (g == NULL)
		return;
	CHECK(configure(g));
	CHECK(ctaphid_init(g) != 0);
	guest_reset(g);
	CHECK(configure(g));
	cid = ctaphid_init(g);
	CHECK(cid != 0);
	CHECK(ctaphid_get_info(g, cid));
	guest_free(g);
}

static void second_peer_refused_first_kept(void)
{
	struct guest *g = connect_k1("second");
	struct guest *g2;
	uint8_t d[18];

	CHECK(g != NULL);
	if (g == NULL)
		return;
	g2 = guest_connect(k1_sock, NULL);
	CHECK(g2 != NULL);
	if (g2 != NULL) {
		CHECK(guest_wait_eof(g2, GUEST_MS));
		CHECK(!g2->hello);
		guest_free(g2);
	}
	CHECK(log_has("refusing a second peer"));
	CHECK_EQ(get_descriptor(g, 1, 0, d, 18), 18);
	guest_free(g);
}

static void reconnect_gets_a_fresh_device(void)
{
	for (int i = 0; i < 3; i++) {
		struct guest *g = connect_k1("reconnect");
		uint32_t cid;

		CHECK(g != NULL);
		if (g == NULL)
			return;
		CHECK(configure(g));
		cid = ctaphid_init(g);
		CHECK(cid != 0);
		CHECK(ctaphid_get_info(g, cid));
		guest_free(g); /* mid-session, as a killed QEMU would */
	}
}

static void connect_mode_reconnects(void)
{
	struct guest *g = accept_k2(5000, "connect");
	uint8_t d[256];
	int n;

	CHECK(g != NULL);
	if (g == NULL)
		return;
	CHECK_EQ(g->dc.vendor_id, KEY2_VID);
	CHECK_EQ(g->dc.product_id, KEY2_PID);
	CHECK_EQ(get_descriptor(g, 1, 0, d, 18), 18);
	n = get_descriptor(g, 3, 2, d, 255); /* product */
	CHECK(n == 2 + 2 * (int)strlen(KEY2_PRODUCT));
	CHECK(configure(g));
	CHECK(ctaphid_init(g) != 0);
	CHECK(ccid_select(g));
	guest_free(g);
	/* As QEMU with server=on after the guest rebooted the chardev. */
	g = accept_k2(5000, NULL);
	CHECK(g != NULL);
	if (g != NULL)
		CHECK(configure(g));
	k2 = g;
}

/* authenticatorSelection (CTAP 2.1 §6.9) waits for a touch: keepalives
 * (status UPNEEDED) flow as pushed interrupt reports until `vkey touch`
 * answers through the control socket, then the response. */
static bool keepalives_until_touch(struct guest *g, uint32_t cid)
{
	static const uint8_t selection = 0x0B;
	uint8_t rpt[64] = { 0 };
	char cmd[600];
	int keepalives = 0, upneeded = 0;

	rpt[0] = (uint8_t)(cid >> 24), rpt[1] = (uint8_t)(cid >> 16);
	rpt[2] = (uint8_t)(cid >> 8), rpt[3] = (uint8_t)cid;
	rpt[4] = CTAPHID_CBOR, rpt[6] = 1, rpt[7] = selection;
	if (guest_interrupt_out(g, EP_HID_OUT, rpt, 64) != 64)
		return false;
	/* PROCESSING (1) first, then UPNEEDED (2) while it waits. */
	while (upneeded < 2) {
		if (guest_interrupt_in(g, rpt, GUEST_MS) != 64 ||
		    rpt[4] != CTAPHID_KEEPALIVE || rpt[7] == 0 || rpt[7] > 2 ||
		    ++keepalives > 50)
			return false;
		upneeded += rpt[7] == 0x02;
	}
	snprintf(cmd, sizeof cmd, "'%s' touch --state '%s' >/dev/null 2>&1",
		 getenv("VKEY"), k3_db);
	if (system(cmd) != 0)
		return false;
	do {
		if (guest_interrupt_in(g, rpt, GUEST_MS) != 64)
			return false;
	} while (rpt[4] == CTAPHID_KEEPALIVE);
	return rpt[4] == CTAPHID_CBOR && rpt[6] == 1 && rpt[7] == 0x00;
}

/* Key 3 listens on TCP loopback, with user presence on prompt. */
static void tcp_listener_serves(void)
{
	struct guest *g = NULL;
	uint32_t cid;
	uint8_t d[18];

	for (int i = 0; i < 50 && g == NULL; i++) {
		g = guest_connect_tcp(k3_port, NULL);
		if (g == NULL)
			usleep(100000);
	}
	CHECK(g != NULL);
	if (g == NULL)
		return;
	CHECK(guest_wait_connect(g, GUEST_MS));
	CHECK_EQ(g->dc.product_id, 0x0001);
	CHECK_EQ(get_descriptor(g, 1, 0, d, 18), 18);
	CHECK(configure(g));
	cid = ctaphid_init(g);
	CHECK(cid != 0);
	CHECK(keepalives_until_touch(g, cid));
	CHECK(ccid_select(g));
	guest_free(g);
}

/* Garbage on key 1 closes that connection only: key 2 keeps working and
 * key 1 takes the next peer. */
static void garbage_closes_only_that_connection(void)
{
	static const uint8_t junk[] = "\x77\x77\x00\x00\x10\x00\x00\x00"
				      "this is not usbredir at all";
	struct guest *g = connect_k1("garbage");
	uint32_t cid;

	CHECK(g != NULL && k2 != NULL);
	if (g == NULL || k2 == NULL) {
		guest_free(g);
		return;
	}
	CHECK(send(g->fd, junk, sizeof junk, MSG_NOSIGNAL) == (ssize_t)sizeof junk);
	CHECK(guest_wait_eof(g, GUEST_MS));
	guest_free(g);
	CHECK(log_has("protocol error"));
	cid = ctaphid_init(k2);
	CHECK(cid != 0);
	CHECK(ctaphid_get_info(k2, cid));
	g = connect_k1("after-garbage");
	CHECK(g != NULL);
	if (g != NULL)
		CHECK(configure(g) && ctaphid_init(g) != 0);
	guest_free(g);
}

/* A peer that sends requests and never reads: vkey stops reading it,
 * then drops it, without holding up anything else. */
static void slow_reader_dropped(void)
{
	struct usb_redir_control_packet_header h = {
		.endpoint = 0x80, .request = 6, .requesttype = 0x80,
		.value = 0x0200, .length = 255,
	};
	struct guest *g = connect_k1("slow");
	int64_t end;
	int sent = 0;

	CHECK(g != NULL);
	if (g == NULL)
		return;
	fcntl(g->fd, F_SETFL, O_NONBLOCK);
	/* Stop reading; queue requests until the pipe is full. */
	for (end = now_ms() + 3000; now_ms() < end; sent++) {
		usbredirparser_send_control_packet(g->p, (uint64_t)sent + 1, &h,
						   NULL, 0);
		if (usbredirparser_do_write(g->p) != 0 &&
		    usbredirparser_has_data_to_write(g->p) > 64)
			break;
	}
	CHECK(sent > 1000);
	/* Key 2 is served meanwhile. */
	if (k2 != NULL)
		CHECK(ctaphid_init(k2) != 0);
	for (end = now_ms() + 20000; now_ms() < end && !log_has("stopped reading");)
		usleep(100000);
	CHECK(log_has("stopped reading"));
	guest_free(g);
	g = connect_k1("after-slow");
	CHECK(g != NULL);
	guest_free(g);
}

/* --- the capture -------------------------------------------------------- */

static int count_lines(const char *cmd)
{
	FILE *f = popen(cmd, "r");
	char line[512];
	int n = 0;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof line, f) != NULL)
		n += line[0] != '\n';
	return pclose(f) == 0 ? n : -1;
}

static void pcap_traffic(void)
{
	struct guest *g = connect_k1("pcap");
	uint32_t cid;

	k2 = accept_k2(5000, NULL);
	CHECK(g != NULL && k2 != NULL);
	if (g != NULL) {
		uint8_t d[512];
		int n;

		guest_reset(g);
		CHECK_EQ(get_descriptor(g, 1, 0, d, 18), 18);
		CHECK_EQ(get_descriptor(g, 2, 0, d, 9), 9);
		n = d[2] | d[3] << 8;
		CHECK_EQ(get_descriptor(g, 2, 0, d, (uint16_t)n), n);
		CHECK(configure(g));
		/* usbhid's probe: SET_IDLE, then the report descriptor,
		 * which is what lets Wireshark call the interface HID. */
		(void)guest_control(g, 0x21, 0x0A, 0, 0, NULL, 0);
		CHECK(guest_control(g, 0x81, 6, 0x2200, 0, d, 255) > 0);
		cid = ctaphid_init(g);
		CHECK(cid != 0 && ctaphid_get_info(g, cid));
		CHECK(ccid_select(g));
	}
	if (k2 != NULL) {
		CHECK(configure(k2));
		CHECK(ctaphid_init(k2) != 0);
	}
	guest_free(g);
	guest_free(k2);
	k2 = NULL;
}

static void pcap_decodes_as_hid_and_ccid(void)
{
	char cmd[1024];

	snprintf(cmd, sizeof cmd, "tshark -r '%s' -Y usbhid 2>/dev/null", pcap_path);
	CHECK(count_lines(cmd) > 0);
	snprintf(cmd, sizeof cmd, "tshark -r '%s' -Y usbccid 2>/dev/null", pcap_path);
	CHECK(count_lines(cmd) > 0);
	/* Both keys, each its own device on bus 1. */
	snprintf(cmd, sizeof cmd, "tshark -r '%s' -T fields -e usb.device_address "
		 "2>/dev/null | sort -u", pcap_path);
	CHECK_EQ(count_lines(cmd), 2);
	/* Submissions and completions, the interrupt and bulk endpoints. */
	snprintf(cmd, sizeof cmd, "tshark -r '%s' -Y \"usb.urb_type == 'S'\" "
		 "2>/dev/null", pcap_path);
	CHECK(count_lines(cmd) > 0);
	snprintf(cmd, sizeof cmd, "tshark -r '%s' -T fields -e usb.endpoint_address "
		 "2>/dev/null | sort -u", pcap_path);
	CHECK(count_lines(cmd) >= 5); /* 0x00, 0x80, 0x01, 0x81, 0x02, 0x82 */
}

static void setup_dir(void)
{
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(k1_sock, sizeof k1_sock, "%s/k1.sock", dir);
	snprintf(q_sock, sizeof q_sock, "%s/qemu.sock", dir);
	snprintf(log_path, sizeof log_path, "%s/vkey.log", dir);
	snprintf(pcap_path, sizeof pcap_path, "%s/usb.pcap", dir);
	q_listen = listen_unix(q_sock);
}

static void cleanup(void)
{
	char cmd[300];

	if (daemon_pid > 0)
		stop_daemon();
	if (check_failures != 0) {
		fprintf(stderr, "--- vkey log (%s) ---\n", log_path);
		snprintf(cmd, sizeof cmd, "tail -60 '%s' >&2", log_path);
		(void)!system(cmd);
	}
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (check_failures == 0 || getenv("KEEP") == NULL)
		(void)!system(cmd);
}

static void stops_cleanly(void)
{
	CHECK_EQ(stop_daemon(), 0);
	CHECK(access(k1_sock, F_OK) != 0); /* the socket is gone */
	CHECK(!log_has("Sanitizer"));
	CHECK(!log_has("runtime error"));
}

int main(int argc, char **argv)
{
	bool pcap = argc > 1 && strcmp(argv[1], "pcap") == 0;

	signal(SIGPIPE, SIG_IGN);
	tape_dir = getenv("VKEY_USBREDIR_TAPES");
	if (pcap && system("tshark --version >/dev/null 2>&1") != 0) {
		fprintf(stderr, "SKIP: no tshark\n");
		return 77;
	}
	setup_dir();
	start_daemon();
	if (pcap) {
		RUN(pcap_traffic);
		RUN(stops_cleanly);
		RUN(pcap_decodes_as_hid_and_ccid);
	} else {
		RUN(hello_announces_caps_and_device);
		RUN(enumerates_like_linux);
		RUN(ctaphid_init_and_get_info_over_interrupt);
		RUN(ccid_power_on_and_select_over_bulk);
		RUN(cancel_answers_pending_bulk_in);
		RUN(bad_requests_answered_inval);
		RUN(reset_then_reenumerate);
		RUN(second_peer_refused_first_kept);
		RUN(reconnect_gets_a_fresh_device);
		RUN(connect_mode_reconnects);
		RUN(tcp_listener_serves);
		RUN(garbage_closes_only_that_connection);
		RUN(slow_reader_dropped);
		guest_free(k2);
		RUN(stops_cleanly);
	}
	cleanup();
	return CHECK_DONE();
}
