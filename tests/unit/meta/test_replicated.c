/* Metadata over Raft end to end: three nodes on memory storage, records proposed at the leader, applied
 * from committed entries into one image per node, compaction with the image's snapshot as the Raft snapshot,
 * a node cut off long enough to need InstallSnapshot, a restart from storage.  All images must save to the
 * same bytes. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/err.h"
#include "meta/meta_image.h"
#include "raft/storage.h"
#include "meta_samples.h"

#define N 3

struct qmsg {
	uint32_t to;
	uint8_t *buf;
	size_t len;
};

struct cluster {
	struct raft *r[N + 1];
	struct raft_mem *st[N + 1];
	struct meta_image im[N + 1];
	bool cut[N + 1];
	struct qmsg q[4096];
	size_t qn;
	uint64_t refused;
};

static void boot(struct cluster *c, uint32_t id)
{
	struct raft_storage *st = raft_mem_storage(c->st[id]);
	struct raft_boot b;
	st->load(st, &b);
	struct raft_config cfg;
	raft_config_default(&cfg);
	cfg.id = id;
	cfg.seed = id;
	cfg.snap_chunk_bytes = 256;
	assert_int_equal(raft_new(&cfg, &b, &c->r[id]), 0);
	meta_image_deinit(&c->im[id]);
	meta_image_init(&c->im[id]);
	if (b.snap_len)
		assert_int_equal(meta_image_load(&c->im[id], b.snap_data, b.snap_len), 0);
}

static void process(struct cluster *c, uint32_t id)
{
	struct raft *r = c->r[id];
	while (raft_has_ready(r)) {
		struct raft_ready rd;
		raft_ready(r, &rd);
		assert_int_equal(raft_storage_persist(raft_mem_storage(c->st[id]), &rd), 0);
		for (size_t i = 0; i < rd.msg_count; i++) {
			if (c->cut[id] || c->cut[rd.msgs[i].to] || c->qn == 4096)
				continue;
			struct qmsg *m = &c->q[c->qn++];
			m->to = rd.msgs[i].to;
			m->len = rd.msgs[i].len;
			m->buf = malloc(m->len);
			memcpy(m->buf, rd.msgs[i].buf, m->len);
		}
		if (rd.snap_install) {
			meta_image_deinit(&c->im[id]);
			meta_image_init(&c->im[id]);
			assert_int_equal(meta_image_load(&c->im[id], rd.snap_data, rd.snap_len), 0);
		}
		for (size_t i = 0; i < rd.committed_count; i++) {
			const struct raft_entry *e = &rd.committed[i];
			if (e->type == RAFT_ENTRY_NORMAL && meta_image_apply_entry(&c->im[id], e->index, e->data, e->len))
				c->refused++;
			else if (e->index > c->im[id].applied_index)
				c->im[id].applied_index = e->index;
		}
		raft_advance(r, &rd);
	}
	/* compact every 20 applied entries, the image's snapshot being the Raft snapshot */
	if (c->im[id].applied_index >= r->snap.index + 20 && c->im[id].applied_index <= r->applied) {
		struct dbuf snap;
		dbuf_init(&snap, 1u << 24);
		assert_int_equal(meta_image_save(&c->im[id], &snap), 0);
		assert_int_equal(raft_compact(r, c->im[id].applied_index, snap.p, snap.len), 0);
		dbuf_deinit(&snap);
		process(c, id);
	}
}

static void settle(struct cluster *c)
{
	for (unsigned guard = 0; c->qn && guard < 100000; guard++) {
		struct qmsg m = c->q[0];
		memmove(c->q, c->q + 1, (c->qn - 1) * sizeof *c->q);
		c->qn--;
		if (c->r[m.to] && !c->cut[m.to]) {
			raft_step_bytes(c->r[m.to], m.buf, m.len);
			process(c, m.to);
		}
		free(m.buf);
	}
}

static void propose(struct cluster *c, uint32_t leader, const struct meta_record *rec)
{
	uint8_t buf[META_RECORD_SIZE_MAX];
	int n = meta_record_encode(rec, buf, sizeof buf);
	assert_true(n > 0);
	assert_int_equal(raft_propose(c->r[leader], buf, (size_t)n, NULL), 0);
	process(c, leader);
}

