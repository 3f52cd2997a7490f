/* Store and forward, the ingest side: routes select accepted MQTT messages ([route NAME] in the config), and
 * each selected message becomes one row of the buffer (fwd_records) in the same group commit as the broker's
 * own state, before the device gets its PUBACK/PUBREC.  The uplink (agent/uplink.c) drains the rows.
 *
 * The row is what the Kafka record will be (DESIGN.md, "Unified topics"): key from the route's template
 * (default "<agent-id>/<mqtt-topic>"), value the payload unchanged, timestamp when the agent accepted it, and
 * headers mqtt.topic, mqtt.qos, mqtt.retain (when set), ferry.agent, each MQTT 5 user property, and content
 * type, payload format, response topic and correlation data when present.
 *
 * Bounds: each route holds at most max_bytes of key+value+headers; over it the route's policy applies:
 * "reject" refuses the message (MQTT 5 QoS 1/2: reason 0x97, nothing stored or delivered) or, when the device
 * cannot be told (3.1.1, QoS 0), drops it from the route; "evict" deletes the route's oldest unclaimed rows.
 * max_age is enforced by the uplink (fwd_expired).  Priority is stored, not yet used across routes.  Every
 * drop is counted per route (dropped, refused, evicted, expired) and logged.  Loop thread only. */
#ifndef FERRY_AGENT_FWD_H
#define FERRY_AGENT_FWD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/broker/agent_broker.h"
#include "agent/config.h"

#define FWD_HEADERS_MAX 64 /* headers per record: the fixed ones plus user properties; more are dropped */

struct fwd;
struct metrics;

/* cfg is copied (routes, agent id).  0 and *out, ERR_NOMEM, or ERR_CONFIG (a route filter is invalid). */
int fwd_new(struct fwd **out, const struct agent_config *cfg, struct agent_broker *ab, struct metrics *metrics,
	    char *err, size_t err_len);
void fwd_free(struct fwd *f);
/* The publish hook (agent_broker_set_publish_hook): MQTT_PUBLISH_HOOK_WAIT when rows were submitted, 0, or
 * MQTT_RC_QUOTA_EXCEEDED when can_refuse and a matching route with policy reject is full. */
int fwd_on_publish(void *arg, const struct mqtt_msg *msg, bool can_refuse);
/* Rows submitted since start: the uplink looks for work when this moves. */
uint64_t fwd_ingested(const struct fwd *f);
/* The uplink gave bytes of route_name back (rows acknowledged by the cloud and deleted). */
void fwd_release(struct fwd *f, const char *route_name, uint64_t bytes);
/* The uplink deleted count rows of route_name (bytes) older than its max_age: counted, logged. */
void fwd_expired(struct fwd *f, const char *route_name, uint64_t count, uint64_t bytes);
/* $SYS: publish value (decimal, retained, QoS 0) on topic through the local broker; and every route's
 * figures on $SYS/ferry/routes/<name>/{buffer_bytes,buffered,dropped,refused,evicted,expired}. */
void fwd_sys_value(struct fwd *f, const char *topic, int64_t value);
void fwd_sys(struct fwd *f);
/* Startup: bytes already buffered per route (from the database). */
void fwd_account(struct fwd *f, const char *route_name, uint64_t bytes);

/* Headers as stored in fwd_records.headers: repeated [u16 key_len][key][i32 value_len, -1 = null][value]. */
struct fwd_header_iter {
	const uint8_t *p;
	size_t left;
};
/* 1 and the next header (views into the blob), 0 at the end, ERR_MALFORMED for a damaged blob. */
int fwd_header_next(struct fwd_header_iter *it, const uint8_t **key, uint16_t *key_len, const uint8_t **value,
		    int32_t *value_len);

#endif
