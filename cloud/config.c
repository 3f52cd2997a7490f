/* ferry-cloud configuration schema (config.h).  Keys are data; each carries its bounds and documentation. */
#include <stdio.h>
#include <string.h>

#include "base/err.h"
#include "cloud/config.h"

#define OFF(f) offsetof(struct cloud_config, f)
#define STR(f) OFF(f), sizeof(((struct cloud_config *)0)->f)
#define END {NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL}
#define DAY_MS 86400000ull

static const char *const flush_choices[] = {"none", "interval", "always", NULL};

static const struct config_key top_keys[] = {
	{"node_id", CFG_U32, OFF(node_id), 0, 0, 1u << 30, "1", NULL, "this node's id in Metadata"},
	{"cluster_id", CFG_STR, STR(cluster_id), 0, 0, "ferry-cloud", NULL, "cluster id in Metadata"},
	{"data_dir", CFG_STR, STR(data_dir), 0, 0, "./var", NULL, "partition logs, topic and group state"},
	{"log_level", CFG_STR, STR(log_level), 0, 0, "info", NULL, "error, warn, info, debug, trace"},
	END,
};

#define LISTENER_KEYS(l, defport, defhost)                                                                    \
	{"host", CFG_STR, STR(l.host), 0, 0, defhost, NULL, "bind address"},                                 \
	{"port", CFG_U32, OFF(l.port), 0, 0, 65535, defport, NULL, "bind port; 0 disables the listener"},      \
	{"advertised_host", CFG_STR, STR(l.advertised_host), 0, 0, "", NULL, "host in Metadata; default bound IPv4"}, \
	{"advertised_port", CFG_U32, OFF(l.advertised_port), 0, 0, 65535, "0", NULL, "port in Metadata; 0 = bound"}, \
	{"sasl", CFG_BOOL, OFF(l.sasl), 0, 0, 0, "false", NULL, "require SASL PLAIN or SCRAM authentication"}, \
	{"cert_file", CFG_STR, STR(l.cert_file), 0, 0, "", NULL, "TLS: PEM certificate chain"},                \
	{"key_file", CFG_STR, STR(l.key_file), 0, 0, "", NULL, "TLS: PEM private key"},                        \
	{"ca_file", CFG_STR, STR(l.ca_file), 0, 0, "", NULL, "TLS: CA for client certificates"},              \
	{"client_auth", CFG_BOOL, OFF(l.client_auth), 0, 0, 0, "false", NULL, "TLS: require client certificates"}

static const struct config_key listener_keys[] = {LISTENER_KEYS(plain, "9092", "127.0.0.1"), END};
static const struct config_key tls_keys[] = {LISTENER_KEYS(tls, "0", "127.0.0.1"), END};

static const struct config_key admin_keys[] = {
	{"host", CFG_STR, STR(admin_host), 0, 0, "127.0.0.1", NULL, "admin HTTP bind address"},
	{"port", CFG_U32, OFF(admin_port), 0, 0, 65535, "9644", NULL, "admin HTTP port (/metrics, /healthz); 0 = off"},
	END,
};

