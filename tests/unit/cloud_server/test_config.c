/* ferry-cloud config: embedded defaults, sections, users, and the relation checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/err.h"
#include "cloud/config.h"

static struct cloud_config c;

static void test_defaults(void **state)
{
	(void)state;
	char err[256];
	assert_int_equal(cloud_config_load(&c, NULL, err, sizeof err), 0);
	assert_string_equal(c.data_dir, "./var");
	assert_string_equal(c.plain.host, "127.0.0.1");
	assert_int_equal(c.plain.port, 9092);
	assert_int_equal(c.tls.port, 0);
	assert_true(c.auto_create);
	assert_int_equal(c.default_partitions, 1);
	assert_int_equal(c.request_bytes_max, 100u << 20);
	assert_int_equal(c.flush, CLOUD_FLUSH_INTERVAL);
	assert_int_equal(c.group_session_timeout_ms_min, 6000);
	assert_int_equal(c.user_count, 0);
}

static void test_sections_and_users(void **state)
{
	(void)state;
	char err[256];
	const char *text = "node_id 3\ndata_dir /data/ferry\n[listener]\nhost 0.0.0.0\nport 9093\nsasl on\n"
			   "advertised_host kafka.example\n[limits]\ninflight_max 5\nrequest_bytes_max 2m\n"
			   "request_bytes_max_unauth 64k\n[topics]\nflush always\nretention 2d\n"
			   "[user alice]\npassword \"two words\"\n[user bob]\npassword x\n";
	assert_int_equal(cloud_config_load_text(&c, text, err, sizeof err), 0);
	assert_int_equal(c.node_id, 3);
	assert_string_equal(c.plain.advertised_host, "kafka.example");
	assert_true(c.plain.sasl);
	assert_int_equal(c.inflight_max, 5);
	assert_int_equal(c.flush, CLOUD_FLUSH_ALWAYS);
	assert_int_equal(c.retention_ms, 2 * 86400000ull);
	assert_int_equal(c.user_count, 2);
	assert_string_equal(c.users[0].name, "alice");
	assert_string_equal(c.users[0].password, "two words");
}

static void test_refusals(void **state)
{
	(void)state;
	char err[256];
	static const char *const bad[] = {
		"[listener]\nsasl true\n",                                   /* SASL without users */
		"[listener]\nport 0\n",                                      /* no listener */
		"[tls]\nport 9094\n",                                        /* TLS without a certificate */
		"[groups]\nsession_timeout_min 10m\nsession_timeout_max 1m\n",
		"[limits]\nrequest_bytes_max 1m\nrequest_bytes_max_unauth 2m\n",
		"[topics]\ndefault_partitions 5\npartitions_max 2\n",
		"[topics]\nsegment_bytes 1m\nmessage_bytes_max 2m\n",          /* a batch must fit a segment */
		"[limits]\ninflight_max 0\n",
		"[topics]\nflush sometimes\n",
		"[user a]\npassword x\n[user a]\npassword y\n",
		"[user]\npassword x\n",
		"bogus_key 1\n",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		err[0] = 0;
		assert_int_equal(cloud_config_load_text(&c, bad[i], err, sizeof err), ERR_CONFIG);
		assert_true(err[0] != 0);
	}
}

/* examples/cloud.conf documents every default: it must parse and change nothing. */
static void test_example_is_the_defaults(void **state)
{
	(void)state;
	char err[256];
	static struct cloud_config d;
	assert_int_equal(cloud_config_load(&d, NULL, err, sizeof err), 0);
	assert_int_equal(cloud_config_load(&c, "examples/cloud.conf", err, sizeof err), 0);
	assert_memory_equal(&c, &d, sizeof c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_sections_and_users),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_example_is_the_defaults),
	};
	return cmocka_run_group_tests_name("cloud_server/config", tests, NULL, NULL);
}
