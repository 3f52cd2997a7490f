/* The leader: per-follower progress (probe, pipelined replicate with bounded inflight, snapshot), the commit
 * rule, heartbeats, check-quorum, leadership transfer and read-index.  Must never commit an entry of an
 * earlier term by counting replicas (Raft §5.4.2, figure 8). */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "raft/raft_internal.h"

struct raft_progress *progress_of(struct raft *r, uint32_t id)
{
	for (unsigned i = 0; i < r->pr_count; i++)
		if (r->prs[i].id == id)
			return &r->prs[i];
	return NULL;
}

static void pr_reset(struct raft_progress *pr, enum raft_pr_state state, uint64_t next)
{
	pr->state = state;
	pr->next = next;
	pr->probe_sent = false;
	pr->inflight_head = pr->inflight_count = 0;
	pr->snap_offset = 0;
	pr->stall_ticks = 0;
}

void leader_release_progress(struct raft *r)
{
	free(r->prs);
	r->prs = NULL;
	r->pr_count = 0;
	r->transferee = 0;
	r->read_count = 0;
}

/* One progress per member of the latest configuration but self; existing ones are kept. */
void leader_conf_changed(struct raft *r)
{
	unsigned n = 0;
	uint32_t ids[2 * RAFT_NODES_MAX];
	for (unsigned i = 0; i < r->conf.voter_count; i++)
		if (r->conf.voters[i] != r->cfg.id)
			ids[n++] = r->conf.voters[i];
	for (unsigned i = 0; i < r->conf.learner_count; i++)
		if (r->conf.learners[i] != r->cfg.id)
			ids[n++] = r->conf.learners[i];
	struct raft_progress *prs = calloc(n ? n : 1, sizeof *prs);
	assert(prs); /* a few kilobytes; running out here leaves no sane way on */
	for (unsigned i = 0; i < n; i++) {
		struct raft_progress *old = progress_of(r, ids[i]);
		if (old) {
			prs[i] = *old;
		} else {
			prs[i].id = ids[i];
			pr_reset(&prs[i], RAFT_PR_PROBE, raft_last_index(r) + 1);
			prs[i].recent_active = true;
		}
	}
	free(r->prs);
	r->prs = prs;
	r->pr_count = n;
	if (r->transferee && !progress_of(r, r->transferee))
		r->transferee = 0;
}

void leader_start(struct raft *r)
{
	r->pr_count = 0;
	r->prs = NULL;
	r->read_count = 0;
	r->transferee = 0;
	leader_conf_changed(r);
	for (unsigned i = 0; i < r->pr_count; i++)
		r->prs[i].recent_active = true;
	/* Raft §8: a no-op of the new term lets earlier entries commit and read-index start. */
	int rc = log_append(r, r->term, RAFT_ENTRY_NOOP, NULL, 0);
	assert(rc == 0);
	(void)rc;
	r->term_start = raft_last_index(r);
	leader_broadcast_append(r);
}

static void send_snap_chunk(struct raft *r, struct raft_progress *pr)
{
	if (pr->snap_index != r->snap.index) {
		pr->snap_index = r->snap.index;
		pr->snap_offset = 0;
	}
	size_t off = (size_t)pr->snap_offset;
	size_t n = r->snap_len - off;
	if (n > r->cfg.snap_chunk_bytes)
		n = r->cfg.snap_chunk_bytes;
	struct raft_msg m = {.type = RAFT_MSG_SNAP, .to = pr->id, .snap = r->snap, .offset = off,
	                     .total = r->snap_len, .chunk = n ? r->snap_data + off : NULL, .chunk_len = (uint32_t)n,
	                     .flags = off + n == r->snap_len ? RAFT_FLAG_DONE : 0};
	pr->stall_ticks = 0;
	send_msg(r, &m);
}

