/* The uplink's loop side (uplink.h): connection, producer id, metadata, rounds, backoff, metrics. */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/fwd.h"
#include "agent/store.h"
#include "agent/uplink.h"
#include "agent/uplink_internal.h"
#include "agent/uplink_link.h"
#include "base/err.h"
#include "base/log.h"
#include "base/metrics.h"
#include "kafka/batch.h"
#include "kafka/codec.h"
#include "kafka/conn.h"
#include "kafka/metadata.h"
#include "port.h"

#define UP_IDLE_POLL_MS 200 /* with nothing new ingested, look at the buffer this often anyway */
#define UP_METADATA_MAX_AGE_MS 300000 /* metadata.max.age.ms: partition counts and leaders looked up again */
#define UP_EXPIRE_PERIOD_MS 1000 /* max_age enforced and the oldest age read this often, online or not */

enum up_state { UP_OFFLINE, UP_CONNECTING, UP_ONLINE };
enum up_link { UP_LINK_OFFLINE = 0, UP_LINK_ONLINE = 1, UP_LINK_DRAINING = 2 };

struct uplink {
	struct event_base *base;
	struct agent_config cfg_all; /* routes for the topic list */
	struct agent_uplink cfg;
	struct store *store;
	struct fwd *fwd;
	struct uplink_link link;
	struct kafka_conn *conn;
	enum up_state state;
	struct event *timer;
	int64_t producer_id;
	int16_t epoch;
	bool save_producer, renumber, need_metadata, busy;
	struct kafka_metadata_cache md;
	uint32_t topic_count;
	char topics[UP_TOPICS_MAX][AGENT_KAFKA_TOPIC_MAX];
	struct up_round *round; /* the round in flight (claim or Produce), NULL when idle */
	uint32_t ack_count;     /* acknowledged batches waiting to be deleted by the next claim */
	int64_t ack_ids[UP_BATCHES_MAX];
	uint64_t seen_ingested;
	uint64_t last_claim_ms;
	uint8_t *batch_buf, *scratch; /* building one batch at a time */
	size_t batch_cap;
	_Atomic int64_t *m_state, *m_acked, *m_batches, *m_requests, *m_errors, *m_resets, *m_oldest_ms, *m_wire_bytes,
		*m_connects;
	struct up_startup startup;
	struct event *expire_timer; /* max_age and the oldest row's age, once a second */
	struct up_expire *expire;   /* in flight when not NULL */
	struct event *sys_timer;    /* $SYS figures every sys_interval; NULL when 0 */
};

static void schedule(struct uplink *u, uint64_t ms) { uplink_link_timer_add(u->timer, ms); }

static void set_link(struct uplink *u, bool draining)
{
	metric_set(u->m_state, u->state != UP_ONLINE ? UP_LINK_OFFLINE : draining ? UP_LINK_DRAINING : UP_LINK_ONLINE);
}

static void disconnect(struct uplink *u, const char *why)
{
	if (u->conn) {
		struct kafka_conn *c = u->conn;
		u->conn = NULL;
		kafka_conn_free(c);
	}
	uint64_t wait = uplink_link_backoff_next_ms(&u->link);
	if (u->state != UP_OFFLINE)
		log_warn("uplink: %s:%u offline: %s (retry in %llu ms)", uplink_link_host(&u->link),
			 uplink_link_port(&u->link), why, (unsigned long long)wait);
	uplink_link_failed(&u->link); /* the next bootstrap broker, if there are several */
	u->state = UP_OFFLINE;
	set_link(u, false);
	if (!u->busy)
		schedule(u, wait);
}

static void next_round(struct uplink *u);

/* ---- producing a round --------------------------------------------------------------------------------- */

static void round_free(struct up_round *r)
{
	if (!r)
		return;
	free(r->records);
	dbuf_deinit(&r->data);
	free(r);
}

