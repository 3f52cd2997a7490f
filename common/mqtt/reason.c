/* MQTT 5.0 reason codes (§2.4) as data, and the mapping from codec errors to what a broker must answer.
 * The choice per error follows the spec's wording: "malformed" statements give 0x81, "Protocol Error"
 * statements 0x82; docs/mqtt-codec.md lists each with its clause. */
#include "mqtt/codec.h"

#define P(t) (1u << (t))
#define ACK4 (P(MQTT_PUBACK) | P(MQTT_PUBREC))
#define SUBS (P(MQTT_SUBACK) | P(MQTT_UNSUBACK))
#define DIS P(MQTT_DISCONNECT)
#define CA P(MQTT_CONNACK)

struct reason_info {
	uint8_t code;
	uint16_t packets;
	const char *name;
};

static const struct reason_info reasons[] = {
	{0x00, CA | ACK4 | P(MQTT_PUBREL) | P(MQTT_PUBCOMP) | P(MQTT_UNSUBACK) | P(MQTT_AUTH) | DIS | P(MQTT_SUBACK),
	 "Success"},
	{0x01, P(MQTT_SUBACK), "Granted QoS 1"},
	{0x02, P(MQTT_SUBACK), "Granted QoS 2"},
	{0x04, DIS, "Disconnect with Will Message"},
	{0x10, ACK4, "No matching subscribers"},
	{0x11, P(MQTT_UNSUBACK), "No subscription existed"},
	{0x18, P(MQTT_AUTH), "Continue authentication"},
	{0x19, P(MQTT_AUTH), "Re-authenticate"},
	{0x80, CA | ACK4 | SUBS | DIS, "Unspecified error"},
	{0x81, CA | DIS, "Malformed Packet"},
	{0x82, CA | DIS, "Protocol Error"},
	{0x83, CA | ACK4 | SUBS | DIS, "Implementation specific error"},
	{0x84, CA, "Unsupported Protocol Version"},
	{0x85, CA, "Client Identifier not valid"},
	{0x86, CA, "Bad User Name or Password"},
	{0x87, CA | ACK4 | SUBS | DIS, "Not authorized"},
	{0x88, CA, "Server unavailable"},
	{0x89, CA | DIS, "Server busy"},
	{0x8A, CA, "Banned"},
	{0x8B, DIS, "Server shutting down"},
	{0x8C, CA | DIS, "Bad authentication method"},
	{0x8D, DIS, "Keep Alive timeout"},
	{0x8E, DIS, "Session taken over"},
	{0x8F, SUBS | DIS, "Topic Filter invalid"},
	{0x90, CA | ACK4 | DIS, "Topic Name invalid"},
	{0x91, ACK4 | SUBS, "Packet Identifier in use"},
	{0x92, P(MQTT_PUBREL) | P(MQTT_PUBCOMP), "Packet Identifier not found"},
	{0x93, DIS, "Receive Maximum exceeded"},
	{0x94, DIS, "Topic Alias invalid"},
	{0x95, CA | DIS, "Packet too large"},
	{0x96, DIS, "Message rate too high"},
	{0x97, CA | ACK4 | P(MQTT_SUBACK) | DIS, "Quota exceeded"},
	{0x98, DIS, "Administrative action"},
	{0x99, CA | ACK4 | DIS, "Payload format invalid"},
	{0x9A, CA | DIS, "Retain not supported"},
	{0x9B, CA | DIS, "QoS not supported"},
	{0x9C, CA | DIS, "Use another server"},
	{0x9D, CA | DIS, "Server moved"},
	{0x9E, P(MQTT_SUBACK) | DIS, "Shared Subscriptions not supported"},
	{0x9F, CA | DIS, "Connection rate exceeded"},
	{0xA0, DIS, "Maximum connect time"},
	{0xA1, P(MQTT_SUBACK) | DIS, "Subscription Identifiers not supported"},
	{0xA2, P(MQTT_SUBACK) | DIS, "Wildcard Subscriptions not supported"},
};

