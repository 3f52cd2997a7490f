/* Broker engine, MQTT 5.0 features: topic aliases both ways, shared subscriptions, subscription identifiers
 * and options, message expiry, packet size limits, Receive Maximum, assigned client ids, authentication,
 * authorization and malformed input. */
#include "harness.h"

static struct fake_conn *connect_props(const char *id, const struct mqtt_props *props)
{
	uint8_t rc;
	struct fake_conn *f = connect_full(id, MQTT_V5, true, 0, props, NULL, 0, 0, &rc, NULL);
	assert_int_equal(rc, 0);
	return f;
}

static void test_topic_alias_in(void **state)
{
	(void)state;
	world_init();
	struct fake_conn *s = connect_simple("s", MQTT_V5), *p = connect_simple("p", MQTT_V5);
	subscribe(s, "long/topic/name", 0);
	struct mqtt_props pr = {0};
	mqtt_prop_set_num(&pr, MQTT_PROP_TOPIC_ALIAS, 3);
	assert_int_equal(publish_full(p, "long/topic/name", "1", 0, false, 0, &pr), 0);
	assert_int_equal(publish_full(p, "", "2", 0, false, 0, &pr), 0);
	expect_publish(s, "long/topic/name", "1", 0);
	expect_publish(s, "long/topic/name", "2", 0);
	/* an alias never set is a protocol error */
	mqtt_prop_set_num(&pr, MQTT_PROP_TOPIC_ALIAS, 4);
	assert_true(publish_full(p, "", "3", 0, false, 0, &pr) < 0);
	assert_true(p->closed);
	assert_int_equal(next(p)->type, MQTT_DISCONNECT);
	assert_int_equal(p->pkt.u.disconnect.reason, MQTT_RC_PROTOCOL_ERROR);
	conn_drop(s);
	conn_drop(p);
	world_free();
}

static void test_topic_alias_out(void **state)
{
	(void)state;
	world_init();
	struct mqtt_props cp = {0};
	mqtt_prop_set_num(&cp, MQTT_PROP_TOPIC_ALIAS_MAX, 2);
	struct fake_conn *s = connect_props("s", &cp), *p = connect_simple("p", MQTT_V311);
	subscribe(s, "a/#", 0);
	publish(p, "a/1", "x", 0);
	expect_publish(s, "a/1", "x", 0);
	assert_int_equal(mqtt_prop_num(&s->pkt.u.publish.props, MQTT_PROP_TOPIC_ALIAS), 1);
	publish(p, "a/1", "y", 0);
	expect_publish(s, "", "y", 0); /* the alias alone */
	assert_int_equal(mqtt_prop_num(&s->pkt.u.publish.props, MQTT_PROP_TOPIC_ALIAS), 1);
	conn_drop(s);
	conn_drop(p);
	world_free();
}

static void test_shared_round_robin(void **state)
{
	(void)state;
	world_init();
	struct fake_conn *a = connect_simple("a", MQTT_V5), *b = connect_simple("b", MQTT_V5);
	struct fake_conn *p = connect_simple("p", MQTT_V5);
	subscribe(a, "$share/g/jobs/+", 1);
	subscribe(b, "$share/g/jobs/+", 1);
	for (int i = 0; i < 4; i++)
		publish(p, "jobs/x", "j", 0);
	assert_int_equal(pending(a), 2);
	assert_int_equal(pending(b), 2);
	/* a blocked member is skipped while another can take the message */
	mqtt_broker_client_set_blocked(W.b, a->c, true, W.now);
	for (int i = 0; i < 2; i++)
		publish(p, "jobs/x", "j", 0);
	assert_int_equal(pending(b), 4);
	/* retained messages are not sent to shared subscriptions */
	assert_int_equal(publish_full(p, "jobs/r", "keep", 0, true, 0, NULL), 0);
	struct fake_conn *c = connect_simple("c", MQTT_V5);
	subscribe(c, "$share/h/jobs/+", 0);
	assert_int_equal(pending(c), 0);
	conn_drop(a);
	conn_drop(b);
	conn_drop(c);
	conn_drop(p);
	world_free();
}

