/* Broker engine: QoS 0/1/2 flows both ways, retained messages, wills, persistent sessions with resend,
 * takeover, keepalive and connect timeouts, store operations and acknowledgements after commit. */
#include "harness.h"

static void test_qos0_fanout(void **state)
{
	(void)state;
	world_init();
	struct fake_conn *s1 = connect_simple("s1", MQTT_V311), *s2 = connect_simple("s2", MQTT_V5);
	struct fake_conn *p = connect_simple("p", MQTT_V311);
	subscribe(s1, "a/+/c", 0);
	subscribe(s2, "a/#", 1);
	publish(p, "a/b/c", "hello", 0);
	expect_publish(s1, "a/b/c", "hello", 0);
	expect_publish(s2, "a/b/c", "hello", 0); /* QoS is the minimum of the two */
	publish(p, "x/y", "nobody", 0);
	assert_int_equal(pending(s1) + pending(s2), 0);
	/* $ topics are not matched by a leading wildcard */
	subscribe(s1, "#", 0);
	assert_int_equal(mqtt_broker_publish(W.b, mqtt_cstr("$SYS/x"), mqtt_cstr("1"), 0, false, W.now), 0);
	assert_int_equal(pending(s1), 0);
	conn_drop(s1);
	conn_drop(s2);
	conn_drop(p);
	world_free();
}

static void test_qos1_both_ways(void **state)
{
	(void)state;
	world_init();
	struct fake_conn *s = connect_simple("s", MQTT_V311), *p = connect_simple("p", MQTT_V311);
	subscribe(s, "t", 1);
	publish(p, "t", "m1", 1);
	expect_publish(s, "t", "m1", 1);
	uint16_t id = s->pkt.u.publish.packet_id;
	assert_true(id != 0);
	publish(p, "t", "m2", 1);
	expect_publish(s, "t", "m2", 1);
	assert_true(s->pkt.u.publish.packet_id != id); /* distinct ids while both are in flight */
	ack(s, MQTT_PUBACK, id);
	ack(s, MQTT_PUBACK, s->pkt.u.publish.packet_id);
	ack(s, MQTT_PUBACK, 999); /* unknown: ignored */
	assert_false(s->closed);
	assert_int_equal(mqtt_broker_stats(W.b)->msgs_out, 2);
	conn_drop(s);
	conn_drop(p);
	world_free();
}

static void test_qos2_both_ways(void **state)
{
	(void)state;
	world_init();
	struct fake_conn *s = connect_simple("s", MQTT_V5), *p = connect_simple("p", MQTT_V5);
	subscribe(s, "t", 2);
	publish(p, "t", "once", 2);
	expect_publish(s, "t", "once", 2);
	uint16_t id = s->pkt.u.publish.packet_id;
	/* the sender resends the PUBLISH before PUBREL: acknowledged again, not delivered twice */
	assert_int_equal(publish_full(p, "t", "once", 2, false, 7, NULL), 0);
	assert_int_equal(next(p)->type, MQTT_PUBREC);
	assert_int_equal(pending(s), 0);
	ack(p, MQTT_PUBREL, 7);
	assert_int_equal(next(p)->type, MQTT_PUBCOMP);
	assert_int_equal(p->pkt.u.ack.reason, 0);
	ack(p, MQTT_PUBREL, 7); /* unknown now */
	assert_int_equal(next(p)->type, MQTT_PUBCOMP);
	assert_int_equal(p->pkt.u.ack.reason, MQTT_RC_PACKET_ID_NOT_FOUND);
	/* outbound: PUBREC -> PUBREL -> PUBCOMP */
	ack(s, MQTT_PUBREC, id);
	assert_int_equal(next(s)->type, MQTT_PUBREL);
	assert_int_equal(s->pkt.u.ack.packet_id, id);
	ack(s, MQTT_PUBCOMP, id);
	assert_false(s->closed);
	/* a PUBCOMP for a message never released is a protocol error */
	publish(p, "t", "two", 2);
	expect_publish(s, "t", "two", 2);
	struct mqtt_packet comp = {.type = MQTT_PUBCOMP};
	comp.u.ack.packet_id = s->pkt.u.publish.packet_id;
	assert_int_equal(feed(s, &comp), ERR_PROTOCOL);
	assert_true(s->closed);
	assert_int_equal(next(s)->type, MQTT_DISCONNECT);
	assert_int_equal(s->pkt.u.disconnect.reason, MQTT_RC_PROTOCOL_ERROR);
	conn_drop(s);
	conn_drop(p);
	world_free();
}

