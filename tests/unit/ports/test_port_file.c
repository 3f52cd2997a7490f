/* ports/port.h, the file half: port_write_all/pwrite_all/pread_all, port_sync_fd/dir and the atomic file
 * replace, with faults injected through port_sys: EINTR is retried, short writes are completed, ENOSPC and
 * EDQUOT become ERR_NOSPC, EIO stays ERR_IO, and a replace that fails before its rename leaves the old file
 * intact and no temporary file behind.  Files live in a fresh directory under $TMPDIR (or /tmp). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "base/err.h"
#include "port.h"

static char dir[PATH_MAX];
static char file[PATH_MAX + 16];

/* Fault plan shared by the fakes: fail the calls numbered [fail_from, fail_to) with fail_errno; cut every
 * successful transfer to at most max_chunk bytes (0 = no limit). */
static struct {
	int calls, fail_from, fail_to, fail_errno;
	size_t max_chunk;
	int fsyncs, fdatasyncs, renames;
} plan;

static void plan_reset(void) { memset(&plan, 0, sizeof plan); }
static void plan_fail(int from, int to, int err)
{
	plan.fail_from = from;
	plan.fail_to = to;
	plan.fail_errno = err;
}
static bool plan_fails(void)
{
	int n = plan.calls++;
	if (n >= plan.fail_from && n < plan.fail_to) {
		errno = plan.fail_errno;
		return true;
	}
	return false;
}
static size_t chunk(size_t len) { return plan.max_chunk && len > plan.max_chunk ? plan.max_chunk : len; }

static ssize_t fake_write(int fd, const void *b, size_t n) { return plan_fails() ? -1 : write(fd, b, chunk(n)); }
static ssize_t fake_pwrite(int fd, const void *b, size_t n, off_t o)
{
	return plan_fails() ? -1 : pwrite(fd, b, chunk(n), o);
}
static ssize_t fake_pread(int fd, void *b, size_t n, off_t o) { return plan_fails() ? -1 : pread(fd, b, chunk(n), o); }
static ssize_t write_zero(int fd, const void *b, size_t n)
{
	(void)fd, (void)b, (void)n;
	plan.calls++;
	return 0;
}
static int fake_fsync(int fd)
{
	plan.fsyncs++;
	return plan_fails() ? -1 : fsync(fd);
}
static int fake_fdatasync(int fd)
{
	plan.fdatasyncs++;
	return plan_fails() ? -1 : fdatasync(fd);
}
static int fake_rename(const char *a, const char *b)
{
	plan.renames++;
	return plan_fails() ? -1 : rename(a, b);
}
static int fake_open(const char *p, int flags, mode_t mode) { return plan_fails() ? -1 : open(p, flags, mode); }

static int setup(void **state)
{
	(void)state;
	const char *t = getenv("TMPDIR");
	snprintf(dir, sizeof dir, "%s/ferry-port-XXXXXX", t && *t ? t : "/tmp");
	if (!mkdtemp(dir))
		return -1;
	snprintf(file, sizeof file, "%s/f", dir);
	plan_reset();
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	port_syscalls_reset();
	char p[PATH_MAX + 32];
	snprintf(p, sizeof p, "%s/f", dir);
	unlink(p);
	snprintf(p, sizeof p, "%s/f.tmp", dir);
	unlink(p);
	rmdir(dir);
	return 0;
}

/* The whole content of path into buf; its length, or -1. */
static ssize_t slurp(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, len);
	close(fd);
	return n;
}

static bool exists(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0;
}

static int open_file(void)
{
	int fd = open(file, O_RDWR | O_CREAT | O_TRUNC, 0600);
	assert_true(fd >= 0);
	return fd;
}

static void test_write_all_eintr_and_short(void **state)
{
	(void)state;
	char data[1000], got[2000];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (char)(i * 7);
	int fd = open_file();
	port_sys.write = fake_write;
	plan_fail(0, 3, EINTR); /* three EINTRs, then 13-byte writes */
	plan.max_chunk = 13;
	assert_int_equal(port_write_all(fd, data, sizeof data), 0);
	assert_int_equal(plan.calls, 3 + (int)((sizeof data + 12) / 13));
	close(fd);
	assert_int_equal(slurp(file, got, sizeof got), sizeof data);
	assert_memory_equal(got, data, sizeof data);
}

