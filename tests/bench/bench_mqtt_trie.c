/* Subscription trie and PUBLISH decode throughput.  Prints figures only (method in docs/mqtt-codec.md).
 *
 * Trie: 100,000 subscriptions over a sensor-like space site/<0..99>/dev/<0..999>/<metric>, a fixed mix of
 * exact filters (85%), '+' on the device (5%), '#' under a device (8%), '+' on the site (1.5%) and shared
 * subscriptions (0.5%); then random topics from the same space are matched.  The baseline is a linear scan of
 * every filter with a straightforward matcher, the cost a trie-less broker pays.  Times are process CPU
 * time. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "mqtt/codec.h"
#include "mqtt/retain.h"
#include "mqtt/trie.h"

/* Process CPU time, not wall time: the build machine is shared, and a core taken away by another job
 * should not count against us (cache interference still does). */
static uint64_t cpu_ns(void) { return (uint64_t)((double)clock() * 1e9 / CLOCKS_PER_SEC); }

#define SUBS 100000
#define TOPICS 1000000
#define LINEAR_TOPICS 200

static const char *const metrics[] = {"temp", "hum", "pres", "co2", "batt"};

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint32_t rnd(uint32_t n)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (uint32_t)(rng % n);
}

static int make_filter(char *f, size_t cap)
{
	uint32_t k = rnd(1000), s = rnd(100), d = rnd(1000);
	const char *m = metrics[rnd(5)];
	if (k < 850)
		return snprintf(f, cap, "site/%u/dev/%u/%s", s, d, m);
	if (k < 900)
		return snprintf(f, cap, "site/%u/dev/+/%s", s, m);
	if (k < 980)
		return snprintf(f, cap, "site/%u/dev/%u/#", s, d);
	if (k < 995)
		return snprintf(f, cap, "site/+/dev/%u/%s", d, m);
	return snprintf(f, cap, "$share/g%u/site/%u/#", rnd(4), s);
}

static int make_topic(char *t, size_t cap)
{
	return snprintf(t, cap, "site/%u/dev/%u/%s", rnd(100), rnd(1000), metrics[rnd(5)]);
}

static int count(void *ctx, const struct mqtt_trie_match *m)
{
	(void)m;
	++*(uint64_t *)ctx;
	return 0;
}

/* The obvious matcher, level by level (no '$' rule needed for this topic space). */
static bool naive(const char *f, const char *t)
{
	for (;;) {
		if (f[0] == '#')
			return true;
		if (f[0] == '+') {
			while (*t && *t != '/')
				t++;
			f++;
		} else {
			while (*f && *f != '/' && *f == *t)
				f++, t++;
			if ((*f && *f != '/') || (*t && *t != '/'))
				return false;
		}
		if (!*f && !*t)
			return true;
		if (!*f || !*t) {
			/* "a/#" matches "a" */
			return !*t && f[0] == '/' && f[1] == '#' && !f[2];
		}
		f++, t++;
	}
}

static void bench_trie(void)
{
	struct mqtt_trie *t = mqtt_trie_new(&mqtt_topic_limits_default);
	char (*filters)[48] = malloc(SUBS * sizeof *filters);
	uint64_t t0 = cpu_ns();
	size_t inserted = 0;
	for (uint32_t i = 0; i < SUBS; i++) {
		int n = make_filter(filters[i], sizeof filters[i]);
		uint32_t h;
		if (mqtt_trie_insert(t, (const uint8_t *)filters[i], (size_t)n, i, 1, 0, &h) == 0)
			inserted++;
	}
	uint64_t t1 = cpu_ns();
	struct mqtt_trie_stats st;
	mqtt_trie_stats(t, &st);
	printf("trie: %u subscriptions (%zu inserted, rest repeats), %u nodes, %u share groups, %.1f MiB arrays\n",
	       st.subs, inserted, st.nodes, st.groups, st.bytes / 1048576.0);
	printf("trie: insert %.0f ns/subscription\n", (double)(t1 - t0) / SUBS);

	char (*topics)[48] = malloc(4096 * sizeof *topics);
	size_t lens[4096];
	for (int i = 0; i < 4096; i++)
		lens[i] = (size_t)make_topic(topics[i], sizeof topics[i]);
	uint64_t hits = 0;
	t0 = cpu_ns();
	for (uint32_t i = 0; i < TOPICS; i++)
		mqtt_trie_match(t, (const uint8_t *)topics[i & 4095], lens[i & 4095], count, &hits);
	t1 = cpu_ns();
	double trie_s = (double)(t1 - t0) / 1e9;
	printf("trie: match %.2f M topics/s (%.0f ns/topic), %.2f matches per topic\n", TOPICS / trie_s / 1e6,
	       trie_s * 1e9 / TOPICS, (double)hits / TOPICS);

	uint64_t lin_hits = 0;
	t0 = cpu_ns();
	for (uint32_t i = 0; i < LINEAR_TOPICS; i++)
		for (uint32_t j = 0; j < SUBS; j++) {
			const char *f = filters[j];
			if (f[0] == '$') /* the shared ones: match on the part after "$share/<g>/" */
				f = strchr(f + 7, '/') + 1;
			lin_hits += naive(f, topics[i & 4095]);
		}
	t1 = cpu_ns();
	double lin_s = (double)(t1 - t0) / 1e9;
	printf("linear scan: %.0f topics/s (%.2f matches per topic, repeats counted); trie/linear = %.0fx\n",
	       LINEAR_TOPICS / lin_s, (double)lin_hits / LINEAR_TOPICS, (lin_s / LINEAR_TOPICS) / (trie_s / TOPICS));

	t0 = cpu_ns();
	mqtt_trie_free(t);
	t1 = cpu_ns();
	printf("trie: free %.1f ms\n", (double)(t1 - t0) / 1e6);
	free(topics);
	free(filters);
}

