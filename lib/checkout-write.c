/*
 * Passes 2 to 4 of a restore (checkout-internal.h): placing entries on
 * disk through descriptors of directories this restore made, never
 * through a symlink.
 */
#include "checkout-internal.h"
#include "error.h"
#include "fsflags.h"
#include "util.h"
#include "workqueue.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <unistd.h>

static void dir_path(const struct checkout *c, size_t k, struct strbuf *out);

struct refusal {
	struct checkout *c;
	const char *path;
};

/* One line of a piece of metadata refused, to meta_warn (else warn). */
static void meta_line(const struct checkout_opts *o, const char *what, const char *path,
		      int errnum)
{
	void (*warn)(const char *, void *) = o->meta_warn ? o->meta_warn : o->warn;
	struct strbuf msg = STRBUF_INIT;

	if (!warn)
		return;
	/* Quoted: a path with a newline is still one line. */
	strbuf_addf(&msg, "cannot set %s of '", what);
	strbuf_addquoted(&msg, path, strlen(path));
	strbuf_addf(&msg, "': %s", strerror(errnum));
	warn(msg.buf, o->meta_warn ? o->meta_warn_data : o->warn_data);
	strbuf_release(&msg);
}

/*
 * One line for each piece of metadata the kernel refuses ("extended
 * attribute 'NAME'", "inode flags 'ia'"), counted; the restore goes on.
 */
static void meta_refused(struct checkout *c, const char *what, const char *path, int errnum)
{
	pthread_mutex_lock(&c->unset_lock);
	c->nr_unset++;
	meta_line(c->opts, what, path, errnum);
	pthread_mutex_unlock(&c->unset_lock);
}

static void flags_what(struct strbuf *what, unsigned flags)
{
	strbuf_addstr(what, "the inode flags '");
	tree_flags_letters(what, flags);
	strbuf_addch(what, '\'');
}

void checkout_flags_refused(const struct checkout_opts *o, const char *path, unsigned flags,
			    int errnum)
{
	struct strbuf what = STRBUF_INIT;

	flags_what(&what, flags);
	meta_line(o, what.buf, path, errnum);
	strbuf_release(&what);
}

static void xattr_refused(const char *name, int errnum, void *data)
{
	struct refusal *r = data;
	struct strbuf what = STRBUF_INIT;

	/* Quoted: a name with a newline is still one line. */
	strbuf_addstr(&what, "extended attribute '");
	strbuf_addquoted(&what, name, strlen(name));
	strbuf_addch(&what, '\'');
	meta_refused(r->c, what.buf, r->path, errnum);
	strbuf_release(&what);
}

/*
 * Notes flags of the inode dev:ino at path in c->defer, for a restore in
 * place to set once the entry is in its final place.
 */
static void note_flags(struct checkout *c, const char *path, dev_t dev, ino_t ino,
		       unsigned flags, int is_dir, int is_link)
{
	struct flags_list *l = c->defer;
	struct deferred_flags *d;

	pthread_mutex_lock(&l->lock);
	ALLOC_GROW(l->v, l->nr + 1, l->alloc);
	d = &l->v[l->nr++];
	d->path = xstrdup(path);
	d->dev = dev;
	d->ino = ino;
	d->flags = flags;
	d->is_dir = is_dir;
	d->is_link = is_link;
	pthread_mutex_unlock(&l->lock);
}

int checkout_set_flags(struct checkout *c, int fd, const struct tree_entry *e,
		       const char *path, size_t dir)
{
	struct strbuf what = STRBUF_INIT, buf = STRBUF_INIT;
	int errnum = 0;

	if (!e->flags || c->opts->no_flags)
		return 0;
	if (!path) {
		dir_path(c, dir, &buf);
		path = buf.buf;
	}
	if (c->defer) {
		struct stat st;

		if (fstat(fd, &st) < 0)
			errnum = errno;
		else
			note_flags(c, path, st.st_dev, st.st_ino, e->flags, S_ISDIR(st.st_mode), 0);
	} else if (fsflags_set(fd, e->flags) < 0) {
		errnum = errno;
	}
	if (!errnum) {
		strbuf_release(&buf);
		return 0;
	}
	flags_what(&what, e->flags);
	meta_refused(c, what.buf, path, errnum);
	strbuf_release(&what);
	strbuf_release(&buf);
	return 0;
}

