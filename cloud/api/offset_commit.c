/* OffsetCommit (key 8): checked against the group (generation fencing, KIP-345 fencing), written as one
 * batch to __consumer_offsets, then applied. */
#include "base/err.h"
#include "base/log.h"
#include "cloud/api/api_group_util.h"
#include "cloud/group/offsets.h"
#include "port.h"

#define EC_OFFSET_METADATA_TOO_LARGE 12

void api_offset_commit(struct broker *b, struct kreq *r)
{
	const struct kafka_offset_commit_request *q = &r->body.offset_commit;
	struct kafka_offset_commit_response resp;
	kafka_msg_init(&kafka_msg_offset_commit_response, &resp);
	int16_t v = r->hdr.api_version;
	uint64_t now = broker_now_ms();
	struct group_view member = v >= 1 ? gview(q->member_id) : (struct group_view){"", 0};
	if (!member.p)
		member = (struct group_view){"", 0};
	int16_t gerr = group_commit_check(b->groups, gview(q->group_id), member,
					  v >= 7 ? gview(q->group_instance_id) : (struct group_view){NULL, 0},
					  v >= 1 ? q->generation_id_or_member_epoch : -1, now);
	int32_t nt = q->topics.count > 0 ? q->topics.count : 0;
	size_t total = 0;
	for (int32_t i = 0; i < nt; i++)
		total += q->topics.items[i].partitions.count > 0 ? (size_t)q->topics.items[i].partitions.count : 0;
	struct offset_commit_in *in = kreq_alloc(r, sizeof *in * (total ? total : 1));
	int16_t **codes = kreq_alloc(r, sizeof *codes * (total ? total : 1));
	if (!in || !codes || !API_ARRAY(r, resp.topics, nt)) {
		kreq_close_after(r);
		kreq_respond_none(r);
		return;
	}
	size_t n = 0;
	for (int32_t i = 0; i < nt; i++) {
		const struct kafka_offset_commit_request_topic *t = &q->topics.items[i];
		struct kafka_offset_commit_response_topic *o = &resp.topics.items[i];
		o->name = t->name;
		int32_t np = t->partitions.count > 0 ? t->partitions.count : 0;
		if (!API_ARRAY(r, o->partitions, np)) {
			kreq_close_after(r);
			kreq_respond_none(r);
			return;
		}
		for (int32_t k = 0; k < np; k++) {
			const struct kafka_offset_commit_request_partition *p = &t->partitions.items[k];
			struct kafka_offset_commit_response_partition *op = &o->partitions.items[k];
			op->partition_index = p->partition_index;
			op->error_code = gerr;
			if (gerr)
				continue;
			struct group_view meta = gview(p->committed_metadata);
			if (!meta.p)
				meta = (struct group_view){"", 0};
			if (meta.len > OFFSETS_METADATA_MAX) {
				op->error_code = EC_OFFSET_METADATA_TOO_LARGE;
				continue;
			}
			in[n] = (struct offset_commit_in){gview(t->name), p->partition_index, p->committed_offset,
							  v >= 6 ? p->committed_leader_epoch : -1, meta};
			if (!in[n].topic.p)
				in[n].topic = (struct group_view){"", 0};
			codes[n++] = &op->error_code;
		}
	}
	if (n) {
		int rc = offsets_commit(b->offsets, gview(q->group_id), in, n, port_wall_ms());
		if (!rc)
			broker_data_arrived(b, NULL); /* flush=always: the group commit of this loop turn covers it */
		if (rc) {
			log_error("offset commit for group %.*s: %s", q->group_id.len > 0 ? (int)q->group_id.len : 0,
				  q->group_id.p ? q->group_id.p : "", err_str(rc));
			for (size_t i = 0; i < n; i++)
				*codes[i] = rc == ERR_TOO_LARGE ? EC_OFFSET_METADATA_TOO_LARGE : KAFKA_EC_UNKNOWN_SERVER_ERROR;
		}
	}
	kreq_respond(r, &resp);
}
