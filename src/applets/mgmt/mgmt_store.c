/* The management applet's records in the store namespace "mgmt": the
 * enabled set (two bytes, big-endian; absent: everything) and the
 * configuration lock code's verifier (a salted MAC, as for PINs; absent:
 * no lock code). */
#include <string.h>

#include "applets/mgmt/mgmt_priv.h"
#include "core/log.h"
#include "services/crypto.h"

#define NS "mgmt"
static const char rec_enabled[] = "usb_enabled";
static const char rec_lock[] = "lock";

int mgmt_lock_load(struct mgmt *m, struct pin_secret *s)
{
	uint8_t buf[sizeof(*s)];
	size_t n = 0;
	int err = store_get_into(m->st, NS, rec_lock, sizeof(rec_lock) - 1,
				 buf, sizeof(buf), &n);

	if (err == STORE_OK && n != sizeof(buf))
		err = STORE_CORRUPT;
	if (err == STORE_OK)
		memcpy(s, buf, sizeof(*s));
	crypto_wipe(buf, sizeof(buf));
	return err;
}

int mgmt_load(struct mgmt *m)
{
	uint8_t b[2];
	size_t n = 0;
	unsigned mask = VKEY_APP_ALL;
	struct pin_secret lock;
	int err;

	err = store_get_into(m->st, NS, rec_enabled, sizeof(rec_enabled) - 1,
			     b, sizeof(b), &n);
	if (err == STORE_OK && n == sizeof(b)) {
		mask = (unsigned)(b[0] << 8 | b[1]);
		if ((mask & ~VKEY_APP_ALL) != 0 || mask == 0) {
			/* Not something this build would write: say so,
			 * and keep what can be kept. */
			log_warn("mgmt: enabled set %04X has bits vkey lacks; "
				 "using %04X", mask, mask & VKEY_APP_ALL);
			mask &= VKEY_APP_ALL;
			if (mask == 0)
				mask = VKEY_APP_ALL;
		}
	} else if (err == STORE_OK || err == STORE_CORRUPT) {
		log_warn("mgmt: enabled set unreadable; every application "
			 "stays enabled");
	} else if (err != STORE_NOT_FOUND) {
		return err;
	}
	atomic_store(&m->enabled, mask);
	err = mgmt_lock_load(m, &lock);
	crypto_wipe(&lock, sizeof(lock));
	if (err == STORE_CORRUPT)
		log_warn("mgmt: lock code record damaged; the configuration "
			 "stays locked until its settings are reset");
	else if (err != STORE_OK && err != STORE_NOT_FOUND)
		return err;
	/* A damaged verifier still locks: no code matches it. */
	m->locked = err != STORE_NOT_FOUND;
	return STORE_OK;
}

int mgmt_save(struct mgmt *m, bool set_mask, unsigned mask, bool set_lock,
	      const struct pin_secret *lock)
{
	const uint8_t b[2] = { (uint8_t)(mask >> 8), (uint8_t)mask };
	int err = store_begin(m->st);

	if (err != STORE_OK)
		return err;
	if (set_mask)
		err = store_put(m->st, NS, rec_enabled,
				sizeof(rec_enabled) - 1, b, sizeof(b));
	if (err == STORE_OK && set_lock && lock != NULL)
		err = store_put(m->st, NS, rec_lock, sizeof(rec_lock) - 1,
				lock, sizeof(*lock));
	if (err == STORE_OK && set_lock && lock == NULL) {
		err = store_del(m->st, NS, rec_lock, sizeof(rec_lock) - 1);
		if (err == STORE_NOT_FOUND)
			err = STORE_OK;
	}
	if (err != STORE_OK) {
		store_rollback(m->st);
		return err;
	}
	return store_commit(m->st);
}

int mgmt_clear(struct mgmt *m)
{
	return store_clear(m->st, NS);
}
