/* Kafka framing and message headers, with the quirks real clients rely on, plus the protocol's own error
 * codes.  A frame is an int32 size then that many bytes; a request body starts with a request header, a
 * response body with a response header.  No I/O here: callers hand in bytes they have read.
 *
 * Header versions (RequestHeader.json, ResponseHeader.json; KIP-482, KIP-511):
 *  - request header v0 (no client_id) for ControlledShutdown v0 only, an API we do not serve but whose header we
 *    still read right;
 *  - request header v1 (api_key, api_version, correlation_id, client_id) for non-flexible API versions, v2
 *    (v1 + tagged fields) for flexible ones; client_id keeps its 2-byte length in v2 so an old broker can
 *    read any ApiVersions request;
 *  - response header v0 (correlation_id) for non-flexible versions, v1 (+ tagged fields) for flexible ones,
 *    except ApiVersions responses, always v0 so a client can read the answer before it knows our versions. */
#ifndef FERRY_KAFKA_PROTO_H
#define FERRY_KAFKA_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "kafka/codec.h"

/* socket.request.max.bytes in Apache Kafka: the default ceiling on a frame. */
#define KAFKA_FRAME_MAX_DEFAULT (100u * 1024u * 1024u)
#define KAFKA_FRAME_PREFIX 4

#define KAFKA_API_CONTROLLED_SHUTDOWN 7 /* not served; named for its v0 header */

/* Error codes on the wire (org.apache.kafka.common.protocol.Errors); only those we send or act on. */
enum kafka_error_code {
	KAFKA_EC_UNKNOWN_SERVER_ERROR = -1,
	KAFKA_EC_NONE = 0,
	KAFKA_EC_OFFSET_OUT_OF_RANGE = 1,
	KAFKA_EC_CORRUPT_MESSAGE = 2,
	KAFKA_EC_UNKNOWN_TOPIC_OR_PARTITION = 3,
	KAFKA_EC_INVALID_FETCH_SIZE = 4,
	KAFKA_EC_LEADER_NOT_AVAILABLE = 5,
	KAFKA_EC_NOT_LEADER_OR_FOLLOWER = 6,
	KAFKA_EC_REQUEST_TIMED_OUT = 7,
	KAFKA_EC_MESSAGE_TOO_LARGE = 10,
	KAFKA_EC_COORDINATOR_LOAD_IN_PROGRESS = 14,
	KAFKA_EC_COORDINATOR_NOT_AVAILABLE = 15,
	KAFKA_EC_NOT_COORDINATOR = 16,
	KAFKA_EC_INVALID_TOPIC_EXCEPTION = 17,
	KAFKA_EC_RECORD_LIST_TOO_LARGE = 18,
	KAFKA_EC_NOT_ENOUGH_REPLICAS = 19,
	KAFKA_EC_INVALID_REQUIRED_ACKS = 21,
	KAFKA_EC_ILLEGAL_GENERATION = 22,
	KAFKA_EC_UNKNOWN_MEMBER_ID = 25,
	KAFKA_EC_REBALANCE_IN_PROGRESS = 27,
	KAFKA_EC_TOPIC_AUTHORIZATION_FAILED = 29,
	KAFKA_EC_UNSUPPORTED_SASL_MECHANISM = 33,
	KAFKA_EC_ILLEGAL_SASL_STATE = 34,
	KAFKA_EC_UNSUPPORTED_VERSION = 35,
	KAFKA_EC_TOPIC_ALREADY_EXISTS = 36,
	KAFKA_EC_INVALID_REQUEST = 42,
	KAFKA_EC_OUT_OF_ORDER_SEQUENCE_NUMBER = 45,
	KAFKA_EC_DUPLICATE_SEQUENCE_NUMBER = 46,
	KAFKA_EC_INVALID_PRODUCER_EPOCH = 47,
	KAFKA_EC_SASL_AUTHENTICATION_FAILED = 58,
	KAFKA_EC_UNKNOWN_PRODUCER_ID = 59,
	KAFKA_EC_FENCED_LEADER_EPOCH = 74,
	KAFKA_EC_UNKNOWN_LEADER_EPOCH = 75,
	KAFKA_EC_UNSUPPORTED_COMPRESSION_TYPE = 76,
	KAFKA_EC_MEMBER_ID_REQUIRED = 79,
	KAFKA_EC_INVALID_RECORD = 87,
};

