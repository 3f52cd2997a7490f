/* uplink_link.h: bootstrap list, TLS and SASL for the agent's Kafka connections. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/event.h>

#include "agent/uplink_link.h"
#include "base/err.h"
#include "kafka/conn.h"
#include "net/tls.h"
#include "port.h"

int uplink_link_parse(struct uplink_link *l, const char *bootstrap)
{
	l->count = l->current = 0;
	for (const char *p = bootstrap; *p;) {
		const char *end = strchr(p, ',');
		size_t len = end ? (size_t)(end - p) : strlen(p);
		while (len && *p == ' ')
			p++, len--;
		const char *colon = NULL;
		for (size_t i = 0; i < len; i++)
			if (p[i] == ':')
				colon = p + i;
		if (!colon || colon == p || (size_t)(colon - p) >= UPLINK_HOST_MAX || l->count == UPLINK_BOOTSTRAP_MAX)
			return ERR_CONFIG;
		char num[8];
		size_t nlen = len - (size_t)(colon + 1 - p);
		if (nlen == 0 || nlen >= sizeof num)
			return ERR_CONFIG;
		memcpy(num, colon + 1, nlen);
		num[nlen] = '\0';
		char *e;
		long port = strtol(num, &e, 10);
		if (*e || port < 1 || port > 65535)
			return ERR_CONFIG;
		snprintf(l->hosts[l->count], UPLINK_HOST_MAX, "%.*s", (int)(colon - p), p);
		l->ports[l->count++] = (uint16_t)port;
		p += len;
		if (*p == ',' && !*++p)
			return ERR_CONFIG; /* a trailing comma: a broker missing */
	}
	return l->count ? 0 : ERR_CONFIG;
}

int uplink_link_init(struct uplink_link *l, const struct agent_uplink *cfg, char *err, size_t err_len)
{
	memset(l, 0, sizeof *l);
	l->cfg = *cfg;
	l->backoff_ms = UPLINK_BACKOFF_MIN_MS;
	if (uplink_link_parse(l, cfg->bootstrap))
		return snprintf(err, err_len, "[uplink] bootstrap '%s': want host:port[,host:port...] (at most %d)",
				cfg->bootstrap, UPLINK_BOOTSTRAP_MAX),
		       ERR_CONFIG;
	if (!cfg->tls)
		return 0;
	struct net_tls_config tc = {
		.cert_file = cfg->cert_file[0] ? cfg->cert_file : NULL,
		.key_file = cfg->key_file[0] ? cfg->key_file : NULL,
		.ca_file = cfg->ca_file[0] ? cfg->ca_file : NULL,
		.verify = cfg->ca_file[0] ? NET_TLS_VERIFY_REQUIRED : NET_TLS_VERIFY_NONE,
	};
	return net_tls_new(&l->tls, NET_TLS_CLIENT, &tc, err, err_len);
}

void uplink_link_deinit(struct uplink_link *l)
{
	if (l->tls)
		net_tls_unref(l->tls);
	l->tls = NULL;
}

const char *uplink_link_host(const struct uplink_link *l) { return l->hosts[l->current]; }
uint16_t uplink_link_port(const struct uplink_link *l) { return l->ports[l->current]; }
void uplink_link_failed(struct uplink_link *l) { l->current = l->count ? (l->current + 1) % l->count : 0; }

uint64_t uplink_link_backoff_next_ms(struct uplink_link *l)
{
	uint32_t r = 0;
	port_random(&r, sizeof r);
	uint64_t step = l->backoff_ms;
	uint64_t wait = step * 3 / 4 + (step ? r % (step / 2 + 1) : 0);
	l->backoff_ms = step * 2 > l->cfg.backoff_max_ms ? l->cfg.backoff_max_ms : step * 2;
	return wait;
}

void uplink_link_backoff_reset(struct uplink_link *l) { l->backoff_ms = UPLINK_BACKOFF_MIN_MS; }

void uplink_link_timer_add(struct event *ev, uint64_t ms)
{
	struct timeval tv = {(time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000};
	evtimer_add(ev, &tv);
}

void uplink_link_conn_config(const struct uplink_link *l, struct kafka_conn_config *kc)
{
	kc->tls = l->tls;
	if (l->tls)
		kc->tls_hostname = l->cfg.tls_hostname[0] ? l->cfg.tls_hostname : l->hosts[l->current];
	if (l->cfg.sasl_mechanism == AGENT_SASL_PLAIN) {
		kc->sasl_mechanism = "PLAIN";
		kc->sasl_username = l->cfg.sasl_username;
		kc->sasl_password = l->cfg.sasl_password;
	}
}
