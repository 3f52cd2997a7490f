/* Log-linear histogram: values below HIST_SUB_BUCKETS map one to one; above, each power of two is split into
 * HIST_SUB_BUCKETS equal buckets. */
#include <string.h>

#include "base/hist.h"

static unsigned bucket_of(uint64_t v)
{
	if (v < HIST_SUB_BUCKETS)
		return (unsigned)v;
	unsigned msb = 63u - (unsigned)__builtin_clzll(v);
	unsigned shift = msb - HIST_SUB_BITS;
	unsigned sub = (unsigned)(v >> shift) & (HIST_SUB_BUCKETS - 1);
	return (shift + 1) * HIST_SUB_BUCKETS + sub;
}

static uint64_t bucket_top(unsigned b)
{
	if (b < HIST_SUB_BUCKETS)
		return b;
	unsigned shift = b / HIST_SUB_BUCKETS - 1;
	uint64_t base = (uint64_t)(HIST_SUB_BUCKETS + b % HIST_SUB_BUCKETS) << shift;
	return base + ((uint64_t)1 << shift) - 1;
}

void hist_init(struct hist *h)
{
	memset(h, 0, sizeof *h);
	h->min = UINT64_MAX;
}

void hist_record(struct hist *h, uint64_t v)
{
	h->counts[bucket_of(v)]++;
	h->total++;
	h->sum += (double)v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

void hist_merge(struct hist *into, const struct hist *from)
{
	for (unsigned i = 0; i < HIST_BUCKETS; i++)
		into->counts[i] += from->counts[i];
	into->total += from->total;
	into->sum += from->sum;
	if (from->min < into->min)
		into->min = from->min;
	if (from->max > into->max)
		into->max = from->max;
}

uint64_t hist_percentile(const struct hist *h, double p)
{
	if (!h->total)
		return 0;
	uint64_t rank = (uint64_t)(p / 100.0 * (double)h->total + 0.5);
	if (rank < 1)
		rank = 1;
	uint64_t seen = 0;
	for (unsigned i = 0; i < HIST_BUCKETS; i++) {
		seen += h->counts[i];
		if (seen >= rank) {
			uint64_t top = bucket_top(i);
			return top > h->max ? h->max : top;
		}
	}
	return h->max;
}

double hist_mean(const struct hist *h) { return h->total ? h->sum / (double)h->total : 0; }
