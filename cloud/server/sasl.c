/* SASL PLAIN and SCRAM-SHA-256/512 server (sasl.h).  SCRAM per RFC 5802 §3 and §5; attribute parsing is
 * strict (order and names as the RFC gives them), and every comparison that involves a secret is constant
 * time.  Channel binding is not offered, so only the "n" and "y" GS2 flags are accepted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <mbedtls/base64.h>
#include <mbedtls/md.h>
#include <mbedtls/pkcs5.h>

#include "base/err.h"
#include "cloud/server/sasl.h"
#include "port.h"

const char *const sasl_mech_names[] = {"PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512", NULL};

enum sasl_mech sasl_mech_parse(const char *name, size_t len)
{
	for (int i = 0; sasl_mech_names[i]; i++)
		if (strlen(sasl_mech_names[i]) == len && !memcmp(sasl_mech_names[i], name, len))
			return (enum sasl_mech)(SASL_MECH_PLAIN + i);
	return SASL_MECH_NONE;
}

const char *sasl_mech_name(enum sasl_mech m)
{
	return m == SASL_MECH_NONE ? "NONE" : sasl_mech_names[m - SASL_MECH_PLAIN];
}

static const mbedtls_md_info_t *mech_md(enum sasl_mech m)
{
	return mbedtls_md_info_from_type(m == SASL_MECH_SCRAM_SHA512 ? MBEDTLS_MD_SHA512 : MBEDTLS_MD_SHA256);
}

static bool ct_equal(const void *a, const void *b, size_t n)
{
	const uint8_t *x = a, *y = b;
	uint8_t d = 0;
	for (size_t i = 0; i < n; i++)
		d |= x[i] ^ y[i];
	return d == 0;
}

/* ---- users --------------------------------------------------------------------------------------------- */

void sasl_users_init(struct sasl_users *u) { memset(u, 0, sizeof *u); }

void sasl_users_deinit(struct sasl_users *u)
{
	if (u->items) {
		memset(u->items, 0, u->cap * sizeof *u->items); /* passwords and keys */
		free(u->items);
	}
	memset(u, 0, sizeof *u);
}

static struct sasl_user *user_find(const struct sasl_users *u, const char *name, size_t len)
{
	for (size_t i = 0; i < u->count; i++)
		if (strlen(u->items[i].name) == len && !memcmp(u->items[i].name, name, len))
			return &u->items[i];
	return NULL;
}

static int derive(struct sasl_scram_cred *c, enum sasl_mech m, const char *password)
{
	const mbedtls_md_info_t *md = mech_md(m);
	size_t hl = mbedtls_md_get_size(md);
	uint8_t salted[SASL_KEY_MAX], client_key[SASL_KEY_MAX];
	mbedtls_md_context_t ctx;
	mbedtls_md_init(&ctx);
	int rc = mbedtls_md_setup(&ctx, md, 1) ||
		 mbedtls_pkcs5_pbkdf2_hmac(&ctx, (const uint8_t *)password, strlen(password), c->salt, c->salt_len,
					   c->iterations, (uint32_t)hl, salted) ||
		 mbedtls_md_hmac(md, salted, hl, (const uint8_t *)"Client Key", 10, client_key) ||
		 mbedtls_md(md, client_key, hl, c->stored_key) ||
		 mbedtls_md_hmac(md, salted, hl, (const uint8_t *)"Server Key", 10, c->server_key);
	mbedtls_md_free(&ctx);
	memset(salted, 0, sizeof salted);
	memset(client_key, 0, sizeof client_key);
	return rc ? ERR_INVAL : 0;
}

int sasl_users_set_scram(struct sasl_users *u, const char *name, enum sasl_mech mech, const uint8_t *salt,
			 size_t salt_len, uint32_t iterations)
{
	struct sasl_user *x = user_find(u, name, strlen(name));
	if (!x)
		return ERR_NOT_FOUND;
	if (salt_len == 0 || salt_len > SASL_SALT_MAX || iterations == 0)
		return ERR_INVAL;
	struct sasl_scram_cred *c = mech == SASL_MECH_SCRAM_SHA512 ? &x->sha512 : &x->sha256;
	memcpy(c->salt, salt, salt_len);
	c->salt_len = salt_len;
	c->iterations = iterations;
	return derive(c, mech, x->password);
}

