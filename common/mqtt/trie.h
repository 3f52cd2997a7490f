/* The subscription trie: which subscriptions match a topic (MQTT 5.0 §4.7, shared subscriptions §4.8.2).
 *
 * One node per filter level; '+' and '#' children hang off each node directly, exact children are found
 * through one hash table keyed by (parent, level), so a node costs 56 bytes whatever its fan-out; the
 * subscriptions of a node are one contiguous array (32 bytes each) read in order by a match.  Nodes,
 * subscriptions and share groups live in index-addressed arrays (handles are uint32, 0 = none) so that a
 * session keeps plain integers and drops a subscription in O(levels) with mqtt_trie_remove.
 *
 * This is a broker data structure, not a codec: it allocates (and returns ERR_NOMEM), and is not thread-safe.
 * Depth is bounded by levels_max; matching recurses at most levels_max + 1 deep. */
#ifndef FERRY_MQTT_TRIE_H
#define FERRY_MQTT_TRIE_H

#include <stddef.h>
#include <stdint.h>

#include "mqtt/topic.h"

#define MQTT_TRIE_LEVELS_MAX 128 /* the hard ceiling for levels_max */

struct mqtt_trie;

/* What a subscription holds.  `subscriber` is the broker's handle for the session (opaque here). */
struct mqtt_trie_sub {
	uint64_t subscriber;
	uint32_t sub_id;  /* 5.0 Subscription Identifier, 0 = none */
	uint8_t options;  /* the SUBSCRIBE options byte */
	uint32_t group;   /* share group handle, 0 when not shared */
};

/* levels_max (1..MQTT_TRIE_LEVELS_MAX) and len_max bound the filters accepted.  NULL on allocation failure.
 * The caller owns the trie and frees it with mqtt_trie_free. */
struct mqtt_trie *mqtt_trie_new(const struct mqtt_topic_limits *lim);
void mqtt_trie_free(struct mqtt_trie *t);

/* Adds subscription filter (optionally "$share/<group>/<filter>") for subscriber.  When the subscriber already
 * has this filter (in the same share group), its options and sub_id are replaced (5.0 §3.8.4) and 1 is
 * returned; a new subscription returns 0.  *handle gets the subscription handle either way.  Errors:
 * the filter errors of mqtt_subscription_parse, ERR_NOMEM. */
int mqtt_trie_insert(struct mqtt_trie *t, const uint8_t *filter, size_t len, uint64_t subscriber,
		     uint8_t options, uint32_t sub_id, uint32_t *handle);
/* Finds subscriber's subscription to filter (for UNSUBSCRIBE): 0 and *handle, or ERR_NOT_FOUND. */
int mqtt_trie_find(const struct mqtt_trie *t, const uint8_t *filter, size_t len, uint64_t subscriber,
		   uint32_t *handle);
/* Removes a subscription by handle and prunes the nodes it leaves empty. */
void mqtt_trie_remove(struct mqtt_trie *t, uint32_t handle);
/* The subscription behind a live handle (valid until the next insert or remove). */
const struct mqtt_trie_sub *mqtt_trie_get(const struct mqtt_trie *t, uint32_t handle);

/* One match: a plain subscription (handle != 0), or a share group (group != 0) of which the broker delivers
 * to one member, e.g. mqtt_trie_group_pick's. */
struct mqtt_trie_match {
	uint32_t handle;
	uint32_t group;
	const struct mqtt_trie_sub *sub; /* NULL for a group */
};
/* Return non-zero to stop the walk; mqtt_trie_match returns that value.  Must not modify the trie. */
typedef int (*mqtt_trie_fn)(void *ctx, const struct mqtt_trie_match *m);

/* Calls fn for every subscription and share group whose filter matches topic (a valid topic name).  Topics
 * starting with '$' are not matched by filters starting with a wildcard [MQTT-4.7.2-1].  The same subscriber
 * can appear more than once (overlapping filters); 5.0 §3.3.4 leaves merging to the broker. */
int mqtt_trie_match(const struct mqtt_trie *t, const uint8_t *topic, size_t len, mqtt_trie_fn fn, void *ctx);

/* Round-robin choice of one member of a share group (its subscription handle), 0 for an empty group. */
uint32_t mqtt_trie_group_pick(struct mqtt_trie *t, uint32_t group);
/* Members of a group by index 0..size-1 (order changes as members leave); 0 past the end.  A broker that
 * skips offline members walks these from a pick. */
uint32_t mqtt_trie_group_size(const struct mqtt_trie *t, uint32_t group);
uint32_t mqtt_trie_group_member(const struct mqtt_trie *t, uint32_t group, uint32_t i);
/* The same walk by handle: the first member, then the member after `handle` in its group (0 at the end). */
uint32_t mqtt_trie_group_first(const struct mqtt_trie *t, uint32_t group);
uint32_t mqtt_trie_group_next(const struct mqtt_trie *t, uint32_t handle);

/* Counts for metrics and tests. */
struct mqtt_trie_stats {
	uint32_t subs, nodes, groups;
	size_t bytes; /* memory held: pools, hash table, subscription arrays, level strings (malloc overhead aside) */
};
/* O(nodes): for metrics scrapes and tests, not per message. */
void mqtt_trie_stats(const struct mqtt_trie *t, struct mqtt_trie_stats *out);

#endif
