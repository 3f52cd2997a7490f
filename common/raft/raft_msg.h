/* Raft wire format: the messages nodes exchange, the configuration entry, and their versioned encoding.
 *
 * Every message starts with a version byte (RAFT_WIRE_VERSION) and a type byte.  Decoding is bounded: counts
 * and lengths are checked against the RAFT_*_MAX limits before use, trailing bytes are an error, and the
 * decoder never allocates (entry data and snapshot chunks are views into the input). */
#ifndef FERRY_RAFT_MSG_H
#define FERRY_RAFT_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RAFT_WIRE_VERSION 1
#define RAFT_NODES_MAX 9                  /* voters + learners in one configuration */
#define RAFT_MSG_ENTRIES_MAX 64           /* entries in one append */
#define RAFT_ENTRY_DATA_MAX (1u << 20)    /* one entry's payload */
#define RAFT_SNAP_CHUNK_MAX (1u << 20)    /* one InstallSnapshot chunk */
#define RAFT_SNAP_DATA_MAX (256u << 20)   /* a whole snapshot */
#define RAFT_INDEX_MAX (UINT64_C(1) << 62) /* terms and indexes above this are malformed: no overflow */
#define RAFT_MSG_HEADER_SIZE 67
#define RAFT_ENTRY_HEADER_SIZE 13
#define RAFT_CONF_SIZE_MAX (3 + 4 * 2 * RAFT_NODES_MAX) /* with its version byte */
#define RAFT_SNAP_META_SIZE_MAX (16 + RAFT_CONF_SIZE_MAX)
/* The largest message: a full append of maximal entries, or a snapshot chunk. */
#define RAFT_MSG_SIZE_MAX (RAFT_MSG_HEADER_SIZE + 2 + RAFT_MSG_ENTRIES_MAX * \
	(RAFT_ENTRY_HEADER_SIZE + (size_t)RAFT_ENTRY_DATA_MAX))

enum raft_entry_type { RAFT_ENTRY_NORMAL = 0, RAFT_ENTRY_CONF = 1, RAFT_ENTRY_NOOP = 2 };

struct raft_entry {
	uint64_t term, index;
	uint8_t type;
	uint32_t len;
	const uint8_t *data;
};

struct raft_conf {
	uint8_t voter_count, learner_count;
	uint32_t voters[RAFT_NODES_MAX];
	uint32_t learners[RAFT_NODES_MAX];
};

struct raft_hard_state {
	uint64_t term;
	uint32_t vote;
	uint64_t commit;
};

struct raft_snap_meta {
	uint64_t index, term;
	struct raft_conf conf;
};

enum raft_msg_type {
	RAFT_MSG_APPEND = 1,
	RAFT_MSG_APPEND_RESP,
	RAFT_MSG_VOTE,
	RAFT_MSG_VOTE_RESP,
	RAFT_MSG_PREVOTE,
	RAFT_MSG_PREVOTE_RESP,
	RAFT_MSG_HEARTBEAT,
	RAFT_MSG_HEARTBEAT_RESP,
	RAFT_MSG_SNAP,
	RAFT_MSG_SNAP_RESP,
	RAFT_MSG_TIMEOUT_NOW,
	RAFT_MSG_TYPE_END
};

#define RAFT_FLAG_REJECT 1u /* response: refused */
#define RAFT_FLAG_FORCE 2u  /* vote: leadership transfer, ignore the leader lease */
#define RAFT_FLAG_DONE 4u   /* snapshot chunk: the last one */

/* Fields by type:
 *   APPEND: index/log_term = the entry before entries[0]; commit = leader commit
 *   APPEND_RESP: index = last index matched (success) or probed (reject); hint_index/hint_term for backtracking
 *   VOTE/PREVOTE: index/log_term = candidate's last entry
 *   HEARTBEAT: commit; context = read-index sequence.  HEARTBEAT_RESP: context echoed
 *   SNAP: snap, offset, total, chunk.  SNAP_RESP: snap.index/term, offset = bytes held */
struct raft_msg {
	uint8_t type, flags;
	uint32_t from, to;
	uint64_t term;
	uint64_t index, log_term, commit;
	uint64_t hint_index, hint_term;
	uint64_t context;
	uint32_t entry_count;
	struct raft_entry entries[RAFT_MSG_ENTRIES_MAX];
	struct raft_snap_meta snap;
	uint64_t offset, total;
	const uint8_t *chunk;
	uint32_t chunk_len;
};

/* Exact encoded size of m. */
size_t raft_msg_size(const struct raft_msg *m);
/* Encode into buf[cap]; returns bytes written or ERR_TOO_LARGE.  m must be valid (asserted). */
int raft_msg_encode(const struct raft_msg *m, uint8_t *buf, size_t cap);
/* Decode exactly len bytes; 0 or ERR_MALFORMED / ERR_AGAIN (truncated) / ERR_TOO_LARGE / ERR_UNSUPPORTED
 * (another version).  Views in *m point into buf. */
int raft_msg_decode(const uint8_t *buf, size_t len, struct raft_msg *m);
const char *raft_msg_type_name(uint8_t type);

/* Configuration entry payload: u8 version, u8 voters, u32 ids, u8 learners, u32 ids. */
size_t raft_conf_size(const struct raft_conf *c);
int raft_conf_encode(const struct raft_conf *c, uint8_t *buf, size_t cap);
/* Checks ids are nonzero and unique across both lists. */
int raft_conf_decode(const uint8_t *buf, size_t len, struct raft_conf *c);
bool raft_conf_valid(const struct raft_conf *c);

struct rbuf;
struct wbuf;
void raft_conf_write(struct wbuf *w, const struct raft_conf *c);
void raft_conf_read(struct rbuf *r, struct raft_conf *c); /* sets r->err on bad input */

#endif
