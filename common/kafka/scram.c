/* SCRAM client exchange (kafka/scram.h).  RFC 5802 §3:
 *   SaltedPassword = Hi(password, salt, i)        (PBKDF2 with HMAC-H)
 *   ClientKey = HMAC(SaltedPassword, "Client Key"), StoredKey = H(ClientKey)
 *   AuthMessage = client-first-bare "," server-first "," client-final-without-proof
 *   ClientProof = ClientKey XOR HMAC(StoredKey, AuthMessage)
 *   ServerSignature = HMAC(HMAC(SaltedPassword, "Server Key"), AuthMessage)
 * Parsing never reads past the server's message and never trusts its sizes. */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <mbedtls/base64.h>
#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>

#include "base/err.h"
#include "kafka/scram.h"

int kafka_scram_mechanism(const char *name, enum kafka_scram_hash *hash)
{
	if (strcmp(name, "SCRAM-SHA-256") == 0)
		*hash = KAFKA_SCRAM_SHA256;
	else if (strcmp(name, "SCRAM-SHA-512") == 0)
		*hash = KAFKA_SCRAM_SHA512;
	else
		return ERR_INVAL;
	return 0;
}

static const mbedtls_md_info_t *md(const struct kafka_scram *s)
{
	return mbedtls_md_info_from_type(s->hash == KAFKA_SCRAM_SHA256 ? MBEDTLS_MD_SHA256 : MBEDTLS_MD_SHA512);
}

/* RFC 5802 §5.1 saslname: ',' and '=' escaped as =2C and =3D. */
static int saslname(char *out, size_t cap, const char *user)
{
	size_t n = 0;
	for (const char *p = user; *p; p++) {
		const char *rep = *p == ',' ? "=2C" : *p == '=' ? "=3D" : NULL;
		size_t l = rep ? 3 : 1;
		if (n + l >= cap)
			return ERR_TOO_LARGE;
		memcpy(out + n, rep ? rep : p, l);
		n += l;
	}
	out[n] = 0;
	return 0;
}

int kafka_scram_client_first(struct kafka_scram *s, enum kafka_scram_hash hash, const char *user,
			     const char *password, const uint8_t *random, size_t random_len, char *out, size_t cap)
{
	memset(s, 0, sizeof *s);
	s->hash = hash;
	s->digest_len = mbedtls_md_get_size(md(s));
	char name[3 * KAFKA_SCRAM_FIELD_MAX + 1];
	size_t olen;
	if (strlen(user) > KAFKA_SCRAM_FIELD_MAX || strlen(password) > KAFKA_SCRAM_FIELD_MAX || random_len < 18 ||
	    random_len > 32 || saslname(name, sizeof name, user) < 0)
		return ERR_INVAL;
	snprintf(s->password, sizeof s->password, "%s", password);
	if (mbedtls_base64_encode((unsigned char *)s->nonce, sizeof s->nonce, &olen, random, random_len))
		return ERR_INVAL;
	int n = snprintf(s->client_first_bare, sizeof s->client_first_bare, "n=%s,r=%s", name, s->nonce);
	if (n < 0 || (size_t)n >= sizeof s->client_first_bare)
		return ERR_TOO_LARGE;
	n = snprintf(out, cap, "n,,%s", s->client_first_bare);
	return n < 0 || (size_t)n >= cap ? ERR_TOO_LARGE : n;
}

/* The value of attribute `key` ("r", "s", "i", "v", "e") in a comma-separated message, as a view. */
static bool attr(const uint8_t *msg, size_t len, char key, const uint8_t **val, size_t *val_len)
{
	size_t i = 0;
	while (i + 1 < len) {
		size_t end = i;
		while (end < len && msg[end] != ',')
			end++;
		if (msg[i] == (uint8_t)key && msg[i + 1] == '=') {
			*val = msg + i + 2;
			*val_len = end - i - 2;
			return true;
		}
		i = end + 1;
	}
	return false;
}

static int hmac(const struct kafka_scram *s, const uint8_t *key, const void *in, size_t in_len, uint8_t *out)
{
	return mbedtls_md_hmac(md(s), key, s->digest_len, in, in_len, out) ? ERR_INVAL : 0;
}

