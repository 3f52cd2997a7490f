/* The OS seam: everything the rest of Ferry needs from the operating system that is not libevent, SQLite or
 * mbedtls goes through here.  No OS #ifdef appears outside ports/.  ports/linux/ implements it.
 *
 * File syscalls that tests must be able to fail (ENOSPC, EIO, EINTR, short writes) are called through
 * port_sys, a table the tests may overwrite (after SQLite's aSyscall[]). */
#ifndef FERRY_PORT_H
#define FERRY_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* Monotonic clock (never goes back; not wall time). */
uint64_t port_now_ns(void);
static inline uint64_t port_now_us(void) { return port_now_ns() / 1000u; }
static inline uint64_t port_now_ms(void) { return port_now_ns() / 1000000u; }
/* Wall clock, milliseconds since the Unix epoch (timestamps on records). */
int64_t port_wall_ms(void);

/* Cryptographically strong random bytes; 0 or ERR_IO.  Usable as an mbedtls entropy source. */
int port_random(void *buf, size_t len);

/* Name the calling thread (shown by top and gdb); at most 15 characters are kept. */
void port_thread_name(const char *name);

/* Resident set size of this process in bytes (0 when unknown). */
size_t port_rss_bytes(void);
/* Peak resident set size in bytes (0 when unknown). */
size_t port_rss_peak_bytes(void);
/* Bytes this process caused to be written to storage (/proc/self/io write_bytes; 0 when unknown). */
uint64_t port_io_write_bytes(void);

/* CPU features the codecs can use. */
bool port_cpu_has_crc32c(void);

/* Durability: data only (fdatasync) or data and metadata (fsync). */
enum port_sync { PORT_SYNC_DATA, PORT_SYNC_FULL };
int port_sync_fd(int fd, enum port_sync how); /* 0 or ERR_IO (errno kept) */
/* fsync a directory so that a rename or a new file in it is durable. */
int port_sync_dir(const char *path);
/* Durable whole-file replace: write tmp, fsync, rename over path, fsync the directory. */
int port_write_file_atomic(const char *path, const void *data, size_t len);

/* Overridable file syscalls. */
struct port_syscalls {
	ssize_t (*write)(int fd, const void *buf, size_t len);
	ssize_t (*pwrite)(int fd, const void *buf, size_t len, off_t off);
	ssize_t (*pread)(int fd, void *buf, size_t len, off_t off);
	int (*fsync)(int fd);
	int (*fdatasync)(int fd);
	int (*ftruncate)(int fd, off_t len);
	int (*rename)(const char *from, const char *to);
};
extern struct port_syscalls port_sys;
/* Restore the real syscalls (tests call this in teardown). */
void port_syscalls_reset(void);

/* Write all of buf, retrying on EINTR and short writes; 0 or ERR_IO/ERR_NOSPC with errno kept. */
int port_write_all(int fd, const void *buf, size_t len);
int port_pwrite_all(int fd, const void *buf, size_t len, off_t off);

#endif
