/* A scripted usb-guest (QEMU's side of usbredir) on libusbredirparser,
 * for driving `vkey serve --usbredir` the way QEMU's usb-redir does. */
#ifndef VKEY_TEST_USBREDIR_GUEST_H
#define VKEY_TEST_USBREDIR_GUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <usbredirparser.h>

#define GUEST_PKTS 64
#define GUEST_REPORTS 256
#define GUEST_MS 5000 /* default wait */

/* A data packet or status message the usb-host sent. */
struct guest_pkt {
	int type; /* usb_redir_* packet type */
	uint64_t id;
	uint8_t ep, status, extra; /* extra: configuration / alt */
	uint32_t len; /* the header's length */
	uint8_t *data;
	int data_len;
};

struct guest {
	int fd;
	struct usbredirparser *p;
	bool hello, connected, rejected_by_peer, eof;
	char peer_version[64];
	struct usb_redir_device_connect_header dc;
	struct usb_redir_ep_info_header ep;
	struct usb_redir_interface_info_header ifs;
	int n_ep_info, n_iface_info;
	struct guest_pkt pkts[GUEST_PKTS];
	int n_pkts;
	uint8_t reports[GUEST_REPORTS][64]; /* pushed interrupt IN data */
	int report_len[GUEST_REPORTS];
	int n_reports;
	uint64_t next_id;
	/* Every byte the guest sent, for fuzz seeds (NULL: not kept). */
	FILE *tape;
};

/* Connect to a usb-host listening at a unix path (guest_connect) or adopt
 * a connected socket (guest_adopt). tape, if not NULL, gets every byte
 * the guest sends (fuzz seeds) and is closed by guest_free. NULL on
 * failure. */
struct guest *guest_connect(const char *path, FILE *tape);
struct guest *guest_connect_tcp(uint16_t port, FILE *tape); /* 127.0.0.1 */
struct guest *guest_adopt(int fd, FILE *tape);
void guest_free(struct guest *g);

/* Move bytes both ways for up to ms; -1 once the host closed. */
int guest_poll(struct guest *g, int ms);
/* Poll until the host has sent device_connect (true) or ms pass. */
bool guest_wait_connect(struct guest *g, int ms);
/* Poll until the host closes the connection (true) or ms pass. */
bool guest_wait_eof(struct guest *g, int ms);

/* Wait for the packet of this type and id (id ~0: any id) and take it;
 * the caller frees data. false on timeout. */
bool guest_take(struct guest *g, int type, uint64_t id, struct guest_pkt *out,
		int ms);

/* Requests, each with a fresh id. Results: bytes moved, or -1 - status. */
int guest_control(struct guest *g, uint8_t reqtype, uint8_t req,
		  uint16_t value, uint16_t index, uint8_t *data, uint16_t len);
uint64_t guest_bulk_send(struct guest *g, uint8_t ep, const uint8_t *data,
			 uint32_t len);
int guest_bulk_wait(struct guest *g, uint64_t id, uint8_t *buf, uint32_t cap,
		    int ms);
int guest_interrupt_out(struct guest *g, uint8_t ep, const uint8_t *data,
			uint16_t len);
/* The next pushed interrupt IN report: its length, or -1 on timeout. */
int guest_interrupt_in(struct guest *g, uint8_t *buf, int ms);
/* set_configuration / get_configuration: status; *cfg gets the config. */
int guest_set_config(struct guest *g, uint8_t cfg, uint8_t *out);
int guest_get_config(struct guest *g, uint8_t *out);
int guest_set_alt(struct guest *g, uint8_t iface, uint8_t alt, uint8_t *out);
int guest_get_alt(struct guest *g, uint8_t iface, uint8_t *out);
int guest_start_interrupt(struct guest *g, uint8_t ep);
void guest_cancel(struct guest *g, uint64_t id);
void guest_reset(struct guest *g);

#endif
