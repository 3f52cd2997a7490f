/* What the uplink and the downlink share about reaching the cluster: the bootstrap list (tried in turn, a
 * failed connection moves to the next), TLS (net/tls.h) and SASL PLAIN settings for kafka_conn. */
#ifndef FERRY_AGENT_UPLINK_LINK_H
#define FERRY_AGENT_UPLINK_LINK_H

#include <stdint.h>

#include "agent/config.h"

struct net_tls;
struct kafka_conn_config;

#define UPLINK_BOOTSTRAP_MAX 8
#define UPLINK_HOST_MAX 256

struct uplink_link {
	char hosts[UPLINK_BOOTSTRAP_MAX][UPLINK_HOST_MAX];
	uint16_t ports[UPLINK_BOOTSTRAP_MAX];
	uint32_t count, current;
	struct net_tls *tls; /* NULL without [uplink] tls */
	struct agent_uplink cfg;
};

/* Parse cfg->bootstrap ("host:port[,host:port...]") and load the TLS files.  0, or ERR_CONFIG with why in err. */
int uplink_link_init(struct uplink_link *l, const struct agent_uplink *cfg, char *err, size_t err_len);
void uplink_link_deinit(struct uplink_link *l);
/* Parse only (the config check uses it). */
int uplink_link_parse(struct uplink_link *l, const char *bootstrap);
/* The broker to try now; uplink_link_failed moves to the next one. */
const char *uplink_link_host(const struct uplink_link *l);
uint16_t uplink_link_port(const struct uplink_link *l);
void uplink_link_failed(struct uplink_link *l);
/* Fill TLS and SASL fields of kc (pointers into l: keep l alive while kc is used). */
void uplink_link_conn_config(const struct uplink_link *l, struct kafka_conn_config *kc);

#endif
