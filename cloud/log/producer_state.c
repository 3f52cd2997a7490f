/* Idempotent-producer state table (see producer_state.h).  The sequence rules follow Kafka's
 * ProducerAppendInfo as of KIP-360: an unknown producer may start at any sequence (its state may have been
 * removed by retention), a new epoch must start at sequence 0, the same epoch must continue at last + 1. */
#include "cloud/log/producer_state.h"

#include <stdlib.h>
#include <string.h>

#include "base/crc32c.h"
#include "base/err.h"
#include "base/rw.h"

#define SLOTS_MIN 16u
#define SNAPSHOT_VERSION 1
#define SNAPSHOT_HEAD (4 + 2 + 4)
#define SNAPSHOT_ENTRY_FIXED (8 + 2 + 1 + 8)
#define SNAPSHOT_BATCH (4 + 4 + 8 + 4 + 8)

static size_t slot_hash(int64_t id, size_t slot_count)
{
	uint64_t x = (uint64_t)id + 0x9e3779b97f4a7c15ull; /* splitmix64 finaliser */
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return (size_t)(x ^ (x >> 31)) & (slot_count - 1);
}

static struct producer_entry *alloc_slots(size_t n)
{
	struct producer_entry *s = malloc(n * sizeof *s);
	if (s)
		for (size_t i = 0; i < n; i++)
			s[i].producer_id = BATCH_NO_PRODUCER_ID;
	return s;
}

int producer_state_init(struct producer_state *ps, size_t entries_max)
{
	memset(ps, 0, sizeof *ps);
	if (entries_max == 0 || entries_max > (SIZE_MAX / sizeof(struct producer_entry)) / 4)
		return ERR_INVAL;
	ps->slots = alloc_slots(SLOTS_MIN);
	if (!ps->slots)
		return ERR_NOMEM;
	ps->slot_count = SLOTS_MIN;
	ps->entries_max = entries_max;
	return 0;
}

void producer_state_deinit(struct producer_state *ps)
{
	free(ps->slots);
	ps->slots = NULL;
	ps->slot_count = ps->entry_count = 0;
}

void producer_state_clear(struct producer_state *ps)
{
	for (size_t i = 0; i < ps->slot_count; i++)
		ps->slots[i].producer_id = BATCH_NO_PRODUCER_ID;
	ps->entry_count = 0;
}

static size_t find_slot(const struct producer_state *ps, int64_t id)
{
	size_t mask = ps->slot_count - 1;
	size_t i = slot_hash(id, ps->slot_count);
	while (ps->slots[i].producer_id != BATCH_NO_PRODUCER_ID && ps->slots[i].producer_id != id)
		i = (i + 1) & mask;
	return i;
}

const struct producer_entry *producer_state_find(const struct producer_state *ps, int64_t producer_id)
{
	if (producer_id < 0)
		return NULL;
	const struct producer_entry *e = &ps->slots[find_slot(ps, producer_id)];
	return e->producer_id == producer_id ? e : NULL;
}

static bool in_sequence(int32_t last, int32_t next)
{
	return last == INT32_MAX ? next == 0 : next == last + 1;
}

void producer_state_check(const struct producer_state *ps, const struct batch_header *h, struct producer_check *out)
{
	memset(out, 0, sizeof *out);
	out->verdict = PRODUCER_APPEND;
	const struct producer_entry *e = producer_state_find(ps, h->producer_id);
	if (!e)
		return; /* not idempotent, or unknown: any sequence may start (KIP-360) */
	out->current_epoch = e->epoch;
	if (h->producer_epoch < e->epoch) {
		out->verdict = PRODUCER_FENCED;
		return;
	}
	if (h->producer_epoch > e->epoch) {
		if (h->base_sequence != 0)
			out->verdict = PRODUCER_OUT_OF_ORDER;
		return;
	}
	int32_t last_seq = batch_last_sequence(h);
	for (unsigned i = 0; i < e->batch_count; i++) {
		const struct producer_batch *b = &e->batches[i];
		if (b->first_seq == h->base_sequence && b->last_seq == last_seq) {
			out->verdict = PRODUCER_DUPLICATE;
			out->duplicate_base_offset = b->first_offset;
			out->duplicate_last_offset = b->first_offset + b->offset_delta;
			out->duplicate_timestamp = b->max_timestamp;
			return;
		}
	}
	if (e->batch_count && !in_sequence(e->batches[e->batch_count - 1].last_seq, h->base_sequence))
		out->verdict = PRODUCER_OUT_OF_ORDER;
}

