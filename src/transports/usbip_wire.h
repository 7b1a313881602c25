/* USB/IP on the wire (Linux Documentation/usb/usbip_protocol.rst, protocol
 * version 1.1.1): the operation messages a client sends before it imports a
 * device, and the URB messages of an imported connection. Every field is
 * big-endian; the structs are the exact wire layout, pinned by size checks,
 * and converted field by field (usbip_conn.c). */
#ifndef VKEY_USBIP_WIRE_H
#define VKEY_USBIP_WIRE_H

#include <stdint.h>

#define USBIP_VERSION 0x0111
#define USBIP_PORT_DEFAULT 3240

/* Operation codes (before import). */
#define USBIP_OP_REQ_DEVLIST 0x8005
#define USBIP_OP_REP_DEVLIST 0x0005
#define USBIP_OP_REQ_IMPORT 0x8003
#define USBIP_OP_REP_IMPORT 0x0003
/* Reply status (the usbip tool names each in its message). */
#define USBIP_ST_OK 0
#define USBIP_ST_NA 1
#define USBIP_ST_DEV_BUSY 2 /* imported by another client */
#define USBIP_ST_NODEV 4    /* no such bus id */

/* URB commands (after import). */
#define USBIP_CMD_SUBMIT 1
#define USBIP_CMD_UNLINK 2
#define USBIP_RET_SUBMIT 3
#define USBIP_RET_UNLINK 4
#define USBIP_DIR_OUT 0
#define USBIP_DIR_IN 1

/* number_of_packets of a transfer that is not isochronous. */
#define USBIP_NO_ISO 0xFFFFFFFFu

/* Linux's enum usb_device_speed, as the device list reports it. */
#define USBIP_SPEED_FULL 2

/* Linux errno values as URB status (the client is a Linux kernel). */
#define USBIP_EPIPE 32
#define USBIP_ENOMEM 12
#define USBIP_EINVAL 22
#define USBIP_ECONNRESET 104
#define USBIP_ESHUTDOWN 108

#define USBIP_BUSID_SIZE 32
#define USBIP_PATH_SIZE 256

struct usbip_op_header {
	uint16_t version;
	uint16_t code;
	uint32_t status;
} __attribute__((packed));

/* One exported device, in OP_REP_DEVLIST (then its interfaces) and in
 * OP_REP_IMPORT (without them). */
struct usbip_wire_device {
	char path[USBIP_PATH_SIZE];
	char busid[USBIP_BUSID_SIZE];
	uint32_t busnum;
	uint32_t devnum;
	uint32_t speed;
	uint16_t id_vendor;
	uint16_t id_product;
	uint16_t bcd_device;
	uint8_t device_class;
	uint8_t device_subclass;
	uint8_t device_protocol;
	uint8_t configuration_value;
	uint8_t num_configurations;
	uint8_t num_interfaces;
} __attribute__((packed));

struct usbip_wire_iface {
	uint8_t cls;
	uint8_t subclass;
	uint8_t protocol;
	uint8_t padding;
} __attribute__((packed));

struct usbip_header_basic {
	uint32_t command;
	uint32_t seqnum;
	uint32_t devid; /* (busnum << 16) | devnum from the client; 0 back */
	uint32_t direction;
	uint32_t ep;
} __attribute__((packed));

struct usbip_cmd_submit {
	uint32_t transfer_flags;
	int32_t transfer_buffer_length;
	int32_t start_frame;
	int32_t number_of_packets;
	int32_t interval;
	uint8_t setup[8]; /* little-endian USB SETUP packet */
} __attribute__((packed));

struct usbip_ret_submit {
	int32_t status;
	int32_t actual_length;
	int32_t start_frame;
	int32_t number_of_packets;
	int32_t error_count;
	uint8_t padding[8];
} __attribute__((packed));

struct usbip_cmd_unlink {
	uint32_t unlink_seqnum;
	uint8_t padding[24];
} __attribute__((packed));

struct usbip_ret_unlink {
	int32_t status;
	uint8_t padding[24];
} __attribute__((packed));

/* Every URB message starts with a 48-byte header. */
struct usbip_header {
	struct usbip_header_basic base;
	union {
		struct usbip_cmd_submit cmd_submit;
		struct usbip_ret_submit ret_submit;
		struct usbip_cmd_unlink cmd_unlink;
		struct usbip_ret_unlink ret_unlink;
	} u;
} __attribute__((packed));

/* One isochronous packet descriptor (never used by vkey's endpoints, but
 * its size frames a client's message). */
#define USBIP_ISO_DESC_SIZE 16

_Static_assert(sizeof(struct usbip_op_header) == 8, "op header");
_Static_assert(sizeof(struct usbip_wire_device) == 312, "device");
_Static_assert(sizeof(struct usbip_wire_iface) == 4, "interface");
_Static_assert(sizeof(struct usbip_header_basic) == 20, "basic header");
_Static_assert(sizeof(struct usbip_cmd_submit) == 28, "cmd_submit");
_Static_assert(sizeof(struct usbip_ret_submit) == 28, "ret_submit");
_Static_assert(sizeof(struct usbip_cmd_unlink) == 28, "cmd_unlink");
_Static_assert(sizeof(struct usbip_ret_unlink) == 28, "ret_unlink");
_Static_assert(sizeof(struct usbip_header) == 48, "URB header");

#endif
