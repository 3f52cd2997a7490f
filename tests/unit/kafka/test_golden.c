/* Golden frames captured from real clients (kcat/librdkafka, kafka-python, kafkajs against the librdkafka mock
 * cluster; @platformatic/kafka, which speaks the flexible versions, against our fake broker) in
 * tests/unit/kafka/golden_frames.h, made by tests/tools/kafka_capture.sh: every request and response decodes
 * and re-encodes byte-identically, and the record batches inside Produce requests and Fetch responses
 * (librdkafka's and @platformatic/kafka's are lz4) parse record by record. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <sys/mman.h>
#include <unistd.h>

#include "kafka/batch.h"
#include "kafka/proto.h"
#include "golden_frames.h"

static uint8_t arena_mem[1 << 20], out[1 << 16], plain[1 << 20];

/* Parse every batch in a records field; returns the number of records, and counts lz4 batches. */
static int walk_records(struct kafka_bytes recs, int *lz4_batches)
{
	int n = 0;
	size_t left = recs.len > 0 ? (size_t)recs.len : 0;
	const uint8_t *p = recs.p;
	while (left) {
		struct kafka_batch b;
		int used = kafka_batch_parse(p, left, left, &b);
		assert_true(used > 0);
		*lz4_batches += kafka_batch_compression(&b) == KAFKA_COMPRESSION_LZ4;
		const uint8_t *r;
		size_t rlen;
		assert_int_equal(kafka_batch_records(&b, plain, sizeof plain, &r, &rlen), 0);
		struct kafka_record_iter it;
		struct kafka_record rec;
		kafka_record_iter_init(&it, &b, r, rlen);
		int rc;
		while ((rc = kafka_record_next(&it, &rec)) == 1)
			n++;
		assert_int_equal(rc, 0);
		p += used;
		left -= (size_t)used;
	}
	return n;
}

static void check_request(const struct golden_frame *g, int *records, int *lz4_batches)
{
	struct kafka_request_header h;
	union kafka_any_request req;
	struct kafka_arena a;
	kafka_arena_init(&a, arena_mem, sizeof arena_mem);
	int rc = kafka_request_decode(g->bytes + 4, g->len - 4, &h, &req, &a);
	if (rc)
		fail_msg("%s request api %d v%d: %s", g->client, g->api_key, g->api_version, err_name(rc));
	assert_int_equal(h.api_key, g->api_key);
	assert_int_equal(h.api_version, g->api_version);
	int n = kafka_request_encode(&h, &req, out, sizeof out);
	assert_int_equal(n, (int)g->len);
	if (memcmp(out, g->bytes, g->len))
		fail_msg("%s request api %d v%d re-encodes differently", g->client, g->api_key, g->api_version);
	if (g->api_key == KAFKA_API_PRODUCE)
		for (int t = 0; t < req.produce.topic_data.count; t++)
			for (int p = 0; p < req.produce.topic_data.items[t].partition_data.count; p++)
				*records += walk_records(req.produce.topic_data.items[t].partition_data.items[p].records,
							 lz4_batches);
}

static void check_response(const struct golden_frame *g, int *records, int *lz4_batches)
{
	union kafka_any_response resp;
	struct kafka_arena a;
	int32_t corr;
	kafka_arena_init(&a, arena_mem, sizeof arena_mem);
	int rc = kafka_response_decode(g->bytes + 4, g->len - 4, g->api_key, g->api_version, &corr, &resp, &a);
	if (rc)
		fail_msg("%s response api %d v%d: %s", g->client, g->api_key, g->api_version, err_name(rc));
	if (g->api_key == KAFKA_API_API_VERSIONS && resp.api_versions.error_code == KAFKA_EC_UNSUPPORTED_VERSION &&
	    resp.api_versions.api_keys.count == 0)
		return; /* librdkafka 2.0's mock answers an unsupported ApiVersions in a non-KIP-511 shape: see proto.h */
	int n = kafka_response_encode(g->api_key, g->api_version, corr, &resp, out, sizeof out);
	assert_int_equal(n, (int)g->len);
	if (memcmp(out, g->bytes, g->len))
		fail_msg("%s response api %d v%d re-encodes differently", g->client, g->api_key, g->api_version);
	if (g->api_key == KAFKA_API_FETCH)
		for (int t = 0; t < resp.fetch.responses.count; t++)
			for (int p = 0; p < resp.fetch.responses.items[t].partitions.count; p++)
				*records += walk_records(resp.fetch.responses.items[t].partitions.items[p].records,
							 lz4_batches);
}

