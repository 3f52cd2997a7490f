/* Helpers for any bufferevent stack the net layer builds: a socket, TLS over it, WebSocket over either.
 * Upper layers (the MQTT session, the Kafka client) use these instead of knowing which stack they hold. */
#ifndef FERRY_NET_BEV_H
#define FERRY_NET_BEV_H

#include <stdint.h>

struct bufferevent;

/* Enable reading and make every layer process what is already buffered below it: libevent 2.1 filters only
 * run on new bytes from the socket, so a reader that paused with bufferevent_disable(EV_READ) must resume
 * with this, or a message already received can sit unread.  The read callback may then run with nothing new.
 * Do not use read high watermarks on filter stacks; pause and resume instead. */
void net_bev_resume_read(struct bufferevent *bev);

typedef void net_closed_fn(void *arg);
/* Graceful close: stop reading, send what is queued at every layer (WebSocket: then a close frame 1000;
 * TLS: then a close_notify), free bev when the socket has taken it all, then call done (may be NULL).  Gives
 * up and frees after timeout_ms, or at once on a socket error.  Takes ownership of bev.  Freeing a
 * bufferevent directly discards unsent output: a last reply (a CONNACK with an error, the end of a TLS
 * handshake, an HTTP error answer) would never arrive. */
void net_bev_close_after_flush(struct bufferevent *bev, uint64_t timeout_ms, net_closed_fn *done, void *arg);

#endif
