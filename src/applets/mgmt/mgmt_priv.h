/* What the management applet's files share: the wire constants, the
 * parsed WRITE CONFIG, the applet state and the record functions. */
#ifndef VKEY_MGMT_PRIV_H
#define VKEY_MGMT_PRIV_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apdu/dispatch.h"
#include "core/buf.h"
#include "services/pin.h"
#include "services/store.h"
#include "vkey/admin.h"

#define MGMT_INS_WRITE_CONFIG 0x1C
#define MGMT_INS_READ_CONFIG  0x1D

/* Device information and configuration tags (ykman's TAG_*). */
#define MGMT_TAG_USB_SUPPORTED   0x01
#define MGMT_TAG_SERIAL          0x02
#define MGMT_TAG_USB_ENABLED     0x03
#define MGMT_TAG_FORM_FACTOR     0x04
#define MGMT_TAG_VERSION         0x05
#define MGMT_TAG_AUTO_EJECT      0x06
#define MGMT_TAG_CHALRESP        0x07
#define MGMT_TAG_DEVICE_FLAGS    0x08
#define MGMT_TAG_CONFIG_LOCK     0x0A
#define MGMT_TAG_UNLOCK          0x0B
#define MGMT_TAG_REBOOT          0x0C
#define MGMT_TAG_NFC_ENABLED     0x0E

/* The version the SELECT text and device information report. It must
 * agree with the PIV applet's GET VERSION (docs/PIV.md): ykman reads
 * the one here for every application, and 5.7.1 is a current YubiKey 5
 * firmware, so no client gates a feature off. */
#define MGMT_VERSION_MAJOR 5
#define MGMT_VERSION_MINOR 7
#define MGMT_VERSION_PATCH 1

/* Form factor 0, "unknown": a virtual key has no connector or case, and
 * ykman then prints no form factor line (docs/MGMT.md). */
#define MGMT_FORM_FACTOR 0x00

#define MGMT_LOCK_CODE_LEN 16

/* Which fields a WRITE CONFIG carried. */
#define MGMT_SEEN_USB        0x0001u
#define MGMT_SEEN_AUTO_EJECT 0x0002u
#define MGMT_SEEN_CHALRESP   0x0004u
#define MGMT_SEEN_FLAGS      0x0008u
#define MGMT_SEEN_LOCK       0x0010u
#define MGMT_SEEN_UNLOCK     0x0020u
#define MGMT_SEEN_REBOOT     0x0040u
#define MGMT_SEEN_NFC        0x0080u

struct mgmt_write {
	unsigned seen; /* MGMT_SEEN_* */
	uint16_t usb_enabled;
	uint16_t nfc_enabled;
	uint16_t auto_eject; /* seconds */
	uint8_t chalresp;    /* seconds */
	uint8_t flags;
	uint8_t lock[MGMT_LOCK_CODE_LEN];   /* new code; zeros: none */
	uint8_t unlock[MGMT_LOCK_CODE_LEN]; /* current code */
};

/* WRITE CONFIG's data (a length byte, then TLVs) into w. Returns 0, or
 * the status word: 6700 when the length byte disagrees with the data,
 * 6A80 for a malformed, unknown, read-only or repeated TLV or a value of
 * the wrong size. */
unsigned mgmt_parse_write(const uint8_t *data, size_t len,
			  struct mgmt_write *w);
/* The values of a parsed write: 0, or 6A80 (no application left
 * enabled), 6A81 (an application or setting vkey does not have). */
unsigned mgmt_check_write(const struct mgmt_write *w);

/* What READ CONFIG reports. */
struct mgmt_info {
	uint16_t usb_supported;
	uint16_t usb_enabled;
	uint32_t serial;
	bool locked;
};

/* The device information (a length byte, then TLVs) into out. 0 or -1. */
int mgmt_encode_info(const struct mgmt_info *info, struct wbuf *out);

struct mgmt {
	struct store *st;
	uint32_t serial;
	struct dispatch *d; /* set by mgmt_attach; NULL before */
	/* VKEY_APP_* bits. Written under the key's lock, read from any
	 * thread (CTAPHID commands run outside it). */
	atomic_uint enabled;
	bool locked; /* a configuration lock code is set */
};

/* Records of the store namespace "mgmt". */
int mgmt_load(struct mgmt *m);
/* Read the lock code's verifier: STORE_OK, STORE_NOT_FOUND (no lock
 * code) or another error. */
int mgmt_lock_load(struct mgmt *m, struct pin_secret *s);
/* One transaction: the enabled set (when set_mask), and the lock code
 * (when set_lock: lock NULL removes it). */
int mgmt_save(struct mgmt *m, bool set_mask, unsigned mask, bool set_lock,
	      const struct pin_secret *lock);
/* Every record gone: all applications enabled, no lock code. */
int mgmt_clear(struct mgmt *m);

#endif
