/* TLS adapter: our server and our client over loopback (echo, 1 MiB through, identity, verification
 * failures), and openssl s_client / s_server against ours.  The PKI is generated per run (mkcerts.sh). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "base/err.h"
#include "net/tls.h"
#include "tls_fixture.h"

struct side {
	struct bufferevent *bev;
	bool connected, error, eof;
	struct evbuffer *got;
	char ident[NET_TLS_NAME_MAX];
	int ident_rc;
};

struct t {
	struct event_base *base;
	struct evconnlistener *lis;
	struct net_tls *srv_tls, *cli_tls;
	struct side srv, cli;
	size_t want;        /* client stops the loop after this many echoed bytes */
	bool close_after;   /* server: close_notify after the first echo */
	int pauses;         /* server: stop reading this many times, resume 30 ms later */
	size_t blast;       /* server: on connect, write this many bytes and close gracefully */
	bool closed_cb;
	struct event *resume;
	int port;
	pid_t child;
};

static void upper(struct evbuffer *in, struct evbuffer *out)
{
	size_t n = evbuffer_get_length(in);
	unsigned char *p = evbuffer_pullup(in, (ev_ssize_t)n);
	for (size_t i = 0; i < n; i++)
		if (p[i] >= 'a' && p[i] <= 'z')
			p[i] = (unsigned char)(p[i] - 32);
	evbuffer_add_buffer(out, in);
}

static void srv_free(struct t *t)
{
	if (t->srv.bev)
		bufferevent_free(t->srv.bev);
	t->srv.bev = NULL;
}

static void srv_drained(struct bufferevent *bev, void *arg)
{
	(void)bev;
	srv_free(arg);
}

static void srv_resume(evutil_socket_t fd, short what, void *arg)
{
	struct t *t = arg;
	(void)fd, (void)what;
	if (t->srv.bev)
		net_bev_resume_read(t->srv.bev);
}

static void srv_read(struct bufferevent *bev, void *arg)
{
	struct t *t = arg;
	if (t->pauses > 0) {
		/* take a little, then stop reading with the rest buffered below the filter */
		t->pauses--;
		unsigned char b[100];
		evbuffer_add(bufferevent_get_output(bev), b,
			     (size_t)bufferevent_read(bev, b, sizeof b));
		bufferevent_disable(bev, EV_READ);
		struct timeval tv = {0, 30000};
		evtimer_add(t->resume, &tv);
		return;
	}
	upper(bufferevent_get_input(bev), bufferevent_get_output(bev));
	if (t->close_after) {
		assert_int_equal(net_tls_close_notify(bev), 0);
		bufferevent_setcb(bev, NULL, srv_drained, NULL, t);
	}
}

static void srv_closed(void *arg)
{
	((struct t *)arg)->closed_cb = true;
}

static void srv_event(struct bufferevent *bev, short what, void *arg)
{
	struct t *t = arg;
	if (what & BEV_EVENT_CONNECTED) {
		t->srv.connected = true;
		assert_true(net_tls_is_established(bev));
		assert_true(net_tls_cipher(bev)[0] != '\0');
		t->srv.ident_rc = net_tls_peer_identity(bev, t->srv.ident, sizeof t->srv.ident);
		if (t->blast) {
			unsigned char *b = calloc(1, t->blast);
			bufferevent_write(bev, b, t->blast);
			free(b);
			t->srv.bev = NULL; /* owned by the close now */
			net_bev_close_after_flush(bev, 5000, srv_closed, t);
		}
		return;
	}
	t->srv.error |= (what & BEV_EVENT_ERROR) != 0;
	t->srv.eof |= (what & BEV_EVENT_EOF) != 0;
	srv_free(t);
	if (t->child <= 0 && !t->cli.bev)
		event_base_loopbreak(t->base);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len, void *arg)
{
	struct t *t = arg;
	(void)l, (void)sa, (void)len;
	struct bufferevent *sock = bufferevent_socket_new(t->base, fd, BEV_OPT_CLOSE_ON_FREE);
	assert_non_null(sock);
	assert_null(t->srv.bev);
	t->srv.bev = net_tls_wrap(t->srv_tls, t->base, sock, NULL);
	assert_non_null(t->srv.bev);
	assert_true(net_tls_is_tls(t->srv.bev));
	assert_int_equal(net_tls_peer_identity(t->srv.bev, t->srv.ident, sizeof t->srv.ident), ERR_STATE);
	bufferevent_setcb(t->srv.bev, srv_read, NULL, srv_event, t);
	net_bev_resume_read(t->srv.bev);
	bufferevent_enable(t->srv.bev, EV_WRITE);
}

