/* The partition log core, shared by both backends: configuration, segments, append and roll, flush and
 * close.  Reads and lookups are in log_read.c, retention and truncation in log_maint.c.  Storage is reached
 * only through log->be, so this file never touches a file descriptor or a syscall. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "cloud/log/log_internal.h"
#include "port.h"

_Static_assert(LOG_SEGMENT_BYTES_LIMIT <= INT32_MAX, "index positions are int32");
_Static_assert(LOG_BATCH_BYTES_LIMIT < LOG_SEGMENT_BYTES_LIMIT, "a batch must fit a segment");
_Static_assert(LOG_BATCH_BYTES_LIMIT <= LOG_MEM_SEGMENT_BYTES_MAX, "a batch must fit a memory segment");

void log_config_default(struct log_config *cfg)
{
	*cfg = (struct log_config){
		.segment_bytes = (size_t)1 << 30,
		.segment_ms = 7LL * 24 * 3600 * 1000,
		.retention_bytes = -1,
		.retention_ms = 7LL * 24 * 3600 * 1000,
		.index_interval_bytes = 4096,
		.batch_bytes_max = 1048588, /* Kafka's message.max.bytes default */
		.producers_max = 10000,
		.producer_expiry_ms = 24LL * 3600 * 1000,
		.flush_policy = LOG_FLUSH_SYNC,
		.flush_interval_ms = 1000,
		.flush_bytes = (size_t)64 << 20,
		.clock_ms = port_wall_ms,
	};
}

int log_config_check(const struct log_config *cfg)
{
	if (cfg->batch_bytes_max < BATCH_HEADER_SIZE || cfg->batch_bytes_max > LOG_BATCH_BYTES_LIMIT)
		return ERR_CONFIG;
	if (cfg->segment_bytes < cfg->batch_bytes_max || cfg->segment_bytes > LOG_SEGMENT_BYTES_LIMIT)
		return ERR_CONFIG;
	if (cfg->index_interval_bytes < LOG_INDEX_INTERVAL_MIN || cfg->index_interval_bytes > cfg->segment_bytes)
		return ERR_CONFIG;
	if (cfg->producers_max == 0 || cfg->producers_max > LOG_PRODUCERS_LIMIT)
		return ERR_CONFIG;
	if (cfg->segment_ms < -1 || cfg->retention_ms < -1 || cfg->retention_bytes < -1 ||
	    cfg->producer_expiry_ms < -1 || cfg->flush_interval_ms < 0)
		return ERR_CONFIG;
	if ((unsigned)cfg->flush_policy > LOG_FLUSH_NONE)
		return ERR_CONFIG;
	return 0;
}

int log_init_common(struct log *log, const struct log_backend *be, const struct log_config *cfg)
{
	memset(log, 0, sizeof *log);
	int rc = log_config_check(cfg);
	if (rc)
		return rc;
	log->be = be;
	log->cfg = *cfg;
	if (!log->cfg.clock_ms)
		log->cfg.clock_ms = port_wall_ms;
	log->last_flush_ms = log_now_ms(log);
	epoch_cache_init(&log->epochs);
	return producer_state_init(&log->producers, cfg->producers_max);
}

struct log_segment *segment_new(int64_t base_offset)
{
	struct log_segment *seg = calloc(1, sizeof *seg);
	if (!seg)
		return NULL;
	seg->base_offset = seg->next_offset = base_offset;
	seg->max_timestamp = -1;
	seg->max_ts_offset = base_offset;
	seg->first_append_ms = -1;
	seg->refs = 1;
	seg->fd = -1;
	return seg;
}

static void segment_free(struct log *log, struct log_segment *seg)
{
	log->be->seg_free(seg);
	free(seg->idx);
	free(seg->tidx);
	free(seg);
}

void segment_unref(struct log *log, struct log_segment *seg)
{
	if (--seg->refs == 0)
		segment_free(log, seg);
}

void log_free_common(struct log *log)
{
	for (size_t i = 0; i < log->seg_count; i++) {
		log->segs[i]->refs = 1; /* log_close() requires reads to be released; do not leak if not */
		segment_unref(log, log->segs[i]);
	}
	free(log->segs);
	producer_state_deinit(&log->producers);
	epoch_cache_deinit(&log->epochs);
	free(log->dir);
	free(log);
}

