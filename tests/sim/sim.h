/* Deterministic Raft simulator: single-threaded, seeded, simulated clock.  It runs the real core
 * (common/raft) over in-memory storage (raft_mem) and a simulated network, injects faults, and checks the
 * safety invariants after every event.  Used by the randomized runner (sim_main.c, `make sim`), the scenario
 * interpreter (scenario.c), the unit tests and the benchmark. */
#ifndef FERRY_SIM_H
#define FERRY_SIM_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "raft/raft.h"
#include "raft/storage.h"

#define SIM_NODES_MAX 7
#define SIM_TERMS_MAX 100000
#define SIM_SNAP_PAD 300 /* snapshot bytes beyond the state, so InstallSnapshot takes several chunks */

struct sim_msg {
	uint64_t at_ms, seq;
	uint32_t from, to;
	uint8_t type;
	uint8_t *buf;
	size_t len;
};

struct sim_node {
	uint32_t id;
	bool exists, up;
	struct raft *r;
	struct raft_mem *st;
	uint64_t next_tick_ms;
	/* the state machine: a running hash of applied entries */
	uint64_t sm_index, sm_hash;
	/* invariant bookkeeping */
	uint64_t durable_term, durable_commit;
	uint32_t durable_vote;
	uint64_t seen_commit, seen_term;
	enum raft_role seen_role;
	uint64_t lead_term, lead_last, lead_last_term;
	uint64_t lm_checked, lm_checked_term;
	uint64_t applied_count, restarts;
	struct raft_storage *shadow; /* file storage holding what raft_mem made durable */
	char shadow_dir[64];
};

struct sim_entry_key {
	uint64_t index, term, hash, prev_term;
	bool used;
};

struct sim_read {
	uint64_t ctx, min_index;
	uint32_t node;
	uint64_t term;
};

struct sim_opts {
	uint64_t seed;
	unsigned voters;            /* initial voters 1..voters */
	unsigned spare;             /* extra nodes that may be added later */
	unsigned tick_ms, jitter_ms;
	unsigned election_ticks, heartbeat_ticks;
	unsigned drop_pct, dup_pct; /* per message */
	unsigned delay_min_ms, delay_max_ms;
	bool pre_vote, check_quorum;
	unsigned compact_every;     /* take a snapshot after this many applied entries (0 = never) */
	unsigned max_inflight;
	unsigned max_msg_entries;
	bool file_shadow;           /* mirror every durable write into a raft_file and compare on restart */
	int verbose;
};

struct sim {
	struct sim_opts o;
	uint64_t rng, now_ms, seq;
	struct sim_node nodes[SIM_NODES_MAX + 1]; /* index = id */
	unsigned node_count;
	bool link[SIM_NODES_MAX + 1][SIM_NODES_MAX + 1]; /* link[a][b]: a's messages reach b */
	bool manual_net;                                 /* scenarios: messages wait for deliver commands */
	uint32_t crash_persist;                          /* crash this node in the middle of its next persist */
	struct sim_msg *q;
	size_t q_len, q_cap;
	/* invariants */
	uint32_t *leader_of_term; /* [SIM_TERMS_MAX] */
	uint64_t *committed_term, *committed_hash, *sm_hash_at; /* by index */
	uint64_t committed_len, committed_cap;
	struct sim_entry_key *ekeys;
	size_t ekey_cap, ekey_count;
	struct sim_read reads[64];
	unsigned read_count;
	uint64_t read_ctx;
	/* outcome */
	bool failed;
	char why[512];
	/* statistics */
	uint64_t msgs_sent, msgs_dropped, proposals, crashes, elections, snaps_installed, reads_served;
	uint64_t commit_lat_sum_ms, commit_lat_count;
	uint64_t *propose_at; /* [index] when the entry was proposed, for latency */
	uint64_t *lat_samples;
	size_t lat_count, lat_cap;
};

void sim_opts_default(struct sim_opts *o, uint64_t seed);
int sim_init(struct sim *s, const struct sim_opts *o);
void sim_deinit(struct sim *s);

/* Node control. */
void sim_crash(struct sim *s, uint32_t id, bool torn);
int sim_restart(struct sim *s, uint32_t id);
int sim_propose(struct sim *s, uint32_t id, const void *data, size_t len);
uint32_t sim_leader(const struct sim *s); /* the leader with the highest term among up nodes, 0 if none */
void sim_process(struct sim *s, uint32_t id); /* run the ready cycle until quiet (persist, send, apply) */
void sim_tick(struct sim *s, uint32_t id);
int sim_read(struct sim *s, uint32_t id);

/* Network. */
void sim_partition(struct sim *s, const uint32_t *group, unsigned n); /* group vs the rest, both ways */
void sim_heal(struct sim *s);
/* Deliver queued messages matching the filters (0 = any) in order; returns how many. */
size_t sim_deliver(struct sim *s, uint32_t from, uint32_t to, int type, size_t max);
size_t sim_drop(struct sim *s, uint32_t from, uint32_t to, int type);
/* Deliver everything (repeatedly) until no message is in flight; bounded. */
void sim_stabilize(struct sim *s);

/* Advance simulated time by one millisecond: deliveries and ticks due. */
void sim_step_ms(struct sim *s);

/* Check every invariant now; records the first failure in s->why. */
void sim_check(struct sim *s);
void sim_dump(const struct sim *s, FILE *f);
/* With file_shadow: every node's file storage, reopened, must equal its memory storage. */
void sim_shadow_check_all(struct sim *s);
void sim_fail(struct sim *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

uint64_t sim_rand(struct sim *s);
uint64_t sim_entry_hash(const struct raft_entry *e); /* type and data */
void sim_grow(struct sim *s, uint64_t index); /* index arrays cover index */
static inline uint64_t sim_rand_below(struct sim *s, uint64_t n) { return n ? sim_rand(s) % n : 0; }

/* The randomized fault schedule over one seed (sim_run.c).  Returns 0 when every invariant held and the
 * liveness check passed.  *elect_ms gets the re-election samples when non-NULL. */
struct sim_result {
	bool ok;
	char why[512];
	uint64_t commits, elections, crashes, snaps, reads, liveness_ms;
};
void sim_run_seed(uint64_t seed, int verbose, struct sim_result *res);

/* Scenario interpreter (scenario.c): runs one file; 0 on success, else prints the failing line to err. */
int sim_scenario_run(const char *path, FILE *err);

#endif
