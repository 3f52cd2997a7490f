/* A growable byte buffer with a hard maximum (after curl's dynbuf): appends past max fail with ERR_TOO_LARGE
 * and leave the contents as they were.  Owns its memory: dbuf_init() then dbuf_deinit(). */
#ifndef FERRY_BASE_DBUF_H
#define FERRY_BASE_DBUF_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

struct dbuf {
	uint8_t *p;
	size_t len;
	size_t cap;
	size_t max;
};

void dbuf_init(struct dbuf *b, size_t max);
void dbuf_deinit(struct dbuf *b);
void dbuf_reset(struct dbuf *b); /* len = 0, memory kept */
int dbuf_reserve(struct dbuf *b, size_t extra); /* make room for extra more bytes: 0, ERR_TOO_LARGE or ERR_NOMEM */
int dbuf_add(struct dbuf *b, const void *p, size_t len);
int dbuf_addstr(struct dbuf *b, const char *s);
int dbuf_printf(struct dbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int dbuf_vprintf(struct dbuf *b, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
/* NUL-terminated view (the NUL is not counted in len); "" when empty or on failure. */
const char *dbuf_str(struct dbuf *b);

#endif
