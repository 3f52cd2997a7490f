/* Opening a file-backend log, and recovery after a crash (kill -9, power loss).
 *
 * Closed segments were fsynced, with their indexes, when they were rolled, so after an unclean stop only the
 * active (last) segment can end in a torn or garbage write: it is scanned batch by batch with CRC32C and
 * truncated at the first bad batch, and its indexes are rebuilt from the scan.  Other segments are trusted
 * if their index files look sane and their tail walks cleanly to the end of the file; otherwise they are
 * scanned the same way, and corruption inside one cuts the log there (later segments are deleted: a log
 * must stay contiguous).  Producer state comes from the newest snapshot plus the batch headers after it. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "cloud/log/log_file.h"
#include "port.h"

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
	return x < y ? -1 : x > y;
}

/* Index files whose .log is gone (a crash between the unlinks of a deleted segment) would be picked up by a
 * future segment of the same base offset: remove them. */
static void remove_orphans(const char *dir, const int64_t *bases, size_t count)
{
	static const char *const exts[] = {".index", ".timeindex"};
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *de;
	while ((de = readdir(d))) {
		for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++) {
			int64_t off;
			if (file_name_parse(de->d_name, exts[i], &off) &&
			    !(count && bsearch(&off, bases, count, sizeof *bases, cmp_i64)))
				unlinkat(dirfd(d), de->d_name, 0);
		}
	}
	closedir(d);
}

/* Base offsets of the .log files, ascending; removes leftover temporary files. */
static int list_segments(const char *dir, int64_t **bases, size_t *count, bool *clean)
{
	DIR *d = opendir(dir);
	if (!d)
		return ERR_IO;
	size_t cap = 0;
	int rc = 0;
	struct dirent *de;
	*bases = NULL;
	*count = 0;
	*clean = false;
	while ((de = readdir(d))) {
		int64_t off;
		size_t n = strlen(de->d_name);
		if (!strcmp(de->d_name, FILE_CLEAN_NAME))
			*clean = true;
		if (n > 4 && !strcmp(de->d_name + n - 4, ".tmp"))
			unlinkat(dirfd(d), de->d_name, 0);
		if (!file_name_parse(de->d_name, ".log", &off))
			continue;
		if (*count == FILE_SEGMENTS_MAX) {
			rc = ERR_TOO_LARGE;
			break;
		}
		if (*count == cap) {
			cap = cap ? cap * 2 : 16;
			int64_t *b = realloc(*bases, cap * sizeof *b);
			if (!b) {
				rc = ERR_NOMEM;
				break;
			}
			*bases = b;
		}
		(*bases)[(*count)++] = off;
	}
	closedir(d);
	if (!rc && *count)
		qsort(*bases, *count, sizeof **bases, cmp_i64);
	if (!rc)
		remove_orphans(dir, *bases, *count);
	return rc;
}

/* Scan from pos to end noting each batch in the index; returns the end of the last good batch. */
static int64_t scan_from(struct log *log, struct log_segment *seg, int64_t pos, int64_t end, bool verify, int *err)
{
	struct seg_iter it;
	seg_iter_init(&it, log, seg, pos, end);
	it.verify_crc = verify;
	it.expect = seg->next_offset;
	struct batch_header h;
	int64_t at;
	int rc;
	*err = 0;
	while ((rc = seg_iter_next(&it, &h, &at)) == 1) {
		if ((rc = index_reserve(seg)) < 0)
			break;
		index_note_batch(log, seg, &h, at);
		seg->size = at + (int64_t)batch_size(&h);
		seg->next_offset = batch_last_offset(&h) + 1;
	}
	if (rc < 0)
		*err = rc;
	return seg->size;
}

