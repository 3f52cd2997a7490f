/* The agent's SQLite database: persistent MQTT sessions, their subscriptions and queued/inflight messages,
 * and retained messages.  The store-and-forward buffer (routes, uplink) will live in the same file and use
 * store_call() to join the same transactions.
 *
 * Threading: store_open() and store_load() run on the caller's thread before store_start(); after it, a
 * writer thread owns the database.  The event loop submits work items (store_session_put, store_msg_put, ...),
 * which are copied, queued, and executed by the writer in batches: one transaction and one fsync per batch
 * (group commit).  Each item's completion callback runs later on the event loop, in submission order, after
 * its batch committed (or failed), so a broker sends PUBACK/PUBREC from it.  The loop never touches disk.
 *
 * A database that SQLite cannot open, or whose quick_check fails, is renamed aside to
 * "<path>.corrupt-<unix ms>" (with its -wal/-shm), never deleted; an error is logged and a fresh database is
 * created.  store_recovered() tells the caller so it can raise an alarm metric. */
#ifndef FERRY_AGENT_STORE_H
#define FERRY_AGENT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct sqlite3;

#define STORE_SCHEMA_VERSION 2
#define STORE_QUEUE_OPS_MAX_DEFAULT 65536u
#define STORE_QUEUE_BYTES_MAX_DEFAULT (64u << 20)
#define STORE_BATCH_OPS_MAX_DEFAULT 1024u
#define STORE_CLIENT_ID_MAX 65535u /* MQTT strings are at most 65535 bytes (MQTT 5.0 §1.5.4) */
#define STORE_PAYLOAD_MAX (256u << 20) /* MQTT's maximum packet size */

enum store_sync { STORE_SYNC_FULL, STORE_SYNC_NORMAL }; /* PRAGMA synchronous under WAL */

struct store_config {
	const char *path;      /* database file; its directory must exist */
	enum store_sync sync;
	uint32_t queue_ops_max;   /* submitted but not yet committed items; 0 = default */
	uint64_t queue_bytes_max; /* their copied bytes; 0 = default */
	uint32_t batch_ops_max;   /* items per transaction; 0 = default */
};

struct store_session {
	const char *client_id;
	uint8_t protocol_version;    /* 4 = MQTT 3.1.1, 5 = MQTT 5.0 */
	uint32_t expiry_interval_s;  /* MQTT 5.0 §3.1.2.11.2; UINT32_MAX = never */
	int64_t disconnected_at_ms;  /* wall clock; 0 while connected */
};

struct store_sub {
	const char *filter;
	uint8_t options;            /* the SUBSCRIBE options byte: QoS, NL, RAP, RH (MQTT 5.0 §3.8.3.1) */
	uint32_t subscription_id;   /* 0 = none */
};

enum store_msg_dir { STORE_MSG_OUT = 0, STORE_MSG_IN = 1 }; /* to the client / QoS 2 from it awaiting PUBREL */

struct store_msg {
	uint64_t seq;          /* the session's own order; unique per (client, direction) */
	uint8_t direction;     /* enum store_msg_dir */
	uint8_t state;         /* the broker's: queued, sent, PUBREC received, ... */
	uint16_t packet_id;    /* 0 while queued */
	uint8_t qos;
	bool retain;
	const char *topic;
	const uint8_t *payload;
	size_t payload_len;
	const uint8_t *props;  /* MQTT 5 properties as encoded on the wire; may be NULL */
	size_t props_len;
	int64_t expiry_at_ms;  /* wall clock; 0 = never */
};

struct store_retained {
	const char *topic;
	uint8_t qos;
	const uint8_t *payload;
	size_t payload_len;
	const uint8_t *props;
	size_t props_len;
	int64_t expiry_at_ms;
};

struct store;

/* Called on the event loop after the item's batch committed (rc 0) or failed (ERR_IO, ERR_NOSPC). */
typedef void store_done_fn(void *arg, int rc);
/* Runs on the writer thread inside the batch's transaction: plain SQLite calls, no blocking on anything else.
 * Return 0 or a negative ERR_*; an error rolls the whole batch back. */
typedef int store_call_fn(struct sqlite3 *db, void *arg);

/* Open (create, migrate) the database.  0 and *out, or ERR_IO/ERR_NOMEM/ERR_UNSUPPORTED (a newer schema). */
int store_open(struct store **out, const struct store_config *cfg);
/* True when store_open found the database corrupt and started a fresh one. */
bool store_recovered(const struct store *s);

/* Startup load, before store_start(): callbacks get views valid only during the call; a non-zero return
 * stops the load and is returned.  Messages come per client in seq order.  Any callback may be NULL. */
struct store_loader {
	int (*session)(void *ctx, const struct store_session *s);
	int (*sub)(void *ctx, const char *client_id, const struct store_sub *sub);
	int (*msg)(void *ctx, const char *client_id, const struct store_msg *m);
	int (*retained)(void *ctx, const struct store_retained *r);
};
int store_load(struct store *s, const struct store_loader *l, void *ctx);

/* Start the writer thread; completions are delivered on base.  0, ERR_IO or ERR_NOMEM. */
int store_start(struct store *s, struct event_base *base);
/* Commit everything submitted, deliver the remaining completions (on the caller's thread, which must be the
 * loop's), stop the thread, close the database, free s.  NULL is fine. */
void store_close(struct store *s);

/* Work items.  Each copies what it needs, so the caller's buffers are free on return.  done may be NULL.
 * 0, or ERR_FULL (queue over its limits: back off, e.g. stop reading the socket), ERR_TOO_LARGE, ERR_NOMEM,
 * ERR_STATE (not started, or closing).  When 0 is returned, done will be called exactly once. */
int store_session_put(struct store *s, const struct store_session *sess, store_done_fn *done, void *arg);
/* Delete the session and its subscriptions and messages. */
int store_session_del(struct store *s, const char *client_id, store_done_fn *done, void *arg);
int store_sub_put(struct store *s, const char *client_id, const struct store_sub *sub, store_done_fn *done,
		  void *arg);
int store_sub_del(struct store *s, const char *client_id, const char *filter, store_done_fn *done, void *arg);
int store_msg_put(struct store *s, const char *client_id, const struct store_msg *m, store_done_fn *done,
		  void *arg);
int store_msg_update(struct store *s, const char *client_id, uint8_t direction, uint64_t seq, uint8_t state,
		     uint16_t packet_id, store_done_fn *done, void *arg);
int store_msg_del(struct store *s, const char *client_id, uint8_t direction, uint64_t seq, store_done_fn *done,
		  void *arg);
/* An empty payload deletes the retained message (MQTT 5.0 §3.3.1.3). */
int store_retain_put(struct store *s, const struct store_retained *r, store_done_fn *done, void *arg);
/* Run fn on the writer inside a batch (for the store-and-forward buffer). */
int store_call(struct store *s, store_call_fn *fn, void *fn_arg, store_done_fn *done, void *arg);
/* Completes after everything submitted before it committed. */
int store_barrier(struct store *s, store_done_fn *done, void *arg);

struct store_stats {
	uint64_t batches, items, failed_batches;
	int last_batch_rc; /* 0, or the error of the most recent batch (health: a later success clears it) */
	uint64_t queued_items, queued_bytes; /* now */
	uint32_t batch_items_max;
};
void store_get_stats(struct store *s, struct store_stats *out);

#endif
