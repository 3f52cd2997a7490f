/* The metadata state machine: an in-memory image of the cluster that committed records are applied to, in
 * log order, on every voter and observer alike.  Applying is deterministic: the same records give the same
 * image and the same per-record results everywhere, so a refused record (a stale broker epoch, a partition of
 * an unknown topic) is refused by every node and changes nothing.
 *
 * Snapshots are the image written back as records in a canonical order: load(save(image)) == image and
 * save(load(bytes)) == bytes. */
#ifndef FERRY_META_IMAGE_H
#define FERRY_META_IMAGE_H

#include "base/dbuf.h"
#include "meta/meta_record.h"

#define META_BROKERS_MAX 1024
#define META_TOPICS_MAX 100000
#define META_PARTITIONS_MAX 10000   /* per topic */
#define META_CONFIGS_MAX 100000
#define META_ACLS_MAX 100000
#define META_AGENTS_MAX 1000000
#define META_ROUTES_MAX 10000
#define META_SNAPSHOT_VERSION 1

struct meta_bytes {
	char *p; /* owned, NUL-terminated for convenience */
	uint16_t len;
};

struct meta_broker {
	int32_t id;
	int64_t epoch;
	struct meta_uuid incarnation;
	struct meta_bytes rack;
	bool fenced;
	uint8_t listener_count;
	struct {
		struct meta_bytes name, host;
		uint16_t port;
	} listeners[META_LISTENERS_MAX];
};

struct meta_partition {
	struct meta_replicas replicas, isr;
	int32_t leader, leader_epoch, partition_epoch;
};

struct meta_topic {
	struct meta_uuid id;
	struct meta_bytes name;
	struct meta_partition *parts;
	uint32_t part_count;
};

struct meta_config {
	uint8_t resource_type;
	struct meta_bytes resource, key, value;
};

struct meta_acl {
	uint8_t resource_type, pattern_type, operation, permission;
	struct meta_bytes resource, principal, host;
};

struct meta_agent {
	struct meta_bytes name, version;
	int64_t epoch;
	bool fenced;
};

struct meta_route {
	struct meta_bytes name, filter, topic;
	uint8_t qos;
};

/* Arrays keep insertion order (which every node shares), so the image is canonical without sorting. */
struct meta_image {
	uint64_t applied_index;
	struct meta_broker *brokers;
	size_t broker_count;
	struct meta_topic *topics;
	size_t topic_count;
	struct meta_config *configs;
	size_t config_count;
	int64_t next_producer_id;
	int32_t producer_ids_broker;
	int64_t producer_ids_broker_epoch;
	struct meta_acl *acls;
	size_t acl_count;
	struct meta_agent *agents;
	size_t agent_count;
	struct meta_route *routes;
	size_t route_count;
	uint64_t records_applied, records_refused;
};

void meta_image_init(struct meta_image *im);
void meta_image_deinit(struct meta_image *im);

/* Apply one decoded record.  0, or the reason it was refused (the image is then unchanged):
 * ERR_META_FENCED (stale epoch), ERR_META_NO_TOPIC, ERR_META_NO_BROKER, ERR_NOT_FOUND, ERR_EXISTS,
 * ERR_INVAL (inconsistent content), ERR_FULL (a limit), ERR_NOMEM. */
int meta_image_apply(struct meta_image *im, const struct meta_record *r);
/* Decode and apply one committed Raft entry's bytes at index. */
int meta_image_apply_entry(struct meta_image *im, uint64_t index, const uint8_t *buf, size_t len);

/* Snapshot: [u32 "FRMS"][u8 version][u64 applied index][u32 record count]{[u32 len][record]}[u32 crc32c]. */
int meta_image_save(const struct meta_image *im, struct dbuf *out);
/* Load into an empty image; ERR_CORRUPT for a bad checksum or a record the image refuses. */
int meta_image_load(struct meta_image *im, const uint8_t *buf, size_t len);

const struct meta_topic *meta_image_topic(const struct meta_image *im, const char *name);
const struct meta_broker *meta_image_broker(const struct meta_image *im, int32_t id);

#endif
