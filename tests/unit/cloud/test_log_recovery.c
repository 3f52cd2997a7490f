/* File backend recovery after a crash: a child process appends and dies with _exit (no clean shutdown, as
 * after kill -9), then the test damages the files the way a crash or a disk can and reopens: torn tail,
 * garbage tail, CRC mismatch, oversized length field, missing or corrupt indexes, corruption inside a
 * closed segment, producer state across clean and unclean restarts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <sys/wait.h>

#include "base/err.h"
#include "base/log.h"
#include "log_fixture.h"

static const char *seg_name(int64_t base, const char *ext)
{
	static char name[64];
	snprintf(name, sizeof name, "%020lld%s", (long long)base, ext);
	return name;
}

/* Append n batches of `records` records (and producer batches when pid >= 0) in a child that then dies. */
static void crash_after(struct fx *f, int n, int records, int64_t pid)
{
	fflush(NULL);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		struct log *log;
		if (log_file_open(f->dir, &f->cfg, &log))
			_exit(1);
		f->log = log;
		struct log_append_info info;
		struct test_batch b = test_batch_default();
		b.records = records;
		b.producer_id = pid;
		b.producer_epoch = pid >= 0 ? 0 : -1;
		for (int i = 0; i < n; i++) {
			b.base_ts = 1000 + log_end_offset(log);
			const struct producer_entry *e = producer_state_find(log_producers(log), pid);
			b.base_sequence = pid < 0 ? -1 : e ? e->batches[e->batch_count - 1].last_seq + 1 : 0;
			if (fx_append(f, &b, &info) || !info.appended)
				_exit(2);
		}
		_exit(log_flush(log) ? 3 : 0);
	}
	int status;
	assert_int_equal(waitpid(child, &status, 0), child);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

static int64_t last_segment_base(struct fx *f)
{
	assert_int_equal(fx_open(f), 0);
	struct log_read rd;
	int64_t end = log_end_offset(f->log);
	assert_int_equal(log_read(f->log, end - 1, 1, INT64_MAX, &rd), 0);
	log_read_release(f->log, &rd);
	/* the active segment's base: the greatest .log file name */
	int64_t base = 0;
	DIR *d = opendir(f->dir);
	struct dirent *de;
	while ((de = readdir(d))) {
		long long v;
		if (strlen(de->d_name) == 24 && sscanf(de->d_name, "%20lld.log", &v) == 1 && v > base)
			base = v;
	}
	closedir(d);
	assert_int_equal(log_close(f->log), 0);
	f->log = NULL;
	return base;
}

static void damage(const char *path, int64_t at, const void *bytes, size_t len)
{
	int fd = open(path, O_WRONLY);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, bytes, len, at), (ssize_t)len);
	close(fd);
}

static void test_clean_reopen(void **state)
{
	struct fx *f = *state;
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(fx_append_n(f, 300, 2), 600);
	size_t segs = log_segment_count(f->log);
	uint64_t size = log_size_bytes(f->log);
	assert_int_equal(log_close(f->log), 0);
	f->log = NULL;
	assert_true(test_file_exists(test_path(f->dir, ".clean-shutdown")));
	assert_true(test_file_exists(test_path(f->dir, seg_name(0, ".index"))));
	assert_true(test_file_exists(test_path(f->dir, seg_name(0, ".timeindex"))));
	assert_int_equal(fx_open(f), 0);
	assert_false(test_file_exists(test_path(f->dir, ".clean-shutdown")));
	assert_int_equal(log_end_offset(f->log), 600);
	assert_int_equal(log_flushed_offset(f->log), 600);
	assert_int_equal(log_segment_count(f->log), segs);
	assert_int_equal(log_size_bytes(f->log), size);
	struct log_stats st;
	log_get_stats(f->log, &st);
	assert_int_equal(st.indexes_rebuilt, 0); /* a clean open trusts the indexes */
	assert_int_equal(st.recovered_bytes_cut, 0);
	assert_int_equal(test_log_verify(f->log), 300);
	assert_int_equal(fx_append_n(f, 10, 2), 620);
	assert_int_equal(test_log_verify(f->log), 310);
	struct log_time_lookup tl;
	assert_int_equal(log_offset_for_time(f->log, 1000 + 301, &tl), 0);
	assert_int_equal(tl.offset, 301);
}

