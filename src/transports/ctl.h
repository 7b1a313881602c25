/* Control socket: a unix socket (mode 0600) beside the state file through
 * which `vkey touch`, `vkey status` and `vkey list` reach a running key.
 * One request line in; text out, ending with "ok" or "error: ...". */
#ifndef VKEY_CTL_H
#define VKEY_CTL_H

#include <stddef.h>

#include "vkey/vkey.h"

struct ctl;

/* Default control-socket path for a state file: "<state>.ctl". */
int ctl_default_path(const char *state, char *out, size_t cap);

struct ctl *ctl_start(struct vkey *key, const char *path);
void ctl_stop(struct ctl *c);

/* Client: send one request and collect the reply text (without the final
 * status line) into out. Returns 0 for "ok", 1 for "error" (the message
 * is in out), -1 when no daemon answers at path (errno kept). */
int ctl_request(const char *path, const char *request, char *out,
		size_t cap, unsigned timeout_ms);

#endif
