/* The USB device model: descriptors and USB 2.0 chapter 9 standard
 * requests for a full-speed composite key; everything class-specific
 * goes through the class table (usb_class.h). */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/buf.h"
#include "core/log.h"
#include "usb/usb.h"
#include "usb/usb_class.h"

/* USB 2.0 Table 9-4: standard request codes. */
#define GET_STATUS 0
#define CLEAR_FEATURE 1
#define SET_FEATURE 3
#define SET_ADDRESS 5
#define GET_DESCRIPTOR 6
#define SET_DESCRIPTOR 7
#define GET_CONFIGURATION 8
#define SET_CONFIGURATION 9
#define GET_INTERFACE 10
#define SET_INTERFACE 11
#define SYNCH_FRAME 12

/* Table 9-5: descriptor types; USB 2.0 ECN / USB 3.2 §9.6.2 for BOS. */
#define DESC_DEVICE 1
#define DESC_CONFIGURATION 2
#define DESC_STRING 3
#define DESC_INTERFACE 4
#define DESC_ENDPOINT 5
#define DESC_BOS 15
#define DESC_DEVICE_CAPABILITY 16
#define CAP_USB20_EXTENSION 2

/* Table 9-6: feature selectors. */
#define ENDPOINT_HALT 0
#define DEVICE_REMOTE_WAKEUP 1

/* bmRequestType fields (§9.3.1). */
#define RT_DIR_IN 0x80
#define RT_TYPE_MASK 0x60
#define RT_TYPE_STANDARD 0x00
#define RT_RECIP_MASK 0x1F
#define RT_RECIP_DEVICE 0
#define RT_RECIP_INTERFACE 1
#define RT_RECIP_ENDPOINT 2

#define STR_LANGID 0
#define STR_MANUFACTURER 1
#define STR_PRODUCT 2
#define STR_SERIAL 3
#define LANGID_EN_US 0x0409

#define BCD_USB 0x0210 /* 2.1: hosts read the BOS */
#define BCD_DEVICE 0x0100
#define CONFIG_VALUE 1
#define CONFIG_ATTRIBUTES 0x80 /* bus powered, D7 reserved as one */
#define CONFIG_MAX_POWER 50    /* 100 mA in 2 mA units */

#define DEVICE_DESC_LEN 18
#define CONFIG_DESC_LEN 9
#define IFACE_DESC_LEN 9
#define EP_DESC_LEN 7
#define BOS_LEN 12
#define STRING_MAX 255
#define CONFIG_MAX 256
#define N_EP_SLOTS 32 /* 16 numbers x 2 directions */

/* The class table: which class sits on which interface and endpoints. */
struct usb_slot {
	const struct usb_class_ops *ops;
	uint8_t iface, ep_in, ep_out;
};

static const struct usb_slot slots[] = {
	{ &usb_ctaphid_class, USB_IF_CTAPHID, USB_EP_CTAPHID_IN,
	  USB_EP_CTAPHID_OUT },
	{ &usb_ccid_class, USB_IF_CCID, USB_EP_CCID_IN, USB_EP_CCID_OUT },
};
#define N_SLOTS (sizeof(slots) / sizeof(slots[0]))

struct usb_dev {
	struct vkey *key;
	struct usb_layout layout;
	char manufacturer[128], product[128], serial[16];
	uint8_t config[CONFIG_MAX];
	size_t config_len;
	void *cls[N_SLOTS];

	/* Bus state, under lock (the transport's calls). */
	pthread_mutex_t lock;
	uint8_t address, configuration;
	bool remote_wakeup;
	bool halted[N_EP_SLOTS];

	/* The transport's callback, under notify_lock (any thread), and a
	 * count of class notifications for usb_dev_wait_idle. */
	pthread_mutex_t notify_lock;
	pthread_cond_t notify_cv;
	uint64_t notifications;
	void (*notify)(void *arg);
	void *notify_arg;
};

/* usb_dev_wait_idle re-checks at least this often, so a class whose
 * command ends without a notification (an answer dropped after a reset)
 * is still seen idle in time. */
