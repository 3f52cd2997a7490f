/* The broker (broker.h): opens the node's state, runs its timers and parked requests. */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <event2/event.h>

#include "base/err.h"
#include "base/log.h"
#include "cloud/api/api.h"
#include "cloud/broker.h"
#include "cloud/group/group.h"
#include "cloud/group/offsets.h"
#include "cloud/partition/partition.h"
#include "cloud/server/sasl.h"
#include "cloud/server/server.h"
#include "net/http_admin.h"
#include "net/tls.h"
#include "port.h"

#define PRODUCER_ID_BLOCK 1000
#define RETENTION_CHECK_MS 60000
#define GAUGES_MS 5000
#define METRICS_MAX 4096

static struct topic_store store; /* one broker per process */

uint64_t broker_now_ms(void) { return port_now_ms(); }

/* ---- parked requests and timers ------------------------------------------------------------------------ */

void broker_park(struct broker *b, struct broker_waiters *q, struct broker_waiter *w)
{
	TAILQ_INSERT_TAIL(q, w, link);
	w->req->park = w;
	metric_add(q == &b->fetch_waiters ? b->m.fetch_parked : b->m.produce_parked, 1);
	broker_schedule(b);
}

void broker_unpark(struct broker *b, struct broker_waiters *q, struct broker_waiter *w)
{
	TAILQ_REMOVE(q, w, link);
	w->req->park = NULL;
	metric_add(q == &b->fetch_waiters ? b->m.fetch_parked : b->m.produce_parked, -1);
}

/* Offer each waiter in q the chance to answer; expired ones must. */
static void run_waiters(struct broker *b, struct broker_waiters *q, uint64_t now, bool force, bool failed)
{
	/* Take the whole list first: a waiter that is not ready goes back on q and must not be seen again. */
	struct broker_waiters now_q;
	TAILQ_INIT(&now_q);
	TAILQ_CONCAT(&now_q, q, link);
	struct broker_waiter *w;
	while ((w = TAILQ_FIRST(&now_q))) {
		TAILQ_REMOVE(&now_q, w, link);
		w->req->park = NULL;
		/* Fetch waiters are told whether they must answer now (deadline or shutdown); Produce waiters whether
		 * the flush that they waited for failed. */
		bool flag = q == &b->produce_waiters ? failed : force || now >= w->deadline_ms;
		/* ready() may answer the request, which frees it (and w with its arena). */
		if (w->ready(b, w, flag)) {
			metric_add(q == &b->fetch_waiters ? b->m.fetch_parked : b->m.produce_parked, -1);
		} else {
			TAILQ_INSERT_TAIL(q, w, link);
			w->req->park = w;
		}
	}
}

static void flush_round(struct broker *b)
{
	size_t flushed = 0;
	int rc = topics_flush(b->topics, &flushed);
	if (rc)
		log_error("flush: %s (acknowledgements wait for a successful flush)", err_str(rc));
	b->last_flush_ms = broker_now_ms();
	/* Only a poll that published something can make a parked Produce ready (or failed); high watermarks
	 * moved too, so parked fetches may be answerable. */
	if (flushed || rc) {
		if (!TAILQ_EMPTY(&b->produce_waiters))
			run_waiters(b, &b->produce_waiters, b->last_flush_ms, false, false);
		if (!TAILQ_EMPTY(&b->fetch_waiters))
			run_waiters(b, &b->fetch_waiters, b->last_flush_ms, false, false);
	}
}

/* Runs on the flusher thread: only wake the loop (evthread_use_pthreads makes this safe). */
static void flusher_wake(void *ctx) { event_active(ctx, 0, 0); }

static void flush_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct broker *b = arg;
	flush_round(b);
	broker_schedule(b);
}

static void wake_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct broker *b = arg;
	b->wake_pending = false;
	if (b->cfg->flush == CLOUD_FLUSH_ALWAYS)
		flush_round(b); /* one group commit for everything appended this loop turn */
	if (!TAILQ_EMPTY(&b->fetch_waiters))
		run_waiters(b, &b->fetch_waiters, broker_now_ms(), false, false);
	broker_schedule(b);
}

void broker_data_arrived(struct broker *b, struct partition *p)
{
	(void)p;
	if (!b->wake_pending) {
		b->wake_pending = true;
		event_active(b->wake_ev, 0, 0);
	}
}

