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

/* Records are walked with a bare cursor rather than the sticky-error reader: this is the per-record hot path
 * of every consumer and of the broker's validation.  Varints are bounded like base/rw.c's (at most 5 bytes
 * for 32 bits, 10 for 64, no bits past the width). */
struct cur {
	const uint8_t *p, *end;
};

static inline bool c_uvar(struct cur *c, uint64_t *v, unsigned max_bytes, unsigned bits)
{
	uint64_t x = 0;
	for (unsigned i = 0; i < max_bytes; i++) {
		if (c->p == c->end)
			return false;
		uint8_t b = *c->p++;
		unsigned shift = 7 * i;
		if (shift + 7 > bits && (b & 0x7f) >> (bits - shift))
			return false; /* more bits than the type holds */
		x |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80)) {
			*v = x;
			return true;
		}
	}
	return false;
}

static inline bool c_varint(struct cur *c, int32_t *v)
{
	if (c->p < c->end && *c->p < 0x80) { /* the common one-byte case */
		*v = unzigzag32(*c->p++);
		return true;
	}
	uint64_t x;
	if (!c_uvar(c, &x, 5, 32))
		return false;
	*v = unzigzag32((uint32_t)x);
	return true;
}

static inline bool c_varlong(struct cur *c, int64_t *v)
{
	uint64_t x;
	if (!c_uvar(c, &x, 10, 64))
		return false;
	*v = unzigzag64(x);
	return true;
}

/* A varint length and its bytes: len -1 for null (when allowed), never past the end. */
static inline bool c_bytes(struct cur *c, struct kafka_bytes *out, bool can_null)
{
	int32_t n;
	if (!c_varint(c, &n) || n < -1 || (n == -1 && !can_null) || (n > 0 && n > c->end - c->p))
		return false;
	out->p = n < 0 ? NULL : n == 0 ? (const uint8_t *)"" : c->p;
	out->len = n;
	if (n > 0)
		c->p += n;
	return true;
}

static inline bool c_header(struct cur *c, struct kafka_record_header *h)
{
	struct kafka_bytes k;
	if (!c_bytes(c, &k, false)) /* header keys are never null */
		return false;
	h->key = (struct kafka_str){ (const char *)k.p, k.len };
	return c_bytes(c, &h->value, true);
}

/* One record, exactly the bytes of c (Kafka protocol guide, "Record"). */
static int parse_record(struct cur *c, const struct kafka_batch *b, struct kafka_record *rec)
{
	int64_t ts_delta;
	if (c->p == c->end)
		return ERR_MALFORMED;
	rec->attributes = (int8_t)*c->p++;
	if (!c_varlong(c, &ts_delta) || !c_varint(c, &rec->offset_delta) || !c_bytes(c, &rec->key, true) ||
	    !c_bytes(c, &rec->value, true) || !c_varint(c, &rec->header_count))
		return ERR_MALFORMED;
	if (rec->header_count < 0 || rec->header_count > c->end - c->p || rec->offset_delta < 0 ||
	    rec->offset_delta > b->last_offset_delta)
		return ERR_MALFORMED;
	rec->headers = c->p;
	for (int32_t i = 0; i < rec->header_count; i++) {
		struct kafka_record_header h;
		if (!c_header(c, &h))
			return ERR_MALFORMED;
	}
	if (c->p != c->end)
		return ERR_MALFORMED; /* the record must end exactly where its length said */
	rec->headers_len = (size_t)(c->p - rec->headers);
	rec->timestamp = (int64_t)((uint64_t)b->base_timestamp + (uint64_t)ts_delta);
	rec->offset = b->base_offset + rec->offset_delta;
	rec->sequence = b->base_sequence < 0 ? -1 : (int32_t)((uint32_t)b->base_sequence + (uint32_t)rec->offset_delta);
	return 1;
}

int kafka_record_next(struct kafka_record_iter *it, struct kafka_record *rec)
{
	struct cur c = { it->r.p + it->r.pos, it->r.p + it->r.len };
	if (it->index == it->batch->record_count)
		return c.p == c.end ? 0 : ERR_MALFORMED; /* trailing bytes after the last record */
	int32_t n;
	if (!c_varint(&c, &n) || n <= 0 || n > c.end - c.p)
		return ERR_MALFORMED;
	struct cur one = { c.p, c.p + n };
	int rc = parse_record(&one, it->batch, rec);
	if (rc > 0) {
		it->r.pos = (size_t)(one.end - it->r.p);
		it->index++;
	}
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
	struct cur c = { it->r.p + it->r.pos, it->r.p + it->r.len };
	if (!c_header(&c, h))
		return ERR_MALFORMED;
	it->r.pos = (size_t)(c.p - it->r.p);
	it->left--;
	return 1;
}

int kafka_batch_validate(const struct kafka_batch *b, uint8_t *out, size_t out_cap)
{
	const uint8_t *recs;
	size_t len;
	int rc = kafka_batch_records(b, out, out_cap, &recs, &len);
	if (rc < 0)
		return rc;
	if (b->record_count == 0 || b->last_offset_delta != b->record_count - 1)
		return ERR_KAFKA_INVALID_RECORD;
	struct kafka_record_iter it;
	struct kafka_record r;
	kafka_record_iter_init(&it, b, recs, len);
	int32_t expect = 0;
	while ((rc = kafka_record_next(&it, &r)) == 1)
		if (r.offset_delta != expect++)
			return ERR_KAFKA_INVALID_RECORD; /* offsets within a batch are consecutive */
	return rc == 0 ? 0 : rc;
}
