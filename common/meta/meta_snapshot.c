/* Metadata snapshots: the image written as the records that rebuild it, in the image's own order, so that
 * load(save(x)) equals x and save(load(bytes)) equals bytes.  Must never write a record the image would refuse
 * on load (each one is re-validated there). */
#include <string.h>

#include "base/crc32c.h"
#include "base/err.h"
#include "base/rw.h"
#include "meta/meta_image.h"

#define SNAP_MAGIC 0x46524d53u /* FRMS */
#define SNAP_RECORDS_MAX 50000000u

static struct meta_str view(const struct meta_bytes *b) { return (struct meta_str){b->p ? b->p : "", b->len}; }

static int emit(struct dbuf *out, const struct meta_record *r, uint32_t *count)
{
	uint8_t buf[META_RECORD_SIZE_MAX];
	int n = meta_record_encode(r, buf, sizeof buf);
	if (n < 0)
		return n;
	uint8_t len[4];
	be32_put(len, (uint32_t)n);
	int rc = dbuf_add(out, len, 4);
	if (!rc)
		rc = dbuf_add(out, buf, (size_t)n);
	(*count)++;
	return rc;
}

static int emit_brokers(const struct meta_image *im, struct dbuf *out, uint32_t *count)
{
	int rc = 0;
	for (size_t i = 0; i < im->broker_count && !rc; i++) {
		const struct meta_broker *b = &im->brokers[i];
		struct meta_record r = {.type = META_REC_BROKER_REG};
		r.broker.id = b->id;
		r.broker.epoch = b->epoch;
		r.broker.incarnation = b->incarnation;
		r.broker.rack = view(&b->rack);
		r.broker.fenced = b->fenced;
		r.broker.listener_count = b->listener_count;
		for (unsigned l = 0; l < b->listener_count; l++)
			r.broker.listeners[l] = (struct meta_listener){view(&b->listeners[l].name),
			                                               view(&b->listeners[l].host), b->listeners[l].port};
		rc = emit(out, &r, count);
	}
	return rc;
}

static int emit_topics(const struct meta_image *im, struct dbuf *out, uint32_t *count)
{
	int rc = 0;
	for (size_t i = 0; i < im->topic_count && !rc; i++) {
		const struct meta_topic *t = &im->topics[i];
		struct meta_record r = {.type = META_REC_TOPIC};
		r.topic.name = view(&t->name);
		r.topic.id = t->id;
		rc = emit(out, &r, count);
		for (uint32_t p = 0; p < t->part_count && !rc; p++) {
			const struct meta_partition *pa = &t->parts[p];
			struct meta_record pr = {.type = META_REC_PARTITION};
			pr.partition.topic = t->id;
			pr.partition.partition = (int32_t)p;
			pr.partition.replicas = pa->replicas;
			pr.partition.isr = pa->isr;
			pr.partition.leader = pa->leader;
			pr.partition.leader_epoch = pa->leader_epoch;
			pr.partition.partition_epoch = pa->partition_epoch;
			rc = emit(out, &pr, count);
		}
	}
	return rc;
}

static int emit_rest(const struct meta_image *im, struct dbuf *out, uint32_t *count)
{
	int rc = 0;
	for (size_t i = 0; i < im->config_count && !rc; i++) {
		const struct meta_config *c = &im->configs[i];
		struct meta_record r = {.type = META_REC_CONFIG};
		r.config.resource_type = c->resource_type;
		r.config.resource = view(&c->resource);
		r.config.key = view(&c->key);
		r.config.has_value = true;
		r.config.value = view(&c->value);
		rc = emit(out, &r, count);
	}
	if (!rc && im->next_producer_id > 0) {
		struct meta_record r = {.type = META_REC_PRODUCER_IDS};
		r.producer_ids.broker = im->producer_ids_broker;
		r.producer_ids.broker_epoch = im->producer_ids_broker_epoch;
		r.producer_ids.next_id = im->next_producer_id;
		rc = emit(out, &r, count);
	}
	for (size_t i = 0; i < im->acl_count && !rc; i++) {
		const struct meta_acl *a = &im->acls[i];
		struct meta_record r = {.type = META_REC_ACL};
		r.acl.resource_type = a->resource_type;
		r.acl.pattern_type = a->pattern_type;
		r.acl.operation = a->operation;
		r.acl.permission = a->permission;
		r.acl.resource = view(&a->resource);
		r.acl.principal = view(&a->principal);
		r.acl.host = view(&a->host);
		rc = emit(out, &r, count);
	}
	for (size_t i = 0; i < im->agent_count && !rc; i++) {
		const struct meta_agent *a = &im->agents[i];
		struct meta_record r = {.type = META_REC_AGENT_REG};
		r.agent.name = view(&a->name);
		r.agent.version = view(&a->version);
		r.agent.epoch = a->epoch;
		r.agent.fenced = a->fenced;
		rc = emit(out, &r, count);
	}
	for (size_t i = 0; i < im->route_count && !rc; i++) {
		const struct meta_route *x = &im->routes[i];
		struct meta_record r = {.type = META_REC_ROUTE};
		r.route.name = view(&x->name);
		r.route.filter = view(&x->filter);
		r.route.topic = view(&x->topic);
		r.route.qos = x->qos;
		rc = emit(out, &r, count);
	}
	return rc;
}

int meta_image_save(const struct meta_image *im, struct dbuf *out)
{
	uint8_t head[17];
	struct wbuf w;
	wbuf_init(&w, head, sizeof head);
	wbuf_u32(&w, SNAP_MAGIC);
	wbuf_u8(&w, META_SNAPSHOT_VERSION);
	wbuf_u64(&w, im->applied_index);
	wbuf_u32(&w, 0); /* record count, filled below */
	size_t start = out->len;
	int rc = dbuf_add(out, head, sizeof head);
	uint32_t count = 0;
	if (!rc)
		rc = emit_brokers(im, out, &count);
	if (!rc)
		rc = emit_topics(im, out, &count);
	if (!rc)
		rc = emit_rest(im, out, &count);
	if (rc) {
		out->len = start;
		return rc;
	}
	be32_put(out->p + start + 13, count);
	uint8_t crc[4];
	be32_put(crc, crc32c(0, out->p + start, out->len - start));
	rc = dbuf_add(out, crc, 4);
	if (rc)
		out->len = start;
	return rc;
}

int meta_image_load(struct meta_image *im, const uint8_t *buf, size_t len)
{
	if (len < 21)
		return ERR_CORRUPT;
	if (be32_get(buf + len - 4) != crc32c(0, buf, len - 4))
		return ERR_CORRUPT;
	struct rbuf r;
	rbuf_init(&r, buf, len - 4);
	uint32_t magic = rbuf_u32(&r);
	uint8_t version = rbuf_u8(&r);
	uint64_t applied = rbuf_u64(&r);
	uint32_t count = rbuf_u32(&r);
	if (magic != SNAP_MAGIC)
		return ERR_CORRUPT;
	if (version != META_SNAPSHOT_VERSION)
		return ERR_RAFT_BAD_VERSION;
	if (count > SNAP_RECORDS_MAX)
		return ERR_TOO_LARGE;
	for (uint32_t i = 0; i < count; i++) {
		uint32_t n = rbuf_u32(&r);
		const uint8_t *p = rbuf_view(&r, n);
		if (!p)
			return ERR_CORRUPT;
		struct meta_record rec;
		if (meta_record_decode(p, n, &rec) != 0 || meta_image_apply(im, &rec) != 0)
			return ERR_CORRUPT;
	}
	if (rbuf_left(&r))
		return ERR_CORRUPT;
	im->applied_index = applied;
	return 0;
}
