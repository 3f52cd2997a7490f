/* A one-node, in-memory Kafka broker on our own codec, for tests and captures only (the real broker is
 * cloud/): it advertises every version we speak, so real clients use their newest (flexible) versions against
 * it.  One partition per topic, auto-created; batches stored as received (base offset stamped); a group
 * coordinator good for one member per group; offsets kept in memory.  Fetch answers go out zero-copy: the
 * stored batches are referenced by the output buffer (kafka_response_encode_split), never copied.
 *   kafka_fake_broker [PORT]     (0 or none: pick one; the port is printed on stdout; serves <= 600 s) */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "base/rw.h"
#include "kafka/batch.h"
#include "kafka/proto.h"

#define TOPICS_MAX 16
#define NAME_MAX_ 250
#define LOG_MAX (16u << 20)

struct topic {
	char name[NAME_MAX_];
	struct kafka_uuid id;
	uint8_t *log;
	size_t log_len;
	int64_t end_offset;
	int64_t committed; /* one group's committed offset (enough for a test) */
};

static struct topic topics[TOPICS_MAX];
static int topic_count;
static int port;
static int32_t generation, next_pid = 1000, next_member;
static uint8_t in_arena[1 << 20], out_arena[1 << 20], out_buf[LOG_MAX + (1 << 20)], plain[LOG_MAX];
static char member_ids[64][32];
static struct kafka_bytes last_assignment;
static uint8_t assignment_copy[4096];
static int32_t isr_one[1] = { 1 };

static void *alloc(struct kafka_arena *a, size_t n)
{
	void *p = kafka_arena_alloc(a, n);
	if (!p) {
		fprintf(stderr, "fake broker: response arena full\n");
		exit(1);
	}
	return p;
}

static struct topic *topic_get(struct kafka_str name, bool create)
{
	for (int i = 0; i < topic_count; i++)
		if (strlen(topics[i].name) == (size_t)name.len && memcmp(topics[i].name, name.p, (size_t)name.len) == 0)
			return &topics[i];
	if (!create || topic_count == TOPICS_MAX || name.len <= 0 || name.len >= NAME_MAX_)
		return NULL;
	struct topic *t = &topics[topic_count++];
	memcpy(t->name, name.p, (size_t)name.len);
	t->id.b[0] = (uint8_t)topic_count;
	t->id.b[15] = 0x42;
	t->log = malloc(LOG_MAX);
	t->committed = -1;
	return t;
}

static struct kafka_str str_of(const char *s) { return (struct kafka_str){ s, (int32_t)strlen(s) }; }

static void do_api_versions(union kafka_any_response *r, struct kafka_arena *a)
{
	struct kafka_api_versions_response_api_version *items = alloc(a, sizeof *items * KAFKA_API_COUNT);
	kafka_api_versions_fill(&r->api_versions, items);
}

static void do_metadata(int16_t ver, const struct kafka_metadata_request *q, union kafka_any_response *r,
			struct kafka_arena *a)
{
	struct kafka_metadata_response *m = &r->metadata;
	struct kafka_metadata_response_broker *b = alloc(a, sizeof *b);
	KAFKA_INIT(kafka_metadata_response_broker, b);
	b->node_id = 1;
	b->host = str_of("127.0.0.1");
	b->port = port;
	m->brokers.items = b;
	m->brokers.count = 1;
	m->cluster_id = str_of("ferry-fake");
	m->controller_id = 1;
	if (q->topics.count > 0)
		for (int i = 0; i < q->topics.count; i++)
			topic_get(q->topics.items[i].name, q->allow_auto_topic_creation || ver < 4);
	bool all = q->topics.count < 0 || (ver == 0 && q->topics.count == 0);
	int n = all ? topic_count : q->topics.count;
	struct kafka_metadata_response_topic *ts = alloc(a, sizeof *ts * (size_t)(n ? n : 1));
	for (int i = 0; i < n; i++) {
		struct topic *t = all ? &topics[i] : topic_get(q->topics.items[i].name, false);
		KAFKA_INIT(kafka_metadata_response_topic, &ts[i]);
		ts[i].name = all ? str_of(t->name) : q->topics.items[i].name;
		if (!t) {
			ts[i].error_code = KAFKA_EC_UNKNOWN_TOPIC_OR_PARTITION;
			continue;
		}
		/* no topic id: @platformatic/kafka 1.35 sends a non-zero id as the topic name in Fetch v12 */
		struct kafka_metadata_response_partition *p = alloc(a, sizeof *p);
		KAFKA_INIT(kafka_metadata_response_partition, p);
		p->leader_id = 1;
		p->leader_epoch = 0;
		p->replica_nodes.items = isr_one;
		p->replica_nodes.count = 1;
		p->isr_nodes.items = isr_one;
		p->isr_nodes.count = 1;
		p->offline_replicas.count = 0;
		ts[i].partitions.items = p;
		ts[i].partitions.count = 1;
	}
	m->topics.items = ts;
	m->topics.count = n;
}

