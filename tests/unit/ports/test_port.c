/* ports/port.h, the non-file half: clocks, random bytes (also as an mbedtls entropy source), thread names,
 * RSS and memory information, and the CPU probe.  Faults are injected through port_sys where the seam has
 * one (getrandom).  Runs natively and under qemu-user (make test-cross). */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>
#include <mbedtls/entropy.h>

#include "base/err.h"
#include "port.h"

static int teardown(void **state)
{
	(void)state;
	port_syscalls_reset();
	return 0;
}

static void test_monotonic(void **state)
{
	(void)state;
	uint64_t a = port_now_ns();
	struct timespec nap = {0, 20 * 1000 * 1000};
	nanosleep(&nap, NULL);
	uint64_t b = port_now_ns();
	assert_true(b - a >= 20u * 1000 * 1000);
	assert_true(b - a < 5ull * 1000 * 1000 * 1000); /* sleeping 20 ms did not take 5 s */
	uint64_t prev = port_now_ns();
	for (int i = 0; i < 10000; i++) {
		uint64_t now = port_now_ns();
		assert_true(now >= prev);
		prev = now;
	}
	assert_true(port_now_ms() >= b / 1000000u);
	assert_true(port_now_us() >= b / 1000u);
}

static void test_wall(void **state)
{
	(void)state;
	int64_t ms = port_wall_ms();
	int64_t s = (int64_t)time(NULL);
	assert_true(ms / 1000 >= s - 1 && ms / 1000 <= s + 1);
	assert_true(ms > INT64_C(1577836800000)); /* after 2020-01-01 */
}

static void test_random(void **state)
{
	(void)state;
	uint8_t a[64], b[64], zero[64] = {0};
	memset(a, 0, sizeof a);
	memset(b, 0, sizeof b);
	assert_int_equal(port_random(a, sizeof a), 0);
	assert_int_equal(port_random(b, sizeof b), 0);
	assert_memory_not_equal(a, zero, sizeof a);
	assert_memory_not_equal(a, b, sizeof a);
	assert_int_equal(port_random(a, 0), 0);
	/* More than one getrandom() call can return at once (256 bytes are guaranteed, not more). */
	static uint8_t big[1 << 20];
	assert_int_equal(port_random(big, sizeof big), 0);
	size_t zeros = 0;
	for (size_t i = 0; i < sizeof big; i++)
		zeros += big[i] == 0;
	assert_true(zeros > 3000 && zeros < 5200); /* ~4096 expected for uniform bytes */
}

static int getrandom_calls;
static ssize_t getrandom_eintr_short(void *buf, size_t len, unsigned int flags)
{
	(void)flags;
	getrandom_calls++;
	if (getrandom_calls % 2) {
		errno = EINTR;
		return -1;
	}
	size_t n = len < 7 ? len : 7;
	memset(buf, 0xA5, n);
	return (ssize_t)n;
}
static ssize_t getrandom_enosys(void *buf, size_t len, unsigned int flags)
{
	(void)buf, (void)len, (void)flags;
	getrandom_calls++;
	errno = ENOSYS;
	return -1;
}
static ssize_t getrandom_zero(void *buf, size_t len, unsigned int flags)
{
	(void)buf, (void)len, (void)flags;
	getrandom_calls++;
	return 0;
}

static void test_random_faults(void **state)
{
	(void)state;
	uint8_t buf[50], want[50];
	memset(buf, 0, sizeof buf);
	memset(want, 0xA5, sizeof want);
	getrandom_calls = 0;
	port_sys.getrandom = getrandom_eintr_short;
	assert_int_equal(port_random(buf, sizeof buf), 0);
	assert_memory_equal(buf, want, sizeof buf);
	assert_int_equal(getrandom_calls, 2 * 8); /* 8 short reads of <= 7 bytes, each after an EINTR */

	port_sys.getrandom = getrandom_enosys;
	assert_int_equal(port_random(buf, sizeof buf), ERR_IO);
	assert_int_equal(errno, ENOSYS);
	getrandom_calls = 0;
	port_sys.getrandom = getrandom_zero;
	assert_int_equal(port_random(buf, sizeof buf), ERR_IO);
	assert_int_equal(getrandom_calls, 1);
}

static int counting_calls;
static ssize_t getrandom_counting(void *buf, size_t len, unsigned int flags)
{
	counting_calls++;
	port_syscalls_reset();
	ssize_t n = port_sys.getrandom(buf, len, flags);
	port_sys.getrandom = getrandom_counting;
	return n;
}

