/* Consumer group coordinator state machine (group.h).  Never does I/O and never reads a clock: every time
 * comes in as now_ms, every answer goes out through the callbacks. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloud/group/group.h"

struct proto {
	char *name;
	uint8_t *meta;
	size_t meta_len;
};

struct member {
	char *id, *instance_id, *client_id, *client_host;
	uint32_t session_ms, rebalance_ms;
	struct proto protos[GROUP_PROTOCOLS_MAX];
	uint32_t proto_count;
	uint8_t *assignment;
	size_t assignment_len;
	void *join_waiter, *sync_waiter;
	uint64_t deadline_ms; /* session expiry, when not parked in a join or sync */
	uint64_t conn_id;
};

struct pending {
	char *id;
	uint64_t deadline_ms;
};

struct group {
	char *id;
	enum group_state state;
	int32_t generation;
	char *ptype, *pname, *leader; /* NULL when none */
	struct member **members;
	uint32_t member_count, member_cap;
	struct pending *pending;
	uint32_t pending_count, pending_cap;
	uint64_t join_deadline_ms;
	uint64_t initial_cap_ms; /* the initial delay may extend up to here */
	bool initial;            /* first rebalance of an empty group: wait the delay for more members */
};

struct group_coord {
	struct group_limits lim;
	struct group_callbacks cb;
	struct group **groups;
	uint32_t group_count, group_cap;
	uint64_t id_counter;
};

/* ---- small helpers ------------------------------------------------------------------------------------ */

static bool view_null(struct group_view v) { return v.p == NULL; }

static bool view_ok(struct group_view v)
{
	return v.p && v.len <= GROUP_ID_MAX && !memchr(v.p, 0, v.len);
}

static bool view_eq(struct group_view v, const char *s)
{
	if (!s || !v.p)
		return !s && !v.p;
	return strlen(s) == v.len && !memcmp(s, v.p, v.len);
}

static char *view_dup(struct group_view v)
{
	if (!v.p)
		return NULL;
	char *s = malloc(v.len + 1);
	if (s) {
		memcpy(s, v.p, v.len);
		s[v.len] = 0;
	}
	return s;
}

static uint8_t *bytes_dup(struct group_view v)
{
	uint8_t *b = malloc(v.len ? v.len : 1);
	if (b && v.len)
		memcpy(b, v.p, v.len);
	return b;
}

static bool str_eq(const char *a, const char *b) { return a && b && !strcmp(a, b); }

static void protos_free(struct member *m)
{
	for (uint32_t i = 0; i < m->proto_count; i++) {
		free(m->protos[i].name);
		free(m->protos[i].meta);
	}
	m->proto_count = 0;
}

static void member_free(struct member *m)
{
	protos_free(m);
	free(m->id);
	free(m->instance_id);
	free(m->client_id);
	free(m->client_host);
	free(m->assignment);
	free(m);
}

static struct group *group_find(struct group_coord *gc, struct group_view id)
{
	for (uint32_t i = 0; i < gc->group_count; i++)
		if (view_eq(id, gc->groups[i]->id))
			return gc->groups[i];
	return NULL;
}

static void group_destroy(struct group *g)
{
	free(g->members);
	free(g->pending);
	free(g->id);
	free(g->ptype);
	free(g->pname);
	free(g->leader);
	free(g);
}

/* At the limit, an Empty group with nobody pending makes room (its committed offsets stay in the offsets
 * table; only the in-memory group goes). */
static bool evict_empty(struct group_coord *gc)
{
	for (uint32_t i = 0; i < gc->group_count; i++) {
		struct group *g = gc->groups[i];
		if (g->state == GROUP_EMPTY && g->member_count == 0 && g->pending_count == 0) {
			group_destroy(g);
			gc->groups[i] = gc->groups[--gc->group_count];
			return true;
		}
	}
	return false;
}

static struct group *group_create(struct group_coord *gc, struct group_view id)
{
	if (gc->group_count == gc->lim.groups_max && !evict_empty(gc))
		return NULL;
	if (gc->group_count == gc->group_cap) {
		uint32_t cap = gc->group_cap ? gc->group_cap * 2 : 16;
		struct group **n = realloc(gc->groups, cap * sizeof *n);
		if (!n)
			return NULL;
		gc->groups = n;
		gc->group_cap = cap;
	}
	struct group *g = calloc(1, sizeof *g);
	if (!g || !(g->id = view_dup(id))) {
		free(g);
		return NULL;
	}
	g->state = GROUP_EMPTY;
	gc->groups[gc->group_count++] = g;
	return g;
}

static struct member *member_find(struct group *g, struct group_view id, uint32_t *index)
{
	for (uint32_t i = 0; i < g->member_count; i++)
		if (view_eq(id, g->members[i]->id)) {
			if (index)
				*index = i;
			return g->members[i];
		}
	return NULL;
}

static struct member *member_by_instance(struct group *g, struct group_view inst)
{
	if (view_null(inst))
		return NULL;
	for (uint32_t i = 0; i < g->member_count; i++)
		if (view_eq(inst, g->members[i]->instance_id))
			return g->members[i];
	return NULL;
}

