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
/* The secret behind --seal passphrase|keyfile:PATH (src/cli/seal.c):
 * the passphrase from $env, else the terminal without echo (asked twice
 * when confirm), else a line of stdin; a key file's bytes. Returns 0 or
 * -1 after a message. Free (wipes) with cli_seal_free. */
#include "vkey/vkey.h"
struct cli_seal {
	unsigned char *buf;
	size_t len;
	struct vkey_seal seal;
};
int cli_seal_read(const char *spec, const char *env, const char *what,
		  int confirm, struct cli_seal *s);
void cli_seal_free(struct cli_seal *s);

/* Open the key in the state file no daemon holds, with the secret of
 * seal_spec (NULL: unsealed) read now; user presence is denied. NULL
 * after a message on stderr. */
struct vkey *cli_open_key(const char *state, const char *seal_spec);

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
int cmd_ndef(int argc, char **argv);
int cmd_seal(int argc, char **argv); /* seal and unseal (argv[0]) */
/* src/cli/backup.c */
int cmd_export(int argc, char **argv);
int cmd_import(int argc, char **argv);
/* src/cli/admin.c */
int cmd_list(int argc, char **argv);
int cmd_reset(int argc, char **argv);
int cmd_config(int argc, char **argv);

#endif
