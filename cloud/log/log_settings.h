/* The partition log's configuration as config-file keys (base/config.h), for the broker's [log] section
 * (and per-topic overrides later).  Every bound lives in the key table; log_settings_apply() turns the
 * parsed values into a struct log_config and checks their relations.  In the file, 0 turns an age or
 * size limit off (Kafka writes -1). */
#ifndef FERRY_CLOUD_LOG_SETTINGS_H
#define FERRY_CLOUD_LOG_SETTINGS_H

#include <stdint.h>

#include "base/config.h"
#include "cloud/log/log.h"

struct log_settings {
	uint64_t segment_bytes;
	uint64_t segment_age_ms;     /* 0: never roll by age */
	uint64_t retention_bytes;    /* 0: no size limit */
	uint64_t retention_age_ms;   /* 0: keep forever */
	uint64_t index_interval_bytes;
	uint64_t batch_bytes_max;
	uint64_t producers_max;
	uint64_t producer_expiry_ms; /* 0: never */
	int flush;                   /* enum log_flush_policy: sync, interval, none */
	uint64_t flush_interval_ms;
	uint64_t flush_bytes;
};

/* Keys of struct log_settings, terminated by a NULL key; defaults are log_config_default()'s. */
extern const struct config_key log_settings_keys[];

/* 0, or ERR_CONFIG when the values contradict each other (see log_config_check). */
int log_settings_apply(const struct log_settings *s, struct log_config *cfg);

#endif
