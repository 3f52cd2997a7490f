/* TCP listener with limits and the TLS handshake phase (listener.h).  Never blocks, never logs per
 * refused connection. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/util.h>

#include "base/err.h"
#include "base/log.h"
#include "net/listener.h"
#include "net/tls.h"
#include "port.h"

struct pending {
	struct pending *prev, *next;
	struct net_listener *l;
	struct bufferevent *bev;
	struct sockaddr_storage peer;
	int peer_len;
};

struct net_listener {
	struct event_base *base;
	struct evconnlistener *lis;
	struct event *resume;
	struct net_tls *tls;
	struct net_conn_limit *limit;
	uint32_t max_per_second;
	uint64_t handshake_timeout_ms;
	net_accept_fn *cb;
	void *arg;
	/* token bucket: up to max_per_second tokens, refilled continuously */
	double tokens;
	uint64_t refill_ns;
	struct pending *pending;
	struct net_listener_stats stats;
	char name[160];
};

static bool take_token(struct net_listener *l)
{
	if (!l->max_per_second)
		return true;
	uint64_t now = port_now_ns();
	l->tokens += (double)(now - l->refill_ns) * l->max_per_second / 1e9;
	l->refill_ns = now;
	if (l->tokens > l->max_per_second)
		l->tokens = l->max_per_second;
	if (l->tokens < 1.0)
		return false;
	l->tokens -= 1.0;
	return true;
}

static void pending_free(struct pending *p, bool handed_over)
{
	struct net_listener *l = p->l;
	if (p->prev)
		p->prev->next = p->next;
	else
		l->pending = p->next;
	if (p->next)
		p->next->prev = p->prev;
	if (!handed_over) {
		bufferevent_free(p->bev);
		net_conn_limit_release(l->limit);
	}
	free(p);
}

static void handshake_event(struct bufferevent *bev, short what, void *arg)
{
	struct pending *p = arg;
	struct net_listener *l = p->l;
	if (what & BEV_EVENT_CONNECTED) {
		bufferevent_setcb(bev, NULL, NULL, NULL, NULL);
		bufferevent_set_timeouts(bev, NULL, NULL);
		struct sockaddr_storage peer = p->peer;
		int peer_len = p->peer_len;
		pending_free(p, true);
		l->stats.accepted++;
		l->cb(l->arg, bev, (struct sockaddr *)&peer, peer_len);
		return;
	}
	l->stats.handshake_failed++;
	log_debug("%s: TLS handshake %s", l->name, what & BEV_EVENT_TIMEOUT ? "timed out" : "failed");
	pending_free(p, false);
}

