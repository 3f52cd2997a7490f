/* Runs every scenario file in tests/sim/scenarios (Raft §5.4.1, figure 8, membership, pre-vote, transfer,
 * read-index, snapshots) and a few random simulator seeds, with the simulator's invariants checked after
 * every event.  The simulator's sources are compiled in here (they are test code, not a library). */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tests/sim/scenario.c"
#include "tests/sim/sim.c"
#include "tests/sim/sim_check.c"
#include "tests/sim/sim_run.c"

#define SCEN_DIR "tests/sim/scenarios"

static int by_name(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static void test_all_scenarios(void **state)
{
	(void)state;
	DIR *d = opendir(SCEN_DIR);
	assert_non_null(d);
	char *names[128];
	unsigned n = 0;
	struct dirent *de;
	while ((de = readdir(d)) && n < 128) {
		size_t len = strlen(de->d_name);
		if (len > 4 && !strcmp(de->d_name + len - 4, ".txt"))
			names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof names[0], by_name);
	assert_true(n >= 8);
	unsigned failed = 0;
	for (unsigned i = 0; i < n; i++) {
		char path[512];
		snprintf(path, sizeof path, "%s/%s", SCEN_DIR, names[i]);
		if (sim_scenario_run(path, stderr) != 0)
			failed++;
		free(names[i]);
	}
	assert_int_equal(failed, 0);
}

/* The scenario language itself: a wrong expectation must fail (no test that cannot fail). */
static void test_scenario_detects_wrong_expectation(void **state)
{
	(void)state;
	char path[] = "/tmp/ferry-scen-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fputs("nodes 3\ncampaign 1\nstabilize\nexpect leader 2\n", f);
	fclose(f);
	FILE *devnull = fopen("/dev/null", "w");
	assert_int_not_equal(sim_scenario_run(path, devnull), 0);
	fclose(devnull);
	remove(path);
}

static void test_random_seeds(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 10; seed++) {
		struct sim_result res;
		sim_run_seed(seed, 0, &res);
		if (!res.ok)
			fail_msg("seed %llu: %s (make sim SEED=%llu)", (unsigned long long)seed, res.why,
			         (unsigned long long)seed);
		assert_true(res.commits > 100);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_all_scenarios),
		cmocka_unit_test(test_scenario_detects_wrong_expectation),
		cmocka_unit_test(test_random_seeds),
	};
	return cmocka_run_group_tests_name("raft/scenarios", tests, NULL, NULL);
}
