/*
 * Per-snapshot statistics (stats.h).
 */
#include "stats.h"
#include "chunk.h"
#include "error.h"
#include "oidset.h"
#include "tree.h"
#include "treewalk.h"

#include <string.h>


struct count {
	struct odb *odb;
	struct oidset seen;		/* pieces counted in this tree */
	struct oidset blocks;		/* shared blocks counted, by key */
	const struct oidset *parent;	/* pieces of the parent's tree, or NULL */
	struct oidset *collect;		/* when walking the parent: its pieces */
	struct snap_stats *st;
	struct strbuf *err;
	int links_once;
};

static void piece(struct count *c, const struct snap_oid *oid, uint64_t size)
{
	uint64_t stored, frame;

	if (c->collect) {
		oidset_insert(c->collect, oid);
		return;
	}
	if (!oidset_insert(&c->seen, oid))
		return;
	c->st->dedup_size += size;
	stored = odb_stored_size(c->odb, oid, &frame);
	if (frame) {
		struct snap_oid key;

		memset(&key, 0, sizeof(key));
		memcpy(key.hash, &frame, sizeof(frame));
		if (!oidset_insert(&c->blocks, &key))
			stored = 0;
	}
	c->st->stored_size += stored;
	if (!c->parent || !oidset_contains(c->parent, oid))
		c->st->new_size += size;
}

static void chunk_piece(const struct snap_oid *chunk, uint64_t size, void *data)
{
	piece(data, chunk, size);
}

static int each_entry(const struct tree_entry *e, const char *path, size_t len,
		      size_t depth, void *data)
{
	struct count *c = data;
	int ret;

	(void)path;
	(void)len;
	(void)depth;
	switch (e->type) {
	case TREE_DIR:
		c->st->dirs++;
		return TREEWALK_CONTINUE;
	case TREE_SYMLINK:
		c->st->symlinks++;
		return TREEWALK_CONTINUE;
	case TREE_FILE:
		break;
	default:
		c->st->others++;
		return TREEWALK_CONTINUE;
	}
	if (e->link && c->links_once)
		return TREEWALK_CONTINUE;	/* its group's first member counted */
	c->st->files++;
	c->st->size += e->size;
	ret = e->size > CHUNK_THRESHOLD ? odb_chunks_each(c->odb, &e->oid, chunk_piece, c, c->err) : 0;
	if (ret < 0)
		return ret;
	if (ret == 0)
		piece(c, &e->oid, e->size);
	return TREEWALK_CONTINUE;
}

int stats_tree(struct odb *odb, const struct snap_oid *tree,
	       const struct snap_oid *parent_tree, int links_once,
	       struct snap_stats *out, struct strbuf *err)
{
	struct oidset parent = OIDSET_INIT;
	struct snap_stats scratch;
	struct count c;
	int ret = 0;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	c.odb = odb;
	c.err = err;
	c.links_once = links_once;
	if (parent_tree) {
		memset(&scratch, 0, sizeof(scratch));
		c.st = &scratch;
		c.collect = &parent;
		ret = treewalk(odb, parent_tree, NULL, 1, each_entry, NULL, &c, err);
		c.collect = NULL;
		c.parent = &parent;
	}
	if (ret == 0) {
		c.st = out;
		ret = treewalk(odb, tree, NULL, 1, each_entry, NULL, &c, err);
	}
	oidset_clear(&parent);
	oidset_clear(&c.seen);
	oidset_clear(&c.blocks);
	return ret < 0 ? ret : 0;
}
