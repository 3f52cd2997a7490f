/* Client connection over libevent against an in-process fake broker built on our own codec: ApiVersions
 * negotiation with the KIP-511 fallback, highest common versions, pipelining up to the in-flight bound, answers
 * in order to the right callbacks, Metadata into the cache, request timeouts, a peer that closes, an
 * oversized frame, and freeing the connection from its own callback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <mbedtls/base64.h>
#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>

#include "base/rw.h"
#include "kafka/conn.h"
#include "kafka/metadata.h"
#include "net/tls.h"
#include "port.h"

/* ---- fake broker ---------------------------------------------------------------------------------------- */

struct fake {
	struct event_base *base;
	struct evconnlistener *lis;
	uint16_t port;
	int16_t api_versions_max; /* above this, answer the KIP-511 way */
	int16_t produce_max;
	bool hold;                /* read requests, answer none */
	bool close_on_produce;
	bool oversize_on_produce;
	int64_t next_offset;
	int requests;
	struct bufferevent *peer;
	struct net_tls *tls; /* server side, or NULL */
	bool sasl_seen;      /* a SaslAuthenticate arrived */
	char mech[32];       /* the mechanism the handshake chose */
	int scram_step;
	bool bad_server_sig; /* answer SCRAM with a wrong server signature (an impostor) */
	char client_first_bare[512], server_first[512];
};

/* The server side of SCRAM (RFC 5802), written independently of kafka/scram.c: it checks the client's proof
 * by recovering ClientKey and comparing H(ClientKey) with StoredKey. */
static int scram_server(struct fake *f, const struct kafka_bytes *in, char *out, size_t cap)
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(strcmp(f->mech, "SCRAM-SHA-512") == 0 ?
								MBEDTLS_MD_SHA512 : MBEDTLS_MD_SHA256);
	size_t dl = mbedtls_md_get_size(md);
	static const uint8_t salt[] = "ferry-salt-16byt";
	char msg[512];
	snprintf(msg, sizeof msg, "%.*s", in->len, (const char *)in->p);
	if (f->scram_step++ == 0) {
		snprintf(f->client_first_bare, sizeof f->client_first_bare, "%s", msg + 3); /* after "n,," */
		const char *r = strstr(msg, ",r=");
		char salt64[64];
		size_t olen;
		mbedtls_base64_encode((unsigned char *)salt64, sizeof salt64, &olen, salt, 16);
		snprintf(f->server_first, sizeof f->server_first, "r=%sSRVNONCE,s=%s,i=4096", r ? r + 3 : "", salt64);
		return snprintf(out, cap, "%s", f->server_first);
	}
	char *p = strstr(msg, ",p=");
	if (!p)
		return -1;
	*p = 0;
	char auth[1024];
	int an = snprintf(auth, sizeof auth, "%s,%s,%s", f->client_first_bare, f->server_first, msg);
	uint8_t salted[64], ck[64], sk[64], sig[64], proof[96], key[64], ss[64];
	size_t plen;
	mbedtls_md_context_t ctx;
	mbedtls_md_init(&ctx);
	mbedtls_md_setup(&ctx, md, 1);
	mbedtls_pkcs5_pbkdf2_hmac(&ctx, (const unsigned char *)"secret", 6, salt, 16, 4096, (uint32_t)dl, salted);
	mbedtls_md_free(&ctx);
	mbedtls_md_hmac(md, salted, dl, (const unsigned char *)"Client Key", 10, ck);
	mbedtls_md(md, ck, dl, sk);
	mbedtls_md_hmac(md, sk, dl, (const unsigned char *)auth, (size_t)an, sig);
	if (mbedtls_base64_decode(proof, sizeof proof, &plen, (const unsigned char *)p + 3, strlen(p + 3)) || plen != dl)
		return -1;
	for (size_t i = 0; i < dl; i++)
		key[i] = proof[i] ^ sig[i];
	uint8_t h[64];
	mbedtls_md(md, key, dl, h);
	if (memcmp(h, sk, dl) != 0)
		return -1; /* wrong password */
	mbedtls_md_hmac(md, salted, dl, (const unsigned char *)"Server Key", 10, key);
	mbedtls_md_hmac(md, key, dl, (const unsigned char *)auth, (size_t)an, ss);
	if (f->bad_server_sig)
		ss[0] ^= 1;
	char v[100];
	size_t vl;
	mbedtls_base64_encode((unsigned char *)v, sizeof v, &vl, ss, dl);
	return snprintf(out, cap, "v=%s", v);
}

