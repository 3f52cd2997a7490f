/* File storage for Raft: a directory holding
 *   hardstate        two 64-byte slots, written in turn in place (one fdatasync, no rename), each
 *                    [magic "FRHS"][u8 version][u64 seq][u64 term][u32 vote][u64 commit][u32 crc32c];
 *                    the valid slot with the higher seq wins, so a torn write falls back to the previous one
 *   snapshot         [magic "FRSN"][u8 version][u64 index][u64 term][conf][u32 len][data][u32 crc32c]
 *   log-<20 digits>  segments named by their first index: [magic "FRLG"][u8 version][u64 first][u32 crc32c]
 *                    then records [u32 len][u32 crc32c of payload][payload: u64 index, u64 term, u8 type, data]
 * Hard state and snapshot are replaced whole (write temp, fsync, rename, fsync directory).  Log records are
 * appended and made durable by sync(), which then writes the hard state, so a stored commit index never
 * points past the stored log.  Must never report success for a write that is not yet durable, and never
 * silently skip a damaged record that is not the torn tail of the last segment.  All syscalls that can fail
 * go through port_sys so tests can inject faults. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/crc32c.h"
#include "base/log.h"
#include "base/rw.h"
#include "port.h"
#include "raft/storage.h"

#define HS_MAGIC 0x46524853u  /* FRHS */
#define SNAP_MAGIC 0x4652534eu /* FRSN */
#define SEG_MAGIC 0x46524c47u  /* FRLG */
#define SEG_HEADER_SIZE 17
#define REC_HEADER_SIZE 8
#define REC_FIXED_SIZE 17
#define REC_SIZE_MAX (REC_FIXED_SIZE + (size_t)RAFT_ENTRY_DATA_MAX)
#define HS_SIZE 37
#define HS_SLOT 64
#define PATH_LEN_MAX 4096

struct seg {
	uint64_t first;  /* index of its first record */
	uint64_t last;   /* index of its last record (first - 1 when empty) */
	uint64_t end;    /* bytes used */
	uint8_t *image;  /* file contents read at open (views for load), freed on the first write */
};

struct ent_pos {
	uint64_t term;
	uint32_t seg;    /* segment number in segs[] */
	uint64_t off;    /* record offset in that segment */
};

struct raft_file {
	struct raft_storage s;
	char dir[PATH_LEN_MAX];
	struct seg *segs;
	unsigned seg_count;
	int fd;          /* the last segment, open for appends; -1 when there is none */
	struct ent_pos *pos; /* pos[i]: entry snap.index + 1 + i */
	size_t n, cap;
	struct raft_snap_meta snap;
	uint8_t *snap_image;  /* snapshot file contents (data is a view) */
	size_t snap_off, snap_len;
	struct raft_hard_state hs;
	struct raft_entry *boot_ents; /* views for load() */
	bool hs_dirty, dir_dirty, fd_dirty, failed, void_log, images_live;
	int hs_fd;
	uint64_t hs_seq;
	struct dbuf wb;
	size_t segment_bytes;
};

static int path_of(const struct raft_file *f, const char *name, char *out)
{
	int n = snprintf(out, PATH_LEN_MAX, "%s/%s", f->dir, name);
	return n < 0 || n >= PATH_LEN_MAX ? ERR_INVAL : 0;
}

static void seg_name(uint64_t first, char *out, size_t cap)
{
	snprintf(out, cap, "log-%020llu", (unsigned long long)first);
}

/* Whole small file into memory (hardstate, snapshot, a segment); ERR_NOT_FOUND when absent. */
static int read_file(const char *path, size_t max, uint8_t **out, size_t *len)
{
	int fd = port_sys.open(path, O_RDONLY | O_CLOEXEC, 0);
	if (fd < 0)
		return ERR_NOT_FOUND;
	int rc = 0;
	struct stat st;
	uint8_t *buf = NULL;
	if (fstat(fd, &st) != 0) {
		rc = ERR_IO;
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		rc = ERR_TOO_LARGE;
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf) {
		rc = ERR_NOMEM;
		goto out;
	}
	size_t got = 0;
	rc = port_pread_all(fd, buf, (size_t)st.st_size, 0, &got);
	if (rc == ERR_AGAIN)
		rc = 0; /* shrank while we read: take what is there */
	*len = got;
out:
	close(fd);
	if (rc)
		free(buf);
	else
		*out = buf;
	return rc;
}

