/* The USB device model of one key: a full-speed composite device with a
 * CTAPHID (FIDO HID) interface and a CCID (smart card) interface. Every
 * USB-shaped transport (usbredir, USB/IP, the libcanokey-qemu ABI) moves
 * transfers in and out of it and nothing else. */
#ifndef VKEY_USB_H
#define VKEY_USB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vkey/vkey.h"

/* Default identity: pid.codes' VID 0x1209 (open-source projects) with a
 * PID from its range for testing (0x0000-0x0FFF). vkey claims no other
 * vendor's product; distributors set their own with --usb-vid/--usb-pid. */
#define USB_VID_DEFAULT 0x1209
#define USB_PID_DEFAULT 0x0001
#define USB_MANUFACTURER_DEFAULT "vkey"
#define USB_PRODUCT_DEFAULT "vkey virtual security key"

/* Endpoints (CanoKey's layout, which libccid and Linux's usbhid know):
 * IF0 CTAPHID interrupt 0x81 IN / 0x01 OUT, IF1 CCID bulk 0x82 IN /
 * 0x02 OUT; 64-byte packets. */
#define USB_IF_CTAPHID 0
#define USB_IF_CCID 1
#define USB_EP_CTAPHID_IN 0x81
#define USB_EP_CTAPHID_OUT 0x01
#define USB_EP_CCID_IN 0x82
#define USB_EP_CCID_OUT 0x02
#define USB_MAX_PACKET 64
#define USB_EP0_MAX_PACKET 64

/* Return values of the transfer calls. */
#define USB_STALL (-1) /* the endpoint answers STALL */
#define USB_NAK (-2)   /* nothing to send yet: try again later */

enum usb_xfer_type {
	USB_XFER_CONTROL = 0,
	USB_XFER_ISO = 1,
	USB_XFER_BULK = 2,
	USB_XFER_INTERRUPT = 3,
};

/* A SETUP packet, host order. */
struct usb_setup {
	uint8_t bmRequestType;
	uint8_t bRequest;
	uint16_t wValue;
	uint16_t wIndex;
	uint16_t wLength;
};

struct usb_ident {
	uint16_t vid;
	uint16_t pid;
	const char *manufacturer; /* NULL: default */
	const char *product;      /* NULL: default */
	/* The serial number string is the key's serial (state file). */
};

/* What a transport must announce before the host enumerates (usbredir's
 * ep_info and interface_info, USB/IP's device list). */
struct usb_ep_info {
	uint8_t address; /* with the direction bit */
	enum usb_xfer_type type;
	uint16_t max_packet;
	uint8_t interval; /* bInterval of interrupt endpoints */
	uint8_t interface;
};

struct usb_iface_info {
	uint8_t number;
	uint8_t cls;
	uint8_t subclass;
	uint8_t protocol;
};

#define USB_MAX_IFACES 4
#define USB_MAX_EPS 8

struct usb_layout {
	uint16_t vid, pid, bcd_device, bcd_usb;
	uint8_t dev_class, dev_subclass, dev_protocol;
	uint8_t configuration; /* bConfigurationValue */
	size_t n_ifaces;
	struct usb_iface_info ifaces[USB_MAX_IFACES];
	size_t n_eps;
	struct usb_ep_info eps[USB_MAX_EPS];
};

/* What a transport needs from the device beyond USB itself. QEMU's
 * canokey device (libcanokey-qemu) copies a bulk OUT transfer into a
 * 512-byte buffer and hands IN data to the host controller without packet
 * boundaries, so it needs short CCID messages that never end with a full
 * packet (a zero-length packet would reach xhci hosts as an empty
 * transfer). */
