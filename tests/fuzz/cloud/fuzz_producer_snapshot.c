/* Producer-state snapshot decoding: arbitrary bytes never crash the decoder, never grow the table past its
 * bound, and whatever decodes re-encodes to the same length and decodes again.  Half the inputs get a
 * correct CRC trailer so the fuzzer reaches the entry parser behind the checksum. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/crc32c.h"
#include "base/rw.h"
#include "cloud/log/producer_state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct producer_state ps;
	if (producer_state_init(&ps, 64))
		abort();
	uint8_t *in = malloc(size ? size : 1);
	memcpy(in, data, size);
	if (size > 4 && (in[size - 1] & 1))
		be32_put(in + size - 4, crc32c(0, in, size - 4));
	if (producer_state_decode(&ps, in, size) == 0) {
		if (ps.entry_count > 64)
			abort();
		size_t cap = producer_state_encode_size(&ps), len;
		uint8_t *buf = malloc(cap);
		if (producer_state_encode(&ps, buf, cap, &len) || len != size)
			abort();
		/* entries come out in table order, so compare by decoding again rather than byte for byte */
		struct producer_state again;
		producer_state_init(&again, 64);
		if (producer_state_decode(&again, buf, len) || again.entry_count != ps.entry_count)
			abort();
		producer_state_deinit(&again);
		free(buf);
	} else if (ps.entry_count != 0) {
		abort();
	}
	producer_state_deinit(&ps);
	free(in);
	return 0;
}
