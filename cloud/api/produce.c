/* Produce (key 0), v0-9.  Each partition's records are RecordBatch v2 batches, stored as received: the log
 * checks the header and CRC32C (a bad CRC is CORRUPT_MESSAGE, one log line, a counter, nothing stored), runs
 * the idempotence checks (a duplicate of one of the producer's last five batches is answered with its
 * original offset, KIP-98), and stamps the base offset.  acks=0 gets no answer at all; with the "always"
 * flush policy acks=1/all wait for the group commit that makes the batch durable. */
#include <event2/event.h>

#include "base/err.h"
#include "base/log.h"
#include "cloud/api/api.h"
#include "cloud/log/batch_header.h"
#include "cloud/partition/partition.h"

#define EC_INVALID_PRODUCER_EPOCH 47
#define EC_OUT_OF_ORDER 45
#define EC_UNSUPPORTED_FOR_MESSAGE_FORMAT 43
#define EC_KAFKA_STORAGE_ERROR 56
#define EC_TRANSACTIONAL_ID_AUTHORIZATION_FAILED 53

/* One partition a parked Produce appended to: durable once the log's flushed offset passes last_offset. */
struct produce_wait {
	struct log *log;
	int64_t last_offset;
	struct kafka_produce_response_partition_produce_response *o;
};

struct produce_park {
	struct broker_waiter w;
	struct kafka_produce_response resp;
	struct produce_wait *parts;
	size_t count;
};

static int16_t append_all(struct broker *b, struct kreq *r, struct partition *p, struct kafka_bytes rec,
			  struct kafka_produce_response_partition_produce_response *o)
{
	struct topic *t = p->topic;
	if (rec.len <= 0)
		return KAFKA_EC_CORRUPT_MESSAGE;
	/* The frame is ours (request_new copied it), so the batch may be stamped in place. */
	uint8_t *at = (uint8_t *)rec.p;
	size_t left = (size_t)rec.len;
	bool first = true;
	while (left) {
		struct batch_header h;
		int rc = batch_header_decode(at, left, left, &h);
		if (rc || batch_size(&h) > left) {
			metric_add(t->ctr.batches_rejected, 1);
			log_warn("produce %s-%d from %s: %s batch header", t->name, p->index, kreq_peer(r),
				 rc == ERR_UNSUPPORTED ? "unsupported (magic < 2)" : "malformed");
			return rc == ERR_UNSUPPORTED ? EC_UNSUPPORTED_FOR_MESSAGE_FORMAT : KAFKA_EC_CORRUPT_MESSAGE;
		}
		size_t len = batch_size(&h);
		struct log_append_info info;
		rc = partition_append(p, at, len, &info);
		if (rc) {
			metric_add(t->ctr.batches_rejected, 1);
			if (rc == ERR_CORRUPT) {
				metric_add(b->m.crc_rejected, 1);
				log_warn("produce %s-%d from %s: batch CRC mismatch, rejected", t->name, p->index, kreq_peer(r));
			} else {
				log_warn("produce %s-%d from %s: append: %s", t->name, p->index, kreq_peer(r), err_str(rc));
			}
			return api_error_from_err(rc);
		}
		if (!info.appended) {
			switch (info.producer.verdict) {
			case PRODUCER_DUPLICATE:
				/* A retry: answer with where the original went, store nothing. */
				info.base_offset = info.producer.duplicate_base_offset;
				break;
			case PRODUCER_OUT_OF_ORDER:
				metric_add(t->ctr.batches_rejected, 1);
				return EC_OUT_OF_ORDER;
			case PRODUCER_FENCED:
				metric_add(t->ctr.batches_rejected, 1);
				return EC_INVALID_PRODUCER_EPOCH;
			default:
				return KAFKA_EC_UNKNOWN_SERVER_ERROR;
			}
		} else {
			metric_add(t->ctr.bytes_in, (int64_t)len);
			metric_add(t->ctr.records_in, info.record_count);
		}
		if (first)
			o->base_offset = info.base_offset;
		first = false;
		at += len;
		left -= len;
	}
	return KAFKA_EC_NONE;
}

/* Ready when every partition's append is durable; a failed log (fsync error) answers KAFKA_STORAGE_ERROR for
 * its partition, since what was appended there may be lost and must not be acknowledged.  must_answer
 * (shutdown): whatever is not durable yet is answered with that error too. */
static bool produce_ready(struct broker *b, struct broker_waiter *w, bool must_answer)
{
	(void)b;
	struct produce_park *pk = (struct produce_park *)w;
	for (size_t i = 0; i < pk->count; i++) {
		struct produce_wait *pw = &pk->parts[i];
		if (pw->log && log_flushed_offset(pw->log) <= pw->last_offset && !log_failed(pw->log) && !must_answer)
			return false;
	}
	for (size_t i = 0; i < pk->count; i++) {
		struct produce_wait *pw = &pk->parts[i];
		if (pw->log && log_flushed_offset(pw->log) <= pw->last_offset) {
			pw->o->error_code = EC_KAFKA_STORAGE_ERROR;
			pw->o->base_offset = -1;
		}
	}
	kreq_respond(w->req, &pk->resp);
	return true;
}

/* Note (log, last offset) for every partition answered without error; resp's arrays live in the request
 * arena, so the pointers stay valid while the request is parked. */
