/* Settings of libcanokey-qemu, which QEMU's `-device canokey` has no way
 * to pass: defaults, then `<state file>.conf` (key = value lines), then
 * VKEY_CANOKEY_* environment variables. Every setting in docs/CANOKEY.md. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "canokey/ck.h"

#define LINE_MAX_LEN 1024
#define LINES_MAX 256
#define CONF_SUFFIX ".conf"

typedef int (*setter_fn)(struct ck_config *cfg, const char *v);

struct setting {
	const char *name; /* in the file */
	const char *env;  /* in the environment */
	setter_fn set;    /* 0, or -1 for a bad value */
};

/* No `prompt`: a touch cannot be waited for inside QEMU's main loop, which
 * stops the guest while a call runs; `vkey serve --usbredir` can prompt. */
static int set_up(struct ck_config *cfg, const char *v)
{
	if (strcmp(v, "auto") == 0)
		cfg->up = VKEY_UP_AUTO;
	else if (strcmp(v, "deny") == 0)
		cfg->up = VKEY_UP_DENY;
	else
		return -1;
	return 0;
}

static int set_level(struct ck_config *cfg, const char *v)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(v, names[i]) == 0) {
			cfg->level = (enum log_level)i;
			return 0;
		}
	return -1;
}

static int set_bool(bool *out, const char *v)
{
	if (strcmp(v, "yes") == 0 || strcmp(v, "true") == 0 ||
	    strcmp(v, "1") == 0)
		*out = true;
	else if (strcmp(v, "no") == 0 || strcmp(v, "false") == 0 ||
		 strcmp(v, "0") == 0)
		*out = false;
	else
		return -1;
	return 0;
}

static int set_secrets(struct ck_config *cfg, const char *v)
{
	return set_bool(&cfg->secrets, v);
}

static int set_text(char *dst, size_t cap, const char *v)
{
	size_t n = strlen(v);

	if (n == 0 || n >= cap)
		return -1;
	memcpy(dst, v, n + 1);
	return 0;
}

static int set_log_file(struct ck_config *cfg, const char *v)
{
	return set_text(cfg->log_file, sizeof(cfg->log_file), v);
}

static int set_manufacturer(struct ck_config *cfg, const char *v)
{
	return set_text(cfg->manufacturer, sizeof(cfg->manufacturer), v);
}

static int set_product(struct ck_config *cfg, const char *v)
{
	return set_text(cfg->product, sizeof(cfg->product), v);
}

/* Hex, "0x" optional, 0001..ffff (as vkey serve's --usb-vid). */
static int parse_id(const char *v, uint16_t *out)
{
	char *end;
	unsigned long n;

	if (*v == '\0' || *v == '-' || *v == '+')
		return -1;
	errno = 0;
	n = strtoul(v, &end, 16);
	if (errno != 0 || *end != '\0' || n == 0 || n > 0xFFFF)
		return -1;
	*out = (uint16_t)n;
	return 0;
}

static int set_vid(struct ck_config *cfg, const char *v)
{
	return parse_id(v, &cfg->vid);
}

static int set_pid(struct ck_config *cfg, const char *v)
{
	return parse_id(v, &cfg->pid);
}

static const struct setting settings[] = {
	{ "up", "VKEY_CANOKEY_UP", set_up },
	{ "log_level", "VKEY_CANOKEY_LOG_LEVEL", set_level },
	{ "log_file", "VKEY_CANOKEY_LOG_FILE", set_log_file },
	{ "log_secrets", "VKEY_CANOKEY_LOG_SECRETS", set_secrets },
	{ "usb_vid", "VKEY_CANOKEY_USB_VID", set_vid },
	{ "usb_pid", "VKEY_CANOKEY_USB_PID", set_pid },
	{ "usb_manufacturer", "VKEY_CANOKEY_USB_MANUFACTURER",
	  set_manufacturer },
	{ "usb_product", "VKEY_CANOKEY_USB_PRODUCT", set_product },
};
#define N_SETTINGS (sizeof(settings) / sizeof(settings[0]))

