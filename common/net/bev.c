/* Helpers over bufferevent stacks (bev.h). */
#include <stdlib.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "net/bev.h"
#include "net/tls.h"
#include "net/websocket.h"
#include "port.h"

#define STACK_MAX 4

void net_bev_resume_read(struct bufferevent *bev)
{
	bufferevent_enable(bev, EV_READ);
	struct bufferevent *low = bev;
	for (int depth = 0; depth < STACK_MAX && bufferevent_get_underlying(low); depth++)
		low = bufferevent_get_underlying(low);
	/* from the socket up: each layer's read callback pushes into the one above */
	if (low != bev)
		bufferevent_trigger(low, EV_READ, BEV_TRIG_IGNORE_WATERMARKS | BEV_TRIG_DEFER_CALLBACKS);
	if (evbuffer_get_length(bufferevent_get_input(bev)) > 0)
		bufferevent_trigger(bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
}

struct closing {
	struct bufferevent *bev;
	struct event *tick;
	uint64_t deadline_ms;
	net_closed_fn *done;
	void *arg;
};

#define CLOSE_POLL_MS 5

static size_t pending_out(struct bufferevent *bev)
{
	size_t n = 0;
	for (int depth = 0; bev && depth < STACK_MAX; depth++, bev = bufferevent_get_underlying(bev))
		n += evbuffer_get_length(bufferevent_get_output(bev));
	return n;
}

static void close_finish(struct closing *c)
{
	bufferevent_free(c->bev);
	event_free(c->tick);
	net_closed_fn *done = c->done;
	void *arg = c->arg;
	free(c);
	if (done)
		done(arg);
}

/* A poll rather than write callbacks: bytes may wait at any layer, and the callbacks of the layers below
 * belong to the filters.  Closing is not a hot path. */
static void close_tick(evutil_socket_t fd, short what, void *arg)
{
	struct closing *c = arg;
	(void)fd, (void)what;
	if (pending_out(c->bev) == 0 || port_now_ms() >= c->deadline_ms)
		close_finish(c);
}

static void close_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	if (what & (BEV_EVENT_ERROR | BEV_EVENT_EOF | BEV_EVENT_TIMEOUT))
		close_finish(arg);
}

void net_bev_close_after_flush(struct bufferevent *bev, uint64_t timeout_ms, net_closed_fn *done, void *arg)
{
	struct closing *c = calloc(1, sizeof *c);
	struct event *tick = c ? event_new(bufferevent_get_base(bev), -1, EV_PERSIST, close_tick, c) : NULL;
	if (!tick) {
		free(c);
		bufferevent_free(bev);
		if (done)
			done(arg);
		return;
	}
	*c = (struct closing){bev, tick, port_now_ms() + timeout_ms, done, arg};
	bufferevent_disable(bev, EV_READ);
	bufferevent_setcb(bev, NULL, NULL, close_event, c);
	bufferevent_enable(bev, EV_WRITE);
	/* top down: each layer's queued bytes into the one below, then its own goodbye */
	if (net_ws_is_ws(bev))
		net_ws_close(bev, WS_CLOSE_NORMAL);
	if (net_tls_is_established(bev))
		net_tls_close_notify(bev);
	struct timeval tv = {0, CLOSE_POLL_MS * 1000};
	event_add(tick, &tv);
	event_active(tick, EV_TIMEOUT, 0);
}
