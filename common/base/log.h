/* Leveled logging.  One process-wide sink and level (the only process-wide state in common/): a daemon has
 * one log, and passing a logger through every codec would buy nothing.  Thread-safe: a line is formatted on
 * the caller's stack and written with one call. */
#ifndef FERRY_BASE_LOG_H
#define FERRY_BASE_LOG_H

#include <stdarg.h>

enum log_level { LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG, LOG_TRACE };

typedef void log_sink_fn(void *ctx, enum log_level level, const char *line);

void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Replace the sink (default: stderr with a timestamp).  NULL restores the default. */
void log_set_sink(log_sink_fn *sink, void *ctx);
/* "error", "warn", "info", "debug", "trace" -> level; 0 or ERR_INVAL. */
int log_level_parse(const char *name, enum log_level *out);
const char *log_level_name(enum log_level level);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void log_vmsg(enum log_level level, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) do { if (log_get_level() >= LOG_DEBUG) log_msg(LOG_DEBUG, __VA_ARGS__); } while (0)
#define log_trace(...) do { if (log_get_level() >= LOG_TRACE) log_msg(LOG_TRACE, __VA_ARGS__); } while (0)

#endif