int log_add_segment(struct log *log, struct log_segment *seg)
{
	if (log->seg_count == log->seg_cap) {
		size_t n = log->seg_cap ? log->seg_cap * 2 : 8;
		struct log_segment **s = realloc(log->segs, n * sizeof *s);
		if (!s)
			return ERR_NOMEM;
		log->segs = s;
		log->seg_cap = n;
	}
	log->segs[log->seg_count++] = seg;
	return 0;
}

/* Close the active segment durably (data, indexes, producer snapshot) and start one at base_offset.  On
 * failure the old segment stays active and nothing is lost. */
static int roll(struct log *log, int64_t base_offset)
{
	struct log_segment *old = log_active(log);
	int rc = 0;
	if (old->synced_size < old->size && (rc = log->be->seg_sync(log, old)))
		goto fail_sync;
	old->synced_size = old->size;
	index_seal_time(old);
	if ((rc = log->be->seg_seal(log, old)))
		goto fail;
	if ((rc = log->be->snapshot_save(log, base_offset)))
		goto fail;
	struct log_segment *seg = segment_new(base_offset);
	if (!seg) {
		rc = ERR_NOMEM;
		goto fail;
	}
	if ((rc = log->be->seg_create(log, seg))) {
		free(seg);
		goto fail;
	}
	if ((rc = log_add_segment(log, seg))) {
		log->be->seg_remove(log, seg);
		segment_free(log, seg);
		goto fail;
	}
	log->stats.roll_count++;
	return 0;
fail_sync:
	log->failed = rc;
fail:
	log_error("log roll at offset %lld: %s", (long long)base_offset, err_str(rc));
	return rc;
}

int log_roll_now(struct log *log)
{
	return log_active(log)->size ? roll(log, log->end_offset) : 0;
}

static bool roll_needed(const struct log *log, const struct log_segment *seg, const struct batch_header *h)
{
	if (batch_last_offset(h) - seg->base_offset > INT32_MAX)
		return true; /* relative offsets in the index are 32-bit (a replica jumping ahead, even if empty) */
	if (seg->size == 0)
		return false;
	if ((uint64_t)seg->size + batch_size(h) > log->cfg.segment_bytes)
		return true;
	return log->cfg.segment_ms >= 0 && seg->first_append_ms >= 0 &&
	       log_now_ms(log) - seg->first_append_ms >= log->cfg.segment_ms;
}

static int check_batch(const struct log *log, const uint8_t *batch, size_t len, struct batch_header *h)
{
	int rc = batch_header_decode(batch, len, log->cfg.batch_bytes_max, h);
	if (rc)
		return rc == ERR_AGAIN ? ERR_MALFORMED : rc;
	if (batch_size(h) != len)
		return ERR_MALFORMED;
	return batch_crc_ok(h, batch, len) ? 0 : ERR_CORRUPT;
}

int log_append(struct log *log, uint8_t *batch, size_t len, int32_t leader_epoch, enum log_append_mode mode,
	       struct log_append_info *info)
{
	struct batch_header h;
	memset(info, 0, sizeof *info);
	if (log->failed)
		return ERR_STATE;
	int rc = check_batch(log, batch, len, &h);
	if (rc)
		return rc;
	if (mode == LOG_APPEND_LEADER) {
		/* A producer's batch numbers its records 0..n-1 (Kafka LogValidator), so the header's offset
		 * span must match its record count: otherwise a client could burn offsets. */
		if (h.record_count < 1 || h.last_offset_delta != h.record_count - 1)
			return ERR_MALFORMED;
		producer_state_check(&log->producers, &h, &info->producer);
		if (info->producer.verdict != PRODUCER_APPEND) {
			if (info->producer.verdict == PRODUCER_DUPLICATE)
				log->stats.duplicate_count++;
			else
				log->stats.refused_count++;
			info->base_offset = info->producer.duplicate_base_offset;
			info->last_offset = info->producer.duplicate_last_offset;
			info->max_timestamp = info->producer.duplicate_timestamp;
			return 0;
		}
		h.base_offset = log->end_offset;
		h.leader_epoch = leader_epoch;
		batch_stamp(batch, h.base_offset, leader_epoch);
	} else if (h.base_offset < log->end_offset) {
		return ERR_RANGE;
	}

