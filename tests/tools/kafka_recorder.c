/* A small TCP recorder for Kafka golden bytes: sits between real clients and a real peer (the librdkafka mock
 * cluster), forwards every frame, and logs each one as a line
 *     <C|S> <connection> <api_key> <api_version> <hex of the frame, size prefix included>
 * (C: client request, S: server response, logged as the server sent it).  Metadata, FindCoordinator and
 * DescribeCluster answers are decoded with our codec, broker addresses rewritten to the recorder's own, and
 * re-encoded, so clients keep talking through it.
 *   kafka_recorder PORT UPSTREAM_HOST:PORT LOGFILE     (PORT 0: pick one; the port is printed on stdout) */
#include <poll.h>
#include <signal.h>

#include "kafka_tool_io.h"

#define MAX_CONN 32
#define MAX_INFLIGHT 64
#define BUF_CAP (4u << 20)

struct side {
	int fd;
	uint8_t *buf;
	size_t len;
};

struct conn {
	struct side c, s; /* client, server */
	int id;
	struct { int32_t corr; int16_t api, ver; } pending[MAX_INFLIGHT];
};

static struct conn conns[MAX_CONN];
static FILE *log_out;
static char self_host[] = "127.0.0.1";
static int self_port;
static uint8_t arena_mem[1 << 20], out_buf[BUF_CAP];

static void log_frame(char dir, int id, int api, int ver, const uint8_t *p, size_t n)
{
	fprintf(log_out, "%c %d %d %d ", dir, id, api, ver);
	for (size_t i = 0; i < n; i++)
		fprintf(log_out, "%02x", p[i]);
	fputc('\n', log_out);
	fflush(log_out);
}

static void set_addr(struct kafka_str *host, int32_t *port)
{
	*host = (struct kafka_str){ self_host, (int32_t)strlen(self_host) };
	*port = self_port;
}

/* Rewrite broker addresses in place; returns the new frame length, or 0 to forward the original bytes. */
static size_t rewrite(int api, int ver, const uint8_t *frame, size_t len)
{
	if (api != KAFKA_API_METADATA && api != KAFKA_API_FIND_COORDINATOR && api != KAFKA_API_DESCRIBE_CLUSTER)
		return 0;
	union kafka_any_response r;
	struct kafka_arena a;
	int32_t corr;
	kafka_arena_init(&a, arena_mem, sizeof arena_mem);
	int rc = kafka_response_decode(frame + 4, len - 4, (int16_t)api, (int16_t)ver, &corr, &r, &a);
	if (rc < 0) {
		fprintf(stderr, "recorder: cannot decode api %d v%d answer: %s\n", api, ver, err_name(rc));
		return 0;
	}
	if (api == KAFKA_API_METADATA)
		for (int i = 0; i < r.metadata.brokers.count; i++)
			set_addr(&r.metadata.brokers.items[i].host, &r.metadata.brokers.items[i].port);
	if (api == KAFKA_API_DESCRIBE_CLUSTER)
		for (int i = 0; i < r.describe_cluster.brokers.count; i++)
			set_addr(&r.describe_cluster.brokers.items[i].host, &r.describe_cluster.brokers.items[i].port);
	if (api == KAFKA_API_FIND_COORDINATOR) {
		set_addr(&r.find_coordinator.host, &r.find_coordinator.port);
		for (int i = 0; i < r.find_coordinator.coordinators.count; i++)
			set_addr(&r.find_coordinator.coordinators.items[i].host, &r.find_coordinator.coordinators.items[i].port);
	}
	int n = kafka_response_encode((int16_t)api, (int16_t)ver, corr, &r, out_buf, sizeof out_buf);
	return n > 0 ? (size_t)n : 0;
}

static void close_conn(struct conn *c)
{
	close(c->c.fd);
	close(c->s.fd);
	free(c->c.buf);
	free(c->s.buf);
	memset(c, 0, sizeof *c);
	c->c.fd = c->s.fd = -1;
}