static void send_append(struct raft *r, struct raft_progress *pr, bool allow_empty)
{
	if (pr->state == RAFT_PR_SNAPSHOT)
		return;
	if (pr->state == RAFT_PR_PROBE && pr->probe_sent)
		return;
	if (pr->state == RAFT_PR_REPLICATE && pr->inflight_count >= r->cfg.max_inflight)
		return;
	uint64_t prev = pr->next - 1, last = raft_last_index(r);
	if (prev < r->snap.index) {
		/* Raft §7: the entries it needs are gone; send the snapshot instead. */
		pr_reset(pr, RAFT_PR_SNAPSHOT, pr->next);
		pr->snap_index = 0;
		send_snap_chunk(r, pr);
		return;
	}
	struct raft_msg *m = (struct raft_msg *)r->scratch;
	if (!m) {
		r->scratch = malloc(sizeof *m);
		assert(r->scratch);
		m = (struct raft_msg *)r->scratch;
	}
	memset(m, 0, offsetof(struct raft_msg, entries));
	m->type = RAFT_MSG_APPEND;
	m->to = pr->id;
	m->index = prev;
	m->log_term = raft_term_at(r, prev);
	m->commit = r->commit;
	size_t bytes = 0;
	for (uint64_t i = pr->next; i <= last && m->entry_count < r->cfg.max_msg_entries; i++) {
		const struct raft_entry *e = raft_entry_at(r, i);
		if (m->entry_count && bytes + e->len > r->cfg.max_msg_bytes)
			break;
		m->entries[m->entry_count++] = *e;
		bytes += e->len;
	}
	if (m->entry_count == 0 && !allow_empty && pr->state != RAFT_PR_PROBE)
		return;
	m->snap = (struct raft_snap_meta){0};
	m->chunk = NULL;
	m->chunk_len = 0;
	m->offset = m->total = 0;
	send_msg(r, m);
	if (pr->state == RAFT_PR_PROBE) {
		pr->probe_sent = true;
	} else if (m->entry_count) {
		uint64_t sent_last = prev + m->entry_count;
		pr->next = sent_last + 1;
		unsigned slot = (pr->inflight_head + pr->inflight_count) % r->cfg.max_inflight;
		pr->inflight[slot] = sent_last;
		pr->inflight_count++;
	}
}

void leader_broadcast_append(struct raft *r)
{
	for (unsigned i = 0; i < r->pr_count; i++)
		send_append(r, &r->prs[i], true);
}

static int cmp_desc(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? 1 : x > y ? -1 : 0;
}

bool leader_maybe_commit(struct raft *r)
{
	uint64_t match[RAFT_NODES_MAX];
	unsigned n = 0;
	for (unsigned i = 0; i < r->conf.voter_count; i++) {
		uint32_t id = r->conf.voters[i];
		struct raft_progress *pr = id == r->cfg.id ? NULL : progress_of(r, id);
		match[n++] = id == r->cfg.id ? r->log.stable : pr ? pr->match : 0;
	}
	if (n == 0)
		return false;
	qsort(match, n, sizeof match[0], cmp_desc);
	uint64_t idx = match[quorum(r) - 1];
	/* Raft §5.4.2: only an entry of the current term commits by counting replicas. */
	if (idx <= r->commit || raft_term_at(r, idx) != r->term)
		return false;
	r->commit = idx;
	/* Thesis §4.2.2: a leader removed from the configuration steps down once the removal commits. */
	if (r->conf_index <= r->commit && !is_voter(r, r->cfg.id)) {
		become_follower(r, r->term, 0);
		return false;
	}
	return true;
}

static void release_reads(struct raft *r)
{
	unsigned done = 0;
	for (unsigned i = 0; i < r->read_count; i++) {
		unsigned acks = is_voter(r, r->cfg.id) ? 1 : 0;
		for (unsigned j = 0; j < r->pr_count; j++)
			if (is_voter(r, r->prs[j].id) && r->prs[j].read_ack_seq >= r->reads[i].seq)
				acks++;
		if (acks < quorum(r))
			break;
		done = i + 1;
	}
	for (unsigned i = 0; i < done && r->reads_out_count < RAFT_READS_MAX; i++)
		r->reads_out[r->reads_out_count++] = (struct raft_read){r->reads[i].ctx, r->reads[i].index};
	if (done)
		memmove(r->reads, r->reads + done, (r->read_count - done) * sizeof r->reads[0]);
	r->read_count -= done;
}

