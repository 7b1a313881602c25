/* Capture of USB transfers in Linux usbmon format (pcap, link type
 * LINKTYPE_USB_LINUX_MMAPPED, 220), so Wireshark and tshark decode vkey's
 * traffic as they decode a real bus. Transports record the events; one
 * file may hold several keys (each its own bus/device number). */
#ifndef VKEY_USB_PCAP_H
#define VKEY_USB_PCAP_H

#include <stddef.h>
#include <stdint.h>

#include "usb/usb.h"

struct usb_pcap;

/* Create (truncate) path, mode 0600, and write the file header. NULL on
 * failure with a sentence in err. */
struct usb_pcap *usb_pcap_open(const char *path, char *err, size_t errlen);
void usb_pcap_close(struct usb_pcap *p);

/* One usbmon event. event is 'S' (submission) or 'C' (completion); id
 * pairs the two (any value unique among transfers in flight). ep carries
 * the direction bit (0x80 = IN; endpoint 0 IN for control reads). setup
 * is the SETUP packet of a control submission, else NULL. status: 0, or
 * a negative errno as usbmon reports it (-EPIPE for a stall, -ENOENT for
 * a cancelled transfer); -EINPROGRESS (-115) for submissions. urb_len is
 * the transfer length requested (submission) or done (completion); data
 * is what crossed the bus with this event (OUT data at submission, IN
 * data at completion). Thread-safe; never fails the caller (a write
 * error is logged once and capture stops). */
void usb_pcap_event(struct usb_pcap *p, uint64_t id, char event,
		    enum usb_xfer_type type, uint8_t ep, uint16_t bus,
		    uint8_t devnum, const struct usb_setup *setup, int status,
		    uint32_t urb_len, const uint8_t *data, size_t data_len);

#endif
