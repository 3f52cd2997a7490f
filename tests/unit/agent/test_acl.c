/* ACL: MQTT filter matching and covering, file parsing, per-user/anonymous/pattern rules, deny precedence,
 * %u/%c substitution that a crafted name cannot widen. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "agent/acl.h"
#include "base/err.h"

static void test_matches(void **state)
{
	(void)state;
	static const struct { const char *f, *t; bool m; } cases[] = {
		{"a/b", "a/b", true},       {"a/b", "a/c", false},       {"a/+", "a/b", true},
		{"a/+", "a/b/c", false},    {"a/#", "a/b/c", true},      {"a/#", "a", true},
		{"#", "a/b", true},         {"+/+", "a/b", true},        {"+", "", true},
		{"a/+/c", "a//c", true},    {"#", "$SYS/x", false},      {"+/x", "$SYS/x", false},
		{"$SYS/#", "$SYS/x", true}, {"a/b", "a/b/", false},      {"a/b/", "a/b/", true},
		{"a", "ab", false},         {"ab", "a", false},          {"a/#", "ab", false},
		{"/+", "/x", true},         {"+/#", "/", true},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (acl_filter_matches(cases[i].f, cases[i].t) != cases[i].m)
			fail_msg("matches(%s, %s) != %d", cases[i].f, cases[i].t, cases[i].m);
}

static void test_covers(void **state)
{
	(void)state;
	static const struct { const char *f, *s; bool c; } cases[] = {
		{"a/#", "a/b/+", true}, {"a/#", "a/#", true},   {"a/+", "a/+", true},   {"a/+", "a/#", false},
		{"a/b", "a/+", false},  {"#", "+/#", true},     {"a/+/c", "a/x/c", true}, {"a/+/c", "a/x/+", false},
		{"a/#", "a", true},     {"#", "$SYS/#", false}, {"a/b", "a/b", true},   {"+", "#", false},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (acl_filter_covers(cases[i].f, cases[i].s) != cases[i].c)
			fail_msg("covers(%s, %s) != %d", cases[i].f, cases[i].s, cases[i].c);
}

static struct acl *parse(const char *text)
{
	struct acl *a = NULL;
	char err[256];
	if (acl_parse(&a, text, strlen(text), "acl", err, sizeof err))
		fail_msg("%s", err);
	return a;
}

static void test_rules(void **state)
{
	(void)state;
	struct acl *a = parse("# anonymous clients\n"
			      "topic read public/#\n"
			      "\n"
			      "user alice\n"
			      "topic readwrite sensors/#\n"
			      "topic deny sensors/secret/#\n"
			      "topic write cmd/+/set\n"
			      "user bob\n"
			      "topic subscribe alerts/#\n"
			      "topic  topic/with spaces\n"
			      "pattern readwrite devices/%u/%c/#\n"
			      "pattern read clients/%c\n");
	/* anonymous */
	assert_true(acl_check(a, NULL, "c1", "public/x", ACL_READ));
	assert_true(acl_check(a, NULL, "c1", "public/+", ACL_SUBSCRIBE));
	assert_false(acl_check(a, NULL, "c1", "public/x", ACL_WRITE));
	assert_false(acl_check(a, NULL, "c1", "sensors/t", ACL_READ));
	assert_true(acl_check(a, NULL, "c1", "clients/c1", ACL_READ));
	assert_false(acl_check(a, NULL, "c1", "devices/x/c1/a", ACL_WRITE)); /* no %u for anonymous */
	/* alice */
	assert_true(acl_check(a, "alice", "c2", "sensors/t", ACL_WRITE));
	assert_true(acl_check(a, "alice", "c2", "sensors/+", ACL_SUBSCRIBE));
	assert_false(acl_check(a, "alice", "c2", "sensors/secret/k", ACL_READ));
	assert_true(acl_check(a, "alice", "c2", "sensors/#", ACL_SUBSCRIBE)); /* overlaps the deny: delivery checks */
	assert_false(acl_check(a, "alice", "c2", "sensors/secret/+", ACL_SUBSCRIBE)); /* inside the deny */
	assert_false(acl_check(a, "alice", "c2", "sensors/secret/k", ACL_WRITE));
	assert_true(acl_check(a, "alice", "c2", "cmd/7/set", ACL_WRITE));
	assert_false(acl_check(a, "alice", "c2", "cmd/7/set", ACL_READ));
	assert_false(acl_check(a, "alice", "c2", "public/x", ACL_READ)); /* anonymous rules are not hers */
	assert_true(acl_check(a, "alice", "c2", "devices/alice/c2/temp", ACL_WRITE));
	assert_false(acl_check(a, "alice", "c2", "devices/bob/c2/temp", ACL_WRITE));
	/* bob */
	assert_true(acl_check(a, "bob", "c3", "alerts/#", ACL_SUBSCRIBE));
	assert_false(acl_check(a, "bob", "c3", "alerts/x", ACL_WRITE));
	assert_true(acl_check(a, "bob", "c3", "topic/with spaces", ACL_WRITE));
	/* a name holding wildcards or '/' cannot widen a pattern */
	assert_false(acl_check(a, "+", "c3", "devices/x/c3/a", ACL_WRITE));
	assert_false(acl_check(a, "a/b", "c", "devices/a/b/c/z", ACL_WRITE));
	assert_false(acl_check(a, "eve", "#", "clients/#", ACL_SUBSCRIBE));
	assert_false(acl_check(a, "eve", "", "clients/", ACL_READ));
	/* no ACL at all: everything */
	assert_true(acl_check(NULL, NULL, "c", "any/thing", ACL_WRITE));
	acl_free(a);
}

static void test_parse_errors(void **state)
{
	(void)state;
	static const struct { const char *text, *needle; } cases[] = {
		{"topic read a/#/b\n", "acl:1: 'a/#/b' is not a valid"},
		{"\ntopic read a+\n", "acl:2:"},
		{"user\n", "user needs a name"},
		{"grant a\n", "unknown keyword"},
		{"topic read\n", "not a valid"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct acl *a = NULL;
		char err[256] = "";
		assert_int_equal(acl_parse(&a, cases[i].text, strlen(cases[i].text), "acl", err, sizeof err), ERR_CONFIG);
		if (!strstr(err, cases[i].needle))
			fail_msg("'%s' lacks '%s'", err, cases[i].needle);
		assert_null(a);
	}
	struct acl *a = NULL;
	char err[256];
	assert_int_equal(acl_load(&a, "/nonexistent/acl", err, sizeof err), ERR_CONFIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_matches),
		cmocka_unit_test(test_covers),
		cmocka_unit_test(test_rules),
		cmocka_unit_test(test_parse_errors),
	};
	return cmocka_run_group_tests_name("agent/acl", tests, NULL, NULL);
}
