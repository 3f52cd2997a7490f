/* CreateTopics (key 19) and DeleteTopics (key 20).  One node: replication factor 1 (or -1, the default);
 * explicit replica assignments must name this node.  Topic configs: retention.ms, retention.bytes and
 * segment.bytes are applied and kept with the topic; cleanup.policy must be "delete" (no compaction yet);
 * the other Kafka topic configs are accepted and have no effect on one node; unknown names are
 * INVALID_CONFIG. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/err.h"
#include "cloud/api/api.h"
#include "cloud/partition/partition.h"

#define EC_INVALID_CONFIG 40

/* Kafka topic configs that a single node without compaction or tiering can accept and ignore. */
static const char *const ignored_configs[] = {
	"compression.type", "min.insync.replicas", "max.message.bytes", "message.timestamp.type",
	"unclean.leader.election.enable", "message.downconversion.enable", "preallocate", "flush.messages",
	"flush.ms", "index.interval.bytes", "segment.ms", "segment.jitter.ms", "segment.index.bytes",
	"file.delete.delay.ms", "delete.retention.ms", "min.compaction.lag.ms", "max.compaction.lag.ms",
	"min.cleanable.dirty.ratio", "message.timestamp.difference.max.ms", "message.timestamp.before.max.ms",
	"message.timestamp.after.max.ms", "follower.replication.throttled.replicas",
	"leader.replication.throttled.replicas", "local.retention.ms", "local.retention.bytes",
	"remote.storage.enable", NULL,
};

static bool keq(struct kafka_str k, const char *s) { return k.len == (int32_t)strlen(s) && !memcmp(k.p, s, (size_t)k.len); }

static bool parse_i64(struct kafka_str v, int64_t lo, int64_t hi, int64_t *out)
{
	char buf[32];
	if (v.len <= 0 || v.len >= (int32_t)sizeof buf)
		return false;
	memcpy(buf, v.p, (size_t)v.len);
	buf[v.len] = 0;
	char *end;
	errno = 0;
	long long x = strtoll(buf, &end, 10);
	if (errno || *end || x < lo || x > hi)
		return false;
	*out = x;
	return true;
}

static int16_t parse_configs(const struct kafka_create_topics_request_creatable_topic *t, struct topic_overrides *ov,
			     const char **msg)
{
	topic_overrides_none(ov);
	for (int32_t i = 0; i < t->configs.count; i++) {
		struct kafka_str k = t->configs.items[i].name, v = t->configs.items[i].value;
		if (k.len <= 0)
			return *msg = "empty config name", EC_INVALID_CONFIG;
		if (keq(k, "retention.ms")) {
			if (!parse_i64(v, -1, INT64_MAX, &ov->retention_ms))
				return *msg = "retention.ms: a number >= -1", EC_INVALID_CONFIG;
		} else if (keq(k, "retention.bytes")) {
			if (!parse_i64(v, -1, INT64_MAX, &ov->retention_bytes))
				return *msg = "retention.bytes: a number >= -1", EC_INVALID_CONFIG;
		} else if (keq(k, "segment.bytes")) {
			if (!parse_i64(v, 1 << 16, INT32_MAX, &ov->segment_bytes))
				return *msg = "segment.bytes: 65536..2147483647", EC_INVALID_CONFIG;
		} else if (keq(k, "cleanup.policy")) {
			if (v.len < 0 || !keq(v, "delete"))
				return *msg = "cleanup.policy: only delete (no compaction yet)", EC_INVALID_CONFIG;
		} else {
			bool known = false;
			for (int n = 0; ignored_configs[n] && !known; n++)
				known = keq(k, ignored_configs[n]);
			if (!known)
				return *msg = "unknown topic config", EC_INVALID_CONFIG;
		}
	}
	return KAFKA_EC_NONE;
}

#define EC_INVALID_PARTITIONS 37
#define EC_INVALID_REPLICATION_FACTOR 38
#define EC_INVALID_REPLICA_ASSIGNMENT 39

static int16_t check_topic(struct broker *b, const struct kafka_create_topics_request_creatable_topic *t,
			   int32_t *partitions, const char **msg)
{
	*partitions = t->num_partitions;
	if (t->name.len <= 0 || !topics_name_valid(t->name.p, (size_t)t->name.len))
		return *msg = "invalid topic name", KAFKA_EC_INVALID_TOPIC_EXCEPTION;
	if (topics_find(b->topics, t->name.p, (size_t)t->name.len))
		return *msg = "topic already exists", KAFKA_EC_TOPIC_ALREADY_EXISTS;
	if (t->assignments.count > 0) {
		*partitions = t->assignments.count;
		for (int32_t i = 0; i < t->assignments.count; i++) {
			const struct kafka_create_topics_request_creatable_replica_assignment *a = &t->assignments.items[i];
			if (a->partition_index != i || a->broker_ids.count != 1 ||
			    a->broker_ids.items[0] != (int32_t)b->cfg->node_id)
				return *msg = "replicas must be this node", EC_INVALID_REPLICA_ASSIGNMENT;
		}
	} else if (*partitions == -1) {
		*partitions = (int32_t)b->cfg->default_partitions;
	}
	if (*partitions <= 0 || (uint32_t)*partitions > b->cfg->partitions_max)
		return *msg = "partition count out of range", EC_INVALID_PARTITIONS;
	if (t->assignments.count <= 0 && t->replication_factor != -1 && t->replication_factor != 1)
		return *msg = "one node: replication factor must be 1", EC_INVALID_REPLICATION_FACTOR;
	return KAFKA_EC_NONE;
}

