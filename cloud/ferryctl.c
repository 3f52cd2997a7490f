/* ferryctl: look at and change a ferry-cloud node (or any Kafka broker) over the Kafka protocol.
 *
 *   ferryctl [-b host:port] [--user U --password P] topics          topics, partitions, earliest/latest offsets
 *   ferryctl [-b ...] create TOPIC [-p PARTITIONS]                  CreateTopics
 *   ferryctl [-b ...] delete TOPIC                                  DeleteTopics
 *   ferryctl [-b ...] groups                                        groups, state, members, committed offset and
 *                                                                   lag per partition
 *
 * One blocking connection, requests encoded by the shared codec (common/kafka); SASL PLAIN when a user is
 * given.  Exit status 0, 1 on a Kafka error, 2 on a usage or connection error. */
#include <errno.h>
#include <inttypes.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/err.h"
#include "base/rw.h"
#include "kafka/proto.h"

#define FRAME_MAX (64u << 20)
#define ARENA_BYTES (16u << 20)

struct client {
	int fd;
	int32_t corr;
	uint8_t *buf;    /* request encode buffer */
	uint8_t *resp;   /* last response frame body */
	uint8_t *arena_buf;
	struct kafka_arena arena;
};

static int dial(const char *hostport)
{
	char host[256];
	snprintf(host, sizeof host, "%s", hostport);
	char *colon = strrchr(host, ':');
	if (!colon) {
		fprintf(stderr, "ferryctl: -b wants host:port\n");
		return -1;
	}
	*colon = 0;
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *ai;
	int rc = getaddrinfo(host, colon + 1, &hints, &ai);
	if (rc) {
		fprintf(stderr, "ferryctl: %s: %s\n", hostport, gai_strerror(rc));
		return -1;
	}
	int fd = -1;
	for (struct addrinfo *a = ai; a && fd < 0; a = a->ai_next) {
		fd = socket(a->ai_family, a->ai_socktype, 0);
		if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen)) {
			close(fd);
			fd = -1;
		}
	}
	freeaddrinfo(ai);
	if (fd < 0)
		fprintf(stderr, "ferryctl: connect %s: %s\n", hostport, strerror(errno));
	return fd;
}

