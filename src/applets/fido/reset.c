/* authenticatorReset (CTAP 2.1 §6.6), authenticatorSelection (§6.9) and
 * the factory reset behind `vkey reset fido`. A reset forgets every
 * credential (a new wrapping key retires all IDs, discoverable records
 * are cleared) and the PIN side's state; the signature counter and the
 * attestation identity stay, the counter so it never goes backwards. */
#include "applets/fido/ctap_cred.h"

/* The credential side's part of a reset, in one transaction. */
static int wipe_credentials(struct ctap *c)
{
	int err;

	ga_state_drop(c);
	cm_state_drop(c);
	err = store_begin(c->store);
	if (err != STORE_OK)
		return err;
	err = store_clear(c->store, NS_CRED);
	if (err == STORE_OK && cred_rewrap(c) != 0)
		err = STORE_IO;
	if (err != STORE_OK) {
		store_rollback(c->store);
		return err;
	}
	err = store_commit(c->store);
	if (err != STORE_OK)
		return err;
	return STORE_OK;
}

int ctap_factory_reset(struct ctap *c)
{
	int err = wipe_credentials(c);

	if (err != STORE_OK) {
		/* The old salt is still the stored one: use it again. */
		(void)cred_reload_wrap(c);
		return -1;
	}
	return ctap_pin_reset(c) == 0 ? 0 : -1;
}

uint8_t ctap_cmd_reset(struct ctap *c, const struct ctap_wait *w)
{
	uint8_t r;

	/* Only shortly after power-up, and with a touch. */
	if (ctap_ms_since(&c->power_up) > CTAP_RESET_WINDOW_MS)
		return CTAP2_ERR_NOT_ALLOWED;
	r = ctap_user_presence(c, "reset FIDO", w);
	if (r != CTAP2_OK)
		return r;
	return ctap_factory_reset(c) == 0 ? CTAP2_OK : CTAP2_ERR_PROCESSING;
}

uint8_t ctap_cmd_selection(struct ctap *c, const struct ctap_wait *w)
{
	return ctap_user_presence(c, "select this key", w);
}