int kafka_scram_client_final(struct kafka_scram *s, const uint8_t *server_first, size_t len, char *out, size_t cap)
{
	const uint8_t *r, *salt64, *iter, *e;
	size_t r_len, salt64_len, iter_len, e_len;
	if (attr(server_first, len, 'e', &e, &e_len))
		return ERR_AUTH;
	if (len >= KAFKA_SCRAM_MSG_MAX || !attr(server_first, len, 'r', &r, &r_len) ||
	    !attr(server_first, len, 's', &salt64, &salt64_len) || !attr(server_first, len, 'i', &iter, &iter_len))
		return ERR_MALFORMED;
	size_t ours = strlen(s->nonce);
	if (r_len <= ours || memcmp(r, s->nonce, ours) != 0)
		return ERR_AUTH; /* the server's nonce must extend ours (RFC 5802 §5.1) */
	uint32_t iterations = 0;
	for (size_t k = 0; k < iter_len; k++) {
		if (iter[k] < '0' || iter[k] > '9' || iterations > KAFKA_SCRAM_ITERATIONS_MAX)
			return ERR_MALFORMED;
		iterations = iterations * 10 + (uint32_t)(iter[k] - '0');
	}
	if (iterations < KAFKA_SCRAM_ITERATIONS_MIN || iterations > KAFKA_SCRAM_ITERATIONS_MAX)
		return ERR_RANGE;
	uint8_t salt[128], salted[64], client_key[64], stored_key[64], signature[64], server_key[64];
	size_t salt_len;
	if (mbedtls_base64_decode(salt, sizeof salt, &salt_len, salt64, salt64_len))
		return ERR_MALFORMED;
	int rc = ERR_INVAL;
	mbedtls_md_context_t ctx;
	mbedtls_md_init(&ctx);
	if (mbedtls_md_setup(&ctx, md(s), 1) ||
	    mbedtls_pkcs5_pbkdf2_hmac(&ctx, (const unsigned char *)s->password, strlen(s->password), salt, salt_len,
				      iterations, (uint32_t)s->digest_len, salted))
		goto done;
	char without_proof[KAFKA_SCRAM_MSG_MAX + 16];
	int wn = snprintf(without_proof, sizeof without_proof, "c=biws,r=%.*s", (int)r_len, (const char *)r);
	int an = snprintf(s->auth_message, sizeof s->auth_message, "%s,%.*s,%s", s->client_first_bare, (int)len,
			  (const char *)server_first, without_proof);
	if (wn < 0 || (size_t)wn >= sizeof without_proof || an < 0 || (size_t)an >= sizeof s->auth_message) {
		rc = ERR_TOO_LARGE;
		goto done;
	}
	if (hmac(s, salted, "Client Key", 10, client_key) || mbedtls_md(md(s), client_key, s->digest_len, stored_key) ||
	    hmac(s, stored_key, s->auth_message, (size_t)an, signature) || hmac(s, salted, "Server Key", 10, server_key) ||
	    hmac(s, server_key, s->auth_message, (size_t)an, s->server_signature))
		goto done;
	for (size_t k = 0; k < s->digest_len; k++)
		client_key[k] ^= signature[k]; /* now ClientProof */
	char proof[100];
	size_t plen;
	if (mbedtls_base64_encode((unsigned char *)proof, sizeof proof, &plen, client_key, s->digest_len))
		goto done;
	int n = snprintf(out, cap, "%s,p=%s", without_proof, proof);
	rc = n < 0 || (size_t)n >= cap ? ERR_TOO_LARGE : n;
done:
	mbedtls_md_free(&ctx);
	memset(salted, 0, sizeof salted);
	memset(client_key, 0, sizeof client_key);
	memset(stored_key, 0, sizeof stored_key);
	memset(server_key, 0, sizeof server_key);
	memset(s->password, 0, sizeof s->password); /* not needed after the proof */
	return rc;
}

int kafka_scram_verify(struct kafka_scram *s, const uint8_t *server_final, size_t len)
{
	const uint8_t *v;
	size_t v_len;
	uint8_t sig[96];
	size_t sig_len;
	if (!attr(server_final, len, 'v', &v, &v_len) || mbedtls_base64_decode(sig, sizeof sig, &sig_len, v, v_len) ||
	    sig_len != s->digest_len)
		return ERR_AUTH;
	uint8_t diff = 0;
	for (size_t k = 0; k < sig_len; k++)
		diff |= sig[k] ^ s->server_signature[k];
	return diff ? ERR_AUTH : 0;
}

void kafka_scram_wipe(struct kafka_scram *s) { memset(s, 0, sizeof *s); }
