/* File backend: a partition directory of Kafka-named segment files (00000000000000000000.log, .index,
 * .timeindex), producer snapshots (<offset>.snapshot), the log start offset checkpoint and the clean-shutdown
 * marker.  Writes and syncs go through port_sys / port_sync_fd / port_write_file_atomic so tests can fail
 * them.  Opening and recovery are in log_recover.c. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/crc32c.h"
#include "base/err.h"
#include "base/log.h"
#include "base/rw.h"
#include "cloud/log/log_file.h"
#include "port.h"

int file_path(const struct log *log, char *buf, size_t cap, int64_t offset, const char *ext)
{
	int n = snprintf(buf, cap, "%s/%020lld%s", log->dir, (long long)offset, ext);
	return n < 0 || (size_t)n >= cap ? ERR_INVAL : 0;
}

int file_read_all(const char *path, size_t max, uint8_t **buf_out, size_t *len_out)
{
	*buf_out = NULL;
	*len_out = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno == ENOENT ? ERR_NOT_FOUND : ERR_IO;
	struct stat st;
	int rc = 0;
	uint8_t *buf = NULL;
	if (fstat(fd, &st) < 0) {
		rc = ERR_IO;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		rc = ERR_TOO_LARGE;
		goto out;
	}
	size_t len = (size_t)st.st_size;
	buf = malloc(len ? len : 1);
	if (!buf) {
		rc = ERR_NOMEM;
		goto out;
	}
	for (size_t done = 0; done < len;) {
		ssize_t n = port_sys.pread(fd, buf + done, len - done, (off_t)done);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = ERR_IO;
			goto out;
		}
		done += (size_t)n;
	}
	*buf_out = buf;
	*len_out = len;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}

static int file_create(struct log *log, struct log_segment *seg)
{
	char path[FILE_PATH_MAX];
	int rc = 0;
	if ((rc = file_path(log, path, sizeof path, seg->base_offset, ".index")))
		return rc;
	unlink(path);
	file_path(log, path, sizeof path, seg->base_offset, ".timeindex");
	unlink(path);
	file_path(log, path, sizeof path, seg->base_offset, ".log");
	seg->fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (seg->fd < 0) {
		rc = errno == ENOSPC || errno == EDQUOT ? ERR_NOSPC : ERR_IO;
		log_error("open(%s): %s", path, strerror(errno));
		return rc;
	}
	if ((rc = port_sync_dir(log->dir))) {
		close(seg->fd);
		seg->fd = -1;
		unlink(path);
	}
	return rc;
}

static int file_write(struct log *log, struct log_segment *seg, const void *buf, size_t len, int64_t pos)
{
	(void)log;
	return port_pwrite_all(seg->fd, buf, len, (off_t)pos);
}

static int file_read(struct log *log, const struct log_segment *seg, void *buf, size_t len, int64_t pos)
{
	(void)log;
	uint8_t *p = buf;
	while (len) {
		ssize_t n = port_sys.pread(seg->fd, p, len, (off_t)pos);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return ERR_IO; /* the file is shorter than the log believes: not ours to fix here */
		p += n;
		pos += n;
		len -= (size_t)n;
	}
	return 0;
}

static int file_truncate(struct log *log, struct log_segment *seg, int64_t size)
{
	(void)log;
	return port_sys.ftruncate(seg->fd, (off_t)size) < 0 ? ERR_IO : 0;
}

static int file_sync(struct log *log, struct log_segment *seg)
{
	(void)log;
	return port_sync_fd(seg->fd, PORT_SYNC_DATA);
}

static int file_seal(struct log *log, struct log_segment *seg)
{
	if (seg->sealed)
		return 0;
	uint8_t *idx, *tidx;
	size_t idx_len, tidx_len;
	char path[FILE_PATH_MAX];
	int rc = index_encode(seg, &idx, &idx_len, &tidx, &tidx_len);
	if (rc)
		return rc;
	if (!(rc = file_path(log, path, sizeof path, seg->base_offset, ".index")))
		rc = port_write_file_atomic(path, idx, idx_len);
	if (!rc && !(rc = file_path(log, path, sizeof path, seg->base_offset, ".timeindex")))
		rc = port_write_file_atomic(path, tidx, tidx_len);
	free(idx);
	free(tidx);
	if (rc)
		log_error("write index of segment %lld: %s", (long long)seg->base_offset, err_str(rc));
	else
		seg->sealed = true;
	return rc;
}

