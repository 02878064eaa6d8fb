#include "mountview.h"
#include "error.h"
#include "pruned.h"
#include "refs.h"
#include "snapshot.h"
#include "treecache.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Room for "YYYY-MM-DDTHH:MM:SS-<n>" of any year snapshot_parse allows. */
#define MV_NAME_MAX 48
#define MV_TREES 256

struct mv_snap {
	char name[MV_NAME_MAX];
	struct snap_oid id, tree;
	int64_t time;
};

struct mv_ref {
	char *full;		/* refs/snapshots/main */
	const char *name;	/* main: into full */
	struct snap_oid tip;	/* the value the list was made from */
	int have_tip;
	int bad;		/* the ref file could not be read at the last look */
	struct mv_snap *snaps;	/* oldest first */
	size_t nr, alloc;
};

struct mountview {
	struct odb *odb;
	struct snap_store *store;
	int fixed;		/* refs named at open: the list never changes */
	struct mv_ref *refs;
	size_t nr, alloc;
	struct tree_cache *trees;
	uint32_t uid, gid;
	int64_t now;
	void (*warn)(const char *msg, void *data);
	void *warn_data;
	struct strbuf target;
};

static void warn(struct mountview *v, const struct strbuf *msg)
{
	if (v->warn)
		v->warn(msg->buf, v->warn_data);
}

/* FNV-1a over the parts, never 0 or 1 (the root's number). */
static uint64_t ino_of(const void *a, size_t alen, const char *b, size_t blen)
{
	uint64_t h = 0xcbf29ce484222325ull;
	size_t i;

	for (i = 0; i < alen; i++)
		h = (h ^ ((const unsigned char *)a)[i]) * 0x100000001b3ull;
	h = (h ^ 0xff) * 0x100000001b3ull;
	for (i = 0; i < blen; i++)
		h = (h ^ (unsigned char)b[i]) * 0x100000001b3ull;
	h ^= h >> 29;
	return h < 2 ? h + 2 : h;
}

static void own_dir(const struct mountview *v, struct mv_node *n, const char *path,
		    size_t len, int64_t mtime)
{
	memset(n, 0, sizeof(*n));
	n->type = TREE_DIR;
	n->perm = 0555;
	n->uid = v->uid;
	n->gid = v->gid;
	n->mtime_sec = mtime;
	n->ino = len ? ino_of("view", 4, path, len) : 1;
}

static const char *short_name(const char *full)
{
	if (!strncmp(full, "refs/snapshots/", 15))
		return full + 15;
	if (!strncmp(full, "refs/tags/", 10))
		return full + 10;
	return full + 5;
}

static void ref_clear(struct mv_ref *r)
{
	free(r->snaps);
	r->snaps = NULL;
	r->nr = r->alloc = 0;
	r->have_tip = 0;
}

static int name_used(const struct mv_ref *r, const char *name)
{
	size_t i;

	for (i = r->nr; i-- > 0;)
		if (!strcmp(r->snaps[i].name, name))
			return 1;
	return 0;
}

/* Appends a snapshot (newer than every one listed) with its name. */
static void ref_append(struct mv_ref *r, const struct mv_snap *s)
{
	char base[32];
	struct mv_snap n = *s;
	time_t t = (time_t)s->time;
	struct tm tm;
	unsigned k;

	if (!gmtime_r(&t, &tm) || !strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm))
		snprintf(base, sizeof(base), "@%lld", (long long)s->time);
	snprintf(n.name, sizeof(n.name), "%s", base);
	for (k = 1; name_used(r, n.name); k++)
		snprintf(n.name, sizeof(n.name), "%s-%u", base, k);
	ALLOC_GROW(r->snaps, r->nr + 1, r->alloc);
	r->snaps[r->nr++] = n;
}

/*
 * Reads the ref again; when it moved, walks its first parents back to the
 * value seen before (or to the root: then the list is made anew).
 */
