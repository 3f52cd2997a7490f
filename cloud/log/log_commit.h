/* Group commit: one flush round covers every append made since the last round, across requests and
 * partitions.  The Produce path appends (log_append), notes the log here, parks its response until
 * log_flushed_offset() passes its last offset, and the broker runs log_commit_run() once per event-loop
 * tick (or from a flusher).  A round costs one fdatasync per dirty partition log, however many appends and
 * requests it covers.
 *
 * The set never owns the logs: log_commit_forget() before log_close(). */
#ifndef FERRY_CLOUD_LOG_COMMIT_H
#define FERRY_CLOUD_LOG_COMMIT_H

#include <stddef.h>
#include <stdint.h>

struct log;

struct log_commit {
	struct log **dirty; /* owned array, logs not owned */
	size_t count, cap;
	size_t logs_max;
	uint64_t round_count; /* rounds that flushed at least one log */
	uint64_t flush_count; /* log flushes (= fdatasync calls on the file backend, one segment each) */
};

/* logs_max bounds the set (the partitions this node hosts). */
int log_commit_init(struct log_commit *c, size_t logs_max);
void log_commit_deinit(struct log_commit *c);
/* Note that log has unflushed appends; idempotent.  ERR_FULL past logs_max, ERR_NOMEM. */
int log_commit_add(struct log_commit *c, struct log *log);
/* Flush every noted log whose flush policy says so now (log_flush_due); others stay noted.  Returns the
 * first error (that log is then failed, see log_flush) after trying all of them; *flushed may be NULL. */
int log_commit_run(struct log_commit *c, size_t *flushed);
/* Drop log from the set (before closing it). */
void log_commit_forget(struct log_commit *c, struct log *log);

#endif
