/* The dispatcher: api key -> handler.  Requests the codec accepted but no handler serves close the
 * connection (as Kafka does for an API it does not know). */
#include "base/err.h"
#include "base/log.h"
#include "cloud/api/api.h"
#include "cloud/log/log.h"

struct api_entry {
	int16_t key;
	const char *name;
	api_handler_fn *fn;
};

static const struct api_entry apis[] = {
	{KAFKA_API_PRODUCE, "Produce", api_produce},
	{KAFKA_API_FETCH, "Fetch", api_fetch},
	{KAFKA_API_LIST_OFFSETS, "ListOffsets", api_list_offsets},
	{KAFKA_API_METADATA, "Metadata", api_metadata},
	{KAFKA_API_OFFSET_COMMIT, "OffsetCommit", api_offset_commit},
	{KAFKA_API_OFFSET_FETCH, "OffsetFetch", api_offset_fetch},
	{KAFKA_API_FIND_COORDINATOR, "FindCoordinator", api_find_coordinator},
	{KAFKA_API_JOIN_GROUP, "JoinGroup", api_join_group},
	{KAFKA_API_HEARTBEAT, "Heartbeat", api_heartbeat},
	{KAFKA_API_LEAVE_GROUP, "LeaveGroup", api_leave_group},
	{KAFKA_API_SYNC_GROUP, "SyncGroup", api_sync_group},
	{KAFKA_API_DESCRIBE_GROUPS, "DescribeGroups", api_describe_groups},
	{KAFKA_API_LIST_GROUPS, "ListGroups", api_list_groups},
	{KAFKA_API_SASL_HANDSHAKE, "SaslHandshake", api_sasl_handshake},
	{KAFKA_API_API_VERSIONS, "ApiVersions", api_api_versions},
	{KAFKA_API_CREATE_TOPICS, "CreateTopics", api_create_topics},
	{KAFKA_API_DELETE_TOPICS, "DeleteTopics", api_delete_topics},
	{KAFKA_API_INIT_PRODUCER_ID, "InitProducerId", api_init_producer_id},
	{KAFKA_API_OFFSET_FOR_LEADER_EPOCH, "OffsetForLeaderEpoch", api_offset_for_leader_epoch},
	{KAFKA_API_DESCRIBE_CONFIGS, "DescribeConfigs", api_describe_configs},
	{KAFKA_API_SASL_AUTHENTICATE, "SaslAuthenticate", api_sasl_authenticate},
	{KAFKA_API_DESCRIBE_CLUSTER, "DescribeCluster", api_describe_cluster},
};

static const struct api_entry *find(int16_t key)
{
	for (size_t i = 0; i < sizeof apis / sizeof apis[0]; i++)
		if (apis[i].key == key)
			return &apis[i];
	return NULL;
}

const char *api_name(int16_t key)
{
	const struct api_entry *e = find(key);
	return e ? e->name : "Unknown";
}

void api_dispatch(struct broker *b, struct kreq *r)
{
	const struct api_entry *e = find(r->hdr.api_key);
	if (!e) {
		log_warn("kafka: %s: api %d has no handler", kreq_peer(r), r->hdr.api_key);
		kreq_close_after(r);
		kreq_respond_none(r);
		return;
	}
	log_trace("kafka: %s: %s v%d correlation %d", kreq_peer(r), e->name, r->hdr.api_version,
		  r->hdr.correlation_id);
	e->fn(b, r);
}

int16_t api_error_from_err(int err)
{
	switch (err) {
	case 0: return KAFKA_EC_NONE;
	case ERR_CORRUPT: return KAFKA_EC_CORRUPT_MESSAGE;
	case ERR_TOO_LARGE: return KAFKA_EC_MESSAGE_TOO_LARGE;
	case ERR_RANGE: return KAFKA_EC_OFFSET_OUT_OF_RANGE;
	case ERR_MALFORMED: return KAFKA_EC_CORRUPT_MESSAGE;
	case ERR_UNSUPPORTED: return 43; /* UNSUPPORTED_FOR_MESSAGE_FORMAT */
	case ERR_NOSPC: return 56;        /* KAFKA_STORAGE_ERROR */
	case ERR_IO: return 56;
	case ERR_STATE: return 56;
	default: return KAFKA_EC_UNKNOWN_SERVER_ERROR;
	}
}
