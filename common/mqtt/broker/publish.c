/* Inbound PUBLISH and PUBREL: topic aliases, limits, authorization, QoS 1/2 receiver flows (5.0 §4.3), the
 * retained store, and fan-out.  Acknowledgements that follow store work wait for its commit. */
#include "mqtt/broker/internal.h"

#include "base/log.h"

int bk_topic_check(const struct mqtt_broker *b, struct mqtt_bytes topic)
{
	return mqtt_topic_name_check(topic.ptr, topic.len, &b->topic_lim);
}

static bool sys_topic(const struct mqtt_msg *m)
{
	return m->topic_len >= 5 && !memcmp(msg_topic(m), "$SYS/", 5);
}

static void retained_unlink(struct mqtt_broker *b, struct mqtt_msg *m)
{
	if (m->ret_prev)
		m->ret_prev->ret_next = m->ret_next;
	else
		b->retained = m->ret_next;
	if (m->ret_next)
		m->ret_next->ret_prev = m->ret_prev;
	m->ret_prev = m->ret_next = NULL;
	b->stats.msgs_retained--;
	bk_msg_unref(m);
}

void bk_retain_set(struct mqtt_broker *b, struct mqtt_msg *m)
{
	struct mqtt_store_op op = {0};
	uint64_t old = 0;
	bool keep = m->payload_len > 0;
	bool full = keep && b->stats.msgs_retained >= b->cfg.retained_max &&
		    !mqtt_retain_get(b->retain_index, msg_topic(m), m->topic_len);
	if (full) {
		b->stats.msgs_dropped++;
		log_warn("mqtt: retained store full (%u); not keeping %.*s", b->cfg.retained_max, (int)m->topic_len,
			 (const char *)msg_topic(m));
		return;
	}
	/* 3.1.1 [MQTT-3.3.1-10], 5.0 [MQTT-3.3.1-6]: an empty retained message clears the topic. */
	int rc = mqtt_retain_set(b->retain_index, msg_topic(m), m->topic_len, keep ? (uint64_t)(uintptr_t)m : 0, &old);
	if (rc < 0) {
		b->stats.msgs_dropped++;
		log_warn("mqtt: retained %.*s not kept: %s", (int)m->topic_len, (const char *)msg_topic(m), err_str(rc));
		return;
	}
	if (old)
		retained_unlink(b, (struct mqtt_msg *)(uintptr_t)old);
	if (!keep) {
		if (old && !sys_topic(m)) {
			op.kind = MQTT_STORE_RETAIN_DEL;
			op.filter = (struct mqtt_bytes){msg_topic(m), m->topic_len};
			bk_store_op(b, &op);
		}
		return;
	}
	bk_msg_ref(m);
	m->ret_prev = NULL;
	m->ret_next = b->retained;
	if (b->retained)
		b->retained->ret_prev = m;
	b->retained = m;
	b->stats.msgs_retained++;
	if (sys_topic(m))
		return; /* the broker's own statistics are rebuilt after a restart, not stored */
	op.kind = MQTT_STORE_RETAIN_PUT;
	op.msg = m;
	bk_store_op(b, &op);
}

void bk_fanout(struct mqtt_broker *b, struct mqtt_msg *m)
{
	if (m->retain)
		bk_retain_set(b, m);
	bk_match_topic(b, m);
	/* bk_deliver() never re-enters matching, so the target array stays valid through the loop. */
	for (uint32_t i = 0; i < b->target_count; i++) {
		struct target *t = &b->targets[i];
		bk_deliver(b, t->session, m, t->qos, t->retain, t->sub_id);
	}
	b->target_count = 0;
}

int mqtt_broker_publish(struct mqtt_broker *b, struct mqtt_bytes topic, struct mqtt_bytes payload, uint8_t qos,
			bool retain, uint64_t now_ms)
{
	b->now_ms = now_ms;
	int rc = bk_topic_check(b, topic);
	if (rc)
		return rc;
	struct mqtt_msg_view v = {.topic = topic, .payload = payload, .qos = qos, .retain = retain};
	v.created_wall_ms = wall_now(b);
	struct mqtt_msg *m = bk_msg_new(b, &v);
	if (!m)
		return ERR_NOMEM;
	bk_fanout(b, m);
	bk_msg_unref(m);
	return 0;
}