/* Forward every whole frame buffered on one side; returns -1 to drop the connection. */
static int pump(struct conn *c, bool from_client)
{
	struct side *in = from_client ? &c->c : &c->s, *out = from_client ? &c->s : &c->c;
	ssize_t r = read(in->fd, in->buf + in->len, BUF_CAP - in->len);
	if (r <= 0)
		return -1;
	in->len += (size_t)r;
	size_t body;
	int rc;
	while ((rc = kafka_frame_peek(in->buf, in->len, BUF_CAP - 4, &body)) == 0) {
		size_t n = 4 + body;
		const uint8_t *f = in->buf;
		size_t fwd_len = n;
		const uint8_t *fwd = f;
		if (from_client) {
			struct kafka_request_header h;
			if (kafka_request_header_decode(f + 4, body, &h) < 0)
				return -1;
			for (int i = 0; i < MAX_INFLIGHT; i++)
				if (c->pending[i].api < 0 || i == MAX_INFLIGHT - 1) {
					c->pending[i].corr = h.correlation_id;
					c->pending[i].api = h.api_key;
					c->pending[i].ver = h.api_version;
					break;
				}
			log_frame('C', c->id, h.api_key, h.api_version, f, n);
		} else {
			int32_t corr = (int32_t)be32_get(f + 4);
			int api = -1, ver = -1;
			for (int i = 0; i < MAX_INFLIGHT; i++)
				if (c->pending[i].api >= 0 && c->pending[i].corr == corr) {
					api = c->pending[i].api;
					ver = c->pending[i].ver;
					c->pending[i].api = -1;
					break;
				}
			log_frame('S', c->id, api, ver, f, n);
			size_t m = rewrite(api, ver, f, n);
			if (m) {
				fwd = out_buf;
				fwd_len = m;
			}
		}
		if (tool_write_all(out->fd, fwd, fwd_len) < 0)
			return -1;
		memmove(in->buf, in->buf + n, in->len - n);
		in->len -= n;
	}
	return rc == ERR_AGAIN ? 0 : -1;
}

static volatile sig_atomic_t stop;
static void on_signal(int sig) { (void)sig; stop = 1; }

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: kafka_recorder PORT UPSTREAM_HOST:PORT LOGFILE\n");
		return 2;
	}
	log_out = fopen(argv[3], "a");
	if (!log_out)
		return 1;
	int lfd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(argv[1])) };
	inet_pton(AF_INET, self_host, &sa.sin_addr);
	socklen_t sl = sizeof sa;
	if (bind(lfd, (struct sockaddr *)&sa, sizeof sa) < 0 || listen(lfd, 16) < 0 ||
	    getsockname(lfd, (struct sockaddr *)&sa, &sl) < 0) {
		perror("recorder: listen");
		return 1;
	}
	self_port = ntohs(sa.sin_port);
	printf("%d\n", self_port);
	fflush(stdout);
	signal(SIGTERM, on_signal);
	signal(SIGPIPE, SIG_IGN);
	for (int i = 0; i < MAX_CONN; i++)
		conns[i].c.fd = conns[i].s.fd = -1;
	int next_id = 0;
	while (!stop) {
		struct pollfd p[1 + 2 * MAX_CONN];
		p[0] = (struct pollfd){ .fd = lfd, .events = POLLIN };
		for (int i = 0; i < MAX_CONN; i++) {
			p[1 + 2 * i] = (struct pollfd){ .fd = conns[i].c.fd, .events = POLLIN };
			p[2 + 2 * i] = (struct pollfd){ .fd = conns[i].s.fd, .events = POLLIN };
		}
		if (poll(p, 1 + 2 * MAX_CONN, 200) <= 0)
			continue;
		if (p[0].revents & POLLIN) {
			int cfd = accept(lfd, NULL, NULL);
			int slot = -1;
			for (int i = 0; i < MAX_CONN && slot < 0; i++)
				if (conns[i].c.fd < 0)
					slot = i;
			int sfd = slot >= 0 ? tool_connect(argv[2]) : -1;
			if (cfd >= 0 && sfd >= 0) {
				struct conn *c = &conns[slot];
				c->c = (struct side){ cfd, malloc(BUF_CAP), 0 };
				c->s = (struct side){ sfd, malloc(BUF_CAP), 0 };
				c->id = next_id++;
				for (int k = 0; k < MAX_INFLIGHT; k++)
					c->pending[k].api = -1;
				struct timeval tv = { 0 };
				setsockopt(sfd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
			} else {
				if (cfd >= 0)
					close(cfd);
				if (sfd >= 0)
					close(sfd);
			}
		}
		for (int i = 0; i < MAX_CONN; i++) {
			if (conns[i].c.fd < 0)
				continue;
			if ((p[1 + 2 * i].revents & (POLLIN | POLLHUP | POLLERR)) && pump(&conns[i], true) < 0) {
				close_conn(&conns[i]);
				continue;
			}
			if ((p[2 + 2 * i].revents & (POLLIN | POLLHUP | POLLERR)) && pump(&conns[i], false) < 0)
				close_conn(&conns[i]);
		}
	}
	fclose(log_out);
	return 0;
}
