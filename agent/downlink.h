/* Cloud-to-device commands ([downlink]): a small Kafka consumer on the [uplink] bootstrap broker that reads
 * one topic and publishes the records addressed to this agent to the local MQTT broker.
 *
 * Addressing: a record is for this agent when its key starts with "<agent-id>/" or its header ferry.agent
 * equals the agent id; others are skipped (counted).  The local topic is the record's mqtt.topic header, or
 * the [downlink] mqtt_topic template ({key}: the key after "<agent-id>/", {agent}).  The payload is the
 * record value unchanged.
 *
 * At least once: the consumer offset is committed in the cloud (OffsetCommit with generation -1 and no
 * member: a simple consumer, no group membership) only after the records before it were handed to the local
 * broker; a crash in between delivers them again.  Without a committed offset the consumer starts at the
 * latest (or earliest, by config) offset and commits that position at once.
 *
 * Limits: one connection, to the bootstrap broker, which must lead the topic's partitions and coordinate the
 * group (true of a single ferry-cloud node and of librdkafka's mock cluster with one broker).  Loop thread only. */
#ifndef FERRY_AGENT_DOWNLINK_H
#define FERRY_AGENT_DOWNLINK_H

#include "agent/config.h"

struct event_base;
struct agent_broker;
struct metrics;
struct downlink;

#define DOWNLINK_PARTITIONS_MAX 64     /* partitions of the command topic followed; more are ignored (logged) */
#define DOWNLINK_BATCH_INFLATED_MAX (8u << 20) /* one lz4 batch may inflate to this much */

/* cfg is copied; ab and metrics outlive the downlink.  Starts connecting at once.  0 and *out, ERR_NOMEM. */
int downlink_new(struct downlink **out, struct event_base *base, const struct agent_config *cfg,
		 struct agent_broker *ab, struct metrics *metrics, char *err, size_t err_len);
void downlink_free(struct downlink *d);

/* 1 and the local topic of a record for agent_id in out, or 0 when it is not addressed to this agent.  out
 * receives a NUL-terminated topic; ERR_TOO_LARGE when it does not fit.  Exposed for the unit test. */
int downlink_route(const char *agent_id, const char *tmpl, const uint8_t *key, int32_t key_len,
		   const uint8_t *hdr_topic, int32_t hdr_topic_len, const uint8_t *hdr_agent, int32_t hdr_agent_len,
		   char *out, size_t out_len);

#endif
