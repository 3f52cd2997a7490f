/* DescribeConfigs (key 32): topic (resource type 2) and broker (4) settings: the node's [topics] values, and a
 * topic's own overrides from CreateTopics (source DYNAMIC_TOPIC_CONFIG).  Filtered by the requested keys when a
 * list is given. */
#include <inttypes.h>
#include <stdio.h>

#include "cloud/api/api.h"
#include "cloud/partition/partition.h"

#define RES_TOPIC 2
#define RES_BROKER 4
#define SOURCE_STATIC_BROKER 4
#define SOURCE_DEFAULT 5

struct kv {
	const char *name;
	char value[32];
	int8_t source;
};

#define SOURCE_TOPIC 1 /* DYNAMIC_TOPIC_CONFIG: set on the topic */

static size_t topic_configs(const struct cloud_config *c, const struct topic *t, struct kv *out)
{
	size_t n = 0;
	out[n] = (struct kv){"cleanup.policy", "delete", SOURCE_DEFAULT}; n++;
	out[n] = (struct kv){"compression.type", "producer", SOURCE_DEFAULT}; n++;
	out[n] = (struct kv){"message.timestamp.type", "CreateTime", SOURCE_DEFAULT}; n++;
	out[n] = (struct kv){"retention.ms", "", SOURCE_STATIC_BROKER};
	snprintf(out[n++].value, sizeof out->value, "%" PRId64, c->retention_ms ? (int64_t)c->retention_ms : -1);
	out[n] = (struct kv){"retention.bytes", "", SOURCE_STATIC_BROKER};
	snprintf(out[n++].value, sizeof out->value, "%" PRId64, c->retention_bytes ? (int64_t)c->retention_bytes : -1);
	out[n] = (struct kv){"segment.bytes", "", SOURCE_STATIC_BROKER};
	snprintf(out[n++].value, sizeof out->value, "%" PRIu64, c->segment_bytes);
	/* Overrides set at creation replace the node's values: the last three entries above, in this order. */
	const int64_t ov[3] = {t->ov.retention_ms, t->ov.retention_bytes, t->ov.segment_bytes};
	for (int k = 0; k < 3; k++)
		if (ov[k] != TOPIC_INHERIT) {
			out[n - 3 + (size_t)k].source = SOURCE_TOPIC;
			snprintf(out[n - 3 + (size_t)k].value, sizeof out->value, "%" PRId64, ov[k]);
		}
	out[n] = (struct kv){"max.message.bytes", "", SOURCE_STATIC_BROKER};
	snprintf(out[n++].value, sizeof out->value, "%" PRIu64, c->message_bytes_max);
	return n;
}

static size_t broker_configs(const struct cloud_config *c, struct kv *out)
{
	size_t n = 0;
	out[n] = (struct kv){"broker.id", "", SOURCE_STATIC_BROKER};
	snprintf(out[n++].value, sizeof out->value, "%u", c->node_id);
	out[n] = (struct kv){"num.partitions", "", SOURCE_STATIC_BROKER};
	snprintf(out[n++].value, sizeof out->value, "%u", c->default_partitions);
	out[n] = (struct kv){"auto.create.topics.enable", "", SOURCE_STATIC_BROKER};
	snprintf(out[n++].value, sizeof out->value, "%s", c->auto_create ? "true" : "false");
	out[n] = (struct kv){"socket.request.max.bytes", "", SOURCE_STATIC_BROKER};
	snprintf(out[n++].value, sizeof out->value, "%" PRIu64, c->request_bytes_max);
	out[n] = (struct kv){"group.min.session.timeout.ms", "", SOURCE_STATIC_BROKER};
	snprintf(out[n++].value, sizeof out->value, "%" PRIu64, c->group_session_timeout_ms_min);
	out[n] = (struct kv){"group.max.session.timeout.ms", "", SOURCE_STATIC_BROKER};
	snprintf(out[n++].value, sizeof out->value, "%" PRIu64, c->group_session_timeout_ms_max);
	return n;
}

static bool wanted(const struct kafka_describe_configs_request_describe_configs_resource *q, const char *name)
{
	if (q->configuration_keys.count < 0)
		return true;
	for (int32_t i = 0; i < q->configuration_keys.count; i++) {
		struct kafka_str k = q->configuration_keys.items[i];
		if (k.len >= 0 && strlen(name) == (size_t)k.len && !memcmp(name, k.p, (size_t)k.len))
			return true;
	}
	return false;
}

void api_describe_configs(struct broker *b, struct kreq *r)
{
	const struct kafka_describe_configs_request *q = &r->body.describe_configs;
	struct kafka_describe_configs_response resp;
	kafka_msg_init(&kafka_msg_describe_configs_response, &resp);
	int32_t n = q->resources.count > 0 ? q->resources.count : 0;
	if (!API_ARRAY(r, resp.results, n))
		resp.results.count = 0;
	for (int32_t i = 0; i < resp.results.count; i++) {
		const struct kafka_describe_configs_request_describe_configs_resource *qr = &q->resources.items[i];
		struct kafka_describe_configs_response_describe_configs_result *o = &resp.results.items[i];
		o->resource_type = qr->resource_type;
		o->resource_name = qr->resource_name;
		o->error_message = kstr_null();
		struct kv *kv = kreq_alloc(r, sizeof *kv * 16);
		size_t m = 0;
		if (!kv) {
			o->error_code = KAFKA_EC_UNKNOWN_SERVER_ERROR;
			continue;
		}
		if (qr->resource_type == RES_TOPIC) {
			struct topic *tp = qr->resource_name.len > 0
						   ? topics_find(b->topics, qr->resource_name.p, (size_t)qr->resource_name.len)
						   : NULL;
			if (!tp) {
				o->error_code = KAFKA_EC_UNKNOWN_TOPIC_OR_PARTITION;
				o->error_message = kstr("unknown topic");
				continue;
			}
			m = topic_configs(b->cfg, tp, kv);
		} else if (qr->resource_type == RES_BROKER) {
			m = broker_configs(b->cfg, kv);
		} else {
			o->error_code = KAFKA_EC_INVALID_REQUEST;
			o->error_message = kstr("only topic and broker resources are described");
			continue;
		}
		size_t k = 0;
		if (!API_ARRAY(r, o->configs, m)) {
			o->configs.count = 0;
			continue;
		}
		for (size_t j = 0; j < m; j++) {
			if (!wanted(qr, kv[j].name))
				continue;
			struct kafka_describe_configs_response_describe_configs_resource_result *c = &o->configs.items[k++];
			c->name = kstr(kv[j].name);
			c->value = kstr(kv[j].value);
			c->read_only = qr->resource_type == RES_BROKER;
			c->is_default = kv[j].source == SOURCE_DEFAULT;
			c->config_source = kv[j].source;
			c->is_sensitive = false;
			c->synonyms.count = 0;
			c->config_type = 0;
			c->documentation = kstr_null();
		}
		o->configs.count = (int32_t)k;
	}
	kreq_respond(r, &resp);
}
