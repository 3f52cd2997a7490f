/* Idempotent-producer state of one partition (KIP-98): for each producer id, its epoch and the sequence
 * ranges and offsets of its last five batches, so that a retried batch is recognised as a duplicate and
 * answered with its original offset, a gap is refused, and a zombie producer with an older epoch is fenced.
 *
 * A pure module: no I/O, no clock.  The Produce handler calls producer_state_check() before appending; the
 * log calls producer_state_update() after every successful append (leader, replica or recovery replay), and
 * persists the table with producer_state_encode() at segment roll and clean shutdown.  Transactions (control
 * batches, first offsets of open transactions) are not tracked yet. */
#ifndef FERRY_CLOUD_LOG_PRODUCER_STATE_H
#define FERRY_CLOUD_LOG_PRODUCER_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "cloud/log/batch_header.h"

#define PRODUCER_BATCHES_KEPT 5 /* Kafka keeps the metadata of the last five batches per producer */
#define PRODUCER_STATE_MAGIC 0x46505331u /* "FPS1" */

struct producer_batch {
	int32_t first_seq;
	int32_t last_seq;
	int64_t first_offset;
	int32_t offset_delta; /* last offset - first offset */
	int64_t max_timestamp;
};

struct producer_entry {
	int64_t producer_id; /* BATCH_NO_PRODUCER_ID marks a free slot */
	int16_t epoch;
	uint8_t batch_count; /* <= PRODUCER_BATCHES_KEPT; batches[0] is the oldest */
	struct producer_batch batches[PRODUCER_BATCHES_KEPT];
	int64_t last_timestamp; /* max timestamp of the newest batch: drives expiry */
};

/* Open-addressing hash table of producer entries; capacity is a power of two, at most twice entries_max. */
struct producer_state {
	struct producer_entry *slots; /* owned */
	size_t slot_count;
	size_t entry_count;
	size_t entries_max;
	uint64_t evicted_count; /* producers dropped because the table was full */
};

enum producer_verdict {
	PRODUCER_APPEND,       /* new data in sequence (or not an idempotent batch): append it */
	PRODUCER_DUPLICATE,    /* a retry of one of the last five batches: answer with its original offset */
	PRODUCER_OUT_OF_ORDER, /* a gap or a rewind: OUT_OF_ORDER_SEQUENCE_NUMBER */
	PRODUCER_FENCED,       /* epoch older than the current one: INVALID_PRODUCER_EPOCH / PRODUCER_FENCED */
};

struct producer_check {
	enum producer_verdict verdict;
	int64_t duplicate_base_offset; /* PRODUCER_DUPLICATE: where the original batch was stored */
	int64_t duplicate_last_offset;
	int64_t duplicate_timestamp;
	int16_t current_epoch; /* PRODUCER_FENCED: the epoch that fenced it */
};

/* entries_max bounds the table (each entry is ~150 bytes); 0 or ERR_NOMEM/ERR_INVAL. */
int producer_state_init(struct producer_state *ps, size_t entries_max);
void producer_state_deinit(struct producer_state *ps);
void producer_state_clear(struct producer_state *ps);

/* NULL when the producer is unknown.  The pointer is valid until the next update/expire/decode. */
const struct producer_entry *producer_state_find(const struct producer_state *ps, int64_t producer_id);

/* Decide what to do with batch h (its base offset is not used).  Pure: the table is not changed. */
void producer_state_check(const struct producer_state *ps, const struct batch_header *h, struct producer_check *out);

/* Record an appended batch (h->base_offset is the offset it was stored at).  Batches without a producer id
 * are ignored.  A new producer in a full table evicts the one idle longest (counted in evicted_count). */
int producer_state_update(struct producer_state *ps, const struct batch_header *h);

/* Drop producers whose newest batch is older than now_ms - max_age_ms (Kafka producer.id.expiration.ms)
 * or, when start_offset >= 0, whose newest batch lies entirely below the log start offset. */
int producer_state_expire(struct producer_state *ps, int64_t now_ms, int64_t max_age_ms, int64_t start_offset);

/* Snapshot encoding: magic, version, entry count, entries, CRC32C.  encode_size() is exact. */
size_t producer_state_encode_size(const struct producer_state *ps);
/* 0 or ERR_TOO_LARGE when cap is too small. */
int producer_state_encode(const struct producer_state *ps, uint8_t *buf, size_t cap, size_t *len_out);
/* Replace the table's content with a snapshot.  The count is bounded by entries_max; on any error (ERR_CORRUPT,
 * ERR_MALFORMED, ERR_TOO_LARGE) the table is left empty. */
int producer_state_decode(struct producer_state *ps, const uint8_t *buf, size_t len);

#endif
