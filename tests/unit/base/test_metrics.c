/* Metrics registry renders valid Prometheus text; dbuf bounds; the error table names every code. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/dbuf.h"
#include "base/err.h"
#include "base/metrics.h"

static int64_t forty_two(void *ctx)
{
	(void)ctx;
	return 42;
}

static void test_render(void **state)
{
	(void)state;
	struct metrics m;
	assert_int_equal(metrics_init(&m, 6), 0);
	_Atomic int64_t *b = metrics_counter(&m, "ferry_bytes_in_total", "topic=\"b\"", "Bytes received");
	_Atomic int64_t *a = metrics_counter(&m, "ferry_bytes_in_total", "topic=\"a\"", "Bytes received");
	assert_ptr_equal(metrics_counter(&m, "ferry_bytes_in_total", "topic=\"a\"", "x"), a); /* same slot */
	metric_add(a, 5);
	metric_add(b, 7);
	metric_set(metrics_gauge(&m, "ferry_clients", NULL, "Connected clients"), 3);
	metrics_gauge_fn(&m, "ferry_answer", "", "Computed at scrape", forty_two, NULL);
	static const double bounds[] = {0.001, 0.01, 0.1};
	struct metric_hist *h = metrics_histogram(&m, "ferry_latency_seconds", "api=\"produce\"", "Latency", bounds, 3);
	metric_observe(h, 0.0005);
	metric_observe(h, 0.05);
	metric_observe(h, 5);

	struct dbuf out;
	dbuf_init(&out, 1 << 16);
	assert_int_equal(metrics_render(&m, &out), 0);
	const char *want = "# HELP ferry_answer Computed at scrape\n"
			   "# TYPE ferry_answer gauge\n"
			   "ferry_answer 42\n"
			   "# HELP ferry_bytes_in_total Bytes received\n"
			   "# TYPE ferry_bytes_in_total counter\n"
			   "ferry_bytes_in_total{topic=\"a\"} 5\n"
			   "ferry_bytes_in_total{topic=\"b\"} 7\n"
			   "# HELP ferry_clients Connected clients\n"
			   "# TYPE ferry_clients gauge\n"
			   "ferry_clients 3\n"
			   "# HELP ferry_latency_seconds Latency\n"
			   "# TYPE ferry_latency_seconds histogram\n"
			   "ferry_latency_seconds_bucket{api=\"produce\",le=\"0.001\"} 1\n"
			   "ferry_latency_seconds_bucket{api=\"produce\",le=\"0.01\"} 1\n"
			   "ferry_latency_seconds_bucket{api=\"produce\",le=\"0.1\"} 2\n"
			   "ferry_latency_seconds_bucket{api=\"produce\",le=\"+Inf\"} 3\n"
			   "ferry_latency_seconds_sum{api=\"produce\"} 5.050500\n"
			   "ferry_latency_seconds_count{api=\"produce\"} 3\n";
	assert_string_equal(dbuf_str(&out), want);

	/* past capacity: a shared overflow slot, never NULL, never in the output */
	for (int i = 0; i < 10; i++)
		metric_add(metrics_counter(&m, "ferry_extra", i % 2 ? "x=\"1\"" : "x=\"2\"", "extra"), 1);
	dbuf_reset(&out);
	assert_int_equal(metrics_render(&m, &out), 0);
	assert_non_null(strstr(dbuf_str(&out), "ferry_extra{x=\"2\"} 5"));
	assert_null(strstr(dbuf_str(&out), "x=\"1\""));
	dbuf_deinit(&out);
	metrics_deinit(&m);
}

static void test_dbuf_bounded(void **state)
{
	(void)state;
	struct dbuf b;
	dbuf_init(&b, 10);
	assert_int_equal(dbuf_addstr(&b, "hello"), 0);
	assert_int_equal(dbuf_printf(&b, "%d", 12345), 0);
	assert_int_equal(dbuf_addstr(&b, "!"), ERR_TOO_LARGE);
	assert_string_equal(dbuf_str(&b), "hello12345"); /* untouched by the failed append */
	assert_int_equal(dbuf_printf(&b, "%s", "x"), ERR_TOO_LARGE);
	dbuf_deinit(&b);
}

static void test_err_table(void **state)
{
	(void)state;
	assert_string_equal(err_str(0), "ok");
	assert_string_equal(err_name(ERR_MALFORMED), "MALFORMED");
	assert_string_equal(err_str(1), "unknown error");
	assert_string_equal(err_str(-ERR_INDEX_COUNT), "unknown error");
	for (int i = 1; i < ERR_INDEX_COUNT; i++) {
		assert_non_null(err_str(-i));
		assert_true(strlen(err_str(-i)) > 0);
		for (int j = 1; j < i; j++) /* names are unique */
			assert_true(strcmp(err_name(-i), err_name(-j)) != 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_render),
		cmocka_unit_test(test_dbuf_bounded),
		cmocka_unit_test(test_err_table),
	};
	return cmocka_run_group_tests_name("base/metrics", tests, NULL, NULL);
}