static int pending_find(struct group *g, struct group_view id)
{
	for (uint32_t i = 0; i < g->pending_count; i++)
		if (view_eq(id, g->pending[i].id))
			return (int)i;
	return -1;
}

static void pending_remove(struct group *g, uint32_t i)
{
	free(g->pending[i].id);
	g->pending[i] = g->pending[--g->pending_count];
}

/* ---- answers ------------------------------------------------------------------------------------------- */

static void join_error(struct group_coord *gc, void *waiter, int16_t error, const char *member_id)
{
	struct group_join_result r = {.error = error, .generation = -1, .member_id = member_id ? member_id : "",
				      .leader_id = ""};
	gc->cb.join_done(gc->cb.ctx, waiter, &r);
}

static void sync_answer(struct group_coord *gc, void *waiter, int16_t error, const struct group *g,
			const struct member *m)
{
	const uint8_t *a = NULL;
	size_t alen = 0;
	if (!error && m && m->assignment) {
		a = m->assignment;
		alen = m->assignment_len;
	}
	gc->cb.sync_done(gc->cb.ctx, waiter, error, g ? g->ptype : NULL, g ? g->pname : NULL, a, alen);
}

static const struct proto *member_proto(const struct member *m, const char *name)
{
	for (uint32_t i = 0; i < m->proto_count; i++)
		if (str_eq(m->protos[i].name, name))
			return &m->protos[i];
	return NULL;
}

/* The JoinGroup answer for m in the group's current generation; the leader sees every member. */
static void join_answer(struct group_coord *gc, struct group *g, struct member *m, void *waiter)
{
	struct group_member_out *out = NULL;
	uint32_t n = 0;
	if (str_eq(m->id, g->leader)) {
		out = calloc(g->member_count ? g->member_count : 1, sizeof *out);
		if (!out) {
			join_error(gc, waiter, GROUP_E_UNKNOWN_SERVER_ERROR, m->id);
			return;
		}
		for (uint32_t i = 0; i < g->member_count; i++) {
			const struct member *x = g->members[i];
			const struct proto *p = member_proto(x, g->pname);
			out[n++] = (struct group_member_out){x->id, x->instance_id, p ? p->meta : NULL, p ? p->meta_len : 0};
		}
	}
	struct group_join_result r = {
		.error = GROUP_OK, .generation = g->generation, .protocol_type = g->ptype, .protocol_name = g->pname,
		.leader_id = g->leader ? g->leader : "", .member_id = m->id, .members = out, .member_count = n,
	};
	gc->cb.join_done(gc->cb.ctx, waiter, &r);
	free(out);
}

/* ---- rebalance ----------------------------------------------------------------------------------------- */

static uint32_t max_rebalance_ms(const struct group *g)
{
	uint32_t t = 0;
	for (uint32_t i = 0; i < g->member_count; i++)
		if (g->members[i]->rebalance_ms > t)
			t = g->members[i]->rebalance_ms;
	return t;
}

/* Every member votes for its most preferred protocol that all members support; most votes wins, ties go to
 * the candidate that comes first in the first member's list (Kafka's GroupMetadata.selectProtocol). */
static const char *choose_protocol(const struct group *g)
{
	const struct member *first = g->members[0];
	uint32_t votes[GROUP_PROTOCOLS_MAX] = {0};
	bool candidate[GROUP_PROTOCOLS_MAX];
	for (uint32_t p = 0; p < first->proto_count; p++) {
		candidate[p] = true;
		for (uint32_t i = 1; i < g->member_count && candidate[p]; i++)
			candidate[p] = member_proto(g->members[i], first->protos[p].name) != NULL;
	}
	for (uint32_t i = 0; i < g->member_count; i++) {
		const struct member *m = g->members[i];
		for (uint32_t k = 0; k < m->proto_count; k++) {
			int hit = -1;
			for (uint32_t p = 0; p < first->proto_count; p++)
				if (candidate[p] && str_eq(first->protos[p].name, m->protos[k].name))
					hit = (int)p;
			if (hit >= 0) {
				votes[hit]++;
				break;
			}
		}
	}
	int best = -1;
	for (uint32_t p = 0; p < first->proto_count; p++)
		if (candidate[p] && (best < 0 || votes[p] > votes[best]))
			best = (int)p;
	return best < 0 ? NULL : first->protos[best].name;
}

static void remove_member_at(struct group_coord *gc, struct group *g, uint32_t i, int16_t why);