static void ref_refresh(struct mountview *v, struct mv_ref *r)
{
	struct strbuf err = STRBUF_INIT;
	struct mv_snap *fresh = NULL;
	size_t nr = 0, alloc = 0, i;
	struct pruned pr = PRUNED_INIT;
	struct snap_oid cur;
	int met = 0, ret;

	ret = ref_read(v->store, r->full, &cur, &err);
	if (ret < 0) {
		/* Said once, when the ref turns bad, not at every listing. */
		if (ret != SNAP_ENOTFOUND && !r->bad) {
			strbuf_addstr(&err, " (its directory is empty)");
			warn(v, &err);
		}
		r->bad = ret != SNAP_ENOTFOUND;
		ref_clear(r);
		strbuf_release(&err);
		return;
	}
	r->bad = 0;
	if (r->have_tip && !oid_cmp(&cur, &r->tip)) {
		strbuf_release(&err);
		return;
	}
	r->tip = cur;
	r->have_tip = 1;
	/* Snapshots pruned on purpose are passed over, as snap-log does. */
	strbuf_reset(&err);
	if (pruned_load(v->store, &pr, &err) < 0) {
		warn(v, &err);
		pruned_release(&pr);
	}
	for (;;) {
		struct snapshot s = SNAPSHOT_INIT;
		int has_parent;

		if (r->nr && !oid_cmp(&cur, &r->snaps[r->nr - 1].id)) {
			met = 1;
			break;
		}
		strbuf_reset(&err);
		if (snapshot_read(v->odb, &cur, &s, &err) < 0) {
			strbuf_addf(&err, " (on the history of '%s'; older snapshots not shown)",
				    r->full);
			warn(v, &err);
			snapshot_release(&s);
			break;
		}
		if (!oid_is_null(&s.tree)) {
			ALLOC_GROW(fresh, nr + 1, alloc);
			memset(&fresh[nr], 0, sizeof(fresh[nr]));
			fresh[nr].id = cur;
			fresh[nr].tree = s.tree;
			fresh[nr].time = s.time;
			nr++;
		}
		has_parent = s.nr_parents > 0 && pruned_first_parent(&pr, &s.parents[0], &cur);
		snapshot_release(&s);
		if (!has_parent)
			break;
	}
	if (!met) {
		free(r->snaps);
		r->snaps = NULL;
		r->nr = r->alloc = 0;
	}
	for (i = nr; i-- > 0;)
		ref_append(r, &fresh[i]);
	free(fresh);
	pruned_release(&pr);
	strbuf_release(&err);
}

static struct mv_ref *add_ref(struct mountview *v, const char *full)
{
	struct mv_ref *r;

	ALLOC_GROW(v->refs, v->nr + 1, v->alloc);
	r = &v->refs[v->nr++];
	memset(r, 0, sizeof(*r));
	r->full = xstrdup(full);
	r->name = short_name(r->full);
	return r;
}

struct collect {
	struct mountview *v;
	struct mv_ref *old;
	size_t nr_old;
};

static int hidden(const char *name)
{
	return !strcmp(name, "ids") || !strncmp(name, "ids/", 4);
}

static int collect_ref(const char *name, const struct snap_oid *oid, void *data)
{
	struct collect *c = data;
	size_t i;

	(void)oid;
	if (hidden(short_name(name)))
		return 0;
	for (i = 0; i < c->nr_old; i++) {
		if (c->old[i].full && !strcmp(c->old[i].full, name)) {
			ALLOC_GROW(c->v->refs, c->v->nr + 1, c->v->alloc);
			c->v->refs[c->v->nr++] = c->old[i];
			c->old[i].full = NULL;
			return 0;
		}
	}
	add_ref(c->v, name);
	return 0;
}

/* Reads the list of refs again (when not fixed at open). */
static void refs_refresh(struct mountview *v)
{
	struct strbuf err = STRBUF_INIT;
	struct collect c;
	size_t i;

	if (v->fixed)
		return;
	c.v = v;
	c.old = v->refs;
	c.nr_old = v->nr;
	v->refs = NULL;
	v->nr = v->alloc = 0;
	if (refs_for_each(v->store, "refs/snapshots/", collect_ref, &c, &err) < 0)
		warn(v, &err);
	for (i = 0; i < c.nr_old; i++) {
		if (c.old[i].full) {
			ref_clear(&c.old[i]);
			free(c.old[i].full);
		}
	}
	free(c.old);
	strbuf_release(&err);
}

