/* The store's writer thread and work queue (store.h): group commit, completions back on the event loop.
 * The loop side only copies items into the queue and runs callbacks; it must never wait on the disk. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "agent/store_internal.h"
#include "base/err.h"
#include "base/log.h"
#include "port.h"

static const char *const sql[ST_COUNT] = {
	[ST_SESSION_PUT] = "INSERT OR REPLACE INTO sessions(client_id, protocol_version, expiry_interval_s,"
			   " disconnected_at_ms) VALUES(?1, ?2, ?3, ?4)",
	[ST_SESSION_DEL] = "DELETE FROM sessions WHERE client_id = ?1",
	[ST_SESSION_DEL_SUBS] = "DELETE FROM subscriptions WHERE client_id = ?1",
	[ST_SESSION_DEL_MSGS] = "DELETE FROM messages WHERE client_id = ?1",
	[ST_SUB_PUT] = "INSERT OR REPLACE INTO subscriptions(client_id, filter, options, subscription_id)"
		       " VALUES(?1, ?2, ?3, ?4)",
	[ST_SUB_DEL] = "DELETE FROM subscriptions WHERE client_id = ?1 AND filter = ?2",
	[ST_MSG_PUT] = "INSERT OR REPLACE INTO messages(client_id, direction, seq, state, packet_id, qos, retain, topic,"
		       " payload, props, expiry_at_ms) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
	[ST_MSG_UPDATE] = "UPDATE messages SET state = ?4, packet_id = ?5 WHERE client_id = ?1 AND direction = ?2"
			  " AND seq = ?3",
	[ST_MSG_DEL] = "DELETE FROM messages WHERE client_id = ?1 AND direction = ?2 AND seq = ?3",
	[ST_RETAIN_PUT] = "INSERT OR REPLACE INTO retained(topic, qos, payload, props, expiry_at_ms)"
			  " VALUES(?1, ?2, ?3, ?4, ?5)",
	[ST_RETAIN_DEL] = "DELETE FROM retained WHERE topic = ?1",
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
};

int store_prepare(struct store *s)
{
	for (int i = 0; i < ST_COUNT; i++) {
		int rc = sqlite3_prepare_v3(s->db, sql[i], -1, SQLITE_PREPARE_PERSISTENT, &s->stmt[i], NULL);
		if (rc != SQLITE_OK) {
			log_error("store: prepare(%s): %s", sql[i], sqlite3_errmsg(s->db));
			return rc;
		}
	}
	return SQLITE_OK;
}

void store_finalize(struct store *s)
{
	for (int i = 0; i < ST_COUNT; i++) {
		sqlite3_finalize(s->stmt[i]);
		s->stmt[i] = NULL;
	}
}

/* ---- writer thread ---- */

