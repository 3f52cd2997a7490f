/* Broker lifecycle, the packet dispatcher, connection teardown and timers.  The per-packet handlers live in
 * connect.c, publish.c, deliver.c and subscribe.c; this file maps their errors to the spec's answers. */
#include "mqtt/broker/internal.h"

#include "base/log.h"

void mqtt_broker_config_default(struct mqtt_broker_config *cfg)
{
	memset(cfg, 0, sizeof *cfg);
	cfg->packet_size_max = 1u << 20;
	cfg->receive_max = 64;
	cfg->inflight_max = 32;
	cfg->queue_msgs_max = 1000;
	cfg->queue_bytes_max = 16u << 20;
	cfg->topic_alias_max = 32;
	cfg->topic_alias_out_max = 16;
	cfg->topic_len_max = 1024;
	cfg->topic_levels_max = 32;
	cfg->subs_per_client_max = 256;
	cfg->session_expiry_max_s = 7 * 86400;
	cfg->keep_alive_max_s = 0;
	cfg->connect_timeout_ms = 10000;
	cfg->retained_max = 100000;
	cfg->sessions_max = 100000;
	cfg->qos_max = 2;
	cfg->retain_available = true;
	cfg->allow_anonymous = true;
	cfg->queue_qos0_offline = false;
	cfg->client_id_len_max = 128;
}

struct mqtt_broker *mqtt_broker_new(const struct mqtt_broker_config *cfg, const struct mqtt_broker_ops *ops,
				    void *ctx, uint64_t now_ms, int64_t wall_ms)
{
	struct mqtt_broker *b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	b->cfg = *cfg;
	b->ops = *ops;
	b->ctx = ctx;
	bk_ht_init(&b->sessions);
	b->topic_lim.len_max = cfg->topic_len_max;
	b->topic_lim.levels_max = cfg->topic_levels_max;
	b->trie = mqtt_trie_new(&b->topic_lim);
	b->retain_index = mqtt_retain_new(&b->topic_lim);
	if (!b->trie || !b->retain_index) {
		mqtt_trie_free(b->trie);
		mqtt_retain_free(b->retain_index);
		free(b);
		return NULL;
	}
	b->now_ms = now_ms;
	b->wall_minus_mono_ms = wall_ms - (int64_t)now_ms;
	return b;
}

/* The topic limits stay those the trie was built with: filters already accepted must stay removable. */
void mqtt_broker_set_config(struct mqtt_broker *b, const struct mqtt_broker_config *cfg)
{
	b->cfg = *cfg;
	b->cfg.topic_len_max = b->topic_lim.len_max;
	b->cfg.topic_levels_max = b->topic_lim.levels_max;
}

const struct mqtt_broker_stats *mqtt_broker_stats(const struct mqtt_broker *b) { return &b->stats; }

uint32_t mqtt_broker_packet_size_max(const struct mqtt_broker *b) { return b->cfg.packet_size_max; }

uint8_t mqtt_broker_client_version(const struct mqtt_client *c) { return c->version; }

void mqtt_broker_client_set_stalled(struct mqtt_client *c, bool stalled) { c->stalled = stalled; }

struct mqtt_bytes mqtt_broker_client_id(const struct mqtt_client *c)
{
	if (!c->session)
		return (struct mqtt_bytes){(const uint8_t *)"", 0};
	return (struct mqtt_bytes){(const uint8_t *)c->session->client_id, c->session->client_id_len};
}

void bk_store_op(struct mqtt_broker *b, const struct mqtt_store_op *op)
{
	if (!b->ops.store)
		return;
	b->store_ops++;
	b->ops.store(b->ctx, op);
}

void bk_send_packet(struct mqtt_broker *b, struct mqtt_client *c, const struct mqtt_packet *p, unsigned flags)
{
	if (c->state == CLIENT_CLOSING)
		return;
	b->ops.send(b->ctx, c->io, p, c->version ? c->version : MQTT_V311, flags);
}

