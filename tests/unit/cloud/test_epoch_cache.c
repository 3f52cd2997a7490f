/* Leader-epoch cache: assignment, OffsetsForLeaderEpoch answers (KIP-279), trimming, checkpoint text. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "base/err.h"
#include "cloud/log/epoch_cache.h"

static void end_of(const struct epoch_cache *c, int32_t req, int64_t leo, int32_t want_epoch, int64_t want_end)
{
	int32_t e;
	int64_t o;
	epoch_cache_end_offset(c, req, leo, &e, &o);
	assert_int_equal(e, want_epoch);
	assert_int_equal(o, want_end);
}

static void test_assign_and_lookup(void **state)
{
	(void)state;
	struct epoch_cache c;
	epoch_cache_init(&c);
	end_of(&c, 0, 10, EPOCH_UNDEFINED, EPOCH_OFFSET_UNDEFINED);
	assert_int_equal(epoch_cache_assign(&c, 1, 0), 1);
	assert_int_equal(epoch_cache_assign(&c, 1, 5), 0);
	assert_int_equal(epoch_cache_assign(&c, 3, 10), 1);
	assert_int_equal(epoch_cache_assign(&c, 2, 12), 0); /* older epoch: ignored */
	assert_int_equal(epoch_cache_assign(&c, 6, 20), 1);
	assert_int_equal(epoch_cache_assign(&c, 7, 15), 0); /* would start before epoch 6 */
	assert_int_equal(epoch_cache_latest(&c), 6);
	end_of(&c, 6, 30, 6, 30);  /* latest: the log end */
	end_of(&c, 3, 30, 3, 20);  /* ended where 6 began */
	end_of(&c, 4, 30, 3, 20);  /* unknown epoch between: the largest known below it */
	end_of(&c, 1, 30, 1, 10);
	end_of(&c, 0, 30, 0, 0);   /* older than all: requested epoch, first start */
	end_of(&c, 9, 30, EPOCH_UNDEFINED, EPOCH_OFFSET_UNDEFINED);
	end_of(&c, -1, 30, EPOCH_UNDEFINED, EPOCH_OFFSET_UNDEFINED);

	assert_true(epoch_cache_truncate_end(&c, 20));
	assert_int_equal(epoch_cache_latest(&c), 3);
	assert_false(epoch_cache_truncate_end(&c, 20));
	assert_true(epoch_cache_truncate_start(&c, 12));
	assert_int_equal(c.count, 1);
	assert_int_equal(c.entries[0].epoch, 3);
	assert_int_equal(c.entries[0].start_offset, 12);
	epoch_cache_deinit(&c);
}

static void test_checkpoint_text(void **state)
{
	(void)state;
	struct epoch_cache c, d;
	epoch_cache_init(&c);
	epoch_cache_init(&d);
	for (int i = 0; i < 50; i++)
		assert_int_equal(epoch_cache_assign(&c, i * 2, (int64_t)i * 1000000007LL), 1);
	char buf[4096];
	size_t len;
	assert_true(epoch_cache_encode_size(&c) <= sizeof buf);
	assert_int_equal(epoch_cache_encode(&c, buf, sizeof buf, &len), 0);
	assert_memory_equal(buf, "0\n50\n0 0\n2 1000000007\n", 22);
	assert_int_equal(epoch_cache_decode(&d, buf, len), 0);
	assert_int_equal(d.count, 50);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(d.entries[i].epoch, c.entries[i].epoch);
		assert_int_equal(d.entries[i].start_offset, c.entries[i].start_offset);
	}
	/* every truncation is refused (the count line promises more), the cache left empty */
	for (size_t n = 0; n < len; n++) {
		assert_int_equal(epoch_cache_decode(&d, buf, n), ERR_MALFORMED);
		assert_int_equal(d.count, 0);
	}
	static const char *const bad[] = {
		"1\n0\n", "0\n1\n1 5", "0\n2\n3 5\n2 6\n", "0\n2\n3 5\n4 4\n", "0\n1\n-1 5\n", "0\n1\n1 5\nx",
		"0\n999999999\n", "0\n1\n99999999999 1\n", "0\n1\n1 99999999999999999999\n", "0\n1\n1  5\n", "",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(epoch_cache_decode(&d, bad[i], strlen(bad[i])), ERR_MALFORMED);
	assert_int_equal(epoch_cache_decode(&d, "0\n0\n", 4), 0);
	assert_int_equal(epoch_cache_encode(&c, buf, 10, &len), ERR_TOO_LARGE);
	epoch_cache_deinit(&c);
	epoch_cache_deinit(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_assign_and_lookup),
		cmocka_unit_test(test_checkpoint_text),
	};
	return cmocka_run_group_tests_name("cloud/epoch_cache", tests, NULL, NULL);
}
