/* The transport under a connection: a libevent bufferevent stack for TLS and WebSocket (net/ builds those),
 * or, for plain TCP, a lean socket: one embedded read event and buffers that exist only while bytes are
 * pending, so an idle connection costs no buffer memory (a bufferevent alone is about 1 KB).  conn.c sees
 * the same small interface either way.
 *
 * Lean output is written once per loop iteration (all connections with pending bytes, in one pass), so a
 * burst of packets to one client becomes one write() like with a bufferevent. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "agent/broker/internal.h"
#include "base/log.h"
#include "net/bev.h"

#define LEAN_READ_CHUNK 16384u
#define LEAN_READS_PER_EVENT 4   /* fairness: at most this many reads per readiness */

/* ---- buffers ------------------------------------------------------------------------------------------ */

static void buf_free(struct ab_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof *b);
}

/* Room for n more bytes at the end; compacts before growing. */
static int buf_reserve(struct ab_buf *b, size_t n)
{
	if (b->cap - b->len >= n)
		return 0;
	if (b->off) {
		memmove(b->p, b->p + b->off, b->len - b->off);
		b->len -= b->off;
		b->off = 0;
		if (b->cap - b->len >= n)
			return 0;
	}
	size_t cap = b->cap ? b->cap : 512;
	while (cap - b->len < n) {
		if (cap > UINT32_MAX / 2)
			return ERR_TOO_LARGE;
		cap *= 2;
	}
	uint8_t *p = realloc(b->p, cap);
	if (!p)
		return ERR_NOMEM;
	b->p = p;
	b->cap = (uint32_t)cap;
	return 0;
}

/* Drops consumed bytes; an empty buffer gives its memory back. */
static void buf_consumed(struct ab_buf *b, size_t n)
{
	b->off += (uint32_t)n;
	if (b->off == b->len)
		buf_free(b);
}

/* ---- lean sockets ------------------------------------------------------------------------------------ */

static void lean_read_cb(evutil_socket_t fd, short what, void *arg);
static void lean_write_cb(evutil_socket_t fd, short what, void *arg);

int ab_io_lean_attach(struct ab_conn *conn, evutil_socket_t fd)
{
	conn->fd = fd;
	if (event_assign(&conn->rev, conn->ab->base, fd, EV_READ | EV_PERSIST, lean_read_cb, conn) != 0)
		return ERR_NOMEM;
	conn->rev_assigned = true;
	return 0;
}

static bool lean(const struct ab_conn *conn) { return conn->fd >= 0; }

bool ab_io_open(const struct ab_conn *conn) { return lean(conn) || conn->bev; }

void ab_io_read_enable(struct ab_conn *conn, bool on)
{
	if (lean(conn)) {
		if (on)
			event_add(&conn->rev, NULL);
		else
			event_del(&conn->rev);
	} else if (conn->bev) {
		if (on)
			net_bev_resume_read(conn->bev);
		else
			bufferevent_disable(conn->bev, EV_READ);
	}
}

static void lean_read_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct ab_conn *conn = arg;
	size_t max = (size_t)mqtt_broker_packet_size_max(conn->ab->b) + LEAN_READ_CHUNK;
	for (int i = 0; i < LEAN_READS_PER_EVENT; i++) {
		if (conn->in.len - conn->in.off > max || buf_reserve(&conn->in, LEAN_READ_CHUNK)) {
			ab_on_eof(conn, true); /* the framer bounds packets; this is a peer that never completes one */
			return;
		}
		size_t room = conn->in.cap - conn->in.len;
		ssize_t n = read(fd, conn->in.p + conn->in.len, room);
		if (n > 0) {
			conn->in.len += (uint32_t)n;
			if ((size_t)n < room)
				break;
			continue;
		}
		if (n == 0) {
			ab_on_eof(conn, false);
			return;
		}
		if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
			break;
		ab_on_eof(conn, true);
		return;
	}
	if (conn->in.len == conn->in.off)
		buf_free(&conn->in);
	ab_on_readable(conn);
}

