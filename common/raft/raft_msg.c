/* Raft message and configuration codec.  Pure: no allocation, no I/O.  The decoder bounds every count and
 * length before it is used and refuses trailing bytes, so any byte string maps to one message or one error. */
#include <assert.h>

#include "base/rw.h"
#include "raft/raft_msg.h"

static const char *const type_names[RAFT_MSG_TYPE_END] = {
	[RAFT_MSG_APPEND] = "append", [RAFT_MSG_APPEND_RESP] = "append_resp",
	[RAFT_MSG_VOTE] = "vote", [RAFT_MSG_VOTE_RESP] = "vote_resp",
	[RAFT_MSG_PREVOTE] = "prevote", [RAFT_MSG_PREVOTE_RESP] = "prevote_resp",
	[RAFT_MSG_HEARTBEAT] = "heartbeat", [RAFT_MSG_HEARTBEAT_RESP] = "heartbeat_resp",
	[RAFT_MSG_SNAP] = "snap", [RAFT_MSG_SNAP_RESP] = "snap_resp",
	[RAFT_MSG_TIMEOUT_NOW] = "timeout_now",
};

const char *raft_msg_type_name(uint8_t type)
{
	if (type == 0 || type >= RAFT_MSG_TYPE_END)
		return "unknown";
	return type_names[type];
}

bool raft_conf_valid(const struct raft_conf *c)
{
	if (c->voter_count > RAFT_NODES_MAX || c->learner_count > RAFT_NODES_MAX ||
	    c->voter_count + c->learner_count > RAFT_NODES_MAX)
		return false;
	uint32_t all[2 * RAFT_NODES_MAX];
	unsigned n = 0;
	for (unsigned i = 0; i < c->voter_count; i++)
		all[n++] = c->voters[i];
	for (unsigned i = 0; i < c->learner_count; i++)
		all[n++] = c->learners[i];
	for (unsigned i = 0; i < n; i++) {
		if (all[i] == 0)
			return false;
		for (unsigned j = i + 1; j < n; j++)
			if (all[i] == all[j])
				return false;
	}
	return true;
}

void raft_conf_write(struct wbuf *w, const struct raft_conf *c)
{
	wbuf_u8(w, c->voter_count);
	for (unsigned i = 0; i < c->voter_count; i++)
		wbuf_u32(w, c->voters[i]);
	wbuf_u8(w, c->learner_count);
	for (unsigned i = 0; i < c->learner_count; i++)
		wbuf_u32(w, c->learners[i]);
}

void raft_conf_read(struct rbuf *r, struct raft_conf *c)
{
	*c = (struct raft_conf){0};
	unsigned nv = rbuf_u8(r);
	if (nv > RAFT_NODES_MAX) {
		rbuf_fail(r, ERR_TOO_LARGE);
		return;
	}
	c->voter_count = (uint8_t)nv;
	for (unsigned i = 0; i < nv; i++)
		c->voters[i] = rbuf_u32(r);
	unsigned nl = rbuf_u8(r);
	if (nl > RAFT_NODES_MAX) {
		rbuf_fail(r, ERR_TOO_LARGE);
		return;
	}
	c->learner_count = (uint8_t)nl;
	for (unsigned i = 0; i < nl; i++)
		c->learners[i] = rbuf_u32(r);
	if (rbuf_ok(r) && !raft_conf_valid(c))
		rbuf_fail(r, ERR_MALFORMED);
}

static size_t conf_body_size(const struct raft_conf *c) { return 2 + 4u * (c->voter_count + c->learner_count); }

size_t raft_conf_size(const struct raft_conf *c) { return 1 + conf_body_size(c); }

int raft_conf_encode(const struct raft_conf *c, uint8_t *buf, size_t cap)
{
	assert(raft_conf_valid(c));
	struct wbuf w;
	wbuf_init(&w, buf, cap);
	wbuf_u8(&w, RAFT_WIRE_VERSION);
	raft_conf_write(&w, c);
	return w.err ? w.err : (int)w.len;
}

