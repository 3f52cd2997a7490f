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
#include "base/metrics.h"
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
	ab_io_free(conn);
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
	if (conn->blocked == blocked || !ab_io_open(conn))
		return;
	conn->blocked = blocked;
	/* A client whose output is stuck is not read either: its own publishes wait in TCP.  Blocking is called
	 * from inside the engine (it only sets a flag there); unblocking only from the write callback. */
	if (blocked) {
		ab_io_read_enable(conn, false);
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
	if (ab_io_out_add(conn, p, len)) {
		char peer[64];
		log_error("mqtt: %s: out of memory queueing %zu bytes; closing", ab_peer(conn, peer, sizeof peer), len);
		ab_close(conn->ab, conn);
		return;
	}
	if (ab_io_out_len(conn) >= AB_OUT_HIGH && !conn->blocked)
		set_blocked(conn, true);
}

void ab_send(void *ctx, void *io, const struct mqtt_packet *pkt, uint8_t version, unsigned flags)
{
	struct agent_broker *ab = ctx;
	struct ab_conn *conn = io;
	if (conn->closing || !ab_io_open(conn))
		return;
	size_t size = mqtt_packet_size(pkt, version);
	bool hold = (flags & MQTT_SEND_AFTER_COMMIT) && ab->submitted != ab->committed;
	uint8_t stack[512];
	struct evbuffer_iovec v;
	/* Encode straight into the output buffer when it gives contiguous room; else through a scratch. */
	uint8_t *p = hold ? NULL : ab_io_out_reserve(conn, size, &v);
	bool reserved = p != NULL;
	if (!p)
		p = size <= sizeof stack ? stack : malloc(size);
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
	if (hold) {
		ab_pending_add(ab, conn, p, (uint32_t)size);
	} else if (reserved) {
		ab_io_out_commit(conn, size, &v);
		if (ab_io_out_len(conn) >= AB_OUT_HIGH && !conn->blocked)
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
	if (!conn->closing && ab_io_open(conn))
		write_bytes(conn, p, len);
}

/* Closes the transport once what the engine sent last (a CONNACK or DISCONNECT with its reason, the TLS
 * close_notify or WebSocket close) has gone out, and frees the connection from the loop: the engine must not
 * be re-entered from inside its own callback. */
static void hand_off(struct ab_conn *conn) { ab_io_hand_off(conn); }

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

void ab_on_drained(struct ab_conn *conn, size_t left)
{
	if (conn->closing)
		return;
	if (conn->blocked && left <= AB_OUT_LOW)
		set_blocked(conn, false);
}

static void on_write(struct bufferevent *bev, void *arg)
{
	ab_on_drained(arg, evbuffer_get_length(bufferevent_get_output(bev)));
}

/* ---- input ------------------------------------------------------------------------------------------- */

/* Feeds the whole packets in the input buffer to the engine.  at_eof: the peer closed; what it sent before
 * is still processed (a QoS 0 publisher may close right after its last PUBLISH), whatever the flow control. */
static void process_input(struct ab_conn *conn, bool at_eof)
{
	struct agent_broker *ab = conn->ab;
	uint32_t max = mqtt_broker_packet_size_max(ab->b);
	while (!conn->closing && ab_io_open(conn) && (at_eof || (!conn->throttled && !conn->blocked))) {
		if (!at_eof && ab_store_backlogged(ab)) {
			/* The disk is behind: stop taking new work until the writer catches up. */
			ab_io_read_enable(conn, false);
			if (!conn->paused) {
				conn->paused = true;
				conn->paused_next = ab->paused;
				ab->paused = conn;
			}
			return;
		}
		size_t avail = ab_io_in_len(conn);
		if (avail == 0)
			return;
		size_t n = avail < 5 ? avail : 5;
		const uint8_t *hdr = ab_io_in_pullup(conn, n);
		struct mqtt_fixed fh;
		int rc = hdr ? mqtt_frame(hdr, n, mqtt_broker_client_version(conn->c), max, &fh) : ERR_NOMEM;
		if (rc == ERR_AGAIN)
			return;
		if (rc < 0) {
			char peer[64];
			log_info("mqtt: %s: %s", ab_peer(conn, peer, sizeof peer), err_str(rc));
			mqtt_broker_input_error(ab->b, conn->c, rc);
			return;
		}
		size_t total = (size_t)fh.header_len + fh.remaining_len;
		if (avail < total)
			return;
		const uint8_t *p = ab_io_in_pullup(conn, total);
		if (!p) {
			ab_close(ab, conn);
			return;
		}
		mqtt_broker_input(ab->b, conn->c, p, total, ab_now_ms());
		if (ab_io_open(conn))
			ab_io_in_drain(conn, total);
	}
}

void ab_on_readable(struct ab_conn *conn) { process_input(conn, false); }

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
			char peer[64];
			conn->stalled = true;
			mqtt_broker_client_set_stalled(conn->c, true);
			log_info("mqtt: %s: not reading for %u ms; its messages are dropped when its queue is full",
				 ab_peer(conn, peer, sizeof peer), AB_STALL_MS);
		}
	}
}

