/* Legacy message sets, magic 0 and 1 (Kafka protocol guide, "Message Sets" before 0.11): read-only, for
 * Fetch answers from old data and old clients' Produce.  Each message is checked with CRC-32 (IEEE, not
 * Castagnoli).  Compressed wrappers are returned as such; lz4 ones can be unwrapped, gzip and snappy cannot. */
#include "kafka/batch.h"

/* CRC-32 (IEEE 802.3, reflected 0xEDB88320), four bits at a time: legacy messages are rare and small. */
static uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
	static const uint32_t t[16] = {
		0x00000000, 0x1DB71064, 0x3B6E20C8, 0x26D930AC, 0x76DC4190, 0x6B6B51F4, 0x4DB26158, 0x5005713C,
		0xEDB88320, 0xF00F9344, 0xD6D6A3E8, 0xCB61B38C, 0x9B64C2B0, 0x86D3D2D4, 0xA00AE278, 0xBDBDF21C,
	};
	uint32_t c = 0xFFFFFFFFu;
	for (size_t i = 0; i < n; i++) {
		c ^= p[i];
		c = (c >> 4) ^ t[c & 15];
		c = (c >> 4) ^ t[c & 15];
	}
	return ~c;
}

static struct kafka_bytes bytes32(struct rbuf *r)
{
	int32_t n = rbuf_i32(r);
	if (r->err)
		return (struct kafka_bytes){ NULL, -1 };
	if (n < -1 || (n > 0 && (size_t)n > rbuf_left(r))) {
		rbuf_fail(r, ERR_MALFORMED);
		return (struct kafka_bytes){ NULL, -1 };
	}
	const uint8_t *p = n > 0 ? rbuf_view(r, (size_t)n) : (const uint8_t *)"";
	return (struct kafka_bytes){ n < 0 ? NULL : p, n };
}

int kafka_legacy_next(const uint8_t *buf, size_t len, struct kafka_legacy_message *m)
{
	struct rbuf r;
	rbuf_init(&r, buf, len);
	m->offset = rbuf_i64(&r);
	int32_t size = rbuf_i32(&r);
	if (r.err)
		return r.err;
	if (size < 14) /* crc, magic, attributes, key and value lengths */
		return ERR_MALFORMED;
	if ((size_t)size > rbuf_left(&r))
		return ERR_AGAIN;
	struct rbuf msg;
	rbuf_init(&msg, rbuf_view(&r, (size_t)size), (size_t)size);
	uint32_t crc = rbuf_u32(&msg);
	m->magic = (int8_t)rbuf_u8(&msg);
	if (m->magic != 0 && m->magic != 1)
		return ERR_KAFKA_BAD_MAGIC;
	if (crc32_ieee(msg.p + 4, (size_t)size - 4) != crc)
		return ERR_CORRUPT;
	m->attributes = (int8_t)rbuf_u8(&msg);
	m->timestamp = m->magic == 1 ? rbuf_i64(&msg) : -1;
	m->key = bytes32(&msg);
	m->value = bytes32(&msg);
	if (msg.err || rbuf_left(&msg))
		return ERR_MALFORMED;
	int codec = m->attributes & KAFKA_BATCH_COMPRESSION_MASK;
	if (codec > KAFKA_COMPRESSION_LZ4)
		return ERR_MALFORMED; /* zstd never existed before magic 2 */
	return (int)r.pos;
}

int kafka_legacy_inner(const struct kafka_legacy_message *wrapper, uint8_t *out, size_t out_cap, size_t *inner_len)
{
	int codec = wrapper->attributes & KAFKA_BATCH_COMPRESSION_MASK;
	if (codec == KAFKA_COMPRESSION_NONE)
		return ERR_INVAL;
	if (codec != KAFKA_COMPRESSION_LZ4)
		return ERR_KAFKA_UNSUPPORTED_COMPRESSION;
	/* Magic 0 lz4 frames carry a header checksum computed over the wrong bytes (KAFKA-3160); our frame reader
	 * does not check header checksums (the message CRC covers the bytes), so both magics read alike. */
	if (wrapper->value.len <= 0)
		return ERR_MALFORMED;
	return kafka_lz4_decompress(wrapper->value.p, (size_t)wrapper->value.len, out, out_cap, inner_len);
}
