/* What several fuzz targets share: one key on a temporary state file for
 * the whole run (static state is fine in a fuzz harness, never in vkey),
 * and a counter of USB device notifications to wait on. */
#ifndef VKEY_FUZZ_KEY_H
#define VKEY_FUZZ_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "vkey/vkey.h"

/* Open a key under a fresh /tmp/vkey-fuzz-NAME-XXXXXX; at exit it is
 * closed and the folder removed. Exit handlers that free what uses the
 * key must be registered after this call (they then run first). NULL on
 * failure (reported on stderr). */
struct vkey *fuzz_key_open(const char *name, enum vkey_up_policy up);

/* Send one APDU to the key opened by fuzz_key_open; aborts when the core
 * fails to answer with at least a status word. Returns the status word. */
unsigned fuzz_apdu(const uint8_t *cmd, size_t n);
/* The APDU-sequence input format: byte 0 is a command count (modulo
 * max + 1), then each command is a 2-byte big-endian length and the
 * APDU (cut short at the end of the input). Each is sent through
 * fuzz_apdu from an exact-size copy, so the sanitizer sees over-reads. */
void fuzz_apdu_sequence(const uint8_t *data, size_t size, size_t max);

/* A usb_dev_set_notify callback counting notifications. */
void fuzz_notify(void *arg);
unsigned fuzz_notes(void);
/* Wait up to ms for a notification past the count seen; 1 if one came. */
int fuzz_noted(unsigned seen, unsigned ms);

#endif