static void resume(struct ab_conn *conn)
{
	if (conn->closing || conn->blocked || conn->paused || conn->throttled || !ab_io_open(conn))
		return;
	ab_io_read_enable(conn, true);
	process_input(conn, false); /* what already sits in the input buffer */
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
	if (conn->throttled || conn->closing || !ab_io_open(conn))
		return;
	conn->throttled = true;
	ab_io_read_enable(conn, false);
	conn->throttled_next = ab->throttled;
	ab->throttled = conn;
	if (!event_pending(ab->throttle_ev, EV_TIMEOUT, NULL)) {
		ab->throttle_since_ms = ab_now_ms();
		struct timeval tv = {0, AB_THROTTLE_MS * 1000};
		event_add(ab->throttle_ev, &tv);
	}
}

void ab_throttle_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct agent_broker *ab = arg;
	/* Publishers stay paused while a receiver they fed is still over half full -- up to AB_THROTTLE_MAX_MS,
	 * after which they go on and that receiver's queue drops what does not fit. */
	if (ab->throttled && mqtt_broker_pressured(ab->b) && ab_now_ms() - ab->throttle_since_ms < AB_THROTTLE_MAX_MS) {
		struct timeval tv = {0, AB_THROTTLE_MS * 1000};
		event_add(ab->throttle_ev, &tv);
		return;
	}
	struct ab_conn *list = ab->throttled;
	ab->throttled = NULL;
	while (list) {
		struct ab_conn *conn = list;
		list = conn->throttled_next;
		conn->throttled = false;
		resume(conn);
	}
}

/* The peer closed (or the transport failed): what it sent before is still processed, then the connection
 * ends.  A refused WebSocket upgrade has an HTTP answer queued, hence the hand-off on error. */
void ab_on_eof(struct ab_conn *conn, bool error)
{
	if (conn->reaping)
		return; /* already on its way out */
	if (!error && ab_io_open(conn))
		process_input(conn, true);
	if (conn->reaping)
		return; /* the engine closed it while draining */
	if (error)
		hand_off(conn);
	ab_conn_free(conn);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	struct ab_conn *conn = arg;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR | BEV_EVENT_TIMEOUT)) {
		if (what & BEV_EVENT_ERROR)
			log_debug("mqtt: %s: connection error: %s", ab_peer(conn, (char[64]){0}, 64),
				  evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		ab_on_eof(conn, !(what & BEV_EVENT_EOF));
	}
}

/* ---- accept ------------------------------------------------------------------------------------------ */

/* The peer's address for a log line, looked up when needed (not kept: 64 bytes per connection). */
const char *ab_peer(const struct ab_conn *conn, char *out, size_t len)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof ss;
	evutil_socket_t fd = conn->fd >= 0 ? conn->fd : conn->bev ? bufferevent_getfd(conn->bev) : -1;
	char host[INET6_ADDRSTRLEN] = "?";
	unsigned port = 0;
	if (fd >= 0 && getpeername(fd, (struct sockaddr *)&ss, &sl) == 0) {
		if (ss.ss_family == AF_INET) {
			const struct sockaddr_in *in = (const void *)&ss;
			inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
			port = ntohs(in->sin_port);
		} else if (ss.ss_family == AF_INET6) {
			const struct sockaddr_in6 *in6 = (const void *)&ss;
			inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
			port = ntohs(in6->sin6_port);
		}
	}
	snprintf(out, len, "%s:%u", host, port);
	return out;
}

