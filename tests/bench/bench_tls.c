/* TLS adapter cost, both ends in this one process over loopback (so figures count client + server work):
 *   handshakes/s: sequential full handshakes (ECDHE, P-256 ECDSA certificate, TLS 1.2), connect to CONNECTED
 *                 (a fresh client config each time, so no session is offered; its load is included), then
 *                 resumed ones (the client offers the server's ticket again)
 *   bulk: 64 MiB client -> server through net_tls_wrap, against the same through plain bufferevents
 * Prints figures; asserts nothing about timing.  The PKI is made at run time by tests/unit/net/mkcerts.sh. */
#include <stdio.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "net/listener.h"
#include "net/tls.h"
#include "port.h"
#include "tests/unit/net/tls_fixture.h"

struct b {
	struct event_base *base;
	struct net_tls *ct;
	uint16_t port;
	struct bufferevent *srv, *cli;
	uint64_t received, want;
	int handshakes;
};

static void srv_read(struct bufferevent *bev, void *arg)
{
	struct b *b = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	b->received += evbuffer_get_length(in);
	evbuffer_drain(in, evbuffer_get_length(in));
	if (b->want && b->received >= b->want)
		event_base_loopbreak(b->base);
}

static void srv_event(struct bufferevent *bev, short what, void *arg)
{
	struct b *b = arg;
	(void)what;
	bufferevent_free(bev);
	b->srv = NULL;
}

static void on_conn(void *arg, struct bufferevent *bev, const struct sockaddr *sa, int len)
{
	struct b *b = arg;
	(void)sa, (void)len;
	if (b->srv)
		bufferevent_free(b->srv);
	b->srv = bev;
	bufferevent_setcb(bev, srv_read, NULL, srv_event, b);
	bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* A connection counts when the client side is up (its half of the handshake done too). */
static void cli_up(struct bufferevent *bev, short what, void *arg)
{
	struct b *b = arg;
	(void)bev;
	if (what & BEV_EVENT_CONNECTED) {
		b->handshakes++;
		event_base_loopbreak(b->base);
	}
}

static void cli_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev, (void)what, (void)arg;
}

static void cli_write(struct bufferevent *bev, void *arg)
{
	struct b *b = arg;
	static uint8_t chunk[65536];
	static uint64_t sent;
	if (sent < b->want && evbuffer_get_length(bufferevent_get_output(bev)) < sizeof chunk) {
		bufferevent_write(bev, chunk, sizeof chunk);
		sent += sizeof chunk;
	}
	if (sent >= b->want)
		sent = 0, bufferevent_setcb(bev, NULL, NULL, cli_event, b);
}

