/* vkey serve: open a key, attach it to its transports, answer the
 * control socket, until SIGINT or SIGTERM. */
#include <getopt.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"
#include "transports/ctl.h"
#include "transports/vpcd.h"
#include "vkey/vkey.h"

#define VPCD_DEFAULT "127.0.0.1:35963"
#define UP_TIMEOUT_MAX_S 600

static const char serve_usage[] =
	"usage: vkey serve [--state PATH] [--vpcd HOST:PORT] [--up POLICY]\n"
	"                  [--up-timeout SECONDS] [-v|-vv] [--log-secrets]\n"
	"\n"
	"Run a key: create its state file on first use, lock it, attach it.\n"
	"\n"
	"  --state PATH         state file (default $XDG_DATA_HOME/vkey/default.db)\n"
	"  --vpcd HOST:PORT     act as the card in pcscd's vpcd reader\n"
	"                       (default " VPCD_DEFAULT ", the first reader of\n"
	"                       Debian's vsmartcard-vpcd, 'Virtual PCD 00 00')\n"
	"  --up POLICY          user presence: auto (approve), deny, or prompt\n"
	"                       (wait for `vkey touch`); default prompt\n"
	"  --up-timeout SECONDS how long prompt waits (default 15)\n"
	"  -v, -vv              one log line per command; decoded commands\n"
	"  --log-secrets        also log command data (may contain secrets)\n";

struct serve_opts {
	char state[PATH_MAX];
	char host[256];
	uint16_t port;
	enum vkey_up_policy up;
	unsigned up_timeout_s;
	int verbose;
	int log_secrets;
};

static int parse_hostport(const char *s, char *host, size_t cap,
			  uint16_t *port)
{
	const char *colon = strrchr(s, ':');
	char *end;
	unsigned long p;

	if (colon == NULL || colon == s || (size_t)(colon - s) >= cap)
		return -1;
	p = strtoul(colon + 1, &end, 10);
	if (*end != '\0' || p == 0 || p > 65535)
		return -1;
	memcpy(host, s, (size_t)(colon - s));
	host[colon - s] = '\0';
	*port = (uint16_t)p;
	return 0;
}

static int parse_up(const char *s, enum vkey_up_policy *p)
{
	if (strcmp(s, "auto") == 0)
		*p = VKEY_UP_AUTO;
	else if (strcmp(s, "deny") == 0)
		*p = VKEY_UP_DENY;
	else if (strcmp(s, "prompt") == 0)
		*p = VKEY_UP_PROMPT;
	else
		return -1;
	return 0;
}

static int parse_serve(int argc, char **argv, struct serve_opts *o)
{
	static const struct option longopts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "vpcd", required_argument, NULL, 'p' },
		{ "up", required_argument, NULL, 'u' },
		{ "up-timeout", required_argument, NULL, 't' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "log-secrets", no_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *vpcd = VPCD_DEFAULT;
	char *end;
	int c;

	memset(o, 0, sizeof(*o));
	o->up = VKEY_UP_PROMPT;
	o->up_timeout_s = 15;
	if (cli_default_state(o->state, sizeof(o->state)) != 0)
		o->state[0] = '\0';
	while ((c = getopt_long(argc, argv, "hv", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			snprintf(o->state, sizeof(o->state), "%s", optarg);
			break;
		case 'p':
			vpcd = optarg;
			break;
		case 'u':
			if (parse_up(optarg, &o->up) != 0) {
				fprintf(stderr, "vkey serve: --up takes auto, deny or prompt\n");
				return 2;
			}
			break;
		case 't':
			o->up_timeout_s = (unsigned)strtoul(optarg, &end, 10);
			if (*end != '\0' || o->up_timeout_s == 0 ||
			    o->up_timeout_s > UP_TIMEOUT_MAX_S) {
				fprintf(stderr, "vkey serve: --up-timeout takes 1..%d seconds\n",
					UP_TIMEOUT_MAX_S);
				return 2;
			}
			break;
		case 'v':
			o->verbose++;
			break;
		case 'S':
			o->log_secrets = 1;
			break;
		case 'h':
			fputs(serve_usage, stdout);
			return 1;
		default:
			fputs(serve_usage, stderr);
			return 2;
		}
	}
	if (optind != argc) {
		fprintf(stderr, "vkey serve: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (o->state[0] == '\0') {
		fprintf(stderr, "vkey serve: no --state and no $HOME for the default\n");
		return 2;
	}
	if (parse_hostport(vpcd, o->host, sizeof(o->host), &o->port) != 0) {
		fprintf(stderr, "vkey serve: --vpcd takes HOST:PORT, not '%s'\n", vpcd);
		return 2;
	}
	return 0;
}

int cmd_serve(int argc, char **argv)
{
	struct serve_opts o;
	struct vkey_options ko;
	struct vkey *key = NULL;
	struct vpcd *vp = NULL;
	struct ctl *ctl = NULL;
	char ctl_path[PATH_MAX], err[512];
	sigset_t sigs;
	int r, sig;

	r = parse_serve(argc, argv, &o);
	if (r != 0)
		return r == 1 ? 0 : r;
	cli_apply_verbosity(o.verbose, o.log_secrets);
	if (ctl_default_path(o.state, ctl_path, sizeof(ctl_path)) != 0) {
		fprintf(stderr, "vkey serve: state path too long for its control socket: %s\n",
			o.state);
		return 1;
	}
	/* Signals go to sigwait below, not to the worker threads. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	signal(SIGPIPE, SIG_IGN);

	memset(&ko, 0, sizeof(ko));
	ko.state_path = o.state;
	ko.up = o.up;
	ko.up_timeout_ms = o.up_timeout_s * 1000;
	ko.ctl_path = ctl_path;
	ko.serving = true;
	if (vkey_open(&key, &ko, err, sizeof(err)) != 0) {
		fprintf(stderr, "vkey serve: %s\n", err);
		return 1;
	}
	r = 1;
	ctl = ctl_start(key, ctl_path);
	if (ctl == NULL)
		goto out;
	vp = vpcd_start(key, o.host, o.port);
	if (vp == NULL)
		goto out;
	printf("vkey: key %u from %s\n"
	       "vkey: card for pcscd's vpcd reader at %s:%u; user presence: %s\n"
	       "vkey: control socket %s (vkey touch/status/oath list --state %s)\n",
	       vkey_serial(key), o.state, o.host, o.port,
	       o.up == VKEY_UP_AUTO ? "auto" : o.up == VKEY_UP_DENY ? "deny" : "prompt",
	       ctl_path, o.state);
	fflush(stdout);
	sigwait(&sigs, &sig);
	log_info("signal %d: stopping", sig);
	r = 0;
out:
	vpcd_stop(vp);
	ctl_stop(ctl);
	vkey_close(key);
	return r;
}
