/*
 * Repacking for gc (repack.h; the rules in docs/snap-gc.md).
 */
#include "repack.h"
#include "progress.h"
#include "error.h"
#include "fsio.h"
#include "hash.h"
#include "pack.h"
#include "session.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

struct repack {
	struct odb *odb;
	const struct repack_opts *o;
	const struct gc_opts *go;	/* o->gc */
	struct gc_stats *st;
	struct pack_writer *w;
	struct oidset written;
	struct strbuf frame;
	struct strbuf packdir, tmpdir;
	/* A block of the live members of partly dead blocks, being filled. */
	struct strbuf block;
	struct pack_member *members;
	size_t nr_members, alloc_members;
	/*
	 * The names (pack-<checksum>.idx) of the packs written.  A new pack
	 * may be byte for byte one it replaces (all of an old pack lives, and
	 * nothing else goes in): it then has the same name and took its
	 * place, so that "old pack" must not be removed.
	 */
	char **new_packs;
	size_t nr_new_packs, alloc_new_packs;
	/* Verifying what is copied: a frame decompressed whole. */
	ZSTD_DCtx *dctx;
	struct strbuf content;
	/* Live objects whose copy failed verification (pack -1: loose). */
	struct damaged {
		struct snap_oid oid;
		long pack;
	} *damaged;
	size_t nr_damaged, alloc_damaged;
	unsigned char *keep;	/* per old pack: it holds a damaged object */
};

/* Whether a pack of this mtime is recent enough to keep all it holds. */
static int recent(const struct repack *r, int64_t mtime)
{
	return mtime >= r->o->keep_since_ns;
}

/*
 * ---- verifying copies ----
 *
 * gc removes a file only when each live object in it has a copy gc has
 * just verified (docs/snap-gc.md): a frame it copies is decompressed and
 * every object in it hashed against its id, as a reader would.
 */

/* zstd windows up to 2^27 bytes, as readers accept (docs/FORMAT.md). */
#define GC_WINDOW_LOG_MAX 27

/*
 * Decompresses a stored frame whose content size it records (an
 * object's own frame or a block) into r->content, at most max bytes.
 * NULL, or what is wrong.
 */
static const char *frame_open(struct repack *r, const char *frame, size_t len, size_t max)
{
	unsigned long long n = ZSTD_getFrameContentSize(frame, len);
	size_t got;

	if (n == ZSTD_CONTENTSIZE_UNKNOWN || n == ZSTD_CONTENTSIZE_ERROR)
		return "bad frame header";
	if (n > max)
		return "frame too large";
	if (ZSTD_findFrameCompressedSize(frame, len) != len)
		return "trailing bytes after the compressed frame";
	if (!r->dctx) {
		r->dctx = ZSTD_createDCtx();
		if (!r->dctx)
			BUG("ZSTD_createDCtx failed");
		ZSTD_DCtx_setParameter(r->dctx, ZSTD_d_windowLogMax, GC_WINDOW_LOG_MAX);
	}
	strbuf_reset(&r->content);
	strbuf_grow(&r->content, (size_t)n + 1);
	got = ZSTD_decompressDCtx(r->dctx, r->content.buf, (size_t)n, frame, len);
	if (ZSTD_isError(got) || got != n)
		return "cannot decompress";
	strbuf_setlen(&r->content, got);
	return NULL;
}

/*
 * Checks that r->content holds at inner the header and payload of oid
 * (of that type and size, unless type is OBJ_NONE), and, when whole,
 * nothing else.  Sets *payload and *type.  NULL, or what is wrong.
 */
static const char *member_check(struct repack *r, uint32_t inner, const struct snap_oid *oid,
				enum object_type type, uint64_t size, int whole,
				enum object_type *got_type, const char **payload)
{
	const struct strbuf *c = &r->content;
	struct snap_hash_ctx h;
	struct snap_oid actual;
	enum object_type t;
	uint64_t sz;
	int n;

