/* The metadata state machine: the rules of each record, refusals that leave the image unchanged, and
 * snapshots that round-trip byte for byte (also after a random workload, and mid-way through it). */
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
#include "meta_samples.h"

static int apply(struct meta_image *im, uint16_t type)
{
	struct meta_record r = sample_record(type);
	return meta_image_apply(im, &r);
}

static void save(const struct meta_image *im, struct dbuf *out)
{
	dbuf_init(out, 64u << 20);
	assert_int_equal(meta_image_save(im, out), 0);
}

static void test_broker_lifecycle(void **state)
{
	(void)state;
	struct meta_image im;
	meta_image_init(&im);
	assert_int_equal(apply(&im, META_REC_BROKER_REG), 0);
	assert_true(meta_image_broker(&im, 1)->fenced);
	assert_int_equal(apply(&im, META_REC_BROKER_UNFENCE), 0);
	assert_false(meta_image_broker(&im, 1)->fenced);
	/* a registration with the same (or an older) epoch is a zombie's */
	assert_int_equal(apply(&im, META_REC_BROKER_REG), ERR_META_FENCED);
	struct meta_record r = sample_record(META_REC_BROKER_REG);
	r.broker.epoch = 11;
	r.broker.fenced = true;
	assert_int_equal(meta_image_apply(&im, &r), 0);
	/* fencing with the old epoch is refused */
	assert_int_equal(apply(&im, META_REC_BROKER_FENCE), ERR_META_FENCED);
	r = sample_record(META_REC_BROKER_UNREG);
	r.broker_epoch.epoch = 11;
	assert_int_equal(meta_image_apply(&im, &r), 0);
	assert_null(meta_image_broker(&im, 1));
	assert_int_equal(apply(&im, META_REC_BROKER_FENCE), ERR_META_NO_BROKER);
	meta_image_deinit(&im);
}

static void test_topic_and_partitions(void **state)
{
	(void)state;
	struct meta_image im;
	meta_image_init(&im);
	assert_int_equal(apply(&im, META_REC_PARTITION), ERR_META_NO_TOPIC);
	assert_int_equal(apply(&im, META_REC_TOPIC), 0);
	assert_int_equal(apply(&im, META_REC_TOPIC), ERR_EXISTS);
	assert_int_equal(apply(&im, META_REC_PARTITION), 0);
	const struct meta_topic *t = meta_image_topic(&im, "sensors");
	assert_non_null(t);
	assert_int_equal(t->part_count, 1);
	/* partition 5 of a topic with one partition: a gap */
	struct meta_record r = sample_record(META_REC_PARTITION);
	r.partition.partition = 5;
	assert_int_equal(meta_image_apply(&im, &r), ERR_INVAL);
	/* a leader outside the ISR */
	r = sample_record(META_REC_PARTITION);
	r.partition.leader = 3;
	assert_int_equal(meta_image_apply(&im, &r), ERR_INVAL);
	/* change: new leader 2 -> leader epoch and partition epoch advance */
	assert_int_equal(apply(&im, META_REC_PARTITION_CHANGE), 0);
	assert_int_equal(t->parts[0].leader, 2);
	assert_int_equal(t->parts[0].leader_epoch, 5);
	assert_int_equal(t->parts[0].partition_epoch, 10);
	/* an ISR change that leaves the leader out is refused and changes nothing */
	r = sample_record(META_REC_PARTITION_CHANGE);
	r.change.leader = META_NO_CHANGE;
	r.change.isr = (struct meta_replicas){1, {3}};
	assert_int_equal(meta_image_apply(&im, &r), ERR_INVAL);
	assert_int_equal(t->parts[0].partition_epoch, 10);
	assert_int_equal(t->parts[0].isr.count, 2);
	/* ISR shrink only: the leader epoch stays */
	r.change.isr = (struct meta_replicas){1, {2}};
	assert_int_equal(meta_image_apply(&im, &r), 0);
	assert_int_equal(t->parts[0].leader_epoch, 5);
	assert_int_equal(t->parts[0].partition_epoch, 11);
	assert_int_equal(apply(&im, META_REC_CONFIG), 0);
	assert_int_equal(im.config_count, 1);
	assert_int_equal(apply(&im, META_REC_TOPIC_REMOVE), 0);
	assert_null(meta_image_topic(&im, "sensors"));
	assert_int_equal(im.config_count, 0); /* its configuration went with it */
	meta_image_deinit(&im);
}

