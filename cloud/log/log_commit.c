/* Group commit set (see log_commit.h). */
#include "cloud/log/log_commit.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "cloud/log/log_internal.h"

int log_commit_init(struct log_commit *c, size_t logs_max)
{
	memset(c, 0, sizeof *c);
	if (!logs_max)
		return ERR_INVAL;
	c->logs_max = logs_max;
	return 0;
}

void log_commit_deinit(struct log_commit *c)
{
	for (size_t i = 0; i < c->count; i++)
		c->dirty[i]->commit_queued = false;
	free(c->dirty);
	memset(c, 0, sizeof *c);
}

int log_commit_add(struct log_commit *c, struct log *log)
{
	if (log->commit_queued)
		return 0;
	if (c->count == c->logs_max)
		return ERR_FULL;
	if (c->count == c->cap) {
		size_t n = c->cap ? c->cap * 2 : 16;
		if (n > c->logs_max)
			n = c->logs_max;
		struct log **d = realloc(c->dirty, n * sizeof *d);
		if (!d)
			return ERR_NOMEM;
		c->dirty = d;
		c->cap = n;
	}
	c->dirty[c->count++] = log;
	log->commit_queued = true;
	return 0;
}

int log_commit_run(struct log_commit *c, size_t *flushed)
{
	int first_err = 0;
	size_t kept = 0, done = 0;
	for (size_t i = 0; i < c->count; i++) {
		struct log *log = c->dirty[i];
		if (log->failed || log->flushed_offset >= log->end_offset) {
			log->commit_queued = false; /* nothing to do, or nothing that can be done */
			continue;
		}
		if (!log_flush_due(log)) {
			c->dirty[kept++] = log;
			continue;
		}
		int rc = log_flush(log);
		log->commit_queued = false;
		if (rc && !first_err)
			first_err = rc;
		done++;
	}
	c->count = kept;
	c->flush_count += done;
	if (done)
		c->round_count++;
	if (flushed)
		*flushed = done;
	return first_err;
}

void log_commit_forget(struct log_commit *c, struct log *log)
{
	for (size_t i = 0; i < c->count; i++) {
		if (c->dirty[i] == log) {
			c->dirty[i] = c->dirty[--c->count];
			break;
		}
	}
	log->commit_queued = false;
}