static void complete_join(struct group_coord *gc, struct group *g, uint64_t now_ms)
{
	/* Members that did not rejoin in time are out (Kafka removes static ones too). */
	for (uint32_t i = g->member_count; i-- > 0;)
		if (!g->members[i]->join_waiter)
			remove_member_at(gc, g, i, GROUP_E_UNKNOWN_MEMBER_ID);
	g->generation++;
	g->initial = false;
	free(g->pname);
	g->pname = NULL;
	if (g->member_count == 0) {
		g->state = GROUP_EMPTY;
		free(g->leader);
		free(g->ptype);
		g->leader = g->ptype = NULL;
		return;
	}
	const char *chosen = choose_protocol(g);
	g->pname = chosen ? strdup(chosen) : NULL;
	if (!g->leader || !member_find(g, (struct group_view){g->leader, strlen(g->leader)}, NULL)) {
		free(g->leader);
		g->leader = strdup(g->members[0]->id);
	}
	g->state = GROUP_COMPLETING;
	for (uint32_t i = 0; i < g->member_count; i++) {
		struct member *m = g->members[i];
		void *w = m->join_waiter;
		m->join_waiter = NULL;
		m->deadline_ms = now_ms + m->session_ms;
		free(m->assignment);
		m->assignment = NULL;
		m->assignment_len = 0;
		join_answer(gc, g, m, w);
	}
}

static void maybe_complete_join(struct group_coord *gc, struct group *g, uint64_t now_ms)
{
	if (g->state != GROUP_PREPARING)
		return;
	if (now_ms >= g->join_deadline_ms) {
		complete_join(gc, g, now_ms);
		return;
	}
	if (g->initial)
		return; /* the initial delay runs its course: more members are expected (KIP-134) */
	for (uint32_t i = 0; i < g->member_count; i++)
		if (!g->members[i]->join_waiter)
			return;
	complete_join(gc, g, now_ms);
}

static void prepare_rebalance(struct group_coord *gc, struct group *g, uint64_t now_ms)
{
	if (g->state == GROUP_PREPARING)
		return;
	/* Syncs parked in CompletingRebalance learn that the generation they wait for is gone. */
	for (uint32_t i = 0; i < g->member_count; i++) {
		struct member *m = g->members[i];
		if (m->sync_waiter) {
			void *w = m->sync_waiter;
			m->sync_waiter = NULL;
			m->deadline_ms = now_ms + m->session_ms;
			sync_answer(gc, w, GROUP_E_REBALANCE_IN_PROGRESS, g, NULL);
		}
	}
	if (g->state == GROUP_EMPTY && gc->lim.initial_rebalance_delay_ms) {
		g->initial = true;
		g->join_deadline_ms = now_ms + gc->lim.initial_rebalance_delay_ms;
		g->initial_cap_ms = now_ms + max_rebalance_ms(g);
		if (g->initial_cap_ms < g->join_deadline_ms)
			g->initial_cap_ms = g->join_deadline_ms;
	} else {
		g->initial = false;
		g->join_deadline_ms = now_ms + max_rebalance_ms(g);
	}
	g->state = GROUP_PREPARING;
}

/* Remove member i.  Its parked requests are answered with why; the group rebalances unless it is already. */
static void remove_member_at(struct group_coord *gc, struct group *g, uint32_t i, int16_t why)
{
	struct member *m = g->members[i];
	g->members[i] = g->members[--g->member_count];
	if (m->join_waiter)
		join_error(gc, m->join_waiter, why, m->id);
	if (m->sync_waiter)
		sync_answer(gc, m->sync_waiter, why, g, NULL);
	if (str_eq(g->leader, m->id)) {
		free(g->leader);
		g->leader = NULL;
	}
	member_free(m);
}

static void member_gone(struct group_coord *gc, struct group *g, uint32_t i, int16_t why, uint64_t now_ms)
{
	remove_member_at(gc, g, i, why);
	if (g->state == GROUP_STABLE || g->state == GROUP_COMPLETING)
		prepare_rebalance(gc, g, now_ms);
	maybe_complete_join(gc, g, now_ms);
}

/* ---- JoinGroup ----------------------------------------------------------------------------------------- */

static bool protocols_valid(const struct group_join_req *r)
{
	if (r->protocol_count == 0 || r->protocol_count > GROUP_PROTOCOLS_MAX || !view_ok(r->protocol_type) ||
	    r->protocol_type.len == 0)
		return false;
	for (uint32_t i = 0; i < r->protocol_count; i++)
		if (!view_ok(r->protocols[i].name) || r->protocols[i].metadata.len > GROUP_METADATA_MAX ||
		    (r->protocols[i].metadata.len && !r->protocols[i].metadata.p))
			return false;
	return true;
}

/* Does the joining member share a protocol with everyone already in the group? */
static bool protocols_compatible(const struct group *g, const struct group_join_req *r, const struct member *self)
{
	if (g->ptype && !view_eq(r->protocol_type, g->ptype))
		return false;
	for (uint32_t p = 0; p < r->protocol_count; p++) {
		bool all = true;
		for (uint32_t i = 0; i < g->member_count && all; i++) {
			const struct member *m = g->members[i];
			if (m == self)
				continue;
			bool has = false;
			for (uint32_t k = 0; k < m->proto_count && !has; k++)
				has = view_eq(r->protocols[p].name, m->protos[k].name);
			all = has;
		}
		if (all)
			return true;
	}
	return false;
}

