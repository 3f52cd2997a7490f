/* Private to agent/store*.c: the store's state shared by the opening/loading code and the writer. */
#ifndef FERRY_AGENT_STORE_INTERNAL_H
#define FERRY_AGENT_STORE_INTERNAL_H

#include <pthread.h>
#include <sqlite3.h>

#include <event2/util.h>

#include "agent/store.h"

enum op_type {
	OP_SESSION_PUT,
	OP_SESSION_DEL,
	OP_SUB_PUT,
	OP_SUB_DEL,
	OP_MSG_PUT,
	OP_MSG_UPDATE,
	OP_MSG_DEL,
	OP_RETAIN_PUT,
	OP_RETAIN_DEL,
	OP_CALL,
	OP_BARRIER,
};

/* One work item with its copied strings and blobs in data[]. */
struct op {
	struct op *next;
	enum op_type type;
	int rc;
	store_done_fn *done;
	void *arg;
	size_t bytes;
	const char *client_id, *text; /* text: filter or topic */
	const uint8_t *payload, *props;
	size_t payload_len, props_len;
	uint64_t seq;
	int64_t i64;  /* disconnected_at_ms / expiry_at_ms */
	uint32_t u32; /* expiry_interval_s / subscription_id */
	uint8_t u8;   /* protocol_version / options / qos */
	uint8_t direction, state;
	uint16_t packet_id;
	bool retain;
	store_call_fn *fn;
	void *fn_arg;
	char data[];
};

enum stmt_id {
	ST_SESSION_PUT,
	ST_SESSION_DEL,
	ST_SESSION_DEL_SUBS,
	ST_SESSION_DEL_MSGS,
	ST_SUB_PUT,
	ST_SUB_DEL,
	ST_MSG_PUT,
	ST_MSG_UPDATE,
	ST_MSG_DEL,
	ST_RETAIN_PUT,
	ST_RETAIN_DEL,
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_COUNT
};

struct store {
	sqlite3 *db;
	char *path;
	struct store_config cfg;
	bool recovered;
	sqlite3_stmt *stmt[ST_COUNT];

	pthread_mutex_t lock; /* guards everything below */
	pthread_cond_t cond;
	struct op *head, *tail;      /* submitted */
	struct op *done_head, *done_tail; /* finished, for the loop */
	bool started, stopping;
	pthread_t thread;
	struct store_stats stats;

	evutil_socket_t wake[2]; /* writer -> loop: [1] written, [0] read by wake_ev */
	struct event *wake_ev;
};

/* store_writer.c */
int store_prepare(struct store *s);
void store_finalize(struct store *s);
/* Commit what is queued, deliver completions, join the thread (no-op if never started). */
void store_writer_stop(struct store *s);

#endif
