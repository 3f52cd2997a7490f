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
#define RUN_NS 100000000ull /* one operation's turn in a round: 0.1 s */
#define ROUNDS 5

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
	kafka_arena_init(&a, arena_mem, 1 << 20);
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

/* Shared state of the measured operations (set up once in main). */
static int g_blen, g_rlen, g_lzn, g_bn;
static size_t g_rec_len;
static struct kafka_batch g_batch;
static LZ4F_dctx *g_dctx;
static const LZ4F_preferences_t g_prefs = {
	.frameInfo = { .blockSizeID = LZ4F_max64KB, .blockMode = LZ4F_blockIndependent },
};

static void op_encode(void) { sink += (uint64_t)encode_produce(build_batch()); }
static void op_encode_ready(void) { sink += (uint64_t)encode_produce(g_blen); }
static void op_decode(void) { sink += (uint64_t)decode_produce(g_rlen); }
static void op_append(void) { sink += (uint64_t)build_batch_with(KAFKA_COMPRESSION_NONE); }
static void op_iterate(void) { sink += (uint64_t)iterate(&g_batch, scratch, g_rec_len); }
static void op_lib_fc(void) { sink += LZ4F_compressFrame(lz, BUF_CAP, scratch, g_rec_len, &g_prefs); }
static void op_lib_fd(void)
{
	size_t dn = BUF_CAP, sn = (size_t)g_lzn;
	LZ4F_resetDecompressionContext(g_dctx);
	LZ4F_decompress(g_dctx, plain, &dn, lz, &sn, NULL);
	sink += dn;
}
static void op_ours_c(void) { sink += (uint64_t)kafka_lz4_compress(scratch, g_rec_len, lz + BUF_CAP / 2, BUF_CAP / 2); }
static void op_ours_d(void)
{
	size_t got;
	kafka_lz4_decompress(lz, (size_t)g_lzn, plain, BUF_CAP, &got);
	sink += got;
}
static void op_lib_bc(void)
{
	sink += (uint64_t)LZ4_compress_default((const char *)scratch, (char *)lz + BUF_CAP / 2, (int)g_rec_len, BUF_CAP / 2);
}
static void op_lib_bd(void)
{
	sink += (uint64_t)LZ4_decompress_safe((const char *)lz + BUF_CAP / 2, (char *)plain, g_bn, BUF_CAP);
}
/* A big Metadata v12 answer (100 topics x 10 partitions, 3 replicas): the generic table-driven codec on the
 * message a broker sends most. */
static uint8_t *meta_buf;
static int meta_len;
static struct kafka_metadata_response meta;

static void make_metadata(void)
{
	static struct kafka_metadata_response_broker b[3];
	static struct kafka_metadata_response_topic t[100];
	static struct kafka_metadata_response_partition p[100][10];
	static int32_t replicas[3] = { 1, 2, 3 };
	static char names[100][24];
	kafka_msg_init(&kafka_msg_metadata_response, &meta);
	for (int i = 0; i < 3; i++) {
		KAFKA_INIT(kafka_metadata_response_broker, &b[i]);
		b[i].node_id = i + 1;
		b[i].host = (struct kafka_str){ "broker.example.net", 18 };
		b[i].port = 9092;
	}
	for (int i = 0; i < 100; i++) {
		KAFKA_INIT(kafka_metadata_response_topic, &t[i]);
		int n = snprintf(names[i], sizeof names[i], "telemetry.site-%d", i);
		t[i].name = (struct kafka_str){ names[i], n };
		for (int k = 0; k < 10; k++) {
			KAFKA_INIT(kafka_metadata_response_partition, &p[i][k]);
			p[i][k].partition_index = k;
			p[i][k].leader_id = 1 + k % 3;
			p[i][k].replica_nodes.items = replicas;
			p[i][k].replica_nodes.count = 3;
			p[i][k].isr_nodes.items = replicas;
			p[i][k].isr_nodes.count = 3;
			p[i][k].offline_replicas.count = 0;
		}
		t[i].partitions.items = p[i];
		t[i].partitions.count = 10;
	}
	meta.brokers.items = b;
	meta.brokers.count = 3;
	meta.topics.items = t;
	meta.topics.count = 100;
	meta.cluster_id = (struct kafka_str){ "ferry", 5 };
	meta_buf = malloc(1 << 20);
	meta_len = kafka_msg_encode(&kafka_msg_metadata_response, 12, &meta, meta_buf, 1 << 20);
}

static void op_meta_encode(void) { sink += (uint64_t)kafka_msg_encode(&kafka_msg_metadata_response, 12, &meta, lz, BUF_CAP); }
static void op_meta_decode(void)
{
	static struct kafka_metadata_response out;
	struct kafka_arena a;
	kafka_arena_init(&a, arena_mem, 1 << 20);
	sink += (uint64_t)kafka_msg_decode(&kafka_msg_metadata_response, 12, meta_buf, (size_t)meta_len, &out, &a);
}

