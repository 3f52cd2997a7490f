/* libFuzzer: the config parser on arbitrary text must return 0 or ERR_CONFIG with a message that names the
 * file, never crash, and never write outside the target structs. */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/config.h"
#include "base/err.h"

struct item {
	char name[16];
	uint64_t cap;
};

struct conf {
	char s[8];
	uint32_t n;
	uint64_t size, dur;
	int e;
	_Bool b;
	struct item items[2];
	int item_count;
};

static const char *const choices[] = {"a", "b", NULL};
static const struct config_key keys[] = {
	{"s", CFG_STR, offsetof(struct conf, s), 8, 0, 0, "x", NULL, ""},
	{"n", CFG_U32, offsetof(struct conf, n), 0, 0, 100, "1", NULL, ""},
	{"size", CFG_SIZE, offsetof(struct conf, size), 0, 0, UINT64_MAX, "1k", NULL, ""},
	{"dur", CFG_DURATION, offsetof(struct conf, dur), 0, 0, UINT64_MAX, "1s", NULL, ""},
	{"e", CFG_ENUM, offsetof(struct conf, e), 0, 0, 0, "a", choices, ""},
	{"b", CFG_BOOL, offsetof(struct conf, b), 0, 0, 0, "no", NULL, ""},
	{NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL},
};
static const struct config_key item_keys[] = {
	{"cap", CFG_SIZE, offsetof(struct item, cap), 0, 0, 1 << 20, "1k", NULL, ""},
	{NULL, 0, 0, 0, 0, 0, NULL, NULL, NULL},
};

static void *open_item(void *ctx, const char *instance, char *err, size_t err_len)
{
	struct conf *c = ctx;
	if (c->item_count == 2 || strlen(instance) >= sizeof c->items[0].name) {
		snprintf(err, err_len, "no");
		return NULL;
	}
	struct item *it = &c->items[c->item_count++];
	strcpy(it->name, instance);
	return it;
}

static const struct config_section sections[] = {
	{"", keys, NULL}, {"sec", keys, NULL}, {"item", item_keys, open_item}, {NULL, NULL, NULL},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct conf c;
	memset(&c, 0, sizeof c);
	config_defaults(sections, &c);
	char err[256];
	err[0] = '\0';
	int rc = config_parse(sections, &c, (const char *)data, size, "fuzz.conf", err, sizeof err);
	if (rc != 0 && (rc != ERR_CONFIG || strncmp(err, "fuzz.conf:", 10) != 0))
		abort();
	if (c.n > 100 || strlen(c.s) >= sizeof c.s || c.e < 0 || c.e > 1)
		abort();
	return 0;
}