#define IDLE_POLL_MS 20

static int put_u16le(struct wbuf *w, uint16_t v)
{
	uint8_t b[2] = { (uint8_t)v, (uint8_t)(v >> 8) };
	return wbuf_put(w, b, 2);
}

static int put_u32le(struct wbuf *w, uint32_t v)
{
	uint8_t b[4] = { (uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16),
			 (uint8_t)(v >> 24) };
	return wbuf_put(w, b, 4);
}

static size_t ep_slot(uint8_t ep)
{
	return (size_t)((ep & 0x0F) | ((ep & 0x80) ? 0x10 : 0));
}

/* Index into slots[] of the class owning an endpoint or interface. */
static int slot_of_ep(uint8_t ep)
{
	for (size_t i = 0; i < N_SLOTS; i++)
		if (slots[i].ep_in == ep || slots[i].ep_out == ep)
			return (int)i;
	return -1;
}

static int slot_of_iface(uint16_t iface)
{
	for (size_t i = 0; i < N_SLOTS; i++)
		if (slots[i].iface == iface)
			return (int)i;
	return -1;
}

/* A class's notify: forward to the transport, from whatever thread. */
static void class_notify(void *arg)
{
	struct usb_dev *d = arg;

	pthread_mutex_lock(&d->notify_lock);
	d->notifications++;
	pthread_cond_broadcast(&d->notify_cv);
	if (d->notify != NULL)
		d->notify(d->notify_arg);
	pthread_mutex_unlock(&d->notify_lock);
}

/* --- descriptors ------------------------------------------------------- */

/* §9.6.1 */
static size_t device_descriptor(const struct usb_dev *d, uint8_t *b)
{
	struct wbuf w = wbuf_init(b, DEVICE_DESC_LEN);

	wbuf_u8(&w, DEVICE_DESC_LEN);
	wbuf_u8(&w, DESC_DEVICE);
	put_u16le(&w, d->layout.bcd_usb);
	wbuf_u8(&w, d->layout.dev_class); /* 0: per interface */
	wbuf_u8(&w, d->layout.dev_subclass);
	wbuf_u8(&w, d->layout.dev_protocol);
	wbuf_u8(&w, USB_EP0_MAX_PACKET);
	put_u16le(&w, d->layout.vid);
	put_u16le(&w, d->layout.pid);
	put_u16le(&w, d->layout.bcd_device);
	wbuf_u8(&w, STR_MANUFACTURER);
	wbuf_u8(&w, STR_PRODUCT);
	wbuf_u8(&w, STR_SERIAL);
	wbuf_u8(&w, 1); /* bNumConfigurations */
	return w.len;
}

/* §9.6.5, §9.6.6: one interface, its class descriptor, two endpoints. */
static int iface_descriptors(struct usb_dev *d, size_t i, struct wbuf *w)
{
	const struct usb_class_ops *ops = slots[i].ops;
	uint8_t eps[2] = { slots[i].ep_in, slots[i].ep_out };

	wbuf_u8(w, IFACE_DESC_LEN);
	wbuf_u8(w, DESC_INTERFACE);
	wbuf_u8(w, slots[i].iface);
	wbuf_u8(w, 0); /* bAlternateSetting */
	wbuf_u8(w, 2); /* bNumEndpoints */
	wbuf_u8(w, ops->cls);
	wbuf_u8(w, ops->subclass);
	wbuf_u8(w, ops->protocol);
	wbuf_u8(w, 0); /* iInterface */
	if (ops->class_descriptor(d->cls[i], w) != 0)
		return -1;
	for (size_t e = 0; e < 2; e++) {
		wbuf_u8(w, EP_DESC_LEN);
		wbuf_u8(w, DESC_ENDPOINT);
		wbuf_u8(w, eps[e]);
		wbuf_u8(w, (uint8_t)ops->ep_type); /* bmAttributes */
		put_u16le(w, USB_MAX_PACKET);
		wbuf_u8(w, ops->ep_type == USB_XFER_INTERRUPT ? ops->interval
							      : 0);
	}
	return w->overflow ? -1 : 0;
}

