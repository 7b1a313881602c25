/* Scaffold: replaced by the real implementation. */
#include "apdu/sw.h"
#include "applets/piv/piv_priv.h"

int piv_key_load(struct piv *p, uint8_t slot, struct piv_key *k)
{
	(void)p;
	(void)slot;
	(void)k;
	return -1;
}

int piv_key_save(struct piv *p, uint8_t slot, const struct piv_key *k)
{
	(void)p;
	(void)slot;
	(void)k;
	return -1;
}

int piv_key_delete(struct piv *p, uint8_t slot)
{
	(void)p;
	(void)slot;
	return -1;
}

void piv_key_wipe(struct piv_key *k)
{
	(void)k;
}

bool piv_alg_is_rsa(uint8_t alg)
{
	(void)alg;
	return false;
}

enum crypto_pk_curve piv_alg_curve(uint8_t alg)
{
	(void)alg;
	return 0;
}

uint8_t piv_slot_default_pin_policy(uint8_t slot)
{
	(void)slot;
	return -1;
}

void piv_key_public(const struct piv_key *k, struct wbuf *w)
{
	(void)k;
	(void)w;
}

int piv_key_spki(const struct piv_key *k, uint8_t **der, size_t *len)
{
	(void)k;
	(void)der;
	(void)len;
	return -1;
}

void piv_key_forget(struct piv *p, uint8_t slot)
{
	(void)p;
	(void)slot;
}

struct crypto_rsa_prepared *piv_key_prepared(struct piv *p, uint8_t slot,           const struct piv_key *k)
{
	(void)p;
	(void)slot;
	(void)k;
	return NULL;
}

unsigned piv_generate(struct piv *p, const struct apdu *cmd,         struct wbuf *r)
{
	(void)p;
	(void)cmd;
	(void)r;
	return SW_INS_NOT_SUPPORTED;
}

unsigned piv_import_key(struct piv *p, const struct apdu *cmd,    struct wbuf *r)
{
	(void)p;
	(void)cmd;
	(void)r;
	return SW_INS_NOT_SUPPORTED;
}

unsigned piv_move_key(struct piv *p, const struct apdu *cmd,         struct wbuf *r)
{
	(void)p;
	(void)cmd;
	(void)r;
	return SW_INS_NOT_SUPPORTED;
}

unsigned piv_key_metadata(struct piv *p, uint8_t slot, struct wbuf *r)
{
	(void)p;
	(void)slot;
	(void)r;
	return SW_INS_NOT_SUPPORTED;
}
