/* Broker engine core: what a CONNECT negotiates and the per-client session it opens or resumes.  I/O-free:
 * the broker feeds decoded packets and a clock, and sends what these functions say.
 *
 * mqtt_connect_negotiate(): checks a decoded CONNECT against the broker's limits and fills the CONNACK
 * (reason, 5.0 properties) and the parameters of the connection (keep alive, the client's limits).
 *
 * struct mqtt_sessions: the sessions by client identifier (5.0 §4.1).  A session outlives its connection
 * for its Session Expiry Interval and holds the subscriptions (trie handles), the outbound and inbound QoS
 * state.  Sessions are separately allocated and never move, so a session pointer is the subscriber handle
 * stored in the trie. */
#ifndef FERRY_MQTT_SESSION_H
#define FERRY_MQTT_SESSION_H

#include <stdbool.h>
#include <stdint.h>

#include "mqtt/alias.h"
#include "mqtt/codec.h"
#include "mqtt/inflight.h"
#include "mqtt/trie.h"

/* Broker-wide limits: each a config value (agent/cloud config), defaults below. */
struct mqtt_broker_limits {
	uint16_t receive_max;          /* announced: QoS 1/2 PUBLISHes a client may have unacknowledged */
	uint16_t inflight_max;         /* per session: outbound QoS 1/2 messages in flight at most */
	uint16_t topic_alias_max;      /* announced */
	uint32_t packet_size_max;      /* announced and enforced by mqtt_frame */
	uint16_t keep_alive_max_s;     /* 0: accept the client's; else cap it (Server Keep Alive) */
	uint32_t session_expiry_max_s; /* cap on the client's Session Expiry Interval */
	uint8_t qos_max;               /* 0..2 */
	bool retain_available, wildcard_available, sub_ids_available, shared_available;
	uint16_t client_id_len_max;
	struct mqtt_topic_limits topic;
};
extern const struct mqtt_broker_limits mqtt_broker_limits_default;

/* What one connection negotiated. */
struct mqtt_conn_params {
	uint8_t version;
	uint16_t keep_alive_s;          /* effective; 0 = none */
	uint32_t session_expiry_s;      /* 3.1.1: 0 with Clean Session, "forever" (UINT32_MAX) without */
	uint16_t client_receive_max;    /* the client's; 65535 when absent */
	uint32_t client_packet_size_max;/* the client's; UINT32_MAX when absent */
	uint16_t client_topic_alias_max;
	bool request_problem_info;      /* default 1 (5.0 §3.1.2.11.7) */
	bool request_response_info;
	bool assign_client_id;          /* the client sent none: the broker names it (and says so in 5.0) */
};

/* Fills ack (reason; for 5.0 the CONNACK properties; session_present is the caller's) and params.  Returns 0
 * to accept, or an error with ack->reason set to the refusal: ERR_MQTT_CLIENT_ID (too long), ERR_UNSUPPORTED
 * (will QoS above qos_max: 0x9B; will retain without retain support: 0x9A).  For 3.1.1 ack->reason is the
 * return code.  assigned_id (5.0, used when params->assign_client_id) must outlive ack. */
int mqtt_connect_negotiate(const struct mqtt_connect *c, const struct mqtt_broker_limits *lim,
			   struct mqtt_bytes assigned_id, struct mqtt_conn_params *params, struct mqtt_connack *ack);

struct mqtt_session {
	uint8_t *client_id; /* owned */
	uint16_t client_id_len;
	bool connected;
	uint32_t expiry_s;          /* Session Expiry Interval in force */
	uint64_t expires_at_ms;     /* when disconnected: the deadline (UINT64_MAX = never) */
	uint32_t *subs;             /* owned: trie handles of this session's subscriptions */
	uint32_t sub_count, sub_cap;
	struct mqtt_outbound out;
	struct mqtt_inbound in;
	void *user;                 /* the broker's per-session data (not owned) */
	uint32_t slot;              /* internal: place in the table */
};

struct mqtt_sessions {
	struct mqtt_session **slots; /* owned: open-addressing table by client id */
	uint32_t mask, count;
	struct mqtt_trie *trie;      /* not owned: where the sessions' subscriptions live */
	const struct mqtt_broker_limits *lim;
};

int mqtt_sessions_init(struct mqtt_sessions *t, struct mqtt_trie *trie, const struct mqtt_broker_limits *lim);
/* Frees every session and removes their subscriptions. */
void mqtt_sessions_deinit(struct mqtt_sessions *t);
struct mqtt_session *mqtt_sessions_find(const struct mqtt_sessions *t, const uint8_t *id, size_t len);

/* A CONNECT was accepted: returns the session for client_id.  With clean_start an existing session is
 * discarded first (its subscriptions removed) [MQTT-3.1.2-4]; otherwise it is resumed and *present is set
 * [MQTT-3.2.2-2].  When the session is still connected elsewhere: ERR_EXISTS, *taken_over and *out set; the
 * broker closes that connection (5.0 DISCONNECT 0x8E) [MQTT-3.1.4-3], calls mqtt_session_detach (the session
 * itself goes on) and opens again.  ERR_NOMEM. */
int mqtt_sessions_open(struct mqtt_sessions *t, struct mqtt_bytes client_id, bool clean_start,
		       const struct mqtt_conn_params *params, struct mqtt_session **out, bool *present, bool *taken_over);
/* The session's connection is gone but the session is not ending (takeover): no expiry processing. */
void mqtt_session_detach(struct mqtt_session *s);
/* The connection ended at now_ms: the session expires after its interval (at once when 0). */
void mqtt_sessions_disconnected(struct mqtt_sessions *t, struct mqtt_session *s, uint64_t now_ms);
/* Sets the expiry interval from a 5.0 DISCONNECT (the caller checks the 0 -> non-zero rule). */
void mqtt_session_set_expiry(struct mqtt_session *s, uint32_t expiry_s);
/* Discards sessions whose deadline passed; returns how many.  Call from a timer. */
uint32_t mqtt_sessions_expire(struct mqtt_sessions *t, uint64_t now_ms);
/* Discards one session now (subscriptions, state). */
void mqtt_sessions_remove(struct mqtt_sessions *t, struct mqtt_session *s);

/* SUBSCRIBE entry: inserts into the trie with the session as subscriber and records the handle.  Returns
 * 0 new, 1 replaced (5.0 §3.8.4: retained messages are sent again only when new, per Retain Handling 1), or
 * a trie error (the broker answers that entry with SUBACK 0x8F / 0x80). */
int mqtt_session_subscribe(struct mqtt_sessions *t, struct mqtt_session *s, struct mqtt_bytes filter,
			   uint8_t options, uint32_t sub_id);
/* UNSUBSCRIBE entry: 0, or ERR_NOT_FOUND (UNSUBACK 0x11 No subscription existed). */
int mqtt_session_unsubscribe(struct mqtt_sessions *t, struct mqtt_session *s, struct mqtt_bytes filter);

#endif
