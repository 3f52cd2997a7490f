/* Bounded reader/writer: integers, varints (MQTT VBI, Kafka zigzag), sticky errors, no over-reads. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "base/rw.h"

static void test_be_integers(void **state)
{
	(void)state;
	uint8_t buf[15];
	struct wbuf w;
	wbuf_init(&w, buf, sizeof buf);
	wbuf_u8(&w, 0xab);
	wbuf_u16(&w, 0x1234);
	wbuf_u32(&w, 0xdeadbeef);
	wbuf_u64(&w, 0x0102030405060708ull);
	assert_int_equal(w.err, 0);
	assert_int_equal(w.len, 15);
	assert_int_equal(buf[1], 0x12);
	assert_int_equal(buf[3], 0xde);

	struct rbuf r;
	rbuf_init(&r, buf, w.len);
	assert_int_equal(rbuf_u8(&r), 0xab);
	assert_int_equal(rbuf_u16(&r), 0x1234);
	assert_int_equal(rbuf_u32(&r), 0xdeadbeef);
	assert_true(rbuf_u64(&r) == 0x0102030405060708ull);
	assert_int_equal(rbuf_left(&r), 0);
	assert_int_equal(r.err, 0);
	/* reading past the end sets AGAIN and sticks */
	assert_int_equal(rbuf_u8(&r), 0);
	assert_int_equal(r.err, ERR_AGAIN);
	r.pos = 0;
	assert_int_equal(rbuf_u8(&r), 0);
	assert_int_equal(r.err, ERR_AGAIN);
}

static void test_writer_overflow(void **state)
{
	(void)state;
	uint8_t buf[3] = {0};
	struct wbuf w;
	wbuf_init(&w, buf, sizeof buf);
	wbuf_u16(&w, 0xffff);
	wbuf_u16(&w, 0xffff); /* does not fit: nothing written */
	assert_int_equal(w.err, ERR_TOO_LARGE);
	assert_int_equal(w.len, 2);
	assert_int_equal(buf[2], 0);
	wbuf_u8(&w, 1); /* error is sticky */
	assert_int_equal(w.len, 2);
}

static void test_vbi(void **state)
{
	(void)state;
	/* MQTT 5.0 §1.5.5 table 1-1 boundaries */
	static const struct { uint32_t v; uint8_t n; uint8_t b[4]; } cases[] = {
		{0, 1, {0x00}},
		{127, 1, {0x7f}},
		{128, 2, {0x80, 0x01}},
		{16383, 2, {0xff, 0x7f}},
		{16384, 3, {0x80, 0x80, 0x01}},
		{2097151, 3, {0xff, 0xff, 0x7f}},
		{2097152, 4, {0x80, 0x80, 0x80, 0x01}},
		{268435455, 4, {0xff, 0xff, 0xff, 0x7f}},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		uint8_t buf[4];
		struct wbuf w;
		wbuf_init(&w, buf, sizeof buf);
		wbuf_vbi(&w, cases[i].v);
		assert_int_equal(w.len, cases[i].n);
		assert_int_equal(vbi_size(cases[i].v), cases[i].n);
		assert_memory_equal(buf, cases[i].b, cases[i].n);
		struct rbuf r;
		rbuf_init(&r, buf, w.len);
		assert_int_equal(rbuf_vbi(&r), cases[i].v);
		assert_int_equal(r.err, 0);
		/* every truncation is AGAIN, never a wrong value */
		for (size_t cut = 0; cut < cases[i].n; cut++) {
			rbuf_init(&r, buf, cut);
			rbuf_vbi(&r);
			assert_int_equal(r.err, ERR_AGAIN);
		}
	}
}

static void test_vbi_malformed(void **state)
{
	(void)state;
	static const uint8_t five[] = {0x80, 0x80, 0x80, 0x80, 0x01};
	static const uint8_t nonminimal[] = {0x80, 0x00};
	struct rbuf r;
	rbuf_init(&r, five, sizeof five);
	rbuf_vbi(&r);
	assert_int_equal(r.err, ERR_MALFORMED);
	rbuf_init(&r, nonminimal, sizeof nonminimal);
	rbuf_vbi(&r);
	assert_int_equal(r.err, ERR_MALFORMED);
}

static void test_kafka_varints(void **state)
{
	(void)state;
	static const int64_t longs[] = {0, -1, 1, 63, -64, 64, INT32_MAX, INT32_MIN, INT64_MAX, INT64_MIN};
	for (size_t i = 0; i < sizeof longs / sizeof longs[0]; i++) {
		uint8_t buf[10];
		struct wbuf w;
		wbuf_init(&w, buf, sizeof buf);
		wbuf_varlong(&w, longs[i]);
		assert_int_equal(w.len, varlong_size(longs[i]));
		struct rbuf r;
		rbuf_init(&r, buf, w.len);
		assert_true(rbuf_varlong(&r) == longs[i]);
		assert_int_equal(r.err, 0);
	}
	/* zigzag: -1 -> 1, 1 -> 2 (Kafka protocol guide) */
	uint8_t buf[5];
	struct wbuf w;
	wbuf_init(&w, buf, sizeof buf);
	wbuf_varint(&w, -1);
	wbuf_varint(&w, 1);
	assert_int_equal(buf[0], 1);
	assert_int_equal(buf[1], 2);
	wbuf_init(&w, buf, sizeof buf);
	wbuf_varint(&w, INT32_MIN);
	assert_int_equal(w.len, 5);
	struct rbuf r;
	rbuf_init(&r, buf, w.len);
	assert_int_equal(rbuf_varint(&r), INT32_MIN);
	/* a 32-bit varint whose fifth byte carries more than 4 bits is malformed */
	static const uint8_t over[] = {0xff, 0xff, 0xff, 0xff, 0x1f};
	rbuf_init(&r, over, sizeof over);
	rbuf_uvarint(&r);
	assert_int_equal(r.err, ERR_MALFORMED);
	static const uint8_t eleven[] = {0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01};
	rbuf_init(&r, eleven, sizeof eleven);
	rbuf_uvarlong(&r);
	assert_int_equal(r.err, ERR_MALFORMED);
}

static void test_view_bounds(void **state)
{
	(void)state;
	static const uint8_t data[] = {1, 2, 3};
	struct rbuf r;
	rbuf_init(&r, data, sizeof data);
	assert_null(rbuf_view(&r, 4));
	assert_int_equal(r.err, ERR_AGAIN);
	rbuf_init(&r, data, sizeof data);
	const uint8_t *v = rbuf_view(&r, 2);
	assert_ptr_equal(v, data);
	assert_int_equal(rbuf_left(&r), 1);
	assert_null(rbuf_view(&r, SIZE_MAX)); /* no wrap-around */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_be_integers), cmocka_unit_test(test_writer_overflow),
		cmocka_unit_test(test_vbi),         cmocka_unit_test(test_vbi_malformed),
		cmocka_unit_test(test_kafka_varints), cmocka_unit_test(test_view_bounds),
	};
	return cmocka_run_group_tests_name("base/rw", tests, NULL, NULL);
}