static void test_crash_keeps_flushed(void **state)
{
	struct fx *f = *state;
	crash_after(f, 250, 1, -1);
	assert_false(test_file_exists(test_path(f->dir, ".clean-shutdown")));
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(log_end_offset(f->log), 250);
	assert_int_equal(test_log_verify(f->log), 250);
	struct log_time_lookup tl;
	assert_int_equal(log_offset_for_time(f->log, 1000 + 249, &tl), 0);
	assert_int_equal(tl.offset, 249);
	assert_int_equal(log_latest_epoch(f->log), 3); /* fx_append stamps epoch 3 */
	assert_int_equal(log_close(f->log), 0);
	f->log = NULL;
	/* a corrupt epoch checkpoint is rebuilt from the batches */
	damage(test_path(f->dir, "leader-epoch-checkpoint"), 0, "9\nx", 3);
	assert_int_equal(fx_open(f), 0);
	int32_t e;
	int64_t end;
	log_epoch_end_offset(f->log, 3, &e, &end);
	assert_int_equal(e, 3);
	assert_int_equal(end, 250);
	log_epoch_end_offset(f->log, 2, &e, &end);
	assert_int_equal(e, 2);
	assert_int_equal(end, 0);
}

static void test_torn_tail(void **state)
{
	struct fx *f = *state;
	crash_after(f, 250, 1, -1);
	int64_t base = last_segment_base(f);
	crash_after(f, 0, 1, -1); /* make the last open unclean again */
	char path[8192];
	snprintf(path, sizeof path, "%s", test_path(f->dir, seg_name(base, ".log")));
	int64_t size = test_file_size(path);
	assert_int_equal(truncate(path, size - 5), 0); /* mid-batch */
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(log_end_offset(f->log), 249);
	assert_int_equal(test_log_verify(f->log), 249);
	assert_true(test_file_size(path) < size - 5);
	assert_int_equal(fx_append_n(f, 1, 1), 250);
	assert_int_equal(test_log_verify(f->log), 250);
	/* a torn header (fewer than 61 bytes left) */
	assert_int_equal(log_close(f->log), 0);
	f->log = NULL;
	crash_after(f, 0, 1, -1);
	size = test_file_size(path);
	uint8_t junk[30] = {0};
	damage(path, size, junk, sizeof junk);
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(log_end_offset(f->log), 250);
	assert_int_equal(test_file_size(path), size);
}

static void test_garbage_tail(void **state)
{
	struct fx *f = *state;
	crash_after(f, 100, 2, -1);
	int64_t base = last_segment_base(f);
	crash_after(f, 0, 1, -1);
	char path[8192];
	snprintf(path, sizeof path, "%s", test_path(f->dir, seg_name(base, ".log")));
	int64_t size = test_file_size(path);
	uint8_t junk[700];
	for (size_t i = 0; i < sizeof junk; i++)
		junk[i] = (uint8_t)(i * 131 + 7);
	damage(path, size, junk, sizeof junk);
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(log_end_offset(f->log), 200);
	assert_int_equal(test_file_size(path), size);
	assert_int_equal(test_log_verify(f->log), 100);
	struct log_stats st;
	log_get_stats(f->log, &st);
	assert_int_equal(st.recovered_bytes_cut, sizeof junk);
}

static void test_crc_mismatch_last_batch(void **state)
{
	struct fx *f = *state;
	crash_after(f, 100, 3, -1);
	int64_t base = last_segment_base(f);
	crash_after(f, 0, 1, -1);
	char path[8192];
	snprintf(path, sizeof path, "%s", test_path(f->dir, seg_name(base, ".log")));
	int64_t size = test_file_size(path);
	uint8_t x = 0xee;
	damage(path, size - 3, &x, 1); /* inside the last batch's records */
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(log_end_offset(f->log), 297);
	assert_int_equal(test_log_verify(f->log), 99);
	assert_true(test_file_size(path) < size);
}

