/* The uplink's database side (uplink_internal.h): runs on the store's writer thread inside one transaction,
 * so deleting what was acknowledged, numbering new batches and advancing the sequences commit together. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/uplink_internal.h"
#include "base/err.h"
#include "base/log.h"
#include "kafka/partitioner.h"

#define CHECK(x) do { if ((rc = (x)) != SQLITE_OK) goto fail; } while (0)

/* Producer sequences wrap to 0 after INT32_MAX (KIP-98). */
static int32_t seq_add(int32_t seq, int32_t n) { return (int32_t)(((int64_t)seq + n) % ((int64_t)INT32_MAX + 1)); }

static int step_done(sqlite3_stmt *st) { int rc = sqlite3_step(st); return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc; }

static void release(struct up_round *r, const char *route, uint64_t bytes)
{
	for (uint32_t i = 0; i < r->released_count; i++)
		if (strcmp(r->released[i].route, route) == 0) {
			r->released[i].bytes += bytes;
			return;
		}
	if (r->released_count < AGENT_ROUTES_MAX) {
		snprintf(r->released[r->released_count].route, AGENT_ROUTE_NAME_MAX, "%s", route);
		r->released[r->released_count++].bytes = bytes;
	}
}

static int delete_acked(sqlite3 *db, struct up_round *r)
{
	sqlite3_stmt *sum = NULL, *del_rows = NULL, *del_batch = NULL;
	int rc;
	CHECK(sqlite3_prepare_v2(db, "SELECT route, SUM(size), COUNT(*) FROM fwd_records WHERE batch = ?1 GROUP BY route", -1, &sum, NULL));
	CHECK(sqlite3_prepare_v2(db, "DELETE FROM fwd_records WHERE batch = ?1", -1, &del_rows, NULL));
	CHECK(sqlite3_prepare_v2(db, "DELETE FROM fwd_batches WHERE id = ?1", -1, &del_batch, NULL));
	for (uint32_t i = 0; i < r->ack_count; i++) {
		sqlite3_bind_int64(sum, 1, r->ack_ids[i]);
		while ((rc = sqlite3_step(sum)) == SQLITE_ROW) {
			release(r, (const char *)sqlite3_column_text(sum, 0), (uint64_t)sqlite3_column_int64(sum, 1));
			r->acked_records += (uint64_t)sqlite3_column_int64(sum, 2);
		}
		sqlite3_reset(sum);
		sqlite3_bind_int64(del_rows, 1, r->ack_ids[i]);
		CHECK(step_done(del_rows));
		sqlite3_reset(del_rows);
		sqlite3_bind_int64(del_batch, 1, r->ack_ids[i]);
		CHECK(step_done(del_batch));
		sqlite3_reset(del_batch);
	}
	rc = SQLITE_OK;
fail:
	sqlite3_finalize(sum);
	sqlite3_finalize(del_rows);
	sqlite3_finalize(del_batch);
	return rc;
}

/* A new producer id: the broker knows nothing of the old sequences, so the unacknowledged batches are
 * numbered again from 0, in their original order, per partition. */
static int renumber(sqlite3 *db)
{
	sqlite3_stmt *sel = NULL, *upd = NULL, *put = NULL;
	int rc;
	CHECK(sqlite3_exec(db, "DELETE FROM fwd_sequences", NULL, NULL, NULL));
	CHECK(sqlite3_prepare_v2(db, "SELECT id, topic, partition, record_count FROM fwd_batches ORDER BY id", -1, &sel, NULL));
	CHECK(sqlite3_prepare_v2(db, "UPDATE fwd_batches SET base_seq = ?2 WHERE id = ?1", -1, &upd, NULL));
	CHECK(sqlite3_prepare_v2(db, "INSERT INTO fwd_sequences(topic, partition, next_seq) VALUES(?1, ?2, ?3)"
				     " ON CONFLICT(topic, partition) DO UPDATE SET next_seq = next_seq + ?3", -1, &put, NULL));
	while ((rc = sqlite3_step(sel)) == SQLITE_ROW) {
		sqlite3_stmt *cur = NULL;
		int32_t next = 0;
		CHECK(sqlite3_prepare_v2(db, "SELECT next_seq FROM fwd_sequences WHERE topic = ?1 AND partition = ?2", -1, &cur, NULL));
		sqlite3_bind_value(cur, 1, sqlite3_column_value(sel, 1));
		sqlite3_bind_int(cur, 2, sqlite3_column_int(sel, 2));
		if (sqlite3_step(cur) == SQLITE_ROW)
			next = sqlite3_column_int(cur, 0);
		sqlite3_finalize(cur);
		sqlite3_bind_int64(upd, 1, sqlite3_column_int64(sel, 0));
		sqlite3_bind_int(upd, 2, next);
		CHECK(step_done(upd));
		sqlite3_reset(upd);
		sqlite3_bind_value(put, 1, sqlite3_column_value(sel, 1));
		sqlite3_bind_int(put, 2, sqlite3_column_int(sel, 2));
		sqlite3_bind_int(put, 3, sqlite3_column_int(sel, 3));
		CHECK(step_done(put));
		sqlite3_reset(put);
	}
	rc = rc == SQLITE_DONE ? SQLITE_OK : rc;
fail:
	sqlite3_finalize(sel);
	sqlite3_finalize(upd);
	sqlite3_finalize(put);
	return rc;
}

