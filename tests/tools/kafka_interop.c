/* Interop with librdkafka through its mock cluster (a real Kafka-protocol peer), both directions:
 *  1. batches built by us (lz4 and uncompressed, with headers and null keys) are produced with our Produce
 *     encoder and read back by a librdkafka consumer, record by record;
 *  2. lz4 batches built by librdkafka's producer are fetched with our Fetch encoder and parsed by our batch
 *     reader, record by record;
 *  3. our client core (kafka/conn.h, libevent) negotiates with the mock, fills its metadata cache, pipelines
 *     five lz4 Produce requests to the partition leader, and librdkafka reads the records back.
 * Exit status 0 only when every record matched.  Used by tests/integration/20-kafka-librdkafka.sh. */
#include <inttypes.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <event2/event.h>

#include "kafka/batch.h"
#include "kafka/conn.h"
#include "kafka/metadata.h"
#include "kafka_tool_io.h"
#include "port.h"

#define N_LZ4 1000
#define N_PLAIN 10
#define BUF_CAP (8u << 20)

static uint8_t iobuf[BUF_CAP], arena_mem[1 << 20], batch_buf[1 << 20], scratch[1 << 20], plain[4 << 20];
static int16_t produce_ver = -1, fetch_ver = -1;
static int32_t next_corr = 1;

#define FAIL(...) do { fprintf(stderr, "kafka_interop: " __VA_ARGS__); fputc('\n', stderr); return 1; } while (0)

static const struct kafka_record_header hdrs[2] = {
	{ { "mqtt.topic", 10 }, { (const uint8_t *)"site/7/temp", 11 } },
	{ { "ferry.agent", 11 }, { (const uint8_t *)"agent-7", 7 } },
};

static void want_kv(int i, char *key, int *kl, char *val, int *vl)
{
	*kl = snprintf(key, 32, "agent-7/site/%d", i % 13);
	*vl = snprintf(val, 64, "payload-%d-%s", i, i % 2 ? "odd" : "even");
}

static int negotiate(int fd)
{
	struct kafka_api_versions_request req;
	kafka_msg_init(&kafka_msg_api_versions_request, &req);
	req.client_software_name = (struct kafka_str){ "ferry", 5 };
	req.client_software_version = (struct kafka_str){ "0.1", 3 };
	struct kafka_request_header h = { KAFKA_API_API_VERSIONS, 3, next_corr++, { "ferry-interop", 13 } };
	union kafka_any_response resp;
	struct kafka_arena a;
	kafka_arena_init(&a, arena_mem, sizeof arena_mem);
	int rc = tool_rpc(fd, &h, &req, iobuf, sizeof iobuf, &resp, &a);
	if (rc == 0 && resp.api_versions.error_code == KAFKA_EC_UNSUPPORTED_VERSION) {
		h.api_version = 0; /* KIP-511 fallback: the librdkafka 2.0 mock speaks ApiVersions v0-2 */
		h.correlation_id = next_corr++;
		rc = tool_rpc(fd, &h, &req, iobuf, sizeof iobuf, &resp, &a);
	}
	if (rc < 0 || resp.api_versions.error_code)
		FAIL("ApiVersions: %s / %d", err_name(rc), resp.api_versions.error_code);
	for (int i = 0; i < resp.api_versions.api_keys.count; i++) {
		const struct kafka_api_versions_response_api_version *v = &resp.api_versions.api_keys.items[i];
		const struct kafka_api_desc *ours = kafka_api_find(v->api_key);
		if (!ours)
			continue;
		int16_t hi = v->max_version < ours->max_version ? v->max_version : ours->max_version;
		if (v->api_key == KAFKA_API_PRODUCE)
			produce_ver = hi;
		if (v->api_key == KAFKA_API_FETCH)
			fetch_ver = hi;
	}
	printf("negotiated Produce v%d, Fetch v%d\n", produce_ver, fetch_ver);
	return produce_ver < 3 || fetch_ver < 4;
}

