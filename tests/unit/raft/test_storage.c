/* Raft storage: the file log (segments, checksums, torn tails, truncation, snapshots, injected fsync
 * failure) and the memory storage's crash model, plus a node restarted from its files. */
#include <errno.h>
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
#include "port.h"
#include "raft/storage.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/ferry-raftfs-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	port_syscalls_reset();
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd) == 0 ? 0 : -1;
}

static uint8_t payload[1u << 20];

static struct raft_entry ent(uint64_t index, uint64_t term, uint32_t len)
{
	for (uint32_t i = 0; i < 16 && i < len; i++)
		payload[i] = (uint8_t)(index * 7 + i);
	return (struct raft_entry){.index = index, .term = term, .type = RAFT_ENTRY_NORMAL, .len = len,
	                           .data = payload};
}

static void append_range(struct raft_storage *s, uint64_t from, uint64_t to, uint64_t term, uint32_t len)
{
	for (uint64_t i = from; i <= to; i++) {
		struct raft_entry e = ent(i, term, len);
		assert_int_equal(s->append(s, &e, 1), 0);
	}
}

static struct raft_storage *reopen(struct raft_storage *s, struct raft_boot *boot)
{
	if (s)
		s->destroy(s);
	struct raft_storage *n = NULL;
	assert_int_equal(raft_file_open(dir, &n), 0);
	assert_int_equal(n->load(n, boot), 0);
	return n;
}

static void check_entries(const struct raft_boot *b, uint64_t first, uint64_t last, uint64_t term)
{
	assert_int_equal(b->entry_count, last - first + 1);
	for (size_t i = 0; i < b->entry_count; i++) {
		assert_int_equal(b->entries[i].index, first + i);
		if (term)
			assert_int_equal(b->entries[i].term, term);
		if (b->entries[i].len)
			assert_int_equal(b->entries[i].data[0], (uint8_t)((first + i) * 7));
	}
}

static void test_round_trip(void **state)
{
	(void)state;
	struct raft_boot b;
	struct raft_storage *s = reopen(NULL, &b);
	assert_int_equal(b.entry_count, 0);
	assert_int_equal(b.hs.term, 0);
	append_range(s, 1, 50, 2, 100);
	struct raft_hard_state hs = {.term = 3, .vote = 2, .commit = 40};
	assert_int_equal(s->set_hard_state(s, &hs), 0);
	assert_int_equal(s->sync(s), 0);
	s = reopen(s, &b);
	check_entries(&b, 1, 50, 2);
	assert_int_equal(b.hs.term, 3);
	assert_int_equal(b.hs.vote, 2);
	assert_int_equal(b.hs.commit, 40);
	/* a conflicting suffix replaces the tail */
	append_range(s, 30, 35, 3, 10);
	assert_int_equal(s->sync(s), 0);
	s = reopen(s, &b);
	check_entries(&b, 1, 35, 0);
	assert_int_equal(b.entries[28].term, 2);
	assert_int_equal(b.entries[29].term, 3);
	/* a gap is refused */
	struct raft_entry e = ent(40, 3, 1);
	assert_int_equal(s->append(s, &e, 1), ERR_CORRUPT);
	s->destroy(s);
}

static void test_snapshot_compacts(void **state)
{
	(void)state;
	struct raft_boot b;
	struct raft_storage *s = reopen(NULL, &b);
	append_range(s, 1, 20, 1, 8);
	assert_int_equal(s->sync(s), 0);
	struct raft_snap_meta meta = {.index = 10, .term = 1, .conf = {.voter_count = 1, .voters = {1}}};
	assert_int_equal(s->save_snapshot(s, &meta, (const uint8_t *)"state", 5), 0);
	append_range(s, 21, 22, 1, 8);
	assert_int_equal(s->sync(s), 0);
	s = reopen(s, &b);
	assert_int_equal(b.snap.index, 10);
	assert_int_equal(b.snap.conf.voters[0], 1);
	assert_int_equal(b.snap_len, 5);
	assert_memory_equal(b.snap_data, "state", 5);
	check_entries(&b, 11, 22, 1);
	/* a snapshot that disagrees with the stored log replaces all of it */
	meta.index = 15;
	meta.term = 9;
	assert_int_equal(s->save_snapshot(s, &meta, (const uint8_t *)"other", 5), 0);
	assert_int_equal(s->sync(s), 0);
	s = reopen(s, &b);
	assert_int_equal(b.snap.index, 15);
	assert_int_equal(b.entry_count, 0);
	append_range(s, 16, 18, 9, 3);
	assert_int_equal(s->sync(s), 0);
	s = reopen(s, &b);
	check_entries(&b, 16, 18, 9);
	s->destroy(s);
}

