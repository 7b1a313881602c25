/* One USB/IP connection, independent of sockets: the operation phase (device
 * list, import) and, once a device is imported, the URB stream between the
 * client's virtual host controller and vkey's USB device model. The server
 * (usbip.c) feeds it from a socket; tests and the fuzz target from memory.
 *
 * Rules a Linux client depends on (drivers/usb/usbip/vhci_rx.c):
 * - a RET_SUBMIT for a seqnum the client no longer knows makes it drop the
 *   connection, so an unlinked URB never gets one;
 * - actual_length never exceeds the URB's buffer;
 * - IN URBs are held until the device has data: usbhid keeps one interrupt
 *   IN URB in flight for as long as the device is open. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "transports/usbip.h"
#include "transports/usbip_wire.h"

#define EXPORTS_MAX 127
/* Bus events queued for one device at most: an import needs room for its
 * attach, a reset and its detach. */
#define BUS_PENDING_MAX 64
#define PENDING_MAX 64
/* The longest transfer either way: a CCID message (64 KiB + header) with
 * room to spare. Longer OUT data is a protocol error; longer IN requests
 * are answered with at most this much. */
#define XFER_MAX (65536 + 1024)
#define HDR_SIZE sizeof(struct usbip_header)
#define RX_CAP (HDR_SIZE + XFER_MAX)
/* Output above this stops reading and answering until the peer drains. */
#define OUT_HIGH (256 * 1024)
#define TX_CAP (OUT_HIGH + HDR_SIZE + XFER_MAX)

#define PCAP_BUS 1
/* usbmon ids: seqnum, a tag telling USB/IP from usbredir, the device. */
#define PCAP_ID_USBIP (UINT64_C(1) << 54)

/* An interrupt OUT URB that hands the device a whole command (its class
 * worker is busy afterwards) completes together with the command's first
 * answer, at most HOLD_MS later: the client's interrupt IN URB is already
 * waiting, and two small replies written apart can cost a round trip of
 * delayed ACKs on the way (QEMU's user network holds the second ~40 ms).
 * A real device may NAK an OUT just as long. */
#define HOLD_MS 50
#define HELD_MAX 8

#define EP_DIR_IN 0x80
#define RT_PORT_OTHER 0x23 /* class request to a hub port */
#define REQ_SET_FEATURE 3
#define PORT_FEAT_RESET 4

struct usbip_export {
	struct usb_dev *dev;
	struct usb_pcap *pcap;
	uint8_t devnum;
	struct usbip_conn *owner;
	atomic_uint bus_pending; /* events queued, not run yet */
};

struct usbip_table {
	struct usbip_export ex[EXPORTS_MAX];
	size_t n;
	struct usbip_bus bus;
};

struct pending_in {
	uint32_t seqnum;
	uint32_t len;
	int32_t npackets; /* echoed back */
	uint8_t ep;
};

struct held_out {
	uint32_t seqnum;
	uint32_t len;
	int32_t npackets;
	uint8_t ep;
	int64_t deadline_ms;
};

enum phase {
	PHASE_OP,   /* waiting for OP_REQ_DEVLIST or OP_REQ_IMPORT */
	PHASE_URB,  /* a device is imported */
	PHASE_DONE, /* reply queued; close once it is sent */
};

struct usbip_conn {
	struct usbip_table *t;
	struct usbip_export *ex; /* the imported device, NULL before */
	struct usbip_io io;
	char name[128];
	enum phase phase;
	bool failed; /* a protocol error was logged; close */
	bool gone;   /* the io saw the peer go */

	struct pending_in pending[PENDING_MAX];
	size_t n_pending;
	bool warned_full;
	struct held_out held[HELD_MAX];
	size_t n_held;

	uint8_t *rx;
	size_t rx_len;
	uint8_t *tx;
	size_t tx_off, tx_len;
	uint8_t xfer[XFER_MAX]; /* IN data of one URB */
};