static void test_sub_options_and_ids(void **state)
{
	(void)state;
	world_init();
	struct fake_conn *s = connect_simple("s", MQTT_V5);
	/* No Local: own messages are not received */
	subscribe_opts(s, 1, "mine", MQTT_SUBOPT_NO_LOCAL, 0, 0);
	publish(s, "mine", "echo", 0);
	assert_int_equal(pending(s), 0);
	/* Retain As Published and a subscription identifier */
	subscribe_opts(s, 2, "rap", MQTT_SUBOPT_RETAIN_AS_PUBLISHED, 42, 0);
	struct fake_conn *p = connect_simple("p", MQTT_V5);
	assert_int_equal(publish_full(p, "rap", "r", 0, true, 0, NULL), 0);
	expect_publish(s, "rap", "r", 0);
	assert_true(s->pkt.u.publish.retain);
	assert_int_equal(mqtt_prop_num(&s->pkt.u.publish.props, MQTT_PROP_SUBSCRIPTION_ID), 42);
	/* Retain Handling 1: retained only for a new subscription; 2: never */
	subscribe_opts(s, 3, "rap", MQTT_SUBOPT_RETAIN_AS_PUBLISHED | (1 << MQTT_SUBOPT_RETAIN_HANDLING_SHIFT), 0, 0);
	assert_int_equal(pending(s), 0);
	subscribe_opts(s, 4, "+", 2 << MQTT_SUBOPT_RETAIN_HANDLING_SHIFT, 0, 0);
	assert_int_equal(pending(s), 0);
	subscribe_opts(s, 5, "#", 0, 0, 0);
	expect_publish(s, "rap", "r", 0);
	assert_true(s->pkt.u.publish.retain);
	/* unsubscribe: existing and not */
	struct mqtt_sub_entry e[2] = {{mqtt_cstr("#"), 0}, {mqtt_cstr("none"), 0}};
	struct mqtt_packet u = {.type = MQTT_UNSUBSCRIBE};
	u.u.subscribe.packet_id = 9;
	u.u.subscribe.list = e;
	u.u.subscribe.count = 2;
	assert_int_equal(feed(s, &u), 0);
	struct mqtt_packet *a = next(s);
	assert_int_equal(a->type, MQTT_UNSUBACK);
	assert_int_equal(a->u.suback.reasons.len, 2);
	assert_int_equal(a->u.suback.reasons.ptr[0], 0);
	assert_int_equal(a->u.suback.reasons.ptr[1], MQTT_RC_NO_SUBSCRIPTION_EXISTED);
	conn_drop(s);
	conn_drop(p);
	world_free();
}

static void test_message_expiry(void **state)
{
	(void)state;
	world_init();
	struct fake_conn *s = connect_simple("s", MQTT_V5), *p = connect_simple("p", MQTT_V5);
	subscribe(s, "e", 0);
	mqtt_broker_client_set_blocked(W.b, s->c, true, W.now);
	struct mqtt_props pr = {0};
	mqtt_prop_set_num(&pr, MQTT_PROP_MESSAGE_EXPIRY, 2);
	mqtt_prop_set_bytes(&pr, MQTT_PROP_CONTENT_TYPE, mqtt_cstr("text/plain"));
	assert_int_equal(publish_full(p, "e", "short", 0, false, 0, &pr), 0);
	mqtt_prop_set_num(&pr, MQTT_PROP_MESSAGE_EXPIRY, 100);
	assert_int_equal(publish_full(p, "e", "long", 0, false, 0, &pr), 0);
	W.now += 3000;
	mqtt_broker_tick(W.b, W.now, 1700000000000 + 3000);
	mqtt_broker_client_set_blocked(W.b, s->c, false, W.now);
	expect_publish(s, "e", "long", 0);
	uint32_t left = mqtt_prop_num(&s->pkt.u.publish.props, MQTT_PROP_MESSAGE_EXPIRY);
	assert_true(left >= 97 && left <= 98); /* what is left, not what was sent */
	struct mqtt_bytes ct = mqtt_prop_bytes(&s->pkt.u.publish.props, MQTT_PROP_CONTENT_TYPE);
	assert_true(ct.len == 10 && !memcmp(ct.ptr, "text/plain", 10));
	assert_int_equal(pending(s), 0);
	conn_drop(s);
	conn_drop(p);
	world_free();
}

static void test_user_props_forwarded(void **state)
{
	(void)state;
	world_init();
	struct fake_conn *s = connect_simple("s", MQTT_V5), *p = connect_simple("p", MQTT_V5);
	subscribe(s, "u", 0);
	struct mqtt_user_prop up[2] = {{mqtt_cstr("k1"), mqtt_cstr("v1")}, {mqtt_cstr("k2"), mqtt_cstr("v2")}};
	struct mqtt_props pr = {0};
	pr.user = up;
	pr.user_count = 2;
	pr.present |= 1ull << MQTT_PROP_USER;
	mqtt_prop_set_bytes(&pr, MQTT_PROP_RESPONSE_TOPIC, mqtt_cstr("reply/here"));
	mqtt_prop_set_bytes(&pr, MQTT_PROP_CORRELATION_DATA, mqtt_cstr("c0rr"));
	assert_int_equal(publish_full(p, "u", "x", 0, false, 0, &pr), 0);
	expect_publish(s, "u", "x", 0);
	assert_int_equal(s->pkt.u.publish.props.user_count, 2);
	struct mqtt_prop_iter it;
	struct mqtt_bytes n, v;
	mqtt_prop_iter_init(&it, &s->pkt.u.publish.props);
	assert_true(mqtt_prop_next_user(&it, &n, &v));
	assert_true(n.len == 2 && !memcmp(n.ptr, "k1", 2) && v.len == 2 && !memcmp(v.ptr, "v1", 2));
	struct mqtt_bytes rt = mqtt_prop_bytes(&s->pkt.u.publish.props, MQTT_PROP_RESPONSE_TOPIC);
	assert_true(rt.len == 10 && !memcmp(rt.ptr, "reply/here", 10));
	conn_drop(s);
	conn_drop(p);
	world_free();
}