static const struct reason_info *find(uint8_t code)
{
	for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
		if (reasons[i].code == code)
			return &reasons[i];
	return NULL;
}

const char *mqtt_reason_name(uint8_t code)
{
	const struct reason_info *r = find(code);
	return r ? r->name : NULL;
}

const char *mqtt_reason_name_in(uint8_t type, uint8_t code)
{
	if (code == 0 && type == MQTT_DISCONNECT)
		return "Normal disconnection";
	if (code == 0 && type == MQTT_SUBACK)
		return "Granted QoS 0";
	return mqtt_reason_name(code);
}

bool mqtt_reason_allowed(uint8_t type, uint8_t code)
{
	const struct reason_info *r = find(code);
	return r && type < 16 && (r->packets & P(type));
}

uint8_t mqtt_err_reason5(int err)
{
	switch (err) {
	case ERR_MQTT_PACKET_TOO_LARGE:
		return MQTT_RC_PACKET_TOO_LARGE;
	case ERR_MQTT_PROTOCOL_NAME:
	case ERR_MQTT_PROTOCOL_VERSION:
		return MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION; /* 5.0 §3.1.2.1, §3.1.2.2 */
	case ERR_MQTT_CLIENT_ID:
		return MQTT_RC_CLIENT_ID_NOT_VALID;
	case ERR_MQTT_TOPIC_ALIAS:
		return MQTT_RC_TOPIC_ALIAS_INVALID; /* 5.0 §3.3.2.3.4 */
	case ERR_MQTT_TOPIC_TOO_LONG:
		return MQTT_RC_TOPIC_NAME_INVALID;
	case ERR_MQTT_FILTER_TOO_LONG:
		return MQTT_RC_TOPIC_FILTER_INVALID;
	case ERR_MQTT_PROP_DUPLICATE:     /* 5.0 §2.2.2.2 */
	case ERR_MQTT_PROP_NOT_ALLOWED:
	case ERR_MQTT_PROP_VALUE:         /* §3.1.2.11.x, §3.2.2.3.x: "It is a Protocol Error ..." */
	case ERR_MQTT_PACKET_ID:          /* [MQTT-2.2.1-3] */
	case ERR_MQTT_TOPIC_EMPTY:        /* §3.3.2.3.4 */
	case ERR_MQTT_SUBSCRIBE_EMPTY:    /* §3.8.3, §3.10.3 */
	case ERR_MQTT_RETAIN_HANDLING:    /* §3.8.3.1 */
	case ERR_MQTT_NO_LOCAL_SHARED:    /* [MQTT-3.8.3-4] */
	case ERR_MQTT_AUTH_METHOD:        /* §3.1.2.11.10 */
	case ERR_MQTT_SUBSCRIPTION_ID:    /* [MQTT-3.3.4-6] */
	case ERR_MQTT_RESPONSE_TOPIC:
	case ERR_MQTT_TOPIC_ALIAS_UNKNOWN: /* §3.3.2.3.4 */
	case ERR_MQTT_PACKET_ID_STATE:
	case ERR_MQTT_PACKET_ID_UNKNOWN:   /* the broker usually answers 0x92 instead */
		return MQTT_RC_PROTOCOL_ERROR;
	case ERR_MQTT_RECEIVE_MAX:
		return MQTT_RC_RECEIVE_MAX_EXCEEDED; /* §3.3.4 [MQTT-3.3.4-9] */
	default:
		return MQTT_RC_MALFORMED_PACKET;
	}
}

int mqtt_err_connack4(int err)
{
	switch (err) {
	case ERR_MQTT_PROTOCOL_VERSION:
		return MQTT_CONNACK311_BAD_VERSION; /* 3.1.1 [MQTT-3.1.2-2] */
	case ERR_MQTT_CLIENT_ID:
		return MQTT_CONNACK311_ID_REJECTED; /* 3.1.1 [MQTT-3.1.3-8] */
	default:
		return -1; /* 3.1.1 §4.8: close the Network Connection */
	}
}
