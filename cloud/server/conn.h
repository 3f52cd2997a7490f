/* A client connection (server.c internals shared with the SASL handlers through kreq_*()). */
#ifndef FERRY_CLOUD_CONN_H
#define FERRY_CLOUD_CONN_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "cloud/server/sasl.h"
#include "cloud/server/server.h"

struct bufferevent;
struct event;

struct conn {
	struct server *srv;
	struct bufferevent *bev;
	struct event *close_ev;     /* deferred close: never free a connection under a handler */
	TAILQ_ENTRY(conn) link;
	TAILQ_HEAD(, kreq) queue;   /* requests in arrival order; answered ones leave from the head */
	uint32_t inflight;
	uint64_t inflight_bytes;     /* request frame bytes held by the queue */
	uint64_t id;
	uint64_t opened_ms, active_ms; /* monotonic: accepted, last request read */
	bool tls, read_paused, failed, closing, authenticated;
	struct kreq *close_after;   /* close once this one's answer is written */
	struct sasl_session sasl;
	char principal[128];
	char peer[80];              /* "host:port" */
	char host[72];              /* "/host", as Kafka reports client hosts */
};

void conn_flush(struct conn *c);
/* Close soon (from the loop, not under the caller). */
void conn_fail(struct conn *c);

#endif
