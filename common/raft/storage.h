/* Raft storage: where the hard state, the log and the snapshot live between restarts.
 *
 * One interface, two implementations: raft_mem (memory, with a model of unsynced writes that a simulated
 * crash can lose or tear) and raft_file (a directory of checksummed log segments, a hard-state file and a
 * snapshot file).  Writes may be buffered until sync(); nothing is durable before sync() returns 0.  After a
 * failed sync the storage must be closed and reopened (its durable state is whatever load() then reports):
 * retrying fsync after EIO is not safe on Linux.
 *
 * Write order inside one ready (raft_storage_persist): snapshot, entries, then hard state, then sync.  The
 * hard state becomes durable only together with or after the entries it refers to, so a restarted node never
 * finds a commit index beyond its log. */
#ifndef FERRY_RAFT_STORAGE_H
#define FERRY_RAFT_STORAGE_H

#include "raft/raft.h"

#define RAFT_STORAGE_VERSION 1

struct raft_storage {
	/* Fill boot with the durable state.  Views stay valid until the next call on this storage. */
	int (*load)(struct raft_storage *s, struct raft_boot *boot);
	/* Save a snapshot; stored entries up to meta->index go when the entry at meta->index has meta->term,
	 * all of them otherwise (the snapshot replaces a log that diverged from it). */
	int (*save_snapshot)(struct raft_storage *s, const struct raft_snap_meta *meta, const uint8_t *data,
	                     size_t len);
	/* Drop stored entries with index >= ents[0].index, then append ents (entries at or below the snapshot
	 * index are skipped).  ERR_CORRUPT when they would leave a gap. */
	int (*append)(struct raft_storage *s, const struct raft_entry *ents, size_t n);
	int (*set_hard_state)(struct raft_storage *s, const struct raft_hard_state *hs);
	int (*sync)(struct raft_storage *s);
	void (*destroy)(struct raft_storage *s);
};

/* Step 1 of the ready cycle: persist what rd asks for, in the order above, and sync. */
int raft_storage_persist(struct raft_storage *s, const struct raft_ready *rd);

/* In-memory storage.  Writes queue until sync; raft_mem_crash() applies only a prefix of the queue (the
 * last applied append possibly cut short: a torn write) and drops the rest. */
struct raft_mem;
int raft_mem_new(struct raft_mem **out);
struct raft_storage *raft_mem_storage(struct raft_mem *m);
/* ops_kept: how many queued writes survive; entries_kept: how many entries of the next append survive. */
void raft_mem_crash(struct raft_mem *m, size_t ops_kept, size_t entries_kept);
size_t raft_mem_pending(const struct raft_mem *m);
/* Durable state, for the simulator's checks. */
const struct raft_hard_state *raft_mem_hard_state(const struct raft_mem *m);
uint64_t raft_mem_last_index(const struct raft_mem *m);
void raft_mem_fail_sync(struct raft_mem *m, bool fail);
/* Be told of every write as it becomes durable (the simulator mirrors them into a file storage). */
enum { RAFT_MEM_OP_SNAP, RAFT_MEM_OP_APPEND, RAFT_MEM_OP_HS };
struct raft_mem_op {
	int kind;
	const struct raft_snap_meta *meta; /* SNAP */
	const uint8_t *data;
	size_t len;
	const struct raft_entry *ents;     /* APPEND: the entries that became durable */
	size_t n;
	const struct raft_hard_state *hs;  /* HS */
};
void raft_mem_observe(struct raft_mem *m, void (*fn)(void *ctx, const struct raft_mem_op *op), void *ctx);

/* File storage in directory dir (created if missing).  Layout: `hardstate`, `snapshot`, and log segments
 * `log-<first index, 20 digits>` of records [u32 len][u32 crc32c][u64 index][u64 term][u8 type][data].
 * load() truncates a torn tail of the last segment; a bad record anywhere else is ERR_CORRUPT. */
#define RAFT_FILE_SEGMENT_BYTES (8u << 20)      /* a segment is closed once it holds this much */
#define RAFT_FILE_SEGMENT_BYTES_MAX (64u << 20)
#define RAFT_FILE_SEGMENTS_MAX 4096
int raft_file_open(const char *dir, struct raft_storage **out);
/* The same with another segment size (tests use small ones to exercise rolling). */
int raft_file_open_opts(const char *dir, size_t segment_bytes, struct raft_storage **out);

#endif
