/* The simulator's safety invariants, checked after every event (Raft figure 3 and §5.4):
 * Election Safety (one leader per term), Leader Append-Only, Log Matching, Leader Completeness, committed
 * entries never change or vanish, commit and term never go back.  State Machine Safety is checked as
 * entries are applied (sim.c). */
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static size_t ekey_slot(const struct sim *s, uint64_t index, uint64_t term)
{
	uint64_t h = (index * 0x9e3779b97f4a7c15ull) ^ (term * 0xc2b2ae3d27d4eb4full);
	size_t mask = s->ekey_cap - 1, i = (size_t)(h ^ (h >> 29)) & mask;
	while (s->ekeys[i].used && (s->ekeys[i].index != index || s->ekeys[i].term != term))
		i = (i + 1) & mask;
	return i;
}

static void ekey_grow(struct sim *s)
{
	struct sim_entry_key *old = s->ekeys;
	size_t old_cap = s->ekey_cap;
	s->ekey_cap = old_cap ? old_cap * 2 : 4096;
	s->ekeys = calloc(s->ekey_cap, sizeof *s->ekeys);
	for (size_t i = 0; i < old_cap; i++)
		if (old[i].used)
			s->ekeys[ekey_slot(s, old[i].index, old[i].term)] = old[i];
	free(old);
}

/* Log Matching (§5.3): one (index, term) names one entry, and the entry before it has one term.  By
 * induction that makes equal (index, term) pairs imply equal prefixes. */
static void check_log_matching(struct sim *s, struct sim_node *n)
{
	const struct raft *r = n->r;
	if (n->lm_checked >= r->log.first && (n->lm_checked > raft_last_index(r) ||
	                                      raft_term_at(r, n->lm_checked) != n->lm_checked_term))
		n->lm_checked = r->log.first - 1; /* truncated or replaced since: check again */
	if (n->lm_checked < r->log.first - 1)
		n->lm_checked = r->log.first - 1;
	for (uint64_t i = n->lm_checked + 1; i <= raft_last_index(r); i++) {
		if (s->ekey_count * 2 >= s->ekey_cap)
			ekey_grow(s);
		const struct raft_entry *e = raft_entry_at(r, i);
		uint64_t prev_term = i - 1 >= r->snap.index ? raft_term_at(r, i - 1) : 0;
		bool prev_known = i - 1 >= r->snap.index;
		size_t k = ekey_slot(s, i, e->term);
		struct sim_entry_key *key = &s->ekeys[k];
		uint64_t h = sim_entry_hash(e);
		if (!key->used) {
			*key = (struct sim_entry_key){i, e->term, h, prev_known ? prev_term : UINT64_MAX, true};
			s->ekey_count++;
		} else {
			if (key->hash != h)
				sim_fail(s, "node %u: log matching: entry %llu of term %llu has other contents elsewhere", n->id,
				         (unsigned long long)i, (unsigned long long)e->term);
			if (prev_known && key->prev_term != UINT64_MAX && key->prev_term != prev_term)
				sim_fail(s, "node %u: log matching: entry %llu term %llu follows term %llu here, %llu elsewhere",
				         n->id, (unsigned long long)i, (unsigned long long)e->term,
				         (unsigned long long)prev_term, (unsigned long long)key->prev_term);
			if (prev_known && key->prev_term == UINT64_MAX)
				key->prev_term = prev_term;
		}
	}
	n->lm_checked = raft_last_index(r);
	n->lm_checked_term = raft_term_at(r, n->lm_checked);
}

static void check_committed(struct sim *s, struct sim_node *n)
{
	const struct raft *r = n->r;
	if (r->commit < n->seen_commit)
		sim_fail(s, "node %u: commit index went back %llu -> %llu", n->id, (unsigned long long)n->seen_commit,
		         (unsigned long long)r->commit);
	if (r->commit > raft_last_index(r))
		sim_fail(s, "node %u: commit %llu beyond its log %llu", n->id, (unsigned long long)r->commit,
		         (unsigned long long)raft_last_index(r));
	/* Every entry at or below the commit index, on every node, is the one the cluster committed. */
	uint64_t from = n->seen_commit + 1 > r->log.first ? n->seen_commit + 1 : r->log.first;
	for (uint64_t i = from; i <= r->commit; i++) {
		const struct raft_entry *e = raft_entry_at(r, i);
		if (!e)
			break;
		uint64_t h = sim_entry_hash(e);
		sim_grow(s, i);
		if (s->committed_term[i] == 0) {
			s->committed_term[i] = e->term;
			s->committed_hash[i] = h;
			if (i > s->committed_len)
				s->committed_len = i;
		} else if (s->committed_term[i] != e->term || s->committed_hash[i] != h) {
			sim_fail(s, "node %u: committed entry %llu changed (term %llu, was %llu)", n->id,
			         (unsigned long long)i, (unsigned long long)e->term,
			         (unsigned long long)s->committed_term[i]);
		}
	}
	n->seen_commit = r->commit;
}

/* Leader Completeness (§5.4): a new leader holds every committed entry. */
static void check_new_leader(struct sim *s, struct sim_node *n)
{
	const struct raft *r = n->r;
	if (r->term >= SIM_TERMS_MAX) {
		sim_fail(s, "term %llu over the simulator's limit", (unsigned long long)r->term);
		return;
	}
	uint32_t *slot = &s->leader_of_term[r->term];
	if (*slot == 0) {
		*slot = n->id;
		s->elections++;
	} else if (*slot != n->id) {
		sim_fail(s, "election safety: nodes %u and %u both lead term %llu", *slot, n->id,
		         (unsigned long long)r->term);
		return;
	}
	for (uint64_t i = r->log.first; i <= s->committed_len && i < s->committed_cap; i++) {
		if (s->committed_term[i] == 0)
			continue;
		const struct raft_entry *e = raft_entry_at(r, i);
		if (!e || e->term != s->committed_term[i] || sim_entry_hash(e) != s->committed_hash[i]) {
			sim_fail(s, "leader completeness: leader %u of term %llu lacks committed entry %llu", n->id,
			         (unsigned long long)r->term, (unsigned long long)i);
			return;
		}
	}
	n->lead_term = r->term;
	n->lead_last = raft_last_index(r);
	n->lead_last_term = raft_term_at(r, n->lead_last);
}

static void check_node(struct sim *s, struct sim_node *n)
{
	const struct raft *r = n->r;
	if (r->term < n->seen_term)
		sim_fail(s, "node %u: term went back %llu -> %llu", n->id, (unsigned long long)n->seen_term,
		         (unsigned long long)r->term);
	check_committed(s, n);
	if (r->role == RAFT_LEADER) {
		if (n->seen_role != RAFT_LEADER || n->lead_term != r->term) {
			check_new_leader(s, n);
		} else {
			/* Leader Append-Only: during its term the leader's log only grows. */
			uint64_t last = raft_last_index(r);
			if (last < n->lead_last || (n->lead_last >= r->snap.index &&
			                            raft_term_at(r, n->lead_last) != n->lead_last_term))
				sim_fail(s, "leader %u of term %llu rewrote its log at %llu", n->id,
				         (unsigned long long)r->term, (unsigned long long)n->lead_last);
			n->lead_last = last;
			n->lead_last_term = raft_term_at(r, last);
		}
	}
	check_log_matching(s, n);
	n->seen_term = r->term;
	n->seen_role = r->role;
}

void sim_check(struct sim *s)
{
	for (uint32_t id = 1; id <= s->node_count && !s->failed; id++)
		if (s->nodes[id].up)
			check_node(s, &s->nodes[id]);
}
