/* The downlink consumer (downlink.h): Metadata -> OffsetFetch -> ListOffsets (partitions without a commit)
 * -> { Fetch -> publish locally -> OffsetCommit } forever, one request at a time on one connection.  It must
 * never commit an offset before the records below it were handed to the local broker (at least once). */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/broker/agent_broker.h"
#include "agent/downlink.h"
#include "agent/uplink_link.h"
#include "base/err.h"
#include "base/log.h"
#include "base/metrics.h"
#include "kafka/batch.h"
#include "kafka/codec.h"
#include "kafka/conn.h"
#include "mqtt/broker/broker.h"
#include "port.h"

#define DL_FETCH_BYTES_MAX (16 << 20)
#define DL_PARTITION_BYTES_MAX (1 << 20)
#define DL_TOPIC_MAX 1024 /* local topics built from the template */
/* The Fetch and OffsetFetch layouts we fill name topics (Fetch v13+ names them by id, OffsetFetch v8+ by group). */
#define DL_FETCH_VERSION_MAX 12
#define DL_OFFSET_FETCH_VERSION_MAX 7
/* ListOffsets v3 carries all we use; librdkafka's mock cluster answers v4+ in a layout our decoder refuses. */
#define DL_LIST_OFFSETS_VERSION_MAX 3

enum dl_step { DL_OFFLINE, DL_CONNECTING, DL_METADATA, DL_OFFSETS, DL_LIST, DL_RUN };

struct dl_partition {
	int64_t pos;       /* next offset to read; -1: unknown (ListOffsets) */
	int64_t committed; /* what the cloud has; -1: nothing */
};

struct downlink {
	struct event_base *base;
	struct agent_broker *ab;
	struct agent_downlink cfg;
	char agent_id[AGENT_ID_MAX];
	char group[AGENT_KAFKA_TOPIC_MAX + AGENT_ID_MAX];
	struct uplink_link link;
	uint32_t timeout_ms;
	struct kafka_conn *conn;
	struct event *timer;
	enum dl_step step;
	bool busy;
	int32_t partition_count;
	struct dl_partition parts[DOWNLINK_PARTITIONS_MAX];
	uint8_t *inflated; /* DOWNLINK_BATCH_INFLATED_MAX */
	_Atomic int64_t *m_state, *m_delivered, *m_skipped, *m_invalid, *m_commits, *m_errors;
};

static void advance(struct downlink *d);

static void schedule(struct downlink *d, uint64_t ms) { uplink_link_timer_add(d->timer, ms); }

static void disconnect(struct downlink *d, const char *why)
{
	if (d->conn) {
		struct kafka_conn *c = d->conn;
		d->conn = NULL;
		kafka_conn_free(c);
	}
	uint64_t wait = uplink_link_backoff_next_ms(&d->link);
	if (d->step != DL_OFFLINE)
		log_warn("downlink: %s:%u offline: %s (retry in %llu ms)", uplink_link_host(&d->link),
			 uplink_link_port(&d->link), why, (unsigned long long)wait);
	uplink_link_failed(&d->link);
	d->step = DL_OFFLINE;
	d->busy = false;
	metric_set(d->m_state, 0);
	schedule(d, wait);
}

/* A request failed without closing the connection: go back to Metadata after a pause. */
static void retry_later(struct downlink *d, const char *why, int16_t ec)
{
	metric_add(d->m_errors, 1);
	log_warn("downlink: %s: error %d, retrying", why, ec);
	d->busy = false;
	d->step = DL_METADATA;
	schedule(d, 500);
}

static int send_capped(struct downlink *d, int16_t api, int16_t cap, const void *req, kafka_response_cb cb)
{
	int16_t v = kafka_conn_version(d->conn, api);
	if (v < 0)
		return ERR_KAFKA_UNSUPPORTED_VERSION;
	d->busy = true;
	int rc = kafka_conn_send_version(d->conn, api, cap >= 0 && v > cap ? cap : v, req, cb, d);
	if (rc)
		d->busy = false;
	return rc;
}

