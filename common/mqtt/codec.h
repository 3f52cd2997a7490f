/* MQTT 3.1.1 and 5.0 packet codec.
 *
 * Pure: no I/O, no allocation, no globals.  Decoders take a whole packet (fixed header included, as framed by
 * mqtt_frame) and fill a struct whose strings and payloads are (ptr, len) views into that input, so the input
 * must outlive the struct.  Each returns the bytes consumed (the whole packet), ERR_AGAIN when the buffer
 * holds less than the fixed header announces, or a specific ERR_MQTT_* code for each rule of the specs that a
 * receiver can check on one packet (docs/mqtt-codec.md lists them with their reason codes).
 *
 * Encoders are the mirror: mqtt_x_size() gives the whole packet size, mqtt_encode_x() writes it into a
 * caller's struct wbuf and returns 0 or the wbuf's error.  Encoders trust their input (asserts, not errors):
 * they are fed by our own code.
 *
 * version is MQTT_V311 (4) or MQTT_V5 (5): the protocol level from CONNECT. */
#ifndef FERRY_MQTT_CODEC_H
#define FERRY_MQTT_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/rw.h"

#define MQTT_V311 4
#define MQTT_V5 5

enum mqtt_type {
	MQTT_CONNECT = 1,
	MQTT_CONNACK = 2,
	MQTT_PUBLISH = 3,
	MQTT_PUBACK = 4,
	MQTT_PUBREC = 5,
	MQTT_PUBREL = 6,
	MQTT_PUBCOMP = 7,
	MQTT_SUBSCRIBE = 8,
	MQTT_SUBACK = 9,
	MQTT_UNSUBSCRIBE = 10,
	MQTT_UNSUBACK = 11,
	MQTT_PINGREQ = 12,
	MQTT_PINGRESP = 13,
	MQTT_DISCONNECT = 14,
	MQTT_AUTH = 15,
};

/* Bit of mqtt_prop_info.packets for the will properties inside CONNECT (packet type 0 is reserved). */
#define MQTT_WILL_PROPS 0

const char *mqtt_type_name(uint8_t type);

/* A view into the decoded input (or, for encoding, into caller memory).  ptr is NULL when absent. */
struct mqtt_bytes {
	const uint8_t *ptr;
	uint32_t len;
};

static inline struct mqtt_bytes mqtt_cstr(const char *s)
{
	struct mqtt_bytes b = {(const uint8_t *)s, (uint32_t)strlen(s)};
	return b;
}

/* ---- fixed header -------------------------------------------------------------------------------------- */

struct mqtt_fixed {
	uint8_t type;           /* enum mqtt_type */
	uint8_t flags;          /* low 4 bits of the first byte */
	uint8_t header_len;     /* 2..5 */
	uint32_t remaining_len; /* the packet is header_len + remaining_len bytes */
};

/* Frames one packet at the start of a stream buffer.  Returns the fixed header length (the whole packet is
 * header_len + remaining_len, which the caller waits for), ERR_AGAIN while the header is incomplete, or
 * ERR_MQTT_REMAINING_LENGTH, ERR_MQTT_PACKET_TOO_LARGE (whole packet over packet_size_max),
 * ERR_MQTT_PACKET_TYPE (0, or 15 before 5.0), ERR_MQTT_FIXED_FLAGS, ERR_MQTT_QOS.  version 0 means "not
 * known yet" (before CONNECT): AUTH is accepted there and the CONNECT decoder decides. */
int mqtt_frame(const uint8_t *buf, size_t len, uint8_t version, uint32_t packet_size_max, struct mqtt_fixed *hdr);

/* ---- properties (5.0 §2.2.2) --------------------------------------------------------------------------- */