static void test_write_all_errors(void **state)
{
	(void)state;
	char data[100] = "x";
	int fd = open_file();
	port_sys.write = fake_write;
	const struct {
		int err, want;
	} cases[] = {{ENOSPC, ERR_NOSPC}, {EDQUOT, ERR_NOSPC}, {EIO, ERR_IO}, {EBADF, ERR_IO}};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		plan_reset();
		plan_fail(1, 100, cases[i].err); /* first chunk lands, then the error */
		plan.max_chunk = 10;
		assert_int_equal(port_write_all(fd, data, sizeof data), cases[i].want);
		assert_int_equal(errno, cases[i].err);
		assert_int_equal(plan.calls, 2); /* no retry after a real error */
	}
	plan_reset();
	port_sys.write = write_zero;
	assert_int_equal(port_write_all(fd, data, sizeof data), ERR_IO);
	assert_int_equal(plan.calls, 1);
	assert_int_equal(port_write_all(fd, data, 0), 0);
	close(fd);
}

static void test_pwrite_pread(void **state)
{
	(void)state;
	char data[300], got[300];
	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (char)(255 - i);
	int fd = open_file();
	port_sys.pwrite = fake_pwrite;
	port_sys.pread = fake_pread;
	plan_fail(2, 4, EINTR);
	plan.max_chunk = 17;
	assert_int_equal(port_pwrite_all(fd, data, sizeof data, 4096), 0);
	assert_int_equal(lseek(fd, 0, SEEK_END), 4096 + (off_t)sizeof data);

	plan_reset();
	plan_fail(0, 2, EINTR);
	plan.max_chunk = 5;
	size_t got_len = 0;
	assert_int_equal(port_pread_all(fd, got, sizeof got, 4096, &got_len), 0);
	assert_int_equal(got_len, sizeof got);
	assert_memory_equal(got, data, sizeof data);
	/* Reading past the end: ERR_AGAIN with what was there. */
	plan_reset();
	assert_int_equal(port_pread_all(fd, got, sizeof got, 4096 + 200, &got_len), ERR_AGAIN);
	assert_int_equal(got_len, 100);
	assert_memory_equal(got, data + 200, 100);
	plan_reset();
	plan_fail(0, 1, EIO);
	assert_int_equal(port_pread_all(fd, got, sizeof got, 0, NULL), ERR_IO);
	plan_reset();
	plan_fail(0, 1, ENOSPC);
	assert_int_equal(port_pwrite_all(fd, data, sizeof data, 0), ERR_NOSPC);
	close(fd);
}

static void test_sync(void **state)
{
	(void)state;
	int fd = open_file();
	port_sys.fsync = fake_fsync;
	port_sys.fdatasync = fake_fdatasync;
	assert_int_equal(port_sync_fd(fd, PORT_SYNC_DATA), 0);
	assert_int_equal(plan.fdatasyncs, 1);
	assert_int_equal(plan.fsyncs, 0);
	assert_int_equal(port_sync_fd(fd, PORT_SYNC_FULL), 0);
	assert_int_equal(plan.fsyncs, 1);

	plan_reset();
	plan_fail(0, 2, EINTR);
	assert_int_equal(port_sync_fd(fd, PORT_SYNC_FULL), 0);
	assert_int_equal(plan.fsyncs, 3);
	plan_reset();
	plan_fail(0, 1, EIO);
	assert_int_equal(port_sync_fd(fd, PORT_SYNC_DATA), ERR_IO);
	assert_int_equal(errno, EIO);
	assert_int_equal(plan.fdatasyncs, 1); /* an fsync error is reported, never retried */
	plan_reset();
	plan_fail(0, 1, ENOSPC);
	assert_int_equal(port_sync_fd(fd, PORT_SYNC_FULL), ERR_NOSPC);
	close(fd);

	plan_reset();
	assert_int_equal(port_sync_dir(dir), 0);
	assert_int_equal(plan.fsyncs, 1);
	plan_reset();
	plan_fail(0, 1, EIO);
	assert_int_equal(port_sync_dir(dir), ERR_IO);
	assert_int_equal(errno, EIO);
	char missing[PATH_MAX + 16];
	snprintf(missing, sizeof missing, "%s/nope", dir);
	assert_int_equal(port_sync_dir(missing), ERR_IO);
}

