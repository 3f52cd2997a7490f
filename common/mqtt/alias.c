/* Topic Alias maps (see alias.h).  The outbound side finds a topic's alias through a small open-addressing
 * table over the aliases (at most 2 * max slots), so a PUBLISH to a connection costs one hash of its topic. */
#include <stdlib.h>
#include <string.h>

#include "mqtt/alias.h"

static bool set_topic(struct mqtt_alias_topic *t, const uint8_t *p, uint32_t len)
{
	if (len > UINT16_MAX)
		return false;
	uint8_t *n = realloc(t->p, len ? len : 1);
	if (!n)
		return false;
	memcpy(n, p, len);
	t->p = n;
	t->len = (uint16_t)len;
	return true;
}

int mqtt_alias_in_init(struct mqtt_alias_in *a, uint16_t max)
{
	a->max = max;
	a->map = NULL;
	if (max && !(a->map = calloc(max, sizeof *a->map)))
		return ERR_NOMEM;
	return 0;
}

void mqtt_alias_in_deinit(struct mqtt_alias_in *a)
{
	for (uint32_t i = 0; i < a->max; i++)
		free(a->map[i].p);
	free(a->map);
	a->map = NULL;
	a->max = 0;
}

int mqtt_alias_in_apply(struct mqtt_alias_in *a, struct mqtt_publish *p)
{
	if (!mqtt_prop_has(&p->props, MQTT_PROP_TOPIC_ALIAS))
		return 0;
	uint32_t alias = mqtt_prop_num(&p->props, MQTT_PROP_TOPIC_ALIAS);
	if (alias == 0 || alias > a->max)
		return ERR_MQTT_TOPIC_ALIAS; /* [MQTT-3.3.2-9] */
	struct mqtt_alias_topic *t = &a->map[alias - 1];
	if (p->topic.len) {
		return set_topic(t, p->topic.ptr, p->topic.len) ? 0 : ERR_NOMEM;
	}
	if (!t->p)
		return ERR_MQTT_TOPIC_ALIAS_UNKNOWN;
	p->topic.ptr = t->p;
	p->topic.len = t->len;
	return 0;
}

static uint32_t hash_of(const uint8_t *p, uint32_t n)
{
	uint32_t h = 2166136261u;
	for (uint32_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h ^ (h >> 16);
}

int mqtt_alias_out_init(struct mqtt_alias_out *a, uint16_t max)
{
	memset(a, 0, sizeof *a);
	a->max = max;
	if (!max)
		return 0;
	uint32_t n = 8;
	while (n < 2u * max)
		n *= 2;
	a->map = calloc(max, sizeof *a->map);
	a->hash = calloc(max, sizeof *a->hash);
	a->index = calloc(n, sizeof *a->index);
	if (!a->map || !a->hash || !a->index) {
		mqtt_alias_out_deinit(a);
		return ERR_NOMEM;
	}
	a->mask = n - 1;
	return 0;
}

void mqtt_alias_out_deinit(struct mqtt_alias_out *a)
{
	if (a->map)
		for (uint32_t i = 0; i < a->max; i++)
			free(a->map[i].p);
	free(a->map);
	free(a->hash);
	free(a->index);
	memset(a, 0, sizeof *a);
}

/* Slot of topic in the index, or the empty slot where it would go. */
static uint32_t lookup(const struct mqtt_alias_out *a, const uint8_t *p, uint16_t len, uint32_t h)
{
	uint32_t s = h & a->mask;
	for (;; s = (s + 1) & a->mask) {
		uint16_t v = a->index[s];
		if (!v)
			return s;
		const struct mqtt_alias_topic *t = &a->map[v - 1];
		if (a->hash[v - 1] == h && t->len == len && memcmp(t->p, p, len) == 0)
			return s;
	}
}

static void index_remove(struct mqtt_alias_out *a, uint32_t s)
{
	for (uint32_t j = (s + 1) & a->mask; a->index[j]; j = (j + 1) & a->mask) {
		uint32_t home = a->hash[a->index[j] - 1] & a->mask;
		if (((j - home) & a->mask) >= ((j - s) & a->mask)) {
			a->index[s] = a->index[j];
			s = j;
		}
	}
	a->index[s] = 0;
}

void mqtt_alias_out_get(struct mqtt_alias_out *a, const uint8_t *topic, uint16_t len, uint16_t *alias,
			bool *with_topic)
{
	*alias = 0;
	*with_topic = true;
	if (!a->max)
		return;
	uint32_t h = hash_of(topic, len);
	uint32_t s = lookup(a, topic, len, h);
	if (a->index[s]) {
		*alias = a->index[s];
		*with_topic = false;
		return;
	}
	uint16_t v;
	if (a->used < a->max) {
		v = ++a->used;
	} else {
		/* All taken: reuse aliases in turn, oldest assignment first. */
		v = (uint16_t)(a->victim % a->max + 1);
		a->victim = v;
		const struct mqtt_alias_topic *old = &a->map[v - 1];
		if (old->p)
			index_remove(a, lookup(a, old->p, old->len, a->hash[v - 1]));
		s = lookup(a, topic, len, h); /* the removal may have moved the empty slot */
	}
	if (!set_topic(&a->map[v - 1], topic, len)) {
		/* Out of memory: the alias stays unmapped and this topic goes out without one. */
		free(a->map[v - 1].p);
		a->map[v - 1].p = NULL;
		a->map[v - 1].len = 0;
		return;
	}
	a->hash[v - 1] = h;
	a->index[s] = v;
	*alias = v;
}
