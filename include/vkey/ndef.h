/* The NDEF tag of a key (NFC Forum Type 4 Tag) as its owner sees it:
 * read and replace the NDEF message, make the tag read-only, and the
 * record builders and text form `vkey ndef` uses. Readers and writers
 * on the card side use READ/UPDATE BINARY through vkey_apdu(). */
#ifndef VKEY_NDEF_H
#define VKEY_NDEF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vkey/vkey.h"

/* Largest NDEF message the tag holds (the NDEF file is 2 bytes more:
 * NLEN). */
#define VKEY_NDEF_MSG_MAX 4096

enum vkey_ndef_status {
	VKEY_NDEF_OK = 0,
	VKEY_NDEF_FAILED = -1,    /* no NDEF applet, or the store failed */
	VKEY_NDEF_READ_ONLY = -2, /* the tag was made read-only */
	VKEY_NDEF_TOO_LONG = -3,  /* more than VKEY_NDEF_MSG_MAX bytes */
	VKEY_NDEF_MALFORMED = -4, /* not a well-formed NDEF message */
	VKEY_NDEF_DAMAGED = -5,   /* stored tag unreadable: reset the applet */
	VKEY_NDEF_BUSY = -6,      /* the key is busy with a long command */
	VKEY_NDEF_BAD_ARG = -7,   /* bad URI, text or language */
};

/* One sentence for a status, for messages to the user. */
const char *vkey_ndef_strerror(int status);

/* The current message (NLEN bytes; 0 when the tag is empty) into buf,
 * which takes VKEY_NDEF_MSG_MAX bytes; read_only (may be NULL) gets the
 * flag. Returns a status. */
int vkey_ndef_read(struct vkey *key, uint8_t *buf, size_t cap, size_t *len,
		   bool *read_only);
/* Replace the tag's content: NLEN, the message, zeros after it. len 0
 * empties the tag; anything else must be a well-formed message. One
 * store transaction. */
int vkey_ndef_write(struct vkey *key, const uint8_t *msg, size_t len);
/* Make the tag read-only for good (only a factory reset of the applet
 * undoes it): the CC's write access becomes FFh, UPDATE BINARY and
 * vkey_ndef_write are refused. */
int vkey_ndef_set_read_only(struct vkey *key);

/* A message of one URI record (with the RTD-URI prefix code), or of one
 * UTF-8 Text record in language lang (e.g. "en"). */
int vkey_ndef_uri_message(const char *uri, uint8_t *out, size_t cap,
			  size_t *len);
int vkey_ndef_text_message(const char *lang, const char *text, uint8_t *out,
			   size_t cap, size_t *len);

/* What `vkey ndef get` prints for a message: a summary line (length,
 * read-only), then one line per record (URI, text, or the type and the
 * payload in hex), or the raw bytes of a malformed message.
 * NUL-terminated; returns the length, or -1 (cap too small). */
int vkey_ndef_format(const uint8_t *msg, size_t len, bool read_only,
		     char *out, size_t cap);

#endif
