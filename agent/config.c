/* The agent's key table (config.h).  Every bound an operator can change lives here, once. */
#include <stdio.h>
#include <string.h>

#include "agent/config.h"
#include "agent/uplink_link.h"
#include "base/err.h"
#include "base/log.h"

#define OFF(f) offsetof(struct agent_config, f)
#define SZ(f) sizeof(((struct agent_config *)0)->f)
#define STR(k, f, def, doc) {k, CFG_STR, OFF(f), SZ(f), 0, 0, def, NULL, doc}
#define BOOL(k, f, def, doc) {k, CFG_BOOL, OFF(f), 0, 0, 1, def, NULL, doc}
#define U32(k, f, lo, hi, def, doc) {k, CFG_U32, OFF(f), 0, lo, hi, def, NULL, doc}
#define SIZE(k, f, lo, hi, def, doc) {k, CFG_SIZE, OFF(f), 0, lo, hi, def, NULL, doc}
#define DUR(k, f, lo, hi, def, doc) {k, CFG_DURATION, OFF(f), 0, lo, hi, def, NULL, doc}
#define ENUM(k, f, ch, def, doc) {k, CFG_ENUM, OFF(f), 0, 0, 0, def, ch, doc}

static const char *const log_levels[] = {"error", "warn", "info", "debug", "trace", NULL};
static const char *const sync_modes[] = {"full", "normal", NULL};
static const char *const route_policies[] = {"reject", "evict", NULL};
static const char *const compressions[] = {"none", "lz4", NULL};
static const char *const sasl_mechanisms[] = {"none", "plain", NULL};
static const char *const downlink_starts[] = {"latest", "earliest", NULL};

/* MQTT's own ceilings (MQTT 5.0 §1.5.4 strings, §2.1.4 packet size, §3.3.2.3.2 Receive Maximum). */
#define MQTT_STRING_MAX 65535u
#define MQTT_PACKET_MAX 268435455u
#define MQTT_RECEIVE_MAX 65535u
#define MQTT_KEEPALIVE_MAX_MS (65535u * 1000u)

static const struct config_key top_keys[] = {
	STR("data_dir", data_dir, "./var", "Directory for the database (agent.db) and other state; created if missing"),
	ENUM("log_level", log_level, log_levels, "info", "Log verbosity: error, warn, info, debug or trace"),
	DUR("sys_interval", sys_interval_ms, 0, 86400000, "10s", "Period of the $SYS/broker statistics topics; 0s turns them off"),
	{0},
};

#define LISTENER(sec, on_def, addr_def, port_def)                                                                \
	BOOL("enabled", sec.enabled, on_def, "Serve this listener"),                                             \
	STR("address", sec.address, addr_def, "IP address to bind (0.0.0.0 or :: for every interface)"),         \
	U32("port", sec.port, 1, 65535, port_def, "TCP port")

static const struct config_key mqtt_keys[] = {
	LISTENER(mqtt, "true", "127.0.0.1", "1883"),
	{0},
};

#define TLS_KEYS(sec)                                                                                            \
	STR("cert_file", sec.cert_file, NULL, "PEM certificate chain served to clients"),                        \
	STR("key_file", sec.key_file, NULL, "PEM private key of cert_file"),                                     \
	STR("ca_file", sec.ca_file, NULL, "PEM CA certificates that client certificates must chain to"),        \
	BOOL("require_certificate", sec.require_certificate, "false",                                            \
	     "Refuse clients without a valid certificate signed by ca_file"),                                    \
	BOOL("use_identity_as_username", sec.use_identity_as_username, "false",                                  \
	     "Use the client certificate's CN (or first DNS subjectAltName) as the MQTT username")

static const struct config_key mqtt_tls_keys[] = {
	LISTENER(mqtt_tls, "false", "0.0.0.0", "8883"),
	TLS_KEYS(mqtt_tls),
	{0},
};

static const struct config_key websocket_keys[] = {
	LISTENER(websocket, "false", "127.0.0.1", "8080"),
	STR("path", websocket.path, "/mqtt", "HTTP path that accepts the WebSocket upgrade (subprotocol mqtt)"),
	TLS_KEYS(websocket),
	{0},
};

