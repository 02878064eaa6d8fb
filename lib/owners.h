#ifndef SNAP_OWNERS_H
#define SNAP_OWNERS_H

/*
 * owners: the names of the owners and groups a tree uses, so that a
 * restore can give each file the local number of its owner's name.
 * Trees hold numbers only (their ids must not depend on a host's name
 * tables); the names travel in the snapshot as meta lines, and between
 * commands in a names file of the same lines without "meta ":
 *
 *	uname.1000=alice
 *	gname.100=users
 *
 * (docs/FORMAT.md, "Owner names").  An id is decimal, 0 to 4294967294,
 * without leading zeros; a name is 1 to 256 bytes without control
 * characters.  At most OWNER_NAMES_MAX ids of each kind.
 */

#include <stdint.h>
#include <sys/types.h>
#include "odb.h"
#include "oid.h"
#include "strbuf.h"

#define OWNER_NAMES_MAX 65536
#define OWNER_NAME_MAX 256

struct owner_id {
	uint32_t id;
	uint32_t local;		/* owner_map: the number to restore */
	char *name;		/* NULL when the host has no name for id */
};

struct owner_ids {
	struct owner_id *v;
	size_t nr, alloc;
};

/*
 * The map a restore uses: each recorded id to the local number of its
 * name, the id itself when the name is unknown here.
 */
struct owner_map {
	struct owner_ids users, groups;
};

/*
 * Reads a names file (at most OWNER_NAMES_MAX lines of each kind, in any
 * order) and looks every name up once (getpwnam, getgrnam).  A line that
 * is not of the form above, an id given twice or too many ids is
 * SNAP_EINVAL, "names file 'PATH' line N: ..." in err; nothing is kept.
 */
int owner_map_load(struct owner_map *map, const char *path, struct strbuf *err);
void owner_map_release(struct owner_map *map);

/*
 * The number to give a file stored with uid (or gid); map may be NULL
 * (restore by number).  Safe to call from many threads.
 */
uid_t owner_map_uid(const struct owner_map *map, uint32_t uid);
gid_t owner_map_gid(const struct owner_map *map, uint32_t gid);

/*
 * Walks the tree root (each distinct subtree once) and appends to out
 * the names file of the ids it uses that have a name on this host
 * (getpwuid, getgrgid, once per id), users then groups, each in numeric
 * order.  A name holding a control character or longer than
 * OWNER_NAME_MAX is left out; past OWNER_NAMES_MAX named ids of a kind,
 * the further ones are left out.  Negative codes as tree_read().
 */
int owner_names_collect(struct odb *odb, const struct snap_oid *root,
			struct strbuf *out, struct strbuf *err);

#endif