static bool answer_ok(struct downlink *d, struct kafka_conn *c, int err, int16_t api_key, int16_t ver)
{
	d->busy = false;
	if (!err)
		return true;
	if (d->conn == c) {
		char why[96];
		snprintf(why, sizeof why, "%s (API %d v%d)", err_str(err), api_key, ver);
		disconnect(d, why);
	}
	return false;
}

/* ---- addressing ----------------------------------------------------------------------------------------- */

int downlink_route(const char *agent_id, const char *tmpl, const uint8_t *key, int32_t key_len,
		   const uint8_t *hdr_topic, int32_t hdr_topic_len, const uint8_t *hdr_agent, int32_t hdr_agent_len,
		   char *out, size_t out_len)
{
	size_t id_len = strlen(agent_id);
	const uint8_t *rest = key;
	size_t rest_len = key_len > 0 ? (size_t)key_len : 0;
	bool for_us = false;
	if (key_len > (int32_t)id_len && memcmp(key, agent_id, id_len) == 0 && key[id_len] == '/') {
		for_us = true;
		rest = key + id_len + 1;
		rest_len = (size_t)key_len - id_len - 1;
	}
	if (hdr_agent_len >= 0 && (size_t)hdr_agent_len == id_len && memcmp(hdr_agent, agent_id, id_len) == 0)
		for_us = true;
	if (!for_us)
		return 0;
	if (hdr_topic_len >= 0) {
		if ((size_t)hdr_topic_len >= out_len)
			return ERR_TOO_LARGE;
		memcpy(out, hdr_topic, (size_t)hdr_topic_len);
		out[hdr_topic_len] = '\0';
		return 1;
	}
	size_t n = 0;
	for (const char *p = tmpl; *p;) {
		const char *piece = p;
		size_t piece_len = 1;
		if (strncmp(p, "{key}", 5) == 0) {
			piece = (const char *)rest, piece_len = rest_len, p += 5;
		} else if (strncmp(p, "{agent}", 7) == 0) {
			piece = agent_id, piece_len = id_len, p += 7;
		} else {
			p++;
		}
		if (n + piece_len >= out_len)
			return ERR_TOO_LARGE;
		memcpy(out + n, piece, piece_len);
		n += piece_len;
	}
	out[n] = '\0';
	return 1;
}

/* ---- delivering a Fetch answer -------------------------------------------------------------------------- */

static void deliver_record(struct downlink *d, const struct kafka_record *rec)
{
	struct kafka_header_iter hi;
	struct kafka_record_header h;
	const uint8_t *ht = NULL, *ha = NULL;
	int32_t ht_len = -1, ha_len = -1;
	kafka_header_iter_init(&hi, rec);
	while (kafka_record_header_next(&hi, &h) == 1) {
		if (h.key.len == 10 && memcmp(h.key.p, "mqtt.topic", 10) == 0 && h.value.len >= 0)
			ht = h.value.p, ht_len = h.value.len;
		else if (h.key.len == 11 && memcmp(h.key.p, "ferry.agent", 11) == 0 && h.value.len >= 0)
			ha = h.value.p, ha_len = h.value.len;
	}
	char topic[DL_TOPIC_MAX];
	int rc = downlink_route(d->agent_id, d->cfg.mqtt_topic, rec->key.p, rec->key.len, ht, ht_len, ha, ha_len, topic,
				sizeof topic);
	if (rc == 0) {
		metric_add(d->m_skipped, 1);
		return;
	}
	if (rc == 1) {
		struct mqtt_bytes t = {(const uint8_t *)topic, (uint32_t)strlen(topic)};
		struct mqtt_bytes p = {rec->value.p, rec->value.len > 0 ? (uint32_t)rec->value.len : 0};
		rc = mqtt_broker_publish(agent_broker_engine(d->ab), t, p, (uint8_t)d->cfg.qos, false, port_now_ms());
	}
	if (rc < 0) {
		metric_add(d->m_invalid, 1);
		log_warn("downlink: record at offset %lld not delivered: %s", (long long)rec->offset, err_str(rc));
		return;
	}
	metric_add(d->m_delivered, 1);
}

