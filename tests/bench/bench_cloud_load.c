/* ferry-cloud load tool (librdkafka): produce and consume throughput for 100 B and 1 KB records, uncompressed
 * and lz4, acks=1 and acks=all, then produce latency percentiles at a fixed rate, printed beside this machine's
 * loopback TCP bandwidth and fsync rate measured in the same run.
 *
 *   bench_cloud_load [-b host:port] [-n RECORDS_100B] [-q]
 *
 * Without -b it starts $FERRY_BUILD/ferry-cloud (default ./build) on a free port with a temporary data
 * directory, and stops it at the end.  Figures only: it never asserts a timing.  Method: docs/benchmarks.md. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>

#include "base/hist.h"
#include "port.h"

static char bootstrap[64];
static int64_t delivered, failed;
static struct hist lat;
static bool record_latency;

static void dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	(void)rk, (void)opaque;
	if (m->err) {
		failed++;
		return;
	}
	delivered++;
	if (record_latency)
		hist_record(&lat, port_now_ns() - (uint64_t)(uintptr_t)m->_private);
}

static rd_kafka_t *producer(const char *codec, const char *acks, const char *linger)
{
	char err[256];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	const char *kv[][2] = {{"bootstrap.servers", bootstrap}, {"compression.codec", codec}, {"acks", acks},
			       {"linger.ms", linger}, {"batch.size", "1000000"}, {"queue.buffering.max.messages", "1000000"},
			       {"queue.buffering.max.kbytes", "1048576"}, {"enable.idempotence", "false"}};
	for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
		if (rd_kafka_conf_set(c, kv[i][0], kv[i][1], err, sizeof err) != RD_KAFKA_CONF_OK) {
			fprintf(stderr, "%s: %s\n", kv[i][0], err);
			exit(2);
		}
	rd_kafka_conf_set_dr_msg_cb(c, dr_cb);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, c, err, sizeof err);
	if (!rk) {
		fprintf(stderr, "producer: %s\n", err);
		exit(2);
	}
	return rk;
}

/* Payload that compresses like typical telemetry (JSON-ish text with changing numbers), ~2-3x with lz4. */
static void fill(char *p, size_t len, uint64_t i)
{
	size_t o = 0;
	while (o < len) {
		int n = snprintf(p + o, len - o + 1, "{\"dev\":\"sensor-%03" PRIu64 "\",\"t\":%" PRIu64 ",\"v\":%" PRIu64 "}",
				 (i * 7 + o) % 977, i + o, (i * 2654435761u + o) % 100000);
		if (n <= 0)
			break;
		o += (size_t)n;
	}
}

#define PAYLOADS 1024 /* distinct payloads, made before the clock starts */

static pid_t broker_pid;

