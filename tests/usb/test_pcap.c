/* The usbmon capture writer: a capture checked byte by byte against the
 * usbmon mmapped layout, then decoded by tshark (skipped, exit 77, when
 * tshark is not installed), and written from two threads at once. */
#include <errno.h>
#include <ftw.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../check.h"
#include "usb/pcap.h"

#define SKIP 77

static char dir[64];
static char path[128];
static uint8_t file[1 << 20];
static size_t file_len;

static void begin(void)
{
	snprintf(dir, sizeof(dir), "/tmp/vkey-pcap-XXXXXX");
	if (mkdtemp(dir) == NULL) {
		perror("mkdtemp");
		exit(1);
	}
	snprintf(path, sizeof(path), "%s/usb.pcap", dir);
}

static void end(void)
{
	check_rmtree(dir);
}

static void load(void)
{
	FILE *f = fopen(path, "rb");

	CHECK(f != NULL);
	if (f == NULL)
		return;
	file_len = fread(file, 1, sizeof(file), f);
	fclose(f);
}

static uint32_t u32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, 4); /* host order, as the writer's magic says */
	return v;
}

static uint16_t u16(const uint8_t *p)
{
	uint16_t v;
	memcpy(&v, p, 2);
	return v;
}

/* Enumeration-like traffic: a control read, bulk OUT and IN, an
 * interrupt IN and a stalled control request. */
static void write_sample(struct usb_pcap *p)
{
	static const uint8_t dev_desc[18] = { 18, 1, 0x10, 0x02 };
	static const uint8_t ccid_cmd[10] = { 0x65 };
	static const uint8_t ccid_ans[10] = { 0x81 };
	static const uint8_t report[64] = { 0xFF, 0xFF, 0xFF, 0xFF, 0x86 };
	struct usb_setup get = { 0x80, 6, 0x0100, 0, 18 };
	struct usb_setup bad = { 0x80, 6, 0x0600, 0, 10 };

	usb_pcap_event(p, 1, 'S', USB_XFER_CONTROL, 0x80, 3, 2, &get, -115, 18,
		       NULL, 0);
	usb_pcap_event(p, 1, 'C', USB_XFER_CONTROL, 0x80, 3, 2, NULL, 0, 18,
		       dev_desc, sizeof(dev_desc));
	usb_pcap_event(p, 2, 'S', USB_XFER_BULK, 0x02, 3, 2, NULL, -115, 10,
		       ccid_cmd, sizeof(ccid_cmd));
	usb_pcap_event(p, 2, 'C', USB_XFER_BULK, 0x02, 3, 2, NULL, 0, 10,
		       NULL, 0);
	usb_pcap_event(p, 3, 'S', USB_XFER_BULK, 0x82, 3, 2, NULL, -115,
		       65546, NULL, 0);
	usb_pcap_event(p, 3, 'C', USB_XFER_BULK, 0x82, 3, 2, NULL, 0, 10,
		       ccid_ans, sizeof(ccid_ans));
	usb_pcap_event(p, 4, 'C', USB_XFER_INTERRUPT, 0x81, 3, 2, NULL, 0, 64,
		       report, sizeof(report));
	usb_pcap_event(p, 5, 'S', USB_XFER_CONTROL, 0x80, 3, 2, &bad, -115, 10,
		       NULL, 0);
	usb_pcap_event(p, 5, 'C', USB_XFER_CONTROL, 0x80, 3, 2, NULL, -32, 0,
		       NULL, 0);
}

static void header_and_first_record_bytes(void)
{
	struct usb_pcap *p;
	char err[256];
	struct stat st;
	const uint8_t *r, *u;

	begin();
	p = usb_pcap_open(path, err, sizeof(err));
	CHECK(p != NULL);
	if (p == NULL)
		goto out;
	write_sample(p);
	usb_pcap_close(p);
	CHECK_EQ(stat(path, &st), 0);
	CHECK_EQ(st.st_mode & 0777, 0600);
	load();
	CHECK(file_len > 24 + 16 + 64);
	CHECK_EQ(u32(file), 0xa1b2c3d4u);
	CHECK_EQ(u16(file + 4), 2);
	CHECK_EQ(u16(file + 6), 4);
	CHECK_EQ(u32(file + 16), 65535 + 64); /* snaplen */
	CHECK_EQ(u32(file + 20), 220);        /* LINKTYPE_USB_LINUX_MMAPPED */
	r = file + 24;
	CHECK_EQ(u32(r + 8), 64); /* incl_len: header only */
	CHECK_EQ(u32(r + 12), 64);
	u = r + 16;
	CHECK_EQ(u[0], 1); /* id, little endian on this host */
	CHECK_EQ(u[8], 'S');
	CHECK_EQ(u[9], 2);    /* usbmon: control */
	CHECK_EQ(u[10], 0x80);
	CHECK_EQ(u[11], 2);   /* devnum */
	CHECK_EQ(u16(u + 12), 3);
	CHECK_EQ(u[14], 0);   /* setup present */
	CHECK_EQ(u[15], '<'); /* IN submission: data comes later */
	CHECK_EQ((int32_t)u32(u + 28), -115);
	CHECK_EQ(u32(u + 32), 18);
	CHECK_EQ(u32(u + 36), 0);
	CHECK_EQ(u[40], 0x80);
	CHECK_EQ(u[41], 6);
	CHECK_EQ(u16(u + 42), 0x0100);
	CHECK_EQ(u16(u + 46), 18);
	/* second record: the completion with 18 bytes of data */
	r = u + 64;
	CHECK_EQ(u32(r + 8), 64 + 18);
	u = r + 16;
	CHECK_EQ(u[8], 'C');
	CHECK_EQ(u[14], '-');
	CHECK_EQ(u[15], 0);
	CHECK_EQ(u32(u + 36), 18);
	CHECK_EQ(u[64], 18);
	CHECK_EQ(u[65], 1);
	/* third: bulk OUT submission with its data */
	r = u + 64 + 18;
	u = r + 16;
	CHECK_EQ(u[9], 3); /* usbmon: bulk */
	CHECK_EQ(u[10], 0x02);
	CHECK_EQ(u[15], 0);
	CHECK_EQ(u32(u + 36), 10);
	/* fourth: its completion, no data by design */
	r = u + 64 + 10;
	u = r + 16;
	CHECK_EQ(u[15], '>');
	CHECK_EQ(u32(u + 36), 0);
out:
	end();
}