void broker_schedule(struct broker *b)
{
	uint64_t now = broker_now_ms(), next = group_next_deadline(b->groups);
	struct broker_waiter *w;
	TAILQ_FOREACH(w, &b->fetch_waiters, link)
		if (w->deadline_ms < next)
			next = w->deadline_ms;
	if (b->cfg->flush == CLOUD_FLUSH_INTERVAL && b->last_flush_ms + b->cfg->flush_interval_ms < next)
		next = b->last_flush_ms + b->cfg->flush_interval_ms;
	if (b->last_retention_ms + RETENTION_CHECK_MS < next)
		next = b->last_retention_ms + RETENTION_CHECK_MS;
	if (b->last_gauges_ms + GAUGES_MS < next)
		next = b->last_gauges_ms + GAUGES_MS;
	uint64_t delay = next > now ? next - now : 0;
	struct timeval tv = {(time_t)(delay / 1000), (suseconds_t)(delay % 1000) * 1000};
	event_add(b->tick_ev, &tv);
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	struct broker *b = arg;
	uint64_t now = broker_now_ms();
	if (!TAILQ_EMPTY(&b->fetch_waiters))
		run_waiters(b, &b->fetch_waiters, now, false, false);
	group_tick(b->groups, now);
	if (b->cfg->flush == CLOUD_FLUSH_INTERVAL && now >= b->last_flush_ms + b->cfg->flush_interval_ms)
		flush_round(b);
	if (now >= b->last_gauges_ms + GAUGES_MS) {
		topics_update_gauges(b->topics);
		server_close_idle(b->plain, now, b->cfg->idle_timeout_ms, b->cfg->auth_timeout_ms);
		server_close_idle(b->tls, now, b->cfg->idle_timeout_ms, b->cfg->auth_timeout_ms);
		b->last_gauges_ms = now;
	}
	if (now >= b->last_retention_ms + RETENTION_CHECK_MS) {
		topics_retention(b->topics);
		b->last_retention_ms = now;
	}
	broker_schedule(b);
}

/* ---- producer ids -------------------------------------------------------------------------------------- */

static int producer_ids_reserve(struct broker *b)
{
	char path[CLOUD_PATH_MAX + 32], text[32];
	snprintf(path, sizeof path, "%s/producer-ids", b->cfg->data_dir);
	int64_t end = b->producer_id_reserved + PRODUCER_ID_BLOCK;
	int n = snprintf(text, sizeof text, "%" PRId64 "\n", end);
	int rc = port_write_file_atomic(path, text, (size_t)n);
	if (rc) {
		log_error("write %s: %s", path, err_str(rc));
		return rc;
	}
	b->producer_id_reserved = end;
	return 0;
}

static void producer_ids_load(struct broker *b)
{
	char path[CLOUD_PATH_MAX + 32];
	snprintf(path, sizeof path, "%s/producer-ids", b->cfg->data_dir);
	FILE *f = fopen(path, "r");
	int64_t end = 0;
	if (f) {
		if (fscanf(f, "%" SCNd64, &end) != 1 || end < 0)
			end = 0;
		fclose(f);
	}
	/* Ids below the last reserved end may have been handed out before a crash: never reuse them. */
	b->next_producer_id = b->producer_id_reserved = end;
}

int broker_alloc_producer_id(struct broker *b, int64_t *out)
{
	if (b->next_producer_id >= b->producer_id_reserved) {
		int rc = producer_ids_reserve(b);
		if (rc)
			return rc;
	}
	*out = b->next_producer_id++;
	return 0;
}

/* ---- opening ------------------------------------------------------------------------------------------- */

