/* Application messages: one allocation holding the topic, the 5.0 properties to forward and the payload,
 * shared by reference among every session it is delivered to. */
#include "mqtt/broker/internal.h"

/* Properties a broker forwards unchanged (5.0 §3.3.2.3): the rest (Topic Alias, Message Expiry, Subscription
 * Identifier) are per hop and rebuilt for each delivery. */
static bool forwarded(uint8_t id)
{
	return id == MQTT_PROP_PAYLOAD_FORMAT || id == MQTT_PROP_CONTENT_TYPE || id == MQTT_PROP_RESPONSE_TOPIC ||
	       id == MQTT_PROP_CORRELATION_DATA || id == MQTT_PROP_USER;
}

struct mqtt_msg *bk_msg_new(struct mqtt_broker *b, const struct mqtt_msg_view *v)
{
	bool has_props = v->props.len > 0;
	size_t size = sizeof(struct mqtt_msg) + v->topic.len + v->props.len + v->payload.len;
	size_t props_off = size;
	if (has_props) {
		props_off = (size + _Alignof(struct mqtt_props) - 1) & ~(_Alignof(struct mqtt_props) - 1);
		size = props_off + sizeof(struct mqtt_props);
	}
	struct mqtt_msg *m = malloc(size);
	if (!m)
		return NULL;
	m->refs = 1;
	m->qos = v->qos;
	m->retain = v->retain;
	m->topic_len = (uint16_t)v->topic.len;
	m->props_len = v->props.len;
	m->payload_len = v->payload.len;
	m->id = ++b->next_msg_id;
	m->expiry_wall_ms = v->expiry_wall_ms;
	m->created_wall_ms = v->created_wall_ms;
	m->origin = NULL;
	m->props = NULL;
	m->ret_prev = m->ret_next = NULL;
	if (v->topic.len)
		memcpy(m->data, v->topic.ptr, v->topic.len);
	if (v->props.len)
		memcpy(m->data + m->topic_len, v->props.ptr, v->props.len);
	if (v->payload.len)
		memcpy(m->data + m->topic_len + m->props_len, v->payload.ptr, v->payload.len);
	if (has_props) {
		struct mqtt_props *p = (struct mqtt_props *)(void *)((uint8_t *)m + props_off);
		struct mqtt_props src = {0};
		memset(p, 0, sizeof *p);
		src.raw = msg_props(m);
		src.raw_len = m->props_len;
		struct mqtt_prop_iter it;
		struct mqtt_prop pr;
		mqtt_prop_iter_init(&it, &src);
		while (mqtt_prop_next(&it, &pr)) {
			if (!forwarded(pr.id))
				continue;
			if (pr.id == MQTT_PROP_USER)
				p->user_count++;
			else if (pr.id == MQTT_PROP_PAYLOAD_FORMAT)
				mqtt_prop_set_num(p, pr.id, pr.num);
			else
				mqtt_prop_set_bytes(p, pr.id, pr.a);
		}
		if (p->user_count)
			p->present |= 1ull << MQTT_PROP_USER;
		p->raw = src.raw;
		p->raw_len = src.raw_len;
		m->props = p;
	}
	return m;
}

void bk_msg_unref(struct mqtt_msg *m)
{
	if (!m)
		return;
	assert(m->refs > 0);
	if (--m->refs == 0)
		free(m);
}

void mqtt_msg_get(const struct mqtt_msg *m, struct mqtt_msg_view *out)
{
	out->topic = (struct mqtt_bytes){msg_topic(m), m->topic_len};
	out->props = (struct mqtt_bytes){m->props_len ? msg_props(m) : NULL, m->props_len};
	out->payload = (struct mqtt_bytes){msg_payload(m), m->payload_len};
	out->qos = m->qos;
	out->retain = m->retain;
	out->expiry_wall_ms = m->expiry_wall_ms;
	out->created_wall_ms = m->created_wall_ms;
}

uint64_t mqtt_msg_id(const struct mqtt_msg *m) { return m->id; }
