/* Subscriptions: SUBSCRIBE/UNSUBSCRIBE handling over the shared subscription trie (mqtt/trie.h), retained
 * messages on subscribe (retain handling, 5.0 §3.3.1.3), and turning a topic into the set of receiving
 * sessions: No Local and Retain As Published (§3.8.3.1), one copy per session for overlapping subscriptions
 * (§3.3.4), one member per share group (§4.8.2) preferring members that can take the message now. */
#include "mqtt/broker/internal.h"

#include "base/log.h"

static struct sub *session_find_sub(struct mqtt_session *s, struct mqtt_bytes filter, struct sub ***link)
{
	for (struct sub **pp = &s->subs; *pp; pp = &(*pp)->next) {
		if (bytes_eq(filter, (*pp)->filter, (*pp)->filter_len)) {
			if (link)
				*link = pp;
			return *pp;
		}
	}
	return NULL;
}

int bk_sub_add(struct mqtt_broker *b, struct mqtt_session *s, struct mqtt_bytes filter, uint8_t options,
	    uint32_t sub_id, bool *existed)
{
	struct sub *x = session_find_sub(s, filter, NULL);
	*existed = x != NULL;
	if (!x && s->sub_count >= b->cfg.subs_per_client_max)
		return ERR_FULL;
	uint32_t handle;
	int rc = mqtt_trie_insert(b->trie, filter.ptr, filter.len, (uint64_t)(uintptr_t)s, options, sub_id, &handle);
	if (rc < 0)
		return rc;
	if (!x) {
		x = malloc(sizeof *x + filter.len + 1);
		if (!x) {
			mqtt_trie_remove(b->trie, handle);
			return ERR_NOMEM;
		}
		memcpy(x->filter, filter.ptr, filter.len);
		x->filter_len = (uint16_t)filter.len;
		x->next = s->subs;
		s->subs = x;
		s->sub_count++;
		b->stats.subscriptions++;
	}
	/* 5.0 §3.8.4: a repeated subscription replaces the existing one's options. */
	x->handle = handle;
	x->options = options;
	x->sub_id = sub_id;
	if (s->expiry_s) {
		struct mqtt_store_op op = {.kind = MQTT_STORE_SUB_PUT};
		op.client_id = (struct mqtt_bytes){(const uint8_t *)s->client_id, s->client_id_len};
		op.filter = filter;
		op.options = options;
		op.sub_id = sub_id;
		bk_store_op(b, &op);
	}
	return 0;
}

static void sub_free(struct mqtt_broker *b, struct mqtt_session *s, struct sub *x)
{
	mqtt_trie_remove(b->trie, x->handle);
	b->stats.subscriptions--;
	s->sub_count--;
	free(x);
}

void bk_session_drop_subs(struct mqtt_broker *b, struct mqtt_session *s)
{
	while (s->subs) {
		struct sub *x = s->subs;
		s->subs = x->next;
		sub_free(b, s, x);
	}
}

/* ---- matching ---------------------------------------------------------------------------------------- */

static int targets_reserve(struct mqtt_broker *b)
{
	if (b->target_count < b->target_cap)
		return 0;
	uint32_t cap = b->target_cap ? b->target_cap * 2 : 64;
	struct target *t = realloc(b->targets, cap * sizeof *t);
	if (!t)
		return ERR_NOMEM;
	b->targets = t;
	b->target_cap = cap;
	return 0;
}

static void target_add(struct mqtt_broker *b, const struct mqtt_trie_sub *x, const struct mqtt_msg *m)
{
	struct mqtt_session *s = (struct mqtt_session *)(uintptr_t)x->subscriber;
	if ((x->options & MQTT_SUBOPT_NO_LOCAL) && m->origin == s)
		return; /* 5.0 §3.8.3.1 No Local */
	uint8_t qos = x->options & MQTT_SUBOPT_QOS_MASK;
	if (qos > m->qos)
		qos = m->qos;
	bool retain = (x->options & MQTT_SUBOPT_RETAIN_AS_PUBLISHED) && m->retain;
	if (s->match_epoch == b->match_epoch) {
		struct target *t = &b->targets[s->target_index];
		/* Overlapping subscriptions: one copy at the highest QoS (5.0 §3.3.4), except when both carry their
		 * own subscription identifier: then a copy per subscription, each with its identifier. */
		if (!(x->sub_id && t->sub_id && x->sub_id != t->sub_id)) {
			if (qos > t->qos)
				t->qos = qos;
			t->retain |= retain;
			if (!t->sub_id)
				t->sub_id = x->sub_id;
			return;
		}
	}
	if (s->client && b->ops.authorize &&
	    !b->ops.authorize(b->ctx, s->client->io, MQTT_ACL_READ, (struct mqtt_bytes){msg_topic(m), m->topic_len})) {
		b->stats.acl_denials++;
		return;
	}
	if (targets_reserve(b))
		return;
	s->match_epoch = b->match_epoch;
	s->target_index = b->target_count;
	b->targets[b->target_count++] = (struct target){s, qos, retain, x->sub_id};
}