/* Writes what is pending; keeps a write event only while the socket is full. */
static void lean_flush(struct ab_conn *conn)
{
	while (conn->out.len > conn->out.off) {
		ssize_t n = send(conn->fd, conn->out.p + conn->out.off, conn->out.len - conn->out.off, MSG_NOSIGNAL);
		if (n > 0) {
			buf_consumed(&conn->out, (size_t)n);
			continue;
		}
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			if (!conn->wev)
				conn->wev = event_new(conn->ab->base, conn->fd, EV_WRITE, lean_write_cb, conn);
			if (conn->wev)
				event_add(conn->wev, NULL);
			break;
		}
		/* The peer is gone; its EOF will come through the read side, or the reaper closes it. */
		buf_free(&conn->out);
		conn->io_error = true;
		ab_on_eof(conn, true);
		return;
	}
	ab_on_drained(conn, conn->out.len - conn->out.off);
}

static void lean_write_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	lean_flush(arg);
}

void ab_flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct agent_broker *ab = arg;
	struct ab_conn *list = ab->flush;
	ab->flush = NULL;
	while (list) {
		struct ab_conn *conn = list;
		list = conn->flush_next;
		conn->flush_next = NULL;
		conn->dirty = false;
		if (lean(conn) && !conn->closing)
			lean_flush(conn);
	}
}

static void mark_dirty(struct ab_conn *conn)
{
	if (conn->dirty)
		return;
	conn->dirty = true;
	conn->flush_next = conn->ab->flush;
	conn->ab->flush = conn;
	event_active(conn->ab->flush_ev, 0, 0);
}

static void flush_unlink(struct ab_conn *conn)
{
	if (!conn->dirty)
		return;
	struct ab_conn **pp = &conn->ab->flush;
	while (*pp && *pp != conn)
		pp = &(*pp)->flush_next;
	if (*pp)
		*pp = conn->flush_next;
	conn->dirty = false;
}

/* ---- output, either transport ------------------------------------------------------------------------ */

size_t ab_io_out_len(const struct ab_conn *conn)
{
	if (lean(conn))
		return conn->out.len - conn->out.off;
	return conn->bev ? evbuffer_get_length(bufferevent_get_output(conn->bev)) : 0;
}

uint8_t *ab_io_out_reserve(struct ab_conn *conn, size_t n, struct evbuffer_iovec *v)
{
	if (lean(conn))
		return buf_reserve(&conn->out, n) ? NULL : conn->out.p + conn->out.len;
	struct evbuffer *out = bufferevent_get_output(conn->bev);
	if (evbuffer_reserve_space(out, (ev_ssize_t)n, v, 1) == 1 && v->iov_len >= n)
		return v->iov_base;
	return NULL;
}

void ab_io_out_commit(struct ab_conn *conn, size_t n, struct evbuffer_iovec *v)
{
	if (lean(conn)) {
		conn->out.len += (uint32_t)n;
		mark_dirty(conn);
		return;
	}
	v->iov_len = n;
	evbuffer_commit_space(bufferevent_get_output(conn->bev), v, 1);
}

int ab_io_out_add(struct ab_conn *conn, const uint8_t *p, size_t n)
{
	if (lean(conn)) {
		int rc = buf_reserve(&conn->out, n);
		if (rc)
			return rc;
		memcpy(conn->out.p + conn->out.len, p, n);
		conn->out.len += (uint32_t)n;
		mark_dirty(conn);
		return 0;
	}
	return evbuffer_add(bufferevent_get_output(conn->bev), p, n) ? ERR_NOMEM : 0;
}

/* ---- input, either transport ------------------------------------------------------------------------- */

size_t ab_io_in_len(const struct ab_conn *conn)
{
	if (lean(conn))
		return conn->in.len - conn->in.off;
	return conn->bev ? evbuffer_get_length(bufferevent_get_input(conn->bev)) : 0;
}

