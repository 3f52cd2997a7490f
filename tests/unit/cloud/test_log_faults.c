/* Failing storage and group commit, through port_sys: ENOSPC and EIO on writes (whole and partial), short
 * writes, EINTR, a failed fsync (the log fails and must be reopened), a failed roll, and fdatasync counts for
 * group commit and the flush policies. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <pthread.h>

#include "base/err.h"
#include "base/log.h"
#include "cloud/log/log_commit.h"
#include "cloud/log/log_flusher.h"
#include "log_fixture.h"

static struct port_syscalls real;
static int fail_write_after = -1; /* pwrite calls that succeed before failures start; -1 never */
static int fail_errno = ENOSPC;
static size_t short_write_max;   /* 0: whole writes */
static bool partial_then_fail;   /* the first failing call writes half and succeeds, the next fails */
static int datasync_count, fsync_count, rename_fail, datasync_fail, datasync_eintr;

static ssize_t fake_pwrite(int fd, const void *b, size_t n, off_t o)
{
	if (fail_write_after == 0) {
		if (partial_then_fail && n > 1) {
			partial_then_fail = false;
			return real.pwrite(fd, b, n / 2, o);
		}
		errno = fail_errno;
		return -1;
	}
	if (fail_write_after > 0)
		fail_write_after--;
	if (short_write_max && n > short_write_max)
		n = short_write_max;
	return real.pwrite(fd, b, n, o);
}

static bool write_fail;

static ssize_t fake_write(int fd, const void *b, size_t n)
{
	if (write_fail) {
		errno = ENOSPC;
		return -1;
	}
	if (short_write_max && n > short_write_max)
		n = short_write_max;
	return real.write(fd, b, n);
}

static int fake_fdatasync(int fd)
{
	if (datasync_eintr > 0) {
		datasync_eintr--;
		errno = EINTR;
		return -1;
	}
	if (datasync_fail) {
		errno = EIO;
		return -1;
	}
	datasync_count++;
	return real.fdatasync(fd);
}

static int fake_fsync(int fd)
{
	fsync_count++;
	return real.fsync(fd);
}

static int fake_rename(const char *a, const char *b)
{
	if (rename_fail) {
		errno = EIO;
		return -1;
	}
	return real.rename(a, b);
}

static int setup(void **state)
{
	static const enum fx_backend file = FX_FILE;
	*state = (void *)&file;
	fx_setup(state);
	log_set_level(LOG_ERROR + 0);
	log_set_sink(NULL, NULL);
	port_syscalls_reset();
	real = port_sys;
	port_sys.pwrite = fake_pwrite;
	port_sys.write = fake_write;
	port_sys.fdatasync = fake_fdatasync;
	port_sys.fsync = fake_fsync;
	port_sys.rename = fake_rename;
	fail_write_after = -1;
	fail_errno = ENOSPC;
	short_write_max = 0;
	partial_then_fail = false;
	datasync_count = fsync_count = rename_fail = datasync_fail = datasync_eintr = 0;
	write_fail = false;
	return 0;
}

static void reopen(struct fx *f)
{
	if (f->log)
		log_close(f->log);
	f->log = NULL;
	assert_int_equal(fx_open(f), 0);
}

static void test_enospc_append(void **state)
{
	struct fx *f = *state;
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(fx_append_n(f, 10, 1), 10);
	uint64_t size = log_size_bytes(f->log);
	fail_write_after = 0;
	struct log_append_info info;
	struct test_batch b = test_batch_default();
	assert_int_equal(fx_append(f, &b, &info), ERR_NOSPC);
	assert_false(info.appended);
	assert_int_equal(log_end_offset(f->log), 10);
	assert_int_equal(log_size_bytes(f->log), size);
	assert_int_equal(test_log_verify(f->log), 10);
	assert_int_equal(log_failed(f->log), 0);
	/* space is back: the same offset is assigned, nothing in between */
	fail_write_after = -1;
	assert_int_equal(fx_append(f, &b, &info), 0);
	assert_int_equal(info.base_offset, 10);
	assert_int_equal(test_log_verify(f->log), 11);
	reopen(f);
	assert_int_equal(log_end_offset(f->log), 11);
	assert_int_equal(test_log_verify(f->log), 11);
}

