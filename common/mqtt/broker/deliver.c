/* Outbound deliveries: the per-session queue and in-flight window (Receive Maximum, 5.0 §4.9), packet
 * identifiers, QoS 1/2 sender flows (5.0 §4.3), resend on reconnect (§4.4), message expiry (§3.3.2.3.3),
 * outbound topic aliases and the receiver's Maximum Packet Size (§3.1.2.11.4). */
#include "mqtt/broker/internal.h"

#include "base/log.h"

#define DLV_FREE_MAX 4096

struct dlv *bk_dlv_alloc(struct mqtt_broker *b)
{
	struct dlv *d = b->dlv_free;
	if (d) {
		b->dlv_free = d->next;
		b->dlv_free_count--;
	} else {
		d = malloc(sizeof *d);
		if (!d)
			return NULL;
	}
	memset(d, 0, sizeof *d);
	return d;
}

void bk_dlv_free(struct mqtt_broker *b, struct dlv *d)
{
	bk_msg_unref(d->msg);
	if (b->dlv_free_count >= DLV_FREE_MAX) {
		free(d);
		return;
	}
	d->next = b->dlv_free;
	b->dlv_free = d;
	b->dlv_free_count++;
}

void bk_dlv_push(struct dlv_list *l, struct dlv *d)
{
	d->next = NULL;
	if (l->tail)
		l->tail->next = d;
	else
		l->head = d;
	l->tail = d;
	l->count++;
}

struct dlv *bk_dlv_pop(struct dlv_list *l)
{
	struct dlv *d = l->head;
	if (!d)
		return NULL;
	l->head = d->next;
	if (!l->head)
		l->tail = NULL;
	l->count--;
	d->next = NULL;
	return d;
}

static void dlv_unlink(struct dlv_list *l, struct dlv *prev, struct dlv *d)
{
	if (prev)
		prev->next = d->next;
	else
		l->head = d->next;
	if (l->tail == d)
		l->tail = prev;
	l->count--;
	d->next = NULL;
}

void bk_dlv_persist(struct mqtt_broker *b, struct mqtt_session *s, struct dlv *d)
{
	struct mqtt_store_op op = {.kind = MQTT_STORE_QUEUE_PUT};
	op.client_id = (struct mqtt_bytes){(const uint8_t *)s->client_id, s->client_id_len};
	op.seq = d->seq;
	op.msg = d->msg;
	op.qos = d->qos;
	op.state = d->state;
	op.packet_id = d->packet_id;
	op.sub_id = d->sub_id;
	bk_store_op(b, &op);
	d->persisted = true;
}

/* A delivery is finished (acknowledged, expired, dropped): forget it everywhere. */
static void dlv_done(struct mqtt_broker *b, struct mqtt_session *s, struct dlv *d)
{
	if (d->persisted) {
		struct mqtt_store_op op = {.kind = MQTT_STORE_QUEUE_DEL};
		op.client_id = (struct mqtt_bytes){(const uint8_t *)s->client_id, s->client_id_len};
		op.seq = d->seq;
		bk_store_op(b, &op);
	}
	s->queue_bytes -= msg_cost(d->msg);
	bk_dlv_free(b, d);
}

void bk_session_clear_queue(struct mqtt_broker *b, struct mqtt_session *s)
{
	struct dlv *d;
	while ((d = bk_dlv_pop(&s->inflight)))
		bk_dlv_free(b, d);
	while ((d = bk_dlv_pop(&s->queue)))
		bk_dlv_free(b, d);
	s->queue_bytes = 0;
}

static bool expired(const struct mqtt_broker *b, const struct mqtt_msg *m)
{
	return m->expiry_wall_ms && wall_now(b) >= m->expiry_wall_ms;
}

static uint16_t packet_id_next(struct mqtt_session *s)
{
	for (;;) {
		uint16_t id = s->next_packet_id++;
		if (s->next_packet_id == 0)
			s->next_packet_id = 1;
		if (id == 0)
			continue;
		bool used = false;
		for (struct dlv *d = s->inflight.head; d && !used; d = d->next)
			used = d->packet_id == id;
		if (!used)
			return id;
	}
}

/* Picks the outbound alias for a topic: an existing mapping (send no topic), or a new one (send both). */
static uint16_t alias_pick(struct mqtt_client *c, struct mqtt_bytes topic, bool *known)
{
	*known = false;
	if (!c->alias_out) {
		c->alias_out = calloc(c->alias_out_max, sizeof *c->alias_out);
		if (!c->alias_out)
			return 0;
	}
	for (uint16_t i = 0; i < c->alias_out_max; i++) {
		if (bytes_eq(c->alias_out[i], topic.ptr, topic.len)) {
			*known = true;
			return (uint16_t)(i + 1);
		}
	}
	uint8_t *copy = malloc(topic.len);
	if (!copy)
		return 0;
	memcpy(copy, topic.ptr, topic.len);
	uint16_t i = c->alias_out_next;
	c->alias_out_next = (uint16_t)((i + 1) % c->alias_out_max);
	free((void *)c->alias_out[i].ptr);
	c->alias_out[i] = (struct mqtt_bytes){copy, topic.len};
	return (uint16_t)(i + 1);
}

