/* Scaffold: replaced by the real implementation. */
#include "apdu/sw.h"
#include "applets/piv/piv_priv.h"

unsigned piv_attest(struct piv *p, const struct apdu *cmd, struct wbuf *r)
{
	(void)p;
	(void)cmd;
	(void)r;
	return SW_INS_NOT_SUPPORTED;
}

int piv_attest_init(struct piv *p)
{
	(void)p;
	return -1;
}

int piv_report_attestation(void *state, struct wbuf *out)
{
	(void)state;
	(void)out;
	return -1;
}
