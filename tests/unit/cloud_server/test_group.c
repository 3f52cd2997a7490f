/* Consumer group coordinator state machine: joins, MEMBER_ID_REQUIRED, syncs, heartbeats, leaves, session and
 * rebalance timeouts, generation fencing, static membership, eviction on a closed connection.  Time is a
 * number the test moves. */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "cloud/group/group.h"

/* What one client saw: the last answer to its parked JoinGroup/SyncGroup. */
struct client {
	const char *name;
	char member_id[300];
	int joins, syncs;
	int16_t join_err, sync_err;
	int32_t generation;
	char leader[300];
	uint32_t members_seen;
	char assignment[64];
	uint64_t conn;
};

static void on_join(void *ctx, void *waiter, const struct group_join_result *r)
{
	(void)ctx;
	struct client *c = waiter;
	c->joins++;
	c->join_err = r->error;
	if (r->member_id && r->member_id[0])
		snprintf(c->member_id, sizeof c->member_id, "%s", r->member_id);
	c->generation = r->generation;
	snprintf(c->leader, sizeof c->leader, "%s", r->leader_id ? r->leader_id : "");
	c->members_seen = r->member_count;
}

static void on_sync(void *ctx, void *waiter, int16_t error, const char *pt, const char *pn, const uint8_t *a,
		    size_t alen)
{
	(void)ctx, (void)pt, (void)pn;
	struct client *c = waiter;
	c->syncs++;
	c->sync_err = error;
	snprintf(c->assignment, sizeof c->assignment, "%.*s", (int)alen, a ? (const char *)a : "");
}

static struct group_view V(const char *s) { return (struct group_view){s, s ? strlen(s) : 0}; }

static struct group_coord *coord(uint32_t initial_delay_ms)
{
	struct group_limits lim = {.session_timeout_ms_min = 1000, .session_timeout_ms_max = 60000,
				   .initial_rebalance_delay_ms = initial_delay_ms, .members_max = 10,
				   .groups_max = 10};
	struct group_callbacks cb = {NULL, on_join, on_sync};
	return group_coord_new(&lim, &cb);
}

static const struct group_protocol_in range_proto[] = {{{"range", 5}, {"meta", 4}}};

static void join_as(struct group_coord *gc, struct client *c, const char *instance, uint64_t now)
{
	struct group_join_req r = {
		.group_id = V("g"), .member_id = V(c->member_id), .instance_id = V(instance),
		.client_id = V(c->name), .client_host = V("/127.0.0.1"), .protocol_type = V("consumer"),
		.protocols = range_proto, .protocol_count = 1, .session_timeout_ms = 10000,
		.rebalance_timeout_ms = 20000, .require_known_member_id = true, .conn_id = c->conn, .waiter = c,
	};
	group_join(gc, &r, now);
}

static void sync_as(struct group_coord *gc, struct client *c, const struct group_assignment_in *a, uint32_t n,
		    uint64_t now)
{
	struct group_sync_req r = {.group_id = V("g"), .member_id = V(c->member_id), .generation = c->generation,
				   .assignments = a, .assignment_count = n, .conn_id = c->conn, .waiter = c};
	group_sync(gc, &r, now);
}

static int16_t hb(struct group_coord *gc, struct client *c, uint64_t now)
{
	return group_heartbeat(gc, V("g"), V(c->member_id), V(NULL), c->generation, c->conn, now);
}

/* Dynamic member: first join gets MEMBER_ID_REQUIRED and an id, the second completes the rebalance. */
static void full_join(struct group_coord *gc, struct client *c, uint64_t now)
{
	int before = c->joins;
	join_as(gc, c, NULL, now);
	assert_int_equal(c->joins, before + 1);
	assert_int_equal(c->join_err, GROUP_E_MEMBER_ID_REQUIRED);
	assert_true(strlen(c->member_id) > strlen(c->name));
	join_as(gc, c, NULL, now);
}

static void test_member_id_required_then_leader(void **state)
{
	(void)state;
	struct group_coord *gc = coord(0);
	struct client a = {.name = "a", .conn = 1};
	full_join(gc, &a, 0);
	assert_int_equal(a.joins, 2);
	assert_int_equal(a.join_err, 0);
	assert_int_equal(a.generation, 1);
	assert_string_equal(a.leader, a.member_id);
	assert_int_equal(a.members_seen, 1);
	struct group_assignment_in as[] = {{V(a.member_id), V("p0")}};
	sync_as(gc, &a, as, 1, 10);
	assert_int_equal(a.syncs, 1);
	assert_int_equal(a.sync_err, 0);
	assert_string_equal(a.assignment, "p0");
	struct group_info info;
	assert_int_equal(group_describe(gc, V("g"), &info), 0);
	assert_int_equal(info.state, GROUP_STABLE);
	assert_string_equal(info.protocol_name, "range");
	/* An unknown member id is refused, as is a join naming a group that does not exist. */
	struct client x = {.name = "x", .conn = 9};
	strcpy(x.member_id, "nobody");
	join_as(gc, &x, NULL, 20);
	assert_int_equal(x.join_err, GROUP_E_UNKNOWN_MEMBER_ID);
	group_coord_free(gc);
}

