/* OffsetFetch (key 9): committed offsets of one group (v0-7) or several (v8+); a null topic list means all
 * of the group's offsets.  A partition never committed answers offset -1 with no error, as Kafka does. */
#include "cloud/api/api_group_util.h"
#include "cloud/group/offsets.h"

/* One group's answer, in the v8 layout (converted to v0-7 by the caller). */
struct collected {
	struct kreq *r;
	struct kafka_offset_fetch_response_topics *topics;
	int32_t count, cap;
	bool oom;
};

static struct kafka_offset_fetch_response_topics *topic_slot(struct collected *c, const char *name)
{
	for (int32_t i = 0; i < c->count; i++)
		if (c->topics[i].name.len == (int32_t)strlen(name) && !memcmp(c->topics[i].name.p, name, strlen(name)))
			return &c->topics[i];
	if (c->count == c->cap) {
		int32_t cap = c->cap ? c->cap * 2 : 16;
		struct kafka_offset_fetch_response_topics *n = kreq_alloc(c->r, sizeof *n * (size_t)cap);
		if (!n)
			return NULL;
		if (c->count)
			memcpy(n, c->topics, sizeof *n * (size_t)c->count);
		c->topics = n;
		c->cap = cap;
	}
	struct kafka_offset_fetch_response_topics *t = &c->topics[c->count++];
	memset(t, 0, sizeof *t);
	t->name = kstr(name);
	return t;
}

static void add_one(void *arg, const char *topic, int32_t partition, const struct offset_value *v)
{
	struct collected *c = arg;
	struct kafka_offset_fetch_response_topics *t = topic_slot(c, topic);
	if (!t) {
		c->oom = true;
		return;
	}
	/* Grow the partition array by copying (offsets of a group are few). */
	struct kafka_offset_fetch_response_partitions *n = kreq_alloc(c->r, sizeof *n * (size_t)(t->partitions.count + 1));
	if (!n) {
		c->oom = true;
		return;
	}
	if (t->partitions.count)
		memcpy(n, t->partitions.items, sizeof *n * (size_t)t->partitions.count);
	n[t->partitions.count] = (struct kafka_offset_fetch_response_partitions){
		partition, v->offset, v->leader_epoch, kstr(v->metadata), KAFKA_EC_NONE};
	t->partitions.items = n;
	t->partitions.count++;
}

static void fill_partition(struct broker *b, struct group_view g, struct kafka_str topic, int32_t part,
			   struct kafka_offset_fetch_response_partitions *o)
{
	struct offset_value v;
	o->partition_index = part;
	o->error_code = KAFKA_EC_NONE;
	if (g.p && topic.len >= 0 && !offsets_get(b->offsets, g, gview(topic), part, &v)) {
		o->committed_offset = v.offset;
		o->committed_leader_epoch = v.leader_epoch;
		o->metadata = kstr(v.metadata);
	} else {
		o->committed_offset = -1;
		o->committed_leader_epoch = -1;
		o->metadata = kstr("");
	}
}

/* The answer for one group; topics NULL (count -1) means every committed offset. */
static int collect(struct broker *b, struct kreq *r, struct group_view g, const struct kafka_offset_fetch_request_topics *qt,
		   int32_t nt, struct kafka_offset_fetch_response_group *out)
{
	out->error_code = KAFKA_EC_NONE;
	if (nt < 0) {
		struct collected c = {.r = r};
		if (g.p)
			offsets_each(b->offsets, g, add_one, &c);
		out->topics.items = c.topics;
		out->topics.count = c.count;
		return c.oom ? -1 : 0;
	}
	if (!API_ARRAY(r, out->topics, nt))
		return -1;
	for (int32_t i = 0; i < nt; i++) {
		struct kafka_offset_fetch_response_topics *t = &out->topics.items[i];
		t->name = qt[i].name;
		int32_t np = qt[i].partition_indexes.count > 0 ? qt[i].partition_indexes.count : 0;
		if (!API_ARRAY(r, t->partitions, np))
			return -1;
		for (int32_t k = 0; k < np; k++)
			fill_partition(b, g, qt[i].name, qt[i].partition_indexes.items[k], &t->partitions.items[k]);
	}
	return 0;
}

void api_offset_fetch(struct broker *b, struct kreq *r)
{
	const struct kafka_offset_fetch_request *q = &r->body.offset_fetch;
	struct kafka_offset_fetch_response resp;
	kafka_msg_init(&kafka_msg_offset_fetch_response, &resp);
	if (r->hdr.api_version >= 8) {
		int32_t ng = q->groups.count > 0 ? q->groups.count : 0;
		if (!API_ARRAY(r, resp.groups, ng))
			goto oom;
		for (int32_t i = 0; i < ng; i++) {
			const struct kafka_offset_fetch_request_group *qg = &q->groups.items[i];
			resp.groups.items[i].group_id = qg->group_id;
			if (collect(b, r, gview(qg->group_id), qg->topics.items, qg->topics.count, &resp.groups.items[i]))
				goto oom;
		}
		kreq_respond(r, &resp);
		return;
	}
	/* v0-7: the same answer in the older layout (identical fields, other struct types). */
	struct kafka_offset_fetch_request_topics *qt = NULL;
	int32_t nt = q->topics.count;
	if (nt > 0) {
		qt = kreq_alloc(r, sizeof *qt * (size_t)nt);
		if (!qt)
			goto oom;
		for (int32_t i = 0; i < nt; i++) {
			qt[i].name = q->topics.items[i].name;
			qt[i].partition_indexes.items = q->topics.items[i].partition_indexes.items;
			qt[i].partition_indexes.count = q->topics.items[i].partition_indexes.count;
		}
	}
	if (nt < 0 && r->hdr.api_version < 2)
		nt = 0;
	struct kafka_offset_fetch_response_group g;
	if (collect(b, r, gview(q->group_id), qt, nt, &g))
		goto oom;
	if (!API_ARRAY(r, resp.topics, g.topics.count))
		goto oom;
	for (int32_t i = 0; i < g.topics.count; i++) {
		struct kafka_offset_fetch_response_topic *t = &resp.topics.items[i];
		t->name = g.topics.items[i].name;
		if (!API_ARRAY(r, t->partitions, g.topics.items[i].partitions.count))
			goto oom;
		for (int32_t k = 0; k < t->partitions.count; k++) {
			const struct kafka_offset_fetch_response_partitions *s = &g.topics.items[i].partitions.items[k];
			t->partitions.items[k] = (struct kafka_offset_fetch_response_partition){
				s->partition_index, s->committed_offset, s->committed_leader_epoch, s->metadata, s->error_code};
		}
	}
	kreq_respond(r, &resp);
	return;
oom:
	kreq_close_after(r);
	kreq_respond_none(r);
}
