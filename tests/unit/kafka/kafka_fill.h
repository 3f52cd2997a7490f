/* Test helper: fill any generated Kafka message with pseudo-random values for one version, walking the same
 * schema tables the codec uses, and compare two decoded messages field by field.  Header-only (static) so it
 * is not linked into every unit binary. */
#ifndef FERRY_TESTS_KAFKA_FILL_H
#define FERRY_TESTS_KAFKA_FILL_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "kafka/codec.h"

static uint64_t fill_rng(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static const char fill_text[] = "ferry-topic.0123456789_abcdefghijklmnopqrstuvwxyz";

static bool fill_in(int v, int lo, int hi) { return v >= lo && v <= hi; }

static void fill_struct(const struct kafka_struct *s, uint8_t *obj, int ver, uint64_t *rng, struct kafka_arena *a);

static void fill_value(const struct kafka_field *f, uint8_t *at, int ver, uint64_t *rng, struct kafka_arena *a,
		       bool can_null)
{
	uint64_t r = fill_rng(rng);
	switch (f->type) {
	case KAFKA_T_BOOL: { bool b = r & 1; memcpy(at, &b, sizeof b); break; }
	case KAFKA_T_INT8: { int8_t x = (int8_t)r; memcpy(at, &x, 1); break; }
	case KAFKA_T_INT16: case KAFKA_T_UINT16: { uint16_t x = (uint16_t)r; memcpy(at, &x, 2); break; }
	case KAFKA_T_INT32: { uint32_t x = (uint32_t)r; memcpy(at, &x, 4); break; }
	case KAFKA_T_INT64: memcpy(at, &r, 8); break;
	case KAFKA_T_FLOAT64: { double x = (double)(r % 100000) / 8; memcpy(at, &x, sizeof x); break; }
	case KAFKA_T_UUID: for (int i = 0; i < 16; i++) at[i] = (uint8_t)fill_rng(rng); break;
	case KAFKA_T_STRING: case KAFKA_T_BYTES: case KAFKA_T_RECORDS: {
		struct kafka_bytes b = { (const uint8_t *)fill_text + r % 8, (int32_t)((r >> 8) % 20) };
		if (can_null && (r >> 16) % 4 == 0)
			b = (struct kafka_bytes){ NULL, -1 };
		memcpy(at, &b, sizeof b);
		break;
	}
	case KAFKA_T_STRUCT: fill_struct(f->sub, at, ver, rng, a); break;
	}
}

static void fill_struct(const struct kafka_struct *s, uint8_t *obj, int ver, uint64_t *rng, struct kafka_arena *a)
{
	for (size_t i = 0; i < s->field_count; i++) {
		const struct kafka_field *f = &s->fields[i];
		if (!fill_in(ver, f->ver_lo, f->ver_hi))
			continue;
		bool can_null = fill_in(ver, f->null_lo, f->null_hi);
		uint8_t *at = obj + f->offset;
		if (!f->is_array) {
			fill_value(f, at, ver, rng, a, can_null);
			continue;
		}
		struct kafka_array arr = { NULL, (int32_t)(fill_rng(rng) % 3) };
		if (can_null && fill_rng(rng) % 4 == 0)
			arr.count = -1;
		size_t es = kafka_field_elem_size(f);
		if (arr.count > 0) {
			arr.items = kafka_arena_alloc(a, (size_t)arr.count * es);
			for (int32_t k = 0; k < arr.count; k++) {
				uint8_t *el = (uint8_t *)arr.items + (size_t)k * es;
				if (f->type == KAFKA_T_STRUCT)
					kafka_struct_init(f->sub, el);
				fill_value(f, el, ver, rng, a, false);
			}
		}
		memcpy(at, &arr, sizeof arr);
	}
}

static bool fill_equal_struct(const struct kafka_struct *s, const uint8_t *x, const uint8_t *y, int ver);

static bool fill_equal_value(const struct kafka_field *f, const uint8_t *x, const uint8_t *y, int ver)
{
	struct kafka_bytes bx, by;
	switch (f->type) {
	case KAFKA_T_STRING: case KAFKA_T_BYTES: case KAFKA_T_RECORDS:
		memcpy(&bx, x, sizeof bx);
		memcpy(&by, y, sizeof by);
		return bx.len == by.len && (bx.len <= 0 || memcmp(bx.p, by.p, (size_t)bx.len) == 0);
	case KAFKA_T_STRUCT: return fill_equal_struct(f->sub, x, y, ver);
	default: return memcmp(x, y, kafka_field_elem_size(f)) == 0;
	}
}

static bool fill_equal_struct(const struct kafka_struct *s, const uint8_t *x, const uint8_t *y, int ver)
{
	for (size_t i = 0; i < s->field_count; i++) {
		const struct kafka_field *f = &s->fields[i];
		const uint8_t *fx = x + f->offset, *fy = y + f->offset;
		if (!f->is_array) {
			if (!fill_equal_value(f, fx, fy, ver))
				return false;
			continue;
		}
		struct kafka_array ax, ay;
		memcpy(&ax, fx, sizeof ax);
		memcpy(&ay, fy, sizeof ay);
		if (ax.count != ay.count)
			return false;
		size_t es = kafka_field_elem_size(f);
		for (int32_t k = 0; k < ax.count; k++)
			if (!fill_equal_value(f, (uint8_t *)ax.items + (size_t)k * es, (uint8_t *)ay.items + (size_t)k * es, ver))
				return false;
	}
	return true;
}
#endif