static void test_retained(void **state)
{
	(void)state;
	world_init();
	struct fake_conn *p = connect_simple("p", MQTT_V311);
	assert_int_equal(publish_full(p, "r/1", "one", 0, true, 0, NULL), 0);
	assert_int_equal(publish_full(p, "r/2", "two", 1, true, 3, NULL), 0);
	assert_int_equal(next(p)->type, MQTT_PUBACK);
	assert_int_equal(mqtt_broker_stats(W.b)->msgs_retained, 2);
	struct fake_conn *s = connect_simple("s", MQTT_V311);
	subscribe(s, "r/+", 1);
	for (int i = 0; i < 2; i++) {
		struct mqtt_packet *m = next(s);
		assert_int_equal(m->type, MQTT_PUBLISH);
		assert_true(m->u.publish.retain);
		if (m->u.publish.qos)
			ack(s, MQTT_PUBACK, m->u.publish.packet_id);
	}
	/* live messages go out with RETAIN 0 in 3.1.1 */
	assert_int_equal(publish_full(p, "r/1", "new", 0, true, 0, NULL), 0);
	expect_publish(s, "r/1", "new", 0);
	assert_false(s->pkt.u.publish.retain);
	/* an empty retained message clears the topic */
	assert_int_equal(publish_full(p, "r/1", "", 0, true, 0, NULL), 0);
	expect_publish(s, "r/1", "", 0);
	assert_int_equal(mqtt_broker_stats(W.b)->msgs_retained, 1);
	conn_drop(s);
	conn_drop(p);
	world_free();
}

static void test_will(void **state)
{
	(void)state;
	world_init();
	struct fake_conn *s = connect_simple("s", MQTT_V311);
	subscribe(s, "wills/#", 1);
	uint8_t rc;
	struct fake_conn *d = connect_full("dev", MQTT_V311, true, 0, NULL, "wills/dev", 1, 0, &rc, NULL);
	conn_drop(d); /* abrupt */
	expect_publish(s, "wills/dev", "gone", 1);
	/* a normal DISCONNECT discards the will */
	d = connect_full("dev", MQTT_V311, true, 0, NULL, "wills/dev", 1, 0, &rc, NULL);
	struct mqtt_packet disc = {.type = MQTT_DISCONNECT};
	feed(d, &disc);
	assert_true(d->closed);
	conn_drop(d);
	assert_int_equal(pending(s), 0);
	assert_int_equal(mqtt_broker_stats(W.b)->wills_published, 1);
	conn_drop(s);
	world_free();
}

static void test_will_delay(void **state)
{
	(void)state;
	world_init();
	struct fake_conn *s = connect_simple("s", MQTT_V5);
	subscribe(s, "w", 0);
	uint8_t rc;
	struct fake_conn *d = connect_full("dev", MQTT_V5, true, 100, NULL, "w", 0, 5, &rc, NULL);
	conn_drop(d);
	W.now += 3000;
	mqtt_broker_tick(W.b, W.now, 1700000000000 + (int64_t)W.now);
	assert_int_equal(pending(s), 0);
	/* reconnecting before the delay cancels it */
	bool present;
	d = connect_full("dev", MQTT_V5, false, 100, NULL, NULL, 0, 0, &rc, &present);
	assert_true(present);
	W.now += 10000;
	mqtt_broker_tick(W.b, W.now, 1700000000000 + (int64_t)W.now);
	assert_int_equal(pending(s), 0);
	conn_drop(d);
	/* this time it runs out */
	d = connect_full("dev", MQTT_V5, false, 100, NULL, "w", 0, 5, &rc, &present);
	conn_drop(d);
	W.now += 5000;
	mqtt_broker_tick(W.b, W.now, 1700000000000 + (int64_t)W.now);
	expect_publish(s, "w", "gone", 0);
	conn_drop(s);
	world_free();
}

