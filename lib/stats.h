#ifndef SNAP_STATS_H
#define SNAP_STATS_H

/*
 * What one snapshot holds (snap-stats): its files and their bytes as a
 * restore writes them, the bytes of its distinct content (what it would
 * cost stored alone, before compression), and the bytes of content its
 * first parent does not hold (what taking it added).  Content is counted
 * in the pieces the store keeps: a blob stored whole, or the chunks of a
 * chunked blob (docs/FORMAT.md), so an edit inside a large file counts
 * as the chunks it changed.  Walks are iterative (treewalk.h).
 */

#include <stdint.h>
#include "odb.h"
#include "oid.h"
#include "strbuf.h"

struct snap_stats {
	uint64_t files;		/* regular files; a hard link's members once */
	uint64_t size;		/* their bytes */
	uint64_t dirs, symlinks, others;	/* others: fifos and devices */
	uint64_t dedup_size;	/* bytes of distinct content */
	uint64_t new_size;	/* bytes of content the parent tree lacks */
	uint64_t stored_size;	/* bytes on disk (compressed) of the distinct
				 * content; a block shared with other content
				 * counts whole, once */
};

/*
 * Counts tree; new_size against parent_tree (NULL: no parent, so
 * new_size is dedup_size).  With links_once (tree is a snapshot's root)
 * a hard link's later members are not files of their own; without (a
 * tree that may be a subdirectory, whose links point outside it) each
 * member counts, as a restore of that tree alone writes it.  Returns 0 or a negative SNAP_E* (a tree or a
 * chunk list that cannot be read) with err set.
 */
int stats_tree(struct odb *odb, const struct snap_oid *tree,
	       const struct snap_oid *parent_tree, int links_once,
	       struct snap_stats *out, struct strbuf *err);

#endif
