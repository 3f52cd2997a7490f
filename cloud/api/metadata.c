/* Metadata (key 3): this node as the only broker and controller, and the topics asked for (all of them for
 * a null list, or an empty one at v0).  Unknown topics are created here when topics.auto_create is on and
 * the request allows it (v4+ allow_auto_topic_creation); creation is synchronous, so the answer already
 * carries the partitions. */
#include "base/err.h"
#include "cloud/api/api.h"
#include "cloud/partition/partition.h"

/* Each creation writes files and fsyncs on the event loop: bound what one request can make us do.  Topics
 * past the bound answer LEADER_NOT_AVAILABLE, which clients retry (and then get created). */
#define METADATA_CREATES_MAX 64

static void fill_topic(struct kreq *r, struct kafka_metadata_response_topic *out, struct topic *t)
{
	struct broker *b = r->broker;
	out->error_code = KAFKA_EC_NONE;
	out->name = kstr(t->name);
	memcpy(out->topic_id.b, t->id, 16);
	out->is_internal = t->internal;
	out->topic_authorized_operations = INT32_MIN;
	if (!API_ARRAY(r, out->partitions, t->partition_count)) {
		out->error_code = KAFKA_EC_UNKNOWN_SERVER_ERROR;
		out->partitions.count = 0;
		return;
	}
	for (uint32_t i = 0; i < t->partition_count; i++) {
		struct kafka_metadata_response_partition *p = &out->partitions.items[i];
		const struct partition *part = &t->partitions[i];
		p->error_code = KAFKA_EC_NONE;
		p->partition_index = (int32_t)i;
		p->leader_id = part->leader.node_id;
		p->leader_epoch = part->leader.epoch;
		int32_t *nodes = kreq_alloc(r, sizeof *nodes * part->replicas.count);
		if (!nodes) {
			p->error_code = KAFKA_EC_UNKNOWN_SERVER_ERROR;
			continue;
		}
		uint32_t isr = 0;
		for (uint32_t k = 0; k < part->replicas.count; k++)
			nodes[k] = part->replicas.items[k].node_id;
		for (uint32_t k = 0; k < part->replicas.count; k++)
			isr += part->replicas.items[k].in_sync;
		p->replica_nodes.items = nodes;
		p->replica_nodes.count = (int32_t)part->replicas.count;
		p->isr_nodes.items = nodes; /* the in-sync replicas lead the list */
		p->isr_nodes.count = (int32_t)isr;
		p->offline_replicas.count = 0;
	}
	(void)b;
}

void api_metadata(struct broker *b, struct kreq *r)
{
	const struct kafka_metadata_request *q = &r->body.metadata;
	struct kafka_metadata_response resp;
	kafka_msg_init(&kafka_msg_metadata_response, &resp);
	struct kafka_metadata_response_broker *br = kreq_alloc(r, sizeof *br);
	if (!br)
		goto fail;
	br->node_id = (int32_t)b->cfg->node_id;
	bool tls = kreq_is_tls(r);
	br->host = kstr(tls ? b->tls_advertised_host : b->advertised_host);
	br->port = tls ? b->tls_advertised_port : b->advertised_port;
	br->rack = kstr_null();
	resp.brokers.items = br;
	resp.brokers.count = 1;
	resp.cluster_id = kstr(b->cfg->cluster_id);
	resp.controller_id = (int32_t)b->cfg->node_id;
	resp.cluster_authorized_operations = INT32_MIN;

	bool all = q->topics.count < 0 || (q->topics.count == 0 && r->hdr.api_version == 0);
	size_t n = all ? topics_count(b->topics) : (size_t)q->topics.count;
	if (!API_ARRAY(r, resp.topics, n))
		goto fail;
	bool may_create = b->cfg->auto_create && (r->hdr.api_version < 4 || q->allow_auto_topic_creation);
	uint32_t created = 0;
	for (size_t i = 0; i < n; i++) {
		struct kafka_metadata_response_topic *out = &resp.topics.items[i];
		out->topic_authorized_operations = INT32_MIN;
		if (all) {
			fill_topic(r, out, topics_at(b->topics, i));
			continue;
		}
		struct kafka_str name = q->topics.items[i].name;
		out->name = name;
		if (name.len <= 0) {
			out->error_code = KAFKA_EC_UNKNOWN_TOPIC_OR_PARTITION; /* v10+ lookup by id: not supported */
			continue;
		}
		struct topic *t = topics_find(b->topics, name.p, (size_t)name.len);
		if (!t && may_create) {
			if (!topics_name_valid(name.p, (size_t)name.len)) {
				out->error_code = KAFKA_EC_INVALID_TOPIC_EXCEPTION;
				continue;
			}
			if (created++ >= METADATA_CREATES_MAX) {
				out->error_code = KAFKA_EC_LEADER_NOT_AVAILABLE;
				continue;
			}
			int rc = topics_create(b->topics, name.p, (size_t)name.len, b->cfg->default_partitions, false, &t);
			if (rc && rc != ERR_EXISTS) {
				out->error_code = rc == ERR_FULL ? 89 /* THROTTLING_QUOTA_EXCEEDED */
								 : KAFKA_EC_UNKNOWN_SERVER_ERROR;
				continue;
			}
			t = topics_find(b->topics, name.p, (size_t)name.len);
		}
		if (!t) {
			out->error_code = KAFKA_EC_UNKNOWN_TOPIC_OR_PARTITION;
			continue;
		}
		fill_topic(r, out, t);
	}
	kreq_respond(r, &resp);
	return;
fail:
	kafka_msg_init(&kafka_msg_metadata_response, &resp);
	kreq_respond(r, &resp);
}
