/* Blocking socket helpers for the Kafka test tools (not the client core: no event loop, no timeouts beyond
 * SO_RCVTIMEO).  Header-only so each tool stays one file. */
#ifndef FERRY_TESTS_KAFKA_TOOL_IO_H
#define FERRY_TESTS_KAFKA_TOOL_IO_H

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/rw.h"
#include "kafka/proto.h"

static inline int tool_connect(const char *hostport)
{
	char host[64];
	snprintf(host, sizeof host, "%s", hostport);
	char *colon = strrchr(host, ':');
	if (!colon)
		return -1;
	*colon = 0;
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)atoi(colon + 1)) };
	if (inet_pton(AF_INET, host, &sa.sin_addr) != 1)
		return -1;
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct timeval tv = { .tv_sec = 10 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	int one = 1;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

static inline int tool_write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t w = write(fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static inline int tool_read_all(int fd, uint8_t *p, size_t n)
{
	while (n) {
		ssize_t r = read(fd, p, n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return -1;
		p += r;
		n -= (size_t)r;
	}
	return 0;
}

/* Read one frame (prefix included) into buf; returns its total length or -1. */
static inline long tool_read_frame(int fd, uint8_t *buf, size_t cap)
{
	if (tool_read_all(fd, buf, 4) < 0)
		return -1;
	size_t body = be32_get(buf);
	if (body > INT32_MAX || body > cap - 4 || tool_read_all(fd, buf + 4, body) < 0)
		return -1;
	return (long)(4 + body);
}

/* One request, one response, decoded into resp (arena-backed).  Returns 0 or a negative error. */
static inline int tool_rpc(int fd, const struct kafka_request_header *h, const void *req, uint8_t *buf, size_t cap,
		    union kafka_any_response *resp, struct kafka_arena *a)
{
	int n = kafka_request_encode(h, req, buf, cap);
	if (n < 0)
		return n;
	if (tool_write_all(fd, buf, (size_t)n) < 0)
		return ERR_IO;
	long r = tool_read_frame(fd, buf, cap);
	if (r < 0)
		return ERR_IO;
	int32_t corr;
	int rc = kafka_response_decode(buf + 4, (size_t)r - 4, h->api_key, h->api_version, &corr, resp, a);
	if (rc == 0 && corr != h->correlation_id)
		rc = ERR_PROTOCOL;
	return rc;
}

#endif
