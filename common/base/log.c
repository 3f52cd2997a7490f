/* Leveled logging to a replaceable sink. */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"

#define LOG_LINE_MAX 1024

static const char *const level_names[] = {"error", "warn", "info", "debug", "trace"};
static _Atomic int current_level = LOG_INFO;
static log_sink_fn *_Atomic current_sink;
static void *_Atomic current_ctx;

void log_set_level(enum log_level level) { atomic_store(&current_level, level); }
enum log_level log_get_level(void) { return (enum log_level)atomic_load(&current_level); }

void log_set_sink(log_sink_fn *sink, void *ctx)
{
	atomic_store(&current_ctx, ctx);
	atomic_store(&current_sink, sink);
}

const char *log_level_name(enum log_level level)
{
	return (unsigned)level <= LOG_TRACE ? level_names[level] : "?";
}

int log_level_parse(const char *name, enum log_level *out)
{
	for (int i = 0; i <= LOG_TRACE; i++)
		if (strcmp(name, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	return ERR_INVAL;
}

static void stderr_sink(void *ctx, enum log_level level, const char *line)
{
	(void)ctx;
	char buf[LOG_LINE_MAX + 64];
	struct timespec ts;
	struct tm tm;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ %-5s %s\n", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000,
			 level_names[level], line);
	if (n > (int)sizeof buf)
		n = sizeof buf;
	ssize_t w = write(STDERR_FILENO, buf, (size_t)n); /* one write: lines from threads never interleave */
	(void)w;
}

void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
	if ((int)level > atomic_load(&current_level))
		return;
	char line[LOG_LINE_MAX];
	vsnprintf(line, sizeof line, fmt, ap);
	log_sink_fn *sink = atomic_load(&current_sink);
	if (sink)
		sink(atomic_load(&current_ctx), level, line);
	else
		stderr_sink(NULL, level, line);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}