int mountview_open(struct mountview **out, struct odb *odb, struct snap_store *store,
		   const char *const *refs, size_t nr, uint32_t uid, uint32_t gid,
		   int64_t now, void (*warn_fn)(const char *msg, void *data), void *warn_data,
		   struct strbuf *err)
{
	struct mountview *v = xcalloc(1, sizeof(*v));
	struct strbuf full = STRBUF_INIT;
	size_t i, j;

	v->odb = odb;
	v->store = store;
	v->uid = uid;
	v->gid = gid;
	v->now = now;
	v->warn = warn_fn;
	v->warn_data = warn_data;
	v->trees = tree_cache_new(odb, MV_TREES);
	strbuf_init(&v->target, 0);
	v->fixed = nr > 0;
	for (i = 0; i < nr; i++) {
		struct snap_oid oid;
		int ret = ref_dwim(store, refs[i], &full, &oid, err);
		int dup = 0;

		if (ret < 0) {
			strbuf_release(&full);
			mountview_close(v);
			return ret;
		}
		if (hidden(short_name(full.buf))) {
			ret = snap_error(err, SNAP_EINVAL,
					 "ref '%s' cannot be shown: 'ids' is the directory of ids",
					 full.buf);
			strbuf_release(&full);
			mountview_close(v);
			return ret;
		}
		for (j = 0; j < v->nr; j++)
			dup |= !strcmp(v->refs[j].full, full.buf) ||
			       !strcmp(v->refs[j].name, short_name(full.buf));
		if (!dup)
			add_ref(v, full.buf);
	}
	strbuf_release(&full);
	refs_refresh(v);
	*out = v;
	return 0;
}

void mountview_close(struct mountview *v)
{
	size_t i;

	if (!v)
		return;
	for (i = 0; i < v->nr; i++) {
		ref_clear(&v->refs[i]);
		free(v->refs[i].full);
	}
	free(v->refs);
	tree_cache_free(v->trees);
	strbuf_release(&v->target);
	free(v);
}

/* ---- resolving a path ---- */

/* Where a path leads among the view's own entries. */
struct where {
	enum { AT_ROOT, AT_IDS, AT_PREFIX, AT_REF, AT_LATEST, AT_SNAP } kind;
	struct mv_ref *ref;
	struct mv_snap snap;	/* AT_SNAP */
	const char *rest;	/* AT_SNAP: the path inside the snapshot ("" for its root) */
	size_t own_len;		/* length of the part of the path before rest */
};

static struct mv_ref *find_ref(struct mountview *v, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < v->nr; i++)
		if (strlen(v->refs[i].name) == len && !memcmp(v->refs[i].name, name, len))
			return &v->refs[i];
	return NULL;
}

static int is_prefix(struct mountview *v, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < v->nr; i++)
		if (!strncmp(v->refs[i].name, name, len) && v->refs[i].name[len] == '/')
			return 1;
	return 0;
}

static const struct mv_snap *find_snap(const struct mv_ref *r, const char *name, size_t len)
{
	size_t i;

	for (i = 0; i < r->nr; i++)
		if (strlen(r->snaps[i].name) == len && !memcmp(r->snaps[i].name, name, len))
			return &r->snaps[i];
	return NULL;
}

/* A snapshot shown by id: from a ref's list, else read now. */
static int snap_by_id(struct mountview *v, const struct snap_oid *id, struct mv_snap *out,
		      struct strbuf *err)
{
	struct snapshot s = SNAPSHOT_INIT;
	size_t i, j;
	int ret;