static int produce_ours(int fd, const char *topic, int compression, int first, int count)
{
	struct kafka_batch_builder bb;
	kafka_batch_builder_init(&bb, compression, batch_buf, sizeof batch_buf, scratch, sizeof scratch);
	for (int i = first; i < first + count; i++) {
		char key[32], val[64];
		int kl, vl;
		want_kv(i, key, &kl, val, &vl);
		bool nokey = i % 17 == 4;
		if (kafka_batch_append(&bb, 1700000000000 + i, nokey ? NULL : key, nokey ? -1 : kl, val, vl, hdrs,
				       (size_t)(i % 3)) < 0)
			FAIL("append %d", i);
	}
	int blen = kafka_batch_finish(&bb);
	if (blen < 0)
		FAIL("finish: %s", err_name(blen));
	struct kafka_produce_request_partition_produce_data pd = { 0, { batch_buf, blen } };
	struct kafka_produce_request_topic_produce_data td = { { topic, (int32_t)strlen(topic) }, { &pd, 1 } };
	struct kafka_produce_request req;
	kafka_msg_init(&kafka_msg_produce_request, &req);
	req.acks = -1;
	req.timeout_ms = 5000;
	req.topic_data.items = &td;
	req.topic_data.count = 1;
	struct kafka_request_header h = { KAFKA_API_PRODUCE, produce_ver, next_corr++, { "ferry-interop", 13 } };
	union kafka_any_response resp;
	struct kafka_arena a;
	kafka_arena_init(&a, arena_mem, sizeof arena_mem);
	int rc = tool_rpc(fd, &h, &req, iobuf, sizeof iobuf, &resp, &a);
	if (rc < 0)
		FAIL("Produce: %s", err_name(rc));
	const struct kafka_produce_response_partition_produce_response *p =
		&resp.produce.responses.items[0].partition_responses.items[0];
	if (p->error_code || p->base_offset != first)
		FAIL("Produce answer: error %d base offset %" PRId64, p->error_code, p->base_offset);
	return 0;
}

static int consume_with_librdkafka(const char *bootstrap, const char *topic, int total)
{
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err);
	rd_kafka_conf_set(conf, "group.id", "ferry-interop", err, sizeof err);
	rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
	rd_kafka_t *c = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof err);
	if (!c)
		FAIL("consumer: %s", err);
	rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(parts, topic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
	rd_kafka_assign(c, parts);
	rd_kafka_topic_partition_list_destroy(parts);
	int got = 0, bad = 0;
	for (int idle = 0; got < total && idle < 150;) {
		rd_kafka_message_t *m = rd_kafka_consumer_poll(c, 100);
		if (!m) {
			idle++; /* at most 15 s without a message */
			continue;
		}
		if (m->err) {
			if (m->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
				fprintf(stderr, "consume: %s\n", rd_kafka_message_errstr(m));
			rd_kafka_message_destroy(m);
			continue;
		}
		int i = (int)m->offset;
		char key[32], val[64];
		int kl, vl;
		want_kv(i, key, &kl, val, &vl);
		bool nokey = i % 17 == 4;
		rd_kafka_timestamp_type_t tt;
		int64_t ts = rd_kafka_message_timestamp(m, &tt);
		rd_kafka_headers_t *hs = NULL;
		size_t hc = rd_kafka_message_headers(m, &hs) ? 0 : rd_kafka_header_cnt(hs);
		const void *hv;
		size_t hvl;
		bool ok = i == got && (int)m->len == vl && memcmp(m->payload, val, (size_t)vl) == 0 &&
			  (nokey ? m->key == NULL : ((int)m->key_len == kl && memcmp(m->key, key, (size_t)kl) == 0)) &&
			  ts == 1700000000000 + i && hc == (size_t)(i % 3);
		if (ok && hc > 0)
			ok = rd_kafka_header_get(hs, 0, "mqtt.topic", &hv, &hvl) == 0 && hvl == 11 &&
			     memcmp(hv, "site/7/temp", 11) == 0;
		bad += !ok;
		got++;
		rd_kafka_message_destroy(m);
	}
	rd_kafka_consumer_close(c);
	rd_kafka_destroy(c);
	if (got != total || bad)
		FAIL("librdkafka read %d of %d records, %d mismatched", got, total, bad);
	printf("librdkafka consumer read all %d records of our batches\n", total);
	return 0;
}

static int produce_with_librdkafka(const char *bootstrap, const char *topic, int total)
{
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap, err, sizeof err);
	rd_kafka_conf_set(conf, "compression.codec", "lz4", err, sizeof err);
	rd_kafka_conf_set(conf, "linger.ms", "200", err, sizeof err);
	rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof err);
	rd_kafka_t *p = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
	if (!p)
		FAIL("producer: %s", err);
	for (int i = 0; i < total; i++) {
		char key[32], val[64];
		int kl, vl;
		want_kv(i, key, &kl, val, &vl);
		rd_kafka_resp_err_t e = rd_kafka_producev(p, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_PARTITION(0),
			RD_KAFKA_V_KEY(key, (size_t)kl), RD_KAFKA_V_VALUE(val, (size_t)vl), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
			RD_KAFKA_V_TIMESTAMP(1700000000000 + i), RD_KAFKA_V_HEADER("mqtt.topic", "site/7/temp", 11),
			RD_KAFKA_V_END);
		if (e)
			FAIL("producev: %s", rd_kafka_err2str(e));
	}
	if (rd_kafka_flush(p, 10000))
		FAIL("flush timed out");
	rd_kafka_destroy(p);
	return 0;
}

