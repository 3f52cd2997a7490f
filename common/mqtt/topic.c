/* Topic name and topic filter rules (3.1.1 §4.7, 5.0 §4.7, shared subscriptions 5.0 §4.8.2). */
#include "mqtt/topic.h"

const struct mqtt_topic_limits mqtt_topic_limits_default = {
	.len_max = MQTT_TOPIC_LEN_MAX_DEFAULT,
	.levels_max = MQTT_TOPIC_LEVELS_MAX_DEFAULT,
};
_Static_assert(MQTT_TOPIC_LEN_MAX_DEFAULT <= UINT16_MAX, "topics are two-byte-length strings");

uint32_t mqtt_topic_levels(const uint8_t *t, size_t len)
{
	uint32_t n = 1;
	for (size_t i = 0; i < len; i++)
		n += t[i] == '/';
	return n;
}

static bool over(size_t len, uint32_t levels, const struct mqtt_topic_limits *lim)
{
	return lim && (len > lim->len_max || levels > lim->levels_max);
}

int mqtt_topic_name_check(const uint8_t *t, size_t len, const struct mqtt_topic_limits *lim)
{
	if (len == 0)
		return ERR_MQTT_TOPIC_EMPTY; /* [MQTT-4.7.3-1] */
	uint32_t levels = 1;
	for (size_t i = 0; i < len; i++) {
		if (t[i] == '+' || t[i] == '#')
			return ERR_MQTT_TOPIC_WILDCARD; /* [MQTT-4.7.1-1] */
		levels += t[i] == '/';
	}
	return over(len, levels, lim) ? ERR_MQTT_TOPIC_TOO_LONG : 0;
}

int mqtt_topic_filter_check(const uint8_t *f, size_t len, const struct mqtt_topic_limits *lim)
{
	if (len == 0)
		return ERR_MQTT_TOPIC_FILTER; /* [MQTT-4.7.3-1] */
	uint32_t levels = 1;
	for (size_t i = 0; i < len; i++) {
		bool starts = i == 0 || f[i - 1] == '/';
		bool ends = i + 1 == len || f[i + 1] == '/';
		if (f[i] == '#' && !(starts && i + 1 == len))
			return ERR_MQTT_TOPIC_FILTER; /* [MQTT-4.7.1-1]: last level, alone */
		if (f[i] == '+' && !(starts && ends))
			return ERR_MQTT_TOPIC_FILTER; /* [MQTT-4.7.1-2]: a whole level */
		levels += f[i] == '/';
	}
	return over(len, levels, lim) ? ERR_MQTT_FILTER_TOO_LONG : 0;
}

#define SHARE_PREFIX "$share/"
#define SHARE_PREFIX_LEN 7

int mqtt_subscription_parse(const uint8_t *f, size_t len, const struct mqtt_topic_limits *lim,
			    struct mqtt_share *out)
{
	out->group.ptr = NULL;
	out->group.len = 0;
	out->filter.ptr = f;
	out->filter.len = (uint32_t)len;
	if (len < SHARE_PREFIX_LEN || memcmp(f, SHARE_PREFIX, SHARE_PREFIX_LEN) != 0)
		return mqtt_topic_filter_check(f, len, lim);
	const uint8_t *g = f + SHARE_PREFIX_LEN;
	size_t rest = len - SHARE_PREFIX_LEN, glen = 0;
	while (glen < rest && g[glen] != '/') {
		if (g[glen] == '+' || g[glen] == '#')
			return ERR_MQTT_SHARE_NAME; /* [MQTT-4.8.2-2] */
		glen++;
	}
	if (glen == 0 || glen + 1 >= rest)
		return ERR_MQTT_SHARE_NAME; /* [MQTT-4.8.2-1]: a name, then '/', then a filter */
	out->group.ptr = g;
	out->group.len = (uint32_t)glen;
	out->filter.ptr = g + glen + 1;
	out->filter.len = (uint32_t)(rest - glen - 1);
	if (lim && len > lim->len_max)
		return ERR_MQTT_FILTER_TOO_LONG;
	int rc = mqtt_topic_filter_check(out->filter.ptr, out->filter.len, lim);
	return rc ? rc : 1;
}