	if (inner >= c->len)
		return "object outside its frame";
	n = object_header_parse(c->buf + inner, c->len - inner, &t, &sz);
	if (n <= 0)
		return "bad header";
	if (type != OBJ_NONE && (t != type || sz != size))
		return "header disagrees with the index";
	if (sz > c->len - inner - (size_t)n || (whole && inner + n + sz != c->len))
		return "size disagrees with the frame";
	hash_init(&h);
	hash_update(&h, c->buf + inner, (size_t)n + (size_t)sz);
	hash_final(&h, &actual);
	if (oid_cmp(&actual, oid))
		return "hash mismatch";
	*got_type = t;
	*payload = c->buf + inner + n;
	return NULL;
}

static void damaged_add(struct repack *r, const struct snap_oid *oid, long pack)
{
	ALLOC_GROW(r->damaged, r->nr_damaged + 1, r->alloc_damaged);
	r->damaged[r->nr_damaged].oid = *oid;
	r->damaged[r->nr_damaged++].pack = pack;
}

/* Read errors that mean a damaged copy (another copy may serve). */
static int is_damage(int ret)
{
	return ret == SNAP_ECORRUPT || ret == SNAP_ENOTFOUND || ret == SNAP_EINVAL ||
	       ret == SNAP_ETOOBIG;
}

static int repack_next(struct repack *r, struct strbuf *err);

/* Adds r->frame, holding oid, or the nr members when nr > 0. */
static int repack_put(struct repack *r, const struct snap_oid *oid, enum object_type type,
		      uint64_t size, const struct pack_member *m, size_t nr,
		      struct strbuf *err)
{
	int ret;

	if (!r->w && (ret = pack_writer_start(&r->w, r->tmpdir.buf, err)) < 0)
		return ret;
	if (nr)
		ret = pack_writer_add_block(r->w, m, nr, r->frame.buf, r->frame.len, err);
	else
		ret = pack_writer_add(r->w, oid, type, size, r->frame.buf, r->frame.len, err);
	return ret < 0 ? ret : repack_next(r, err);
}

static int repack_add(struct repack *r, const struct snap_oid *oid, enum object_type type,
		      uint64_t size, struct strbuf *err)
{
	if (!oidset_insert(&r->written, oid))
		return 0;
	return repack_put(r, oid, type, size, NULL, 0, err);
}

/* Compresses and adds the block being filled. */
static int repack_seal(struct repack *r, struct strbuf *err)
{
	int ret;

	if (!r->nr_members)
		return 0;
	ret = odb_compress_block(r->odb, r->block.buf, r->block.len, &r->frame, err);
	if (ret == 0)
		ret = repack_put(r, NULL, OBJ_NONE, 0, r->members, r->nr_members, err);
	r->nr_members = 0;
	strbuf_reset(&r->block);
	return ret;
}

/* Adds a verified payload as a member of the block being filled. */
static int repack_member_payload(struct repack *r, const struct snap_oid *oid,
				 enum object_type type, const char *payload, size_t len,
				 struct strbuf *err)
{
	struct pack_member *m;
	char hdr[SNAP_HDR_MAX];

	if (!oidset_insert(&r->written, oid))
		return 0;
	ALLOC_GROW(r->members, r->nr_members + 1, r->alloc_members);
	m = &r->members[r->nr_members++];
	m->oid = *oid;
	m->type = type;
	m->size = len;
	m->inner = (uint32_t)r->block.len;
	strbuf_add(&r->block, hdr, object_header_format(hdr, type, len));
	strbuf_add(&r->block, payload, len);
	if (r->block.len >= PACK_BLOCK_TARGET)
		return repack_seal(r, err);
	return 0;
}

/*
 * Adds a live member of a block that is not copied whole: read (and so
 * verified) and blocked anew.  A copy that fails verification is noted
 * as damaged in pack i.
 */
static int repack_member(struct repack *r, const struct snap_oid *oid, long i,
			 struct strbuf *err)
{
	struct strbuf payload = STRBUF_INIT, e = STRBUF_INIT;
	enum object_type type;
	int ret;