enum mqtt_prop_id {
	MQTT_PROP_PAYLOAD_FORMAT = 0x01,
	MQTT_PROP_MESSAGE_EXPIRY = 0x02,
	MQTT_PROP_CONTENT_TYPE = 0x03,
	MQTT_PROP_RESPONSE_TOPIC = 0x08,
	MQTT_PROP_CORRELATION_DATA = 0x09,
	MQTT_PROP_SUBSCRIPTION_ID = 0x0B,
	MQTT_PROP_SESSION_EXPIRY = 0x11,
	MQTT_PROP_ASSIGNED_CLIENT_ID = 0x12,
	MQTT_PROP_SERVER_KEEP_ALIVE = 0x13,
	MQTT_PROP_AUTH_METHOD = 0x15,
	MQTT_PROP_AUTH_DATA = 0x16,
	MQTT_PROP_REQUEST_PROBLEM_INFO = 0x17,
	MQTT_PROP_WILL_DELAY = 0x18,
	MQTT_PROP_REQUEST_RESPONSE_INFO = 0x19,
	MQTT_PROP_RESPONSE_INFO = 0x1A,
	MQTT_PROP_SERVER_REFERENCE = 0x1C,
	MQTT_PROP_REASON_STRING = 0x1F,
	MQTT_PROP_RECEIVE_MAX = 0x21,
	MQTT_PROP_TOPIC_ALIAS_MAX = 0x22,
	MQTT_PROP_TOPIC_ALIAS = 0x23,
	MQTT_PROP_MAX_QOS = 0x24,
	MQTT_PROP_RETAIN_AVAILABLE = 0x25,
	MQTT_PROP_USER = 0x26,
	MQTT_PROP_MAX_PACKET_SIZE = 0x27,
	MQTT_PROP_WILDCARD_SUB_AVAILABLE = 0x28,
	MQTT_PROP_SUB_ID_AVAILABLE = 0x29,
	MQTT_PROP_SHARED_SUB_AVAILABLE = 0x2A,
};
#define MQTT_PROP_ID_MAX 0x2A
#define MQTT_PROP_COUNT 27
#define MQTT_PROP_NUM_SLOTS 17   /* scalar properties */
#define MQTT_PROP_BYTES_SLOTS 9  /* string and binary properties */

enum mqtt_prop_type {
	MQTT_PT_BYTE = 1,
	MQTT_PT_U16,
	MQTT_PT_U32,
	MQTT_PT_VBI,
	MQTT_PT_UTF8,
	MQTT_PT_BINARY,
	MQTT_PT_PAIR,
};

/* The property table (data, 5.0 §2.2.2.2): id, value type, the packets it may appear in (bit = packet type,
 * bit MQTT_WILL_PROPS = will properties), and its storage slot in struct mqtt_props. */
struct mqtt_prop_info {
	uint8_t id;
	uint8_t type;     /* enum mqtt_prop_type */
	uint8_t slot;     /* index into num[] or bytes[] (unused for PAIR) */
	uint16_t packets;
	const char *name;
};
extern const struct mqtt_prop_info mqtt_prop_table[MQTT_PROP_COUNT];
/* NULL for an identifier the spec does not define. */
const struct mqtt_prop_info *mqtt_prop_lookup(uint32_t id);

struct mqtt_user_prop {
	struct mqtt_bytes name, value;
};

/* The properties of one packet.  Decoded: `raw` views the property block as received (without its length
 * prefix) so a broker can forward user properties without copying them; scalars and strings are decoded into
 * the slots (a slot of an absent property is unspecified: read through mqtt_prop_num / mqtt_prop_bytes);
 * user_count / sub_id_count count the repeatable ones (iterate them with mqtt_prop_iter).
 * Encoding: set fields with mqtt_prop_set_*; user properties and subscription identifiers come from the
 * arrays when given, else from `raw` (so a decoded set re-encodes as it came).  Properties are written in
 * identifier order. */
struct mqtt_props {
	uint64_t present; /* bit (1 << id) per property present */
	const uint8_t *raw;
	uint32_t raw_len;
	uint32_t num[MQTT_PROP_NUM_SLOTS];
	struct mqtt_bytes bytes[MQTT_PROP_BYTES_SLOTS];
	uint32_t user_count;
	uint32_t sub_id_count;
	const struct mqtt_user_prop *user; /* encoding only; not owned */
	const uint32_t *sub_ids;           /* encoding only; not owned */
};

static inline bool mqtt_prop_has(const struct mqtt_props *p, uint8_t id) { return (p->present >> id) & 1; }
/* Value of a scalar property (the first Subscription Identifier); 0 when absent. */
uint32_t mqtt_prop_num(const struct mqtt_props *p, uint8_t id);
/* View of a string or binary property; {NULL, 0} when absent. */
struct mqtt_bytes mqtt_prop_bytes(const struct mqtt_props *p, uint8_t id);
void mqtt_prop_set_num(struct mqtt_props *p, uint8_t id, uint32_t v);
void mqtt_prop_set_bytes(struct mqtt_props *p, uint8_t id, struct mqtt_bytes v);
void mqtt_prop_clear(struct mqtt_props *p, uint8_t id);

