/* InitProducerId (key 22): a fresh producer id with epoch 0 for an idempotent producer, from a block of ids
 * reserved durably (broker_alloc_producer_id), so ids never repeat across restarts.  v3+ (KIP-360): a producer
 * that names its current id and epoch gets the epoch bumped, keeping its id.  Transactional ids are refused:
 * no transactions yet. */
#include "base/log.h"
#include "cloud/api/api.h"

#define EC_TRANSACTIONAL_ID_AUTHORIZATION_FAILED 53

void api_init_producer_id(struct broker *b, struct kreq *r)
{
	const struct kafka_init_producer_id_request *q = &r->body.init_producer_id;
	struct kafka_init_producer_id_response resp;
	kafka_msg_init(&kafka_msg_init_producer_id_response, &resp);
	resp.producer_id = -1;
	resp.producer_epoch = -1;
	if (q->transactional_id.len >= 0) {
		resp.error_code = EC_TRANSACTIONAL_ID_AUTHORIZATION_FAILED;
	} else if (r->hdr.api_version >= 3 && q->producer_id >= 0 && q->producer_id < b->next_producer_id &&
		   q->producer_epoch >= 0 && q->producer_epoch < INT16_MAX - 1) {
		resp.producer_id = q->producer_id;
		resp.producer_epoch = (int16_t)(q->producer_epoch + 1);
	} else {
		int64_t id;
		if (broker_alloc_producer_id(b, &id)) {
			resp.error_code = KAFKA_EC_COORDINATOR_NOT_AVAILABLE; /* retriable: the client tries again */
		} else {
			resp.producer_id = id;
			resp.producer_epoch = 0;
		}
	}
	kreq_respond(r, &resp);
}
