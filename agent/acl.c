/* ACL file parsing and evaluation (acl.h).  Kept local and simple: a linear scan of the rules that apply
 * to a client.  The broker's subscription trie is elsewhere (common/mqtt); this never allocates on a check. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/acl.h"
#include "base/err.h"

#define ACL_DENY 0x80

struct rule {
	char *user;    /* `user` block this rule belongs to; NULL = anonymous block or pattern */
	bool pattern;
	unsigned access; /* ACL_* bits, or ACL_DENY */
	char *filter;
};

struct acl {
	struct rule *rules;
	size_t count, cap;
	char **users; /* owned user names, rules point into them */
	size_t user_count;
};

/* ---- matching ---- */

static size_t level_len(const char *s) { return strcspn(s, "/"); }

bool acl_filter_matches(const char *f, const char *t)
{
	if ((f[0] == '+' || f[0] == '#') && t[0] == '$')
		return false;
	for (;;) {
		if (f[0] == '#' && f[1] == '\0')
			return true;
		size_t fl = level_len(f), tl = level_len(t);
		if (!(fl == 1 && f[0] == '+') && !(fl == tl && memcmp(f, t, fl) == 0))
			return false;
		f += fl, t += tl;
		if (!*f && !*t)
			return true;
		if (!*f)
			return false;
		if (!*t)
			return strcmp(f, "/#") == 0; /* "a/#" also matches "a" (MQTT 5.0 §4.7.1.2) */
		f++, t++;
	}
}

bool acl_filter_covers(const char *f, const char *s)
{
	if ((f[0] == '+' || f[0] == '#') && s[0] == '$')
		return false;
	for (;;) {
		if (f[0] == '#' && f[1] == '\0')
			return true;
		size_t fl = level_len(f), sl = level_len(s);
		if (sl == 1 && s[0] == '#')
			return false; /* a '#' subscription is wider than any non-'#' level */
		if (fl == 1 && f[0] == '+') {
			/* any one level, including '+' */
		} else if (fl != sl || memcmp(f, s, fl) != 0 || (sl == 1 && s[0] == '+')) {
			return false;
		}
		f += fl, s += sl;
		if (!*f && !*s)
			return true;
		if (!*f)
			return false;
		if (!*s)
			return strcmp(f, "/#") == 0;
		f++, s++;
	}
}

/* %u/%c substitution into buf; false when a value is unusable (absent, empty, or would act as a wildcard). */
static bool expand(const char *filter, const char *user, const char *client_id, char *buf, size_t cap)
{
	size_t n = 0;
	for (const char *p = filter; *p; p++) {
		const char *v = NULL;
		if (p[0] == '%' && (p[1] == 'u' || p[1] == 'c')) {
			v = p[1] == 'u' ? user : client_id;
			if (!v || !*v || strpbrk(v, "/+#"))
				return false;
			p++;
		}
		size_t l = v ? strlen(v) : 1;
		if (n + l >= cap)
			return false;
		memcpy(buf + n, v ? v : p, l);
		n += l;
	}
	buf[n] = '\0';
	return true;
}

static bool applies(const struct rule *r, const char *user)
{
	if (r->pattern)
		return true;
	if (!r->user)
		return user == NULL;
	return user && strcmp(r->user, user) == 0;
}

bool acl_check(const struct acl *acl, const char *user, const char *client_id, const char *topic,
	       enum acl_access access)
{
	if (!acl)
		return true;
	bool granted = false;
	char buf[ACL_FILTER_MAX + 1];
	for (size_t i = 0; i < acl->count; i++) {
		const struct rule *r = &acl->rules[i];
		if (!applies(r, user))
			continue;
		const char *f = r->filter;
		if (r->pattern) {
			if (!expand(r->filter, user, client_id, buf, sizeof buf))
				continue;
			f = buf;
		}
		bool hit = access == ACL_SUBSCRIBE ? acl_filter_covers(f, topic) : acl_filter_matches(f, topic);
		if (!hit)
			continue;
		if (r->access == ACL_DENY)
			return false;
		if (r->access & access)
			granted = true;
	}
	return granted;
}

/* ---- parsing ---- */

static bool valid_filter(const char *f)
{
	size_t len = strlen(f);
	if (len == 0 || len > ACL_FILTER_MAX)
		return false;
	for (const char *p = f; *p; p++) {
		bool start = p == f || p[-1] == '/', end = p[1] == '\0' || p[1] == '/';
		if (*p == '+' && !(start && end))
			return false;
		if (*p == '#' && !(start && p[1] == '\0'))
			return false;
	}
	return true;
}

static int add_rule(struct acl *a, const char *user, bool pattern, unsigned access, const char *filter)
{
	if (a->count >= ACL_RULES_MAX)
		return ERR_TOO_LARGE;
	if (a->count == a->cap) {
		size_t cap = a->cap ? a->cap * 2 : 16;
		struct rule *r = realloc(a->rules, cap * sizeof *r);
		if (!r)
			return ERR_NOMEM;
		a->rules = r, a->cap = cap;
	}
	char *f = strdup(filter);
	if (!f)
		return ERR_NOMEM;
	a->rules[a->count++] = (struct rule){(char *)user, pattern, access, f};
	return 0;
}