static bool protocols_same(const struct member *m, const struct group_join_req *r)
{
	if (m->proto_count != r->protocol_count)
		return false;
	for (uint32_t i = 0; i < r->protocol_count; i++) {
		const struct group_view md = r->protocols[i].metadata;
		if (!view_eq(r->protocols[i].name, m->protos[i].name) || md.len != m->protos[i].meta_len ||
		    (md.len && memcmp(md.p, m->protos[i].meta, md.len)))
			return false;
	}
	return true;
}

static int member_update(struct member *m, const struct group_join_req *r)
{
	struct proto np[GROUP_PROTOCOLS_MAX] = {{0}};
	for (uint32_t i = 0; i < r->protocol_count; i++) {
		np[i].name = view_dup(r->protocols[i].name);
		np[i].meta = bytes_dup(r->protocols[i].metadata);
		np[i].meta_len = r->protocols[i].metadata.len;
		if (!np[i].name || !np[i].meta) {
			for (uint32_t k = 0; k <= i; k++) {
				free(np[k].name);
				free(np[k].meta);
			}
			return -1;
		}
	}
	protos_free(m);
	memcpy(m->protos, np, sizeof np);
	m->proto_count = r->protocol_count;
	m->session_ms = r->session_timeout_ms;
	m->rebalance_ms = r->rebalance_timeout_ms ? r->rebalance_timeout_ms : r->session_timeout_ms;
	m->conn_id = r->conn_id;
	return 0;
}

static struct member *member_add(struct group_coord *gc, struct group *g, const char *id,
				 const struct group_join_req *r)
{
	if (g->member_count == gc->lim.members_max)
		return NULL;
	if (g->member_count == g->member_cap) {
		uint32_t cap = g->member_cap ? g->member_cap * 2 : 8;
		struct member **n = realloc(g->members, cap * sizeof *n);
		if (!n)
			return NULL;
		g->members = n;
		g->member_cap = cap;
	}
	struct member *m = calloc(1, sizeof *m);
	if (!m)
		return NULL;
	m->id = strdup(id);
	m->instance_id = view_dup(r->instance_id);
	m->client_id = view_null(r->client_id) ? strdup("") : view_dup(r->client_id);
	m->client_host = view_null(r->client_host) ? strdup("") : view_dup(r->client_host);
	if (!m->id || (!view_null(r->instance_id) && !m->instance_id) || !m->client_id || !m->client_host ||
	    member_update(m, r)) {
		member_free(m);
		return NULL;
	}
	if (!g->ptype && !(g->ptype = view_dup(r->protocol_type))) {
		member_free(m);
		return NULL;
	}
	g->members[g->member_count++] = m;
	return m;
}

static void new_member_id(struct group_coord *gc, const struct group_join_req *r, uint64_t now_ms, char *out,
			  size_t out_len)
{
	/* Kafka uses client.id + "-" + a UUID; ours is unique per process run and across restarts by the clock. */
	int n = (int)(r->client_id.p ? (r->client_id.len > 64 ? 64 : r->client_id.len) : 0);
	gc->id_counter++;
	snprintf(out, out_len, "%.*s-%012llx-%08llx", n, r->client_id.p ? (const char *)r->client_id.p : "",
		 (unsigned long long)now_ms, (unsigned long long)gc->id_counter);
}

/* A member of the group (re)joins: park its request and move the rebalance along. */
static void join_park(struct group_coord *gc, struct group *g, struct member *m, void *waiter, uint64_t now_ms)
{
	if (m->join_waiter)
		join_error(gc, m->join_waiter, GROUP_E_REBALANCE_IN_PROGRESS, m->id);
	m->join_waiter = waiter;
	m->deadline_ms = now_ms + m->session_ms; /* runs again if the request is dropped (group_conn_closed) */
	if (g->state != GROUP_PREPARING)
		prepare_rebalance(gc, g, now_ms);
	else if (g->initial) {
		/* Each new arrival in the initial delay buys another delay, up to the rebalance timeout. */
		uint64_t t = now_ms + gc->lim.initial_rebalance_delay_ms;
		g->join_deadline_ms = t < g->initial_cap_ms ? t : g->initial_cap_ms;
	}
	maybe_complete_join(gc, g, now_ms);
}

static void join_static_replace(struct group_coord *gc, struct group *g, struct member *old,
				const struct group_join_req *r, uint64_t now_ms)
{
	char id[GROUP_ID_MAX + 64];
	new_member_id(gc, r, now_ms, id, sizeof id);
	char *nid = strdup(id);
	if (!nid || member_update(old, r)) {
		free(nid);
		join_error(gc, r->waiter, GROUP_E_UNKNOWN_SERVER_ERROR, NULL);
		return;
	}
	/* The old incarnation is fenced (KIP-345): its parked requests learn it. */
	if (old->join_waiter) {
		join_error(gc, old->join_waiter, GROUP_E_FENCED_INSTANCE_ID, old->id);
		old->join_waiter = NULL;
	}
	if (old->sync_waiter) {
		sync_answer(gc, old->sync_waiter, GROUP_E_FENCED_INSTANCE_ID, g, NULL);
		old->sync_waiter = NULL;
	}
	bool was_leader = str_eq(g->leader, old->id);
	free(old->id);
	old->id = nid;
	if (was_leader) {
		free(g->leader);
		g->leader = strdup(nid);
	}
	old->deadline_ms = now_ms + old->session_ms;
	if (g->state == GROUP_STABLE) {
		/* Same generation, same assignment: a restarted static member causes no rebalance. */
		join_answer(gc, g, old, r->waiter);
		return;
	}
	join_park(gc, g, old, r->waiter, now_ms);
}

