/* One Kafka client connection over libevent, plain TCP or TLS through the project's mbedtls adapter
 * (net/tls.h): correlation ids, pipelining with a bounded in-flight count, ApiVersions negotiation (the
 * highest version both sides speak, per API), request timeouts.  The agent's producer and the cloud's replica
 * fetcher sit on it; each owns its connections and its metadata cache (kafka/metadata.h).
 *
 * Life: kafka_conn_new -> kafka_conn_connect -> event KAFKA_CONN_READY (negotiated, and authenticated when SASL
 * is configured: SaslHandshake v1 + SaslAuthenticate, KIP-152) -> kafka_conn_send ... ->
 * KAFKA_CONN_CLOSED (peer close, I/O error, framing error, a request timeout: Kafka answers in order, so one
 * late answer ends the connection) -> kafka_conn_free.  Every pending request's callback runs exactly once:
 * with the response, or with the error that ended the connection.  kafka_conn_free may be called from any of
 * the connection's callbacks.  One event-loop thread per connection. */
#ifndef FERRY_KAFKA_CONN_H
#define FERRY_KAFKA_CONN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kafka/proto.h"

struct event_base;
struct evdns_base;
struct net_tls;
struct kafka_conn;

#define KAFKA_CONN_INFLIGHT_DEFAULT 5 /* max.in.flight.requests.per.connection: what keeps idempotent order */
#define KAFKA_CONN_INFLIGHT_MAX 64
#define KAFKA_CONN_TIMEOUT_MS_DEFAULT 30000
#define KAFKA_CONN_FRAME_MAX_DEFAULT (64u << 20)
#define KAFKA_CONN_ARENA_DEFAULT (1u << 20)
#define KAFKA_CLIENT_ID_MAX 255
#define KAFKA_SASL_FIELD_MAX 255 /* username, password */

struct kafka_conn_config {
	const char *client_id;         /* copied; NULL: none */
	uint32_t inflight_max;         /* 0: default; at most KAFKA_CONN_INFLIGHT_MAX */
	uint32_t request_timeout_ms;   /* 0: default */
	size_t frame_max;              /* largest response accepted; 0: default */
	size_t arena_size;             /* scratch for decoded arrays of one response; 0: default */
	struct net_tls *tls;           /* NULL: plain TCP; else a client net_tls (referenced while in use) */
	const char *tls_hostname;      /* SNI and certificate name check; copied */
	struct evdns_base *dns;        /* NULL: numeric addresses only */
	const char *sasl_mechanism;    /* NULL: no SASL; "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"; copied */
	const char *sasl_username;     /* copied; at most KAFKA_SASL_FIELD_MAX bytes */
	const char *sasl_password;     /* copied; never logged */
};

enum kafka_conn_event {
	KAFKA_CONN_READY,  /* connected (TLS handshake done) and versions negotiated: send away */
	KAFKA_CONN_CLOSED, /* err says why; no callback follows except those of requests failing now */
};

/* err: 0 or why the connection ended (ERR_CLOSED, ERR_IO, ERR_TIMEOUT, ERR_PROTOCOL, ERR_AUTH (SASL refused
 * or not offered), ...). */
typedef void (*kafka_conn_event_cb)(struct kafka_conn *c, enum kafka_conn_event ev, int err, void *arg);
/* err 0: resp holds the decoded response (views into the connection's buffers: valid during the call only).
 * err < 0: resp is NULL (timeout, closed connection, undecodable response). */
typedef void (*kafka_response_cb)(struct kafka_conn *c, int err, int16_t api_key, int16_t api_version,
				  const union kafka_any_response *resp, void *arg);

/* Heap-allocated; NULL when out of memory. */
struct kafka_conn *kafka_conn_new(struct event_base *base, const struct kafka_conn_config *cfg,
				  kafka_conn_event_cb cb, void *arg);
/* Start connecting (asynchronous).  0, ERR_STATE (already used), ERR_INVAL (bad address without DNS),
 * ERR_IO (socket failure, reported here rather than by an event). */
int kafka_conn_connect(struct kafka_conn *c, const char *host, uint16_t port);
/* Closes if open, failing pending requests with ERR_CLOSED; safe from inside callbacks. */
void kafka_conn_free(struct kafka_conn *c);

/* Send a request at the negotiated version of api_key.  body is the request struct of that API, encoded now
 * (the caller may reuse it at once).  cb runs once with the answer or an error; a Produce with acks=0 gets
 * no answer and no callback.  0, ERR_STATE (not ready), ERR_FULL (inflight_max requests outstanding: wait for
 * an answer), ERR_KAFKA_UNSUPPORTED_VERSION (no common version), or an encoding error. */
int kafka_conn_send(struct kafka_conn *c, int16_t api_key, const void *body, kafka_response_cb cb, void *arg);
/* The same at an explicit version (within what both sides speak). */
int kafka_conn_send_version(struct kafka_conn *c, int16_t api_key, int16_t version, const void *body,
			    kafka_response_cb cb, void *arg);

/* The negotiated version of api_key, or -1 (unknown API, no overlap, or not negotiated yet). */
int16_t kafka_conn_version(const struct kafka_conn *c, int16_t api_key);
bool kafka_conn_ready(const struct kafka_conn *c);
/* Requests written and not yet answered. */
uint32_t kafka_conn_inflight(const struct kafka_conn *c);

#endif