static const struct config_key limits_keys[] = {
	U32("max_connections", limits.max_connections, 1, 1000000, "10000", "Open client connections at most; more are refused at accept"),
	U32("max_connections_per_second", limits.max_connections_per_second, 0, 1000000, "500",
	    "New connections accepted per second per listener; 0 = unlimited"),
	SIZE("max_packet_size", limits.max_packet_size, 64, MQTT_PACKET_MAX, "1m",
	     "Largest MQTT packet accepted; announced as Maximum Packet Size (MQTT 5.0 §3.2.2.3.6)"),
	U32("max_inflight", limits.max_inflight, 1, MQTT_RECEIVE_MAX, "32",
	    "QoS 1/2 messages in flight per direction per client; announced as Receive Maximum"),
	U32("max_queued_messages", limits.max_queued_messages, 0, 10000000, "1000",
	    "Messages queued per session (offline or over max_inflight); 0 = unlimited up to max_queued_bytes"),
	SIZE("max_queued_bytes", limits.max_queued_bytes, 1024, 1ull << 40, "16m", "Payload bytes queued per session"),
	U32("max_topic_length", limits.max_topic_length, 1, MQTT_STRING_MAX, "1024", "Longest topic name or filter, in bytes"),
	U32("max_topic_levels", limits.max_topic_levels, 1, 1024, "32", "Most '/'-separated levels in a topic name or filter"),
	U32("max_subscriptions_per_client", limits.max_subscriptions_per_client, 1, 1000000, "100", "Subscriptions one session may hold"),
	DUR("connect_timeout", limits.connect_timeout_ms, 100, 600000, "10s",
	    "Time from accept to a complete CONNECT (TLS and WebSocket handshakes included)"),
	DUR("max_keepalive", limits.max_keepalive_ms, 0, MQTT_KEEPALIVE_MAX_MS, "0s",
	    "Cap on the client's keep alive, sent as Server Keep Alive (MQTT 5.0 §3.2.2.3.14); 0s = accept the client's"),
	{0},
};

static const struct config_key security_keys[] = {
	BOOL("allow_anonymous", security.allow_anonymous, "true",
	     "Accept clients that give no username (and no certificate identity)"),
	STR("password_file", security.password_file, NULL,
	    "File of user:$pbkdf2-sha256$... lines (ferry-agent passwd); empty = no password check"),
	STR("acl_file", security.acl_file, NULL, "Topic access rules (user/pattern/topic lines); empty = everything allowed"),
	{0},
};

static const struct config_key admin_keys[] = {
	BOOL("enabled", admin.enabled, "true", "Serve /metrics (Prometheus) and /healthz over HTTP"),
	STR("address", admin.address, "127.0.0.1", "IP address to bind"),
	U32("port", admin.port, 1, 65535, "9883", "TCP port"),
	{0},
};

static const struct config_key store_keys[] = {
	ENUM("sync", store.sync, sync_modes, "full",
	     "full: fsync every commit, so acknowledged QoS 1/2 messages survive power loss; normal: faster, may lose "
	     "the last commits on power loss (never corrupts)"),
	U32("queue_items_max", store.queue_items_max, 16, 10000000, "65536",
	    "Writes waiting for the disk before publishers are slowed down"),
	U32("batch_items_max", store.batch_items_max, 1, 100000, "1024", "Writes committed together in one transaction"),
	{0},
};