/* --- the table ------------------------------------------------------------ */

struct usbip_table *usbip_table_new(void)
{
	return calloc(1, sizeof(struct usbip_table));
}

void usbip_table_free(struct usbip_table *t)
{
	free(t);
}

static struct usbip_export *find_devnum(struct usbip_table *t, uint8_t devnum)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->ex[i].devnum == devnum)
			return &t->ex[i];
	return NULL;
}

int usbip_table_add(struct usbip_table *t, struct usb_dev *dev,
		    uint8_t devnum, struct usb_pcap *pcap)
{
	if (t->n == EXPORTS_MAX || dev == NULL || devnum == 0 ||
	    devnum > 127 || find_devnum(t, devnum) != NULL)
		return -1;
	t->ex[t->n].dev = dev;
	t->ex[t->n].pcap = pcap;
	t->ex[t->n].devnum = devnum;
	t->ex[t->n].owner = NULL;
	atomic_init(&t->ex[t->n].bus_pending, 0);
	t->n++;
	return 0;
}

void usbip_table_set_bus(struct usbip_table *t, const struct usbip_bus *bus)
{
	if (bus != NULL)
		t->bus = *bus;
	else
		memset(&t->bus, 0, sizeof t->bus);
}

void usbip_table_bus_done(struct usbip_table *t, uint8_t devnum)
{
	struct usbip_export *e = find_devnum(t, devnum);

	if (e != NULL)
		atomic_fetch_sub(&e->bus_pending, 1);
}

void usbip_bus_run(struct usb_dev *dev, enum usbip_bus_event ev)
{
	switch (ev) {
	case USBIP_BUS_ATTACH:
		usb_dev_attach(dev); /* a USB power-up */
		break;
	case USBIP_BUS_DETACH:
		usb_dev_detach(dev);
		break;
	default:
		usb_dev_reset(dev);
		break;
	}
}

static void bus_event(struct usbip_table *t, struct usbip_export *e,
		      enum usbip_bus_event ev)
{
	if (t->bus.queue == NULL) {
		usbip_bus_run(e->dev, ev);
		return;
	}
	atomic_fetch_add(&e->bus_pending, 1);
	t->bus.queue(t->bus.arg, e->dev, e->devnum, ev);
}

/* URBs wait while the device's bus events have not all run. */
static bool bus_idle(const struct usbip_conn *c)
{
	return c->ex == NULL || atomic_load(&c->ex->bus_pending) == 0;
}

size_t usbip_table_count(const struct usbip_table *t)
{
	return t->n;
}

bool usbip_table_busy(const struct usbip_table *t, uint8_t devnum)
{
	for (size_t i = 0; i < t->n; i++)
		if (t->ex[i].devnum == devnum)
			return t->ex[i].owner != NULL;
	return false;
}

static void busid_of(const struct usbip_export *e, char *busid)
{
	memset(busid, 0, USBIP_BUSID_SIZE);
	snprintf(busid, USBIP_BUSID_SIZE, "%d-%u", PCAP_BUS, e->devnum);
}

/* A client's bus id field: NUL-terminated within its 32 bytes. */
static struct usbip_export *find_busid(struct usbip_table *t,
				       const char *field)
{
	char busid[USBIP_BUSID_SIZE];

	if (memchr(field, '\0', USBIP_BUSID_SIZE) == NULL)
		return NULL;
	for (size_t i = 0; i < t->n; i++) {
		busid_of(&t->ex[i], busid);
		if (strcmp(busid, field) == 0)
			return &t->ex[i];
	}
	return NULL;
}

/* --- output ------------------------------------------------------------- */

static bool out_full(const struct usbip_conn *c)
{
	return c->tx_len - c->tx_off >= OUT_HIGH;
}

/* Callers produce output only while !out_full, and one message is at most
 * HDR_SIZE + XFER_MAX, so it always fits once the sent part is dropped. */
