/* usbredir transport: one thread per key plays usbredir's usb-host role
 * (libusbredirparser) over a unix or TCP socket and moves QEMU's USB
 * transfers in and out of the key's USB device model. */
#include "transports/usbredir.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <usbredirfilter.h>
#include <usbredirparser.h>

#include "core/log.h"
#include "transports/net.h"

#define VERSION_STRING "vkey usb-host"

/* usbredir's ep_info and interrupt state are indexed like this: OUT
 * endpoints 0-15, then IN endpoints 0-15 (usb-redirection-protocol,
 * usb_redir_ep_info). */
#define EP_SLOTS 32
#define EP_DIR_IN 0x80

/* Bulk IN requests waiting for the device; QEMU queues one or two per
 * endpoint, so this bound only stops a peer that floods. */
#define PENDING_MAX 32
/* The largest single IN answer: a CCID message with an extended APDU
 * response (10-byte header, 65536 data bytes, SW1 SW2) fits. */
#define IN_BUF_MAX (65536 + 1024)
#define CTRL_BUF_MAX 65536

/* Output queue: above HIGH the connection stops reading requests and
 * stops fetching IN data; if the peer takes nothing for STALL_MS while
 * above HIGH, the connection is dropped. */
#define OUT_HIGH (256 * 1024)
#define STALL_MS 10000
#define STALL_CHECK_MS 500

/* --usbredir-connect retries: the pause doubles while no guest takes
 * the device. */
#define BACKOFF_MIN_MS 250
#define BACKOFF_MAX_MS 2000

/* usbmon: every key on bus 1; ids carry the device number in the top
 * byte so two keys never share one; transfers vkey makes up itself
 * (pushed interrupt IN data) are marked with bit 55. */
#define PCAP_BUS 1
#define PCAP_ID_MASK ((UINT64_C(1) << 48) - 1)
#define PCAP_ID_SYNTH (UINT64_C(1) << 55)

/* USB 2.0 Table 9-4 request codes vkey issues itself for usbredir's
 * configuration and alternate-setting messages. */
#define REQ_GET_CONFIGURATION 8
#define REQ_SET_CONFIGURATION 9
#define REQ_GET_INTERFACE 10
#define REQ_SET_INTERFACE 11
#define RT_DEVICE_OUT 0x00
#define RT_DEVICE_IN 0x80
#define RT_IFACE_OUT 0x01
#define RT_IFACE_IN 0x81

struct pending_in {
	uint64_t id;
	uint32_t len;
	uint8_t ep;
};

struct usbredir_conn {
	struct usbredirparser *parser;
	struct usb_dev *dev;
	struct usbredir_io io;
	struct usb_pcap *pcap;
	uint8_t devnum;
	char name[128];
	bool attached;   /* device_connect sent, device attached */
	bool fatal;      /* a handler decided to close (logged) */
	bool io_gone;    /* the io callbacks saw the peer go */
	char last_error[160]; /* the parser's last complaint, for the log */

	/* The device's endpoints, from its layout. */
	uint8_t ep_type[EP_SLOTS];
	uint8_t ep_interval[EP_SLOTS];
	uint8_t ep_iface[EP_SLOTS];
	uint16_t ep_maxp[EP_SLOTS];

	bool receiving[EP_SLOTS]; /* interrupt IN started by the peer */
	struct pending_in pending[PENDING_MAX];
	size_t n_pending;
	uint64_t int_id;   /* id of the next pushed interrupt_packet */
	uint64_t synth_id; /* pcap id of the next made-up transfer */

	uint8_t ctrl_buf[CTRL_BUF_MAX];
	uint8_t in_buf[IN_BUF_MAX];
};

static size_t ep_slot(uint8_t ep)
{
	return (size_t)(((ep & EP_DIR_IN) >> 3) | (ep & 0x0F));
}

static uint8_t slot_ep(size_t slot)
{
	return (uint8_t)(((slot & 0x10) << 3) | (slot & 0x0F));
}

static bool ep_is(const struct usbredir_conn *c, uint8_t ep, uint8_t type)
{
	return (ep & 0x70) == 0 && c->ep_type[ep_slot(ep)] == type;
}

static bool out_full(const struct usbredir_conn *c)
{
	return usbredirparser_get_bufferered_output_size(c->parser) >= OUT_HIGH;
}

/* --- capture ----------------------------------------------------------- */

static void cap(struct usbredir_conn *c, uint64_t id, char ev,
		enum usb_xfer_type type, uint8_t ep,
		const struct usb_setup *setup, int status, uint32_t urb_len,
		const uint8_t *data, size_t len)
{
	uint64_t pid = (id & PCAP_ID_MASK) | (id & PCAP_ID_SYNTH) |
		       (uint64_t)c->devnum << 56;

	if (c->pcap != NULL)
		usb_pcap_event(c->pcap, pid, ev, type, ep, PCAP_BUS, c->devnum,
			       setup, status, urb_len, data, len);
}

/* usbmon's status for a usbredir status. */
static int cap_status(uint8_t st)
{
	switch (st) {
	case usb_redir_success:
		return 0;
	case usb_redir_stall:
		return -EPIPE;
	case usb_redir_cancelled:
		return -ENOENT;
	default:
		return -EPROTO;
	}
}

/* --- parser io --------------------------------------------------------- */

static int parser_read(void *priv, uint8_t *data, int count)
{
	struct usbredir_conn *c = priv;
	int n;

	/* Back-pressure: no new requests while the answers pile up; none
	 * at all once a handler decided to close. */
	if (count <= 0 || c->io_gone || c->fatal || out_full(c))
		return 0;
	n = c->io.read(c->io.arg, data, (size_t)count);
	if (n < 0)
		c->io_gone = true;
	return n;
}

static int parser_write(void *priv, uint8_t *data, int count)
{
	struct usbredir_conn *c = priv;
	int n;

	if (count <= 0 || c->io_gone)
		return c->io_gone ? -1 : 0;
	n = c->io.write(c->io.arg, data, (size_t)count);
	if (n < 0)
		c->io_gone = true;
	return n;
}

/* The parser's own messages are about what the peer sent: keep the last
 * error for the line that closes the connection, the rest at debug. */
static void parser_log(void *priv, int level, const char *msg)
{
	struct usbredir_conn *c = priv;

	if (level <= usbredirparser_error)
		snprintf(c->last_error, sizeof c->last_error, "%s", msg);
	log_debug("usbredir %s: %s", c->name, msg);
}

