/* The record batch v2 builder the agent's uplink fills: records are appended already encoded (into the
 * output when uncompressed, into scratch when lz4), then one header, one lz4 frame and one CRC32C at the
 * end.  Never writes past a caller buffer; a record that does not fit leaves the batch finishable. */
#include <assert.h>
#include <string.h>

#include "base/crc32c.h"
#include "kafka/batch.h"

void kafka_batch_builder_init(struct kafka_batch_builder *bb, int compression, uint8_t *out, size_t out_cap,
			      uint8_t *scratch, size_t scratch_cap)
{
	memset(bb, 0, sizeof *bb);
	bb->partition_leader_epoch = -1;
	bb->producer_id = -1;
	bb->producer_epoch = -1;
	bb->base_sequence = -1;
	bb->compression = compression;
	bb->out = out;
	bb->out_cap = out_cap;
	if (compression != KAFKA_COMPRESSION_NONE && compression != KAFKA_COMPRESSION_LZ4)
		bb->err = ERR_KAFKA_UNSUPPORTED_COMPRESSION;
	else if (compression == KAFKA_COMPRESSION_LZ4)
		wbuf_init(&bb->rec, scratch, scratch ? scratch_cap : 0);
	else if (out_cap < KAFKA_BATCH_HEADER_SIZE)
		bb->err = ERR_TOO_LARGE;
	else
		wbuf_init(&bb->rec, out + KAFKA_BATCH_HEADER_SIZE, out_cap - KAFKA_BATCH_HEADER_SIZE);
}

/* Zigzag varint sizes, with the one- and two-byte cases (-8192..8191, most record fields) inline. */
static inline size_t vsize(int64_t v) { return v >= -64 && v <= 63 ? 1 : v >= -8192 && v <= 8191 ? 2 : varlong_size(v); }

/* Raw writers: kafka_batch_append checks the room for the whole record once, then writes without checks. */
static inline uint8_t *raw_vint(uint8_t *p, int64_t v)
{
	uint64_t z = zigzag64(v);
	while (z >= 0x80) {
		*p++ = (uint8_t)(z | 0x80);
		z >>= 7;
	}
	*p++ = (uint8_t)z;
	return p;
}

static inline uint8_t *raw_bytes(uint8_t *p, const void *src, int32_t len)
{
	p = raw_vint(p, len);
	if (len > 0) {
		memcpy(p, src, (size_t)len);
		p += len;
	}
	return p;
}

static size_t bytes_size(int32_t len) { return vsize(len) + (len > 0 ? (size_t)len : 0); }

static size_t body_size(int64_t ts_delta, int32_t offset_delta, int32_t key_len, int32_t value_len,
			const struct kafka_record_header *headers, size_t header_count)
{
	size_t n = 1 + vsize(ts_delta) + vsize(offset_delta) + bytes_size(key_len) + bytes_size(value_len) +
		   vsize((int64_t)header_count);
	for (size_t i = 0; i < header_count; i++)
		n += bytes_size(headers[i].key.len) + bytes_size(headers[i].value.len);
	return n;
}

size_t kafka_record_size(int64_t timestamp_delta, int32_t offset_delta, int32_t key_len, int32_t value_len,
			 const struct kafka_record_header *headers, size_t header_count)
{
	size_t body = body_size(timestamp_delta, offset_delta, key_len, value_len, headers, header_count);
	return varint_size((int32_t)body) + body;
}

