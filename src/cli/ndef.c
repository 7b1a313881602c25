/* vkey ndef: the key's NDEF tag (a URI or a text, shown, cleared, made
 * read-only) through the daemon's control socket, or on the state file
 * when no daemon holds it. Both paths print the same text: the daemon
 * only moves bytes, this file builds, decodes and prints. */
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "transports/ctl.h"
#include "vkey/ndef.h"
#include "vkey/vkey.h"

#define REPLY_MAX 65536
#define SHOW_MAX 65536
#define CTL_TIMEOUT_MS 5000

static const char ndef_usage[] =
	"usage: vkey ndef get [--raw] [--state PATH] [--seal SPEC]\n"
	"       vkey ndef set-uri URL [--state PATH] [--seal SPEC]\n"
	"       vkey ndef set-text [--lang LANG] TEXT [--state PATH] [--seal SPEC]\n"
	"       vkey ndef clear [--state PATH] [--seal SPEC]\n"
	"       vkey ndef read-only [--yes] [--state PATH] [--seal SPEC]\n"
	"\n"
	"The key's NFC Forum Type 4 Tag, as a phone or an NFC reader reads\n"
	"it. get: the message's records (URI, text, or type and payload in\n"
	"hex; --raw: the message in hex). set-uri: one URI record (with the\n"
	"NFC Forum prefix code, e.g. https://). set-text: one UTF-8 Text\n"
	"record (language --lang, default en). clear: no message.\n"
	"read-only: refuse every later change, by readers and by vkey; only\n"
	"a factory reset of the ndef applet undoes it (asks first unless\n"
	"--yes). At most 4096 bytes of message.\n"
	"\n"
	"--seal passphrase|keyfile:PATH opens a sealed state file that no\n"
	"daemon holds (see vkey seal --help).\n";

struct ndef_opts {
	char state[PATH_MAX];
	char ctl[PATH_MAX];
	const char *lang;
	const char *arg;  /* URL or TEXT */
	const char *seal; /* --seal SPEC: for the direct path */
	bool yes, raw;
	int verbose;
};

/* Options after the subcommand; one positional argument for set-uri and
 * set-text. Returns 0 to run, 1 after --help, 2 on a usage error. */
