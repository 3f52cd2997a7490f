/* The partition log: one Kafka partition's record batches, in offset order, behind one interface with two
 * backends (memory, files).  It is only the log and its producer state: the partition object owns the high
 * watermark, leadership and followers, and tells the log what to read up to.
 *
 * Batches are stored exactly as received (RecordBatch v2); on a leader append the log stamps the base
 * offset and the partition leader epoch, nothing else.  Reads return whole batches as spans the network
 * layer can send without copying: (fd, file offset, length) for files, a pointer for memory.
 *
 * Durability: an append is in the page cache when log_append() returns; it is durable once log_flush() (or
 * a group commit, log_commit.h) has covered it: log_flushed_offset() > its last offset.  acks=1/all answer
 * after that when the flush policy is LOG_FLUSH_SYNC.
 *
 * Threading: a log is used from one thread (the partition's event loop); only the fdatasyncs of a group
 * commit round may run elsewhere (log_commit_sync, log_flusher.h), and they touch no log state.  Every
 * function returns 0 or a negative ERR_* code unless it says otherwise. */
#ifndef FERRY_CLOUD_LOG_LOG_H
#define FERRY_CLOUD_LOG_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cloud/log/batch_header.h"
#include "cloud/log/producer_state.h"

/* Hard limits; the config values below must stay within them (log_config_check). */
#define LOG_SEGMENT_BYTES_LIMIT ((size_t)INT32_MAX) /* index positions are 32-bit (as in Kafka) */
#define LOG_BATCH_BYTES_LIMIT ((size_t)64 << 20)
#define LOG_INDEX_INTERVAL_MIN 64u
#define LOG_PRODUCERS_LIMIT 1000000u
#define LOG_MEM_SEGMENT_BYTES_MAX ((size_t)64 << 20) /* memory backend segments are allocated whole */

enum log_flush_policy {
	LOG_FLUSH_SYNC,     /* acks wait for an fsync; a group commit covers many appends (default) */
	LOG_FLUSH_INTERVAL, /* fsync when flush_interval_ms or flush_bytes is reached; acks do not wait */
	LOG_FLUSH_NONE,     /* fsync only at segment roll and close; durability comes from replication */
};

struct log_config {
	size_t segment_bytes;        /* roll before a segment would exceed this (segment.bytes) */
	int64_t segment_ms;          /* roll a non-empty segment older than this (segment.ms); -1 never */
	int64_t retention_bytes;     /* delete oldest segments while the log is larger (retention.bytes); -1 */
	int64_t retention_ms;        /* delete segments whose newest batch is older (retention.ms); -1 */
	size_t index_interval_bytes; /* bytes between sparse index entries (index.interval.bytes) */
	size_t batch_bytes_max;      /* largest batch accepted or read back (message.max.bytes) */
	size_t producers_max;        /* producer ids tracked per partition */
	int64_t producer_expiry_ms;  /* forget idle producers (producer.id.expiration.ms); -1 never */
	enum log_flush_policy flush_policy;
	int64_t flush_interval_ms;   /* LOG_FLUSH_INTERVAL */
	size_t flush_bytes;          /* LOG_FLUSH_INTERVAL */
	int64_t (*clock_ms)(void);   /* wall clock for roll/retention; NULL = port_wall_ms (tests fake it) */
};

void log_config_default(struct log_config *cfg);
/* ERR_CONFIG when a value is out of its bounds or the values contradict each other. */
int log_config_check(const struct log_config *cfg);

struct log;

/* A file backend log in directory dir (created if missing; its parent must exist).  Recovers what it finds:
 * see docs/cloud-storage.md.  *out is owned by the caller: log_close(). */
int log_file_open(const char *dir, const struct log_config *cfg, struct log **out);
/* A memory backend log starting at offset 0. */
int log_mem_open(const struct log_config *cfg, struct log **out);
/* Flush, write indexes, the producer snapshot and the clean-shutdown marker (file backend), free.  Returns
 * the first error met; the log is freed either way.  Every log_read must have been released. */
