/* File backend internals shared by log_file.c and log_recover.c.  Not for use outside cloud/log/. */
#ifndef FERRY_CLOUD_LOG_FILE_H
#define FERRY_CLOUD_LOG_FILE_H

#include "cloud/log/log_internal.h"

#define FILE_PATH_MAX 4096
#define FILE_SNAPSHOTS_KEPT 2   /* producer snapshots kept after a save */
#define FILE_SNAPSHOTS_SCAN 64  /* snapshots considered when listing (more are left alone) */
#define FILE_SEGMENTS_MAX 1000000 /* segment files a partition directory may hold */
#define FILE_CLEAN_NAME ".clean-shutdown"
#define FILE_START_OFFSET_NAME "log-start-offset"
#define FILE_EPOCH_NAME "leader-epoch-checkpoint"
#define FILE_EPOCH_BYTES_MAX ((size_t)EPOCH_CACHE_MAX * 34 + 64)

extern const struct log_backend file_backend;

/* "<dir>/<20-digit offset><ext>". */
int file_path(const struct log *log, char *buf, size_t cap, int64_t offset, const char *ext);
/* True when name is exactly 20 digits followed by ext. */
bool file_name_parse(const char *name, const char *ext, int64_t *offset);
/* Whole file into a malloc'd buffer (caller frees): ERR_NOT_FOUND, ERR_TOO_LARGE past max, ERR_IO. */
int file_read_all(const char *path, size_t max, uint8_t **buf, size_t *len);
int file_start_offset_load(const struct log *log, int64_t *out);

#endif
