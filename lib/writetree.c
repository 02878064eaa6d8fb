#include "writetree.h"
#include "progress.h"
#include "error.h"
#include "exclude.h"
#include "fsio.h"
#include "statcache.h"
#include "store.h"
#include "tree.h"
#include "util.h"
#include "xattr.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
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
	const struct stat_cache_entry *hit;	/* old's for the entry at hand */
	struct stat_cache *cur;	/* the cache being built, or NULL */
	size_t nr_fresh;	/* entries of cur not taken from old */
	struct write_tree_stats stats;
	const char *hook_path, *hook_at, *hook_cmd;	/* see run_hook() */
	struct exclude *excl;	/* opts->excludes prepared, or NULL */
	int is_source;		/* the entry at hand is a source path itself */
	size_t src_base;	/* where the path below the source starts in path */
	/* abs_base bytes: the absolute DIR + '/' without the leading '/' */
	struct strbuf abs;
	size_t abs_base;
};

static int dry_run(const struct walker *w)
{
	return w->opts && w->opts->dry_run;
}

/* Under dry_run, the line "WHAT PATH" of the entry at hand. */
static void list_entry(struct walker *w, const char *what)
{
	struct strbuf path = STRBUF_INIT;

	if (!dry_run(w) || !w->opts->list)
		return;
	tree_escape(&path, w->path.buf, w->path.len);
	w->opts->list(what, path.buf, w->opts->list_data);
	strbuf_release(&path);
}

/* odb_write_buf(), or under dry_run nothing (and a zero id). */
static int write_obj(struct walker *w, enum object_type type, const void *buf,
		     size_t len, struct snap_oid *out, struct strbuf *err)
{
	if (dry_run(w)) {
		memset(out, 0, sizeof(*out));
		return 0;
	}
	return odb_write_buf(w->odb, type, buf, len, out, err);
}

static void excludes_prepare(struct walker *w)
{
	size_t i;

	if (!w->opts || !w->opts->nr_excludes)
		return;
	w->excl = xcalloc(w->opts->nr_excludes, sizeof(*w->excl));
	for (i = 0; i < w->opts->nr_excludes; i++)
		exclude_prepare(&w->excl[i], w->opts->excludes[i]);
	if (w->opts->exclude_hits)
		memset(w->opts->exclude_hits, 0, w->opts->nr_excludes * sizeof(uint64_t));
}

/*
 * 1 if the entry at hand, name in dfd, is left out by a pattern.  Its
 * type is the one d_type gives, or is looked up only when a pattern for
 * directories needs it.
 */
static int excluded(struct walker *w, int dfd, const char *name, unsigned char d_type)
{
	int is_dir = d_type == DT_UNKNOWN ? -1 : d_type == DT_DIR;
	size_t i;

	if (w->is_source)
		return 0;
	for (i = 0; w->excl && i < w->opts->nr_excludes; i++) {
		const struct exclude *x = &w->excl[i];
		int hit;

		switch (x->kind) {
		case EXCLUDE_NAME:
			hit = exclude_match(x, name);
			break;
		case EXCLUDE_BELOW:
			hit = exclude_match(x, w->path.buf + w->src_base);
			break;
		default:
			strbuf_setlen(&w->abs, w->abs_base);
			strbuf_addbuf(&w->abs, &w->path);
			hit = exclude_match(x, w->abs.buf);
			break;
		}
		if (hit && x->dir_only) {
			if (is_dir < 0) {
				struct stat st;
				is_dir = fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
					 S_ISDIR(st.st_mode);
			}
			hit = is_dir;
		}
		if (hit) {
			if (w->opts->exclude_hits)
				w->opts->exclude_hits[i]++;
			list_entry(w, "skip");
			return 1;
		}
	}
	return 0;
}

/* The signature a CACHEDIR.TAG starts with (Cache Directory Tagging). */
static const char cachedir_sig[] = "Signature: 8a477f597d28d172789f06886806bc55";

