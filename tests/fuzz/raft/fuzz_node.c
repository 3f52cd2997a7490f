/* libFuzzer, stateful: a follower with a log takes an arbitrary sequence of messages ([u16 len][bytes]
 * each, a zero length meaning one tick).  Whatever arrives, it must never lower its term or commit index,
 * never change an entry at or below its commit index, never crash, and its ready cycle must drain. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "raft/raft.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void drain(struct raft *r)
{
	for (int guard = 0; raft_has_ready(r); guard++) {
		assert(guard < 1000);
		struct raft_ready rd;
		raft_ready(r, &rd);
		raft_advance(r, &rd);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct raft_config cfg;
	raft_config_default(&cfg);
	cfg.id = 1;
	cfg.seed = 1;
	static const uint64_t terms[] = {1, 1, 2, 2, 3};
	struct raft_entry ents[5];
	for (unsigned i = 0; i < 5; i++)
		ents[i] = (struct raft_entry){.term = terms[i], .index = i + 1, .type = RAFT_ENTRY_NORMAL};
	struct raft_boot boot = {.hs = {.term = 3, .vote = 2, .commit = 2}, .entries = ents, .entry_count = 5};
	boot.snap.conf = (struct raft_conf){.voter_count = 3, .voters = {1, 2, 3}};
	struct raft *r;
	if (raft_new(&cfg, &boot, &r) != 0)
		abort();
	uint64_t term = r->term, commit = r->commit, committed_terms[64] = {0};
	size_t pos = 0;
	while (pos + 2 <= size) {
		size_t len = (size_t)data[pos] << 8 | data[pos + 1];
		pos += 2;
		if (len == 0) {
			raft_tick(r);
		} else {
			if (len > size - pos)
				break;
			raft_step_bytes(r, data + pos, len);
			pos += len;
		}
		drain(r);
		assert(r->term >= term && r->commit >= commit);
		for (uint64_t i = r->snap.index + 1; i <= r->commit && i < 64; i++) {
			uint64_t t = raft_term_at(r, i);
			assert(committed_terms[i] == 0 || committed_terms[i] == t);
			committed_terms[i] = t;
		}
		term = r->term;
		commit = r->commit;
	}
	raft_free(r);
	return 0;
}