/* §9.6.3: the whole configuration, built once at usb_dev_new. */
static int build_config(struct usb_dev *d)
{
	struct wbuf w = wbuf_init(d->config, sizeof(d->config));

	wbuf_u8(&w, CONFIG_DESC_LEN);
	wbuf_u8(&w, DESC_CONFIGURATION);
	put_u16le(&w, 0); /* wTotalLength, patched below */
	wbuf_u8(&w, (uint8_t)N_SLOTS);
	wbuf_u8(&w, CONFIG_VALUE);
	wbuf_u8(&w, 0); /* iConfiguration */
	wbuf_u8(&w, CONFIG_ATTRIBUTES);
	wbuf_u8(&w, CONFIG_MAX_POWER);
	for (size_t i = 0; i < N_SLOTS; i++)
		if (iface_descriptors(d, i, &w) != 0)
			return -1;
	d->config[2] = (uint8_t)w.len;
	d->config[3] = (uint8_t)(w.len >> 8);
	d->config_len = w.len;
	return 0;
}

/* USB 3.2 §9.6.2 BOS with a USB 2.0 Extension (USB 2.0 LPM ECN): no LPM. */
static size_t bos_descriptor(uint8_t *b)
{
	struct wbuf w = wbuf_init(b, BOS_LEN);

	wbuf_u8(&w, 5);
	wbuf_u8(&w, DESC_BOS);
	put_u16le(&w, BOS_LEN);
	wbuf_u8(&w, 1); /* bNumDeviceCaps */
	wbuf_u8(&w, 7);
	wbuf_u8(&w, DESC_DEVICE_CAPABILITY);
	wbuf_u8(&w, CAP_USB20_EXTENSION);
	put_u32le(&w, 0); /* bmAttributes: LPM not supported */
	return w.len;
}

/* Continuation bytes after a UTF-8 lead byte. */
static size_t utf8_tail(uint8_t lead)
{
	if (lead < 0x80)
		return 0;
	if ((lead & 0xE0) == 0xC0)
		return 1;
	if ((lead & 0xF0) == 0xE0)
		return 2;
	return 3;
}

/* One code point from UTF-8; malformed bytes and characters outside the
 * BMP become '?', so a descriptor is always valid UTF-16. Never reads
 * past the terminating NUL (it is not a continuation byte). */
static uint16_t utf8_next(const char **s)
{
	const uint8_t *p = (const uint8_t *)*s;
	uint32_t c = p[0];
	size_t n = utf8_tail(p[0]);

	if (n > 0)
		c &= 0x3Fu >> n;
	for (size_t i = 1; i <= n; i++) {
		if ((p[i] & 0xC0) != 0x80) {
			*s += i;
			return '?';
		}
		c = c << 6 | (p[i] & 0x3Fu);
	}
	*s += n + 1;
	if (c > 0xFFFF || (c >= 0xD800 && c <= 0xDFFF))
		return '?';
	return (uint16_t)c;
}

/* §9.6.7: UTF-16LE, truncated to what fits in 255 bytes. */
static size_t string_descriptor(const char *s, uint8_t *b)
{
	struct wbuf w = wbuf_init(b, STRING_MAX);

	wbuf_u8(&w, 0);
	wbuf_u8(&w, DESC_STRING);
	while (*s != '\0' && wbuf_room(&w) >= 2)
		put_u16le(&w, utf8_next(&s));
	b[0] = (uint8_t)w.len;
	return w.len;
}

static int get_string(const struct usb_dev *d, uint8_t index, uint8_t *b)
{
	switch (index) {
	case STR_LANGID:
		b[0] = 4;
		b[1] = DESC_STRING;
		b[2] = (uint8_t)LANGID_EN_US;
		b[3] = (uint8_t)(LANGID_EN_US >> 8);
		return 4;
	case STR_MANUFACTURER:
		return (int)string_descriptor(d->manufacturer, b);
	case STR_PRODUCT:
		return (int)string_descriptor(d->product, b);
	case STR_SERIAL:
		return (int)string_descriptor(d->serial, b);
	default:
		return USB_STALL;
	}
}

