/* OffsetForLeaderEpoch (key 23): the end offset of a leader epoch, so a consumer (KIP-320) or follower can
 * detect truncation.  One node has had one leader epoch per partition since it was created: every epoch up to
 * the current one ends at the log end. */
#include "cloud/api/api.h"
#include "cloud/partition/partition.h"

void api_offset_for_leader_epoch(struct broker *b, struct kreq *r)
{
	const struct kafka_offset_for_leader_epoch_request *q = &r->body.offset_for_leader_epoch;
	struct kafka_offset_for_leader_epoch_response resp;
	kafka_msg_init(&kafka_msg_offset_for_leader_epoch_response, &resp);
	int32_t nt = q->topics.count > 0 ? q->topics.count : 0;
	if (!API_ARRAY(r, resp.topics, nt))
		goto oom;
	for (int32_t i = 0; i < nt; i++) {
		const struct kafka_offset_for_leader_epoch_request_offset_for_leader_topic *qt = &q->topics.items[i];
		struct kafka_offset_for_leader_epoch_response_offset_for_leader_topic_result *ot = &resp.topics.items[i];
		ot->topic = qt->topic;
		int32_t np = qt->partitions.count > 0 ? qt->partitions.count : 0;
		if (!API_ARRAY(r, ot->partitions, np))
			goto oom;
		struct topic *t = qt->topic.len > 0 ? topics_find(b->topics, qt->topic.p, (size_t)qt->topic.len) : NULL;
		for (int32_t k = 0; k < np; k++) {
			const struct kafka_offset_for_leader_epoch_request_offset_for_leader_partition *qp = &qt->partitions.items[k];
			struct kafka_offset_for_leader_epoch_response_epoch_end_offset *o = &ot->partitions.items[k];
			o->partition = qp->partition;
			o->leader_epoch = -1;
			o->end_offset = -1;
			struct partition *p = t ? topic_partition(t, qp->partition) : NULL;
			if (!p) {
				o->error_code = KAFKA_EC_UNKNOWN_TOPIC_OR_PARTITION;
				continue;
			}
			if (r->hdr.api_version >= 2 && qp->current_leader_epoch >= 0 &&
			    qp->current_leader_epoch != p->leader.epoch) {
				o->error_code = qp->current_leader_epoch < p->leader.epoch ? KAFKA_EC_FENCED_LEADER_EPOCH
											   : KAFKA_EC_UNKNOWN_LEADER_EPOCH;
				continue;
			}
			if (qp->leader_epoch <= p->leader.epoch) {
				o->leader_epoch = p->leader.epoch;
				o->end_offset = log_end_offset(p->log);
			}
		}
	}
	kreq_respond(r, &resp);
	return;
oom:
	kreq_close_after(r);
	kreq_respond_none(r);
}