static int io_all(int fd, void *p, size_t n, bool wr)
{
	uint8_t *b = p;
	while (n) {
		ssize_t k = wr ? write(fd, b, n) : read(fd, b, n);
		if (k <= 0) {
			if (k < 0 && errno == EINTR)
				continue;
			return -1;
		}
		b += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Send one request and decode its answer into resp (views into c->resp; arrays in c->arena). */
static int call(struct client *c, int16_t key, int16_t ver, const void *req, union kafka_any_response *resp)
{
	struct kafka_request_header h = {key, ver, ++c->corr, {"ferryctl", 8}};
	int n = kafka_request_encode(&h, req, c->buf, FRAME_MAX);
	if (n < 0 || io_all(c->fd, c->buf, (size_t)n, true)) {
		fprintf(stderr, "ferryctl: sending request %d: %s\n", key, n < 0 ? err_str(n) : strerror(errno));
		return -1;
	}
	uint8_t pre[4];
	if (io_all(c->fd, pre, 4, false)) {
		fprintf(stderr, "ferryctl: the broker closed the connection\n");
		return -1;
	}
	uint32_t len = be32_get(pre);
	if (len > FRAME_MAX || io_all(c->fd, c->resp, len, false)) {
		fprintf(stderr, "ferryctl: bad response frame\n");
		return -1;
	}
	c->arena.used = 0;
	int32_t corr;
	int rc = kafka_response_decode(c->resp, len, key, ver, &corr, resp, &c->arena);
	if (rc || corr != c->corr) {
		fprintf(stderr, "ferryctl: decoding response %d: %s\n", key, rc ? err_str(rc) : "wrong correlation id");
		return -1;
	}
	return 0;
}

static struct kafka_str S(const char *s) { return (struct kafka_str){s, (int32_t)strlen(s)}; }

static int sasl_plain(struct client *c, const char *user, const char *pass)
{
	union kafka_any_request q;
	union kafka_any_response r;
	kafka_msg_init(&kafka_msg_sasl_handshake_request, &q);
	q.sasl_handshake.mechanism = S("PLAIN");
	if (call(c, KAFKA_API_SASL_HANDSHAKE, 1, &q, &r))
		return -1;
	if (r.sasl_handshake.error_code) {
		fprintf(stderr, "ferryctl: SASL PLAIN refused (error %d)\n", r.sasl_handshake.error_code);
		return -1;
	}
	char tok[600];
	int n = snprintf(tok, sizeof tok, "%c%s%c%s", 0, user, 0, pass);
	kafka_msg_init(&kafka_msg_sasl_authenticate_request, &q);
	q.sasl_authenticate.auth_bytes = (struct kafka_bytes){(const uint8_t *)tok, n};
	if (call(c, KAFKA_API_SASL_AUTHENTICATE, 1, &q, &r))
		return -1;
	if (r.sasl_authenticate.error_code) {
		fprintf(stderr, "ferryctl: authentication failed (error %d)\n", r.sasl_authenticate.error_code);
		return -1;
	}
	return 0;
}

/* Earliest (-2) or latest (-1) offset of one partition; -1 when unknown. */
static int64_t list_offset(struct client *c, struct kafka_str topic, int32_t part, int64_t which)
{
	union kafka_any_request q;
	union kafka_any_response r;
	struct kafka_list_offsets_request_list_offsets_partition p = {part, -1, which, 1};
	struct kafka_list_offsets_request_list_offsets_topic t = {topic, {&p, 1}};
	kafka_msg_init(&kafka_msg_list_offsets_request, &q);
	q.list_offsets.replica_id = -1;
	q.list_offsets.topics.items = &t;
	q.list_offsets.topics.count = 1;
	if (call(c, KAFKA_API_LIST_OFFSETS, 4, &q, &r) || r.list_offsets.topics.count != 1 ||
	    r.list_offsets.topics.items[0].partitions.count != 1)
		return -1;
	const struct kafka_list_offsets_response_list_offsets_partition_response *o =
		&r.list_offsets.topics.items[0].partitions.items[0];
	return o->error_code ? -1 : o->offset;
}

static int cmd_topics(struct client *c)
{
	union kafka_any_request q;
	union kafka_any_response r;
	kafka_msg_init(&kafka_msg_metadata_request, &q);
	q.metadata.topics.count = -1;
	if (call(c, KAFKA_API_METADATA, 9, &q, &r))
		return 2;
	/* The next calls reuse the response buffers: copy what we need first. */
	int32_t nt = r.metadata.topics.count;
	struct row { char name[256]; int32_t parts; bool internal; } *rows = calloc(nt > 0 ? (size_t)nt : 1, sizeof *rows);
	for (int32_t i = 0; i < nt; i++) {
		const struct kafka_metadata_response_topic *t = &r.metadata.topics.items[i];
		snprintf(rows[i].name, sizeof rows[i].name, "%.*s", t->name.len, t->name.p);
		rows[i].parts = t->partitions.count;
		rows[i].internal = t->is_internal;
	}
	printf("%-40s %9s %15s %15s %12s\n", "TOPIC", "PARTITION", "EARLIEST", "LATEST", "RECORDS");
	for (int32_t i = 0; i < nt; i++)
		for (int32_t p = 0; p < rows[i].parts; p++) {
			int64_t lo = list_offset(c, S(rows[i].name), p, -2), hi = list_offset(c, S(rows[i].name), p, -1);
			printf("%-40s %9d %15" PRId64 " %15" PRId64 " %12" PRId64 "%s\n", rows[i].name, p, lo, hi,
			       hi >= lo && lo >= 0 ? hi - lo : 0, rows[i].internal ? "  (internal)" : "");
		}
	free(rows);
	return 0;
}

static int cmd_create(struct client *c, const char *name, int32_t parts)
{
	union kafka_any_request q;
	union kafka_any_response r;
	struct kafka_create_topics_request_creatable_topic t = {.name = S(name), .num_partitions = parts,
							       .replication_factor = -1};
	kafka_msg_init(&kafka_msg_create_topics_request, &q);
	q.create_topics.topics.items = &t;
	q.create_topics.topics.count = 1;
	q.create_topics.timeout_ms = 30000;
	if (call(c, KAFKA_API_CREATE_TOPICS, 5, &q, &r) || r.create_topics.topics.count != 1)
		return 2;
	const struct kafka_create_topics_response_creatable_topic_result *o = &r.create_topics.topics.items[0];
	if (o->error_code) {
		fprintf(stderr, "ferryctl: create %s: error %d%s%.*s\n", name, o->error_code,
			o->error_message.len > 0 ? ": " : "", o->error_message.len > 0 ? o->error_message.len : 0,
			o->error_message.p ? o->error_message.p : "");
		return 1;
	}
	printf("created %s with %d partition%s\n", name, o->num_partitions, o->num_partitions == 1 ? "" : "s");
	return 0;
}

static int cmd_delete(struct client *c, const char *name)
{
	union kafka_any_request q;
	union kafka_any_response r;
	struct kafka_str n = S(name);
	kafka_msg_init(&kafka_msg_delete_topics_request, &q);
	q.delete_topics.topic_names.items = &n;
	q.delete_topics.topic_names.count = 1;
	q.delete_topics.timeout_ms = 30000;
	if (call(c, KAFKA_API_DELETE_TOPICS, 4, &q, &r) || r.delete_topics.responses.count != 1)
		return 2;
	int16_t e = r.delete_topics.responses.items[0].error_code;
	if (e) {
		fprintf(stderr, "ferryctl: delete %s: error %d\n", name, e);
		return 1;
	}
	printf("deleted %s\n", name);
	return 0;
}

struct committed {
	char topic[256];
	int32_t partition;
	int64_t offset;
};

static int group_detail(struct client *c, const char *group)
{
	union kafka_any_request q;
	union kafka_any_response r;
	struct kafka_str g = S(group);
	kafka_msg_init(&kafka_msg_describe_groups_request, &q);
	q.describe_groups.groups.items = &g;
	q.describe_groups.groups.count = 1;
	if (call(c, KAFKA_API_DESCRIBE_GROUPS, 4, &q, &r) || r.describe_groups.groups.count != 1)
		return 2;
	const struct kafka_describe_groups_response_described_group *d = &r.describe_groups.groups.items[0];
	printf("group %s: %.*s, %d member%s\n", group, d->group_state.len, d->group_state.p, d->members.count,
	       d->members.count == 1 ? "" : "s");
	for (int32_t i = 0; i < d->members.count; i++)
		printf("  member %.*s (%.*s%.*s)\n", d->members.items[i].member_id.len, d->members.items[i].member_id.p,
		       d->members.items[i].client_id.len, d->members.items[i].client_id.p,
		       d->members.items[i].client_host.len, d->members.items[i].client_host.p);
	kafka_msg_init(&kafka_msg_offset_fetch_request, &q);
	q.offset_fetch.group_id = g;
	q.offset_fetch.topics.count = -1;
	if (call(c, KAFKA_API_OFFSET_FETCH, 7, &q, &r))
		return 2;
	size_t n = 0;
	for (int32_t i = 0; i < r.offset_fetch.topics.count; i++)
		n += (size_t)r.offset_fetch.topics.items[i].partitions.count;
	struct committed *cm = calloc(n ? n : 1, sizeof *cm);
	n = 0;
	for (int32_t i = 0; i < r.offset_fetch.topics.count; i++) {
		const struct kafka_offset_fetch_response_topic *t = &r.offset_fetch.topics.items[i];
		for (int32_t k = 0; k < t->partitions.count; k++, n++) {
			snprintf(cm[n].topic, sizeof cm[n].topic, "%.*s", t->name.len, t->name.p);
			cm[n].partition = t->partitions.items[k].partition_index;
			cm[n].offset = t->partitions.items[k].committed_offset;
		}
	}
	if (n)
		printf("  %-38s %9s %15s %15s %10s\n", "TOPIC", "PARTITION", "COMMITTED", "LATEST", "LAG");
	for (size_t i = 0; i < n; i++) {
		int64_t hi = list_offset(c, S(cm[i].topic), cm[i].partition, -1);
		printf("  %-38s %9d %15" PRId64 " %15" PRId64 " %10" PRId64 "\n", cm[i].topic, cm[i].partition,
		       cm[i].offset, hi, hi >= 0 && cm[i].offset >= 0 ? hi - cm[i].offset : -1);
	}
	free(cm);
	return 0;
}

static int cmd_groups(struct client *c)
{
	union kafka_any_request q;
	union kafka_any_response r;
	kafka_msg_init(&kafka_msg_list_groups_request, &q);
	if (call(c, KAFKA_API_LIST_GROUPS, 3, &q, &r))
		return 2;
	int32_t n = r.list_groups.groups.count > 0 ? r.list_groups.groups.count : 0;
	char (*names)[256] = calloc(n ? (size_t)n : 1, sizeof *names);
	for (int32_t i = 0; i < n; i++)
		snprintf(names[i], sizeof names[i], "%.*s", r.list_groups.groups.items[i].group_id.len,
			 r.list_groups.groups.items[i].group_id.p);
	int rc = 0;
	if (n == 0)
		printf("no groups\n");
	for (int32_t i = 0; i < n && !rc; i++)
		rc = group_detail(c, names[i]);
	free(names);
	return rc;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: ferryctl [-b host:port] [--user NAME --password PASS] COMMAND\n"
		   "  topics                       list topics and partitions with earliest/latest offsets\n"
		   "  create TOPIC [-p PARTITIONS] create a topic (default: the broker's partition count)\n"
		   "  delete TOPIC                 delete a topic and its data\n"
		   "  groups                       list consumer groups with members, committed offsets and lag\n"
		   "  -b defaults to 127.0.0.1:9092\n");
}

int main(int argc, char **argv)
{
	const char *broker = "127.0.0.1:9092", *user = NULL, *pass = "", *cmd = NULL, *arg = NULL;
	int32_t parts = -1;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-b") && i + 1 < argc)
			broker = argv[++i];
		else if (!strcmp(argv[i], "--user") && i + 1 < argc)
			user = argv[++i];
		else if (!strcmp(argv[i], "--password") && i + 1 < argc)
			pass = argv[++i];
		else if (!strcmp(argv[i], "-p") && i + 1 < argc)
			parts = atoi(argv[++i]);
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			usage(stdout);
			return 0;
		} else if (!cmd)
			cmd = argv[i];
		else if (!arg)
			arg = argv[i];
		else {
			usage(stderr);
			return 2;
		}
	}
	bool needs_arg = cmd && (!strcmp(cmd, "create") || !strcmp(cmd, "delete"));
	if (!cmd || (needs_arg && !arg) || (!needs_arg && arg) ||
	    (strcmp(cmd, "topics") && strcmp(cmd, "groups") && !needs_arg)) {
		usage(stderr);
		return 2;
	}
	struct client c = {.fd = dial(broker)};
	if (c.fd < 0)
		return 2;
	c.buf = malloc(FRAME_MAX);
	c.resp = malloc(FRAME_MAX);
	c.arena_buf = malloc(ARENA_BYTES);
	if (!c.buf || !c.resp || !c.arena_buf)
		return 2;
	kafka_arena_init(&c.arena, c.arena_buf, ARENA_BYTES);
	int rc = user && sasl_plain(&c, user, pass) ? 2 : 0;
	if (!rc) {
		if (!strcmp(cmd, "topics"))
			rc = cmd_topics(&c);
		else if (!strcmp(cmd, "groups"))
			rc = cmd_groups(&c);
		else if (!strcmp(cmd, "create"))
			rc = cmd_create(&c, arg, parts);
		else
			rc = cmd_delete(&c, arg);
	}
	close(c.fd);
	free(c.buf);
	free(c.resp);
	free(c.arena_buf);
	return rc;
}
