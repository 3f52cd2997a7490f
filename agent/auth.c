/* Password file, password hashing and the auth holder (auth.h).  Never logs a password or a hash. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>
#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>

#include "agent/auth.h"
#include "base/dbuf.h"
#include "base/err.h"
#include "base/log.h"
#include "port.h"

#define SCHEME "$pbkdf2-sha256$"
#define SALT_MAX 64

struct entry {
	char *user;
	uint32_t iterations;
	uint8_t salt[SALT_MAX];
	size_t salt_len;
	uint8_t hash[AUTH_HASH_LEN];
	bool cached;
	uint8_t cache[AUTH_HASH_LEN]; /* HMAC(cache_key, password) of the last password that verified */
};

struct auth_passwords {
	struct entry *v; /* sorted by user */
	size_t n;
	uint8_t cache_key[32];
};

static int pbkdf2(const uint8_t *pw, size_t pw_len, const uint8_t *salt, size_t salt_len, uint32_t iterations,
		  uint8_t out[AUTH_HASH_LEN])
{
	mbedtls_md_context_t md;
	mbedtls_md_init(&md);
	int rc = mbedtls_md_setup(&md, mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), 1);
	if (!rc)
		rc = mbedtls_pkcs5_pbkdf2_hmac(&md, pw, pw_len, salt, salt_len, iterations, AUTH_HASH_LEN, out);
	mbedtls_md_free(&md);
	return rc ? ERR_IO : 0;
}

static bool equal_ct(const uint8_t *a, const uint8_t *b, size_t n)
{
	volatile uint8_t d = 0;
	for (size_t i = 0; i < n; i++)
		d |= a[i] ^ b[i];
	return d == 0;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct entry *)a)->user, ((const struct entry *)b)->user);
}

/* "$pbkdf2-sha256$ITER$SALT$HASH" -> e.  0 or a reason. */
static const char *parse_hash(const char *s, struct entry *e)
{
	if (strncmp(s, SCHEME, strlen(SCHEME)) != 0)
		return "unknown hash scheme (want $pbkdf2-sha256$)";
	s += strlen(SCHEME);
	char *end;
	errno = 0;
	unsigned long it = strtoul(s, &end, 10);
	if (errno || end == s || *end != '$' || it < AUTH_ITERATIONS_MIN || it > AUTH_ITERATIONS_MAX)
		return "iteration count missing or out of range";
	e->iterations = (uint32_t)it;
	const char *salt = end + 1, *dollar = strchr(salt, '$');
	if (!dollar)
		return "missing hash";
	size_t olen;
	if (mbedtls_base64_decode(e->salt, sizeof e->salt, &olen, (const unsigned char *)salt, (size_t)(dollar - salt)) ||
	    olen < 8)
		return "bad salt";
	e->salt_len = olen;
	const char *hash = dollar + 1;
	if (mbedtls_base64_decode(e->hash, sizeof e->hash, &olen, (const unsigned char *)hash, strlen(hash)) ||
	    olen != AUTH_HASH_LEN)
		return "bad hash";
	return NULL;
}

void auth_passwords_free(struct auth_passwords *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		free(p->v[i].user);
	free(p->v);
	free(p);
}

size_t auth_passwords_count(const struct auth_passwords *p) { return p ? p->n : 0; }

static const char *parse_pw_line(struct auth_passwords *p, char *line, size_t *cap)
{
	char *colon = strchr(line, ':');
	if (!colon || colon == line)
		return "expected user:hash";
	*colon = '\0';
	if (strlen(line) > AUTH_USER_MAX)
		return "user name too long";
	if (p->n == *cap) {
		size_t c = *cap ? *cap * 2 : 16;
		struct entry *v = realloc(p->v, c * sizeof *v);
		if (!v)
			return "out of memory";
		p->v = v, *cap = c;
	}
	struct entry *e = &p->v[p->n];
	memset(e, 0, sizeof *e);
	const char *why = parse_hash(colon + 1, e);
	if (why)
		return why;
	if (!(e->user = strdup(line)))
		return "out of memory";
	p->n++;
	return NULL;
}

