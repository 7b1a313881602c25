/* Text reports for `vkey status` and `vkey <applet> list`. The CLI prints
 * them when it opens a state file itself, and the daemon sends the same
 * text over its control socket, so both paths give the same answer. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/vkey_impl.h"

#define REPORT_LOCK_MS 2000

static int finish(struct wbuf *w, char *out, size_t cap)
{
	size_t n = w->len < cap ? w->len : cap - 1;

	out[n] = '\0';
	return (int)n;
}

static void line(struct wbuf *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void line(struct wbuf *w, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	wbuf_put(w, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Take the key's lock, unless a command holds it for longer than a user
 * would wait (it may be waiting for a touch). */
static int lock_for_report(struct vkey *key)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += REPORT_LOCK_MS / 1000;
	return pthread_mutex_timedlock(&key->lock, &ts);
}

int vkey_report_status(struct vkey *key, char *out, size_t cap)
{
	struct wbuf w = wbuf_init((uint8_t *)out, cap > 0 ? cap - 1 : 0);
	char what[96];

	if (cap == 0)
		return -1;
	line(&w, "state file: %s\n", vkey_state_path(key));
	line(&w, "serial: %u\n", vkey_serial(key));
	if (key->serving)
		line(&w, "daemon: pid %ld, user presence %s\n", (long)getpid(),
		     up_policy_name(up_policy(key->up)));
	else
		line(&w, "daemon: none holds this file\n");
	if (up_pending(key->up, what, sizeof(what)))
		line(&w, "waiting for touch: %s\n", what);
	if (lock_for_report(key) != 0) {
		line(&w, "applets: busy with a command\n");
		return finish(&w, out, cap);
	}
	for (size_t i = 0; i < key->dispatch.n_slots; i++) {
		struct dispatch_slot *s = &key->dispatch.slots[i];
		if (s->ops->report_status != NULL)
			s->ops->report_status(s->state, &w);
	}
	pthread_mutex_unlock(&key->lock);
	return finish(&w, out, cap);
}

/* Run one applet's report under the key's lock. which: 0 list,
 * 1 attestation; applet NULL asks every applet. */
static int applet_report(struct vkey *key, const char *applet, int which,
			 char *out, size_t cap)
{
	struct wbuf w = wbuf_init((uint8_t *)out, cap > 0 ? cap - 1 : 0);
	int r = -1, found = 0;

	if (cap == 0)
		return -1;
	if (lock_for_report(key) != 0) {
		snprintf(out, cap, "key busy with a command, try again\n");
		return -1;
	}
	for (size_t i = 0; i < key->dispatch.n_slots; i++) {
		struct dispatch_slot *s = &key->dispatch.slots[i];
		int (*fn)(void *, struct wbuf *) =
			which == 0 ? s->ops->report_list
				   : s->ops->report_attestation;
		if (fn == NULL ||
		    (applet != NULL && strcmp(s->ops->name, applet) != 0))
			continue;
		if (fn(s->state, &w) != 0)
			found = -1;
		else if (found == 0)
			found = 1;
	}
	if (found == 1)
		r = finish(&w, out, cap);
	else
		snprintf(out, cap, "cannot report %s\n",
			 applet ? applet : "attestation");
	pthread_mutex_unlock(&key->lock);
	return r;
}

int vkey_report_list(struct vkey *key, const char *applet, char *out,
		     size_t cap)
{
	if (applet == NULL)
		return -1;
	return applet_report(key, applet, 0, out, cap);
}

int vkey_report_oath_list(struct vkey *key, char *out, size_t cap)
{
	return applet_report(key, "oath", 0, out, cap);
}

int vkey_report_fido_list(struct vkey *key, char *out, size_t cap)
{
	return applet_report(key, "fido", 0, out, cap);
}

int vkey_report_attestation(struct vkey *key, char *out, size_t cap)
{
	return applet_report(key, NULL, 1, out, cap);
}
