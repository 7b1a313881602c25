/* The HID side of the CTAPHID interface (CTAP 2.1 §11.2.8, HID 1.11): the
 * FIDO report descriptor, the HID descriptor, HID class requests. */
#include <string.h>

#include "usb/ctaphid.h"

/* §11.2.8.2: FIDO usage page, CTAPHID usage, 64-byte input and output
 * reports, no report ID. */
static const uint8_t report_desc[] = {
	0x06, 0xD0, 0xF1, /* Usage Page (FIDO Alliance) */
	0x09, 0x01,       /* Usage (CTAPHID) */
	0xA1, 0x01,       /* Collection (Application) */
	0x09, 0x20,       /*   Usage (Input Report Data) */
	0x15, 0x00,       /*   Logical Minimum (0) */
	0x26, 0xFF, 0x00, /*   Logical Maximum (255) */
	0x75, 0x08,       /*   Report Size (8) */
	0x95, HID_RPT_SIZE, /* Report Count (64) */
	0x81, 0x02,       /*   Input (Data, Var, Abs) */
	0x09, 0x21,       /*   Usage (Output Report Data) */
	0x15, 0x00,       /*   Logical Minimum (0) */
	0x26, 0xFF, 0x00, /*   Logical Maximum (255) */
	0x75, 0x08,       /*   Report Size (8) */
	0x95, HID_RPT_SIZE, /* Report Count (64) */
	0x91, 0x02,       /*   Output (Data, Var, Abs) */
	0xC0,             /* End Collection */
};
_Static_assert(sizeof(report_desc) == 34, "the §11.2.8.2 descriptor");

/* HID 1.11 §6.2.1: the HID descriptor, between the interface and its
 * endpoints. Multi-byte fields little-endian. */
struct hid_descriptor {
	uint8_t bLength;
	uint8_t bDescriptorType;
	uint8_t bcdHID[2];
	uint8_t bCountryCode;
	uint8_t bNumDescriptors;
	uint8_t bClassDescriptorType;
	uint8_t wDescriptorLength[2];
};
_Static_assert(sizeof(struct hid_descriptor) == 9, "HID 1.11 §6.2.1");

#define HID_DT_HID 0x21
#define HID_DT_REPORT 0x22

/* HID 1.11 §7.2: class requests. */
#define HID_GET_REPORT 0x01
#define HID_GET_IDLE 0x02
#define HID_GET_PROTOCOL 0x03
#define HID_SET_REPORT 0x09
#define HID_SET_IDLE 0x0A
#define HID_SET_PROTOCOL 0x0B
#define HID_REPORT_INPUT 0x01
#define HID_REPORT_OUTPUT 0x02

#define USB_GET_DESCRIPTOR 0x06
#define RT_STD_IN_IFACE 0x81
#define RT_CLASS_IN_IFACE 0xA1
#define RT_CLASS_OUT_IFACE 0x21

int hid_class_descriptor(void *cls, struct wbuf *out)
{
	struct hid_descriptor d = {
		.bLength = sizeof(d),
		.bDescriptorType = HID_DT_HID,
		.bcdHID = { 0x11, 0x01 }, /* 1.11 */
		.bCountryCode = 0,
		.bNumDescriptors = 1,
		.bClassDescriptorType = HID_DT_REPORT,
		.wDescriptorLength = { sizeof(report_desc), 0 },
	};

	(void)cls;
	return wbuf_put(out, &d, sizeof(d));
}

/* An IN answer: at most len bytes of p. */
static int answer(uint8_t *data, size_t len, const void *p, size_t n)
{
	if (n > len)
		n = len;
	if (n > 0)
		memcpy(data, p, n);
	return (int)n;
}

static int get_descriptor(const struct usb_setup *s, uint8_t *data,
			  size_t len)
{
	uint8_t d[16];
	struct wbuf w = wbuf_init(d, sizeof(d));

	switch (s->wValue >> 8) {
	case HID_DT_REPORT:
		return answer(data, len, report_desc, sizeof(report_desc));
	case HID_DT_HID:
		if (hid_class_descriptor(NULL, &w) != 0)
			return USB_STALL;
		return answer(data, len, d, w.len);
	default:
		return USB_STALL;
	}
}

static int class_in(struct hid *h, const struct usb_setup *s, uint8_t *data,
		    size_t len)
{
	static const uint8_t zeros[HID_RPT_SIZE];
	uint8_t v;

	switch (s->bRequest) {
	case HID_GET_REPORT: /* no state to report: an empty input report */
		if (s->wValue >> 8 != HID_REPORT_INPUT)
			return USB_STALL;
		return answer(data, len, zeros, sizeof(zeros));
	case HID_GET_IDLE:
		pthread_mutex_lock(&h->mu);
		v = h->idle_rate;
		pthread_mutex_unlock(&h->mu);
		return answer(data, len, &v, 1);
	case HID_GET_PROTOCOL:
		pthread_mutex_lock(&h->mu);
		v = h->protocol;
		pthread_mutex_unlock(&h->mu);
		return answer(data, len, &v, 1);
	default:
		return USB_STALL;
	}
}

static int class_out(struct hid *h, const struct usb_setup *s,
		     const uint8_t *data, size_t len)
{
	int r = 0;

	pthread_mutex_lock(&h->mu);
	switch (s->bRequest) {
	case HID_SET_REPORT: /* an output report through the control pipe */
		if (s->wValue >> 8 != HID_REPORT_OUTPUT ||
		    (s->wValue & 0xFF) != 0 || len != HID_RPT_SIZE)
			r = USB_STALL;
		else
			hid_reports(h, data, len);
		break;
	case HID_SET_IDLE:
		h->idle_rate = (uint8_t)(s->wValue >> 8);
		break;
	case HID_SET_PROTOCOL:
		h->protocol = (uint8_t)(s->wValue & 0xFF);
		break;
	default:
		r = USB_STALL;
		break;
	}
	hid_unlock(h);
	return r;
}

int hid_control(void *cls, const struct usb_setup *s, uint8_t *data,
		size_t len)
{
	struct hid *h = cls;

	switch (s->bmRequestType) {
	case RT_STD_IN_IFACE:
		if (s->bRequest != USB_GET_DESCRIPTOR)
			return USB_STALL;
		return get_descriptor(s, data, len);
	case RT_CLASS_IN_IFACE:
		return class_in(h, s, data, len);
	case RT_CLASS_OUT_IFACE:
		return class_out(h, s, data, len);
	default:
		return USB_STALL;
	}
}
