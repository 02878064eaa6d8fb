#include "writetree.h"
#include "error.h"
#include "statcache.h"
#include "store.h"
#include "tree.h"
#include "util.h"
#include "xattr.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

/* A regular file with several links, met once already in this walk. */
struct inode_seen {
	dev_t dev;
	ino_t ino;
	char *path;
	struct snap_oid oid;
};

struct walker {
	struct odb *odb;
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
	const struct stat_cache_entry *hit;	/* old's for the entry at hand */
	struct stat_cache *cur;	/* the cache being built, or NULL */
	size_t nr_fresh;	/* entries of cur not taken from old */
	struct write_tree_stats stats;
	const char *hook_path, *hook_at, *hook_cmd;	/* see run_hook() */
};

void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

static int excluded(struct walker *w, const char *name)
{
	size_t i;

	for (i = 0; w->opts && i < w->opts->nr_excludes; i++) {
		const char *pat = w->opts->excludes[i];
		if (strchr(pat, '/') ? !fnmatch(pat, w->path.buf, FNM_PATHNAME)
				     : !fnmatch(pat, name, 0))
			return 1;
	}
	return 0;
}

static void warnf(struct walker *w, const char *what)
{
	struct strbuf msg = STRBUF_INIT;

	if (!w->opts || !w->opts->warn)
		return;
	strbuf_addf(&msg, "skipping %s '", what);
	strbuf_addquoted(&msg, w->path.buf, w->path.len);
	strbuf_addch(&msg, '\'');
	w->opts->warn(msg.buf, w->opts->warn_data);
	strbuf_release(&msg);
}

/*
 * The store is never stored: the walk would read the objects it is
 * writing (and a pack growing under it).  It is known by device and inode,
 * so any name or path to it is met.
 */
static int is_store(struct walker *w, const struct stat *st)
{
	struct strbuf msg = STRBUF_INIT;

	if (!w->has_store || st->st_dev != w->store_dev || st->st_ino != w->store_ino)
		return 0;
	if (w->opts && w->opts->warn) {
		strbuf_addstr(&msg, "leaving out the store '");
		strbuf_addquoted(&msg, w->path.buf, w->path.len);
		strbuf_addch(&msg, '\'');
		w->opts->warn(msg.buf, w->opts->warn_data);
		strbuf_release(&msg);
	}
	return 1;
}

static size_t inode_slot(const struct inode_seen *slots, size_t size, dev_t dev, ino_t ino)
{
	uint64_t h = ((uint64_t)ino ^ ((uint64_t)dev << 32 | (uint64_t)dev >> 32)) *
		     0x9e3779b97f4a7c15ull;
	size_t i = (size_t)(h >> 32) & (size - 1);

	while (slots[i].path && (slots[i].dev != dev || slots[i].ino != ino))
		i = (i + 1) & (size - 1);
	return i;
}

/* The group of (dev, ino) met before, or NULL. */
static const struct inode_seen *inode_find(const struct walker *w, dev_t dev, ino_t ino)
{
	size_t i;

	if (!w->size_seen)
		return NULL;
	i = inode_slot(w->seen, w->size_seen, dev, ino);
	return w->seen[i].path ? &w->seen[i] : NULL;
}

/* Adds a group not in the map; path is taken over. */
static void inode_add(struct walker *w, dev_t dev, ino_t ino, char *path,
		      const struct snap_oid *oid)
{
	struct inode_seen *slot;
	size_t i;

	if (2 * (w->nr_seen + 1) > w->size_seen) {
		size_t size = w->size_seen ? 2 * w->size_seen : 64;
		struct inode_seen *slots = xcalloc(size, sizeof(*slots));

		for (i = 0; i < w->size_seen; i++)
			if (w->seen[i].path)
				slots[inode_slot(slots, size, w->seen[i].dev, w->seen[i].ino)] =
					w->seen[i];
		free(w->seen);
		w->seen = slots;
		w->size_seen = size;
	}
	slot = &w->seen[inode_slot(w->seen, w->size_seen, dev, ino)];
	slot->dev = dev;
	slot->ino = ino;
	slot->path = path;
	slot->oid = *oid;
	w->nr_seen++;
}

