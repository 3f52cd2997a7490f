/* The Raft core's API: configuration checks, determinism, the single-voter path, refusals, the ready
 * contract (what is to be persisted travels with the messages that depend on it), compaction bounds. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "base/err.h"
#include "raft/raft.h"

static struct raft_boot boot_of(unsigned voters)
{
	struct raft_boot b;
	memset(&b, 0, sizeof b);
	for (unsigned i = 0; i < voters; i++)
		b.snap.conf.voters[b.snap.conf.voter_count++] = i + 1;
	return b;
}

static struct raft *node(uint32_t id, unsigned voters, uint64_t seed)
{
	struct raft_config c;
	raft_config_default(&c);
	c.id = id;
	c.seed = seed;
	struct raft_boot b = boot_of(voters);
	struct raft *r = NULL;
	assert_int_equal(raft_new(&c, &b, &r), 0);
	return r;
}

/* Run the ready cycle without storage; returns how many committed entries were handed out. */
static size_t drain(struct raft *r)
{
	size_t committed = 0;
	while (raft_has_ready(r)) {
		struct raft_ready rd;
		raft_ready(r, &rd);
		committed += rd.committed_count;
		raft_advance(r, &rd);
	}
	return committed;
}

static void test_config_checks(void **state)
{
	(void)state;
	struct raft_config c;
	struct raft_boot b = boot_of(3);
	struct raft *r;
	raft_config_default(&c);
	c.id = 0;
	assert_int_equal(raft_new(&c, &b, &r), ERR_INVAL);
	c.id = 1;
	c.heartbeat_ticks = c.election_ticks;
	assert_int_equal(raft_new(&c, &b, &r), ERR_INVAL);
	raft_config_default(&c);
	c.id = 1;
	c.max_inflight = 0;
	assert_int_equal(raft_new(&c, &b, &r), ERR_INVAL);
	raft_config_default(&c);
	c.id = 1;
	c.max_msg_entries = RAFT_MSG_ENTRIES_MAX + 1;
	assert_int_equal(raft_new(&c, &b, &r), ERR_INVAL);
	/* a boot log with a gap is refused */
	raft_config_default(&c);
	c.id = 1;
	struct raft_entry es[2] = {{.term = 1, .index = 1}, {.term = 1, .index = 3}};
	b.entries = es;
	b.entry_count = 2;
	assert_int_equal(raft_new(&c, &b, &r), ERR_CORRUPT);
	/* terms going backwards too */
	es[1] = (struct raft_entry){.term = 0, .index = 2};
	assert_int_equal(raft_new(&c, &b, &r), ERR_CORRUPT);
}

/* Same seed, same inputs: the same bytes out.  Another seed: another election timeout. */
static void test_deterministic(void **state)
{
	(void)state;
	unsigned fired[3] = {0};
	uint64_t seeds[3] = {5, 5, 6};
	uint8_t first[2][256];
	size_t first_len[2] = {0};
	for (int k = 0; k < 3; k++) {
		struct raft *r = node(2, 3, seeds[k]);
		for (unsigned t = 1; t <= 40 && !fired[k]; t++) {
			raft_tick(r);
			if (raft_has_ready(r)) {
				struct raft_ready rd;
				raft_ready(r, &rd);
				fired[k] = t;
				if (k < 2 && rd.msg_count) {
					first_len[k] = rd.msgs[0].len;
					memcpy(first[k], rd.msgs[0].buf, rd.msgs[0].len);
				}
				raft_advance(r, &rd);
			}
		}
		raft_free(r);
	}
	assert_true(fired[0] >= 10 && fired[0] < 20);
	assert_int_equal(fired[0], fired[1]);
	assert_int_equal(first_len[0], first_len[1]);
	assert_memory_equal(first[0], first[1], first_len[0]);
	(void)fired[2]; /* a different seed may or may not pick the same tick; it is only required to be valid */
	assert_true(fired[2] >= 10 && fired[2] < 20);
}