int raft_conf_decode(const uint8_t *buf, size_t len, struct raft_conf *c)
{
	struct rbuf r;
	rbuf_init(&r, buf, len);
	uint8_t v = rbuf_u8(&r);
	if (r.err)
		return r.err;
	if (v != RAFT_WIRE_VERSION)
		return ERR_RAFT_BAD_VERSION;
	raft_conf_read(&r, c);
	if (r.err)
		return r.err;
	return rbuf_left(&r) ? ERR_MALFORMED : 0;
}

size_t raft_msg_size(const struct raft_msg *m)
{
	size_t n = RAFT_MSG_HEADER_SIZE;
	switch (m->type) {
	case RAFT_MSG_APPEND:
		n += 2;
		for (unsigned i = 0; i < m->entry_count; i++)
			n += RAFT_ENTRY_HEADER_SIZE + m->entries[i].len;
		break;
	case RAFT_MSG_SNAP:
		n += 16 + conf_body_size(&m->snap.conf) + 16 + 4 + m->chunk_len;
		break;
	case RAFT_MSG_SNAP_RESP:
		n += 8;
		break;
	default:
		break;
	}
	return n;
}

int raft_msg_encode(const struct raft_msg *m, uint8_t *buf, size_t cap)
{
	assert(m->type > 0 && m->type < RAFT_MSG_TYPE_END);
	assert(m->entry_count <= RAFT_MSG_ENTRIES_MAX);
	struct wbuf w;
	wbuf_init(&w, buf, cap);
	wbuf_u8(&w, RAFT_WIRE_VERSION);
	wbuf_u8(&w, m->type);
	wbuf_u8(&w, m->flags);
	wbuf_u32(&w, m->from);
	wbuf_u32(&w, m->to);
	wbuf_u64(&w, m->term);
	wbuf_u64(&w, m->index);
	wbuf_u64(&w, m->log_term);
	wbuf_u64(&w, m->commit);
	wbuf_u64(&w, m->hint_index);
	wbuf_u64(&w, m->hint_term);
	wbuf_u64(&w, m->context);
	switch (m->type) {
	case RAFT_MSG_APPEND:
		wbuf_u16(&w, (uint16_t)m->entry_count);
		for (unsigned i = 0; i < m->entry_count; i++) {
			const struct raft_entry *e = &m->entries[i];
			assert(e->len <= RAFT_ENTRY_DATA_MAX && e->index == m->index + 1 + i);
			wbuf_u64(&w, e->term);
			wbuf_u8(&w, e->type);
			wbuf_u32(&w, e->len);
			wbuf_bytes(&w, e->data, e->len);
		}
		break;
	case RAFT_MSG_SNAP:
		assert(m->chunk_len <= RAFT_SNAP_CHUNK_MAX);
		wbuf_u64(&w, m->snap.index);
		wbuf_u64(&w, m->snap.term);
		raft_conf_write(&w, &m->snap.conf);
		wbuf_u64(&w, m->offset);
		wbuf_u64(&w, m->total);
		wbuf_u32(&w, m->chunk_len);
		wbuf_bytes(&w, m->chunk, m->chunk_len);
		break;
	case RAFT_MSG_SNAP_RESP:
		wbuf_u64(&w, m->offset);
		break;
	default:
		break;
	}
	return w.err ? w.err : (int)w.len;
}