static bool park_parts(struct broker *b, struct kreq *r, struct produce_park *pk, struct kafka_produce_response *resp)
{
	size_t n = 0;
	for (int32_t i = 0; i < resp->responses.count; i++)
		n += (size_t)resp->responses.items[i].partition_responses.count;
	pk->count = 0;
	pk->parts = n ? kreq_alloc(r, n * sizeof *pk->parts) : NULL;
	if (n && !pk->parts)
		return false;
	for (int32_t i = 0; i < resp->responses.count; i++) {
		struct kafka_produce_response_topic_produce_response *to = &resp->responses.items[i];
		struct topic *t = to->name.len > 0 ? topics_find(b->topics, to->name.p, (size_t)to->name.len) : NULL;
		for (int32_t k = 0; k < to->partition_responses.count; k++) {
			struct kafka_produce_response_partition_produce_response *o = &to->partition_responses.items[k];
			struct partition *p = t ? topic_partition(t, o->index) : NULL;
			if (!p || o->error_code != KAFKA_EC_NONE)
				continue;
			/* The log end covers this request's batches and a duplicate's original alike. */
			pk->parts[pk->count++] = (struct produce_wait){p->log, log_end_offset(p->log) - 1, o};
		}
	}
	return true;
}

void api_produce_topic_gone(struct broker *b, struct topic *t)
{
	struct broker_waiter *w;
	TAILQ_FOREACH(w, &b->produce_waiters, link) {
		struct produce_park *pk = (struct produce_park *)w;
		for (size_t i = 0; i < pk->count; i++)
			for (uint32_t k = 0; k < t->partition_count && pk->parts[i].log; k++)
				if (pk->parts[i].log == t->partitions[k].log) {
					struct produce_wait *pw = &pk->parts[i];
					if (log_flushed_offset(pw->log) <= pw->last_offset) {
						pw->o->error_code = KAFKA_EC_UNKNOWN_TOPIC_OR_PARTITION;
						pw->o->base_offset = -1;
					}
					pw->log = NULL;
				}
	}
}

void api_produce(struct broker *b, struct kreq *r)
{
	const struct kafka_produce_request *q = &r->body.produce;
	struct kafka_produce_response resp;
	kafka_msg_init(&kafka_msg_produce_response, &resp);
	int16_t all_err = KAFKA_EC_NONE;
	if (q->acks != 0 && q->acks != 1 && q->acks != -1)
		all_err = KAFKA_EC_INVALID_REQUIRED_ACKS;
	if (q->transactional_id.len >= 0)
		all_err = EC_TRANSACTIONAL_ID_AUTHORIZATION_FAILED; /* no transactions yet */
	int32_t nt = q->topic_data.count > 0 ? q->topic_data.count : 0;
	bool appended = false;
	if (!API_ARRAY(r, resp.responses, nt))
		goto oom;
	for (int32_t i = 0; i < nt; i++) {
		const struct kafka_produce_request_topic_produce_data *td = &q->topic_data.items[i];
		struct kafka_produce_response_topic_produce_response *to = &resp.responses.items[i];
		to->name = td->name;
		int32_t np = td->partition_data.count > 0 ? td->partition_data.count : 0;
		if (!API_ARRAY(r, to->partition_responses, np))
			goto oom;
		struct topic *t = td->name.len > 0 ? topics_find(b->topics, td->name.p, (size_t)td->name.len) : NULL;
		for (int32_t k = 0; k < np; k++) {
			const struct kafka_produce_request_partition_produce_data *pd = &td->partition_data.items[k];
			struct kafka_produce_response_partition_produce_response *o = &to->partition_responses.items[k];
			o->index = pd->index;
			o->base_offset = -1;
			o->log_append_time_ms = -1;
			o->log_start_offset = -1;
			o->error_message = kstr_null();
			struct partition *p = t ? topic_partition(t, pd->index) : NULL;
			if (all_err)
				o->error_code = all_err;
			else if (!p)
				o->error_code = KAFKA_EC_UNKNOWN_TOPIC_OR_PARTITION;
			else if (t->internal)
				o->error_code = KAFKA_EC_TOPIC_AUTHORIZATION_FAILED;
			else
				o->error_code = append_all(b, r, p, pd->records, o);
			if (p) {
				o->log_start_offset = log_start_offset(p->log);
				if (o->error_code == KAFKA_EC_NONE) {
					appended = true;
					broker_data_arrived(b, p);
				}
			}
		}
	}
	if (q->acks == 0) {
		/* No answer with acks=0; an error closes the connection instead, so the producer notices and
		 * refreshes its metadata (Kafka does the same). */
		int16_t err = 0;
		for (int32_t i = 0; i < resp.responses.count && !err; i++)
			for (int32_t k = 0; k < resp.responses.items[i].partition_responses.count && !err; k++)
				err = resp.responses.items[i].partition_responses.items[k].error_code;
		if (err) {
			log_warn("produce acks=0 from %s: error %d, closing the connection", kreq_peer(r), err);
			kreq_close_after(r);
		}
		kreq_respond_none(r);
		return;
	}
	if (appended && b->cfg->flush == CLOUD_FLUSH_ALWAYS) {
		struct produce_park *pk = kreq_alloc(r, sizeof *pk);
		if (!pk || !park_parts(b, r, pk, &resp))
			goto oom;
		pk->resp = resp;
		pk->w.req = r;
		pk->w.ready = produce_ready;
		pk->w.deadline_ms = UINT64_MAX;
		broker_park(b, &b->produce_waiters, &pk->w);
		return;
	}
	kreq_respond(r, &resp);
	return;
oom:
	kafka_msg_init(&kafka_msg_produce_response, &resp);
	log_error("produce from %s: request arena exhausted", kreq_peer(r));
	kreq_close_after(r);
	kreq_respond_none(r);
}
