/* CONNECT negotiation and the session table (see session.h). */
#include <stdlib.h>
#include <string.h>

#include "mqtt/session.h"

const struct mqtt_broker_limits mqtt_broker_limits_default = {
	.receive_max = 32,
	.inflight_max = 32,
	.topic_alias_max = 16,
	.packet_size_max = 1u << 20,
	.keep_alive_max_s = 0,
	.session_expiry_max_s = 7 * 24 * 3600,
	.qos_max = 2,
	.retain_available = true,
	.wildcard_available = true,
	.sub_ids_available = true,
	.shared_available = true,
	.client_id_len_max = 256,
	.topic = {MQTT_TOPIC_LEN_MAX_DEFAULT, MQTT_TOPIC_LEVELS_MAX_DEFAULT},
};

#define SESSION_NEVER UINT32_MAX /* 5.0 §3.1.2.11.2: 0xFFFFFFFF, the session does not expire */

static void refuse(struct mqtt_connack *ack, uint8_t version, uint8_t reason5, uint8_t rc311)
{
	ack->reason = version == MQTT_V5 ? reason5 : rc311;
	ack->session_present = false;
}

/* 5.0 CONNACK properties: only what differs from the spec's defaults is sent (§3.2.2.3). */
static void connack_props(const struct mqtt_connect *c, const struct mqtt_broker_limits *lim,
			  const struct mqtt_conn_params *p, struct mqtt_bytes assigned_id, struct mqtt_props *out)
{
	if (p->session_expiry_s != mqtt_prop_num(&c->props, MQTT_PROP_SESSION_EXPIRY))
		mqtt_prop_set_num(out, MQTT_PROP_SESSION_EXPIRY, p->session_expiry_s); /* §3.2.2.3.2: ours differs */
	if (p->assign_client_id)
		mqtt_prop_set_bytes(out, MQTT_PROP_ASSIGNED_CLIENT_ID, assigned_id);
	if (p->keep_alive_s != c->keep_alive_s)
		mqtt_prop_set_num(out, MQTT_PROP_SERVER_KEEP_ALIVE, p->keep_alive_s); /* [MQTT-3.1.2-21] */
	if (lim->receive_max != 65535)
		mqtt_prop_set_num(out, MQTT_PROP_RECEIVE_MAX, lim->receive_max);
	if (lim->topic_alias_max)
		mqtt_prop_set_num(out, MQTT_PROP_TOPIC_ALIAS_MAX, lim->topic_alias_max);
	if (lim->qos_max < 2)
		mqtt_prop_set_num(out, MQTT_PROP_MAX_QOS, lim->qos_max);
	if (!lim->retain_available)
		mqtt_prop_set_num(out, MQTT_PROP_RETAIN_AVAILABLE, 0);
	if (lim->packet_size_max != UINT32_MAX)
		mqtt_prop_set_num(out, MQTT_PROP_MAX_PACKET_SIZE, lim->packet_size_max);
	if (!lim->wildcard_available)
		mqtt_prop_set_num(out, MQTT_PROP_WILDCARD_SUB_AVAILABLE, 0);
	if (!lim->sub_ids_available)
		mqtt_prop_set_num(out, MQTT_PROP_SUB_ID_AVAILABLE, 0);
	if (!lim->shared_available)
		mqtt_prop_set_num(out, MQTT_PROP_SHARED_SUB_AVAILABLE, 0);
}

