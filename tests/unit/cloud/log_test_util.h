/* Helpers shared by the cloud/log unit tests (static, header-only: tests/unit/ links every .c into every
 * binary).  Builds real RecordBatch v2 batches with uncompressed records and a correct CRC32C. */
#ifndef FERRY_TEST_LOG_UTIL_H
#define FERRY_TEST_LOG_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/rw.h"
#include "cloud/log/batch_header.h"
#include "cloud/log/log.h"
#include "port.h"

struct test_batch {
	int records;
	int64_t base_ts;
	int64_t ts_step;   /* record i has base_ts + i * ts_step */
	int64_t producer_id;
	int16_t producer_epoch;
	int32_t base_sequence;
	size_t value_len;
	int16_t attributes;
	int64_t base_offset;
};

static inline struct test_batch test_batch_default(void)
{
	return (struct test_batch){.records = 1, .base_ts = 1000, .ts_step = 1, .producer_id = -1,
				   .producer_epoch = -1, .base_sequence = -1, .value_len = 10};
}

/* Encode a batch into buf; returns its length (asserts it fits). */
static inline size_t test_batch_make(uint8_t *buf, size_t cap, const struct test_batch *b)
{
	struct wbuf w;
	wbuf_init(&w, buf, cap);
	wbuf_u64(&w, (uint64_t)b->base_offset);
	uint8_t *len_at = wbuf_reserve(&w, 4);
	wbuf_u32(&w, 0); /* leader epoch */
	wbuf_u8(&w, 2);
	uint8_t *crc_at = wbuf_reserve(&w, 4);
	wbuf_u16(&w, (uint16_t)b->attributes);
	wbuf_u32(&w, (uint32_t)(b->records > 0 ? b->records - 1 : 0));
	wbuf_u64(&w, (uint64_t)b->base_ts);
	wbuf_u64(&w, (uint64_t)(b->base_ts + (b->records > 0 ? b->records - 1 : 0) * b->ts_step));
	wbuf_u64(&w, (uint64_t)b->producer_id);
	wbuf_u16(&w, (uint16_t)b->producer_epoch);
	wbuf_u32(&w, (uint32_t)b->base_sequence);
	wbuf_u32(&w, (uint32_t)b->records);
	for (int i = 0; i < b->records; i++) {
		int64_t tsd = (int64_t)i * b->ts_step;
		size_t body = 1 + varlong_size(tsd) + varint_size(i) + varint_size(-1) +
			      varint_size((int32_t)b->value_len) + b->value_len + varint_size(0);
		wbuf_varint(&w, (int32_t)body);
		wbuf_u8(&w, 0);
		wbuf_varlong(&w, tsd);
		wbuf_varint(&w, i);
		wbuf_varint(&w, -1);
		wbuf_varint(&w, (int32_t)b->value_len);
		for (size_t k = 0; k < b->value_len; k++)
			wbuf_u8(&w, (uint8_t)('a' + (i + k) % 26));
		wbuf_varint(&w, 0);
	}
	if (w.err || !len_at || !crc_at) {
		fprintf(stderr, "test_batch_make: buffer too small\n");
		abort();
	}
	be32_put(len_at, (uint32_t)(w.len - 12));
	be32_put(crc_at, batch_crc_compute(buf, w.len));
	return w.len;
}

/* A fresh empty directory under $TMPDIR (or /tmp); the caller frees the string. */
static inline char *test_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char *p = malloc(4096);
	snprintf(p, 4096, "%s/ferry-log-XXXXXX", base && *base ? base : "/tmp");
	if (!mkdtemp(p)) {
		perror("mkdtemp");
		abort();
	}
	return p;
}

static inline void test_rmtree(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	char path[8192];
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path)
			continue;
		struct stat st;
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
			test_rmtree(path);
		else
			unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

static inline char *test_path(const char *dir, const char *name)
{
	static char p[8192];
	if (snprintf(p, sizeof p, "%s/%s", dir, name) >= (int)sizeof p)
		abort();
	return p;
}

static inline int64_t test_file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (int64_t)st.st_size : -1;
}

static inline bool test_file_exists(const char *path) { return access(path, F_OK) == 0; }

static int64_t test_now_ms = 1000000;
static inline int64_t test_clock(void) { return test_now_ms; }

/* Small segments so that tests roll often. */
static inline void test_log_config(struct log_config *cfg)
{
	log_config_default(cfg);
	cfg->segment_bytes = 4096;
	cfg->index_interval_bytes = 256;
	cfg->batch_bytes_max = 2048;
	cfg->segment_ms = -1;
	cfg->retention_ms = -1;
	cfg->clock_ms = test_clock;
}

/* Read everything from the start to the end and check that batches are whole, CRC-valid and in offset
 * order (gaps are allowed: a replica or a recovered log may have them; test logs have none unless made so);
 * returns the number of batches (or -1 on any inconsistency). */
static inline long test_log_verify(struct log *log)
{
	int64_t off = log_start_offset(log), end = log_end_offset(log);
	long batches = 0;
	uint8_t *buf = malloc(1 << 20);
	while (off < end) {
		struct log_read rd;
		if (log_read(log, off, 1 << 20, INT64_MAX, &rd) || rd.span.len == 0 || rd.span.len > (1 << 20))
			goto bad;
		if (log_read_copy(log, &rd, buf)) {
			log_read_release(log, &rd);
			goto bad;
		}
		size_t pos = 0;
		int64_t expect = rd.first_offset;
		while (pos < rd.span.len) {
			struct batch_header h;
			if (batch_header_decode(buf + pos, rd.span.len - pos, 1 << 20, &h) ||
			    batch_size(&h) > rd.span.len - pos || !batch_crc_ok(&h, buf + pos, batch_size(&h)) ||
			    h.base_offset < expect || (pos == 0 && h.base_offset != rd.first_offset)) {
				log_read_release(log, &rd);
				goto bad;
			}
			expect = batch_last_offset(&h) + 1;
			pos += batch_size(&h);
			batches++;
		}
		if (expect > rd.next_offset || rd.next_offset <= off) {
			log_read_release(log, &rd);
			goto bad;
		}
		off = rd.next_offset;
		log_read_release(log, &rd);
	}
	free(buf);
	return batches;
bad:
	free(buf);
	return -1;
}

#endif
