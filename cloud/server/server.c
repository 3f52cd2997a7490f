/* Kafka listener and connections (server.h).  Frames are read whole (bounded by the configured request
 * limit, tighter before SASL authentication), decoded, and dispatched; responses are written strictly in
 * request order.  Bad framing closes the connection with one log line and a counter; it never crashes, hangs
 * or grows a buffer without bound. */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "base/err.h"
#include "base/rw.h"
#include "base/log.h"
#include "cloud/api/api.h"
#include "cloud/broker.h"
#include "cloud/group/group.h"
#include "cloud/server/conn.h"
#include "cloud/server/sasl.h"
#include "net/bev.h"
#include "net/tls.h"
#include "port.h"

#define OUTPUT_PAUSE_BYTES (32u << 20) /* stop reading while this much is waiting to go out */

struct server {
	struct broker *broker;
	struct evconnlistener *listener;
	struct net_tls *tls;
	bool sasl;
	uint16_t port;
	uint32_t conn_count;
	uint64_t next_conn_id;
	TAILQ_HEAD(, conn) conns;
};

static uint64_t conn_id_seq; /* process-wide so that ids differ across listeners */

/* ---- requests ------------------------------------------------------------------------------------------ */

void *kreq_alloc(struct kreq *r, size_t n) { return kafka_arena_alloc(&r->arena, n); }

static void kreq_free(struct kreq *r)
{
	if (r->out)
		evbuffer_free(r->out);
	free(r->frame);
	free(r->arena_buf);
	free(r);
}

static void request_finished(struct kreq *r)
{
	struct broker *b = r->broker;
	int16_t k = r->hdr.api_key;
	if (k >= 0 && k < BROKER_API_SLOTS && b->m.latency[k])
		metric_observe(b->m.latency[k], (double)(port_now_ns() - r->start_ns) / 1e9);
	if (!r->conn) {
		kreq_free(r);
		return;
	}
	r->done = true;
	conn_flush(r->conn);
}

int kreq_respond(struct kreq *r, const void *response)
{
	size_t size;
	int rc = kafka_response_size(r->hdr.api_key, r->hdr.api_version, response, &size);
	if (!rc && !(r->out = evbuffer_new()))
		rc = ERR_NOMEM;
	struct evbuffer_iovec v;
	if (!rc && evbuffer_reserve_space(r->out, (ev_ssize_t)size, &v, 1) != 1)
		rc = ERR_NOMEM;
	if (!rc) {
		int n = kafka_response_encode(r->hdr.api_key, r->hdr.api_version, r->hdr.correlation_id, response,
					      v.iov_base, size);
		if (n < 0)
			rc = n;
		else {
			v.iov_len = (size_t)n;
			evbuffer_commit_space(r->out, &v, 1);
		}
	}
	if (rc) {
		log_error("kafka: encoding %s v%d response for %s: %s", api_name(r->hdr.api_key), r->hdr.api_version,
			  kreq_peer(r), err_str(rc));
		if (r->conn)
			conn_fail(r->conn);
	}
	request_finished(r);
	return rc;
}

void kreq_respond_frame(struct kreq *r, struct evbuffer *frame)
{
	if (!r->out && (r->out = evbuffer_new()))
		evbuffer_set_flags(r->out, EVBUFFER_FLAG_DRAINS_TO_FD); /* keep sendfile chains as they are */
	if (r->out)
		evbuffer_add_buffer(r->out, frame);
	else if (r->conn)
		conn_fail(r->conn);
	request_finished(r);
}

void kreq_respond_none(struct kreq *r) { request_finished(r); }

void kreq_close_after(struct kreq *r)
{
	if (r->conn)
		r->conn->close_after = r;
}

const char *kreq_peer(const struct kreq *r) { return r->conn ? r->conn->peer : "(closed)"; }
bool kreq_is_tls(const struct kreq *r) { return r->conn && r->conn->tls; }

struct sasl_session *kreq_sasl(struct kreq *r) { return r->conn ? &r->conn->sasl : NULL; }

void kreq_set_authenticated(struct kreq *r, const char *principal)
{
	if (!r->conn)
		return;
	r->conn->authenticated = true;
	snprintf(r->conn->principal, sizeof r->conn->principal, "%s", principal);
}

bool kreq_needs_auth(const struct kreq *r) { return r->conn && r->conn->srv->sasl && !r->conn->authenticated; }