static void send_timeout_now(struct raft *r, uint32_t to)
{
	struct raft_msg m = {.type = RAFT_MSG_TIMEOUT_NOW, .to = to};
	send_msg(r, &m);
}

static void append_resp(struct raft *r, struct raft_progress *pr, const struct raft_msg *m)
{
	if (m->flags & RAFT_FLAG_REJECT) {
		/* Stale rejections (of an append already superseded) are ignored. */
		if (pr->state == RAFT_PR_REPLICATE && m->index <= pr->match)
			return;
		if (pr->state == RAFT_PR_PROBE && m->index != pr->next - 1)
			return;
		if (pr->state == RAFT_PR_SNAPSHOT)
			return;
		/* Fast backtracking: skip every entry of the conflicting term at once (Raft §5.3, last par.). */
		uint64_t at = log_find_conflict(r, m->hint_index, m->hint_term);
		/* No match above our snapshot: the follower needs the snapshot (next <= snap.index sends it). */
		uint64_t next = raft_term_at(r, at) > m->hint_term ? at : at + 1;
		next = max_u64(next, pr->match + 1);
		next = min_u64(next, raft_last_index(r) + 1);
		pr_reset(pr, RAFT_PR_PROBE, next);
		send_append(r, pr, true);
		return;
	}
	bool updated = false;
	if (m->index > pr->match) {
		pr->match = m->index;
		pr->stall_ticks = 0;
		updated = true;
	}
	if (pr->next < m->index + 1)
		pr->next = m->index + 1;
	if (pr->state == RAFT_PR_PROBE) {
		pr_reset(pr, RAFT_PR_REPLICATE, pr->match + 1);
	} else if (pr->state == RAFT_PR_REPLICATE) {
		while (pr->inflight_count && pr->inflight[pr->inflight_head] <= m->index) {
			pr->inflight_head = (pr->inflight_head + 1) % r->cfg.max_inflight;
			pr->inflight_count--;
		}
	}
	if (updated && leader_maybe_commit(r))
		leader_broadcast_append(r);
	else if (r->role == RAFT_LEADER)
		send_append(r, pr, false);
	if (r->role == RAFT_LEADER && pr->id == r->transferee && pr->match == raft_last_index(r))
		send_timeout_now(r, pr->id);
}

static void snap_resp(struct raft *r, struct raft_progress *pr, const struct raft_msg *m)
{
	if (pr->state != RAFT_PR_SNAPSHOT)
		return;
	if (m->index != r->snap.index || (m->flags & RAFT_FLAG_REJECT)) {
		pr->snap_index = 0; /* the follower holds another snapshot's chunks, or ours changed: restart */
		send_snap_chunk(r, pr);
		return;
	}
	if (m->offset >= r->snap_len) {
		/* Installed (or already past it): resume with a probe just after the snapshot. */
		pr->match = max_u64(pr->match, r->snap.index);
		pr_reset(pr, RAFT_PR_PROBE, pr->match + 1);
		send_append(r, pr, true);
		return;
	}
	if (m->offset < pr->snap_offset)
		return; /* a duplicate of an older acknowledgement */
	pr->snap_offset = m->offset;
	send_snap_chunk(r, pr);
}

