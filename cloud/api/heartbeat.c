/* Heartbeat (key 12). */
#include "cloud/api/api_group_util.h"

void api_heartbeat(struct broker *b, struct kreq *r)
{
	const struct kafka_heartbeat_request *q = &r->body.heartbeat;
	struct kafka_heartbeat_response resp;
	kafka_msg_init(&kafka_msg_heartbeat_response, &resp);
	resp.error_code = group_heartbeat(b->groups, gview(q->group_id), gview(q->member_id),
					  r->hdr.api_version >= 3 ? gview(q->group_instance_id)
								  : (struct group_view){NULL, 0},
					  q->generation_id, r->conn_id, broker_now_ms());
	kreq_respond(r, &resp);
	broker_schedule(b);
}