/* 1 if dfd holds a regular file CACHEDIR.TAG that starts with the signature. */
static int is_cache_dir(int dfd)
{
	char buf[sizeof(cachedir_sig) - 1];
	struct stat st;
	ssize_t n;
	int fd = openat(dfd, "CACHEDIR.TAG", O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);

	if (fd < 0)
		return 0;
	n = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) ?
	    pread(fd, buf, sizeof(buf), 0) : -1;
	close(fd);
	return n == (ssize_t)sizeof(buf) && !memcmp(buf, cachedir_sig, sizeof(buf));
}

static void warnf(struct walker *w, const char *what)
{
	struct strbuf msg = STRBUF_INIT;

	if (!w->opts || !w->opts->warn)
		return;
	strbuf_addf(&msg, "skipping %s '", what);
	strbuf_addquoted(&msg, w->path.buf, w->path.len);
	strbuf_addch(&msg, '\'');
	progress_clear(w->meter);
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
		progress_clear(w->meter);
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

	if (!c || !(dry_run(w) ? odb_has(w->odb, &c->oid) == 1 : odb_freshen(w->odb, &c->oid)))
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
	} else if (dry_run(w)) {
		/* Opened, so that one that cannot be is a problem here too. */
		if (fd < 0 && (fd = open_file(dfd, name)) < 0)
			return call_failed(w, errno, "open", err);
		close(fd);
		now = *st;
		memset(&e->oid, 0, sizeof(e->oid));
		list_entry(w, "read");
		w->stats.files_read++;
	} else {
		ret = read_file(w, dfd, name, fd, st, &now, &e->oid, &changed, err);
		if (ret)
			return ret;
		w->stats.files_read++;
	}
	e->size = (uint64_t)now.st_size;
	if (!reused)
		w->bytes_read += e->size;
	progress_update(w->meter, w->stats.files_read + w->stats.files_reused, w->bytes_read);
	set_times(e, &now);
	/* What changed while read may not be what its stat data says. */
	if (w->cur && !changed && !dry_run(w) &&
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
	ret = write_obj(w, OBJ_BLOB, target.buf, target.len, &e->oid, err);
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
	if (c && (!c->has_xattrs || (dry_run(w) ? odb_has(w->odb, &c->xattrs) == 1
					      : odb_freshen(w->odb, &c->xattrs)))) {
		e->has_xattrs = c->has_xattrs;
		e->xattrs = c->xattrs;
		return 0;
	}
	if (dry_run(w))
		return 0;	/* a dry run stores no attribute set */
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

/* 1 if the directory fd holds an entry --exclude-if-present names. */
static int has_marker(struct walker *w, int fd)
{
	struct stat st;
	size_t i;

	for (i = 0; !w->is_source && w->opts && i < w->opts->nr_if_present; i++)
		if (fstatat(fd, w->opts->if_present[i], &st, AT_SYMLINK_NOFOLLOW) == 0)
			return 1;
	return 0;
}

/* Keeps only CACHEDIR.TAG among the names of a tagged cache directory. */
static void keep_cache_tag(struct walker *w, struct frame *f)
{
	size_t i;

	if (!w->opts || !w->opts->exclude_caches)
		return;
	for (i = 0; i < f->nr; i++)
		if (!strcmp(f->names[i] + 1, "CACHEDIR.TAG"))
			break;
	if (i == f->nr || !is_cache_dir(f->fd))
		return;
	if (dry_run(w)) {
		size_t j, base = w->path.len;

		for (j = 0; j < f->nr; j++) {
			if (j == i)
				continue;
			if (base)
				strbuf_addch(&w->path, '/');
			strbuf_addstr(&w->path, f->names[j] + 1);
			list_entry(w, "skip");
			strbuf_setlen(&w->path, base);
		}
	}
	f->names[0] = f->names[i];
	f->nr = 1;
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
	if (excluded(w, dfd, name, d_type))
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
	if (S_ISREG(st.st_mode) && w->opts && w->opts->exclude_larger && !w->is_source &&
	    (uint64_t)st.st_size > w->opts->larger_than) {
		if (fd >= 0)
			close(fd);
		list_entry(w, "skip");
		return 0;
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
			ret = write_obj(w, OBJ_TREE, "", 0, &e.oid, err);
		} else {
			*sub = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (*sub < 0) {
				ret = call_failed(w, errno, "open directory", err);
				return ret < 0 ? ret : 0;
			}
			if (has_marker(w, *sub)) {
				close(*sub);
				*sub = -1;
				list_entry(w, "skip");
				return 0;
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
	if (ret == 0)
		keep_cache_tag(w, f);
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
			ret = write_obj(w, OBJ_TREE, buf.buf, buf.len,
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
		progress_clear(w->meter);
		w->opts->warn(msg.buf, w->opts->warn_data);
	}
	strbuf_release(&err);
	strbuf_release(&msg);
}

static void walker_init(struct walker *w, struct odb *odb, const struct write_tree_opts *opts)
{
	memset(w, 0, sizeof(*w));
	w->odb = odb;
	w->opts = opts;
	strbuf_init(&w->path, 0);
	strbuf_init(&w->abs, 0);
	w->hook_path = getenv("SNAP_TEST_HOOK_PATH");
	w->hook_at = getenv("SNAP_TEST_HOOK_AT");
	w->hook_cmd = getenv("SNAP_TEST_HOOK_CMD");
	if (!w->hook_path || !w->hook_at)
		w->hook_cmd = NULL;
	excludes_prepare(w);
}

static void walker_release(struct walker *w)
{
	size_t i;

	for (i = 0; i < w->size_seen; i++)
		free(w->seen[i].path);
	free(w->seen);
	for (i = 0; w->excl && i < w->opts->nr_excludes; i++)
		exclude_release(&w->excl[i]);
	free(w->excl);
	strbuf_release(&w->path);
	strbuf_release(&w->abs);
}

/* Learns the store's device and inode. */
static void find_store(struct walker *w)
{
	struct stat st;

	if (stat(odb_store(w->odb)->path, &st) == 0) {
		w->has_store = 1;
		w->store_dev = st.st_dev;
		w->store_ino = st.st_ino;
	}
}

/*
 * Runs store(w, data, out, err) in one odb batch with the stat cache
 * opts->cache for the root directory root_st, then saves the cache.
 */
static int walk_batch(struct walker *w, const struct stat *root_st,
		      int (*store)(struct walker *, void *, struct snap_oid *, struct strbuf *),
		      void *data, struct snap_oid *out, struct strbuf *err)
{
	const struct write_tree_opts *opts = w->opts;
	struct stat_cache old, cur;
	struct strbuf cache_path = STRBUF_INIT;
	int ret;

	if (opts && opts->cache &&
	    (ret = stat_cache_path(odb_store(w->odb), opts->cache, &cache_path, err)) < 0)
		return ret;
	if (cache_path.len) {
		/* Stamped before any file is looked at (lib/statcache.h). */
		stat_cache_init(&cur, root_st);
		cur.xattr_flags = opts->xattr_flags;
		w->cur = &cur;
		stat_cache_init(&old, root_st);
		/* One made leaving other attributes out cannot give them. */
		if (!opts->force_read &&
		    stat_cache_read(&old, cache_path.buf, root_st, NULL) == 0 &&
		    old.xattr_flags == opts->xattr_flags) {
			w->old = &old;
			stat_cache_reserve(&cur, old.nr, old.paths.len);
		}
	}
	raise_fd_limit();
	if (!dry_run(w))
		w->meter = progress_start("files", 0);
	if (dry_run(w)) {
		ret = store(w, data, out, err);
	} else {
		odb_batch_begin(w->odb);
		ret = store(w, data, out, err);
		if (ret == 0)
			ret = odb_batch_end(w->odb, err);
		else
			odb_batch_abort(w->odb);
		if (ret == 0 && w->cur)
			save_cache(w, cache_path.buf);
	}
	progress_done(w->meter);
	w->meter = NULL;
	if (ret == 0 && opts && opts->stats)
		*opts->stats = w->stats;
	if (w->cur) {
		stat_cache_release(&old);
		stat_cache_release(&cur);
	}
	strbuf_release(&cache_path);
	return ret;
}

static int store_root(struct walker *w, void *data, struct snap_oid *out, struct strbuf *err)
{
	return walk(w, *(int *)data, out, err);
}

int abs_path_clean(const char *path, struct strbuf *out, struct strbuf *err)
{
	struct strbuf in = STRBUF_INIT;
	const char *p;

	strbuf_reset(out);
	if (path[0] != '/') {
		char *cwd = getcwd(NULL, 0);
		if (!cwd)
			return snap_error_errno(err, "cannot find the working directory");
		strbuf_addstr(&in, cwd);
		strbuf_addch(&in, '/');
		free(cwd);
	}
	strbuf_addstr(&in, path);
	for (p = in.buf; *p;) {
		const char *e = strchrnul(p, '/');
		size_t len = (size_t)(e - p);

		if (len == 2 && p[0] == '.' && p[1] == '.') {
			char *slash = strrchr(out->buf, '/');
			strbuf_setlen(out, slash ? (size_t)(slash - out->buf) : 0);
		} else if (len && !(len == 1 && p[0] == '.')) {
			strbuf_addch(out, '/');
			strbuf_add(out, p, len);
		}
		p = *e ? e + 1 : e;
	}
	if (!out->len)
		strbuf_addch(out, '/');
	strbuf_release(&in);
	return 0;
}

int write_tree(struct odb *odb, const char *dir,
	       const struct write_tree_opts *opts, struct snap_oid *out,
	       struct strbuf *err)
{
	struct walker w;
	struct strbuf absdir = STRBUF_INIT;
	struct stat st;
	int fd, ret;

	walker_init(&w, odb, opts);
	ret = abs_path_clean(dir, &absdir, err);
	if (ret < 0)
		goto out;
	/* Anchored patterns are matched without the leading '/'. */
	strbuf_addstr(&w.abs, absdir.buf + 1);
	if (w.abs.len)
		strbuf_addch(&w.abs, '/');
	w.abs_base = w.abs.len;
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		ret = snap_error_errno(err, "cannot open directory '%s'", dir);
		goto out;
	}
	if (fstat(fd, &st) < 0) {
		close(fd);
		ret = snap_error_errno(err, "cannot stat '%s'", dir);
		goto out;
	}
	w.root_dev = st.st_dev;
	find_store(&w);
	if (w.has_store && st.st_dev == w.store_dev && st.st_ino == w.store_ino) {
		close(fd);
		ret = snap_error(err, SNAP_EINVAL, "'%s' is the store itself", dir);
		goto out;
	}
	ret = walk_batch(&w, &st, store_root, &fd, out, err);
out:
	walker_release(&w);
	strbuf_release(&absdir);
	return ret;
}

/* The source paths of write_tree_paths(), relative to "/", sorted. */
struct sources {
	char **rel;
	size_t nr;
};

/*
 * Stores the directory "/" + w->path, which holds (at any depth) the
 * source paths src[0..nr), as a tree of what leads to them.
 */
static int store_above(struct walker *w, char **src, size_t nr,
		       struct snap_oid *out, struct strbuf *err)
{
	struct tree t = TREE_INIT;
	struct strbuf dir = STRBUF_INIT, buf = STRBUF_INIT, name = STRBUF_INIT;
	size_t base = w->path.len, i = 0, j;
	int dfd, ret = 0;

	strbuf_addch(&dir, '/');
	strbuf_addbuf(&dir, &w->path);
	/* O_PATH: a directory above a source path may be searchable only. */
	dfd = open(dir.buf, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		ret = snap_error_errno(err, "cannot open directory '%s'", dir.buf);
	while (ret == 0 && i < nr) {
		const char *rest = src[i] + base + (base ? 1 : 0);
		size_t len = strcspn(rest, "/");
		struct tree_entry e;
		struct stat st;
		int sub = -1;

		strbuf_reset(&name);
		strbuf_add(&name, rest, len);
		for (j = i + 1; j < nr; j++) {
			const char *r = src[j] + base + (base ? 1 : 0);
			if (strncmp(r, name.buf, len) || r[len] != '/')
				break;
		}
		strbuf_setlen(&w->path, base);
		if (base)
			strbuf_addch(&w->path, '/');
		strbuf_addbuf(&w->path, &name);
		memset(&e, 0, sizeof(e));
		if (!rest[len]) {
			/* A source path: stored as write_tree() stores DIR's entries. */
			if (fstatat(dfd, name.buf, &st, AT_SYMLINK_NOFOLLOW) == 0)
				w->root_dev = st.st_dev;
			w->src_base = w->path.len + 1;
			w->is_source = 1;
			ret = store_entry(w, dfd, name.buf, DT_UNKNOWN, &t, &sub, &e, err);
			w->is_source = 0;
			if (ret == 0 && sub >= 0) {
				ret = walk(w, sub, &e.oid, err);
				if (ret == 0)
					tree_add(&t, &e);
			}
		} else if (fstatat(dfd, name.buf, &st, 0) < 0) {
			ret = snap_error_errno(err, "cannot stat '/%s'", w->path.buf);
		} else if (!S_ISDIR(st.st_mode)) {
			ret = snap_error(err, SNAP_EINVAL, "'/%s' is not a directory", w->path.buf);
		} else {
			ret = store_above(w, src + i, j - i, &e.oid, err);
			if (ret == 0) {
				set_times(&e, &st);
				e.type = TREE_DIR;
				e.name = name.buf;
				e.name_len = name.len;
				tree_add(&t, &e);
			}
		}
		i = j;
	}
	strbuf_setlen(&w->path, base);
	if (ret == 0) {
		tree_sort(&t);
		ret = tree_encode(&t, &buf, err);
	}
	if (ret == 0)
		ret = write_obj(w, OBJ_TREE, buf.buf, buf.len, out, err);
	if (dfd >= 0)
		close(dfd);
	tree_release(&t);
	strbuf_release(&dir);
	strbuf_release(&buf);
	strbuf_release(&name);
	return ret;
}

static int store_sources(struct walker *w, void *data, struct snap_oid *out, struct strbuf *err)
{
	struct sources *s = data;

	return store_above(w, s->rel, s->nr, out, err);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int write_tree_paths(struct odb *odb, const char *const *paths, size_t nr,
		     const struct write_tree_opts *opts, struct snap_oid *out,
		     struct strbuf *abs, struct strbuf *err)
{
	struct walker w;
	struct sources s = { NULL, 0 };
	struct strbuf one = STRBUF_INIT;
	struct stat st;
	size_t i, alloc = 0;
	int ret = 0;

	if (!nr)
		return snap_error(err, SNAP_EINVAL, "no path to store");
	for (i = 0; ret == 0 && i < nr; i++) {
		ret = abs_path_clean(paths[i], &one, err);
		if (ret == 0 && lstat(one.buf, &st) < 0)
			ret = snap_error_errno(err, "cannot stat '%s'", one.buf);
		if (ret == 0) {
			ALLOC_GROW(s.rel, s.nr + 1, alloc);
			s.rel[s.nr++] = xstrdup(one.buf + 1);
		}
	}
	if (ret == 0)
		QSORT(s.rel, s.nr, cmp_str);
	/* Sorted, a path inside another comes right after it or one inside it. */
	for (i = 1; ret == 0 && i < s.nr; i++) {
		size_t len = strlen(s.rel[i - 1]);

		if (!strcmp(s.rel[i - 1], s.rel[i])) {
			free(s.rel[i]);
			memmove(s.rel + i, s.rel + i + 1, (s.nr - i - 1) * sizeof(*s.rel));
			s.nr--;
			i--;
		} else if (!len || (!strncmp(s.rel[i - 1], s.rel[i], len) && s.rel[i][len] == '/')) {
			ret = snap_error(err, SNAP_EINVAL, "'/%s' is inside '/%s'; give one of them",
					 s.rel[i], s.rel[i - 1]);
		}
	}
	if (ret == 0 && s.nr == 1 && !s.rel[0][0]) {
		/* "/" alone: its entries at the root, as a tree rooted at "/" is. */
		ret = write_tree(odb, "/", opts, out, err);
	} else if (ret == 0 && stat("/", &st) < 0) {
		ret = snap_error_errno(err, "cannot stat '/'");
	} else if (ret == 0) {
		walker_init(&w, odb, opts);
		find_store(&w);
		ret = walk_batch(&w, &st, store_sources, &s, out, err);
		walker_release(&w);
	}
	for (i = 0; i < s.nr; i++) {
		if (ret == 0 && abs) {
			strbuf_addch(abs, '/');
			tree_escape(abs, s.rel[i], strlen(s.rel[i]));
			strbuf_addch(abs, '\n');
		}
		free(s.rel[i]);
	}
	free(s.rel);
	strbuf_release(&one);
	return ret;
}