	if (oidset_contains(&r->written, oid))
		return 0;
	ret = odb_read(r->odb, oid, &type, &payload, PACK_BLOCK_MAX, &e);
	if (ret == 0) {
		ret = repack_member_payload(r, oid, type, payload.buf, payload.len, err);
	} else if (is_damage(ret)) {
		damaged_add(r, oid, i);
		ret = 0;
	} else {
		strbuf_addbuf(err, &e);
	}
	strbuf_release(&payload);
	strbuf_release(&e);
	return ret;
}

/*
 * Copies the frame of an object stored alone (read into r->frame) once
 * it is verified; a copy that fails is noted as damaged in pack i.
 */
static int repack_own_frame(struct repack *r, const struct snap_oid *oid, long i,
			    enum object_type type, uint64_t size, struct strbuf *err)
{
	enum object_type t;
	const char *payload;

	if (frame_open(r, r->frame.buf, r->frame.len, PACK_OBJECT_MAX + SNAP_HDR_MAX) ||
	    member_check(r, 0, oid, type, size, 1, &t, &payload)) {
		damaged_add(r, oid, i);
		return 0;
	}
	return repack_add(r, oid, type, size, err);
}

static const char *base_name(const char *path)
{
	const char *slash = strrchr(path, '/');

	return slash ? slash + 1 : path;
}

/* Makes the pack being written durable and notes its name. */
static int repack_finish(struct repack *r, struct strbuf *err)
{
	struct strbuf idx = STRBUF_INIT;
	int ret = pack_writer_finish(r->w, r->packdir.buf, &idx, err);

	r->w = NULL;
	if (ret == 0) {
		ALLOC_GROW(r->new_packs, r->nr_new_packs + 1, r->alloc_new_packs);
		r->new_packs[r->nr_new_packs++] = xstrdup(base_name(idx.buf));
		r->st->packs_written++;
	}
	strbuf_release(&idx);
	return ret;
}

/* Closes the pack being written once it is full. */
static int repack_next(struct repack *r, struct strbuf *err)
{
	if (pack_writer_size(r->w) >= PACK_TARGET_SIZE)
		return repack_finish(r, err);
	return 0;
}

/* 1 if p is (by name, so by content) one of the packs just written. */
static int is_new_pack(const struct repack *r, const struct pack *p)
{
	size_t i;

	for (i = 0; i < r->nr_new_packs; i++)
		if (!strcmp(r->new_packs[i], base_name(p->idx_path)))
			return 1;
	return 0;
}

static int pack_mtime(struct pack *p, int64_t *out)
{
	struct stat st;

	if (stat(p->pack_path, &st) < 0)
		return -1;
	*out = mtime_ns(&st);
	return 0;
}

/* Removes an old pack unless a writer touched it since gc started. */
static void remove_pack(struct repack *r, struct pack *p, int dropped)
{
	struct strbuf ti = STRBUF_INIT, tp = STRBUF_INIT;
	struct stat st;

	gc_tmp_name(odb_store(r->odb), "idx", &ti);
	gc_tmp_name(odb_store(r->odb), "pack", &tp);
	if (fsio_rename(p->idx_path, ti.buf) < 0)
		goto out;
	if (fsio_rename(p->pack_path, tp.buf) < 0) {
		rename(ti.buf, p->idx_path);
		goto out;
	}
	if (dropped && lstat(tp.buf, &st) == 0 &&
	    mtime_ns(&st) >= r->o->start_ns - SESSION_SLACK_NS) {
		/* Reused meanwhile: it stays, whole. */
		rename(tp.buf, p->pack_path);
		rename(ti.buf, p->idx_path);
		goto out;
	}
	fsio_unlink(tp.buf);
	fsio_unlink(ti.buf);
	r->st->packs_removed++;
out:
	strbuf_release(&ti);
	strbuf_release(&tp);
}