void leader_step(struct raft *r, const struct raft_msg *m)
{
	struct raft_progress *pr = progress_of(r, m->from);
	if (!pr)
		return;
	pr->recent_active = true;
	switch (m->type) {
	case RAFT_MSG_APPEND_RESP:
		append_resp(r, pr, m);
		break;
	case RAFT_MSG_HEARTBEAT_RESP:
		pr->probe_sent = false;
		if (pr->state == RAFT_PR_REPLICATE && pr->inflight_count >= r->cfg.max_inflight)
			pr_reset(pr, RAFT_PR_PROBE, pr->match + 1); /* appends were lost; start over from match */
		if (pr->match < raft_last_index(r))
			send_append(r, pr, false);
		if (m->context > pr->read_ack_seq && m->context <= r->read_seq)
			pr->read_ack_seq = m->context;
		release_reads(r);
		break;
	case RAFT_MSG_SNAP_RESP:
		snap_resp(r, pr, m);
		break;
	default:
		break;
	}
}

static void send_heartbeats(struct raft *r)
{
	uint64_t ctx = r->read_count ? r->reads[r->read_count - 1].seq : 0;
	for (unsigned i = 0; i < r->pr_count; i++) {
		struct raft_progress *pr = &r->prs[i];
		/* Never let a follower commit past what it is known to hold: its tail may still diverge. */
		struct raft_msg m = {.type = RAFT_MSG_HEARTBEAT, .to = pr->id, .commit = min_u64(pr->match, r->commit),
		                     .context = ctx};
		send_msg(r, &m);
	}
}

void leader_tick(struct raft *r)
{
	if (++r->heartbeat_elapsed >= r->cfg.heartbeat_ticks) {
		r->heartbeat_elapsed = 0;
		send_heartbeats(r);
	}
	for (unsigned i = 0; i < r->pr_count; i++) {
		struct raft_progress *pr = &r->prs[i];
		if (pr->state == RAFT_PR_SNAPSHOT && ++pr->stall_ticks >= 2 * r->cfg.heartbeat_ticks) {
			send_snap_chunk(r, pr); /* the chunk or its acknowledgement was lost */
		} else if (pr->state == RAFT_PR_REPLICATE && pr->inflight_count &&
		           ++pr->stall_ticks >= r->cfg.election_ticks / 2) {
			/* Nothing acknowledged for half an election timeout: appends were lost; resend from match. */
			pr_reset(pr, RAFT_PR_PROBE, pr->match + 1);
			send_append(r, pr, true);
		}
	}
	if (++r->election_elapsed < r->cfg.election_ticks)
		return;
	r->election_elapsed = 0;
	r->transferee = 0; /* thesis §3.10: abort a transfer that did not finish within an election timeout */
	if (r->cfg.check_quorum) {
		/* §6.2: a leader that cannot reach a quorum steps down rather than serve stale reads. */
		unsigned active = is_voter(r, r->cfg.id) ? 1 : 0;
		for (unsigned i = 0; i < r->pr_count; i++) {
			if (is_voter(r, r->prs[i].id) && r->prs[i].recent_active)
				active++;
			r->prs[i].recent_active = false;
		}
		if (active < quorum(r))
			become_follower(r, r->term, 0);
	}
}

int raft_propose(struct raft *r, const void *data, size_t len, uint64_t *index)
{
	if (r->role != RAFT_LEADER)
		return ERR_RAFT_NOT_LEADER;
	if (r->transferee)
		return ERR_RAFT_TRANSFERRING;
	if (len > RAFT_ENTRY_DATA_MAX)
		return ERR_TOO_LARGE;
	if (raft_last_index(r) - r->commit >= r->cfg.max_uncommitted)
		return ERR_FULL;
	int rc = log_append(r, r->term, RAFT_ENTRY_NORMAL, data, len);
	if (rc)
		return rc;
	if (index)
		*index = raft_last_index(r);
	r->bcast_pending = true;
	return 0;
}

static unsigned voter_diff(const struct raft_conf *a, const struct raft_conf *b)
{
	unsigned d = 0;
	for (unsigned i = 0; i < a->voter_count; i++)
		d += !raft_conf_has_voter(b, a->voters[i]);
	for (unsigned i = 0; i < b->voter_count; i++)
		d += !raft_conf_has_voter(a, b->voters[i]);
	return d;
}

