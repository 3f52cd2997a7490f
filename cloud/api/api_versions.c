/* ApiVersions (key 18): the API ranges we speak, from the codec's table.  Answered before authentication. */
#include "cloud/api/api.h"

void api_api_versions(struct broker *b, struct kreq *r)
{
	(void)b;
	struct kafka_api_versions_response resp;
	kafka_msg_init(&kafka_msg_api_versions_response, &resp);
	struct kafka_api_versions_response_api_version *items = kreq_alloc(r, sizeof *items * KAFKA_API_COUNT);
	if (!items) {
		resp.error_code = KAFKA_EC_UNKNOWN_SERVER_ERROR;
		kreq_respond(r, &resp);
		return;
	}
	kafka_api_versions_fill(&resp, items);
	kreq_respond(r, &resp);
}

void api_versions_reject(struct kreq *r)
{
	/* Encode as v0 whatever version the client asked for (KIP-511). */
	r->hdr.api_version = 0;
	struct kafka_api_versions_response resp;
	kafka_msg_init(&kafka_msg_api_versions_response, &resp);
	struct kafka_api_versions_response_api_version *items = kreq_alloc(r, sizeof *items * KAFKA_API_COUNT);
	resp.error_code = KAFKA_EC_UNSUPPORTED_VERSION;
	if (items)
		kafka_api_versions_fill(&resp, items);
	kreq_respond(r, &resp);
}