void api_create_topics(struct broker *b, struct kreq *r)
{
	const struct kafka_create_topics_request *q = &r->body.create_topics;
	struct kafka_create_topics_response resp;
	kafka_msg_init(&kafka_msg_create_topics_response, &resp);
	int32_t n = q->topics.count > 0 ? q->topics.count : 0;
	if (!API_ARRAY(r, resp.topics, n)) {
		resp.topics.count = 0;
		kreq_respond(r, &resp);
		return;
	}
	for (int32_t i = 0; i < n; i++) {
		const struct kafka_create_topics_request_creatable_topic *t = &q->topics.items[i];
		struct kafka_create_topics_response_creatable_topic_result *o = &resp.topics.items[i];
		o->name = t->name;
		o->error_message = kstr_null();
		o->num_partitions = -1;
		o->replication_factor = -1;
		o->configs.count = 0;
		int32_t parts;
		const char *msg = NULL;
		struct topic_overrides ov;
		o->error_code = check_topic(b, t, &parts, &msg);
		if (!o->error_code)
			o->error_code = parse_configs(t, &ov, &msg);
		if (!o->error_code && !q->validate_only) {
			struct topic *tp;
			int rc = topics_create_with(b->topics, t->name.p, (size_t)t->name.len, (uint32_t)parts, false, &ov,
						    &tp);
			if (rc) {
				o->error_code = rc == ERR_EXISTS ? KAFKA_EC_TOPIC_ALREADY_EXISTS
						: rc == ERR_CONFIG ? EC_INVALID_CONFIG : KAFKA_EC_UNKNOWN_SERVER_ERROR;
				msg = rc == ERR_CONFIG ? "segment.bytes must hold the largest batch (max.message.bytes)"
						       : err_str(rc);
			} else {
				memcpy(o->topic_id.b, tp->id, 16);
			}
		}
		if (o->error_code) {
			o->error_message = kstr(msg);
			continue;
		}
		o->num_partitions = parts;
		o->replication_factor = 1;
	}
	kreq_respond(r, &resp);
}

static int16_t delete_one(struct broker *b, struct kafka_str name)
{
	if (name.len <= 0)
		return KAFKA_EC_UNKNOWN_TOPIC_OR_PARTITION;
	struct topic *t = topics_find(b->topics, name.p, (size_t)name.len);
	if (!t)
		return KAFKA_EC_UNKNOWN_TOPIC_OR_PARTITION;
	if (t->internal)
		return KAFKA_EC_INVALID_TOPIC_EXCEPTION;
	api_produce_topic_gone(b, t);
	int rc = topics_delete(b->topics, name.p, (size_t)name.len);
	return rc ? KAFKA_EC_UNKNOWN_SERVER_ERROR : KAFKA_EC_NONE;
}

void api_delete_topics(struct broker *b, struct kreq *r)
{
	const struct kafka_delete_topics_request *q = &r->body.delete_topics;
	struct kafka_delete_topics_response resp;
	kafka_msg_init(&kafka_msg_delete_topics_response, &resp);
	bool v6 = r->hdr.api_version >= 6;
	int32_t n = v6 ? q->topics.count : q->topic_names.count;
	if (n < 0)
		n = 0;
	if (!API_ARRAY(r, resp.responses, n)) {
		resp.responses.count = 0;
		kreq_respond(r, &resp);
		return;
	}
	for (int32_t i = 0; i < n; i++) {
		struct kafka_str name = v6 ? q->topics.items[i].name : q->topic_names.items[i];
		struct kafka_delete_topics_response_deletable_topic_result *o = &resp.responses.items[i];
		if (v6 && name.len < 0) {
			/* By id. */
			static const uint8_t zero[16];
			for (size_t k = 0; k < topics_count(b->topics); k++) {
				struct topic *t = topics_at(b->topics, k);
				if (memcmp(zero, q->topics.items[i].topic_id.b, 16) &&
				    !memcmp(t->id, q->topics.items[i].topic_id.b, 16))
					name = (struct kafka_str){t->name, (int32_t)strlen(t->name)};
			}
			o->topic_id = q->topics.items[i].topic_id;
		}
		/* The name view may point into the topic being deleted: answer with a copy. */
		char *copy = name.len > 0 ? kreq_alloc(r, (size_t)name.len + 1) : NULL;
		if (copy)
			memcpy(copy, name.p, (size_t)name.len);
		o->name = copy ? (struct kafka_str){copy, name.len} : name;
		o->error_message = kstr_null();
		o->error_code = delete_one(b, name);
	}
	kreq_respond(r, &resp);
}