int auth_passwords_parse(struct auth_passwords **out, const char *text, size_t len, const char *name, char *err,
			 size_t err_len)
{
	struct auth_passwords *p = calloc(1, sizeof *p);
	if (!p || port_random(p->cache_key, sizeof p->cache_key)) {
		free(p);
		return ERR_NOMEM;
	}
	size_t pos = 0, cap = 0;
	for (unsigned lineno = 1; pos < len; lineno++) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		char line[AUTH_LINE_MAX];
		const char *why = NULL;
		if (n >= sizeof line || memchr(text + pos, '\0', n)) {
			why = "line too long or has a NUL byte";
		} else {
			memcpy(line, text + pos, n);
			line[n] = '\0';
			if (n && line[n - 1] == '\r')
				line[n - 1] = '\0';
			if (line[0] && line[0] != '#')
				why = parse_pw_line(p, line, &cap);
		}
		if (why) {
			snprintf(err, err_len, "%s:%u: %s", name, lineno, why);
			auth_passwords_free(p);
			return ERR_CONFIG;
		}
		pos += n + (nl != NULL);
	}
	if (p->n)
		qsort(p->v, p->n, sizeof *p->v, cmp_entry);
	for (size_t i = 1; i < p->n; i++)
		if (strcmp(p->v[i - 1].user, p->v[i].user) == 0) {
			snprintf(err, err_len, "%s: user '%.64s' appears twice", name, p->v[i].user);
			auth_passwords_free(p);
			return ERR_CONFIG;
		}
	*out = p;
	return 0;
}

static int read_file(const char *path, size_t max, char **out, size_t *len, char *err, size_t err_len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return snprintf(err, err_len, "%s: %s", path, strerror(errno)), ERR_IO;
	char *text = malloc(max + 1);
	size_t n = text ? fread(text, 1, max + 1, f) : 0;
	int rc = 0;
	if (!text)
		rc = ERR_NOMEM;
	else if (ferror(f) || n > max)
		rc = ERR_IO, snprintf(err, err_len, "%s: unreadable or larger than %zu bytes", path, max);
	fclose(f);
	if (rc) {
		free(text);
		return rc;
	}
	*out = text;
	*len = n;
	return 0;
}

int auth_passwords_load(struct auth_passwords **out, const char *path, char *err, size_t err_len)
{
	char *text;
	size_t len;
	int rc = read_file(path, AUTH_FILE_MAX, &text, &len, err, err_len);
	if (rc)
		return rc == ERR_NOMEM ? rc : ERR_CONFIG;
	rc = auth_passwords_parse(out, text, len, path, err, err_len);
	free(text);
	return rc;
}

static void cache_digest(const struct auth_passwords *p, const uint8_t *pw, size_t pw_len, uint8_t out[32])
{
	mbedtls_md_hmac(mbedtls_md_info_from_type(MBEDTLS_MD_SHA256), p->cache_key, sizeof p->cache_key, pw, pw_len, out);
}

int auth_passwords_check(struct auth_passwords *p, const char *user, const uint8_t *pw, size_t pw_len)
{
	struct entry key = {.user = (char *)user};
	struct entry *e = user && p->n ? bsearch(&key, p->v, p->n, sizeof *p->v, cmp_entry) : NULL;
	uint8_t got[AUTH_HASH_LEN];
	if (!e) {
		/* same work as a wrong password, so a reply's timing does not say which users exist */
		static const uint8_t salt[16];
		pbkdf2(pw, pw_len, salt, sizeof salt, AUTH_ITERATIONS_DEFAULT, got);
		return ERR_AUTH;
	}
	uint8_t quick[32];
	cache_digest(p, pw, pw_len, quick);
	if (e->cached && equal_ct(quick, e->cache, sizeof quick))
		return 0;
	if (pbkdf2(pw, pw_len, e->salt, e->salt_len, e->iterations, got) || !equal_ct(got, e->hash, sizeof got))
		return ERR_AUTH;
	memcpy(e->cache, quick, sizeof quick);
	e->cached = true;
	return 0;
}

int auth_password_hash(const uint8_t *pw, size_t pw_len, uint32_t iterations, char *out, size_t out_len)
{
	if (pw_len > AUTH_PASSWORD_MAX || iterations < AUTH_ITERATIONS_MIN || iterations > AUTH_ITERATIONS_MAX)
		return ERR_RANGE;
	uint8_t salt[AUTH_SALT_LEN], hash[AUTH_HASH_LEN];
	unsigned char s64[64], h64[64];
	size_t sl, hl;
	if (port_random(salt, sizeof salt) || pbkdf2(pw, pw_len, salt, sizeof salt, iterations, hash))
		return ERR_IO;
	mbedtls_base64_encode(s64, sizeof s64, &sl, salt, sizeof salt);
	mbedtls_base64_encode(h64, sizeof h64, &hl, hash, sizeof hash);
	int n = snprintf(out, out_len, SCHEME "%u$%s$%s", iterations, s64, h64);
	return n < 0 || (size_t)n >= out_len ? ERR_TOO_LARGE : 0;
}

static bool valid_user(const char *u)
{
	size_t n = strlen(u);
	return n > 0 && n <= AUTH_USER_MAX && u[0] != '#' && !strpbrk(u, ":\r\n") && u[0] != ' ';
}

