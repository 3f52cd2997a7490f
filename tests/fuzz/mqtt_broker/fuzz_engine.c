/* libFuzzer: the broker engine driven by arbitrary byte streams on up to four connections, with time passing,
 * backpressure toggling and connections dropping.  Every connection starts with a valid CONNECT (3.1.1 or
 * 5.0, persistent or not) so that the fuzzer spends its time after it.  Invariants checked: the engine never
 * crashes or leaks (ASan), and every packet it asks to send encodes to exactly mqtt_packet_size() bytes and
 * decodes back as the same type. */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "mqtt/broker/broker.h"
#include "mqtt/codec.h"

#define CONNS 4
#define STREAM_MAX 8192

struct fconn {
	struct mqtt_client *c;
	bool closed;
	uint8_t buf[STREAM_MAX];
	size_t len;
};

static struct fconn conns[CONNS];
static uint8_t out[1 << 17];

static void f_send(void *ctx, void *io, const struct mqtt_packet *p, uint8_t version, unsigned flags)
{
	(void)ctx;
	(void)io;
	(void)flags;
	size_t size = mqtt_packet_size(p, version);
	assert(size <= sizeof out || p->type == MQTT_PUBLISH);
	if (size > sizeof out)
		return;
	struct wbuf w;
	wbuf_init(&w, out, sizeof out);
	int rc = mqtt_encode(&w, p, version);
	assert(rc == 0 && w.len == size);
	struct mqtt_packet back;
	rc = mqtt_decode(out, w.len, version, &back);
	assert(rc == (int)w.len && back.type == p->type);
}

static void f_close(void *ctx, void *io)
{
	(void)ctx;
	((struct fconn *)io)->closed = true;
}

static void f_store(void *ctx, const struct mqtt_store_op *op)
{
	(void)ctx;
	assert(op->kind <= MQTT_STORE_RX_DEL);
}

static bool f_authz(void *ctx, void *io, enum mqtt_acl_access a, struct mqtt_bytes topic)
{
	(void)ctx;
	(void)io;
	(void)a;
	return !(topic.len >= 4 && memcmp(topic.ptr, "deny", 4) == 0);
}

static void throttle(void *ctx, void *io)
{
	(void)ctx;
	(void)io;
}

static void open_conn(struct mqtt_broker *b, int i, uint8_t mode, uint64_t now)
{
	struct fconn *f = &conns[i];
	f->c = mqtt_broker_client_new(b, f, now);
	f->closed = false;
	f->len = 0;
	struct mqtt_packet p = {.type = MQTT_CONNECT};
	char id[8] = {'c', (char)('0' + i % 2), 0};
	p.u.connect.version = mode & 1 ? MQTT_V5 : MQTT_V311;
	p.u.connect.clean_start = !(mode & 2);
	p.u.connect.keep_alive_s = 5;
	p.u.connect.client_id = mqtt_cstr(id);
	if (mode & 4) {
		p.u.connect.will = true;
		p.u.connect.will_topic = mqtt_cstr("w/t");
		p.u.connect.will_payload = mqtt_cstr("bye");
		p.u.connect.will_qos = 1;
	}
	if ((mode & 1) && (mode & 2))
		mqtt_prop_set_num(&p.u.connect.props, MQTT_PROP_SESSION_EXPIRY, 60);
	if (mode & 1)
		mqtt_prop_set_num(&p.u.connect.props, MQTT_PROP_TOPIC_ALIAS_MAX, 4);
	uint8_t buf[256];
	struct wbuf w;
	wbuf_init(&w, buf, sizeof buf);
	if (mqtt_encode(&w, &p, p.u.connect.version) == 0)
		mqtt_broker_input(b, f->c, buf, w.len, now);
}

/* Frame what is buffered like agent/broker does and feed whole packets. */
static void pump(struct mqtt_broker *b, struct fconn *f, uint64_t now)
{
	size_t off = 0;
	while (!f->closed && off < f->len) {
		struct mqtt_fixed h;
		int rc = mqtt_frame(f->buf + off, f->len - off, mqtt_broker_client_version(f->c),
				    mqtt_broker_packet_size_max(b), &h);
		if (rc == ERR_AGAIN)
			break;
		if (rc < 0) {
			mqtt_broker_input_error(b, f->c, rc);
			break;
		}
		size_t total = (size_t)h.header_len + h.remaining_len;
		if (total > f->len - off)
			break;
		mqtt_broker_input(b, f->c, f->buf + off, total, now);
		off += total;
	}
	memmove(f->buf, f->buf + off, f->len - off);
	f->len -= off;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool quiet;
	if (!quiet) {
		log_set_level(LOG_ERROR);
		quiet = true;
	}
	struct mqtt_broker_config cfg;
	mqtt_broker_config_default(&cfg);
	cfg.queue_msgs_max = 8;
	cfg.inflight_max = 2;
	cfg.receive_max = 4;
	cfg.packet_size_max = STREAM_MAX;
	struct mqtt_broker_ops ops = {.send = f_send, .close = f_close, .store = f_store, .authorize = f_authz,
				      .throttle = throttle};
	uint64_t now = 1000;
	struct mqtt_broker *b = mqtt_broker_new(&cfg, &ops, NULL, now, 1700000000000);
	if (!b)
		return 0;
	memset(conns, 0, sizeof conns);
	size_t i = 0;
	while (i + 2 <= size) {
		uint8_t op = data[i++], arg = data[i++];
		int k = op >> 6;
		struct fconn *f = &conns[k];
		switch (op & 7) {
		case 0: /* open (or reopen) a connection */
			if (f->c)
				mqtt_broker_client_free(b, f->c, now);
			open_conn(b, k, arg, now);
			break;
		case 1: case 2: case 3: { /* bytes on the stream */
			size_t n = arg;
			if (n > size - i)
				n = size - i;
			if (f->c && !f->closed && f->len + n <= STREAM_MAX) {
				memcpy(f->buf + f->len, data + i, n);
				f->len += n;
				pump(b, f, now);
			}
			i += n;
			break;
		}
		case 4: /* time passes */
			now += (uint64_t)arg * 100;
			mqtt_broker_tick(b, now, 1700000000000 + (int64_t)now);
			break;
		case 5: /* backpressure */
			if (f->c && !f->closed)
				mqtt_broker_client_set_blocked(b, f->c, arg & 1, now);
			if (f->c)
				mqtt_broker_client_set_stalled(f->c, arg & 2);
			break;
		case 6: /* the connection goes away */
			if (f->c) {
				mqtt_broker_client_free(b, f->c, now);
				f->c = NULL;
			}
			break;
		case 7: /* the broker publishes */
			mqtt_broker_publish(b, mqtt_cstr(arg & 1 ? "$SYS/x" : "a/b"), mqtt_cstr("p"), arg % 3, arg & 4, now);
			break;
		}
		for (int j = 0; j < CONNS; j++) {
			if (conns[j].c && conns[j].closed) {
				mqtt_broker_client_free(b, conns[j].c, now);
				conns[j].c = NULL;
			}
		}
	}
	for (int j = 0; j < CONNS; j++)
		if (conns[j].c)
			mqtt_broker_client_free(b, conns[j].c, now);
	mqtt_broker_free(b);
	return 0;
}
