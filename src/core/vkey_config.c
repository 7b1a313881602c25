/* Persisted settings for `vkey config` (vkey/admin.h, docs/ADMIN.md):
 * text values in the store namespace "config", checked and brought to
 * one spelling here, so the daemon and a tool on the file agree. The
 * applet switches are the management application's (vkey_set_applets). */
#include "vkey/admin.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "core/config.h"
#include "core/vkey_impl.h"
#include "services/up.h"
#include "usb/usb.h"

#define NS "config"
#define CONFIG_LOCK_MS 2000
#define VALUE_MAX 126 /* a USB string descriptor's UTF-16 units */
#define UP_TIMEOUT_MAX_S 600

/* Checks value and writes its one spelling into out; 0 or -1. */
typedef int (*config_check_fn)(const char *value, char *out, size_t cap);

struct setting {
	const char *name;
	config_check_fn check;
	const char *usage;     /* what value it takes */
	const char *fallback;  /* in effect when unset */
	const char *serve_opt; /* the vkey serve option that wins */
};

static int check_up(const char *v, char *out, size_t cap)
{
	if (strcmp(v, "auto") != 0 && strcmp(v, "deny") != 0 &&
	    strcmp(v, "prompt") != 0)
		return -1;
	snprintf(out, cap, "%s", v);
	return 0;
}

static int check_seconds(const char *v, char *out, size_t cap)
{
	char *end;
	unsigned long s;

	if (!isdigit((unsigned char)v[0]))
		return -1;
	s = strtoul(v, &end, 10);
	if (*end != '\0' || s == 0 || s > UP_TIMEOUT_MAX_S)
		return -1;
	snprintf(out, cap, "%lu", s);
	return 0;
}

static int check_usb_id(const char *v, char *out, size_t cap)
{
	char *end;
	unsigned long id;

	if (!isxdigit((unsigned char)v[0]))
		return -1;
	id = strtoul(v, &end, 16);
	if (*end != '\0' || id == 0 || id > 0xFFFF)
		return -1;
	snprintf(out, cap, "%04lx", id);
	return 0;
}

/* 1..126 bytes of printable text (UTF-8 allowed, no control bytes). */
static int check_text(const char *v, char *out, size_t cap)
{
	size_t n = strlen(v);

	if (n == 0 || n > VALUE_MAX)
		return -1;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)v[i] < 0x20 || v[i] == 0x7F)
			return -1;
	snprintf(out, cap, "%s", v);
	return 0;
}

#define STR_(x) #x
#define STR(x) STR_(x)

static const struct setting settings[] = {
	{ "up", check_up, "auto, deny or prompt", "prompt", "--up" },
	{ "up-timeout", check_seconds, "1.." STR(UP_TIMEOUT_MAX_S) " seconds",
	  "15", "--up-timeout" },
	{ "usb-vid", check_usb_id, "a hex ID 1..ffff", NULL, "--usb-vid" },
	{ "usb-pid", check_usb_id, "a hex ID 1..ffff", NULL, "--usb-pid" },
	{ "usb-manufacturer", check_text,
	  "1.." STR(VALUE_MAX) " characters of text", USB_MANUFACTURER_DEFAULT,
	  "--usb-manufacturer" },
	{ "usb-product", check_text, "1.." STR(VALUE_MAX) " characters of text",
	  USB_PRODUCT_DEFAULT, "--usb-product" },
};

#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

static const struct setting *find(const char *name)
{
	for (size_t i = 0; name != NULL && i < N_SETTINGS; i++)
		if (strcmp(settings[i].name, name) == 0)
			return &settings[i];
	return NULL;
}

static void fallback_text(const struct setting *s, char *out, size_t cap)
{
	if (strcmp(s->name, "usb-vid") == 0)
		snprintf(out, cap, "%04x", USB_VID_DEFAULT);
	else if (strcmp(s->name, "usb-pid") == 0)
		snprintf(out, cap, "%04x", USB_PID_DEFAULT);
	else
		snprintf(out, cap, "%s", s->fallback);
}

static int lock_key(struct vkey *key)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += CONFIG_LOCK_MS / 1000;
	return pthread_mutex_timedlock(&key->lock, &ts);
}

