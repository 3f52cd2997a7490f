/* The partition layer with the log flusher thread (partition.h): under the sync flush policy the high
 * watermark stays at the flushed offset until a poll publishes the round the thread ran; a topic deleted
 * while a round is in flight is drained first; topics_close stops the thread and publishes its round. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "base/err.h"
#include "cloud/partition/partition.h"
#include "log_test_util.h"

static pthread_mutex_t wake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_cond = PTHREAD_COND_INITIALIZER;
static int wakes;

/* Called from the flusher thread, as the broker's event_active would be. */
static void on_wake(void *ctx)
{
	(void)ctx;
	pthread_mutex_lock(&wake_lock);
	wakes++;
	pthread_cond_signal(&wake_cond);
	pthread_mutex_unlock(&wake_lock);
}

/* Poll as the loop does on each wake-up until a poll publishes something (bounded). */
static size_t poll_until_published(struct topics *t)
{
	for (int i = 0; i < 200; i++) {
		size_t n = 0;
		assert_int_equal(topics_flush(t, &n), 0);
		if (n)
			return n;
		pthread_mutex_lock(&wake_lock);
		if (!wakes) {
			struct timespec ts;
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 50 * 1000 * 1000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			pthread_cond_timedwait(&wake_cond, &wake_lock, &ts);
		}
		wakes = 0;
		pthread_mutex_unlock(&wake_lock);
	}
	fail_msg("the flusher never published a round");
	return 0;
}

static struct topics *open_topics(const char *dir, enum log_flush_policy policy)
{
	struct topics_config tc = {.data_dir = dir, .topics_max = 4, .partitions_max = 4, .node_id = 1};
	log_config_default(&tc.log);
	tc.log.flush_policy = policy;
	struct topics *t;
	assert_int_equal(topics_open(&t, &tc, NULL), 0);
	return t;
}

static void append(struct partition *p, int records)
{
	uint8_t buf[4096];
	struct test_batch tb = test_batch_default();
	tb.records = records;
	size_t len = test_batch_make(buf, sizeof buf, &tb);
	struct log_append_info info;
	assert_int_equal(partition_append(p, buf, len, &info), 0);
	assert_true(info.appended);
}

static void hw_follows_flush_under_sync(void **state)
{
	(void)state;
	char *dir = test_tmpdir();
	struct topics *t = open_topics(dir, LOG_FLUSH_SYNC);
	assert_int_equal(topics_flusher_start(t, on_wake, NULL), 0);
	struct topic *tp;
	assert_int_equal(topics_create(t, "a", 1, 2, false, &tp), 0);
	struct partition *p0 = topic_partition(tp, 0), *p1 = topic_partition(tp, 1);
	append(p0, 3);
	append(p1, 2);
	/* Appended but not durable: consumers must not see it. */
	assert_int_equal(log_end_offset(p0->log), 3);
	assert_int_equal(p0->leader.high_watermark, 0);
	assert_int_equal(p1->leader.high_watermark, 0);
	size_t n = poll_until_published(t);
	assert_true(n >= 1);
	/* A round covers both logs (one group commit); poll once more if the first covered only one. */
	if (log_flushed_offset(p1->log) < 2 || log_flushed_offset(p0->log) < 3)
		poll_until_published(t);
	assert_int_equal(log_flushed_offset(p0->log), 3);
	assert_int_equal(p0->leader.high_watermark, 3);
	assert_int_equal(p1->leader.high_watermark, 2);
	/* A round in flight when the topic goes: delete drains it before closing the logs. */
	append(p0, 1);
	size_t none = 0;
	assert_int_equal(topics_flush(t, &none), 0); /* hands the round to the thread */
	assert_int_equal(topics_delete(t, "a", 1), 0);
	assert_int_equal(topics_create(t, "b", 1, 1, false, &tp), 0);
	append(topic_partition(tp, 0), 1);
	assert_int_equal(topics_flush(t, &none), 0);
	topics_close(t); /* stops the thread with a round possibly in flight */
	test_rmtree(dir);
	free(dir);
}

static void hw_is_log_end_without_sync(void **state)
{
	(void)state;
	char *dir = test_tmpdir();
	struct topics *t = open_topics(dir, LOG_FLUSH_INTERVAL);
	assert_int_equal(topics_flusher_start(t, on_wake, NULL), 0);
	struct topic *tp;
	assert_int_equal(topics_create(t, "a", 1, 1, false, &tp), 0);
	append(topic_partition(tp, 0), 4);
	assert_int_equal(topic_partition(tp, 0)->leader.high_watermark, 4);
	topics_close(t);
	test_rmtree(dir);
	free(dir);
}

static void without_flusher_rounds_run_in_place(void **state)
{
	(void)state;
	char *dir = test_tmpdir();
	struct topics *t = open_topics(dir, LOG_FLUSH_SYNC);
	struct topic *tp;
	assert_int_equal(topics_create(t, "a", 1, 1, false, &tp), 0);
	struct partition *p = topic_partition(tp, 0);
	append(p, 2);
	assert_int_equal(p->leader.high_watermark, 0);
	size_t n = 0;
	assert_int_equal(topics_flush(t, &n), 0);
	assert_int_equal(n, 1);
	assert_int_equal(p->leader.high_watermark, 2);
	topics_flusher_stop(t); /* not started: nothing to do */
	topics_close(t);
	test_rmtree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hw_follows_flush_under_sync),
		cmocka_unit_test(hw_is_log_end_without_sync),
		cmocka_unit_test(without_flusher_rounds_run_in_place),
	};
	return cmocka_run_group_tests_name("cloud/topics_flusher", tests, NULL, NULL);
}
