/*
 * write-tree's storing of one entry: a regular file read into a blob and
 * checked not to have changed meanwhile (or its blob reused from the
 * stat cache), a hard link to its group's first member, a symlink, the
 * entry's extended attributes and inode flags; and the problems met, reported or, under
 * strict, errors (writetree.h, "Problems").
 */
#include "writetree.h"
#include "writetree-internal.h"

#include "error.h"
#include "fsflags.h"
#include "fsio.h"
#include "progress.h"
#include "statcache.h"
#include "util.h"
#include "xattr.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int wt_dry_run(const struct walker *w)
{
	return w->opts && w->opts->dry_run;
}

/* Under dry_run, the line "WHAT PATH" of the entry at hand. */
void wt_list_entry(struct walker *w, const char *what)
{
	struct strbuf path = STRBUF_INIT;

	if (!wt_dry_run(w) || !w->opts->list)
		return;
	tree_escape(&path, w->path.buf, w->path.len);
	w->opts->list(what, path.buf, w->opts->list_data);
	strbuf_release(&path);
}

/* odb_write_buf(), or under dry_run nothing (and a zero id). */
int wt_write_obj(struct walker *w, enum object_type type, const void *buf,
		 size_t len, struct snap_oid *out, struct strbuf *err)
{
	if (wt_dry_run(w)) {
		memset(out, 0, sizeof(*out));
		return 0;
	}
	return odb_write_buf(w->odb, type, buf, len, out, err);
}

