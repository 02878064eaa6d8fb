#ifndef SNAP_EXCLUDE_H
#define SNAP_EXCLUDE_H

/*
 * Exclude patterns of write-tree: what a pattern is matched against, and
 * the matching (docs/snap-write-tree.md, "EXCLUDES", is the manual).  A
 * pattern is fnmatch(3) syntax matched name by name, where a name "**"
 * stands for any number of names (none included).
 */

#include <stddef.h>
#include <stdint.h>
#include "strbuf.h"

enum exclude_kind {
	EXCLUDE_NAME,	/* no '/' but a trailing one: the entry's name */
	EXCLUDE_BELOW,	/* a '/' inside: the path below the source path */
	EXCLUDE_ABS,	/* a leading '/': the absolute path, without its '/' */
};

struct exclude {
	char *pat;		/* without the trailing '/'s nor the leading ones */
	enum exclude_kind kind;
	int dir_only;		/* it had a trailing '/': directories only */
	int dstar;		/* it holds a name "**" */
};

/* Prepares pattern (any string) into x; exclude_release() frees it. */
void exclude_prepare(struct exclude *x, const char *pattern);
void exclude_release(struct exclude *x);

/*
 * 1 if s matches x's pattern, s being what x->kind says: a name, the
 * path below the source path, or the absolute path without its leading
 * '/'.  The caller checks x->dir_only.
 */
int exclude_match(const struct exclude *x, const char *s);

/*
 * Appends the patterns of the file at path to (*pats, *nr, *alloc), one a
 * line without its newline; empty lines and lines whose first byte is
 * '#' are not patterns.  SNAP_EIO when it cannot be read (err says so).
 * A line is at most as long as memory allows.
 */
int exclude_file_read(const char *path, char ***pats, size_t *nr, size_t *alloc,
		      struct strbuf *err);

/*
 * A SIZE of --exclude-larger-than: decimal digits, then optionally one
 * of K, M, G, T (either case), powers of 1024.  -1 on anything else or a
 * value past 2^64 - 1.
 */
int exclude_parse_size(const char *s, uint64_t *out);

#endif