int mqtt_connect_negotiate(const struct mqtt_connect *c, const struct mqtt_broker_limits *lim,
			   struct mqtt_bytes assigned_id, struct mqtt_conn_params *p, struct mqtt_connack *ack)
{
	bool v5 = c->version == MQTT_V5;
	memset(p, 0, sizeof *p);
	memset(ack, 0, sizeof *ack);
	p->version = c->version;
	if (c->client_id.len > lim->client_id_len_max) {
		refuse(ack, c->version, MQTT_RC_CLIENT_ID_NOT_VALID, MQTT_CONNACK311_ID_REJECTED);
		return ERR_MQTT_CLIENT_ID;
	}
	/* 5.0 [MQTT-3.2.2-12], [MQTT-3.2.2-13]: a will the server cannot honour refuses the connection. */
	if (c->will && c->will_qos > lim->qos_max) {
		refuse(ack, c->version, MQTT_RC_QOS_NOT_SUPPORTED, 0);
		return ERR_UNSUPPORTED;
	}
	if (c->will && c->will_retain && !lim->retain_available) {
		refuse(ack, c->version, MQTT_RC_RETAIN_NOT_SUPPORTED, 0);
		return ERR_UNSUPPORTED;
	}
	p->assign_client_id = c->client_id.len == 0; /* 3.1.1 only gets here with Clean Session set */
	p->keep_alive_s = c->keep_alive_s;
	if (v5 && lim->keep_alive_max_s && (p->keep_alive_s == 0 || p->keep_alive_s > lim->keep_alive_max_s))
		p->keep_alive_s = lim->keep_alive_max_s; /* announced as Server Keep Alive */
	if (v5) {
		uint32_t e = mqtt_prop_num(&c->props, MQTT_PROP_SESSION_EXPIRY);
		p->session_expiry_s = e > lim->session_expiry_max_s ? lim->session_expiry_max_s : e;
		p->client_receive_max = mqtt_prop_has(&c->props, MQTT_PROP_RECEIVE_MAX)
					      ? (uint16_t)mqtt_prop_num(&c->props, MQTT_PROP_RECEIVE_MAX)
					      : 65535;
		p->client_packet_size_max = mqtt_prop_has(&c->props, MQTT_PROP_MAX_PACKET_SIZE)
						    ? mqtt_prop_num(&c->props, MQTT_PROP_MAX_PACKET_SIZE)
						    : UINT32_MAX;
		p->client_topic_alias_max = (uint16_t)mqtt_prop_num(&c->props, MQTT_PROP_TOPIC_ALIAS_MAX);
		p->request_problem_info = !mqtt_prop_has(&c->props, MQTT_PROP_REQUEST_PROBLEM_INFO) ||
					  mqtt_prop_num(&c->props, MQTT_PROP_REQUEST_PROBLEM_INFO);
		p->request_response_info = mqtt_prop_num(&c->props, MQTT_PROP_REQUEST_RESPONSE_INFO);
		connack_props(c, lim, p, assigned_id, &ack->props);
	} else {
		/* 3.1.1 has no expiry: a clean session ends with the connection, another lives on. */
		p->session_expiry_s = c->clean_start ? 0 : SESSION_NEVER;
		p->client_receive_max = 65535;
		p->client_packet_size_max = UINT32_MAX;
	}
	return 0;
}

/* ---- the session table ------------------------------------------------------------------------------------- */

static uint32_t id_hash(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h ^ (h >> 16);
}

int mqtt_sessions_init(struct mqtt_sessions *t, struct mqtt_trie *trie, const struct mqtt_broker_limits *lim)
{
	memset(t, 0, sizeof *t);
	t->slots = calloc(64, sizeof *t->slots);
	if (!t->slots)
		return ERR_NOMEM;
	t->mask = 63;
	t->trie = trie;
	t->lim = lim;
	return 0;
}

static uint32_t find_slot(const struct mqtt_sessions *t, const uint8_t *id, size_t len)
{
	uint32_t s = id_hash(id, len) & t->mask;
	for (;; s = (s + 1) & t->mask) {
		const struct mqtt_session *x = t->slots[s];
		if (!x || (x->client_id_len == len && memcmp(x->client_id, id, len) == 0))
			return s;
	}
}

struct mqtt_session *mqtt_sessions_find(const struct mqtt_sessions *t, const uint8_t *id, size_t len)
{
	return t->slots[find_slot(t, id, len)];
}

static bool table_grow(struct mqtt_sessions *t)
{
	uint32_t cap = (t->mask + 1) * 2;
	struct mqtt_session **old = t->slots;
	uint32_t old_cap = t->mask + 1;
	t->slots = calloc(cap, sizeof *t->slots);
	if (!t->slots) {
		t->slots = old;
		return false;
	}
	t->mask = cap - 1;
	for (uint32_t i = 0; i < old_cap; i++) {
		struct mqtt_session *x = old[i];
		if (!x)
			continue;
		uint32_t s = find_slot(t, x->client_id, x->client_id_len);
		t->slots[s] = x;
		x->slot = s;
	}
	free(old);
	return true;
}

static void session_free(struct mqtt_sessions *t, struct mqtt_session *s)
{
	for (uint32_t i = 0; i < s->sub_count; i++)
		mqtt_trie_remove(t->trie, s->subs[i]);
	mqtt_outbound_deinit(&s->out);
	mqtt_inbound_deinit(&s->in);
	free(s->subs);
	free(s->client_id);
	free(s);
}

void mqtt_sessions_remove(struct mqtt_sessions *t, struct mqtt_session *s)
{
	uint32_t i = s->slot;
	/* Backward-shift delete from the table, then free. */
	for (uint32_t j = (i + 1) & t->mask; t->slots[j]; j = (j + 1) & t->mask) {
		struct mqtt_session *x = t->slots[j];
		uint32_t home = id_hash(x->client_id, x->client_id_len) & t->mask;
		if (((j - home) & t->mask) >= ((j - i) & t->mask)) {
			t->slots[i] = x;
			x->slot = i;
			i = j;
		}
	}
	t->slots[i] = NULL;
	t->count--;
	session_free(t, s);
}

void mqtt_sessions_deinit(struct mqtt_sessions *t)
{
	if (!t->slots)
		return;
	for (uint32_t i = 0; i <= t->mask; i++)
		if (t->slots[i])
			session_free(t, t->slots[i]);
	free(t->slots);
	memset(t, 0, sizeof *t);
}

