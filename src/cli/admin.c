/* vkey list, reset and config: the owner's administration of a key,
 * through the daemon's control socket or on the state file no daemon
 * holds. The core writes every answer (vkey/admin.h), so both paths
 * print the same text. */
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "transports/ctl.h"
#include "vkey/admin.h"
#include "vkey/vkey.h"

#define REPLY_MAX 65536
#define REQ_MAX 512
#define CTL_TIMEOUT_MS 10000

struct admin_opts {
	char state[PATH_MAX];
	char ctl[PATH_MAX];
	const char *seal; /* --seal SPEC: for the direct path */
	bool yes, all;
	int verbose;
	int argc;         /* positional arguments after the subcommand */
	char **argv;
};

/* Returns 0 to run, 1 after --help, 2 on a usage error. */
static int parse(int argc, char **argv, const char *usage, bool for_reset,
		 struct admin_opts *o)
{
	static const struct option longopts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "seal", required_argument, NULL, 'S' },
		{ "yes", no_argument, NULL, 'y' },
		{ "all", no_argument, NULL, 'a' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	if (cli_default_state(o->state, sizeof(o->state)) != 0)
		o->state[0] = '\0';
	optind = 1;
	while ((c = getopt_long(argc, argv, "hvy", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			snprintf(o->state, sizeof(o->state), "%s", optarg);
			break;
		case 'S':
			o->seal = optarg;
			break;
		case 'y':
		case 'a':
			if (!for_reset) {
				fputs(usage, stderr);
				return 2;
			}
			*(c == 'y' ? &o->yes : &o->all) = true;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'h':
			fputs(usage, stdout);
			return 1;
		default:
			fputs(usage, stderr);
			return 2;
		}
	}
	o->argc = argc - optind;
	o->argv = argv + optind;
	if (o->state[0] == '\0' ||
	    ctl_default_path(o->state, o->ctl, sizeof(o->ctl)) != 0) {
		fprintf(stderr, "vkey: no usable state path (give --state PATH)\n");
		return 2;
	}
	cli_apply_verbosity(o->verbose, 0);
	return 0;
}

/* One command run by the daemon, or else here by fn on the file. The
 * answer goes to stdout, or to stderr when it is a refusal. */
static int daemon_or_direct(const struct admin_opts *o, const char *req,
			    int (*fn)(struct vkey *, const struct admin_opts *,
				      char *, size_t))
{
	char *out = malloc(REPLY_MAX);
	struct vkey *key;
	int r;

	if (out == NULL)
		return 1;
	r = ctl_request(o->ctl, req, out, REPLY_MAX, CTL_TIMEOUT_MS);
	if (r < 0) {
		key = cli_open_key(o->state, o->seal);
		if (key == NULL) {
			free(out);
			return 1;
		}
		r = fn(key, o, out, REPLY_MAX) == 0 ? 0 : 1;
		vkey_close(key);
	}
	fputs(out, r == 0 ? stdout : stderr);
	free(out);
	return r;
}

/* ---- vkey list APPLET ---- */

static const char list_usage[] =
	"usage: vkey list fido|oath|piv|openpgp|ndef [--state PATH] "
	"[--seal SPEC]\n"
	"\n"
	"What an applet holds, never its secrets (the same as vkey APPLET\n"
	"list; for ndef, vkey ndef get).\n";

int cmd_list(int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*cmd)(int, char **);
		const char *sub;
	} applets[] = {
		{ "fido", cmd_fido, "list" },	    { "oath", cmd_oath, "list" },
		{ "piv", cmd_piv, "list" },	    { "openpgp", cmd_openpgp, "list" },
		{ "ndef", cmd_ndef, "get" },
	};
	const char *name = argc > 1 ? argv[1] : NULL;
	char **args;
	int r;

	if (name == NULL || strcmp(name, "--help") == 0 ||
	    strcmp(name, "-h") == 0) {
		fputs(list_usage, name == NULL ? stderr : stdout);
		return name == NULL ? 2 : 0;
	}
	for (size_t i = 0; i < sizeof(applets) / sizeof(applets[0]); i++) {
		if (strcmp(name, applets[i].name) != 0)
			continue;
		/* vkey APPLET SUB [options]: argv's strings, reordered. */
		args = calloc((size_t)argc + 1, sizeof(*args));
		if (args == NULL)
			return 1;
		args[0] = argv[1];
		args[1] = (char *)applets[i].sub;
		for (int j = 2; j < argc; j++)
			args[j] = argv[j];
		r = applets[i].cmd(argc, args);
		free(args);
		return r;
	}
	fprintf(stderr, "vkey list: no applet '%s' (fido, oath, piv, openpgp, "
			"ndef)\n", name);
	return 2;
}

/* ---- vkey reset APPLET | --all ---- */