static bool parse_slot(const uint8_t *p, uint64_t *seq, struct raft_hard_state *hs, bool *bad_version)
{
	struct rbuf r;
	rbuf_init(&r, p, HS_SIZE);
	uint32_t magic = rbuf_u32(&r);
	uint8_t version = rbuf_u8(&r);
	*seq = rbuf_u64(&r);
	hs->term = rbuf_u64(&r);
	hs->vote = rbuf_u32(&r);
	hs->commit = rbuf_u64(&r);
	uint32_t crc = rbuf_u32(&r);
	if (r.err || magic != HS_MAGIC || crc != crc32c(0, p, HS_SIZE - 4))
		return false;
	if (version != RAFT_STORAGE_VERSION) {
		*bad_version = true;
		return false;
	}
	return true;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static int load_hard_state(struct raft_file *f)
{
	char path[PATH_LEN_MAX];
	int rc = path_of(f, "hardstate", path);
	if (rc)
		return rc;
	bool existed = access(path, F_OK) == 0;
	f->hs_fd = port_sys.open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (f->hs_fd < 0)
		return ERR_IO;
	if (!existed)
		f->dir_dirty = true;
	uint8_t buf[2 * HS_SLOT] = {0};
	size_t got = 0;
	rc = port_pread_all(f->hs_fd, buf, sizeof buf, 0, &got);
	if (rc && rc != ERR_AGAIN)
		return rc;
	bool bad_version = false, found = false;
	for (unsigned i = 0; i < 2; i++) {
		uint64_t seq;
		struct raft_hard_state hs;
		if (parse_slot(buf + i * HS_SLOT, &seq, &hs, &bad_version) && (!found || seq > f->hs_seq)) {
			f->hs = hs;
			f->hs_seq = seq;
			found = true;
		}
	}
	rc = 0;
	if (bad_version && !found)
		rc = ERR_RAFT_BAD_VERSION;
	/* Nothing valid: fine for a file never written or whose first write tore (slot 1 untouched), not else. */
	else if (!found && got > 0 && !all_zero(buf + HS_SLOT, HS_SLOT) && !all_zero(buf, HS_SLOT))
		rc = ERR_CORRUPT;
	if (rc)
		log_error("raft: %s: %s", path, err_str(rc));
	return rc;
}

static int load_snapshot(struct raft_file *f)
{
	char path[PATH_LEN_MAX];
	uint8_t *buf;
	size_t len;
	int rc = path_of(f, "snapshot", path);
	if (rc)
		return rc;
	rc = read_file(path, RAFT_SNAP_DATA_MAX + 1024, &buf, &len);
	if (rc == ERR_NOT_FOUND)
		return 0;
	if (rc)
		return rc;
	struct rbuf r;
	rbuf_init(&r, buf, len);
	uint32_t magic = rbuf_u32(&r);
	uint8_t version = rbuf_u8(&r);
	f->snap.index = rbuf_u64(&r);
	f->snap.term = rbuf_u64(&r);
	raft_conf_read(&r, &f->snap.conf);
	uint32_t dlen = rbuf_u32(&r);
	size_t off = r.pos;
	rbuf_skip(&r, dlen);
	size_t body = r.pos;
	uint32_t crc = rbuf_u32(&r);
	if (r.err || magic != SNAP_MAGIC || rbuf_left(&r) || crc != crc32c(0, buf, body))
		rc = ERR_CORRUPT;
	else if (version != RAFT_STORAGE_VERSION)
		rc = ERR_RAFT_BAD_VERSION;
	if (rc) {
		log_error("raft: %s: %s", path, err_str(rc));
		free(buf);
		return rc;
	}
	f->snap_image = buf;
	f->snap_off = off;
	f->snap_len = dlen;
	return 0;
}

static int push_pos(struct raft_file *f, uint64_t term, uint32_t seg, uint64_t off)
{
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 256;
		struct ent_pos *p = realloc(f->pos, cap * sizeof *p);
		if (!p)
			return ERR_NOMEM;
		f->pos = p;
		f->cap = cap;
	}
	f->pos[f->n++] = (struct ent_pos){term, seg, off};
	return 0;
}

