/* CONNECT: version, client identifier (assigned when empty), authentication, session start or resume,
 * takeover of a connected session, the will, and the CONNACK with what this server allows (5.0 §3.2.2.3). */
#include <stdio.h>

#include "mqtt/broker/internal.h"

#include "base/log.h"

static void connack(struct mqtt_broker *b, struct mqtt_client *c, uint8_t rc5, uint8_t rc4, bool present,
		    struct mqtt_props *props)
{
	struct mqtt_packet p = {.type = MQTT_CONNACK};
	p.u.connack.session_present = present;
	p.u.connack.reason = c->version == MQTT_V5 ? rc5 : rc4;
	if (props && c->version == MQTT_V5)
		p.u.connack.props = *props;
	bk_send_packet(b, c, &p, 0);
}

/* Refuses the connection with a CONNACK carrying the reason, then closes ([MQTT-3.2.2-6/7]). */
static int refuse(struct mqtt_broker *b, struct mqtt_client *c, uint8_t rc5, uint8_t rc4)
{
	connack(b, c, rc5, rc4, false, NULL);
	c->state = CLIENT_CLOSING;
	b->ops.close(b->ctx, c->io);
	return 0;
}

static uint8_t rc4_of(uint8_t rc5)
{
	switch (rc5) {
	case MQTT_RC_BAD_USERNAME_OR_PASSWORD: return MQTT_CONNACK311_BAD_USERNAME_OR_PASSWORD;
	case MQTT_RC_NOT_AUTHORIZED:
	case MQTT_RC_BANNED: return MQTT_CONNACK311_NOT_AUTHORIZED;
	case MQTT_RC_CLIENT_ID_NOT_VALID: return MQTT_CONNACK311_ID_REJECTED;
	default: return MQTT_CONNACK311_SERVER_UNAVAILABLE;
	}
}

void bk_will_publish(struct mqtt_broker *b, struct mqtt_session *s)
{
	struct mqtt_msg *m = s->will;
	s->will = NULL;
	s->will_at_ms = 0;
	if (!m)
		return;
	m->created_wall_ms = wall_now(b);
	if (s->will_expiry_s)
		m->expiry_wall_ms = wall_now(b) + (int64_t)s->will_expiry_s * 1000;
	b->stats.wills_published++;
	bk_fanout(b, m);
	bk_msg_unref(m);
}

/* Sets the session's expiry and keeps the store in step: a session is in the store iff expiry_s > 0. */
static void session_set_expiry(struct mqtt_broker *b, struct mqtt_session *s, uint32_t expiry_s, uint8_t version)
{
	bool was = s->expiry_s > 0;
	s->expiry_s = expiry_s;
	s->version = version;
	if (expiry_s > 0) {
		if (!was)
			b->stats.sessions_persistent++;
		bk_session_persist(b, s);
	} else if (was) {
		struct mqtt_store_op op = {.kind = MQTT_STORE_SESSION_DEL};
		op.client_id = (struct mqtt_bytes){(const uint8_t *)s->client_id, s->client_id_len};
		bk_store_op(b, &op);
		b->stats.sessions_persistent--;
	}
}

static int will_build(struct mqtt_broker *b, struct mqtt_session *s, const struct mqtt_connect *p)
{
	int rc = bk_topic_check(b, p->will_topic);
	if (rc)
		return rc;
	struct mqtt_msg_view v = {0};
	v.topic = p->will_topic;
	v.payload = p->will_payload;
	v.qos = p->will_qos > b->cfg.qos_max ? b->cfg.qos_max : p->will_qos;
	v.retain = p->will_retain && b->cfg.retain_available;
	if (p->version == MQTT_V5)
		v.props = (struct mqtt_bytes){p->will_props.raw, p->will_props.raw_len};
	struct mqtt_msg *m = bk_msg_new(b, &v);
	if (!m)
		return ERR_NOMEM;
	bk_msg_unref(s->will);
	s->will = m;
	s->will_delay_s = mqtt_prop_num(&p->will_props, MQTT_PROP_WILL_DELAY);
	s->will_expiry_s = mqtt_prop_num(&p->will_props, MQTT_PROP_MESSAGE_EXPIRY);
	s->will_at_ms = 0;
	return 0;
}

