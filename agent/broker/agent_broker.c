/* Lifecycle of the agent's broker: the engine's configuration from the agent's, its ops wired to this
 * folder's connection, store and access code, the timers (engine tick, $SYS). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/broker/internal.h"
#include "base/log.h"
#include "port.h"

uint64_t ab_now_ms(void) { return port_now_ms(); }

static void engine_config(const struct agent_config *c, struct mqtt_broker_config *e)
{
	mqtt_broker_config_default(e);
	const struct agent_limits *l = &c->limits;
	e->packet_size_max = l->max_packet_size > UINT32_MAX ? UINT32_MAX : (uint32_t)l->max_packet_size;
	e->receive_max = (uint16_t)(l->max_inflight > 65535 ? 65535 : l->max_inflight);
	e->inflight_max = e->receive_max;
	e->queue_msgs_max = l->max_queued_messages ? l->max_queued_messages : UINT32_MAX;
	e->queue_bytes_max = l->max_queued_bytes;
	e->topic_len_max = l->max_topic_length;
	e->topic_levels_max = l->max_topic_levels;
	e->subs_per_client_max = l->max_subscriptions_per_client;
	e->connect_timeout_ms = (uint32_t)l->connect_timeout_ms;
	e->keep_alive_max_s = (uint16_t)(l->max_keepalive_ms / 1000 > 65535 ? 65535 : l->max_keepalive_ms / 1000);
	e->allow_anonymous = c->security.allow_anonymous;
}

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct agent_broker *ab = arg;
	mqtt_broker_tick(ab->b, ab_now_ms(), port_wall_ms());
	ab_check_stalled(ab);
}

static int on_publish(void *ctx, void *io, const struct mqtt_msg *msg, bool can_refuse)
{
	struct agent_broker *ab = ctx;
	(void)io;
	return ab->publish_hook ? ab->publish_hook(ab->publish_hook_arg, msg, can_refuse) : 0;
}

int agent_broker_new(struct agent_broker **out, struct event_base *base, const struct agent_config *cfg,
		     struct store *store, struct auth *auth, struct metrics *metrics, char *err, size_t err_len)
{
	struct agent_broker *ab = calloc(1, sizeof *ab);
	if (!ab) {
		snprintf(err, err_len, "out of memory");
		return ERR_NOMEM;
	}
	ab->base = base;
	ab->cfg = *cfg;
	ab->store = store;
	ab->auth = auth;
	ab->metrics = metrics;
	ab->conn_limit.max = cfg->limits.max_connections;
	dbuf_init(&ab->scratch, 65536 + 1);
	dbuf_init(&ab->scratch2, 65536 + 1);
	struct mqtt_broker_config ec;
	engine_config(cfg, &ec);
	struct mqtt_broker_ops ops = {0};
	ops.send = ab_send;
	ops.close = ab_close;
	ops.store = store ? ab_store : NULL;
	ops.authenticate = ab_authenticate;
	ops.authorize = ab_authorize;
	ops.throttle = ab_throttle;
	ops.on_publish = on_publish;
	ab->b = mqtt_broker_new(&ec, &ops, ab, ab_now_ms(), port_wall_ms());
	ab->reap_ev = event_new(base, -1, 0, ab_reap_cb, ab);
	ab->tick_ev = event_new(base, -1, EV_PERSIST, tick_cb, ab);
	ab->sys_ev = event_new(base, -1, EV_PERSIST, ab_sys_cb, ab);
	ab->throttle_ev = event_new(base, -1, 0, ab_throttle_cb, ab);
	ab->flush_ev = event_new(base, -1, 0, ab_flush_cb, ab);
	if (!ab->b || !ab->reap_ev || !ab->tick_ev || !ab->sys_ev || !ab->throttle_ev || !ab->flush_ev) {
		agent_broker_free(ab);
		snprintf(err, err_len, "out of memory");
		return ERR_NOMEM;
	}
	ab->started_ms = ab_now_ms();
	ab_metrics_register(ab);
	*out = ab;
	return 0;
}

int agent_broker_start(struct agent_broker *ab, char *err, size_t err_len)
{
	int rc = ab_listeners_start(ab, err, err_len);
	if (rc)
		return rc;
	struct timeval second = {1, 0};
	event_add(ab->tick_ev, &second);
	if (ab->cfg.sys_interval_ms) {
		struct timeval tv = {(time_t)(ab->cfg.sys_interval_ms / 1000), (suseconds_t)(ab->cfg.sys_interval_ms % 1000) * 1000};
		event_add(ab->sys_ev, &tv);
		ab_sys_cb(-1, 0, ab);
	}
	return 0;
}

void agent_broker_free(struct agent_broker *ab)
{
	if (!ab)
		return;
	ab_listeners_stop(ab);
	/* Shutting down is not the clients' fault: no wills, sessions stay in the store. */
	while (ab->conns) {
		struct ab_conn *conn = ab->conns;
		ab->conns = conn->next;
		ab_io_free(conn);
		free(conn->username);
		free(conn->identity);
		free(conn);
	}
	while (ab->pending_head) {
		struct ab_pending *p = ab->pending_head;
		ab->pending_head = p->next;
		free(p);
	}
	mqtt_broker_free(ab->b);
	if (ab->reap_ev)
		event_free(ab->reap_ev);
	if (ab->tick_ev)
		event_free(ab->tick_ev);
	if (ab->sys_ev)
		event_free(ab->sys_ev);
	if (ab->throttle_ev)
		event_free(ab->throttle_ev);
	if (ab->flush_ev)
		event_free(ab->flush_ev);
	dbuf_deinit(&ab->scratch);
	dbuf_deinit(&ab->scratch2);
	free(ab);
}

void agent_broker_set_publish_hook(struct agent_broker *ab, agent_publish_hook *fn, void *arg)
{
	ab->publish_hook = fn;
	ab->publish_hook_arg = arg;
}

void agent_broker_reload(struct agent_broker *ab, const struct agent_config *cfg)
{
	struct mqtt_broker_config ec;
	engine_config(cfg, &ec);
	mqtt_broker_set_config(ab->b, &ec);
	ab->cfg.limits = cfg->limits;
	ab->cfg.security = cfg->security;
	ab->conn_limit.max = cfg->limits.max_connections;
}

void agent_broker_reload_tls(struct agent_broker *ab) { ab_listeners_reload_tls(ab); }

uint16_t agent_broker_port(const struct agent_broker *ab, enum agent_listener_kind kind)
{
	return kind < AGENT_LISTENER_COUNT ? ab->listeners[kind].port : 0;
}

const struct mqtt_broker_stats *agent_broker_stats(const struct agent_broker *ab) { return mqtt_broker_stats(ab->b); }
uint32_t agent_broker_connections(const struct agent_broker *ab) { return ab->conn_count; }
struct mqtt_broker *agent_broker_engine(struct agent_broker *ab) { return ab->b; }
