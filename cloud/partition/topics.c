/* Topic and partition registry (partition.h): opens, creates and deletes partition logs and keeps the topic
 * set durable through a struct topic_store. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/err.h"
#include "base/log.h"
#include "base/metrics.h"
#include "cloud/log/log_commit.h"
#include "cloud/log/log_flusher.h"
#include "cloud/partition/partition.h"
#include "port.h"

struct topics {
	struct topics_config cfg;
	char data_dir[1024];
	struct topic_store *store;
	struct topic **v;
	size_t count, cap;
	struct log_commit commit;
	struct log_flusher flusher;
	bool flusher_on;
	size_t drained; /* logs published by a drain, reported by the next topics_flush */
};

bool topics_name_valid(const char *name, size_t len)
{
	if (len == 0 || len > TOPIC_NAME_MAX)
		return false;
	if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
		      c == '_' || c == '-'))
			return false;
	}
	return true;
}

static void partition_dir(const struct topics *t, const char *topic, int32_t index, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s/%s-%d", t->data_dir, topic, index);
}

static void counters_init(struct topics *t, struct topic *tp)
{
	static _Atomic int64_t sink;
	if (!t->cfg.metrics) {
		tp->ctr = (struct topic_counters){&sink, &sink, &sink, &sink, &sink, &sink};
		return;
	}
	char labels[METRIC_LABELS_MAX];
	snprintf(labels, sizeof labels, "topic=\"%.180s\"", tp->name);
	struct metrics *m = t->cfg.metrics;
	tp->ctr.bytes_in = metrics_counter(m, "ferry_cloud_topic_bytes_in_total", labels, "record batch bytes produced");
	tp->ctr.records_in = metrics_counter(m, "ferry_cloud_topic_records_in_total", labels, "records produced");
	tp->ctr.bytes_out = metrics_counter(m, "ferry_cloud_topic_bytes_out_total", labels, "record batch bytes fetched");
	tp->ctr.records_out = metrics_counter(m, "ferry_cloud_topic_records_out_total", labels,
					      "records fetched (counted per batch served)");
	tp->ctr.batches_rejected = metrics_counter(m, "ferry_cloud_topic_batches_rejected_total", labels,
						   "batches refused (CRC, format, producer state)");
	tp->ctr.log_bytes = metrics_gauge(m, "ferry_cloud_topic_log_bytes", labels, "bytes in the topic's partition logs");
}

static void topic_free(struct topics *t, struct topic *tp)
{
	for (uint32_t i = 0; i < tp->partition_count; i++) {
		struct partition *p = &tp->partitions[i];
		if (p->log) {
			/* The flusher thread may hold the log in its round: publish that round before closing. */
			log_commit_forget(&t->commit, p->log);
			if (t->flusher_on) {
				size_t n = 0;
				int drc = log_flusher_drain(&t->flusher, &t->commit, &n);
				t->drained += n + (drc != 0);
			}
			int rc = log_close(p->log);
			if (rc)
				log_error("partition %s-%d: close: %s", tp->name, i, err_str(rc));
		}
	}
	free(tp->partitions);
	free(tp);
}

