/* What several fuzz targets share: one key on a temporary state file for
 * the whole run (static state is fine in a fuzz harness, never in vkey),
 * and a counter of USB device notifications to wait on. */
#ifndef VKEY_FUZZ_KEY_H
#define VKEY_FUZZ_KEY_H

#include "vkey/vkey.h"

/* Open a key under a fresh /tmp/vkey-fuzz-NAME-XXXXXX; at exit it is
 * closed and the folder removed. Exit handlers that free what uses the
 * key must be registered after this call (they then run first). NULL on
 * failure (reported on stderr). */
struct vkey *fuzz_key_open(const char *name, enum vkey_up_policy up);

/* A usb_dev_set_notify callback counting notifications. */
void fuzz_notify(void *arg);
unsigned fuzz_notes(void);
/* Wait up to ms for a notification past the count seen; 1 if one came. */
int fuzz_noted(unsigned seen, unsigned ms);

#endif