/* CPU seconds the broker process has used (user + system), when we started it; 0 otherwise. */
static double broker_cpu_s(void)
{
	if (broker_pid <= 0)
		return 0;
	char path[64], line[1024];
	snprintf(path, sizeof path, "/proc/%d/stat", (int)broker_pid);
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	size_t n = fread(line, 1, sizeof line - 1, f);
	fclose(f);
	line[n] = 0;
	char *p = strrchr(line, ')');
	unsigned long ut = 0, st = 0;
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
		return 0;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static void report(const char *op, size_t size, const char *codec, const char *acks, uint64_t n, uint64_t bytes,
		   double s, double cpu, const char *note)
{
	char eff[32] = "-";
	if (cpu > 0)
		snprintf(eff, sizeof eff, "%.0f", (double)bytes / cpu / 1e6);
	printf("| %s | %4zu B | %-4s | %-3s | %8.1f | %10.0f | %6s | %s |\n", op, size, codec, acks,
	       (double)bytes / s / 1e6, (double)n / s, eff, note);
	fflush(stdout);
}

static void produce_run(const char *topic, size_t size, uint64_t count, const char *codec, const char *acks)
{
	rd_kafka_t *rk = producer(codec, acks, "5");
	rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
	char *bufs = malloc((size + 1) * PAYLOADS);
	for (uint64_t i = 0; i < PAYLOADS; i++)
		fill(bufs + i * (size + 1), size, i);
	delivered = failed = 0;
	double cpu0 = broker_cpu_s();
	uint64_t t0 = port_now_ns();
	for (uint64_t i = 0; i < count; i++) {
		char *buf = bufs + (i % PAYLOADS) * (size + 1);
		while (rd_kafka_produce(t, 0, RD_KAFKA_MSG_F_COPY, buf, size, NULL, 0, NULL) == -1)
			rd_kafka_poll(rk, 1);
		if ((i & 1023) == 0)
			rd_kafka_poll(rk, 0);
	}
	rd_kafka_flush(rk, 120000);
	double s = (double)(port_now_ns() - t0) / 1e9;
	char note[64];
	snprintf(note, sizeof note, "%" PRId64 " failed", failed);
	report("produce", size, codec, acks, count, count * size, s, broker_cpu_s() - cpu0, note);
	free(bufs);
	rd_kafka_topic_destroy(t);
	rd_kafka_destroy(rk);
}

static void consume_run(const char *topic, size_t size, uint64_t count, const char *codec)
{
	char err[256];
	rd_kafka_conf_t *c = rd_kafka_conf_new();
	rd_kafka_conf_set(c, "bootstrap.servers", bootstrap, err, sizeof err);
	rd_kafka_conf_set(c, "fetch.max.bytes", "52428800", err, sizeof err);
	rd_kafka_conf_set(c, "max.partition.fetch.bytes", "10485760", err, sizeof err);
	rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, c, err, sizeof err);
	rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
	rd_kafka_consume_start(t, 0, RD_KAFKA_OFFSET_BEGINNING);
	uint64_t n = 0, bytes = 0, t0 = port_now_ns();
	double cpu0 = broker_cpu_s();
	while (n < count) {
		rd_kafka_message_t *m = rd_kafka_consume(t, 0, 5000);
		if (!m)
			break;
		if (!m->err) {
			n++;
			bytes += m->len;
		}
		rd_kafka_message_destroy(m);
	}
	double s = (double)(port_now_ns() - t0) / 1e9;
	char note[64];
	snprintf(note, sizeof note, "%" PRIu64 " of %" PRIu64, n, count);
	report("consume", size, codec, "-", n, bytes, s, broker_cpu_s() - cpu0, note);
	rd_kafka_consume_stop(t, 0);
	rd_kafka_topic_destroy(t);
	rd_kafka_destroy(rk);
}

static void latency_run(const char *topic, uint32_t rate, uint32_t seconds, const char *acks)
{
	rd_kafka_t *rk = producer("none", acks, "0");
	rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
	char buf[101];
	hist_init(&lat);
	record_latency = true;
	uint64_t total = (uint64_t)rate * seconds, t0 = port_now_ns(), interval = 1000000000ull / rate;
	for (uint64_t i = 0; i < total; i++) {
		uint64_t due = t0 + i * interval;
		/* Sleep to the send time (a spinning client would steal a core from the broker on small machines). */
		for (uint64_t now = port_now_ns(); now < due; now = port_now_ns()) {
			struct timespec ts = {0, (long)(due - now)};
			nanosleep(&ts, NULL);
		}
		fill(buf, 100, i);
		rd_kafka_produce(t, 0, RD_KAFKA_MSG_F_COPY, buf, 100, NULL, 0, (void *)(uintptr_t)port_now_ns());
		rd_kafka_poll(rk, 0);
	}
	rd_kafka_flush(rk, 30000);
	record_latency = false;
	printf("| %u rec/s, 100 B, acks=%s | %.0f | %.0f | %.0f | %.0f |\n", rate, acks,
	       (double)hist_percentile(&lat, 50) / 1e3, (double)hist_percentile(&lat, 99) / 1e3,
	       (double)hist_percentile(&lat, 99.9) / 1e3, (double)lat.max / 1e3);
	fflush(stdout);
	rd_kafka_topic_destroy(t);
	rd_kafka_destroy(rk);
}

/* ---- machine baselines ---- */

struct sink {
	int fd;
	uint64_t bytes;
};

static void *sink_main(void *arg)
{
	struct sink *s = arg;
	static char buf[1 << 20];
	ssize_t n;
	while ((n = read(s->fd, buf, sizeof buf)) > 0)
		s->bytes += (uint64_t)n;
	return NULL;
}

static double loopback_mbps(void)
{
	int ls = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	if (bind(ls, (struct sockaddr *)&a, sizeof a) || listen(ls, 1) || getsockname(ls, (struct sockaddr *)&a, &al))
		return 0;
	int c = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(c, (struct sockaddr *)&a, sizeof a))
		return 0;
	struct sink s = {accept(ls, NULL, NULL), 0};
	pthread_t th;
	pthread_create(&th, NULL, sink_main, &s);
	static char buf[1 << 20];
	memset(buf, 'x', sizeof buf);
	uint64_t t0 = port_now_ns(), sent = 0;
	while (port_now_ns() - t0 < 2000000000ull) {
		ssize_t n = write(c, buf, sizeof buf);
		if (n <= 0)
			break;
		sent += (uint64_t)n;
	}
	double s_ = (double)(port_now_ns() - t0) / 1e9;
	close(c);
	pthread_join(th, NULL);
	close(s.fd);
	close(ls);
	return (double)sent / s_ / 1e6;
}

