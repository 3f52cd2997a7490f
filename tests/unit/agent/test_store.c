/* Agent store: round trip through reopen, group commit and completion order, queue limits, failed batches
 * roll back, corrupt files moved aside (never deleted), a newer schema refused, and SIGKILL mid-stream
 * losing nothing that was acknowledged. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <event2/event.h>
#include <sqlite3.h>

#include "agent/store.h"
#include "base/err.h"
#include "port.h"

struct fx {
	char dir[64], path[128];
	struct event_base *base;
	struct store *s;
	int done_count, done_err;
	uint64_t last_seq_done;
	bool out_of_order;
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof *f);
	snprintf(f->dir, sizeof f->dir, "/tmp/ferry-store-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	snprintf(f->path, sizeof f->path, "%s/agent.db", f->dir);
	f->base = event_base_new();
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	store_close(f->s);
	event_base_free(f->base);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", f->dir);
	assert_int_equal(system(cmd), 0);
	free(f);
	return 0;
}

static void open_start(struct fx *f, struct store_config *cfg)
{
	struct store_config def = {.path = f->path};
	if (!cfg)
		cfg = &def;
	cfg->path = f->path;
	assert_int_equal(store_open(&f->s, cfg), 0);
	assert_int_equal(store_start(f->s, f->base), 0);
}

static void on_done(void *arg, int rc)
{
	struct fx *f = arg;
	f->done_count++;
	if (rc)
		f->done_err = rc;
}

/* done callback whose arg encodes a sequence number: completions must come in submission order */
static struct fx *seq_fx;
static void on_seq_done(void *arg, int rc)
{
	uint64_t seq = (uint64_t)(uintptr_t)arg;
	if (seq != seq_fx->last_seq_done + 1)
		seq_fx->out_of_order = true;
	seq_fx->last_seq_done = seq;
	seq_fx->done_count++;
	if (rc)
		seq_fx->done_err = rc;
}

static void wait_done(struct fx *f, int want)
{
	uint64_t until = port_now_ms() + 10000;
	while (f->done_count < want && port_now_ms() < until)
		event_base_loop(f->base, EVLOOP_ONCE);
	assert_int_equal(f->done_count, want);
}

/* ---- loading into a flat record ---- */
struct seen {
	int sessions, subs, msgs, retained;
	char text[2048];
};

static int l_session(void *ctx, const struct store_session *s)
{
	struct seen *v = ctx;
	v->sessions++;
	snprintf(v->text + strlen(v->text), sizeof v->text - strlen(v->text), "S(%s,%u,%u,%lld)", s->client_id,
		 s->protocol_version, s->expiry_interval_s, (long long)s->disconnected_at_ms);
	return 0;
}

static int l_sub(void *ctx, const char *cid, const struct store_sub *s)
{
	struct seen *v = ctx;
	v->subs++;
	snprintf(v->text + strlen(v->text), sizeof v->text - strlen(v->text), "U(%s,%s,%u,%u)", cid, s->filter,
		 s->options, s->subscription_id);
	return 0;
}

static int l_msg(void *ctx, const char *cid, const struct store_msg *m)
{
	struct seen *v = ctx;
	v->msgs++;
	snprintf(v->text + strlen(v->text), sizeof v->text - strlen(v->text), "M(%s,%u,%llu,%u,%u,%u,%d,%s,%.*s,%zu)",
		 cid, m->direction, (unsigned long long)m->seq, m->state, m->packet_id, m->qos, m->retain, m->topic,
		 (int)m->payload_len, (const char *)m->payload, m->props_len);
	return 0;
}

static int l_retained(void *ctx, const struct store_retained *r)
{
	struct seen *v = ctx;
	v->retained++;
	snprintf(v->text + strlen(v->text), sizeof v->text - strlen(v->text), "R(%s,%u,%.*s)", r->topic, r->qos,
		 (int)r->payload_len, (const char *)r->payload);
	return 0;
}

static const struct store_loader loader = {l_session, l_sub, l_msg, l_retained};

static void reopen_load(struct fx *f, struct seen *v)
{
	store_close(f->s);
	f->s = NULL;
	memset(v, 0, sizeof *v);
	struct store_config cfg = {.path = f->path};
	assert_int_equal(store_open(&f->s, &cfg), 0);
	assert_false(store_recovered(f->s));
	assert_int_equal(store_load(f->s, &loader, v), 0);
}