static uint64_t last_index(const struct raft_file *f) { return f->snap.index + f->n; }

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int list_segments(struct raft_file *f, uint64_t **firsts, unsigned *count)
{
	DIR *d = opendir(f->dir);
	if (!d)
		return ERR_IO;
	uint64_t *v = NULL;
	unsigned n = 0, cap = 0;
	int rc = 0;
	struct dirent *de;
	while ((de = readdir(d))) {
		unsigned long long first;
		char tail;
		if (strlen(de->d_name) != 24 || sscanf(de->d_name, "log-%20llu%c", &first, &tail) != 1)
			continue;
		if (n == RAFT_FILE_SEGMENTS_MAX) {
			rc = ERR_TOO_LARGE;
			break;
		}
		if (n == cap) {
			cap = cap ? cap * 2 : 16;
			uint64_t *p = realloc(v, cap * sizeof *v);
			if (!p) {
				rc = ERR_NOMEM;
				break;
			}
			v = p;
		}
		v[n++] = first;
	}
	closedir(d);
	if (rc) {
		free(v);
		return rc;
	}
	if (n)
		qsort(v, n, sizeof *v, cmp_u64);
	*firsts = v;
	*count = n;
	return 0;
}

/* Parse one segment image; a bad record ends it.  Returns the offset where valid data ends. */
static int scan_segment(struct raft_file *f, unsigned si, size_t len, uint64_t *valid_end, bool *torn)
{
	struct seg *sg = &f->segs[si];
	const uint8_t *p = sg->image;
	*torn = false;
	if (len < SEG_HEADER_SIZE || be32_get(p) != SEG_MAGIC || crc32c(0, p, 13) != be32_get(p + 13)) {
		*torn = true;
		*valid_end = 0;
		return 0;
	}
	if (p[4] != RAFT_STORAGE_VERSION)
		return ERR_RAFT_BAD_VERSION;
	struct rbuf h;
	rbuf_init(&h, p + 5, 8);
	if (rbuf_u64(&h) != sg->first)
		return ERR_CORRUPT;
	uint64_t off = SEG_HEADER_SIZE, expect = sg->first;
	while (off < len) {
		if (len - off < REC_HEADER_SIZE) {
			*torn = true;
			break;
		}
		uint32_t rlen = be32_get(p + off), crc = be32_get(p + off + 4);
		if (rlen < REC_FIXED_SIZE || rlen > REC_SIZE_MAX || rlen > len - off - REC_HEADER_SIZE ||
		    crc32c(0, p + off + REC_HEADER_SIZE, rlen) != crc) {
			*torn = true;
			break;
		}
		struct rbuf r;
		rbuf_init(&r, p + off + REC_HEADER_SIZE, rlen);
		uint64_t index = rbuf_u64(&r), term = rbuf_u64(&r);
		uint8_t type = rbuf_u8(&r);
		/* A sound record that does not continue the log: in the last segment, the remains of an unsynced
		 * overwrite (a truncation that did not reach the disk, then new records over old ones); the caller
		 * treats it as the tail, and anywhere else as corruption. */
		bool fits = index == expect && term != 0 && type <= RAFT_ENTRY_NOOP;
		if (fits && index > f->snap.index && !f->void_log)
			fits = index == last_index(f) + 1 && (f->n == 0 || term >= f->pos[f->n - 1].term);
		if (!fits) {
			*torn = true;
			break;
		}
		if (index > f->snap.index && !f->void_log) {
			int rc = push_pos(f, term, si, off);
			if (rc)
				return rc;
		} else if (index == f->snap.index && term != f->snap.term) {
			f->void_log = true; /* the snapshot replaced a diverged log: what follows is void (storage.h) */
		}
		expect++;
		off += REC_HEADER_SIZE + rlen;
	}
	*valid_end = off;
	sg->last = expect - 1;
	return 0;
}

