/* ListGroups (key 16): every group the coordinator knows (groups known only by committed offsets are added
 * at start), filtered by state at v4+. */
#include <strings.h>

#include "cloud/api/api_group_util.h"

static bool state_wanted(const struct kafka_list_groups_request *q, const char *state)
{
	if (q->states_filter.count <= 0)
		return true;
	for (int32_t i = 0; i < q->states_filter.count; i++) {
		struct kafka_str s = q->states_filter.items[i];
		if (s.len >= 0 && strlen(state) == (size_t)s.len && !strncasecmp(state, s.p, (size_t)s.len))
			return true;
	}
	return false;
}

void api_list_groups(struct broker *b, struct kreq *r)
{
	const struct kafka_list_groups_request *q = &r->body.list_groups;
	struct kafka_list_groups_response resp;
	kafka_msg_init(&kafka_msg_list_groups_response, &resp);
	uint32_t n = group_count(b->groups), k = 0;
	if (!API_ARRAY(r, resp.groups, n))
		resp.groups.count = 0, n = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct group_info info;
		group_at(b->groups, i, &info);
		const char *state = group_state_name(info.state);
		if (r->hdr.api_version >= 4 && !state_wanted(q, state))
			continue;
		struct kafka_list_groups_response_listed_group *o = &resp.groups.items[k++];
		o->group_id = kstr(info.group_id);
		o->protocol_type = kstr(info.protocol_type[0] ? info.protocol_type : "consumer");
		o->group_state = kstr(state);
		o->group_type = kstr("classic");
	}
	resp.groups.count = (int32_t)k;
	kreq_respond(r, &resp);
}
