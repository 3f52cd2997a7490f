/* Record batches v2: build and read back (none and lz4), headers, null keys/values, idempotence fields,
 * CRC32C coverage (stamping offset and epoch keeps it valid, any other flip breaks it), truncation at every
 * offset, decompression bounds (bombs), unsupported codecs refused, builder limits, legacy magic 0/1. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <lz4frame.h>

#include "base/crc32c.h"
#include "kafka/batch.h"

static uint8_t out[1 << 20], scratch[1 << 20], plain[1 << 20];

static const struct kafka_record_header hdrs[] = {
	{ { "mqtt.topic", 10 }, { (const uint8_t *)"a/b", 3 } },
	{ { "mqtt.qos", 8 }, { (const uint8_t *)"1", 1 } },
	{ { "nil", 3 }, { NULL, -1 } },
};

static int build(int compression, int n, size_t out_cap)
{
	struct kafka_batch_builder bb;
	kafka_batch_builder_init(&bb, compression, out, out_cap, scratch, sizeof scratch);
	bb.producer_id = 4242;
	bb.producer_epoch = 3;
	bb.base_sequence = 100;
	for (int i = 0; i < n; i++) {
		char key[32], val[64];
		int kl = snprintf(key, sizeof key, "agent-7/sensors/%d", i % 10);
		int vl = snprintf(val, sizeof val, "{\"t\":%d,\"v\":%d.5}", i, i * 3);
		int rc = kafka_batch_append(&bb, 1700000000000 + i, i % 7 == 3 ? NULL : key, i % 7 == 3 ? -1 : kl,
					    i % 11 == 5 ? NULL : val, i % 11 == 5 ? -1 : vl, hdrs, (size_t)(i % 4));
		assert_int_equal(rc, 0);
	}
	return kafka_batch_finish(&bb);
}

static void check(const uint8_t *buf, int len, int n, int compression)
{
	struct kafka_batch b;
	assert_int_equal(kafka_batch_parse(buf, (size_t)len, (size_t)len, &b), len);
	assert_int_equal(b.record_count, n);
	assert_int_equal(b.last_offset_delta, n - 1);
	assert_int_equal(kafka_batch_compression(&b), compression);
	assert_int_equal(b.producer_id, 4242);
	assert_int_equal(b.producer_epoch, 3);
	assert_int_equal(b.base_sequence, 100);
	assert_int_equal(b.max_timestamp, 1700000000000 + n - 1);
	const uint8_t *recs;
	size_t recs_len;
	assert_int_equal(kafka_batch_records(&b, plain, sizeof plain, &recs, &recs_len), 0);
	struct kafka_record_iter it;
	kafka_record_iter_init(&it, &b, recs, recs_len);
	struct kafka_record r;
	int i = 0;
	while (kafka_record_next(&it, &r) == 1) {
		char key[32], val[64];
		int kl = snprintf(key, sizeof key, "agent-7/sensors/%d", i % 10);
		int vl = snprintf(val, sizeof val, "{\"t\":%d,\"v\":%d.5}", i, i * 3);
		assert_int_equal(r.offset, b.base_offset + i);
		assert_int_equal(r.timestamp, 1700000000000 + i);
		assert_int_equal(r.sequence, 100 + i);
		if (i % 7 == 3) {
			assert_int_equal(r.key.len, -1);
		} else {
			assert_int_equal(r.key.len, kl);
			assert_memory_equal(r.key.p, key, (size_t)kl);
		}
		if (i % 11 == 5) {
			assert_int_equal(r.value.len, -1);
		} else {
			assert_int_equal(r.value.len, vl);
			assert_memory_equal(r.value.p, val, (size_t)vl);
		}
		assert_int_equal(r.header_count, i % 4);
		struct kafka_header_iter hi;
		struct kafka_record_header h;
		kafka_header_iter_init(&hi, &r);
		int k = 0;
		while (kafka_record_header_next(&hi, &h) == 1) {
			assert_int_equal(h.key.len, hdrs[k].key.len);
			assert_memory_equal(h.key.p, hdrs[k].key.p, (size_t)h.key.len);
			assert_int_equal(h.value.len, hdrs[k].value.len);
			k++;
		}
		assert_int_equal(k, i % 4);
		i++;
	}
	assert_int_equal(i, n);
	assert_int_equal(kafka_record_next(&it, &r), 0);
}

static void test_build_parse_none(void **state)
{
	(void)state;
	int len = build(KAFKA_COMPRESSION_NONE, 50, sizeof out);
	assert_true(len > KAFKA_BATCH_HEADER_SIZE);
	check(out, len, 50, KAFKA_COMPRESSION_NONE);
}

static void test_build_parse_lz4(void **state)
{
	(void)state;
	int len = build(KAFKA_COMPRESSION_LZ4, 1000, sizeof out);
	assert_true(len > KAFKA_BATCH_HEADER_SIZE);
	check(out, len, 1000, KAFKA_COMPRESSION_LZ4);
	/* The lz4 batch is smaller than the same records uncompressed. */
	struct kafka_batch b;
	assert_int_equal(kafka_batch_parse(out, (size_t)len, sizeof out, &b), len);
	const uint8_t *recs;
	size_t recs_len;
	assert_int_equal(kafka_batch_records(&b, plain, sizeof plain, &recs, &recs_len), 0);
	assert_true((size_t)len < recs_len);
	assert_int_equal(kafka_batch_validate(&b, plain, sizeof plain), 0);
	assert_int_equal(kafka_batch_validate(&b, plain, 1000), ERR_TOO_LARGE);
	/* Bounded decompression: one byte short of the content is refused, not overrun. */
	size_t exact = recs_len;
	assert_int_equal(kafka_batch_records(&b, plain, exact, &recs, &recs_len), 0);
	assert_int_equal(recs_len, exact);
	assert_int_equal(kafka_batch_records(&b, plain, exact - 1, &recs, &recs_len), ERR_TOO_LARGE);
}