	for (i = 0; i < v->nr; i++)
		for (j = 0; j < v->refs[i].nr; j++)
			if (!oid_cmp(&v->refs[i].snaps[j].id, id)) {
				*out = v->refs[i].snaps[j];
				return 0;
			}
	if (!odb_has(v->odb, id))
		return SNAP_ENOTFOUND;
	ret = snapshot_read(v->odb, id, &s, err);
	if (ret == SNAP_EINVAL || (ret == 0 && oid_is_null(&s.tree)))
		ret = SNAP_ENOTFOUND;	/* not a snapshot of a tree: no such directory */
	if (ret == 0) {
		memset(out, 0, sizeof(*out));
		out->id = *id;
		out->tree = s.tree;
		out->time = s.time;
	}
	snapshot_release(&s);
	return ret;
}

/* The next component of *p (skipping slashes); its length, 0 at the end. */
static size_t next_part(const char **p)
{
	while (**p == '/')
		(*p)++;
	return strcspn(*p, "/");
}

static int resolve(struct mountview *v, const char *path, struct where *w,
		   struct strbuf *err)
{
	const char *p = path, *start;
	size_t len = next_part(&p), end;
	int retried = 0;

	memset(w, 0, sizeof(*w));
	if (!len) {
		w->kind = AT_ROOT;
		return 0;
	}
	if (len == 3 && !memcmp(p, "ids", 3)) {
		struct snap_oid id;
		int ret;

		p += len;
		if (!(len = next_part(&p))) {
			w->kind = AT_IDS;
			return 0;
		}
		if (len != 64 || oid_from_hexn(&id, p, len) < 0)
			return SNAP_ENOTFOUND;
		if ((ret = snap_by_id(v, &id, &w->snap, err)) < 0)
			return ret;
		w->kind = AT_SNAP;
		w->own_len = (size_t)(p + len - path);
		w->rest = p + len;
		return 0;
	}
	/* A ref's name, one or more components. */
	start = p;
again:
	p = start;
	len = next_part(&p);
	for (;;) {
		end = (size_t)(p + len - start);
		if ((w->ref = find_ref(v, start, end)))
			break;
		if (!is_prefix(v, start, end)) {
			if (!retried++ && !v->fixed) {
				refs_refresh(v);
				goto again;
			}
			return SNAP_ENOTFOUND;
		}
		p += len;
		if (!(len = next_part(&p))) {
			w->kind = AT_PREFIX;
			w->own_len = end;
			return 0;
		}
		if (p != start + end + 1)
			return SNAP_ENOTFOUND;	/* "a//b" is not the ref a/b */
	}
	p += len;
	if (!(len = next_part(&p))) {
		w->kind = AT_REF;
		w->own_len = (size_t)(p - path);
		return 0;
	}
	if (len == 6 && !memcmp(p, "latest", 6)) {
		if (p[len])
			return SNAP_ENOTFOUND;	/* latest is a symlink: nothing below */
		ref_refresh(v, w->ref);
		if (!w->ref->nr)
			return SNAP_ENOTFOUND;
		w->kind = AT_LATEST;
		w->own_len = (size_t)(p + len - path);
		return 0;
	}
	{
		const struct mv_snap *s = find_snap(w->ref, p, len);

		if (!s) {
			ref_refresh(v, w->ref);
			s = find_snap(w->ref, p, len);
		}
		if (!s)
			return SNAP_ENOTFOUND;
		w->snap = *s;
	}
	w->kind = AT_SNAP;
	w->own_len = (size_t)(p + len - path);
	w->rest = p + len;
	return 0;
}

static int64_t newest_time(const struct mountview *v, const struct mv_ref *r)
{
	return r->nr ? r->snaps[r->nr - 1].time : v->now;
}

/* The node of a tree entry at path rest inside snapshot s. */
static void entry_node(const struct mv_snap *s, const struct tree_entry *e,
		       const char *rest, size_t rest_len, struct mv_node *n)
{
	memset(n, 0, sizeof(*n));
	n->type = e->type;
	n->perm = e->perm;
	n->uid = e->uid;
	n->gid = e->gid;
	n->mtime_sec = e->mtime_sec;
	n->mtime_nsec = e->mtime_nsec;
	n->size = e->size;
	n->oid = e->oid;
	n->rdev_major = e->rdev_major;
	n->rdev_minor = e->rdev_minor;
	while (rest_len && *rest == '/')
		rest++, rest_len--;
	if (e->link)
		n->ino = ino_of(s->id.hash, sizeof(s->id.hash), e->link, e->link_len);
	else
		n->ino = ino_of(s->id.hash, sizeof(s->id.hash), rest, rest_len);
}

