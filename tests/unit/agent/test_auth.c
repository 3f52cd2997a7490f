/* Passwords: a known PBKDF2-SHA256 vector, hash/verify round trip, the verified cache, file errors,
 * `passwd` updates (atomic, other lines kept), struct auth reload keeping old rules on a bad file. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/auth.h"
#include "base/err.h"

#define P(s) (const uint8_t *)(s), strlen(s)

/* PBKDF2-HMAC-SHA256, 4096 iterations (first 32 bytes of the well-known 40-byte vector) */
static const char vector[] = "v:$pbkdf2-sha256$4096$c2FsdFNBTFRzYWx0U0FMVHNhbHRTQUxUc2FsdFNBTFRzYWx0"
			     "$NIyJ28vTKy8y2BS4EW6EzysXNH68GAAYHE4qH7jdU+E=\n";

static struct auth_passwords *parse(const char *text)
{
	struct auth_passwords *p = NULL;
	char err[256];
	if (auth_passwords_parse(&p, text, strlen(text), "pw", err, sizeof err))
		fail_msg("%s", err);
	return p;
}

static void test_known_vector(void **state)
{
	(void)state;
	struct auth_passwords *p = parse(vector);
	assert_int_equal(auth_passwords_count(p), 1);
	assert_int_equal(auth_passwords_check(p, "v", P("passwordPASSWORDpassword")), 0);
	assert_int_equal(auth_passwords_check(p, "v", P("passwordPASSWORDpassworD")), ERR_AUTH);
	assert_int_equal(auth_passwords_check(p, "v", P("")), ERR_AUTH);
	assert_int_equal(auth_passwords_check(p, "w", P("passwordPASSWORDpassword")), ERR_AUTH);
	/* second success comes from the cache; the cache never admits a different password */
	assert_int_equal(auth_passwords_check(p, "v", P("passwordPASSWORDpassword")), 0);
	assert_int_equal(auth_passwords_check(p, "v", P("wrong")), ERR_AUTH);
	auth_passwords_free(p);
}

static void test_hash_round_trip(void **state)
{
	(void)state;
	char h1[256], h2[256], line[600];
	assert_int_equal(auth_password_hash(P("s3cret"), 1000, h1, sizeof h1), 0);
	assert_int_equal(auth_password_hash(P("s3cret"), 1000, h2, sizeof h2), 0);
	assert_string_not_equal(h1, h2); /* fresh salt each time */
	assert_memory_equal(h1, "$pbkdf2-sha256$1000$", 20);
	snprintf(line, sizeof line, "# users\n\nalice:%s\r\nbob:%s\n", h1, h2);
	struct auth_passwords *p = parse(line);
	assert_int_equal(auth_passwords_count(p), 2);
	assert_int_equal(auth_passwords_check(p, "alice", P("s3cret")), 0);
	assert_int_equal(auth_passwords_check(p, "bob", P("s3cret")), 0);
	assert_int_equal(auth_passwords_check(p, "bob", P("s3cret ")), ERR_AUTH);
	auth_passwords_free(p);
	assert_int_equal(auth_password_hash(P("x"), 10, h1, sizeof h1), ERR_RANGE);
	assert_int_equal(auth_password_hash(P("x"), 1000, h1, 20), ERR_TOO_LARGE);
}

static void test_file_errors(void **state)
{
	(void)state;
	static const struct { const char *text, *needle; } cases[] = {
		{"nocolon\n", "pw:1: expected user:hash"},
		{":$pbkdf2-sha256$1000$c2FsdHNhbHQ=$aGFzaA==\n", "expected user:hash"},
		{"u:$md5$x\n", "unknown hash scheme"},
		{"u:$pbkdf2-sha256$10$c2FsdHNhbHQ=$aGFzaA==\n", "iteration"},
		{"u:$pbkdf2-sha256$1000$!!!$aGFzaA==\n", "bad salt"},
		{"u:$pbkdf2-sha256$1000$c2FsdHNhbHQ=$aGFzaA==\n", "bad hash"},
		{"u:$pbkdf2-sha256$1000$c2FsdHNhbHQ=\n", "missing hash"},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct auth_passwords *p = NULL;
		char err[256] = "";
		assert_int_equal(auth_passwords_parse(&p, cases[i].text, strlen(cases[i].text), "pw", err, sizeof err),
				 ERR_CONFIG);
		if (!strstr(err, cases[i].needle))
			fail_msg("'%s' lacks '%s'", err, cases[i].needle);
	}
	char twice[512];
	snprintf(twice, sizeof twice, "%s%s", vector, vector);
	struct auth_passwords *p = NULL;
	char err[256] = "";
	assert_int_equal(auth_passwords_parse(&p, twice, strlen(twice), "pw", err, sizeof err), ERR_CONFIG);
	assert_non_null(strstr(err, "twice"));
}

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/ferry-auth-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd);
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");
	fputs(text, f);
	fclose(f);
}

