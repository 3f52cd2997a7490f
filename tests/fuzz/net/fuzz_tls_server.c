/* libFuzzer target for the TLS adapter's server side: arbitrary peer bytes (a mangled ClientHello, records
 * cut anywhere) through net_tls_wrap over a bufferevent pair.  The point is our glue (BIO, filter, events,
 * freeing on error), mbedtls's parser comes along.  The certificate is made in-process at start-up: no key
 * is committed. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/ecp.h>
#include <mbedtls/pk.h>
#include <mbedtls/x509_crt.h>

#include "base/log.h"
#include "net/tls.h"
#include "port.h"

static struct event_base *base;
static struct net_tls *server;

static int rng(void *ctx, unsigned char *out, size_t len)
{
	(void)ctx;
	return port_random(out, len) ? -1 : 0;
}

static int write_file(const char *path, const unsigned char *pem)
{
	FILE *f = fopen(path, "w");
	if (!f)
		return -1;
	fputs((const char *)pem, f);
	return fclose(f);
}

/* A self-signed P-256 certificate and key in dir. */
static int make_cert(const char *cert_path, const char *key_path)
{
	mbedtls_pk_context key;
	mbedtls_x509write_cert crt;
	mbedtls_mpi serial;
	unsigned char pem[4096];
	int rc = -1;
	mbedtls_pk_init(&key);
	mbedtls_x509write_crt_init(&crt);
	mbedtls_mpi_init(&serial);
	if (mbedtls_pk_setup(&key, mbedtls_pk_info_from_type(MBEDTLS_PK_ECKEY)) ||
	    mbedtls_ecp_gen_key(MBEDTLS_ECP_DP_SECP256R1, mbedtls_pk_ec(key), rng, NULL) ||
	    mbedtls_pk_write_key_pem(&key, pem, sizeof pem) || write_file(key_path, pem))
		goto done;
	mbedtls_x509write_crt_set_subject_key(&crt, &key);
	mbedtls_x509write_crt_set_issuer_key(&crt, &key);
	mbedtls_x509write_crt_set_md_alg(&crt, MBEDTLS_MD_SHA256);
	mbedtls_mpi_lset(&serial, 1);
	if (mbedtls_x509write_crt_set_subject_name(&crt, "CN=localhost") ||
	    mbedtls_x509write_crt_set_issuer_name(&crt, "CN=localhost") ||
	    mbedtls_x509write_crt_set_serial(&crt, &serial) ||
	    mbedtls_x509write_crt_set_validity(&crt, "20200101000000", "20991231235959") ||
	    mbedtls_x509write_crt_pem(&crt, pem, sizeof pem, rng, NULL) || write_file(cert_path, pem))
		goto done;
	rc = 0;
done:
	mbedtls_mpi_free(&serial);
	mbedtls_x509write_crt_free(&crt);
	mbedtls_pk_free(&key);
	return rc;
}

static void init(void)
{
	char dir[] = "/tmp/ferry-fuzz-tls-XXXXXX", cert[64], key[64];
	if (!mkdtemp(dir))
		abort();
	snprintf(cert, sizeof cert, "%s/c.pem", dir);
	snprintf(key, sizeof key, "%s/k.pem", dir);
	if (make_cert(cert, key))
		abort();
	struct net_tls_config cfg = {.cert_file = cert, .key_file = key};
	char err[256];
	if (net_tls_new(&server, NET_TLS_SERVER, &cfg, err, sizeof err))
		abort();
	unlink(cert), unlink(key), rmdir(dir);
	base = event_base_new();
	log_set_level(LOG_ERROR);
}

static void on_event(struct bufferevent *bev, short what, void *arg)
{
	(void)what;
	*(struct bufferevent **)arg = NULL;
	bufferevent_free(bev); /* the owner frees from its callback: must be safe */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!base)
		init();
	struct bufferevent *pair[2];
	if (bufferevent_pair_new(base, BEV_OPT_CLOSE_ON_FREE, pair))
		abort();
	struct bufferevent *tls = net_tls_wrap(server, base, pair[0], NULL);
	bufferevent_setcb(tls, NULL, NULL, on_event, &tls);
	bufferevent_enable(tls, EV_READ | EV_WRITE);
	bufferevent_enable(pair[1], EV_READ | EV_WRITE);
	/* in two pieces, so a record can be cut anywhere */
	size_t cut = size ? data[0] % (size + 1) : 0;
	bufferevent_write(pair[1], data, cut);
	event_base_loop(base, EVLOOP_NONBLOCK);
	bufferevent_write(pair[1], data + cut, size - cut);
	for (int i = 0; i < 4; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	if (tls)
		bufferevent_free(tls);
	bufferevent_free(pair[1]);
	for (int i = 0; i < 2; i++)
		event_base_loop(base, EVLOOP_NONBLOCK); /* run finalizers */
	return 0;
}
