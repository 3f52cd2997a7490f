/* Fetch (key 1), v4-12 (older versions carry message format v0/v1, which we do not store).
 *
 * Long poll: a fetch that finds fewer than min_bytes parks until data arrives or max_wait_ms passes (capped
 * by limits.fetch_wait_ms_max); errors answer at once.  Whole batches are served even when the fetch offset
 * falls inside one (the consumer skips the records before its offset), at least one batch per response even
 * past max_bytes, and no further than the high watermark; the last stable offset is the high watermark (no
 * transactions).  No fetch sessions (KIP-227): we answer session_id 0, so clients send full requests.
 *
 * The response is encoded here rather than through the generic codec so that record bytes never pass
 * through user space on a plaintext connection: each partition's span is an evbuffer file segment, which
 * libevent sends with sendfile(2). */
#include <stdlib.h>
#include <unistd.h>

#include <event2/buffer.h>

#include "base/err.h"
#include "base/log.h"
#include "base/rw.h"
#include "cloud/api/api.h"
#include "cloud/partition/partition.h"
#include "port.h"

#define FETCH_PARTITIONS_MAX 100000

struct part_state {
	int16_t error;
	int64_t hw, lso, log_start;
	struct log_read rd;
	bool have_read;
	struct partition *p;
};

struct fetch_park {
	struct broker_waiter w;
	struct part_state *ps; /* one per requested partition, in request order */
	size_t count;
};

static int32_t flex(const struct kreq *r) { return r->hdr.api_version >= 12; }

static void put_array_len(struct wbuf *w, bool compact, int32_t n)
{
	if (compact)
		wbuf_uvarint(w, (uint32_t)n + 1);
	else
		wbuf_u32(w, (uint32_t)n);
}

/* A topic name: its length into w, then w and the name itself to out (names may be longer than w). */
static int put_str(struct evbuffer *out, struct wbuf *w, bool compact, struct kafka_str s)
{
	size_t len = s.len > 0 ? (size_t)s.len : 0;
	if (compact)
		wbuf_uvarint(w, (uint32_t)len + 1);
	else
		wbuf_u16(w, (uint16_t)len);
	if (w->err || evbuffer_add(out, w->p, w->len) || (len && evbuffer_add(out, s.p, len)))
		return -1;
	w->len = 0;
	return 0;
}

/* Look up and read every partition; returns the record bytes found. */
static size_t gather(struct broker *b, struct kreq *r, struct part_state *ps, size_t count)
{
	(void)count; /* ps has one slot per requested partition, in request order */
	const struct kafka_fetch_request *q = &r->body.fetch;
	size_t budget = q->max_bytes > 0 && r->hdr.api_version >= 3 ? (size_t)q->max_bytes : SIZE_MAX;
	if (budget > b->cfg->fetch_response_bytes_max)
		budget = b->cfg->fetch_response_bytes_max;
	size_t total = 0, i = 0;
	bool any = false;
	for (int32_t ti = 0; ti < q->topics.count; ti++) {
		const struct kafka_fetch_request_fetch_topic *ft = &q->topics.items[ti];
		struct topic *t = ft->topic.len > 0 ? topics_find(b->topics, ft->topic.p, (size_t)ft->topic.len) : NULL;
		for (int32_t pi = 0; pi < ft->partitions.count; pi++, i++) {
			const struct kafka_fetch_request_fetch_partition *fp = &ft->partitions.items[pi];
			struct part_state *s = &ps[i];
			if (s->have_read)
				log_read_release(s->p->log, &s->rd);
			*s = (struct part_state){.hw = -1, .lso = -1, .log_start = -1};
			struct partition *p = t ? topic_partition(t, fp->partition) : NULL;
			if (!p) {
				s->error = KAFKA_EC_UNKNOWN_TOPIC_OR_PARTITION;
				continue;
			}
			s->p = p;
			s->hw = s->lso = p->leader.high_watermark;
			s->log_start = log_start_offset(p->log);
			if (r->hdr.api_version >= 9 && fp->current_leader_epoch >= 0 &&
			    fp->current_leader_epoch != p->leader.epoch) {
				s->error = fp->current_leader_epoch < p->leader.epoch ? KAFKA_EC_FENCED_LEADER_EPOCH
										      : KAFKA_EC_UNKNOWN_LEADER_EPOCH;
				continue;
			}
			if (fp->fetch_offset < s->log_start || fp->fetch_offset > log_end_offset(p->log)) {
				s->error = KAFKA_EC_OFFSET_OUT_OF_RANGE;
				continue;
			}
			if (fp->fetch_offset >= s->hw || (any && budget == 0))
				continue;
			size_t pmax = fp->partition_max_bytes > 0 ? (size_t)fp->partition_max_bytes : 0;
			if (pmax > budget)
				pmax = budget;
			int rc = log_read(p->log, fp->fetch_offset, pmax ? pmax : 1, s->hw, &s->rd);
			if (rc) {
				s->error = api_error_from_err(rc);
				continue;
			}
			s->have_read = true;
			any = any || s->rd.span.len > 0;
			total += s->rd.span.len;
			budget = s->rd.span.len >= budget ? 0 : budget - s->rd.span.len;
		}
	}
	return total;
}

