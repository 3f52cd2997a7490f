/* Scenario files: a tiny line-oriented language that drives the simulator by hand (after etcd raft's
 * testdata files).  Messages wait in the network until a command delivers or drops them; time moves only by
 * `tick`.  Every command also runs the simulator's invariant checks.  See tests/sim/scenarios/README. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "sim.h"

#define ARGS_MAX 16

struct scen {
	struct sim s;
	bool have;
	const char *path;
	unsigned line;
	FILE *err;
};

__attribute__((format(printf, 2, 3))) static int bad(struct scen *sc, const char *fmt, ...)
{
	fprintf(sc->err, "%s:%u: ", sc->path, sc->line);
	va_list ap;
	va_start(ap, fmt);
	vfprintf(sc->err, fmt, ap);
	va_end(ap);
	fputc('\n', sc->err);
	return -1;
}

static uint32_t node_arg(struct scen *sc, const char *a)
{
	unsigned long v = a ? strtoul(a, NULL, 10) : 0;
	if (!sc->have || v == 0 || v > sc->s.node_count)
		return 0;
	return (uint32_t)v;
}

static int msg_type(const char *name)
{
	for (int t = 1; t < RAFT_MSG_TYPE_END; t++)
		if (!strcmp(raft_msg_type_name((uint8_t)t), name))
			return t;
	return -1;
}

/* deliver/drop filters: from=A to=B type=T n=K */
static int filters(struct scen *sc, char **av, int ac, uint32_t *from, uint32_t *to, int *type, size_t *n)
{
	*from = *to = 0;
	*type = 0;
	*n = SIZE_MAX;
	for (int i = 1; i < ac; i++) {
		if (!strncmp(av[i], "from=", 5))
			*from = node_arg(sc, av[i] + 5);
		else if (!strncmp(av[i], "to=", 3))
			*to = node_arg(sc, av[i] + 3);
		else if (!strncmp(av[i], "type=", 5) && (*type = msg_type(av[i] + 5)) > 0)
			continue;
		else if (!strncmp(av[i], "n=", 2))
			*n = strtoul(av[i] + 2, NULL, 10);
		else
			return bad(sc, "bad filter '%s'", av[i]);
	}
	return 0;
}

static int cmd_nodes(struct scen *sc, char **av, int ac)
{
	struct sim_opts o;
	sim_opts_default(&o, 1);
	unsigned n = ac > 1 ? (unsigned)strtoul(av[1], NULL, 10) : 3;
	o.voters = n;
	o.pre_vote = o.check_quorum = false;
	for (int i = 2; i + 1 < ac; i += 2) {
		unsigned v = (unsigned)strtoul(av[i + 1], NULL, 10);
		bool on = !strcmp(av[i + 1], "on");
		if (!strcmp(av[i], "voters"))
			o.voters = v;
		else if (!strcmp(av[i], "prevote"))
			o.pre_vote = on;
		else if (!strcmp(av[i], "checkquorum"))
			o.check_quorum = on;
		else if (!strcmp(av[i], "election"))
			o.election_ticks = v;
		else if (!strcmp(av[i], "maxmsg"))
			o.max_msg_entries = v;
		else if (!strcmp(av[i], "compact"))
			o.compact_every = v;
		else
			return bad(sc, "unknown option '%s'", av[i]);
	}
	if (n == 0 || n > SIM_NODES_MAX || o.voters > n)
		return bad(sc, "bad node count");
	o.spare = n - o.voters;
	if (sc->have)
		sim_deinit(&sc->s);
	sim_init(&sc->s, &o);
	sc->s.manual_net = true;
	sc->have = true;
	return 0;
}

static int change_conf(struct scen *sc, const char *op, uint32_t leader, uint32_t id)
{
	struct raft_conf c = sc->s.nodes[leader].r->conf, out = {0};
	for (unsigned i = 0; i < c.voter_count; i++)
		if (c.voters[i] != id)
			out.voters[out.voter_count++] = c.voters[i];
	for (unsigned i = 0; i < c.learner_count; i++)
		if (c.learners[i] != id)
			out.learners[out.learner_count++] = c.learners[i];
	if (!strcmp(op, "add-learner"))
		out.learners[out.learner_count++] = id;
	else if (!strcmp(op, "promote") || !strcmp(op, "add-voter"))
		out.voters[out.voter_count++] = id;
	int rc = raft_propose_conf(sc->s.nodes[leader].r, &out, NULL);
	sim_process(&sc->s, leader);
	return rc;
}

static int expect(struct scen *sc, char **av, int ac)
{
	if (ac < 3)
		return bad(sc, "expect needs a subject and a value");
	const char *what = av[1];
	if (!strcmp(what, "leader")) {
		uint32_t want = !strcmp(av[2], "none") ? 0 : node_arg(sc, av[2]);
		if (sim_leader(&sc->s) != want)
			return bad(sc, "expected leader %s, have %u", av[2], sim_leader(&sc->s));
		return 0;
	}
	uint32_t id = node_arg(sc, av[2]);
	if (!id)
		return bad(sc, "bad node '%s'", av[2]);
	struct sim_node *n = &sc->s.nodes[id];
	if (!strcmp(what, "down"))
		return n->up ? bad(sc, "node %s is up", av[2]) : 0;
	if (!n->up)
		return bad(sc, "node %s is down", av[2]);
	const struct raft *r = n->r;
	if (!strcmp(what, "role")) {
		if (ac < 4 || strcmp(raft_role_name(r->role), av[3]))
			return bad(sc, "node %s has role %s", av[2], raft_role_name(r->role));
		return 0;
	}
	if (ac < 4)
		return bad(sc, "expect %s needs a value", what);
	uint64_t v = strtoull(av[3], NULL, 10), have;
	if (!strcmp(what, "term"))
		have = r->term;
	else if (!strcmp(what, "commit"))
		have = r->commit;
	else if (!strcmp(what, "last"))
		have = raft_last_index(r);
	else if (!strcmp(what, "applied"))
		have = n->sm_index;
	else if (!strcmp(what, "vote"))
		have = r->vote;
	else if (!strcmp(what, "snap"))
		have = r->snap.index;
	else if (!strcmp(what, "voters"))
		have = r->conf.voter_count;
	else if (!strcmp(what, "reads"))
		have = sc->s.reads_served;
	else if (!strcmp(what, "log-term") && ac >= 5) {
		have = raft_term_at(r, v);
		v = strtoull(av[4], NULL, 10);
	} else
		return bad(sc, "unknown expectation '%s'", what);
	if (have != v) {
		return bad(sc, "expect %s: have %llu, want %llu", what, (unsigned long long)have, (unsigned long long)v);
	}
	return 0;
}

