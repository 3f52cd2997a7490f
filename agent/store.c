/* Opening the agent database: corruption handling, schema migrations, the startup load (store.h).
 * Runs on the caller's thread before the writer starts.  Must never delete a database file. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "agent/store_internal.h"
#include "base/err.h"
#include "base/log.h"
#include "port.h"

/* Migration i takes the schema from user_version i to i + 1.  Append only; never edit a shipped step. */
static const char *const migrations[] = {
	"CREATE TABLE sessions(client_id TEXT PRIMARY KEY NOT NULL, protocol_version INTEGER NOT NULL,"
	" expiry_interval_s INTEGER NOT NULL, disconnected_at_ms INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE TABLE subscriptions(client_id TEXT NOT NULL, filter TEXT NOT NULL, options INTEGER NOT NULL,"
	" subscription_id INTEGER NOT NULL, PRIMARY KEY(client_id, filter)) WITHOUT ROWID;"
	"CREATE TABLE messages(client_id TEXT NOT NULL, direction INTEGER NOT NULL, seq INTEGER NOT NULL,"
	" state INTEGER NOT NULL, packet_id INTEGER NOT NULL, qos INTEGER NOT NULL, retain INTEGER NOT NULL,"
	" topic TEXT NOT NULL, payload BLOB NOT NULL, props BLOB, expiry_at_ms INTEGER NOT NULL,"
	" PRIMARY KEY(client_id, direction, seq));"
	"CREATE TABLE retained(topic TEXT PRIMARY KEY NOT NULL, qos INTEGER NOT NULL, payload BLOB NOT NULL,"
	" props BLOB, expiry_at_ms INTEGER NOT NULL);",
	/* 2: the store-and-forward buffer (agent/fwd.c, agent/uplink.c).  A record row stays until the cloud
	 * acknowledged its batch; a batch row fixes (partition, base sequence) before the first send, so a
	 * resend after a crash carries the same sequence numbers and the broker drops the duplicate. */
	"CREATE TABLE fwd_records(id INTEGER PRIMARY KEY, route TEXT NOT NULL, topic TEXT NOT NULL,"
	" priority INTEGER NOT NULL, ts INTEGER NOT NULL, key BLOB, value BLOB NOT NULL, headers BLOB,"
	" size INTEGER NOT NULL, batch INTEGER);"
	"CREATE INDEX fwd_records_batch ON fwd_records(batch);"
	"CREATE TABLE fwd_batches(id INTEGER PRIMARY KEY, topic TEXT NOT NULL, partition INTEGER NOT NULL,"
	" base_seq INTEGER NOT NULL, record_count INTEGER NOT NULL);"
	"CREATE TABLE fwd_producer(slot INTEGER PRIMARY KEY CHECK(slot = 0), producer_id INTEGER NOT NULL,"
	" epoch INTEGER NOT NULL);"
	"CREATE TABLE fwd_sequences(topic TEXT NOT NULL, partition INTEGER NOT NULL, next_seq INTEGER NOT NULL,"
	" PRIMARY KEY(topic, partition)) WITHOUT ROWID;",
};
_Static_assert(sizeof migrations / sizeof migrations[0] == STORE_SCHEMA_VERSION, "one migration per version");

static int exec(sqlite3 *db, const char *sql, const char *path)
{
	char *msg = NULL;
	int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK)
		log_error("store: %s: %.60s: %s", path, sql, msg ? msg : sqlite3_errstr(rc));
	sqlite3_free(msg);
	return rc;
}

static bool is_corruption(int rc) { return (rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB; }

static int pragma_int(sqlite3 *db, const char *sql, int64_t *out)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return rc;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*out = sqlite3_column_int64(st, 0);
		rc = SQLITE_OK;
	}
	sqlite3_finalize(st);
	return rc;
}

/* quick_check is O(database) but skips index cross-checks; it runs once at startup. */
static int check(sqlite3 *db, char *why, size_t why_len)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(db, "PRAGMA quick_check(1)", -1, &st, NULL);
	if (rc != SQLITE_OK) {
		snprintf(why, why_len, "%s", sqlite3_errstr(rc));
		return rc;
	}
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		const char *r = (const char *)sqlite3_column_text(st, 0);
		snprintf(why, why_len, "quick_check: %s", r ? r : "?");
		rc = r && strcmp(r, "ok") == 0 ? SQLITE_OK : SQLITE_CORRUPT;
	} else {
		snprintf(why, why_len, "quick_check: %s", sqlite3_errstr(rc));
	}
	sqlite3_finalize(st);
	return rc;
}

