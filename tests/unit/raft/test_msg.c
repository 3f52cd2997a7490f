/* Raft wire codec: round trips of every message type, truncation at every offset, bounds, versions. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/rw.h"
#include "raft/raft_msg.h"

static struct raft_msg *sample(uint8_t type)
{
	static struct raft_msg m;
	static const uint8_t data[] = "payload-bytes";
	memset(&m, 0, sizeof m);
	m.type = type;
	m.from = 1;
	m.to = 2;
	m.term = 7;
	m.index = 10;
	m.log_term = 6;
	m.commit = 9;
	m.hint_index = 3;
	m.hint_term = 2;
	m.context = 42;
	if (type == RAFT_MSG_APPEND) {
		m.entry_count = 3;
		for (unsigned i = 0; i < 3; i++)
			m.entries[i] = (struct raft_entry){.term = 6 + (i > 0), .index = 11 + i, .type = RAFT_ENTRY_NORMAL,
			                                   .len = (uint32_t)(i * 5), .data = data};
	} else if (type == RAFT_MSG_SNAP) {
		m.snap.index = 100;
		m.snap.term = 5;
		m.snap.conf.voter_count = 3;
		m.snap.conf.voters[0] = 1;
		m.snap.conf.voters[1] = 2;
		m.snap.conf.voters[2] = 3;
		m.snap.conf.learner_count = 1;
		m.snap.conf.learners[0] = 9;
		m.offset = 4;
		m.total = 20;
		m.chunk = data;
		m.chunk_len = 8;
		m.flags = RAFT_FLAG_DONE;
	} else if (type == RAFT_MSG_SNAP_RESP) {
		m.offset = 77;
	}
	return &m;
}

static void test_round_trip_every_type(void **state)
{
	(void)state;
	uint8_t buf[1024];
	for (uint8_t t = 1; t < RAFT_MSG_TYPE_END; t++) {
		struct raft_msg *m = sample(t);
		size_t size = raft_msg_size(m);
		int n = raft_msg_encode(m, buf, sizeof buf);
		assert_int_equal(n, (int)size);
		struct raft_msg *d = malloc(sizeof *d);
		assert_int_equal(raft_msg_decode(buf, (size_t)n, d), 0);
		assert_int_equal(d->type, t);
		assert_int_equal(d->term, 7);
		assert_int_equal(d->commit, 9);
		assert_int_equal(d->context, 42);
		assert_int_equal(d->entry_count, m->entry_count);
		for (unsigned i = 0; i < d->entry_count; i++) {
			assert_int_equal(d->entries[i].index, 11 + i);
			assert_int_equal(d->entries[i].len, i * 5);
			assert_memory_equal(d->entries[i].data, m->entries[i].data, d->entries[i].len);
		}
		assert_int_equal(d->offset, m->offset);
		assert_int_equal(d->snap.index, m->snap.index);
		assert_int_equal(d->snap.conf.learner_count, m->snap.conf.learner_count);
		assert_int_equal(d->chunk_len, m->chunk_len);
		/* every proper prefix is incomplete, never accepted */
		for (int cut = 0; cut < n; cut++)
			assert_int_equal(raft_msg_decode(buf, (size_t)cut, d), ERR_AGAIN);
		/* a trailing byte is an error */
		buf[n] = 0;
		assert_int_equal(raft_msg_decode(buf, (size_t)n + 1, d), ERR_MALFORMED);
		free(d);
	}
}

static void test_rejects_bad_headers(void **state)
{
	(void)state;
	uint8_t buf[256];
	struct raft_msg *m = sample(RAFT_MSG_HEARTBEAT);
	int n = raft_msg_encode(m, buf, sizeof buf);
	struct raft_msg *d = malloc(sizeof *d);
	buf[0] = 2;
	assert_int_equal(raft_msg_decode(buf, (size_t)n, d), ERR_RAFT_BAD_VERSION);
	buf[0] = RAFT_WIRE_VERSION;
	buf[1] = 0;
	assert_int_equal(raft_msg_decode(buf, (size_t)n, d), ERR_MALFORMED);
	buf[1] = RAFT_MSG_TYPE_END;
	assert_int_equal(raft_msg_decode(buf, (size_t)n, d), ERR_MALFORMED);
	buf[1] = RAFT_MSG_HEARTBEAT;
	buf[2] = 0x80; /* unknown flag */
	assert_int_equal(raft_msg_decode(buf, (size_t)n, d), ERR_MALFORMED);
	buf[2] = 0;
	memset(buf + 3, 0, 4); /* from = 0 */
	assert_int_equal(raft_msg_decode(buf, (size_t)n, d), ERR_MALFORMED);
	free(d);
}

