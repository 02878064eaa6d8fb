#ifndef SNAP_STATCACHE_H
#define SNAP_STATCACHE_H

/*
 * Stat caches: what write-tree learned about each regular file the last
 * time it stored a directory (path, size, mtime, ctime, inode, device,
 * mode, the blob id of the content and that of its extended attributes,
 * its inode flags), so that a file whose stat data has not changed is not
 * read and hashed again, nor its attributes listed or flags read (a
 * change of either sets the ctime).  The file format is
 * docs/FORMAT.md, "Stat caches"; a cache lives at cache/NAME in the store.
 *
 * A cache is only ever a hint.  stat_cache_read() refuses anything not
 * exactly as stat_cache_write() writes it (the caller then reads every
 * file), and the caller must still check that a reused blob is in the
 * object database (odb_freshen).
 *
 * Why an entry can be trusted: every change to a file's content sets its
 * ctime to the current time.  An entry records a file's stat data as it
 * was when its content was read, which was after the cache's start time.
 * An entry is kept only when the file's mtime and ctime are older than
 * the start, at the granularity of whole seconds: then any later change
 * gives the file a ctime at or after the start, which differs from the
 * one recorded.  A file changed in the same second as the start ("racily
 * clean") may keep its ctime through a change on a coarse clock, so it
 * is never cached and always read again.  This needs file timestamps at
 * least one second precise from the clock of this machine (local
 * filesystems, not a network filesystem whose server's clock is off).
 */

#include <stdint.h>
#include <stddef.h>
#include <sys/stat.h>
#include "oid.h"
#include "store.h"
#include "strbuf.h"

/* Largest cache file read (about 8 million files). */
#define STAT_CACHE_MAX (1u << 30)

#define STAT_CACHE_NO_FLAGS 4
#define STAT_CACHE_LEAVE_OUT_ALL 7

struct stat_cache_entry {
	uint64_t size;
	int64_t mtime_sec, ctime_sec;
	uint32_t mtime_nsec, ctime_nsec;
	uint64_t ino, dev;
	uint32_t mode;
	struct snap_oid oid;
	int has_xattrs;		/* 1: the file had the extended attributes xattrs */
	struct snap_oid xattrs;
	unsigned flags;		/* its inode flags, TREE_FLAG_* (lib/tree.h) */
	size_t path_off;	/* in the cache's paths buffer */
	uint32_t path_len;
};

struct stat_cache {
	int64_t start_sec;	/* when the walk that made it began */
	uint32_t start_nsec;
	uint64_t root_dev, root_ino;	/* the directory it describes */
	/*
	 * What the walk that made it left out: the XATTR_NO_* flags
	 * (lib/xattr.h), and STAT_CACHE_NO_FLAGS when it read no inode
	 * flags (its entries' flags are then 0).
	 */
	uint32_t xattr_flags;
	struct stat_cache_entry *entries;
	size_t nr, alloc;
	struct strbuf paths;	/* the path bytes (read: the whole file) */
	/* open addressing: 0 empty, else index + 1 into entries */
	uint32_t *table;
	size_t table_size;
	size_t next;		/* the entry to try first */
};

/*
 * Starts an empty cache for the directory whose stat is root, stamped
 * with the current time (the coarse clock that stamps files: it never
 * runs ahead of the timestamps files get after it is read).
 */
void stat_cache_init(struct stat_cache *c, const struct stat *root);
void stat_cache_release(struct stat_cache *c);
/* Makes room for nr entries with path_bytes of paths in all. */
void stat_cache_reserve(struct stat_cache *c, size_t nr, size_t path_bytes);

/*
 * Builds path: "<store>/cache/<name>".  SNAP_EINVAL if name is not a
 * valid ref name (ref_name_check), so it is safe as a path.
 */
int stat_cache_path(const struct snap_store *store, const char *name,
		    struct strbuf *path, struct strbuf *err);

/*
 * Reads the cache file at path into c (initialised by the caller, whose
 * content is replaced).  SNAP_ENOTFOUND when there is none; SNAP_EINVAL
 * when it is truncated, corrupt (checksum), of another version, or does
 * not describe the directory root; SNAP_EIO on a read error.  On failure
 * c is left empty.
 */
int stat_cache_read(struct stat_cache *c, const char *path,
		    const struct stat *root, struct strbuf *err);

/*
 * The entry for path (relative to the root, '/'-separated) if its stat
 * data equals st and the file is not racily clean; else NULL.  Fastest
 * when paths are looked up in the order they were added.  Should a file
 * hold a path twice, either entry may be found.
 */
const struct stat_cache_entry *stat_cache_lookup(struct stat_cache *c,
						 const char *path, size_t len,
						 const struct stat *st);

/*
 * Records that the regular file at path, with stat st, held the blob oid,
 * the extended attributes xattrs (NULL: none) and the inode flags flags.
 * A racily clean file (mtime or ctime not before the start second) is not
 * recorded; returns 1 when the entry was recorded, 0 when not.  A path
 * must be added at most once.
 */
int stat_cache_add(struct stat_cache *c, const char *path, size_t len,
		   const struct stat *st, const struct snap_oid *oid,
		   const struct snap_oid *xattrs, unsigned flags);

/*
 * Writes the cache to path atomically: a temporary file in the store's
 * objects/tmp, then a rename (the directories above path are made as
 * needed).  Not fsynced: a cache torn by a crash fails its checksum and
 * is ignored, and an older cache is as correct as a newer one.
 */
int stat_cache_write(const struct stat_cache *c, const struct snap_store *store,
		     const char *path, struct strbuf *err);

#endif