static int configure(struct store *s, char *why, size_t why_len)
{
	sqlite3_busy_timeout(s->db, 5000);
	int rc = check(s->db, why, why_len);
	if (rc != SQLITE_OK)
		return rc;
	sqlite3_stmt *st;
	rc = sqlite3_prepare_v2(s->db, "PRAGMA journal_mode=WAL", -1, &st, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_step(st);
		const char *mode = rc == SQLITE_ROW ? (const char *)sqlite3_column_text(st, 0) : NULL;
		rc = mode && strcmp(mode, "wal") == 0 ? SQLITE_OK : rc == SQLITE_ROW ? SQLITE_ERROR : rc;
		sqlite3_finalize(st);
	}
	if (rc != SQLITE_OK) {
		snprintf(why, why_len, "journal_mode=WAL: %s", sqlite3_errstr(rc));
		return rc;
	}
	/* WAL + FULL: every commit is fsynced (QoS 1/2 acks promise durability); NORMAL may lose the last commits
	 * on power loss but never corrupts. */
	rc = exec(s->db, s->cfg.sync == STORE_SYNC_FULL ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL",
		  s->path);
	if (rc != SQLITE_OK)
		snprintf(why, why_len, "synchronous: %s", sqlite3_errstr(rc));
	return rc;
}

static int migrate(struct store *s)
{
	int64_t v = 0;
	int rc = pragma_int(s->db, "PRAGMA user_version", &v);
	if (rc != SQLITE_OK)
		return rc;
	if (v > STORE_SCHEMA_VERSION) {
		log_error("store: %s has schema version %lld, newer than this agent's %d; refusing to touch it",
			  s->path, (long long)v, STORE_SCHEMA_VERSION);
		return -1;
	}
	if (v == STORE_SCHEMA_VERSION)
		return SQLITE_OK;
	if ((rc = exec(s->db, "BEGIN IMMEDIATE", s->path)) != SQLITE_OK)
		return rc;
	for (int64_t i = v; i < STORE_SCHEMA_VERSION && rc == SQLITE_OK; i++)
		rc = exec(s->db, migrations[i], s->path);
	char sql[64];
	snprintf(sql, sizeof sql, "PRAGMA user_version=%d", STORE_SCHEMA_VERSION);
	if (rc == SQLITE_OK)
		rc = exec(s->db, sql, s->path);
	if (rc == SQLITE_OK)
		rc = exec(s->db, "COMMIT", s->path);
	if (rc != SQLITE_OK)
		exec(s->db, "ROLLBACK", s->path);
	else if (v > 0)
		log_info("store: %s migrated from schema %lld to %d", s->path, (long long)v, STORE_SCHEMA_VERSION);
	return rc;
}

/* Keep the damaged files for forensics: <path>.corrupt-<ms>, and its -wal/-shm likewise. */
static int move_aside(const char *path)
{
	static const char *const suffix[] = {"", "-wal", "-shm"};
	char to[PATH_MAX], from[PATH_MAX], dir[PATH_MAX];
	long long now = (long long)port_wall_ms();
	int rc = 0;
	for (int i = 0; i < 3; i++) {
		struct stat st;
		snprintf(from, sizeof from, "%s%s", path, suffix[i]);
		if (stat(from, &st) != 0)
			continue;
		if (snprintf(to, sizeof to, "%s.corrupt-%lld%s", path, now, suffix[i]) >= (int)sizeof to)
			return ERR_INVAL;
		if (port_sys.rename(from, to) != 0) {
			log_error("store: rename(%s, %s): %s", from, to, strerror(errno));
			rc = ERR_IO;
		} else if (i == 0) {
			log_error("store: DATABASE CORRUPT: moved %s to %s (kept for inspection); starting empty", from, to);
		}
	}
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	port_sync_dir(slash ? dir : ".");
	return rc;
}

static int open_once(struct store *s, char *why, size_t why_len)
{
	int rc = sqlite3_open_v2(s->path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
				 NULL);
	if (rc != SQLITE_OK) {
		snprintf(why, why_len, "open: %s", sqlite3_errstr(rc));
		return rc;
	}
	sqlite3_extended_result_codes(s->db, 1);
	if ((rc = configure(s, why, why_len)) != SQLITE_OK)
		return rc;
	if ((rc = migrate(s)) != SQLITE_OK)
		snprintf(why, why_len, "migration: %s", rc < 0 ? "schema too new" : sqlite3_errstr(rc));
	return rc;
}

static void close_db(struct store *s)
{
	store_finalize(s);
	if (s->db)
		sqlite3_close(s->db);
	s->db = NULL;
}

int store_open(struct store **out, const struct store_config *cfg)
{
	struct store *s = calloc(1, sizeof *s);
	if (!s || !(s->path = strdup(cfg->path))) {
		free(s);
		return ERR_NOMEM;
	}
	s->cfg = *cfg;
	s->cfg.path = s->path;
	if (!s->cfg.queue_ops_max)
		s->cfg.queue_ops_max = STORE_QUEUE_OPS_MAX_DEFAULT;
	if (!s->cfg.queue_bytes_max)
		s->cfg.queue_bytes_max = STORE_QUEUE_BYTES_MAX_DEFAULT;
	if (!s->cfg.batch_ops_max)
		s->cfg.batch_ops_max = STORE_BATCH_OPS_MAX_DEFAULT;
	s->wake[0] = s->wake[1] = -1;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);

	char why[256] = "";
	int rc = open_once(s, why, sizeof why);
	if (rc != SQLITE_OK && is_corruption(rc)) {
		log_error("store: %s: %s", s->path, why);
		close_db(s);
		if (move_aside(s->path) == 0) {
			s->recovered = true;
			rc = open_once(s, why, sizeof why);
		}
	}
	if (rc == SQLITE_OK)
		rc = store_prepare(s);
	if (rc != SQLITE_OK) {
		log_error("store: %s: %s", s->path, why[0] ? why : sqlite3_errstr(rc));
		int e = rc < 0 ? ERR_UNSUPPORTED : ERR_IO;
		s->started = false;
		store_close(s);
		return e;
	}
	*out = s;
	return 0;
}

