#ifndef SNAP_CHECKOUT_INTERNAL_H
#define SNAP_CHECKOUT_INTERNAL_H

/*
 * The parts of a restore (checkout.h), for the files that hold them, not
 * for other modules:
 *
 *   checkout.c          checkout_tree(): the target, the PATHs, the passes
 *                       in order
 *   checkout-plan.c     pass 1: every tree read, verified and parsed, what
 *                       is missing named, PATH and exclude selection, hard
 *                       links checked against their targets
 *   checkout-write.c    passes 2 to 4: the walk that places entries on disk
 *                       (directories, symlinks, fifos, devices, metadata),
 *                       the hard links, the directories' own metadata last
 *   checkout-files.c    the files of pass 2, created and filled by worker
 *                       threads (workqueue.h)
 *   checkout-inplace.c  checkout_in_place(): a restore swapped into an
 *                       existing directory
 *
 * Every function takes the one struct checkout of a restore; all but the
 * file jobs run on the restoring thread.
 */

#include "checkout.h"
#include "owners.h"
#include "tree.h"
#include "xattr.h"

#include <pthread.h>
#include <sys/stat.h>
#include <time.h>

struct exclude;
struct progress;
struct workqueue;

#define IO_BUF (256 * 1024)	/* a file job's buffer */
#define SYMLINK_MAX 65536
#define QUEUE_MAX 256		/* files waiting for a worker */
#define NO_DIR ((size_t)-1)

enum selected { SEL_NONE, SEL_ALL, SEL_ANCESTOR };

/*
 * A directory this restore made, in walk order: a parent always comes
 * before its children.  dirs[0] is the target itself.
 */
struct made_dir {
	size_t parent;		/* index in dirs; NO_DIR for the target */
	char *name;
	dev_t dev;
	ino_t ino;
	struct tree_entry meta;	/* its entry (name and link NULL) */
};

/* A path some hard link of the restore names, with the file written there. */
struct link_target {
	char *path;
	int in_tree;		/* a file of the tree is there ... */
	struct snap_oid oid;	/* ... with this blob */
	int written;		/* a file of this restore is there */
	dev_t dev;		/* its inode, filled by the thread that wrote it */
	ino_t ino;
	/*
	 * Its inode flags, set by checkout_target_flags() once the hard
	 * links are made (an immutable or append-only file takes none).
	 */
	unsigned flags;
};

/* A hard link entry of the tree: it must hold its target's blob. */
struct link_check {
	char *path;
	char *target_path;
	struct snap_oid oid;
};

/*
 * Inode flags a restore in place gives an entry only once it is in its
 * final place (checkout-inplace.c): an immutable or append-only entry
 * cannot be moved, an immutable directory takes no entry.  The inode is
 * the one written (dev, ino); path is relative to the tree's root.
 */
struct deferred_flags {
	char *path;
	dev_t dev;
	ino_t ino;
	unsigned flags;
	int is_dir;
	int is_link;	/* another name of a file noted (its link target) */
};

struct flags_list {
	struct deferred_flags *v;
	size_t nr, alloc;
	pthread_mutex_t lock;	/* files note theirs from the workers */
};

/* A hard link, made once every file is written. */
struct deferred_link {
	size_t dir;		/* index in dirs of the directory to hold it */
	char *name;
	struct link_target *target;
};