/*
 * Reads the frame at pos of pack p (pack i) into r->frame: 1 when read,
 * 0 when the index places it outside the pack (then oid, or each member
 * of the block, is noted as damaged by the caller or here), <0 on I/O
 * errors.
 */
static int read_frame(struct repack *r, struct pack *p, uint32_t pos,
		      const struct snap_oid *oid, long i, struct strbuf *err)
{
	struct strbuf e = STRBUF_INIT;
	int ret = pack_read_frame(p, pos, &r->frame, &e);

	if (ret == 0) {
		ret = 1;
	} else if (is_damage(ret)) {
		if (oid)
			damaged_add(r, oid, i);
		ret = 0;
	} else {
		strbuf_addbuf(err, &e);
	}
	strbuf_release(&e);
	return ret;
}

/* 1 if the block in r->frame holds every one of the n members, sound. */
static int block_sound(struct repack *r, const struct pack_member *m, size_t n)
{
	enum object_type t;
	const char *payload;
	size_t j;

	if (frame_open(r, r->frame.buf, r->frame.len, PACK_BLOCK_MAX))
		return 0;
	for (j = 0; j < n; j++)
		if (member_check(r, m[j].inner, &m[j].oid, m[j].type, m[j].size, 0, &t, &payload))
			return 0;
	return 1;
}

/*
 * A block that is not sound (or could not be read, read == 0): its sound
 * members go into new blocks from what was decompressed, the others are
 * read as any object would be (another copy may serve), else noted as
 * damaged in pack i.
 */
static int repack_block_members(struct repack *r, const struct pack_member *m, size_t n,
				long i, int read, struct strbuf *err)
{
	int opened = read && !frame_open(r, r->frame.buf, r->frame.len, PACK_BLOCK_MAX);
	struct strbuf keep = STRBUF_INIT;
	enum object_type t;
	const char *payload;
	size_t j;
	int ret = 0;

	/* r->content is reused by each read below: work from a copy. */
	if (opened)
		strbuf_addbuf(&keep, &r->content);
	for (j = 0; j < n && ret == 0; j++) {
		if (m[j].type == OBJ_NONE || oidset_contains(&r->written, &m[j].oid))
			continue;
		if (opened) {
			strbuf_reset(&r->content);
			strbuf_addbuf(&r->content, &keep);
			if (!member_check(r, m[j].inner, &m[j].oid, m[j].type, m[j].size, 0,
					  &t, &payload)) {
				ret = repack_member_payload(r, &m[j].oid, t, payload,
							    (size_t)m[j].size, err);
				continue;
			}
		}
		ret = repack_member(r, &m[j].oid, i, err);
	}
	strbuf_release(&keep);
	return ret;
}

/*
 * Copies the live objects of pack p into the new packs, in the order they
 * are stored.  A block whose members all live (and are not written yet) is
 * copied whole; the live members of any other block are blocked anew.
 */