/*
 * A test-only hook, so that tests can make an entry vanish or change at
 * an exact point of the walk (t/7050-partial-snapshot.bats): when
 * SNAP_TEST_HOOK_PATH is the path of the entry at hand (relative to
 * DIR), the shell command SNAP_TEST_HOOK_CMD is run at the point named
 * by SNAP_TEST_HOOK_AT: "listed" (its directory was read, the entry not
 * yet opened or stat'ed), "opened" (a file open and stat'ed, before each
 * read of its content) or "read" (after each read of its content, before
 * it is stat'ed again).  Not an interface: nothing but the tests sets
 * these.
 */
static const char *shown(struct walker *w);

static void run_hook(struct walker *w, const char *at)
{
	int status;

	if (!w->hook_cmd || strcmp(w->hook_at, at) || strcmp(w->hook_path, w->path.buf))
		return;
	status = system(w->hook_cmd);
	(void)status;
}

/*
 * Left out (what store_file() and store_symlink() return for an entry the
 * tree goes without).
 */
#define GONE 1

/*
 * A problem with the entry at hand (writetree.h, "Problems"): under
 * strict, the error code with err set to msg; else reported and 0.
 */
static int problem(struct walker *w, const char *reason, const char *what,
		   int code, const char *strict_msg, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT, msg = STRBUF_INIT;

	if (w->opts && w->opts->strict)
		return snap_error(err, code, "%s", strict_msg);
	w->stats.problems++;
	tree_escape(&path, w->path.buf, w->path.len);
	strbuf_addf(&msg, "%s: %s", path.buf, what);
	if (w->opts && w->opts->problem)
		w->opts->problem(reason, path.buf, msg.buf, w->opts->problem_data);
	strbuf_release(&path);
	strbuf_release(&msg);
	return 0;
}

/*
 * A system call on the entry at hand failed with errnum: no permission or
 * no such entry is a problem (the entry is left out: GONE), anything else
 * an error.  what is the call's object: "open", "stat".
 */
static int call_failed(struct walker *w, int errnum, const char *what, struct strbuf *err)
{
	struct strbuf msg = STRBUF_INIT;
	int ret;

	strbuf_addf(&msg, "cannot %s '%s': %s", what, shown(w), strerror(errnum));
	if (errnum == ENOENT)
		ret = problem(w, "vanished", "vanished, left out", SNAP_EIO, msg.buf, err);
	else if (errnum == EACCES || errnum == EPERM) {
		struct strbuf why = STRBUF_INIT;
		strbuf_addf(&why, "%s, left out", strerror(errnum));
		ret = problem(w, "unreadable", why.buf, SNAP_EIO, msg.buf, err);
		strbuf_release(&why);
	} else {
		ret = snap_error(err, SNAP_EIO, "%s", msg.buf);
	}
	strbuf_release(&msg);
	return ret < 0 ? ret : GONE;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a + 1, *(char *const *)b + 1);
}

/*
 * Reads and sorts the names in a directory (not . and ..), with
 * getdents64 on the descriptor itself: no DIR stream to set up and tear
 * down for each of many small directories.  Each name is stored after
 * one byte holding its d_type, so names[i] + 1 is the name; all of them
 * live in *pool, which the caller frees with the array.
 */
static int read_names(int dfd, char ***names, size_t *nr, char **pool,
		      struct strbuf *err, const char *what)
{
	struct strbuf all = STRBUF_INIT;
	char buf[16384];
	size_t alloc = 0, pos, i;
	ssize_t n;