static void test_round_trip(void **state)
{
	struct fx *f = *state;
	open_start(f, NULL);
	struct store_session sess = {"dev-1", 5, 3600, 0};
	assert_int_equal(store_session_put(f->s, &sess, on_done, f), 0);
	struct store_session gone = {"dev-2", 4, UINT32_MAX, 1700000000000};
	assert_int_equal(store_session_put(f->s, &gone, on_done, f), 0);
	struct store_sub sub = {"sensors/+/temp", 0x05, 7};
	assert_int_equal(store_sub_put(f->s, "dev-1", &sub, on_done, f), 0);
	assert_int_equal(store_sub_put(f->s, "dev-2", &sub, on_done, f), 0);
	struct store_msg m = {.seq = 1, .direction = STORE_MSG_OUT, .state = 0, .qos = 1, .topic = "a/b",
			      .payload = (const uint8_t *)"hello", .payload_len = 5, .props = (const uint8_t *)"\x01\x01",
			      .props_len = 2};
	assert_int_equal(store_msg_put(f->s, "dev-1", &m, on_done, f), 0);
	m.seq = 2;
	m.payload = (const uint8_t *)"second";
	m.payload_len = 6;
	assert_int_equal(store_msg_put(f->s, "dev-1", &m, on_done, f), 0);
	m.seq = 3;
	assert_int_equal(store_msg_put(f->s, "dev-1", &m, on_done, f), 0);
	assert_int_equal(store_msg_update(f->s, "dev-1", STORE_MSG_OUT, 2, 3, 42, on_done, f), 0);
	assert_int_equal(store_msg_del(f->s, "dev-1", STORE_MSG_OUT, 3, on_done, f), 0);
	assert_int_equal(store_msg_put(f->s, "dev-2", &m, on_done, f), 0);
	struct store_retained r = {.topic = "status/x", .qos = 1, .payload = (const uint8_t *)"up", .payload_len = 2};
	assert_int_equal(store_retain_put(f->s, &r, on_done, f), 0);
	struct store_retained r2 = {.topic = "status/y", .qos = 0, .payload = (const uint8_t *)"down", .payload_len = 4};
	assert_int_equal(store_retain_put(f->s, &r2, on_done, f), 0);
	r2.payload_len = 0; /* deletes */
	assert_int_equal(store_retain_put(f->s, &r2, on_done, f), 0);
	assert_int_equal(store_session_del(f->s, "dev-2", on_done, f), 0);
	assert_int_equal(store_sub_del(f->s, "dev-1", "nope/#", on_done, f), 0); /* absent: fine */
	wait_done(f, 15);
	assert_int_equal(f->done_err, 0);

	struct seen v;
	reopen_load(f, &v);
	assert_string_equal(v.text, "S(dev-1,5,3600,0)U(dev-1,sensors/+/temp,5,7)"
				    "M(dev-1,0,1,0,0,1,0,a/b,hello,2)M(dev-1,0,2,3,42,1,0,a/b,second,2)R(status/x,1,up)");
	/* loading twice is fine; starting after load works */
	assert_int_equal(store_load(f->s, &loader, &v), 0);
	assert_int_equal(store_start(f->s, f->base), 0);
	assert_int_equal(store_load(f->s, &loader, &v), ERR_STATE);
}

static void test_group_commit_order(void **state)
{
	struct fx *f = *state;
	open_start(f, NULL);
	seq_fx = f;
	enum { N = 3000 };
	for (uint64_t i = 1; i <= N; i++) {
		struct store_msg m = {.seq = i, .qos = 1, .topic = "t", .payload = (const uint8_t *)"p", .payload_len = 1};
		assert_int_equal(store_msg_put(f->s, "c", &m, on_seq_done, (void *)(uintptr_t)i), 0);
	}
	wait_done(f, N);
	assert_false(f->out_of_order);
	assert_int_equal(f->done_err, 0);
	struct store_stats st;
	store_get_stats(f->s, &st);
	assert_int_equal(st.items, N);
	assert_true(st.batches < N); /* grouped: fewer transactions than items */
	assert_true(st.batch_items_max > 1);
	assert_int_equal(st.queued_items, 0);
	assert_int_equal(st.queued_bytes, 0);
	printf("# %d items in %llu batches (largest %u)\n", N, (unsigned long long)st.batches, st.batch_items_max);
}

static void test_close_delivers_everything(void **state)
{
	struct fx *f = *state;
	open_start(f, NULL);
	seq_fx = f;
	for (uint64_t i = 1; i <= 2000; i++) {
		struct store_msg m = {.seq = i, .qos = 2, .topic = "t", .payload = (const uint8_t *)"p", .payload_len = 1};
		assert_int_equal(store_msg_put(f->s, "c", &m, on_seq_done, (void *)(uintptr_t)i), 0);
	}
	store_close(f->s); /* mid-stream: commits the queue, runs every callback */
	f->s = NULL;
	assert_int_equal(f->done_count, 2000);
	assert_false(f->out_of_order);
	struct seen v;
	reopen_load(f, &v);
	assert_int_equal(v.msgs, 2000);
}

