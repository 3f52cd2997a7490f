/* DescribeCluster (key 60, KIP-700): this node as the only broker and the controller. */
#include "cloud/api/api.h"

void api_describe_cluster(struct broker *b, struct kreq *r)
{
	struct kafka_describe_cluster_response resp;
	kafka_msg_init(&kafka_msg_describe_cluster_response, &resp);
	resp.error_message = kstr_null();
	resp.endpoint_type = 1; /* brokers */
	resp.cluster_id = kstr(b->cfg->cluster_id);
	resp.controller_id = (int32_t)b->cfg->node_id;
	resp.cluster_authorized_operations = INT32_MIN;
	struct kafka_describe_cluster_response_describe_cluster_broker *br = kreq_alloc(r, sizeof *br);
	if (br) {
		bool tls = kreq_is_tls(r);
		br->broker_id = (int32_t)b->cfg->node_id;
		br->host = kstr(tls ? b->tls_advertised_host : b->advertised_host);
		br->port = tls ? b->tls_advertised_port : b->advertised_port;
		br->rack = kstr_null();
		resp.brokers.items = br;
		resp.brokers.count = 1;
	} else {
		resp.error_code = KAFKA_EC_UNKNOWN_SERVER_ERROR;
	}
	kreq_respond(r, &resp);
}