/* Validate and append the batches of one Produce partition; returns a wire error code. */
static int16_t append(struct topic *t, struct kafka_bytes recs, int64_t *base)
{
	*base = t->end_offset;
	size_t left = recs.len > 0 ? (size_t)recs.len : 0;
	const uint8_t *p = recs.p;
	while (left) {
		struct kafka_batch b;
		int n = kafka_batch_parse(p, left, left, &b);
		if (n < 0)
			return kafka_error_code_from_err(n);
		int rc = kafka_batch_validate(&b, plain, sizeof plain); /* as a broker must */
		if (rc < 0)
			return kafka_error_code_from_err(rc);
		if (t->log_len + (size_t)n > LOG_MAX)
			return KAFKA_EC_RECORD_LIST_TOO_LARGE;
		memcpy(t->log + t->log_len, p, (size_t)n);
		kafka_batch_set_base_offset(t->log + t->log_len, t->end_offset);
		kafka_batch_set_leader_epoch(t->log + t->log_len, 0);
		t->log_len += (size_t)n;
		t->end_offset += b.last_offset_delta + 1;
		p += n;
		left -= (size_t)n;
	}
	return 0;
}

static void do_produce(const struct kafka_produce_request *q, union kafka_any_response *r, struct kafka_arena *a)
{
	int nt = q->topic_data.count > 0 ? q->topic_data.count : 0;
	struct kafka_produce_response_topic_produce_response *ts = alloc(a, sizeof *ts * (size_t)(nt ? nt : 1));
	for (int i = 0; i < nt; i++) {
		const struct kafka_produce_request_topic_produce_data *td = &q->topic_data.items[i];
		KAFKA_INIT(kafka_produce_response_topic_produce_response, &ts[i]);
		ts[i].name = td->name;
		int np = td->partition_data.count > 0 ? td->partition_data.count : 0;
		struct kafka_produce_response_partition_produce_response *ps = alloc(a, sizeof *ps * (size_t)(np ? np : 1));
		for (int k = 0; k < np; k++) {
			KAFKA_INIT(kafka_produce_response_partition_produce_response, &ps[k]);
			ps[k].index = td->partition_data.items[k].index;
			struct topic *t = topic_get(td->name, true);
			if (!t || ps[k].index != 0)
				ps[k].error_code = KAFKA_EC_UNKNOWN_TOPIC_OR_PARTITION;
			else
				ps[k].error_code = append(t, td->partition_data.items[k].records, &ps[k].base_offset);
			ps[k].log_start_offset = 0;
		}
		ts[i].partition_responses.items = ps;
		ts[i].partition_responses.count = np;
	}
	r->produce.responses.items = ts;
	r->produce.responses.count = nt;
}

/* The stored batches from offset on, at most max bytes (but at least one batch, KIP-74). */
static struct kafka_bytes log_from(struct topic *t, int64_t offset, int32_t max)
{
	size_t pos = 0, start = SIZE_MAX;
	while (pos < t->log_len) {
		struct kafka_batch b;
		int n = kafka_batch_parse(t->log + pos, t->log_len - pos, LOG_MAX, &b);
		if (n < 0)
			break;
		if (start == SIZE_MAX && b.base_offset + b.last_offset_delta >= offset)
			start = pos;
		if (start != SIZE_MAX && pos > start && pos + (size_t)n - start > (size_t)max)
			break;
		pos += (size_t)n;
	}
	if (start == SIZE_MAX)
		return (struct kafka_bytes){ (const uint8_t *)"", 0 };
	return (struct kafka_bytes){ t->log + start, (int32_t)(pos - start) };
}

