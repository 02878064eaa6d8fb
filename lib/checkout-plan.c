/*
 * Pass 1 of a restore (checkout-internal.h): what will be written is read,
 * verified and checked before anything is.
 */
#include "checkout-internal.h"
#include "error.h"
#include "exclude.h"
#include "util.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

static enum selected selected(struct checkout *c, const char *path, size_t len)
{
	size_t i;
	enum selected best = SEL_NONE;

	if (!c->opts || !c->opts->nr_paths)
		return SEL_ALL;
	for (i = 0; i < c->opts->nr_paths; i++) {
		const char *p = c->opts->paths[i];
		size_t pl = strlen(p);

		if (len >= pl && !memcmp(path, p, pl) && (len == pl || path[pl] == '/')) {
			c->path_found[i] = 1;
			return SEL_ALL;
		}
		if (pl > len && !memcmp(path, p, len) && p[len] == '/')
			best = SEL_ANCESTOR;
	}
	return best;
}

static void set_path(struct checkout *c, size_t base, const struct tree_entry *e)
{
	strbuf_setlen(&c->path, base);
	if (base)
		strbuf_addch(&c->path, '/');
	strbuf_add(&c->path, e->name, e->name_len);
}

/* Whether one of the nr patterns x matches the entry at c->path. */
static int matches(struct checkout *c, const struct exclude *x, size_t nr,
		   const struct tree_entry *e)
{
	size_t i;

	for (i = 0; x && i < nr; i++) {
		if (x[i].dir_only && e->type != TREE_DIR)
			continue;
		if (exclude_match(&x[i], x[i].kind == EXCLUDE_NAME ? e->name : c->path.buf))
			return 1;
	}
	return 0;
}

/*
 * Whether some path of the nr sorted elements of size bytes at v (each a
 * char * at offset off) lies below path, len bytes long.
 */
static int any_below(const void *v, size_t nr, size_t size, size_t off,
		     const char *path, size_t len)
{
	const char *base = v;
	size_t lo = 0, hi = nr;

#define AT(i) (*(char *const *)(const void *)(base + (i) * size + off))
	/* The first element not below path + "/" in byte order. */
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strncmp(AT(mid), path, len);

		if (cmp < 0 || (cmp == 0 && (unsigned char)AT(mid)[len] < '/'))
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < nr && !strncmp(AT(lo), path, len) && AT(lo)[len] == '/';
#undef AT
}

int checkout_skip_entry(struct checkout *c, const struct frame *f, const struct tree_entry *e)
{
	enum selected sel;

	set_path(c, f->base, e);
	if (matches(c, c->excl, c->opts->nr_excludes, e))
		return 1;
	sel = selected(c, c->path.buf, c->path.len);
	if (sel == SEL_NONE || (sel == SEL_ANCESTOR && e->type != TREE_DIR))
		return 1;
	c->entry_included = f->included || matches(c, c->incl, c->opts->nr_includes, e);
	if (c->entry_included) {
		if (!f->included && !c->matched_ready) {
			ALLOC_GROW(c->matched, c->nr_matched + 1, c->alloc_matched);
			c->matched[c->nr_matched++] = xstrdup(c->path.buf);
		}
		return 0;
	}
	if (e->type != TREE_DIR)
		return 1;
	return c->matched_ready &&
	       !any_below(c->matched, c->nr_matched, sizeof(*c->matched), 0, c->path.buf,
			  c->path.len);
}

int checkout_push_tree(struct checkout *c, struct frame_stack *s, const struct snap_oid *oid,
		       size_t base, struct strbuf *err)
{
	struct frame *f;
	int ret;

	ALLOC_GROW(s->v, s->nr + 1, s->alloc);
	f = &s->v[s->nr];
	memset(f, 0, sizeof(*f));
	f->base = base;
	f->included = s->nr ? c->entry_included : !c->incl;
	ret = tree_read(c->odb, oid, &f->t, err);
	if (ret == 0)
		s->nr++;
	return ret;
}

void checkout_stack_release(struct frame_stack *s)
{
	while (s->nr)
		tree_release(&s->v[--s->nr].t);
	free(s->v);
	s->v = NULL;
	s->alloc = 0;
}

static int cmp_target(const void *a, const void *b)
{
	return strcmp(((const struct link_target *)a)->path,
		      ((const struct link_target *)b)->path);
}

static void add_target(struct checkout *c, const char *path, size_t len)
{
	ALLOC_GROW(c->targets, c->nr_targets + 1, c->alloc_targets);
	memset(&c->targets[c->nr_targets], 0, sizeof(*c->targets));
	c->targets[c->nr_targets++].path = xstrndup(path, len);
}

/* Sorts the link targets and drops repeats, for checkout_find_target(). */
static void sort_targets(struct checkout *c)
{
	size_t i, n = 0;

	QSORT(c->targets, c->nr_targets, cmp_target);
	for (i = 0; i < c->nr_targets; i++) {
		if (n && !strcmp(c->targets[n - 1].path, c->targets[i].path))
			free(c->targets[i].path);
		else
			c->targets[n++] = c->targets[i];
	}
	c->nr_targets = n;
}

struct link_target *checkout_find_target(struct checkout *c, const char *path)
{
	struct link_target key;

	if (!c->nr_targets)
		return NULL;
	key.path = (char *)path;
	return bsearch(&key, c->targets, c->nr_targets, sizeof(*c->targets), cmp_target);
}

/* 1 if some link target lies below the directory at path. */
static int holds_target(struct checkout *c, const char *path, size_t len)
{
	return any_below(c->targets, c->nr_targets, sizeof(*c->targets),
			 offsetof(struct link_target, path), path, len);
}

