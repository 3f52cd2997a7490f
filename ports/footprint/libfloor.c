/* The library floor of a static ferry-agent: a program that pulls in what the agent links from each library
 * (SQLite with WAL, an mbedtls TLS 1.2 client/server with X.509 and CTR-DRBG, libevent listeners and
 * bufferevents with pthreads, lz4 frames) and nothing of Ferry's own.  ports/footprint/size.sh links it
 * statically and reports its stripped size, so the static-size goal can be judged before the agent uses them
 * all.  Never run; argc keeps the calls from being optimised away. */
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <event2/thread.h>
#include <lz4frame.h>
#include <mbedtls/ctr_drbg.h>
#include <mbedtls/entropy.h>
#include <mbedtls/ssl.h>
#include <mbedtls/x509_crt.h>
#include <sqlite3.h>

int main(int argc, char **argv)
{
	if (argc > 100) {
		sqlite3 *db;
		sqlite3_open_v2(argv[1], &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
		sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL);
		sqlite3_stmt *st;
		sqlite3_prepare_v2(db, argv[2], -1, &st, NULL);
		sqlite3_step(st);
		sqlite3_finalize(st);
		sqlite3_close(db);

		mbedtls_entropy_context ent;
		mbedtls_ctr_drbg_context drbg;
		mbedtls_ssl_context ssl;
		mbedtls_ssl_config conf;
		mbedtls_x509_crt crt;
		mbedtls_entropy_init(&ent);
		mbedtls_ctr_drbg_init(&drbg);
		mbedtls_ctr_drbg_seed(&drbg, mbedtls_entropy_func, &ent, NULL, 0);
		mbedtls_x509_crt_init(&crt);
		mbedtls_x509_crt_parse_file(&crt, argv[3]);
		mbedtls_ssl_config_init(&conf);
		mbedtls_ssl_config_defaults(&conf, argc & 1, MBEDTLS_SSL_TRANSPORT_STREAM, MBEDTLS_SSL_PRESET_DEFAULT);
		mbedtls_ssl_conf_ca_chain(&conf, &crt, NULL);
		mbedtls_ssl_conf_rng(&conf, mbedtls_ctr_drbg_random, &drbg);
		mbedtls_ssl_init(&ssl);
		mbedtls_ssl_setup(&ssl, &conf);
		mbedtls_ssl_handshake(&ssl);
		unsigned char buf[64];
		mbedtls_ssl_read(&ssl, buf, sizeof buf);
		mbedtls_ssl_write(&ssl, buf, sizeof buf);

		evthread_use_pthreads();
		struct event_base *base = event_base_new();
		struct evconnlistener *l = evconnlistener_new_bind(base, NULL, NULL, 0, -1, NULL, 0);
		struct bufferevent *bev = bufferevent_socket_new(base, -1, 0);
		bufferevent_enable(bev, EV_READ);
		event_base_dispatch(base);
		evconnlistener_free(l);

		char out[256];
		LZ4F_compressFrame(out, sizeof out, argv[4], 16, NULL);
		LZ4F_dctx *d;
		LZ4F_createDecompressionContext(&d, LZ4F_VERSION);
		return (int)out[0];
	}
	return 0;
}
