/* Store-and-forward ingest load: P MQTT 3.1.1 publishers send COUNT QoS 1 messages of JSON telemetry (about
 * SIZE bytes each, like a sensor's reading) on "sensors/<dev>/telemetry", WINDOW unacknowledged each, and the
 * tool reports the durable ingest rate (PUBACK only comes after the agent's buffer committed the row).
 * tests/bench/40-uplink.sh drives it.  Prints figures; never asserts a timing.
 *
 *   bench_uplink PORT [PUBS [COUNT [SIZE [WINDOW]]]]
 *
 * One thread, poll(); CONNECT/PUBLISH hand-encoded (3.1.1), PUBACKs counted. */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include "port.h"

#define PUBS_MAX 512
#define SIZE_MAX_JSON 1024
#define OUT_CAP (64 * 1024)

struct pub {
	int fd;
	uint64_t sent, acked, quota;
	uint16_t next_id;
	uint8_t out[OUT_CAP];
	size_t out_len;
	uint8_t in[8];
	size_t in_len;
	bool connected;
};

static size_t encode_publish(uint8_t *o, const char *topic, const char *payload, size_t plen, uint16_t id)
{
	size_t tl = strlen(topic), rem = 2 + tl + 2 + plen, n = 0;
	o[n++] = 0x32;
	do {
		uint8_t b = rem % 128;
		rem /= 128;
		o[n++] = (uint8_t)(b | (rem ? 0x80 : 0));
	} while (rem);
	o[n++] = (uint8_t)(tl >> 8), o[n++] = (uint8_t)tl;
	memcpy(o + n, topic, tl), n += tl;
	o[n++] = (uint8_t)(id >> 8), o[n++] = (uint8_t)id;
	memcpy(o + n, payload, plen);
	return n + plen;
}

/* A reading as a device would send it, padded with a note field to about size bytes. */
static size_t reading(char *out, size_t size, int dev, uint64_t seq)
{
	int n = snprintf(out, SIZE_MAX_JSON, "{\"dev\":\"sensor-%04d\",\"seq\":%llu,\"ts\":%lld,\"temp\":%.2f,\"hum\":%.1f,\"ok\":true,\"n\":\"",
			 dev, (unsigned long long)seq, (long long)port_wall_ms(), 15.0 + (double)(seq % 1000) / 50.0,
			 40.0 + (double)(seq % 300) / 10.0);
	for (; (size_t)n + 2 < size && n < SIZE_MAX_JSON - 3; n++)
		out[n] = (char)('a' + (seq + (uint64_t)n) % 3);
	out[n++] = '"', out[n++] = '}';
	return (size_t)n;
}

static int connect_one(int port, int i)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a)) {
		perror("connect");
		exit(1);
	}
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	char id[32];
	int il = snprintf(id, sizeof id, "bench-uplink-%d", i);
	uint8_t c[64] = {0x10, (uint8_t)(12 + il), 0, 4, 'M', 'Q', 'T', 'T', 4, 0x02, 0, 60, 0, (uint8_t)il};
	memcpy(c + 14, id, (size_t)il);
	if (write(fd, c, 14 + (size_t)il) != 14 + il) {
		perror("write");
		exit(1);
	}
	return fd;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		/* make bench runs every bench_* bare: this one needs an agent, which tests/bench/40-uplink.sh starts */
		printf("bench_uplink PORT [PUBS [COUNT [SIZE [WINDOW]]]]: run by tests/bench/40-uplink.sh\n");
		return 0;
	}
	int port = atoi(argv[1]);
	int npub = argc > 2 ? atoi(argv[2]) : 50;
	uint64_t count = argc > 3 ? strtoull(argv[3], NULL, 10) : 100000;
	size_t size = argc > 4 ? (size_t)atoi(argv[4]) : 100;
	int window = argc > 5 ? atoi(argv[5]) : 32;
	if (npub < 1 || npub > PUBS_MAX || size < 64 || size > SIZE_MAX_JSON - 8 || window < 1 || window > 1000) {
		fprintf(stderr, "bench_uplink: bad arguments\n");
		return 2;
	}
	struct pub *p = calloc((size_t)npub, sizeof *p);
	struct pollfd *pf = calloc((size_t)npub, sizeof *pf);
	if (!p || !pf)
		return 1;
	for (int i = 0; i < npub; i++) {
		p[i].fd = connect_one(port, i);
		p[i].quota = count / (uint64_t)npub + ((uint64_t)i < count % (uint64_t)npub);
		p[i].next_id = 1;
	}
	uint64_t acked = 0, payload_bytes = 0, t0 = port_now_ns();
	char json[SIZE_MAX_JSON], topic[64];
	while (acked < count) {
		for (int i = 0; i < npub; i++) {
			struct pub *q = &p[i];
			while (q->connected && q->sent < q->quota && q->sent - q->acked < (uint64_t)window &&
			       q->out_len + SIZE_MAX_JSON + 128 < OUT_CAP) {
				size_t plen = reading(json, size, i, q->sent);
				snprintf(topic, sizeof topic, "sensors/%04d/telemetry", i);
				q->out_len += encode_publish(q->out + q->out_len, topic, json, plen, q->next_id);
				q->next_id = q->next_id == 65535 ? 1 : q->next_id + 1;
				q->sent++;
				payload_bytes += plen;
			}
			pf[i] = (struct pollfd){q->fd, (short)(POLLIN | (q->out_len ? POLLOUT : 0)), 0};
		}
		if (poll(pf, (nfds_t)npub, 10000) <= 0) {
			fprintf(stderr, "bench_uplink: stalled at %llu of %llu acknowledgements\n", (unsigned long long)acked,
				(unsigned long long)count);
			return 1;
		}
		for (int i = 0; i < npub; i++) {
			struct pub *q = &p[i];
			if (pf[i].revents & POLLOUT) {
				ssize_t n = write(q->fd, q->out, q->out_len);
				if (n > 0) {
					memmove(q->out, q->out + n, q->out_len - (size_t)n);
					q->out_len -= (size_t)n;
				}
			}
			if (pf[i].revents & (POLLIN | POLLHUP | POLLERR)) {
				uint8_t buf[4096];
				ssize_t n = read(q->fd, buf, sizeof buf);
				if (n <= 0) {
					fprintf(stderr, "bench_uplink: publisher %d: connection closed\n", i);
					return 1;
				}
				/* CONNACK and PUBACK are both 4 bytes in 3.1.1 */
				for (ssize_t k = 0; k < n; k++) {
					q->in[q->in_len++] = buf[k];
					if (q->in_len < 4)
						continue;
					if (q->in[0] == 0x20)
						q->connected = true;
					else if (q->in[0] == 0x40)
						q->acked++, acked++;
					q->in_len = 0;
				}
			}
		}
	}
	double secs = (double)(port_now_ns() - t0) / 1e9;
	printf("ingest pubs=%d count=%llu size=%zu window=%d secs=%.2f msgs/s=%.0f payload_MB/s=%.2f payload_bytes=%llu\n",
	       npub, (unsigned long long)count, size, window, secs, (double)count / secs,
	       (double)payload_bytes / secs / 1e6, (unsigned long long)payload_bytes);
	for (int i = 0; i < npub; i++)
		close(p[i].fd);
	free(p);
	free(pf);
	return 0;
}