static const struct config_key limit_keys[] = {
	{"request_bytes_max", CFG_SIZE, OFF(request_bytes_max), 0, 1024, 1ull << 30, "100m", NULL,
	 "largest request accepted (Kafka socket.request.max.bytes)"},
	{"request_bytes_max_unauth", CFG_SIZE, OFF(request_bytes_max_unauth), 0, 1024, 1ull << 30, "512k", NULL,
	 "largest request before SASL authentication completes"},
	{"connections_max", CFG_U32, OFF(connections_max), 0, 1, 1000000, "10000", NULL, "open client connections"},
	{"inflight_max", CFG_U32, OFF(inflight_max), 0, 1, 1024, "64", NULL,
	 "requests per connection read but not answered; reading pauses beyond it"},
	{"inflight_bytes_max", CFG_SIZE, OFF(inflight_bytes_max), 0, 1024, 1ull << 34, "128m", NULL,
	 "request bytes per connection read but not answered; reading pauses beyond it (one request always fits)"},
	{"fetch_wait_ms_max", CFG_DURATION, OFF(fetch_wait_ms_max), 0, 0, 3600000, "30s", NULL,
	 "cap on a Fetch's max_wait_ms"},
	{"fetch_response_bytes_max", CFG_SIZE, OFF(fetch_response_bytes_max), 0, 1024, 1ull << 30, "50m", NULL,
	 "cap on a Fetch response's record bytes"},
	{"idle_timeout", CFG_DURATION, OFF(idle_timeout_ms), 0, 0, 7 * DAY_MS, "10m", NULL,
	 "close connections with no request in flight for this long (connections.max.idle.ms); 0 never"},
	{"auth_timeout", CFG_DURATION, OFF(auth_timeout_ms), 0, 100, 3600000, "30s", NULL,
	 "SASL listeners: a connection must authenticate within this"},
	END,
};

static const struct config_key topic_keys[] = {
	{"auto_create", CFG_BOOL, OFF(auto_create), 0, 0, 0, "true", NULL, "Metadata and Produce create unknown topics"},
	{"default_partitions", CFG_U32, OFF(default_partitions), 0, 1, 10000, "1", NULL, "partitions of new topics"},
	{"partitions_max", CFG_U32, OFF(partitions_max), 0, 1, 100000, "1000", NULL, "partitions per topic"},
	{"topics_max", CFG_U32, OFF(topics_max), 0, 1, 100000, "10000", NULL, "topics on this node"},
	{"retention", CFG_DURATION, OFF(retention_ms), 0, 0, 3650 * DAY_MS, "7d", NULL, "0 keeps forever"},
	{"retention_bytes", CFG_SIZE, OFF(retention_bytes), 0, 0, 1ull << 50, "0", NULL, "per partition; 0 = none"},
	{"segment_bytes", CFG_SIZE, OFF(segment_bytes), 0, 1 << 16, (1ull << 31) - 1, "1g", NULL, "log segment size"},
	{"message_bytes_max", CFG_SIZE, OFF(message_bytes_max), 0, 1024, 64ull << 20, "1048588", NULL,
	 "largest record batch accepted (message.max.bytes); larger ones get MESSAGE_TOO_LARGE"},
	{"flush", CFG_ENUM, OFF(flush), 0, 0, 0, "interval", flush_choices,
	 "none: the OS writes back; interval: fsync every flush_interval; always: acks=all waits for fsync"},
	{"flush_interval", CFG_DURATION, OFF(flush_interval_ms), 0, 1, 3600000, "1s", NULL, "group commit period"},
	END,
};

static const struct config_key group_keys[] = {
	{"session_timeout_min", CFG_DURATION, OFF(group_session_timeout_ms_min), 0, 1, 3600000, "6s", NULL,
	 "group.min.session.timeout.ms"},
	{"session_timeout_max", CFG_DURATION, OFF(group_session_timeout_ms_max), 0, 1, 3600000, "30m", NULL,
	 "group.max.session.timeout.ms"},
	{"initial_rebalance_delay", CFG_DURATION, OFF(group_initial_rebalance_delay_ms), 0, 0, 600000, "300ms", NULL,
	 "wait for more members before the first rebalance of an empty group"},
	{"members_max", CFG_U32, OFF(group_members_max), 0, 1, 100000, "1000", NULL, "members per group"},
	{"groups_max", CFG_U32, OFF(groups_max), 0, 1, 1000000, "10000", NULL, "groups on this node"},
	{"offsets_partitions", CFG_U32, OFF(offsets_partitions), 0, 1, 1000, "1", NULL,
	 "partitions of __consumer_offsets"},
	END,
};

static const struct config_key user_keys[] = {
	{"password", CFG_STR, offsetof(struct cloud_user, password), CLOUD_PASSWORD_MAX, 0, 0, "", NULL,
	 "the user's password (PLAIN; SCRAM credentials are derived from it)"},
	END,
};