static void test_packet_size_and_window(void **state)
{
	(void)state;
	world_init();
	struct mqtt_props cp = {0};
	mqtt_prop_set_num(&cp, MQTT_PROP_MAX_PACKET_SIZE, 64);
	mqtt_prop_set_num(&cp, MQTT_PROP_RECEIVE_MAX, 2);
	struct fake_conn *s = connect_props("s", &cp), *p = connect_simple("p", MQTT_V5);
	subscribe(s, "w", 1);
	char big[100];
	memset(big, 'x', sizeof big - 1);
	big[sizeof big - 1] = 0;
	publish(p, "w", big, 1); /* too large for s: dropped, not sent */
	assert_int_equal(pending(s), 0);
	assert_int_equal(mqtt_broker_stats(W.b)->msgs_dropped, 1);
	/* only two in flight at a time */
	publish(p, "w", "1", 1);
	publish(p, "w", "2", 1);
	publish(p, "w", "3", 1);
	assert_int_equal(pending(s), 2);
	expect_publish(s, "w", "1", 1);
	ack(s, MQTT_PUBACK, s->pkt.u.publish.packet_id);
	assert_int_equal(pending(s), 2);
	expect_publish(s, "w", "2", 1);
	expect_publish(s, "w", "3", 1);
	conn_drop(s);
	conn_drop(p);
	world_free();
}

static void test_receive_max_inbound(void **state)
{
	(void)state;
	struct mqtt_broker_config cfg;
	mqtt_broker_config_default(&cfg);
	cfg.receive_max = 2;
	world_init_cfg(&cfg);
	struct fake_conn *p = connect_simple("p", MQTT_V5);
	assert_int_equal(publish_full(p, "t", "1", 2, false, 1, NULL), 0);
	assert_int_equal(publish_full(p, "t", "2", 2, false, 2, NULL), 0);
	assert_int_equal(publish_full(p, "t", "3", 2, false, 3, NULL), 0);
	assert_true(p->closed);
	next(p);
	next(p);
	assert_int_equal(next(p)->type, MQTT_DISCONNECT);
	assert_int_equal(p->pkt.u.disconnect.reason, MQTT_RC_RECEIVE_MAX_EXCEEDED);
	conn_drop(p);
	world_free();
}

static void test_assigned_id_and_connack_props(void **state)
{
	(void)state;
	struct mqtt_broker_config cfg;
	mqtt_broker_config_default(&cfg);
	cfg.keep_alive_max_s = 30;
	cfg.session_expiry_max_s = 100;
	world_init_cfg(&cfg);
	uint8_t rc;
	struct fake_conn *f = connect_full("", MQTT_V5, true, 1000, NULL, NULL, 0, 0, &rc, NULL);
	assert_int_equal(rc, 0);
	struct mqtt_props *pr = &f->pkt.u.connack.props;
	assert_true(mqtt_prop_bytes(pr, MQTT_PROP_ASSIGNED_CLIENT_ID).len > 0);
	assert_int_equal(mqtt_prop_num(pr, MQTT_PROP_SERVER_KEEP_ALIVE), 30);
	assert_int_equal(mqtt_prop_num(pr, MQTT_PROP_SESSION_EXPIRY), 100);
	assert_int_equal(mqtt_prop_num(pr, MQTT_PROP_RECEIVE_MAX), cfg.receive_max);
	conn_drop(f);
	/* 3.1.1: an empty id needs a clean session */
	f = connect_full("", MQTT_V311, false, 0, NULL, NULL, 0, 0, &rc, NULL);
	assert_int_equal(rc, MQTT_CONNACK311_ID_REJECTED);
	assert_true(f->closed);
	conn_drop(f);
	world_free();
}

