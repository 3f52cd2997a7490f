/* LZ4 frames as Kafka v2 batches carry them (the standard LZ4 frame format; Kafka's Java writer uses 64 KB
 * independent blocks without content size or checksum, and every reader accepts any valid frame).  Writing
 * goes through liblz4's frame API; reading is ours over liblz4's block decoder, never allocates, and is
 * bounded by the caller's buffer: a frame that would inflate past it is refused. */
#include <lz4.h>
#include <lz4frame.h>
#include <string.h>

#include "kafka/batch.h"

static const LZ4F_preferences_t prefs = {
	.frameInfo = { .blockSizeID = LZ4F_max64KB, .blockMode = LZ4F_blockIndependent },
};

size_t kafka_lz4_bound(size_t src_len) { return LZ4F_compressFrameBound(src_len, &prefs); }

int kafka_lz4_compress(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_cap)
{
	if (src_len > INT32_MAX || dst_cap < kafka_lz4_bound(src_len))
		return ERR_TOO_LARGE;
	size_t n = LZ4F_compressFrame(dst, dst_cap, src, src_len, &prefs);
	if (LZ4F_isError(n) || n > INT32_MAX)
		return ERR_TOO_LARGE;
	return (int)n;
}

/* The LZ4 frame format (lz4_Frame_format.md), read by hand over the block decoder so that reading never
 * allocates (LZ4F would allocate a context per frame) and the bound is checked block by block.  Header and
 * block checksums are not verified: the batch CRC32C already covers every compressed byte (and magic-0
 * producers wrote a wrong header checksum, KAFKA-3160). */
#define LZ4_FRAME_MAGIC 0x184D2204u
#define LZ4_FLG_INDEPENDENT 0x20
#define LZ4_FLG_BLOCK_CHECKSUM 0x10
#define LZ4_FLG_CONTENT_SIZE 0x08
#define LZ4_FLG_CONTENT_CHECKSUM 0x04
#define LZ4_FLG_DICT_ID 0x01
#define LZ4_LINKED_WINDOW 65536

static uint32_t le32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }

static uint64_t le64(const uint8_t *p) { return le32(p) | (uint64_t)le32(p + 4) << 32; }

/* Decode one block of n bytes at src into dst + out; returns the bytes produced or an error. */
static int block(const uint8_t *src, uint32_t n, bool raw, bool linked, uint8_t *dst, size_t out, size_t dst_cap,
		 size_t block_max)
{
	size_t room = dst_cap - out;
	if (raw) {
		if (n > room)
			return ERR_TOO_LARGE;
		memcpy(dst + out, src, n);
		return (int)n;
	}
	int cap = (int)(room < block_max ? room : block_max);
	int r;
	if (linked) {
		size_t dict = out < LZ4_LINKED_WINDOW ? out : LZ4_LINKED_WINDOW;
		r = LZ4_decompress_safe_usingDict((const char *)src, (char *)dst + out, (int)n, cap,
						  (const char *)dst + out - dict, (int)dict);
	} else {
		r = LZ4_decompress_safe((const char *)src, (char *)dst + out, (int)n, cap);
	}
	if (r < 0) /* with less room than a block may inflate to, the likely cause is the bound */
		return room < block_max ? ERR_TOO_LARGE : ERR_MALFORMED;
	return r;
}

int kafka_lz4_decompress(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_cap, size_t *out_len)
{
	*out_len = 0;
	if (src_len < 7 || le32(src) != LZ4_FRAME_MAGIC)
		return ERR_MALFORMED;
	uint8_t flg = src[4], bd = src[5];
	if (flg >> 6 != 1 || (flg & 0x02) || (flg & LZ4_FLG_DICT_ID) || (bd & 0x8F) || ((bd >> 4) & 7) < 4)
		return ERR_MALFORMED; /* version 01, reserved bits zero, no dictionary, block size id 4..7 */
	size_t block_max = (size_t)1 << (8 + 2 * ((bd >> 4) & 7));
	size_t pos = 6;
	if (flg & LZ4_FLG_CONTENT_SIZE) {
		if (src_len < pos + 9)
			return ERR_MALFORMED;
		if (le64(src + pos) > dst_cap)
			return ERR_TOO_LARGE; /* the frame says so up front */
		pos += 8;
	}
	pos++; /* header checksum */
	size_t out = 0, tail = (flg & LZ4_FLG_BLOCK_CHECKSUM) ? 4 : 0;
	for (;;) {
		if (src_len - pos < 4)
			return ERR_MALFORMED;
		uint32_t size = le32(src + pos);
		pos += 4;
		if (size == 0)
			break; /* end mark */
		uint32_t n = size & 0x7FFFFFFFu;
		if (n > block_max || src_len - pos < n + tail)
			return ERR_MALFORMED;
		int r = block(src + pos, n, size >> 31, !(flg & LZ4_FLG_INDEPENDENT), dst, out, dst_cap, block_max);
		if (r < 0) {
			*out_len = out;
			return r;
		}
		out += (size_t)r;
		pos += n + tail;
	}
	if (flg & LZ4_FLG_CONTENT_CHECKSUM) {
		if (src_len - pos < 4)
			return ERR_MALFORMED;
		pos += 4;
	}
	*out_len = out;
	return pos == src_len ? 0 : ERR_MALFORMED; /* nothing may follow the frame */
}
