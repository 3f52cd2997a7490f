/* The shapes the generated message tables (kafka_schema_gen.c) are made of, and the value types that decoded
 * messages hold.  Nothing here knows a particular API: the schemas are data, interpreted by kafka/codec.c.
 *
 * Decoded strings, bytes and records are (p, len) views into the input buffer (len -1: null); arrays point into
 * the caller's arena (count -1: null).  A message struct is only as alive as both. */
#ifndef FERRY_KAFKA_SCHEMA_H
#define FERRY_KAFKA_SCHEMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct kafka_str {
	const char *p; /* not owned; not NUL-terminated */
	int32_t len;   /* -1: null */
};

struct kafka_bytes {
	const uint8_t *p; /* not owned */
	int32_t len;      /* -1: null */
};

struct kafka_uuid {
	uint8_t b[16];
};

/* The layout every generated array member has (items then count); the codec reaches arrays through it. */
struct kafka_array {
	void *items;
	int32_t count; /* -1: null */
};

enum kafka_type {
	KAFKA_T_BOOL,
	KAFKA_T_INT8,
	KAFKA_T_INT16,
	KAFKA_T_UINT16,
	KAFKA_T_INT32,
	KAFKA_T_INT64,
	KAFKA_T_FLOAT64,
	KAFKA_T_UUID,
	KAFKA_T_STRING,
	KAFKA_T_BYTES,
	KAFKA_T_RECORDS,
	KAFKA_T_STRUCT,
};

#define KAFKA_VER_NEVER_LO 127 /* a version range lo > hi holds no version */

struct kafka_struct;

/* One field of a message or nested struct.  Version ranges are inclusive; hi 127 stands for "and later". */
struct kafka_field {
	const char *name;
	uint32_t offset;     /* in the C struct */
	uint8_t type;        /* enum kafka_type; of the elements when is_array */
	uint8_t is_array;
	int8_t ver_lo, ver_hi;   /* versions that carry the field */
	int8_t null_lo, null_hi; /* versions where it may be null */
	int8_t tag_lo, tag_hi;   /* versions where it is a tagged field (KIP-482) */
	int8_t flex_lo;          /* field-level flexibleVersions override; -1: the message's */
	int32_t tag;
	int64_t def;             /* default: the value for numbers and bools; 1 = null for strings/bytes/arrays */
	const struct kafka_struct *sub; /* element/struct layout for KAFKA_T_STRUCT */
};

struct kafka_struct {
	const char *name;
	uint32_t size;
	uint16_t field_count;
	bool has_tagged; /* any field tagged in any version */
	const struct kafka_field *fields;
};

enum kafka_msg_kind { KAFKA_REQUEST, KAFKA_RESPONSE };

struct kafka_message {
	const char *name;
	int16_t api_key;
	uint8_t kind;        /* enum kafka_msg_kind */
	int8_t valid_lo, valid_hi; /* what the schema describes */
	int8_t flex_lo;      /* first flexible version; 127: never */
	const struct kafka_struct *root;
};

/* One API we speak: the range we advertise and accept, and its two messages. */
struct kafka_api_desc {
	int16_t api_key;
	int16_t min_version, max_version;
	const char *name;
	const struct kafka_message *request;
	const struct kafka_message *response;
};

#endif
