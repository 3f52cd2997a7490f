/* [log] config keys (see log_settings.h).  The defaults here must match log_config_default(); the unit
 * test checks that they do. */
#include "cloud/log/log_settings.h"

#include <stddef.h>

#include "base/err.h"

#define KEY(name, type, field, lo, hi, def, doc) \
	{name, type, offsetof(struct log_settings, field), 0, lo, hi, def, NULL, doc}

static const char *const flush_choices[] = {"sync", "interval", "none", NULL};

const struct config_key log_settings_keys[] = {
	KEY("segment_bytes", CFG_SIZE, segment_bytes, 64 * 1024, LOG_SEGMENT_BYTES_LIMIT, "1g",
	    "roll a segment before it would grow past this"),
	KEY("segment_age", CFG_DURATION, segment_age_ms, 0, 365ull * 86400000, "7d",
	    "roll a non-empty segment this long after its first append (0s: never)"),
	KEY("retention_bytes", CFG_SIZE, retention_bytes, 0, INT64_MAX, "0",
	    "delete oldest segments while a partition is larger (0: no limit)"),
	KEY("retention_age", CFG_DURATION, retention_age_ms, 0, 36500ull * 86400000, "7d",
	    "delete segments whose newest record is older (0s: keep forever)"),
	KEY("index_interval_bytes", CFG_SIZE, index_interval_bytes, LOG_INDEX_INTERVAL_MIN, 1 << 20, "4k",
	    "bytes of batches between sparse index entries"),
	KEY("batch_bytes_max", CFG_SIZE, batch_bytes_max, 1024, LOG_BATCH_BYTES_LIMIT, "1048588",
	    "largest record batch accepted (Kafka message.max.bytes); never lower it below stored batches"),
	KEY("producers_max", CFG_U64, producers_max, 1, LOG_PRODUCERS_LIMIT, "10000",
	    "idempotent producers tracked per partition (the longest idle is evicted past it)"),
	KEY("producer_expiry", CFG_DURATION, producer_expiry_ms, 0, 365ull * 86400000, "1d",
	    "forget a producer idle this long (0s: never)"),
	{"flush", CFG_ENUM, offsetof(struct log_settings, flush), 0, 0, 0, "sync", flush_choices,
	 "sync: acks wait for a group-commit fsync; interval: fsync by time/bytes; none: only at roll"},
	KEY("flush_interval", CFG_DURATION, flush_interval_ms, 1, 3600000, "1s",
	    "flush = interval: fsync at least this often"),
	KEY("flush_bytes", CFG_SIZE, flush_bytes, 4096, 1ull << 40, "64m",
	    "flush = interval: fsync after this many unflushed bytes"),
	{0},
};

static int64_t off_if_zero(uint64_t v) { return v ? (int64_t)v : -1; }

int log_settings_apply(const struct log_settings *s, struct log_config *cfg)
{
	log_config_default(cfg);
	cfg->segment_bytes = (size_t)s->segment_bytes;
	cfg->segment_ms = off_if_zero(s->segment_age_ms);
	cfg->retention_bytes = off_if_zero(s->retention_bytes);
	cfg->retention_ms = off_if_zero(s->retention_age_ms);
	cfg->index_interval_bytes = (size_t)s->index_interval_bytes;
	cfg->batch_bytes_max = (size_t)s->batch_bytes_max;
	cfg->producers_max = (size_t)s->producers_max;
	cfg->producer_expiry_ms = off_if_zero(s->producer_expiry_ms);
	cfg->flush_policy = (enum log_flush_policy)s->flush;
	cfg->flush_interval_ms = (int64_t)s->flush_interval_ms;
	cfg->flush_bytes = (size_t)s->flush_bytes;
	return log_config_check(cfg);
}