int log_close(struct log *log);

/* ---- append ---- */

enum log_append_mode {
	LOG_APPEND_LEADER,  /* assign offsets from the log end, stamp leader_epoch, check producer state */
	LOG_APPEND_REPLICA, /* keep the leader's offsets and epoch (base offset must be >= log end) */
};

struct log_append_info {
	bool appended;                /* false when producer state refused it (see producer) */
	struct producer_check producer; /* verdict; a duplicate carries the original offsets */
	int64_t base_offset;          /* of the stored batch (or of the original for a duplicate) */
	int64_t last_offset;
	int64_t max_timestamp;
	uint32_t record_count;
};

/* Append one whole batch of len bytes.  batch is modified in place (base offset and leader epoch are
 * stamped; neither is covered by its CRC) and is not kept: the bytes are copied into the log.
 * Checks: header, magic 2, length == len <= batch_bytes_max, CRC32C; LEADER mode also requires
 * record_count >= 1 and last_offset_delta == record_count - 1.  Records themselves are not parsed: the
 * Kafka codec validates them before the append.  Errors: ERR_MALFORMED,
 * ERR_UNSUPPORTED, ERR_TOO_LARGE, ERR_CORRUPT (CRC), ERR_RANGE (replica offset below the log end),
 * ERR_IO/ERR_NOSPC (nothing appended, the log is as before), ERR_STATE (the log failed an fsync earlier and
 * must be reopened).  A producer-state refusal is not an error: 0 with info->appended == false. */
int log_append(struct log *log, uint8_t *batch, size_t len, int32_t leader_epoch, enum log_append_mode mode,
	       struct log_append_info *info);

/* ---- read ---- */

/* A contiguous byte range of one segment holding whole batches. */
struct log_span {
	int fd;              /* file backend: read-only use; -1 for memory.  dup() it to give it away */
	int64_t file_pos;    /* file backend: offset of the first byte in fd */
	const uint8_t *ptr;  /* memory backend: the bytes; NULL for files */
	size_t len;          /* 0: nothing to read at this offset (at the log end or max_offset) */
};

struct log_read {
	struct log_span span;
	int64_t first_offset; /* base offset of the first batch (<= the offset asked for) */
	int64_t next_offset;  /* the offset after the last batch in the span */
	void *hold;           /* keeps the segment (fd, memory) alive; released by log_read_release */
};

/* Whole batches starting at the one containing offset, while they fit in max_bytes (always at least one
 * whole batch, even larger than max_bytes, as Kafka's Fetch does) and only batches whose last offset is
 * below max_offset (the high watermark for consumers; log end for followers).  One segment per read.
 * ERR_RANGE when offset is below the log start or above the log end (OFFSET_OUT_OF_RANGE).
 * The span stays valid until log_read_release(), even if retention deletes the segment meanwhile. */
int log_read(struct log *log, int64_t offset, size_t max_bytes, int64_t max_offset, struct log_read *out);
void log_read_release(struct log *log, struct log_read *rd);
/* Copy a span's bytes (for TLS, tests, replication in memory): dst must hold rd->span.len bytes. */
int log_read_copy(struct log *log, const struct log_read *rd, uint8_t *dst);

/* ---- lookups ---- */

int64_t log_start_offset(const struct log *log); /* earliest readable offset (ListOffsets -2) */
int64_t log_end_offset(const struct log *log);   /* next offset to be assigned, LEO (ListOffsets -1) */
int64_t log_flushed_offset(const struct log *log); /* every offset below is durable */
uint64_t log_size_bytes(const struct log *log);
size_t log_segment_count(const struct log *log);