/* Sends one PUBLISH for d.  Returns false when the receiver's Maximum Packet Size forbids it: the message is
 * then discarded as if sent ([MQTT-3.1.2-25]). */
static bool send_publish(struct mqtt_broker *b, struct mqtt_client *c, struct dlv *d, bool dup)
{
	struct mqtt_msg *m = d->msg;
	struct mqtt_packet p = {.type = MQTT_PUBLISH};
	struct mqtt_publish *pub = &p.u.publish;
	pub->dup = dup;
	pub->qos = d->qos;
	pub->retain = d->retain;
	pub->packet_id = d->packet_id;
	pub->topic = (struct mqtt_bytes){msg_topic(m), m->topic_len};
	pub->payload = (struct mqtt_bytes){msg_payload(m), m->payload_len};
	if (c->version == MQTT_V5) {
		if (m->props)
			pub->props = *m->props;
		if (m->expiry_wall_ms) {
			int64_t left = (m->expiry_wall_ms - wall_now(b) + 999) / 1000;
			mqtt_prop_set_num(&pub->props, MQTT_PROP_MESSAGE_EXPIRY, left > 0 ? (uint32_t)left : 1);
		}
		if (d->sub_id) {
			pub->props.sub_ids = &d->sub_id;
			pub->props.sub_id_count = 1;
			pub->props.present |= 1ull << MQTT_PROP_SUBSCRIPTION_ID;
		}
	}
	size_t size = mqtt_publish_size(pub, c->version);
	if (size > c->their_packet_max) {
		b->stats.msgs_dropped++;
		log_debug("mqtt: client %s: %zu-byte PUBLISH over its maximum packet size; dropped",
			  c->session->client_id, size);
		return false;
	}
	if (c->version == MQTT_V5 && c->alias_out_max) {
		bool known;
		uint16_t alias = alias_pick(c, pub->topic, &known);
		if (alias) {
			mqtt_prop_set_num(&pub->props, MQTT_PROP_TOPIC_ALIAS, alias);
			if (known)
				pub->topic = (struct mqtt_bytes){(const uint8_t *)"", 0};
		}
	}
	b->stats.msgs_out++;
	b->stats.bytes_out += size;
	bk_send_packet(b, c, &p, 0);
	return true;
}

static void send_pubrel(struct mqtt_broker *b, struct mqtt_client *c, uint16_t id)
{
	struct mqtt_packet p = {.type = MQTT_PUBREL};
	p.u.ack.packet_id = id;
	bk_send_packet(b, c, &p, 0);
}

/* Sends d now (the caller checked the window); QoS 1/2 go in flight. */
static void dlv_send(struct mqtt_broker *b, struct mqtt_session *s, struct dlv *d)
{
	struct mqtt_client *c = s->client;
	if (expired(b, d->msg)) {
		b->stats.msgs_dropped++;
		dlv_done(b, s, d);
		return;
	}
	if (d->qos && !d->packet_id)
		d->packet_id = packet_id_next(s);
	if (!send_publish(b, c, d, false) || d->qos == 0) {
		dlv_done(b, s, d);
		return;
	}
	d->state = MQTT_DLV_PUBLISHED;
	bk_dlv_push(&s->inflight, d);
}

static bool can_send(const struct mqtt_session *s)
{
	return s->client && s->client->state == CLIENT_CONNECTED && !s->client->blocked;
}

void bk_session_pump(struct mqtt_broker *b, struct mqtt_session *s)
{
	while (s->queue.head && can_send(s)) {
		struct dlv *d = s->queue.head;
		if (d->qos && s->inflight.count >= s->client->send_window)
			break;
		bk_dlv_pop(&s->queue);
		dlv_send(b, s, d);
	}
}

/* A connected receiver that is still reading, with its queue over half full: it slows publishers down. */
static bool over_half(const struct mqtt_broker *b, const struct mqtt_session *s)
{
	return s->client && !s->client->stalled &&
	       (s->queue.count + s->inflight.count >= b->cfg.queue_msgs_max / 2 ||
		s->queue_bytes >= b->cfg.queue_bytes_max / 2);
}

