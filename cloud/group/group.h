/* The consumer group coordinator as a pure state machine: requests and a clock come in, answers come out
 * through callbacks.  No I/O, no libevent, no wall clock; time is whatever `now_ms` the caller passes.
 *
 * Semantics follow Apache Kafka's classic group protocol (KIP-394 MEMBER_ID_REQUIRED, KIP-345 static
 * membership): Empty -> PreparingRebalance -> CompletingRebalance -> Stable.  JoinGroup parks until every
 * known member has rejoined or the rebalance timeout passes (members that did not rejoin are dropped);
 * SyncGroup parks until the leader sends the assignment.  A member that misses heartbeats for its session
 * timeout, leaves, or (dynamic members only) loses its connection is removed and the group rebalances.
 * Generations fence stale members (ILLEGAL_GENERATION), static instance ids fence an old incarnation
 * (FENCED_INSTANCE_ID).
 *
 * Answers to JoinGroup and SyncGroup always arrive through the callbacks, possibly before the call returns.
 * The waiter pointer is the caller's; the coordinator only hands it back, exactly once.  Strings passed in are
 * views; the coordinator copies what it keeps. */
#ifndef FERRY_CLOUD_GROUP_H
#define FERRY_CLOUD_GROUP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define GROUP_ID_MAX 255         /* bytes of a group id, member id, instance id, protocol name */
#define GROUP_PROTOCOLS_MAX 16   /* assignor protocols one member may offer */
#define GROUP_METADATA_MAX (1u << 20) /* member metadata / assignment bytes */

/* Kafka error codes the coordinator answers (org.apache.kafka.common.protocol.Errors). */
enum group_error {
	GROUP_OK = 0,
	GROUP_E_COORDINATOR_NOT_AVAILABLE = 15,
	GROUP_E_ILLEGAL_GENERATION = 22,
	GROUP_E_INCONSISTENT_PROTOCOL = 23,
	GROUP_E_INVALID_GROUP_ID = 24,
	GROUP_E_UNKNOWN_MEMBER_ID = 25,
	GROUP_E_INVALID_SESSION_TIMEOUT = 26,
	GROUP_E_REBALANCE_IN_PROGRESS = 27,
	GROUP_E_GROUP_ID_NOT_FOUND = 69,
	GROUP_E_MAX_SIZE_REACHED = 81,
	GROUP_E_FENCED_INSTANCE_ID = 82,
	GROUP_E_MEMBER_ID_REQUIRED = 79,
	GROUP_E_UNKNOWN_SERVER_ERROR = -1,
};

enum group_state { GROUP_EMPTY, GROUP_PREPARING, GROUP_COMPLETING, GROUP_STABLE, GROUP_DEAD };

struct group_view {
	const void *p; /* NULL: null (an absent instance id) */
	size_t len;
};

struct group_protocol_in {
	struct group_view name;
	struct group_view metadata;
};

struct group_join_req {
	struct group_view group_id, member_id, instance_id, client_id, client_host, protocol_type;
	const struct group_protocol_in *protocols;
	uint32_t protocol_count;
	uint32_t session_timeout_ms, rebalance_timeout_ms;
	bool require_known_member_id; /* JoinGroup v4+: answer MEMBER_ID_REQUIRED to an empty member id */
	uint64_t conn_id;             /* the connection it came on (eviction when it closes) */
	void *waiter;
};

struct group_member_out {
	const char *member_id, *instance_id; /* instance_id NULL for dynamic members */
	const uint8_t *metadata;
	size_t metadata_len;
};

/* Views into the coordinator, valid only during the callback. */
struct group_join_result {
	int16_t error;
	int32_t generation;
	const char *protocol_type, *protocol_name; /* NULL when not chosen */
	const char *leader_id, *member_id;
	const struct group_member_out *members; /* for the leader only; else count 0 */
	uint32_t member_count;
};

struct group_assignment_in {
	struct group_view member_id;
	struct group_view assignment;
};

struct group_sync_req {
	struct group_view group_id, member_id, instance_id, protocol_type, protocol_name; /* last two v5+; may be null */
	int32_t generation;
	const struct group_assignment_in *assignments;
	uint32_t assignment_count;
	uint64_t conn_id;
	void *waiter;
};

struct group_callbacks {
	void *ctx;
	void (*join_done)(void *ctx, void *waiter, const struct group_join_result *r);
	void (*sync_done)(void *ctx, void *waiter, int16_t error, const char *protocol_type, const char *protocol_name,
			  const uint8_t *assignment, size_t assignment_len);
};

struct group_limits {
	uint32_t session_timeout_ms_min, session_timeout_ms_max;
	uint32_t initial_rebalance_delay_ms;
	uint32_t members_max, groups_max;
};

/* Read-only description of a group (DescribeGroups, ListGroups, metrics). */
struct group_member_info {
	const char *member_id, *instance_id, *client_id, *client_host;
	const uint8_t *metadata, *assignment;
	size_t metadata_len, assignment_len;
};
struct group_info {
	const char *group_id;
	enum group_state state;
	int32_t generation;
	const char *protocol_type, *protocol_name, *leader_id; /* "" when none */
	uint32_t member_count;
};

struct group_coord;

struct group_coord *group_coord_new(const struct group_limits *limits, const struct group_callbacks *cb);
/* Frees every group; parked waiters get COORDINATOR_NOT_AVAILABLE first. */
void group_coord_free(struct group_coord *gc);

void group_join(struct group_coord *gc, const struct group_join_req *req, uint64_t now_ms);
void group_sync(struct group_coord *gc, const struct group_sync_req *req, uint64_t now_ms);
int16_t group_heartbeat(struct group_coord *gc, struct group_view group_id, struct group_view member_id,
			struct group_view instance_id, int32_t generation, uint64_t conn_id, uint64_t now_ms);
/* One member of a LeaveGroup (v3+ may name several; v0-2 name one by member id). */
int16_t group_leave(struct group_coord *gc, struct group_view group_id, struct group_view member_id,
		    struct group_view instance_id, uint64_t now_ms);
/* May this member commit offsets now?  generation -1 with an empty member id is a simple (non-group) commit,
 * allowed when the group has no members. */
int16_t group_commit_check(struct group_coord *gc, struct group_view group_id, struct group_view member_id,
			   struct group_view instance_id, int32_t generation, uint64_t now_ms);

/* Timers: session expiry, rebalance deadlines, pending-member expiry.  Returns the next time it needs to run
 * (UINT64_MAX: nothing pending). */
uint64_t group_tick(struct group_coord *gc, uint64_t now_ms);
/* A connection closed: its dynamic members leave (static members wait for their session timeout). */
void group_conn_closed(struct group_coord *gc, uint64_t conn_id, uint64_t now_ms);
/* The earliest deadline, as group_tick returns. */
uint64_t group_next_deadline(const struct group_coord *gc);

/* Describe: 0 and info (members through member(i)), or GROUP_E_GROUP_ID_NOT_FOUND. */
int group_describe(struct group_coord *gc, struct group_view group_id, struct group_info *info);
int group_describe_member(struct group_coord *gc, struct group_view group_id, uint32_t i,
			  struct group_member_info *out);
/* Ensure a group exists in state Empty (committed offsets name it), for ListGroups after a restart. */
int group_touch(struct group_coord *gc, struct group_view group_id);
uint32_t group_count(const struct group_coord *gc);
/* The i-th group (0 <= i < group_count) in no particular order; stable until the next call that mutates. */
void group_at(struct group_coord *gc, uint32_t i, struct group_info *info);
const char *group_state_name(enum group_state s);

#endif
