/* SaslAuthenticate (key 36): one SASL token per request.  A failure is answered with
 * SASL_AUTHENTICATION_FAILED and a reason that says nothing about which part was wrong, then the connection
 * closes (Kafka's behaviour). */
#include "base/err.h"
#include "base/log.h"
#include "cloud/api/api.h"
#include "cloud/server/sasl.h"

void api_sasl_authenticate(struct broker *b, struct kreq *r)
{
	const struct kafka_sasl_authenticate_request *q = &r->body.sasl_authenticate;
	struct kafka_sasl_authenticate_response resp;
	kafka_msg_init(&kafka_msg_sasl_authenticate_response, &resp);
	resp.error_message = kstr_null();
	struct sasl_session *s = kreq_sasl(r);
	struct dbuf out;
	dbuf_init(&out, SASL_MESSAGE_MAX);
	bool done = false;
	char why[160] = "";
	int rc = s ? sasl_session_step(s, b->users, q->auth_bytes.p ? q->auth_bytes.p : (const uint8_t *)"",
				       q->auth_bytes.len > 0 ? (size_t)q->auth_bytes.len : 0, &out, &done, why, sizeof why)
		   : -1;
	if (rc) {
		metric_add(b->m.auth_failed, 1);
		log_warn("kafka: %s: SASL %s authentication failed: %s", kreq_peer(r),
			 s ? sasl_mech_name(s->mech) : "?", why);
		resp.error_code = rc == ERR_STATE ? KAFKA_EC_ILLEGAL_SASL_STATE : KAFKA_EC_SASL_AUTHENTICATION_FAILED;
		resp.error_message = kstr(why[0] ? why : "authentication failed");
		kreq_close_after(r);
	} else {
		char *copy = kreq_alloc(r, out.len + 1);
		if (copy && out.len)
			memcpy(copy, out.p, out.len);
		resp.auth_bytes = kbytes(copy ? copy : "", copy ? out.len : 0);
		if (done) {
			kreq_set_authenticated(r, s->principal);
			log_info("kafka: %s authenticated as %s (%s)", kreq_peer(r), s->principal, sasl_mech_name(s->mech));
		}
	}
	dbuf_deinit(&out);
	kreq_respond(r, &resp);
}
