/* Packets captured from mosquitto_pub/_sub and paho-mqtt (golden.h, see tests/tools/capture_golden.py):
 * each decodes at its version and re-encodes byte for byte; a few fields are checked by hand. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "mqtt/codec.h"

#include "golden.h"

#define NGOLD (sizeof goldens / sizeof goldens[0])

static void test_roundtrip(void **state)
{
	(void)state;
	int bad = 0;
	for (size_t i = 0; i < NGOLD; i++) {
		const struct golden *g = &goldens[i];
		uint8_t *in = malloc(g->len);
		memcpy(in, g->data, g->len);
		struct mqtt_packet p;
		int rc = mqtt_decode(in, g->len, g->version, &p);
		if (rc != (int)g->len) {
			printf("%s: decode %s\n", g->name, err_name(rc));
			bad++;
			free(in);
			continue;
		}
		uint8_t out[1024];
		struct wbuf w;
		wbuf_init(&w, out, sizeof out);
		assert_int_equal(mqtt_packet_size(&p, g->version), g->len);
		assert_int_equal(mqtt_encode(&w, &p, g->version), 0);
		if (w.len != g->len || memcmp(out, in, g->len) != 0) {
			printf("%s: re-encoding differs\n", g->name);
			bad++;
		}
		free(in);
	}
	assert_int_equal(bad, 0);
	assert_true(NGOLD >= 20);
}

static const struct golden *find(const char *name)
{
	for (size_t i = 0; i < NGOLD; i++)
		if (strcmp(goldens[i].name, name) == 0)
			return &goldens[i];
	fail_msg("no golden packet %s", name);
	return NULL;
}

static void test_fields(void **state)
{
	(void)state;
	struct mqtt_packet p;
	const struct golden *g = find("mosquitto_pub_v5 #2 PUBLISH");
	assert_int_equal(mqtt_decode((const uint8_t *)g->data, g->len, 5, &p), (int)g->len);
	assert_int_equal(p.u.publish.qos, 1);
	assert_true(p.u.publish.retain);
	assert_int_equal(p.u.publish.topic.len, strlen("sensors/1/temp"));
	assert_int_equal(mqtt_prop_num(&p.u.publish.props, MQTT_PROP_MESSAGE_EXPIRY), 60);
	assert_int_equal(p.u.publish.props.user_count, 1);
	struct mqtt_prop_iter it;
	struct mqtt_bytes k, v;
	mqtt_prop_iter_init(&it, &p.u.publish.props);
	assert_true(mqtt_prop_next_user(&it, &k, &v));
	assert_memory_equal(k.ptr, "unit", 4);
	assert_memory_equal(v.ptr, "C", 1);

	g = find("paho_v5 #1 CONNECT");
	assert_int_equal(mqtt_decode((const uint8_t *)g->data, g->len, 5, &p), (int)g->len);
	assert_int_equal(p.u.connect.version, 5);
	assert_true(p.u.connect.will);
	assert_int_equal(p.u.connect.will_qos, 1);
	assert_int_equal(mqtt_prop_num(&p.u.connect.props, MQTT_PROP_RECEIVE_MAX), 20);
	assert_int_equal(mqtt_prop_num(&p.u.connect.will_props, MQTT_PROP_WILL_DELAY), 5);

	g = find("paho_v311 #1 CONNECT");
	assert_int_equal(mqtt_decode((const uint8_t *)g->data, g->len, 4, &p), (int)g->len);
	assert_false(p.u.connect.clean_start);
	assert_int_equal(p.u.connect.keep_alive_s, 45);

	g = find("mosquitto_sub_v5 #2 SUBSCRIBE");
	assert_int_equal(mqtt_decode((const uint8_t *)g->data, g->len, 5, &p), (int)g->len);
	assert_int_equal(p.u.subscribe.count, 2);
	assert_int_equal(mqtt_prop_num(&p.u.subscribe.props, MQTT_PROP_SUBSCRIPTION_ID), 7);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_fields),
	};
	return cmocka_run_group_tests_name("mqtt/golden", tests, NULL, NULL);
}