static void two_members_stable(struct group_coord *gc, struct client *a, struct client *b, uint64_t now)
{
	full_join(gc, a, now);
	assert_int_equal(a->generation, 1);
	sync_as(gc, a, (struct group_assignment_in[]){{V(a->member_id), V("all")}}, 1, now);
	/* b arrives: a must rejoin before the new generation forms. */
	full_join(gc, b, now + 1);
	assert_int_equal(b->joins, 1); /* parked: a has not rejoined yet */
	assert_int_equal(hb(gc, a, now + 2), GROUP_E_REBALANCE_IN_PROGRESS);
	int bj = b->joins;
	join_as(gc, a, NULL, now + 3);
	assert_int_equal(b->joins, bj + 1);
	assert_int_equal(a->generation, 2);
	assert_int_equal(b->generation, 2);
	assert_string_equal(a->leader, a->member_id);
	assert_int_equal(a->members_seen, 2);
	assert_int_equal(b->members_seen, 0);
	/* The follower's sync parks until the leader's assignment arrives. */
	int bs = b->syncs;
	sync_as(gc, b, NULL, 0, now + 4);
	assert_int_equal(b->syncs, bs);
	struct group_assignment_in as[] = {{V(a->member_id), V("p0")}, {V(b->member_id), V("p1")}};
	sync_as(gc, a, as, 2, now + 5);
	assert_int_equal(b->syncs, bs + 1);
	assert_int_equal(b->sync_err, 0);
	assert_string_equal(b->assignment, "p1");
	assert_string_equal(a->assignment, "p0");
}

static void test_two_members_rebalance(void **state)
{
	(void)state;
	struct group_coord *gc = coord(0);
	struct client a = {.name = "a", .conn = 1}, b = {.name = "b", .conn = 2};
	two_members_stable(gc, &a, &b, 100);
	assert_int_equal(hb(gc, &a, 200), 0);
	assert_int_equal(hb(gc, &b, 200), 0);
	/* Generation fencing: a stale generation is refused for heartbeats, syncs and commits. */
	struct client stale = b;
	stale.generation = 1;
	assert_int_equal(hb(gc, &stale, 201), GROUP_E_ILLEGAL_GENERATION);
	assert_int_equal(group_commit_check(gc, V("g"), V(b.member_id), V(NULL), 1, 201), GROUP_E_ILLEGAL_GENERATION);
	assert_int_equal(group_commit_check(gc, V("g"), V(b.member_id), V(NULL), 2, 201), 0);
	/* A simple commit (no membership) is refused while the group has members. */
	assert_int_equal(group_commit_check(gc, V("g"), V(""), V(NULL), -1, 201), GROUP_E_ILLEGAL_GENERATION);
	sync_as(gc, &stale, NULL, 0, 202);
	assert_int_equal(stale.sync_err, GROUP_E_ILLEGAL_GENERATION);
	group_coord_free(gc);
}

static void test_session_timeout_evicts(void **state)
{
	(void)state;
	struct group_coord *gc = coord(0);
	struct client a = {.name = "a", .conn = 1}, b = {.name = "b", .conn = 2};
	two_members_stable(gc, &a, &b, 0);
	/* a keeps heartbeating, b goes silent; after b's session timeout (10 s) the group rebalances. */
	for (uint64_t t = 1000; t <= 9000; t += 1000) {
		assert_int_equal(hb(gc, &a, t), 0);
		group_tick(gc, t);
	}
	assert_int_equal(hb(gc, &b, 9500), 0); /* still a member just before its deadline */
	for (uint64_t t = 10000; t <= 20000; t += 1000) {
		hb(gc, &a, t);
		group_tick(gc, t);
	}
	assert_int_equal(hb(gc, &a, 20001), GROUP_E_REBALANCE_IN_PROGRESS);
	int aj = a.joins;
	join_as(gc, &a, NULL, 20002);
	assert_int_equal(a.joins, aj + 1);
	assert_int_equal(a.generation, 3);
	assert_int_equal(a.members_seen, 1);
	assert_int_equal(hb(gc, &b, 20003), GROUP_E_UNKNOWN_MEMBER_ID);
	group_coord_free(gc);
}

