/* libFuzzer: Kafka request frames (body after the size prefix) through header + body decoding.  Whatever
 * decodes must re-encode to the same bytes and decode again; nothing may read out of bounds or overrun the
 * bounded arena. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "kafka/proto.h"

static uint8_t arena_mem[1 << 18], arena2[1 << 18], out[1 << 20];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kafka_request_header h, h2;
	union kafka_any_request req, req2;
	struct kafka_arena a, b;
	kafka_arena_init(&a, arena_mem, sizeof arena_mem);
	if (kafka_request_decode(data, size, &h, &req, &a) != 0)
		return 0;
	int n = kafka_request_encode(&h, &req, out, sizeof out);
	if (n < 0)
		return 0; /* e.g. a tagged field we dropped made it shorter: still must not crash */
	kafka_arena_init(&b, arena2, sizeof arena2);
	assert(kafka_request_decode(out + 4, (size_t)n - 4, &h2, &req2, &b) == 0);
	int n2 = kafka_request_encode(&h2, &req2, out, sizeof out);
	assert(n2 == n);
	return 0;
}
