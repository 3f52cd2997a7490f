/* Metadata cache: bounded tables (brokers, topics, partitions) report ERR_FULL and never write past; topics
 * update in place; an erroring topic keeps what was known; leaders resolve to brokers, unknown or leaderless
 * partitions say so; long hosts and names are refused, not truncated. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "kafka/metadata.h"

static struct kafka_metadata_response_broker brokers[4];
static struct kafka_metadata_response_topic topics[4];
static struct kafka_metadata_response_partition parts[4][6];
static char names[4][8];

static void response(struct kafka_metadata_response *r, int nb, int nt, int np)
{
	kafka_msg_init(&kafka_msg_metadata_response, r);
	for (int i = 0; i < nb; i++) {
		KAFKA_INIT(kafka_metadata_response_broker, &brokers[i]);
		brokers[i].node_id = i + 1;
		brokers[i].host = (struct kafka_str){ "10.0.0.1", 8 };
		brokers[i].port = 9092 + i;
	}
	for (int t = 0; t < nt; t++) {
		KAFKA_INIT(kafka_metadata_response_topic, &topics[t]);
		names[t][0] = 't';
		names[t][1] = (char)('0' + t);
		names[t][2] = 0;
		topics[t].name = (struct kafka_str){ names[t], (int32_t)strlen(names[t]) };
		for (int p = 0; p < np; p++) {
			KAFKA_INIT(kafka_metadata_response_partition, &parts[t][p]);
			parts[t][p].partition_index = p;
			parts[t][p].leader_id = p % 2 ? 2 : 1;
			parts[t][p].leader_epoch = 7;
		}
		topics[t].partitions.items = parts[t];
		topics[t].partitions.count = np;
	}
	r->brokers.items = brokers;
	r->brokers.count = nb;
	r->topics.items = topics;
	r->topics.count = nt;
	r->cluster_id = (struct kafka_str){ "c1", 2 };
	r->controller_id = 2;
}

static void test_fits(void **state)
{
	(void)state;
	struct kafka_metadata_cache m;
	struct kafka_metadata_response r;
	assert_int_equal(kafka_metadata_init(&m, 2, 2, 4), 0);
	response(&r, 2, 2, 4);
	assert_int_equal(kafka_metadata_update(&m, &r, 1), 0);
	const struct kafka_broker_info *b;
	assert_int_equal(kafka_metadata_leader(&m, "t1", 2, 3, &b), 0);
	assert_int_equal(b->node_id, 2);
	assert_int_equal(b->port, 9093);
	assert_string_equal(b->host, "10.0.0.1");
	assert_int_equal(m.controller_id, 2);
	/* A second answer updates in place: t0 loses its leader for partition 0. */
	parts[0][0].leader_id = -1;
	assert_int_equal(kafka_metadata_update(&m, &r, 2), 0);
	assert_int_equal(m.topic_count, 2);
	assert_int_equal(kafka_metadata_leader(&m, "t0", 2, 0, &b), ERR_AGAIN);
	/* A topic answered with an error keeps its partitions. */
	topics[1].error_code = 5; /* LEADER_NOT_AVAILABLE */
	topics[1].partitions.count = 0;
	assert_int_equal(kafka_metadata_update(&m, &r, 3), 0);
	assert_int_equal(kafka_metadata_leader(&m, "t1", 2, 3, &b), 0);
	assert_int_equal(kafka_metadata_topic(&m, "t1", 2)->error_code, 5);
	/* A leader id that is not among the brokers. */
	response(&r, 1, 1, 2);
	assert_int_equal(kafka_metadata_update(&m, &r, 4), 0);
	assert_int_equal(kafka_metadata_leader(&m, "t0", 2, 1, &b), ERR_AGAIN);
	assert_int_equal(kafka_metadata_leader(&m, "t0", 2, 0, &b), 0);
	kafka_metadata_deinit(&m);
}

static void test_limits(void **state)
{
	(void)state;
	struct kafka_metadata_cache m;
	struct kafka_metadata_response r;
	assert_int_equal(kafka_metadata_init(&m, 2, 2, 4), 0);
	response(&r, 4, 4, 6);
	assert_int_equal(kafka_metadata_update(&m, &r, 1), ERR_FULL);
	assert_int_equal(m.broker_count, 2);
	assert_int_equal(m.topic_count, 2);
	const struct kafka_topic_info *t = kafka_metadata_topic(&m, "t0", 2);
	assert_int_equal(t->partition_count, 4); /* partitions 4 and 5 did not fit */
	const struct kafka_broker_info *b;
	assert_int_equal(kafka_metadata_leader(&m, "t0", 2, 5, &b), ERR_NOT_FOUND);
	assert_int_equal(kafka_metadata_leader(&m, "t3", 2, 0, &b), ERR_NOT_FOUND);
	/* A host longer than the table's field is refused, not cut. */
	static char longhost[400];
	memset(longhost, 'h', sizeof longhost);
	response(&r, 1, 0, 0);
	brokers[0].host = (struct kafka_str){ longhost, (int32_t)sizeof longhost };
	assert_int_equal(kafka_metadata_update(&m, &r, 2), ERR_FULL);
	assert_int_equal(m.broker_count, 0);
	/* A name over Kafka's 249 bytes, and a topic known only by id (v10+), are not cached. */
	static char longname[300];
	memset(longname, 'n', sizeof longname);
	response(&r, 1, 1, 1);
	topics[0].name = (struct kafka_str){ longname, (int32_t)sizeof longname };
	assert_int_equal(kafka_metadata_update(&m, &r, 3), ERR_FULL);
	topics[0].name = (struct kafka_str){ NULL, -1 };
	assert_int_equal(kafka_metadata_update(&m, &r, 3), ERR_FULL);
	assert_true(kafka_metadata_stale(&m, 3 + 2000000000ull, 1000));
	assert_false(kafka_metadata_stale(&m, 3 + 500000000ull, 1000));
	kafka_metadata_deinit(&m);
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_fits), cmocka_unit_test(test_limits) };
	return cmocka_run_group_tests_name("kafka/metadata", tests, NULL, NULL);
}