struct usb_dev_limits {
	/* dwMaxCCIDMessageLength, header included: 0 for the default
	 * (USB_CCID_MSG_MAX), else USB_CCID_MSG_MIN..USB_CCID_MSG_MAX.
	 * Longer APDUs and answers are chained (CCID 1.1 §6.1.4, §6.2.1). */
	uint32_t ccid_msg_max;
	/* No IN message ends with a full packet: a CCID answer of such a
	 * length is chained, one byte in its last block. */
	bool no_zlp;
	/* The longest CTAPHID message the device sends: 0 for the default
	 * (USB_CTAPHID_MSG_MAX), else USB_CTAPHID_MSG_MIN..USB_CTAPHID_MSG_MAX.
	 * A longer PING is refused (ERR_INVALID_LEN), a longer CTAP answer
	 * becomes CTAP1_ERR_OTHER. Requests may still be up to the maximum. */
	size_t ctaphid_msg_max;
};

/* §5.1: an extended-APDU-level reader takes at least 261 + 10 bytes. */
#define USB_CCID_MSG_MIN 271u
#define USB_CCID_MSG_MAX 65554u
/* CTAP 2.1 §11.2.4: one init packet's payload; 128 continuations more. */
#define USB_CTAPHID_MSG_MIN 57u
#define USB_CTAPHID_MSG_MAX 7609u

struct usb_dev;

/* ident NULL: the defaults. Returns NULL (logged) on failure. */
struct usb_dev *usb_dev_new(struct vkey *key, const struct usb_ident *ident);
/* The same with a transport's limits (NULL: none); NULL (logged) when a
 * limit is out of range. */
struct usb_dev *usb_dev_new_limited(struct vkey *key,
				    const struct usb_ident *ident,
				    const struct usb_dev_limits *lim);
void usb_dev_free(struct usb_dev *d);
const struct usb_layout *usb_dev_layout(const struct usb_dev *d);
struct vkey *usb_dev_key(const struct usb_dev *d);

/* Bus events. Attach and reset are CTAP power-up events (the key gets
 * vkey_power_on); detach powers the key off and drops every transfer. */
void usb_dev_attach(struct usb_dev *d);
void usb_dev_detach(struct usb_dev *d);
void usb_dev_reset(struct usb_dev *d);

/* A control transfer on endpoint 0. For IN requests data has room for
 * wLength bytes and the return is the byte count (<= wLength); for OUT
 * requests data holds wLength bytes and the return is 0. USB_STALL for
 * requests the device refuses. */
int usb_dev_control(struct usb_dev *d, const struct usb_setup *s,
		    uint8_t *data, size_t len);

/* Data the host sends to an OUT endpoint: one or more packets' worth, as
 * the transport received it (a usbredir bulk transfer, a 64-byte report,
 * a USB/IP URB). Returns 0 or USB_STALL. */
int usb_dev_out(struct usb_dev *d, uint8_t ep, const uint8_t *data,
		size_t len);

/* The next data an IN endpoint has for the host, at most cap bytes (a
 * transport that moves single packets passes USB_MAX_PACKET; one that
 * moves whole transfers passes the host's request length). Returns the
 * byte count (0 is a zero-length packet), USB_NAK when nothing is ready,
 * or USB_STALL. Never blocks. */
int usb_dev_in(struct usb_dev *d, uint8_t ep, uint8_t *buf, size_t cap);

/* fn is called, from any thread, whenever an IN endpoint may have new
 * data (a response, a keepalive, a CCID time extension), so the
 * transport can poll usb_dev_in again. It must not call back into the
 * device. */
void usb_dev_set_notify(struct usb_dev *d, void (*fn)(void *arg), void *arg);

/* For transports that must answer synchronously (libcanokey-qemu): is a
 * command (an APDU, a CTAP request, a power change) still running on a
 * class worker: any class's, or the one owning endpoint ep (either
 * direction)? The waits return 0 once none is, -1 after timeout_ms. None
 * of these may be called from the notify callback. */
bool usb_dev_busy(struct usb_dev *d);
bool usb_dev_ep_busy(struct usb_dev *d, uint8_t ep);
int usb_dev_wait_idle(struct usb_dev *d, unsigned timeout_ms);
int usb_dev_wait_ep(struct usb_dev *d, uint8_t ep, unsigned timeout_ms);

#endif