static int check_batch(const struct kafka_batch *b, int *next, int *lz4_batches)
{
	const uint8_t *recs;
	size_t recs_len;
	int rc = kafka_batch_records(b, plain, sizeof plain, &recs, &recs_len);
	if (rc < 0)
		FAIL("records of batch at %" PRId64 ": %s", b->base_offset, err_name(rc));
	*lz4_batches += kafka_batch_compression(b) == KAFKA_COMPRESSION_LZ4;
	struct kafka_record_iter it;
	struct kafka_record r;
	kafka_record_iter_init(&it, b, recs, recs_len);
	while ((rc = kafka_record_next(&it, &r)) == 1) {
		char key[32], val[64];
		int kl, vl;
		want_kv(*next, key, &kl, val, &vl);
		struct kafka_header_iter hi;
		struct kafka_record_header h;
		kafka_header_iter_init(&hi, &r);
		if (r.offset != *next || r.key.len != kl || memcmp(r.key.p, key, (size_t)kl) ||
		    r.value.len != vl || memcmp(r.value.p, val, (size_t)vl) || r.timestamp != 1700000000000 + *next ||
		    r.header_count != 1 || kafka_record_header_next(&hi, &h) != 1 || h.key.len != 10 ||
		    h.value.len != 11 || memcmp(h.value.p, "site/7/temp", 11))
			FAIL("record %d differs: offset %" PRId64 " key %d/%d value %d/%d ts %" PRId64 " headers %d",
			     *next, r.offset, r.key.len, kl, r.value.len, vl, r.timestamp, r.header_count);
		if (b->producer_id < 0 || r.sequence != *next)
			FAIL("record %d: idempotence fields (pid %" PRId64 ", seq %d)", *next, b->producer_id, r.sequence);
		(*next)++;
	}
	if (rc < 0)
		FAIL("record iteration: %s", err_name(rc));
	return 0;
}

