/* One ferry-cloud node's broker: what the Kafka API handlers share.  Owns the topic registry (partitions and
 * their logs), the group coordinator and committed offsets, the producer id allocator, the listeners, the
 * metrics and the timers that drive long polls, group sessions, flushes and retention.
 *
 * Single-threaded: everything here runs on the node's libevent loop. */
#ifndef FERRY_CLOUD_BROKER_H
#define FERRY_CLOUD_BROKER_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "base/metrics.h"
#include "cloud/config.h"

struct event;
struct event_base;
struct group_coord;
struct kreq;
struct offsets;
struct server;
struct topics;
struct partition;
struct sasl_users;
struct net_admin;

#define BROKER_API_SLOTS 64 /* api keys 0..63 get a latency histogram and a request counter */

struct broker_metrics {
	_Atomic int64_t *conn_accepted, *conn_rejected, *conn_open;
	_Atomic int64_t *closed_framing, *closed_oversize, *closed_malformed, *closed_unsupported, *closed_auth;
	_Atomic int64_t *crc_rejected, *auth_failed;
	_Atomic int64_t *requests[BROKER_API_SLOTS];
	struct metric_hist *latency[BROKER_API_SLOTS];
	_Atomic int64_t *fetch_parked, *produce_parked;
	_Atomic int64_t *fetch_sendfile_bytes, *fetch_copied_bytes;
};

struct broker;

/* A request waiting for something to happen on a partition (Fetch min_bytes, a Produce waiting for fsync). */
struct broker_waiter {
	TAILQ_ENTRY(broker_waiter) link;
	struct kreq *req;
	uint64_t deadline_ms;          /* monotonic */
	/* true: answered, unlink.  flag: for Fetch, answer now (deadline passed or shutting down); for Produce,
	 * the flush it waited for failed. */
	bool (*ready)(struct broker *b, struct broker_waiter *w, bool flag);
};
TAILQ_HEAD(broker_waiters, broker_waiter);

struct broker {
	const struct cloud_config *cfg;
	struct event_base *base;
	struct topics *topics;
	struct group_coord *groups;
	struct offsets *offsets;
	struct sasl_users *users;
	struct server *plain, *tls;
	struct net_admin *admin;   /* /metrics and /healthz */
	struct metrics metrics;
	struct broker_metrics m;
	struct broker_waiters fetch_waiters, produce_waiters;
	struct event *tick_ev;     /* timers: waiter deadlines, group sessions, flush, retention */
	struct event *wake_ev;     /* appended data: re-check parked fetches once per loop turn */
	struct event *flush_ev;    /* the log flusher thread finished a round: publish it */
	bool wake_pending;
	bool dirty;                /* logs appended since the last flush */
	int64_t next_producer_id;  /* InitProducerId; a block is reserved durably ahead of use */
	int64_t producer_id_reserved;
	uint64_t last_retention_ms, last_flush_ms, last_gauges_ms;
	char advertised_host[CLOUD_HOST_MAX];
	uint16_t advertised_port;
	char tls_advertised_host[CLOUD_HOST_MAX];
	uint16_t tls_advertised_port;
};

/* Open the data directory (topics, logs, committed offsets, producer ids) and start the listeners.
 * 0, or an error with a log line saying what failed. */
int broker_open(struct broker *b, const struct cloud_config *cfg, struct event_base *base);
/* Stop listeners, answer parked requests, close logs cleanly. */
void broker_close(struct broker *b);

/* Data was appended to p: parked fetches are re-checked at the end of this loop turn. */
void broker_data_arrived(struct broker *b, struct partition *p);
/* Park a request until w->ready says so or its deadline passes. */
void broker_park(struct broker *b, struct broker_waiters *q, struct broker_waiter *w);
void broker_unpark(struct broker *b, struct broker_waiters *q, struct broker_waiter *w);
/* Rearm the timer for the earliest deadline (after parking or a group state change). */
void broker_schedule(struct broker *b);
/* The next producer id (InitProducerId); 0 or an I/O error reserving a new block. */
int broker_alloc_producer_id(struct broker *b, int64_t *out);
/* Monotonic ms, the clock groups and waiters run on. */
uint64_t broker_now_ms(void);

#endif
