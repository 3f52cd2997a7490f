/* Config parser: types, bounds, defaults, sections (plain and named), and errors that name file and line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "base/config.h"
#include "base/err.h"

struct route {
	char name[32];
	char topic[64];
	uint32_t priority;
};

struct conf {
	char bind[64];
	uint32_t port;
	bool anonymous;
	uint64_t max_bytes;
	uint64_t timeout_ms;
	int policy;
	uint32_t log_keep;
	struct route routes[2];
	int route_count;
};

static const char *const policies[] = {"reject", "evict", NULL};

static const struct config_key top_keys[] = {
	{"bind", CFG_STR, offsetof(struct conf, bind), 64, 0, 0, "127.0.0.1", NULL, "listen address"},
	{"port", CFG_U32, offsetof(struct conf, port), 0, 1, 65535, "1883", NULL, "listen port"},
	{"allow_anonymous", CFG_BOOL, offsetof(struct conf, anonymous), 0, 0, 0, "true", NULL, "anonymous"},
	{"max_bytes", CFG_SIZE, offsetof(struct conf, max_bytes), 0, 1024, 1ull << 40, "64m", NULL, "cap"},
	{"timeout", CFG_DURATION, offsetof(struct conf, timeout_ms), 0, 100, 3600000, "10s", NULL, "timeout"},
	{"policy", CFG_ENUM, offsetof(struct conf, policy), 0, 0, 0, "reject", policies, "policy"},
	{NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL},
};

static const struct config_key log_keys[] = {
	{"keep", CFG_U32, offsetof(struct conf, log_keep), 0, 0, 100, "7", NULL, "files kept"},
	{NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL},
};

static const struct config_key route_keys[] = {
	{"topic", CFG_STR, offsetof(struct route, topic), 64, 0, 0, "#", NULL, "filter"},
	{"priority", CFG_U32, offsetof(struct route, priority), 0, 0, 9, "5", NULL, "priority"},
	{NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL},
};

static void *open_route(void *ctx, const char *instance, char *err, size_t err_len)
{
	struct conf *c = ctx;
	if (c->route_count == 2) {
		snprintf(err, err_len, "at most 2 routes");
		return NULL;
	}
	struct route *r = &c->routes[c->route_count++];
	snprintf(r->name, sizeof r->name, "%s", instance);
	return r;
}

static const struct config_section sections[] = {
	{"", top_keys, NULL},
	{"log", log_keys, NULL},
	{"route", route_keys, open_route},
	{NULL, NULL, NULL},
};

static int parse(struct conf *c, const char *text, char *err)
{
	memset(c, 0, sizeof *c);
	assert_int_equal(config_defaults(sections, c), 0);
	return config_parse(sections, c, text, strlen(text), "test.conf", err, 256);
}

static void test_defaults_and_values(void **state)
{
	(void)state;
	struct conf c;
	char err[256];
	assert_int_equal(parse(&c, "", err), 0);
	assert_string_equal(c.bind, "127.0.0.1");
	assert_int_equal(c.port, 1883);
	assert_true(c.anonymous);
	assert_true(c.max_bytes == 64ull << 20);
	assert_true(c.timeout_ms == 10000);
	assert_int_equal(c.log_keep, 7);

	const char *text = "# comment\n"
			   "bind \"0.0.0.0\"\n"
			   "port 8883\n"
			   "allow_anonymous off\n"
			   "max_bytes 2g\n"
			   "timeout 1500ms\n"
			   "policy evict\n"
			   "\n"
			   "[log]\n"
			   "keep 3\n"
			   "[route sensors]\n"
			   "topic sensors/+/temp\n"
			   "[route cmds]\n"
			   "priority 1\n";
	assert_int_equal(parse(&c, text, err), 0);
	assert_string_equal(c.bind, "0.0.0.0");
	assert_int_equal(c.port, 8883);
	assert_false(c.anonymous);
	assert_true(c.max_bytes == 2ull << 30);
	assert_true(c.timeout_ms == 1500);
	assert_int_equal(c.policy, 1);
	assert_int_equal(c.log_keep, 3);
	assert_int_equal(c.route_count, 2);
	assert_string_equal(c.routes[0].name, "sensors");
	assert_string_equal(c.routes[0].topic, "sensors/+/temp");
	assert_int_equal(c.routes[0].priority, 5); /* default applied to the instance */
	assert_string_equal(c.routes[1].topic, "#");
	assert_int_equal(c.routes[1].priority, 1);
}

