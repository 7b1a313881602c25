/* Logging: the one piece of process-wide mutable configuration. One line
 * per command at info, decoded commands at debug, never secrets unless
 * log_secrets is set explicitly. */
#ifndef VKEY_LOG_H
#define VKEY_LOG_H

#include <stdbool.h>
#include <stdio.h>

enum log_level {
	LOG_ERROR = 0,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG,
};

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
void log_set_file(FILE *f);
void log_set_secrets(bool on);
bool log_secrets(void);
bool log_enabled(enum log_level level);

void vlog(enum log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define log_error(...) vlog(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) vlog(LOG_WARN, __VA_ARGS__)
#define log_info(...) vlog(LOG_INFO, __VA_ARGS__)
#define log_debug(...) vlog(LOG_DEBUG, __VA_ARGS__)

#endif