static const struct config_key uplink_keys[] = {
	BOOL("enabled", uplink.enabled, "false", "Ship what the routes select to a Kafka cluster"),
	STR("bootstrap", uplink.bootstrap, "127.0.0.1:9092",
	    "host:port of brokers of the cluster (ferry-cloud or any Kafka), comma-separated, tried in turn"),
	STR("agent_id", uplink.agent_id, "agent", "This agent's name: the ferry.agent header and {agent} in route keys"),
	SIZE("batch_bytes", uplink.batch_bytes, 1024, 64 << 20, "1m", "Uncompressed record bytes per Produce request at most"),
	DUR("linger", uplink.linger_ms, 0, 60000, "5ms", "Wait this long for more messages before sending a batch that is not full"),
	DUR("backoff_max", uplink.backoff_max_ms, 100, 600000, "30s", "Ceiling of the reconnect backoff (doubling from 100ms, with jitter)"),
	DUR("request_timeout", uplink.request_timeout_ms, 1000, 600000, "30s", "A request not answered by then ends the connection (it is resent)"),
	ENUM("compression", uplink.compression, compressions, "lz4", "Record batch compression: none or lz4"),
	BOOL("tls", uplink.tls, "false", "TLS 1.2 to the cluster"),
	STR("ca_file", uplink.ca_file, "", "PEM CA certificates the cluster's certificate must chain to; empty = no verification (tests only)"),
	STR("cert_file", uplink.cert_file, "", "PEM client certificate for mutual TLS (optional)"),
	STR("key_file", uplink.key_file, "", "PEM key of cert_file"),
	STR("tls_hostname", uplink.tls_hostname, "", "Name the cluster's certificate must carry; empty = the bootstrap host"),
	ENUM("sasl_mechanism", uplink.sasl_mechanism, sasl_mechanisms, "none", "SASL authentication: none or plain (use with tls)"),
	STR("sasl_username", uplink.sasl_username, "", "SASL user name"),
	STR("sasl_password", uplink.sasl_password, "", "SASL password (keep this file private)"),
	{0},
};

static const struct config_key downlink_keys[] = {
	STR("topic", downlink.topic, "", "Kafka topic of cloud-to-device commands to consume (on the [uplink] bootstrap); empty = off"),
	STR("group", downlink.group, "", "Consumer group the offset is committed in; empty = ferry-agent-<agent_id>"),
	STR("mqtt_topic", downlink.mqtt_topic, "{key}",
	    "Local topic of a record without an mqtt.topic header: {key} (the key after '<agent_id>/') and {agent} are replaced"),
	U32("qos", downlink.qos, 0, 2, "1", "QoS of the local publish"),
	ENUM("start", downlink.start, downlink_starts, "latest", "Where to begin without a committed offset: latest or earliest"),
	DUR("fetch_wait", downlink.fetch_wait_ms, 10, 30000, "500ms", "How long a Fetch waits at the broker for new records"),
	{0},
};

#define ROFF(f) offsetof(struct agent_route, f)
#define RSZ(f) sizeof(((struct agent_route *)0)->f)
static const struct config_key route_keys[] = {
	{"filter", CFG_STR, ROFF(filter), RSZ(filter), 0, 0, "#", NULL, "MQTT topic filter whose messages this route ships"},
	{"topic", CFG_STR, ROFF(topic), RSZ(topic), 0, 0, "mqtt", NULL, "Kafka topic the messages go to"},
	{"key", CFG_STR, ROFF(key), RSZ(key), 0, 0, "{agent}/{topic}", NULL,
	 "Record key template: {agent} and {topic} (the MQTT topic) are replaced; empty = no key"},
	{"qos0", CFG_BOOL, ROFF(qos0), 0, 0, 1, "true", NULL, "Forward QoS 0 publishes"},
	{"qos1", CFG_BOOL, ROFF(qos1), 0, 0, 1, "true", NULL, "Forward QoS 1 publishes (acknowledged once buffered)"},
	{"qos2", CFG_BOOL, ROFF(qos2), 0, 0, 1, "true", NULL, "Forward QoS 2 publishes (acknowledged once buffered)"},
	{"priority", CFG_U32, ROFF(priority), 0, 0, 9, "5", NULL, "0..9, stored with each row; not yet used (bounds are per route)"},
	{"max_bytes", CFG_SIZE, ROFF(max_bytes), 0, 4096, 1ull << 40, "256m", NULL, "Buffered bytes (payload and key) this route may hold"},
	{"max_age", CFG_DURATION, ROFF(max_age_ms), 0, 0, 365ull * 86400000, "0s", NULL,
	 "Buffered messages older than this are dropped and counted; 0s = kept until shipped"},
	{"policy", CFG_ENUM, ROFF(policy), 0, 0, 0, "reject", route_policies,
	 "When max_bytes is reached: reject new messages (MQTT 5 reason 0x97) or evict the oldest"},
	{0},
};