/*
 * Sets e's extended attributes (and ACLs) on fd, or on the inode of the
 * O_PATH handle fd.  Called after the owner is set (a change of owner
 * clears security.capability) and before the mode and times (an access
 * ACL sets the group bits; the mode set after it is the one stored, whose
 * group bits are the ACL's mask).  An attribute the kernel refuses is a
 * warning; a set that cannot be read from the store fails the restore.
 */
static int set_xattrs(struct checkout *c, int fd, int handle, const struct tree_entry *e,
		      const char *path, struct strbuf *err)
{
	struct xattr_set s = XATTR_SET_INIT;
	struct refusal r = { c, path };
	int ret;

	if (!e->has_xattrs || !wants_xattrs(c))
		return 0;
	ret = xattr_load(c->odb, &e->xattrs, &s, err);
	if (ret == 0)
		xattr_apply(fd, handle, &s, c->opts->xattr_flags, xattr_refused, &r);
	xattr_set_release(&s);
	return ret;
}

/*
 * Sets owner (as root), extended attributes, mode, times and last the
 * inode flags (an immutable inode takes no times) through fd.  path names
 * the entry; for a directory, NULL and dir is its index in c->dirs (its
 * path is built only when needed: that costs the depth).
 */
int checkout_set_meta(struct checkout *c, int fd, const struct tree_entry *e,
		      const char *path, size_t dir, struct strbuf *err)
{
	struct strbuf buf = STRBUF_INIT, msg = STRBUF_INIT;
	struct timespec ts[2];
	const char *what = NULL;
	int ret = 0, saved;

	if (!path && e->has_xattrs) {
		dir_path(c, dir, &buf);
		path = buf.buf;
	}
	if (c->as_root && fchown(fd, checkout_uid(c, e), checkout_gid(c, e)) < 0) {
		what = "owner";
	} else if ((ret = set_xattrs(c, fd, 0, e, path, err)) == 0) {
		entry_times(e, ts);
		if (fchmod(fd, final_perm(c, e)) < 0)
			what = "mode";
		else if (futimens(fd, ts) < 0)
			what = "times";
		else
			ret = checkout_set_flags(c, fd, e, path, dir);
	}
	if (what) {
		saved = errno;
		if (!path) {
			dir_path(c, dir, &buf);
			path = buf.buf;
		}
		strbuf_addf(&msg, "cannot set the %s of", what);
		errno = saved;
		ret = checkout_write_error(c, err, msg.buf, path);
	}
	strbuf_release(&buf);
	strbuf_release(&msg);
	return ret;
}

/* Where path (relative to the target) is on disk, as messages name it. */
static void dest_path(const struct checkout *c, const char *path, struct strbuf *out)
{
	size_t n = strlen(c->dest);

	while (n > 1 && c->dest[n - 1] == '/')
		n--;
	strbuf_add(out, c->dest, n);
	if (c->dest[n - 1] != '/')
		strbuf_addch(out, '/');
	strbuf_addstr(out, path);
}

int checkout_write_error(const struct checkout *c, struct strbuf *err, const char *what,
			 const char *path)
{
	struct strbuf where = STRBUF_INIT;
	int saved = errno, ret;

	dest_path(c, path, &where);
	errno = saved;
	ret = snap_error_errno(err, "%s '%s'", what, where.buf);
	strbuf_release(&where);
	return ret;
}

/* The path of a directory this restore made, relative to the target. */
static void dir_path(const struct checkout *c, size_t k, struct strbuf *out)
{
	size_t *chain = NULL, nr = 0, alloc = 0;

	strbuf_reset(out);
	for (; k && k != NO_DIR; k = c->dirs[k].parent) {
		ALLOC_GROW(chain, nr + 1, alloc);
		chain[nr++] = k;
	}
	while (nr--) {
		strbuf_addstr(out, c->dirs[chain[nr]].name);
		if (nr)
			strbuf_addch(out, '/');
	}
	if (!out->len)
		strbuf_addch(out, '.');
	free(chain);
}

