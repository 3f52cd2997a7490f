/* Rebuilding the engine's state from the store after a restart: sessions (as disconnected, their expiry
 * counting from the restart), their subscriptions and queued deliveries, and retained messages.  Nothing
 * here emits store operations: the store already holds what is being restored. */
#include "mqtt/broker/internal.h"

struct mqtt_session *mqtt_broker_session_find(struct mqtt_broker *b, struct mqtt_bytes client_id)
{
	struct hnode *h = bk_ht_find(&b->sessions, client_id.ptr, client_id.len);
	return h ? container_of(h, struct mqtt_session, h) : NULL;
}

struct mqtt_session *mqtt_broker_restore_session(struct mqtt_broker *b, struct mqtt_bytes client_id,
						 uint32_t expiry_s, uint8_t version, uint64_t now_ms)
{
	b->now_ms = now_ms;
	if (client_id.len > UINT16_MAX || expiry_s == 0 || bk_ht_find(&b->sessions, client_id.ptr, client_id.len))
		return NULL;
	struct mqtt_session *s = bk_session_new(b, client_id);
	if (!s)
		return NULL;
	s->expiry_s = expiry_s;
	s->version = version;
	s->offline_since_ms = now_ms;
	b->stats.sessions_persistent++;
	bk_offline_add(b, s);
	return s;
}

int mqtt_broker_restore_sub(struct mqtt_broker *b, struct mqtt_session *s, struct mqtt_bytes filter,
			    uint8_t options, uint32_t sub_id)
{
	bool existed;
	void (*store)(void *, const struct mqtt_store_op *) = b->ops.store;
	b->ops.store = NULL;
	int rc = bk_sub_add(b, s, filter, options, sub_id, &existed);
	b->ops.store = store;
	return rc;
}

static struct mqtt_msg *msg_from_view(struct mqtt_broker *b, const struct mqtt_msg_view *v)
{
	if (v->topic.len == 0 || v->topic.len > UINT16_MAX || v->qos > 2)
		return NULL;
	return bk_msg_new(b, v);
}

int mqtt_broker_restore_queued(struct mqtt_broker *b, struct mqtt_session *s, uint64_t seq,
			       const struct mqtt_msg_view *m, uint8_t qos, uint8_t state, uint16_t packet_id,
			       uint32_t sub_id)
{
	if (qos > 2 || state > MQTT_DLV_RELEASED || (state != MQTT_DLV_QUEUED && (!packet_id || !qos)))
		return ERR_CORRUPT;
	struct mqtt_msg *msg = msg_from_view(b, m);
	if (!msg)
		return ERR_CORRUPT;
	struct dlv *d = bk_dlv_alloc(b);
	if (!d) {
		bk_msg_unref(msg);
		return ERR_NOMEM;
	}
	d->msg = msg;
	d->seq = seq;
	d->qos = qos;
	d->state = state;
	d->packet_id = packet_id;
	d->sub_id = sub_id;
	d->retain = m->retain;
	d->persisted = true;
	if (seq > s->next_seq)
		s->next_seq = seq;
	s->queue_bytes += msg_cost(msg);
	/* Sent but unacknowledged ones are resent first, in their order (5.0 §4.4), then the rest. */
	bk_dlv_push(state == MQTT_DLV_QUEUED ? &s->queue : &s->inflight, d);
	if (packet_id >= s->next_packet_id)
		s->next_packet_id = (uint16_t)(packet_id + 1 ? packet_id + 1 : 1);
	return 0;
}

int mqtt_broker_restore_retained(struct mqtt_broker *b, const struct mqtt_msg_view *v)
{
	struct mqtt_msg *m = msg_from_view(b, v);
	if (!m)
		return ERR_CORRUPT;
	m->retain = true;
	void (*store)(void *, const struct mqtt_store_op *) = b->ops.store;
	b->ops.store = NULL;
	bk_retain_set(b, m);
	b->ops.store = store;
	bk_msg_unref(m);
	return 0;
}

int mqtt_broker_restore_rx_qos2(struct mqtt_broker *b, struct mqtt_session *s, uint16_t packet_id)
{
	if (!packet_id)
		return ERR_CORRUPT;
	uint16_t cap = b->cfg.receive_max ? b->cfg.receive_max : 1;
	return bk_rx_qos2_add(s, packet_id, cap);
}
