/* libFuzzer: topic validation and the subscription trie against a naive matcher written here.  Input: the
 * first line is a topic, every further line a subscription (possibly "$share/<group>/<filter>"); line i
 * belongs to subscriber i.  The trie's matches (with share groups expanded to their members) must equal the
 * set of valid subscriptions the naive matcher accepts, before and after removing every other one.  Then
 * every line that is a valid topic name is retained, and every plain filter line must find exactly the
 * retained topics the naive matcher accepts. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "mqtt/retain.h"
#include "mqtt/trie.h"

#define LINES_MAX 64
#define LEVELS_MAX 16

static const struct mqtt_topic_limits lim = {.len_max = 200, .levels_max = LEVELS_MAX};

struct level {
	const uint8_t *p;
	size_t n;
};

static size_t split(const uint8_t *s, size_t len, struct level *out, size_t max)
{
	size_t k = 0, start = 0;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '/') {
			if (k == max)
				return max + 1;
			out[k].p = s + start;
			out[k].n = i - start;
			k++;
			start = i + 1;
		}
	}
	return k;
}

static bool is(struct level l, char c) { return l.n == 1 && l.p[0] == c; }

static bool naive(struct mqtt_bytes f, const uint8_t *t, size_t tl)
{
	struct level F[LEVELS_MAX + 1], T[201];
	size_t nf = split(f.ptr, f.len, F, LEVELS_MAX), nt = split(t, tl, T, 200);
	if (t[0] == '$' && (is(F[0], '+') || is(F[0], '#')))
		return false;
	for (size_t i = 0; i < nf; i++) {
		if (is(F[i], '#'))
			return true;
		if (i >= nt)
			return false;
		if (is(F[i], '+'))
			continue;
		if (F[i].n != T[i].n || memcmp(F[i].p, T[i].p, F[i].n) != 0)
			return false;
	}
	return nf == nt;
}

struct got {
	uint64_t v[LINES_MAX * 2];
	size_t n;
	struct mqtt_trie *t;
};

static int collect(void *ctx, const struct mqtt_trie_match *m)
{
	struct got *g = ctx;
	if (m->sub) {
		g->v[g->n++] = m->sub->subscriber;
		return 0;
	}
	for (uint32_t i = 0, s; (s = mqtt_trie_group_member(g->t, m->group, i)); i++)
		g->v[g->n++] = mqtt_trie_get(g->t, s)->subscriber;
	return 0;
}

static int cmp(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void check(struct mqtt_trie *t, const uint8_t *topic, size_t tl, const struct mqtt_bytes *subs,
		  const bool *live, size_t n)
{
	struct got g = {.t = t};
	uint64_t want[LINES_MAX];
	size_t nw = 0;
	for (size_t i = 0; i < n; i++) {
		struct mqtt_share sh;
		if (live[i] && mqtt_subscription_parse(subs[i].ptr, subs[i].len, &lim, &sh) >= 0 &&
		    naive(sh.filter, topic, tl))
			want[nw++] = i;
	}
	mqtt_trie_match(t, topic, tl, collect, &g);
	qsort(g.v, g.n, sizeof g.v[0], cmp);
	if (g.n != nw)
		abort();
	for (size_t i = 0; i < nw; i++)
		if (g.v[i] != want[i])
			abort();
}

struct rgot {
	uint64_t v[LINES_MAX + 1];
	size_t n;
};

static int rcollect(void *ctx, uint64_t msg)
{
	struct rgot *g = ctx;
	if (g->n > LINES_MAX)
		abort();
	g->v[g->n++] = msg;
	return 0;
}

static void check_retain(const struct mqtt_bytes *lines, size_t n)
{
	struct mqtt_retain *r = mqtt_retain_new(&lim);
	if (!r)
		return;
	bool stored[LINES_MAX + 1] = {false};
	for (size_t i = 0; i < n; i++) {
		uint64_t old;
		int want = mqtt_topic_name_check(lines[i].ptr, lines[i].len, &lim);
		if (mqtt_retain_set(r, lines[i].ptr, lines[i].len, i + 1, &old) != want)
			abort();
		if (want)
			continue;
		if (old) /* the same topic again: the new message replaces the old one */
			stored[old - 1] = false;
		stored[i] = true;
	}
	for (size_t j = 0; j < n; j++) {
		struct mqtt_share sh;
		if (mqtt_subscription_parse(lines[j].ptr, lines[j].len, &lim, &sh) != 0)
			continue;
		struct rgot g = {.n = 0};
		mqtt_retain_match(r, lines[j].ptr, lines[j].len, rcollect, &g);
		size_t want = 0;
		for (size_t i = 0; i < n; i++)
			want += stored[i] && naive(lines[j], lines[i].ptr, lines[i].len);
		if (g.n != want)
			abort();
		for (size_t k = 0; k < g.n; k++)
			if (!stored[g.v[k] - 1] || !naive(lines[j], lines[g.v[k] - 1].ptr, lines[g.v[k] - 1].len))
				abort();
	}
	for (size_t i = 0; i < n; i++) {
		uint64_t old;
		if (stored[i])
			mqtt_retain_set(r, lines[i].ptr, lines[i].len, 0, &old);
	}
	if (mqtt_retain_count(r) != 0 || mqtt_retain_nodes(r) != 1)
		abort();
	mqtt_retain_free(r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mqtt_bytes lines[LINES_MAX + 1];
	size_t n = 0, start = 0;
	for (size_t i = 0; i <= size && n <= LINES_MAX; i++) {
		if (i == size || data[i] == '\n') {
			lines[n].ptr = data + start;
			lines[n].len = (uint32_t)(i - start);
			n++;
			start = i + 1;
		}
	}
	check_retain(lines, n);
	const uint8_t *topic = lines[0].ptr;
	size_t tl = lines[0].len;
	if (mqtt_topic_name_check(topic, tl, NULL) != 0)
		return 0;
	struct mqtt_trie *t = mqtt_trie_new(&lim);
	if (!t)
		return 0;
	const struct mqtt_bytes *subs = lines + 1;
	size_t ns = n - 1;
	uint32_t handle[LINES_MAX];
	bool live[LINES_MAX] = {false};
	for (size_t i = 0; i < ns; i++) {
		struct mqtt_share sh;
		int want = mqtt_subscription_parse(subs[i].ptr, subs[i].len, &lim, &sh);
		int rc = mqtt_trie_insert(t, subs[i].ptr, subs[i].len, i, 0, 0, &handle[i]);
		if ((want < 0) != (rc < 0) || (rc < 0 && rc != want))
			abort();
		live[i] = rc == 0;
		if (rc == 1)
			abort(); /* distinct subscribers never replace each other */
	}
	check(t, topic, tl, subs, live, ns);
	for (size_t i = 0; i < ns; i += 2) {
		if (live[i]) {
			mqtt_trie_remove(t, handle[i]);
			live[i] = false;
		}
	}
	check(t, topic, tl, subs, live, ns);
	for (size_t i = 1; i < ns; i += 2)
		if (live[i])
			mqtt_trie_remove(t, handle[i]);
	struct mqtt_trie_stats st;
	mqtt_trie_stats(t, &st);
	if (st.subs != 0 || st.nodes != 1 || st.groups != 0)
		abort(); /* everything pruned */
	mqtt_trie_free(t);
	return 0;
}