static void test_oversized_length_field(void **state)
{
	struct fx *f = *state;
	crash_after(f, 20, 1, -1);
	int64_t base = last_segment_base(f);
	crash_after(f, 0, 1, -1);
	char path[8192];
	snprintf(path, sizeof path, "%s", test_path(f->dir, seg_name(base, ".log")));
	int64_t size = test_file_size(path);
	/* a plausible header claiming 2 GB (more than the file and batch_bytes_max): corruption, not a size */
	uint8_t head[BATCH_HEADER_SIZE] = {0};
	head[7] = 20;
	be32_put(head + BATCH_OFF_LENGTH, 0x7ffffff0u);
	head[BATCH_OFF_MAGIC] = 2;
	damage(path, size, head, sizeof head);
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(log_end_offset(f->log), 20);
	assert_int_equal(test_file_size(path), size);
}

static void test_missing_index_rebuilt(void **state)
{
	struct fx *f = *state;
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(fx_append_n(f, 300, 1), 300);
	assert_int_equal(log_close(f->log), 0);
	f->log = NULL;
	char idx[8192];
	snprintf(idx, sizeof idx, "%s", test_path(f->dir, seg_name(0, ".index")));
	int64_t idx_size = test_file_size(idx);
	assert_true(idx_size > 8);
	assert_int_equal(unlink(idx), 0);
	assert_int_equal(unlink(test_path(f->dir, seg_name(0, ".timeindex"))), 0);
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(log_end_offset(f->log), 300);
	assert_int_equal(test_file_size(idx), idx_size); /* rebuilt and written back */
	struct log_stats st;
	log_get_stats(f->log, &st);
	assert_int_equal(st.indexes_rebuilt, 1);
	assert_int_equal(test_log_verify(f->log), 300);
	struct log_time_lookup tl;
	assert_int_equal(log_offset_for_time(f->log, 1000 + 3, &tl), 0);
	assert_int_equal(tl.offset, 3);
}

static void test_corrupt_index_rebuilt(void **state)
{
	struct fx *f = *state;
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(fx_append_n(f, 300, 1), 300);
	assert_int_equal(log_close(f->log), 0);
	f->log = NULL;
	char idx[8192];
	snprintf(idx, sizeof idx, "%s", test_path(f->dir, seg_name(0, ".index")));
	int64_t idx_size = test_file_size(idx);
	/* 1: the last entry points one byte off (plausible, ordered, in bounds) */
	uint8_t pos[4];
	int fd = open(idx, O_RDWR);
	assert_int_equal(pread(fd, pos, 4, idx_size - 4), 4);
	be32_put(pos, be32_get(pos) + 1);
	assert_int_equal(pwrite(fd, pos, 4, idx_size - 4), 4);
	close(fd);
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(test_log_verify(f->log), 300);
	assert_int_equal(log_close(f->log), 0);
	f->log = NULL;
	/* a time entry pointing past the segment's offsets: lookups would skip real data */
	char tidx[8192];
	snprintf(tidx, sizeof tidx, "%s", test_path(f->dir, seg_name(0, ".timeindex")));
	int64_t tidx_size = test_file_size(tidx);
	uint8_t rel[4];
	be32_put(rel, 100000);
	damage(tidx, tidx_size - 4, rel, 4);
	assert_int_equal(fx_open(f), 0);
	struct log_stats st;
	log_get_stats(f->log, &st);
	assert_int_equal(st.indexes_rebuilt, 1);
	struct log_time_lookup tl;
	assert_int_equal(log_offset_for_time(f->log, 1000 + 7, &tl), 0);
	assert_int_equal(tl.offset, 7);
	assert_int_equal(log_close(f->log), 0);
	f->log = NULL;
	/* 2: out of order entries; 3: a length that is not a whole number of entries; 4: absurdly large */
	uint8_t bad[16] = {0, 0, 0, 5, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0};
	for (int round = 0; round < 3; round++) {
		int wfd = open(idx, O_WRONLY | O_TRUNC);
		if (round == 0)
			assert_int_equal(write(wfd, bad, 16), 16);
		else if (round == 1)
			assert_int_equal(write(wfd, bad, 7), 7);
		else
			assert_int_equal(ftruncate(wfd, 1 << 20), 0);
		close(wfd);
		assert_int_equal(fx_open(f), 0);
		assert_int_equal(log_end_offset(f->log), 300);
		assert_int_equal(test_log_verify(f->log), 300);
		assert_int_equal(log_close(f->log), 0);
		f->log = NULL;
		assert_int_equal(test_file_size(idx), idx_size);
	}
}