static int open_last(struct raft_file *f)
{
	char name[32], path[PATH_LEN_MAX];
	struct seg *sg = &f->segs[f->seg_count - 1];
	seg_name(sg->first, name, sizeof name);
	int rc = path_of(f, name, path);
	if (rc)
		return rc;
	f->fd = port_sys.open(path, O_RDWR | O_CLOEXEC, 0);
	return f->fd < 0 ? ERR_IO : 0;
}

static int load_log(struct raft_file *f)
{
	uint64_t *firsts;
	unsigned count;
	int rc = list_segments(f, &firsts, &count);
	if (rc)
		return rc;
	f->segs = calloc(count ? count : 1, sizeof *f->segs);
	if (!f->segs) {
		free(firsts);
		return ERR_NOMEM;
	}
	for (unsigned i = 0; i < count && !rc; i++) {
		char name[32], path[PATH_LEN_MAX];
		seg_name(firsts[i], name, sizeof name);
		if ((rc = path_of(f, name, path)))
			break;
		size_t len = 0;
		struct seg *sg = &f->segs[f->seg_count++];
		sg->first = firsts[i];
		if ((rc = read_file(path, (size_t)RAFT_FILE_SEGMENT_BYTES_MAX + REC_SIZE_MAX + 64, &sg->image, &len)))
			break;
		bool torn;
		uint64_t end;
		if ((rc = scan_segment(f, f->seg_count - 1, len, &end, &torn)))
			break;
		sg->end = end;
		if (torn && i + 1 < count) {
			rc = ERR_CORRUPT; /* only the last segment can have a torn tail */
			log_error("raft: %s: damaged record at offset %llu", path, (unsigned long long)end);
		} else if (torn) {
			log_warn("raft: %s: torn tail at offset %llu (%zu bytes dropped)", path, (unsigned long long)end,
			         len - (size_t)end);
			if (end == 0) {
				unlink(path); /* not even a header: the crash came while creating it */
				f->seg_count--;
				free(sg->image);
			} else {
				int fd = port_sys.open(path, O_RDWR | O_CLOEXEC, 0);
				if (fd < 0 || port_sys.ftruncate(fd, (off_t)end) != 0 || port_sync_fd(fd, PORT_SYNC_FULL))
					rc = ERR_IO;
				if (fd >= 0)
					close(fd);
			}
		}
	}
	free(firsts);
	if (rc)
		return rc;
	if (f->n && f->pos[0].term == 0)
		return ERR_CORRUPT;
	/* The stored log must continue the snapshot; a gap means segments were lost. */
	return f->seg_count ? open_last(f) : 0;
}

static int unlink_segment(struct raft_file *f, uint64_t first)
{
	char name[32], path[PATH_LEN_MAX];
	seg_name(first, name, sizeof name);
	int rc = path_of(f, name, path);
	if (rc)
		return rc;
	if (unlink(path) != 0)
		return ERR_IO;
	f->dir_dirty = true;
	return 0;
}

static void close_fd(struct raft_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	f->fd = -1;
}

static void drop_images(struct raft_file *f)
{
	if (!f->images_live)
		return;
	for (unsigned i = 0; i < f->seg_count; i++) {
		free(f->segs[i].image);
		f->segs[i].image = NULL;
	}
	free(f->snap_image);
	f->snap_image = NULL;
	free(f->boot_ents);
	f->boot_ents = NULL;
	f->images_live = false;
}

/* Delete segments [from, seg_count).  The deletions are made durable at once: were they undone by a crash
 * after we wrote new records into an earlier segment, the old segments would come back after a segment that
 * no longer leads to them, which recovery must call corruption. */
static int drop_segments_from(struct raft_file *f, unsigned from)
{
	int rc = 0;
	if (from >= f->seg_count)
		return 0;
	close_fd(f);
	while (f->seg_count > from && !rc)
		rc = unlink_segment(f, f->segs[--f->seg_count].first);
	if (!rc)
		rc = port_sync_dir(f->dir);
	return rc;
}

