/* The owner's factory reset (vkey reset, vkey/admin.h): one applet or
 * the whole key, under the key's lock, every session ended before and
 * after so no PIN stays verified. The serial and device secret stay. */
#include "vkey/admin.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "applets/fido/ctap_priv.h"
#include "applets/fido/fido.h"
#include "core/config.h"
#include "core/log.h"
#include "core/vkey_impl.h"

/* As long as an owner waits for a command to let go of the key. */
#define RESET_LOCK_MS 3000

static int timed_lock(pthread_mutex_t *mu)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += RESET_LOCK_MS / 1000;
	return pthread_mutex_timedlock(mu, &ts);
}

/* The CTAP core answers CTAPHID commands under its own lock, outside the
 * key's: a reset of FIDO holds both (the key's first, as power-up does). */
static struct ctap *fido_core(struct vkey *key, const char *name)
{
	struct dispatch_slot *s = dispatch_find(&key->dispatch, "fido");

	if (s == NULL || (name != NULL && strcmp(name, "fido") != 0))
		return NULL;
	return fido_ctap(s->state);
}

/* Every applet (name NULL) or the one named, with both locks held. The
 * first failure is kept in err; the others still run. */
static int reset_applets(struct vkey *key, const char *name, char *err,
			 size_t errlen)
{
	int r = 0;

	for (size_t i = 0; i < key->dispatch.n_slots; i++) {
		struct dispatch_slot *s = &key->dispatch.slots[i];

		if (name != NULL && strcmp(s->ops->name, name) != 0)
			continue;
		if (s->ops->factory_reset == NULL ||
		    s->ops->factory_reset(s->state) != 0) {
			if (r == 0)
				snprintf(err, errlen, "%s: the %s reset failed",
					 vkey_state_path(key), s->ops->name);
			log_error("%s: factory reset of %s failed",
				  vkey_state_path(key), s->ops->name);
			r = -1;
		}
	}
	if (name == NULL && config_clear(key) != 0) {
		if (r == 0)
			snprintf(err, errlen, "%s: the settings reset failed",
				 vkey_state_path(key));
		r = -1;
	}
	return r;
}

int vkey_factory_reset(struct vkey *key, const char *name, char *err,
		       size_t errlen)
{
	struct ctap *c;
	int r;

	if (name != NULL && dispatch_find(&key->dispatch, name) == NULL) {
		snprintf(err, errlen, "no applet '%.32s' (fido, oath, openpgp, "
				      "piv, ndef, mgmt)", name);
		return -1;
	}
	c = fido_core(key, name);
	/* A command waiting for a touch lets go of its lock at once. */
	up_cancel(key->up);
	if (timed_lock(&key->lock) != 0) {
		snprintf(err, errlen, "%s: busy with a command, try again",
			 vkey_state_path(key));
		return -1;
	}
	/* Sessions end first: FIDO's command in flight is abandoned, so the
	 * CTAP lock comes free. */
	dispatch_power_off(&key->dispatch);
	if (c != NULL) {
		up_cancel(key->up);
		if (timed_lock(&c->lock) != 0) {
			snprintf(err, errlen, "%s: FIDO is busy with a command, "
					      "try again", vkey_state_path(key));
			r = -1;
			goto power;
		}
	}
	r = reset_applets(key, name, err, errlen);
	if (c != NULL)
		pthread_mutex_unlock(&c->lock);
	if (r == 0)
		log_info("%s: factory reset of %s", vkey_state_path(key),
			 name != NULL ? name : "every applet and the settings");
power:
	/* A fresh power-up: new FIDO PIN tokens, nothing verified. */
	if (key->powered)
		dispatch_power_on(&key->dispatch);
	pthread_mutex_unlock(&key->lock);
	return r;
}

int vkey_reset_run(struct vkey *key, const char *name, char *out,
		   size_t cap)
{
	char err[256];

	if (cap == 0)
		return -1;
	if (vkey_factory_reset(key, name, err, sizeof(err)) != 0) {
		snprintf(out, cap, "%s\n", err);
		return -1;
	}
	if (name != NULL)
		snprintf(out, cap, "%s: back to its factory state\n", name);
	else
		snprintf(out, cap, "every applet back to its factory state, "
				   "settings cleared; serial %u kept\n",
			 vkey_serial(key));
	return 0;
}
