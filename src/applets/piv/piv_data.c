/* Scaffold: replaced by the real implementation. */
#include "apdu/sw.h"
#include "applets/piv/piv_priv.h"

unsigned piv_get_data(struct piv *p, const struct apdu *cmd, struct wbuf *r)
{
	(void)p; (void)cmd; (void)r;
	return SW_INS_NOT_SUPPORTED;
}

unsigned piv_put_data(struct piv *p, const struct apdu *cmd, struct wbuf *r)
{
	(void)p; (void)cmd; (void)r;
	return SW_INS_NOT_SUPPORTED;
}
