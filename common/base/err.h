/* One error-code table for the whole project (an X-macro, after canonical/raft src/err.h).
 * Functions return 0 for success or a negative ERR_* code; err_str() names it.  Each area keeps its own list
 * in an err_<area>.def file next to this one, so adding a code touches only that area's list. */
#ifndef FERRY_BASE_ERR_H
#define FERRY_BASE_ERR_H

#define ERR_BASE_LIST(X)                                                        \
	X(AGAIN, "incomplete input or would block; try again")                      \
	X(NOMEM, "out of memory")                                                   \
	X(MALFORMED, "malformed input")                                             \
	X(TOO_LARGE, "length or count over its limit")                              \
	X(RANGE, "value out of range")                                              \
	X(INVAL, "invalid argument")                                                \
	X(IO, "I/O error")                                                          \
	X(NOSPC, "no space left")                                                   \
	X(CORRUPT, "corrupt data (checksum mismatch)")                              \
	X(UNSUPPORTED, "unsupported feature or version")                            \
	X(NOT_FOUND, "not found")                                                   \
	X(EXISTS, "already exists")                                                 \
	X(FULL, "queue or buffer full")                                             \
	X(CONFIG, "configuration error")                                            \
	X(AUTH, "not authorized")                                                   \
	X(CLOSED, "connection closed")                                              \
	X(TIMEOUT, "timed out")                                                     \
	X(PROTOCOL, "protocol error")                                               \
	X(STATE, "operation not valid in this state")

#include "base/err_mqtt.def"
#include "base/err_kafka.def"
#include "base/err_raft.def"

#define ERR_ALL_LIST(X) ERR_BASE_LIST(X) ERR_MQTT_LIST(X) ERR_KAFKA_LIST(X) ERR_RAFT_LIST(X)

enum err_index {
	ERR_INDEX_OK = 0,
#define X(name, text) ERR_INDEX_##name,
	ERR_ALL_LIST(X)
#undef X
	ERR_INDEX_COUNT
};

enum err {
	ERR_OK = 0,
#define X(name, text) ERR_##name = -ERR_INDEX_##name,
	ERR_ALL_LIST(X)
#undef X
};

/* Static string naming code (0 or negative); "unknown error" for anything else.  Never NULL. */
const char *err_str(int code);
/* Static identifier of the code, e.g. "MALFORMED"; for logs and tests. */
const char *err_name(int code);

#endif
