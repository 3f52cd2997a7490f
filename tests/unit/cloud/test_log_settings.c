/* [log] config keys: defaults match log_config_default, values and bounds parse, relations are checked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "base/err.h"
#include "cloud/log/log_settings.h"

static const struct config_section sections[] = {
	{"log", log_settings_keys, NULL},
	{0},
};

static int parse(struct log_settings *s, const char *text, struct log_config *cfg)
{
	char err[256];
	assert_int_equal(config_defaults(sections, s), 0);
	int rc = config_parse(sections, s, text, strlen(text), "test.conf", err, sizeof err);
	return rc ? rc : log_settings_apply(s, cfg);
}

static void test_defaults_match(void **state)
{
	(void)state;
	struct log_settings s;
	struct log_config a, b;
	assert_int_equal(parse(&s, "", &a), 0);
	log_config_default(&b);
	assert_int_equal(a.segment_bytes, b.segment_bytes);
	assert_int_equal(a.segment_ms, b.segment_ms);
	assert_int_equal(a.retention_bytes, b.retention_bytes);
	assert_int_equal(a.retention_ms, b.retention_ms);
	assert_int_equal(a.index_interval_bytes, b.index_interval_bytes);
	assert_int_equal(a.batch_bytes_max, b.batch_bytes_max);
	assert_int_equal(a.producers_max, b.producers_max);
	assert_int_equal(a.producer_expiry_ms, b.producer_expiry_ms);
	assert_int_equal(a.flush_policy, b.flush_policy);
	assert_int_equal(a.flush_interval_ms, b.flush_interval_ms);
	assert_int_equal(a.flush_bytes, b.flush_bytes);
}

static void test_values(void **state)
{
	(void)state;
	struct log_settings s;
	struct log_config c;
	assert_int_equal(parse(&s,
			       "[log]\nsegment_bytes 64m\nsegment_age 0s\nretention_bytes 10g\nretention_age 0s\n"
			       "flush interval\nflush_interval 200ms\nproducers_max 5\n",
			       &c),
			 0);
	assert_int_equal(c.segment_bytes, 64 << 20);
	assert_int_equal(c.segment_ms, -1);
	assert_int_equal(c.retention_bytes, 10LL << 30);
	assert_int_equal(c.retention_ms, -1);
	assert_int_equal(c.flush_policy, LOG_FLUSH_INTERVAL);
	assert_int_equal(c.flush_interval_ms, 200);
	assert_int_equal(c.producers_max, 5);
	assert_int_equal(parse(&s, "[log]\nsegment_bytes 3g\n", &c), ERR_CONFIG);
	assert_int_equal(parse(&s, "[log]\nflush sometimes\n", &c), ERR_CONFIG);
	assert_int_equal(parse(&s, "[log]\nindex_interval_bytes 8\n", &c), ERR_CONFIG);
	/* each value in range, but a batch larger than a segment */
	assert_int_equal(parse(&s, "[log]\nsegment_bytes 64k\nbatch_bytes_max 1m\n", &c), ERR_CONFIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_match),
		cmocka_unit_test(test_values),
	};
	return cmocka_run_group_tests_name("cloud/log_settings", tests, NULL, NULL);
}
