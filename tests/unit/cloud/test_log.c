/* The partition log through its interface, on the memory and the file backend alike: append and offsets,
 * Fetch-style reads (whole batches, max bytes, high watermark), roll, retention, index and time lookups,
 * truncation, DeleteRecords, idempotent producer checks, replica appends, malformed batches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "kafka/batch.h"
#include "log_fixture.h"

static void test_append_read(void **state)
{
	struct fx *f = *state;
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(log_end_offset(f->log), 0);
	struct log_read rd;
	assert_int_equal(log_read(f->log, 0, 1000, INT64_MAX, &rd), 0);
	assert_int_equal(rd.span.len, 0);
	struct log_append_info info;
	struct test_batch b = test_batch_default();
	b.records = 3;
	for (int i = 0; i < 10; i++) {
		assert_int_equal(fx_append(f, &b, &info), 0);
		assert_true(info.appended);
		assert_int_equal(info.base_offset, 3 * i);
		assert_int_equal(info.last_offset, 3 * i + 2);
		assert_int_equal(info.record_count, 3);
	}
	assert_int_equal(log_end_offset(f->log), 30);
	assert_int_equal(test_log_verify(f->log), 10);

	/* an offset inside a batch returns the whole batch holding it */
	assert_int_equal(log_read(f->log, 4, 1 << 20, INT64_MAX, &rd), 0);
	assert_int_equal(rd.first_offset, 3);
	assert_int_equal(rd.next_offset, 30);
	uint8_t out[4096];
	assert_int_equal(log_read_copy(f->log, &rd, out), 0);
	struct batch_header h;
	assert_int_equal(batch_header_decode(out, rd.span.len, 4096, &h), 0);
	assert_int_equal(h.base_offset, 3);
	assert_int_equal(h.leader_epoch, 3); /* stamped */
	assert_true(batch_crc_ok(&h, out, batch_size(&h)));
	if (f->backend == FX_FILE) {
		assert_true(rd.span.fd >= 0);
		assert_null(rd.span.ptr);
	} else {
		assert_non_null(rd.span.ptr);
	}
	log_read_release(f->log, &rd);

	assert_int_equal(log_read(f->log, 30, 1000, INT64_MAX, &rd), 0);
	assert_int_equal(rd.span.len, 0);
	assert_int_equal(log_read(f->log, 31, 1000, INT64_MAX, &rd), ERR_RANGE);
	assert_int_equal(log_read(f->log, -1, 1000, INT64_MAX, &rd), ERR_RANGE);
}

static void test_read_bounds(void **state)
{
	struct fx *f = *state;
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(fx_append_n(f, 20, 2), 40);
	struct log_read rd;
	assert_int_equal(log_read(f->log, 0, 1, INT64_MAX, &rd), 0);
	size_t one = rd.span.len; /* max_bytes below one batch still returns one whole batch */
	assert_true(one > 1);
	assert_int_equal(rd.next_offset, 2);
	log_read_release(f->log, &rd);
	assert_int_equal(log_read(f->log, 0, one * 5 / 2, INT64_MAX, &rd), 0);
	assert_int_equal(rd.span.len, one * 2);
	assert_int_equal(rd.next_offset, 4);
	log_read_release(f->log, &rd);
	/* the high watermark: only batches wholly below max_offset */
	assert_int_equal(log_read(f->log, 0, 1 << 20, 7, &rd), 0);
	assert_int_equal(rd.next_offset, 6);
	log_read_release(f->log, &rd);
	assert_int_equal(log_read(f->log, 6, 1 << 20, 7, &rd), 0);
	assert_int_equal(rd.span.len, 0);
	/* every offset and every max_bytes answers with the batch holding it and whole batches only */
	for (int64_t off = 0; off < 40; off++) {
		for (size_t max = 1; max < 2000; max += 97) {
			assert_int_equal(log_read(f->log, off, max, INT64_MAX, &rd), 0);
			assert_int_equal(rd.first_offset, off - off % 2);
			assert_int_equal(rd.span.len % one, 0);
			assert_true(rd.span.len <= (max > one ? max : one));
			assert_int_equal(rd.next_offset, rd.first_offset + 2 * (int64_t)(rd.span.len / one));
			log_read_release(f->log, &rd);
		}
	}
}