static void test_errors_name_file_and_line(void **state)
{
	(void)state;
	static const struct { const char *text; const char *msg; } cases[] = {
		{"port 0\n", "test.conf:1: port: 0 is out of range [1, 65535]"},
		{"\nport 70000\n", "test.conf:2: port: 70000 is out of range [1, 65535]"},
		{"port 12x\n", "test.conf:1: port: '12x' is not a valid number"},
		{"port -1\n", "test.conf:1: port: '-1' is not a valid number"},
		{"bogus 1\n", "test.conf:1: unknown key 'bogus'"},
		{"[log]\nport 1\n", "test.conf:2: unknown key 'port' in [log]"},
		{"[nope]\n", "test.conf:1: unknown section [nope]"},
		{"[route]\n", "test.conf:1: section [route] needs a name of 1 to 127 bytes"},
		{"[log x]\n", "test.conf:1: section [log] takes no name"},
		{"[log\n", "test.conf:1: section header needs a closing ']'"},
		{"timeout 30\n", "test.conf:1: timeout: '30' is not a valid duration with a unit (e.g. 500ms, 30s, 5m)"},
		{"allow_anonymous maybe\n", "test.conf:1: allow_anonymous: 'maybe' is not a boolean (true/false, yes/no, on/off)"},
		{"policy drop\n", "test.conf:1: policy: 'drop' is not one of the allowed values"},
		{"port 1\nport 2\n", "test.conf:2: 'port' is set twice in this section"},
		{"bind \"a\n", "test.conf:1: unbalanced quotes in the value of 'bind'"},
		{"[route a]\n[route b]\n[route c]\n", "test.conf:3: at most 2 routes"},
		{"max_bytes 99999999999999999999999\n", "test.conf:1: max_bytes: '99999999999999999999999' is not a valid size (e.g. 512, 64k, 16m)"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct conf c;
		char err[256] = "";
		assert_int_equal(parse(&c, cases[i].text, err), ERR_CONFIG);
		assert_string_equal(err, cases[i].msg);
	}
}

static void test_long_values_bounded(void **state)
{
	(void)state;
	struct conf c;
	char err[256], text[5000];
	memset(text, 'a', sizeof text);
	memcpy(text, "bind ", 5);
	text[100] = '\0'; /* 95-byte value into a 64-byte field */
	assert_int_equal(parse(&c, text, err), ERR_CONFIG);
	assert_string_equal(err, "test.conf:1: bind: value longer than 63 bytes");
	text[100] = 'a';
	text[sizeof text - 1] = '\0'; /* a line over the limit */
	assert_int_equal(parse(&c, text, err), ERR_CONFIG);
	assert_string_equal(err, "test.conf:1: line longer than 4095 bytes");
}

static void test_size_duration_parsers(void **state)
{
	(void)state;
	uint64_t v;
	assert_int_equal(config_parse_size("512", &v), 0), assert_true(v == 512);
	assert_int_equal(config_parse_size("64k", &v), 0), assert_true(v == 65536);
	assert_int_equal(config_parse_size("1MiB", &v), 0), assert_true(v == 1 << 20);
	assert_int_equal(config_parse_size("1t", &v), ERR_INVAL);
	assert_int_equal(config_parse_size("", &v), ERR_INVAL);
	assert_int_equal(config_parse_size("20000000000g", &v), ERR_RANGE);
	assert_int_equal(config_parse_duration_ms("2h", &v), 0), assert_true(v == 7200000);
	assert_int_equal(config_parse_duration_ms("5", &v), ERR_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults_and_values),
		cmocka_unit_test(test_errors_name_file_and_line),
		cmocka_unit_test(test_long_values_bounded),
		cmocka_unit_test(test_size_duration_parsers),
	};
	return cmocka_run_group_tests_name("base/config", tests, NULL, NULL);
}