static void cli_read(struct bufferevent *bev, void *arg)
{
	struct t *t = arg;
	evbuffer_add_buffer(t->cli.got, bufferevent_get_input(bev));
	if (evbuffer_get_length(t->cli.got) >= t->want)
		event_base_loopbreak(t->base);
}

static int libevent_warnings;
static void count_warnings(int severity, const char *msg)
{
	(void)msg;
	if (severity >= EVENT_LOG_WARN)
		libevent_warnings++;
}

static void cli_event(struct bufferevent *bev, short what, void *arg)
{
	struct t *t = arg;
	if (what & BEV_EVENT_CONNECTED) {
		t->cli.connected = true;
		t->cli.ident_rc = net_tls_peer_identity(bev, t->cli.ident, sizeof t->cli.ident);
		if (t->want == 0) { /* free at once, with the adapter's post-handshake push still pending */
			bufferevent_free(t->cli.bev);
			t->cli.bev = NULL;
			event_base_loopbreak(t->base);
		}
		return;
	}
	t->cli.error |= (what & BEV_EVENT_ERROR) != 0;
	t->cli.eof |= (what & BEV_EVENT_EOF) != 0;
	bufferevent_free(t->cli.bev);
	t->cli.bev = NULL;
	if (!t->srv.bev)
		event_base_loopbreak(t->base);
}

static struct net_tls *make(enum net_tls_role role, const char *cert, const char *key, const char *ca,
			    enum net_tls_verify v)
{
	struct net_tls_config c = {.cert_file = cert ? pki(cert) : NULL, .key_file = key ? pki(key) : NULL,
				   .ca_file = ca ? pki(ca) : NULL, .verify = v};
	struct net_tls *tls = NULL;
	char err[256];
	int rc = net_tls_new(&tls, role, &c, err, sizeof err);
	if (rc)
		fail_msg("net_tls_new: %s", err);
	return tls;
}

static void setup_t(struct t *t, struct net_tls *srv, struct net_tls *cli)
{
	memset(t, 0, sizeof *t);
	t->base = event_base_new();
	t->srv_tls = srv;
	t->cli_tls = cli;
	t->srv.got = evbuffer_new();
	t->cli.got = evbuffer_new();
	t->resume = evtimer_new(t->base, srv_resume, t);
	if (srv) {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
		t->lis = evconnlistener_new_bind(t->base, on_accept, t, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
						 (struct sockaddr *)&a, sizeof a);
		assert_non_null(t->lis);
		socklen_t len = sizeof a;
		getsockname(evconnlistener_get_fd(t->lis), (struct sockaddr *)&a, &len);
		t->port = ntohs(a.sin_port);
	}
}

static void connect_client(struct t *t, const char *host)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)t->port),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct bufferevent *sock = bufferevent_socket_new(t->base, -1, BEV_OPT_CLOSE_ON_FREE);
	assert_int_equal(bufferevent_socket_connect(sock, (struct sockaddr *)&a, sizeof a), 0);
	t->cli.bev = net_tls_wrap(t->cli_tls, t->base, sock, host);
	assert_non_null(t->cli.bev);
	bufferevent_setcb(t->cli.bev, cli_read, NULL, cli_event, t);
	bufferevent_enable(t->cli.bev, EV_READ | EV_WRITE);
}

static void run(struct t *t, int seconds)
{
	struct timeval tv = {seconds, 0};
	event_base_loopexit(t->base, &tv);
	event_base_dispatch(t->base);
}

