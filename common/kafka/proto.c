/* Framing, request/response headers and whole-message helpers over the generic codec (kafka/proto.h).
 * Never trusts a length: the frame size is checked against a ceiling, and a body must end where it says. */
#include <string.h>

#include "base/rw.h"
#include "kafka/proto.h"

int16_t kafka_error_code_from_err(int err)
{
	switch (err) {
	case 0: return KAFKA_EC_NONE;
	case ERR_CORRUPT: return KAFKA_EC_CORRUPT_MESSAGE;
	case ERR_KAFKA_UNSUPPORTED_COMPRESSION: return KAFKA_EC_UNSUPPORTED_COMPRESSION_TYPE;
	case ERR_KAFKA_UNSUPPORTED_VERSION: return KAFKA_EC_UNSUPPORTED_VERSION;
	case ERR_KAFKA_BAD_MAGIC: case ERR_MALFORMED: return KAFKA_EC_CORRUPT_MESSAGE;
	case ERR_KAFKA_INVALID_RECORD: return KAFKA_EC_INVALID_RECORD;
	case ERR_TOO_LARGE: return KAFKA_EC_MESSAGE_TOO_LARGE;
	case ERR_TIMEOUT: return KAFKA_EC_REQUEST_TIMED_OUT;
	default: return KAFKA_EC_UNKNOWN_SERVER_ERROR;
	}
}

int kafka_frame_peek(const uint8_t *buf, size_t len, size_t frame_max, size_t *body_len)
{
	if (len < KAFKA_FRAME_PREFIX)
		return ERR_AGAIN;
	int32_t n = (int32_t)be32_get(buf);
	if (n < 0)
		return ERR_MALFORMED;
	if ((size_t)n > frame_max)
		return ERR_TOO_LARGE;
	if (len - KAFKA_FRAME_PREFIX < (size_t)n)
		return ERR_AGAIN;
	*body_len = (size_t)n;
	return 0;
}

static bool flexible(int16_t api_key, int16_t api_version, enum kafka_msg_kind kind)
{
	const struct kafka_message *m = kafka_message_find(api_key, kind);
	return m && kafka_msg_flexible(m, api_version);
}

int kafka_request_header_version(int16_t api_key, int16_t api_version)
{
	if (api_key == KAFKA_API_CONTROLLED_SHUTDOWN && api_version == 0)
		return 0; /* RequestHeader.json: "Version 0 ... is only used by v0 of ControlledShutdownRequest" */
	return flexible(api_key, api_version, KAFKA_REQUEST) ? 2 : 1;
}

int kafka_response_header_version(int16_t api_key, int16_t api_version)
{
	if (api_key == KAFKA_API_API_VERSIONS)
		return 0; /* ApiVersionsResponse.json: "Tagged fields are only supported in the body" */
	return flexible(api_key, api_version, KAFKA_RESPONSE) ? 1 : 0;
}

static void skip_tagged(struct rbuf *r)
{
	uint32_t n = rbuf_uvarint(r);
	if (n > rbuf_left(r))
		rbuf_fail(r, ERR_MALFORMED);
	for (uint32_t i = 0; i < n && rbuf_ok(r); i++) {
		(void)rbuf_uvarint(r);
		rbuf_skip(r, rbuf_uvarint(r));
	}
}

static int finish(const struct rbuf *r)
{
	if (r->err)
		return r->err == ERR_AGAIN ? ERR_MALFORMED : r->err;
	return (int)r->pos;
}

int kafka_request_header_decode(const uint8_t *buf, size_t len, struct kafka_request_header *h)
{
	struct rbuf r;
	rbuf_init(&r, buf, len > INT32_MAX ? INT32_MAX : len);
	h->api_key = rbuf_i16(&r);
	h->api_version = rbuf_i16(&r);
	h->correlation_id = rbuf_i32(&r);
	h->client_id = (struct kafka_str){ NULL, -1 };
	int version = kafka_request_header_version(h->api_key, h->api_version);
	if (version == 0)
		return finish(&r);
	/* ClientId: int16 length even in header v2 (RequestHeader.json, flexibleVersions "none"). */
	int16_t n = rbuf_i16(&r);
	if (n < -1)
		rbuf_fail(&r, ERR_MALFORMED);
	const uint8_t *p = n > 0 ? rbuf_view(&r, (size_t)n) : (const uint8_t *)"";
	h->client_id.p = n < 0 ? NULL : (const char *)p;
	h->client_id.len = n;
	if (version >= 2)
		skip_tagged(&r);
	return finish(&r);
}