static void test_roll_and_index(void **state)
{
	struct fx *f = *state;
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(fx_append_n(f, 300, 1), 300);
	assert_true(log_segment_count(f->log) > 5);
	assert_int_equal(test_log_verify(f->log), 300);
	struct log_read rd;
	for (int64_t off = 0; off < 300; off += 7) {
		assert_int_equal(log_read(f->log, off, 1, INT64_MAX, &rd), 0);
		assert_int_equal(rd.first_offset, off);
		assert_int_equal(rd.next_offset, off + 1);
		log_read_release(f->log, &rd);
	}
	/* a read never crosses a segment: it ends at the roll point */
	assert_int_equal(log_read(f->log, 0, 1 << 20, INT64_MAX, &rd), 0);
	assert_true(rd.span.len <= f->cfg.segment_bytes);
	assert_true(rd.next_offset < 300);
	log_read_release(f->log, &rd);
	assert_int_equal(log_start_offset(f->log), 0);
}

static void test_roll_by_age(void **state)
{
	struct fx *f = *state;
	f->cfg.segment_ms = 1000;
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(fx_append_n(f, 3, 1), 3);
	assert_int_equal(log_segment_count(f->log), 1);
	test_now_ms += 999;
	assert_int_equal(fx_append_n(f, 1, 1), 4);
	assert_int_equal(log_segment_count(f->log), 1);
	test_now_ms += 1;
	assert_int_equal(fx_append_n(f, 1, 1), 5);
	assert_int_equal(log_segment_count(f->log), 2);
	/* retention rolls an old active segment too, so that nothing waits for the next append */
	test_now_ms += 1000;
	assert_int_equal(log_retention(f->log, NULL), 0);
	assert_int_equal(log_segment_count(f->log), 3);
	assert_int_equal(test_log_verify(f->log), 5);
}

static void test_retention_size(void **state)
{
	struct fx *f = *state;
	f->cfg.retention_bytes = 8192;
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(fx_append_n(f, 400, 1), 400);
	uint64_t before = log_size_bytes(f->log);
	size_t deleted = 0;
	assert_int_equal(log_retention(f->log, &deleted), 0);
	assert_true(deleted > 0);
	assert_true(log_size_bytes(f->log) < before);
	assert_true(log_size_bytes(f->log) >= 8192 - f->cfg.segment_bytes);
	assert_true(log_size_bytes(f->log) <= 8192 + f->cfg.segment_bytes);
	int64_t start = log_start_offset(f->log);
	assert_true(start > 0);
	struct log_read rd;
	assert_int_equal(log_read(f->log, start - 1, 100, INT64_MAX, &rd), ERR_RANGE);
	assert_int_equal(log_read(f->log, start, 100, INT64_MAX, &rd), 0);
	assert_int_equal(rd.first_offset, start);
	log_read_release(f->log, &rd);
	assert_int_equal(test_log_verify(f->log), 400 - start);
	if (f->backend == FX_FILE) {
		char name[64];
		snprintf(name, sizeof name, "%020d.log", 0);
		assert_false(test_file_exists(test_path(f->dir, name)));
	}
}