void bk_client_kill(struct mqtt_broker *b, struct mqtt_client *c, uint8_t reason5)
{
	if (c->state == CLIENT_CLOSING)
		return;
	if (c->state == CLIENT_CONNECTED && c->version == MQTT_V5 && reason5 != 0xFF) {
		/* Codes that only a CONNACK may carry (a malformed second CONNECT: 0x84, 0x85) become Protocol
		 * Error, which is what a second CONNECT is anyway (5.0 [MQTT-3.1.0-2]). */
		if (!mqtt_reason_allowed(MQTT_DISCONNECT, reason5))
			reason5 = MQTT_RC_PROTOCOL_ERROR;
		struct mqtt_packet p = {.type = MQTT_DISCONNECT};
		p.u.disconnect.reason = reason5;
		/* 5.0 §3.14.2.2.3: a reason string unless the client asked for no problem information. */
		const char *why = mqtt_reason_name_in(MQTT_DISCONNECT, reason5);
		if (c->problem_info && why)
			mqtt_prop_set_bytes(&p.u.disconnect.props, MQTT_PROP_REASON_STRING, mqtt_cstr(why));
		bk_send_packet(b, c, &p, 0);
	}
	c->state = CLIENT_CLOSING;
	b->ops.close(b->ctx, c->io);
}

struct mqtt_client *mqtt_broker_client_new(struct mqtt_broker *b, void *io, uint64_t now_ms)
{
	struct mqtt_client *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->io = io;
	c->state = CLIENT_NEW;
	c->last_rx_ms = now_ms;
	c->their_packet_max = UINT32_MAX;
	c->next = b->clients;
	if (b->clients)
		b->clients->prev = c;
	b->clients = c;
	b->now_ms = now_ms;
	return c;
}

static void client_unlink(struct mqtt_broker *b, struct mqtt_client *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		b->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
}

static void client_release(struct mqtt_client *c)
{
	if (c->alias_in) {
		for (uint16_t i = 0; i < c->alias_in_max; i++)
			free((void *)c->alias_in[i].ptr);
		free(c->alias_in);
	}
	if (c->alias_out) {
		for (uint16_t i = 0; i < c->alias_out_max; i++)
			free((void *)c->alias_out[i].ptr);
		free(c->alias_out);
	}
	free(c);
}

/* The connection of s is gone: the will (now or after its delay) and the session's end or its wait. */
static void session_detach(struct mqtt_broker *b, struct mqtt_session *s, bool normal)
{
	s->client = NULL;
	b->stats.clients_connected--;
	if (normal) {
		bk_msg_unref(s->will);
		s->will = NULL;
	}
	/* Deliveries already sent stay in flight for resend on reconnect (4.4); with no session to come back to
	 * they are dropped with the session. */
	if (s->expiry_s == 0) {
		if (s->will)
			bk_will_publish(b, s);
		bk_session_destroy(b, s);
		return;
	}
	s->offline_since_ms = b->now_ms;
	if (s->will) {
		if (s->will_delay_s == 0)
			bk_will_publish(b, s);
		else
			s->will_at_ms = b->now_ms + (uint64_t)s->will_delay_s * 1000;
	}
	bk_offline_add(b, s);
}

void mqtt_broker_client_free(struct mqtt_broker *b, struct mqtt_client *c, uint64_t now_ms)
{
	b->now_ms = now_ms;
	client_unlink(b, c);
	struct mqtt_session *s = c->session;
	if (s && s->client == c)
		session_detach(b, s, c->will_suppressed);
	client_release(c);
}

void mqtt_broker_client_set_blocked(struct mqtt_broker *b, struct mqtt_client *c, bool blocked, uint64_t now_ms)
{
	b->now_ms = now_ms;
	bool was = c->blocked;
	c->blocked = blocked;
	if (was && !blocked && c->session && c->state == CLIENT_CONNECTED)
		bk_session_pump(b, c->session);
}

/* ---- sessions ---------------------------------------------------------------------------------------- */