	*names = NULL;
	*nr = 0;
	while ((n = getdents64(dfd, buf, sizeof(buf))) > 0) {
		for (pos = 0; pos < (size_t)n;) {
			const struct dirent64 *de = (const struct dirent64 *)(buf + pos);
			const char *name = de->d_name;

			pos += de->d_reclen;
			if (name[0] == '.' && (!name[1] || (name[1] == '.' && !name[2])))
				continue;
			strbuf_addch(&all, (char)de->d_type);
			strbuf_add(&all, name, strlen(name) + 1);
			(*nr)++;
		}
	}
	if (n < 0) {
		strbuf_release(&all);
		*nr = 0;
		return snap_error_errno(err, "cannot read directory '%s'", what);
	}
	ALLOC_GROW(*names, *nr, alloc);
	for (i = 0, pos = 0; i < *nr; i++) {
		(*names)[i] = all.buf + pos;
		pos += strlen(all.buf + pos + 1) + 2;
	}
	QSORT(*names, *nr, cmp_names);
	*pool = strbuf_detach(&all, NULL);
	return 0;
}

static void set_times(struct tree_entry *e, const struct stat *st)
{
	e->perm = st->st_mode & 07777;
	e->uid = st->st_uid;
	e->gid = st->st_gid;
	e->mtime_sec = st->st_mtim.tv_sec;
	e->mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
}

static const char *shown(struct walker *w)
{
	return w->path.len ? w->path.buf : ".";
}

/* The blob of a file from the old cache, if it may be reused. */
static int reuse(struct walker *w, struct snap_oid *oid)
{
	const struct stat_cache_entry *c = w->hit;	/* found by entry_xattrs() */

	if (!c || !odb_freshen(w->odb, &c->oid))
		return 0;
	*oid = c->oid;
	return 1;
}

static int open_file(int dfd, const char *name)
{
	int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOATIME);

	if (fd < 0 && errno == EPERM)
		fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	return fd;
}

