/* Cluster metadata records (after Kafka's KRaft records, KIP-500/KIP-631): what the Raft log of the cloud
 * cluster carries.  Each record is [u8 frame version][u16 type][u8 record version][fields]; integers are
 * big-endian, strings are u16 length + bytes, lists are u8 count + items.  Decoding is bounded and never
 * allocates: strings are views into the input. */
#ifndef FERRY_META_RECORD_H
#define FERRY_META_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define META_FRAME_VERSION 1
#define META_RECORD_VERSION 1
#define META_NAME_MAX 249          /* Kafka's topic name limit; also broker racks, listener names, agents */
#define META_STRING_MAX 4096       /* config values, ACL principals, route filters */
#define META_LISTENERS_MAX 8
#define META_REPLICAS_MAX 16
#define META_RECORD_SIZE_MAX 16384
#define META_NO_LEADER (-1)
#define META_NO_CHANGE (-2)        /* PARTITION_CHANGE: leader stays */

enum meta_rec_type {
	META_REC_BROKER_REG = 1,   /* a broker (re)registers with a new epoch; fenced until unfenced */
	META_REC_BROKER_FENCE,
	META_REC_BROKER_UNFENCE,
	META_REC_BROKER_UNREG,
	META_REC_TOPIC,
	META_REC_TOPIC_REMOVE,
	META_REC_PARTITION,        /* a partition's whole state */
	META_REC_PARTITION_CHANGE, /* leader and/or ISR and/or replicas change; epochs advance */
	META_REC_CONFIG,           /* set or delete one key of a resource */
	META_REC_PRODUCER_IDS,     /* a block of producer ids handed to a broker (KIP-730) */
	META_REC_ACL,
	META_REC_ACL_REMOVE,
	META_REC_AGENT_REG,        /* an edge agent registers with a new epoch */
	META_REC_AGENT_FENCE,
	META_REC_ROUTE,            /* MQTT filter -> Kafka topic route, created or replaced by name */
	META_REC_ROUTE_REMOVE,
	META_REC_TYPE_END
};

enum meta_resource { META_RES_CLUSTER = 0, META_RES_BROKER = 1, META_RES_TOPIC = 2, META_RES_GROUP = 3,
	META_RES_END };

struct meta_str {
	const char *p; /* not NUL-terminated; a view */
	uint16_t len;
};

struct meta_uuid {
	uint8_t b[16];
};

struct meta_listener {
	struct meta_str name, host;
	uint16_t port;
};

struct meta_replicas {
	uint8_t count;
	int32_t ids[META_REPLICAS_MAX];
};

struct meta_record {
	uint16_t type;
	union {
		struct {
			int32_t id;
			int64_t epoch;
			struct meta_uuid incarnation;
			struct meta_str rack;
			bool fenced;
			uint8_t listener_count;
			struct meta_listener listeners[META_LISTENERS_MAX];
		} broker; /* BROKER_REG */
		struct {
			int32_t id;
			int64_t epoch;
		} broker_epoch; /* BROKER_FENCE, BROKER_UNFENCE, BROKER_UNREG */
		struct {
			struct meta_str name;
			struct meta_uuid id;
		} topic; /* TOPIC; TOPIC_REMOVE uses id */
		struct {
			struct meta_uuid topic;
			int32_t partition;
			struct meta_replicas replicas, isr;
			int32_t leader, leader_epoch, partition_epoch;
		} partition;
		struct {
			struct meta_uuid topic;
			int32_t partition;
			int32_t leader; /* or META_NO_CHANGE */
			bool has_isr, has_replicas;
			struct meta_replicas isr, replicas;
		} change;
		struct {
			uint8_t resource_type;
			struct meta_str resource, key;
			bool has_value; /* false: delete the key */
			struct meta_str value;
		} config;
		struct {
			int32_t broker;
			int64_t broker_epoch;
			int64_t next_id; /* the broker owns [previous next_id, next_id) */
		} producer_ids;
		struct {
			uint8_t resource_type, pattern_type, operation, permission;
			struct meta_str resource, principal, host;
		} acl; /* ACL, ACL_REMOVE */
		struct {
			struct meta_str name, version;
			int64_t epoch;
			bool fenced;
		} agent; /* AGENT_REG; AGENT_FENCE uses name and epoch */
		struct {
			struct meta_str name, filter, topic;
			uint8_t qos;
		} route; /* ROUTE; ROUTE_REMOVE uses name */
	};
};

size_t meta_record_size(const struct meta_record *r);
/* Bytes written, or ERR_TOO_LARGE when cap is short.  r must be valid (asserted). */
int meta_record_encode(const struct meta_record *r, uint8_t *buf, size_t cap);
/* Decode exactly len bytes; 0, ERR_AGAIN (truncated), ERR_MALFORMED, ERR_TOO_LARGE, ERR_RAFT_BAD_VERSION or
 * ERR_META_UNKNOWN_RECORD.  Strings in *r are views into buf. */
int meta_record_decode(const uint8_t *buf, size_t len, struct meta_record *r);
const char *meta_record_type_name(uint16_t type);

static inline struct meta_str meta_str_of(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return (struct meta_str){s, (uint16_t)n};
}

#endif
