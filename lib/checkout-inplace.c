/*
 * checkout_in_place() (checkout.h): the tree restored whole beside the
 * target, then swapped into it entry by entry, or merged into it
 * (place.h), and last the inode flags set where the entries now are.
 */
#include "checkout-internal.h"
#include "error.h"
#include "fsflags.h"
#include "place.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Whether the directory open on fd holds nothing (an error counts as not). */
static int fd_dir_empty(int fd)
{
	int dfd = dup(fd), empty = 1;
	struct dirent *d;
	DIR *dir;

	if (dfd < 0 || !(dir = fdopendir(dfd))) {
		if (dfd >= 0)
			close(dfd);
		return 0;
	}
	while (empty && (d = readdir(dir)))
		if (strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
			empty = 0;
	closedir(dir);
	return empty;
}

/*
 * When tmp names an entry directly in dir ("DIR/NAME", as written), its
 * NAME; else NULL.
 */
static const char *name_in(const char *dir, const char *tmp)
{
	size_t n = strlen(dir);

	while (n > 1 && dir[n - 1] == '/')
		n--;
	if (strncmp(tmp, dir, n) || tmp[n] != '/' || !tmp[n + 1] || strchr(tmp + n + 1, '/'))
		return NULL;
	if (!strcmp(tmp + n + 1, ".") || !strcmp(tmp + n + 1, ".."))
		return NULL;
	return tmp + n + 1;
}

struct refusals {
	const struct checkout_opts *opts;
	const char *dir;
};

/* One line for each path --overwrite leaves as it is. */
static void refused(const char *path, const char *why, void *data)
{
	struct refusals *r = data;
	void (*warn)(const char *, void *) = r->opts->meta_warn ? r->opts->meta_warn
								 : r->opts->warn;
	struct strbuf msg = STRBUF_INIT;

	if (!warn)
		return;
	/* Quoted: a path with a newline is still one line. */
	strbuf_addstr(&msg, "cannot overwrite '");
	strbuf_addquoted(&msg, r->dir, strlen(r->dir));
	strbuf_addch(&msg, '/');
	strbuf_addquoted(&msg, path, strlen(path));
	strbuf_addf(&msg, "': %s; left as it is", why);
	warn(msg.buf, r->opts->meta_warn ? r->opts->meta_warn_data : r->opts->warn_data);
	strbuf_release(&msg);
}

static void flags_list_release(struct flags_list *l)
{
	size_t i;

	for (i = 0; i < l->nr; i++)
		free(l->v[i].path);
	free(l->v);
	pthread_mutex_destroy(&l->lock);
}

static size_t depth(const char *path)
{
	size_t n = 0;

	for (; *path; path++)
		n += *path == '/';
	return n;
}

/*
 * Files first (their hard links are all made), each inode's names
 * together, its link target's first; then directories, deepest first.
 */
static int cmp_deferred(const void *a, const void *b)
{
	const struct deferred_flags *x = a, *y = b;
	size_t dx, dy;

	if (x->is_dir != y->is_dir)
		return x->is_dir - y->is_dir;
	if (!x->is_dir && (x->dev != y->dev || x->ino != y->ino))
		return x->dev != y->dev ? (x->dev < y->dev ? -1 : 1) : (x->ino < y->ino ? -1 : 1);
	if (x->is_link != y->is_link)
		return x->is_link - y->is_link;
	dx = depth(x->path);
	dy = depth(y->path);
	if (dx != dy)
		return dx > dy ? -1 : 1;
	return strcmp(x->path, y->path);
}

/*
 * place_made: a directory made on the way to a PATH stands for its
 * counterpart in the restored tree, whose flags it is given.
 */
static void made_on_the_way(const char *path, const struct stat *from, const struct stat *made,
			    void *data)
{
	struct flags_list *l = data;
	size_t i;

	(void)path;
	for (i = 0; i < l->nr; i++)
		if (l->v[i].is_dir && l->v[i].dev == from->st_dev && l->v[i].ino == from->st_ino) {
			l->v[i].dev = made->st_dev;
			l->v[i].ino = made->st_ino;
		}
}

/*
 * Opens d's path below dir_fd for its flags, never through a symlink and
 * never opening what is not the inode the restore wrote (a device put
 * there is not opened for I/O): an O_PATH handle checked first, then
 * reopened.  -1 with errno; ESTALE when something else is there (the
 * entry was not placed: refused, or a directory of DIR merged into).
 */
static int open_placed(int dir_fd, const struct deferred_flags *d)
{
	const char *slash = strrchr(d->path, '/');
	char *parent = xstrndup(d->path, slash ? (size_t)(slash - d->path) : 0);
	char proc[64];
	struct stat st;
	int pfd, h, fd = -1, saved;

	pfd = checkout_open_beneath(dir_fd, parent, NULL);
	free(parent);
	if (pfd < 0)
		return -1;
	h = openat(pfd, slash ? slash + 1 : d->path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
	saved = errno;
	close(pfd);
	if (h < 0) {
		errno = saved;
		return -1;
	}
	if (fstat(h, &st) < 0 || st.st_dev != d->dev || st.st_ino != d->ino ||
	    !(d->is_dir ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode))) {
		close(h);
		errno = ESTALE;
		return -1;
	}
	snprintf(proc, sizeof(proc), "/proc/self/fd/%d", h);
	fd = open(proc, O_RDONLY | O_NONBLOCK | O_CLOEXEC | (d->is_dir ? O_DIRECTORY : 0));
	saved = errno;
	close(h);
	errno = saved;
	return fd;
}

/*
 * The flags checkout_run() noted, set where the entries now are in the
 * directory open on dir_fd: only on the inodes it wrote (an entry not
 * placed has none to take), files first, directories deepest first, so
 * that no immutable or append-only entry is moved, nor an immutable
 * directory given an entry.  One the kernel refuses is one line, as in
 * a restore into a new directory, and counted in *nr_unset.
 */
static void set_placed_flags(const struct checkout_opts *o, int dir_fd, struct flags_list *l,
			     size_t *nr_unset)
{
	const struct deferred_flags *done = NULL;
	size_t i;
	int fd;

	QSORT(l->v, l->nr, cmp_deferred);
	for (i = 0; i < l->nr; i++) {
		const struct deferred_flags *d = &l->v[i];

		/* An inode found under one of its names is done (one line at most). */
		if (done && !d->is_dir && !done->is_dir && d->dev == done->dev &&
		    d->ino == done->ino)
			continue;
		fd = open_placed(dir_fd, d);
		if (fd < 0 && (errno == ESTALE || errno == ENOENT || errno == ENOTDIR ||
			       errno == ELOOP))
			continue;
		done = d;
		if (fd < 0 || fsflags_set(fd, d->flags) < 0) {
			checkout_flags_refused(o, d->path, d->flags, errno);
			(*nr_unset)++;
		}
		if (fd >= 0)
			close(fd);
	}
}

int checkout_in_place(struct odb *odb, const struct snap_oid *tree,
		      const char *dir, const char *tmp,
		      const struct checkout_opts *opts, struct strbuf *err)
{
	struct strbuf new_dir = STRBUF_INIT, old_dir = STRBUF_INIT, self = STRBUF_INIT;
	struct strbuf shown_new = STRBUF_INIT;
	struct checkout_opts o = *opts;
	char **paths = NULL, *rdir = NULL, *rtmp = NULL;
	const char *name = name_in(dir, tmp);
	struct stat st;
	size_t i, n;
	struct flags_list flags = { NULL, 0, 0, PTHREAD_MUTEX_INITIALIZER };
	int fd = -1, dfd, ret = 0, incomplete = 0;

	/*
	 * dir and tmp are reached through descriptors from here on: whoever
	 * may write where they lie cannot swap either for a symlink between
	 * two steps, and a tmp that is not ours alone (another's directory
	 * put in its place) is refused.  A tmp named directly in dir is
	 * opened, or made when absent, through dir's descriptor, so it is in
	 * the directory every later step works in.
	 */
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dfd < 0)
		return errno == ELOOP || errno == ENOTDIR
		       ? snap_error(err, SNAP_EUNSAFE, "'%s' is not a directory", dir)
		       : snap_error_errno(err, "cannot open '%s'", dir);
	if (name) {
		if (mkdirat(dfd, name, 0700) < 0 && errno != EEXIST) {
			ret = snap_error_errno(err, "cannot create '%s'", tmp);
			goto out;
		}
		fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	} else {
		fd = open(tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (fd < 0) {
		ret = snap_error_errno(err, "cannot open '%s'", tmp);
		goto out;
	}
	if (fstat(fd, &st) < 0 || st.st_uid != geteuid() || (st.st_mode & 077)) {
		ret = snap_error(err, SNAP_EUNSAFE,
				 "'%s' is not a directory of this user's alone (mode 0700)", tmp);
		goto out;
	}
	/* Elsewhere inside dir it must sit directly in it: it is then left alone. */
	if (!name) {
		rdir = realpath(dir, NULL);
		rtmp = realpath(tmp, NULL);
		if (!rdir || !rtmp) {
			ret = snap_error_errno(err, "cannot resolve '%s'", rdir ? tmp : dir);
			goto out;
		}
		n = strlen(rdir);
		if (!strcmp(rdir, rtmp) || (checkout_path_within(rtmp, rdir) && strchr(rtmp + n + 1, '/'))) {
			ret = snap_error(err, SNAP_EINVAL, "'%s' must be outside '%s' or directly in it",
					 tmp, dir);
			goto out;
		}
	}
	if (!fd_dir_empty(fd)) {
		ret = snap_error(err, SNAP_EINVAL, "'%s' is not empty", tmp);
		goto out;
	}
	if (o.nr_paths) {
		paths = xcalloc(o.nr_paths, sizeof(*paths));
		for (i = 0; i < o.nr_paths; i++)
			paths[i] = checkout_clean_path(o.paths[i]);
		o.paths = (const char *const *)paths;
	}
	strbuf_addf(&self, "/proc/self/fd/%d", fd);
	strbuf_addf(&new_dir, "%s/new", self.buf);
	strbuf_addf(&old_dir, "%s/old", self.buf);
	strbuf_addstr(&shown_new, tmp);
	while (shown_new.len > 1 && shown_new.buf[shown_new.len - 1] == '/')
		strbuf_setlen(&shown_new, shown_new.len - 1);
	strbuf_addstr(&shown_new, "/new");
	ret = checkout_run(odb, tree, new_dir.buf, shown_new.buf, &flags, &o, err);
	if (ret == CHECKOUT_INCOMPLETE) {
		incomplete = 1;
		ret = 0;
	}
	if (ret == 0 && o.overwrite) {
		struct refusals r = { &o, dir };
		size_t nr_refused = 0;

		ret = place_merge_at(new_dir.buf, dfd, refused, &r, &nr_refused, err);
		if (nr_refused)
			incomplete = 1;
	} else if (ret == 0) {
		struct place_made made = { made_on_the_way, &flags };

		if (mkdirat(fd, "old", 0700) < 0)
			ret = snap_error_errno(err, "cannot create '%s/old'", tmp);
		else
			ret = place_entries_at(new_dir.buf, dfd, dir, o.paths, o.nr_paths,
					       old_dir.buf, self.buf, &made, err);
	}
	if (ret == 0) {
		size_t nr_unset = 0;

		set_placed_flags(&o, dfd, &flags, &nr_unset);
		if (nr_unset)
			incomplete = 1;
	}
out:
	if (fd >= 0)
		close(fd);
	close(dfd);
	for (i = 0; paths && i < o.nr_paths; i++)
		free(paths[i]);
	free(paths);
	free(rdir);
	free(rtmp);
	flags_list_release(&flags);
	strbuf_release(&new_dir);
	strbuf_release(&shown_new);
	strbuf_release(&old_dir);
	strbuf_release(&self);
	return ret == 0 && incomplete ? CHECKOUT_INCOMPLETE : ret;
}
