/* Config files: `key value` lines, `[section]` and `[section name]` headers, `#` comment lines.
 *
 * The schema is data: each section lists its keys with type, bounds, default and a line of documentation,
 * and values land at offsets into the caller's structs.  So every limit has one place, docs/ can be checked
 * against the table, and an error always names the file and line ("agent.conf:12: ...").
 *
 * Values: the rest of the line, trimmed; "double quotes" keep spaces and allow \" and \\.  Sizes take k/m/g
 * (powers of 1024); durations need a unit (ms, s, m, h, d) and are stored in milliseconds. */
#ifndef FERRY_BASE_CONFIG_H
#define FERRY_BASE_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_FILE_MAX (1u << 20) /* bytes; a bigger config file is refused */
#define CONFIG_LINE_MAX 4096
#define CONFIG_NAME_MAX 128 /* section instance names */

enum config_type {
	CFG_STR,      /* char[size], NUL-terminated */
	CFG_BOOL,     /* bool: true/false, yes/no, on/off, 1/0 */
	CFG_U32,      /* uint32_t within [min, max] */
	CFG_U64,      /* uint64_t within [min, max] */
	CFG_SIZE,     /* uint64_t bytes within [min, max] */
	CFG_DURATION, /* uint64_t milliseconds within [min, max] */
	CFG_ENUM,     /* int: index of the value in choices[] */
};

struct config_key {
	const char *key;
	enum config_type type;
	size_t offset; /* into the section's struct */
	size_t size;   /* CFG_STR: the char array's size */
	uint64_t min, max;
	const char *def; /* default, written as in a file; NULL = zero/empty */
	const char *const *choices; /* CFG_ENUM: NULL-terminated */
	const char *doc;
};

/* A section.  name "" holds the keys before any header.  For a repeated section (`[route sensors]`) open()
 * returns the struct for that instance (defaults are applied to it first) or NULL with a message in err. */
struct config_section {
	const char *name;
	const struct config_key *keys; /* terminated by an entry with key == NULL */
	void *(*open)(void *ctx, const char *instance, char *err, size_t err_len);
};

/* Fill the non-repeated sections' structs (at ctx) with their defaults. */
int config_defaults(const struct config_section *sections, void *ctx);
/* Parse text (name is used in messages).  0, or ERR_CONFIG with "name:line: why" in err. */
int config_parse(const struct config_section *sections, void *ctx, const char *text, size_t len, const char *name,
		 char *err, size_t err_len);
int config_parse_file(const struct config_section *sections, void *ctx, const char *path, char *err,
		      size_t err_len);
/* Parse one value as the key says, into obj; NULL-terminated reason in why on failure. */
int config_set(const struct config_key *k, void *obj, const char *value, char *why, size_t why_len);

int config_parse_size(const char *s, uint64_t *out);
int config_parse_duration_ms(const char *s, uint64_t *out);
int config_parse_bool(const char *s, bool *out);

#endif