static int exec(struct scen *sc, char **av, int ac)
{
	const char *c = av[0];
	if (!strcmp(c, "nodes"))
		return cmd_nodes(sc, av, ac);
	if (!sc->have)
		return bad(sc, "'nodes' must come first");
	struct sim *s = &sc->s;
	uint32_t id = ac > 1 ? node_arg(sc, av[1]) : 0;
	if (!strcmp(c, "expect"))
		return expect(sc, av, ac);
	if (!strcmp(c, "stabilize")) {
		sim_stabilize(s);
		return 0;
	}
	if (!strcmp(c, "dump")) {
		sim_dump(s, sc->err);
		return 0;
	}
	if (!strcmp(c, "heal")) {
		sim_heal(s);
		return 0;
	}
	if (!strcmp(c, "deliver") || !strcmp(c, "drop")) {
		uint32_t from, to;
		int type;
		size_t n;
		if (filters(sc, av, ac, &from, &to, &type, &n))
			return -1;
		if (c[1] == 'e')
			sim_deliver(s, from, to, type, n);
		else
			sim_drop(s, from, to, type);
		return 0;
	}
	if (!strcmp(c, "partition")) {
		uint32_t g[SIM_NODES_MAX];
		unsigned n = 0;
		for (int i = 1; i < ac && n < SIM_NODES_MAX; i++)
			if ((g[n] = node_arg(sc, av[i])))
				n++;
		sim_partition(s, g, n);
		return 0;
	}
	if (!strcmp(c, "tick-all")) {
		unsigned count = ac > 1 ? (unsigned)strtoul(av[1], NULL, 10) : 1;
		for (unsigned k = 0; k < count; k++)
			for (uint32_t i = 1; i <= s->node_count; i++)
				sim_tick(s, i);
		return 0;
	}
	if (!id)
		return bad(sc, "'%s' needs a node id", c);
	struct sim_node *n = &s->nodes[id];
	if (!strcmp(c, "crash")) {
		sim_crash(s, id, false);
		return 0;
	}
	if (!strcmp(c, "restart"))
		return sim_restart(s, id) ? bad(sc, "restart failed") : 0;
	if (!n->up)
		return bad(sc, "node %s is down", av[1]);
	if (!strcmp(c, "campaign")) {
		raft_campaign(n->r);
		sim_process(s, id);
	} else if (!strcmp(c, "tick")) {
		unsigned count = ac > 2 ? (unsigned)strtoul(av[2], NULL, 10) : 1;
		for (unsigned k = 0; k < count && n->up; k++)
			sim_tick(s, id);
	} else if (!strcmp(c, "propose")) {
		const char *data = ac > 2 ? av[2] : "x";
		int rc = sim_propose(s, id, data, strlen(data));
		bool want_fail = ac > 3 && !strcmp(av[3], "fails");
		if ((rc != 0) != want_fail)
			return bad(sc, "propose: %s", err_name(rc));
	} else if (!strcmp(c, "read")) {
		int rc = sim_read(s, id);
		if (rc)
			return bad(sc, "read: %s", err_name(rc));
	} else if (!strcmp(c, "transfer")) {
		int rc = raft_transfer(n->r, node_arg(sc, ac > 2 ? av[2] : NULL));
		sim_process(s, id);
		if (rc)
			return bad(sc, "transfer: %s", err_name(rc));
	} else if (!strcmp(c, "add-learner") || !strcmp(c, "promote") || !strcmp(c, "remove") ||
	           !strcmp(c, "add-voter")) {
		int rc = change_conf(sc, c, id, node_arg(sc, ac > 2 ? av[2] : NULL));
		bool want_fail = ac > 3 && !strcmp(av[3], "fails");
		if ((rc != 0) != want_fail)
			return bad(sc, "membership change: %s", err_name(rc));
	} else {
		return bad(sc, "unknown command '%s'", c);
	}
	return 0;
}

int sim_scenario_run(const char *path, FILE *err)
{
	struct scen sc = {.path = path, .err = err};
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(err, "%s: cannot open\n", path);
		return -1;
	}
	char line[512];
	int rc = 0;
	while (rc == 0 && fgets(line, sizeof line, f)) {
		sc.line++;
		char *hash = strchr(line, '#');
		if (hash)
			*hash = '\0';
		char *av[ARGS_MAX];
		int ac = 0;
		for (char *t = strtok(line, " \t\r\n"); t && ac < ARGS_MAX; t = strtok(NULL, " \t\r\n"))
			av[ac++] = t;
		if (ac == 0)
			continue;
		rc = exec(&sc, av, ac);
		if (rc == 0 && sc.have && sc.s.failed)
			rc = bad(&sc, "invariant: %s", sc.s.why);
	}
	fclose(f);
	if (sc.have)
		sim_deinit(&sc.s);
	return rc;
}
