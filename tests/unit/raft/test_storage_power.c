/* Power loss on the file log, as a property: random appends, conflicting overwrites and syncs over small
 * segments; then the files lose an arbitrary part of what was written since the last sync (cut short, or
 * cut and filled with junk, or a new segment gone).  On reopen the log must hold every synced entry not
 * since overwritten, contain only entries that were really written, and accept appends again. */
#include <dirent.h>
#include <fcntl.h>
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
#include "base/log.h"
#include "port.h"
#include "raft/storage.h"

#define MAXI 4096
#define FILES_MAX 512

static char dir[64];
static uint64_t rng;
static uint32_t rnd(uint32_t n)
{
	rng = rng * 6364136223846793005ull + 1442695040888963407ull;
	return n ? (uint32_t)(rng >> 33) % n : 0;
}

/* Entry data is a function of (index, term), so any loaded entry can be checked against what was written. */
static uint8_t buf[512];
static struct raft_entry make(uint64_t index, uint64_t term)
{
	uint32_t len = (uint32_t)((index * 131 + term * 17) % 200);
	for (uint32_t i = 0; i < len; i++)
		buf[i] = (uint8_t)(index + term * 7 + i);
	return (struct raft_entry){.index = index, .term = term, .type = RAFT_ENTRY_NORMAL, .len = len, .data = buf};
}

struct synced_file {
	char name[300];
	long size;
};

static unsigned list(struct synced_file *out)
{
	DIR *d = opendir(dir);
	unsigned n = 0;
	struct dirent *de;
	while ((de = readdir(d)) && n < FILES_MAX) {
		if (strncmp(de->d_name, "log-", 4))
			continue;
		char path[512];
		if (snprintf(path, sizeof path, "%s/%s", dir, de->d_name) >= (int)sizeof path)
			continue;
		struct stat st;
		stat(path, &st);
		if (snprintf(out[n].name, sizeof out[n].name, "%s", de->d_name) >= (int)sizeof out[n].name)
			continue;
		out[n++].size = (long)st.st_size;
	}
	closedir(d);
	return n;
}

/* What each file holds durably: its size at its last fsync, recorded by wrapping port_sys. */
static struct synced_file durable[FILES_MAX];
static unsigned ndurable;

static void note_sync(int fd)
{
	char link[64], target[512];
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	ssize_t n = readlink(link, target, sizeof target - 1);
	if (n <= 0)
		return;
	target[n] = '\0';
	const char *base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (strncmp(base, "log-", 4))
		return;
	struct stat st;
	if (fstat(fd, &st) != 0)
		return;
	for (unsigned i = 0; i < ndurable; i++)
		if (!strcmp(durable[i].name, base)) {
			durable[i].size = (long)st.st_size;
			return;
		}
	if (ndurable < FILES_MAX && snprintf(durable[ndurable].name, sizeof durable[0].name, "%s", base) > 0)
		durable[ndurable++].size = (long)st.st_size;
}

static int wrap_fdatasync(int fd)
{
	int rc = fdatasync(fd);
	if (rc == 0)
		note_sync(fd);
	return rc;
}

static int wrap_fsync(int fd)
{
	int rc = fsync(fd);
	if (rc == 0)
		note_sync(fd);
	return rc;
}

