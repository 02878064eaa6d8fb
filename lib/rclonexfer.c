/*
 * Pushing to an rclone remote (lib/rclone.h; the layout is docs/FORMAT.md,
 * "Object storage layout"), and the pruned record both ways.
 */
#include "rclone.h"
#include "rclonepack.h"

#include "chunk.h"
#include "error.h"
#include "hash.h"
#include "odb.h"
#include "oidset.h"
#include "progress.h"
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
void rclone_accept_pruned(const struct pruned *from, const struct snap_oid *parents, size_t nr,
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
int rclone_remote_pruned(struct rclone_remote *r, struct pruned *p, struct strbuf *err)
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

/*
 * Uploads local as packs/file, then confirms it is listed there with its
 * size.  An index or a lists file (what makes a
 * pack known) goes through tmp/ and is moved into place whole, since a
 * backend may leave a cut file where an upload fails; a cut .pack is
 * never known (its index says its size) and is gc --remote's.
 */
static int upload(struct rclone_remote *r, const char *local, const char *file, struct strbuf *err)
{
	struct strbuf rel = STRBUF_INIT, path = STRBUF_INIT, part = STRBUF_INIT;
	struct strbuf ignored = STRBUF_INIT;
	const char *args[4] = { "copyto", local, NULL, NULL };
	struct size_seen seen = { file, -1 };
	char hex[SNAP_OID_HEXSZ + 1];
	struct stat st;
	int ret = 0, whole = rclone_pack_file(file, hex) != RCLONE_FILE_PACK;

	if (stat(local, &st) < 0)
		return snap_error_errno(err, "cannot stat '%s'", local);
	strbuf_addf(&rel, "packs/%s", file);
	if (whole)
		rclone_tmp_name(&part);
	rclone_path(r, &path, whole ? part.buf : rel.buf);
	args[2] = path.buf;
	ret = rclone_run(args, -1, NULL, 0, err);
	if (ret == 0 && whole)
		ret = rclone_move(r, part.buf, rel.buf, err);
	if (ret < 0 && whole)
		(void)rclone_delete(r, part.buf, &ignored);
	strbuf_release(&part);
	strbuf_release(&ignored);
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
	struct progress *meter = progress_start("packs uploaded", pk->nr_done);
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
		progress_update(meter, i + 1, 0);
	}
	progress_done(meter);
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

	rclone_accept_pruned(ours, pk->parents, pk->nr_parents, remote_has, &h, &take);
	if (!take.nr)
		goto out;
	ret = rclone_remote_pruned(pk->r, &theirs, err);
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
	struct progress *meter;
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
	meter = progress_start("objects", c.nr);
	for (i = c.nr; ret == 0 && i-- > 0;) {
		ret = pack_item(&pk, &c.v[i], err);
		progress_update(meter, c.nr - i, st->bytes);
	}
	progress_done(meter);
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