static int same_stat(const struct stat *a, const struct stat *b)
{
	return a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec &&
	       a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
	       a->st_ctim.tv_sec == b->st_ctim.tv_sec &&
	       a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/*
 * Reads the regular file at hand (fd open, or -1 to open it; taken over)
 * into a blob, checking that it did not change while it was read: the
 * same size, mtime and ctime after, and nothing past its size.  One that
 * did is read once more; *changed is set when it changed again and what
 * was read is kept.  *now is set to its stat data before the read kept.
 * GONE when it is left out (a problem reported).
 */
static int read_file(struct walker *w, int dfd, const char *name, int fd,
		     const struct stat *st, struct stat *now, struct snap_oid *oid,
		     int *changed, struct strbuf *err)
{
	struct stat after;
	struct strbuf msg = STRBUF_INIT, why = STRBUF_INIT;
	int tries, ret = 0;
	char c;

	if (fd < 0) {
		fd = open_file(dfd, name);
		if (fd < 0)
			return call_failed(w, errno, "open", err);
		if (fstat(fd, now) < 0) {
			ret = snap_error_errno(err, "cannot stat '%s'", shown(w));
			close(fd);
			return ret;
		}
	} else {
		*now = *st;
	}
	if (now->st_ino != st->st_ino || now->st_dev != st->st_dev || !S_ISREG(now->st_mode)) {
		close(fd);
		strbuf_addf(&msg, "'%s' was replaced while it was read", shown(w));
		ret = problem(w, "vanished", "replaced while read, left out", SNAP_EINVAL,
			      msg.buf, err);
		strbuf_release(&msg);
		return ret < 0 ? ret : GONE;
	}
	for (tries = 0;; tries++) {
		run_hook(w, "opened");
		strbuf_reset(&why);
		ret = odb_write_fd_prefix(w->odb, OBJ_BLOB, fd, (uint64_t)now->st_size,
					  shown(w), oid, &why);
		run_hook(w, "read");
		/* SNAP_EINVAL: it shrank while it was read. */
		if (ret < 0 && ret != SNAP_EINVAL) {
			strbuf_addbuf(err, &why);
			break;
		}
		if (fstat(fd, &after) < 0) {
			ret = snap_error_errno(err, "cannot stat '%s'", shown(w));
			break;
		}
		if (ret == 0 && same_stat(now, &after) &&
		    pread(fd, &c, 1, (off_t)now->st_size) <= 0)
			break;
		if (tries) {
			strbuf_addf(&msg, "'%s' changed while it was read", shown(w));
			if (ret == 0) {
				*changed = 1;
				ret = problem(w, "changed", "changed while read, kept as read",
					      SNAP_EINVAL, msg.buf, err);
			} else {
				ret = problem(w, "unstable", "changed while read, left out",
					      SNAP_EINVAL, msg.buf, err);
				if (ret == 0)
					ret = GONE;
			}
			break;
		}
		if (w->opts && w->opts->strict) {
			ret = snap_error(err, SNAP_EINVAL, "'%s' changed while it was read",
					 shown(w));
			break;
		}
		*now = after;
		if (lseek(fd, 0, SEEK_SET) < 0) {
			ret = snap_error_errno(err, "cannot read '%s'", shown(w));
			break;
		}
	}
	close(fd);
	strbuf_release(&msg);
	strbuf_release(&why);
	return ret;
}

/*
 * Stores a regular file; fd is its open descriptor, or -1 to open it here.
 * GONE when it is left out.
 */
static int store_file(struct walker *w, int dfd, const char *name, int fd,
		      const struct stat *st, struct tree_entry *e,
		      struct strbuf *err)
{
	const struct inode_seen *first;
	struct stat now;
	int ret, reused = 0, changed = 0;

	if (st->st_nlink > 1 && (first = inode_find(w, st->st_dev, st->st_ino))) {
		e->oid = first->oid;
		e->link = first->path;
		e->link_len = strlen(e->link);
		e->size = (uint64_t)st->st_size;
		if (fd >= 0)
			close(fd);
		return 0;
	}
	if (fd < 0 && reuse(w, &e->oid)) {
		now = *st;
		reused = 1;
		w->stats.files_reused++;
	} else {
		ret = read_file(w, dfd, name, fd, st, &now, &e->oid, &changed, err);
		if (ret)
			return ret;
		w->stats.files_read++;
	}
	e->size = (uint64_t)now.st_size;
	set_times(e, &now);
	/* What changed while read may not be what its stat data says. */
	if (w->cur && !changed &&
	    stat_cache_add(w->cur, w->path.buf, w->path.len, &now, &e->oid,
			   e->has_xattrs ? &e->xattrs : NULL) && !reused)
		w->nr_fresh++;
	if (st->st_nlink > 1) {
		inode_add(w, st->st_dev, st->st_ino, xstrdup(w->path.buf), &e->oid);
	}
	return 0;
}

static int store_symlink(struct walker *w, int dfd, const char *name,
			 const struct stat *st, struct tree_entry *e,
			 struct strbuf *err)
{
	struct strbuf target = STRBUF_INIT;
	size_t cap = st->st_size > 0 ? (size_t)st->st_size + 1 : 256;
	ssize_t n;
	int ret;

	for (;;) {
		strbuf_grow(&target, cap);
		n = readlinkat(dfd, name, target.buf, cap);
		if (n < 0) {
			strbuf_release(&target);
			return call_failed(w, errno, "read symlink", err);
		}
		if ((size_t)n < cap)
			break;
		cap *= 2;
	}
	strbuf_setlen(&target, (size_t)n);
	ret = odb_write_buf(w->odb, OBJ_BLOB, target.buf, target.len, &e->oid, err);
	e->size = target.len;
	strbuf_release(&target);
	return ret;
}

/*
 * The extended attributes of the entry at hand: those of a regular
 * file's stat cache entry when its stat data is unchanged (setting them
 * sets the ctime), else read from the file.  Also finds the cache entry
 * that reuse() takes the blob from.
 */
static int entry_xattrs(struct walker *w, int dfd, const char *name, int fd,
			const struct stat *st, struct tree_entry *e, struct strbuf *err)
{
	const struct stat_cache_entry *c = NULL;

	if (S_ISREG(st->st_mode) && w->old && fd < 0)
		c = w->hit = stat_cache_lookup(w->old, w->path.buf, w->path.len, st);
	if (c && (!c->has_xattrs || odb_freshen(w->odb, &c->xattrs))) {
		e->has_xattrs = c->has_xattrs;
		e->xattrs = c->xattrs;
		return 0;
	}
	return xattr_store(w->odb, fd, dfd, name, st, w->opts ? w->opts->xattr_flags : 0,
			   &e->xattrs, &e->has_xattrs, shown(w), err);
}

/*
 * One directory being stored.  The walk keeps a stack of these, not C
 * stack frames, so that depth costs heap only.  Only the deepest
 * OPEN_DIRS frames hold their descriptor: one above them is closed, and
 * opened again through ".." of its child when the walk comes back to it
 * (checked to be the same directory by device and inode).
 */
struct frame {
	int fd;			/* -1 while closed */
	dev_t dev;
	ino_t ino;
	char **names, *pool;	/* from read_names() */
	size_t nr, next;	/* the entries and the next one to store */
	size_t base;		/* length of w->path for this directory */
	struct tree t;
	struct tree_entry self;	/* its own entry, added to the parent at the end */
};

#define OPEN_DIRS 64

static void frame_release(struct frame *f)
{
	if (f->fd >= 0)
		close(f->fd);
	free(f->pool);
	free(f->names);
	tree_release(&f->t);
}

/*
 * Stores one entry of the directory dfd.  A directory to descend into is
 * not stored here: *sub is set to its open descriptor and *dir_entry to
 * its entry (all but the id), and the caller walks it.
 */
static int store_entry(struct walker *w, int dfd, const char *name,
		       unsigned char d_type, struct tree *t, int *sub,
		       struct tree_entry *dir_entry, struct strbuf *err)
{
	struct tree_entry e;
	struct stat st;
	int ret = 0, fd = -1;

	memset(&e, 0, sizeof(e));
	*sub = -1;
	w->hit = NULL;
	if (excluded(w, name))
		return 0;
	run_hook(w, "listed");
	if (d_type == DT_REG && !w->old) {
		/*
		 * Open first and stat the descriptor: one call fewer.  With
		 * a cache, stat first: most files need no opening.
		 */
		fd = open_file(dfd, name);
		if (fd >= 0 && (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))) {
			close(fd);
			fd = -1;
		}
	}
	if (fd < 0 && fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		ret = call_failed(w, errno, "stat", err);
		return ret < 0 ? ret : 0;
	}
	set_times(&e, &st);
	/* Fewer blocks than the size takes: holes, to restore as holes. */
	e.sparse = S_ISREG(st.st_mode) && (uint64_t)st.st_blocks * 512 < (uint64_t)st.st_size;
	ret = entry_xattrs(w, dfd, name, fd, &st, &e, err);
	if (ret < 0) {
		if (fd >= 0)
			close(fd);
		if (ret == SNAP_ENOTFOUND)	/* gone since it was stat'ed */
			ret = call_failed(w, ENOENT, "open", err);
		return ret < 0 ? ret : 0;
	}
	if (S_ISREG(st.st_mode)) {
		e.type = TREE_FILE;
		ret = store_file(w, dfd, name, fd, &st, &e, err);
		fd = -1;
	} else if (S_ISDIR(st.st_mode)) {
		if (is_store(w, &st))
			return 0;
		e.type = TREE_DIR;
		if (w->opts && w->opts->one_fs && st.st_dev != w->root_dev) {
			ret = odb_write_buf(w->odb, OBJ_TREE, "", 0, &e.oid, err);
		} else {
			*sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (*sub < 0) {
				ret = call_failed(w, errno, "open directory", err);
				return ret < 0 ? ret : 0;
			}
			e.name = (char *)name;
			e.name_len = strlen(name);
			*dir_entry = e;
			return 0;
		}
	} else if (S_ISLNK(st.st_mode)) {
		e.type = TREE_SYMLINK;
		ret = store_symlink(w, dfd, name, &st, &e, err);
	} else if (S_ISFIFO(st.st_mode)) {
		e.type = TREE_FIFO;
	} else if (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)) {
		e.type = S_ISCHR(st.st_mode) ? TREE_CHR : TREE_BLK;
		e.rdev_major = major(st.st_rdev);
		e.rdev_minor = minor(st.st_rdev);
	} else {
		warnf(w, S_ISSOCK(st.st_mode) ? "socket" : "unknown file type");
		return 0;
	}
	if (ret == GONE)
		return 0;
	if (ret < 0)
		return ret;
	e.name = (char *)name;
	e.name_len = strlen(name);
	tree_add(t, &e);
	return 0;
}