struct mqtt_session *bk_session_new(struct mqtt_broker *b, struct mqtt_bytes client_id)
{
	struct mqtt_session *s = calloc(1, sizeof *s + client_id.len + 1u);
	if (!s)
		return NULL;
	if (client_id.len)
		memcpy(s->client_id, client_id.ptr, client_id.len);
	s->client_id[client_id.len] = 0;
	s->client_id_len = (uint16_t)client_id.len;
	s->h.key = (const uint8_t *)s->client_id;
	s->h.key_len = s->client_id_len;
	s->next_packet_id = 1;
	if (bk_ht_insert(&b->sessions, &s->h)) {
		free(s);
		return NULL;
	}
	b->stats.sessions++;
	return s;
}

void bk_session_persist(struct mqtt_broker *b, struct mqtt_session *s)
{
	struct mqtt_store_op op = {.kind = MQTT_STORE_SESSION_PUT};
	op.client_id = (struct mqtt_bytes){(const uint8_t *)s->client_id, s->client_id_len};
	op.expiry_s = s->expiry_s;
	op.version = s->version;
	bk_store_op(b, &op);
}

void bk_offline_add(struct mqtt_broker *b, struct mqtt_session *s)
{
	s->prev_offline = NULL;
	s->next_offline = b->offline;
	if (b->offline)
		b->offline->prev_offline = s;
	b->offline = s;
}

void bk_offline_remove(struct mqtt_broker *b, struct mqtt_session *s)
{
	if (s->prev_offline)
		s->prev_offline->next_offline = s->next_offline;
	else if (b->offline == s)
		b->offline = s->next_offline;
	else
		return; /* not on the list */
	if (s->next_offline)
		s->next_offline->prev_offline = s->prev_offline;
	s->next_offline = s->prev_offline = NULL;
}

/* Ends a session: its subscriptions, queue and will go; a persistent one is deleted from the store. */
void bk_session_destroy(struct mqtt_broker *b, struct mqtt_session *s)
{
	assert(!s->client);
	bk_offline_remove(b, s);
	bk_pressure_forget(b, s);
	if (s->expiry_s > 0) {
		struct mqtt_store_op op = {.kind = MQTT_STORE_SESSION_DEL};
		op.client_id = (struct mqtt_bytes){(const uint8_t *)s->client_id, s->client_id_len};
		bk_store_op(b, &op);
		b->stats.sessions_persistent--;
	}
	bk_session_drop_subs(b, s);
	bk_session_clear_queue(b, s);
	bk_msg_unref(s->will);
	free(s->rx_qos2);
	bk_ht_remove(&b->sessions, &s->h);
	b->stats.sessions--;
	free(s);
}

void mqtt_broker_free(struct mqtt_broker *b)
{
	if (!b)
		return;
	while (b->clients) {
		struct mqtt_client *c = b->clients;
		client_unlink(b, c);
		if (c->session)
			c->session->client = NULL;
		client_release(c);
	}
	/* Free every session without store ops: shutting down is not ending sessions. */
	b->ops.store = NULL;
	for (uint32_t i = 0; b->sessions.slots && i <= b->sessions.mask; i++) {
		while (b->sessions.slots[i]) {
			struct mqtt_session *s = container_of(b->sessions.slots[i], struct mqtt_session, h);
			s->expiry_s = 0;
			s->will = (bk_msg_unref(s->will), NULL);
			s->client = NULL;
			bk_session_destroy(b, s);
		}
	}
	while (b->retained) {
		struct mqtt_msg *m = b->retained;
		b->retained = m->ret_next;
		bk_msg_unref(m);
	}
	mqtt_retain_free(b->retain_index);
	while (b->dlv_free) {
		struct dlv *d = b->dlv_free;
		b->dlv_free = d->next;
		free(d);
	}
	bk_ht_deinit(&b->sessions);
	free(b->targets);
	mqtt_trie_free(b->trie);
	free(b);
}

/* ---- input ------------------------------------------------------------------------------------------- */