/* --- what vkey announces ----------------------------------------------- */

static void load_layout(struct usbredir_conn *c)
{
	const struct usb_layout *l = usb_dev_layout(c->dev);

	memset(c->ep_type, usb_redir_type_invalid, sizeof c->ep_type);
	c->ep_type[ep_slot(0x00)] = usb_redir_type_control;
	c->ep_type[ep_slot(EP_DIR_IN)] = usb_redir_type_control;
	c->ep_maxp[ep_slot(0x00)] = USB_EP0_MAX_PACKET;
	c->ep_maxp[ep_slot(EP_DIR_IN)] = USB_EP0_MAX_PACKET;
	for (size_t i = 0; i < l->n_eps && i < USB_MAX_EPS; i++) {
		const struct usb_ep_info *e = &l->eps[i];
		size_t s = ep_slot(e->address);

		c->ep_type[s] = (uint8_t)e->type;
		c->ep_interval[s] = e->interval;
		c->ep_iface[s] = e->interface;
		c->ep_maxp[s] = e->max_packet;
	}
}

/* ep_info, then interface_info: the order the protocol requires before
 * device_connect and before a configuration or alt-setting status. */
static void send_layout(struct usbredir_conn *c)
{
	const struct usb_layout *l = usb_dev_layout(c->dev);
	struct usb_redir_ep_info_header ep;
	struct usb_redir_interface_info_header ifs;

	memset(&ep, 0, sizeof ep);
	memcpy(ep.type, c->ep_type, sizeof ep.type);
	memcpy(ep.interval, c->ep_interval, sizeof ep.interval);
	memcpy(ep.interface, c->ep_iface, sizeof ep.interface);
	memcpy(ep.max_packet_size, c->ep_maxp, sizeof ep.max_packet_size);
	usbredirparser_send_ep_info(c->parser, &ep);

	memset(&ifs, 0, sizeof ifs);
	for (size_t i = 0; i < l->n_ifaces && i < USB_MAX_IFACES; i++) {
		ifs.interface[i] = l->ifaces[i].number;
		ifs.interface_class[i] = l->ifaces[i].cls;
		ifs.interface_subclass[i] = l->ifaces[i].subclass;
		ifs.interface_protocol[i] = l->ifaces[i].protocol;
		ifs.interface_count++;
	}
	usbredirparser_send_interface_info(c->parser, &ifs);
}

static void send_connect(struct usbredir_conn *c)
{
	const struct usb_layout *l = usb_dev_layout(c->dev);
	struct usb_redir_device_connect_header dc = {
		.speed = usb_redir_speed_full,
		.device_class = l->dev_class,
		.device_subclass = l->dev_subclass,
		.device_protocol = l->dev_protocol,
		.vendor_id = l->vid,
		.product_id = l->pid,
		.device_version_bcd = l->bcd_device,
	};

	usbredirparser_send_device_connect(c->parser, &dc);
}

/* --- bulk IN requests waiting for data ---------------------------------- */

/* A bulk completion: len bytes moved; data only for IN data. */
static void reply_bulk(struct usbredir_conn *c, uint64_t id, uint8_t ep,
		       uint8_t status, const uint8_t *data, uint32_t len)
{
	struct usb_redir_bulk_packet_header h = {
		.endpoint = ep,
		.status = status,
		.length = (uint16_t)len,
		.length_high = (uint16_t)(len >> 16),
	};

	usbredirparser_send_bulk_packet(c->parser, id, &h, (uint8_t *)data,
					data != NULL ? (int)len : 0);
}

/* Answer pending[i] and remove it; data only for IN data that moved. */
static void answer_pending(struct usbredir_conn *c, size_t i, uint8_t status,
			   const uint8_t *data, uint32_t len)
{
	struct pending_in p = c->pending[i];

	reply_bulk(c, p.id, p.ep, status, data, len);
	cap(c, p.id, 'C', USB_XFER_BULK, p.ep, NULL, cap_status(status), len,
	    data, len);
	memmove(&c->pending[i], &c->pending[i + 1],
		(c->n_pending - i - 1) * sizeof c->pending[0]);
	c->n_pending--;
}

/* A reset or a configuration change abandons the transfers in flight:
 * the peer still gets an answer for each. */
static void cancel_pending(struct usbredir_conn *c, int iface)
{
	size_t i = 0;

	while (i < c->n_pending) {
		if (iface < 0 || c->ep_iface[ep_slot(c->pending[i].ep)] == iface)
			answer_pending(c, i, usb_redir_cancelled, NULL, 0);
		else
			i++;
	}
}

/* The connection is gone: nothing can be sent any more. */
static void drop_pending(struct usbredir_conn *c)
{
	for (size_t i = 0; i < c->n_pending; i++)
		cap(c, c->pending[i].id, 'C', USB_XFER_BULK, c->pending[i].ep,
		    NULL, -ESHUTDOWN, 0, NULL, 0);
	c->n_pending = 0;
}

static void stop_receiving(struct usbredir_conn *c, int iface)
{
	for (size_t s = 0; s < EP_SLOTS; s++)
		if (iface < 0 || c->ep_iface[s] == iface)
			c->receiving[s] = false;
}

/* Answer queued bulk IN requests in order, per endpoint, while the
 * device has data for them. */
static void serve_pending(struct usbredir_conn *c)
{
	uint32_t nak = 0; /* endpoints that have nothing now */
	size_t i = 0;

	while (i < c->n_pending && !out_full(c)) {
		struct pending_in *p = &c->pending[i];
		uint32_t bit = UINT32_C(1) << ep_slot(p->ep);
		size_t room = p->len < IN_BUF_MAX ? p->len : IN_BUF_MAX;
		int r;

		if (nak & bit) {
			i++;
			continue;
		}
		r = usb_dev_in(c->dev, p->ep, c->in_buf, room);
		if (r == USB_NAK) {
			nak |= bit;
			i++;
		} else if (r >= 0) {
			answer_pending(c, i, usb_redir_success, c->in_buf,
				       (uint32_t)r);
		} else {
			answer_pending(c, i, r == USB_STALL ? usb_redir_stall
							    : usb_redir_ioerror,
				       NULL, 0);
		}
	}
}

/* --- interrupt IN: pushed while the peer receives ------------------------ */

