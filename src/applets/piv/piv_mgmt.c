/* Scaffold: replaced by the real implementation. */
#include "apdu/sw.h"
#include "applets/piv/piv_priv.h"

unsigned piv_mgmt_auth(struct piv *p, const struct apdu *cmd,          struct wbuf *r)
{
	(void)p;
	(void)cmd;
	(void)r;
	return SW_INS_NOT_SUPPORTED;
}

unsigned piv_set_mgmt_key(struct piv *p, const struct apdu *cmd,      struct wbuf *r)
{
	(void)p;
	(void)cmd;
	(void)r;
	return SW_INS_NOT_SUPPORTED;
}

int piv_mgmt_default(struct piv *p)
{
	(void)p;
	return -1;
}

int piv_mgmt_is_default(struct piv *p)
{
	(void)p;
	return -1;
}

unsigned piv_mgmt_metadata(struct piv *p, struct wbuf *r)
{
	(void)p;
	(void)r;
	return SW_INS_NOT_SUPPORTED;
}
