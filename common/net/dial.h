/* Outgoing connections (the agent's uplink, the Kafka client): resolve, connect, and optionally TLS, as one
 * bufferevent that raises BEV_EVENT_CONNECTED once everything is up.  Retry and backoff policy belong to the
 * caller. */
#ifndef FERRY_NET_DIAL_H
#define FERRY_NET_DIAL_H

#include <stdint.h>

struct bufferevent;
struct event_base;
struct evdns_base;
struct net_tls;

/* Connect to host:port.  host is a literal address or a name, resolved through dns without blocking (dns
 * NULL: the system resolver, which blocks; acceptable for literals and at start-up only).  With tls (a client
 * configuration) the server certificate is checked against host.  The caller enables EV_READ|EV_WRITE and
 * may write at once (bytes wait for the connection).  Errors (resolution, refused, handshake) arrive as
 * BEV_EVENT_ERROR; bound the attempt with bufferevent_set_timeouts.  NULL when the attempt fails at once. */
struct bufferevent *net_dial(struct event_base *base, struct evdns_base *dns, const char *host, uint16_t port,
			     struct net_tls *tls);

#endif