/* Copy a descriptor into the host's buffer, cut at wLength (§9.4.3). */
static int reply(const struct usb_setup *s, uint8_t *data, size_t len,
		 const uint8_t *src, size_t n)
{
	size_t room = s->wLength < len ? s->wLength : len;

	if (n > room)
		n = room;
	if (n > 0)
		memcpy(data, src, n);
	return (int)n;
}

/* §9.4.3 GET_DESCRIPTOR to the device. Device qualifier and other-speed
 * configuration STALL: a full-speed-only device has none (§9.6.2). */
static int get_descriptor(struct usb_dev *d, const struct usb_setup *s,
			  uint8_t *data, size_t len)
{
	uint8_t type = (uint8_t)(s->wValue >> 8), index = (uint8_t)s->wValue;
	uint8_t b[STRING_MAX];
	int n;

	switch (type) {
	case DESC_DEVICE:
		n = (int)device_descriptor(d, b);
		break;
	case DESC_CONFIGURATION:
		if (index != 0)
			return USB_STALL;
		return reply(s, data, len, d->config, d->config_len);
	case DESC_STRING:
		n = get_string(d, index, b);
		break;
	case DESC_BOS:
		n = (int)bos_descriptor(b);
		break;
	default:
		n = USB_STALL;
		break;
	}
	if (n < 0)
		return n;
	return reply(s, data, len, b, (size_t)n);
}

/* --- standard requests ------------------------------------------------- */

static bool ep_valid(uint8_t ep)
{
	return (ep & 0x7F) == 0 || slot_of_ep(ep) >= 0;
}

static void reset_classes(struct usb_dev *d)
{
	for (size_t i = 0; i < N_SLOTS; i++)
		slots[i].ops->reset(d->cls[i]);
}

static void clear_halts(struct usb_dev *d)
{
	memset(d->halted, 0, sizeof(d->halted));
}

/* §9.4.5 */
static int get_status(struct usb_dev *d, const struct usb_setup *s,
		      uint8_t *data, size_t len)
{
	uint8_t st[2] = { 0, 0 };
	uint8_t recip = s->bmRequestType & RT_RECIP_MASK;

	if (s->wValue != 0 || s->wLength != 2)
		return USB_STALL;
	if (recip == RT_RECIP_DEVICE) {
		st[0] = d->remote_wakeup ? 0x02 : 0x00; /* bus powered */
	} else if (recip == RT_RECIP_INTERFACE) {
		if (d->configuration == 0 || slot_of_iface(s->wIndex) < 0)
			return USB_STALL;
	} else if (recip == RT_RECIP_ENDPOINT) {
		uint8_t ep = (uint8_t)s->wIndex;
		if (s->wIndex > 0xFF || !ep_valid(ep) ||
		    (d->configuration == 0 && (ep & 0x7F) != 0))
			return USB_STALL;
		st[0] = d->halted[ep_slot(ep)] ? 0x01 : 0x00;
	} else {
		return USB_STALL;
	}
	return reply(s, data, len, st, sizeof(st));
}

/* §9.4.1, §9.4.9. Halting EP0 is accepted and has no lasting effect
 * (§8.5.3.4: a control pipe's STALL clears at the next SETUP). */
static int set_feature(struct usb_dev *d, const struct usb_setup *s,
		       bool on)
{
	uint8_t recip = s->bmRequestType & RT_RECIP_MASK;
	uint8_t ep = (uint8_t)s->wIndex;

	if (s->wLength != 0)
		return USB_STALL;
	if (recip == RT_RECIP_DEVICE && s->wValue == DEVICE_REMOTE_WAKEUP) {
		d->remote_wakeup = on;
		return 0;
	}
	if (recip != RT_RECIP_ENDPOINT || s->wValue != ENDPOINT_HALT ||
	    s->wIndex > 0xFF || !ep_valid(ep))
		return USB_STALL;
	if ((ep & 0x7F) != 0) {
		if (d->configuration == 0)
			return USB_STALL;
		d->halted[ep_slot(ep)] = on;
	}
	return 0;
}

