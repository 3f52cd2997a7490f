/* Broker engine: CONNECT negotiation into CONNACK, and the session table (open, resume, clean start,
 * takeover, expiry, subscriptions following their session). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "mqtt/session.h"

static struct mqtt_connect connect5(const char *id)
{
	struct mqtt_connect c;
	memset(&c, 0, sizeof c);
	c.version = MQTT_V5;
	c.clean_start = true;
	c.keep_alive_s = 60;
	c.client_id = mqtt_cstr(id);
	return c;
}

static void test_negotiate(void **state)
{
	(void)state;
	struct mqtt_broker_limits lim = mqtt_broker_limits_default;
	lim.keep_alive_max_s = 30;
	lim.session_expiry_max_s = 100;
	lim.qos_max = 1;
	struct mqtt_connect c = connect5("");
	mqtt_prop_set_num(&c.props, MQTT_PROP_SESSION_EXPIRY, 3600);
	mqtt_prop_set_num(&c.props, MQTT_PROP_RECEIVE_MAX, 5);
	mqtt_prop_set_num(&c.props, MQTT_PROP_MAX_PACKET_SIZE, 4096);
	mqtt_prop_set_num(&c.props, MQTT_PROP_TOPIC_ALIAS_MAX, 7);
	mqtt_prop_set_num(&c.props, MQTT_PROP_REQUEST_PROBLEM_INFO, 0);
	struct mqtt_conn_params p;
	struct mqtt_connack ack;
	assert_int_equal(mqtt_connect_negotiate(&c, &lim, mqtt_cstr("auto-1"), &p, &ack), 0);
	assert_int_equal(ack.reason, 0);
	assert_true(p.assign_client_id);
	assert_int_equal(p.keep_alive_s, 30);
	assert_int_equal(p.session_expiry_s, 100);
	assert_int_equal(p.client_receive_max, 5);
	assert_int_equal(p.client_packet_size_max, 4096);
	assert_int_equal(p.client_topic_alias_max, 7);
	assert_false(p.request_problem_info);
	/* The CONNACK says what differs from the defaults and from what the client asked. */
	assert_int_equal(mqtt_prop_num(&ack.props, MQTT_PROP_SESSION_EXPIRY), 100);
	assert_int_equal(mqtt_prop_num(&ack.props, MQTT_PROP_SERVER_KEEP_ALIVE), 30);
	assert_int_equal(mqtt_prop_num(&ack.props, MQTT_PROP_MAX_QOS), 1);
	assert_int_equal(mqtt_prop_num(&ack.props, MQTT_PROP_RECEIVE_MAX), lim.receive_max);
	assert_int_equal(mqtt_prop_num(&ack.props, MQTT_PROP_TOPIC_ALIAS_MAX), lim.topic_alias_max);
	assert_int_equal(mqtt_prop_num(&ack.props, MQTT_PROP_MAX_PACKET_SIZE), lim.packet_size_max);
	assert_false(mqtt_prop_has(&ack.props, MQTT_PROP_RETAIN_AVAILABLE));
	struct mqtt_bytes aid = mqtt_prop_bytes(&ack.props, MQTT_PROP_ASSIGNED_CLIENT_ID);
	assert_int_equal(aid.len, 6);
	/* It encodes and decodes as a valid CONNACK. */
	uint8_t buf[256];
	struct wbuf w;
	wbuf_init(&w, buf, sizeof buf);
	assert_int_equal(mqtt_encode_connack(&w, &ack, MQTT_V5), 0);
	struct mqtt_connack d;
	assert_int_equal(mqtt_decode_connack(buf, w.len, MQTT_V5, &d), (int)w.len);

	/* Defaults: no Receive Maximum from the client means 65535; keep alive untouched without a cap. */
	c = connect5("dev");
	assert_int_equal(mqtt_connect_negotiate(&c, &mqtt_broker_limits_default, mqtt_cstr(""), &p, &ack), 0);
	assert_int_equal(p.client_receive_max, 65535);
	assert_int_equal(p.client_packet_size_max, UINT32_MAX);
	assert_int_equal(p.keep_alive_s, 60);
	assert_true(p.request_problem_info);
	assert_false(p.assign_client_id);
	assert_false(mqtt_prop_has(&ack.props, MQTT_PROP_SERVER_KEEP_ALIVE));
	assert_false(mqtt_prop_has(&ack.props, MQTT_PROP_SESSION_EXPIRY));

	/* Refusals. */
	c.will = true;
	c.will_qos = 2;
	assert_int_equal(mqtt_connect_negotiate(&c, &lim, mqtt_cstr(""), &p, &ack), ERR_UNSUPPORTED);
	assert_int_equal(ack.reason, MQTT_RC_QOS_NOT_SUPPORTED);
	c.will_qos = 1;
	c.will_retain = true;
	lim.retain_available = false;
	assert_int_equal(mqtt_connect_negotiate(&c, &lim, mqtt_cstr(""), &p, &ack), ERR_UNSUPPORTED);
	assert_int_equal(ack.reason, MQTT_RC_RETAIN_NOT_SUPPORTED);
	c.version = MQTT_V311;
	assert_int_equal(mqtt_connect_negotiate(&c, &lim, mqtt_cstr(""), &p, &ack), ERR_UNSUPPORTED);
	assert_int_equal(mqtt_err_connack4(ERR_UNSUPPORTED), -1); /* 3.1.1: just close */
	char longid[300];
	memset(longid, 'x', sizeof longid - 1);
	longid[sizeof longid - 1] = 0;
	c = connect5(longid);
	assert_int_equal(mqtt_connect_negotiate(&c, &lim, mqtt_cstr(""), &p, &ack), ERR_MQTT_CLIENT_ID);
	assert_int_equal(ack.reason, MQTT_RC_CLIENT_ID_NOT_VALID);
	c.version = MQTT_V311;
	assert_int_equal(mqtt_connect_negotiate(&c, &lim, mqtt_cstr(""), &p, &ack), ERR_MQTT_CLIENT_ID);
	assert_int_equal(ack.reason, MQTT_CONNACK311_ID_REJECTED);

	/* 3.1.1 session lifetime follows Clean Session. */
	c = connect5("a");
	c.version = MQTT_V311;
	assert_int_equal(mqtt_connect_negotiate(&c, &lim, mqtt_cstr(""), &p, &ack), 0);
	assert_int_equal(p.session_expiry_s, 0);
	c.clean_start = false;
	assert_int_equal(mqtt_connect_negotiate(&c, &lim, mqtt_cstr(""), &p, &ack), 0);
	assert_int_equal(p.session_expiry_s, UINT32_MAX);
}