/* ---- connections --------------------------------------------------------------------------------------- */

static void conn_free(struct conn *c)
{
	struct server *s = c->srv;
	struct broker *b = s->broker;
	TAILQ_REMOVE(&s->conns, c, link);
	s->conn_count--;
	metric_add(b->m.conn_open, -1);
	while (!TAILQ_EMPTY(&c->queue)) {
		struct kreq *r = TAILQ_FIRST(&c->queue);
		TAILQ_REMOVE(&c->queue, r, link);
		r->conn = NULL; /* parked ones are freed by whoever answers them */
		if (r->done)
			kreq_free(r);
	}
	group_conn_closed(b->groups, c->id, broker_now_ms());
	broker_schedule(b);
	sasl_session_deinit(&c->sasl);
	if (c->bev)
		bufferevent_free(c->bev);
	free(c);
}

void conn_fail(struct conn *c)
{
	/* Deferred: we may be inside a handler that still uses the connection. */
	c->failed = true;
	if (c->bev)
		bufferevent_disable(c->bev, EV_READ);
	event_active(c->close_ev, 0, 0);
}

static void close_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct conn *c = arg;
	event_free(c->close_ev);
	c->close_ev = NULL;
	conn_free(c);
}

static void framing_error(struct conn *c, _Atomic int64_t *counter, const char *why, long long v)
{
	log_warn("kafka: closing %s: %s (%lld)", c->peer, why, v);
	metric_add(counter, 1);
	conn_fail(c);
}

static void conn_read_cb(struct bufferevent *bev, void *arg);

/* Backpressure: too many requests or request bytes in flight, or too many answer bytes not yet sent.  One
 * request is always admitted when nothing is in flight, whatever its size (it passed the frame limit). */
static bool must_pause(const struct conn *c)
{
	const struct cloud_config *cfg = c->srv->broker->cfg;
	return c->inflight >= cfg->inflight_max || (c->inflight && c->inflight_bytes >= cfg->inflight_bytes_max) ||
	       evbuffer_get_length(bufferevent_get_output(c->bev)) >= OUTPUT_PAUSE_BYTES;
}

/* Move finished responses, in request order, to the socket. */
void conn_flush(struct conn *c)
{
	if (c->failed)
		return;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	while (!TAILQ_EMPTY(&c->queue) && TAILQ_FIRST(&c->queue)->done) {
		struct kreq *r = TAILQ_FIRST(&c->queue);
		TAILQ_REMOVE(&c->queue, r, link);
		c->inflight--;
		c->inflight_bytes -= r->frame_len;
		if (r->out)
			evbuffer_add_buffer(out, r->out);
		bool close_now = c->close_after == r;
		kreq_free(r);
		if (close_now) {
			c->closing = true;
			bufferevent_disable(c->bev, EV_READ);
			if (evbuffer_get_length(out) == 0)
				conn_fail(c);
			return;
		}
	}
	if (c->read_paused && !must_pause(c)) {
		c->read_paused = false;
		net_bev_resume_read(c->bev);
		conn_read_cb(c->bev, c); /* frames may already be buffered */
	}
}

static struct kreq *request_new(struct conn *c, size_t body_len)
{
	struct kreq *r = calloc(1, sizeof *r);
	if (!r)
		return NULL;
	size_t arena = body_len * 8 + KREQ_ARENA_MIN;
	if (arena > KREQ_ARENA_MAX)
		arena = KREQ_ARENA_MAX;
	r->frame = malloc(body_len ? body_len : 1);
	r->arena_buf = malloc(arena);
	if (!r->frame || !r->arena_buf) {
		free(r->frame);
		free(r->arena_buf);
		free(r);
		return NULL;
	}
	kafka_arena_init(&r->arena, r->arena_buf, arena);
	r->conn = c;
	r->broker = c->srv->broker;
	r->conn_id = c->id;
	r->frame_len = body_len;
	r->start_ns = port_now_ns();
	return r;
}

