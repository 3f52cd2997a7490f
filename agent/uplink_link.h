/* What the uplink and the downlink share about reaching the cluster: the bootstrap list (tried in turn, a
 * failed connection moves to the next), the reconnect backoff, TLS (net/tls.h) and SASL PLAIN settings for
 * kafka_conn. */
#ifndef FERRY_AGENT_UPLINK_LINK_H
#define FERRY_AGENT_UPLINK_LINK_H

#include <stdint.h>

#include "agent/config.h"

struct event;
struct net_tls;
struct kafka_conn_config;

#define UPLINK_BOOTSTRAP_MAX 8
#define UPLINK_HOST_MAX 256
#define UPLINK_BACKOFF_MIN_MS 100

struct uplink_link {
	char hosts[UPLINK_BOOTSTRAP_MAX][UPLINK_HOST_MAX];
	uint16_t ports[UPLINK_BOOTSTRAP_MAX];
	uint32_t count, current;
	uint64_t backoff_ms; /* the next reconnect step, before jitter */
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
/* Reconnect backoff: the wait before the next attempt (75%..125% of the current step, jittered so that agents
 * do not reconnect in step), doubling the step up to [uplink] backoff_max; reset once connected. */
uint64_t uplink_link_backoff_next_ms(struct uplink_link *l);
void uplink_link_backoff_reset(struct uplink_link *l);
/* evtimer_add in ms. */
void uplink_link_timer_add(struct event *ev, uint64_t ms);
/* Fill TLS and SASL fields of kc (pointers into l: keep l alive while kc is used). */
void uplink_link_conn_config(const struct uplink_link *l, struct kafka_conn_config *kc);

#endif
