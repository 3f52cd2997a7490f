/* Flusher thread for group commit (see log_flusher.h).  The thread touches only the job's file
 * descriptors; every log field is read and written on the loop thread, in begin and end. */
#include "cloud/log/log_flusher.h"

#include <string.h>
#include <time.h>

#include "base/err.h"
#include "port.h"

static void *flusher_main(void *arg)
{
	struct log_flusher *f = arg;
	port_thread_name("ferry-flush");
	pthread_mutex_lock(&f->lock);
	for (;;) {
		while (!f->stop && !(f->busy && !f->synced))
			pthread_cond_wait(&f->wake, &f->lock);
		if (f->stop)
			break;
		pthread_mutex_unlock(&f->lock);
		int rc = log_commit_sync(&f->job);
		pthread_mutex_lock(&f->lock);
		f->sync_rc = rc;
		f->synced = true;
		pthread_mutex_unlock(&f->lock);
		f->notify(f->ctx);
		pthread_mutex_lock(&f->lock);
	}
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

int log_flusher_start(struct log_flusher *f, void (*notify)(void *ctx), void *ctx)
{
	memset(f, 0, sizeof *f);
	f->notify = notify;
	f->ctx = ctx;
	if (pthread_mutex_init(&f->lock, NULL))
		return ERR_NOMEM;
	if (pthread_cond_init(&f->wake, NULL)) {
		pthread_mutex_destroy(&f->lock);
		return ERR_NOMEM;
	}
	if (pthread_create(&f->thread, NULL, flusher_main, f)) {
		pthread_cond_destroy(&f->wake);
		pthread_mutex_destroy(&f->lock);
		return ERR_IO;
	}
	return 0;
}

bool log_flusher_busy(struct log_flusher *f)
{
	pthread_mutex_lock(&f->lock);
	bool busy = f->busy;
	pthread_mutex_unlock(&f->lock);
	return busy;
}

int log_flusher_poll(struct log_flusher *f, struct log_commit *c, size_t *flushed)
{
	int rc = 0;
	size_t n = 0;
	pthread_mutex_lock(&f->lock);
	bool finished = f->busy && f->synced;
	pthread_mutex_unlock(&f->lock);
	if (finished) {
		/* The thread is idle until busy is set again: the job is the loop's now. */
		rc = log_commit_end(c, &f->job, &n);
		pthread_mutex_lock(&f->lock);
		f->busy = false;
		pthread_mutex_unlock(&f->lock);
	}
	if (!log_flusher_busy(f)) {
		int brc = log_commit_begin(c, &f->job);
		if (!brc && f->job.count) {
			pthread_mutex_lock(&f->lock);
			f->busy = true;
			f->synced = false;
			pthread_cond_signal(&f->wake);
			pthread_mutex_unlock(&f->lock);
		}
		if (brc && !rc)
			rc = brc;
	}
	if (flushed)
		*flushed = n;
	return rc;
}

/* Wait until the thread has finished the round in flight (if any); true when there is one to publish. */
static bool wait_round(struct log_flusher *f)
{
	pthread_mutex_lock(&f->lock);
	while (f->busy && !f->synced) {
		pthread_mutex_unlock(&f->lock);
		/* The round is short (a few fdatasyncs); wait for it rather than abandon held segments. */
		struct timespec ts = {0, 1000000};
		nanosleep(&ts, NULL);
		pthread_mutex_lock(&f->lock);
	}
	bool finished = f->busy;
	pthread_mutex_unlock(&f->lock);
	return finished;
}

int log_flusher_drain(struct log_flusher *f, struct log_commit *c, size_t *flushed)
{
	int rc = 0;
	size_t n = 0;
	if (wait_round(f)) {
		rc = log_commit_end(c, &f->job, &n);
		pthread_mutex_lock(&f->lock);
		f->busy = false;
		pthread_mutex_unlock(&f->lock);
	}
	if (flushed)
		*flushed = n;
	return rc;
}

int log_flusher_stop(struct log_flusher *f, struct log_commit *c)
{
	int rc = log_flusher_drain(f, c, NULL);
	pthread_mutex_lock(&f->lock);
	f->stop = true;
	pthread_cond_signal(&f->wake);
	pthread_mutex_unlock(&f->lock);
	pthread_join(f->thread, NULL);
	log_commit_job_deinit(&f->job);
	pthread_cond_destroy(&f->wake);
	pthread_mutex_destroy(&f->lock);
	return rc;
}