static uint8_t f_arena[1 << 16], f_out[1 << 16];

static void fake_answer(struct fake *f, struct bufferevent *bev, const struct kafka_request_header *h,
			union kafka_any_request *req)
{
	int n = 0;
	if (h->api_key == KAFKA_API_API_VERSIONS) {
		if (h->api_version > f->api_versions_max) {
			n = kafka_api_versions_reject_encode(h->correlation_id, f_out, sizeof f_out);
			/* advertise our ApiVersions max as the fake's: patch the entry in the v0 answer */
			for (int i = 14; i + 6 <= n; i += 6)
				if (f_out[i] == 0 && f_out[i + 1] == KAFKA_API_API_VERSIONS)
					f_out[i + 5] = (uint8_t)f->api_versions_max;
		} else {
			struct kafka_api_versions_response r;
			struct kafka_api_versions_response_api_version items[KAFKA_API_COUNT];
			kafka_msg_init(&kafka_msg_api_versions_response, &r);
			kafka_api_versions_fill(&r, items);
			for (int i = 0; i < KAFKA_API_COUNT; i++) {
				if (items[i].api_key == KAFKA_API_PRODUCE)
					items[i].max_version = f->produce_max;
				if (items[i].api_key == KAFKA_API_API_VERSIONS)
					items[i].max_version = f->api_versions_max;
			}
			n = kafka_response_encode(h->api_key, h->api_version, h->correlation_id, &r, f_out, sizeof f_out);
		}
	} else if (h->api_key == KAFKA_API_METADATA) {
		struct kafka_metadata_response r;
		struct kafka_metadata_response_broker b;
		struct kafka_metadata_response_topic t;
		struct kafka_metadata_response_partition p[2];
		kafka_msg_init(&kafka_msg_metadata_response, &r);
		KAFKA_INIT(kafka_metadata_response_broker, &b);
		KAFKA_INIT(kafka_metadata_response_topic, &t);
		b.node_id = 1;
		b.host = (struct kafka_str){ "127.0.0.1", 9 };
		b.port = f->port;
		for (int i = 0; i < 2; i++) {
			KAFKA_INIT(kafka_metadata_response_partition, &p[i]);
			p[i].partition_index = i;
			p[i].leader_id = i == 0 ? 1 : -1;
			p[i].leader_epoch = 3;
		}
		t.name = (struct kafka_str){ "telemetry", 9 };
		t.partitions.items = p;
		t.partitions.count = 2;
		r.brokers.items = &b;
		r.brokers.count = 1;
		r.topics.items = &t;
		r.topics.count = 1;
		r.cluster_id = (struct kafka_str){ "ferry-test", 10 };
		r.controller_id = 1;
		n = kafka_response_encode(h->api_key, h->api_version, h->correlation_id, &r, f_out, sizeof f_out);
	} else if (h->api_key == KAFKA_API_PRODUCE) {
		if (f->close_on_produce) {
			bufferevent_free(bev);
			f->peer = NULL;
			return;
		}
		if (f->oversize_on_produce) {
			static const uint8_t big[] = { 0x7f, 0xff, 0xff, 0xff, 0, 0, 0, 1 };
			bufferevent_write(bev, big, sizeof big);
			return;
		}
		struct kafka_produce_response r;
		struct kafka_produce_response_topic_produce_response t;
		struct kafka_produce_response_partition_produce_response p;
		kafka_msg_init(&kafka_msg_produce_response, &r);
		KAFKA_INIT(kafka_produce_response_topic_produce_response, &t);
		KAFKA_INIT(kafka_produce_response_partition_produce_response, &p);
		t.name = req->produce.topic_data.items[0].name;
		p.index = req->produce.topic_data.items[0].partition_data.items[0].index;
		p.base_offset = f->next_offset++;
		t.partition_responses.items = &p;
		t.partition_responses.count = 1;
		r.responses.items = &t;
		r.responses.count = 1;
		n = kafka_response_encode(h->api_key, h->api_version, h->correlation_id, &r, f_out, sizeof f_out);
	} else if (h->api_key == KAFKA_API_SASL_HANDSHAKE) {
		struct kafka_sasl_handshake_response r;
		struct kafka_str mech = { "PLAIN", 5 };
		kafka_msg_init(&kafka_msg_sasl_handshake_response, &r);
		r.mechanisms.items = &mech;
		r.mechanisms.count = 1;
		const struct kafka_str *m = &req->sasl_handshake.mechanism;
		snprintf(f->mech, sizeof f->mech, "%.*s", m->len, m->p);
		if (strcmp(f->mech, "PLAIN") && strcmp(f->mech, "SCRAM-SHA-256") && strcmp(f->mech, "SCRAM-SHA-512"))
			r.error_code = KAFKA_EC_UNSUPPORTED_SASL_MECHANISM;
		n = kafka_response_encode(h->api_key, h->api_version, h->correlation_id, &r, f_out, sizeof f_out);
	} else if (h->api_key == KAFKA_API_SASL_AUTHENTICATE) {
		struct kafka_sasl_authenticate_response r;
		kafka_msg_init(&kafka_msg_sasl_authenticate_response, &r);
		const struct kafka_bytes *b = &req->sasl_authenticate.auth_bytes;
		f->sasl_seen = true;
		static char answer[512];
		if (strncmp(f->mech, "SCRAM", 5) == 0) {
			int an = scram_server(f, b, answer, sizeof answer);
			if (an < 0) {
				r.error_code = KAFKA_EC_SASL_AUTHENTICATION_FAILED;
				r.error_message = (struct kafka_str){ "bad proof", 9 };
			} else {
				r.auth_bytes = (struct kafka_bytes){ (const uint8_t *)answer, an };
			}
		} else if (b->len != 13 || memcmp(b->p, "\0ferry\0secret", 13)) {
			r.error_code = KAFKA_EC_SASL_AUTHENTICATION_FAILED;
			r.error_message = (struct kafka_str){ "bad password", 12 };
		}
		n = kafka_response_encode(h->api_key, h->api_version, h->correlation_id, &r, f_out, sizeof f_out);
	} else {
		return; /* Heartbeat and the rest: never answered (timeouts) */
	}
	assert_true(n > 0);
	bufferevent_write(bev, f_out, (size_t)n);
}