int kafka_response_header_decode(const uint8_t *buf, size_t len, int header_version, int32_t *correlation_id)
{
	struct rbuf r;
	rbuf_init(&r, buf, len > INT32_MAX ? INT32_MAX : len);
	*correlation_id = rbuf_i32(&r);
	if (header_version >= 1)
		skip_tagged(&r);
	return finish(&r);
}

int kafka_response_correlation_id(const uint8_t *buf, size_t len, int32_t *correlation_id)
{
	if (len < 4)
		return ERR_MALFORMED;
	*correlation_id = (int32_t)be32_get(buf);
	return 0;
}

static void request_header_put(struct wbuf *w, const struct kafka_request_header *h)
{
	wbuf_u16(w, (uint16_t)h->api_key);
	wbuf_u16(w, (uint16_t)h->api_version);
	wbuf_u32(w, (uint32_t)h->correlation_id);
	if (kafka_request_header_version(h->api_key, h->api_version) == 0)
		return;
	if (h->client_id.len > INT16_MAX || h->client_id.len < -1) {
		w->err = ERR_TOO_LARGE;
		return;
	}
	wbuf_u16(w, (uint16_t)h->client_id.len);
	if (h->client_id.len > 0)
		wbuf_bytes(w, h->client_id.p, (size_t)h->client_id.len);
	if (kafka_request_header_version(h->api_key, h->api_version) >= 2)
		wbuf_u8(w, 0); /* no tagged fields */
}

static size_t request_header_size(const struct kafka_request_header *h)
{
	if (kafka_request_header_version(h->api_key, h->api_version) == 0)
		return 8;
	size_t n = 10 + (h->client_id.len > 0 ? (size_t)h->client_id.len : 0);
	return n + (kafka_request_header_version(h->api_key, h->api_version) >= 2);
}

/* Write the header, then the body after it, then the size prefix in front. */
static int frame_body(struct wbuf *w, uint8_t *prefix, const struct kafka_message *m, int16_t ver, const void *body)
{
	if (w->err)
		return w->err;
	int n = kafka_msg_encode(m, ver, body, w->p + w->len, w->cap - w->len);
	if (n < 0)
		return n;
	w->len += (size_t)n;
	if (w->len - KAFKA_FRAME_PREFIX > INT32_MAX)
		return ERR_TOO_LARGE;
	be32_put(prefix, (uint32_t)(w->len - KAFKA_FRAME_PREFIX));
	return (int)w->len;
}

int kafka_request_encode(const struct kafka_request_header *h, const void *body, uint8_t *buf, size_t cap)
{
	const struct kafka_message *m = kafka_message_find(h->api_key, KAFKA_REQUEST);
	if (!m)
		return ERR_KAFKA_UNKNOWN_API;
	struct wbuf w;
	wbuf_init(&w, buf, cap);
	uint8_t *prefix = wbuf_reserve(&w, KAFKA_FRAME_PREFIX);
	request_header_put(&w, h);
	return frame_body(&w, prefix, m, h->api_version, body);
}

int kafka_response_encode(int16_t api_key, int16_t api_version, int32_t correlation_id, const void *body,
			  uint8_t *buf, size_t cap)
{
	const struct kafka_message *m = kafka_message_find(api_key, KAFKA_RESPONSE);
	if (!m)
		return ERR_KAFKA_UNKNOWN_API;
	struct wbuf w;
	wbuf_init(&w, buf, cap);
	uint8_t *prefix = wbuf_reserve(&w, KAFKA_FRAME_PREFIX);
	wbuf_u32(&w, (uint32_t)correlation_id);
	if (kafka_response_header_version(api_key, api_version) >= 1)
		wbuf_u8(&w, 0);
	return frame_body(&w, prefix, m, api_version, body);
}

int kafka_response_encode_split(int16_t api_key, int16_t api_version, int32_t correlation_id, const void *body,
				uint8_t *buf, size_t cap, struct kafka_segment *segs, size_t seg_max, size_t *seg_count)
{
	*seg_count = 0;
	const struct kafka_message *m = kafka_message_find(api_key, KAFKA_RESPONSE);
	if (!m)
		return ERR_KAFKA_UNKNOWN_API;
	struct wbuf w;
	wbuf_init(&w, buf, cap);
	uint8_t *prefix = wbuf_reserve(&w, KAFKA_FRAME_PREFIX);
	wbuf_u32(&w, (uint32_t)correlation_id);
	if (kafka_response_header_version(api_key, api_version) >= 1)
		wbuf_u8(&w, 0);
	if (w.err)
		return w.err;
	size_t head = w.len;
	int n = kafka_msg_encode_split(m, api_version, body, buf + head, cap - head, segs, seg_max, seg_count);
	if (n < 0)
		return n;
	size_t total = head + (size_t)n;
	for (size_t i = 0; i < *seg_count; i++) {
		segs[i].at += head;
		total += segs[i].len;
	}
	if (total - KAFKA_FRAME_PREFIX > INT32_MAX)
		return ERR_TOO_LARGE;
	be32_put(prefix, (uint32_t)(total - KAFKA_FRAME_PREFIX));
	return (int)(head + (size_t)n);
}

