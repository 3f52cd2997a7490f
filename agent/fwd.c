/* Store and forward, ingest side (fwd.h). */
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/fwd.h"
#include "base/err.h"
#include "base/log.h"
#include "base/metrics.h"
#include "base/rw.h"
#include "mqtt/trie.h"
#include "port.h"

struct fwd_route {
	struct agent_route cfg;
	uint64_t bytes;                 /* buffered, as the loop knows it */
	_Atomic uint64_t evicted_bytes; /* freed by the writer thread when evicting */
	_Atomic int64_t *dropped, *evicted, *accepted, *refused, *expired;
};

struct fwd {
	struct agent_broker *ab;
	struct mqtt_trie *routes_trie; /* subscriber = route index + 1 */
	struct fwd_route routes[AGENT_ROUTES_MAX];
	uint32_t route_count;
	char agent_id[AGENT_ID_MAX];
	uint64_t ingested;
	struct dbuf scratch; /* key and headers of the message being routed */
};

/* One buffered record on its way to the writer thread: everything in one allocation. */
struct fwd_row {
	struct fwd_route *route;
	int64_t ts_ms;
	uint64_t evict_bytes; /* free this much of the route's oldest unsent rows first (policy evict) */
	uint32_t key_len;     /* UINT32_MAX: null key */
	uint32_t value_len, headers_len;
	uint8_t data[];       /* key, value, headers */
};

static void put_header(struct dbuf *d, const char *key, size_t key_len, const void *value, int32_t value_len)
{
	uint8_t hdr[6];
	hdr[0] = (uint8_t)(key_len >> 8);
	hdr[1] = (uint8_t)key_len;
	be32_put(hdr + 2, (uint32_t)value_len);
	dbuf_add(d, hdr, 2);
	dbuf_add(d, key, key_len);
	dbuf_add(d, hdr + 2, 4);
	if (value_len > 0)
		dbuf_add(d, value, (size_t)value_len);
}

int fwd_header_next(struct fwd_header_iter *it, const uint8_t **key, uint16_t *key_len, const uint8_t **value,
		    int32_t *value_len)
{
	if (!it->left)
		return 0;
	struct rbuf r;
	rbuf_init(&r, it->p, it->left);
	*key_len = rbuf_u16(&r);
	*key = rbuf_view(&r, *key_len);
	*value_len = rbuf_i32(&r);
	*value = *value_len > 0 ? rbuf_view(&r, (size_t)*value_len) : NULL;
	if (r.err || *value_len < -1)
		return ERR_MALFORMED;
	it->p += r.pos;
	it->left -= r.pos;
	return 1;
}

/* The Kafka headers of a message (DESIGN.md, "Unified topics"). */
static void build_headers(struct fwd *f, const struct mqtt_msg_view *v, struct dbuf *d)
{
	char qos[2] = {(char)('0' + v->qos), 0};
	put_header(d, "mqtt.topic", 10, v->topic.ptr, (int32_t)v->topic.len);
	put_header(d, "mqtt.qos", 8, qos, 1);
	if (v->retain)
		put_header(d, "mqtt.retain", 11, "1", 1);
	put_header(d, "ferry.agent", 11, f->agent_id, (int32_t)strlen(f->agent_id));
	if (!v->props.len)
		return;
	struct mqtt_props props = {0};
	props.raw = v->props.ptr;
	props.raw_len = v->props.len;
	struct mqtt_prop_iter it;
	struct mqtt_prop p;
	unsigned n = 4;
	mqtt_prop_iter_init(&it, &props);
	while (mqtt_prop_next(&it, &p) && n < FWD_HEADERS_MAX) {
		char num[12];
		switch (p.id) {
		case MQTT_PROP_USER:
			put_header(d, (const char *)p.a.ptr, p.a.len, p.b.ptr, (int32_t)p.b.len);
			break;
		case MQTT_PROP_CONTENT_TYPE:
			put_header(d, "mqtt.content_type", 17, p.a.ptr, (int32_t)p.a.len);
			break;
		case MQTT_PROP_RESPONSE_TOPIC:
			put_header(d, "mqtt.response_topic", 19, p.a.ptr, (int32_t)p.a.len);
			break;
		case MQTT_PROP_CORRELATION_DATA:
			put_header(d, "mqtt.correlation_data", 21, p.a.ptr, (int32_t)p.a.len);
			break;
		case MQTT_PROP_PAYLOAD_FORMAT:
			snprintf(num, sizeof num, "%u", p.num);
			put_header(d, "mqtt.payload_format", 19, num, (int32_t)strlen(num));
			break;
		default:
			continue;
		}
		n++;
	}
}