static void test_replicated_images(void **state)
{
	(void)state;
	static struct cluster c;
	memset(&c, 0, sizeof c);
	for (uint32_t id = 1; id <= N; id++) {
		assert_int_equal(raft_mem_new(&c.st[id]), 0);
		struct raft_snap_meta m = {.conf = {.voter_count = N, .voters = {1, 2, 3}}};
		struct raft_storage *st = raft_mem_storage(c.st[id]);
		st->save_snapshot(st, &m, NULL, 0);
		st->sync(st);
		meta_image_init(&c.im[id]);
		boot(&c, id);
	}
	raft_campaign(c.r[1]);
	process(&c, 1);
	settle(&c);
	assert_int_equal(c.r[1]->role, RAFT_LEADER);
	struct meta_record r = sample_record(META_REC_BROKER_REG);
	for (int b = 1; b <= 3; b++) {
		r.broker.id = b;
		propose(&c, 1, &r);
	}
	settle(&c);
	/* node 3 is cut off while the metadata moves on and the log is compacted past it */
	c.cut[3] = true;
	r = sample_record(META_REC_TOPIC);
	propose(&c, 1, &r);
	for (int p = 0; p < 40; p++) {
		struct meta_record pr = sample_record(META_REC_PARTITION);
		pr.partition.partition = p;
		propose(&c, 1, &pr);
		settle(&c);
	}
	for (int i = 0; i < 10; i++) {
		struct meta_record ch = sample_record(META_REC_PARTITION_CHANGE);
		ch.change.partition = i;
		propose(&c, 1, &ch);
	}
	r = sample_record(META_REC_PRODUCER_IDS);
	propose(&c, 1, &r);
	propose(&c, 1, &r); /* refused on every node alike: ids never go back */
	settle(&c);
	assert_true(c.r[1]->snap.index > c.r[3]->commit);
	c.cut[3] = false;
	for (int t = 0; t < 30; t++) {
		raft_tick(c.r[1]);
		process(&c, 1);
		settle(&c);
	}
	assert_true(c.r[3]->snap.index > 0); /* it caught up through InstallSnapshot */
	/* node 2 restarts from its storage */
	raft_free(c.r[2]);
	boot(&c, 2);
	for (int t = 0; t < 30; t++) {
		raft_tick(c.r[1]);
		process(&c, 1);
		settle(&c);
	}
	struct dbuf s1, s2, s3;
	dbuf_init(&s1, 1u << 24);
	dbuf_init(&s2, 1u << 24);
	dbuf_init(&s3, 1u << 24);
	assert_int_equal(c.r[1]->commit, c.r[2]->commit);
	assert_int_equal(c.r[1]->commit, c.r[3]->commit);
	assert_int_equal(meta_image_save(&c.im[1], &s1), 0);
	assert_int_equal(meta_image_save(&c.im[2], &s2), 0);
	assert_int_equal(meta_image_save(&c.im[3], &s3), 0);
	assert_int_equal(s1.len, s2.len);
	assert_int_equal(s1.len, s3.len);
	assert_memory_equal(s1.p, s2.p, s1.len);
	assert_memory_equal(s1.p, s3.p, s1.len);
	const struct meta_topic *t = meta_image_topic(&c.im[3], "sensors");
	assert_non_null(t);
	assert_int_equal(t->part_count, 40);
	assert_int_equal(t->parts[0].leader, 2);
	assert_int_equal(c.im[3].next_producer_id, 1000);
	dbuf_deinit(&s1);
	dbuf_deinit(&s2);
	dbuf_deinit(&s3);
	for (uint32_t id = 1; id <= N; id++) {
		raft_free(c.r[id]);
		raft_mem_storage(c.st[id])->destroy(raft_mem_storage(c.st[id]));
		meta_image_deinit(&c.im[id]);
	}
	for (size_t i = 0; i < c.qn; i++)
		free(c.q[i].buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_replicated_images),
	};
	return cmocka_run_group_tests_name("meta/replicated", tests, NULL, NULL);
}