static void file_remove(struct log *log, struct log_segment *seg)
{
	static const char *const exts[] = {".log", ".index", ".timeindex"};
	char path[FILE_PATH_MAX];
	for (size_t i = 0; i < sizeof exts / sizeof exts[0]; i++)
		if (!file_path(log, path, sizeof path, seg->base_offset, exts[i]))
			unlink(path);
}

static void file_free(struct log_segment *seg)
{
	if (seg->fd >= 0)
		close(seg->fd);
	seg->fd = -1;
}

static void file_span(const struct log_segment *seg, int64_t pos, size_t len, struct log_span *out)
{
	out->fd = seg->fd;
	out->file_pos = pos;
	out->ptr = NULL;
	out->len = len;
}

/* Offsets of the <offset>.snapshot files in the directory, ascending; *count <= cap. */
static int list_snapshots(const struct log *log, int64_t *offs, size_t cap, size_t *count)
{
	*count = 0;
	DIR *d = opendir(log->dir);
	if (!d)
		return ERR_IO;
	struct dirent *de;
	while ((de = readdir(d))) {
		int64_t off;
		if (file_name_parse(de->d_name, ".snapshot", &off) && *count < cap)
			offs[(*count)++] = off;
	}
	closedir(d);
	for (size_t i = 1; i < *count; i++) /* insertion sort: a handful of files */
		for (size_t j = i; j > 0 && offs[j - 1] > offs[j]; j--) {
			int64_t t = offs[j];
			offs[j] = offs[j - 1];
			offs[j - 1] = t;
		}
	return 0;
}

static void remove_snapshot(const struct log *log, int64_t off)
{
	char path[FILE_PATH_MAX];
	if (!file_path(log, path, sizeof path, off, ".snapshot"))
		unlink(path);
}

static int file_snapshot_save(struct log *log, int64_t offset)
{
	size_t cap = producer_state_encode_size(&log->producers), len;
	uint8_t *buf = malloc(cap);
	char path[FILE_PATH_MAX];
	if (!buf)
		return ERR_NOMEM;
	int rc = producer_state_encode(&log->producers, buf, cap, &len);
	if (!rc && !(rc = file_path(log, path, sizeof path, offset, ".snapshot")))
		rc = port_write_file_atomic(path, buf, len);
	free(buf);
	if (rc)
		return rc;
	int64_t offs[FILE_SNAPSHOTS_SCAN];
	size_t n;
	if (!list_snapshots(log, offs, FILE_SNAPSHOTS_SCAN, &n))
		for (size_t i = 0; i + FILE_SNAPSHOTS_KEPT < n; i++)
			remove_snapshot(log, offs[i]);
	return 0;
}

static int file_snapshot_load(struct log *log, int64_t max_offset, int64_t *offset)
{
	int64_t offs[FILE_SNAPSHOTS_SCAN];
	size_t n;
	producer_state_clear(&log->producers);
	int rc = list_snapshots(log, offs, FILE_SNAPSHOTS_SCAN, &n);
	if (rc)
		return rc;
	/* Bound the file by what producers_max entries can take. */
	size_t max = 64 + log->cfg.producers_max * (32 + PRODUCER_BATCHES_KEPT * 32);
	for (size_t i = n; i-- > 0;) {
		if (offs[i] > max_offset) {
			remove_snapshot(log, offs[i]); /* from a tail that no longer exists */
			continue;
		}
		char path[FILE_PATH_MAX];
		uint8_t *buf;
		size_t len;
		if ((rc = file_path(log, path, sizeof path, offs[i], ".snapshot")))
			return rc;
		rc = file_read_all(path, max, &buf, &len);
		if (!rc)
			rc = producer_state_decode(&log->producers, buf, len);
		free(buf);
		if (!rc) {
			*offset = offs[i];
			return 0;
		}
		log_warn("producer snapshot %s: %s; trying an older one", path, err_str(rc));
		remove_snapshot(log, offs[i]);
	}
	return ERR_NOT_FOUND;
}