/* Pushes a frame for the open directory fd and reads its names. */
static int push_dir(struct walker *w, struct frame **stack, size_t *nr, size_t *alloc,
		    int fd, struct strbuf *err)
{
	struct frame *f;
	struct stat st;
	int ret;

	ALLOC_GROW(*stack, *nr + 1, *alloc);
	f = &(*stack)[(*nr)++];
	memset(f, 0, sizeof(*f));
	f->fd = fd;
	f->base = w->path.len;
	if (fstat(fd, &st) < 0)
		return snap_error_errno(err, "cannot stat '%s'", shown(w));
	f->dev = st.st_dev;
	f->ino = st.st_ino;
	ret = read_names(fd, &f->names, &f->nr, &f->pool, err, shown(w));
	if (ret == 0 && *nr > OPEN_DIRS) {
		struct frame *far = &(*stack)[*nr - 1 - OPEN_DIRS];
		close(far->fd);
		far->fd = -1;
	}
	return ret;
}

/* Opens parent's directory again through ".." of child's, if it was closed. */
static int reopen_parent(struct walker *w, struct frame *parent, const struct frame *child,
			 struct strbuf *err)
{
	struct stat st;

	if (parent->fd >= 0)
		return 0;
	parent->fd = openat(child->fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (parent->fd < 0)
		return snap_error_errno(err, "cannot open directory '%.*s'",
					(int)parent->base, parent->base ? w->path.buf : ".");
	if (fstat(parent->fd, &st) < 0 || st.st_dev != parent->dev || st.st_ino != parent->ino)
		return snap_error(err, SNAP_EINVAL, "'%.*s' moved while it was read",
				  (int)parent->base, parent->base ? w->path.buf : ".");
	return 0;
}

/*
 * Stores the tree of the open directory root (which it takes over),
 * depth-first with entries in name order, without recursion.
 */
static int walk(struct walker *w, int root, struct snap_oid *out, struct strbuf *err)
{
	struct frame *stack = NULL;
	struct strbuf buf = STRBUF_INIT;
	size_t nr = 0, alloc = 0;
	int ret;

	ret = push_dir(w, &stack, &nr, &alloc, root, err);
	while (ret == 0 && nr) {
		struct frame *f = &stack[nr - 1];
		struct tree_entry e;
		const char *name;
		int sub;

		if (f->next < f->nr) {
			name = f->names[f->next] + 1;
			strbuf_setlen(&w->path, f->base);
			if (f->base)
				strbuf_addch(&w->path, '/');
			strbuf_addstr(&w->path, name);
			ret = store_entry(w, f->fd, name, (unsigned char)f->names[f->next][0],
					  &f->t, &sub, &e, err);
			f->next++;
			if (ret == 0 && sub >= 0) {
				ret = push_dir(w, &stack, &nr, &alloc, sub, err);
				if (ret == 0)
					stack[nr - 1].self = e;
			}
			continue;
		}
		/* Every entry is in: store this tree, add it to the parent. */
		strbuf_setlen(&w->path, f->base);
		strbuf_reset(&buf);
		ret = tree_encode(&f->t, &buf, err);
		if (ret == 0)
			ret = odb_write_buf(w->odb, OBJ_TREE, buf.buf, buf.len,
					    nr == 1 ? out : &f->self.oid, err);
		if (ret == 0 && nr > 1) {
			struct frame *parent = &stack[nr - 2];
			ret = reopen_parent(w, parent, f, err);
			if (ret == 0)
				tree_add(&parent->t, &f->self);
		}
		if (ret == 0 && nr > 1)
			strbuf_setlen(&w->path, stack[nr - 2].base);
		frame_release(f);
		nr--;
	}
	while (nr)
		frame_release(&stack[--nr]);
	free(stack);
	strbuf_release(&buf);
	return ret;
}

/* Writes the new cache if it differs from the old one; failure is a warning. */
static void save_cache(struct walker *w, const char *path)
{
	struct strbuf err = STRBUF_INIT, msg = STRBUF_INIT;

	if (w->old && !w->nr_fresh && w->cur->nr == w->old->nr)
		return;		/* the same entries: the old file stays right */
	if (stat_cache_write(w->cur, odb_store(w->odb), path, &err) < 0 &&
	    w->opts->warn) {
		strbuf_addf(&msg, "%s; the next snapshot reads every file", err.buf);
		w->opts->warn(msg.buf, w->opts->warn_data);
	}
	strbuf_release(&err);
	strbuf_release(&msg);
}

int write_tree(struct odb *odb, const char *dir,
	       const struct write_tree_opts *opts, struct snap_oid *out,
	       struct strbuf *err)
{
	struct walker w;
	struct stat st, store_st;
	struct stat_cache old, cur;
	struct strbuf cache_path = STRBUF_INIT;
	size_t i;
	int fd, ret;