static void test_retention_time(void **state)
{
	struct fx *f = *state;
	f->cfg.retention_ms = 10000;
	assert_int_equal(fx_open(f), 0);
	struct log_append_info info;
	struct test_batch b = test_batch_default();
	/* record timestamps: old ones, then recent ones */
	for (int i = 0; i < 200; i++) {
		b.base_ts = i < 100 ? test_now_ms - 50000 : test_now_ms - 100;
		assert_int_equal(fx_append(f, &b, &info), 0);
	}
	size_t deleted;
	assert_int_equal(log_retention(f->log, &deleted), 0);
	assert_true(deleted > 0);
	int64_t start = log_start_offset(f->log);
	assert_true(start > 0 && start <= 100);
	assert_int_equal(test_log_verify(f->log), 200 - start);
	/* nothing newer goes */
	assert_int_equal(log_retention(f->log, &deleted), 0);
	assert_int_equal(deleted, 0);
}

static void test_read_survives_retention(void **state)
{
	struct fx *f = *state;
	f->cfg.retention_bytes = 0;
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(fx_append_n(f, 200, 1), 200);
	struct log_read rd;
	assert_int_equal(log_read(f->log, 0, 1 << 20, INT64_MAX, &rd), 0);
	assert_true(rd.span.len > 0);
	assert_int_equal(log_retention(f->log, NULL), 0);
	assert_int_equal(log_segment_count(f->log), 1);
	/* the span still reads the (now deleted) segment's bytes */
	uint8_t *out = malloc(rd.span.len);
	assert_int_equal(log_read_copy(f->log, &rd, out), 0);
	struct batch_header h;
	assert_int_equal(batch_header_decode(out, rd.span.len, 4096, &h), 0);
	assert_int_equal(h.base_offset, 0);
	assert_true(batch_crc_ok(&h, out, batch_size(&h)));
	free(out);
	log_read_release(f->log, &rd);
}

static void test_offset_for_time(void **state)
{
	struct fx *f = *state;
	assert_int_equal(fx_open(f), 0);
	struct log_append_info info;
	struct test_batch b = test_batch_default();
	b.records = 5;
	b.ts_step = 10;
	struct log_time_lookup tl;
	assert_int_equal(log_max_timestamp(f->log, &tl), ERR_NOT_FOUND);
	/* batch i holds offsets 5i..5i+4 with timestamps 100000 + 100i + 10k */
	for (int i = 0; i < 200; i++) {
		b.base_ts = 100000 + 100 * i;
		assert_int_equal(fx_append(f, &b, &info), 0);
	}
	assert_true(log_segment_count(f->log) > 3);
	for (int i = 0; i < 200; i += 3) {
		for (int k = 0; k < 5; k++) {
			assert_int_equal(log_offset_for_time(f->log, 100000 + 100 * i + 10 * k, &tl), 0);
			assert_int_equal(tl.offset, 5 * i + k);
			assert_int_equal(tl.timestamp, 100000 + 100 * i + 10 * k);
		}
		/* between records: the next one */
		assert_int_equal(log_offset_for_time(f->log, 100000 + 100 * i + 41, &tl), 0);
		assert_int_equal(tl.offset, 5 * i + 5);
	}
	assert_int_equal(log_offset_for_time(f->log, 0, &tl), 0);
	assert_int_equal(tl.offset, 0);
	assert_int_equal(log_offset_for_time(f->log, 100000 + 100 * 199 + 41, &tl), ERR_NOT_FOUND);
	assert_int_equal(log_max_timestamp(f->log, &tl), 0);
	assert_int_equal(tl.offset, 5 * 199 + 4);
	assert_int_equal(tl.timestamp, 100000 + 100 * 199 + 40);
	/* an LZ4 batch (as the agent ships them) is decompressed to find the exact record */
	uint8_t scratch[4096];
	struct kafka_batch_builder bb;
	kafka_batch_builder_init(&bb, KAFKA_COMPRESSION_LZ4, f->buf, sizeof f->buf, scratch, sizeof scratch);
	for (int k = 0; k < 6; k++)
		assert_int_equal(kafka_batch_append(&bb, 900000 + 10 * k, NULL, -1, "value value value", 17, NULL, 0), 0);
	int blen = kafka_batch_finish(&bb);
	assert_true(blen > 0);
	assert_int_equal(log_append(f->log, f->buf, (size_t)blen, 1, LOG_APPEND_LEADER, &info), 0);
	assert_int_equal(info.base_offset, 1000);
	assert_int_equal(log_offset_for_time(f->log, 900000 + 25, &tl), 0);
	assert_int_equal(tl.offset, 1003);
	assert_int_equal(tl.timestamp, 900000 + 30);
	/* non-monotonic timestamps: the first batch in offset order whose max >= target */
	b.base_ts = 50;
	assert_int_equal(fx_append(f, &b, &info), 0);
	assert_int_equal(log_offset_for_time(f->log, 60, &tl), 0);
	assert_int_equal(tl.offset, 0);
}