/* n bytes from the start of the input, contiguous (the lean buffer always is). */
const uint8_t *ab_io_in_pullup(struct ab_conn *conn, size_t n)
{
	if (lean(conn))
		return conn->in.p + conn->in.off;
	return evbuffer_pullup(bufferevent_get_input(conn->bev), (ev_ssize_t)n);
}

void ab_io_in_drain(struct ab_conn *conn, size_t n)
{
	if (lean(conn))
		buf_consumed(&conn->in, n);
	else if (conn->bev)
		evbuffer_drain(bufferevent_get_input(conn->bev), n);
}

/* ---- ending ------------------------------------------------------------------------------------------ */

struct lean_closing {
	evutil_socket_t fd;
	struct ab_buf out;
	struct event *ev;
};

static void closing_end(struct lean_closing *lc)
{
	/* Read what the peer still sends so that close() sends FIN, not RST: a reset could destroy the last
	 * reply (a CONNACK or DISCONNECT with its reason) before the peer reads it. */
	char sink[512];
	shutdown(lc->fd, SHUT_WR);
	for (int i = 0; i < 16 && read(lc->fd, sink, sizeof sink) > 0; i++)
		;
	evutil_closesocket(lc->fd);
	if (lc->ev)
		event_free(lc->ev);
	buf_free(&lc->out);
	free(lc);
}

static void closing_cb(evutil_socket_t fd, short what, void *arg)
{
	struct lean_closing *lc = arg;
	if (what & EV_WRITE) {
		while (lc->out.len > lc->out.off) {
			ssize_t n = send(fd, lc->out.p + lc->out.off, lc->out.len - lc->out.off, MSG_NOSIGNAL);
			if (n > 0) {
				buf_consumed(&lc->out, (size_t)n);
				continue;
			}
			if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
				return; /* EV_PERSIST: wait for more room */
			break;
		}
	}
	closing_end(lc); /* all written, an error, or the linger timeout */
}

/* Closes the transport after what is queued has been sent (at most AB_CLOSE_LINGER_S).  conn no longer owns
 * a transport afterwards. */
void ab_io_hand_off(struct ab_conn *conn)
{
	if (conn->bev) {
		struct bufferevent *bev = conn->bev;
		conn->bev = NULL;
		net_bev_close_after_flush(bev, AB_CLOSE_LINGER_S * 1000u, NULL, NULL);
		return;
	}
	if (!lean(conn))
		return;
	flush_unlink(conn);
	if (conn->rev_assigned)
		event_del(&conn->rev);
	if (conn->wev) {
		event_free(conn->wev);
		conn->wev = NULL;
	}
	buf_free(&conn->in);
	struct lean_closing *lc = calloc(1, sizeof *lc);
	if (!lc) {
		evutil_closesocket(conn->fd);
		buf_free(&conn->out);
		conn->fd = -1;
		return;
	}
	lc->fd = conn->fd;
	lc->out = conn->out;
	memset(&conn->out, 0, sizeof conn->out);
	conn->fd = -1;
	struct timeval linger = {AB_CLOSE_LINGER_S, 0};
	lc->ev = event_new(conn->ab->base, lc->fd, EV_WRITE | EV_PERSIST, closing_cb, lc);
	if (!lc->ev || event_add(lc->ev, &linger) != 0)
		closing_end(lc);
}

/* Releases the transport at once (the peer is gone, or shutdown). */
void ab_io_free(struct ab_conn *conn)
{
	if (conn->bev) {
		bufferevent_free(conn->bev);
		conn->bev = NULL;
	}
	if (!lean(conn))
		return;
	flush_unlink(conn);
	if (conn->rev_assigned)
		event_del(&conn->rev);
	if (conn->wev)
		event_free(conn->wev);
	conn->wev = NULL;
	evutil_closesocket(conn->fd);
	conn->fd = -1;
	buf_free(&conn->in);
	buf_free(&conn->out);
}