static void test_single_voter(void **state)
{
	(void)state;
	struct raft *r = node(1, 1, 1);
	raft_campaign(r);
	assert_int_equal(r->role, RAFT_LEADER);
	assert_int_equal(r->term, 1);
	uint64_t index = 0;
	assert_int_equal(raft_propose(r, "a", 1, &index), 0);
	assert_int_equal(index, 2);
	/* nothing commits before the caller made it durable (advance) */
	assert_int_equal(r->commit, 0);
	assert_int_equal(drain(r), 2);
	assert_int_equal(r->commit, 2);
	assert_int_equal(raft_read_index(r, 77), 0);
	struct raft_ready rd;
	raft_ready(r, &rd);
	assert_int_equal(rd.read_count, 1);
	assert_int_equal(rd.reads[0].ctx, 77);
	assert_int_equal(rd.reads[0].index, 2);
	raft_advance(r, &rd);
	/* compaction bounds */
	assert_int_equal(raft_compact(r, 3, "s", 1), ERR_RANGE);
	assert_int_equal(raft_compact(r, 2, "s", 1), 0);
	assert_int_equal(raft_compact(r, 2, "s", 1), ERR_RAFT_COMPACTED);
	raft_ready(r, &rd);
	assert_true(rd.snap_present);
	assert_false(rd.snap_install);
	assert_int_equal(rd.snap.index, 2);
	assert_int_equal(rd.snap.conf.voter_count, 1);
	raft_advance(r, &rd);
	assert_int_equal(raft_entry_at(r, 2), NULL);
	assert_int_equal(raft_term_at(r, 2), 1);
	raft_free(r);
}

static void test_refusals(void **state)
{
	(void)state;
	struct raft *r = node(1, 3, 1);
	assert_int_equal(raft_propose(r, "a", 1, NULL), ERR_RAFT_NOT_LEADER);
	assert_int_equal(raft_read_index(r, 1), ERR_RAFT_NOT_LEADER);
	raft_free(r);
	/* backpressure: a leader that cannot commit stops taking proposals */
	struct raft_config c;
	raft_config_default(&c);
	c.id = 1;
	c.max_uncommitted = 3;
	struct raft_boot b = boot_of(3);
	assert_int_equal(raft_new(&c, &b, &r), 0);
	raft_campaign(r);
	drain(r);
	struct raft_msg grant;
	memset(&grant, 0, sizeof grant);
	grant.type = RAFT_MSG_PREVOTE_RESP;
	grant.from = 2;
	grant.to = 1;
	grant.term = 1;
	assert_int_equal(raft_step(r, &grant), 0);
	drain(r);
	grant.type = RAFT_MSG_VOTE_RESP;
	assert_int_equal(raft_step(r, &grant), 0);
	drain(r);
	assert_int_equal(r->role, RAFT_LEADER);
	assert_int_equal(raft_propose(r, "a", 1, NULL), 0);
	assert_int_equal(raft_propose(r, "b", 1, NULL), 0); /* the no-op and two proposals wait */
	assert_int_equal(raft_propose(r, "c", 1, NULL), ERR_FULL);
	raft_free(r);
	r = node(1, 3, 1);
	assert_int_equal(raft_transfer(r, 2), ERR_RAFT_NOT_LEADER);
	struct raft_msg m;
	memset(&m, 0, sizeof m);
	m.type = RAFT_MSG_HEARTBEAT;
	m.from = 2;
	m.to = 9; /* not us */
	m.term = 1;
	assert_int_equal(raft_step(r, &m), ERR_INVAL);
	assert_int_equal(raft_step_bytes(r, (const uint8_t *)"\x01", 1), ERR_AGAIN);
	raft_free(r);
	/* a leader of one: conf changes */
	r = node(1, 1, 1);
	raft_campaign(r);
	struct raft_conf two = {.voter_count = 3, .voters = {1, 2, 3}};
	assert_int_equal(raft_propose_conf(r, &two, NULL), ERR_RAFT_CONF_PENDING); /* no-op not committed yet */
	drain(r);
	assert_int_equal(raft_propose_conf(r, &two, NULL), ERR_RAFT_CONF_INVALID); /* two voters at once */
	struct raft_conf dup = {.voter_count = 2, .voters = {1, 1}};
	assert_int_equal(raft_propose_conf(r, &dup, NULL), ERR_RAFT_CONF_INVALID);
	struct raft_conf learner = {.voter_count = 1, .voters = {1}, .learner_count = 1, .learners = {2}};
	assert_int_equal(raft_propose_conf(r, &learner, NULL), 0);
	assert_int_equal(r->conf.learner_count, 1); /* in force from the moment it is in the log */
	struct raft_conf add = {.voter_count = 2, .voters = {1, 3}, .learner_count = 1, .learners = {2}};
	assert_int_equal(raft_propose_conf(r, &add, NULL), ERR_RAFT_CONF_PENDING);
	raft_free(r);
}