static void teardown_t(struct t *t)
{
	if (t->cli.bev)
		bufferevent_free(t->cli.bev);
	srv_free(t);
	if (t->lis)
		evconnlistener_free(t->lis);
	event_free(t->resume);
	evbuffer_free(t->srv.got);
	evbuffer_free(t->cli.got);
	net_tls_unref(t->srv_tls);
	net_tls_unref(t->cli_tls);
	event_base_free(t->base);
}

static void test_echo_and_identity(void **state)
{
	(void)state;
	struct t t;
	setup_t(&t, make(NET_TLS_SERVER, "server.crt", "server.key", "ca.crt", NET_TLS_VERIFY_REQUIRED),
		make(NET_TLS_CLIENT, "client.crt", "client.key", "ca.crt", NET_TLS_VERIFY_REQUIRED));
	connect_client(&t, "localhost");
	/* written before the handshake: must wait in the filter, then go */
	bufferevent_write(t.cli.bev, "hello tls", 9);
	t.want = 9;
	run(&t, 10);
	assert_true(t.cli.connected);
	assert_true(t.srv.connected);
	assert_int_equal(evbuffer_get_length(t.cli.got), 9);
	assert_memory_equal(evbuffer_pullup(t.cli.got, -1), "HELLO TLS", 9);
	assert_int_equal(t.srv.ident_rc, 0);
	assert_string_equal(t.srv.ident, "device-42");
	assert_int_equal(t.cli.ident_rc, 0);
	assert_string_equal(t.cli.ident, "localhost");
	teardown_t(&t);
}

static void test_one_mib_through(void **state)
{
	(void)state;
	struct t t;
	setup_t(&t, make(NET_TLS_SERVER, "server.crt", "server.key", NULL, NET_TLS_VERIFY_NONE),
		make(NET_TLS_CLIENT, NULL, NULL, "ca.crt", NET_TLS_VERIFY_REQUIRED));
	connect_client(&t, "localhost");
	size_t n = 1u << 20;
	unsigned char *buf = malloc(n);
	for (size_t i = 0; i < n; i++)
		buf[i] = (unsigned char)('a' + i % 26);
	bufferevent_write(t.cli.bev, buf, n);
	t.want = n;
	run(&t, 20);
	assert_int_equal(evbuffer_get_length(t.cli.got), n);
	unsigned char *got = evbuffer_pullup(t.cli.got, -1);
	for (size_t i = 0; i < n; i += 4093)
		assert_int_equal(got[i], 'A' + i % 26);
	assert_int_equal(got[n - 1], 'A' + (n - 1) % 26);
	/* no client certificate: no identity */
	assert_int_equal(t.srv.ident_rc, ERR_NOT_FOUND);
	free(buf);
	teardown_t(&t);
}

/* A reader that pauses (bufferevent_disable) and resumes with net_bev_resume_read must get every byte,
 * including those already decrypted or buffered under the filter when it paused. */
static void test_pause_resume(void **state)
{
	(void)state;
	struct t t;
	setup_t(&t, make(NET_TLS_SERVER, "server.crt", "server.key", NULL, NET_TLS_VERIFY_NONE),
		make(NET_TLS_CLIENT, NULL, NULL, "ca.crt", NET_TLS_VERIFY_REQUIRED));
	t.pauses = 5;
	connect_client(&t, "localhost");
	size_t n = 20000; /* arrives at once, so no later bytes would wake a stalled reader */
	unsigned char *buf = calloc(1, n);
	bufferevent_write(t.cli.bev, buf, n);
	t.want = n;
	run(&t, 10);
	assert_int_equal(t.pauses, 0);
	assert_int_equal(evbuffer_get_length(t.cli.got), n);
	free(buf);
	teardown_t(&t);
}

/* Everything written before a graceful close arrives, then EOF; a plain free would drop it. */
static void test_close_after_flush(void **state)
{
	(void)state;
	struct t t;
	setup_t(&t, make(NET_TLS_SERVER, "server.crt", "server.key", NULL, NET_TLS_VERIFY_NONE),
		make(NET_TLS_CLIENT, NULL, NULL, "ca.crt", NET_TLS_VERIFY_REQUIRED));
	t.blast = 256 * 1024;
	t.want = SIZE_MAX;
	connect_client(&t, "localhost");
	run(&t, 10);
	struct timeval tv = {0, 100000}; /* the server side polls for the drain; let it finish */
	event_base_loopexit(t.base, &tv);
	event_base_dispatch(t.base);
	assert_true(t.closed_cb);
	assert_int_equal(evbuffer_get_length(t.cli.got), 256 * 1024);
	assert_true(t.cli.eof);
	assert_false(t.cli.error);
	teardown_t(&t);
}

