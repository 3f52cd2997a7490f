/* Log maintenance: retention by size and age, DeleteRecords (log start offset), truncation of a follower's
 * divergent tail, and rebuilding producer state from a snapshot plus the batch headers after it. */
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "cloud/log/log_internal.h"

/* Take the oldest segment out of the log; storage goes now, memory when the last reader lets go. */
static void drop_oldest(struct log *log)
{
	struct log_segment *seg = log->segs[0];
	memmove(&log->segs[0], &log->segs[1], (log->seg_count - 1) * sizeof log->segs[0]);
	log->seg_count--;
	log->size_bytes -= (uint64_t)seg->size;
	seg->removed = true;
	log->be->seg_remove(log, seg);
	segment_unref(log, seg);
	log->stats.segments_deleted++;
	if (log->segs[0]->base_offset > log->start_offset)
		log->start_offset = log->segs[0]->base_offset;
}

static bool expired(const struct log *log, const struct log_segment *seg, int64_t now_ms)
{
	if (seg->next_offset <= log->start_offset)
		return true;
	if (log->cfg.retention_bytes >= 0 &&
	    (int64_t)log->size_bytes - seg->size >= log->cfg.retention_bytes)
		return true;
	return log->cfg.retention_ms >= 0 && seg->max_timestamp < now_ms - log->cfg.retention_ms;
}

int log_retention(struct log *log, size_t *deleted_count)
{
	size_t deleted = 0;
	int64_t now = log_now_ms(log);
	if (deleted_count)
		*deleted_count = 0;
	if (!log->seg_count)
		return ERR_STATE;
	struct log_segment *active = log_active(log);
	int rc = 0;
	/* An old active segment is rolled so that age retention can reach it (Kafka does the same). */
	if (!log->failed && active->size > 0 && log->cfg.segment_ms >= 0 && active->first_append_ms >= 0 &&
	    now - active->first_append_ms >= log->cfg.segment_ms)
		rc = log_roll_now(log);
	while (log->seg_count > 1 && expired(log, log->segs[0], now)) {
		drop_oldest(log);
		deleted++;
	}
	if (deleted && epoch_cache_truncate_start(&log->epochs, log->start_offset))
		log_epochs_changed(log);
	/* Forget idle producers, and those whose every batch is gone (Kafka does both). */
	producer_state_expire(&log->producers, now, log->cfg.producer_expiry_ms, log->start_offset);
	if (deleted_count)
		*deleted_count = deleted;
	return rc;
}

int log_advance_start(struct log *log, int64_t offset)
{
	if (offset > log->end_offset || offset < 0)
		return ERR_RANGE;
	if (offset <= log->start_offset)
		return 0;
	int64_t old = log->start_offset;
	log->start_offset = offset;
	int rc = log->be->start_offset_save(log);
	if (rc) {
		log->start_offset = old;
		return rc;
	}
	while (log->seg_count > 1 && log->segs[0]->next_offset <= offset && log->segs[1]->base_offset <= offset)
		drop_oldest(log);
	if (epoch_cache_truncate_start(&log->epochs, log->start_offset))
		log_epochs_changed(log);
	return 0;
}

/* Replay batch headers from `from` to the end: into producer state from producers_from on (batches before
 * it are in the snapshot already), and into the epoch cache (assigning a known epoch is a no-op). */
static int replay(struct log *log, int64_t from, int64_t producers_from)
{
	for (size_t i = 0; i < log->seg_count; i++) {
		struct log_segment *seg = log->segs[i];
		if (seg->next_offset <= from)
			continue;
		struct seg_iter it;
		seg_iter_init(&it, log, seg, index_lookup(seg, from), seg->size);
		struct batch_header h;
		int64_t pos;
		int rc;
		while ((rc = seg_iter_next(&it, &h, &pos)) == 1) {
			if (h.base_offset < from)
				continue;
			if (h.base_offset >= producers_from && (rc = producer_state_update(&log->producers, &h)))
				return rc;
			if (epoch_cache_assign(&log->epochs, h.leader_epoch, h.base_offset) < 0)
				return ERR_NOMEM;
		}
		if (rc < 0)
			return rc;
	}
	return 0;
}