static int cmp_path(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/*
 * Pass 1b: every hard link must hold the blob of the file it names (the
 * format records the group's first member, docs/FORMAT.md "Hard links"):
 * a link naming a file with other bytes would restore those bytes under
 * its name.  A tree object alone cannot tell (link paths start at the
 * root), so the files at the named paths are looked up from the root,
 * reading only the trees on the way to them.
 */
static int check_links(struct checkout *c, const struct snap_oid *root, struct strbuf *err)
{
	struct frame_stack s = { 0 };
	struct strbuf path = STRBUF_INIT;
	size_t i;
	int ret;

	ret = checkout_push_tree(c, &s, root, 0, err);
	while (s.nr && ret == 0) {
		struct frame *f = &s.v[s.nr - 1];
		const struct tree_entry *e;
		struct link_target *t;

		if (f->next == f->t.nr) {
			tree_release(&f->t);
			s.nr--;
			continue;
		}
		e = &f->t.entries[f->next++];
		strbuf_setlen(&path, f->base);
		if (f->base)
			strbuf_addch(&path, '/');
		strbuf_add(&path, e->name, e->name_len);
		if (e->type == TREE_FILE && (t = checkout_find_target(c, path.buf))) {
			t->in_tree = 1;
			t->oid = e->oid;
		} else if (e->type == TREE_DIR && holds_target(c, path.buf, path.len) &&
			   odb_has(c->odb, &e->oid)) {
			ret = checkout_push_tree(c, &s, &e->oid, path.len, err);
		}
	}
	checkout_stack_release(&s);
	strbuf_release(&path);
	for (i = 0; ret == 0 && i < c->nr_checks; i++) {
		const struct link_check *l = &c->checks[i];
		const struct link_target *t = checkout_find_target(c, l->target_path);
		char a[SNAP_OID_HEXSZ + 1], b[SNAP_OID_HEXSZ + 1];

		if (t && t->in_tree && oid_cmp(&t->oid, &l->oid))
			ret = snap_error(err, SNAP_EINVAL,
					 "malformed tree: hard link '%s' holds blob '%s', its target '%s' blob '%s'",
					 l->path, oid_to_hex_r(a, &l->oid), l->target_path,
					 oid_to_hex_r(b, &t->oid));
	}
	return ret;
}

/*
 * Pass 1: parse every tree to be restored and list missing objects, and
 * note every path a hard link names (only files there need remembering).
 * Depth first over an explicit stack, so depth costs no C stack.
 */
int checkout_check_all(struct checkout *c, const struct snap_oid *root, struct strbuf *err)
{
	struct frame_stack s = { 0 };
	size_t nr_missing = 0, i;
	struct strbuf missing = STRBUF_INIT;
	int ret;

	strbuf_reset(&c->path);
	ret = checkout_push_tree(c, &s, root, 0, err);
	while (s.nr && ret == 0) {
		struct frame *f = &s.v[s.nr - 1];
		const struct tree_entry *e;

		if (f->next == f->t.nr) {
			tree_release(&f->t);
			s.nr--;
			continue;
		}
		e = &f->t.entries[f->next++];
		if (checkout_skip_entry(c, f, e))
			continue;
		if (e->link) {
			struct link_check *l;

			add_target(c, e->link, e->link_len);
			ALLOC_GROW(c->checks, c->nr_checks + 1, c->alloc_checks);
			l = &c->checks[c->nr_checks++];
			l->path = xstrdup(c->path.buf);
			l->target_path = xstrndup(e->link, e->link_len);
			l->oid = e->oid;
		}
		if (e->type == TREE_DIR && odb_has(c->odb, &e->oid)) {
			ret = checkout_push_tree(c, &s, &e->oid, c->path.len, err);
			continue;
		}
		if (e->has_xattrs && wants_xattrs(c) && !odb_has(c->odb, &e->xattrs) &&
		    nr_missing++ < 100)
			strbuf_addf(&missing, "%s%s", nr_missing > 1 ? ", " : "",
				    oid_to_hex(&e->xattrs));
		if (e->type != TREE_DIR && e->type != TREE_FILE &&
		    e->type != TREE_SYMLINK)
			continue;
		if (e->type != TREE_DIR && odb_has(c->odb, &e->oid))
			continue;
		if (nr_missing++ < 100)
			strbuf_addf(&missing, "%s%s", nr_missing > 1 ? ", " : "",
				    oid_to_hex(&e->oid));
	}
	checkout_stack_release(&s);
	sort_targets(c);
	QSORT(c->matched, c->nr_matched, cmp_path);
	c->matched_ready = 1;
	if (ret == 0 && !nr_missing && c->nr_checks)
		ret = check_links(c, root, err);
	if (ret == 0 && nr_missing)
		ret = snap_error(err, SNAP_ENOTFOUND,
				 "cannot restore: %zu missing object%s: %s%s", nr_missing,
				 nr_missing > 1 ? "s" : "", missing.buf,
				 nr_missing > 100 ? ", ..." : "");
	for (i = 0; ret == 0 && c->opts && i < c->opts->nr_paths; i++)
		if (!c->path_found[i])
			ret = snap_error(err, SNAP_ENOTFOUND, "path '%s' is not in the tree",
					 c->opts->paths[i]);
	/* A pattern that is mistyped restores nothing: said, before any write. */
	if (ret == 0 && c->incl && !c->nr_matched)
		ret = snap_error(err, SNAP_ENOTFOUND, "no entry of the tree %smatches --include %s%s",
				 c->opts->nr_excludes ? "that --exclude leaves in " : "",
				 c->opts->includes[0], c->opts->nr_includes > 1 ? " (nor the others)" : "");
	strbuf_release(&missing);
	return ret;
}
