/* Record batch v2: header parsing with CRC32C verification, in-place offset/epoch stamping, decompression
 * and the record iterator (Kafka protocol guide, "Record Batch" and "Record"; KIP-98).  Must never read past
 * its input, allocate, or trust a length or count it has not checked against what remains. */
#include <string.h>

#include "base/crc32c.h"
#include "kafka/batch.h"

int kafka_batch_magic(const uint8_t *buf, size_t len)
{
	if (len < 17)
		return ERR_AGAIN;
	return (int8_t)buf[16];
}

int kafka_batch_parse(const uint8_t *buf, size_t len, size_t batch_max, struct kafka_batch *b)
{
	struct rbuf r;
	rbuf_init(&r, buf, len);
	b->base_offset = rbuf_i64(&r);
	b->batch_length = rbuf_i32(&r);
	b->partition_leader_epoch = rbuf_i32(&r);
	b->magic = (int8_t)rbuf_u8(&r);
	if (r.err)
		return r.err;
	if (b->magic != 2)
		return ERR_KAFKA_BAD_MAGIC;
	if (b->batch_length < KAFKA_BATCH_HEADER_SIZE - KAFKA_BATCH_LOG_OVERHEAD)
		return ERR_MALFORMED;
	size_t total = KAFKA_BATCH_LOG_OVERHEAD + (size_t)b->batch_length;
	if (total > batch_max)
		return ERR_TOO_LARGE;
	if (len < total)
		return ERR_AGAIN;
	b->crc = rbuf_u32(&r);
	b->attributes = rbuf_i16(&r);
	b->last_offset_delta = rbuf_i32(&r);
	b->base_timestamp = rbuf_i64(&r);
	b->max_timestamp = rbuf_i64(&r);
	b->producer_id = rbuf_i64(&r);
	b->producer_epoch = rbuf_i16(&r);
	b->base_sequence = rbuf_i32(&r);
	b->record_count = rbuf_i32(&r);
	if (crc32c(0, buf + KAFKA_BATCH_CRC_START, total - KAFKA_BATCH_CRC_START) != b->crc)
		return ERR_CORRUPT;
	if (b->record_count < 0 || b->last_offset_delta < 0)
		return ERR_MALFORMED;
	b->raw = buf;
	b->raw_len = total;
	b->records = buf + KAFKA_BATCH_HEADER_SIZE;
	b->records_len = total - KAFKA_BATCH_HEADER_SIZE;
	return (int)total;
}

void kafka_batch_set_base_offset(uint8_t *batch, int64_t base_offset)
{
	be32_put(batch, (uint32_t)((uint64_t)base_offset >> 32));
	be32_put(batch + 4, (uint32_t)base_offset);
}

void kafka_batch_set_leader_epoch(uint8_t *batch, int32_t partition_leader_epoch)
{
	be32_put(batch + 12, (uint32_t)partition_leader_epoch);
}

int kafka_batch_records(const struct kafka_batch *b, uint8_t *out, size_t out_cap, const uint8_t **records,
			size_t *records_len)
{
	switch (kafka_batch_compression(b)) {
	case KAFKA_COMPRESSION_NONE:
		*records = b->records;
		*records_len = b->records_len;
		return 0;
	case KAFKA_COMPRESSION_LZ4: {
		int rc = kafka_lz4_decompress(b->records, b->records_len, out, out_cap, records_len);
		*records = out;
		return rc;
	}
	case KAFKA_COMPRESSION_GZIP: case KAFKA_COMPRESSION_SNAPPY: case KAFKA_COMPRESSION_ZSTD:
		return ERR_KAFKA_UNSUPPORTED_COMPRESSION;
	default:
		return ERR_MALFORMED; /* codec ids 5-7 do not exist */
	}
}

void kafka_record_iter_init(struct kafka_record_iter *it, const struct kafka_batch *b, const uint8_t *records,
			    size_t records_len)
{
	rbuf_init(&it->r, records, records_len);
	it->batch = b;
	it->index = 0;
}

