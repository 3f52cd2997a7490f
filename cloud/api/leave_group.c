/* LeaveGroup (key 13): one member by id (v0-2) or a list of members by id or instance id (v3+, KIP-345). */
#include "cloud/api/api_group_util.h"

void api_leave_group(struct broker *b, struct kreq *r)
{
	const struct kafka_leave_group_request *q = &r->body.leave_group;
	struct kafka_leave_group_response resp;
	kafka_msg_init(&kafka_msg_leave_group_response, &resp);
	uint64_t now = broker_now_ms();
	if (r->hdr.api_version < 3) {
		resp.error_code = group_leave(b->groups, gview(q->group_id), gview(q->member_id),
					      (struct group_view){NULL, 0}, now);
	} else {
		int32_t n = q->members.count > 0 ? q->members.count : 0;
		if (!API_ARRAY(r, resp.members, n)) {
			resp.members.count = 0;
			resp.error_code = KAFKA_EC_UNKNOWN_SERVER_ERROR;
		}
		for (int32_t i = 0; i < resp.members.count; i++) {
			const struct kafka_leave_group_request_member_identity *m = &q->members.items[i];
			struct kafka_leave_group_response_member_response *o = &resp.members.items[i];
			o->member_id = m->member_id;
			o->group_instance_id = m->group_instance_id;
			struct group_view mid = gview(m->member_id);
			if (!mid.p)
				mid = (struct group_view){"", 0};
			o->error_code = group_leave(b->groups, gview(q->group_id), mid, gview(m->group_instance_id), now);
		}
	}
	kreq_respond(r, &resp);
	broker_schedule(b);
}