static void register_metrics(struct broker *b)
{
	struct metrics *m = &b->metrics;
	struct broker_metrics *x = &b->m;
	x->conn_accepted = metrics_counter(m, "ferry_cloud_connections_accepted_total", "", "client connections accepted");
	x->conn_rejected = metrics_counter(m, "ferry_cloud_connections_rejected_total", "", "refused: connections_max");
	x->conn_open = metrics_gauge(m, "ferry_cloud_connections_open", "", "client connections open");
	const char *h = "connections closed on bad input";
	x->closed_framing = metrics_counter(m, "ferry_cloud_connections_closed_total", "reason=\"framing\"", h);
	x->closed_oversize = metrics_counter(m, "ferry_cloud_connections_closed_total", "reason=\"oversize\"", h);
	x->closed_malformed = metrics_counter(m, "ferry_cloud_connections_closed_total", "reason=\"malformed\"", h);
	x->closed_unsupported = metrics_counter(m, "ferry_cloud_connections_closed_total", "reason=\"unsupported\"", h);
	x->closed_auth = metrics_counter(m, "ferry_cloud_connections_closed_total", "reason=\"unauthenticated\"", h);
	x->crc_rejected = metrics_counter(m, "ferry_cloud_batches_crc_rejected_total", "", "batches refused for a bad CRC");
	x->auth_failed = metrics_counter(m, "ferry_cloud_sasl_failures_total", "", "failed SASL authentications");
	x->fetch_parked = metrics_gauge(m, "ferry_cloud_fetch_parked", "", "Fetch requests waiting for data");
	x->produce_parked = metrics_gauge(m, "ferry_cloud_produce_parked", "", "Produce requests waiting for fsync");
	x->fetch_sendfile_bytes = metrics_counter(m, "ferry_cloud_fetch_sendfile_bytes_total", "",
						  "record bytes served as file segments (sendfile, no user-space copy)");
	x->fetch_copied_bytes = metrics_counter(m, "ferry_cloud_fetch_copied_bytes_total", "",
						"record bytes copied into a Fetch response (TLS, memory logs)");
	static const double bounds[] = {0.0001, 0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5};
	for (int16_t k = 0; k < BROKER_API_SLOTS; k++) {
		const char *name = api_name(k);
		if (!strcmp(name, "Unknown"))
			continue;
		char labels[64];
		snprintf(labels, sizeof labels, "api=\"%s\"", name);
		x->requests[k] = metrics_counter(m, "ferry_cloud_requests_total", labels, "requests received per API");
		x->latency[k] = metrics_histogram(m, "ferry_cloud_request_seconds", labels,
						  "request latency, receipt to answer, per API", bounds, 10);
	}
}

static int64_t gauge_log_bytes(void *ctx) { return (int64_t)topics_total_bytes(((struct broker *)ctx)->topics); }
static int64_t gauge_groups(void *ctx) { return group_count(((struct broker *)ctx)->groups); }
static int64_t gauge_topics(void *ctx) { return (int64_t)topics_count(((struct broker *)ctx)->topics); }

static bool healthy(void *arg, char *why, size_t why_len)
{
	struct broker *b = arg;
	return !topics_failed(b->topics, why, why_len);
}

static void advertised(const struct cloud_listener *l, uint16_t bound_port, char *host, size_t host_len,
		       uint16_t *port)
{
	*port = l->advertised_port ? (uint16_t)l->advertised_port : bound_port;
	if (l->advertised_host[0]) {
		snprintf(host, host_len, "%s", l->advertised_host);
		return;
	}
	if (strcmp(l->host, "0.0.0.0") && strcmp(l->host, "::") && strcmp(l->host, "")) {
		snprintf(host, host_len, "%s", l->host);
		return;
	}
	/* Bound to every address: advertise the first non-loopback IPv4 address, never a name. */
	snprintf(host, host_len, "127.0.0.1");
	struct ifaddrs *ifs;
	if (getifaddrs(&ifs))
		return;
	for (struct ifaddrs *i = ifs; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET) {
			struct in_addr a = ((struct sockaddr_in *)i->ifa_addr)->sin_addr;
			if ((ntohl(a.s_addr) >> 24) == 127)
				continue;
			inet_ntop(AF_INET, &a, host, (socklen_t)host_len);
			break;
		}
	freeifaddrs(ifs);
}

