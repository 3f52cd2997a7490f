/* libFuzzer: Kafka responses of every API and version.  The first two bytes pick the API (index into our
 * table) and the version; the rest is the response body.  Decoded messages must re-encode. */
#include <assert.h>
#include <stdint.h>

#include "kafka/codec.h"

static uint8_t arena_mem[1 << 18], out[1 << 20];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 2)
		return 0;
	const struct kafka_api_desc *api = &kafka_api_table[data[0] % KAFKA_API_COUNT];
	const struct kafka_message *m = data[0] & 0x80 ? api->request : api->response;
	int16_t ver = (int16_t)(data[1] % (m->valid_hi + 1));
	union {
		union kafka_any_request req;
		union kafka_any_response resp;
	} msg;
	struct kafka_arena a;
	kafka_arena_init(&a, arena_mem, sizeof arena_mem);
	int n = kafka_msg_decode(m, ver, data + 2, size - 2, &msg, &a);
	if (n < 0)
		return 0;
	size_t sz;
	int rc = kafka_msg_size(m, ver, &msg, &sz);
	int e = kafka_msg_encode(m, ver, &msg, out, sizeof out);
	assert(rc < 0 ? e == rc : (size_t)e == sz);
	return 0;
}