static int repack_pack(struct repack *r, long i, struct strbuf *err)
{
	struct pack *p = odb_pack(r->odb, (size_t)i);
	struct keyed *pl = xcalloc((size_t)p->nr + 1, sizeof(*pl));
	struct pack_member *m = NULL;
	size_t alloc_m = 0;
	int64_t mt = 0;
	uint32_t k, n;
	int ret = 0;

	pack_mtime(p, &mt);
	for (k = 0; k < p->nr; k++) {
		struct pack_record rec;
		pack_record(p, k, &rec);
		pl[k].key = rec.offset;
		pl[k].idx = k;
	}
	sort_keyed(pl, p->nr);
	for (k = 0; k < p->nr && ret == 0; k += n) {
		struct pack_record rec, first;
		uint64_t dead_bytes = 0, all_bytes = 0;
		uint32_t j, live = 0, fresh = 0;

		pack_record(p, (uint32_t)pl[k].idx, &first);
		for (n = 1; first.shared && k + n < p->nr && pl[k + n].key == first.offset; n++)
			;
		ALLOC_GROW(m, n, alloc_m);
		for (j = 0; j < n; j++) {
			struct snap_oid oid;
			int keep;

			pack_oid(p, (uint32_t)pl[k + j].idx, &oid);
			pack_record(p, (uint32_t)pl[k + j].idx, &rec);
			all_bytes += rec.size;
			keep = oidset_contains(r->o->reachable, &oid) || recent(r, mt);
			m[j].oid = oid;
			m[j].type = keep ? rec.type : OBJ_NONE;
			m[j].size = rec.size;
			m[j].inner = rec.inner;
			if (!keep) {
				r->st->objects_removed++;
				r->st->bytes_removed += rec.size;
				dead_bytes += rec.size;
				if (r->go->removed)
					r->go->removed(&oid, rec.type, rec.size, r->go->data);
				continue;
			}
			live++;
			fresh += !oidset_contains(&r->written, &oid);
		}
		/* Bytes on disk freed: a block's share for each dead member. */
		if (!first.shared)
			r->st->files_freed += dead_bytes ? first.length : 0;
		else if (all_bytes)
			r->st->files_freed += first.length * dead_bytes / all_bytes;
		if (r->go->dry_run || !live)
			continue;
		if (!first.shared) {
			if (oidset_contains(&r->written, &m[0].oid))
				continue;
			ret = read_frame(r, p, (uint32_t)pl[k].idx, &m[0].oid, i, err);
			if (ret > 0)
				ret = repack_own_frame(r, &m[0].oid, i, m[0].type, m[0].size, err);
		} else if (live == n && fresh == n) {
			/* Copied as it is once every member proves sound. */
			ret = read_frame(r, p, (uint32_t)pl[k].idx, NULL, i, err);
			if (ret > 0 && block_sound(r, m, n)) {
				for (j = 0; j < n; j++)
					oidset_insert(&r->written, &m[j].oid);
				ret = repack_put(r, NULL, OBJ_NONE, 0, m, n, err);
			} else if (ret >= 0) {
				ret = repack_block_members(r, m, n, i, ret > 0, err);
			}
		} else {
			for (j = 0; j < n && ret == 0; j++)
				if (m[j].type != OBJ_NONE)
					ret = repack_member(r, &m[j].oid, i, err);
		}
	}
	free(m);
	free(pl);
	return ret;
}

/*
 * Adds a reachable loose object to the new pack, verified; one that
 * fails is noted as damaged.  A chunk list, or an object too large for a
 * pack, stays loose.
 */
static int repack_loose(struct repack *r, const struct snap_oid *oid, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT, e = STRBUF_INIT;
	struct odb_stream *st;
	enum object_type type, t;
	const char *payload;
	uint64_t size;
	int ret, chunked;

	if (oidset_contains(&r->written, oid))
		return 0;
	ret = odb_stream_open_loose(r->odb, oid, &st, &type, &size, &e);
	if (ret < 0) {
		if (ret == SNAP_ENOTFOUND) {
			ret = 0;	/* a sweep of another kind took it: not ours */
		} else if (is_damage(ret)) {
			damaged_add(r, oid, -1);
			ret = 0;
		} else {
			strbuf_addbuf(err, &e);
		}
		goto out;
	}
	chunked = odb_stream_chunked(st);
	odb_stream_close(st);
	if (chunked || size > PACK_OBJECT_MAX)
		goto out;
	odb_loose_path(r->odb, oid, &path);
	strbuf_reset(&r->frame);
	if (strbuf_read_file(&r->frame, path.buf, 2 * PACK_OBJECT_MAX) < 0 ||
	    frame_open(r, r->frame.buf, r->frame.len, PACK_OBJECT_MAX + SNAP_HDR_MAX) ||
	    member_check(r, 0, oid, type, size, 1, &t, &payload)) {
		damaged_add(r, oid, -1);
		goto out;
	}
	ret = repack_add(r, oid, type, size, err);
	if (ret == 0)
		r->st->loose_packed++;
out:
	strbuf_release(&path);
	strbuf_release(&e);
	return ret;
}