static void snap_root_node(const struct mountview *v, const struct mv_snap *s,
			   const char *path, size_t len, struct mv_node *n)
{
	own_dir(v, n, path, len, s->time);
	n->oid = s->tree;
}

int mountview_lookup(struct mountview *v, const char *path, struct mv_node *out,
		     struct strbuf *err)
{
	const struct tree_entry *e;
	struct where w;
	int ret;

	if ((ret = resolve(v, path, &w, err)) < 0)
		return ret;
	switch (w.kind) {
	case AT_ROOT:
	case AT_IDS:
	case AT_PREFIX:
		own_dir(v, out, path, strlen(path), v->now);
		return 0;
	case AT_REF:
		own_dir(v, out, path, strlen(path), newest_time(v, w.ref));
		return 0;
	case AT_LATEST: {
		const struct mv_snap *s = &w.ref->snaps[w.ref->nr - 1];

		memset(out, 0, sizeof(*out));
		out->type = TREE_SYMLINK;
		out->perm = 0777;
		out->uid = v->uid;
		out->gid = v->gid;
		out->mtime_sec = s->time;
		strbuf_reset(&v->target);
		strbuf_addstr(&v->target, s->name);
		out->target = v->target.buf;
		out->target_len = out->size = v->target.len;
		out->ino = ino_of("view", 4, path, strlen(path));
		return 0;
	}
	case AT_SNAP:
		break;
	}
	ret = tree_cache_lookup(v->trees, &w.snap.tree, w.rest, &e, err);
	if (ret == 1) {
		snap_root_node(v, &w.snap, path, strlen(path), out);
		return 0;
	}
	if (ret < 0)
		return ret;
	entry_node(&w.snap, e, w.rest, strlen(w.rest), out);
	return 0;
}

/* Calls fn for the distinct next components of ref names below prefix. */
static int list_names(struct mountview *v, const char *prefix, size_t plen,
		      mountview_fn fn, void *data, struct strbuf *path)
{
	size_t i, j, base = path->len;
	int ret = 0;

	for (i = 0; i < v->nr && !ret; i++) {
		const char *name = v->refs[i].name, *part;
		size_t len;
		int seen = 0;
		struct mv_node n;

		if (plen && (strncmp(name, prefix, plen) || name[plen] != '/'))
			continue;
		part = name + (plen ? plen + 1 : 0);
		len = strcspn(part, "/");
		for (j = 0; j < i && !seen; j++) {
			const char *o = v->refs[j].name;

			if (plen && (strncmp(o, prefix, plen) || o[plen] != '/'))
				continue;
			o += plen ? plen + 1 : 0;
			seen = !strncmp(o, part, len) && (o[len] == '/' || !o[len]);
		}
		if (seen)
			continue;
		strbuf_setlen(path, base);
		strbuf_addch(path, '/');
		strbuf_add(path, part, len);
		own_dir(v, &n, path->buf, path->len,
			part[len] ? v->now : newest_time(v, &v->refs[i]));
		ret = fn(part, len, &n, data);
	}
	strbuf_setlen(path, base);
	return ret;
}

static int cmp_snap_id(const void *a, const void *b)
{
	return oid_cmp(&((const struct mv_snap *)a)->id, &((const struct mv_snap *)b)->id);
}