/* Zigzag varints, with the one-byte case inline: record fields are mostly small (base/rw.c does the rest). */
static inline int32_t vint(struct rbuf *r)
{
	if (r->err == 0 && r->pos < r->len && r->p[r->pos] < 0x80)
		return unzigzag32(r->p[r->pos++]);
	return rbuf_varint(r);
}

static inline int64_t vlong(struct rbuf *r)
{
	if (r->err == 0 && r->pos < r->len && r->p[r->pos] < 0x80)
		return unzigzag64(r->p[r->pos++]);
	return rbuf_varlong(r);
}

/* A varint length: -1 for null, else at most what remains. */
static int32_t var_len(struct rbuf *r, bool can_null)
{
	int32_t n = vint(r);
	if (r->err)
		return 0;
	if (n < -1 || (n == -1 && !can_null) || (n > 0 && (size_t)n > rbuf_left(r))) {
		rbuf_fail(r, ERR_MALFORMED);
		return 0;
	}
	return n;
}

static struct kafka_bytes var_bytes(struct rbuf *r, bool can_null)
{
	int32_t n = var_len(r, can_null);
	const uint8_t *p = n > 0 ? rbuf_view(r, (size_t)n) : (const uint8_t *)"";
	return (struct kafka_bytes){ n < 0 ? NULL : p, n };
}

static void parse_header(struct rbuf *r, struct kafka_record_header *h)
{
	struct kafka_bytes k = var_bytes(r, false); /* header keys are never null */
	h->key = (struct kafka_str){ (const char *)k.p, k.len };
	h->value = var_bytes(r, true);
}

static int parse_record(struct rbuf *r, const struct kafka_batch *b, struct kafka_record *rec)
{
	rec->attributes = (int8_t)rbuf_u8(r);
	int64_t ts_delta = vlong(r);
	rec->offset_delta = vint(r);
	rec->key = var_bytes(r, true);
	rec->value = var_bytes(r, true);
	rec->header_count = vint(r);
	if (r->err)
		return ERR_MALFORMED;
	if (rec->header_count < 0 || (size_t)rec->header_count > rbuf_left(r) || rec->offset_delta < 0 ||
	    rec->offset_delta > b->last_offset_delta)
		return ERR_MALFORMED;
	rec->headers = r->p + r->pos;
	for (int32_t i = 0; i < rec->header_count && !r->err; i++) {
		struct kafka_record_header h;
		parse_header(r, &h);
	}
	if (r->err || rbuf_left(r))
		return ERR_MALFORMED; /* the record must end exactly where its length said */
	rec->headers_len = (size_t)(r->p + r->pos - rec->headers);
	rec->timestamp = (int64_t)((uint64_t)b->base_timestamp + (uint64_t)ts_delta);
	rec->offset = b->base_offset + rec->offset_delta;
	rec->sequence = b->base_sequence < 0 ? -1 : (int32_t)((uint32_t)b->base_sequence + (uint32_t)rec->offset_delta);
	return 1;
}

int kafka_record_next(struct kafka_record_iter *it, struct kafka_record *rec)
{
	if (it->index == it->batch->record_count)
		return rbuf_left(&it->r) ? ERR_MALFORMED : 0; /* trailing bytes after the last record */
	int32_t n = vint(&it->r);
	if (it->r.err || n <= 0 || (size_t)n > rbuf_left(&it->r))
		return ERR_MALFORMED;
	struct rbuf one;
	rbuf_init(&one, rbuf_view(&it->r, (size_t)n), (size_t)n);
	int rc = parse_record(&one, it->batch, rec);
	if (rc > 0)
		it->index++;
	return rc;
}

void kafka_header_iter_init(struct kafka_header_iter *it, const struct kafka_record *rec)
{
	rbuf_init(&it->r, rec->headers, rec->headers_len);
	it->left = rec->header_count;
}

int kafka_record_header_next(struct kafka_header_iter *it, struct kafka_record_header *h)
{
	if (it->left <= 0)
		return 0;
	parse_header(&it->r, h);
	it->left--;
	return it->r.err ? ERR_MALFORMED : 1;
}
