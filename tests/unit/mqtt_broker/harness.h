/* Test harness for the broker engine: fake connections that record what the engine sends (encoded with the
 * real codec and decoded back, so the bytes a client would see are what is checked) and the store ops. */
#ifndef TEST_MQTT_BROKER_HARNESS_H
#define TEST_MQTT_BROKER_HARNESS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "mqtt/broker/broker.h"
#include "mqtt/codec.h"

#define OUT_MAX 256
#define BUF_MAX 4096

struct fake_conn {
	struct mqtt_client *c;
	uint8_t version;
	bool closed;
	unsigned flags[OUT_MAX];
	uint8_t out[OUT_MAX][BUF_MAX];
	size_t out_len[OUT_MAX];
	unsigned out_count, out_read;
	struct mqtt_packet pkt; /* the last packet taken with next() */
};

struct world {
	struct mqtt_broker *b;
	uint64_t now;
	struct mqtt_store_op ops[OUT_MAX];
	char op_client[OUT_MAX][64];
	unsigned op_count;
	bool deny_write, deny_read, deny_sub;
	const char *password; /* when set, the only accepted password */
	void *throttled;      /* the last connection the engine asked to slow down */
	unsigned throttle_count;
};

static struct world W;

static inline void w_send(void *ctx, void *io, const struct mqtt_packet *pkt, uint8_t version, unsigned flags)
{
	(void)ctx;
	struct fake_conn *f = io;
	assert_true(f->out_count < OUT_MAX);
	struct wbuf w;
	wbuf_init(&w, f->out[f->out_count], BUF_MAX);
	assert_int_equal(mqtt_encode(&w, pkt, version), 0);
	assert_int_equal(w.len, mqtt_packet_size(pkt, version));
	f->out_len[f->out_count] = w.len;
	f->flags[f->out_count] = flags;
	f->out_count++;
}

static inline void w_close(void *ctx, void *io)
{
	(void)ctx;
	((struct fake_conn *)io)->closed = true;
}

static inline void w_store(void *ctx, const struct mqtt_store_op *op)
{
	(void)ctx;
	if (W.op_count < OUT_MAX) {
		W.ops[W.op_count] = *op;
		snprintf(W.op_client[W.op_count], 64, "%.*s", (int)op->client_id.len, (const char *)op->client_id.ptr);
		W.op_count++;
	}
}

static inline uint8_t w_auth(void *ctx, void *io, struct mqtt_connect_info *info)
{
	(void)ctx;
	(void)io;
	if (!W.password)
		return 0;
	if (info->password.len == strlen(W.password) && !memcmp(info->password.ptr, W.password, info->password.len))
		return 0;
	return MQTT_RC_BAD_USERNAME_OR_PASSWORD;
}

static inline bool w_authz(void *ctx, void *io, enum mqtt_acl_access a, struct mqtt_bytes topic)
{
	(void)ctx;
	(void)io;
	bool secret = topic.len >= 6 && !memcmp(topic.ptr, "secret", 6);
	if (!secret)
		return true;
	return !((a == MQTT_ACL_WRITE && W.deny_write) || (a == MQTT_ACL_READ && W.deny_read) ||
		 (a == MQTT_ACL_SUBSCRIBE && W.deny_sub));
}

static inline void w_throttle(void *ctx, void *io)
{
	(void)ctx;
	W.throttled = io;
	W.throttle_count++;
}

static inline void world_init_cfg(const struct mqtt_broker_config *cfg)
{
	memset(&W, 0, sizeof W);
	W.now = 1000;
	struct mqtt_broker_ops ops = {.send = w_send, .close = w_close, .store = w_store, .authenticate = w_auth,
				      .authorize = w_authz, .throttle = w_throttle};
	W.b = mqtt_broker_new(cfg, &ops, NULL, W.now, 1700000000000 + (int64_t)W.now);
	assert_non_null(W.b);
}

static inline void world_init(void)
{
	struct mqtt_broker_config cfg;
	mqtt_broker_config_default(&cfg);
	world_init_cfg(&cfg);
}

static inline void world_free(void) { mqtt_broker_free(W.b); }

static inline struct fake_conn *conn_new(void)
{
	struct fake_conn *f = calloc(1, sizeof *f);
	assert_non_null(f);
	f->c = mqtt_broker_client_new(W.b, f, W.now);
	assert_non_null(f->c);
	return f;
}

/* The connection ends (peer went away or after the engine closed it). */
static inline void conn_drop(struct fake_conn *f)
{
	mqtt_broker_client_free(W.b, f->c, W.now);
	free(f);
}

static inline int feed(struct fake_conn *f, const struct mqtt_packet *p)
{
	uint8_t buf[BUF_MAX];
	struct wbuf w;
	wbuf_init(&w, buf, sizeof buf);
	uint8_t v = p->type == MQTT_CONNECT ? p->u.connect.version : f->version;
	assert_int_equal(mqtt_encode(&w, p, v), 0);
	return mqtt_broker_input(W.b, f->c, buf, w.len, W.now);
}

static inline int feed_raw(struct fake_conn *f, const void *bytes, size_t len)
{
	return mqtt_broker_input(W.b, f->c, bytes, len, W.now);
}