/* Build a topic and open its partitions' logs (created or recovered). */
static int topic_load(struct topics *t, const struct topic_record *rec, struct topic **out)
{
	struct topic *tp = calloc(1, sizeof *tp);
	if (!tp)
		return ERR_NOMEM;
	snprintf(tp->name, sizeof tp->name, "%s", rec->name);
	memcpy(tp->id, rec->id, 16);
	tp->internal = rec->internal;
	tp->ov = rec->ov;
	tp->reg = t;
	struct log_config lc = t->cfg.log;
	if (rec->ov.retention_ms != TOPIC_INHERIT)
		lc.retention_ms = rec->ov.retention_ms;
	if (rec->ov.retention_bytes != TOPIC_INHERIT)
		lc.retention_bytes = rec->ov.retention_bytes;
	if (rec->ov.segment_bytes != TOPIC_INHERIT)
		lc.segment_bytes = (size_t)rec->ov.segment_bytes;
	tp->partitions = calloc(rec->partition_count, sizeof *tp->partitions);
	if (!tp->partitions) {
		free(tp);
		return ERR_NOMEM;
	}
	tp->partition_count = rec->partition_count;
	for (uint32_t i = 0; i < rec->partition_count; i++) {
		struct partition *p = &tp->partitions[i];
		p->topic = tp;
		p->index = (int32_t)i;
		char dir[1400];
		partition_dir(t, tp->name, p->index, dir, sizeof dir);
		int rc = log_config_check(&lc);
		if (!rc)
			rc = t->cfg.memory ? log_mem_open(&lc, &p->log) : log_file_open(dir, &lc, &p->log);
		if (rc) {
			log_error("partition %s: open log: %s", dir, err_str(rc));
			topic_free(t, tp);
			return rc;
		}
		p->leader = (struct partition_leader){t->cfg.node_id, 0, log_end_offset(p->log)};
		p->replicas.count = 1;
		p->replicas.items[0] = (struct partition_replica){t->cfg.node_id, log_end_offset(p->log), 0, true};
	}
	counters_init(t, tp);
	*out = tp;
	return 0;
}

static int add_loaded(void *arg, const struct topic_record *rec)
{
	struct topics *t = arg;
	if (t->count == t->cfg.topics_max || rec->partition_count == 0 ||
	    rec->partition_count > t->cfg.partitions_max || !topics_name_valid(rec->name, strlen(rec->name)))
		return ERR_CORRUPT;
	struct topic *tp;
	int rc = topic_load(t, rec, &tp);
	if (rc)
		return rc;
	t->v[t->count++] = tp;
	return 0;
}

int topics_open(struct topics **out, const struct topics_config *cfg, struct topic_store *store)
{
	struct topics *t = calloc(1, sizeof *t);
	if (!t)
		return ERR_NOMEM;
	t->cfg = *cfg;
	snprintf(t->data_dir, sizeof t->data_dir, "%s", cfg->data_dir);
	t->cfg.data_dir = t->data_dir;
	t->store = store;
	t->cap = cfg->topics_max;
	t->v = calloc(t->cap, sizeof *t->v);
	int rc = t->v ? log_commit_init(&t->commit, (size_t)cfg->topics_max * 64) : ERR_NOMEM;
	if (!rc && store)
		rc = store->load(store->ctx, add_loaded, t);
	if (rc) {
		topics_close(t);
		return rc;
	}
	*out = t;
	return 0;
}

void topics_close(struct topics *t)
{
	if (!t)
		return;
	topics_flusher_stop(t);
	for (size_t i = 0; i < t->count; i++)
		topic_free(t, t->v[i]);
	free(t->v);
	log_commit_deinit(&t->commit);
	free(t);
}

struct topic *topics_find(struct topics *t, const char *name, size_t len)
{
	for (size_t i = 0; i < t->count; i++)
		if (strlen(t->v[i]->name) == len && !memcmp(t->v[i]->name, name, len))
			return t->v[i];
	return NULL;
}

size_t topics_count(const struct topics *t) { return t->count; }
struct topic *topics_at(struct topics *t, size_t i) { return i < t->count ? t->v[i] : NULL; }

struct partition *topic_partition(struct topic *t, int32_t index)
{
	return index >= 0 && (uint32_t)index < t->partition_count ? &t->partitions[index] : NULL;
}

static int save(struct topics *t)
{
	if (!t->store)
		return 0;
	struct topic_record *recs = calloc(t->count ? t->count : 1, sizeof *recs);
	if (!recs)
		return ERR_NOMEM;
	for (size_t i = 0; i < t->count; i++) {
		snprintf(recs[i].name, sizeof recs[i].name, "%s", t->v[i]->name);
		memcpy(recs[i].id, t->v[i]->id, 16);
		recs[i].partition_count = t->v[i]->partition_count;
		recs[i].internal = t->v[i]->internal;
		recs[i].ov = t->v[i]->ov;
	}
	int rc = t->store->save(t->store->ctx, recs, t->count);
	free(recs);
	return rc;
}

