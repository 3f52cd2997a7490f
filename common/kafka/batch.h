/* Kafka record batches (magic v2, KIP-98) and legacy message sets (magic 0/1): parse, iterate, build.
 *
 * A v2 batch is a 61-byte header then `record_count` records, optionally compressed as one unit.  The CRC32C
 * covers attributes..end, so a broker can stamp base_offset and partition_leader_epoch in place without
 * touching it.  Compression: none and lz4 (the LZ4 frame format) both ways; gzip, snappy and zstd are
 * recognised and refused with ERR_KAFKA_UNSUPPORTED_COMPRESSION (wire: UNSUPPORTED_COMPRESSION_TYPE), never
 * misparsed.  Decompressed sizes are bounded by the caller's buffer.  Parsing never allocates: records,
 * keys, values and headers are views into the (decompressed) input. */
#ifndef FERRY_KAFKA_BATCH_H
#define FERRY_KAFKA_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/rw.h"
#include "kafka/schema.h"

#define KAFKA_BATCH_HEADER_SIZE 61 /* base offset .. record count */
#define KAFKA_BATCH_LOG_OVERHEAD 12 /* base offset + batch length: what batch_length does not count */
#define KAFKA_BATCH_CRC_START 21    /* attributes: where the CRC32C coverage begins */

enum kafka_compression {
	KAFKA_COMPRESSION_NONE = 0,
	KAFKA_COMPRESSION_GZIP = 1,
	KAFKA_COMPRESSION_SNAPPY = 2,
	KAFKA_COMPRESSION_LZ4 = 3,
	KAFKA_COMPRESSION_ZSTD = 4,
};

/* Batch attribute bits (Kafka protocol guide, "Record Batch"). */
#define KAFKA_BATCH_COMPRESSION_MASK 0x07
#define KAFKA_BATCH_LOG_APPEND_TIME 0x08
#define KAFKA_BATCH_TRANSACTIONAL 0x10
#define KAFKA_BATCH_CONTROL 0x20
#define KAFKA_BATCH_DELETE_HORIZON 0x40

/* A parsed v2 batch header, with views of the whole batch and of its (maybe compressed) records section. */
struct kafka_batch {
	int64_t base_offset;
	int32_t batch_length;
	int32_t partition_leader_epoch;
	int8_t magic;
	uint32_t crc;
	int16_t attributes;
	int32_t last_offset_delta;
	int64_t base_timestamp;
	int64_t max_timestamp;
	int64_t producer_id;
	int16_t producer_epoch;
	int32_t base_sequence;
	int32_t record_count;
	const uint8_t *raw;     /* the whole batch; not owned */
	size_t raw_len;
	const uint8_t *records; /* records section, compressed or not; not owned */
	size_t records_len;
};

static inline int kafka_batch_compression(const struct kafka_batch *b) { return b->attributes & KAFKA_BATCH_COMPRESSION_MASK; }
static inline bool kafka_batch_is_transactional(const struct kafka_batch *b) { return b->attributes & KAFKA_BATCH_TRANSACTIONAL; }
static inline bool kafka_batch_is_control(const struct kafka_batch *b) { return b->attributes & KAFKA_BATCH_CONTROL; }

/* The magic byte of the batch or message set entry at buf (byte 16 in every format); ERR_AGAIN if short. */
int kafka_batch_magic(const uint8_t *buf, size_t len);

/* Parse and verify one v2 batch at the start of buf.  Returns the bytes it spans (12 + batch_length), or
 * ERR_AGAIN (buf ends inside it: a Fetch response may end with a partial batch), ERR_KAFKA_BAD_MAGIC (not v2:
 * see kafka_legacy_next), ERR_CORRUPT (CRC32C mismatch), ERR_MALFORMED, ERR_TOO_LARGE (over batch_max). */
int kafka_batch_parse(const uint8_t *buf, size_t len, size_t batch_max, struct kafka_batch *b);

/* Stamp the fields outside the CRC (what a partition leader does on append). */
void kafka_batch_set_base_offset(uint8_t *batch, int64_t base_offset);
void kafka_batch_set_leader_epoch(uint8_t *batch, int32_t partition_leader_epoch);

/* The uncompressed records of b.  NONE: a view of b's records (out is unused).  LZ4: decompressed into
 * out[0..out_cap); a frame that would inflate past out_cap is ERR_TOO_LARGE (decompression bombs stop
 * there).  Other codecs: ERR_KAFKA_UNSUPPORTED_COMPRESSION.  Returns 0 and sets *records and *records_len. */
int kafka_batch_records(const struct kafka_batch *b, uint8_t *out, size_t out_cap, const uint8_t **records,
			size_t *records_len);

/* What a broker checks before it appends a producer's batch (Kafka's LogValidator for magic 2): the records
 * decompress within out_cap (lz4) and walk cleanly, their count is record_count (and not 0), their offset
 * deltas run 0, 1, 2, ... and end at last_offset_delta.  0, or ERR_KAFKA_INVALID_RECORD (wire 87),
 * ERR_MALFORMED (wire 2), ERR_TOO_LARGE, ERR_KAFKA_UNSUPPORTED_COMPRESSION (wire 76). */
int kafka_batch_validate(const struct kafka_batch *b, uint8_t *out, size_t out_cap);

struct kafka_record_header {
	struct kafka_str key;     /* never null */
	struct kafka_bytes value; /* len -1: null */
};