static void push_interrupt(struct usbredir_conn *c, uint8_t ep,
			   const uint8_t *data, uint16_t len)
{
	struct usb_redir_interrupt_packet_header h = {
		.endpoint = ep,
		.status = usb_redir_success,
		.length = len,
	};
	uint64_t sid = PCAP_ID_SYNTH | (c->synth_id++ & PCAP_ID_MASK);

	/* usbmon sees a URB per report: submitted and completed at once. */
	cap(c, sid, 'S', USB_XFER_INTERRUPT, ep, NULL, -EINPROGRESS,
	    c->ep_maxp[ep_slot(ep)], NULL, 0);
	cap(c, sid, 'C', USB_XFER_INTERRUPT, ep, NULL, 0, len, data, len);
	usbredirparser_send_interrupt_packet(c->parser, c->int_id++, &h,
					     (uint8_t *)data, len);
}

/* A halted endpoint stops the stream with status stall (protocol:
 * usb_redir_interrupt_receiving_status); QEMU passes the STALL to the
 * guest and starts receiving again after the guest clears the halt. */
static void stall_interrupt(struct usbredir_conn *c, uint8_t ep)
{
	struct usb_redir_interrupt_receiving_status_header st = {
		.status = usb_redir_stall,
		.endpoint = ep,
	};

	c->receiving[ep_slot(ep)] = false;
	usbredirparser_send_interrupt_receiving_status(c->parser, 0, &st);
}

static void push_interrupts(struct usbredir_conn *c)
{
	for (size_t s = EP_SLOTS / 2; s < EP_SLOTS; s++) {
		uint8_t ep = slot_ep(s);
		size_t room = c->ep_maxp[s];

		while (c->receiving[s] && !out_full(c)) {
			int r = usb_dev_in(c->dev, ep, c->in_buf, room);

			if (r == USB_NAK)
				break;
			if (r < 0)
				stall_interrupt(c, ep);
			else
				push_interrupt(c, ep, c->in_buf, (uint16_t)r);
		}
	}
}

/* --- control transfers ---------------------------------------------------- */

/* Run one control transfer on the device and record it. data has room
 * for wLength bytes (IN) or holds them (OUT); *done gets the bytes moved. */
static uint8_t run_control(struct usbredir_conn *c, uint64_t id,
			   const struct usb_setup *s, uint8_t *data,
			   uint16_t *done)
{
	bool in = (s->bmRequestType & EP_DIR_IN) != 0;
	uint8_t ep = in ? EP_DIR_IN : 0x00, st = usb_redir_success;
	int r;

	cap(c, id, 'S', USB_XFER_CONTROL, ep, s, -EINPROGRESS, s->wLength,
	    in ? NULL : data, in ? 0 : s->wLength);
	r = usb_dev_control(c->dev, s, data, s->wLength);
	*done = 0;
	if (r == USB_STALL)
		st = usb_redir_stall;
	else if (r < 0)
		st = usb_redir_ioerror;
	else
		*done = in ? (uint16_t)(r < s->wLength ? r : s->wLength)
			   : s->wLength;
	cap(c, id, 'C', USB_XFER_CONTROL, ep, NULL, cap_status(st), *done,
	    in ? data : NULL, in ? *done : 0);
	return st;
}

static void on_control_packet(void *priv, uint64_t id,
			      struct usb_redir_control_packet_header *h,
			      uint8_t *data, int data_len)
{
	struct usbredir_conn *c = priv;
	struct usb_redir_control_packet_header rep = *h;
	struct usb_setup s = { h->requesttype, h->request, h->value, h->index,
			       h->length };
	bool in = (h->endpoint & EP_DIR_IN) != 0;
	uint16_t done = 0;

	(void)data_len; /* the parser checked it against h->length */
	/* The setup's direction must be the packet's, or the data would
	 * flow the wrong way. */
	if (!c->attached || (h->endpoint & 0x7F) != 0 ||
	    in != ((h->requesttype & EP_DIR_IN) != 0))
		rep.status = usb_redir_inval;
	else
		rep.status = run_control(c, id, &s,
					 in || data == NULL ? c->ctrl_buf : data,
					 &done);
	rep.length = done;
	usbredirparser_send_control_packet(c->parser, id, &rep,
					   in ? c->ctrl_buf : NULL,
					   in ? done : 0);
	usbredirparser_free_packet_data(c->parser, data);
}

/* The device's current configuration, without a trace in the capture
 * (the status message needs it even when the request failed). */
static uint8_t current_config(struct usbredir_conn *c)
{
	struct usb_setup s = { RT_DEVICE_IN, REQ_GET_CONFIGURATION, 0, 0, 1 };
	uint8_t v = 0;

	return usb_dev_control(c->dev, &s, &v, 1) == 1 ? v : 0;
}

static uint8_t current_alt(struct usbredir_conn *c, uint8_t iface)
{
	struct usb_setup s = { RT_IFACE_IN, REQ_GET_INTERFACE, 0, iface, 1 };
	uint8_t v = 0;

	return usb_dev_control(c->dev, &s, &v, 1) == 1 ? v : 0;
}

/* QEMU turns SET_CONFIGURATION into this message; vkey turns it back
 * into the control transfer the device model (and the capture) knows. */
static void on_set_configuration(void *priv, uint64_t id,
				 struct usb_redir_set_configuration_header *h)
{
	struct usbredir_conn *c = priv;
	struct usb_redir_configuration_status_header st = { usb_redir_inval, 0 };
	struct usb_setup s = { RT_DEVICE_OUT, REQ_SET_CONFIGURATION,
			       h->configuration, 0, 0 };
	uint16_t done;

	if (c->attached) {
		/* Protocol: pending data packets are dropped, streams stop. */
		cancel_pending(c, -1);
		stop_receiving(c, -1);
		st.status = run_control(c, id, &s, c->ctrl_buf, &done);
		if (st.status == usb_redir_success)
			send_layout(c);
		st.configuration = current_config(c);
	}
	usbredirparser_send_configuration_status(c->parser, id, &st);
}

static void on_get_configuration(void *priv, uint64_t id)
{
	struct usbredir_conn *c = priv;
	struct usb_redir_configuration_status_header st = { usb_redir_inval, 0 };
	struct usb_setup s = { RT_DEVICE_IN, REQ_GET_CONFIGURATION, 0, 0, 1 };
	uint16_t done = 0;

	if (c->attached) {
		st.status = run_control(c, id, &s, c->ctrl_buf, &done);
		if (st.status == usb_redir_success && done == 1)
			st.configuration = c->ctrl_buf[0];
	}
	usbredirparser_send_configuration_status(c->parser, id, &st);
}