static void test_partial_write_then_eio(void **state)
{
	struct fx *f = *state;
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(fx_append_n(f, 5, 2), 10);
	fail_write_after = 0;
	fail_errno = EIO;
	partial_then_fail = true; /* half the batch lands on disk, then EIO */
	struct log_append_info info;
	struct test_batch b = test_batch_default();
	assert_int_equal(fx_append(f, &b, &info), ERR_IO);
	fail_write_after = -1;
	assert_int_equal(log_end_offset(f->log), 10);
	assert_int_equal(test_log_verify(f->log), 5);
	char path[8192];
	snprintf(path, sizeof path, "%s", test_path(f->dir, "00000000000000000000.log"));
	assert_int_equal(test_file_size(path), (int64_t)log_size_bytes(f->log)); /* the half batch was cut */
	assert_int_equal(fx_append_n(f, 2, 2), 14);
	reopen(f);
	assert_int_equal(log_end_offset(f->log), 14);
	assert_int_equal(test_log_verify(f->log), 7);
}

static void test_short_writes_and_eintr(void **state)
{
	struct fx *f = *state;
	short_write_max = 7;
	datasync_eintr = 3;
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(fx_append_n(f, 100, 2), 200);
	assert_int_equal(log_flush(f->log), 0);
	assert_int_equal(log_flushed_offset(f->log), 200);
	assert_int_equal(test_log_verify(f->log), 100);
	reopen(f); /* index files, snapshots and the epoch checkpoint were written 7 bytes at a time too */
	short_write_max = 0;
	struct log_stats st;
	log_get_stats(f->log, &st);
	assert_int_equal(st.indexes_rebuilt, 0);
	assert_int_equal(test_log_verify(f->log), 100);
}

static void test_fsync_failure_fails_log(void **state)
{
	struct fx *f = *state;
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(fx_append_n(f, 10, 1), 10);
	datasync_fail = 1;
	assert_int_equal(log_flush(f->log), ERR_IO);
	assert_int_equal(log_failed(f->log), ERR_IO);
	assert_int_equal(log_flushed_offset(f->log), 0);
	struct log_append_info info;
	struct test_batch b = test_batch_default();
	assert_int_equal(fx_append(f, &b, &info), ERR_STATE);
	assert_int_equal(log_flush(f->log), ERR_STATE);
	assert_int_equal(test_log_verify(f->log), 10); /* reads still work */
	assert_int_equal(log_close(f->log), ERR_IO); /* no clean-shutdown marker */
	f->log = NULL;
	assert_false(test_file_exists(test_path(f->dir, ".clean-shutdown")));
	datasync_fail = 0;
	assert_int_equal(fx_open(f), 0); /* recovery validates what is there */
	assert_int_equal(log_end_offset(f->log), 10);
	assert_int_equal(test_log_verify(f->log), 10);
}

/* The disk fills while closing: indexes, snapshot and marker cannot be written.  The close reports it, leaves
 * no clean-shutdown marker, and the next open recovers everything from the segments. */
static void test_enospc_at_close(void **state)
{
	struct fx *f = *state;
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(fx_append_n(f, 120, 2), 240);
	write_fail = true;
	assert_int_equal(log_close(f->log), ERR_NOSPC);
	f->log = NULL;
	write_fail = false;
	assert_false(test_file_exists(test_path(f->dir, ".clean-shutdown")));
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(log_end_offset(f->log), 240);
	assert_int_equal(test_log_verify(f->log), 120);
}

