/* The key administration API (vkey/admin.h): the management applet's
 * switches for the owner's tools, who need no configuration lock code
 * (whoever holds the state file holds the key). */
#include "vkey/admin.h"

#include <stdio.h>
#include <strings.h>
#include <time.h>

#include "applets/mgmt/mgmt.h"
#include "core/vkey_impl.h"

#define ADMIN_LOCK_MS 2000

static const struct {
	unsigned app;
	const char *name;
	const char *display; /* as ykman prints it */
} apps[] = {
	{ VKEY_APP_U2F, "u2f", "FIDO U2F" },
	{ VKEY_APP_FIDO2, "fido2", "FIDO2" },
	{ VKEY_APP_OATH, "oath", "OATH" },
	{ VKEY_APP_PIV, "piv", "PIV" },
	{ VKEY_APP_OPENPGP, "openpgp", "OpenPGP" },
};

#define N_APPS (sizeof(apps) / sizeof(apps[0]))

const char *vkey_app_name(unsigned app)
{
	for (size_t i = 0; i < N_APPS; i++)
		if (apps[i].app == app)
			return apps[i].name;
	return NULL;
}

const char *vkey_app_display_name(unsigned app)
{
	for (size_t i = 0; i < N_APPS; i++)
		if (apps[i].app == app)
			return apps[i].display;
	return NULL;
}

unsigned vkey_app_from_name(const char *name)
{
	for (size_t i = 0; name != NULL && i < N_APPS; i++)
		if (strcasecmp(apps[i].name, name) == 0)
			return apps[i].app;
	return 0;
}

/* The management slot, or NULL on a key built without one. The slot
 * table never changes after vkey_open, so no lock is needed to find it. */
static struct dispatch_slot *mgmt_slot(struct vkey *key)
{
	return dispatch_find(&key->dispatch, mgmt_applet.name);
}

bool vkey_applet_enabled(struct vkey *key, unsigned app)
{
	struct dispatch_slot *s = mgmt_slot(key);

	return s == NULL || (mgmt_enabled(s->state) & app) != 0;
}

int vkey_get_applets(struct vkey *key, enum vkey_transport t,
		     unsigned *mask)
{
	struct dispatch_slot *s = mgmt_slot(key);

	if (t != VKEY_TRANSPORT_USB)
		return -1;
	*mask = s != NULL ? mgmt_enabled(s->state) : VKEY_APP_ALL;
	return 0;
}

/* The key's lock, unless a command holds it for longer than an owner
 * would wait (it may be waiting for a touch). */
static int lock_key(struct vkey *key)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += ADMIN_LOCK_MS / 1000;
	return pthread_mutex_timedlock(&key->lock, &ts);
}

int vkey_set_applets(struct vkey *key, enum vkey_transport t,
		     unsigned mask, char *err, size_t errlen)
{
	struct dispatch_slot *s = mgmt_slot(key);
	int r;

	if (t != VKEY_TRANSPORT_USB) {
		snprintf(err, errlen, "vkey has no such transport");
		return -1;
	}
	if ((mask & ~VKEY_APP_ALL) != 0) {
		snprintf(err, errlen, "vkey has no application %04X",
			 mask & ~VKEY_APP_ALL);
		return -1;
	}
	if (mask == 0) {
		snprintf(err, errlen, "at least one application must stay "
				      "enabled");
		return -1;
	}
	if (s == NULL) {
		snprintf(err, errlen, "this key has no management application");
		return -1;
	}
	if (lock_key(key) != 0) {
		snprintf(err, errlen, "%s: busy with a command",
			 vkey_state_path(key));
		return -1;
	}
	r = mgmt_set_enabled(s->state, mask);
	pthread_mutex_unlock(&key->lock);
	if (r != STORE_OK) {
		snprintf(err, errlen, "%s: %s", vkey_state_path(key),
			 store_strerror(r));
		return -1;
	}
	return 0;
}

int vkey_admin_reset(struct vkey *key)
{
	struct dispatch_slot *s = mgmt_slot(key);
	int r;

	if (s == NULL)
		return 0;
	if (lock_key(key) != 0)
		return -1;
	r = s->ops->factory_reset(s->state);
	pthread_mutex_unlock(&key->lock);
	return r == 0 ? 0 : -1;
}
