/* Metadata record codec: every type round-trips, every truncation is refused, bounds are enforced. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/err.h"
#include "meta_samples.h"

static void test_round_trip_every_type(void **state)
{
	(void)state;
	uint8_t buf[META_RECORD_SIZE_MAX], again[META_RECORD_SIZE_MAX];
	for (uint16_t t = 1; t < META_REC_TYPE_END; t++) {
		struct meta_record r = sample_record(t), d;
		int n = meta_record_encode(&r, buf, sizeof buf);
		assert_true(n > 4);
		assert_int_equal((size_t)n, meta_record_size(&r));
		assert_int_equal(meta_record_decode(buf, (size_t)n, &d), 0);
		assert_int_equal(d.type, t);
		/* decoded then re-encoded: the same bytes */
		assert_int_equal(meta_record_encode(&d, again, sizeof again), n);
		assert_memory_equal(buf, again, (size_t)n);
		for (int cut = 0; cut < n; cut++)
			assert_int_equal(meta_record_decode(buf, (size_t)cut, &d), ERR_AGAIN);
		buf[n] = 0;
		assert_int_equal(meta_record_decode(buf, (size_t)n + 1, &d), ERR_MALFORMED);
		assert_int_equal(meta_record_encode(&r, buf, (size_t)n - 1), ERR_TOO_LARGE);
	}
}

static void test_fields_survive(void **state)
{
	(void)state;
	uint8_t buf[1024];
	struct meta_record r = sample_record(META_REC_BROKER_REG), d;
	int n = meta_record_encode(&r, buf, sizeof buf);
	assert_int_equal(meta_record_decode(buf, (size_t)n, &d), 0);
	assert_int_equal(d.broker.epoch, 10);
	assert_true(d.broker.fenced);
	assert_int_equal(d.broker.listener_count, 2);
	assert_int_equal(d.broker.listeners[1].port, 1883);
	assert_memory_equal(d.broker.listeners[1].name.p, "MQTT", 4);
	assert_memory_equal(d.broker.incarnation.b, r.broker.incarnation.b, 16);
	r = sample_record(META_REC_PARTITION);
	n = meta_record_encode(&r, buf, sizeof buf);
	assert_int_equal(meta_record_decode(buf, (size_t)n, &d), 0);
	assert_int_equal(d.partition.replicas.count, 3);
	assert_int_equal(d.partition.isr.ids[1], 2);
	assert_int_equal(d.partition.leader_epoch, 4);
}

static void test_rejects(void **state)
{
	(void)state;
	uint8_t buf[1024];
	struct meta_record d, r = sample_record(META_REC_TOPIC);
	int n = meta_record_encode(&r, buf, sizeof buf);
	buf[0] = 2;
	assert_int_equal(meta_record_decode(buf, (size_t)n, &d), ERR_RAFT_BAD_VERSION);
	buf[0] = META_FRAME_VERSION;
	buf[2] = 99;
	assert_int_equal(meta_record_decode(buf, (size_t)n, &d), ERR_META_UNKNOWN_RECORD);
	buf[2] = META_REC_TOPIC;
	/* a name over the limit */
	buf[4] = 0x01;
	buf[5] = 0x00;
	assert_int_equal(meta_record_decode(buf, (size_t)n, &d), ERR_TOO_LARGE);
	/* an empty topic name */
	r.topic.name = meta_str_of("");
	n = meta_record_encode(&r, buf, sizeof buf);
	assert_int_equal(meta_record_decode(buf, (size_t)n, &d), ERR_MALFORMED);
	/* a control character in a name */
	r.topic.name = meta_str_of("a\nb");
	n = meta_record_encode(&r, buf, sizeof buf);
	assert_int_equal(meta_record_decode(buf, (size_t)n, &d), ERR_MALFORMED);
	/* too many replicas */
	r = sample_record(META_REC_PARTITION);
	n = meta_record_encode(&r, buf, sizeof buf);
	buf[4 + 16 + 4] = META_REPLICAS_MAX + 1;
	assert_int_equal(meta_record_decode(buf, (size_t)n, &d), ERR_TOO_LARGE);
	/* a bool that is neither 0 nor 1 */
	r = sample_record(META_REC_AGENT_REG);
	n = meta_record_encode(&r, buf, sizeof buf);
	buf[n - 1] = 2;
	assert_int_equal(meta_record_decode(buf, (size_t)n, &d), ERR_MALFORMED);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_every_type),
		cmocka_unit_test(test_fields_survive),
		cmocka_unit_test(test_rejects),
	};
	return cmocka_run_group_tests_name("meta/record", tests, NULL, NULL);
}