void wt_warnf(struct walker *w, const char *what)
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
void wt_run_hook(struct walker *w, const char *at)
{
	int status;

	if (!w->hook_cmd || strcmp(w->hook_at, at) || strcmp(w->hook_path, w->path.buf))
		return;
	status = system(w->hook_cmd);
	(void)status;
}

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
int wt_call_failed(struct walker *w, int errnum, const char *what, struct strbuf *err)
{
	struct strbuf msg = STRBUF_INIT;
	int ret;

	strbuf_addf(&msg, "cannot %s '%s': %s", what, wt_shown(w), strerror(errnum));
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

void wt_set_times(struct tree_entry *e, const struct stat *st)
{
	e->perm = st->st_mode & 07777;
	e->uid = st->st_uid;
	e->gid = st->st_gid;
	e->mtime_sec = st->st_mtim.tv_sec;
	e->mtime_nsec = (uint32_t)st->st_mtim.tv_nsec;
}

const char *wt_shown(struct walker *w)
{
	return w->path.len ? w->path.buf : ".";
}

/* The blob of a file from the old cache, if it may be reused. */
static int reuse(struct walker *w, struct snap_oid *oid)
{
	const struct stat_cache_entry *c = w->hit;	/* found by wt_store_entry() */

	if (!c || !(wt_dry_run(w) ? odb_has(w->odb, &c->oid) == 1 : odb_freshen(w->odb, &c->oid)))
		return 0;
	*oid = c->oid;
	return 1;
}

int wt_open_file(int dfd, const char *name)
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
		fd = wt_open_file(dfd, name);
		if (fd < 0)
			return wt_call_failed(w, errno, "open", err);
		if (fstat(fd, now) < 0) {
			ret = snap_error_errno(err, "cannot stat '%s'", wt_shown(w));
			close(fd);
			return ret;
		}
	} else {
		*now = *st;
	}
	if (now->st_ino != st->st_ino || now->st_dev != st->st_dev || !S_ISREG(now->st_mode)) {
		close(fd);
		strbuf_addf(&msg, "'%s' was replaced while it was read", wt_shown(w));
		ret = problem(w, "vanished", "replaced while read, left out", SNAP_EINVAL,
			      msg.buf, err);
		strbuf_release(&msg);
		return ret < 0 ? ret : GONE;
	}
	for (tries = 0;; tries++) {
		wt_run_hook(w, "opened");
		strbuf_reset(&why);
		ret = odb_write_fd_prefix(w->odb, OBJ_BLOB, fd, (uint64_t)now->st_size,
					  wt_shown(w), oid, &why);
		wt_run_hook(w, "read");
		/* SNAP_EINVAL: it shrank while it was read. */
		if (ret < 0 && ret != SNAP_EINVAL) {
			strbuf_addbuf(err, &why);
			break;
		}
		if (fstat(fd, &after) < 0) {
			ret = snap_error_errno(err, "cannot stat '%s'", wt_shown(w));
			break;
		}
		if (ret == 0 && same_stat(now, &after) &&
		    pread(fd, &c, 1, (off_t)now->st_size) <= 0)
			break;
		if (tries) {
			strbuf_addf(&msg, "'%s' changed while it was read", wt_shown(w));
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
					 wt_shown(w));
			break;
		}
		*now = after;
		if (lseek(fd, 0, SEEK_SET) < 0) {
			ret = snap_error_errno(err, "cannot read '%s'", wt_shown(w));
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
int wt_store_file(struct walker *w, int dfd, const char *name, int fd,
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
	} else if (wt_dry_run(w)) {
		/* Opened, so that one that cannot be is a problem here too. */
		if (fd < 0 && (fd = wt_open_file(dfd, name)) < 0)
			return wt_call_failed(w, errno, "open", err);
		close(fd);
		now = *st;
		memset(&e->oid, 0, sizeof(e->oid));
		wt_list_entry(w, "read");
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
	wt_set_times(e, &now);
	/*
	 * What changed while read may not be what its stat data says; an
	 * attribute that could not be read is tried again next time.
	 */
	if (w->cur && !changed && !w->xattrs_partial && !wt_dry_run(w) &&
	    stat_cache_add(w->cur, w->path.buf, w->path.len, &now, &e->oid,
			   e->has_xattrs ? &e->xattrs : NULL, w->flags_read) && !reused)
		w->nr_fresh++;
	if (st->st_nlink > 1) {
		inode_add(w, st->st_dev, st->st_ino, xstrdup(w->path.buf), &e->oid);
	}
	return 0;
}

int wt_store_symlink(struct walker *w, int dfd, const char *name,
		     const struct stat *st, struct tree_entry *e,
		     struct strbuf *err)
{
	struct strbuf target = STRBUF_INIT;
	size_t cap = st->st_size > 0 ? (size_t)st->st_size + 1 : 256;
	ssize_t n;
	int ret;

	if (reuse(w, &e->oid)) {
		e->size = (uint64_t)st->st_size;
		wt_cache_add(w, st, e);
		return 0;
	}
	for (;;) {
		strbuf_grow(&target, cap);
		n = readlinkat(dfd, name, target.buf, cap);
		if (n < 0) {
			strbuf_release(&target);
			return wt_call_failed(w, errno, "read symlink", err);
		}
		if ((size_t)n < cap)
			break;
		cap *= 2;
	}
	strbuf_setlen(&target, (size_t)n);
	ret = wt_write_obj(w, OBJ_BLOB, target.buf, target.len, &e->oid, err);
	e->size = target.len;
	/* A target of another length than stat gave was changed meanwhile. */
	if (ret == 0 && target.len == (size_t)st->st_size)
		wt_cache_add(w, st, e);
	strbuf_release(&target);
	return ret;
}

void wt_cache_add(struct walker *w, const struct stat *st, const struct tree_entry *e)
{
	static const struct snap_oid none;

	if (w->cur && !w->xattrs_partial && !wt_dry_run(w) &&
	    stat_cache_add(w->cur, w->path.buf, w->path.len, st,
			   S_ISDIR(st->st_mode) ? &none : &e->oid,
			   e->has_xattrs ? &e->xattrs : NULL, w->flags_read) && !w->hit)
		w->nr_fresh++;
}

struct xattr_problem {
	struct walker *w;
	struct strbuf *err;
};

/*
 * An attribute listed but not readable (name NULL: the list itself): a
 * problem, the entry stored without it (without any); under strict, the
 * error xattr_read() gives without this.
 */
static int xattr_unreadable(const char *name, int errnum, void *data)
{
	struct xattr_problem *x = data;
	struct strbuf what = STRBUF_INIT, msg = STRBUF_INIT;
	int ret;

	if (!name) {
		strbuf_addf(&what, "extended attributes cannot be listed: %s, left out",
			    strerror(errnum));
		strbuf_addf(&msg, "cannot list the extended attributes of '%s': %s",
			    wt_shown(x->w), strerror(errnum));
		goto tell;
	}
	/* Quoted: a name with a newline is still one line. */
	strbuf_addstr(&what, "extended attribute '");
	strbuf_addquoted(&what, name, strlen(name));
	strbuf_addf(&what, "': %s, left out", strerror(errnum));
	strbuf_addstr(&msg, "cannot read extended attribute '");
	strbuf_addquoted(&msg, name, strlen(name));
	strbuf_addf(&msg, "' of '%s': %s", wt_shown(x->w), strerror(errnum));
tell:
	ret = problem(x->w, "metadata", what.buf, SNAP_EIO, msg.buf, x->err);
	x->w->xattrs_partial = 1;
	strbuf_release(&what);
	strbuf_release(&msg);
	return ret;
}

/*
 * The extended attributes of the entry at hand: those of its stat cache
 * entry (w->hit: a file, directory or symlink) when its stat data is unchanged
 * (setting them sets the ctime), else read from the file.
 */
int wt_entry_xattrs(struct walker *w, int dfd, const char *name, int fd,
		    const struct stat *st, struct tree_entry *e, struct strbuf *err)
{
	const struct stat_cache_entry *c = w->hit;
	struct xattr_problem x = { w, err };
	struct xattr_unreadable on_unreadable = { xattr_unreadable, &x };

	if (c && (!c->has_xattrs || (wt_dry_run(w) ? odb_has(w->odb, &c->xattrs) == 1
					      : odb_freshen(w->odb, &c->xattrs)))) {
		e->has_xattrs = c->has_xattrs;
		e->xattrs = c->xattrs;
		return 0;
	}
	if (wt_dry_run(w))
		return 0;	/* a dry run stores no attribute set */
	return xattr_store(w->odb, fd, dfd, name, st, w->opts ? w->opts->xattr_flags : 0,
			   &on_unreadable, &e->xattrs, &e->has_xattrs, wt_shown(w), err);
}

/* Whether the walk reads inode flags at all (writetree.h, no_flags). */
static int reads_flags(const struct walker *w)
{
	return !w->opts || !w->opts->no_flags || w->opts->exclude_nodump;
}

int wt_entry_flags(struct walker *w, int dfd, const char *name, int *fd,
		   const struct stat *st, struct strbuf *err)
{
	struct strbuf what = STRBUF_INIT, msg = STRBUF_INIT;
	struct stat now;
	int ret, errnum;

	w->flags_read = 0;
	if (!reads_flags(w) || !(S_ISREG(st->st_mode) || S_ISDIR(st->st_mode)))
		return 0;
	if (w->hit) {
		w->flags_read = w->hit->flags;
		return 0;
	}
	if (*fd < 0) {
		/*
		 * Opened here for the ioctl and handed on to be read.  One
		 * that cannot be opened, or is no longer the inode stat'ed,
		 * is left to the read, which reports it.
		 */
		int f = wt_open_file(dfd, name);

		if (f < 0)
			return 0;
		if (fstat(f, &now) < 0 || now.st_ino != st->st_ino || now.st_dev != st->st_dev ||
		    !S_ISREG(now.st_mode)) {
			close(f);
			return 0;
		}
		*fd = f;
	}
	if (fsio_getflags_fault(wt_shown(w)) == 0 && fsflags_get(*fd, &w->flags_read) == 0)
		return 0;
	errnum = errno;
	strbuf_addf(&what, "inode flags: %s, left out", strerror(errnum));
	strbuf_addf(&msg, "cannot read the inode flags of '%s': %s", wt_shown(w),
		    strerror(errnum));
	ret = problem(w, "metadata", what.buf, SNAP_EIO, msg.buf, err);
	w->xattrs_partial = 1;
	strbuf_release(&what);
	strbuf_release(&msg);
	return ret;
}
