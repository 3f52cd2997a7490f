/* DescribeGroups (key 15). */
#include "cloud/api/api_group_util.h"

void api_describe_groups(struct broker *b, struct kreq *r)
{
	const struct kafka_describe_groups_request *q = &r->body.describe_groups;
	struct kafka_describe_groups_response resp;
	kafka_msg_init(&kafka_msg_describe_groups_response, &resp);
	int32_t n = q->groups.count > 0 ? q->groups.count : 0;
	if (!API_ARRAY(r, resp.groups, n))
		resp.groups.count = 0;
	for (int32_t i = 0; i < resp.groups.count; i++) {
		struct kafka_describe_groups_response_described_group *o = &resp.groups.items[i];
		struct group_view id = gview(q->groups.items[i]);
		o->group_id = q->groups.items[i];
		o->authorized_operations = INT32_MIN;
		o->protocol_type = kstr("");
		o->protocol_data = kstr("");
		struct group_info info;
		if (!id.p || group_describe(b->groups, id, &info)) {
			/* Kafka describes an unknown group as Dead with no members. */
			o->group_state = kstr("Dead");
			o->members.count = 0;
			continue;
		}
		o->group_state = kstr(group_state_name(info.state));
		o->protocol_type = kstr(info.protocol_type);
		o->protocol_data = kstr(info.protocol_name);
		if (!API_ARRAY(r, o->members, info.member_count)) {
			o->members.count = 0;
			o->error_code = KAFKA_EC_UNKNOWN_SERVER_ERROR;
			continue;
		}
		for (uint32_t k = 0; k < info.member_count; k++) {
			struct group_member_info mi;
			struct kafka_describe_groups_response_described_group_member *m = &o->members.items[k];
			if (group_describe_member(b->groups, id, k, &mi))
				continue;
			m->member_id = kstr(mi.member_id);
			m->group_instance_id = mi.instance_id ? kstr(mi.instance_id) : kstr_null();
			m->client_id = kstr(mi.client_id);
			m->client_host = kstr(mi.client_host);
			m->member_metadata = kbytes(mi.metadata ? mi.metadata : (const uint8_t *)"", mi.metadata_len);
			m->member_assignment = kbytes(mi.assignment ? mi.assignment : (const uint8_t *)"", mi.assignment_len);
		}
	}
	kreq_respond(r, &resp);
}