static int topic_index(const struct up_round *r, const char *topic)
{
	for (uint32_t i = 0; i < r->topic_count; i++)
		if (strcmp(r->topics[i], topic) == 0)
			return (int)i;
	return -1;
}

/* Copy one row (id, ts, key, value, headers at columns 1..4) into the round.  0 or ERR_TOO_LARGE. */
static int take_row(struct up_round *r, sqlite3_stmt *st, int col)
{
	if (r->record_count == UP_ROWS_MAX)
		return ERR_TOO_LARGE;
	struct up_record *rec = &r->records[r->record_count];
	rec->ts = sqlite3_column_int64(st, col);
	const void *key = sqlite3_column_blob(st, col + 1);
	int key_len = sqlite3_column_bytes(st, col + 1);
	bool null_key = sqlite3_column_type(st, col + 1) == SQLITE_NULL;
	const void *value = sqlite3_column_blob(st, col + 2);
	int value_len = sqlite3_column_bytes(st, col + 2);
	const void *hdrs = sqlite3_column_blob(st, col + 3);
	int hdrs_len = sqlite3_column_bytes(st, col + 3);
	rec->key_off = (uint32_t)r->data.len;
	rec->key_len = null_key ? -1 : key_len;
	if (dbuf_add(&r->data, key, (size_t)key_len))
		return ERR_TOO_LARGE;
	rec->value_off = (uint32_t)r->data.len;
	rec->value_len = (uint32_t)value_len;
	if (dbuf_add(&r->data, value, (size_t)value_len))
		return ERR_TOO_LARGE;
	rec->headers_off = (uint32_t)r->data.len;
	rec->headers_len = (uint32_t)hdrs_len;
	if (dbuf_add(&r->data, hdrs, (size_t)hdrs_len))
		return ERR_TOO_LARGE;
	r->record_count++;
	return 0;
}

/* Batches claimed earlier and not acknowledged: send them again exactly as numbered. */
static int load_pending(sqlite3 *db, struct up_round *r)
{
	sqlite3_stmt *b = NULL, *rows = NULL;
	int rc;
	CHECK(sqlite3_prepare_v2(db, "SELECT id, topic, partition, base_seq FROM fwd_batches ORDER BY id", -1, &b, NULL));
	CHECK(sqlite3_prepare_v2(db, "SELECT id, ts, key, value, headers FROM fwd_records WHERE batch = ?1 ORDER BY id", -1, &rows, NULL));
	while ((rc = sqlite3_step(b)) == SQLITE_ROW && r->batch_count < UP_BATCHES_MAX) {
		int t = topic_index(r, (const char *)sqlite3_column_text(b, 1));
		if (t < 0 || !r->partitions[t])
			continue; /* no metadata for its topic yet (or the route is gone): it waits */
		struct up_batch *ub = &r->batches[r->batch_count];
		ub->id = sqlite3_column_int64(b, 0);
		ub->topic = (uint32_t)t;
		ub->partition = sqlite3_column_int(b, 2);
		ub->base_seq = sqlite3_column_int(b, 3);
		ub->first = r->record_count;
		sqlite3_bind_int64(rows, 1, ub->id);
		while (sqlite3_step(rows) == SQLITE_ROW)
			if (take_row(r, rows, 1))
				break;
		sqlite3_reset(rows);
		ub->count = r->record_count - ub->first;
		if (ub->count)
			r->batch_count++;
	}
	rc = rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
fail:
	sqlite3_finalize(b);
	sqlite3_finalize(rows);
	return rc;
}