static int access_word(const char *w, unsigned *out)
{
	static const struct { const char *w; unsigned a; } words[] = {
		{"read", ACL_READ | ACL_SUBSCRIBE}, {"write", ACL_WRITE},
		{"readwrite", ACL_READ | ACL_WRITE | ACL_SUBSCRIBE}, {"subscribe", ACL_SUBSCRIBE}, {"deny", ACL_DENY},
	};
	for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
		if (strcmp(w, words[i].w) == 0)
			return *out = words[i].a, 0;
	return ERR_NOT_FOUND;
}

static char *next_word(char **s)
{
	char *p = *s;
	while (isspace((unsigned char)*p))
		p++;
	char *w = p;
	while (*p && !isspace((unsigned char)*p))
		p++;
	if (*p)
		*p++ = '\0';
	while (isspace((unsigned char)*p))
		p++;
	*s = p;
	return w;
}

static int parse_line(struct acl *a, char *line, const char **user, char *why, size_t why_len)
{
	char *rest = line;
	char *kw = next_word(&rest);
	if (!*kw || *kw == '#')
		return 0;
	char *end = rest + strlen(rest);
	while (end > rest && isspace((unsigned char)end[-1]))
		*--end = '\0';
	if (strcmp(kw, "user") == 0) {
		if (!*rest)
			return snprintf(why, why_len, "user needs a name"), ERR_CONFIG;
		char **u = realloc(a->users, (a->user_count + 1) * sizeof *u);
		if (!u)
			return ERR_NOMEM;
		a->users = u;
		if (!(u[a->user_count] = strdup(rest)))
			return ERR_NOMEM;
		*user = u[a->user_count++];
		return 0;
	}
	bool pattern = strcmp(kw, "pattern") == 0;
	if (!pattern && strcmp(kw, "topic") != 0)
		return snprintf(why, why_len, "unknown keyword '%.40s' (user, topic, pattern)", kw), ERR_CONFIG;
	unsigned access = ACL_READ | ACL_WRITE | ACL_SUBSCRIBE;
	size_t wl = strcspn(rest, " \t");
	char word[16];
	if (wl < sizeof word) {
		memcpy(word, rest, wl);
		word[wl] = '\0';
		if (access_word(word, &access) == 0) {
			rest += wl;
			while (isspace((unsigned char)*rest))
				rest++;
		}
	}
	const char *filter = rest; /* the rest of the line: a filter may hold spaces */
	if (!valid_filter(filter))
		return snprintf(why, why_len, "'%.100s' is not a valid topic filter", filter), ERR_CONFIG;
	return add_rule(a, pattern ? NULL : *user, pattern, access, filter);
}

void acl_free(struct acl *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->count; i++)
		free(a->rules[i].filter);
	for (size_t i = 0; i < a->user_count; i++)
		free(a->users[i]);
	free(a->users);
	free(a->rules);
	free(a);
}

int acl_parse(struct acl **out, const char *text, size_t len, const char *name, char *err, size_t err_len)
{
	struct acl *a = calloc(1, sizeof *a);
	if (!a)
		return ERR_NOMEM;
	const char *user = NULL;
	size_t pos = 0;
	int rc = 0;
	for (unsigned lineno = 1; pos < len && !rc; lineno++) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		char line[ACL_FILTER_MAX + 64], why[200] = "";
		if (n >= sizeof line || memchr(text + pos, '\0', n)) {
			snprintf(err, err_len, "%s:%u: line too long or has a NUL byte", name, lineno);
			rc = ERR_CONFIG;
			break;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		rc = parse_line(a, line, &user, why, sizeof why);
		if (rc)
			snprintf(err, err_len, "%s:%u: %s", name, lineno, why[0] ? why : err_str(rc));
		pos += n + (nl != NULL);
	}
	if (rc) {
		acl_free(a);
		return rc == ERR_NOMEM ? rc : ERR_CONFIG;
	}
	*out = a;
	return 0;
}

int acl_load(struct acl **out, const char *path, char *err, size_t err_len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return snprintf(err, err_len, "%s: %s", path, strerror(errno)), ERR_CONFIG;
	size_t cap = 16u << 20;
	char *text = malloc(cap + 1);
	size_t n = text ? fread(text, 1, cap + 1, f) : 0;
	int rc;
	if (!text)
		rc = ERR_NOMEM;
	else if (ferror(f) || n > cap)
		rc = ERR_CONFIG, snprintf(err, err_len, "%s: unreadable or larger than %zu bytes", path, cap);
	else
		rc = acl_parse(out, text, n, path, err, err_len);
	free(text);
	fclose(f);
	return rc;
}
