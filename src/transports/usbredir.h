/* usbredir transport: a key's USB device model spoken over the usbredir
 * protocol (usbredir's usb-host role), so QEMU's stock usb-redir device
 * plugs the key into a guest. */
#ifndef VKEY_USBREDIR_H
#define VKEY_USBREDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "usb/pcap.h"
#include "usb/usb.h"
#include "vkey/vkey.h"

/* Where the peer is. An address containing '/' is a unix socket path;
 * anything else is HOST:PORT over TCP ("[::1]:PORT" for IPv6). */
struct usbredir_opts {
	const char *addr;
	bool connect;              /* vkey connects (QEMU listens); else vkey listens */
	const struct usb_ident *ident; /* NULL: usb.h's defaults */
	struct usb_pcap *pcap;     /* NULL: no capture; shared, not owned */
	uint8_t devnum;            /* usbmon device number in the capture */
};

struct usbredir;

/* 0 if addr is a usable address (path length, HOST:PORT syntax, the
 * host resolves), else -1 with a sentence in err. */
int usbredir_check_addr(const char *addr, char *err, size_t errlen);

/* Check the address, bind a listening socket now (so a busy address fails
 * the command line), and start the key's transport thread. Returns NULL
 * with a sentence in err on failure. */
struct usbredir *usbredir_start(struct vkey *key, const struct usbredir_opts *o,
				char *err, size_t errlen);
/* Stop the thread, detach the device, close and unlink the socket. */
void usbredir_stop(struct usbredir *r);
/* True while a peer's hello has been answered with device_connect. */
bool usbredir_connected(const struct usbredir *r);

/* --- one connection, independent of sockets -------------------------
 * The thread above drives a connection over a socket; the fuzz target
 * drives the same code from memory through these io callbacks. */
struct usbredir_io {
	/* Bytes moved (> 0), 0 when nothing more can move now, -1 when the
	 * peer is gone (end of stream or an error, already logged). */
	int (*read)(void *arg, uint8_t *buf, size_t cap);
	int (*write)(void *arg, const uint8_t *buf, size_t len);
	void *arg;
};

enum usbredir_status {
	USBREDIR_OK = 0,
	USBREDIR_CLOSED, /* the peer went away */
	USBREDIR_ERROR,  /* protocol violation or overload (logged) */
};

struct usbredir_conn;

/* A connection for dev: queues the hello at once. name labels log lines.
 * The device is attached when the peer's hello arrives and detached by
 * usbredir_conn_free. */
struct usbredir_conn *usbredir_conn_new(struct usb_dev *dev,
					const struct usbredir_io *io,
					struct usb_pcap *pcap, uint8_t devnum,
					const char *name);
void usbredir_conn_free(struct usbredir_conn *c);
/* Parse and act on what the peer sent, until its reader has nothing or
 * the output queue is full. */
enum usbredir_status usbredir_conn_read(struct usbredir_conn *c);
/* Move data the device has ready on IN endpoints to the peer: queued
 * bulk IN requests and interrupt IN endpoints that are receiving. */
void usbredir_conn_pump(struct usbredir_conn *c);
/* Send queued output until the writer takes no more. */
enum usbredir_status usbredir_conn_write(struct usbredir_conn *c);
/* Bytes queued for the peer. */
size_t usbredir_conn_queued(struct usbredir_conn *c);
bool usbredir_conn_attached(const struct usbredir_conn *c);

#endif