int sasl_users_add(struct sasl_users *u, const char *name, const char *password)
{
	if (!name[0] || strlen(name) >= SASL_NAME_MAX || strlen(password) >= SASL_PASSWORD_MAX)
		return ERR_TOO_LARGE;
	if (user_find(u, name, strlen(name)))
		return ERR_EXISTS;
	if (u->count == SASL_USERS_MAX)
		return ERR_FULL;
	if (u->count == u->cap) {
		size_t cap = u->cap ? u->cap * 2 : 8;
		struct sasl_user *n = calloc(cap, sizeof *n);
		if (!n)
			return ERR_NOMEM;
		if (u->items) {
			memcpy(n, u->items, u->count * sizeof *n);
			memset(u->items, 0, u->cap * sizeof *n);
			free(u->items);
		}
		u->items = n;
		u->cap = cap;
	}
	struct sasl_user *x = &u->items[u->count];
	memset(x, 0, sizeof *x);
	strcpy(x->name, name);
	strcpy(x->password, password);
	uint8_t salt[2][16];
	int rc = port_random(salt, sizeof salt);
	if (rc)
		return rc;
	u->count++;
	if ((rc = sasl_users_set_scram(u, name, SASL_MECH_SCRAM_SHA256, salt[0], 16, SASL_SCRAM_ITERATIONS)) ||
	    (rc = sasl_users_set_scram(u, name, SASL_MECH_SCRAM_SHA512, salt[1], 16, SASL_SCRAM_ITERATIONS))) {
		u->count--;
		return rc;
	}
	return 0;
}

/* ---- sessions ------------------------------------------------------------------------------------------ */

void sasl_session_init(struct sasl_session *s) { memset(s, 0, sizeof *s); }

void sasl_session_deinit(struct sasl_session *s)
{
	free(s->auth_message);
	memset(s, 0, sizeof *s);
}

int sasl_session_start(struct sasl_session *s, enum sasl_mech mech)
{
	if (mech == SASL_MECH_NONE)
		return ERR_UNSUPPORTED;
	if (s->state != SASL_START)
		return ERR_STATE;
	s->mech = mech;
	s->state = SASL_MECH_CHOSEN;
	return 0;
}

static int fail(struct sasl_session *s, char *why, size_t why_len, const char *reason)
{
	s->state = SASL_FAILED;
	snprintf(why, why_len, "%s", reason);
	return ERR_AUTH;
}

/* RFC 4616: [authzid] NUL authcid NUL passwd. */
static int plain_step(struct sasl_session *s, const struct sasl_users *users, const uint8_t *in, size_t len,
		      bool *done, char *why, size_t why_len)
{
	const uint8_t *n1 = memchr(in, 0, len);
	const uint8_t *n2 = n1 ? memchr(n1 + 1, 0, len - (size_t)(n1 + 1 - in)) : NULL;
	if (!n2)
		return fail(s, why, why_len, "malformed PLAIN message");
	size_t zlen = (size_t)(n1 - in), clen = (size_t)(n2 - n1 - 1), plen = len - (size_t)(n2 + 1 - in);
	const char *authc = (const char *)n1 + 1, *pass = (const char *)n2 + 1;
	if (zlen && (zlen != clen || memcmp(in, authc, clen)))
		return fail(s, why, why_len, "authorization id differs from the user");
	const struct sasl_user *u = user_find(users, authc, clen);
	/* Compare against a same-length buffer so that the time does not say how long the password is. */
	char given[SASL_PASSWORD_MAX] = {0};
	bool ok = u && plen < SASL_PASSWORD_MAX && plen == strlen(u->password);
	if (plen < SASL_PASSWORD_MAX)
		memcpy(given, pass, plen);
	ok = ct_equal(given, u ? u->password : given, SASL_PASSWORD_MAX) && ok;
	memset(given, 0, sizeof given);
	if (!ok)
		return fail(s, why, why_len, "authentication failed: invalid user name or password");
	snprintf(s->principal, sizeof s->principal, "%s", u->name);
	s->state = SASL_DONE;
	*done = true;
	return 0;
}

/* RFC 5802 §5.1 saslname: "=2C" is ',' and "=3D" is '='; any other '=' is an error. */
static int unescape_name(const char *p, size_t len, char *out, size_t cap)
{
	size_t o = 0;
	for (size_t i = 0; i < len; i++) {
		char c = p[i];
		if (c == '=') {
			if (len - i >= 3 && p[i + 1] == '2' && p[i + 2] == 'C')
				c = ',';
			else if (len - i >= 3 && p[i + 1] == '3' && p[i + 2] == 'D')
				c = '=';
			else
				return ERR_MALFORMED;
			i += 2;
		}
		if (c == 0 || o + 1 >= cap)
			return ERR_MALFORMED;
		out[o++] = c;
	}
	out[o] = 0;
	return 0;
}