static int list_ids(struct mountview *v, mountview_fn fn, void *data, struct strbuf *path)
{
	struct mv_snap *all = NULL;
	size_t nr = 0, alloc = 0, i, j, base = path->len;
	int ret = 0;

	for (i = 0; i < v->nr; i++) {
		ref_refresh(v, &v->refs[i]);
		for (j = 0; j < v->refs[i].nr; j++) {
			ALLOC_GROW(all, nr + 1, alloc);
			all[nr++] = v->refs[i].snaps[j];
		}
	}
	QSORT(all, nr, cmp_snap_id);
	for (i = 0; i < nr && !ret; i++) {
		char hex[65];
		struct mv_node n;

		if (i && !oid_cmp(&all[i].id, &all[i - 1].id))
			continue;
		oid_to_hex_r(hex, &all[i].id);
		strbuf_setlen(path, base);
		strbuf_addf(path, "/%s", hex);
		snap_root_node(v, &all[i], path->buf, path->len, &n);
		ret = fn(hex, 64, &n, data);
	}
	strbuf_setlen(path, base);
	free(all);
	return ret;
}

int mountview_list(struct mountview *v, const char *path, mountview_fn fn, void *data,
		   struct strbuf *err)
{
	struct strbuf sub = STRBUF_INIT;
	const struct tree_entry *e;
	const struct tree *t;
	struct snap_oid dir;
	struct where w;
	size_t i, base;
	int ret;

	if (!strcmp(path, "/") || !*path)
		refs_refresh(v);
	if ((ret = resolve(v, path, &w, err)) < 0)
		return ret;
	strbuf_addstr(&sub, path);
	while (sub.len && sub.buf[sub.len - 1] == '/')
		strbuf_setlen(&sub, sub.len - 1);
	switch (w.kind) {
	case AT_ROOT: {
		struct mv_node n;

		own_dir(v, &n, "/ids", 4, v->now);
		ret = fn("ids", 3, &n, data);
		if (!ret)
			ret = list_names(v, NULL, 0, fn, data, &sub);
		goto out;
	}
	case AT_IDS:
		ret = list_ids(v, fn, data, &sub);
		goto out;
	case AT_PREFIX: {
		const char *p = path;

		while (*p == '/')
			p++;
		ret = list_names(v, p, w.own_len, fn, data, &sub);
		goto out;
	}
	case AT_REF:
		ref_refresh(v, w.ref);
		for (i = 0; i < w.ref->nr && !ret; i++) {
			struct mv_node n;

			base = sub.len;
			strbuf_addf(&sub, "/%s", w.ref->snaps[i].name);
			snap_root_node(v, &w.ref->snaps[i], sub.buf, sub.len, &n);
			strbuf_setlen(&sub, base);
			ret = fn(w.ref->snaps[i].name, strlen(w.ref->snaps[i].name), &n, data);
		}
		if (!ret && w.ref->nr) {
			struct mv_node n;

			strbuf_addstr(&sub, "/latest");
			ret = mountview_lookup(v, sub.buf, &n, err);
			if (!ret)
				ret = fn("latest", 6, &n, data);
		}
		goto out;
	case AT_LATEST:
		ret = snap_error(err, SNAP_EINVAL, "'%s' is not a directory", path);
		goto out;
	case AT_SNAP:
		break;
	}
	ret = tree_cache_lookup(v->trees, &w.snap.tree, w.rest, &e, err);
	if (ret < 0)
		goto out;
	if (ret == 0 && e->type != TREE_DIR) {
		ret = snap_error(err, SNAP_EINVAL, "'%s' is not a directory", path);
		goto out;
	}
	dir = ret == 1 ? w.snap.tree : e->oid;
	if ((ret = tree_cache_get(v->trees, &dir, &t, err)) < 0)
		goto out;
	/* The path inside the snapshot, for the entries' numbers. */
	strbuf_reset(&sub);
	strbuf_addstr(&sub, w.rest);
	while (sub.len && sub.buf[sub.len - 1] == '/')
		strbuf_setlen(&sub, sub.len - 1);
	base = sub.len;
	for (i = 0; i < t->nr && !ret; i++) {
		struct mv_node n;

		strbuf_setlen(&sub, base);
		if (base)
			strbuf_addch(&sub, '/');
		strbuf_add(&sub, t->entries[i].name, t->entries[i].name_len);
		entry_node(&w.snap, &t->entries[i], sub.buf, sub.len, &n);
		ret = fn(t->entries[i].name, t->entries[i].name_len, &n, data);
	}
out:
	strbuf_release(&sub);
	return ret;
}
