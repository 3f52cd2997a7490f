/* Partition log throughput, beside what this machine's disk can do, measured in the same run:
 *   raw sequential write (write + one fdatasync) and raw fdatasync rate (4 KiB pwrite + fdatasync);
 *   log appends with no fsync, with one group commit per G appends across P partitions, with rounds on the
 *   log_flusher thread, and with an fsync per append, each with its ack latency (append to flushed);
 *   memory backend appends; reads (span lookup only, and span + copy out with pread).
 * Directory: $FERRY_BENCH_DIR, else $TMPDIR, else /tmp (it must be on the disk you want to measure).
 * Prints figures; asserts nothing about timing. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/crc32c.h"
#include "base/err.h"
#include "base/log.h"
#include "cloud/log/log_commit.h"
#include "cloud/log/log_flusher.h"
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

static void notify_nothing(void *ctx)
{
	(void)ctx; /* the benchmark polls after every append; a broker would wake its loop here */
}

/* Ack latency: when a parked acks=all response could be sent (the batch is below the flushed offset). */
struct acks {
	int64_t *last;     /* per pending batch: its last offset */
	uint64_t *t_ns;    /* and when it was appended */
	size_t *head, *tail; /* per partition, into a slice of cap entries */
	size_t cap;
	uint64_t *lat_ns;
	size_t lat_count;
};

static void acks_init(struct acks *a, int partitions, size_t batches)
{
	a->cap = batches / (size_t)partitions + 2;
	a->last = calloc(a->cap * (size_t)partitions, sizeof *a->last);
	a->t_ns = calloc(a->cap * (size_t)partitions, sizeof *a->t_ns);
	a->head = calloc((size_t)partitions, sizeof *a->head);
	a->tail = calloc((size_t)partitions, sizeof *a->tail);
	a->lat_ns = calloc(batches + 1, sizeof *a->lat_ns);
	a->lat_count = 0;
}

static void acks_park(struct acks *a, int p, int64_t last, uint64_t now)
{
	size_t i = (size_t)p * a->cap + a->tail[p]++;
	a->last[i] = last;
	a->t_ns[i] = now;
}

static void acks_release(struct acks *a, struct log **logs, int partitions)
{
	uint64_t now = port_now_ns();
	for (int p = 0; p < partitions; p++) {
		int64_t flushed = log_flushed_offset(logs[p]);
		while (a->head[p] < a->tail[p] && a->last[(size_t)p * a->cap + a->head[p]] < flushed)
			a->lat_ns[a->lat_count++] = now - a->t_ns[(size_t)p * a->cap + a->head[p]++];
	}
}

static int cmp_u64(const void *x, const void *y)
{
	uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
	return a < b ? -1 : a > b;
}

