/* Topic names, topic filters, shared subscriptions and the subscription trie (wildcards, '$' topics, share
 * groups, replacement, removal and pruning). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "mqtt/trie.h"

#define S(x) (const uint8_t *)(x), strlen(x)

static void test_names(void **state)
{
	(void)state;
	assert_int_equal(mqtt_topic_name_check(S("a/b/c"), NULL), 0);
	assert_int_equal(mqtt_topic_name_check(S("/"), NULL), 0);
	assert_int_equal(mqtt_topic_name_check(S("$SYS/x"), NULL), 0);
	assert_int_equal(mqtt_topic_name_check(S(""), NULL), ERR_MQTT_TOPIC_EMPTY);
	assert_int_equal(mqtt_topic_name_check(S("a/+"), NULL), ERR_MQTT_TOPIC_WILDCARD);
	assert_int_equal(mqtt_topic_name_check(S("a#"), NULL), ERR_MQTT_TOPIC_WILDCARD);
	struct mqtt_topic_limits lim = {.len_max = 5, .levels_max = 2};
	assert_int_equal(mqtt_topic_name_check(S("ab/cd"), &lim), 0);
	assert_int_equal(mqtt_topic_name_check(S("ab/cde"), &lim), ERR_MQTT_TOPIC_TOO_LONG);
	assert_int_equal(mqtt_topic_name_check(S("a/b/c"), &lim), ERR_MQTT_TOPIC_TOO_LONG);
	assert_int_equal(mqtt_topic_levels(S("a//b/")), 4);
}

static void test_filters(void **state)
{
	(void)state;
	const char *ok[] = {"#", "+", "+/+", "a/#", "/#", "a/+/b", "+/", "//", "$SYS/#", "a//#", "sport/+/player1"};
	const char *bad[] = {"", "a#", "#/a", "a/#/b", "a+", "+a", "a/b+/c", "##", "a/++", "a/#/"};
	for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++)
		assert_int_equal(mqtt_topic_filter_check(S(ok[i]), NULL), 0);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		assert_int_equal(mqtt_topic_filter_check(S(bad[i]), NULL), ERR_MQTT_TOPIC_FILTER);
	struct mqtt_topic_limits lim = {.len_max = 100, .levels_max = 3};
	assert_int_equal(mqtt_topic_filter_check(S("a/b/#"), &lim), 0);
	assert_int_equal(mqtt_topic_filter_check(S("a/b/c/#"), &lim), ERR_MQTT_FILTER_TOO_LONG);

	struct mqtt_share sh;
	assert_int_equal(mqtt_subscription_parse(S("a/b"), NULL, &sh), 0);
	assert_null(sh.group.ptr);
	assert_int_equal(sh.filter.len, 3);
	assert_int_equal(mqtt_subscription_parse(S("$share/grp/s/+/t"), NULL, &sh), 1);
	assert_int_equal(sh.group.len, 3);
	assert_memory_equal(sh.group.ptr, "grp", 3);
	assert_int_equal(sh.filter.len, 5);
	assert_memory_equal(sh.filter.ptr, "s/+/t", 5);
	assert_int_equal(mqtt_subscription_parse(S("$share/g/#"), NULL, &sh), 1);
	assert_int_equal(mqtt_subscription_parse(S("$share/g"), NULL, &sh), ERR_MQTT_SHARE_NAME);
	assert_int_equal(mqtt_subscription_parse(S("$share/g/"), NULL, &sh), ERR_MQTT_SHARE_NAME);
	assert_int_equal(mqtt_subscription_parse(S("$share//a"), NULL, &sh), ERR_MQTT_SHARE_NAME);
	assert_int_equal(mqtt_subscription_parse(S("$share/#/a"), NULL, &sh), ERR_MQTT_SHARE_NAME);
	assert_int_equal(mqtt_subscription_parse(S("$share/g/a#"), NULL, &sh), ERR_MQTT_TOPIC_FILTER);
	assert_int_equal(mqtt_subscription_parse(S("$sharex/g/a"), NULL, &sh), 0); /* not the prefix */
	assert_int_equal(mqtt_subscription_parse(S("$share"), NULL, &sh), 0);
}

/* Collects matches as "subscriber" numbers (groups as 1000 + group size) into a sorted list. */
struct hits {
	uint64_t v[64];
	size_t n;
	const struct mqtt_trie *t;
};