int auth_passwd_set(const char *path, bool create, const char *user, const uint8_t *pw, size_t pw_len,
		    uint32_t iterations, char *err, size_t err_len)
{
	if (!valid_user(user))
		return snprintf(err, err_len, "user name must be 1 to %d bytes without ':' or line breaks", AUTH_USER_MAX),
		       ERR_CONFIG;
	char hash[256];
	int rc = auth_password_hash(pw, pw_len, iterations, hash, sizeof hash);
	if (rc)
		return snprintf(err, err_len, "hashing failed: %s", err_str(rc)), rc;
	char *text = NULL;
	size_t len = 0;
	struct dbuf out;
	dbuf_init(&out, AUTH_FILE_MAX);
	if (!create) {
		struct auth_passwords *check;
		if ((rc = read_file(path, AUTH_FILE_MAX, &text, &len, err, err_len)) != 0)
			goto done;
		/* never rewrite a file we cannot read correctly */
		if ((rc = auth_passwords_parse(&check, text, len, path, err, err_len)) != 0)
			goto done;
		auth_passwords_free(check);
	}
	size_t ulen = strlen(user), pos = 0;
	bool replaced = false;
	while (pos < len && !rc) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		const char *line = text + pos;
		if (n > ulen && memcmp(line, user, ulen) == 0 && line[ulen] == ':') {
			rc = replaced ? 0 : dbuf_printf(&out, "%s:%s\n", user, hash);
			replaced = true;
		} else {
			rc = dbuf_add(&out, line, n);
			rc = rc ? rc : dbuf_addstr(&out, "\n");
		}
		pos += n + (nl != NULL);
	}
	if (!rc && !replaced)
		rc = dbuf_printf(&out, "%s:%s\n", user, hash);
	if (!rc && (rc = port_write_file_atomic(path, out.p, out.len)) != 0)
		snprintf(err, err_len, "write %s: %s", path, strerror(errno));
done:
	free(text);
	dbuf_deinit(&out);
	return rc;
}

/* ---- struct auth ---- */

static int load_pair(const char *pw_file, const char *acl_file, struct auth_passwords **pw, struct acl **acl,
		     char *err, size_t err_len)
{
	*pw = NULL;
	*acl = NULL;
	int rc = pw_file ? auth_passwords_load(pw, pw_file, err, err_len) : 0;
	if (!rc && acl_file)
		rc = acl_load(acl, acl_file, err, err_len);
	if (rc) {
		auth_passwords_free(*pw);
		*pw = NULL;
	}
	return rc;
}

static char *dup_or_null(const char *s) { return s && s[0] ? strdup(s) : NULL; }

int auth_init(struct auth *a, bool allow_anonymous, const char *password_file, const char *acl_file, char *err,
	      size_t err_len)
{
	memset(a, 0, sizeof *a);
	a->allow_anonymous = allow_anonymous;
	a->password_file = dup_or_null(password_file);
	a->acl_file = dup_or_null(acl_file);
	if ((password_file && password_file[0] && !a->password_file) || (acl_file && acl_file[0] && !a->acl_file)) {
		auth_deinit(a);
		return ERR_NOMEM;
	}
	int rc = load_pair(a->password_file, a->acl_file, &a->passwords, &a->acl, err, err_len);
	if (rc)
		auth_deinit(a);
	return rc;
}

void auth_deinit(struct auth *a)
{
	auth_passwords_free(a->passwords);
	acl_free(a->acl);
	free(a->password_file);
	free(a->acl_file);
	memset(a, 0, sizeof *a);
}

int auth_reload(struct auth *a)
{
	struct auth_passwords *pw;
	struct acl *acl;
	char err[300] = "";
	int rc = load_pair(a->password_file, a->acl_file, &pw, &acl, err, sizeof err);
	if (rc) {
		a->reload_failures++;
		log_error("auth: reload failed, keeping the previous rules: %s", err[0] ? err : err_str(rc));
		return rc;
	}
	auth_passwords_free(a->passwords);
	acl_free(a->acl);
	a->passwords = pw;
	a->acl = acl;
	a->reloads++;
	log_info("auth: reloaded (%zu users%s)", auth_passwords_count(pw), acl ? ", ACL" : "");
	return 0;
}

int auth_connect(struct auth *a, const char *username, const uint8_t *password, size_t password_len)
{
	if (!username)
		return a->allow_anonymous ? 0 : ERR_AUTH;
	if (!a->passwords)
		return 0; /* no password file: user names are not checked (ACLs still apply) */
	if (!password)
		return ERR_AUTH;
	return auth_passwords_check(a->passwords, username, password, password_len);
}

bool auth_allowed(const struct auth *a, const char *username, const char *client_id, const char *topic,
		  enum acl_access access)
{
	return acl_check(a->acl, username, client_id, topic, access);
}
