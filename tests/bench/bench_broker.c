/* MQTT broker load tool: drives any MQTT 3.1.1/5.0 broker (ferry-agent, mosquitto) with the same load and
 * prints figures; tests/bench/25-broker-vs-mosquitto.sh runs it against both.  Never asserts a timing.
 *
 *   bench_broker --port P [--pubs N] [--subs M] [--qos 0|1] [--count MSGS] [--size BYTES] [--rate MSGS_PER_S]
 *                [--window INFLIGHT] [--version 4|5] [--label NAME] [--persistent]
 *   bench_broker --port P --idle CONNS [--seconds S]     open CONNS idle MQTT connections, hold them S seconds
 *
 * Load: M subscribers on "bench/#", N publishers on "bench/<i>", COUNT messages in total of SIZE bytes each
 * (the first 8 carry the send time).  --rate 0 sends as fast as the broker takes them (QoS 1: WINDOW
 * unacknowledged per publisher; QoS 0: paced by TCP backpressure), else paces the publishers to RATE msgs/s
 * in total, for latency.  --persistent: the subscribers keep persistent sessions (3.1.1 clean session 0, 5.0
 * session expiry 60 s), so a broker that stores before acknowledging does so for every message.  Figures: messages delivered per second (deliveries = COUNT x M), loss, and
 * end-to-end latency percentiles (publisher send -> subscriber receive, one clock).
 * One thread, libevent; the codec of common/mqtt frames and builds the packets. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>

#include "base/hist.h"
#include "mqtt/codec.h"
#include "port.h"

#define PAYLOAD_MAX 65536
#define OUT_HIGH (256 * 1024)

struct bconn {
	struct bench *bn;
	struct bufferevent *bev;
	int index;
	bool pub, connected, subscribed;
	uint64_t to_send, sent, acked;
	uint16_t next_id;
};

struct bench {
	struct event_base *base;
	const char *host, *label;
	int port, pubs, subs, qos, size, window, version, idle, seconds;
	bool persistent; /* subscribers keep persistent sessions: the broker must store what it queues */
	uint64_t count, rate;
	struct bconn *conns;
	int nconns, connacks, subacks;
	uint64_t received, expected;
	uint64_t start_ns, last_rx_ns, started;
	uint64_t paced; /* messages sent under --rate */
	struct hist lat_us;
	struct event *pace, *watchdog;
	bool sending;
	uint8_t payload[PAYLOAD_MAX];
};

static void send_packet(struct bconn *c, const struct mqtt_packet *p)
{
	uint8_t buf[PAYLOAD_MAX + 256];
	struct wbuf w;
	wbuf_init(&w, buf, sizeof buf);
	if (mqtt_encode(&w, p, (uint8_t)c->bn->version) == 0)
		bufferevent_write(c->bev, buf, w.len);
}

static void publish_some(struct bconn *c)
{
	struct bench *bn = c->bn;
	struct evbuffer *out = bufferevent_get_output(c->bev);
	while (c->sent < c->to_send && evbuffer_get_length(out) < OUT_HIGH) {
		if (bn->qos && c->sent - c->acked >= (uint64_t)bn->window)
			return;
		if (bn->rate && !bn->sending)
			return;
		uint64_t now = port_now_ns();
		memcpy(bn->payload, &now, sizeof now);
		char topic[32];
		snprintf(topic, sizeof topic, "bench/%d", c->index);
		struct mqtt_packet p = {.type = MQTT_PUBLISH};
		p.u.publish.topic = mqtt_cstr(topic);
		p.u.publish.payload = (struct mqtt_bytes){bn->payload, (uint32_t)bn->size};
		p.u.publish.qos = (uint8_t)bn->qos;
		if (bn->qos) {
			if (++c->next_id == 0)
				c->next_id = 1;
			p.u.publish.packet_id = c->next_id;
		}
		send_packet(c, &p);
		c->sent++;
		if (bn->rate)
			return; /* one per pace tick slot */
	}
}

