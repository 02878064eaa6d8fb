#ifndef SNAP_REVISION_H
#define SNAP_REVISION_H

/*
 * Turning the names users type into object ids.  Today a name is a full
 * id or a unique prefix of 4 or more hex digits (docs/snap-rev-parse.md
 * lists every form as they are added).
 */

#include "oid.h"
#include "strbuf.h"

struct odb;

/* SNAP_ENOTFOUND, SNAP_EAMBIGUOUS or SNAP_EINVAL with a message in err. */
int resolve_name(struct odb *odb, const char *name, struct snap_oid *oid,
		 struct strbuf *err);

/*
 * The tree an id stands for: a tree itself, or a snapshot's root tree.
 * SNAP_EINVAL for other types (the message names the id and its type).
 */
int peel_to_tree(struct odb *odb, const struct snap_oid *oid,
		 struct snap_oid *tree, struct strbuf *err);

#endif
