/* Histogram percentiles stay within the bucket error of the exact answer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/hist.h"

static void test_percentiles(void **state)
{
	(void)state;
	static struct hist h;
	hist_init(&h);
	assert_int_equal(hist_percentile(&h, 50), 0);
	for (uint64_t v = 1; v <= 100000; v++)
		hist_record(&h, v);
	static const double ps[] = {50, 90, 99, 99.9};
	for (size_t i = 0; i < 4; i++) {
		double exact = ps[i] / 100 * 100000;
		double got = (double)hist_percentile(&h, ps[i]);
		assert_true(got >= exact);
		assert_true(got <= exact * (1.0 + 1.0 / HIST_SUB_BUCKETS) + 1);
	}
	assert_int_equal(hist_percentile(&h, 100), 100000);
	assert_int_equal(h.min, 1);
	static struct hist two;
	hist_init(&two);
	hist_record(&two, 7);
	hist_record(&two, UINT64_MAX);
	hist_merge(&two, &h);
	assert_true(hist_percentile(&two, 100) == UINT64_MAX);
	assert_int_equal(hist_percentile(&two, 0), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_percentiles)};
	return cmocka_run_group_tests_name("base/hist", tests, NULL, NULL);
}