static void test_truncate(void **state)
{
	struct fx *f = *state;
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(fx_append_n(f, 100, 3), 300);
	int segs = (int)log_segment_count(f->log);
	assert_true(segs > 2);
	assert_int_equal(log_truncate(f->log, 301), 0); /* past the end: nothing */
	assert_int_equal(log_end_offset(f->log), 300);
	assert_int_equal(log_truncate(f->log, 151), 0); /* inside batch 150..152: the whole batch goes */
	assert_int_equal(log_end_offset(f->log), 150);
	assert_true((int)log_segment_count(f->log) < segs);
	assert_int_equal(test_log_verify(f->log), 50);
	assert_int_equal(fx_append_n(f, 10, 3), 180);
	assert_int_equal(test_log_verify(f->log), 60);
	struct log_time_lookup tl;
	assert_int_equal(log_offset_for_time(f->log, 1000 + 150, &tl), 0);
	assert_int_equal(tl.offset, 150);
	assert_int_equal(log_truncate(f->log, 0), 0);
	assert_int_equal(log_end_offset(f->log), 0);
	assert_int_equal(test_log_verify(f->log), 0);
	assert_int_equal(fx_append_n(f, 2, 1), 2);
}

static void test_advance_start(void **state)
{
	struct fx *f = *state;
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(fx_append_n(f, 300, 1), 300);
	size_t segs = log_segment_count(f->log);
	assert_int_equal(log_advance_start(f->log, 301), ERR_RANGE);
	assert_int_equal(log_advance_start(f->log, 150), 0);
	assert_int_equal(log_start_offset(f->log), 150);
	assert_true(log_segment_count(f->log) < segs);
	struct log_read rd;
	assert_int_equal(log_read(f->log, 149, 100, INT64_MAX, &rd), ERR_RANGE);
	assert_int_equal(log_read(f->log, 150, 1, INT64_MAX, &rd), 0);
	assert_int_equal(rd.first_offset, 150);
	log_read_release(f->log, &rd);
	assert_int_equal(log_advance_start(f->log, 100), 0); /* never goes back */
	assert_int_equal(log_start_offset(f->log), 150);
	if (f->backend == FX_FILE) {
		assert_int_equal(log_close(f->log), 0);
		f->log = NULL;
		assert_int_equal(fx_open(f), 0);
		assert_int_equal(log_start_offset(f->log), 150);
		assert_int_equal(log_end_offset(f->log), 300);
	}
}

