#include "diff.h"
#include "error.h"
#include "tree.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

struct differ {
	struct odb *odb;
	const struct diff_opts *o;
	struct strbuf path;
	long changes;
};

static void emit(struct differ *d, char status, const struct tree_entry *a,
		 const struct tree_entry *b)
{
	d->changes++;
	if (d->o->change)
		d->o->change(status, d->path.buf, d->path.len, a, b, d->o->data);
}

/* Whether the extended attribute sets (and ACLs) or the inode flags differ. */
static int xattrs_differ(const struct tree_entry *a, const struct tree_entry *b)
{
	return a->flags != b->flags || a->has_xattrs != b->has_xattrs ||
	       (a->has_xattrs && oid_cmp(&a->xattrs, &b->xattrs));
}

/* Owner, and unless a directory mtime, differ (diff_opts.metadata). */
static int meta_differs(const struct tree_entry *a, const struct tree_entry *b)
{
	if (a->uid != b->uid || a->gid != b->gid)
		return 1;
	return a->type != TREE_DIR &&
	       (a->mtime_sec != b->mtime_sec || a->mtime_nsec != b->mtime_nsec);
}

/*
 * A pair of trees being compared (either may be absent: a directory
 * added or deleted).  The walk keeps a stack of these, not C frames, so
 * a deep tree costs heap, not stack.
 */
struct pair {
	struct tree ta, tb;
	size_t i, j, base;
};

static int push_pair(struct differ *d, struct pair **stack, size_t *nr, size_t *alloc,
		     const struct snap_oid *a, const struct snap_oid *b, struct strbuf *err)
{
	struct pair *p;
	int ret = 0;

	ALLOC_GROW(*stack, *nr + 1, *alloc);
	p = &(*stack)[(*nr)++];
	memset(p, 0, sizeof(*p));
	p->base = d->path.len;
	if (a)
		ret = tree_read(d->odb, a, &p->ta, err);
	if (ret == 0 && b)
		ret = tree_read(d->odb, b, &p->tb, err);
	return ret;
}

static int walk(struct differ *d, const struct snap_oid *a, const struct snap_oid *b,
		struct strbuf *err)
{
	struct pair *stack = NULL;
	size_t nr = 0, alloc = 0;
	int ret;

	ret = push_pair(d, &stack, &nr, &alloc, a, b, err);
	while (ret == 0 && nr) {
		struct pair *p = &stack[nr - 1];
		const struct tree_entry *ea = p->i < p->ta.nr ? &p->ta.entries[p->i] : NULL;
		const struct tree_entry *eb = p->j < p->tb.nr ? &p->tb.entries[p->j] : NULL;
		const struct tree_entry *one;
		int c;

		if (!ea && !eb) {
			strbuf_setlen(&d->path, p->base);
			tree_release(&p->ta);
			tree_release(&p->tb);
			nr--;
			continue;
		}
		if (!ea)
			c = 1;
		else if (!eb)
			c = -1;
		else {
			size_t n = ea->name_len < eb->name_len ? ea->name_len : eb->name_len;
			c = memcmp(ea->name, eb->name, n);
			if (!c)
				c = ea->name_len < eb->name_len ? -1 : ea->name_len > eb->name_len;
		}
		strbuf_setlen(&d->path, p->base);
		if (p->base)
			strbuf_addch(&d->path, '/');
		if (c) {
			/* One side only: every file under a directory added or deleted. */
			one = c < 0 ? ea : eb;
			if (c < 0)
				p->i++;
			else
				p->j++;
			strbuf_add(&d->path, one->name, one->name_len);
			if (one->type == TREE_DIR && d->o->recursive)
				ret = push_pair(d, &stack, &nr, &alloc, c < 0 ? &one->oid : NULL,
						c < 0 ? NULL : &one->oid, err);
			else
				emit(d, c < 0 ? 'D' : 'A', c < 0 ? one : NULL, c < 0 ? NULL : one);
			continue;
		}
		p->i++;
		p->j++;
		strbuf_add(&d->path, ea->name, ea->name_len);
		if (ea->type != eb->type) {
			struct tree_entry da = *ea, db = *eb;

			emit(d, 'T', &da, &db);
			/* What a directory on one side held is added or deleted. */
			if (d->o->recursive && (da.type == TREE_DIR || db.type == TREE_DIR))
				ret = push_pair(d, &stack, &nr, &alloc,
						da.type == TREE_DIR ? &da.oid : NULL,
						db.type == TREE_DIR ? &db.oid : NULL, err);
		} else if (ea->type == TREE_DIR && d->o->recursive) {
			struct tree_entry da = *ea, db = *eb;

			if (d->o->metadata && (da.perm != db.perm || meta_differs(&da, &db) ||
					       xattrs_differ(&da, &db)))
				emit(d, 'M', &da, &db);
			/* (the copies: a push may move the entries' tree) */
			if (oid_cmp(&da.oid, &db.oid))
				ret = push_pair(d, &stack, &nr, &alloc, &da.oid, &db.oid, err);
		} else if (oid_cmp(&ea->oid, &eb->oid) || ea->perm != eb->perm ||
			   xattrs_differ(ea, eb) ||
			   ea->rdev_major != eb->rdev_major || ea->rdev_minor != eb->rdev_minor ||
			   (d->o->metadata && meta_differs(ea, eb))) {
			emit(d, 'M', ea, eb);
		}
	}
	while (nr) {
		nr--;
		tree_release(&stack[nr].ta);
		tree_release(&stack[nr].tb);
	}
	free(stack);
	return ret;
}

long diff_trees(struct odb *odb, const struct snap_oid *a, const struct snap_oid *b,
		const struct diff_opts *opts, struct strbuf *err)
{
	struct differ d;
	int ret;

	memset(&d, 0, sizeof(d));
	d.odb = odb;
	d.o = opts;
	strbuf_init(&d.path, 0);
	ret = walk(&d, a, b, err);
	strbuf_release(&d.path);
	return ret < 0 ? ret : d.changes;
}