static void *open_route(void *ctx, const char *instance, char *err, size_t err_len)
{
	struct agent_config *c = ctx;
	if (c->route_count == AGENT_ROUTES_MAX)
		return snprintf(err, err_len, "more than %d routes", AGENT_ROUTES_MAX), NULL;
	if (strlen(instance) >= AGENT_ROUTE_NAME_MAX)
		return snprintf(err, err_len, "route name longer than %d bytes", AGENT_ROUTE_NAME_MAX - 1), NULL;
	for (uint32_t i = 0; i < c->route_count; i++)
		if (strcmp(c->routes[i].name, instance) == 0)
			return snprintf(err, err_len, "route '%s' defined twice", instance), NULL;
	struct agent_route *r = &c->routes[c->route_count++];
	snprintf(r->name, sizeof r->name, "%s", instance);
	return r;
}

const struct config_section agent_config_sections[] = {
	{"", top_keys, NULL},
	{"mqtt", mqtt_keys, NULL},
	{"mqtt_tls", mqtt_tls_keys, NULL},
	{"websocket", websocket_keys, NULL},
	{"limits", limits_keys, NULL},
	{"security", security_keys, NULL},
	{"admin", admin_keys, NULL},
	{"store", store_keys, NULL},
	{"uplink", uplink_keys, NULL},
	{"downlink", downlink_keys, NULL},
	{"route", route_keys, open_route},
	{NULL, NULL, NULL},
};

void agent_config_defaults(struct agent_config *c)
{
	memset(c, 0, sizeof *c);
	config_defaults(agent_config_sections, c);
}

static int check_tls(const struct agent_listener *l, const char *sec, bool need_cert, char *err, size_t err_len)
{
	if (!l->enabled)
		return 0;
	if (need_cert && !l->cert_file[0])
		return snprintf(err, err_len, "[%s] needs cert_file and key_file", sec), ERR_CONFIG;
	if (l->cert_file[0] && !l->key_file[0])
		return snprintf(err, err_len, "[%s] cert_file needs key_file", sec), ERR_CONFIG;
	if (l->require_certificate && !l->ca_file[0])
		return snprintf(err, err_len, "[%s] require_certificate needs ca_file", sec), ERR_CONFIG;
	if (l->use_identity_as_username && !l->require_certificate)
		return snprintf(err, err_len, "[%s] use_identity_as_username needs require_certificate true", sec),
		       ERR_CONFIG;
	return 0;
}

int agent_config_validate(const struct agent_config *c, char *err, size_t err_len)
{
	int rc;
	if ((rc = check_tls(&c->mqtt_tls, "mqtt_tls", true, err, err_len)) ||
	    (rc = check_tls(&c->websocket, "websocket", false, err, err_len)))
		return rc;
	if (c->websocket.enabled && c->websocket.path[0] != '/')
		return snprintf(err, err_len, "[websocket] path must start with '/'"), ERR_CONFIG;
	const struct agent_listener *ls[] = {&c->mqtt, &c->mqtt_tls, &c->websocket, &c->admin};
	const char *names[] = {"mqtt", "mqtt_tls", "websocket", "admin"};
	for (int i = 0; i < 4; i++)
		for (int j = i + 1; j < 4; j++)
			if (ls[i]->enabled && ls[j]->enabled && ls[i]->port == ls[j]->port)
				return snprintf(err, err_len, "[%s] and [%s] both use port %u", names[i], names[j],
						ls[i]->port),
				       ERR_CONFIG;
	if (!c->data_dir[0])
		return snprintf(err, err_len, "data_dir is empty"), ERR_CONFIG;
	struct uplink_link link;
	if ((c->uplink.enabled || c->downlink.topic[0]) && (uplink_link_parse(&link, c->uplink.bootstrap) || !c->uplink.agent_id[0]))
		return snprintf(err, err_len, "[uplink] bootstrap must be host:port[,host:port...] and agent_id non-empty"),
		       ERR_CONFIG;
	if (c->uplink.cert_file[0] && !c->uplink.key_file[0])
		return snprintf(err, err_len, "[uplink] cert_file needs key_file"), ERR_CONFIG;
	if (c->uplink.sasl_mechanism != AGENT_SASL_NONE && !c->uplink.sasl_username[0])
		return snprintf(err, err_len, "[uplink] sasl_mechanism needs sasl_username"), ERR_CONFIG;
	for (uint32_t i = 0; i < c->route_count; i++)
		if (!c->routes[i].topic[0] || !c->routes[i].filter[0])
			return snprintf(err, err_len, "[route %s] needs filter and topic", c->routes[i].name), ERR_CONFIG;
	if (c->limits.max_inflight > c->limits.max_queued_messages && c->limits.max_queued_messages)
		return snprintf(err, err_len, "[limits] max_inflight is over max_queued_messages"), ERR_CONFIG;
	if (c->limits.max_queued_bytes < c->limits.max_packet_size)
		return snprintf(err, err_len, "[limits] max_queued_bytes is under max_packet_size: a largest message "
					      "could never be queued"),
		       ERR_CONFIG;
	return 0;
}

