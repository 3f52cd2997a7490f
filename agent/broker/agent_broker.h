/* The agent's MQTT broker: the engine of common/mqtt/broker bound to libevent listeners (plain TCP, TLS,
 * WebSocket when available), the agent's SQLite store (persistent sessions, queued messages, retained) and
 * its authentication and ACL rules.
 *
 * Everything runs on one event-loop thread; the store's writer thread is the only other one, and talks back
 * through completions on the loop.  Acknowledgements of messages that had to be persisted (PUBACK/PUBREC)
 * are held until the store committed.  A slow reader is flow controlled: the engine queues (bounded) instead
 * of growing the socket's output, and the socket is not read while its output is over the high watermark.
 *
 * Use: agent_broker_new(), agent_broker_load() (before store_start), agent_broker_start(), run the loop,
 * agent_broker_free().  agent_broker_reload() on SIGHUP. */
#ifndef FERRY_AGENT_BROKER_H
#define FERRY_AGENT_BROKER_H

#include <stdbool.h>
#include <stdint.h>

#include "agent/config.h"
#include "agent/store.h"
#include "mqtt/broker/broker.h"

struct event_base;
struct store;
struct metrics;
struct auth;

struct agent_broker;

enum agent_listener_kind { AGENT_LISTENER_MQTT, AGENT_LISTENER_TLS, AGENT_LISTENER_WS, AGENT_LISTENER_COUNT };

/* store, auth and metrics may be NULL (no persistence, anonymous everything allowed, no metrics) and must
 * outlive the broker.  cfg is copied.  0 and *out, or ERR_NOMEM / ERR_CONFIG (message in err). */
int agent_broker_new(struct agent_broker **out, struct event_base *base, const struct agent_config *cfg,
		     struct store *store, struct auth *auth, struct metrics *metrics, char *err, size_t err_len);
/* Restore persistent sessions, their subscriptions and queues, and retained messages from the store.  Call
 * after store_open and before store_start.  0 or the store's error. */
int agent_broker_load(struct agent_broker *ab);
/* Bind the enabled listeners and start the timers.  0, or ERR_IO with the failing address in err. */
int agent_broker_start(struct agent_broker *ab, char *err, size_t err_len);
/* Close every connection (wills of connected clients are not published: they come back) and free. */
void agent_broker_free(struct agent_broker *ab);
/* New limits (SIGHUP): applied to new connections; existing ones keep what they negotiated. */
void agent_broker_reload(struct agent_broker *ab, const struct agent_config *cfg);
/* SIGHUP: TLS listeners re-read their certificate files (new connections get them; on error the old stay). */
void agent_broker_reload_tls(struct agent_broker *ab);

/* The port a listener is bound to (useful with port 0 in tests), 0 when not listening. */
uint16_t agent_broker_port(const struct agent_broker *ab, enum agent_listener_kind kind);
const struct mqtt_broker_stats *agent_broker_stats(const struct agent_broker *ab);
/* Current client connections (accepted sockets, connected or not yet). */
uint32_t agent_broker_connections(const struct agent_broker *ab);
struct mqtt_broker *agent_broker_engine(struct agent_broker *ab);

/* Store and forward: the hook sees every accepted PUBLISH before fan-out (agent/fwd.c).  It returns 0,
 * MQTT_PUBLISH_HOOK_WAIT when it submitted store work (agent_broker_store_call) that the PUBACK/PUBREC must
 * wait for, or (only when can_refuse) a 5.0 reason code >= 0x80 refusing the message (see the engine's
 * on_publish in mqtt/broker/broker.h). */
typedef int agent_publish_hook(void *arg, const struct mqtt_msg *msg, bool can_refuse);
void agent_broker_set_publish_hook(struct agent_broker *ab, agent_publish_hook *fn, void *arg);
/* Store work ordered with the engine's own: acknowledgements sent after this call wait for its commit.
 * 0 or store_call's error (counted and logged). */
int agent_broker_store_call(struct agent_broker *ab, store_call_fn *fn, void *fn_arg);

#endif
