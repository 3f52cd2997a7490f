/* SASL server side: PLAIN (RFC 4616) and SCRAM-SHA-256 / SCRAM-SHA-512 (RFC 5802, RFC 7677), as Kafka's
 * SaslAuthenticate carries them (KIP-152).  A pure module: bytes in, bytes out, no I/O.  Passwords are kept
 * only to answer PLAIN; SCRAM uses salted keys derived once per user (mbedtls PBKDF2-HMAC).  Never logs a
 * password, proof or key. */
#ifndef FERRY_CLOUD_SASL_H
#define FERRY_CLOUD_SASL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/dbuf.h"

#define SASL_NAME_MAX 128
#define SASL_PASSWORD_MAX 256
#define SASL_SALT_MAX 64
#define SASL_KEY_MAX 64            /* SHA-512 */
#define SASL_NONCE_MAX 128
#define SASL_MESSAGE_MAX 4096      /* any one SASL token */
#define SASL_SCRAM_ITERATIONS 4096 /* Kafka's minimum */
#define SASL_USERS_MAX 1024

enum sasl_mech { SASL_MECH_NONE, SASL_MECH_PLAIN, SASL_MECH_SCRAM_SHA256, SASL_MECH_SCRAM_SHA512 };

struct sasl_scram_cred {
	uint8_t salt[SASL_SALT_MAX];
	size_t salt_len;
	uint32_t iterations;
	uint8_t stored_key[SASL_KEY_MAX], server_key[SASL_KEY_MAX];
};

struct sasl_user {
	char name[SASL_NAME_MAX];
	char password[SASL_PASSWORD_MAX];
	struct sasl_scram_cred sha256, sha512;
};

struct sasl_users {
	struct sasl_user *items; /* owned */
	size_t count, cap;
};

enum sasl_state { SASL_START, SASL_MECH_CHOSEN, SASL_SCRAM_SENT_FIRST, SASL_DONE, SASL_FAILED };

struct sasl_session {
	enum sasl_mech mech;
	enum sasl_state state;
	size_t user;               /* index in users, once known */
	char *auth_message;        /* owned: client-first-bare "," server-first (SCRAM) */
	char nonce[SASL_NONCE_MAX];/* the combined client+server nonce */
	char gs2_header[SASL_NAME_MAX + 8];
	const char *fixed_server_nonce; /* tests: use this instead of random bytes */
	char principal[SASL_NAME_MAX];
};

void sasl_users_init(struct sasl_users *u);
void sasl_users_deinit(struct sasl_users *u);
/* Add a user with a random salt for each SCRAM mechanism.  0, ERR_TOO_LARGE, ERR_EXISTS, ERR_NOMEM. */
int sasl_users_add(struct sasl_users *u, const char *name, const char *password);
/* Add or replace a user's SCRAM credentials from a given salt and iteration count (test vectors). */
int sasl_users_set_scram(struct sasl_users *u, const char *name, enum sasl_mech mech, const uint8_t *salt,
			 size_t salt_len, uint32_t iterations);

/* "PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512" -> mechanism; SASL_MECH_NONE when unknown. */
enum sasl_mech sasl_mech_parse(const char *name, size_t len);
const char *sasl_mech_name(enum sasl_mech m);
extern const char *const sasl_mech_names[]; /* enabled mechanisms, NULL-terminated */

void sasl_session_init(struct sasl_session *s);
void sasl_session_deinit(struct sasl_session *s);
/* SaslHandshake: 0, or ERR_UNSUPPORTED for an unknown mechanism, ERR_STATE when already started. */
int sasl_session_start(struct sasl_session *s, enum sasl_mech mech);
/* One SaslAuthenticate token.  Appends the server's answer (possibly empty) to out and returns 0; *done is set
 * when authentication succeeded (s->principal names the user).  ERR_AUTH with a client-safe reason in why
 * when it failed (the session is then failed), ERR_STATE when no mechanism was chosen. */
int sasl_session_step(struct sasl_session *s, const struct sasl_users *users, const uint8_t *in, size_t in_len,
		      struct dbuf *out, bool *done, char *why, size_t why_len);

#endif