/* §9.4.6: addresses 0..127; the transport owns the actual bus address. */
static int set_address(struct usb_dev *d, const struct usb_setup *s)
{
	if (s->wValue > 127 || s->wIndex != 0 || s->wLength != 0 ||
	    d->configuration != 0)
		return USB_STALL;
	d->address = (uint8_t)s->wValue;
	return 0;
}

/* §9.4.7: 0 returns to the Address state, abandoning class work. */
static int set_configuration(struct usb_dev *d, const struct usb_setup *s)
{
	if ((s->wValue != 0 && s->wValue != CONFIG_VALUE) ||
	    s->wLength != 0)
		return USB_STALL;
	if (s->wValue == 0 && d->configuration != 0)
		reset_classes(d);
	d->configuration = (uint8_t)s->wValue;
	clear_halts(d);
	return 0;
}

/* §9.4.4, §9.4.10: only alternate setting 0 exists. */
static int interface_request(struct usb_dev *d, const struct usb_setup *s,
			     uint8_t *data, size_t len)
{
	int i = slot_of_iface(s->wIndex);
	uint8_t alt = 0;

	if (d->configuration == 0 || i < 0)
		return USB_STALL;
	if (s->bRequest == GET_INTERFACE)
		return s->wValue == 0 && s->wLength == 1
			       ? reply(s, data, len, &alt, 1)
			       : USB_STALL;
	if (s->wValue != 0 || s->wLength != 0)
		return USB_STALL;
	d->halted[ep_slot(slots[i].ep_in)] = false;
	d->halted[ep_slot(slots[i].ep_out)] = false;
	return 0;
}

/* GET_DESCRIPTOR with the interface recipient: class descriptors (HID
 * report descriptor) belong to the class. */
static int to_class(struct usb_dev *d, const struct usb_setup *s,
		    uint8_t *data, size_t len)
{
	int i = slot_of_iface(s->wIndex & 0xFF);
	size_t room = s->wLength < len ? s->wLength : len;

	if (i < 0)
		return USB_STALL;
	return slots[i].ops->control(d->cls[i], s, data, room);
}

static int standard_request(struct usb_dev *d, const struct usb_setup *s,
			    uint8_t *data, size_t len)
{
	uint8_t recip = s->bmRequestType & RT_RECIP_MASK;
	bool in = (s->bmRequestType & RT_DIR_IN) != 0;

	switch (s->bRequest) {
	case GET_STATUS:
		return in ? get_status(d, s, data, len) : USB_STALL;
	case CLEAR_FEATURE:
	case SET_FEATURE:
		return !in ? set_feature(d, s, s->bRequest == SET_FEATURE)
			   : USB_STALL;
	case SET_ADDRESS:
		return !in && recip == RT_RECIP_DEVICE ? set_address(d, s)
						       : USB_STALL;
	case GET_DESCRIPTOR:
		if (in && recip == RT_RECIP_DEVICE)
			return get_descriptor(d, s, data, len);
		if (in && recip == RT_RECIP_INTERFACE)
			return to_class(d, s, data, len);
		return USB_STALL;
	case GET_CONFIGURATION:
		if (!in || recip != RT_RECIP_DEVICE || s->wLength != 1)
			return USB_STALL;
		return reply(s, data, len, &d->configuration, 1);
	case SET_CONFIGURATION:
		return !in && recip == RT_RECIP_DEVICE
			       ? set_configuration(d, s)
			       : USB_STALL;
	case GET_INTERFACE:
	case SET_INTERFACE:
		if (recip != RT_RECIP_INTERFACE ||
		    in != (s->bRequest == GET_INTERFACE))
			return USB_STALL;
		return interface_request(d, s, data, len);
	default: /* SET_DESCRIPTOR, SYNCH_FRAME (no isochronous EPs) */
		return USB_STALL;
	}
}

