/* Retained messages by topic (MQTT 5.0 §3.3.1.3), and which of them a new subscription's filter matches
 * (§3.8.4: sent on subscribe per Retain Handling).  The reverse of the subscription trie: keys are topic
 * names, queries are filters.  The broker keeps the messages; this maps a topic to its opaque reference.
 *
 * One node per topic level, exact children through a (parent, level) hash table and a sibling list for
 * wildcard walks.  Allocates; depth bounded by the topic limits; walks never recurse deeper than that. */
#ifndef FERRY_MQTT_RETAIN_H
#define FERRY_MQTT_RETAIN_H

#include <stddef.h>
#include <stdint.h>

#include "mqtt/topic.h"

struct mqtt_retain;

struct mqtt_retain *mqtt_retain_new(const struct mqtt_topic_limits *lim);
void mqtt_retain_free(struct mqtt_retain *r);

/* Sets the retained message of topic (msg != 0), or clears it (msg == 0: a retained PUBLISH with an empty
 * payload, [MQTT-3.3.1-6]).  *old gets the reference it replaced (0 if none) for the broker to release.
 * Errors: the topic name errors of mqtt_topic_name_check with the limits, ERR_NOMEM. */
int mqtt_retain_set(struct mqtt_retain *r, const uint8_t *topic, size_t len, uint64_t msg, uint64_t *old);
uint64_t mqtt_retain_get(const struct mqtt_retain *r, const uint8_t *topic, size_t len);

/* Calls fn for each retained message whose topic matches filter (a valid, non-shared filter); '$' topics
 * are not matched by a leading wildcard [MQTT-4.7.2-1].  Non-zero from fn stops the walk and is returned. */
typedef int (*mqtt_retain_fn)(void *ctx, uint64_t msg);
int mqtt_retain_match(const struct mqtt_retain *r, const uint8_t *filter, size_t len, mqtt_retain_fn fn, void *ctx);

uint32_t mqtt_retain_count(const struct mqtt_retain *r);
uint32_t mqtt_retain_nodes(const struct mqtt_retain *r);

#endif
