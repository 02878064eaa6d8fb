/*
 * The receiving side of the transfer protocol: answers to the sender's
 * queries, then its pack, each object verified before it is written and
 * every id it names present at the end (transfer.h; docs/FORMAT.md,
 * "Transfer protocol").
 */
#include "transfer.h"

#include "chunk.h"
#include "error.h"
#include "fsio.h"
#include "hash.h"
#include "odb.h"
#include "oidset.h"
#include "progress.h"
#include "pruned.h"
#include "snapshot.h"
#include "store.h"
#include "transport.h"
#include "tree.h"
#include "util.h"
#include "zio.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Objects larger than this arrive into a temporary file, not memory. */
#define RECV_MEM_MAX (64u << 20)
/* A receiver makes what arrived durable every so many objects or bytes. */
#define RECV_BATCH_OBJECTS 4096
#define RECV_BATCH_BYTES (32u << 20)
/*
 * A zbatch is decompressed this much at a time, holds at most
 * RECV_ZBATCH_MAX bytes, and each of its objects takes at least
 * RECV_ZRECORD_MIN (a record line "<64 hex> blob 0").
 */
#define RECV_ZOUT (128u << 10)
#define RECV_ZBATCH_MAX (8u << 20)
#define RECV_ZRECORD_MIN 72

struct chunked_rec {
	struct snap_oid oid;
	uint64_t size;
	struct snap_oid *chunks;
	uint64_t *sizes;
	size_t nr;
};

struct receiver {
	struct pkt_conn *c;
	int version;
	struct zio_dctx *zd;	/* for zbatch records, made at the first */
	char *zout;		/* RECV_ZOUT bytes */
	struct odb *odb;
	struct transfer_stats *st;
	struct strbuf frame;
	/* Ids received objects name, to be present at the end. */
	struct snap_oid *needed;
	size_t nr_needed, alloc_needed;
	struct chunked_rec *lists;
	size_t nr_lists, alloc_lists;
	struct pruned pruned;	/* the sender's pruned record, as it came */
	/* The parents received snapshots name, and what of the sender's
	 * record this store takes: entries for snapshots it lacks that the
	 * received history leads to, nothing else. */
	struct snap_oid *parents;
	size_t nr_parents, alloc_parents;
	struct pruned accepted;
	struct progress *meter;	/* while the pack arrives */
	size_t batch_objects;
	uint64_t batch_bytes;
};

static void need(struct receiver *r, const struct snap_oid *oid)
{
	ALLOC_GROW(r->needed, r->nr_needed + 1, r->alloc_needed);
	r->needed[r->nr_needed++] = *oid;
}

/* Records the ids a received tree or snapshot names. */
static int note_links(struct receiver *r, enum object_type type, const struct snap_oid *oid,
		      const char *buf, size_t len, struct strbuf *err)
{
	size_t i;
	int ret = 0;

	if (type == OBJ_TREE) {
		struct tree t = TREE_INIT;

		ret = tree_parse(&t, buf, len, err);
		for (i = 0; ret == 0 && i < t.nr; i++)
			if (!oid_is_null(&t.entries[i].oid))
				need(r, &t.entries[i].oid);
		tree_release(&t);
	} else if (type == OBJ_SNAPSHOT) {
		struct snapshot s = SNAPSHOT_INIT;

		ret = snapshot_parse(&s, buf, len, err);
		if (ret == 0 && !oid_is_null(&s.tree))
			need(r, &s.tree);
		for (i = 0; ret == 0 && i < s.nr_parents; i++) {
			need(r, &s.parents[i]);
			ALLOC_GROW(r->parents, r->nr_parents + 1, r->alloc_parents);
			r->parents[r->nr_parents++] = s.parents[i];
		}
		for (i = 0; ret == 0 && i < s.nr_bundles; i++)
			need(r, &s.bundles[i]);
		snapshot_release(&s);
	}
	if (ret < 0)
		strbuf_addf(err, " (received %s '%s')", type_name(type), oid_to_hex(oid));
	return ret;
}

