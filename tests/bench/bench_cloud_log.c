/* Partition log throughput, beside what this machine's disk can do, measured in the same run:
 *   raw sequential write (write + one fdatasync) and raw fdatasync rate (4 KiB pwrite + fdatasync);
 *   log appends with no fsync, with one group commit per G appends across P partitions, and with an fsync
 *   per append; memory backend appends; reads (span lookup only, and span + copy out with pread).
 * Directory: $FERRY_BENCH_DIR, else $TMPDIR, else /tmp (it must be on the disk you want to measure).
 * Prints figures; asserts nothing about timing. */
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/crc32c.h"
#include "base/err.h"
#include "base/log.h"
#include "cloud/log/log_commit.h"
#include "port.h"
#include "tests/unit/cloud/log_test_util.h"

#define MIB (1024.0 * 1024.0)

static double secs(uint64_t t0) { return (double)(port_now_ns() - t0) / 1e9; }

static char *bench_dir(void)
{
	const char *d = getenv("FERRY_BENCH_DIR");
	if (d && *d)
		setenv("TMPDIR", d, 1);
	return test_tmpdir();
}

static void raw_disk(const char *dir)
{
	char path[8192];
	snprintf(path, sizeof path, "%s/raw", dir);
	int fd = open(path, O_CREAT | O_TRUNC | O_RDWR, 0644);
	size_t chunk = 1 << 20, total = (size_t)128 << 20;
	uint8_t *buf = malloc(chunk);
	memset(buf, 0xa5, chunk);
	uint64_t t0 = port_now_ns();
	for (size_t done = 0; done < total; done += chunk)
		if (write(fd, buf, chunk) != (ssize_t)chunk)
			abort();
	fdatasync(fd);
	double s = secs(t0);
	printf("raw sequential write : %8.1f MB/s  (128 MiB in 1 MiB writes + 1 fdatasync, %.2f s)\n",
	       total / MIB / s, s);
	int n = 0;
	t0 = port_now_ns();
	while (secs(t0) < 2.0 && n < 5000) {
		if (pwrite(fd, buf, 4096, (off_t)n * 4096) != 4096)
			abort();
		fdatasync(fd);
		n++;
	}
	s = secs(t0);
	printf("raw fdatasync rate   : %8.0f /s     (4 KiB pwrite + fdatasync, %.0f us each)\n", n / s,
	       s / n * 1e6);
	close(fd);
	unlink(path);
	free(buf);
}

struct run {
	const char *name;
	int partitions;
	int group;        /* appends per commit round; 0: never flush; -1: pipelined rounds on a thread */
	size_t batch_len; /* approximate bytes per batch */
	size_t total;     /* bytes to append */
	bool mem;
};

static size_t make_batch(uint8_t *buf, size_t cap, size_t approx)
{
	struct test_batch b = test_batch_default();
	b.records = approx >= 16384 ? 16 : 4;
	b.value_len = approx / (size_t)b.records - 20;
	return test_batch_make(buf, cap, &b);
}

struct syncer {
	struct log_commit_job *job;
	pthread_t th;
	atomic_bool done;
};

static void *syncer_main(void *arg)
{
	struct syncer *sy = arg;
	log_commit_sync(sy->job);
	atomic_store(&sy->done, true);
	return NULL;
}

/* Returns whether a round is in flight afterwards; drain waits for it and runs a last one. */
static bool pipeline_step(struct log_commit *c, struct syncer *sy, bool inflight, bool drain)
{
	if (inflight && (drain || atomic_load(&sy->done))) {
		pthread_join(sy->th, NULL);
		if (log_commit_end(c, sy->job, NULL))
			abort();
		inflight = false;
	}
	if (drain) {
		log_commit_run(c, NULL);
		return false;
	}
	if (!inflight) {
		if (log_commit_begin(c, sy->job))
			abort();
		atomic_store(&sy->done, false);
		pthread_create(&sy->th, NULL, syncer_main, sy);
		inflight = true;
	}
	return inflight;
}

