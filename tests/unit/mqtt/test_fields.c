/* MQTT codec: packets built field by field encode, decode back to the same fields (both versions, every
 * property), and re-encode identically from the decoded views; the property table is consistent. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "mqtt/codec.h"

static void assert_bytes(struct mqtt_bytes b, const char *s)
{
	assert_non_null(b.ptr);
	assert_int_equal(b.len, strlen(s));
	assert_memory_equal(b.ptr, s, b.len);
}

/* Encodes p, decodes it into out, re-encodes out and checks both encodings are the same bytes. */
static size_t roundtrip(const struct mqtt_packet *p, uint8_t version, uint8_t *buf, size_t cap, struct mqtt_packet *out)
{
	size_t n = mqtt_packet_size(p, version);
	assert_true(n <= cap);
	struct wbuf w;
	wbuf_init(&w, buf, cap);
	assert_int_equal(mqtt_encode(&w, p, version), 0);
	assert_int_equal(w.len, n);
	assert_int_equal(mqtt_decode(buf, n, version, out), (int)n);
	assert_int_equal(out->type, p->type);
	uint8_t again[1024];
	assert_int_equal(mqtt_packet_size(out, version), n);
	wbuf_init(&w, again, sizeof again);
	assert_int_equal(mqtt_encode(&w, out, version), 0);
	assert_int_equal(w.len, n);
	assert_memory_equal(again, buf, n);
	return n;
}