static void emit(struct usbip_conn *c, const void *p, size_t n)
{
	if (c->tx_off > 0 && c->tx_len + n > TX_CAP) {
		memmove(c->tx, c->tx + c->tx_off, c->tx_len - c->tx_off);
		c->tx_len -= c->tx_off;
		c->tx_off = 0;
	}
	if (c->tx_len + n > TX_CAP) { /* cannot happen; never overflow */
		log_error("usbip %s: output overflow", c->name);
		c->failed = true;
		return;
	}
	memcpy(c->tx + c->tx_len, p, n);
	c->tx_len += n;
}

/* --- capture -------------------------------------------------------------- */

static enum usb_xfer_type ep_type(const struct usbip_conn *c, uint8_t ep)
{
	const struct usb_layout *l = usb_dev_layout(c->ex->dev);

	if ((ep & 0x7F) == 0)
		return USB_XFER_CONTROL;
	for (size_t i = 0; i < l->n_eps; i++)
		if (l->eps[i].address == ep)
			return l->eps[i].type;
	return USB_XFER_BULK; /* unknown: the device stalls it */
}

static void cap(const struct usbip_conn *c, uint32_t seqnum, char ev,
		uint8_t ep, const struct usb_setup *setup, int status,
		uint32_t urb_len, const uint8_t *data, size_t len)
{
	const struct usbip_export *e = c->ex;
	uint64_t id = seqnum | PCAP_ID_USBIP | (uint64_t)e->devnum << 56;

	if (e->pcap != NULL)
		usb_pcap_event(e->pcap, id, ev, ep_type(c, ep), ep, PCAP_BUS,
			       e->devnum, setup, status, urb_len, data, len);
}

/* --- operation phase --------------------------------------------------- */

static void op_header(struct usbip_conn *c, uint16_t code, uint32_t status)
{
	struct usbip_op_header h = {
		.version = htons(USBIP_VERSION),
		.code = htons(code),
		.status = htonl(status),
	};

	emit(c, &h, sizeof h);
}

static void wire_device(const struct usbip_export *e,
			struct usbip_wire_device *w)
{
	const struct usb_layout *l = usb_dev_layout(e->dev);

	memset(w, 0, sizeof *w);
	snprintf(w->path, sizeof w->path, "/vkey/usb%d/%d-%u", PCAP_BUS,
		 PCAP_BUS, e->devnum);
	busid_of(e, w->busid);
	w->busnum = htonl(PCAP_BUS);
	w->devnum = htonl(e->devnum);
	w->speed = htonl(USBIP_SPEED_FULL);
	w->id_vendor = htons(l->vid);
	w->id_product = htons(l->pid);
	w->bcd_device = htons(l->bcd_device);
	w->device_class = l->dev_class;
	w->device_subclass = l->dev_subclass;
	w->device_protocol = l->dev_protocol;
	w->configuration_value = l->configuration;
	w->num_configurations = 1;
	w->num_interfaces = (uint8_t)l->n_ifaces;
}

/* Devices already imported are left out: the list is what can be
 * attached now. */
static void reply_devlist(struct usbip_conn *c)
{
	struct usbip_wire_device w;
	uint32_t n = 0;

	for (size_t i = 0; i < c->t->n; i++)
		n += c->t->ex[i].owner == NULL;
	op_header(c, USBIP_OP_REP_DEVLIST, USBIP_ST_OK);
	n = htonl(n);
	emit(c, &n, sizeof n);
	for (size_t i = 0; i < c->t->n; i++) {
		const struct usbip_export *e = &c->t->ex[i];
		const struct usb_layout *l = usb_dev_layout(e->dev);

		if (e->owner != NULL)
			continue;
		wire_device(e, &w);
		emit(c, &w, sizeof w);
		for (size_t j = 0; j < l->n_ifaces; j++) {
			struct usbip_wire_iface wi = { l->ifaces[j].cls,
						       l->ifaces[j].subclass,
						       l->ifaces[j].protocol, 0 };

			emit(c, &wi, sizeof wi);
		}
	}
	log_debug("usbip %s: device list sent", c->name);
	c->phase = PHASE_DONE;
}