/* A store_call that holds the writer until the test lets it go. */
static pthread_mutex_t gate = PTHREAD_MUTEX_INITIALIZER;
static int held(struct sqlite3 *db, void *arg)
{
	(void)db, (void)arg;
	pthread_mutex_lock(&gate);
	pthread_mutex_unlock(&gate);
	return 0;
}
static int failing(struct sqlite3 *db, void *arg)
{
	(void)db, (void)arg;
	return ERR_IO;
}

static void test_queue_limit_and_rollback(void **state)
{
	struct fx *f = *state;
	struct store_config cfg = {.queue_ops_max = 4};
	open_start(f, &cfg);
	pthread_mutex_lock(&gate);
	assert_int_equal(store_call(f->s, held, NULL, on_done, f), 0);
	usleep(50000); /* the writer takes the held call into its own batch and blocks */
	struct store_retained r = {.topic = "x", .payload = (const uint8_t *)"v", .payload_len = 1};
	assert_int_equal(store_retain_put(f->s, &r, on_done, f), 0);
	assert_int_equal(store_call(f->s, failing, NULL, on_done, f), 0);
	assert_int_equal(store_barrier(f->s, on_done, f), 0);
	assert_int_equal(store_barrier(f->s, on_done, f), ERR_FULL);
	pthread_mutex_unlock(&gate);
	wait_done(f, 4);
	assert_int_equal(f->done_err, ERR_IO); /* the batch with the failing call rolled back */
	struct seen v;
	reopen_load(f, &v);
	assert_int_equal(v.retained, 0);
	/* too large and bad state */
	struct store_msg big = {.topic = "t", .payload = (const uint8_t *)"", .payload_len = STORE_PAYLOAD_MAX + 1};
	assert_int_equal(store_msg_put(f->s, "c", &big, NULL, NULL), ERR_TOO_LARGE);
	assert_int_equal(store_barrier(f->s, NULL, NULL), ERR_STATE); /* not started */
}

static int count_corrupt(struct fx *f, off_t *size)
{
	DIR *d = opendir(f->dir);
	int n = 0;
	struct dirent *e;
	while ((e = readdir(d)))
		if (strstr(e->d_name, "agent.db.corrupt-") && !strstr(e->d_name, "-wal") && !strstr(e->d_name, "-shm")) {
			char p[512];
			struct stat st;
			snprintf(p, sizeof p, "%s/%s", f->dir, e->d_name);
			stat(p, &st);
			*size = st.st_size;
			n++;
		}
	closedir(d);
	return n;
}

static void test_garbage_file_moved_aside(void **state)
{
	struct fx *f = *state;
	FILE *fp = fopen(f->path, "wb");
	for (int i = 0; i < 500; i++)
		fputs("this is not an sqlite database at all. ", fp);
	fclose(fp);
	struct store_config cfg = {.path = f->path};
	assert_int_equal(store_open(&f->s, &cfg), 0);
	assert_true(store_recovered(f->s));
	off_t size = 0;
	assert_int_equal(count_corrupt(f, &size), 1);
	assert_int_equal(size, 500 * 39);
	struct seen v = {0};
	assert_int_equal(store_load(f->s, &loader, &v), 0);
	assert_int_equal(v.sessions + v.msgs, 0);
}

static void test_damaged_pages_moved_aside(void **state)
{
	struct fx *f = *state;
	open_start(f, NULL);
	char payload[3000];
	memset(payload, 'z', sizeof payload);
	for (uint64_t i = 1; i <= 200; i++) {
		struct store_msg m = {.seq = i, .topic = "t", .payload = (const uint8_t *)payload, .payload_len = sizeof payload};
		assert_int_equal(store_msg_put(f->s, "c", &m, on_done, f), 0);
	}
	wait_done(f, 200);
	store_close(f->s); /* checkpoints the WAL into the main file */
	f->s = NULL;
	/* scribble over pages 2..20 */
	FILE *fp = fopen(f->path, "r+b");
	fseek(fp, 4096, SEEK_SET);
	for (int i = 0; i < 4096 * 19; i++)
		fputc(i * 7 & 0xff, fp);
	fclose(fp);
	struct store_config cfg = {.path = f->path};
	assert_int_equal(store_open(&f->s, &cfg), 0);
	assert_true(store_recovered(f->s));
	off_t size = 0;
	assert_int_equal(count_corrupt(f, &size), 1);
	assert_true(size > 4096 * 20);
	struct seen v = {0};
	assert_int_equal(store_load(f->s, &loader, &v), 0);
	assert_int_equal(v.msgs, 0);
}

