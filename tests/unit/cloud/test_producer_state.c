/* Idempotent producer state: duplicates, gaps, fencing, the five-batch window, snapshots, bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>

#include "base/err.h"
#include "cloud/log/producer_state.h"

static struct batch_header hdr(int64_t pid, int16_t epoch, int32_t seq, int32_t count, int64_t offset)
{
	return (struct batch_header){.producer_id = pid, .producer_epoch = epoch, .base_sequence = seq,
				     .last_offset_delta = count - 1, .record_count = count, .base_offset = offset,
				     .max_timestamp = 1000 + offset};
}

static enum producer_verdict check(struct producer_state *ps, struct batch_header h, struct producer_check *c)
{
	producer_state_check(ps, &h, c);
	return c->verdict;
}

static void test_sequence_rules(void **state)
{
	(void)state;
	struct producer_state ps;
	struct producer_check c;
	assert_int_equal(producer_state_init(&ps, 100), 0);
	/* Unknown producers and non-idempotent batches are accepted. */
	assert_int_equal(check(&ps, hdr(-1, -1, -1, 3, 0), &c), PRODUCER_APPEND);
	assert_int_equal(check(&ps, hdr(7, 0, 42, 3, 0), &c), PRODUCER_APPEND);
	struct batch_header h = hdr(7, 0, 0, 3, 100);
	assert_int_equal(producer_state_update(&ps, &h), 0);
	assert_int_equal(ps.entry_count, 1);
	/* in sequence */
	assert_int_equal(check(&ps, hdr(7, 0, 3, 2, 0), &c), PRODUCER_APPEND);
	/* duplicate: same range -> original offsets */
	assert_int_equal(check(&ps, hdr(7, 0, 0, 3, 0), &c), PRODUCER_DUPLICATE);
	assert_int_equal(c.duplicate_base_offset, 100);
	assert_int_equal(c.duplicate_last_offset, 102);
	/* gap and rewind */
	assert_int_equal(check(&ps, hdr(7, 0, 4, 1, 0), &c), PRODUCER_OUT_OF_ORDER);
	assert_int_equal(check(&ps, hdr(7, 0, 1, 1, 0), &c), PRODUCER_OUT_OF_ORDER);
	/* older epoch is fenced; newer epoch must start at 0 */
	h = hdr(7, 3, 3, 1, 103);
	assert_int_equal(check(&ps, h, &c), PRODUCER_OUT_OF_ORDER);
	assert_int_equal(producer_state_update(&ps, &h), 0); /* a replica may apply it anyway */
	h = hdr(7, 4, 0, 1, 104);
	producer_state_update(&ps, &h);
	assert_int_equal(check(&ps, hdr(7, 3, 1, 1, 0), &c), PRODUCER_FENCED);
	assert_int_equal(c.current_epoch, 4);
	assert_int_equal(check(&ps, hdr(7, 5, 1, 1, 0), &c), PRODUCER_OUT_OF_ORDER);
	assert_int_equal(check(&ps, hdr(7, 5, 0, 1, 0), &c), PRODUCER_APPEND);
	/* the duplicate window belongs to the epoch */
	assert_int_equal(check(&ps, hdr(7, 4, 0, 1, 0), &c), PRODUCER_DUPLICATE);
	producer_state_deinit(&ps);
}

static void test_window_of_five(void **state)
{
	(void)state;
	struct producer_state ps;
	struct producer_check c;
	producer_state_init(&ps, 10);
	for (int i = 0; i < 7; i++) {
		struct batch_header h = hdr(1, 0, i * 2, 2, 10 * i);
		assert_int_equal(check(&ps, h, &c), PRODUCER_APPEND);
		producer_state_update(&ps, &h);
	}
	const struct producer_entry *e = producer_state_find(&ps, 1);
	assert_non_null(e);
	assert_int_equal(e->batch_count, PRODUCER_BATCHES_KEPT);
	/* batches 2..6 are remembered, 0 and 1 are not */
	for (int i = 2; i < 7; i++) {
		assert_int_equal(check(&ps, hdr(1, 0, i * 2, 2, 0), &c), PRODUCER_DUPLICATE);
		assert_int_equal(c.duplicate_base_offset, 10 * i);
	}
	assert_int_equal(check(&ps, hdr(1, 0, 2, 2, 0), &c), PRODUCER_OUT_OF_ORDER);
	assert_int_equal(check(&ps, hdr(1, 0, 14, 1, 0), &c), PRODUCER_APPEND);
	producer_state_deinit(&ps);
}

