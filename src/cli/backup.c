/* vkey export / vkey import: a sealed backup of the whole key, and a new
 * state file made from one (docs/SEALING.md, "Backups and migration").
 * export goes through the daemon that holds the state file when one
 * answers, else opens the file; both print vkey_export's sentence. */
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

#define MSG_MAX 2048
/* The daemon answers once the copy is done (one key derivation). */
#define EXPORT_CTL_TIMEOUT_MS 60000
/* An export request is one control-socket line: path and secret in hex
 * must stay below ctl.c's request bound (64 + 8192 bytes). */
#define EXPORT_CTL_HEX_MAX 8000

struct backup_opts {
	char state[PATH_MAX];
	char file[PATH_MAX]; /* absolute */
	const char *seal;    /* --seal: the state file's secret */
	const char *other;   /* --to (export) / --from (import) */
	int force;
	int verbose;
};

/* FILE made absolute: the daemon's working directory is not ours. */
static int absolute(const char *in, char *out, size_t cap)
{
	char cwd[PATH_MAX];
	int n;

	if (in[0] == '/')
		n = snprintf(out, cap, "%s", in);
	else if (getcwd(cwd, sizeof(cwd)) != NULL)
		n = snprintf(out, cap, "%s/%s", cwd, in);
	else
		return -1;
	return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* Returns 0 to run, 1 after --help, 2 on a usage error. */
static int parse(int argc, char **argv, const char *usage, int import,
		 struct backup_opts *o)
{
	static const struct option longopts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "seal", required_argument, NULL, 'S' },
		{ "to", required_argument, NULL, 'T' },
		{ "from", required_argument, NULL, 'F' },
		{ "force", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->other = "passphrase";
	if (cli_default_state(o->state, sizeof(o->state)) != 0)
		o->state[0] = '\0';
	optind = 1;
	while ((c = getopt_long(argc, argv, "hvf", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			snprintf(o->state, sizeof(o->state), "%s", optarg);
			break;
		case 'S':
			o->seal = optarg;
			break;
		case 'T':
		case 'F':
			if ((c == 'F') != import) {
				fputs(usage, stderr);
				return 2;
			}
			o->other = optarg;
			break;
		case 'f':
			o->force = 1;
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
	if (optind + 1 != argc) {
		fputs(usage, stderr);
		return 2;
	}
	if (o->state[0] == '\0') {
		fprintf(stderr, "vkey: no usable state path (give --state "
			"PATH)\n");
		return 2;
	}
	if (absolute(argv[optind], o->file, sizeof(o->file)) != 0) {
		fprintf(stderr, "vkey: file path too long: %s\n", argv[optind]);
		return 2;
	}
	cli_apply_verbosity(o->verbose, 0);
	return 0;
}

/* "export FLAGS.SECRET.PATH", secret and path in hex: one token, since
 * a path may hold spaces. NULL when it would not fit one line. */
static char *export_request(const struct backup_opts *o,
			    const struct cli_seal *to)
{
	size_t pl = strlen(o->file), n = 0;
	size_t cap = 32 + 2 * (to->len + pl);
	char *req;

	if (2 * (to->len + pl) > EXPORT_CTL_HEX_MAX)
		return NULL;
	req = malloc(cap);
	if (req == NULL)
		return NULL;
	n += (size_t)snprintf(req, cap, "export %s.",
			      o->force ? "replace" : "new");
	for (size_t i = 0; i < to->len; i++, n += 2)
		snprintf(req + n, cap - n, "%02X", to->buf[i]);
	req[n++] = '.';
	for (size_t i = 0; i < pl; i++, n += 2)
		snprintf(req + n, cap - n, "%02X", (unsigned char)o->file[i]);
	req[n] = '\0';
	return req;
}

/* Through the daemon: -1 when none answers, else the exit code. */
static int export_via_daemon(const struct backup_opts *o,
			     const struct cli_seal *to)
{
	char ctl[PATH_MAX], out[MSG_MAX];
	char *req;
	int r;

	if (ctl_default_path(o->state, ctl, sizeof(ctl)) != 0 ||
	    access(ctl, F_OK) != 0)
		return -1;
	req = export_request(o, to);
	if (req == NULL) {
		fprintf(stderr, "vkey: the key file or the backup path is too "
			"long to send to the daemon that holds %s; stop it and "
			"export from the file\n", o->state);
		return 1;
	}
	r = ctl_request(ctl, req, out, sizeof(out), EXPORT_CTL_TIMEOUT_MS);
	explicit_bzero(req, strlen(req));
	free(req);
	if (r < 0)
		return -1;
	fputs(out, r == 0 ? stdout : stderr);
	return r == 0 ? 0 : 1;
}

static int export_direct(const struct backup_opts *o,
			 const struct cli_seal *to)
{
	struct cli_seal cur = { 0 };
	struct vkey_options ko;
	struct vkey *key = NULL;
	char msg[MSG_MAX];
	int r = 1;

	if (access(o->state, F_OK) != 0) {
		fprintf(stderr, "vkey: no key at %s\n", o->state);
		return 1;
	}
	if (o->seal != NULL && cli_seal_read(o->seal, "VKEY_PASSPHRASE",
					     o->state, 0, &cur) != 0)
		return 1;
	memset(&ko, 0, sizeof(ko));
	ko.state_path = o->state;
	ko.up = VKEY_UP_DENY;
	ko.seal = o->seal != NULL ? &cur.seal : NULL;
	if (vkey_open(&key, &ko, msg, sizeof(msg)) != 0) {
		fprintf(stderr, "vkey: %s\n", msg);
		goto out;
	}
	r = vkey_export(key, o->file, &to->seal, o->force, msg,
			sizeof(msg)) == 0 ? 0 : 1;
	fprintf(r == 0 ? stdout : stderr, "%s\n", msg);
out:
	vkey_close(key);
	cli_seal_free(&cur);
	return r;
}

static const char export_usage[] =
	"usage: vkey export FILE [--state PATH] [--seal SPEC]\n"
	"                        [--to passphrase|keyfile:PATH] [--force]\n"
	"\n"
	"Write a backup of the whole key (serial, device secret, every\n"
	"applet's keys, credentials, accounts and PINs) to FILE, sealed under\n"
	"--to (default: a passphrase from $VKEY_BACKUP_PASSPHRASE, else the\n"
	"terminal, asked twice, else a line of standard input). A backup is\n"
	"never written unsealed. FILE is created 0600; an existing one is\n"
	"replaced only with --force. Goes through the daemon that holds the\n"
	"state file (the backup secret travels over its 0600 control\n"
	"socket), else opens the file (--seal SPEC for a sealed one; its\n"
	"passphrase, $VKEY_PASSPHRASE or the line after the backup's).\n"
	"See docs/SEALING.md.\n";

int cmd_export(int argc, char **argv)
{
	struct backup_opts o;
	struct cli_seal to = { 0 };
	int r;

	r = parse(argc, argv, export_usage, 0, &o);
	if (r != 0)
		return r == 1 ? 0 : r;
	if (!o.force && access(o.file, F_OK) == 0) {
		fprintf(stderr, "vkey: backup file %s exists; give --force to "
			"replace it\n", o.file);
		return 1;
	}
	if (cli_seal_read(o.other, "VKEY_BACKUP_PASSPHRASE",
			  "Backup passphrase", 1, &to) != 0)
		return 1;
	r = export_via_daemon(&o, &to);
	if (r < 0)
		r = export_direct(&o, &to);
	cli_seal_free(&to);
	return r;
}

static const char import_usage[] =
	"usage: vkey import FILE [--state PATH] [--from passphrase|keyfile:PATH]\n"
	"                        [--seal SPEC] [--force]\n"
	"\n"
	"Make a new state file at --state from the backup FILE (written by\n"
	"vkey export), opened with --from (default: a passphrase from\n"
	"$VKEY_BACKUP_PASSPHRASE, else the terminal, else a line of standard\n"
	"input). The new file is sealed under --seal (its passphrase from\n"
	"$VKEY_PASSPHRASE, the terminal, asked twice, or the next line), or\n"
	"not sealed without it. The key keeps its serial and works as\n"
	"before. An existing state file is replaced only with --force, and\n"
	"never one a running daemon holds. The backup is only read.\n";

int cmd_import(int argc, char **argv)
{
	struct backup_opts o;
	struct cli_seal from = { 0 }, seal = { 0 };
	char msg[MSG_MAX];
	int r = 1;

	r = parse(argc, argv, import_usage, 1, &o);
	if (r != 0)
		return r == 1 ? 0 : r;
	r = 1;
	if (access(o.file, F_OK) != 0) {
		fprintf(stderr, "vkey: no backup at %s\n", o.file);
		return 1;
	}
	if (!o.force && access(o.state, F_OK) == 0) {
		fprintf(stderr, "vkey: state file %s exists; give --force to "
			"replace it\n", o.state);
		return 1;
	}
	if (cli_seal_read(o.other, "VKEY_BACKUP_PASSPHRASE",
			  "Backup passphrase", 0, &from) != 0)
		goto out;
	if (o.seal != NULL && cli_seal_read(o.seal, "VKEY_PASSPHRASE",
					    "New state file passphrase", 1,
					    &seal) != 0)
		goto out;
	r = vkey_import(o.file, &from.seal, o.state,
			o.seal != NULL ? &seal.seal : NULL, o.force, msg,
			sizeof(msg)) == 0 ? 0 : 1;
	fprintf(r == 0 ? stdout : stderr, "%s\n", msg);
out:
	cli_seal_free(&from);
	cli_seal_free(&seal);
	return r;
}