/* A middle index entry damaged in place (bit rot: plausible, ordered, passes the open checks): the read that
 * trips on it rebuilds the index from the batches and answers correctly. */
static void test_bad_middle_index_entry_self_heals(void **state)
{
	struct fx *f = *state;
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(fx_append_n(f, 300, 1), 300);
	assert_int_equal(log_close(f->log), 0);
	f->log = NULL;
	char idx[8192];
	snprintf(idx, sizeof idx, "%s", test_path(f->dir, seg_name(0, ".index")));
	uint8_t entry[8];
	int fd = open(idx, O_RDWR);
	assert_int_equal(pread(fd, entry, 8, 3 * 8), 8);
	int64_t off = be32_get(entry);
	be32_put(entry + 4, be32_get(entry + 4) + 1);
	assert_int_equal(pwrite(fd, entry, 8, 3 * 8), 8);
	close(fd);
	assert_int_equal(fx_open(f), 0);
	struct log_stats st;
	log_get_stats(f->log, &st);
	assert_int_equal(st.indexes_rebuilt, 0); /* passed the open checks */
	struct log_read rd;
	assert_int_equal(log_read(f->log, off, 1, INT64_MAX, &rd), 0);
	assert_int_equal(rd.first_offset, off);
	log_read_release(f->log, &rd);
	log_get_stats(f->log, &st);
	assert_int_equal(st.indexes_rebuilt, 1);
	assert_int_equal(test_log_verify(f->log), 300);
	/* the same damage reached by the max_bytes jump instead of the lookup */
	assert_int_equal(log_close(f->log), 0);
	f->log = NULL;
	uint8_t next_entry[8];
	fd = open(idx, O_RDWR);
	assert_int_equal(pread(fd, entry, 8, 3 * 8), 8);
	assert_int_equal(pread(fd, next_entry, 8, 4 * 8), 8);
	be32_put(entry + 4, be32_get(entry + 4) + 1);
	assert_int_equal(pwrite(fd, entry, 8, 3 * 8), 8);
	close(fd);
	assert_int_equal(fx_open(f), 0);
	/* max_bytes reaching just short of entry 4: the jump lands on the damaged entry 3 */
	assert_int_equal(log_read(f->log, 0, be32_get(next_entry + 4) - 1, INT64_MAX, &rd), 0);
	assert_int_equal(rd.first_offset, 0);
	assert_true(rd.next_offset > off);
	log_read_release(f->log, &rd);
	log_get_stats(f->log, &st);
	assert_int_equal(st.indexes_rebuilt, 1);
	assert_int_equal(test_log_verify(f->log), 300);
}

static void test_closed_segment_corruption_cuts_log(void **state)
{
	struct fx *f = *state;
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(fx_append_n(f, 300, 1), 300);
	assert_int_equal(log_close(f->log), 0);
	f->log = NULL;
	/* damage the first segment's 11th batch and drop its index so recovery must scan it */
	char path[8192];
	snprintf(path, sizeof path, "%s", test_path(f->dir, seg_name(0, ".log")));
	uint8_t head[BATCH_HEADER_SIZE];
	int fd = open(path, O_RDONLY);
	assert_int_equal(pread(fd, head, sizeof head, 0), (ssize_t)sizeof head);
	close(fd);
	struct batch_header h;
	assert_int_equal(batch_header_decode(head, sizeof head, 4096, &h), 0);
	uint8_t x = 0x55;
	damage(path, (int64_t)batch_size(&h) * 10 + 40, &x, 1);
	unlink(test_path(f->dir, seg_name(0, ".index")));
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(log_end_offset(f->log), 10);
	assert_int_equal(log_segment_count(f->log), 1);
	assert_int_equal(test_log_verify(f->log), 10);
	assert_false(test_file_exists(test_path(f->dir, seg_name(300 - 1, ".log"))));
	assert_int_equal(fx_append_n(f, 5, 1), 15);
}