static struct up_batch *batch_for(struct up_round *r, uint32_t topic, int32_t partition)
{
	for (uint32_t i = 0; i < r->batch_count; i++)
		if (r->batches[i].topic == topic && r->batches[i].partition == partition)
			return &r->batches[i];
	if (r->batch_count == UP_BATCHES_MAX)
		return NULL;
	struct up_batch *b = &r->batches[r->batch_count++];
	memset(b, 0, sizeof *b);
	b->topic = topic;
	b->partition = partition;
	return b;
}

/* Mark the claimed rows with their batches.  When every row read went to one batch and none was passed over,
 * the rows still unclaimed in [lo, hi] are exactly those rows: one ranged UPDATE instead of one per row. */
static int mark_rows(sqlite3 *db, const struct up_round *r, const int64_t *ids, const uint16_t *bidx, bool ranged)
{
	sqlite3_stmt *mark = NULL;
	int rc;
	if (ranged) {
		CHECK(sqlite3_prepare_v2(db, "UPDATE fwd_records SET batch = ?3 WHERE batch IS NULL AND id BETWEEN ?1 AND ?2",
					 -1, &mark, NULL));
		sqlite3_bind_int64(mark, 1, ids[0]);
		sqlite3_bind_int64(mark, 2, ids[r->record_count - 1]);
		sqlite3_bind_int64(mark, 3, r->batches[0].id);
		CHECK(step_done(mark));
		if ((uint32_t)sqlite3_changes(db) != r->record_count) {
			rc = SQLITE_CORRUPT; /* cannot happen: the rows were read in this transaction */
			goto fail;
		}
	} else {
		CHECK(sqlite3_prepare_v2(db, "UPDATE fwd_records SET batch = ?2 WHERE id = ?1", -1, &mark, NULL));
		for (uint32_t i = 0; i < r->record_count; i++) {
			sqlite3_bind_int64(mark, 1, ids[i]);
			sqlite3_bind_int64(mark, 2, r->batches[bidx[i]].id);
			CHECK(step_done(mark));
			sqlite3_reset(mark);
		}
	}
	rc = SQLITE_OK;
fail:
	sqlite3_finalize(mark);
	return rc;
}

/* New rows, in id order, into one batch per (topic, partition).  Rows are read once (with their data) in id
 * order, then the records are regrouped so that each batch's are contiguous in the round, in id order. */