static bool producer_fatal(int16_t ec)
{
	return ec == KAFKA_EC_OUT_OF_ORDER_SEQUENCE_NUMBER || ec == KAFKA_EC_UNKNOWN_PRODUCER_ID ||
	       ec == KAFKA_EC_INVALID_PRODUCER_EPOCH;
}

static void on_produce(struct kafka_conn *c, int err, int16_t api_key, int16_t ver, const union kafka_any_response *resp,
		       void *arg)
{
	struct uplink *u = arg;
	struct up_round *r = u->round;
	(void)c, (void)api_key, (void)ver;
	u->round = NULL;
	u->busy = false;
	if (err) {
		metric_add(u->m_errors, 1);
		round_free(r);
		if (u->conn == c)
			disconnect(u, err_str(err));
		return;
	}
	for (int32_t t = 0; t < resp->produce.responses.count; t++) {
		const struct kafka_produce_response_topic_produce_response *tr = &resp->produce.responses.items[t];
		for (int32_t p = 0; p < tr->partition_responses.count; p++) {
			const struct kafka_produce_response_partition_produce_response *pr = &tr->partition_responses.items[p];
			for (uint32_t i = 0; i < r->batch_count; i++) {
				struct up_batch *b = &r->batches[i];
				if (b->partition == pr->index && strlen(r->topics[b->topic]) == (size_t)tr->name.len &&
				    memcmp(r->topics[b->topic], tr->name.p, (size_t)tr->name.len) == 0)
					b->error = pr->error_code;
			}
		}
	}
	bool retry = false;
	for (uint32_t i = 0; i < r->batch_count; i++) {
		struct up_batch *b = &r->batches[i];
		if (b->error == KAFKA_EC_NONE || b->error == KAFKA_EC_DUPLICATE_SEQUENCE_NUMBER) {
			if (u->ack_count < UP_BATCHES_MAX)
				u->ack_ids[u->ack_count++] = b->id;
			metric_add(u->m_batches, 1);
			continue;
		}
		retry = true;
		metric_add(u->m_errors, 1);
		log_warn("uplink: %s/%d: batch of %u records (sequence %d) refused: error %d", r->topics[b->topic],
			 b->partition, b->count, b->base_seq, b->error);
		if (producer_fatal(b->error)) {
			/* the broker lost or never had our producer state: new id, renumber what is unacknowledged */
			u->producer_id = -1;
			u->renumber = true;
		} else {
			u->need_metadata = true;
		}
	}
	round_free(r);
	uplink_link_backoff_reset(&u->link);
	if (retry)
		schedule(u, UPLINK_BACKOFF_MIN_MS);
	else
		next_round(u);
}

