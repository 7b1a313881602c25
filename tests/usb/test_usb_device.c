/* The USB device model driven as a host drives it: Linux's enumeration
 * sequence, descriptors byte by byte, standard requests, endpoint halt,
 * requests that must STALL, and the layout transports announce. */
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../check.h"
#include "usb/usb.h"
#include "vkey/vkey.h"

#define DIR_IN 0x80
#define RT_DEVICE_IN 0x80
#define RT_DEVICE_OUT 0x00
#define RT_IFACE_IN 0x81
#define RT_IFACE_OUT 0x01
#define RT_EP_IN 0x82
#define RT_EP_OUT 0x02

static struct vkey *key;
static struct usb_dev *dev;
static char dir[64];
static uint8_t buf[1024];

/* --- harness ------------------------------------------------------------ */

static void begin_with(const struct usb_ident *ident)
{
	struct vkey_options opt = { .up = VKEY_UP_AUTO };
	char path[128], err[256];

	snprintf(dir, sizeof(dir), "/tmp/vkey-usbdev-XXXXXX");
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
	dev = usb_dev_new(key, ident);
	if (dev == NULL) {
		fprintf(stderr, "usb_dev_new failed\n");
		exit(1);
	}
	usb_dev_attach(dev);
}

static void begin(void)
{
	begin_with(NULL);
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

static int ctrl(uint8_t rt, uint8_t req, uint16_t value, uint16_t index,
		uint16_t length)
{
	struct usb_setup s = { rt, req, value, index, length };

	memset(buf, 0xEE, sizeof(buf));
	return usb_dev_control(dev, &s, buf, length);
}

static int get_desc(uint8_t type, uint8_t index, uint16_t lang,
		    uint16_t length)
{
	return ctrl(RT_DEVICE_IN, 6, (uint16_t)(type << 8 | index), lang,
		    length);
}

static unsigned u16le(const uint8_t *p)
{
	return (unsigned)(p[0] | p[1] << 8);
}

static void configure(void)
{
	CHECK_EQ(ctrl(RT_DEVICE_OUT, 9, 1, 0, 0), 0);
}

/* String descriptor index i as ASCII (vkey's strings are ASCII). */
static void get_ascii(uint8_t i, char *out, size_t cap)
{
	int n = get_desc(3, i, 0x0409, 255);
	size_t k = 0;

	CHECK(n >= 2);
	CHECK_EQ(buf[0], n);
	CHECK_EQ(buf[1], 3);
	for (int j = 2; j + 1 < n && k + 1 < cap; j += 2) {
		CHECK_EQ(buf[j + 1], 0);
		out[k++] = (char)buf[j];
	}
	out[k] = '\0';
}

/* --- enumeration -------------------------------------------------------- */

/* Linux: 64-byte device descriptor read, SET_ADDRESS, the 18 bytes, the
 * configuration's 9 bytes then wTotalLength, strings, the BOS. */
static void enumerates_as_linux_does(void)
{
	unsigned total;

	begin();
	CHECK_EQ(get_desc(1, 0, 0, 64), 18);
	CHECK_EQ(buf[0], 18);
	CHECK_EQ(buf[1], 1);
	CHECK_EQ(buf[7], 64); /* bMaxPacketSize0 */
	CHECK_EQ(ctrl(RT_DEVICE_OUT, 5, 7, 0, 0), 0);
	CHECK_EQ(get_desc(1, 0, 0, 18), 18);
	CHECK_EQ(get_desc(2, 0, 0, 9), 9);
	CHECK_EQ(buf[1], 2);
	total = u16le(buf + 2);
	CHECK(total > 9);
	CHECK_EQ(get_desc(2, 0, 0, (uint16_t)total), (int)total);
	CHECK_EQ(buf[9 + 9 + 9 + 7 + 7 + 1], 4); /* IF1 after IF0's 32 */
	CHECK_EQ(get_desc(2, 0, 0, 255), (int)total);
	CHECK_EQ(get_desc(3, 0, 0, 255), 4);
	CHECK_EQ(u16le(buf + 2), 0x0409);
	CHECK(get_desc(3, 2, 0x0409, 255) > 2);
	CHECK(get_desc(3, 1, 0x0409, 255) > 2);
	CHECK(get_desc(3, 3, 0x0409, 255) > 2);
	CHECK_EQ(get_desc(15, 0, 0, 5), 5);
	CHECK_EQ(u16le(buf + 2), 12);
	CHECK_EQ(get_desc(15, 0, 0, 12), 12);
	configure();
	CHECK_EQ(ctrl(RT_DEVICE_IN, 8, 0, 0, 1), 1);
	CHECK_EQ(buf[0], 1);
	end();
}

static void device_descriptor_fields(void)
{
	begin();
	CHECK_EQ(get_desc(1, 0, 0, 18), 18);
	CHECK_EQ(u16le(buf + 2), 0x0210); /* bcdUSB: hosts read the BOS */
	CHECK_EQ(buf[4], 0);              /* class per interface */
	CHECK_EQ(buf[5], 0);
	CHECK_EQ(buf[6], 0);
	CHECK_EQ(u16le(buf + 8), USB_VID_DEFAULT);
	CHECK_EQ(u16le(buf + 10), USB_PID_DEFAULT);
	CHECK_EQ(u16le(buf + 12), 0x0100);
	CHECK_EQ(buf[14], 1);
	CHECK_EQ(buf[15], 2);
	CHECK_EQ(buf[16], 3);
	CHECK_EQ(buf[17], 1); /* bNumConfigurations */
	end();
}

static void partial_reads_cut_at_wlength(void)
{
	begin();
	CHECK_EQ(get_desc(1, 0, 0, 8), 8);
	CHECK_EQ(buf[8], 0xEE); /* nothing past wLength */
	CHECK_EQ(get_desc(2, 0, 0, 4), 4);
	CHECK_EQ(get_desc(3, 2, 0x0409, 2), 2);
	CHECK_EQ(get_desc(15, 0, 0, 0), 0);
	end();
}

/* Walk the configuration: IF0 HID with its HID descriptor and interrupt
 * endpoints, IF1 CCID with the 54-byte class descriptor and bulk ones. */
static void configuration_descriptor_layout(void)
{
	int n;
	size_t off = 9;

	begin();
	n = get_desc(2, 0, 0, 512);
	CHECK(n > 9);
	CHECK_EQ(buf[4], 2); /* bNumInterfaces */
	CHECK_EQ(buf[5], 1); /* bConfigurationValue */
	CHECK_EQ(buf[7] & 0x80, 0x80);
	CHECK_EQ(u16le(buf + 2), n);
	/* IF0 */
	CHECK_EQ(buf[off + 1], 4);
	CHECK_EQ(buf[off + 2], USB_IF_CTAPHID);
	CHECK_EQ(buf[off + 4], 2);
	CHECK_EQ(buf[off + 5], 3); /* HID */
	off += buf[off];
	CHECK_EQ(buf[off + 1], 0x21); /* HID descriptor */
	off += buf[off];
	CHECK_EQ(buf[off + 1], 5);
	CHECK_EQ(buf[off + 2], USB_EP_CTAPHID_IN);
	CHECK_EQ(buf[off + 3], 3); /* interrupt */
	CHECK_EQ(u16le(buf + off + 4), 64);
	CHECK(buf[off + 6] >= 1);
	off += buf[off];
	CHECK_EQ(buf[off + 2], USB_EP_CTAPHID_OUT);
	CHECK_EQ(buf[off + 3], 3);
	off += buf[off];
	/* IF1 */
	CHECK_EQ(buf[off + 1], 4);
	CHECK_EQ(buf[off + 2], USB_IF_CCID);
	CHECK_EQ(buf[off + 5], 0x0B);
	off += buf[off];
	CHECK_EQ(buf[off], 0x36);
	CHECK_EQ(buf[off + 1], 0x21); /* CCID class descriptor */
	CHECK_EQ(u16le(buf + off + 2), 0x0110);
	off += buf[off];
	CHECK_EQ(buf[off + 2], USB_EP_CCID_IN);
	CHECK_EQ(buf[off + 3], 2); /* bulk */
	CHECK_EQ(buf[off + 6], 0);
	off += buf[off];
	CHECK_EQ(buf[off + 2], USB_EP_CCID_OUT);
	CHECK_EQ(buf[off + 3], 2);
	off += buf[off];
	CHECK_EQ(off, (size_t)n);
	end();
}

static void serial_string_is_key_serial(void)
{
	char s[128], want[32];

	begin();
	snprintf(want, sizeof(want), "%u", (unsigned)vkey_serial(key));
	get_ascii(3, s, sizeof(s));
	CHECK(strcmp(s, want) == 0);
	get_ascii(1, s, sizeof(s));
	CHECK(strcmp(s, USB_MANUFACTURER_DEFAULT) == 0);
	get_ascii(2, s, sizeof(s));
	CHECK(strcmp(s, USB_PRODUCT_DEFAULT) == 0);
	end();
}

static void ident_sets_ids_and_strings(void)
{
	struct usb_ident id = { 0x1234, 0x5678, "Example Org", NULL };
	char s[128];

	begin_with(&id);
	CHECK_EQ(get_desc(1, 0, 0, 18), 18);
	CHECK_EQ(u16le(buf + 8), 0x1234);
	CHECK_EQ(u16le(buf + 10), 0x5678);
	get_ascii(1, s, sizeof(s));
	CHECK(strcmp(s, "Example Org") == 0);
	get_ascii(2, s, sizeof(s));
	CHECK(strcmp(s, USB_PRODUCT_DEFAULT) == 0);
	CHECK_EQ(usb_dev_layout(dev)->vid, 0x1234);
	CHECK_EQ(usb_dev_layout(dev)->pid, 0x5678);
	end();
}

/* A string longer than a descriptor holds is cut, and non-ASCII UTF-8
 * becomes UTF-16 (BMP) or '?'. */
static void long_and_utf8_strings(void)
{
	char longname[400];
	struct usb_ident id = { 1, 2, longname,
				"caf\xc3\xa9 \xf0\x9f\x94\x91" };
	int n;

	memset(longname, 'x', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	begin_with(&id);
	n = get_desc(3, 1, 0x0409, 255);
	CHECK(n <= 255 && n >= 250);
	CHECK_EQ(n % 2, 0);
	CHECK_EQ(buf[0], n);
	n = get_desc(3, 2, 0x0409, 255);
	CHECK_EQ(n, 2 + 2 * 6);
	CHECK_EQ(u16le(buf + 2 + 2 * 3), 0x00E9);
	CHECK_EQ(u16le(buf + 2 + 2 * 5), '?');
	end();
}

static void bos_has_usb2_extension_without_lpm(void)
{
	begin();
	CHECK_EQ(get_desc(15, 0, 0, 64), 12);
	CHECK_EQ(buf[0], 5);
	CHECK_EQ(buf[4], 1); /* bNumDeviceCaps */
	CHECK_EQ(buf[5], 7);
	CHECK_EQ(buf[6], 16); /* DEVICE CAPABILITY */
	CHECK_EQ(buf[7], 2);  /* USB 2.0 extension */
	CHECK_EQ(buf[8] | buf[9] | buf[10] | buf[11], 0); /* no LPM */
	end();
}

/* --- configuration, interfaces, status ---------------------------------- */

static void set_configuration_zero_unconfigures(void)
{
	uint8_t b[64];

	begin();
	CHECK_EQ(ctrl(RT_DEVICE_IN, 8, 0, 0, 1), 1);
	CHECK_EQ(buf[0], 0);
	CHECK_EQ(usb_dev_in(dev, USB_EP_CCID_IN, b, sizeof(b)), USB_STALL);
	configure();
	CHECK_EQ(usb_dev_in(dev, USB_EP_CCID_IN, b, sizeof(b)), USB_NAK);
	CHECK_EQ(ctrl(RT_DEVICE_OUT, 9, 0, 0, 0), 0);
	CHECK_EQ(ctrl(RT_DEVICE_IN, 8, 0, 0, 1), 1);
	CHECK_EQ(buf[0], 0);
	CHECK_EQ(usb_dev_in(dev, USB_EP_CCID_IN, b, sizeof(b)), USB_STALL);
	end();
}

static void interfaces_have_only_alt_zero(void)
{
	begin();
	CHECK_EQ(ctrl(RT_IFACE_IN, 10, 0, 1, 1), USB_STALL); /* unconfigured */
	configure();
	CHECK_EQ(ctrl(RT_IFACE_IN, 10, 0, 1, 1), 1);
	CHECK_EQ(buf[0], 0);
	CHECK_EQ(ctrl(RT_IFACE_IN, 10, 0, 0, 1), 1);
	CHECK_EQ(ctrl(RT_IFACE_OUT, 11, 0, 1, 0), 0);
	CHECK_EQ(ctrl(RT_IFACE_OUT, 11, 1, 1, 0), USB_STALL);
	CHECK_EQ(ctrl(RT_IFACE_IN, 10, 0, 5, 1), USB_STALL);
	end();
}

static void get_status_of_device_interface_endpoint(void)
{
	begin();
	configure();
	CHECK_EQ(ctrl(RT_DEVICE_IN, 0, 0, 0, 2), 2);
	CHECK_EQ(buf[0], 0);
	CHECK_EQ(buf[1], 0);
	CHECK_EQ(ctrl(RT_DEVICE_OUT, 3, 1, 0, 0), 0); /* REMOTE_WAKEUP */
	CHECK_EQ(ctrl(RT_DEVICE_IN, 0, 0, 0, 2), 2);
	CHECK_EQ(buf[0], 2);
	CHECK_EQ(ctrl(RT_DEVICE_OUT, 1, 1, 0, 0), 0);
	CHECK_EQ(ctrl(RT_DEVICE_IN, 0, 0, 0, 2), 2);
	CHECK_EQ(buf[0], 0);
	CHECK_EQ(ctrl(RT_IFACE_IN, 0, 0, 1, 2), 2);
	CHECK_EQ(ctrl(RT_EP_IN, 0, 0, USB_EP_CCID_IN, 2), 2);
	CHECK_EQ(buf[0], 0);
	CHECK_EQ(ctrl(RT_EP_IN, 0, 0, 0x00, 2), 2);
	CHECK_EQ(ctrl(RT_EP_IN, 0, 0, 0x83, 2), USB_STALL);
	end();
}

/* A halted endpoint STALLs until CLEAR_FEATURE(ENDPOINT_HALT). */
static void endpoint_halt_and_clear(void)
{
	uint8_t b[64];
	static const uint8_t status[10] = { 0x65 };

	begin();
	configure();
	CHECK_EQ(ctrl(RT_EP_OUT, 3, 0, USB_EP_CCID_IN, 0), 0);
	CHECK_EQ(ctrl(RT_EP_IN, 0, 0, USB_EP_CCID_IN, 2), 2);
	CHECK_EQ(buf[0], 1);
	CHECK_EQ(usb_dev_in(dev, USB_EP_CCID_IN, b, sizeof(b)), USB_STALL);
	CHECK_EQ(usb_dev_out(dev, USB_EP_CCID_OUT, status, sizeof(status)),
		 0);
	CHECK_EQ(ctrl(RT_EP_OUT, 1, 0, USB_EP_CCID_IN, 0), 0);
	CHECK_EQ(ctrl(RT_EP_IN, 0, 0, USB_EP_CCID_IN, 2), 2);
	CHECK_EQ(buf[0], 0);
	CHECK_EQ(usb_dev_in(dev, USB_EP_CCID_IN, b, sizeof(b)), 10);
	CHECK_EQ(b[0], 0x81);
	CHECK_EQ(ctrl(RT_EP_OUT, 3, 0, USB_EP_CCID_OUT, 0), 0);
	CHECK_EQ(usb_dev_out(dev, USB_EP_CCID_OUT, status, sizeof(status)),
		 USB_STALL);
	CHECK_EQ(ctrl(RT_EP_OUT, 1, 0, USB_EP_CCID_OUT, 0), 0);
	CHECK_EQ(usb_dev_out(dev, USB_EP_CCID_OUT, status, sizeof(status)),
		 0);
	CHECK_EQ(ctrl(RT_EP_OUT, 3, 0, 0x05, 0), USB_STALL); /* no such EP */
	end();
}

/* Requests the device does not implement answer STALL. */
static void unknown_requests_stall(void)
{
	begin();
	CHECK_EQ(get_desc(6, 0, 0, 10), USB_STALL); /* device qualifier */
	CHECK_EQ(get_desc(7, 0, 0, 9), USB_STALL);  /* other speed config */
	CHECK_EQ(get_desc(2, 1, 0, 9), USB_STALL);  /* no 2nd configuration */
	CHECK_EQ(get_desc(3, 9, 0x0409, 255), USB_STALL);
	CHECK_EQ(get_desc(0x44, 0, 0, 9), USB_STALL);
	CHECK_EQ(ctrl(RT_DEVICE_OUT, 7, 0x0100, 0, 0), USB_STALL);
	CHECK_EQ(ctrl(RT_EP_IN, 12, 0, USB_EP_CCID_IN, 2), USB_STALL);
	CHECK_EQ(ctrl(RT_DEVICE_OUT, 9, 2, 0, 0), USB_STALL);
	CHECK_EQ(ctrl(RT_DEVICE_OUT, 5, 200, 0, 0), USB_STALL);
	CHECK_EQ(ctrl(RT_DEVICE_IN, 0, 0, 0, 4), USB_STALL);
	CHECK_EQ(ctrl(RT_DEVICE_OUT, 3, 7, 0, 0), USB_STALL);
	CHECK_EQ(ctrl(0xC0, 1, 0, 0, 8), USB_STALL); /* vendor, device */
	CHECK_EQ(ctrl(0x20, 1, 0, 0, 0), USB_STALL); /* class, device */
	CHECK_EQ(ctrl(RT_DEVICE_IN, 0x99, 0, 0, 8), USB_STALL);
	configure();
	CHECK_EQ(ctrl(0xA1, 0x55, 0, USB_IF_CCID, 8), USB_STALL);
	CHECK_EQ(ctrl(0xA1, 1, 0, 7, 8), USB_STALL); /* no interface 7 */
	CHECK_EQ(ctrl(RT_DEVICE_IN, 8, 0, 0, 1), 1); /* still answers */
	end();
}

/* The HID report descriptor is asked from the interface: routed to
 * the CTAPHID class. */
static void interface_get_descriptor_goes_to_class(void)
{
	begin();
	CHECK(ctrl(RT_IFACE_IN, 6, 0x2200, USB_IF_CTAPHID, 256) > 0);
	CHECK_EQ(ctrl(RT_IFACE_IN, 6, 0x2200, USB_IF_CCID, 256), USB_STALL);
	end();
}

/* --- bus events, notify, layout ---------------------------------------- */

static int notified;

static void count_notify(void *arg)
{
	(void)arg;
	__atomic_add_fetch(&notified, 1, __ATOMIC_SEQ_CST);
}

static void class_notify_reaches_transport(void)
{
	static const uint8_t status[10] = { 0x65 };
	uint8_t b[64];

	begin();
	configure();
	notified = 0;
	usb_dev_set_notify(dev, count_notify, NULL);
	CHECK_EQ(usb_dev_out(dev, USB_EP_CCID_OUT, status, sizeof(status)),
		 0);
	CHECK(__atomic_load_n(&notified, __ATOMIC_SEQ_CST) >= 1);
	CHECK_EQ(usb_dev_in(dev, USB_EP_CCID_IN, b, sizeof(b)), 10);
	usb_dev_set_notify(dev, NULL, NULL);
	end();
}

static void reset_returns_to_default_state(void)
{
	static const uint8_t status[10] = { 0x65 };
	uint8_t b[64];

	begin();
	CHECK_EQ(ctrl(RT_DEVICE_OUT, 5, 9, 0, 0), 0);
	configure();
	CHECK_EQ(usb_dev_out(dev, USB_EP_CCID_OUT, status, sizeof(status)),
		 0);
	usb_dev_reset(dev);
	CHECK_EQ(ctrl(RT_DEVICE_IN, 8, 0, 0, 1), 1);
	CHECK_EQ(buf[0], 0);
	configure();
	/* the queued answer went with the reset */
	CHECK_EQ(usb_dev_in(dev, USB_EP_CCID_IN, b, sizeof(b)), USB_NAK);
	CHECK(usb_dev_key(dev) == key);
	end();
}

static void layout_matches_descriptors(void)
{
	const struct usb_layout *l;
	int n;

	begin();
	l = usb_dev_layout(dev);
	CHECK_EQ(get_desc(1, 0, 0, 18), 18);
	CHECK_EQ(l->bcd_usb, u16le(buf + 2));
	CHECK_EQ(l->dev_class, buf[4]);
	CHECK_EQ(l->vid, u16le(buf + 8));
	CHECK_EQ(l->pid, u16le(buf + 10));
	CHECK_EQ(l->bcd_device, u16le(buf + 12));
	n = get_desc(2, 0, 0, 512);
	CHECK_EQ(l->configuration, buf[5]);
	CHECK_EQ(l->n_ifaces, buf[4]);
	size_t ifs = 0, eps = 0;
	uint8_t cur_if = 0;
	for (int off = 0; off < n; off += buf[off]) {
		if (buf[off + 1] == 4) {
			CHECK(ifs < l->n_ifaces);
			CHECK_EQ(l->ifaces[ifs].number, buf[off + 2]);
			CHECK_EQ(l->ifaces[ifs].cls, buf[off + 5]);
			CHECK_EQ(l->ifaces[ifs].subclass, buf[off + 6]);
			CHECK_EQ(l->ifaces[ifs].protocol, buf[off + 7]);
			cur_if = buf[off + 2];
			ifs++;
		} else if (buf[off + 1] == 5) {
			const struct usb_ep_info *e = &l->eps[eps++];
			static const int usb_type[] = {
				[USB_XFER_CONTROL] = 0, [USB_XFER_ISO] = 1,
				[USB_XFER_BULK] = 2, [USB_XFER_INTERRUPT] = 3
			};
			CHECK(eps <= l->n_eps);
			CHECK_EQ(e->address, buf[off + 2]);
			CHECK_EQ(usb_type[e->type], buf[off + 3] & 3);
			CHECK_EQ(e->max_packet, u16le(buf + off + 4));
			CHECK_EQ(e->interval, buf[off + 6]);
			CHECK_EQ(e->interface, cur_if);
		}
		if (buf[off] == 0)
			break;
	}
	CHECK_EQ(ifs, l->n_ifaces);
	CHECK_EQ(eps, l->n_eps);
	end();
}

static void two_devices_one_process(void)
{
	struct vkey *k1;
	struct usb_dev *d1;
	char s0[32], s1[32];

	begin();
	k1 = key;
	d1 = dev;
	snprintf(s0, sizeof(s0), "%u", (unsigned)vkey_serial(k1));
	{
		char dir1[64];
		memcpy(dir1, dir, sizeof(dir));
		begin(); /* a second key and device */
		snprintf(s1, sizeof(s1), "%u", (unsigned)vkey_serial(key));
		get_ascii(3, s1, sizeof(s1));
		CHECK(strcmp(s1, s0) != 0);
		end();
		memcpy(dir, dir1, sizeof(dir));
	}
	key = k1;
	dev = d1;
	get_ascii(3, s1, sizeof(s1));
	CHECK(strcmp(s1, s0) == 0);
	end();
}

int main(void)
{
	RUN(enumerates_as_linux_does);
	RUN(device_descriptor_fields);
	RUN(partial_reads_cut_at_wlength);
	RUN(configuration_descriptor_layout);
	RUN(serial_string_is_key_serial);
	RUN(ident_sets_ids_and_strings);
	RUN(long_and_utf8_strings);
	RUN(bos_has_usb2_extension_without_lpm);
	RUN(set_configuration_zero_unconfigures);
	RUN(interfaces_have_only_alt_zero);
	RUN(get_status_of_device_interface_endpoint);
	RUN(endpoint_halt_and_clear);
	RUN(unknown_requests_stall);
	RUN(interface_get_descriptor_goes_to_class);
	RUN(class_notify_reaches_transport);
	RUN(reset_returns_to_default_state);
	RUN(layout_matches_descriptors);
	RUN(two_devices_one_process);
	return CHECK_DONE();
}