/* Deliver the records of one partition's answer at or after pos; returns the next position. */
static int64_t deliver_partition(struct downlink *d, const struct kafka_bytes *records, int64_t pos)
{
	const uint8_t *p = records->p;
	size_t left = records->len > 0 ? (size_t)records->len : 0;
	while (left) {
		struct kafka_batch b;
		int n = kafka_batch_parse(p, left, left, &b);
		if (n == ERR_AGAIN)
			break; /* a partial batch at the end of the answer: the next Fetch starts there */
		if (n < 0) {
			/* not v2 or damaged: stop here rather than skip what we cannot read (logged, retried) */
			metric_add(d->m_errors, 1);
			log_warn("downlink: unreadable batch at offset %lld: %s", (long long)pos, err_str(n));
			break;
		}
		p += n, left -= (size_t)n;
		int64_t last = b.base_offset + b.last_offset_delta;
		if (last < pos)
			continue;
		const uint8_t *recs;
		size_t recs_len;
		int rc = kafka_batch_is_control(&b) ? 1
			 : kafka_batch_records(&b, d->inflated, DOWNLINK_BATCH_INFLATED_MAX, &recs, &recs_len);
		if (rc < 0) {
			metric_add(d->m_invalid, b.record_count > 0 ? b.record_count : 1);
			log_warn("downlink: batch at offset %lld skipped: %s", (long long)b.base_offset, err_str(rc));
		} else if (rc == 0) {
			struct kafka_record_iter it;
			struct kafka_record rec;
			kafka_record_iter_init(&it, &b, recs, recs_len);
			while ((rc = kafka_record_next(&it, &rec)) == 1)
				if (rec.offset >= pos)
					deliver_record(d, &rec);
			if (rc < 0)
				log_warn("downlink: batch at offset %lld: %s", (long long)b.base_offset, err_str(rc));
		}
		pos = last + 1;
	}
	return pos;
}

static void on_fetch(struct kafka_conn *c, int err, int16_t api_key, int16_t ver, const union kafka_any_response *resp,
		     void *arg)
{
	struct downlink *d = arg;
	if (!answer_ok(d, c, err, api_key, ver))
		return;
	if (resp->fetch.error_code)
		return retry_later(d, "Fetch", resp->fetch.error_code);
	for (int32_t t = 0; t < resp->fetch.responses.count; t++) {
		const struct kafka_fetch_response_fetchable_topic_response *tr = &resp->fetch.responses.items[t];
		for (int32_t i = 0; i < tr->partitions.count; i++) {
			const struct kafka_fetch_response_partition_data *pd = &tr->partitions.items[i];
			if (pd->partition_index < 0 || pd->partition_index >= d->partition_count)
				continue;
			struct dl_partition *part = &d->parts[pd->partition_index];
			if (pd->error_code == KAFKA_EC_OFFSET_OUT_OF_RANGE) {
				/* retention removed what we had not read: start again from what is left */
				log_warn("downlink: %s/%d: offset %lld out of range", d->cfg.topic, pd->partition_index,
					 (long long)part->pos);
				part->pos = -1;
				d->step = DL_LIST;
				continue;
			}
			if (pd->error_code)
				return retry_later(d, "Fetch partition", pd->error_code);
			part->pos = deliver_partition(d, &pd->records, part->pos);
		}
	}
	advance(d);
}

/* ---- the steps -------------------------------------------------------------------------------------------- */

