#ifndef SNAP_REVISION_H
#define SNAP_REVISION_H

/*
 * Turning the names users type into object ids (docs/snap-rev-parse.md):
 *
 *   <id> | <hex prefix of 4+>    an object
 *   <ref> | refs/...             a ref: NAME is refs/snapshots/NAME, then
 *                                refs/tags/NAME; refs win over prefixes
 *   <rev>@{<time>}               the newest snapshot at or before time on
 *                                <rev>'s first-parent chain (pruned ones
 *                                passed over)
 *   <rev>~<n>, <rev>^, <rev>^<n> first parent n times; the n-th parent
 *                                (SNAP_ENOTFOUND at a parent pruned on
 *                                purpose, pruned.h: the message names it)
 *   <rev>:<path>                 the entry at path in the snapshot's tree
 */

#include "oid.h"
#include "strbuf.h"

struct odb;

/*
 * Resolves a full id or a unique hex prefix only (no refs): what
 * snap-cat-file and other object plumbing accept.
 * SNAP_ENOTFOUND, SNAP_EAMBIGUOUS or SNAP_EINVAL with a message in err.
 */
int resolve_name(struct odb *odb, const char *name, struct snap_oid *oid,
		 struct strbuf *err);

/* Resolves any name of the grammar above.  Same error codes. */
int resolve_rev(struct odb *odb, const char *name, struct snap_oid *oid,
		struct strbuf *err);

/*
 * The tree an id stands for: a tree itself, or a snapshot's root tree.
 * SNAP_EINVAL for other types (the message names the id and its type).
 */
int peel_to_tree(struct odb *odb, const struct snap_oid *oid,
		 struct snap_oid *tree, struct strbuf *err);

#endif