/* Walks a decoded property block in wire order. */
struct mqtt_prop_iter {
	struct rbuf r;
};
struct mqtt_prop {
	uint8_t id;
	uint32_t num;            /* BYTE, U16, U32, VBI */
	struct mqtt_bytes a, b;  /* UTF8/BINARY in a; PAIR name in a, value in b */
};
void mqtt_prop_iter_init(struct mqtt_prop_iter *it, const struct mqtt_props *p);
bool mqtt_prop_next(struct mqtt_prop_iter *it, struct mqtt_prop *out);
/* Next user property (skips the others). */
bool mqtt_prop_next_user(struct mqtt_prop_iter *it, struct mqtt_bytes *name, struct mqtt_bytes *value);

/* Encoded size of the properties including the length prefix (0 for 3.1.1 is the caller's business). */
size_t mqtt_props_size(const struct mqtt_props *p);
void mqtt_props_encode(struct wbuf *w, const struct mqtt_props *p);

/* ---- reason codes (5.0 §2.4) --------------------------------------------------------------------------- */

enum mqtt_reason {
	MQTT_RC_SUCCESS = 0x00,
	MQTT_RC_NORMAL_DISCONNECTION = 0x00,
	MQTT_RC_GRANTED_QOS0 = 0x00,
	MQTT_RC_GRANTED_QOS1 = 0x01,
	MQTT_RC_GRANTED_QOS2 = 0x02,
	MQTT_RC_DISCONNECT_WITH_WILL = 0x04,
	MQTT_RC_NO_MATCHING_SUBSCRIBERS = 0x10,
	MQTT_RC_NO_SUBSCRIPTION_EXISTED = 0x11,
	MQTT_RC_CONTINUE_AUTHENTICATION = 0x18,
	MQTT_RC_REAUTHENTICATE = 0x19,
	MQTT_RC_UNSPECIFIED_ERROR = 0x80,
	MQTT_RC_MALFORMED_PACKET = 0x81,
	MQTT_RC_PROTOCOL_ERROR = 0x82,
	MQTT_RC_IMPLEMENTATION_SPECIFIC = 0x83,
	MQTT_RC_UNSUPPORTED_PROTOCOL_VERSION = 0x84,
	MQTT_RC_CLIENT_ID_NOT_VALID = 0x85,
	MQTT_RC_BAD_USERNAME_OR_PASSWORD = 0x86,
	MQTT_RC_NOT_AUTHORIZED = 0x87,
	MQTT_RC_SERVER_UNAVAILABLE = 0x88,
	MQTT_RC_SERVER_BUSY = 0x89,
	MQTT_RC_BANNED = 0x8A,
	MQTT_RC_SERVER_SHUTTING_DOWN = 0x8B,
	MQTT_RC_BAD_AUTHENTICATION_METHOD = 0x8C,
	MQTT_RC_KEEP_ALIVE_TIMEOUT = 0x8D,
	MQTT_RC_SESSION_TAKEN_OVER = 0x8E,
	MQTT_RC_TOPIC_FILTER_INVALID = 0x8F,
	MQTT_RC_TOPIC_NAME_INVALID = 0x90,
	MQTT_RC_PACKET_ID_IN_USE = 0x91,
	MQTT_RC_PACKET_ID_NOT_FOUND = 0x92,
	MQTT_RC_RECEIVE_MAX_EXCEEDED = 0x93,
	MQTT_RC_TOPIC_ALIAS_INVALID = 0x94,
	MQTT_RC_PACKET_TOO_LARGE = 0x95,
	MQTT_RC_MESSAGE_RATE_TOO_HIGH = 0x96,
	MQTT_RC_QUOTA_EXCEEDED = 0x97,
	MQTT_RC_ADMINISTRATIVE_ACTION = 0x98,
	MQTT_RC_PAYLOAD_FORMAT_INVALID = 0x99,
	MQTT_RC_RETAIN_NOT_SUPPORTED = 0x9A,
	MQTT_RC_QOS_NOT_SUPPORTED = 0x9B,
	MQTT_RC_USE_ANOTHER_SERVER = 0x9C,
	MQTT_RC_SERVER_MOVED = 0x9D,
	MQTT_RC_SHARED_SUBS_NOT_SUPPORTED = 0x9E,
	MQTT_RC_CONNECTION_RATE_EXCEEDED = 0x9F,
	MQTT_RC_MAXIMUM_CONNECT_TIME = 0xA0,
	MQTT_RC_SUB_IDS_NOT_SUPPORTED = 0xA1,
	MQTT_RC_WILDCARD_SUBS_NOT_SUPPORTED = 0xA2,
};

