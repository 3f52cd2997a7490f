/* Admin HTTP on libevent's evhttp (http_admin.h).  Small limits: this port must not become a way to
 * exhaust the agent's memory. */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/listener.h>

#include "base/dbuf.h"
#include "base/err.h"
#include "base/metrics.h"
#include "net/http_admin.h"

struct net_admin {
	struct evhttp *http;
	struct evhttp_bound_socket *sock;
	struct metrics *metrics;
	net_health_fn *health;
	void *health_arg;
};

static void reply_text(struct evhttp_request *req, int code, const char *reason, const char *ctype, const void *body,
		       size_t len)
{
	struct evbuffer *b = evbuffer_new();
	if (!b) {
		evhttp_send_error(req, 500, NULL);
		return;
	}
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Cache-Control", "no-store");
	if (evhttp_request_get_command(req) != EVHTTP_REQ_HEAD)
		evbuffer_add(b, body, len);
	evhttp_send_reply(req, code, reason, b);
	evbuffer_free(b);
}

static void on_metrics(struct evhttp_request *req, void *arg)
{
	struct net_admin *a = arg;
	struct dbuf d;
	dbuf_init(&d, NET_ADMIN_METRICS_MAX);
	int rc = a->metrics ? metrics_render(a->metrics, &d) : 0;
	if (rc)
		evhttp_send_error(req, 500, err_str(rc));
	else
		reply_text(req, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", d.p ? (const void *)d.p : "", d.len);
	dbuf_deinit(&d);
}

static void on_healthz(struct evhttp_request *req, void *arg)
{
	struct net_admin *a = arg;
	char why[256] = "";
	bool ok = !a->health || a->health(a->health_arg, why, sizeof why);
	char body[300];
	int n = snprintf(body, sizeof body, "%s\n", ok ? "ok" : why[0] ? why : "unhealthy");
	reply_text(req, ok ? 200 : 503, ok ? "OK" : "Service Unavailable", "text/plain; charset=utf-8", body,
		   (size_t)n < sizeof body ? (size_t)n : sizeof body - 1);
}

static void on_other(struct evhttp_request *req, void *arg)
{
	(void)arg;
	evhttp_send_error(req, 404, "not found: try /metrics or /healthz");
}

int net_admin_new(struct net_admin **out, struct event_base *base, const char *address, uint16_t port,
		  struct metrics *metrics, net_health_fn *health, void *health_arg, char *err, size_t err_len)
{
	struct net_admin *a = calloc(1, sizeof *a);
	if (!a)
		return ERR_NOMEM;
	a->metrics = metrics;
	a->health = health;
	a->health_arg = health_arg;
	a->http = evhttp_new(base);
	if (!a->http) {
		free(a);
		return ERR_NOMEM;
	}
	evhttp_set_max_headers_size(a->http, NET_ADMIN_HEADERS_MAX);
	evhttp_set_max_body_size(a->http, NET_ADMIN_BODY_MAX);
	evhttp_set_timeout(a->http, NET_ADMIN_TIMEOUT_S);
	evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_cb(a->http, "/metrics", on_metrics, a);
	evhttp_set_cb(a->http, "/healthz", on_healthz, a);
	evhttp_set_gencb(a->http, on_other, a);
	a->sock = evhttp_bind_socket_with_handle(a->http, address, port);
	if (!a->sock) {
		snprintf(err, err_len, "admin HTTP: bind %s:%u failed", address, port);
		net_admin_free(a);
		return ERR_IO;
	}
	*out = a;
	return 0;
}

void net_admin_free(struct net_admin *a)
{
	if (!a)
		return;
	evhttp_free(a->http);
	free(a);
}

uint16_t net_admin_port(const struct net_admin *a)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof ss;
	evutil_socket_t fd = evhttp_bound_socket_get_fd(a->sock);
	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return 0;
	if (ss.ss_family == AF_INET)
		return ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return 0;
}