static void release_all(struct part_state *ps, size_t count)
{
	for (size_t i = 0; i < count; i++)
		if (ps[i].have_read) {
			log_read_release(ps[i].p->log, &ps[i].rd);
			ps[i].have_read = false;
		}
}

static int add_records(struct broker *b, struct evbuffer *out, struct part_state *s, bool zero_copy)
{
	const struct log_span *sp = &s->rd.span;
	metric_add(zero_copy && !sp->ptr ? b->m.fetch_sendfile_bytes : b->m.fetch_copied_bytes, (int64_t)sp->len);
	if (sp->ptr)
		return evbuffer_add(out, sp->ptr, sp->len);
	if (zero_copy) {
		int fd = dup(sp->fd);
		if (fd < 0)
			return -1;
		struct evbuffer_file_segment *seg =
			evbuffer_file_segment_new(fd, sp->file_pos, (ev_off_t)sp->len, EVBUF_FS_CLOSE_ON_FREE);
		if (!seg) {
			close(fd);
			return -1;
		}
		int rc = evbuffer_add_file_segment(out, seg, 0, (ev_off_t)sp->len);
		evbuffer_file_segment_free(seg);
		return rc;
	}
	/* TLS: the bytes must be encrypted in user space anyway. */
	struct evbuffer_iovec v;
	if (evbuffer_reserve_space(out, (ev_ssize_t)sp->len, &v, 1) != 1)
		return -1;
	if (log_read_copy(s->p->log, &s->rd, v.iov_base))
		return -1;
	v.iov_len = sp->len;
	return evbuffer_commit_space(out, &v, 1);
}

/* Encode the whole response frame: fixed fields through a small stack buffer, records as spans. */
static int encode(struct broker *b, struct kreq *r, struct part_state *ps, struct evbuffer *out)
{
	const struct kafka_fetch_request *q = &r->body.fetch;
	const int16_t v = r->hdr.api_version;
	const bool c = flex(r), zero_copy = !kreq_is_tls(r);
	uint8_t tmp[512];
	struct wbuf w;
	wbuf_init(&w, tmp, sizeof tmp);
	wbuf_u32(&w, (uint32_t)r->hdr.correlation_id);
	if (c)
		wbuf_u8(&w, 0); /* response header v1 tagged fields */
	if (v >= 1)
		wbuf_u32(&w, 0); /* throttle_time_ms */
	if (v >= 7) {
		wbuf_u16(&w, 0); /* error_code */
		wbuf_u32(&w, 0); /* session_id: none */
	}
	put_array_len(&w, c, q->topics.count);
	size_t i = 0;
	for (int32_t ti = 0; ti < q->topics.count; ti++) {
		const struct kafka_fetch_request_fetch_topic *ft = &q->topics.items[ti];
		if (put_str(out, &w, c, ft->topic))
			return -1;
		put_array_len(&w, c, ft->partitions.count);
		if (w.err || evbuffer_add(out, tmp, w.len))
			return -1;
		wbuf_init(&w, tmp, sizeof tmp);
		for (int32_t pi = 0; pi < ft->partitions.count; pi++, i++) {
			struct part_state *s = &ps[i];
			size_t rlen = s->have_read ? s->rd.span.len : 0;
			wbuf_u32(&w, (uint32_t)ft->partitions.items[pi].partition);
			wbuf_u16(&w, (uint16_t)s->error);
			wbuf_u64(&w, (uint64_t)s->hw);
			if (v >= 4)
				wbuf_u64(&w, (uint64_t)s->lso);
			if (v >= 5)
				wbuf_u64(&w, (uint64_t)s->log_start);
			if (v >= 4)
				put_array_len(&w, c, 0); /* aborted_transactions */
			if (v >= 11)
				wbuf_u32(&w, (uint32_t)-1); /* preferred_read_replica */
			if (c)
				wbuf_uvarint(&w, (uint32_t)rlen + 1);
			else
				wbuf_u32(&w, (uint32_t)rlen);
			if (w.err || evbuffer_add(out, tmp, w.len))
				return -1;
			wbuf_init(&w, tmp, sizeof tmp);
			if (rlen) {
				if (add_records(b, out, s, zero_copy))
					return -1;
				struct topic_counters *ctr = &s->p->topic->ctr;
				metric_add(ctr->bytes_out, (int64_t)rlen);
				metric_add(ctr->records_out, s->rd.next_offset - s->rd.first_offset);
			}
			if (c)
				wbuf_u8(&w, 0); /* partition tagged fields */
		}
		if (c)
			wbuf_u8(&w, 0); /* topic tagged fields */
	}
	if (c)
		wbuf_u8(&w, 0); /* top-level tagged fields */
	if (w.err || evbuffer_add(out, tmp, w.len))
		return -1;
	uint8_t size[4];
	be32_put(size, (uint32_t)evbuffer_get_length(out));
	return evbuffer_prepend(out, size, 4);
}