/* Decode and dispatch one whole frame already removed from the input.  false: the connection is failing. */
static bool handle_frame(struct conn *c, struct kreq *r)
{
	struct broker *b = c->srv->broker;
	TAILQ_INSERT_TAIL(&c->queue, r, link);
	c->inflight++;
	c->inflight_bytes += r->frame_len;
	int rc = kafka_request_decode(r->frame, r->frame_len, &r->hdr, &r->body, &r->arena);
	int16_t k = r->hdr.api_key;
	if (k >= 0 && k < BROKER_API_SLOTS && b->m.requests[k])
		metric_add(b->m.requests[k], 1);
	if (rc == ERR_KAFKA_UNSUPPORTED_VERSION && k == KAFKA_API_API_VERSIONS) {
		api_versions_reject(r); /* KIP-511: answer in v0 so the client can retry with a version we speak */
		return true;
	}
	if (rc) {
		_Atomic int64_t *ctr = rc == ERR_KAFKA_UNKNOWN_API || rc == ERR_KAFKA_UNSUPPORTED_VERSION
					       ? b->m.closed_unsupported : b->m.closed_malformed;
		log_warn("kafka: closing %s: api %d v%d correlation %d: %s", c->peer, k, r->hdr.api_version,
			 r->hdr.correlation_id, err_str(rc));
		metric_add(ctr, 1);
		r->done = true; /* nothing to answer: freed with the connection */
		conn_fail(c);
		return false;
	}
	if (c->srv->sasl && !c->authenticated && k != KAFKA_API_API_VERSIONS && k != KAFKA_API_SASL_HANDSHAKE &&
	    k != KAFKA_API_SASL_AUTHENTICATE) {
		log_warn("kafka: closing %s: %s before SASL authentication", c->peer, api_name(k));
		metric_add(b->m.closed_auth, 1);
		r->done = true;
		conn_fail(c);
		return false;
	}
	api_dispatch(b, r);
	return !c->failed;
}

static void conn_read_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	struct broker *b = c->srv->broker;
	struct evbuffer *in = bufferevent_get_input(bev);
	while (!c->failed && !c->closing && !c->read_paused) {
		if (must_pause(c)) {
			/* Backpressure: stop reading; conn_flush resumes when answers have gone out. */
			c->read_paused = true;
			bufferevent_disable(bev, EV_READ);
			return;
		}
		uint8_t pre[4];
		if (evbuffer_copyout(in, pre, 4) < 4)
			return;
		int32_t size = (int32_t)be32_get(pre);
		uint64_t max = c->srv->sasl && !c->authenticated ? b->cfg->request_bytes_max_unauth
								 : b->cfg->request_bytes_max;
		if (size < 0) {
			framing_error(c, b->m.closed_framing, "negative frame size", size);
			return;
		}
		if ((uint64_t)size > max) {
			framing_error(c, b->m.closed_oversize, "frame over the request size limit", size);
			return;
		}
		if (evbuffer_get_length(in) < 4 + (size_t)size)
			return; /* the size is within the limit; wait for the rest */
		c->active_ms = port_now_ms();
		struct kreq *r = request_new(c, (size_t)size);
		if (!r) {
			framing_error(c, b->m.closed_malformed, "out of memory for a request", size);
			return;
		}
		evbuffer_drain(in, 4);
		evbuffer_remove(in, r->frame, (size_t)size);
		if (!handle_frame(c, r))
			return;
	}
}

static void conn_write_cb(struct bufferevent *bev, void *arg)
{
	struct conn *c = arg;
	if (c->closing && evbuffer_get_length(bufferevent_get_output(bev)) == 0) {
		conn_fail(c);
		return;
	}
	if (c->read_paused)
		conn_flush(c);
}

