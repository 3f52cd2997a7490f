/* One randomized run: a seed picks the cluster and the fault mix, then a chaos phase (faults, crashes,
 * membership changes, snapshots, transfers, reads, steady proposals) and a liveness phase (network healed,
 * everyone restarted: a leader must appear and a proposal must commit within a bound). */
#include <stdio.h>
#include <string.h>

#include "sim.h"

#define CHAOS_MS 20000
#define LIVENESS_BOUND_MS 10000

struct chaos {
	uint64_t restart_at[SIM_NODES_MAX + 1];
	uint32_t flap_a, flap_b;
	uint64_t flap_until;
};

static void pick_opts(struct sim_opts *o, uint64_t seed, struct sim *rng)
{
	sim_opts_default(o, seed);
	o->voters = sim_rand_below(rng, 4) == 0 ? 5 : 3;
	o->spare = (unsigned)sim_rand_below(rng, 3);
	o->jitter_ms = (unsigned)sim_rand_below(rng, 4);
	o->heartbeat_ticks = 1 + (unsigned)sim_rand_below(rng, 3);
	o->drop_pct = (unsigned)sim_rand_below(rng, 4) == 0 ? 0 : (unsigned)sim_rand_below(rng, 15);
	o->dup_pct = (unsigned)sim_rand_below(rng, 6);
	o->delay_min_ms = 1;
	o->delay_max_ms = 2 + (unsigned)sim_rand_below(rng, 30);
	o->pre_vote = sim_rand_below(rng, 5) != 0;
	o->check_quorum = sim_rand_below(rng, 5) != 0;
	o->compact_every = sim_rand_below(rng, 4) == 0 ? 0 : 10 + (unsigned)sim_rand_below(rng, 60);
	static const unsigned inflight[] = {1, 2, 8, 64};
	o->max_inflight = inflight[sim_rand_below(rng, 4)];
	o->file_shadow = seed % 10 == 0; /* one seed in ten also checks raft_file against raft_mem */
}

static uint32_t random_node(struct sim *s) { return 1 + (uint32_t)sim_rand_below(s, s->node_count); }

static void change_membership(struct sim *s, uint32_t leader)
{
	struct raft_conf c = s->nodes[leader].r->conf;
	uint64_t pick = sim_rand_below(s, 4);
	if (c.learner_count && pick < 2) {
		/* promote a learner */
		unsigned i = (unsigned)sim_rand_below(s, c.learner_count);
		if (c.voter_count >= RAFT_NODES_MAX)
			return;
		c.voters[c.voter_count++] = c.learners[i];
		c.learners[i] = c.learners[--c.learner_count];
	} else if (pick == 2 && c.voter_count > 2) {
		unsigned i = (unsigned)sim_rand_below(s, c.voter_count);
		c.voters[i] = c.voters[--c.voter_count];
	} else if (pick == 3 && c.learner_count) {
		unsigned i = (unsigned)sim_rand_below(s, c.learner_count);
		c.learners[i] = c.learners[--c.learner_count];
	} else {
		uint32_t id = random_node(s);
		if (raft_conf_has_voter(&c, id) || raft_conf_has_learner(&c, id))
			return;
		c.learners[c.learner_count++] = id;
	}
	raft_propose_conf(s->nodes[leader].r, &c, NULL);
	sim_process(s, leader);
}

static void chaos_event(struct sim *s, struct chaos *ch)
{
	uint32_t leader = sim_leader(s);
	uint64_t ev = sim_rand_below(s, 13);
	switch (ev) {
	case 0: { /* random partition */
		uint32_t group[SIM_NODES_MAX];
		unsigned n = 0;
		for (uint32_t id = 1; id <= s->node_count; id++)
			if (sim_rand_below(s, 2))
				group[n++] = id;
		sim_partition(s, group, n);
		break;
	}
	case 1: /* isolate the leader */
		if (leader)
			sim_partition(s, &leader, 1);
		break;
	case 2: { /* asymmetric: a's messages stop reaching b */
		uint32_t a = random_node(s), b = random_node(s);
		s->link[a][b] = false;
		break;
	}
	case 3:
	case 4:
		sim_heal(s);
		break;
	case 5: /* flapping link */
		ch->flap_a = random_node(s);
		ch->flap_b = random_node(s);
		ch->flap_until = s->now_ms + 500 + sim_rand_below(s, 1500);
		break;
	case 6: { /* crash, possibly in the middle of a persist (torn write) */
		uint32_t id = sim_rand_below(s, 3) == 0 && leader ? leader : random_node(s);
		if (sim_rand_below(s, 2))
			s->crash_persist = id;
		else
			sim_crash(s, id, false);
		break;
	}
	case 7:
	case 8:
		if (leader)
			change_membership(s, leader);
		break;
	case 9:
		if (leader) {
			const struct raft_conf *c = &s->nodes[leader].r->conf;
			if (c->voter_count)
				raft_transfer(s->nodes[leader].r, c->voters[sim_rand_below(s, c->voter_count)]);
			sim_process(s, leader);
		}
		break;
	case 10: /* fsync failure: the node must stop; what it wrote since the last sync may or may not be there */
		raft_mem_fail_sync(s->nodes[random_node(s)].st, true);
		break;
	default:
		if (leader)
			sim_read(s, leader);
		break;
	}
	for (uint32_t id = 1; id <= s->node_count; id++)
		if (!s->nodes[id].up && !ch->restart_at[id])
			ch->restart_at[id] = s->now_ms + 50 + sim_rand_below(s, 1500);
}

