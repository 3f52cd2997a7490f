/* MQTT packet decoding against the generated case table (cases.h): each valid case decodes whole, re-encodes
 * byte for byte, and every truncation of it is ERR_AGAIN; each malformed case fails with its exact code.
 * Inputs are copied into exact-size heap buffers so ASan catches any read past the end. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <cmocka.h>

#include "mqtt/codec.h"

#include "cases.h"

#define NCASES (sizeof decode_cases / sizeof decode_cases[0])

static uint8_t *dup_exact(const void *p, size_t n)
{
	uint8_t *b = malloc(n ? n : 1);
	assert_non_null(b);
	memcpy(b, p, n);
	return b;
}

static int decode_copy(const struct decode_case *c, size_t n, struct mqtt_packet *pkt)
{
	uint8_t *b = dup_exact(c->data, n);
	int rc = mqtt_decode(b, n, c->version, pkt);
	free(b);
	return rc;
}

static void test_table(void **state)
{
	(void)state;
	int bad = 0;
	for (size_t i = 0; i < NCASES; i++) {
		const struct decode_case *c = &decode_cases[i];
		struct mqtt_packet pkt;
		int rc = decode_copy(c, c->len, &pkt);
		int want = c->expect ? c->expect : (int)c->len;
		if (rc != want) {
			printf("case '%s': got %d (%s), want %d (%s)\n", c->name, rc, err_name(rc), want, err_name(want));
			bad++;
		}
	}
	assert_int_equal(bad, 0);
}

/* A prefix of a packet is never a packet: the fixed header promises more (or is itself incomplete). */
static void test_truncated(void **state)
{
	(void)state;
	for (size_t i = 0; i < NCASES; i++) {
		const struct decode_case *c = &decode_cases[i];
		for (size_t n = 0; n < c->len; n++) {
			struct mqtt_packet pkt;
			int rc = decode_copy(c, n, &pkt);
			if (c->expect == 0 && rc != ERR_AGAIN)
				printf("case '%s' cut at %zu: %s\n", c->name, n, err_name(rc));
			if (c->expect == 0)
				assert_int_equal(rc, ERR_AGAIN);
			else
				assert_true(rc < 0);
		}
	}
}

/* The remaining length rewritten shorter: the body ends early.  Some packets have optional tails (PUBLISH
 * payload, 5.0 ack reason and properties, SUBSCRIBE entries) so a prefix may be valid, but then it must
 * consume exactly the new length; fixed-layout packets must fail. */
static void test_short_body(void **state)
{
	(void)state;
	for (size_t i = 0; i < NCASES; i++) {
		const struct decode_case *c = &decode_cases[i];
		if (c->expect)
			continue;
		struct mqtt_fixed hdr;
		const uint8_t *in = (const uint8_t *)c->data;
		assert_true(mqtt_frame(in, c->len, c->version, UINT32_MAX, &hdr) > 0);
		for (uint32_t k = 0; k < hdr.remaining_len; k++) {
			uint8_t *b = malloc(5 + k + 1);
			struct wbuf w;
			wbuf_init(&w, b, 5);
			wbuf_u8(&w, in[0]);
			wbuf_vbi(&w, k);
			memcpy(b + w.len, in + hdr.header_len, k);
			size_t n = w.len + k;
			uint8_t *exact = dup_exact(b, n);
			free(b);
			struct mqtt_packet pkt;
			int rc = mqtt_decode(exact, n, c->version, &pkt);
			free(exact);
			if (rc >= 0)
				assert_int_equal(rc, (int)n);
			uint8_t t = hdr.type;
			bool fixed = t == MQTT_CONNECT || t == MQTT_CONNACK || t == MQTT_PINGREQ ||
				     (c->version == MQTT_V311 && t != MQTT_PUBLISH && t != MQTT_SUBSCRIBE &&
				      t != MQTT_UNSUBSCRIBE && t != MQTT_SUBACK);
			if (fixed && rc >= 0)
				fail_msg("case '%s' with remaining length %u decoded", c->name, k);
		}
	}
}