static void on_packet(struct bconn *c, const uint8_t *pkt, size_t len)
{
	struct bench *bn = c->bn;
	struct mqtt_packet p;
	if (mqtt_decode(pkt, len, (uint8_t)bn->version, &p) < 0) {
		fprintf(stderr, "bench: undecodable packet from the broker\n");
		exit(1);
	}
	switch (p.type) {
	case MQTT_CONNACK:
		c->connected = true;
		bn->connacks++;
		if (!c->pub && !bn->idle) {
			struct mqtt_sub_entry e = {mqtt_cstr("bench/#"), (uint8_t)bn->qos};
			struct mqtt_packet s = {.type = MQTT_SUBSCRIBE};
			s.u.subscribe.packet_id = 1;
			s.u.subscribe.list = &e;
			s.u.subscribe.count = 1;
			send_packet(c, &s);
		}
		break;
	case MQTT_SUBACK:
		bn->subacks++;
		break;
	case MQTT_PUBACK:
		c->acked++;
		publish_some(c);
		break;
	case MQTT_PUBLISH: {
		uint64_t now = port_now_ns(), sent;
		if (p.u.publish.payload.len >= sizeof sent) {
			memcpy(&sent, p.u.publish.payload.ptr, sizeof sent);
			hist_record(&bn->lat_us, now > sent ? (now - sent) / 1000 : 0);
		}
		bn->received++;
		bn->last_rx_ns = now;
		if (p.u.publish.qos == 1) {
			struct mqtt_packet a = {.type = MQTT_PUBACK};
			a.u.ack.packet_id = p.u.publish.packet_id;
			send_packet(c, &a);
		}
		if (bn->received >= bn->expected)
			event_base_loopbreak(bn->base);
		break;
	}
	default:
		break;
	}
}

static void on_read(struct bufferevent *bev, void *arg)
{
	struct bconn *c = arg;
	struct evbuffer *in = bufferevent_get_input(bev);
	for (;;) {
		size_t avail = evbuffer_get_length(in);
		uint8_t hdr[5];
		size_t n = avail < 5 ? avail : 5;
		if (n < 2)
			return;
		evbuffer_copyout(in, hdr, n);
		struct mqtt_fixed fh;
		int rc = mqtt_frame(hdr, n, (uint8_t)c->bn->version, UINT32_MAX, &fh);
		if (rc == ERR_AGAIN)
			return;
		if (rc < 0) {
			fprintf(stderr, "bench: bad frame from the broker: %s\n", err_str(rc));
			exit(1);
		}
		size_t total = (size_t)fh.header_len + fh.remaining_len;
		if (avail < total)
			return;
		on_packet(c, evbuffer_pullup(in, (ev_ssize_t)total), total);
		evbuffer_drain(in, total);
	}
}

static void on_write(struct bufferevent *bev, void *arg)
{
	(void)bev;
	struct bconn *c = arg;
	if (c->pub && c->bn->started)
		publish_some(c);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)bev;
	struct bconn *c = arg;
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR)) {
		fprintf(stderr, "bench: connection %d closed by the broker\n", c->index);
		exit(1);
	}
}

static void open_conn(struct bench *bn, struct bconn *c, int index, bool pub)
{
	c->bn = bn;
	c->index = index;
	c->pub = pub;
	struct sockaddr_in sin = {0};
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)bn->port);
	inet_pton(AF_INET, bn->host, &sin.sin_addr);
	c->bev = bufferevent_socket_new(bn->base, -1, BEV_OPT_CLOSE_ON_FREE);
	bufferevent_setcb(c->bev, on_read, on_write, on_event, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, OUT_HIGH / 2, 0);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	if (bufferevent_socket_connect(c->bev, (struct sockaddr *)&sin, sizeof sin) < 0) {
		perror("connect");
		exit(1);
	}
	int one = 1;
	setsockopt(bufferevent_getfd(c->bev), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	char id[48];
	if (!pub && bn->persistent) /* the same session on every run: nothing left behind to fill up */
		snprintf(id, sizeof id, "bench-psub-%d", index);
	else
		snprintf(id, sizeof id, "bench-%s-%d-%d", pub ? "pub" : bn->idle ? "idle" : "sub", index, (int)getpid());
	struct mqtt_packet p = {.type = MQTT_CONNECT};
	p.u.connect.version = (uint8_t)bn->version;
	p.u.connect.clean_start = pub || !bn->persistent;
	if (!pub && bn->persistent && bn->version == 5)
		mqtt_prop_set_num(&p.u.connect.props, MQTT_PROP_SESSION_EXPIRY, 60);
	p.u.connect.keep_alive_s = 300;
	p.u.connect.client_id = mqtt_cstr(id);
	send_packet(c, &p);
}

/* Run the loop until cond holds or ms pass. */
static bool wait_for(struct bench *bn, int *counter, int target, int ms)
{
	uint64_t end = port_now_ms() + (uint64_t)ms;
	while (*counter < target && port_now_ms() < end)
		event_base_loop(bn->base, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(200);
	return *counter >= target;
}

static void pace_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct bench *bn = arg;
	/* Timers fire late; send what the elapsed time calls for, round robin over the publishers. */
	uint64_t due = (port_now_ns() - bn->start_ns) / 1000 * bn->rate / 1000000;
	bn->sending = true;
	while (bn->paced < due && bn->paced < bn->count) {
		struct bconn *c = &bn->conns[bn->subs + (int)(bn->paced % (uint64_t)bn->pubs)];
		uint64_t before = c->sent;
		publish_some(c);
		if (c->sent == before)
			break; /* that publisher's window or socket is full: catch up on the next tick */
		bn->paced++;
	}
	bn->sending = false;
}

