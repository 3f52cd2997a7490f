/* Kafka codec rates: Produce requests carrying one 1,000-record lz4 batch, encoded (append records, lz4,
 * CRC32C, request framing) and decoded (request, batch CRC, lz4, every record and header), plus CRC32C and
 * lz4 alone, each beside liblz4's own rate on the same bytes in the same run.  Prints figures; asserts
 * nothing.  Method: docs/kafka-codec.md. */
#include <lz4.h>
#include <lz4frame.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/crc32c.h"
#include "kafka/batch.h"
#include "kafka/proto.h"
#include "port.h"

#define RECORDS 1000
#define BUF_CAP (4u << 20)
#define RUN_NS 200000000ull /* each of three runs of a measurement lasts ~0.2 s */

static uint8_t *batch, *scratch, *req, *plain, *lz, *arena_mem;
static char keys[RECORDS][48], vals[RECORDS][192];
static int key_len[RECORDS], val_len[RECORDS];
static size_t raw_bytes; /* key + value bytes of one batch */
static volatile uint64_t sink;

static const struct kafka_record_header hdrs[2] = {
	{ { "mqtt.topic", 10 }, { (const uint8_t *)"site/7/line-3/temp", 18 } },
	{ { "mqtt.qos", 8 }, { (const uint8_t *)"1", 1 } },
};

static void make_data(void)
{
	uint64_t x = 88172645463325252ull;
	for (int i = 0; i < RECORDS; i++) {
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		key_len[i] = snprintf(keys[i], sizeof keys[i], "agent-7/site/7/line-%d/sensor-%d", i % 4, i % 37);
		val_len[i] = snprintf(vals[i], sizeof vals[i],
				      "{\"ts\":%llu,\"temp\":%d.%02d,\"hum\":%d,\"status\":\"%s\",\"seq\":%d}",
				      1700000000000ull + (unsigned long long)i * 10, 18 + (int)(x % 9), (int)(x >> 8) % 100,
				      30 + (int)(x >> 16) % 50, x & 64 ? "ok" : "warming", i);
		raw_bytes += (size_t)(key_len[i] + val_len[i]);
	}
}

static int build_batch_with(int compression)
{
	struct kafka_batch_builder bb;
	kafka_batch_builder_init(&bb, compression, batch, BUF_CAP, scratch, BUF_CAP);
	bb.producer_id = 9;
	bb.producer_epoch = 0;
	bb.base_sequence = 0;
	for (int i = 0; i < RECORDS; i++)
		kafka_batch_append(&bb, 1700000000000 + i * 10, keys[i], key_len[i], vals[i], val_len[i], hdrs,
				   i % 2 + 1);
	return kafka_batch_finish(&bb);
}

static int build_batch(void) { return build_batch_with(KAFKA_COMPRESSION_LZ4); }

/* Walk every record and header of an uncompressed records section. */
static int iterate(const struct kafka_batch *b, const uint8_t *p, size_t plen)
{
	struct kafka_record_iter it;
	struct kafka_record rec;
	kafka_record_iter_init(&it, b, p, plen);
	int n = 0;
	while (kafka_record_next(&it, &rec) == 1) {
		struct kafka_header_iter hi;
		struct kafka_record_header hh;
		kafka_header_iter_init(&hi, &rec);
		while (kafka_record_header_next(&hi, &hh) == 1)
			sink += (uint64_t)hh.value.len;
		sink += (uint64_t)rec.value.len;
		n++;
	}
	return n;
}

static int encode_produce(int batch_len)
{
	struct kafka_produce_request_partition_produce_data pd = { 0, { batch, batch_len } };
	struct kafka_produce_request_topic_produce_data td = { { "telemetry", 9 }, { &pd, 1 } };
	struct kafka_produce_request r;
	kafka_msg_init(&kafka_msg_produce_request, &r);
	r.acks = -1;
	r.timeout_ms = 30000;
	r.topic_data.items = &td;
	r.topic_data.count = 1;
	struct kafka_request_header h = { KAFKA_API_PRODUCE, 9, 1, { "ferry-agent", 11 } };
	return kafka_request_encode(&h, &r, req, BUF_CAP);
}