static void test_bounds(void **state)
{
	(void)state;
	uint8_t buf[1024];
	struct raft_msg *d = malloc(sizeof *d);
	/* an entry count over the limit */
	struct raft_msg *m = sample(RAFT_MSG_APPEND);
	m->entry_count = 0;
	int n = raft_msg_encode(m, buf, sizeof buf);
	buf[n - 2] = 0xff;
	buf[n - 1] = 0xff;
	assert_int_equal(raft_msg_decode(buf, (size_t)n, d), ERR_TOO_LARGE);
	/* an entry length over the limit, then terms that go backwards */
	m = sample(RAFT_MSG_APPEND);
	m->entry_count = 1;
	m->entries[0].len = 0;
	n = raft_msg_encode(m, buf, sizeof buf);
	struct wbuf w;
	wbuf_init(&w, buf + n - 4, 4);
	wbuf_u32(&w, RAFT_ENTRY_DATA_MAX + 1);
	assert_int_equal(raft_msg_decode(buf, (size_t)n, d), ERR_TOO_LARGE);
	m->entries[0].term = 5; /* below log_term 6 */
	n = raft_msg_encode(m, buf, sizeof buf);
	assert_int_equal(raft_msg_decode(buf, (size_t)n, d), ERR_MALFORMED);
	/* a snapshot chunk past its total */
	m = sample(RAFT_MSG_SNAP);
	m->offset = 15;
	n = raft_msg_encode(m, buf, sizeof buf);
	assert_int_equal(raft_msg_decode(buf, (size_t)n, d), ERR_MALFORMED);
	/* a configuration naming a node twice */
	m = sample(RAFT_MSG_SNAP);
	m->snap.conf.learners[0] = 2;
	n = raft_msg_encode(m, buf, sizeof buf);
	assert_int_equal(raft_msg_decode(buf, (size_t)n, d), ERR_MALFORMED);
	/* the encoder refuses a buffer too small */
	m = sample(RAFT_MSG_APPEND);
	assert_int_equal(raft_msg_encode(m, buf, 10), ERR_TOO_LARGE);
	free(d);
}

static void test_conf_codec(void **state)
{
	(void)state;
	struct raft_conf c = {.voter_count = 2, .voters = {4, 5}, .learner_count = 1, .learners = {6}}, out;
	uint8_t buf[RAFT_CONF_SIZE_MAX];
	int n = raft_conf_encode(&c, buf, sizeof buf);
	assert_int_equal(n, (int)raft_conf_size(&c));
	assert_int_equal(raft_conf_decode(buf, (size_t)n, &out), 0);
	assert_int_equal(out.voter_count, 2);
	assert_int_equal(out.voters[1], 5);
	assert_int_equal(out.learner_count, 1);
	assert_int_equal(out.learners[0], 6);
	for (int cut = 0; cut < n; cut++)
		assert_int_not_equal(raft_conf_decode(buf, (size_t)cut, &out), 0);
	buf[0] = 9;
	assert_int_equal(raft_conf_decode(buf, (size_t)n, &out), ERR_RAFT_BAD_VERSION);
	buf[0] = RAFT_WIRE_VERSION;
	buf[1] = RAFT_NODES_MAX + 1;
	assert_int_equal(raft_conf_decode(buf, (size_t)n, &out), ERR_TOO_LARGE);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip_every_type),
		cmocka_unit_test(test_rejects_bad_headers),
		cmocka_unit_test(test_bounds),
		cmocka_unit_test(test_conf_codec),
	};
	return cmocka_run_group_tests_name("raft/msg", tests, NULL, NULL);
}