static void test_segments_roll_and_compact(void **state)
{
	(void)state;
	struct raft_boot b;
	struct raft_storage *s = reopen(NULL, &b);
	/* 12 entries of 1 MiB: two segments of 8 MiB */
	append_range(s, 1, 12, 1, 1u << 20);
	assert_int_equal(s->sync(s), 0);
	char path[128];
	snprintf(path, sizeof path, "%s/log-%020d", dir, 9);
	assert_int_equal(access(path, F_OK), 0);
	s = reopen(s, &b);
	check_entries(&b, 1, 12, 1);
	struct raft_snap_meta meta = {.index = 10, .term = 1, .conf = {.voter_count = 1, .voters = {1}}};
	assert_int_equal(s->save_snapshot(s, &meta, (const uint8_t *)"s", 1), 0);
	assert_int_equal(s->sync(s), 0);
	snprintf(path, sizeof path, "%s/log-%020d", dir, 1);
	assert_int_not_equal(access(path, F_OK), 0); /* the first segment is gone */
	s = reopen(s, &b);
	check_entries(&b, 11, 12, 1);
	s->destroy(s);
}

static long file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void test_torn_tail(void **state)
{
	(void)state;
	struct raft_boot b;
	struct raft_storage *s = reopen(NULL, &b);
	append_range(s, 1, 10, 1, 64);
	assert_int_equal(s->sync(s), 0);
	s->destroy(s);
	char path[128];
	snprintf(path, sizeof path, "%s/log-%020d", dir, 1);
	long size = file_size(path);
	/* the last record loses its last 30 bytes, as if the crash came mid-write */
	assert_int_equal(truncate(path, size - 30), 0);
	s = reopen(NULL, &b);
	check_entries(&b, 1, 9, 1);
	assert_true(file_size(path) < size - 30); /* the torn record was cut off */
	/* garbage after valid records (a torn write of zeros or junk) is also a tail */
	append_range(s, 10, 12, 1, 64);
	assert_int_equal(s->sync(s), 0);
	s->destroy(s);
	FILE *fp = fopen(path, "ab");
	fwrite("\x00\x00\x00\x40junkjunkjunk", 1, 16, fp);
	fclose(fp);
	s = reopen(NULL, &b);
	check_entries(&b, 1, 12, 1);
	s->destroy(s);
}

static void test_corrupt_middle_segment(void **state)
{
	(void)state;
	struct raft_boot b;
	struct raft_storage *s = reopen(NULL, &b);
	append_range(s, 1, 10, 1, 1u << 20);
	assert_int_equal(s->sync(s), 0);
	s->destroy(s);
	char path[128];
	snprintf(path, sizeof path, "%s/log-%020d", dir, 1);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(pwrite(fd, "X", 1, 5000), 1);
	close(fd);
	struct raft_storage *n = NULL;
	assert_int_equal(raft_file_open(dir, &n), ERR_CORRUPT);
}

static void flip(const char *name, off_t off)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	uint8_t b;
	assert_int_equal(pread(fd, &b, 1, off), 1);
	b ^= 0x5a;
	assert_int_equal(pwrite(fd, &b, 1, off), 1);
	close(fd);
}

/* The hard state lives in two slots written in turn: a torn newest slot falls back to the older one. */
static void test_hard_state_slots(void **state)
{
	(void)state;
	struct raft_boot b;
	struct raft_storage *s = reopen(NULL, &b);
	struct raft_hard_state hs = {.term = 1, .vote = 3, .commit = 0};
	s->set_hard_state(s, &hs);
	assert_int_equal(s->sync(s), 0); /* seq 1: slot 1 */
	hs = (struct raft_hard_state){.term = 2, .vote = 0, .commit = 0};
	s->set_hard_state(s, &hs);
	assert_int_equal(s->sync(s), 0); /* seq 2: slot 0 */
	s = reopen(s, &b);
	assert_int_equal(b.hs.term, 2);
	s->destroy(s);
	flip("hardstate", 20); /* the newest slot, torn */
	s = reopen(NULL, &b);
	assert_int_equal(b.hs.term, 1);
	assert_int_equal(b.hs.vote, 3);
	/* writing again goes over the damaged slot; the good one stays */
	hs = (struct raft_hard_state){.term = 5, .vote = 1, .commit = 0};
	s->set_hard_state(s, &hs);
	assert_int_equal(s->sync(s), 0);
	s = reopen(s, &b);
	assert_int_equal(b.hs.term, 5);
	s->destroy(s);
	/* both slots damaged: not something a crash does */
	flip("hardstate", 20);
	flip("hardstate", 64 + 20);
	struct raft_storage *n = NULL;
	assert_int_equal(raft_file_open(dir, &n), ERR_CORRUPT);
}