static void answer(struct broker *b, struct kreq *r, struct part_state *ps, size_t count)
{
	struct evbuffer *out = evbuffer_new();
	/* Without this flag libevent reads a file segment into memory when it is added; with it the segment stays
	 * a (fd, offset, length) chain that the socket's output buffer hands to sendfile(2). */
	if (out)
		evbuffer_set_flags(out, EVBUFFER_FLAG_DRAINS_TO_FD);
	if (!out || encode(b, r, ps, out)) {
		log_error("fetch for %s: building the response failed", kreq_peer(r));
		release_all(ps, count);
		if (out)
			evbuffer_free(out);
		kreq_close_after(r);
		kreq_respond_none(r);
		return;
	}
	release_all(ps, count);
	kreq_respond_frame(r, out);
	evbuffer_free(out);
}

static bool fetch_ready(struct broker *b, struct broker_waiter *w, bool timed_out)
{
	struct fetch_park *pk = (struct fetch_park *)w;
	struct kreq *r = w->req;
	if (!r->conn) {
		/* The client went away: nobody to answer. */
		kreq_respond_none(r);
		return true;
	}
	size_t total = gather(b, r, pk->ps, pk->count);
	bool err = false;
	for (size_t i = 0; i < pk->count; i++)
		err = err || pk->ps[i].error;
	if (timed_out || err || total >= (size_t)(r->body.fetch.min_bytes > 0 ? r->body.fetch.min_bytes : 1)) {
		answer(b, r, pk->ps, pk->count);
		return true;
	}
	release_all(pk->ps, pk->count);
	return false;
}

void api_fetch(struct broker *b, struct kreq *r)
{
	const struct kafka_fetch_request *q = &r->body.fetch;
	size_t count = 0;
	for (int32_t ti = 0; ti < q->topics.count; ti++)
		count += q->topics.items[ti].partitions.count > 0 ? (size_t)q->topics.items[ti].partitions.count : 0;
	if (r->hdr.api_version < 4 || count > FETCH_PARTITIONS_MAX) {
		log_warn("fetch from %s: version %d / %zu partitions not served", kreq_peer(r), r->hdr.api_version, count);
		kreq_close_after(r);
		kreq_respond_none(r);
		return;
	}
	struct fetch_park *pk = kreq_alloc(r, sizeof *pk);
	struct part_state *ps = kreq_alloc(r, sizeof *ps * (count ? count : 1));
	if (!pk || !ps) {
		kreq_close_after(r);
		kreq_respond_none(r);
		return;
	}
	size_t total = gather(b, r, ps, count);
	bool err = false;
	for (size_t i = 0; i < count; i++)
		err = err || ps[i].error;
	uint64_t wait = q->max_wait_ms > 0 ? (uint64_t)q->max_wait_ms : 0;
	if (wait > b->cfg->fetch_wait_ms_max)
		wait = b->cfg->fetch_wait_ms_max;
	if (err || wait == 0 || total >= (size_t)(q->min_bytes > 0 ? q->min_bytes : 1) || count == 0) {
		answer(b, r, ps, count);
		return;
	}
	release_all(ps, count);
	pk->ps = ps;
	pk->count = count;
	pk->w.req = r;
	pk->w.ready = fetch_ready;
	pk->w.deadline_ms = broker_now_ms() + wait;
	broker_park(b, &b->fetch_waiters, &pk->w);
}
