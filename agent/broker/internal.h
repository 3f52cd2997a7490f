/* Internals of agent/broker shared by its files. */
#ifndef FERRY_AGENT_BROKER_INTERNAL_H
#define FERRY_AGENT_BROKER_INTERNAL_H

#include <event2/bufferevent.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/listener.h>

#include "agent/broker/agent_broker.h"
#include "base/dbuf.h"
#include "net/listener.h"

#define AB_OUT_HIGH (256u * 1024)   /* output bytes at which a connection counts as blocked */
#define AB_OUT_LOW (32u * 1024)     /* ... and at which it is released */
#define AB_CLOSE_LINGER_S 5         /* time to flush a closing connection's output */
#define AB_NAME_MAX 256
#define AB_STALL_MS 1000            /* blocked this long without draining: a stalled reader */
#define AB_THROTTLE_MAX_MS 500      /* longest pause of a throttled publisher */
#define AB_THROTTLE_MS 5            /* pause of a publisher whose messages fill a receiver's queue */

/* A byte buffer that holds memory only while it holds bytes: data is p[off, len). */
struct ab_buf {
	uint8_t *p;
	uint32_t off, len, cap;
};

struct ab_conn {
	struct agent_broker *ab;
	struct bufferevent *bev;        /* TLS / WebSocket transport; NULL for a lean socket */
	evutil_socket_t fd;             /* lean plain-TCP transport; -1 otherwise */
	struct event rev;               /* lean: read readiness (embedded: no allocation) */
	struct event *wev;              /* lean: write readiness, only while the socket is full */
	struct ab_buf in, out;          /* lean */
	struct ab_conn *flush_next;     /* ab->flush: lean connections with output to write */
	struct mqtt_client *c;
	struct ab_conn *next, *prev;    /* ab->conns */
	struct ab_conn *reap_next;
	struct ab_conn *paused_next;
	struct ab_conn *throttled_next;
	uint8_t kind;                   /* enum agent_listener_kind */
	bool closing : 1, reaping : 1, paused : 1, blocked : 1, throttled : 1, stalled : 1;
	bool rev_assigned : 1, dirty : 1, io_error : 1;
	uint64_t blocked_since_ms;
	char *username;                 /* as authenticated (or the certificate identity); NULL: anonymous */
	char *identity;                 /* TLS client certificate CN/SAN; NULL when none */
};

struct ab_pending {
	struct ab_pending *next;
	struct ab_conn *conn;           /* NULL once the connection is gone */
	uint64_t tag;                   /* sent once this many store items have completed */
	uint32_t len;
	uint8_t bytes[];
};

struct ab_listener;
/* One listener counter exported to /metrics: which listener, which field of struct net_listener_stats. */
struct ab_listener_metric {
	struct ab_listener *owner;
	size_t offset;
};

#define AB_LISTENER_METRICS 4
struct ab_listener {
	struct agent_broker *ab;
	struct net_listener *l;
	uint8_t kind;
	uint16_t port;
	struct ab_listener_metric metrics[AB_LISTENER_METRICS];
};

#define AB_STAT_READERS_MAX 24
struct ab_stat_reader {
	struct agent_broker *ab;
	size_t offset; /* into struct mqtt_broker_stats */
};