static void on_set_alt_setting(void *priv, uint64_t id,
			       struct usb_redir_set_alt_setting_header *h)
{
	struct usbredir_conn *c = priv;
	struct usb_redir_alt_setting_status_header st = { usb_redir_inval,
							  h->interface, 0 };
	struct usb_setup s = { RT_IFACE_OUT, REQ_SET_INTERFACE, h->alt,
			       h->interface, 0 };
	uint16_t done;

	if (c->attached) {
		cancel_pending(c, h->interface);
		stop_receiving(c, h->interface);
		st.status = run_control(c, id, &s, c->ctrl_buf, &done);
		if (st.status == usb_redir_success)
			send_layout(c);
		st.alt = current_alt(c, h->interface);
	}
	usbredirparser_send_alt_setting_status(c->parser, id, &st);
}

static void on_get_alt_setting(void *priv, uint64_t id,
			       struct usb_redir_get_alt_setting_header *h)
{
	struct usbredir_conn *c = priv;
	struct usb_redir_alt_setting_status_header st = { usb_redir_inval,
							  h->interface, 0 };
	struct usb_setup s = { RT_IFACE_IN, REQ_GET_INTERFACE, 0, h->interface,
			       1 };
	uint16_t done = 0;

	if (c->attached) {
		st.status = run_control(c, id, &s, c->ctrl_buf, &done);
		if (st.status == usb_redir_success && done == 1)
			st.alt = c->ctrl_buf[0];
	}
	usbredirparser_send_alt_setting_status(c->parser, id, &st);
}

/* --- data transfers -------------------------------------------------- */

/* OUT data for the device, recorded; returns the usbredir status. */
static uint8_t data_out(struct usbredir_conn *c, uint64_t id,
			enum usb_xfer_type type, uint8_t ep,
			const uint8_t *data, uint32_t len)
{
	uint8_t st;
	int r;

	/* A zero-length packet comes without a buffer; the device gets one. */
	if (data == NULL)
		data = c->ctrl_buf;
	cap(c, id, 'S', type, ep, NULL, -EINPROGRESS, len, data, len);
	r = usb_dev_out(c->dev, ep, data, len);
	st = r == 0 ? usb_redir_success
	     : r == USB_STALL ? usb_redir_stall : usb_redir_ioerror;
	cap(c, id, 'C', type, ep, NULL, cap_status(st),
	    st == usb_redir_success ? len : 0, NULL, 0);
	return st;
}

static void queue_in(struct usbredir_conn *c, uint64_t id, uint8_t ep,
		     uint32_t len)
{
	if (c->n_pending == PENDING_MAX) {
		log_warn("usbredir %s: more than %d bulk IN requests queued; "
			 "failing one", c->name, PENDING_MAX);
		reply_bulk(c, id, ep, usb_redir_ioerror, NULL, 0);
		return;
	}
	cap(c, id, 'S', USB_XFER_BULK, ep, NULL, -EINPROGRESS, len, NULL, 0);
	c->pending[c->n_pending++] = (struct pending_in){ id, len, ep };
}

static void on_bulk_packet(void *priv, uint64_t id,
			   struct usb_redir_bulk_packet_header *h,
			   uint8_t *data, int data_len)
{
	struct usbredir_conn *c = priv;
	uint32_t len = h->length;
	uint8_t st;

	(void)data_len; /* the parser checked it against the length */
	if (usbredirparser_peer_has_cap(c->parser,
					usb_redir_cap_32bits_bulk_length))
		len |= (uint32_t)h->length_high << 16;
	if (!c->attached || !ep_is(c, h->endpoint, usb_redir_type_bulk) ||
	    h->stream_id != 0) {
		reply_bulk(c, id, h->endpoint, usb_redir_inval, NULL, 0);
	} else if (h->endpoint & EP_DIR_IN) {
		queue_in(c, id, h->endpoint, len);
	} else {
		st = data_out(c, id, USB_XFER_BULK, h->endpoint, data, len);
		reply_bulk(c, id, h->endpoint, st, NULL,
			   st == usb_redir_success ? len : 0);
	}
	usbredirparser_free_packet_data(c->parser, data);
}

/* Interrupt OUT (the parser refuses interrupt packets for IN endpoints
 * from the usb-guest side). */
static void on_interrupt_packet(void *priv, uint64_t id,
				struct usb_redir_interrupt_packet_header *h,
				uint8_t *data, int data_len)
{
	struct usbredir_conn *c = priv;
	struct usb_redir_interrupt_packet_header rep = *h;

	(void)data_len;
	rep.status = usb_redir_inval;
	if (c->attached && ep_is(c, h->endpoint, usb_redir_type_interrupt) &&
	    !(h->endpoint & EP_DIR_IN))
		rep.status = data_out(c, id, USB_XFER_INTERRUPT, h->endpoint,
				      data, h->length);
	if (rep.status != usb_redir_success)
		rep.length = 0;
	usbredirparser_send_interrupt_packet(c->parser, id, &rep, NULL, 0);
	usbredirparser_free_packet_data(c->parser, data);
}

static void on_start_interrupt_receiving(
	void *priv, uint64_t id,
	struct usb_redir_start_interrupt_receiving_header *h)
{
	struct usbredir_conn *c = priv;
	struct usb_redir_interrupt_receiving_status_header st = {
		usb_redir_inval, h->endpoint
	};

	if (c->attached && ep_is(c, h->endpoint, usb_redir_type_interrupt) &&
	    (h->endpoint & EP_DIR_IN)) {
		c->receiving[ep_slot(h->endpoint)] = true;
		st.status = usb_redir_success;
	}
	usbredirparser_send_interrupt_receiving_status(c->parser, id, &st);
}

static void on_stop_interrupt_receiving(
	void *priv, uint64_t id,
	struct usb_redir_stop_interrupt_receiving_header *h)
{
	struct usbredir_conn *c = priv;
	struct usb_redir_interrupt_receiving_status_header st = {
		usb_redir_inval, h->endpoint
	};

	if (ep_is(c, h->endpoint, usb_redir_type_interrupt) &&
	    (h->endpoint & EP_DIR_IN)) {
		c->receiving[ep_slot(h->endpoint)] = false;
		st.status = usb_redir_success;
	}
	usbredirparser_send_interrupt_receiving_status(c->parser, id, &st);
}