/* Trust the index files and walk only past the last entry.  ERR_CORRUPT when anything disagrees. */
static int load_indexed(struct log *log, struct log_segment *seg, int64_t file_size)
{
	char p1[FILE_PATH_MAX], p2[FILE_PATH_MAX];
	uint8_t *idx = NULL, *tidx = NULL;
	size_t idx_len, tidx_len;
	size_t max = ((size_t)file_size / BATCH_HEADER_SIZE + 1) * TIME_ENTRY_SIZE;
	int rc = file_path(log, p1, sizeof p1, seg->base_offset, ".index");
	if (!rc)
		rc = file_path(log, p2, sizeof p2, seg->base_offset, ".timeindex");
	if (!rc)
		rc = file_read_all(p1, max, &idx, &idx_len);
	if (!rc)
		rc = file_read_all(p2, max, &tidx, &tidx_len);
	seg->size = file_size;
	if (!rc)
		rc = index_decode(seg, idx, idx_len, tidx, tidx_len);
	free(idx);
	free(tidx);
	if (rc)
		return rc == ERR_NOMEM ? rc : ERR_CORRUPT;
	if (seg->idx_count == 0)
		return file_size == 0 ? 0 : ERR_CORRUPT;
	/* Walk from the last indexed batch, which must be where the index says, to the end of the file. */
	const struct index_entry last = seg->idx[seg->idx_count - 1];
	size_t idx_count = seg->idx_count, tidx_count = seg->tidx_count;
	seg->idx_count--;
	seg->size = last.pos;
	seg->next_offset = seg->base_offset + last.rel_offset;
	seg->bytes_since_index = (int64_t)log->cfg.index_interval_bytes; /* re-index the batch at last.pos */
	int err;
	scan_from(log, seg, last.pos, file_size, false, &err);
	if (err || seg->size != file_size || seg->idx_count < idx_count || seg->idx[idx_count - 1].pos != last.pos ||
	    seg->idx[idx_count - 1].rel_offset != last.rel_offset)
		return ERR_CORRUPT;
	/* A time entry names a batch of this segment: one past the end would send lookups past real data. */
	for (size_t i = 0; i < seg->tidx_count; i++)
		if (seg->base_offset + seg->tidx[i].rel_offset >= seg->next_offset)
			return ERR_CORRUPT;
	/* Batches past the last entry (appended after the index was written) make the files stale. */
	seg->sealed = seg->idx_count == idx_count && seg->tidx_count == tidx_count;
	return 0;
}

static void first_batch_ms(struct log *log, struct log_segment *seg)
{
	uint8_t head[BATCH_HEADER_SIZE];
	struct batch_header h;
	int64_t now = log_now_ms(log);
	seg->first_append_ms = -1;
	if (seg->size == 0)
		return;
	if (!log->be->seg_read(log, seg, head, sizeof head, 0) &&
	    !batch_header_decode(head, sizeof head, log->cfg.batch_bytes_max, &h))
		seg->first_append_ms = h.max_timestamp >= 0 && h.max_timestamp <= now ? h.max_timestamp : now;
}

/* Open one segment file and bring it to a consistent state.  *cut is set when it had to be truncated. */
static int recover_segment(struct log *log, struct log_segment *seg, bool trust_index, bool *cut)
{
	char path[FILE_PATH_MAX];
	struct stat st;
	int rc = file_path(log, path, sizeof path, seg->base_offset, ".log");
	if (rc)
		return rc;
	*cut = false;
	seg->fd = open(path, O_RDWR | O_CLOEXEC);
	if (seg->fd < 0 || fstat(seg->fd, &st) < 0) {
		log_error("open(%s): %s", path, strerror(errno));
		return ERR_IO;
	}
	int64_t file_size = st.st_size;
	if (file_size > (int64_t)LOG_SEGMENT_BYTES_LIMIT)
		file_size = (int64_t)LOG_SEGMENT_BYTES_LIMIT;
	if (trust_index && (rc = load_indexed(log, seg, file_size)) == 0)
		goto done;
	if (rc == ERR_NOMEM)
		return rc;
	if (trust_index)
		log_warn("%s: index missing or inconsistent; rebuilding", path);
	log->stats.indexes_rebuilt++;
	index_reset(seg);
	seg->size = 0;
	seg->next_offset = seg->base_offset;
	int err;
	int64_t good = scan_from(log, seg, 0, file_size, true, &err);
	if (err == ERR_NOMEM || err == ERR_IO)
		return err;
	if (good < st.st_size) {
		log_warn("%s: invalid batch at byte %lld (%s); truncating %lld bytes", path, (long long)good,
			 err_str(err ? err : ERR_TOO_LARGE), (long long)(st.st_size - good));
		if (port_sys.ftruncate(seg->fd, (off_t)good) < 0)
			return ERR_IO;
		log->stats.recovered_bytes_cut += (uint64_t)(st.st_size - good);
		*cut = true;
	}
	/* What recovery kept may only be in the page cache of the crashed run's kernel: make it durable. */
	if ((rc = port_sync_fd(seg->fd, PORT_SYNC_DATA)))
		return rc;
done:
	seg->synced_size = seg->size;
	first_batch_ms(log, seg);
	return 0;
}

static void discard_segment(struct log *log, struct log_segment *seg)
{
	log->be->seg_remove(log, seg);
	segment_unref(log, seg);
}

