/* libFuzzer target for the WebSocket codec: the first byte picks the handshake parser or the frame path
 * (header decode, fragmentation rules, unmasking, close payloads over a stream of frames). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "net/websocket.h"

static void handshake(const uint8_t *p, size_t n)
{
	/* exact-size copy so an over-read trips ASan */
	uint8_t *copy = malloc(n ? n : 1);
	memcpy(copy, p, n);
	struct ws_handshake h;
	int rc = ws_parse_handshake(copy, n, &h);
	if (rc > 0) {
		if ((size_t)rc > n || !h.key || h.path_len == 0 || h.path < (const char *)copy ||
		    h.path + h.path_len > (const char *)copy + n)
			abort();
		char reply[WS_REPLY_MAX];
		if (ws_handshake_reply(&h, reply, sizeof reply) <= 0)
			abort();
	} else if (rc != ERR_AGAIN && rc != ERR_MALFORMED && rc != ERR_PROTOCOL && rc != ERR_UNSUPPORTED &&
		   rc != ERR_TOO_LARGE) {
		abort();
	}
	free(copy);
}

static void frames(const uint8_t *p, size_t n)
{
	struct ws_reader r = {0};
	uint8_t *copy = malloc(n ? n : 1);
	memcpy(copy, p, n);
	size_t pos = 0;
	while (pos < n) {
		struct ws_frame f;
		int hl = ws_decode_header(copy + pos, n - pos, 1u << 20, &f);
		if (hl < 0)
			break;
		if ((size_t)hl > n - pos || f.header_len != (size_t)hl)
			abort();
		pos += (size_t)hl;
		if (ws_reader_frame(&r, &f) != 0)
			break;
		size_t len = f.payload_len < n - pos ? (size_t)f.payload_len : n - pos;
		ws_unmask(copy + pos, len, f.mask, 0);
		if (f.opcode == WS_OP_CLOSE) {
			uint16_t code;
			if (f.payload_len > WS_CONTROL_MAX)
				abort();
			ws_parse_close(copy + pos, len, &code);
		}
		/* re-encode the header the server way and check the length survives */
		uint8_t h[WS_HEADER_MAX];
		if (ws_encode_header(h, sizeof h, f.fin, f.opcode, f.payload_len) < 2)
			abort();
		pos += len;
	}
	free(copy);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	if (data[0] & 1)
		handshake(data + 1, size - 1);
	else
		frames(data + 1, size - 1);
	return 0;
}
