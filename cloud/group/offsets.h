/* Committed consumer offsets: an in-memory table kept durable in the internal __consumer_offsets topic, as
 * Kafka does.  Each OffsetCommit becomes one uncompressed RecordBatch on the group's offsets partition;
 * records use Kafka's own layout (key v1: group, topic, partition; value v3: offset, leader epoch, metadata,
 * commit time), so existing tools can read the topic.  At start the whole topic is replayed into the table.
 * A null value (tombstone) deletes an entry. */
#ifndef FERRY_CLOUD_OFFSETS_H
#define FERRY_CLOUD_OFFSETS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cloud/group/group.h"

struct topic;
struct topics;
struct offsets;

#define OFFSETS_METADATA_MAX 4096 /* offset.metadata.max.bytes */
#define OFFSETS_ENTRIES_MAX (4u << 20)

struct offset_value {
	int64_t offset;
	int32_t leader_epoch;
	int64_t commit_ms;
	const char *metadata; /* NUL-terminated, owned by the table */
};

struct offset_commit_in {
	struct group_view topic;
	int32_t partition;
	int64_t offset;
	int32_t leader_epoch;
	struct group_view metadata;
};

/* topic is __consumer_offsets (created by the caller); replays it. */
int offsets_open(struct offsets **out, struct topic *offsets_topic, size_t entries_max);
void offsets_close(struct offsets *o);

/* Persist and apply n commits of one group as one batch; 0 or the append error (nothing applied). */
int offsets_commit(struct offsets *o, struct group_view group, const struct offset_commit_in *c, size_t n,
		   int64_t now_ms);
/* 0 and *out, or ERR_NOT_FOUND. */
int offsets_get(struct offsets *o, struct group_view group, struct group_view topic, int32_t partition,
		struct offset_value *out);
/* Visit every committed offset of a group (for OffsetFetch with all topics, and lag in ferryctl). */
void offsets_each(struct offsets *o, struct group_view group,
		  void (*fn)(void *arg, const char *topic, int32_t partition, const struct offset_value *v), void *arg);
/* Visit every group that has committed offsets. */
void offsets_groups(struct offsets *o, void (*fn)(void *arg, const char *group), void *arg);
size_t offsets_count(const struct offsets *o);

/* Uncompressed RecordBatch v2 of key/value records (NULL value: tombstone); exposed for tests. */
struct offsets_record {
	const uint8_t *key, *value;
	size_t key_len, value_len;
};
int offsets_build_batch(const struct offsets_record *recs, size_t n, int64_t now_ms, uint8_t **out, size_t *len);

#endif
