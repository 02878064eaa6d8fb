#include "count.h"
#include "error.h"
#include "oidset.h"
#include "pack.h"
#include "snapshot.h"
#include "tree.h"
#include "util.h"
#include "walk.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Total file bytes below a tree, computed once per tree. */
struct tree_total {
	struct snap_oid oid;
	uint64_t bytes;
};

static int tree_bytes(struct odb *odb, struct oidmap *m, const struct snap_oid *oid,
		      uint64_t *out, struct strbuf *err)
{
	const struct tree_total *known = oidmap_get(m, oid);
	struct tree t = TREE_INIT;
	uint64_t sum = 0;
	size_t i;
	int ret;

	if (known) {
		*out = known->bytes;
		return 0;
	}
	ret = tree_read(odb, oid, &t, err);
	for (i = 0; ret == 0 && i < t.nr; i++) {
		uint64_t sub;
		if (t.entries[i].type == TREE_DIR) {
			ret = tree_bytes(odb, m, &t.entries[i].oid, &sub, err);
			sum += sub;
		} else if (t.entries[i].type == TREE_FILE) {
			sum += t.entries[i].size;
		}
	}
	tree_release(&t);
	if (ret == 0) {
		struct tree_total *tt = oidmap_put(m, oid, NULL);

		tt->bytes = sum;
		*out = sum;
	}
	return ret;
}

struct counter {
	struct odb *odb;
	struct count_stats *st;
	struct oidset *reachable;
	struct oidmap memo;	/* of struct tree_total */
	struct strbuf err;
	int failed;
	int code;	/* of the walk's first problem */
};

/* The walk's first problem is the one said; counting then stops. */
static void walk_problem(const struct walk_problem *p, void *data)
{
	struct counter *c = data;

	if (c->code || c->failed)
		return;
	c->code = p->code == SNAP_EIO ? SNAP_EIO : SNAP_ECORRUPT;
	walk_problem_describe(p, &c->err);
}

static int count_one(const struct snap_oid *oid, void *data)
{
	struct counter *c = data;
	enum object_type type;
	uint64_t size;
	int chunked;

	if (odb_read_info(c->odb, oid, &type, &size, &chunked, &c->err) < 0) {
		c->failed = 1;
		return 1;
	}
	if (chunked) {
		c->st->chunked.count++;
		c->st->chunked.bytes += size;
		if (!oidset_contains(c->reachable, oid))
			c->st->unreachable_count++;
		return 0;
	}
	c->st->types[type].count++;
	c->st->types[type].bytes += size;
	if (!oidset_contains(c->reachable, oid)) {
		c->st->unreachable_count++;
		c->st->unreachable_bytes += size;
	}
	return 0;
}

static int count_loose(const struct snap_oid *oid, void *data)
{
	struct counter *c = data;
	struct strbuf path = STRBUF_INIT;
	struct stat st;

	odb_loose_path(c->odb, oid, &path);
	if (stat(path.buf, &st) == 0) {
		c->st->loose_count++;
		c->st->loose_disk += (uint64_t)st.st_size;
	}
	strbuf_release(&path);
	return 0;
}

static void reached(const struct snap_oid *oid, enum object_type type, uint64_t size,
		    void *data)
{
	struct counter *c = data;
	struct snapshot s;
	struct strbuf buf = STRBUF_INIT;
	uint64_t bytes;

	(void)size;
	if (type != OBJ_SNAPSHOT || c->failed)
		return;
	c->st->snapshots_reachable++;
	if (odb_read(c->odb, oid, NULL, &buf, SNAPSHOT_MAX_SIZE, &c->err) < 0 ||
	    snapshot_parse(&s, buf.buf, buf.len, &c->err) < 0) {
		c->failed = 1;
	} else {
		if (s.nr_bundles)
			bytes = 0;	/* bundle bytes are counted as objects */
		else if (tree_bytes(c->odb, &c->memo, &s.tree, &bytes, &c->err) < 0)
			c->failed = 1;
		else
			c->st->referenced_bytes += bytes;
		snapshot_release(&s);
	}
	strbuf_release(&buf);
}

int count_objects(struct odb *odb, struct count_stats *st, struct strbuf *err)
{
	struct oidset reachable = OIDSET_INIT;
	struct pruned pruned = PRUNED_INIT;
	struct snap_oid *roots = NULL;
	size_t nr = 0, alloc = 0, i;
	struct counter c;
	struct walk_opts wo;
	int ret;

	memset(st, 0, sizeof(*st));
	memset(&c, 0, sizeof(c));
	c.odb = odb;
	c.st = st;
	c.memo = (struct oidmap)OIDMAP_INIT(struct tree_total);
	c.reachable = &reachable;
	strbuf_init(&c.err, 0);
	memset(&wo, 0, sizeof(wo));
	wo.reached = reached;
	wo.problem = walk_problem;
	wo.data = &c;

	ret = pruned_load(odb_store(odb), &pruned, err);
	wo.pruned = &pruned;
	if (ret == 0)
		ret = walk_collect_roots(odb_store(odb), &pruned, &roots, &nr, &alloc, err);
	/* Counts over a walk that could not read everything would be wrong. */
	if (ret == 0 && walk_reachable(odb, roots, NULL, nr, &reachable, &wo) > 0 && !c.failed)
		ret = snap_error(err, c.code, "%s (see snap-fsck)", c.err.buf);
	if (ret == 0 && !c.failed)
		odb_for_each(odb, count_one, &c, err);
	if (ret == 0 && !c.failed)
		ret = odb_for_each_loose(odb, count_loose, &c, err);
	for (i = 0; i < odb_nr_packs(odb); i++) {
		struct pack *p = odb_pack(odb, i);
		st->packs++;
		st->packed_count += p->nr;
		st->pack_disk += p->pack_size + p->map_len;
	}
	if (ret == 0 && c.failed)
		ret = snap_error(err, SNAP_ECORRUPT, "%s (see snap-fsck)", c.err.buf);
	free(roots);
	pruned_release(&pruned);
	oidmap_clear(&c.memo);
	oidset_clear(&reachable);
	strbuf_release(&c.err);
	return ret;
}
