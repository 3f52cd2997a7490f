/* ferry-cloud's configuration: the schema (keys, bounds, defaults, docs) and the struct it fills.
 *
 * Every limit the broker enforces is a key here, so there is one place to read them and one place that
 * checks their relations (cloud_config_check).  Embedded defaults run a single node on 127.0.0.1:9092 with
 * data under ./var. */
#ifndef FERRY_CLOUD_CONFIG_H
#define FERRY_CLOUD_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/config.h"

#define CLOUD_PATH_MAX 512
#define CLOUD_HOST_MAX 256
#define CLOUD_USERS_MAX 64
#define CLOUD_USER_NAME_MAX 128
#define CLOUD_PASSWORD_MAX 256

/* A SASL user: its password (PLAIN) from which SCRAM credentials are derived at start. */
struct cloud_user {
	char name[CLOUD_USER_NAME_MAX];
	char password[CLOUD_PASSWORD_MAX];
};

enum cloud_flush { CLOUD_FLUSH_NONE, CLOUD_FLUSH_INTERVAL, CLOUD_FLUSH_ALWAYS };

struct cloud_listener {
	char host[CLOUD_HOST_MAX];   /* bind address (IPv4 or IPv6 literal) */
	uint32_t port;               /* 0: this listener is off */
	char advertised_host[CLOUD_HOST_MAX]; /* "" = the bound address */
	uint32_t advertised_port;    /* 0 = the bound port */
	bool sasl;                   /* clients must authenticate (SaslHandshake/SaslAuthenticate) */
	char cert_file[CLOUD_PATH_MAX]; /* TLS listener only */
	char key_file[CLOUD_PATH_MAX];
	char ca_file[CLOUD_PATH_MAX];
	bool client_auth;            /* TLS: require a client certificate */
};

struct cloud_config {
	uint32_t node_id;
	char cluster_id[64];
	char data_dir[CLOUD_PATH_MAX];
	char log_level[16];

	struct cloud_listener plain; /* [listener] */
	struct cloud_listener tls;   /* [tls] */

	char admin_host[CLOUD_HOST_MAX]; /* [admin] Prometheus /metrics and /healthz; port 0 = off */
	uint32_t admin_port;

	/* [limits] */
	uint64_t request_bytes_max;       /* largest request frame after authentication */
	uint64_t request_bytes_max_unauth; /* before SASL authentication completes */
	uint32_t connections_max;
	uint32_t inflight_max;            /* requests read but not yet answered, per connection */
	uint64_t inflight_bytes_max;      /* their request bytes, per connection */
	uint64_t fetch_wait_ms_max;       /* cap on a Fetch's max_wait_ms */
	uint64_t fetch_response_bytes_max;
	uint64_t idle_timeout_ms;         /* close connections with nothing in flight this long; 0 never */
	uint64_t auth_timeout_ms;         /* SASL listeners: time to authenticate */

	/* [topics] */
	bool auto_create;
	uint32_t default_partitions;
	uint32_t partitions_max;          /* per topic */
	uint32_t topics_max;
	uint64_t retention_ms;            /* 0: keep forever */
	uint64_t retention_bytes;         /* per partition; 0: no size limit */
	uint64_t segment_bytes;
	uint64_t message_bytes_max;       /* largest record batch (message.max.bytes) */
	int flush;                        /* enum cloud_flush */
	uint64_t flush_interval_ms;

	/* [groups] */
	uint64_t group_session_timeout_ms_min;
	uint64_t group_session_timeout_ms_max;
	uint64_t group_initial_rebalance_delay_ms;
	uint32_t group_members_max;
	uint32_t groups_max;
	uint32_t offsets_partitions;      /* __consumer_offsets */

	/* [user NAME] */
	struct cloud_user users[CLOUD_USERS_MAX];
	uint32_t user_count;
};

extern const struct config_section cloud_config_sections[];

/* Defaults, then the file when path is not NULL, then the relation checks.  0 or ERR_CONFIG with err set. */
int cloud_config_load(struct cloud_config *c, const char *path, char *err, size_t err_len);
/* Same from text (tests). */
int cloud_config_load_text(struct cloud_config *c, const char *text, char *err, size_t err_len);
/* The relations between keys that a table cannot express.  0 or ERR_CONFIG. */
int cloud_config_check(const struct cloud_config *c, char *err, size_t err_len);

#endif