/* Checks that fd is still directory k of this restore. */
static int is_made_dir(const struct checkout *c, int fd, size_t k, struct strbuf *err)
{
	struct strbuf path = STRBUF_INIT;
	struct stat st;
	int ret;

	if (fstat(fd, &st) == 0 && st.st_dev == c->dirs[k].dev && st.st_ino == c->dirs[k].ino)
		return 0;
	dir_path(c, k, &path);
	ret = snap_error(err, SNAP_EUNSAFE, "directory '%s' was replaced during the restore",
			 path.buf);
	strbuf_release(&path);
	return ret;
}

/*
 * Moving between the directories this restore made holds one descriptor
 * (*fd, of directory *at) and resolves one component at a time: a name
 * without following a symlink, or "..", each checked to be the directory
 * made there.  So no depth of tree costs more than a few descriptors.
 */
static int enter_dir(struct checkout *c, int *fd, size_t *at, size_t k, struct strbuf *err)
{
	int sub = openat(*fd, c->dirs[k].name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (sub < 0) {
		struct strbuf path = STRBUF_INIT;
		int ret;

		dir_path(c, k, &path);
		ret = snap_error_errno(err, "cannot open directory '%s'", path.buf);
		strbuf_release(&path);
		return ret;
	}
	if (is_made_dir(c, sub, k, err) < 0) {
		close(sub);
		return SNAP_EUNSAFE;
	}
	close(*fd);
	*fd = sub;
	*at = k;
	return 0;
}

/* Goes up to the parent; with finish, sets the directory's own metadata. */
static int leave_dir(struct checkout *c, int *fd, size_t *at, int finish, struct strbuf *err)
{
	const struct made_dir *d = &c->dirs[*at];
	struct strbuf path = STRBUF_INIT;
	int up, ret = 0;

	/* ".." first: a mode without search permission would forbid it. */
	up = openat(*fd, "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (up < 0) {
		dir_path(c, *at, &path);
		ret = snap_error_errno(err, "cannot open the directory above '%s'", path.buf);
	} else if (is_made_dir(c, up, d->parent, err) < 0) {
		ret = SNAP_EUNSAFE;
	} else if (finish) {
		ret = checkout_set_meta(c, *fd, &d->meta, NULL, *at, err);
	}
	strbuf_release(&path);
	if (ret < 0) {
		if (up >= 0)
			close(up);
		return ret;
	}
	close(*fd);
	*fd = up;
	*at = d->parent;
	return 0;
}

/* Makes directory e in the walk's directory and moves the walk into it. */
static int make_dir(struct checkout *c, const struct tree_entry *e, struct strbuf *err)
{
	struct made_dir *d;
	struct stat st;
	int fd;

	if (mkdirat(c->cur_fd, e->name, 0700) < 0)
		return checkout_write_error(c, err, "cannot create directory", shown(c));
	fd = openat(c->cur_fd, e->name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return snap_error_errno(err, "cannot open directory '%s'", shown(c));
	if (fstat(fd, &st) < 0) {
		close(fd);
		return snap_error_errno(err, "cannot stat directory '%s'", shown(c));
	}
	ALLOC_GROW(c->dirs, c->nr_dirs + 1, c->alloc_dirs);
	d = &c->dirs[c->nr_dirs];
	d->parent = c->cur_dir;
	d->name = xstrndup(e->name, e->name_len);
	d->dev = st.st_dev;
	d->ino = st.st_ino;
	d->meta = *e;
	d->meta.name = NULL;
	d->meta.link = NULL;
	close(c->cur_fd);
	c->cur_fd = fd;
	c->cur_dir = c->nr_dirs++;
	return 0;
}

/*
 * Opens what restore just made as name in dfd (a symlink, fifo or
 * device), as an O_PATH handle checked to be that: a new inode of the
 * type made, with no other name.  Its owner and times are then set
 * through the handle, never through a name something else may hold by
 * now.
 */
static int open_made(struct checkout *c, int dfd, const struct tree_entry *e,
		     mode_t type, struct strbuf *err)
{
	struct stat st;
	int fd = openat(dfd, e->name, O_PATH | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return snap_error_errno(err, "cannot open '%s'", shown(c));
	if (fstat(fd, &st) < 0 || (st.st_mode & S_IFMT) != type || st.st_nlink != 1) {
		close(fd);
		return snap_error(err, SNAP_EUNSAFE, "'%s' was replaced during the restore",
				  shown(c));
	}
	return fd;
}

/*
 * Sets the owner (as root), extended attributes and times of what
 * open_made() opened.
 */
static int handle_meta(struct checkout *c, int fd, int dfd, const struct tree_entry *e,
		       struct strbuf *err)
{
	struct timespec ts[2];
	int ret;

	if (c->as_root && fchownat(fd, "", checkout_uid(c, e), checkout_gid(c, e), AT_EMPTY_PATH) < 0)
		return checkout_write_error(c, err, "cannot set the owner of", shown(c));
	if ((ret = set_xattrs(c, fd, 1, e, shown(c), err)) < 0)
		return ret;
	/* A change of owner clears set-ID bits: put them back (a fifo's). */
	if (c->as_root && (final_perm(c, e) & (S_ISUID | S_ISGID)) && e->type != TREE_SYMLINK &&
	    fchmodat(dfd, e->name, final_perm(c, e), AT_SYMLINK_NOFOLLOW) < 0)
		return checkout_write_error(c, err, "cannot set the mode of", shown(c));
	entry_times(e, ts);
	if (utimensat(fd, "", ts, AT_EMPTY_PATH) < 0 &&
	    (errno != EINVAL || utimensat(dfd, e->name, ts, AT_SYMLINK_NOFOLLOW) < 0))
		return checkout_write_error(c, err, "cannot set the times of", shown(c));
	return 0;
}

/*
 * Sets the metadata of the entry just made under e's name, through an
 * O_PATH handle of it (a fifo or device must not be opened for I/O).
 */
static int meta_of_made(struct checkout *c, const struct tree_entry *e, mode_t type,
			struct strbuf *err)
{
	int fd = open_made(c, c->cur_fd, e, type, err), ret;

	if (fd < 0)
		return fd;
	ret = handle_meta(c, fd, c->cur_fd, e, err);
	close(fd);
	return ret;
}

static int restore_symlink(struct checkout *c, const struct tree_entry *e,
			   struct strbuf *err)
{
	struct strbuf target = STRBUF_INIT;
	enum object_type type;
	int ret;

	ret = odb_read(c->odb, &e->oid, &type, &target, SYMLINK_MAX, err);
	if (ret == 0 && (type != OBJ_BLOB || target.len != e->size ||
			 memchr(target.buf, '\0', target.len)))
		ret = snap_error(err, SNAP_ECORRUPT, "bad symlink target for '%s'", shown(c));
	if (ret == 0 && symlinkat(target.buf, c->cur_fd, e->name) < 0)
		ret = checkout_write_error(c, err, "cannot create symlink", shown(c));
	strbuf_release(&target);
	if (ret < 0)
		return ret;
	return meta_of_made(c, e, S_IFLNK, err);
}

static void warnf(struct checkout *c, const char *what)
{
	struct strbuf msg = STRBUF_INIT;

	if (!c->opts || !c->opts->warn)
		return;
	strbuf_addf(&msg, "skipping %s '%s'", what, shown(c));
	c->opts->warn(msg.buf, c->opts->warn_data);
	strbuf_release(&msg);
}

static int restore_node(struct checkout *c, const struct tree_entry *e,
			struct strbuf *err)
{
	dev_t dev = 0;
	mode_t type = S_IFIFO;

	if (e->type != TREE_FIFO) {
		if (!c->opts || !c->opts->devices) {
			warnf(c, "device");
			return 0;
		}
		type = e->type == TREE_CHR ? S_IFCHR : S_IFBLK;
		dev = makedev(e->rdev_major, e->rdev_minor);
	}
	/* Made with its final mode (the umask is 0): no chmod by name. */
	if (mknodat(c->cur_fd, e->name, type | final_perm(c, e), dev) < 0)
		return checkout_write_error(c, err, "cannot create", shown(c));
	if (c->opts->step)
		c->opts->step("node", shown(c), c->opts->step_data);
	return meta_of_made(c, e, type, err);
}

static int restore_entry(struct checkout *c, const struct tree_entry *e,
			 struct strbuf *err)
{
	switch (e->type) {
	case TREE_FILE:
		return checkout_restore_file(c, e, err);
	case TREE_SYMLINK:
		return restore_symlink(c, e, err);
	case TREE_FIFO:
	case TREE_CHR:
	case TREE_BLK:
		return restore_node(c, e, err);
	case TREE_DIR:
		break;
	}
	BUG("restore_entry of a directory");
}

/*
 * Pass 2: writes the entries, depth first in name order, over an explicit
 * stack (a deep tree costs heap, not C stack, and two descriptors).
 * Directories are made private (0700); their own modes and times wait
 * until everything, hard links included, is in them (checkout_finish_dirs).
 */
int checkout_restore_tree(struct checkout *c, const struct snap_oid *root, struct strbuf *err)
{
	struct frame_stack s = { 0 };
	int ret;

	ret = checkout_push_tree(c, &s, root, 0, err);
	while (ret == 0 && s.nr && !workqueue_failed(c->wq)) {
		struct frame *f = &s.v[s.nr - 1];
		const struct tree_entry *e;

		if (f->next == f->t.nr) {
			tree_release(&f->t);
			if (--s.nr)
				ret = leave_dir(c, &c->cur_fd, &c->cur_dir, 0, err);
			continue;
		}
		e = &f->t.entries[f->next++];
		if (checkout_skip_entry(c, f, e))
			continue;
		if (e->type != TREE_DIR) {
			ret = restore_entry(c, e, err);
			continue;
		}
		ret = checkout_push_tree(c, &s, &e->oid, c->path.len, err);
		if (ret == 0 && (ret = make_dir(c, e, err)) < 0)
			tree_release(&s.v[--s.nr].t);
	}
	checkout_stack_release(&s);
	return ret;
}

/*
 * Opens a directory by its path below root_fd (the target), never
 * through a symlink: in one call with openat2(RESOLVE_BENEATH |
 * RESOLVE_NO_SYMLINKS) where the kernel has it and the path fits,
 * otherwise one component at a time with O_NOFOLLOW.
 */
int checkout_open_beneath(int root_fd, const char *path, struct strbuf *err)
{
	const char *p = path;
	int fd, saved;

	if (!*path) {
		fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
		return fd < 0 ? snap_error_errno(err, "cannot open directory '.'") : fd;
	}
#ifdef SYS_openat2
	{
		struct open_how how;

		memset(&how, 0, sizeof(how));
		how.flags = O_RDONLY | O_DIRECTORY | O_CLOEXEC;
		how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
		fd = (int)syscall(SYS_openat2, root_fd, path, &how, sizeof(how));
		if (fd >= 0)
			return fd;
		if (errno != ENOSYS && errno != EPERM && errno != E2BIG &&
		    errno != ENAMETOOLONG && errno != EAGAIN)
			return snap_error_errno(err, "cannot open directory '%s'", path);
	}
#endif
	fd = fcntl(root_fd, F_DUPFD_CLOEXEC, 0);
	while (fd >= 0 && *p) {
		const char *slash = strchrnul(p, '/');
		char *name = xstrndup(p, (size_t)(slash - p));
		int sub = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		free(name);
		saved = errno;
		close(fd);
		errno = saved;
		fd = sub;
		p = *slash ? slash + 1 : slash;
	}
	if (fd < 0)
		return snap_error_errno(err, "cannot open directory '%s'", path);
	return fd;
}

/* Makes one deferred hard link, to the very inode this restore wrote. */
int checkout_make_link(struct checkout *c, const struct deferred_link *l, struct strbuf *err)
{
	const struct link_target *t = l->target;
	const char *slash = strrchr(t->path, '/');
	struct strbuf dir = STRBUF_INIT, shown_link = STRBUF_INIT, what = STRBUF_INIT;
	char *tdir = xstrndup(t->path, slash ? (size_t)(slash - t->path) : 0);
	const char *base = slash ? slash + 1 : t->path;
	struct stat st;
	int dfd = -1, tfd = -1, ret = 0;

	dir_path(c, l->dir, &dir);
	strbuf_addf(&shown_link, "%s%s%s", l->dir ? dir.buf : "", l->dir ? "/" : "", l->name);
	if (c->opts->step)
		c->opts->step("link", t->path, c->opts->step_data);
	dfd = checkout_open_beneath(c->root_fd, l->dir ? dir.buf : "", err);
	if (dfd < 0)
		ret = dfd;
	else
		ret = is_made_dir(c, dfd, l->dir, err);
	if (ret == 0) {
		tfd = checkout_open_beneath(c->root_fd, tdir, err);
		if (tfd < 0)
			ret = tfd;
	}
	if (ret == 0 && linkat(tfd, base, dfd, l->name, 0) < 0) {
		int saved = errno;

		strbuf_addstr(&what, "cannot link '");
		dest_path(c, t->path, &what);
		strbuf_addstr(&what, "' as");
		errno = saved;
		ret = checkout_write_error(c, err, what.buf, shown_link.buf);
	}
	if (ret == 0 && (fstatat(dfd, l->name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
			 st.st_dev != t->dev || st.st_ino != t->ino)) {
		/* Something else stood at the target's name: take it away. */
		unlinkat(dfd, l->name, 0);
		ret = snap_error(err, SNAP_EUNSAFE, "'%s' was replaced during the restore",
				 t->path);
	}
	/* In place, each name of a flagged inode is looked for once placed. */
	if (ret == 0 && c->defer && t->flags && !c->opts->no_flags)
		note_flags(c, shown_link.buf, t->dev, t->ino, t->flags, 0, 1);
	if (dfd >= 0)
		close(dfd);
	if (tfd >= 0)
		close(tfd);
	free(tdir);
	strbuf_release(&dir);
	strbuf_release(&shown_link);
	strbuf_release(&what);
	return ret;
}

int checkout_target_flags(struct checkout *c, const struct link_target *t, struct strbuf *err)
{
	const char *slash = strrchr(t->path, '/');
	char *tdir = xstrndup(t->path, slash ? (size_t)(slash - t->path) : 0);
	struct tree_entry e;
	struct stat st;
	int dfd, fd = -1, ret = 0;

	memset(&e, 0, sizeof(e));
	e.flags = t->flags;
	dfd = checkout_open_beneath(c->root_fd, tdir, err);
	if (dfd < 0)
		ret = dfd;
	else if ((fd = openat(dfd, slash ? slash + 1 : t->path,
			      O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0)
		ret = snap_error_errno(err, "cannot open '%s'", t->path);
	else if (fstat(fd, &st) < 0 || st.st_dev != t->dev || st.st_ino != t->ino)
		ret = snap_error(err, SNAP_EUNSAFE, "'%s' was replaced during the restore",
				 t->path);
	else
		ret = checkout_set_flags(c, fd, &e, t->path, 0);
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	free(tdir);
	return ret;
}

/*
 * Pass 4: gives every directory made its mode, owner, times and flags, each
 * after all it holds (as GNU tar delays them): walks dirs in order with
 * one descriptor, finishing a directory when the walk leaves it.
 */
int checkout_finish_dirs(struct checkout *c, struct strbuf *err)
{
	int fd = fcntl(c->root_fd, F_DUPFD_CLOEXEC, 0);
	size_t at = 0, k;
	int ret = 0;

	if (fd < 0)
		return snap_error_errno(err, "cannot open directory '.'");
	for (k = 1; ret == 0 && k <= c->nr_dirs; k++) {
		size_t want = k < c->nr_dirs ? c->dirs[k].parent : 0;

		while (ret == 0 && at != want)
			ret = leave_dir(c, &fd, &at, 1, err);
		if (ret == 0 && k < c->nr_dirs)
			ret = enter_dir(c, &fd, &at, k, err);
	}
	close(fd);
	return ret;
}