int usb_dev_control(struct usb_dev *d, const struct usb_setup *s,
		    uint8_t *data, size_t len)
{
	uint8_t recip = s->bmRequestType & RT_RECIP_MASK;
	int r;

	pthread_mutex_lock(&d->lock);
	if ((s->bmRequestType & RT_TYPE_MASK) == RT_TYPE_STANDARD)
		r = standard_request(d, s, data, len);
	else if (recip == RT_RECIP_INTERFACE && d->configuration != 0)
		r = to_class(d, s, data, len); /* class and vendor */
	else
		r = USB_STALL;
	pthread_mutex_unlock(&d->lock);
	log_debug("usb: control %02x %02x %04x %04x %u -> %d",
		  s->bmRequestType, s->bRequest, s->wValue, s->wIndex,
		  s->wLength, r);
	return r;
}

/* --- data endpoints ---------------------------------------------------- */

/* The class for a data endpoint, or -1 for STALL: unknown endpoint, not
 * configured (§9.1.1.5: only EP0 works before), or halted. */
static int data_slot(struct usb_dev *d, uint8_t ep)
{
	int i = slot_of_ep(ep);

	if (i < 0 || d->configuration == 0 || d->halted[ep_slot(ep)])
		return -1;
	return i;
}

int usb_dev_out(struct usb_dev *d, uint8_t ep, const uint8_t *data,
		size_t len)
{
	int i, r = USB_STALL;

	pthread_mutex_lock(&d->lock);
	i = data_slot(d, ep);
	if (i >= 0 && (ep & 0x80) == 0)
		r = slots[i].ops->out(d->cls[i], data, len);
	pthread_mutex_unlock(&d->lock);
	return r;
}

int usb_dev_in(struct usb_dev *d, uint8_t ep, uint8_t *buf, size_t cap)
{
	int i, r = USB_STALL;

	pthread_mutex_lock(&d->lock);
	i = data_slot(d, ep);
	if (i >= 0 && (ep & 0x80) != 0)
		r = slots[i].ops->in(d->cls[i], buf, cap);
	pthread_mutex_unlock(&d->lock);
	return r;
}

/* --- bus events -------------------------------------------------------- */

static void to_default_state(struct usb_dev *d)
{
	reset_classes(d);
	d->address = 0;
	d->configuration = 0;
	d->remote_wakeup = false;
	clear_halts(d);
}

void usb_dev_attach(struct usb_dev *d)
{
	vkey_power_on(d->key); /* a USB attach is a CTAP power-up */
}

void usb_dev_detach(struct usb_dev *d)
{
	pthread_mutex_lock(&d->lock);
	vkey_power_off(d->key); /* cancels a touch wait in a class worker */
	to_default_state(d);
	pthread_mutex_unlock(&d->lock);
}

void usb_dev_reset(struct usb_dev *d)
{
	pthread_mutex_lock(&d->lock);
	vkey_power_off(d->key);
	to_default_state(d);
	vkey_power_on(d->key);
	pthread_mutex_unlock(&d->lock);
}

void usb_dev_set_notify(struct usb_dev *d, void (*fn)(void *arg), void *arg)
{
	pthread_mutex_lock(&d->notify_lock);
	d->notify = fn;
	d->notify_arg = arg;
	pthread_mutex_unlock(&d->notify_lock);
}

/* Is the class in slot i busy; every class for i < 0? */
static bool slot_busy(struct usb_dev *d, int i)
{
	if (i >= 0)
		return slots[i].ops->busy(d->cls[i]);
	for (size_t k = 0; k < N_SLOTS; k++)
		if (slots[k].ops->busy(d->cls[k]))
			return true;
	return false;
}

bool usb_dev_busy(struct usb_dev *d)
{
	return slot_busy(d, -1);
}

