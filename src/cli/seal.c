/* The owner's secret for a sealed state file (--seal passphrase or
 * keyfile:PATH), and `vkey seal` / `vkey unseal`, which add, change or
 * remove the sealing of a file no daemon holds. See docs/SEALING.md. */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "cli/cli.h"
#include "vkey/vkey.h"

#define SEAL_SECRET_MAX 65536

static void wipe(void *p, size_t n)
{
	explicit_bzero(p, n);
}

void cli_seal_free(struct cli_seal *s)
{
	if (s->buf != NULL) {
		wipe(s->buf, SEAL_SECRET_MAX);
		free(s->buf);
	}
	memset(s, 0, sizeof(*s));
}

/* A key file: a regular file of the user's (or root's) that nobody else
 * can read or write, 1 to 64 KiB; its bytes are the secret. */
static int read_keyfile(const char *path, struct cli_seal *s)
{
	struct stat sb;
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	int r = -1;

	if (fd < 0 || fstat(fd, &sb) != 0) {
		fprintf(stderr, "vkey: cannot read key file %s: %s\n", path,
			strerror(errno));
		goto out;
	}
	if (!S_ISREG(sb.st_mode)) {
		fprintf(stderr, "vkey: key file %s is not a regular file\n",
			path);
		goto out;
	}
	if ((sb.st_mode & 077) != 0 ||
	    (sb.st_uid != getuid() && sb.st_uid != 0)) {
		fprintf(stderr, "vkey: key file %s is accessible by others "
			"(mode %03o) or not yours; chmod 600 it\n", path,
			(unsigned)(sb.st_mode & 0777));
		goto out;
	}
	if (sb.st_size < 1 || sb.st_size > SEAL_SECRET_MAX) {
		fprintf(stderr, "vkey: key file %s must hold 1 to %d bytes\n",
			path, SEAL_SECRET_MAX);
		goto out;
	}
	n = read(fd, s->buf, (size_t)sb.st_size);
	if (n != (ssize_t)sb.st_size) {
		fprintf(stderr, "vkey: cannot read key file %s\n", path);
		goto out;
	}
	s->len = (size_t)n;
	r = 0;
out:
	if (fd >= 0)
		close(fd);
	return r;
}

/* One line from f into buf, without its line end. */
static int read_line(FILE *f, uint8_t *buf, size_t *len)
{
	size_t n = 0;
	int c;

	while ((c = fgetc(f)) != EOF && c != '\n') {
		if (n == SEAL_SECRET_MAX - 1)
			return -1;
		buf[n++] = (uint8_t)c;
	}
	if (c == EOF && n == 0)
		return -1;
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	*len = n;
	return 0;
}

/* Prompt on stderr, read stdin (a terminal) with echo off. */
static int ask(const char *prompt, uint8_t *buf, size_t *len)
{
	struct termios old, quiet;
	int r;

	fputs(prompt, stderr);
	fflush(stderr);
	if (tcgetattr(STDIN_FILENO, &old) != 0)
		return -1;
	quiet = old;
	quiet.c_lflag &= (tcflag_t)~(ECHO | ECHONL);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	r = read_line(stdin, buf, len);
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
	fputc('\n', stderr);
	return r;
}

static int read_passphrase(const char *env, const char *what, int confirm,
			   struct cli_seal *s)
{
	const char *v = getenv(env);
	char prompt[PATH_MAX + 64];

	if (v != NULL) {
		s->len = strlen(v);
		if (s->len >= SEAL_SECRET_MAX)
			s->len = 0;
		memcpy(s->buf, v, s->len);
	} else if (isatty(STDIN_FILENO)) {
		uint8_t *again;
		size_t again_len = 0;
		int same;

		snprintf(prompt, sizeof(prompt), "%s: ", what);
		if (ask(prompt, s->buf, &s->len) != 0)
			return -1;
		if (!confirm)
			goto check;
		again = malloc(SEAL_SECRET_MAX);
		if (again == NULL)
			return -1;
		snprintf(prompt, sizeof(prompt), "%s (again): ", what);
		same = ask(prompt, again, &again_len) == 0 &&
		       again_len == s->len &&
		       memcmp(again, s->buf, s->len) == 0;
		wipe(again, SEAL_SECRET_MAX);
		free(again);
		if (!same) {
			fprintf(stderr, "vkey: the passphrases differ\n");
			return -1;
		}
	} else if (read_line(stdin, s->buf, &s->len) != 0) {
		fprintf(stderr, "vkey: no passphrase on standard input\n");
		return -1;
	}
check:
	if (s->len == 0) {
		fprintf(stderr, "vkey: empty passphrase (%s)\n", what);
		return -1;
	}
	return 0;
}