struct checkout {
	struct odb *odb;
	const struct checkout_opts *opts;
	/*
	 * The target as messages name it: where on disk a write that failed
	 * was writing (checkout_write_error()).
	 */
	const char *dest;
	/* When set, inode flags are noted here instead of set. */
	struct flags_list *defer;
	int *path_found;
	int root_fd;
	int as_root;
	/* New files get the euid and egid (the target is not set-group-ID):
	 * a file owned so needs no fchown. */
	int plain_owner;
	uid_t euid;
	gid_t egid;
	struct strbuf path;	/* the walk's current path */
	struct made_dir *dirs;
	size_t nr_dirs, alloc_dirs;
	int cur_fd;		/* the directory the walk is in ... */
	size_t cur_dir;		/* ... and its index in dirs */
	struct link_target *targets;	/* sorted by path */
	size_t nr_targets, alloc_targets;
	struct deferred_link *links;
	size_t nr_links, alloc_links;
	struct link_check *checks;	/* every hard link entry, for pass 1 */
	size_t nr_checks, alloc_checks;
	struct workqueue *wq;	/* the file-writing threads */
	/* metadata the kernel refused to set, each warned about once */
	pthread_mutex_t unset_lock;
	size_t nr_unset;
	/* progress (progress.h): counted by the workers under meter_lock,
	 * drawn by the walking thread alone */
	pthread_mutex_t meter_lock;
	struct progress *meter;
	uint64_t files_done, bytes_done;
	struct exclude *excl;	/* opts->excludes, prepared */
	struct exclude *incl;	/* opts->includes, prepared (NULL: none) */
	/*
	 * The paths pass 1 found matching an include (not those below one
	 * already matched), sorted once pass 1 is done (matched_ready): a
	 * directory that matches nothing is restored only when one of them
	 * lies below it.
	 */
	char **matched;
	size_t nr_matched, alloc_matched;
	int matched_ready;
	/* Set by checkout_skip_entry(): the entry is included whole. */
	int entry_included;
};

/* A directory being walked: its parsed tree and the next entry to take. */
struct frame {
	struct tree t;
	size_t next;
	size_t base;	/* length of the path of its entries' directory */
	int included;	/* everything in it is included (opts->includes) */
};

/* The directories a walk is in, innermost last: depth costs no C stack. */
struct frame_stack {
	struct frame *v;
	size_t nr, alloc;
};

static inline const char *shown(const struct checkout *c)
{
	return c->path.buf;
}

/* The mode an entry is restored with: set-ID bits only when kept. */
static inline unsigned final_perm(const struct checkout *c, const struct tree_entry *e)
{
	unsigned perm = e->perm;

	if (!c->opts || !c->opts->keep_setuid)
		perm &= ~(unsigned)(S_ISUID | S_ISGID);
	return perm;
}

/* The owner and group an entry is given: its numbers through opts->owners. */
static inline uid_t checkout_uid(const struct checkout *c, const struct tree_entry *e)
{
	return owner_map_uid(c->opts ? c->opts->owners : NULL, e->uid);
}

static inline gid_t checkout_gid(const struct checkout *c, const struct tree_entry *e)
{
	return owner_map_gid(c->opts ? c->opts->owners : NULL, e->gid);
}

static inline void entry_times(const struct tree_entry *e, struct timespec ts[2])
{
	ts[0].tv_sec = ts[1].tv_sec = (time_t)e->mtime_sec;
	ts[0].tv_nsec = ts[1].tv_nsec = e->mtime_nsec;
}

/* 1 unless both --no-xattrs and --no-acls leave every attribute out. */
static inline int wants_xattrs(const struct checkout *c)
{
	return (c->opts->xattr_flags & (XATTR_NO_ACLS | XATTR_NO_OTHERS)) !=
	       (XATTR_NO_ACLS | XATTR_NO_OTHERS);
}

/* checkout-plan.c */

/*
 * Moves c->path to entry e of the directory f (whose path is c->path's
 * first f->base bytes); 1 if the PATH selection, the include patterns or
 * an exclude pattern leave it out.  Sets c->entry_included, which
 * checkout_push_tree() gives the frame it pushes next.  In pass 1 every
 * directory is walked (to find what includes match below it), in pass 2
 * only those on the way to a match.
 */
int checkout_skip_entry(struct checkout *c, const struct frame *f, const struct tree_entry *e);
/*
 * Reads the tree oid (tree_read) onto the stack, as the
 * directory whose entries' paths start base bytes long; on failure
 * nothing is pushed.  The root (an empty stack) is included when there
 * are no include patterns, any other directory as c->entry_included says.
 */
int checkout_push_tree(struct checkout *c, struct frame_stack *s, const struct snap_oid *oid,
		       size_t base, struct strbuf *err);