static void test_idempotent_append(void **state)
{
	struct fx *f = *state;
	assert_int_equal(fx_open(f), 0);
	struct log_append_info info;
	struct test_batch b = test_batch_default();
	assert_int_equal(fx_append_n(f, 2, 1), 2);
	b.producer_id = 1234;
	b.producer_epoch = 0;
	b.base_sequence = 0;
	b.records = 4;
	assert_int_equal(fx_append(f, &b, &info), 0);
	assert_true(info.appended);
	assert_int_equal(info.base_offset, 2);
	b.base_sequence = 4;
	assert_int_equal(fx_append(f, &b, &info), 0);
	assert_int_equal(info.base_offset, 6);
	/* retry of the first: not appended, original offsets */
	b.base_sequence = 0;
	assert_int_equal(fx_append(f, &b, &info), 0);
	assert_false(info.appended);
	assert_int_equal(info.producer.verdict, PRODUCER_DUPLICATE);
	assert_int_equal(info.base_offset, 2);
	assert_int_equal(info.last_offset, 5);
	assert_int_equal(log_end_offset(f->log), 10);
	b.base_sequence = 9;
	assert_int_equal(fx_append(f, &b, &info), 0);
	assert_int_equal(info.producer.verdict, PRODUCER_OUT_OF_ORDER);
	assert_false(info.appended);
	b.producer_epoch = 1;
	b.base_sequence = 0;
	assert_int_equal(fx_append(f, &b, &info), 0);
	assert_true(info.appended);
	b.producer_epoch = 0;
	b.base_sequence = 8;
	assert_int_equal(fx_append(f, &b, &info), 0);
	assert_int_equal(info.producer.verdict, PRODUCER_FENCED);
	assert_int_equal(log_end_offset(f->log), 14);
	assert_int_equal(test_log_verify(f->log), 5);
	struct log_stats st;
	log_get_stats(f->log, &st);
	assert_int_equal(st.append_count, 5);
	assert_int_equal(st.duplicate_count, 1);
	assert_int_equal(st.refused_count, 2);
	/* truncation rebuilds producer state: the epoch-1 batch is gone, so epoch 0 continues */
	assert_int_equal(log_truncate(f->log, 10), 0);
	b.producer_epoch = 0;
	b.base_sequence = 8;
	assert_int_equal(fx_append(f, &b, &info), 0);
	assert_true(info.appended);
	assert_int_equal(info.base_offset, 10);
}

static void test_replica_append(void **state)
{
	struct fx *f = *state;
	assert_int_equal(fx_open(f), 0);
	struct log_append_info info;
	struct test_batch b = test_batch_default();
	b.base_offset = 10;
	b.records = 2;
	size_t len = test_batch_make(f->buf, sizeof f->buf, &b);
	assert_int_equal(log_append(f->log, f->buf, len, 0, LOG_APPEND_REPLICA, &info), 0);
	assert_int_equal(info.base_offset, 10);
	assert_int_equal(log_end_offset(f->log), 12);
	b.base_offset = 11;
	len = test_batch_make(f->buf, sizeof f->buf, &b);
	assert_int_equal(log_append(f->log, f->buf, len, 0, LOG_APPEND_REPLICA, &info), ERR_RANGE);
	struct log_read rd;
	assert_int_equal(log_read(f->log, 10, 100, INT64_MAX, &rd), 0);
	assert_int_equal(rd.first_offset, 10);
	assert_int_equal(rd.next_offset, 12);
	log_read_release(f->log, &rd);
}

static void test_bad_batches(void **state)
{
	struct fx *f = *state;
	assert_int_equal(fx_open(f), 0);
	struct log_append_info info;
	struct test_batch b = test_batch_default();
	size_t len = test_batch_make(f->buf, sizeof f->buf, &b);
	f->buf[len - 1] ^= 1;
	assert_int_equal(log_append(f->log, f->buf, len, 0, LOG_APPEND_LEADER, &info), ERR_CORRUPT);
	f->buf[len - 1] ^= 1;
	assert_int_equal(log_append(f->log, f->buf, len - 1, 0, LOG_APPEND_LEADER, &info), ERR_MALFORMED);
	assert_int_equal(log_append(f->log, f->buf, 20, 0, LOG_APPEND_LEADER, &info), ERR_MALFORMED);
	f->buf[BATCH_OFF_MAGIC] = 1;
	assert_int_equal(log_append(f->log, f->buf, len, 0, LOG_APPEND_LEADER, &info), ERR_UNSUPPORTED);
	/* a header whose offset span does not match its record count */
	b.records = 3;
	len = test_batch_make(f->buf, sizeof f->buf, &b);
	be32_put(f->buf + BATCH_OFF_LAST_OFFSET_DELTA, 1000);
	be32_put(f->buf + BATCH_OFF_CRC, batch_crc_compute(f->buf, len));
	assert_int_equal(log_append(f->log, f->buf, len, 0, LOG_APPEND_LEADER, &info), ERR_MALFORMED);
	b.records = 1;
	b.value_len = 3000; /* over batch_bytes_max (2048) */
	len = test_batch_make(f->buf, sizeof f->buf, &b);
	assert_int_equal(log_append(f->log, f->buf, len, 0, LOG_APPEND_LEADER, &info), ERR_TOO_LARGE);
	assert_int_equal(log_end_offset(f->log), 0);
	assert_int_equal(test_log_verify(f->log), 0);
}

