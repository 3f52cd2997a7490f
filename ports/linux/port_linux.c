/* ports/port.h for Linux (glibc and musl): clocks, randomness, thread names, memory and CPU information.
 * The file and durability half is in port_file.c.  Reads /proc and /sys only; never allocates. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
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
		ssize_t n = port_sys.getrandom(p, len, 0);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return ERR_IO;
		}
		if (n == 0) { /* not a documented result; refuse to spin on it */
			errno = EIO;
			return ERR_IO;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int port_entropy_poll(void *data, unsigned char *out, size_t len, size_t *out_len)
{
	(void)data;
	*out_len = 0;
	int rc = port_random(out, len);
	if (rc)
		return rc;
	*out_len = len;
	return 0;
}

void port_thread_name(const char *name)
{
	char short_name[PORT_THREAD_NAME_MAX + 1];
	snprintf(short_name, sizeof short_name, "%s", name);
	pthread_setname_np(pthread_self(), short_name);
}

int port_thread_name_get(char *buf, size_t len)
{
	char name[PORT_THREAD_NAME_MAX + 1];
	if (!len)
		return ERR_INVAL;
	int rc = pthread_getname_np(pthread_self(), name, sizeof name);
	if (rc) {
		errno = rc;
		buf[0] = '\0';
		return ERR_IO;
	}
	snprintf(buf, len, "%s", name);
	return 0;
}

/* The number after `key` on its line of a /proc file ("VmRSS:   1234 kB"); false when absent. */
static bool proc_field(const char *path, const char *key, uint64_t *value)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return false;
	char line[256];
	size_t key_len = strlen(key);
	bool found = false;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, key, key_len) == 0) {
			*value = strtoull(line + key_len, NULL, 10);
			found = true;
			break;
		}
	}
	fclose(f);
	return found;
}

static uint64_t proc_field_or0(const char *path, const char *key)
{
	uint64_t v = 0;
	return proc_field(path, key, &v) ? v : 0;
}

size_t port_rss_bytes(void) { return (size_t)proc_field_or0("/proc/self/status", "VmRSS:") * 1024; }
size_t port_rss_peak_bytes(void) { return (size_t)proc_field_or0("/proc/self/status", "VmHWM:") * 1024; }
uint64_t port_io_write_bytes(void) { return proc_field_or0("/proc/self/io", "write_bytes:"); }

/* A cgroup memory limit file: a byte count, or "max" (v2) / a near-2^63 value (v1) for none. */
static uint64_t read_limit(const char *path)
{
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	char text[64];
	uint64_t v = 0;
	if (fgets(text, sizeof text, f) && text[0] >= '0' && text[0] <= '9')
		v = strtoull(text, NULL, 10);
	fclose(f);
	return v >= (UINT64_C(1) << 62) ? 0 : v;
}

/* The limit file for one /proc/self/cgroup line: v2 ("0::/path") or v1's memory controller
 * ("4:memory:/path"); NULL for other lines.  The v1 line may list several controllers ("4:cpu,memory:/p"). */
static const char *limit_path(char *line, char *path, size_t path_len)
{
	char *ctrl = strchr(line, ':');
	char *cg = ctrl ? strchr(ctrl + 1, ':') : NULL;
	if (!cg)
		return NULL;
	*cg++ = '\0';
	ctrl++;
	cg[strcspn(cg, "\n")] = '\0';
	if (!strcmp(cg, "/"))
		cg = "";
	if (!strcmp(line, "0") && !*ctrl) {
		snprintf(path, path_len, "/sys/fs/cgroup%s/memory.max", cg);
		return path;
	}
	for (char *save = NULL, *c = strtok_r(ctrl, ",", &save); c; c = strtok_r(NULL, ",", &save))
		if (!strcmp(c, "memory")) {
			snprintf(path, path_len, "/sys/fs/cgroup/memory%s/memory.limit_in_bytes", cg);
			return path;
		}
	return NULL;
}

/* This process's cgroup memory limit (the smallest one named by /proc/self/cgroup), else 0.  Inside a
 * container the cgroup namespace makes our cgroup the root, which the fallbacks cover. */
static uint64_t cgroup_limit(void)
{
	char line[512], path[600];
	uint64_t v = 0;
	FILE *f = fopen("/proc/self/cgroup", "re");
	if (f) {
		while (fgets(line, sizeof line, f)) {
			const char *p = limit_path(line, path, sizeof path);
			uint64_t lim = p ? read_limit(p) : 0;
			if (lim && (!v || lim < v))
				v = lim;
		}
		fclose(f);
	}
	if (!v)
		v = read_limit("/sys/fs/cgroup/memory.max");
	if (!v)
		v = read_limit("/sys/fs/cgroup/memory/memory.limit_in_bytes");
	return v;
}

int port_mem_info(struct port_mem_info *out)
{
	const char *mi = "/proc/meminfo";
	uint64_t total = 0, avail = 0;
	memset(out, 0, sizeof *out);
	if (!proc_field(mi, "MemTotal:", &total))
		return ERR_IO;
	/* MemAvailable appeared in Linux 3.14; vendor gateway kernels can be older.  Free plus page cache is the
	 * usual estimate there (it overstates a little: not all cache is reclaimable). */
	if (!proc_field(mi, "MemAvailable:", &avail))
		avail = proc_field_or0(mi, "MemFree:") + proc_field_or0(mi, "Buffers:") + proc_field_or0(mi, "Cached:");
	out->total_bytes = total * 1024;
	out->available_bytes = avail * 1024;
	out->limit_bytes = cgroup_limit();
	return 0;
}

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
