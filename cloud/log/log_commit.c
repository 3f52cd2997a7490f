/* Group commit set and rounds (see log_commit.h). */
#include "cloud/log/log_commit.h"

#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "cloud/log/log_internal.h"
#include "port.h"

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

static int job_add(struct log_commit_job *job, struct log *log, struct log_segment *seg)
{
	if (job->count == job->cap) {
		size_t n = job->cap ? job->cap * 2 : 16;
		struct log_commit_item *it = realloc(job->items, n * sizeof *it);
		if (!it)
			return ERR_NOMEM;
		job->items = it;
		job->cap = n;
	}
	job->items[job->count++] = (struct log_commit_item){
		.log = log, .seg = seg, .fd = seg->fd, .size = seg->size,
		.end_offset = log->end_offset, .generation = log->generation,
	};
	seg->refs++;
	log->commit_inflight++;
	return 0;
}

static void job_drop(struct log_commit_job *job)
{
	for (size_t i = 0; i < job->count; i++) {
		struct log_commit_item *it = &job->items[i];
		it->log->commit_inflight--;
		segment_unref(it->log, it->seg);
	}
	job->count = 0;
}

static bool nothing_to_do(const struct log *log)
{
	return log->failed || log->flushed_offset >= log->end_offset;
}

int log_commit_begin(struct log_commit *c, struct log_commit_job *job)
{
	job->count = 0;
	for (size_t i = 0; i < c->count; i++) {
		struct log *log = c->dirty[i];
		if (nothing_to_do(log) || !log_flush_due(log))
			continue;
		/* Segments rolled since the last round were synced by the roll; normally this is one. */
		for (size_t s = log->seg_count; s-- > 0;) {
			struct log_segment *seg = log->segs[s];
			if (seg->synced_size >= seg->size)
				break;
			if (job_add(job, log, seg)) {
				job_drop(job);
				return ERR_NOMEM; /* the set is as it was */
			}
		}
	}
	/* Keep only the logs that still wait for their policy. */
	size_t kept = 0;
	for (size_t i = 0; i < c->count; i++) {
		struct log *log = c->dirty[i];
		if (!nothing_to_do(log) && !log_flush_due(log))
			c->dirty[kept++] = log;
		else
			log->commit_queued = false;
	}
	c->count = kept;
	return 0;
}

int log_commit_sync(struct log_commit_job *job) { return log_commit_sync_part(job, 0, 1); }

int log_commit_sync_part(struct log_commit_job *job, size_t part, size_t parts)
{
	int first = 0;
	for (size_t i = part; parts && i < job->count; i += parts) {
		struct log_commit_item *it = &job->items[i];
		it->rc = it->log->be->seg_sync(it->log, it->seg);
		if (it->rc && !first)
			first = it->rc;
	}
	return first;
}

int log_commit_end(struct log_commit *c, struct log_commit_job *job, size_t *flushed)
{
	int first = 0;
	size_t done = 0;
	for (size_t i = 0; i < job->count; i++) {
		struct log_commit_item *it = &job->items[i];
		if (it->rc && !it->log->failed) {
			it->log->failed = it->rc;
			log_error("log flush: %s; the log must be reopened", err_str(it->rc));
		}
		if (it->rc && !first)
			first = it->rc;
	}
	for (size_t i = 0; i < job->count; i++) {
		struct log_commit_item *it = &job->items[i];
		struct log *log = it->log;
		if (it->seg->synced_size < it->size && !it->seg->removed && log->generation == it->generation)
			it->seg->synced_size = it->size;
		/* The last item of a log (its oldest unsynced segment) publishes the offset once. */
		bool last_of_log = i + 1 == job->count || job->items[i + 1].log != log;
		if (!last_of_log || log->failed || log->generation != it->generation)
			continue;
		if (it->end_offset > log->flushed_offset) {
			log->stats.flush_count++;
			log->flushed_offset = it->end_offset;
			log->unflushed_bytes = 0;
			log->last_flush_ms = log_now_ms(log);
		}
		done++;
	}
	job_drop(job);
	c->flush_count += done;
	if (done)
		c->round_count++;
	if (flushed)
		*flushed = done;
	return first;
}

void log_commit_job_deinit(struct log_commit_job *job)
{
	job_drop(job);
	free(job->items);
	memset(job, 0, sizeof *job);
}

int log_commit_run(struct log_commit *c, size_t *flushed)
{
	struct log_commit_job job = {0};
	int rc = log_commit_begin(c, &job);
	if (!rc) {
		log_commit_sync(&job);
		rc = log_commit_end(c, &job, flushed);
	}
	log_commit_job_deinit(&job);
	return rc;
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
