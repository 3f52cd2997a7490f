/* The metadata image and the rules for applying records to it.  Every check happens before the first change,
 * so a refused record leaves the image exactly as it was: all nodes refuse the same records and stay equal.
 * Must never depend on anything but the image and the record (no clock, no node identity). */
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "meta/meta_image.h"

static int bytes_set(struct meta_bytes *b, struct meta_str s)
{
	char *p = malloc((size_t)s.len + 1);
	if (!p)
		return ERR_NOMEM;
	if (s.len)
		memcpy(p, s.p, s.len);
	p[s.len] = '\0';
	free(b->p);
	b->p = p;
	b->len = s.len;
	return 0;
}

static void bytes_free(struct meta_bytes *b)
{
	free(b->p);
	b->p = NULL;
	b->len = 0;
}

static bool bytes_eq(const struct meta_bytes *b, struct meta_str s)
{
	return b->len == s.len && (s.len == 0 || memcmp(b->p, s.p, s.len) == 0);
}

static struct meta_str view(const struct meta_bytes *b) { return (struct meta_str){b->p ? b->p : "", b->len}; }

/* Grow *arr to hold count + 1 elements. */
static int grow(void **arr, size_t count, size_t elem, size_t max)
{
	if (count >= max)
		return ERR_FULL;
	void *p = realloc(*arr, (count + 1) * elem);
	if (!p)
		return ERR_NOMEM;
	*arr = p;
	memset((char *)p + count * elem, 0, elem);
	return 0;
}

#define REMOVE_AT(arr, count, i) \
	memmove(&(arr)[i], &(arr)[(i) + 1], ((count) - (i) - 1) * sizeof *(arr)), (count)--

void meta_image_init(struct meta_image *im) { memset(im, 0, sizeof *im); }

static void broker_free(struct meta_broker *b)
{
	bytes_free(&b->rack);
	for (unsigned i = 0; i < META_LISTENERS_MAX; i++) {
		bytes_free(&b->listeners[i].name);
		bytes_free(&b->listeners[i].host);
	}
}

static void topic_free(struct meta_topic *t)
{
	bytes_free(&t->name);
	free(t->parts);
}

static void config_free(struct meta_config *c)
{
	bytes_free(&c->resource);
	bytes_free(&c->key);
	bytes_free(&c->value);
}

static void acl_free(struct meta_acl *a)
{
	bytes_free(&a->resource);
	bytes_free(&a->principal);
	bytes_free(&a->host);
}

static void agent_free(struct meta_agent *a)
{
	bytes_free(&a->name);
	bytes_free(&a->version);
}

static void route_free(struct meta_route *r)
{
	bytes_free(&r->name);
	bytes_free(&r->filter);
	bytes_free(&r->topic);
}

void meta_image_deinit(struct meta_image *im)
{
	for (size_t i = 0; i < im->broker_count; i++)
		broker_free(&im->brokers[i]);
	for (size_t i = 0; i < im->topic_count; i++)
		topic_free(&im->topics[i]);
	for (size_t i = 0; i < im->config_count; i++)
		config_free(&im->configs[i]);
	for (size_t i = 0; i < im->acl_count; i++)
		acl_free(&im->acls[i]);
	for (size_t i = 0; i < im->agent_count; i++)
		agent_free(&im->agents[i]);
	for (size_t i = 0; i < im->route_count; i++)
		route_free(&im->routes[i]);
	free(im->brokers);
	free(im->topics);
	free(im->configs);
	free(im->acls);
	free(im->agents);
	free(im->routes);
	meta_image_init(im);
}

static struct meta_broker *find_broker(const struct meta_image *im, int32_t id)
{
	for (size_t i = 0; i < im->broker_count; i++)
		if (im->brokers[i].id == id)
			return &im->brokers[i];
	return NULL;
}

const struct meta_broker *meta_image_broker(const struct meta_image *im, int32_t id) { return find_broker(im, id); }

static struct meta_topic *find_topic_id(const struct meta_image *im, const struct meta_uuid *id)
{
	for (size_t i = 0; i < im->topic_count; i++)
		if (!memcmp(im->topics[i].id.b, id->b, 16))
			return &im->topics[i];
	return NULL;
}

const struct meta_topic *meta_image_topic(const struct meta_image *im, const char *name)
{
	struct meta_str s = meta_str_of(name);
	for (size_t i = 0; i < im->topic_count; i++)
		if (bytes_eq(&im->topics[i].name, s))
			return &im->topics[i];
	return NULL;
}

