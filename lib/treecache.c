#include "treecache.h"
#include "error.h"
#include "tree.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

struct slot {
	struct snap_oid oid;
	struct tree t;
	uint64_t used;		/* the clock at its last use; 0: empty */
};

struct tree_cache {
	struct odb *odb;
	struct slot *slots;
	size_t nr;
	uint64_t clock;
};

struct tree_cache *tree_cache_new(struct odb *odb, size_t max_trees)
{
	struct tree_cache *c = xcalloc(1, sizeof(*c));

	c->odb = odb;
	c->nr = max_trees ? max_trees : 1;
	c->slots = xcalloc(c->nr, sizeof(*c->slots));
	return c;
}

void tree_cache_free(struct tree_cache *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->nr; i++)
		tree_release(&c->slots[i].t);
	free(c->slots);
	free(c);
}

int tree_cache_get(struct tree_cache *c, const struct snap_oid *oid,
		   const struct tree **out, struct strbuf *err)
{
	struct slot *victim = &c->slots[0];
	struct tree t = TREE_INIT;
	size_t i;
	int ret;

	for (i = 0; i < c->nr; i++) {
		struct slot *s = &c->slots[i];

		if (s->used && !oid_cmp(&s->oid, oid)) {
			s->used = ++c->clock;
			*out = &s->t;
			return 0;
		}
		if (s->used < victim->used)
			victim = s;
	}
	/* A failed read is not cached: the next call tries (and says) again. */
	if ((ret = tree_read(c->odb, oid, &t, err)) < 0) {
		tree_release(&t);
		if (ret == SNAP_ENOTFOUND)
			ret = SNAP_ECORRUPT;
		return ret;
	}
	tree_release(&victim->t);
	victim->t = t;
	victim->oid = *oid;
	victim->used = ++c->clock;
	*out = &victim->t;
	return 0;
}

/* The entry named name[0..len) of a sorted tree, or NULL. */
static const struct tree_entry *find_entry(const struct tree *t, const char *name,
					   size_t len)
{
	size_t lo = 0, hi = t->nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct tree_entry *e = &t->entries[mid];
		size_t n = e->name_len < len ? e->name_len : len;
		int cmp = memcmp(e->name, name, n);

		if (!cmp)
			cmp = e->name_len < len ? -1 : e->name_len > len;
		if (!cmp)
			return e;
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int tree_cache_lookup(struct tree_cache *c, const struct snap_oid *root,
		      const char *path, const struct tree_entry **out,
		      struct strbuf *err)
{
	const struct tree_entry *found = NULL;
	struct snap_oid cur = *root;
	const char *p = path;
	int ret;

	while (*p) {
		const char *slash = strchrnul(p, '/');
		size_t len = (size_t)(slash - p);
		const struct tree *t;

		if (!len) {
			p = *slash ? slash + 1 : slash;
			continue;
		}
		if (found && found->type != TREE_DIR)
			return snap_error(err, SNAP_ENOTFOUND, "'%.*s' is not a directory",
					  (int)(p - path - 1), path);
		if ((ret = tree_cache_get(c, &cur, &t, err)) < 0)
			return ret;
		if (!(found = find_entry(t, p, len)))
			return snap_error(err, SNAP_ENOTFOUND, "path '%.*s' not found",
					  (int)(slash - path), path);
		cur = found->oid;
		p = *slash ? slash + 1 : slash;
	}
	if (!found)
		return 1;
	*out = found;
	return 0;
}
