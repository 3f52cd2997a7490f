/* The MQTT 3.1.1/5.0 broker engine: sessions, QoS 0/1/2 flows both ways, retained messages, wills, keepalive,
 * topic aliases, subscription options and identifiers, shared subscriptions, message expiry, packet size
 * limits, session takeover and expiry.
 *
 * I/O-free.  The caller (agent/broker, later the cloud) frames bytes from its sockets with mqtt_frame and
 * hands each whole packet to mqtt_broker_input() with the current time; the engine answers through the ops
 * table: packets to send (as codec structs, views valid only during the call), connections to close, store
 * operations for what must survive a restart, and authentication/authorization questions.  Time moves only
 * through the now_ms arguments and mqtt_broker_tick().  The engine never blocks and never touches a socket.
 *
 * Messages fan out by reference: one refcounted struct mqtt_msg, one delivery record per receiving session.
 * Every queue is bounded (messages and bytes per session); what is dropped is counted.
 *
 * Single-threaded: all calls on one broker come from one thread. */
#ifndef FERRY_MQTT_BROKER_H
#define FERRY_MQTT_BROKER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mqtt/codec.h"

struct mqtt_broker;
struct mqtt_client;  /* one network connection */
struct mqtt_session; /* the state a client id keeps between connections */
struct mqtt_msg;     /* one application message, refcounted */

/* Limits and policy.  mqtt_broker_config_default() fills sane defaults; the agent overrides from its config. */
struct mqtt_broker_config {
	uint32_t packet_size_max;        /* inbound; advertised as Maximum Packet Size (5.0) */
	uint16_t receive_max;            /* inbound QoS 1/2 in flight per client; advertised (5.0) */
	uint16_t inflight_max;           /* outbound QoS 1/2 in flight per client (also capped by theirs) */
	uint32_t queue_msgs_max;         /* per session, queued + in flight */
	uint64_t queue_bytes_max;        /* per session, payload+topic bytes */
	uint16_t topic_alias_max;        /* aliases a client may use toward us (5.0) */
	uint16_t topic_alias_out_max;    /* aliases we use toward a client, capped by theirs */
	uint32_t topic_len_max;          /* bytes */
	uint32_t topic_levels_max;
	uint32_t subs_per_client_max;
	uint32_t session_expiry_max_s;   /* cap on what a client asks for */
	uint16_t keep_alive_max_s;       /* 0: accept any; else Server Keep Alive when over (5.0) */
	uint32_t connect_timeout_ms;     /* CONNECT must arrive within this */
	uint32_t retained_max;           /* retained messages kept */
	uint32_t sessions_max;
	uint8_t qos_max;                 /* 0..2 */
	bool retain_available;
	bool allow_anonymous;            /* used when no authenticate op is set */
	bool queue_qos0_offline;         /* queue QoS 0 for disconnected persistent sessions */
	uint32_t client_id_len_max;
};

void mqtt_broker_config_default(struct mqtt_broker_config *cfg);

/* ---- what the engine asks of its caller --------------------------------------------------------------- */

enum mqtt_store_kind {
	MQTT_STORE_SESSION_PUT,  /* client_id, expiry_s, version */
	MQTT_STORE_SESSION_DEL,  /* client_id: also drops its subscriptions and queue */
	MQTT_STORE_SUB_PUT,      /* client_id, filter, options, sub_id */
	MQTT_STORE_SUB_DEL,      /* client_id, filter */
	MQTT_STORE_QUEUE_PUT,    /* client_id, seq, msg, qos, state, packet_id (insert or update by seq) */
	MQTT_STORE_QUEUE_DEL,    /* client_id, seq */
	MQTT_STORE_RETAIN_PUT,   /* msg (its topic is the key) */
	MQTT_STORE_RETAIN_DEL,   /* topic */
	MQTT_STORE_RX_PUT,       /* client_id, packet_id: a QoS 2 message received, its PUBREL not yet */
	MQTT_STORE_RX_DEL,       /* client_id, packet_id: PUBREL received */
};

/* Delivery states of a queued message (what is persisted, and what resend does on reconnect). */
enum mqtt_dlv_state {
	MQTT_DLV_QUEUED = 0,   /* not sent yet */
	MQTT_DLV_PUBLISHED = 1, /* PUBLISH sent, waiting for PUBACK / PUBREC */
	MQTT_DLV_RELEASED = 2, /* PUBREL sent, waiting for PUBCOMP */
};