static double fsync_rate(const char *dir)
{
	char path[600];
	snprintf(path, sizeof path, "%s/fsync-probe", dir);
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	if (fd < 0)
		return 0;
	char block[4096];
	memset(block, 'f', sizeof block);
	uint64_t t0 = port_now_ns(), n = 0;
	while (port_now_ns() - t0 < 1000000000ull) {
		if (write(fd, block, sizeof block) != (ssize_t)sizeof block || fdatasync(fd))
			break;
		n++;
	}
	double s = (double)(port_now_ns() - t0) / 1e9;
	close(fd);
	unlink(path);
	return (double)n / s;
}

/* ---- the broker under test ---- */

static pid_t start_broker(const char *dir)
{
	const char *build = getenv("FERRY_BUILD") ? getenv("FERRY_BUILD") : "build";
	int s = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof a;
	bind(s, (struct sockaddr *)&a, sizeof a);
	getsockname(s, (struct sockaddr *)&a, &al);
	int port = ntohs(a.sin_port);
	close(s);
	char conf[700], bin[600];
	snprintf(conf, sizeof conf, "%s/cloud.conf", dir);
	FILE *f = fopen(conf, "w");
	if (!f)
		return -1;
	fprintf(f, "data_dir %s/var\nlog_level warn\n[listener]\nport %d\n[admin]\nport 0\n", dir, port);
	fclose(f);
	snprintf(bin, sizeof bin, "%s/ferry-cloud", build);
	snprintf(bootstrap, sizeof bootstrap, "127.0.0.1:%d", port);
	pid_t pid = fork();
	if (pid == 0) {
		execl(bin, bin, "-c", conf, (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 100; i++) {
		int c = socket(AF_INET, SOCK_STREAM, 0);
		a.sin_port = htons((uint16_t)port);
		int ok = connect(c, (struct sockaddr *)&a, sizeof a) == 0;
		close(c);
		if (ok)
			return pid;
		usleep(50000);
	}
	kill(pid, SIGKILL);
	return -1;
}

int main(int argc, char **argv)
{
	uint64_t n100 = 400000;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-b") && i + 1 < argc)
			snprintf(bootstrap, sizeof bootstrap, "%s", argv[++i]);
		else if (!strcmp(argv[i], "-n") && i + 1 < argc)
			n100 = strtoull(argv[++i], NULL, 10);
		else {
			fprintf(stderr, "usage: bench_cloud_load [-b host:port] [-n records]\n");
			return 2;
		}
	}
	char dir[] = "/tmp/ferry-bench-XXXXXX";
	if (!mkdtemp(dir))
		return 2;
	pid_t broker = 0;
	if (!bootstrap[0] && (broker_pid = broker = start_broker(dir)) < 0) {
		fprintf(stderr, "bench_cloud_load: cannot start ferry-cloud (set FERRY_BUILD)\n");
		return 2;
	}
	printf("machine: loopback TCP %.0f MB/s (one stream, 1 MiB writes); fdatasync %.0f/s (4 KiB appends, %s)\n",
	       loopback_mbps(), fsync_rate(dir), dir);
	printf("\n| op | record | codec | acks | MB/s | records/s | MB per broker CPU s | note |\n"
	       "|---|---:|---|---|---:|---:|---:|---|\n");
	static const size_t sizes[] = {100, 1024};
	static const char *codecs[] = {"none", "lz4"};
	for (int si = 0; si < 2; si++)
		for (int ci = 0; ci < 2; ci++)
			for (int ai = 0; ai < 2; ai++) {
				char topic[64];
				snprintf(topic, sizeof topic, "bench-%zu-%s-%d", sizes[si], codecs[ci], ai);
				uint64_t count = sizes[si] == 100 ? n100 : n100 / 4;
				produce_run(topic, sizes[si], count, codecs[ci], ai ? "all" : "1");
				if (ai == 0)
					consume_run(topic, sizes[si], count, codecs[ci]);
			}
	printf("\n| produce latency (us) | p50 | p99 | p99.9 | max |\n|---|---:|---:|---:|---:|\n");
	latency_run("bench-latency", 5000, 4, "1");
	latency_run("bench-latency", 5000, 4, "all");
	if (broker > 0) {
		kill(broker, SIGTERM);
		waitpid(broker, NULL, 0);
	}
	char cmd[100];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd)) {
	}
	return 0;
}