static void test_publish_all_props(void **state)
{
	(void)state;
	static const struct mqtt_user_prop users[] = {{{(const uint8_t *)"k1", 2}, {(const uint8_t *)"v1", 2}},
						      {{(const uint8_t *)"k0", 2}, {(const uint8_t *)"", 0}},
						      {{(const uint8_t *)"k1", 2}, {(const uint8_t *)"v2", 2}}};
	static const uint32_t ids[] = {5, 1000, VBI_MAX};
	struct mqtt_packet p = {.type = MQTT_PUBLISH};
	struct mqtt_publish *pub = &p.u.publish;
	pub->qos = 2;
	pub->packet_id = 65535;
	pub->retain = true;
	pub->topic = mqtt_cstr("sensors/1/temp");
	pub->payload = mqtt_cstr("21.5");
	mqtt_prop_set_num(&pub->props, MQTT_PROP_PAYLOAD_FORMAT, 1);
	mqtt_prop_set_num(&pub->props, MQTT_PROP_MESSAGE_EXPIRY, 3600);
	mqtt_prop_set_bytes(&pub->props, MQTT_PROP_CONTENT_TYPE, mqtt_cstr("text/plain"));
	mqtt_prop_set_bytes(&pub->props, MQTT_PROP_RESPONSE_TOPIC, mqtt_cstr("reply/here"));
	mqtt_prop_set_bytes(&pub->props, MQTT_PROP_CORRELATION_DATA, mqtt_cstr("\x01\x02"));
	mqtt_prop_set_num(&pub->props, MQTT_PROP_TOPIC_ALIAS, 7);
	pub->props.present |= 1ull << MQTT_PROP_SUBSCRIPTION_ID;
	pub->props.sub_ids = ids;
	pub->props.sub_id_count = 3;
	pub->props.user = users;
	pub->props.user_count = 3;

	uint8_t buf[512];
	struct mqtt_packet d;
	roundtrip(&p, MQTT_V5, buf, sizeof buf, &d);
	const struct mqtt_publish *q = &d.u.publish;
	assert_int_equal(q->qos, 2);
	assert_int_equal(q->packet_id, 65535);
	assert_true(q->retain);
	assert_false(q->dup);
	assert_bytes(q->topic, "sensors/1/temp");
	assert_bytes(q->payload, "21.5");
	assert_int_equal(mqtt_prop_num(&q->props, MQTT_PROP_PAYLOAD_FORMAT), 1);
	assert_int_equal(mqtt_prop_num(&q->props, MQTT_PROP_MESSAGE_EXPIRY), 3600);
	assert_bytes(mqtt_prop_bytes(&q->props, MQTT_PROP_CONTENT_TYPE), "text/plain");
	assert_bytes(mqtt_prop_bytes(&q->props, MQTT_PROP_RESPONSE_TOPIC), "reply/here");
	assert_bytes(mqtt_prop_bytes(&q->props, MQTT_PROP_CORRELATION_DATA), "\x01\x02");
	assert_int_equal(mqtt_prop_num(&q->props, MQTT_PROP_TOPIC_ALIAS), 7);
	assert_int_equal(mqtt_prop_num(&q->props, MQTT_PROP_SUBSCRIPTION_ID), 5);
	assert_int_equal(q->props.sub_id_count, 3);
	assert_int_equal(q->props.user_count, 3);
	assert_null(mqtt_prop_bytes(&q->props, MQTT_PROP_REASON_STRING).ptr);

	/* User properties come back in order, duplicates kept (5.0 §3.3.2.3.7). */
	struct mqtt_prop_iter it;
	struct mqtt_bytes k, v;
	mqtt_prop_iter_init(&it, &q->props);
	for (int i = 0; i < 3; i++) {
		assert_true(mqtt_prop_next_user(&it, &k, &v));
		assert_int_equal(k.len, users[i].name.len);
		assert_memory_equal(k.ptr, users[i].name.ptr, k.len);
		assert_int_equal(v.len, users[i].value.len);
	}
	assert_false(mqtt_prop_next_user(&it, &k, &v));
	/* All three subscription identifiers, in order. */
	struct mqtt_prop pr;
	int nids = 0;
	mqtt_prop_iter_init(&it, &q->props);
	while (mqtt_prop_next(&it, &pr))
		if (pr.id == MQTT_PROP_SUBSCRIPTION_ID)
			assert_int_equal(pr.num, ids[nids++]);
	assert_int_equal(nids, 3);

	/* The broker forwards it: drops the alias, keeps the user properties without copying them. */
	struct mqtt_packet fwd = d;
	mqtt_prop_clear(&fwd.u.publish.props, MQTT_PROP_TOPIC_ALIAS);
	mqtt_prop_clear(&fwd.u.publish.props, MQTT_PROP_SUBSCRIPTION_ID);
	mqtt_prop_set_num(&fwd.u.publish.props, MQTT_PROP_SUBSCRIPTION_ID, 9);
	struct mqtt_packet d2;
	uint8_t buf2[512];
	roundtrip(&fwd, MQTT_V5, buf2, sizeof buf2, &d2);
	assert_false(mqtt_prop_has(&d2.u.publish.props, MQTT_PROP_TOPIC_ALIAS));
	assert_int_equal(d2.u.publish.props.sub_id_count, 1);
	assert_int_equal(mqtt_prop_num(&d2.u.publish.props, MQTT_PROP_SUBSCRIPTION_ID), 9);
	assert_int_equal(d2.u.publish.props.user_count, 3);

	/* The same packet at 3.1.1 carries no properties at all. */
	struct mqtt_packet d3;
	roundtrip(&p, MQTT_V311, buf2, sizeof buf2, &d3);
	assert_int_equal(d3.u.publish.props.present, 0);
	assert_bytes(d3.u.publish.payload, "21.5");

	assert_int_equal(mqtt_publish_check_from_client(q, 10), ERR_MQTT_SUBSCRIPTION_ID);
	assert_int_equal(mqtt_publish_check_from_client(&d2.u.publish, 10), ERR_MQTT_SUBSCRIPTION_ID);
	mqtt_prop_clear(&fwd.u.publish.props, MQTT_PROP_SUBSCRIPTION_ID);
	mqtt_prop_set_num(&fwd.u.publish.props, MQTT_PROP_TOPIC_ALIAS, 11);
	assert_int_equal(mqtt_publish_check_from_client(&fwd.u.publish, 10), ERR_MQTT_TOPIC_ALIAS);
	assert_int_equal(mqtt_publish_check_from_client(&fwd.u.publish, 11), 0);
}

