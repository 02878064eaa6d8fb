#include "treewalk.h"
#include "error.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

int tree_read(struct odb *odb, const struct snap_oid *oid, struct tree *t,
	      struct strbuf *err)
{
	struct strbuf buf = STRBUF_INIT;
	enum object_type type;
	int ret = odb_read(odb, oid, &type, &buf, TREE_MAX_SIZE, err);

	if (ret == 0 && type != OBJ_TREE)
		ret = snap_error(err, SNAP_EINVAL, "object '%s' is a %s, not a tree",
				 oid_to_hex(oid), type_name(type));
	if (ret == 0)
		ret = tree_parse(t, buf.buf, buf.len, err);
	strbuf_release(&buf);
	return ret;
}

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