static void test_junk_files_and_empty_dir(void **state)
{
	struct fx *f = *state;
	int fd = open(test_path(f->dir, "00000000000000000000.index.tmp"), O_CREAT | O_WRONLY, 0644);
	close(fd);
	fd = open(test_path(f->dir, "notes.txt"), O_CREAT | O_WRONLY, 0644);
	close(fd);
	fd = open(test_path(f->dir, "0000000000000000000x.log"), O_CREAT | O_WRONLY, 0644);
	close(fd);
	fd = open(test_path(f->dir, "00000000000000000500.index"), O_CREAT | O_WRONLY, 0644);
	close(fd);
	fd = open(test_path(f->dir, "00000000000000000500.timeindex"), O_CREAT | O_WRONLY, 0644);
	close(fd);
	assert_int_equal(fx_open(f), 0);
	assert_false(test_file_exists(test_path(f->dir, "00000000000000000000.index.tmp")));
	assert_false(test_file_exists(test_path(f->dir, "00000000000000000500.index"))); /* orphans */
	assert_false(test_file_exists(test_path(f->dir, "00000000000000000500.timeindex")));
	assert_true(test_file_exists(test_path(f->dir, "notes.txt"))); /* not ours: left alone */
	assert_int_equal(log_end_offset(f->log), 0);
	assert_int_equal(fx_append_n(f, 3, 1), 3);
	assert_int_equal(test_log_verify(f->log), 3);
}

static void expect_dup(struct fx *f, int64_t pid, int32_t seq, int records, int64_t offset)
{
	struct log_append_info info;
	struct test_batch b = test_batch_default();
	b.records = records;
	b.producer_id = pid;
	b.producer_epoch = 0;
	b.base_sequence = seq;
	assert_int_equal(fx_append(f, &b, &info), 0);
	assert_int_equal(info.producer.verdict, PRODUCER_DUPLICATE);
	assert_int_equal(info.base_offset, offset);
	b.base_sequence = 100000; /* a gap is still a gap */
	assert_int_equal(fx_append(f, &b, &info), 0);
	assert_int_equal(info.producer.verdict, PRODUCER_OUT_OF_ORDER);
}

static void test_producer_state_clean_restart(void **state)
{
	struct fx *f = *state;
	crash_after(f, 200, 2, 4242); /* rolls several segments, each roll writes a snapshot */
	assert_int_equal(fx_open(f), 0);
	expect_dup(f, 4242, 398, 2, 398);
	assert_int_equal(log_close(f->log), 0);
	f->log = NULL;
	char snap[8192];
	snprintf(snap, sizeof snap, "%s", test_path(f->dir, seg_name(400, ".snapshot")));
	assert_true(test_file_exists(snap)); /* written at clean shutdown, at the log end */
	assert_int_equal(fx_open(f), 0);
	expect_dup(f, 4242, 396, 2, 396);
}

static void test_producer_state_unclean_restart(void **state)
{
	struct fx *f = *state;
	crash_after(f, 200, 2, 4242);
	/* no clean shutdown: newest snapshot is at the last roll; the tail after it is replayed */
	assert_int_equal(fx_open(f), 0);
	expect_dup(f, 4242, 398, 2, 398);
	expect_dup(f, 4242, 390, 2, 390);
	assert_int_equal(log_close(f->log), 0);
	f->log = NULL;
	/* every snapshot gone or corrupt: rebuilt from the whole log */
	DIR *d = opendir(f->dir);
	struct dirent *de;
	int n = 0;
	while ((de = readdir(d)))
		if (strstr(de->d_name, ".snapshot")) {
			uint8_t junk[8] = {1, 2, 3, 4, 5, 6, 7, 8};
			if (n++ % 2)
				unlink(test_path(f->dir, de->d_name));
			else
				damage(test_path(f->dir, de->d_name), 0, junk, sizeof junk);
		}
	closedir(d);
	assert_true(n > 0);
	assert_int_equal(fx_open(f), 0);
	expect_dup(f, 4242, 398, 2, 398);
}

