/* The follower's side: AppendEntries (Raft §5.3), heartbeats, and chunked InstallSnapshot (§7).
 * Must never truncate a committed entry, nor acknowledge an entry it does not hold: every reply leaves in
 * the ready after the entries it vouches for were made durable. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "raft/raft_internal.h"

static void reply_append(struct raft *r, const struct raft_msg *m, bool reject, uint64_t index)
{
	struct raft_msg resp = {.type = RAFT_MSG_APPEND_RESP, .to = m->from, .index = index,
	                        .flags = reject ? RAFT_FLAG_REJECT : 0};
	if (reject) {
		/* Point the leader at our last entry whose term is <= its prev term: one round trip per term. */
		uint64_t hint = log_find_conflict(r, min_u64(m->index, raft_last_index(r)), m->log_term);
		resp.hint_index = hint;
		resp.hint_term = raft_term_at(r, hint);
	}
	send_msg(r, &resp);
}

int follower_append(struct raft *r, const struct raft_msg *m)
{
	if (m->index < r->commit) {
		/* Everything up to our commit index matches the leader's log already (Leader Completeness). */
		reply_append(r, m, false, r->commit);
		return 0;
	}
	if (m->index > raft_last_index(r) || raft_term_at(r, m->index) != m->log_term) {
		reply_append(r, m, true, m->index);
		return 0;
	}
	uint64_t last_new = m->index;
	for (unsigned i = 0; i < m->entry_count; i++) {
		const struct raft_entry *e = &m->entries[i];
		if (e->index <= raft_last_index(r)) {
			if (raft_term_at(r, e->index) == e->term) {
				last_new = e->index;
				continue;
			}
			/* A leader contradicting a committed entry is broken or lying: refuse, never truncate it. */
			if (e->index <= r->commit)
				return ERR_PROTOCOL;
			log_truncate(r, e->index); /* §5.3: a conflicting entry and all that follow it go */
		}
		if (e->type == RAFT_ENTRY_CONF) {
			struct raft_conf c;
			if (raft_conf_decode(e->data, e->len, &c) != 0)
				break; /* a leader never sends this; refuse it and what follows */
		}
		if (log_append(r, e->term, e->type, e->data, e->len) != 0)
			break;
		last_new = e->index;
	}
	/* Commit no further than what this message proved we share with the leader. */
	uint64_t commit = min_u64(m->commit, last_new);
	if (commit > r->commit)
		r->commit = commit;
	reply_append(r, m, false, last_new);
	return 0;
}

void follower_heartbeat(struct raft *r, const struct raft_msg *m)
{
	uint64_t commit = min_u64(m->commit, raft_last_index(r));
	if (commit > r->commit)
		r->commit = commit;
	struct raft_msg resp = {.type = RAFT_MSG_HEARTBEAT_RESP, .to = m->from, .context = m->context};
	send_msg(r, &resp);
}

static void reply_snap(struct raft *r, const struct raft_msg *m, uint64_t offset, bool reject)
{
	struct raft_msg resp = {.type = RAFT_MSG_SNAP_RESP, .to = m->from, .index = m->snap.index,
	                        .log_term = m->snap.term, .offset = offset, .flags = reject ? RAFT_FLAG_REJECT : 0};
	send_msg(r, &resp);
}

static void install(struct raft *r)
{
	struct raft_snap_meta meta = r->snap_rx_meta;
	/* Keep the tail when it extends the snapshot (log matching makes the prefix equal); else drop it all. */
	if (raft_term_at(r, meta.index) == meta.term && meta.index <= raft_last_index(r))
		log_compact(r, meta.index, meta.term);
	else
		log_reset(r, meta.index);
	free(r->snap_data);
	r->snap_data = r->snap_rx.p; /* hand the buffer over */
	r->snap_len = r->snap_rx.len;
	dbuf_init(&r->snap_rx, RAFT_SNAP_DATA_MAX);
	r->snap = meta;
	r->commit = meta.index;
	r->applied = meta.index;
	r->snap_unsaved = true;
	r->snap_install = true;
	r->snap_rx_from = 0;
	conf_refresh(r);
}

void follower_snap(struct raft *r, const struct raft_msg *m)
{
	if (m->snap.index <= r->commit) {
		reply_snap(r, m, m->total, false); /* we already have all of it */
		return;
	}
	bool same = r->snap_rx_from == m->from && r->snap_rx_meta.index == m->snap.index &&
	            r->snap_rx_meta.term == m->snap.term;
	if (!same) {
		if (m->offset != 0) {
			reply_snap(r, m, 0, true);
			return;
		}
		dbuf_reset(&r->snap_rx);
		r->snap_rx_meta = m->snap;
		r->snap_rx_from = m->from;
	}
	if (m->offset != r->snap_rx.len) {
		reply_snap(r, m, r->snap_rx.len, false); /* a duplicate or a gap: say what we hold */
		return;
	}
	if (dbuf_add(&r->snap_rx, m->chunk, m->chunk_len) != 0) {
		r->snap_rx_from = 0;
		reply_snap(r, m, 0, true);
		return;
	}
	if ((m->flags & RAFT_FLAG_DONE) && r->snap_rx.len == m->total) {
		if (!raft_conf_valid(&m->snap.conf)) {
			r->snap_rx_from = 0;
			reply_snap(r, m, 0, true);
			return;
		}
		install(r);
		reply_snap(r, m, m->total, false);
		return;
	}
	reply_snap(r, m, r->snap_rx.len, false);
}
