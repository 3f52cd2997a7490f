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

static void test_delivery_publish(void **state)
{
	(void)state;
	/* What a 5.0 publisher sent: alias 4 defined with the topic, user properties, content type. */
	static const struct mqtt_user_prop up[] = {{{(const uint8_t *)"k", 1}, {(const uint8_t *)"v", 1}},
						   {{(const uint8_t *)"k", 1}, {(const uint8_t *)"w", 1}}};
	struct mqtt_publish src;
	memset(&src, 0, sizeof src);
	src.qos = 2;
	src.packet_id = 99;
	src.retain = true;
	src.dup = true;
	src.topic = mqtt_cstr("s/1/t");
	src.payload = mqtt_cstr("21.5");
	mqtt_prop_set_num(&src.props, MQTT_PROP_TOPIC_ALIAS, 4);
	mqtt_prop_set_bytes(&src.props, MQTT_PROP_CONTENT_TYPE, mqtt_cstr("text/plain"));
	src.props.user = up;
	src.props.user_count = 2;
	uint8_t wire[256];
	struct wbuf w;
	wbuf_init(&w, wire, sizeof wire);
	assert_int_equal(mqtt_encode_publish(&w, &src, MQTT_V5), 0);
	struct mqtt_publish in;
	assert_int_equal(mqtt_decode_publish(wire, w.len, MQTT_V5, &in), (int)w.len);

	struct mqtt_trie *t = mqtt_trie_new(&mqtt_topic_limits_default);
	uint32_t h;
	assert_int_equal(mqtt_trie_insert(t, S("s/+/t"), 7, 1, 70, &h), 0);
	assert_int_equal(mqtt_trie_insert(t, S("s/#"), 7, 2 | MQTT_SUBOPT_RETAIN_AS_PUBLISHED, 71, &h), 0);
	struct mqtt_fanout f;
	mqtt_fanout_init(&f, 100);
	assert_int_equal(mqtt_fanout_run(&f, t, in.topic.ptr, in.topic.len, in.qos, in.retain, 1, NULL, NULL), 0);
	assert_int_equal(f.n, 1);

	struct mqtt_alias_out aliases;
	mqtt_alias_out_init(&aliases, 2);
	uint8_t buf[256];
	for (int round = 0; round < 2; round++) {
		struct mqtt_publish out, back;
		assert_int_equal(mqtt_delivery_publish(&in, &f, &f.d[0], MQTT_V5, 5, &aliases, 1000, &out), 0);
		wbuf_init(&w, buf, sizeof buf);
		assert_int_equal(mqtt_encode_publish(&w, &out, MQTT_V5), 0);
		assert_int_equal(mqtt_decode_publish(buf, w.len, MQTT_V5, &back), (int)w.len);
		assert_int_equal(back.qos, 2);
		assert_int_equal(back.packet_id, 5);
		assert_true(back.retain);
		assert_false(back.dup);
		assert_int_equal(back.props.sub_id_count, 2);
		assert_int_equal(back.props.user_count, 2);
		assert_int_equal(mqtt_prop_num(&back.props, MQTT_PROP_TOPIC_ALIAS), 1); /* ours, not the publisher's 4 */
		assert_int_equal(back.topic.len, round == 0 ? 5 : 0);                 /* then the alias alone */
		assert_int_equal(back.payload.len, 4);
		struct mqtt_prop_iter it;
		struct mqtt_bytes k, v;
		mqtt_prop_iter_init(&it, &back.props);
		assert_true(mqtt_prop_next_user(&it, &k, &v));
		assert_memory_equal(v.ptr, "v", 1);
		assert_true(mqtt_prop_next_user(&it, &k, &v));
		assert_memory_equal(v.ptr, "w", 1);
	}
	/* 3.1.1 subscriber: no properties at all; QoS 0 has no packet id. */
	struct mqtt_delivery d0 = f.d[0];
	d0.qos = 0;
	struct mqtt_publish out, back;
	assert_int_equal(mqtt_delivery_publish(&in, &f, &d0, MQTT_V311, 5, NULL, UINT32_MAX, &out), 0);
	wbuf_init(&w, buf, sizeof buf);
	assert_int_equal(mqtt_encode_publish(&w, &out, MQTT_V311), 0);
	assert_int_equal(mqtt_decode_publish(buf, w.len, MQTT_V311, &back), (int)w.len);
	assert_int_equal(back.packet_id, 0);
	assert_int_equal(back.topic.len, 5);
	/* Too large for the client: refused, and no alias was spent on it. */
	struct mqtt_alias_out fresh;
	mqtt_alias_out_init(&fresh, 2);
	assert_int_equal(mqtt_delivery_publish(&in, &f, &f.d[0], MQTT_V5, 5, &fresh, 20, &out),
			 ERR_MQTT_PACKET_TOO_LARGE);
	assert_int_equal(fresh.used, 0);
	mqtt_alias_out_deinit(&fresh);
	mqtt_alias_out_deinit(&aliases);
	mqtt_fanout_deinit(&f);
	mqtt_trie_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fanout),
		cmocka_unit_test(test_delivery_publish),
	};
	return cmocka_run_group_tests_name("mqtt/fanout", tests, NULL, NULL);
}
