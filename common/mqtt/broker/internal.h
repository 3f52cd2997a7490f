/* Engine internals shared by the files of common/mqtt/broker.  Not for use outside this folder. */
#ifndef FERRY_MQTT_BROKER_INTERNAL_H
#define FERRY_MQTT_BROKER_INTERNAL_H

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt/broker/broker.h"
#include "mqtt/retain.h"
#include "mqtt/topic.h"
#include "mqtt/trie.h"

/* ---- intrusive string-keyed hash table ---------------------------------------------------------------- */

struct hnode {
	struct hnode *next;
	const uint8_t *key; /* owned by the containing object */
	uint32_t key_len;
	uint32_t hash;
};

struct htable {
	struct hnode **slots;
	uint32_t mask;  /* slot count - 1; 0 slots when mask == 0 and slots == NULL */
	uint32_t count;
};

uint32_t bk_ht_hash(const uint8_t *key, uint32_t len);
void bk_ht_init(struct htable *t);
void bk_ht_deinit(struct htable *t); /* frees the slot array only */
struct hnode *bk_ht_find(const struct htable *t, const uint8_t *key, uint32_t len);
int bk_ht_insert(struct htable *t, struct hnode *n); /* n's key set; 0 or ERR_NOMEM */
void bk_ht_remove(struct htable *t, struct hnode *n);
/* Iteration: for (i = 0; i <= mask; i++) for (n = slots[i]; ...). */

#define container_of(ptr, type, member) ((type *)(void *)((char *)(ptr) - offsetof(type, member)))

/* ---- messages ----------------------------------------------------------------------------------------- */

struct mqtt_msg {
	uint32_t refs;
	uint8_t qos;
	bool retain;
	uint16_t topic_len;
	uint32_t props_len;
	uint32_t payload_len;
	uint64_t id;
	int64_t expiry_wall_ms;  /* 0: never */
	int64_t created_wall_ms;
	const struct mqtt_session *origin; /* for No Local; cleared when that session ends */
	struct mqtt_props *props; /* decoded forwardable properties, views into data; NULL when none */
	struct mqtt_msg *ret_prev, *ret_next; /* b->retained list while this is its topic's retained message */
	uint8_t data[];           /* topic | props | payload */
};

static inline const uint8_t *msg_topic(const struct mqtt_msg *m) { return m->data; }
static inline const uint8_t *msg_props(const struct mqtt_msg *m) { return m->data + m->topic_len; }
static inline const uint8_t *msg_payload(const struct mqtt_msg *m) { return m->data + m->topic_len + m->props_len; }
static inline uint64_t msg_cost(const struct mqtt_msg *m) { return m->topic_len + m->props_len + m->payload_len; }

struct mqtt_broker;
struct mqtt_msg *bk_msg_new(struct mqtt_broker *b, const struct mqtt_msg_view *v);
static inline struct mqtt_msg *bk_msg_ref(struct mqtt_msg *m) { m->refs++; return m; }
void bk_msg_unref(struct mqtt_msg *m);

/* ---- deliveries (one per message per receiving session) ----------------------------------------------- */

struct dlv {
	struct dlv *next;
	struct mqtt_msg *msg;
	uint64_t seq;
	uint32_t sub_id;     /* 0: none */
	uint16_t packet_id;  /* 0 until first sent */
	uint8_t qos;
	uint8_t state;       /* enum mqtt_dlv_state */
	bool retain;         /* the RETAIN flag to send */
	bool persisted;
};

struct dlv_list {
	struct dlv *head, *tail;
	uint32_t count;
};

/* ---- subscriptions (the match index is mqtt/trie; the session keeps its own list) ------------------- */

struct sub {
	struct sub *next;
	uint32_t handle;  /* in b->trie */
	uint8_t options;
	uint32_t sub_id;
	uint16_t filter_len;
	char filter[];    /* as subscribed, including $share/<name>/ */
};

/* ---- sessions and clients ---------------------------------------------------------------------------- */