/* Every file loses a random part of what it gained since its last fsync. */
static void power_loss(void)
{
	const struct synced_file *synced = durable;
	unsigned nsynced = ndurable;
	struct synced_file now[FILES_MAX];
	unsigned n = list(now);
	for (unsigned i = 0; i < n; i++) {
		long base = -1;
		for (unsigned j = 0; j < nsynced; j++)
			if (!strcmp(synced[j].name, now[i].name))
				base = synced[j].size;
		char path[512];
		if (snprintf(path, sizeof path, "%s/%s", dir, now[i].name) >= (int)sizeof path)
			continue;
		if (base < 0 && rnd(3) == 0) {
			unlink(path); /* a segment created since the sync never reached the directory */
			continue;
		}
		if (base < 0)
			base = 0;
		if (base > now[i].size)
			base = now[i].size; /* truncated since its fsync */
		long keep = base + (long)rnd((uint32_t)(now[i].size - base + 1));
		assert_int_equal(truncate(path, keep), 0);
		if (keep < now[i].size && rnd(2)) {
			int fd = open(path, O_WRONLY);
			uint8_t junk[64];
			for (size_t k = 0; k < sizeof junk; k++)
				junk[k] = (uint8_t)rnd(256);
			size_t jl = 1 + rnd(sizeof junk);
			assert_true(pwrite(fd, junk, jl, keep) == (ssize_t)jl);
			close(fd);
		}
	}
}

static void test_power_loss(void **state)
{
	(void)state;
	log_set_level(LOG_ERROR);
	static uint64_t model[MAXI], synced_model[MAXI];
	static bool written[MAXI][64];
	for (uint64_t seed = 1; seed <= 12; seed++) {
		rng = seed;
		snprintf(dir, sizeof dir, "/tmp/ferry-raftpl-XXXXXX");
		assert_non_null(mkdtemp(dir));
		memset(written, 0, sizeof written);
		struct raft_storage *s;
		assert_int_equal(raft_file_open_opts(dir, 2048, &s), 0);
		uint64_t last = 0, synced_last = 0, term = 1, low_water = UINT64_MAX;
		ndurable = 0;
		port_sys.fdatasync = wrap_fdatasync;
		port_sys.fsync = wrap_fsync;
		for (int step = 0; step < 250; step++) {
			unsigned what = rnd(10);
			if (what < 5 && last + 8 < MAXI) { /* append */
				for (unsigned k = 1 + rnd(5); k; k--) {
					struct raft_entry e = make(++last, term);
					assert_int_equal(s->append(s, &e, 1), 0);
					model[last] = term;
					written[last][term] = true;
				}
			} else if (what < 6 && last > 0 && term < 60) { /* a new leader overwrites a suffix */
				uint64_t from = 1 + rnd((uint32_t)last);
				term++;
				struct raft_entry e = make(from, term);
				assert_int_equal(s->append(s, &e, 1), 0);
				model[from] = term;
				written[from][term] = true;
				last = from;
				if (from < low_water)
					low_water = from;
			} else if (what < 9) { /* sync */
				assert_int_equal(s->sync(s), 0);
				memcpy(synced_model, model, sizeof model);
				synced_last = last;
				low_water = UINT64_MAX;
			} else { /* power loss and reopen */
				s->destroy(s);
				power_loss();
				/* what survived is what the disk holds now */
				assert_int_equal(raft_file_open_opts(dir, 2048, &s), 0);
				ndurable = list(durable);
				struct raft_boot b;
				assert_int_equal(s->load(s, &b), 0);
				uint64_t must = synced_last < low_water ? synced_last : low_water - 1;
				assert_true(b.entry_count >= must);
				for (size_t i = 0; i < b.entry_count; i++) {
					const struct raft_entry *e = &b.entries[i];
					assert_int_equal(e->index, i + 1);
					assert_true(e->term < 64 && written[e->index][e->term]);
					if (e->index <= must)
						assert_int_equal(e->term, synced_model[e->index]);
					struct raft_entry want = make(e->index, e->term);
					assert_int_equal(e->len, want.len);
					assert_memory_equal(e->data, want.data, e->len);
					model[e->index] = e->term;
				}
				last = b.entry_count;
				memcpy(synced_model, model, sizeof model);
				synced_last = last;
				low_water = UINT64_MAX;
				if (last && model[last] > term)
					term = model[last];
			}
		}
		s->destroy(s);
		port_syscalls_reset();
		char cmd[128];
		snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
		assert_int_equal(system(cmd), 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_power_loss),
	};
	return cmocka_run_group_tests_name("raft/storage_power", tests, NULL, NULL);
}
