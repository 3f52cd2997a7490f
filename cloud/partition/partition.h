/* Topics and partitions of this node.  A partition is three separate things from the start, so that
 * replication can arrive without reshaping it:
 *   - the log (cloud/log): the stored batches, producer state, durability;
 *   - the leader state: leader epoch and the high watermark it has advanced;
 *   - the replica set: the nodes that follow it and what each has fetched (one node: just us).
 * The registry keeps topic metadata (name, id, partition count) behind struct topic_store, a small durable
 * file now and the Raft metadata log later. */
#ifndef FERRY_CLOUD_PARTITION_H
#define FERRY_CLOUD_PARTITION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cloud/log/log.h"

struct metrics;

#define TOPIC_NAME_MAX 249 /* Kafka's limit (Topic.MAX_NAME_LENGTH) */
#define PARTITION_REPLICAS_MAX 8
#define OFFSETS_TOPIC "__consumer_offsets"

struct partition_leader {
	int32_t node_id;
	int32_t epoch;
	int64_t high_watermark; /* consumers read below it; with one replica it follows the log end */
};

struct partition_replica {
	int32_t node_id;
	int64_t log_end_offset; /* as the follower last reported it (Fetch with replica_id >= 0) */
	uint64_t caught_up_ms;
	bool in_sync;
};

struct partition_replicas {
	struct partition_replica items[PARTITION_REPLICAS_MAX];
	uint32_t count; /* including the leader */
};

struct topic;

struct partition {
	struct topic *topic;
	int32_t index;
	struct log *log;
	struct partition_leader leader;
	struct partition_replicas replicas;
};

struct topic_counters {
	_Atomic int64_t *bytes_in, *records_in, *bytes_out, *records_out, *batches_rejected, *log_bytes;
};

struct topics;

/* Per-topic settings that override the node's [topics] values (CreateTopics configs).  TOPIC_INHERIT: unset. */
#define TOPIC_INHERIT INT64_MIN
struct topic_overrides {
	int64_t retention_ms;    /* retention.ms, -1 = forever */
	int64_t retention_bytes; /* retention.bytes, -1 = no limit */
	int64_t segment_bytes;   /* segment.bytes */
};

struct topic {
	struct topics *reg;
	char name[TOPIC_NAME_MAX + 1];
	uint8_t id[16];
	bool internal;
	uint32_t partition_count;
	struct topic_overrides ov;
	struct partition *partitions; /* owned array */
	struct topic_counters ctr;
};

/* What the metadata store keeps per topic. */
struct topic_record {
	char name[TOPIC_NAME_MAX + 1];
	uint8_t id[16];
	uint32_t partition_count;
	bool internal;
	struct topic_overrides ov;
};

/* The seam where Raft metadata replaces the local file. */
struct topic_store {
	void *ctx;
	/* Calls each() for every stored topic; 0 or an error. */
	int (*load)(void *ctx, int (*each)(void *arg, const struct topic_record *t), void *arg);
	/* Replace the stored set durably. */
	int (*save)(void *ctx, const struct topic_record *t, size_t count);
};

/* The local file store: <dir>/topics.meta, replaced atomically. */
int topic_store_file_init(struct topic_store *s, const char *dir);
void topic_store_file_deinit(struct topic_store *s);

struct topics;

struct topics_config {
	const char *data_dir;
	struct log_config log;
	uint32_t topics_max, partitions_max;
	int32_t node_id;
	bool memory; /* logs in memory (tests) */
	struct metrics *metrics; /* NULL: no per-topic counters */
};

/* Load the topic set from store and open every partition's log (recovering them). */
int topics_open(struct topics **out, const struct topics_config *cfg, struct topic_store *store);
/* Close every log cleanly (flush, indexes, producer snapshots). */
void topics_close(struct topics *t);

struct topic *topics_find(struct topics *t, const char *name, size_t len);
/* Kafka's topic name rules: 1..249 of [a-zA-Z0-9._-], not "." or "..". */
bool topics_name_valid(const char *name, size_t len);
/* Create a topic: ERR_EXISTS, ERR_INVAL (bad name or count), ERR_FULL (topics_max), ERR_IO. */
int topics_create(struct topics *t, const char *name, size_t len, uint32_t partitions, bool internal,
		  struct topic **out);
/* The same with per-topic overrides (NULL: none); the overrides are kept in the topic store. */
int topics_create_with(struct topics *t, const char *name, size_t len, uint32_t partitions, bool internal,
		       const struct topic_overrides *ov, struct topic **out);
void topic_overrides_none(struct topic_overrides *ov);
/* Delete a topic and its data: ERR_NOT_FOUND, ERR_IO. */
int topics_delete(struct topics *t, const char *name, size_t len);
size_t topics_count(const struct topics *t);
struct topic *topics_at(struct topics *t, size_t i);
struct partition *topic_partition(struct topic *t, int32_t index); /* NULL when out of range */

/* Append one batch as leader.  Updates the high watermark (one replica: to the log end).  Same results as
 * log_append. */
int partition_append(struct partition *p, uint8_t *batch, size_t len, struct log_append_info *info);
/* The high watermark from the log: its end, or with the sync flush policy min(end, flushed offset). */
void partition_update_hw(struct partition *p);
/* Group commit rounds run on a flusher thread from now on; notify(ctx) is called from that thread when a
 * round finished (it must only wake the loop, which then calls topics_flush).  0, ERR_NOMEM, ERR_IO. */
int topics_flusher_start(struct topics *t, void (*notify)(void *ctx), void *ctx);
/* Wait for the round in flight, publish it, stop the thread; later rounds run in place.  Idempotent. */
void topics_flusher_stop(struct topics *t);
/* Publish what was flushed and start a round over the logs due (group commit).  With the flusher it never
 * blocks; without, the round runs in place.  *flushed counts logs published (high watermarks then follow);
 * returns the first sync error (those logs are failed). */
int topics_flush(struct topics *t, size_t *flushed);
/* Retention over every log. */
void topics_retention(struct topics *t);
uint64_t topics_total_bytes(const struct topics *t);
/* Refresh the per-topic log size gauges (called from the broker's timer). */
void topics_update_gauges(struct topics *t);
/* The first partition whose log has failed (an fsync error), named in why; false when all are healthy. */
bool topics_failed(const struct topics *t, char *why, size_t why_len);

#endif
