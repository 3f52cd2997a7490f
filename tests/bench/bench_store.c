/* Agent store write throughput: QoS 1 message inserts (100-byte payloads) acknowledged after commit.
 *   pipelined: up to 4096 inserts outstanding (many clients publishing); the writer groups what is queued
 *   serial:    the next insert is submitted only after the previous one committed (no grouping possible)
 * for synchronous=FULL and NORMAL.  Prints figures; asserts nothing about timing.  The ratio pipelined/serial
 * is what group commit buys on this disk. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "agent/store.h"
#include "port.h"

struct run {
	struct event_base *base;
	struct store *s;
	uint64_t next, done, total;
	bool serial;
	uint64_t window;
};

static uint8_t payload[100];

static void submit_one(struct run *r);

static void on_done(void *arg, int rc)
{
	struct run *r = arg;
	if (rc) {
		fprintf(stderr, "store error %d\n", rc);
		exit(1);
	}
	if (++r->done == r->total)
		event_base_loopbreak(r->base);
	else if (r->next < r->total)
		submit_one(r);
}

static void submit_one(struct run *r)
{
	struct store_msg m = {.seq = ++r->next, .qos = 1, .topic = "sensors/site-1/temp", .payload = payload,
			      .payload_len = sizeof payload};
	if (store_msg_put(r->s, "bench-client", &m, on_done, r) != 0) {
		fprintf(stderr, "submit failed\n");
		exit(1);
	}
}

static void bench(enum store_sync sync, bool serial, uint64_t total)
{
	char dir[] = "/tmp/ferry-bench-store-XXXXXX", path[64], cmd[96];
	if (!mkdtemp(dir))
		exit(1);
	snprintf(path, sizeof path, "%s/agent.db", dir);
	struct run r = {.base = event_base_new(), .total = total, .serial = serial, .window = serial ? 1 : 4096};
	struct store_config cfg = {.path = path, .sync = sync};
	if (store_open(&r.s, &cfg) || store_start(r.s, r.base))
		exit(1);
	uint64_t t0 = port_now_ns();
	while (r.next < r.window && r.next < r.total)
		submit_one(&r);
	event_base_dispatch(r.base);
	double s = (double)(port_now_ns() - t0) / 1e9;
	struct store_stats st;
	store_get_stats(r.s, &st);
	printf("store %-6s %-9s %7llu msgs %8.3f s %9.0f msgs/s  %6llu commits (avg %.1f, max %u per commit)\n",
	       sync == STORE_SYNC_FULL ? "FULL" : "NORMAL", serial ? "serial" : "pipelined", (unsigned long long)total, s,
	       (double)total / s, (unsigned long long)st.batches, (double)st.items / (double)st.batches,
	       st.batch_items_max);
	store_close(r.s);
	event_base_free(r.base);
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
}

int main(void)
{
	memset(payload, 'x', sizeof payload);
	bench(STORE_SYNC_FULL, true, 500);
	bench(STORE_SYNC_FULL, false, 50000);
	bench(STORE_SYNC_NORMAL, true, 2000);
	bench(STORE_SYNC_NORMAL, false, 100000);
	return 0;
}
