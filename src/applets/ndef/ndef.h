/* The NDEF applet: an NFC Forum Type 4 Tag (mapping version 2.0) with a
 * capability container and one NDEF file, as NFC readers find it. */
#ifndef VKEY_NDEF_APPLET_H
#define VKEY_NDEF_APPLET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/applet.h"

extern const struct applet_ops ndef_applet;

/* For vkey_ndef.c, called under the key's lock with the applet's state.
 * Each returns an enum vkey_ndef_status. */
int ndef_get_message(void *state, uint8_t *buf, size_t cap, size_t *len,
		     bool *read_only);
/* msg must already be a checked message of at most VKEY_NDEF_MSG_MAX. */
int ndef_set_message(void *state, const uint8_t *msg, size_t len);
int ndef_make_read_only(void *state);

/* The text of vkey_ndef_format (summary line, record lines) into out. */
int ndef_show(const uint8_t *msg, size_t len, bool read_only,
	      struct wbuf *out);

#endif
