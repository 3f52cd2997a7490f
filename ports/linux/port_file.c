/* ports/port.h for Linux: the overridable syscall table and the durable-write helpers built on it.
 * Every syscall whose failure a caller must survive goes through port_sys, so tests can inject EINTR, short
 * writes, ENOSPC and EIO (SQLite os_unix.c aSyscall[]).  Durable replace follows write-fsync-rename-fsync(dir)
 * (Mosquitto src/persist_write.c); it never leaves a half-written file under the final name. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "base/err.h"
#include "port.h"

static int sys_open(const char *p, int flags, mode_t mode) { return open(p, flags, mode); }
static ssize_t sys_write(int fd, const void *b, size_t n) { return write(fd, b, n); }
static ssize_t sys_pwrite(int fd, const void *b, size_t n, off_t o) { return pwrite(fd, b, n, o); }
static ssize_t sys_pread(int fd, void *b, size_t n, off_t o) { return pread(fd, b, n, o); }
static int sys_fsync(int fd) { return fsync(fd); }
static int sys_fdatasync(int fd) { return fdatasync(fd); }
static int sys_ftruncate(int fd, off_t n) { return ftruncate(fd, n); }
static int sys_rename(const char *a, const char *b) { return rename(a, b); }
static ssize_t sys_getrandom(void *b, size_t n, unsigned int flags) { return getrandom(b, n, flags); }

#define REAL_SYSCALLS                                                                                          \
	{                                                                                                      \
		.open = sys_open, .write = sys_write, .pwrite = sys_pwrite, .pread = sys_pread,                \
		.fsync = sys_fsync, .fdatasync = sys_fdatasync, .ftruncate = sys_ftruncate,                    \
		.rename = sys_rename, .getrandom = sys_getrandom,                                              \
	}
static const struct port_syscalls real_syscalls = REAL_SYSCALLS;
struct port_syscalls port_sys = REAL_SYSCALLS;

void port_syscalls_reset(void) { port_sys = real_syscalls; }

static int io_err(void) { return errno == ENOSPC || errno == EDQUOT ? ERR_NOSPC : ERR_IO; }

int port_sync_fd(int fd, enum port_sync how)
{
	int rc;
	do
		rc = how == PORT_SYNC_DATA ? port_sys.fdatasync(fd) : port_sys.fsync(fd);
	while (rc < 0 && errno == EINTR);
	return rc < 0 ? io_err() : 0;
}

int port_sync_dir(const char *path)
{
	int fd = port_sys.open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
	if (fd < 0)
		return ERR_IO;
	int rc = port_sync_fd(fd, PORT_SYNC_FULL);
	int saved = errno;
	close(fd);
	errno = saved;
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
		if (n == 0) {
			errno = EIO;
			return ERR_IO;
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
		if (n == 0) {
			errno = EIO;
			return ERR_IO;
		}
		p += n;
		off += n;
		len -= (size_t)n;
	}
	return 0;
}

int port_pread_all(int fd, void *buf, size_t len, off_t off, size_t *got_len)
{
	uint8_t *p = buf;
	size_t got = 0;
	int rc = 0;
	while (got < len) {
		ssize_t n = port_sys.pread(fd, p + got, len - got, off + (off_t)got);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rc = ERR_IO;
			break;
		}
		if (n == 0) {
			rc = ERR_AGAIN;
			break;
		}
		got += (size_t)n;
	}
	if (got_len)
		*got_len = got;
	return rc;
}

/* The directory holding path, for the fsync that makes a rename durable. */
static int parent_dir(const char *path, char *dir, size_t dir_len)
{
	const char *slash = strrchr(path, '/');
	if (!slash)
		return snprintf(dir, dir_len, ".") >= (int)dir_len ? ERR_INVAL : 0;
	if (slash == path)
		return snprintf(dir, dir_len, "/") >= (int)dir_len ? ERR_INVAL : 0;
	int n = snprintf(dir, dir_len, "%.*s", (int)(slash - path), path);
	return n < 0 || (size_t)n >= dir_len ? ERR_INVAL : 0;
}

int port_write_file_atomic(const char *path, const void *data, size_t len)
{
	char tmp[PATH_MAX], dir[PATH_MAX];
	if (snprintf(tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp || parent_dir(path, dir, sizeof dir))
		return ERR_INVAL;

	int rc, saved;
	int fd = port_sys.open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return io_err();
	rc = port_write_all(fd, data, len);
	if (!rc)
		rc = port_sync_fd(fd, PORT_SYNC_FULL);
	saved = errno;
	if (close(fd) < 0 && !rc) {
		saved = errno;
		rc = io_err();
	}
	if (rc)
		goto fail;
	if (port_sys.rename(tmp, path) < 0) {
		saved = errno;
		rc = io_err();
		goto fail;
	}
	/* Renamed: path has the new content; a failure here only means the rename may not survive a crash. */
	return port_sync_dir(dir);
fail:
	unlink(tmp);
	errno = saved;
	return rc;
}