static int truncate_from(struct raft_file *f, uint64_t index)
{
	struct ent_pos p = f->pos[index - f->snap.index - 1];
	int rc = drop_segments_from(f, p.seg + 1);
	if (rc)
		return rc;
	if (f->fd < 0 && (rc = open_last(f)))
		return rc;
	/* Durable before anything is written over it: a truncation lost in a crash would leave old records
	 * after new ones, which can look like a sound log that no leader ever had (Log Matching, Raft §5.3). */
	if (port_sys.ftruncate(f->fd, (off_t)p.off) != 0)
		return ERR_IO;
	if ((rc = port_sync_fd(f->fd, PORT_SYNC_FULL)))
		return rc;
	struct seg *sg = &f->segs[p.seg];
	sg->end = p.off;
	sg->last = index - 1;
	f->n = (size_t)(index - f->snap.index - 1);
	f->fd_dirty = true;
	return 0;
}

static int roll(struct raft_file *f, uint64_t first)
{
	int rc = 0;
	if (f->fd >= 0 && f->fd_dirty && (rc = port_sync_fd(f->fd, PORT_SYNC_DATA)))
		return rc;
	f->fd_dirty = false;
	close_fd(f);
	if (f->seg_count == RAFT_FILE_SEGMENTS_MAX)
		return ERR_FULL;
	struct seg *segs = realloc(f->segs, (f->seg_count + 1) * sizeof *segs);
	if (!segs)
		return ERR_NOMEM;
	f->segs = segs;
	char name[32], path[PATH_LEN_MAX];
	seg_name(first, name, sizeof name);
	if ((rc = path_of(f, name, path)))
		return rc;
	f->fd = port_sys.open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (f->fd < 0)
		return ERR_IO;
	uint8_t h[SEG_HEADER_SIZE];
	be32_put(h, SEG_MAGIC);
	h[4] = RAFT_STORAGE_VERSION;
	struct wbuf w;
	wbuf_init(&w, h + 5, 8);
	wbuf_u64(&w, first);
	be32_put(h + 13, crc32c(0, h, 13));
	if ((rc = port_pwrite_all(f->fd, h, sizeof h, 0)))
		return rc;
	f->segs[f->seg_count++] = (struct seg){.first = first, .last = first - 1, .end = SEG_HEADER_SIZE};
	f->dir_dirty = f->fd_dirty = true;
	return 0;
}

static int file_append(struct raft_storage *s, const struct raft_entry *ents, size_t n)
{
	struct raft_file *f = (struct raft_file *)s;
	if (f->failed)
		return ERR_IO;
	drop_images(f);
	size_t k = 0;
	while (k < n && ents[k].index <= f->snap.index)
		k++;
	if (k == n)
		return 0;
	int rc = 0;
	uint64_t first = ents[k].index;
	if (first <= last_index(f) && (rc = truncate_from(f, first)))
		goto fail;
	if (first != last_index(f) + 1)
		return ERR_CORRUPT;
	for (; k < n; k++) {
		const struct raft_entry *e = &ents[k];
		if (e->len > RAFT_ENTRY_DATA_MAX || (k && e->index != ents[k - 1].index + 1))
			return ERR_INVAL;
		struct seg *sg = f->seg_count ? &f->segs[f->seg_count - 1] : NULL;
		if (!sg || f->fd < 0 || sg->last + 1 != e->index || sg->end >= f->segment_bytes) {
			if ((rc = roll(f, e->index)))
				goto fail;
			sg = &f->segs[f->seg_count - 1];
		}
		size_t rlen = REC_FIXED_SIZE + e->len;
		dbuf_reset(&f->wb);
		if ((rc = dbuf_reserve(&f->wb, REC_HEADER_SIZE + rlen)))
			goto fail;
		struct wbuf w;
		wbuf_init(&w, f->wb.p, REC_HEADER_SIZE + rlen);
		wbuf_u32(&w, (uint32_t)rlen);
		wbuf_u32(&w, 0);
		wbuf_u64(&w, e->index);
		wbuf_u64(&w, e->term);
		wbuf_u8(&w, e->type);
		wbuf_bytes(&w, e->data, e->len);
		be32_put(f->wb.p + 4, crc32c(0, f->wb.p + REC_HEADER_SIZE, rlen));
		if ((rc = port_pwrite_all(f->fd, f->wb.p, w.len, (off_t)sg->end)))
			goto fail;
		if ((rc = push_pos(f, e->term, f->seg_count - 1, sg->end)))
			goto fail;
		sg->end += w.len;
		sg->last = e->index;
		f->fd_dirty = true;
	}
	return 0;
fail:
	f->failed = true; /* the file may now hold a partial record: only a reopen knows what is durable */
	return rc;
}

