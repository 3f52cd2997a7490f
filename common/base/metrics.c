/* Prometheus text rendering of a fixed-capacity metrics registry. */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "base/log.h"
#include "base/metrics.h"

int metrics_init(struct metrics *m, size_t max)
{
	memset(m, 0, sizeof *m);
	m->items = calloc(max, sizeof *m->items);
	if (!m->items)
		return ERR_NOMEM;
	m->max = max;
	pthread_mutex_init(&m->lock, NULL);
	return 0;
}

void metrics_deinit(struct metrics *m)
{
	free(m->items);
	pthread_mutex_destroy(&m->lock);
	m->items = NULL;
	m->count = m->max = 0;
}

static struct metric *add(struct metrics *m, const char *name, const char *labels, const char *help,
			  enum metric_type type)
{
	labels = labels ? labels : "";
	pthread_mutex_lock(&m->lock);
	struct metric *x = NULL;
	for (size_t i = 0; i < m->count; i++)
		if (strcmp(m->items[i].name, name) == 0 && strcmp(m->items[i].labels, labels) == 0) {
			x = &m->items[i];
			goto out;
		}
	if (m->count == m->max || strlen(name) >= METRIC_NAME_MAX || strlen(labels) >= METRIC_LABELS_MAX) {
		log_warn("metrics: cannot register %s{%s} (registry full or name too long)", name, labels);
		x = &m->overflow;
		goto out;
	}
	x = &m->items[m->count++];
	strcpy(x->name, name);
	strcpy(x->labels, labels);
	x->help = help;
	x->type = type;
out:
	pthread_mutex_unlock(&m->lock);
	return x;
}

_Atomic int64_t *metrics_counter(struct metrics *m, const char *name, const char *labels, const char *help)
{
	return &add(m, name, labels, help, METRIC_COUNTER)->value;
}

_Atomic int64_t *metrics_gauge(struct metrics *m, const char *name, const char *labels, const char *help)
{
	return &add(m, name, labels, help, METRIC_GAUGE)->value;
}

void metrics_gauge_fn(struct metrics *m, const char *name, const char *labels, const char *help,
		      metric_read_fn *fn, void *ctx)
{
	struct metric *x = add(m, name, labels, help, METRIC_GAUGE);
	if (x == &m->overflow)
		return;
	x->read = fn;
	x->read_ctx = ctx;
}

struct metric_hist *metrics_histogram(struct metrics *m, const char *name, const char *labels, const char *help,
				      const double *bounds, uint32_t bound_count)
{
	struct metric *x = add(m, name, labels, help, METRIC_HISTOGRAM);
	if (bound_count > METRIC_BUCKETS_MAX)
		bound_count = METRIC_BUCKETS_MAX;
	if (x != &m->overflow && x->hist.bucket_count == 0) {
		memcpy(x->hist.bounds, bounds, bound_count * sizeof *bounds);
		x->hist.bucket_count = bound_count;
	}
	return &x->hist;
}

void metric_observe(struct metric_hist *h, double v)
{
	uint32_t i = 0;
	while (i < h->bucket_count && v > h->bounds[i])
		i++;
	atomic_fetch_add_explicit(&h->counts[i], 1, memory_order_relaxed);
	atomic_fetch_add_explicit(&h->sum_micro, (uint64_t)(v * 1e6), memory_order_relaxed);
}

static int by_name(const void *a, const void *b)
{
	const struct metric *x = *(struct metric *const *)a, *y = *(struct metric *const *)b;
	int c = strcmp(x->name, y->name);
	return c ? c : strcmp(x->labels, y->labels);
}

static int render_hist(struct dbuf *out, const struct metric *x)
{
	const struct metric_hist *h = &x->hist;
	const char *sep = x->labels[0] ? "," : "";
	uint64_t cum = 0;
	int rc = 0;
	for (uint32_t i = 0; i <= h->bucket_count && !rc; i++) {
		cum += atomic_load_explicit(&h->counts[i], memory_order_relaxed);
		if (i < h->bucket_count)
			rc = dbuf_printf(out, "%s_bucket{%s%sle=\"%g\"} %llu\n", x->name, x->labels, sep, h->bounds[i],
					 (unsigned long long)cum);
		else
			rc = dbuf_printf(out, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", x->name, x->labels, sep,
					 (unsigned long long)cum);
	}
	const char *lb = x->labels[0] ? "{" : "", *rb = x->labels[0] ? "}" : "";
	if (!rc)
		rc = dbuf_printf(out, "%s_sum%s%s%s %.6f\n%s_count%s%s%s %llu\n", x->name, lb, x->labels, rb,
				 (double)atomic_load(&h->sum_micro) / 1e6, x->name, lb, x->labels, rb,
				 (unsigned long long)cum);
	return rc;
}

int metrics_render(struct metrics *m, struct dbuf *out)
{
	static const char *const type_names[] = {"counter", "gauge", "histogram"};
	pthread_mutex_lock(&m->lock);
	int rc = 0;
	struct metric **order = malloc((m->count ? m->count : 1) * sizeof *order);
	if (!order) {
		rc = ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < m->count; i++)
		order[i] = &m->items[i];
	qsort(order, m->count, sizeof *order, by_name);
	for (size_t i = 0; i < m->count && !rc; i++) {
		const struct metric *x = order[i];
		if (i == 0 || strcmp(order[i - 1]->name, x->name) != 0)
			rc = dbuf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", x->name, x->help ? x->help : x->name,
					 x->name, type_names[x->type]);
		if (rc)
			break;
		if (x->type == METRIC_HISTOGRAM) {
			rc = render_hist(out, x);
			continue;
		}
		int64_t v = x->read ? x->read(x->read_ctx) : atomic_load_explicit(&x->value, memory_order_relaxed);
		if (x->labels[0])
			rc = dbuf_printf(out, "%s{%s} %lld\n", x->name, x->labels, (long long)v);
		else
			rc = dbuf_printf(out, "%s %lld\n", x->name, (long long)v);
	}
	free(order);
out:
	pthread_mutex_unlock(&m->lock);
	return rc;
}