static int apply_broker_reg(struct meta_image *im, const struct meta_record *r)
{
	if (r->broker.id < 0)
		return ERR_INVAL;
	struct meta_broker *b = find_broker(im, r->broker.id);
	/* A registration with an epoch not above the current one is a zombie's (KIP-631 broker epochs). */
	if (b && r->broker.epoch <= b->epoch)
		return ERR_META_FENCED;
	if (!b) {
		int rc = grow((void **)&im->brokers, im->broker_count, sizeof *im->brokers, META_BROKERS_MAX);
		if (rc)
			return rc;
		b = &im->brokers[im->broker_count++];
	}
	broker_free(b);
	memset(b, 0, sizeof *b);
	b->id = r->broker.id;
	b->epoch = r->broker.epoch;
	b->incarnation = r->broker.incarnation;
	b->fenced = r->broker.fenced;
	int rc = bytes_set(&b->rack, r->broker.rack);
	b->listener_count = r->broker.listener_count;
	for (unsigned i = 0; i < b->listener_count && !rc; i++) {
		rc = bytes_set(&b->listeners[i].name, r->broker.listeners[i].name);
		if (!rc)
			rc = bytes_set(&b->listeners[i].host, r->broker.listeners[i].host);
		b->listeners[i].port = r->broker.listeners[i].port;
	}
	return rc;
}

static int apply_broker_epoch(struct meta_image *im, const struct meta_record *r)
{
	struct meta_broker *b = find_broker(im, r->broker_epoch.id);
	if (!b)
		return ERR_META_NO_BROKER;
	if (b->epoch != r->broker_epoch.epoch)
		return ERR_META_FENCED;
	if (r->type == META_REC_BROKER_FENCE) {
		b->fenced = true;
	} else if (r->type == META_REC_BROKER_UNFENCE) {
		b->fenced = false;
	} else {
		broker_free(b);
		size_t i = (size_t)(b - im->brokers);
		REMOVE_AT(im->brokers, im->broker_count, i);
	}
	return 0;
}

static int apply_topic(struct meta_image *im, const struct meta_record *r)
{
	if (find_topic_id(im, &r->topic.id))
		return ERR_EXISTS;
	for (size_t i = 0; i < im->topic_count; i++)
		if (bytes_eq(&im->topics[i].name, r->topic.name))
			return ERR_EXISTS;
	int rc = grow((void **)&im->topics, im->topic_count, sizeof *im->topics, META_TOPICS_MAX);
	if (rc)
		return rc;
	struct meta_topic *t = &im->topics[im->topic_count];
	t->id = r->topic.id;
	if ((rc = bytes_set(&t->name, r->topic.name)))
		return rc;
	im->topic_count++;
	return 0;
}

static int apply_topic_remove(struct meta_image *im, const struct meta_record *r)
{
	struct meta_topic *t = find_topic_id(im, &r->topic.id);
	if (!t)
		return ERR_META_NO_TOPIC;
	/* The topic's configuration goes with it. */
	for (size_t i = 0; i < im->config_count;) {
		struct meta_config *c = &im->configs[i];
		if (c->resource_type == META_RES_TOPIC && bytes_eq(&c->resource, view(&t->name))) {
			config_free(c);
			REMOVE_AT(im->configs, im->config_count, i);
		} else {
			i++;
		}
	}
	topic_free(t);
	size_t i = (size_t)(t - im->topics);
	REMOVE_AT(im->topics, im->topic_count, i);
	return 0;
}

static bool contains(const struct meta_replicas *set, int32_t id)
{
	for (unsigned i = 0; i < set->count; i++)
		if (set->ids[i] == id)
			return true;
	return false;
}

/* Replicas non-empty and distinct; the ISR a non-empty subset; the leader in the ISR or none. */
static bool partition_valid(const struct meta_replicas *replicas, const struct meta_replicas *isr, int32_t leader)
{
	if (replicas->count == 0)
		return false;
	for (unsigned i = 0; i < replicas->count; i++)
		for (unsigned j = i + 1; j < replicas->count; j++)
			if (replicas->ids[i] == replicas->ids[j])
				return false;
	for (unsigned i = 0; i < isr->count; i++) {
		if (!contains(replicas, isr->ids[i]))
			return false;
		for (unsigned j = i + 1; j < isr->count; j++)
			if (isr->ids[i] == isr->ids[j])
				return false;
	}
	return leader == META_NO_LEADER || contains(isr, leader);
}

