/* Kafka's default partitioner for keyed records: murmur2 of the key bytes, sign bit cleared, modulo the
 * partition count (Java client's Utils.murmur2 / toPositive; librdkafka's "murmur2_random" for keyed records),
 * so records keyed by ferry land where every Kafka client would put them. */
#ifndef FERRY_KAFKA_PARTITIONER_H
#define FERRY_KAFKA_PARTITIONER_H

#include <stddef.h>
#include <stdint.h>

uint32_t kafka_murmur2(const void *key, size_t len);
/* partition_count > 0. */
int32_t kafka_partition_for_key(const void *key, size_t len, int32_t partition_count);

#endif
