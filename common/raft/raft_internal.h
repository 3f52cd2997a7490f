/* Shared between the Raft core's files; not part of the API. */
#ifndef FERRY_RAFT_INTERNAL_H
#define FERRY_RAFT_INTERNAL_H

#include "base/err.h"
#include "raft/raft.h"

/* raft_log.c: the in-memory log after the snapshot. */
int log_append(struct raft *r, uint64_t term, uint8_t type, const void *data, size_t len);
/* Drop entries with index >= from; asserts from > commit (committed entries are never truncated, §5.4). */
void log_truncate(struct raft *r, uint64_t from);
void log_compact(struct raft *r, uint64_t upto, uint64_t upto_term);
void log_reset(struct raft *r, uint64_t snap_index);
void log_free(struct raft *r);
/* Recompute r->conf after a truncation or a snapshot: the latest configuration in the log wins. */
void conf_refresh(struct raft *r);
/* Largest index <= index whose term is <= term (fast backtracking); at least the snapshot index. */
uint64_t log_find_conflict(const struct raft *r, uint64_t index, uint64_t term);
bool log_up_to_date(const struct raft *r, uint64_t last_index, uint64_t last_term);

/* raft.c */
void send_msg(struct raft *r, struct raft_msg *m);
void become_follower(struct raft *r, uint64_t term, uint32_t leader);
bool is_voter(const struct raft *r, uint32_t id);
unsigned quorum(const struct raft *r);

/* raft_repl.c: the leader's side. */
void leader_start(struct raft *r);
void leader_tick(struct raft *r);
void leader_step(struct raft *r, const struct raft_msg *m);
void leader_broadcast_append(struct raft *r);
void leader_conf_changed(struct raft *r);
bool leader_maybe_commit(struct raft *r);
void leader_release_progress(struct raft *r);
struct raft_progress *progress_of(struct raft *r, uint32_t id);

/* raft_follow.c: the follower's side of append, heartbeat and snapshot. */
int follower_append(struct raft *r, const struct raft_msg *m); /* ERR_PROTOCOL: contradicts a commit */
void follower_heartbeat(struct raft *r, const struct raft_msg *m);
void follower_snap(struct raft *r, const struct raft_msg *m);

static inline uint64_t min_u64(uint64_t a, uint64_t b) { return a < b ? a : b; }
static inline uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

#endif