static void do_fetch(const struct kafka_fetch_request *q, union kafka_any_response *r, struct kafka_arena *a)
{
	int nt = q->topics.count > 0 ? q->topics.count : 0;
	struct kafka_fetch_response_fetchable_topic_response *ts = alloc(a, sizeof *ts * (size_t)(nt ? nt : 1));
	for (int i = 0; i < nt; i++) {
		const struct kafka_fetch_request_fetch_topic *ft = &q->topics.items[i];
		KAFKA_INIT(kafka_fetch_response_fetchable_topic_response, &ts[i]);
		ts[i].topic = ft->topic;
		int np = ft->partitions.count > 0 ? ft->partitions.count : 0;
		struct kafka_fetch_response_partition_data *ps = alloc(a, sizeof *ps * (size_t)(np ? np : 1));
		struct topic *t = topic_get(ft->topic, false);
		for (int k = 0; k < np; k++) {
			const struct kafka_fetch_request_fetch_partition *fp = &ft->partitions.items[k];
			KAFKA_INIT(kafka_fetch_response_partition_data, &ps[k]);
			ps[k].partition_index = fp->partition;
			if (!t || fp->partition != 0) {
				ps[k].error_code = KAFKA_EC_UNKNOWN_TOPIC_OR_PARTITION;
				continue;
			}
			ps[k].high_watermark = ps[k].last_stable_offset = t->end_offset;
			ps[k].log_start_offset = 0;
			if (fp->fetch_offset > t->end_offset)
				ps[k].error_code = KAFKA_EC_OFFSET_OUT_OF_RANGE;
			else
				ps[k].records = log_from(t, fp->fetch_offset, fp->partition_max_bytes);
			ps[k].aborted_transactions.count = 0;
		}
		ts[i].partitions.items = ps;
		ts[i].partitions.count = np;
	}
	r->fetch.responses.items = ts;
	r->fetch.responses.count = nt;
}

static void do_list_offsets(const struct kafka_list_offsets_request *q, union kafka_any_response *r,
			    struct kafka_arena *a)
{
	int nt = q->topics.count > 0 ? q->topics.count : 0;
	struct kafka_list_offsets_response_list_offsets_topic_response *ts = alloc(a, sizeof *ts * (size_t)(nt ? nt : 1));
	for (int i = 0; i < nt; i++) {
		KAFKA_INIT(kafka_list_offsets_response_list_offsets_topic_response, &ts[i]);
		ts[i].name = q->topics.items[i].name;
		struct topic *t = topic_get(ts[i].name, false);
		int np = q->topics.items[i].partitions.count > 0 ? q->topics.items[i].partitions.count : 0;
		struct kafka_list_offsets_response_list_offsets_partition_response *ps = alloc(a, sizeof *ps * (size_t)(np ? np : 1));
		for (int k = 0; k < np; k++) {
			const struct kafka_list_offsets_request_list_offsets_partition *p = &q->topics.items[i].partitions.items[k];
			KAFKA_INIT(kafka_list_offsets_response_list_offsets_partition_response, &ps[k]);
			ps[k].partition_index = p->partition_index;
			if (!t) {
				ps[k].error_code = KAFKA_EC_UNKNOWN_TOPIC_OR_PARTITION;
				continue;
			}
			ps[k].offset = p->timestamp == -2 ? 0 : t->end_offset;
			ps[k].leader_epoch = 0;
			int64_t *old = alloc(a, sizeof *old);
			*old = ps[k].offset;
			ps[k].old_style_offsets.items = old;
			ps[k].old_style_offsets.count = 1;
		}
		ts[i].partitions.items = ps;
		ts[i].partitions.count = np;
	}
	r->list_offsets.topics.items = ts;
	r->list_offsets.topics.count = nt;
}

static void do_find_coordinator(const struct kafka_find_coordinator_request *q, union kafka_any_response *r,
				struct kafka_arena *a)
{
	struct kafka_find_coordinator_response *f = &r->find_coordinator;
	f->node_id = 1;
	f->host = str_of("127.0.0.1");
	f->port = port;
	int n = q->coordinator_keys.count > 0 ? q->coordinator_keys.count : 0;
	struct kafka_find_coordinator_response_coordinator *cs = alloc(a, sizeof *cs * (size_t)(n ? n : 1));
	for (int i = 0; i < n; i++) {
		KAFKA_INIT(kafka_find_coordinator_response_coordinator, &cs[i]);
		cs[i].key = q->coordinator_keys.items[i];
		cs[i].node_id = 1;
		cs[i].host = str_of("127.0.0.1");
		cs[i].port = port;
	}
	f->coordinators.items = cs;
	f->coordinators.count = n;
}

