/* SyncGroup (key 14): the leader's assignment in, each member's share out (through api_group_sync_done). */
#include "cloud/api/api_group_util.h"

#define SYNC_ASSIGNMENTS_MAX 100000

void api_sync_group(struct broker *b, struct kreq *r)
{
	const struct kafka_sync_group_request *q = &r->body.sync_group;
	int32_t n = q->assignments.count > 0 ? q->assignments.count : 0;
	if (n > SYNC_ASSIGNMENTS_MAX)
		n = SYNC_ASSIGNMENTS_MAX;
	struct group_assignment_in *as = kreq_alloc(r, sizeof *as * (size_t)(n ? n : 1));
	if (!as) {
		api_group_sync_done(b, r, KAFKA_EC_UNKNOWN_SERVER_ERROR, NULL, NULL, NULL, 0);
		return;
	}
	for (int32_t i = 0; i < n; i++) {
		as[i].member_id = gview(q->assignments.items[i].member_id);
		as[i].assignment = bview(q->assignments.items[i].assignment);
	}
	bool v5 = r->hdr.api_version >= 5;
	struct group_sync_req s = {
		.group_id = gview(q->group_id), .member_id = gview(q->member_id),
		.instance_id = r->hdr.api_version >= 3 ? gview(q->group_instance_id) : (struct group_view){NULL, 0},
		.protocol_type = v5 ? gview(q->protocol_type) : (struct group_view){NULL, 0},
		.protocol_name = v5 ? gview(q->protocol_name) : (struct group_view){NULL, 0},
		.generation = q->generation_id, .assignments = as, .assignment_count = (uint32_t)n,
		.conn_id = r->conn_id, .waiter = r,
	};
	group_sync(b->groups, &s, broker_now_ms());
	broker_schedule(b);
}

void api_group_sync_done(void *ctx, void *waiter, int16_t error, const char *protocol_type,
			 const char *protocol_name, const uint8_t *assignment, size_t assignment_len)
{
	(void)ctx;
	struct kreq *r = waiter;
	struct kafka_sync_group_response resp;
	kafka_msg_init(&kafka_msg_sync_group_response, &resp);
	resp.error_code = error;
	resp.protocol_type = protocol_type ? kstr(protocol_type) : kstr_null();
	resp.protocol_name = protocol_name ? kstr(protocol_name) : kstr_null();
	resp.assignment = kbytes(assignment ? assignment : (const uint8_t *)"", assignment ? assignment_len : 0);
	kreq_respond(r, &resp);
}