static void on_accept(void *arg, struct bufferevent *bev, const struct sockaddr *sa, int salen)
{
	(void)sa;
	(void)salen;
	struct ab_listener *l = arg;
	struct agent_broker *ab = l->ab;
	struct ab_conn *conn = calloc(1, sizeof *conn);
	if (!conn) {
		bufferevent_free(bev);
		net_conn_limit_release(&ab->conn_limit);
		return;
	}
	conn->ab = ab;
	conn->fd = -1;
	conn->kind = l->kind;
	/* The listener finished the TLS handshake: the certificate identity may become the username. */
	char identity[AB_NAME_MAX];
	bool tls = net_tls_is_tls(bev);
	if (tls && net_tls_peer_identity(bev, identity, sizeof identity) == 0)
		conn->identity = strdup(identity); /* NULL on failure: no identity */
	if (l->kind == AGENT_LISTENER_WS) {
		/* MQTT over WebSocket (MQTT 5.0 §6): the upgrade runs first, under the engine's connect timeout. */
		struct net_ws_config wc = {ab->cfg.websocket.path, ab->cfg.limits.connect_timeout_ms};
		bev = net_ws_wrap(ab->base, bev, &wc);
	} else if (!tls) {
		/* Plain TCP: take the socket out of the listener's bufferevent (about 1 KB per connection) and serve
		 * it with the lean transport of io.c. */
		evutil_socket_t fd = bufferevent_getfd(bev);
		bufferevent_setfd(bev, -1);
		bufferevent_free(bev);
		bev = NULL;
		if (ab_io_lean_attach(conn, fd) != 0)
			evutil_closesocket(fd), conn->fd = -1;
	}
	conn->bev = bev;
	if (!ab_io_open(conn) || !(conn->c = mqtt_broker_client_new(ab->b, conn, ab_now_ms()))) {
		ab_io_free(conn);
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
	if (bev) {
		bufferevent_setcb(bev, on_read, on_write, on_event, conn);
		bufferevent_setwatermark(bev, EV_WRITE, AB_OUT_LOW, 0);
	}
	ab_io_read_enable(conn, true);
	char peer[64];
	log_debug("mqtt: %s: accepted on %s", ab_peer(conn, peer, sizeof peer), kind_names[l->kind]);
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

static int64_t read_listener_metric(void *arg)
{
	const struct ab_listener_metric *m = arg;
	struct net_listener_stats st;
	if (!m->owner || !m->owner->l) /* stopped listeners are zeroed */
		return 0;
	net_listener_get_stats(m->owner->l, &st);
	return (int64_t)*(const uint64_t *)((const char *)&st + m->offset);
}

/* Listener counters (accepted, refused by the two limits, failed TLS handshakes) as gauges read at scrape. */
static void listener_metrics_register(struct ab_listener *l)
{
	static const struct {
		const char *name, *help;
		size_t offset;
	} m[AB_LISTENER_METRICS] = {
		{"ferry_agent_listener_accepted_total", "Connections handed over",
		 offsetof(struct net_listener_stats, accepted)},
		{"ferry_agent_listener_refused_limit_total", "Connections refused over max_connections",
		 offsetof(struct net_listener_stats, refused_limit)},
		{"ferry_agent_listener_refused_rate_total", "Connections refused over max_connections_per_second",
		 offsetof(struct net_listener_stats, refused_rate)},
		{"ferry_agent_listener_handshake_failed_total", "TLS handshakes failed or timed out",
		 offsetof(struct net_listener_stats, handshake_failed)},
	};
	if (!l->ab->metrics)
		return;
	char labels[64];
	snprintf(labels, sizeof labels, "listener=\"%s\"", kind_names[l->kind]);
	for (int k = 0; k < AB_LISTENER_METRICS; k++) {
		l->metrics[k] = (struct ab_listener_metric){l, m[k].offset};
		metrics_gauge_fn(l->ab->metrics, m[k].name, labels, m[k].help, read_listener_metric, &l->metrics[k]);
	}
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
	listener_metrics_register(l);
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