/* Takes the next packet the engine sent on f; fails the test when there is none. */
static inline struct mqtt_packet *next(struct fake_conn *f)
{
	assert_true(f->out_read < f->out_count);
	unsigned i = f->out_read++;
	int rc = mqtt_decode(f->out[i], f->out_len[i], f->version ? f->version : MQTT_V311, &f->pkt);
	assert_int_equal(rc, (int)f->out_len[i]);
	return &f->pkt;
}

static inline unsigned pending(const struct fake_conn *f) { return f->out_count - f->out_read; }
static inline unsigned last_flags(const struct fake_conn *f) { return f->flags[f->out_read - 1]; }

static inline struct fake_conn *connect_full(const char *id, uint8_t version, bool clean, uint32_t expiry,
				      const struct mqtt_props *props, const char *will_topic, uint8_t will_qos,
				      uint32_t will_delay, uint8_t *rc_out, bool *present)
{
	struct fake_conn *f = conn_new();
	f->version = version;
	struct mqtt_packet p = {.type = MQTT_CONNECT};
	struct mqtt_connect *c = &p.u.connect;
	c->version = version;
	c->clean_start = clean;
	c->keep_alive_s = 60;
	c->client_id = mqtt_cstr(id);
	if (props)
		c->props = *props;
	if (version == MQTT_V5 && expiry)
		mqtt_prop_set_num(&c->props, MQTT_PROP_SESSION_EXPIRY, expiry);
	if (will_topic) {
		c->will = true;
		c->will_qos = will_qos;
		c->will_topic = mqtt_cstr(will_topic);
		c->will_payload = mqtt_cstr("gone");
		if (will_delay)
			mqtt_prop_set_num(&c->will_props, MQTT_PROP_WILL_DELAY, will_delay);
	}
	if (W.password) {
		c->has_username = c->has_password = true;
		c->username = mqtt_cstr("u");
		c->password = mqtt_cstr(id); /* tests use the client id as the password */
	}
	feed(f, &p);
	struct mqtt_packet *a = next(f);
	assert_int_equal(a->type, MQTT_CONNACK);
	if (rc_out)
		*rc_out = a->u.connack.reason;
	if (present)
		*present = a->u.connack.session_present;
	return f;
}

static inline struct fake_conn *connect_simple(const char *id, uint8_t version)
{
	uint8_t rc;
	struct fake_conn *f = connect_full(id, version, true, 0, NULL, NULL, 0, 0, &rc, NULL);
	assert_int_equal(rc, 0);
	return f;
}

static inline void subscribe_opts(struct fake_conn *f, uint16_t id, const char *filter, uint8_t options, uint32_t sub_id,
			   uint8_t expect_rc)
{
	struct mqtt_sub_entry e = {mqtt_cstr(filter), options};
	struct mqtt_packet p = {.type = MQTT_SUBSCRIBE};
	p.u.subscribe.packet_id = id;
	p.u.subscribe.list = &e;
	p.u.subscribe.count = 1;
	if (sub_id)
		mqtt_prop_set_num(&p.u.subscribe.props, MQTT_PROP_SUBSCRIPTION_ID, sub_id);
	assert_int_equal(feed(f, &p), 0);
	struct mqtt_packet *a = next(f);
	assert_int_equal(a->type, MQTT_SUBACK);
	assert_int_equal(a->u.suback.packet_id, id);
	assert_int_equal(a->u.suback.reasons.len, 1);
	assert_int_equal(a->u.suback.reasons.ptr[0], expect_rc);
}

static inline void subscribe(struct fake_conn *f, const char *filter, uint8_t qos)
{
	subscribe_opts(f, 1, filter, qos, 0, qos);
}

static inline int publish_full(struct fake_conn *f, const char *topic, const char *payload, uint8_t qos, bool retain,
			uint16_t id, const struct mqtt_props *props)
{
	struct mqtt_packet p = {.type = MQTT_PUBLISH};
	p.u.publish.topic = mqtt_cstr(topic);
	p.u.publish.payload = mqtt_cstr(payload);
	p.u.publish.qos = qos;
	p.u.publish.retain = retain;
	p.u.publish.packet_id = qos ? id : 0;
	if (props)
		p.u.publish.props = *props;
	return feed(f, &p);
}

static inline void publish(struct fake_conn *f, const char *topic, const char *payload, uint8_t qos)
{
	assert_int_equal(publish_full(f, topic, payload, qos, false, 7, NULL), 0);
	if (qos) {
		struct mqtt_packet *a = next(f);
		assert_int_equal(a->type, qos == 1 ? MQTT_PUBACK : MQTT_PUBREC);
		assert_int_equal(a->u.ack.packet_id, 7);
	}
}

static inline void ack(struct fake_conn *f, uint8_t type, uint16_t id)
{
	struct mqtt_packet p = {.type = type};
	p.u.ack.packet_id = id;
	assert_int_equal(feed(f, &p), 0);
}

static inline void expect_publish(struct fake_conn *f, const char *topic, const char *payload, uint8_t qos)
{
	struct mqtt_packet *p = next(f);
	assert_int_equal(p->type, MQTT_PUBLISH);
	if (topic)
		assert_true(p->u.publish.topic.len == strlen(topic) &&
			    !memcmp(p->u.publish.topic.ptr, topic, strlen(topic)));
	assert_true(p->u.publish.payload.len == strlen(payload) &&
		    !memcmp(p->u.publish.payload.ptr, payload, strlen(payload)));
	assert_int_equal(p->u.publish.qos, qos);
}

#endif