struct mqtt_session {
	struct hnode h;             /* in b->sessions by client id */
	struct mqtt_client *client; /* NULL when disconnected */
	struct mqtt_session *next_offline; /* b->offline list (sessions waiting to expire) */
	struct mqtt_session *prev_offline;
	uint16_t client_id_len;
	uint8_t version;
	uint32_t expiry_s;          /* 0: ends with the connection; UINT32_MAX: never */
	uint64_t offline_since_ms;
	struct sub *subs;
	uint32_t sub_count;
	struct dlv_list inflight;   /* sent, waiting for an ack, in send order */
	struct dlv_list queue;      /* not sent yet */
	uint64_t queue_bytes;
	uint64_t next_seq;
	uint16_t next_packet_id;
	/* will, kept while connected and during its delay */
	struct mqtt_msg *will;
	uint32_t will_delay_s;
	uint32_t will_expiry_s;     /* Message Expiry Interval of the will; 0: none */
	uint64_t will_at_ms;        /* 0: not scheduled */
	/* fan-out scratch: set when this session is in b->targets for the current message */
	uint64_t match_epoch;
	uint32_t target_index;
	bool in_pressure;           /* listed in b->pressure_list */
	/* inbound QoS 2 packet ids whose PUBREL has not come: session state (5.0 §4.1), not connection state */
	uint16_t *rx_qos2;
	uint16_t rx_qos2_count, rx_qos2_cap;
	char client_id[];           /* NUL-terminated, client_id_len bytes */
};

enum client_state { CLIENT_NEW, CLIENT_CONNECTED, CLIENT_CLOSING };

struct mqtt_client {
	struct mqtt_client *next, *prev; /* b->clients */
	void *io;
	struct mqtt_session *session;
	uint8_t state;
	uint8_t version;
	bool blocked;
	bool stalled;               /* blocked and not draining (the caller decides) */
	bool will_suppressed;       /* normal DISCONNECT received */
	uint16_t keep_alive_s;
	uint64_t last_rx_ms;        /* the accept time until CONNECT (connect timeout), then keepalive */
	/* limits negotiated at CONNECT */
	uint16_t send_window;       /* outbound in flight: min(their Receive Maximum, inflight_max) */
	uint32_t their_packet_max;  /* Maximum Packet Size they accept; UINT32_MAX if none */
	uint16_t alias_in_max, alias_out_max;
	bool problem_info;          /* Request Problem Information */
	uint16_t rx_max;            /* our Receive Maximum as advertised at CONNECT */
	/* topic aliases */
	struct mqtt_bytes *alias_in;     /* alias_in_max entries, heap copies of topics */
	struct mqtt_bytes *alias_out;    /* alias_out_max entries, heap copies of topics */
	uint16_t alias_out_next;
};

/* ---- the broker --------------------------------------------------------------------------------------- */

struct target {
	struct mqtt_session *session;
	uint8_t qos;
	bool retain;
	uint32_t sub_id;
};

struct mqtt_broker {
	struct mqtt_broker_config cfg;
	struct mqtt_broker_ops ops;
	void *ctx;
	struct mqtt_broker_stats stats;
	struct htable sessions;
	struct mqtt_retain *retain_index; /* topic -> retained message, and filter matching (mqtt/retain.h) */
	struct mqtt_msg *retained;        /* every retained message, for shutdown */
	struct mqtt_trie *trie;
	struct mqtt_topic_limits topic_lim;
	struct mqtt_client *clients;
	struct mqtt_session *offline; /* persistent sessions without a connection */
	uint64_t next_msg_id;
	uint64_t assigned_id_counter;
	int64_t wall_minus_mono_ms;
	uint64_t now_ms;
	bool pressure;           /* set by deliver() when a connected receiver's queue is over half full */
#define PRESSURE_LIST_MAX 256
	struct mqtt_session *pressure_list[PRESSURE_LIST_MAX]; /* receivers that caused a throttle */
	uint32_t pressure_count;
	uint64_t store_ops;      /* count of ops->store calls, to know whether an ack must wait */
	/* fan-out scratch */
	uint64_t match_epoch;
	const struct mqtt_msg *matching;
	struct target *targets;
	uint32_t target_count, target_cap;
	struct dlv *dlv_free;    /* recycled delivery records */
	uint32_t dlv_free_count;
};

static inline int64_t wall_now(const struct mqtt_broker *b) { return (int64_t)b->now_ms + b->wall_minus_mono_ms; }
static inline bool bytes_eq(struct mqtt_bytes a, const void *p, size_t len)
{
	return a.len == len && (len == 0 || memcmp(a.ptr, p, len) == 0);
}