static void test_others(void **state)
{
	(void)state;
	struct meta_image im;
	meta_image_init(&im);
	assert_int_equal(apply(&im, META_REC_PRODUCER_IDS), 0);
	assert_int_equal(apply(&im, META_REC_PRODUCER_IDS), ERR_RANGE); /* never backwards or twice */
	assert_int_equal(apply(&im, META_REC_ACL), 0);
	assert_int_equal(apply(&im, META_REC_ACL), ERR_EXISTS);
	assert_int_equal(apply(&im, META_REC_ACL_REMOVE), 0);
	assert_int_equal(apply(&im, META_REC_ACL_REMOVE), ERR_NOT_FOUND);
	assert_int_equal(apply(&im, META_REC_AGENT_REG), 0);
	assert_int_equal(apply(&im, META_REC_AGENT_REG), ERR_META_FENCED);
	assert_int_equal(apply(&im, META_REC_AGENT_FENCE), 0);
	assert_true(im.agents[0].fenced);
	assert_int_equal(apply(&im, META_REC_ROUTE), 0);
	struct meta_record r = sample_record(META_REC_ROUTE);
	r.route.topic = meta_str_of("other");
	assert_int_equal(meta_image_apply(&im, &r), 0); /* replaced by name */
	assert_int_equal(im.route_count, 1);
	assert_memory_equal(im.routes[0].topic.p, "other", 5);
	r.route.qos = 3;
	assert_int_equal(meta_image_apply(&im, &r), ERR_INVAL);
	assert_int_equal(apply(&im, META_REC_ROUTE_REMOVE), 0);
	r = sample_record(META_REC_CONFIG);
	r.config.has_value = false;
	assert_int_equal(meta_image_apply(&im, &r), ERR_NOT_FOUND);
	meta_image_deinit(&im);
}

static uint64_t rng;
static uint32_t rnd(uint32_t n)
{
	rng = rng * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rng >> 33) % n;
}

/* A random but valid-looking record (some will be refused, which must be deterministic too). */
static struct meta_record random_record(char *scratch)
{
	struct meta_record r = sample_record((uint16_t)(1 + rnd(META_REC_TYPE_END - 1)));
	switch (r.type) {
	case META_REC_BROKER_REG:
	case META_REC_BROKER_FENCE:
	case META_REC_BROKER_UNFENCE:
	case META_REC_BROKER_UNREG:
		r.broker.id = (int32_t)rnd(5);
		r.broker.epoch = rnd(20);
		break;
	case META_REC_TOPIC:
		snprintf(scratch, 32, "topic-%u", rnd(8));
		r.topic.name = meta_str_of(scratch);
		r.topic.id = sample_uuid((uint8_t)rnd(8));
		break;
	case META_REC_TOPIC_REMOVE:
		r.topic.id = sample_uuid((uint8_t)rnd(8));
		break;
	case META_REC_PARTITION:
		r.partition.topic = sample_uuid((uint8_t)rnd(8));
		r.partition.partition = (int32_t)rnd(4);
		break;
	case META_REC_PARTITION_CHANGE:
		r.change.topic = sample_uuid((uint8_t)rnd(8));
		r.change.partition = (int32_t)rnd(4);
		r.change.leader = rnd(2) ? META_NO_CHANGE : (int32_t)(1 + rnd(3));
		r.change.isr = (struct meta_replicas){2, {(int32_t)(1 + rnd(3)), (int32_t)(1 + rnd(3))}};
		break;
	case META_REC_CONFIG:
		snprintf(scratch, 32, "k%u", rnd(6));
		r.config.key = meta_str_of(scratch);
		r.config.has_value = rnd(3) != 0;
		break;
	case META_REC_PRODUCER_IDS:
		r.producer_ids.next_id = rnd(100000);
		break;
	case META_REC_ACL:
	case META_REC_ACL_REMOVE:
		r.acl.operation = (uint8_t)rnd(4);
		break;
	case META_REC_AGENT_REG:
	case META_REC_AGENT_FENCE:
		snprintf(scratch, 32, "gw-%u", rnd(10));
		r.agent.name = meta_str_of(scratch);
		r.agent.epoch = rnd(6);
		break;
	default:
		snprintf(scratch, 32, "route-%u", rnd(5));
		r.route.name = meta_str_of(scratch);
		break;
	}
	return r;
}