/* 3.1.1 CONNACK return codes (3.1.1 §3.2.2.3). */
enum mqtt_connack_rc311 {
	MQTT_CONNACK311_ACCEPTED = 0,
	MQTT_CONNACK311_BAD_VERSION = 1,
	MQTT_CONNACK311_ID_REJECTED = 2,
	MQTT_CONNACK311_SERVER_UNAVAILABLE = 3,
	MQTT_CONNACK311_BAD_USERNAME_OR_PASSWORD = 4,
	MQTT_CONNACK311_NOT_AUTHORIZED = 5,
};

/* The spec's name of a 5.0 reason code ("Malformed Packet"); for 0x00 in DISCONNECT/SUBACK the name differs
 * by packet, see mqtt_reason_name_in.  NULL for an undefined code. */
const char *mqtt_reason_name(uint8_t code);
const char *mqtt_reason_name_in(uint8_t type, uint8_t code);
/* True when a 5.0 packet of this type may carry this reason code. */
bool mqtt_reason_allowed(uint8_t type, uint8_t code);

/* What the broker must send for a codec error (any ERR_MQTT_* from a decoder or mqtt_frame):
 * mqtt_err_reason5: the 5.0 reason code for the CONNACK (error on CONNECT) or the DISCONNECT (after it).
 * mqtt_err_connack4: the 3.1.1 CONNACK return code to send before closing when the error is on CONNECT, or
 * -1 when 3.1.1 says to close the connection without a packet (every other 3.1.1 error). */
uint8_t mqtt_err_reason5(int err);
int mqtt_err_connack4(int err);

/* ---- packets ------------------------------------------------------------------------------------------- */

struct mqtt_connect {
	uint8_t version;     /* protocol level: 4 or 5 (set as soon as read, also on ERR_MQTT_PROTOCOL_VERSION) */
	bool clean_start;    /* Clean Session in 3.1.1 */
	bool will;
	uint8_t will_qos;
	bool will_retain;
	bool has_username, has_password;
	uint16_t keep_alive_s;
	struct mqtt_props props;
	struct mqtt_bytes client_id;
	struct mqtt_props will_props;
	struct mqtt_bytes will_topic, will_payload;
	struct mqtt_bytes username, password;
};

struct mqtt_connack {
	bool session_present;
	uint8_t reason; /* 5.0 reason code, or 3.1.1 return code */
	struct mqtt_props props;
};

struct mqtt_publish {
	bool dup, retain;
	uint8_t qos;
	uint16_t packet_id; /* 0 for QoS 0 */
	struct mqtt_bytes topic;
	struct mqtt_props props;
	struct mqtt_bytes payload;
};

/* PUBACK, PUBREC, PUBREL, PUBCOMP. */
struct mqtt_ack {
	uint16_t packet_id;
	uint8_t reason;
	struct mqtt_props props;
};

/* Subscription options byte (5.0 §3.8.3.1; 3.1.1 has only the QoS bits). */
#define MQTT_SUBOPT_QOS_MASK 0x03
#define MQTT_SUBOPT_NO_LOCAL 0x04
#define MQTT_SUBOPT_RETAIN_AS_PUBLISHED 0x08
#define MQTT_SUBOPT_RETAIN_HANDLING_SHIFT 4
#define MQTT_SUBOPT_RETAIN_HANDLING_MASK 0x30

/* SUBSCRIBE and UNSUBSCRIBE: the entries stay in the payload view; walk them with mqtt_sub_iter. */
struct mqtt_subscribe {
	uint16_t packet_id;
	struct mqtt_props props;
	struct mqtt_bytes entries; /* the payload as received */
	uint32_t count;
	/* encoding only: */
	const struct mqtt_sub_entry *list; /* not owned */
};

struct mqtt_sub_entry {
	struct mqtt_bytes filter;
	uint8_t options; /* SUBSCRIBE only */
};

struct mqtt_sub_iter {
	struct rbuf r;
	bool unsubscribe;
};
void mqtt_sub_iter_init(struct mqtt_sub_iter *it, const struct mqtt_subscribe *s, uint8_t type);
bool mqtt_sub_next(struct mqtt_sub_iter *it, struct mqtt_sub_entry *out);

/* SUBACK and UNSUBACK: one reason code per entry (none for a 3.1.1 UNSUBACK). */
struct mqtt_suback {
	uint16_t packet_id;
	struct mqtt_props props;
	struct mqtt_bytes reasons;
};

/* DISCONNECT and AUTH (5.0); a 3.1.1 DISCONNECT has no fields. */
struct mqtt_disconnect {
	uint8_t reason;
	struct mqtt_props props;
};