static void do_join_group(const struct kafka_join_group_request *q, union kafka_any_response *r, struct kafka_arena *a)
{
	struct kafka_join_group_response *j = &r->join_group;
	struct kafka_str member = q->member_id;
	if (member.len <= 0) {
		int m = next_member++ % 64;
		snprintf(member_ids[m], sizeof member_ids[m], "member-%d", m);
		member = str_of(member_ids[m]);
	}
	j->generation_id = ++generation;
	j->protocol_type = q->protocol_type;
	j->protocol_name = q->protocols.count > 0 ? q->protocols.items[0].name : str_of("");
	j->leader = member;
	j->member_id = member;
	struct kafka_join_group_response_member *m = alloc(a, sizeof *m);
	KAFKA_INIT(kafka_join_group_response_member, m);
	m->member_id = member;
	m->group_instance_id = q->group_instance_id;
	m->metadata = q->protocols.count > 0 ? q->protocols.items[0].metadata : (struct kafka_bytes){ NULL, 0 };
	j->members.items = m;
	j->members.count = 1;
}

static void do_sync_group(const struct kafka_sync_group_request *q, union kafka_any_response *r)
{
	for (int i = 0; i < q->assignments.count; i++) {
		struct kafka_bytes b = q->assignments.items[i].assignment;
		if (b.len > 0 && (size_t)b.len <= sizeof assignment_copy) {
			memcpy(assignment_copy, b.p, (size_t)b.len);
			last_assignment = (struct kafka_bytes){ assignment_copy, b.len };
		}
	}
	r->sync_group.protocol_type = q->protocol_type;
	r->sync_group.protocol_name = q->protocol_name;
	r->sync_group.assignment = last_assignment.p ? last_assignment : (struct kafka_bytes){ NULL, 0 };
}

static void do_offset_commit(const struct kafka_offset_commit_request *q, union kafka_any_response *r,
			     struct kafka_arena *a)
{
	int nt = q->topics.count > 0 ? q->topics.count : 0;
	struct kafka_offset_commit_response_topic *ts = alloc(a, sizeof *ts * (size_t)(nt ? nt : 1));
	for (int i = 0; i < nt; i++) {
		KAFKA_INIT(kafka_offset_commit_response_topic, &ts[i]);
		ts[i].name = q->topics.items[i].name;
		int np = q->topics.items[i].partitions.count > 0 ? q->topics.items[i].partitions.count : 0;
		struct kafka_offset_commit_response_partition *ps = alloc(a, sizeof *ps * (size_t)(np ? np : 1));
		struct topic *t = topic_get(ts[i].name, false);
		for (int k = 0; k < np; k++) {
			KAFKA_INIT(kafka_offset_commit_response_partition, &ps[k]);
			ps[k].partition_index = q->topics.items[i].partitions.items[k].partition_index;
			if (t)
				t->committed = q->topics.items[i].partitions.items[k].committed_offset;
			else
				ps[k].error_code = KAFKA_EC_UNKNOWN_TOPIC_OR_PARTITION;
		}
		ts[i].partitions.items = ps;
		ts[i].partitions.count = np;
	}
	r->offset_commit.topics.items = ts;
	r->offset_commit.topics.count = nt;
}