/* Protocol: the peer always gets a data packet back for the id; if it is
 * no longer pending, that answer has been sent already. */
static void on_cancel_data_packet(void *priv, uint64_t id)
{
	struct usbredir_conn *c = priv;

	for (size_t i = 0; i < c->n_pending; i++) {
		if (c->pending[i].id == id) {
			answer_pending(c, i, usb_redir_cancelled, NULL, 0);
			return;
		}
	}
	log_debug("usbredir %s: cancel of %llu: already answered", c->name,
		  (unsigned long long)id);
}

/* --- bus events and the rest of the protocol ------------------------------ */

static void sanitize(char *dst, size_t cap, const char *src, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < cap && i < n && src[i] != '\0'; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7F) ? src[i] : '?';
	dst[i] = '\0';
}

static const struct {
	int cap;
	const char *name;
} wanted_caps[] = {
	{ usb_redir_cap_connect_device_version, "connect_device_version" },
	{ usb_redir_cap_64bits_ids, "64bits_ids" },
	{ usb_redir_cap_32bits_bulk_length, "32bits_bulk_length" },
};

/* The peer's hello: announce the device. Without max packet sizes in
 * ep_info a full-speed interrupt endpoint cannot be described (QEMU
 * then rejects the device), so such a peer is refused. */
static void on_hello(void *priv, struct usb_redir_hello_header *h)
{
	struct usbredir_conn *c = priv;
	const struct usb_layout *l = usb_dev_layout(c->dev);
	char ver[sizeof h->version];

	sanitize(ver, sizeof ver, h->version, sizeof h->version);
	log_info("usbredir %s: peer '%s'", c->name, ver);
	if (!usbredirparser_peer_has_cap(c->parser,
					 usb_redir_cap_ep_info_max_packet_size)) {
		log_warn("usbredir %s: peer '%s' lacks the ep_info_max_packet_size "
			 "capability; closing", c->name, ver);
		c->fatal = true;
		return;
	}
	for (size_t i = 0; i < sizeof wanted_caps / sizeof wanted_caps[0]; i++)
		if (!usbredirparser_peer_has_cap(c->parser, wanted_caps[i].cap))
			log_info("usbredir %s: peer lacks the %s capability",
				 c->name, wanted_caps[i].name);
	send_layout(c);
	send_connect(c);
	usb_dev_attach(c->dev);
	c->attached = true;
	log_info("usbredir %s: device %04x:%04x connected", c->name, l->vid,
		 l->pid);
}

static void on_reset(void *priv)
{
	struct usbredir_conn *c = priv;

	if (!c->attached)
		return;
	log_debug("usbredir %s: reset", c->name);
	cancel_pending(c, -1);
	usb_dev_reset(c->dev);
}

/* The guest refused the device (its filter, or the controller cannot
 * take a full-speed device): nothing more will come for it. */
static void on_filter_reject(void *priv)
{
	struct usbredir_conn *c = priv;

	log_warn("usbredir %s: the peer rejected the device (a usb-redir "
		 "filter, or a controller without full-speed ports: use "
		 "qemu-xhci or piix3-usb-uhci)", c->name);
	if (c->attached) {
		cancel_pending(c, -1);
		stop_receiving(c, -1);
		usb_dev_detach(c->dev);
		c->attached = false;
	}
}

static void on_filter_filter(void *priv, struct usbredirfilter_rule *rules,
			     int count)
{
	struct usbredir_conn *c = priv;

	/* QEMU checks its filter itself and answers filter_reject. */
	log_debug("usbredir %s: peer filter with %d rules", c->name, count);
	usbredirfilter_free(rules);
}

static void on_device_disconnect_ack(void *priv)
{
	(void)priv;
}

/* vkey has no isochronous endpoints and no bulk streams. */
static void on_start_iso_stream(void *priv, uint64_t id,
				struct usb_redir_start_iso_stream_header *h)
{
	struct usbredir_conn *c = priv;
	struct usb_redir_iso_stream_status_header st = { usb_redir_inval,
							 h->endpoint };

	usbredirparser_send_iso_stream_status(c->parser, id, &st);
}

static void on_stop_iso_stream(void *priv, uint64_t id,
			       struct usb_redir_stop_iso_stream_header *h)
{
	struct usbredir_conn *c = priv;
	struct usb_redir_iso_stream_status_header st = { usb_redir_inval,
							 h->endpoint };

	usbredirparser_send_iso_stream_status(c->parser, id, &st);
}

static void on_iso_packet(void *priv, uint64_t id,
			  struct usb_redir_iso_packet_header *h, uint8_t *data,
			  int data_len)
{
	struct usbredir_conn *c = priv;

	(void)id;
	(void)h;
	(void)data_len;
	usbredirparser_free_packet_data(c->parser, data);
}

static void on_alloc_bulk_streams(void *priv, uint64_t id,
				  struct usb_redir_alloc_bulk_streams_header *h)
{
	struct usbredir_conn *c = priv;
	struct usb_redir_bulk_streams_status_header st = {
		h->endpoints, h->no_streams, usb_redir_inval
	};

	usbredirparser_send_bulk_streams_status(c->parser, id, &st);
}

static void on_free_bulk_streams(void *priv, uint64_t id,
				 struct usb_redir_free_bulk_streams_header *h)
{
	struct usbredir_conn *c = priv;
	struct usb_redir_bulk_streams_status_header st = { h->endpoints, 0,
							   usb_redir_inval };

	usbredirparser_send_bulk_streams_status(c->parser, id, &st);
}

/* Not advertised, so the parser refuses these before they get here. */
static void on_start_bulk_receiving(
	void *priv, uint64_t id, struct usb_redir_start_bulk_receiving_header *h)
{
	(void)priv;
	(void)id;
	(void)h;
}

static void on_stop_bulk_receiving(
	void *priv, uint64_t id, struct usb_redir_stop_bulk_receiving_header *h)
{
	(void)priv;
	(void)id;
	(void)h;
}

/* Only packets a usb-guest may send get callbacks: the parser, in the
 * usb-host role, refuses the others (device_connect, ep_info, ...) as
 * invalid types before any callback, so those stay NULL. */