/* 5.0 §3.3.2.3.4: a PUBLISH with a topic sets the alias; one with an empty topic uses it. */
static int alias_resolve(struct mqtt_client *c, struct mqtt_publish *p)
{
	uint32_t alias = mqtt_prop_num(&p->props, MQTT_PROP_TOPIC_ALIAS);
	if (!alias)
		return 0;
	if (alias > c->alias_in_max)
		return ERR_MQTT_TOPIC_ALIAS;
	if (!c->alias_in) {
		c->alias_in = calloc(c->alias_in_max, sizeof *c->alias_in);
		if (!c->alias_in)
			return ERR_NOMEM;
	}
	struct mqtt_bytes *slot = &c->alias_in[alias - 1];
	if (p->topic.len == 0) {
		if (!slot->ptr)
			return ERR_PROTOCOL; /* no mapping for this alias */
		p->topic = *slot;
		return 0;
	}
	uint8_t *copy = malloc(p->topic.len);
	if (!copy)
		return ERR_NOMEM;
	memcpy(copy, p->topic.ptr, p->topic.len);
	free((void *)slot->ptr);
	*slot = (struct mqtt_bytes){copy, p->topic.len};
	return 0;
}

static int rx_qos2_find(const struct mqtt_session *s, uint16_t id)
{
	for (uint16_t i = 0; i < s->rx_qos2_count; i++)
		if (s->rx_qos2[i] == id)
			return i;
	return -1;
}

int bk_rx_qos2_add(struct mqtt_session *s, uint16_t id, uint16_t cap_max)
{
	if (s->rx_qos2_count >= cap_max)
		return ERR_FULL;
	if (s->rx_qos2_count == s->rx_qos2_cap) {
		uint32_t cap = s->rx_qos2_cap ? s->rx_qos2_cap * 2u : 4u;
		if (cap > cap_max)
			cap = cap_max;
		uint16_t *a = realloc(s->rx_qos2, cap * sizeof *a);
		if (!a)
			return ERR_NOMEM;
		s->rx_qos2 = a;
		s->rx_qos2_cap = (uint16_t)cap;
	}
	s->rx_qos2[s->rx_qos2_count++] = id;
	return 0;
}

static void rx_store(struct mqtt_broker *b, struct mqtt_session *s, uint8_t kind, uint16_t id)
{
	if (!s->expiry_s)
		return;
	struct mqtt_store_op op = {.kind = kind};
	op.client_id = (struct mqtt_bytes){(const uint8_t *)s->client_id, s->client_id_len};
	op.packet_id = id;
	op.qos = 2;
	bk_store_op(b, &op);
}

static void ack(struct mqtt_broker *b, struct mqtt_client *c, uint8_t type, uint16_t id, uint8_t reason, unsigned flags)
{
	struct mqtt_packet a = {.type = type};
	a.u.ack.packet_id = id;
	a.u.ack.reason = reason;
	bk_send_packet(b, c, &a, flags);
}