/* An existing connection with the same client id is closed (3.1.4 step 3; 5.0 reason 0x8E).  Its will goes
 * now unless a delay is set, in which case this new connection cancels it (5.0 §3.1.3.2.2) -- unless the
 * session ends here (clean start), which also publishes it. */
static void takeover(struct mqtt_broker *b, struct mqtt_session *s, bool clean_start)
{
	struct mqtt_client *old = s->client;
	b->stats.takeovers++;
	log_info("mqtt: client %s: session taken over", s->client_id);
	bk_client_kill(b, old, MQTT_RC_SESSION_TAKEN_OVER);
	old->session = NULL;
	s->client = NULL;
	b->stats.clients_connected--;
	if (old->will_suppressed) {
		bk_msg_unref(s->will);
		s->will = NULL;
	}
	if (s->will && (clean_start || s->will_delay_s == 0 || s->expiry_s == 0))
		bk_will_publish(b, s);
}

static void negotiate(struct mqtt_broker *b, struct mqtt_client *c, const struct mqtt_connect *p)
{
	uint32_t rm = 65535, pmax = UINT32_MAX, tam = 0;
	if (p->version == MQTT_V5) {
		if (mqtt_prop_has(&p->props, MQTT_PROP_RECEIVE_MAX))
			rm = mqtt_prop_num(&p->props, MQTT_PROP_RECEIVE_MAX);
		if (mqtt_prop_has(&p->props, MQTT_PROP_MAX_PACKET_SIZE))
			pmax = mqtt_prop_num(&p->props, MQTT_PROP_MAX_PACKET_SIZE);
		tam = mqtt_prop_num(&p->props, MQTT_PROP_TOPIC_ALIAS_MAX);
		c->problem_info = !mqtt_prop_has(&p->props, MQTT_PROP_REQUEST_PROBLEM_INFO) ||
				  mqtt_prop_num(&p->props, MQTT_PROP_REQUEST_PROBLEM_INFO);
		c->alias_in_max = b->cfg.topic_alias_max;
	}
	c->send_window = (uint16_t)(rm < b->cfg.inflight_max ? rm : b->cfg.inflight_max);
	if (c->send_window == 0)
		c->send_window = 1;
	c->their_packet_max = pmax ? pmax : UINT32_MAX;
	c->alias_out_max = (uint16_t)(tam < b->cfg.topic_alias_out_max ? tam : b->cfg.topic_alias_out_max);
	c->keep_alive_s = p->keep_alive_s;
	c->rx_max = b->cfg.receive_max ? b->cfg.receive_max : 1;
}

static struct mqtt_session *session_for(struct mqtt_broker *b, struct mqtt_bytes id, bool clean, bool *present)
{
	*present = false;
	struct hnode *h = bk_ht_find(&b->sessions, id.ptr, id.len);
	struct mqtt_session *s = h ? container_of(h, struct mqtt_session, h) : NULL;
	if (s && s->client)
		takeover(b, s, clean);
	if (s && clean) {
		if (s->will)
			bk_will_publish(b, s);
		bk_session_destroy(b, s);
		s = NULL;
	}
	if (s) {
		bk_offline_remove(b, s);
		*present = true;
		/* A new connection before the will delay ran out cancels the will (5.0 §3.1.3.2.2). */
		bk_msg_unref(s->will);
		s->will = NULL;
		s->will_at_ms = 0;
		return s;
	}
	if (b->stats.sessions >= b->cfg.sessions_max)
		return NULL;
	return bk_session_new(b, id);
}