static void test_lz4_bomb(void **state)
{
	(void)state;
	/* 1 MB of zeros compresses to a few KB; a reader with a 64 KB bound stops at the bound. */
	static uint8_t zeros[1 << 20];
	static uint8_t frame[1 << 16];
	static uint8_t big[2 << 20];
	memset(zeros, 0, sizeof zeros);
	assert_int_equal(kafka_lz4_compress(zeros, sizeof zeros, scratch, 1000), ERR_TOO_LARGE);
	int n = kafka_lz4_compress(zeros, sizeof zeros, big, sizeof big);
	memcpy(scratch, big, (size_t)n);
	assert_true(n > 0 && n < (int)sizeof frame);
	size_t got;
	assert_int_equal(kafka_lz4_decompress(scratch, (size_t)n, plain, 1 << 16, &got), ERR_TOO_LARGE);
	assert_true(got <= 1 << 16);
	assert_int_equal(kafka_lz4_decompress(scratch, (size_t)n, plain, sizeof plain, &got), 0);
	assert_int_equal(got, sizeof zeros);
	/* Truncated frames and trailing garbage are malformed. */
	assert_int_equal(kafka_lz4_decompress(scratch, (size_t)n - 1, plain, sizeof plain, &got), ERR_MALFORMED);
	scratch[n] = 0x55;
	assert_int_equal(kafka_lz4_decompress(scratch, (size_t)n + 1, plain, sizeof plain, &got), ERR_MALFORMED);
	memcpy(frame, "\x04\x22\x4d\x19", 4); /* wrong magic */
	assert_int_equal(kafka_lz4_decompress(frame, 4, plain, sizeof plain, &got), ERR_MALFORMED);
}

/* Every frame shape liblz4 can write reads back through our frame reader: block sizes 64 KB..4 MB, linked
 * blocks, block and content checksums, a content size (over the bound: refused before decoding), and
 * incompressible data (stored blocks). */
