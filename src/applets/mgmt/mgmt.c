/* The management applet's entry points: SELECT, READ CONFIG, WRITE
 * CONFIG, and the switches it applies to the other applets of its key
 * (docs/MGMT.md). */
#include "applets/mgmt/mgmt.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "apdu/sw.h"
#include "applets/mgmt/mgmt_priv.h"
#include "core/key.h"
#include "core/log.h"
#include "services/crypto.h"

#define CLA_ISO 0x00
#define CLA_PROPRIETARY 0x80

static const uint8_t mgmt_aid[] = { 0xA0, 0x00, 0x00, 0x05,
				    0x27, 0x47, 0x11, 0x17 };

/* The applications each applet carries. Applets not listed (management
 * itself, the NDEF tag) have no switch. */
static const struct {
	const char *applet;
	unsigned apps;
} governed[] = {
	{ "oath", VKEY_APP_OATH },
	{ "piv", VKEY_APP_PIV },
	{ "openpgp", VKEY_APP_OPENPGP },
	{ "fido", VKEY_APP_U2F | VKEY_APP_FIDO2 },
};

/* "FIDO2, OATH" for a set of VKEY_APP_* bits, in ykman's order. */
static void app_list(unsigned mask, char *out, size_t cap)
{
	static const unsigned order[] = { VKEY_APP_U2F, VKEY_APP_FIDO2,
					  VKEY_APP_OATH, VKEY_APP_PIV,
					  VKEY_APP_OPENPGP };
	size_t n = 0;

	out[0] = '\0';
	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		int k;
		if ((mask & order[i]) == 0 || n >= cap)
			continue;
		k = snprintf(out + n, cap - n, "%s%s", n > 0 ? ", " : "",
			     vkey_app_display_name(order[i]));
		n += k > 0 ? (size_t)k : 0;
	}
	if (n == 0)
		snprintf(out, cap, "none");
}

/* FIDO over ISO 7816 carries U2F messages in class 00 and CTAP2
 * (NFCCTAP_MSG, NFCCTAP_GETRESPONSE) in the proprietary class 80/90:
 * with one half switched off, its commands meet an unknown INS, as on a
 * key that only has the other. */
static unsigned fido_admit(void *arg, const struct apdu *cmd)
{
	struct mgmt *m = arg;
	unsigned need = (cmd->cla & CLA_PROPRIETARY) != 0 ? VKEY_APP_FIDO2
							  : VKEY_APP_U2F;

	return (atomic_load(&m->enabled) & need) != 0 ? 0
						      : SW_INS_NOT_SUPPORTED;
}

/* The enabled set onto the dispatcher's slots. */
static void apply(struct mgmt *m)
{
	unsigned en = atomic_load(&m->enabled);

	if (m->d == NULL)
		return;
	for (size_t i = 0; i < sizeof(governed) / sizeof(governed[0]); i++) {
		struct dispatch_slot *s = dispatch_find(m->d, governed[i].applet);
		if (s != NULL)
			dispatch_set_enabled(m->d, s,
					     (en & governed[i].apps) != 0);
	}
}

void mgmt_attach(struct dispatch *d)
{
	struct dispatch_slot *self = dispatch_find(d, mgmt_applet.name);
	struct dispatch_slot *fido;
	struct mgmt *m;

	if (self == NULL)
		return;
	m = self->state;
	m->d = d;
	fido = dispatch_find(d, "fido");
	if (fido != NULL)
		dispatch_set_admit(fido, fido_admit, m);
	apply(m);
}

unsigned mgmt_enabled(void *state)
{
	struct mgmt *m = state;

	return atomic_load(&m->enabled);
}

/* The new set in memory and on the slots, with a log line. */
static void enable(struct mgmt *m, unsigned mask, const char *who)
{
	char was[96], now[96];

	app_list(atomic_load(&m->enabled), was, sizeof(was));
	app_list(mask, now, sizeof(now));
	atomic_store(&m->enabled, mask);
	apply(m);
	log_info("mgmt: %s: enabled %s (was %s)", who, now, was);
}

int mgmt_set_enabled(void *state, unsigned mask)
{
	struct mgmt *m = state;
	int err;

	if ((mask & ~VKEY_APP_ALL) != 0 || mask == 0)
		return STORE_INVALID;
	err = mgmt_save(m, true, mask, false, NULL);
	if (err == STORE_OK)
		enable(m, mask, "owner");
	return err;
}

/* ---- READ CONFIG, WRITE CONFIG ---- */

