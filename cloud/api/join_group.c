/* JoinGroup (key 11): hands the request to the coordinator, which answers through api_group_join_done when
 * the rebalance completes (or at once).  v4+ gets MEMBER_ID_REQUIRED for an empty member id (KIP-394). */
#include "base/log.h"
#include "cloud/api/api_group_util.h"
#include "cloud/server/conn.h"

#define JOIN_PROTOCOLS_MAX GROUP_PROTOCOLS_MAX

void api_join_group(struct broker *b, struct kreq *r)
{
	const struct kafka_join_group_request *q = &r->body.join_group;
	struct group_protocol_in protos[JOIN_PROTOCOLS_MAX];
	int32_t n = q->protocols.count > 0 ? q->protocols.count : 0;
	if (n > JOIN_PROTOCOLS_MAX)
		n = 0; /* refused by the coordinator as an inconsistent protocol set */
	for (int32_t i = 0; i < n; i++) {
		protos[i].name = gview(q->protocols.items[i].name);
		protos[i].metadata = bview(q->protocols.items[i].metadata);
	}
	const char *host = r->conn ? r->conn->host : "";
	struct group_join_req j = {
		.group_id = gview(q->group_id), .member_id = gview(q->member_id),
		.instance_id = r->hdr.api_version >= 5 ? gview(q->group_instance_id) : (struct group_view){NULL, 0},
		.client_id = gview(r->hdr.client_id), .client_host = {host, strlen(host)},
		.protocol_type = gview(q->protocol_type), .protocols = protos, .protocol_count = (uint32_t)n,
		.session_timeout_ms = q->session_timeout_ms > 0 ? (uint32_t)q->session_timeout_ms : 0,
		.rebalance_timeout_ms = r->hdr.api_version >= 1 && q->rebalance_timeout_ms > 0
						? (uint32_t)q->rebalance_timeout_ms : 0,
		.require_known_member_id = r->hdr.api_version >= 4, .conn_id = r->conn_id, .waiter = r,
	};
	if (j.member_id.p == NULL)
		j.member_id = (struct group_view){"", 0};
	group_join(b->groups, &j, broker_now_ms());
	broker_schedule(b);
}

void api_group_join_done(void *ctx, void *waiter, const struct group_join_result *res)
{
	(void)ctx;
	struct kreq *r = waiter;
	struct kafka_join_group_response resp;
	kafka_msg_init(&kafka_msg_join_group_response, &resp);
	resp.error_code = res->error;
	resp.generation_id = res->generation;
	resp.protocol_type = res->protocol_type ? kstr(res->protocol_type) : kstr_null();
	resp.protocol_name = res->protocol_name ? kstr(res->protocol_name)
						: r->hdr.api_version >= 7 ? kstr_null() : kstr("");
	resp.leader = kstr(res->leader_id ? res->leader_id : "");
	resp.member_id = kstr(res->member_id ? res->member_id : "");
	if (API_ARRAY(r, resp.members, res->member_count)) {
		for (uint32_t i = 0; i < res->member_count; i++) {
			struct kafka_join_group_response_member *m = &resp.members.items[i];
			m->member_id = kstr(res->members[i].member_id);
			m->group_instance_id = res->members[i].instance_id ? kstr(res->members[i].instance_id) : kstr_null();
			m->metadata = kbytes(res->members[i].metadata ? res->members[i].metadata : (const uint8_t *)"",
					     res->members[i].metadata_len);
		}
	} else {
		resp.members.count = 0;
		resp.error_code = KAFKA_EC_UNKNOWN_SERVER_ERROR;
	}
	/* Encoded now: the views into the coordinator are valid only during this call. */
	kreq_respond(r, &resp);
}