static void fake_read(struct bufferevent *bev, void *arg)
{
	struct fake *f = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	for (;;) {
		uint8_t pre[4];
		if (evbuffer_copyout(in, pre, 4) < 4)
			return;
		size_t n = be32_get(pre);
		if (evbuffer_get_length(in) < 4 + n)
			return;
		const uint8_t *frame = evbuffer_pullup(in, (ev_ssize_t)(4 + n));
		struct kafka_request_header h;
		union kafka_any_request req;
		struct kafka_arena a;
		kafka_arena_init(&a, f_arena, sizeof f_arena);
		int rc = kafka_request_decode(frame + 4, n, &h, &req, &a);
		assert_true(rc == 0 || rc == ERR_KAFKA_UNSUPPORTED_VERSION);
		f->requests++;
		if (!f->hold)
			fake_answer(f, bev, &h, &req);
		if (!f->peer)
			return; /* closed */
		evbuffer_drain(in, 4 + n);
	}
}

static void fake_event(struct bufferevent *bev, short what, void *arg)
{
	struct fake *f = arg;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		bufferevent_free(bev);
		f->peer = NULL;
	}
}

static void fake_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	(void)l, (void)sa, (void)salen;
	struct fake *f = arg;
	f->peer = bufferevent_socket_new(f->base, fd, BEV_OPT_CLOSE_ON_FREE);
	if (f->tls)
		f->peer = net_tls_wrap(f->tls, f->base, f->peer, NULL);
	bufferevent_setcb(f->peer, fake_read, NULL, fake_event, f);
	net_bev_resume_read(f->peer);
}

