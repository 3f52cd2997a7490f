/* Table-driven config parser (config.h). */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"
#include "base/err.h"

static int parse_u64(const char *s, uint64_t *out, const char **end)
{
	if (!isdigit((unsigned char)*s))
		return ERR_INVAL;
	errno = 0;
	char *e;
	unsigned long long v = strtoull(s, &e, 10);
	if (errno)
		return ERR_RANGE;
	*out = v;
	*end = e;
	return 0;
}

static int scaled(const char *s, uint64_t *out, const char *const *units, const uint64_t *mult, bool need_unit)
{
	const char *e;
	uint64_t v;
	int rc = parse_u64(s, &v, &e);
	if (rc)
		return rc;
	if (*e == '\0' && !need_unit) {
		*out = v;
		return 0;
	}
	for (int i = 0; units[i]; i++)
		if (strcasecmp(e, units[i]) == 0) {
			if (v > UINT64_MAX / mult[i])
				return ERR_RANGE;
			*out = v * mult[i];
			return 0;
		}
	return ERR_INVAL;
}

int config_parse_size(const char *s, uint64_t *out)
{
	static const char *const u[] = {"b", "k", "kb", "kib", "m", "mb", "mib", "g", "gb", "gib", NULL};
	static const uint64_t m[] = {1, 1 << 10, 1 << 10, 1 << 10, 1 << 20, 1 << 20, 1 << 20, 1 << 30, 1 << 30, 1 << 30};
	return scaled(s, out, u, m, false);
}

int config_parse_duration_ms(const char *s, uint64_t *out)
{
	static const char *const u[] = {"ms", "s", "m", "h", "d", NULL};
	static const uint64_t m[] = {1, 1000, 60000, 3600000, 86400000};
	return scaled(s, out, u, m, true);
}

int config_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no", "off", "0"};
	for (int i = 0; i < 4; i++) {
		if (strcasecmp(s, yes[i]) == 0)
			return *out = true, 0;
		if (strcasecmp(s, no[i]) == 0)
			return *out = false, 0;
	}
	return ERR_INVAL;
}

int config_set(const struct config_key *k, void *obj, const char *value, char *why, size_t why_len)
{
	char *at = (char *)obj + k->offset;
	uint64_t v = 0;
	int rc = 0;
	switch (k->type) {
	case CFG_STR:
		if (strlen(value) >= k->size) {
			snprintf(why, why_len, "value longer than %zu bytes", k->size - 1);
			return ERR_CONFIG;
		}
		memcpy(at, value, strlen(value) + 1);
		return 0;
	case CFG_BOOL:
		if (config_parse_bool(value, (bool *)at)) {
			snprintf(why, why_len, "'%s' is not a boolean (true/false, yes/no, on/off)", value);
			return ERR_CONFIG;
		}
		return 0;
	case CFG_ENUM:
		for (int i = 0; k->choices[i]; i++)
			if (strcmp(value, k->choices[i]) == 0)
				return *(int *)at = i, 0;
		snprintf(why, why_len, "'%s' is not one of the allowed values", value);
		return ERR_CONFIG;
	case CFG_U32:
	case CFG_U64: {
		const char *e;
		rc = parse_u64(value, &v, &e);
		if (!rc && *e)
			rc = ERR_INVAL;
		break;
	}
	case CFG_SIZE:
		rc = config_parse_size(value, &v);
		break;
	case CFG_DURATION:
		rc = config_parse_duration_ms(value, &v);
		break;
	}
	if (rc) {
		snprintf(why, why_len, "'%s' is not a valid %s", value,
			 k->type == CFG_SIZE ? "size (e.g. 512, 64k, 16m)"
			 : k->type == CFG_DURATION ? "duration with a unit (e.g. 500ms, 30s, 5m)"
						   : "number");
		return ERR_CONFIG;
	}
	if (v < k->min || v > k->max) {
		snprintf(why, why_len, "%s is out of range [%llu, %llu]", value, (unsigned long long)k->min,
			 (unsigned long long)k->max);
		return ERR_CONFIG;
	}
	if (k->type == CFG_U32)
		*(uint32_t *)at = (uint32_t)v;
	else
		*(uint64_t *)at = v;
	return 0;
}

static int apply_defaults(const struct config_key *keys, void *obj, const char *section, char *err, size_t err_len)
{
	for (const struct config_key *k = keys; k->key; k++) {
		char why[160];
		if (!k->def) {
			memset((char *)obj + k->offset, 0,
			       k->type == CFG_STR ? k->size : k->type == CFG_U32 ? 4 : k->type == CFG_BOOL ? sizeof(bool)
							 : k->type == CFG_ENUM ? sizeof(int) : 8);
			continue;
		}
		if (config_set(k, obj, k->def, why, sizeof why)) {
			/* a bad default is a programming error, but say which one */
			snprintf(err, err_len, "default of [%s] %s: %s", section, k->key, why);
			return ERR_CONFIG;
		}
	}
	return 0;
}

int config_defaults(const struct config_section *sections, void *ctx)
{
	char err[256];
	for (const struct config_section *s = sections; s->keys; s++)
		if (!s->open && apply_defaults(s->keys, ctx, s->name, err, sizeof err))
			return ERR_CONFIG;
	return 0;
}