static int build_and_send(struct uplink *u, struct up_round *r)
{
	struct kafka_produce_request_partition_produce_data pd[UP_BATCHES_MAX];
	struct kafka_produce_request_topic_produce_data td[UP_TOPICS_MAX];
	size_t needed = 0;
	for (uint32_t i = 0; i < r->batch_count; i++) {
		struct up_batch *b = &r->batches[i];
		size_t raw = KAFKA_BATCH_HEADER_SIZE;
		for (uint32_t k = 0; k < b->count; k++) {
			const struct up_record *rec = &r->records[b->first + k];
			raw += 64 + (size_t)(rec->key_len > 0 ? rec->key_len : 0) + rec->value_len + rec->headers_len * 2;
		}
		needed += kafka_lz4_bound(raw) + raw;
	}
	uint8_t *out = malloc(needed ? needed : 1);
	size_t scratch_cap = needed;
	uint8_t *scratch = malloc(scratch_cap ? scratch_cap : 1);
	if (!out || !scratch) {
		free(out);
		free(scratch);
		return ERR_NOMEM;
	}
	size_t used = 0;
	uint32_t tcount = 0;
	int rc = 0;
	for (uint32_t i = 0; i < r->batch_count && !rc; i++) {
		struct up_batch *b = &r->batches[i];
		struct kafka_batch_builder bb;
		kafka_batch_builder_init(&bb, u->cfg.compression ? KAFKA_COMPRESSION_LZ4 : KAFKA_COMPRESSION_NONE,
					 out + used, needed - used, scratch, scratch_cap);
		bb.producer_id = r->producer_id;
		bb.producer_epoch = r->epoch;
		bb.base_sequence = b->base_seq;
		for (uint32_t k = 0; k < b->count && !rc; k++) {
			const struct up_record *rec = &r->records[b->first + k];
			struct kafka_record_header hdrs[FWD_HEADERS_MAX];
			size_t hcount = 0;
			struct fwd_header_iter it = {r->data.p + rec->headers_off, rec->headers_len};
			const uint8_t *hk, *hv;
			uint16_t hkl;
			int32_t hvl;
			while (hcount < FWD_HEADERS_MAX && fwd_header_next(&it, &hk, &hkl, &hv, &hvl) == 1) {
				hdrs[hcount].key = (struct kafka_str){(const char *)hk, hkl};
				hdrs[hcount++].value = (struct kafka_bytes){hv, hvl};
			}
			rc = kafka_batch_append(&bb, rec->ts, rec->key_len < 0 ? NULL : r->data.p + rec->key_off,
						rec->key_len, r->data.p + rec->value_off, (int32_t)rec->value_len, hdrs, hcount);
		}
		int n = rc ? rc : kafka_batch_finish(&bb);
		if (n < 0) {
			rc = n;
			break;
		}
		pd[i] = (struct kafka_produce_request_partition_produce_data){b->partition, {out + used, n}};
		used += (size_t)n;
		metric_add(u->m_wire_bytes, n);
	}
	if (rc) {
		log_error("uplink: building a batch: %s", err_str(rc));
		free(out);
		free(scratch);
		return rc;
	}
	/* group the partitions by topic: batches of one topic are adjacent after this pass */
	struct kafka_produce_request_partition_produce_data sorted[UP_BATCHES_MAX];
	uint32_t n = 0;
	for (uint32_t t = 0; t < r->topic_count; t++) {
		uint32_t first = n;
		for (uint32_t i = 0; i < r->batch_count; i++)
			if (r->batches[i].topic == t)
				sorted[n++] = pd[i];
		if (n > first)
			td[tcount++] = (struct kafka_produce_request_topic_produce_data){
				{r->topics[t], (int32_t)strlen(r->topics[t])}, {sorted + first, (int32_t)(n - first)}};
	}
	struct kafka_produce_request req;
	kafka_msg_init(&kafka_msg_produce_request, &req);
	req.acks = -1;
	req.timeout_ms = (int32_t)u->cfg.request_timeout_ms;
	req.topic_data.items = td;
	req.topic_data.count = (int32_t)tcount;
	rc = kafka_conn_send(u->conn, KAFKA_API_PRODUCE, &req, on_produce, u);
	free(out); /* encoded by kafka_conn_send */
	free(scratch);
	if (!rc)
		metric_add(u->m_requests, 1);
	return rc;
}

/* ---- rounds ---------------------------------------------------------------------------------------------- */

static void on_claimed(void *arg, int rc)
{
	struct uplink *u = arg;
	struct up_round *r = u->round;
	if (rc == 0)
		rc = r->rc;
	if (rc) {
		/* the deletes did not commit: they are still acknowledged, keep them for the next claim */
		u->round = NULL;
		u->busy = false;
		round_free(r);
		schedule(u, 1000);
		return;
	}
	u->ack_count = 0;
	u->save_producer = false;
	u->renumber = false;
	for (uint32_t i = 0; i < r->released_count; i++)
		fwd_release(u->fwd, r->released[i].route, r->released[i].bytes);
	metric_add(u->m_acked, (int64_t)r->acked_records);
	metric_set(u->m_oldest_ms, r->oldest_ts ? port_wall_ms() - r->oldest_ts : 0);
	if (!r->batch_count || u->state != UP_ONLINE) {
		u->round = NULL;
		u->busy = false;
		round_free(r);
		set_link(u, false);
		if (u->state == UP_ONLINE)
			schedule(u, u->cfg.linger_ms ? u->cfg.linger_ms : 1);
		else
			disconnect(u, "connection lost while claiming");
		return;
	}
	set_link(u, true);
	if ((rc = build_and_send(u, r)) != 0) {
		u->round = NULL;
		u->busy = false;
		round_free(r);
		disconnect(u, err_str(rc));
	}
}

