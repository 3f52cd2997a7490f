/* Kafka client connection (kafka/conn.h).  Responses arrive in request order on a connection (Kafka protocol
 * guide, "Network"), so the in-flight requests are a FIFO ring and each answer must carry the correlation id
 * at its head; anything else is a protocol error that ends the connection.  Never blocks; never grows a queue
 * past inflight_max; never reads a frame larger than frame_max. */
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>

#include "base/log.h"
#include "base/rw.h"
#include "kafka/conn.h"
#include "kafka/scram.h"
#include "net/tls.h"
#include "port.h"

enum state { ST_IDLE, ST_CONNECTING, ST_NEGOTIATING, ST_AUTHENTICATING, ST_READY, ST_CLOSED };

struct inflight {
	int32_t correlation_id;
	int16_t api_key, api_version;
	uint64_t deadline_ns;
	kafka_response_cb cb; /* NULL for our own ApiVersions and SASL requests */
	void *arg;
};

struct kafka_conn {
	struct event_base *base;
	struct bufferevent *bev;
	struct event *timer;
	struct net_tls *tls;
	struct evdns_base *dns;
	kafka_conn_event_cb event_cb;
	void *event_arg;
	enum state state;
	int busy;          /* callbacks running: free is deferred until they return */
	bool free_pending;
	char client_id[KAFKA_CLIENT_ID_MAX + 1];
	int32_t client_id_len; /* -1: null */
	char tls_hostname[256];
	char sasl_mechanism[32], sasl_username[KAFKA_SASL_FIELD_MAX + 1], sasl_password[KAFKA_SASL_FIELD_MAX + 1];
	uint32_t inflight_max, timeout_ms;
	size_t frame_max, arena_size;
	int32_t next_correlation_id;
	struct inflight ring[KAFKA_CONN_INFLIGHT_MAX];
	uint32_t head, count;
	int16_t versions[KAFKA_API_KEY_MAX + 1];
	uint8_t *arena_mem;
	union kafka_any_response resp;
	struct kafka_scram scram; /* SCRAM exchange state; wiped when done */
	int sasl_step;            /* SaslAuthenticate round trips done */
};

static void close_conn(struct kafka_conn *c, int err);
static int send_api_versions(struct kafka_conn *c, int16_t version);
static void on_timer(evutil_socket_t fd, short what, void *arg);
static int ready(struct kafka_conn *c);
static int start_sasl(struct kafka_conn *c);

struct kafka_conn *kafka_conn_new(struct event_base *base, const struct kafka_conn_config *cfg,
				  kafka_conn_event_cb cb, void *arg)
{
	struct kafka_conn *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->base = base;
	c->event_cb = cb;
	c->event_arg = arg;
	c->inflight_max = cfg->inflight_max ? cfg->inflight_max : KAFKA_CONN_INFLIGHT_DEFAULT;
	if (c->inflight_max > KAFKA_CONN_INFLIGHT_MAX)
		c->inflight_max = KAFKA_CONN_INFLIGHT_MAX;
	c->timeout_ms = cfg->request_timeout_ms ? cfg->request_timeout_ms : KAFKA_CONN_TIMEOUT_MS_DEFAULT;
	c->frame_max = cfg->frame_max ? cfg->frame_max : KAFKA_CONN_FRAME_MAX_DEFAULT;
	c->arena_size = cfg->arena_size ? cfg->arena_size : KAFKA_CONN_ARENA_DEFAULT;
	c->client_id_len = -1;
	if (cfg->client_id) {
		size_t n = strnlen(cfg->client_id, KAFKA_CLIENT_ID_MAX);
		memcpy(c->client_id, cfg->client_id, n);
		c->client_id_len = (int32_t)n;
	}
	if (cfg->tls_hostname)
		snprintf(c->tls_hostname, sizeof c->tls_hostname, "%s", cfg->tls_hostname);
	if (cfg->sasl_mechanism) {
		snprintf(c->sasl_mechanism, sizeof c->sasl_mechanism, "%s", cfg->sasl_mechanism);
		snprintf(c->sasl_username, sizeof c->sasl_username, "%s", cfg->sasl_username ? cfg->sasl_username : "");
		snprintf(c->sasl_password, sizeof c->sasl_password, "%s", cfg->sasl_password ? cfg->sasl_password : "");
	}
	c->tls = cfg->tls;
	if (c->tls)
		net_tls_ref(c->tls);
	c->dns = cfg->dns;
	c->next_correlation_id = 1;
	for (size_t i = 0; i <= KAFKA_API_KEY_MAX; i++)
		c->versions[i] = -1;
	c->arena_mem = malloc(c->arena_size);
	c->timer = evtimer_new(base, on_timer, c);
	if (!c->arena_mem || !c->timer) {
		kafka_conn_free(c);
		return NULL;
	}
	return c;
}