static int apply_partition(struct meta_image *im, const struct meta_record *r)
{
	struct meta_topic *t = find_topic_id(im, &r->partition.topic);
	if (!t)
		return ERR_META_NO_TOPIC;
	int32_t p = r->partition.partition;
	if (p < 0 || (uint32_t)p > t->part_count || r->partition.leader_epoch < 0 || r->partition.partition_epoch < 0 ||
	    !partition_valid(&r->partition.replicas, &r->partition.isr, r->partition.leader))
		return ERR_INVAL;
	if ((uint32_t)p == t->part_count) {
		int rc = grow((void **)&t->parts, t->part_count, sizeof *t->parts, META_PARTITIONS_MAX);
		if (rc)
			return rc;
		t->part_count++;
	}
	t->parts[p] = (struct meta_partition){r->partition.replicas, r->partition.isr, r->partition.leader,
	                                      r->partition.leader_epoch, r->partition.partition_epoch};
	return 0;
}

static int apply_partition_change(struct meta_image *im, const struct meta_record *r)
{
	struct meta_topic *t = find_topic_id(im, &r->change.topic);
	if (!t)
		return ERR_META_NO_TOPIC;
	int32_t p = r->change.partition;
	if (p < 0 || (uint32_t)p >= t->part_count)
		return ERR_NOT_FOUND;
	struct meta_partition next = t->parts[p];
	if (r->change.has_replicas)
		next.replicas = r->change.replicas;
	if (r->change.has_isr)
		next.isr = r->change.isr;
	if (r->change.leader != META_NO_CHANGE)
		next.leader = r->change.leader;
	if (!partition_valid(&next.replicas, &next.isr, next.leader))
		return ERR_INVAL;
	/* A new leader starts a new leader epoch, which fences the old one's writes (KIP-101). */
	if (next.leader != t->parts[p].leader)
		next.leader_epoch++;
	next.partition_epoch++;
	t->parts[p] = next;
	return 0;
}

static int apply_config(struct meta_image *im, const struct meta_record *r)
{
	if (r->config.resource_type >= META_RES_END)
		return ERR_INVAL;
	struct meta_config *c = NULL;
	for (size_t i = 0; i < im->config_count; i++) {
		struct meta_config *x = &im->configs[i];
		if (x->resource_type == r->config.resource_type && bytes_eq(&x->resource, r->config.resource) &&
		    bytes_eq(&x->key, r->config.key))
			c = x;
	}
	if (!r->config.has_value) {
		if (!c)
			return ERR_NOT_FOUND;
		config_free(c);
		size_t i = (size_t)(c - im->configs);
		REMOVE_AT(im->configs, im->config_count, i);
		return 0;
	}
	if (c)
		return bytes_set(&c->value, r->config.value);
	int rc = grow((void **)&im->configs, im->config_count, sizeof *im->configs, META_CONFIGS_MAX);
	if (rc)
		return rc;
	c = &im->configs[im->config_count];
	c->resource_type = r->config.resource_type;
	if ((rc = bytes_set(&c->resource, r->config.resource)) || (rc = bytes_set(&c->key, r->config.key)) ||
	    (rc = bytes_set(&c->value, r->config.value))) {
		config_free(c);
		return rc;
	}
	im->config_count++;
	return 0;
}

static int apply_producer_ids(struct meta_image *im, const struct meta_record *r)
{
	/* Blocks only move forward: a producer id is never handed out twice (KIP-730). */
	if (r->producer_ids.next_id <= im->next_producer_id)
		return ERR_RANGE;
	im->next_producer_id = r->producer_ids.next_id;
	im->producer_ids_broker = r->producer_ids.broker;
	im->producer_ids_broker_epoch = r->producer_ids.broker_epoch;
	return 0;
}

static bool acl_eq(const struct meta_acl *a, const struct meta_record *r)
{
	return a->resource_type == r->acl.resource_type && a->pattern_type == r->acl.pattern_type &&
	       a->operation == r->acl.operation && a->permission == r->acl.permission &&
	       bytes_eq(&a->resource, r->acl.resource) && bytes_eq(&a->principal, r->acl.principal) &&
	       bytes_eq(&a->host, r->acl.host);
}

static int apply_acl(struct meta_image *im, const struct meta_record *r)
{
	for (size_t i = 0; i < im->acl_count; i++) {
		if (!acl_eq(&im->acls[i], r))
			continue;
		if (r->type == META_REC_ACL)
			return ERR_EXISTS;
		acl_free(&im->acls[i]);
		REMOVE_AT(im->acls, im->acl_count, i);
		return 0;
	}
	if (r->type == META_REC_ACL_REMOVE)
		return ERR_NOT_FOUND;
	if (r->acl.resource_type >= META_RES_END)
		return ERR_INVAL;
	int rc = grow((void **)&im->acls, im->acl_count, sizeof *im->acls, META_ACLS_MAX);
	if (rc)
		return rc;
	struct meta_acl *a = &im->acls[im->acl_count];
	a->resource_type = r->acl.resource_type;
	a->pattern_type = r->acl.pattern_type;
	a->operation = r->acl.operation;
	a->permission = r->acl.permission;
	if ((rc = bytes_set(&a->resource, r->acl.resource)) || (rc = bytes_set(&a->principal, r->acl.principal)) ||
	    (rc = bytes_set(&a->host, r->acl.host))) {
		acl_free(a);
		return rc;
	}
	im->acl_count++;
	return 0;
}