static int parse(int argc, char **argv, bool wants_arg, struct ndef_opts *o)
{
	static const struct option longopts[] = {
		{ "state", required_argument, NULL, 's' },
		{ "lang", required_argument, NULL, 'l' },
		{ "yes", no_argument, NULL, 'y' },
		{ "raw", no_argument, NULL, 'r' },
		{ "seal", required_argument, NULL, 'S' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	o->lang = "en";
	if (cli_default_state(o->state, sizeof(o->state)) != 0)
		o->state[0] = '\0';
	optind = 1;
	while ((c = getopt_long(argc, argv, "hvy", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			snprintf(o->state, sizeof(o->state), "%s", optarg);
			break;
		case 'l':
			o->lang = optarg;
			break;
		case 'y':
			o->yes = true;
			break;
		case 'r':
			o->raw = true;
			break;
		case 'S':
			o->seal = optarg;
			break;
		case 'v':
			o->verbose++;
			break;
		case 'h':
			fputs(ndef_usage, stdout);
			return 1;
		default:
			fputs(ndef_usage, stderr);
			return 2;
		}
	}
	if (wants_arg && optind < argc)
		o->arg = argv[optind++];
	if ((wants_arg && o->arg == NULL) || optind != argc) {
		fputs(ndef_usage, stderr);
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

static int fail(const char *why)
{
	fprintf(stderr, "vkey ndef: %s\n", why);
	return 1;
}

/* Ask the daemon. Returns -1 when none answers, 0 when it did what was
 * asked (its reply in reply), 1 after printing its refusal. */
static int ask_daemon(const struct ndef_opts *o, const char *req,
		      char *reply)
{
	int r = ctl_request(o->ctl, req, reply, REPLY_MAX, CTL_TIMEOUT_MS);

	if (r < 0)
		return -1;
	if (r != 0) {
		reply[strcspn(reply, "\n")] = '\0';
		return fail(reply);
	}
	return 0;
}

static int hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Hex up to the end of the line into out. */
static int unhex_line(const char *hex, uint8_t *out, size_t cap,
		      size_t *len)
{
	size_t n = strcspn(hex, "\n");

	if (n % 2 != 0 || n / 2 > cap)
		return -1;
	for (size_t i = 0; i < n / 2; i++) {
		int hi = hex_digit(hex[2 * i]), lo = hex_digit(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	*len = n / 2;
	return 0;
}

/* The daemon's answer to ndef-read: "message HEX" and "read-only X". */
static int parse_read_reply(const char *reply, uint8_t *msg, size_t *len,
			    bool *ro)
{
	const char *ro_line = strstr(reply, "\nread-only ");

	if (strncmp(reply, "message ", 8) != 0 || ro_line == NULL ||
	    unhex_line(reply + 8, msg, VKEY_NDEF_MSG_MAX, len) != 0)
		return -1;
	*ro = strncmp(ro_line + 11, "yes", 3) == 0;
	return 0;
}

static int print_message(const uint8_t *msg, size_t len, bool ro, bool raw)
{
	char *text;

	if (raw) {
		for (size_t i = 0; i < len; i++)
			printf("%02X", msg[i]);
		printf("\n");
		return 0;
	}
	text = malloc(SHOW_MAX);
	if (text == NULL || vkey_ndef_format(msg, len, ro, text, SHOW_MAX) < 0) {
		free(text);
		return fail("cannot show the message");
	}
	fputs(text, stdout);
	free(text);
	return 0;
}

static int ndef_get(const struct ndef_opts *o, char *reply, uint8_t *msg)
{
	struct vkey *key;
	size_t len = 0;
	bool ro = false;
	int r;

	r = ask_daemon(o, "ndef-read", reply);
	if (r > 0)
		return r;
	if (r == 0) {
		if (parse_read_reply(reply, msg, &len, &ro) != 0)
			return fail("unexpected answer from the daemon");
	} else {
		key = cli_open_key(o->state, o->seal);
		if (key == NULL)
			return 1;
		r = vkey_ndef_read(key, msg, VKEY_NDEF_MSG_MAX, &len, &ro);
		vkey_close(key);
		if (r != VKEY_NDEF_OK)
			return fail(vkey_ndef_strerror(r));
	}
	return print_message(msg, len, ro, o->raw);
}

/* Replace the message (len 0: clear); print what the tag now holds. */
static int ndef_put(const struct ndef_opts *o, char *reply,
		    const uint8_t *msg, size_t len)
{
	static const char verb[] = "ndef-write ";
	size_t cap = sizeof(verb) + 2 * VKEY_NDEF_MSG_MAX, n;
	char *req = malloc(cap);
	struct vkey *key;
	int r;

	if (req == NULL)
		return fail("out of memory");
	if (len == 0) {
		snprintf(req, cap, "ndef-clear");
	} else {
		n = (size_t)snprintf(req, cap, "%s", verb);
		for (size_t i = 0; i < len && n + 2 < cap; i++, n += 2)
			snprintf(req + n, cap - n, "%02X", msg[i]);
	}
	r = ask_daemon(o, req, reply);
	free(req);
	if (r > 0)
		return r;
	if (r < 0) {
		key = cli_open_key(o->state, o->seal);
		if (key == NULL)
			return 1;
		r = vkey_ndef_write(key, msg, len);
		vkey_close(key);
		if (r != VKEY_NDEF_OK)
			return fail(vkey_ndef_strerror(r));
	}
	return print_message(msg, len, false, o->raw);
}

static bool confirmed(void)
{
	char line[16];

	fputs("Make the NDEF tag read-only? No reader and no vkey command can "
	      "change it\nafterwards; only a factory reset of the ndef applet "
	      "(which also erases\nthe message) undoes it. Type yes to go on: ",
	      stderr);
	fflush(stderr);
	if (fgets(line, sizeof(line), stdin) == NULL)
		return false;
	line[strcspn(line, "\n")] = '\0';
	return strcmp(line, "yes") == 0;
}

static int ndef_read_only(const struct ndef_opts *o, char *reply)
{
	struct vkey *key;
	int r;

	if (!o->yes && !confirmed())
		return fail("not confirmed; nothing changed");
	r = ask_daemon(o, "ndef-read-only", reply);
	if (r > 0)
		return r;
	if (r < 0) {
		key = cli_open_key(o->state, o->seal);
		if (key == NULL)
			return 1;
		r = vkey_ndef_set_read_only(key);
		vkey_close(key);
		if (r != VKEY_NDEF_OK)
			return fail(vkey_ndef_strerror(r));
	}
	printf("NDEF tag: read-only\n");
	return 0;
}

static int run(const char *sub, const struct ndef_opts *o, char *reply,
	       uint8_t *msg)
{
	size_t len = 0;
	int r;

	if (strcmp(sub, "get") == 0)
		return ndef_get(o, reply, msg);
	if (strcmp(sub, "clear") == 0)
		return ndef_put(o, reply, msg, 0);
	if (strcmp(sub, "read-only") == 0)
		return ndef_read_only(o, reply);
	if (strcmp(sub, "set-uri") == 0)
		r = vkey_ndef_uri_message(o->arg, msg, VKEY_NDEF_MSG_MAX, &len);
	else
		r = vkey_ndef_text_message(o->lang, o->arg, msg,
					   VKEY_NDEF_MSG_MAX, &len);
	if (r != VKEY_NDEF_OK)
		return fail(vkey_ndef_strerror(r));
	return ndef_put(o, reply, msg, len);
}

int cmd_ndef(int argc, char **argv)
{
	static const char *const subs[] = { "get", "set-uri", "set-text",
					    "clear", "read-only" };
	const char *sub = argc > 1 ? argv[1] : NULL;
	struct ndef_opts o;
	char *reply = NULL;
	uint8_t *msg = NULL;
	bool known = false;
	int r;

	if (sub == NULL || strcmp(sub, "--help") == 0 ||
	    strcmp(sub, "-h") == 0) {
		fputs(ndef_usage, sub == NULL ? stderr : stdout);
		return sub == NULL ? 2 : 0;
	}
	for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
		known = known || strcmp(sub, subs[i]) == 0;
	if (!known) {
		fprintf(stderr, "vkey ndef: unknown subcommand '%s'\n", sub);
		return 2;
	}
	r = parse(argc - 1, argv + 1,
		  strcmp(sub, "set-uri") == 0 || strcmp(sub, "set-text") == 0,
		  &o);
	if (r != 0)
		return r == 1 ? 0 : r;
	reply = malloc(REPLY_MAX);
	msg = malloc(VKEY_NDEF_MSG_MAX);
	r = reply != NULL && msg != NULL ? run(sub, &o, reply, msg)
					 : fail("out of memory");
	free(reply);
	free(msg);
	return r;
}
