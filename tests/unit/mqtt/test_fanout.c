/* PUBLISH fan-out: QoS and retain per subscriber, overlapping subscriptions merged with all their
 * subscription identifiers, No Local, share groups (one member, online only), the max bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "mqtt/codec.h"
#include "mqtt/fanout.h"

#define S(x) (const uint8_t *)(x), strlen(x)

static const struct mqtt_delivery *find(const struct mqtt_fanout *f, uint64_t who, bool shared)
{
	for (uint32_t i = 0; i < f->n; i++)
		if (f->d[i].subscriber == who && f->d[i].shared == shared)
			return &f->d[i];
	return NULL;
}

static uint64_t offline_sub;
static bool online(void *ctx, uint64_t subscriber)
{
	(void)ctx;
	return subscriber != offline_sub;
}

static void test_fanout(void **state)
{
	(void)state;
	struct mqtt_trie *t = mqtt_trie_new(&mqtt_topic_limits_default);
	uint32_t h;
	const uint8_t RAP = MQTT_SUBOPT_RETAIN_AS_PUBLISHED, NL = MQTT_SUBOPT_NO_LOCAL;
	assert_int_equal(mqtt_trie_insert(t, S("s/+/t"), 1, 1, 11, &h), 0);
	assert_int_equal(mqtt_trie_insert(t, S("s/#"), 1, 2 | RAP, 12, &h), 0);
	assert_int_equal(mqtt_trie_insert(t, S("s/1/t"), 1, 0, 0, &h), 0);
	assert_int_equal(mqtt_trie_insert(t, S("s/1/t"), 2, 0, 0, &h), 0);
	assert_int_equal(mqtt_trie_insert(t, S("#"), 3, 1 | NL, 0, &h), 0);
	assert_int_equal(mqtt_trie_insert(t, S("$share/g/s/#"), 4, 2, 40, &h), 0);
	assert_int_equal(mqtt_trie_insert(t, S("$share/g/s/#"), 5, 2, 50, &h), 0);
	assert_int_equal(mqtt_trie_insert(t, S("$share/g/s/#"), 1, 2, 0, &h), 0);

	struct mqtt_fanout f;
	assert_int_equal(mqtt_fanout_init(&f, 1000), 0);
	/* Published by 3 at QoS 1 with RETAIN (a live message: retain only where Retain As Published). */
	assert_int_equal(mqtt_fanout_run(&f, t, S("s/1/t"), 1, true, 3, NULL, NULL), 0);
	assert_int_equal(f.n, 3); /* 1 merged, 2, one share member; 3 has No Local */
	const struct mqtt_delivery *d = find(&f, 1, false);
	assert_non_null(d);
	assert_int_equal(d->qos, 1); /* max of granted (1, 2, 0) capped at the message's 1 */
	assert_true(d->retain);
	assert_int_equal(d->sub_id_count, 2);
	uint32_t a = f.sub_ids[d->sub_id_first], b = f.sub_ids[d->sub_id_first + 1];
	assert_true((a == 11 && b == 12) || (a == 12 && b == 11));
	d = find(&f, 2, false);
	assert_int_equal(d->qos, 0);
	assert_false(d->retain);
	assert_int_equal(d->sub_id_count, 0);
	assert_null(find(&f, 3, false));
	uint32_t shared = 0;
	for (uint32_t i = 0; i < f.n; i++)
		shared += f.d[i].shared;
	assert_int_equal(shared, 1);

	/* Published by someone else: 3 gets it; the group rotates through its three members. */
	int got[6] = {0};
	for (int i = 0; i < 6; i++) {
		assert_int_equal(mqtt_fanout_run(&f, t, S("s/1/t"), 2, false, 9, NULL, NULL), 0);
		assert_non_null(find(&f, 3, false));
		assert_int_equal(find(&f, 3, false)->qos, 1);
		for (uint32_t k = 0; k < f.n; k++)
			if (f.d[k].shared)
				got[f.d[k].subscriber]++;
	}
	assert_int_equal(got[1], 2);
	assert_int_equal(got[4], 2);
	assert_int_equal(got[5], 2);
	/* Offline members are skipped. */
	offline_sub = 4;
	for (int i = 0; i < 6; i++) {
		assert_int_equal(mqtt_fanout_run(&f, t, S("s/1/t"), 2, false, 9, online, NULL), 0);
		assert_null(find(&f, 4, true));
		assert_true(find(&f, 5, true) || find(&f, 1, true));
	}
	/* A client with a plain and a shared match may get two copies (§4.8.2). */
	bool twice = false;
	for (int i = 0; i < 3; i++) {
		mqtt_fanout_run(&f, t, S("s/9"), 2, false, 9, NULL, NULL);
		twice |= find(&f, 1, false) && find(&f, 1, true);
	}
	assert_true(twice);
	mqtt_fanout_deinit(&f);

	/* The bound: extra matches are counted, not lost silently. */
	for (uint64_t i = 100; i < 150; i++)
		assert_int_equal(mqtt_trie_insert(t, S("many"), i, 1, 0, &h), 0);
	assert_int_equal(mqtt_fanout_init(&f, 32), 0);
	assert_int_equal(mqtt_fanout_run(&f, t, S("many"), 1, false, 0, NULL, NULL), 0);
	assert_int_equal(f.n, 32);
	assert_int_equal(f.dropped, 51 - 32); /* 50 + "#" of subscriber 3 */
	mqtt_fanout_deinit(&f);
	mqtt_trie_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fanout),
	};
	return cmocka_run_group_tests_name("mqtt/fanout", tests, NULL, NULL);
}
