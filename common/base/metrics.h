/* A metrics registry rendered as Prometheus text format (version 0.0.4).
 *
 * Registration hands back a pointer to a slot that stays valid for the registry's life, so hot paths update
 * a counter with one relaxed atomic add and never look anything up.  The registry has a fixed capacity;
 * registering past it logs once and returns a shared overflow slot rather than failing the caller. */
#ifndef FERRY_BASE_METRICS_H
#define FERRY_BASE_METRICS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "base/dbuf.h"

#define METRIC_NAME_MAX 64
#define METRIC_LABELS_MAX 192
#define METRIC_BUCKETS_MAX 16

enum metric_type { METRIC_COUNTER, METRIC_GAUGE, METRIC_HISTOGRAM };

typedef int64_t metric_read_fn(void *ctx);

struct metric_hist {
	uint32_t bucket_count;
	double bounds[METRIC_BUCKETS_MAX]; /* upper bounds ("le"), ascending, in the metric's unit */
	_Atomic uint64_t counts[METRIC_BUCKETS_MAX + 1]; /* last is +Inf */
	_Atomic uint64_t sum_micro; /* sum of observations x 1e6, so the sum can be fractional */
};

struct metric {
	char name[METRIC_NAME_MAX];
	char labels[METRIC_LABELS_MAX]; /* as rendered inside {}: `topic="a",partition="0"`; may be empty */
	const char *help;               /* static string */
	enum metric_type type;
	_Atomic int64_t value;
	metric_read_fn *read; /* gauges computed at scrape time */
	void *read_ctx;
	struct metric_hist hist;
};

struct metrics {
	struct metric *items; /* owned; capacity fixed at init so slot pointers stay valid */
	size_t count, max;
	struct metric overflow;
	pthread_mutex_t lock; /* registration and render; updates are lock-free */
};

int metrics_init(struct metrics *m, size_t max);
void metrics_deinit(struct metrics *m);

/* Register (or find, if name+labels exist) a counter or gauge; returns its value slot. */
_Atomic int64_t *metrics_counter(struct metrics *m, const char *name, const char *labels, const char *help);
_Atomic int64_t *metrics_gauge(struct metrics *m, const char *name, const char *labels, const char *help);
/* A gauge whose value is read at render time. */
void metrics_gauge_fn(struct metrics *m, const char *name, const char *labels, const char *help,
		      metric_read_fn *fn, void *ctx);
/* A histogram with the given upper bounds (at most METRIC_BUCKETS_MAX, ascending). */
struct metric_hist *metrics_histogram(struct metrics *m, const char *name, const char *labels, const char *help,
				      const double *bounds, uint32_t bound_count);

static inline void metric_add(_Atomic int64_t *slot, int64_t n) { atomic_fetch_add_explicit(slot, n, memory_order_relaxed); }
static inline void metric_set(_Atomic int64_t *slot, int64_t v) { atomic_store_explicit(slot, v, memory_order_relaxed); }
static inline int64_t metric_get(_Atomic int64_t *slot) { return atomic_load_explicit(slot, memory_order_relaxed); }
void metric_observe(struct metric_hist *h, double v);

/* Append the whole registry in Prometheus text format. 0 or the dbuf error. */
int metrics_render(struct metrics *m, struct dbuf *out);

#endif
