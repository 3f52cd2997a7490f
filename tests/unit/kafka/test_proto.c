/* Framing and header quirks: request header v1/v2 (2-byte ClientId in both), response header v0/v1 with
 * ApiVersions always v0, the KIP-511 answer to an ApiVersions request at a version we don't speak, and frame
 * size bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "kafka/proto.h"

static uint8_t arena_buf[1 << 16];

static void test_frame_peek(void **state)
{
	(void)state;
	size_t n = 0;
	static const uint8_t f[] = { 0, 0, 0, 3, 1, 2, 3, 9 };
	assert_int_equal(kafka_frame_peek(f, 3, 100, &n), ERR_AGAIN);
	assert_int_equal(kafka_frame_peek(f, 6, 100, &n), ERR_AGAIN);
	assert_int_equal(kafka_frame_peek(f, 7, 100, &n), 0);
	assert_int_equal(n, 3);
	assert_int_equal(kafka_frame_peek(f, 8, 2, &n), ERR_TOO_LARGE);
	static const uint8_t neg[] = { 0x80, 0, 0, 0 };
	assert_int_equal(kafka_frame_peek(neg, 4, 100, &n), ERR_MALFORMED);
}

static void test_request_header_versions(void **state)
{
	(void)state;
	struct kafka_request_header h = { KAFKA_API_API_VERSIONS, 3, 7, { "ab", 2 } };
	struct kafka_api_versions_request req;
	kafka_msg_init(&kafka_msg_api_versions_request, &req);
	req.client_software_name = (struct kafka_str){ "c", 1 };
	req.client_software_version = (struct kafka_str){ "1", 1 };
	uint8_t buf[64];
	int n = kafka_request_encode(&h, &req, buf, sizeof buf);
	/* size(4) key(2) ver(2) corr(4) client id int16+2 tags(1) | name(2) version(2) tags(1) */
	static const uint8_t want[] = { 0, 0, 0, 18, 0, 18, 0, 3, 0, 0, 0, 7, 0, 2, 'a', 'b', 0,
					2, 'c', 2, '1', 0 };
	assert_int_equal(n, (int)sizeof want);
	assert_memory_equal(buf, want, sizeof want);
	size_t size;
	assert_int_equal(kafka_request_size(&h, &req, &size), 0);
	assert_int_equal(size, sizeof want);

	struct kafka_request_header d;
	union kafka_any_request any;
	struct kafka_arena a;
	kafka_arena_init(&a, arena_buf, sizeof arena_buf);
	assert_int_equal(kafka_request_decode(buf + 4, (size_t)n - 4, &d, &any, &a), 0);
	assert_int_equal(d.correlation_id, 7);
	assert_int_equal(d.client_id.len, 2);
	assert_int_equal(any.api_versions.client_software_name.len, 1);
	/* Trailing bytes after the body are malformed. */
	buf[n] = 0;
	assert_int_equal(kafka_request_decode(buf + 4, (size_t)n - 3, &d, &any, &a), ERR_MALFORMED);

	/* Non-flexible version: header v1, no tagged-field byte; null client id. */
	struct kafka_request_header h1 = { KAFKA_API_API_VERSIONS, 2, 8, { NULL, -1 } };
	n = kafka_request_encode(&h1, &req, buf, sizeof buf);
	static const uint8_t want1[] = { 0, 0, 0, 10, 0, 18, 0, 2, 0, 0, 0, 8, 0xff, 0xff };
	assert_int_equal(n, (int)sizeof want1);
	assert_memory_equal(buf, want1, sizeof want1);
	assert_int_equal(kafka_request_decode(buf + 4, (size_t)n - 4, &d, &any, &a), 0);
	assert_int_equal(d.client_id.len, -1);
}

