/*
 * Fetching from an rclone remote, and removing the packs no ref there
 * needs (lib/rclone.h; the layout is docs/FORMAT.md, "Object storage
 * layout").
 */
#include "rclone.h"
#include "rclonepack.h"

#include "error.h"
#include "hash.h"
#include "odb.h"
#include "oidset.h"
#include "progress.h"
#include "pruned.h"
#include "snapshot.h"
#include "tree.h"
#include "storefs.h"
#include "util.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Where an id is on the remote: pos in pack, or (pack == NO_PACK) a list. */
#define NO_PACK ((uint32_t)-1)
struct where {
	struct snap_oid oid;
	uint32_t pack, pos;
};

static int cmp_where(const void *a, const void *b)
{
	return oid_cmp(&((const struct where *)a)->oid, &((const struct where *)b)->oid);
}

struct wanted {
	struct snap_oid oid;
	int parent;	/* reached as a snapshot's parent */
};

struct fetcher {
	struct rclone_remote *r;
	struct odb *odb;
	struct where *map;
	size_t nr_map;
	struct oidset visited;
	struct where *order;	/* what to write, parents before children */
	size_t nr_order, alloc_order;
	struct wanted *stack, *deferred;
	size_t nr_stack, alloc_stack, nr_deferred, alloc_deferred;
	unsigned char *want_pack;
	unsigned char *keep;	/* rclone_gc: the packs something reached is in */
	struct snap_oid *parents;
	size_t nr_parents, alloc_parents;
	struct pruned here, theirs;
	struct rclone_reader rd;
};

static const struct where *locate(const struct fetcher *f, const struct snap_oid *oid)
{
	struct where key;

	if (!f->nr_map)
		return NULL;
	key.oid = *oid;
	return bsearch(&key, f->map, f->nr_map, sizeof(*f->map), cmp_where);
}

static void push_wanted(struct fetcher *f, const struct snap_oid *oid, int parent)
{
	ALLOC_GROW(f->stack, f->nr_stack + 1, f->alloc_stack);
	f->stack[f->nr_stack].oid = *oid;
	f->stack[f->nr_stack++].parent = parent;
}

static void build_map(struct fetcher *f)
{
	struct rclone_remote *r = f->r;
	size_t k, i, n = r->nr_lists;

	for (k = 0; k < r->nr_packs; k++)
		n += r->packs[k].idx.nr;
	f->map = xcalloc(n + 1, sizeof(*f->map));
	for (k = 0; k < r->nr_packs; k++)
		for (i = 0; i < r->packs[k].idx.nr; i++) {
			struct where *w = &f->map[f->nr_map++];

			pack_oid(&r->packs[k].idx, (uint32_t)i, &w->oid);
			w->pack = (uint32_t)k;
			w->pos = (uint32_t)i;
		}
	for (i = 0; i < r->nr_lists; i++) {
		struct where *w = &f->map[f->nr_map++];

		w->oid = r->lists[i].oid;
		w->pack = NO_PACK;
		w->pos = (uint32_t)i;
	}
	QSORT(f->map, f->nr_map, cmp_where);
}

/* Records what a tree or snapshot names. */
static int note_links(struct fetcher *f, enum object_type type, const char *buf, size_t len,
		      struct strbuf *err)
{
	size_t i;
	int ret = 0;

	if (type == OBJ_TREE) {
		struct tree t = TREE_INIT;

		ret = tree_parse(&t, buf, len, err);
		for (i = 0; ret == 0 && i < t.nr; i++) {
			if (!oid_is_null(&t.entries[i].oid))
				push_wanted(f, &t.entries[i].oid, 0);
			if (t.entries[i].has_xattrs)
				push_wanted(f, &t.entries[i].xattrs, 0);
		}
		tree_release(&t);
	} else if (type == OBJ_SNAPSHOT) {
		struct snapshot s = SNAPSHOT_INIT;

		ret = snapshot_parse(&s, buf, len, err);
		if (ret == 0 && !oid_is_null(&s.tree))
			push_wanted(f, &s.tree, 0);
		for (i = 0; ret == 0 && i < s.nr_parents; i++) {
			push_wanted(f, &s.parents[i], 1);
			ALLOC_GROW(f->parents, f->nr_parents + 1, f->alloc_parents);
			f->parents[f->nr_parents++] = s.parents[i];
		}
		for (i = 0; ret == 0 && i < s.nr_bundles; i++)
			push_wanted(f, &s.bundles[i], 0);
		snapshot_release(&s);
	}
	return ret;
}

