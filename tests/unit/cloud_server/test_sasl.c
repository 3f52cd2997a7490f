/* SASL server: PLAIN, SCRAM-SHA-256 against the RFC 7677 §3 exchange, SCRAM-SHA-512 against a client computed
 * here with mbedtls, and the ways an exchange must fail (bad proof, nonce, channel binding, unknown user). */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include <mbedtls/base64.h>
#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>

#include "base/err.h"
#include "cloud/server/sasl.h"

static int step(struct sasl_session *s, struct sasl_users *u, const char *msg, size_t len, char *out, bool *done)
{
	struct dbuf d;
	dbuf_init(&d, 8192);
	char why[128];
	int rc = sasl_session_step(s, u, (const uint8_t *)msg, len, &d, done, why, sizeof why);
	snprintf(out, 512, "%s", dbuf_str(&d));
	dbuf_deinit(&d);
	return rc;
}

static void test_plain(void **state)
{
	(void)state;
	struct sasl_users u;
	sasl_users_init(&u);
	assert_int_equal(sasl_users_add(&u, "alice", "secret"), 0);
	assert_int_equal(sasl_users_add(&u, "alice", "x"), ERR_EXISTS);
	char out[512];
	bool done;
	struct sasl_session s;
	sasl_session_init(&s);
	assert_int_equal(sasl_session_start(&s, sasl_mech_parse("PLAIN", 5)), 0);
	assert_int_equal(step(&s, &u, "\0alice\0secret", 13, out, &done), 0);
	assert_true(done);
	assert_string_equal(s.principal, "alice");
	sasl_session_deinit(&s);

	static const struct { const char *m; size_t len; } bad[] = {
		{"\0alice\0secreT", 13}, {"\0alice\0secre", 12}, {"\0bob\0secret", 11},
		{"bob\0alice\0secret", 16}, {"alice secret", 12}, {"\0alice", 6},
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		sasl_session_init(&s);
		sasl_session_start(&s, SASL_MECH_PLAIN);
		assert_int_equal(step(&s, &u, bad[i].m, bad[i].len, out, &done), ERR_AUTH);
		assert_false(done);
		/* A failed session stays failed. */
		assert_int_equal(step(&s, &u, "\0alice\0secret", 13, out, &done), ERR_STATE);
		sasl_session_deinit(&s);
	}
	sasl_session_init(&s);
	assert_int_equal(sasl_session_start(&s, sasl_mech_parse("GSSAPI", 6)), ERR_UNSUPPORTED);
	sasl_session_deinit(&s);
	sasl_users_deinit(&u);
}