static int scram_first(struct sasl_session *s, const struct sasl_users *users, const char *in, size_t len,
		       struct dbuf *out, char *why, size_t why_len)
{
	/* gs2-header: ("n" | "y") "," [ "a=" authzid ] "," */
	if (len < 3 || (in[0] != 'n' && in[0] != 'y') || in[1] != ',')
		return fail(s, why, why_len, "SCRAM: unsupported GS2 header (no channel binding)");
	const char *c2 = memchr(in + 2, ',', len - 2);
	if (!c2 || (size_t)(c2 + 1 - in) >= sizeof s->gs2_header)
		return fail(s, why, why_len, "SCRAM: malformed GS2 header");
	size_t gs2_len = (size_t)(c2 + 1 - in);
	memcpy(s->gs2_header, in, gs2_len);
	s->gs2_header[gs2_len] = 0;
	const char *bare = c2 + 1;
	size_t bare_len = len - gs2_len;
	if (bare_len < 2 || memcmp(bare, "n=", 2))
		return fail(s, why, why_len, "SCRAM: client-first needs n=");
	const char *uend = memchr(bare, ',', bare_len);
	if (!uend || (size_t)(bare + bare_len - uend) < 4 || memcmp(uend, ",r=", 3))
		return fail(s, why, why_len, "SCRAM: client-first needs r=");
	char name[SASL_NAME_MAX];
	if (unescape_name(bare + 2, (size_t)(uend - bare - 2), name, sizeof name))
		return fail(s, why, why_len, "SCRAM: bad user name");
	const char *cn = uend + 3, *cn_end = memchr(cn, ',', (size_t)(bare + bare_len - cn));
	size_t cn_len = (size_t)((cn_end ? cn_end : bare + bare_len) - cn);
	if (cn_len == 0 || cn_len > SASL_NONCE_MAX / 2)
		return fail(s, why, why_len, "SCRAM: bad client nonce");
	for (size_t i = 0; i < cn_len; i++)
		if (cn[i] < 0x21 || cn[i] > 0x7e)
			return fail(s, why, why_len, "SCRAM: bad client nonce");
	const struct sasl_user *u = user_find(users, name, strlen(name));
	if (!u)
		return fail(s, why, why_len, "authentication failed: invalid user name or password");
	s->user = (size_t)(u - users->items);
	char snonce[48];
	if (s->fixed_server_nonce) {
		snprintf(snonce, sizeof snonce, "%s", s->fixed_server_nonce);
	} else {
		uint8_t rnd[18];
		size_t ol;
		if (port_random(rnd, sizeof rnd) ||
		    mbedtls_base64_encode((uint8_t *)snonce, sizeof snonce, &ol, rnd, sizeof rnd))
			return fail(s, why, why_len, "SCRAM: no randomness");
		snonce[ol] = 0;
	}
	snprintf(s->nonce, sizeof s->nonce, "%.*s%s", (int)cn_len, cn, snonce);
	const struct sasl_scram_cred *c = s->mech == SASL_MECH_SCRAM_SHA512 ? &u->sha512 : &u->sha256;
	char salt64[SASL_SALT_MAX * 2];
	size_t sl;
	mbedtls_base64_encode((uint8_t *)salt64, sizeof salt64, &sl, c->salt, c->salt_len);
	salt64[sl] = 0;
	struct dbuf first;
	dbuf_init(&first, SASL_MESSAGE_MAX);
	int rc = dbuf_printf(&first, "r=%s,s=%s,i=%u", s->nonce, salt64, c->iterations);
	struct dbuf am;
	dbuf_init(&am, 2 * SASL_MESSAGE_MAX);
	if (!rc)
		rc = dbuf_printf(&am, "%.*s,%s", (int)bare_len, bare, dbuf_str(&first));
	if (!rc)
		rc = dbuf_add(out, first.p, first.len);
	dbuf_deinit(&first);
	if (rc) {
		dbuf_deinit(&am);
		return fail(s, why, why_len, "SCRAM: message too large");
	}
	free(s->auth_message);
	s->auth_message = strdup(dbuf_str(&am));
	dbuf_deinit(&am);
	if (!s->auth_message)
		return fail(s, why, why_len, "SCRAM: out of memory");
	s->state = SASL_SCRAM_SENT_FIRST;
	return 0;
}