/* Oversize: every valid packet framed against a limit one byte below its size is refused as soon as the
 * length is known (5.0 §3.1.2.11.4: the limit counts the whole packet), and accepted at its exact size. */
static void test_oversize(void **state)
{
	(void)state;
	for (size_t i = 0; i < NCASES; i++) {
		const struct decode_case *c = &decode_cases[i];
		if (c->expect)
			continue;
		struct mqtt_fixed h;
		const uint8_t *in = (const uint8_t *)c->data;
		assert_true(mqtt_frame(in, c->len, c->version, (uint32_t)c->len, &h) > 0);
		assert_int_equal(mqtt_frame(in, c->len, c->version, (uint32_t)c->len - 1, &h), ERR_MQTT_PACKET_TOO_LARGE);
		assert_int_equal(mqtt_frame(in, h.header_len, c->version, (uint32_t)c->len - 1, &h),
				 ERR_MQTT_PACKET_TOO_LARGE); /* the header alone is enough to refuse */
	}
}

static void test_roundtrip(void **state)
{
	(void)state;
	for (size_t i = 0; i < NCASES; i++) {
		const struct decode_case *c = &decode_cases[i];
		if (c->expect)
			continue;
		struct mqtt_packet pkt;
		uint8_t *in = dup_exact(c->data, c->len);
		assert_int_equal(mqtt_decode(in, c->len, c->version, &pkt), (int)c->len);
		size_t n = mqtt_packet_size(&pkt, c->version);
		if (n != c->len)
			fail_msg("case '%s': size %zu, input %zu", c->name, n, c->len);
		uint8_t *out = malloc(n);
		struct wbuf w;
		wbuf_init(&w, out, n);
		assert_int_equal(mqtt_encode(&w, &pkt, c->version), 0);
		assert_int_equal(w.len, n);
		if (memcmp(out, in, n) != 0)
			fail_msg("case '%s': re-encoding differs", c->name);
		/* One byte short of room: the writer refuses, never overflows. */
		wbuf_init(&w, out, n - 1);
		assert_int_equal(mqtt_encode(&w, &pkt, c->version), ERR_TOO_LARGE);
		free(out);
		free(in);
	}
}

static void test_frame(void **state)
{
	(void)state;
	struct mqtt_fixed h;
	const uint8_t big[] = {0x30, 0xff, 0xff, 0xff, 0x7f};
	assert_int_equal(mqtt_frame(big, 0, 4, UINT32_MAX, &h), ERR_AGAIN);
	assert_int_equal(mqtt_frame(big, 1, 4, UINT32_MAX, &h), ERR_AGAIN);
	assert_int_equal(mqtt_frame(big, 4, 4, UINT32_MAX, &h), ERR_AGAIN);
	assert_int_equal(mqtt_frame(big, 5, 4, UINT32_MAX, &h), 5);
	assert_int_equal(h.remaining_len, VBI_MAX);
	assert_int_equal(h.type, MQTT_PUBLISH);
	/* The limit counts the whole packet (5.0 §3.1.2.11.4). */
	const uint8_t p[] = {0x30, 0x0a};
	assert_int_equal(mqtt_frame(p, 2, 5, 12, &h), 2);
	assert_int_equal(mqtt_frame(p, 2, 5, 11, &h), ERR_MQTT_PACKET_TOO_LARGE);
	assert_int_equal(mqtt_frame(big, 2, 5, 1000, &h), ERR_AGAIN); /* not yet known to be too large */
	assert_int_equal(mqtt_frame(big, 3, 5, 1000, &h), ERR_AGAIN);
	assert_int_equal(mqtt_frame(big, 4, 5, 1000, &h), ERR_AGAIN);
	assert_int_equal(mqtt_frame(big, 5, 5, 1000, &h), ERR_MQTT_PACKET_TOO_LARGE);
	const uint8_t auth[] = {0xf0, 0x00};
	assert_int_equal(mqtt_frame(auth, 2, 0, 100, &h), 2);
	assert_int_equal(mqtt_frame(auth, 2, 5, 100, &h), 2);
	assert_int_equal(mqtt_frame(auth, 2, 4, 100, &h), ERR_MQTT_PACKET_TYPE);
	const uint8_t max4[] = {0x30, 0x80, 0x80, 0x80, 0x01};
	assert_int_equal(mqtt_frame(max4, 5, 4, UINT32_MAX, &h), 5);
	assert_int_equal(h.remaining_len, 1u << 21);
	const uint8_t nonmin[] = {0x30, 0x80, 0x80, 0x80, 0x00};
	assert_int_equal(mqtt_frame(nonmin, 5, 4, UINT32_MAX, &h), ERR_MQTT_REMAINING_LENGTH);
}

