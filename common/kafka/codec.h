/* The generic Kafka message codec: one encoder and one decoder that interpret the generated schema tables
 * (kafka_schema_gen.h), for every API and version they describe, including the flexible versions of KIP-482
 * (compact strings/arrays/bytes, unsigned varints, tagged fields).  No I/O, no globals, no allocation:
 * decoded strings and bytes are views into the input, arrays of decoded items come from a caller's bounded
 * arena.  Record batches inside Produce/Fetch stay an opaque bytes view (kafka/batch.h parses them). */
#ifndef FERRY_KAFKA_CODEC_H
#define FERRY_KAFKA_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "kafka/kafka_schema_gen.h"
#include "kafka/schema.h"

/* Caller-owned scratch for decoded arrays; decoders fail with ERR_TOO_LARGE when it runs out.  Reset it (used
 * = 0) when the decoded message is no longer needed. */
struct kafka_arena {
	uint8_t *buf; /* not owned */
	size_t cap;
	size_t used;
};

void kafka_arena_init(struct kafka_arena *a, void *buf, size_t cap);
/* n bytes, 8-aligned and zeroed; NULL when the arena is full. */
void *kafka_arena_alloc(struct kafka_arena *a, size_t n);

/* The API we speak with this key (its advertised range and messages), or NULL. */
const struct kafka_api_desc *kafka_api_find(int16_t api_key);
const struct kafka_message *kafka_message_find(int16_t api_key, enum kafka_msg_kind kind);
/* True when version is in the range we advertise for api_key. */
bool kafka_api_supported(int16_t api_key, int16_t version);
/* KIP-482: whether this version of the message uses the flexible encoding (also for versions past the
 * schema's last one: an ApiVersions request from a newer client is flexible, KIP-511). */
bool kafka_msg_flexible(const struct kafka_message *m, int16_t version);

/* Bytes one element of an array field takes in its C array. */
size_t kafka_field_elem_size(const struct kafka_field *f);

/* Fill msg (a struct of m's root type) with the schema defaults: what a field holds at versions that lack it. */
void kafka_msg_init(const struct kafka_message *m, void *msg);
/* The same for any generated struct, nested ones included: KAFKA_INIT(kafka_fetch_request_fetch_partition, &p). */
void kafka_struct_init(const struct kafka_struct *s, void *obj);
#define KAFKA_INIT(type, ptr) kafka_struct_init(&type##_desc, (struct type *)(ptr))

/* Decode version `version` of m from buf[0..len) into msg.  Returns the bytes consumed, or ERR_MALFORMED
 * (truncated or inconsistent input; the buffer is a whole message), ERR_TOO_LARGE (arena full),
 * ERR_KAFKA_UNSUPPORTED_VERSION (outside what the schema describes). */
int kafka_msg_decode(const struct kafka_message *m, int16_t version, const uint8_t *buf, size_t len, void *msg,
		     struct kafka_arena *arena);

/* The encoded size of msg at version (into *size), or an error as kafka_msg_encode would return it. */
int kafka_msg_size(const struct kafka_message *m, int16_t version, const void *msg, size_t *size);
/* Encode msg at version into buf[0..cap).  Returns bytes written, or ERR_TOO_LARGE (no room, or a string or
 * array over its wire limit), ERR_KAFKA_NULL_FIELD, ERR_KAFKA_UNSUPPORTED_VERSION.  Fields the version lacks
 * are not written; tagged fields are written when they differ from their default (KIP-482). */
int kafka_msg_encode(const struct kafka_message *m, int16_t version, const void *msg, uint8_t *buf, size_t cap);

/* Zero-copy encoding (a Fetch answer whose records go out by sendfile or from a segment buffer): as
 * kafka_msg_encode, but the bytes of every non-empty records field are not copied; each becomes a segment
 * {at, p, len}: its bytes belong at offset `at` of buf's content, in order.  Returns the bytes written to buf
 * (records excluded); ERR_FULL when more than seg_max records fields are non-empty. */
struct kafka_segment {
	size_t at;
	const uint8_t *p; /* the caller's records bytes, not owned */
	size_t len;
};
int kafka_msg_encode_split(const struct kafka_message *m, int16_t version, const void *msg, uint8_t *buf, size_t cap,
			   struct kafka_segment *segs, size_t seg_max, size_t *seg_count);

#endif