static void test_auth_and_acl(void **state)
{
	(void)state;
	world_init();
	W.password = "good";
	uint8_t rc;
	struct fake_conn *f = connect_full("bad", MQTT_V5, true, 0, NULL, NULL, 0, 0, &rc, NULL);
	assert_int_equal(rc, MQTT_RC_BAD_USERNAME_OR_PASSWORD);
	assert_true(f->closed);
	conn_drop(f);
	f = connect_full("bad", MQTT_V311, true, 0, NULL, NULL, 0, 0, &rc, NULL);
	assert_int_equal(rc, MQTT_CONNACK311_BAD_USERNAME_OR_PASSWORD);
	conn_drop(f);
	struct fake_conn *g = connect_full("good", MQTT_V5, true, 0, NULL, NULL, 0, 0, &rc, NULL);
	assert_int_equal(rc, 0);
	W.deny_sub = true;
	subscribe_opts(g, 1, "secret/x", 0, 0, MQTT_RC_NOT_AUTHORIZED);
	W.deny_sub = false;
	subscribe(g, "secret/#", 1);
	W.deny_write = true;
	assert_int_equal(publish_full(g, "secret/x", "no", 1, false, 5, NULL), 0);
	assert_int_equal(next(g)->type, MQTT_PUBACK);
	assert_int_equal(g->pkt.u.ack.reason, MQTT_RC_NOT_AUTHORIZED);
	assert_int_equal(pending(g), 0);
	W.deny_write = false;
	W.deny_read = true;
	assert_int_equal(publish_full(g, "secret/x", "hidden", 0, false, 0, NULL), 0);
	assert_int_equal(pending(g), 0);
	assert_int_equal(mqtt_broker_stats(W.b)->acl_denials, 3);
	conn_drop(g);
	world_free();
}

static void test_malformed(void **state)
{
	(void)state;
	world_init();
	/* first packet not CONNECT: closed without an answer */
	struct fake_conn *f = conn_new();
	static const uint8_t ping[] = {0xC0, 0x00};
	assert_true(feed_raw(f, ping, sizeof ping) < 0);
	assert_true(f->closed);
	assert_int_equal(pending(f), 0);
	conn_drop(f);
	/* CONNECT with protocol level 6: CONNACK "unacceptable protocol version" */
	f = conn_new();
	static const uint8_t bad_level[] = {0x10, 0x0d, 0, 4, 'M', 'Q', 'T', 'T', 6, 2, 0, 60, 0, 1, 'x'};
	assert_true(feed_raw(f, bad_level, sizeof bad_level) < 0);
	assert_true(f->closed);
	f->version = MQTT_V311;
	assert_int_equal(next(f)->type, MQTT_CONNACK);
	assert_int_equal(f->pkt.u.connack.reason, MQTT_CONNACK311_BAD_VERSION);
	conn_drop(f);
	/* a second CONNECT: protocol error, DISCONNECT 0x82 in 5.0 */
	f = connect_simple("twice", MQTT_V5);
	struct mqtt_packet c = {.type = MQTT_CONNECT};
	c.u.connect.version = MQTT_V5;
	c.u.connect.client_id = mqtt_cstr("twice");
	assert_true(feed(f, &c) < 0);
	assert_int_equal(next(f)->type, MQTT_DISCONNECT);
	assert_int_equal(f->pkt.u.disconnect.reason, MQTT_RC_PROTOCOL_ERROR);
	conn_drop(f);
	/* PUBLISH with QoS 3 after CONNECT: malformed */
	f = connect_simple("q3", MQTT_V5);
	static const uint8_t qos3[] = {0x36, 0x05, 0, 1, 't', 0, 1};
	assert_true(feed_raw(f, qos3, sizeof qos3) < 0);
	assert_int_equal(next(f)->type, MQTT_DISCONNECT);
	assert_int_equal(f->pkt.u.disconnect.reason, MQTT_RC_MALFORMED_PACKET);
	conn_drop(f);
	assert_int_equal(mqtt_broker_stats(W.b)->malformed, 2);
	assert_int_equal(mqtt_broker_stats(W.b)->protocol_errors, 2);
	world_free();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_topic_alias_in),
		cmocka_unit_test(test_topic_alias_out),
		cmocka_unit_test(test_shared_round_robin),
		cmocka_unit_test(test_sub_options_and_ids),
		cmocka_unit_test(test_message_expiry),
		cmocka_unit_test(test_user_props_forwarded),
		cmocka_unit_test(test_packet_size_and_window),
		cmocka_unit_test(test_receive_max_inbound),
		cmocka_unit_test(test_assigned_id_and_connack_props),
		cmocka_unit_test(test_auth_and_acl),
		cmocka_unit_test(test_malformed),
	};
	return cmocka_run_group_tests_name("mqtt_broker/v5", tests, NULL, NULL);
}