static int file_save_snapshot(struct raft_storage *s, const struct raft_snap_meta *meta, const uint8_t *data,
                              size_t len)
{
	struct raft_file *f = (struct raft_file *)s;
	if (f->failed)
		return ERR_IO;
	if (len > RAFT_SNAP_DATA_MAX || len > UINT32_MAX)
		return ERR_TOO_LARGE;
	drop_images(f);
	char path[PATH_LEN_MAX];
	int rc = path_of(f, "snapshot", path);
	if (rc)
		return rc;
	size_t cap = 4 + 1 + 16 + RAFT_CONF_SIZE_MAX + 4 + len + 4;
	uint8_t *buf = malloc(cap);
	if (!buf)
		return ERR_NOMEM;
	struct wbuf w;
	wbuf_init(&w, buf, cap);
	wbuf_u32(&w, SNAP_MAGIC);
	wbuf_u8(&w, RAFT_STORAGE_VERSION);
	wbuf_u64(&w, meta->index);
	wbuf_u64(&w, meta->term);
	raft_conf_write(&w, &meta->conf);
	wbuf_u32(&w, (uint32_t)len);
	wbuf_bytes(&w, data, len);
	wbuf_u32(&w, crc32c(0, buf, w.len));
	rc = w.err ? w.err : port_write_file_atomic(path, buf, w.len);
	free(buf);
	if (rc) {
		f->failed = true;
		return rc;
	}
	/* The snapshot is durable: now the log it covers can go (storage.h states the rule). */
	uint64_t idx = meta->index;
	bool keep = idx > f->snap.index && idx <= last_index(f) && f->pos[idx - f->snap.index - 1].term == meta->term;
	if (keep) {
		size_t drop = (size_t)(idx - f->snap.index);
		if (f->n > drop)
			memmove(f->pos, f->pos + drop, (f->n - drop) * sizeof *f->pos);
		f->n -= drop;
		unsigned gone = 0;
		while (gone + 1 < f->seg_count && f->segs[gone].last <= idx && !rc)
			rc = unlink_segment(f, f->segs[gone++].first);
		if (gone)
			memmove(f->segs, f->segs + gone, (f->seg_count - gone) * sizeof *f->segs);
		f->seg_count -= gone;
		for (size_t i = 0; i < f->n; i++)
			f->pos[i].seg -= gone;
	} else {
		rc = drop_segments_from(f, 0);
		f->n = 0;
	}
	f->snap = *meta;
	if (rc)
		f->failed = true;
	return rc;
}

static int file_set_hard_state(struct raft_storage *s, const struct raft_hard_state *hs)
{
	struct raft_file *f = (struct raft_file *)s;
	f->hs = *hs;
	f->hs_dirty = true;
	return f->failed ? ERR_IO : 0;
}

static int file_sync(struct raft_storage *s)
{
	struct raft_file *f = (struct raft_file *)s;
	if (f->failed)
		return ERR_IO;
	int rc = 0;
	if (f->fd >= 0 && f->fd_dirty)
		rc = port_sync_fd(f->fd, PORT_SYNC_DATA);
	if (!rc && f->dir_dirty)
		rc = port_sync_dir(f->dir);
	if (!rc && f->hs_dirty) {
		/* After the log: a durable commit index never points past the durable log. */
		uint8_t buf[HS_SLOT] = {0};
		uint64_t seq = f->hs_seq + 1;
		struct wbuf w;
		wbuf_init(&w, buf, sizeof buf);
		wbuf_u32(&w, HS_MAGIC);
		wbuf_u8(&w, RAFT_STORAGE_VERSION);
		wbuf_u64(&w, seq);
		wbuf_u64(&w, f->hs.term);
		wbuf_u32(&w, f->hs.vote);
		wbuf_u64(&w, f->hs.commit);
		wbuf_u32(&w, crc32c(0, buf, w.len));
		rc = port_pwrite_all(f->hs_fd, buf, sizeof buf, (off_t)(seq % 2) * HS_SLOT);
		if (!rc)
			rc = port_sync_fd(f->hs_fd, PORT_SYNC_DATA);
		if (!rc)
			f->hs_seq = seq;
	}
	if (rc) {
		f->failed = true; /* fsync failed: unsynced data may be gone even if a retry succeeds */
		log_error("raft: sync(%s): %s", f->dir, err_str(rc));
		return rc;
	}
	f->fd_dirty = f->dir_dirty = f->hs_dirty = false;
	return 0;
}