static void append_epoch(struct fx *f, int32_t epoch, int n)
{
	struct log_append_info info;
	struct test_batch b = test_batch_default();
	b.records = 2;
	for (int i = 0; i < n; i++) {
		size_t len = test_batch_make(f->buf, sizeof f->buf, &b);
		assert_int_equal(log_append(f->log, f->buf, len, epoch, LOG_APPEND_LEADER, &info), 0);
	}
}

static void expect_epoch_end(struct fx *f, int32_t req, int32_t want_epoch, int64_t want_end)
{
	int32_t e;
	int64_t o;
	log_epoch_end_offset(f->log, req, &e, &o);
	assert_int_equal(e, want_epoch);
	assert_int_equal(o, want_end);
}

static void test_leader_epochs(void **state)
{
	struct fx *f = *state;
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(log_latest_epoch(f->log), -1);
	append_epoch(f, 1, 50); /* offsets 0..99 */
	append_epoch(f, 2, 50); /* 100..199 */
	append_epoch(f, 5, 50); /* 200..299 */
	assert_int_equal(log_latest_epoch(f->log), 5);
	expect_epoch_end(f, 1, 1, 100);
	expect_epoch_end(f, 2, 2, 200);
	expect_epoch_end(f, 3, 2, 200);
	expect_epoch_end(f, 5, 5, 300);
	expect_epoch_end(f, 6, -1, -1);
	/* a follower appending the leader's batches keeps their epochs */
	struct log_append_info info;
	struct test_batch b = test_batch_default();
	b.base_offset = 300;
	size_t len = test_batch_make(f->buf, sizeof f->buf, &b);
	be32_put(f->buf + BATCH_OFF_LEADER_EPOCH, 7);
	assert_int_equal(log_append(f->log, f->buf, len, 0, LOG_APPEND_REPLICA, &info), 0);
	expect_epoch_end(f, 5, 5, 300);
	expect_epoch_end(f, 7, 7, 301);
	/* truncation forgets epochs that began at or after the new end */
	assert_int_equal(log_truncate(f->log, 150), 0);
	assert_int_equal(log_latest_epoch(f->log), 2);
	expect_epoch_end(f, 2, 2, 150);
	expect_epoch_end(f, 5, -1, -1);
	/* the start moving past an epoch drops it */
	assert_int_equal(log_advance_start(f->log, 120), 0);
	expect_epoch_end(f, 1, 1, 120);
	expect_epoch_end(f, 2, 2, 150);
	if (f->backend == FX_FILE) {
		assert_int_equal(log_close(f->log), 0);
		f->log = NULL;
		assert_int_equal(fx_open(f), 0);
		expect_epoch_end(f, 1, 1, 120);
		expect_epoch_end(f, 2, 2, 150);
		unlink(test_path(f->dir, "leader-epoch-checkpoint")); /* rebuilt from the batches */
		assert_int_equal(log_close(f->log), 0);
		f->log = NULL;
		unlink(test_path(f->dir, "leader-epoch-checkpoint"));
		assert_int_equal(fx_open(f), 0);
		expect_epoch_end(f, 2, 2, 150);
		expect_epoch_end(f, 1, 1, 120);
		assert_true(test_file_exists(test_path(f->dir, "leader-epoch-checkpoint")));
	}
}