int bk_handle_connect(struct mqtt_broker *b, struct mqtt_client *c, const struct mqtt_connect *p)
{
	c->version = p->version;
	struct mqtt_connect_info info = {p->client_id, p->username, p->password, p->version};
	char assigned[40];
	bool assign = p->client_id.len == 0;
	if (p->client_id.len > b->cfg.client_id_len_max || (assign && p->version == MQTT_V311 && !p->clean_start))
		return refuse(b, c, MQTT_RC_CLIENT_ID_NOT_VALID, MQTT_CONNACK311_ID_REJECTED); /* [MQTT-3.1.3-8] */
	if (assign) {
		/* 5.0 §3.1.3.1 / 3.1.1 [MQTT-3.1.3-6]: the server assigns a unique identifier. */
		int n = snprintf(assigned, sizeof assigned, "ferry-%016llx-%llu", (unsigned long long)b->wall_minus_mono_ms,
				 (unsigned long long)++b->assigned_id_counter);
		info.client_id = (struct mqtt_bytes){(const uint8_t *)assigned, (uint32_t)n};
	}
	uint8_t rc = 0;
	if (b->ops.authenticate)
		rc = b->ops.authenticate(b->ctx, c->io, &info);
	else if (!b->cfg.allow_anonymous)
		rc = MQTT_RC_NOT_AUTHORIZED;
	if (rc) {
		b->stats.auth_failures++;
		log_info("mqtt: client %.*s: connection refused (0x%02x)", (int)info.client_id.len,
			 (const char *)info.client_id.ptr, rc);
		return refuse(b, c, rc, rc4_of(rc));
	}
	uint32_t expiry = 0;
	if (p->version == MQTT_V5)
		expiry = mqtt_prop_num(&p->props, MQTT_PROP_SESSION_EXPIRY);
	else if (!p->clean_start)
		expiry = UINT32_MAX; /* 3.1.1 persistent sessions last until the server's limit */
	bool capped = expiry > b->cfg.session_expiry_max_s;
	if (capped)
		expiry = b->cfg.session_expiry_max_s;

	bool present;
	struct mqtt_session *s = session_for(b, info.client_id, p->clean_start, &present);
	if (!s)
		return refuse(b, c, MQTT_RC_SERVER_BUSY, MQTT_CONNACK311_SERVER_UNAVAILABLE);
	if (p->will) {
		int wrc = will_build(b, s, p);
		if (wrc) {
			if (!present)
				bk_session_destroy(b, s);
			return wrc == ERR_NOMEM ? refuse(b, c, MQTT_RC_SERVER_BUSY, MQTT_CONNACK311_SERVER_UNAVAILABLE) : wrc;
		}
	}
	session_set_expiry(b, s, expiry, p->version);
	s->client = c;
	c->session = s;
	c->state = CLIENT_CONNECTED;
	negotiate(b, c, p);
	b->stats.clients_connected++;
	b->stats.clients_total++;

	struct mqtt_props props = {0};
	if (p->version == MQTT_V5) {
		mqtt_prop_set_num(&props, MQTT_PROP_RECEIVE_MAX, b->cfg.receive_max);
		mqtt_prop_set_num(&props, MQTT_PROP_MAX_PACKET_SIZE, b->cfg.packet_size_max);
		if (b->cfg.topic_alias_max)
			mqtt_prop_set_num(&props, MQTT_PROP_TOPIC_ALIAS_MAX, b->cfg.topic_alias_max);
		if (b->cfg.qos_max < 2)
			mqtt_prop_set_num(&props, MQTT_PROP_MAX_QOS, b->cfg.qos_max);
		if (!b->cfg.retain_available)
			mqtt_prop_set_num(&props, MQTT_PROP_RETAIN_AVAILABLE, 0);
		if (capped)
			mqtt_prop_set_num(&props, MQTT_PROP_SESSION_EXPIRY, expiry);
		if (assign)
			mqtt_prop_set_bytes(&props, MQTT_PROP_ASSIGNED_CLIENT_ID, info.client_id);
		if (b->cfg.keep_alive_max_s && (p->keep_alive_s == 0 || p->keep_alive_s > b->cfg.keep_alive_max_s)) {
			c->keep_alive_s = b->cfg.keep_alive_max_s; /* 5.0 §3.2.2.3.14 */
			mqtt_prop_set_num(&props, MQTT_PROP_SERVER_KEEP_ALIVE, c->keep_alive_s);
		}
	}
	connack(b, c, MQTT_RC_SUCCESS, MQTT_CONNACK311_ACCEPTED, present, &props);
	log_debug("mqtt: client %s connected (v%u, clean %d, expiry %u, present %d)", s->client_id, p->version,
		  p->clean_start, expiry, present);
	if (present) {
		bk_session_resend(b, s);
		bk_session_pump(b, s);
	}
	return 0;
}