/* A child appends idempotent batches (rolling, flushing every few) and reports each flushed offset on a pipe;
 * it is killed with SIGKILL at a random moment, mid-append, mid-roll or mid-snapshot.  Whatever survives
 * must read back whole, keep every flushed offset, and continue the producer's sequence. */
static void test_kill9_loop(void **state)
{
	struct fx *f = *state;
	uint32_t seed = 12345;
	for (int round = 0; round < 6; round++) {
		int fds[2];
		assert_int_equal(pipe(fds), 0);
		fflush(NULL);
		pid_t child = fork();
		assert_true(child >= 0);
		if (child == 0) {
			close(fds[0]);
			struct log *log;
			if (log_file_open(f->dir, &f->cfg, &log))
				_exit(1);
			f->log = log;
			struct test_batch b = test_batch_default();
			b.producer_id = 77;
			b.producer_epoch = 0;
			b.records = 2;
			for (int i = 0;; i++) {
				const struct producer_entry *e = producer_state_find(log_producers(log), 77);
				b.base_sequence = e ? e->batches[e->batch_count - 1].last_seq + 1 : 0;
				struct log_append_info info;
				if (fx_append(f, &b, &info) || !info.appended)
					_exit(2);
				if (i % 5 == 4) {
					if (log_flush(log))
						_exit(3);
					int64_t flushed = log_flushed_offset(log);
					if (write(fds[1], &flushed, sizeof flushed) != sizeof flushed)
						_exit(4);
				}
			}
		}
		close(fds[1]);
		seed = seed * 1103515245u + 12345u;
		usleep(20000 + (seed >> 16) % 60000);
		kill(child, SIGKILL);
		int status;
		assert_int_equal(waitpid(child, &status, 0), child);
		assert_true(WIFSIGNALED(status));
		int64_t flushed = 0, v;
		while (read(fds[0], &v, sizeof v) == sizeof v)
			flushed = v;
		close(fds[0]);

		assert_int_equal(fx_open(f), 0);
		assert_true(log_end_offset(f->log) >= flushed);
		long batches = test_log_verify(f->log);
		assert_true(batches >= 0);
		assert_int_equal(batches * 2, log_end_offset(f->log)); /* contiguous, nothing lost in between */
		const struct producer_entry *e = producer_state_find(log_producers(f->log), 77);
		if (log_end_offset(f->log) > 0) {
			assert_non_null(e);
			assert_int_equal(e->batches[e->batch_count - 1].last_seq + 1, log_end_offset(f->log));
		}
		/* the producer's retry of its last batch is still a duplicate */
		if (e) {
			struct log_append_info info;
			struct test_batch b = test_batch_default();
			b.producer_id = 77;
			b.producer_epoch = 0;
			b.records = 2;
			b.base_sequence = e->batches[e->batch_count - 1].first_seq;
			int64_t last_base = e->batches[e->batch_count - 1].first_offset;
			assert_int_equal(fx_append(f, &b, &info), 0);
			assert_int_equal(info.producer.verdict, PRODUCER_DUPLICATE);
			assert_int_equal(info.base_offset, last_base);
		}
		assert_int_equal(log_close(f->log), 0);
		f->log = NULL;
	}
}

static int fx_setup_file(void **state)
{
	static const enum fx_backend file = FX_FILE;
	*state = (void *)&file;
	int rc = fx_setup(state);
	log_set_level(LOG_ERROR);
	return rc;
}

#define T(t) cmocka_unit_test_setup_teardown(t, fx_setup_file, fx_teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
		T(test_clean_reopen),
		T(test_crash_keeps_flushed),
		T(test_torn_tail),
		T(test_garbage_tail),
		T(test_crc_mismatch_last_batch),
		T(test_oversized_length_field),
		T(test_missing_index_rebuilt),
		T(test_corrupt_index_rebuilt),
		T(test_closed_segment_corruption_cuts_log),
		T(test_bad_middle_index_entry_self_heals),
		T(test_junk_files_and_empty_dir),
		T(test_producer_state_clean_restart),
		T(test_producer_state_unclean_restart),
		T(test_kill9_loop),
	};
	return cmocka_run_group_tests_name("cloud/log_recovery", tests, NULL, NULL);
}
