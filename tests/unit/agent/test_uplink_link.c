/* The uplink's bootstrap list: parsing, bounds, and moving to the next broker after a failure. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "agent/uplink_link.h"
#include "base/err.h"

static void test_list(void **state)
{
	(void)state;
	struct uplink_link l;
	assert_int_equal(uplink_link_parse(&l, "a:1, b.example:9093,127.0.0.1:65535"), 0);
	assert_int_equal(l.count, 3);
	assert_string_equal(uplink_link_host(&l), "a");
	assert_int_equal(uplink_link_port(&l), 1);
	uplink_link_failed(&l);
	assert_string_equal(uplink_link_host(&l), "b.example");
	assert_int_equal(uplink_link_port(&l), 9093);
	uplink_link_failed(&l);
	assert_string_equal(uplink_link_host(&l), "127.0.0.1");
	uplink_link_failed(&l);
	assert_string_equal(uplink_link_host(&l), "a"); /* round and round */
	assert_int_equal(uplink_link_parse(&l, "[::1]:9092"), 0); /* the last colon separates the port */
	assert_string_equal(uplink_link_host(&l), "[::1]");
}

static void test_bad(void **state)
{
	(void)state;
	struct uplink_link l;
	const char *bad[] = {"", "host", ":9092", "h:", "h:0", "h:65536", "h:12x", "a:1,", "a:1,,b:2", "h:1234567"};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(uplink_link_parse(&l, bad[i]), ERR_CONFIG);
	char many[256] = "";
	for (int i = 0; i <= UPLINK_BOOTSTRAP_MAX; i++)
		snprintf(many + strlen(many), sizeof many - strlen(many), "%sh%d:1", i ? "," : "", i);
	assert_int_equal(uplink_link_parse(&l, many), ERR_CONFIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_list),
		cmocka_unit_test(test_bad),
	};
	return cmocka_run_group_tests_name("agent/uplink_link", tests, NULL, NULL);
}
