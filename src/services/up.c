/* User-presence service (see up.h): a request waits on a condition
 * variable that up_touch() and up_cancel() signal. */
#include "services/up.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"

#define TICK_MS 100

struct up {
	atomic_int policy;      /* enum vkey_up_policy; up_set may change it */
	atomic_uint timeout_ms;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* signalled on every state change */
	int pending;
	int approved;
	int cancelled;
	char what[96];
};

struct up *up_new(enum vkey_up_policy policy, unsigned timeout_ms)
{
	struct up *up = calloc(1, sizeof(*up));
	pthread_condattr_t ca;

	if (up == NULL)
		return NULL;
	atomic_init(&up->policy, (int)policy);
	atomic_init(&up->timeout_ms, timeout_ms);
	pthread_mutex_init(&up->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&up->cond, &ca);
	pthread_condattr_destroy(&ca);
	return up;
}

void up_free(struct up *up)
{
	if (up == NULL)
		return;
	pthread_cond_destroy(&up->cond);
	pthread_mutex_destroy(&up->lock);
	free(up);
}

static struct timespec deadline_in(unsigned ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += ms / 1000;
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	return ts;
}

static int before(const struct timespec *a, const struct timespec *b)
{
	return a->tv_sec < b->tv_sec ||
	       (a->tv_sec == b->tv_sec && a->tv_nsec < b->tv_nsec);
}

static enum up_result wait_prompt(struct up *up, const char *what,
				  int (*tick)(void *arg), void *arg)
{
	struct timespec end = deadline_in(atomic_load(&up->timeout_ms)), now,
			slice;
	enum up_result res = UP_TIMEOUT;

	pthread_mutex_lock(&up->lock);
	up->pending = 1;
	up->approved = 0;
	up->cancelled = 0;
	snprintf(up->what, sizeof(up->what), "%s", what);
	pthread_cond_broadcast(&up->cond);
	log_warn("touch requested: %s (run `vkey touch`)", what);
	for (;;) {
		if (up->approved) {
			res = UP_APPROVED;
			break;
		}
		if (up->cancelled) {
			res = UP_CANCELLED;
			break;
		}
		clock_gettime(CLOCK_MONOTONIC, &now);
		if (!before(&now, &end))
			break;
		slice = deadline_in(TICK_MS);
		if (before(&end, &slice))
			slice = end;
		pthread_cond_timedwait(&up->cond, &up->lock, &slice);
		if (tick != NULL && !up->approved) {
			pthread_mutex_unlock(&up->lock);
			int stop = tick(arg);
			pthread_mutex_lock(&up->lock);
			if (stop)
				up->cancelled = 1;
		}
	}
	up->pending = 0;
	up->approved = 0;
	up->what[0] = '\0';
	pthread_cond_broadcast(&up->cond);
	pthread_mutex_unlock(&up->lock);
	return res;
}

enum up_result up_request(struct up *up, const char *what,
			  int (*tick)(void *arg), void *arg)
{
	enum up_result res;

	switch ((enum vkey_up_policy)atomic_load(&up->policy)) {
	case VKEY_UP_AUTO:
		res = UP_APPROVED;
		break;
	case VKEY_UP_DENY:
		res = UP_DENIED;
		break;
	default:
		res = wait_prompt(up, what, tick, arg);
		break;
	}
	log_info("user presence for %s: %s", what,
		 res == UP_APPROVED ? "approved" :
		 res == UP_DENIED ? "denied" :
		 res == UP_CANCELLED ? "cancelled" : "timed out");
	return res;
}

int up_touch(struct up *up, unsigned wait_ms)
{
	struct timespec end = deadline_in(wait_ms);
	int r = -1;

	pthread_mutex_lock(&up->lock);
	while (!up->pending || up->approved) {
		if (pthread_cond_timedwait(&up->cond, &up->lock, &end) != 0 &&
		    (!up->pending || up->approved))
			goto out;
	}
	up->approved = 1;
	pthread_cond_broadcast(&up->cond);
	r = 0;
out:
	pthread_mutex_unlock(&up->lock);
	return r;
}

void up_cancel(struct up *up)
{
	pthread_mutex_lock(&up->lock);
	if (up->pending) {
		up->cancelled = 1;
		pthread_cond_broadcast(&up->cond);
	}
	pthread_mutex_unlock(&up->lock);
}

enum vkey_up_policy up_policy(const struct up *up)
{
	return (enum vkey_up_policy)atomic_load(&((struct up *)up)->policy);
}

void up_set(struct up *up, enum vkey_up_policy policy, unsigned timeout_ms)
{
	atomic_store(&up->policy, (int)policy);
	atomic_store(&up->timeout_ms, timeout_ms);
}

const char *up_policy_name(enum vkey_up_policy p)
{
	switch (p) {
	case VKEY_UP_AUTO:
		return "auto";
	case VKEY_UP_DENY:
		return "deny";
	case VKEY_UP_PROMPT:
		return "prompt";
	}
	return "?";
}

bool up_pending(struct up *up, char *what, size_t cap)
{
	bool p;

	pthread_mutex_lock(&up->lock);
	p = up->pending != 0;
	if (p && cap > 0)
		snprintf(what, cap, "%s", up->what);
	pthread_mutex_unlock(&up->lock);
	return p;
}