static void test_newer_schema_refused(void **state)
{
	struct fx *f = *state;
	sqlite3 *db;
	assert_int_equal(sqlite3_open(f->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, "CREATE TABLE future(x); PRAGMA user_version=99", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	struct store_config cfg = {.path = f->path};
	assert_int_equal(store_open(&f->s, &cfg), ERR_UNSUPPORTED);
	assert_null(f->s);
	off_t size;
	assert_int_equal(count_corrupt(f, &size), 0);
}

/* ---- SIGKILL mid-stream: everything acknowledged survives ---- */
static int ack_fd;
static void child_ack(void *arg, int rc)
{
	uint64_t seq = (uint64_t)(uintptr_t)arg;
	if (rc == 0 && write(ack_fd, &seq, sizeof seq) != sizeof seq)
		_exit(3);
}

static void child_tick(evutil_socket_t fd, short what, void *arg)
{
	static uint64_t next = 1;
	(void)fd, (void)what;
	for (int i = 0; i < 50; i++, next++) {
		struct store_msg m = {.seq = next, .qos = 1, .topic = "k", .payload = (const uint8_t *)"payload",
				      .payload_len = 7};
		if (store_msg_put(arg, "c", &m, child_ack, (void *)(uintptr_t)next))
			return;
	}
}

static void child_main(const char *path, int fd)
{
	ack_fd = fd;
	struct event_base *base = event_base_new();
	struct store *s;
	struct store_config cfg = {.path = path};
	if (store_open(&s, &cfg) || store_start(s, base))
		_exit(2);
	struct event *ev = event_new(base, -1, EV_PERSIST, child_tick, s);
	struct timeval tv = {0, 500};
	event_add(ev, &tv);
	event_base_dispatch(base);
	_exit(0);
}

static uint8_t present[1 << 16];
static int l_mark(void *ctx, const char *cid, const struct store_msg *m)
{
	(void)ctx, (void)cid;
	if (m->seq < sizeof present)
		present[m->seq] = 1;
	return 0;
}

static void test_kill_mid_stream(void **state)
{
	struct fx *f = *state;
	int p[2];
	assert_int_equal(pipe(p), 0);
	pid_t pid = fork();
	if (pid == 0) {
		close(p[0]);
		child_main(f->path, p[1]);
	}
	close(p[1]);
	uint64_t seq, acked = 0, max_acked = 0;
	uint64_t until = port_now_ms() + 20000;
	while (acked < 3000 && port_now_ms() < until && read(p[0], &seq, sizeof seq) == sizeof seq) {
		acked++;
		max_acked = seq > max_acked ? seq : max_acked;
	}
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	while (read(p[0], &seq, sizeof seq) == sizeof seq) {
		acked++;
		max_acked = seq > max_acked ? seq : max_acked;
	}
	close(p[0]);
	assert_true(acked >= 3000);
	assert_int_equal(acked, max_acked); /* acks are in order */
	struct store_config cfg = {.path = f->path};
	assert_int_equal(store_open(&f->s, &cfg), 0);
	assert_false(store_recovered(f->s));
	struct store_loader marks = {.msg = l_mark};
	memset(present, 0, sizeof present);
	assert_int_equal(store_load(f->s, &marks, NULL), 0);
	uint64_t on_disk = 0;
	for (uint64_t i = 1; i < sizeof present; i++)
		on_disk += present[i];
	for (uint64_t i = 1; i <= max_acked; i++)
		assert_true(present[i]);
	printf("# killed after %llu acknowledged, %llu on disk\n", (unsigned long long)max_acked,
	       (unsigned long long)on_disk);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_round_trip, setup, teardown),
		cmocka_unit_test_setup_teardown(test_group_commit_order, setup, teardown),
		cmocka_unit_test_setup_teardown(test_close_delivers_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(test_queue_limit_and_rollback, setup, teardown),
		cmocka_unit_test_setup_teardown(test_garbage_file_moved_aside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_damaged_pages_moved_aside, setup, teardown),
		cmocka_unit_test_setup_teardown(test_newer_schema_refused, setup, teardown),
		cmocka_unit_test_setup_teardown(test_kill_mid_stream, setup, teardown),
	};
	return cmocka_run_group_tests_name("agent/store", tests, NULL, NULL);
}