int log_producers_rebuild(struct log *log, bool epochs_known)
{
	int64_t from = log->segs[0]->base_offset;
	int64_t snap;
	int rc = log->be->snapshot_load(log, log->end_offset, &snap);
	if (rc == 0 && snap >= log->segs[0]->base_offset)
		from = snap;
	else
		producer_state_clear(&log->producers);
	if (rc && rc != ERR_NOT_FOUND)
		log_warn("producer snapshot: %s; rebuilding from the log", err_str(rc));
	return replay(log, epochs_known ? from : log->segs[0]->base_offset, from);
}

int log_reset(struct log *log, int64_t offset)
{
	if (log->failed)
		return ERR_STATE;
	if (offset < 0)
		return ERR_RANGE;
	log->generation++;
	while (log->seg_count) {
		struct log_segment *seg = log->segs[--log->seg_count];
		log->stats.segments_deleted++;
		seg->removed = true;
		log->be->seg_remove(log, seg);
		segment_unref(log, seg);
	}
	int64_t snap;
	(void)log->be->snapshot_load(log, offset - 1, &snap); /* removes snapshots of the old tail */
	producer_state_clear(&log->producers);
	epoch_cache_clear(&log->epochs);
	log->start_offset = log->end_offset = log->flushed_offset = offset;
	log->size_bytes = log->unflushed_bytes = 0;
	struct log_segment *seg = segment_new(offset);
	int rc = seg ? log->be->seg_create(log, seg) : ERR_NOMEM;
	if (!rc && (rc = log_add_segment(log, seg)))
		log->be->seg_remove(log, seg);
	if (!rc)
		rc = log->be->start_offset_save(log);
	if (!rc)
		rc = log->be->epochs_save(log);
	if (rc) {
		if (seg && log->seg_count == 0)
			segment_unref(log, seg);
		log->failed = rc; /* no segment to append to: reopening recovers from the directory */
		log_error("log reset to %lld: %s", (long long)offset, err_str(rc));
	}
	return rc;
}

int log_truncate(struct log *log, int64_t offset)
{
	if (log->failed)
		return ERR_STATE;
	if (offset >= log->end_offset)
		return 0;
	if (offset < log->start_offset)
		return ERR_RANGE;
	log->generation++;
	while (log->seg_count > 1 && log_active(log)->base_offset > offset) {
		struct log_segment *seg = log_active(log);
		log->stats.segments_deleted++;
		log->seg_count--;
		log->size_bytes -= (uint64_t)seg->size;
		seg->removed = true;
		log->be->seg_remove(log, seg);
		segment_unref(log, seg);
	}
	struct log_segment *seg = log_active(log);
	struct seg_iter it;
	seg_iter_init(&it, log, seg, index_lookup(seg, offset), seg->size);
	struct batch_header h;
	int64_t pos = seg->size, at;
	int rc;
	while ((rc = seg_iter_next(&it, &h, &at)) == 1) {
		if (batch_last_offset(&h) >= offset) {
			pos = at;
			break;
		}
	}
	if (rc < 0)
		return rc;
	int64_t new_end = rc == 1 ? h.base_offset : seg->next_offset;
	if ((rc = log->be->seg_truncate(log, seg, pos)) || (rc = log->be->seg_sync(log, seg))) {
		log->failed = rc;
		return rc;
	}
	log->size_bytes -= (uint64_t)(seg->size - pos);
	seg->size = seg->synced_size = pos;
	seg->next_offset = new_end;
	index_truncate(seg, pos, new_end);
	/* Recompute the segment's max timestamp from the headers that remain. */
	seg->max_timestamp = -1;
	seg_iter_init(&it, log, seg, 0, seg->size);
	while ((rc = seg_iter_next(&it, &h, &at)) == 1)
		if (h.max_timestamp > seg->max_timestamp)
			seg->max_timestamp = h.max_timestamp, seg->max_ts_offset = h.base_offset;
	log->end_offset = new_end;
	if (log->flushed_offset > new_end)
		log->flushed_offset = new_end;
	if (epoch_cache_truncate_end(&log->epochs, new_end))
		log_epochs_changed(log);
	return log_producers_rebuild(log, true);
}