static void next_round(struct uplink *u)
{
	if (u->busy || u->state != UP_ONLINE)
		return;
	struct up_round *r = calloc(1, sizeof *r);
	if (r)
		r->records = malloc(sizeof *r->records * UP_ROWS_MAX);
	if (!r || !r->records) {
		round_free(r);
		schedule(u, 1000);
		return;
	}
	dbuf_init(&r->data, (size_t)u->cfg.batch_bytes * 2 + (1u << 20));
	r->producer_id = u->producer_id;
	r->epoch = u->epoch;
	r->save_producer = u->save_producer;
	r->renumber = u->renumber;
	r->bytes_max = u->cfg.batch_bytes;
	r->topic_count = u->topic_count;
	for (uint32_t t = 0; t < u->topic_count; t++) {
		snprintf(r->topics[t], AGENT_KAFKA_TOPIC_MAX, "%s", u->topics[t]);
		const struct kafka_topic_info *ti = kafka_metadata_topic(&u->md, u->topics[t], strlen(u->topics[t]));
		r->partitions[t] = ti && ti->error_code == 0 ? ti->partition_count : 0;
	}
	r->ack_count = u->ack_count;
	memcpy(r->ack_ids, u->ack_ids, sizeof r->ack_ids[0] * u->ack_count);
	u->round = r;
	u->busy = true;
	u->seen_ingested = fwd_ingested(u->fwd);
	u->last_claim_ms = port_now_ms();
	int rc = store_call(u->store, uplink_claim, r, on_claimed, u);
	if (rc) {
		u->round = NULL;
		u->busy = false;
		round_free(r);
		schedule(u, 100);
	}
}

/* ---- connection, producer id, metadata ---------------------------------------------------------------- */

static void send_metadata(struct uplink *u);

static void on_metadata(struct kafka_conn *c, int err, int16_t api_key, int16_t ver, const union kafka_any_response *resp,
			void *arg)
{
	struct uplink *u = arg;
	(void)c, (void)api_key, (void)ver;
	u->busy = false;
	if (err) {
		if (u->conn == c)
			disconnect(u, err_str(err));
		return;
	}
	kafka_metadata_update(&u->md, &resp->metadata, port_now_ns());
	u->need_metadata = false;
	for (uint32_t t = 0; t < u->topic_count; t++) {
		const struct kafka_topic_info *ti = kafka_metadata_topic(&u->md, u->topics[t], strlen(u->topics[t]));
		if (!ti || ti->error_code || ti->partition_count <= 0)
			u->need_metadata = true; /* being created: ask again shortly */
	}
	next_round(u);
	if (u->need_metadata && !u->busy)
		schedule(u, 500);
}

static void send_metadata(struct uplink *u)
{
	struct kafka_metadata_request_topic topics[UP_TOPICS_MAX];
	struct kafka_metadata_request req;
	kafka_msg_init(&kafka_msg_metadata_request, &req);
	for (uint32_t t = 0; t < u->topic_count; t++) {
		KAFKA_INIT(kafka_metadata_request_topic, &topics[t]);
		topics[t].name = (struct kafka_str){u->topics[t], (int32_t)strlen(u->topics[t])};
	}
	req.topics.items = topics;
	req.topics.count = (int32_t)u->topic_count;
	req.allow_auto_topic_creation = true;
	u->busy = true;
	if (kafka_conn_send(u->conn, KAFKA_API_METADATA, &req, on_metadata, u)) {
		u->busy = false;
		disconnect(u, "Metadata not sent");
	}
}