static void watchdog_cb(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	struct bench *bn = arg;
	uint64_t now = port_now_ns();
	uint64_t since = bn->last_rx_ns ? bn->last_rx_ns : bn->start_ns;
	if (now - since > (bn->started ? 3000000000ull : 15000000000ull))
		event_base_loopbreak(bn->base); /* nothing for 3 s: the rest is lost */
}

static int run_idle(struct bench *bn)
{
	bn->conns = calloc((size_t)bn->idle, sizeof *bn->conns);
	for (int i = 0; i < bn->idle; i++) {
		open_conn(bn, &bn->conns[i], i, false);
		if (i % 200 == 199)
			wait_for(bn, &bn->connacks, i + 1, 5000);
	}
	if (!wait_for(bn, &bn->connacks, bn->idle, 20000)) {
		fprintf(stderr, "bench: only %d of %d idle connections accepted\n", bn->connacks, bn->idle);
		return 1;
	}
	printf("idle %d connected\n", bn->idle);
	fflush(stdout);
	uint64_t end = port_now_ms() + (uint64_t)bn->seconds * 1000;
	while (port_now_ms() < end)
		event_base_loop(bn->base, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(10000);
	return 0;
}

/* Publishers run in a child process so that they and the subscribers do not share one thread: otherwise a
 * flat-out publisher starves the subscriber's reads and the tool, not the broker, sets the pace.  Both
 * processes read the same monotonic clock, so latency is still publisher send -> subscriber receive. */
static int run_publishers(struct bench *bn, int start_fd)
{
	bn->base = event_base_new();
	for (int i = 0; i < bn->pubs; i++) {
		struct bconn *c = &bn->conns[bn->subs + i];
		open_conn(bn, c, i, true);
		c->to_send = bn->count / (uint64_t)bn->pubs + ((uint64_t)i < bn->count % (uint64_t)bn->pubs);
	}
	if (!wait_for(bn, &bn->connacks, bn->pubs, 10000)) {
		fprintf(stderr, "bench: publishers not ready\n");
		return 1;
	}
	bn->start_ns = port_now_ns();
	if (write(start_fd, &bn->start_ns, sizeof bn->start_ns) != sizeof bn->start_ns)
		return 1;
	bn->started = 1;
	struct timeval ms = {0, 1000};
	if (bn->rate) {
		bn->pace = event_new(bn->base, -1, EV_PERSIST, pace_cb, bn);
		event_add(bn->pace, &ms);
	} else {
		for (int i = 0; i < bn->pubs; i++)
			publish_some(&bn->conns[bn->subs + i]);
	}
	/* Done when everything is sent (and, for QoS 1, acknowledged) and written out. */
	for (;;) {
		bool done = true;
		for (int i = 0; i < bn->pubs && done; i++) {
			struct bconn *c = &bn->conns[bn->subs + i];
			done = c->sent == c->to_send && (!bn->qos || c->acked == c->sent) &&
			       evbuffer_get_length(bufferevent_get_output(c->bev)) == 0;
		}
		if (done)
			break;
		event_base_loop(bn->base, EVLOOP_ONCE);
	}
	usleep(200000); /* let the broker see the last bytes before the sockets close */
	return 0;
}

static void on_start(evutil_socket_t fd, short what, void *arg)
{
	(void)what;
	struct bench *bn = arg;
	if (read(fd, &bn->start_ns, sizeof bn->start_ns) == sizeof bn->start_ns)
		bn->started = 1;
}

static int run_load(struct bench *bn)
{
	bn->nconns = bn->subs + bn->pubs;
	bn->conns = calloc((size_t)bn->nconns, sizeof *bn->conns);
	for (int i = 0; i < bn->subs; i++)
		open_conn(bn, &bn->conns[i], i, false);
	if (!wait_for(bn, &bn->subacks, bn->subs, 10000)) {
		fprintf(stderr, "bench: subscribers not ready\n");
		return 1;
	}
	int fds[2];
	if (pipe(fds) != 0)
		return 1;
	fflush(stdout);
	pid_t child = fork();
	if (child < 0)
		return 1;
	if (child == 0) {
		close(fds[0]);
		_exit(run_publishers(bn, fds[1]));
	}
	close(fds[1]);
	bn->expected = bn->count * (uint64_t)bn->subs;
	struct event *start = event_new(bn->base, fds[0], EV_READ, on_start, bn);
	event_add(start, NULL);
	bn->start_ns = port_now_ns();
	struct timeval sec = {1, 0};
	bn->watchdog = event_new(bn->base, -1, EV_PERSIST, watchdog_cb, bn);
	event_add(bn->watchdog, &sec);
	event_base_dispatch(bn->base);
	int status = 0;
	waitpid(child, &status, 0);
	event_free(start);
	close(fds[0]);
	uint64_t end = bn->last_rx_ns ? bn->last_rx_ns : port_now_ns();
	double secs = (double)(end - bn->start_ns) / 1e9;
	/* More than expected: QoS 1 resends into a resumed persistent session (at least once). */
	double loss = bn->expected && bn->received < bn->expected
			      ? 100.0 * (double)(bn->expected - bn->received) / (double)bn->expected
			      : 0;
	printf("%-10s%s qos=%d pubs=%-2d subs=%-2d rate=%-6llu delivered=%llu/%llu loss=%.2f%% secs=%.2f msgs/s=%.0f "
	       "p50_us=%llu p99_us=%llu p999_us=%llu%s\n",
	       bn->label, bn->persistent ? " persistent" : "", bn->qos, bn->pubs, bn->subs, (unsigned long long)bn->rate, (unsigned long long)bn->received,
	       (unsigned long long)bn->expected, loss, secs, secs > 0 ? (double)bn->received / secs : 0,
	       (unsigned long long)hist_percentile(&bn->lat_us, 50), (unsigned long long)hist_percentile(&bn->lat_us, 99),
	       (unsigned long long)hist_percentile(&bn->lat_us, 99.9),
	       WIFEXITED(status) && WEXITSTATUS(status) == 0 ? "" : " (publishers failed)");
	return 0;
}

int main(int argc, char **argv)
{
	static struct bench bn;
	bn.host = "127.0.0.1";
	bn.label = "broker";
	bn.pubs = bn.subs = 1;
	bn.size = 100;
	bn.count = 100000;
	bn.window = 64;
	bn.version = 4;
	bn.seconds = 5;
	static const struct option opts[] = {
		{"host", 1, 0, 'h'}, {"port", 1, 0, 'p'}, {"pubs", 1, 0, 'P'}, {"subs", 1, 0, 'S'},
		{"qos", 1, 0, 'q'}, {"count", 1, 0, 'n'}, {"size", 1, 0, 's'}, {"rate", 1, 0, 'r'},
		{"window", 1, 0, 'w'}, {"version", 1, 0, 'v'}, {"label", 1, 0, 'l'}, {"idle", 1, 0, 'i'},
		{"seconds", 1, 0, 't'}, {"persistent", 0, 0, 'k'}, {0, 0, 0, 0},
	};
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 'h': bn.host = optarg; break;
		case 'p': bn.port = atoi(optarg); break;
		case 'P': bn.pubs = atoi(optarg); break;
		case 'S': bn.subs = atoi(optarg); break;
		case 'q': bn.qos = atoi(optarg); break;
		case 'n': bn.count = strtoull(optarg, NULL, 10); break;
		case 's': bn.size = atoi(optarg); break;
		case 'r': bn.rate = strtoull(optarg, NULL, 10); break;
		case 'w': bn.window = atoi(optarg); break;
		case 'v': bn.version = atoi(optarg); break;
		case 'l': bn.label = optarg; break;
		case 'i': bn.idle = atoi(optarg); break;
		case 't': bn.seconds = atoi(optarg); break;
		case 'k': bn.persistent = true; break;
		default: return 2;
		}
	}
	if (!bn.port) {
		/* `make bench` runs every bench binary bare; the comparison script gives it a broker. */
		printf("bench_broker: needs --port; tests/bench/25-broker-vs-mosquitto.sh runs it against ferry-agent "
		       "and mosquitto\n");
		return 0;
	}
	if (bn.pubs < 1 || bn.subs < 0 || bn.qos < 0 || bn.qos > 1 || bn.size < 8 || bn.size > PAYLOAD_MAX ||
	    bn.window < 1 || (bn.version != 4 && bn.version != 5)) {
		fprintf(stderr, "bench_broker: bad arguments\n");
		return 2;
	}
	memset(bn.payload, 'x', sizeof bn.payload);
	hist_init(&bn.lat_us);
	bn.base = event_base_new();
	int rc = bn.idle ? run_idle(&bn) : run_load(&bn);
	for (int i = 0; i < (bn.idle ? bn.idle : bn.nconns); i++)
		if (bn.conns[i].bev)
			bufferevent_free(bn.conns[i].bev);
	free(bn.conns);
	if (bn.pace)
		event_free(bn.pace);
	if (bn.watchdog)
		event_free(bn.watchdog);
	event_base_free(bn.base);
	return rc;
}
