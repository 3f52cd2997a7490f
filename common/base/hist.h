/* Latency histogram for benchmarks and /metrics summaries: log-linear buckets (HDR-style) over uint64 values,
 * relative error under 1/HIST_SUB_BUCKETS (about 3%), fixed size (no allocation), percentiles exact to the
 * bucket.  Values are in whatever unit the caller records (ns, us). */
#ifndef FERRY_BASE_HIST_H
#define FERRY_BASE_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 5
#define HIST_SUB_BUCKETS (1u << HIST_SUB_BITS)
#define HIST_BUCKETS ((64 - HIST_SUB_BITS + 1) * HIST_SUB_BUCKETS)

struct hist {
	uint64_t counts[HIST_BUCKETS];
	uint64_t total;
	uint64_t min, max;
	double sum;
};

void hist_init(struct hist *h);
void hist_record(struct hist *h, uint64_t v);
void hist_merge(struct hist *into, const struct hist *from);
/* The value at percentile p (0..100): the upper edge of the bucket holding it, clamped to max; 0 if empty. */
uint64_t hist_percentile(const struct hist *h, double p);
double hist_mean(const struct hist *h);

#endif