static struct meta_agent *find_agent(const struct meta_image *im, struct meta_str name)
{
	for (size_t i = 0; i < im->agent_count; i++)
		if (bytes_eq(&im->agents[i].name, name))
			return &im->agents[i];
	return NULL;
}

static int apply_agent(struct meta_image *im, const struct meta_record *r)
{
	struct meta_agent *a = find_agent(im, r->agent.name);
	if (r->type == META_REC_AGENT_FENCE) {
		if (!a)
			return ERR_NOT_FOUND;
		if (a->epoch != r->agent.epoch)
			return ERR_META_FENCED;
		a->fenced = true;
		return 0;
	}
	if (a && r->agent.epoch <= a->epoch)
		return ERR_META_FENCED;
	int rc;
	if (!a) {
		if ((rc = grow((void **)&im->agents, im->agent_count, sizeof *im->agents, META_AGENTS_MAX)))
			return rc;
		a = &im->agents[im->agent_count];
		if ((rc = bytes_set(&a->name, r->agent.name)))
			return rc;
		im->agent_count++;
	}
	a->epoch = r->agent.epoch;
	a->fenced = r->agent.fenced;
	return bytes_set(&a->version, r->agent.version);
}

static int apply_route(struct meta_image *im, const struct meta_record *r)
{
	struct meta_route *x = NULL;
	for (size_t i = 0; i < im->route_count; i++)
		if (bytes_eq(&im->routes[i].name, r->route.name))
			x = &im->routes[i];
	if (r->type == META_REC_ROUTE_REMOVE) {
		if (!x)
			return ERR_NOT_FOUND;
		route_free(x);
		size_t i = (size_t)(x - im->routes);
		REMOVE_AT(im->routes, im->route_count, i);
		return 0;
	}
	if (r->route.qos > 2)
		return ERR_INVAL;
	int rc;
	if (!x) {
		if ((rc = grow((void **)&im->routes, im->route_count, sizeof *im->routes, META_ROUTES_MAX)))
			return rc;
		x = &im->routes[im->route_count];
		if ((rc = bytes_set(&x->name, r->route.name)))
			return rc;
		im->route_count++;
	}
	x->qos = r->route.qos;
	if ((rc = bytes_set(&x->filter, r->route.filter)))
		return rc;
	return bytes_set(&x->topic, r->route.topic);
}

int meta_image_apply(struct meta_image *im, const struct meta_record *r)
{
	int rc;
	switch (r->type) {
	case META_REC_BROKER_REG:
		rc = apply_broker_reg(im, r);
		break;
	case META_REC_BROKER_FENCE:
	case META_REC_BROKER_UNFENCE:
	case META_REC_BROKER_UNREG:
		rc = apply_broker_epoch(im, r);
		break;
	case META_REC_TOPIC:
		rc = apply_topic(im, r);
		break;
	case META_REC_TOPIC_REMOVE:
		rc = apply_topic_remove(im, r);
		break;
	case META_REC_PARTITION:
		rc = apply_partition(im, r);
		break;
	case META_REC_PARTITION_CHANGE:
		rc = apply_partition_change(im, r);
		break;
	case META_REC_CONFIG:
		rc = apply_config(im, r);
		break;
	case META_REC_PRODUCER_IDS:
		rc = apply_producer_ids(im, r);
		break;
	case META_REC_ACL:
	case META_REC_ACL_REMOVE:
		rc = apply_acl(im, r);
		break;
	case META_REC_AGENT_REG:
	case META_REC_AGENT_FENCE:
		rc = apply_agent(im, r);
		break;
	case META_REC_ROUTE:
	case META_REC_ROUTE_REMOVE:
		rc = apply_route(im, r);
		break;
	default:
		rc = ERR_META_UNKNOWN_RECORD;
		break;
	}
	if (rc)
		im->records_refused++;
	else
		im->records_applied++;
	return rc;
}

int meta_image_apply_entry(struct meta_image *im, uint64_t index, const uint8_t *buf, size_t len)
{
	struct meta_record r;
	int rc = meta_record_decode(buf, len, &r);
	if (!rc)
		rc = meta_image_apply(im, &r);
	else
		im->records_refused++;
	if (index > im->applied_index)
		im->applied_index = index;
	return rc;
}