static bool can_take(const struct mqtt_trie_sub *x)
{
	const struct mqtt_session *s = (const struct mqtt_session *)(uintptr_t)x->subscriber;
	return s->client && !s->client->blocked;
}

static int on_match(void *ctx, const struct mqtt_trie_match *mt)
{
	struct mqtt_broker *b = ctx;
	const struct mqtt_msg *m = b->matching;
	if (mt->sub) {
		target_add(b, mt->sub, m);
		return 0;
	}
	/* A share group: the next member in turn, or the first after it that is connected and not blocked. */
	uint32_t first = mqtt_trie_group_pick(b->trie, mt->group), h = first;
	uint32_t n = mqtt_trie_group_size(b->trie, mt->group);
	for (uint32_t i = 0; h && i < n && !can_take(mqtt_trie_get(b->trie, h)); i++) {
		h = mqtt_trie_group_next(b->trie, h);
		if (!h)
			h = mqtt_trie_group_first(b->trie, mt->group);
	}
	if (!h || !can_take(mqtt_trie_get(b->trie, h)))
		h = first;
	if (h)
		target_add(b, mqtt_trie_get(b->trie, h), m);
	return 0;
}

void bk_match_topic(struct mqtt_broker *b, const struct mqtt_msg *m)
{
	b->match_epoch++;
	b->target_count = 0;
	b->matching = m;
	(void)mqtt_trie_match(b->trie, msg_topic(m), m->topic_len, on_match, b);
	b->matching = NULL;
}

/* ---- SUBSCRIBE / UNSUBSCRIBE ------------------------------------------------------------------------- */

struct retained_walk {
	struct mqtt_broker *b;
	struct mqtt_session *s;
	uint8_t qos;
	uint32_t sub_id;
};

static int retained_one(void *ctx, uint64_t ref)
{
	struct retained_walk *w = ctx;
	struct mqtt_msg *m = (struct mqtt_msg *)(uintptr_t)ref;
	struct mqtt_bytes topic = {msg_topic(m), m->topic_len};
	if (w->b->ops.authorize && w->s->client &&
	    !w->b->ops.authorize(w->b->ctx, w->s->client->io, MQTT_ACL_READ, topic))
		return 0;
	bk_deliver(w->b, w->s, m, w->qos < m->qos ? w->qos : m->qos, true, w->sub_id);
	return 0;
}

/* The retained index (mqtt/retain.h) walks only the topics the filter can match. */
static void send_retained(struct mqtt_broker *b, struct mqtt_session *s, struct mqtt_bytes filter, uint8_t qos,
			  uint32_t sub_id)
{
	struct retained_walk w = {b, s, qos, sub_id};
	(void)mqtt_retain_match(b->retain_index, filter.ptr, filter.len, retained_one, &w);
}

/* 5.0 §3.9.3 SUBACK reason for a filter error; 3.1.1 has only 0x80 "Failure". */
static uint8_t sub_fail(const struct mqtt_client *c, int err)
{
	if (c->version != MQTT_V5)
		return 0x80;
	switch (err) {
	case ERR_FULL: return MQTT_RC_QUOTA_EXCEEDED;
	case ERR_AUTH: return MQTT_RC_NOT_AUTHORIZED;
	case ERR_NOMEM: return MQTT_RC_UNSPECIFIED_ERROR;
	default: return MQTT_RC_TOPIC_FILTER_INVALID;
	}
}

