/* $SYS/broker/... topics (retained, published every sys_interval) and the broker's Prometheus metrics.
 * Both read the engine's counters; neither keeps state of its own. */
#include <stdio.h>
#include <string.h>

#include "agent/broker/internal.h"
#include "base/metrics.h"
#include "port.h"

static void sys_pub(struct agent_broker *ab, const char *topic, unsigned long long v, const char *suffix)
{
	char payload[64];
	int n = snprintf(payload, sizeof payload, "%llu%s", v, suffix);
	mqtt_broker_publish(ab->b, mqtt_cstr(topic), (struct mqtt_bytes){(const uint8_t *)payload, (uint32_t)n}, 0,
			    true, ab_now_ms());
}

void ab_sys_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct agent_broker *ab = arg;
	const struct mqtt_broker_stats *s = mqtt_broker_stats(ab->b);
	sys_pub(ab, "$SYS/broker/clients/connected", s->clients_connected, "");
	sys_pub(ab, "$SYS/broker/clients/total", s->sessions, "");
	sys_pub(ab, "$SYS/broker/messages/received", s->msgs_in, "");
	sys_pub(ab, "$SYS/broker/messages/sent", s->msgs_out, "");
	sys_pub(ab, "$SYS/broker/messages/dropped", s->msgs_dropped, "");
	sys_pub(ab, "$SYS/broker/messages/retained", s->msgs_retained, "");
	sys_pub(ab, "$SYS/broker/bytes/received", s->bytes_in, "");
	sys_pub(ab, "$SYS/broker/bytes/sent", s->bytes_out, "");
	sys_pub(ab, "$SYS/broker/subscriptions/count", s->subscriptions, "");
	sys_pub(ab, "$SYS/broker/uptime", (ab_now_ms() - ab->started_ms) / 1000, " seconds");
	mqtt_broker_publish(ab->b, mqtt_cstr("$SYS/broker/version"), mqtt_cstr("ferry-agent " FERRY_VERSION), 0, true,
			    ab_now_ms());
}

/* Each metric reads one field of the engine's stats at scrape time. */
struct stat_metric {
	const char *name, *help;
	size_t offset;
};

#define STAT(field, name, help) {name, help, offsetof(struct mqtt_broker_stats, field)}
static const struct stat_metric stat_metrics[] = {
	STAT(clients_connected, "ferry_mqtt_clients_connected", "MQTT clients connected now"),
	STAT(clients_total, "ferry_mqtt_connects_total", "Accepted MQTT CONNECTs"),
	STAT(sessions, "ferry_mqtt_sessions", "Sessions held (connected or waiting to expire)"),
	STAT(sessions_persistent, "ferry_mqtt_sessions_persistent", "Sessions with a non-zero expiry"),
	STAT(msgs_in, "ferry_mqtt_messages_received_total", "PUBLISH packets accepted from clients"),
	STAT(msgs_out, "ferry_mqtt_messages_sent_total", "PUBLISH packets sent to clients"),
	STAT(bytes_in, "ferry_mqtt_bytes_received_total", "MQTT packet bytes received"),
	STAT(bytes_out, "ferry_mqtt_bytes_sent_total", "PUBLISH bytes sent"),
	STAT(msgs_dropped, "ferry_mqtt_messages_dropped_total", "Messages dropped: queue full, too large, expired"),
	STAT(msgs_retained, "ferry_mqtt_retained_messages", "Retained messages held"),
	STAT(subscriptions, "ferry_mqtt_subscriptions", "Subscriptions held"),
	STAT(malformed, "ferry_mqtt_malformed_total", "Connections closed for a malformed packet"),
	STAT(protocol_errors, "ferry_mqtt_protocol_errors_total", "Connections closed for a protocol error"),
	STAT(auth_failures, "ferry_mqtt_auth_failures_total", "CONNECTs refused by authentication"),
	STAT(acl_denials, "ferry_mqtt_acl_denials_total", "Publishes, deliveries and subscriptions refused by the ACL"),
	STAT(wills_published, "ferry_mqtt_wills_published_total", "Will messages published"),
	STAT(sessions_expired, "ferry_mqtt_sessions_expired_total", "Sessions ended by their expiry"),
	STAT(takeovers, "ferry_mqtt_session_takeovers_total", "Connections closed by a new one with the same client id"),
	STAT(keepalive_timeouts, "ferry_mqtt_keepalive_timeouts_total", "Connections closed for keep alive"),
};

_Static_assert(sizeof stat_metrics / sizeof stat_metrics[0] <= AB_STAT_READERS_MAX, "room for every reader");

static int64_t read_stat(void *ctx)
{
	struct ab_stat_reader *r = ctx;
	const struct mqtt_broker_stats *s = mqtt_broker_stats(r->ab->b);
	return (int64_t)*(const uint64_t *)(const void *)((const char *)s + r->offset);
}

static int64_t read_conns(void *ctx) { return ((struct agent_broker *)ctx)->conn_count; }
static int64_t read_accepted(void *ctx)
{
	struct agent_broker *ab = ctx;
	int64_t n = 0;
	for (int i = 0; i < AGENT_LISTENER_COUNT; i++) {
		if (!ab->listeners[i].l)
			continue;
		struct net_listener_stats st;
		net_listener_get_stats(ab->listeners[i].l, &st);
		n += (int64_t)st.accepted;
	}
	return n;
}
static int64_t read_store_errors(void *ctx) { return (int64_t)((struct agent_broker *)ctx)->store_errors; }
static int64_t read_backlog(void *ctx)
{
	struct agent_broker *ab = ctx;
	return (int64_t)(ab->submitted - ab->committed);
}
static int64_t read_rss(void *ctx)
{
	(void)ctx;
	return (int64_t)port_rss_bytes();
}

/* The registry must not outlive the broker once scrapes can happen (the agent frees the broker last). */
void ab_metrics_register(struct agent_broker *ab)
{
	if (!ab->metrics)
		return;
	for (size_t i = 0; i < sizeof stat_metrics / sizeof stat_metrics[0]; i++) {
		ab->readers[i] = (struct ab_stat_reader){ab, stat_metrics[i].offset};
		metrics_gauge_fn(ab->metrics, stat_metrics[i].name, "", stat_metrics[i].help, read_stat, &ab->readers[i]);
	}
	metrics_gauge_fn(ab->metrics, "ferry_agent_connections_open", "", "Open client connections", read_conns, ab);
	metrics_gauge_fn(ab->metrics, "ferry_agent_connections_accepted_total", "", "Connections accepted (after TLS)",
			 read_accepted, ab);
	metrics_gauge_fn(ab->metrics, "ferry_mqtt_store_errors_total", "", "Store submissions or commits that failed",
			 read_store_errors, ab);
	metrics_gauge_fn(ab->metrics, "ferry_mqtt_store_backlog", "", "Store items submitted and not committed",
			 read_backlog, ab);
	metrics_gauge_fn(ab->metrics, "ferry_process_rss_bytes", "", "Resident set size", read_rss, NULL);
}