static void destroy(struct kafka_conn *c)
{
	if (c->bev)
		bufferevent_free(c->bev);
	if (c->timer)
		event_free(c->timer);
	if (c->tls)
		net_tls_unref(c->tls);
	memset(c->sasl_password, 0, sizeof c->sasl_password);
	kafka_scram_wipe(&c->scram);
	free(c->arena_mem);
	free(c);
}

/* Callbacks run between enter() and leave(); the last leave() frees a connection whose owner freed it meanwhile. */
static void enter(struct kafka_conn *c) { c->busy++; }

static void leave(struct kafka_conn *c)
{
	if (--c->busy == 0 && c->free_pending)
		destroy(c);
}

void kafka_conn_free(struct kafka_conn *c)
{
	if (!c || c->free_pending)
		return;
	c->free_pending = true;
	enter(c);
	if (c->state != ST_CLOSED && c->state != ST_IDLE)
		close_conn(c, ERR_CLOSED);
	leave(c);
}

static struct inflight *ring_at(struct kafka_conn *c, uint32_t i)
{
	return &c->ring[(c->head + i) % KAFKA_CONN_INFLIGHT_MAX];
}

static void arm_timer(struct kafka_conn *c)
{
	if (c->count == 0) {
		evtimer_del(c->timer);
		return;
	}
	uint64_t now = port_now_ns(), due = ring_at(c, 0)->deadline_ns;
	uint64_t wait_us = due > now ? (due - now) / 1000 + 1 : 0;
	struct timeval tv = { (time_t)(wait_us / 1000000), (suseconds_t)(wait_us % 1000000) };
	evtimer_add(c->timer, &tv);
}

/* End the connection: every pending request fails with err, then the owner hears KAFKA_CONN_CLOSED. */
static void close_conn(struct kafka_conn *c, int err)
{
	if (c->state == ST_CLOSED)
		return;
	c->state = ST_CLOSED;
	evtimer_del(c->timer);
	if (c->bev) {
		bufferevent_free(c->bev);
		c->bev = NULL;
	}
	enter(c);
	while (c->count) {
		struct inflight f = *ring_at(c, 0);
		c->head = (c->head + 1) % KAFKA_CONN_INFLIGHT_MAX;
		c->count--;
		if (f.cb)
			f.cb(c, err, f.api_key, f.api_version, NULL, f.arg);
	}
	if (c->event_cb)
		c->event_cb(c, KAFKA_CONN_CLOSED, err, c->event_arg);
	leave(c);
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct kafka_conn *c = arg;
	if (c->count && port_now_ns() >= ring_at(c, 0)->deadline_ns) {
		log_warn("kafka: request (api %d, correlation id %d) timed out after %u ms", ring_at(c, 0)->api_key,
			 ring_at(c, 0)->correlation_id, c->timeout_ms);
		close_conn(c, ERR_TIMEOUT);
		return;
	}
	arm_timer(c);
}

static int enqueue(struct kafka_conn *c, int16_t api_key, int16_t version, const void *body, bool expect_answer,
		   kafka_response_cb cb, void *arg)
{
	if (expect_answer && c->count >= c->inflight_max)
		return ERR_FULL;
	struct kafka_request_header h = { api_key, version, c->next_correlation_id,
					  { c->client_id_len < 0 ? NULL : c->client_id, c->client_id_len } };
	size_t size;
	int rc = kafka_request_size(&h, body, &size);
	if (rc < 0)
		return rc;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	struct evbuffer_iovec v;
	if (evbuffer_reserve_space(out, (ev_ssize_t)size, &v, 1) != 1)
		return ERR_NOMEM;
	int n = kafka_request_encode(&h, body, v.iov_base, v.iov_len);
	if (n < 0)
		return n;
	v.iov_len = (size_t)n;
	if (evbuffer_commit_space(out, &v, 1) < 0)
		return ERR_NOMEM;
	c->next_correlation_id = c->next_correlation_id == INT32_MAX ? 1 : c->next_correlation_id + 1;
	if (expect_answer) {
		*ring_at(c, c->count) = (struct inflight){ h.correlation_id, api_key, version,
							   port_now_ns() + (uint64_t)c->timeout_ms * 1000000u, cb, arg };
		if (c->count++ == 0)
			arm_timer(c);
	}
	return 0;
}