static void join_new(struct group_coord *gc, struct group *g, const struct group_join_req *r, uint64_t now_ms)
{
	char id[GROUP_ID_MAX + 64];
	if (!view_null(r->instance_id)) {
		struct member *old = member_by_instance(g, r->instance_id);
		if (old) {
			join_static_replace(gc, g, old, r, now_ms);
			return;
		}
	}
	new_member_id(gc, r, now_ms, id, sizeof id);
	if (r->require_known_member_id && view_null(r->instance_id)) {
		/* KIP-394: hand out the id and wait for the member to come back with it. */
		if (g->pending_count >= gc->lim.members_max) {
			join_error(gc, r->waiter, GROUP_E_MAX_SIZE_REACHED, NULL);
			return;
		}
		if (g->pending_count == g->pending_cap) {
			uint32_t cap = g->pending_cap ? g->pending_cap * 2 : 8;
			struct pending *n = realloc(g->pending, cap * sizeof *n);
			if (!n) {
				join_error(gc, r->waiter, GROUP_E_UNKNOWN_SERVER_ERROR, NULL);
				return;
			}
			g->pending = n;
			g->pending_cap = cap;
		}
		char *pid = strdup(id);
		if (!pid) {
			join_error(gc, r->waiter, GROUP_E_UNKNOWN_SERVER_ERROR, NULL);
			return;
		}
		g->pending[g->pending_count++] = (struct pending){pid, now_ms + r->session_timeout_ms};
		join_error(gc, r->waiter, GROUP_E_MEMBER_ID_REQUIRED, id);
		return;
	}
	struct member *m = member_add(gc, g, id, r);
	if (!m) {
		join_error(gc, r->waiter, g->member_count == gc->lim.members_max ? GROUP_E_MAX_SIZE_REACHED
										   : GROUP_E_UNKNOWN_SERVER_ERROR, NULL);
		return;
	}
	join_park(gc, g, m, r->waiter, now_ms);
}

static void join_known(struct group_coord *gc, struct group *g, const struct group_join_req *r, uint64_t now_ms)
{
	int pi = pending_find(g, r->member_id);
	if (pi >= 0) {
		char *id = g->pending[pi].id;
		g->pending[pi].id = NULL;
		pending_remove(g, (uint32_t)pi);
		struct member *m = member_add(gc, g, id, r);
		free(id);
		if (!m) {
			join_error(gc, r->waiter, GROUP_E_MAX_SIZE_REACHED, NULL);
			return;
		}
		join_park(gc, g, m, r->waiter, now_ms);
		return;
	}
	struct member *m = member_find(g, r->member_id, NULL);
	if (!m) {
		struct member *inst = member_by_instance(g, r->instance_id);
		join_error(gc, r->waiter, inst ? GROUP_E_FENCED_INSTANCE_ID : GROUP_E_UNKNOWN_MEMBER_ID, NULL);
		return;
	}
	if (!view_null(r->instance_id) && !view_eq(r->instance_id, m->instance_id)) {
		join_error(gc, r->waiter, GROUP_E_FENCED_INSTANCE_ID, m->id);
		return;
	}
	bool same = protocols_same(m, r);
	if (member_update(m, r)) {
		join_error(gc, r->waiter, GROUP_E_UNKNOWN_SERVER_ERROR, m->id);
		return;
	}
	m->deadline_ms = now_ms + m->session_ms;
	/* A follower that rejoins with unchanged metadata outside a rebalance (its answer was lost) gets the
	 * current generation back rather than forcing everyone through another rebalance. */
	if (same && (g->state == GROUP_COMPLETING || (g->state == GROUP_STABLE && !str_eq(g->leader, m->id)))) {
		join_answer(gc, g, m, r->waiter);
		return;
	}
	join_park(gc, g, m, r->waiter, now_ms);
}

