/* The one TLS adapter: mbedtls 2.28 under libevent 2.1 bufferevents, for both ends of a connection (the
 * agent's and the cloud's listeners; the agent's uplink and the Kafka client).
 *
 * Shape (after libevent 2.2's bufferevent_mbedtls.c, which Debian's 2.1 lacks): net_tls_wrap() puts a
 * bufferevent filter over a socket bufferevent.  The caller reads and writes plaintext on the filter; the
 * filter's callbacks run mbedtls between it and the socket, whose callbacks belong to this module (so the TCP
 * "connected" event is swallowed and one BEV_EVENT_CONNECTED is raised when the TLS handshake completes).
 * A handshake or record failure raises BEV_EVENT_ERROR; a peer close_notify raises BEV_EVENT_EOF.  Every
 * callback to the caller is deferred, so the caller may free the bufferevent from any of its callbacks.
 *
 * Only TLS 1.2 (mbedtls 2.28 LTS); renegotiation is off.  Servers issue session tickets; a client offers its
 * last session again to the same host name, so a reconnect skips the public-key work.  A struct net_tls is for one event-loop thread (its
 * DRBG is not locked); it is reference counted so a reloaded certificate can replace it while connections
 * made with the old one live on.  Entropy comes from port_random().  Never logs key material. */
#ifndef FERRY_NET_TLS_H
#define FERRY_NET_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "net/bev.h"

struct bufferevent;
struct event_base;

#define NET_TLS_PATH_MAX 1024
#define NET_TLS_NAME_MAX 256 /* peer identity (CN or SAN) and expected host name, bytes with the NUL */
#define NET_TLS_TICKET_LIFETIME_S 86400 /* server session tickets (RFC 5077) */

enum net_tls_role { NET_TLS_SERVER, NET_TLS_CLIENT };

enum net_tls_verify {
	NET_TLS_VERIFY_NONE,     /* server: ask no certificate.  client: insecure, for tests only */
	NET_TLS_VERIFY_OPTIONAL, /* server: ask for one; a presented certificate must verify */
	NET_TLS_VERIFY_REQUIRED, /* server: a valid client certificate is required.  client: the default */
};

struct net_tls_config {
	const char *cert_file; /* PEM chain; required for a server, optional client certificate */
	const char *key_file;  /* PEM private key matching cert_file */
	const char *key_password; /* NULL for an unencrypted key */
	const char *ca_file;   /* PEM trust anchors; a client trusts only these (CA pinning) */
	enum net_tls_verify verify;
};

struct net_tls;

/* Load the files and build an mbedtls configuration.  0 and *out (reference count 1), or ERR_CONFIG /
 * ERR_NOMEM / ERR_IO with a message naming the file in err. */
int net_tls_new(struct net_tls **out, enum net_tls_role role, const struct net_tls_config *cfg, char *err,
		size_t err_len);
void net_tls_ref(struct net_tls *t);
/* Drop a reference; connections hold their own, so this is safe with connections open. */
void net_tls_unref(struct net_tls *t);

struct net_tls_stats {
	uint64_t handshakes; /* completed */
	uint64_t resumed;    /* client: of those, resumed from the session we offered */
};
void net_tls_get_stats(const struct net_tls *t, struct net_tls_stats *out);

/* Put TLS over underlying (a socket bufferevent, connected or connecting).  Takes ownership of underlying
 * in every case: freeing the returned bufferevent frees it (and closes its socket if it was created with
 * BEV_OPT_CLOSE_ON_FREE).  hostname (client only, may be NULL with VERIFY_NONE) is sent as SNI and checked
 * against the server certificate.  The handshake starts at once; enable EV_READ (net_bev_resume_read) for
 * it to progress.  Returns NULL when out of memory (underlying is freed). */
struct bufferevent *net_tls_wrap(struct net_tls *t, struct event_base *base, struct bufferevent *underlying,
				 const char *hostname);

/* The functions below take the bufferevent from net_tls_wrap or any filter stacked on it (WebSocket over TLS). */
/* True when bev is, or runs over, a TLS layer. */
bool net_tls_is_tls(struct bufferevent *bev);
/* True once the handshake has completed on bev. */
bool net_tls_is_established(struct bufferevent *bev);
/* The verified peer certificate's subject CN, or if it has none its first DNS subjectAltName, copied into out
 * as a NUL-terminated string.  0, ERR_NOT_FOUND (no certificate or no name), ERR_TOO_LARGE, ERR_INVAL
 * (not a TLS bufferevent), ERR_STATE (handshake not done). */
int net_tls_peer_identity(struct bufferevent *bev, char *out, size_t out_len);
/* Negotiated ciphersuite name for logs; "" before the handshake or for a non-TLS bufferevent. */
const char *net_tls_cipher(struct bufferevent *bev);
/* Move all queued plaintext below (ignoring the watermark), then queue a close_notify alert; the caller frees
 * bev once the socket has sent it (net_bev_close_after_flush does all of this).  0, ERR_INVAL, ERR_STATE
 * (no handshake yet), ERR_AGAIN (plaintext could not be moved), ERR_IO. */
int net_tls_close_notify(struct bufferevent *bev);

#endif
