/* authenticatorReset (CTAP 2.1 §6.6), authenticatorSelection (§6.9) and
 * the factory reset behind `vkey reset fido`. A reset forgets every
 * credential (a new wrapping key retires all IDs, discoverable records
 * are cleared) and the PIN side's state; the signature counter and the
 * attestation identity stay, the counter so it never goes backwards. */
#include "applets/fido/ctap_cred.h"

/* Everything in one transaction: credentials (a new wrapping key retires
 * every ID) and the PIN side's PIN, config and large blobs, so a failure
 * leaves the key as it was, never half reset. */
int ctap_factory_reset(struct ctap *c)
{
	int err;

	ga_state_drop(c);
	cm_state_drop(c);
	err = store_begin(c->store);
	if (err != STORE_OK)
		return -1;
	err = store_clear(c->store, NS_CRED);
	if (err == STORE_OK && cred_rewrap(c) != 0)
		err = STORE_IO;
	if (err == STORE_OK && ctap_pin_reset_store(c) != 0)
		err = STORE_IO;
	if (err != STORE_OK)
		store_rollback(c->store);
	else
		err = store_commit(c->store);
	if (err != STORE_OK) {
		/* The old salt is still the stored one: use it again. */
		(void)cred_reload_wrap(c);
		return -1;
	}
	ctap_pin_reset_memory(c);
	return 0;
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