static void do_offset_fetch(int16_t ver, const struct kafka_offset_fetch_request *q, union kafka_any_response *r,
			    struct kafka_arena *a)
{
	if (ver >= 8) {
		int ng = q->groups.count > 0 ? q->groups.count : 0;
		struct kafka_offset_fetch_response_group *gs = alloc(a, sizeof *gs * (size_t)(ng ? ng : 1));
		for (int g = 0; g < ng; g++) {
			KAFKA_INIT(kafka_offset_fetch_response_group, &gs[g]);
			gs[g].group_id = q->groups.items[g].group_id;
			int nt = q->groups.items[g].topics.count > 0 ? q->groups.items[g].topics.count : 0;
			struct kafka_offset_fetch_response_topics *ts = alloc(a, sizeof *ts * (size_t)(nt ? nt : 1));
			for (int i = 0; i < nt; i++) {
				const struct kafka_offset_fetch_request_topics *qt = &q->groups.items[g].topics.items[i];
				struct topic *t = topic_get(qt->name, false);
				KAFKA_INIT(kafka_offset_fetch_response_topics, &ts[i]);
				ts[i].name = qt->name;
				int np = qt->partition_indexes.count > 0 ? qt->partition_indexes.count : 0;
				struct kafka_offset_fetch_response_partitions *ps = alloc(a, sizeof *ps * (size_t)(np ? np : 1));
				for (int k = 0; k < np; k++) {
					KAFKA_INIT(kafka_offset_fetch_response_partitions, &ps[k]);
					ps[k].partition_index = qt->partition_indexes.items[k];
					ps[k].committed_offset = t ? t->committed : -1;
					ps[k].metadata = str_of("");
				}
				ts[i].partitions.items = ps;
				ts[i].partitions.count = np;
			}
			gs[g].topics.items = ts;
			gs[g].topics.count = nt;
		}
		r->offset_fetch.groups.items = gs;
		r->offset_fetch.groups.count = ng;
		return;
	}
	int nt = q->topics.count > 0 ? q->topics.count : 0;
	struct kafka_offset_fetch_response_topic *ts = alloc(a, sizeof *ts * (size_t)(nt ? nt : 1));
	for (int i = 0; i < nt; i++) {
		struct topic *t = topic_get(q->topics.items[i].name, false);
		KAFKA_INIT(kafka_offset_fetch_response_topic, &ts[i]);
		ts[i].name = q->topics.items[i].name;
		int np = q->topics.items[i].partition_indexes.count > 0 ? q->topics.items[i].partition_indexes.count : 0;
		struct kafka_offset_fetch_response_partition *ps = alloc(a, sizeof *ps * (size_t)(np ? np : 1));
		for (int k = 0; k < np; k++) {
			KAFKA_INIT(kafka_offset_fetch_response_partition, &ps[k]);
			ps[k].partition_index = q->topics.items[i].partition_indexes.items[k];
			ps[k].committed_offset = t ? t->committed : -1;
			ps[k].metadata = str_of("");
		}
		ts[i].partitions.items = ps;
		ts[i].partitions.count = np;
	}
	r->offset_fetch.topics.items = ts;
	r->offset_fetch.topics.count = nt;
}

/* Build the answer to one request; false to close the connection (an API we do not serve). */
static bool answer(const struct kafka_request_header *h, union kafka_any_request *q, union kafka_any_response *r,
		   struct kafka_arena *a)
{
	const struct kafka_message *m = kafka_message_find(h->api_key, KAFKA_RESPONSE);
	kafka_msg_init(m, r);
	switch (h->api_key) {
	case KAFKA_API_API_VERSIONS: do_api_versions(r, a); return true;
	case KAFKA_API_METADATA: do_metadata(h->api_version, &q->metadata, r, a); return true;
	case KAFKA_API_PRODUCE: do_produce(&q->produce, r, a); return true;
	case KAFKA_API_FETCH: do_fetch(&q->fetch, r, a); return true;
	case KAFKA_API_LIST_OFFSETS: do_list_offsets(&q->list_offsets, r, a); return true;
	case KAFKA_API_FIND_COORDINATOR: do_find_coordinator(&q->find_coordinator, r, a); return true;
	case KAFKA_API_JOIN_GROUP: do_join_group(&q->join_group, r, a); return true;
	case KAFKA_API_SYNC_GROUP: do_sync_group(&q->sync_group, r); return true;
	case KAFKA_API_HEARTBEAT: return true;
	case KAFKA_API_LEAVE_GROUP: return true;
	case KAFKA_API_OFFSET_COMMIT: do_offset_commit(&q->offset_commit, r, a); return true;
	case KAFKA_API_OFFSET_FETCH: do_offset_fetch(h->api_version, &q->offset_fetch, r, a); return true;
	case KAFKA_API_INIT_PRODUCER_ID:
		r->init_producer_id.producer_id = next_pid++;
		r->init_producer_id.producer_epoch = 0;
		return true;
	default:
		return false;
	}
}

