/* Internals shared by the NDEF applet's files: the Type 4 Tag constants
 * (NFC Forum Type 4 Tag Technical Specification 2.0, "T4T" below), the
 * applet state and the persisted form. */
#ifndef VKEY_NDEF_PRIV_H
#define VKEY_NDEF_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "apdu/apdu.h"
#include "core/buf.h"
#include "vkey/ndef.h"

struct vkey;

#define NDEF_INS_SELECT 0xA4
#define NDEF_INS_READ_BINARY 0xB0
#define NDEF_INS_UPDATE_BINARY 0xD6

/* SELECT by file identifier (T4T §5.4.4): P1 00, P2 0C (no response
 * data) or 00 (FCI requested; the tag answers none). */
#define NDEF_SELECT_BY_FID 0x00
#define NDEF_SELECT_NO_FCI 0x0C
#define NDEF_SELECT_FCI 0x00
/* READ/UPDATE BINARY: P1 bit 8 set means a short EF identifier. */
#define NDEF_P1_SFI 0x80
/* ISO/IEC 7816-4 §5.6: "end of file reached before reading Ne bytes". */
#define NDEF_SW_END_OF_FILE 0x6282

#define NDEF_FID_CC 0xE103
#define NDEF_FID_NDEF 0xE104

/* The capability container (T4T §5.1): 15 bytes, one NDEF File Control
 * TLV. MLe and MLc are what a short APDU carries, so any reader can use
 * them as they are; longer (extended) reads and writes work as well. */
#define NDEF_CC_LEN 15
#define NDEF_MAPPING_2_0 0x20
#define NDEF_MLE 0x00FF
#define NDEF_MLC 0x00FF
#define NDEF_TLV_FILE_CONTROL 0x04
#define NDEF_TLV_FILE_CONTROL_LEN 6
#define NDEF_ACCESS_GRANTED 0x00
#define NDEF_ACCESS_NONE 0xFF

/* The NDEF file: 2-byte NLEN, then the message. */
#define NDEF_NLEN_LEN 2
#define NDEF_MSG_MAX VKEY_NDEF_MSG_MAX
#define NDEF_FILE_SIZE (NDEF_NLEN_LEN + NDEF_MSG_MAX)
_Static_assert(NDEF_FILE_SIZE <= 0xFFFE, "T4T: max NDEF size FFFEh");

/* Persisted: one record "tag" in namespace "ndef": version, flags, then
 * the NDEF file with its trailing zeros cut. */
#define NDEF_NS "ndef"
#define NDEF_REC_V1 1
#define NDEF_FLAG_READ_ONLY 0x01
#define NDEF_REC_HDR 2
#define NDEF_REC_MAX (NDEF_REC_HDR + NDEF_FILE_SIZE)

enum ndef_selected {
	NDEF_SEL_NONE = 0,
	NDEF_SEL_CC,
	NDEF_SEL_NDEF,
};

struct ndef {
	struct vkey *key;
	enum ndef_selected selected; /* volatile: SELECT FILE */
	bool read_only;
	/* The stored tag could not be read: readers see an empty tag and
	 * every change is refused until a factory reset. */
	bool damaged;
	uint8_t file[NDEF_FILE_SIZE];
	uint8_t next[NDEF_FILE_SIZE]; /* the file as an UPDATE would leave it */
	uint8_t rec[NDEF_REC_MAX];    /* the record being written */
};

static inline size_t ndef_nlen(const uint8_t *file)
{
	return (size_t)file[0] << 8 | file[1];
}

/* ndef_store.c: load at start (sets file, read_only, damaged), save a
 * new file image and flag as one store transaction, factory reset. */
void ndef_load(struct ndef *t);
int ndef_save(struct ndef *t, const uint8_t *file, bool read_only);
int ndef_wipe(struct ndef *t);
unsigned ndef_store_sw(int err);

/* ndef_report.c */
void ndef_describe(const struct apdu *cmd, char *out, size_t cap);
int ndef_report_status(void *state, struct wbuf *out);
int ndef_report_list(void *state, struct wbuf *out);

#endif
