/* CRC32C (Castagnoli), as Kafka record batches and Ferry's own files use it.
 * crc32c() picks the hardware instruction when the CPU has one (SSE4.2 on x86-64, the ARMv8 CRC extension
 * on aarch64) and a slicing-by-8 table otherwise; crc32c_sw() is always the table version. */
#ifndef FERRY_BASE_CRC32C_H
#define FERRY_BASE_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/* Continue a CRC: pass 0 to start.  crc32c(0, "123456789", 9) == 0xE3069283. */
uint32_t crc32c(uint32_t crc, const void *buf, size_t len);
uint32_t crc32c_sw(uint32_t crc, const void *buf, size_t len);
/* Name of the implementation crc32c() uses: "sse4.2", "armv8-crc" or "table". */
const char *crc32c_impl(void);

#endif
