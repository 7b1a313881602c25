/* User presence: the one place a command may block. A request is
 * answered by the policy: auto approves, deny refuses, prompt waits
 * (bounded) for up_touch() from the control socket, checking a cancel
 * flag. */
#ifndef VKEY_UP_H
#define VKEY_UP_H

#include <stdbool.h>

#include "vkey/vkey.h"

struct up;

enum up_result {
	UP_APPROVED = 0,
	UP_DENIED,
	UP_TIMEOUT,
	UP_CANCELLED,
};

struct up *up_new(enum vkey_up_policy policy, unsigned timeout_ms);
void up_free(struct up *up);

/* Ask for a touch. what names the operation for `vkey status` and logs
 * (copied; the caller's buffer need only live for the call).
 * tick, if not NULL, is called about every 100 ms while waiting (for
 * keepalives); a non-zero return from it cancels the wait. */
enum up_result up_request(struct up *up, const char *what,
			  int (*tick)(void *arg), void *arg);

/* Approve a pending request, waiting up to wait_ms for one to arrive.
 * Returns 0 when one was approved, -1 when none came. */
int up_touch(struct up *up, unsigned wait_ms);
void up_cancel(struct up *up);
enum vkey_up_policy up_policy(const struct up *up);
/* Change the policy and the prompt's wait; a wait in progress keeps its
 * deadline. */
void up_set(struct up *up, enum vkey_up_policy policy, unsigned timeout_ms);
const char *up_policy_name(enum vkey_up_policy p);
/* Copies the pending request's description; false when none. */
bool up_pending(struct up *up, char *what, size_t cap);

#endif