static void append_run(const char *dir, const struct run *r, struct log **keep)
{
	struct log *logs[16];
	struct log_config cfg;
	log_config_default(&cfg);
	cfg.segment_bytes = (size_t)64 << 20;
	cfg.flush_policy = r->group ? LOG_FLUSH_SYNC : LOG_FLUSH_NONE;
	cfg.retention_ms = -1;
	for (int p = 0; p < r->partitions; p++) {
		char sub[8192];
		snprintf(sub, sizeof sub, "%s/%s-%d", dir, r->name, p);
		int rc = r->mem ? log_mem_open(&cfg, &logs[p]) : log_file_open(sub, &cfg, &logs[p]);
		if (rc) {
			fprintf(stderr, "open: %s\n", err_str(rc));
			exit(1);
		}
	}
	struct log_commit c;
	log_commit_init(&c, 16);
	uint8_t *batch = malloc(r->batch_len + 4096);
	size_t len = make_batch(batch, r->batch_len + 4096, r->batch_len);
	uint64_t count = 0, bytes = 0;
	struct log_commit_job job = {0};
	struct syncer sy = {.job = &job};
	bool inflight = false;
	uint64_t t0 = port_now_ns();
	while (bytes < r->total) {
		struct log *log = logs[count % (uint64_t)r->partitions];
		struct log_append_info info;
		if (log_append(log, batch, len, 1, LOG_APPEND_LEADER, &info))
			abort();
		log_commit_add(&c, log);
		count++;
		bytes += len;
		if (r->group > 0 && count % (uint64_t)r->group == 0 && log_commit_run(&c, NULL))
			abort();
		if (r->group < 0) /* the event loop's view: start a round when none runs, publish when done */
			inflight = pipeline_step(&c, &sy, inflight, false);
	}
	if (r->group < 0)
		pipeline_step(&c, &sy, inflight, true);
	if (r->group > 0)
		log_commit_run(&c, NULL);
	log_commit_job_deinit(&job);
	double s = secs(t0);
	printf("%-21s: %8.1f MB/s  %9.0f batches/s  (%zu B batches, %d partition%s, %s; %llu fdatasyncs, %.2f s)\n",
	       r->name, bytes / MIB / s, count / s, len, r->partitions, r->partitions > 1 ? "s" : "",
	       r->mem ? "memory" : r->group < 0 ? "rounds on a thread" : r->group ? "group commit" : "no fsync", (unsigned long long)c.flush_count, s);
	log_commit_deinit(&c);
	free(batch);
	for (int p = 0; p < r->partitions; p++) {
		if (keep && p == 0)
			*keep = logs[0];
		else
			log_close(logs[p]);
	}
}

static void read_run(struct log *log)
{
	uint8_t *buf = malloc(2 << 20);
	for (int copy = 0; copy < 2; copy++) {
		uint64_t t0 = port_now_ns(), bytes = 0, reads = 0;
		int64_t off = log_start_offset(log);
		while (off < log_end_offset(log)) {
			struct log_read rd;
			if (log_read(log, off, 1 << 20, INT64_MAX, &rd) || !rd.span.len)
				abort();
			if (copy && log_read_copy(log, &rd, buf))
				abort();
			bytes += rd.span.len;
			reads++;
			off = rd.next_offset;
			log_read_release(log, &rd);
		}
		double s = secs(t0);
		if (copy)
			printf("%-21s: %8.1f MB/s  %9.0f reads/s    (1 MiB max_bytes, pread into a buffer)\n",
			       "read + copy", bytes / MIB / s, reads / s);
		else
			printf("%-21s: %8s       %9.0f reads/s    (1 MiB max_bytes; index lookup + header walk, no bytes "
			       "moved: what sendfile is handed)\n", "read (spans only)", "-", reads / s);
	}
	free(buf);
}

int main(void)
{
	log_set_level(LOG_WARN);
	char *dir = bench_dir();
	printf("bench_cloud_log in %s (crc32c: %s)\n", dir, crc32c_impl());
	raw_disk(dir);
	struct log *keep = NULL;
	const struct run runs[] = {
		{"append, no fsync", 1, 0, 16384, (size_t)256 << 20, false},
		{"append, group commit", 4, 64, 16384, (size_t)256 << 20, false},
		{"append, group commit", 4, 64, 1024, (size_t)32 << 20, false},
		{"append, pipelined", 4, -1, 16384, (size_t)256 << 20, false},
		{"append, pipelined", 4, -1, 1024, (size_t)32 << 20, false},
		{"append, fsync each", 1, 1, 16384, (size_t)16 << 20, false},
		{"append, memory", 1, 0, 16384, (size_t)256 << 20, true},
	};
	for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++)
		append_run(dir, &runs[i], i == 0 ? &keep : NULL);
	read_run(keep);
	log_close(keep);
	test_rmtree(dir);
	free(dir);
	return 0;
}
