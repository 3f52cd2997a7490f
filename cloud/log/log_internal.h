/* Inside the partition log: segments, their in-memory sparse indexes, and the storage backend table that
 * the memory and file backends fill.  Not for use outside cloud/log/. */
#ifndef FERRY_CLOUD_LOG_INTERNAL_H
#define FERRY_CLOUD_LOG_INTERNAL_H

#include "cloud/log/epoch_cache.h"
#include "cloud/log/log.h"

/* Offset index entry (Kafka .index layout: two big-endian int32 per entry on disk).  rel_offset is the base
 * offset of the batch at pos minus the segment's base offset. */
struct index_entry {
	uint32_t rel_offset;
	uint32_t pos;
};
#define INDEX_ENTRY_SIZE 8

/* Time index entry (Kafka .timeindex layout: int64 timestamp, int32 relative offset).  The segment's
 * running max timestamp and the base offset of the batch that raised it; appended only when it grows. */
struct time_entry {
	int64_t timestamp;
	uint32_t rel_offset;
};
#define TIME_ENTRY_SIZE 12

struct log_segment {
	int64_t base_offset;
	int64_t next_offset;   /* after the last batch; == base_offset when empty */
	int64_t size;          /* bytes of whole batches */
	int64_t synced_size;   /* bytes known durable */
	int64_t max_timestamp; /* -1 when empty */
	int64_t max_ts_offset;
	int64_t first_append_ms; /* clock at the first append (or first batch's timestamp after reopen) */
	int64_t bytes_since_index;
	struct index_entry *idx; /* owned */
	size_t idx_count, idx_cap;
	struct time_entry *tidx; /* owned */
	size_t tidx_count, tidx_cap;
	unsigned refs;  /* 1 while in the log, +1 per outstanding log_read */
	bool sealed;    /* index files match memory */
	bool removed;   /* no longer in the log (retention/truncation) */
	int fd;         /* file backend */
	uint8_t *mem;   /* memory backend: fixed capacity, so spans stay valid */
	size_t mem_cap;
};

struct log_backend {
	int (*seg_create)(struct log *log, struct log_segment *seg);
	int (*seg_write)(struct log *log, struct log_segment *seg, const void *buf, size_t len, int64_t pos);
	int (*seg_read)(struct log *log, const struct log_segment *seg, void *buf, size_t len, int64_t pos);
	int (*seg_truncate)(struct log *log, struct log_segment *seg, int64_t size);
	int (*seg_sync)(struct log *log, struct log_segment *seg);
	int (*seg_seal)(struct log *log, struct log_segment *seg);
	void (*seg_remove)(struct log *log, struct log_segment *seg); /* storage only; struct freed later */
	void (*seg_free)(struct log_segment *seg);
	void (*span)(const struct log_segment *seg, int64_t pos, size_t len, struct log_span *out);
	int (*snapshot_save)(struct log *log, int64_t offset);
	/* Load the newest snapshot at or below max_offset into log->producers: 0 with *offset set, or
	 * ERR_NOT_FOUND (producer state left empty). Snapshots above max_offset are removed. */
	int (*snapshot_load)(struct log *log, int64_t max_offset, int64_t *offset);
	int (*start_offset_save)(struct log *log);
	int (*epochs_save)(struct log *log);
	/* Load the leader-epoch checkpoint into log->epochs: 0, ERR_NOT_FOUND or a decode error. */
	int (*epochs_load)(struct log *log);
	int (*close)(struct log *log, bool clean);
};

struct log {
	const struct log_backend *be;
	struct log_config cfg;
	struct log_segment **segs; /* owned; ascending base offsets; the last one is active */
	size_t seg_count, seg_cap;
	int64_t start_offset;
	int64_t end_offset;
	int64_t flushed_offset;
	uint64_t size_bytes;
	uint64_t unflushed_bytes;
	int64_t last_flush_ms;
	struct producer_state producers;
	struct epoch_cache epochs;
	int failed;         /* sticky: an fsync failed */
	bool commit_queued; /* in a log_commit dirty set */
	unsigned commit_inflight; /* log_commit_job items that reference this log */
	uint64_t generation;      /* bumped by every truncation: in-flight syncs must not publish past it */
	struct log_stats stats;
	char *dir;          /* file backend; owned */
};

static inline int64_t log_now_ms(const struct log *log) { return log->cfg.clock_ms(); }
static inline struct log_segment *log_active(const struct log *log) { return log->segs[log->seg_count - 1]; }

/* log.c */
int log_init_common(struct log *log, const struct log_backend *be, const struct log_config *cfg);
void log_free_common(struct log *log);
struct log_segment *segment_new(int64_t base_offset);
void segment_unref(struct log *log, struct log_segment *seg);
int log_add_segment(struct log *log, struct log_segment *seg); /* appended as the new active segment */
int log_producers_rebuild(struct log *log, bool epochs_known);
void log_epochs_changed(struct log *log); /* persist the epoch cache (file backend); failures are retried at close */
int log_roll_now(struct log *log); /* roll a non-empty active segment at the log end */

/* log_index.c: in-memory indexes of one segment */
int index_reserve(struct log_segment *seg);
/* Record a batch appended at pos (index_reserve() first so this cannot fail). */
void index_note_batch(const struct log *log, struct log_segment *seg, const struct batch_header *h, int64_t pos);
/* Position of the last indexed batch whose base offset <= offset (0 if none). */
int64_t index_lookup(const struct log_segment *seg, int64_t offset);
/* Last index entry with pos <= pos_max and base offset <= offset_max; false if none. */
bool index_floor_pos(const struct log_segment *seg, int64_t pos_max, int64_t offset_max, struct index_entry *out);
/* Offset from which to scan for timestamp ts: base offset of the batch after which it may first appear. */
int64_t time_index_lookup(const struct log_segment *seg, int64_t ts);
void index_seal_time(struct log_segment *seg);
void index_truncate(struct log_segment *seg, int64_t pos, int64_t base_offset);
void index_reset(struct log_segment *seg);
/* Encode to Kafka's on-disk layouts; buffers are malloc'd (owned by caller). */
int index_encode(const struct log_segment *seg, uint8_t **idx, size_t *idx_len, uint8_t **tidx, size_t *tidx_len);
/* Load from file bytes; validates ordering and bounds against seg->size.  ERR_CORRUPT when unusable. */
int index_decode(struct log_segment *seg, const uint8_t *idx, size_t idx_len, const uint8_t *tidx, size_t tidx_len);

/* Batch iteration over one segment's bytes; every length is checked against the segment and the config. */
struct seg_iter {
	struct log *log;
	const struct log_segment *seg;
	int64_t pos;
	int64_t end;      /* bytes to consider (the file size during recovery) */
	int64_t expect;   /* the next base offset must be >= this */
	bool verify_crc;
};
void seg_iter_init(struct seg_iter *it, struct log *log, const struct log_segment *seg, int64_t pos, int64_t end);
/* 1 with the header and its position, 0 at end, or ERR_CORRUPT/ERR_MALFORMED/ERR_IO for a bad batch at
 * it->pos (which stays there, so recovery can truncate at it). */
int seg_iter_next(struct seg_iter *it, struct batch_header *h, int64_t *pos);

#endif
