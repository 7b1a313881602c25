/* Logging: process-wide level and sink, the one allowed mutable global. */
#include "core/log.h"

#include <pthread.h>
#include <stdarg.h>
#include <time.h>

static struct {
	enum log_level level;
	FILE *file;
	bool secrets;
	pthread_mutex_t lock;
} cfg = { LOG_WARN, NULL, false, PTHREAD_MUTEX_INITIALIZER };

void log_set_level(enum log_level level) { cfg.level = level; }
enum log_level log_get_level(void) { return cfg.level; }
void log_set_file(FILE *f) { cfg.file = f; }
void log_set_secrets(bool on) { cfg.secrets = on; }
bool log_secrets(void) { return cfg.secrets; }
bool log_enabled(enum log_level level) { return level <= cfg.level; }

void vlog(enum log_level level, const char *fmt, ...)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };
	FILE *f = cfg.file ? cfg.file : stderr;
	struct timespec ts;
	struct tm tm;
	va_list ap;

	if (!log_enabled(level) || fmt == NULL)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	pthread_mutex_lock(&cfg.lock);
	fprintf(f, "%02d:%02d:%02d.%03ld vkey %s: ", tm.tm_hour, tm.tm_min,
		tm.tm_sec, ts.tv_nsec / 1000000L, names[level]);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	fflush(f);
	pthread_mutex_unlock(&cfg.lock);
}
