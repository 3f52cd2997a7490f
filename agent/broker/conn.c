/* Listeners and connections: accept (with the connection count and rate limits), TLS wrapping, framing
 * inbound bytes into whole packets for the engine, encoding the engine's packets into the socket's output,
 * output backpressure, and closing.  The engine never sees a socket; this file never interprets a packet
 * beyond its fixed header. */
#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "agent/broker/internal.h"
#include "base/log.h"
#include "base/rw.h"
#include "net/bev.h"
#include "net/listener.h"
#include "net/websocket.h"
#include "net/tls.h"

static const char *const kind_names[AGENT_LISTENER_COUNT] = {"mqtt", "mqtt_tls", "websocket"};

static void conn_unlink(struct ab_conn *conn)
{
	struct agent_broker *ab = conn->ab;
	if (conn->prev)
		conn->prev->next = conn->next;
	else
		ab->conns = conn->next;
	if (conn->next)
		conn->next->prev = conn->prev;
	ab->conn_count--;
}

/* The one place a connection ends: the engine learns it (will, session), held acks are forgotten. */
void ab_conn_free(struct ab_conn *conn)
{
	struct agent_broker *ab = conn->ab;
	if (conn->c)
		mqtt_broker_client_free(ab->b, conn->c, ab_now_ms());
	ab_pending_forget(ab, conn);
	if (conn->paused) {
		struct ab_conn **pp = &ab->paused;
		while (*pp && *pp != conn)
			pp = &(*pp)->paused_next;
		if (*pp)
			*pp = conn->paused_next;
	}
	if (conn->throttled) {
		struct ab_conn **pp = &ab->throttled;
		while (*pp && *pp != conn)
			pp = &(*pp)->throttled_next;
		if (*pp)
			*pp = conn->throttled_next;
	}
	conn_unlink(conn);
	if (conn->bev)
		bufferevent_free(conn->bev);
	net_conn_limit_release(&ab->conn_limit);
	free(conn->username);
	free(conn->identity);
	free(conn);
}

static void reap_later(struct ab_conn *conn)
{
	if (conn->reaping)
		return;
	conn->reaping = true;
	conn->reap_next = conn->ab->reap;
	conn->ab->reap = conn;
	event_active(conn->ab->reap_ev, 0, 0);
}

void ab_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct agent_broker *ab = arg;
	while (ab->reap) {
		struct ab_conn *conn = ab->reap;
		ab->reap = conn->reap_next;
		ab_conn_free(conn);
	}
}

/* ---- output ------------------------------------------------------------------------------------------ */

static void resume(struct ab_conn *conn);

static void set_blocked(struct ab_conn *conn, bool blocked)
{
	if (conn->blocked == blocked || !conn->bev)
		return;
	conn->blocked = blocked;
	/* A client whose output is stuck is not read either: its own publishes wait in TCP.  Blocking is called
	 * from inside the engine (it only sets a flag there); unblocking only from the write callback. */
	if (blocked) {
		bufferevent_disable(conn->bev, EV_READ);
		conn->blocked_since_ms = ab_now_ms();
	} else if (conn->stalled) {
		conn->stalled = false;
		mqtt_broker_client_set_stalled(conn->c, false);
	}
	mqtt_broker_client_set_blocked(conn->ab->b, conn->c, blocked, ab_now_ms());
	if (!blocked)
		resume(conn);
}

static void write_bytes(struct ab_conn *conn, const uint8_t *p, size_t len)
{
	struct evbuffer *out = bufferevent_get_output(conn->bev);
	evbuffer_add(out, p, len);
	if (evbuffer_get_length(out) >= AB_OUT_HIGH && !conn->blocked)
		set_blocked(conn, true);
}