static void test_roll_failure(void **state)
{
	struct fx *f = *state;
	assert_int_equal(fx_open(f), 0);
	int64_t end = 0;
	rename_fail = 1; /* index files cannot be installed: the roll fails */
	struct log_append_info info;
	struct test_batch b = test_batch_default();
	int rc = 0;
	while (rc == 0 && end < 1000) {
		rc = fx_append(f, &b, &info);
		end = log_end_offset(f->log);
	}
	assert_int_equal(rc, ERR_IO);
	assert_int_equal(log_segment_count(f->log), 1);
	assert_int_equal(test_log_verify(f->log), end);
	rename_fail = 0;
	assert_int_equal(fx_append(f, &b, &info), 0);
	assert_int_equal(info.base_offset, end);
	assert_int_equal(log_segment_count(f->log), 2);
	reopen(f);
	assert_int_equal(log_end_offset(f->log), end + 1);
	assert_int_equal(test_log_verify(f->log), end + 1);
}

static void test_group_commit_counts(void **state)
{
	struct fx *f = *state;
	struct log *logs[3];
	char *dirs[3];
	struct log_commit c;
	assert_int_equal(log_commit_init(&c, 3), 0);
	for (int i = 0; i < 3; i++) {
		char name[16];
		snprintf(name, sizeof name, "p%d", i);
		dirs[i] = strdup(test_path(f->dir, name));
		assert_int_equal(log_file_open(dirs[i], &f->cfg, &logs[i]), 0);
	}
	datasync_count = 0;
	struct log_append_info info;
	struct test_batch b = test_batch_default();
	for (int i = 0; i < 90; i++) {
		size_t len = test_batch_make(f->buf, sizeof f->buf, &b);
		struct log *log = logs[i % 3];
		assert_int_equal(log_append(log, f->buf, len, 0, LOG_APPEND_LEADER, &info), 0);
		assert_int_equal(log_commit_add(&c, log), 0);
		assert_true(log_flushed_offset(log) <= info.last_offset); /* not durable yet */
	}
	assert_int_equal(datasync_count, 0);
	size_t flushed;
	assert_int_equal(log_commit_run(&c, &flushed), 0);
	assert_int_equal(flushed, 3);
	assert_int_equal(datasync_count, 3); /* 90 appends, 3 partitions: 3 fdatasyncs */
	for (int i = 0; i < 3; i++)
		assert_int_equal(log_flushed_offset(logs[i]), 30);
	assert_int_equal(log_commit_run(&c, &flushed), 0);
	assert_int_equal(flushed, 0);
	assert_int_equal(datasync_count, 3);
	assert_int_equal(c.round_count, 1);
	/* a log that is full enough to roll: the roll syncs the old segment itself, the round the new one */
	for (int i = 0; i < 3; i++) {
		log_commit_forget(&c, logs[i]);
		assert_int_equal(log_close(logs[i]), 0);
		free(dirs[i]);
	}
	log_commit_deinit(&c);
}

static void test_flush_policies(void **state)
{
	struct fx *f = *state;
	struct log_commit c;
	assert_int_equal(log_commit_init(&c, 4), 0);
	f->cfg.flush_policy = LOG_FLUSH_INTERVAL;
	f->cfg.flush_interval_ms = 100;
	f->cfg.flush_bytes = 1000;
	assert_int_equal(fx_open(f), 0);
	assert_false(log_acks_wait_flush(f->log));
	datasync_count = 0;
	assert_int_equal(fx_append_n(f, 1, 1), 1);
	assert_int_equal(log_commit_add(&c, f->log), 0);
	assert_false(log_flush_due(f->log));
	assert_int_equal(log_commit_run(&c, NULL), 0);
	assert_int_equal(datasync_count, 0);
	assert_int_equal(c.count, 1); /* still noted */
	test_now_ms += 100;
	assert_true(log_flush_due(f->log));
	assert_int_equal(log_commit_run(&c, NULL), 0);
	assert_int_equal(datasync_count, 1);
	assert_int_equal(c.count, 0);
	assert_int_equal(fx_append_n(f, 20, 1), 21); /* > flush_bytes */
	assert_true(log_flush_due(f->log));
	log_commit_forget(&c, f->log);
	log_close(f->log);
	f->log = NULL;

	f->cfg.flush_policy = LOG_FLUSH_NONE;
	assert_int_equal(fx_open(f), 0);
	datasync_count = 0;
	assert_int_equal(fx_append_n(f, 20, 1), 41);
	test_now_ms += 100000;
	assert_false(log_flush_due(f->log));
	assert_int_equal(log_commit_add(&c, f->log), 0);
	assert_int_equal(log_commit_run(&c, NULL), 0);
	assert_int_equal(datasync_count, 0);
	log_commit_forget(&c, f->log);

	f->cfg.flush_policy = LOG_FLUSH_SYNC;
	log_close(f->log);
	f->log = NULL;
	assert_int_equal(fx_open(f), 0);
	assert_true(log_acks_wait_flush(f->log));
	assert_int_equal(fx_append_n(f, 1, 1), 42);
	assert_true(log_flush_due(f->log));
	log_commit_deinit(&c);
}

