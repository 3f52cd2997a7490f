/* SaslHandshake (key 17): choose the mechanism for the SaslAuthenticate exchange that follows (v1, KIP-152;
 * v0's raw-token framing is not supported). */
#include "cloud/api/api.h"
#include "cloud/server/sasl.h"

void api_sasl_handshake(struct broker *b, struct kreq *r)
{
	(void)b;
	const struct kafka_sasl_handshake_request *q = &r->body.sasl_handshake;
	struct kafka_sasl_handshake_response resp;
	kafka_msg_init(&kafka_msg_sasl_handshake_response, &resp);
	static struct kafka_str names[3];
	for (int i = 0; i < 3; i++)
		names[i] = kstr(sasl_mech_names[i]);
	resp.mechanisms.items = names;
	resp.mechanisms.count = 3;
	struct sasl_session *s = kreq_sasl(r);
	enum sasl_mech m = sasl_mech_parse(q->mechanism.p ? q->mechanism.p : "", kstr_len(q->mechanism));
	if (r->hdr.api_version == 0)
		resp.error_code = KAFKA_EC_UNSUPPORTED_VERSION; /* v0 would switch to raw tokens */
	else if (m == SASL_MECH_NONE)
		resp.error_code = KAFKA_EC_UNSUPPORTED_SASL_MECHANISM;
	else if (!s || sasl_session_start(s, m))
		resp.error_code = KAFKA_EC_ILLEGAL_SASL_STATE;
	if (resp.error_code)
		kreq_close_after(r);
	kreq_respond(r, &resp);
}