static int fetch_ours(int fd, const char *topic, int total)
{
	int next = 0, lz4_batches = 0, batches = 0;
	for (int round = 0; next < total && round < 50; round++) {
		struct kafka_fetch_request_fetch_partition fp;
		KAFKA_INIT(kafka_fetch_request_fetch_partition, &fp);
		fp.partition = 0;
		fp.fetch_offset = next;
		fp.partition_max_bytes = 4 << 20;
		struct kafka_fetch_request_fetch_topic ft;
		KAFKA_INIT(kafka_fetch_request_fetch_topic, &ft);
		ft.topic = (struct kafka_str){ topic, (int32_t)strlen(topic) };
		ft.partitions.items = &fp;
		ft.partitions.count = 1;
		struct kafka_fetch_request req;
		kafka_msg_init(&kafka_msg_fetch_request, &req);
		req.max_wait_ms = 100;
		req.min_bytes = 1;
		req.max_bytes = 4 << 20;
		req.topics.items = &ft;
		req.topics.count = 1;
		struct kafka_request_header h = { KAFKA_API_FETCH, fetch_ver, next_corr++, { "ferry-interop", 13 } };
		union kafka_any_response resp;
		struct kafka_arena a;
		kafka_arena_init(&a, arena_mem, sizeof arena_mem);
		int rc = tool_rpc(fd, &h, &req, iobuf, sizeof iobuf, &resp, &a);
		if (rc < 0 || resp.fetch.responses.count != 1)
			FAIL("Fetch: %s", err_name(rc));
		const struct kafka_fetch_response_partition_data *pd = &resp.fetch.responses.items[0].partitions.items[0];
		if (pd->error_code)
			FAIL("Fetch partition error %d", pd->error_code);
		const uint8_t *p = pd->records.p;
		size_t left = pd->records.len > 0 ? (size_t)pd->records.len : 0;
		while (left) {
			struct kafka_batch b;
			int n = kafka_batch_parse(p, left, left, &b);
			if (n == ERR_AGAIN)
				break; /* a partial batch at the end of a fetch is normal */
			if (n < 0)
				FAIL("batch parse: %s", err_name(n));
			if (b.base_offset + b.last_offset_delta >= next && check_batch(&b, &next, &lz4_batches))
				return 1;
			batches++;
			p += n;
			left -= (size_t)n;
		}
	}
	if (next != total || lz4_batches == 0)
		FAIL("parsed %d of %d librdkafka records, %d lz4 batches", next, total, lz4_batches);
	printf("parsed all %d records of librdkafka's %d batches (%d lz4)\n", total, batches, lz4_batches);
	return 0;
}

/* ---- 3: the client core ---------------------------------------------------------------------------------- */

struct core {
	struct event_base *base;
	struct kafka_metadata_cache cache;
	int ready, closed, answers, errors, metadata;
	int64_t offsets[8];
};

static void core_event(struct kafka_conn *c, enum kafka_conn_event ev, int err, void *arg)
{
	(void)c;
	struct core *x = arg;
	if (ev == KAFKA_CONN_READY)
		x->ready = 1;
	else {
		x->closed = 1;
		if (err != ERR_CLOSED) /* ERR_CLOSED: our own kafka_conn_free */
			fprintf(stderr, "kafka_interop: client connection closed: %s\n", err_name(err));
	}
}

static void core_answer(struct kafka_conn *c, int err, int16_t api_key, int16_t ver, const union kafka_any_response *r,
			void *arg)
{
	(void)c, (void)ver;
	struct core *x = arg;
	if (err) {
		x->errors++;
		return;
	}
	if (api_key == KAFKA_API_METADATA) {
		x->metadata = kafka_metadata_update(&x->cache, &r->metadata, port_now_ns()) == 0;
		return;
	}
	const struct kafka_produce_response_partition_produce_response *p =
		&r->produce.responses.items[0].partition_responses.items[0];
	x->offsets[x->answers++ % 8] = p->error_code ? -1 - p->error_code : p->base_offset;
}

static int core_run(struct core *x, const int *flag)
{
	uint64_t t0 = port_now_ns();
	while (!*flag && !x->closed && port_now_ns() - t0 < 10000000000ull) {
		struct timeval tv = { 0, 20000 };
		event_base_loopexit(x->base, &tv);
		event_base_dispatch(x->base);
	}
	return *flag ? 0 : 1;
}