/* A follower's ready holds the entries and the vote together with the replies that depend on them. */
static void test_ready_carries_what_replies_promise(void **state)
{
	(void)state;
	struct raft *r = node(2, 3, 1);
	struct raft_msg m;
	memset(&m, 0, sizeof m);
	m.type = RAFT_MSG_VOTE;
	m.from = 1;
	m.to = 2;
	m.term = 4;
	assert_int_equal(raft_step(r, &m), 0);
	struct raft_ready rd;
	raft_ready(r, &rd);
	assert_true(rd.hs_changed);
	assert_int_equal(rd.hs.term, 4);
	assert_int_equal(rd.hs.vote, 1);
	assert_int_equal(rd.msg_count, 1);
	struct raft_msg resp;
	assert_int_equal(raft_msg_decode(rd.msgs[0].buf, rd.msgs[0].len, &resp), 0);
	assert_int_equal(resp.type, RAFT_MSG_VOTE_RESP);
	assert_false(resp.flags & RAFT_FLAG_REJECT);
	raft_advance(r, &rd);
	/* an append from the new leader: entries to persist and the acknowledgement in one ready */
	static const uint8_t data[] = "xyz";
	memset(&m, 0, sizeof m);
	m.type = RAFT_MSG_APPEND;
	m.from = 1;
	m.to = 2;
	m.term = 4;
	m.commit = 1;
	m.entry_count = 2;
	m.entries[0] = (struct raft_entry){.term = 4, .index = 1, .type = RAFT_ENTRY_NOOP};
	m.entries[1] = (struct raft_entry){.term = 4, .index = 2, .len = 3, .data = data};
	assert_int_equal(raft_step(r, &m), 0);
	raft_ready(r, &rd);
	assert_int_equal(rd.entry_count, 2);
	assert_int_equal(rd.committed_count, 1);
	assert_int_equal(rd.msg_count, 1);
	assert_int_equal(raft_msg_decode(rd.msgs[0].buf, rd.msgs[0].len, &resp), 0);
	assert_int_equal(resp.type, RAFT_MSG_APPEND_RESP);
	assert_int_equal(resp.index, 2);
	raft_advance(r, &rd);
	assert_false(raft_has_ready(r));
	/* a second vote in the same term goes to nobody else */
	memset(&m, 0, sizeof m);
	m.type = RAFT_MSG_VOTE;
	m.from = 3;
	m.to = 2;
	m.term = 4;
	m.index = 9;
	m.log_term = 4;
	raft_step(r, &m);
	raft_ready(r, &rd);
	assert_int_equal(raft_msg_decode(rd.msgs[0].buf, rd.msgs[0].len, &resp), 0);
	assert_true(resp.flags & RAFT_FLAG_REJECT);
	raft_advance(r, &rd);
	raft_free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_checks),
		cmocka_unit_test(test_deterministic),
		cmocka_unit_test(test_single_voter),
		cmocka_unit_test(test_refusals),
		cmocka_unit_test(test_ready_carries_what_replies_promise),
	};
	return cmocka_run_group_tests_name("raft/core", tests, NULL, NULL);
}
