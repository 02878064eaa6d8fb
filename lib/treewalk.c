#include "treewalk.h"
#include "error.h"
#include "oidset.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/*
 * One open directory: its entries, the next to show, its path's length,
 * and its own entry (in its parent's frame; NULL for the root).
 */
struct frame {
	struct tree t;
	size_t next, path_len;
	const struct tree_entry *self;
};

int treewalk(struct odb *odb, const struct snap_oid *oid, const char *prefix,
	     int recurse, treewalk_fn fn, treewalk_leave_fn leave, void *data,
	     struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT;
	struct frame *stack = NULL;
	size_t nr = 0, alloc = 0;
	int ret;

	if (prefix && *prefix)
		strbuf_addstr(&path, prefix);
	ALLOC_GROW(stack, 1, alloc);
	memset(&stack[0], 0, sizeof(stack[0]));
	nr = 1;
	ret = tree_read(odb, oid, &stack[0].t, err);
	if (ret < 0)
		goto out;
	stack[0].path_len = path.len;
	while (nr) {
		struct frame *f = &stack[nr - 1];
		const struct tree_entry *e;

		if (f->next == f->t.nr) {
			if (leave && f->self) {
				strbuf_setlen(&path, f->path_len);
				leave(f->self, path.buf, path.len, nr - 1, data);
			}
			tree_release(&f->t);
			nr--;
			continue;
		}
		e = &f->t.entries[f->next++];
		strbuf_setlen(&path, f->path_len);
		if (path.len)
			strbuf_addch(&path, '/');
		strbuf_add(&path, e->name, e->name_len);
		ret = fn(e, path.buf, path.len, nr, data);
		if (ret < 0)
			goto out;
		if (ret == TREEWALK_SKIP || !recurse || e->type != TREE_DIR)
			continue;
		ALLOC_GROW(stack, nr + 1, alloc);
		/* e pointed into the stack, which may have moved. */
		e = &stack[nr - 1].t.entries[stack[nr - 1].next - 1];
		f = &stack[nr++];
		memset(f, 0, sizeof(*f));
		f->path_len = path.len;
		f->self = e;
		ret = tree_read(odb, &e->oid, &f->t, err);
		if (ret < 0) {
			strbuf_addf(err, " (at '%s')", path.buf);
			goto out;
		}
	}
	ret = 0;
out:
	while (nr)
		tree_release(&stack[--nr].t);
	free(stack);
	strbuf_release(&path);
	return ret;
}

int tree_lookup(struct odb *odb, const struct snap_oid *root, const char *path,
		struct tree *holder, struct tree_entry *out, struct strbuf *err)
{
	struct snap_oid cur = *root;
	const char *p = path;
	int found = 0, ret;

	while (*p) {
		const char *slash = strchrnul(p, '/');
		size_t len = (size_t)(slash - p), i;

		if (found && out->type != TREE_DIR)
			return snap_error(err, SNAP_ENOTFOUND, "'%.*s' is not a directory",
					  (int)(p - path - 1), path);
		if (!len) {
			p = *slash ? slash + 1 : slash;
			continue;
		}
		tree_release(holder);
		if ((ret = tree_read(odb, &cur, holder, err)) < 0)
			return ret;
		found = 0;
		for (i = 0; i < holder->nr; i++) {
			const struct tree_entry *e = &holder->entries[i];

			if (e->name_len == len && !memcmp(e->name, p, len)) {
				*out = *e;
				cur = e->oid;
				found = 1;
				break;
			}
		}
		if (!found)
			return snap_error(err, SNAP_ENOTFOUND, "path '%.*s' not found",
					  (int)(slash - path), path);
		p = *slash ? slash + 1 : slash;
	}
	if (found && out->type != TREE_DIR && p[-1] == '/') {
		size_t n = (size_t)(p - path);

		while (n && path[n - 1] == '/')
			n--;
		return snap_error(err, SNAP_ENOTFOUND, "'%.*s' is not a directory",
				  (int)n, path);
	}
	return found ? 0 : 1;
}

struct link_entry {
	char *path, *target;
	struct snap_oid oid;
};

struct link_walk {
	struct link_entry *links;
	size_t nr, alloc;
	struct oidset *clean;
	size_t *at, nr_at;
};

static int collect_link(const struct tree_entry *e, const char *path, size_t len,
			size_t depth, void *data)
{
	struct link_walk *w = data;

	(void)len;
	if (e->link) {
		ALLOC_GROW(w->links, w->nr + 1, w->alloc);
		w->links[w->nr].path = xstrdup(path);
		w->links[w->nr].target = xstrndup(e->link, e->link_len);
		w->links[w->nr].oid = e->oid;
		w->nr++;
	}
	if (e->type != TREE_DIR)
		return TREEWALK_CONTINUE;
	if (w->clean && oidset_contains(w->clean, &e->oid))
		return TREEWALK_SKIP;
	if (depth + 1 > w->nr_at) {
		w->at = xrealloc(w->at, (depth + 1) * sizeof(*w->at));
		w->nr_at = depth + 1;
	}
	w->at[depth] = w->nr;
	return TREEWALK_CONTINUE;
}

static void leave_dir(const struct tree_entry *dir, const char *path, size_t len,
		      size_t depth, void *data)
{
	struct link_walk *w = data;

	(void)path;
	(void)len;
	if (w->clean && w->at[depth] == w->nr)
		oidset_insert(w->clean, &dir->oid);
}

long tree_check_links(struct odb *odb, const struct snap_oid *root, struct oidset *clean,
		      void (*bad)(const char *problem, void *data), void *data,
		      struct strbuf *err)
{
	struct link_walk w = { .clean = clean };
	struct strbuf msg = STRBUF_INIT, lerr = STRBUF_INIT;
	long problems = 0;
	size_t i;
	int ret;

	if (clean && oidset_contains(clean, root))
		return 0;
	ret = treewalk(odb, root, NULL, 1, collect_link, leave_dir, &w, err);
	if (ret == 0 && clean && !w.nr)
		oidset_insert(clean, root);
	for (i = 0; ret == 0 && i < w.nr; i++) {
		const struct link_entry *l = &w.links[i];
		struct tree holder = TREE_INIT;
		struct tree_entry t;
		char a[SNAP_OID_HEXSZ + 1], b[SNAP_OID_HEXSZ + 1];
		int r;

		strbuf_reset(&lerr);
		strbuf_reset(&msg);
		r = tree_lookup(odb, root, l->target, &holder, &t, &lerr);
		if (r == SNAP_ENOTFOUND || r == 1)
			strbuf_addf(&msg, "hard link '%s' names '%s', which is not in the tree",
				    l->path, l->target);
		else if (r < 0)
			ret = snap_error(err, r, "%s", lerr.buf);
		else if (t.type != TREE_FILE || t.link)
			strbuf_addf(&msg, "hard link '%s' names '%s', which is not the first file of a link group",
				    l->path, l->target);
		else if (oid_cmp(&t.oid, &l->oid))
			strbuf_addf(&msg, "hard link '%s' holds blob '%s', its target '%s' blob '%s'",
				    l->path, oid_to_hex_r(a, &l->oid), l->target,
				    oid_to_hex_r(b, &t.oid));
		if (msg.len) {
			problems++;
			bad(msg.buf, data);
		}
		tree_release(&holder);
	}
	for (i = 0; i < w.nr; i++) {
		free(w.links[i].path);
		free(w.links[i].target);
	}
	free(w.links);
	free(w.at);
	strbuf_release(&msg);
	strbuf_release(&lerr);
	return ret < 0 ? ret : problems;
}