static int file_load(struct raft_storage *s, struct raft_boot *boot)
{
	struct raft_file *f = (struct raft_file *)s;
	if (!f->images_live)
		return ERR_STATE; /* load() reports what open found; call it before any write */
	*boot = (struct raft_boot){.hs = f->hs, .snap = f->snap, .entries = f->boot_ents, .entry_count = f->n};
	if (f->snap_image) {
		boot->snap_data = f->snap_image + f->snap_off;
		boot->snap_len = f->snap_len;
	}
	return 0;
}

static void file_destroy(struct raft_storage *s)
{
	struct raft_file *f = (struct raft_file *)s;
	drop_images(f);
	close_fd(f);
	if (f->hs_fd >= 0)
		close(f->hs_fd);
	free(f->segs);
	free(f->pos);
	dbuf_deinit(&f->wb);
	free(f);
}

static int build_boot_entries(struct raft_file *f)
{
	f->boot_ents = calloc(f->n ? f->n : 1, sizeof *f->boot_ents);
	if (!f->boot_ents)
		return ERR_NOMEM;
	for (size_t i = 0; i < f->n; i++) {
		const uint8_t *rec = f->segs[f->pos[i].seg].image + f->pos[i].off;
		uint32_t rlen = be32_get(rec);
		struct rbuf r;
		rbuf_init(&r, rec + REC_HEADER_SIZE, rlen);
		struct raft_entry *e = &f->boot_ents[i];
		e->index = rbuf_u64(&r);
		e->term = rbuf_u64(&r);
		e->type = rbuf_u8(&r);
		e->len = rlen - REC_FIXED_SIZE;
		e->data = rbuf_view(&r, e->len);
	}
	return 0;
}

int raft_file_open(const char *dir, struct raft_storage **out)
{
	return raft_file_open_opts(dir, RAFT_FILE_SEGMENT_BYTES, out);
}

int raft_file_open_opts(const char *dir, size_t segment_bytes, struct raft_storage **out)
{
	if (segment_bytes < 64 || segment_bytes > RAFT_FILE_SEGMENT_BYTES_MAX)
		return ERR_INVAL;
	struct raft_file *f = calloc(1, sizeof *f);
	if (!f)
		return ERR_NOMEM;
	f->s = (struct raft_storage){file_load, file_save_snapshot, file_append, file_set_hard_state, file_sync,
	                             file_destroy};
	f->fd = -1;
	f->hs_fd = -1;
	f->images_live = true;
	f->segment_bytes = segment_bytes;
	dbuf_init(&f->wb, REC_HEADER_SIZE + REC_SIZE_MAX);
	int rc = 0;
	if (strlen(dir) >= PATH_LEN_MAX - 32) {
		rc = ERR_INVAL;
		goto fail;
	}
	snprintf(f->dir, sizeof f->dir, "%s", dir);
	if (mkdir(dir, 0700) != 0 && access(dir, W_OK) != 0) {
		rc = ERR_IO;
		goto fail;
	}
	if ((rc = load_hard_state(f)) || (rc = load_snapshot(f)) || (rc = load_log(f)))
		goto fail;
	if (f->void_log) {
		f->images_live = true;
		drop_images(f);
		if ((rc = drop_segments_from(f, 0)))
			goto fail;
		f->n = 0;
		f->images_live = true;
		if ((rc = load_snapshot(f)))
			goto fail;
	}
	if ((rc = build_boot_entries(f)))
		goto fail;
	*out = &f->s;
	return 0;
fail:
	log_error("raft: open %s: %s", dir, err_str(rc));
	file_destroy(&f->s);
	return rc;
}