int bk_handle_publish(struct mqtt_broker *b, struct mqtt_client *c, struct mqtt_publish *p)
{
	int rc = mqtt_publish_check_from_client(p, c->alias_in_max);
	if (rc)
		return rc;
	if (p->qos > b->cfg.qos_max) {
		bk_client_kill(b, c, MQTT_RC_QOS_NOT_SUPPORTED); /* 5.0 [MQTT-3.2.2-11] */
		return 0;
	}
	if (p->retain && !b->cfg.retain_available) {
		bk_client_kill(b, c, MQTT_RC_RETAIN_NOT_SUPPORTED); /* 5.0 [MQTT-3.2.2-14] */
		return 0;
	}
	if (c->version == MQTT_V5 && (rc = alias_resolve(c, p)))
		return rc;
	if ((rc = bk_topic_check(b, p->topic)))
		return rc;
	uint8_t ack_type = p->qos == 1 ? MQTT_PUBACK : MQTT_PUBREC;
	if (p->qos == 2) {
		if (rx_qos2_find(c->session, p->packet_id) >= 0) {
			/* A resend of a QoS 2 message we have (5.0 §4.3.3): acknowledge, do not deliver again. */
			ack(b, c, MQTT_PUBREC, p->packet_id, 0, 0);
			return 0;
		}
		if (c->session->rx_qos2_count >= c->rx_max) {
			bk_client_kill(b, c, MQTT_RC_RECEIVE_MAX_EXCEEDED); /* 5.0 §3.3.4 */
			return 0;
		}
	}
	b->stats.msgs_in++;
	if (b->ops.authorize && !b->ops.authorize(b->ctx, c->io, MQTT_ACL_WRITE, p->topic)) {
		b->stats.acl_denials++;
		log_info("mqtt: client %s: publish to %.*s denied", c->session->client_id, (int)p->topic.len,
			 (const char *)p->topic.ptr);
		/* 5.0 answers 0x87; 3.1.1 has no way to refuse, so the message is acknowledged and dropped. */
		if (p->qos)
			ack(b, c, p->qos == 1 ? MQTT_PUBACK : MQTT_PUBREC, p->packet_id,
			    c->version == MQTT_V5 ? MQTT_RC_NOT_AUTHORIZED : 0, 0);
		return 0;
	}
	struct mqtt_msg_view v = {.topic = p->topic, .payload = p->payload, .qos = p->qos, .retain = p->retain};
	v.created_wall_ms = wall_now(b);
	if (c->version == MQTT_V5) {
		v.props = (struct mqtt_bytes){p->props.raw, p->props.raw_len};
		if (mqtt_prop_has(&p->props, MQTT_PROP_MESSAGE_EXPIRY))
			v.expiry_wall_ms = v.created_wall_ms + (int64_t)mqtt_prop_num(&p->props, MQTT_PROP_MESSAGE_EXPIRY) * 1000;
	}
	struct mqtt_msg *m = bk_msg_new(b, &v);
	if (!m)
		return ERR_NOMEM;
	m->origin = c->session;
	uint64_t ops_before = b->store_ops;
	bool can_refuse = c->version == MQTT_V5 && p->qos > 0;
	int hook = b->ops.on_publish ? b->ops.on_publish(b->ctx, c->io, m, can_refuse) : 0;
	if (can_refuse && hook >= 0x80) {
		/* 5.0 §3.4.2.1 / §3.5.2.1: a reason >= 0x80 tells the sender the message was not accepted; for QoS 2
		 * the flow ends here (§4.3.3), so the packet id is not remembered. */
		bk_msg_unref(m);
		ack(b, c, ack_type, p->packet_id, (uint8_t)hook, 0);
		return 0;
	}
	bool wait = hook == MQTT_PUBLISH_HOOK_WAIT;
	b->pressure = false;
	bk_fanout(b, m);
	bk_msg_unref(m);
	if (b->pressure && b->ops.throttle)
		b->ops.throttle(b->ctx, c->io);
	if (p->qos == 0)
		return 0;
	if (p->qos == 2) {
		int rc2 = bk_rx_qos2_add(c->session, p->packet_id, c->rx_max);
		if (rc2)
			return rc2;
		rx_store(b, c->session, MQTT_STORE_RX_PUT, p->packet_id);
	}
	/* Persist before acknowledging: the ack waits for the commit of what this message caused. */
	ack(b, c, ack_type, p->packet_id, 0, wait || b->store_ops != ops_before ? MQTT_SEND_AFTER_COMMIT : 0);
	return 0;
}

int bk_handle_pubrel(struct mqtt_broker *b, struct mqtt_client *c, const struct mqtt_ack *a)
{
	struct mqtt_session *s = c->session;
	int i = rx_qos2_find(s, a->packet_id);
	uint8_t reason = 0;
	if (i < 0) {
		reason = MQTT_RC_PACKET_ID_NOT_FOUND; /* 5.0 §4.3.3: still answer with PUBCOMP */
	} else {
		s->rx_qos2[i] = s->rx_qos2[--s->rx_qos2_count];
		rx_store(b, s, MQTT_STORE_RX_DEL, a->packet_id);
	}
	ack(b, c, MQTT_PUBCOMP, a->packet_id, c->version == MQTT_V5 ? reason : 0, 0);
	return 0;
}
