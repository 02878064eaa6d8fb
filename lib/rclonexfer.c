/*
 * Pushing to and fetching from an rclone remote (lib/rclone.h; the
 * layout is docs/FORMAT.md, "Object storage layout").
 */
#include "rclone.h"
#include "rclonepack.h"

#include "chunk.h"
#include "error.h"
#include "hash.h"
#include "odb.h"
#include "oidset.h"
#include "pruned.h"
#include "snapshot.h"
#include "store.h"
#include "tree.h"
#include "util.h"
#include "walk.h"
#include "storefs.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the pruned record, as lib/transport.c carries it ---- */

static int cmp_pruned_entry(const void *a, const void *b)
{
	return oid_cmp(&((const struct pruned_entry *)a)->id, &((const struct pruned_entry *)b)->id);
}

/*
 * What of from's record the other side takes: starting from the parents
 * the snapshots that crossed name, each one that side lacks (has() says)
 * and from lists, then its recorded parents in turn.  As lib/transport.c:
 * a record never hides history the other side holds.
 */
static void accept_pruned(const struct pruned *from, const struct snap_oid *parents, size_t nr,
			  int (*has)(const struct snap_oid *, void *), void *data,
			  struct pruned *out)
{
	struct oidset seen = OIDSET_INIT;
	struct snap_oid *pending = xcalloc(nr + 1, sizeof(*pending));
	size_t nr_p = nr, alloc = nr + 1, i;

	if (nr)
		memcpy(pending, parents, nr * sizeof(*parents));
	while (nr_p) {
		struct snap_oid cur = pending[--nr_p];
		const struct pruned_entry *e;

		if (!oidset_insert(&seen, &cur) || has(&cur, data) || !(e = pruned_find(from, &cur)))
			continue;
		pruned_append(out, &cur, pruned_parents(from, e), e->nr_parents);
		for (i = 0; i < e->nr_parents; i++) {
			ALLOC_GROW(pending, nr_p + 1, alloc);
			pending[nr_p++] = pruned_parents(from, e)[i];
		}
	}
	free(pending);
	oidset_clear(&seen);
	QSORT(out->v, out->nr, cmp_pruned_entry);
}

/* The remote's record: empty when it has none. */
static int remote_pruned(struct rclone_remote *r, struct pruned *p, struct strbuf *err)
{
	struct strbuf text = STRBUF_INIT;
	int ret = rclone_cat(r, PRUNED_FILE, &text, PRUNED_MAX, err);

	if (ret == SNAP_ENOTFOUND) {
		strbuf_reset(err);
		ret = 0;
	} else if (ret == 0 && (ret = pruned_parse(p, text.buf, text.len, err)) < 0) {
		strbuf_addf(err, " (the pruned record of '%s')", r->url);
	}
	strbuf_release(&text);
	return ret;
}

/* ---- push ---- */

struct item {
	struct snap_oid oid;
	enum object_type type;
	uint64_t size;
};

struct collect {
	struct item *v;
	size_t nr, alloc;
	long problems;
	struct strbuf problem;
};

static void collect_reached(const struct snap_oid *oid, enum object_type type, uint64_t size,
			    void *data)
{
	struct collect *c = data;

	ALLOC_GROW(c->v, c->nr + 1, c->alloc);
	c->v[c->nr].oid = *oid;
	c->v[c->nr].type = type;
	c->v[c->nr].size = size;
	c->nr++;
}

static void collect_problem(const struct walk_problem *p, void *data)
{
	struct collect *c = data;

	if (!c->problems++)
		walk_problem_describe(p, &c->problem);
}

struct packer {
	struct rclone_remote *r;
	struct odb *odb;
	struct strbuf tmpdir;
	struct pack_writer *w;
	struct strbuf block, frame, buf;
	struct pack_member *m;
	size_t nr_m, alloc_m;
	char **done;		/* the .idx paths written */
	size_t nr_done, alloc_done;
	struct rclone_list_in *lists;
	size_t nr_lists, alloc_lists;
	struct snap_oid *parents;	/* of the snapshots packed */
	size_t nr_parents, alloc_parents;
	struct oidset sent;
	struct transfer_stats *st;
};