static void test_response_header_versions(void **state)
{
	(void)state;
	assert_int_equal(kafka_response_header_version(KAFKA_API_API_VERSIONS, 3), 0);
	assert_int_equal(kafka_response_header_version(KAFKA_API_METADATA, 9), 1);
	assert_int_equal(kafka_response_header_version(KAFKA_API_METADATA, 8), 0);
	assert_int_equal(kafka_request_header_version(KAFKA_API_METADATA, 9), 2);
	assert_int_equal(kafka_request_header_version(KAFKA_API_SASL_HANDSHAKE, 1), 1);

	struct kafka_heartbeat_response r;
	kafka_msg_init(&kafka_msg_heartbeat_response, &r);
	r.error_code = KAFKA_EC_REBALANCE_IN_PROGRESS;
	uint8_t buf[64];
	int n = kafka_response_encode(KAFKA_API_HEARTBEAT, 4, 99, &r, buf, sizeof buf);
	static const uint8_t want[] = { 0, 0, 0, 12, 0, 0, 0, 99, 0, 0, 0, 0, 0, 0, 27, 0 };
	assert_int_equal(n, (int)sizeof want);
	assert_memory_equal(buf, want, sizeof want);
	int32_t corr;
	union kafka_any_response any;
	struct kafka_arena a;
	kafka_arena_init(&a, arena_buf, sizeof arena_buf);
	assert_int_equal(kafka_response_correlation_id(buf + 4, (size_t)n - 4, &corr), 0);
	assert_int_equal(corr, 99);
	assert_int_equal(kafka_response_decode(buf + 4, (size_t)n - 4, KAFKA_API_HEARTBEAT, 4, &corr, &any, &a), 0);
	assert_int_equal(any.heartbeat.error_code, 27);
}

static void test_api_versions_kip511(void **state)
{
	(void)state;
	/* A newer client's ApiVersions v9 request: flexible header (tagged fields after the 2-byte client id),
	 * a body we cannot know.  We still read the header and answer v0 with error 35 and our ranges. */
	static const uint8_t req[] = { 0, 18, 0, 9, 0, 0, 0, 5, 0, 1, 'k', 0x01, 0x04, 0x01, 0xaa, 0xbb, 0xcc };
	struct kafka_request_header h;
	union kafka_any_request any;
	struct kafka_arena a;
	kafka_arena_init(&a, arena_buf, sizeof arena_buf);
	assert_int_equal(kafka_request_header_decode(req, sizeof req, &h), 15);
	assert_int_equal(kafka_request_decode(req, sizeof req, &h, &any, &a), ERR_KAFKA_UNSUPPORTED_VERSION);
	assert_int_equal(h.correlation_id, 5);
	assert_int_equal(h.api_version, 9);

	uint8_t buf[512];
	int n = kafka_api_versions_reject_encode(h.correlation_id, buf, sizeof buf);
	assert_true(n > 0);
	/* v0 shape: size, correlation id, error 35, int32 count of ApiKeys, 6 bytes each, nothing else. */
	assert_int_equal(n, 4 + 4 + 2 + 4 + 6 * KAFKA_API_COUNT);
	assert_int_equal(buf[8], 0);
	assert_int_equal(buf[9], 35);
	/* The client asked for v3; the answer is read as v0 because it carries error 35. */
	int32_t corr;
	union kafka_any_response resp;
	assert_int_equal(kafka_response_decode(buf + 4, (size_t)n - 4, KAFKA_API_API_VERSIONS, 3, &corr, &resp, &a), 0);
	assert_int_equal(resp.api_versions.error_code, KAFKA_EC_UNSUPPORTED_VERSION);
	assert_int_equal(resp.api_versions.api_keys.count, KAFKA_API_COUNT);
	int found = 0;
	for (int i = 0; i < resp.api_versions.api_keys.count; i++)
		if (resp.api_versions.api_keys.items[i].api_key == KAFKA_API_FETCH)
			found = resp.api_versions.api_keys.items[i].max_version;
	assert_int_equal(found, 12);

	/* Unknown API keys are reported, with the header filled. */
	static const uint8_t unk[] = { 0, 77, 0, 0, 0, 0, 0, 6, 0xff, 0xff };
	assert_int_equal(kafka_request_decode(unk, sizeof unk, &h, &any, &a), ERR_KAFKA_UNKNOWN_API);
	assert_int_equal(h.correlation_id, 6);
	/* ControlledShutdown v0: request header v0, no client id; the header is read right, the API refused. */
	static const uint8_t cs0[] = { 0, 7, 0, 0, 0, 0, 0, 9, 0, 0, 0, 1 };
	assert_int_equal(kafka_request_header_version(KAFKA_API_CONTROLLED_SHUTDOWN, 0), 0);
	assert_int_equal(kafka_request_header_version(KAFKA_API_CONTROLLED_SHUTDOWN, 1), 1);
	assert_int_equal(kafka_request_header_decode(cs0, sizeof cs0, &h), 8);
	assert_int_equal(h.correlation_id, 9);
	assert_int_equal(h.client_id.len, -1);
	assert_int_equal(kafka_request_decode(cs0, sizeof cs0, &h, &any, &a), ERR_KAFKA_UNKNOWN_API);
	/* Supported API, unsupported version. */
	static const uint8_t hi[] = { 0, 0, 0, 10, 0, 0, 0, 6, 0xff, 0xff, 0 };
	assert_int_equal(kafka_request_decode(hi, sizeof hi, &h, &any, &a), ERR_KAFKA_UNSUPPORTED_VERSION);
}