int kafka_request_size(const struct kafka_request_header *h, const void *body, size_t *size)
{
	const struct kafka_message *m = kafka_message_find(h->api_key, KAFKA_REQUEST);
	if (!m)
		return ERR_KAFKA_UNKNOWN_API;
	int rc = kafka_msg_size(m, h->api_version, body, size);
	*size += KAFKA_FRAME_PREFIX + request_header_size(h);
	return rc;
}

int kafka_response_size(int16_t api_key, int16_t api_version, const void *body, size_t *size)
{
	const struct kafka_message *m = kafka_message_find(api_key, KAFKA_RESPONSE);
	if (!m)
		return ERR_KAFKA_UNKNOWN_API;
	int rc = kafka_msg_size(m, api_version, body, size);
	*size += KAFKA_FRAME_PREFIX + 4 + (kafka_response_header_version(api_key, api_version) >= 1);
	return rc;
}

int kafka_request_decode(const uint8_t *buf, size_t len, struct kafka_request_header *h,
			 union kafka_any_request *req, struct kafka_arena *arena)
{
	int n = kafka_request_header_decode(buf, len, h);
	if (n < 0)
		return n;
	const struct kafka_message *m = kafka_message_find(h->api_key, KAFKA_REQUEST);
	if (!m)
		return ERR_KAFKA_UNKNOWN_API;
	if (!kafka_api_supported(h->api_key, h->api_version))
		return ERR_KAFKA_UNSUPPORTED_VERSION;
	int b = kafka_msg_decode(m, h->api_version, buf + n, len - (size_t)n, req, arena);
	if (b < 0)
		return b;
	return (size_t)n + (size_t)b == len ? 0 : ERR_MALFORMED;
}

int kafka_response_decode(const uint8_t *buf, size_t len, int16_t api_key, int16_t api_version,
			  int32_t *correlation_id, union kafka_any_response *resp, struct kafka_arena *arena)
{
	const struct kafka_message *m = kafka_message_find(api_key, KAFKA_RESPONSE);
	if (!m)
		return ERR_KAFKA_UNKNOWN_API;
	int n = kafka_response_header_decode(buf, len, kafka_response_header_version(api_key, api_version),
					     correlation_id);
	if (n < 0)
		return n;
	/* KIP-511: ErrorCode leads every ApiVersions response version; UNSUPPORTED_VERSION comes as v0.  Some
	 * peers (librdkafka 2.0's mock cluster) answer in another shape: then keep just the error, so the caller
	 * retries at a lower version as a client must anyway. */
	if (api_key == KAFKA_API_API_VERSIONS && len - (size_t)n >= 2 &&
	    (int16_t)(buf[n] << 8 | buf[n + 1]) == KAFKA_EC_UNSUPPORTED_VERSION) {
		int b = kafka_msg_decode(m, 0, buf + n, len - (size_t)n, resp, arena);
		if (b < 0 || (size_t)n + (size_t)b != len) {
			kafka_msg_init(m, resp);
			resp->api_versions.error_code = KAFKA_EC_UNSUPPORTED_VERSION;
		}
		return 0;
	}
	int b = kafka_msg_decode(m, api_version, buf + n, len - (size_t)n, resp, arena);
	if (b < 0)
		return b;
	return (size_t)n + (size_t)b == len ? 0 : ERR_MALFORMED;
}

void kafka_api_versions_fill(struct kafka_api_versions_response *r, struct kafka_api_versions_response_api_version *items)
{
	for (size_t i = 0; i < KAFKA_API_COUNT; i++) {
		items[i].api_key = kafka_api_table[i].api_key;
		items[i].min_version = kafka_api_table[i].min_version;
		items[i].max_version = kafka_api_table[i].max_version;
	}
	r->api_keys.items = items;
	r->api_keys.count = KAFKA_API_COUNT;
}

int kafka_api_versions_reject_encode(int32_t correlation_id, uint8_t *buf, size_t cap)
{
	struct kafka_api_versions_response r;
	struct kafka_api_versions_response_api_version items[KAFKA_API_COUNT];
	kafka_msg_init(&kafka_msg_api_versions_response, &r);
	r.error_code = KAFKA_EC_UNSUPPORTED_VERSION;
	kafka_api_versions_fill(&r, items);
	return kafka_response_encode(KAFKA_API_API_VERSIONS, 0, correlation_id, &r, buf, cap);
}
