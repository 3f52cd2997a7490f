/* WebSocket: the RFC 6455 handshake example, every truncation of a request, header rules, frame headers
 * (RFC §5.7 examples, length encodings, each refusal), close payloads, fragmentation rules; then the glue
 * end to end over loopback, plain and over TLS: upgrade, fragmented binary message with a ping between the
 * fragments, echo, close handshake; refused upgrades answer HTTP errors. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "base/err.h"
#include "net/bev.h"
#include "net/listener.h"
#include "net/tls.h"
#include "net/websocket.h"
#include "port.h"
#include "tls_fixture.h"

#define REQ(extra)                                                                                             \
	"GET /mqtt HTTP/1.1\r\nHost: server.example.com\r\nUpgrade: websocket\r\nConnection: keep-alive, Upgrade\r\n" \
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n" extra "\r\n"

static void test_handshake_rfc_example(void **state)
{
	(void)state;
	char accept[29];
	/* RFC 6455 §1.3 */
	assert_int_equal(ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", 24, accept), 0);
	assert_string_equal(accept, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=");
	const char *req = REQ("Sec-WebSocket-Protocol: chat, mqtt\r\nOrigin: http://example.com\r\n");
	struct ws_handshake h;
	assert_int_equal(ws_parse_handshake((const uint8_t *)req, strlen(req), &h), (int)strlen(req));
	assert_int_equal(h.path_len, 5);
	assert_memory_equal(h.path, "/mqtt", 5);
	assert_true(h.mqtt);
	char reply[WS_REPLY_MAX];
	int n = ws_handshake_reply(&h, reply, sizeof reply);
	assert_true(n > 0);
	assert_non_null(strstr(reply, "HTTP/1.1 101 Switching Protocols\r\n"));
	assert_non_null(strstr(reply, "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
	assert_non_null(strstr(reply, "Sec-WebSocket-Protocol: mqtt\r\n"));
	assert_int_equal(ws_handshake_reply(&h, reply, 40), ERR_TOO_LARGE);
	/* every truncation is AGAIN, and bytes after the request are not consumed */
	for (size_t i = 0; i < strlen(req); i++) {
		uint8_t *copy = malloc(i ? i : 1); /* exact size: ASan catches an over-read */
		memcpy(copy, req, i);
		assert_int_equal(ws_parse_handshake(copy, i, &h), ERR_AGAIN);
		free(copy);
	}
	char more[1024];
	snprintf(more, sizeof more, "%s\x82\x80", req);
	assert_int_equal(ws_parse_handshake((const uint8_t *)more, strlen(more), &h), (int)strlen(req));
	const char *plain = REQ("");
	assert_int_equal(ws_parse_handshake((const uint8_t *)plain, strlen(plain), &h), (int)strlen(plain));
	assert_false(h.mqtt);
}

static void expect_refusal(const char *req, int rc, int status)
{
	struct ws_handshake h;
	int got = ws_parse_handshake((const uint8_t *)req, strlen(req), &h);
	if (got != rc || h.http_status != status)
		fail_msg("%s -> %d/%d, want %d/%d", req, got, h.http_status, rc, status);
}

static void test_handshake_refusals(void **state)
{
	(void)state;
	const char *key = "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n";
	char r[2048];
	expect_refusal("POST /mqtt HTTP/1.1\r\n\r\n", ERR_MALFORMED, 400);
	expect_refusal("GET /mqtt HTTP/1.0\r\n\r\n", ERR_MALFORMED, 400);
	expect_refusal("GET mqtt HTTP/1.1\r\n\r\n", ERR_MALFORMED, 400);
	expect_refusal("GET /mqtt HTTP/1.1\nHost: x\n\n", ERR_MALFORMED, 400);
	expect_refusal("GET /mqtt HTTP/1.1\r\nHost x\r\n\r\n", ERR_MALFORMED, 400);
	expect_refusal("GET /mqtt HTTP/1.1\r\nHost: x\r\n folded\r\n\r\n", ERR_MALFORMED, 400);
	snprintf(r, sizeof r, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n%s\r\n", key);
	expect_refusal(r, ERR_PROTOCOL, 400); /* no version */
	snprintf(r, sizeof r,
		 "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n%sSec-WebSocket-Version: 8\r\n\r\n",
		 key);
	expect_refusal(r, ERR_UNSUPPORTED, 426);
	snprintf(r, sizeof r, "GET / HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n%sSec-WebSocket-Version: 13\r\n\r\n",
		 key);
	expect_refusal(r, ERR_PROTOCOL, 400); /* no Host */
	snprintf(r, sizeof r, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n%sSec-WebSocket-Version: 13\r\n\r\n",
		 key);
	expect_refusal(r, ERR_PROTOCOL, 400);
	snprintf(r, sizeof r, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: close\r\n%sSec-WebSocket-Version: 13\r\n\r\n",
		 key);
	expect_refusal(r, ERR_PROTOCOL, 400);
	expect_refusal("GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
		       "Sec-WebSocket-Key: c2hvcnQ=\r\nSec-WebSocket-Version: 13\r\n\r\n",
		       ERR_PROTOCOL, 400); /* key is not 16 bytes */
	snprintf(r, sizeof r, "GET / HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n%s%s"
		 "Sec-WebSocket-Version: 13\r\n\r\n", key, key);
	expect_refusal(r, ERR_PROTOCOL, 400); /* key twice */
	/* no end within the limit */
	char *big = malloc(WS_HANDSHAKE_MAX + 100);
	memset(big, 'a', WS_HANDSHAKE_MAX + 99);
	memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
	big[WS_HANDSHAKE_MAX + 99] = '\0';
	expect_refusal(big, ERR_TOO_LARGE, 431);
	free(big);
	char reply[256];
	assert_true(ws_error_reply(426, reply, sizeof reply) > 0);
	assert_non_null(strstr(reply, "426 Upgrade Required\r\n"));
	assert_non_null(strstr(reply, "Sec-WebSocket-Version: 13\r\n"));
}

static void test_frame_headers(void **state)
{
	(void)state;
	struct ws_frame f;
	/* RFC 6455 §5.7: a masked "Hello" */
	uint8_t hello[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
	assert_int_equal(ws_decode_header(hello, sizeof hello, 1000, &f), 6);
	assert_true(f.fin && f.masked);
	assert_int_equal(f.opcode, WS_OP_TEXT);
	assert_int_equal(f.payload_len, 5);
	ws_unmask(hello + 6, 5, f.mask, 0);
	assert_memory_equal(hello + 6, "Hello", 5);
	/* unmasking in pieces gives the same result */
	uint8_t again[] = {0x7f, 0x9f, 0x4d, 0x51, 0x58};
	ws_unmask(again, 2, f.mask, 0);
	ws_unmask(again + 2, 3, f.mask, 2);
	assert_memory_equal(again, "Hello", 5);
	for (size_t i = 0; i < 6; i++)
		assert_int_equal(ws_decode_header(hello, i, 1000, &f), ERR_AGAIN);

	/* 16- and 64-bit lengths, and their encoder */
	uint8_t h[WS_HEADER_MAX + 4];
	static const uint64_t lens[] = {0, 125, 126, 65535, 65536, 1ull << 40};
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		int n = ws_encode_header(h, sizeof h, true, WS_OP_BINARY, lens[i]);
		assert_int_equal(n, lens[i] < 126 ? 2 : lens[i] < 65536 ? 4 : 10);
		h[1] |= 0x80; /* as a client would send it */
		memcpy(h + n, "\1\2\3\4", 4);
		assert_int_equal(ws_decode_header(h, (size_t)n + 4, UINT64_MAX >> 1, &f), n + 4);
		assert_true(f.payload_len == lens[i]);
		for (int cut = 0; cut < n + 4; cut++)
			assert_int_equal(ws_decode_header(h, (size_t)cut, UINT64_MAX >> 1, &f), ERR_AGAIN);
		if (lens[i] > 0)
			assert_int_equal(ws_decode_header(h, (size_t)n + 4, lens[i] - 1, &f), ERR_TOO_LARGE);
	}
	assert_int_equal(ws_encode_header(h, 3, true, WS_OP_BINARY, 200), ERR_TOO_LARGE);

	static const struct { uint8_t b[14]; size_t n; int rc; } bad[] = {
		{{0x82, 0x05}, 2, ERR_PROTOCOL},                             /* unmasked */
		{{0xc2, 0x80, 1, 2, 3, 4}, 6, ERR_PROTOCOL},                 /* RSV1 */
		{{0x83, 0x80, 1, 2, 3, 4}, 6, ERR_PROTOCOL},                 /* reserved opcode 3 */
		{{0x8b, 0x80, 1, 2, 3, 4}, 6, ERR_PROTOCOL},                 /* reserved opcode B */
		{{0x09, 0x80, 1, 2, 3, 4}, 6, ERR_PROTOCOL},                 /* fragmented ping */
		{{0x89, 0xfe, 0x00, 0x7e, 1, 2, 3, 4}, 8, ERR_PROTOCOL},     /* ping of 126 bytes */
		{{0x82, 0xfe, 0x00, 0x05, 1, 2, 3, 4}, 8, ERR_PROTOCOL},     /* 16-bit length for 5 */
		{{0x82, 0xff, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4}, 14, ERR_PROTOCOL}, /* 64-bit for 65535 */
		{{0x82, 0xff, 0x80, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4}, 14, ERR_MALFORMED},   /* top bit */
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (ws_decode_header(bad[i].b, bad[i].n, UINT64_MAX >> 1, &f) != bad[i].rc)
			fail_msg("bad header %zu", i);
}

static void test_close_and_sequence(void **state)
{
	(void)state;
	uint16_t code;
	assert_int_equal(ws_parse_close(NULL, 0, &code), 0);
	assert_int_equal(code, 1005);
	assert_int_equal(ws_parse_close((const uint8_t *)"\x03\xe8", 2, &code), 0);
	assert_int_equal(code, 1000);
	assert_int_equal(ws_parse_close((const uint8_t *)"\x03\xe8ok", 4, &code), 0);
	assert_int_equal(ws_parse_close((const uint8_t *)"\x0f\xa0", 2, &code), 0); /* 4000: private use */
	assert_int_equal(ws_parse_close((const uint8_t *)"\x03", 1, &code), ERR_PROTOCOL);
	assert_int_equal(ws_parse_close((const uint8_t *)"\x03\xed", 2, &code), ERR_PROTOCOL); /* 1005 */
	assert_int_equal(ws_parse_close((const uint8_t *)"\x03\xee", 2, &code), ERR_PROTOCOL); /* 1006 */
	assert_int_equal(ws_parse_close((const uint8_t *)"\x03\xe7", 2, &code), ERR_PROTOCOL); /* 999 */
	assert_int_equal(ws_parse_close((const uint8_t *)"\x03\xe8\xff", 3, &code), ERR_PROTOCOL); /* bad UTF-8 */
	assert_int_equal(ws_parse_close((const uint8_t *)"\x03\xe8\xed\xa0\x80", 5, &code), ERR_PROTOCOL); /* surrogate */
	assert_int_equal(ws_parse_close((const uint8_t *)"\x03\xe8\xc3\xa9", 4, &code), 0); /* é */

	struct ws_reader r = {0};
	struct ws_frame start = {.fin = false, .opcode = WS_OP_BINARY}, cont = {.fin = false, .opcode = WS_OP_CONT},
			end = {.fin = true, .opcode = WS_OP_CONT}, ping = {.fin = true, .opcode = WS_OP_PING},
			text = {.fin = true, .opcode = WS_OP_TEXT}, whole = {.fin = true, .opcode = WS_OP_BINARY};
	assert_int_equal(ws_reader_frame(&r, &cont), ERR_PROTOCOL); /* continuation first */
	assert_int_equal(ws_reader_frame(&r, &start), 0);
	assert_int_equal(ws_reader_frame(&r, &ping), 0);
	assert_int_equal(ws_reader_frame(&r, &cont), 0);
	assert_int_equal(ws_reader_frame(&r, &whole), ERR_PROTOCOL); /* new message inside one */
	assert_int_equal(ws_reader_frame(&r, &end), 0);
	assert_int_equal(ws_reader_frame(&r, &whole), 0);
	assert_int_equal(ws_reader_frame(&r, &text), ERR_UNSUPPORTED);
}

/* ---- glue, end to end ---- */

struct e2e {
	struct event_base *base;
	struct net_listener *l;
	struct bufferevent *srv;    /* the server's WebSocket bufferevent */
	struct bufferevent *cli;    /* raw client (plain or TLS) speaking WebSocket by hand */
	struct evbuffer *got;       /* client: bytes from the server */
	bool srv_open, srv_eof, srv_error, srv_timeout;
	const char *path;
	uint64_t timeout_ms;
};

static void srv_read(struct bufferevent *bev, void *arg)
{
	(void)arg; /* echo the byte stream back: frames in, frames out */
	evbuffer_add_buffer(bufferevent_get_output(bev), bufferevent_get_input(bev));
}

static void srv_event(struct bufferevent *bev, short what, void *arg)
{
	struct e2e *e = arg;
	if (what & BEV_EVENT_CONNECTED) {
		e->srv_open = true;
		return;
	}
	e->srv_eof |= (what & BEV_EVENT_EOF) != 0;
	e->srv_error |= (what & BEV_EVENT_ERROR) != 0;
	e->srv_timeout |= (what & BEV_EVENT_TIMEOUT) != 0;
	e->srv = NULL;
	net_bev_close_after_flush(bev, 2000, NULL, NULL);
}

static void on_conn(void *arg, struct bufferevent *bev, const struct sockaddr *peer, int len)
{
	struct e2e *e = arg;
	(void)peer, (void)len;
	struct net_ws_config cfg = {.path = e->path, .handshake_timeout_ms = e->timeout_ms ? e->timeout_ms : 2000};
	e->srv = net_ws_wrap(e->base, bev, &cfg);
	assert_non_null(e->srv);
	assert_true(net_ws_is_ws(e->srv));
	bufferevent_setcb(e->srv, srv_read, NULL, srv_event, e);
	bufferevent_enable(e->srv, EV_READ | EV_WRITE);
}

static void cli_read(struct bufferevent *bev, void *arg)
{
	struct e2e *e = arg;
	evbuffer_add_buffer(e->got, bufferevent_get_input(bev));
}

static void cli_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev, (void)what, (void)arg;
}

static void spin_until(struct e2e *e, bool (*done)(struct e2e *))
{
	for (int i = 0; i < 200 && !done(e); i++) {
		struct timeval tv = {0, 10000};
		event_base_loopexit(e->base, &tv);
		event_base_dispatch(e->base);
	}
}

static bool got_headers(struct e2e *e)
{
	return evbuffer_search(e->got, "\r\n\r\n", 4, NULL).pos >= 0;
}

static void client_frame(struct e2e *e, uint8_t first, const char *payload, size_t n)
{
	uint8_t h[WS_HEADER_MAX], mask[4] = {0xa1, 0xb2, 0xc3, 0xd4}, buf[256];
	int hl = ws_encode_header(h, sizeof h, true, 0, n);
	h[0] = first;
	h[1] |= 0x80;
	memcpy(buf, payload, n);
	ws_unmask(buf, n, mask, 0);
	bufferevent_write(e->cli, h, (size_t)hl);
	bufferevent_write(e->cli, mask, 4);
	bufferevent_write(e->cli, buf, n);
}

/* Server frames are unmasked; collect (opcode, payload) pairs as text "op:payload;". */
static void server_frames(struct e2e *e, char *out, size_t cap)
{
	size_t len = evbuffer_get_length(e->got), pos = 0, o = 0;
	uint8_t *p = evbuffer_pullup(e->got, -1);
	out[0] = '\0';
	while (pos + 2 <= len) {
		size_t n = p[pos + 1] & 0x7f, hl = 2;
		if (n == 126)
			n = (size_t)p[pos + 2] << 8 | p[pos + 3], hl = 4;
		if (pos + hl + n > len)
			break;
		o += (size_t)snprintf(out + o, cap - o, "%x:%.*s;", p[pos] & 0xf, (int)n, (const char *)p + pos + hl);
		pos += hl + n;
	}
}

static bool three_frames(struct e2e *e)
{
	char f[512];
	server_frames(e, f, sizeof f);
	return strstr(f, "8:") != NULL;
}

static bool srv_gone(struct e2e *e) { return e->srv == NULL && (e->srv_eof || e->srv_error || e->srv_timeout); }

static void e2e_run(struct net_tls *srv_tls, struct net_tls *cli_tls)
{
	struct e2e e = {.base = event_base_new(), .got = evbuffer_new(), .path = "/mqtt"};
	struct net_listener_config lc = {.address = "127.0.0.1", .tls = srv_tls};
	char err[256];
	assert_int_equal(net_listener_new(&e.l, e.base, &lc, on_conn, &e, err, sizeof err), 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(net_listener_port(e.l)),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	struct bufferevent *sock = bufferevent_socket_new(e.base, -1, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_socket_connect(sock, (struct sockaddr *)&a, sizeof a);
	e.cli = cli_tls ? net_tls_wrap(cli_tls, e.base, sock, "localhost") : sock;
	bufferevent_setcb(e.cli, cli_read, NULL, cli_event, &e);
	bufferevent_enable(e.cli, EV_READ | EV_WRITE);
	const char *req = REQ("Sec-WebSocket-Protocol: mqtt\r\n");
	bufferevent_write(e.cli, req, strlen(req));
	spin_until(&e, got_headers);
	char *head = (char *)evbuffer_pullup(e.got, -1);
	assert_non_null(head);
	assert_memory_equal(head, "HTTP/1.1 101 ", 13);
	assert_non_null(strstr(head, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="));
	evbuffer_drain(e.got, (size_t)(strstr(head, "\r\n\r\n") + 4 - head));
	assert_true(e.srv_open);
	if (srv_tls)
		assert_true(net_tls_is_tls(e.srv)); /* identity and cipher reachable through the WebSocket layer */

	/* a binary message in two fragments with a ping between them, then close */
	client_frame(&e, 0x02, "hello ", 6);
	client_frame(&e, 0x89, "p!", 2);
	client_frame(&e, 0x80, "world", 5);
	client_frame(&e, 0x88, "\x03\xe8", 2);
	spin_until(&e, three_frames);
	char frames[512];
	server_frames(&e, frames, sizeof frames);
	/* the pong may come before or after the echoed data; both must be there, then the close echo */
	assert_non_null(strstr(frames, "a:p!;"));
	char data[64] = "";
	for (char *f = frames; (f = strstr(f, "2:")); f += 2)
		strncat(data, f + 2, strcspn(f + 2, ";"));
	if (strcmp(data, "hello world") != 0)
		fail_msg("frames: %s", frames);
	assert_non_null(strstr(frames, "8:\x03\xe8;"));
	spin_until(&e, srv_gone);
	assert_true(e.srv_eof);
	bufferevent_free(e.cli);
	net_listener_free(e.l);
	evbuffer_free(e.got);
	event_base_free(e.base);
}

static void test_glue_plain(void **state)
{
	(void)state;
	e2e_run(NULL, NULL);
}

static void test_glue_over_tls(void **state)
{
	(void)state;
	struct net_tls_config sc = {.cert_file = pki("server.crt"), .key_file = pki("server.key")};
	struct net_tls_config cc = {.ca_file = pki("ca.crt"), .verify = NET_TLS_VERIFY_REQUIRED};
	struct net_tls *st, *ct;
	char err[256];
	assert_int_equal(net_tls_new(&st, NET_TLS_SERVER, &sc, err, sizeof err), 0);
	assert_int_equal(net_tls_new(&ct, NET_TLS_CLIENT, &cc, err, sizeof err), 0);
	e2e_run(st, ct);
	net_tls_unref(st);
	net_tls_unref(ct);
}

static void refused(const char *path, const char *req, const char *status)
{
	struct e2e e = {.base = event_base_new(), .got = evbuffer_new(), .path = path};
	struct net_listener_config lc = {.address = "127.0.0.1"};
	char err[256];
	assert_int_equal(net_listener_new(&e.l, e.base, &lc, on_conn, &e, err, sizeof err), 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(net_listener_port(e.l)),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	e.cli = bufferevent_socket_new(e.base, -1, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_socket_connect(e.cli, (struct sockaddr *)&a, sizeof a);
	bufferevent_setcb(e.cli, cli_read, NULL, cli_event, &e);
	bufferevent_enable(e.cli, EV_READ | EV_WRITE);
	bufferevent_write(e.cli, req, strlen(req));
	spin_until(&e, got_headers);
	char *head = (char *)evbuffer_pullup(e.got, -1);
	if (!head || !strstr(head, status))
		fail_msg("wanted %s, got %s", status, head ? head : "nothing");
	spin_until(&e, srv_gone);
	assert_true(e.srv_error);
	assert_false(e.srv_open);
	bufferevent_free(e.cli);
	net_listener_free(e.l);
	evbuffer_free(e.got);
	event_base_free(e.base);
}

/* A client that connects and never sends its upgrade is dropped after handshake_timeout_ms. */
static void test_glue_handshake_timeout(void **state)
{
	(void)state;
	struct e2e e = {.base = event_base_new(), .got = evbuffer_new(), .path = "/mqtt", .timeout_ms = 100};
	struct net_listener_config lc = {.address = "127.0.0.1"};
	char err[256];
	assert_int_equal(net_listener_new(&e.l, e.base, &lc, on_conn, &e, err, sizeof err), 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(net_listener_port(e.l)),
				.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	e.cli = bufferevent_socket_new(e.base, -1, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_socket_connect(e.cli, (struct sockaddr *)&a, sizeof a);
	bufferevent_setcb(e.cli, cli_read, NULL, cli_event, &e);
	bufferevent_enable(e.cli, EV_READ | EV_WRITE);
	bufferevent_write(e.cli, "GET /mq", 7); /* a partial request, then silence */
	uint64_t t0 = port_now_ms();
	spin_until(&e, srv_gone);
	assert_true(e.srv_timeout);
	assert_false(e.srv_open);
	assert_true(port_now_ms() - t0 < 1500);
	bufferevent_free(e.cli);
	net_listener_free(e.l);
	evbuffer_free(e.got);
	event_base_free(e.base);
}

/* Byte by byte: the upgrade and every frame (lengths 0, 1, 125, 126, 65535, 65536; fragments; pings between
 * fragments) arrive one byte per read, through a bufferevent pair instead of a socket.  The echoed stream
 * must equal the payloads sent, and every ping must be answered. */
struct drip {
	struct bufferevent *srv;
	size_t pings;
};

static void drip_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev, (void)what, (void)arg;
}

static void drip_frame(struct evbuffer *out, uint8_t first, const uint8_t *p, size_t n, struct evbuffer *expect)
{
	uint8_t h[WS_HEADER_MAX], mask[4] = {0x11, 0x22, 0x33, 0x44};
	int hl = ws_encode_header(h, sizeof h, true, 0, n);
	h[0] = first;
	h[1] |= 0x80;
	evbuffer_add(out, h, (size_t)hl);
	evbuffer_add(out, mask, 4);
	uint8_t *m = malloc(n ? n : 1);
	memcpy(m, p, n);
	ws_unmask(m, n, mask, 0);
	evbuffer_add(out, m, n);
	free(m);
	if (expect && (first & 0x0f) != WS_OP_PING)
		evbuffer_add(expect, p, n);
}

static void test_glue_byte_by_byte(void **state)
{
	(void)state;
	struct event_base *base = event_base_new();
	struct bufferevent *pair[2];
	assert_int_equal(bufferevent_pair_new(base, BEV_OPT_CLOSE_ON_FREE, pair), 0);
	struct net_ws_config cfg = {.path = "/mqtt", .handshake_timeout_ms = 0};
	struct bufferevent *ws = net_ws_wrap(base, pair[0], &cfg);
	struct drip d = {ws, 0};
	bufferevent_setcb(ws, srv_read, NULL, drip_event, &d);
	bufferevent_enable(ws, EV_READ | EV_WRITE);
	bufferevent_enable(pair[1], EV_READ | EV_WRITE);

	struct evbuffer *wire = evbuffer_new(), *expect = evbuffer_new();
	const char *req = REQ("Sec-WebSocket-Protocol: mqtt\r\n");
	evbuffer_add(wire, req, strlen(req));
	static uint8_t big[65536];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (uint8_t)(i * 31 + 7);
	static const size_t lens[] = {0, 1, 125, 126, 65535, 65536};
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++)
		drip_frame(wire, 0x82, big, lens[i], expect);
	drip_frame(wire, 0x02, big + 3, 10, expect);         /* fragmented: start */
	drip_frame(wire, 0x89, (const uint8_t *)"ping", 4, NULL); /* a ping between fragments */
	drip_frame(wire, 0x00, big + 13, 200, expect);       /* continuation */
	drip_frame(wire, 0x80, big + 213, 1, expect);        /* final */

	size_t total = evbuffer_get_length(wire);
	uint8_t *bytes = evbuffer_pullup(wire, -1);
	for (size_t i = 0; i < total; i++) {
		bufferevent_write(pair[1], bytes + i, 1);
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
	for (int i = 0; i < 20; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);

	/* parse what came back: the 101 answer, then unmasked server frames */
	struct evbuffer *back = bufferevent_get_input(pair[1]);
	struct evbuffer_ptr end = evbuffer_search(back, "\r\n\r\n", 4, NULL);
	assert_true(end.pos > 0);
	evbuffer_drain(back, (size_t)end.pos + 4);
	struct evbuffer *echoed = evbuffer_new();
	int pongs = 0;
	while (evbuffer_get_length(back) >= 2) {
		uint8_t h[10];
		evbuffer_copyout(back, h, sizeof h);
		size_t n = h[1] & 0x7f, hl = 2;
		if (n == 126)
			n = (size_t)h[2] << 8 | h[3], hl = 4;
		else if (n == 127)
			n = (size_t)h[6] << 24 | (size_t)h[7] << 16 | (size_t)h[8] << 8 | h[9], hl = 10;
		assert_true(evbuffer_get_length(back) >= hl + n);
		evbuffer_drain(back, hl);
		if ((h[0] & 0x0f) == WS_OP_PONG) {
			pongs++;
			evbuffer_drain(back, n);
		} else {
			assert_int_equal(h[0] & 0x0f, WS_OP_BINARY);
			evbuffer_remove_buffer(back, echoed, n);
		}
	}
	assert_int_equal(pongs, 1);
	assert_int_equal(evbuffer_get_length(echoed), evbuffer_get_length(expect));
	assert_memory_equal(evbuffer_pullup(echoed, -1), evbuffer_pullup(expect, -1), evbuffer_get_length(expect));
	evbuffer_free(echoed);
	evbuffer_free(wire);
	evbuffer_free(expect);
	bufferevent_free(ws);
	bufferevent_free(pair[1]);
	event_base_free(base);
}

static void test_glue_refusals(void **state)
{
	(void)state;
	refused("/other", REQ("Sec-WebSocket-Protocol: mqtt\r\n"), "HTTP/1.1 404 ");
	refused("/mqtt", REQ(""), "HTTP/1.1 400 ");                        /* mqtt not offered */
	refused("/mqtt", "GET /mqtt HTTP/1.1\r\nHost: x\r\n\r\n", "HTTP/1.1 400 ");
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	if (!fixture_pki())
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_handshake_rfc_example),
		cmocka_unit_test(test_handshake_refusals),
		cmocka_unit_test(test_frame_headers),
		cmocka_unit_test(test_close_and_sequence),
		cmocka_unit_test(test_glue_plain),
		cmocka_unit_test(test_glue_over_tls),
		cmocka_unit_test(test_glue_refusals),
		cmocka_unit_test(test_glue_handshake_timeout),
		cmocka_unit_test(test_glue_byte_by_byte),
	};
	int rc = cmocka_run_group_tests_name("net/websocket", tests, NULL, NULL);
	fixture_cleanup();
	return rc;
}