static void *open_user(void *ctx, const char *instance, char *err, size_t err_len)
{
	struct cloud_config *c = ctx;
	if (c->user_count == CLOUD_USERS_MAX) {
		snprintf(err, err_len, "at most %d users", CLOUD_USERS_MAX);
		return NULL;
	}
	if (!instance || !instance[0] || strlen(instance) >= CLOUD_USER_NAME_MAX) {
		snprintf(err, err_len, "[user NAME] needs a name of 1..%d bytes", CLOUD_USER_NAME_MAX - 1);
		return NULL;
	}
	for (uint32_t i = 0; i < c->user_count; i++)
		if (!strcmp(c->users[i].name, instance)) {
			snprintf(err, err_len, "user '%s' given twice", instance);
			return NULL;
		}
	struct cloud_user *u = &c->users[c->user_count++];
	memset(u, 0, sizeof *u);
	strcpy(u->name, instance);
	return u;
}

const struct config_section cloud_config_sections[] = {
	{"", top_keys, NULL},
	{"listener", listener_keys, NULL},
	{"tls", tls_keys, NULL},
	{"admin", admin_keys, NULL},
	{"limits", limit_keys, NULL},
	{"topics", topic_keys, NULL},
	{"groups", group_keys, NULL},
	{"user", user_keys, open_user},
	{NULL, NULL, NULL},
};

int cloud_config_check(const struct cloud_config *c, char *err, size_t err_len)
{
	if (c->group_session_timeout_ms_min > c->group_session_timeout_ms_max) {
		snprintf(err, err_len, "[groups] session_timeout_min exceeds session_timeout_max");
		return ERR_CONFIG;
	}
	if (c->request_bytes_max_unauth > c->request_bytes_max) {
		snprintf(err, err_len, "[limits] request_bytes_max_unauth exceeds request_bytes_max");
		return ERR_CONFIG;
	}
	if (c->message_bytes_max > c->segment_bytes || c->message_bytes_max > c->request_bytes_max) {
		snprintf(err, err_len, "[topics] message_bytes_max exceeds segment_bytes or [limits] request_bytes_max");
		return ERR_CONFIG;
	}
	if (c->default_partitions > c->partitions_max) {
		snprintf(err, err_len, "[topics] default_partitions exceeds partitions_max");
		return ERR_CONFIG;
	}
	if (c->plain.port == 0 && c->tls.port == 0) {
		snprintf(err, err_len, "no listener: [listener] port and [tls] port are both 0");
		return ERR_CONFIG;
	}
	if (c->tls.port && (!c->tls.cert_file[0] || !c->tls.key_file[0])) {
		snprintf(err, err_len, "[tls] needs cert_file and key_file");
		return ERR_CONFIG;
	}
	if ((c->plain.sasl && c->plain.port) || (c->tls.sasl && c->tls.port)) {
		if (c->user_count == 0) {
			snprintf(err, err_len, "sasl is on but no [user NAME] is configured");
			return ERR_CONFIG;
		}
	}
	return 0;
}

int cloud_config_load(struct cloud_config *c, const char *path, char *err, size_t err_len)
{
	memset(c, 0, sizeof *c);
	int rc = config_defaults(cloud_config_sections, c);
	if (rc) {
		snprintf(err, err_len, "embedded defaults: %s", err_str(rc));
		return rc;
	}
	if (path && (rc = config_parse_file(cloud_config_sections, c, path, err, err_len)))
		return rc;
	return cloud_config_check(c, err, err_len);
}

int cloud_config_load_text(struct cloud_config *c, const char *text, char *err, size_t err_len)
{
	memset(c, 0, sizeof *c);
	int rc = config_defaults(cloud_config_sections, c);
	if (!rc)
		rc = config_parse(cloud_config_sections, c, text, strlen(text), "test.conf", err, err_len);
	return rc ? rc : cloud_config_check(c, err, err_len);
}