static void reply_import(struct usbip_conn *c, const char *field)
{
	struct usbip_export *e = find_busid(c->t, field);
	struct usbip_wire_device w;

	c->phase = PHASE_DONE;
	if (e == NULL || e->owner != NULL ||
	    atomic_load(&e->bus_pending) > BUS_PENDING_MAX - 3) {
		log_warn("usbip %s: import of %.32s refused: %s", c->name,
			 memchr(field, '\0', USBIP_BUSID_SIZE) ? field : "?",
			 e == NULL	    ? "no such bus id"
			 : e->owner != NULL ? "imported by another client"
					    : "too many imports in a row");
		op_header(c, USBIP_OP_REP_IMPORT,
			  e == NULL ? USBIP_ST_NODEV : USBIP_ST_DEV_BUSY);
		return;
	}
	e->owner = c;
	c->ex = e;
	c->phase = PHASE_URB;
	op_header(c, USBIP_OP_REP_IMPORT, USBIP_ST_OK);
	wire_device(e, &w);
	emit(c, &w, sizeof w);
	bus_event(c->t, e, USBIP_BUS_ATTACH);
	log_info("usbip %s: bus id %s imported", c->name, w.busid);
}

/* Bytes the next operation message needs; 0 when it is malformed. */
static size_t op_need(struct usbip_conn *c)
{
	const struct usbip_op_header *h = (const void *)c->rx;
	uint16_t code;

	if (c->rx_len < sizeof *h)
		return sizeof *h;
	code = ntohs(h->code);
	if (ntohs(h->version) != USBIP_VERSION) {
		log_warn("usbip %s: protocol version %04x, not %04x: closing",
			 c->name, ntohs(h->version), USBIP_VERSION);
		return 0;
	}
	if (code == USBIP_OP_REQ_DEVLIST)
		return sizeof *h;
	if (code == USBIP_OP_REQ_IMPORT)
		return sizeof *h + USBIP_BUSID_SIZE;
	log_warn("usbip %s: unknown operation %04x: closing", c->name, code);
	return 0;
}

static void op_message(struct usbip_conn *c)
{
	const struct usbip_op_header *h = (const void *)c->rx;

	if (ntohs(h->code) == USBIP_OP_REQ_DEVLIST)
		reply_devlist(c);
	else
		reply_import(c, (const char *)c->rx + sizeof *h);
}

/* --- URBs ---------------------------------------------------------------- */

static void ret_submit(struct usbip_conn *c, uint32_t seqnum, int status,
		       int32_t npackets, const uint8_t *data, uint32_t len)
{
	struct usbip_header h;

	memset(&h, 0, sizeof h);
	h.base.command = htonl(USBIP_RET_SUBMIT);
	h.base.seqnum = htonl(seqnum);
	h.u.ret_submit.status = (int32_t)htonl((uint32_t)status);
	h.u.ret_submit.actual_length = (int32_t)htonl(len);
	h.u.ret_submit.number_of_packets = (int32_t)htonl((uint32_t)npackets);
	emit(c, &h, sizeof h);
	if (data != NULL && len > 0)
		emit(c, data, len);
}

static void ret_unlink(struct usbip_conn *c, uint32_t seqnum, int status)
{
	struct usbip_header h;

	memset(&h, 0, sizeof h);
	h.base.command = htonl(USBIP_RET_UNLINK);
	h.base.seqnum = htonl(seqnum);
	h.u.ret_unlink.status = (int32_t)htonl((uint32_t)status);
	emit(c, &h, sizeof h);
}

static int urb_status(int r)
{
	return r == USB_STALL ? -USBIP_EPIPE : -USBIP_EINVAL;
}