static void test_lz4_frame_shapes(void **state)
{
	(void)state;
	static uint8_t src[600000], frame[700000];
	uint64_t x = 1;
	for (size_t i = 0; i < sizeof src; i++) {
		x = x * 6364136223846793005ull + 1442695040888963407ull;
		src[i] = i < 300000 ? (uint8_t)("ferry telemetry "[i % 16] + (i / 5000) % 3) : (uint8_t)(x >> 56);
	}
	for (int shape = 0; shape < 8; shape++) {
		LZ4F_preferences_t p = { 0 };
		p.frameInfo.blockSizeID = (LZ4F_blockSizeID_t)(LZ4F_max64KB + shape % 4);
		p.frameInfo.blockMode = shape & 1 ? LZ4F_blockLinked : LZ4F_blockIndependent;
		p.frameInfo.contentChecksumFlag = shape & 2 ? LZ4F_contentChecksumEnabled : LZ4F_noContentChecksum;
		p.frameInfo.blockChecksumFlag = shape & 4 ? LZ4F_blockChecksumEnabled : LZ4F_noBlockChecksum;
		p.frameInfo.contentSize = shape >= 4 ? sizeof src : 0;
		size_t n = LZ4F_compressFrame(frame, sizeof frame, src, sizeof src, &p);
		assert_false(LZ4F_isError(n));
		size_t got;
		assert_int_equal(kafka_lz4_decompress(frame, n, plain, sizeof plain, &got), 0);
		assert_int_equal(got, sizeof src);
		assert_memory_equal(plain, src, sizeof src);
		assert_int_equal(kafka_lz4_decompress(frame, n, plain, sizeof src - 1, &got), ERR_TOO_LARGE);
		assert_true(got < sizeof src);
		for (size_t cut = 0; cut < n; cut += 997)
			assert_int_not_equal(kafka_lz4_decompress(frame, cut, plain, sizeof plain, &got), 0);
	}
}

static void test_crc_and_stamping(void **state)
{
	(void)state;
	int len = build(KAFKA_COMPRESSION_LZ4, 20, sizeof out);
	struct kafka_batch b;
	kafka_batch_set_base_offset(out, 123456789012);
	kafka_batch_set_leader_epoch(out, 17);
	assert_int_equal(kafka_batch_parse(out, (size_t)len, sizeof out, &b), len);
	assert_int_equal(b.base_offset, 123456789012);
	assert_int_equal(b.partition_leader_epoch, 17);
	check(out, len, 20, KAFKA_COMPRESSION_LZ4);
	for (int at = KAFKA_BATCH_CRC_START; at < len; at += 7) {
		out[at] ^= 0x40;
		assert_int_equal(kafka_batch_parse(out, (size_t)len, sizeof out, &b), ERR_CORRUPT);
		out[at] ^= 0x40;
	}
	for (int cut = 0; cut < len; cut++) {
		int rc = kafka_batch_parse(out, (size_t)cut, sizeof out, &b);
		assert_true(rc == ERR_AGAIN);
	}
	assert_int_equal(kafka_batch_parse(out, (size_t)len, (size_t)len - 1, &b), ERR_TOO_LARGE);
	out[16] = 1;
	assert_int_equal(kafka_batch_parse(out, (size_t)len, sizeof out, &b), ERR_KAFKA_BAD_MAGIC);
	assert_int_equal(kafka_batch_magic(out, (size_t)len), 1);
}

static void recrc(uint8_t *buf, int len)
{
	be32_put(buf + 17, crc32c(0, buf + KAFKA_BATCH_CRC_START, (size_t)len - KAFKA_BATCH_CRC_START));
}

static void test_unsupported_codecs(void **state)
{
	(void)state;
	int len = build(KAFKA_COMPRESSION_NONE, 5, sizeof out);
	struct kafka_batch b;
	const uint8_t *recs;
	size_t recs_len;
	for (int codec = 1; codec <= 7; codec++) {
		if (codec == KAFKA_COMPRESSION_LZ4)
			continue;
		out[22] = (uint8_t)((out[22] & ~7) | codec);
		recrc(out, len);
		assert_int_equal(kafka_batch_parse(out, (size_t)len, sizeof out, &b), len);
		int want = codec <= KAFKA_COMPRESSION_ZSTD ? ERR_KAFKA_UNSUPPORTED_COMPRESSION : ERR_MALFORMED;
		assert_int_equal(kafka_batch_records(&b, plain, sizeof plain, &recs, &recs_len), want);
	}
	/* An lz4-flagged batch whose records are not an lz4 frame is malformed, never read as plain. */
	out[22] = (uint8_t)((out[22] & ~7) | KAFKA_COMPRESSION_LZ4);
	recrc(out, len);
	assert_int_equal(kafka_batch_parse(out, (size_t)len, sizeof out, &b), len);
	assert_int_equal(kafka_batch_records(&b, plain, sizeof plain, &recs, &recs_len), ERR_MALFORMED);
	struct kafka_batch_builder bb;
	kafka_batch_builder_init(&bb, KAFKA_COMPRESSION_ZSTD, out, sizeof out, scratch, sizeof scratch);
	assert_int_equal(kafka_batch_append(&bb, 0, "k", 1, "v", 1, NULL, 0), ERR_KAFKA_UNSUPPORTED_COMPRESSION);
}