/* The broker's answers (docs/mqtt-codec.md has the table with the spec clauses). */
static void test_err_mapping(void **state)
{
	(void)state;
	assert_int_equal(mqtt_err_reason5(ERR_MQTT_REMAINING_LENGTH), 0x81);
	assert_int_equal(mqtt_err_reason5(ERR_MQTT_UTF8), 0x81);
	assert_int_equal(mqtt_err_reason5(ERR_MQTT_FIXED_FLAGS), 0x81);
	assert_int_equal(mqtt_err_reason5(ERR_MQTT_SUB_OPTIONS), 0x81);
	assert_int_equal(mqtt_err_reason5(ERR_MQTT_PROP_DUPLICATE), 0x82);
	assert_int_equal(mqtt_err_reason5(ERR_MQTT_TOPIC_EMPTY), 0x82);
	assert_int_equal(mqtt_err_reason5(ERR_MQTT_NO_LOCAL_SHARED), 0x82);
	assert_int_equal(mqtt_err_reason5(ERR_MQTT_RETAIN_HANDLING), 0x82);
	assert_int_equal(mqtt_err_reason5(ERR_MQTT_PROTOCOL_VERSION), 0x84);
	assert_int_equal(mqtt_err_reason5(ERR_MQTT_CLIENT_ID), 0x85);
	assert_int_equal(mqtt_err_reason5(ERR_MQTT_PACKET_TOO_LARGE), 0x95);
	assert_int_equal(mqtt_err_reason5(ERR_MQTT_TOPIC_ALIAS), 0x94);
	assert_int_equal(mqtt_err_reason5(ERR_MQTT_TOPIC_TOO_LONG), 0x90);
	assert_int_equal(mqtt_err_reason5(ERR_MQTT_FILTER_TOO_LONG), 0x8F);
	assert_int_equal(mqtt_err_connack4(ERR_MQTT_PROTOCOL_VERSION), 1);
	assert_int_equal(mqtt_err_connack4(ERR_MQTT_CLIENT_ID), 2);
	assert_int_equal(mqtt_err_connack4(ERR_MQTT_UTF8), -1);
	/* Every mapped code is one a CONNACK or DISCONNECT may carry. */
	for (int e = ERR_MQTT_REMAINING_LENGTH; e >= ERR_MQTT_PACKET_ID_STATE; e--) {
		uint8_t rc = mqtt_err_reason5(e);
		assert_true(mqtt_reason_allowed(MQTT_CONNACK, rc) || mqtt_reason_allowed(MQTT_DISCONNECT, rc));
		assert_true(rc >= 0x80);
	}
}

