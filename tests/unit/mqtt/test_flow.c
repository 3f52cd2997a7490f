/* Broker engine pieces: outbound QoS 1/2 flows with packet identifiers and Receive Maximum, inbound QoS
 * accounting and QoS 2 duplicate detection, topic alias maps in both directions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "mqtt/alias.h"
#include "mqtt/inflight.h"

static void test_outbound_qos1(void **state)
{
	(void)state;
	struct mqtt_outbound o;
	assert_int_equal(mqtt_outbound_init(&o, 4), 0);
	mqtt_outbound_set_receive_max(&o, 3);
	uint16_t id[4];
	for (int i = 0; i < 3; i++)
		assert_int_equal(mqtt_outbound_add(&o, 1, 100 + i, &id[i]), 0);
	assert_true(mqtt_outbound_full(&o));
	assert_int_equal(mqtt_outbound_add(&o, 1, 103, &id[3]), ERR_FULL); /* [MQTT-4.9.0-2] */
	assert_int_not_equal(id[0], id[1]);
	assert_int_not_equal(id[1], id[2]);
	uint64_t msg;
	assert_int_equal(mqtt_outbound_puback(&o, id[1], &msg), 0);
	assert_int_equal(msg, 101);
	assert_int_equal(mqtt_outbound_puback(&o, id[1], &msg), ERR_MQTT_PACKET_ID_UNKNOWN);
	assert_int_equal(mqtt_outbound_pubcomp(&o, id[0], &msg), ERR_MQTT_PACKET_ID_STATE);
	assert_int_equal(mqtt_outbound_puback(&o, 0, &msg), ERR_MQTT_PACKET_ID_UNKNOWN);
	assert_int_equal(mqtt_outbound_add(&o, 1, 103, &id[3]), 0);
	/* The id of a finished message is not handed out again straight away. */
	assert_int_not_equal(id[3], id[1]);
	assert_int_equal(mqtt_outbound_puback(&o, id[1], &msg), ERR_MQTT_PACKET_ID_UNKNOWN);
	/* Resend order is send order: 100, 102, 103. */
	const struct mqtt_out_entry *e = mqtt_outbound_first(&o);
	uint64_t order[3];
	int n = 0;
	for (; e; e = mqtt_outbound_next(&o, e)) {
		assert_int_equal(e->state, MQTT_OUT_WAIT_PUBACK);
		order[n++] = e->msg;
	}
	assert_int_equal(n, 3);
	assert_int_equal(order[0], 100);
	assert_int_equal(order[1], 102);
	assert_int_equal(order[2], 103);
	/* A reconnect with a smaller Receive Maximum: in flight stays, new sends wait. */
	mqtt_outbound_set_receive_max(&o, 2);
	assert_int_equal(mqtt_outbound_add(&o, 1, 104, &id[3]), ERR_FULL);
	mqtt_outbound_set_receive_max(&o, 65535); /* capped by the session's capacity */
	assert_int_equal(o.limit, 4);
	mqtt_outbound_deinit(&o);
}

static void test_outbound_qos2(void **state)
{
	(void)state;
	struct mqtt_outbound o;
	assert_int_equal(mqtt_outbound_init(&o, 8), 0);
	uint16_t a, b, c;
	uint64_t msg;
	bool rel;
	assert_int_equal(mqtt_outbound_add(&o, 2, 1, &a), 0);
	assert_int_equal(mqtt_outbound_add(&o, 2, 2, &b), 0);
	assert_int_equal(mqtt_outbound_add(&o, 1, 3, &c), 0);
	assert_int_equal(mqtt_outbound_puback(&o, a, &msg), ERR_MQTT_PACKET_ID_STATE);
	assert_int_equal(mqtt_outbound_pubcomp(&o, a, &msg), ERR_MQTT_PACKET_ID_STATE);
	assert_int_equal(mqtt_outbound_pubrec(&o, a, 0, &msg, &rel), 0);
	assert_true(rel);
	assert_int_equal(msg, 1);
	assert_int_equal(mqtt_outbound_pubrec(&o, a, 0, &msg, &rel), 0); /* repeated PUBREC: PUBREL again */
	assert_true(rel);
	assert_int_equal(mqtt_outbound_pubrec(&o, c, 0, &msg, &rel), ERR_MQTT_PACKET_ID_STATE);
	/* An error PUBREC ends the flow and frees the quota (§4.3.3, §4.9). */
	assert_int_equal(mqtt_outbound_pubrec(&o, b, 0x97, &msg, &rel), 0);
	assert_false(rel);
	assert_int_equal(o.count, 2);
	assert_int_equal(mqtt_outbound_pubcomp(&o, b, &msg), ERR_MQTT_PACKET_ID_UNKNOWN);
	/* On reconnect: a resent as PUBREL, c as PUBLISH. */
	const struct mqtt_out_entry *e = mqtt_outbound_first(&o);
	assert_int_equal(e->packet_id, a);
	assert_int_equal(e->state, MQTT_OUT_WAIT_PUBCOMP);
	e = mqtt_outbound_next(&o, e);
	assert_int_equal(e->packet_id, c);
	assert_null(mqtt_outbound_next(&o, e));
	assert_int_equal(mqtt_outbound_pubcomp(&o, a, &msg), 0);
	assert_int_equal(msg, 1);
	assert_int_equal(mqtt_outbound_puback(&o, c, &msg), 0);
	assert_int_equal(o.count, 0);
	assert_null(mqtt_outbound_first(&o));
	mqtt_outbound_deinit(&o);
}

