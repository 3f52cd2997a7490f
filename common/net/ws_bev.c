/* WebSocket connection as a bufferevent (websocket.h, glue part).  Same shape as tls.c: a libevent filter
 * carries the data (binary frame payloads in, binary frames out) and the lower bufferevent's callbacks are
 * ours, to run the upgrade and raise events.  Every callback to the owner is deferred.  Data frames are
 * streamed (never buffered whole), so a large frame costs no more memory than its bytes in flight; control
 * frames (at most 125 bytes) are handled once complete. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "base/err.h"
#include "base/log.h"
#include "net/websocket.h"

#define WS_UNDER_WRITE_HIGH (64u * 1024)
#define WS_OUT_FRAME_MAX (64u * 1024) /* payload per frame we send */
#define WS_PATH_MAX 256

struct wsc {
	struct bufferevent *bev, *under;
	char path[WS_PATH_MAX];
	bool open, failed, close_sent, close_received;
	uint16_t peer_close_code;
	struct ws_reader reader;
	struct ws_frame cur;
	bool in_frame;
	uint64_t done; /* payload bytes of cur already delivered */
};

static void send_frame(struct wsc *c, uint8_t opcode, const uint8_t *p, size_t n)
{
	uint8_t h[WS_HEADER_MAX];
	int hl = ws_encode_header(h, sizeof h, true, opcode, n);
	struct evbuffer *out = bufferevent_get_output(c->under);
	evbuffer_add(out, h, (size_t)hl);
	if (n)
		evbuffer_add(out, p, n);
}

static void send_close(struct wsc *c, uint16_t code)
{
	if (c->close_sent)
		return;
	c->close_sent = true;
	uint8_t p[2] = {(uint8_t)(code >> 8), (uint8_t)code};
	send_frame(c, WS_OP_CLOSE, p, code == 1005 ? 0 : 2);
}

/* §7.1.7: fail the connection: close frame with the reason, then the owner closes. */
static void fail_ws(struct wsc *c, uint16_t code, const char *why)
{
	if (c->failed)
		return;
	log_debug("websocket: %s; closing with %u", why, code);
	send_close(c, code);
	c->failed = true;
	bufferevent_trigger_event(c->bev, BEV_EVENT_ERROR | BEV_EVENT_READING, BEV_TRIG_DEFER_CALLBACKS);
}

static bool path_ok(const struct wsc *c, const struct ws_handshake *h)
{
	size_t n = h->path_len;
	const char *q = memchr(h->path, '?', n);
	if (q)
		n = (size_t)(q - h->path); /* a query string does not change the resource */
	return n == strlen(c->path) && memcmp(h->path, c->path, n) == 0;
}

static void refuse(struct wsc *c, int status)
{
	char reply[WS_REPLY_MAX];
	int n = ws_error_reply(status, reply, sizeof reply);
	if (n > 0)
		evbuffer_add(bufferevent_get_output(c->under), reply, (size_t)n);
	c->failed = true;
	bufferevent_trigger_event(c->bev, BEV_EVENT_ERROR | BEV_EVENT_READING, BEV_TRIG_DEFER_CALLBACKS);
}

static void upgrade(struct wsc *c)
{
	struct evbuffer *in = bufferevent_get_input(c->under);
	size_t len = evbuffer_get_length(in);
	if (len > WS_HANDSHAKE_MAX)
		len = WS_HANDSHAKE_MAX;
	const uint8_t *p = evbuffer_pullup(in, (ev_ssize_t)len);
	struct ws_handshake h;
	int rc = ws_parse_handshake(p, len, &h);
	if (rc == ERR_AGAIN)
		return;
	if (rc < 0)
		return refuse(c, h.http_status);
	if (!path_ok(c, &h))
		return refuse(c, 404);
	if (!h.mqtt)
		return refuse(c, 400); /* MQTT 5.0 §6.0: the client must offer "mqtt" */
	char reply[WS_REPLY_MAX];
	int n = ws_handshake_reply(&h, reply, sizeof reply);
	if (n < 0)
		return refuse(c, 400);
	evbuffer_drain(in, (size_t)rc);
	evbuffer_add(bufferevent_get_output(c->under), reply, (size_t)n);
	c->open = true;
	bufferevent_set_timeouts(c->bev, NULL, NULL);
	bufferevent_trigger_event(c->bev, BEV_EVENT_CONNECTED, BEV_TRIG_DEFER_CALLBACKS);
}