static void on_commit(struct kafka_conn *c, int err, int16_t api_key, int16_t ver, const union kafka_any_response *resp,
		      void *arg)
{
	struct downlink *d = arg;
	if (!answer_ok(d, c, err, api_key, ver))
		return;
	for (int32_t t = 0; t < resp->offset_commit.topics.count; t++)
		for (int32_t i = 0; i < resp->offset_commit.topics.items[t].partitions.count; i++) {
			const struct kafka_offset_commit_response_partition *p = &resp->offset_commit.topics.items[t].partitions.items[i];
			if (p->error_code)
				return retry_later(d, "OffsetCommit", p->error_code);
		}
	metric_add(d->m_commits, 1);
	advance(d);
}

static void send_commit(struct downlink *d, int64_t pos_snapshot[])
{
	struct kafka_offset_commit_request_partition ps[DOWNLINK_PARTITIONS_MAX];
	struct kafka_offset_commit_request_topic t;
	struct kafka_offset_commit_request req;
	kafka_msg_init(&kafka_msg_offset_commit_request, &req);
	KAFKA_INIT(kafka_offset_commit_request_topic, &t);
	int32_t n = 0;
	for (int32_t i = 0; i < d->partition_count; i++) {
		if (d->parts[i].pos < 0 || d->parts[i].pos == d->parts[i].committed)
			continue;
		KAFKA_INIT(kafka_offset_commit_request_partition, &ps[n]);
		ps[n].partition_index = i;
		ps[n].committed_offset = pos_snapshot[i] = d->parts[i].pos;
		ps[n].committed_leader_epoch = -1;
		n++;
	}
	req.group_id = (struct kafka_str){d->group, (int32_t)strlen(d->group)};
	req.generation_id_or_member_epoch = -1; /* a simple consumer: no membership, no generation */
	req.member_id = (struct kafka_str){"", 0};
	req.group_instance_id = (struct kafka_str){NULL, -1};
	req.retention_time_ms = -1;
	t.name = (struct kafka_str){d->cfg.topic, (int32_t)strlen(d->cfg.topic)};
	t.partitions.items = ps;
	t.partitions.count = n;
	req.topics.items = &t;
	req.topics.count = 1;
	if (send_capped(d, KAFKA_API_OFFSET_COMMIT, -1, &req, on_commit))
		disconnect(d, "OffsetCommit not sent");
}

static void send_fetch(struct downlink *d)
{
	struct kafka_fetch_request_fetch_partition ps[DOWNLINK_PARTITIONS_MAX];
	struct kafka_fetch_request_fetch_topic t;
	struct kafka_fetch_request req;
	kafka_msg_init(&kafka_msg_fetch_request, &req);
	KAFKA_INIT(kafka_fetch_request_fetch_topic, &t);
	for (int32_t i = 0; i < d->partition_count; i++) {
		KAFKA_INIT(kafka_fetch_request_fetch_partition, &ps[i]);
		ps[i].partition = i;
		ps[i].current_leader_epoch = -1;
		ps[i].fetch_offset = d->parts[i].pos;
		ps[i].last_fetched_epoch = -1;
		ps[i].log_start_offset = -1;
		ps[i].partition_max_bytes = DL_PARTITION_BYTES_MAX;
	}
	req.replica_id = -1;
	req.max_wait_ms = (int32_t)d->cfg.fetch_wait_ms;
	req.min_bytes = 1;
	req.max_bytes = DL_FETCH_BYTES_MAX;
	req.session_id = 0;
	req.session_epoch = -1; /* KIP-227: a full fetch outside any session */
	t.topic = (struct kafka_str){d->cfg.topic, (int32_t)strlen(d->cfg.topic)};
	t.partitions.items = ps;
	t.partitions.count = d->partition_count;
	req.topics.items = &t;
	req.topics.count = 1;
	if (send_capped(d, KAFKA_API_FETCH, DL_FETCH_VERSION_MAX, &req, on_fetch))
		disconnect(d, "Fetch not sent");
}