/* broker.c */
void bk_store_op(struct mqtt_broker *b, const struct mqtt_store_op *op);
void bk_send_packet(struct mqtt_broker *b, struct mqtt_client *c, const struct mqtt_packet *p, unsigned flags);
/* Send DISCONNECT (5.0) with reason, or nothing (3.1.1), then close.  Idempotent. */
void bk_client_kill(struct mqtt_broker *b, struct mqtt_client *c, uint8_t reason5);
void bk_session_persist(struct mqtt_broker *b, struct mqtt_session *s);
void bk_session_destroy(struct mqtt_broker *b, struct mqtt_session *s);
void bk_offline_add(struct mqtt_broker *b, struct mqtt_session *s);
void bk_offline_remove(struct mqtt_broker *b, struct mqtt_session *s);
struct mqtt_session *bk_session_new(struct mqtt_broker *b, struct mqtt_bytes client_id);

/* connect.c */
int bk_handle_connect(struct mqtt_broker *b, struct mqtt_client *c, const struct mqtt_connect *p);
void bk_will_publish(struct mqtt_broker *b, struct mqtt_session *s);

/* publish.c */
int bk_handle_publish(struct mqtt_broker *b, struct mqtt_client *c, struct mqtt_publish *p);
int bk_handle_pubrel(struct mqtt_broker *b, struct mqtt_client *c, const struct mqtt_ack *a);
/* Fan a message out to every matching subscription (and keep it when retained). */
void bk_fanout(struct mqtt_broker *b, struct mqtt_msg *m);
void bk_retain_set(struct mqtt_broker *b, struct mqtt_msg *m);
int bk_topic_check(const struct mqtt_broker *b, struct mqtt_bytes topic);

/* deliver.c */
struct dlv *bk_dlv_alloc(struct mqtt_broker *b);
void bk_dlv_free(struct mqtt_broker *b, struct dlv *d);
void bk_dlv_push(struct dlv_list *l, struct dlv *d);
struct dlv *bk_dlv_pop(struct dlv_list *l);
/* Queue m for s at qos (already min'ed with the subscription) and send what the window allows. */
void bk_deliver(struct mqtt_broker *b, struct mqtt_session *s, struct mqtt_msg *m, uint8_t qos, bool retain,
	     uint32_t sub_id);
/* Send queued deliveries while the window and the connection allow. */
void bk_session_pump(struct mqtt_broker *b, struct mqtt_session *s);
/* On reconnect: resend in-flight deliveries with DUP (PUBLISH) or PUBREL, in order. */
void bk_session_resend(struct mqtt_broker *b, struct mqtt_session *s);
int bk_handle_ack(struct mqtt_broker *b, struct mqtt_client *c, uint8_t type, const struct mqtt_ack *a);
void bk_session_clear_queue(struct mqtt_broker *b, struct mqtt_session *s);
void bk_dlv_persist(struct mqtt_broker *b, struct mqtt_session *s, struct dlv *d);
void bk_queue_expire(struct mqtt_broker *b, struct mqtt_session *s);
void bk_pressure_forget(struct mqtt_broker *b, struct mqtt_session *s);
/* publish.c: remember an inbound QoS 2 id (0, ERR_FULL over cap_max, ERR_NOMEM) */
int bk_rx_qos2_add(struct mqtt_session *s, uint16_t id, uint16_t cap_max);

/* subscribe.c */
int bk_handle_subscribe(struct mqtt_broker *b, struct mqtt_client *c, const struct mqtt_subscribe *p);
int bk_handle_unsubscribe(struct mqtt_broker *b, struct mqtt_client *c, const struct mqtt_subscribe *p);
int bk_sub_add(struct mqtt_broker *b, struct mqtt_session *s, struct mqtt_bytes filter, uint8_t options,
	    uint32_t sub_id, bool *existed);
void bk_session_drop_subs(struct mqtt_broker *b, struct mqtt_session *s);
/* Collect the sessions that receive a message on topic into b->targets. */
void bk_match_topic(struct mqtt_broker *b, const struct mqtt_msg *m);

#endif
