/* MQTT 5.0 Topic Alias maps of one connection (§3.3.2.3.4), I/O-free.  Aliases live for one network
 * connection only [MQTT-3.3.2-7]: create the maps at CONNECT, free them at disconnect.
 *
 * mqtt_alias_in: aliases the client set (1..the Topic Alias Maximum the broker announced).  The PUBLISH
 * buffer dies after decoding, so each mapped topic is copied (bounded by the topic length limit).
 * mqtt_alias_out: aliases the broker chooses for the client (1..the client's Topic Alias Maximum): a topic
 * seen again goes out with an empty name; when all aliases are taken the oldest mapping is reused. */
#ifndef FERRY_MQTT_ALIAS_H
#define FERRY_MQTT_ALIAS_H

#include <stdbool.h>
#include <stdint.h>

#include "mqtt/codec.h"

struct mqtt_alias_topic {
	uint8_t *p; /* owned */
	uint16_t len;
};

struct mqtt_alias_in {
	struct mqtt_alias_topic *map; /* owned, max entries, index alias - 1 */
	uint16_t max;
};

/* max 0 disables aliases (every alias is then invalid).  ERR_NOMEM. */
int mqtt_alias_in_init(struct mqtt_alias_in *a, uint16_t max);
void mqtt_alias_in_deinit(struct mqtt_alias_in *a);
/* Applies a decoded PUBLISH's Topic Alias: with a topic it (re)defines the alias, without one it resolves it
 * and points p->topic at the stored copy (valid until the alias is redefined or the map freed).  No alias:
 * nothing to do.  Errors: ERR_MQTT_TOPIC_ALIAS (above max; DISCONNECT 0x94), ERR_MQTT_TOPIC_ALIAS_UNKNOWN
 * (no mapping yet; 0x82), ERR_NOMEM. */
int mqtt_alias_in_apply(struct mqtt_alias_in *a, struct mqtt_publish *p);

struct mqtt_alias_out {
	struct mqtt_alias_topic *map; /* owned, max entries */
	uint32_t *hash;               /* owned: per alias, hash of its topic */
	uint16_t *index;              /* owned: open-addressing table of aliases (0 = empty) */
	uint32_t mask;
	uint16_t max, used, victim;
};

int mqtt_alias_out_init(struct mqtt_alias_out *a, uint16_t max);
void mqtt_alias_out_deinit(struct mqtt_alias_out *a);
/* The alias to send topic under: *alias 0 means send the topic without one (max 0 or out of memory);
 * *with_topic says whether the topic name must go along (a new or reassigned mapping) or may be empty. */
void mqtt_alias_out_get(struct mqtt_alias_out *a, const uint8_t *topic, uint16_t len, uint16_t *alias,
			bool *with_topic);

#endif