/* Answers a codec or protocol error as the spec says and closes: before CONNECT is accepted with a CONNACK
 * (5.0 reason code, or the 3.1.1 return code when there is one), after it with DISCONNECT (5.0) or by
 * closing the connection (3.1.1 §4.8). */
static void fail(struct mqtt_broker *b, struct mqtt_client *c, int err, uint8_t version)
{
	if (c->state == CLIENT_CLOSING)
		return;
	if (err == ERR_PROTOCOL || err == ERR_STATE)
		b->stats.protocol_errors++;
	else
		b->stats.malformed++;
	uint8_t rc5 = err == ERR_PROTOCOL || err == ERR_STATE ? MQTT_RC_PROTOCOL_ERROR
			: err == ERR_TOO_LARGE ? MQTT_RC_PACKET_TOO_LARGE : mqtt_err_reason5(err);
	log_info("mqtt: client %s: %s; closing with reason 0x%02x", c->session ? c->session->client_id : "-",
		 err_str(err), rc5);
	if (c->state == CLIENT_NEW) {
		int rc4 = mqtt_err_connack4(err);
		struct mqtt_packet p = {.type = MQTT_CONNACK};
		if (version == MQTT_V5) {
			p.u.connack.reason = rc5;
			c->version = MQTT_V5;
			bk_send_packet(b, c, &p, 0);
		} else if (rc4 >= 0 && version != 0) {
			p.u.connack.reason = (uint8_t)rc4;
			c->version = MQTT_V311;
			bk_send_packet(b, c, &p, 0);
		}
		c->state = CLIENT_CLOSING;
		b->ops.close(b->ctx, c->io);
		return;
	}
	bk_client_kill(b, c, rc5);
}

void mqtt_broker_input_error(struct mqtt_broker *b, struct mqtt_client *c, int err)
{
	fail(b, c, err, c->version);
}

static int dispatch(struct mqtt_broker *b, struct mqtt_client *c, struct mqtt_packet *p)
{
	if (c->state == CLIENT_NEW && p->type != MQTT_CONNECT)
		return ERR_PROTOCOL; /* 3.1.1 [MQTT-3.1.0-1], 5.0 [MQTT-3.1.0-1] */
	switch (p->type) {
	case MQTT_CONNECT:
		if (c->state != CLIENT_NEW)
			return ERR_PROTOCOL; /* [MQTT-3.1.0-2] */
		return bk_handle_connect(b, c, &p->u.connect);
	case MQTT_PUBLISH:
		return bk_handle_publish(b, c, &p->u.publish);
	case MQTT_PUBACK:
	case MQTT_PUBREC:
	case MQTT_PUBCOMP:
		return bk_handle_ack(b, c, p->type, &p->u.ack);
	case MQTT_PUBREL:
		return bk_handle_pubrel(b, c, &p->u.ack);
	case MQTT_SUBSCRIBE:
		return bk_handle_subscribe(b, c, &p->u.subscribe);
	case MQTT_UNSUBSCRIBE:
		return bk_handle_unsubscribe(b, c, &p->u.subscribe);
	case MQTT_PINGREQ: {
		struct mqtt_packet r = {.type = MQTT_PINGRESP};
		bk_send_packet(b, c, &r, 0);
		return 0;
	}
	case MQTT_DISCONNECT:
		/* 5.0 §3.14.4: reason 0x04 keeps the will; anything else discards it. */
		c->will_suppressed = !(c->version == MQTT_V5 && p->u.disconnect.reason == MQTT_RC_DISCONNECT_WITH_WILL);
		if (c->version == MQTT_V5 && c->session && mqtt_prop_has(&p->u.disconnect.props, MQTT_PROP_SESSION_EXPIRY)) {
			uint32_t e = mqtt_prop_num(&p->u.disconnect.props, MQTT_PROP_SESSION_EXPIRY);
			if (c->session->expiry_s == 0 && e != 0)
				return ERR_PROTOCOL; /* 5.0 §3.14.2.2.2 */
			if (e > b->cfg.session_expiry_max_s)
				e = b->cfg.session_expiry_max_s;
			if (e != c->session->expiry_s) {
				if (e == 0) {
					struct mqtt_store_op op = {.kind = MQTT_STORE_SESSION_DEL};
					op.client_id = (struct mqtt_bytes){(const uint8_t *)c->session->client_id,
									   c->session->client_id_len};
					bk_store_op(b, &op);
					b->stats.sessions_persistent--;
				}
				c->session->expiry_s = e;
				if (e)
					bk_session_persist(b, c->session);
			}
		}
		c->state = CLIENT_CLOSING;
		b->ops.close(b->ctx, c->io);
		return 0;
	case MQTT_AUTH:
		return ERR_PROTOCOL; /* no enhanced authentication method is offered (5.0 §4.12) */
	default:
		return ERR_PROTOCOL; /* a server-to-client packet */
	}
}

