/* Raft benchmark on the deterministic simulator (method in docs/raft.md):
 *  1. zero-latency mode, three voters, memory storage: commits per second (pipelined proposals) and
 *     commit latency p50/p99 (one proposal at a time), both in host wall-clock time: the cost of the core,
 *     the wire codec and the ready cycle;
 *  2. over many seeds, simulated time from losing the leader to a new leader, against the election timeout.
 * Prints figures; asserts nothing about speed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/sim/scenario.c"
#include "tests/sim/sim.c"
#include "tests/sim/sim_check.c"
#include "tests/sim/sim_run.c"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static uint64_t pct(uint64_t *v, size_t n, double p)
{
	qsort(v, n, sizeof *v, cmp_u64);
	size_t i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i];
}

static void start_cluster(struct sim *s, bool check)
{
	struct sim_opts o;
	sim_opts_default(&o, 42);
	o.max_inflight = 64;
	o.max_msg_entries = 64;
	sim_init(s, &o);
	s->manual_net = true; /* zero latency: every message is delivered as soon as it is sent */
	raft_campaign(s->nodes[1].r);
	sim_process(s, 1);
	sim_stabilize(s);
	if (!check) {
		/* measure the core, not the simulator's own invariant bookkeeping */
		(void)0;
	}
}

static void bench_zero_latency(void)
{
	struct sim s;
	start_cluster(&s, true);
	uint8_t payload[100];
	memset(payload, 'x', sizeof payload);
	/* throughput: 64 proposals, then let the cluster settle; repeat */
	const unsigned rounds = 2000, batch = 64;
	uint64_t t0 = now_ns(), before = s.nodes[1].sm_index;
	for (unsigned i = 0; i < rounds; i++) {
		for (unsigned j = 0; j < batch; j++)
			raft_propose(s.nodes[1].r, payload, sizeof payload, NULL);
		sim_process(&s, 1);
		sim_stabilize(&s);
		struct sim_node *n = &s.nodes[1];
		if (n->sm_index > n->r->snap.index + 4096) {
			uint8_t snap[16 + SIM_SNAP_PAD];
			snap_encode(n->sm_index, n->sm_hash, snap);
			raft_compact(n->r, n->sm_index, snap, sizeof snap);
			sim_process(&s, 1);
		}
	}
	uint64_t t1 = now_ns(), commits = s.nodes[1].sm_index - before;
	printf("raft zero-latency, 3 voters, 100-byte entries, %u in flight: %llu commits in %.2f s = %.0f commits/s%s\n",
	       batch, (unsigned long long)commits, (double)(t1 - t0) / 1e9, (double)commits * 1e9 / (double)(t1 - t0),
	       s.failed ? " (INVARIANT FAILED)" : "");
	/* latency: one proposal at a time, until the leader has applied it */
	const size_t n = 20000;
	uint64_t *lat = malloc(n * sizeof *lat);
	for (size_t i = 0; i < n; i++) {
		uint64_t a = now_ns(), want = s.nodes[1].sm_index + 1;
		sim_propose(&s, 1, payload, sizeof payload);
		sim_stabilize(&s);
		lat[i] = now_ns() - a;
		if (s.nodes[1].sm_index < want)
			printf("  proposal %zu did not commit\n", i);
	}
	uint64_t p50 = pct(lat, n, 0.5), p99 = pct(lat, n, 0.99);
	printf("raft zero-latency commit latency (propose -> applied on the leader, wall clock): p50 %.1f us, "
	       "p99 %.1f us, max %.1f us\n", (double)p50 / 1e3, (double)p99 / 1e3, (double)lat[n - 1] / 1e3);
	free(lat);
	sim_deinit(&s);
}

/* Simulated time: three voters over 1-5 ms links, a proposal every 2 ms for 20 s, commit latency in simulated
 * ms (propose on the leader -> first applied anywhere), which is about one round trip plus the wait for the
 * next ready. */
static void bench_sim_latency(void)
{
	struct sim s;
	struct sim_opts o;
	sim_opts_default(&o, 99);
	o.delay_min_ms = 1;
	o.delay_max_ms = 5;
	sim_init(&s, &o);
	uint8_t payload[100];
	memset(payload, 'z', sizeof payload);
	while (s.now_ms < 1000)
		sim_step_ms(&s);
	s.lat_count = 0;
	while (s.now_ms < 21000 && !s.failed) {
		sim_step_ms(&s);
		uint32_t l = sim_leader(&s);
		if (l && s.now_ms % 2 == 0)
			sim_propose(&s, l, payload, sizeof payload);
	}
	if (s.lat_count) {
		uint64_t p50 = pct(s.lat_samples, s.lat_count, 0.5), p99 = pct(s.lat_samples, s.lat_count, 0.99);
		printf("raft simulated network, 3 voters, 1-5 ms links, 500 proposals/s: %zu commits, commit latency "
		       "p50 %llu ms, p99 %llu ms (simulated)%s\n", s.lat_count, (unsigned long long)p50,
		       (unsigned long long)p99, s.failed ? " (INVARIANT FAILED)" : "");
	}
	sim_deinit(&s);
}

