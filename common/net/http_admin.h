/* The admin HTTP endpoint: GET /metrics (Prometheus text format from a base/metrics.h registry) and
 * GET /healthz (200 "ok" or 503 with the reason from the health callback).  Nothing else: every other path
 * is 404; other methods are refused (libevent 2.1 answers 501).  Bind it to loopback unless it is behind a trusted network. */
#ifndef FERRY_NET_HTTP_ADMIN_H
#define FERRY_NET_HTTP_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct metrics;

#define NET_ADMIN_HEADERS_MAX 8192
#define NET_ADMIN_BODY_MAX 1024
#define NET_ADMIN_METRICS_MAX (32u << 20) /* rendered /metrics bytes */
#define NET_ADMIN_TIMEOUT_S 10

/* true = healthy.  On false, write a short reason into why (NUL-terminated). */
typedef bool net_health_fn(void *arg, char *why, size_t why_len);

struct net_admin;

/* metrics and health may be NULL (empty /metrics; always healthy).  0, ERR_IO (bind) or ERR_NOMEM. */
int net_admin_new(struct net_admin **out, struct event_base *base, const char *address, uint16_t port,
		  struct metrics *metrics, net_health_fn *health, void *health_arg, char *err, size_t err_len);
void net_admin_free(struct net_admin *a);
uint16_t net_admin_port(const struct net_admin *a);

#endif