/* Reads size bytes of data frames, through fn. */
static int read_payload(struct receiver *r, uint64_t size,
			int (*fn)(void *, const void *, size_t, struct strbuf *),
			void *data, struct strbuf *err)
{
	while (size) {
		int ret = pkt_read(r->c, &r->frame, err);

		if (ret < 0)
			return ret;
		if (ret == 0 || r->frame.len > size)
			return snap_error(err, SNAP_EINVAL,
					  "protocol error: object data %s", ret ? "too long" : "cut short");
		ret = fn(data, r->frame.buf, r->frame.len, err);
		if (ret < 0)
			return ret;
		size -= r->frame.len;
	}
	return 0;
}

static int damaged(const char *what, struct strbuf *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* "WHAT arrived damaged: ...", SNAP_ECORRUPT. */
static int damaged(const char *what, struct strbuf *err, const char *fmt, ...)
{
	va_list ap;

	strbuf_reset(err);
	strbuf_addf(err, "%s arrived damaged: ", what);
	va_start(ap, fmt);
	strbuf_vaddf(err, fmt, ap);
	va_end(ap);
	return SNAP_ECORRUPT;
}

/*
 * Reads a zbatch's csize bytes of data frames, one zstd frame, into out,
 * RECV_ZOUT bytes at a time: never more than size in all, which is
 * exactly what it must hold.  what names the batch in errors.
 */
static int read_zbatch(struct receiver *r, const char *what, uint64_t size, uint64_t csize,
		       struct strbuf *out, struct strbuf *err)
{
	uint64_t total = csize;
	int ended = 0;

	if (!r->zd) {
		r->zd = zio_dctx_new();
		r->zout = xmalloc(RECV_ZOUT);
	}
	zio_dctx_reset(r->zd);
	while (csize) {
		struct zio_in in;
		int ret = pkt_read(r->c, &r->frame, err);

		if (ret < 0)
			return ret;
		if (ret == 0)
			return snap_error(err, SNAP_EINVAL, "protocol error: object data cut short");
		if (r->frame.len > csize)
			return damaged(what, err, "its data runs past the %llu bytes its record gives",
				       (unsigned long long)total);
		csize -= r->frame.len;
		in.src = r->frame.buf;
		in.size = r->frame.len;
		in.pos = 0;
		/* Until the input is used and zstd holds nothing more back. */
		for (;;) {
			const char *why = NULL;
			size_t got = 0;

			if (ended && in.pos < in.size)
				return damaged(what, err, "bytes follow its zstd frame");
			if (ended)
				break;
			ended = zio_stream_decompress(r->zd, r->zout, RECV_ZOUT, &got, &in, &why);
			if (ended < 0)
				return damaged(what, err, "its zstd frame is bad: %s", why);
			if (got > size - out->len)
				return damaged(what, err, "its zstd frame holds more than %llu bytes",
					       (unsigned long long)size);
			strbuf_add(out, r->zout, got);
			if (!ended && in.pos == in.size && got < RECV_ZOUT)
				break;
		}
		/* Not waiting for bytes that could only follow the frame. */
		if (ended && csize)
			return damaged(what, err, "its zstd frame ends before the %llu bytes its record gives",
				       (unsigned long long)total);
	}
	if (!ended)
		return damaged(what, err, "its zstd frame is cut short");
	if (out->len != size)
		return damaged(what, err, "its zstd frame holds %llu bytes, not %llu",
			       (unsigned long long)out->len, (unsigned long long)size);
	return 0;
}

/*
 * An object's payload in memory.  It grows as bytes arrive (up to the
 * size announced), so a peer that announces a large object and sends
 * little costs little.
 */
struct membuf {
	char *buf;
	size_t len, alloc, size;
	struct snap_hash_ctx h;
};

static int to_mem(void *data, const void *buf, size_t len, struct strbuf *err)
{
	struct membuf *m = data;

	(void)err;
	if (m->len + len > m->alloc) {
		while (m->len + len > m->alloc)
			m->alloc = m->alloc > m->size / 2 ? m->size : m->alloc ? 2 * m->alloc : len;
		m->buf = xrealloc(m->buf, m->alloc + 1);
	}
	memcpy(m->buf + m->len, buf, len);
	m->len += len;
	hash_update(&m->h, buf, len);
	return 0;
}

struct filebuf {
	int fd;
	const char *path;
	struct snap_hash_ctx h;
};

static int to_file(void *data, const void *buf, size_t len, struct strbuf *err)
{
	struct filebuf *f = data;

	if (fsio_write(f->fd, buf, len) < 0)
		return snap_error_errno(err, "cannot write '%s'", f->path);
	hash_update(&f->h, buf, len);
	return 0;
}

static int check_id(const struct snap_oid *want, struct snap_hash_ctx *h, struct strbuf *err)
{
	struct snap_oid got;

	hash_final(h, &got);
	if (oid_cmp(&got, want))
		return snap_error(err, SNAP_ECORRUPT,
				  "object %s arrived damaged: its bytes hash to %s",
				  oid_to_hex(want), oid_to_hex(&got));
	return 0;
}

static int write_got(const struct snap_oid *want, const struct snap_oid *got, struct strbuf *err)
{
	if (oid_cmp(want, got))
		return snap_error(err, SNAP_ECORRUPT, "object %s was stored as %s",
				  oid_to_hex(want), oid_to_hex(got));
	return 0;
}

static int tmp_file(struct odb *odb, struct strbuf *path, struct strbuf *err)
{
	struct strbuf dir = STRBUF_INIT;
	int fd;

	store_path(odb_store(odb), &dir, "objects/tmp");
	fd = fsio_mktemp(dir.buf, "recv-", path);
	if (fd < 0)
		snap_error_errno(err, "cannot create a temporary file in '%s'", dir.buf);
	strbuf_release(&dir);
	return fd;
}

/* A large blob: into a temporary file, verified, then stored from it. */
static int receive_to_file(struct receiver *r, const struct snap_oid *oid, uint64_t size,
			   struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT;
	struct filebuf f;
	struct snap_oid got;
	int ret;

	f.fd = tmp_file(r->odb, &path, err);
	if (f.fd < 0) {
		strbuf_release(&path);
		return SNAP_EIO;
	}
	f.path = path.buf;
	hash_object_start(&f.h, OBJ_BLOB, size, NULL);
	ret = read_payload(r, size, to_file, &f, err);
	if (ret == 0)
		ret = check_id(oid, &f.h, err);
	if (ret == 0 && lseek(f.fd, 0, SEEK_SET) < 0)
		ret = snap_error_errno(err, "cannot rewind '%s'", path.buf);
	if (ret == 0)
		ret = odb_write_fd(r->odb, OBJ_BLOB, f.fd, size, path.buf, &got, err);
	if (ret == 0)
		ret = write_got(oid, &got, err);
	close(f.fd);
	unlink(path.buf);
	strbuf_release(&path);
	return ret;
}

/* Parses "<id> <type> <size>" (an object record's, or a zbatch's). */
static int parse_record(char *args, struct snap_oid *oid, enum object_type *type, uint64_t *size)
{
	const char *p = transfer_parse_oid(args, oid, ' '), *sp;

	if (!p || !(sp = strchr(p, ' ')) ||
	    (*type = type_from_name(p, (size_t)(sp - p))) == OBJ_NONE ||
	    parse_u64(sp + 1, size) < 0)
		return -1;
	return 0;
}

static int too_big(const struct snap_oid *oid, enum object_type type, uint64_t size,
		   struct strbuf *err)
{
	if ((type == OBJ_TREE && size > TREE_MAX_SIZE) ||
	    (type == OBJ_SNAPSHOT && size > SNAPSHOT_MAX_SIZE) ||
	    (type == OBJ_BUNDLE && size > (16u << 20)))
		return snap_error(err, SNAP_ETOOBIG, "object %s: a %s of %llu bytes is too big",
				  oid_to_hex(oid), type_name(type), (unsigned long long)size);
	return 0;
}

/* Stores a verified object held in buf (taken over), and counts it. */
static int store_verified(struct receiver *r, enum object_type type, const struct snap_oid *oid,
			  char *buf, size_t len, struct strbuf *err)
{
	struct snap_oid got;
	int ret = note_links(r, type, oid, buf, len, err);

	if (ret < 0) {
		free(buf);
		return ret;
	}
	ret = odb_write_owned(r->odb, type, buf, len, &got, err);
	if (ret == 0)
		ret = write_got(oid, &got, err);
	return ret;
}

static void count_object(struct receiver *r, uint64_t size)
{
	r->st->objects++;
	r->st->bytes += size;
	r->batch_objects++;
	r->batch_bytes += size;
}

/* An object record and its payload. */
static int receive_object(struct receiver *r, char *args, struct strbuf *err)
{
	struct snap_oid oid;
	enum object_type type;
	uint64_t size;
	struct membuf m;
	int ret;

	if (parse_record(args, &oid, &type, &size) < 0)
		return transfer_protocol_error(err, "malformed object record", &r->frame);
	if ((ret = too_big(&oid, type, size, err)) < 0)
		return ret;
	if (type == OBJ_BLOB && size > RECV_MEM_MAX) {
		ret = receive_to_file(r, &oid, size, err);
	} else {
		m.size = (size_t)size;
		m.alloc = m.size < (1u << 20) ? m.size : (1u << 20);
		m.buf = xmalloc(m.alloc + 1);
		m.len = 0;
		hash_object_start(&m.h, type, size, NULL);
		ret = read_payload(r, size, to_mem, &m, err);
		if (ret == 0)
			ret = check_id(&oid, &m.h, err);
		if (ret < 0)
			free(m.buf);
		else
			ret = store_verified(r, type, &oid, m.buf, m.len, err);
	}
	if (ret == 0)
		count_object(r, size);
	return ret;
}

/* One object of a zbatch, found and verified: its payload at off. */
struct zbatch_obj {
	struct snap_oid oid;
	enum object_type type;
	size_t off, size;
};

/*
 * Finds and verifies the n objects of a zbatch's content raw, each a
 * line "<id> <type> <size>" and the payload; what names the batch.
 */
static int zbatch_parse(const struct strbuf *raw, uint64_t n, const char *what,
			struct zbatch_obj *v, struct strbuf *err)
{
	size_t pos = 0;
	uint64_t k;
	int ret = 0;

	for (k = 0; ret == 0 && k < n; k++) {
		char line[128];
		size_t room = raw->len - pos < sizeof(line) ? raw->len - pos : sizeof(line);
		const char *nl = memchr(raw->buf + pos, '\n', room);
		struct snap_hash_ctx h;
		uint64_t size;

		if (!nl)
			return damaged(what, err, "object %llu has no record line",
				       (unsigned long long)k + 1);
		memcpy(line, raw->buf + pos, (size_t)(nl - raw->buf) - pos);
		line[(size_t)(nl - raw->buf) - pos] = '\0';
		pos = (size_t)(nl - raw->buf) + 1;
		if (parse_record(line, &v[k].oid, &v[k].type, &size) < 0)
			return damaged(what, err, "object %llu has a malformed record line",
				       (unsigned long long)k + 1);
		if (size > raw->len - pos)
			return damaged(what, err, "object %s runs past its end", oid_to_hex(&v[k].oid));
		if ((ret = too_big(&v[k].oid, v[k].type, size, err)) < 0)
			return ret;
		v[k].off = pos;
		v[k].size = (size_t)size;
		hash_object_start(&h, v[k].type, size, NULL);
		hash_update(&h, raw->buf + pos, v[k].size);
		ret = check_id(&v[k].oid, &h, err);
		pos += v[k].size;
	}
	if (ret == 0 && pos != raw->len)
		ret = damaged(what, err, "%zu bytes follow its last object", raw->len - pos);
	return ret;
}

/*
 * A zbatch record, "<n> <size> <csize>": its zstd frame read whole (at
 * most RECV_ZBATCH_MAX bytes), its n objects verified, then stored as an
 * object record's are; a damaged batch stores none of them.  *nr is set
 * to n.
 */
static int receive_zbatch(struct receiver *r, char *args, uint64_t *nr, struct strbuf *err)
{
	struct strbuf raw = STRBUF_INIT, what = STRBUF_INIT;
	struct zbatch_obj *v;
	uint64_t n, size, csize, k;
	char *sp1 = strchr(args, ' '), *sp2 = sp1 ? strchr(sp1 + 1, ' ') : NULL;
	int ret;

	if (sp2)
		*sp1 = *sp2 = '\0';
	if (!sp2 || parse_u64(args, &n) < 0 || parse_u64(sp1 + 1, &size) < 0 ||
	    parse_u64(sp2 + 1, &csize) < 0 || !n || !csize || n > size / RECV_ZRECORD_MIN) {
		if (sp2)
			*sp1 = *sp2 = ' ';
		return transfer_protocol_error(err, "malformed zbatch record", &r->frame);
	}
	if (size > RECV_ZBATCH_MAX)
		return snap_error(err, SNAP_ETOOBIG, "a zbatch of %llu bytes is too big",
				  (unsigned long long)size);
	*nr = n;
	strbuf_addf(&what, "a zbatch of %llu object%s", (unsigned long long)n, n > 1 ? "s" : "");
	strbuf_grow(&raw, (size_t)size);
	v = xcalloc((size_t)n, sizeof(*v));
	ret = read_zbatch(r, what.buf, size, csize, &raw, err);
	if (ret == 0)
		ret = zbatch_parse(&raw, n, what.buf, v, err);
	for (k = 0; ret == 0 && k < n; k++) {
		ret = store_verified(r, v[k].type, &v[k].oid, xmemdup(raw.buf + v[k].off, v[k].size),
				     v[k].size, err);
		if (ret == 0)
			count_object(r, v[k].size);
	}
	free(v);
	strbuf_release(&raw);
	strbuf_release(&what);
	return ret;
}

static int receive_list(struct receiver *r, const char *args, struct strbuf *err)
{
	struct chunked_rec rec;
	const char *p = transfer_parse_oid(args, &rec.oid, ' ');
	char *sp;
	uint64_t nr, sum = 0;
	size_t i;

	if (!p || !(sp = strchr(p, ' ')))
		return transfer_protocol_error(err, "malformed chunked record", &r->frame);
	*sp = '\0';
	if (parse_u64(p, &rec.size) < 0 || parse_u64(sp + 1, &nr) < 0 || !nr ||
	    nr > rec.size / CHUNK_MIN + 1)
		return transfer_protocol_error(err, "malformed chunked record", &r->frame);
	rec.nr = (size_t)nr;
	rec.chunks = xcalloc(rec.nr, sizeof(*rec.chunks));
	rec.sizes = xcalloc(rec.nr, sizeof(*rec.sizes));
	for (i = 0; i < rec.nr; i++) {
		int ret = transfer_read_ctl(r->c, &r->frame, err);
		const char *q;

		if (ret == 1 && (q = transfer_parse_oid(r->frame.buf, &rec.chunks[i], ' ')) &&
		    parse_u64(q, &rec.sizes[i]) == 0 && rec.sizes[i] &&
		    rec.sizes[i] <= rec.size - sum) {
			sum += rec.sizes[i];
			continue;
		}
		free(rec.chunks);
		free(rec.sizes);
		return ret < 0 ? ret : transfer_protocol_error(err, "malformed chunk line", &r->frame);
	}
	if (sum != rec.size) {
		free(rec.chunks);
		free(rec.sizes);
		return snap_error(err, SNAP_EINVAL, "protocol error: chunks of blob %s add up to %llu, not %llu",
				  oid_to_hex(&rec.oid), (unsigned long long)sum,
				  (unsigned long long)rec.size);
	}
	ALLOC_GROW(r->lists, r->nr_lists + 1, r->alloc_lists);
	r->lists[r->nr_lists++] = rec;
	r->st->objects++;
	return 0;
}

/*
 * A chunked blob: its chunks are here now (durable), so its bytes are
 * read back from them, its id checked, and it is stored as any writer
 * stores a large blob (the same cuts, so the same chunks, found present).
 */
static int rebuild_list(struct receiver *r, const struct chunked_rec *rec, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT;
	struct filebuf f;
	struct snap_oid got;
	char *buf;
	size_t i;
	int ret = 0;

	if (odb_has(r->odb, &rec->oid))
		return 0;
	f.fd = tmp_file(r->odb, &path, err);
	if (f.fd < 0) {
		strbuf_release(&path);
		return SNAP_EIO;
	}
	f.path = path.buf;
	buf = xmalloc(PKT_DATA_MAX);
	hash_object_start(&f.h, OBJ_BLOB, rec->size, NULL);
	for (i = 0; ret == 0 && i < rec->nr; i++) {
		struct odb_stream *s;
		enum object_type type;
		uint64_t size, seen = 0;

		ret = odb_stream_open(r->odb, &rec->chunks[i], &s, &type, &size, err);
		if (ret == SNAP_ENOTFOUND) {
			strbuf_reset(err);
			ret = snap_error(err, SNAP_EINVAL, "incomplete transfer: chunk %s of blob %s is missing",
					 oid_to_hex(&rec->chunks[i]), oid_to_hex(&rec->oid));
		}
		if (ret < 0)
			break;
		if (type != OBJ_BLOB || size != rec->sizes[i])
			ret = snap_error(err, SNAP_EINVAL, "chunk %s of blob %s is not a blob of %llu bytes",
					 oid_to_hex(&rec->chunks[i]), oid_to_hex(&rec->oid),
					 (unsigned long long)rec->sizes[i]);
		while (ret == 0) {
			size_t n;

			ret = odb_stream_read(s, buf, PKT_DATA_MAX, &n, err);
			if (ret < 0 || !n)
				break;
			seen += n;
			ret = to_file(&f, buf, n, err);
		}
		odb_stream_close(s);
		if (ret == 0 && seen != size)
			ret = snap_error(err, SNAP_ECORRUPT, "chunk %s ended early", oid_to_hex(&rec->chunks[i]));
	}
	free(buf);
	if (ret == 0)
		ret = check_id(&rec->oid, &f.h, err);
	if (ret == 0 && lseek(f.fd, 0, SEEK_SET) < 0)
		ret = snap_error_errno(err, "cannot rewind '%s'", path.buf);
	if (ret == 0)
		ret = odb_write_fd(r->odb, OBJ_BLOB, f.fd, rec->size, path.buf, &got, err);
	if (ret == 0)
		ret = write_got(&rec->oid, &got, err);
	close(f.fd);
	unlink(path.buf);
	strbuf_release(&path);
	return ret;
}

/* After a failure mid-pack: reads on to the pack's end, so the peer can be told. */
static void drain_pack(struct receiver *r)
{
	struct strbuf ignored = STRBUF_INIT;

	while (pkt_read(r->c, &r->frame, &ignored) > 0)
		;
	strbuf_release(&ignored);
}

static void accept_pruned(struct receiver *r);

static int receive_pack(struct receiver *r, uint64_t count, struct strbuf *err)
{
	struct pruned here = PRUNED_INIT;
	uint64_t records = 0, n;
	size_t i;
	int ret;

	r->meter = progress_start("objects", count);
	odb_batch_begin(r->odb);
	for (;;) {
		ret = transfer_read_ctl(r->c, &r->frame, err);
		if (ret <= 0)
			break;
		n = 1;
		if (!strncmp(r->frame.buf, "object ", 7))
			ret = receive_object(r, r->frame.buf + 7, err);
		else if (r->version >= 2 && !strncmp(r->frame.buf, "zbatch ", 7))
			ret = receive_zbatch(r, r->frame.buf + 7, &n, err);
		else if (!strncmp(r->frame.buf, "chunked ", 8))
			ret = receive_list(r, r->frame.buf + 8, err);
		else
			ret = transfer_protocol_error(err, "expected an object record", &r->frame);
		if (ret == 0 && (records += n) > count)
			ret = snap_error(err, SNAP_EINVAL, "protocol error: more than the %llu records announced",
					 (unsigned long long)count);
		if (ret < 0)
			break;
		progress_update(r->meter, records, r->st->bytes);
		if (r->batch_objects >= RECV_BATCH_OBJECTS || r->batch_bytes >= RECV_BATCH_BYTES) {
			ret = odb_batch_end(r->odb, err);
			if (ret < 0)
				return ret;
			odb_batch_begin(r->odb);
			r->batch_objects = 0;
			r->batch_bytes = 0;
		}
	}
	/* What arrived whole and verified is kept either way (transport.h). */
	if (ret < 0) {
		struct strbuf ignored = STRBUF_INIT;

		if (ret == SNAP_ECORRUPT || ret == SNAP_ETOOBIG || ret == SNAP_EINVAL)
			drain_pack(r);
		odb_batch_end(r->odb, &ignored);
		strbuf_release(&ignored);
		return ret;
	}
	ret = odb_batch_end(r->odb, err);
	if (ret == 0 && records != count)
		ret = snap_error(err, SNAP_EINVAL, "protocol error: %llu records of the %llu announced",
				 (unsigned long long)records, (unsigned long long)count);
	for (i = 0; ret == 0 && i < r->nr_lists; i++)
		ret = rebuild_list(r, &r->lists[i], err);
	/* A parent pruned on purpose, here or by the sender, is not missing. */
	if (ret == 0 && r->nr_needed)
		ret = pruned_load(odb_store(r->odb), &here, err);
	if (ret == 0)
		accept_pruned(r);
	for (i = 0; ret == 0 && i < r->nr_needed; i++)
		if (!odb_has(r->odb, &r->needed[i]) && !pruned_contains(&r->accepted, &r->needed[i]) &&
		    !pruned_contains(&here, &r->needed[i]))
			ret = snap_error(err, SNAP_EINVAL,
					 "incomplete transfer: object %s is missing",
					 oid_to_hex(&r->needed[i]));
	pruned_release(&here);
	return ret;
}

static int cmp_pruned_entry(const void *a, const void *b)
{
	return oid_cmp(&((const struct pruned_entry *)a)->id, &((const struct pruned_entry *)b)->id);
}

/*
 * What of the sender's record the receiver takes: starting from the
 * parents the received snapshots name, each one this store lacks and the
 * record lists, then its recorded parents in turn.  A snapshot this store
 * has is never taken as pruned: a sender cannot hide or free history the
 * receiver holds, only say why what it did not send is absent.
 */
static void accept_pruned(struct receiver *r)
{
	struct oidset seen = OIDSET_INIT;
	struct snap_oid *pending = NULL;
	size_t nr = 0, alloc = 0, i;

	for (i = 0; i < r->nr_parents; i++) {
		ALLOC_GROW(pending, nr + 1, alloc);
		pending[nr++] = r->parents[i];
	}
	while (nr) {
		struct snap_oid cur = pending[--nr];
		const struct pruned_entry *e;

		if (!oidset_insert(&seen, &cur) || odb_has(r->odb, &cur) ||
		    !(e = pruned_find(&r->pruned, &cur)))
			continue;
		pruned_append(&r->accepted, &cur, pruned_parents(&r->pruned, e), e->nr_parents);
		for (i = 0; i < e->nr_parents; i++) {
			ALLOC_GROW(pending, nr + 1, alloc);
			pending[nr++] = pruned_parents(&r->pruned, e)[i];
		}
	}
	free(pending);
	oidset_clear(&seen);
	/* Sorted, as a record is searched. */
	if (r->accepted.nr > 1)
		QSORT(r->accepted.v, r->accepted.nr, cmp_pruned_entry);
}

/* One "pruned <id> [<parent>...]" frame of the sender's record. */
static int receive_pruned(struct receiver *r, const char *p, struct strbuf *err)
{
	struct snap_oid ids[65];	/* the id, then its parents */
	size_t n = 0;

	if (r->pruned.nr >= PRUNED_MAX / 64)
		return transfer_protocol_error(err, "too many 'pruned' entries", &r->frame);
	for (;;) {
		char end = strlen(p) > SNAP_OID_HEXSZ ? ' ' : '\0';

		if (n == 65 || !(p = transfer_parse_oid(p, &ids[n++], end)))
			return transfer_protocol_error(err, "malformed 'pruned <id> [<parent>...]'", &r->frame);
		if (!end)
			break;
	}
	/* In the record's order, so that it is searched as it came. */
	if (r->pruned.nr && oid_cmp(&r->pruned.v[r->pruned.nr - 1].id, &ids[0]) >= 0)
		return transfer_protocol_error(err, "'pruned' entries out of order", &r->frame);
	pruned_append(&r->pruned, &ids[0], ids + 1, n - 1);
	return 0;
}

int transfer_receive(struct pkt_conn *c, struct odb *odb, int version, struct transfer_stats *st,
		     struct pruned *accepted, struct strbuf *err)
{
	struct receiver r;
	size_t i;
	int ret;

	memset(&r, 0, sizeof(r));
	r.c = c;
	r.version = version;
	r.odb = odb;
	r.st = st;
	strbuf_init(&r.frame, 0);
	/*
	 * Answers are queued until the sender's flush: a batch's answers
	 * (TRANSPORT_QUERY_BATCH frames of 77 bytes) fit in the connection's
	 * write buffer, so we never block writing while the sender is still
	 * writing to us.
	 */
	for (;;) {
		struct snap_oid oid;

		ret = transfer_read_ctl(c, &r.frame, err);
		if (ret < 0)
			break;
		if (ret == 0) {
			ret = pkt_flush(c, err);
			if (ret < 0)
				break;
			continue;
		}
		if (!strncmp(r.frame.buf, "query ", 6) && transfer_parse_oid(r.frame.buf + 6, &oid, '\0')) {
			if (!odb_has(odb, &oid))
				ret = pkt_writef(c, err, "missing %s\n", oid_to_hex(&oid));
			if (ret < 0)
				break;
			continue;
		}
		if (!strncmp(r.frame.buf, "pruned ", 7)) {
			ret = receive_pruned(&r, r.frame.buf + 7, err);
			if (ret < 0)
				break;
			continue;
		}
		if (!strncmp(r.frame.buf, "pack ", 5)) {
			uint64_t count;

			if (parse_u64(r.frame.buf + 5, &count) < 0)
				ret = transfer_protocol_error(err, "malformed 'pack <n>'", &r.frame);
			else
				ret = receive_pack(&r, count, err);
			/* The caller adds it to the record once the refs may move. */
			if (ret == 0) {
				*accepted = r.accepted;
				memset(&r.accepted, 0, sizeof(r.accepted));
			}
			break;
		}
		ret = transfer_protocol_error(err, "expected 'query' or 'pack'", &r.frame);
		break;
	}
	for (i = 0; i < r.nr_lists; i++) {
		free(r.lists[i].chunks);
		free(r.lists[i].sizes);
	}
	free(r.lists);
	free(r.needed);
	free(r.parents);
	pruned_release(&r.pruned);
	pruned_release(&r.accepted);
	strbuf_release(&r.frame);
	progress_done(r.meter);
	if (r.zd)
		zio_dctx_free(r.zd);
	free(r.zout);
	return ret;
}