void group_join(struct group_coord *gc, const struct group_join_req *r, uint64_t now_ms)
{
	if (!view_ok(r->group_id) || r->group_id.len == 0) {
		join_error(gc, r->waiter, GROUP_E_INVALID_GROUP_ID, NULL);
		return;
	}
	if (!view_ok(r->member_id) || (!view_null(r->instance_id) && (!view_ok(r->instance_id) ||
								   r->instance_id.len == 0))) {
		join_error(gc, r->waiter, GROUP_E_UNKNOWN_MEMBER_ID, NULL);
		return;
	}
	if (r->session_timeout_ms < gc->lim.session_timeout_ms_min ||
	    r->session_timeout_ms > gc->lim.session_timeout_ms_max) {
		join_error(gc, r->waiter, GROUP_E_INVALID_SESSION_TIMEOUT, NULL);
		return;
	}
	if (!protocols_valid(r)) {
		join_error(gc, r->waiter, GROUP_E_INCONSISTENT_PROTOCOL, NULL);
		return;
	}
	struct group *g = group_find(gc, r->group_id);
	if (!g) {
		if (r->member_id.len) {
			join_error(gc, r->waiter, GROUP_E_UNKNOWN_MEMBER_ID, NULL);
			return;
		}
		if (!(g = group_create(gc, r->group_id))) {
			join_error(gc, r->waiter, GROUP_E_COORDINATOR_NOT_AVAILABLE, NULL);
			return;
		}
	}
	if (g->state == GROUP_DEAD) {
		join_error(gc, r->waiter, GROUP_E_COORDINATOR_NOT_AVAILABLE, NULL);
		return;
	}
	struct member *self = r->member_id.len ? member_find(g, r->member_id, NULL) : NULL;
	if (!self)
		self = member_by_instance(g, r->instance_id);
	if (!protocols_compatible(g, r, self)) {
		join_error(gc, r->waiter, GROUP_E_INCONSISTENT_PROTOCOL, NULL);
		return;
	}
	if (r->member_id.len == 0)
		join_new(gc, g, r, now_ms);
	else
		join_known(gc, g, r, now_ms);
}

/* ---- SyncGroup, Heartbeat, LeaveGroup, commits --------------------------------------------------------- */

/* The checks SyncGroup, Heartbeat and OffsetCommit share: who is asking, and for which generation. */
static int16_t member_check(struct group *g, struct group_view member_id, struct group_view instance_id,
			    int32_t generation, struct member **out)
{
	*out = NULL;
	if (!g || g->state == GROUP_DEAD)
		return GROUP_E_UNKNOWN_MEMBER_ID;
	struct member *m = member_find(g, member_id, NULL);
	if (!m) {
		struct member *inst = member_by_instance(g, instance_id);
		return inst ? GROUP_E_FENCED_INSTANCE_ID : GROUP_E_UNKNOWN_MEMBER_ID;
	}
	if (!view_null(instance_id) && !view_eq(instance_id, m->instance_id))
		return GROUP_E_FENCED_INSTANCE_ID;
	*out = m;
	if (generation != g->generation)
		return GROUP_E_ILLEGAL_GENERATION;
	return GROUP_OK;
}

static int store_assignments(struct group *g, const struct group_sync_req *r)
{
	for (uint32_t i = 0; i < r->assignment_count; i++) {
		const struct group_assignment_in *a = &r->assignments[i];
		struct member *m = member_find(g, a->member_id, NULL);
		if (!m || a->assignment.len > GROUP_METADATA_MAX)
			continue; /* Kafka ignores assignments for members it does not know */
		uint8_t *b = bytes_dup(a->assignment);
		if (!b)
			return -1;
		free(m->assignment);
		m->assignment = b;
		m->assignment_len = a->assignment.len;
	}
	return 0;
}

void group_sync(struct group_coord *gc, const struct group_sync_req *r, uint64_t now_ms)
{
	struct group *g = view_ok(r->group_id) ? group_find(gc, r->group_id) : NULL;
	struct member *m;
	int16_t e = member_check(g, r->member_id, r->instance_id, r->generation, &m);
	if (!e && ((!view_null(r->protocol_type) && !view_eq(r->protocol_type, g->ptype)) ||
		   (!view_null(r->protocol_name) && !view_eq(r->protocol_name, g->pname))))
		e = GROUP_E_INCONSISTENT_PROTOCOL;
	if (!e && (g->state == GROUP_PREPARING || g->state == GROUP_EMPTY))
		e = g->state == GROUP_EMPTY ? GROUP_E_UNKNOWN_MEMBER_ID : GROUP_E_REBALANCE_IN_PROGRESS;
	if (e) {
		sync_answer(gc, r->waiter, e, g, NULL);
		return;
	}
	m->deadline_ms = now_ms + m->session_ms;
	m->conn_id = r->conn_id;
	if (g->state == GROUP_STABLE) {
		sync_answer(gc, r->waiter, GROUP_OK, g, m);
		return;
	}
	/* CompletingRebalance: park until the leader's assignment arrives. */
	if (m->sync_waiter)
		sync_answer(gc, m->sync_waiter, GROUP_E_REBALANCE_IN_PROGRESS, g, NULL);
	m->sync_waiter = r->waiter;
	if (!str_eq(g->leader, m->id))
		return;
	if (store_assignments(g, r)) {
		/* Out of memory half way: make everyone rejoin rather than hand out a partial assignment. */
		prepare_rebalance(gc, g, now_ms);
		return;
	}
	g->state = GROUP_STABLE;
	for (uint32_t i = 0; i < g->member_count; i++) {
		struct member *x = g->members[i];
		if (x->sync_waiter) {
			void *w = x->sync_waiter;
			x->sync_waiter = NULL;
			x->deadline_ms = now_ms + x->session_ms;
			sync_answer(gc, w, GROUP_OK, g, x);
		}
	}
}