/* 1 when pack k is here, else marks it wanted. */
static int have_pack(struct fetcher *f, uint32_t k)
{
	if (f->r->packs[k].local)
		return 1;
	f->want_pack[k] = 1;
	return 0;
}

/*
 * When record lists oid: takes it as visited and goes on to the parents
 * the record gives it (1); else 0.
 */
static int pass_over(struct fetcher *f, const struct pruned *record, const struct snap_oid *oid)
{
	const struct pruned_entry *e = pruned_find(record, oid);
	size_t i;

	if (!e)
		return 0;
	oidset_insert(&f->visited, oid);
	for (i = 0; i < e->nr_parents; i++)
		push_wanted(f, &pruned_parents(record, e)[i], 1);
	return 1;
}

/*
 * rclone_gc's visit of what is in pack w: the pack is kept, and a tree's
 * or snapshot's links followed, read from this store when it has the
 * object (nothing downloaded), else from the pack (deferred until it is).
 */
static int keep_reached(struct fetcher *f, const struct wanted *t, const struct where *w,
			struct strbuf *err)
{
	struct strbuf buf = STRBUF_INIT;
	struct pack_record rec;
	enum object_type type;
	const char *payload;
	uint64_t size;
	int ret;

	f->keep[w->pack] = 1;
	pack_record(&f->r->packs[w->pack].idx, w->pos, &rec);
	if (rec.type != OBJ_TREE && rec.type != OBJ_SNAPSHOT) {
		oidset_insert(&f->visited, &t->oid);
		return 0;
	}
	if (odb_has(f->odb, &t->oid) == 1) {
		ret = odb_read(f->odb, &t->oid, &type, &buf, TREE_MAX_SIZE, err);
		if (ret == 0) {
			oidset_insert(&f->visited, &t->oid);
			ret = note_links(f, type, buf.buf, buf.len, err);
		}
		strbuf_release(&buf);
		return ret;
	}
	if (!have_pack(f, w->pack)) {
		ALLOC_GROW(f->deferred, f->nr_deferred + 1, f->alloc_deferred);
		f->deferred[f->nr_deferred++] = *t;
		return 0;
	}
	oidset_insert(&f->visited, &t->oid);
	ret = rclone_read_object(&f->rd, f->r, w->pack, w->pos, &w->oid, &type, &payload, &size, err);
	return ret < 0 ? ret : note_links(f, type, payload, (size_t)size, err);
}

/* One id off the stack: known here, or found on the remote (or deferred to its pack). */
static int visit(struct fetcher *f, const struct wanted *t, struct strbuf *err)
{
	const struct where *w;
	struct pack_record rec;
	enum object_type type;
	const char *payload;
	uint64_t size;
	size_t i;
	int ready = 1, ret;

	if (oidset_contains(&f->visited, &t->oid))
		return 0;
	/*
	 * rclone_gc passes over a parent the remote's record lists even when
	 * its object is still there, as gc does in a store: it may go.
	 */
	if (f->keep && t->parent && pass_over(f, &f->theirs, &t->oid))
		return 0;
	if (!f->keep && odb_has(f->odb, &t->oid)) {
		oidset_insert(&f->visited, &t->oid);
		return 0;
	}
	w = locate(f, &t->oid);
	if (!w) {
		/*
		 * A parent pruned on purpose, there or here, is not missing;
		 * the walk goes on through it to the parents its record gives,
		 * as every walk of a store does.
		 */
		if (t->parent && (pass_over(f, &f->theirs, &t->oid) ||
				  pass_over(f, &f->here, &t->oid)))
			return 0;
		return snap_error(err, SNAP_EINVAL, "incomplete remote: object %s is missing from '%s'",
				  oid_to_hex(&t->oid), f->r->url);
	}
	if (w->pack == NO_PACK) {
		const struct rclone_list *l = &f->r->lists[w->pos];

		if (f->keep)
			f->keep[l->pack] = 1;
		for (i = 0; i < l->nr; i++) {
			const struct where *c = locate(f, &f->r->chunks[l->first + i]);

			if (!c || c->pack == NO_PACK)
				return snap_error(err, SNAP_EINVAL,
						  "incomplete remote: chunk %s of blob %s is missing from '%s'",
						  oid_to_hex(&f->r->chunks[l->first + i]),
						  oid_to_hex(&l->oid), f->r->url);
			if (f->keep)
				f->keep[c->pack] = 1;
			else
				ready &= have_pack(f, c->pack);
		}
	} else if (f->keep) {
		return keep_reached(f, t, w, err);
	} else {
		ready = have_pack(f, w->pack);
	}
	if (!ready) {
		ALLOC_GROW(f->deferred, f->nr_deferred + 1, f->alloc_deferred);
		f->deferred[f->nr_deferred++] = *t;
		return 0;
	}
	oidset_insert(&f->visited, &t->oid);
	if (f->keep)
		return 0;
	ALLOC_GROW(f->order, f->nr_order + 1, f->alloc_order);
	f->order[f->nr_order++] = *w;
	if (w->pack == NO_PACK)
		return 0;
	pack_record(&f->r->packs[w->pack].idx, w->pos, &rec);
	if (rec.type != OBJ_TREE && rec.type != OBJ_SNAPSHOT)
		return 0;
	ret = rclone_read_object(&f->rd, f->r, w->pack, w->pos, &w->oid, &type, &payload, &size, err);
	if (ret < 0)
		return ret;
	return note_links(f, type, payload, (size_t)size, err);
}

