/* The Raft core: a pure state machine (no I/O, no clock, no threads, no globals).
 *
 * Inputs: raft_step() (a decoded message), raft_tick() (one logical clock tick), raft_propose(),
 * raft_propose_conf(), raft_transfer(), raft_read_index(), raft_compact().  Output: a struct raft_ready
 * that the caller takes with raft_ready() and hands back with raft_advance().  The caller must, in order:
 * persist the snapshot, the entries and the hard state, make them durable (fsync), then send the messages,
 * then install the snapshot into its state machine (when snap_install) and apply the committed entries.
 * No other raft_* call may be made between raft_ready() and raft_advance().
 *
 * Given the same seed and the same sequence of inputs the core produces the same outputs (election timeouts
 * come from a PRNG seeded by the caller).  Messages leave the core already encoded in the versioned wire
 * format (raft_msg.h), so the transport only moves bytes.
 *
 * Implemented from the Raft paper (Ongaro & Ousterhout 2014) and Ongaro's thesis (2014): §3.6 pre-vote
 * (thesis §9.6), check-quorum (§6.2), single-server membership change with learners (thesis §4.2), leadership
 * transfer (thesis §3.10), read-index (thesis §6.4), log compaction and chunked InstallSnapshot (§7). */
#ifndef FERRY_RAFT_RAFT_H
#define FERRY_RAFT_RAFT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/dbuf.h"
#include "raft/raft_msg.h"

#define RAFT_OUTBOX_MSGS_MAX 1024           /* messages buffered between two ready cycles */
#define RAFT_OUTBOX_BYTES_MAX (64u << 20)   /* and their encoded bytes */
#define RAFT_INFLIGHT_MAX 256               /* bound of max_inflight */
#define RAFT_READS_MAX 256                  /* pending read-index requests */
#define RAFT_LOG_ENTRIES_MAX (1u << 22)     /* in-memory entries after the last snapshot */

enum raft_role { RAFT_FOLLOWER, RAFT_PRECANDIDATE, RAFT_CANDIDATE, RAFT_LEADER };

struct raft_config {
	uint32_t id;                /* this node, nonzero */
	unsigned election_ticks;    /* timeouts are drawn from [election_ticks, 2 * election_ticks) */
	unsigned heartbeat_ticks;   /* < election_ticks */
	uint64_t seed;              /* election-timeout PRNG; the caller chooses it (deterministic runs) */
	unsigned max_inflight;      /* append messages in flight per follower, 1..RAFT_INFLIGHT_MAX */
	unsigned max_msg_entries;   /* entries per append, 1..RAFT_MSG_ENTRIES_MAX */
	size_t max_msg_bytes;       /* entry bytes per append (one entry always goes) */
	size_t snap_chunk_bytes;    /* InstallSnapshot chunk, 1..RAFT_SNAP_CHUNK_MAX */
	unsigned max_uncommitted;   /* leader: proposals beyond this many uncommitted entries get ERR_FULL */
	bool pre_vote;
	bool check_quorum;
};

/* Sane defaults for everything but id and seed. */
void raft_config_default(struct raft_config *c);

/* What the caller restores from storage on start.  For a brand-new cluster member: all zero except
 * snap.conf, the initial configuration (empty for a node that will be added later). */
struct raft_boot {
	struct raft_hard_state hs;
	struct raft_snap_meta snap;
	const uint8_t *snap_data; /* copied */
	size_t snap_len;
	const struct raft_entry *entries; /* indexes snap.index + 1 ..., data copied */
	size_t entry_count;
};

struct raft_out {
	uint32_t to;
	const uint8_t *buf; /* encoded message, valid until raft_advance() */
	size_t len;
};

struct raft_read {
	uint64_t ctx;   /* the caller's, from raft_read_index() */
	uint64_t index; /* serve the read once the state machine has applied this index */
};

struct raft_ready {
	/* 1. persist (then make durable) */
	bool snap_present;             /* a snapshot to save; with snap_install the log is replaced by it */
	bool snap_install;
	struct raft_snap_meta snap;
	const uint8_t *snap_data;
	size_t snap_len;
	const struct raft_entry *entries; /* append, first dropping any stored entry with index >= entries[0].index */
	size_t entry_count;
	bool hs_changed;
	struct raft_hard_state hs;
	/* 2. send */
	const struct raft_out *msgs;
	size_t msg_count;
	/* 3. apply (after installing the snapshot when snap_install) */
	const struct raft_entry *committed;
	size_t committed_count;
	const struct raft_read *reads;
	size_t read_count;
	/* private */
	uint64_t last_index_, applied_;
};

/* Per-peer replication state on the leader (Raft §5.3; etcd's Progress). */
enum raft_pr_state { RAFT_PR_PROBE, RAFT_PR_REPLICATE, RAFT_PR_SNAPSHOT };
struct raft_progress {
	uint32_t id;
	enum raft_pr_state state;
	uint64_t match, next;
	bool probe_sent;    /* PROBE: one append outstanding; wait for a reply or heartbeat */
	bool recent_active; /* heard from since the last check-quorum round */
	uint64_t inflight[RAFT_INFLIGHT_MAX]; /* REPLICATE: last index of each append in flight (a ring) */
	unsigned inflight_head, inflight_count;
	uint64_t snap_index, snap_offset; /* SNAPSHOT: which snapshot and how much the follower has */
	unsigned stall_ticks; /* ticks without progress while something is in flight */
	uint64_t read_ack_seq; /* highest read-index sequence this peer acknowledged */
};

