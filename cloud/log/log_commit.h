/* Group commit: one flush round covers every append made since the last round, across requests and
 * partitions.  The Produce path appends (log_append), notes the log here, parks its response until
 * log_flushed_offset() passes its last offset, and the broker runs a round once per event-loop tick.  A
 * round costs one fdatasync per dirty partition log, however many appends and requests it covers.
 *
 * So that the event loop never waits on the disk, a round splits in three: log_commit_begin() (loop thread)
 * takes the dirty segments' file descriptors and the offsets they will cover, log_commit_sync() (any thread,
 * touches no log state) runs the fdatasyncs, log_commit_end() (loop thread) publishes the flushed offsets.
 * Appends, reads, retention and truncation may go on meanwhile: the job holds the segments it syncs, and a
 * truncation in between keeps the round from claiming offsets it did not cover.  log_commit_run() does all
 * three in place.
 *
 * The set never owns the logs: log_commit_forget() before log_close(), and no close while a job that
 * covers the log is between begin and end. */
#ifndef FERRY_CLOUD_LOG_COMMIT_H
#define FERRY_CLOUD_LOG_COMMIT_H

#include <stddef.h>
#include <stdint.h>

struct log;

struct log_segment;

struct log_commit_item {
	struct log *log;
	struct log_segment *seg; /* held (a reference) until log_commit_end */
	int fd;
	int64_t size;            /* segment bytes the sync covers */
	int64_t end_offset;      /* log end when the round began */
	uint64_t generation;     /* log truncation count when the round began */
	int rc;
};

/* One round in flight; caller storage, reusable after log_commit_end. */
struct log_commit_job {
	struct log_commit_item *items; /* owned */
	size_t count, cap;
};

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
/* Take the round: every noted log whose policy says flush now (log_flush_due) moves into job; others stay
 * noted.  0 or ERR_NOMEM (then nothing was taken). */
int log_commit_begin(struct log_commit *c, struct log_commit_job *job);
/* The fdatasyncs; safe on a worker thread while the loop goes on.  Returns the first error. */
int log_commit_sync(struct log_commit_job *job);
/* Only items part, part + parts, part + 2 * parts, ...: so that `parts` threads overlap the syncs of
 * different partitions.  Every part must have returned before log_commit_end. */
int log_commit_sync_part(struct log_commit_job *job, size_t part, size_t parts);
/* Publish: flushed offsets advance; a log whose sync failed enters its failed state (see log_flush).
 * Returns the first error; *flushed (may be NULL) counts logs covered.  Empties job. */
int log_commit_end(struct log_commit *c, struct log_commit_job *job, size_t *flushed);
void log_commit_job_deinit(struct log_commit_job *job);

/* Drop log from the set (before closing it). */
void log_commit_forget(struct log_commit *c, struct log *log);

#endif
