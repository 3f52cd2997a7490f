/* A flusher thread for group commit, so that the event loop never waits on fdatasync (DESIGN: "the event loop
 * never blocks on fsync").  The loop calls log_flusher_poll() after appending (and whenever notified): it
 * publishes a finished round (log_commit_end) and hands the next one (log_commit_begin) to the thread, which
 * runs the syncs (log_commit_sync) and then calls notify(ctx) from its own thread.  notify must only wake
 * the loop (a libevent event_active() with evthread enabled, a write to a pipe); the loop then polls again.
 *
 * One round in flight at a time: appends made meanwhile wait for the next one, so a round grows with the
 * load (that is the group commit).  The flusher does not own the commit set or the logs; a log covered by the
 * round in flight must not be closed until a poll has published it (log_close asserts this). */
#ifndef FERRY_CLOUD_LOG_FLUSHER_H
#define FERRY_CLOUD_LOG_FLUSHER_H

#include <pthread.h>
#include <stdbool.h>

#include "cloud/log/log_commit.h"

struct log_flusher {
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	struct log_commit_job job; /* owned; handed to the thread while busy */
	bool busy;    /* a round is with the thread (or finished and not yet published) */
	bool synced;  /* the thread finished the round */
	bool stop;
	int sync_rc;
	void (*notify)(void *ctx);
	void *ctx;
};

/* Start the thread.  0, ERR_NOMEM or ERR_IO (thread creation). */
int log_flusher_start(struct log_flusher *f, void (*notify)(void *ctx), void *ctx);
/* Loop thread: publish the round that finished (if any) and start the next one if a log is due.  Returns
 * 0 or the first sync error of the published round (those logs are failed); *flushed (may be NULL) counts
 * the logs it published. */
int log_flusher_poll(struct log_flusher *f, struct log_commit *c, size_t *flushed);
/* True while a round is with the thread. */
bool log_flusher_busy(struct log_flusher *f);
/* Loop thread, rare paths (closing or deleting a partition, shutdown): wait for the round in flight and
 * publish it, so that no log is held by the thread.  Starts no new round.  Returns that round's error. */
int log_flusher_drain(struct log_flusher *f, struct log_commit *c, size_t *flushed);
/* Wait for the round in flight, publish it, and stop the thread. */
int log_flusher_stop(struct log_flusher *f, struct log_commit *c);

#endif