/* The stored value (key's lock held): 1 found, 0 unset, -1 error. */
static int get_locked(struct vkey *key, const char *name, char *out,
		      size_t cap)
{
	char buf[VALUE_MAX + 1];
	size_t len = 0;
	int err = store_get_into(key->store, NS, name, strlen(name),
				 (uint8_t *)buf, VALUE_MAX, &len);

	if (err == STORE_NOT_FOUND)
		return 0;
	if (err != STORE_OK)
		return -1;
	buf[len] = '\0';
	snprintf(out, cap, "%s", buf);
	return 1;
}

int vkey_config_get(struct vkey *key, const char *name, char *out,
		    size_t cap)
{
	int r;

	if (cap == 0 || find(name) == NULL)
		return -1;
	out[0] = '\0';
	if (lock_key(key) != 0)
		return -1;
	r = get_locked(key, name, out, cap);
	pthread_mutex_unlock(&key->lock);
	return r;
}

int config_clear(struct vkey *key)
{
	return store_clear(key->store, NS) == STORE_OK ? 0 : -1;
}

static void put_text(struct wbuf *w, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void put_text(struct wbuf *w, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n > 0)
		wbuf_put(w, tmp, (size_t)n < sizeof(tmp) ? (size_t)n
							 : sizeof(tmp) - 1);
}

/* "fido2,u2f,..." for a mask, or "none". */
static void app_names(unsigned mask, char *out, size_t cap)
{
	static const unsigned order[] = { VKEY_APP_FIDO2, VKEY_APP_U2F,
					  VKEY_APP_OATH, VKEY_APP_PIV,
					  VKEY_APP_OPENPGP };
	size_t n = 0;

	out[0] = '\0';
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if ((mask & order[i]) != 0 && n < cap)
			n += (size_t)snprintf(out + n, cap - n, "%s%s",
					      n > 0 ? "," : "",
					      vkey_app_name(order[i]));
	if (n == 0)
		snprintf(out, cap, "none");
}

static void applets_line(struct vkey *key, struct wbuf *w)
{
	unsigned mask = VKEY_APP_ALL;
	char on[96], off[96];

	(void)vkey_get_applets(key, VKEY_TRANSPORT_USB, &mask);
	app_names(mask, on, sizeof(on));
	app_names(VKEY_APP_ALL & ~mask, off, sizeof(off));
	put_text(w, "applets usb: enabled %s; disabled %s\n", on, off);
}

static int show(struct vkey *key, struct wbuf *w)
{
	char val[VALUE_MAX + 1];

	if (lock_key(key) != 0)
		return -1;
	for (size_t i = 0; i < N_SETTINGS; i++) {
		int r = get_locked(key, settings[i].name, val, sizeof(val));

		if (r < 0) {
			put_text(w, "%s: unreadable\n", settings[i].name);
			continue;
		}
		if (r == 0)
			fallback_text(&settings[i], val, sizeof(val));
		put_text(w, "%s: %s%s\n", settings[i].name, val,
			 r == 0 ? " (default)" : "");
	}
	pthread_mutex_unlock(&key->lock);
	applets_line(key, w);
	return 0;
}

static int set(struct vkey *key, const struct setting *s, const char *value,
	       struct wbuf *w)
{
	char val[VALUE_MAX + 1];
	int err;

	if (value == NULL || s->check(value, val, sizeof(val)) != 0) {
		put_text(w, "%s takes %s\n", s->name, s->usage);
		return -1;
	}
	if (lock_key(key) != 0) {
		put_text(w, "the key is busy with a command, try again\n");
		return -1;
	}
	err = store_put(key->store, NS, s->name, strlen(s->name), val,
			strlen(val));
	pthread_mutex_unlock(&key->lock);
	if (err != STORE_OK) {
		put_text(w, "cannot save %s: %s\n", s->name, store_strerror(err));
		return -1;
	}
	put_text(w, "%s: %s (vkey serve uses it from its next start, unless "
		    "its command line gives %s)\n", s->name, val, s->serve_opt);
	return 0;
}