/* A submitted URB as the parser read it. */
struct submit {
	uint32_t seqnum;
	uint8_t ep; /* with the direction bit */
	bool in;
	uint32_t len;
	int32_t npackets;
	const uint8_t *setup; /* 8 bytes */
	const uint8_t *data;  /* OUT data, len bytes */
};

static uint16_t le16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static void control(struct usbip_conn *c, const struct submit *u)
{
	struct usb_setup s = { u->setup[0], u->setup[1], le16(u->setup + 2),
			       le16(u->setup + 4), le16(u->setup + 6) };
	bool setup_in = (s.bmRequestType & EP_DIR_IN) != 0;
	uint32_t room = u->in ? (u->len < s.wLength ? u->len : s.wLength) : 0;
	int r, st = 0;
	uint32_t done = 0;

	cap(c, u->seqnum, 'S', u->ep, &s, -EINPROGRESS, u->len,
	    u->in ? NULL : u->data, u->in ? 0 : u->len);
	if (setup_in != u->in || (!u->in && u->len < s.wLength)) {
		st = -USBIP_EINVAL; /* the data would flow the wrong way */
	} else if (s.bmRequestType == RT_PORT_OTHER &&
		   s.bRequest == REQ_SET_FEATURE &&
		   s.wValue == PORT_FEAT_RESET) {
		/* Some clients forward the port reset Linux's usbipd
		 * performs for them. */
		bus_event(c->t, c->ex, USBIP_BUS_RESET);
	} else {
		r = usb_dev_control(c->ex->dev, &s,
				    u->in ? c->xfer : (uint8_t *)u->data,
				    u->in ? room : s.wLength);
		if (r < 0)
			st = urb_status(r);
		else
			done = u->in ? (uint32_t)r : s.wLength;
	}
	cap(c, u->seqnum, 'C', u->ep, NULL, st, done, u->in ? c->xfer : NULL,
	    u->in ? done : 0);
	ret_submit(c, u->seqnum, st, u->npackets, u->in ? c->xfer : NULL,
		   u->in ? done : 0);
}

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void complete_out(struct usbip_conn *c, uint32_t seqnum, uint8_t ep,
			 int32_t npackets, uint32_t len)
{
	cap(c, seqnum, 'C', ep, NULL, 0, len, NULL, 0);
	ret_submit(c, seqnum, 0, npackets, NULL, len);
}

/* Complete held OUT URBs: all of them (an answer is about to go out), or
 * those whose command has ended or whose time is up. */
static void release_held(struct usbip_conn *c, bool all)
{
	int64_t now = c->n_held > 0 && !all ? mono_ms() : 0;
	size_t kept = 0;

	for (size_t i = 0; i < c->n_held; i++) {
		struct held_out h = c->held[i];

		if (all || now >= h.deadline_ms ||
		    !usb_dev_ep_busy(c->ex->dev, h.ep))
			complete_out(c, h.seqnum, h.ep, h.npackets, h.len);
		else
			c->held[kept++] = h;
	}
	c->n_held = kept;
}

static void data_out(struct usbip_conn *c, const struct submit *u)
{
	int r, st;

	cap(c, u->seqnum, 'S', u->ep, NULL, -EINPROGRESS, u->len, u->data,
	    u->len);
	r = usb_dev_out(c->ex->dev, u->ep, u->data, u->len);
	st = r == 0 ? 0 : urb_status(r);
	if (st == 0 && c->n_held < HELD_MAX &&
	    ep_type(c, u->ep) == USB_XFER_INTERRUPT &&
	    usb_dev_ep_busy(c->ex->dev, u->ep)) {
		c->held[c->n_held++] = (struct held_out){
			u->seqnum, u->len, u->npackets, u->ep, mono_ms() + HOLD_MS
		};
		return;
	}
	if (st == 0) {
		complete_out(c, u->seqnum, u->ep, u->npackets, u->len);
		return;
	}
	cap(c, u->seqnum, 'C', u->ep, NULL, st, 0, NULL, 0);
	ret_submit(c, u->seqnum, st, u->npackets, NULL, 0);
}