static void op_crc(void) { sink += crc32c(0, scratch, g_rec_len); }
static void op_crc_sw(void) { sink += crc32c_sw(0, scratch, g_rec_len); }

struct op {
	const char *name;
	void (*fn)(void);
	bool per_record;
	double best; /* calls per second */
};

static struct op ops[] = {
	{ "Produce encode: append 1000 + lz4 + CRC + frame", op_encode, true, 0 },
	{ "Produce encode: frame a ready batch", op_encode_ready, true, 0 },
	{ "Produce decode: request + CRC + lz4 + all records", op_decode, true, 0 },
	{ "  part: append 1000 records + CRC (no lz4)", op_append, true, 0 },
	{ "  part: iterate 1000 records + headers", op_iterate, true, 0 },
	{ "liblz4 LZ4F_compressFrame (same records)", op_lib_fc, false, 0 },
	{ "liblz4 LZ4F_decompress (same frame)", op_lib_fd, false, 0 },
	{ "kafka_lz4_compress (ours, over LZ4F)", op_ours_c, false, 0 },
	{ "kafka_lz4_decompress (ours: frame reader, no alloc)", op_ours_d, false, 0 },
	{ "liblz4 LZ4_compress_default (block, no frame)", op_lib_bc, false, 0 },
	{ "liblz4 LZ4_decompress_safe (block, no frame)", op_lib_bd, false, 0 },
	{ "crc32c over the records", op_crc, false, 0 },
	{ "crc32c_sw (table) over the records", op_crc_sw, false, 0 },
	{ "Metadata v12 answer, 100 topics x 10 partitions: encode", op_meta_encode, false, 0 },
	{ "Metadata v12 answer, 100 topics x 10 partitions: decode", op_meta_decode, false, 0 },
};

/* ROUNDS rounds, each running every operation for RUN_NS in turn; each keeps its best round.  Interleaving
 * spreads the noise of a shared machine over all operations alike, so the ratios are fair. */
static void measure(void)
{
	for (int round = 0; round < ROUNDS; round++)
		for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
			uint64_t t0 = port_now_ns(), n = 0, t;
			do {
				for (int k = 0; k < 4; k++)
					ops[i].fn();
				n += 4;
			} while ((t = port_now_ns() - t0) < RUN_NS);
			double v = (double)n * 1e9 / (double)t;
			if (v > ops[i].best)
				ops[i].best = v;
		}
}

int main(void)
{
	batch = malloc(BUF_CAP), scratch = malloc(BUF_CAP), req = malloc(BUF_CAP), plain = malloc(BUF_CAP);
	lz = malloc(BUF_CAP), arena_mem = malloc(1 << 20);
	if (!batch || !scratch || !req || !plain || !lz || !arena_mem)
		return 1;
	make_data();
	make_metadata();
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

	g_blen = blen, g_rlen = rlen, g_rec_len = rec_len;
	kafka_batch_parse(batch, (size_t)blen, BUF_CAP, &g_batch);
	g_lzn = kafka_lz4_compress(scratch, rec_len, lz, BUF_CAP / 2);
	g_bn = LZ4_compress_default((const char *)scratch, (char *)lz + BUF_CAP / 2, (int)rec_len, BUF_CAP / 2);
	LZ4F_createDecompressionContext(&g_dctx, LZ4F_VERSION);
	measure();
	LZ4F_freeDecompressionContext(g_dctx);

	double mb = (double)rec_len / 1e6;
	printf("%-56s %10s %12s %10s\n", "operation (same data, interleaved)", "per second", "records/s", "MB/s");
	for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
		char recs[32] = "";
		if (ops[i].per_record)
			snprintf(recs, sizeof recs, "%.0f", ops[i].best * RECORDS);
		double bytes = ops[i].fn == op_meta_encode || ops[i].fn == op_meta_decode ? (double)meta_len / 1e6 : mb;
		printf("%-56s %10.0f %12s %10.0f\n", ops[i].name, ops[i].best, recs, ops[i].best * bytes);
	}
	printf("\nratios: Produce encode / LZ4F compress %.2f, Produce decode / LZ4F decompress %.2f, "
	       "ours / LZ4F decompress %.2f, crc32c / LZ4F decompress %.1f\n",
	       ops[0].best / ops[5].best, ops[2].best / ops[6].best, ops[8].best / ops[6].best, ops[11].best / ops[6].best);
	printf("Metadata v12 answer: %d bytes\n", meta_len);
	free(batch), free(scratch), free(req), free(plain), free(lz), free(arena_mem), free(meta_buf);
	return sink == 42;
}