int raft_propose_conf(struct raft *r, const struct raft_conf *conf, uint64_t *index)
{
	if (r->role != RAFT_LEADER)
		return ERR_RAFT_NOT_LEADER;
	if (r->transferee)
		return ERR_RAFT_TRANSFERRING;
	/* Thesis §4.1: one change at a time; and not before this term's first commit (Ongaro's 2015 fix to the
	 * single-server change algorithm, raft-dev). */
	if (r->conf_index > r->commit || r->commit < r->term_start)
		return ERR_RAFT_CONF_PENDING;
	if (!raft_conf_valid(conf) || conf->voter_count == 0 || voter_diff(&r->conf, conf) > 1)
		return ERR_RAFT_CONF_INVALID;
	uint8_t buf[RAFT_CONF_SIZE_MAX];
	int n = raft_conf_encode(conf, buf, sizeof buf);
	assert(n > 0);
	int rc = log_append(r, r->term, RAFT_ENTRY_CONF, buf, (size_t)n);
	if (rc)
		return rc;
	if (index)
		*index = raft_last_index(r);
	leader_conf_changed(r);
	leader_broadcast_append(r);
	/* A configuration with fewer voters may already be satisfied (e.g. removing a dead voter). */
	if (leader_maybe_commit(r))
		leader_broadcast_append(r);
	return 0;
}

int raft_transfer(struct raft *r, uint32_t to)
{
	if (r->role != RAFT_LEADER)
		return ERR_RAFT_NOT_LEADER;
	if (to == r->cfg.id || !is_voter(r, to))
		return ERR_INVAL;
	struct raft_progress *pr = progress_of(r, to);
	if (!pr)
		return ERR_INVAL;
	r->transferee = to;
	r->election_elapsed = 0;
	if (pr->match == raft_last_index(r))
		send_timeout_now(r, to);
	else
		send_append(r, pr, true);
	return 0;
}

int raft_read_index(struct raft *r, uint64_t ctx)
{
	if (r->role != RAFT_LEADER)
		return ERR_RAFT_NOT_LEADER;
	/* Thesis §6.4: the commit index is only known to be current once an entry of this term committed. */
	if (r->commit < r->term_start)
		return ERR_AGAIN;
	if (r->read_count == RAFT_READS_MAX || r->reads_out_count == RAFT_READS_MAX)
		return ERR_FULL;
	r->reads[r->read_count++] = (struct raft_pending_read){++r->read_seq, ctx, r->commit};
	release_reads(r); /* a single voter confirms alone */
	if (r->read_count)
		send_heartbeats(r);
	return 0;
}

int raft_compact(struct raft *r, uint64_t index, const void *data, size_t len)
{
	if (index <= r->snap.index)
		return ERR_RAFT_COMPACTED;
	if (index > r->applied)
		return ERR_RANGE;
	if (len > RAFT_SNAP_DATA_MAX)
		return ERR_TOO_LARGE;
	uint8_t *copy = malloc(len ? len : 1);
	if (!copy)
		return ERR_NOMEM;
	if (len)
		memcpy(copy, data, len);
	/* The snapshot carries the configuration as of index, not the latest one. */
	struct raft_conf conf = r->snap.conf;
	for (uint64_t i = index; i >= r->log.first && i > 0; i--) {
		const struct raft_entry *e = raft_entry_at(r, i);
		if (e->type == RAFT_ENTRY_CONF && raft_conf_decode(e->data, e->len, &conf) == 0)
			break;
	}
	uint64_t term = raft_term_at(r, index);
	log_compact(r, index, term);
	free(r->snap_data);
	r->snap_data = copy;
	r->snap_len = len;
	r->snap = (struct raft_snap_meta){.index = index, .term = term, .conf = conf};
	r->snap_unsaved = true;
	r->snap_install = false;
	return 0;
}