static void set_callbacks(struct usbredirparser *p)
{
	p->log_func = parser_log;
	p->read_func = parser_read;
	p->write_func = parser_write;
	p->hello_func = on_hello;
	p->reset_func = on_reset;
	p->set_configuration_func = on_set_configuration;
	p->get_configuration_func = on_get_configuration;
	p->set_alt_setting_func = on_set_alt_setting;
	p->get_alt_setting_func = on_get_alt_setting;
	p->start_iso_stream_func = on_start_iso_stream;
	p->stop_iso_stream_func = on_stop_iso_stream;
	p->start_interrupt_receiving_func = on_start_interrupt_receiving;
	p->stop_interrupt_receiving_func = on_stop_interrupt_receiving;
	p->alloc_bulk_streams_func = on_alloc_bulk_streams;
	p->free_bulk_streams_func = on_free_bulk_streams;
	p->cancel_data_packet_func = on_cancel_data_packet;
	p->filter_reject_func = on_filter_reject;
	p->filter_filter_func = on_filter_filter;
	p->device_disconnect_ack_func = on_device_disconnect_ack;
	p->start_bulk_receiving_func = on_start_bulk_receiving;
	p->stop_bulk_receiving_func = on_stop_bulk_receiving;
	p->control_packet_func = on_control_packet;
	p->bulk_packet_func = on_bulk_packet;
	p->iso_packet_func = on_iso_packet;
	p->interrupt_packet_func = on_interrupt_packet;
}

/* --- one connection --------------------------------------------------------- */

struct usbredir_conn *usbredir_conn_new(struct usb_dev *dev,
					const struct usbredir_io *io,
					struct usb_pcap *pcap, uint8_t devnum,
					const char *name)
{
	/* QEMU refuses a usb-host without the first three on xhci ports. */
	static const int caps_on[] = {
		usb_redir_cap_ep_info_max_packet_size,
		usb_redir_cap_64bits_ids,
		usb_redir_cap_32bits_bulk_length,
		usb_redir_cap_connect_device_version,
		usb_redir_cap_filter,
	};
	uint32_t caps[USB_REDIR_CAPS_SIZE] = { 0 };
	struct usbredir_conn *c = calloc(1, sizeof *c), *ret = NULL;

	if (c == NULL) {
		log_error("usbredir %s: out of memory", name);
		goto out;
	}
	c->dev = dev;
	c->io = *io;
	c->pcap = pcap;
	c->devnum = devnum;
	snprintf(c->name, sizeof c->name, "%s", name);
	load_layout(c);
	c->parser = usbredirparser_create();
	if (c->parser == NULL) {
		log_error("usbredir %s: out of memory", name);
		goto out;
	}
	c->parser->priv = c;
	set_callbacks(c->parser);
	for (size_t i = 0; i < sizeof caps_on / sizeof caps_on[0]; i++)
		usbredirparser_caps_set_cap(caps, caps_on[i]);
	usbredirparser_init(c->parser, VERSION_STRING, caps,
			    USB_REDIR_CAPS_SIZE, usbredirparser_fl_usb_host);
	ret = c;
	c = NULL; /* transferred */
out:
	usbredir_conn_free(c);
	return ret;
}

void usbredir_conn_free(struct usbredir_conn *c)
{
	if (c == NULL)
		return;
	drop_pending(c);
	if (c->attached)
		usb_dev_detach(c->dev);
	if (c->parser != NULL)
		usbredirparser_destroy(c->parser);
	free(c);
}

enum usbredir_status usbredir_conn_read(struct usbredir_conn *c)
{
	int r = usbredirparser_do_read(c->parser);

	if (c->fatal)
		return USBREDIR_ERROR;
	if (r < 0 && r != usbredirparser_read_io_error) {
		log_warn("usbredir %s: protocol error (%s); closing the connection",
			 c->name,
			 c->last_error[0] ? c->last_error : "malformed packet");
		return USBREDIR_ERROR;
	}
	return c->io_gone ? USBREDIR_CLOSED : USBREDIR_OK;
}

void usbredir_conn_pump(struct usbredir_conn *c)
{
	if (!c->attached)
		return;
	serve_pending(c);
	push_interrupts(c);
}

enum usbredir_status usbredir_conn_write(struct usbredir_conn *c)
{
	/* do_write reports "would block" and failure alike; io_gone tells. */
	if (usbredirparser_has_data_to_write(c->parser) > 0)
		(void)usbredirparser_do_write(c->parser);
	return c->io_gone ? USBREDIR_CLOSED : USBREDIR_OK;
}

size_t usbredir_conn_queued(struct usbredir_conn *c)
{
	return (size_t)usbredirparser_get_bufferered_output_size(c->parser);
}

bool usbredir_conn_attached(const struct usbredir_conn *c)
{
	return c->attached;
}

/* --- sockets -------------------------------------------------------------- */

struct usbredir {
	struct usb_dev *dev;
	struct usbredir_opts o;
	char addr[sizeof(((struct sockaddr_un *)0)->sun_path) + 64];
	char label[sizeof(((struct sockaddr_un *)0)->sun_path) + 80];
	struct net_addr peer;
	int listen_fd; /* -1 in connect mode */
	int stop_fd;   /* eventfd: the thread must leave */
	int wake_fd;   /* eventfd: the device has IN data */
	bool unlink_on_stop;
	pthread_t thread;
	atomic_bool connected;
	int last_errno; /* last connect failure, so repeats log at debug */
};

/* The socket-level io of one connection. */
struct sock_io {
	struct usbredir *r;
	int fd;
	int64_t last_write_ms;
};

static int sock_read(void *arg, uint8_t *buf, size_t cap)
{
	struct sock_io *s = arg;

	return net_recv(s->fd, buf, cap, s->r->label);
}

static int sock_write(void *arg, const uint8_t *buf, size_t len)
{
	struct sock_io *s = arg;
	int n = net_send(s->fd, buf, len, s->r->label);

	if (n > 0)
		s->last_write_ms = net_now_ms();
	return n;
}

static void set_sockopts(const struct usbredir *r, int fd)
{
	if (!r->peer.is_unix)
		net_tcp_options(fd);
}

/* A socket file left by a vkey that died is removed; one that another
 * process still listens on is not taken over. */
static int clear_stale(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	struct stat st;
	int fd, r = -1;

	if (lstat(path, &st) != 0)
		return errno == ENOENT ? 0 : -1;
	if (!S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "%s exists and is not a socket", path);
		return -1;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memcpy(un.sun_path, path, strlen(path) + 1);
	if (connect(fd, (struct sockaddr *)&un, sizeof un) == 0)
		snprintf(err, errlen, "another process listens on %s", path);
	else if (errno == ECONNREFUSED && unlink(path) == 0)
		r = 0;
	else
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	close(fd);
	return r;
}