static const char reset_usage[] =
	"usage: vkey reset APPLET [--yes] [--state PATH] [--seal SPEC]\n"
	"       vkey reset --all [--yes] [--state PATH] [--seal SPEC]\n"
	"\n"
	"Erase an applet back to its factory state: fido, oath, openpgp,\n"
	"piv, ndef or mgmt (docs/ADMIN.md says what each loses). --all: the\n"
	"whole key, every applet and the vkey config settings; the serial\n"
	"stays. Asks first on a terminal (type the applet's name, or\n"
	"\"reset all\"); without a terminal only with --yes. A running\n"
	"daemon does it at once: no touch, no power-up window.\n";

static int reset_direct(struct vkey *key, const struct admin_opts *o,
			char *out, size_t cap)
{
	return vkey_reset_run(key, o->all ? NULL : o->argv[0], out, cap);
}

static bool confirmed(const char *word)
{
	char line[64];

	fprintf(stderr, "This erases %s for good. Type %s to go on: ",
		strcmp(word, "reset all") == 0 ? "every applet of the key"
					       : "the applet's data",
		word);
	fflush(stderr);
	if (fgets(line, sizeof(line), stdin) == NULL)
		return false;
	line[strcspn(line, "\n")] = '\0';
	return strcmp(line, word) == 0;
}

int cmd_reset(int argc, char **argv)
{
	struct admin_opts o;
	char req[REQ_MAX];
	const char *name;
	int r;

	r = parse(argc, argv, reset_usage, true, &o);
	if (r != 0)
		return r == 1 ? 0 : r;
	if ((o.all && o.argc != 0) || (!o.all && o.argc != 1)) {
		fputs(reset_usage, stderr);
		return 2;
	}
	name = o.all ? "all" : o.argv[0];
	if (!o.yes) {
		if (!isatty(STDIN_FILENO)) {
			fprintf(stderr, "vkey reset: not on a terminal: give --yes "
					"to reset without asking; nothing changed\n");
			return 1;
		}
		if (!confirmed(o.all ? "reset all" : name)) {
			fprintf(stderr, "vkey reset: not confirmed; nothing "
					"changed\n");
			return 1;
		}
	}
	snprintf(req, sizeof(req), "reset %.64s", name);
	return daemon_or_direct(&o, req, reset_direct);
}

/* ---- vkey config ---- */

static const char config_usage[] =
	"usage: vkey config show\n"
	"       vkey config set NAME VALUE\n"
	"       vkey config unset NAME\n"
	"       vkey config enable|disable APPLICATION\n"
	"       vkey config applets usb APPLICATION,...\n"
	"       (each with [--state PATH] [--seal SPEC])\n"
	"\n"
	"The key's persisted settings, in its state file (sealed with it):\n"
	"  up auto|deny|prompt      user presence\n"
	"  up-timeout SECONDS       how long prompt waits (1..600)\n"
	"  usb-vid HEX, usb-pid HEX USB identity\n"
	"  usb-manufacturer TEXT, usb-product TEXT\n"
	"vkey serve uses them from its next start where its command line\n"
	"gives none (the command line wins). Applications (fido2, u2f, fido\n"
	"for both, oath, piv, openpgp) switch on and off at once, also in a\n"
	"running daemon; unset applets enables them all. See docs/ADMIN.md.\n";

static int config_direct(struct vkey *key, const struct admin_opts *o,
			 char *out, size_t cap)
{
	return vkey_config_run(key, o->argv[0], o->argc > 1 ? o->argv[1] : NULL,
			       o->argc > 2 ? o->argv[2] : NULL, out, cap);
}

int cmd_config(int argc, char **argv)
{
	static const struct {
		const char *sub;
		int args; /* after the subcommand */
	} subs[] = { { "show", 0 },   { "set", 2 },	{ "unset", 1 },
		     { "enable", 1 }, { "disable", 1 }, { "applets", 2 } };
	struct admin_opts o;
	char req[REQ_MAX];
	bool ok = false;
	int r, n;

	r = parse(argc, argv, config_usage, false, &o);
	if (r != 0)
		return r == 1 ? 0 : r;
	for (size_t i = 0; o.argc > 0 && i < sizeof(subs) / sizeof(subs[0]);
	     i++)
		ok = ok || (strcmp(o.argv[0], subs[i].sub) == 0 &&
			    o.argc == subs[i].args + 1);
	if (!ok) {
		fputs(config_usage, stderr);
		return 2;
	}
	/* One request line: a value cannot hold a line break. */
	n = snprintf(req, sizeof(req), "config %s%s%s%s%s", o.argv[0],
		     o.argc > 1 ? " " : "", o.argc > 1 ? o.argv[1] : "",
		     o.argc > 2 ? " " : "", o.argc > 2 ? o.argv[2] : "");
	if (n < 0 || (size_t)n >= sizeof(req) || strpbrk(req, "\r\n") != NULL ||
	    (o.argc > 1 && strchr(o.argv[1], ' ') != NULL)) {
		fprintf(stderr, "vkey config: the value must be one short line "
				"of text\n");
		return 1;
	}
	return daemon_or_direct(&o, req, config_direct);
}