/* Remove a partition directory left by an earlier topic of the same name (deleted while we were down). */
static void remove_tree(const char *dir)
{
	DIR *d = opendir(dir);
	if (!d)
		return;
	struct dirent *e;
	char path[2048];
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		if (unlink(path))
			log_warn("unlink(%s): %s", path, strerror(errno));
	}
	closedir(d);
	if (rmdir(dir) && errno != ENOENT)
		log_warn("rmdir(%s): %s", dir, strerror(errno));
}

void topic_overrides_none(struct topic_overrides *ov)
{
	ov->retention_ms = ov->retention_bytes = ov->segment_bytes = TOPIC_INHERIT;
}

int topics_create(struct topics *t, const char *name, size_t len, uint32_t partitions, bool internal,
		  struct topic **out)
{
	return topics_create_with(t, name, len, partitions, internal, NULL, out);
}

int topics_create_with(struct topics *t, const char *name, size_t len, uint32_t partitions, bool internal,
		       const struct topic_overrides *ov, struct topic **out)
{
	if (!topics_name_valid(name, len) || partitions == 0 || partitions > t->cfg.partitions_max)
		return ERR_INVAL;
	if (topics_find(t, name, len))
		return ERR_EXISTS;
	if (t->count == t->cap)
		return ERR_FULL;
	struct topic_record rec = {.partition_count = partitions, .internal = internal};
	memcpy(rec.name, name, len);
	if (ov)
		rec.ov = *ov;
	else
		topic_overrides_none(&rec.ov);
	int rc = port_random(rec.id, 16);
	if (rc)
		return rc;
	rec.id[6] = (uint8_t)((rec.id[6] & 0x0f) | 0x40); /* a version 4 UUID */
	rec.id[8] = (uint8_t)((rec.id[8] & 0x3f) | 0x80);
	if (!t->cfg.memory)
		for (uint32_t i = 0; i < partitions; i++) {
			char dir[1400];
			partition_dir(t, rec.name, (int32_t)i, dir, sizeof dir);
			remove_tree(dir);
		}
	struct topic *tp;
	if ((rc = topic_load(t, &rec, &tp)))
		return rc;
	t->v[t->count++] = tp;
	if ((rc = save(t))) {
		log_error("topic %s: saving the topic set: %s", rec.name, err_str(rc));
		t->count--;
		topic_free(t, tp);
		return rc;
	}
	log_info("topic %s created with %u partition%s", rec.name, partitions, partitions == 1 ? "" : "s");
	if (out)
		*out = tp;
	return 0;
}

int topics_delete(struct topics *t, const char *name, size_t len)
{
	size_t i;
	for (i = 0; i < t->count; i++)
		if (strlen(t->v[i]->name) == len && !memcmp(t->v[i]->name, name, len))
			break;
	if (i == t->count)
		return ERR_NOT_FOUND;
	struct topic *tp = t->v[i];
	t->v[i] = t->v[--t->count];
	int rc = save(t);
	if (rc) {
		t->v[t->count++] = tp;
		return rc;
	}
	/* The topic is gone from the durable set first; its data goes next (a crash in between leaves files
	 * that topics_create removes before reusing the name). */
	char tname[TOPIC_NAME_MAX + 1];
	snprintf(tname, sizeof tname, "%s", tp->name);
	uint32_t n = tp->partition_count;
	metric_set(tp->ctr.log_bytes, 0); /* the slot outlives the topic (a registry never forgets a series) */
	topic_free(t, tp);
	if (!t->cfg.memory)
		for (uint32_t p = 0; p < n; p++) {
			char dir[1400];
			partition_dir(t, tname, (int32_t)p, dir, sizeof dir);
			remove_tree(dir);
		}
	log_info("topic %s deleted", tname);
	return 0;
}

