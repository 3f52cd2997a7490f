/* Between the uplink's loop side (uplink.c) and its writer-thread side (uplink_claim.c). */
#ifndef FERRY_AGENT_UPLINK_INTERNAL_H
#define FERRY_AGENT_UPLINK_INTERNAL_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/config.h"
#include "base/dbuf.h"

struct sqlite3;

#define UP_TOPICS_MAX AGENT_ROUTES_MAX
#define UP_BATCHES_MAX 256  /* (topic, partition) batches in one Produce */
#define UP_ROWS_MAX 100000  /* rows claimed in one round */

struct up_record {
	int64_t ts;
	uint32_t key_off, value_off, headers_off; /* into the round's data */
	int32_t key_len;                          /* -1: null */
	uint32_t value_len, headers_len;
};

struct up_batch {
	int64_t id;
	uint32_t topic;    /* index into round.topics */
	int32_t partition;
	int32_t base_seq;
	uint32_t first, count; /* records[first .. first + count) */
	int16_t error;     /* from the Produce answer */
};

struct up_released {
	char route[AGENT_ROUTE_NAME_MAX];
	uint64_t bytes;
};

/* One round's request to the writer and its answer. */
struct up_round {
	/* in */
	int64_t producer_id;
	int16_t epoch;
	bool save_producer, renumber;
	uint64_t bytes_max;
	uint32_t topic_count;
	char topics[UP_TOPICS_MAX][AGENT_KAFKA_TOPIC_MAX];
	int32_t partitions[UP_TOPICS_MAX]; /* 0: unknown (no metadata): its rows wait */
	uint32_t ack_count;
	int64_t ack_ids[UP_BATCHES_MAX];
	/* out */
	int rc;
	uint32_t batch_count;
	struct up_batch batches[UP_BATCHES_MAX];
	uint32_t record_count;
	struct up_record *records; /* UP_ROWS_MAX */
	struct dbuf data;          /* keys, values, headers */
	uint32_t released_count;
	struct up_released released[AGENT_ROUTES_MAX];
	uint64_t acked_records;
	int64_t oldest_ts; /* of what remains buffered; 0 when empty */
};

/* Writer thread: delete acknowledged batches, renumber if asked, load unacknowledged batches or claim new ones. */
int uplink_claim(struct sqlite3 *db, void *arg);
/* Startup (writer thread, before the loop runs rounds): the saved producer id, and bytes per route. */
struct up_startup {
	int64_t producer_id;
	int16_t epoch;
	uint32_t route_count;
	struct up_released routes[AGENT_ROUTES_MAX];
};
int uplink_startup(struct sqlite3 *db, void *arg);

/* Once a second, online or not: rows not yet claimed and older than a route's max_age cutoff are deleted
 * (one transaction), and the oldest remaining row's time is read (ferry_uplink_oldest_unacked_age_ms). */
#define UP_EXPIRE_ROWS_MAX 100000 /* rows looked at per route and pass */
struct up_expire_route {
	char route[AGENT_ROUTE_NAME_MAX];
	int64_t cutoff_ms; /* wall clock: rows with ts below it go */
	uint64_t rows, bytes; /* out */
};
struct up_expire {
	int64_t oldest_ts; /* out: of what remains buffered; 0 when empty */
	uint32_t route_count;
	struct up_expire_route routes[AGENT_ROUTES_MAX];
};
int uplink_expire(struct sqlite3 *db, void *arg);

#endif