	struct log_segment *seg = log_active(log);
	if (roll_needed(log, seg, &h) && (rc = roll(log, h.base_offset)))
		return rc;
	seg = log_active(log);
	if ((rc = index_reserve(seg)))
		return rc;
	int64_t pos = seg->size;
	if ((rc = log->be->seg_write(log, seg, batch, len, pos))) {
		/* Drop whatever part landed; the logical size already excludes it, so a failure here only
		 * leaves bytes that the next append overwrites or recovery cuts off. */
		(void)log->be->seg_truncate(log, seg, pos);
		log_warn("log append at offset %lld: %s", (long long)h.base_offset, err_str(rc));
		return rc;
	}
	if (seg->first_append_ms < 0)
		seg->first_append_ms = log_now_ms(log);
	index_note_batch(log, seg, &h, pos);
	seg->size += (int64_t)len;
	seg->next_offset = batch_last_offset(&h) + 1;
	log->end_offset = seg->next_offset;
	log->size_bytes += len;
	log->unflushed_bytes += len;
	if ((rc = producer_state_update(&log->producers, &h)))
		log_warn("producer state for id %lld: %s", (long long)h.producer_id, err_str(rc));
	if (epoch_cache_assign(&log->epochs, h.leader_epoch, h.base_offset) == 1)
		log_epochs_changed(log);
	log->stats.append_count++;
	log->stats.append_bytes += len;
	info->appended = true;
	info->base_offset = h.base_offset;
	info->last_offset = batch_last_offset(&h);
	info->max_timestamp = h.max_timestamp;
	info->record_count = (uint32_t)h.record_count;
	return 0;
}

int log_flush(struct log *log)
{
	if (log->failed)
		return ERR_STATE;
	for (size_t i = log->seg_count; i-- > 0;) {
		struct log_segment *seg = log->segs[i];
		if (seg->synced_size >= seg->size)
			break;
		int rc = log->be->seg_sync(log, seg);
		if (rc) {
			log->failed = rc;
			log_error("log flush: %s; the log must be reopened", err_str(rc));
			return rc;
		}
		seg->synced_size = seg->size;
	}
	if (log->flushed_offset < log->end_offset)
		log->stats.flush_count++;
	log->flushed_offset = log->end_offset;
	log->unflushed_bytes = 0;
	log->last_flush_ms = log_now_ms(log);
	return 0;
}

void log_get_stats(const struct log *log, struct log_stats *out) { *out = log->stats; }

bool log_flush_due(const struct log *log)
{
	if (log->failed || log->flushed_offset >= log->end_offset)
		return false;
	switch (log->cfg.flush_policy) {
	case LOG_FLUSH_SYNC:
		return true;
	case LOG_FLUSH_INTERVAL:
		return log->unflushed_bytes >= log->cfg.flush_bytes ||
		       log_now_ms(log) - log->last_flush_ms >= log->cfg.flush_interval_ms;
	case LOG_FLUSH_NONE:
		break;
	}
	return false;
}

void log_epochs_changed(struct log *log)
{
	int rc = log->be->epochs_save(log);
	if (rc)
		log_warn("leader-epoch checkpoint: %s; retried at close", err_str(rc));
}

int32_t log_latest_epoch(const struct log *log) { return epoch_cache_latest(&log->epochs); }

void log_epoch_end_offset(const struct log *log, int32_t epoch, int32_t *epoch_out, int64_t *end_out)
{
	epoch_cache_end_offset(&log->epochs, epoch, log->end_offset, epoch_out, end_out);
}

bool log_acks_wait_flush(const struct log *log) { return log->cfg.flush_policy == LOG_FLUSH_SYNC; }
int log_failed(const struct log *log) { return log->failed; }
int64_t log_start_offset(const struct log *log) { return log->start_offset; }
int64_t log_end_offset(const struct log *log) { return log->end_offset; }
int64_t log_flushed_offset(const struct log *log) { return log->flushed_offset; }
uint64_t log_size_bytes(const struct log *log) { return log->size_bytes; }
size_t log_segment_count(const struct log *log) { return log->seg_count; }
const struct producer_state *log_producers(const struct log *log) { return &log->producers; }

int log_close(struct log *log)
{
	if (!log)
		return 0;
	assert(log->commit_inflight == 0); /* a commit job still holds this log: finish it first */
	int rc = log->failed;
	if (!rc)
		rc = log_flush(log);
	if (!rc) {
		struct log_segment *seg = log_active(log);
		index_seal_time(seg);
		rc = log->be->seg_seal(log, seg);
	}
	if (!rc)
		rc = log->be->snapshot_save(log, log->end_offset);
	if (!rc)
		rc = log->be->epochs_save(log);
	int rc2 = log->be->close(log, rc == 0);
	log_free_common(log);
	return rc ? rc : rc2;
}
