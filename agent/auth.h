/* Client authentication for the agent's broker: a password file of salted, iterated hashes, and the
 * authorization rules of agent/acl.h, held together in struct auth so SIGHUP can swap both at once.
 *
 * Password file: one `user:$pbkdf2-sha256$ITERATIONS$SALT_B64$HASH_B64` line per user ('#' comments and blank
 * lines allowed); written by `ferry-agent passwd`.  Hash = PBKDF2-HMAC-SHA256(password, salt, ITERATIONS, 32).
 * Comparison is constant time.  PBKDF2 is deliberately slow and runs on the event loop, so a successful check
 * is remembered (a keyed SHA-256 of the password, per user, in memory only) and a reconnecting client costs one
 * SHA-256, not ITERATIONS of them. */
#ifndef FERRY_AGENT_AUTH_H
#define FERRY_AGENT_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "agent/acl.h"

#define AUTH_USER_MAX 256         /* bytes of a user name in the file */
#define AUTH_PASSWORD_MAX 65535   /* MQTT 5.0 §3.1.3.6: binary data */
#define AUTH_SALT_LEN 16
#define AUTH_HASH_LEN 32
#define AUTH_ITERATIONS_DEFAULT 20000u
#define AUTH_ITERATIONS_MIN 1000u
#define AUTH_ITERATIONS_MAX 10000000u
#define AUTH_FILE_MAX (16u << 20)
#define AUTH_LINE_MAX 1024

struct auth_passwords;

/* Parse a password file's text.  0 and *out, or ERR_CONFIG ("name:line: why" in err) / ERR_NOMEM. */
int auth_passwords_parse(struct auth_passwords **out, const char *text, size_t len, const char *name, char *err,
			 size_t err_len);
int auth_passwords_load(struct auth_passwords **out, const char *path, char *err, size_t err_len);
void auth_passwords_free(struct auth_passwords *p);
size_t auth_passwords_count(const struct auth_passwords *p);
/* 0 when user exists and password matches, else ERR_AUTH.  An unknown user costs the same PBKDF2 work. */
int auth_passwords_check(struct auth_passwords *p, const char *user, const uint8_t *password, size_t password_len);

/* Hash a password with a fresh random salt into "$pbkdf2-sha256$..." (NUL-terminated). 0, ERR_TOO_LARGE, ERR_IO. */
int auth_password_hash(const uint8_t *password, size_t password_len, uint32_t iterations, char *out, size_t out_len);
/* Set user's password in the file at path (create: start a new file), replacing any line for user, keeping
 * the others; written with port_write_file_atomic.  0, ERR_CONFIG (bad user, unparsable file), ERR_IO. */
int auth_passwd_set(const char *path, bool create, const char *user, const uint8_t *password, size_t password_len,
		    uint32_t iterations, char *err, size_t err_len);

/* `ferry-agent passwd [-c] FILE USER`: argv[0] is "passwd".  The password comes from a prompt (twice, not
 * echoed) when stdin is a terminal, else from stdin's first line.  Returns the process exit status. */
int auth_passwd_command(int argc, char **argv);

/* What the broker consults.  Files are remembered for reload. */
struct auth {
	bool allow_anonymous;
	char *password_file, *acl_file; /* owned; NULL when not configured */
	struct auth_passwords *passwords; /* NULL: no password check */
	struct acl *acl;                  /* NULL: everything allowed */
	uint64_t reloads, reload_failures;
};

/* Load both files.  0, or the load error with a message in err (nothing is kept). */
int auth_init(struct auth *a, bool allow_anonymous, const char *password_file, const char *acl_file, char *err,
	      size_t err_len);
void auth_deinit(struct auth *a);
/* Re-read both files; swap them in only if both parse.  On error the old rules stay, the error is logged
 * and returned. */
int auth_reload(struct auth *a);

/* CONNECT: username may be NULL (none given).  0 or ERR_AUTH. */
int auth_connect(struct auth *a, const char *username, const uint8_t *password, size_t password_len);
/* PUBLISH (ACL_WRITE), delivery (ACL_READ) and SUBSCRIBE (ACL_SUBSCRIBE) checks. */
bool auth_allowed(const struct auth *a, const char *username, const char *client_id, const char *topic,
		  enum acl_access access);

#endif