int partition_append(struct partition *p, uint8_t *batch, size_t len, struct log_append_info *info)
{
	int rc = log_append(p->log, batch, len, p->leader.epoch, LOG_APPEND_LEADER, info);
	if (rc || !info->appended)
		return rc;
	/* One replica: the in-sync set is the leader alone, so the high watermark is the log end (Kafka with
	 * replication factor 1).  Replication will advance it from follower fetch offsets instead. */
	p->replicas.items[0].log_end_offset = log_end_offset(p->log);
	partition_update_hw(p);
	/* Group commit: the log joins the set flushed on the next round. */
	return log_commit_add(&p->topic->reg->commit, p->log);
}

void partition_update_hw(struct partition *p)
{
	int64_t end = log_end_offset(p->log), flushed = log_flushed_offset(p->log);
	/* Where the policy promises durability (sync), consumers must not see what an fsync has not covered
	 * yet: after a crash it could be gone, and a consumer would have read records that never existed. */
	p->leader.high_watermark = log_acks_wait_flush(p->log) && flushed < end ? flushed : end;
}

static void update_hws(struct topics *t)
{
	for (size_t i = 0; i < t->count; i++)
		for (uint32_t k = 0; k < t->v[i]->partition_count; k++)
			partition_update_hw(&t->v[i]->partitions[k]);
}

int topics_flusher_start(struct topics *t, void (*notify)(void *ctx), void *ctx)
{
	int rc = log_flusher_start(&t->flusher, notify, ctx);
	t->flusher_on = rc == 0;
	return rc;
}

void topics_flusher_stop(struct topics *t)
{
	if (!t->flusher_on)
		return;
	int rc = log_flusher_stop(&t->flusher, &t->commit);
	if (rc)
		log_error("flusher: last round: %s", err_str(rc));
	t->flusher_on = false;
	t->drained++;
}

int topics_flush(struct topics *t, size_t *flushed)
{
	size_t n = 0;
	/* With the flusher this never blocks: it publishes the round the thread finished and starts the next. */
	int rc = t->flusher_on ? log_flusher_poll(&t->flusher, &t->commit, &n) : log_commit_run(&t->commit, &n);
	n += t->drained;
	t->drained = 0;
	if (n || rc)
		update_hws(t);
	if (flushed)
		*flushed = n;
	return rc;
}

void topics_retention(struct topics *t)
{
	for (size_t i = 0; i < t->count; i++)
		for (uint32_t k = 0; k < t->v[i]->partition_count; k++) {
			size_t deleted = 0;
			struct partition *p = &t->v[i]->partitions[k];
			int rc = log_retention(p->log, &deleted);
			if (rc)
				log_warn("partition %s-%u: retention: %s", t->v[i]->name, k, err_str(rc));
			else if (deleted)
				log_info("partition %s-%u: retention deleted %zu segment%s", t->v[i]->name, k, deleted,
					 deleted == 1 ? "" : "s");
		}
}

uint64_t topics_total_bytes(const struct topics *t)
{
	uint64_t n = 0;
	for (size_t i = 0; i < t->count; i++)
		for (uint32_t k = 0; k < t->v[i]->partition_count; k++)
			n += log_size_bytes(t->v[i]->partitions[k].log);
	return n;
}

bool topics_failed(const struct topics *t, char *why, size_t why_len)
{
	for (size_t i = 0; i < t->count; i++)
		for (uint32_t k = 0; k < t->v[i]->partition_count; k++) {
			int rc = log_failed(t->v[i]->partitions[k].log);
			if (rc) {
				snprintf(why, why_len, "partition %.200s-%u: %s", t->v[i]->name, k, err_str(rc));
				return true;
			}
		}
	return false;
}

void topics_update_gauges(struct topics *t)
{
	for (size_t i = 0; i < t->count; i++) {
		uint64_t n = 0;
		for (uint32_t k = 0; k < t->v[i]->partition_count; k++)
			n += log_size_bytes(t->v[i]->partitions[k].log);
		metric_set(t->v[i]->ctr.log_bytes, (int64_t)n);
	}
}