static void test_header_truncation(void **state)
{
	(void)state;
	static const uint8_t req[] = { 0, 3, 0, 9, 0, 0, 0, 5, 0, 3, 'a', 'b', 'c', 0x00 };
	struct kafka_request_header h;
	for (size_t cut = 0; cut < sizeof req; cut++)
		assert_int_equal(kafka_request_header_decode(req, cut, &h), ERR_MALFORMED);
	assert_int_equal(kafka_request_header_decode(req, sizeof req, &h), (int)sizeof req);
	assert_int_equal(kafka_error_code_from_err(ERR_KAFKA_UNSUPPORTED_COMPRESSION), 76);
	assert_int_equal(kafka_error_code_from_err(ERR_CORRUPT), 2);
}

/* Zero-copy Fetch: the split encoding, reassembled from buf and the segments, is the ordinary encoding. */
static void test_split_encoding(void **state)
{
	(void)state;
	static const uint8_t recs[3][40] = { "batch-one...", "batch-two, a little longer", "three" };
	struct kafka_fetch_response r;
	struct kafka_fetch_response_fetchable_topic_response t;
	struct kafka_fetch_response_partition_data p[4];
	kafka_msg_init(&kafka_msg_fetch_response, &r);
	KAFKA_INIT(kafka_fetch_response_fetchable_topic_response, &t);
	for (int i = 0; i < 4; i++) {
		KAFKA_INIT(kafka_fetch_response_partition_data, &p[i]);
		p[i].partition_index = i;
		p[i].high_watermark = 100 + i;
		p[i].records = i == 2 ? (struct kafka_bytes){ NULL, -1 } : (struct kafka_bytes){ recs[i % 3], 20 + i };
	}
	t.topic = (struct kafka_str){ "telemetry", 9 };
	t.partitions.items = p;
	t.partitions.count = 4;
	r.responses.items = &t;
	r.responses.count = 1;
	for (int16_t ver = 4; ver <= 12; ver += 8) {
		uint8_t whole[1024], split[1024], joined[1024];
		int n = kafka_response_encode(KAFKA_API_FETCH, ver, 7, &r, whole, sizeof whole);
		assert_true(n > 0);
		struct kafka_segment segs[4];
		size_t count;
		int m = kafka_response_encode_split(KAFKA_API_FETCH, ver, 7, &r, split, sizeof split, segs, 4, &count);
		assert_int_equal(count, 3); /* the null records field has no bytes to splice */
		size_t at = 0, out = 0;
		for (size_t i = 0; i < count; i++) {
			memcpy(joined + out, split + at, segs[i].at - at);
			out += segs[i].at - at;
			memcpy(joined + out, segs[i].p, segs[i].len);
			out += segs[i].len;
			at = segs[i].at;
		}
		memcpy(joined + out, split + at, (size_t)m - at);
		out += (size_t)m - at;
		assert_int_equal(out, (size_t)n);
		assert_memory_equal(joined, whole, (size_t)n);
		assert_int_equal(kafka_response_encode_split(KAFKA_API_FETCH, ver, 7, &r, split, sizeof split, segs, 2,
							     &count), ERR_FULL);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frame_peek), cmocka_unit_test(test_request_header_versions),
		cmocka_unit_test(test_response_header_versions), cmocka_unit_test(test_api_versions_kip511),
		cmocka_unit_test(test_header_truncation), cmocka_unit_test(test_split_encoding),
	};
	return cmocka_run_group_tests_name("kafka/proto", tests, NULL, NULL);
}