/* A chunked blob: its chunks, read from the remote's packs, make its bytes. */
static int write_list(struct fetcher *f, const struct rclone_list *l, struct transfer_stats *st,
		      struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT;
	struct snap_hash_ctx h;
	struct snap_oid got;
	size_t i;
	int fd, ret = 0;

	rclone_tmp_path(f->r, &path, "blob");
	fd = storefs_open(path.buf, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0) {
		ret = snap_error_errno(err, "cannot create '%s'", path.buf);
		goto out;
	}
	hash_object_start(&h, OBJ_BLOB, l->size, NULL);
	for (i = 0; ret == 0 && i < l->nr; i++) {
		const struct snap_oid *chunk = &f->r->chunks[l->first + i];
		const struct where *w = locate(f, chunk);
		enum object_type type;
		const char *payload;
		uint64_t size;

		ret = rclone_read_object(&f->rd, f->r, w->pack, w->pos, chunk, &type, &payload, &size, err);
		if (ret == 0 && (type != OBJ_BLOB || size != f->r->chunk_sizes[l->first + i]))
			ret = snap_error(err, SNAP_ECORRUPT, "chunk %s of blob %s is not a blob of %llu bytes",
					 oid_to_hex(chunk), oid_to_hex(&l->oid),
					 (unsigned long long)f->r->chunk_sizes[l->first + i]);
		if (ret == 0) {
			hash_update(&h, payload, (size_t)size);
			if (write_all(fd, payload, (size_t)size) < 0)
				ret = snap_error_errno(err, "cannot write '%s'", path.buf);
		}
	}
	if (ret == 0) {
		hash_final(&h, &got);
		if (oid_cmp(&got, &l->oid))
			ret = snap_error(err, SNAP_ECORRUPT, "blob %s of '%s': its chunks hash to %s",
					 oid_to_hex(&l->oid), f->r->url, oid_to_hex(&got));
	}
	if (ret == 0 && lseek(fd, 0, SEEK_SET) < 0)
		ret = snap_error_errno(err, "cannot rewind '%s'", path.buf);
	if (ret == 0)
		ret = odb_write_fd(f->odb, OBJ_BLOB, fd, l->size, path.buf, &got, err);
	if (ret == 0 && oid_cmp(&got, &l->oid))
		ret = snap_error(err, SNAP_ECORRUPT, "blob %s was stored as %s", oid_to_hex(&l->oid),
				 oid_to_hex(&got));
	if (ret == 0) {
		st->objects++;
		st->bytes += l->size;
	}
	close(fd);
	storefs_unlink(path.buf);
out:
	strbuf_release(&path);
	return ret;
}

static int write_one(struct fetcher *f, const struct where *w, struct transfer_stats *st,
		     struct strbuf *err)
{
	enum object_type type;
	const char *payload;
	struct snap_oid got;
	uint64_t size;
	int ret;

