/* mbedtls over libevent bufferevents (tls.h).
 *
 * Data path: the caller's bufferevent is a libevent filter whose input/output filters run mbedtls_ssl_read
 * and mbedtls_ssl_write; mbedtls's BIO callbacks move ciphertext in and out of the socket bufferevent's
 * buffers directly.  The socket bufferevent's callbacks are ours (conn_read/conn_write/conn_event): they drive
 * the handshake, then push the filter, and forward events to the caller, always deferred.  This must never
 * block, never grow a buffer past the socket's write watermark, and never call the caller synchronously. */
#include <string.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/error.h>
#include <mbedtls/oid.h>
#include <mbedtls/pk.h>
#include <mbedtls/ssl.h>
#include <mbedtls/ssl_ticket.h>
#include <mbedtls/x509_crt.h>

#include "base/err.h"
#include "base/log.h"
#include "net/tls.h"
#include "port.h"

/* Ciphertext the socket bufferevent may hold before plaintext stays queued in the caller's output buffer,
 * where the caller's backpressure check can see it. */
#define TLS_UNDER_WRITE_HIGH (64u * 1024)
#define TLS_CHUNK_MAX 16384u /* plaintext per mbedtls_ssl_write/read call: one record */

struct net_tls {
	int refs;
	enum net_tls_role role;
	enum net_tls_verify verify;
	mbedtls_ssl_config conf;
	mbedtls_ctr_drbg_context drbg;
	mbedtls_x509_crt cert, ca;
	mbedtls_pk_context key;
	mbedtls_ssl_ticket_context tickets; /* server: RFC 5077 tickets, key rotated by mbedtls */
	/* client: the last session, offered again to the same host name (one slot: a client config usually
	 * serves one cluster, and a ticket another broker does not know only costs a full handshake) */
	mbedtls_ssl_session session;
	bool have_session;
	char session_host[NET_TLS_NAME_MAX];
	struct net_tls_stats stats;
};

struct conn {
	struct net_tls *tls;
	mbedtls_ssl_context ssl;
	struct bufferevent *bev;   /* the filter the caller holds */
	struct bufferevent *under; /* the socket */
	struct event *kick;        /* deferred push after the handshake or a resume */
	bool offered_session;
	char host[NET_TLS_NAME_MAX];
	bool established, failed, closed;
	bool kick_pending; /* the kick holds a reference on bev until it runs */
};

static int entropy(void *ctx, unsigned char *out, size_t len)
{
	(void)ctx;
	return port_random(out, len) ? MBEDTLS_ERR_CTR_DRBG_ENTROPY_SOURCE_FAILED : 0;
}

static void say(char *err, size_t err_len, const char *what, const char *file, int rc)
{
	char m[128];
	mbedtls_strerror(rc, m, sizeof m);
	snprintf(err, err_len, "%s(%s): %s", what, file ? file : "", m);
}

static int load_files(struct net_tls *t, const struct net_tls_config *cfg, char *err, size_t err_len)
{
	int rc;
	if (cfg->cert_file && cfg->cert_file[0]) {
		if ((rc = mbedtls_x509_crt_parse_file(&t->cert, cfg->cert_file)) != 0)
			return say(err, err_len, "certificate", cfg->cert_file, rc), ERR_CONFIG;
		if (!cfg->key_file || !cfg->key_file[0])
			return snprintf(err, err_len, "certificate %s needs a key file", cfg->cert_file), ERR_CONFIG;
		if ((rc = mbedtls_pk_parse_keyfile(&t->key, cfg->key_file, cfg->key_password)) != 0)
			return say(err, err_len, "key", cfg->key_file, rc), ERR_CONFIG;
		if ((rc = mbedtls_pk_check_pair(&t->cert.pk, &t->key)) != 0)
			return say(err, err_len, "key does not match certificate", cfg->key_file, rc), ERR_CONFIG;
		if ((rc = mbedtls_ssl_conf_own_cert(&t->conf, &t->cert, &t->key)) != 0)
			return say(err, err_len, "certificate/key pair", cfg->cert_file, rc), ERR_CONFIG;
	} else if (t->role == NET_TLS_SERVER) {
		return snprintf(err, err_len, "a TLS listener needs a certificate and a key"), ERR_CONFIG;
	}
	if (cfg->ca_file && cfg->ca_file[0]) {
		if ((rc = mbedtls_x509_crt_parse_file(&t->ca, cfg->ca_file)) != 0)
			return say(err, err_len, "CA file", cfg->ca_file, rc), ERR_CONFIG;
		mbedtls_ssl_conf_ca_chain(&t->conf, &t->ca, NULL);
	} else if (cfg->verify != NET_TLS_VERIFY_NONE) {
		return snprintf(err, err_len, "verifying the peer needs a CA file"), ERR_CONFIG;
	}
	return 0;
}

