/* Reads and lookups: Fetch spans of whole batches and ListOffsets by timestamp.  Every position comes from
 * the sparse index and is confirmed by walking batch headers, bounded by the segment's size. */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/rw.h"
#include "cloud/log/log_internal.h"
#include "kafka/batch.h"

/* A compressed batch is inflated into at most this many times batch_bytes_max for a time lookup. */
#define TIME_LOOKUP_INFLATE 8

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

/* A walk from an index position met something that is not a batch.  The segment's bytes were checked when
 * they were appended or recovered, so the index is what is wrong (index files carry no checksum): rebuild it
 * from the batch headers and write it back.  An error here is damage in the data itself. */
static int reindex(struct log *log, struct log_segment *seg)
{
	struct seg_iter it;
	struct batch_header h;
	int64_t pos;
	int rc;
	index_reset(seg);
	seg_iter_init(&it, log, seg, 0, seg->size);
	while ((rc = seg_iter_next(&it, &h, &pos)) == 1) {
		if ((rc = index_reserve(seg)))
			return rc;
		index_note_batch(log, seg, &h, pos);
	}
	if (rc < 0)
		return rc;
	log->stats.indexes_rebuilt++;
	if (seg != log_active(log)) {
		index_seal_time(seg);
		(void)log->be->seg_seal(log, seg);
	}
	return 0;
}

/* Walk from the index position to the batch whose last offset >= offset: 1 found, 0 none, <0 error. */
static int find_batch(struct log *log, struct log_segment *seg, int64_t offset, struct batch_header *h,
		      int64_t *pos)
{
	for (int attempt = 0;; attempt++) {
		struct seg_iter it;
		int64_t from = index_lookup(seg, offset);
		seg_iter_init(&it, log, seg, from, seg->size);
		int rc;
		while ((rc = seg_iter_next(&it, h, pos)) == 1)
			if (batch_last_offset(h) >= offset)
				return 1;
		if (rc >= 0 || attempt || from == 0 || (rc = reindex(log, seg)))
			return rc;
	}
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
	bool reindexed = false;
again:;
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
	bool jumped = false;
	if (index_floor_pos(seg, limit, max_offset, &e) && (int64_t)e.pos > end_pos) {
		end_pos = e.pos;
		next = seg->base_offset + e.rel_offset;
		jumped = true;
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
	if (rc < 0 && jumped && !reindexed) {
		/* The entry jumped to was not a batch boundary (see reindex): rebuild the index, read again. */
		reindexed = true;
		if ((rc = reindex(log, seg)))
			return rc;
		goto again;
	}
	if (rc < 0)
		return rc;
	log->be->span(seg, first_pos, (size_t)(end_pos - first_pos), &out->span);
	out->next_offset = next;
	log->stats.read_count++;
	log->stats.read_bytes += out->span.len;
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

/* Within the batch, the first record whose timestamp >= ts, decoding (and decompressing) its records with
 * the Kafka codec.  Falls back to the batch's base offset and max timestamp for LogAppendTime batches
 * (every record carries the batch time), codecs we cannot decompress, or records that do not parse. */
static void refine_in_batch(struct log *log, const struct log_segment *seg, const struct batch_header *h,
			    int64_t pos, int64_t ts, struct log_time_lookup *out)
{
	out->offset = h->base_offset;
	out->timestamp = h->max_timestamp;
	if (h->attributes & BATCH_ATTR_LOG_APPEND_TIME)
		return;
	size_t len = batch_size(h);
	size_t cap = (h->attributes & BATCH_ATTR_COMPRESSION_MASK) ? TIME_LOOKUP_INFLATE * log->cfg.batch_bytes_max : 1;
	if (cap > LOG_BATCH_BYTES_LIMIT)
		cap = LOG_BATCH_BYTES_LIMIT;
	uint8_t *buf = malloc(len), *plain = malloc(cap);
	struct kafka_batch b;
	const uint8_t *records;
	size_t records_len;
	if (!buf || !plain || log->be->seg_read(log, seg, buf, len, pos) ||
	    kafka_batch_parse(buf, len, len, &b) != (int)len ||
	    kafka_batch_records(&b, plain, cap, &records, &records_len))
		goto out;
	struct kafka_record_iter it;
	struct kafka_record rec;
	kafka_record_iter_init(&it, &b, records, records_len);
	while (kafka_record_next(&it, &rec) == 1) {
		if (rec.timestamp >= ts) {
			out->offset = rec.offset;
			out->timestamp = rec.timestamp;
			break;
		}
	}
out:
	free(buf);
	free(plain);
}

int log_max_timestamp(struct log *log, struct log_time_lookup *out)
{
	int64_t max = -1;
	for (size_t i = 0; i < log->seg_count; i++)
		if (log->segs[i]->next_offset > log->start_offset && log->segs[i]->max_timestamp > max)
			max = log->segs[i]->max_timestamp;
	if (max < 0)
		return ERR_NOT_FOUND;
	/* The earliest record at or after the maximum is a record carrying it. */
	return log_offset_for_time(log, max, out);
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