static int scram_final(struct sasl_session *s, const struct sasl_users *users, const char *in, size_t len,
		       struct dbuf *out, bool *done, char *why, size_t why_len)
{
	/* client-final: "c=" base64(gs2-header) ",r=" nonce [",..."] ",p=" base64(proof) */
	const char *p = NULL;
	for (size_t i = len; i-- > 2;)
		if (in[i - 2] == ',' && in[i - 1] == 'p' && in[i] == '=') {
			p = in + i - 2;
			break;
		}
	if (!p || len < 2 || memcmp(in, "c=", 2))
		return fail(s, why, why_len, "SCRAM: malformed client-final");
	size_t without_proof = (size_t)(p - in);
	char cb64[sizeof s->gs2_header * 2];
	size_t cbl;
	mbedtls_base64_encode((uint8_t *)cb64, sizeof cb64, &cbl, (const uint8_t *)s->gs2_header,
			      strlen(s->gs2_header));
	const char *r = memchr(in, ',', without_proof);
	if (!r || (size_t)(r - in - 2) != cbl || memcmp(in + 2, cb64, cbl))
		return fail(s, why, why_len, "SCRAM: channel binding mismatch");
	/* The nonce must end with ours.  Kafka's broker checks only that (ScramSaslServer: endsWith), and
	 * librdkafka before 2.2 sends the client nonce twice, so an exact match would lock those clients out.
	 * The nonce as sent is part of the AuthMessage the proof covers, so this costs no security. */
	size_t nl = strlen(s->nonce);
	if ((size_t)(in + without_proof - r) < 3 || memcmp(r, ",r=", 3))
		return fail(s, why, why_len, "SCRAM: nonce mismatch");
	const char *nv = r + 3, *nv_end = memchr(nv, ',', (size_t)(in + without_proof - nv));
	size_t nv_len = (size_t)((nv_end ? nv_end : in + without_proof) - nv);
	if (nv_len < nl || memcmp(nv + nv_len - nl, s->nonce, nl))
		return fail(s, why, why_len, "SCRAM: nonce mismatch");
	const mbedtls_md_info_t *md = mech_md(s->mech);
	size_t hl = mbedtls_md_get_size(md);
	uint8_t proof[SASL_KEY_MAX + 4];
	size_t pl;
	if (mbedtls_base64_decode(proof, sizeof proof, &pl, (const uint8_t *)p + 3, len - without_proof - 3) ||
	    pl != hl)
		return fail(s, why, why_len, "SCRAM: malformed proof");
	struct dbuf am;
	dbuf_init(&am, 3 * SASL_MESSAGE_MAX);
	if (dbuf_printf(&am, "%s,%.*s", s->auth_message, (int)without_proof, in)) {
		dbuf_deinit(&am);
		return fail(s, why, why_len, "SCRAM: message too large");
	}
	const struct sasl_user *u = &users->items[s->user];
	const struct sasl_scram_cred *c = s->mech == SASL_MECH_SCRAM_SHA512 ? &u->sha512 : &u->sha256;
	uint8_t sig[SASL_KEY_MAX], key[SASL_KEY_MAX], stored[SASL_KEY_MAX], ssig[SASL_KEY_MAX];
	mbedtls_md_hmac(md, c->stored_key, hl, am.p, am.len, sig);
	for (size_t i = 0; i < hl; i++)
		key[i] = proof[i] ^ sig[i];
	mbedtls_md(md, key, hl, stored);
	bool ok = ct_equal(stored, c->stored_key, hl);
	mbedtls_md_hmac(md, c->server_key, hl, am.p, am.len, ssig);
	dbuf_deinit(&am);
	memset(key, 0, sizeof key);
	if (!ok)
		return fail(s, why, why_len, "authentication failed: invalid user name or password");
	char v64[SASL_KEY_MAX * 2];
	size_t vl;
	mbedtls_base64_encode((uint8_t *)v64, sizeof v64, &vl, ssig, hl);
	if (dbuf_addstr(out, "v=") || dbuf_add(out, v64, vl))
		return fail(s, why, why_len, "SCRAM: message too large");
	snprintf(s->principal, sizeof s->principal, "%s", u->name);
	s->state = SASL_DONE;
	*done = true;
	return 0;
}

int sasl_session_step(struct sasl_session *s, const struct sasl_users *users, const uint8_t *in, size_t in_len,
		      struct dbuf *out, bool *done, char *why, size_t why_len)
{
	*done = false;
	if (s->state == SASL_START || s->state == SASL_DONE || s->state == SASL_FAILED) {
		snprintf(why, why_len, "no SASL exchange in progress");
		return ERR_STATE;
	}
	if (in_len > SASL_MESSAGE_MAX)
		return fail(s, why, why_len, "SASL message too large");
	if (s->mech == SASL_MECH_PLAIN)
		return plain_step(s, users, in, in_len, done, why, why_len);
	if (s->state == SASL_MECH_CHOSEN)
		return scram_first(s, users, (const char *)in, in_len, out, why, why_len);
	return scram_final(s, users, (const char *)in, in_len, out, done, why, why_len);
}