int16_t group_heartbeat(struct group_coord *gc, struct group_view group_id, struct group_view member_id,
			struct group_view instance_id, int32_t generation, uint64_t conn_id, uint64_t now_ms)
{
	struct group *g = view_ok(group_id) ? group_find(gc, group_id) : NULL;
	struct member *m;
	int16_t e = member_check(g, member_id, instance_id, generation, &m);
	if (m && e != GROUP_E_FENCED_INSTANCE_ID) {
		m->deadline_ms = now_ms + m->session_ms;
		m->conn_id = conn_id;
	}
	if (e)
		return e;
	if (g->state == GROUP_PREPARING)
		return GROUP_E_REBALANCE_IN_PROGRESS;
	return GROUP_OK;
}

int16_t group_leave(struct group_coord *gc, struct group_view group_id, struct group_view member_id,
		    struct group_view instance_id, uint64_t now_ms)
{
	struct group *g = view_ok(group_id) ? group_find(gc, group_id) : NULL;
	if (!g)
		return GROUP_E_UNKNOWN_MEMBER_ID;
	uint32_t idx = 0;
	struct member *m = member_id.len ? member_find(g, member_id, &idx) : NULL;
	if (!view_null(instance_id)) {
		struct member *inst = member_by_instance(g, instance_id);
		if (!inst)
			return GROUP_E_UNKNOWN_MEMBER_ID;
		if (m && m != inst)
			return GROUP_E_FENCED_INSTANCE_ID;
		if (!m && member_id.len)
			return GROUP_E_FENCED_INSTANCE_ID;
		m = inst;
		member_find(g, (struct group_view){m->id, strlen(m->id)}, &idx);
	}
	if (!m) {
		int pi = member_id.len ? pending_find(g, member_id) : -1;
		if (pi < 0)
			return GROUP_E_UNKNOWN_MEMBER_ID;
		pending_remove(g, (uint32_t)pi);
		return GROUP_OK;
	}
	member_gone(gc, g, idx, GROUP_E_UNKNOWN_MEMBER_ID, now_ms);
	return GROUP_OK;
}

int16_t group_commit_check(struct group_coord *gc, struct group_view group_id, struct group_view member_id,
			   struct group_view instance_id, int32_t generation, uint64_t now_ms)
{
	if (!view_ok(group_id) || group_id.len == 0)
		return GROUP_E_INVALID_GROUP_ID;
	struct group *g = group_find(gc, group_id);
	if (generation < 0 && member_id.len == 0) {
		/* A simple consumer (assign(), no membership) may commit only while no group owns the id. */
		if (g && g->member_count)
			return GROUP_E_ILLEGAL_GENERATION;
		if (!g && !group_create(gc, group_id))
			return GROUP_E_COORDINATOR_NOT_AVAILABLE;
		return GROUP_OK;
	}
	struct member *m;
	int16_t e = member_check(g, member_id, instance_id, generation, &m);
	if (e)
		return e;
	if (g->state == GROUP_COMPLETING)
		return GROUP_E_REBALANCE_IN_PROGRESS;
	m->deadline_ms = now_ms + m->session_ms; /* a commit is as good as a heartbeat */
	return GROUP_OK;
}

/* ---- timers and connections ---------------------------------------------------------------------------- */

static uint64_t group_deadline(const struct group *g)
{
	uint64_t t = UINT64_MAX;
	for (uint32_t i = 0; i < g->pending_count; i++)
		if (g->pending[i].deadline_ms < t)
			t = g->pending[i].deadline_ms;
	for (uint32_t i = 0; i < g->member_count; i++) {
		const struct member *m = g->members[i];
		if (!m->join_waiter && !m->sync_waiter && m->deadline_ms < t)
			t = m->deadline_ms;
	}
	if (g->state == GROUP_PREPARING && g->join_deadline_ms < t)
		t = g->join_deadline_ms;
	return t;
}

uint64_t group_next_deadline(const struct group_coord *gc)
{
	uint64_t t = UINT64_MAX;
	for (uint32_t i = 0; i < gc->group_count; i++) {
		uint64_t d = group_deadline(gc->groups[i]);
		if (d < t)
			t = d;
	}
	return t;
}

uint64_t group_tick(struct group_coord *gc, uint64_t now_ms)
{
	for (uint32_t gi = 0; gi < gc->group_count; gi++) {
		struct group *g = gc->groups[gi];
		for (uint32_t i = g->pending_count; i-- > 0;)
			if (now_ms >= g->pending[i].deadline_ms)
				pending_remove(g, i);
		/* A member parked in JoinGroup or SyncGroup is alive (Kafka's shouldKeepAlive). */
		for (uint32_t i = g->member_count; i-- > 0;) {
			if (i >= g->member_count)
				continue;
			struct member *m = g->members[i];
			if (!m->join_waiter && !m->sync_waiter && now_ms >= m->deadline_ms)
				member_gone(gc, g, i, GROUP_E_UNKNOWN_MEMBER_ID, now_ms);
		}
		maybe_complete_join(gc, g, now_ms);
	}
	return group_next_deadline(gc);
}