static int file_start_offset_save(struct log *log)
{
	uint8_t buf[12];
	char path[FILE_PATH_MAX];
	struct wbuf w;
	wbuf_init(&w, buf, sizeof buf);
	wbuf_u64(&w, (uint64_t)log->start_offset);
	wbuf_u32(&w, crc32c(0, buf, 8));
	if (snprintf(path, sizeof path, "%s/%s", log->dir, FILE_START_OFFSET_NAME) >= (int)sizeof path)
		return ERR_INVAL;
	return port_write_file_atomic(path, buf, w.len);
}

int file_start_offset_load(const struct log *log, int64_t *out)
{
	char path[FILE_PATH_MAX];
	uint8_t *buf;
	size_t len;
	*out = 0;
	if (snprintf(path, sizeof path, "%s/%s", log->dir, FILE_START_OFFSET_NAME) >= (int)sizeof path)
		return ERR_INVAL;
	int rc = file_read_all(path, 12, &buf, &len);
	if (rc)
		return rc;
	if (len != 12 || crc32c(0, buf, 8) != be32_get(buf + 8))
		rc = ERR_CORRUPT;
	else
		*out = (int64_t)((uint64_t)be32_get(buf) << 32 | be32_get(buf + 4));
	free(buf);
	if (*out < 0)
		rc = ERR_CORRUPT, *out = 0;
	return rc;
}

static int file_epochs_save(struct log *log)
{
	char path[FILE_PATH_MAX];
	size_t cap = epoch_cache_encode_size(&log->epochs), len;
	char *buf = malloc(cap);
	if (!buf)
		return ERR_NOMEM;
	int rc = epoch_cache_encode(&log->epochs, buf, cap, &len);
	if (!rc && snprintf(path, sizeof path, "%s/%s", log->dir, FILE_EPOCH_NAME) >= (int)sizeof path)
		rc = ERR_INVAL;
	if (!rc)
		rc = port_write_file_atomic(path, buf, len);
	free(buf);
	return rc;
}

static int file_epochs_load(struct log *log)
{
	char path[FILE_PATH_MAX];
	uint8_t *buf;
	size_t len;
	epoch_cache_clear(&log->epochs);
	if (snprintf(path, sizeof path, "%s/%s", log->dir, FILE_EPOCH_NAME) >= (int)sizeof path)
		return ERR_INVAL;
	int rc = file_read_all(path, FILE_EPOCH_BYTES_MAX, &buf, &len);
	if (rc)
		return rc;
	rc = epoch_cache_decode(&log->epochs, (const char *)buf, len);
	free(buf);
	return rc;
}

static int file_close(struct log *log, bool clean)
{
	char path[FILE_PATH_MAX];
	if (!clean)
		return 0;
	if (snprintf(path, sizeof path, "%s/%s", log->dir, FILE_CLEAN_NAME) >= (int)sizeof path)
		return ERR_INVAL;
	return port_write_file_atomic(path, "", 0);
}

bool file_name_parse(const char *name, const char *ext, int64_t *offset)
{
	size_t ext_len = strlen(ext);
	if (strlen(name) != 20 + ext_len || strcmp(name + 20, ext) != 0)
		return false;
	int64_t v = 0;
	for (int i = 0; i < 20; i++) {
		if (name[i] < '0' || name[i] > '9' || v > (INT64_MAX - 9) / 10)
			return false;
		v = v * 10 + (name[i] - '0');
	}
	*offset = v;
	return true;
}

const struct log_backend file_backend = {
	.seg_create = file_create,
	.seg_write = file_write,
	.seg_read = file_read,
	.seg_truncate = file_truncate,
	.seg_sync = file_sync,
	.seg_seal = file_seal,
	.seg_remove = file_remove,
	.seg_free = file_free,
	.span = file_span,
	.snapshot_save = file_snapshot_save,
	.snapshot_load = file_snapshot_load,
	.start_offset_save = file_start_offset_save,
	.epochs_save = file_epochs_save,
	.epochs_load = file_epochs_load,
	.close = file_close,
};