static void push_read(struct wsc *c)
{
	bufferevent_flush(c->bev, EV_READ, BEV_NORMAL);
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0 && (bufferevent_get_enabled(c->bev) & EV_READ))
		bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
}

static void under_read(struct bufferevent *under, void *arg)
{
	struct wsc *c = arg;
	(void)under;
	if (c->failed || c->close_received)
		return;
	if (!c->open) {
		upgrade(c);
		if (!c->open)
			return;
	}
	push_read(c);
}

static void under_write(struct bufferevent *under, void *arg)
{
	struct wsc *c = arg;
	(void)under;
	if (c->open && !c->failed)
		bufferevent_flush(c->bev, EV_WRITE, BEV_NORMAL);
}

static void under_event(struct bufferevent *under, short what, void *arg)
{
	struct wsc *c = arg;
	(void)under;
	if ((what & BEV_EVENT_CONNECTED) || c->failed)
		return;
	c->failed = (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) != 0;
	bufferevent_trigger_event(c->bev, what, BEV_TRIG_DEFER_CALLBACKS);
}

/* A complete control frame is in src: act on it.  false when reading must stop. */
static bool control(struct wsc *c, struct evbuffer *src)
{
	uint8_t p[WS_CONTROL_MAX];
	size_t n = (size_t)c->cur.payload_len;
	evbuffer_remove(src, p, n);
	ws_unmask(p, n, c->cur.mask, 0);
	c->in_frame = false;
	if (c->cur.opcode == WS_OP_PING) {
		send_frame(c, WS_OP_PONG, p, n); /* §5.5.2: same application data */
		return true;
	}
	if (c->cur.opcode == WS_OP_PONG)
		return true;
	uint16_t code;
	if (ws_parse_close(p, n, &code)) {
		fail_ws(c, WS_CLOSE_PROTOCOL, "bad close frame");
		return false;
	}
	/* §5.5.1: the answering close (echoing the code) goes out when the owner closes, after what it still has
	 * queued: a reply to the last packet is not cut off */
	c->peer_close_code = code == 1005 ? WS_CLOSE_NORMAL : code;
	c->close_received = true;
	bufferevent_trigger_event(c->bev, BEV_EVENT_EOF | BEV_EVENT_READING, BEV_TRIG_DEFER_CALLBACKS);
	return false;
}

static bool next_header(struct wsc *c, struct evbuffer *src)
{
	uint8_t h[WS_HEADER_MAX];
	ev_ssize_t got = evbuffer_copyout(src, h, sizeof h);
	int rc = ws_decode_header(h, got > 0 ? (size_t)got : 0, UINT64_MAX >> 1, &c->cur);
	if (rc == ERR_AGAIN)
		return false;
	if (rc < 0) {
		fail_ws(c, WS_CLOSE_PROTOCOL, "bad frame header");
		return false;
	}
	int seq = ws_reader_frame(&c->reader, &c->cur);
	if (seq) {
		fail_ws(c, seq == ERR_UNSUPPORTED ? WS_CLOSE_UNSUPPORTED_DATA : WS_CLOSE_PROTOCOL,
			seq == ERR_UNSUPPORTED ? "text frame (MQTT needs binary)" : "bad fragmentation");
		return false;
	}
	evbuffer_drain(src, (size_t)rc);
	c->in_frame = true;
	c->done = 0;
	return true;
}

