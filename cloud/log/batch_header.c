/* RecordBatch v2 header view (see batch_header.h).  Reads through base/rw.h so a short buffer can never be
 * over-read. */
#include "cloud/log/batch_header.h"

#include "base/crc32c.h"
#include "base/err.h"
#include "base/rw.h"

int batch_header_decode(const uint8_t *buf, size_t len, size_t size_max, struct batch_header *out)
{
	struct rbuf r;
	rbuf_init(&r, buf, len < BATCH_HEADER_SIZE ? len : BATCH_HEADER_SIZE);
	out->base_offset = rbuf_i64(&r);
	out->batch_length = rbuf_i32(&r);
	out->leader_epoch = rbuf_i32(&r);
	out->magic = (int8_t)rbuf_u8(&r);
	out->crc = rbuf_u32(&r);
	out->attributes = rbuf_i16(&r);
	out->last_offset_delta = rbuf_i32(&r);
	out->base_timestamp = rbuf_i64(&r);
	out->max_timestamp = rbuf_i64(&r);
	out->producer_id = rbuf_i64(&r);
	out->producer_epoch = rbuf_i16(&r);
	out->base_sequence = rbuf_i32(&r);
	out->record_count = rbuf_i32(&r);
	if (!rbuf_ok(&r))
		return r.err;
	/* The magic byte sits at the same place in every batch format, so check it before anything else. */
	if (out->magic != BATCH_MAGIC_V2)
		return ERR_UNSUPPORTED;
	if (out->batch_length < BATCH_HEADER_SIZE - BATCH_LOG_OVERHEAD)
		return ERR_MALFORMED;
	if ((uint64_t)out->batch_length + BATCH_LOG_OVERHEAD > size_max)
		return ERR_TOO_LARGE;
	if (out->base_offset < 0 || out->last_offset_delta < 0 || out->record_count < 0)
		return ERR_MALFORMED;
	if (out->base_offset > INT64_MAX - out->last_offset_delta)
		return ERR_MALFORMED;
	return 0;
}

int32_t batch_last_sequence(const struct batch_header *h)
{
	if (h->base_sequence < 0)
		return h->base_sequence;
	int64_t last = (int64_t)h->base_sequence + h->last_offset_delta;
	return (int32_t)(last > INT32_MAX ? last - INT32_MAX - 1 : last);
}

uint32_t batch_crc_compute(const uint8_t *batch, size_t len)
{
	if (len < BATCH_OFF_ATTRIBUTES)
		return 0;
	return crc32c(0, batch + BATCH_OFF_ATTRIBUTES, len - BATCH_OFF_ATTRIBUTES);
}

void batch_stamp(uint8_t *batch, int64_t base_offset, int32_t leader_epoch)
{
	struct wbuf w;
	wbuf_init(&w, batch, BATCH_OFF_MAGIC);
	wbuf_u64(&w, (uint64_t)base_offset);
	w.len = BATCH_OFF_LEADER_EPOCH;
	wbuf_u32(&w, (uint32_t)leader_epoch);
}
