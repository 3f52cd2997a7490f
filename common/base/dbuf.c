/* Growable, bounded byte buffer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dbuf.h"
#include "base/err.h"

void dbuf_init(struct dbuf *b, size_t max)
{
	b->p = NULL;
	b->len = b->cap = 0;
	b->max = max;
}

void dbuf_deinit(struct dbuf *b)
{
	free(b->p);
	dbuf_init(b, b->max);
}

void dbuf_reset(struct dbuf *b) { b->len = 0; }

int dbuf_reserve(struct dbuf *b, size_t extra)
{
	/* +1 keeps room for dbuf_str()'s terminator without another allocation. */
	if (extra > b->max - b->len)
		return ERR_TOO_LARGE;
	size_t need = b->len + extra + 1;
	if (need <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap = cap > SIZE_MAX / 2 ? need : cap * 2;
	uint8_t *p = realloc(b->p, cap);
	if (!p)
		return ERR_NOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

int dbuf_add(struct dbuf *b, const void *p, size_t len)
{
	int rc = dbuf_reserve(b, len);
	if (rc)
		return rc;
	if (len)
		memcpy(b->p + b->len, p, len);
	b->len += len;
	return 0;
}

int dbuf_addstr(struct dbuf *b, const char *s) { return dbuf_add(b, s, strlen(s)); }

int dbuf_vprintf(struct dbuf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	va_copy(ap2, ap);
	int n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return ERR_INVAL;
	int rc = dbuf_reserve(b, (size_t)n);
	if (rc)
		return rc;
	vsnprintf((char *)b->p + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
	return 0;
}

int dbuf_printf(struct dbuf *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	int rc = dbuf_vprintf(b, fmt, ap);
	va_end(ap);
	return rc;
}

const char *dbuf_str(struct dbuf *b)
{
	if (dbuf_reserve(b, 0))
		return "";
	b->p[b->len] = '\0';
	return (const char *)b->p;
}