static int run(struct store *s, enum stmt_id id, const struct op *o)
{
	sqlite3_stmt *st = s->stmt[id];
	if (o->client_id)
		sqlite3_bind_text(st, 1, o->client_id, -1, SQLITE_STATIC);
	switch (id) {
	case ST_SESSION_PUT:
		sqlite3_bind_int(st, 2, o->u8);
		sqlite3_bind_int64(st, 3, o->u32);
		sqlite3_bind_int64(st, 4, o->i64);
		break;
	case ST_SUB_PUT:
		sqlite3_bind_int(st, 3, o->u8);
		sqlite3_bind_int64(st, 4, o->u32);
		/* fall through */
	case ST_SUB_DEL:
		sqlite3_bind_text(st, 2, o->text, -1, SQLITE_STATIC);
		break;
	case ST_MSG_PUT:
		sqlite3_bind_int(st, 6, o->u8);
		sqlite3_bind_int(st, 7, o->retain);
		sqlite3_bind_text(st, 8, o->text, -1, SQLITE_STATIC);
		sqlite3_bind_blob64(st, 9, o->payload, o->payload_len, SQLITE_STATIC);
		if (o->props_len)
			sqlite3_bind_blob64(st, 10, o->props, o->props_len, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 10);
		sqlite3_bind_int64(st, 11, o->i64);
		/* fall through */
	case ST_MSG_UPDATE:
		sqlite3_bind_int(st, 4, o->state);
		sqlite3_bind_int(st, 5, o->packet_id);
		/* fall through */
	case ST_MSG_DEL:
		sqlite3_bind_int(st, 2, o->direction);
		sqlite3_bind_int64(st, 3, (int64_t)o->seq);
		break;
	case ST_RETAIN_PUT:
		sqlite3_bind_int(st, 2, o->u8);
		sqlite3_bind_blob64(st, 3, o->payload, o->payload_len, SQLITE_STATIC);
		if (o->props_len)
			sqlite3_bind_blob64(st, 4, o->props, o->props_len, SQLITE_STATIC);
		else
			sqlite3_bind_null(st, 4);
		sqlite3_bind_int64(st, 5, o->i64);
		/* fall through */
	case ST_RETAIN_DEL:
		sqlite3_bind_text(st, 1, o->text, -1, SQLITE_STATIC);
		break;
	default:
		break;
	}
	int rc = sqlite3_step(st);
	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static int apply(struct store *s, const struct op *o)
{
	int rc = SQLITE_OK;
	switch (o->type) {
	case OP_SESSION_PUT: return run(s, ST_SESSION_PUT, o);
	case OP_SESSION_DEL:
		rc = run(s, ST_SESSION_DEL, o);
		if (rc == SQLITE_OK)
			rc = run(s, ST_SESSION_DEL_SUBS, o);
		return rc == SQLITE_OK ? run(s, ST_SESSION_DEL_MSGS, o) : rc;
	case OP_SUB_PUT: return run(s, ST_SUB_PUT, o);
	case OP_SUB_DEL: return run(s, ST_SUB_DEL, o);
	case OP_MSG_PUT: return run(s, ST_MSG_PUT, o);
	case OP_MSG_UPDATE: return run(s, ST_MSG_UPDATE, o);
	case OP_MSG_DEL: return run(s, ST_MSG_DEL, o);
	case OP_RETAIN_PUT: return run(s, ST_RETAIN_PUT, o);
	case OP_RETAIN_DEL: return run(s, ST_RETAIN_DEL, o);
	case OP_CALL: return o->fn(s->db, o->fn_arg) == 0 ? SQLITE_OK : SQLITE_ABORT;
	case OP_BARRIER: return SQLITE_OK;
	}
	return SQLITE_MISUSE;
}

static int to_err(int rc) { return (rc & 0xff) == SQLITE_FULL ? ERR_NOSPC : ERR_IO; }

/* One transaction for the whole batch: one fsync however many items (the point of the thread). */
static int commit_batch(struct store *s, struct op *batch)
{
	int rc = run(s, ST_BEGIN, &(struct op){0});
	for (struct op *o = batch; o && rc == SQLITE_OK; o = o->next)
		rc = apply(s, o);
	if (rc == SQLITE_OK)
		rc = run(s, ST_COMMIT, &(struct op){0});
	if (rc == SQLITE_OK)
		return 0;
	log_error("store: %s: batch failed: %s", s->path, sqlite3_errstr(rc));
	if (!sqlite3_get_autocommit(s->db))
		run(s, ST_ROLLBACK, &(struct op){0});
	return to_err(rc);
}

static void wake_loop(struct store *s)
{
	char b = 1;
	/* nonblocking: a full socket already holds a pending wake-up */
	while (send(s->wake[1], &b, 1, MSG_NOSIGNAL) < 0 && errno == EINTR)
		;
}

static void *writer(void *arg)
{
	struct store *s = arg;
	port_thread_name("ferry-store");
	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!s->head && !s->stopping)
			pthread_cond_wait(&s->cond, &s->lock);
		if (!s->head)
			break;
		struct op *batch = s->head, *last = batch;
		uint32_t n = 1;
		size_t bytes = batch->bytes;
		while (last->next && n < s->cfg.batch_ops_max) {
			last = last->next;
			bytes += last->bytes;
			n++;
		}
		s->head = last->next;
		if (!s->head)
			s->tail = NULL;
		last->next = NULL;
		pthread_mutex_unlock(&s->lock);

		int rc = commit_batch(s, batch);
		for (struct op *o = batch; o; o = o->next)
			o->rc = rc;

		pthread_mutex_lock(&s->lock);
		s->stats.queued_items -= n;
		s->stats.queued_bytes -= bytes;
		s->stats.batches++;
		s->stats.items += n;
		s->stats.failed_batches += rc != 0;
		s->stats.last_batch_rc = rc;
		if (n > s->stats.batch_items_max)
			s->stats.batch_items_max = n;
		bool was_empty = !s->done_head;
		if (s->done_tail)
			s->done_tail->next = batch;
		else
			s->done_head = batch;
		s->done_tail = last;
		if (was_empty)
			wake_loop(s);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* ---- loop side ---- */

static void deliver(struct store *s)
{
	pthread_mutex_lock(&s->lock);
	struct op *o = s->done_head;
	s->done_head = s->done_tail = NULL;
	pthread_mutex_unlock(&s->lock);
	while (o) {
		struct op *next = o->next;
		if (o->done)
			o->done(o->arg, o->rc);
		free(o);
		o = next;
	}
}

static void on_wake(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	char buf[64];
	/* drain first, then take the list: a completion added after the take writes a new byte */
	while (recv(fd, buf, sizeof buf, 0) > 0)
		;
	deliver(arg);
}

int store_start(struct store *s, struct event_base *base)
{
	if (s->started)
		return ERR_STATE;
	if (evutil_socketpair(AF_UNIX, SOCK_STREAM, 0, s->wake) < 0)
		return ERR_IO;
	evutil_make_socket_nonblocking(s->wake[0]);
	evutil_make_socket_nonblocking(s->wake[1]);
	evutil_make_socket_closeonexec(s->wake[0]);
	evutil_make_socket_closeonexec(s->wake[1]);
	s->wake_ev = event_new(base, s->wake[0], EV_READ | EV_PERSIST, on_wake, s);
	if (!s->wake_ev || event_add(s->wake_ev, NULL) < 0)
		goto fail;
	if (pthread_create(&s->thread, NULL, writer, s) != 0)
		goto fail;
	s->started = true;
	return 0;
fail:
	if (s->wake_ev)
		event_free(s->wake_ev);
	s->wake_ev = NULL;
	evutil_closesocket(s->wake[0]);
	evutil_closesocket(s->wake[1]);
	s->wake[0] = s->wake[1] = -1;
	return ERR_IO;
}

void store_writer_stop(struct store *s)
{
	if (!s->started)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	s->started = false;
	deliver(s);
	event_free(s->wake_ev);
	s->wake_ev = NULL;
	evutil_closesocket(s->wake[0]);
	evutil_closesocket(s->wake[1]);
}

static int submit(struct store *s, struct op *o)
{
	pthread_mutex_lock(&s->lock);
	int rc = 0;
	if (!s->started || s->stopping)
		rc = ERR_STATE;
	else if (s->stats.queued_items >= s->cfg.queue_ops_max ||
		 s->stats.queued_bytes + o->bytes > s->cfg.queue_bytes_max)
		rc = ERR_FULL;
	if (rc == 0) {
		if (s->tail)
			s->tail->next = o;
		else
			s->head = o;
		s->tail = o;
		s->stats.queued_items++;
		s->stats.queued_bytes += o->bytes;
		pthread_cond_signal(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);
	if (rc)
		free(o);
	return rc;
}

/* One allocation holding the item and copies of its strings and blobs.  0, ERR_TOO_LARGE or ERR_NOMEM. */
static int op_new(struct op **out, enum op_type type, const char *client_id, const char *text,
		  const uint8_t *payload, size_t payload_len, const uint8_t *props, size_t props_len, store_done_fn *done,
		  void *arg)
{
	size_t cl = client_id ? strlen(client_id) + 1 : 0, tl = text ? strlen(text) + 1 : 0;
	if (cl > STORE_CLIENT_ID_MAX + 1 || tl > STORE_CLIENT_ID_MAX + 1 || payload_len > STORE_PAYLOAD_MAX ||
	    props_len > STORE_PAYLOAD_MAX)
		return ERR_TOO_LARGE;
	size_t bytes = sizeof(struct op) + cl + tl + payload_len + props_len;
	struct op *o = calloc(1, bytes);
	if (!o)
		return ERR_NOMEM;
	o->type = type;
	o->done = done;
	o->arg = arg;
	o->bytes = bytes;
	char *p = o->data;
	if (client_id)
		o->client_id = memcpy(p, client_id, cl), p += cl;
	if (text)
		o->text = memcpy(p, text, tl), p += tl;
	o->payload = (const uint8_t *)p;
	if (payload_len)
		memcpy(p, payload, payload_len), p += payload_len;
	o->payload_len = payload_len;
	o->props = (const uint8_t *)p;
	if (props_len)
		memcpy(p, props, props_len);
	o->props_len = props_len;
	*out = o;
	return 0;
}

int store_session_put(struct store *s, const struct store_session *sess, store_done_fn *done, void *arg)
{
	struct op *o;
	int rc = op_new(&o, OP_SESSION_PUT, sess->client_id, NULL, NULL, 0, NULL, 0, done, arg);
	if (rc)
		return rc;
	o->u8 = sess->protocol_version;
	o->u32 = sess->expiry_interval_s;
	o->i64 = sess->disconnected_at_ms;
	return submit(s, o);
}

int store_session_del(struct store *s, const char *client_id, store_done_fn *done, void *arg)
{
	struct op *o;
	int rc = op_new(&o, OP_SESSION_DEL, client_id, NULL, NULL, 0, NULL, 0, done, arg);
	if (rc)
		return rc;
	return submit(s, o);
}

int store_sub_put(struct store *s, const char *client_id, const struct store_sub *sub, store_done_fn *done,
		  void *arg)
{
	struct op *o;
	int rc = op_new(&o, OP_SUB_PUT, client_id, sub->filter, NULL, 0, NULL, 0, done, arg);
	if (rc)
		return rc;
	o->u8 = sub->options;
	o->u32 = sub->subscription_id;
	return submit(s, o);
}

int store_sub_del(struct store *s, const char *client_id, const char *filter, store_done_fn *done, void *arg)
{
	struct op *o;
	int rc = op_new(&o, OP_SUB_DEL, client_id, filter, NULL, 0, NULL, 0, done, arg);
	if (rc)
		return rc;
	return submit(s, o);
}

int store_msg_put(struct store *s, const char *client_id, const struct store_msg *m, store_done_fn *done,
		  void *arg)
{
	struct op *o;
	int rc = op_new(&o, OP_MSG_PUT, client_id, m->topic, m->payload, m->payload_len, m->props, m->props_len, done, arg);
	if (rc)
		return rc;
	o->seq = m->seq;
	o->direction = m->direction;
	o->state = m->state;
	o->packet_id = m->packet_id;
	o->u8 = m->qos;
	o->retain = m->retain;
	o->i64 = m->expiry_at_ms;
	return submit(s, o);
}

int store_msg_update(struct store *s, const char *client_id, uint8_t direction, uint64_t seq, uint8_t state,
		     uint16_t packet_id, store_done_fn *done, void *arg)
{
	struct op *o;
	int rc = op_new(&o, OP_MSG_UPDATE, client_id, NULL, NULL, 0, NULL, 0, done, arg);
	if (rc)
		return rc;
	o->direction = direction;
	o->seq = seq;
	o->state = state;
	o->packet_id = packet_id;
	return submit(s, o);
}

int store_msg_del(struct store *s, const char *client_id, uint8_t direction, uint64_t seq, store_done_fn *done,
		  void *arg)
{
	struct op *o;
	int rc = op_new(&o, OP_MSG_DEL, client_id, NULL, NULL, 0, NULL, 0, done, arg);
	if (rc)
		return rc;
	o->direction = direction;
	o->seq = seq;
	return submit(s, o);
}

int store_retain_put(struct store *s, const struct store_retained *r, store_done_fn *done, void *arg)
{
	bool del = r->payload_len == 0;
	struct op *o;
	int rc = op_new(&o, del ? OP_RETAIN_DEL : OP_RETAIN_PUT, NULL, r->topic, r->payload, r->payload_len, r->props,
			r->props_len, done, arg);
	if (rc)
		return rc;
	o->u8 = r->qos;
	o->i64 = r->expiry_at_ms;
	return submit(s, o);
}

int store_call(struct store *s, store_call_fn *fn, void *fn_arg, store_done_fn *done, void *arg)
{
	struct op *o;
	int rc = op_new(&o, OP_CALL, NULL, NULL, NULL, 0, NULL, 0, done, arg);
	if (rc)
		return rc;
	o->fn = fn;
	o->fn_arg = fn_arg;
	return submit(s, o);
}

int store_barrier(struct store *s, store_done_fn *done, void *arg)
{
	struct op *o;
	int rc = op_new(&o, OP_BARRIER, NULL, NULL, NULL, 0, NULL, 0, done, arg);
	return rc ? rc : submit(s, o);
}

void store_get_stats(struct store *s, struct store_stats *out)
{
	pthread_mutex_lock(&s->lock);
	*out = s->stats;
	pthread_mutex_unlock(&s->lock);
}