static void conn_event_cb(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	struct conn *c = arg;
	if (what & BEV_EVENT_CONNECTED)
		return; /* TLS handshake done */
	if (what & BEV_EVENT_ERROR)
		log_debug("kafka: %s: connection error: %s", c->peer, evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		conn_fail(c);
}

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	(void)l, (void)salen;
	struct server *s = arg;
	struct broker *b = s->broker;
	char host[INET6_ADDRSTRLEN] = "?";
	uint16_t port = 0;
	if (sa->sa_family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
		port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
		port = ntohs(in6->sin6_port);
	}
	if (s->conn_count >= b->cfg->connections_max) {
		log_warn("kafka: refusing %s:%u: %u connections open (limits.connections_max)", host, port,
			 s->conn_count);
		metric_add(b->m.conn_rejected, 1);
		evutil_closesocket(fd);
		return;
	}
	struct conn *c = calloc(1, sizeof *c);
	if (!c) {
		evutil_closesocket(fd);
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	c->srv = s;
	c->id = ++conn_id_seq;
	c->opened_ms = c->active_ms = port_now_ms();
	c->tls = s->tls != NULL;
	snprintf(c->peer, sizeof c->peer, "%s:%u", host, port);
	snprintf(c->host, sizeof c->host, "/%s", host);
	TAILQ_INIT(&c->queue);
	sasl_session_init(&c->sasl);
	c->close_ev = event_new(b->base, -1, 0, close_cb, c);
	struct bufferevent *bev = bufferevent_socket_new(b->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (bev && s->tls)
		bev = net_tls_wrap(s->tls, b->base, bev, NULL);
	if (!bev || !c->close_ev) {
		if (bev)
			bufferevent_free(bev);
		else if (!s->tls)
			evutil_closesocket(fd);
		if (c->close_ev)
			event_free(c->close_ev);
		sasl_session_deinit(&c->sasl);
		free(c);
		return;
	}
	c->bev = bev;
	TAILQ_INSERT_TAIL(&s->conns, c, link);
	s->conn_count++;
	metric_add(b->m.conn_accepted, 1);
	metric_add(b->m.conn_open, 1);
	bufferevent_setcb(bev, conn_read_cb, conn_write_cb, conn_event_cb, c);
	bufferevent_setwatermark(bev, EV_WRITE, OUTPUT_PAUSE_BYTES / 2, 0);
	net_bev_resume_read(bev);
	bufferevent_enable(bev, EV_WRITE);
	log_debug("kafka: connection from %s (id %llu)", c->peer, (unsigned long long)c->id);
}

/* ---- listener ------------------------------------------------------------------------------------------ */

int server_new(struct server **out, struct broker *b, struct event_base *base, const struct cloud_listener *l,
	       struct net_tls *tls)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV};
	struct addrinfo *ai = NULL;
	char port[8];
	snprintf(port, sizeof port, "%u", l->port);
	int rc = getaddrinfo(l->host, port, &hints, &ai);
	if (rc) {
		log_error("kafka: listener address %s:%s: %s", l->host, port, gai_strerror(rc));
		return ERR_CONFIG;
	}
	struct server *s = calloc(1, sizeof *s);
	if (!s) {
		freeaddrinfo(ai);
		return ERR_NOMEM;
	}
	s->broker = b;
	s->sasl = l->sasl;
	TAILQ_INIT(&s->conns);
	s->listener = evconnlistener_new_bind(base, accept_cb, s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 512,
					      ai->ai_addr, (int)ai->ai_addrlen);
	freeaddrinfo(ai);
	if (!s->listener) {
		log_error("kafka: listen on %s:%u: %s", l->host, l->port, strerror(errno));
		free(s);
		return ERR_IO;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	getsockname(evconnlistener_get_fd(s->listener), (struct sockaddr *)&ss, &sl);
	s->port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
						: ((struct sockaddr_in6 *)&ss)->sin6_port);
	if (tls) {
		net_tls_ref(tls);
		s->tls = tls;
	}
	*out = s;
	return 0;
}

uint16_t server_port(const struct server *s) { return s->port; }

void server_close_idle(struct server *s, uint64_t now_ms, uint64_t idle_ms, uint64_t auth_ms)
{
	if (!s)
		return;
	struct conn *c;
	TAILQ_FOREACH(c, &s->conns, link) {
		if (c->failed)
			continue;
		if (s->sasl && !c->authenticated && now_ms - c->opened_ms >= auth_ms) {
			log_warn("kafka: closing %s: not authenticated within %llu ms", c->peer, (unsigned long long)auth_ms);
			metric_add(s->broker->m.closed_auth, 1);
			conn_fail(c);
		} else if (idle_ms && c->inflight == 0 && now_ms - c->active_ms >= idle_ms) {
			log_debug("kafka: closing %s: idle for %llu ms", c->peer, (unsigned long long)(now_ms - c->active_ms));
			conn_fail(c);
		}
	}
}
uint32_t server_connection_count(const struct server *s) { return s->conn_count; }

void server_free(struct server *s)
{
	if (!s)
		return;
	evconnlistener_free(s->listener);
	while (!TAILQ_EMPTY(&s->conns)) {
		struct conn *c = TAILQ_FIRST(&s->conns);
		if (c->close_ev)
			event_free(c->close_ev);
		conn_free(c);
	}
	if (s->tls)
		net_tls_unref(s->tls);
	free(s);
}
