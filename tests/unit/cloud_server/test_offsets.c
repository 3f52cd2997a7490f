/* Topic registry and committed offsets on the file backend: topics survive a reopen through the topic store,
 * committed offsets are replayed from __consumer_offsets (last commit wins), deleted topics lose their data,
 * and the batches written for commits are valid RecordBatch v2 (CRC, counts). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/crc32c.h"
#include "base/err.h"
#include "cloud/group/offsets.h"
#include "cloud/log/batch_header.h"
#include "cloud/partition/partition.h"

static struct group_view V(const char *s) { return (struct group_view){s, strlen(s)}; }

struct env {
	char dir[64];
	struct topic_store store;
	struct topics *topics;
	struct offsets *offsets;
};

static void env_open(struct env *e)
{
	struct topics_config tc = {.data_dir = e->dir, .topics_max = 16, .partitions_max = 8, .node_id = 1};
	log_config_default(&tc.log);
	assert_int_equal(topic_store_file_init(&e->store, e->dir), 0);
	assert_int_equal(topics_open(&e->topics, &tc, &e->store), 0);
	struct topic *ot = topics_find(e->topics, OFFSETS_TOPIC, strlen(OFFSETS_TOPIC));
	if (!ot)
		assert_int_equal(topics_create(e->topics, OFFSETS_TOPIC, strlen(OFFSETS_TOPIC), 2, true, &ot), 0);
	assert_int_equal(offsets_open(&e->offsets, ot, 1000), 0);
}

static void env_close(struct env *e)
{
	offsets_close(e->offsets);
	topics_close(e->topics);
	topic_store_file_deinit(&e->store);
}

static void test_topics_and_offsets_survive_reopen(void **state)
{
	(void)state;
	struct env e = {.dir = "/tmp/ferry-test-offsets-XXXXXX"};
	assert_non_null(mkdtemp(e.dir));
	env_open(&e);
	struct topic *t;
	assert_int_equal(topics_create(e.topics, "orders", 6, 3, false, &t), 0);
	assert_int_equal(topics_create(e.topics, "orders", 6, 3, false, &t), ERR_EXISTS);
	assert_int_equal(topics_create(e.topics, "bad/name", 8, 1, false, &t), ERR_INVAL);
	assert_int_equal(topics_create(e.topics, "zero", 4, 0, false, &t), ERR_INVAL);
	assert_int_equal(topics_create(e.topics, "gone", 4, 1, false, &t), 0);
	struct topic_overrides ov;
	topic_overrides_none(&ov);
	ov.retention_ms = 3600000;
	ov.segment_bytes = 4 << 20;
	assert_int_equal(topics_create_with(e.topics, "tuned", 5, 1, false, &ov, &t), 0);
	ov.segment_bytes = 1 << 16; /* smaller than the largest batch: the log refuses it */
	assert_int_not_equal(topics_create_with(e.topics, "badseg", 6, 1, false, &ov, &t), 0);
	assert_null(topics_find(e.topics, "badseg", 6));
	struct offset_commit_in c1[] = {{V("orders"), 0, 10, 0, V("m0")}, {V("orders"), 1, 20, 0, V("")}};
	struct offset_commit_in c2[] = {{V("orders"), 0, 15, 0, V("later")}};
	struct offset_commit_in c3[] = {{V("orders"), 2, 7, -1, V("")}};
	assert_int_equal(offsets_commit(e.offsets, V("g1"), c1, 2, 1000), 0);
	assert_int_equal(offsets_commit(e.offsets, V("g1"), c2, 1, 2000), 0);
	assert_int_equal(offsets_commit(e.offsets, V("g2"), c3, 1, 3000), 0);
	assert_int_equal(topics_delete(e.topics, "gone", 4), 0);
	assert_int_equal(topics_delete(e.topics, "gone", 4), ERR_NOT_FOUND);
	env_close(&e);

	env_open(&e);
	assert_non_null(topics_find(e.topics, "orders", 6));
	assert_int_equal(topics_find(e.topics, "orders", 6)->partition_count, 3);
	assert_null(topics_find(e.topics, "gone", 4));
	struct topic *tuned = topics_find(e.topics, "tuned", 5);
	assert_non_null(tuned);
	assert_int_equal(tuned->ov.retention_ms, 3600000);
	assert_int_equal(tuned->ov.segment_bytes, 4 << 20);
	assert_true(tuned->ov.retention_bytes == TOPIC_INHERIT);
	assert_true(topics_find(e.topics, "orders", 6)->ov.retention_ms == TOPIC_INHERIT);
	char gone_dir[128];
	snprintf(gone_dir, sizeof gone_dir, "%s/gone-0", e.dir);
	assert_int_not_equal(access(gone_dir, F_OK), 0);
	struct offset_value v;
	assert_int_equal(offsets_get(e.offsets, V("g1"), V("orders"), 0, &v), 0);
	assert_int_equal(v.offset, 15);
	assert_string_equal(v.metadata, "later");
	assert_int_equal(v.commit_ms, 2000);
	assert_int_equal(offsets_get(e.offsets, V("g1"), V("orders"), 1, &v), 0);
	assert_int_equal(v.offset, 20);
	assert_int_equal(offsets_get(e.offsets, V("g2"), V("orders"), 2, &v), 0);
	assert_int_equal(v.offset, 7);
	assert_int_equal(v.leader_epoch, -1);
	assert_int_equal(offsets_get(e.offsets, V("g2"), V("orders"), 0, &v), ERR_NOT_FOUND);
	assert_int_equal(offsets_count(e.offsets), 3);
	env_close(&e);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", e.dir);
	assert_int_equal(system(cmd), 0);
}

static void test_commit_batch_is_valid(void **state)
{
	(void)state;
	struct offsets_record recs[] = {{(const uint8_t *)"k1", (const uint8_t *)"value", 2, 5},
					{(const uint8_t *)"k2", NULL, 2, 0}};
	uint8_t *b;
	size_t len;
	assert_int_equal(offsets_build_batch(recs, 2, 12345, &b, &len), 0);
	struct batch_header h;
	assert_int_equal(batch_header_decode(b, len, len, &h), 0);
	assert_int_equal(batch_size(&h), len);
	assert_int_equal(h.record_count, 2);
	assert_int_equal(h.last_offset_delta, 1);
	assert_int_equal(h.max_timestamp, 12345);
	assert_int_equal(h.producer_id, -1);
	assert_true(batch_crc_ok(&h, b, len));
	b[len - 1] ^= 1;
	assert_false(batch_crc_ok(&h, b, len));
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_topics_and_offsets_survive_reopen),
		cmocka_unit_test(test_commit_batch_is_valid),
	};
	return cmocka_run_group_tests_name("cloud_server/offsets", tests, NULL, NULL);
}
