#include "diff.h"
#include "error.h"
#include "tree.h"
#include "util.h"

#include <string.h>

struct differ {
	struct odb *odb;
	const struct diff_opts *o;
	struct strbuf path;
	long changes;
};

static int load(struct differ *d, const struct snap_oid *oid, struct tree *t,
		struct strbuf *err)
{
	struct strbuf buf = STRBUF_INIT;
	enum object_type type;
	int ret = odb_read(d->odb, oid, &type, &buf, TREE_MAX_SIZE, err);

	if (ret == 0 && type != OBJ_TREE)
		ret = snap_error(err, SNAP_EINVAL, "object '%s' is a %s, not a tree",
				 oid_to_hex(oid), type_name(type));
	if (ret == 0)
		ret = tree_parse(t, buf.buf, buf.len, err);
	strbuf_release(&buf);
	return ret;
}

static void emit(struct differ *d, char status)
{
	d->changes++;
	if (d->o->change)
		d->o->change(status, d->path.buf, d->path.len, d->o->data);
}

static int walk(struct differ *d, const struct snap_oid *a, const struct snap_oid *b,
		struct strbuf *err);

/* Reports a whole side: every file under a directory added or deleted. */
static int one_side(struct differ *d, const struct tree_entry *e, char status,
		    struct strbuf *err)
{
	if (e->type == TREE_DIR && d->o->recursive)
		return status == 'A' ? walk(d, NULL, &e->oid, err) : walk(d, &e->oid, NULL, err);
	emit(d, status);
	return 0;
}

static int walk(struct differ *d, const struct snap_oid *a, const struct snap_oid *b,
		struct strbuf *err)
{
	struct tree ta = TREE_INIT, tb = TREE_INIT;
	size_t i = 0, j = 0, base = d->path.len;
	int ret = 0;

	if (a && (ret = load(d, a, &ta, err)) < 0)
		return ret;
	if (b && (ret = load(d, b, &tb, err)) < 0) {
		tree_release(&ta);
		return ret;
	}
	while (ret == 0 && (i < ta.nr || j < tb.nr)) {
		const struct tree_entry *ea = i < ta.nr ? &ta.entries[i] : NULL;
		const struct tree_entry *eb = j < tb.nr ? &tb.entries[j] : NULL;
		int c;

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
		strbuf_setlen(&d->path, base);
		if (base)
			strbuf_addch(&d->path, '/');
		if (c < 0) {
			strbuf_add(&d->path, ea->name, ea->name_len);
			ret = one_side(d, ea, 'D', err);
			i++;
		} else if (c > 0) {
			strbuf_add(&d->path, eb->name, eb->name_len);
			ret = one_side(d, eb, 'A', err);
			j++;
		} else {
			strbuf_add(&d->path, ea->name, ea->name_len);
			if (ea->type != eb->type)
				emit(d, 'T');
			else if (ea->type == TREE_DIR && d->o->recursive) {
				if (oid_cmp(&ea->oid, &eb->oid))
					ret = walk(d, &ea->oid, &eb->oid, err);
			} else if (oid_cmp(&ea->oid, &eb->oid) || ea->perm != eb->perm ||
				   ea->rdev_major != eb->rdev_major || ea->rdev_minor != eb->rdev_minor)
				emit(d, 'M');
			i++;
			j++;
		}
	}
	strbuf_setlen(&d->path, base);
	tree_release(&ta);
	tree_release(&tb);
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