static void on_list(struct kafka_conn *c, int err, int16_t api_key, int16_t ver, const union kafka_any_response *resp,
		    void *arg)
{
	struct downlink *d = arg;
	if (!answer_ok(d, c, err, api_key, ver))
		return;
	for (int32_t t = 0; t < resp->list_offsets.topics.count; t++)
		for (int32_t i = 0; i < resp->list_offsets.topics.items[t].partitions.count; i++) {
			const struct kafka_list_offsets_response_list_offsets_partition_response *p =
				&resp->list_offsets.topics.items[t].partitions.items[i];
			if (p->error_code)
				return retry_later(d, "ListOffsets", p->error_code);
			if (p->partition_index >= 0 && p->partition_index < d->partition_count)
				d->parts[p->partition_index].pos = p->offset;
		}
	d->step = DL_RUN;
	advance(d); /* commits the starting positions first */
}

static void send_list(struct downlink *d)
{
	struct kafka_list_offsets_request_list_offsets_partition ps[DOWNLINK_PARTITIONS_MAX];
	struct kafka_list_offsets_request_list_offsets_topic t;
	struct kafka_list_offsets_request req;
	kafka_msg_init(&kafka_msg_list_offsets_request, &req);
	KAFKA_INIT(kafka_list_offsets_request_list_offsets_topic, &t);
	int32_t n = 0;
	for (int32_t i = 0; i < d->partition_count; i++) {
		if (d->parts[i].pos >= 0)
			continue;
		KAFKA_INIT(kafka_list_offsets_request_list_offsets_partition, &ps[n]);
		ps[n].partition_index = i;
		ps[n].current_leader_epoch = -1;
		ps[n].timestamp = d->cfg.start == AGENT_DOWNLINK_EARLIEST ? -2 : -1; /* KIP-79 special timestamps */
		ps[n].max_num_offsets = 1;
		n++;
	}
	req.replica_id = -1;
	t.name = (struct kafka_str){d->cfg.topic, (int32_t)strlen(d->cfg.topic)};
	t.partitions.items = ps;
	t.partitions.count = n;
	req.topics.items = &t;
	req.topics.count = 1;
	if (send_capped(d, KAFKA_API_LIST_OFFSETS, DL_LIST_OFFSETS_VERSION_MAX, &req, on_list))
		disconnect(d, "ListOffsets not sent");
}

static void on_offsets(struct kafka_conn *c, int err, int16_t api_key, int16_t ver,
		       const union kafka_any_response *resp, void *arg)
{
	struct downlink *d = arg;
	if (!answer_ok(d, c, err, api_key, ver))
		return;
	if (resp->offset_fetch.error_code)
		return retry_later(d, "OffsetFetch", resp->offset_fetch.error_code);
	for (int32_t i = 0; i < d->partition_count; i++)
		d->parts[i].pos = d->parts[i].committed = -1;
	for (int32_t t = 0; t < resp->offset_fetch.topics.count; t++)
		for (int32_t i = 0; i < resp->offset_fetch.topics.items[t].partitions.count; i++) {
			const struct kafka_offset_fetch_response_partition *p = &resp->offset_fetch.topics.items[t].partitions.items[i];
			if (p->error_code)
				return retry_later(d, "OffsetFetch partition", p->error_code);
			if (p->partition_index >= 0 && p->partition_index < d->partition_count && p->committed_offset >= 0)
				d->parts[p->partition_index].pos = d->parts[p->partition_index].committed = p->committed_offset;
		}
	d->step = DL_LIST;
	advance(d);
}

static void send_offsets(struct downlink *d)
{
	int32_t idx[DOWNLINK_PARTITIONS_MAX];
	struct kafka_offset_fetch_request_topic t;
	struct kafka_offset_fetch_request req;
	kafka_msg_init(&kafka_msg_offset_fetch_request, &req);
	KAFKA_INIT(kafka_offset_fetch_request_topic, &t);
	for (int32_t i = 0; i < d->partition_count; i++)
		idx[i] = i;
	req.group_id = (struct kafka_str){d->group, (int32_t)strlen(d->group)};
	t.name = (struct kafka_str){d->cfg.topic, (int32_t)strlen(d->cfg.topic)};
	t.partition_indexes.items = idx;
	t.partition_indexes.count = d->partition_count;
	req.topics.items = &t;
	req.topics.count = 1;
	if (send_capped(d, KAFKA_API_OFFSET_FETCH, DL_OFFSET_FETCH_VERSION_MAX, &req, on_offsets))
		disconnect(d, "OffsetFetch not sent");
}

