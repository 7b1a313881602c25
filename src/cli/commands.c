/* vkey touch, status and oath list: ask the daemon that holds the state
 * file over its control socket, or open the file when no daemon does. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "transports/ctl.h"
#include "vkey/vkey.h"

#define REPLY_MAX 65536
#define CTL_TIMEOUT_MS 5000
#define TOUCH_DEFAULT_S 15
#define TOUCH_MAX_S 600

struct common_opts {
	char state[PATH_MAX];
	char ctl[PATH_MAX];
	unsigned timeout_s;
	int verbose;
};

/* Returns 0 to run, 1 after --help, 2 on a usage error. */
static int parse_common(int argc, char **argv, const char *usage,
			int with_timeout, struct common_opts *o)
{
	static const struct option longopts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "timeout", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	o->timeout_s = TOUCH_DEFAULT_S;
	if (cli_default_state(o->state, sizeof(o->state)) != 0)
		o->state[0] = '\0';
	optind = 1;
	while ((c = getopt_long(argc, argv, "hv", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			snprintf(o->state, sizeof(o->state), "%s", optarg);
			break;
		case 't':
			o->timeout_s = (unsigned)strtoul(optarg, &end, 10);
			if (!with_timeout || *end != '\0' ||
			    o->timeout_s > TOUCH_MAX_S) {
				fputs(usage, stderr);
				return 2;
			}
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
	if (optind != argc) {
		fprintf(stderr, "vkey: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (o->state[0] == '\0' ||
	    ctl_default_path(o->state, o->ctl, sizeof(o->ctl)) != 0) {
		fprintf(stderr, "vkey: no usable state path (give --state PATH)\n");
		return 2;
	}
	cli_apply_verbosity(o->verbose, 0);
	return 0;
}

/* Run a report on the state file itself (no daemon holds it). */
static int direct_report(const struct common_opts *o, int which, char *out,
			 size_t cap)
{
	struct vkey_options ko;
	struct vkey *key;
	char err[512];
	int r;

	if (access(o->state, F_OK) != 0) {
		fprintf(stderr, "vkey: no key at %s (vkey serve creates one)\n",
			o->state);
		return 1;
	}
	memset(&ko, 0, sizeof(ko));
	ko.state_path = o->state;
	ko.up = VKEY_UP_DENY;
	if (vkey_open(&key, &ko, err, sizeof(err)) != 0) {
		fprintf(stderr, "vkey: %s\n", err);
		return 1;
	}
	r = which == 0 ? vkey_report_status(key, out, cap)
		       : vkey_report_oath_list(key, out, cap);
	vkey_close(key);
	fputs(out, r < 0 ? stderr : stdout);
	return r < 0 ? 1 : 0;
}

/* Ask the daemon; returns -1 when none answers, else the exit code. */
static int via_daemon(const struct common_opts *o, const char *req,
		      unsigned timeout_ms, char *out, size_t cap)
{
	int r = ctl_request(o->ctl, req, out, cap, timeout_ms);

	if (r < 0)
		return -1;
	fputs(out, r == 0 ? stdout : stderr);
	return r == 0 ? 0 : 1;
}

static int report(int argc, char **argv, const char *usage, int which)
{
	struct common_opts o;
	char *out;
	int r;

	r = parse_common(argc, argv, usage, 0, &o);
	if (r != 0)
		return r == 1 ? 0 : r;
	out = malloc(REPLY_MAX);
	if (out == NULL)
		return 1;
	r = via_daemon(&o, which == 0 ? "status" : "list oath",
		       CTL_TIMEOUT_MS, out, REPLY_MAX);
	if (r < 0)
		r = direct_report(&o, which, out, REPLY_MAX);
	free(out);
	return r;
}

static const char status_usage[] =
	"usage: vkey status [--state PATH]\n"
	"\n"
	"Show a key: state file, serial, user-presence policy and each\n"
	"applet's summary.\n";

int cmd_status(int argc, char **argv)
{
	return report(argc, argv, status_usage, 0);
}

static const char oath_usage[] =
	"usage: vkey oath list [--state PATH]\n"
	"\n"
	"List the OATH accounts: name, type, algorithm, digits, touch.\n"
	"Secrets are never shown.\n";

int cmd_oath(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		fputs(oath_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "list") != 0) {
		fprintf(stderr, "vkey oath: unknown subcommand '%s'\n", argv[1]);
		return 2;
	}
	return report(argc - 1, argv + 1, oath_usage, 1);
}

static const char touch_usage[] =
	"usage: vkey touch [--state PATH] [--timeout SECONDS]\n"
	"\n"
	"Approve a user-presence request of the running key (as touching a\n"
	"hardware key would). Waits up to --timeout (default 15) seconds for\n"
	"a request to arrive; exits 1 if none did.\n";

int cmd_touch(int argc, char **argv)
{
	struct common_opts o;
	char req[64], out[512];
	int r;

	r = parse_common(argc, argv, touch_usage, 1, &o);
	if (r != 0)
		return r == 1 ? 0 : r;
	snprintf(req, sizeof(req), "touch %u", o.timeout_s * 1000);
	r = via_daemon(&o, req, o.timeout_s * 1000 + CTL_TIMEOUT_MS, out,
		       sizeof(out));
	if (r < 0) {
		fprintf(stderr, "vkey touch: no running key holds %s (%s)\n",
			o.state, strerror(errno));
		return 1;
	}
	return r;
}