static void fake_start(struct fake *f, struct event_base *base)
{
	memset(f, 0, sizeof *f);
	f->base = base;
	f->api_versions_max = 2;
	f->produce_max = 7;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	f->lis = evconnlistener_new_bind(base, fake_accept, f, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 8,
					 (struct sockaddr *)&sa, sizeof sa);
	assert_non_null(f->lis);
	socklen_t sl = sizeof sa;
	getsockname(evconnlistener_get_fd(f->lis), (struct sockaddr *)&sa, &sl);
	f->port = ntohs(sa.sin_port);
}

static void fake_stop(struct fake *f)
{
	if (f->peer)
		bufferevent_free(f->peer);
	evconnlistener_free(f->lis);
}

/* ---- client side ---------------------------------------------------------------------------------------- */

struct ctx {
	struct event_base *base;
	struct kafka_conn *conn;
	int ready, closed, close_err;
	int answers, errors, last_err;
	int64_t offsets[16];
	struct kafka_metadata_cache cache;
	bool free_in_callback;
};

static void on_event(struct kafka_conn *c, enum kafka_conn_event ev, int err, void *arg)
{
	(void)c;
	struct ctx *x = arg;
	if (ev == KAFKA_CONN_READY)
		x->ready++;
	else {
		x->closed++;
		x->close_err = err;
	}
	event_base_loopbreak(x->base);
}

static void on_answer(struct kafka_conn *c, int err, int16_t api_key, int16_t api_version,
		      const union kafka_any_response *resp, void *arg)
{
	struct ctx *x = arg;
	(void)api_version;
	if (err) {
		x->errors++;
		x->last_err = err;
	} else if (api_key == KAFKA_API_PRODUCE) {
		x->offsets[x->answers % 16] = resp->produce.responses.items[0].partition_responses.items[0].base_offset;
		x->answers++;
	} else if (api_key == KAFKA_API_METADATA) {
		assert_int_equal(kafka_metadata_update(&x->cache, &resp->metadata, port_now_ns()), 0);
		x->answers++;
	}
	if (x->free_in_callback) {
		kafka_conn_free(c);
		x->conn = NULL;
	}
	event_base_loopbreak(x->base);
}

/* Run the loop until cond holds or 5 s pass. */
#define RUN_UNTIL(x, cond) \
	do { \
		uint64_t t0_ = port_now_ns(); \
		while (!(cond) && port_now_ns() - t0_ < 5000000000ull) { \
			struct timeval tv_ = { 0, 50000 }; \
			event_base_loopexit((x)->base, &tv_); \
			event_base_dispatch((x)->base); \
		} \
		assert_true(cond); \
	} while (0)

static void setup(struct ctx *x, struct fake *f, uint32_t timeout_ms)
{
	memset(x, 0, sizeof *x);
	x->base = event_base_new();
	fake_start(f, x->base);
	struct kafka_conn_config cfg = { .client_id = "ferry-test", .inflight_max = 5, .request_timeout_ms = timeout_ms };
	x->conn = kafka_conn_new(x->base, &cfg, on_event, x);
	assert_non_null(x->conn);
	assert_int_equal(kafka_conn_connect(x->conn, "127.0.0.1", f->port), 0);
	RUN_UNTIL(x, x->ready || x->closed);
	assert_int_equal(x->ready, 1);
}

static void teardown(struct ctx *x, struct fake *f)
{
	kafka_conn_free(x->conn);
	fake_stop(f);
	event_base_free(x->base);
}

static uint8_t batch_bytes[] = "not a real batch: the fake broker does not look";

static void produce_req(struct kafka_produce_request *r, struct kafka_produce_request_topic_produce_data *t,
			struct kafka_produce_request_partition_produce_data *p)
{
	kafka_msg_init(&kafka_msg_produce_request, r);
	KAFKA_INIT(kafka_produce_request_topic_produce_data, t);
	KAFKA_INIT(kafka_produce_request_partition_produce_data, p);
	p->index = 0;
	p->records = (struct kafka_bytes){ batch_bytes, (int32_t)sizeof batch_bytes };
	t->name = (struct kafka_str){ "telemetry", 9 };
	t->partition_data.items = p;
	t->partition_data.count = 1;
	r->acks = -1;
	r->timeout_ms = 1000;
	r->topic_data.items = t;
	r->topic_data.count = 1;
}