static void test_connect(void **state)
{
	(void)state;
	static const struct mqtt_user_prop up[] = {{{(const uint8_t *)"a", 1}, {(const uint8_t *)"b", 1}}};
	for (uint8_t v = MQTT_V311; v <= MQTT_V5; v++) {
		struct mqtt_packet p = {.type = MQTT_CONNECT};
		struct mqtt_connect *c = &p.u.connect;
		c->version = v;
		c->clean_start = true;
		c->will = true;
		c->will_qos = 1;
		c->will_retain = true;
		c->has_username = c->has_password = true;
		c->keep_alive_s = 65535;
		c->client_id = mqtt_cstr("dev-42");
		c->will_topic = mqtt_cstr("dev/42/status");
		c->will_payload = mqtt_cstr("offline");
		c->username = mqtt_cstr("user");
		c->password = mqtt_cstr("s\0cret");
		c->password.len = 6;
		mqtt_prop_set_num(&c->props, MQTT_PROP_SESSION_EXPIRY, 0xffffffff);
		mqtt_prop_set_num(&c->props, MQTT_PROP_RECEIVE_MAX, 32);
		mqtt_prop_set_num(&c->props, MQTT_PROP_MAX_PACKET_SIZE, 1 << 20);
		mqtt_prop_set_num(&c->props, MQTT_PROP_TOPIC_ALIAS_MAX, 16);
		mqtt_prop_set_num(&c->props, MQTT_PROP_REQUEST_RESPONSE_INFO, 1);
		mqtt_prop_set_num(&c->props, MQTT_PROP_REQUEST_PROBLEM_INFO, 0);
		mqtt_prop_set_bytes(&c->props, MQTT_PROP_AUTH_METHOD, mqtt_cstr("PLAIN"));
		mqtt_prop_set_bytes(&c->props, MQTT_PROP_AUTH_DATA, mqtt_cstr("xyz"));
		c->props.user = up;
		c->props.user_count = 1;
		mqtt_prop_set_num(&c->will_props, MQTT_PROP_WILL_DELAY, 10);
		mqtt_prop_set_num(&c->will_props, MQTT_PROP_PAYLOAD_FORMAT, 1);
		mqtt_prop_set_num(&c->will_props, MQTT_PROP_MESSAGE_EXPIRY, 5);
		mqtt_prop_set_bytes(&c->will_props, MQTT_PROP_CONTENT_TYPE, mqtt_cstr("t"));
		mqtt_prop_set_bytes(&c->will_props, MQTT_PROP_RESPONSE_TOPIC, mqtt_cstr("r"));
		mqtt_prop_set_bytes(&c->will_props, MQTT_PROP_CORRELATION_DATA, mqtt_cstr("c"));
		uint8_t buf[512];
		struct mqtt_packet d;
		roundtrip(&p, v, buf, sizeof buf, &d);
		const struct mqtt_connect *e = &d.u.connect;
		assert_int_equal(e->version, v);
		assert_true(e->clean_start && e->will && e->will_retain && e->has_username && e->has_password);
		assert_int_equal(e->will_qos, 1);
		assert_int_equal(e->keep_alive_s, 65535);
		assert_bytes(e->client_id, "dev-42");
		assert_bytes(e->will_topic, "dev/42/status");
		assert_bytes(e->will_payload, "offline");
		assert_bytes(e->username, "user");
		assert_int_equal(e->password.len, 6);
		if (v == MQTT_V5) {
			assert_int_equal(mqtt_prop_num(&e->props, MQTT_PROP_SESSION_EXPIRY), 0xffffffff);
			assert_int_equal(mqtt_prop_num(&e->props, MQTT_PROP_RECEIVE_MAX), 32);
			assert_int_equal(mqtt_prop_num(&e->props, MQTT_PROP_MAX_PACKET_SIZE), 1 << 20);
			assert_int_equal(mqtt_prop_num(&e->props, MQTT_PROP_TOPIC_ALIAS_MAX), 16);
			assert_true(mqtt_prop_has(&e->props, MQTT_PROP_REQUEST_PROBLEM_INFO));
			assert_bytes(mqtt_prop_bytes(&e->props, MQTT_PROP_AUTH_METHOD), "PLAIN");
			assert_int_equal(e->props.user_count, 1);
			assert_int_equal(mqtt_prop_num(&e->will_props, MQTT_PROP_WILL_DELAY), 10);
			assert_bytes(mqtt_prop_bytes(&e->will_props, MQTT_PROP_RESPONSE_TOPIC), "r");
		} else {
			assert_int_equal(e->props.present, 0);
		}
	}
}

