/* USB/IP transport: keys' USB device models exported over TCP the way
 * Linux's usbipd exports real devices, so any Linux with vhci-hcd attaches
 * them with `usbip attach` and its own HID and CCID drivers take over.
 *
 * One server listens on one address and exports any number of keys, each
 * under its own bus id ("1-N", N the key's number in `vkey serve`). A
 * device is imported by one connection at a time; when that connection
 * ends, the device is detached and offered again. */
#ifndef VKEY_USBIP_H
#define VKEY_USBIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "usb/pcap.h"
#include "usb/usb.h"
#include "vkey/vkey.h"

/* --- the exported devices -------------------------------------------------
 * A table the server owns; connections look devices up in it and claim
 * one on import. Not thread-safe: the server's thread is its only user. */
struct usbip_table;

struct usbip_table *usbip_table_new(void);
/* Frees the table, not the devices. */
void usbip_table_free(struct usbip_table *t);
/* Export dev as bus id "1-devnum" (devnum 1..127, unique in the table);
 * pcap (shared, not owned, may be NULL) records its transfers as bus 1,
 * device devnum. Returns 0, or -1 (full, bad or duplicate devnum). */
int usbip_table_add(struct usbip_table *t, struct usb_dev *dev,
		    uint8_t devnum, struct usb_pcap *pcap);
size_t usbip_table_count(const struct usbip_table *t);

/* Bus events power the key on or off, which waits for any command the key
 * is running for any transport (an RSA key generation takes seconds). A
 * server runs them on a thread per device so that one busy key holds up
 * nobody else; the URBs of a connection wait until its device's events
 * have run, so they see them in order. */
enum usbip_bus_event {
	USBIP_BUS_ATTACH,
	USBIP_BUS_DETACH,
	USBIP_BUS_RESET,
};

struct usbip_bus {
	/* Run ev on dev later, then call usbip_table_bus_done(t, devnum). */
	void (*queue)(void *arg, struct usb_dev *dev, uint8_t devnum,
		      enum usbip_bus_event ev);
	void *arg;
};

/* Without one (the default), events run at once on the caller's thread. */
void usbip_table_set_bus(struct usbip_table *t, const struct usbip_bus *bus);
/* Thread-safe: an event queued for devnum has run. */
void usbip_table_bus_done(struct usbip_table *t, uint8_t devnum);
/* Carry out one bus event (what the queue's runner calls). */
void usbip_bus_run(struct usb_dev *dev, enum usbip_bus_event ev);
/* Whether the device exported as devnum is imported now. */
bool usbip_table_busy(const struct usbip_table *t, uint8_t devnum);

/* --- one connection, independent of sockets ------------------------------
 * The server drives each accepted socket through these; the tests and the
 * fuzz target drive the same code from memory. */
struct usbip_io {
	/* Bytes moved (> 0), 0 when nothing more can move now, -1 when the
	 * peer is gone (end of stream or an error, already logged). */
	int (*read)(void *arg, uint8_t *buf, size_t cap);
	int (*write)(void *arg, const uint8_t *buf, size_t len);
	void *arg;
};

enum usbip_status {
	USBIP_OK = 0,
	USBIP_CLOSED, /* the peer went away, or the exchange is over */
	USBIP_ERROR,  /* protocol violation or overload (logged) */
};

struct usbip_conn;

/* A connection to the exports in t; name labels log lines (the peer's
 * address). It waits for an operation request: OP_REQ_DEVLIST is answered
 * and the exchange is over; OP_REQ_IMPORT of a free bus id claims that
 * device, attaches it and turns the connection into a stream of URBs. */
struct usbip_conn *usbip_conn_new(struct usbip_table *t,
				  const struct usbip_io *io, const char *name);
/* Detaches and releases an imported device; URBs still pending are
 * dropped (the peer is gone). */
void usbip_conn_free(struct usbip_conn *c);
/* Parse and act on what the peer sent until its reader has nothing more,
 * or the output queue is full (reading resumes once it drains). */
enum usbip_status usbip_conn_read(struct usbip_conn *c);
/* Answer pending IN URBs for which the device now has data (after the
 * device's notify callback fired). */
void usbip_conn_pump(struct usbip_conn *c);
/* Send queued output until the writer takes no more. USBIP_CLOSED once a
 * finished exchange (device list sent, import refused) has been flushed. */
enum usbip_status usbip_conn_write(struct usbip_conn *c);
size_t usbip_conn_queued(const struct usbip_conn *c);
/* Whether input is wanted now (false while the output queue is full or
 * after a finished exchange). */
bool usbip_conn_wants_input(const struct usbip_conn *c);
/* The imported device's devnum, 0 before an import. */
uint8_t usbip_conn_devnum(const struct usbip_conn *c);
/* URBs the device has not answered yet. */
size_t usbip_conn_pending(const struct usbip_conn *c);
/* Milliseconds until usbip_conn_pump has something to complete without
 * news from the device (a held OUT URB, see usbip_conn.c), -1 if none. */
int usbip_conn_timeout_ms(const struct usbip_conn *c);

/* --- the server ------------------------------------------------------------ */

/* ADDR is HOST:PORT, HOST (port 3240) or :PORT (127.0.0.1); "[V6]:PORT"
 * for IPv6. 0 if usable (the host resolves), else -1 with a sentence in
 * err. *loopback tells whether every address it names is loopback. */
int usbip_check_addr(const char *addr, bool *loopback, char *err,
		     size_t errlen);

/* The address addr names, resolved and written one way ("127.0.0.1:3240"),
 * so that two spellings of one address compare equal. 0 or -1. */
int usbip_addr_canonical(const char *addr, char *out, size_t cap);

struct usbip_key {
	struct vkey *key;
	const struct usb_ident *ident; /* NULL: usb.h's defaults */
	uint8_t devnum;                /* bus id "1-devnum", 1..127 */
};

struct usbip_server;

/* Bind addr now (a busy address fails the command line), make a USB
 * device model for each key, start the server's thread. pcap (shared, not
 * owned) may be NULL. NULL with a sentence in err on failure. */
struct usbip_server *usbip_start(const char *addr, const struct usbip_key *keys,
				 size_t n_keys, struct usb_pcap *pcap,
				 char *err, size_t errlen);
/* Stop the thread, close every connection (devices detached), free. */
void usbip_stop(struct usbip_server *s);
/* The address bound (with the port the kernel chose for port 0). */
const char *usbip_server_addr(const struct usbip_server *s);

#endif