static void test_passwd_set(void **state)
{
	(void)state;
	char path[128], err[300] = "";
	snprintf(path, sizeof path, "%s/passwords", dir);
	assert_int_equal(auth_passwd_set(path, false, "alice", P("one"), 1000, err, sizeof err), ERR_IO); /* no file */
	assert_int_equal(auth_passwd_set(path, true, "alice", P("one"), 1000, err, sizeof err), 0);
	assert_int_equal(auth_passwd_set(path, false, "bob", P("two"), 1000, err, sizeof err), 0);
	assert_int_equal(auth_passwd_set(path, false, "alice", P("three"), 1000, err, sizeof err), 0);
	assert_int_equal(auth_passwd_set(path, false, "bad:name", P("x"), 1000, err, sizeof err), ERR_CONFIG);
	struct auth_passwords *p;
	assert_int_equal(auth_passwords_load(&p, path, err, sizeof err), 0);
	assert_int_equal(auth_passwords_count(p), 2);
	assert_int_equal(auth_passwords_check(p, "alice", P("three")), 0);
	assert_int_equal(auth_passwords_check(p, "alice", P("one")), ERR_AUTH);
	assert_int_equal(auth_passwords_check(p, "bob", P("two")), 0);
	auth_passwords_free(p);
	/* a file we cannot parse is left alone */
	write_text(path, "garbage line\n");
	assert_int_equal(auth_passwd_set(path, false, "alice", P("x"), 1000, err, sizeof err), ERR_CONFIG);
	char buf[64] = "";
	FILE *f = fopen(path, "r");
	assert_non_null(fgets(buf, sizeof buf, f));
	fclose(f);
	assert_string_equal(buf, "garbage line\n");
}

static void test_auth_reload(void **state)
{
	(void)state;
	char pw[128], acl[128], err[300] = "";
	snprintf(pw, sizeof pw, "%s/pw", dir);
	snprintf(acl, sizeof acl, "%s/acl", dir);
	assert_int_equal(auth_passwd_set(pw, true, "alice", P("pa55"), 1000, err, sizeof err), 0);
	write_text(acl, "user alice\ntopic readwrite a/#\n");
	struct auth a;
	assert_int_equal(auth_init(&a, false, pw, acl, err, sizeof err), 0);
	assert_int_equal(auth_connect(&a, NULL, NULL, 0), ERR_AUTH); /* anonymous refused */
	assert_int_equal(auth_connect(&a, "alice", P("pa55")), 0);
	assert_int_equal(auth_connect(&a, "alice", NULL, 0), ERR_AUTH);
	assert_int_equal(auth_connect(&a, "alice", P("nope")), ERR_AUTH);
	assert_true(auth_allowed(&a, "alice", "c", "a/b", ACL_WRITE));
	assert_false(auth_allowed(&a, "alice", "c", "b", ACL_WRITE));

	/* a broken ACL: reload fails, old rules and passwords stay */
	write_text(acl, "user alice\ntopic readwrite a/#/x\n");
	assert_int_equal(auth_reload(&a), ERR_CONFIG);
	assert_int_equal(a.reload_failures, 1);
	assert_true(auth_allowed(&a, "alice", "c", "a/b", ACL_WRITE));
	assert_int_equal(auth_connect(&a, "alice", P("pa55")), 0);

	/* good files: swapped */
	write_text(acl, "user alice\ntopic readwrite b\n");
	assert_int_equal(auth_passwd_set(pw, false, "alice", P("new"), 1000, err, sizeof err), 0);
	assert_int_equal(auth_reload(&a), 0);
	assert_int_equal(a.reloads, 1);
	assert_false(auth_allowed(&a, "alice", "c", "a/b", ACL_WRITE));
	assert_true(auth_allowed(&a, "alice", "c", "b", ACL_WRITE));
	assert_int_equal(auth_connect(&a, "alice", P("pa55")), ERR_AUTH);
	assert_int_equal(auth_connect(&a, "alice", P("new")), 0);
	auth_deinit(&a);

	/* no files: anonymous allowed when configured, any user name passes, everything allowed */
	assert_int_equal(auth_init(&a, true, "", NULL, err, sizeof err), 0);
	assert_int_equal(auth_connect(&a, NULL, NULL, 0), 0);
	assert_int_equal(auth_connect(&a, "anyone", NULL, 0), 0);
	assert_true(auth_allowed(&a, NULL, "c", "x", ACL_WRITE));
	auth_deinit(&a);
	assert_int_equal(auth_init(&a, true, "/nonexistent/pw", NULL, err, sizeof err), ERR_CONFIG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_known_vector),
		cmocka_unit_test(test_hash_round_trip),
		cmocka_unit_test(test_file_errors),
		cmocka_unit_test_setup_teardown(test_passwd_set, setup, teardown),
		cmocka_unit_test_setup_teardown(test_auth_reload, setup, teardown),
	};
	return cmocka_run_group_tests_name("agent/auth", tests, NULL, NULL);
}
