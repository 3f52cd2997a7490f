/* The simulator's engine: nodes, the ready cycle over raft_mem, the simulated network, and the invariant
 * checks.  Everything random comes from the seed; nothing reads the host clock. */
#include <assert.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/rw.h"
#include "port.h"
#include "sim.h"

uint64_t sim_rand(struct sim *s)
{
	uint64_t z = (s->rng += 0x9e3779b97f4a7c15ull);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint64_t fnv(const void *p, size_t n, uint64_t h)
{
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

uint64_t sim_entry_hash(const struct raft_entry *e)
{
	uint64_t h = fnv(&e->type, 1, 0xcbf29ce484222325ull);
	return fnv(e->data, e->len, h);
}

void sim_fail(struct sim *s, const char *fmt, ...)
{
	if (s->failed)
		return;
	s->failed = true;
	int n = snprintf(s->why, sizeof s->why, "t=%llums: ", (unsigned long long)s->now_ms);
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(s->why + n, sizeof s->why - (size_t)n, fmt, ap);
	va_end(ap);
	if (s->o.verbose)
		fprintf(stderr, "sim: INVARIANT %s\n", s->why);
}

void sim_opts_default(struct sim_opts *o, uint64_t seed)
{
	*o = (struct sim_opts){.seed = seed, .voters = 3, .spare = 0, .tick_ms = 10, .election_ticks = 10,
	                       .heartbeat_ticks = 1, .delay_min_ms = 1, .delay_max_ms = 5, .pre_vote = true,
	                       .check_quorum = true, .max_inflight = 16,
	                       .max_msg_entries = 8};
}

static void boot_node(struct sim *s, struct sim_node *n, const struct raft_boot *boot)
{
	struct raft_config cfg;
	raft_config_default(&cfg);
	cfg.id = n->id;
	cfg.seed = s->o.seed * 1000003u + n->restarts;
	cfg.election_ticks = s->o.election_ticks;
	cfg.heartbeat_ticks = s->o.heartbeat_ticks;
	cfg.pre_vote = s->o.pre_vote;
	cfg.check_quorum = s->o.check_quorum;
	cfg.max_inflight = s->o.max_inflight;
	cfg.max_msg_entries = s->o.max_msg_entries;
	cfg.snap_chunk_bytes = 128;
	int rc = raft_new(&cfg, boot, &n->r);
	if (rc) {
		sim_fail(s, "node %u: raft_new: %s", n->id, err_name(rc));
		n->up = false;
		return;
	}
	n->up = true;
	n->next_tick_ms = s->now_ms + 1 + sim_rand_below(s, s->o.tick_ms);
	n->seen_commit = n->r->snap.index; /* re-check what a restart brought back */
	n->seen_term = n->r->term;
	n->seen_role = RAFT_FOLLOWER;
	n->lead_term = 0;
	n->lm_checked = n->r->log.first - 1;
	n->lm_checked_term = raft_term_at(n->r, n->lm_checked);
}

void sim_grow(struct sim *s, uint64_t index)
{
	if (index < s->committed_cap)
		return;
	uint64_t cap = s->committed_cap ? s->committed_cap : 1024;
	while (cap <= index)
		cap *= 2;
	uint64_t **arrs[] = {&s->committed_term, &s->committed_hash, &s->sm_hash_at, &s->propose_at};
	for (size_t i = 0; i < sizeof arrs / sizeof arrs[0]; i++) {
		*arrs[i] = realloc(*arrs[i], cap * sizeof(uint64_t));
		assert(*arrs[i]);
		memset(*arrs[i] + s->committed_cap, 0, (cap - s->committed_cap) * sizeof(uint64_t));
	}
	s->committed_cap = cap;
}

/* ---- file shadow: the same durable writes, through raft_file ------------------------------------------ */

static int no_sync(int fd)
{
	(void)fd;
	return 0; /* the shadow checks formats and rules, not durability: keep the simulator fast */
}

static void shadow_apply(void *ctx, const struct raft_mem_op *op)
{
	struct sim_node *n = ctx;
	struct raft_storage *f = n->shadow;
	if (!f)
		return;
	int rc = 0;
	if (op->kind == RAFT_MEM_OP_SNAP)
		rc = f->save_snapshot(f, op->meta, op->data, op->len);
	else if (op->kind == RAFT_MEM_OP_APPEND && op->n)
		rc = f->append(f, op->ents, op->n);
	else if (op->kind == RAFT_MEM_OP_HS)
		rc = f->set_hard_state(f, op->hs);
	if (!rc)
		rc = f->sync(f);
	if (rc) {
		fprintf(stderr, "sim: node %u: file shadow write: %s\n", n->id, err_name(rc));
		f->destroy(f);
		n->shadow = NULL;
		n->shadow_dir[0] = '\0'; /* reported by the next comparison */
	}
}

static void remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	char path[128];
	while ((de = readdir(d)))
		if (de->d_name[0] != '.' && snprintf(path, sizeof path, "%s/%s", dir, de->d_name) < (int)sizeof path)
			unlink(path);
	closedir(d);
	rmdir(dir);
}

static bool conf_equal(const struct raft_conf *a, const struct raft_conf *b)
{
	if (a->voter_count != b->voter_count || a->learner_count != b->learner_count)
		return false;
	for (unsigned i = 0; i < a->voter_count; i++)
		if (a->voters[i] != b->voters[i])
			return false;
	for (unsigned i = 0; i < a->learner_count; i++)
		if (a->learners[i] != b->learners[i])
			return false;
	return true;
}

/* After a restart: the file storage, reopened, must hold exactly what the memory storage holds. */
static void shadow_compare(struct sim *s, struct sim_node *n, const struct raft_boot *mem)
{
	if (!s->o.file_shadow)
		return;
	if (!n->shadow) {
		sim_fail(s, "node %u: file shadow failed earlier", n->id);
		return;
	}
	n->shadow->destroy(n->shadow);
	n->shadow = NULL;
	struct raft_storage *f;
	struct raft_boot b;
	int rc = raft_file_open(n->shadow_dir, &f);
	if (rc == 0)
		rc = f->load(f, &b);
	if (rc) {
		sim_fail(s, "node %u: file shadow reopen: %s", n->id, err_name(rc));
		return;
	}
	n->shadow = f;
	const char *diff = NULL;
	if (b.hs.term != mem->hs.term || b.hs.vote != mem->hs.vote || b.hs.commit != mem->hs.commit)
		diff = "hard state";
	else if (b.snap.index != mem->snap.index || b.snap.term != mem->snap.term ||
	         !conf_equal(&b.snap.conf, &mem->snap.conf))
		diff = "snapshot meta";
	else if (b.snap_len != mem->snap_len || (b.snap_len && memcmp(b.snap_data, mem->snap_data, b.snap_len)))
		diff = "snapshot data";
	else if (b.entry_count != mem->entry_count)
		diff = "entry count";
	for (size_t i = 0; !diff && i < b.entry_count; i++) {
		const struct raft_entry *x = &b.entries[i], *y = &mem->entries[i];
		if (x->index != y->index || x->term != y->term || x->type != y->type || x->len != y->len ||
		    (x->len && memcmp(x->data, y->data, x->len)))
			diff = "an entry";
	}
	if (diff)
		sim_fail(s, "node %u: file storage differs from memory storage after restart: %s (file %zu entries "
		         "snap %llu, memory %zu snap %llu)", n->id, diff, b.entry_count, (unsigned long long)b.snap.index,
		         mem->entry_count, (unsigned long long)mem->snap.index);
}

void sim_shadow_check_all(struct sim *s)
{
	for (uint32_t id = 1; id <= s->node_count && s->o.file_shadow && !s->failed; id++) {
		struct sim_node *n = &s->nodes[id];
		if (raft_mem_pending(n->st))
			continue;
		struct raft_storage *st = raft_mem_storage(n->st);
		struct raft_boot boot;
		st->load(st, &boot);
		shadow_compare(s, n, &boot);
	}
}

int sim_init(struct sim *s, const struct sim_opts *o)
{
	memset(s, 0, sizeof *s);
	s->o = *o;
	s->rng = o->seed ^ 0x5eed5eed5eedull;
	s->leader_of_term = calloc(SIM_TERMS_MAX, sizeof *s->leader_of_term);
	assert(s->leader_of_term);
	sim_grow(s, 1);
	s->node_count = o->voters + o->spare;
	assert(s->node_count >= 1 && s->node_count <= SIM_NODES_MAX);
	struct raft_boot boot = {0};
	for (unsigned i = 1; i <= o->voters; i++)
		boot.snap.conf.voters[boot.snap.conf.voter_count++] = i;
	for (uint32_t id = 1; id <= s->node_count; id++) {
		struct sim_node *n = &s->nodes[id];
		n->id = id;
		n->exists = true;
		int rc = raft_mem_new(&n->st);
		assert(rc == 0);
		(void)rc;
		if (o->file_shadow) {
			port_sys.fsync = no_sync;
			port_sys.fdatasync = no_sync;
			log_set_level(LOG_ERROR); /* torn tails are expected here */
			snprintf(n->shadow_dir, sizeof n->shadow_dir, "/tmp/ferry-sim-XXXXXX");
			if (!mkdtemp(n->shadow_dir) || raft_file_open(n->shadow_dir, &n->shadow) != 0)
				sim_fail(s, "node %u: cannot create the file shadow", id);
			raft_mem_observe(n->st, shadow_apply, n);
		}
		/* A spare node starts with an empty configuration and waits to be added (raft_boot). */
		struct raft_boot b = boot;
		if (id > o->voters)
			b.snap.conf = (struct raft_conf){0};
		/* Persist the boot configuration as if the operator had bootstrapped the node. */
		struct raft_storage *st = raft_mem_storage(n->st);
		uint8_t pad = 0;
		st->save_snapshot(st, &b.snap, &pad, 0);
		st->sync(st);
		boot_node(s, n, &b);
	}
	for (unsigned a = 0; a <= SIM_NODES_MAX; a++)
		for (unsigned b = 0; b <= SIM_NODES_MAX; b++)
			s->link[a][b] = true;
	return s->failed ? -1 : 0;
}

void sim_deinit(struct sim *s)
{
	for (uint32_t id = 1; id <= s->node_count; id++) {
		struct sim_node *n = &s->nodes[id];
		raft_free(n->r);
		if (n->st)
			raft_mem_storage(n->st)->destroy(raft_mem_storage(n->st));
		if (n->shadow)
			n->shadow->destroy(n->shadow);
		if (n->shadow_dir[0])
			remove_dir(n->shadow_dir);
	}
	if (s->o.file_shadow)
		port_syscalls_reset();
	for (size_t i = 0; i < s->q_len; i++)
		free(s->q[i].buf);
	free(s->q);
	free(s->leader_of_term);
	free(s->committed_term);
	free(s->committed_hash);
	free(s->sm_hash_at);
	free(s->propose_at);
	free(s->ekeys);
	free(s->lat_samples);
	memset(s, 0, sizeof *s);
}

/* ---- network ---------------------------------------------------------------------------------------- */

static void enqueue(struct sim *s, uint32_t from, uint32_t to, uint8_t type, const uint8_t *buf, size_t len,
                    uint64_t at)
{
	if (s->q_len == s->q_cap) {
		s->q_cap = s->q_cap ? s->q_cap * 2 : 256;
		s->q = realloc(s->q, s->q_cap * sizeof *s->q);
		assert(s->q);
	}
	uint8_t *copy = malloc(len);
	assert(copy);
	memcpy(copy, buf, len);
	s->q[s->q_len++] = (struct sim_msg){.at_ms = at, .seq = ++s->seq, .from = from, .to = to, .type = type,
	                                    .buf = copy, .len = len};
}

static void net_send(struct sim *s, uint32_t from, uint32_t to, uint8_t type, const uint8_t *buf, size_t len)
{
	s->msgs_sent++;
	if (to == 0 || to > s->node_count || !s->link[from][to]) {
		s->msgs_dropped++;
		return;
	}
	if (s->manual_net) {
		enqueue(s, from, to, type, buf, len, 0);
		return;
	}
	if (sim_rand_below(s, 100) < s->o.drop_pct) {
		s->msgs_dropped++;
		return;
	}
	unsigned copies = sim_rand_below(s, 100) < s->o.dup_pct ? 2 : 1;
	for (unsigned i = 0; i < copies; i++) {
		uint64_t delay = s->o.delay_min_ms + sim_rand_below(s, s->o.delay_max_ms - s->o.delay_min_ms + 1);
		enqueue(s, from, to, type, buf, len, s->now_ms + delay);
	}
}

static uint64_t be64_get(const uint8_t *b) { return (uint64_t)be32_get(b) << 32 | be32_get(b + 4); }

static void deliver_at(struct sim *s, size_t qi)
{
	struct sim_msg m = s->q[qi];
	memmove(s->q + qi, s->q + qi + 1, (s->q_len - qi - 1) * sizeof *s->q);
	s->q_len--;
	struct sim_node *n = &s->nodes[m.to];
	if (s->o.verbose > 1 && m.type != RAFT_MSG_HEARTBEAT && m.type != RAFT_MSG_HEARTBEAT_RESP)
		fprintf(stderr, "  t=%llu %u->%u %s term %llu%s%s\n", (unsigned long long)s->now_ms, m.from, m.to,
		        raft_msg_type_name(m.type), (unsigned long long)be64_get(m.buf + 11),
		        m.buf[2] & RAFT_FLAG_REJECT ? " reject" : "", n->up ? "" : " (down)");
	if (n->up && !s->failed) {
		int rc = raft_step_bytes(n->r, m.buf, m.len);
		if (rc == ERR_PROTOCOL)
			sim_fail(s, "node %u: protocol violation in term %llu (message from %u)", m.to,
			         (unsigned long long)n->r->term, m.from);
		else if (rc)
			sim_fail(s, "node %u: step %s from %u: %s", m.to, raft_msg_type_name(m.type), m.from,
			         err_name(rc));
		sim_process(s, m.to);
	}
	free(m.buf);
}

static bool match(const struct sim_msg *m, uint32_t from, uint32_t to, int type)
{
	return (!from || m->from == from) && (!to || m->to == to) && (type <= 0 || m->type == type);
}

size_t sim_deliver(struct sim *s, uint32_t from, uint32_t to, int type, size_t max)
{
	size_t n = 0;
	for (size_t i = 0; i < s->q_len && n < max;) {
		if (match(&s->q[i], from, to, type)) {
			deliver_at(s, i);
			n++;
		} else {
			i++;
		}
	}
	return n;
}

size_t sim_drop(struct sim *s, uint32_t from, uint32_t to, int type)
{
	size_t n = 0;
	for (size_t i = 0; i < s->q_len;) {
		if (match(&s->q[i], from, to, type)) {
			free(s->q[i].buf);
			memmove(s->q + i, s->q + i + 1, (s->q_len - i - 1) * sizeof *s->q);
			s->q_len--;
			n++;
		} else {
			i++;
		}
	}
	return n;
}

void sim_stabilize(struct sim *s)
{
	for (unsigned guard = 0; s->q_len && guard < 100000 && !s->failed; guard++)
		deliver_at(s, 0);
}

void sim_partition(struct sim *s, const uint32_t *group, unsigned n)
{
	bool in[SIM_NODES_MAX + 1] = {0};
	for (unsigned i = 0; i < n; i++)
		if (group[i] <= SIM_NODES_MAX)
			in[group[i]] = true;
	for (unsigned a = 1; a <= s->node_count; a++)
		for (unsigned b = 1; b <= s->node_count; b++)
			if (in[a] != in[b])
				s->link[a][b] = false;
}

void sim_heal(struct sim *s)
{
	for (unsigned a = 0; a <= SIM_NODES_MAX; a++)
		for (unsigned b = 0; b <= SIM_NODES_MAX; b++)
			s->link[a][b] = true;
}

/* ---- state machine ---------------------------------------------------------------------------------- */

static void snap_encode(uint64_t index, uint64_t hash, uint8_t *buf)
{
	struct wbuf w;
	wbuf_init(&w, buf, 16 + SIM_SNAP_PAD);
	wbuf_u64(&w, index);
	wbuf_u64(&w, hash);
	for (unsigned i = 0; i < SIM_SNAP_PAD; i++)
		wbuf_u8(&w, (uint8_t)(hash >> (i % 8 * 8)) ^ (uint8_t)i);
}

static void sm_restore(struct sim *s, struct sim_node *n, const uint8_t *data, size_t len,
                       const struct raft_snap_meta *meta)
{
	struct rbuf r;
	rbuf_init(&r, data, len);
	uint64_t index = rbuf_u64(&r), hash = rbuf_u64(&r);
	uint8_t expect[16 + SIM_SNAP_PAD];
	snap_encode(index, hash, expect);
	if (len == 0 && meta->index == 0) {
		n->sm_index = 0;
		n->sm_hash = 0;
		return;
	}
	if (len != sizeof expect || memcmp(expect, data, len) != 0 || index != meta->index) {
		sim_fail(s, "node %u: snapshot at %llu is damaged (%zu bytes)", n->id,
		         (unsigned long long)meta->index, len);
		return;
	}
	sim_grow(s, index);
	if (s->sm_hash_at[index] && s->sm_hash_at[index] != hash)
		sim_fail(s, "node %u: snapshot state at %llu differs from the applied state", n->id,
		         (unsigned long long)index);
	n->sm_index = index;
	n->sm_hash = hash;
}

static void sm_apply(struct sim *s, struct sim_node *n, const struct raft_entry *e)
{
	if (e->index != n->sm_index + 1) {
		sim_fail(s, "node %u: applies %llu after %llu", n->id, (unsigned long long)e->index,
		         (unsigned long long)n->sm_index);
		return;
	}
	uint64_t h = (n->sm_hash ^ sim_entry_hash(e)) * 0x9e3779b97f4a7c15ull + e->index;
	sim_grow(s, e->index);
	if (s->sm_hash_at[e->index] == 0) {
		s->sm_hash_at[e->index] = h;
		if (s->propose_at[e->index]) {
			uint64_t lat = s->now_ms - s->propose_at[e->index];
			s->commit_lat_sum_ms += lat;
			s->commit_lat_count++;
			if (s->lat_count == s->lat_cap) {
				s->lat_cap = s->lat_cap ? s->lat_cap * 2 : 1024;
				s->lat_samples = realloc(s->lat_samples, s->lat_cap * sizeof *s->lat_samples);
				assert(s->lat_samples);
			}
			s->lat_samples[s->lat_count++] = lat;
		}
	} else if (s->sm_hash_at[e->index] != h) {
		sim_fail(s, "node %u: state machine diverged at index %llu", n->id, (unsigned long long)e->index);
	}
	n->sm_index = e->index;
	n->sm_hash = h;
	n->applied_count++;
}

/* ---- the ready cycle -------------------------------------------------------------------------------- */

static void check_outgoing(struct sim *s, struct sim_node *n, const struct raft_out *o)
{
	static struct raft_msg m; /* single-threaded; too large for comfort on the stack */
	int rc = raft_msg_decode(o->buf, o->len, &m);
	if (rc) {
		sim_fail(s, "node %u: sends an undecodable message: %s", n->id, err_name(rc));
		return;
	}
	bool pre = m.type == RAFT_MSG_PREVOTE || (m.type == RAFT_MSG_PREVOTE_RESP && !(m.flags & RAFT_FLAG_REJECT));
	/* Persist before send: every promise a message makes is already durable. */
	if (!pre && m.term > n->durable_term)
		sim_fail(s, "node %u: sends %s of term %llu before term is durable (%llu)", n->id,
		         raft_msg_type_name(m.type), (unsigned long long)m.term, (unsigned long long)n->durable_term);
	if (m.type == RAFT_MSG_VOTE_RESP && !(m.flags & RAFT_FLAG_REJECT) &&
	    (n->durable_vote != m.to || n->durable_term != m.term))
		sim_fail(s, "node %u: grants its vote to %u before the vote is durable", n->id, m.to);
	if (m.type == RAFT_MSG_APPEND_RESP && !(m.flags & RAFT_FLAG_REJECT) &&
	    raft_mem_last_index(n->st) < m.index)
		sim_fail(s, "node %u: acknowledges index %llu but holds %llu durably", n->id,
		         (unsigned long long)m.index, (unsigned long long)raft_mem_last_index(n->st));
}

static void note_durable(struct sim *s, struct sim_node *n)
{
	const struct raft_hard_state *hs = raft_mem_hard_state(n->st);
	if (hs->term < n->durable_term)
		sim_fail(s, "node %u: durable term went back %llu -> %llu", n->id, (unsigned long long)n->durable_term,
		         (unsigned long long)hs->term);
	if (hs->term == n->durable_term && n->durable_vote && hs->vote != n->durable_vote)
		sim_fail(s, "node %u: changed its vote in term %llu from %u to %u", n->id,
		         (unsigned long long)hs->term, n->durable_vote, hs->vote);
	if (hs->commit < n->durable_commit)
		sim_fail(s, "node %u: durable commit went back %llu -> %llu", n->id,
		         (unsigned long long)n->durable_commit, (unsigned long long)hs->commit);
	n->durable_term = hs->term;
	n->durable_vote = hs->vote;
	n->durable_commit = hs->commit;
}

static void handle_reads(struct sim *s, struct sim_node *n, const struct raft_ready *rd)
{
	for (size_t i = 0; i < rd->read_count; i++) {
		for (unsigned j = 0; j < s->read_count; j++) {
			if (s->reads[j].ctx != rd->reads[i].ctx)
				continue;
			if (rd->reads[i].index < s->reads[j].min_index)
				sim_fail(s, "node %u: read-index %llu is older than a commit (%llu) seen before the read",
				         n->id, (unsigned long long)rd->reads[i].index,
				         (unsigned long long)s->reads[j].min_index);
			s->reads[j] = s->reads[--s->read_count];
			s->reads_served++;
			break;
		}
	}
}

static void maybe_compact(struct sim *s, struct sim_node *n)
{
	if (!s->o.compact_every || n->sm_index < n->r->snap.index + s->o.compact_every)
		return;
	uint8_t buf[16 + SIM_SNAP_PAD];
	snap_encode(n->sm_index, n->sm_hash, buf);
	int rc = raft_compact(n->r, n->sm_index, buf, sizeof buf);
	if (rc)
		sim_fail(s, "node %u: compact at %llu: %s", n->id, (unsigned long long)n->sm_index, err_name(rc));
}

static bool crash_mid_persist(struct sim *s, struct sim_node *n, const struct raft_ready *rd)
{
	struct raft_storage *st = raft_mem_storage(n->st);
	if (rd->snap_present)
		st->save_snapshot(st, &rd->snap, rd->snap_data, rd->snap_len);
	if (rd->entry_count)
		st->append(st, rd->entries, rd->entry_count);
	if (rd->hs_changed)
		st->set_hard_state(st, &rd->hs);
	size_t ops = raft_mem_pending(n->st);
	raft_mem_crash(n->st, sim_rand_below(s, ops + 1), sim_rand_below(s, rd->entry_count + 1));
	note_durable(s, n);
	sim_crash(s, n->id, false);
	return true;
}

void sim_process(struct sim *s, uint32_t id)
{
	struct sim_node *n = &s->nodes[id];
	for (unsigned guard = 0; n->up && !s->failed && raft_has_ready(n->r); guard++) {
		if (guard > 10000) {
			sim_fail(s, "node %u: ready never drains", id);
			return;
		}
		struct raft_ready rd;
		raft_ready(n->r, &rd);
		if (s->crash_persist == id) {
			s->crash_persist = 0;
			crash_mid_persist(s, n, &rd);
			return;
		}
		int rc = raft_storage_persist(raft_mem_storage(n->st), &rd);
		if (rc) {
			/* fsync failed: the only safe reaction is to stop (and restart from what is durable). */
			sim_crash(s, id, true);
			return;
		}
		note_durable(s, n);
		for (size_t i = 0; i < rd.msg_count; i++) {
			check_outgoing(s, n, &rd.msgs[i]);
			net_send(s, id, rd.msgs[i].to, rd.msgs[i].buf[1], rd.msgs[i].buf, rd.msgs[i].len);
		}
		if (rd.snap_install) {
			sm_restore(s, n, rd.snap_data, rd.snap_len, &rd.snap);
			s->snaps_installed++;
		}
		for (size_t i = 0; i < rd.committed_count; i++)
			sm_apply(s, n, &rd.committed[i]);
		handle_reads(s, n, &rd);
		raft_advance(n->r, &rd);
		maybe_compact(s, n);
		sim_check(s);
	}
}

/* ---- node control ----------------------------------------------------------------------------------- */

void sim_crash(struct sim *s, uint32_t id, bool torn)
{
	struct sim_node *n = &s->nodes[id];
	if (!n->up)
		return;
	if (torn) {
		size_t ops = raft_mem_pending(n->st);
		raft_mem_crash(n->st, sim_rand_below(s, ops + 1), sim_rand_below(s, 64));
	} else {
		raft_mem_crash(n->st, 0, 0);
	}
	raft_mem_fail_sync(n->st, false);
	note_durable(s, n);
	raft_free(n->r);
	n->r = NULL;
	n->up = false;
	s->crashes++;
}

int sim_restart(struct sim *s, uint32_t id)
{
	struct sim_node *n = &s->nodes[id];
	if (n->up || !n->exists)
		return 0;
	struct raft_storage *st = raft_mem_storage(n->st);
	struct raft_boot boot;
	st->load(st, &boot);
	shadow_compare(s, n, &boot);
	n->restarts++;
	boot_node(s, n, &boot);
	if (!n->up)
		return -1;
	/* Term and vote are durable: a restart brings back exactly what was synced. */
	if (n->r->term != n->durable_term || n->r->vote != n->durable_vote)
		sim_fail(s, "node %u: restarted with term %llu vote %u, durable %llu/%u", id,
		         (unsigned long long)n->r->term, n->r->vote, (unsigned long long)n->durable_term,
		         n->durable_vote);
	if (n->r->commit < n->durable_commit)
		sim_fail(s, "node %u: commit went back over a restart: %llu < %llu", id,
		         (unsigned long long)n->r->commit, (unsigned long long)n->durable_commit);
	n->sm_index = 0;
	n->sm_hash = 0;
	sm_restore(s, n, boot.snap_data, boot.snap_len, &boot.snap);
	sim_process(s, id);
	return s->failed ? -1 : 0;
}

int sim_propose(struct sim *s, uint32_t id, const void *data, size_t len)
{
	struct sim_node *n = &s->nodes[id];
	if (!n->up)
		return ERR_STATE;
	uint64_t index;
	int rc = raft_propose(n->r, data, len, &index);
	if (rc)
		return rc;
	s->proposals++;
	sim_grow(s, index);
	if (!s->sm_hash_at[index])
		s->propose_at[index] = s->now_ms;
	sim_process(s, id);
	return 0;
}

int sim_read(struct sim *s, uint32_t id)
{
	struct sim_node *n = &s->nodes[id];
	if (!n->up || s->read_count == sizeof s->reads / sizeof s->reads[0])
		return ERR_STATE;
	uint64_t ctx = ++s->read_ctx;
	int rc = raft_read_index(n->r, ctx);
	if (rc)
		return rc;
	/* Linearizability: the read must reflect every commit that any node reached before it was asked. */
	uint64_t min_index = 0;
	for (uint32_t i = 1; i <= s->node_count; i++)
		if (s->nodes[i].up && s->nodes[i].r->commit > min_index)
			min_index = s->nodes[i].r->commit;
	s->reads[s->read_count++] = (struct sim_read){ctx, min_index, id, n->r->term};
	sim_process(s, id);
	return 0;
}

uint32_t sim_leader(const struct sim *s)
{
	uint32_t best = 0;
	uint64_t term = 0;
	for (uint32_t id = 1; id <= s->node_count; id++) {
		const struct sim_node *n = &s->nodes[id];
		if (n->up && n->r->role == RAFT_LEADER && n->r->term >= term) {
			best = id;
			term = n->r->term;
		}
	}
	return best;
}

void sim_tick(struct sim *s, uint32_t id)
{
	struct sim_node *n = &s->nodes[id];
	if (!n->up)
		return;
	raft_tick(n->r);
	sim_process(s, id);
}

void sim_step_ms(struct sim *s)
{
	s->now_ms++;
	for (size_t i = 0; i < s->q_len && !s->failed;) {
		if (s->q[i].at_ms <= s->now_ms)
			deliver_at(s, i);
		else
			i++;
	}
	for (uint32_t id = 1; id <= s->node_count && !s->failed; id++) {
		struct sim_node *n = &s->nodes[id];
		if (!n->up || n->next_tick_ms > s->now_ms)
			continue;
		/* Clock jitter: each node's tick interval wanders around tick_ms. */
		uint64_t j = s->o.jitter_ms ? sim_rand_below(s, 2 * s->o.jitter_ms + 1) : s->o.jitter_ms;
		n->next_tick_ms = s->now_ms + s->o.tick_ms + j - s->o.jitter_ms;
		sim_tick(s, id);
	}
}

void sim_dump(const struct sim *s, FILE *f)
{
	for (uint32_t id = 1; id <= s->node_count; id++) {
		const struct sim_node *n = &s->nodes[id];
		if (!n->up) {
			fprintf(f, "  node %u: down\n", id);
			continue;
		}
		const struct raft *r = n->r;
		fprintf(f, "  node %u: %s term %llu vote %u leader %u commit %llu applied %llu last %llu snap %llu "
		        "voters", id, raft_role_name(r->role), (unsigned long long)r->term, r->vote, r->leader,
		        (unsigned long long)r->commit, (unsigned long long)n->sm_index,
		        (unsigned long long)raft_last_index(r), (unsigned long long)r->snap.index);
		for (unsigned i = 0; i < r->conf.voter_count; i++)
			fprintf(f, " %u", r->conf.voters[i]);
		fprintf(f, " learners");
		for (unsigned i = 0; i < r->conf.learner_count; i++)
			fprintf(f, " %u", r->conf.learners[i]);
		fprintf(f, " conf@%llu elapsed %u/%u stable %llu term_start %llu last_term %llu\n",
		        (unsigned long long)r->conf_index, r->election_elapsed, r->election_timeout,
		        (unsigned long long)r->log.stable, (unsigned long long)r->term_start,
		        (unsigned long long)raft_term_at(r, raft_last_index(r)));
		for (unsigned i = 0; r->role == RAFT_LEADER && i < r->pr_count; i++) {
			const struct raft_progress *pr = &r->prs[i];
			fprintf(f, "    -> %u: state %d match %llu next %llu probe_sent %d inflight %u active %d\n", pr->id,
			        pr->state, (unsigned long long)pr->match, (unsigned long long)pr->next, pr->probe_sent,
			        pr->inflight_count, pr->recent_active);
		}
	}
	fprintf(f, "  %zu messages in flight\n", s->q_len);
}