static void test_bad_records(void **state)
{
	(void)state;
	int len = build(KAFKA_COMPRESSION_NONE, 3, sizeof out);
	struct kafka_batch b;
	struct kafka_record_iter it;
	struct kafka_record r;
	/* Claim 4 records where 3 are present: the iterator reports malformed at the end, not garbage. */
	be32_put(out + 57, 4);
	recrc(out, len);
	assert_int_equal(kafka_batch_parse(out, (size_t)len, sizeof out, &b), len);
	kafka_record_iter_init(&it, &b, b.records, b.records_len);
	for (int i = 0; i < 3; i++)
		assert_int_equal(kafka_record_next(&it, &r), 1);
	assert_int_equal(kafka_record_next(&it, &r), ERR_MALFORMED);
	assert_int_equal(kafka_batch_validate(&b, plain, sizeof plain), ERR_KAFKA_INVALID_RECORD); /* delta 2 != 3 */
	/* Claim 2: trailing bytes after the last record are malformed. */
	be32_put(out + 57, 2);
	recrc(out, len);
	assert_int_equal(kafka_batch_parse(out, (size_t)len, sizeof out, &b), len);
	kafka_record_iter_init(&it, &b, b.records, b.records_len);
	assert_int_equal(kafka_record_next(&it, &r), 1);
	assert_int_equal(kafka_record_next(&it, &r), 1);
	assert_int_equal(kafka_record_next(&it, &r), ERR_MALFORMED);
	/* A record length pointing past the end. */
	be32_put(out + 57, 3);
	out[KAFKA_BATCH_HEADER_SIZE] = 0x7e;
	recrc(out, len);
	assert_int_equal(kafka_batch_parse(out, (size_t)len, sizeof out, &b), len);
	kafka_record_iter_init(&it, &b, b.records, b.records_len);
	assert_int_equal(kafka_record_next(&it, &r), ERR_MALFORMED);
}

static void test_builder_limits(void **state)
{
	(void)state;
	struct kafka_batch_builder bb;
	uint8_t small[200];
	kafka_batch_builder_init(&bb, KAFKA_COMPRESSION_NONE, small, sizeof small, NULL, 0);
	assert_int_equal(kafka_batch_finish(&bb), ERR_STATE);
	int appended = 0;
	while (kafka_batch_append(&bb, 5, "key", 3, "0123456789", 10, NULL, 0) == 0)
		appended++;
	assert_true(appended > 3);
	assert_int_equal(kafka_batch_append(&bb, 5, "key", 3, "0123456789", 10, NULL, 0), ERR_FULL);
	assert_int_equal(kafka_batch_builder_count(&bb), appended);
	assert_int_equal(kafka_batch_builder_bytes(&bb), (size_t)appended * kafka_record_size(0, 0, 3, 10, NULL, 0));
	int len = kafka_batch_finish(&bb);
	assert_true(len > 0 && len <= (int)sizeof small);
	struct kafka_batch b;
	assert_int_equal(kafka_batch_parse(small, (size_t)len, sizeof small, &b), len);
	assert_int_equal(b.record_count, appended);
	assert_int_equal(b.producer_id, -1);
	assert_int_equal(b.base_sequence, -1);
	assert_int_equal(kafka_record_size(0, 0, 3, 10, NULL, 0), 1 + 1 + 1 + 1 + 1 + 3 + 1 + 10 + 1);
	/* lz4 output that cannot hold the compressed frame. */
	kafka_batch_builder_init(&bb, KAFKA_COMPRESSION_LZ4, small, 64, scratch, sizeof scratch);
	assert_int_equal(kafka_batch_append(&bb, 5, "key", 3, "0123456789", 10, NULL, 0), 0);
	assert_int_equal(kafka_batch_finish(&bb), ERR_TOO_LARGE);
}

