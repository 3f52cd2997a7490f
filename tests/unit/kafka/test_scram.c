/* SCRAM client against the RFC 7677 §3 SCRAM-SHA-256 example (user "user", password "pencil", the RFC's
 * nonces, salt and 4096 iterations): client-first, client-final with its proof, and the server signature check;
 * then the refusals (a nonce that does not extend ours, a server error, iterations out of bounds, a wrong
 * server signature) and the SHA-512 variant's shape. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "base/err.h"
#include "kafka/scram.h"

#define S(x) (const uint8_t *)(x), strlen(x)

static void test_rfc7677(void **state)
{
	(void)state;
	/* Our nonce is base64 of 18-32 random bytes; the RFC's 20-character nonce is not one of those, so after a
	 * real client_first the state is set to what it would hold with the RFC's nonce. */
	struct kafka_scram s;
	char out[KAFKA_SCRAM_MSG_MAX];
	uint8_t rnd[18] = { 1, 2, 3 };
	assert_true(kafka_scram_client_first(&s, KAFKA_SCRAM_SHA256, "user", "pencil", rnd, sizeof rnd, out, sizeof out) > 0);
	assert_int_equal(strncmp(out, "n,,n=user,r=", 12), 0);
	strcpy(s.nonce, "rOprNGfwEbeRWgbNEkqO");
	strcpy(s.client_first_bare, "n=user,r=rOprNGfwEbeRWgbNEkqO");
	const char *server_first = "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
	int n = kafka_scram_client_final(&s, S(server_first), out, sizeof out);
	assert_true(n > 0);
	assert_string_equal(out, "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
				 "p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=");
	assert_int_equal(kafka_scram_verify(&s, S("v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")), 0);
	assert_int_equal(kafka_scram_verify(&s, S("v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=")), ERR_AUTH);
	assert_int_equal(kafka_scram_verify(&s, S("e=invalid-proof")), ERR_AUTH);
	kafka_scram_wipe(&s);
}

static void test_refusals(void **state)
{
	(void)state;
	struct kafka_scram s;
	char out[KAFKA_SCRAM_MSG_MAX];
	uint8_t rnd[24];
	memset(rnd, 7, sizeof rnd);
	assert_true(kafka_scram_client_first(&s, KAFKA_SCRAM_SHA512, "a,b=c", "pw", rnd, sizeof rnd, out, sizeof out) > 0);
	assert_int_equal(strncmp(out, "n,,n=a=2Cb=3Dc,r=", 17), 0); /* saslname escaping */
	char sf[256];
	snprintf(sf, sizeof sf, "r=%sXYZ,s=QSXCR+Q6sek8bf92,i=4096", s.nonce);
	struct kafka_scram copy = s;
	int n = kafka_scram_client_final(&copy, S(sf), out, sizeof out);
	assert_true(n > 0);
	assert_non_null(strstr(out, ",p="));
	assert_int_equal(strlen(strstr(out, ",p=") + 3), 88); /* base64 of a 64-byte SHA-512 proof */
	copy = s;
	assert_int_equal(kafka_scram_client_final(&copy, S("r=someoneelse,s=QSXCR+Q6sek8bf92,i=4096"), out, sizeof out), ERR_AUTH);
	copy = s;
	assert_int_equal(kafka_scram_client_final(&copy, S("e=unknown-user"), out, sizeof out), ERR_AUTH);
	snprintf(sf, sizeof sf, "r=%sXYZ,s=QSXCR+Q6sek8bf92,i=99999999", s.nonce);
	copy = s;
	assert_int_equal(kafka_scram_client_final(&copy, S(sf), out, sizeof out), ERR_MALFORMED);
	snprintf(sf, sizeof sf, "r=%sXYZ,s=QSXCR+Q6sek8bf92,i=100", s.nonce);
	copy = s;
	assert_int_equal(kafka_scram_client_final(&copy, S(sf), out, sizeof out), ERR_RANGE);
	snprintf(sf, sizeof sf, "r=%sXYZ,i=4096", s.nonce);
	copy = s;
	assert_int_equal(kafka_scram_client_final(&copy, S(sf), out, sizeof out), ERR_MALFORMED);
	enum kafka_scram_hash h;
	assert_int_equal(kafka_scram_mechanism("SCRAM-SHA-512", &h), 0);
	assert_int_equal(h, KAFKA_SCRAM_SHA512);
	assert_int_equal(kafka_scram_mechanism("PLAIN", &h), ERR_INVAL);
	assert_int_equal(kafka_scram_client_first(&s, KAFKA_SCRAM_SHA256, "u", "p", rnd, 8, out, sizeof out), ERR_INVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = { cmocka_unit_test(test_rfc7677), cmocka_unit_test(test_refusals) };
	return cmocka_run_group_tests_name("kafka/scram", tests, NULL, NULL);
}
