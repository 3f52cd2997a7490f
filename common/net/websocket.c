/* RFC 6455 server-side codec (websocket.h).  Pure functions over caller buffers: never allocates, never
 * reads past len, every length from the wire is checked before use. */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <mbedtls/base64.h>
#include <mbedtls/sha1.h>

#include "base/err.h"
#include "net/websocket.h"

static const char ws_guid[] = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"; /* §1.3 */

/* ---- handshake ---- */

struct span {
	const char *p;
	size_t n;
};

static bool span_ieq(struct span s, const char *lit)
{
	size_t n = strlen(lit);
	return s.n == n && strncasecmp(s.p, lit, n) == 0;
}

static struct span trim(struct span s)
{
	while (s.n && (s.p[0] == ' ' || s.p[0] == '\t'))
		s.p++, s.n--;
	while (s.n && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t'))
		s.n--;
	return s;
}

/* Is token (case-insensitive unless exact) an element of the comma-separated list? */
static bool list_has(struct span list, const char *token, bool exact)
{
	while (list.n) {
		const char *comma = memchr(list.p, ',', list.n);
		struct span item = {list.p, comma ? (size_t)(comma - list.p) : list.n};
		item = trim(item);
		if (exact ? item.n == strlen(token) && memcmp(item.p, token, item.n) == 0 : span_ieq(item, token))
			return true;
		if (!comma)
			break;
		list.n -= (size_t)(comma - list.p) + 1;
		list.p = comma + 1;
	}
	return false;
}

static int fail(struct ws_handshake *out, int status, int rc)
{
	out->http_status = status;
	return rc;
}

struct seen {
	bool host, upgrade, connection, version_ok, version_present;
};

static int header(struct ws_handshake *out, struct span name, struct span value, struct seen *s)
{
	if (span_ieq(name, "Host")) {
		s->host = true;
	} else if (span_ieq(name, "Upgrade")) {
		s->upgrade = list_has(value, "websocket", false);
	} else if (span_ieq(name, "Connection")) {
		s->connection |= list_has(value, "upgrade", false);
	} else if (span_ieq(name, "Sec-WebSocket-Key")) {
		if (out->key)
			return ERR_PROTOCOL; /* §11.3.1: must not appear more than once */
		out->key = value.p, out->key_len = value.n;
	} else if (span_ieq(name, "Sec-WebSocket-Version")) {
		s->version_present = true;
		s->version_ok = value.n == 2 && memcmp(value.p, "13", 2) == 0;
	} else if (span_ieq(name, "Sec-WebSocket-Protocol")) {
		out->mqtt |= list_has(value, "mqtt", true);
	}
	return 0;
}

static int request_line(struct span line, struct ws_handshake *out)
{
	/* "GET SP request-target SP HTTP/1.1" (RFC 7230 §3.1.1); §4.1: GET and at least HTTP/1.1 */
	if (line.n < 14 || memcmp(line.p, "GET ", 4) != 0)
		return ERR_MALFORMED;
	const char *target = line.p + 4, *sp = memchr(target, ' ', line.n - 4);
	if (!sp || sp == target || target[0] != '/')
		return ERR_MALFORMED;
	size_t rest = line.n - (size_t)(sp + 1 - line.p);
	if (rest != 8 || memcmp(sp + 1, "HTTP/1.", 7) != 0 || sp[8] < '1' || sp[8] > '9')
		return ERR_MALFORMED;
	out->path = target, out->path_len = (size_t)(sp - target);
	return 0;
}

int ws_parse_handshake(const uint8_t *buf, size_t len, struct ws_handshake *out)
{
	memset(out, 0, sizeof *out);
	const char *p = (const char *)buf;
	size_t avail = len < WS_HANDSHAKE_MAX ? len : WS_HANDSHAKE_MAX;
	struct seen s = {0};
	size_t pos = 0;
	for (int lineno = 0;; lineno++) {
		const char *lf = pos < avail ? memchr(p + pos, '\n', avail - pos) : NULL;
		if (!lf)
			return len >= WS_HANDSHAKE_MAX ? fail(out, 431, ERR_TOO_LARGE) : fail(out, 400, ERR_AGAIN);
		if (lf == p + pos || lf[-1] != '\r')
			return fail(out, 400, ERR_MALFORMED); /* lines end in CRLF (RFC 7230 §3) */
		const char *cr = lf - 1;
		struct span line = {p + pos, (size_t)(cr - (p + pos))};
		if (memchr(line.p, '\0', line.n) || memchr(line.p, '\r', line.n))
			return fail(out, 400, ERR_MALFORMED);
		pos = (size_t)(cr - p) + 2;
		if (lineno == 0) {
			if (request_line(line, out))
				return fail(out, 400, ERR_MALFORMED);
			continue;
		}
		if (line.n == 0)
			break;
		const char *colon = memchr(line.p, ':', line.n);
		if (!colon || colon == line.p || line.p[0] == ' ' || line.p[0] == '\t')
			return fail(out, 400, ERR_MALFORMED); /* obs-fold and nameless headers refused */
		struct span name = {line.p, (size_t)(colon - line.p)};
		struct span value = trim((struct span){colon + 1, line.n - name.n - 1});
		if (header(out, name, value, &s))
			return fail(out, 400, ERR_PROTOCOL);
	}
	if (s.version_present && !s.version_ok)
		return fail(out, 426, ERR_UNSUPPORTED);
	uint8_t raw[32];
	size_t raw_len = 0;
	if (!s.host || !s.upgrade || !s.connection || !s.version_present || !out->key || out->key_len != 24 ||
	    mbedtls_base64_decode(raw, sizeof raw, &raw_len, (const unsigned char *)out->key, out->key_len) ||
	    raw_len != 16)
		return fail(out, 400, ERR_PROTOCOL); /* §4.2.1 items 1-6 */
	return (int)pos;
}

int ws_accept_key(const char *key, size_t key_len, char out[29])
{
	unsigned char in[64 + sizeof ws_guid], digest[20];
	if (key_len > 64)
		return ERR_INVAL;
	memcpy(in, key, key_len);
	memcpy(in + key_len, ws_guid, sizeof ws_guid - 1);
	if (mbedtls_sha1_ret(in, key_len + sizeof ws_guid - 1, digest))
		return ERR_INVAL;
	size_t olen;
	if (mbedtls_base64_encode((unsigned char *)out, 29, &olen, digest, sizeof digest) || olen != 28)
		return ERR_INVAL;
	return 0;
}

int ws_handshake_reply(const struct ws_handshake *h, char *out, size_t cap)
{
	char accept[29];
	if (!h->key || ws_accept_key(h->key, h->key_len, accept))
		return ERR_INVAL;
	int n = snprintf(out, cap,
			 "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
			 "Sec-WebSocket-Accept: %s\r\n%s\r\n",
			 accept, h->mqtt ? "Sec-WebSocket-Protocol: mqtt\r\n" : "");
	return n < 0 || (size_t)n >= cap ? ERR_TOO_LARGE : n;
}

int ws_error_reply(int status, char *out, size_t cap)
{
	const char *reason = status == 426 ? "Upgrade Required" : status == 431 ? "Request Header Fields Too Large"
			     : status == 404 ? "Not Found" : "Bad Request";
	int n = snprintf(out, cap, "HTTP/1.1 %d %s\r\nConnection: close\r\nContent-Length: 0\r\n%s\r\n", status, reason,
			 status == 426 ? "Sec-WebSocket-Version: 13\r\n" : "");
	return n < 0 || (size_t)n >= cap ? ERR_TOO_LARGE : n;
}

/* ---- frames ---- */

int ws_decode_header(const uint8_t *b, size_t len, uint64_t payload_max, struct ws_frame *f)
{
	if (len < 2)
		return ERR_AGAIN;
	f->fin = (b[0] & 0x80) != 0;
	f->opcode = b[0] & 0x0f;
	f->masked = (b[1] & 0x80) != 0;
	if (b[0] & 0x70)
		return ERR_PROTOCOL; /* §5.2: RSV1-3 must be 0 without a negotiated extension */
	if (!f->masked)
		return ERR_PROTOCOL; /* §5.1: a server must close on an unmasked client frame */
	bool control = f->opcode & 0x8;
	if (f->opcode > WS_OP_BINARY && !(control && f->opcode <= WS_OP_PONG))
		return ERR_PROTOCOL; /* reserved opcodes 3-7, B-F */
	uint64_t n = b[1] & 0x7f;
	size_t pos = 2;
	if (n == 126) {
		if (len < 4)
			return ERR_AGAIN;
		n = (uint64_t)b[2] << 8 | b[3];
		pos = 4;
		if (n < 126)
			return ERR_PROTOCOL; /* §5.2: the minimal number of bytes must be used */
	} else if (n == 127) {
		if (len < 10)
			return ERR_AGAIN;
		if (b[2] & 0x80)
			return ERR_MALFORMED; /* §5.2: the most significant bit must be 0 */
		n = 0;
		for (int i = 2; i < 10; i++)
			n = n << 8 | b[i];
		pos = 10;
		if (n <= 0xffff)
			return ERR_PROTOCOL;
	}
	if (control && (!f->fin || n > WS_CONTROL_MAX))
		return ERR_PROTOCOL; /* §5.5 */
	if (len < pos + 4)
		return ERR_AGAIN;
	memcpy(f->mask, b + pos, 4);
	pos += 4;
	if (n > payload_max)
		return ERR_TOO_LARGE;
	f->payload_len = n;
	f->header_len = pos;
	return (int)pos;
}

void ws_unmask(uint8_t *p, size_t len, const uint8_t mask[4], uint64_t offset)
{
	for (size_t i = 0; i < len; i++)
		p[i] ^= mask[(offset + i) & 3];
}

int ws_encode_header(uint8_t *out, size_t cap, bool fin, uint8_t opcode, uint64_t n)
{
	size_t need = n < 126 ? 2 : n <= 0xffff ? 4 : 10;
	if (cap < need || n >> 63)
		return ERR_TOO_LARGE;
	out[0] = (uint8_t)((fin ? 0x80 : 0) | (opcode & 0x0f));
	if (n < 126) {
		out[1] = (uint8_t)n;
	} else if (n <= 0xffff) {
		out[1] = 126;
		out[2] = (uint8_t)(n >> 8), out[3] = (uint8_t)n;
	} else {
		out[1] = 127;
		for (int i = 0; i < 8; i++)
			out[2 + i] = (uint8_t)(n >> (56 - 8 * i));
	}
	return (int)need;
}

static bool valid_utf8(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		uint8_t c = s[i];
		size_t k = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2 : (c & 0xf8) == 0xf0 ? 3 : 9;
		if (k == 9 || (k > 0 && i + k >= n) || (k == 1 && c < 0xc2))
			return false;
		uint32_t cp = k == 0 ? c : c & (0x3f >> k);
		for (size_t j = 1; j <= k; j++) {
			if ((s[i + j] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + j] & 0x3f);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) || (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

int ws_parse_close(const uint8_t *p, size_t len, uint16_t *code)
{
	if (len == 0) {
		*code = 1005; /* §7.1.5: no status received */
		return 0;
	}
	if (len < 2)
		return ERR_PROTOCOL;
	uint16_t c = (uint16_t)(p[0] << 8 | p[1]);
	/* §7.4: 1004-1006 and 1015 are never sent; 1000-2999 beyond 1011 are reserved; 3000-4999 are free */
	bool ok = (c >= 1000 && c <= 1003) || (c >= 1007 && c <= 1011) || (c >= 3000 && c <= 4999);
	if (!ok || !valid_utf8(p + 2, len - 2))
		return ERR_PROTOCOL;
	*code = c;
	return 0;
}

int ws_reader_frame(struct ws_reader *r, const struct ws_frame *f)
{
	switch (f->opcode) {
	case WS_OP_CLOSE:
	case WS_OP_PING:
	case WS_OP_PONG:
		return 0; /* §5.4: control frames may come between fragments */
	case WS_OP_TEXT:
		return ERR_UNSUPPORTED; /* MQTT 5.0 §6.0: binary frames only */
	case WS_OP_BINARY:
		if (r->in_message)
			return ERR_PROTOCOL;
		r->in_message = !f->fin;
		return 0;
	case WS_OP_CONT:
		if (!r->in_message)
			return ERR_PROTOCOL;
		r->in_message = !f->fin;
		return 0;
	}
	return ERR_PROTOCOL;
}
