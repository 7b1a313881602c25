/* The vkey command: shared option parsing and the subcommands. */
#ifndef VKEY_CLI_H
#define VKEY_CLI_H

#include <stddef.h>

struct cli_common {
	const char *state;  /* --state, or the default path */
	int verbose;        /* -v count */
};

/* Fills out with the default state path; returns 0 or -1. */
int cli_default_state(char *out, size_t cap);
/* Applies -v / -vv / --log-secrets to the log configuration. */
void cli_apply_verbosity(int verbose, int secrets);

int cmd_serve(int argc, char **argv);
int cmd_touch(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_oath(int argc, char **argv);
int cmd_fido(int argc, char **argv);
int cmd_openpgp(int argc, char **argv);
int cmd_piv(int argc, char **argv);
int cmd_attestation(int argc, char **argv);

#endif