static void on_init_pid(struct kafka_conn *c, int err, int16_t api_key, int16_t ver,
			const union kafka_any_response *resp, void *arg)
{
	struct uplink *u = arg;
	(void)c, (void)api_key, (void)ver;
	u->busy = false;
	if (err || resp->init_producer_id.error_code) {
		if (u->conn == c)
			disconnect(u, err ? err_str(err) : "InitProducerId refused");
		return;
	}
	bool reset = u->renumber;
	u->producer_id = resp->init_producer_id.producer_id;
	u->epoch = resp->init_producer_id.producer_epoch;
	u->save_producer = true;
	if (reset) {
		metric_add(u->m_resets, 1);
		log_warn("uplink: new producer id %lld: unacknowledged batches are renumbered and sent again; a batch the "
			 "cloud had stored before losing our producer state may now appear twice", (long long)u->producer_id);
	} else {
		log_info("uplink: producer id %lld epoch %d", (long long)u->producer_id, u->epoch);
	}
	send_metadata(u);
}

static void start_session(struct uplink *u)
{
	if (u->producer_id < 0) {
		struct kafka_init_producer_id_request req;
		kafka_msg_init(&kafka_msg_init_producer_id_request, &req);
		req.transactional_id.len = -1;
		req.transaction_timeout_ms = -1;
		req.producer_id = -1;
		req.producer_epoch = -1;
		u->busy = true;
		if (kafka_conn_send(u->conn, KAFKA_API_INIT_PRODUCER_ID, &req, on_init_pid, u)) {
			u->busy = false;
			disconnect(u, "InitProducerId not sent");
		}
		return;
	}
	send_metadata(u);
}

static void on_conn_event(struct kafka_conn *c, enum kafka_conn_event ev, int err, void *arg)
{
	struct uplink *u = arg;
	if (u->conn != c)
		return;
	if (ev == KAFKA_CONN_READY) {
		u->state = UP_ONLINE;
		uplink_link_backoff_reset(&u->link);
		metric_add(u->m_connects, 1);
		set_link(u, false);
		log_info("uplink: connected to %s:%u", uplink_link_host(&u->link), uplink_link_port(&u->link));
		start_session(u);
		return;
	}
	disconnect(u, err_str(err));
}

static void connect_now(struct uplink *u)
{
	struct kafka_conn_config kc = {0};
	char cid[AGENT_ID_MAX + 16];
	snprintf(cid, sizeof cid, "ferry-agent-%s", u->cfg.agent_id);
	kc.client_id = cid;
	kc.request_timeout_ms = (uint32_t)u->cfg.request_timeout_ms;
	uplink_link_conn_config(&u->link, &kc);
	u->conn = kafka_conn_new(u->base, &kc, on_conn_event, u);
	if (!u->conn) {
		disconnect(u, "out of memory");
		return;
	}
	u->state = UP_CONNECTING;
	if (kafka_conn_connect(u->conn, uplink_link_host(&u->link), uplink_link_port(&u->link)))
		disconnect(u, "connect failed");
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct uplink *u = arg;
	(void)fd, (void)what;
	if (u->busy)
		return;
	if (u->state == UP_OFFLINE) {
		connect_now(u);
		return;
	}
	if (u->state != UP_ONLINE)
		return;
	if (kafka_metadata_stale(&u->md, port_now_ns(), UP_METADATA_MAX_AGE_MS))
		u->need_metadata = true; /* periodic refresh, as Kafka clients do (a partition count may have grown) */
	if (u->need_metadata || u->producer_id < 0) {
		start_session(u);
		return;
	}
	/* work when something was ingested, acknowledgements wait to be deleted, or now and then regardless */
	if (fwd_ingested(u->fwd) != u->seen_ingested || u->ack_count || port_now_ms() - u->last_claim_ms >= UP_IDLE_POLL_MS)
		next_round(u);
	if (!u->busy)
		schedule(u, u->cfg.linger_ms ? u->cfg.linger_ms : 1);
}