static void test_commit_bounds(void **state)
{
	struct fx *f = *state;
	struct log_commit c;
	struct log *other;
	assert_int_equal(log_commit_init(&c, 1), 0);
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(log_mem_open(&f->cfg, &other), 0);
	assert_int_equal(log_commit_add(&c, f->log), 0);
	assert_int_equal(log_commit_add(&c, f->log), 0); /* idempotent */
	assert_int_equal(log_commit_add(&c, other), ERR_FULL);
	log_commit_deinit(&c);
	log_close(other);
}

static void *sync_thread(void *job)
{
	log_commit_sync(job);
	return NULL;
}

/* The three-phase round with the fdatasyncs on another thread while the loop appends, truncates and applies
 * retention: a round publishes exactly what it covered. */
static void test_commit_off_thread(void **state)
{
	struct fx *f = *state;
	struct log_commit c;
	struct log_commit_job job = {0};
	pthread_t th;
	assert_int_equal(log_commit_init(&c, 4), 0);
	f->cfg.retention_bytes = 0; /* applied only when log_retention() is called, below */
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(fx_append_n(f, 10, 1), 10);
	assert_int_equal(log_commit_add(&c, f->log), 0);
	assert_int_equal(log_commit_begin(&c, &job), 0);
	assert_int_equal(job.count, 1);
	assert_int_equal(c.count, 0);
	datasync_count = 0;
	assert_int_equal(pthread_create(&th, NULL, sync_thread, &job), 0);
	assert_int_equal(fx_append_n(f, 5, 1), 15); /* the loop goes on */
	assert_int_equal(log_commit_add(&c, f->log), 0);
	pthread_join(th, NULL);
	size_t flushed;
	assert_int_equal(log_commit_end(&c, &job, &flushed), 0);
	assert_int_equal(flushed, 1);
	assert_int_equal(datasync_count, 1);
	assert_int_equal(log_flushed_offset(f->log), 10); /* not the appends made during the sync */
	assert_int_equal(log_commit_run(&c, &flushed), 0);
	assert_int_equal(log_flushed_offset(f->log), 15);

	/* a truncation between begin and end: the round must not claim the re-appended offsets */
	assert_int_equal(fx_append_n(f, 5, 1), 20);
	assert_int_equal(log_commit_add(&c, f->log), 0);
	assert_int_equal(log_commit_begin(&c, &job), 0);
	assert_int_equal(log_truncate(f->log, 12), 0);
	assert_int_equal(log_flushed_offset(f->log), 12);
	assert_int_equal(fx_append_n(f, 6, 1), 18);
	assert_int_equal(log_commit_add(&c, f->log), 0);
	assert_int_equal(log_commit_sync(&job), 0);
	assert_int_equal(log_commit_end(&c, &job, &flushed), 0);
	assert_int_equal(log_flushed_offset(f->log), 12);
	assert_int_equal(log_commit_run(&c, &flushed), 0);
	assert_int_equal(log_flushed_offset(f->log), 18);

	/* retention removes the segment being synced: the job's reference keeps its descriptor open */
	while (log_segment_count(f->log) < 3)
		assert_true(fx_append_n(f, 1, 1) > 0);
	assert_int_equal(log_commit_add(&c, f->log), 0);
	assert_int_equal(log_commit_begin(&c, &job), 0);
	assert_int_equal(job.count, 1);
	size_t deleted;
	assert_int_equal(log_retention(f->log, &deleted), 0);
	assert_int_equal(deleted, 2);
	assert_int_equal(log_commit_sync(&job), 0);
	assert_int_equal(log_commit_end(&c, &job, &flushed), 0);
	assert_int_equal(log_flushed_offset(f->log), log_end_offset(f->log));

	/* two workers share a round over three partitions */
	struct log *more[2];
	for (int i = 0; i < 2; i++) {
		char name[16];
		snprintf(name, sizeof name, "q%d", i);
		assert_int_equal(log_file_open(test_path(f->dir, name), &f->cfg, &more[i]), 0);
		struct test_batch tb = test_batch_default();
		struct log_append_info ai;
		size_t blen = test_batch_make(f->buf, sizeof f->buf, &tb);
		assert_int_equal(log_append(more[i], f->buf, blen, 0, LOG_APPEND_LEADER, &ai), 0);
		assert_int_equal(log_commit_add(&c, more[i]), 0);
	}
	assert_true(fx_append_n(f, 1, 1) > 0);
	assert_int_equal(log_commit_add(&c, f->log), 0);
	assert_int_equal(log_commit_begin(&c, &job), 0);
	assert_int_equal(job.count, 3);
	datasync_count = 0;
	assert_int_equal(log_commit_sync_part(&job, 0, 2), 0);
	assert_int_equal(datasync_count, 2);
	assert_int_equal(log_commit_sync_part(&job, 1, 2), 0);
	assert_int_equal(datasync_count, 3);
	assert_int_equal(log_commit_end(&c, &job, &flushed), 0);
	assert_int_equal(flushed, 3);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(log_flushed_offset(more[i]), 1);
		assert_int_equal(log_close(more[i]), 0);
	}

	/* a failed sync on the worker fails the log at end */
	int64_t end = log_end_offset(f->log);
	assert_int_equal(fx_append_n(f, 1, 1), end + 1);
	assert_int_equal(log_commit_add(&c, f->log), 0);
	assert_int_equal(log_commit_begin(&c, &job), 0);
	datasync_fail = 1;
	assert_int_equal(log_commit_sync(&job), ERR_IO);
	assert_int_equal(log_failed(f->log), 0); /* the worker touched no log state */
	assert_int_equal(log_commit_end(&c, &job, &flushed), ERR_IO);
	assert_int_equal(log_failed(f->log), ERR_IO);
	datasync_fail = 0;
	log_commit_job_deinit(&job);
	log_commit_deinit(&c);
}

