/* murmur2 against the Java client's own test vectors (UtilsTest) and librdkafka's. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "kafka/partitioner.h"

static void test_vectors(void **state)
{
	(void)state;
	static const struct { const char *key; int32_t java; } v[] = {
		{"21", -973932308},
		{"foobar", -790332482},
		{"a-little-bit-long-string", -985981536},
		{"a-little-bit-longer-string", -1486304829},
		{"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8", -58897971},
		{"abc", 479470107},
		{"kafka", (int32_t)0xd067cf64u},
	};
	for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
		assert_int_equal((int32_t)kafka_murmur2(v[i].key, strlen(v[i].key)), v[i].java);
	/* toPositive, then modulo */
	int32_t p = kafka_partition_for_key("kafka", 5, 7);
	assert_int_equal(p, (int32_t)((0xd067cf64u & 0x7fffffffu) % 7));
	assert_int_equal(kafka_partition_for_key("abc", 3, 1), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_vectors)};
	return cmocka_run_group_tests_name("kafka/partitioner", tests, NULL, NULL);
}