static void queue_in(struct usbip_conn *c, const struct submit *u)
{
	if (c->n_pending == PENDING_MAX) {
		if (!c->warned_full)
			log_warn("usbip %s: more than %d IN URBs pending; "
				 "failing the excess", c->name, PENDING_MAX);
		c->warned_full = true;
		ret_submit(c, u->seqnum, -USBIP_ENOMEM, u->npackets, NULL, 0);
		return;
	}
	cap(c, u->seqnum, 'S', u->ep, NULL, -EINPROGRESS, u->len, NULL, 0);
	c->pending[c->n_pending++] =
		(struct pending_in){ u->seqnum, u->len, u->npackets, u->ep };
}

static void drop_pending_at(struct usbip_conn *c, size_t i)
{
	memmove(&c->pending[i], &c->pending[i + 1],
		(c->n_pending - i - 1) * sizeof c->pending[0]);
	c->n_pending--;
}

/* An unlink answers -ECONNRESET when the URB was still pending or held
 * (and it will never get a RET_SUBMIT), 0 when its RET_SUBMIT went out
 * before. */
static void unlink_urb(struct usbip_conn *c, uint32_t seqnum,
		       uint32_t target)
{
	for (size_t i = 0; i < c->n_pending; i++) {
		if (c->pending[i].seqnum != target)
			continue;
		cap(c, target, 'C', c->pending[i].ep, NULL, -USBIP_ECONNRESET,
		    0, NULL, 0);
		drop_pending_at(c, i);
		ret_unlink(c, seqnum, -USBIP_ECONNRESET);
		return;
	}
	for (size_t i = 0; i < c->n_held; i++) {
		if (c->held[i].seqnum != target)
			continue;
		cap(c, target, 'C', c->held[i].ep, NULL, -USBIP_ECONNRESET, 0,
		    NULL, 0);
		c->held[i] = c->held[--c->n_held];
		ret_unlink(c, seqnum, -USBIP_ECONNRESET);
		return;
	}
	ret_unlink(c, seqnum, 0);
}

/* Bytes the next URB message needs; 0 when it is malformed (logged). */
static size_t urb_need(struct usbip_conn *c)
{
	const struct usbip_header *h = (const void *)c->rx;
	uint32_t cmd, dir, ep;
	int32_t len, np;

	if (c->rx_len < HDR_SIZE)
		return HDR_SIZE;
	cmd = ntohl(h->base.command);
	if (cmd == USBIP_CMD_UNLINK)
		return HDR_SIZE;
	if (cmd != USBIP_CMD_SUBMIT) {
		log_warn("usbip %s: unknown command %u: closing", c->name, cmd);
		return 0;
	}
	dir = ntohl(h->base.direction);
	ep = ntohl(h->base.ep);
	len = (int32_t)ntohl((uint32_t)h->u.cmd_submit.transfer_buffer_length);
	np = (int32_t)ntohl((uint32_t)h->u.cmd_submit.number_of_packets);
	if (dir > USBIP_DIR_IN || ep > 15 || len < 0) {
		log_warn("usbip %s: malformed URB (direction %u, endpoint %u, "
			 "length %d): closing", c->name, dir, ep, len);
		return 0;
	}
	if (np != 0 && np != -1) {
		log_warn("usbip %s: isochronous URB (%d packets): vkey has no "
			 "isochronous endpoint; closing", c->name, np);
		return 0;
	}
	if (dir == USBIP_DIR_IN)
		return HDR_SIZE;
	if ((uint32_t)len > XFER_MAX) {
		log_warn("usbip %s: OUT URB of %d bytes (at most %d): closing",
			 c->name, len, XFER_MAX);
		return 0;
	}
	return HDR_SIZE + (size_t)len;
}