/* Releases every tree on the stack, and the stack. */
void checkout_stack_release(struct frame_stack *s);
/* The link target at path, once pass 1 sorted them; NULL if none. */
struct link_target *checkout_find_target(struct checkout *c, const char *path);
/*
 * Pass 1: reads every tree to be restored below root, fails naming every
 * missing object (SNAP_ENOTFOUND), a PATH not in the tree, or a hard link
 * to other bytes (SNAP_EINVAL); notes every path a hard link names.
 */
int checkout_check_all(struct checkout *c, const struct snap_oid *root, struct strbuf *err);

/* checkout-write.c */

/*
 * snap_error_errno() for a failed write (a create, a write, a link, a
 * piece of metadata), naming where on disk: "<what> 'DEST/path'", path
 * relative to the target.  Messages about the tree itself (missing or
 * corrupt objects), a race and the warnings of metadata refused name
 * the entry's path in the tree instead.
 */
int checkout_write_error(const struct checkout *c, struct strbuf *err, const char *what,
			 const char *path);
/*
 * Opens the directory at path below root_fd (path "" is root_fd
 * itself), never through a symlink; errno is kept on failure.
 */
int checkout_open_beneath(int root_fd, const char *path, struct strbuf *err);

/*
 * Sets owner (as root), extended attributes, mode, times and inode flags
 * through fd.  path names the entry; for a directory, NULL and dir is its
 * index in c->dirs (its path is built only when needed).
 */
int checkout_set_meta(struct checkout *c, int fd, const struct tree_entry *e,
		      const char *path, size_t dir, struct strbuf *err);
/*
 * Gives the inode open on fd e's inode flags (none under opts->no_flags),
 * the last of its metadata.  One the kernel refuses (EPERM without
 * CAP_LINUX_IMMUTABLE, a filesystem without them) is one warning line and
 * counted in nr_unset; returns 0.  path and dir as checkout_set_meta().
 * Under c->defer the flags are noted there, with fd's inode, instead.
 */
int checkout_set_flags(struct checkout *c, int fd, const struct tree_entry *e,
		       const char *path, size_t dir);
/*
 * The line checkout_set_flags() gives when the kernel refuses flags of
 * the entry at path (errnum), to opts->meta_warn (else warn); uncounted.
 */
void checkout_flags_refused(const struct checkout_opts *o, const char *path, unsigned flags,
			    int errnum);
/* After pass 3: a hard link target's deferred flags, on the inode written. */
int checkout_target_flags(struct checkout *c, const struct link_target *t, struct strbuf *err);
/* Pass 2: writes the entries below root into c->cur_fd (files queued). */
int checkout_restore_tree(struct checkout *c, const struct snap_oid *root, struct strbuf *err);
/* Pass 3: makes one deferred hard link, to the very inode written. */
int checkout_make_link(struct checkout *c, const struct deferred_link *l, struct strbuf *err);
/* Pass 4: every directory made gets its mode, owner and times. */
int checkout_finish_dirs(struct checkout *c, struct strbuf *err);

/* checkout-files.c */

/* Starts the file-writing threads (and the progress meter). */
void checkout_pool_start(struct checkout *c);
/*
 * Queues the file entry e at c->path, or defers it as a hard link; fails
 * with the first failure of a file written so far (its own code).
 */
int checkout_restore_file(struct checkout *c, const struct tree_entry *e, struct strbuf *err);
/*
 * Lets the workers finish and stops them; returns the first failure of a
 * file, with its own code (a corrupt blob is SNAP_ECORRUPT), its message
 * replacing err's.
 */
int checkout_pool_stop(struct checkout *c, struct strbuf *err);

/* checkout.c */

/*
 * checkout_tree() with the target named dest in the messages of failed
 * writes, and, when defer is not NULL, every inode flag noted in it
 * instead of set.
 */
int checkout_run(struct odb *odb, const struct snap_oid *tree, const char *dir,
		 const char *dest, struct flags_list *defer,
		 const struct checkout_opts *opts, struct strbuf *err);
/* A user's path normalised: no leading "./" or '/', no trailing '/'. */
char *checkout_clean_path(const char *p);
/* 1 if path a is b or lies below it. */
int checkout_path_within(const char *a, const char *b);

#endif
