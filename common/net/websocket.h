/* WebSocket (RFC 6455), server side, for MQTT over WebSockets (MQTT 5.0 §6).
 *
 * Codec (pure: no I/O, no allocation, views into the caller's buffer):
 *   ws_parse_handshake   the client's HTTP/1.1 upgrade request -> path, key, "mqtt" offered
 *   ws_handshake_reply   the 101 response (Sec-WebSocket-Accept = base64(SHA-1(key + GUID)), §4.2.2)
 *   ws_decode_header     one frame header: FIN, opcode, mask, payload length (§5.2), with the rules a server
 *                        must enforce: client frames masked (§5.1), no RSV bits without an extension, control
 *                        frames final and at most 125 bytes (§5.5), minimal length encoding
 *   ws_reader_frame      the fragmentation rules across frames (§5.4) and MQTT's "binary only" (MQTT §6.0)
 *   ws_encode_header     an unmasked server frame header
 *
 * Glue (net_ws_wrap): a bufferevent that speaks plain bytes over a WebSocket connection, so MQTT over WS is
 * one more transport.  Payload bytes of binary frames arrive as a byte stream (MQTT packets may span frames
 * and frames may hold several packets, §6.0); bytes written are sent as binary frames; pings are answered;
 * a close from the peer is reported as BEV_EVENT_EOF and echoed when the owner closes (after its queued
 * bytes); a protocol error sends close 1002/1003 and reports BEV_EVENT_ERROR. */
#ifndef FERRY_NET_WEBSOCKET_H
#define FERRY_NET_WEBSOCKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WS_HANDSHAKE_MAX 8192   /* request bytes through the blank line */
#define WS_CONTROL_MAX 125      /* §5.5 */
#define WS_HEADER_MAX 14        /* 2 + 8 (length) + 4 (mask) */
#define WS_REPLY_MAX 512

enum ws_opcode {
	WS_OP_CONT = 0x0,
	WS_OP_TEXT = 0x1,
	WS_OP_BINARY = 0x2,
	WS_OP_CLOSE = 0x8,
	WS_OP_PING = 0x9,
	WS_OP_PONG = 0xA,
};

/* Close status codes (§7.4.1) this module sends. */
enum ws_close_code {
	WS_CLOSE_NORMAL = 1000,
	WS_CLOSE_GOING_AWAY = 1001,
	WS_CLOSE_PROTOCOL = 1002,
	WS_CLOSE_UNSUPPORTED_DATA = 1003,
	WS_CLOSE_TOO_BIG = 1009,
};

struct ws_handshake {
	const char *path;  /* request-target, a view */
	size_t path_len;
	const char *key;   /* Sec-WebSocket-Key, a view (24 base64 characters) */
	size_t key_len;
	bool mqtt;         /* "mqtt" is among the offered Sec-WebSocket-Protocol values */
	int http_status;   /* on error: the status to answer with (400, 426, 431) */
};

/* Parse an upgrade request at the start of buf.  Returns the bytes consumed (through the empty line), or
 * ERR_AGAIN (incomplete), ERR_TOO_LARGE (no end within WS_HANDSHAKE_MAX), ERR_MALFORMED (not an HTTP/1.1
 * GET), ERR_PROTOCOL (not a valid WebSocket upgrade), ERR_UNSUPPORTED (Sec-WebSocket-Version is not 13).
 * out->http_status is set on every error. */
int ws_parse_handshake(const uint8_t *buf, size_t len, struct ws_handshake *out);
/* accept = base64(SHA-1(key || "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")), 28 characters + NUL. 0 or ERR_INVAL. */
int ws_accept_key(const char *key, size_t key_len, char out[29]);
/* The 101 Switching Protocols answer for h (selecting "mqtt" when offered).  Length, or ERR_TOO_LARGE/INVAL. */
int ws_handshake_reply(const struct ws_handshake *h, char *out, size_t cap);
/* A short error answer for a refused upgrade (status from ws_handshake.http_status).  Length or ERR_TOO_LARGE. */
int ws_error_reply(int http_status, char *out, size_t cap);

struct ws_frame {
	bool fin;
	uint8_t opcode;
	bool masked;
	uint8_t mask[4];
	uint64_t payload_len;
	size_t header_len;
};

/* Decode the header of the frame at buf.  Returns header length, ERR_AGAIN (need more bytes),
 * ERR_PROTOCOL (unmasked client frame, RSV bits, unknown opcode, bad control frame, non-minimal length),
 * ERR_MALFORMED (64-bit length with the top bit set), ERR_TOO_LARGE (payload over payload_max). */
int ws_decode_header(const uint8_t *buf, size_t len, uint64_t payload_max, struct ws_frame *out);
/* XOR-unmask len bytes in place; offset is the position of p[0] within the frame's payload (§5.3). */
void ws_unmask(uint8_t *p, size_t len, const uint8_t mask[4], uint64_t offset);
/* Write an unmasked server frame header for a payload of payload_len bytes.  Header length or ERR_TOO_LARGE. */
int ws_encode_header(uint8_t *out, size_t cap, bool fin, uint8_t opcode, uint64_t payload_len);
/* Validate a close frame's (unmasked) payload: empty, or a 2-byte code allowed on the wire (§7.4) followed by
 * UTF-8.  0 and *code (1005 when empty), or ERR_PROTOCOL. */
int ws_parse_close(const uint8_t *payload, size_t len, uint16_t *code);

/* Message-level state across frames (§5.4). */
struct ws_reader {
	bool in_message; /* a fragmented binary message is in progress */
};
/* Check f against the sequence so far: 0 (data or control frame fits), ERR_PROTOCOL (continuation without a
 * start, a new message inside one), ERR_UNSUPPORTED (a text frame: MQTT needs binary, close with 1003). */
int ws_reader_frame(struct ws_reader *r, const struct ws_frame *f);

/* ---- glue: a WebSocket connection as a bufferevent ---- */

struct bufferevent;
struct event_base;

struct net_ws_config {
	const char *path;              /* only this request-target is upgraded, e.g. "/mqtt" */
	uint64_t handshake_timeout_ms; /* from accept to a complete upgrade request */
};

/* Serve WebSocket on under (an accepted socket or TLS bufferevent; ownership passes to the result, freeing
 * it frees under).  The caller enables EV_READ; BEV_EVENT_CONNECTED comes when the upgrade is done.  A
 * refused upgrade queues an HTTP error answer and raises BEV_EVENT_ERROR: close with
 * net_bev_close_after_flush so the answer goes out.  NULL on allocation failure (under is freed). */
struct bufferevent *net_ws_wrap(struct event_base *base, struct bufferevent *under, const struct net_ws_config *cfg);
bool net_ws_is_ws(struct bufferevent *bev);
/* Queue what is written, then a close frame with code (the peer's code if it closed first); sent once.
 * net_bev_close_after_flush calls this.  0 or ERR_INVAL/ERR_STATE. */
int net_ws_close(struct bufferevent *bev, uint16_t code);

#endif
