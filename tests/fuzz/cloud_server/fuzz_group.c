/* Fuzz the group coordinator state machine with operation streams: joins (dynamic and static, with known,
 * unknown and empty member ids), syncs, heartbeats, leaves, commits, closed connections and clock ticks.
 * Checks that every parked JoinGroup/SyncGroup is answered exactly once, including when the coordinator is
 * freed, and that generations never go backwards. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cloud/group/group.h"

#define WAITERS 2048
#define IDS 8

struct waiter {
	int answers;
};

static struct waiter waiters[WAITERS];
static char ids[IDS][GROUP_ID_MAX + 64];
static int id_count;
static int32_t last_gen[2];

static void on_join(void *ctx, void *w, const struct group_join_result *r)
{
	(void)ctx;
	struct waiter *x = w;
	if (++x->answers != 1)
		abort();
	if (r->member_id && r->member_id[0] && strlen(r->member_id) < sizeof ids[0]) {
		snprintf(ids[id_count % IDS], sizeof ids[0], "%s", r->member_id);
		id_count++;
	}
	if (r->error == 0 && r->generation < 0)
		abort();
}

static void on_sync(void *ctx, void *w, int16_t e, const char *pt, const char *pn, const uint8_t *a, size_t n)
{
	(void)ctx, (void)e, (void)pt, (void)pn;
	struct waiter *x = w;
	if (++x->answers != 1)
		abort();
	if (n && !a)
		abort();
}

static struct group_view V(const char *s) { return (struct group_view){s, s ? strlen(s) : 0}; }

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct group_limits lim = {.session_timeout_ms_min = 10, .session_timeout_ms_max = 1000,
				   .initial_rebalance_delay_ms = (uint32_t)(size ? data[0] % 3 : 0) * 50,
				   .members_max = 4, .groups_max = 2};
	struct group_callbacks cb = {NULL, on_join, on_sync};
	struct group_coord *gc = group_coord_new(&lim, &cb);
	memset(waiters, 0, sizeof waiters);
	id_count = 0;
	last_gen[0] = last_gen[1] = -1;
	int used = 0;
	uint64_t now = 0;
	static const char *const groups[] = {"ga", "gb"};
	static const char *const instances[] = {NULL, "i1", "i2"};
	static const struct group_protocol_in protos[] = {{{"range", 5}, {"m1", 2}}, {{"rr", 2}, {"m2", 2}}};
	for (size_t i = 1; i + 2 < size && used < WAITERS; i += 3) {
		uint8_t op = data[i] % 8, a = data[i + 1], b = data[i + 2];
		const char *g = groups[a & 1];
		const char *member = (a >> 1) % 4 == 0 || id_count == 0 ? "" : (a >> 1) % 4 == 1 ? "stranger"
												: ids[b % (id_count < IDS ? id_count : IDS)];
		const char *inst = instances[(a >> 3) % 3];
		uint64_t conn = (b >> 4) % 4;
		int32_t gen = (b & 3) == 0 ? -1 : (int32_t)(b & 7);
		switch (op) {
		case 0: {
			struct group_join_req r = {
				.group_id = V(g), .member_id = V(member), .instance_id = V(inst), .client_id = V("c"),
				.client_host = V("/h"), .protocol_type = V((a & 0x40) ? "connect" : "consumer"),
				.protocols = &protos[(b >> 2) & 1], .protocol_count = 1 + ((b >> 3) & 1 && !((b >> 2) & 1)),
				.session_timeout_ms = 5 + (uint32_t)b * 4, .rebalance_timeout_ms = (uint32_t)a * 4,
				.require_known_member_id = a & 0x80, .conn_id = conn, .waiter = &waiters[used++],
			};
			group_join(gc, &r, now);
			break;
		}
		case 1: {
			struct group_assignment_in as[2] = {{V(member), V("x")}, {V(ids[0]), V("yy")}};
			struct group_sync_req r = {.group_id = V(g), .member_id = V(member), .instance_id = V(inst),
						   .generation = gen, .assignments = as, .assignment_count = b % 3,
						   .conn_id = conn, .waiter = &waiters[used++]};
			group_sync(gc, &r, now);
			break;
		}
		case 2:
			group_heartbeat(gc, V(g), V(member), V(inst), gen, conn, now);
			break;
		case 3:
			group_leave(gc, V(g), V(member), V(inst), now);
			break;
		case 4:
			now += (uint64_t)b * 8;
			group_tick(gc, now);
			break;
		case 5:
			group_conn_closed(gc, conn, now);
			break;
		case 6:
			group_commit_check(gc, V(g), V(member), V(inst), gen, now);
			break;
		default: {
			struct group_info info;
			for (uint32_t k = 0; k < group_count(gc); k++) {
				group_at(gc, k, &info);
				int gi = strcmp(info.group_id, "ga") ? 1 : 0;
				if (info.generation < last_gen[gi])
					abort();
				last_gen[gi] = info.generation;
				struct group_member_info mi;
				for (uint32_t m = 0; m < info.member_count; m++)
					if (group_describe_member(gc, V(info.group_id), m, &mi))
						abort();
			}
		}
		}
	}
	group_coord_free(gc);
	for (int i = 0; i < used; i++)
		if (waiters[i].answers != 1)
			abort();
	return 0;
}