/* RFC 7677 §3: user "user", password "pencil". */
static void test_scram_sha256_rfc7677(void **state)
{
	(void)state;
	struct sasl_users u;
	sasl_users_init(&u);
	assert_int_equal(sasl_users_add(&u, "user", "pencil"), 0);
	uint8_t salt[32];
	size_t sl;
	assert_int_equal(mbedtls_base64_decode(salt, sizeof salt, &sl, (const uint8_t *)"W22ZaJ0SNY7soEsUEjb6gQ==", 24), 0);
	assert_int_equal(sasl_users_set_scram(&u, "user", SASL_MECH_SCRAM_SHA256, salt, sl, 4096), 0);
	struct sasl_session s;
	sasl_session_init(&s);
	s.fixed_server_nonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
	assert_int_equal(sasl_session_start(&s, SASL_MECH_SCRAM_SHA256), 0);
	char out[512];
	bool done;
	const char *first = "n,,n=user,r=rOprNGfwEbeRWgbNEkqO";
	assert_int_equal(step(&s, &u, first, strlen(first), out, &done), 0);
	assert_false(done);
	assert_string_equal(out, "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096");
	const char *final = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
			    "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
	assert_int_equal(step(&s, &u, final, strlen(final), out, &done), 0);
	assert_true(done);
	assert_string_equal(out, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=");
	assert_string_equal(s.principal, "user");
	sasl_session_deinit(&s);

	/* The same exchange with one proof bit flipped, a wrong nonce, a wrong channel binding: refused. */
	const char *bad[] = {
		"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVU=",
		"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k1,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		"c=eSws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		"c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
	};
	for (size_t i = 0; i < 4; i++) {
		sasl_session_init(&s);
		s.fixed_server_nonce = "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0";
		sasl_session_start(&s, SASL_MECH_SCRAM_SHA256);
		assert_int_equal(step(&s, &u, first, strlen(first), out, &done), 0);
		assert_int_equal(step(&s, &u, bad[i], strlen(bad[i]), out, &done), ERR_AUTH);
		assert_false(done);
		sasl_session_deinit(&s);
	}
	/* Unknown users and malformed client-first messages are refused at the first step. */
	const char *bad_first[] = {"n,,n=nobody,r=abc", "p=tls-unique,,n=user,r=abc", "n,,r=abc", "n,,n=user", "n,,n=us=3Xer,r=a"};
	for (size_t i = 0; i < 5; i++) {
		sasl_session_init(&s);
		sasl_session_start(&s, SASL_MECH_SCRAM_SHA256);
		assert_int_equal(step(&s, &u, bad_first[i], strlen(bad_first[i]), out, &done), ERR_AUTH);
		sasl_session_deinit(&s);
	}
	sasl_users_deinit(&u);
}

/* A SCRAM client, as RFC 5802 §3 defines it, for the mechanism without a published vector. */
static void client_proof(const char *password, const char *salt64, uint32_t iters, const char *auth_message,
			 char *proof64)
{
	const mbedtls_md_info_t *md = mbedtls_md_info_from_type(MBEDTLS_MD_SHA512);
	uint8_t salt[64], salted[64], ckey[64], stored[64], sig[64], proof[64];
	size_t sl, pl;
	mbedtls_base64_decode(salt, sizeof salt, &sl, (const uint8_t *)salt64, strlen(salt64));
	mbedtls_md_context_t ctx;
	mbedtls_md_init(&ctx);
	mbedtls_md_setup(&ctx, md, 1);
	mbedtls_pkcs5_pbkdf2_hmac(&ctx, (const uint8_t *)password, strlen(password), salt, sl, iters, 64, salted);
	mbedtls_md_free(&ctx);
	mbedtls_md_hmac(md, salted, 64, (const uint8_t *)"Client Key", 10, ckey);
	mbedtls_md(md, ckey, 64, stored);
	mbedtls_md_hmac(md, stored, 64, (const uint8_t *)auth_message, strlen(auth_message), sig);
	for (int i = 0; i < 64; i++)
		proof[i] = ckey[i] ^ sig[i];
	mbedtls_base64_encode((uint8_t *)proof64, 128, &pl, proof, 64);
	proof64[pl] = 0;
}

static void test_scram_sha512_round_trip(void **state)
{
	(void)state;
	struct sasl_users u;
	sasl_users_init(&u);
	assert_int_equal(sasl_users_add(&u, "a,b=c", "pw with spaces"), 0);
	struct sasl_session s;
	sasl_session_init(&s);
	assert_int_equal(sasl_session_start(&s, sasl_mech_parse("SCRAM-SHA-512", 13)), 0);
	char out[512], salt64[128] = "", nonce[256] = "";
	bool done;
	const char *first = "n,,n=a=2Cb=3Dc,r=fyko+d2lbbFgONRv9qkxdawL";
	assert_int_equal(step(&s, &u, first, strlen(first), out, &done), 0);
	unsigned iters = 0;
	assert_int_equal(sscanf(out, "r=%255[^,],s=%127[^,],i=%u", nonce, salt64, &iters), 3);
	assert_int_equal(iters, 4096);
	assert_memory_equal(nonce, "fyko+d2lbbFgONRv9qkxdawL", 24);
	char without[512], am[2048], proof[130], final[700];
	snprintf(without, sizeof without, "c=biws,r=%s", nonce);
	snprintf(am, sizeof am, "%s,%s,%s", first + 3, out, without);
	client_proof("pw with spaces", salt64, iters, am, proof);
	snprintf(final, sizeof final, "%s,p=%s", without, proof);
	assert_int_equal(step(&s, &u, final, strlen(final), out, &done), 0);
	assert_true(done);
	assert_memory_equal(out, "v=", 2);
	assert_string_equal(s.principal, "a,b=c");
	sasl_session_deinit(&s);
	/* The wrong password gives a proof that fails. */
	sasl_session_init(&s);
	sasl_session_start(&s, SASL_MECH_SCRAM_SHA512);
	assert_int_equal(step(&s, &u, first, strlen(first), out, &done), 0);
	sscanf(out, "r=%255[^,],s=%127[^,],i=%u", nonce, salt64, &iters);
	snprintf(without, sizeof without, "c=biws,r=%s", nonce);
	snprintf(am, sizeof am, "%s,%s,%s", first + 3, out, without);
	client_proof("wrong", salt64, iters, am, proof);
	snprintf(final, sizeof final, "%s,p=%s", without, proof);
	assert_int_equal(step(&s, &u, final, strlen(final), out, &done), ERR_AUTH);
	sasl_session_deinit(&s);
	sasl_users_deinit(&u);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plain),
		cmocka_unit_test(test_scram_sha256_rfc7677),
		cmocka_unit_test(test_scram_sha512_round_trip),
	};
	return cmocka_run_group_tests_name("cloud_server/sasl", tests, NULL, NULL);
}
