/* libFuzzer target for the agent's file parsers and topic matching: ACL files (then checks against fixed
 * users and topics), password files (parse only: a check would run PBKDF2), and the filter matchers on
 * arbitrary strings (first byte picks). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent/acl.h"
#include "agent/auth.h"
#include "base/err.h"

static void acl(const char *text, size_t n)
{
	struct acl *a = NULL;
	char err[256];
	if (acl_parse(&a, text, n, "fuzz", err, sizeof err) != 0) {
		if (a)
			abort();
		return;
	}
	static const char *const users[] = {NULL, "alice", "bob", "+", "a/b", ""};
	static const char *const topics[] = {"a", "a/b", "sensors/x/temp", "$SYS/x", "#", "+/+", "a/#", ""};
	for (size_t u = 0; u < sizeof users / sizeof users[0]; u++)
		for (size_t t = 0; t < sizeof topics / sizeof topics[0]; t++)
			for (int acc = 1; acc <= 4; acc <<= 1)
				acl_check(a, users[u], "client-1", topics[t], (enum acl_access)acc);
	acl_free(a);
}

static void passwords(const char *text, size_t n)
{
	struct auth_passwords *p = NULL;
	char err[256];
	if (auth_passwords_parse(&p, text, n, "fuzz", err, sizeof err) == 0)
		auth_passwords_free(p);
}

static void match(const char *s)
{
	/* split at the first newline into filter and topic */
	const char *nl = strchr(s, '\n');
	if (!nl)
		return;
	char *f = strndup(s, (size_t)(nl - s));
	const char *t = nl + 1;
	bool m = acl_filter_matches(f, t);
	bool c = acl_filter_covers(f, t);
	/* a topic name (no wildcards) covered by a filter is matched by it */
	if (!strpbrk(t, "+#") && c && !m)
		abort();
	free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	char *text = malloc(size);
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	switch (data[0] % 3) {
	case 0: acl(text, size - 1); break;
	case 1: passwords(text, size - 1); break;
	case 2: match(text); break;
	}
	free(text);
	return 0;
}
