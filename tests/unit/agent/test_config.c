/* Agent config: defaults, a full file, bounds and cross-key errors, and that docs/agent-config.md and
 * examples/agent.conf are exactly what the key table renders (so no key goes undocumented). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/config.h"
#include "base/err.h"
#include "base/log.h"

static void test_defaults(void **state)
{
	(void)state;
	struct agent_config c;
	agent_config_defaults(&c);
	assert_true(c.mqtt.enabled);
	assert_string_equal(c.mqtt.address, "127.0.0.1");
	assert_int_equal(c.mqtt.port, 1883);
	assert_false(c.mqtt_tls.enabled);
	assert_false(c.websocket.enabled);
	assert_string_equal(c.websocket.path, "/mqtt");
	assert_string_equal(c.data_dir, "./var");
	assert_int_equal(c.log_level, LOG_INFO);
	assert_int_equal(c.sys_interval_ms, 10000);
	assert_int_equal(c.limits.max_packet_size, 1 << 20);
	assert_int_equal(c.limits.connect_timeout_ms, 10000);
	assert_int_equal(c.store.sync, AGENT_SYNC_FULL);
	assert_true(c.security.allow_anonymous);
	assert_string_equal(c.security.password_file, "");
	char err[256];
	assert_int_equal(agent_config_validate(&c, err, sizeof err), 0);
}

static void test_full_file(void **state)
{
	(void)state;
	const char *text = "data_dir /var/lib/ferry\nlog_level debug\nsys_interval 0s\n"
			   "[mqtt]\nport 11883\n"
			   "[mqtt_tls]\nenabled yes\nport 18883\ncert_file /etc/ferry/s.crt\nkey_file /etc/ferry/s.key\n"
			   "ca_file /etc/ferry/ca.crt\nrequire_certificate true\nuse_identity_as_username true\n"
			   "[websocket]\nenabled on\nport 18080\npath /ws\n"
			   "[limits]\nmax_packet_size 256k\nmax_inflight 10\nconnect_timeout 2s\nmax_keepalive 5m\n"
			   "[security]\nallow_anonymous false\npassword_file \"/etc/ferry/pass words\"\n"
			   "[admin]\nport 19883\n[store]\nsync normal\n";
	struct agent_config c;
	char err[256] = "";
	assert_int_equal(agent_config_parse(&c, text, strlen(text), "t.conf", err, sizeof err), 0);
	assert_string_equal(c.data_dir, "/var/lib/ferry");
	assert_int_equal(c.log_level, LOG_DEBUG);
	assert_int_equal(c.sys_interval_ms, 0);
	assert_int_equal(c.mqtt.port, 11883);
	assert_true(c.mqtt_tls.enabled && c.mqtt_tls.require_certificate && c.mqtt_tls.use_identity_as_username);
	assert_string_equal(c.mqtt_tls.ca_file, "/etc/ferry/ca.crt");
	assert_string_equal(c.websocket.path, "/ws");
	assert_int_equal(c.limits.max_packet_size, 256 * 1024);
	assert_int_equal(c.limits.max_inflight, 10);
	assert_int_equal(c.limits.max_keepalive_ms, 300000);
	assert_false(c.security.allow_anonymous);
	assert_string_equal(c.security.password_file, "/etc/ferry/pass words");
	assert_int_equal(c.store.sync, AGENT_SYNC_NORMAL);
}

static void expect_error(const char *text, const char *needle)
{
	struct agent_config c;
	char err[256] = "";
	assert_int_equal(agent_config_parse(&c, text, strlen(text), "t.conf", err, sizeof err), ERR_CONFIG);
	if (!strstr(err, needle))
		fail_msg("error '%s' lacks '%s'", err, needle);
}

static void test_errors(void **state)
{
	(void)state;
	expect_error("bogus 1\n", "t.conf:1: unknown key 'bogus'");
	expect_error("[limits]\nmax_inflight 0\n", "t.conf:2: max_inflight");
	expect_error("[limits]\nmax_inflight 70000\n", "out of range");
	expect_error("[limits]\nmax_packet_size 1g\n", "out of range");
	expect_error("[limits]\nconnect_timeout 10\n", "duration");
	expect_error("[mqtt]\nport 0\n", "out of range");
	expect_error("[store]\nsync sometimes\n", "not one of");
	expect_error("[route]\n", "needs a name");
	expect_error("[route a]\n[route a]\n", "defined twice");
	expect_error("[route a]\ntopic \"\"\n", "needs filter and topic");
	expect_error("[route a]\npriority 10\n", "out of range");
	expect_error("[uplink]\nenabled true\nbootstrap nohost\n", "bootstrap must be host:port");
	expect_error("[mqtt_tls]\nenabled true\n", "needs cert_file");
	expect_error("[mqtt_tls]\nenabled true\ncert_file a\nkey_file b\nrequire_certificate true\n", "needs ca_file");
	expect_error("[websocket]\nenabled true\nuse_identity_as_username true\n", "needs require_certificate");
	expect_error("[websocket]\nenabled true\nport 1883\n", "both use port 1883");
	expect_error("[websocket]\nenabled true\npath mqtt\n", "start with '/'");
	expect_error("[limits]\nmax_queued_messages 5\n", "max_inflight is over");
	expect_error("[mqtt]\nport 1\nport 2\n", "set twice");
	expect_error("[limits]\nmax_packet_size 32m\n", "max_queued_bytes is under max_packet_size");
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	char *buf = malloc(1 << 20);
	*len = fread(buf, 1, (1 << 20) - 1, f);
	buf[*len] = '\0';
	fclose(f);
	return buf;
}

static void test_doc_matches_table(void **state)
{
	(void)state;
	struct dbuf d;
	dbuf_init(&d, 1 << 20);
	assert_int_equal(agent_config_render_doc(&d), 0);
	size_t len;
	char *doc = slurp("docs/agent-config.md", &len);
	assert_non_null(doc);
	if (!strstr(doc, dbuf_str(&d)))
		fail_msg("docs/agent-config.md is out of date: regenerate its reference with "
			 "ferry-agent --config-reference");
	/* and every key by name, in case the renderer itself changes */
	for (const struct config_section *s = agent_config_sections; s->keys; s++)
		for (const struct config_key *k = s->keys; k->key; k++) {
			char needle[160];
			snprintf(needle, sizeof needle, "| `%s` |", k->key);
			assert_non_null(strstr(doc, needle));
		}
	free(doc);
	dbuf_deinit(&d);
}

static void test_example_matches_table_and_parses(void **state)
{
	(void)state;
	struct dbuf d;
	dbuf_init(&d, 1 << 20);
	assert_int_equal(agent_config_render_example(&d), 0);
	size_t len;
	char *ex = slurp("examples/agent.conf", &len);
	assert_non_null(ex);
	assert_string_equal(ex, dbuf_str(&d));
	struct agent_config c;
	char err[256] = "";
	assert_int_equal(agent_config_load(&c, "examples/agent.conf", err, sizeof err), 0);
	free(ex);
	dbuf_deinit(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full_file),
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_doc_matches_table),
		cmocka_unit_test(test_example_matches_table_and_parses),
	};
	return cmocka_run_group_tests_name("agent/config", tests, NULL, NULL);
}