/* P1 is a page of the device information (newer ykman asks for the next
 * one only when a page says there is more): everything is on page 0. */
static unsigned read_config(struct mgmt *m, const struct apdu *cmd,
			    struct wbuf *resp)
{
	struct mgmt_info info = {
		.usb_supported = VKEY_APP_ALL,
		.usb_enabled = (uint16_t)atomic_load(&m->enabled),
		.serial = m->serial,
		.locked = m->locked,
	};

	if (cmd->p2 != 0)
		return SW_WRONG_P1P2;
	if (cmd->lc != 0)
		return SW_WRONG_LENGTH;
	if (cmd->p1 != 0)
		return wbuf_u8(resp, 0) == 0 ? SW_OK : SW_UNKNOWN;
	return mgmt_encode_info(&info, resp) == 0 ? SW_OK : SW_UNKNOWN;
}

/* A locked configuration changes only with its code; an unlocked one
 * has the code "sixteen zeros", so that is the only unlock code it
 * takes. */
static unsigned check_unlock(struct mgmt *m, const struct mgmt_write *w)
{
	static const uint8_t none[MGMT_LOCK_CODE_LEN];
	struct pin_secret s;
	bool ok;
	int err;

	if (!m->locked)
		return (w->seen & MGMT_SEEN_UNLOCK) == 0 ||
				       crypto_memcmp(w->unlock, none,
						     sizeof(none)) == 0
			       ? 0
			       : SW_SECURITY_STATUS;
	if ((w->seen & MGMT_SEEN_UNLOCK) == 0)
		return SW_SECURITY_STATUS;
	err = mgmt_lock_load(m, &s);
	ok = err == STORE_OK &&
	     pin_secret_matches(m->st, &s, w->unlock, sizeof(w->unlock));
	crypto_wipe(&s, sizeof(s));
	if (err != STORE_OK && err != STORE_CORRUPT)
		return SW_MEMORY_FAILURE;
	return ok ? 0 : SW_SECURITY_STATUS;
}

/* Persist the write in one transaction, then put it into effect. A
 * reboot request needs nothing more: vkey applies every change at once
 * and does not re-enumerate (docs/MGMT.md). */
static unsigned commit(struct mgmt *m, const struct mgmt_write *w)
{
	static const uint8_t none[MGMT_LOCK_CODE_LEN];
	bool set_mask = (w->seen & MGMT_SEEN_USB) != 0;
	bool set_lock = (w->seen & MGMT_SEEN_LOCK) != 0;
	bool clear = set_lock &&
		     crypto_memcmp(w->lock, none, sizeof(none)) == 0;
	struct pin_secret s;
	unsigned sw = SW_OK;
	int err;

	memset(&s, 0, sizeof(s));
	if (set_lock && !clear &&
	    pin_secret_make(m->st, w->lock, sizeof(w->lock), &s) != 0) {
		sw = SW_UNKNOWN;
		goto out;
	}
	err = mgmt_save(m, set_mask, w->usb_enabled, set_lock,
			set_lock && !clear ? &s : NULL);
	if (err != STORE_OK) {
		log_error("mgmt: configuration not saved: %s",
			  store_strerror(err));
		sw = SW_MEMORY_FAILURE;
		goto out;
	}
	if (set_lock) {
		m->locked = !clear;
		log_info("mgmt: configuration lock code %s",
			 clear ? "removed" : "set");
	}
	if (set_mask)
		enable(m, w->usb_enabled, "WRITE CONFIG");
	if ((w->seen & MGMT_SEEN_REBOOT) != 0)
		log_info("mgmt: reboot requested; changes are already in "
			 "effect");
out:
	crypto_wipe(&s, sizeof(s));
	return sw;
}

static unsigned write_config(struct mgmt *m, const struct apdu *cmd)
{
	struct mgmt_write w;
	unsigned sw;

	if (cmd->p1 != 0 || cmd->p2 != 0)
		return SW_WRONG_P1P2;
	sw = mgmt_parse_write(cmd->data, cmd->lc, &w);
	if (sw == 0)
		sw = mgmt_check_write(&w);
	if (sw == 0)
		sw = check_unlock(m, &w);
	if (sw == 0)
		sw = commit(m, &w);
	crypto_wipe(&w, sizeof(w)); /* lock codes */
	return sw;
}

/* ---- applet operations ---- */

static void mgmt_destroy(void *state)
{
	free(state);
}