int kafka_conn_send_version(struct kafka_conn *c, int16_t api_key, int16_t version, const void *body,
			    kafka_response_cb cb, void *arg)
{
	if (c->state != ST_READY)
		return ERR_STATE;
	if (api_key < 0 || api_key > KAFKA_API_KEY_MAX || c->versions[api_key] < 0 || version < 0 ||
	    version > c->versions[api_key])
		return ERR_KAFKA_UNSUPPORTED_VERSION;
	bool answer = !(api_key == KAFKA_API_PRODUCE && ((const struct kafka_produce_request *)body)->acks == 0);
	return enqueue(c, api_key, version, body, answer, cb, arg);
}

int kafka_conn_send(struct kafka_conn *c, int16_t api_key, const void *body, kafka_response_cb cb, void *arg)
{
	return kafka_conn_send_version(c, api_key, kafka_conn_version(c, api_key), body, cb, arg);
}

int16_t kafka_conn_version(const struct kafka_conn *c, int16_t api_key)
{
	if (api_key < 0 || api_key > KAFKA_API_KEY_MAX)
		return -1;
	return c->versions[api_key];
}

bool kafka_conn_ready(const struct kafka_conn *c) { return c->state == ST_READY; }
uint32_t kafka_conn_inflight(const struct kafka_conn *c) { return c->count; }

/* ---- ApiVersions negotiation ----------------------------------------------------------------------------- */

static int send_api_versions(struct kafka_conn *c, int16_t version)
{
	struct kafka_api_versions_request req;
	kafka_msg_init(&kafka_msg_api_versions_request, &req);
	req.client_software_name = (struct kafka_str){ "ferry", 5 };
	req.client_software_version = (struct kafka_str){ FERRY_VERSION, (int32_t)strlen(FERRY_VERSION) };
	return enqueue(c, KAFKA_API_API_VERSIONS, version, &req, true, NULL, NULL);
}

static int ready(struct kafka_conn *c)
{
	c->state = ST_READY;
	if (c->event_cb)
		c->event_cb(c, KAFKA_CONN_READY, 0, c->event_arg);
	return 0;
}

/* ---- SASL (KIP-43 handshake, KIP-152 authenticate frames) ------------------------------------------------ */

/* SaslHandshake v1 then SaslAuthenticate: the v0 handshake's raw, unframed tokens are not supported. */
static int start_sasl(struct kafka_conn *c)
{
	enum kafka_scram_hash hash;
	bool known = strcmp(c->sasl_mechanism, "PLAIN") == 0 || kafka_scram_mechanism(c->sasl_mechanism, &hash) == 0;
	if (!known || c->versions[KAFKA_API_SASL_HANDSHAKE] < 1 || c->versions[KAFKA_API_SASL_AUTHENTICATE] < 0) {
		log_warn("kafka: SASL %s: we speak PLAIN and SCRAM-SHA-256/512, over SaslHandshake v1 + "
			 "SaslAuthenticate", c->sasl_mechanism);
		return ERR_AUTH;
	}
	c->state = ST_AUTHENTICATING;
	c->sasl_step = 0;
	struct kafka_sasl_handshake_request req = { { c->sasl_mechanism, (int32_t)strlen(c->sasl_mechanism) } };
	return enqueue(c, KAFKA_API_SASL_HANDSHAKE, c->versions[KAFKA_API_SASL_HANDSHAKE], &req, true, NULL, NULL);
}

static int send_auth(struct kafka_conn *c, const void *bytes, size_t len)
{
	struct kafka_sasl_authenticate_request req = { { bytes, (int32_t)len } };
	c->sasl_step++;
	return enqueue(c, KAFKA_API_SASL_AUTHENTICATE, c->versions[KAFKA_API_SASL_AUTHENTICATE], &req, true, NULL, NULL);
}