/* One seed: a stable three-node cluster with 1-5 ms links loses its leader at a random moment. */
static int64_t reelect_once(uint64_t seed, unsigned *timeout_ms)
{
	struct sim s;
	struct sim_opts o;
	sim_opts_default(&o, seed);
	o.delay_min_ms = 1;
	o.delay_max_ms = 5;
	o.jitter_ms = 1;
	o.verbose = getenv("BENCH_TRACE") && strtoull(getenv("BENCH_TRACE"), NULL, 10) == seed ? 2 : 0;
	sim_init(&s, &o);
	*timeout_ms = o.election_ticks * o.tick_ms;
	uint64_t settle = 1000 + sim_rand_below(&s, 1000);
	while (s.now_ms < settle)
		sim_step_ms(&s);
	uint32_t old = sim_leader(&s);
	if (!old) {
		sim_deinit(&s);
		return -1;
	}
	uint64_t old_term = s.nodes[old].r->term, t0 = s.now_ms;
	if (o.verbose)
		fprintf(stderr, "crash leader %u at %llu\n", old, (unsigned long long)t0);
	sim_crash(&s, old, false);
	int64_t took = -1;
	while (s.now_ms - t0 < 10000 && !s.failed) {
		sim_step_ms(&s);
		uint32_t l = sim_leader(&s);
		if (l && l != old && s.nodes[l].r->term > old_term) {
			took = (int64_t)(s.now_ms - t0);
			if (getenv("BENCH_DEBUG") && took > 200)
				fprintf(stderr, "seed %llu took %lld ms, terms %llu -> %llu\n", (unsigned long long)seed,
				        (long long)took, (unsigned long long)old_term, (unsigned long long)s.nodes[l].r->term);
			break;
		}
	}
	sim_deinit(&s);
	return took;
}

static void bench_reelection(void)
{
	const size_t seeds = 2000;
	uint64_t *v = malloc(seeds * sizeof *v);
	size_t n = 0, lost = 0;
	unsigned timeout = 0;
	for (uint64_t seed = 1; seed <= seeds; seed++) {
		int64_t t = reelect_once(seed, &timeout);
		if (t < 0)
			lost++;
		else
			v[n++] = (uint64_t)t;
	}
	if (n == 0) {
		printf("raft re-election: no samples\n");
		free(v);
		return;
	}
	uint64_t p50 = pct(v, n, 0.5), p99 = pct(v, n, 0.99);
	printf("raft re-election after leader loss, 3 voters, pre-vote + check-quorum, election timeout %u ms "
	       "(randomized %u-%u), links 1-5 ms, %zu seeds: p50 %llu ms, p99 %llu ms, max %llu ms = %.2fx the "
	       "timeout at p99%s\n", timeout, timeout, 2 * timeout, n, (unsigned long long)p50,
	       (unsigned long long)p99, (unsigned long long)v[n - 1], (double)p99 / timeout,
	       lost ? " (some seeds had no leader)" : "");
	free(v);
}

/* A single voter on the file storage: what an fsync per ready costs, alone and with 64 proposals per ready. */
static void bench_file(void)
{
	char dir[] = "/tmp/ferry-bench-raft-XXXXXX";
	if (!mkdtemp(dir))
		return;
	struct raft_storage *st;
	struct raft_boot boot;
	if (raft_file_open(dir, &st) || st->load(st, &boot))
		return;
	boot.snap.conf = (struct raft_conf){.voter_count = 1, .voters = {1}};
	struct raft_config cfg;
	raft_config_default(&cfg);
	cfg.id = 1;
	struct raft *r;
	if (raft_new(&cfg, &boot, &r))
		return;
	raft_campaign(r);
	uint8_t payload[100];
	memset(payload, 'y', sizeof payload);
	for (unsigned batch = 1; batch <= 64; batch *= 64) {
		const unsigned rounds = batch == 1 ? 300 : 100;
		uint64_t *lat = malloc(rounds * sizeof *lat), t0 = now_ns(), commits = 0;
		for (unsigned i = 0; i < rounds; i++) {
			uint64_t a = now_ns();
			for (unsigned j = 0; j < batch; j++)
				raft_propose(r, payload, sizeof payload, NULL);
			while (raft_has_ready(r)) {
				struct raft_ready rd;
				raft_ready(r, &rd);
				if (raft_storage_persist(st, &rd) != 0) {
					printf("raft file storage: persist failed\n");
					return;
				}
				commits += rd.committed_count;
				raft_advance(r, &rd);
			}
			lat[i] = now_ns() - a;
		}
		uint64_t t1 = now_ns(), p50 = pct(lat, rounds, 0.5), p99 = pct(lat, rounds, 0.99);
		printf("raft file storage (%s), single voter, %u proposal%s per ready: %.0f commits/s, per ready "
		       "p50 %.2f ms p99 %.2f ms (two fdatasyncs each: log, hard state)\n", dir, batch, batch == 1 ? "" : "s",
		       (double)commits * 1e9 / (double)(t1 - t0), (double)p50 / 1e6, (double)p99 / 1e6);
		free(lat);
	}
	raft_free(r);
	st->destroy(st);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		printf("raft file storage: could not remove %s\n", dir);
}

int main(void)
{
	bench_zero_latency();
	bench_sim_latency();
	bench_reelection();
	bench_file();
	return 0;
}