int kafka_batch_append(struct kafka_batch_builder *bb, int64_t timestamp_ms, const void *key, int32_t key_len,
		       const void *value, int32_t value_len, const struct kafka_record_header *headers,
		       size_t header_count)
{
	if (bb->err)
		return bb->err;
	if (key_len < -1 || value_len < -1 || header_count > INT32_MAX || bb->count == INT32_MAX)
		return ERR_INVAL;
	for (size_t i = 0; i < header_count; i++)
		if (headers[i].key.len < 0 || headers[i].value.len < -1)
			return ERR_INVAL; /* header keys are never null */
	int64_t base = bb->count ? bb->base_timestamp : timestamp_ms;
	int64_t delta = (int64_t)((uint64_t)timestamp_ms - (uint64_t)base);
	size_t body = body_size(delta, bb->count, key_len, value_len, headers, header_count);
	if (body > INT32_MAX || bb->rec.cap - bb->rec.len < varint_size((int32_t)body) + body)
		return ERR_FULL;
	uint8_t *start = bb->rec.p + bb->rec.len, *p = start;
	p = raw_vint(p, (int64_t)body);
	*p++ = 0; /* record attributes: unused (Kafka protocol guide, "Record") */
	p = raw_vint(p, delta);
	p = raw_vint(p, bb->count);
	p = raw_bytes(p, key, key_len);
	p = raw_bytes(p, value, value_len);
	p = raw_vint(p, (int64_t)header_count);
	for (size_t i = 0; i < header_count; i++) {
		p = raw_bytes(p, headers[i].key.p, headers[i].key.len);
		p = raw_bytes(p, headers[i].value.p, headers[i].value.len);
	}
	assert((size_t)(p - start) == varint_size((int32_t)body) + body); /* the sizes above are the writes here */
	bb->rec.len += (size_t)(p - start);
	if (bb->count == 0 || timestamp_ms > bb->max_timestamp)
		bb->max_timestamp = timestamp_ms;
	bb->base_timestamp = base;
	bb->count++;
	return 0;
}

int kafka_batch_finish(struct kafka_batch_builder *bb)
{
	if (bb->err)
		return bb->err;
	if (bb->count == 0)
		return ERR_STATE;
	size_t records_len = bb->rec.len;
	if (bb->compression == KAFKA_COMPRESSION_LZ4) {
		if (bb->out_cap < KAFKA_BATCH_HEADER_SIZE)
			return ERR_TOO_LARGE;
		int n = kafka_lz4_compress(bb->rec.p, bb->rec.len, bb->out + KAFKA_BATCH_HEADER_SIZE,
					   bb->out_cap - KAFKA_BATCH_HEADER_SIZE);
		if (n < 0)
			return n;
		records_len = (size_t)n;
	}
	size_t total = KAFKA_BATCH_HEADER_SIZE + records_len;
	if (total > INT32_MAX)
		return ERR_TOO_LARGE;
	int16_t attributes = (int16_t)(bb->compression | (bb->transactional ? KAFKA_BATCH_TRANSACTIONAL : 0) |
				       (bb->log_append_time ? KAFKA_BATCH_LOG_APPEND_TIME : 0));
	struct wbuf w;
	wbuf_init(&w, bb->out, KAFKA_BATCH_HEADER_SIZE);
	wbuf_u64(&w, (uint64_t)bb->base_offset);
	wbuf_u32(&w, (uint32_t)(total - KAFKA_BATCH_LOG_OVERHEAD));
	wbuf_u32(&w, (uint32_t)bb->partition_leader_epoch);
	wbuf_u8(&w, 2);
	uint8_t *crc = wbuf_reserve(&w, 4);
	wbuf_u16(&w, (uint16_t)attributes);
	wbuf_u32(&w, (uint32_t)(bb->count - 1));
	wbuf_u64(&w, (uint64_t)bb->base_timestamp);
	wbuf_u64(&w, (uint64_t)bb->max_timestamp);
	wbuf_u64(&w, (uint64_t)bb->producer_id);
	wbuf_u16(&w, (uint16_t)bb->producer_epoch);
	wbuf_u32(&w, (uint32_t)bb->base_sequence);
	wbuf_u32(&w, (uint32_t)bb->count);
	be32_put(crc, crc32c(0, bb->out + KAFKA_BATCH_CRC_START, total - KAFKA_BATCH_CRC_START));
	return (int)total;
}