static int decode_produce(int req_len)
{
	struct kafka_request_header h;
	union kafka_any_request r;
	struct kafka_arena a;
	kafka_arena_init(&a, arena_mem, 1 << 16);
	if (kafka_request_decode(req + 4, (size_t)req_len - 4, &h, &r, &a))
		return -1;
	struct kafka_bytes recs = r.produce.topic_data.items[0].partition_data.items[0].records;
	struct kafka_batch b;
	if (kafka_batch_parse(recs.p, (size_t)recs.len, BUF_CAP, &b) < 0)
		return -1;
	const uint8_t *p;
	size_t plen;
	if (kafka_batch_records(&b, plain, BUF_CAP, &p, &plen))
		return -1;
	return iterate(&b, p, plen);
}

/* Runs the body for RUN_NS, three times, and keeps the best calls-per-second: the machine is shared, and the
 * best run is the one least disturbed by others. */
#define TIMED(calls_per_s, ...) \
	do { \
		calls_per_s = 0; \
		for (int r_ = 0; r_ < 3; r_++) { \
			uint64_t t0_ = port_now_ns(), n_ = 0, t_; \
			do { \
				for (int k_ = 0; k_ < 8; k_++) { __VA_ARGS__; } \
				n_ += 8; \
			} while ((t_ = port_now_ns() - t0_) < RUN_NS); \
			double v_ = (double)n_ * 1e9 / (double)t_; \
			if (v_ > calls_per_s) \
				calls_per_s = v_; \
		} \
	} while (0)