static void on_accept(struct evconnlistener *lis, evutil_socket_t fd, struct sockaddr *sa, int len, void *arg)
{
	struct net_listener *l = arg;
	(void)lis;
	if (l->limit && l->limit->max && l->limit->open >= l->limit->max) {
		l->stats.refused_limit++;
		evutil_closesocket(fd);
		return;
	}
	if (!take_token(l)) {
		l->stats.refused_rate++;
		evutil_closesocket(fd);
		return;
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	struct bufferevent *bev = bufferevent_socket_new(l->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (!bev) {
		evutil_closesocket(fd);
		return;
	}
	if (l->limit)
		l->limit->open++;
	if (!l->tls) {
		l->stats.accepted++;
		l->cb(l->arg, bev, sa, len);
		return;
	}
	struct pending *p = calloc(1, sizeof *p);
	struct bufferevent *tbev = p ? net_tls_wrap(l->tls, l->base, bev, NULL) : NULL;
	if (!tbev) {
		if (!p)
			bufferevent_free(bev);
		free(p);
		net_conn_limit_release(l->limit);
		return;
	}
	p->l = l;
	p->bev = tbev;
	memcpy(&p->peer, sa, (size_t)len < sizeof p->peer ? (size_t)len : sizeof p->peer);
	p->peer_len = len;
	p->next = l->pending;
	if (l->pending)
		l->pending->prev = p;
	l->pending = p;
	struct timeval tv = {(time_t)(l->handshake_timeout_ms / 1000), (suseconds_t)(l->handshake_timeout_ms % 1000) * 1000};
	bufferevent_set_timeouts(tbev, &tv, &tv);
	bufferevent_setcb(tbev, NULL, NULL, handshake_event, p);
	net_bev_resume_read(tbev);
}

static void resume(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct net_listener *l = arg;
	evconnlistener_enable(l->lis);
}

static void on_accept_error(struct evconnlistener *lis, void *arg)
{
	struct net_listener *l = arg;
	int e = EVUTIL_SOCKET_ERROR();
	l->stats.accept_errors++;
	/* EMFILE and friends persist: stop accepting for a moment instead of spinning on them */
	if (l->stats.accept_errors < 10 || l->stats.accept_errors % 1000 == 0)
		log_warn("%s: accept: %s; pausing %d ms", l->name, evutil_socket_error_to_string(e), NET_ACCEPT_PAUSE_MS);
	evconnlistener_disable(lis);
	struct timeval tv = {0, NET_ACCEPT_PAUSE_MS * 1000};
	event_add(l->resume, &tv);
}

int net_listener_new(struct net_listener **out, struct event_base *base, const struct net_listener_config *cfg,
		     net_accept_fn *cb, void *arg, char *err, size_t err_len)
{
	struct sockaddr_storage ss;
	int sslen = sizeof ss;
	char spec[128];
	snprintf(spec, sizeof spec, strchr(cfg->address, ':') ? "[%s]:%u" : "%s:%u", cfg->address, cfg->port);
	/* parse the bare address: libevent refuses ":0", which we allow (any port) */
	memset(&ss, 0, sizeof ss);
	if (evutil_parse_sockaddr_port(cfg->address, (struct sockaddr *)&ss, &sslen) < 0)
		return snprintf(err, err_len, "bad listen address '%s'", cfg->address), ERR_CONFIG;
	if (ss.ss_family == AF_INET)
		((struct sockaddr_in *)&ss)->sin_port = htons(cfg->port);
	else
		((struct sockaddr_in6 *)&ss)->sin6_port = htons(cfg->port);
	struct net_listener *l = calloc(1, sizeof *l);
	if (!l)
		return ERR_NOMEM;
	l->base = base;
	l->cb = cb;
	l->arg = arg;
	l->limit = cfg->limit;
	l->max_per_second = cfg->max_per_second;
	l->tokens = cfg->max_per_second;
	l->refill_ns = port_now_ns();
	l->handshake_timeout_ms = cfg->handshake_timeout_ms ? cfg->handshake_timeout_ms : NET_HANDSHAKE_TIMEOUT_MS_DEFAULT;
	l->resume = evtimer_new(base, resume, l);
	l->lis = evconnlistener_new_bind(base, on_accept, l,
					 LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
					 cfg->backlog ? cfg->backlog : NET_BACKLOG_DEFAULT, (struct sockaddr *)&ss, sslen);
	if (!l->lis || !l->resume) {
		snprintf(err, err_len, "listen on %s: %s", spec, evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
		net_listener_free(l);
		return ERR_IO;
	}
	evconnlistener_set_error_cb(l->lis, on_accept_error);
	if (cfg->tls) {
		l->tls = cfg->tls;
		net_tls_ref(l->tls);
	}
	snprintf(l->name, sizeof l->name, "listener %s%s", spec, l->tls ? " (tls)" : "");
	*out = l;
	return 0;
}

void net_listener_free(struct net_listener *l)
{
	if (!l)
		return;
	while (l->pending)
		pending_free(l->pending, false);
	if (l->lis)
		evconnlistener_free(l->lis);
	if (l->resume)
		event_free(l->resume);
	net_tls_unref(l->tls);
	free(l);
}

uint16_t net_listener_port(const struct net_listener *l)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	if (getsockname(evconnlistener_get_fd(l->lis), (struct sockaddr *)&ss, &len) != 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}

void net_listener_set_tls(struct net_listener *l, struct net_tls *tls)
{
	if (!tls || !l->tls)
		return;
	net_tls_ref(tls);
	net_tls_unref(l->tls);
	l->tls = tls;
}

void net_listener_get_stats(const struct net_listener *l, struct net_listener_stats *out) { *out = l->stats; }