static void urb_message(struct usbip_conn *c)
{
	const struct usbip_header *h = (const void *)c->rx;
	struct submit u;
	uint32_t ep;

	u.seqnum = ntohl(h->base.seqnum);
	if (ntohl(h->base.command) == USBIP_CMD_UNLINK) {
		unlink_urb(c, u.seqnum, ntohl(h->u.cmd_unlink.unlink_seqnum));
		return;
	}
	ep = ntohl(h->base.ep);
	u.in = ntohl(h->base.direction) == USBIP_DIR_IN;
	u.ep = (uint8_t)(ep | (u.in ? EP_DIR_IN : 0));
	u.len = ntohl((uint32_t)h->u.cmd_submit.transfer_buffer_length);
	u.npackets = (int32_t)ntohl((uint32_t)h->u.cmd_submit.number_of_packets);
	u.setup = h->u.cmd_submit.setup;
	u.data = c->rx + HDR_SIZE;
	if (ep == 0)
		control(c, &u);
	else if (!u.in)
		data_out(c, &u);
	else {
		queue_in(c, &u);
		usbip_conn_pump(c);
	}
}

/* --- the connection -------------------------------------------------------- */

struct usbip_conn *usbip_conn_new(struct usbip_table *t,
				  const struct usbip_io *io, const char *name)
{
	struct usbip_conn *c = calloc(1, sizeof *c);

	if (c == NULL)
		return NULL;
	c->rx = malloc(RX_CAP);
	c->tx = malloc(TX_CAP);
	if (c->rx == NULL || c->tx == NULL) {
		free(c->rx);
		free(c->tx);
		free(c);
		return NULL;
	}
	c->t = t;
	c->io = *io;
	snprintf(c->name, sizeof c->name, "%s", name);
	return c;
}

void usbip_conn_free(struct usbip_conn *c)
{
	char busid[USBIP_BUSID_SIZE];

	if (c == NULL)
		return;
	if (c->ex != NULL) {
		for (size_t i = 0; i < c->n_pending; i++)
			cap(c, c->pending[i].seqnum, 'C', c->pending[i].ep,
			    NULL, -USBIP_ESHUTDOWN, 0, NULL, 0);
		for (size_t i = 0; i < c->n_held; i++)
			cap(c, c->held[i].seqnum, 'C', c->held[i].ep, NULL,
			    -USBIP_ESHUTDOWN, 0, NULL, 0);
		bus_event(c->t, c->ex, USBIP_BUS_DETACH);
		c->ex->owner = NULL;
		busid_of(c->ex, busid);
		log_info("usbip %s: bus id %s detached; offered again", c->name,
			 busid);
	}
	explicit_bzero(c->rx, RX_CAP); /* URB data holds PINs and keys */
	explicit_bzero(c->tx, TX_CAP);
	explicit_bzero(c->xfer, sizeof c->xfer);
	free(c->rx);
	free(c->tx);
	free(c);
}

/* Handle every complete message in rx; returns false on a protocol
 * error. Stops early while the output is full. */
static bool parse(struct usbip_conn *c, size_t *need)
{
	while (c->phase != PHASE_DONE && !out_full(c) && bus_idle(c)) {
		size_t n = c->phase == PHASE_OP ? op_need(c) : urb_need(c);

		if (n == 0)
			return false;
		if (c->rx_len < n) {
			*need = n;
			return true;
		}
		if (c->phase == PHASE_OP)
			op_message(c);
		else
			urb_message(c);
		memmove(c->rx, c->rx + n, c->rx_len - n);
		c->rx_len -= n;
		if (c->failed)
			return false;
	}
	*need = 0;
	return true;
}

enum usbip_status usbip_conn_read(struct usbip_conn *c)
{
	size_t need = HDR_SIZE;
	int n;

