/* Leader-epoch cache of one partition log: for each leader epoch, the first offset written in it (Kafka
 * LeaderEpochFileCache; KIP-101, KIP-279).  A follower asks the leader where its last epoch ended
 * (OffsetsForLeaderEpoch) and truncates there instead of trusting the high watermark.
 *
 * Pure: no I/O.  The log assigns on every append whose batch carries a newer epoch, trims it with the log,
 * and persists it with epoch_cache_encode() in Kafka's leader-epoch-checkpoint text layout:
 * "0\n<count>\n<epoch> <start offset>\n...". */
#ifndef FERRY_CLOUD_LOG_EPOCH_CACHE_H
#define FERRY_CLOUD_LOG_EPOCH_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EPOCH_CACHE_MAX 100000     /* epochs remembered per partition (oldest dropped past it) */
#define EPOCH_UNDEFINED (-1)
#define EPOCH_OFFSET_UNDEFINED (-1)

struct epoch_entry {
	int32_t epoch;
	int64_t start_offset;
};

struct epoch_cache {
	struct epoch_entry *entries; /* owned; epochs and start offsets strictly increase */
	size_t count, cap;
};

void epoch_cache_init(struct epoch_cache *c);
void epoch_cache_deinit(struct epoch_cache *c);
void epoch_cache_clear(struct epoch_cache *c);

/* A batch of epoch starting at offset was appended.  Returns 1 when this added an entry (persist it), 0 when
 * the epoch was known, ERR_NOMEM.  An epoch older than the latest is ignored (it cannot start later). */
int epoch_cache_assign(struct epoch_cache *c, int32_t epoch, int64_t offset);
/* The log was truncated to end_offset: forget epochs that start at or after it.  True when changed. */
bool epoch_cache_truncate_end(struct epoch_cache *c, int64_t end_offset);
/* The log start moved to start_offset: drop epochs wholly before it, and move the start of the one that
 * spans it (Kafka truncateFromStart).  True when changed. */
bool epoch_cache_truncate_start(struct epoch_cache *c, int64_t start_offset);

int32_t epoch_cache_latest(const struct epoch_cache *c); /* EPOCH_UNDEFINED when empty */

/* OffsetsForLeaderEpoch: the largest epoch <= requested and the offset where it ended (the start of the
 * next epoch, or log_end for the latest).  (EPOCH_UNDEFINED, EPOCH_OFFSET_UNDEFINED) when requested is
 * undefined or newer than every known epoch. */
void epoch_cache_end_offset(const struct epoch_cache *c, int32_t requested, int64_t log_end, int32_t *epoch_out,
			    int64_t *end_out);

/* Text checkpoint: encode_size() is an upper bound; decode is strict (ERR_MALFORMED, ERR_TOO_LARGE) and
 * leaves the cache empty on error. */
size_t epoch_cache_encode_size(const struct epoch_cache *c);
int epoch_cache_encode(const struct epoch_cache *c, char *buf, size_t cap, size_t *len_out);
int epoch_cache_decode(struct epoch_cache *c, const char *buf, size_t len);

#endif
