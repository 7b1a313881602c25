/* Inside the USB device model: the interface classes (ccid.c,
 * ctaphid.c) behind one small table, so device.c stays class-agnostic. */
#ifndef VKEY_USB_CLASS_H
#define VKEY_USB_CLASS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "usb/usb.h"

struct usb_class_ops {
	const char *name;
	uint8_t cls, subclass, protocol; /* interface descriptor */
	enum usb_xfer_type ep_type;      /* of its IN and OUT endpoints */
	uint8_t interval;                /* bInterval (interrupt) */

	/* State for one device; notify(arg) when IN data becomes ready or
	 * a command ends. */
	void *(*create)(struct vkey *key, void (*notify)(void *arg),
			void *arg);
	/* The transport's limits (never NULL), right after create and before
	 * any descriptor is built; NULL for a class they do not concern. */
	void (*limit)(void *cls, const struct usb_dev_limits *lim);
	void (*destroy)(void *cls);
	/* Class-specific descriptors that sit between the interface and its
	 * endpoint descriptors in the configuration (HID 0x21, CCID 0x21). */
	int (*class_descriptor)(void *cls, struct wbuf *out);
	/* Requests addressed to the interface that device.c does not handle
	 * (HID GET_DESCRIPTOR report, SET_IDLE; CCID ABORT, ...). Same
	 * return convention as usb_dev_control. */
	int (*control)(void *cls, const struct usb_setup *s, uint8_t *data,
		       size_t len);
	/* Same conventions as usb_dev_out / usb_dev_in. */
	int (*out)(void *cls, const uint8_t *data, size_t len);
	int (*in)(void *cls, uint8_t *buf, size_t cap);
	/* Bus reset or detach: abandon work in flight, clear all state. */
	void (*reset)(void *cls);
	/* Is a command queued or running on the class's worker? */
	bool (*busy)(void *cls);
};

extern const struct usb_class_ops usb_ccid_class;
extern const struct usb_class_ops usb_ctaphid_class;

#endif