void ab_send(void *ctx, void *io, const struct mqtt_packet *pkt, uint8_t version, unsigned flags)
{
	struct agent_broker *ab = ctx;
	struct ab_conn *conn = io;
	if (conn->closing || !conn->bev)
		return;
	size_t size = mqtt_packet_size(pkt, version);
	struct evbuffer *out = bufferevent_get_output(conn->bev);
	uint8_t stack[512];
	uint8_t *p = stack;
	struct evbuffer_iovec v;
	bool reserved = false;
	if ((flags & MQTT_SEND_AFTER_COMMIT) && ab->submitted != ab->committed) {
		p = size <= sizeof stack ? stack : malloc(size);
	} else if (size > sizeof stack) {
		/* Encode straight into the socket's output buffer. */
		if (evbuffer_reserve_space(out, (ev_ssize_t)size, &v, 1) == 1 && v.iov_len >= size) {
			p = v.iov_base;
			reserved = true;
		} else {
			p = malloc(size);
		}
	}
	if (!p) {
		log_error("mqtt: out of memory encoding a %zu-byte %s", size, mqtt_type_name(pkt->type));
		ab_close(ctx, io);
		return;
	}
	struct wbuf w;
	wbuf_init(&w, p, size);
	int rc = mqtt_encode(&w, pkt, version);
	assert(rc == 0 && w.len == size);
	(void)rc;
	if ((flags & MQTT_SEND_AFTER_COMMIT) && ab->submitted != ab->committed) {
		ab_pending_add(ab, conn, p, (uint32_t)size);
	} else if (reserved) {
		v.iov_len = size;
		evbuffer_commit_space(out, &v, 1);
		if (evbuffer_get_length(out) >= AB_OUT_HIGH && !conn->blocked)
			set_blocked(conn, true);
	} else {
		write_bytes(conn, p, size);
	}
	if (p != stack && !reserved)
		free(p);
}

/* Sends bytes held for a commit (persist.c). */
void ab_send_held(struct ab_conn *conn, const uint8_t *p, size_t len)
{
	if (!conn->closing && conn->bev)
		write_bytes(conn, p, len);
}

/* Hands the socket to net_bev_close_after_flush (what the engine sent last, a CONNACK or DISCONNECT with its
 * reason, still goes out, with the TLS close_notify or WebSocket close), and frees the connection from the
 * loop: the engine must not be re-entered from inside its own callback. */
static void hand_off(struct ab_conn *conn)
{
	struct bufferevent *bev = conn->bev;
	conn->bev = NULL;
	if (bev)
		net_bev_close_after_flush(bev, AB_CLOSE_LINGER_S * 1000u, NULL, NULL);
}

void ab_close(void *ctx, void *io)
{
	(void)ctx;
	struct ab_conn *conn = io;
	if (conn->closing)
		return;
	conn->closing = true;
	hand_off(conn);
	reap_later(conn);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	struct ab_conn *conn = arg;
	size_t left = evbuffer_get_length(bufferevent_get_output(bev));
	if (conn->closing)
		return;
	if (conn->blocked && left <= AB_OUT_LOW)
		set_blocked(conn, false);
}

/* ---- input ------------------------------------------------------------------------------------------- */

/* Feeds the whole packets in the input buffer to the engine.  at_eof: the peer closed; what it sent before
 * is still processed (a QoS 0 publisher may close right after its last PUBLISH), whatever the flow control. */
static void process_input(struct ab_conn *conn, bool at_eof)
{
	struct agent_broker *ab = conn->ab;
	struct bufferevent *bev = conn->bev;
	struct evbuffer *in = bufferevent_get_input(bev);
	uint32_t max = mqtt_broker_packet_size_max(ab->b);
	while (!conn->closing && conn->bev && (at_eof || (!conn->throttled && !conn->blocked))) {
		if (!at_eof && ab_store_backlogged(ab)) {
			/* The disk is behind: stop taking new work until the writer catches up. */
			bufferevent_disable(bev, EV_READ);
			if (!conn->paused) {
				conn->paused = true;
				conn->paused_next = ab->paused;
				ab->paused = conn;
			}
			return;
		}
		size_t avail = evbuffer_get_length(in);
		if (avail == 0)
			return;
		uint8_t hdr[5];
		size_t n = avail < sizeof hdr ? avail : sizeof hdr;
		evbuffer_copyout(in, hdr, n);
		struct mqtt_fixed fh;
		int rc = mqtt_frame(hdr, n, mqtt_broker_client_version(conn->c), max, &fh);
		if (rc == ERR_AGAIN)
			return;
		if (rc < 0) {
			log_info("mqtt: %s: %s", conn->peer, err_str(rc));
			mqtt_broker_input_error(ab->b, conn->c, rc);
			return;
		}
		size_t total = (size_t)fh.header_len + fh.remaining_len;
		if (avail < total)
			return;
		const uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)total);
		if (!p) {
			ab_close(ab, conn);
			return;
		}
		mqtt_broker_input(ab->b, conn->c, p, total, ab_now_ms());
		evbuffer_drain(in, total);
	}
}

static void on_read(struct bufferevent *bev, void *arg)
{
	(void)bev;
	process_input(arg, false);
}