int agent_config_parse(struct agent_config *c, const char *text, size_t len, const char *name, char *err,
		       size_t err_len)
{
	agent_config_defaults(c);
	int rc = config_parse(agent_config_sections, c, text, len, name, err, err_len);
	return rc ? rc : agent_config_validate(c, err, err_len);
}

int agent_config_load(struct agent_config *c, const char *path, char *err, size_t err_len)
{
	agent_config_defaults(c);
	int rc = config_parse_file(agent_config_sections, c, path, err, err_len);
	return rc ? rc : agent_config_validate(c, err, err_len);
}

static const char *type_name(const struct config_key *k)
{
	switch (k->type) {
	case CFG_STR: return "string";
	case CFG_BOOL: return "boolean";
	case CFG_U32:
	case CFG_U64: return "integer";
	case CFG_SIZE: return "size";
	case CFG_DURATION: return "duration";
	case CFG_ENUM: return "choice";
	}
	return "?";
}

static void range(const struct config_key *k, char *out, size_t len)
{
	out[0] = '\0';
	if (k->type == CFG_STR) {
		snprintf(out, len, "up to %zu bytes", k->size - 1);
	} else if (k->type == CFG_ENUM) {
		size_t n = 0;
		for (int i = 0; k->choices[i]; i++)
			n += (size_t)snprintf(out + n, n < len ? len - n : 0, "%s%s", i ? ", " : "", k->choices[i]);
	} else if (k->type == CFG_U32 || k->type == CFG_U64) {
		snprintf(out, len, "%llu..%llu", (unsigned long long)k->min, (unsigned long long)k->max);
	} else if (k->type == CFG_SIZE) {
		snprintf(out, len, "%llu..%llu bytes", (unsigned long long)k->min, (unsigned long long)k->max);
	} else if (k->type == CFG_DURATION) {
		snprintf(out, len, "%llu..%llu ms", (unsigned long long)k->min, (unsigned long long)k->max);
	}
}

int agent_config_render_doc(struct dbuf *out)
{
	int rc = 0;
	for (const struct config_section *s = agent_config_sections; s->keys && !rc; s++) {
		rc = s->open ? dbuf_printf(out, "\n### [%s NAME] (one per route, at most %d)\n\n", s->name, AGENT_ROUTES_MAX)
		     : s->name[0] ? dbuf_printf(out, "\n### [%s]\n\n", s->name) : dbuf_printf(out, "\n### Top level\n\n");
		rc = rc ? rc : dbuf_addstr(out, "| key | type | range | default | meaning |\n|---|---|---|---|---|\n");
		for (const struct config_key *k = s->keys; k->key && !rc; k++) {
			char r[160];
			range(k, r, sizeof r);
			rc = dbuf_printf(out, "| `%s` | %s | %s | %s | %s |\n", k->key, type_name(k), r,
					 k->def && k->def[0] ? k->def : "(empty)", k->doc);
		}
	}
	return rc;
}

int agent_config_render_example(struct dbuf *out)
{
	int rc = dbuf_addstr(out, "# ferry-agent configuration: every key with its default, commented out.\n"
				  "# Check a file with: ferry-agent --check-config -c FILE\n");
	for (const struct config_section *s = agent_config_sections; s->keys && !rc; s++) {
		if (s->open) /* repeated: the header needs a name, so the example stays commented */
			rc = dbuf_printf(out, "\n# One section per route, e.g.:\n#[%s sensors]\n", s->name);
		else if (s->name[0])
			rc = dbuf_printf(out, "\n[%s]\n", s->name);
		for (const struct config_key *k = s->keys; k->key && !rc; k++)
			rc = dbuf_printf(out, "# %s\n#%s%s%s\n", k->doc, k->key, k->def ? " " : "", k->def ? k->def : "");
	}
	return rc;
}