/* The owner frees the bufferevent from its CONNECTED callback: the socket below must be freed with it
 * (libevent warns "too few references" and leaks it otherwise). */
static void test_free_on_connected(void **state)
{
	(void)state;
	event_set_log_callback(count_warnings);
	libevent_warnings = 0;
	for (int i = 0; i < 3; i++) {
		struct t t;
		setup_t(&t, make(NET_TLS_SERVER, "server.crt", "server.key", NULL, NET_TLS_VERIFY_NONE),
			make(NET_TLS_CLIENT, NULL, NULL, "ca.crt", NET_TLS_VERIFY_REQUIRED));
		connect_client(&t, "localhost");
		run(&t, 10);
		assert_true(t.cli.connected);
		struct timeval tv = {0, 50000};
		event_base_loopexit(t.base, &tv);
		event_base_dispatch(t.base);
		teardown_t(&t);
	}
	event_set_log_callback(NULL);
	assert_int_equal(libevent_warnings, 0);
}

/* Our client resumes with the ticket our server issued: the second connection skips the public-key work. */
static void test_session_resumption(void **state)
{
	(void)state;
	struct net_tls *srv = make(NET_TLS_SERVER, "server.crt", "server.key", NULL, NET_TLS_VERIFY_NONE);
	/* VERIFY_NONE only so that the host name can vary: a session is offered to the same name only */
	struct net_tls *cli = make(NET_TLS_CLIENT, NULL, NULL, "ca.crt", NET_TLS_VERIFY_NONE);
	static const char *const hosts[] = {"a.example", "a.example", "b.example"};
	for (int i = 0; i < 3; i++) {
		struct t t;
		net_tls_ref(srv), net_tls_ref(cli);
		setup_t(&t, srv, cli);
		connect_client(&t, hosts[i]);
		bufferevent_write(t.cli.bev, "x", 1);
		t.want = 1;
		run(&t, 10);
		assert_true(t.cli.connected);
		teardown_t(&t);
	}
	struct net_tls_stats st;
	net_tls_get_stats(cli, &st);
	assert_int_equal(st.handshakes, 3);
	assert_int_equal(st.resumed, 1);
	net_tls_unref(srv);
	net_tls_unref(cli);
}

/* openssl s_client -reconnect: each reconnection must reuse the session (our server's tickets). */
struct many {
	struct event_base *base;
	struct net_tls *tls;
	int open;
};

static void many_event(struct bufferevent *bev, short what, void *arg)
{
	struct many *m = arg;
	if (what & BEV_EVENT_CONNECTED)
		return;
	bufferevent_free(bev);
	m->open--;
}

static void many_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int len, void *arg)
{
	struct many *m = arg;
	(void)l, (void)sa, (void)len;
	struct bufferevent *b = net_tls_wrap(m->tls, m->base, bufferevent_socket_new(m->base, fd, BEV_OPT_CLOSE_ON_FREE),
					     NULL);
	bufferevent_setcb(b, NULL, NULL, many_event, m);
	bufferevent_enable(b, EV_READ | EV_WRITE);
	m->open++;
}

static void reap_many(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	pid_t *pid = arg;
	if (waitpid(*pid, NULL, WNOHANG) == *pid)
		*pid = 0;
}