static void notify_pipe(void *ctx)
{
	int fd = *(int *)ctx;
	char x = 1;
	if (write(fd, &x, 1) != 1)
		abort();
}

static void wait_notified(int fd)
{
	char x;
	assert_int_equal(read(fd, &x, 1), 1);
}

/* The flusher thread as the event loop would use it: poll after appends and when notified. */
static void test_flusher_thread(void **state)
{
	struct fx *f = *state;
	struct log_commit c;
	struct log_flusher fl;
	int fds[2];
	assert_int_equal(pipe(fds), 0);
	assert_int_equal(log_commit_init(&c, 4), 0);
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(log_flusher_start(&fl, notify_pipe, &fds[1]), 0);
	size_t flushed;
	assert_int_equal(log_flusher_poll(&fl, &c, &flushed), 0); /* nothing due: no round */
	assert_false(log_flusher_busy(&fl));

	assert_int_equal(fx_append_n(f, 10, 1), 10);
	assert_int_equal(log_commit_add(&c, f->log), 0);
	datasync_count = 0;
	assert_int_equal(log_flusher_poll(&fl, &c, &flushed), 0);
	assert_int_equal(flushed, 0);
	assert_int_equal(fx_append_n(f, 5, 1), 15); /* arrives while the round is out */
	assert_int_equal(log_commit_add(&c, f->log), 0);
	wait_notified(fds[0]);
	assert_int_equal(log_flusher_poll(&fl, &c, &flushed), 0); /* publishes 10, starts the round for 15 */
	assert_int_equal(flushed, 1);
	assert_true(log_flushed_offset(f->log) >= 10);
	wait_notified(fds[0]);
	assert_int_equal(log_flusher_poll(&fl, &c, &flushed), 0);
	assert_int_equal(log_flushed_offset(f->log), 15);
	assert_int_equal(datasync_count, 2);

	/* a failing disk: the round reports it and the log fails */
	assert_int_equal(fx_append_n(f, 1, 1), 16);
	assert_int_equal(log_commit_add(&c, f->log), 0);
	datasync_fail = 1;
	assert_int_equal(log_flusher_poll(&fl, &c, NULL), 0);
	wait_notified(fds[0]);
	assert_int_equal(log_flusher_poll(&fl, &c, NULL), ERR_IO);
	assert_int_equal(log_failed(f->log), ERR_IO);
	datasync_fail = 0;

	/* drain: a partition about to be closed is published and released by the thread */
	struct log *gone;
	assert_int_equal(log_file_open(test_path(f->dir, "gone"), &f->cfg, &gone), 0);
	struct test_batch gb = test_batch_default();
	struct log_append_info gi;
	size_t glen = test_batch_make(f->buf, sizeof f->buf, &gb);
	assert_int_equal(log_append(gone, f->buf, glen, 0, LOG_APPEND_LEADER, &gi), 0);
	assert_int_equal(log_commit_add(&c, gone), 0);
	assert_int_equal(log_flusher_poll(&fl, &c, NULL), 0);
	assert_int_equal(log_flusher_drain(&fl, &c, &flushed), 0);
	assert_int_equal(flushed, 1);
	assert_false(log_flusher_busy(&fl));
	assert_int_equal(log_flushed_offset(gone), 1);
	log_commit_forget(&c, gone);
	assert_int_equal(log_close(gone), 0); /* would assert if the thread still held it */
	assert_int_equal(log_flusher_drain(&fl, &c, &flushed), 0); /* nothing in flight: returns at once */
	assert_int_equal(flushed, 0);
	wait_notified(fds[0]); /* the drained round's notification */

	/* stop waits for a round in flight and publishes it */
	struct log *other;
	assert_int_equal(log_file_open(test_path(f->dir, "other"), &f->cfg, &other), 0);
	struct test_batch b = test_batch_default();
	struct log_append_info info;
	size_t len = test_batch_make(f->buf, sizeof f->buf, &b);
	assert_int_equal(log_append(other, f->buf, len, 0, LOG_APPEND_LEADER, &info), 0);
	assert_int_equal(log_commit_add(&c, other), 0);
	assert_int_equal(log_flusher_poll(&fl, &c, NULL), 0);
	assert_int_equal(log_flusher_stop(&fl, &c), 0);
	assert_int_equal(log_flushed_offset(other), 1);
	assert_int_equal(log_close(other), 0);
	log_commit_deinit(&c);
	close(fds[0]);
	close(fds[1]);
}

#define T(t) cmocka_unit_test_setup_teardown(t, setup, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_enospc_append),       T(test_partial_write_then_eio), T(test_short_writes_and_eintr),
		T(test_fsync_failure_fails_log), T(test_roll_failure),       T(test_enospc_at_close),       T(test_group_commit_counts),
		T(test_flush_policies),      T(test_commit_bounds),         T(test_commit_off_thread),
		T(test_flusher_thread),
	};
	return cmocka_run_group_tests_name("cloud/log_faults", tests, NULL, NULL);
}