static void test_reasons(void **state)
{
	(void)state;
	assert_string_equal(mqtt_reason_name(0x81), "Malformed Packet");
	assert_string_equal(mqtt_reason_name_in(MQTT_DISCONNECT, 0), "Normal disconnection");
	assert_string_equal(mqtt_reason_name_in(MQTT_SUBACK, 0), "Granted QoS 0");
	assert_null(mqtt_reason_name(0x03));
	assert_true(mqtt_reason_allowed(MQTT_PUBREL, 0x92));
	assert_false(mqtt_reason_allowed(MQTT_PUBACK, 0x92));
	assert_true(mqtt_reason_allowed(MQTT_AUTH, 0x18));
	assert_false(mqtt_reason_allowed(MQTT_CONNACK, 0x18));
	int named = 0;
	for (int c = 0; c < 256; c++)
		named += mqtt_reason_name((uint8_t)c) != NULL;
	assert_int_equal(named, 43);
	assert_string_equal(mqtt_type_name(MQTT_UNSUBACK), "UNSUBACK");
}

static void test_utf8(void **state)
{
	(void)state;
	struct {
		const char *s;
		int rc;
	} t[] = {
		{"plain", 0},
		{"\xc3\xa9", 0},                      /* U+00E9 */
		{"\xef\xbf\xbf", 0},                  /* U+FFFF: a noncharacter, allowed (SHOULD NOT only) */
		{"\xf4\x8f\xbf\xbf", 0},              /* U+10FFFF */
		{"\xc1\xbf", ERR_MQTT_UTF8},          /* overlong */
		{"\xe0\x9f\xbf", ERR_MQTT_UTF8},      /* overlong 3-byte */
		{"\xf0\x8f\xbf\xbf", ERR_MQTT_UTF8},  /* overlong 4-byte */
		{"\xed\xbf\xbf", ERR_MQTT_UTF8},      /* U+DFFF surrogate */
		{"\xf4\x90\x80\x80", ERR_MQTT_UTF8},  /* U+110000 */
		{"\xf8\x88\x80\x80\x80", ERR_MQTT_UTF8},
		{"\x80", ERR_MQTT_UTF8},
		{"\xc3", ERR_MQTT_UTF8},
		{"\xc3\x28", ERR_MQTT_UTF8},
	};
	for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
		assert_int_equal(mqtt_utf8_check((const uint8_t *)t[i].s, strlen(t[i].s)), t[i].rc);
	assert_int_equal(mqtt_utf8_check((const uint8_t *)"a\0b", 3), ERR_MQTT_UTF8_NUL);
	assert_int_equal(mqtt_utf8_check((const uint8_t *)"\xc0\x80", 2), ERR_MQTT_UTF8); /* overlong NUL */
	/* The word-at-a-time ASCII path: a bad byte or a NUL at every position of a longer string. */
	uint8_t buf[40];
	for (size_t at = 0; at < sizeof buf; at++) {
		memset(buf, 'a', sizeof buf);
		assert_int_equal(mqtt_utf8_check(buf, sizeof buf), 0);
		buf[at] = 0;
		assert_int_equal(mqtt_utf8_check(buf, sizeof buf), ERR_MQTT_UTF8_NUL);
		buf[at] = 0xff;
		assert_int_equal(mqtt_utf8_check(buf, sizeof buf), ERR_MQTT_UTF8);
		buf[at] = 0x80;
		assert_int_equal(mqtt_utf8_check(buf, sizeof buf), ERR_MQTT_UTF8);
		if (at + 2 <= sizeof buf) {
			memcpy(buf + at, "\xc3\xa9", 2);
			assert_int_equal(mqtt_utf8_check(buf, sizeof buf), 0);
			assert_int_equal(mqtt_utf8_check(buf, at + 1), ERR_MQTT_UTF8); /* cut inside */
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),     cmocka_unit_test(test_truncated), cmocka_unit_test(test_short_body),
		cmocka_unit_test(test_roundtrip), cmocka_unit_test(test_frame),     cmocka_unit_test(test_err_mapping),
		cmocka_unit_test(test_oversize),
		cmocka_unit_test(test_reasons),   cmocka_unit_test(test_utf8),
	};
	return cmocka_run_group_tests_name("mqtt/packets", tests, NULL, NULL);
}