static void test_persistent_session(void **state)
{
	(void)state;
	world_init();
	uint8_t rc;
	bool present;
	struct fake_conn *s = connect_full("keeper", MQTT_V311, false, 0, NULL, NULL, 0, 0, &rc, &present);
	assert_false(present);
	subscribe(s, "q", 1);
	struct fake_conn *p = connect_simple("p", MQTT_V311);
	publish(p, "q", "live", 1);
	expect_publish(s, "q", "live", 1);
	uint16_t unacked = s->pkt.u.publish.packet_id;
	conn_drop(s);
	W.op_count = 0;
	assert_int_equal(publish_full(p, "q", "while-away", 1, false, 8, NULL), 0);
	assert_int_equal(next(p)->type, MQTT_PUBACK);
	/* the queued message was persisted, so the PUBACK waits for the commit */
	assert_int_equal(last_flags(p), MQTT_SEND_AFTER_COMMIT);
	assert_int_equal(W.op_count, 1);
	assert_int_equal(W.ops[0].kind, MQTT_STORE_QUEUE_PUT);
	assert_string_equal(W.op_client[0], "keeper");
	publish(p, "q", "qos0-dropped", 0); /* QoS 0 is not queued for an offline session */
	s = connect_full("keeper", MQTT_V311, false, 0, NULL, NULL, 0, 0, &rc, &present);
	assert_true(present);
	struct mqtt_packet *m = next(s);
	assert_int_equal(m->type, MQTT_PUBLISH); /* the unacknowledged one again, with DUP */
	assert_true(m->u.publish.dup);
	assert_int_equal(m->u.publish.packet_id, unacked);
	expect_publish(s, "q", "while-away", 1);
	assert_false(s->pkt.u.publish.dup);
	assert_int_equal(pending(s), 0);
	conn_drop(s);
	/* clean session ends it */
	s = connect_full("keeper", MQTT_V311, true, 0, NULL, NULL, 0, 0, &rc, &present);
	assert_false(present);
	conn_drop(s);
	conn_drop(p);
	world_free();
}

static void test_session_expiry(void **state)
{
	(void)state;
	world_init();
	uint8_t rc;
	bool present;
	struct fake_conn *s = connect_full("e", MQTT_V5, true, 10, NULL, NULL, 0, 0, &rc, &present);
	subscribe(s, "x", 1);
	conn_drop(s);
	assert_int_equal(mqtt_broker_stats(W.b)->sessions, 1);
	W.now += 11000;
	W.op_count = 0;
	mqtt_broker_tick(W.b, W.now, 1700000000000 + (int64_t)W.now);
	assert_int_equal(mqtt_broker_stats(W.b)->sessions, 0);
	assert_int_equal(W.op_count, 1);
	assert_int_equal(W.ops[0].kind, MQTT_STORE_SESSION_DEL);
	s = connect_full("e", MQTT_V5, false, 10, NULL, NULL, 0, 0, &rc, &present);
	assert_false(present);
	conn_drop(s);
	world_free();
}

static void test_takeover(void **state)
{
	(void)state;
	world_init();
	uint8_t rc;
	bool present;
	struct fake_conn *a = connect_full("same", MQTT_V5, true, 60, NULL, NULL, 0, 0, &rc, &present);
	subscribe(a, "t", 0);
	struct fake_conn *b = connect_full("same", MQTT_V5, false, 60, NULL, NULL, 0, 0, &rc, &present);
	assert_true(present);
	assert_true(a->closed);
	assert_int_equal(next(a)->type, MQTT_DISCONNECT);
	assert_int_equal(a->pkt.u.disconnect.reason, MQTT_RC_SESSION_TAKEN_OVER);
	conn_drop(a); /* the old connection going away later must not disturb the new one */
	struct fake_conn *p = connect_simple("p", MQTT_V311);
	publish(p, "t", "to-b", 0);
	expect_publish(b, "t", "to-b", 0);
	assert_int_equal(mqtt_broker_stats(W.b)->takeovers, 1);
	conn_drop(b);
	conn_drop(p);
	world_free();
}