/* Once a second: a connection blocked for AB_STALL_MS without draining stops throttling its publishers. */
void ab_check_stalled(struct agent_broker *ab)
{
	uint64_t now = ab_now_ms();
	for (struct ab_conn *conn = ab->conns; conn; conn = conn->next) {
		if (conn->blocked && !conn->stalled && now - conn->blocked_since_ms >= AB_STALL_MS) {
			conn->stalled = true;
			mqtt_broker_client_set_stalled(conn->c, true);
			log_info("mqtt: %s: not reading for %u ms; its messages are dropped when its queue is full",
				 conn->peer, AB_STALL_MS);
		}
	}
}

static void resume(struct ab_conn *conn)
{
	if (conn->closing || conn->blocked || conn->paused || conn->throttled || !conn->bev)
		return;
	net_bev_resume_read(conn->bev);
	on_read(conn->bev, conn); /* what already sits in the input buffer */
}

void ab_resume_paused(struct agent_broker *ab)
{
	while (ab->paused && !ab_store_backlogged(ab)) {
		struct ab_conn *conn = ab->paused;
		ab->paused = conn->paused_next;
		conn->paused = false;
		resume(conn);
	}
}

/* Backpressure from a receiver's queue to the publisher feeding it: a short pause, not a drop.  A receiver
 * that never drains cannot hold publishers for long: the pause ends on a timer, and its queue then drops. */
void ab_throttle(void *ctx, void *io)
{
	struct agent_broker *ab = ctx;
	struct ab_conn *conn = io;
	if (conn->throttled || conn->closing || !conn->bev)
		return;
	conn->throttled = true;
	bufferevent_disable(conn->bev, EV_READ);
	conn->throttled_next = ab->throttled;
	ab->throttled = conn;
	if (!event_pending(ab->throttle_ev, EV_TIMEOUT, NULL)) {
		struct timeval tv = {0, AB_THROTTLE_MS * 1000};
		event_add(ab->throttle_ev, &tv);
	}
}

void ab_throttle_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct agent_broker *ab = arg;
	struct ab_conn *list = ab->throttled;
	ab->throttled = NULL;
	while (list) {
		struct ab_conn *conn = list;
		list = conn->throttled_next;
		conn->throttled = false;
		resume(conn);
	}
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	struct ab_conn *conn = arg;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		if (what & BEV_EVENT_ERROR)
			log_debug("mqtt: %s: connection error: %s", conn->peer,
				  evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		if (conn->reaping)
			return; /* already on its way out */
		if ((what & BEV_EVENT_EOF) && conn->bev)
			process_input(conn, true);
		if (conn->reaping)
			return; /* the engine closed it while draining */
		if (what & BEV_EVENT_ERROR)
			hand_off(conn); /* a refused WebSocket upgrade has an HTTP answer queued */
		ab_conn_free(conn);
	}
}

/* ---- accept ------------------------------------------------------------------------------------------ */

static void peer_name(const struct sockaddr *sa, char *out, size_t len)
{
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const void *)sa;
		inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
		port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
		port = ntohs(in6->sin6_port);
	}
	snprintf(out, len, "%s:%u", host, port);
}

static void on_accept(void *arg, struct bufferevent *bev, const struct sockaddr *sa, int salen)
{
	(void)salen;
	struct ab_listener *l = arg;
	struct agent_broker *ab = l->ab;
	struct ab_conn *conn = calloc(1, sizeof *conn);
	if (!conn) {
		bufferevent_free(bev);
		net_conn_limit_release(&ab->conn_limit);
		return;
	}
	/* The listener finished the TLS handshake: the certificate identity may become the username. */
	char identity[AB_NAME_MAX];
	if (net_tls_is_tls(bev) && net_tls_peer_identity(bev, identity, sizeof identity) == 0)
		conn->identity = strdup(identity); /* NULL on failure: no identity */
	if (l->kind == AGENT_LISTENER_WS) {
		/* MQTT over WebSocket (MQTT 5.0 §6): the upgrade runs first, under the engine's connect timeout. */
		struct net_ws_config wc = {ab->cfg.websocket.path, ab->cfg.limits.connect_timeout_ms};
		bev = net_ws_wrap(ab->base, bev, &wc);
		if (!bev) {
			net_conn_limit_release(&ab->conn_limit);
			free(conn->identity);
			free(conn);
			return;
		}
	}
	conn->ab = ab;
	conn->bev = bev;
	conn->kind = l->kind;
	peer_name(sa, conn->peer, sizeof conn->peer);
	conn->c = mqtt_broker_client_new(ab->b, conn, ab_now_ms());
	if (!conn->c) {
		bufferevent_free(bev);
		net_conn_limit_release(&ab->conn_limit);
		free(conn->identity);
		free(conn);
		return;
	}
	conn->next = ab->conns;
	if (ab->conns)
		ab->conns->prev = conn;
	ab->conns = conn;
	ab->conn_count++;
	bufferevent_setcb(bev, on_read, on_write, on_event, conn);
	bufferevent_setwatermark(bev, EV_WRITE, AB_OUT_LOW, 0);
	net_bev_resume_read(bev);
	log_debug("mqtt: %s: accepted on %s", conn->peer, kind_names[l->kind]);
}

