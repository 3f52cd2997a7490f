/* net_dial (dial.h): libevent's connect_hostname under our TLS adapter, which starts the handshake as soon
 * as the socket connects and reports one CONNECTED for both. */
#include <sys/socket.h>

#include <event2/bufferevent.h>
#include <event2/dns.h>

#include "net/dial.h"
#include "net/tls.h"

struct bufferevent *net_dial(struct event_base *base, struct evdns_base *dns, const char *host, uint16_t port,
			     struct net_tls *tls)
{
	struct bufferevent *sock = bufferevent_socket_new(base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!sock)
		return NULL;
	struct bufferevent *top = tls ? net_tls_wrap(tls, base, sock, host) : sock;
	if (!top)
		return NULL; /* net_tls_wrap freed sock */
	if (bufferevent_socket_connect_hostname(sock, dns, AF_UNSPEC, host, port) != 0) {
		bufferevent_free(top);
		return NULL;
	}
	return top;
}
