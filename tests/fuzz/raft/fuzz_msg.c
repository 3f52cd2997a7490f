/* libFuzzer: the Raft wire decoder must turn any bytes into one message or one error, reading only inside
 * the input; a decoded message must re-encode to the same bytes, and stepping it into a node must not crash. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "raft/raft.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct raft_msg m;
	static uint8_t out[1 << 16];
	if (raft_msg_decode(data, size, &m) != 0)
		return 0;
	size_t n = raft_msg_size(&m);
	assert(n == size);
	if (n <= sizeof out) {
		int w = raft_msg_encode(&m, out, sizeof out);
		assert(w == (int)size && memcmp(out, data, size) == 0);
	}
	/* Feed it to a follower of a three-node cluster: bad terms or indexes must be refused, not crash. */
	struct raft_config cfg;
	raft_config_default(&cfg);
	cfg.id = m.to;
	struct raft_boot boot = {0};
	boot.snap.conf.voter_count = 3;
	boot.snap.conf.voters[0] = m.to;
	boot.snap.conf.voters[1] = m.to + 1 ? m.to + 1 : 2;
	boot.snap.conf.voters[2] = m.from;
	if (!raft_conf_valid(&boot.snap.conf))
		return 0;
	struct raft *r;
	if (raft_new(&cfg, &boot, &r) != 0)
		return 0;
	raft_step(r, &m);
	raft_free(r);
	return 0;
}
