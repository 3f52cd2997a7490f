/* Leader-epoch cache (see epoch_cache.h). */
#include "cloud/log/epoch_cache.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"

void epoch_cache_init(struct epoch_cache *c) { memset(c, 0, sizeof *c); }

void epoch_cache_deinit(struct epoch_cache *c)
{
	free(c->entries);
	memset(c, 0, sizeof *c);
}

void epoch_cache_clear(struct epoch_cache *c) { c->count = 0; }

int32_t epoch_cache_latest(const struct epoch_cache *c)
{
	return c->count ? c->entries[c->count - 1].epoch : EPOCH_UNDEFINED;
}

static int push(struct epoch_cache *c, int32_t epoch, int64_t offset)
{
	if (c->count == EPOCH_CACHE_MAX) {
		memmove(&c->entries[0], &c->entries[1], (c->count - 1) * sizeof c->entries[0]);
		c->count--;
	}
	if (c->count == c->cap) {
		size_t n = c->cap ? c->cap * 2 : 8;
		struct epoch_entry *e = realloc(c->entries, n * sizeof *e);
		if (!e)
			return ERR_NOMEM;
		c->entries = e;
		c->cap = n;
	}
	c->entries[c->count++] = (struct epoch_entry){epoch, offset};
	return 0;
}

int epoch_cache_assign(struct epoch_cache *c, int32_t epoch, int64_t offset)
{
	if (epoch < 0 || offset < 0)
		return 0;
	if (c->count) {
		const struct epoch_entry *last = &c->entries[c->count - 1];
		if (epoch <= last->epoch)
			return 0;
		if (offset < last->start_offset)
			return 0; /* an epoch cannot start before the previous one: keep the cache monotonic */
	}
	int rc = push(c, epoch, offset);
	return rc ? rc : 1;
}

bool epoch_cache_truncate_end(struct epoch_cache *c, int64_t end_offset)
{
	size_t n = c->count;
	while (c->count && c->entries[c->count - 1].start_offset >= end_offset)
		c->count--;
	return n != c->count;
}

bool epoch_cache_truncate_start(struct epoch_cache *c, int64_t start_offset)
{
	size_t drop = 0;
	/* entries[i] ends where entries[i+1] starts: drop those that end at or before start_offset */
	while (drop + 1 < c->count && c->entries[drop + 1].start_offset <= start_offset)
		drop++;
	bool changed = drop > 0;
	if (drop) {
		memmove(&c->entries[0], &c->entries[drop], (c->count - drop) * sizeof c->entries[0]);
		c->count -= drop;
	}
	if (c->count && c->entries[0].start_offset < start_offset) {
		c->entries[0].start_offset = start_offset;
		changed = true;
	}
	return changed;
}

void epoch_cache_end_offset(const struct epoch_cache *c, int32_t requested, int64_t log_end, int32_t *epoch_out,
			    int64_t *end_out)
{
	*epoch_out = EPOCH_UNDEFINED;
	*end_out = EPOCH_OFFSET_UNDEFINED;
	if (requested < 0 || !c->count)
		return;
	if (requested == epoch_cache_latest(c)) {
		*epoch_out = requested;
		*end_out = log_end;
		return;
	}
	size_t hi = 0; /* first entry with epoch > requested */
	while (hi < c->count && c->entries[hi].epoch <= requested)
		hi++;
	if (hi == c->count)
		return; /* newer than anything we know */
	*end_out = c->entries[hi].start_offset;
	*epoch_out = hi ? c->entries[hi - 1].epoch : requested;
}

size_t epoch_cache_encode_size(const struct epoch_cache *c)
{
	return 32 + c->count * 34; /* "0\n", a count line, and "<int32> <int64>\n" per entry */
}

int epoch_cache_encode(const struct epoch_cache *c, char *buf, size_t cap, size_t *len_out)
{
	size_t len = 0;
	int n = snprintf(buf, cap, "0\n%zu\n", c->count);
	if (n < 0 || (size_t)n >= cap)
		return ERR_TOO_LARGE;
	len = (size_t)n;
	for (size_t i = 0; i < c->count; i++) {
		n = snprintf(buf + len, cap - len, "%d %lld\n", (int)c->entries[i].epoch,
			     (long long)c->entries[i].start_offset);
		if (n < 0 || (size_t)n >= cap - len)
			return ERR_TOO_LARGE;
		len += (size_t)n;
	}
	*len_out = len;
	return 0;
}

/* A decimal number of at most max, then the expected separator. */
static bool read_num(const char **p, const char *end, int64_t max, char sep, int64_t *out)
{
	int64_t v = 0;
	const char *s = *p;
	if (s == end || *s < '0' || *s > '9')
		return false;
	while (s < end && *s >= '0' && *s <= '9') {
		int64_t d = *s - '0';
		if (v > max / 10 || v * 10 > max - d)
			return false;
		v = v * 10 + d;
		s++;
	}
	if (s == end || *s != sep)
		return false;
	*p = s + 1;
	*out = v;
	return true;
}

int epoch_cache_decode(struct epoch_cache *c, const char *buf, size_t len)
{
	const char *p = buf, *end = buf + len;
	int64_t version, count;
	epoch_cache_clear(c);
	if (!read_num(&p, end, 0, '\n', &version) || !read_num(&p, end, EPOCH_CACHE_MAX, '\n', &count))
		return ERR_MALFORMED;
	for (int64_t i = 0; i < count; i++) {
		int64_t epoch, offset;
		if (!read_num(&p, end, INT32_MAX, ' ', &epoch) || !read_num(&p, end, INT64_MAX, '\n', &offset))
			goto bad;
		if (epoch_cache_assign(c, (int32_t)epoch, offset) != 1)
			goto bad; /* out of order, duplicate, or no memory */
	}
	if (p != end)
		goto bad;
	return 0;
bad:
	epoch_cache_clear(c);
	return ERR_MALFORMED;
}
