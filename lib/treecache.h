#ifndef SNAP_TREECACHE_H
#define SNAP_TREECACHE_H

/*
 * treecache: parsed trees kept by id, for readers that look up many paths
 * in the same trees (snap-mount answers each file system call by a path
 * from a snapshot's root).  A tree is read and verified once (tree_read)
 * and then found by a binary search of its sorted entries, where
 * tree_lookup() reads every tree on the way again.
 *
 * The cache holds at most a fixed number of trees and forgets the least
 * recently used one to make room, so its memory stays bounded by that
 * many trees of at most TREE_MAX_SIZE.  What it returns points into a
 * cached tree: valid until the next call on the same cache.  One thread
 * at a time.
 */

#include "odb.h"
#include "oid.h"
#include "strbuf.h"
#include "tree.h"

struct tree_cache;

/* A cache of up to max_trees trees (at least 1) of odb's objects. */
struct tree_cache *tree_cache_new(struct odb *odb, size_t max_trees);
void tree_cache_free(struct tree_cache *c);

/*
 * The parsed tree oid, read on a miss; errors as tree_read(), but for an
 * absent tree: SNAP_ECORRUPT (with tree_read's message), as a tree is
 * reached from a snapshot or tree naming it, and SNAP_ENOTFOUND is left
 * to mean a path that is not there.
 */
int tree_cache_get(struct tree_cache *c, const struct snap_oid *oid,
		   const struct tree **out, struct strbuf *err);

/*
 * Looks up path ("a/b/c", empty components skipped) below the tree root,
 * as tree_lookup() does, and points *out at the entry found (in the
 * cache).  Returns 0 when found, 1 for an empty path (the root itself),
 * SNAP_ENOTFOUND with "path 'X' not found" (or "'X' is not a directory"
 * for a component below a non-directory), other codes as tree_read().
 */
int tree_cache_lookup(struct tree_cache *c, const struct snap_oid *root,
		      const char *path, const struct tree_entry **out,
		      struct strbuf *err);

#endif