static void test_reset_and_jump(void **state)
{
	struct fx *f = *state;
	assert_int_equal(fx_open(f), 0);
	assert_int_equal(fx_append_n(f, 100, 1), 100);
	assert_int_equal(log_reset(f->log, 5000000000LL), 0);
	assert_int_equal(log_start_offset(f->log), 5000000000LL);
	assert_int_equal(log_end_offset(f->log), 5000000000LL);
	assert_int_equal(log_segment_count(f->log), 1);
	assert_int_equal(log_latest_epoch(f->log), -1);
	struct log_read rd;
	assert_int_equal(log_read(f->log, 99, 100, INT64_MAX, &rd), ERR_RANGE);
	assert_int_equal(fx_append_n(f, 3, 1), 5000000003LL);
	assert_int_equal(test_log_verify(f->log), 3);
	/* a replica batch more than 2^31 offsets past the segment base starts a new segment */
	struct log_append_info info;
	struct test_batch b = test_batch_default();
	b.base_offset = 5000000003LL + 3000000000LL;
	size_t len = test_batch_make(f->buf, sizeof f->buf, &b);
	assert_int_equal(log_append(f->log, f->buf, len, 0, LOG_APPEND_REPLICA, &info), 0);
	assert_int_equal(log_segment_count(f->log), 2);
	assert_int_equal(test_log_verify(f->log), 4);
	if (f->backend == FX_FILE) {
		assert_int_equal(log_close(f->log), 0);
		f->log = NULL;
		assert_int_equal(fx_open(f), 0);
		assert_int_equal(log_start_offset(f->log), 5000000000LL);
		assert_int_equal(log_end_offset(f->log), 8000000004LL);
		assert_int_equal(test_log_verify(f->log), 4);
	}
}

static void test_config_bounds(void **state)
{
	(void)state;
	struct log_config cfg;
	struct log *log;
	log_config_default(&cfg);
	assert_int_equal(log_config_check(&cfg), 0);
	cfg.segment_bytes = (size_t)3 << 30;
	assert_int_equal(log_config_check(&cfg), ERR_CONFIG);
	assert_int_equal(log_mem_open(&cfg, &log), ERR_CONFIG);
	log_config_default(&cfg);
	cfg.batch_bytes_max = cfg.segment_bytes + 1;
	assert_int_equal(log_config_check(&cfg), ERR_CONFIG);
	log_config_default(&cfg);
	cfg.index_interval_bytes = 1;
	assert_int_equal(log_config_check(&cfg), ERR_CONFIG);
	log_config_default(&cfg);
	cfg.producers_max = 0;
	assert_int_equal(log_config_check(&cfg), ERR_CONFIG);
}

#define BOTH(t)                                                                                              \
	cmocka_unit_test_prestate_setup_teardown(t, fx_setup, fx_teardown, (void *)&fx_mem),                 \
		cmocka_unit_test_prestate_setup_teardown(t, fx_setup, fx_teardown, (void *)&fx_file)

int main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_append_read),     BOTH(test_read_bounds),      BOTH(test_roll_and_index),
		BOTH(test_roll_by_age),     BOTH(test_retention_size),   BOTH(test_retention_time),
		BOTH(test_read_survives_retention), BOTH(test_offset_for_time), BOTH(test_truncate),
		BOTH(test_advance_start),   BOTH(test_idempotent_append), BOTH(test_replica_append),
		BOTH(test_bad_batches),     BOTH(test_leader_epochs),
		BOTH(test_reset_and_jump),  cmocka_unit_test(test_config_bounds),
	};
	return cmocka_run_group_tests_name("cloud/log", tests, NULL, NULL);
}
