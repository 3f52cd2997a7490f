/* A TCP listener for the agent and the cloud: binds address:port, enforces a connection limit (shared
 * between listeners) and a new-connections-per-second budget, optionally completes a TLS handshake under a
 * timeout, and hands the caller a bufferevent ready for application bytes.
 *
 * Over a limit, the connection is closed at once (one counter, no log line per refusal, so a flood costs
 * little).  A persistent accept() error (EMFILE) pauses the listener for NET_ACCEPT_PAUSE_MS instead of
 * spinning.  Accepted sockets get TCP_NODELAY: MQTT and Kafka are request/response over small frames. */
#ifndef FERRY_NET_LISTENER_H
#define FERRY_NET_LISTENER_H

#include <stdint.h>
#include <stddef.h>

struct bufferevent;
struct event_base;
struct net_tls;
struct sockaddr;

#define NET_ACCEPT_PAUSE_MS 100
#define NET_BACKLOG_DEFAULT 128
#define NET_HANDSHAKE_TIMEOUT_MS_DEFAULT 10000

/* Open connections against a maximum, shared by every listener that serves the same pool.  A connection
 * counts from accept until its owner calls net_conn_limit_release(). */
struct net_conn_limit {
	uint32_t open;
	uint32_t max; /* 0 = unlimited */
};
static inline void net_conn_limit_release(struct net_conn_limit *l)
{
	if (l && l->open > 0)
		l->open--;
}

struct net_listener_config {
	const char *address;  /* "127.0.0.1", "0.0.0.0", "::1", ... */
	uint16_t port;        /* 0 = any; see net_listener_port() */
	struct net_tls *tls;  /* NULL = plain TCP; the listener holds its own reference */
	struct net_conn_limit *limit; /* NULL = unlimited */
	uint32_t max_per_second;      /* new connections per second; 0 = unlimited */
	uint64_t handshake_timeout_ms; /* TLS; 0 = NET_HANDSHAKE_TIMEOUT_MS_DEFAULT */
	int backlog;                  /* 0 = NET_BACKLOG_DEFAULT */
};

/* A new connection: bev is the caller's (free it when done, and release the limit).  For TLS the handshake
 * has completed.  peer is the remote address. */
typedef void net_accept_fn(void *arg, struct bufferevent *bev, const struct sockaddr *peer, int peer_len);

struct net_listener_stats {
	uint64_t accepted;      /* handed to the caller */
	uint64_t refused_limit; /* over max connections */
	uint64_t refused_rate;  /* over max_per_second */
	uint64_t handshake_failed; /* TLS errors and timeouts */
	uint64_t accept_errors;
};

struct net_listener;

/* Bind and listen.  0 and *out, or ERR_CONFIG (bad address) / ERR_IO (bind failed; err says why). */
int net_listener_new(struct net_listener **out, struct event_base *base, const struct net_listener_config *cfg,
		     net_accept_fn *cb, void *arg, char *err, size_t err_len);
/* Close the socket and drop handshakes in progress.  Connections already handed over are not touched. */
void net_listener_free(struct net_listener *l);
uint16_t net_listener_port(const struct net_listener *l);
/* Use tls for connections accepted from now on (certificate reload); NULL is refused for a TLS listener. */
void net_listener_set_tls(struct net_listener *l, struct net_tls *tls);
void net_listener_get_stats(const struct net_listener *l, struct net_listener_stats *out);

#endif
