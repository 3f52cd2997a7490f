/* The core's in-memory copy of the log after the last snapshot, and the configuration it implies.
 * Never truncates a committed entry (asserted): that would break State Machine Safety (Raft §5.4). */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "raft/raft_internal.h"

uint64_t raft_last_index(const struct raft *r) { return r->log.first + r->log.count - 1; }

const struct raft_entry *raft_entry_at(const struct raft *r, uint64_t index)
{
	if (index < r->log.first || index > raft_last_index(r))
		return NULL;
	return &r->log.ents[index - r->log.first];
}

uint64_t raft_term_at(const struct raft *r, uint64_t index)
{
	if (index == r->snap.index)
		return r->snap.term;
	const struct raft_entry *e = raft_entry_at(r, index);
	return e ? e->term : 0;
}

int log_append(struct raft *r, uint64_t term, uint8_t type, const void *data, size_t len)
{
	struct raft_log *l = &r->log;
	if (l->count >= RAFT_LOG_ENTRIES_MAX || len > RAFT_ENTRY_DATA_MAX)
		return ERR_FULL;
	if (l->count == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct raft_entry *p = realloc(l->ents, cap * sizeof *p);
		if (!p)
			return ERR_NOMEM;
		l->ents = p;
		l->cap = cap;
	}
	uint8_t *copy = NULL;
	if (len) {
		copy = malloc(len);
		if (!copy)
			return ERR_NOMEM;
		memcpy(copy, data, len);
	}
	struct raft_entry *e = &l->ents[l->count];
	*e = (struct raft_entry){.term = term, .index = l->first + l->count, .type = type, .len = (uint32_t)len,
	                         .data = copy};
	l->count++;
	if (type == RAFT_ENTRY_CONF) {
		struct raft_conf c;
		/* Entries reach the log only after validation (propose_conf, or the append decoder + step). */
		if (raft_conf_decode(copy, len, &c) == 0) {
			r->conf = c;
			r->conf_index = e->index;
		}
	}
	return 0;
}

void log_truncate(struct raft *r, uint64_t from)
{
	struct raft_log *l = &r->log;
	assert(from > r->commit);
	assert(from >= l->first);
	while (raft_last_index(r) >= from) {
		free((void *)l->ents[l->count - 1].data);
		l->count--;
	}
	if (l->stable >= from)
		l->stable = from - 1;
	if (r->conf_index >= from)
		conf_refresh(r);
}

/* Entries up to and including upto go; upto becomes the snapshot point. */
void log_compact(struct raft *r, uint64_t upto, uint64_t upto_term)
{
	struct raft_log *l = &r->log;
	size_t drop = upto >= l->first ? (size_t)(upto - l->first + 1) : 0;
	if (drop > l->count)
		drop = l->count;
	for (size_t i = 0; i < drop; i++)
		free((void *)l->ents[i].data);
	if (l->count > drop)
		memmove(l->ents, l->ents + drop, (l->count - drop) * sizeof *l->ents);
	l->count -= drop;
	l->first = upto + 1;
	(void)upto_term;
	if (l->stable < upto)
		l->stable = upto;
}

void log_reset(struct raft *r, uint64_t snap_index)
{
	struct raft_log *l = &r->log;
	for (size_t i = 0; i < l->count; i++)
		free((void *)l->ents[i].data);
	l->count = 0;
	l->first = snap_index + 1;
	l->stable = snap_index;
}

void log_free(struct raft *r)
{
	log_reset(r, 0);
	free(r->log.ents);
	r->log.ents = NULL;
	r->log.cap = 0;
}

void conf_refresh(struct raft *r)
{
	for (uint64_t i = raft_last_index(r); i >= r->log.first && i > 0; i--) {
		const struct raft_entry *e = raft_entry_at(r, i);
		struct raft_conf c;
		if (e->type == RAFT_ENTRY_CONF && raft_conf_decode(e->data, e->len, &c) == 0) {
			r->conf = c;
			r->conf_index = i;
			return;
		}
	}
	r->conf = r->snap.conf;
	r->conf_index = r->snap.index;
}

uint64_t log_find_conflict(const struct raft *r, uint64_t index, uint64_t term)
{
	index = min_u64(index, raft_last_index(r));
	while (index > r->snap.index && raft_term_at(r, index) > term)
		index--;
	return index;
}

/* Raft §5.4.1: compare the last entries' terms, then the lengths. */
bool log_up_to_date(const struct raft *r, uint64_t last_index, uint64_t last_term)
{
	uint64_t my_last = raft_last_index(r), my_term = raft_term_at(r, my_last);
	return last_term > my_term || (last_term == my_term && last_index >= my_last);
}
