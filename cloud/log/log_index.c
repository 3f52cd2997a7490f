/* Sparse offset and time indexes of a segment, kept in memory and written to the Kafka-layout .index and
 * .timeindex files when a segment is sealed (roll, close).  They only speed up lookups: every answer is
 * confirmed by scanning batch headers from the position they give, so a missing index costs time, never
 * correctness, and a suspicious one is rebuilt from the log. */
#include <stdlib.h>
#include <string.h>

#include "base/crc32c.h"
#include "base/err.h"
#include "base/rw.h"
#include "cloud/log/log_internal.h"

#define SCAN_CHUNK 16384

static int grow(void **p, size_t *cap, size_t count, size_t elem)
{
	if (count < *cap)
		return 0;
	size_t n = *cap ? *cap * 2 : 64;
	void *q = realloc(*p, n * elem);
	if (!q)
		return ERR_NOMEM;
	*p = q;
	*cap = n;
	return 0;
}

int index_reserve(struct log_segment *seg)
{
	int rc = grow((void **)&seg->idx, &seg->idx_cap, seg->idx_count, sizeof *seg->idx);
	if (!rc)
		rc = grow((void **)&seg->tidx, &seg->tidx_cap, seg->tidx_count, sizeof *seg->tidx);
	return rc;
}

static void add_time_entry(struct log_segment *seg)
{
	if (seg->max_timestamp < 0)
		return;
	if (seg->tidx_count && seg->tidx[seg->tidx_count - 1].timestamp >= seg->max_timestamp)
		return;
	seg->tidx[seg->tidx_count++] = (struct time_entry){
		.timestamp = seg->max_timestamp,
		.rel_offset = (uint32_t)(seg->max_ts_offset - seg->base_offset),
	};
}

void index_note_batch(const struct log *log, struct log_segment *seg, const struct batch_header *h, int64_t pos)
{
	if (h->max_timestamp > seg->max_timestamp) {
		seg->max_timestamp = h->max_timestamp;
		seg->max_ts_offset = h->base_offset;
	}
	/* Index the first batch, then one batch per interval (Kafka index.interval.bytes). */
	if (seg->idx_count == 0 || seg->bytes_since_index >= (int64_t)log->cfg.index_interval_bytes) {
		seg->idx[seg->idx_count++] = (struct index_entry){
			.rel_offset = (uint32_t)(h->base_offset - seg->base_offset),
			.pos = (uint32_t)pos,
		};
		add_time_entry(seg);
		seg->bytes_since_index = 0;
	}
	seg->bytes_since_index += (int64_t)batch_size(h);
	seg->sealed = false;
}

/* The last time entry must carry the segment's max timestamp so that a reopened segment knows it. */
void index_seal_time(struct log_segment *seg) { add_time_entry(seg); }

int64_t index_lookup(const struct log_segment *seg, int64_t offset)
{
	size_t lo = 0, hi = seg->idx_count; /* find the first entry with base > offset */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (seg->base_offset + seg->idx[mid].rel_offset <= offset)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? seg->idx[lo - 1].pos : 0;
}

bool index_floor_pos(const struct log_segment *seg, int64_t pos_max, int64_t offset_max, struct index_entry *out)
{
	size_t lo = 0, hi = seg->idx_count;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct index_entry *e = &seg->idx[mid];
		if ((int64_t)e->pos <= pos_max && seg->base_offset + e->rel_offset <= offset_max)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (!lo)
		return false;
	*out = seg->idx[lo - 1];
	return true;
}

int64_t time_index_lookup(const struct log_segment *seg, int64_t ts)
{
	size_t lo = 0, hi = seg->tidx_count; /* first entry with timestamp >= ts */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (seg->tidx[mid].timestamp < ts)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo ? seg->base_offset + seg->tidx[lo - 1].rel_offset : seg->base_offset;
}

void index_truncate(struct log_segment *seg, int64_t pos, int64_t base_offset)
{
	while (seg->idx_count && (int64_t)seg->idx[seg->idx_count - 1].pos >= pos)
		seg->idx_count--;
	while (seg->tidx_count && seg->base_offset + seg->tidx[seg->tidx_count - 1].rel_offset >= base_offset)
		seg->tidx_count--;
	seg->sealed = false;
}

void index_reset(struct log_segment *seg)
{
	seg->idx_count = seg->tidx_count = 0;
	seg->max_timestamp = -1;
	seg->max_ts_offset = seg->base_offset;
	seg->bytes_since_index = 0;
	seg->sealed = false;
}

int index_encode(const struct log_segment *seg, uint8_t **idx, size_t *idx_len, uint8_t **tidx, size_t *tidx_len)
{
	size_t n1 = seg->idx_count * INDEX_ENTRY_SIZE, n2 = seg->tidx_count * TIME_ENTRY_SIZE;
	uint8_t *a = malloc(n1 ? n1 : 1), *b = malloc(n2 ? n2 : 1);
	if (!a || !b) {
		free(a);
		free(b);
		return ERR_NOMEM;
	}
	struct wbuf w;
	wbuf_init(&w, a, n1);
	for (size_t i = 0; i < seg->idx_count; i++) {
		wbuf_u32(&w, seg->idx[i].rel_offset);
		wbuf_u32(&w, seg->idx[i].pos);
	}
	wbuf_init(&w, b, n2);
	for (size_t i = 0; i < seg->tidx_count; i++) {
		wbuf_u64(&w, (uint64_t)seg->tidx[i].timestamp);
		wbuf_u32(&w, seg->tidx[i].rel_offset);
	}
	*idx = a, *idx_len = n1, *tidx = b, *tidx_len = n2;
	return 0;
}