static void test_openssl_reconnect_reuses(void **state)
{
	(void)state;
	struct many m = {.base = event_base_new(),
			 .tls = make(NET_TLS_SERVER, "server.crt", "server.key", NULL, NET_TLS_VERIFY_NONE)};
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct evconnlistener *l = evconnlistener_new_bind(m.base, many_accept, &m, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE,
							   16, (struct sockaddr *)&a, sizeof a);
	socklen_t alen = sizeof a;
	getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&a, &alen);
	char out[300], cmd[1024];
	snprintf(out, sizeof out, "%s/reconnect.out", fixture_pki());
	snprintf(cmd, sizeof cmd,
		 "openssl s_client -connect 127.0.0.1:%d -servername localhost -CAfile %s -reconnect </dev/null >%s 2>&1",
		 ntohs(a.sin_port), pki("ca.crt"), out);
	pid_t pid = fixture_spawn(cmd);
	struct event *tick = event_new(m.base, -1, EV_PERSIST, reap_many, &pid);
	struct timeval every = {0, 20000};
	event_add(tick, &every);
	for (int i = 0; i < 500 && pid > 0; i++) {
		struct timeval tv = {0, 20000};
		event_base_loopexit(m.base, &tv);
		event_base_dispatch(m.base);
	}
	if (pid > 0)
		fixture_stop(pid);
	char got[16384];
	fixture_read_file(out, got, sizeof got);
	int reused = 0;
	for (const char *p = got; (p = strstr(p, "Reused, TLSv1.2")); p++)
		reused++;
	if (reused < 5)
		fail_msg("s_client -reconnect reused %d of 5:\n%s", reused, got);
	event_free(tick);
	evconnlistener_free(l);
	for (int i = 0; i < 50 && m.open > 0; i++) {
		struct timeval tv = {0, 10000};
		event_base_loopexit(m.base, &tv);
		event_base_dispatch(m.base);
	}
	net_tls_unref(m.tls);
	event_base_free(m.base);
}

/* Records split at every byte: client and server run over bufferevent pairs joined by a relay that moves one
 * byte each way per loop turn, so every handshake message and record arrives in pieces. */
static void relay_one(struct bufferevent *from, struct bufferevent *to)
{
	uint8_t b;
	if (bufferevent_read(from, &b, 1) == 1)
		bufferevent_write(to, &b, 1);
}

static void test_byte_by_byte(void **state)
{
	(void)state;
	struct t t;
	setup_t(&t, NULL, make(NET_TLS_CLIENT, NULL, NULL, "ca.crt", NET_TLS_VERIFY_REQUIRED));
	t.srv_tls = make(NET_TLS_SERVER, "server.crt", "server.key", NULL, NET_TLS_VERIFY_NONE);
	struct bufferevent *cp[2], *sp[2];
	assert_int_equal(bufferevent_pair_new(t.base, BEV_OPT_CLOSE_ON_FREE, cp), 0);
	assert_int_equal(bufferevent_pair_new(t.base, BEV_OPT_CLOSE_ON_FREE, sp), 0);
	t.cli.bev = net_tls_wrap(t.cli_tls, t.base, cp[0], "localhost");
	t.srv.bev = net_tls_wrap(t.srv_tls, t.base, sp[0], NULL);
	bufferevent_setcb(t.cli.bev, cli_read, NULL, cli_event, &t);
	bufferevent_setcb(t.srv.bev, srv_read, NULL, srv_event, &t);
	bufferevent_enable(t.cli.bev, EV_READ | EV_WRITE);
	bufferevent_enable(t.srv.bev, EV_READ | EV_WRITE);
	bufferevent_enable(cp[1], EV_READ | EV_WRITE);
	bufferevent_enable(sp[1], EV_READ | EV_WRITE);
	char msg[3000];
	for (size_t i = 0; i < sizeof msg; i++)
		msg[i] = (char)('a' + i % 26);
	bufferevent_write(t.cli.bev, msg, sizeof msg);
	t.want = sizeof msg;
	for (int i = 0; i < 200000 && evbuffer_get_length(t.cli.got) < sizeof msg; i++) {
		relay_one(cp[1], sp[1]);
		relay_one(sp[1], cp[1]);
		event_base_loop(t.base, EVLOOP_NONBLOCK);
	}
	assert_true(t.cli.connected && t.srv.connected);
	assert_int_equal(evbuffer_get_length(t.cli.got), sizeof msg);
	const char *got = (const char *)evbuffer_pullup(t.cli.got, -1);
	for (size_t i = 0; i < sizeof msg; i++)
		assert_int_equal(got[i], 'A' + i % 26);
	bufferevent_free(cp[1]);
	bufferevent_free(sp[1]);
	teardown_t(&t);
}