/* Two legacy messages (magic 0 then magic 1), CRC-32 computed by python's zlib. */
static const uint8_t legacy[] = {
	0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x13, 0x87, 0xa7, 0x7a, 0xb2, 0x00, 0x00,
	0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x05, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x00, 0x00, 0x00, 0x00, 0x00,
	0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x1c, 0xa6, 0x78, 0xd0, 0xbc, 0x01, 0x00, 0x00, 0x00, 0x01, 0x8b, 0xcf,
	0xe5, 0x68, 0x00, 0x00, 0x00, 0x00, 0x01, 0x6b, 0x00, 0x00, 0x00, 0x05, 0x77, 0x6f, 0x72, 0x6c, 0x64,
};

static void test_legacy(void **state)
{
	(void)state;
	struct kafka_legacy_message m;
	assert_int_equal(kafka_batch_magic(legacy, sizeof legacy), 0);
	int n = kafka_legacy_next(legacy, sizeof legacy, &m);
	assert_int_equal(n, 31);
	assert_int_equal(m.magic, 0);
	assert_int_equal(m.key.len, -1);
	assert_int_equal(m.value.len, 5);
	assert_memory_equal(m.value.p, "hello", 5);
	assert_int_equal(kafka_legacy_next(legacy + n, sizeof legacy - (size_t)n, &m), 40);
	assert_int_equal(m.magic, 1);
	assert_int_equal(m.offset, 1);
	assert_int_equal(m.timestamp, 1700000000000);
	assert_memory_equal(m.key.p, "k", 1);
	for (size_t cut = 0; cut < 31; cut++)
		assert_int_equal(kafka_legacy_next(legacy, cut, &m), ERR_AGAIN);
	uint8_t bad[sizeof legacy];
	memcpy(bad, legacy, sizeof legacy);
	bad[28] ^= 1;
	assert_int_equal(kafka_legacy_next(bad, sizeof bad, &m), ERR_CORRUPT);
	/* An lz4 wrapper (magic 1) around an inner message set. */
	uint8_t wrap[256];
	int fl = kafka_lz4_compress(legacy + n, 40, scratch, sizeof scratch);
	assert_true(fl > 0);
	struct kafka_legacy_message w = { .offset = 1, .magic = 1, .attributes = KAFKA_COMPRESSION_LZ4,
					  .key = { NULL, -1 }, .value = { scratch, fl } };
	size_t inner_len;
	assert_int_equal(kafka_legacy_inner(&w, wrap, sizeof wrap, &inner_len), 0);
	assert_int_equal(inner_len, 40);
	assert_memory_equal(wrap, legacy + n, 40);
	w.magic = 0; /* magic 0 lz4 (KAFKA-3160's bad header checksum is not checked) */
	assert_int_equal(kafka_legacy_inner(&w, wrap, sizeof wrap, &inner_len), 0);
	w.attributes = KAFKA_COMPRESSION_SNAPPY;
	assert_int_equal(kafka_legacy_inner(&w, wrap, sizeof wrap, &inner_len), ERR_KAFKA_UNSUPPORTED_COMPRESSION);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_build_parse_none), cmocka_unit_test(test_build_parse_lz4),
		cmocka_unit_test(test_lz4_bomb), cmocka_unit_test(test_lz4_frame_shapes),
		cmocka_unit_test(test_crc_and_stamping),
		cmocka_unit_test(test_unsupported_codecs), cmocka_unit_test(test_bad_records),
		cmocka_unit_test(test_builder_limits), cmocka_unit_test(test_legacy),
	};
	return cmocka_run_group_tests_name("kafka/batch", tests, NULL, NULL);
}