int index_decode(struct log_segment *seg, const uint8_t *idx, size_t idx_len, const uint8_t *tidx, size_t tidx_len)
{
	index_reset(seg);
	/* A batch is at least BATCH_HEADER_SIZE bytes, so a longer index cannot describe this segment. */
	size_t batches_max = (size_t)seg->size / BATCH_HEADER_SIZE + 1;
	if (idx_len % INDEX_ENTRY_SIZE || tidx_len % TIME_ENTRY_SIZE)
		return ERR_CORRUPT;
	if (idx_len / INDEX_ENTRY_SIZE > batches_max || tidx_len / TIME_ENTRY_SIZE > batches_max)
		return ERR_CORRUPT;
	if (seg->size > 0 && idx_len == 0)
		return ERR_CORRUPT;
	struct rbuf r;
	rbuf_init(&r, idx, idx_len);
	while (rbuf_left(&r)) {
		if (index_reserve(seg))
			return ERR_NOMEM;
		struct index_entry e = {.rel_offset = rbuf_u32(&r), .pos = rbuf_u32(&r)};
		const struct index_entry *prev = seg->idx_count ? &seg->idx[seg->idx_count - 1] : NULL;
		if ((int64_t)e.pos >= seg->size || (!prev && (e.pos != 0 || e.rel_offset != 0)) ||
		    (prev && (e.pos <= prev->pos || e.rel_offset <= prev->rel_offset)) || e.rel_offset > INT32_MAX)
			return ERR_CORRUPT;
		seg->idx[seg->idx_count++] = e;
	}
	rbuf_init(&r, tidx, tidx_len);
	while (rbuf_left(&r)) {
		if (index_reserve(seg))
			return ERR_NOMEM;
		struct time_entry e = {.timestamp = rbuf_i64(&r), .rel_offset = rbuf_u32(&r)};
		const struct time_entry *prev = seg->tidx_count ? &seg->tidx[seg->tidx_count - 1] : NULL;
		if ((prev && (e.timestamp <= prev->timestamp || e.rel_offset < prev->rel_offset)) ||
		    e.rel_offset > INT32_MAX)
			return ERR_CORRUPT;
		seg->tidx[seg->tidx_count++] = e;
	}
	if (seg->tidx_count) {
		seg->max_timestamp = seg->tidx[seg->tidx_count - 1].timestamp;
		seg->max_ts_offset = seg->base_offset + seg->tidx[seg->tidx_count - 1].rel_offset;
	}
	seg->sealed = true;
	return 0;
}

void seg_iter_init(struct seg_iter *it, struct log *log, const struct log_segment *seg, int64_t pos, int64_t end)
{
	it->log = log;
	it->seg = seg;
	it->pos = pos;
	it->end = end;
	it->expect = seg->base_offset;
	it->verify_crc = false;
}

static int verify_crc(struct seg_iter *it, const struct batch_header *h, const uint8_t *head)
{
	uint8_t chunk[SCAN_CHUNK];
	size_t total = batch_size(h);
	uint32_t crc = crc32c(0, head + BATCH_OFF_ATTRIBUTES, BATCH_HEADER_SIZE - BATCH_OFF_ATTRIBUTES);
	for (size_t done = BATCH_HEADER_SIZE; done < total;) {
		size_t n = total - done < sizeof chunk ? total - done : sizeof chunk;
		int rc = it->log->be->seg_read(it->log, it->seg, chunk, n, it->pos + (int64_t)done);
		if (rc)
			return rc;
		crc = crc32c(crc, chunk, n);
		done += n;
	}
	return crc == h->crc ? 0 : ERR_CORRUPT;
}

int seg_iter_next(struct seg_iter *it, struct batch_header *h, int64_t *pos)
{
	if (it->pos >= it->end)
		return 0;
	if (it->end - it->pos < BATCH_HEADER_SIZE)
		return ERR_MALFORMED; /* a torn header */
	uint8_t head[BATCH_HEADER_SIZE];
	int rc = it->log->be->seg_read(it->log, it->seg, head, sizeof head, it->pos);
	if (rc)
		return rc;
	rc = batch_header_decode(head, sizeof head, it->log->cfg.batch_bytes_max, h);
	if (rc)
		return rc == ERR_AGAIN ? ERR_MALFORMED : rc;
	if ((int64_t)batch_size(h) > it->end - it->pos)
		return ERR_MALFORMED; /* torn batch, or a length field pointing past the file */
	if (h->base_offset < it->expect || batch_last_offset(h) - it->seg->base_offset > INT32_MAX)
		return ERR_CORRUPT;
	if (it->verify_crc && (rc = verify_crc(it, h, head)))
		return rc;
	*pos = it->pos;
	it->pos += (int64_t)batch_size(h);
	it->expect = batch_last_offset(h) + 1;
	return 1;
}