/* The entropy callback really feeds mbedtls, and its failure fails mbedtls_entropy_func. */
static void test_entropy_source(void **state)
{
	(void)state;
	unsigned char out[32], direct[48];
	size_t got = 99;
	assert_int_equal(port_entropy_poll(NULL, direct, sizeof direct, &got), 0);
	assert_int_equal(got, sizeof direct);

	mbedtls_entropy_context ent;
	mbedtls_entropy_init(&ent);
	assert_int_equal(mbedtls_entropy_add_source(&ent, port_entropy_poll, NULL, 32, MBEDTLS_ENTROPY_SOURCE_STRONG),
			 0);
	counting_calls = 0;
	port_sys.getrandom = getrandom_counting;
	assert_int_equal(mbedtls_entropy_func(&ent, out, sizeof out), 0);
	assert_true(counting_calls > 0);
	port_sys.getrandom = getrandom_enosys;
	assert_int_not_equal(mbedtls_entropy_func(&ent, out, sizeof out), 0);
	mbedtls_entropy_free(&ent);

	got = 99;
	assert_int_equal(port_entropy_poll(NULL, direct, sizeof direct, &got), ERR_IO);
	assert_int_equal(got, 0);
}

static void *name_thread(void *arg)
{
	char *got = arg;
	port_thread_name("ferry-uplink-worker-1");
	if (port_thread_name_get(got, 32))
		got[0] = '?';
	return NULL;
}

static void test_thread_name(void **state)
{
	(void)state;
	char got[32] = "", mine[32] = "", tiny[4];
	pthread_t t;
	assert_int_equal(port_thread_name_get(mine, sizeof mine), 0);
	assert_int_equal(pthread_create(&t, NULL, name_thread, got), 0);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_string_equal(got, "ferry-uplink-wo"); /* cut to PORT_THREAD_NAME_MAX */
	/* Naming another thread left ours alone. */
	char again[32];
	assert_int_equal(port_thread_name_get(again, sizeof again), 0);
	assert_string_equal(again, mine);
	port_thread_name("ferry-test");
	assert_int_equal(port_thread_name_get(again, sizeof again), 0);
	assert_string_equal(again, "ferry-test");
	assert_int_equal(port_thread_name_get(tiny, sizeof tiny), 0);
	assert_string_equal(tiny, "fer");
	assert_int_equal(port_thread_name_get(tiny, 0), ERR_INVAL);
	port_thread_name(mine);
}

static void test_rss(void **state)
{
	(void)state;
	size_t before = port_rss_bytes();
	assert_true(before > 64 * 1024);
	size_t len = 16u << 20;
	volatile uint8_t *p = malloc(len);
	assert_non_null(p);
	for (size_t i = 0; i < len; i += 4096)
		p[i] = (uint8_t)i;
	size_t after = port_rss_bytes();
	assert_true(after >= before + len * 3 / 4);
	assert_true(port_rss_peak_bytes() >= after);
	free((void *)p);
}

static void test_mem_info(void **state)
{
	(void)state;
	struct port_mem_info mi;
	memset(&mi, 0xff, sizeof mi);
	assert_int_equal(port_mem_info(&mi), 0);
	assert_true(mi.total_bytes >= (16u << 20));
	assert_true(mi.available_bytes > 0);
	assert_true(mi.available_bytes <= mi.total_bytes);
	assert_true(port_rss_bytes() < mi.total_bytes);
	/* A limit is either absent or a real figure (not the "unlimited" sentinel of cgroup v1). */
	assert_true(mi.limit_bytes == 0 || mi.limit_bytes < (UINT64_C(1) << 62));
}

static void test_cpu(void **state)
{
	(void)state;
	/* Only that it answers the same twice; which CPUs have CRC32C is the hardware's business. */
	assert_int_equal(port_cpu_has_crc32c(), port_cpu_has_crc32c());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_monotonic),
		cmocka_unit_test(test_wall),
		cmocka_unit_test(test_random),
		cmocka_unit_test_teardown(test_random_faults, teardown),
		cmocka_unit_test_teardown(test_entropy_source, teardown),
		cmocka_unit_test(test_thread_name),
		cmocka_unit_test(test_rss),
		cmocka_unit_test(test_mem_info),
		cmocka_unit_test(test_cpu),
	};
	return cmocka_run_group_tests_name("ports/port", tests, NULL, NULL);
}