static void on_expired(void *arg, int rc)
{
	struct uplink *u = arg;
	struct up_expire *e = u->expire;
	u->expire = NULL;
	for (uint32_t i = 0; rc == 0 && i < e->route_count; i++)
		if (e->routes[i].rows)
			fwd_expired(u->fwd, e->routes[i].route, e->routes[i].rows, e->routes[i].bytes);
	if (rc == 0)
		metric_set(u->m_oldest_ms, e->oldest_ts ? port_wall_ms() - e->oldest_ts : 0);
	free(e);
	struct timeval tv = {UP_EXPIRE_PERIOD_MS / 1000, (UP_EXPIRE_PERIOD_MS % 1000) * 1000};
	evtimer_add(u->expire_timer, &tv);
}

static void on_expire_timer(evutil_socket_t fd, short what, void *arg)
{
	struct uplink *u = arg;
	(void)fd, (void)what;
	struct up_expire *e = calloc(1, sizeof *e);
	if (e) {
		int64_t now = port_wall_ms();
		for (uint32_t i = 0; i < u->cfg_all.route_count; i++) {
			const struct agent_route *rt = &u->cfg_all.routes[i];
			if (!rt->max_age_ms)
				continue;
			struct up_expire_route *er = &e->routes[e->route_count++];
			snprintf(er->route, sizeof er->route, "%s", rt->name);
			er->cutoff_ms = now - (int64_t)rt->max_age_ms;
		}
		u->expire = e;
		if (store_call(u->store, uplink_expire, e, on_expired, u) == 0)
			return;
		u->expire = NULL;
		free(e);
	}
	struct timeval tv = {UP_EXPIRE_PERIOD_MS / 1000, (UP_EXPIRE_PERIOD_MS % 1000) * 1000};
	evtimer_add(u->expire_timer, &tv);
}

static void sys_schedule(struct uplink *u)
{
	uint64_t ms = u->cfg_all.sys_interval_ms;
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
	evtimer_add(u->sys_timer, &tv);
}

static void on_sys_timer(evutil_socket_t fd, short what, void *arg)
{
	struct uplink *u = arg;
	(void)fd, (void)what;
	fwd_sys_value(u->fwd, "$SYS/ferry/uplink/state", metric_get(u->m_state));
	fwd_sys_value(u->fwd, "$SYS/ferry/uplink/oldest_unacked_age_ms", metric_get(u->m_oldest_ms));
	fwd_sys_value(u->fwd, "$SYS/ferry/uplink/acked_records", metric_get(u->m_acked));
	fwd_sys_value(u->fwd, "$SYS/ferry/uplink/producer_resets", metric_get(u->m_resets));
	fwd_sys(u->fwd);
	sys_schedule(u);
}

static void on_startup(void *arg, int rc)
{
	struct uplink *u = arg;
	if (rc == 0) {
		u->producer_id = u->startup.producer_id;
		u->epoch = u->startup.epoch;
		for (uint32_t i = 0; i < u->startup.route_count; i++)
			fwd_account(u->fwd, u->startup.routes[i].route, u->startup.routes[i].bytes);
	}
	u->busy = false;
	if (u->expire_timer) {
		struct timeval tv = {0, 0};
		evtimer_add(u->expire_timer, &tv);
	}
	if (u->sys_timer)
		sys_schedule(u);
	connect_now(u);
}

