/* Fuzz target for the owner's commands (vkey/admin.h): vkey config's
 * parser and checks, and vkey reset's applet names, as the control
 * socket hands them over.
 *
 * The input is lines; each is "config SUB [NAME [VALUE]]" split as the
 * daemon splits it (VALUE the rest of the line), or "reset NAME".
 * Every answer must be one or more whole lines; a setting that was set
 * must read back as the value the answer names, in one spelling that
 * the check takes again unchanged. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_key.h"
#include "vkey/admin.h"
#include "vkey/vkey.h"

#define LINE_MAX_ 512
#define OUT_MAX 4096
#define LINES_MAX 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vkey *key;

static void check_answer(const char *out)
{
	size_t n = strlen(out);

	if (n == 0 || out[n - 1] != '\n')
		abort();
}

/* "NAME: VALUE (vkey serve uses it ...)" read back through the API. */
static void check_set(const char *name, const char *out)
{
	char stored[256], again[OUT_MAX];
	size_t nl = strlen(name);
	const char *v = out + nl + 2;

	if (strncmp(out, name, nl) != 0 || strncmp(out + nl, ": ", 2) != 0)
		abort();
	if (vkey_config_get(key, name, stored, sizeof(stored)) != 1)
		abort();
	if (strncmp(v, stored, strlen(stored)) != 0 ||
	    strncmp(v + strlen(stored), " (", 2) != 0)
		abort();
	/* The stored spelling is taken again as it is. */
	if (vkey_config_run(key, "set", name, stored, again, sizeof(again)) != 0 ||
	    strcmp(again, out) != 0)
		abort();
}

static void run_line(char *line)
{
	char out[OUT_MAX];
	char *verb = strtok(line, " ");
	char *arg = strtok(NULL, " ");
	char *rest = strtok(NULL, "");
	char *value = NULL;
	int r;

	if (verb == NULL || arg == NULL)
		return;
	if (strcmp(verb, "reset") == 0) {
		r = vkey_reset_run(key, strcmp(arg, "all") == 0 ? NULL : arg,
				   out, sizeof(out));
		check_answer(out);
		(void)r;
		return;
	}
	if (strcmp(verb, "config") != 0)
		return;
	if (rest != NULL) {
		value = strchr(rest, ' ');
		if (value != NULL)
			*value++ = '\0';
	}
	r = vkey_config_run(key, arg, rest, value, out, sizeof(out));
	check_answer(out);
	if (r == 0 && strcmp(arg, "set") == 0)
		check_set(rest, out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char line[LINE_MAX_];
	size_t start = 0, lines = 0;

	if (key == NULL && (key = fuzz_key_open("admin", VKEY_UP_DENY)) == NULL)
		abort();
	while (start < size && lines++ < LINES_MAX) {
		size_t end = start, n;

		while (end < size && data[end] != '\n')
			end++;
		n = end - start < sizeof(line) - 1 ? end - start
						   : sizeof(line) - 1;
		memcpy(line, data + start, n);
		line[n] = '\0';
		if (strlen(line) == n) /* no NUL inside, as read_line gives */
			run_line(line);
		start = end + 1;
	}
	return 0;
}
