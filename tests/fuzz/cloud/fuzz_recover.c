/* Recovery of arbitrary bytes as a segment file: opening must never crash, never read past what it bounded,
 * and must leave a log that reads back as whole CRC-valid contiguous batches, accepts appends, and reopens
 * to the same state.
 *
 * Input: flags byte (bit 0: clean-shutdown marker, bit 1: an .index file follows, bit 2: a second copy of
 * the bytes as a later segment), then when bit 1 is set a 16-bit length and that many index bytes, then the
 * .log bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "base/log.h"
#include "tests/unit/cloud/log_test_util.h"

static char *dir;

static void write_file(const char *name, const uint8_t *p, size_t n)
{
	int fd = open(test_path(dir, name), O_CREAT | O_TRUNC | O_WRONLY, 0644);
	if (fd < 0)
		abort();
	if (n && write(fd, p, n) != (ssize_t)n)
		abort();
	close(fd);
}

static void clear_dir(void)
{
	test_rmtree(dir);
	if (mkdir(dir, 0755) < 0)
		abort();
}

#define check(ok)                                                                                            \
	do {                                                                                                 \
		if (!(ok)) {                                                                                 \
			fprintf(stderr, "fuzz_recover: check failed at line %d: %s\n", __LINE__, #ok);      \
			abort();                                                                             \
		}                                                                                            \
	} while (0)

static void quiet(void *ctx, enum log_level level, const char *line)
{
	(void)ctx, (void)level, (void)line;
}

/* Durability is not under test here, and skipping fsync makes runs a hundred times faster. */
static int no_sync(int fd)
{
	(void)fd;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!dir) {
		port_sys.fsync = no_sync;
		port_sys.fdatasync = no_sync;
		dir = test_tmpdir();
		log_set_level(LOG_ERROR);
		log_set_sink(quiet, NULL);
	}
	if (size < 1 || size > (1 << 20))
		return 0;
	uint8_t flags = data[0];
	data++, size--;
	clear_dir();
	if (flags & 2) {
		if (size < 2)
			return 0;
		size_t n = (size_t)data[0] << 8 | data[1];
		data += 2, size -= 2;
		if (n > size)
			n = size;
		write_file("00000000000000000000.index", data, n);
		data += n, size -= n;
	}
	write_file("00000000000000000000.log", data, size);
	if (flags & 4)
		write_file("00000000000000000007.log", data, size);
	if (flags & 1)
		write_file(".clean-shutdown", NULL, 0);

	struct log_config cfg;
	log_config_default(&cfg);
	cfg.segment_bytes = 1 << 20;
	cfg.batch_bytes_max = 1 << 16;
	cfg.index_interval_bytes = 128;
	cfg.producers_max = 64;
	cfg.retention_ms = cfg.segment_ms = -1;
	struct log *log;
	if (log_file_open(dir, &cfg, &log))
		return 0; /* refusing is fine (e.g. I/O); crashing is not */
	long batches = test_log_verify(log);
	check(batches >= 0);
	int64_t end = log_end_offset(log);

	uint8_t buf[512];
	struct test_batch b = test_batch_default();
	b.records = 3;
	b.producer_id = 99;
	b.producer_epoch = 0;
	b.base_sequence = 0;
	size_t len = test_batch_make(buf, sizeof buf, &b);
	struct log_append_info info;
	int rc = log_append(log, buf, len, 1, LOG_APPEND_LEADER, &info);
	/* a recovered producer 99 may make this a duplicate or out of order, but never an error */
	check(rc == 0);
	if (info.appended)
		check(info.base_offset == end && log_end_offset(log) == end + 3);
	end = log_end_offset(log);
	struct log_time_lookup tl;
	(void)log_offset_for_time(log, 1000, &tl);
	check(test_log_verify(log) >= 0);
	check(log_close(log) == 0);

	check(log_file_open(dir, &cfg, &log) == 0);
	check(log_end_offset(log) == end);
	check(test_log_verify(log) >= 0);
	check(log_close(log) == 0);
	return 0;
}