static enum bufferevent_filter_result filter_in(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
						enum bufferevent_flush_mode mode, void *arg)
{
	struct wsc *c = arg;
	(void)mode;
	size_t produced = 0;
	while (c->open && !c->failed && !c->close_received) {
		if (!c->in_frame && !next_header(c, src))
			break;
		if (c->cur.opcode & 0x8) {
			if (evbuffer_get_length(src) < c->cur.payload_len || !control(c, src))
				break;
			continue;
		}
		uint64_t left = c->cur.payload_len - c->done;
		size_t n = evbuffer_get_length(src);
		if (left < n)
			n = (size_t)left;
		if (limit >= 0 && n > (size_t)limit - produced)
			n = (size_t)limit - produced;
		if (n > 0) {
			struct evbuffer_iovec v;
			if (evbuffer_reserve_space(dst, (ev_ssize_t)n, &v, 1) < 1)
				return BEV_ERROR;
			evbuffer_remove(src, v.iov_base, n);
			ws_unmask(v.iov_base, n, c->cur.mask, c->done);
			v.iov_len = n;
			evbuffer_commit_space(dst, &v, 1);
			c->done += n;
			produced += n;
		}
		if (c->done == c->cur.payload_len)
			c->in_frame = false;
		else
			break; /* waiting for more payload, or dst is full */
	}
	return produced ? BEV_OK : BEV_NEED_MORE;
}

static enum bufferevent_filter_result filter_out(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
						 enum bufferevent_flush_mode mode, void *arg)
{
	struct wsc *c = arg;
	(void)mode;
	if (!c->open || c->failed || c->close_sent)
		return BEV_NEED_MORE; /* §5.5.1: nothing after a close frame */
	size_t start = evbuffer_get_length(dst), moved = 0;
	while (evbuffer_get_length(src) > 0) {
		if (limit >= 0 && evbuffer_get_length(dst) - start >= (size_t)limit)
			break;
		size_t n = evbuffer_get_length(src);
		if (n > WS_OUT_FRAME_MAX)
			n = WS_OUT_FRAME_MAX;
		uint8_t h[WS_HEADER_MAX];
		int hl = ws_encode_header(h, sizeof h, true, WS_OP_BINARY, n);
		evbuffer_add(dst, h, (size_t)hl);
		evbuffer_remove_buffer(src, dst, n);
		moved += n;
	}
	return moved ? BEV_OK : BEV_NEED_MORE;
}

static void wsc_free(void *arg) { free(arg); }

struct bufferevent *net_ws_wrap(struct event_base *base, struct bufferevent *under, const struct net_ws_config *cfg)
{
	(void)base;
	struct wsc *c = calloc(1, sizeof *c);
	if (!c || strlen(cfg->path) >= sizeof c->path) {
		free(c);
		bufferevent_free(under);
		return NULL;
	}
	snprintf(c->path, sizeof c->path, "%s", cfg->path);
	c->under = under;
	c->bev = bufferevent_filter_new(under, filter_in, filter_out, BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS,
					wsc_free, c);
	if (!c->bev) {
		free(c);
		bufferevent_free(under);
		return NULL;
	}
	bufferevent_setcb(under, under_read, under_write, under_event, c);
	bufferevent_setwatermark(under, EV_WRITE, 0, WS_UNDER_WRITE_HIGH);
	if (cfg->handshake_timeout_ms) {
		struct timeval tv = {(time_t)(cfg->handshake_timeout_ms / 1000),
				     (suseconds_t)(cfg->handshake_timeout_ms % 1000) * 1000};
		bufferevent_set_timeouts(c->bev, &tv, NULL);
	}
	return c->bev;
}

static struct wsc *wsc_of(struct bufferevent *bev)
{
	struct bufferevent *under = bev ? bufferevent_get_underlying(bev) : NULL;
	if (!under)
		return NULL;
	bufferevent_data_cb rd;
	void *arg;
	bufferevent_getcb(under, &rd, NULL, NULL, &arg);
	return rd == under_read ? arg : NULL;
}

bool net_ws_is_ws(struct bufferevent *bev) { return wsc_of(bev) != NULL; }

int net_ws_close(struct bufferevent *bev, uint16_t code)
{
	struct wsc *c = wsc_of(bev);
	if (!c)
		return ERR_INVAL;
	if (!c->open)
		return ERR_STATE;
	bufferevent_flush(c->bev, EV_WRITE, BEV_FLUSH); /* queued data first */
	send_close(c, c->close_received ? c->peer_close_code : code);
	return 0;
}