static int open_listeners(struct broker *b)
{
	const struct cloud_config *c = b->cfg;
	int rc;
	if (c->plain.port || (!c->tls.port)) {
		if ((rc = server_new(&b->plain, b, b->base, &c->plain, NULL)))
			return rc;
		advertised(&c->plain, server_port(b->plain), b->advertised_host, sizeof b->advertised_host,
			   &b->advertised_port);
		log_info("kafka: listening on %s:%u (plaintext%s), advertised as %s:%u", c->plain.host,
			 server_port(b->plain), c->plain.sasl ? ", SASL" : "", b->advertised_host, b->advertised_port);
	}
	if (c->tls.port) {
		struct net_tls_config tc = {.cert_file = c->tls.cert_file, .key_file = c->tls.key_file,
					    .ca_file = c->tls.ca_file[0] ? c->tls.ca_file : NULL,
					    .verify = c->tls.client_auth ? NET_TLS_VERIFY_REQUIRED : NET_TLS_VERIFY_NONE};
		struct net_tls *tls;
		char err[256];
		if ((rc = net_tls_new(&tls, NET_TLS_SERVER, &tc, err, sizeof err))) {
			log_error("kafka: TLS listener: %s", err);
			return rc;
		}
		rc = server_new(&b->tls, b, b->base, &c->tls, tls);
		net_tls_unref(tls);
		if (rc)
			return rc;
		advertised(&c->tls, server_port(b->tls), b->tls_advertised_host, sizeof b->tls_advertised_host,
			   &b->tls_advertised_port);
		log_info("kafka: listening on %s:%u (TLS%s), advertised as %s:%u", c->tls.host, server_port(b->tls),
			 c->tls.sasl ? ", SASL" : "", b->tls_advertised_host, b->tls_advertised_port);
		if (!b->plain) {
			snprintf(b->advertised_host, sizeof b->advertised_host, "%s", b->tls_advertised_host);
			b->advertised_port = b->tls_advertised_port;
		}
	}
	return 0;
}

static int mkdirs(const char *path)
{
	char buf[CLOUD_PATH_MAX];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *p = buf + 1; *p; p++)
		if (*p == '/') {
			*p = 0;
			if (mkdir(buf, 0755) && errno != EEXIST)
				return ERR_IO;
			*p = '/';
		}
	return mkdir(buf, 0755) && errno != EEXIST ? ERR_IO : 0;
}

/* Groups that exist only through their committed offsets (after a restart) are listed as Empty. */
static void touch_group(void *arg, const char *group)
{
	group_touch(arg, (struct group_view){group, strlen(group)});
}

static int open_state(struct broker *b)
{
	const struct cloud_config *c = b->cfg;
	int rc;
	if ((rc = mkdirs(c->data_dir))) {
		log_error("mkdir %s: %s", c->data_dir, strerror(errno));
		return rc;
	}
	struct topics_config tc = {.data_dir = c->data_dir, .topics_max = c->topics_max,
				   .partitions_max = c->partitions_max, .node_id = (int32_t)c->node_id,
				   .metrics = &b->metrics};
	log_config_default(&tc.log);
	tc.log.segment_bytes = c->segment_bytes;
	tc.log.batch_bytes_max = c->message_bytes_max;
	tc.log.retention_ms = c->retention_ms ? (int64_t)c->retention_ms : -1;
	tc.log.retention_bytes = c->retention_bytes ? (int64_t)c->retention_bytes : -1;
	tc.log.flush_policy = c->flush == CLOUD_FLUSH_ALWAYS ? LOG_FLUSH_SYNC
			      : c->flush == CLOUD_FLUSH_INTERVAL ? LOG_FLUSH_INTERVAL : LOG_FLUSH_NONE;
	tc.log.flush_interval_ms = (int64_t)c->flush_interval_ms;
	if ((rc = log_config_check(&tc.log))) {
		log_error("[topics] settings rejected by the log: %s", err_str(rc));
		return rc;
	}
	if ((rc = topic_store_file_init(&store, c->data_dir)) || (rc = topics_open(&b->topics, &tc, &store))) {
		log_error("opening topics in %s: %s", c->data_dir, err_str(rc));
		return rc;
	}
	struct topic *ot = topics_find(b->topics, OFFSETS_TOPIC, strlen(OFFSETS_TOPIC));
	if (!ot && (rc = topics_create(b->topics, OFFSETS_TOPIC, strlen(OFFSETS_TOPIC), c->offsets_partitions, true, &ot)))
		return rc;
	if ((rc = offsets_open(&b->offsets, ot, OFFSETS_ENTRIES_MAX)))
		return rc;
	struct group_limits gl = {
		.session_timeout_ms_min = (uint32_t)c->group_session_timeout_ms_min,
		.session_timeout_ms_max = (uint32_t)c->group_session_timeout_ms_max,
		.initial_rebalance_delay_ms = (uint32_t)c->group_initial_rebalance_delay_ms,
		.members_max = c->group_members_max, .groups_max = c->groups_max,
	};
	struct group_callbacks cb = {b, api_group_join_done, api_group_sync_done};
	if (!(b->groups = group_coord_new(&gl, &cb)))
		return ERR_NOMEM;
	offsets_groups(b->offsets, touch_group, b->groups);
	producer_ids_load(b);
	return 0;
}

