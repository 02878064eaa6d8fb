#ifndef SNAP_STORE_H
#define SNAP_STORE_H

/*
 * A store: the directory that holds config, objects/ and refs/
 * (docs/FORMAT.md).  store_find() locates it the way every command does:
 * an explicit --store DIR, else $SNAP_DIR, else a ".snap" directory found
 * upward from the working directory.
 */

#include "strbuf.h"

#define SNAP_FORMAT_VERSION 1
#define SNAP_DEFAULT_LEVEL 3

/*
 * Who may use a store (config "shared"): its owner alone, the default
 * (directories 0700, config 0400), or the owner's group too (directories
 * 2770; every writer then clears the group bits of its umask and sets the
 * others', so what it adds is the group's to read and extend).
 */
enum store_shared {
	STORE_PRIVATE = 0,
	STORE_GROUP = 1,
};

struct snap_store {
	char *path;		/* absolute path of the store directory */
	int format;		/* "format" from config */
	int level;		/* zstd level for new objects */
	enum store_shared shared;	/* "shared" from config */
	/*
	 * "append-only = true" in config: refs may only move forward and
	 * nothing is deleted (snap-serve refuses deletions and forced
	 * updates; snap-gc and snap-prune refuse to run).
	 */
	int append_only;
};

/*
 * Opens the store named by dir (may be NULL: then $SNAP_DIR, then a search
 * upward for ".snap").  Reads and checks its config.  SNAP_ENOTFOUND when
 * there is none; SNAP_EINVAL for an unreadable or unsupported config.
 */
int store_open(struct snap_store *store, const char *dir, struct strbuf *err);

/*
 * Creates a store at path (directories made as needed), with the given
 * compression level and sharing, its modes set whatever the umask.  An
 * existing store is left as it is (modes included) and *existed set; a
 * non-empty directory that is not a store is refused.
 */
int store_create(const char *path, int level, enum store_shared shared,
		 int *existed, struct strbuf *err);

/* Parses "group" or "private"; -1 for anything else. */
int store_parse_shared(const char *s, enum store_shared *out);

void store_release(struct snap_store *store);

/*
 * The entries of the store's directory sub ("journal", "objects/pack")
 * whose names begin with prefix and end with suffix, with something
 * between ("" for either: any), never a name beginning with '.': their
 * paths "<store>/<sub>/<name>", sorted, in *paths (the caller frees each
 * and the array).  A directory that does not exist has none (0).
 */
int store_list(const struct snap_store *store, const char *sub, const char *prefix,
	       const char *suffix, char ***paths, size_t *nr, struct strbuf *err);

/*
 * Calls fn with the path of every symbolic link in the store where a
 * directory is: a directory of the layout (docs/FORMAT.md, "Store
 * layout": objects, objects/pack, refs/snapshots, ...) or a link to a
 * directory anywhere below the root.  Such a link is damage that snap
 * refuses to follow (storefs.h); links are not descended into.  Returns
 * how many it found, or a negative code when a directory cannot be read.
 */
int store_find_links(const struct snap_store *store,
		     void (*fn)(const char *path, void *data), void *data,
		     struct strbuf *err);

/* Sets sb to "<store>/<fmt...>". */
void store_path(const struct snap_store *store, struct strbuf *sb,
		const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Where the store is looked for, for messages: dir, $SNAP_DIR or ".snap". */
const char *store_hint(const char *dir);

#endif
