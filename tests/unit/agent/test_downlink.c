/* Downlink addressing: which records are for this agent and which local topic they get. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "agent/downlink.h"
#include "base/err.h"

#define S(x) (const uint8_t *)(x), (int32_t)strlen(x)
#define NONE NULL, -1

static void test_key_prefix(void **state)
{
	(void)state;
	char out[64];
	assert_int_equal(downlink_route("gw1", "{key}", S("gw1/devices/lamp/set"), NONE, NONE, out, sizeof out), 1);
	assert_string_equal(out, "devices/lamp/set");
	assert_int_equal(downlink_route("gw1", "cmd/{agent}/{key}", S("gw1/x"), NONE, NONE, out, sizeof out), 1);
	assert_string_equal(out, "cmd/gw1/x");
	/* another agent, a longer id with our prefix, no slash, no key */
	assert_int_equal(downlink_route("gw1", "{key}", S("gw2/x"), NONE, NONE, out, sizeof out), 0);
	assert_int_equal(downlink_route("gw1", "{key}", S("gw10/x"), NONE, NONE, out, sizeof out), 0);
	assert_int_equal(downlink_route("gw1", "{key}", S("gw1"), NONE, NONE, out, sizeof out), 0);
	assert_int_equal(downlink_route("gw1", "{key}", NONE, NONE, NONE, out, sizeof out), 0);
}

static void test_headers(void **state)
{
	(void)state;
	char out[64];
	/* ferry.agent addresses it; mqtt.topic names the topic; the key is then irrelevant */
	assert_int_equal(downlink_route("gw1", "{key}", NONE, S("cmd/reboot"), S("gw1"), out, sizeof out), 1);
	assert_string_equal(out, "cmd/reboot");
	assert_int_equal(downlink_route("gw1", "{key}", S("gw1/a"), S("b/c"), NONE, out, sizeof out), 1);
	assert_string_equal(out, "b/c");
	assert_int_equal(downlink_route("gw1", "{key}", NONE, S("cmd/reboot"), S("gw2"), out, sizeof out), 0);
	assert_int_equal(downlink_route("gw1", "{key}", NONE, S("x"), S("gw"), out, sizeof out), 0);
	/* header agent, no topic header: the template with the whole key */
	assert_int_equal(downlink_route("gw1", "in/{key}", S("k"), NONE, S("gw1"), out, sizeof out), 1);
	assert_string_equal(out, "in/k");
}

static void test_too_long(void **state)
{
	(void)state;
	char out[8];
	assert_int_equal(downlink_route("gw1", "{key}", S("gw1/12345678"), NONE, NONE, out, sizeof out), ERR_TOO_LARGE);
	assert_int_equal(downlink_route("gw1", "{key}", S("gw1/1234567"), NONE, NONE, out, sizeof out), 1);
	assert_int_equal(downlink_route("gw1", "{key}", NONE, S("12345678"), S("gw1"), out, sizeof out), ERR_TOO_LARGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_prefix),
		cmocka_unit_test(test_headers),
		cmocka_unit_test(test_too_long),
	};
	return cmocka_run_group_tests_name("agent/downlink", tests, NULL, NULL);
}