int broker_open(struct broker *b, const struct cloud_config *cfg, struct event_base *base)
{
	memset(b, 0, sizeof *b);
	b->cfg = cfg;
	b->base = base;
	TAILQ_INIT(&b->fetch_waiters);
	TAILQ_INIT(&b->produce_waiters);
	int rc = metrics_init(&b->metrics, METRICS_MAX);
	if (rc)
		return rc;
	register_metrics(b);
	if (!(b->users = calloc(1, sizeof *b->users)))
		return ERR_NOMEM;
	sasl_users_init(b->users);
	for (uint32_t i = 0; i < cfg->user_count; i++)
		if ((rc = sasl_users_add(b->users, cfg->users[i].name, cfg->users[i].password))) {
			log_error("[user %s]: %s", cfg->users[i].name, err_str(rc));
			return rc;
		}
	if ((rc = open_state(b)))
		return rc;
	metrics_gauge_fn(&b->metrics, "ferry_cloud_log_bytes", "", "bytes in partition logs", gauge_log_bytes, b);
	metrics_gauge_fn(&b->metrics, "ferry_cloud_groups", "", "consumer groups known", gauge_groups, b);
	metrics_gauge_fn(&b->metrics, "ferry_cloud_topics", "", "topics", gauge_topics, b);
	b->tick_ev = event_new(base, -1, 0, tick_cb, b);
	b->wake_ev = event_new(base, -1, 0, wake_cb, b);
	b->flush_ev = event_new(base, -1, 0, flush_cb, b);
	if (!b->tick_ev || !b->wake_ev || !b->flush_ev)
		return ERR_NOMEM;
	/* Group commit rounds run on a thread, so the loop never waits on fdatasync (DESIGN). */
	if (cfg->flush != CLOUD_FLUSH_NONE && (rc = topics_flusher_start(b->topics, flusher_wake, b->flush_ev))) {
		log_error("log flusher thread: %s", err_str(rc));
		return rc;
	}
	b->last_flush_ms = b->last_retention_ms = broker_now_ms();
	if ((rc = open_listeners(b)))
		return rc;
	if (cfg->admin_port) {
		char err[256];
		if ((rc = net_admin_new(&b->admin, base, cfg->admin_host, (uint16_t)cfg->admin_port, &b->metrics, healthy,
					b, err, sizeof err))) {
			log_error("admin HTTP on %s:%u: %s", cfg->admin_host, cfg->admin_port, err);
			return rc;
		}
		log_info("admin HTTP on %s:%u (/metrics, /healthz)", cfg->admin_host, net_admin_port(b->admin));
	}
	broker_schedule(b);
	return 0;
}

void broker_close(struct broker *b)
{
	if (b->admin)
		net_admin_free(b->admin);
	server_free(b->plain);
	server_free(b->tls);
	b->plain = b->tls = NULL;
	/* Parked requests are orphans now (their connections are gone); answer and free them.  Stopping the
	 * flusher publishes its round; the last one then runs in place. */
	if (b->topics) {
		topics_flusher_stop(b->topics);
		flush_round(b);
	}
	run_waiters(b, &b->fetch_waiters, UINT64_MAX, true, false);
	run_waiters(b, &b->produce_waiters, UINT64_MAX, true, true);
	group_coord_free(b->groups);
	offsets_close(b->offsets);
	topics_close(b->topics);
	topic_store_file_deinit(&store);
	if (b->users) {
		sasl_users_deinit(b->users);
		free(b->users);
	}
	if (b->tick_ev)
		event_free(b->tick_ev);
	if (b->wake_ev)
		event_free(b->wake_ev);
	if (b->flush_ev)
		event_free(b->flush_ev);
	metrics_deinit(&b->metrics);
	memset(b, 0, sizeof *b);
}