int cli_seal_read(const char *spec, const char *env, const char *what,
		  int confirm, struct cli_seal *s)
{
	int r;

	memset(s, 0, sizeof(*s));
	s->buf = malloc(SEAL_SECRET_MAX);
	if (s->buf == NULL)
		return -1;
	if (strcmp(spec, "passphrase") == 0)
		r = read_passphrase(env, what, confirm, s);
	else if (strncmp(spec, "keyfile:", 8) == 0 && spec[8] != '\0')
		r = read_keyfile(spec + 8, s);
	else {
		fprintf(stderr, "vkey: --seal takes passphrase or "
			"keyfile:PATH, not '%s'\n", spec);
		r = -1;
	}
	if (r != 0) {
		cli_seal_free(s);
		return -1;
	}
	s->seal.secret = s->buf;
	s->seal.len = s->len;
	return 0;
}

static const char seal_usage[] =
	"usage: vkey seal [--state PATH] --seal NEW [--old OLD]\n"
	"       vkey unseal [--state PATH] --seal OLD\n"
	"\n"
	"seal: seal the state file's secrets under NEW (passphrase or\n"
	"keyfile:PATH); with --old, the file is sealed already and OLD opens\n"
	"it (change the passphrase). unseal: remove the sealing. The file must\n"
	"not be held by a running daemon (stop vkey serve first).\n"
	"\n"
	"A passphrase comes from $VKEY_PASSPHRASE (the current one) or\n"
	"$VKEY_NEW_PASSPHRASE (the new one) when set, else from the terminal\n"
	"without echo (the new one asked twice), else one line of standard\n"
	"input each (the current one first). A key file must be readable by\n"
	"its owner only. See docs/SEALING.md.\n";

int cmd_seal(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "seal", required_argument, NULL, 'S' },
		{ "old", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int unseal = argc > 0 && strcmp(argv[0], "unseal") == 0;
	const char *spec = NULL, *old = NULL;
	char state[PATH_MAX], err[512];
	struct cli_seal cur = { 0 }, next = { 0 };
	struct vkey_options ko;
	struct vkey *key = NULL;
	int c, r = 1;

	if (cli_default_state(state, sizeof(state)) != 0)
		state[0] = '\0';
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			snprintf(state, sizeof(state), "%s", optarg);
			break;
		case 'S':
			spec = optarg;
			break;
		case 'o':
			old = optarg;
			break;
		case 'h':
			fputs(seal_usage, stdout);
			return 0;
		default:
			fputs(seal_usage, stderr);
			return 2;
		}
	}
	if (optind != argc || spec == NULL || (unseal && old != NULL) ||
	    state[0] == '\0') {
		fputs(seal_usage, stderr);
		return 2;
	}
	if (access(state, F_OK) != 0) {
		fprintf(stderr, "vkey: no key at %s\n", state);
		return 1;
	}
	/* The current secret first (one line each on standard input). */
	if (unseal ? cli_seal_read(spec, "VKEY_PASSPHRASE", "Passphrase",
				   0, &cur) != 0
		   : old != NULL && cli_seal_read(old, "VKEY_PASSPHRASE",
						  "Current passphrase", 0,
						  &cur) != 0)
		goto out;
	if (!unseal && cli_seal_read(spec, "VKEY_NEW_PASSPHRASE",
				     "New passphrase", 1, &next) != 0)
		goto out;
	memset(&ko, 0, sizeof(ko));
	ko.state_path = state;
	ko.up = VKEY_UP_DENY;
	ko.seal = cur.buf != NULL ? &cur.seal : NULL;
	if (vkey_open(&key, &ko, err, sizeof(err)) != 0) {
		fprintf(stderr, "vkey: %s\n", err);
		goto out;
	}
	if (vkey_reseal(key, unseal ? NULL : &next.seal, err,
			sizeof(err)) != 0) {
		fprintf(stderr, "vkey: %s\n", err);
		goto out;
	}
	printf("vkey: %s is %s\n", state,
	       unseal ? "no longer sealed" : "sealed");
	r = 0;
out:
	vkey_close(key);
	cli_seal_free(&cur);
	cli_seal_free(&next);
	return r;
}