static void test_timeouts(void **state)
{
	(void)state;
	world_init();
	struct fake_conn *idle = conn_new();
	struct fake_conn *k = connect_simple("k", MQTT_V5); /* keepalive 60 s */
	W.now += 10000;
	mqtt_broker_tick(W.b, W.now, 1700000000000 + (int64_t)W.now);
	assert_true(idle->closed); /* no CONNECT within 10 s */
	struct mqtt_packet ping = {.type = MQTT_PINGREQ};
	W.now += 60000;
	feed(k, &ping);
	assert_int_equal(next(k)->type, MQTT_PINGRESP);
	W.now += 89000;
	mqtt_broker_tick(W.b, W.now, 1700000000000 + (int64_t)W.now);
	assert_false(k->closed);
	W.now += 1000; /* 1.5 x 60 s without a packet */
	mqtt_broker_tick(W.b, W.now, 1700000000000 + (int64_t)W.now);
	assert_true(k->closed);
	assert_int_equal(next(k)->type, MQTT_DISCONNECT);
	assert_int_equal(k->pkt.u.disconnect.reason, MQTT_RC_KEEP_ALIVE_TIMEOUT);
	conn_drop(idle);
	conn_drop(k);
	world_free();
}

static void test_backpressure_queue_bound(void **state)
{
	(void)state;
	struct mqtt_broker_config cfg;
	mqtt_broker_config_default(&cfg);
	cfg.queue_msgs_max = 3;
	world_init_cfg(&cfg);
	struct fake_conn *s = connect_simple("s", MQTT_V311), *p = connect_simple("p", MQTT_V311);
	subscribe(s, "t", 0);
	mqtt_broker_client_set_blocked(W.b, s->c, true, W.now);
	for (int i = 0; i < 5; i++)
		publish(p, "t", "m", 0);
	assert_int_equal(pending(s), 0);
	assert_int_equal(mqtt_broker_stats(W.b)->msgs_dropped, 2);
	mqtt_broker_client_set_blocked(W.b, s->c, false, W.now);
	assert_int_equal(pending(s), 3);
	conn_drop(s);
	conn_drop(p);
	world_free();
}

/* A publisher whose messages fill a connected receiver's queue is asked to slow down; a stalled receiver
 * (blocked and not draining) does not hold publishers back: its queue drops instead. */
static void test_throttle(void **state)
{
	(void)state;
	struct mqtt_broker_config cfg;
	mqtt_broker_config_default(&cfg);
	cfg.queue_msgs_max = 4;
	cfg.inflight_max = 1;
	world_init_cfg(&cfg);
	struct fake_conn *s = connect_simple("s", MQTT_V311), *p = connect_simple("p", MQTT_V311);
	subscribe(s, "t", 1);
	publish(p, "t", "1", 1); /* sent, in flight */
	publish(p, "t", "2", 1); /* queued: 2 of 4 */
	assert_int_equal(W.throttle_count, 1);
	assert_ptr_equal(W.throttled, p);
	mqtt_broker_client_set_blocked(W.b, s->c, true, W.now);
	publish(p, "t", "3", 1);
	assert_int_equal(W.throttle_count, 2); /* blocked but not stalled: still throttles */
	mqtt_broker_client_set_stalled(s->c, true);
	publish(p, "t", "4", 1);
	publish(p, "t", "5", 1); /* 1 in flight + 3 queued: over the bound, dropped */
	assert_int_equal(W.throttle_count, 2);
	assert_int_equal(mqtt_broker_stats(W.b)->msgs_dropped, 1);
	conn_drop(s);
	conn_drop(p);
	world_free();
}

/* What a store hands back after a restart: a disconnected persistent session with its subscription, a
 * delivery sent but unacknowledged and one still queued, and a retained message. */