static int unset(struct vkey *key, const struct setting *s, struct wbuf *w)
{
	char val[VALUE_MAX + 1];
	int err;

	if (lock_key(key) != 0) {
		put_text(w, "the key is busy with a command, try again\n");
		return -1;
	}
	err = store_del(key->store, NS, s->name, strlen(s->name));
	pthread_mutex_unlock(&key->lock);
	if (err != STORE_OK && err != STORE_NOT_FOUND) {
		put_text(w, "cannot save %s: %s\n", s->name, store_strerror(err));
		return -1;
	}
	fallback_text(s, val, sizeof(val));
	put_text(w, "%s: %s (default; from the next start of vkey serve)\n",
		 s->name, val);
	return 0;
}

/* "oath,PIV,fido" into VKEY_APP_* bits; "fido" is both FIDO halves. */
static int parse_apps(const char *list, unsigned *mask)
{
	char buf[128], *save = NULL;

	*mask = 0;
	if (list == NULL || strlen(list) >= sizeof(buf))
		return -1;
	snprintf(buf, sizeof(buf), "%s", list);
	for (char *t = strtok_r(buf, ", ", &save); t != NULL;
	     t = strtok_r(NULL, ", ", &save)) {
		unsigned app = strcasecmp(t, "fido") == 0
				       ? VKEY_APP_U2F | VKEY_APP_FIDO2
				       : vkey_app_from_name(t);
		if (app == 0)
			return -1;
		*mask |= app;
	}
	return *mask != 0 ? 0 : -1;
}

/* enable/disable NAME, applets usb LIST, unset applets. */
static int applets(struct vkey *key, const char *sub, const char *arg,
		   struct wbuf *w)
{
	unsigned mask = VKEY_APP_ALL, apps = VKEY_APP_ALL;
	char err[256];

	if (strcmp(sub, "unset") != 0 && parse_apps(arg, &apps) != 0) {
		put_text(w, "applications are fido2, u2f, fido (both), oath, "
			    "piv, openpgp\n");
		return -1;
	}
	(void)vkey_get_applets(key, VKEY_TRANSPORT_USB, &mask);
	if (strcmp(sub, "enable") == 0)
		mask |= apps;
	else if (strcmp(sub, "disable") == 0)
		mask &= ~apps;
	else
		mask = apps; /* applets usb LIST, unset applets */
	if (vkey_set_applets(key, VKEY_TRANSPORT_USB, mask, err,
			     sizeof(err)) != 0) {
		put_text(w, "%s\n", err);
		return -1;
	}
	applets_line(key, w);
	return 0;
}

static int run(struct vkey *key, const char *sub, const char *name,
	       const char *value, struct wbuf *w)
{
	const struct setting *s = find(name);

	if (strcmp(sub, "show") == 0 && name == NULL) {
		if (show(key, w) == 0)
			return 0;
		put_text(w, "the key is busy with a command, try again\n");
		return -1;
	}
	if ((strcmp(sub, "enable") == 0 || strcmp(sub, "disable") == 0) &&
	    value == NULL)
		return applets(key, sub, name, w);
	if (strcmp(sub, "applets") == 0 && name != NULL &&
	    strcmp(name, "usb") == 0)
		return applets(key, sub, value, w);
	if (strcmp(sub, "unset") == 0 && name != NULL &&
	    strcmp(name, "applets") == 0 && value == NULL)
		return applets(key, sub, NULL, w);
	if (s == NULL) {
		put_text(w, "no setting '%.32s' (up, up-timeout, usb-vid, "
			    "usb-pid, usb-manufacturer, usb-product, applets)\n",
			 name != NULL ? name : "");
		return -1;
	}
	if (strcmp(sub, "set") == 0)
		return set(key, s, value, w);
	if (strcmp(sub, "unset") == 0 && value == NULL)
		return unset(key, s, w);
	put_text(w, "unknown config command '%.16s'\n", sub);
	return -1;
}

int vkey_config_run(struct vkey *key, const char *sub, const char *name,
		    const char *value, char *out, size_t cap)
{
	struct wbuf w;
	int r;

	if (cap == 0)
		return -1;
	w = wbuf_init((uint8_t *)out, cap - 1);
	r = sub != NULL ? run(key, sub, name, value, &w)
			: (put_text(&w, "empty config command\n"), -1);
	out[w.len < cap ? w.len : cap - 1] = '\0';
	return r;
}

void vkey_set_up(struct vkey *key, enum vkey_up_policy policy,
		 unsigned timeout_ms)
{
	up_set(key->up, policy, timeout_ms);
}