struct log_time_lookup {
	int64_t offset;    /* first offset whose timestamp >= the target (record level; LZ4 is inflated) */
	int64_t timestamp; /* that record's timestamp (the batch max timestamp when records can't be read) */
};
/* ListOffsets by timestamp: the earliest record with timestamp >= ts_ms.  ERR_NOT_FOUND when there is none. */
int log_offset_for_time(struct log *log, int64_t ts_ms, struct log_time_lookup *out);

/* Counters since open, for metrics. */
struct log_stats {
	uint64_t append_count, append_bytes; /* batches stored */
	uint64_t duplicate_count;            /* producer retries answered with the original offsets */
	uint64_t refused_count;              /* out-of-order or fenced producer batches */
	uint64_t flush_count;                /* flushes that synced something (log_flush or a commit round) */
	uint64_t roll_count;
	uint64_t read_count, read_bytes;     /* log_read spans handed out */
	uint64_t segments_deleted;           /* by retention, DeleteRecords, truncation or reset */
	uint64_t recovered_bytes_cut;        /* bytes cut from torn or corrupt tails when opening */
	uint64_t indexes_rebuilt;            /* segments whose index was rebuilt from the log when opening */
};
void log_get_stats(const struct log *log, struct log_stats *out);

/* ListOffsets MAX_TIMESTAMP (-3, KIP-734): the first record carrying the largest timestamp in the log.
 * ERR_NOT_FOUND when the log is empty. */
int log_max_timestamp(struct log *log, struct log_time_lookup *out);

/* ---- producer state ---- */

/* The partition's producer table, for producer_state_check() by the Produce handler.  log_append() in
 * LEADER mode checks it itself too. */
const struct producer_state *log_producers(const struct log *log);

/* ---- leader epochs (KIP-101/279) ---- */

/* The newest leader epoch of any batch in the log; -1 when none. */
int32_t log_latest_epoch(const struct log *log);
/* OffsetsForLeaderEpoch: the largest epoch <= epoch known to the log and the offset where it ended (the log
 * end for the latest epoch); (-1, -1) when epoch is newer than every known one.  Persisted in the file
 * backend as leader-epoch-checkpoint, trimmed by truncation and retention. */
void log_epoch_end_offset(const struct log *log, int32_t epoch, int32_t *epoch_out, int64_t *end_out);

/* ---- maintenance ---- */

/* Apply retention (size, then age) to closed segments, and roll the active segment by age.  Advances the log
 * start offset; *deleted_count (may be NULL) counts removed segments.  Also expires producers idle for
 * producer_expiry_ms or whose batches are all below the log start.  Call it every few seconds. */
int log_retention(struct log *log, size_t *deleted_count);
/* DeleteRecords: move the log start offset up to offset (<= log end; the caller checks the high watermark),
 * deleting segments wholly below it.  Persisted (file backend). */
int log_advance_start(struct log *log, int64_t offset);
/* Remove the batch containing offset and everything after it (a follower truncating to the leader); the
 * log end becomes that batch's base offset and producer state is rebuilt. */
int log_truncate(struct log *log, int64_t offset);

/* Drop everything and start empty at offset (Kafka truncateFullyAndStartAt): a follower whose log does
 * not overlap the leader's.  Producer state and epochs are cleared.  On failure the log is failed. */
int log_reset(struct log *log, int64_t offset);

/* ---- durability ---- */

/* fsync what was appended since the last flush (one fdatasync per dirty segment file).  On failure the log
 * enters a failed state (fsync errors cannot be retried safely on Linux): appends return ERR_STATE. */
int log_flush(struct log *log);
/* True when the flush policy wants a flush now (LOG_FLUSH_SYNC: anything unflushed; INTERVAL: a threshold
 * reached; NONE: never). */
bool log_flush_due(const struct log *log);
/* True when acks must wait for a flush (LOG_FLUSH_SYNC). */
bool log_acks_wait_flush(const struct log *log);
/* 0, or the sticky error that failed the log. */
int log_failed(const struct log *log);

#endif
