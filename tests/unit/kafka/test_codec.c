/* Generic Kafka codec: every message of every API we speak, at every version its schema describes, survives
 * encode -> decode -> encode byte-identically and field-identically; every strict prefix is rejected; sizes
 * agree with encodes; wire layouts checked against hand-assembled bytes (flexible and classic). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "kafka/codec.h"
#include "kafka_fill.h"

#define BUF_CAP (64 * 1024)

static uint8_t arena_a[1 << 20], arena_b[1 << 20];
static uint8_t msg_a[4096], msg_b[4096];
static uint8_t enc1[BUF_CAP], enc2[BUF_CAP];

static void round_trip(const struct kafka_message *m, int ver, uint64_t seed)
{
	struct kafka_arena a, b;
	kafka_arena_init(&a, arena_a, sizeof arena_a);
	kafka_arena_init(&b, arena_b, sizeof arena_b);
	assert_true(m->root->size <= sizeof msg_a);
	kafka_msg_init(m, msg_a);
	fill_struct(m->root, msg_a, ver, &seed, &a);

	size_t size;
	assert_int_equal(kafka_msg_size(m, (int16_t)ver, msg_a, &size), 0);
	int n1 = kafka_msg_encode(m, (int16_t)ver, msg_a, enc1, sizeof enc1);
	if (n1 < 0)
		fail_msg("%s v%d encode: %s", m->name, ver, err_name(n1));
	assert_int_equal((size_t)n1, size);
	/* No room for the last byte is an error, never a short write. */
	if (n1 > 0)
		assert_int_equal(kafka_msg_encode(m, (int16_t)ver, msg_a, enc2, (size_t)n1 - 1), ERR_TOO_LARGE);

	int d = kafka_msg_decode(m, (int16_t)ver, enc1, (size_t)n1, msg_b, &b);
	if (d != n1)
		fail_msg("%s v%d decode: %d (%s) of %d", m->name, ver, d, err_name(d), n1);
	if (!fill_equal_struct(m->root, msg_a, msg_b, ver))
		fail_msg("%s v%d: decoded fields differ", m->name, ver);
	int n2 = kafka_msg_encode(m, (int16_t)ver, msg_b, enc2, sizeof enc2);
	assert_int_equal(n2, n1);
	assert_memory_equal(enc1, enc2, (size_t)n1);

	for (int cut = 0; cut < n1; cut++) {
		kafka_arena_init(&b, arena_b, sizeof arena_b);
		int rc = kafka_msg_decode(m, (int16_t)ver, enc1, (size_t)cut, msg_b, &b);
		if (rc != ERR_MALFORMED)
			fail_msg("%s v%d cut at %d of %d: %d", m->name, ver, cut, n1, rc);
	}
}

static void test_round_trip_all(void **state)
{
	(void)state;
	int count = 0;
	for (size_t i = 0; i < KAFKA_API_COUNT; i++) {
		const struct kafka_api_desc *api = &kafka_api_table[i];
		const struct kafka_message *ms[2] = { api->request, api->response };
		assert_true(api->max_version <= api->request->valid_hi);
		for (int k = 0; k < 2; k++)
			for (int v = ms[k]->valid_lo; v <= ms[k]->valid_hi; v++)
				for (uint64_t seed = 1; seed <= 12; seed++) {
					round_trip(ms[k], v, seed * 0x9E3779B97F4A7C15ull + (uint64_t)v);
					count++;
				}
	}
	assert_true(count > 1000);
}

static void test_arena_bound(void **state)
{
	(void)state;
	/* Metadata v9 request, 3 topics: arena too small for the array -> TOO_LARGE, not a crash. */
	static const uint8_t wire[] = { 0x04, 0x02, 'a', 0x00, 0x02, 'b', 0x00, 0x02, 'c', 0x00, 0x01, 0x00, 0x00, 0x00 };
	struct kafka_metadata_request req;
	uint8_t small[16];
	struct kafka_arena a;
	kafka_arena_init(&a, small, sizeof small);
	assert_int_equal(kafka_msg_decode(&kafka_msg_metadata_request, 9, wire, sizeof wire, &req, &a), ERR_TOO_LARGE);
	kafka_arena_init(&a, arena_a, sizeof arena_a);
	assert_int_equal(kafka_msg_decode(&kafka_msg_metadata_request, 9, wire, sizeof wire, &req, &a), (int)sizeof wire);
	assert_int_equal(req.topics.count, 3);
	assert_int_equal(req.topics.items[2].name.len, 1);
	assert_int_equal(req.topics.items[2].name.p[0], 'c');
	assert_true(req.allow_auto_topic_creation);
}