int main(void)
{
	batch = malloc(BUF_CAP), scratch = malloc(BUF_CAP), req = malloc(BUF_CAP), plain = malloc(BUF_CAP);
	lz = malloc(BUF_CAP), arena_mem = malloc(1 << 16);
	if (!batch || !scratch || !req || !plain || !lz || !arena_mem)
		return 1;
	make_data();
	int blen = build_batch();
	int rlen = encode_produce(blen);
	if (blen < 0 || rlen < 0 || decode_produce(rlen) != RECORDS) {
		fprintf(stderr, "bench_kafka: setup failed\n");
		return 1;
	}
	/* The uncompressed records section, as lz4 sees it (scratch holds it after build_batch). */
	size_t rec_len = 0;
	{
		struct kafka_batch b;
		const uint8_t *p;
		kafka_batch_parse(batch, (size_t)blen, BUF_CAP, &b);
		kafka_batch_records(&b, plain, BUF_CAP, &p, &rec_len);
		memcpy(scratch, p, rec_len);
	}
	printf("kafka: Produce v9, 1 batch of %d records, %zu B keys+values, %zu B records, %d B lz4 batch, %d B request\n",
	       RECORDS, raw_bytes, rec_len, blen, rlen);
	printf("crc32c implementation: %s\n\n", crc32c_impl());

	double append, iter, enc, dec, enc_only, crc_hw, crc_sw, ours_c, ours_d, lib_fc, lib_fd, lib_bc, lib_bd;
	struct kafka_batch pb;
	kafka_batch_parse(batch, (size_t)blen, BUF_CAP, &pb);
	TIMED(iter, sink += (uint64_t)iterate(&pb, scratch, rec_len));
	TIMED(append, sink += (uint64_t)build_batch_with(KAFKA_COMPRESSION_NONE));
	blen = build_batch();
	TIMED(enc, { int b = build_batch(); sink += (uint64_t)encode_produce(b); });
	TIMED(enc_only, sink += (uint64_t)encode_produce(blen));
	TIMED(dec, sink += (uint64_t)decode_produce(rlen));
	TIMED(crc_hw, sink += crc32c(0, scratch, rec_len));
	TIMED(crc_sw, sink += crc32c_sw(0, scratch, rec_len));
	TIMED(ours_c, sink += (uint64_t)kafka_lz4_compress(scratch, rec_len, lz, BUF_CAP));
	int lzn = kafka_lz4_compress(scratch, rec_len, lz, BUF_CAP);
	size_t got;
	TIMED(ours_d, { kafka_lz4_decompress(lz, (size_t)lzn, plain, BUF_CAP, &got); sink += got; });
	LZ4F_preferences_t prefs = { .frameInfo = { .blockSizeID = LZ4F_max64KB, .blockMode = LZ4F_blockIndependent } };
	TIMED(lib_fc, sink += LZ4F_compressFrame(lz, BUF_CAP, scratch, rec_len, &prefs));
	LZ4F_dctx *d;
	LZ4F_createDecompressionContext(&d, LZ4F_VERSION);
	TIMED(lib_fd, {
		size_t dn = BUF_CAP, sn = (size_t)lzn;
		LZ4F_resetDecompressionContext(d);
		LZ4F_decompress(d, plain, &dn, lz, &sn, NULL);
		sink += dn;
	});
	LZ4F_freeDecompressionContext(d);
	TIMED(lib_bc, sink += (uint64_t)LZ4_compress_default((const char *)scratch, (char *)lz, (int)rec_len, BUF_CAP));
	int bn = LZ4_compress_default((const char *)scratch, (char *)lz, (int)rec_len, BUF_CAP);
	TIMED(lib_bd, sink += (uint64_t)LZ4_decompress_safe((const char *)lz, (char *)plain, bn, BUF_CAP));

	double mb = (double)rec_len / 1e6;
	printf("%-52s %12s %12s %10s\n", "operation (same data, same run)", "per second", "records/s", "MB/s");
	printf("%-52s %12.0f %12.0f %10.0f\n", "Produce encode: append 1000 + lz4 + CRC + frame", enc, enc * RECORDS, enc * mb);
	printf("%-52s %12.0f %12.0f %10.0f\n", "Produce encode: frame a ready batch", enc_only, enc_only * RECORDS, enc_only * mb);
	printf("%-52s %12.0f %12.0f %10.0f\n", "Produce decode: request + CRC + lz4 + all records", dec, dec * RECORDS, dec * mb);
	printf("%-52s %12.0f %12.0f %10.0f\n", "  of which: append 1000 records + CRC (no lz4)", append, append * RECORDS, append * mb);
	printf("%-52s %12.0f %12.0f %10.0f\n", "  of which: iterate 1000 records + headers", iter, iter * RECORDS, iter * mb);
	printf("%-52s %12.0f %12s %10.0f\n", "  beside: liblz4 LZ4F_compressFrame (same records)", lib_fc, "", lib_fc * mb);
	printf("%-52s %12.0f %12s %10.0f\n", "  beside: liblz4 LZ4F_decompress (same frame)", lib_fd, "", lib_fd * mb);
	printf("%-52s %12.0f %12s %10.0f\n", "kafka_lz4_compress (ours, over LZ4F)", ours_c, "", ours_c * mb);
	printf("%-52s %12.0f %12s %10.0f\n", "kafka_lz4_decompress (ours, bounded)", ours_d, "", ours_d * mb);
	printf("%-52s %12.0f %12s %10.0f\n", "liblz4 LZ4_compress_default (block, no frame)", lib_bc, "", lib_bc * mb);
	printf("%-52s %12.0f %12s %10.0f\n", "liblz4 LZ4_decompress_safe (block, no frame)", lib_bd, "", lib_bd * mb);
	printf("%-52s %12.0f %12s %10.0f\n", "crc32c over the records", crc_hw, "", crc_hw * mb);
	printf("%-52s %12.0f %12s %10.0f\n", "crc32c_sw (table) over the records", crc_sw, "", crc_sw * mb);
	printf("\nratios: encode/liblz4-compress %.2f, decode/liblz4-decompress %.2f, crc32c/liblz4-decompress %.1f\n",
	       enc / lib_fc, dec / lib_fd, crc_hw / lib_fd);
	free(batch), free(scratch), free(req), free(plain), free(lz), free(arena_mem);
	return sink == 42;
}