static int flush_block(struct packer *pk, struct strbuf *err)
{
	int ret = 0;

	if (!pk->nr_m)
		return 0;
	ret = odb_compress_block(pk->odb, pk->block.buf, pk->block.len, &pk->frame, err);
	if (ret == 0)
		ret = pack_writer_add_block(pk->w, pk->m, pk->nr_m, pk->frame.buf, pk->frame.len, err);
	pk->nr_m = 0;
	strbuf_reset(&pk->block);
	return ret;
}

static int finish_pack(struct packer *pk, struct strbuf *err)
{
	struct strbuf idx = STRBUF_INIT;
	int ret;

	if (!pk->w)
		return 0;
	ret = flush_block(pk, err);
	if (ret < 0)
		return ret;
	ret = pack_writer_finish(pk->w, pk->tmpdir.buf, &idx, err);
	pk->w = NULL;
	if (ret == 0) {
		ALLOC_GROW(pk->done, pk->nr_done + 1, pk->alloc_done);
		pk->done[pk->nr_done++] = strbuf_detach(&idx, NULL);
	}
	strbuf_release(&idx);
	return ret;
}

static void add_list_chunk(const struct snap_oid *chunk, uint64_t size, void *data)
{
	struct rclone_list_in *l = data;

	l->chunks = xrealloc(l->chunks, (l->nr + 1) * sizeof(*l->chunks));
	l->sizes = xrealloc(l->sizes, (l->nr + 1) * sizeof(*l->sizes));
	l->chunks[l->nr] = *chunk;
	l->sizes[l->nr++] = size;
}

/* One object into the pack being written (small blobs and bundles into blocks). */
static int pack_item(struct packer *pk, const struct item *it, struct strbuf *err)
{
	char hdr[SNAP_HDR_MAX];
	enum object_type type;
	size_t hl;
	int ret;

	if (it->type == OBJ_BLOB && it->size > CHUNK_THRESHOLD) {
		struct rclone_list_in l = { it->oid, it->size, NULL, NULL, 0 };

		ret = odb_chunks_each(pk->odb, &it->oid, add_list_chunk, &l, err);
		if (ret == 1) {
			ALLOC_GROW(pk->lists, pk->nr_lists + 1, pk->alloc_lists);
			pk->lists[pk->nr_lists++] = l;
			pk->st->objects++;
			return 0;
		}
		free(l.chunks);
		free(l.sizes);
		if (ret < 0)
			return ret;
	}
	if (it->size > PACK_OBJECT_MAX)
		return snap_error(err, SNAP_ETOOBIG,
				  "object %s is stored whole and larger than a remote pack may hold (%u bytes)",
				  oid_to_hex(&it->oid), PACK_OBJECT_MAX);
	ret = odb_read(pk->odb, &it->oid, &type, &pk->buf, PACK_OBJECT_MAX, err);
	if (ret < 0)
		return ret;
	if (type == OBJ_SNAPSHOT) {
		struct snapshot s = SNAPSHOT_INIT;
		size_t i;

		ret = snapshot_parse(&s, pk->buf.buf, pk->buf.len, err);
		for (i = 0; ret == 0 && i < s.nr_parents; i++) {
			ALLOC_GROW(pk->parents, pk->nr_parents + 1, pk->alloc_parents);
			pk->parents[pk->nr_parents++] = s.parents[i];
		}
		snapshot_release(&s);
		if (ret < 0)
			return ret;
	}
	if (!pk->w && (ret = pack_writer_start(&pk->w, pk->tmpdir.buf, err)) < 0)
		return ret;
	hl = object_header_format(hdr, type, pk->buf.len);
	if ((type == OBJ_BLOB || type == OBJ_BUNDLE) && pk->buf.len < PACK_BLOCK_MEMBER_MAX) {
		ALLOC_GROW(pk->m, pk->nr_m + 1, pk->alloc_m);
		pk->m[pk->nr_m].oid = it->oid;
		pk->m[pk->nr_m].type = type;
		pk->m[pk->nr_m].size = pk->buf.len;
		pk->m[pk->nr_m++].inner = (uint32_t)pk->block.len;
		strbuf_add(&pk->block, hdr, hl);
		strbuf_addbuf(&pk->block, &pk->buf);
		if (pk->block.len >= PACK_BLOCK_TARGET)
			ret = flush_block(pk, err);
	} else {
		struct strbuf whole = STRBUF_INIT;

		strbuf_add(&whole, hdr, hl);
		strbuf_addbuf(&whole, &pk->buf);
		ret = odb_compress_block(pk->odb, whole.buf, whole.len, &pk->frame, err);
		strbuf_release(&whole);
		if (ret == 0)
			ret = pack_writer_add(pk->w, &it->oid, type, pk->buf.len, pk->frame.buf,
					      pk->frame.len, err);
	}
	if (ret < 0)
		return ret;
	oidset_insert(&pk->sent, &it->oid);
	pk->st->objects++;
	pk->st->bytes += pk->buf.len;
	if (pack_writer_size(pk->w) >= PACK_TARGET_SIZE)
		ret = finish_pack(pk, err);
	return ret;
}