void bk_deliver(struct mqtt_broker *b, struct mqtt_session *s, struct mqtt_msg *m, uint8_t qos, bool retain,
	     uint32_t sub_id)
{
	if (!s->client && qos == 0 && !b->cfg.queue_qos0_offline)
		return;
	if (expired(b, m))
		return;
	uint64_t cost = msg_cost(m);
	if (s->queue.count + s->inflight.count >= b->cfg.queue_msgs_max || s->queue_bytes + cost > b->cfg.queue_bytes_max) {
		b->stats.msgs_dropped++;
		log_debug("mqtt: session %s: queue full (%u messages, %llu bytes); message dropped", s->client_id,
			  s->queue.count + s->inflight.count, (unsigned long long)s->queue_bytes);
		return;
	}
	struct dlv *d = bk_dlv_alloc(b);
	if (!d) {
		b->stats.msgs_dropped++;
		return;
	}
	d->msg = bk_msg_ref(m);
	d->seq = ++s->next_seq;
	d->qos = qos;
	d->retain = retain;
	d->sub_id = sub_id;
	s->queue_bytes += cost;
	/* What a persistent session has not acknowledged must survive a restart. */
	if (s->expiry_s && qos)
		bk_dlv_persist(b, s, d);
	if (!s->queue.head && can_send(s) && (qos == 0 || s->inflight.count < s->client->send_window)) {
		dlv_send(b, s, d);
		return;
	}
	bk_dlv_push(&s->queue, d);
	if (over_half(b, s)) {
		b->pressure = true;
		if (!s->in_pressure && b->pressure_count < PRESSURE_LIST_MAX) {
			s->in_pressure = true;
			b->pressure_list[b->pressure_count++] = s;
		}
	}
}

void bk_pressure_forget(struct mqtt_broker *b, struct mqtt_session *s)
{
	if (!s->in_pressure)
		return;
	for (uint32_t i = 0; i < b->pressure_count; i++) {
		if (b->pressure_list[i] == s) {
			b->pressure_list[i] = b->pressure_list[--b->pressure_count];
			break;
		}
	}
	s->in_pressure = false;
}

bool mqtt_broker_pressured(struct mqtt_broker *b)
{
	for (uint32_t i = 0; i < b->pressure_count;) {
		struct mqtt_session *s = b->pressure_list[i];
		if (over_half(b, s)) {
			i++;
			continue;
		}
		s->in_pressure = false;
		b->pressure_list[i] = b->pressure_list[--b->pressure_count];
	}
	return b->pressure_count > 0;
}

void bk_session_resend(struct mqtt_broker *b, struct mqtt_session *s)
{
	struct mqtt_client *c = s->client;
	struct dlv *prev = NULL;
	for (struct dlv *d = s->inflight.head, *next; d; d = next) {
		next = d->next;
		if (d->state == MQTT_DLV_RELEASED) {
			send_pubrel(b, c, d->packet_id);
		} else if (!send_publish(b, c, d, true)) {
			dlv_unlink(&s->inflight, prev, d);
			dlv_done(b, s, d);
			continue;
		}
		prev = d;
	}
}

void bk_queue_expire(struct mqtt_broker *b, struct mqtt_session *s)
{
	while (s->queue.head && expired(b, s->queue.head->msg)) {
		b->stats.msgs_dropped++;
		dlv_done(b, s, bk_dlv_pop(&s->queue));
	}
}

int bk_handle_ack(struct mqtt_broker *b, struct mqtt_client *c, uint8_t type, const struct mqtt_ack *a)
{
	struct mqtt_session *s = c->session;
	struct dlv *prev = NULL, *d = s->inflight.head;
	while (d && d->packet_id != a->packet_id) {
		prev = d;
		d = d->next;
	}
	if (!d) {
		/* An ack for nothing in flight: a late duplicate.  A PUBREC still needs its PUBREL (5.0 §4.3.3). */
		if (type == MQTT_PUBREC) {
			struct mqtt_packet p = {.type = MQTT_PUBREL};
			p.u.ack.packet_id = a->packet_id;
			p.u.ack.reason = c->version == MQTT_V5 ? MQTT_RC_PACKET_ID_NOT_FOUND : 0;
			bk_send_packet(b, c, &p, 0);
		}
		return 0;
	}
	switch (type) {
	case MQTT_PUBACK:
		if (d->qos != 1)
			return ERR_PROTOCOL;
		break;
	case MQTT_PUBREC:
		if (d->qos != 2)
			return ERR_PROTOCOL;
		if (c->version == MQTT_V5 && a->reason >= 0x80)
			break; /* the receiver refused it: the flow ends here */
		if (d->state != MQTT_DLV_RELEASED) {
			d->state = MQTT_DLV_RELEASED;
			if (d->persisted)
				bk_dlv_persist(b, s, d);
		}
		send_pubrel(b, c, d->packet_id);
		return 0;
	case MQTT_PUBCOMP:
		if (d->qos != 2 || d->state != MQTT_DLV_RELEASED)
			return ERR_PROTOCOL;
		break;
	}
	dlv_unlink(&s->inflight, prev, d);
	dlv_done(b, s, d);
	bk_session_pump(b, s);
	return 0;
}
