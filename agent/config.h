/* The agent's configuration: one struct, one key table (agent/config.c) with types, bounds, defaults and a
 * line of documentation per key.  docs/agent-config.md and examples/agent.conf are rendered from the table
 * (agent_config_render_doc / _example) and a unit test keeps them in step.
 *
 * Sections: top level, [mqtt], [mqtt_tls], [websocket], [limits], [security], [admin], [store], [uplink], [downlink] and
 * any number (up to AGENT_ROUTES_MAX) of [route NAME]. */
#ifndef FERRY_AGENT_CONFIG_H
#define FERRY_AGENT_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/config.h"
#include "base/dbuf.h"

#define AGENT_PATH_MAX 1024
#define AGENT_ADDR_MAX 64

struct agent_listener {
	bool enabled;
	char address[AGENT_ADDR_MAX];
	uint32_t port;
	/* TLS: a listener serves TLS when cert_file is set (always for [mqtt_tls]) */
	char cert_file[AGENT_PATH_MAX];
	char key_file[AGENT_PATH_MAX];
	char ca_file[AGENT_PATH_MAX];
	bool require_certificate;
	bool use_identity_as_username;
	char path[128]; /* websocket: the HTTP path to upgrade on */
};

struct agent_limits {
	uint32_t max_connections;
	uint32_t max_connections_per_second; /* 0 = unlimited */
	uint64_t max_packet_size;            /* bytes */
	uint32_t max_inflight;               /* MQTT 5 Receive Maximum we announce and enforce */
	uint32_t max_queued_messages;        /* per session */
	uint64_t max_queued_bytes;           /* per session */
	uint32_t max_topic_length;
	uint32_t max_topic_levels;
	uint32_t max_subscriptions_per_client;
	uint64_t connect_timeout_ms;
	uint64_t max_keepalive_ms;           /* 0 = accept the client's; else Server Keep Alive cap */
};

struct agent_security {
	bool allow_anonymous;
	char password_file[AGENT_PATH_MAX];
	char acl_file[AGENT_PATH_MAX];
};

enum agent_store_sync { AGENT_SYNC_FULL, AGENT_SYNC_NORMAL }; /* index into the enum's choices */

struct agent_store_cfg {
	int sync; /* enum agent_store_sync */
	uint32_t queue_items_max;
	uint32_t batch_items_max;
};

#define AGENT_ROUTES_MAX 32
#define AGENT_ID_MAX 128
#define AGENT_KAFKA_TOPIC_MAX 250 /* Kafka's own limit is 249 bytes */
#define AGENT_ROUTE_NAME_MAX 64

enum agent_route_policy { AGENT_ROUTE_REJECT, AGENT_ROUTE_EVICT }; /* index into the choices */

/* [route NAME]: which MQTT messages go upstream, to which Kafka topic, with which key (DESIGN.md, "Unified
 * topics").  The buffer keeps them until the cloud acknowledged them; max_bytes/max_age bound it. */
struct agent_route {
	char name[AGENT_ROUTE_NAME_MAX];
	char filter[1024];                    /* MQTT topic filter */
	char topic[AGENT_KAFKA_TOPIC_MAX];    /* Kafka topic */
	char key[256];                        /* template: {agent} and {topic} are replaced; empty = null key */
	bool qos0, qos1, qos2;                /* which publish QoS levels the route forwards */
	uint32_t priority;                    /* 0 (lowest) .. 9: stored per row; not yet used across routes */
	uint64_t max_bytes;                   /* buffered payload+key bytes of this route */
	uint64_t max_age_ms;                  /* older rows are dropped (counted); 0 = no limit */
	int policy;                           /* enum agent_route_policy when max_bytes is reached */
};

/* [uplink]: the Kafka producer that drains the buffer. */
struct agent_uplink {
	bool enabled;
	char bootstrap[256];     /* host:port[,host:port...]: brokers tried in turn */
	char agent_id[AGENT_ID_MAX]; /* ferry.agent header and {agent} in key templates */
	uint64_t batch_bytes;    /* records per Produce are cut at this many uncompressed bytes */
	uint64_t linger_ms;      /* wait this long for more rows when a batch is not full */
	uint64_t backoff_max_ms; /* reconnect backoff ceiling (doubles from 100 ms, with jitter) */
	uint64_t request_timeout_ms;
	int compression;         /* 0 none, 1 lz4 */
	bool tls;                /* TLS 1.2 to the cluster (mbedtls) */
	char ca_file[AGENT_PATH_MAX];   /* trust anchors; empty: TLS without verification (tests only) */
	char cert_file[AGENT_PATH_MAX]; /* client certificate (mutual TLS); optional */
	char key_file[AGENT_PATH_MAX];
	char tls_hostname[256];  /* expected certificate name; empty: the bootstrap host */
	int sasl_mechanism;      /* enum agent_sasl */
	char sasl_username[256];
	char sasl_password[256];
};

enum agent_sasl { AGENT_SASL_NONE, AGENT_SASL_PLAIN }; /* index into the choices */

enum agent_downlink_start { AGENT_DOWNLINK_LATEST, AGENT_DOWNLINK_EARLIEST }; /* index into the choices */

/* [downlink]: cloud-to-device commands.  The agent consumes one Kafka topic (on the [uplink] bootstrap broker)
 * and publishes the records addressed to it (key "<agent-id>/..." or header ferry.agent) locally. */
struct agent_downlink {
	char topic[AGENT_KAFKA_TOPIC_MAX]; /* empty: no downlink */
	char group[AGENT_KAFKA_TOPIC_MAX]; /* where the offset is committed; empty: ferry-agent-<agent-id> */
	char mqtt_topic[1024];             /* template without an mqtt.topic header: {key} {agent} */
	uint32_t qos;                      /* of the local publish */
	int start;                         /* enum agent_downlink_start, without a committed offset */
	uint64_t fetch_wait_ms;            /* Fetch max_wait */
};

struct agent_config {
	char data_dir[AGENT_PATH_MAX];
	int log_level; /* enum log_level */
	uint64_t sys_interval_ms; /* $SYS publish period; 0 = off */
	struct agent_listener mqtt, mqtt_tls, websocket;
	struct agent_limits limits;
	struct agent_security security;
	struct agent_listener admin; /* address/port only */
	struct agent_store_cfg store;
	struct agent_uplink uplink;
	struct agent_downlink downlink;
	struct agent_route routes[AGENT_ROUTES_MAX];
	uint32_t route_count;
};

extern const struct config_section agent_config_sections[];

/* Embedded defaults.  Always succeeds (a bad default fails the unit test, not the daemon). */
void agent_config_defaults(struct agent_config *c);
/* Defaults, then the file, then cross-key checks.  0 or ERR_CONFIG with "file:line: why" in err. */
int agent_config_load(struct agent_config *c, const char *path, char *err, size_t err_len);
int agent_config_parse(struct agent_config *c, const char *text, size_t len, const char *name, char *err,
		       size_t err_len);
/* Checks no single key can make: TLS needs a certificate, identity-as-username needs client certificates,
 * listeners must not collide.  0 or ERR_CONFIG. */
int agent_config_validate(const struct agent_config *c, char *err, size_t err_len);

/* Markdown reference of every key (docs/agent-config.md's table part) and a commented example file. */
int agent_config_render_doc(struct dbuf *out);
int agent_config_render_example(struct dbuf *out);

#endif