static void test_sequence_wrap(void **state)
{
	(void)state;
	struct producer_state ps;
	struct producer_check c;
	producer_state_init(&ps, 10);
	struct batch_header h = hdr(9, 1, INT32_MAX - 1, 2, 0);
	producer_state_update(&ps, &h);
	assert_int_equal(check(&ps, hdr(9, 1, 0, 1, 0), &c), PRODUCER_APPEND);
	assert_int_equal(check(&ps, hdr(9, 1, 1, 1, 0), &c), PRODUCER_OUT_OF_ORDER);
	producer_state_deinit(&ps);
}

static void test_many_producers_bounded(void **state)
{
	(void)state;
	struct producer_state ps;
	producer_state_init(&ps, 50);
	for (int64_t id = 0; id < 200; id++) {
		struct batch_header h = hdr(id, 0, 0, 1, id);
		assert_int_equal(producer_state_update(&ps, &h), 0);
		assert_true(ps.entry_count <= 50);
	}
	assert_int_equal(ps.entry_count, 50);
	assert_int_equal(ps.evicted_count, 150);
	/* the 50 most recent survive, and every one is still findable after the evictions moved slots */
	for (int64_t id = 150; id < 200; id++)
		assert_non_null(producer_state_find(&ps, id));
	for (int64_t id = 0; id < 150; id++)
		assert_null(producer_state_find(&ps, id));
	/* expiry by age (timestamps are 1000 + id) and by log start offset */
	assert_int_equal(producer_state_expire(&ps, 1000 + 180, 10, -1), 0);
	assert_int_equal(ps.entry_count, 30);
	assert_int_equal(producer_state_expire(&ps, 0, -1, 190), 0);
	assert_int_equal(ps.entry_count, 10);
	for (int64_t id = 190; id < 200; id++)
		assert_non_null(producer_state_find(&ps, id));
	producer_state_deinit(&ps);
}

static void test_snapshot_roundtrip(void **state)
{
	(void)state;
	struct producer_state a, b;
	struct producer_check c;
	producer_state_init(&a, 100);
	producer_state_init(&b, 100);
	for (int64_t id = 1; id <= 20; id++)
		for (int s = 0; s <= (int)(id % 7); s++) {
			struct batch_header h = hdr(id * 1000, (int16_t)(id % 3), s, 1, id * 100 + s);
			producer_state_update(&a, &h);
		}
	size_t cap = producer_state_encode_size(&a), len;
	uint8_t *buf = malloc(cap);
	assert_int_equal(producer_state_encode(&a, buf, cap - 1, &len), ERR_TOO_LARGE);
	assert_int_equal(producer_state_encode(&a, buf, cap, &len), 0);
	assert_int_equal(len, cap);
	assert_int_equal(producer_state_decode(&b, buf, len), 0);
	assert_int_equal(b.entry_count, a.entry_count);
	for (int64_t id = 1; id <= 20; id++) {
		const struct producer_entry *x = producer_state_find(&a, id * 1000), *y = producer_state_find(&b, id * 1000);
		assert_non_null(x);
		assert_non_null(y);
		assert_memory_equal(x, y, sizeof *x);
	}
	assert_int_equal(check(&b, hdr(6000, 0, 4, 1, 0), &c), PRODUCER_DUPLICATE);
	assert_int_equal(c.duplicate_base_offset, 604);

	/* every flipped byte is caught by the CRC; every truncation is refused; the table is left empty */
	for (size_t i = 0; i < len; i++) {
		buf[i] ^= 1;
		assert_int_not_equal(producer_state_decode(&b, buf, len), 0);
		assert_int_equal(b.entry_count, 0);
		buf[i] ^= 1;
	}
	for (size_t n = 0; n < len; n++)
		assert_int_not_equal(producer_state_decode(&b, buf, n), 0);
	/* a table smaller than the snapshot refuses it rather than growing past its bound */
	struct producer_state small;
	producer_state_init(&small, 5);
	assert_int_equal(producer_state_decode(&small, buf, len), ERR_TOO_LARGE);
	producer_state_deinit(&small);
	free(buf);
	producer_state_deinit(&a);
	producer_state_deinit(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sequence_rules),
		cmocka_unit_test(test_window_of_five),
		cmocka_unit_test(test_sequence_wrap),
		cmocka_unit_test(test_many_producers_bounded),
		cmocka_unit_test(test_snapshot_roundtrip),
	};
	return cmocka_run_group_tests_name("cloud/producer_state", tests, NULL, NULL);
}
