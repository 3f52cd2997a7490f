/* RecordBatch v2 header view: decoding, bounds, CRC, stamping, sequence wrap. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "log_test_util.h"

static void test_decode_valid(void **state)
{
	(void)state;
	uint8_t buf[512];
	struct test_batch b = test_batch_default();
	b.records = 3;
	b.producer_id = 77;
	b.producer_epoch = 4;
	b.base_sequence = 10;
	b.base_offset = 5;
	size_t len = test_batch_make(buf, sizeof buf, &b);
	struct batch_header h;
	assert_int_equal(batch_header_decode(buf, len, 4096, &h), 0);
	assert_int_equal(h.base_offset, 5);
	assert_int_equal(batch_size(&h), len);
	assert_int_equal(h.last_offset_delta, 2);
	assert_int_equal(batch_last_offset(&h), 7);
	assert_int_equal(h.max_timestamp, 1002);
	assert_int_equal(h.producer_id, 77);
	assert_int_equal(h.producer_epoch, 4);
	assert_int_equal(h.base_sequence, 10);
	assert_int_equal(batch_last_sequence(&h), 12);
	assert_int_equal(h.record_count, 3);
	assert_true(batch_crc_ok(&h, buf, len));
}

static void test_decode_truncated(void **state)
{
	(void)state;
	uint8_t buf[512];
	struct test_batch b = test_batch_default();
	size_t len = test_batch_make(buf, sizeof buf, &b);
	struct batch_header h;
	for (size_t n = 0; n < BATCH_HEADER_SIZE; n++)
		assert_int_equal(batch_header_decode(buf, n, 4096, &h), ERR_AGAIN);
	/* The header alone decodes; the caller checks the whole length against what it has. */
	assert_int_equal(batch_header_decode(buf, BATCH_HEADER_SIZE, 4096, &h), 0);
	assert_true(batch_size(&h) == len);
}

static void test_decode_bad(void **state)
{
	(void)state;
	uint8_t buf[512];
	struct test_batch b = test_batch_default();
	size_t len = test_batch_make(buf, sizeof buf, &b);
	struct batch_header h;
	assert_int_equal(batch_header_decode(buf, len, len - 1, &h), ERR_TOO_LARGE);
	assert_int_equal(batch_header_decode(buf, len, len, &h), 0);

	uint8_t bad[512];
	memcpy(bad, buf, len);
	bad[BATCH_OFF_MAGIC] = 1;
	assert_int_equal(batch_header_decode(bad, len, 4096, &h), ERR_UNSUPPORTED);

	memcpy(bad, buf, len);
	be32_put(bad + BATCH_OFF_LENGTH, 10); /* shorter than the header */
	assert_int_equal(batch_header_decode(bad, len, 4096, &h), ERR_MALFORMED);
	be32_put(bad + BATCH_OFF_LENGTH, 0x80000000u); /* negative */
	assert_int_equal(batch_header_decode(bad, len, 4096, &h), ERR_MALFORMED);
	be32_put(bad + BATCH_OFF_LENGTH, 0x7fffffffu);
	assert_int_equal(batch_header_decode(bad, len, 4096, &h), ERR_TOO_LARGE);

	memcpy(bad, buf, len);
	be32_put(bad + BATCH_OFF_LAST_OFFSET_DELTA, 0xffffffffu);
	assert_int_equal(batch_header_decode(bad, len, 4096, &h), ERR_MALFORMED);

	memcpy(bad, buf, len);
	bad[0] = 0x80; /* negative base offset */
	assert_int_equal(batch_header_decode(bad, len, 4096, &h), ERR_MALFORMED);
}

static void test_crc_and_stamp(void **state)
{
	(void)state;
	uint8_t buf[512];
	struct test_batch b = test_batch_default();
	b.records = 4;
	size_t len = test_batch_make(buf, sizeof buf, &b);
	struct batch_header h;
	batch_stamp(buf, 123456789012LL, 42);
	assert_int_equal(batch_header_decode(buf, len, 4096, &h), 0);
	assert_true(h.base_offset == 123456789012LL);
	assert_int_equal(h.leader_epoch, 42);
	assert_true(batch_crc_ok(&h, buf, len)); /* stamping does not touch CRC-covered bytes */
	for (size_t i = BATCH_OFF_ATTRIBUTES; i < len; i += 7) {
		buf[i] ^= 0x10;
		assert_false(batch_crc_ok(&h, buf, len));
		buf[i] ^= 0x10;
	}
}

static void test_sequence_wrap(void **state)
{
	(void)state;
	struct batch_header h = {.base_sequence = INT32_MAX - 1, .last_offset_delta = 3};
	assert_int_equal(batch_last_sequence(&h), 1);
	h.base_sequence = INT32_MAX;
	h.last_offset_delta = 0;
	assert_int_equal(batch_last_sequence(&h), INT32_MAX);
	h.base_sequence = -1;
	assert_int_equal(batch_last_sequence(&h), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_decode_valid),   cmocka_unit_test(test_decode_truncated),
		cmocka_unit_test(test_decode_bad),     cmocka_unit_test(test_crc_and_stamp),
		cmocka_unit_test(test_sequence_wrap),
	};
	return cmocka_run_group_tests_name("cloud/batch_header", tests, NULL, NULL);
}
