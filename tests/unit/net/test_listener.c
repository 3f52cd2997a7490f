/* Listener: connection limit (shared, released by the owner), per-second budget, TLS handshake before
 * hand-over, handshake timeout, bind errors; admin HTTP: /metrics, /healthz 200/503, 404, 405. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>

#include "base/err.h"
#include "base/metrics.h"
#include "net/dial.h"
#include "net/http_admin.h"
#include "net/listener.h"
#include "net/tls.h"
#include "tls_fixture.h"

struct fx {
	struct event_base *base;
	struct net_listener *l;
	struct net_conn_limit limit;
	struct bufferevent *got[16];
	int got_count;
	bool all_established;
};

static void on_conn(void *arg, struct bufferevent *bev, const struct sockaddr *peer, int len)
{
	struct fx *f = arg;
	assert_true(len > 0 && peer->sa_family == AF_INET);
	if (net_tls_is_tls(bev) && !net_tls_is_established(bev))
		f->all_established = false;
	assert_true(f->got_count < 16);
	f->got[f->got_count++] = bev;
}

static void spin(struct fx *f, int ms)
{
	struct timeval tv = {0, ms * 1000};
	event_base_loopexit(f->base, &tv);
	event_base_dispatch(f->base);
}

static int dial(int port)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
	return fd;
}

/* Closed by the server?  (EOF or reset within a short wait.) */
static bool closed(int fd)
{
	struct pollfd p = {fd, POLLIN, 0};
	if (poll(&p, 1, 200) <= 0)
		return false;
	char c;
	ssize_t n = recv(fd, &c, 1, 0);
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

static void start(struct fx *f, struct net_listener_config *cfg, uint32_t max_conn)
{
	memset(f, 0, sizeof *f);
	f->limit.max = max_conn;
	cfg->limit = &f->limit;
	f->base = event_base_new();
	f->all_established = true;
	cfg->address = "127.0.0.1";
	char err[256];
	assert_int_equal(net_listener_new(&f->l, f->base, cfg, on_conn, f, err, sizeof err), 0);
	assert_true(net_listener_port(f->l) > 0);
}

static void stop(struct fx *f)
{
	for (int i = 0; i < f->got_count; i++)
		if (f->got[i])
			bufferevent_free(f->got[i]);
	net_listener_free(f->l);
	event_base_free(f->base);
}

static void test_connection_limit(void **state)
{
	(void)state;
	struct fx f;
	struct net_listener_config cfg = {0};
	start(&f, &cfg, 2);
	int port = net_listener_port(f.l);
	int c1 = dial(port), c2 = dial(port), c3 = dial(port);
	spin(&f, 50);
	assert_int_equal(f.got_count, 2);
	assert_int_equal(f.limit.open, 2);
	assert_true(closed(c3));
	assert_false(closed(c1));
	/* the owner closes one and releases it: room for one more */
	bufferevent_free(f.got[0]);
	f.got[0] = NULL;
	net_conn_limit_release(&f.limit);
	int c4 = dial(port);
	spin(&f, 50);
	assert_int_equal(f.got_count, 3);
	assert_false(closed(c4));
	struct net_listener_stats st;
	net_listener_get_stats(f.l, &st);
	assert_int_equal(st.accepted, 3);
	assert_int_equal(st.refused_limit, 1);
	close(c1), close(c2), close(c3), close(c4);
	stop(&f);
}

static void test_rate_limit(void **state)
{
	(void)state;
	struct fx f;
	struct net_listener_config cfg = {.max_per_second = 3};
	start(&f, &cfg, 0);
	int port = net_listener_port(f.l), c[6];
	for (int i = 0; i < 6; i++)
		c[i] = dial(port);
	spin(&f, 50);
	struct net_listener_stats st;
	net_listener_get_stats(f.l, &st);
	assert_int_equal(st.accepted, 3);
	assert_int_equal(st.refused_rate, 3);
	for (int i = 0; i < 6; i++)
		close(c[i]);
	stop(&f);
}

static void client_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	*(short *)arg |= what;
}