static int on_sasl_handshake(struct kafka_conn *c, const struct kafka_sasl_handshake_response *r)
{
	if (r->error_code) {
		log_warn("kafka: SASL mechanism %s refused (error %d)", c->sasl_mechanism, r->error_code);
		return ERR_AUTH;
	}
	enum kafka_scram_hash hash;
	if (kafka_scram_mechanism(c->sasl_mechanism, &hash) == 0) {
		uint8_t rnd[24];
		char first[KAFKA_SCRAM_MSG_MAX];
		if (port_random(rnd, sizeof rnd) < 0)
			return ERR_IO;
		int n = kafka_scram_client_first(&c->scram, hash, c->sasl_username, c->sasl_password, rnd, sizeof rnd,
						 first, sizeof first);
		return n < 0 ? ERR_AUTH : send_auth(c, first, (size_t)n);
	}
	/* PLAIN (RFC 4616): authzid NUL authcid NUL passwd; an empty authzid. */
	uint8_t token[2 * KAFKA_SASL_FIELD_MAX + 2];
	size_t ul = strlen(c->sasl_username), pl = strlen(c->sasl_password);
	token[0] = 0;
	memcpy(token + 1, c->sasl_username, ul);
	token[1 + ul] = 0;
	memcpy(token + 2 + ul, c->sasl_password, pl);
	int rc = send_auth(c, token, 2 + ul + pl);
	memset(token, 0, sizeof token);
	return rc;
}

static int on_sasl_authenticate(struct kafka_conn *c, const struct kafka_sasl_authenticate_response *r)
{
	if (r->error_code) {
		log_warn("kafka: SASL authentication as %s failed (error %d: %.*s)", c->sasl_username, r->error_code,
			 r->error_message.len > 0 ? r->error_message.len : 0, r->error_message.p ? r->error_message.p : "");
		return ERR_AUTH;
	}
	if (strcmp(c->sasl_mechanism, "PLAIN") == 0)
		return ready(c);
	const uint8_t *in = r->auth_bytes.p;
	size_t in_len = r->auth_bytes.len > 0 ? (size_t)r->auth_bytes.len : 0;
	if (c->sasl_step == 1) { /* server-first -> client-final */
		char final[KAFKA_SCRAM_MSG_MAX];
		int n = kafka_scram_client_final(&c->scram, in, in_len, final, sizeof final);
		if (n < 0) {
			log_warn("kafka: SCRAM server-first refused: %s", err_str(n));
			return ERR_AUTH;
		}
		return send_auth(c, final, (size_t)n);
	}
	int rc = kafka_scram_verify(&c->scram, in, in_len); /* server-final: the server knew our password too */
	kafka_scram_wipe(&c->scram);
	if (rc < 0) {
		log_warn("kafka: SCRAM server signature does not verify: not the server we know");
		return ERR_AUTH;
	}
	return ready(c);
}

/* Highest common version per API (KIP-35); KIP-511 fallback when the peer refused our ApiVersions version. */
static int on_api_versions(struct kafka_conn *c, int16_t version, const struct kafka_api_versions_response *r)
{
	if (r->error_code == KAFKA_EC_UNSUPPORTED_VERSION && version > 0) {
		int16_t retry = 0;
		for (int i = 0; i < r->api_keys.count; i++)
			if (r->api_keys.items[i].api_key == KAFKA_API_API_VERSIONS &&
			    r->api_keys.items[i].max_version < version)
				retry = r->api_keys.items[i].max_version;
		return send_api_versions(c, retry);
	}
	if (r->error_code)
		return ERR_KAFKA_PEER_ERROR;
	for (int i = 0; i < r->api_keys.count; i++) {
		const struct kafka_api_versions_response_api_version *v = &r->api_keys.items[i];
		const struct kafka_api_desc *ours = kafka_api_find(v->api_key);
		if (!ours || v->max_version < ours->min_version || v->min_version > ours->max_version)
			continue;
		c->versions[v->api_key] = v->max_version < ours->max_version ? v->max_version : ours->max_version;
	}
	if (c->sasl_mechanism[0])
		return start_sasl(c);
	return ready(c);
}

/* ---- reading -------------------------------------------------------------------------------------------- */

