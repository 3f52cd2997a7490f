/* The Kafka listener and its connections: size-prefixed framing bounded by the request limit, a per-connection
 * queue of requests whose responses leave in request order (Kafka clients match by order as well as by
 * correlation id), a bound on requests in flight per connection (reading pauses beyond it), SASL gating, and
 * one log line plus a counter for every connection closed on bad input.
 *
 * Handlers never see sockets: they get a struct kreq (decoded header and body) and answer it, now or later
 * (a parked Fetch, a JoinGroup waiting for the rebalance), with kreq_respond*().  A request whose connection
 * has gone stays valid until answered; the answer is then dropped. */
#ifndef FERRY_CLOUD_SERVER_H
#define FERRY_CLOUD_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/queue.h>

#include "kafka/proto.h"

struct broker;
struct conn;
struct evbuffer;
struct event_base;
struct net_tls;
struct server;
struct cloud_listener;

#define KREQ_ARENA_MIN (64u << 10)
#define KREQ_ARENA_MAX (64u << 20)

struct kreq {
	struct conn *conn;      /* NULL once the connection closed: the answer is dropped */
	struct broker *broker;
	TAILQ_ENTRY(kreq) link;
	struct kafka_request_header hdr; /* client_id is a view into frame */
	union kafka_any_request body;    /* views into frame, arrays in arena */
	uint8_t *frame;                  /* owned: the request bytes after the size prefix */
	size_t frame_len;
	struct kafka_arena arena;        /* request arrays, and scratch for building the response */
	uint8_t *arena_buf;
	struct evbuffer *out;            /* the response frame, once answered */
	bool done;
	uint64_t start_ns;
	uint64_t conn_id;
	void *park;                      /* the handler's state while parked */
};

/* Scratch memory from the request's arena, zeroed; NULL when it is exhausted (answer an error). */
void *kreq_alloc(struct kreq *r, size_t n);
/* Answer with a response struct of the request's API, encoded at the request's version.  0, or the encode
 * error (the connection is closed: a response we cannot encode is a bug we must not hide). */
int kreq_respond(struct kreq *r, const void *response);
/* Answer with a ready frame (size prefix included); takes the evbuffer's contents (zero-copy Fetch). */
void kreq_respond_frame(struct kreq *r, struct evbuffer *frame);
/* Answer nothing: Produce with acks=0 (Kafka sends no response) - the request leaves the queue. */
void kreq_respond_none(struct kreq *r);
/* Close the connection once this request's answer is written (SASL failure). */
void kreq_close_after(struct kreq *r);
/* The TCP/TLS peer as "host:port" (for logs and DescribeGroups client_host). */
const char *kreq_peer(const struct kreq *r);
bool kreq_is_tls(const struct kreq *r);

/* SASL state of the request's connection (the SASL handlers drive it). */
struct sasl_session;
struct sasl_session *kreq_sasl(struct kreq *r);
void kreq_set_authenticated(struct kreq *r, const char *principal);
bool kreq_needs_auth(const struct kreq *r);

struct server_counters; /* in metrics */

/* One listener (plain or TLS).  tls NULL for plaintext (the server takes a reference otherwise).  The bound
 * port is available from server_port() (for port 0 in tests). */
int server_new(struct server **out, struct broker *b, struct event_base *base, const struct cloud_listener *l,
	       struct net_tls *tls);
uint16_t server_port(const struct server *s);
/* Stop listening and close every connection (parked requests become orphans). */
void server_free(struct server *s);
uint32_t server_connection_count(const struct server *s);
/* Close connections idle past idle_ms (nothing in flight; 0: never) or unauthenticated past auth_ms on a SASL
 * listener.  Called from the broker's timer. */
void server_close_idle(struct server *s, uint64_t now_ms, uint64_t idle_ms, uint64_t auth_ms);

#endif