static struct mqtt_session *session_new(const struct mqtt_broker_limits *lim, struct mqtt_bytes id)
{
	struct mqtt_session *s = calloc(1, sizeof *s);
	if (!s)
		return NULL;
	s->client_id = malloc(id.len ? id.len : 1);
	if (!s->client_id || mqtt_outbound_init(&s->out, lim->inflight_max) ||
	    mqtt_inbound_init(&s->in, lim->receive_max)) {
		mqtt_outbound_deinit(&s->out);
		free(s->client_id);
		free(s);
		return NULL;
	}
	memcpy(s->client_id, id.ptr, id.len);
	s->client_id_len = (uint16_t)id.len;
	return s;
}

int mqtt_sessions_open(struct mqtt_sessions *t, struct mqtt_bytes client_id, bool clean_start,
		       const struct mqtt_conn_params *params, struct mqtt_session **out, bool *present, bool *taken_over)
{
	*present = false;
	*taken_over = false;
	struct mqtt_session *s = mqtt_sessions_find(t, client_id.ptr, client_id.len);
	if (s && s->connected) {
		*taken_over = true; /* [MQTT-3.1.4-3]: close that connection, mqtt_session_detach, open again */
		*out = s;
		return ERR_EXISTS;
	}
	if (s) {
		if (clean_start) {
			mqtt_sessions_remove(t, s); /* [MQTT-3.1.2-4] */
			s = NULL;
		} else {
			*present = true; /* [MQTT-3.2.2-2] */
		}
	}
	if (!s) {
		if ((t->count + 1) * 2 > t->mask + 1 && !table_grow(t))
			return ERR_NOMEM;
		if (!(s = session_new(t->lim, client_id)))
			return ERR_NOMEM;
		uint32_t slot = find_slot(t, client_id.ptr, client_id.len);
		t->slots[slot] = s;
		s->slot = slot;
		t->count++;
	}
	s->connected = true;
	s->expiry_s = params->session_expiry_s;
	s->expires_at_ms = UINT64_MAX;
	mqtt_outbound_set_receive_max(&s->out, params->client_receive_max);
	*out = s;
	return 0;
}

void mqtt_session_set_expiry(struct mqtt_session *s, uint32_t expiry_s) { s->expiry_s = expiry_s; }

void mqtt_session_detach(struct mqtt_session *s)
{
	s->connected = false;
	s->user = NULL;
}

void mqtt_sessions_disconnected(struct mqtt_sessions *t, struct mqtt_session *s, uint64_t now_ms)
{
	s->connected = false;
	if (s->expiry_s == 0) {
		mqtt_sessions_remove(t, s);
		return;
	}
	s->expires_at_ms = s->expiry_s == SESSION_NEVER ? UINT64_MAX : now_ms + (uint64_t)s->expiry_s * 1000;
}

uint32_t mqtt_sessions_expire(struct mqtt_sessions *t, uint64_t now_ms)
{
	uint32_t n = 0;
	for (uint32_t i = 0; i <= t->mask;) {
		struct mqtt_session *s = t->slots[i];
		if (s && !s->connected && s->expires_at_ms <= now_ms) {
			mqtt_sessions_remove(t, s); /* may shift a later entry into slot i: look again */
			n++;
			continue;
		}
		i++;
	}
	return n;
}

int mqtt_session_subscribe(struct mqtt_sessions *t, struct mqtt_session *s, struct mqtt_bytes filter,
			   uint8_t options, uint32_t sub_id)
{
	uint32_t h;
	int rc = mqtt_trie_insert(t->trie, filter.ptr, filter.len, (uint64_t)(uintptr_t)s, options, sub_id, &h);
	if (rc != 0)
		return rc; /* 1: replaced, already recorded; or an error */
	if (s->sub_count == s->sub_cap) {
		uint32_t cap = s->sub_cap ? s->sub_cap * 2 : 4;
		uint32_t *n = realloc(s->subs, cap * sizeof *n);
		if (!n) {
			mqtt_trie_remove(t->trie, h);
			return ERR_NOMEM;
		}
		s->subs = n;
		s->sub_cap = cap;
	}
	s->subs[s->sub_count++] = h;
	return 0;
}

int mqtt_session_unsubscribe(struct mqtt_sessions *t, struct mqtt_session *s, struct mqtt_bytes filter)
{
	uint32_t h;
	if (mqtt_trie_find(t->trie, filter.ptr, filter.len, (uint64_t)(uintptr_t)s, &h) != 0)
		return ERR_NOT_FOUND;
	mqtt_trie_remove(t->trie, h);
	for (uint32_t i = 0; i < s->sub_count; i++) {
		if (s->subs[i] == h) {
			s->subs[i] = s->subs[--s->sub_count];
			break;
		}
	}
	return 0;
}