	if (w->pack == NO_PACK)
		return write_list(f, &f->r->lists[w->pos], st, err);
	ret = rclone_read_object(&f->rd, f->r, w->pack, w->pos, &w->oid, &type, &payload, &size, err);
	if (ret == 0)
		ret = odb_write_buf(f->odb, type, payload, (size_t)size, &got, err);
	if (ret == 0 && oid_cmp(&got, &w->oid))
		ret = snap_error(err, SNAP_ECORRUPT, "object %s was stored as %s", oid_to_hex(&w->oid),
				 oid_to_hex(&got));
	if (ret == 0) {
		st->objects++;
		st->bytes += size;
	}
	return ret;
}

static int has_here(const struct snap_oid *oid, void *data)
{
	return odb_has(data, oid);
}

/*
 * Sets f up and walks from the ids given (keeping: marks the packs that
 * hold what they reach, in f->keep), round after round: what is known
 * from the packs at hand, then the packs the deferred ids are in.
 */
static int walk_from(struct fetcher *f, struct rclone_remote *r, struct odb *odb,
		     const struct snap_oid *from, size_t nr, int keeping, struct strbuf *err)
{
	size_t i, k;
	int ret;

	memset(f, 0, sizeof(*f));
	f->r = r;
	f->odb = odb;
	rclone_reader_init(&f->rd);
	ret = rclone_load_packs(r, err);
	if (ret == 0)
		ret = pruned_load(odb_store(odb), &f->here, err);
	if (ret == 0)
		ret = rclone_remote_pruned(r, &f->theirs, err);
	if (ret < 0)
		return ret;
	build_map(f);
	f->want_pack = xcalloc(r->nr_packs + 1, 1);
	if (keeping)
		f->keep = xcalloc(r->nr_packs + 1, 1);
	for (i = 0; i < nr; i++)
		push_wanted(f, &from[i], 0);
	while (ret == 0) {
		while (ret == 0 && f->nr_stack) {
			struct wanted t = f->stack[--f->nr_stack];

			ret = visit(f, &t, err);
		}
		if (ret < 0 || !f->nr_deferred)
			break;
		for (k = 0; ret == 0 && k < r->nr_packs; k++)
			if (f->want_pack[k] && (ret = rclone_pack_get(r, k, err)) == 0)
				f->want_pack[k] = 0;
		for (i = 0; i < f->nr_deferred; i++)
			push_wanted(f, &f->deferred[i].oid, f->deferred[i].parent);
		f->nr_deferred = 0;
	}
	return ret;
}

static void fetcher_release(struct fetcher *f)
{
	rclone_reader_release(&f->rd);
	free(f->map);
	free(f->order);
	free(f->stack);
	free(f->deferred);
	free(f->want_pack);
	free(f->keep);
	free(f->parents);
	oidset_clear(&f->visited);
	pruned_release(&f->here);
	pruned_release(&f->theirs);
}

int rclone_fetch(struct rclone_remote *r, struct odb *odb, const struct snap_oid *wants,
		 size_t nr, struct transfer_stats *st, struct pruned *pruned,
		 struct strbuf *err)
{
	struct fetcher f;
	struct strbuf ignored = STRBUF_INIT;
	struct progress *meter;
	size_t i;
	int ret;

	ret = walk_from(&f, r, odb, wants, nr, 0, err);
	if (ret < 0)
		goto out;
	/* Children first, so that what is kept after a failure is whole below. */
	odb_batch_begin(odb);
	meter = progress_start("objects", f.nr_order);
	for (i = f.nr_order; ret == 0 && i-- > 0;) {
		ret = write_one(&f, &f.order[i], st, err);
		progress_update(meter, f.nr_order - i, st->bytes);
	}
	progress_done(meter);
	if (ret < 0) {
		odb_batch_end(odb, &ignored);
		goto out;
	}
	ret = odb_batch_end(odb, err);
	if (ret == 0)
		rclone_accept_pruned(&f.theirs, f.parents, f.nr_parents, has_here, odb, pruned);
out:
	fetcher_release(&f);
	strbuf_release(&ignored);
	return ret;
}

/* ---- removing the packs no ref needs ---- */

struct pack_files {
	char **names;
	uint64_t *sizes;
	size_t nr, alloc, alloc_sizes;
};

