/* CRC32C: standard vectors (RFC 3720 B.4, "123456789"), hardware and table agree at every length and
 * alignment, and incremental use equals one-shot. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "base/crc32c.h"

static void test_vectors(void **state)
{
	(void)state;
	uint8_t buf[32];
	assert_int_equal(crc32c(0, "123456789", 9), 0xE3069283u);
	assert_int_equal(crc32c_sw(0, "123456789", 9), 0xE3069283u);
	memset(buf, 0, sizeof buf);
	assert_int_equal(crc32c(0, buf, 32), 0x8A9136AAu);
	memset(buf, 0xff, sizeof buf);
	assert_int_equal(crc32c(0, buf, 32), 0x62A8AB43u);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)i;
	assert_int_equal(crc32c(0, buf, 32), 0x46DD794Eu);
	for (int i = 0; i < 32; i++)
		buf[i] = (uint8_t)(31 - i);
	assert_int_equal(crc32c(0, buf, 32), 0x113FDB5Cu);
	assert_int_equal(crc32c(0, "", 0), 0);
}

static void test_hw_matches_table(void **state)
{
	(void)state;
	uint8_t buf[300];
	for (size_t i = 0; i < sizeof buf; i++)
		buf[i] = (uint8_t)(i * 131 + 7);
	for (size_t off = 0; off < 8; off++)
		for (size_t len = 0; len + off <= sizeof buf; len += 7)
			assert_int_equal(crc32c(0, buf + off, len), crc32c_sw(0, buf + off, len));
	uint32_t c = crc32c(0, buf, 100);
	c = crc32c(c, buf + 100, 200);
	assert_int_equal(c, crc32c(0, buf, 300));
	print_message("crc32c implementation: %s\n", crc32c_impl());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_vectors),
		cmocka_unit_test(test_hw_matches_table),
	};
	return cmocka_run_group_tests_name("base/crc32c", tests, NULL, NULL);
}