/* Identifiers stay within 1..65535, are unique among those in flight, and an id maps back to its entry,
 * over many reuses and for every capacity shape. */
static void test_outbound_ids(void **state)
{
	(void)state;
	const uint16_t caps[] = {1, 2, 7, 20, 1000, 65535};
	for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
		struct mqtt_outbound o;
		assert_int_equal(mqtt_outbound_init(&o, caps[k]), 0);
		uint16_t fill = caps[k] < 64 ? caps[k] : 64;
		uint16_t ids[64];
		uint64_t msg;
		for (uint32_t round = 0; round < 2000; round++) {
			for (uint16_t i = 0; i < fill; i++) {
				assert_int_equal(mqtt_outbound_add(&o, 1, round * 100 + i, &ids[i]), 0);
				assert_int_not_equal(ids[i], 0);
				for (uint16_t j = 0; j < i; j++)
					assert_int_not_equal(ids[i], ids[j]);
			}
			for (uint16_t i = 0; i < fill; i++) {
				uint16_t at = (uint16_t)((i * 7 + round) % fill); /* acks out of order */
				if (!ids[at])
					continue;
				assert_int_equal(mqtt_outbound_puback(&o, ids[at], &msg), 0);
				assert_int_equal(msg, round * 100 + at);
				ids[at] = 0;
			}
			for (uint16_t i = 0; i < fill; i++)
				if (ids[i])
					assert_int_equal(mqtt_outbound_puback(&o, ids[i], &msg), 0);
			assert_int_equal(o.count, 0);
		}
		mqtt_outbound_deinit(&o);
	}
}

static void test_inbound(void **state)
{
	(void)state;
	struct mqtt_inbound in;
	assert_int_equal(mqtt_inbound_init(&in, 3), 0);
	bool dup;
	assert_int_equal(mqtt_inbound_publish(&in, 0, 0, &dup), 0);
	assert_int_equal(mqtt_inbound_publish(&in, 1, 10, &dup), 0);
	assert_int_equal(mqtt_inbound_publish(&in, 2, 11, &dup), 0);
	assert_false(dup);
	assert_int_equal(mqtt_inbound_publish(&in, 2, 11, &dup), 0); /* resent before PUBREC arrived */
	assert_true(dup);
	assert_int_equal(mqtt_inbound_publish(&in, 2, 12, &dup), 0);
	assert_int_equal(mqtt_inbound_publish(&in, 1, 13, &dup), ERR_MQTT_RECEIVE_MAX);
	assert_int_equal(mqtt_inbound_publish(&in, 0, 0, &dup), 0); /* QoS 0 is never counted */
	mqtt_inbound_puback_sent(&in);
	assert_int_equal(mqtt_inbound_publish(&in, 1, 13, &dup), 0);
	assert_int_equal(mqtt_inbound_pubrel(&in, 11), 0);
	assert_int_equal(mqtt_inbound_pubrel(&in, 11), ERR_MQTT_PACKET_ID_UNKNOWN); /* PUBCOMP 0x92 */
	assert_int_equal(mqtt_inbound_publish(&in, 2, 11, &dup), 0);                /* a new message now */
	assert_false(dup);
	mqtt_inbound_pubrec_refused(&in, 12);
	assert_int_equal(in.unacked, 2);
	assert_int_equal(in.qos2, 1);
	mqtt_inbound_deinit(&in);

	/* Many ids through a small set: colliding homes and backward-shift deletes keep lookups right. */
	assert_int_equal(mqtt_inbound_init(&in, 50), 0);
	for (uint32_t round = 0; round < 200; round++) {
		for (uint16_t i = 0; i < 50; i++)
			assert_int_equal(mqtt_inbound_publish(&in, 2, (uint16_t)(1 + (round * 37 + i * 1311) % 65535), &dup), 0);
		for (uint16_t i = 0; i < 50; i++) {
			uint16_t id = (uint16_t)(1 + (round * 37 + ((i * 13) % 50) * 1311) % 65535);
			assert_int_equal(mqtt_inbound_pubrel(&in, id), 0);
		}
		assert_int_equal(in.unacked, 0);
	}
	mqtt_inbound_deinit(&in);
}