int net_tls_new(struct net_tls **out, enum net_tls_role role, const struct net_tls_config *cfg, char *err,
		size_t err_len)
{
	static const unsigned char pers[] = "ferry-tls";
	struct net_tls *t = calloc(1, sizeof *t);
	if (!t)
		return snprintf(err, err_len, "out of memory"), ERR_NOMEM;
	t->refs = 1;
	t->role = role;
	t->verify = cfg->verify;
	mbedtls_ssl_config_init(&t->conf);
	mbedtls_ctr_drbg_init(&t->drbg);
	mbedtls_x509_crt_init(&t->cert);
	mbedtls_x509_crt_init(&t->ca);
	mbedtls_pk_init(&t->key);
	mbedtls_ssl_ticket_init(&t->tickets);
	mbedtls_ssl_session_init(&t->session);
	int rc = mbedtls_ctr_drbg_seed(&t->drbg, entropy, NULL, pers, sizeof pers - 1);
	if (rc) {
		say(err, err_len, "ctr_drbg_seed", NULL, rc);
		rc = ERR_IO;
		goto fail;
	}
	rc = mbedtls_ssl_config_defaults(&t->conf, role == NET_TLS_SERVER ? MBEDTLS_SSL_IS_SERVER : MBEDTLS_SSL_IS_CLIENT,
					 MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
	if (rc) {
		say(err, err_len, "ssl_config_defaults", NULL, rc);
		rc = ERR_CONFIG;
		goto fail;
	}
	mbedtls_ssl_conf_rng(&t->conf, mbedtls_ctr_drbg_random, &t->drbg);
	mbedtls_ssl_conf_min_version(&t->conf, MBEDTLS_SSL_MAJOR_VERSION_3, MBEDTLS_SSL_MINOR_VERSION_3);
	mbedtls_ssl_conf_renegotiation(&t->conf, MBEDTLS_SSL_RENEGOTIATION_DISABLED);
	/* X25519 first for the key exchange: several times cheaper than P-256 in mbedtls, which matters on a
	 * gateway's CPU; P-256/P-384 stay for peers without it. */
	static const mbedtls_ecp_group_id curves[] = {MBEDTLS_ECP_DP_CURVE25519, MBEDTLS_ECP_DP_SECP256R1,
						      MBEDTLS_ECP_DP_SECP384R1, MBEDTLS_ECP_DP_NONE};
	mbedtls_ssl_conf_curves(&t->conf, curves);
	/* OPTIONAL lets the handshake finish so we can tell "no certificate" from "a bad one" (handshake_done). */
	mbedtls_ssl_conf_authmode(&t->conf, cfg->verify == NET_TLS_VERIFY_NONE ? MBEDTLS_SSL_VERIFY_NONE
					    : role == NET_TLS_CLIENT || cfg->verify == NET_TLS_VERIFY_REQUIRED
						? MBEDTLS_SSL_VERIFY_REQUIRED
						: MBEDTLS_SSL_VERIFY_OPTIONAL);
	if ((rc = load_files(t, cfg, err, err_len)) != 0)
		goto fail;
	if (role == NET_TLS_SERVER) {
		/* resumption makes a reconnect cost a few symmetric operations instead of ECDHE + ECDSA */
		rc = mbedtls_ssl_ticket_setup(&t->tickets, mbedtls_ctr_drbg_random, &t->drbg, MBEDTLS_CIPHER_AES_256_GCM,
					      NET_TLS_TICKET_LIFETIME_S);
		if (rc) {
			say(err, err_len, "ssl_ticket_setup", NULL, rc);
			rc = ERR_CONFIG;
			goto fail;
		}
		mbedtls_ssl_conf_session_tickets_cb(&t->conf, mbedtls_ssl_ticket_write, mbedtls_ssl_ticket_parse,
						    &t->tickets);
	}
	*out = t;
	return 0;
fail:
	net_tls_unref(t);
	return rc;
}

void net_tls_ref(struct net_tls *t) { t->refs++; }

void net_tls_get_stats(const struct net_tls *t, struct net_tls_stats *out) { *out = t->stats; }

void net_tls_unref(struct net_tls *t)
{
	if (!t || --t->refs > 0)
		return;
	mbedtls_ssl_config_free(&t->conf);
	mbedtls_ctr_drbg_free(&t->drbg);
	mbedtls_x509_crt_free(&t->cert);
	mbedtls_x509_crt_free(&t->ca);
	mbedtls_pk_free(&t->key);
	mbedtls_ssl_ticket_free(&t->tickets);
	mbedtls_ssl_session_free(&t->session);
	free(t);
}

/* ---- BIO: ciphertext straight into and out of the socket bufferevent ---- */

static int bio_send(void *ctx, const unsigned char *buf, size_t len)
{
	struct conn *c = ctx;
	if (evbuffer_add(bufferevent_get_output(c->under), buf, len))
		return MBEDTLS_ERR_SSL_ALLOC_FAILED;
	return (int)len;
}

static int bio_recv(void *ctx, unsigned char *buf, size_t len)
{
	struct conn *c = ctx;
	int n = evbuffer_remove(bufferevent_get_input(c->under), buf, len);
	return n > 0 ? n : MBEDTLS_ERR_SSL_WANT_READ;
}

/* ---- events to the caller: always deferred, and never touch c after raising one ---- */

static void fail_conn(struct conn *c, const char *what, int rc)
{
	if (c->failed)
		return;
	c->failed = true;
	char m[128];
	mbedtls_strerror(rc, m, sizeof m);
	log_info("tls: %s: %s", what, m);
	bufferevent_trigger_event(c->bev, BEV_EVENT_ERROR | BEV_EVENT_READING, BEV_TRIG_DEFER_CALLBACKS);
}

/* Client: keep the session for the next connection to this host, and count resumptions (a resumed session
 * carries the master secret of the one we offered). */
static void remember_session(struct conn *c)
{
	struct net_tls *t = c->tls;
	t->stats.handshakes++;
	if (t->role != NET_TLS_CLIENT) {
		return;
	}
	if (c->offered_session && memcmp(c->ssl.session->master, t->session.master, sizeof t->session.master) == 0)
		t->stats.resumed++;
	mbedtls_ssl_session_free(&t->session);
	mbedtls_ssl_session_init(&t->session);
	t->have_session = mbedtls_ssl_get_session(&c->ssl, &t->session) == 0;
	snprintf(t->session_host, sizeof t->session_host, "%s", c->host);
}

static bool handshake_done(struct conn *c)
{
	const mbedtls_x509_crt *peer = mbedtls_ssl_get_peer_cert(&c->ssl);
	uint32_t flags = mbedtls_ssl_get_verify_result(&c->ssl);
	/* VERIFY_OPTIONAL: no certificate is acceptable; a certificate that does not verify is not. */
	if (c->tls->verify != NET_TLS_VERIFY_NONE && peer && flags) {
		char m[256];
		mbedtls_x509_crt_verify_info(m, sizeof m, "", flags);
		m[strcspn(m, "\n")] = '\0';
		c->failed = true;
		log_info("tls: peer certificate rejected: %s", m);
		bufferevent_trigger_event(c->bev, BEV_EVENT_ERROR | BEV_EVENT_READING, BEV_TRIG_DEFER_CALLBACKS);
		return false;
	}
	c->established = true;
	remember_session(c);
	bufferevent_trigger_event(c->bev, BEV_EVENT_CONNECTED, BEV_TRIG_DEFER_CALLBACKS);
	/* Plaintext queued during the handshake, and records that came with the last flight, move on the next
	 * loop turn: nothing else would push them.  The reference keeps bev alive if its owner frees it first. */
	if (!c->kick_pending) {
		c->kick_pending = true;
		bufferevent_incref(c->bev);
		event_active(c->kick, EV_TIMEOUT, 0);
	}
	return true;
}

static void step_handshake(struct conn *c)
{
	int rc = mbedtls_ssl_handshake(&c->ssl);
	if (rc == 0)
		handshake_done(c);
	else if (rc != MBEDTLS_ERR_SSL_WANT_READ && rc != MBEDTLS_ERR_SSL_WANT_WRITE)
		fail_conn(c, "handshake", rc);
}

/* Push the filter; if there is plaintext for the caller (new, or left from before a pause), say so. */
static void push_read(struct conn *c)
{
	bufferevent_flush(c->bev, EV_READ, BEV_NORMAL);
	if (evbuffer_get_length(bufferevent_get_input(c->bev)) > 0 && (bufferevent_get_enabled(c->bev) & EV_READ))
		bufferevent_trigger(c->bev, EV_READ, BEV_TRIG_DEFER_CALLBACKS);
}

static void conn_read(struct bufferevent *under, void *arg)
{
	struct conn *c = arg;
	(void)under;
	if (c->failed)
		return;
	if (!c->established) {
		step_handshake(c);
		if (!c->established)
			return;
	}
	push_read(c);
}

static void conn_write(struct bufferevent *under, void *arg)
{
	struct conn *c = arg;
	(void)under;
	if (c->established && !c->failed)
		bufferevent_flush(c->bev, EV_WRITE, BEV_NORMAL);
}

static void conn_event(struct bufferevent *under, short what, void *arg)
{
	struct conn *c = arg;
	(void)under;
	if (what & BEV_EVENT_CONNECTED)
		return; /* TCP is up; the caller hears CONNECTED when TLS is */
	if (c->failed)
		return;
	if (!c->established && (what & BEV_EVENT_EOF))
		what = BEV_EVENT_ERROR | BEV_EVENT_READING; /* a peer that hangs up mid-handshake failed it */
	if (what & (BEV_EVENT_EOF | BEV_EVENT_ERROR))
		c->failed = true;
	bufferevent_trigger_event(c->bev, what, BEV_TRIG_DEFER_CALLBACKS);
}

static void kick(evutil_socket_t fd, short what, void *arg)
{
	struct conn *c = arg;
	(void)fd, (void)what;
	c->kick_pending = false;
	if (!c->failed && c->established) {
		bufferevent_flush(c->bev, EV_WRITE, BEV_NORMAL);
		push_read(c);
	}
	bufferevent_decref(c->bev); /* may free bev and, through conn_free, c: touch nothing after */
}

/* ---- the filter ---- */

static enum bufferevent_filter_result filter_in(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
						enum bufferevent_flush_mode mode, void *arg)
{
	struct conn *c = arg;
	(void)src, (void)mode;
	if (!c->established || c->failed || c->closed)
		return BEV_NEED_MORE;
	size_t produced = 0;
	for (;;) {
		size_t want = TLS_CHUNK_MAX;
		if (limit >= 0) {
			if (produced >= (size_t)limit)
				break;
			if (want > (size_t)limit - produced)
				want = (size_t)limit - produced;
		}
		struct evbuffer_iovec v;
		if (evbuffer_reserve_space(dst, (ev_ssize_t)want, &v, 1) < 1)
			return BEV_ERROR;
		if (v.iov_len > want)
			v.iov_len = want;
		int n = mbedtls_ssl_read(&c->ssl, v.iov_base, v.iov_len);
		if (n > 0) {
			v.iov_len = (size_t)n;
			evbuffer_commit_space(dst, &v, 1);
			produced += (size_t)n;
			continue;
		}
		evbuffer_commit_space(dst, &v, 0);
		if (n == MBEDTLS_ERR_SSL_WANT_READ || n == MBEDTLS_ERR_SSL_WANT_WRITE)
			break;
		if (n == 0 || n == MBEDTLS_ERR_SSL_PEER_CLOSE_NOTIFY) {
			c->closed = true; /* RFC 5246 §7.2.1: the peer is done writing */
			bufferevent_trigger_event(c->bev, BEV_EVENT_EOF | BEV_EVENT_READING, BEV_TRIG_DEFER_CALLBACKS);
		} else {
			fail_conn(c, "read", n);
		}
		break;
	}
	return produced ? BEV_OK : BEV_NEED_MORE;
}

static enum bufferevent_filter_result filter_out(struct evbuffer *src, struct evbuffer *dst, ev_ssize_t limit,
						 enum bufferevent_flush_mode mode, void *arg)
{
	struct conn *c = arg;
	(void)mode;
	if (!c->established || c->failed)
		return BEV_NEED_MORE; /* stays queued; kick() pushes it after the handshake */
	size_t start = evbuffer_get_length(dst), consumed = 0;
	while (evbuffer_get_length(src) > 0) {
		if (limit >= 0 && evbuffer_get_length(dst) - start >= (size_t)limit)
			break;
		size_t n = evbuffer_get_length(src);
		if (n > TLS_CHUNK_MAX)
			n = TLS_CHUNK_MAX;
		unsigned char *p = evbuffer_pullup(src, (ev_ssize_t)n);
		if (!p)
			return BEV_ERROR;
		int w = mbedtls_ssl_write(&c->ssl, p, n);
		if (w == MBEDTLS_ERR_SSL_WANT_READ || w == MBEDTLS_ERR_SSL_WANT_WRITE)
			break;
		if (w < 0) {
			fail_conn(c, "write", w);
			return BEV_ERROR;
		}
		evbuffer_drain(src, (size_t)w);
		consumed += (size_t)w;
	}
	return consumed ? BEV_OK : BEV_NEED_MORE;
}

static void conn_free(void *arg)
{
	struct conn *c = arg;
	mbedtls_ssl_free(&c->ssl);
	if (c->kick)
		event_free(c->kick);
	net_tls_unref(c->tls);
	free(c);
}

struct bufferevent *net_tls_wrap(struct net_tls *t, struct event_base *base, struct bufferevent *underlying,
				 const char *hostname)
{
	struct conn *c = calloc(1, sizeof *c);
	if (!c)
		goto fail;
	mbedtls_ssl_init(&c->ssl);
	c->under = underlying;
	c->kick = event_new(base, -1, 0, kick, c);
	if (!c->kick || mbedtls_ssl_setup(&c->ssl, &t->conf) != 0)
		goto fail;
	if (t->role == NET_TLS_CLIENT && hostname && mbedtls_ssl_set_hostname(&c->ssl, hostname) != 0)
		goto fail;
	snprintf(c->host, sizeof c->host, "%s", hostname ? hostname : "");
	if (t->role == NET_TLS_CLIENT && t->have_session && strcmp(t->session_host, c->host) == 0)
		c->offered_session = mbedtls_ssl_set_session(&c->ssl, &t->session) == 0;
	mbedtls_ssl_set_bio(&c->ssl, c, bio_send, bio_recv, NULL);
	c->tls = t;
	net_tls_ref(t);
	c->bev = bufferevent_filter_new(underlying, filter_in, filter_out,
					BEV_OPT_CLOSE_ON_FREE | BEV_OPT_DEFER_CALLBACKS, conn_free, c);
	if (!c->bev) {
		net_tls_unref(t);
		c->tls = NULL;
		goto fail;
	}
	bufferevent_setcb(underlying, conn_read, conn_write, conn_event, c);
	bufferevent_setwatermark(underlying, EV_WRITE, 0, TLS_UNDER_WRITE_HIGH);
	if (t->role == NET_TLS_CLIENT)
		step_handshake(c); /* ClientHello waits in the socket's output until it connects */
	return c->bev;
fail:
	if (c) {
		mbedtls_ssl_free(&c->ssl);
		if (c->kick)
			event_free(c->kick);
		free(c);
	}
	bufferevent_free(underlying);
	return NULL;
}

/* The TLS layer of bev: bev itself, or a layer below it (WebSocket over TLS). */
static struct conn *conn_of(struct bufferevent *bev)
{
	for (int depth = 0; bev && depth < 4; depth++) {
		struct bufferevent *under = bufferevent_get_underlying(bev);
		if (!under)
			return NULL;
		bufferevent_data_cb rd;
		void *arg;
		bufferevent_getcb(under, &rd, NULL, NULL, &arg);
		if (rd == conn_read)
			return arg;
		bev = under;
	}
	return NULL;
}

bool net_tls_is_tls(struct bufferevent *bev) { return conn_of(bev) != NULL; }

bool net_tls_is_established(struct bufferevent *bev)
{
	struct conn *c = conn_of(bev);
	return c && c->established && !c->failed;
}

static int copy_name(const unsigned char *p, size_t len, char *out, size_t out_len)
{
	if (len == 0)
		return ERR_NOT_FOUND;
	if (len >= out_len)
		return ERR_TOO_LARGE;
	if (memchr(p, '\0', len))
		return ERR_MALFORMED; /* an embedded NUL would let "a\0b" pass as "a" */
	memcpy(out, p, len);
	out[len] = '\0';
	return 0;
}

int net_tls_peer_identity(struct bufferevent *bev, char *out, size_t out_len)
{
	struct conn *c = conn_of(bev);
	if (!c)
		return ERR_INVAL;
	if (!c->established)
		return ERR_STATE;
	const mbedtls_x509_crt *crt = mbedtls_ssl_get_peer_cert(&c->ssl);
	if (!crt)
		return ERR_NOT_FOUND;
	for (const mbedtls_x509_name *n = &crt->subject; n; n = n->next)
		if (n->oid.p && MBEDTLS_OID_CMP(MBEDTLS_OID_AT_CN, &n->oid) == 0)
			return copy_name(n->val.p, n->val.len, out, out_len);
	for (const mbedtls_x509_sequence *s = &crt->subject_alt_names; s && s->buf.p; s = s->next)
		if (s->buf.tag == (MBEDTLS_ASN1_CONTEXT_SPECIFIC | MBEDTLS_X509_SAN_DNS_NAME))
			return copy_name(s->buf.p, s->buf.len, out, out_len);
	return ERR_NOT_FOUND;
}

const char *net_tls_cipher(struct bufferevent *bev)
{
	struct conn *c = conn_of(bev);
	const char *s = c && c->established ? mbedtls_ssl_get_ciphersuite(&c->ssl) : NULL;
	return s ? s : "";
}

int net_tls_close_notify(struct bufferevent *bev)
{
	struct conn *c = conn_of(bev);
	if (!c)
		return ERR_INVAL;
	if (!c->established || c->failed)
		return ERR_STATE;
	/* all plaintext first, past the socket's watermark, then the alert: data after it would be lost */
	bufferevent_flush(c->bev, EV_WRITE, BEV_FLUSH);
	if (evbuffer_get_length(bufferevent_get_output(c->bev)) > 0)
		return ERR_AGAIN;
	int rc = mbedtls_ssl_close_notify(&c->ssl);
	return rc == 0 || rc == MBEDTLS_ERR_SSL_WANT_WRITE ? 0 : ERR_IO;
}