static int client_core(const char *bootstrap)
{
	struct core x = { .base = event_base_new() };
	kafka_metadata_init(&x.cache, 8, 8, 16);
	char host[64];
	snprintf(host, sizeof host, "%s", bootstrap);
	char *colon = strrchr(host, ':');
	*colon = 0;
	struct kafka_conn_config cfg = { .client_id = "ferry-core", .inflight_max = 5 };
	struct kafka_conn *c = kafka_conn_new(x.base, &cfg, core_event, &x);
	if (kafka_conn_connect(c, host, (uint16_t)atoi(colon + 1)) || core_run(&x, &x.ready))
		FAIL("client core: no ApiVersions negotiation");
	struct kafka_metadata_request mreq;
	kafka_msg_init(&kafka_msg_metadata_request, &mreq);
	mreq.topics.count = -1;
	if (kafka_conn_send(c, KAFKA_API_METADATA, &mreq, core_answer, &x) || core_run(&x, &x.metadata))
		FAIL("client core: Metadata");
	const struct kafka_broker_info *leader;
	if (kafka_metadata_leader(&x.cache, "client", 6, 0, &leader))
		FAIL("client core: no leader for client/0");
	printf("client core: Produce v%d, Fetch v%d, Metadata v%d negotiated; leader of client/0 is %d at %s:%d\n",
	       kafka_conn_version(c, KAFKA_API_PRODUCE), kafka_conn_version(c, KAFKA_API_FETCH),
	       kafka_conn_version(c, KAFKA_API_METADATA), leader->node_id, leader->host, leader->port);
	/* Five requests in flight at once, each one lz4 batch of 200 records (the batches live until answered). */
	static uint8_t bufs[5][1 << 16];
	struct kafka_produce_request_partition_produce_data pd[5];
	struct kafka_produce_request_topic_produce_data td[5];
	struct kafka_produce_request req[5];
	for (int k = 0; k < 5; k++) {
		struct kafka_batch_builder bb;
		kafka_batch_builder_init(&bb, KAFKA_COMPRESSION_LZ4, bufs[k], sizeof bufs[k], scratch, sizeof scratch);
		for (int i = k * 200; i < (k + 1) * 200; i++) {
			char key[32], val[64];
			int kl, vl;
			want_kv(i, key, &kl, val, &vl);
			bool nokey = i % 17 == 4;
			kafka_batch_append(&bb, 1700000000000 + i, nokey ? NULL : key, nokey ? -1 : kl, val, vl, hdrs,
					   (size_t)(i % 3));
		}
		int n = kafka_batch_finish(&bb);
		pd[k] = (struct kafka_produce_request_partition_produce_data){ 0, { bufs[k], n } };
		td[k] = (struct kafka_produce_request_topic_produce_data){ { "client", 6 }, { &pd[k], 1 } };
		kafka_msg_init(&kafka_msg_produce_request, &req[k]);
		req[k].acks = -1;
		req[k].timeout_ms = 5000;
		req[k].topic_data.items = &td[k];
		req[k].topic_data.count = 1;
		if (kafka_conn_send(c, KAFKA_API_PRODUCE, &req[k], core_answer, &x))
			FAIL("client core: send %d", k);
	}
	if (kafka_conn_inflight(c) != 5)
		FAIL("client core: %u in flight, wanted 5", kafka_conn_inflight(c));
	int five = 0;
	while (!five && !x.closed) {
		core_run(&x, &five);
		five = x.answers == 5;
	}
	for (int k = 0; k < 5; k++)
		if (x.offsets[k] != k * 200)
			FAIL("client core: batch %d at offset %" PRId64, k, x.offsets[k]);
	kafka_conn_free(c);
	kafka_metadata_deinit(&x.cache);
	event_base_free(x.base);
	return consume_with_librdkafka(bootstrap, "client", 1000);
}

int main(void)
{
	char err[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
	rd_kafka_mock_cluster_t *mc = rk ? rd_kafka_mock_cluster_new(rk, 1) : NULL;
	if (!mc)
		FAIL("mock cluster");
	rd_kafka_mock_topic_create(mc, "ours", 1, 1);
	rd_kafka_mock_topic_create(mc, "theirs", 1, 1);
	rd_kafka_mock_topic_create(mc, "client", 1, 1);
	const char *bootstrap = rd_kafka_mock_cluster_bootstraps(mc);
	int fd = tool_connect(bootstrap);
	if (fd < 0)
		FAIL("connect %s", bootstrap);
	int rc = negotiate(fd) || produce_ours(fd, "ours", KAFKA_COMPRESSION_LZ4, 0, N_LZ4) ||
		 produce_ours(fd, "ours", KAFKA_COMPRESSION_NONE, N_LZ4, N_PLAIN) ||
		 consume_with_librdkafka(bootstrap, "ours", N_LZ4 + N_PLAIN) ||
		 produce_with_librdkafka(bootstrap, "theirs", N_LZ4) || fetch_ours(fd, "theirs", N_LZ4) ||
		 client_core(bootstrap);
	close(fd);
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(rk);
	printf("kafka_interop: %s\n", rc ? "FAILED" : "ok");
	return rc;
}
