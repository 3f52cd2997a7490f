/* Reads and lookups: Fetch spans of whole batches and ListOffsets by timestamp.  Every position comes from
 * the sparse index and is confirmed by walking batch headers, bounded by the segment's size. */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/rw.h"
#include "cloud/log/log_internal.h"

/* Index of the segment holding offset: the last with base_offset <= offset, moved past segments that end
 * at or before it (offset gaps between segments). */
static size_t segment_for(const struct log *log, int64_t offset)
{
	size_t lo = 0, hi = log->seg_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (log->segs[mid]->base_offset <= offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	size_t i = lo ? lo - 1 : 0;
	while (i + 1 < log->seg_count && log->segs[i]->next_offset <= offset)
		i++;
	return i;
}

/* Walk from the index position to the batch whose last offset >= offset: 1 found, 0 none, <0 error. */
static int find_batch(struct log *log, const struct log_segment *seg, int64_t offset, struct batch_header *h,
		      int64_t *pos)
{
	struct seg_iter it;
	seg_iter_init(&it, log, seg, index_lookup(seg, offset), seg->size);
	int rc;
	while ((rc = seg_iter_next(&it, h, pos)) == 1)
		if (batch_last_offset(h) >= offset)
			return 1;
	return rc;
}

int log_read(struct log *log, int64_t offset, size_t max_bytes, int64_t max_offset, struct log_read *out)
{
	memset(out, 0, sizeof *out);
	out->span.fd = -1;
	out->first_offset = out->next_offset = offset;
	if (offset < log->start_offset || offset > log->end_offset)
		return ERR_RANGE;
	if (!log->seg_count)
		return 0; /* a failed log_reset left nothing to read */
	struct log_segment *seg = log->segs[segment_for(log, offset)];
	if (offset >= seg->next_offset)
		return 0;
	struct batch_header h;
	int64_t first_pos;
	int rc = find_batch(log, seg, offset, &h, &first_pos);
	if (rc <= 0)
		return rc ? rc : 0;
	if (batch_last_offset(&h) >= max_offset)
		return 0;
	out->first_offset = h.base_offset;
	int64_t end_pos = first_pos + (int64_t)batch_size(&h);
	int64_t next = batch_last_offset(&h) + 1;
	int64_t limit = first_pos + (int64_t)(max_bytes > LOG_SEGMENT_BYTES_LIMIT ? LOG_SEGMENT_BYTES_LIMIT : max_bytes);

	/* Batches before an index entry end before its offset: jump to the furthest entry within both bounds,
	 * then walk the last stretch header by header. */
	struct index_entry e;
	if (index_floor_pos(seg, limit, max_offset, &e) && (int64_t)e.pos > end_pos) {
		end_pos = e.pos;
		next = seg->base_offset + e.rel_offset;
	}
	struct seg_iter it;
	seg_iter_init(&it, log, seg, end_pos, seg->size);
	int64_t pos;
	while ((rc = seg_iter_next(&it, &h, &pos)) == 1) {
		if (pos + (int64_t)batch_size(&h) > limit || batch_last_offset(&h) >= max_offset)
			break;
		end_pos = pos + (int64_t)batch_size(&h);
		next = batch_last_offset(&h) + 1;
	}
	if (rc < 0)
		return rc;
	log->be->span(seg, first_pos, (size_t)(end_pos - first_pos), &out->span);
	out->next_offset = next;
	seg->refs++;
	out->hold = seg;
	return 0;
}

void log_read_release(struct log *log, struct log_read *rd)
{
	if (rd->hold)
		segment_unref(log, rd->hold);
	rd->hold = NULL;
}

int log_read_copy(struct log *log, const struct log_read *rd, uint8_t *dst)
{
	if (!rd->span.len)
		return 0;
	const struct log_segment *seg = rd->hold;
	if (rd->span.ptr) {
		memcpy(dst, rd->span.ptr, rd->span.len);
		return 0;
	}
	return log->be->seg_read(log, seg, dst, rd->span.len, rd->span.file_pos);
}

/* Within an uncompressed batch, the first record whose timestamp >= ts (records: length varint, attributes,
 * timestamp delta varlong, offset delta varint, ...; Kafka protocol "Record").  Falls back to the batch's
 * base offset and max timestamp when the records are compressed, LogAppendTime, or do not parse. */
static void refine_in_batch(struct log *log, const struct log_segment *seg, const struct batch_header *h,
			    int64_t pos, int64_t ts, struct log_time_lookup *out)
{
	out->offset = h->base_offset;
	out->timestamp = h->max_timestamp;
	if (h->attributes & (BATCH_ATTR_COMPRESSION_MASK | BATCH_ATTR_LOG_APPEND_TIME))
		return;
	size_t len = batch_size(h);
	uint8_t *buf = malloc(len);
	if (!buf || log->be->seg_read(log, seg, buf, len, pos)) {
		free(buf);
		return;
	}
	struct rbuf r;
	rbuf_init(&r, buf + BATCH_HEADER_SIZE, len - BATCH_HEADER_SIZE);
	for (int32_t i = 0; i < h->record_count && rbuf_ok(&r); i++) {
		int32_t rec_len = rbuf_varint(&r);
		size_t start = r.pos;
		(void)rbuf_u8(&r);
		int64_t t = h->base_timestamp + rbuf_varlong(&r);
		int32_t delta = rbuf_varint(&r);
		if (!rbuf_ok(&r) || rec_len < 0 || (size_t)rec_len > r.len - start || delta < 0 ||
		    delta > h->last_offset_delta)
			break;
		if (t >= ts) {
			out->offset = h->base_offset + delta;
			out->timestamp = t;
			break;
		}
		r.pos = start + (size_t)rec_len;
	}
	free(buf);
}

int log_offset_for_time(struct log *log, int64_t ts_ms, struct log_time_lookup *out)
{
	for (size_t i = 0; i < log->seg_count; i++) {
		struct log_segment *seg = log->segs[i];
		if (seg->max_timestamp < ts_ms)
			continue;
		struct seg_iter it;
		int64_t from = time_index_lookup(seg, ts_ms);
		seg_iter_init(&it, log, seg, index_lookup(seg, from), seg->size);
		struct batch_header h;
		int64_t pos;
		int rc;
		while ((rc = seg_iter_next(&it, &h, &pos)) == 1) {
			if (h.max_timestamp < ts_ms || batch_last_offset(&h) < log->start_offset)
				continue;
			refine_in_batch(log, seg, &h, pos, ts_ms, out);
			if (out->offset < log->start_offset)
				out->offset = log->start_offset;
			return 0;
		}
		if (rc < 0)
			return rc;
	}
	return ERR_NOT_FOUND;
}
