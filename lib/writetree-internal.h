#ifndef SNAP_WRITETREE_INTERNAL_H
#define SNAP_WRITETREE_INTERNAL_H

/*
 * What the files of write-tree share and nothing else uses (writetree.h
 * is the manual): the walker, the state of one write_tree() or
 * write_tree_paths() call.  lib/writetree.c holds those calls, the batch
 * and the stat cache around a walk; lib/wtwalk.c the walk of a directory
 * and what it leaves out (excludes, caches, markers, the store);
 * lib/wtentry.c storing one entry (a file read and checked, a symlink,
 * extended attributes, hard-link groups) and the problems met on the way.
 */

#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include "oid.h"
#include "strbuf.h"
#include "tree.h"
#include "writetree.h"

struct exclude;
struct progress;
struct stat_cache;
struct stat_cache_entry;

/* A regular file with several links, met once already in this walk. */
struct inode_seen {
	dev_t dev;
	ino_t ino;
	char *path;
	struct snap_oid oid;
};

struct walker {
	struct odb *odb;
	struct progress *meter;	/* files stored and the bytes of those read */
	uint64_t bytes_read;
	const struct write_tree_opts *opts;
	dev_t root_dev;
	int has_store;		/* the store's directory is known by: */
	dev_t store_dev;
	ino_t store_ino;
	/*
	 * Hard-link groups met so far: open addressing by device and inode
	 * (path NULL in an empty slot), at most half full, so a tree of a
	 * million linked files (a cp -al backup) costs a lookup each, not a
	 * scan of all before it.
	 */
	struct inode_seen *seen;
	size_t nr_seen, size_seen;
	struct strbuf path;	/* relative path of the entry at hand */
	struct stat_cache *old;	/* the cache to reuse entries of, or NULL */
	/* old's entry for the regular file at hand, if its stat matches */
	const struct stat_cache_entry *hit;
	/*
	 * The entry at hand's attributes lack one that could not be read,
	 * or its inode flags could not be read (reset per entry).
	 */
	int xattrs_partial;
	unsigned flags_read;	/* the entry at hand's inode flags, TREE_FLAG_* */
	struct stat_cache *cur;	/* the cache being built, or NULL */
	size_t nr_fresh;	/* entries of cur not taken from old */
	struct write_tree_stats stats;
	const char *hook_path, *hook_at, *hook_cmd;	/* see wt_run_hook() */
	struct exclude *excl;	/* opts->excludes prepared, or NULL */
	int is_source;		/* the entry at hand is a source path itself */
	size_t src_base;	/* where the path below the source starts in path */
	/* abs_base bytes: the absolute DIR + '/' without the leading '/' */
	struct strbuf abs;
	size_t abs_base;
};

/*
 * Left out (what wt_store_file() and wt_store_symlink() return for an
 * entry the tree goes without).
 */
#define GONE 1

/* Whether this is a dry run (write_tree_opts.dry_run). */
int wt_dry_run(const struct walker *w);
/* Under a dry run, the line "WHAT PATH" of the entry at hand. */
void wt_list_entry(struct walker *w, const char *what);
/* odb_write_buf(), or under a dry run nothing (and a zero id). */
int wt_write_obj(struct walker *w, enum object_type type, const void *buf,
		 size_t len, struct snap_oid *out, struct strbuf *err);
/* The warning "skipping WHAT 'PATH'" for the entry at hand. */
void wt_warnf(struct walker *w, const char *what);
/* The entry at hand's path for messages ("." for the top). */
const char *wt_shown(struct walker *w);
/* The test-only hook at point at (lib/wtentry.c, SNAP_TEST_HOOK_*). */
void wt_run_hook(struct walker *w, const char *at);
/*
 * A system call on the entry at hand failed with errnum: ENOENT, EACCES
 * and EPERM are problems (GONE, the entry left out), anything else
 * SNAP_EIO.  what names the call ("open", "stat").
 */
int wt_call_failed(struct walker *w, int errnum, const char *what, struct strbuf *err);
/* An entry's permissions, owner and mtime from st. */
void wt_set_times(struct tree_entry *e, const struct stat *st);
/* openat() for reading, without following a symlink or blocking; O_NOATIME when allowed. */
int wt_open_file(int dfd, const char *name);
/*
 * Stores the regular file name of dfd (fd open, or -1), or links it to
 * its hard-link group's first member; GONE when it is left out.
 */
int wt_store_file(struct walker *w, int dfd, const char *name, int fd,
		  const struct stat *st, struct tree_entry *e, struct strbuf *err);
/*
 * Records the entry at hand (a regular file's is recorded by
 * wt_store_file(); a directory's or symlink's, e: its stat data st) in
 * the new stat cache, unless an attribute was not read; counts it as
 * fresh when it was not w->hit.
 */
void wt_cache_add(struct walker *w, const struct stat *st, const struct tree_entry *e);
/*
 * Stores a symlink's target as a blob (its stat cache entry's when it
 * has one); GONE when it is left out.
 */
int wt_store_symlink(struct walker *w, int dfd, const char *name,
		     const struct stat *st, struct tree_entry *e, struct strbuf *err);
/*
 * The extended attributes of the entry at hand, from its stat cache entry
 * (w->hit, looked up before) when there is one, else read.  An attribute
 * whose value cannot be read is a problem ("unreadable"): left out, and
 * w->xattrs_partial set.
 */
int wt_entry_xattrs(struct walker *w, int dfd, const char *name, int fd,
		    const struct stat *st, struct tree_entry *e, struct strbuf *err);
/*
 * Reads the inode flags of the entry at hand into w->flags_read, when it
 * is a regular file or a directory (no other type is ever opened) and
 * the walk reads them: from its stat cache entry (w->hit) when there is
 * one, else through *fd; a regular file's *fd of -1 is opened here and
 * handed back open.  A failure other than a filesystem without flags is
 * a problem ("metadata"): no flags, and w->xattrs_partial set.  The
 * entry's w->hit is looked up before.
 */
int wt_entry_flags(struct walker *w, int dfd, const char *name, int *fd,
		   const struct stat *st, struct strbuf *err);

/* Prepares opts->excludes (and zeroes exclude_hits). */
void wt_excludes_prepare(struct walker *w);
/*
 * Stores one entry of dfd into t; a directory to descend into is not
 * stored: *sub gets its open descriptor and *dir_entry its entry.
 */
int wt_store_entry(struct walker *w, int dfd, const char *name, unsigned char d_type,
		   struct tree *t, int *sub, struct tree_entry *dir_entry, struct strbuf *err);
/* Stores the tree of the open directory root (taken over), without recursion. */
int wt_walk(struct walker *w, int root, struct snap_oid *out, struct strbuf *err);

#endif
