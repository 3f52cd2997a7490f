/* Memory backend: each segment is one buffer of segment_bytes (at most LOG_MEM_SEGMENT_BYTES_MAX) allocated
 * up front (only touched pages become resident), so pointers handed out by log_read stay valid while the
 * segment lives.  Nothing is durable:
 * flushes and seals succeed at once, and there are no snapshots (producer state lives in the log). */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "cloud/log/log_internal.h"

static int mem_create(struct log *log, struct log_segment *seg)
{
	seg->mem = malloc(log->cfg.segment_bytes);
	if (!seg->mem)
		return ERR_NOMEM;
	seg->mem_cap = log->cfg.segment_bytes;
	return 0;
}

static int mem_write(struct log *log, struct log_segment *seg, const void *buf, size_t len, int64_t pos)
{
	(void)log;
	if (pos < 0 || (uint64_t)pos + len > seg->mem_cap)
		return ERR_NOSPC;
	memcpy(seg->mem + pos, buf, len);
	return 0;
}

static int mem_read(struct log *log, const struct log_segment *seg, void *buf, size_t len, int64_t pos)
{
	(void)log;
	if (pos < 0 || (uint64_t)pos + len > seg->mem_cap)
		return ERR_RANGE;
	memcpy(buf, seg->mem + pos, len);
	return 0;
}

static int mem_ok(struct log *log, struct log_segment *seg)
{
	(void)log;
	(void)seg;
	return 0;
}

static int mem_truncate(struct log *log, struct log_segment *seg, int64_t size)
{
	(void)log;
	(void)seg;
	(void)size;
	return 0;
}

static void mem_remove(struct log *log, struct log_segment *seg)
{
	(void)log;
	(void)seg;
}

static void mem_free(struct log_segment *seg)
{
	free(seg->mem);
	seg->mem = NULL;
}

static void mem_span(const struct log_segment *seg, int64_t pos, size_t len, struct log_span *out)
{
	out->fd = -1;
	out->file_pos = pos;
	out->ptr = seg->mem + pos;
	out->len = len;
}

static int mem_snapshot_save(struct log *log, int64_t offset)
{
	(void)log;
	(void)offset;
	return 0;
}

static int mem_snapshot_load(struct log *log, int64_t max_offset, int64_t *offset)
{
	(void)max_offset;
	(void)offset;
	producer_state_clear(&log->producers);
	return ERR_NOT_FOUND;
}

static int mem_log_ok(struct log *log)
{
	(void)log;
	return 0;
}

static int mem_epochs_load(struct log *log)
{
	epoch_cache_clear(&log->epochs);
	return ERR_NOT_FOUND;
}

static int mem_close(struct log *log, bool clean)
{
	(void)log;
	(void)clean;
	return 0;
}

static const struct log_backend mem_backend = {
	.seg_create = mem_create,
	.seg_write = mem_write,
	.seg_read = mem_read,
	.seg_truncate = mem_truncate,
	.seg_sync = mem_ok,
	.seg_seal = mem_ok,
	.seg_remove = mem_remove,
	.seg_free = mem_free,
	.span = mem_span,
	.snapshot_save = mem_snapshot_save,
	.snapshot_load = mem_snapshot_load,
	.start_offset_save = mem_log_ok,
	.epochs_save = mem_log_ok,
	.epochs_load = mem_epochs_load,
	.close = mem_close,
};

int log_mem_open(const struct log_config *cfg, struct log **out)
{
	struct log *log = malloc(sizeof *log);
	if (!log)
		return ERR_NOMEM;
	int rc = log_init_common(log, &mem_backend, cfg);
	struct log_segment *seg = NULL;
	if (rc)
		goto fail;
	/* Each segment is one allocation of segment_bytes: keep them modest (rolls are free in memory). */
	if (log->cfg.segment_bytes > LOG_MEM_SEGMENT_BYTES_MAX)
		log->cfg.segment_bytes = LOG_MEM_SEGMENT_BYTES_MAX;
	if (log->cfg.index_interval_bytes > log->cfg.segment_bytes)
		log->cfg.index_interval_bytes = log->cfg.segment_bytes;
	seg = segment_new(0);
	rc = seg ? mem_create(log, seg) : ERR_NOMEM;
	if (!rc)
		rc = log_add_segment(log, seg);
	if (rc)
		goto fail;
	*out = log;
	return 0;
fail:
	if (seg)
		mem_free(seg);
	free(seg);
	log_free_common(log);
	return rc;
}
