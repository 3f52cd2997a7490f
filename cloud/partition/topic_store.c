/* The local topic store: <data_dir>/topics.meta, a small text file replaced atomically (write temp, fsync,
 * rename, fsync the directory) on every change.  One line per topic: "<uuid hex> <partitions> <internal>
 * <name>" then optional overrides "retention.ms=N", "retention.bytes=N", "segment.bytes=N".  Raft metadata
 * replaces this through struct topic_store. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/dbuf.h"
#include "base/err.h"
#include "base/log.h"
#include "cloud/partition/partition.h"
#include "port.h"

#define STORE_MAGIC "ferry-topics 1"
#define STORE_FILE_MAX (64u << 20)

struct file_store {
	char path[1100];
};

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static const struct {
	const char *key;
	size_t off;
} override_keys[] = {
	{"retention.ms", offsetof(struct topic_overrides, retention_ms)},
	{"retention.bytes", offsetof(struct topic_overrides, retention_bytes)},
	{"segment.bytes", offsetof(struct topic_overrides, segment_bytes)},
};

static int parse_overrides(const char *rest, struct topic_overrides *ov)
{
	topic_overrides_none(ov);
	char key[32];
	long long v;
	int n;
	while (sscanf(rest, " %31[a-z.]=%lld%n", key, &v, &n) == 2) {
		size_t k;
		for (k = 0; k < sizeof override_keys / sizeof override_keys[0]; k++)
			if (!strcmp(key, override_keys[k].key))
				break;
		if (k == sizeof override_keys / sizeof override_keys[0])
			return ERR_CORRUPT;
		*(int64_t *)((char *)ov + override_keys[k].off) = v;
		rest += n;
	}
	while (*rest == ' ')
		rest++;
	return *rest ? ERR_CORRUPT : 0;
}

static int parse_line(char *line, struct topic_record *r)
{
	char id[40], name[TOPIC_NAME_MAX + 2];
	unsigned parts, internal;
	int used = 0;
	if (sscanf(line, "%32s %u %u %250s%n", id, &parts, &internal, name, &used) != 4 || strlen(id) != 32 ||
	    strlen(name) > TOPIC_NAME_MAX || internal > 1)
		return ERR_CORRUPT;
	memset(r, 0, sizeof *r);
	if (parse_overrides(line + used, &r->ov))
		return ERR_CORRUPT;
	for (int i = 0; i < 16; i++) {
		int hi = hexval(id[2 * i]), lo = hexval(id[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return ERR_CORRUPT;
		r->id[i] = (uint8_t)(hi << 4 | lo);
	}
	strcpy(r->name, name);
	r->partition_count = parts;
	r->internal = internal;
	return 0;
}

static int file_load(void *ctx, int (*each)(void *arg, const struct topic_record *t), void *arg)
{
	struct file_store *s = ctx;
	FILE *f = fopen(s->path, "r");
	if (!f)
		return 0; /* a new node */
	char line[512];
	int rc = 0, n = 0;
	while (!rc && fgets(line, sizeof line, f)) {
		n++;
		line[strcspn(line, "\n")] = 0;
		if (n == 1) {
			if (strcmp(line, STORE_MAGIC))
				rc = ERR_CORRUPT;
			continue;
		}
		struct topic_record r;
		if ((rc = parse_line(line, &r)))
			break;
		rc = each(arg, &r);
	}
	if (rc == ERR_CORRUPT)
		log_error("%s:%d: unreadable topic record", s->path, n);
	fclose(f);
	return rc;
}

static int file_save(void *ctx, const struct topic_record *t, size_t count)
{
	struct file_store *s = ctx;
	struct dbuf b;
	dbuf_init(&b, STORE_FILE_MAX);
	int rc = dbuf_printf(&b, "%s\n", STORE_MAGIC);
	for (size_t i = 0; !rc && i < count; i++) {
		for (int k = 0; !rc && k < 16; k++)
			rc = dbuf_printf(&b, "%02x", t[i].id[k]);
		if (!rc)
			rc = dbuf_printf(&b, " %u %u %s", t[i].partition_count, t[i].internal ? 1u : 0u, t[i].name);
		for (size_t k = 0; !rc && k < sizeof override_keys / sizeof override_keys[0]; k++) {
			int64_t v = *(const int64_t *)((const char *)&t[i].ov + override_keys[k].off);
			if (v != TOPIC_INHERIT)
				rc = dbuf_printf(&b, " %s=%lld", override_keys[k].key, (long long)v);
		}
		if (!rc)
			rc = dbuf_addstr(&b, "\n");
	}
	if (!rc && (rc = port_write_file_atomic(s->path, b.p, b.len)))
		log_error("write %s: %s", s->path, err_str(rc));
	dbuf_deinit(&b);
	return rc;
}

int topic_store_file_init(struct topic_store *st, const char *dir)
{
	struct file_store *s = calloc(1, sizeof *s);
	if (!s)
		return ERR_NOMEM;
	snprintf(s->path, sizeof s->path, "%s/topics.meta", dir);
	*st = (struct topic_store){s, file_load, file_save};
	return 0;
}

void topic_store_file_deinit(struct topic_store *st)
{
	free(st->ctx);
	st->ctx = NULL;
}