struct raft_log {
	struct raft_entry *ents; /* ents[i].index == first + i; data owned (malloc) */
	size_t count, cap;
	uint64_t first;          /* snap.index + 1 */
	uint64_t stable;         /* last index handed to the caller for persistence */
};

struct raft_pending_read {
	uint64_t seq, ctx, index;
};

/* All fields are read-only to callers (tests and the simulator inspect them). */
struct raft {
	struct raft_config cfg;
	enum raft_role role;
	uint64_t term;
	uint32_t vote;
	uint32_t leader;
	uint64_t commit, applied;
	struct raft_log log;
	struct raft_snap_meta snap;
	uint8_t *snap_data; /* owned */
	size_t snap_len;
	bool snap_unsaved, snap_install;
	struct raft_conf conf;  /* the latest configuration in the log (thesis §4.1) */
	uint64_t conf_index;    /* its entry, or the snapshot index */
	struct raft_hard_state hs_saved;

	unsigned election_elapsed, heartbeat_elapsed, election_timeout;
	uint64_t rng;
	uint32_t votes_granted[RAFT_NODES_MAX], votes_rejected[RAFT_NODES_MAX];
	unsigned grant_count, reject_count;
	bool prevote_rejected;     /* a pre-election was refused once since we last had a leader: retry soon */

	struct raft_progress *prs; /* leader only; one per member but self */
	unsigned pr_count;
	uint64_t term_start;       /* leader: index of its first entry in this term */
	uint32_t transferee;
	unsigned transfer_elapsed;
	bool bcast_pending;        /* proposals not yet sent: raft_ready() batches them */

	/* follower: snapshot being received in chunks */
	struct dbuf snap_rx;
	struct raft_snap_meta snap_rx_meta;
	uint32_t snap_rx_from;

	struct raft_pending_read reads[RAFT_READS_MAX];
	unsigned read_count;
	uint64_t read_seq;
	struct raft_read reads_out[RAFT_READS_MAX];
	unsigned reads_out_count;

	struct dbuf outbuf;
	struct raft_out out[RAFT_OUTBOX_MSGS_MAX];
	size_t out_off[RAFT_OUTBOX_MSGS_MAX];
	unsigned out_count;
	uint64_t dropped_msgs;     /* outbox overflow: counted, Raft tolerates loss */
	uint8_t *scratch;          /* one encoded message */
	size_t scratch_cap;
};

/* Heap-allocate a node and restore it from boot (which the caller may free afterwards). */
int raft_new(const struct raft_config *cfg, const struct raft_boot *boot, struct raft **out);
void raft_free(struct raft *r);

void raft_tick(struct raft *r);
/* Feed a decoded message (what the node keeps is copied; m may be freed after).  ERR_INVAL when it is not
 * addressed to this node; ERR_PROTOCOL when a peer breaks the protocol (a second leader in our term, an
 * append contradicting a committed entry): the message is refused, the caller should log the peer. */
int raft_step(struct raft *r, const struct raft_msg *m);
/* Decode and step: ERR_MALFORMED etc. for bad bytes (the message is dropped, the node unchanged). */
int raft_step_bytes(struct raft *r, const uint8_t *buf, size_t len);

/* Leader only (ERR_RAFT_NOT_LEADER otherwise); data copied.  *index gets the entry's index when non-NULL.
 * ERR_FULL when max_uncommitted entries already wait for a quorum (backpressure: a leader cut off from its
 * followers must not buffer without bound). */
int raft_propose(struct raft *r, const void *data, size_t len, uint64_t *index);
/* Single-server change: the voter sets of conf and the current one differ by at most one id; learners are
 * free.  ERR_RAFT_CONF_PENDING while an earlier change is uncommitted or before the leader committed an entry
 * of its term; ERR_RAFT_CONF_INVALID for a bad configuration. */
int raft_propose_conf(struct raft *r, const struct raft_conf *conf, uint64_t *index);
/* Hand leadership to a caught-up voter (thesis §3.10).  Proposals are refused while it is under way. */
int raft_transfer(struct raft *r, uint32_t to);
/* Linearizable read (thesis §6.4): the answer arrives in a later ready's reads. */
int raft_read_index(struct raft *r, uint64_t ctx);
/* Drop the log up to index (<= applied) after the caller serialised its state machine at index into data
 * (copied).  The snapshot appears in the next ready for the caller to save. */
int raft_compact(struct raft *r, uint64_t index, const void *data, size_t len);
/* Start an election now (tests, the simulator, operator action). */
void raft_campaign(struct raft *r);

bool raft_has_ready(const struct raft *r);
void raft_ready(struct raft *r, struct raft_ready *rd);
void raft_advance(struct raft *r, const struct raft_ready *rd);

/* Helpers over the in-memory log. */
uint64_t raft_last_index(const struct raft *r);
/* Term at index; 0 when index is 0 or out of the log (compacted or beyond the end). */
uint64_t raft_term_at(const struct raft *r, uint64_t index);
const struct raft_entry *raft_entry_at(const struct raft *r, uint64_t index);
bool raft_conf_has_voter(const struct raft_conf *c, uint32_t id);
bool raft_conf_has_learner(const struct raft_conf *c, uint32_t id);
const char *raft_role_name(enum raft_role role);

#endif