static int failing_fdatasync(int fd)
{
	(void)fd;
	errno = EIO;
	return -1;
}

static void test_fsync_failure(void **state)
{
	(void)state;
	struct raft_boot b;
	struct raft_storage *s = reopen(NULL, &b);
	append_range(s, 1, 5, 1, 16);
	struct raft_hard_state hs = {.term = 1, .vote = 1, .commit = 5};
	s->set_hard_state(s, &hs);
	assert_int_equal(s->sync(s), 0);
	append_range(s, 6, 8, 2, 16);
	hs = (struct raft_hard_state){.term = 2, .vote = 1, .commit = 8};
	s->set_hard_state(s, &hs);
	port_sys.fdatasync = failing_fdatasync;
	assert_int_equal(s->sync(s), ERR_IO);
	/* the storage refuses to go on: the caller must stop and reopen */
	struct raft_entry e = ent(9, 2, 1);
	assert_int_equal(s->append(s, &e, 1), ERR_IO);
	assert_int_equal(s->sync(s), ERR_IO);
	port_syscalls_reset();
	s = reopen(s, &b);
	/* the hard state of the failed sync was never written: no commit index beyond what was durable */
	assert_int_equal(b.hs.term, 1);
	assert_int_equal(b.hs.commit, 5);
	assert_true(b.entry_count >= 5);
	s->destroy(s);
}

static void test_mem_crash_keeps_prefix(void **state)
{
	(void)state;
	struct raft_mem *m;
	assert_int_equal(raft_mem_new(&m), 0);
	struct raft_storage *s = raft_mem_storage(m);
	struct raft_entry es[4] = {ent(1, 1, 4), ent(2, 1, 4), ent(3, 1, 4), ent(4, 1, 4)};
	assert_int_equal(s->append(s, es, 2), 0);
	assert_int_equal(s->sync(s), 0);
	assert_int_equal(s->append(s, es + 2, 2), 0);
	struct raft_hard_state hs = {.term = 1, .commit = 4};
	s->set_hard_state(s, &hs);
	/* torn: the append keeps one of its two entries, the hard state after it is lost */
	raft_mem_crash(m, 0, 1);
	assert_int_equal(raft_mem_last_index(m), 3);
	assert_int_equal(raft_mem_hard_state(m)->commit, 0);
	struct raft_boot b;
	s->load(s, &b);
	assert_int_equal(b.entry_count, 3);
	s->destroy(s);
}

/* A single-voter node on file storage: propose, persist through the ready cycle, restart, recover. */
static void test_node_restarts_from_files(void **state)
{
	(void)state;
	struct raft_boot b;
	struct raft_storage *s = reopen(NULL, &b);
	b.snap.conf = (struct raft_conf){.voter_count = 1, .voters = {1}};
	struct raft_config cfg;
	raft_config_default(&cfg);
	cfg.id = 1;
	cfg.seed = 7;
	struct raft *r;
	assert_int_equal(raft_new(&cfg, &b, &r), 0);
	s->save_snapshot(s, &b.snap, NULL, 0);
	raft_campaign(r);
	assert_int_equal(r->role, RAFT_LEADER);
	for (int i = 0; i < 5; i++)
		assert_int_equal(raft_propose(r, "abc", 3, NULL), 0);
	size_t applied = 0;
	while (raft_has_ready(r)) {
		struct raft_ready rd;
		raft_ready(r, &rd);
		assert_int_equal(raft_storage_persist(s, &rd), 0);
		applied += rd.committed_count;
		raft_advance(r, &rd);
	}
	assert_int_equal(applied, 6); /* the no-op and five proposals */
	raft_free(r);
	s = reopen(s, &b);
	assert_int_equal(b.hs.term, 1);
	assert_int_equal(b.hs.commit, 6);
	assert_int_equal(b.entry_count, 6);
	assert_int_equal(raft_new(&cfg, &b, &r), 0);
	assert_int_equal(r->commit, 6);
	assert_int_equal(r->term, 1);
	raft_free(r);
	s->destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_snapshot_compacts, setup, teardown),
		cmocka_unit_test_setup_teardown(test_segments_roll_and_compact, setup, teardown),
		cmocka_unit_test_setup_teardown(test_torn_tail, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_middle_segment, setup, teardown),
		cmocka_unit_test_setup_teardown(test_hard_state_slots, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fsync_failure, setup, teardown),
		cmocka_unit_test(test_mem_crash_keeps_prefix),
		cmocka_unit_test_setup_teardown(test_node_restarts_from_files, setup, teardown),
	};
	return cmocka_run_group_tests_name("raft/storage", tests, NULL, NULL);
}