int bk_handle_subscribe(struct mqtt_broker *b, struct mqtt_client *c, const struct mqtt_subscribe *p)
{
	struct mqtt_session *s = c->session;
	uint32_t sub_id = c->version == MQTT_V5 ? mqtt_prop_num(&p->props, MQTT_PROP_SUBSCRIPTION_ID) : 0;
	uint8_t *rcs = malloc(p->count * 2u + 1);
	if (!rcs)
		return ERR_NOMEM;
	uint8_t *send_ret = rcs + p->count;
	uint64_t ops_before = b->store_ops;
	struct mqtt_sub_iter it;
	struct mqtt_sub_entry e;
	uint32_t i = 0;
	mqtt_sub_iter_init(&it, p, MQTT_SUBSCRIBE);
	while (i < p->count && mqtt_sub_next(&it, &e)) {
		uint8_t qos = e.options & MQTT_SUBOPT_QOS_MASK;
		bool existed = false;
		struct mqtt_share sh;
		int rc = mqtt_subscription_parse(e.filter.ptr, e.filter.len, &b->topic_lim, &sh);
		bool shared = rc == 1;
		send_ret[i] = 0;
		if (qos > b->cfg.qos_max) {
			qos = b->cfg.qos_max; /* granted lower than asked (3.1.1 §3.9.3, 5.0 §3.9.3) */
			e.options = (uint8_t)((e.options & ~MQTT_SUBOPT_QOS_MASK) | qos);
		}
		if (rc >= 0 && b->ops.authorize && !b->ops.authorize(b->ctx, c->io, MQTT_ACL_SUBSCRIBE, e.filter)) {
			b->stats.acl_denials++;
			rc = ERR_AUTH;
		}
		if (rc >= 0)
			rc = bk_sub_add(b, s, e.filter, e.options, sub_id, &existed);
		if (rc < 0) {
			rcs[i] = sub_fail(c, rc);
		} else {
			rcs[i] = qos;
			uint8_t rh = (e.options & MQTT_SUBOPT_RETAIN_HANDLING_MASK) >> MQTT_SUBOPT_RETAIN_HANDLING_SHIFT;
			send_ret[i] = !shared && (rh == 0 || (rh == 1 && !existed)); /* none for shared subscriptions (5.0 §4.8.2) */
		}
		i++;
	}
	struct mqtt_packet r = {.type = MQTT_SUBACK};
	r.u.suback.packet_id = p->packet_id;
	r.u.suback.reasons = (struct mqtt_bytes){rcs, i};
	bk_send_packet(b, c, &r, b->store_ops != ops_before ? MQTT_SEND_AFTER_COMMIT : 0);
	/* Retained messages follow the SUBACK. */
	mqtt_sub_iter_init(&it, p, MQTT_SUBSCRIBE);
	for (uint32_t j = 0; j < i && mqtt_sub_next(&it, &e); j++)
		if (send_ret[j])
			send_retained(b, s, e.filter, rcs[j], sub_id);
	free(rcs);
	return 0;
}

int bk_handle_unsubscribe(struct mqtt_broker *b, struct mqtt_client *c, const struct mqtt_subscribe *p)
{
	struct mqtt_session *s = c->session;
	uint8_t *rcs = malloc(p->count + 1u);
	if (!rcs)
		return ERR_NOMEM;
	struct mqtt_sub_iter it;
	struct mqtt_sub_entry e;
	uint32_t i = 0;
	mqtt_sub_iter_init(&it, p, MQTT_UNSUBSCRIBE);
	while (i < p->count && mqtt_sub_next(&it, &e)) {
		struct sub **link;
		struct sub *x = session_find_sub(s, e.filter, &link);
		if (!x) {
			rcs[i++] = MQTT_RC_NO_SUBSCRIPTION_EXISTED;
			continue;
		}
		*link = x->next;
		if (s->expiry_s) {
			struct mqtt_store_op op = {.kind = MQTT_STORE_SUB_DEL};
			op.client_id = (struct mqtt_bytes){(const uint8_t *)s->client_id, s->client_id_len};
			op.filter = e.filter;
			bk_store_op(b, &op);
		}
		sub_free(b, s, x);
		rcs[i++] = 0;
	}
	struct mqtt_packet r = {.type = MQTT_UNSUBACK};
	r.u.suback.packet_id = p->packet_id;
	r.u.suback.reasons = (struct mqtt_bytes){rcs, c->version == MQTT_V5 ? i : 0};
	bk_send_packet(b, c, &r, 0);
	free(rcs);
	return 0;
}