/* Expand the key template: {agent} and {topic}. */
static void build_key(struct fwd *f, const char *tmpl, const struct mqtt_msg_view *v, struct dbuf *d)
{
	for (const char *p = tmpl; *p;) {
		if (strncmp(p, "{agent}", 7) == 0) {
			dbuf_addstr(d, f->agent_id);
			p += 7;
		} else if (strncmp(p, "{topic}", 7) == 0) {
			dbuf_add(d, v->topic.ptr, v->topic.len);
			p += 7;
		} else {
			dbuf_add(d, p++, 1);
		}
	}
}

/* Writer thread: free evict_bytes of the route's oldest unsent rows, then insert the row.  Frees the row. */
static int insert_row(sqlite3 *db, void *arg)
{
	struct fwd_row *row = arg;
	struct fwd_route *rt = row->route;
	int rc = 0;
	sqlite3_stmt *st = NULL;
	if (row->evict_bytes) {
		uint64_t freed = 0;
		int64_t last = 0;
		rc = sqlite3_prepare_v2(db, "SELECT id, size FROM fwd_records WHERE route = ?1 AND batch IS NULL"
					    " ORDER BY id LIMIT 1024", -1, &st, NULL);
		if (rc == SQLITE_OK)
			sqlite3_bind_text(st, 1, rt->cfg.name, -1, SQLITE_STATIC);
		while (rc == SQLITE_OK && freed < row->evict_bytes && sqlite3_step(st) == SQLITE_ROW) {
			last = sqlite3_column_int64(st, 0);
			freed += (uint64_t)sqlite3_column_int64(st, 1);
			metric_add(rt->evicted, 1);
		}
		sqlite3_finalize(st);
		st = NULL;
		if (rc == SQLITE_OK && last) {
			char sql[160];
			snprintf(sql, sizeof sql, "DELETE FROM fwd_records WHERE route = ?1 AND batch IS NULL AND id <= %lld",
				 (long long)last);
			rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
			if (rc == SQLITE_OK) {
				sqlite3_bind_text(st, 1, rt->cfg.name, -1, SQLITE_STATIC);
				rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
			}
			sqlite3_finalize(st);
			st = NULL;
			atomic_fetch_add(&rt->evicted_bytes, freed);
		}
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_prepare_v2(db, "INSERT INTO fwd_records(route, topic, priority, ts, key, value, headers, size)"
					    " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		const uint8_t *p = row->data;
		uint32_t klen = row->key_len == UINT32_MAX ? 0 : row->key_len;
		sqlite3_bind_text(st, 1, rt->cfg.name, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, rt->cfg.topic, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, (int)rt->cfg.priority);
		sqlite3_bind_int64(st, 4, row->ts_ms);
		if (row->key_len == UINT32_MAX)
			sqlite3_bind_null(st, 5);
		else
			sqlite3_bind_blob(st, 5, p, (int)klen, SQLITE_STATIC);
		sqlite3_bind_blob(st, 6, p + klen, (int)row->value_len, SQLITE_STATIC);
		sqlite3_bind_blob(st, 7, p + klen + row->value_len, (int)row->headers_len, SQLITE_STATIC);
		sqlite3_bind_int64(st, 8, (int64_t)klen + row->value_len + row->headers_len);
		rc = sqlite3_step(st) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
	}
	if (rc != SQLITE_OK)
		log_error("fwd: buffering a message of route %s: %s", rt->cfg.name, sqlite3_errmsg(db));
	sqlite3_finalize(st);
	free(row);
	return rc == SQLITE_OK ? 0 : ERR_IO;
}

static uint64_t route_bytes(struct fwd_route *rt)
{
	uint64_t evicted = atomic_exchange(&rt->evicted_bytes, 0);
	rt->bytes = rt->bytes > evicted ? rt->bytes - evicted : 0;
	return rt->bytes;
}

struct route_hit {
	uint32_t idx[AGENT_ROUTES_MAX];
	uint32_t count;
};

static int collect(void *ctx, const struct mqtt_trie_match *m)
{
	struct route_hit *h = ctx;
	if (m->sub && h->count < AGENT_ROUTES_MAX)
		h->idx[h->count++] = (uint32_t)m->sub->subscriber - 1;
	return 0;
}

static bool qos_selected(const struct fwd_route *rt, const struct mqtt_msg_view *v)
{
	return (v->qos == 0 && rt->cfg.qos0) || (v->qos == 1 && rt->cfg.qos1) || (v->qos == 2 && rt->cfg.qos2);
}

/* Key then headers of v for rt into the scratch buffer; returns the row's size (key + value + headers). */
static uint64_t prepare(struct fwd *f, const struct fwd_route *rt, const struct mqtt_msg_view *v, size_t *key_len)
{
	struct dbuf *d = &f->scratch;
	dbuf_reset(d);
	build_key(f, rt->cfg.key, v, d);
	*key_len = d->len;
	build_headers(f, v, d);
	return d->len + v->payload.len;
}

/* Would rt refuse v (policy reject and full, or v alone over max_bytes)? */
static bool refuses(struct fwd_route *rt, uint64_t size)
{
	return route_bytes(rt) + size > rt->cfg.max_bytes && (rt->cfg.policy == AGENT_ROUTE_REJECT || size > rt->cfg.max_bytes);
}

static bool route_one(struct fwd *f, struct fwd_route *rt, const struct mqtt_msg_view *v)
{
	if (!qos_selected(rt, v))
		return false;
	struct dbuf *d = &f->scratch;
	bool null_key = rt->cfg.key[0] == '\0';
	size_t key_len;
	uint64_t size = prepare(f, rt, v, &key_len);
	size_t headers_len = d->len - key_len;
	uint64_t evict = 0;
	if (refuses(rt, size)) {
		/* 3.1.1 (or QoS 0): the device cannot be told; the message still reaches local subscribers */
		metric_add(rt->dropped, 1);
		log_warn("fwd: route %s is full (%llu bytes buffered): message on %.*s dropped", rt->cfg.name,
			 (unsigned long long)rt->bytes, (int)v->topic.len, (const char *)v->topic.ptr);
		return false;
	}
	if (route_bytes(rt) + size > rt->cfg.max_bytes)
		evict = route_bytes(rt) + size - rt->cfg.max_bytes;
	struct fwd_row *row = malloc(sizeof *row + key_len + v->payload.len + headers_len);
	if (!row || d->len != key_len + headers_len) { /* a dbuf append failed: out of memory */
		free(row);
		metric_add(rt->dropped, 1);
		log_error("fwd: out of memory routing a message of route %s", rt->cfg.name);
		return false;
	}
	row->route = rt;
	row->ts_ms = v->created_wall_ms ? v->created_wall_ms : port_wall_ms();
	row->evict_bytes = evict;
	row->key_len = null_key ? UINT32_MAX : (uint32_t)key_len;
	row->value_len = v->payload.len;
	row->headers_len = (uint32_t)headers_len;
	memcpy(row->data, d->p, key_len);
	if (v->payload.len)
		memcpy(row->data + key_len, v->payload.ptr, v->payload.len);
	memcpy(row->data + key_len + v->payload.len, d->p + key_len, headers_len);
	if (agent_broker_store_call(f->ab, insert_row, row) != 0) {
		free(row);
		metric_add(rt->dropped, 1);
		return false;
	}
	rt->bytes += size;
	f->ingested++;
	metric_add(rt->accepted, 1);
	return true;
}

int fwd_on_publish(void *arg, const struct mqtt_msg *msg, bool can_refuse)
{
	struct fwd *f = arg;
	struct mqtt_msg_view v;
	mqtt_msg_get(msg, &v);
	struct route_hit hit = {.count = 0};
	mqtt_trie_match(f->routes_trie, v.topic.ptr, v.topic.len, collect, &hit);
	if (can_refuse) {
		/* MQTT 5: a full reject route refuses the message as a whole before any route stores it, so the
		 * device's retry cannot duplicate it into the routes that had room (and local subscribers). */
		bool full = false;
		for (uint32_t i = 0; i < hit.count; i++) {
			struct fwd_route *rt = &f->routes[hit.idx[i]];
			size_t key_len;
			if (qos_selected(rt, &v) && refuses(rt, prepare(f, rt, &v, &key_len))) {
				metric_add(rt->dropped, 1);
				metric_add(rt->refused, 1);
				full = true;
			}
		}
		if (full)
			return MQTT_RC_QUOTA_EXCEEDED;
	}
	bool wait = false;
	for (uint32_t i = 0; i < hit.count; i++)
		wait |= route_one(f, &f->routes[hit.idx[i]], &v);
	return wait ? MQTT_PUBLISH_HOOK_WAIT : 0;
}

uint64_t fwd_ingested(const struct fwd *f) { return f->ingested; }

static struct fwd_route *find(struct fwd *f, const char *name)
{
	for (uint32_t i = 0; i < f->route_count; i++)
		if (strcmp(f->routes[i].cfg.name, name) == 0)
			return &f->routes[i];
	return NULL;
}

void fwd_release(struct fwd *f, const char *route_name, uint64_t bytes)
{
	struct fwd_route *rt = find(f, route_name);
	if (rt)
		rt->bytes = rt->bytes > bytes ? rt->bytes - bytes : 0;
}

void fwd_expired(struct fwd *f, const char *route_name, uint64_t count, uint64_t bytes)
{
	struct fwd_route *rt = find(f, route_name);
	if (!rt)
		return;
	rt->bytes = rt->bytes > bytes ? rt->bytes - bytes : 0;
	metric_add(rt->expired, (int64_t)count);
	log_warn("fwd: route %s: %llu buffered messages older than max_age dropped", route_name, (unsigned long long)count);
}

void fwd_sys_value(struct fwd *f, const char *topic, int64_t value)
{
	char payload[32];
	int n = snprintf(payload, sizeof payload, "%lld", (long long)value);
	mqtt_broker_publish(agent_broker_engine(f->ab), (struct mqtt_bytes){(const uint8_t *)topic, (uint32_t)strlen(topic)},
			    (struct mqtt_bytes){(const uint8_t *)payload, (uint32_t)n}, 0, true, port_now_ms());
}

void fwd_sys(struct fwd *f)
{
	static const char *const names[] = {"buffer_bytes", "buffered", "dropped", "refused", "evicted", "expired"};
	for (uint32_t i = 0; i < f->route_count; i++) {
		struct fwd_route *rt = &f->routes[i];
		int64_t v[] = {(int64_t)route_bytes(rt), metric_get(rt->accepted), metric_get(rt->dropped),
			       metric_get(rt->refused), metric_get(rt->evicted), metric_get(rt->expired)};
		for (size_t k = 0; k < sizeof v / sizeof v[0]; k++) {
			char topic[AGENT_ROUTE_NAME_MAX + 64];
			snprintf(topic, sizeof topic, "$SYS/ferry/routes/%s/%s", rt->cfg.name, names[k]);
			fwd_sys_value(f, topic, v[k]);
		}
	}
}

void fwd_account(struct fwd *f, const char *route_name, uint64_t bytes)
{
	struct fwd_route *rt = find(f, route_name);
	if (rt)
		rt->bytes += bytes;
}

static int64_t read_bytes(void *arg) { return (int64_t)route_bytes(arg); }

int fwd_new(struct fwd **out, const struct agent_config *cfg, struct agent_broker *ab, struct metrics *metrics,
	    char *err, size_t err_len)
{
	struct fwd *f = calloc(1, sizeof *f);
	struct mqtt_topic_limits lim = {cfg->limits.max_topic_length, cfg->limits.max_topic_levels};
	if (!f || !(f->routes_trie = mqtt_trie_new(&lim))) {
		free(f);
		return snprintf(err, err_len, "fwd: out of memory"), ERR_NOMEM;
	}
	f->ab = ab;
	snprintf(f->agent_id, sizeof f->agent_id, "%s", cfg->uplink.agent_id);
	dbuf_init(&f->scratch, (size_t)cfg->limits.max_packet_size + 65536);
	for (uint32_t i = 0; i < cfg->route_count; i++) {
		struct fwd_route *rt = &f->routes[f->route_count++];
		rt->cfg = cfg->routes[i];
		uint32_t handle;
		int rc = mqtt_trie_insert(f->routes_trie, (const uint8_t *)rt->cfg.filter, strlen(rt->cfg.filter), i + 1,
					  0, 0, &handle);
		if (rc < 0) {
			snprintf(err, err_len, "[route %s] filter '%s': %s", rt->cfg.name, rt->cfg.filter, err_str(rc));
			fwd_free(f);
			return ERR_CONFIG;
		}
		char labels[128];
		snprintf(labels, sizeof labels, "route=\"%s\"", rt->cfg.name);
		if (metrics) {
			rt->accepted = metrics_counter(metrics, "ferry_fwd_buffered_total", labels, "Messages written to the buffer");
			rt->dropped = metrics_counter(metrics, "ferry_fwd_dropped_total", labels,
						      "Messages a full route rejected (policy reject) or could not buffer");
			rt->evicted = metrics_counter(metrics, "ferry_fwd_evicted_total", labels,
						      "Buffered messages deleted unsent to make room (policy evict)");
			rt->refused = metrics_counter(metrics, "ferry_fwd_refused_total", labels,
						      "Of the dropped: MQTT 5 publishes refused with reason 0x97 (the device was told)");
			rt->expired = metrics_counter(metrics, "ferry_fwd_expired_total", labels,
						      "Buffered messages deleted unsent because they were older than max_age");
			metrics_gauge_fn(metrics, "ferry_fwd_buffer_bytes", labels, "Bytes buffered (key, value, headers)",
					 read_bytes, rt);
		} else {
			static _Atomic int64_t sink;
			rt->accepted = rt->dropped = rt->evicted = rt->refused = rt->expired = &sink;
		}
	}
	*out = f;
	return 0;
}

void fwd_free(struct fwd *f)
{
	if (!f)
		return;
	mqtt_trie_free(f->routes_trie);
	dbuf_deinit(&f->scratch);
	free(f);
}