void group_conn_closed(struct group_coord *gc, uint64_t conn_id, uint64_t now_ms)
{
	for (uint32_t gi = 0; gi < gc->group_count; gi++) {
		struct group *g = gc->groups[gi];
		for (uint32_t i = g->member_count; i-- > 0;) {
			if (i >= g->member_count)
				continue;
			struct member *m = g->members[i];
			if (m->conn_id != conn_id)
				continue;
			if (!m->instance_id) {
				member_gone(gc, g, i, GROUP_E_UNKNOWN_MEMBER_ID, now_ms);
				continue;
			}
			/* A static member stays, but requests parked on the dead connection no longer keep it alive:
			 * from now on its session timeout runs, so a rebalance does not wait for it until the
			 * rebalance timeout (minutes). */
			if (m->join_waiter) {
				void *w = m->join_waiter;
				m->join_waiter = NULL;
				join_error(gc, w, GROUP_E_UNKNOWN_MEMBER_ID, m->id);
			}
			if (m->sync_waiter) {
				void *w = m->sync_waiter;
				m->sync_waiter = NULL;
				sync_answer(gc, w, GROUP_E_UNKNOWN_MEMBER_ID, g, NULL);
			}
		}
	}
}

/* ---- introspection and lifetime ------------------------------------------------------------------------ */

static void info_fill(const struct group *g, struct group_info *info)
{
	*info = (struct group_info){
		.group_id = g->id, .state = g->state, .generation = g->generation,
		.protocol_type = g->ptype ? g->ptype : "", .protocol_name = g->pname ? g->pname : "",
		.leader_id = g->leader ? g->leader : "", .member_count = g->member_count,
	};
}

int group_describe(struct group_coord *gc, struct group_view group_id, struct group_info *info)
{
	struct group *g = view_ok(group_id) ? group_find(gc, group_id) : NULL;
	if (!g)
		return GROUP_E_GROUP_ID_NOT_FOUND;
	info_fill(g, info);
	return 0;
}

int group_describe_member(struct group_coord *gc, struct group_view group_id, uint32_t i,
			  struct group_member_info *out)
{
	struct group *g = view_ok(group_id) ? group_find(gc, group_id) : NULL;
	if (!g || i >= g->member_count)
		return GROUP_E_GROUP_ID_NOT_FOUND;
	const struct member *m = g->members[i];
	const struct proto *p = member_proto(m, g->pname);
	*out = (struct group_member_info){
		.member_id = m->id, .instance_id = m->instance_id, .client_id = m->client_id,
		.client_host = m->client_host, .metadata = p ? p->meta : NULL, .metadata_len = p ? p->meta_len : 0,
		.assignment = m->assignment, .assignment_len = m->assignment_len,
	};
	return 0;
}

int group_touch(struct group_coord *gc, struct group_view group_id)
{
	if (!view_ok(group_id) || group_id.len == 0)
		return GROUP_E_INVALID_GROUP_ID;
	if (group_find(gc, group_id))
		return 0;
	return group_create(gc, group_id) ? 0 : GROUP_E_COORDINATOR_NOT_AVAILABLE;
}

uint32_t group_count(const struct group_coord *gc) { return gc->group_count; }

void group_at(struct group_coord *gc, uint32_t i, struct group_info *info)
{
	assert(i < gc->group_count);
	info_fill(gc->groups[i], info);
}

const char *group_state_name(enum group_state s)
{
	switch (s) {
	case GROUP_EMPTY: return "Empty";
	case GROUP_PREPARING: return "PreparingRebalance";
	case GROUP_COMPLETING: return "CompletingRebalance";
	case GROUP_STABLE: return "Stable";
	case GROUP_DEAD: return "Dead";
	}
	return "Unknown";
}

struct group_coord *group_coord_new(const struct group_limits *limits, const struct group_callbacks *cb)
{
	struct group_coord *gc = calloc(1, sizeof *gc);
	if (!gc)
		return NULL;
	gc->lim = *limits;
	gc->cb = *cb;
	return gc;
}

void group_coord_free(struct group_coord *gc)
{
	if (!gc)
		return;
	for (uint32_t gi = 0; gi < gc->group_count; gi++) {
		struct group *g = gc->groups[gi];
		g->state = GROUP_DEAD;
		while (g->member_count)
			remove_member_at(gc, g, g->member_count - 1, GROUP_E_COORDINATOR_NOT_AVAILABLE);
		while (g->pending_count)
			pending_remove(g, g->pending_count - 1);
		group_destroy(g);
	}
	free(gc->groups);
	free(gc);
}