static struct bufferevent *dial(struct b *b, bool tls)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(b->port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct bufferevent *s = bufferevent_socket_new(b->base, -1, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_socket_connect(s, (struct sockaddr *)&a, sizeof a);
	struct bufferevent *c = tls ? net_tls_wrap(b->ct, b->base, s, "localhost") : s;
	bufferevent_setcb(c, NULL, cli_write, cli_event, b);
	bufferevent_enable(c, EV_READ | EV_WRITE);
	return c;
}

static struct net_tls *client_tls(void)
{
	struct net_tls_config cc = {.ca_file = pki("ca.crt"), .verify = NET_TLS_VERIFY_REQUIRED};
	struct net_tls *ct;
	char err[256];
	if (net_tls_new(&ct, NET_TLS_CLIENT, &cc, err, sizeof err))
		fprintf(stderr, "%s\n", err), exit(1);
	return ct;
}

static void connections(struct b *b, bool tls, bool fresh, int n)
{
	uint64_t t0 = port_now_ns();
	b->handshakes = 0;
	for (int i = 0; i < n; i++) {
		struct net_tls *keep = b->ct;
		if (fresh)
			b->ct = client_tls();
		struct bufferevent *c = dial(b, tls);
		bufferevent_setcb(c, NULL, NULL, cli_up, b);
		event_base_dispatch(b->base);
		bufferevent_free(c);
		if (b->srv)
			bufferevent_free(b->srv), b->srv = NULL;
		if (fresh)
			net_tls_unref(b->ct), b->ct = keep;
	}
	double s = (double)(port_now_ns() - t0) / 1e9;
	printf("%-5s connections: %4d in %.3f s = %8.0f /s (%s)\n", tls ? "tls" : "plain", b->handshakes, s,
	       b->handshakes / s, !tls ? "TCP connect + accept" : fresh ? "full handshake, both ends" : "resumed, both ends");
}

/* Memory per established TLS connection (client and server ends both here: the delta is halved). */
static struct bufferevent *held_srv[400];
static int held_count;
static void hold(void *arg, struct bufferevent *bev, const struct sockaddr *sa, int len)
{
	(void)arg, (void)sa, (void)len;
	held_srv[held_count++] = bev;
}

static void memory(struct net_tls *st)
{
	struct b b = {.base = event_base_new(), .ct = client_tls()};
	struct net_listener *l;
	struct net_listener_config lc = {.address = "127.0.0.1", .tls = st};
	char err[256];
	if (net_listener_new(&l, b.base, &lc, hold, &b, err, sizeof err))
		exit(1);
	b.port = net_listener_port(l);
	enum { N = 200 };
	struct bufferevent *cli[N];
	size_t rss0 = port_rss_bytes();
	for (int i = 0; i < N; i++) {
		cli[i] = dial(&b, true);
		bufferevent_setcb(cli[i], NULL, NULL, cli_up, &b);
		event_base_dispatch(b.base);
	}
	for (int i = 0; i < 20 && held_count < N; i++) {
		struct timeval tv = {0, 10000};
		event_base_loopexit(b.base, &tv);
		event_base_dispatch(b.base);
	}
	size_t rss1 = port_rss_bytes();
	printf("tls   memory: %d connections, %.1f KiB RSS per connection end\n", held_count,
	       (double)(rss1 - rss0) / 1024.0 / (2.0 * N));
	for (int i = 0; i < N; i++)
		bufferevent_free(cli[i]);
	for (int i = 0; i < held_count; i++)
		bufferevent_free(held_srv[i]);
	net_listener_free(l);
	net_tls_unref(b.ct);
	event_base_free(b.base);
}

static void run(bool tls, struct net_tls *st, struct net_tls *ct)
{
	struct b b = {.base = event_base_new(), .ct = ct};
	struct net_listener *l;
	struct net_listener_config lc = {.address = "127.0.0.1", .tls = tls ? st : NULL};
	char err[256];
	if (net_listener_new(&l, b.base, &lc, on_conn, &b, err, sizeof err)) {
		fprintf(stderr, "%s\n", err);
		exit(1);
	}
	b.port = net_listener_port(l);
	if (tls) {
		connections(&b, true, true, 100);
		connections(&b, true, false, 1000);
	} else {
		connections(&b, false, false, 2000);
	}
	uint64_t t0;
	double s;
	b.want = 64u << 20;
	b.received = 0;
	struct bufferevent *c = dial(&b, tls);
	t0 = port_now_ns();
	cli_write(c, &b); /* the write callback runs on drain; start the stream */
	event_base_dispatch(b.base);
	s = (double)(port_now_ns() - t0) / 1e9;
	printf("%-5s bulk: %llu MiB in %.3f s = %7.1f MiB/s\n", tls ? "tls" : "plain",
	       (unsigned long long)(b.received >> 20), s, (double)b.received / (1 << 20) / s);
	bufferevent_free(c);
	if (b.srv)
		bufferevent_free(b.srv);
	net_listener_free(l);
	event_base_free(b.base);
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (!fixture_pki())
		return 1;
	struct net_tls_config sc = {.cert_file = pki("server.crt"), .key_file = pki("server.key")};
	struct net_tls *st, *ct = client_tls();
	char err[256];
	if (net_tls_new(&st, NET_TLS_SERVER, &sc, err, sizeof err))
		return fprintf(stderr, "%s\n", err), 1;
	run(false, st, ct);
	run(true, st, ct);
	memory(st);
	net_tls_unref(st);
	net_tls_unref(ct);
	fixture_cleanup();
	return 0;
}
