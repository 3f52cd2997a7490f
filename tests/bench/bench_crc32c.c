/* CRC32C throughput: the dispatching crc32c() (hardware where available) beside the slicing-by-8 table, on
 * the same buffers, for small (record-sized) and large (batch-sized) inputs.  Prints GB/s; asserts nothing. */
#include <stdio.h>
#include <stdlib.h>

#include "base/crc32c.h"
#include "port.h"

static double rate(uint32_t (*fn)(uint32_t, const void *, size_t), const uint8_t *buf, size_t len, size_t total,
		   uint32_t *sink)
{
	size_t rounds = total / len;
	uint64_t t0 = port_now_ns();
	uint32_t c = 0;
	for (size_t i = 0; i < rounds; i++)
		c ^= fn(c, buf, len);
	uint64_t ns = port_now_ns() - t0;
	*sink ^= c;
	return (double)(rounds * len) / (double)(ns ? ns : 1); /* bytes per ns == GB/s */
}

int main(void)
{
	static const size_t sizes[] = {64, 1024, 16384, 1 << 20};
	const size_t total = (size_t)1 << 30; /* 1 GiB per measurement */
	uint8_t *buf = malloc(1 << 20);
	if (!buf)
		return 1;
	for (size_t i = 0; i < (1 << 20); i++)
		buf[i] = (uint8_t)(i * 2654435761u >> 13);
	uint32_t sink = 0;
	printf("crc32c: implementation %s\n", crc32c_impl());
	printf("%10s %14s %14s %8s\n", "bytes", "crc32c GB/s", "table GB/s", "ratio");
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		double hw = rate(crc32c, buf, sizes[i], total / 4, &sink);
		double sw = rate(crc32c_sw, buf, sizes[i], total / 16, &sink);
		printf("%10zu %14.2f %14.2f %7.1fx\n", sizes[i], hw, sw, hw / sw);
	}
	free(buf);
	return sink == 0x12345678u; /* keeps the loops from being optimised away */
}