struct mqtt_store_op {
	uint8_t kind; /* enum mqtt_store_kind */
	struct mqtt_bytes client_id;
	struct mqtt_bytes filter;       /* SUB_*; the topic for RETAIN_DEL */
	uint32_t expiry_s;              /* SESSION_PUT */
	uint8_t version;                /* SESSION_PUT */
	uint8_t options;                /* SUB_PUT */
	uint32_t sub_id;                /* SUB_PUT, QUEUE_PUT */
	uint64_t seq;                   /* QUEUE_*: per-session sequence, the queue order */
	const struct mqtt_msg *msg;     /* QUEUE_PUT, RETAIN_PUT; valid during the call (take a ref to keep it) */
	uint8_t qos;                    /* QUEUE_PUT: delivery QoS */
	uint8_t state;                  /* QUEUE_PUT: enum mqtt_dlv_state */
	uint16_t packet_id;             /* QUEUE_PUT */
};

enum mqtt_acl_access { MQTT_ACL_READ = 1, MQTT_ACL_WRITE = 2, MQTT_ACL_SUBSCRIBE = 4 };

/* Flags of ops->send. */
#define MQTT_SEND_AFTER_COMMIT 1u /* hold this packet until every store op issued so far has committed */

struct mqtt_connect_info {
	struct mqtt_bytes client_id, username, password;
	uint8_t version;
};

struct mqtt_broker_ops {
	/* Encode and queue pkt on the connection.  Views in pkt live only during the call. */
	void (*send)(void *ctx, void *io, const struct mqtt_packet *pkt, uint8_t version, unsigned flags);
	/* Close the connection after what was sent so far is written.  The caller then calls
	 * mqtt_broker_client_free() (from the loop, not from inside this callback). */
	void (*close)(void *ctx, void *io);
	/* Optional: persist an operation.  Ops arrive in order; the caller applies them in that order. */
	void (*store)(void *ctx, const struct mqtt_store_op *op);
	/* Optional: the 5.0 reason code (0 to accept) for these credentials; NULL: cfg.allow_anonymous decides
	 * and any password is refused.  May rewrite info->username (e.g. from a TLS certificate). */
	uint8_t (*authenticate)(void *ctx, void *io, struct mqtt_connect_info *info);
	/* Optional: may this client do access on topic (or filter for SUBSCRIBE)?  NULL: yes. */
	bool (*authorize)(void *ctx, void *io, enum mqtt_acl_access access, struct mqtt_bytes topic);
	/* Optional: a message from this client was queued for a connected, not stalled subscriber whose queue
	 * is over half full.  The caller should stop reading this client for a moment (backpressure instead of
	 * drops). */
	void (*throttle)(void *ctx, void *io);
	/* Optional: every accepted PUBLISH (after aliases are resolved) before fan-out; a route may buffer it.
	 * Returns 0, MQTT_PUBLISH_HOOK_WAIT when it issued store work that the acknowledgement must wait for,
	 * or, only when can_refuse (a 5.0 client's QoS 1/2 publish), a 5.0 reason code >= 0x80 (e.g. 0x97
	 * Quota exceeded): the message is then refused as a whole, neither delivered nor stored, and the
	 * PUBACK/PUBREC carries that code. */
	int (*on_publish)(void *ctx, void *io, const struct mqtt_msg *msg, bool can_refuse);
};

#define MQTT_PUBLISH_HOOK_WAIT 1

/* ---- messages ----------------------------------------------------------------------------------------- */

struct mqtt_msg_view {
	struct mqtt_bytes topic, payload;
	struct mqtt_bytes props;  /* 5.0 property block to forward (no length prefix); may be empty */
	uint8_t qos;
	bool retain;
	int64_t expiry_wall_ms;   /* 0: never */
	int64_t created_wall_ms;
};
/* A read-only view of msg (for store and hooks). */
void mqtt_msg_get(const struct mqtt_msg *msg, struct mqtt_msg_view *out);
uint64_t mqtt_msg_id(const struct mqtt_msg *msg);

/* ---- the broker --------------------------------------------------------------------------------------- */

struct mqtt_broker_stats {
	uint64_t clients_connected, clients_total, sessions, sessions_persistent;
	uint64_t msgs_in, msgs_out, bytes_in, bytes_out;
	uint64_t msgs_dropped;       /* queue full, too large for the receiver, expired */
	uint64_t msgs_retained, subscriptions;
	uint64_t malformed, protocol_errors, auth_failures, acl_denials;
	uint64_t wills_published, sessions_expired, takeovers, keepalive_timeouts;
};

/* Returns NULL on allocation failure.  ops is copied; ctx is passed to each op.  now_ms (monotonic) and
 * wall_ms (Unix time) are the same instant: message expiry is kept in wall time so that it survives a restart. */
struct mqtt_broker *mqtt_broker_new(const struct mqtt_broker_config *cfg, const struct mqtt_broker_ops *ops,
				    void *ctx, uint64_t now_ms, int64_t wall_ms);
