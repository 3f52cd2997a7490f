/* Fan-out of one PUBLISH to the subscriptions it matches (MQTT 5.0 §3.3.4, §4.8.2), I/O-free.
 *
 * For each subscriber with matching plain subscriptions: one delivery at the highest QoS any of them grants
 * (capped by the message's) [MQTT-3.3.4-2], carrying every matching Subscription Identifier [MQTT-3.3.4-4],
 * with RETAIN kept only where Retain As Published is set [MQTT-3.3.1-12], and none for a subscription with No
 * Local from the publisher itself [MQTT-3.8.3-3].  For each matching share group: one delivery to one member
 * (round robin, skipping members the broker says are offline), separate from the plain ones (§4.8.2).
 *
 * The scratch arrays live in struct mqtt_fanout and are reused from message to message; they grow up to
 * `max` deliveries, past which the extra matches are counted in `dropped` (never silently). */
#ifndef FERRY_MQTT_FANOUT_H
#define FERRY_MQTT_FANOUT_H

#include <stdbool.h>
#include <stdint.h>

#include "mqtt/alias.h"
#include "mqtt/codec.h"
#include "mqtt/trie.h"

struct mqtt_delivery {
	uint64_t subscriber;
	uint8_t qos;
	bool retain;
	bool shared;
	uint32_t sub_id_first; /* index into mqtt_fanout.sub_ids */
	uint32_t sub_id_count;
};

struct mqtt_fanout_hit {
	uint64_t subscriber;
	uint32_t sub_id;
	uint8_t options;
	bool shared;
};

struct mqtt_fanout {
	struct mqtt_delivery *d; /* owned */
	uint32_t n;
	uint32_t *sub_ids; /* owned */
	uint32_t sub_id_n;
	struct mqtt_fanout_hit *hits; /* owned scratch */
	uint32_t hit_n, cap, max;
	uint64_t dropped; /* matches beyond max, over the fanout's life */
};

/* Whether a subscriber can take a shared-subscription message now (NULL: everyone can). */
typedef bool (*mqtt_fanout_online_fn)(void *ctx, uint64_t subscriber);

int mqtt_fanout_init(struct mqtt_fanout *f, uint32_t max);
void mqtt_fanout_deinit(struct mqtt_fanout *f);

/* Computes the deliveries of a message published on topic with qos/retain by `publisher` (the subscriber
 * value of the publishing session; 0 for none).  Results in f->d[0..n).  ERR_NOMEM. */
int mqtt_fanout_run(struct mqtt_fanout *f, struct mqtt_trie *t, const uint8_t *topic, size_t len, uint8_t qos,
		    bool retain, uint64_t publisher, mqtt_fanout_online_fn online, void *ctx);

/* Builds the PUBLISH a subscriber gets for delivery d of message in (decoded from the publisher, topic alias
 * already resolved): QoS, RETAIN and DUP=0 from d, the publisher's properties passed through without copying
 * except its Topic Alias and Subscription Identifiers, d's identifiers, and a topic alias from `aliases`
 * (5.0 only; NULL for none).  packet_id is the subscriber session's (0 for QoS 0).  out views in, f and the
 * alias map: send it before they change.  ERR_MQTT_PACKET_TOO_LARGE when even the packet would exceed what
 * the client accepts: drop the message for this subscriber [MQTT-3.1.2-25]; the alias map is then untouched.
 * The caller adjusts Message Expiry Interval for the time the message waited (§3.3.2.3.3). */
int mqtt_delivery_publish(const struct mqtt_publish *in, const struct mqtt_fanout *f, const struct mqtt_delivery *d,
			  uint8_t version, uint16_t packet_id, struct mqtt_alias_out *aliases,
			  uint32_t client_packet_size_max, struct mqtt_publish *out);

#endif