/*
 * Looks for a sound copy of oid other than the damaged one (in pack bad,
 * or loose when bad is -1): the loose file, then every pack.  Adds it to
 * the new pack and returns 1 when found, 0 when there is none.
 */
static int rescue(struct repack *r, const struct snap_oid *oid, long bad, struct strbuf *err)
{
	size_t j, nr = odb_nr_packs(r->odb);
	struct strbuf path = STRBUF_INIT;
	enum object_type t;
	const char *payload;
	int ret = 0;

	if (bad >= 0) {
		odb_loose_path(r->odb, oid, &path);
		strbuf_reset(&r->frame);
		if (strbuf_read_file(&r->frame, path.buf, 2 * PACK_OBJECT_MAX) >= 0 &&
		    !frame_open(r, r->frame.buf, r->frame.len, PACK_OBJECT_MAX + SNAP_HDR_MAX) &&
		    !member_check(r, 0, oid, OBJ_NONE, 0, 1, &t, &payload)) {
			ret = repack_add(r, oid, t,
					 r->content.len - (size_t)(payload - r->content.buf), err);
			strbuf_release(&path);
			return ret < 0 ? ret : 1;
		}
	}
	strbuf_release(&path);
	for (j = 0; j < nr; j++) {
		struct pack *p = odb_pack(r->odb, j);
		struct pack_record rec;
		long pos;

		if ((long)j == bad || (pos = pack_find(p, oid)) < 0)
			continue;
		pack_record(p, (uint32_t)pos, &rec);
		ret = read_frame(r, p, (uint32_t)pos, NULL, (long)j, err);
		if (ret < 0)
			return ret;
		if (ret == 0)
			continue;
		if (!rec.shared) {
			if (frame_open(r, r->frame.buf, r->frame.len, PACK_OBJECT_MAX + SNAP_HDR_MAX) ||
			    member_check(r, 0, oid, rec.type, rec.size, 1, &t, &payload))
				continue;
			ret = repack_add(r, oid, rec.type, rec.size, err);
		} else {
			if (frame_open(r, r->frame.buf, r->frame.len, PACK_BLOCK_MAX) ||
			    member_check(r, rec.inner, oid, rec.type, rec.size, 0, &t, &payload))
				continue;
			ret = repack_member_payload(r, oid, t, payload, (size_t)rec.size, err);
		}
		return ret < 0 ? ret : 1;
	}
	return 0;
}

int repack_run(struct odb *odb, const struct repack_opts *opts, struct gc_stats *stats,
	       struct strbuf *err)
{
	struct repack r;
	struct strbuf path = STRBUF_INIT;
	size_t nr = odb_nr_packs(odb), i, nr_small = 0;
	unsigned char *rewrite = xcalloc(nr + 1, 1), *dropped = xcalloc(nr + 1, 1);
	int ret = 0, any = 0;
	struct progress *meter = NULL;
	uint64_t total = 0, done = 0, bytes = 0;

	memset(&r, 0, sizeof(r));
	r.odb = odb;
	r.o = opts;
	r.go = opts->gc;
	r.st = stats;
	r.keep = xcalloc(nr + 1, 1);
	strbuf_init(&r.content, 0);
	strbuf_init(&r.frame, 0);
	strbuf_init(&r.block, 0);
	store_path(odb_store(odb), &r.packdir, "objects/pack");
	store_path(odb_store(odb), &r.tmpdir, "objects/tmp");