static void test_san_only_identity(void **state)
{
	(void)state;
	struct t t;
	setup_t(&t, make(NET_TLS_SERVER, "server.crt", "server.key", "ca.crt", NET_TLS_VERIFY_OPTIONAL),
		make(NET_TLS_CLIENT, "sanonly.crt", "sanonly.key", "ca.crt", NET_TLS_VERIFY_REQUIRED));
	connect_client(&t, "localhost");
	bufferevent_write(t.cli.bev, "x", 1);
	t.want = 1;
	run(&t, 10);
	assert_int_equal(t.srv.ident_rc, 0);
	assert_string_equal(t.srv.ident, "sensor-7");
	teardown_t(&t);
}

static void expect_failure(struct net_tls *srv, struct net_tls *cli, const char *host)
{
	struct t t;
	setup_t(&t, srv, cli);
	connect_client(&t, host);
	bufferevent_write(t.cli.bev, "secret", 6);
	t.want = 6;
	run(&t, 10);
	assert_false(t.cli.connected && t.srv.connected && evbuffer_get_length(t.cli.got) > 0);
	assert_true(t.cli.error || t.cli.eof);
	assert_int_equal(evbuffer_get_length(t.cli.got), 0);
	teardown_t(&t);
}

static void test_wrong_hostname(void **state)
{
	(void)state;
	expect_failure(make(NET_TLS_SERVER, "server.crt", "server.key", NULL, NET_TLS_VERIFY_NONE),
		       make(NET_TLS_CLIENT, NULL, NULL, "ca.crt", NET_TLS_VERIFY_REQUIRED), "evil.example");
}

static void test_untrusted_server(void **state)
{
	(void)state; /* the client pins other-ca; the server's chain is from ca */
	expect_failure(make(NET_TLS_SERVER, "server.crt", "server.key", NULL, NET_TLS_VERIFY_NONE),
		       make(NET_TLS_CLIENT, NULL, NULL, "other-ca.crt", NET_TLS_VERIFY_REQUIRED), "localhost");
}

static void test_client_cert_required(void **state)
{
	(void)state;
	expect_failure(make(NET_TLS_SERVER, "server.crt", "server.key", "ca.crt", NET_TLS_VERIFY_REQUIRED),
		       make(NET_TLS_CLIENT, NULL, NULL, "ca.crt", NET_TLS_VERIFY_REQUIRED), "localhost");
}

static void test_client_cert_untrusted(void **state)
{
	(void)state; /* OPTIONAL still refuses a certificate that does not verify */
	expect_failure(make(NET_TLS_SERVER, "server.crt", "server.key", "ca.crt", NET_TLS_VERIFY_OPTIONAL),
		       make(NET_TLS_CLIENT, "intruder.crt", "intruder.key", "ca.crt", NET_TLS_VERIFY_REQUIRED),
		       "localhost");
}

static void test_config_errors(void **state)
{
	(void)state;
	struct net_tls *tls = NULL;
	char err[256];
	struct net_tls_config c = {.cert_file = "/nonexistent.crt", .key_file = "/nonexistent.key"};
	assert_int_equal(net_tls_new(&tls, NET_TLS_SERVER, &c, err, sizeof err), ERR_CONFIG);
	assert_non_null(strstr(err, "/nonexistent.crt"));
	struct net_tls_config none = {0};
	assert_int_equal(net_tls_new(&tls, NET_TLS_SERVER, &none, err, sizeof err), ERR_CONFIG);
	struct net_tls_config mismatch = {.cert_file = pki("server.crt"), .key_file = pki("client.key")};
	assert_int_equal(net_tls_new(&tls, NET_TLS_SERVER, &mismatch, err, sizeof err), ERR_CONFIG);
	struct net_tls_config noca = {.verify = NET_TLS_VERIFY_REQUIRED};
	assert_int_equal(net_tls_new(&tls, NET_TLS_CLIENT, &noca, err, sizeof err), ERR_CONFIG);
	assert_null(tls);
}