static struct mqtt_publish pub_alias(const char *topic, uint16_t alias)
{
	struct mqtt_publish p;
	memset(&p, 0, sizeof p);
	p.topic = mqtt_cstr(topic);
	if (alias)
		mqtt_prop_set_num(&p.props, MQTT_PROP_TOPIC_ALIAS, alias);
	return p;
}

static void test_alias_in(void **state)
{
	(void)state;
	struct mqtt_alias_in a;
	assert_int_equal(mqtt_alias_in_init(&a, 2), 0);
	struct mqtt_publish p = pub_alias("", 1);
	assert_int_equal(mqtt_alias_in_apply(&a, &p), ERR_MQTT_TOPIC_ALIAS_UNKNOWN);
	p = pub_alias("s/1/t", 1);
	assert_int_equal(mqtt_alias_in_apply(&a, &p), 0);
	p = pub_alias("", 1);
	assert_int_equal(mqtt_alias_in_apply(&a, &p), 0);
	assert_int_equal(p.topic.len, 5);
	assert_memory_equal(p.topic.ptr, "s/1/t", 5);
	p = pub_alias("other/topic", 1); /* redefine */
	assert_int_equal(mqtt_alias_in_apply(&a, &p), 0);
	p = pub_alias("", 1);
	assert_int_equal(mqtt_alias_in_apply(&a, &p), 0);
	assert_int_equal(p.topic.len, 11);
	p = pub_alias("x", 3);
	assert_int_equal(mqtt_alias_in_apply(&a, &p), ERR_MQTT_TOPIC_ALIAS); /* above the maximum */
	p = pub_alias("plain", 0);
	assert_int_equal(mqtt_alias_in_apply(&a, &p), 0);
	mqtt_alias_in_deinit(&a);
	assert_int_equal(mqtt_alias_in_init(&a, 0), 0);
	p = pub_alias("x", 1);
	assert_int_equal(mqtt_alias_in_apply(&a, &p), ERR_MQTT_TOPIC_ALIAS);
	mqtt_alias_in_deinit(&a);
}

static void test_alias_out(void **state)
{
	(void)state;
	struct mqtt_alias_out a;
	uint16_t alias;
	bool with;
	assert_int_equal(mqtt_alias_out_init(&a, 3), 0);
	mqtt_alias_out_get(&a, (const uint8_t *)"a", 1, &alias, &with);
	assert_int_equal(alias, 1);
	assert_true(with);
	mqtt_alias_out_get(&a, (const uint8_t *)"a", 1, &alias, &with);
	assert_int_equal(alias, 1);
	assert_false(with);
	mqtt_alias_out_get(&a, (const uint8_t *)"b", 1, &alias, &with);
	assert_int_equal(alias, 2);
	mqtt_alias_out_get(&a, (const uint8_t *)"c", 1, &alias, &with);
	assert_int_equal(alias, 3);
	/* Full: "d" takes alias 1 from "a", which then needs a new mapping. */
	mqtt_alias_out_get(&a, (const uint8_t *)"d", 1, &alias, &with);
	assert_int_equal(alias, 1);
	assert_true(with);
	mqtt_alias_out_get(&a, (const uint8_t *)"b", 1, &alias, &with);
	assert_int_equal(alias, 2);
	assert_false(with);
	mqtt_alias_out_get(&a, (const uint8_t *)"a", 1, &alias, &with);
	assert_int_equal(alias, 2);
	assert_true(with);
	mqtt_alias_out_get(&a, (const uint8_t *)"b", 1, &alias, &with);
	assert_true(with); /* b lost its alias to a */
	/* Churn: the index never loses a live mapping. */
	char t[16];
	for (int i = 0; i < 5000; i++) {
		snprintf(t, sizeof t, "t/%d", i % 5);
		mqtt_alias_out_get(&a, (const uint8_t *)t, (uint16_t)strlen(t), &alias, &with);
		assert_true(alias >= 1 && alias <= 3);
		uint16_t again;
		mqtt_alias_out_get(&a, (const uint8_t *)t, (uint16_t)strlen(t), &again, &with);
		assert_int_equal(again, alias);
		assert_false(with);
	}
	mqtt_alias_out_deinit(&a);
	assert_int_equal(mqtt_alias_out_init(&a, 0), 0);
	mqtt_alias_out_get(&a, (const uint8_t *)"a", 1, &alias, &with);
	assert_int_equal(alias, 0);
	assert_true(with);
	mqtt_alias_out_deinit(&a);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outbound_qos1), cmocka_unit_test(test_outbound_qos2),
		cmocka_unit_test(test_outbound_ids),  cmocka_unit_test(test_inbound),
		cmocka_unit_test(test_alias_in),      cmocka_unit_test(test_alias_out),
	};
	return cmocka_run_group_tests_name("mqtt/flow", tests, NULL, NULL);
}