static int collect(void *ctx, const struct mqtt_trie_match *m)
{
	struct hits *h = ctx;
	assert_true(h->n < 64);
	h->v[h->n++] = m->sub ? m->sub->subscriber : 1000 + mqtt_trie_group_size(h->t, m->group);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Matches topic and compares with the expected subscriber list (sorted, 0-terminated). */
static void expect(const struct mqtt_trie *t, const char *topic, const uint64_t *want)
{
	struct hits h = {.t = t};
	assert_int_equal(mqtt_trie_match(t, S(topic), collect, &h), 0);
	qsort(h.v, h.n, sizeof h.v[0], cmp);
	size_t n = 0;
	while (want[n])
		n++;
	if (h.n != n)
		fail_msg("topic '%s': %zu matches, want %zu", topic, h.n, n);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(h.v[i], want[i]);
}

#define W(...) ((const uint64_t[]){__VA_ARGS__, 0})

static void test_trie_match(void **state)
{
	(void)state;
	struct mqtt_trie *t = mqtt_trie_new(&mqtt_topic_limits_default);
	assert_non_null(t);
	const char *filters[] = {"a/b/c", "a/+/c", "a/#", "#", "+/+/+", "a/b", "+", "$SYS/#", "$SYS/+/x",
				 "+/b/#", "a//c", "a/+", "/#", "", NULL};
	uint32_t h;
	for (uint64_t i = 0; filters[i] && filters[i][0]; i++)
		assert_int_equal(mqtt_trie_insert(t, S(filters[i]), i + 1, 1, 0, &h), 0);
	/* 1 a/b/c  2 a/+/c  3 a/#  4 #  5 +/+/+  6 a/b  7 +  8 $SYS/#  9 $SYS/+/x  10 +/b/#  11 a//c  12 a/+  13 /# */
	expect(t, "a/b/c", W(1, 2, 3, 4, 5, 10));
	expect(t, "a/b", W(3, 4, 6, 10, 12));
	expect(t, "a", W(3, 4, 7)); /* a/# matches its parent level (§4.7.1.2) */
	expect(t, "a//c", W(2, 3, 4, 5, 11));
	expect(t, "b", W(4, 7));
	expect(t, "x/b", W(4, 10));
	expect(t, "/", W(4, 13)); /* "+" does not match "/", which has two levels */
	expect(t, "/x", W(4, 13));
	expect(t, "$SYS/a/x", W(8, 9)); /* never the leading wildcards [MQTT-4.7.2-1] */
	expect(t, "$SYS", W(8));
	expect(t, "$other", (const uint64_t[]){0});
	expect(t, "a/b/c/d", W(3, 4, 10));
	struct mqtt_trie_stats st;
	mqtt_trie_stats(t, &st);
	assert_int_equal(st.subs, 13);
	mqtt_trie_free(t);
}

static int stop_at_first(void *ctx, const struct mqtt_trie_match *m)
{
	(void)m;
	++*(int *)ctx;
	return 7;
}

static void test_trie_replace_remove(void **state)
{
	(void)state;
	struct mqtt_trie *t = mqtt_trie_new(&mqtt_topic_limits_default);
	uint32_t h1, h2, h3, h;
	assert_int_equal(mqtt_trie_insert(t, S("s/+/t"), 42, 1, 0, &h1), 0);
	assert_int_equal(mqtt_trie_insert(t, S("s/+/t"), 42, 2, 9, &h2), 1); /* same subscriber: replaced */
	assert_int_equal(h1, h2);
	assert_int_equal(mqtt_trie_get(t, h1)->options, 2);
	assert_int_equal(mqtt_trie_get(t, h1)->sub_id, 9);
	assert_int_equal(mqtt_trie_insert(t, S("s/+/t"), 43, 0, 0, &h3), 0);
	assert_int_equal(mqtt_trie_find(t, S("s/+/t"), 43, &h), 0);
	assert_int_equal(h, h3);
	assert_int_equal(mqtt_trie_find(t, S("s/+/t"), 44, &h), ERR_NOT_FOUND);
	assert_int_equal(mqtt_trie_find(t, S("s/x/t"), 42, &h), ERR_NOT_FOUND);
	assert_int_equal(mqtt_trie_insert(t, S("s/#/t"), 1, 0, 0, &h), ERR_MQTT_TOPIC_FILTER);
	int n = 0;
	assert_int_equal(mqtt_trie_match(t, S("s/1/t"), stop_at_first, &n), 7);
	assert_int_equal(n, 1);

	struct mqtt_trie_stats st;
	mqtt_trie_remove(t, h1);
	expect(t, "s/1/t", W(43));
	mqtt_trie_remove(t, h3);
	expect(t, "s/1/t", (const uint64_t[]){0});
	mqtt_trie_stats(t, &st);
	assert_int_equal(st.subs, 0);
	assert_int_equal(st.nodes, 1); /* pruned back to the root */

	/* Handles are reused; many filters sharing prefixes prune only what they alone held. */
	uint32_t hs[200];
	char f[64];
	for (int i = 0; i < 200; i++) {
		snprintf(f, sizeof f, "site/%d/dev/%d/temp", i % 10, i);
		assert_int_equal(mqtt_trie_insert(t, S(f), (uint64_t)i + 1, 0, 0, &hs[i]), 0);
	}
	mqtt_trie_stats(t, &st);
	assert_int_equal(st.subs, 200);
	assert_int_equal(st.nodes, 1 + 1 + 10 + 10 + 200 + 200);
	for (int i = 0; i < 200; i += 2)
		mqtt_trie_remove(t, hs[i]);
	expect(t, "site/3/dev/13/temp", W(14));
	expect(t, "site/2/dev/12/temp", (const uint64_t[]){0});
	mqtt_trie_stats(t, &st);
	assert_int_equal(st.nodes, 1 + 1 + 5 + 5 + 100 + 100); /* even sites went with their devices */
	for (int i = 1; i < 200; i += 2)
		mqtt_trie_remove(t, hs[i]);
	mqtt_trie_stats(t, &st);
	assert_int_equal(st.nodes, 1);
	assert_int_equal(st.subs, 0);

	/* Depth bound. */
	struct mqtt_topic_limits lim = {.len_max = 100, .levels_max = 3};
	struct mqtt_trie *t2 = mqtt_trie_new(&lim);
	assert_int_equal(mqtt_trie_insert(t2, S("a/b/c/d"), 1, 0, 0, &h), ERR_MQTT_FILTER_TOO_LONG);
	assert_int_equal(mqtt_trie_insert(t2, S("a/b/#"), 1, 0, 0, &h), 0);
	expect(t2, "a/b/c/d/e/f/g/h/i/j", W(1));
	mqtt_trie_free(t2);
	mqtt_trie_free(t);
}

static void test_trie_shared(void **state)
{
	(void)state;
	struct mqtt_trie *t = mqtt_trie_new(&mqtt_topic_limits_default);
	uint32_t a1, a2, a3, b1, p1, h;
	assert_int_equal(mqtt_trie_insert(t, S("$share/A/s/+"), 1, 1, 0, &a1), 0);
	assert_int_equal(mqtt_trie_insert(t, S("$share/A/s/+"), 2, 1, 0, &a2), 0);
	assert_int_equal(mqtt_trie_insert(t, S("$share/A/s/+"), 3, 1, 0, &a3), 0);
	assert_int_equal(mqtt_trie_insert(t, S("$share/B/s/+"), 1, 1, 0, &b1), 0);
	assert_int_equal(mqtt_trie_insert(t, S("s/+"), 1, 1, 0, &p1), 0);
	assert_int_equal(mqtt_trie_insert(t, S("$share/A/s/+"), 2, 2, 0, &h), 1);
	assert_int_equal(h, a2);
	assert_int_equal(mqtt_trie_find(t, S("$share/B/s/+"), 1, &h), 0);
	assert_int_equal(h, b1);
	assert_int_equal(mqtt_trie_find(t, S("$share/C/s/+"), 1, &h), ERR_NOT_FOUND);
	/* One plain match for subscriber 1, one per group (A has 3 members, B one). */
	expect(t, "s/x", W(1, 1001, 1003));
	assert_int_not_equal(mqtt_trie_get(t, a1)->group, mqtt_trie_get(t, b1)->group);
	assert_int_equal(mqtt_trie_get(t, p1)->group, 0);

	/* Round robin visits every member once per cycle. */
	uint32_t g = mqtt_trie_get(t, a1)->group;
	int seen[4] = {0};
	for (int i = 0; i < 9; i++)
		seen[mqtt_trie_get(t, mqtt_trie_group_pick(t, g))->subscriber]++;
	assert_int_equal(seen[1], 3);
	assert_int_equal(seen[2], 3);
	assert_int_equal(seen[3], 3);
	int members = 0;
	for (uint32_t i = 0; mqtt_trie_group_member(t, g, i); i++)
		members++;
	assert_int_equal(members, 3);
	members = 0;
	for (uint32_t s = mqtt_trie_group_first(t, g); s; s = mqtt_trie_group_next(t, s)) {
		assert_int_equal(mqtt_trie_get(t, s)->group, g);
		members++;
	}
	assert_int_equal(members, 3);
	mqtt_trie_remove(t, a2);
	for (int i = 0; i < 4; i++)
		assert_int_not_equal(mqtt_trie_group_pick(t, g), a2);
	mqtt_trie_remove(t, a1);
	mqtt_trie_remove(t, a3);
	expect(t, "s/x", W(1, 1001));
	struct mqtt_trie_stats st;
	mqtt_trie_stats(t, &st);
	assert_int_equal(st.groups, 1);
	mqtt_trie_remove(t, b1);
	mqtt_trie_remove(t, p1);
	mqtt_trie_stats(t, &st);
	assert_int_equal(st.groups, 0);
	assert_int_equal(st.nodes, 1);
	mqtt_trie_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),        cmocka_unit_test(test_filters),
		cmocka_unit_test(test_trie_match),   cmocka_unit_test(test_trie_replace_remove),
		cmocka_unit_test(test_trie_shared),
	};
	return cmocka_run_group_tests_name("mqtt/topic", tests, NULL, NULL);
}