static void test_negotiate_and_pipeline(void **state)
{
	(void)state;
	struct ctx x;
	struct fake f;
	setup(&x, &f, 2000);
	/* Our ApiVersions v3 was refused (KIP-511), v2 accepted; Produce at min(ours 9, theirs 7). */
	assert_int_equal(f.requests, 2);
	assert_int_equal(kafka_conn_version(x.conn, KAFKA_API_API_VERSIONS), 2);
	assert_int_equal(kafka_conn_version(x.conn, KAFKA_API_PRODUCE), 7);
	assert_int_equal(kafka_conn_version(x.conn, KAFKA_API_FETCH), 12);
	assert_int_equal(kafka_conn_version(x.conn, 7), -1);

	struct kafka_produce_request r;
	struct kafka_produce_request_topic_produce_data t;
	struct kafka_produce_request_partition_produce_data p;
	produce_req(&r, &t, &p);
	for (int i = 0; i < 5; i++)
		assert_int_equal(kafka_conn_send(x.conn, KAFKA_API_PRODUCE, &r, on_answer, &x), 0);
	assert_int_equal(kafka_conn_send(x.conn, KAFKA_API_PRODUCE, &r, on_answer, &x), ERR_FULL);
	assert_int_equal(kafka_conn_inflight(x.conn), 5);
	assert_int_equal(kafka_conn_send_version(x.conn, KAFKA_API_PRODUCE, 8, &r, on_answer, &x),
			 ERR_KAFKA_UNSUPPORTED_VERSION);
	RUN_UNTIL(&x, x.answers == 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(x.offsets[i], i); /* answers reached their callbacks in order */
	assert_int_equal(kafka_conn_inflight(x.conn), 0);
	/* acks=0: written, never answered, no callback, no in-flight slot. */
	r.acks = 0;
	assert_int_equal(kafka_conn_send(x.conn, KAFKA_API_PRODUCE, &r, on_answer, &x), 0);
	assert_int_equal(kafka_conn_inflight(x.conn), 0);
	assert_int_equal(x.errors, 0);
	teardown(&x, &f);
}

static void test_metadata_cache(void **state)
{
	(void)state;
	struct ctx x;
	struct fake f;
	setup(&x, &f, 2000);
	assert_int_equal(kafka_metadata_init(&x.cache, 4, 4, 8), 0);
	assert_true(kafka_metadata_stale(&x.cache, port_now_ns(), 1000));
	struct kafka_metadata_request req;
	kafka_msg_init(&kafka_msg_metadata_request, &req);
	req.topics.count = -1; /* all topics */
	assert_int_equal(kafka_conn_send(x.conn, KAFKA_API_METADATA, &req, on_answer, &x), 0);
	RUN_UNTIL(&x, x.answers == 1);
	const struct kafka_broker_info *leader;
	assert_int_equal(kafka_metadata_leader(&x.cache, "telemetry", 9, 0, &leader), 0);
	assert_int_equal(leader->port, f.port);
	assert_string_equal(leader->host, "127.0.0.1");
	assert_int_equal(kafka_metadata_leader(&x.cache, "telemetry", 9, 1, &leader), ERR_AGAIN);
	assert_int_equal(kafka_metadata_leader(&x.cache, "telemetry", 9, 2, &leader), ERR_NOT_FOUND);
	assert_int_equal(kafka_metadata_leader(&x.cache, "other", 5, 0, &leader), ERR_NOT_FOUND);
	assert_string_equal(x.cache.cluster_id, "ferry-test");
	assert_int_equal(kafka_metadata_topic(&x.cache, "telemetry", 9)->partitions[0].leader_epoch, 3);
	assert_false(kafka_metadata_stale(&x.cache, port_now_ns(), 1000));
	kafka_metadata_deinit(&x.cache);
	teardown(&x, &f);
}

static void test_timeout(void **state)
{
	(void)state;
	struct ctx x;
	struct fake f;
	setup(&x, &f, 200);
	f.hold = true;
	struct kafka_heartbeat_request hb;
	kafka_msg_init(&kafka_msg_heartbeat_request, &hb);
	uint64_t t0 = port_now_ns();
	assert_int_equal(kafka_conn_send(x.conn, KAFKA_API_HEARTBEAT, &hb, on_answer, &x), 0);
	assert_int_equal(kafka_conn_send(x.conn, KAFKA_API_HEARTBEAT, &hb, on_answer, &x), 0);
	RUN_UNTIL(&x, x.closed == 1);
	uint64_t ms = (port_now_ns() - t0) / 1000000;
	assert_true(ms >= 190 && ms < 2000);
	assert_int_equal(x.errors, 2);
	assert_int_equal(x.last_err, ERR_TIMEOUT);
	assert_int_equal(x.close_err, ERR_TIMEOUT);
	assert_int_equal(kafka_conn_send(x.conn, KAFKA_API_HEARTBEAT, &hb, on_answer, &x), ERR_STATE);
	teardown(&x, &f);
}

static void test_peer_close_and_oversize(void **state)
{
	(void)state;
	struct kafka_produce_request r;
	struct kafka_produce_request_topic_produce_data t;
	struct kafka_produce_request_partition_produce_data p;
	produce_req(&r, &t, &p);
	for (int mode = 0; mode < 2; mode++) {
		struct ctx x;
		struct fake f;
		setup(&x, &f, 2000);
		if (mode == 0)
			f.close_on_produce = true;
		else
			f.oversize_on_produce = true;
		assert_int_equal(kafka_conn_send(x.conn, KAFKA_API_PRODUCE, &r, on_answer, &x), 0);
		assert_int_equal(kafka_conn_send(x.conn, KAFKA_API_PRODUCE, &r, on_answer, &x), 0);
		RUN_UNTIL(&x, x.closed == 1);
		assert_int_equal(x.errors, 2);
		assert_int_equal(x.close_err, mode == 0 ? ERR_CLOSED : ERR_PROTOCOL);
		teardown(&x, &f);
	}
}

static void test_free_from_callback(void **state)
{
	(void)state;
	struct ctx x;
	struct fake f;
	setup(&x, &f, 2000);
	struct kafka_produce_request r;
	struct kafka_produce_request_topic_produce_data t;
	struct kafka_produce_request_partition_produce_data p;
	produce_req(&r, &t, &p);
	x.free_in_callback = true;
	for (int i = 0; i < 3; i++)
		assert_int_equal(kafka_conn_send(x.conn, KAFKA_API_PRODUCE, &r, on_answer, &x), 0);
	RUN_UNTIL(&x, x.conn == NULL);
	/* The first answer freed the connection: the other two failed with ERR_CLOSED, then CLOSED was raised. */
	assert_int_equal(x.answers, 1);
	assert_int_equal(x.errors, 2);
	assert_int_equal(x.closed, 1);
	teardown(&x, &f);
}

static void test_connect_errors(void **state)
{
	(void)state;
	struct event_base *base = event_base_new();
	struct kafka_conn_config cfg = { 0 };
	struct ctx x = { .base = base };
	struct kafka_conn *c = kafka_conn_new(base, &cfg, on_event, &x);
	assert_int_equal(kafka_conn_connect(c, "not-an-ip.invalid", 9), ERR_INVAL);
	assert_int_equal(kafka_conn_connect(c, "127.0.0.1", 1), 0); /* refused, reported as an event */
	assert_int_equal(kafka_conn_connect(c, "127.0.0.1", 1), ERR_STATE);
	RUN_UNTIL(&x, x.closed == 1);
	assert_int_equal(x.close_err, ERR_IO);
	kafka_conn_free(c);
	event_base_free(base);
}

/* SASL after negotiation, PLAIN and SCRAM-SHA-256/512: the right password reaches READY; a wrong one, an
 * unknown mechanism, or a SCRAM server whose signature does not verify (an impostor that does not know the
 * password) ends the connection with ERR_AUTH before any request of the owner goes out. */
static void test_sasl_plain(void **state)
{
	(void)state;
	static const struct { const char *mech, *pass; int ready; bool impostor; } cases[] = {
		{ "PLAIN", "secret", 1, false }, { "PLAIN", "wrong", 0, false }, { "OAUTHBEARER", "secret", 0, false },
		{ "SCRAM-SHA-256", "secret", 1, false }, { "SCRAM-SHA-512", "secret", 1, false },
		{ "SCRAM-SHA-256", "wrong", 0, false }, { "SCRAM-SHA-512", "secret", 0, true },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct ctx x;
		struct fake f;
		memset(&x, 0, sizeof x);
		x.base = event_base_new();
		fake_start(&f, x.base);
		f.bad_server_sig = cases[i].impostor;
		struct kafka_conn_config cfg = { .client_id = "ferry-sasl", .sasl_mechanism = cases[i].mech,
						 .sasl_username = "ferry", .sasl_password = cases[i].pass };
		x.conn = kafka_conn_new(x.base, &cfg, on_event, &x);
		assert_int_equal(kafka_conn_connect(x.conn, "127.0.0.1", f.port), 0);
		RUN_UNTIL(&x, x.ready || x.closed);
		assert_int_equal(x.ready, cases[i].ready);
		if (!cases[i].ready)
			assert_int_equal(x.close_err, ERR_AUTH);
		assert_int_equal(f.sasl_seen, i != 2); /* an unsupported mechanism stops before any exchange */
		teardown(&x, &f);
	}
}

/* The same client over TLS through net/tls.h, against the fake broker behind a TLS listener. */
static void test_tls(void **state)
{
	(void)state;
	char dir[] = "/tmp/ferry-kafka-pki-XXXXXX", cmd[256], ca[128], crt[128], key[128], err[256];
	assert_non_null(mkdtemp(dir));
	snprintf(cmd, sizeof cmd, "bash tests/unit/net/mkcerts.sh %s", dir);
	assert_int_equal(system(cmd), 0);
	snprintf(ca, sizeof ca, "%s/ca.crt", dir);
	snprintf(crt, sizeof crt, "%s/server.crt", dir);
	snprintf(key, sizeof key, "%s/server.key", dir);
	struct net_tls *srv, *cli;
	struct net_tls_config sc = { .cert_file = crt, .key_file = key, .verify = NET_TLS_VERIFY_NONE };
	struct net_tls_config cc = { .ca_file = ca, .verify = NET_TLS_VERIFY_REQUIRED };
	assert_int_equal(net_tls_new(&srv, NET_TLS_SERVER, &sc, err, sizeof err), 0);
	assert_int_equal(net_tls_new(&cli, NET_TLS_CLIENT, &cc, err, sizeof err), 0);

	struct ctx x;
	struct fake f;
	memset(&x, 0, sizeof x);
	x.base = event_base_new();
	fake_start(&f, x.base);
	f.tls = srv;
	struct kafka_conn_config cfg = { .client_id = "ferry-tls", .tls = cli, .tls_hostname = "localhost" };
	x.conn = kafka_conn_new(x.base, &cfg, on_event, &x);
	net_tls_unref(cli); /* the connection holds its own reference */
	assert_int_equal(kafka_conn_connect(x.conn, "127.0.0.1", f.port), 0);
	RUN_UNTIL(&x, x.ready || x.closed);
	assert_int_equal(x.ready, 1);
	struct kafka_produce_request r;
	struct kafka_produce_request_topic_produce_data t;
	struct kafka_produce_request_partition_produce_data p;
	produce_req(&r, &t, &p);
	for (int i = 0; i < 3; i++)
		assert_int_equal(kafka_conn_send(x.conn, KAFKA_API_PRODUCE, &r, on_answer, &x), 0);
	RUN_UNTIL(&x, x.answers == 3);
	assert_int_equal(x.offsets[2], 2);
	teardown(&x, &f);
	net_tls_unref(srv);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_negotiate_and_pipeline), cmocka_unit_test(test_metadata_cache),
		cmocka_unit_test(test_timeout), cmocka_unit_test(test_peer_close_and_oversize),
		cmocka_unit_test(test_free_from_callback), cmocka_unit_test(test_connect_errors),
		cmocka_unit_test(test_tls), cmocka_unit_test(test_sasl_plain),
	};
	return cmocka_run_group_tests_name("kafka/conn", tests, NULL, NULL);
}