static void test_rebalance_timeout_drops_laggard(void **state)
{
	(void)state;
	struct group_coord *gc = coord(0);
	struct client a = {.name = "a", .conn = 1}, b = {.name = "b", .conn = 2}, c = {.name = "c", .conn = 3};
	two_members_stable(gc, &a, &b, 0);
	/* c joins; a rejoins, b keeps heartbeating but never rejoins: at the rebalance timeout (20 s) b is out. */
	full_join(gc, &c, 100);
	join_as(gc, &a, NULL, 200);
	int cj = c.joins;
	for (uint64_t t = 1000; t < 20100; t += 1000) {
		assert_int_equal(hb(gc, &b, t), GROUP_E_REBALANCE_IN_PROGRESS);
		group_tick(gc, t);
	}
	assert_int_equal(c.joins, cj);
	uint64_t next = group_tick(gc, 20100);
	assert_int_equal(c.joins, cj + 1);
	assert_true(next > 20100);
	assert_int_equal(c.generation, 3);
	assert_int_equal(a.members_seen, 2);
	assert_int_equal(hb(gc, &b, 20200), GROUP_E_UNKNOWN_MEMBER_ID);
	group_coord_free(gc);
}

static void test_leave_and_empty(void **state)
{
	(void)state;
	struct group_coord *gc = coord(0);
	struct client a = {.name = "a", .conn = 1}, b = {.name = "b", .conn = 2};
	two_members_stable(gc, &a, &b, 0);
	assert_int_equal(group_leave(gc, V("g"), V(b.member_id), V(NULL), 10), 0);
	assert_int_equal(group_leave(gc, V("g"), V(b.member_id), V(NULL), 11), GROUP_E_UNKNOWN_MEMBER_ID);
	assert_int_equal(hb(gc, &a, 12), GROUP_E_REBALANCE_IN_PROGRESS);
	join_as(gc, &a, NULL, 13);
	assert_int_equal(a.generation, 3);
	assert_int_equal(group_leave(gc, V("g"), V(a.member_id), V(NULL), 14), 0);
	struct group_info info;
	assert_int_equal(group_describe(gc, V("g"), &info), 0);
	assert_int_equal(info.state, GROUP_EMPTY);
	assert_int_equal(info.member_count, 0);
	assert_int_equal(info.generation, 4);
	/* An empty group accepts a simple commit again. */
	assert_int_equal(group_commit_check(gc, V("g"), V(""), V(NULL), -1, 15), 0);
	group_coord_free(gc);
}

static void test_static_member_restart(void **state)
{
	(void)state;
	struct group_coord *gc = coord(0);
	struct client a = {.name = "a", .conn = 1};
	join_as(gc, &a, "inst-a", 0); /* static members skip MEMBER_ID_REQUIRED (KIP-345) */
	assert_int_equal(a.join_err, 0);
	assert_int_equal(a.generation, 1);
	sync_as(gc, &a, (struct group_assignment_in[]){{V(a.member_id), V("p0")}}, 1, 1);
	assert_string_equal(a.assignment, "p0");
	/* The process restarts: a new incarnation joins with the same instance id and no member id. */
	struct client a2 = {.name = "a", .conn = 5};
	join_as(gc, &a2, "inst-a", 100);
	assert_int_equal(a2.join_err, 0);
	assert_int_equal(a2.generation, 1); /* no rebalance */
	assert_string_not_equal(a2.member_id, a.member_id);
	sync_as(gc, &a2, NULL, 0, 101);
	assert_string_equal(a2.assignment, "p0");
	/* The old incarnation is fenced. */
	assert_int_equal(group_heartbeat(gc, V("g"), V(a.member_id), V("inst-a"), 1, 1, 102),
			 GROUP_E_FENCED_INSTANCE_ID);
	/* Closing a static member's connection does not evict it; a dynamic member's does. */
	group_conn_closed(gc, 5, 103);
	assert_int_equal(hb(gc, &a2, 104), 0);
	struct client d = {.name = "d", .conn = 7};
	full_join(gc, &d, 105);
	join_as(gc, &a2, "inst-a", 106);
	assert_int_equal(d.generation, 2);
	group_conn_closed(gc, 7, 107);
	assert_int_equal(hb(gc, &a2, 108), GROUP_E_REBALANCE_IN_PROGRESS);
	assert_int_equal(hb(gc, &d, 108), GROUP_E_UNKNOWN_MEMBER_ID);
	group_coord_free(gc);
}