static void test_tls_handshake_and_timeout(void **state)
{
	(void)state;
	struct net_tls_config sc = {.cert_file = pki("server.crt"), .key_file = pki("server.key")};
	struct net_tls_config cc = {.ca_file = pki("ca.crt"), .verify = NET_TLS_VERIFY_REQUIRED};
	struct net_tls *st, *ct;
	char err[256];
	assert_int_equal(net_tls_new(&st, NET_TLS_SERVER, &sc, err, sizeof err), 0);
	assert_int_equal(net_tls_new(&ct, NET_TLS_CLIENT, &cc, err, sizeof err), 0);
	struct fx f;
	struct net_listener_config cfg = {.tls = st, .handshake_timeout_ms = 1000};
	start(&f, &cfg, 10);
	net_tls_unref(st); /* the listener keeps its own reference */
	int port = net_listener_port(f.l);

	/* a silent TCP client: dropped when the handshake times out, and its slot released */
	int silent = dial(port);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct bufferevent *sock = bufferevent_socket_new(f.base, -1, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_socket_connect(sock, (struct sockaddr *)&a, sizeof a);
	struct bufferevent *cli = net_tls_wrap(ct, f.base, sock, "localhost");
	short ev = 0;
	bufferevent_setcb(cli, NULL, NULL, client_event, &ev);
	bufferevent_enable(cli, EV_READ | EV_WRITE);
	struct net_listener_stats s;
	for (int i = 0; i < 100; i++) { /* bounded: sanitizers make the handshake slow */
		spin(&f, 50);
		net_listener_get_stats(f.l, &s);
		if ((ev & BEV_EVENT_CONNECTED) && s.handshake_failed == 1)
			break;
	}
	assert_true(ev & BEV_EVENT_CONNECTED);
	assert_int_equal(f.got_count, 1);
	assert_true(f.all_established);
	assert_true(closed(silent));
	assert_int_equal(s.handshake_failed, 1);
	assert_int_equal(f.limit.open, 1);
	bufferevent_free(cli);
	close(silent);
	stop(&f);
	net_tls_unref(ct);
}

struct dial_result {
	short what;
	struct event_base *base;
};

static void dial_event(struct bufferevent *bev, short what, void *arg)
{
	struct dial_result *r = arg;
	(void)bev;
	r->what |= what;
	event_base_loopbreak(r->base);
}

/* net_dial by name through evdns (hosts file, no blocking), with TLS checked against the name; and a
 * refused port reporting an error. */
static void test_dial(void **state)
{
	(void)state;
	struct net_tls_config sc = {.cert_file = pki("server.crt"), .key_file = pki("server.key")};
	struct net_tls_config cc = {.ca_file = pki("ca.crt"), .verify = NET_TLS_VERIFY_REQUIRED};
	struct net_tls *st, *ct;
	char err[256];
	assert_int_equal(net_tls_new(&st, NET_TLS_SERVER, &sc, err, sizeof err), 0);
	assert_int_equal(net_tls_new(&ct, NET_TLS_CLIENT, &cc, err, sizeof err), 0);
	struct fx f;
	struct net_listener_config cfg = {.tls = st};
	start(&f, &cfg, 0);
	net_tls_unref(st);
	struct evdns_base *dns = evdns_base_new(f.base, 0);
	assert_non_null(dns);
	evdns_base_load_hosts(dns, NULL);
	struct dial_result r = {0, f.base};
	struct bufferevent *c = net_dial(f.base, dns, "localhost", net_listener_port(f.l), ct);
	assert_non_null(c);
	bufferevent_setcb(c, NULL, NULL, dial_event, &r);
	bufferevent_enable(c, EV_READ | EV_WRITE);
	struct timeval tv = {5, 0};
	event_base_loopexit(f.base, &tv);
	event_base_dispatch(f.base);
	assert_int_equal(r.what, BEV_EVENT_CONNECTED);
	assert_true(net_tls_is_established(c));
	bufferevent_free(c);

	/* nothing listens there: an error, not a hang */
	int dead = fixture_free_port();
	r.what = 0;
	c = net_dial(f.base, NULL, "127.0.0.1", (uint16_t)dead, NULL);
	assert_non_null(c);
	bufferevent_setcb(c, NULL, NULL, dial_event, &r);
	bufferevent_enable(c, EV_READ | EV_WRITE);
	event_base_loopexit(f.base, &tv);
	event_base_dispatch(f.base);
	assert_true(r.what & BEV_EVENT_ERROR);
	bufferevent_free(c);
	evdns_base_free(dns, 0);
	spin(&f, 20);
	stop(&f);
	net_tls_unref(ct);
}

static void test_bind_errors(void **state)
{
	(void)state;
	struct event_base *base = event_base_new();
	struct net_listener *l, *l2;
	char err[256];
	struct net_listener_config bad = {.address = "not-an-ip", .port = 1};
	assert_int_equal(net_listener_new(&l, base, &bad, on_conn, NULL, err, sizeof err), ERR_CONFIG);
	struct net_listener_config ok = {.address = "127.0.0.1"};
	assert_int_equal(net_listener_new(&l, base, &ok, on_conn, NULL, err, sizeof err), 0);
	struct net_listener_config clash = {.address = "127.0.0.1", .port = net_listener_port(l)};
	/* SO_REUSEADDR does not let a second listener share the port */
	assert_int_equal(net_listener_new(&l2, base, &clash, on_conn, NULL, err, sizeof err), ERR_IO);
	assert_non_null(strstr(err, "listen on 127.0.0.1:"));
	struct net_listener_config v6 = {.address = "::1"};
	if (net_listener_new(&l2, base, &v6, on_conn, NULL, err, sizeof err) == 0)
		net_listener_free(l2); /* IPv6 loopback may be absent in a container */
	net_listener_free(l);
	event_base_free(base);
}

/* ---- admin HTTP, driven by a blocking client on a second thread ---- */

static bool healthy = true;
static bool health(void *arg, char *why, size_t len)
{
	(void)arg;
	if (!healthy)
		snprintf(why, len, "store: disk full");
	return healthy;
}

struct http_job {
	struct evbuffer *reply;
	struct event_base *base;
};

static void http_read(struct bufferevent *bev, void *arg)
{
	struct http_job *j = arg;
	evbuffer_add_buffer(j->reply, bufferevent_get_input(bev));
}

static void http_event(struct bufferevent *bev, short what, void *arg)
{
	struct http_job *j = arg;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		http_read(bev, arg);
		event_base_loopbreak(j->base);
	}
}

