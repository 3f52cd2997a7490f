/* ferry-sim: the deterministic Raft simulator's command line.
 *   ferry-sim --seed N [-v]                 one seed, verbose on request
 *   ferry-sim --seeds N [--start S] [--regress FILE]   seeds S..S+N-1 plus every seed listed in FILE
 *   ferry-sim --scenario FILE...            scenario files (tests/sim/scenarios, one .txt each)
 * Prints one line per failure with the command that reproduces it, then "sim: P passed, F failed". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"

static uint64_t liveness_max_ms, liveness_sum_ms, commits_sum, liveness_max_seed;

static int run(uint64_t seed, int verbose, unsigned *pass, unsigned *fail)
{
	struct sim_result res;
	sim_run_seed(seed, verbose, &res);
	if (res.ok) {
		(*pass)++;
		liveness_sum_ms += res.liveness_ms;
		commits_sum += res.commits;
		if (res.liveness_ms > liveness_max_ms) {
			liveness_max_ms = res.liveness_ms;
			liveness_max_seed = seed;
		}
		if (verbose)
			printf("sim: seed %llu ok: %llu committed, %llu elections, %llu crashes, %llu snapshots installed, "
			       "%llu reads, liveness %llu ms\n", (unsigned long long)seed, (unsigned long long)res.commits,
			       (unsigned long long)res.elections, (unsigned long long)res.crashes,
			       (unsigned long long)res.snaps, (unsigned long long)res.reads,
			       (unsigned long long)res.liveness_ms);
		return 0;
	}
	(*fail)++;
	printf("sim: FAIL seed %llu: %s\n  reproduce: make sim SEED=%llu   (or: build/sim/ferry-sim --seed %llu -v)\n",
	       (unsigned long long)seed, res.why, (unsigned long long)seed, (unsigned long long)seed);
	return 1;
}

static void run_regress(const char *path, unsigned *pass, unsigned *fail)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "sim: cannot open %s\n", path);
		(*fail)++;
		return;
	}
	char line[256];
	while (fgets(line, sizeof line, f)) {
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p < '0' || *p > '9')
			continue; /* comments and blank lines */
		run(strtoull(p, NULL, 10), 0, pass, fail);
	}
	fclose(f);
}

int main(int argc, char **argv)
{
	uint64_t seed = 0, start = 1, seeds = 0;
	int verbose = 0, one = 0;
	const char *regress = NULL;
	unsigned pass = 0, fail = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			seed = strtoull(argv[++i], NULL, 10);
			one = 1;
		} else if (!strcmp(argv[i], "--seeds") && i + 1 < argc) {
			seeds = strtoull(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--start") && i + 1 < argc) {
			start = strtoull(argv[++i], NULL, 10);
		} else if (!strcmp(argv[i], "--regress") && i + 1 < argc) {
			regress = argv[++i];
		} else if (!strcmp(argv[i], "-v")) {
			verbose++; /* -v -v: trace every message but heartbeats */
		} else if (!strcmp(argv[i], "--scenario")) {
			for (i++; i < argc; i++) {
				if (sim_scenario_run(argv[i], stdout) == 0)
					pass++;
				else
					fail++;
			}
		} else {
			fprintf(stderr, "usage: %s --seed N [-v] | --seeds N [--start S] [--regress FILE] | --scenario FILE...\n",
			        argv[0]);
			return 2;
		}
	}
	if (one)
		run(seed, verbose, &pass, &fail);
	if (regress)
		run_regress(regress, &pass, &fail);
	for (uint64_t i = 0; i < seeds; i++)
		run(start + i, verbose, &pass, &fail);
	if (pass && (seeds || regress))
		printf("sim: liveness after heal: mean %llu ms, max %llu ms (seed %llu); %llu entries committed in all\n",
		       (unsigned long long)(liveness_sum_ms / pass), (unsigned long long)liveness_max_ms,
		       (unsigned long long)liveness_max_seed, (unsigned long long)commits_sum);
	printf("sim: %u passed, %u failed\n", pass, fail);
	return fail ? 1 : 0;
}