static void test_restore(void **state)
{
	(void)state;
	world_init();
	struct mqtt_session *s = mqtt_broker_restore_session(W.b, mqtt_cstr("back"), 3600, MQTT_V311, W.now);
	assert_non_null(s);
	assert_null(mqtt_broker_restore_session(W.b, mqtt_cstr("back"), 3600, MQTT_V311, W.now)); /* duplicate */
	assert_int_equal(mqtt_broker_restore_sub(W.b, s, mqtt_cstr("r/#"), 1, 0), 0);
	struct mqtt_msg_view v = {.topic = mqtt_cstr("r/1"), .payload = mqtt_cstr("sent"), .qos = 1};
	assert_int_equal(mqtt_broker_restore_queued(W.b, s, 4, &v, 1, MQTT_DLV_PUBLISHED, 9, 0), 0);
	v.payload = mqtt_cstr("queued");
	assert_int_equal(mqtt_broker_restore_queued(W.b, s, 5, &v, 1, MQTT_DLV_QUEUED, 0, 0), 0);
	assert_int_equal(mqtt_broker_restore_queued(W.b, s, 6, &v, 1, 7, 0, 0), ERR_CORRUPT); /* bad state */
	struct mqtt_msg_view r = {.topic = mqtt_cstr("r/kept"), .payload = mqtt_cstr("ret"), .qos = 0};
	assert_int_equal(mqtt_broker_restore_retained(W.b, &r), 0);
	assert_int_equal(W.op_count, 0); /* restoring writes nothing back */
	uint8_t rc;
	bool present;
	struct fake_conn *c = connect_full("back", MQTT_V311, false, 0, NULL, NULL, 0, 0, &rc, &present);
	assert_true(present);
	struct mqtt_packet *m = next(c);
	assert_int_equal(m->type, MQTT_PUBLISH);
	assert_true(m->u.publish.dup);
	assert_int_equal(m->u.publish.packet_id, 9);
	expect_publish(c, "r/1", "queued", 1);
	assert_true(c->pkt.u.publish.packet_id != 9);
	ack(c, MQTT_PUBACK, 9);
	assert_int_equal(W.ops[W.op_count - 1].kind, MQTT_STORE_QUEUE_DEL);
	assert_int_equal(W.ops[W.op_count - 1].seq, 4);
	subscribe(c, "r/kept", 0);
	expect_publish(c, "r/kept", "ret", 0);
	assert_true(c->pkt.u.publish.retain);
	conn_drop(c);
	world_free();
}

/* The inbound QoS 2 state belongs to the session: a PUBLISH resent on a new connection, before PUBREL, is
 * acknowledged and not delivered twice; for a persistent session the ids are stored. */
static void test_qos2_in_across_reconnect(void **state)
{
	(void)state;
	world_init();
	struct fake_conn *s = connect_simple("s", MQTT_V311);
	subscribe(s, "t", 2);
	uint8_t rc;
	bool present;
	struct fake_conn *p = connect_full("p", MQTT_V5, true, 600, NULL, NULL, 0, 0, &rc, &present);
	W.op_count = 0;
	publish(p, "t", "once", 2);
	assert_int_equal(W.ops[0].kind, MQTT_STORE_RX_PUT);
	assert_int_equal(W.ops[0].packet_id, 7);
	expect_publish(s, "t", "once", 2);
	conn_drop(p); /* gone before it saw the PUBREC */
	p = connect_full("p", MQTT_V5, false, 600, NULL, NULL, 0, 0, &rc, &present);
	assert_true(present);
	assert_int_equal(publish_full(p, "t", "once", 2, false, 7, NULL), 0);
	assert_int_equal(next(p)->type, MQTT_PUBREC);
	assert_int_equal(pending(s), 0); /* not delivered again */
	ack(p, MQTT_PUBREL, 7);
	assert_int_equal(next(p)->type, MQTT_PUBCOMP);
	assert_int_equal(p->pkt.u.ack.reason, 0);
	assert_int_equal(W.ops[W.op_count - 1].kind, MQTT_STORE_RX_DEL);
	/* restored after a restart */
	struct mqtt_session *ses = mqtt_broker_session_find(W.b, mqtt_cstr("p"));
	assert_non_null(ses);
	conn_drop(p);
	assert_int_equal(mqtt_broker_restore_rx_qos2(W.b, ses, 9), 0);
	p = connect_full("p", MQTT_V5, false, 600, NULL, NULL, 0, 0, &rc, &present);
	assert_int_equal(publish_full(p, "t", "again", 2, false, 9, NULL), 0);
	assert_int_equal(next(p)->type, MQTT_PUBREC);
	assert_int_equal(pending(s), 0);
	conn_drop(p);
	conn_drop(s);
	world_free();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_qos0_fanout),
		cmocka_unit_test(test_qos1_both_ways),
		cmocka_unit_test(test_qos2_both_ways),
		cmocka_unit_test(test_retained),
		cmocka_unit_test(test_will),
		cmocka_unit_test(test_will_delay),
		cmocka_unit_test(test_persistent_session),
		cmocka_unit_test(test_session_expiry),
		cmocka_unit_test(test_takeover),
		cmocka_unit_test(test_timeouts),
		cmocka_unit_test(test_backpressure_queue_bound),
		cmocka_unit_test(test_throttle),
		cmocka_unit_test(test_restore),
		cmocka_unit_test(test_qos2_in_across_reconnect),
	};
	return cmocka_run_group_tests_name("mqtt_broker/flows", tests, NULL, NULL);
}