static int rehash(struct producer_state *ps, size_t slot_count)
{
	struct producer_entry *old = ps->slots;
	size_t old_count = ps->slot_count;
	struct producer_entry *s = alloc_slots(slot_count);
	if (!s)
		return ERR_NOMEM;
	ps->slots = s;
	ps->slot_count = slot_count;
	for (size_t i = 0; i < old_count; i++)
		if (old[i].producer_id != BATCH_NO_PRODUCER_ID)
			ps->slots[find_slot(ps, old[i].producer_id)] = old[i];
	free(old);
	return 0;
}

/* Backward-shift deletion keeps every probe chain unbroken without tombstones. */
static void remove_slot(struct producer_state *ps, size_t i)
{
	size_t mask = ps->slot_count - 1;
	size_t j = i;
	for (;;) {
		j = (j + 1) & mask;
		if (ps->slots[j].producer_id == BATCH_NO_PRODUCER_ID)
			break;
		size_t home = slot_hash(ps->slots[j].producer_id, ps->slot_count);
		/* move j back to i unless its home lies cyclically in (i, j] */
		bool stays = i <= j ? (home > i && home <= j) : (home > i || home <= j);
		if (!stays) {
			ps->slots[i] = ps->slots[j];
			i = j;
		}
	}
	ps->slots[i].producer_id = BATCH_NO_PRODUCER_ID;
	ps->entry_count--;
}

static void evict_idlest(struct producer_state *ps)
{
	size_t victim = SIZE_MAX;
	for (size_t i = 0; i < ps->slot_count; i++) {
		if (ps->slots[i].producer_id == BATCH_NO_PRODUCER_ID)
			continue;
		if (victim == SIZE_MAX || ps->slots[i].last_timestamp < ps->slots[victim].last_timestamp)
			victim = i;
	}
	if (victim != SIZE_MAX) {
		remove_slot(ps, victim);
		ps->evicted_count++;
	}
}

static int insert(struct producer_state *ps, int64_t id, struct producer_entry **out)
{
	if (ps->entry_count >= ps->entries_max)
		evict_idlest(ps);
	if ((ps->entry_count + 1) * 2 > ps->slot_count) {
		int rc = rehash(ps, ps->slot_count * 2);
		if (rc)
			return rc;
	}
	struct producer_entry *e = &ps->slots[find_slot(ps, id)];
	memset(e, 0, sizeof *e);
	e->producer_id = id;
	ps->entry_count++;
	*out = e;
	return 0;
}

int producer_state_update(struct producer_state *ps, const struct batch_header *h)
{
	if (h->producer_id < 0)
		return 0;
	struct producer_entry *e = &ps->slots[find_slot(ps, h->producer_id)];
	if (e->producer_id != h->producer_id) {
		int rc = insert(ps, h->producer_id, &e);
		if (rc)
			return rc;
		e->epoch = h->producer_epoch;
	}
	if (h->producer_epoch != e->epoch) {
		e->epoch = h->producer_epoch;
		e->batch_count = 0;
	}
	e->last_timestamp = h->max_timestamp;
	if (h->base_sequence < 0)
		return 0;
	if (e->batch_count == PRODUCER_BATCHES_KEPT) {
		memmove(&e->batches[0], &e->batches[1], sizeof e->batches[0] * (PRODUCER_BATCHES_KEPT - 1));
		e->batch_count--;
	}
	struct producer_batch *b = &e->batches[e->batch_count++];
	b->first_seq = h->base_sequence;
	b->last_seq = batch_last_sequence(h);
	b->first_offset = h->base_offset;
	b->offset_delta = h->last_offset_delta;
	b->max_timestamp = h->max_timestamp;
	return 0;
}

static int64_t entry_last_offset(const struct producer_entry *e)
{
	if (!e->batch_count)
		return -1;
	const struct producer_batch *b = &e->batches[e->batch_count - 1];
	return b->first_offset + b->offset_delta;
}

int producer_state_expire(struct producer_state *ps, int64_t now_ms, int64_t max_age_ms, int64_t start_offset)
{
	bool any = false;
	for (size_t i = 0; i < ps->slot_count; i++) {
		struct producer_entry *e = &ps->slots[i];
		if (e->producer_id == BATCH_NO_PRODUCER_ID)
			continue;
		bool old = max_age_ms >= 0 && e->last_timestamp < now_ms - max_age_ms;
		bool gone = start_offset >= 0 && entry_last_offset(e) < start_offset;
		if (old || gone) {
			e->producer_id = BATCH_NO_PRODUCER_ID;
			ps->entry_count--;
			any = true;
		}
	}
	/* Clearing slots in place breaks probe chains; reinsert the survivors. */
	return any ? rehash(ps, ps->slot_count) : 0;
}