/* The listener's TLS context from its config; *out stays NULL for a plain listener. */
static int listener_tls(const struct agent_listener *cfg, struct net_tls **out, char *err, size_t err_len)
{
	*out = NULL;
	if (!cfg->cert_file[0])
		return 0;
	struct net_tls_config tc = {0};
	tc.cert_file = cfg->cert_file;
	tc.key_file = cfg->key_file;
	tc.ca_file = cfg->ca_file[0] ? cfg->ca_file : NULL;
	tc.verify = cfg->require_certificate ? NET_TLS_VERIFY_REQUIRED
		    : tc.ca_file ? NET_TLS_VERIFY_OPTIONAL : NET_TLS_VERIFY_NONE;
	return net_tls_new(out, NET_TLS_SERVER, &tc, err, err_len);
}

static int listen_one(struct agent_broker *ab, enum agent_listener_kind kind, const struct agent_listener *cfg,
		      char *err, size_t err_len)
{
	struct ab_listener *l = &ab->listeners[kind];
	l->ab = ab;
	l->kind = (uint8_t)kind;
	struct net_tls *tls = NULL;
	int tls_rc = listener_tls(cfg, &tls, err, err_len);
	if (tls_rc)
		return tls_rc;
	struct net_listener_config lc = {0};
	lc.address = cfg->address;
	lc.port = (uint16_t)cfg->port;
	lc.tls = tls;
	lc.limit = &ab->conn_limit;
	lc.max_per_second = ab->cfg.limits.max_connections_per_second;
	lc.handshake_timeout_ms = ab->cfg.limits.connect_timeout_ms;
	lc.backlog = 1024;
	int rc = net_listener_new(&l->l, ab->base, &lc, on_accept, l, err, err_len);
	if (tls)
		net_tls_unref(tls); /* the listener keeps its own reference */
	if (rc)
		return rc;
	l->port = net_listener_port(l->l);
	log_info("mqtt: listening on %s:%u (%s%s)", cfg->address, l->port, kind_names[kind], tls ? ", TLS" : "");
	return 0;
}

int ab_listeners_start(struct agent_broker *ab, char *err, size_t err_len)
{
	int rc = 0;
	if (ab->cfg.mqtt.enabled && (rc = listen_one(ab, AGENT_LISTENER_MQTT, &ab->cfg.mqtt, err, err_len)))
		return rc;
	if (ab->cfg.mqtt_tls.enabled && (rc = listen_one(ab, AGENT_LISTENER_TLS, &ab->cfg.mqtt_tls, err, err_len)))
		return rc;
	if (ab->cfg.websocket.enabled && (rc = listen_one(ab, AGENT_LISTENER_WS, &ab->cfg.websocket, err, err_len)))
		return rc;
	return 0;
}

void ab_listeners_reload_tls(struct agent_broker *ab)
{
	const struct agent_listener *cfgs[AGENT_LISTENER_COUNT] = {&ab->cfg.mqtt, &ab->cfg.mqtt_tls, &ab->cfg.websocket};
	for (int i = 0; i < AGENT_LISTENER_COUNT; i++) {
		struct net_tls *tls;
		char err[512];
		if (!ab->listeners[i].l || !cfgs[i]->cert_file[0])
			continue;
		if (listener_tls(cfgs[i], &tls, err, sizeof err)) {
			log_error("mqtt: [%s] certificate reload failed, keeping the previous one: %s", kind_names[i], err);
			continue;
		}
		net_listener_set_tls(ab->listeners[i].l, tls); /* new connections only; live ones keep theirs */
		net_tls_unref(tls);
		log_info("mqtt: [%s] certificate reloaded", kind_names[i]);
	}
}

void ab_listeners_stop(struct agent_broker *ab)
{
	for (int i = 0; i < AGENT_LISTENER_COUNT; i++) {
		struct ab_listener *l = &ab->listeners[i];
		if (l->l)
			net_listener_free(l->l);
		memset(l, 0, sizeof *l);
	}
}