static void read_entries(struct rbuf *r, struct raft_msg *m)
{
	unsigned n = rbuf_u16(r);
	if (n > RAFT_MSG_ENTRIES_MAX) {
		rbuf_fail(r, ERR_TOO_LARGE);
		return;
	}
	m->entry_count = n;
	uint64_t prev_term = m->log_term;
	for (unsigned i = 0; i < n && rbuf_ok(r); i++) {
		struct raft_entry *e = &m->entries[i];
		e->index = m->index + 1 + i;
		e->term = rbuf_u64(r);
		e->type = rbuf_u8(r);
		e->len = rbuf_u32(r);
		if (!rbuf_ok(r))
			return;
		/* Raft §5.3: terms never decrease along a log; an entry has a term. */
		if (e->type > RAFT_ENTRY_NOOP || e->term == 0 || e->term < prev_term || e->term > m->term) {
			rbuf_fail(r, ERR_MALFORMED);
			return;
		}
		if (e->len > RAFT_ENTRY_DATA_MAX) {
			rbuf_fail(r, ERR_TOO_LARGE);
			return;
		}
		e->data = rbuf_view(r, e->len);
		prev_term = e->term;
	}
}

static void read_snap(struct rbuf *r, struct raft_msg *m)
{
	m->snap.index = rbuf_u64(r);
	m->snap.term = rbuf_u64(r);
	raft_conf_read(r, &m->snap.conf);
	m->offset = rbuf_u64(r);
	m->total = rbuf_u64(r);
	m->chunk_len = rbuf_u32(r);
	if (!rbuf_ok(r))
		return;
	if (m->chunk_len > RAFT_SNAP_CHUNK_MAX || m->total > RAFT_SNAP_DATA_MAX) {
		rbuf_fail(r, ERR_TOO_LARGE);
		return;
	}
	if (m->snap.index > RAFT_INDEX_MAX) {
		rbuf_fail(r, ERR_RANGE);
		return;
	}
	if (m->offset > m->total || m->chunk_len > m->total - m->offset || m->snap.term == 0 ||
	    m->snap.index == 0 || m->snap.term > m->term) {
		rbuf_fail(r, ERR_MALFORMED);
		return;
	}
	m->chunk = rbuf_view(r, m->chunk_len);
}

int raft_msg_decode(const uint8_t *buf, size_t len, struct raft_msg *m)
{
	struct rbuf r;
	rbuf_init(&r, buf, len);
	uint8_t version = rbuf_u8(&r);
	if (r.err)
		return r.err;
	if (version != RAFT_WIRE_VERSION)
		return ERR_RAFT_BAD_VERSION;
	m->type = rbuf_u8(&r);
	m->flags = rbuf_u8(&r);
	m->from = rbuf_u32(&r);
	m->to = rbuf_u32(&r);
	m->term = rbuf_u64(&r);
	m->index = rbuf_u64(&r);
	m->log_term = rbuf_u64(&r);
	m->commit = rbuf_u64(&r);
	m->hint_index = rbuf_u64(&r);
	m->hint_term = rbuf_u64(&r);
	m->context = rbuf_u64(&r);
	m->entry_count = 0;
	m->offset = m->total = 0;
	m->chunk = NULL;
	m->chunk_len = 0;
	m->snap = (struct raft_snap_meta){0};
	if (r.err)
		return r.err;
	if (m->type == 0 || m->type >= RAFT_MSG_TYPE_END || (m->flags & ~7u) || m->from == 0 || m->to == 0 ||
	    m->from == m->to)
		return ERR_MALFORMED;
	if (m->term > RAFT_INDEX_MAX || m->index > RAFT_INDEX_MAX || m->log_term > RAFT_INDEX_MAX ||
	    m->commit > RAFT_INDEX_MAX || m->hint_index > RAFT_INDEX_MAX || m->hint_term > RAFT_INDEX_MAX)
		return ERR_RANGE;
	switch (m->type) {
	case RAFT_MSG_APPEND:
		read_entries(&r, m);
		break;
	case RAFT_MSG_SNAP:
		read_snap(&r, m);
		break;
	case RAFT_MSG_SNAP_RESP:
		m->offset = rbuf_u64(&r);
		break;
	default:
		break;
	}
	if (r.err)
		return r.err;
	return rbuf_left(&r) ? ERR_MALFORMED : 0;
}