size_t producer_state_encode_size(const struct producer_state *ps)
{
	size_t n = SNAPSHOT_HEAD + 4;
	for (size_t i = 0; i < ps->slot_count; i++)
		if (ps->slots[i].producer_id != BATCH_NO_PRODUCER_ID)
			n += SNAPSHOT_ENTRY_FIXED + (size_t)ps->slots[i].batch_count * SNAPSHOT_BATCH;
	return n;
}

int producer_state_encode(const struct producer_state *ps, uint8_t *buf, size_t cap, size_t *len_out)
{
	struct wbuf w;
	wbuf_init(&w, buf, cap);
	wbuf_u32(&w, PRODUCER_STATE_MAGIC);
	wbuf_u16(&w, SNAPSHOT_VERSION);
	wbuf_u32(&w, (uint32_t)ps->entry_count);
	for (size_t i = 0; i < ps->slot_count; i++) {
		const struct producer_entry *e = &ps->slots[i];
		if (e->producer_id == BATCH_NO_PRODUCER_ID)
			continue;
		wbuf_u64(&w, (uint64_t)e->producer_id);
		wbuf_u16(&w, (uint16_t)e->epoch);
		wbuf_u8(&w, e->batch_count);
		wbuf_u64(&w, (uint64_t)e->last_timestamp);
		for (unsigned b = 0; b < e->batch_count; b++) {
			wbuf_u32(&w, (uint32_t)e->batches[b].first_seq);
			wbuf_u32(&w, (uint32_t)e->batches[b].last_seq);
			wbuf_u64(&w, (uint64_t)e->batches[b].first_offset);
			wbuf_u32(&w, (uint32_t)e->batches[b].offset_delta);
			wbuf_u64(&w, (uint64_t)e->batches[b].max_timestamp);
		}
	}
	if (w.err)
		return w.err;
	uint32_t crc = crc32c(0, buf, w.len);
	wbuf_u32(&w, crc);
	if (w.err)
		return w.err;
	*len_out = w.len;
	return 0;
}

static int decode_entry(struct producer_state *ps, struct rbuf *r)
{
	int64_t id = rbuf_i64(r);
	int16_t epoch = rbuf_i16(r);
	uint8_t count = rbuf_u8(r);
	int64_t last_ts = rbuf_i64(r);
	if (!rbuf_ok(r))
		return ERR_MALFORMED;
	if (id < 0 || count > PRODUCER_BATCHES_KEPT || producer_state_find(ps, id))
		return ERR_MALFORMED;
	struct producer_entry *e;
	int rc = insert(ps, id, &e);
	if (rc)
		return rc;
	e->epoch = epoch;
	e->last_timestamp = last_ts;
	for (unsigned b = 0; b < count; b++) {
		struct producer_batch *pb = &e->batches[b];
		pb->first_seq = rbuf_i32(r);
		pb->last_seq = rbuf_i32(r);
		pb->first_offset = rbuf_i64(r);
		pb->offset_delta = rbuf_i32(r);
		pb->max_timestamp = rbuf_i64(r);
		if (pb->first_offset < 0 || pb->offset_delta < 0)
			return ERR_MALFORMED;
	}
	e->batch_count = count;
	return rbuf_ok(r) ? 0 : ERR_MALFORMED;
}

int producer_state_decode(struct producer_state *ps, const uint8_t *buf, size_t len)
{
	producer_state_clear(ps);
	if (len < SNAPSHOT_HEAD + 4)
		return ERR_MALFORMED;
	if (crc32c(0, buf, len - 4) != be32_get(buf + len - 4))
		return ERR_CORRUPT;
	struct rbuf r;
	rbuf_init(&r, buf, len - 4);
	uint32_t magic = rbuf_u32(&r);
	uint16_t version = rbuf_u16(&r);
	uint32_t count = rbuf_u32(&r);
	int rc = 0;
	if (magic != PRODUCER_STATE_MAGIC || version != SNAPSHOT_VERSION)
		rc = ERR_MALFORMED;
	else if (count > ps->entries_max || count > rbuf_left(&r) / SNAPSHOT_ENTRY_FIXED)
		rc = ERR_TOO_LARGE;
	for (uint32_t i = 0; !rc && i < count; i++)
		rc = decode_entry(ps, &r);
	if (!rc && rbuf_left(&r) != 0)
		rc = ERR_MALFORMED;
	if (rc)
		producer_state_clear(ps);
	return rc;
}