	if (c->failed)
		return USBIP_ERROR;
	if (c->gone)
		return USBIP_CLOSED;
	for (;;) {
		if (!parse(c, &need)) {
			c->failed = true;
			return USBIP_ERROR;
		}
		if (need == 0 || c->rx_len == RX_CAP)
			return USBIP_OK; /* output full or exchange over */
		/* Read no further than this message's end while the reply
		 * phase may change how the rest is framed (operations). */
		n = c->io.read(c->io.arg, c->rx + c->rx_len,
			       c->phase == PHASE_OP ? need - c->rx_len
						    : RX_CAP - c->rx_len);
		if (n < 0) {
			c->gone = true;
			return USBIP_CLOSED;
		}
		if (n == 0)
			return USBIP_OK;
		c->rx_len += (size_t)n;
	}
}

/* Answer pending IN URBs in order, per endpoint, while the device has
 * data for them. */
void usbip_conn_pump(struct usbip_conn *c)
{
	uint32_t nak = 0; /* endpoints with nothing now */
	size_t i = 0;

	if (c->ex == NULL || !bus_idle(c))
		return;
	while (i < c->n_pending && !out_full(c)) {
		struct pending_in p = c->pending[i];
		uint32_t bit = UINT32_C(1) << (p.ep & 0x0F);
		uint32_t room = p.len < XFER_MAX ? p.len : XFER_MAX;
		int r;

		if (nak & bit) {
			i++;
			continue;
		}
		r = usb_dev_in(c->ex->dev, p.ep, c->xfer, room);
		if (r == USB_NAK) {
			nak |= bit;
			i++;
			continue;
		}
		drop_pending_at(c, i);
		release_held(c, true); /* the OUT's completion goes first */
		if (r >= 0) {
			cap(c, p.seqnum, 'C', p.ep, NULL, 0, (uint32_t)r,
			    c->xfer, (size_t)r);
			ret_submit(c, p.seqnum, 0, p.npackets, c->xfer,
				   (uint32_t)r);
		} else {
			cap(c, p.seqnum, 'C', p.ep, NULL, urb_status(r), 0,
			    NULL, 0);
			ret_submit(c, p.seqnum, urb_status(r), p.npackets,
				   NULL, 0);
		}
	}
	if (!out_full(c))
		release_held(c, false);
}

int usbip_conn_timeout_ms(const struct usbip_conn *c)
{
	int64_t first = INT64_MAX, now;

	if (c->n_held == 0)
		return -1;
	for (size_t i = 0; i < c->n_held; i++)
		if (c->held[i].deadline_ms < first)
			first = c->held[i].deadline_ms;
	now = mono_ms();
	return first <= now ? 0 : (int)(first - now);
}

enum usbip_status usbip_conn_write(struct usbip_conn *c)
{
	while (c->tx_off < c->tx_len) {
		int n = c->io.write(c->io.arg, c->tx + c->tx_off,
				    c->tx_len - c->tx_off);

		if (n < 0) {
			c->gone = true;
			return USBIP_CLOSED;
		}
		if (n == 0)
			return c->failed ? USBIP_ERROR : USBIP_OK;
		c->tx_off += (size_t)n;
	}
	explicit_bzero(c->tx, c->tx_len);
	c->tx_off = c->tx_len = 0;
	if (c->failed)
		return USBIP_ERROR;
	return c->phase == PHASE_DONE ? USBIP_CLOSED : USBIP_OK;
}

size_t usbip_conn_queued(const struct usbip_conn *c)
{
	return c->tx_len - c->tx_off;
}

bool usbip_conn_wants_input(const struct usbip_conn *c)
{
	return c->phase != PHASE_DONE && !c->failed && !c->gone &&
	       !out_full(c) && bus_idle(c);
}

uint8_t usbip_conn_devnum(const struct usbip_conn *c)
{
	return c->ex != NULL ? c->ex->devnum : 0;
}

size_t usbip_conn_pending(const struct usbip_conn *c)
{
	return c->n_pending;
}