static void test_initial_delay_and_validation(void **state)
{
	(void)state;
	struct group_coord *gc = coord(3000);
	struct client a = {.name = "a", .conn = 1}, b = {.name = "b", .conn = 2};
	full_join(gc, &a, 0);
	assert_int_equal(a.joins, 1); /* parked for the initial delay */
	full_join(gc, &b, 1000);      /* extends the delay to 4000 */
	group_tick(gc, 3500);
	assert_int_equal(a.joins, 1);
	group_tick(gc, 4000);
	assert_int_equal(a.joins, 2);
	assert_int_equal(b.joins, 2);
	assert_int_equal(a.generation, 1);
	assert_int_equal(a.members_seen + b.members_seen, 2);

	struct client c = {.name = "c", .conn = 3};
	struct group_join_req r = {.group_id = V("g"), .member_id = V(""), .client_id = V("c"),
				   .protocol_type = V("consumer"), .protocols = range_proto, .protocol_count = 1,
				   .session_timeout_ms = 100, .waiter = &c};
	group_join(gc, &r, 5000);
	assert_int_equal(c.join_err, GROUP_E_INVALID_SESSION_TIMEOUT);
	static const struct group_protocol_in other[] = {{{"roundrobin", 10}, {"", 0}}};
	r.session_timeout_ms = 10000;
	r.protocols = other;
	group_join(gc, &r, 5000);
	assert_int_equal(c.join_err, GROUP_E_INCONSISTENT_PROTOCOL);
	r.group_id = V("");
	group_join(gc, &r, 5000);
	assert_int_equal(c.join_err, GROUP_E_INVALID_GROUP_ID);
	group_coord_free(gc);
}

/* A static member whose connection dies while its JoinGroup is parked: the rebalance does not wait for it past
 * its session timeout (10 s here), although its rebalance timeout is 20 s. */
static void test_static_member_dies_in_rebalance(void **state)
{
	(void)state;
	struct group_coord *gc = coord(0);
	struct client a = {.name = "a", .conn = 1}, s = {.name = "s", .conn = 2};
	full_join(gc, &a, 0);
	sync_as(gc, &a, (struct group_assignment_in[]){{V(a.member_id), V("p0")}}, 1, 0);
	join_as(gc, &s, "inst-s", 100);     /* static: a rebalance starts; s is parked, a must rejoin */
	int sj = s.joins;
	group_conn_closed(gc, 2, 200);      /* s's process dies with its JoinGroup parked */
	assert_int_equal(s.joins, sj + 1);  /* the orphaned request is answered (and dropped by the server) */
	join_as(gc, &a, NULL, 300);         /* a rejoins: the join now waits only for s's session */
	int aj = a.joins;
	group_tick(gc, 9000);
	assert_int_equal(a.joins, aj);
	group_tick(gc, 10200);              /* s's session (10 s from its join) has expired: s is out */
	assert_int_equal(a.joins, aj + 1);
	assert_int_equal(a.join_err, 0);
	assert_int_equal(a.members_seen, 1);
	group_coord_free(gc);
}

/* At groups_max, an Empty group gives its slot to a new one; groups with members never do. */
static void test_empty_groups_make_room(void **state)
{
	(void)state;
	struct group_limits lim = {.session_timeout_ms_min = 1000, .session_timeout_ms_max = 60000, .members_max = 4,
				   .groups_max = 2};
	struct group_callbacks cb = {NULL, on_join, on_sync};
	struct group_coord *gc = group_coord_new(&lim, &cb);
	assert_int_equal(group_touch(gc, V("idle")), 0);
	struct client a = {.name = "a", .conn = 1};
	full_join(gc, &a, 0); /* "g" with a member */
	assert_int_equal(group_count(gc), 2);
	assert_int_equal(group_touch(gc, V("new")), 0); /* "idle" was Empty: evicted */
	struct group_info info;
	assert_int_equal(group_describe(gc, V("idle"), &info), GROUP_E_GROUP_ID_NOT_FOUND);
	assert_int_equal(group_describe(gc, V("g"), &info), 0);
	/* "new" is Empty too, but "g" has a member: the next group takes "new"'s slot, never "g"'s. */
	assert_int_equal(group_touch(gc, V("newer")), 0);
	assert_int_equal(group_describe(gc, V("g"), &info), 0);
	assert_int_equal(info.member_count, 1);
	group_coord_free(gc);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_member_id_required_then_leader),
		cmocka_unit_test(test_two_members_rebalance),
		cmocka_unit_test(test_session_timeout_evicts),
		cmocka_unit_test(test_rebalance_timeout_drops_laggard),
		cmocka_unit_test(test_leave_and_empty),
		cmocka_unit_test(test_static_member_restart),
		cmocka_unit_test(test_initial_delay_and_validation),
		cmocka_unit_test(test_empty_groups_make_room),
		cmocka_unit_test(test_static_member_dies_in_rebalance),
	};
	return cmocka_run_group_tests_name("cloud_server/group", tests, NULL, NULL);
}