static void get(struct event_base *base, int port, const char *request, char *out, size_t cap)
{
	struct http_job j = {.reply = evbuffer_new(), .base = base};
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct bufferevent *bev = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(bev, http_read, NULL, http_event, &j);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
	bufferevent_socket_connect(bev, (struct sockaddr *)&a, sizeof a);
	bufferevent_write(bev, request, strlen(request));
	struct timeval tv = {5, 0};
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
	size_t n = evbuffer_get_length(j.reply);
	if (n >= cap)
		n = cap - 1;
	evbuffer_remove(j.reply, out, n);
	out[n] = '\0';
	bufferevent_free(bev);
	evbuffer_free(j.reply);
}

static void test_admin_http(void **state)
{
	(void)state;
	struct event_base *base = event_base_new();
	struct metrics m;
	metrics_init(&m, 16);
	metric_add(metrics_counter(&m, "ferry_test_total", "", "a test counter"), 42);
	struct net_admin *a;
	char err[256], r[8192];
	assert_int_equal(net_admin_new(&a, base, "127.0.0.1", 0, &m, health, NULL, err, sizeof err), 0);
	int port = net_admin_port(a);
	assert_true(port > 0);
	get(base, port, "GET /metrics HTTP/1.0\r\n\r\n", r, sizeof r);
	assert_non_null(strstr(r, "HTTP/1.0 200"));
	assert_non_null(strstr(r, "text/plain; version=0.0.4"));
	assert_non_null(strstr(r, "ferry_test_total 42"));
	get(base, port, "GET /healthz HTTP/1.0\r\n\r\n", r, sizeof r);
	assert_non_null(strstr(r, " 200 "));
	assert_non_null(strstr(r, "\r\n\r\nok\n"));
	healthy = false;
	get(base, port, "GET /healthz HTTP/1.0\r\n\r\n", r, sizeof r);
	assert_non_null(strstr(r, " 503 "));
	assert_non_null(strstr(r, "store: disk full"));
	get(base, port, "GET /nope HTTP/1.0\r\n\r\n", r, sizeof r);
	assert_non_null(strstr(r, " 404 "));
	get(base, port, "POST /metrics HTTP/1.0\r\nContent-Length: 0\r\n\r\n", r, sizeof r);
	if (!strstr(r, " 405 ") && !strstr(r, " 501 ")) /* libevent 2.1 answers 501 */
		fail_msg("POST got: %s", r);
	net_admin_free(a);
	metrics_deinit(&m);
	event_base_free(base);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (!fixture_pki())
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_connection_limit),
		cmocka_unit_test(test_rate_limit),
		cmocka_unit_test(test_tls_handshake_and_timeout),
		cmocka_unit_test(test_dial),
		cmocka_unit_test(test_bind_errors),
		cmocka_unit_test(test_admin_http),
	};
	int rc = cmocka_run_group_tests_name("net/listener", tests, NULL, NULL);
	fixture_cleanup();
	return rc;
}