/* Deliver one whole frame (prefix included).  Returns 0, or an error that ends the connection. */
static int on_frame(struct kafka_conn *c, const uint8_t *frame, size_t len)
{
	int32_t corr;
	if (c->count == 0 || kafka_response_correlation_id(frame + 4, len - 4, &corr) < 0 ||
	    corr != ring_at(c, 0)->correlation_id)
		return ERR_PROTOCOL; /* unsolicited or out of order */
	struct inflight f = *ring_at(c, 0);
	c->head = (c->head + 1) % KAFKA_CONN_INFLIGHT_MAX;
	c->count--;
	arm_timer(c);
	struct kafka_arena a;
	kafka_arena_init(&a, c->arena_mem, c->arena_size);
	int rc = kafka_response_decode(frame + 4, len - 4, f.api_key, f.api_version, &corr, &c->resp, &a);
	if (!f.cb) { /* our own: ApiVersions, then SASL */
		if (rc < 0)
			return rc;
		if (f.api_key == KAFKA_API_SASL_HANDSHAKE)
			return on_sasl_handshake(c, &c->resp.sasl_handshake);
		if (f.api_key == KAFKA_API_SASL_AUTHENTICATE)
			return on_sasl_authenticate(c, &c->resp.sasl_authenticate);
		return on_api_versions(c, f.api_version, &c->resp.api_versions);
	}
	f.cb(c, rc, f.api_key, f.api_version, rc < 0 ? NULL : &c->resp, f.arg);
	return 0; /* a response we cannot decode fails that request, not the connection */
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct kafka_conn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	enter(c);
	while (c->state == ST_READY || c->state == ST_NEGOTIATING || c->state == ST_AUTHENTICATING) {
		uint8_t prefix[4];
		size_t have = evbuffer_get_length(in);
		if (evbuffer_copyout(in, prefix, sizeof prefix) < (ev_ssize_t)sizeof prefix)
			break;
		int32_t size = (int32_t)be32_get(prefix);
		if (size < 4 || (size_t)size > c->frame_max) { /* a response holds at least its correlation id */
			log_warn("kafka: response frame of %d bytes (limit %zu); closing", size, c->frame_max);
			close_conn(c, ERR_PROTOCOL);
			break;
		}
		size_t body = (size_t)size;
		if (have < 4 + body)
			break;
		const uint8_t *frame = evbuffer_pullup(in, (ev_ssize_t)(4 + body));
		int rc = frame ? on_frame(c, frame, 4 + body) : ERR_NOMEM;
		if (c->state == ST_CLOSED)
			break;
		evbuffer_drain(in, 4 + body);
		if (rc < 0) {
			log_warn("kafka: closing: %s", err_str(rc));
			close_conn(c, rc);
		}
	}
	leave(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	struct kafka_conn *c = arg;
	enter(c);
	if (what & BEV_EVENT_CONNECTED) {
		c->state = ST_NEGOTIATING;
		int rc = send_api_versions(c, kafka_api_find(KAFKA_API_API_VERSIONS)->max_version);
		if (rc < 0)
			close_conn(c, rc);
	} else if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		close_conn(c, what & BEV_EVENT_EOF ? ERR_CLOSED : ERR_IO);
	}
	leave(c);
}

int kafka_conn_connect(struct kafka_conn *c, const char *host, uint16_t port)
{
	if (c->state != ST_IDLE)
		return ERR_STATE;
	struct sockaddr_storage ss;
	int sslen = sizeof ss;
	char addr[300];
	snprintf(addr, sizeof addr, strchr(host, ':') ? "[%s]:%u" : "%s:%u", host, port);
	bool numeric = evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss, &sslen) == 0;
	if (!numeric && !c->dns)
		return ERR_INVAL;
	struct bufferevent *bev = bufferevent_socket_new(c->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!bev)
		return ERR_NOMEM;
	if (c->tls) {
		bev = net_tls_wrap(c->tls, c->base, bev, c->tls_hostname[0] ? c->tls_hostname : NULL);
		if (!bev)
			return ERR_NOMEM;
	}
	struct bufferevent *sock = c->tls ? bufferevent_get_underlying(bev) : bev;
	c->bev = bev;
	bufferevent_setcb(bev, on_read, NULL, on_event, c);
	c->state = ST_CONNECTING;
	int rc = numeric ? bufferevent_socket_connect(sock, (struct sockaddr *)&ss, sslen)
			 : bufferevent_socket_connect_hostname(sock, c->dns, AF_UNSPEC, host, port);
	if (rc < 0) {
		bufferevent_free(bev);
		c->bev = NULL;
		c->state = ST_IDLE;
		return ERR_IO;
	}
	net_bev_resume_read(bev);
	return 0;
}