static void test_atomic_replace_ok(void **state)
{
	(void)state;
	char got[64];
	port_sys.fsync = fake_fsync;
	port_sys.rename = fake_rename;
	assert_int_equal(port_write_file_atomic(file, "first", 5), 0);
	assert_int_equal(slurp(file, got, sizeof got), 5);
	assert_memory_equal(got, "first", 5);
	assert_int_equal(plan.fsyncs, 2); /* the file, then the directory */
	assert_int_equal(plan.renames, 1);
	assert_int_equal(port_write_file_atomic(file, "second!", 7), 0);
	assert_int_equal(slurp(file, got, sizeof got), 7);
	assert_memory_equal(got, "second!", 7);
	assert_int_equal(port_write_file_atomic(file, "", 0), 0);
	assert_int_equal(slurp(file, got, sizeof got), 0);
	char tmp[PATH_MAX + 32];
	snprintf(tmp, sizeof tmp, "%s.tmp", file);
	assert_false(exists(tmp));
	struct stat st;
	assert_int_equal(stat(file, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
}

/* Each failure before the rename keeps the old content and removes the temporary file. */
static void test_atomic_replace_faults(void **state)
{
	(void)state;
	char got[64], tmp[PATH_MAX + 32];
	snprintf(tmp, sizeof tmp, "%s.tmp", file);
	assert_int_equal(port_write_file_atomic(file, "old", 3), 0);
	const struct {
		const char *what;
		int err, want;
	} cases[] = {
		{"open", ENOSPC, ERR_NOSPC}, {"open", EACCES, ERR_IO}, {"write", ENOSPC, ERR_NOSPC},
		{"write", EIO, ERR_IO},      {"fsync", EIO, ERR_IO},   {"fsync", ENOSPC, ERR_NOSPC},
		{"rename", EXDEV, ERR_IO},   {"rename", ENOSPC, ERR_NOSPC},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		port_syscalls_reset();
		plan_reset();
		plan_fail(0, 1, cases[i].err);
		if (!strcmp(cases[i].what, "open"))
			port_sys.open = fake_open;
		else if (!strcmp(cases[i].what, "write"))
			port_sys.write = fake_write;
		else if (!strcmp(cases[i].what, "fsync"))
			port_sys.fsync = fake_fsync;
		else
			port_sys.rename = fake_rename;
		int rc = port_write_file_atomic(file, "new content", 11);
		if (rc != cases[i].want || errno != cases[i].err)
			fail_msg("%s %s: rc %s errno %d", cases[i].what, strerror(cases[i].err), err_name(rc), errno);
		assert_int_equal(slurp(file, got, sizeof got), 3);
		assert_memory_equal(got, "old", 3);
		assert_false(exists(tmp));
	}
	/* A short write followed by ENOSPC: the partial temporary file never replaces the old one. */
	port_syscalls_reset();
	plan_reset();
	port_sys.write = fake_write;
	plan.max_chunk = 4;
	plan_fail(1, 100, ENOSPC);
	assert_int_equal(port_write_file_atomic(file, "new content", 11), ERR_NOSPC);
	assert_int_equal(slurp(file, got, sizeof got), 3);
	assert_false(exists(tmp));
	/* The directory fsync fails after the rename: reported, and the new content is in place. */
	port_syscalls_reset();
	plan_reset();
	port_sys.fsync = fake_fsync;
	plan_fail(1, 2, EIO);
	assert_int_equal(port_write_file_atomic(file, "new content", 11), ERR_IO);
	assert_int_equal(slurp(file, got, sizeof got), 11);
	assert_memory_equal(got, "new content", 11);
}

static void test_atomic_replace_paths(void **state)
{
	(void)state;
	char cwd[PATH_MAX], got[16];
	assert_non_null(getcwd(cwd, sizeof cwd));
	assert_int_equal(chdir(dir), 0);
	port_sys.fsync = fake_fsync;
	int rc = port_write_file_atomic("f", "rel", 3); /* no slash: the directory is "." */
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(rc, 0);
	assert_int_equal(plan.fsyncs, 2);
	assert_int_equal(slurp(file, got, sizeof got), 3);

	static char huge[PATH_MAX + 10];
	memset(huge, 'a', sizeof huge - 1);
	assert_int_equal(port_write_file_atomic(huge, "x", 1), ERR_INVAL);
	char nodir[PATH_MAX + 32];
	snprintf(nodir, sizeof nodir, "%s/missing/f", dir);
	assert_int_equal(port_write_file_atomic(nodir, "x", 1), ERR_IO);
	assert_int_equal(errno, ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_write_all_eintr_and_short, setup, teardown),
		cmocka_unit_test_setup_teardown(test_write_all_errors, setup, teardown),
		cmocka_unit_test_setup_teardown(test_pwrite_pread, setup, teardown),
		cmocka_unit_test_setup_teardown(test_sync, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic_replace_ok, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic_replace_faults, setup, teardown),
		cmocka_unit_test_setup_teardown(test_atomic_replace_paths, setup, teardown),
	};
	return cmocka_run_group_tests_name("ports/port_file", tests, NULL, NULL);
}
