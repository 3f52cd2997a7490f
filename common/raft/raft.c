/* Raft core: roles, terms, elections (with pre-vote and the leader lease of check-quorum), message dispatch,
 * and the ready/advance cycle.  Must never do I/O or read a clock: time is raft_tick(), randomness is the
 * caller's seed, durability is the caller's job between raft_ready() and raft_advance(). */
#include <assert.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "base/rw.h"
#include "raft/raft_internal.h"

void raft_config_default(struct raft_config *c)
{
	*c = (struct raft_config){
		.election_ticks = 10,
		.heartbeat_ticks = 1,
		.max_inflight = 64,
		.max_msg_entries = 32,
		.max_msg_bytes = 1u << 20,
		.snap_chunk_bytes = 64u << 10,
		.max_uncommitted = 8192,
		.pre_vote = true,
		.check_quorum = true,
	};
}

const char *raft_role_name(enum raft_role role)
{
	static const char *const names[] = {"follower", "precandidate", "candidate", "leader"};
	return role <= RAFT_LEADER ? names[role] : "?";
}

static uint64_t rng_next(struct raft *r)
{
	/* splitmix64: tiny, good enough for timeouts, and reproducible from the caller's seed. */
	uint64_t z = (r->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static void reset_election_timer(struct raft *r)
{
	r->election_elapsed = 0;
	r->heartbeat_elapsed = 0;
	/* Raft §5.2: randomized timeouts in [T, 2T) make split votes rare. */
	r->election_timeout = r->cfg.election_ticks + (unsigned)(rng_next(r) % r->cfg.election_ticks);
}

bool raft_conf_has_voter(const struct raft_conf *c, uint32_t id)
{
	for (unsigned i = 0; i < c->voter_count; i++)
		if (c->voters[i] == id)
			return true;
	return false;
}

bool raft_conf_has_learner(const struct raft_conf *c, uint32_t id)
{
	for (unsigned i = 0; i < c->learner_count; i++)
		if (c->learners[i] == id)
			return true;
	return false;
}

bool is_voter(const struct raft *r, uint32_t id) { return raft_conf_has_voter(&r->conf, id); }
unsigned quorum(const struct raft *r) { return r->conf.voter_count / 2u + 1u; }

void send_msg(struct raft *r, struct raft_msg *m)
{
	m->from = r->cfg.id;
	if (m->term == 0)
		m->term = r->term;
	if (r->out_count == RAFT_OUTBOX_MSGS_MAX) {
		r->dropped_msgs++;
		return;
	}
	size_t need = raft_msg_size(m);
	if (dbuf_reserve(&r->outbuf, need) != 0) {
		r->dropped_msgs++;
		return;
	}
	int n = raft_msg_encode(m, r->outbuf.p + r->outbuf.len, need);
	assert(n == (int)need);
	r->out[r->out_count] = (struct raft_out){.to = m->to, .len = need};
	r->out_off[r->out_count++] = r->outbuf.len;
	r->outbuf.len += need;
}

void become_follower(struct raft *r, uint64_t term, uint32_t leader)
{
	if (r->role == RAFT_LEADER)
		leader_release_progress(r);
	if (term > r->term) {
		r->term = term;
		r->vote = 0;
	}
	r->role = RAFT_FOLLOWER;
	r->leader = leader;
	r->prevote_rejected = false;
	reset_election_timer(r);
}

static void become_leader(struct raft *r)
{
	r->role = RAFT_LEADER;
	r->leader = r->cfg.id;
	reset_election_timer(r);
	leader_start(r);
}

static void count_vote(struct raft *r, uint32_t from, bool granted)
{
	for (unsigned i = 0; i < r->grant_count; i++)
		if (r->votes_granted[i] == from)
			return;
	for (unsigned i = 0; i < r->reject_count; i++)
		if (r->votes_rejected[i] == from)
			return;
	if (!is_voter(r, from))
		return;
	if (granted && r->grant_count < RAFT_NODES_MAX)
		r->votes_granted[r->grant_count++] = from;
	else if (!granted && r->reject_count < RAFT_NODES_MAX)
		r->votes_rejected[r->reject_count++] = from;
}

static void campaign(struct raft *r, bool pre, bool force)
{
	if (!is_voter(r, r->cfg.id))
		return;
	if (r->role == RAFT_LEADER)
		leader_release_progress(r);
	r->grant_count = r->reject_count = 0;
	r->leader = 0;
	reset_election_timer(r);
	uint64_t term;
	if (pre) {
		/* Thesis §9.6: ask first whether we could win, without touching anyone's term. */
		r->role = RAFT_PRECANDIDATE;
		term = r->term + 1;
	} else {
		r->role = RAFT_CANDIDATE;
		r->term++;
		r->vote = r->cfg.id;
		term = r->term;
	}
	count_vote(r, r->cfg.id, true);
	if (r->grant_count >= quorum(r)) {
		if (pre)
			campaign(r, false, force);
		else
			become_leader(r);
		return;
	}
	uint64_t last = raft_last_index(r);
	for (unsigned i = 0; i < r->conf.voter_count; i++) {
		uint32_t id = r->conf.voters[i];
		if (id == r->cfg.id)
			continue;
		struct raft_msg m = {.type = pre ? RAFT_MSG_PREVOTE : RAFT_MSG_VOTE, .to = id, .term = term,
		                     .index = last, .log_term = raft_term_at(r, last),
		                     .flags = force ? RAFT_FLAG_FORCE : 0};
		send_msg(r, &m);
	}
}

void raft_campaign(struct raft *r) { campaign(r, r->cfg.pre_vote, false); }

void raft_tick(struct raft *r)
{
	if (r->role == RAFT_LEADER) {
		leader_tick(r);
		return;
	}
	if (r->election_elapsed < UINT_MAX)
		r->election_elapsed++; /* a learner may wait for years */
	if (r->election_elapsed >= r->election_timeout && is_voter(r, r->cfg.id))
		campaign(r, r->cfg.pre_vote, false);
}

static void handle_vote(struct raft *r, const struct raft_msg *m)
{
	bool pre = m->type == RAFT_MSG_PREVOTE;
	/* Raft §5.2 one vote per term; a pre-vote for a later term promises nothing. */
	bool can_vote = r->vote == m->from || (r->vote == 0 && r->leader == 0) || (pre && m->term > r->term);
	bool grant = can_vote && log_up_to_date(r, m->index, m->log_term);
	/* Our addition (not in the thesis): two pre-candidates at once would both pass and then split the real
	 * vote.  A pre-candidate backs a rival only if the rival's log is ahead, or level and its id higher, so
	 * a simultaneous pre-election yields one candidate.  Pre-vote only gates liveness; safety is untouched. */
	if (grant && pre && r->role == RAFT_PRECANDIDATE) {
		uint64_t last = raft_last_index(r), last_term = raft_term_at(r, last);
		bool level = m->log_term == last_term && m->index == last;
		grant = !level || m->from > r->cfg.id;
	}
	struct raft_msg resp = {.type = pre ? RAFT_MSG_PREVOTE_RESP : RAFT_MSG_VOTE_RESP, .to = m->from,
	                        .flags = grant ? 0 : RAFT_FLAG_REJECT};
	if (grant && pre)
		resp.term = m->term;
	if (grant && !pre)
		r->vote = m->from;
	if (grant) {
		/* Having backed a (pre-)candidate, give it its election before starting ours; a pre-candidate
		 * that backs a rival withdraws, so two simultaneous pre-elections cannot both pass and split. */
		if (r->role == RAFT_PRECANDIDATE)
			become_follower(r, r->term, 0);
		r->election_elapsed = 0;
		r->leader = 0; /* we just agreed the leader is gone: its lease must not block the real vote */
	}
	send_msg(r, &resp);
}

static void handle_vote_resp(struct raft *r, const struct raft_msg *m)
{
	bool pre = m->type == RAFT_MSG_PREVOTE_RESP;
	if (r->role != (pre ? RAFT_PRECANDIDATE : RAFT_CANDIDATE))
		return;
	bool granted = !(m->flags & RAFT_FLAG_REJECT);
	if (pre && granted && m->term != r->term + 1)
		return;
	if (pre && !granted && !r->prevote_rejected) {
		/* Refused inside a follower's leader lease, which ends within about a tick of our own timeout:
		 * ask again shortly, once, rather than after a whole new election timeout. */
		r->prevote_rejected = true;
		r->election_timeout = r->election_elapsed + 2;
	}
	count_vote(r, m->from, granted);
	if (r->grant_count >= quorum(r)) {
		if (pre)
			campaign(r, false, false);
		else
			become_leader(r);
	} else if (r->reject_count >= quorum(r)) {
		become_follower(r, r->term, 0);
	}
}

/* Raft §5.1: a higher term always wins, except a (pre-)vote inside the leader lease (thesis §4.2.3, §6.2). */
static bool step_term(struct raft *r, const struct raft_msg *m)
{
	bool vote_req = m->type == RAFT_MSG_VOTE || m->type == RAFT_MSG_PREVOTE;
	if (m->term > r->term) {
		bool in_lease = r->cfg.check_quorum && r->leader != 0 && r->election_elapsed < r->cfg.election_ticks;
		if (vote_req && in_lease && !(m->flags & RAFT_FLAG_FORCE)) {
			if (m->type == RAFT_MSG_PREVOTE) {
				/* Say no (at our term, which changes nothing there) so the pre-candidate retries soon. */
				struct raft_msg resp = {.type = RAFT_MSG_PREVOTE_RESP, .to = m->from, .flags = RAFT_FLAG_REJECT};
				send_msg(r, &resp);
			}
			return false;
		}
		if (m->type == RAFT_MSG_PREVOTE || (m->type == RAFT_MSG_PREVOTE_RESP && !(m->flags & RAFT_FLAG_REJECT)))
			return true;
		bool from_leader = m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_HEARTBEAT ||
		                   m->type == RAFT_MSG_SNAP;
		become_follower(r, m->term, from_leader ? m->from : 0);
		return true;
	}
	if (m->term < r->term) {
		if ((r->cfg.check_quorum || r->cfg.pre_vote) &&
		    (m->type == RAFT_MSG_APPEND || m->type == RAFT_MSG_HEARTBEAT)) {
			/* Tell a deposed leader about the new term, or it never steps down. */
			struct raft_msg resp = {.type = RAFT_MSG_APPEND_RESP, .to = m->from, .flags = RAFT_FLAG_REJECT};
			send_msg(r, &resp);
		} else if (m->type == RAFT_MSG_PREVOTE || m->type == RAFT_MSG_VOTE) {
			/* Raft §5.1: answer with our term, so a candidate that fell behind in terms catches up; without
			 * it a voter stuck at an old configuration can out-count the candidate forever. */
			struct raft_msg resp = {.type = m->type == RAFT_MSG_VOTE ? RAFT_MSG_VOTE_RESP : RAFT_MSG_PREVOTE_RESP,
			                        .to = m->from, .flags = RAFT_FLAG_REJECT};
			send_msg(r, &resp);
		}
		return false;
	}
	return true;
}

int raft_step(struct raft *r, const struct raft_msg *m)
{
	if (m->to != r->cfg.id || m->from == r->cfg.id || m->from == 0)
		return ERR_INVAL;
	if (!step_term(r, m))
		return 0;
	switch (m->type) {
	case RAFT_MSG_VOTE:
	case RAFT_MSG_PREVOTE:
		handle_vote(r, m);
		break;
	case RAFT_MSG_VOTE_RESP:
	case RAFT_MSG_PREVOTE_RESP:
		handle_vote_resp(r, m);
		break;
	case RAFT_MSG_APPEND:
	case RAFT_MSG_HEARTBEAT:
	case RAFT_MSG_SNAP:
		if (r->role == RAFT_LEADER)
			return ERR_PROTOCOL; /* two leaders in one term: impossible from a correct peer */
		if (r->role != RAFT_FOLLOWER)
			become_follower(r, r->term, m->from);
		r->leader = m->from;
		r->election_elapsed = 0;
		if (m->type == RAFT_MSG_APPEND)
			return follower_append(r, m);
		else if (m->type == RAFT_MSG_HEARTBEAT)
			follower_heartbeat(r, m);
		else
			follower_snap(r, m);
		break;
	case RAFT_MSG_TIMEOUT_NOW:
		if (r->role != RAFT_LEADER)
			campaign(r, false, true);
		break;
	default:
		if (r->role == RAFT_LEADER)
			leader_step(r, m);
		break;
	}
	return 0;
}

int raft_step_bytes(struct raft *r, const uint8_t *buf, size_t len)
{
	struct raft_msg m;
	int rc = raft_msg_decode(buf, len, &m);
	if (rc)
		return rc;
	return raft_step(r, &m);
}

int raft_new(const struct raft_config *cfg, const struct raft_boot *boot, struct raft **out)
{
	if (cfg->id == 0 || cfg->election_ticks < 2 || cfg->heartbeat_ticks == 0 ||
	    cfg->heartbeat_ticks >= cfg->election_ticks || cfg->max_inflight == 0 ||
	    cfg->max_inflight > RAFT_INFLIGHT_MAX || cfg->max_msg_entries == 0 ||
	    cfg->max_msg_entries > RAFT_MSG_ENTRIES_MAX || cfg->snap_chunk_bytes == 0 ||
	    cfg->snap_chunk_bytes > RAFT_SNAP_CHUNK_MAX || cfg->max_uncommitted == 0 ||
	    cfg->max_uncommitted > RAFT_LOG_ENTRIES_MAX || !raft_conf_valid(&boot->snap.conf) ||
	    boot->snap_len > RAFT_SNAP_DATA_MAX)
		return ERR_INVAL;
	struct raft *r = calloc(1, sizeof *r);
	if (!r)
		return ERR_NOMEM;
	int rc = 0;
	r->cfg = *cfg;
	r->rng = cfg->seed ^ ((uint64_t)cfg->id * 0x9e3779b97f4a7c15ull);
	dbuf_init(&r->outbuf, RAFT_OUTBOX_BYTES_MAX);
	dbuf_init(&r->snap_rx, RAFT_SNAP_DATA_MAX);
	r->snap = boot->snap;
	if (boot->snap_len) {
		r->snap_data = malloc(boot->snap_len);
		if (!r->snap_data) {
			rc = ERR_NOMEM;
			goto fail;
		}
		memcpy(r->snap_data, boot->snap_data, boot->snap_len);
		r->snap_len = boot->snap_len;
	}
	log_reset(r, r->snap.index);
	r->conf = r->snap.conf;
	r->conf_index = r->snap.index;
	for (size_t i = 0; i < boot->entry_count; i++) {
		const struct raft_entry *e = &boot->entries[i];
		if (e->index != r->snap.index + 1 + i || e->term < raft_term_at(r, e->index - 1) || e->term == 0) {
			rc = ERR_CORRUPT;
			goto fail;
		}
		rc = log_append(r, e->term, e->type, e->data, e->len);
		if (rc)
			goto fail;
	}
	r->log.stable = raft_last_index(r);
	r->term = boot->hs.term;
	r->vote = boot->hs.vote;
	/* The stored commit can lag the snapshot (a crash between the two writes), never the reverse. */
	r->commit = min_u64(max_u64(boot->hs.commit, r->snap.index), raft_last_index(r));
	r->applied = r->snap.index;
	r->hs_saved = (struct raft_hard_state){r->term, r->vote, r->commit};
	r->role = RAFT_FOLLOWER;
	reset_election_timer(r);
	*out = r;
	return 0;
fail:
	raft_free(r);
	return rc;
}

void raft_free(struct raft *r)
{
	if (!r)
		return;
	leader_release_progress(r);
	log_free(r);
	free(r->snap_data);
	free(r->scratch);
	dbuf_deinit(&r->outbuf);
	dbuf_deinit(&r->snap_rx);
	free(r);
}

bool raft_has_ready(const struct raft *r)
{
	return r->bcast_pending || r->snap_unsaved || r->log.stable < raft_last_index(r) ||
	       r->hs_saved.term != r->term || r->hs_saved.vote != r->vote || r->hs_saved.commit != r->commit || r->out_count ||
	       r->applied < r->commit || r->reads_out_count;
}

void raft_ready(struct raft *r, struct raft_ready *rd)
{
	*rd = (struct raft_ready){0};
	if (r->bcast_pending && r->role == RAFT_LEADER)
		leader_broadcast_append(r); /* proposals since the last ready travel together */
	r->bcast_pending = false;
	if (r->snap_unsaved) {
		rd->snap_present = true;
		rd->snap_install = r->snap_install;
		rd->snap = r->snap;
		rd->snap_data = r->snap_data;
		rd->snap_len = r->snap_len;
	}
	uint64_t last = raft_last_index(r);
	if (r->log.stable < last) {
		rd->entries = raft_entry_at(r, r->log.stable + 1);
		rd->entry_count = (size_t)(last - r->log.stable);
	}
	rd->hs = (struct raft_hard_state){r->term, r->vote, r->commit};
	rd->hs_changed = rd->hs.term != r->hs_saved.term || rd->hs.vote != r->hs_saved.vote ||
	                 rd->hs.commit != r->hs_saved.commit; /* fields, not memcmp: the struct has padding */
	for (unsigned i = 0; i < r->out_count; i++)
		r->out[i].buf = r->outbuf.p + r->out_off[i];
	rd->msgs = r->out;
	rd->msg_count = r->out_count;
	assert(r->applied >= r->snap.index);
	if (r->applied < r->commit) {
		rd->committed = raft_entry_at(r, r->applied + 1);
		rd->committed_count = (size_t)(r->commit - r->applied);
	}
	rd->reads = r->reads_out;
	rd->read_count = r->reads_out_count;
	rd->last_index_ = last;
	rd->applied_ = r->commit;
}

void raft_advance(struct raft *r, const struct raft_ready *rd)
{
	r->snap_unsaved = false;
	r->snap_install = false;
	if (rd->last_index_ <= raft_last_index(r))
		r->log.stable = max_u64(r->log.stable, rd->last_index_);
	r->hs_saved = rd->hs;
	r->out_count = 0;
	dbuf_reset(&r->outbuf);
	r->applied = max_u64(r->applied, rd->applied_);
	r->reads_out_count = 0;
	/* The leader counts its own entries only once they are durable (etcd raft does the same). */
	if (r->role == RAFT_LEADER && leader_maybe_commit(r))
		leader_broadcast_append(r);
}
