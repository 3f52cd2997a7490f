/* MQTT topic names and topic filters (3.1.1 §4.7, 5.0 §4.7-4.8): validation with configurable bounds and
 * shared subscription parsing.  Pure; views only. */
#ifndef FERRY_MQTT_TOPIC_H
#define FERRY_MQTT_TOPIC_H

#include <stddef.h>
#include <stdint.h>

#include "mqtt/codec.h"

/* Bounds a broker applies on top of the spec (which allows 65535 bytes and any number of levels). */
struct mqtt_topic_limits {
	uint32_t len_max;    /* bytes, at most 65535 */
	uint32_t levels_max; /* '/'-separated levels, at least 1 */
};

#define MQTT_TOPIC_LEN_MAX_DEFAULT 1024
#define MQTT_TOPIC_LEVELS_MAX_DEFAULT 32
extern const struct mqtt_topic_limits mqtt_topic_limits_default;

/* A Topic Name for PUBLISH / will / retained message: non-empty, no '+' or '#', within the limits (NULL: spec
 * only).  UTF-8 is the decoder's job.  Returns 0, ERR_MQTT_TOPIC_EMPTY, ERR_MQTT_TOPIC_WILDCARD or
 * ERR_MQTT_TOPIC_TOO_LONG. */
int mqtt_topic_name_check(const uint8_t *t, size_t len, const struct mqtt_topic_limits *lim);

/* A Topic Filter, not shared: non-empty; '#' only as the whole last level; '+' only as a whole level.
 * Returns 0, ERR_MQTT_TOPIC_FILTER or ERR_MQTT_FILTER_TOO_LONG. */
int mqtt_topic_filter_check(const uint8_t *f, size_t len, const struct mqtt_topic_limits *lim);

/* "$share/<group>/<filter>" (5.0 §4.8.2).  group is non-empty without '/', '+', '#'; filter is non-empty. */
struct mqtt_share {
	struct mqtt_bytes group;  /* {NULL, 0} when not shared */
	struct mqtt_bytes filter; /* the filter to match (all of it when not shared) */
};

/* Splits a subscription into share group and filter and checks both: returns 1 for a shared subscription,
 * 0 for a plain one, or ERR_MQTT_SHARE_NAME / the errors of mqtt_topic_filter_check. */
int mqtt_subscription_parse(const uint8_t *f, size_t len, const struct mqtt_topic_limits *lim,
			    struct mqtt_share *out);

/* Number of levels in a topic or filter (separators + 1). */
uint32_t mqtt_topic_levels(const uint8_t *t, size_t len);

#endif
