/* The engine's store operations mapped onto agent/store work items, the acknowledgements held until those
 * items commit, and the startup load that rebuilds sessions, queues and retained messages.
 *
 * Ordering: the store completes items in submission order, so one counter pair is enough.  An ack that must
 * wait is tagged with the number of items submitted so far and released when that many have completed. */
#include <stdlib.h>
#include <string.h>

#include "agent/broker/internal.h"
#include "agent/store.h"
#include "base/log.h"

#define AB_BACKLOG_HIGH_DIV 2 /* stop reading clients at queue_items_max / 2 items waiting */
#define AB_BACKLOG_LOW_DIV 4

void ab_send_held(struct ab_conn *conn, const uint8_t *p, size_t len);

const char *ab_cstr(struct dbuf *scratch, struct mqtt_bytes b)
{
	dbuf_reset(scratch);
	if (dbuf_add(scratch, b.ptr ? (const void *)b.ptr : "", b.len))
		return NULL;
	return dbuf_str(scratch);
}

static uint64_t backlog(const struct agent_broker *ab) { return ab->submitted - ab->committed; }

bool ab_store_backlogged(const struct agent_broker *ab)
{
	uint32_t max = ab->cfg.store.queue_items_max ? ab->cfg.store.queue_items_max : STORE_QUEUE_OPS_MAX_DEFAULT;
	uint64_t limit = ab->paused ? max / AB_BACKLOG_LOW_DIV : max / AB_BACKLOG_HIGH_DIV;
	return backlog(ab) > limit;
}

static void release(struct agent_broker *ab)
{
	while (ab->pending_head && ab->pending_head->tag <= ab->committed) {
		struct ab_pending *p = ab->pending_head;
		ab->pending_head = p->next;
		if (!ab->pending_head)
			ab->pending_tail = NULL;
		if (p->conn)
			ab_send_held(p->conn, p->bytes, p->len);
		free(p);
	}
}

static void on_done(void *arg, int rc)
{
	struct agent_broker *ab = arg;
	ab->committed++;
	if (rc) {
		/* The batch did not commit: what it held is not durable.  Acks waiting on it are still sent (the
		 * in-memory state is intact), but the failure is loud. */
		ab->store_errors++;
		log_error("mqtt: store commit failed: %s", err_str(rc));
	}
	release(ab);
	if (ab->paused)
		ab_resume_paused(ab);
}

void ab_pending_add(struct agent_broker *ab, struct ab_conn *conn, const uint8_t *bytes, uint32_t len)
{
	struct ab_pending *p = malloc(sizeof *p + len);
	if (!p) {
		char peer[64];
		log_error("mqtt: out of memory holding an acknowledgement; closing %s", ab_peer(conn, peer, sizeof peer));
		ab_close(ab, conn);
		return;
	}
	p->next = NULL;
	p->conn = conn;
	p->tag = ab->submitted;
	p->len = len;
	memcpy(p->bytes, bytes, len);
	if (ab->pending_tail)
		ab->pending_tail->next = p;
	else
		ab->pending_head = p;
	ab->pending_tail = p;
}

void ab_pending_forget(struct agent_broker *ab, struct ab_conn *conn)
{
	for (struct ab_pending *p = ab->pending_head; p; p = p->next)
		if (p->conn == conn)
			p->conn = NULL;
}

static void submitted(struct agent_broker *ab, int rc)
{
	if (rc == 0) {
		ab->submitted++;
		return;
	}
	/* Not queued: nothing will complete.  The engine's state moves on; the loss is counted and logged. */
	if (rc == ERR_FULL)
		ab->store_full++;
	ab->store_errors++;
	log_warn("mqtt: store submission failed: %s", err_str(rc));
}

void ab_store(void *ctx, const struct mqtt_store_op *op)
{
	struct agent_broker *ab = ctx;
	struct store *st = ab->store;
	const char *cid = ab_cstr(&ab->scratch, op->client_id);
	int rc = ERR_NOMEM;
	if (!st)
		return;
	if (!cid)
		goto out;
	switch (op->kind) {
	case MQTT_STORE_SESSION_PUT: {
		struct store_session s = {cid, op->version, op->expiry_s, 0};
		rc = store_session_put(st, &s, on_done, ab);
		break;
	}
	case MQTT_STORE_SESSION_DEL:
		rc = store_session_del(st, cid, on_done, ab);
		break;
	case MQTT_STORE_SUB_PUT: {
		struct store_sub sub = {ab_cstr(&ab->scratch2, op->filter), op->options, op->sub_id};
		if (sub.filter)
			rc = store_sub_put(st, cid, &sub, on_done, ab);
		break;
	}
	case MQTT_STORE_SUB_DEL: {
		const char *f = ab_cstr(&ab->scratch2, op->filter);
		if (f)
			rc = store_sub_del(st, cid, f, on_done, ab);
		break;
	}
	case MQTT_STORE_QUEUE_PUT: {
		if (op->state != MQTT_DLV_QUEUED) {
			rc = store_msg_update(st, cid, STORE_MSG_OUT, op->seq, op->state, op->packet_id, on_done, ab);
			break;
		}
		struct mqtt_msg_view v;
		mqtt_msg_get(op->msg, &v);
		struct store_msg m = {0};
		m.seq = op->seq;
		m.direction = STORE_MSG_OUT;
		m.state = op->state;
		m.packet_id = op->packet_id;
		m.qos = op->qos;
		m.retain = v.retain;
		m.topic = ab_cstr(&ab->scratch2, v.topic);
		m.payload = v.payload.ptr;
		m.payload_len = v.payload.len;
		m.props = v.props.ptr;
		m.props_len = v.props.len;
		m.expiry_at_ms = v.expiry_wall_ms;
		if (m.topic)
			rc = store_msg_put(st, cid, &m, on_done, ab);
		break;
	}
	case MQTT_STORE_QUEUE_DEL:
		rc = store_msg_del(st, cid, STORE_MSG_OUT, op->seq, on_done, ab);
		break;
	case MQTT_STORE_RX_PUT: {
		/* An inbound QoS 2 id awaiting PUBREL: keyed by the packet id, no message body (it was delivered). */
		struct store_msg m = {0};
		m.seq = op->packet_id;
		m.direction = STORE_MSG_IN;
		m.packet_id = op->packet_id;
		m.qos = 2;
		m.topic = "";
		rc = store_msg_put(st, cid, &m, on_done, ab);
		break;
	}
	case MQTT_STORE_RX_DEL:
		rc = store_msg_del(st, cid, STORE_MSG_IN, op->packet_id, on_done, ab);
		break;
	case MQTT_STORE_RETAIN_PUT:
	case MQTT_STORE_RETAIN_DEL: {
		struct store_retained r = {0};
		struct mqtt_msg_view v = {0};
		if (op->kind == MQTT_STORE_RETAIN_PUT)
			mqtt_msg_get(op->msg, &v);
		else
			v.topic = op->filter;
		r.topic = ab_cstr(&ab->scratch2, v.topic);
		r.qos = v.qos;
		r.payload = v.payload.ptr;
		r.payload_len = v.payload.len;
		r.props = v.props.ptr;
		r.props_len = v.props.len;
		r.expiry_at_ms = v.expiry_wall_ms;
		if (r.topic)
			rc = store_retain_put(st, &r, on_done, ab);
		break;
	}
	default:
		rc = ERR_INVAL;
	}
out:
	submitted(ab, rc);
}