static void test_snapshot_round_trip_random(void **state)
{
	(void)state;
	for (uint64_t seed = 1; seed <= 20; seed++) {
		rng = seed;
		struct meta_image a, b, mid;
		meta_image_init(&a);
		meta_image_init(&b);
		meta_image_init(&mid);
		struct dbuf half, s1, s2, s3;
		bool have_half = false;
		uint64_t applied = 0;
		for (int i = 0; i < 3000; i++) {
			char scratch[32];
			struct meta_record r = random_record(scratch);
			int ra = meta_image_apply(&a, &r);
			int rb = meta_image_apply(&b, &r);
			assert_int_equal(ra, rb); /* the same verdict everywhere */
			applied += ra == 0;
			if (i == 1500) {
				save(&a, &half);
				have_half = true;
				assert_int_equal(meta_image_load(&mid, half.p, half.len), 0);
			} else if (i > 1500) {
				assert_int_equal(meta_image_apply(&mid, &r), ra);
			}
		}
		assert_true(applied > 300);
		assert_true(have_half);
		save(&a, &s1);
		save(&mid, &s2);
		/* a replica that started from the snapshot is identical */
		assert_int_equal(s1.len, s2.len);
		assert_memory_equal(s1.p, s2.p, s1.len);
		/* load(save(x)) saves to the same bytes */
		struct meta_image c;
		meta_image_init(&c);
		assert_int_equal(meta_image_load(&c, s1.p, s1.len), 0);
		save(&c, &s3);
		assert_int_equal(s1.len, s3.len);
		assert_memory_equal(s1.p, s3.p, s1.len);
		/* damage is detected */
		s3.p[s3.len / 2] ^= 1;
		struct meta_image d;
		meta_image_init(&d);
		assert_int_equal(meta_image_load(&d, s3.p, s3.len), ERR_CORRUPT);
		meta_image_deinit(&d);
		dbuf_deinit(&half);
		dbuf_deinit(&s1);
		dbuf_deinit(&s2);
		dbuf_deinit(&s3);
		meta_image_deinit(&a);
		meta_image_deinit(&b);
		meta_image_deinit(&c);
		meta_image_deinit(&mid);
	}
}

static void test_apply_entry(void **state)
{
	(void)state;
	struct meta_image im;
	meta_image_init(&im);
	uint8_t buf[256];
	struct meta_record r = sample_record(META_REC_TOPIC);
	int n = meta_record_encode(&r, buf, sizeof buf);
	assert_int_equal(meta_image_apply_entry(&im, 7, buf, (size_t)n), 0);
	assert_int_equal(im.applied_index, 7);
	assert_int_equal(meta_image_apply_entry(&im, 8, buf, 3), ERR_AGAIN);
	assert_int_equal(im.applied_index, 8);
	assert_int_equal(im.records_refused, 1);
	meta_image_deinit(&im);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_broker_lifecycle),
		cmocka_unit_test(test_topic_and_partitions),
		cmocka_unit_test(test_others),
		cmocka_unit_test(test_snapshot_round_trip_random),
		cmocka_unit_test(test_apply_entry),
	};
	return cmocka_run_group_tests_name("meta/image", tests, NULL, NULL);
}