void mqtt_broker_free(struct mqtt_broker *b);
const struct mqtt_broker_stats *mqtt_broker_stats(const struct mqtt_broker *b);
/* Replace the limits at run time (SIGHUP).  Existing connections keep the values they negotiated. */
void mqtt_broker_set_config(struct mqtt_broker *b, const struct mqtt_broker_config *cfg);

/* A connection was accepted.  io is the caller's handle, passed back to ops.  NULL on allocation failure. */
struct mqtt_client *mqtt_broker_client_new(struct mqtt_broker *b, void *io, uint64_t now_ms);
/* The connection is gone (closed by the peer, by an error, or after ops->close).  Publishes or schedules the
 * will when the client did not disconnect normally; detaches or ends the session.  c is freed. */
void mqtt_broker_client_free(struct mqtt_broker *b, struct mqtt_client *c, uint64_t now_ms);
/* One whole packet (as framed by mqtt_frame).  Returns 0, or a negative error after which the engine has
 * already sent what the spec asks (CONNACK/DISCONNECT with a reason code) and called ops->close. */
int mqtt_broker_input(struct mqtt_broker *b, struct mqtt_client *c, const uint8_t *pkt, size_t len, uint64_t now_ms);
/* A framing error (from mqtt_frame) on this connection: answers like mqtt_broker_input would and closes. */
void mqtt_broker_input_error(struct mqtt_broker *b, struct mqtt_client *c, int err);
/* Protocol version once CONNECT is in (0 before); the caller's framer needs it. */
uint8_t mqtt_broker_client_version(const struct mqtt_client *c);
/* Inbound packet size limit for the framer (the configured maximum). */
uint32_t mqtt_broker_packet_size_max(const struct mqtt_broker *b);
/* Output backpressure: while blocked the engine queues (bounded) instead of sending to this client. */
void mqtt_broker_client_set_blocked(struct mqtt_broker *b, struct mqtt_client *c, bool blocked, uint64_t now_ms);
/* True while some connected, not stalled receiver that caused a throttle still has its queue over half
 * full: the caller keeps throttled publishers paused until this turns false. */
bool mqtt_broker_pressured(struct mqtt_broker *b);
/* A blocked connection that has not drained for a while: its queue no longer throttles publishers (a
 * receiver that stopped reading must not hold everyone back; its queue drops instead). */
void mqtt_broker_client_set_stalled(struct mqtt_client *c, bool stalled);
/* The client id once connected ("" before). */
struct mqtt_bytes mqtt_broker_client_id(const struct mqtt_client *c);

/* Timers: keepalive (1.5x), connect timeout, will delay, session expiry, message expiry in queues.  Call
 * about once a second.  Returns the milliseconds until the next deadline it knows of (capped at 1000). */
uint32_t mqtt_broker_tick(struct mqtt_broker *b, uint64_t now_ms, int64_t wall_ms);

/* A message published by the broker itself ($SYS, downlink commands): fanned out like a client's with no
 * origin.  props may be empty.  Returns 0, ERR_MQTT_TOPIC_* or ERR_NOMEM. */
int mqtt_broker_publish(struct mqtt_broker *b, struct mqtt_bytes topic, struct mqtt_bytes payload, uint8_t qos,
			bool retain, uint64_t now_ms);

/* ---- restore after restart (called before any client connects) --------------------------------------- */

/* The session of a client id, NULL when none. */
struct mqtt_session *mqtt_broker_session_find(struct mqtt_broker *b, struct mqtt_bytes client_id);
struct mqtt_session *mqtt_broker_restore_session(struct mqtt_broker *b, struct mqtt_bytes client_id,
						 uint32_t expiry_s, uint8_t version, uint64_t now_ms);
int mqtt_broker_restore_sub(struct mqtt_broker *b, struct mqtt_session *s, struct mqtt_bytes filter,
			    uint8_t options, uint32_t sub_id);
/* Queue entries in seq order; an entry in state PUBLISHED/RELEASED is resent with DUP on reconnect. */
int mqtt_broker_restore_queued(struct mqtt_broker *b, struct mqtt_session *s, uint64_t seq,
			       const struct mqtt_msg_view *m, uint8_t qos, uint8_t state, uint16_t packet_id,
			       uint32_t sub_id);
int mqtt_broker_restore_retained(struct mqtt_broker *b, const struct mqtt_msg_view *m);
/* An inbound QoS 2 packet id awaiting PUBREL: a resent PUBLISH with it is acknowledged, not delivered again. */
int mqtt_broker_restore_rx_qos2(struct mqtt_broker *b, struct mqtt_session *s, uint16_t packet_id);

#endif