int agent_broker_store_call(struct agent_broker *ab, store_call_fn *fn, void *fn_arg)
{
	int rc = ab->store ? store_call(ab->store, fn, fn_arg, on_done, ab) : ERR_STATE;
	submitted(ab, rc);
	return rc;
}

/* ---- startup load ------------------------------------------------------------------------------------ */

static struct mqtt_bytes cbytes(const char *s) { return (struct mqtt_bytes){(const uint8_t *)s, (uint32_t)strlen(s)}; }

static int load_session(void *ctx, const struct store_session *s)
{
	struct agent_broker *ab = ctx;
	if (!mqtt_broker_restore_session(ab->b, cbytes(s->client_id), s->expiry_interval_s, s->protocol_version,
					 ab_now_ms()))
		log_warn("mqtt: store: session %s not restored", s->client_id);
	return 0;
}

static int load_sub(void *ctx, const char *client_id, const struct store_sub *sub)
{
	struct agent_broker *ab = ctx;
	struct mqtt_session *s = mqtt_broker_session_find(ab->b, cbytes(client_id));
	if (!s || mqtt_broker_restore_sub(ab->b, s, cbytes(sub->filter), sub->options, sub->subscription_id))
		log_warn("mqtt: store: subscription %s of %s not restored", sub->filter, client_id);
	return 0;
}

static int load_msg(void *ctx, const char *client_id, const struct store_msg *m)
{
	struct agent_broker *ab = ctx;
	struct mqtt_session *s = mqtt_broker_session_find(ab->b, cbytes(client_id));
	if (m->direction == STORE_MSG_IN) {
		if (!s || m->packet_id == 0 || mqtt_broker_restore_rx_qos2(ab->b, s, m->packet_id))
			log_warn("mqtt: store: QoS 2 packet id %u of %s not restored", m->packet_id, client_id);
		return 0;
	}
	struct mqtt_msg_view v = {0};
	v.topic = cbytes(m->topic);
	v.payload = (struct mqtt_bytes){m->payload, (uint32_t)m->payload_len};
	v.props = (struct mqtt_bytes){m->props, (uint32_t)m->props_len};
	v.qos = m->qos;
	v.retain = m->retain;
	v.expiry_wall_ms = m->expiry_at_ms;
	if (!s || mqtt_broker_restore_queued(ab->b, s, m->seq, &v, m->qos, m->state, m->packet_id, 0))
		log_warn("mqtt: store: queued message %llu of %s not restored", (unsigned long long)m->seq, client_id);
	return 0;
}

static int load_retained(void *ctx, const struct store_retained *r)
{
	struct agent_broker *ab = ctx;
	struct mqtt_msg_view v = {0};
	v.topic = cbytes(r->topic);
	v.payload = (struct mqtt_bytes){r->payload, (uint32_t)r->payload_len};
	v.props = (struct mqtt_bytes){r->props, (uint32_t)r->props_len};
	v.qos = r->qos;
	v.retain = true;
	v.expiry_wall_ms = r->expiry_at_ms;
	if (mqtt_broker_restore_retained(ab->b, &v))
		log_warn("mqtt: store: retained message on %s not restored", r->topic);
	return 0;
}

int agent_broker_load(struct agent_broker *ab)
{
	if (!ab->store)
		return 0;
	struct store_loader l = {load_session, load_sub, load_msg, load_retained};
	int rc = store_load(ab->store, &l, ab);
	const struct mqtt_broker_stats *st = mqtt_broker_stats(ab->b);
	log_info("mqtt: restored %llu sessions, %llu subscriptions, %llu retained messages",
		 (unsigned long long)st->sessions, (unsigned long long)st->subscriptions,
		 (unsigned long long)st->msgs_retained);
	return rc;
}