static void open_fails_with_a_sentence(void)
{
	char err[256] = "";

	CHECK(usb_pcap_open("/nonexistent-dir/x.pcap", err, sizeof(err)) ==
	      NULL);
	CHECK(strstr(err, "/nonexistent-dir/x.pcap") != NULL);
}

/* tshark decodes every record as usbmon: transfer type, endpoint,
 * event, lengths and status. */
static int tshark_decodes_capture(void)
{
	static const char *const want[] = {
		"0x02\t0x80\t'S'\t0\t-115", "0x02\t0x80\t'C'\t18\t0",
		"0x03\t0x02\t'S'\t10\t-115", "0x03\t0x02\t'C'\t0\t0",
		"0x03\t0x82\t'S'\t0\t-115",  "0x03\t0x82\t'C'\t10\t0",
		"0x01\t0x81\t'C'\t64\t0",    "0x02\t0x80\t'S'\t0\t-115",
		"0x02\t0x80\t'C'\t0\t-32",
	};
	struct usb_pcap *p;
	char err[256], cmd[512], line[256];
	FILE *f;
	size_t i = 0;
	int skip = 0;

	if (system("command -v tshark >/dev/null 2>&1") != 0) {
		fprintf(stderr, "tshark not installed: skipping its check\n");
		return SKIP;
	}
	begin();
	p = usb_pcap_open(path, err, sizeof(err));
	CHECK(p != NULL);
	if (p == NULL)
		goto out;
	write_sample(p);
	usb_pcap_close(p);
	snprintf(cmd, sizeof(cmd),
		 "tshark -r '%s' -T fields -e usb.transfer_type "
		 "-e usb.endpoint_address -e usb.urb_type -e usb.data_len "
		 "-e usb.urb_status 2>/dev/null",
		 path);
	f = popen(cmd, "r");
	CHECK(f != NULL);
	if (f == NULL)
		goto out;
	while (fgets(line, sizeof(line), f) != NULL) {
		line[strcspn(line, "\n")] = '\0';
		CHECK(i < sizeof(want) / sizeof(want[0]));
		if (i < sizeof(want) / sizeof(want[0]) &&
		    strcmp(line, want[i]) != 0) {
			fprintf(stderr, "record %zu: got \"%s\", want \"%s\"\n",
				i, line, want[i]);
			check_failures++;
		}
		i++;
	}
	CHECK_EQ(pclose(f), 0);
	CHECK_EQ(i, sizeof(want) / sizeof(want[0]));
out:
	end();
	return skip;
}

static struct usb_pcap *shared;

static void *writer(void *arg)
{
	uint8_t data[100];
	uint8_t ep = (uint8_t)(uintptr_t)arg;

	memset(data, ep, sizeof(data));
	for (uint64_t i = 0; i < 500; i++) {
		usb_pcap_event(shared, i * 2 + (ep & 1), 'C', USB_XFER_BULK, ep,
			       1, 1, NULL, 0, (uint32_t)(i % 100), data,
			       i % 100);
	}
	return NULL;
}

/* Records written from two threads never interleave. */
static void two_threads_write_whole_records(void)
{
	pthread_t a, b;
	char err[256];
	size_t off = 24, records = 0;

	begin();
	shared = usb_pcap_open(path, err, sizeof(err));
	CHECK(shared != NULL);
	if (shared == NULL)
		goto out;
	pthread_create(&a, NULL, writer, (void *)(uintptr_t)0x82);
	pthread_create(&b, NULL, writer, (void *)(uintptr_t)0x81);
	pthread_join(a, NULL);
	pthread_join(b, NULL);
	usb_pcap_close(shared);
	load();
	while (off + 16 <= file_len) {
		uint32_t incl = u32(file + off + 8);
		const uint8_t *u = file + off + 16;
		uint32_t cap = u32(u + 36);

		CHECK_EQ(incl, 64 + cap);
		for (uint32_t k = 0; k < cap; k++)
			if (u[64 + k] != u[10]) {
				CHECK(u[64 + k] == u[10]);
				break;
			}
		off += 16 + incl;
		records++;
	}
	CHECK_EQ(off, file_len);
	CHECK_EQ(records, 1000);
out:
	end();
}

int main(void)
{
	int tshark;

	RUN(header_and_first_record_bytes);
	RUN(open_fails_with_a_sentence);
	RUN(two_threads_write_whole_records);
	tshark = tshark_decodes_capture();
	fprintf(stderr, "%s tshark_decodes_capture\n",
		tshark == SKIP ? "skip" : check_failures ? "FAIL" : "ok  ");
	if (check_failures == 0 && tshark == SKIP)
		return SKIP;
	return CHECK_DONE();
}
