/* A client's metadata cache: brokers, topics and partition leaders from Metadata responses, copied out of the
 * response (which dies with its connection buffer) into bounded tables the owner sizes.  I/O-free: the owner
 * sends Metadata on a kafka_conn and feeds each answer here; the producer asks who leads a partition. */
#ifndef FERRY_KAFKA_METADATA_H
#define FERRY_KAFKA_METADATA_H

#include <stdbool.h>
#include <stdint.h>

#include "kafka/codec.h"

#define KAFKA_HOST_MAX 255
#define KAFKA_TOPIC_NAME_MAX 249 /* Kafka's own limit (Topic.MAX_NAME_LENGTH) */
#define KAFKA_CLUSTER_ID_MAX 64

struct kafka_broker_info {
	int32_t node_id;
	int32_t port;
	char host[KAFKA_HOST_MAX + 1];
	char rack[KAFKA_HOST_MAX + 1]; /* "" when none */
};

struct kafka_partition_info {
	int32_t partition;
	int32_t leader_id;    /* -1: no leader right now */
	int32_t leader_epoch; /* -1 before Metadata v7 */
	int16_t error_code;
};

struct kafka_topic_info {
	char name[KAFKA_TOPIC_NAME_MAX + 1];
	struct kafka_uuid topic_id;
	int16_t error_code;
	bool is_internal;
	int32_t partition_count;
	struct kafka_partition_info *partitions; /* partition_max of them, owned by the cache; indexed by id */
};

struct kafka_metadata_cache {
	struct kafka_broker_info *brokers;
	uint32_t broker_count, broker_max;
	struct kafka_topic_info *topics;
	uint32_t topic_count, topic_max, partition_max;
	char cluster_id[KAFKA_CLUSTER_ID_MAX + 1];
	int32_t controller_id;
	uint64_t updated_ns; /* port_now_ns() of the last update; 0 never */
};

/* Allocate the tables (the only allocation; updates never allocate).  0 or ERR_NOMEM. */
int kafka_metadata_init(struct kafka_metadata_cache *m, uint32_t broker_max, uint32_t topic_max, uint32_t partition_max);
void kafka_metadata_deinit(struct kafka_metadata_cache *m);

/* Take a Metadata response: the broker list is replaced, each topic in it is replaced or added.  A topic
 * with an error keeps its old partitions.  ERR_FULL when a table limit is hit (the rest still applied), 0 else. */
int kafka_metadata_update(struct kafka_metadata_cache *m, const struct kafka_metadata_response *r, uint64_t now_ns);

const struct kafka_broker_info *kafka_metadata_broker(const struct kafka_metadata_cache *m, int32_t node_id);
const struct kafka_topic_info *kafka_metadata_topic(const struct kafka_metadata_cache *m, const char *name,
						    size_t name_len);
/* The leader of topic/partition: 0 and *leader, ERR_NOT_FOUND (topic or partition unknown: refresh),
 * ERR_AGAIN (known, no leader or leader not among the brokers: refresh a little later). */
int kafka_metadata_leader(const struct kafka_metadata_cache *m, const char *topic, size_t topic_len,
			  int32_t partition, const struct kafka_broker_info **leader);
/* True when the cache is older than max_age_ms (metadata.max.age.ms) or was never filled. */
bool kafka_metadata_stale(const struct kafka_metadata_cache *m, uint64_t now_ns, uint32_t max_age_ms);

#endif
