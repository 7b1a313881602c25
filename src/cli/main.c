/* vkey: entry point, dispatching to the subcommands. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"

static const char usage[] =
	"usage: vkey COMMAND [OPTIONS]\n"
	"\n"
	"A virtual security key: FIDO2/U2F, OATH, OpenPGP card, PIV and NDEF.\n"
	"\n"
	"commands:\n"
	"  serve       run a key and attach it (PC/SC through vpcd)\n"
	"  touch       approve a pending user-presence request\n"
	"  status      show a key's state\n"
	"  oath list   list a key's OATH accounts (never their secrets)\n"
	"  fido list   list a key's discoverable FIDO credentials\n"
	"  openpgp list\n"
	"              list the OpenPGP card's keys and fingerprints\n"
	"  piv list    list the PIV slots that hold keys\n"
	"  attestation export\n"
	"              print the attestation CA a relying party should trust\n"
	"  ndef get|set-uri|set-text|clear|read-only\n"
	"              the NFC Type 4 tag's message (a URI or a text)\n"
	"  list fido|oath|piv|openpgp|ndef\n"
	"              what an applet holds (as vkey APPLET list)\n"
	"  reset APPLET|--all\n"
	"              erase an applet, or the whole key, to factory state\n"
	"  config show|set|unset|enable|disable|applets\n"
	"              persisted settings: applets, user presence, USB identity\n"
	"  seal --seal NEW [--old OLD] | unseal --seal OLD\n"
	"              seal the state file's secrets under a passphrase or key\n"
	"              file, change it, or remove it (docs/SEALING.md)\n"
	"  export FILE [--to SPEC] | import FILE [--from SPEC] [--seal SPEC]\n"
	"              a sealed backup of the whole key; a new state file\n"
	"              made from one (the key moves to another machine)\n"
	"\n"
	"Every command takes --state PATH (default $XDG_DATA_HOME/vkey/default.db)\n"
	"and --help (and --seal SPEC for a sealed file). touch, status, list\n"
	"and ndef talk to the daemon that holds the state file, or open the\n"
	"file themselves when no daemon holds it.\n";

int cli_default_state(char *out, size_t cap)
{
	const char *xdg = getenv("XDG_DATA_HOME");
	const char *home = getenv("HOME");
	int n;

	if (xdg != NULL && xdg[0] == '/')
		n = snprintf(out, cap, "%s/vkey/default.db", xdg);
	else if (home != NULL && home[0] == '/')
		n = snprintf(out, cap, "%s/.local/share/vkey/default.db", home);
	else
		return -1;
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

void cli_apply_verbosity(int verbose, int secrets)
{
	log_set_level(verbose >= 2 ? LOG_DEBUG : verbose == 1 ? LOG_INFO
							       : LOG_WARN);
	log_set_secrets(secrets != 0);
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;

	if (cmd == NULL) {
		fputs(usage, stderr);
		return 2;
	}
	if (strcmp(cmd, "--help") == 0 || strcmp(cmd, "-h") == 0 ||
	    strcmp(cmd, "help") == 0) {
		fputs(usage, stdout);
		return 0;
	}
	if (strcmp(cmd, "--version") == 0) {
		printf("vkey 0.1.0\n");
		return 0;
	}
	if (strcmp(cmd, "serve") == 0)
		return cmd_serve(argc - 1, argv + 1);
	if (strcmp(cmd, "touch") == 0)
		return cmd_touch(argc - 1, argv + 1);
	if (strcmp(cmd, "status") == 0)
		return cmd_status(argc - 1, argv + 1);
	if (strcmp(cmd, "oath") == 0)
		return cmd_oath(argc - 1, argv + 1);
	if (strcmp(cmd, "fido") == 0)
		return cmd_fido(argc - 1, argv + 1);
	if (strcmp(cmd, "openpgp") == 0)
		return cmd_openpgp(argc - 1, argv + 1);
	if (strcmp(cmd, "piv") == 0)
		return cmd_piv(argc - 1, argv + 1);
	if (strcmp(cmd, "attestation") == 0)
		return cmd_attestation(argc - 1, argv + 1);
	if (strcmp(cmd, "ndef") == 0)
		return cmd_ndef(argc - 1, argv + 1);
	if (strcmp(cmd, "seal") == 0 || strcmp(cmd, "unseal") == 0)
		return cmd_seal(argc - 1, argv + 1);
	if (strcmp(cmd, "export") == 0)
		return cmd_export(argc - 1, argv + 1);
	if (strcmp(cmd, "import") == 0)
		return cmd_import(argc - 1, argv + 1);
	if (strcmp(cmd, "list") == 0)
		return cmd_list(argc - 1, argv + 1);
	if (strcmp(cmd, "reset") == 0)
		return cmd_reset(argc - 1, argv + 1);
	if (strcmp(cmd, "config") == 0)
		return cmd_config(argc - 1, argv + 1);
	fprintf(stderr, "vkey: unknown command '%s' (see vkey --help)\n", cmd);
	return 2;
}