static int listen_on(struct usbredir *r, char *err, size_t errlen)
{
	static const int one = 1;
	const char *path = ((struct sockaddr_un *)&r->peer.ss)->sun_path;
	int fd, rc, ret = -1;
	mode_t old;

	fd = socket(r->peer.ss.ss_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		goto fail;
	if (r->peer.is_unix && clear_stale(path, err, errlen) != 0)
		goto out;
	if (!r->peer.is_unix)
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	/* Whoever can connect can use the key: owner only. */
	old = umask(0177);
	rc = bind(fd, (struct sockaddr *)&r->peer.ss, r->peer.len);
	umask(old);
	if (rc != 0 || listen(fd, 4) != 0)
		goto fail;
	r->unlink_on_stop = r->peer.is_unix;
	r->listen_fd = fd;
	fd = -1; /* transferred */
	ret = 0;
	goto out;
fail:
	snprintf(err, errlen, "usbredir %s: %s", r->addr, strerror(errno));
out:
	if (fd >= 0)
		close(fd);
	return ret;
}

enum loop {
	LOOP_NEXT = 0, /* serve the next peer */
	LOOP_STOP,     /* usbredir_stop was called */
};

/* Wait for fd (or nothing, fd < 0) until timeout_ms; LOOP_STOP if the
 * stop eventfd fires first. */
static enum loop wait_fd(struct usbredir *r, int fd, short events,
			 int timeout_ms)
{
	struct pollfd p[2] = { { r->stop_fd, POLLIN, 0 }, { fd, events, 0 } };
	int rc;

	do
		rc = poll(p, fd >= 0 ? 2 : 1, timeout_ms);
	while (rc < 0 && errno == EINTR);
	return p[0].revents ? LOOP_STOP : LOOP_NEXT;
}

/* One connection at a time: a second peer is told so by a closed socket. */
static void refuse_peer(struct usbredir *r)
{
	int fd = accept4(r->listen_fd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	log_warn("usbredir %s: refusing a second peer (one connection at a "
		 "time)", r->addr);
	close(fd);
}

static int accept_peer(struct usbredir *r, enum loop *lp)
{
	int fd;

	*lp = wait_fd(r, r->listen_fd, POLLIN, -1);
	if (*lp == LOOP_STOP)
		return -1;
	fd = accept4(r->listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	if (fd < 0 && errno != EAGAIN && errno != EINTR &&
	    errno != ECONNABORTED) {
		log_warn("usbredir %s: accept: %s", r->addr, strerror(errno));
		*lp = wait_fd(r, -1, 0, BACKOFF_MIN_MS);
	}
	return fd;
}

static void log_connect_failure(struct usbredir *r, int e)
{
	vlog(e == r->last_errno ? LOG_DEBUG : LOG_INFO,
	     "usbredir %s: cannot connect (%s), retrying", r->addr,
	     strerror(e));
	r->last_errno = e;
}

static int connect_peer(struct usbredir *r, enum loop *lp)
{
	int fd, e = 0;
	socklen_t elen = sizeof e;

	*lp = LOOP_NEXT;
	fd = socket(r->peer.ss.ss_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		e = errno;
		goto out;
	}
	if (connect(fd, (struct sockaddr *)&r->peer.ss, r->peer.len) != 0) {
		if (errno != EINPROGRESS) {
			e = errno;
			goto out;
		}
		*lp = wait_fd(r, fd, POLLOUT, -1);
		if (*lp == LOOP_STOP ||
		    getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &elen) != 0 || e)
			goto out;
	}
	r->last_errno = 0;
	return fd;
out:
	if (e != 0)
		log_connect_failure(r, e);
	if (fd >= 0)
		close(fd);
	return -1;
}

static void drain(int fd)
{
	uint64_t v;

	(void)!read(fd, &v, sizeof v);
}

/* The output stayed above OUT_HIGH and the peer took nothing for
 * STALL_MS: it stopped reading. */
static bool stalled(const struct usbredir *r, struct usbredir_conn *c,
		    const struct sock_io *s, int64_t *high_since)
{
	int64_t now, since;

	if (usbredir_conn_queued(c) < OUT_HIGH) {
		*high_since = 0;
		return false;
	}
	now = net_now_ms();
	if (*high_since == 0)
		*high_since = now;
	since = *high_since > s->last_write_ms ? *high_since : s->last_write_ms;
	if (now - since <= STALL_MS)
		return false;
	log_warn("usbredir %s: the peer stopped reading; dropping the "
		 "connection", r->addr);
	return true;
}

/* One poll round of a connection: a stop request, a second peer to
 * refuse, the device's wake-up, the peer's bytes, then IN data and
 * output. While the output is over OUT_HIGH the peer is not read. */
static enum usbredir_status serve_round(struct usbredir *r,
					struct usbredir_conn *c,
					struct sock_io *s, int64_t *high_since,
					enum loop *lp)
{
	size_t queued = usbredir_conn_queued(c);
	bool high = queued >= OUT_HIGH;
	struct pollfd p[4] = {
		{ r->stop_fd, POLLIN, 0 },
		{ r->wake_fd, POLLIN, 0 },
		{ s->fd, (short)((high ? 0 : POLLIN) | (queued ? POLLOUT : 0)), 0 },
		{ r->listen_fd, POLLIN, 0 },
	};
	enum usbredir_status st = USBREDIR_OK;
	int rc;

	do
		rc = poll(p, r->listen_fd >= 0 ? 4 : 3, high ? STALL_CHECK_MS : -1);
	while (rc < 0 && errno == EINTR);
	if (p[0].revents) {
		*lp = LOOP_STOP;
		st = USBREDIR_CLOSED;
		goto out;
	}
	if (r->listen_fd >= 0 && p[3].revents)
		refuse_peer(r);
	if (p[1].revents)
		drain(r->wake_fd);
	if (p[2].revents & POLLIN)
		st = usbredir_conn_read(c);
	else if (p[2].revents & (POLLERR | POLLHUP))
		st = USBREDIR_CLOSED;
	if (st != USBREDIR_OK)
		goto out;
	usbredir_conn_pump(c);
	st = usbredir_conn_write(c);
	atomic_store(&r->connected, usbredir_conn_attached(c));
	if (st == USBREDIR_OK && stalled(r, c, s, high_since))
		st = USBREDIR_ERROR;
out:
	return st;
}

/* Serve one peer until it goes; *attached says whether it got as far as
 * device_connect (a live usb-guest). */
static enum loop serve_peer(struct usbredir *r, int fd, bool *attached)
{
	struct sock_io s = { r, fd, net_now_ms() };
	struct usbredir_io io = { sock_read, sock_write, &s };
	struct usbredir_conn *c;
	enum usbredir_status st = USBREDIR_OK;
	enum loop lp = LOOP_NEXT;
	int64_t high_since = 0;

	set_sockopts(r, fd);
	c = usbredir_conn_new(r->dev, &io, r->o.pcap, r->o.devnum, r->addr);
	if (c == NULL)
		return wait_fd(r, -1, 0, BACKOFF_MAX_MS);
	log_info("usbredir %s: peer connected", r->addr);
	st = usbredir_conn_write(c); /* our hello */
	while (st == USBREDIR_OK && lp == LOOP_NEXT) {
		st = serve_round(r, c, &s, &high_since, &lp);
		*attached = *attached || usbredir_conn_attached(c);
	}
	atomic_store(&r->connected, false);
	usbredir_conn_free(c); /* detaches the device */
	if (lp != LOOP_STOP)
		log_info("usbredir %s: peer disconnected%s", r->addr,
			 st == USBREDIR_ERROR ? " (error)" : "");
	return lp;
}

static void *usbredir_thread(void *arg)
{
	struct usbredir *r = arg;
	int backoff = 0;
	enum loop lp = LOOP_NEXT;

	while (lp == LOOP_NEXT) {
		bool attached = false;
		int fd;

		if (r->listen_fd >= 0) {
			fd = accept_peer(r, &lp);
		} else {
			if (backoff > 0)
				lp = wait_fd(r, -1, 0, backoff);
			fd = lp == LOOP_NEXT ? connect_peer(r, &lp) : -1;
		}
		if (fd >= 0) {
			lp = serve_peer(r, fd, &attached);
			close(fd);
		}
		/* Grow the pause only while no guest takes the device. */
		if (attached)
			backoff = BACKOFF_MIN_MS;
		else
			backoff = backoff ? backoff * 2 : BACKOFF_MIN_MS;
		if (backoff > BACKOFF_MAX_MS)
			backoff = BACKOFF_MAX_MS;
	}
	return NULL;
}

/* The device's notify: any thread, so only poke the eventfd. */
static void wake(void *arg)
{
	struct usbredir *r = arg;
	static const uint64_t one = 1;

	(void)!write(r->wake_fd, &one, sizeof one);
}

static void destroy(struct usbredir *r)
{
	if (r->dev != NULL) {
		usb_dev_set_notify(r->dev, NULL, NULL);
		usb_dev_free(r->dev);
	}
	if (r->listen_fd >= 0)
		close(r->listen_fd);
	if (r->unlink_on_stop)
		unlink(((struct sockaddr_un *)&r->peer.ss)->sun_path);
	if (r->stop_fd >= 0)
		close(r->stop_fd);
	if (r->wake_fd >= 0)
		close(r->wake_fd);
	free(r);
}

static int parse_addr(const char *s, struct net_addr *a, char *err,
		      size_t errlen)
{
	int r;

	if (strchr(s, '/') != NULL)
		return net_parse_unix(s, "usbredir", a, err, errlen);
	r = net_parse_tcp(s, "usbredir", 0, false, a, err, errlen);
	if (r == -2)
		snprintf(err, errlen, "usbredir address '%s' is neither a path "
			 "(with a '/') nor HOST:PORT (port 1-65535)", s);
	return r == 0 ? 0 : -1;
}

int usbredir_check_addr(const char *addr, char *err, size_t errlen)
{
	struct net_addr a;

	memset(&a, 0, sizeof a);
	return parse_addr(addr, &a, err, errlen);
}

static int setup(struct usbredir *r, struct vkey *key, char *err,
		 size_t errlen)
{
	int rc;

	if (parse_addr(r->addr, &r->peer, err, errlen) != 0)
		return -1;
	r->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	r->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (r->stop_fd < 0 || r->wake_fd < 0) {
		snprintf(err, errlen, "usbredir: eventfd: %s", strerror(errno));
		return -1;
	}
	if (!r->o.connect && listen_on(r, err, errlen) != 0)
		return -1;
	if (!r->o.connect && !net_is_loopback(&r->peer))
		log_warn("usbredir %s: listening beyond loopback: anyone who "
			 "reaches this address can use the key", r->addr);
	r->dev = usb_dev_new(key, r->o.ident);
	if (r->dev == NULL) {
		snprintf(err, errlen, "usbredir %s: cannot create the USB device",
			 r->addr);
		return -1;
	}
	usb_dev_set_notify(r->dev, wake, r);
	rc = pthread_create(&r->thread, NULL, usbredir_thread, r);
	if (rc != 0) {
		snprintf(err, errlen, "usbredir: cannot start thread: %s",
			 strerror(rc));
		return -1;
	}
	return 0;
}

struct usbredir *usbredir_start(struct vkey *key, const struct usbredir_opts *o,
				char *err, size_t errlen)
{
	struct usbredir *r = calloc(1, sizeof *r), *ret = NULL;

	if (r == NULL) {
		snprintf(err, errlen, "usbredir: out of memory");
		goto out;
	}
	r->o = *o;
	r->listen_fd = r->stop_fd = r->wake_fd = -1;
	atomic_init(&r->connected, false);
	if (o->addr == NULL ||
	    strlen(o->addr) >= sizeof r->addr) {
		snprintf(err, errlen, "usbredir: address missing or too long");
		goto out;
	}
	snprintf(r->addr, sizeof r->addr, "%s", o->addr);
	snprintf(r->label, sizeof r->label, "usbredir %s", o->addr);
	r->o.addr = r->addr;
	if (setup(r, key, err, errlen) != 0)
		goto out;
	ret = r;
	r = NULL; /* transferred */
out:
	if (r != NULL)
		destroy(r);
	return ret;
}

void usbredir_stop(struct usbredir *r)
{
	static const uint64_t one = 1;

	if (r == NULL)
		return;
	if (write(r->stop_fd, &one, sizeof one) != (ssize_t)sizeof one)
		log_warn("usbredir %s: cannot signal stop: %s", r->addr,
			 strerror(errno));
	pthread_join(r->thread, NULL);
	destroy(r);
}

bool usbredir_connected(const struct usbredir *r)
{
	return r != NULL && atomic_load(&r->connected);
}