static void on_read(struct bufferevent *bev, void *arg)
{
	(void)arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	for (;;) {
		uint8_t pre[4];
		size_t body;
		if (evbuffer_copyout(in, pre, 4) < 4)
			return;
		int rc = kafka_frame_peek(pre, 4, KAFKA_FRAME_MAX_DEFAULT, &body);
		if (rc == ERR_AGAIN)
			body = be32_get(pre);
		else if (rc < 0)
			goto close;
		if (evbuffer_get_length(in) < 4 + body)
			return;
		const uint8_t *frame = evbuffer_pullup(in, (ev_ssize_t)(4 + body));
		struct kafka_request_header h;
		static union kafka_any_request q;
		static union kafka_any_response r;
		struct kafka_arena qa, ra;
		kafka_arena_init(&qa, in_arena, sizeof in_arena);
		kafka_arena_init(&ra, out_arena, sizeof out_arena);
		rc = kafka_request_decode(frame + 4, body, &h, &q, &qa);
		int n;
		if (rc == ERR_KAFKA_UNSUPPORTED_VERSION && h.api_key == KAFKA_API_API_VERSIONS) {
			n = kafka_api_versions_reject_encode(h.correlation_id, out_buf, sizeof out_buf);
		} else if (rc < 0 || !answer(&h, &q, &r, &ra)) {
			fprintf(stderr, "fake broker: api %d v%d: %s; closing\n", h.api_key, h.api_version,
				rc < 0 ? err_name(rc) : "not served");
			goto close;
		} else if (h.api_key == KAFKA_API_FETCH) {
			/* Zero-copy: the stored batches go out by reference, between the encoded pieces. */
			struct kafka_segment segs[64];
			size_t count;
			n = kafka_response_encode_split(h.api_key, h.api_version, h.correlation_id, &r, out_buf,
							sizeof out_buf, segs, 64, &count);
			if (n >= 0) {
				struct evbuffer *out = bufferevent_get_output(bev);
				size_t at = 0;
				for (size_t i = 0; i < count; i++) {
					evbuffer_add(out, out_buf + at, segs[i].at - at);
					evbuffer_add_reference(out, segs[i].p, segs[i].len, NULL, NULL);
					at = segs[i].at;
				}
				evbuffer_add(out, out_buf + at, (size_t)n - at);
				evbuffer_drain(in, 4 + body);
				continue;
			}
		} else {
			n = kafka_response_encode(h.api_key, h.api_version, h.correlation_id, &r, out_buf, sizeof out_buf);
		}
		if (n < 0) {
			fprintf(stderr, "fake broker: encode api %d v%d: %s\n", h.api_key, h.api_version, err_name(n));
			goto close;
		}
		bufferevent_write(bev, out_buf, (size_t)n);
		evbuffer_drain(in, 4 + body);
	}
close:
	bufferevent_free(bev);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)arg;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		bufferevent_free(bev);
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *sa, int salen, void *arg)
{
	(void)l, (void)sa, (void)salen;
	struct bufferevent *bev = bufferevent_socket_new(arg, fd, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(bev, on_read, NULL, on_event, NULL);
	bufferevent_enable(bev, EV_READ);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	(void)fd, (void)what;
	event_base_loopbreak(arg);
}

int main(int argc, char **argv)
{
	struct event_base *base = event_base_new();
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
				  .sin_port = htons((uint16_t)(argc > 1 ? atoi(argv[1]) : 0)) };
	struct evconnlistener *lis = evconnlistener_new_bind(base, on_accept, base, LEV_OPT_CLOSE_ON_FREE |
							     LEV_OPT_REUSEABLE, 16, (struct sockaddr *)&sa, sizeof sa);
	if (!lis) {
		perror("fake broker: listen");
		return 1;
	}
	socklen_t sl = sizeof sa;
	getsockname(evconnlistener_get_fd(lis), (struct sockaddr *)&sa, &sl);
	port = ntohs(sa.sin_port);
	printf("127.0.0.1:%d\n", port);
	fflush(stdout);
	struct event *term = evsignal_new(base, SIGTERM, on_stop, base);
	struct event *intr = evsignal_new(base, SIGINT, on_stop, base);
	struct timeval life = { 600, 0 };
	event_add(term, NULL);
	event_add(intr, NULL);
	event_base_once(base, -1, EV_TIMEOUT, on_stop, base, &life);
	event_base_dispatch(base);
	event_free(term);
	event_free(intr);
	evconnlistener_free(lis);
	event_base_free(base);
	for (int i = 0; i < topic_count; i++)
		free(topics[i].log);
	return 0;
}
