/* libFuzzer: record batch parsing, decompression (bounded: a bomb stops at the output buffer), record and
 * header iteration, and legacy message sets.  Input: a records field as a Fetch response carries it. */
#include <stdint.h>

#include "kafka/batch.h"

static uint8_t plain[1 << 16]; /* small on purpose: decompression must stop here */

static void records(const struct kafka_batch *b)
{
	(void)kafka_batch_validate(b, plain, sizeof plain);
	const uint8_t *r;
	size_t rlen;
	if (kafka_batch_records(b, plain, sizeof plain, &r, &rlen) < 0)
		return;
	struct kafka_record_iter it;
	struct kafka_record rec;
	kafka_record_iter_init(&it, b, r, rlen);
	while (kafka_record_next(&it, &rec) == 1) {
		struct kafka_header_iter hi;
		struct kafka_record_header h;
		kafka_header_iter_init(&hi, &rec);
		while (kafka_record_header_next(&hi, &h) == 1)
			;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	while (size > 0) {
		int magic = kafka_batch_magic(data, size);
		int n;
		if (magic == 2) {
			struct kafka_batch b;
			n = kafka_batch_parse(data, size, 1 << 20, &b);
			if (n > 0)
				records(&b);
		} else {
			struct kafka_legacy_message m;
			n = kafka_legacy_next(data, size, &m);
			size_t inner;
			if (n > 0 && (m.attributes & 7))
				(void)kafka_legacy_inner(&m, plain, sizeof plain, &inner);
		}
		if (n <= 0)
			break;
		data += n;
		size -= (size_t)n;
	}
	return 0;
}
