/* Metadata cache (kafka/metadata.h).  Copies names and hosts out of a response into fixed tables; a name or
 * host over its limit, or more brokers/topics/partitions than the tables hold, is dropped and reported as
 * ERR_FULL, never written past. */
#include <stdlib.h>
#include <string.h>

#include "kafka/metadata.h"

int kafka_metadata_init(struct kafka_metadata_cache *m, uint32_t broker_max, uint32_t topic_max, uint32_t partition_max)
{
	memset(m, 0, sizeof *m);
	m->broker_max = broker_max;
	m->topic_max = topic_max;
	m->partition_max = partition_max;
	m->controller_id = -1;
	m->brokers = calloc(broker_max ? broker_max : 1, sizeof *m->brokers);
	m->topics = calloc(topic_max ? topic_max : 1, sizeof *m->topics);
	if (!m->brokers || !m->topics)
		goto fail;
	for (uint32_t i = 0; i < topic_max; i++) {
		m->topics[i].partitions = calloc(partition_max ? partition_max : 1, sizeof *m->topics[i].partitions);
		if (!m->topics[i].partitions)
			goto fail;
	}
	return 0;
fail:
	kafka_metadata_deinit(m);
	return ERR_NOMEM;
}

void kafka_metadata_deinit(struct kafka_metadata_cache *m)
{
	if (m->topics)
		for (uint32_t i = 0; i < m->topic_max; i++)
			free(m->topics[i].partitions);
	free(m->topics);
	free(m->brokers);
	memset(m, 0, sizeof *m);
}

/* Copy a wire string into a NUL-terminated field; false (and "") when null or too long. */
static bool copy_str(char *dst, size_t cap, struct kafka_str s)
{
	if (s.len < 0 || (size_t)s.len >= cap) {
		dst[0] = 0;
		return s.len < 0;
	}
	memcpy(dst, s.p, (size_t)s.len);
	dst[s.len] = 0;
	return true;
}

static struct kafka_topic_info *find_topic(const struct kafka_metadata_cache *m, const char *name, size_t len)
{
	for (uint32_t i = 0; i < m->topic_count; i++)
		if (strlen(m->topics[i].name) == len && memcmp(m->topics[i].name, name, len) == 0)
			return &m->topics[i];
	return NULL;
}

static int update_topic(struct kafka_metadata_cache *m, const struct kafka_metadata_response_topic *t)
{
	if (t->name.len <= 0 || t->name.len > KAFKA_TOPIC_NAME_MAX)
		return ERR_FULL; /* v10+ may name topics by id only; we key by name */
	struct kafka_topic_info *ti = find_topic(m, t->name.p, (size_t)t->name.len);
	if (!ti) {
		if (m->topic_count == m->topic_max)
			return ERR_FULL;
		ti = &m->topics[m->topic_count++];
		copy_str(ti->name, sizeof ti->name, t->name);
		ti->partition_count = 0;
	}
	ti->error_code = t->error_code;
	ti->topic_id = t->topic_id;
	ti->is_internal = t->is_internal;
	if (t->error_code)
		return 0; /* e.g. LEADER_NOT_AVAILABLE while a topic is created: keep what we knew */
	int rc = 0;
	int32_t count = 0;
	for (int32_t i = 0; i < t->partitions.count; i++) {
		const struct kafka_metadata_response_partition *p = &t->partitions.items[i];
		if (p->partition_index < 0 || (uint32_t)p->partition_index >= m->partition_max) {
			rc = ERR_FULL;
			continue;
		}
		ti->partitions[p->partition_index] = (struct kafka_partition_info){ p->partition_index, p->leader_id,
										    p->leader_epoch, p->error_code };
		if (p->partition_index >= count)
			count = p->partition_index + 1;
	}
	ti->partition_count = count;
	return rc;
}

int kafka_metadata_update(struct kafka_metadata_cache *m, const struct kafka_metadata_response *r, uint64_t now_ns)
{
	int rc = 0;
	m->broker_count = 0;
	for (int32_t i = 0; i < r->brokers.count; i++) {
		const struct kafka_metadata_response_broker *b = &r->brokers.items[i];
		if (m->broker_count == m->broker_max) {
			rc = ERR_FULL;
			break;
		}
		struct kafka_broker_info *bi = &m->brokers[m->broker_count];
		bi->node_id = b->node_id;
		bi->port = b->port;
		if (!copy_str(bi->host, sizeof bi->host, b->host) || b->host.len <= 0) {
			rc = ERR_FULL;
			continue;
		}
		copy_str(bi->rack, sizeof bi->rack, b->rack);
		m->broker_count++;
	}
	copy_str(m->cluster_id, sizeof m->cluster_id, r->cluster_id);
	m->controller_id = r->controller_id;
	for (int32_t i = 0; i < r->topics.count; i++) {
		int trc = update_topic(m, &r->topics.items[i]);
		if (trc < 0)
			rc = trc;
	}
	m->updated_ns = now_ns;
	return rc;
}

const struct kafka_broker_info *kafka_metadata_broker(const struct kafka_metadata_cache *m, int32_t node_id)
{
	for (uint32_t i = 0; i < m->broker_count; i++)
		if (m->brokers[i].node_id == node_id)
			return &m->brokers[i];
	return NULL;
}

const struct kafka_topic_info *kafka_metadata_topic(const struct kafka_metadata_cache *m, const char *name,
						    size_t name_len)
{
	return find_topic(m, name, name_len);
}

int kafka_metadata_leader(const struct kafka_metadata_cache *m, const char *topic, size_t topic_len,
			  int32_t partition, const struct kafka_broker_info **leader)
{
	const struct kafka_topic_info *t = find_topic(m, topic, topic_len);
	if (!t || partition < 0 || partition >= t->partition_count)
		return ERR_NOT_FOUND;
	const struct kafka_partition_info *p = &t->partitions[partition];
	*leader = p->leader_id < 0 ? NULL : kafka_metadata_broker(m, p->leader_id);
	return *leader ? 0 : ERR_AGAIN;
}

bool kafka_metadata_stale(const struct kafka_metadata_cache *m, uint64_t now_ns, uint32_t max_age_ms)
{
	return m->updated_ns == 0 || now_ns - m->updated_ns > (uint64_t)max_age_ms * 1000000u;
}
