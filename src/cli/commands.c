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
	const char *seal; /* --seal SPEC: for the direct path */
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
		{ "seal", required_argument, NULL, 'S' },
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
		case 'S':
			o->seal = optarg;
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

/* A report the daemon answers to request, and the same function run on
 * the state file when no daemon holds it. */
struct report_kind {
	const char *request;
	int (*run)(struct vkey *key, char *out, size_t cap);
};

static const struct report_kind report_status = { "status",
						  vkey_report_status };
static const struct report_kind report_oath = { "list oath",
						vkey_report_oath_list };
static const struct report_kind report_fido = { "list fido",
						vkey_report_fido_list };
static int openpgp_list(struct vkey *key, char *out, size_t cap)
{
	return vkey_report_list(key, "openpgp", out, cap);
}

static const struct report_kind report_openpgp = { "list openpgp",
						   openpgp_list };
static int piv_list(struct vkey *key, char *out, size_t cap)
{
	return vkey_report_list(key, "piv", out, cap);
}

static const struct report_kind report_piv = { "list piv", piv_list };
static const struct report_kind report_attest = { "attestation",
						  vkey_report_attestation };

struct vkey *cli_open_key(const char *state, const char *seal_spec)
{
	struct vkey_options ko;
	struct cli_seal seal = { 0 };
	struct vkey *key;
	char err[512];
	int r;

	if (access(state, F_OK) != 0) {
		fprintf(stderr, "vkey: no key at %s (vkey serve creates one)\n",
			state);
		return NULL;
	}
	memset(&ko, 0, sizeof(ko));
	ko.state_path = state;
	ko.up = VKEY_UP_DENY;
	/* The secret is read only now: a daemon that answers needs none. */
	if (seal_spec != NULL && cli_seal_read(seal_spec, "VKEY_PASSPHRASE",
					       state, 0, &seal) != 0)
		return NULL;
	ko.seal = seal_spec != NULL ? &seal.seal : NULL;
	r = vkey_open(&key, &ko, err, sizeof(err));
	cli_seal_free(&seal);
	if (r != 0) {
		fprintf(stderr, "vkey: %s\n", err);
		return NULL;
	}
	return key;
}

/* Run a report on the state file itself (no daemon holds it). */
static int direct_report(const struct common_opts *o,
			 const struct report_kind *k, char *out, size_t cap)
{
	struct vkey *key = cli_open_key(o->state, o->seal);
	int r;

	if (key == NULL)
		return 1;
	r = k->run(key, out, cap);
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

static int report(int argc, char **argv, const char *usage,
		  const struct report_kind *k)
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
	r = via_daemon(&o, k->request, CTL_TIMEOUT_MS, out, REPLY_MAX);
	if (r < 0)
		r = direct_report(&o, k, out, REPLY_MAX);
	free(out);
	return r;
}

static const char status_usage[] =
	"usage: vkey status [--state PATH] [--seal passphrase|keyfile:PATH]\n"
	"\n"
	"Show a key: state file, serial, user-presence policy and each\n"
	"applet's summary. --seal opens a sealed state file that no daemon\n"
	"holds (every report command takes it; see vkey seal --help).\n";

int cmd_status(int argc, char **argv)
{
	return report(argc, argv, status_usage, &report_status);
}

static const char oath_usage[] =
	"usage: vkey oath list [--state PATH]\n"
	"\n"
	"List the OATH accounts: name, type, algorithm, digits, touch.\n"
	"Secrets are never shown.\n";

static const char fido_usage[] =
	"usage: vkey fido list [--state PATH]\n"
	"       vkey fido attestation packed|self [--state PATH]\n"
	"\n"
	"list: the discoverable FIDO credentials (relying party, user,\n"
	"algorithm). attestation: how new credentials are attested: packed\n"
	"(under the key's own CA, see vkey attestation export; the default)\n"
	"or self (signed by the credential's own key, no certificate).\n";

static const char openpgp_usage[] =
	"usage: vkey openpgp list [--state PATH]\n"
	"\n"
	"List the OpenPGP card's three keys: algorithm, origin (generated\n"
	"on the card or imported) and fingerprint.\n";

static const char piv_usage[] =
	"usage: vkey piv list [--state PATH]\n"
	"\n"
	"List the PIV slots that hold a key: algorithm, origin (generated\n"
	"on the card or imported), PIN and touch policy, and whether the\n"
	"slot has a certificate.\n";

/* vkey fido attestation MODE: a persisted setting, through the daemon or
 * on the state file. */
static int fido_attestation(int argc, char **argv)
{
	struct common_opts o;
	struct vkey *key;
	const char *mode = argc > 1 ? argv[1] : NULL;
	char req[64], out[512];
	int r;

	if (mode == NULL || (strcmp(mode, "packed") != 0 &&
			     strcmp(mode, "self") != 0)) {
		fputs(fido_usage, stderr);
		return 2;
	}
	r = parse_common(argc - 1, argv + 1, fido_usage, 0, &o);
	if (r != 0)
		return r == 1 ? 0 : r;
	snprintf(req, sizeof(req), "fido-attestation %s", mode);
	r = via_daemon(&o, req, CTL_TIMEOUT_MS, out, sizeof(out));
	if (r >= 0)
		return r;
	key = cli_open_key(o.state, o.seal);
	if (key == NULL)
		return 1;
	r = vkey_set_fido_attestation(key, mode);
	vkey_close(key);
	if (r != 0) {
		fprintf(stderr, "vkey: cannot set fido attestation\n");
		return 1;
	}
	printf("fido attestation: %s\n", mode);
	return 0;
}

/* vkey APPLET list: the one subcommand applets have today. */
static int applet_list(int argc, char **argv, const char *name,
		       const char *usage, const struct report_kind *k)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		fputs(usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "list") != 0) {
		fprintf(stderr, "vkey %s: unknown subcommand '%s'\n", name,
			argv[1]);
		return 2;
	}
	return report(argc - 1, argv + 1, usage, k);
}

int cmd_oath(int argc, char **argv)
{
	return applet_list(argc, argv, "oath", oath_usage, &report_oath);
}

int cmd_openpgp(int argc, char **argv)
{
	return applet_list(argc, argv, "openpgp", openpgp_usage,
			   &report_openpgp);
}

int cmd_piv(int argc, char **argv)
{
	return applet_list(argc, argv, "piv", piv_usage, &report_piv);
}

int cmd_fido(int argc, char **argv)
{
	if (argc > 1 && strcmp(argv[1], "attestation") == 0)
		return fido_attestation(argc - 1, argv + 1);
	return applet_list(argc, argv, "fido", fido_usage, &report_fido);
}

static const char attestation_usage[] =
	"usage: vkey attestation export [--state PATH]\n"
	"\n"
	"Print the key's attestation CA certificate (PEM): a relying party\n"
	"under test that trusts it accepts this key's attestations.\n";

int cmd_attestation(int argc, char **argv)
{
	if (argc < 2 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "-h") == 0) {
		fputs(attestation_usage, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	if (strcmp(argv[1], "export") != 0) {
		fprintf(stderr, "vkey attestation: unknown subcommand '%s'\n",
			argv[1]);
		return 2;
	}
	return report(argc - 1, argv + 1, attestation_usage, &report_attest);
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
