#ifndef SNAP_TREE_H
#define SNAP_TREE_H

/*
 * Tree objects: one directory's entries, sorted by name bytes, one line
 * each (docs/FORMAT.md, "Trees"):
 *
 *   TYPE PERM UID GID MTIME SIZE ID EXTRA [sparse] [xattrs=ID] [flags=LETTERS] NAME\n
 *
 * tree_parse() is strict: a tree that parses is one restore can write
 * safely (names are never empty, ".", ".." and never hold '/' or NUL) and
 * one whose re-encoding gives the same bytes (so the same id).  Every
 * reader of trees goes through it, fsck included.
 */

#include <stdint.h>
#include <stddef.h>
#include "oid.h"
#include "strbuf.h"

enum tree_type {
	TREE_FILE = 1,
	TREE_DIR,
	TREE_SYMLINK,
	TREE_FIFO,
	TREE_CHR,
	TREE_BLK,
};

/*
 * The inode flags a tree keeps (chattr's letters; tree format 3), as bits
 * of tree_entry.flags.  TREE_FLAG_LETTERS holds their letters in the
 * canonical order of the field, bit i being letter i.
 */
#define TREE_FLAG_SYNC		(1u << 0)	/* S */
#define TREE_FLAG_DIRSYNC	(1u << 1)	/* D */
#define TREE_FLAG_IMMUTABLE	(1u << 2)	/* i */
#define TREE_FLAG_APPEND	(1u << 3)	/* a */
#define TREE_FLAG_NODUMP	(1u << 4)	/* d */
#define TREE_FLAG_NOATIME	(1u << 5)	/* A */
#define TREE_FLAGS_ALL		0x3fu
#define TREE_FLAG_LETTERS	"SDiadA"

struct tree_entry {
	enum tree_type type;
	unsigned perm;		/* permission bits, 07777 at most */
	uint32_t uid, gid;
	int64_t mtime_sec;
	uint32_t mtime_nsec;	/* below 1e9 */
	uint64_t size;		/* file size, or symlink target length; 0 else */
	struct snap_oid oid;	/* blob (file, symlink target) or tree (dir) */
	uint32_t rdev_major, rdev_minor;	/* TREE_CHR and TREE_BLK */
	int sparse;		/* a file that had holes: restore zeros as holes */
	int has_xattrs;		/* 1: xattrs names its extended attributes */
	struct snap_oid xattrs;	/* a blob of lib/xattr.h's encoding */
	unsigned flags;		/* TREE_FLAG_*; only on files and directories */
	char *link;		/* hard link: path of the group's first member */
	size_t link_len;
	char *name;		/* raw bytes; NUL-terminated for convenience */
	size_t name_len;
};

struct tree {
	struct tree_entry *entries;
	size_t nr, alloc;
};

#define TREE_INIT { NULL, 0, 0 }

/* Largest tree payload snap reads (a directory of ~1 million entries). */
#define TREE_MAX_SIZE (256u << 20)

void tree_release(struct tree *t);

/* Appends an entry (copying name and link); the tree owns the copies. */
struct tree_entry *tree_add(struct tree *t, const struct tree_entry *e);

/* Sorts entries by name bytes (a writer's last step before encoding). */
void tree_sort(struct tree *t);

/*
 * Encodes a sorted tree into out.  SNAP_EINVAL if an entry is invalid or
 * the names are not strictly increasing.
 */
int tree_encode(const struct tree *t, struct strbuf *out, struct strbuf *err);

/*
 * Parses a tree payload.  SNAP_EINVAL with a message naming the line and
 * the problem on anything not exactly as tree_encode() writes it.
 */
int tree_parse(struct tree *t, const char *buf, size_t len, struct strbuf *err);

struct odb;
/*
 * The one reader of a tree by id: reads oid from odb (verified, at most
 * TREE_MAX_SIZE bytes), checks that it is a tree and parses it into t,
 * which the caller releases with tree_release() whatever the result.
 * SNAP_EINVAL when the object is of another type ("object 'ID' is a blob,
 * not a tree") or does not parse (tree_parse()'s message, then
 * " (tree 'ID')"); otherwise odb_read()'s codes and messages, which name
 * the object.
 */
int tree_read(struct odb *odb, const struct snap_oid *oid, struct tree *t,
	      struct strbuf *err);

/* 1 if a name may stand in a tree (and so be written by restore). */
int tree_name_ok(const char *name, size_t len);
/* 1 if a relative path (hard link target) is made of valid names. */
int tree_path_ok(const char *path, size_t len);

const char *tree_type_name(enum tree_type type);

/*
 * Appends an entry's fields as JSON object members, each led by a comma:
 * "type", "mode" ("0644"), "uid", "gid", "size", "mtime", "mtime_ns",
 * "id" (files, directories and symlinks), "rdev" ([major, minor] of a
 * device), "sparse" (true, when marked),
 * "xattrs" (the attribute set's id, when it has one), "flags" (their
 * letters, tree_flags_letters(), when it has any) and "link" (a hard
 * link's first member).  Shared by the commands that report entries (snap-ls,
 * snap-diff-tree), so that their fields mean one thing.
 */
void tree_entry_json(struct strbuf *out, const struct tree_entry *e);

/*
 * Appends the letters of flags (TREE_FLAG_*) in canonical order: "iad".
 */
void tree_flags_letters(struct strbuf *out, unsigned flags);

/* Appends a name with the escaping of the tree format (canonical). */
void tree_escape(struct strbuf *out, const char *name, size_t len);
/* Undoes tree_escape() into out (reset first); -1 if s is not canonical. */
int tree_unescape(const char *s, size_t len, struct strbuf *out);

#endif