static int count_hits(void *ctx, const struct mqtt_trie_match *m)
{
	(void)m;
	++*(int *)ctx;
	return 0;
}

static int hits(struct mqtt_trie *t, const char *topic)
{
	int n = 0;
	mqtt_trie_match(t, (const uint8_t *)topic, strlen(topic), count_hits, &n);
	return n;
}

static void test_sessions(void **state)
{
	(void)state;
	struct mqtt_trie *trie = mqtt_trie_new(&mqtt_topic_limits_default);
	struct mqtt_sessions t;
	assert_int_equal(mqtt_sessions_init(&t, trie, &mqtt_broker_limits_default), 0);
	struct mqtt_conn_params p = {.version = MQTT_V5, .session_expiry_s = 0, .client_receive_max = 3};
	struct mqtt_session *s, *s2;
	bool present, taken;

	/* Expiry 0: the session ends with its connection, subscriptions with it. */
	assert_int_equal(mqtt_sessions_open(&t, mqtt_cstr("dev-1"), true, &p, &s, &present, &taken), 0);
	assert_false(present);
	assert_false(taken);
	assert_int_equal(s->out.limit, 3);
	assert_int_equal(mqtt_session_subscribe(&t, s, mqtt_cstr("s/+/t"), 1, 0), 0);
	assert_int_equal(mqtt_session_subscribe(&t, s, mqtt_cstr("s/+/t"), 2, 0), 1);
	assert_int_equal(mqtt_session_subscribe(&t, s, mqtt_cstr("$share/g/s/#"), 1, 0), 0);
	assert_int_equal(mqtt_session_subscribe(&t, s, mqtt_cstr("bad/#/x"), 1, 0), ERR_MQTT_TOPIC_FILTER);
	assert_int_equal(s->sub_count, 2);
	assert_int_equal(hits(trie, "s/1/t"), 2);
	assert_ptr_equal(mqtt_sessions_find(&t, (const uint8_t *)"dev-1", 5), s);
	mqtt_sessions_disconnected(&t, s, 1000);
	assert_null(mqtt_sessions_find(&t, (const uint8_t *)"dev-1", 5));
	assert_int_equal(hits(trie, "s/1/t"), 0);

	/* Expiry 60 s: resumed within it, gone after it. */
	p.session_expiry_s = 60;
	assert_int_equal(mqtt_sessions_open(&t, mqtt_cstr("dev-2"), true, &p, &s, &present, &taken), 0);
	assert_int_equal(mqtt_session_subscribe(&t, s, mqtt_cstr("a/b"), 1, 0), 0);
	uint16_t id;
	assert_int_equal(mqtt_outbound_add(&s->out, 1, 77, &id), 0);
	mqtt_sessions_disconnected(&t, s, 1000);
	assert_int_equal(mqtt_sessions_expire(&t, 60999), 0);
	assert_int_equal(mqtt_sessions_open(&t, mqtt_cstr("dev-2"), false, &p, &s2, &present, &taken), 0);
	assert_ptr_equal(s2, s);
	assert_true(present);
	assert_int_equal(hits(trie, "a/b"), 1);
	assert_int_equal(mqtt_outbound_first(&s->out)->msg, 77); /* to resend */
	/* Still connected: a second CONNECT takes it over. */
	assert_int_equal(mqtt_sessions_open(&t, mqtt_cstr("dev-2"), false, &p, &s2, &present, &taken), ERR_EXISTS);
	assert_true(taken);
	assert_ptr_equal(s2, s);
	mqtt_session_detach(s);
	assert_int_equal(mqtt_sessions_open(&t, mqtt_cstr("dev-2"), false, &p, &s2, &present, &taken), 0);
	assert_true(present);
	mqtt_sessions_disconnected(&t, s, 2000);
	assert_int_equal(mqtt_sessions_expire(&t, 61999), 0);
	assert_int_equal(mqtt_sessions_expire(&t, 62000), 1);
	assert_null(mqtt_sessions_find(&t, (const uint8_t *)"dev-2", 5));
	assert_int_equal(hits(trie, "a/b"), 0);

	/* Clean start discards what was there. */
	assert_int_equal(mqtt_sessions_open(&t, mqtt_cstr("dev-3"), true, &p, &s, &present, &taken), 0);
	assert_int_equal(mqtt_session_subscribe(&t, s, mqtt_cstr("x"), 0, 0), 0);
	mqtt_sessions_disconnected(&t, s, 0);
	assert_int_equal(mqtt_sessions_open(&t, mqtt_cstr("dev-3"), true, &p, &s, &present, &taken), 0);
	assert_false(present);
	assert_int_equal(hits(trie, "x"), 0);
	assert_int_equal(mqtt_session_subscribe(&t, s, mqtt_cstr("x"), 0, 0), 0);
	assert_int_equal(mqtt_session_unsubscribe(&t, s, mqtt_cstr("x")), 0);
	assert_int_equal(mqtt_session_unsubscribe(&t, s, mqtt_cstr("x")), ERR_NOT_FOUND);
	assert_int_equal(s->sub_count, 0);

	/* Many sessions: the table grows, removal keeps every other one findable. */
	char id_s[32];
	struct mqtt_session *all[500];
	for (int i = 0; i < 500; i++) {
		snprintf(id_s, sizeof id_s, "c%d", i);
		assert_int_equal(mqtt_sessions_open(&t, mqtt_cstr(id_s), true, &p, &all[i], &present, &taken), 0);
		assert_int_equal(mqtt_session_subscribe(&t, all[i], mqtt_cstr("all"), 0, 0), 0);
	}
	assert_int_equal(hits(trie, "all"), 500);
	for (int i = 0; i < 500; i += 2)
		mqtt_sessions_disconnected(&t, all[i], 5000);
	assert_int_equal(mqtt_sessions_expire(&t, 65000), 250);
	for (int i = 0; i < 500; i++) {
		snprintf(id_s, sizeof id_s, "c%d", i);
		assert_ptr_equal(mqtt_sessions_find(&t, (const uint8_t *)id_s, strlen(id_s)), i % 2 ? all[i] : NULL);
	}
	assert_int_equal(hits(trie, "all"), 250);
	mqtt_sessions_deinit(&t);
	struct mqtt_trie_stats st;
	mqtt_trie_stats(trie, &st);
	assert_int_equal(st.subs, 0);
	mqtt_trie_free(trie);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_negotiate),
		cmocka_unit_test(test_sessions),
	};
	return cmocka_run_group_tests_name("mqtt/session", tests, NULL, NULL);
}