static void test_acks_and_friends(void **state)
{
	(void)state;
	uint8_t buf[512];
	for (uint8_t v = MQTT_V311; v <= MQTT_V5; v++) {
		struct mqtt_packet p, d;
		memset(&p, 0, sizeof p);
		p.type = MQTT_CONNACK;
		p.u.connack.session_present = true;
		mqtt_prop_set_bytes(&p.u.connack.props, MQTT_PROP_ASSIGNED_CLIENT_ID, mqtt_cstr("auto-7"));
		mqtt_prop_set_num(&p.u.connack.props, MQTT_PROP_SERVER_KEEP_ALIVE, 30);
		mqtt_prop_set_num(&p.u.connack.props, MQTT_PROP_MAX_QOS, 1);
		mqtt_prop_set_num(&p.u.connack.props, MQTT_PROP_RETAIN_AVAILABLE, 0);
		mqtt_prop_set_num(&p.u.connack.props, MQTT_PROP_WILDCARD_SUB_AVAILABLE, 1);
		mqtt_prop_set_num(&p.u.connack.props, MQTT_PROP_SUB_ID_AVAILABLE, 1);
		mqtt_prop_set_num(&p.u.connack.props, MQTT_PROP_SHARED_SUB_AVAILABLE, 1);
		mqtt_prop_set_bytes(&p.u.connack.props, MQTT_PROP_RESPONSE_INFO, mqtt_cstr("ri"));
		mqtt_prop_set_bytes(&p.u.connack.props, MQTT_PROP_SERVER_REFERENCE, mqtt_cstr("sr"));
		mqtt_prop_set_bytes(&p.u.connack.props, MQTT_PROP_REASON_STRING, mqtt_cstr("ok"));
		roundtrip(&p, v, buf, sizeof buf, &d);
		assert_true(d.u.connack.session_present);
		if (v == MQTT_V5)
			assert_int_equal(mqtt_prop_num(&d.u.connack.props, MQTT_PROP_SERVER_KEEP_ALIVE), 30);

		for (uint8_t t = MQTT_PUBACK; t <= MQTT_PUBCOMP; t++) {
			memset(&p, 0, sizeof p);
			p.type = t;
			p.u.ack.packet_id = 300;
			p.u.ack.reason = (t == MQTT_PUBREL || t == MQTT_PUBCOMP) ? 0x92 : 0x97;
			mqtt_prop_set_bytes(&p.u.ack.props, MQTT_PROP_REASON_STRING, mqtt_cstr("quota"));
			roundtrip(&p, v, buf, sizeof buf, &d);
			assert_int_equal(d.type, t);
			assert_int_equal(d.u.ack.packet_id, 300);
			assert_int_equal(d.u.ack.reason, v == MQTT_V5 ? p.u.ack.reason : 0);
		}

		static const struct mqtt_sub_entry list[] = {
			{{(const uint8_t *)"a/+/c", 5}, 1},
			{{(const uint8_t *)"$share/g/x/#", 12}, 2},
		};
		for (uint8_t t = MQTT_SUBSCRIBE; t <= MQTT_UNSUBSCRIBE; t += 2) {
			memset(&p, 0, sizeof p);
			p.type = t;
			p.u.subscribe.packet_id = 1;
			p.u.subscribe.list = list;
			p.u.subscribe.count = 2;
			if (t == MQTT_SUBSCRIBE)
				mqtt_prop_set_num(&p.u.subscribe.props, MQTT_PROP_SUBSCRIPTION_ID, 77);
			roundtrip(&p, v, buf, sizeof buf, &d);
			assert_int_equal(d.u.subscribe.count, 2);
			struct mqtt_sub_iter it;
			struct mqtt_sub_entry e;
			mqtt_sub_iter_init(&it, &d.u.subscribe, t);
			for (int i = 0; i < 2; i++) {
				assert_true(mqtt_sub_next(&it, &e));
				assert_int_equal(e.filter.len, list[i].filter.len);
				assert_memory_equal(e.filter.ptr, list[i].filter.ptr, e.filter.len);
				assert_int_equal(e.options, t == MQTT_SUBSCRIBE ? list[i].options : 0);
			}
			assert_false(mqtt_sub_next(&it, &e));
		}

		const uint8_t codes[] = {0, 1, 2, 0x80};
		memset(&p, 0, sizeof p);
		p.type = MQTT_SUBACK;
		p.u.suback.packet_id = 9;
		p.u.suback.reasons.ptr = codes;
		p.u.suback.reasons.len = 4;
		roundtrip(&p, v, buf, sizeof buf, &d);
		assert_int_equal(d.u.suback.reasons.len, 4);
		p.type = MQTT_UNSUBACK;
		const uint8_t ucodes[] = {0, 0x11};
		p.u.suback.reasons.ptr = ucodes;
		p.u.suback.reasons.len = 2;
		if (v == MQTT_V311)
			p.u.suback.reasons.len = 0;
		roundtrip(&p, v, buf, sizeof buf, &d);
		assert_int_equal(d.u.suback.reasons.len, v == MQTT_V5 ? 2 : 0);

		memset(&p, 0, sizeof p);
		p.type = MQTT_DISCONNECT;
		p.u.disconnect.reason = 0x8B;
		mqtt_prop_set_num(&p.u.disconnect.props, MQTT_PROP_SESSION_EXPIRY, 0);
		roundtrip(&p, v, buf, sizeof buf, &d);
		assert_int_equal(d.u.disconnect.reason, v == MQTT_V5 ? 0x8B : 0);
		p.type = MQTT_PINGRESP;
		assert_int_equal(roundtrip(&p, v, buf, sizeof buf, &d), 2);
	}
	struct mqtt_packet p = {.type = MQTT_AUTH}, d;
	p.u.disconnect.reason = MQTT_RC_CONTINUE_AUTHENTICATION;
	mqtt_prop_set_bytes(&p.u.disconnect.props, MQTT_PROP_AUTH_METHOD, mqtt_cstr("SCRAM-SHA-256"));
	mqtt_prop_set_bytes(&p.u.disconnect.props, MQTT_PROP_AUTH_DATA, mqtt_cstr("nonce"));
	roundtrip(&p, MQTT_V5, buf, sizeof buf, &d);
	assert_bytes(mqtt_prop_bytes(&d.u.disconnect.props, MQTT_PROP_AUTH_DATA), "nonce");
}