/* Unquote a value in place; returns NULL when the quotes are unbalanced. */
static char *unquote(char *v)
{
	if (*v != '"')
		return v;
	char *out = v, *in = v + 1;
	while (*in && *in != '"') {
		if (*in == '\\' && (in[1] == '"' || in[1] == '\\'))
			in++;
		*out++ = *in++;
	}
	if (*in != '"' || in[1] != '\0')
		return NULL;
	*out = '\0';
	return v;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	char *e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

struct cursor {
	const struct config_section *section;
	void *obj;
	uint64_t seen; /* keys set in this section instance (duplicate detection, first 64 keys) */
};

static int open_section(const struct config_section *sections, void *ctx, char *hdr, struct cursor *cur,
			char *why, size_t why_len)
{
	char *name = hdr, *instance = hdr;
	while (*instance && !isspace((unsigned char)*instance))
		instance++;
	if (*instance)
		*instance++ = '\0';
	instance = trim(instance);
	for (const struct config_section *s = sections; s->keys; s++) {
		if (strcmp(s->name, name) != 0)
			continue;
		cur->section = s;
		cur->seen = 0;
		if (!s->open) {
			if (*instance) {
				snprintf(why, why_len, "section [%s] takes no name", name);
				return ERR_CONFIG;
			}
			cur->obj = ctx;
			return 0;
		}
		if (!*instance || strlen(instance) >= CONFIG_NAME_MAX) {
			snprintf(why, why_len, "section [%s] needs a name of 1 to %d bytes", name, CONFIG_NAME_MAX - 1);
			return ERR_CONFIG;
		}
		why[0] = '\0';
		cur->obj = s->open(ctx, instance, why, why_len);
		if (!cur->obj) {
			if (!why[0])
				snprintf(why, why_len, "cannot open [%s %s]", name, instance);
			return ERR_CONFIG;
		}
		return apply_defaults(s->keys, cur->obj, name, why, why_len);
	}
	snprintf(why, why_len, "unknown section [%s]", name);
	return ERR_CONFIG;
}

static int parse_line(const struct config_section *sections, void *ctx, char *line, struct cursor *cur, char *why,
		      size_t why_len)
{
	char *s = trim(line);
	if (*s == '\0' || *s == '#')
		return 0;
	if (*s == '[') {
		char *end = strchr(s, ']');
		if (!end || trim(end + 1)[0] != '\0') {
			snprintf(why, why_len, "section header needs a closing ']'");
			return ERR_CONFIG;
		}
		*end = '\0';
		return open_section(sections, ctx, trim(s + 1), cur, why, why_len);
	}
	char *value = s;
	while (*value && !isspace((unsigned char)*value))
		value++;
	if (*value)
		*value++ = '\0';
	value = unquote(trim(value));
	if (!value) {
		snprintf(why, why_len, "unbalanced quotes in the value of '%s'", s);
		return ERR_CONFIG;
	}
	if (!cur->section) {
		snprintf(why, why_len, "unknown key '%s'", s);
		return ERR_CONFIG;
	}
	int i = 0;
	for (const struct config_key *k = cur->section->keys; k->key; k++, i++) {
		if (strcmp(k->key, s) != 0)
			continue;
		if (i < 64 && (cur->seen & (1ull << i))) {
			snprintf(why, why_len, "'%s' is set twice in this section", s);
			return ERR_CONFIG;
		}
		if (i < 64)
			cur->seen |= 1ull << i;
		char inner[200];
		if (config_set(k, cur->obj, value, inner, sizeof inner)) {
			snprintf(why, why_len, "%s: %s", s, inner);
			return ERR_CONFIG;
		}
		return 0;
	}
	if (cur->section->name[0])
		snprintf(why, why_len, "unknown key '%s' in [%s]", s, cur->section->name);
	else
		snprintf(why, why_len, "unknown key '%s'", s);
	return ERR_CONFIG;
}

int config_parse(const struct config_section *sections, void *ctx, const char *text, size_t len, const char *name,
		 char *err, size_t err_len)
{
	struct cursor cur = {0};
	for (const struct config_section *s = sections; s->keys; s++)
		if (s->name[0] == '\0' && !s->open)
			cur.section = s, cur.obj = ctx;

	size_t pos = 0;
	for (unsigned lineno = 1; pos < len; lineno++) {
		const char *nl = memchr(text + pos, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - (text + pos)) : len - pos;
		char line[CONFIG_LINE_MAX], why[256];
		if (n >= sizeof line) {
			snprintf(err, err_len, "%s:%u: line longer than %d bytes", name, lineno, CONFIG_LINE_MAX - 1);
			return ERR_CONFIG;
		}
		memcpy(line, text + pos, n);
		line[n] = '\0';
		if (memchr(line, '\0', n)) {
			snprintf(err, err_len, "%s:%u: NUL byte in line", name, lineno);
			return ERR_CONFIG;
		}
		if (parse_line(sections, ctx, line, &cur, why, sizeof why)) {
			snprintf(err, err_len, "%s:%u: %s", name, lineno, why);
			return ERR_CONFIG;
		}
		pos += n + (nl != NULL);
	}
	return 0;
}

int config_parse_file(const struct config_section *sections, void *ctx, const char *path, char *err,
		      size_t err_len)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		snprintf(err, err_len, "%s: %s", path, strerror(errno));
		return ERR_CONFIG;
	}
	char *text = malloc(CONFIG_FILE_MAX + 1);
	size_t n = text ? fread(text, 1, CONFIG_FILE_MAX + 1, f) : 0;
	int rc;
	if (!text)
		snprintf(err, err_len, "%s: out of memory", path), rc = ERR_NOMEM;
	else if (ferror(f))
		snprintf(err, err_len, "%s: read error", path), rc = ERR_CONFIG;
	else if (n > CONFIG_FILE_MAX)
		snprintf(err, err_len, "%s: larger than %u bytes", path, CONFIG_FILE_MAX), rc = ERR_CONFIG;
	else
		rc = config_parse(sections, ctx, text, n, path, err, err_len);
	free(text);
	fclose(f);
	return rc;
}