static int claim_new(sqlite3 *db, struct up_round *r)
{
	sqlite3_stmt *sel = NULL, *ins = NULL, *seq = NULL, *adv = NULL, *upd = NULL;
	int64_t *ids = malloc(sizeof *ids * UP_ROWS_MAX);
	uint16_t *bidx = malloc(sizeof *bidx * UP_ROWS_MAX);
	struct up_record *sorted = malloc(sizeof *sorted * UP_ROWS_MAX);
	_Static_assert(UP_BATCHES_MAX <= UINT16_MAX, "batch index fits bidx");
	int rc;
	uint64_t bytes = 0;
	bool skipped = false;
	if (!ids || !bidx || !sorted) {
		rc = SQLITE_NOMEM;
		goto fail;
	}
	CHECK(sqlite3_prepare_v2(db, "SELECT id, topic, key, size, ts, key, value, headers FROM fwd_records"
				     " WHERE batch IS NULL ORDER BY id LIMIT ?1", -1, &sel, NULL));
	sqlite3_bind_int(sel, 1, UP_ROWS_MAX);
	/* batch ids are allocated first (rowids of fwd_batches), rows marked with them once all are read */
	CHECK(sqlite3_prepare_v2(db, "INSERT INTO fwd_batches(topic, partition, base_seq, record_count) VALUES(?1, ?2, 0, 0)", -1, &ins, NULL));
	while ((rc = sqlite3_step(sel)) == SQLITE_ROW && bytes < r->bytes_max) {
		int t = topic_index(r, (const char *)sqlite3_column_text(sel, 1));
		if (t < 0 || !r->partitions[t]) {
			skipped = true;
			continue;
		}
		int32_t part;
		if (sqlite3_column_type(sel, 2) == SQLITE_NULL)
			part = (int32_t)(sqlite3_column_int64(sel, 0) % r->partitions[t]);
		else
			part = kafka_partition_for_key(sqlite3_column_blob(sel, 2), (size_t)sqlite3_column_bytes(sel, 2), r->partitions[t]);
		uint32_t before = r->batch_count;
		struct up_batch *b = batch_for(r, (uint32_t)t, part);
		if (!b)
			break;
		if (r->batch_count != before) {
			sqlite3_bind_text(ins, 1, r->topics[t], -1, SQLITE_STATIC);
			sqlite3_bind_int(ins, 2, part);
			CHECK(step_done(ins));
			sqlite3_reset(ins);
			b->id = sqlite3_last_insert_rowid(db);
		}
		ids[r->record_count] = sqlite3_column_int64(sel, 0);
		bidx[r->record_count] = (uint16_t)(b - r->batches);
		if (take_row(r, sel, 4)) {
			rc = SQLITE_NOMEM;
			goto fail;
		}
		b->count++;
		bytes += (uint64_t)sqlite3_column_int64(sel, 3);
	}
	rc = rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
	if (rc != SQLITE_OK || !r->record_count)
		goto fail;
	CHECK(mark_rows(db, r, ids, bidx, r->batch_count == 1 && !skipped));
	/* regroup: batch i's records become records[first .. first + count), in id order (a stable counting sort) */
	uint32_t at = 0;
	for (uint32_t i = 0; i < r->batch_count; i++) {
		r->batches[i].first = at;
		at += r->batches[i].count;
		r->batches[i].count = 0;
	}
	for (uint32_t k = 0; k < r->record_count; k++) {
		struct up_batch *b = &r->batches[bidx[k]];
		sorted[b->first + b->count++] = r->records[k];
	}
	memcpy(r->records, sorted, sizeof *sorted * r->record_count);
	/* sequences: each batch continues its partition's numbering */
	CHECK(sqlite3_prepare_v2(db, "SELECT next_seq FROM fwd_sequences WHERE topic = ?1 AND partition = ?2", -1, &seq, NULL));
	CHECK(sqlite3_prepare_v2(db, "INSERT INTO fwd_sequences(topic, partition, next_seq) VALUES(?1, ?2, ?3)"
				     " ON CONFLICT(topic, partition) DO UPDATE SET next_seq = ?3", -1, &adv, NULL));
	CHECK(sqlite3_prepare_v2(db, "UPDATE fwd_batches SET base_seq = ?2, record_count = ?3 WHERE id = ?1", -1, &upd, NULL));
	for (uint32_t i = 0; i < r->batch_count; i++) {
		struct up_batch *b = &r->batches[i];
		sqlite3_bind_text(seq, 1, r->topics[b->topic], -1, SQLITE_STATIC);
		sqlite3_bind_int(seq, 2, b->partition);
		b->base_seq = sqlite3_step(seq) == SQLITE_ROW ? sqlite3_column_int(seq, 0) : 0;
		sqlite3_reset(seq);
		sqlite3_bind_text(adv, 1, r->topics[b->topic], -1, SQLITE_STATIC);
		sqlite3_bind_int(adv, 2, b->partition);
		sqlite3_bind_int(adv, 3, seq_add(b->base_seq, (int32_t)b->count));
		CHECK(step_done(adv));
		sqlite3_reset(adv);
		sqlite3_bind_int64(upd, 1, b->id);
		sqlite3_bind_int(upd, 2, b->base_seq);
		sqlite3_bind_int(upd, 3, (int)b->count);
		CHECK(step_done(upd));
		sqlite3_reset(upd);
	}
fail:
	sqlite3_finalize(sel);
	sqlite3_finalize(ins);
	sqlite3_finalize(seq);
	sqlite3_finalize(adv);
	sqlite3_finalize(upd);
	free(ids);
	free(bidx);
	free(sorted);
	return rc;
}