static void on_metadata(struct kafka_conn *c, int err, int16_t api_key, int16_t ver,
			const union kafka_any_response *resp, void *arg)
{
	struct downlink *d = arg;
	if (!answer_ok(d, c, err, api_key, ver))
		return;
	int32_t n = 0;
	for (int32_t t = 0; t < resp->metadata.topics.count; t++) {
		const struct kafka_metadata_response_topic *tp = &resp->metadata.topics.items[t];
		if (tp->name.len == (int32_t)strlen(d->cfg.topic) && memcmp(tp->name.p, d->cfg.topic, (size_t)tp->name.len) == 0 &&
		    tp->error_code == 0)
			n = tp->partitions.count;
	}
	if (n <= 0) {
		d->busy = false;
		schedule(d, 500); /* being created (auto-create), or not there yet */
		return;
	}
	if (n > DOWNLINK_PARTITIONS_MAX) {
		log_warn("downlink: %s has %d partitions; following the first %d", d->cfg.topic, n, DOWNLINK_PARTITIONS_MAX);
		n = DOWNLINK_PARTITIONS_MAX;
	}
	d->partition_count = n;
	d->step = DL_OFFSETS;
	uplink_link_backoff_reset(&d->link);
	metric_set(d->m_state, 1);
	advance(d);
}

static void send_metadata(struct downlink *d)
{
	struct kafka_metadata_request_topic t;
	struct kafka_metadata_request req;
	kafka_msg_init(&kafka_msg_metadata_request, &req);
	KAFKA_INIT(kafka_metadata_request_topic, &t);
	t.name = (struct kafka_str){d->cfg.topic, (int32_t)strlen(d->cfg.topic)};
	req.topics.items = &t;
	req.topics.count = 1;
	req.allow_auto_topic_creation = true;
	if (send_capped(d, KAFKA_API_METADATA, -1, &req, on_metadata))
		disconnect(d, "Metadata not sent");
}

/* Run the next step of the connection's life; one request at a time. */
static void advance(struct downlink *d)
{
	if (d->busy || !d->conn || d->step == DL_OFFLINE || d->step == DL_CONNECTING)
		return;
	switch (d->step) {
	case DL_METADATA:
		send_metadata(d);
		return;
	case DL_OFFSETS:
		send_offsets(d);
		return;
	case DL_LIST:
		for (int32_t i = 0; i < d->partition_count; i++)
			if (d->parts[i].pos < 0)
				return send_list(d);
		d->step = DL_RUN;
		break;
	default:
		break;
	}
	/* commit what was delivered, then read on */
	int64_t snapshot[DOWNLINK_PARTITIONS_MAX];
	bool dirty = false;
	for (int32_t i = 0; i < d->partition_count; i++)
		dirty |= d->parts[i].pos >= 0 && d->parts[i].pos != d->parts[i].committed;
	if (dirty) {
		send_commit(d, snapshot);
		if (d->busy) /* sent: the answer confirms these positions (a later failure resends them) */
			for (int32_t i = 0; i < d->partition_count; i++)
				if (d->parts[i].pos >= 0 && d->parts[i].pos != d->parts[i].committed)
					d->parts[i].committed = snapshot[i];
		return;
	}
	send_fetch(d);
}

