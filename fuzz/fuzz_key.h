/* What several fuzz targets share: one key on a temporary state file for
 * the whole run (static state is fine in a fuzz harness, never in vkey),
 * and a counter of USB device notifications to wait on. */
#ifndef VKEY_FUZZ_KEY_H
#define VKEY_FUZZ_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "vkey/vkey.h"

/* Open a key under a fresh /dev/shm/vkey-fuzz-NAME-XXXXXX (in /tmp when
 * there is no /dev/shm); at exit it is closed and the folder removed.
 * Exit handlers that free what uses the key must be registered after
 * this call (they then run first). NULL on failure (reported on
 * stderr). */
struct vkey *fuzz_key_open(const char *name, enum vkey_up_policy up);

/* Close the key of fuzz_key_open, delete its state file and open a new
 * one in its place: a factory-fresh key. NULL on failure. */
struct vkey *fuzz_key_renew(void);

/* Send one APDU to the key opened by fuzz_key_open; aborts when the core
 * fails to answer with at least a status word. Returns the status word. */
unsigned fuzz_apdu(const uint8_t *cmd, size_t n);
/* The whole response (data + status word) of the last fuzz_apdu; valid
 * until the next one. */
const uint8_t *fuzz_last_response(size_t *len);
/* The APDU-sequence input format: byte 0 is a command count (modulo
 * max + 1), then each command is a 2-byte big-endian length and the
 * APDU (cut short at the end of the input). Each is sent through
 * fuzz_apdu from an exact-size copy, so the sanitizer sees over-reads. */
void fuzz_apdu_sequence(const uint8_t *data, size_t size, size_t max);
/* As fuzz_apdu_sequence, but each command is first offered to hook (with
 * the same exact-size copy): a non-zero return means the hook handled it
 * (a step a replay cannot express, such as answering a random
 * challenge), and it is not sent as it is. */
typedef int (*fuzz_apdu_hook)(const uint8_t *cmd, size_t n);
void fuzz_apdu_sequence_hooked(const uint8_t *data, size_t size, size_t max,
			       fuzz_apdu_hook hook);

/* A usb_dev_set_notify callback counting notifications. */
void fuzz_notify(void *arg);
unsigned fuzz_notes(void);
/* Wait up to ms for a notification past the count seen; 1 if one came. */
int fuzz_noted(unsigned seen, unsigned ms);

#endif