	memset(&w, 0, sizeof(w));
	w.odb = odb;
	w.opts = opts;
	strbuf_init(&w.path, 0);
	w.hook_path = getenv("SNAP_TEST_HOOK_PATH");
	w.hook_at = getenv("SNAP_TEST_HOOK_AT");
	w.hook_cmd = getenv("SNAP_TEST_HOOK_CMD");
	if (!w.hook_path || !w.hook_at)
		w.hook_cmd = NULL;
	if (opts && opts->cache &&
	    (ret = stat_cache_path(odb_store(odb), opts->cache, &cache_path, err)) < 0)
		return ret;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		strbuf_release(&cache_path);
		return snap_error_errno(err, "cannot open directory '%s'", dir);
	}
	if (fstat(fd, &st) < 0) {
		close(fd);
		strbuf_release(&cache_path);
		return snap_error_errno(err, "cannot stat '%s'", dir);
	}
	w.root_dev = st.st_dev;
	if (stat(odb_store(odb)->path, &store_st) == 0) {
		w.has_store = 1;
		w.store_dev = store_st.st_dev;
		w.store_ino = store_st.st_ino;
		if (st.st_dev == store_st.st_dev && st.st_ino == store_st.st_ino) {
			close(fd);
			strbuf_release(&cache_path);
			return snap_error(err, SNAP_EINVAL, "'%s' is the store itself", dir);
		}
	}
	if (cache_path.len) {
		/* Stamped before any file is looked at (lib/statcache.h). */
		stat_cache_init(&cur, &st);
		cur.xattr_flags = opts->xattr_flags;
		w.cur = &cur;
		stat_cache_init(&old, &st);
		/* One made leaving other attributes out cannot give them. */
		if (!opts->force_read &&
		    stat_cache_read(&old, cache_path.buf, &st, NULL) == 0 &&
		    old.xattr_flags == opts->xattr_flags) {
			w.old = &old;
			stat_cache_reserve(&cur, old.nr, old.paths.len);
		}
	}
	raise_fd_limit();
	odb_batch_begin(odb);
	ret = walk(&w, fd, out, err);
	if (ret == 0)
		ret = odb_batch_end(odb, err);
	else
		odb_batch_abort(odb);
	if (ret == 0 && w.cur)
		save_cache(&w, cache_path.buf);
	if (ret == 0 && opts && opts->stats)
		*opts->stats = w.stats;
	if (w.cur) {
		stat_cache_release(&old);
		stat_cache_release(&cur);
	}
	for (i = 0; i < w.size_seen; i++)
		free(w.seen[i].path);
	free(w.seen);
	strbuf_release(&w.path);
	strbuf_release(&cache_path);
	return ret;
}