bool store_recovered(const struct store *s) { return s->recovered; }

static const void *blob(sqlite3_stmt *st, int col, size_t *len)
{
	*len = (size_t)sqlite3_column_bytes(st, col);
	const void *p = sqlite3_column_blob(st, col);
	return p ? p : "";
}

static int load_rows(struct store *s, const char *sql, int (*row)(sqlite3_stmt *, const struct store_loader *, void *),
		     const struct store_loader *l, void *ctx)
{
	sqlite3_stmt *st;
	int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return ERR_IO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		int r = row(st, l, ctx);
		if (r) {
			sqlite3_finalize(st);
			return r;
		}
	}
	sqlite3_finalize(st);
	if (rc != SQLITE_DONE) {
		log_error("store: %s: load: %s", s->path, sqlite3_errstr(rc));
		return ERR_IO;
	}
	return 0;
}

static const char *col_text(sqlite3_stmt *st, int col)
{
	const char *t = (const char *)sqlite3_column_text(st, col);
	return t ? t : "";
}

static int row_session(sqlite3_stmt *st, const struct store_loader *l, void *ctx)
{
	struct store_session v = {col_text(st, 0), (uint8_t)sqlite3_column_int(st, 1),
				  (uint32_t)sqlite3_column_int64(st, 2), sqlite3_column_int64(st, 3)};
	return l->session(ctx, &v);
}

static int row_sub(sqlite3_stmt *st, const struct store_loader *l, void *ctx)
{
	struct store_sub v = {col_text(st, 1), (uint8_t)sqlite3_column_int(st, 2), (uint32_t)sqlite3_column_int64(st, 3)};
	return l->sub(ctx, col_text(st, 0), &v);
}

static int row_msg(sqlite3_stmt *st, const struct store_loader *l, void *ctx)
{
	struct store_msg m = {
		.direction = (uint8_t)sqlite3_column_int(st, 1),
		.seq = (uint64_t)sqlite3_column_int64(st, 2),
		.state = (uint8_t)sqlite3_column_int(st, 3),
		.packet_id = (uint16_t)sqlite3_column_int(st, 4),
		.qos = (uint8_t)sqlite3_column_int(st, 5),
		.retain = sqlite3_column_int(st, 6) != 0,
		.topic = col_text(st, 7),
		.expiry_at_ms = sqlite3_column_int64(st, 10),
	};
	m.payload = blob(st, 8, &m.payload_len);
	m.props = blob(st, 9, &m.props_len);
	return l->msg(ctx, col_text(st, 0), &m);
}

static int row_retained(sqlite3_stmt *st, const struct store_loader *l, void *ctx)
{
	struct store_retained r = {.topic = col_text(st, 0), .qos = (uint8_t)sqlite3_column_int(st, 1),
				   .expiry_at_ms = sqlite3_column_int64(st, 4)};
	r.payload = blob(st, 2, &r.payload_len);
	r.props = blob(st, 3, &r.props_len);
	return l->retained(ctx, &r);
}

int store_load(struct store *s, const struct store_loader *l, void *ctx)
{
	if (s->started)
		return ERR_STATE;
	int rc = 0;
	if (!rc && l->session)
		rc = load_rows(s, "SELECT client_id, protocol_version, expiry_interval_s, disconnected_at_ms FROM sessions",
			       row_session, l, ctx);
	if (!rc && l->sub)
		rc = load_rows(s, "SELECT client_id, filter, options, subscription_id FROM subscriptions", row_sub, l, ctx);
	if (!rc && l->msg)
		rc = load_rows(s,
			       "SELECT client_id, direction, seq, state, packet_id, qos, retain, topic, payload, props,"
			       " expiry_at_ms FROM messages ORDER BY client_id, direction, seq",
			       row_msg, l, ctx);
	if (!rc && l->retained)
		rc = load_rows(s, "SELECT topic, qos, payload, props, expiry_at_ms FROM retained", row_retained, l, ctx);
	return rc;
}

void store_close(struct store *s)
{
	if (!s)
		return;
	store_writer_stop(s);
	close_db(s);
	pthread_mutex_destroy(&s->lock);
	pthread_cond_destroy(&s->cond);
	free(s->path);
	free(s);
}