static void test_golden_frames(void **state)
{
	(void)state;
	static const int16_t required[] = { KAFKA_API_API_VERSIONS, KAFKA_API_METADATA, KAFKA_API_PRODUCE,
					    KAFKA_API_FETCH, KAFKA_API_JOIN_GROUP, KAFKA_API_SYNC_GROUP,
					    KAFKA_API_OFFSET_COMMIT };
	const char *clients[4] = { NULL };
	unsigned seen[4] = { 0 };
	int flexible = 0;
	int produced = 0, fetched = 0, lz4_produced = 0, lz4_fetched = 0;
	for (size_t i = 0; i < sizeof golden_frames / sizeof golden_frames[0]; i++) {
		const struct golden_frame *g = &golden_frames[i];
		int c = 0;
		while (c < 4 && clients[c] && strcmp(clients[c], g->client))
			c++;
		assert_true(c < 4);
		flexible += g->dir == 'C' && kafka_msg_flexible(kafka_message_find(g->api_key, KAFKA_REQUEST), g->api_version);
		clients[c] = g->client;
		for (size_t k = 0; k < sizeof required / sizeof required[0]; k++)
			if (g->api_key == required[k] && g->dir == 'C')
				seen[c] |= 1u << k;
		if (g->dir == 'C')
			check_request(g, &produced, &lz4_produced);
		else
			check_response(g, &fetched, &lz4_fetched);
	}
	for (int c = 0; c < 4; c++) {
		unsigned want = (1u << (sizeof required / sizeof required[0])) - 1;
		if (clients[c] && strstr(clients[c], "platformatic"))
			want &= ~(1u << 6); /* its consumer stops at Fetch v12 (it needs topic ids) before committing */
		if ((seen[c] & want) != want)
			fail_msg("%s: missing some of ApiVersions/Metadata/Produce/Fetch/JoinGroup/SyncGroup/OffsetCommit (%x)",
				 clients[c] ? clients[c] : "?", seen[c]);
	}
	/* kcat 3 + kafka-python 3 + kafkajs 2 + @platformatic/kafka 2 records produced; kcat's and
	 * @platformatic/kafka's batches are lz4. */
	assert_int_equal(produced, 10);
	assert_int_equal(lz4_produced, 2);
	assert_true(flexible >= 9); /* ApiVersions v3 from several, and Metadata v12, Produce v9, Fetch v12... */
	assert_true(fetched >= 3);
	printf("golden: %zu frames (%d flexible requests), %d records produced (%d lz4 batches), %d fetched\n",
	       sizeof golden_frames / sizeof golden_frames[0], flexible, produced, lz4_produced, fetched);
}

/* The guard-page trick (picohttpparser's test.c): each frame, and every prefix of it, is placed so that its last
 * byte is the last one before a PROT_NONE page; a decoder reading one byte too far faults, sanitizers or not. */
static void test_guard_page(void **state)
{
	(void)state;
	long page = sysconf(_SC_PAGESIZE);
	size_t span = (size_t)page * 8; /* room for the largest frame (16 KB) */
	uint8_t *region = mmap(NULL, span + (size_t)page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(region != MAP_FAILED);
	assert_int_equal(mprotect(region + span, (size_t)page, PROT_NONE), 0);
	size_t decodes = 0;
	for (size_t i = 0; i < sizeof golden_frames / sizeof golden_frames[0]; i++) {
		const struct golden_frame *g = &golden_frames[i];
		size_t body = g->len - 4;
		assert_true(body <= span);
		for (size_t cut = 0; cut <= body; cut++) {
			uint8_t *at = region + span - cut;
			memcpy(at, g->bytes + 4, cut);
			struct kafka_arena a;
			kafka_arena_init(&a, arena_mem, sizeof arena_mem);
			int rc;
			if (g->dir == 'C') {
				struct kafka_request_header h;
				union kafka_any_request req;
				rc = kafka_request_decode(at, cut, &h, &req, &a);
			} else {
				union kafka_any_response resp;
				int32_t corr;
				rc = kafka_response_decode(at, cut, g->api_key, g->api_version, &corr, &resp, &a);
			}
			/* Only the whole frame decodes (a prefix may pass as the peer's non-KIP-511 ApiVersions answer). */
			if (cut < body && rc == 0)
				assert_int_equal(g->api_key, KAFKA_API_API_VERSIONS);
			if (cut == body)
				assert_int_equal(rc, 0);
			decodes++;
		}
	}
	/* Record batches at the guard: kcat's lz4 batch from the golden Produce, cut everywhere. */
	for (size_t i = 0; i < sizeof golden_frames / sizeof golden_frames[0]; i++) {
		const struct golden_frame *g = &golden_frames[i];
		if (g->dir != 'C' || g->api_key != KAFKA_API_PRODUCE)
			continue;
		struct kafka_request_header h;
		union kafka_any_request req;
		struct kafka_arena a;
		kafka_arena_init(&a, arena_mem, sizeof arena_mem);
		assert_int_equal(kafka_request_decode(g->bytes + 4, g->len - 4, &h, &req, &a), 0);
		struct kafka_bytes recs = req.produce.topic_data.items[0].partition_data.items[0].records;
		for (int32_t cut = 0; cut <= recs.len; cut++) {
			uint8_t *at = region + span - cut;
			memcpy(at, recs.p, (size_t)cut);
			struct kafka_batch b;
			int n = kafka_batch_parse(at, (size_t)cut, (size_t)cut, &b);
			if (cut < recs.len) {
				assert_true(n < 0);
				/* A batch whose records section is cut short still must not over-read when walked. */
				continue;
			}
			assert_int_equal(n, recs.len);
			const uint8_t *r;
			size_t rlen;
			assert_int_equal(kafka_batch_records(&b, plain, sizeof plain, &r, &rlen), 0);
			/* The lz4 records section itself at the guard, every prefix: only the whole frame decodes. */
			static uint8_t frame[1 << 14];
			size_t flen = b.records_len;
			assert_true(flen <= sizeof frame);
			memcpy(frame, b.records, flen);
			for (size_t rc = 0; kafka_batch_compression(&b) == KAFKA_COMPRESSION_LZ4 && rc <= flen; rc++) {
				uint8_t *ra = region + span - rc;
				memcpy(ra, frame, rc);
				size_t got;
				int lz = kafka_lz4_decompress(ra, rc, plain, sizeof plain, &got);
				assert_true(rc == flen ? lz == 0 : lz < 0);
			}
			decodes++;
		}
	}
	munmap(region, span + (size_t)page);
	printf("guard page: %zu decodes of cut frames and batches\n", decodes);
	assert_true(decodes > 5000);
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_golden_frames), cmocka_unit_test(test_guard_page) };
	return cmocka_run_group_tests_name("kafka/golden", tests, NULL, NULL);
}