	for (i = 0; i < nr; i++) {
		struct pack *p = odb_pack(odb, i);
		int64_t mt;
		uint32_t k;

		if (pack_mtime(p, &mt) < 0)
			continue;
		if (p->pack_size < PACK_TARGET_SIZE / 2)
			nr_small++;
		if (recent(&r, mt))
			continue;
		for (k = 0; k < p->nr; k++) {
			struct snap_oid oid;
			pack_oid(p, k, &oid);
			if (!oidset_contains(opts->reachable, &oid)) {
				rewrite[i] = dropped[i] = 1;
				break;
			}
		}
	}
	for (i = 0; i < nr && nr_small >= 2; i++)
		if (odb_pack(odb, i)->pack_size < PACK_TARGET_SIZE / 2)
			rewrite[i] = 1;
	for (i = 0; i < nr; i++)
		any |= rewrite[i];
	if (!any && opts->nr_loose < 2)
		goto out;

	/* Progress in objects gone through and the bytes of the packs read. */
	for (i = 0; i < nr; i++)
		if (rewrite[i])
			total += odb_pack(odb, i)->nr;
	meter = progress_start("objects", total + (r.go->dry_run ? 0 : opts->nr_loose));
	for (i = 0; i < nr && ret == 0; i++) {
		if (!rewrite[i])
			continue;
		ret = repack_pack(&r, (long)i, err);
		done += odb_pack(odb, i)->nr;
		bytes += odb_pack(odb, i)->pack_size;
		progress_update(meter, done, bytes);
	}
	if (ret == 0)
		ret = repack_seal(&r, err);
	/* Reachable loose objects go into the new pack as they are, once
	 * verified.  Chunk lists stay loose (docs/FORMAT.md). */
	for (i = 0; i < opts->nr_loose && ret == 0 && !r.go->dry_run; i++) {
		ret = repack_loose(&r, &opts->loose[i], err);
		progress_update(meter, ++done, bytes);
	}
	progress_done(meter);
	meter = NULL;
	/* Each live object met damaged: a sound copy elsewhere, or keep all. */
	for (i = 0; i < r.nr_damaged && ret == 0; i++) {
		struct damaged *d = &r.damaged[i];

		if (oidset_contains(&r.written, &d->oid))
			continue;
		ret = rescue(&r, &d->oid, d->pack, err);
		if (ret != 0) {
			ret = ret < 0 ? ret : 0;
			continue;
		}
		if (d->pack >= 0) {
			r.keep[d->pack] = 1;
			strbuf_reset(&path);
			strbuf_addstr(&path, odb_pack(odb, (size_t)d->pack)->pack_path);
		} else {
			odb_loose_path(odb, &d->oid, &path);
		}
		r.st->objects_damaged++;
		if (r.go->damaged)
			r.go->damaged(&d->oid, path.buf, r.go->data);
	}
	if (ret == 0)
		ret = repack_seal(&r, err);
	if (ret == 0 && r.w)
		ret = repack_finish(&r, err);
	if (ret < 0 || r.go->dry_run)
		goto out;
	/* The new packs are durable: the old copies may go, never a new one. */
	for (i = 0; i < nr; i++)
		if (rewrite[i] && !r.keep[i] && !is_new_pack(&r, odb_pack(odb, i)))
			remove_pack(&r, odb_pack(odb, i), dropped[i]);
	for (i = 0; i < opts->nr_loose; i++) {
		if (!oidset_contains(&r.written, &opts->loose[i]))
			continue;
		odb_loose_path(odb, &opts->loose[i], &path);
		fsio_unlink(path.buf);
	}
	ret = odb_reload_packs(odb, err);
out:
	progress_done(meter);
	if (r.w)
		pack_writer_abort(r.w);
	oidset_clear(&r.written);
	strbuf_release(&r.frame);
	strbuf_release(&r.block);
	free(r.members);
	for (i = 0; i < r.nr_new_packs; i++)
		free(r.new_packs[i]);
	free(r.new_packs);
	free(r.damaged);
	free(r.keep);
	strbuf_release(&r.content);
	if (r.dctx)
		ZSTD_freeDCtx(r.dctx);
	strbuf_release(&r.packdir);
	strbuf_release(&r.tmpdir);
	strbuf_release(&path);
	free(rewrite);
	free(dropped);
	return ret;
}