struct agent_broker {
	struct event_base *base;
	struct agent_config cfg;
	struct store *store;
	struct auth *auth;
	struct metrics *metrics;
	struct mqtt_broker *b;
	struct ab_listener listeners[AGENT_LISTENER_COUNT];
	struct ab_conn *conns;
	uint32_t conn_count;
	struct net_conn_limit conn_limit; /* shared by the listeners */
	struct ab_conn *reap;
	struct event *reap_ev, *tick_ev, *sys_ev;
	uint64_t started_ms;
	/* store ordering: acks wait until `committed` reaches their tag */
	uint64_t submitted, committed;
	agent_publish_hook *publish_hook; /* store and forward; NULL when no route */
	void *publish_hook_arg;
	struct ab_pending *pending_head, *pending_tail;
	struct ab_conn *paused;          /* connections not read while the store catches up */
	struct ab_conn *throttled;       /* publishers not read for a moment: a receiver's queue is filling */
	struct event *throttle_ev;
	uint64_t throttle_since_ms;
	struct ab_conn *flush;           /* lean connections with output pending this loop iteration */
	struct event *flush_ev;
	struct dbuf scratch;             /* NUL-terminated copies for the store and ACL */
	struct dbuf scratch2;
	/* counters the engine does not keep */
	uint64_t store_errors, store_full;
	struct ab_stat_reader readers[AB_STAT_READERS_MAX];
};

uint64_t ab_now_ms(void);
/* NUL-terminated copy of b in scratch (valid until the next call with the same scratch); NULL if too big. */
const char *ab_cstr(struct dbuf *scratch, struct mqtt_bytes b);

/* conn.c */
int ab_listeners_start(struct agent_broker *ab, char *err, size_t err_len);
void ab_listeners_stop(struct agent_broker *ab);
/* SIGHUP: re-read each TLS listener's certificate, key and CA; on error keep the old ones. */
void ab_listeners_reload_tls(struct agent_broker *ab);
void ab_conn_free(struct ab_conn *conn);
void ab_reap_cb(evutil_socket_t fd, short what, void *arg);
void ab_send(void *ctx, void *io, const struct mqtt_packet *pkt, uint8_t version, unsigned flags);
void ab_close(void *ctx, void *io);
void ab_resume_paused(struct agent_broker *ab);
void ab_throttle(void *ctx, void *io);
void ab_throttle_cb(evutil_socket_t fd, short what, void *arg);
void ab_check_stalled(struct agent_broker *ab);

/* conn.c */
const char *ab_peer(const struct ab_conn *conn, char *out, size_t len);
/* conn.c, called by the transports */
void ab_on_readable(struct ab_conn *conn);
void ab_on_eof(struct ab_conn *conn, bool error);
void ab_on_drained(struct ab_conn *conn, size_t left);

/* io.c */
int ab_io_lean_attach(struct ab_conn *conn, evutil_socket_t fd);
bool ab_io_open(const struct ab_conn *conn);
void ab_io_read_enable(struct ab_conn *conn, bool on);
size_t ab_io_out_len(const struct ab_conn *conn);
uint8_t *ab_io_out_reserve(struct ab_conn *conn, size_t n, struct evbuffer_iovec *v);
void ab_io_out_commit(struct ab_conn *conn, size_t n, struct evbuffer_iovec *v);
int ab_io_out_add(struct ab_conn *conn, const uint8_t *p, size_t n);
size_t ab_io_in_len(const struct ab_conn *conn);
const uint8_t *ab_io_in_pullup(struct ab_conn *conn, size_t n);
void ab_io_in_drain(struct ab_conn *conn, size_t n);
void ab_io_hand_off(struct ab_conn *conn);
void ab_io_free(struct ab_conn *conn);
void ab_flush_cb(evutil_socket_t fd, short what, void *arg);

/* persist.c */
void ab_store(void *ctx, const struct mqtt_store_op *op);
void ab_pending_add(struct agent_broker *ab, struct ab_conn *conn, const uint8_t *bytes, uint32_t len);
void ab_pending_forget(struct agent_broker *ab, struct ab_conn *conn);
bool ab_store_backlogged(const struct agent_broker *ab);

/* access.c */
uint8_t ab_authenticate(void *ctx, void *io, struct mqtt_connect_info *info);
bool ab_authorize(void *ctx, void *io, enum mqtt_acl_access access, struct mqtt_bytes topic);

/* sys.c */
void ab_sys_cb(evutil_socket_t fd, short what, void *arg);
void ab_metrics_register(struct agent_broker *ab);

#endif
