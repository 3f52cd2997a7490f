/* The PUBLISH a subscriber receives (see fanout.h, mqtt_delivery_publish). */
#include "mqtt/fanout.h"

int mqtt_delivery_publish(const struct mqtt_publish *in, const struct mqtt_fanout *f, const struct mqtt_delivery *d,
			  uint8_t version, uint16_t packet_id, struct mqtt_alias_out *aliases,
			  uint32_t client_packet_size_max, struct mqtt_publish *out)
{
	*out = *in;
	out->dup = false;
	out->qos = d->qos;
	out->retain = d->retain;
	out->packet_id = d->qos ? packet_id : 0;
	/* The publisher's alias means nothing to this client [MQTT-3.3.2-10]; its subscription identifiers
	 * are the ones that matched here (§3.3.2.3.8). */
	mqtt_prop_clear(&out->props, MQTT_PROP_TOPIC_ALIAS);
	mqtt_prop_clear(&out->props, MQTT_PROP_SUBSCRIPTION_ID);
	if (d->sub_id_count) {
		out->props.present |= 1ull << MQTT_PROP_SUBSCRIPTION_ID;
		out->props.sub_ids = f->sub_ids + d->sub_id_first;
		out->props.sub_id_count = d->sub_id_count;
		out->props.num[mqtt_prop_lookup(MQTT_PROP_SUBSCRIPTION_ID)->slot] = out->props.sub_ids[0];
	}
	bool alias = version == MQTT_V5 && aliases && aliases->max;
	if (alias)
		mqtt_prop_set_num(&out->props, MQTT_PROP_TOPIC_ALIAS, aliases->max); /* worst case: 3 bytes */
	/* Sized with the topic spelled out, so a refusal never leaves an alias the client did not learn. */
	if (mqtt_publish_size(out, version) > client_packet_size_max)
		return ERR_MQTT_PACKET_TOO_LARGE;
	if (!alias)
		return 0;
	uint16_t a;
	bool with_topic;
	mqtt_alias_out_get(aliases, in->topic.ptr, (uint16_t)in->topic.len, &a, &with_topic);
	if (!a) {
		mqtt_prop_clear(&out->props, MQTT_PROP_TOPIC_ALIAS);
		return 0;
	}
	mqtt_prop_set_num(&out->props, MQTT_PROP_TOPIC_ALIAS, a);
	if (!with_topic)
		out->topic.len = 0; /* ptr stays non-NULL: an empty name, not an absent one */
	return 0;
}
