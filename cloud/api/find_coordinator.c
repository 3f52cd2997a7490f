/* FindCoordinator (key 10): this node coordinates every group.  Transaction coordinators (key_type 1) are
 * not offered: no transactions yet. */
#include "cloud/api/api.h"

static int16_t answer(struct broker *b, int8_t key_type, int32_t *node, struct kafka_str *host, int32_t *port,
		      bool tls)
{
	if (key_type != 0) {
		*node = -1;
		*host = kstr("");
		*port = -1;
		return KAFKA_EC_COORDINATOR_NOT_AVAILABLE;
	}
	*node = (int32_t)b->cfg->node_id;
	*host = kstr(tls ? b->tls_advertised_host : b->advertised_host);
	*port = tls ? b->tls_advertised_port : b->advertised_port;
	return KAFKA_EC_NONE;
}

void api_find_coordinator(struct broker *b, struct kreq *r)
{
	const struct kafka_find_coordinator_request *q = &r->body.find_coordinator;
	struct kafka_find_coordinator_response resp;
	kafka_msg_init(&kafka_msg_find_coordinator_response, &resp);
	bool tls = kreq_is_tls(r);
	if (r->hdr.api_version < 4) {
		resp.error_code = answer(b, q->key_type, &resp.node_id, &resp.host, &resp.port, tls);
		resp.error_message = kstr_null();
		kreq_respond(r, &resp);
		return;
	}
	int32_t n = q->coordinator_keys.count > 0 ? q->coordinator_keys.count : 0;
	if (!API_ARRAY(r, resp.coordinators, n))
		resp.coordinators.count = 0;
	for (int32_t i = 0; i < resp.coordinators.count; i++) {
		struct kafka_find_coordinator_response_coordinator *c = &resp.coordinators.items[i];
		c->key = q->coordinator_keys.items[i];
		c->error_code = answer(b, q->key_type, &c->node_id, &c->host, &c->port, tls);
		c->error_message = kstr_null();
	}
	kreq_respond(r, &resp);
}
