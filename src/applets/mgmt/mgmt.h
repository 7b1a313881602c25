/* The management application: device information and configuration as
 * ykman reads and writes them (docs/MGMT.md). It owns the switches that
 * turn the other applets on and off, and applies them to the dispatcher
 * of its key. */
#ifndef VKEY_MGMT_H
#define VKEY_MGMT_H

#include <stdbool.h>

#include "apdu/dispatch.h"
#include "core/applet.h"

extern const struct applet_ops mgmt_applet;

/* Link the management applet of d (if d has one) to d and apply the
 * persisted switches to its slots. The key calls it once, right after
 * dispatch_init. */
void mgmt_attach(struct dispatch *d);

/* For the core's administration API (src/core/vkey_admin.c); state is
 * the management slot's. mgmt_enabled is lock-free; the others run
 * under the key's lock. */
unsigned mgmt_enabled(void *state);
/* Enable exactly mask (VKEY_APP_* bits): persisted, then applied.
 * Returns STORE_OK, STORE_INVALID for a mask vkey cannot have (empty,
 * or a bit it lacks), or another enum store_err. */
int mgmt_set_enabled(void *state, unsigned mask);

#endif
