/* Scaffold: replaced by the real implementation. */
#include "apdu/sw.h"
#include "applets/piv/piv_priv.h"

unsigned piv_general_auth(struct piv *p, const struct apdu *cmd,      struct wbuf *r)
{
	(void)p;
	(void)cmd;
	(void)r;
	return SW_INS_NOT_SUPPORTED;
}

unsigned piv_policy_check(struct piv *p, const struct piv_key *k,      const char *what)
{
	(void)p;
	(void)k;
	(void)what;
	return SW_INS_NOT_SUPPORTED;
}