static int count_retained(void *ctx, uint64_t msg)
{
	(void)msg;
	++*(uint64_t *)ctx;
	return 0;
}

/* Retained index: every topic of the space (500,000) retained, then the filters a new subscriber sends. */
static void bench_retain(void)
{
	struct mqtt_retain *r = mqtt_retain_new(&mqtt_topic_limits_default);
	char t[64];
	uint64_t old, id = 1, t0 = cpu_ns();
	for (uint32_t s = 0; s < 100; s++)
		for (uint32_t d = 0; d < 1000; d++)
			for (uint32_t m = 0; m < 5; m++) {
				int n = snprintf(t, sizeof t, "site/%u/dev/%u/%s", s, d, metrics[m]);
				mqtt_retain_set(r, (const uint8_t *)t, (size_t)n, id++, &old);
			}
	uint64_t t1 = cpu_ns();
	printf("retained: %u topics, %u nodes, set %.0f ns/topic\n", mqtt_retain_count(r), mqtt_retain_nodes(r),
	       (double)(t1 - t0) / (id - 1));
	const char *filters[] = {"site/42/dev/815/temp", "site/42/dev/815/#", "site/42/dev/+/temp", "site/+/dev/815/+"};
	for (size_t k = 0; k < sizeof filters / sizeof filters[0]; k++) {
		uint64_t got = 0;
		uint32_t rounds = 20000;
		t0 = cpu_ns();
		for (uint32_t i = 0; i < rounds; i++)
			mqtt_retain_match(r, (const uint8_t *)filters[k], strlen(filters[k]), count_retained, &got);
		double us = (double)(cpu_ns() - t0) / 1e3 / rounds;
		printf("retained: match '%s': %llu messages in %.2f us\n", filters[k], (unsigned long long)(got / rounds), us);
	}
	/* The baseline: a broker that keeps retained messages in a plain map scans all of them per filter. */
	char (*all)[32] = malloc(500000 * sizeof *all);
	uint32_t n_all = 0;
	for (uint32_t s = 0; s < 100; s++)
		for (uint32_t d = 0; d < 1000; d++)
			for (uint32_t m = 0; m < 5; m++)
				snprintf(all[n_all++], sizeof all[0], "site/%u/dev/%u/%s", s, d, metrics[m]);
	uint64_t got = 0;
	t0 = cpu_ns();
	for (int i = 0; i < 5; i++)
		for (uint32_t k = 0; k < n_all; k++)
			got += naive("site/42/dev/+/temp", all[k]);
	printf("retained: scan of all topics for 'site/42/dev/+/temp': %llu messages in %.0f us\n",
	       (unsigned long long)(got / 5), (double)(cpu_ns() - t0) / 1e3 / 5);
	free(all);
	t0 = cpu_ns();
	mqtt_retain_free(r);
	printf("retained: free %.1f ms\n", (double)(cpu_ns() - t0) / 1e6);
}

static void bench_decode(uint8_t version, bool props)
{
	static const struct mqtt_user_prop up[] = {{{(const uint8_t *)"unit", 4}, {(const uint8_t *)"C", 1}}};
	uint8_t payload[64] = {0}, buf[256];
	struct mqtt_packet p = {.type = MQTT_PUBLISH};
	p.u.publish.qos = 1;
	p.u.publish.packet_id = 7;
	p.u.publish.topic = mqtt_cstr("site/42/dev/815/temp");
	p.u.publish.payload.ptr = payload;
	p.u.publish.payload.len = sizeof payload;
	if (props) {
		mqtt_prop_set_num(&p.u.publish.props, MQTT_PROP_MESSAGE_EXPIRY, 600);
		mqtt_prop_set_bytes(&p.u.publish.props, MQTT_PROP_CONTENT_TYPE, mqtt_cstr("application/json"));
		p.u.publish.props.user = up;
		p.u.publish.props.user_count = 1;
	}
	struct wbuf w;
	wbuf_init(&w, buf, sizeof buf);
	mqtt_encode(&w, &p, version);
	const uint32_t n = 10000000;
	uint64_t sum = 0, t0 = cpu_ns();
	for (uint32_t i = 0; i < n; i++) {
		struct mqtt_publish d;
		sum += (uint64_t)mqtt_decode_publish(buf, w.len, version, &d) + d.payload.len;
	}
	double s = (double)(cpu_ns() - t0) / 1e9;
	printf("decode PUBLISH %s%s (%zu bytes): %.1f M packets/s, %.0f MB/s (check %llu)\n",
	       version == MQTT_V5 ? "5.0" : "3.1.1", props ? " with 3 properties" : "", w.len, n / s / 1e6,
	       n * (double)w.len / s / 1e6, (unsigned long long)(sum & 0xff));
}

int main(void)
{
	bench_trie();
	bench_retain();
	bench_decode(MQTT_V311, false);
	bench_decode(MQTT_V5, false);
	bench_decode(MQTT_V5, true);
	return 0;
}