int uplink_new(struct uplink **out, struct event_base *base, const struct agent_config *cfg, struct store *st,
	       struct fwd *fwd, struct metrics *metrics, char *err, size_t err_len)
{
	struct uplink *u = calloc(1, sizeof *u);
	if (!u)
		return snprintf(err, err_len, "uplink: out of memory"), ERR_NOMEM;
	u->base = base;
	u->cfg = cfg->uplink;
	u->cfg_all = *cfg;
	u->store = st;
	u->fwd = fwd;
	u->producer_id = -1;
	u->epoch = -1;
	int lrc = uplink_link_init(&u->link, &cfg->uplink, err, err_len);
	if (lrc) {
		uplink_free(u);
		return lrc;
	}
	for (uint32_t i = 0; i < cfg->route_count && u->topic_count < UP_TOPICS_MAX; i++) {
		bool seen = false;
		for (uint32_t t = 0; t < u->topic_count; t++)
			seen |= strcmp(u->topics[t], cfg->routes[i].topic) == 0;
		if (!seen)
			snprintf(u->topics[u->topic_count++], AGENT_KAFKA_TOPIC_MAX, "%s", cfg->routes[i].topic);
	}
	if (kafka_metadata_init(&u->md, 16, UP_TOPICS_MAX, 1024) || !(u->timer = evtimer_new(base, on_timer, u))) {
		uplink_free(u);
		return snprintf(err, err_len, "uplink: out of memory"), ERR_NOMEM;
	}
	if (!(u->expire_timer = evtimer_new(base, on_expire_timer, u))) {
		uplink_free(u);
		return snprintf(err, err_len, "uplink: out of memory"), ERR_NOMEM;
	}
	if (cfg->sys_interval_ms && !(u->sys_timer = evtimer_new(base, on_sys_timer, u))) {
		uplink_free(u);
		return snprintf(err, err_len, "uplink: out of memory"), ERR_NOMEM;
	}
	static _Atomic int64_t sink;
	_Atomic int64_t **slots[] = {&u->m_state, &u->m_acked, &u->m_batches, &u->m_requests, &u->m_errors,
				     &u->m_resets, &u->m_oldest_ms, &u->m_wire_bytes, &u->m_connects};
	for (size_t i = 0; i < sizeof slots / sizeof slots[0]; i++)
		*slots[i] = &sink;
	if (metrics) {
		u->m_state = metrics_gauge(metrics, "ferry_uplink_state", "", "Link: 0 offline, 1 online, 2 draining a backlog");
		u->m_acked = metrics_counter(metrics, "ferry_uplink_acked_records_total", "", "Records the cloud acknowledged (acks=all) and the buffer deleted");
		u->m_batches = metrics_counter(metrics, "ferry_uplink_batches_total", "", "Record batches acknowledged");
		u->m_requests = metrics_counter(metrics, "ferry_uplink_produce_requests_total", "", "Produce requests sent");
		u->m_errors = metrics_counter(metrics, "ferry_uplink_errors_total", "", "Produce requests or batches that failed (sent again)");
		u->m_resets = metrics_counter(metrics, "ferry_uplink_producer_resets_total", "", "New producer ids after the cloud lost our sequence state");
		u->m_oldest_ms = metrics_gauge(metrics, "ferry_uplink_oldest_unacked_age_ms", "", "Age of the oldest buffered message");
		u->m_wire_bytes = metrics_counter(metrics, "ferry_uplink_batch_bytes_total", "", "Record batch bytes sent (after compression)");
		u->m_connects = metrics_counter(metrics, "ferry_uplink_connects_total", "", "Connections established");
	}
	u->busy = true; /* until the startup read is back */
	int rc = store_call(st, uplink_startup, &u->startup, on_startup, u);
	if (rc) {
		uplink_free(u);
		return snprintf(err, err_len, "uplink: store: %s", err_str(rc)), rc;
	}
	*out = u;
	return 0;
}

void uplink_free(struct uplink *u)
{
	if (!u)
		return;
	if (u->conn)
		kafka_conn_free(u->conn);
	if (u->timer)
		event_free(u->timer);
	if (u->expire_timer)
		event_free(u->expire_timer);
	if (u->sys_timer)
		event_free(u->sys_timer);
	free(u->expire);
	round_free(u->round);
	kafka_metadata_deinit(&u->md);
	uplink_link_deinit(&u->link);
	free(u);
}