static void reap(evutil_socket_t fd, short what, void *arg)
{
	struct t *t = arg;
	(void)fd, (void)what;
	if (waitpid(t->child, NULL, WNOHANG) == t->child) {
		t->child = 0;
		event_base_loopbreak(t->base);
	}
}

static void test_openssl_s_client(void **state)
{
	(void)state;
	struct t t;
	setup_t(&t, make(NET_TLS_SERVER, "server.crt", "server.key", "ca.crt", NET_TLS_VERIFY_REQUIRED), NULL);
	t.close_after = true;
	char out[300], cmd[2048];
	snprintf(out, sizeof out, "%s/s_client.out", fixture_pki());
	snprintf(cmd, sizeof cmd,
		 "(printf 'ping from openssl\\n'; sleep 2) | openssl s_client -connect 127.0.0.1:%d -servername localhost "
		 "-verify_hostname localhost -CAfile %s -verify_return_error -cert %s -key %s -quiet >%s 2>&1",
		 t.port, pki("ca.crt"), pki("client.crt"), pki("client.key"), out);
	t.child = fixture_spawn(cmd);
	struct event *tick = event_new(t.base, -1, EV_PERSIST, reap, &t);
	struct timeval every = {0, 20000};
	event_add(tick, &every);
	run(&t, 10);
	event_free(tick);
	if (t.child > 0)
		fixture_stop(t.child);
	char got[4096];
	fixture_read_file(out, got, sizeof got);
	if (!strstr(got, "PING FROM OPENSSL"))
		fail_msg("s_client output: %s", got);
	assert_true(t.srv.connected);
	assert_string_equal(t.srv.ident, "device-42");
	t.child = 0;
	teardown_t(&t);
}

static void test_openssl_s_server(void **state)
{
	(void)state;
	struct t t;
	setup_t(&t, NULL, make(NET_TLS_CLIENT, "client.crt", "client.key", "ca.crt", NET_TLS_VERIFY_REQUIRED));
	t.port = fixture_free_port();
	char cmd[2048];
	snprintf(cmd, sizeof cmd,
		 "exec openssl s_server -accept 127.0.0.1:%d -cert %s -key %s -CAfile %s -Verify 1 -verify_return_error "
		 "-rev -quiet >/dev/null 2>&1",
		 t.port, pki("server.crt"), pki("server.key"), pki("ca.crt"));
	pid_t pid = fixture_spawn(cmd);
	assert_int_equal(fixture_wait_port(t.port), 0);
	connect_client(&t, "localhost");
	bufferevent_write(t.cli.bev, "hello\n", 6);
	t.want = 6;
	run(&t, 10);
	fixture_stop(pid);
	assert_true(t.cli.connected);
	assert_true(evbuffer_get_length(t.cli.got) >= 5);
	assert_memory_equal(evbuffer_pullup(t.cli.got, -1), "olleh", 5);
	teardown_t(&t);
}

static int group_setup(void **state)
{
	(void)state;
	signal(SIGPIPE, SIG_IGN);
	return fixture_pki() ? 0 : -1;
}

static int group_teardown(void **state)
{
	(void)state;
	fixture_cleanup();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_echo_and_identity),
		cmocka_unit_test(test_one_mib_through),
		cmocka_unit_test(test_pause_resume),
		cmocka_unit_test(test_close_after_flush),
		cmocka_unit_test(test_free_on_connected),
		cmocka_unit_test(test_session_resumption),
		cmocka_unit_test(test_byte_by_byte),
		cmocka_unit_test(test_openssl_reconnect_reuses),
		cmocka_unit_test(test_san_only_identity),
		cmocka_unit_test(test_wrong_hostname),
		cmocka_unit_test(test_untrusted_server),
		cmocka_unit_test(test_client_cert_required),
		cmocka_unit_test(test_client_cert_untrusted),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_openssl_s_client),
		cmocka_unit_test(test_openssl_s_server),
	};
	return cmocka_run_group_tests_name("net/tls", tests, group_setup, group_teardown);
}
