/* The fixed 61-byte header of a Kafka RecordBatch v2 (Kafka protocol docs, "Record Batch"; KIP-98), and only
 * what the partition log needs from it: offsets, the CRC check, timestamps and the idempotent producer fields.
 *
 * Deliberately minimal and local to cloud/log: the full batch codec (records, compression) belongs to
 * common/kafka, and this view should be replaced by the shared one when that lands.  It never allocates and
 * never looks at the records. */
#ifndef FERRY_CLOUD_LOG_BATCH_HEADER_H
#define FERRY_CLOUD_LOG_BATCH_HEADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BATCH_HEADER_SIZE 61
#define BATCH_LOG_OVERHEAD 12 /* base offset + batch length: bytes not counted by the length field */
#define BATCH_MAGIC_V2 2

/* Field positions inside the header. */
#define BATCH_OFF_BASE_OFFSET 0
#define BATCH_OFF_LENGTH 8
#define BATCH_OFF_LEADER_EPOCH 12
#define BATCH_OFF_MAGIC 16
#define BATCH_OFF_CRC 17
#define BATCH_OFF_ATTRIBUTES 21 /* the CRC covers from here to the end of the batch */
#define BATCH_OFF_LAST_OFFSET_DELTA 23
#define BATCH_OFF_MAX_TIMESTAMP 35

#define BATCH_ATTR_COMPRESSION_MASK 0x07
#define BATCH_ATTR_LOG_APPEND_TIME 0x08
#define BATCH_ATTR_TRANSACTIONAL 0x10
#define BATCH_ATTR_CONTROL 0x20

#define BATCH_NO_PRODUCER_ID (-1)
#define BATCH_NO_SEQUENCE (-1)

struct batch_header {
	int64_t base_offset;
	int32_t batch_length; /* bytes after this field; the batch is BATCH_LOG_OVERHEAD + batch_length long */
	int32_t leader_epoch;
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
};

/* Decode the first BATCH_HEADER_SIZE bytes of buf.  Checks only what makes the header usable: magic 2, a
 * batch length that covers the header and keeps the whole batch within size_max bytes, a non-negative last
 * offset delta, a non-negative record count and base offset.  len may be less than the whole batch.
 * Returns 0, ERR_AGAIN (len < BATCH_HEADER_SIZE), ERR_UNSUPPORTED (magic != 2), ERR_TOO_LARGE (over
 * size_max) or ERR_MALFORMED. */
int batch_header_decode(const uint8_t *buf, size_t len, size_t size_max, struct batch_header *out);

/* Bytes of the whole batch (header included). */
static inline size_t batch_size(const struct batch_header *h)
{
	return BATCH_LOG_OVERHEAD + (size_t)h->batch_length;
}
static inline int64_t batch_last_offset(const struct batch_header *h)
{
	return h->base_offset + h->last_offset_delta;
}
/* The last sequence number in the batch, wrapping past INT32_MAX to 0 as producers do (KIP-98). */
int32_t batch_last_sequence(const struct batch_header *h);

/* CRC32C over attributes..end of a whole batch of len bytes (len == batch_size()). */
uint32_t batch_crc_compute(const uint8_t *batch, size_t len);
static inline bool batch_crc_ok(const struct batch_header *h, const uint8_t *batch, size_t len)
{
	return batch_crc_compute(batch, len) == h->crc;
}

/* Stamp the two fields the broker owns.  Neither is covered by the CRC, so the batch stays valid. */
void batch_stamp(uint8_t *batch, int64_t base_offset, int32_t leader_epoch);

#endif