static void test_prop_table(void **state)
{
	(void)state;
	uint32_t num_slots = 0, byte_slots = 0;
	for (size_t i = 0; i < MQTT_PROP_COUNT; i++) {
		const struct mqtt_prop_info *in = &mqtt_prop_table[i];
		if (i)
			assert_true(in->id > mqtt_prop_table[i - 1].id); /* the encoder's order */
		assert_ptr_equal(mqtt_prop_lookup(in->id), in);
		assert_true(in->packets != 0);
		assert_false(in->packets & (1u << MQTT_PINGREQ | 1u << MQTT_PINGRESP));
		if (in->type == MQTT_PT_UTF8 || in->type == MQTT_PT_BINARY) {
			assert_false(byte_slots & (1u << in->slot));
			byte_slots |= 1u << in->slot;
		} else if (in->type != MQTT_PT_PAIR) {
			assert_false(num_slots & (1u << in->slot));
			num_slots |= 1u << in->slot;
		}
	}
	assert_int_equal(num_slots, (1u << MQTT_PROP_NUM_SLOTS) - 1);
	assert_int_equal(byte_slots, (1u << MQTT_PROP_BYTES_SLOTS) - 1);
	int defined = 0;
	for (uint32_t id = 0; id < 256; id++) {
		const struct mqtt_prop_info *in = mqtt_prop_lookup(id);
		if (in) {
			assert_int_equal(in->id, id);
			defined++;
		}
	}
	assert_int_equal(defined, MQTT_PROP_COUNT);
	assert_null(mqtt_prop_lookup(0x04));
	assert_null(mqtt_prop_lookup(0x2B));
	assert_null(mqtt_prop_lookup(0));
	assert_string_equal(mqtt_prop_lookup(MQTT_PROP_TOPIC_ALIAS)->name, "Topic Alias");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_publish_all_props),
		cmocka_unit_test(test_connect),
		cmocka_unit_test(test_acks_and_friends),
		cmocka_unit_test(test_prop_table),
	};
	return cmocka_run_group_tests_name("mqtt/fields", tests, NULL, NULL);
}
