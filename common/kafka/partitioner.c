/* murmur2 as the Java client computes it (seed 0x9747b28c, 4-byte little-endian blocks), in unsigned
 * arithmetic so the result equals Java's int bit for bit. */
#include "kafka/partitioner.h"

uint32_t kafka_murmur2(const void *key, size_t len)
{
	const uint8_t *d = key;
	const uint32_t m = 0x5bd1e995u;
	uint32_t h = 0x9747b28cu ^ (uint32_t)len;
	size_t blocks = len / 4;
	for (size_t i = 0; i < blocks; i++) {
		const uint8_t *b = d + 4 * i;
		uint32_t k = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
		k *= m;
		k ^= k >> 24;
		k *= m;
		h *= m;
		h ^= k;
	}
	const uint8_t *tail = d + 4 * blocks;
	switch (len & 3) {
	case 3:
		h ^= (uint32_t)tail[2] << 16;
		/* fall through */
	case 2:
		h ^= (uint32_t)tail[1] << 8;
		/* fall through */
	case 1:
		h ^= tail[0];
		h *= m;
	}
	h ^= h >> 13;
	h *= m;
	h ^= h >> 15;
	return h;
}

int32_t kafka_partition_for_key(const void *key, size_t len, int32_t partition_count)
{
	return (int32_t)((kafka_murmur2(key, len) & 0x7fffffffu) % (uint32_t)partition_count);
}
