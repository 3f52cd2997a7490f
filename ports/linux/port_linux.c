/* ports/port.h for Linux (glibc and musl). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#if defined(__aarch64__)
#include <sys/auxv.h>
#endif

#include "base/err.h"
#include "port.h"

uint64_t port_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t port_wall_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int port_random(void *buf, size_t len)
{
	uint8_t *p = buf;
	while (len) {
		ssize_t n = getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return ERR_IO;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

void port_thread_name(const char *name)
{
	char short_name[16];
	snprintf(short_name, sizeof short_name, "%s", name);
	pthread_setname_np(pthread_self(), short_name);
}

static uint64_t proc_field(const char *path, const char *key)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	char line[256];
	uint64_t v = 0;
	size_t klen = strlen(key);
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, key, klen) == 0) {
			v = strtoull(line + klen, NULL, 10);
			break;
		}
	}
	fclose(f);
	return v;
}

size_t port_rss_bytes(void) { return (size_t)proc_field("/proc/self/status", "VmRSS:") * 1024; }
size_t port_rss_peak_bytes(void) { return (size_t)proc_field("/proc/self/status", "VmHWM:") * 1024; }
uint64_t port_io_write_bytes(void) { return proc_field("/proc/self/io", "write_bytes:"); }

bool port_cpu_has_crc32c(void)
{
#if defined(__x86_64__)
	__builtin_cpu_init();
	return __builtin_cpu_supports("sse4.2");
#elif defined(__aarch64__)
	return (getauxval(AT_HWCAP) & HWCAP_CRC32) != 0;
#else
	return false;
#endif
}

static ssize_t sys_write(int fd, const void *b, size_t n) { return write(fd, b, n); }
static ssize_t sys_pwrite(int fd, const void *b, size_t n, off_t o) { return pwrite(fd, b, n, o); }
static ssize_t sys_pread(int fd, void *b, size_t n, off_t o) { return pread(fd, b, n, o); }
static int sys_fsync(int fd) { return fsync(fd); }
static int sys_fdatasync(int fd) { return fdatasync(fd); }
static int sys_ftruncate(int fd, off_t n) { return ftruncate(fd, n); }
static int sys_rename(const char *a, const char *b) { return rename(a, b); }

static const struct port_syscalls real_syscalls = {
	sys_write, sys_pwrite, sys_pread, sys_fsync, sys_fdatasync, sys_ftruncate, sys_rename,
};
struct port_syscalls port_sys = {
	sys_write, sys_pwrite, sys_pread, sys_fsync, sys_fdatasync, sys_ftruncate, sys_rename,
};

void port_syscalls_reset(void) { port_sys = real_syscalls; }

static int io_err(void) { return errno == ENOSPC || errno == EDQUOT ? ERR_NOSPC : ERR_IO; }

int port_sync_fd(int fd, enum port_sync how)
{
	int rc;
	do
		rc = how == PORT_SYNC_DATA ? port_sys.fdatasync(fd) : port_sys.fsync(fd);
	while (rc < 0 && errno == EINTR);
	return rc < 0 ? ERR_IO : 0;
}

int port_sync_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return ERR_IO;
	int rc = port_sync_fd(fd, PORT_SYNC_FULL);
	close(fd);
	return rc;
}

int port_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = port_sys.write(fd, p, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return io_err();
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int port_pwrite_all(int fd, const void *buf, size_t len, off_t off)
{
	const uint8_t *p = buf;
	while (len) {
		ssize_t n = port_sys.pwrite(fd, p, len, off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return io_err();
		}
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

int port_write_file_atomic(const char *path, const void *data, size_t len)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
		return ERR_INVAL;
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	else
		snprintf(dir, sizeof dir, ".");

	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return io_err();
	int rc = port_write_all(fd, data, len);
	if (!rc)
		rc = port_sync_fd(fd, PORT_SYNC_FULL);
	close(fd);
	if (!rc && port_sys.rename(tmp, path) < 0)
		rc = io_err();
	if (!rc)
		rc = port_sync_dir(dir);
	if (rc)
		unlink(tmp);
	return rc;
}