static int load_segments(struct log *log, const int64_t *bases, size_t count, bool clean)
{
	for (size_t i = 0; i < count; i++) {
		bool last = i + 1 == count;
		struct log_segment *seg = segment_new(bases[i]);
		if (!seg)
			return ERR_NOMEM;
		int64_t prev_end = log->seg_count ? log_active(log)->next_offset : 0;
		bool cut = false;
		int rc = bases[i] < prev_end ? ERR_CORRUPT : recover_segment(log, seg, clean || !last, &cut);
		if (rc == ERR_CORRUPT) {
			log_error("segment %lld overlaps the one before it; removing it", (long long)bases[i]);
			discard_segment(log, seg);
			continue;
		}
		if (rc) {
			segment_unref(log, seg);
			return rc;
		}
		if (seg->size == 0 && !last && !cut) {
			discard_segment(log, seg); /* an empty closed segment carries nothing */
			continue;
		}
		if ((rc = log_add_segment(log, seg))) {
			segment_unref(log, seg);
			return rc;
		}
		log->size_bytes += (uint64_t)seg->size;
		if (cut && !last) {
			/* Corruption inside a closed segment: the log ends here (Kafka does the same). */
			log_error("log %s cut at offset %lld; %zu later segments removed", log->dir,
				  (long long)seg->next_offset, count - i - 1);
			for (size_t j = i + 1; j < count; j++) {
				struct log_segment s = {.base_offset = bases[j], .fd = -1};
				log->be->seg_remove(log, &s);
			}
			break;
		}
		if (!last && !seg->sealed && (rc = log->be->seg_seal(log, seg)))
			return rc;
	}
	return 0;
}

static int file_log_setup(struct log *log, const char *dir)
{
	int64_t *bases = NULL;
	size_t count;
	bool clean;
	int64_t start = 0;
	int rc = list_segments(dir, &bases, &count, &clean);
	if (rc)
		goto out;
	if (clean) {
		char path[FILE_PATH_MAX];
		snprintf(path, sizeof path, "%s/%s", dir, FILE_CLEAN_NAME);
		/* Gone before any append, so a crash from now on is seen as unclean. */
		if (unlink(path) < 0 || (rc = port_sync_dir(dir)))
			rc = rc ? rc : ERR_IO;
		if (rc)
			goto out;
	}
	if ((rc = file_start_offset_load(log, &start)) && rc != ERR_NOT_FOUND)
		log_warn("%s/%s: %s; using the first segment", dir, FILE_START_OFFSET_NAME, err_str(rc));
	if ((rc = load_segments(log, bases, count, clean)))
		goto out;
	if (log->seg_count == 0) {
		struct log_segment *seg = segment_new(start);
		if (!seg) {
			rc = ERR_NOMEM;
			goto out;
		}
		if ((rc = log->be->seg_create(log, seg)) || (rc = log_add_segment(log, seg))) {
			segment_unref(log, seg);
			goto out;
		}
	}
	log->end_offset = log->flushed_offset = log_active(log)->next_offset;
	log->start_offset = log->segs[0]->base_offset;
	if (start > log->start_offset)
		log->start_offset = start < log->end_offset ? start : log->end_offset;
	log_active(log)->sealed = false;
	/* The checkpoint is written on every epoch change; what it lacks (a failed write) the replay adds. */
	int erc = log->be->epochs_load(log);
	if (erc && erc != ERR_NOT_FOUND)
		log_warn("%s/%s: %s; rebuilding from the log", dir, FILE_EPOCH_NAME, err_str(erc));
	bool epochs_changed = epoch_cache_truncate_end(&log->epochs, log->end_offset);
	epochs_changed |= epoch_cache_truncate_start(&log->epochs, log->start_offset);
	int32_t latest = epoch_cache_latest(&log->epochs);
	rc = log_producers_rebuild(log, erc == 0);
	epochs_changed |= epoch_cache_truncate_start(&log->epochs, log->start_offset);
	if (!rc && (epochs_changed || erc || latest != epoch_cache_latest(&log->epochs)))
		log_epochs_changed(log);
out:
	free(bases);
	return rc;
}

int log_file_open(const char *dir, const struct log_config *cfg, struct log **out)
{
	if (strlen(dir) > FILE_PATH_MAX - 64)
		return ERR_INVAL;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		log_error("mkdir(%s): %s", dir, strerror(errno));
		return ERR_IO;
	}
	struct log *log = malloc(sizeof *log);
	if (!log)
		return ERR_NOMEM;
	int rc = log_init_common(log, &file_backend, cfg);
	if (!rc && !(log->dir = strdup(dir)))
		rc = ERR_NOMEM;
	if (!rc)
		rc = file_log_setup(log, dir);
	if (rc) {
		log_error("open log %s: %s", dir, err_str(rc));
		log_free_common(log);
		return rc;
	}
	*out = log;
	return 0;
}