static int mgmt_create(struct vkey *key, void **state)
{
	struct mgmt *m = calloc(1, sizeof(*m));
	int err;

	if (m == NULL)
		return -1;
	m->st = vkey_store(key);
	m->serial = vkey_serial(key);
	atomic_init(&m->enabled, VKEY_APP_ALL);
	err = mgmt_load(m);
	if (err != STORE_OK) {
		log_error("mgmt: cannot load the configuration: %s",
			  store_strerror(err));
		free(m);
		return -1;
	}
	*state = m;
	return 0;
}

/* The version as text, which ykman reads for every application; the
 * name is vkey's own. */
static unsigned mgmt_select(void *state, const struct apdu *cmd,
			    struct wbuf *resp)
{
	char text[40];
	int n = snprintf(text, sizeof(text), "vkey management %d.%d.%d",
			 MGMT_VERSION_MAJOR, MGMT_VERSION_MINOR,
			 MGMT_VERSION_PATCH);

	(void)state;
	(void)cmd;
	if (n < 0 || (size_t)n >= sizeof(text))
		return SW_UNKNOWN;
	wbuf_put(resp, text, (size_t)n);
	return SW_OK;
}

static unsigned mgmt_process(void *state, const struct apdu *cmd,
			     struct wbuf *resp)
{
	struct mgmt *m = state;

	if (cmd->cla != CLA_ISO)
		return SW_CLA_NOT_SUPPORTED;
	switch (cmd->ins) {
	case MGMT_INS_READ_CONFIG:
		return read_config(m, cmd, resp);
	case MGMT_INS_WRITE_CONFIG:
		return write_config(m, cmd);
	default:
		return SW_INS_NOT_SUPPORTED; /* SET MODE is for YubiKey 4 */
	}
}

/* Field names and the enabled set; never a lock code. */
static void mgmt_describe(const struct apdu *cmd, char *out, size_t cap)
{
	struct mgmt_write w;
	char apps[96];

	if (cmd->ins == MGMT_INS_READ_CONFIG) {
		snprintf(out, cap, "READ CONFIG");
		return;
	}
	if (cmd->ins != MGMT_INS_WRITE_CONFIG)
		return;
	if (mgmt_parse_write(cmd->data, cmd->lc, &w) != 0) {
		snprintf(out, cap, "WRITE CONFIG (malformed)");
	} else {
		app_list(w.usb_enabled, apps, sizeof(apps));
		snprintf(out, cap, "WRITE CONFIG%s%s%s%s%s%s",
			 (w.seen & MGMT_SEEN_USB) ? " usb: " : "",
			 (w.seen & MGMT_SEEN_USB) ? apps : "",
			 (w.seen & MGMT_SEEN_UNLOCK) ? " +unlock code" : "",
			 (w.seen & MGMT_SEEN_LOCK) ? " +new lock code" : "",
			 (w.seen & MGMT_SEEN_REBOOT) ? " +reboot" : "",
			 (w.seen & ~(MGMT_SEEN_USB | MGMT_SEEN_UNLOCK |
				     MGMT_SEEN_LOCK | MGMT_SEEN_REBOOT))
				 ? " +other settings"
				 : "");
	}
	crypto_wipe(&w, sizeof(w));
}

static int mgmt_factory_reset(void *state)
{
	struct mgmt *m = state;
	int err = mgmt_clear(m);

	if (err != STORE_OK)
		return err;
	m->locked = false;
	enable(m, VKEY_APP_ALL, "factory reset");
	return 0;
}

static int mgmt_report_status(void *state, struct wbuf *out)
{
	struct mgmt *m = state;
	unsigned en = atomic_load(&m->enabled);
	char on[96], off[96], line[256];
	int n;

	app_list(en, on, sizeof(on));
	app_list(VKEY_APP_ALL & ~en, off, sizeof(off));
	n = snprintf(line, sizeof(line),
		     "mgmt: applications enabled: %s; disabled: %s; "
		     "configuration lock code: %s\n",
		     on, off, m->locked ? "set" : "none");
	if (n < 0)
		return -1;
	return wbuf_put(out, line,
			(size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
}

const struct applet_ops mgmt_applet = {
	.name = "mgmt",
	.aid = mgmt_aid,
	.aid_len = sizeof(mgmt_aid),
	.create = mgmt_create,
	.destroy = mgmt_destroy,
	.select = mgmt_select,
	.process = mgmt_process,
	.describe = mgmt_describe,
	.factory_reset = mgmt_factory_reset,
	.report_status = mgmt_report_status,
};