struct kafka_record {
	int8_t attributes;
	int64_t timestamp; /* base_timestamp + delta */
	int64_t offset;    /* base_offset + delta */
	int32_t offset_delta;
	int32_t sequence;  /* base_sequence + offset delta, or -1 without idempotence */
	struct kafka_bytes key;   /* len -1: null */
	struct kafka_bytes value; /* len -1: null */
	int32_t header_count;
	const uint8_t *headers; /* header_count encoded headers; walk with kafka_record_header_next */
	size_t headers_len;
};

struct kafka_record_iter {
	struct rbuf r;
	const struct kafka_batch *batch;
	int32_t index;
};

/* Iterate the uncompressed records of b (from kafka_batch_records). */
void kafka_record_iter_init(struct kafka_record_iter *it, const struct kafka_batch *b, const uint8_t *records,
			    size_t records_len);
/* 1 and the next record, 0 after the last one (the count and the bytes both ended), or ERR_MALFORMED. */
int kafka_record_next(struct kafka_record_iter *it, struct kafka_record *rec);

/* Walk a record's headers (already validated by kafka_record_next): 1 and the next one, 0 at the end. */
struct kafka_header_iter {
	struct rbuf r;
	int32_t left;
};
void kafka_header_iter_init(struct kafka_header_iter *it, const struct kafka_record *rec);
int kafka_record_header_next(struct kafka_header_iter *it, struct kafka_record_header *h);

/* ---- building ---------------------------------------------------------------------------------------- */

/* Builds one v2 batch into a caller buffer.  Records go straight into `out` when uncompressed, or into
 * `scratch` and are compressed into `out` by kafka_batch_finish.  Set the public fields after init. */
struct kafka_batch_builder {
	int64_t base_offset;           /* 0 from a producer */
	int32_t partition_leader_epoch; /* -1 from a producer */
	int64_t producer_id;           /* -1: not idempotent */
	int16_t producer_epoch;
	int32_t base_sequence;
	bool transactional;
	bool log_append_time;
	/* private */
	int compression;
	uint8_t *out;
	size_t out_cap;
	struct wbuf rec; /* where records are written */
	int32_t count;
	int64_t base_timestamp, max_timestamp;
	int err;
};

/* scratch may be NULL for KAFKA_COMPRESSION_NONE.  Only NONE and LZ4 build (others: the first append fails
 * with ERR_KAFKA_UNSUPPORTED_COMPRESSION). */
void kafka_batch_builder_init(struct kafka_batch_builder *bb, int compression, uint8_t *out, size_t out_cap,
			      uint8_t *scratch, size_t scratch_cap);
/* Append one record (timestamp in ms; key/value len -1: null).  ERR_FULL when it does not fit: the batch so
 * far is intact and can be finished. */
int kafka_batch_append(struct kafka_batch_builder *bb, int64_t timestamp_ms, const void *key, int32_t key_len,
		       const void *value, int32_t value_len, const struct kafka_record_header *headers,
		       size_t header_count);
/* Records appended so far, and their encoded bytes before compression (for batch.size / linger decisions). */
static inline int32_t kafka_batch_builder_count(const struct kafka_batch_builder *bb) { return bb->count; }
static inline size_t kafka_batch_builder_bytes(const struct kafka_batch_builder *bb) { return bb->rec.len; }
/* Write the header, compress, checksum.  Returns the batch length in out, or ERR_TOO_LARGE (the compressed
 * form does not fit), ERR_STATE (no records). */
int kafka_batch_finish(struct kafka_batch_builder *bb);
/* Bytes an append of this record would add before compression (its encoded size). */
size_t kafka_record_size(int64_t timestamp_delta, int32_t offset_delta, int32_t key_len, int32_t value_len,
			 const struct kafka_record_header *headers, size_t header_count);

/* ---- lz4 (the frame format Kafka v2 batches use) ------------------------------------------------------ */

/* Compress src into dst as one LZ4 frame (64 KB independent blocks, as Kafka's own writer); bytes written or
 * ERR_TOO_LARGE. */
int kafka_lz4_compress(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_cap);
size_t kafka_lz4_bound(size_t src_len);
/* Decompress one whole LZ4 frame; ERR_TOO_LARGE when the content exceeds dst_cap, ERR_MALFORMED otherwise. */
int kafka_lz4_decompress(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_cap, size_t *out_len);

/* ---- legacy message sets (magic 0 and 1) -------------------------------------------------------------- */

struct kafka_legacy_message {
	int64_t offset;
	int8_t magic;
	int8_t attributes;
	int64_t timestamp; /* -1 for magic 0 */
	struct kafka_bytes key;
	struct kafka_bytes value;
};

/* Read the legacy message at buf: returns the bytes it spans, or ERR_AGAIN, ERR_CORRUPT (CRC32), ERR_MALFORMED,
 * ERR_KAFKA_BAD_MAGIC.  A compressed wrapper is returned as such (attributes & 7 != 0): its value is an inner
 * message set to decompress with kafka_legacy_inner and read again with this function. */
int kafka_legacy_next(const uint8_t *buf, size_t len, struct kafka_legacy_message *m);
/* The inner message set of an lz4 wrapper into out (bounded by out_cap); sets *inner_len.  gzip and snappy:
 * ERR_KAFKA_UNSUPPORTED_COMPRESSION.  Inner offsets are relative in magic 1 (the wrapper carries the last
 * absolute one) and absolute in magic 0: the caller maps them. */
int kafka_legacy_inner(const struct kafka_legacy_message *wrapper, uint8_t *out, size_t out_cap, size_t *inner_len);

#endif
