/* Sample metadata records shared by the meta tests (header-only: tests/unit links every .c into every test). */
#ifndef FERRY_TEST_META_SAMPLES_H
#define FERRY_TEST_META_SAMPLES_H

#include <string.h>

#include "meta/meta_record.h"

static inline struct meta_uuid sample_uuid(uint8_t seed)
{
	struct meta_uuid u;
	for (int i = 0; i < 16; i++)
		u.b[i] = (uint8_t)(seed * 31 + i);
	return u;
}

/* One valid record of each type, in an order that applies cleanly to an empty image. */
static inline struct meta_record sample_record(uint16_t type)
{
	struct meta_record r;
	memset(&r, 0, sizeof r);
	r.type = type;
	switch (type) {
	case META_REC_BROKER_REG:
		r.broker.id = 1;
		r.broker.epoch = 10;
		r.broker.incarnation = sample_uuid(1);
		r.broker.rack = meta_str_of("rack-a");
		r.broker.fenced = true;
		r.broker.listener_count = 2;
		r.broker.listeners[0] = (struct meta_listener){meta_str_of("PLAINTEXT"), meta_str_of("10.0.0.1"), 9092};
		r.broker.listeners[1] = (struct meta_listener){meta_str_of("MQTT"), meta_str_of("10.0.0.1"), 1883};
		break;
	case META_REC_BROKER_FENCE:
	case META_REC_BROKER_UNFENCE:
	case META_REC_BROKER_UNREG:
		r.broker_epoch.id = 1;
		r.broker_epoch.epoch = 10;
		break;
	case META_REC_TOPIC:
		r.topic.name = meta_str_of("sensors");
		r.topic.id = sample_uuid(7);
		break;
	case META_REC_TOPIC_REMOVE:
		r.topic.id = sample_uuid(7);
		break;
	case META_REC_PARTITION:
		r.partition.topic = sample_uuid(7);
		r.partition.partition = 0;
		r.partition.replicas = (struct meta_replicas){3, {1, 2, 3}};
		r.partition.isr = (struct meta_replicas){2, {1, 2}};
		r.partition.leader = 1;
		r.partition.leader_epoch = 4;
		r.partition.partition_epoch = 9;
		break;
	case META_REC_PARTITION_CHANGE:
		r.change.topic = sample_uuid(7);
		r.change.partition = 0;
		r.change.leader = 2;
		r.change.has_isr = true;
		r.change.isr = (struct meta_replicas){2, {2, 3}};
		break;
	case META_REC_CONFIG:
		r.config.resource_type = META_RES_TOPIC;
		r.config.resource = meta_str_of("sensors");
		r.config.key = meta_str_of("retention.ms");
		r.config.has_value = true;
		r.config.value = meta_str_of("86400000");
		break;
	case META_REC_PRODUCER_IDS:
		r.producer_ids.broker = 1;
		r.producer_ids.broker_epoch = 10;
		r.producer_ids.next_id = 1000;
		break;
	case META_REC_ACL:
	case META_REC_ACL_REMOVE:
		r.acl.resource_type = META_RES_TOPIC;
		r.acl.pattern_type = 3;
		r.acl.operation = 2;
		r.acl.permission = 3;
		r.acl.resource = meta_str_of("sensors");
		r.acl.principal = meta_str_of("User:agent-7");
		r.acl.host = meta_str_of("*");
		break;
	case META_REC_AGENT_REG:
		r.agent.name = meta_str_of("gw-0042");
		r.agent.version = meta_str_of("0.1.0");
		r.agent.epoch = 3;
		break;
	case META_REC_AGENT_FENCE:
		r.agent.name = meta_str_of("gw-0042");
		r.agent.epoch = 3;
		break;
	case META_REC_ROUTE:
		r.route.name = meta_str_of("temps");
		r.route.filter = meta_str_of("sensors/+/temp");
		r.route.topic = meta_str_of("sensors");
		r.route.qos = 1;
		break;
	case META_REC_ROUTE_REMOVE:
		r.route.name = meta_str_of("temps");
		break;
	}
	return r;
}

#endif