static void add_pack_file(const char *name, uint64_t size, void *data)
{
	struct pack_files *l = data;

	ALLOC_GROW(l->names, l->nr + 1, l->alloc);
	ALLOC_GROW(l->sizes, l->nr + 1, l->alloc_sizes);
	l->names[l->nr] = xstrdup(name);
	l->sizes[l->nr++] = size;
}

static void pack_files_release(struct pack_files *l)
{
	size_t i;

	for (i = 0; i < l->nr; i++)
		free(l->names[i]);
	free(l->names);
	free(l->sizes);
}

/* Whether the pack named hex was kept by the walk. */
static int kept(const struct fetcher *f, const char *hex)
{
	size_t k;

	for (k = 0; k < f->r->nr_packs; k++)
		if (f->keep[k] && !strcmp(f->r->packs[k].name, hex))
			return 1;
	return 0;
}

int rclone_gc(struct rclone_remote *r, struct odb *odb, int dry_run,
	      void (*removed)(const char *file, uint64_t size, void *data), void *data,
	      struct rclone_gc_stats *st, struct strbuf *err)
{
	struct fetcher f;
	struct pack_files l = { NULL, NULL, 0, 0, 0 }, t = { NULL, NULL, 0, 0, 0 };
	struct strbuf rel = STRBUF_INIT, cache = STRBUF_INIT;
	struct snap_oid *tips = xcalloc(r->nr_refs + 1, sizeof(*tips));
	char hex[SNAP_OID_HEXSZ + 1];
	size_t i, k;
	int ret, kind;

	memset(st, 0, sizeof(*st));
	for (i = 0; i < r->nr_refs; i++)
		tips[i] = r->refs[i].oid;
	ret = walk_from(&f, r, odb, tips, r->nr_refs, 1, err);
	if (ret == 0)
		ret = rclone_list(r, "packs", 0, add_pack_file, &l, err);
	if (ret < 0)
		goto out;
	for (k = 0; k < r->nr_packs; k++)
		st->packs_kept += f.keep[k];
	for (i = 0; i < l.nr; i++)
		if (rclone_pack_file(l.names[i], hex) == RCLONE_FILE_PACK && !kept(&f, hex))
			st->packs_removed++;
	/* The walk took time: the remote must still be ours to change. */
	if (!dry_run && (ret = rclone_lease_check(r, err)) < 0)
		goto out;
	rclone_cache_dir(r, &cache);
	for (kind = RCLONE_FILE_IDX; ret == 0 && kind <= RCLONE_FILE_LISTS; kind++) {
		for (i = 0; ret == 0 && i < l.nr; i++) {
			if (rclone_pack_file(l.names[i], hex) != kind || kept(&f, hex))
				continue;
			if (!dry_run) {
				strbuf_reset(&rel);
				strbuf_addf(&rel, "packs/%s", l.names[i]);
				ret = rclone_delete(r, rel.buf, err);
				if (ret < 0)
					break;
				/* Its cached copy, if any, serves no one now. */
				strbuf_reset(&rel);
				strbuf_addf(&rel, "%s/%s", cache.buf, l.names[i]);
				storefs_unlink(rel.buf);
			}
			st->files_removed++;
			st->bytes_removed += l.sizes[i];
			strbuf_reset(&rel);
			strbuf_addf(&rel, "packs/%s", l.names[i]);
			if (removed)
				removed(rel.buf, l.sizes[i], data);
		}
	}
	/*
	 * tmp/ holds what a writer killed mid-upload left (rclone_put): with
	 * the lease ours, no upload of another is under way.
	 */
	if (ret == 0)
		ret = rclone_list(r, "tmp", 0, add_pack_file, &t, err);
	for (i = 0; ret == 0 && i < t.nr; i++) {
		strbuf_reset(&rel);
		strbuf_addf(&rel, "tmp/%s", t.names[i]);
		if (!dry_run && (ret = rclone_delete(r, rel.buf, err)) < 0)
			break;
		st->files_removed++;
		st->bytes_removed += t.sizes[i];
		if (removed)
			removed(rel.buf, t.sizes[i], data);
	}
out:
	fetcher_release(&f);
	pack_files_release(&l);
	pack_files_release(&t);
	free(tips);
	strbuf_release(&rel);
	strbuf_release(&cache);
	return ret;
}
