/* A log under test on either backend, for tests that must pass on both (static, header-only). */
#ifndef FERRY_TEST_LOG_FIXTURE_H
#define FERRY_TEST_LOG_FIXTURE_H

#include "log_test_util.h"

enum fx_backend { FX_MEM, FX_FILE };

struct fx {
	enum fx_backend backend;
	char *dir;
	struct log *log;
	struct log_config cfg;
	uint8_t buf[4096];
};

static const enum fx_backend fx_mem = FX_MEM, fx_file = FX_FILE;

static inline int fx_open(struct fx *f)
{
	return f->backend == FX_MEM ? log_mem_open(&f->cfg, &f->log) : log_file_open(f->dir, &f->cfg, &f->log);
}

static inline int fx_setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	f->backend = *(const enum fx_backend *)*state;
	f->dir = test_tmpdir();
	test_now_ms = 1000000;
	test_log_config(&f->cfg);
	*state = f;
	return 0;
}

static inline int fx_teardown(void **state)
{
	struct fx *f = *state;
	port_syscalls_reset();
	if (f->log)
		log_close(f->log);
	test_rmtree(f->dir);
	free(f->dir);
	free(f);
	return 0;
}

/* Append a batch described by b in LEADER mode; returns the append's result code. */
static inline int fx_append(struct fx *f, const struct test_batch *b, struct log_append_info *info)
{
	size_t len = test_batch_make(f->buf, sizeof f->buf, b);
	return log_append(f->log, f->buf, len, 3, LOG_APPEND_LEADER, info);
}

static inline int64_t fx_append_n(struct fx *f, int n, int records)
{
	struct log_append_info info;
	struct test_batch b = test_batch_default();
	b.records = records;
	for (int i = 0; i < n; i++) {
		b.base_ts = 1000 + (int64_t)log_end_offset(f->log);
		if (fx_append(f, &b, &info) || !info.appended)
			return -1;
	}
	return log_end_offset(f->log);
}

#endif
