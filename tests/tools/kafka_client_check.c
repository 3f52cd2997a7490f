/* Drives our client core (kafka/conn.h) against a real broker, end to end: connect (plain or TLS through
 * net/tls.h), negotiate, authenticate (SASL PLAIN or SCRAM), fetch metadata (auto-creating the topic), produce
 * lz4 batches with five requests in flight, then fetch every record back and compare.
 *   kafka_client_check HOST PORT TOPIC [-t CA_FILE [-H TLS_NAME]] [-s MECHANISM USER PASSWORD] [-n RECORDS]
 * TLS_NAME (default HOST) is checked against the server certificate's names (mbedtls 2.28 matches DNS names
 * and the CN, not IP address SANs). 
 * Exit status 0 only when every record came back as written. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "kafka/batch.h"
#include "kafka/conn.h"
#include "kafka/metadata.h"
#include "net/tls.h"
#include "port.h"

#define PER_BATCH 250
#define BATCHES_MAX 64

static struct event_base *base;
static struct kafka_conn *conn;
static struct kafka_metadata_cache cache;
static int ready, closed, close_err, answers, errors, fetched;
static int64_t next_fetch;
static const char *topic;
static int total;
static uint8_t batches[BATCHES_MAX][1 << 16], scratch[1 << 20], plain[4 << 20];

#define FAIL(...) do { fprintf(stderr, "kafka_client_check: " __VA_ARGS__); fputc('\n', stderr); exit(1); } while (0)

static void record_text(int i, char *key, int *kl, char *val, int *vl)
{
	*kl = snprintf(key, 32, "edge-%d", i % 17);
	*vl = snprintf(val, 64, "{\"seq\":%d,\"t\":%d.5}", i, 20 + i % 7);
}

static void on_event(struct kafka_conn *c, enum kafka_conn_event ev, int err, void *arg)
{
	(void)c, (void)arg;
	if (ev == KAFKA_CONN_READY) {
		ready = 1;
	} else {
		closed = 1;
		close_err = err;
	}
}

static void on_answer(struct kafka_conn *c, int err, int16_t api_key, int16_t ver, const union kafka_any_response *r,
		      void *arg)
{
	(void)c, (void)ver, (void)arg;
	if (err) {
		errors++;
		fprintf(stderr, "kafka_client_check: api %d failed: %s\n", api_key, err_name(err));
		return;
	}
	if (api_key == KAFKA_API_METADATA) {
		kafka_metadata_update(&cache, &r->metadata, port_now_ns());
	} else if (api_key == KAFKA_API_PRODUCE) {
		const struct kafka_produce_response_partition_produce_response *p =
			&r->produce.responses.items[0].partition_responses.items[0];
		if (p->error_code || p->base_offset != (int64_t)answers * PER_BATCH)
			FAIL("Produce answer %d: error %d, base offset %" PRId64, answers, p->error_code, p->base_offset);
	} else if (api_key == KAFKA_API_FETCH) {
		const struct kafka_fetch_response_partition_data *pd = &r->fetch.responses.items[0].partitions.items[0];
		if (pd->error_code)
			FAIL("Fetch: error %d", pd->error_code);
		const uint8_t *p = pd->records.p;
		size_t left = pd->records.len > 0 ? (size_t)pd->records.len : 0;
		struct kafka_batch b;
		int n;
		while (left && (n = kafka_batch_parse(p, left, left, &b)) > 0) {
			const uint8_t *recs;
			size_t rl;
			if (kafka_batch_records(&b, plain, sizeof plain, &recs, &rl))
				FAIL("batch at %" PRId64 ": cannot read its records", b.base_offset);
			struct kafka_record_iter it;
			struct kafka_record rec;
			kafka_record_iter_init(&it, &b, recs, rl);
			while (kafka_record_next(&it, &rec) == 1) {
				if (rec.offset < next_fetch)
					continue;
				char key[32], val[64];
				int kl, vl;
				record_text((int)rec.offset, key, &kl, val, &vl);
				if (rec.offset != next_fetch || rec.key.len != kl || memcmp(rec.key.p, key, (size_t)kl) ||
				    rec.value.len != vl || memcmp(rec.value.p, val, (size_t)vl))
					FAIL("record at offset %" PRId64 " differs", rec.offset);
				next_fetch++;
				fetched++;
			}
			p += n;
			left -= (size_t)n;
		}
	}
	answers++;
}

/* Run the loop until *counter reaches target, the connection closes, or 20 s pass. */
static void run_until(const int *counter, int target)
{
	uint64_t t0 = port_now_ns();
	while (*counter < target && !closed && port_now_ns() - t0 < 20000000000ull) {
		struct timeval tv = { 0, 20000 };
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
	if (*counter < target)
		FAIL("%s", closed ? err_str(close_err) : "timed out");
}

/* Produce total records in lz4 batches of PER_BATCH, keeping five requests in flight (the batches live in
 * static buffers until answered). */
static void produce_all(void)
{
	static struct kafka_produce_request_partition_produce_data pd[BATCHES_MAX];
	static struct kafka_produce_request_topic_produce_data td[BATCHES_MAX];
	static struct kafka_produce_request req[BATCHES_MAX];
	int nb = total / PER_BATCH, sent = 0, max_inflight = 0;
	answers = 0;
	while (answers < nb) {
		while (sent < nb && kafka_conn_inflight(conn) < 5) {
			struct kafka_batch_builder bb;
			kafka_batch_builder_init(&bb, KAFKA_COMPRESSION_LZ4, batches[sent], sizeof batches[sent], scratch,
						 sizeof scratch);
			for (int i = sent * PER_BATCH; i < (sent + 1) * PER_BATCH; i++) {
				char key[32], val[64];
				int kl, vl;
				record_text(i, key, &kl, val, &vl);
				kafka_batch_append(&bb, 1700000000000 + i, key, kl, val, vl, NULL, 0);
			}
			int n = kafka_batch_finish(&bb);
			pd[sent] = (struct kafka_produce_request_partition_produce_data){ 0, { batches[sent], n } };
			td[sent] = (struct kafka_produce_request_topic_produce_data){ { topic, (int32_t)strlen(topic) },
										      { &pd[sent], 1 } };
			kafka_msg_init(&kafka_msg_produce_request, &req[sent]);
			req[sent].acks = -1;
			req[sent].timeout_ms = 10000;
			req[sent].topic_data.items = &td[sent];
			req[sent].topic_data.count = 1;
			if (kafka_conn_send(conn, KAFKA_API_PRODUCE, &req[sent], on_answer, NULL))
				FAIL("send Produce %d", sent);
			sent++;
			if ((int)kafka_conn_inflight(conn) > max_inflight)
				max_inflight = (int)kafka_conn_inflight(conn);
		}
		run_until(&answers, answers + 1);
	}
	if (errors)
		FAIL("%d Produce requests failed", errors);
	printf("produced %d records in %d lz4 batches, up to %d requests in flight\n", total, nb, max_inflight);
}

static void fetch_all(void)
{
	for (int round = 0; round < 100 && fetched < total; round++) {
		struct kafka_fetch_request_fetch_partition fp;
		struct kafka_fetch_request_fetch_topic ft;
		struct kafka_fetch_request req;
		KAFKA_INIT(kafka_fetch_request_fetch_partition, &fp);
		KAFKA_INIT(kafka_fetch_request_fetch_topic, &ft);
		kafka_msg_init(&kafka_msg_fetch_request, &req);
		fp.partition = 0;
		fp.fetch_offset = next_fetch;
		fp.partition_max_bytes = 1 << 20;
		ft.topic = (struct kafka_str){ topic, (int32_t)strlen(topic) };
		ft.partitions.items = &fp;
		ft.partitions.count = 1;
		req.max_wait_ms = 100;
		req.min_bytes = 1;
		req.max_bytes = 4 << 20;
		req.topics.items = &ft;
		req.topics.count = 1;
		int before = answers;
		if (kafka_conn_send(conn, KAFKA_API_FETCH, &req, on_answer, NULL))
			FAIL("send Fetch");
		run_until(&answers, before + 1);
	}
	if (fetched != total)
		FAIL("fetched %d of %d records", fetched, total);
	printf("fetched all %d records back (Fetch v%d)\n", total, kafka_conn_version(conn, KAFKA_API_FETCH));
}

int main(int argc, char **argv)
{
	if (argc < 4)
		FAIL("usage: kafka_client_check HOST PORT TOPIC [-t CA_FILE [-H TLS_NAME]] [-s MECH USER PASSWORD] [-n N]");
	topic = argv[3];
	total = 2000;
	struct kafka_conn_config cfg = { .client_id = "ferry-client-check" };
	const char *ca = NULL;
	for (int i = 4; i < argc; i++) {
		if (!strcmp(argv[i], "-t") && i + 1 < argc) {
			ca = argv[++i];
		} else if (!strcmp(argv[i], "-H") && i + 1 < argc) {
			cfg.tls_hostname = argv[++i];
		} else if (!strcmp(argv[i], "-s") && i + 3 < argc) {
			cfg.sasl_mechanism = argv[++i];
			cfg.sasl_username = argv[++i];
			cfg.sasl_password = argv[++i];
		} else if (!strcmp(argv[i], "-n") && i + 1 < argc) {
			total = atoi(argv[++i]) / PER_BATCH * PER_BATCH;
		} else {
			FAIL("unknown argument %s", argv[i]);
		}
	}
	if (total <= 0 || total > BATCHES_MAX * PER_BATCH)
		FAIL("records: 250..%d", BATCHES_MAX * PER_BATCH);
	if (ca) {
		char err[256];
		struct net_tls_config tc = { .ca_file = ca, .verify = NET_TLS_VERIFY_REQUIRED };
		if (net_tls_new(&cfg.tls, NET_TLS_CLIENT, &tc, err, sizeof err))
			FAIL("tls: %s", err);
		if (!cfg.tls_hostname)
			cfg.tls_hostname = argv[1];
	}
	base = event_base_new();
	kafka_metadata_init(&cache, 16, 16, 64);
	conn = kafka_conn_new(base, &cfg, on_event, NULL);
	if (cfg.tls)
		net_tls_unref(cfg.tls);
	if (!conn || kafka_conn_connect(conn, argv[1], (uint16_t)atoi(argv[2])))
		FAIL("connect %s:%s", argv[1], argv[2]);
	run_until(&ready, 1);
	printf("ready: %s%s%s, Produce v%d, Fetch v%d, Metadata v%d\n", ca ? "TLS, " : "",
	       cfg.sasl_mechanism ? "SASL " : "", cfg.sasl_mechanism ? cfg.sasl_mechanism : "no SASL",
	       kafka_conn_version(conn, KAFKA_API_PRODUCE), kafka_conn_version(conn, KAFKA_API_FETCH),
	       kafka_conn_version(conn, KAFKA_API_METADATA));
	/* Metadata until the topic has a leader (auto-creation may take a moment). */
	struct kafka_metadata_request_topic mt;
	KAFKA_INIT(kafka_metadata_request_topic, &mt);
	mt.name = (struct kafka_str){ topic, (int32_t)strlen(topic) };
	const struct kafka_broker_info *leader = NULL;
	for (int i = 0; i < 50 && kafka_metadata_leader(&cache, topic, strlen(topic), 0, &leader) != 0; i++) {
		struct kafka_metadata_request mreq;
		kafka_msg_init(&kafka_msg_metadata_request, &mreq);
		mreq.topics.items = &mt;
		mreq.topics.count = 1;
		mreq.allow_auto_topic_creation = true;
		int before = answers;
		if (kafka_conn_send(conn, KAFKA_API_METADATA, &mreq, on_answer, NULL))
			FAIL("send Metadata");
		run_until(&answers, before + 1);
		if (!kafka_metadata_leader(&cache, topic, strlen(topic), 0, &leader))
			break;
		struct timeval pause = { 0, 100000 };
		event_base_loopexit(base, &pause);
		event_base_dispatch(base);
	}
	if (!leader)
		FAIL("no leader for %s/0", topic);
	produce_all();
	fetch_all();
	kafka_conn_free(conn);
	kafka_metadata_deinit(&cache);
	event_base_free(base);
	printf("kafka_client_check: ok\n");
	return 0;
}