static void test_wire_layout_classic(void **state)
{
	(void)state;
	/* Metadata v4: int32 array count, int16 string lengths, bool. */
	static const uint8_t wire[] = { 0, 0, 0, 2, 0, 1, 'x', 0, 2, 'y', 'z', 0 };
	struct kafka_metadata_request req;
	struct kafka_arena a;
	kafka_arena_init(&a, arena_a, sizeof arena_a);
	assert_int_equal(kafka_msg_decode(&kafka_msg_metadata_request, 4, wire, sizeof wire, &req, &a), (int)sizeof wire);
	assert_int_equal(req.topics.count, 2);
	assert_false(req.allow_auto_topic_creation);
	/* A count larger than the bytes left is malformed before anything is sized from it. */
	static const uint8_t huge[] = { 0x7f, 0xff, 0xff, 0xff, 0 };
	assert_int_equal(kafka_msg_decode(&kafka_msg_metadata_request, 4, huge, sizeof huge, &req, &a), ERR_MALFORMED);
	/* Null topics (-1) is legal from v1, not in v0. */
	static const uint8_t null_topics[] = { 0xff, 0xff, 0xff, 0xff };
	assert_int_equal(kafka_msg_decode(&kafka_msg_metadata_request, 1, null_topics, 4, &req, &a), 4);
	assert_int_equal(req.topics.count, -1);
	assert_int_equal(kafka_msg_decode(&kafka_msg_metadata_request, 0, null_topics, 4, &req, &a), ERR_MALFORMED);
	/* Version outside the schema. */
	assert_int_equal(kafka_msg_decode(&kafka_msg_metadata_request, 13, wire, sizeof wire, &req, &a),
			 ERR_KAFKA_UNSUPPORTED_VERSION);
}

static void test_tagged_fields(void **state)
{
	(void)state;
	/* ApiVersions v3 response: error 0, one api key, throttle 0, then tagged fields: unknown tag 9 (3 bytes,
	 * skipped) and tag 1 FinalizedFeaturesEpoch = 5. */
	static const uint8_t wire[] = { 0, 0, 0x02, 0, 18, 0, 0, 0, 3, 0x00, 0, 0, 0, 0,
					0x02, 0x01, 0x08, 0, 0, 0, 0, 0, 0, 0, 5, 0x09, 0x03, 1, 2, 3 };
	struct kafka_api_versions_response r;
	struct kafka_arena a;
	kafka_arena_init(&a, arena_a, sizeof arena_a);
	assert_int_equal(kafka_msg_decode(&kafka_msg_api_versions_response, 3, wire, sizeof wire, &r, &a), (int)sizeof wire);
	assert_int_equal(r.api_keys.count, 1);
	assert_int_equal(r.api_keys.items[0].api_key, 18);
	assert_int_equal(r.api_keys.items[0].max_version, 3);
	assert_int_equal(r.finalized_features_epoch, 5);
	assert_int_equal(r.supported_features.count, 0);
	/* Re-encoding drops the unknown tag and keeps the known one. */
	uint8_t out[64];
	int n = kafka_msg_encode(&kafka_msg_api_versions_response, 3, &r, out, sizeof out);
	assert_int_equal(n, (int)sizeof wire - 5);
	assert_memory_equal(out, wire, 14);
	assert_int_equal(out[14], 0x01);
	/* A tagged field whose declared size does not match its content is malformed. */
	uint8_t bad[sizeof wire];
	memcpy(bad, wire, sizeof wire);
	bad[16] = 0x07;
	assert_int_equal(kafka_msg_decode(&kafka_msg_api_versions_response, 3, bad, sizeof bad - 1, &r, &a), ERR_MALFORMED);
	/* Defaults: absent fields read as their schema default. */
	kafka_msg_init(&kafka_msg_api_versions_response, &r);
	assert_int_equal(r.finalized_features_epoch, -1);
	struct kafka_fetch_request f;
	kafka_msg_init(&kafka_msg_fetch_request, &f);
	assert_int_equal(f.replica_id, -1);
	assert_int_equal(f.max_bytes, 0x7fffffff);
	assert_int_equal(f.cluster_id.len, -1);
}

static void test_null_checks(void **state)
{
	(void)state;
	struct kafka_metadata_request req;
	uint8_t out[64];
	kafka_msg_init(&kafka_msg_metadata_request, &req);
	req.topics.count = -1;
	assert_int_equal(kafka_msg_encode(&kafka_msg_metadata_request, 0, &req, out, sizeof out), ERR_KAFKA_NULL_FIELD);
	assert_int_equal(kafka_msg_encode(&kafka_msg_metadata_request, 1, &req, out, sizeof out), 4);
	assert_int_equal(kafka_msg_encode(&kafka_msg_metadata_request, 9, &req, out, sizeof out), 5);
	assert_int_equal(out[0], 0x00); /* compact null array */
}

static void test_api_table(void **state)
{
	(void)state;
	assert_true(kafka_api_supported(KAFKA_API_PRODUCE, 9));
	assert_false(kafka_api_supported(KAFKA_API_PRODUCE, 10));
	assert_false(kafka_api_supported(7, 0));
	assert_non_null(kafka_message_find(KAFKA_API_FETCH, KAFKA_RESPONSE));
	assert_true(kafka_msg_flexible(&kafka_msg_api_versions_request, 3));
	assert_true(kafka_msg_flexible(&kafka_msg_api_versions_request, 7));
	assert_false(kafka_msg_flexible(&kafka_msg_sasl_handshake_request, 1));
	assert_true(kafka_msg_flexible(&kafka_msg_describe_cluster_request, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_all), cmocka_unit_test(test_arena_bound),
		cmocka_unit_test(test_wire_layout_classic), cmocka_unit_test(test_tagged_fields),
		cmocka_unit_test(test_null_checks), cmocka_unit_test(test_api_table),
	};
	return cmocka_run_group_tests_name("kafka/codec", tests, NULL, NULL);
}
