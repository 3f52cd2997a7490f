/* The OS seam: everything the rest of Ferry needs from the operating system that is not libevent, SQLite or
 * mbedtls goes through here.  No OS #ifdef appears outside ports/.  ports/linux/ implements it (glibc and
 * musl, x86_64, aarch64 and 32-bit ARM).
 *
 * File syscalls that tests must be able to fail (ENOSPC, EIO, EINTR, short writes) are called through
 * port_sys, a table the tests may overwrite (after SQLite's aSyscall[]).  Nothing here allocates. */
#ifndef FERRY_PORT_H
#define FERRY_PORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* File offsets are 64-bit everywhere: on 32-bit glibc that takes -D_FILE_OFFSET_BITS=64 (ports/cross.mk sets
 * it for armhf).  Without it readdir()/stat() fail with EOVERFLOW on file systems with 64-bit inode numbers,
 * files stop at 2 GB, and Debian's armhf libevent (built with it) disagrees with us about ev_off_t. */
_Static_assert(sizeof(off_t) == 8, "32-bit build without -D_FILE_OFFSET_BITS=64");

/* Monotonic clock (never goes back; not wall time). */
uint64_t port_now_ns(void);
static inline uint64_t port_now_us(void) { return port_now_ns() / 1000u; }
static inline uint64_t port_now_ms(void) { return port_now_ns() / 1000000u; }
/* Wall clock, milliseconds since the Unix epoch (timestamps on records). */
int64_t port_wall_ms(void);

/* Cryptographically strong random bytes from the kernel; 0 or ERR_IO.  Blocks only until the kernel's pool is
 * first initialised (early boot on a gateway without a hardware RNG). */
int port_random(void *buf, size_t len);
/* The same, shaped as an mbedtls entropy source (mbedtls_entropy_f_source_ptr):
 *     mbedtls_entropy_add_source(&ent, port_entropy_poll, NULL, 32, MBEDTLS_ENTROPY_SOURCE_STRONG);
 * Fills all of out and sets *out_len = len, or returns ERR_IO (mbedtls treats any non-zero as failure). */
int port_entropy_poll(void *data, unsigned char *out, size_t len, size_t *out_len);

/* Name the calling thread (shown by top, ps -T and gdb); names longer than PORT_THREAD_NAME_MAX are cut. */
#define PORT_THREAD_NAME_MAX 15
void port_thread_name(const char *name);
/* The calling thread's name into buf (NUL-terminated, cut to len); 0 or ERR_IO. */
int port_thread_name_get(char *buf, size_t len);

/* Resident set size of this process in bytes (0 when unknown). */
size_t port_rss_bytes(void);
/* Peak resident set size in bytes (0 when unknown). */
size_t port_rss_peak_bytes(void);
/* Bytes this process caused to be written to storage (/proc/self/io write_bytes; 0 when unknown). */
uint64_t port_io_write_bytes(void);

/* Memory of the machine, for sizing caches and buffers at start-up.  Bytes; 0 means unknown. */
struct port_mem_info {
	uint64_t total_bytes;     /* physical memory */
	uint64_t available_bytes; /* what can be allocated without swapping (estimate on old kernels) */
	uint64_t limit_bytes;     /* this process's memory limit (cgroup, systemd MemoryMax=); 0 = none */
};
/* 0, or ERR_IO when nothing could be read (then *out is zeroed). */
int port_mem_info(struct port_mem_info *out);

/* CPU features the codecs can use. */
bool port_cpu_has_crc32c(void);

/* Durability: data only (fdatasync: enough for appends to a preallocated or SQLite-managed file) or data and
 * metadata (fsync: new files, size changes).  After a failed sync the file's unsynced data must be treated as
 * lost: a retry can report success without the data reaching storage (Linux clears the error on report). */
enum port_sync { PORT_SYNC_DATA, PORT_SYNC_FULL };
/* 0, ERR_NOSPC (ENOSPC/EDQUOT) or ERR_IO; errno kept.  EINTR is retried. */
int port_sync_fd(int fd, enum port_sync how);
/* fsync a directory so that a rename or a new file in it is durable; 0, ERR_NOSPC or ERR_IO. */
int port_sync_dir(const char *path);
/* Durable whole-file replace: write path.tmp, fsync it, rename it over path, fsync the directory.  On any
 * failure before the rename, path keeps its old content and path.tmp is removed.  0, ERR_INVAL (path too
 * long), ERR_NOSPC or ERR_IO with errno kept. */
int port_write_file_atomic(const char *path, const void *data, size_t len);

/* Overridable syscalls: the ones whose failures the durability code must handle.  Tests replace members and
 * call port_syscalls_reset() in teardown. */
struct port_syscalls {
	int (*open)(const char *path, int flags, mode_t mode);
	ssize_t (*write)(int fd, const void *buf, size_t len);
	ssize_t (*pwrite)(int fd, const void *buf, size_t len, off_t off);
	ssize_t (*pread)(int fd, void *buf, size_t len, off_t off);
	int (*fsync)(int fd);
	int (*fdatasync)(int fd);
	int (*ftruncate)(int fd, off_t len);
	int (*rename)(const char *from, const char *to);
	ssize_t (*getrandom)(void *buf, size_t len, unsigned int flags);
};
extern struct port_syscalls port_sys;
/* Restore the real syscalls. */
void port_syscalls_reset(void);

/* Write all of buf, retrying on EINTR and short writes; 0 or ERR_IO/ERR_NOSPC with errno kept.  A write that
 * returns 0 for a non-empty buffer is ERR_IO (errno EIO) rather than a busy loop. */
int port_write_all(int fd, const void *buf, size_t len);
int port_pwrite_all(int fd, const void *buf, size_t len, off_t off);
/* Read exactly len bytes at off; 0, ERR_AGAIN (end of file first: *got_len says how many were read) or
 * ERR_IO.  got_len may be NULL. */
int port_pread_all(int fd, void *buf, size_t len, off_t off, size_t *got_len);

#endif