struct size_seen {
	const char *name;
	int64_t size;
};

static void note_size(const char *name, uint64_t size, void *data)
{
	struct size_seen *s = data;

	if (!strcmp(name, s->name))
		s->size = (int64_t)size;
}

/* Uploads local as packs/<file>, then confirms it is listed there with its size. */
static int upload(struct rclone_remote *r, const char *local, const char *file, struct strbuf *err)
{
	struct strbuf rel = STRBUF_INIT, path = STRBUF_INIT;
	const char *args[4] = { "copyto", local, NULL, NULL };
	struct size_seen seen = { file, -1 };
	struct stat st;
	int ret = 0;

	if (stat(local, &st) < 0)
		return snap_error_errno(err, "cannot stat '%s'", local);
	strbuf_addf(&rel, "packs/%s", file);
	rclone_path(r, &path, rel.buf);
	args[2] = path.buf;
	ret = rclone_run(args, -1, NULL, 0, err);
	/* By name and size, never by time. */
	if (ret == 0)
		ret = rclone_list(r, rel.buf, 0, note_size, &seen, err);
	if (ret == 0 && seen.size != (int64_t)st.st_size)
		ret = snap_error(err, SNAP_EIO, "'%s' of '%s' is listed with %lld bytes after its upload, not %lld",
				 rel.buf, r->url, (long long)seen.size, (long long)st.st_size);
	strbuf_release(&rel);
	strbuf_release(&path);
	return ret;
}

/* The .pack beside an .idx path. */
static void pack_of(const char *idx, struct strbuf *out)
{
	strbuf_reset(out);
	strbuf_add(out, idx, strlen(idx) - 4);
	strbuf_addstr(out, ".pack");
}