static void acks_print(struct acks *a)
{
	if (a->lat_count) {
		qsort(a->lat_ns, a->lat_count, sizeof *a->lat_ns, cmp_u64);
		printf("%-21s  ack latency p50 %.2f ms, p99 %.2f ms, max %.2f ms\n", "",
		       a->lat_ns[a->lat_count / 2] / 1e6, a->lat_ns[a->lat_count * 99 / 100] / 1e6,
		       a->lat_ns[a->lat_count - 1] / 1e6);
	}
	free(a->last);
	free(a->t_ns);
	free(a->head);
	free(a->tail);
	free(a->lat_ns);
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
	struct log_flusher fl;
	if (r->group < 0 && log_flusher_start(&fl, notify_nothing, NULL))
		abort();
	struct acks acks;
	acks_init(&acks, r->partitions, r->total / len + 1);
	uint64_t t0 = port_now_ns();
	while (bytes < r->total) {
		int p = (int)(count % (uint64_t)r->partitions);
		struct log *log = logs[p];
		struct log_append_info info;
		if (log_append(log, batch, len, 1, LOG_APPEND_LEADER, &info))
			abort();
		if (r->group)
			acks_park(&acks, p, info.last_offset, port_now_ns());
		log_commit_add(&c, log);
		count++;
		bytes += len;
		if (r->group > 0 && count % (uint64_t)r->group == 0 && log_commit_run(&c, NULL))
			abort();
		if (r->group < 0 && log_flusher_poll(&fl, &c, NULL)) /* what the event loop does */
			abort();
		if (r->group)
			acks_release(&acks, logs, r->partitions);
	}
	if (r->group < 0 && log_flusher_stop(&fl, &c))
		abort();
	if (r->group)
		log_commit_run(&c, NULL);
	acks_release(&acks, logs, r->partitions);
	double s = secs(t0);
	printf("%-21s: %8.1f MB/s  %9.0f batches/s  (%zu B batches, %d partition%s, %s; %llu fdatasyncs, %.2f s)\n",
	       r->name, bytes / MIB / s, count / s, len, r->partitions, r->partitions > 1 ? "s" : "",
	       r->mem ? "memory" : r->group < 0 ? "log_flusher thread" : r->group ? "group commit" : "no fsync", (unsigned long long)c.flush_count, s);
	acks_print(&acks);
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

/* Opening the log the first run left: after a clean close (indexes trusted), and as after a crash (the
 * active segment scanned with CRC32C, its index rebuilt). */
static void open_run(const char *dir, const char *name)
{
	char sub[8192], marker[8300];
	struct log_config cfg;
	struct log *log;
	log_config_default(&cfg);
	cfg.segment_bytes = (size_t)64 << 20;
	snprintf(sub, sizeof sub, "%s/%s-0", dir, name);
	snprintf(marker, sizeof marker, "%s/.clean-shutdown", sub);
	/* the active segment is the .log file with the greatest base offset */
	int64_t active = 0, best = -1;
	DIR *d = opendir(sub);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		long long base;
		char path[8400];
		if (strlen(de->d_name) == 24 && sscanf(de->d_name, "%20lld.log", &base) == 1 && base > best) {
			best = base;
			snprintf(path, sizeof path, "%s/%s", sub, de->d_name);
			active = test_file_size(path);
		}
	}
	if (d)
		closedir(d);
	for (int unclean = 0; unclean < 2; unclean++) {
		if (unclean)
			unlink(marker);
		uint64_t t0 = port_now_ns();
		if (log_file_open(sub, &cfg, &log))
			abort();
		double s = secs(t0);
		printf("%-21s: %8.1f ms      (%.0f MiB in %zu segments; %s)\n",
		       unclean ? "open after a crash" : "open after close", s * 1e3, log_size_bytes(log) / MIB,
		       log_segment_count(log), unclean ? "the active segment CRC-scanned" : "indexes trusted");
		if (unclean)
			printf("%-21s  active segment %.1f MiB: %.0f MB/s recovery scan\n", "", active / MIB,
			       active / MIB / s);
		log_close(log);
	}
}

int main(void)
{
	log_set_level(LOG_WARN);
	char *dir = bench_dir();
	printf("bench_cloud_log in %s (crc32c: %s)\n", dir, crc32c_impl());
	raw_disk(dir);
	struct log *keep = NULL;
	const struct run runs[] = {
		{"append, no fsync", 1, 0, 16384, (size_t)240 << 20, false},
		{"append, group commit", 4, 64, 16384, (size_t)256 << 20, false},
		{"append, group commit", 4, 64, 1024, (size_t)32 << 20, false},
		{"append, flusher", 4, -1, 16384, (size_t)256 << 20, false},
		{"append, flusher", 4, -1, 1024, (size_t)32 << 20, false},
		{"append, fsync each", 1, 1, 16384, (size_t)16 << 20, false},
		{"append, memory", 1, 0, 16384, (size_t)256 << 20, true},
	};
	for (size_t i = 0; i < sizeof runs / sizeof runs[0]; i++)
		append_run(dir, &runs[i], i == 0 ? &keep : NULL);
	read_run(keep);
	log_close(keep);
	open_run(dir, runs[0].name);
	test_rmtree(dir);
	free(dir);
	return 0;
}
