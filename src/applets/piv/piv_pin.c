/* Scaffold: replaced by the real implementation. */
#include "apdu/sw.h"
#include "applets/piv/piv_priv.h"

unsigned piv_verify(struct piv *p, const struct apdu *cmd, struct wbuf *r)
{
	(void)p;
	(void)cmd;
	(void)r;
	return SW_INS_NOT_SUPPORTED;
}

unsigned piv_change_ref(struct piv *p, const struct apdu *cmd,    struct wbuf *r)
{
	(void)p;
	(void)cmd;
	(void)r;
	return SW_INS_NOT_SUPPORTED;
}

unsigned piv_reset_retry(struct piv *p, const struct apdu *cmd,     struct wbuf *r)
{
	(void)p;
	(void)cmd;
	(void)r;
	return SW_INS_NOT_SUPPORTED;
}

unsigned piv_set_pin_retries(struct piv *p, const struct apdu *cmd,         struct wbuf *r)
{
	(void)p;
	(void)cmd;
	(void)r;
	return SW_INS_NOT_SUPPORTED;
}

unsigned piv_reset(struct piv *p, const struct apdu *cmd, struct wbuf *r)
{
	(void)p;
	(void)cmd;
	(void)r;
	return SW_INS_NOT_SUPPORTED;
}

int piv_pins_default(struct piv *p, uint8_t pin_tries, uint8_t puk_tries)
{
	(void)p;
	(void)pin_tries;
	(void)puk_tries;
	return -1;
}

void piv_pin_tries(struct piv *p, enum piv_pw pw, uint8_t *total,      uint8_t *left)
{
	(void)p;
	(void)pw;
	(void)total;
	(void)left;
}

int piv_pin_is_default(struct piv *p, enum piv_pw pw)
{
	(void)p;
	(void)pw;
	return -1;
}

unsigned piv_pin_metadata(struct piv *p, enum piv_pw pw, struct wbuf *r)
{
	(void)p;
	(void)pw;
	(void)r;
	return SW_INS_NOT_SUPPORTED;
}
