/* Retained message index: set/replace/clear, filters against stored topics ('+', '#', parent level,
 * '$' topics), pruning, and agreement with a naive matcher over a generated topic space. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "mqtt/retain.h"

#define S(x) (const uint8_t *)(x), strlen(x)

struct got {
	uint64_t v[4096];
	size_t n;
};

static int collect(void *ctx, uint64_t msg)
{
	struct got *g = ctx;
	assert_true(g->n < 4096);
	g->v[g->n++] = msg;
	return 0;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void expect(const struct mqtt_retain *r, const char *filter, const uint64_t *want)
{
	struct got g = {.n = 0};
	assert_int_equal(mqtt_retain_match(r, S(filter), collect, &g), 0);
	qsort(g.v, g.n, sizeof g.v[0], cmp);
	size_t n = 0;
	while (want[n])
		n++;
	if (g.n != n)
		fail_msg("filter '%s': %zu retained, want %zu", filter, g.n, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(g.v[i], want[i]);
}

#define W(...) ((const uint64_t[]){__VA_ARGS__, 0})
#define NONE ((const uint64_t[]){0})

static void test_basic(void **state)
{
	(void)state;
	struct mqtt_retain *r = mqtt_retain_new(&mqtt_topic_limits_default);
	uint64_t old;
	const char *topics[] = {"a", "a/b", "a/b/c", "a//c", "$SYS/x", "b/b", "/a"};
	for (uint64_t i = 0; i < 7; i++) {
		assert_int_equal(mqtt_retain_set(r, S(topics[i]), i + 1, &old), 0);
		assert_int_equal(old, 0);
	}
	assert_int_equal(mqtt_retain_count(r), 7);
	expect(r, "#", W(1, 2, 3, 4, 6, 7)); /* not $SYS */
	expect(r, "a/#", W(1, 2, 3, 4));
	expect(r, "a/+", W(2));
	expect(r, "a/+/c", W(3, 4));
	expect(r, "+/b", W(2, 6));
	expect(r, "+", W(1));
	expect(r, "$SYS/#", W(5));
	expect(r, "+/x", NONE);
	expect(r, "/+", W(7));
	expect(r, "a/b/c/#", W(3));
	expect(r, "nothing/#", NONE);
	assert_int_equal(mqtt_retain_get(r, S("a/b")), 2);
	assert_int_equal(mqtt_retain_get(r, S("a/x")), 0);

	/* Replace, then clear: the broker gets the old reference back. */
	assert_int_equal(mqtt_retain_set(r, S("a/b"), 20, &old), 0);
	assert_int_equal(old, 2);
	assert_int_equal(mqtt_retain_set(r, S("a/b"), 0, &old), 0);
	assert_int_equal(old, 20);
	assert_int_equal(mqtt_retain_set(r, S("zz/top"), 0, &old), 0); /* clearing nothing */
	assert_int_equal(old, 0);
	expect(r, "a/+", NONE);
	expect(r, "a/#", W(1, 3, 4));
	assert_int_equal(mqtt_retain_set(r, S("a/+"), 1, &old), ERR_MQTT_TOPIC_WILDCARD);
	for (uint64_t i = 0; i < 7; i++)
		assert_int_equal(mqtt_retain_set(r, S(topics[i]), 0, &old), 0);
	assert_int_equal(mqtt_retain_count(r), 0);
	assert_int_equal(mqtt_retain_nodes(r), 1); /* pruned back to the root */
	mqtt_retain_free(r);
}

static bool naive(const char *f, const char *t)
{
	if (t[0] == '$' && (f[0] == '+' || f[0] == '#'))
		return false;
	for (;;) {
		if (f[0] == '#')
			return true;
		size_t fl = strcspn(f, "/"), tl = strcspn(t, "/");
		if (!(fl == 1 && f[0] == '+') && (fl != tl || memcmp(f, t, fl) != 0))
			return false;
		f += fl;
		t += tl;
		if (!*f && !*t)
			return true;
		if (!*t)
			return strcmp(f, "/#") == 0; /* parent level */
		if (!*f)
			return false;
		f++, t++;
	}
}

static void test_against_naive(void **state)
{
	(void)state;
	struct mqtt_retain *r = mqtt_retain_new(&mqtt_topic_limits_default);
	static char topics[600][64];
	int nt = 0;
	uint64_t old;
	for (int s = 0; s < 5; s++)
		for (int d = 0; d < 40; d++)
			for (int m = 0; m < 3; m++) {
				snprintf(topics[nt], sizeof topics[nt], "%ssite/%d/d%d/m%d", s == 4 ? "$" : "", s, d, m);
				assert_int_equal(mqtt_retain_set(r, S(topics[nt]), (uint64_t)nt + 1, &old), 0);
				nt++;
			}
	/* Clear a third so pruning has run before matching. */
	for (int i = 0; i < nt; i += 3)
		assert_int_equal(mqtt_retain_set(r, S(topics[i]), 0, &old), 0);
	const char *filters[] = {"#", "site/#", "site/1/#", "site/+/d7/+", "+/+/+/m1", "site/2/d3/m0",
				 "$site/#", "+/4/#", "site/+/+/#", "site/1/d1", "site/1/d1/#", "+", "$site/4/d0/+"};
	for (size_t k = 0; k < sizeof filters / sizeof filters[0]; k++) {
		struct got g = {.n = 0};
		assert_int_equal(mqtt_retain_match(r, S(filters[k]), collect, &g), 0);
		size_t want = 0;
		for (int i = 0; i < nt; i++)
			if (i % 3 && naive(filters[k], topics[i]))
				want++;
		if (g.n != want)
			fail_msg("filter '%s': %zu, naive %zu", filters[k], g.n, want);
		for (size_t i = 0; i < g.n; i++)
			assert_true(naive(filters[k], topics[g.v[i] - 1]));
	}
	mqtt_retain_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic),
		cmocka_unit_test(test_against_naive),
	};
	return cmocka_run_group_tests_name("mqtt/retain", tests, NULL, NULL);
}