/* The wire error code for one of our ERR_* results (what a handler answers when decoding a batch fails). */
int16_t kafka_error_code_from_err(int err);

struct kafka_request_header {
	int16_t api_key;
	int16_t api_version;
	int32_t correlation_id;
	struct kafka_str client_id; /* view into the input; len -1: null */
};

/* When buf holds a whole frame: 0 and the size of its body (the bytes after the 4-byte prefix).  ERR_AGAIN
 * when more bytes are needed, ERR_TOO_LARGE over frame_max (close the connection), ERR_MALFORMED when negative. */
int kafka_frame_peek(const uint8_t *buf, size_t len, size_t frame_max, size_t *body_len);

/* Header versions for an API version (see above).  Other unknown APIs get request header v1. */
int kafka_request_header_version(int16_t api_key, int16_t api_version);
int kafka_response_header_version(int16_t api_key, int16_t api_version);

/* Decode the request header at the start of a frame body; returns bytes consumed.  Skips tagged fields. */
int kafka_request_header_decode(const uint8_t *buf, size_t len, struct kafka_request_header *h);
/* Decode a response header of the given version; returns bytes consumed. */
int kafka_response_header_decode(const uint8_t *buf, size_t len, int header_version, int32_t *correlation_id);
/* The correlation id that starts every response body (to find the request it answers); ERR_MALFORMED if short. */
int kafka_response_correlation_id(const uint8_t *buf, size_t len, int32_t *correlation_id);

/* Encode a whole request frame (size prefix, header, body at h->api_version) into buf; returns its length.
 * body points at the request struct of h->api_key. */
int kafka_request_encode(const struct kafka_request_header *h, const void *body, uint8_t *buf, size_t cap);
/* Encode a whole response frame; returns its length. */
int kafka_response_encode(int16_t api_key, int16_t api_version, int32_t correlation_id, const void *body,
			  uint8_t *buf, size_t cap);
/* A response frame with its records fields left out as segments (kafka_msg_encode_split), for zero-copy
 * Fetch: buf gets the size prefix (counting the records), the header and the rest of the body; segment
 * offsets are relative to buf.  Send buf[0..seg0.at), seg0, buf[seg0.at..seg1.at), seg1, ..., then the rest
 * of buf.  Returns the bytes in buf. */
int kafka_response_encode_split(int16_t api_key, int16_t api_version, int32_t correlation_id, const void *body,
				uint8_t *buf, size_t cap, struct kafka_segment *segs, size_t seg_max, size_t *seg_count);
/* Size of the frame kafka_request_encode / kafka_response_encode would write. */
int kafka_request_size(const struct kafka_request_header *h, const void *body, size_t *size);
int kafka_response_size(int16_t api_key, int16_t api_version, const void *body, size_t *size);

/* Decode a request frame body (after the prefix): header and body, which must end exactly at len.  Returns 0,
 * or ERR_KAFKA_UNKNOWN_API / ERR_KAFKA_UNSUPPORTED_VERSION with *h filled (answer the latter for ApiVersions
 * with kafka_api_versions_reject_encode, KIP-511; close the connection otherwise), or a decode error. */
int kafka_request_decode(const uint8_t *buf, size_t len, struct kafka_request_header *h,
			 union kafka_any_request *req, struct kafka_arena *arena);
/* Decode a response frame body to the request (api_key, api_version) it answers.  An ApiVersions response
 * carrying UNSUPPORTED_VERSION is read as v0, which is how brokers send it (KIP-511); when it is not v0-shaped
 * only its error code is kept (api_keys empty): retry with a lower version. */
int kafka_response_decode(const uint8_t *buf, size_t len, int16_t api_key, int16_t api_version,
			  int32_t *correlation_id, union kafka_any_response *resp, struct kafka_arena *arena);

/* Fill an ApiVersions response's ApiKeys with our advertised ranges; items has room for KAFKA_API_COUNT. */
void kafka_api_versions_fill(struct kafka_api_versions_response *r, struct kafka_api_versions_response_api_version *items);
/* The KIP-511 answer to an ApiVersions request at a version we don't speak: a v0 response, error 35 and our
 * ranges.  Returns the frame length. */
int kafka_api_versions_reject_encode(int32_t correlation_id, uint8_t *buf, size_t cap);

#endif