static void chaos_ms(struct sim *s, struct chaos *ch, uint64_t *payload)
{
	if (sim_rand_below(s, 5) == 0) {
		uint32_t leader = sim_leader(s);
		if (leader) {
			uint8_t buf[24];
			uint64_t v = ++*payload;
			size_t len = 1 + (size_t)sim_rand_below(s, sizeof buf - 1);
			for (size_t i = 0; i < len; i++)
				buf[i] = (uint8_t)(v >> (i % 8 * 8));
			sim_propose(s, leader, buf, len);
		}
	}
	if (sim_rand_below(s, 100) == 0)
		chaos_event(s, ch);
	if (ch->flap_until > s->now_ms && sim_rand_below(s, 40) == 0) {
		s->link[ch->flap_a][ch->flap_b] = !s->link[ch->flap_a][ch->flap_b];
		s->link[ch->flap_b][ch->flap_a] = s->link[ch->flap_a][ch->flap_b];
	}
	for (uint32_t id = 1; id <= s->node_count; id++) {
		if (ch->restart_at[id] && ch->restart_at[id] <= s->now_ms) {
			ch->restart_at[id] = 0;
			sim_restart(s, id);
		}
	}
}

/* After the heal: a leader must be elected and a fresh proposal must commit on it. */
static void liveness(struct sim *s, struct sim_result *res)
{
	sim_heal(s);
	s->o.drop_pct = 0;
	s->o.dup_pct = 0;
	s->crash_persist = 0;
	for (uint32_t id = 1; id <= s->node_count; id++) {
		raft_mem_fail_sync(s->nodes[id].st, false);
		sim_restart(s, id);
	}
	uint64_t start = s->now_ms, probe_index = 0, probe_term = 0;
	uint32_t probe_node = 0;
	while (!s->failed && s->now_ms - start < LIVENESS_BOUND_MS) {
		sim_step_ms(s);
		uint32_t leader = sim_leader(s);
		if (!leader)
			continue;
		struct sim_node *n = &s->nodes[leader];
		if (probe_node != leader || probe_term != n->r->term) {
			static const char probe[] = "liveness";
			if (raft_propose(n->r, probe, sizeof probe, &probe_index) != 0)
				continue;
			probe_node = leader;
			probe_term = n->r->term;
			sim_process(s, leader);
			continue;
		}
		if (n->sm_index >= probe_index && raft_term_at(n->r, probe_index) == probe_term) {
			res->liveness_ms = s->now_ms - start;
			if (s->o.verbose) {
				fprintf(stderr, "sim: liveness reached after %llu ms\n", (unsigned long long)res->liveness_ms);
				sim_dump(s, stderr);
			}
			return;
		}
	}
	if (!s->failed)
		sim_fail(s, "liveness: no proposal committed within %u ms of the heal (leader %u)", LIVENESS_BOUND_MS,
		         sim_leader(s));
}

void sim_run_seed(uint64_t seed, int verbose, struct sim_result *res)
{
	memset(res, 0, sizeof *res);
	struct sim s;
	struct sim rng = {.rng = seed * 0x2545f4914f6cdd1dull + 1};
	struct sim_opts o;
	pick_opts(&o, seed, &rng);
	o.verbose = verbose;
	if (verbose)
		fprintf(stderr, "sim: seed %llu voters %u spare %u drop %u%% dup %u%% delay 1-%u ms prevote %d "
		        "checkquorum %d compact %u inflight %u file %d\n", (unsigned long long)seed, o.voters, o.spare,
		        o.drop_pct, o.dup_pct, o.delay_max_ms, o.pre_vote, o.check_quorum, o.compact_every,
		        o.max_inflight, o.file_shadow);
	sim_init(&s, &o);
	struct chaos ch = {0};
	uint64_t payload = 0;
	while (!s.failed && s.now_ms < CHAOS_MS) {
		sim_step_ms(&s);
		chaos_ms(&s, &ch, &payload);
	}
	if (!s.failed)
		liveness(&s, res);
	if (!s.failed)
		sim_shadow_check_all(&s);
	if (s.failed && verbose)
		sim_dump(&s, stderr);
	res->ok = !s.failed;
	memcpy(res->why, s.why, sizeof res->why);
	res->commits = s.committed_len;
	res->elections = s.elections;
	res->crashes = s.crashes;
	res->snaps = s.snaps_installed;
	res->reads = s.reads_served;
	sim_deinit(&s);
}
