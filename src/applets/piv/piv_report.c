/* Scaffold: replaced by the real implementation. */
#include <stdio.h>
#include "applets/piv/piv_priv.h"

void piv_describe(const struct apdu *cmd, char *out, size_t cap)
{
	snprintf(out, cap, "INS %02X", cmd->ins);
}

int piv_report_status(void *state, struct wbuf *out)
{
	(void)state; (void)out;
	return 0;
}

int piv_report_list(void *state, struct wbuf *out)
{
	(void)state; (void)out;
	return 0;
}