/* Uploads the packs written: each pack, then (the last) its .lists, then its index. */
static int upload_packs(struct packer *pk, struct strbuf *err)
{
	struct strbuf pack = STRBUF_INIT, lists = STRBUF_INIT, text = STRBUF_INIT;
	size_t i;
	int ret = 0;

	for (i = 0; ret == 0 && i < pk->nr_done; i++) {
		const char *idx = pk->done[i], *base = strrchr(idx, '/') + 1;
		char name[SNAP_OID_HEXSZ + 16];

		pack_of(idx, &pack);
		snprintf(name, sizeof(name), "%.*s", (int)(strlen(base) - 4), base);
		ret = upload(pk->r, pack.buf, strrchr(pack.buf, '/') + 1, err);
		if (ret == 0 && i + 1 == pk->nr_done && pk->nr_lists) {
			struct strbuf file = STRBUF_INIT;
			int fd;

			rclone_lists_encode(pk->lists, pk->nr_lists, &text);
			strbuf_addf(&lists, "%s/%s.lists", pk->tmpdir.buf, name);
			strbuf_addf(&file, "%s.lists", name);
			storefs_unlink(lists.buf);
			fd = storefs_open(lists.buf, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
			if (fd < 0 || write_all(fd, text.buf, text.len) < 0)
				ret = snap_error_errno(err, "cannot write '%s'", lists.buf);
			if (fd >= 0)
				close(fd);
			if (ret == 0)
				ret = upload(pk->r, lists.buf, file.buf, err);
			if (ret == 0)
				ret = rclone_cache_add(pk->r, lists.buf, file.buf, err);
			storefs_unlink(lists.buf);
			strbuf_release(&file);
		}
		if (ret == 0)
			ret = upload(pk->r, idx, base, err);
		/* Known from now on without a download. */
		if (ret == 0)
			ret = rclone_cache_add(pk->r, idx, base, err);
	}
	strbuf_release(&pack);
	strbuf_release(&lists);
	strbuf_release(&text);
	return ret;
}

struct remote_has {
	struct oidset *known;
	struct oidset *sent;
};

static int remote_has(const struct snap_oid *oid, void *data)
{
	struct remote_has *h = data;

	return oidset_contains(h->known, oid) || oidset_contains(h->sent, oid);
}

/* The remote's record with what of ours it takes, uploaded when it grew. */
static int push_pruned(struct packer *pk, const struct pruned *ours, struct oidset *known,
		       struct strbuf *err)
{
	struct pruned theirs = PRUNED_INIT, take = PRUNED_INIT, merged = PRUNED_INIT;
	struct remote_has h = { known, &pk->sent };
	struct strbuf text = STRBUF_INIT;
	size_t i, added = 0;
	int ret = 0;

	accept_pruned(ours, pk->parents, pk->nr_parents, remote_has, &h, &take);
	if (!take.nr)
		goto out;
	ret = remote_pruned(pk->r, &theirs, err);
	if (ret < 0)
		goto out;
	for (i = 0; i < theirs.nr; i++)
		pruned_append(&merged, &theirs.v[i].id, pruned_parents(&theirs, &theirs.v[i]),
			      theirs.v[i].nr_parents);
	for (i = 0; i < take.nr; i++)
		if (!pruned_find(&theirs, &take.v[i].id)) {
			pruned_append(&merged, &take.v[i].id, pruned_parents(&take, &take.v[i]),
				      take.v[i].nr_parents);
			added++;
		}
	QSORT(merged.v, merged.nr, cmp_pruned_entry);
	if (added) {
		pruned_encode(&merged, &text);
		ret = rclone_put(pk->r, PRUNED_FILE, text.buf, text.len, err);
	}
out:
	pruned_release(&theirs);
	pruned_release(&take);
	pruned_release(&merged);
	strbuf_release(&text);
	return ret;
}

static void packer_release(struct packer *pk)
{
	struct strbuf pack = STRBUF_INIT;
	size_t i;

	if (pk->w)
		pack_writer_abort(pk->w);
	for (i = 0; i < pk->nr_done; i++) {
		pack_of(pk->done[i], &pack);
		storefs_unlink(pack.buf);
		storefs_unlink(pk->done[i]);
		free(pk->done[i]);
	}
	for (i = 0; i < pk->nr_lists; i++) {
		free(pk->lists[i].chunks);
		free(pk->lists[i].sizes);
	}
	free(pk->done);
	free(pk->lists);
	free(pk->m);
	free(pk->parents);
	oidset_clear(&pk->sent);
	strbuf_release(&pk->tmpdir);
	strbuf_release(&pk->block);
	strbuf_release(&pk->frame);
	strbuf_release(&pk->buf);
	strbuf_release(&pack);
}

static void known_ids(struct rclone_remote *r, struct oidset *known)
{
	size_t k, i;

	for (k = 0; k < r->nr_packs; k++)
		for (i = 0; i < r->packs[k].idx.nr; i++) {
			struct snap_oid oid;

			pack_oid(&r->packs[k].idx, (uint32_t)i, &oid);
			oidset_insert(known, &oid);
		}
	for (i = 0; i < r->nr_lists; i++)
		oidset_insert(known, &r->lists[i].oid);
}

/*
 * A ref that a name of the remote's refs lies below, or above ("a" and
 * "a/b"): their files cannot both be, so the push is refused before
 * anything is uploaded, as a store's transaction refuses it.
 */
static int check_ref_paths(const struct rclone_remote *r, const struct push_update *u,
			   size_t nr, struct strbuf *err)
{
	size_t i, j;

	for (i = 0; i < nr; i++) {
		size_t len = strlen(u[i].name);

		if (oid_is_null(&u[i].new_oid))
			continue;
		for (j = 0; j < r->nr_refs; j++) {
			const char *have = r->refs[j].name;
			size_t hl = strlen(have);

			if (hl > len && !strncmp(have, u[i].name, len) && have[len] == '/')
				return snap_error(err, SNAP_EINVAL,
						  "ref '%s' cannot be written: '%s/' holds other refs",
						  u[i].name, u[i].name);
			if (len > hl && !strncmp(u[i].name, have, hl) && u[i].name[hl] == '/')
				return snap_error(err, SNAP_EINVAL,
						  "ref '%s' cannot be written: '%s' is a ref", u[i].name, have);
		}
	}
	return 0;
}

int rclone_push(struct rclone_remote *r, struct odb *odb, const struct push_update *u,
		size_t nr, struct transfer_stats *st, struct strbuf *err)
{
	struct oidset known = OIDSET_INIT, seen = OIDSET_INIT;
	struct collect c = { NULL, 0, 0, 0, STRBUF_INIT };
	struct pruned pr = PRUNED_INIT;
	struct walk_opts opts = { 0, collect_reached, collect_problem, &c, &pr };
	struct snap_oid *tips = xcalloc(nr + 1, sizeof(*tips));
	struct packer pk;
	size_t i, nr_tips = 0;
	int ret;

	if (check_ref_paths(r, u, nr, err) < 0) {
		free(tips);
		return SNAP_EINVAL;
	}
	memset(&pk, 0, sizeof(pk));
	pk.r = r;
	pk.odb = odb;
	pk.st = st;
	strbuf_init(&pk.tmpdir, 0);
	strbuf_init(&pk.block, 0);
	strbuf_init(&pk.frame, 0);
	strbuf_init(&pk.buf, 0);
	store_path(odb_store(odb), &pk.tmpdir, "objects/tmp");
	for (i = 0; i < nr; i++)
		if (!oid_is_null(&u[i].new_oid))
			tips[nr_tips++] = u[i].new_oid;
	ret = pruned_load(odb_store(odb), &pr, err);
	if (ret == 0 && nr_tips)
		ret = rclone_load_packs(r, err);
	if (ret < 0)
		goto out;
	/* What the remote has is known by id: the walk stays out of it. */
	known_ids(r, &known);
	known_ids(r, &seen);
	if (nr_tips)
		walk_reachable(odb, tips, NULL, nr_tips, &seen, &opts);
	if (c.problems) {
		ret = snap_error(err, SNAP_ECORRUPT, "cannot send what is not sound here: %s%s",
				 c.problem.buf, c.problems > 1 ? " (and more)" : "");
		goto out;
	}
	/* Children before parents, as any reader may meet them. */
	for (i = c.nr; ret == 0 && i-- > 0;)
		ret = pack_item(&pk, &c.v[i], err);
	if (ret == 0)
		ret = finish_pack(&pk, err);
	if (ret == 0)
		ret = upload_packs(&pk, err);
	if (ret == 0)
		ret = push_pruned(&pk, &pr, &known, err);
	/* Refs last: only while the lease is ours and the refs are as we read them. */
	if (ret == 0)
		ret = rclone_lease_check(r, err);
	for (i = 0; ret == 0 && i < nr; i++) {
		struct snap_oid cur;
		char want[SNAP_OID_HEXSZ + 1];

		ret = rclone_ref_read(r, u[i].name, &cur, err);
		if (ret == 0 && oid_cmp(&cur, &u[i].old_oid))
			ret = snap_error(err, SNAP_EEXISTS, "ref '%s' moved: expected %s, found %s",
					 u[i].name, oid_to_hex_r(want, &u[i].old_oid), oid_to_hex(&cur));
	}
	for (i = 0; ret == 0 && i < nr; i++)
		ret = rclone_ref_write(r, u[i].name, &u[i].new_oid, err);
out:
	packer_release(&pk);
	oidset_clear(&known);
	oidset_clear(&seen);
	pruned_release(&pr);
	free(c.v);
	strbuf_release(&c.problem);
	free(tips);
	return ret;
}

/* ---- fetch ---- */

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
	if (odb_has(f->odb, &t->oid)) {
		oidset_insert(&f->visited, &t->oid);
		return 0;
	}
	w = locate(f, &t->oid);
	if (!w) {
		/* A parent pruned on purpose, there or here, is not missing. */
		if (t->parent && (pruned_contains(&f->theirs, &t->oid) ||
				  pruned_contains(&f->here, &t->oid))) {
			oidset_insert(&f->visited, &t->oid);
			return 0;
		}
		return snap_error(err, SNAP_EINVAL, "incomplete remote: object %s is missing from '%s'",
				  oid_to_hex(&t->oid), f->r->url);
	}
	if (w->pack == NO_PACK) {
		const struct rclone_list *l = &f->r->lists[w->pos];

		for (i = 0; i < l->nr; i++) {
			const struct where *c = locate(f, &f->r->chunks[l->first + i]);

			if (!c || c->pack == NO_PACK)
				return snap_error(err, SNAP_EINVAL,
						  "incomplete remote: chunk %s of blob %s is missing from '%s'",
						  oid_to_hex(&f->r->chunks[l->first + i]),
						  oid_to_hex(&l->oid), f->r->url);
			ready &= have_pack(f, c->pack);
		}
	} else {
		ready = have_pack(f, w->pack);
	}
	if (!ready) {
		ALLOC_GROW(f->deferred, f->nr_deferred + 1, f->alloc_deferred);
		f->deferred[f->nr_deferred++] = *t;
		return 0;
	}
	oidset_insert(&f->visited, &t->oid);
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

int rclone_fetch(struct rclone_remote *r, struct odb *odb, const struct snap_oid *wants,
		 size_t nr, struct transfer_stats *st, struct pruned *pruned,
		 struct strbuf *err)
{
	struct fetcher f;
	struct strbuf ignored = STRBUF_INIT;
	size_t i, k;
	int ret;

	memset(&f, 0, sizeof(f));
	f.r = r;
	f.odb = odb;
	rclone_reader_init(&f.rd);
	ret = rclone_load_packs(r, err);
	if (ret == 0)
		ret = pruned_load(odb_store(odb), &f.here, err);
	if (ret == 0)
		ret = remote_pruned(r, &f.theirs, err);
	if (ret < 0)
		goto out;
	build_map(&f);
	f.want_pack = xcalloc(r->nr_packs + 1, 1);
	for (i = 0; i < nr; i++)
		push_wanted(&f, &wants[i], 0);
	/* Rounds: what is known from the packs here, then the packs that follow. */
	while (ret == 0) {
		while (ret == 0 && f.nr_stack) {
			struct wanted t = f.stack[--f.nr_stack];

			ret = visit(&f, &t, err);
		}
		if (ret < 0 || !f.nr_deferred)
			break;
		for (k = 0; ret == 0 && k < r->nr_packs; k++)
			if (f.want_pack[k] && (ret = rclone_pack_get(r, k, err)) == 0)
				f.want_pack[k] = 0;
		for (i = 0; i < f.nr_deferred; i++)
			push_wanted(&f, &f.deferred[i].oid, f.deferred[i].parent);
		f.nr_deferred = 0;
	}
	if (ret < 0)
		goto out;
	/* Children first, so that what is kept after a failure is whole below. */
	odb_batch_begin(odb);
	for (i = f.nr_order; ret == 0 && i-- > 0;)
		ret = write_one(&f, &f.order[i], st, err);
	if (ret < 0) {
		odb_batch_end(odb, &ignored);
		goto out;
	}
	ret = odb_batch_end(odb, err);
	if (ret == 0)
		accept_pruned(&f.theirs, f.parents, f.nr_parents, has_here, odb, pruned);
out:
	rclone_reader_release(&f.rd);
	free(f.map);
	free(f.order);
	free(f.stack);
	free(f.deferred);
	free(f.want_pack);
	free(f.parents);
	oidset_clear(&f.visited);
	pruned_release(&f.here);
	pruned_release(&f.theirs);
	strbuf_release(&ignored);
	return ret;
}