int mqtt_broker_input(struct mqtt_broker *b, struct mqtt_client *c, const uint8_t *pkt, size_t len, uint64_t now_ms)
{
	if (c->state == CLIENT_CLOSING)
		return ERR_CLOSED;
	b->now_ms = now_ms;
	c->last_rx_ms = now_ms;
	struct mqtt_packet p;
	p.type = 0;
	p.u.connect.version = 0;
	int rc = mqtt_decode(pkt, len, c->version, &p);
	if (rc < 0) {
		/* A CONNECT that fails still tells which CONNACK format to answer in, once its level was read. */
		uint8_t version = c->version;
		if (c->state == CLIENT_NEW)
			version = len > 0 && pkt[0] >> 4 == MQTT_CONNECT ? p.u.connect.version : 0;
		fail(b, c, rc, version);
		return rc;
	}
	b->stats.bytes_in += len;
	rc = dispatch(b, c, &p);
	if (rc < 0) {
		fail(b, c, rc, p.type == MQTT_CONNECT ? p.u.connect.version : c->version);
		return rc;
	}
	return 0;
}

/* ---- timers ------------------------------------------------------------------------------------------ */

uint32_t mqtt_broker_tick(struct mqtt_broker *b, uint64_t now_ms, int64_t wall_ms)
{
	b->now_ms = now_ms;
	b->wall_minus_mono_ms = wall_ms - (int64_t)now_ms;
	for (struct mqtt_client *c = b->clients, *next; c; c = next) {
		next = c->next;
		if (c->state == CLIENT_NEW && now_ms - c->last_rx_ms >= b->cfg.connect_timeout_ms) {
			c->state = CLIENT_CLOSING;
			b->ops.close(b->ctx, c->io);
		} else if (c->state == CLIENT_CONNECTED && c->keep_alive_s &&
			   now_ms - c->last_rx_ms >= (uint64_t)c->keep_alive_s * 1500) {
			/* 3.1.1 §3.1.2.10, 5.0 §3.1.2.10: one and a half times the keep alive. */
			b->stats.keepalive_timeouts++;
			bk_client_kill(b, c, MQTT_RC_KEEP_ALIVE_TIMEOUT);
		} else if (c->state == CLIENT_CONNECTED && c->session) {
			bk_queue_expire(b, c->session);
		}
	}
	for (struct mqtt_session *s = b->offline, *next; s; s = next) {
		next = s->next_offline;
		bool expired = s->expiry_s != UINT32_MAX && now_ms - s->offline_since_ms >= (uint64_t)s->expiry_s * 1000;
		/* 5.0 §3.1.3.2.2: the will goes at the end of its delay or when the session ends, whichever first. */
		if (s->will && (expired || (s->will_at_ms && now_ms >= s->will_at_ms)))
			bk_will_publish(b, s);
		if (expired) {
			b->stats.sessions_expired++;
			bk_session_destroy(b, s);
		} else {
			bk_queue_expire(b, s);
		}
	}
	return 1000;
}
