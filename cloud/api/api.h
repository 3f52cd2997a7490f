/* The Kafka API handlers: one file per API, one dispatcher (dispatch.c) that maps an api key to its handler.
 * A handler reads r->body (decoded at r->hdr.api_version), does the work on the broker, and answers with
 * kreq_respond() now or later.  Handlers never see sockets. */
#ifndef FERRY_CLOUD_API_H
#define FERRY_CLOUD_API_H

#include <stdint.h>
#include <string.h>

#include "cloud/broker.h"
#include "cloud/server/server.h"

typedef void api_handler_fn(struct broker *b, struct kreq *r);

void api_dispatch(struct broker *b, struct kreq *r);
const char *api_name(int16_t api_key);
/* KIP-511: an ApiVersions request at a version we do not speak gets a v0 answer listing ours. */
void api_versions_reject(struct kreq *r);

api_handler_fn api_produce, api_fetch, api_list_offsets, api_metadata, api_offset_commit, api_offset_fetch,
	api_find_coordinator, api_join_group, api_heartbeat, api_leave_group, api_sync_group, api_describe_groups,
	api_list_groups, api_sasl_handshake, api_api_versions, api_create_topics, api_delete_topics,
	api_init_producer_id, api_offset_for_leader_epoch, api_describe_configs, api_sasl_authenticate,
	api_describe_cluster;

/* ---- helpers shared by handlers ---- */

static inline struct kafka_str kstr(const char *s)
{
	return (struct kafka_str){s, s ? (int32_t)strlen(s) : -1};
}
static inline struct kafka_str kstr_null(void) { return (struct kafka_str){NULL, -1}; }
static inline struct kafka_bytes kbytes(const void *p, size_t len) { return (struct kafka_bytes){p, (int32_t)len}; }
static inline size_t kstr_len(struct kafka_str s) { return s.len < 0 ? 0 : (size_t)s.len; }

/* An array of n zeroed items of type T from the request arena, into the generated struct's array member. */
#define API_ARRAY(r, arr, n)                                                                                  \
	((arr).count = (int32_t)(n), (arr).items = kreq_alloc((r), sizeof(*(arr).items) * ((n) ? (size_t)(n) : 1)))

/* The error code for an ERR_* from storage (log_append, log_read). */
int16_t api_error_from_err(int err);
/* Topic t is about to be deleted: parked Produce requests stop waiting on its logs (what was not durable
 * yet is answered UNKNOWN_TOPIC_OR_PARTITION). */
struct topic;
void api_produce_topic_gone(struct broker *b, struct topic *t);



/* Group coordinator callbacks (groups.c): the answers to parked JoinGroup and SyncGroup requests. */
struct group_join_result;
void api_group_join_done(void *ctx, void *waiter, const struct group_join_result *res);
void api_group_sync_done(void *ctx, void *waiter, int16_t error, const char *protocol_type,
			 const char *protocol_name, const uint8_t *assignment, size_t assignment_len);

#endif
