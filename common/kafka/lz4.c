/* LZ4 frames as Kafka v2 batches carry them (the standard LZ4 frame format; Kafka's Java writer uses 64 KB
 * independent blocks without content size or checksum, and every reader accepts any valid frame).  The
 * decompressed size is bounded by the caller's buffer: a frame that would inflate past it is refused. */
#include <lz4frame.h>

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

/* dst is full and the frame is not over: is there more content (too large: the bound that stops bombs), or
 * is the frame merely cut short?  Ask for one more byte. */
static int full(LZ4F_dctx *d, const uint8_t *src, size_t src_len)
{
	for (;;) {
		uint8_t probe;
		size_t dst_n = 1, src_n = src_len;
		size_t hint = LZ4F_decompress(d, &probe, &dst_n, src, &src_n, NULL);
		if (LZ4F_isError(hint))
			return ERR_MALFORMED;
		if (dst_n)
			return ERR_TOO_LARGE;
		if (hint == 0)
			return src_n == src_len ? 0 : ERR_MALFORMED; /* ended exactly at the bound */
		if (src_n == 0)
			return ERR_MALFORMED; /* no progress: truncated */
		src += src_n;
		src_len -= src_n;
	}
}

int kafka_lz4_decompress(const uint8_t *src, size_t src_len, uint8_t *dst, size_t dst_cap, size_t *out_len)
{
	LZ4F_dctx *d;
	if (LZ4F_isError(LZ4F_createDecompressionContext(&d, LZ4F_VERSION)))
		return ERR_NOMEM;
	int rc = 0;
	size_t in = 0, out = 0, hint = 1;
	while (hint != 0) {
		size_t src_n = src_len - in, dst_n = dst_cap - out;
		hint = LZ4F_decompress(d, dst + out, &dst_n, src + in, &src_n, NULL);
		if (LZ4F_isError(hint)) {
			rc = ERR_MALFORMED;
			break;
		}
		in += src_n;
		out += dst_n;
		if (hint == 0)
			break;
		if (out == dst_cap) {
			rc = full(d, src + in, src_len - in);
			break;
		}
		if (in == src_len && src_n == 0 && dst_n == 0) {
			rc = ERR_MALFORMED; /* the frame is truncated */
			break;
		}
	}
	if (rc == 0 && hint != 0)
		in = src_len; /* full() consumed the rest: it returned 0 only at the frame's end */
	if (rc == 0 && in != src_len)
		rc = ERR_MALFORMED; /* bytes after the frame */
	LZ4F_freeDecompressionContext(d);
	*out_len = out;
	return rc;
}