int uplink_claim(sqlite3 *db, void *arg)
{
	struct up_round *r = arg;
	int rc;
	CHECK(delete_acked(db, r));
	if (r->save_producer) {
		char sql[128];
		snprintf(sql, sizeof sql, "INSERT OR REPLACE INTO fwd_producer(slot, producer_id, epoch) VALUES(0, %lld, %d)",
			 (long long)r->producer_id, r->epoch);
		CHECK(sqlite3_exec(db, sql, NULL, NULL, NULL));
	}
	if (r->renumber)
		CHECK(renumber(db));
	CHECK(load_pending(db, r));
	if (r->batch_count == 0)
		CHECK(claim_new(db, r));
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(db, "SELECT ts FROM fwd_records ORDER BY id LIMIT 1", -1, &st, NULL) == SQLITE_OK) {
		r->oldest_ts = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
		sqlite3_finalize(st);
	}
	r->rc = 0;
	return 0;
fail:
	log_error("uplink: buffer claim: %s", sqlite3_errmsg(db));
	r->rc = ERR_IO;
	return ERR_IO;
}

int uplink_startup(sqlite3 *db, void *arg)
{
	struct up_startup *s = arg;
	sqlite3_stmt *st;
	s->producer_id = -1;
	s->epoch = -1;
	if (sqlite3_prepare_v2(db, "SELECT producer_id, epoch FROM fwd_producer WHERE slot = 0", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW) {
			s->producer_id = sqlite3_column_int64(st, 0);
			s->epoch = (int16_t)sqlite3_column_int(st, 1);
		}
		sqlite3_finalize(st);
	}
	if (sqlite3_prepare_v2(db, "SELECT route, SUM(size) FROM fwd_records GROUP BY route", -1, &st, NULL) == SQLITE_OK) {
		while (sqlite3_step(st) == SQLITE_ROW && s->route_count < AGENT_ROUTES_MAX) {
			snprintf(s->routes[s->route_count].route, AGENT_ROUTE_NAME_MAX, "%s", (const char *)sqlite3_column_text(st, 0));
			s->routes[s->route_count++].bytes = (uint64_t)sqlite3_column_int64(st, 1);
		}
		sqlite3_finalize(st);
	}
	return 0;
}

static int expire_route(sqlite3 *db, struct up_expire_route *er)
{
	sqlite3_stmt *sel = NULL, *del = NULL;
	int64_t last = 0;
	int rc;
	/* rows of a route are inserted in acceptance order, so the old ones are a prefix: stop at the first young one */
	CHECK(sqlite3_prepare_v2(db, "SELECT id, ts, size FROM fwd_records WHERE batch IS NULL AND route = ?1 ORDER BY id"
				     " LIMIT ?2", -1, &sel, NULL));
	sqlite3_bind_text(sel, 1, er->route, -1, SQLITE_STATIC);
	sqlite3_bind_int(sel, 2, UP_EXPIRE_ROWS_MAX);
	while ((rc = sqlite3_step(sel)) == SQLITE_ROW && sqlite3_column_int64(sel, 1) < er->cutoff_ms) {
		last = sqlite3_column_int64(sel, 0);
		er->rows++;
		er->bytes += (uint64_t)sqlite3_column_int64(sel, 2);
	}
	rc = rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
	if (rc != SQLITE_OK || !last)
		goto fail;
	CHECK(sqlite3_prepare_v2(db, "DELETE FROM fwd_records WHERE batch IS NULL AND route = ?1 AND id <= ?2", -1, &del, NULL));
	sqlite3_bind_text(del, 1, er->route, -1, SQLITE_STATIC);
	sqlite3_bind_int64(del, 2, last);
	rc = sqlite3_step(del) == SQLITE_DONE ? SQLITE_OK : sqlite3_errcode(db);
fail:
	sqlite3_finalize(sel);
	sqlite3_finalize(del);
	return rc;
}

int uplink_expire(sqlite3 *db, void *arg)
{
	struct up_expire *e = arg;
	for (uint32_t i = 0; i < e->route_count; i++) {
		e->routes[i].rows = e->routes[i].bytes = 0;
		if (expire_route(db, &e->routes[i]) != SQLITE_OK) {
			log_error("uplink: expiring route %s: %s", e->routes[i].route, sqlite3_errmsg(db));
			return ERR_IO;
		}
	}
	sqlite3_stmt *st;
	e->oldest_ts = 0;
	if (sqlite3_prepare_v2(db, "SELECT ts FROM fwd_records ORDER BY id LIMIT 1", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			e->oldest_ts = sqlite3_column_int64(st, 0);
		sqlite3_finalize(st);
	}
	return 0;
}