bool usb_dev_ep_busy(struct usb_dev *d, uint8_t ep)
{
	int i = slot_of_ep(ep);

	if (i < 0)
		i = slot_of_ep((uint8_t)(ep ^ 0x80));
	return i >= 0 && slot_busy(d, i);
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* One bounded wait for a class notification newer than seen. */
static void wait_notification(struct usb_dev *d, uint64_t seen,
			      uint64_t until_ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(until_ms / 1000u);
	ts.tv_nsec = (long)(until_ms % 1000u) * 1000000L;
	pthread_mutex_lock(&d->notify_lock);
	if (d->notifications == seen)
		pthread_cond_timedwait(&d->notify_cv, &d->notify_lock, &ts);
	pthread_mutex_unlock(&d->notify_lock);
}

/* Wait for slot i (every slot for i < 0) to be idle. */
static int wait_slot(struct usb_dev *d, int i, unsigned timeout_ms)
{
	uint64_t deadline = now_ms() + timeout_ms, now, seen;

	for (;;) {
		pthread_mutex_lock(&d->notify_lock);
		seen = d->notifications;
		pthread_mutex_unlock(&d->notify_lock);
		if (!slot_busy(d, i))
			return 0;
		now = now_ms();
		if (now >= deadline)
			return -1;
		wait_notification(d, seen,
				  now + (deadline - now < IDLE_POLL_MS
						 ? deadline - now
						 : IDLE_POLL_MS));
	}
}

int usb_dev_wait_idle(struct usb_dev *d, unsigned timeout_ms)
{
	return wait_slot(d, -1, timeout_ms);
}

int usb_dev_wait_ep(struct usb_dev *d, uint8_t ep, unsigned timeout_ms)
{
	int i = slot_of_ep(ep);

	if (i < 0)
		i = slot_of_ep((uint8_t)(ep ^ 0x80));
	return i >= 0 ? wait_slot(d, i, timeout_ms) : 0;
}

/* --- lifetime ---------------------------------------------------------- */

static void fill_layout(struct usb_dev *d, const struct usb_ident *ident)
{
	struct usb_layout *l = &d->layout;

	l->vid = ident != NULL ? ident->vid : USB_VID_DEFAULT;
	l->pid = ident != NULL ? ident->pid : USB_PID_DEFAULT;
	l->bcd_device = BCD_DEVICE;
	l->bcd_usb = BCD_USB;
	l->configuration = CONFIG_VALUE;
	for (size_t i = 0; i < N_SLOTS; i++) {
		const struct usb_class_ops *ops = slots[i].ops;
		uint8_t eps[2] = { slots[i].ep_in, slots[i].ep_out };

		l->ifaces[l->n_ifaces++] = (struct usb_iface_info){
			slots[i].iface, ops->cls, ops->subclass, ops->protocol
		};
		for (size_t e = 0; e < 2; e++)
			l->eps[l->n_eps++] = (struct usb_ep_info){
				eps[e], ops->ep_type, USB_MAX_PACKET,
				ops->ep_type == USB_XFER_INTERRUPT
					? ops->interval
					: 0,
				slots[i].iface
			};
	}
}

static void fill_strings(struct usb_dev *d, const struct usb_ident *ident)
{
	const char *m = ident != NULL ? ident->manufacturer : NULL;
	const char *p = ident != NULL ? ident->product : NULL;

	snprintf(d->manufacturer, sizeof(d->manufacturer), "%s",
		 m != NULL ? m : USB_MANUFACTURER_DEFAULT);
	snprintf(d->product, sizeof(d->product), "%s",
		 p != NULL ? p : USB_PRODUCT_DEFAULT);
	snprintf(d->serial, sizeof(d->serial), "%u",
		 (unsigned)vkey_serial(d->key));
}

_Static_assert(N_SLOTS <= USB_MAX_IFACES && 2 * N_SLOTS <= USB_MAX_EPS,
	       "usb_layout holds every interface and endpoint");

static int check_limits(const struct usb_dev_limits *lim,
			struct usb_dev_limits *out)
{
	*out = (struct usb_dev_limits){ USB_CCID_MSG_MAX, false,
					USB_CTAPHID_MSG_MAX };
	if (lim == NULL)
		return 0;
	if (lim->ccid_msg_max != 0 && (lim->ccid_msg_max < USB_CCID_MSG_MIN ||
				       lim->ccid_msg_max > USB_CCID_MSG_MAX)) {
		log_error("usb: CCID message limit %u out of range %u..%u",
			  (unsigned)lim->ccid_msg_max, USB_CCID_MSG_MIN,
			  USB_CCID_MSG_MAX);
		return -1;
	}
	if (lim->ctaphid_msg_max != 0 &&
	    (lim->ctaphid_msg_max < USB_CTAPHID_MSG_MIN ||
	     lim->ctaphid_msg_max > USB_CTAPHID_MSG_MAX)) {
		log_error("usb: CTAPHID message limit %zu out of range %u..%u",
			  lim->ctaphid_msg_max, USB_CTAPHID_MSG_MIN,
			  USB_CTAPHID_MSG_MAX);
		return -1;
	}
	if (lim->ccid_msg_max != 0)
		out->ccid_msg_max = lim->ccid_msg_max;
	if (lim->ctaphid_msg_max != 0)
		out->ctaphid_msg_max = lim->ctaphid_msg_max;
	out->no_zlp = lim->no_zlp;
	return 0;
}

static int notify_init(struct usb_dev *d)
{
	pthread_condattr_t ca;
	int r;

	pthread_mutex_init(&d->notify_lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC); /* now_ms */
	r = pthread_cond_init(&d->notify_cv, &ca);
	pthread_condattr_destroy(&ca);
	return r == 0 ? 0 : -1;
}

struct usb_dev *usb_dev_new(struct vkey *key, const struct usb_ident *ident)
{
	return usb_dev_new_limited(key, ident, NULL);
}

struct usb_dev *usb_dev_new_limited(struct vkey *key,
				    const struct usb_ident *ident,
				    const struct usb_dev_limits *lim)
{
	struct usb_dev *d = NULL;
	struct usb_dev *ret = NULL;
	struct usb_dev_limits limits;

	if (check_limits(lim, &limits) != 0)
		goto out;
	d = calloc(1, sizeof(*d));
	if (d == NULL) {
		log_error("usb: out of memory");
		goto out;
	}
	d->key = key;
	pthread_mutex_init(&d->lock, NULL);
	if (notify_init(d) != 0) {
		log_error("usb: cannot create a condition variable");
		pthread_mutex_destroy(&d->notify_lock);
		pthread_mutex_destroy(&d->lock);
		free(d);
		d = NULL;
		goto out;
	}
	fill_layout(d, ident);
	fill_strings(d, ident);
	for (size_t i = 0; i < N_SLOTS; i++) {
		d->cls[i] = slots[i].ops->create(key, class_notify, d);
		if (d->cls[i] == NULL) {
			log_error("usb: cannot create the %s class",
				  slots[i].ops->name);
			goto out;
		}
		if (slots[i].ops->limit != NULL)
			slots[i].ops->limit(d->cls[i], &limits);
	}
	if (build_config(d) != 0) {
		log_error("usb: configuration descriptor does not fit");
		goto out;
	}
	ret = d;
	d = NULL; /* transferred */
out:
	usb_dev_free(d);
	return ret;
}

void usb_dev_free(struct usb_dev *d)
{
	if (d == NULL)
		return;
	for (size_t i = 0; i < N_SLOTS; i++)
		if (d->cls[i] != NULL)
			slots[i].ops->destroy(d->cls[i]);
	pthread_cond_destroy(&d->notify_cv);
	pthread_mutex_destroy(&d->notify_lock);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

const struct usb_layout *usb_dev_layout(const struct usb_dev *d)
{
	return &d->layout;
}

struct vkey *usb_dev_key(const struct usb_dev *d)
{
	return d->key;
}