static void on_conn_event(struct kafka_conn *c, enum kafka_conn_event ev, int err, void *arg)
{
	struct downlink *d = arg;
	if (d->conn != c)
		return;
	if (ev == KAFKA_CONN_READY) {
		log_info("downlink: connected to %s:%u, consuming %s as group %s", uplink_link_host(&d->link),
			 uplink_link_port(&d->link), d->cfg.topic, d->group);
		d->step = DL_METADATA;
		advance(d);
		return;
	}
	disconnect(d, err_str(err));
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	struct downlink *d = arg;
	(void)fd, (void)what;
	if (d->step == DL_OFFLINE) {
		struct kafka_conn_config kc = {0};
		char cid[AGENT_ID_MAX + 32];
		snprintf(cid, sizeof cid, "ferry-agent-%s-downlink", d->agent_id);
		kc.client_id = cid;
		kc.request_timeout_ms = d->timeout_ms;
		uplink_link_conn_config(&d->link, &kc);
		d->conn = kafka_conn_new(d->base, &kc, on_conn_event, d);
		if (!d->conn)
			return disconnect(d, "out of memory");
		d->step = DL_CONNECTING;
		if (kafka_conn_connect(d->conn, uplink_link_host(&d->link), uplink_link_port(&d->link)))
			disconnect(d, "connect failed");
		return;
	}
	advance(d);
}

int downlink_new(struct downlink **out, struct event_base *base, const struct agent_config *cfg,
		 struct agent_broker *ab, struct metrics *metrics, char *err, size_t err_len)
{
	struct downlink *d = calloc(1, sizeof *d);
	if (!d || !(d->inflated = malloc(DOWNLINK_BATCH_INFLATED_MAX)) || !(d->timer = evtimer_new(base, on_timer, d))) {
		downlink_free(d);
		return snprintf(err, err_len, "downlink: out of memory"), ERR_NOMEM;
	}
	d->base = base;
	d->ab = ab;
	d->cfg = cfg->downlink;
	snprintf(d->agent_id, sizeof d->agent_id, "%s", cfg->uplink.agent_id);
	if (cfg->downlink.group[0])
		snprintf(d->group, sizeof d->group, "%s", cfg->downlink.group);
	else
		snprintf(d->group, sizeof d->group, "ferry-agent-%s", d->agent_id);
	int lrc = uplink_link_init(&d->link, &cfg->uplink, err, err_len);
	if (lrc) {
		downlink_free(d);
		return lrc;
	}
	/* a Fetch may rightly wait fetch_wait at the broker: the request timeout must be longer */
	uint64_t t = cfg->uplink.request_timeout_ms;
	if (t < cfg->downlink.fetch_wait_ms + 5000)
		t = cfg->downlink.fetch_wait_ms + 5000;
	d->timeout_ms = (uint32_t)t;
	static _Atomic int64_t sink;
	d->m_state = d->m_delivered = d->m_skipped = d->m_invalid = d->m_commits = d->m_errors = &sink;
	if (metrics) {
		d->m_state = metrics_gauge(metrics, "ferry_downlink_state", "", "Command consumer: 0 offline, 1 online");
		d->m_delivered = metrics_counter(metrics, "ferry_downlink_delivered_total", "", "Commands published locally");
		d->m_skipped = metrics_counter(metrics, "ferry_downlink_skipped_total", "", "Records addressed to other agents");
		d->m_invalid = metrics_counter(metrics, "ferry_downlink_invalid_total", "", "Records for this agent that could not be published (bad topic, unreadable batch)");
		d->m_commits = metrics_counter(metrics, "ferry_downlink_commits_total", "", "Offsets committed in the cloud");
		d->m_errors = metrics_counter(metrics, "ferry_downlink_errors_total", "", "Requests that failed (retried)");
	}
	d->step = DL_OFFLINE;
	schedule(d, 0);
	*out = d;
	return 0;
}

void downlink_free(struct downlink *d)
{
	if (!d)
		return;
	if (d->conn)
		kafka_conn_free(d->conn);
	if (d->timer)
		event_free(d->timer);
	free(d->inflated);
	uplink_link_deinit(&d->link);
	free(d);
}
