/* ListOffsets (key 2): -1 latest (the high watermark, which is also the last stable offset: no
 * transactions), -2 earliest (log start), -3 the record with the largest timestamp (v7+, KIP-734: approximated
 * by the last offset below the high watermark, which is right for producers with increasing time), or the first offset whose
 * timestamp is at or after a time. */
#include "base/err.h"
#include "cloud/api/api.h"
#include "cloud/partition/partition.h"

static void lookup(struct partition *p, int64_t ts, int64_t *offset, int64_t *timestamp)
{
	*timestamp = -1;
	if (ts == -1) {
		*offset = p->leader.high_watermark;
		return;
	}
	if (ts == -2) {
		*offset = log_start_offset(p->log);
		return;
	}
	struct log_time_lookup lk;
	if (ts == -3) {
		*offset = p->leader.high_watermark > log_start_offset(p->log) ? p->leader.high_watermark - 1 : -1;
		return;
	}
	if (log_offset_for_time(p->log, ts, &lk) == 0 && lk.offset < p->leader.high_watermark) {
		*offset = lk.offset;
		*timestamp = lk.timestamp;
	} else {
		*offset = -1; /* Kafka: no such record */
	}
}

void api_list_offsets(struct broker *b, struct kreq *r)
{
	const struct kafka_list_offsets_request *q = &r->body.list_offsets;
	struct kafka_list_offsets_response resp;
	kafka_msg_init(&kafka_msg_list_offsets_response, &resp);
	int32_t nt = q->topics.count > 0 ? q->topics.count : 0;
	if (!API_ARRAY(r, resp.topics, nt))
		goto oom;
	for (int32_t i = 0; i < nt; i++) {
		const struct kafka_list_offsets_request_list_offsets_topic *qt = &q->topics.items[i];
		struct kafka_list_offsets_response_list_offsets_topic_response *ot = &resp.topics.items[i];
		ot->name = qt->name;
		int32_t np = qt->partitions.count > 0 ? qt->partitions.count : 0;
		if (!API_ARRAY(r, ot->partitions, np))
			goto oom;
		struct topic *t = qt->name.len > 0 ? topics_find(b->topics, qt->name.p, (size_t)qt->name.len) : NULL;
		for (int32_t k = 0; k < np; k++) {
			const struct kafka_list_offsets_request_list_offsets_partition *qp = &qt->partitions.items[k];
			struct kafka_list_offsets_response_list_offsets_partition_response *op = &ot->partitions.items[k];
			op->partition_index = qp->partition_index;
			op->offset = -1;
			op->timestamp = -1;
			op->leader_epoch = -1;
			op->old_style_offsets.count = 0;
			struct partition *p = t ? topic_partition(t, qp->partition_index) : NULL;
			if (!p) {
				op->error_code = KAFKA_EC_UNKNOWN_TOPIC_OR_PARTITION;
				continue;
			}
			if (r->hdr.api_version >= 4 && qp->current_leader_epoch >= 0 &&
			    qp->current_leader_epoch != p->leader.epoch) {
				op->error_code = qp->current_leader_epoch < p->leader.epoch ? KAFKA_EC_FENCED_LEADER_EPOCH
											    : KAFKA_EC_UNKNOWN_LEADER_EPOCH;
				continue;
			}
			lookup(p, qp->timestamp, &op->offset, &op->timestamp);
			op->leader_epoch = p->leader.epoch;
			if (r->hdr.api_version == 0) {
				int64_t *one = kreq_alloc(r, sizeof *one);
				if (!one)
					goto oom;
				*one = op->offset;
				op->old_style_offsets.items = one;
				op->old_style_offsets.count = op->offset >= 0 ? 1 : 0;
			}
		}
	}
	kreq_respond(r, &resp);
	return;
oom:
	kreq_close_after(r);
	kreq_respond_none(r);
}