/* Why a value was refused, when there is more to say than "bad". */
static const char *hint(setter_fn set, const char *v)
{
	if (set == set_up && strcmp(v, "prompt") == 0)
		return " (a touch cannot be waited for inside QEMU: use auto "
		       "or deny, or vkey serve --usbredir to prompt)";
	return "";
}

static void defaults(struct ck_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->up = VKEY_UP_AUTO;
	cfg->level = LOG_WARN;
	cfg->vid = USB_VID_DEFAULT;
	cfg->pid = USB_PID_DEFAULT;
}

static void fail(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fail(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static const struct setting *find(const char *name)
{
	for (size_t i = 0; i < N_SETTINGS; i++)
		if (strcmp(settings[i].name, name) == 0)
			return &settings[i];
	return NULL;
}

static char *trim(char *s)
{
	char *e;

	while (*s == ' ' || *s == '\t')
		s++;
	e = s + strlen(s);
	while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' ||
			 e[-1] == '\r'))
		*--e = '\0';
	return s;
}

/* One line of the file; where names the line for messages. */
static int file_line(struct ck_config *cfg, char *line, const char *where,
		     char *err, size_t errlen)
{
	char *eq, *name, *value;
	const struct setting *st;

	line = trim(line);
	if (*line == '\0' || *line == '#')
		return 0;
	eq = strchr(line, '=');
	if (eq == NULL) {
		fail(err, errlen, "%s: expected `key = value`", where);
		return -1;
	}
	*eq = '\0';
	name = trim(line);
	value = trim(eq + 1);
	st = find(name);
	if (st == NULL) {
		fail(err, errlen, "%s: unknown setting `%s`", where, name);
		return -1;
	}
	if (st->set(cfg, value) != 0) {
		fail(err, errlen, "%s: bad value `%s` for %s%s", where, value,
		     name, hint(st->set, value));
		return -1;
	}
	return 0;
}

static int read_file(struct ck_config *cfg, const char *path, char *err,
		     size_t errlen)
{
	char line[LINE_MAX_LEN + 2], where[PATH_MAX + 32];
	FILE *f = fopen(path, "re");
	int r = -1;
	unsigned n = 0;

	if (f == NULL) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0; /* vkey_open says what is wrong with the path */
		fail(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		snprintf(where, sizeof(where), "%s:%u", path, ++n);
		if (n > LINES_MAX) {
			fail(err, errlen, "%s: more than %u lines", path,
			     LINES_MAX);
			goto out;
		}
		if (strchr(line, '\n') == NULL && !feof(f)) {
			fail(err, errlen, "%s: line longer than %u bytes",
			     where, LINE_MAX_LEN);
			goto out;
		}
		if (file_line(cfg, line, where, err, errlen) != 0)
			goto out;
	}
	r = ferror(f) ? -1 : 0;
	if (r != 0)
		fail(err, errlen, "%s: read error", path);
out:
	explicit_bzero(line, sizeof(line));
	fclose(f);
	return r;
}

static int read_env(struct ck_config *cfg, char *err, size_t errlen)
{
	for (size_t i = 0; i < N_SETTINGS; i++) {
		const char *v = getenv(settings[i].env);

		if (v == NULL)
			continue;
		if (settings[i].set(cfg, v) != 0) {
			fail(err, errlen, "%s: bad value `%s`%s",
			     settings[i].env, v, hint(settings[i].set, v));
			return -1;
		}
	}
	return 0;
}

int ck_config_load(struct ck_config *cfg, const char *state_file, char *err,
		   size_t errlen)
{
	char path[PATH_MAX];
	int n;

	defaults(cfg);
	n = snprintf(path, sizeof(path), "%s%s", state_file, CONF_SUFFIX);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		fail(err, errlen, "%s: path too long", state_file);
		return -1;
	}
	if (read_file(cfg, path, err, errlen) != 0)
		return -1;
	return read_env(cfg, err, errlen);
}