int mqtt_decode_connect(const uint8_t *buf, size_t len, struct mqtt_connect *out);
int mqtt_decode_connack(const uint8_t *buf, size_t len, uint8_t version, struct mqtt_connack *out);
int mqtt_decode_publish(const uint8_t *buf, size_t len, uint8_t version, struct mqtt_publish *out);
int mqtt_decode_ack(const uint8_t *buf, size_t len, uint8_t version, uint8_t *type, struct mqtt_ack *out);
int mqtt_decode_subscribe(const uint8_t *buf, size_t len, uint8_t version, struct mqtt_subscribe *out);
int mqtt_decode_unsubscribe(const uint8_t *buf, size_t len, uint8_t version, struct mqtt_subscribe *out);
int mqtt_decode_suback(const uint8_t *buf, size_t len, uint8_t version, struct mqtt_suback *out);
int mqtt_decode_unsuback(const uint8_t *buf, size_t len, uint8_t version, struct mqtt_suback *out);
/* PINGREQ / PINGRESP: type says which. */
int mqtt_decode_ping(const uint8_t *buf, size_t len, uint8_t type);
int mqtt_decode_disconnect(const uint8_t *buf, size_t len, uint8_t version, struct mqtt_disconnect *out);
int mqtt_decode_auth(const uint8_t *buf, size_t len, uint8_t version, struct mqtt_disconnect *out);

size_t mqtt_connect_size(const struct mqtt_connect *p);
size_t mqtt_connack_size(const struct mqtt_connack *p, uint8_t version);
size_t mqtt_publish_size(const struct mqtt_publish *p, uint8_t version);
size_t mqtt_ack_size(const struct mqtt_ack *p, uint8_t version);
size_t mqtt_subscribe_size(const struct mqtt_subscribe *p, uint8_t version, uint8_t type);
size_t mqtt_suback_size(const struct mqtt_suback *p, uint8_t version, uint8_t type);
size_t mqtt_disconnect_size(const struct mqtt_disconnect *p, uint8_t version, uint8_t type);

int mqtt_encode_connect(struct wbuf *w, const struct mqtt_connect *p);
int mqtt_encode_connack(struct wbuf *w, const struct mqtt_connack *p, uint8_t version);
int mqtt_encode_publish(struct wbuf *w, const struct mqtt_publish *p, uint8_t version);
int mqtt_encode_ack(struct wbuf *w, uint8_t type, const struct mqtt_ack *p, uint8_t version);
/* type MQTT_SUBSCRIBE or MQTT_UNSUBSCRIBE */
int mqtt_encode_subscribe(struct wbuf *w, uint8_t type, const struct mqtt_subscribe *p, uint8_t version);
/* type MQTT_SUBACK or MQTT_UNSUBACK */
int mqtt_encode_suback(struct wbuf *w, uint8_t type, const struct mqtt_suback *p, uint8_t version);
int mqtt_encode_ping(struct wbuf *w, uint8_t type);
/* type MQTT_DISCONNECT or MQTT_AUTH */
int mqtt_encode_disconnect(struct wbuf *w, uint8_t type, const struct mqtt_disconnect *p, uint8_t version);

/* Any packet: a tagged union over the above, for dispatchers, tools and fuzzing. */
struct mqtt_packet {
	uint8_t type;
	union {
		struct mqtt_connect connect;
		struct mqtt_connack connack;
		struct mqtt_publish publish;
		struct mqtt_ack ack;             /* PUBACK, PUBREC, PUBREL, PUBCOMP */
		struct mqtt_subscribe subscribe; /* SUBSCRIBE, UNSUBSCRIBE */
		struct mqtt_suback suback;       /* SUBACK, UNSUBACK */
		struct mqtt_disconnect disconnect; /* DISCONNECT, AUTH */
	} u;
};

/* Decodes whichever packet starts buf (CONNECT ignores version: it carries its own). */
int mqtt_decode(const uint8_t *buf, size_t len, uint8_t version, struct mqtt_packet *out);
size_t mqtt_packet_size(const struct mqtt_packet *p, uint8_t version);
int mqtt_encode(struct wbuf *w, const struct mqtt_packet *p, uint8_t version);

/* Checks a broker makes on a PUBLISH from a client that the decoder cannot (it does not know the sender):
 * no Subscription Identifier (5.0 [MQTT-3.3.4-6]) and a topic alias within topic_alias_max. */
int mqtt_publish_check_from_client(const struct mqtt_publish *p, uint16_t topic_alias_max);

/* UTF-8 Encoded String rules (5.0 §1.5.4): well-formed UTF-8, no surrogates, nothing above U+10FFFF,
 * no U+0000.  Returns 0, ERR_MQTT_UTF8 or ERR_MQTT_UTF8_NUL. */
int mqtt_utf8_check(const uint8_t *p, size_t len);

#endif
